//! The single writer: commands from any number of callers are queued, gathered into batches of up
//! to `max_batch_commands`, applied to the state machine, sealed into a signed block, appended to
//! the journal durably, and only then acknowledged (group commit: one block, one fsync, for every
//! caller whose commands made the batch).
//!
//! Readers see only durable state: the writer holds the state's write lock from `apply` until the
//! block is durable. If the journal append fails, the in-memory state is ahead of the journal, so
//! the engine poisons itself — it refuses reads and writes — and a restart recovers from the
//! journal (nothing acknowledged is lost, nothing unacknowledged is shown).
//!
//! Restart = the newest signed snapshot in the KV store + replay of the journal tail, verifying
//! every block's chain link, hash and signature and that re-execution reproduces its outcomes.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use aurum_kv::Db;
use aurum_ledger::{BatchContext, Command, Ledger, MAX_BATCH_COMMANDS, Outcome, Timestamp};
use aurum_log::{Log, LogOptions};
use aurum_vfs::Vfs;
use parking_lot::{Mutex, RwLock};

use crate::block::Block;
use crate::journal::{Journal, JournalBackend, JournalPolicy, JournalReader, LogJournal};
use crate::keys::{self, NodeKey};
use crate::snapshot::{self, SnapshotError};

/// Most encoded bytes of commands the writer puts in one block, leaving room for outcomes and
/// framing within the journal's MAX_BLOCK_BYTES.
pub const MAX_BLOCK_COMMAND_BYTES: usize = crate::block::MAX_BLOCK_BYTES / 2;

/// An upper bound of a command's encoded size, cheap to compute (no encoding): fixed fields plus
/// every variable-length part with its length prefix.
pub fn command_size_bound(command: &Command) -> usize {
    const FIXED_BYTES: usize = 160;
    let metadata = |m: &aurum_ledger::Metadata| m.iter().map(|(k, v)| 8 + k.len() + v.len()).sum::<usize>();
    FIXED_BYTES
        + match command {
            Command::CreateAsset(c) => c.code.len(),
            Command::CreateAccount(c) => metadata(&c.metadata),
            Command::CreateTransfer(c) => metadata(&c.metadata),
            Command::PostPending(c) => metadata(&c.metadata),
            Command::VoidPending(c) => metadata(&c.metadata),
            Command::CreateEntry(c) => metadata(&c.metadata) + c.postings.len() * 48,
            Command::CloseAccount(_) => 0,
        }
}

/// Commands between two automatic snapshots by default (restart replays at most this many).
pub const DEFAULT_SNAPSHOT_EVERY_COMMANDS: u64 = 10_000_000;

/// Most requests waiting in the writer's queue; callers block (backpressure) beyond it.
pub const QUEUE_CAPACITY_REQUESTS: usize = 4096;
/// KV key of the head anchor: the last block the engine acknowledged (seq, hash, signature).
pub const HEAD_KEY: &[u8] = b"ledger/head";

/// A source of batch timestamps (ns since the epoch).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock in nanoseconds.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let ns = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Timestamp(u64::try_from(ns).unwrap_or(u64::MAX))
    })
}

/// How the engine runs.
#[derive(Clone)]
pub struct EngineConfig {
    /// Most commands per block (≤ [`MAX_BATCH_COMMANDS`]).
    pub max_batch_commands: usize,
    /// Write a snapshot every this many blocks (0: not by block count).
    pub snapshot_every_blocks: u64,
    /// Write a snapshot every this many commands (0: not by command count). A snapshot encodes
    /// the whole state on the writer thread (writers wait meanwhile), so count commands, not
    /// blocks: small blocks would otherwise snapshot far too often.
    pub snapshot_every_commands: u64,
    /// Write a snapshot when the engine shuts down cleanly (so the next start replays nothing).
    pub snapshot_on_shutdown: bool,
    /// Most requests waiting for the writer; beyond it `try_submit_with` answers
    /// [`EngineError::Overloaded`] (default [`QUEUE_CAPACITY_REQUESTS`]; at least 1).
    pub queue_capacity: usize,
    /// Batch timestamps.
    pub clock: Clock,
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("max_batch_commands", &self.max_batch_commands)
            .field("snapshot_every_blocks", &self.snapshot_every_blocks)
            .field("snapshot_every_commands", &self.snapshot_every_commands)
            .finish_non_exhaustive()
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_batch_commands: MAX_BATCH_COMMANDS,
            snapshot_every_blocks: 0,
            snapshot_every_commands: DEFAULT_SNAPSHOT_EVERY_COMMANDS,
            snapshot_on_shutdown: true,
            queue_capacity: QUEUE_CAPACITY_REQUESTS,
            clock: system_clock(),
        }
    }
}

/// Engine errors.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The journal's log failed.
    #[error("journal log: {0}")]
    Log(#[from] aurum_log::Error),
    /// The KV store failed.
    #[error("state store: {0}")]
    Kv(#[from] aurum_kv::Error),
    /// The journal failed.
    #[error("journal: {0}")]
    Journal(#[from] crate::journal::JournalError),
    /// A snapshot failed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The node key could not be loaded or created.
    #[error("node key: {0}")]
    Key(#[from] crate::keys::KeyError),
    /// A request had no commands or more than a block holds.
    #[error("a request must hold 1 to {limit} commands; this one holds {len}")]
    BatchSize {
        /// Commands in the request.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A command exceeds a limit of the journal's encoding (metadata, asset code or postings):
    /// it could be journalled but never read back, so the request is refused whole.
    #[error("command {index} of the request cannot be journalled: {reason}")]
    Unencodable {
        /// Its index in the request.
        index: usize,
        /// The limit it exceeds.
        reason: String,
    },
    /// A request's commands would not fit in one journal block.
    #[error("a request's commands may encode to at most {limit} bytes; these may take {bytes}")]
    RequestTooLarge {
        /// Upper bound of the request's encoded size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// A journal write failed earlier; restart to recover from the journal.
    #[error("ledger engine stopped after a failed journal write ({cause}); restart it to recover")]
    Poisoned {
        /// The failure.
        cause: String,
    },
    /// The engine is shutting down.
    #[error("ledger engine is shut down")]
    Closed,
    /// The request queue is full; back off and retry.
    #[error("ledger engine is overloaded: {capacity} requests are already queued")]
    Overloaded {
        /// The queue's capacity.
        capacity: usize,
    },
    /// The journal does not replay to what it recorded, or is shorter than what was acknowledged.
    #[error("recovery failed at block {seq}: {reason}")]
    Recovery {
        /// Block sequence number.
        seq: u64,
        /// What was wrong.
        reason: String,
    },
}

/// Called once with a request's outcomes (or why it failed), on the writer thread: keep it short.
pub type Reply = Box<dyn FnOnce(Result<Vec<Outcome>, EngineError>) + Send>;

struct Request {
    commands: Vec<Command>,
    bytes: usize,
    reply: Reply,
}

/// State shared by the handle and the writer thread.
struct Shared {
    ledger: RwLock<Ledger>,
    stats: crate::stats::EngineStats,
    recovery_notes: Vec<String>,
    head: Mutex<(u64, [u8; 32])>,
    poisoned: AtomicBool,
    poison_cause: Mutex<Option<String>>,
    key: NodeKey,
    db: Db,
    journal: Journal,
    /// The embedded log for the other topics (the journal may live elsewhere).
    log: Log,
    config: EngineConfig,
}

struct Handle {
    shared: Arc<Shared>,
    sender: Option<SyncSender<Request>>,
    queue_capacity: usize,
    writer: Option<JoinHandle<()>>,
    snapshotter: Option<JoinHandle<()>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        drop(self.sender.take()); // the writer drains the queue, hands over its last snapshot, exits
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        // The writer dropped its snapshot sender on exit: the snapshotter stores what it has and ends.
        if let Some(s) = self.snapshotter.take() {
            let _ = s.join();
        }
    }
}

/// Encoded snapshots waiting for the snapshot thread. One: if the thread is still storing the
/// previous snapshot when the next is due and one is already waiting, the writer waits — which
/// happens only if storing a snapshot takes longer than the commands between two snapshots.
const SNAPSHOT_QUEUE: usize = 1;

/// Stores encoded snapshots in the KV store, off the writer thread: encoding needs the state held
/// still, but hashing, signing and writing hundreds of MB to the LSM do not.
fn snapshot_loop(shared: &Shared, rx: &Receiver<crate::snapshot::Encoded>) {
    for encoded in rx {
        // A failure costs only restart time: the journal has everything.
        let _ = snapshot::store(&shared.db, &shared.key, &encoded);
    }
}

/// A running ledger. Cheap to clone; the writer stops when the last clone is dropped.
#[derive(Clone)]
pub struct Engine {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("head", &*self.handle.shared.head.lock()).finish_non_exhaustive()
    }
}

/// What recovery did on open.
#[derive(Debug, Clone, Default)]
pub struct OpenReport {
    /// The snapshot restart began from (seq), if any.
    pub snapshot_seq: Option<u64>,
    /// Blocks replayed from the journal after it.
    pub blocks_replayed: u64,
    /// Snapshots that failed validation and were skipped.
    pub skipped_snapshots: Vec<String>,
    /// What the log's own recovery did (bytes cut from a segment, evidence kept).
    pub log_recovery: Vec<String>,
}

/// Describe what the log's recovery did, one line per partition whose tail was cut.
fn log_recovery_notes(log: &Log) -> Vec<String> {
    log.open_report()
        .truncated
        .iter()
        .map(|(topic, partition, r)| {
            let kept = r
                .preserved
                .as_ref()
                .map_or_else(String::new, |p| format!("; the cut bytes are kept in {}", p.display()));
            format!(
                "log recovery cut {} bytes from {topic}/{partition} at byte {} of its active segment ({}){kept}",
                r.truncated_bytes,
                r.cut_at,
                r.reason.as_deref().unwrap_or("torn write")
            )
        })
        .collect()
}

/// The `log/` and `kv/` directories of the ledger under `data_dir`.
pub fn ledger_dirs(data_dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    (data_dir.join("log"), data_dir.join("kv"))
}

impl Engine {
    /// Open the ledger stored under `data_dir` (its `log/` and `kv/`), recovering its state.
    pub fn open(vfs: Arc<dyn Vfs>, data_dir: &Path, config: EngineConfig) -> Result<(Engine, OpenReport), EngineError> {
        let (log_dir, kv_dir) = ledger_dirs(data_dir);
        let log = Log::open(vfs.clone(), &log_dir, LogOptions::default())?;
        let db = Db::open(vfs, &kv_dir, aurum_kv::Options::default())?;
        Engine::open_with(log, db, config)
    }

    /// Open the ledger under `data_dir` with its journal in `journal` (Kafka, say): `log/` under
    /// it carries the other topics, `kv/` the node key, head anchor and snapshots.
    pub fn open_dir_with_journal(
        vfs: Arc<dyn Vfs>,
        data_dir: &Path,
        journal: Arc<dyn JournalBackend>,
        policy: JournalPolicy,
        config: EngineConfig,
    ) -> Result<(Engine, OpenReport), EngineError> {
        let (log_dir, kv_dir) = ledger_dirs(data_dir);
        let log = Log::open(vfs.clone(), &log_dir, LogOptions::default())?;
        let db = Db::open(vfs, &kv_dir, aurum_kv::Options::default())?;
        Engine::open_with_journal(journal, policy, log, db, config)
    }

    /// Open over an already open log and KV store, with the journal in the log.
    pub fn open_with(log: Log, db: Db, config: EngineConfig) -> Result<(Engine, OpenReport), EngineError> {
        let journal = Arc::new(LogJournal::new(log.clone()));
        Engine::open_with_journal(journal, JournalPolicy::default(), log, db, config)
    }

    /// Open with the journal in `journal` (the embedded log, or Kafka), accepting what `policy`
    /// allows. `log` carries the other topics (risk alerts, oracle rounds, ...); `db` holds the
    /// node key, the head anchor and the snapshots, which stay local whatever the journal's
    /// backend: the anchor is how a journal that lost acknowledged blocks is detected.
    pub fn open_with_journal(
        journal: Arc<dyn JournalBackend>,
        policy: JournalPolicy,
        log: Log,
        db: Db,
        config: EngineConfig,
    ) -> Result<(Engine, OpenReport), EngineError> {
        assert!(config.queue_capacity >= 1, "queue_capacity must be at least 1");
        let queue_capacity = config.queue_capacity;
        assert!(
            (1..=MAX_BATCH_COMMANDS).contains(&config.max_batch_commands),
            "max_batch_commands must be in 1..={MAX_BATCH_COMMANDS}"
        );
        let key = NodeKey::load_or_create(&db)?;
        let notes = log_recovery_notes(&log);
        let journal = Journal::open_backend(journal, policy)?;
        let (ledger, head, mut report) = recover(&db, &journal, &key).map_err(|e| match (e, notes.is_empty()) {
            (EngineError::Recovery { seq, reason }, false) => {
                EngineError::Recovery { seq, reason: format!("{reason}; {}", notes.join("; ")) }
            }
            (e, _) => e,
        })?;
        report.log_recovery = notes.clone();
        let shared = Arc::new(Shared {
            ledger: RwLock::new(ledger),
            stats: crate::stats::EngineStats::default(),
            recovery_notes: notes,
            head: Mutex::new(head),
            poisoned: AtomicBool::new(false),
            poison_cause: Mutex::new(None),
            key,
            db,
            journal,
            log,
            config,
        });
        let (tx, rx) = mpsc::sync_channel(queue_capacity);
        let (snap_tx, snap_rx) = mpsc::sync_channel(SNAPSHOT_QUEUE);
        let snapshot_shared = shared.clone();
        let snapshotter = std::thread::Builder::new()
            .name("aurum-ledger-snapshots".into())
            .spawn(move || snapshot_loop(&snapshot_shared, &snap_rx))
            .expect("spawn the ledger snapshot thread");
        let writer_shared = shared.clone();
        let writer = std::thread::Builder::new()
            .name("aurum-ledger-writer".into())
            .spawn(move || writer_loop(&writer_shared, &rx, &snap_tx))
            .expect("spawn the ledger writer thread");
        let engine = Engine {
            handle: Arc::new(Handle {
                shared,
                sender: Some(tx),
                queue_capacity,
                writer: Some(writer),
                snapshotter: Some(snapshotter),
            }),
        };
        Ok((engine, report))
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    fn check_poison(&self) -> Result<(), EngineError> {
        if self.shared().poisoned.load(Ordering::Acquire) {
            let cause = self.shared().poison_cause.lock().clone().unwrap_or_default();
            return Err(EngineError::Poisoned { cause });
        }
        Ok(())
    }

    /// Submit commands; returns their outcomes once the block holding them is durable. The
    /// commands of one request always land in one block, in order (so linked chains work).
    /// Blocks while the queue is full (backpressure).
    pub fn submit(&self, commands: Vec<Command>) -> Result<Vec<Outcome>, EngineError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.enqueue(commands, Box::new(move |r| drop(tx.send(r))), true)?;
        rx.recv().map_err(|_| EngineError::Closed)?
    }

    /// Wait until the writer has finished every request submitted before this call: its block
    /// and the head anchor written after it is acknowledged. A request's outcomes arrive before
    /// that anchor is written (it is off the acknowledgement's path), so a caller that must know
    /// the writer is idle — a test that injects storage faults for one step only, a shutdown
    /// that copies the data directory — waits here. Fails like a submit if the engine is stopped
    /// or poisoned.
    pub fn barrier(&self) -> Result<(), EngineError> {
        self.check_poison()?;
        let sender = self.handle.sender.as_ref().ok_or(EngineError::Closed)?;
        let (tx, rx) = mpsc::sync_channel(1);
        // An empty request is the barrier: `enqueue` refuses empty requests from clients, and the
        // writer answers this one on its own, after all the work queued before it.
        let reply: Reply = Box::new(move |r| drop(tx.send(r)));
        sender.send(Request { commands: Vec::new(), bytes: 0, reply }).map_err(|_| EngineError::Closed)?;
        rx.recv().map_err(|_| EngineError::Closed)?.map(|_| ())
    }

    /// Submit without waiting: `done` is called with the outcomes once the block is durable (on
    /// the writer thread). Fails at once, without calling `done`, if the request is invalid, the
    /// engine is stopped, or the queue holds `queue_capacity` requests already
    /// ([`EngineError::Overloaded`]: the caller should back off).
    pub fn try_submit_with(
        &self,
        commands: Vec<Command>,
        done: impl FnOnce(Result<Vec<Outcome>, EngineError>) + Send + 'static,
    ) -> Result<(), EngineError> {
        self.enqueue(commands, Box::new(done), false)
    }

    fn enqueue(&self, commands: Vec<Command>, reply: Reply, block_when_full: bool) -> Result<(), EngineError> {
        if commands.is_empty() || commands.len() > self.shared().config.max_batch_commands {
            return Err(EngineError::BatchSize { len: commands.len(), limit: self.shared().config.max_batch_commands });
        }
        if let Some((index, reason)) =
            commands.iter().enumerate().find_map(|(i, c)| aurum_ledger::codec::check_encodable(c).err().map(|r| (i, r)))
        {
            return Err(EngineError::Unencodable { index, reason });
        }
        let bytes: usize = commands.iter().map(command_size_bound).sum();
        if bytes > MAX_BLOCK_COMMAND_BYTES {
            return Err(EngineError::RequestTooLarge { bytes, limit: MAX_BLOCK_COMMAND_BYTES });
        }
        self.check_poison()?;
        let sender = self.handle.sender.as_ref().ok_or(EngineError::Closed)?;
        let shared = self.handle.shared.clone();
        shared.stats.in_flight_requests.fetch_add(1, Ordering::Relaxed);
        let reply: Reply = Box::new(move |r| {
            shared.stats.in_flight_requests.fetch_sub(1, Ordering::Relaxed);
            reply(r);
        });
        let request = Request { commands, bytes, reply };
        let sent = if block_when_full {
            sender.send(request).map_err(|e| (EngineError::Closed, e.0))
        } else {
            sender.try_send(request).map_err(|e| match e {
                mpsc::TrySendError::Full(r) => (EngineError::Overloaded { capacity: self.handle.queue_capacity }, r),
                mpsc::TrySendError::Disconnected(r) => (EngineError::Closed, r),
            })
        };
        sent.map_err(|(err, request)| {
            // Not queued: undo the in-flight count; dropping the callback does not call it.
            self.shared().stats.in_flight_requests.fetch_sub(1, Ordering::Relaxed);
            drop(request);
            err
        })
    }

    /// The engine's counters and histograms.
    pub fn stats(&self) -> &crate::stats::EngineStats {
        &self.shared().stats
    }

    /// Read the durable state.
    pub fn read<R>(&self, f: impl FnOnce(&Ledger) -> R) -> Result<R, EngineError> {
        self.check_poison()?;
        let ledger = self.shared().ledger.read();
        self.check_poison()?;
        Ok(f(&ledger))
    }

    /// The embedded log for the topics other than the journal: other components append their own topics to it
    /// (the oracle's rounds, for instance). The journal itself is read through [`Engine::journal_reader`]: it
    /// may live in another backend.
    pub fn log(&self) -> &aurum_log::Log {
        &self.shared().log
    }

    /// A reader of the journal, wherever it is stored. Nothing but the engine writes it.
    pub fn journal_reader(&self) -> JournalReader {
        self.shared().journal.reader().clone()
    }

    /// The last durable block: (seq, hash).
    pub fn head(&self) -> (u64, [u8; 32]) {
        *self.shared().head.lock()
    }

    /// The node's public key (hex), which verifies every block and snapshot.
    pub fn public_key_hex(&self) -> String {
        self.shared().key.public_key_hex()
    }

    /// The node's public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.shared().key.public_key()
    }

    /// Write a snapshot of the current durable state now.
    pub fn snapshot_now(&self) -> Result<snapshot::SnapshotMeta, EngineError> {
        self.check_poison()?;
        let s = self.shared();
        let ledger = s.ledger.read();
        let (_, hash) = *s.head.lock();
        Ok(snapshot::write(&s.db, &s.key, &ledger, hash)?)
    }

    /// The KV store the engine keeps its snapshots, key and head anchor in.
    pub fn db(&self) -> &Db {
        &self.shared().db
    }
}

/// Load the newest valid snapshot and replay the journal after it, verifying as the audit does.
/// The recovered state: the ledger, the head (seq, hash), and what recovery did.
type Recovered = (Ledger, (u64, [u8; 32]), OpenReport);

fn recover(db: &Db, journal: &Journal, key: &NodeKey) -> Result<Recovered, EngineError> {
    let public_key = key.public_key();
    let mut report = OpenReport::default();
    let (found, skipped) = snapshot::load_latest(db, &public_key)?;
    report.skipped_snapshots = skipped.iter().map(ToString::to_string).collect();
    let (mut ledger, mut head) = match found {
        Some((meta, ledger)) => {
            report.snapshot_seq = Some(meta.seq);
            (ledger, (meta.seq, meta.block_hash))
        }
        None => (Ledger::new(), (0, [0u8; 32])),
    };
    // The journal must reach the snapshot: a journal that ends before it lost blocks the snapshot
    // (and so every reader of the snapshot) relies on.
    let journal_head = journal.head().unwrap_or((0, [0u8; 32]));
    if journal_head.0 < head.0 || (journal_head.0 == head.0 && head.0 > 0 && journal_head.1 != head.1) {
        return Err(EngineError::Recovery {
            seq: journal_head.0 + 1,
            reason: format!(
                "the journal ends at block {} but the snapshot covers block {}: the journal was truncated or replaced",
                journal_head.0, head.0
            ),
        });
    }
    for raw in journal.read_blocks(head.0 + 1)? {
        let raw = raw?;
        let block = raw.block.map_err(|e| EngineError::Recovery { seq: head.0 + 1, reason: e.to_string() })?;
        let seq = head.0 + 1;
        let fail = |reason: String| EngineError::Recovery { seq, reason };
        if block.seq != seq {
            return Err(fail(format!("found block {} where block {seq} belongs", block.seq)));
        }
        if block.prev_hash != head.1 {
            return Err(fail("previous-hash link does not match the chain".into()));
        }
        if block.compute_hash() != block.hash {
            return Err(fail("block hash does not match its contents".into()));
        }
        if !block.verify_signature(&public_key) {
            return Err(fail("signature does not verify under the node key".into()));
        }
        let result = ledger.apply(BatchContext { seq, timestamp: block.timestamp }, &block.commands);
        if result != block.result {
            return Err(fail("re-execution does not reproduce the recorded outcomes".into()));
        }
        head = (seq, block.hash);
        report.blocks_replayed += 1;
    }
    if let Some(anchor) = db.get(HEAD_KEY)?
        && anchor.len() >= 8
    {
        let anchored = u64::from_le_bytes(anchor[..8].try_into().expect("8 bytes"));
        if anchored > head.0 {
            return Err(EngineError::Recovery {
                seq: head.0 + 1,
                reason: format!(
                    "the journal ends at block {} but block {anchored} was acknowledged: truncated",
                    head.0
                ),
            });
        }
    }
    Ok((ledger, head, report))
}

fn writer_loop(shared: &Shared, rx: &Receiver<Request>, snapshots: &SyncSender<crate::snapshot::Encoded>) {
    let mut carried: Option<Request> = None;
    let mut blocks_since_snapshot = 0u64;
    let mut commands_since_snapshot = 0u64;
    loop {
        let first = match carried.take() {
            Some(r) => r,
            None => match rx.recv() {
                Ok(r) => r,
                Err(_) => {
                    // Every handle is gone: a clean shutdown.
                    if shared.config.snapshot_on_shutdown
                        && blocks_since_snapshot > 0
                        && !shared.poisoned.load(Ordering::Acquire)
                    {
                        let encoded = {
                            let ledger = shared.ledger.read();
                            let (_, hash) = *shared.head.lock();
                            crate::snapshot::Encoded::of(&ledger, hash)
                        };
                        // Blocking send: the last snapshot must not be skipped.
                        let _ = snapshots.send(encoded);
                    }
                    return;
                }
            },
        };
        if first.commands.is_empty() {
            // A barrier (`Engine::barrier`): everything queued before it is done, anchor included.
            let reply = first.reply;
            if shared.poisoned.load(Ordering::Acquire) {
                let cause = shared.poison_cause.lock().clone().unwrap_or_default();
                reply(Err(EngineError::Poisoned { cause }));
            } else {
                reply(Ok(Vec::new()));
            }
            continue;
        }
        let mut count = first.commands.len();
        let mut bytes = first.bytes;
        let mut requests = vec![first];
        // Group commit: take whatever else is already waiting, up to a full block.
        loop {
            match rx.try_recv() {
                Ok(r)
                    if !r.commands.is_empty()
                        && count + r.commands.len() <= shared.config.max_batch_commands
                        && bytes + r.bytes <= MAX_BLOCK_COMMAND_BYTES =>
                {
                    count += r.commands.len();
                    bytes += r.bytes;
                    requests.push(r);
                }
                Ok(r) => {
                    carried = Some(r);
                    break;
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        if shared.poisoned.load(Ordering::Acquire) {
            let cause = shared.poison_cause.lock().clone().unwrap_or_default();
            for r in requests {
                (r.reply)(Err(EngineError::Poisoned { cause: cause.clone() }));
            }
            continue;
        }
        let mut commands = Vec::with_capacity(count);
        let mut sizes = Vec::with_capacity(requests.len());
        let mut replies = Vec::with_capacity(requests.len());
        for r in requests {
            sizes.push(r.commands.len());
            commands.extend(r.commands);
            replies.push(r.reply);
        }
        match commit_block(shared, commands) {
            Ok((outcomes, anchor)) => {
                let mut rest = outcomes.as_slice();
                for (reply, n) in replies.into_iter().zip(sizes) {
                    let (mine, tail) = rest.split_at(n);
                    rest = tail;
                    reply(Ok(mine.to_vec()));
                }
                // The anchor lets the audit and recovery detect a truncated journal tail. It is
                // written after the block is durable and acknowledged; a crash in between leaves it
                // one block behind, which is harmless. A failure here stops the engine: without
                // the anchor a truncation could go unnoticed.
                if let Err(e) = shared.db.put(HEAD_KEY, &anchor) {
                    *shared.poison_cause.lock() = Some(format!("head anchor: {e}"));
                    shared.poisoned.store(true, Ordering::Release);
                    continue;
                }
                blocks_since_snapshot += 1;
                commands_since_snapshot += count as u64;
                let (by_blocks, by_commands) =
                    (shared.config.snapshot_every_blocks, shared.config.snapshot_every_commands);
                if (by_blocks > 0 && blocks_since_snapshot >= by_blocks)
                    || (by_commands > 0 && commands_since_snapshot >= by_commands)
                {
                    blocks_since_snapshot = 0;
                    commands_since_snapshot = 0;
                    // Encode here (the state must hold still; writers wait), store elsewhere.
                    let encoded = {
                        let ledger = shared.ledger.read();
                        let (_, hash) = *shared.head.lock();
                        crate::snapshot::Encoded::of(&ledger, hash)
                    };
                    let _ = snapshots.send(encoded);
                }
            }
            Err(e) => {
                let cause = e.to_string();
                *shared.poison_cause.lock() = Some(cause.clone());
                shared.poisoned.store(true, Ordering::Release);
                for reply in replies {
                    reply(Err(EngineError::Poisoned { cause: cause.clone() }));
                }
            }
        }
    }
}

/// Apply, seal and journal durably; returns the outcomes and the head anchor to record. Holds the
/// state's write lock throughout so that no reader sees effects that are not yet durable.
fn commit_block(shared: &Shared, commands: Vec<Command>) -> Result<(Vec<Outcome>, Vec<u8>), EngineError> {
    let mut ledger = shared.ledger.write();
    let (prev_seq, prev_hash) = *shared.head.lock();
    let seq = prev_seq + 1;
    let timestamp = (shared.config.clock)();
    let result = ledger.apply(BatchContext { seq, timestamp }, &commands);
    let outcomes = result.outcomes.clone();
    let block = Block::seal(seq, prev_hash, timestamp, commands, result, &shared.key);
    let started = std::time::Instant::now();
    shared.journal.append(&block)?;
    let stats = &shared.stats;
    stats.journal_write_us.observe(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
    stats.batch_size.observe(block.commands.len() as u64);
    stats.blocks.fetch_add(1, Ordering::Relaxed);
    stats.commands.fetch_add(block.commands.len() as u64, Ordering::Relaxed);
    *shared.head.lock() = (seq, block.hash);
    drop(ledger);
    let mut anchor = Vec::with_capacity(8 + 32 + 64);
    anchor.extend_from_slice(&seq.to_le_bytes());
    anchor.extend_from_slice(&block.hash);
    anchor.extend_from_slice(&block.signature);
    Ok((outcomes, anchor))
}

/// Read the head anchor: (seq, hash) of the last block the engine acknowledged.
pub fn read_anchor(db: &Db, public_key: &[u8; 32]) -> Result<Option<(u64, [u8; 32])>, EngineError> {
    let Some(bytes) = db.get(HEAD_KEY)? else { return Ok(None) };
    if bytes.len() != 8 + 32 + 64 {
        return Ok(None);
    }
    let seq = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let hash: [u8; 32] = bytes[8..40].try_into().expect("32 bytes");
    let sig: [u8; 64] = bytes[40..104].try_into().expect("64 bytes");
    Ok(keys::verify(public_key, &hash, &sig).then_some((seq, hash)))
}

/// How often the audits run by the engine do the full O(state) invariant check (the per-asset
/// balance check runs after every block, the full one also after the last).
pub const AUDIT_FULL_CHECK_EVERY_BLOCKS: u64 = 1000;

/// Where an audit starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditFrom {
    /// Replay every block from the first.
    Genesis,
    /// Replay from the newest valid signed snapshot.
    Snapshot,
}

fn audit_start(db: &Db, public_key: &[u8; 32], from: AuditFrom) -> Result<crate::audit::AuditStart, EngineError> {
    Ok(match from {
        AuditFrom::Genesis => crate::audit::AuditStart::Genesis,
        AuditFrom::Snapshot => match snapshot::load_latest(db, public_key)?.0 {
            Some((meta, ledger)) => crate::audit::AuditStart::Snapshot { ledger, seq: meta.seq, hash: meta.block_hash },
            None => crate::audit::AuditStart::Genesis,
        },
    })
}

impl Engine {
    /// Audit the journal against this running ledger: replay from genesis or the newest snapshot,
    /// compare every outcome, and compare the final state with the live one and the journal's end
    /// with the acknowledged head. Writers wait while it runs (it reads a consistent state).
    pub fn audit(&self, from: AuditFrom) -> Result<crate::audit::AuditReport, EngineError> {
        self.check_poison()?;
        let s = self.shared();
        let public_key = s.key.public_key();
        let ledger = s.ledger.read();
        let head = *s.head.lock();
        let config = crate::audit::AuditConfig {
            public_key,
            start: audit_start(&s.db, &public_key, from)?,
            live: Some(&ledger),
            expected_head: Some(head),
            invariants_every_blocks: AUDIT_FULL_CHECK_EVERY_BLOCKS,
        };
        let mut report = crate::audit::audit(s.journal.reader(), config)
            .map_err(|e| EngineError::Recovery { seq: 0, reason: e.to_string() })?;
        report.notes.clone_from(&s.recovery_notes);
        Ok(report)
    }
}

/// Audit the ledger stored under `data_dir` without starting it — for when it will not start. The
/// journal's end is checked against the signed head anchor; there is no live state to compare.
pub fn audit_offline(
    vfs: Arc<dyn Vfs>,
    data_dir: &Path,
    from: AuditFrom,
) -> Result<crate::audit::AuditReport, EngineError> {
    let (log_dir, kv_dir) = ledger_dirs(data_dir);
    let log = Log::open(vfs.clone(), &log_dir, LogOptions::default())?;
    let db = Db::open(vfs, &kv_dir, aurum_kv::Options::default())?;
    let notes = log_recovery_notes(&log);
    let mut report = audit_offline_with(&JournalReader::new(log), &db, from)?;
    report.notes = notes;
    Ok(report)
}

/// [`audit_offline`] of a journal in any backend, with the node's KV store (its key, anchor and
/// snapshots) already open.
pub fn audit_offline_with(
    reader: &JournalReader,
    db: &Db,
    from: AuditFrom,
) -> Result<crate::audit::AuditReport, EngineError> {
    let key = NodeKey::load_or_create(db)?;
    let public_key = key.public_key();
    let config = crate::audit::AuditConfig {
        public_key,
        start: audit_start(db, &public_key, from)?,
        live: None,
        expected_head: read_anchor(db, &public_key)?,
        invariants_every_blocks: AUDIT_FULL_CHECK_EVERY_BLOCKS,
    };
    crate::audit::audit(reader, config).map_err(|e| EngineError::Recovery { seq: 0, reason: e.to_string() })
}
