//! A simulated disk for tests: written bytes are volatile until synced, a simulated crash loses or
//! tears the unsynced tail, and faults (failed fsyncs, partial writes) are injected on demand.
//!
//! Model, kept deliberately simple and stated here so tests know what they exercise:
//! - file contents: every file has `data` (what reads see) and `durable` (what survives a crash);
//!   `sync` copies `data` into `durable`;
//! - directory operations (create, rename, remove) are durable at once — the engines sync
//!   directories anyway, and the interesting failures are in file contents;
//! - a crash invalidates every open handle (the process is gone) and rewrites each file's `data`
//!   from `durable` plus, in [`CrashMode::Torn`], a random prefix of the unsynced tail whose last
//!   byte may be garbled (a torn sector);
//! - a failed sync leaves `durable` unchanged (like Linux after an fsync error: the dirty pages
//!   may be gone, and retrying the fsync can falsely succeed, so engines must refuse further
//!   writes rather than retry).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::rng::SplitMix64;
use crate::{File, OpenMode, Vfs};

/// What survives a simulated crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// Every unsynced byte is lost.
    LoseUnsynced,
    /// A random prefix of every file's unsynced tail survives, its last byte sometimes garbled.
    Torn,
}

#[derive(Debug, Default)]
struct SimFile {
    data: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Debug)]
struct Faults {
    fail_next_syncs: u64,
    sync_failure_rate: (u64, u64),
    partial_write_rate: (u64, u64),
}

#[derive(Debug)]
struct State {
    files: BTreeMap<PathBuf, Arc<Mutex<SimFile>>>,
    dirs: BTreeSet<PathBuf>,
    epoch: u64,
    rng: SplitMix64,
    faults: Faults,
    syncs: u64,
    failed_syncs: u64,
    sync_latency: std::time::Duration,
}

/// A simulated disk shared by clones (a clone is the same disk, as a restarted process sees it).
#[derive(Debug, Clone)]
pub struct SimVfs {
    state: Arc<Mutex<State>>,
    gate: Arc<SyncGate>,
}

/// Lets a test hold every sync until it says so: a deterministic way to keep a writer "inside
/// fsync" while the test does something else.
#[derive(Debug, Default)]
struct SyncGate {
    held: parking_lot::Mutex<bool>,
    released: parking_lot::Condvar,
}

#[derive(Debug)]
struct SimHandle {
    state: Arc<Mutex<State>>,
    gate: Arc<SyncGate>,
    file: Arc<Mutex<SimFile>>,
    epoch: u64,
    writable: bool,
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{} not found", path.display()))
}

fn injected(what: &str) -> io::Error {
    io::Error::other(format!("injected fault: {what}"))
}

impl SimVfs {
    /// An empty disk whose random choices (torn lengths, fault timing) follow `seed`.
    pub fn new(seed: u64) -> Self {
        let mut dirs = BTreeSet::new();
        dirs.insert(PathBuf::from("/"));
        Self {
            state: Arc::new(Mutex::new(State {
                files: BTreeMap::new(),
                dirs,
                epoch: 0,
                rng: SplitMix64::new(seed),
                faults: Faults { fail_next_syncs: 0, sync_failure_rate: (0, 1), partial_write_rate: (0, 1) },
                syncs: 0,
                failed_syncs: 0,
                sync_latency: std::time::Duration::ZERO,
            })),
            gate: Arc::new(SyncGate::default()),
        }
    }

    /// Make every sync wait (without holding any lock of the disk) until [`SimVfs::release_syncs`].
    pub fn hold_syncs(&self) {
        *self.gate.held.lock() = true;
    }

    /// Let held syncs proceed.
    pub fn release_syncs(&self) {
        *self.gate.held.lock() = false;
        self.gate.released.notify_all();
    }

    /// Simulate a power loss: every open handle dies and unsynced data is lost or torn.
    pub fn crash(&self, mode: CrashMode) {
        let mut st = self.state.lock();
        st.epoch += 1;
        let files: Vec<_> = st.files.values().cloned().collect();
        for file in files {
            let mut f = file.lock();
            let f = &mut *f;
            match mode {
                CrashMode::LoseUnsynced => f.data = f.durable.clone(),
                CrashMode::Torn => {
                    if f.data.len() > f.durable.len() && f.data.starts_with(&f.durable) {
                        let tail = (f.data.len() - f.durable.len()) as u64;
                        let keep = st.rng.below(tail + 1) as usize;
                        let mut data = f.durable.clone();
                        data.extend_from_slice(&f.data[f.durable.len()..f.durable.len() + keep]);
                        if keep > 0 && st.rng.chance(1, 3) {
                            let last = data.len() - 1;
                            data[last] ^= 1 + (st.rng.below(255) as u8);
                        }
                        f.data = data;
                    } else if st.rng.chance(1, 2) {
                        f.data = f.durable.clone();
                    }
                }
            }
            f.durable = f.data.clone();
        }
    }

    /// Make the next `n` syncs fail.
    pub fn fail_next_syncs(&self, n: u64) {
        self.state.lock().faults.fail_next_syncs = n;
    }

    /// Make each sync fail with probability `numerator / denominator`.
    pub fn set_sync_failure_rate(&self, numerator: u64, denominator: u64) {
        self.state.lock().faults.sync_failure_rate = (numerator, denominator.max(1));
    }

    /// Make each write, with probability `numerator / denominator`, write only a random prefix of
    /// its bytes and then fail.
    pub fn set_partial_write_rate(&self, numerator: u64, denominator: u64) {
        self.state.lock().faults.partial_write_rate = (numerator, denominator.max(1));
    }

    /// Stop injecting faults.
    pub fn clear_faults(&self) {
        let mut st = self.state.lock();
        st.faults.fail_next_syncs = 0;
        st.faults.sync_failure_rate = (0, 1);
        st.faults.partial_write_rate = (0, 1);
    }

    /// Make every sync take `latency` of wall time, like a real device (for group-commit tests:
    /// writers that arrive during a sync must share the next one).
    pub fn set_sync_latency(&self, latency: std::time::Duration) {
        self.state.lock().sync_latency = latency;
    }

    /// Number of successful file syncs so far.
    pub fn sync_count(&self) -> u64 {
        self.state.lock().syncs
    }

    /// Number of injected sync failures so far.
    pub fn failed_sync_count(&self) -> u64 {
        self.state.lock().failed_syncs
    }

    /// XOR `mask` into the durable byte at `offset` of `path` (bit rot, for corruption tests).
    pub fn corrupt_byte(&self, path: &Path, offset: u64, mask: u8) -> io::Result<()> {
        let st = self.state.lock();
        let file = st.files.get(path).ok_or_else(|| not_found(path))?;
        let mut f = file.lock();
        let i = offset as usize;
        if i >= f.data.len() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "offset past end"));
        }
        f.data[i] ^= mask;
        if i < f.durable.len() {
            f.durable[i] ^= mask;
        }
        Ok(())
    }

    /// Every file path on the disk.
    pub fn file_paths(&self) -> Vec<PathBuf> {
        self.state.lock().files.keys().cloned().collect()
    }
}

impl Vfs for SimVfs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        for ancestor in path.ancestors() {
            st.dirs.insert(ancestor.to_path_buf());
        }
        Ok(())
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn File>> {
        let gate = self.gate.clone();
        let mut st = self.state.lock();
        let parent = path.parent().unwrap_or(Path::new("/"));
        if !st.dirs.contains(parent) {
            return Err(not_found(parent));
        }
        let file = match (st.files.get(path), mode) {
            (Some(_), OpenMode::CreateNew) => {
                return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} exists", path.display())));
            }
            (Some(f), _) => f.clone(),
            (None, OpenMode::Read) => return Err(not_found(path)),
            (None, _) => {
                let f = Arc::new(Mutex::new(SimFile::default()));
                st.files.insert(path.to_path_buf(), f.clone());
                f
            }
        };
        Ok(Arc::new(SimHandle {
            state: self.state.clone(),
            gate,
            file,
            epoch: st.epoch,
            writable: mode != OpenMode::Read,
        }))
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let st = self.state.lock();
        if !st.dirs.contains(path) {
            return Err(not_found(path));
        }
        let mut names: BTreeSet<String> = BTreeSet::new();
        let children = st.files.keys().chain(st.dirs.iter()).filter(|p| p.parent() == Some(path));
        for p in children {
            if let Some(name) = p.file_name() {
                names.insert(name.to_string_lossy().into_owned());
            }
        }
        Ok(names.into_iter().collect())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.files.remove(path).map(|_| ()).ok_or_else(|| not_found(path))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        let f = st.files.remove(from).ok_or_else(|| not_found(from))?;
        st.files.insert(to.to_path_buf(), f);
        Ok(())
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let st = self.state.lock();
        Ok(st.files.contains_key(path) || st.dirs.contains(path))
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let st = self.state.lock();
        if st.dirs.contains(path) { Ok(()) } else { Err(not_found(path)) }
    }
}

impl SimHandle {
    fn check_alive(&self, st: &State) -> io::Result<()> {
        if st.epoch != self.epoch {
            return Err(io::Error::other("simulated crash: handle belongs to a dead process"));
        }
        Ok(())
    }
}

impl File for SimHandle {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let st = self.state.lock();
        self.check_alive(&st)?;
        let f = self.file.lock();
        let start = (offset as usize).min(f.data.len());
        let n = buf.len().min(f.data.len() - start);
        buf[..n].copy_from_slice(&f.data[start..start + n]);
        Ok(n)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        self.check_alive(&st)?;
        if !self.writable {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, "read-only handle"));
        }
        let (num, den) = st.faults.partial_write_rate;
        let (len, fail) = if num > 0 && st.rng.chance(num, den) {
            (st.rng.below(buf.len() as u64 + 1) as usize, true)
        } else {
            (buf.len(), false)
        };
        let mut f = self.file.lock();
        let end = offset as usize + len;
        if f.data.len() < end {
            f.data.resize(end, 0);
        }
        f.data[offset as usize..end].copy_from_slice(&buf[..len]);
        if fail {
            return Err(injected("partial write"));
        }
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        {
            let mut held = self.gate.held.lock();
            while *held {
                self.gate.released.wait(&mut held);
            }
        }
        let latency = self.state.lock().sync_latency;
        if !latency.is_zero() {
            std::thread::sleep(latency); // models device time; never used to order threads
        }
        let mut st = self.state.lock();
        self.check_alive(&st)?;
        let (num, den) = st.faults.sync_failure_rate;
        let fail = if st.faults.fail_next_syncs > 0 {
            st.faults.fail_next_syncs -= 1;
            true
        } else {
            num > 0 && st.rng.chance(num, den)
        };
        if fail {
            st.failed_syncs += 1;
            return Err(injected("fsync failed"));
        }
        st.syncs += 1;
        let mut f = self.file.lock();
        f.durable = f.data.clone();
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        let st = self.state.lock();
        self.check_alive(&st)?;
        Ok(self.file.lock().data.len() as u64)
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        let st = self.state.lock();
        self.check_alive(&st)?;
        self.file.lock().data.resize(len as usize, 0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynced_bytes_are_lost_on_crash_and_synced_bytes_survive() {
        let vfs = SimVfs::new(1);
        vfs.create_dir_all(Path::new("/d")).unwrap();
        let f = vfs.open(Path::new("/d/a"), OpenMode::ReadWriteCreate).unwrap();
        f.write_at(b"hello", 0).unwrap();
        f.sync().unwrap();
        f.write_at(b" world", 5).unwrap();
        vfs.crash(CrashMode::LoseUnsynced);
        assert!(f.read_at(&mut [0; 4], 0).is_err(), "old handles die with the process");
        let f = vfs.open(Path::new("/d/a"), OpenMode::Read).unwrap();
        assert_eq!(f.read_all().unwrap(), b"hello");
    }

    #[test]
    fn torn_crash_keeps_a_prefix_of_the_unsynced_tail() {
        for seed in 0..50 {
            let vfs = SimVfs::new(seed);
            vfs.create_dir_all(Path::new("/d")).unwrap();
            let f = vfs.open(Path::new("/d/a"), OpenMode::ReadWriteCreate).unwrap();
            f.write_at(b"durable", 0).unwrap();
            f.sync().unwrap();
            f.write_at(b"volatile-tail", 7).unwrap();
            vfs.crash(CrashMode::Torn);
            let data = vfs.open(Path::new("/d/a"), OpenMode::Read).unwrap().read_all().unwrap();
            assert!(data.starts_with(b"durable"));
            assert!(data.len() <= b"durablevolatile-tail".len());
        }
    }

    #[test]
    fn injected_sync_failure_keeps_data_volatile() {
        let vfs = SimVfs::new(2);
        vfs.create_dir_all(Path::new("/d")).unwrap();
        let f = vfs.open(Path::new("/d/a"), OpenMode::ReadWriteCreate).unwrap();
        f.write_at(b"x", 0).unwrap();
        vfs.fail_next_syncs(1);
        assert!(f.sync().is_err());
        vfs.crash(CrashMode::LoseUnsynced);
        let f = vfs.open(Path::new("/d/a"), OpenMode::Read).unwrap();
        assert!(f.read_all().unwrap().is_empty());
        assert_eq!(vfs.failed_sync_count(), 1);
    }

    #[test]
    fn os_vfs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let vfs = crate::OsVfs;
        let path = dir.path().join("f");
        crate::write_atomic(&vfs, &path, b"abc").unwrap();
        let f = vfs.open(&path, OpenMode::Read).unwrap();
        assert_eq!(f.read_all().unwrap(), b"abc");
        assert_eq!(vfs.list_dir(dir.path()).unwrap(), vec!["f".to_string()]);
    }
}
