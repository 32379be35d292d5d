//! The storage seam under Aurum's engines (the log and the KV store).
//!
//! Engines never touch `std::fs` directly: they go through [`Vfs`] and [`File`]. Production uses
//! [`OsVfs`]; tests use [`SimVfs`], a simulated disk that distinguishes written bytes from durable
//! (synced) bytes, can lose or tear the unsynced tail on a simulated crash, and injects failed
//! fsyncs and partial writes on demand. Every engine built on this seam is tested through it.
//!
//! The seam is deliberately small: positional reads and writes, `sync`, `truncate`, and a handful
//! of directory operations. Positional I/O (`read_at`/`write_at` on `&self`) lets readers share a
//! file handle with its single writer without a lock.

mod os;
pub mod rng;
mod sim;

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

pub use os::OsVfs;
pub use sim::{CrashMode, SimVfs};

/// How to open a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Read only; the file must exist.
    Read,
    /// Read and write; create the file if it does not exist.
    ReadWriteCreate,
    /// Read and write; the file must not exist yet.
    CreateNew,
}

/// Held while a store owns a directory; dropping it releases the directory.
pub type DirLock = Box<dyn std::any::Any + Send + Sync>;

/// A file system. Implementations must be usable from many threads.
pub trait Vfs: Send + Sync + fmt::Debug {
    /// Create a directory and all its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Open a file.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn File>>;
    /// The names of the entries of a directory, sorted.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Remove a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Rename a file, atomically replacing `to` if it exists.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Whether a file or directory exists.
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Make the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Take exclusive ownership of directory `dir` for as long as the returned guard lives, so that a second store
    /// cannot open the same directory (in this process or another) and silently overwrite the first one's files.
    /// Fails with [`io::ErrorKind::WouldBlock`] if the directory is owned already. The default does not lock: a
    /// simulated file system belongs to one test, which opens and "crashes" stores on purpose.
    fn lock_dir(&self, dir: &Path) -> io::Result<DirLock> {
        let _ = dir;
        Ok(Box::new(()))
    }
}

/// An open file. All offsets are absolute byte positions.
pub trait File: Send + Sync + fmt::Debug {
    /// Read up to `buf.len()` bytes at `offset`; returns the number read (0 at end of file).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Write all of `buf` at `offset`, extending the file if needed. Not durable until [`File::sync`].
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Make every write so far durable (fdatasync).
    fn sync(&self) -> io::Result<()>;
    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Cut or extend the file to `len` bytes.
    fn truncate(&self, len: u64) -> io::Result<()>;

    /// Read exactly `buf.len()` bytes at `offset`, or fail with `UnexpectedEof`.
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.read_at(buf, offset)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short read"));
            }
            buf = &mut buf[n..];
            offset += n as u64;
        }
        Ok(())
    }

    /// Read the whole file into memory.
    fn read_all(&self) -> io::Result<Vec<u8>> {
        let len =
            usize::try_from(self.len()?).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file too large"))?;
        let mut buf = vec![0u8; len];
        self.read_exact_at(&mut buf, 0)?;
        Ok(buf)
    }
}

/// Write `bytes` to `path` atomically and durably: write a temporary file, sync it, rename it over
/// `path`, sync the directory. A crash leaves either the old or the new content, never a mix.
pub fn write_atomic(vfs: &dyn Vfs, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no parent"))?;
    let mut tmp_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?
        .to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    if vfs.exists(&tmp)? {
        vfs.remove_file(&tmp)?;
    }
    let file = vfs.open(&tmp, OpenMode::CreateNew)?;
    file.write_at(bytes, 0)?;
    file.sync()?;
    drop(file);
    vfs.rename(&tmp, path)?;
    vfs.sync_dir(dir)
}
