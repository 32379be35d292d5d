//! The chain indexer: backfills the logs of a set of contracts in chunks of blocks, then follows the head;
//! keeps the hashes of unfinalized blocks, detects reorgs by parent-hash checks, rolls back and re-ingests; and
//! treats logs as final only `confirmations` blocks below the head. Its cursor lives in the KV store, written in the
//! same atomic batch as the logs it covers, so a restart resumes exactly where the last step ended.
//!
//! Two regimes (docs/indexer.md):
//! - **Backfill** (nothing unfinalized is held and final blocks are missing): `eth_getLogs` over a chunk of up to
//!   `chunk_blocks` final blocks; the chunk's last block hash becomes the finalized hash. A node that refuses a
//!   range (too many results) gets half the range, down to one block.
//! - **Tip** (within `confirmations` of the head): block by block — header, parent-hash check against the block
//!   before, then `eth_getLogs` by block hash (exactly that block's logs, whatever happens to the chain meanwhile).
//!   Each step first re-reads the header of the highest block held; a different hash means a reorg: walk down to
//!   the fork point, delete the rolled-back blocks' logs, and re-ingest from there. A reorg that reaches below the
//!   finalized block is reported as [`IndexerError::ReorgBeyondFinality`], never silently absorbed.
//!
//! Consumers read final logs only (`read_final_logs`), so nothing they act on can be rolled back.

pub mod store;

use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::Filter;
use aurum_kv::{Db, WriteBatch};
use tokio::sync::watch;

pub use store::{BlockRecord, Cursor, StoredLog};

/// Most blocks one `eth_getLogs` call may span.
pub const MAX_CHUNK_BLOCKS: u64 = 100_000;
/// Most bytes of logs written to the KV store in one batch (a chunk with more is written in several, the cursor
/// last); well under the store's `MAX_BATCH_BYTES`.
pub const MAX_WRITE_BYTES: usize = 8 << 20;
/// Most backfill chunks one step fetches (pipelined: one fetch in flight while the previous chunk is written).
pub const MAX_BACKFILL_CHUNKS_PER_STEP: u64 = 16;
/// Most unfinalized blocks ingested in one step (so a step stays short and reorg checks stay frequent).
pub const MAX_TIP_BLOCKS_PER_STEP: u64 = 64;
/// Most consecutive failed steps [`Indexer::follow`] retries (with backoff) before giving up.
pub const MAX_CONSECUTIVE_FAILURES: u32 = 10;
/// Longest wait between retries of a failed step.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// Everything that can go wrong indexing.
#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    /// The JSON-RPC endpoint failed or refused a request.
    #[error("json-rpc: {0}")]
    Rpc(#[from] alloy::transports::TransportError),
    /// The node answered something a conforming node never does.
    #[error("node answered inconsistently: {0}")]
    Node(String),
    /// The KV store failed.
    #[error("kv store: {0}")]
    Kv(#[from] aurum_kv::Error),
    /// Stored indexer state failed a check.
    #[error("corrupt indexer state: {0}")]
    Corrupt(String),
    /// The configuration is unusable.
    #[error("invalid indexer configuration: {0}")]
    Config(String),
    /// The chain changed at or below a block the indexer had treated as final: the confirmation depth was too
    /// shallow for this chain. Final data (and everything derived from it) may be wrong; an operator must decide.
    #[error(
        "reorg below finality: block {block} was final with hash {stored} but the chain now has {canonical}; \
         raise the confirmation depth (currently {confirmations}) and re-index"
    )]
    ReorgBeyondFinality {
        /// The final block that changed.
        block: u64,
        /// Its hash as indexed.
        stored: B256,
        /// Its hash on the chain now (zero if the chain no longer reaches it).
        canonical: B256,
        /// The configured confirmation depth.
        confirmations: u64,
    },
}

/// What to index and how.
#[derive(Debug, Clone)]
pub struct IndexerConfig {
    /// Contracts whose logs are indexed.
    pub addresses: Vec<Address>,
    /// First block to index (e.g. the deployment block).
    pub start_block: u64,
    /// Blocks below the head before a block's logs are final (0 trusts the head).
    pub confirmations: u64,
    /// Blocks per backfill `eth_getLogs` call (1..=[`MAX_CHUNK_BLOCKS`]).
    pub chunk_blocks: u64,
    /// How often [`Indexer::follow`] polls for a new head once caught up.
    pub poll_interval: Duration,
}

impl IndexerConfig {
    /// A configuration for `addresses` from `start_block`, with 12 confirmations, 2 000-block chunks, 1 s polls.
    pub fn new(addresses: Vec<Address>, start_block: u64) -> Self {
        Self { addresses, start_block, confirmations: 12, chunk_blocks: 2_000, poll_interval: Duration::from_secs(1) }
    }

    fn validate(&self) -> Result<(), IndexerError> {
        if self.addresses.is_empty() {
            return Err(IndexerError::Config("no contract addresses to index".into()));
        }
        if !(1..=MAX_CHUNK_BLOCKS).contains(&self.chunk_blocks) {
            return Err(IndexerError::Config(format!(
                "chunk_blocks is {}, must be in 1..={MAX_CHUNK_BLOCKS}",
                self.chunk_blocks
            )));
        }
        if self.start_block == 0 {
            // Block 0 is the genesis; it has no parent and no contract logs. Starting at 1 keeps `start - 1` defined.
            return Err(IndexerError::Config("start_block must be at least 1".into()));
        }
        Ok(())
    }
}

/// Where the indexer stands, published after every step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// The chain head seen by the last step.
    pub head: u64,
    /// Highest block indexed.
    pub tip: u64,
    /// Highest block whose logs are final.
    pub finalized: u64,
}

/// What one step (or a sequence of steps) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StepReport {
    /// The chain head seen.
    pub head: u64,
    /// Logs stored (final or not).
    pub logs_ingested: u64,
    /// Blocks newly final.
    pub blocks_finalized: u64,
    /// Reorgs detected.
    pub reorgs: u64,
    /// Unfinalized blocks rolled back.
    pub blocks_rolled_back: u64,
    /// Logs deleted by rollbacks.
    pub logs_rolled_back: u64,
    /// Backfill ranges halved because the node refused them.
    pub chunks_split: u64,
    /// Everything up to the head is indexed and everything up to `head - confirmations` is final.
    pub caught_up: bool,
}

impl StepReport {
    fn add(&mut self, other: &StepReport) {
        self.head = other.head;
        self.logs_ingested += other.logs_ingested;
        self.blocks_finalized += other.blocks_finalized;
        self.reorgs += other.reorgs;
        self.blocks_rolled_back += other.blocks_rolled_back;
        self.logs_rolled_back += other.logs_rolled_back;
        self.chunks_split += other.chunks_split;
        self.caught_up = other.caught_up;
    }
}

/// The indexer of one chain. Single owner: one `Indexer` per (store, chain id) at a time.
pub struct Indexer {
    provider: DynProvider,
    db: Db,
    chain_id: u64,
    config: IndexerConfig,
    cursor: Cursor,
    /// The current backfill chunk size: halved when the node refuses a range, grown back after successes.
    chunk: u64,
    progress: watch::Sender<Progress>,
}

impl std::fmt::Debug for Indexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Indexer").field("chain_id", &self.chain_id).field("cursor", &self.cursor).finish()
    }
}

impl Indexer {
    /// Opens the indexer over `db` for the chain behind `provider`, resuming from the stored cursor if there is one.
    pub async fn open(provider: DynProvider, db: Db, config: IndexerConfig) -> Result<Indexer, IndexerError> {
        config.validate()?;
        let chain_id = provider.get_chain_id().await?;
        let cursor = match store::read_cursor(&db, chain_id)? {
            Some(cursor) => cursor,
            None => {
                let before = config.start_block - 1;
                Cursor { finalized: before, finalized_hash: B256::ZERO, tip: before, tip_hash: B256::ZERO }
            }
        };
        let progress = watch::Sender::new(Progress { head: 0, tip: cursor.tip, finalized: cursor.finalized });
        Ok(Indexer { provider, db, chain_id, chunk: config.chunk_blocks, config, cursor, progress })
    }

    /// The chain id of the endpoint.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The current cursor.
    pub fn cursor(&self) -> Cursor {
        self.cursor
    }

    /// The configuration.
    pub fn config(&self) -> &IndexerConfig {
        &self.config
    }

    /// A receiver of the progress published after every step.
    pub fn subscribe(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    /// Steps until caught up with the head; returns the sum of the steps' reports.
    pub async fn catch_up(&mut self) -> Result<StepReport, IndexerError> {
        let mut total = StepReport::default();
        loop {
            let report = self.step().await?;
            total.add(&report);
            if report.caught_up {
                return Ok(total);
            }
        }
    }

    /// Follows the head until `shutdown` becomes true: steps, and once caught up waits `poll_interval` (or the
    /// shutdown signal). A failed step is retried with exponential backoff, up to [`MAX_CONSECUTIVE_FAILURES`] in a
    /// row; errors that retrying cannot fix (a reorg below finality, corrupt state, a KV failure) end at once.
    pub async fn follow(&mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), IndexerError> {
        let mut failures = 0u32;
        // The foundations' backoff: base · 2^(retry−1), capped, with jitter seeded by the chain id (deterministic
        // per chain; indexers of different chains do not retry in lockstep).
        let base_ms = u64::try_from(self.config.poll_interval.as_millis()).unwrap_or(u64::MAX).max(1);
        let max_ms = u64::try_from(MAX_RETRY_DELAY.as_millis()).unwrap_or(u64::MAX);
        let policy = aurum_ingest::RetryPolicy {
            base_ms: base_ms.min(max_ms),
            max_delay_ms: max_ms,
            max_attempts: MAX_CONSECUTIVE_FAILURES,
            jitter_percent: 25,
            seed: None,
        };
        let mut backoff = aurum_ingest::Backoff::new(policy, self.chain_id);
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let wait = match self.step().await {
                Ok(report) => {
                    failures = 0;
                    if report.caught_up { Some(self.config.poll_interval) } else { None }
                }
                Err(e @ (IndexerError::Rpc(_) | IndexerError::Node(_))) => {
                    failures += 1;
                    if failures >= MAX_CONSECUTIVE_FAILURES {
                        return Err(e);
                    }
                    Some(backoff.delay(failures))
                }
                Err(e) => return Err(e),
            };
            if let Some(wait) = wait {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }

    /// One step: check the held tip for a reorg, then backfill one chunk of final blocks or ingest up to
    /// [`MAX_TIP_BLOCKS_PER_STEP`] unfinalized blocks, then promote blocks that reached the confirmation depth.
    pub async fn step(&mut self) -> Result<StepReport, IndexerError> {
        let head = self.provider.get_block_number().await?;
        let mut report = StepReport { head, ..StepReport::default() };
        self.check_for_reorg(&mut report).await?;

        let final_line = head.saturating_sub(self.config.confirmations);
        let c = self.cursor;
        if c.tip == c.finalized && c.finalized < final_line {
            self.backfill(final_line, &mut report).await?;
        } else if c.tip < head {
            let last = head.min(c.tip + MAX_TIP_BLOCKS_PER_STEP);
            for number in c.tip + 1..=last {
                if !self.ingest_tip_block(number, &mut report).await? {
                    break; // the chain moved under us; the next step's reorg check sorts it out
                }
            }
        }
        self.promote(final_line, &mut report)?;

        let c = self.cursor;
        report.caught_up = c.tip >= head && c.finalized >= final_line.min(c.tip);
        self.progress.send_replace(Progress { head, tip: c.tip, finalized: c.finalized });
        Ok(report)
    }

    /// Re-reads the header of the highest block held; on a different hash, rolls back to the fork point.
    async fn check_for_reorg(&mut self, report: &mut StepReport) -> Result<(), IndexerError> {
        let c = self.cursor;
        if c.tip_hash == B256::ZERO {
            return Ok(()); // nothing indexed yet
        }
        if self.canonical_hash(c.tip).await? == Some(c.tip_hash) {
            return Ok(());
        }
        // Walk down the unfinalized blocks to the highest one the chain still has.
        let mut fork = None;
        for number in (c.finalized + 1..=c.tip).rev() {
            let held = store::read_block(&self.db, self.chain_id, number)?
                .ok_or_else(|| IndexerError::Corrupt(format!("no record of unfinalized block {number}")))?;
            if self.canonical_hash(number).await? == Some(held.hash) {
                fork = Some((number, held.hash));
                break;
            }
        }
        let (fork, fork_hash) = match fork {
            Some(found) => found,
            None => {
                let canonical = self.canonical_hash(c.finalized).await?;
                if c.finalized_hash != B256::ZERO && canonical != Some(c.finalized_hash) {
                    return Err(IndexerError::ReorgBeyondFinality {
                        block: c.finalized,
                        stored: c.finalized_hash,
                        canonical: canonical.unwrap_or_default(),
                        confirmations: self.config.confirmations,
                    });
                }
                (c.finalized, c.finalized_hash)
            }
        };
        let mut batch = WriteBatch::new();
        let mut logs = 0u64;
        for item in self.db.range(store::log_key_from_block(self.chain_id, fork + 1)..log_range_end(self.chain_id))? {
            let (key, _) = item?;
            batch.delete(&key);
            logs += 1;
        }
        for number in fork + 1..=c.tip {
            batch.delete(&store::block_key(self.chain_id, number));
        }
        let cursor = Cursor { tip: fork, tip_hash: fork_hash, ..c };
        batch.put(&store::cursor_key(self.chain_id), &cursor.encode());
        self.db.write(batch)?;
        self.cursor = cursor;
        report.reorgs += 1;
        report.blocks_rolled_back += c.tip - fork;
        report.logs_rolled_back += logs;
        Ok(())
    }

    /// Backfills final blocks from the cursor towards `final_line`: up to [`MAX_BACKFILL_CHUNKS_PER_STEP`] chunks,
    /// pipelined — the next chunk's `eth_getLogs` is in flight while the current chunk is written — so the store's
    /// cost hides behind the node's.
    async fn backfill(&mut self, final_line: u64, report: &mut StepReport) -> Result<(), IndexerError> {
        let mut from = self.cursor.finalized + 1;
        debug_assert!(from <= final_line);
        let mut in_flight = self.spawn_fetch(from, final_line.min(from + self.chunk - 1));
        for chunk_number in 1..=MAX_BACKFILL_CHUNKS_PER_STEP {
            let fetched = in_flight.await.map_err(|e| IndexerError::Node(format!("backfill task failed: {e}")))??;
            report.chunks_split += fetched.splits;
            // Grow back towards the configured chunk after a success; stay at the split size otherwise.
            self.chunk = if fetched.splits > 0 {
                fetched.to - fetched.from + 1
            } else {
                (self.chunk * 2).min(self.config.chunk_blocks)
            };
            from = fetched.to + 1;
            let next = (from <= final_line && chunk_number < MAX_BACKFILL_CHUNKS_PER_STEP)
                .then(|| self.spawn_fetch(from, final_line.min(from + self.chunk - 1)));
            let stored = self.store_final_chunk(fetched, report).await;
            match (stored, next) {
                (Err(e), Some(next)) => {
                    next.abort();
                    return Err(e);
                }
                (Err(e), None) => return Err(e),
                (Ok(()), Some(next)) => in_flight = next,
                (Ok(()), None) => break,
            }
        }
        Ok(())
    }

    /// Starts fetching the logs of final blocks `from ..= to` (and the header of the last block fetched).
    fn spawn_fetch(&self, from: u64, to: u64) -> tokio::task::JoinHandle<Result<FetchedChunk, IndexerError>> {
        tokio::spawn(fetch_final_chunk(
            self.provider.clone(),
            self.config.addresses.clone(),
            from,
            to,
            self.config.confirmations,
        ))
    }

    /// Writes a fetched chunk (logs in bounded batches, the cursor last) on a blocking thread, then advances.
    async fn store_final_chunk(&mut self, chunk: FetchedChunk, report: &mut StepReport) -> Result<(), IndexerError> {
        debug_assert_eq!(chunk.from, self.cursor.finalized + 1);
        let cursor = Cursor { finalized: chunk.to, finalized_hash: chunk.hash, tip: chunk.to, tip_hash: chunk.hash };
        let (db, chain_id) = (self.db.clone(), self.chain_id);
        let logs = chunk.logs.len() as u64;
        tokio::task::spawn_blocking(move || -> Result<(), IndexerError> {
            // A crash between batches leaves logs above the cursor, which readers never see and the retry overwrites
            // with identical values (same keys, same final blocks).
            let mut batch = WriteBatch::new();
            for log in &chunk.logs {
                store::put_log(&mut batch, chain_id, log);
                if batch.encoded_bytes() >= MAX_WRITE_BYTES {
                    db.write(std::mem::take(&mut batch))?;
                }
            }
            batch.put(&store::cursor_key(chain_id), &cursor.encode());
            db.write(batch)?;
            Ok(())
        })
        .await
        .map_err(|e| IndexerError::Corrupt(format!("store task failed: {e}")))??;
        self.cursor = cursor;
        report.logs_ingested += logs;
        report.blocks_finalized += chunk.to - chunk.from + 1;
        Ok(())
    }

    /// Ingests unfinalized block `number`: header, parent-hash check, its logs by block hash. Returns false (and
    /// stores nothing) when the chain no longer extends the held tip.
    async fn ingest_tip_block(&mut self, number: u64, report: &mut StepReport) -> Result<bool, IndexerError> {
        let c = self.cursor;
        debug_assert_eq!(number, c.tip + 1);
        let Some(header) = self.header(number).await? else { return Ok(false) };
        if c.tip_hash != B256::ZERO && header.parent_hash != c.tip_hash {
            return Ok(false);
        }
        let filter = Filter::new().address(self.config.addresses.clone()).at_block_hash(header.hash);
        let logs = match self.provider.get_logs(&filter).await {
            Ok(logs) => logs,
            // The block was replaced between the header and the logs call: the node no longer knows the hash.
            Err(_) if self.canonical_hash(number).await? != Some(header.hash) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let mut batch = WriteBatch::new();
        for log in &logs {
            let log = StoredLog::from_rpc(log)?;
            if log.block_hash != header.hash || log.block_number != number {
                return Err(IndexerError::Node(format!(
                    "eth_getLogs by hash {} returned a log of block {} ({})",
                    header.hash, log.block_number, log.block_hash
                )));
            }
            store::put_log(&mut batch, self.chain_id, &log);
        }
        batch.put(&store::block_key(self.chain_id, number), &header.encode());
        let cursor = Cursor { tip: number, tip_hash: header.hash, ..c };
        batch.put(&store::cursor_key(self.chain_id), &cursor.encode());
        self.db.write(batch)?;
        self.cursor = cursor;
        report.logs_ingested += logs.len() as u64;
        Ok(true)
    }

    /// Marks held blocks up to `final_line` final and drops their block records (the cursor keeps the last hash).
    fn promote(&mut self, final_line: u64, report: &mut StepReport) -> Result<(), IndexerError> {
        let c = self.cursor;
        let new_final = final_line.min(c.tip);
        if new_final <= c.finalized {
            return Ok(());
        }
        let finalized_hash = if new_final == c.tip {
            c.tip_hash
        } else {
            store::read_block(&self.db, self.chain_id, new_final)?
                .ok_or_else(|| IndexerError::Corrupt(format!("no record of unfinalized block {new_final}")))?
                .hash
        };
        let mut batch = WriteBatch::new();
        for number in c.finalized + 1..=new_final {
            batch.delete(&store::block_key(self.chain_id, number));
        }
        let cursor = Cursor { finalized: new_final, finalized_hash, ..c };
        batch.put(&store::cursor_key(self.chain_id), &cursor.encode());
        self.db.write(batch)?;
        self.cursor = cursor;
        report.blocks_finalized += new_final - c.finalized;
        Ok(())
    }

    async fn header(&self, number: u64) -> Result<Option<BlockRecord>, IndexerError> {
        fetch_header(&self.provider, number).await
    }

    async fn canonical_hash(&self, number: u64) -> Result<Option<B256>, IndexerError> {
        Ok(self.header(number).await?.map(|h| h.hash))
    }
}

/// The logs of a range of final blocks, fetched and checked, ready to store.
struct FetchedChunk {
    from: u64,
    /// Last block covered (below the requested end if the node refused the range and it was split).
    to: u64,
    /// Hash of block `to`.
    hash: B256,
    logs: Vec<StoredLog>,
    /// Times the range was halved.
    splits: u64,
}

/// Fetches the logs of final blocks `from ..= to` (halving the range while the node refuses it) and the header of
/// the last block covered, and checks that they agree.
async fn fetch_final_chunk(
    provider: DynProvider,
    addresses: Vec<Address>,
    from: u64,
    to: u64,
    confirmations: u64,
) -> Result<FetchedChunk, IndexerError> {
    debug_assert!(from <= to);
    let mut to = to;
    let mut splits = 0;
    let logs = loop {
        let filter = Filter::new().address(addresses.clone()).from_block(from).to_block(to);
        match provider.get_logs(&filter).await {
            Ok(logs) => break logs,
            // Providers cap results per call ("query returned more than 10000 results"): halve and retry.
            Err(_) if to > from => {
                to = from + (to - from).div_ceil(2) - 1;
                splits += 1;
            }
            Err(e) => return Err(e.into()),
        }
    };
    let header = fetch_header(&provider, to)
        .await?
        .ok_or_else(|| IndexerError::Node(format!("block {to} is below the head but the node has no header for it")))?;
    let mut stored = Vec::with_capacity(logs.len());
    for log in &logs {
        let log = StoredLog::from_rpc(log)?;
        if !(from..=to).contains(&log.block_number) {
            return Err(IndexerError::Node(format!(
                "eth_getLogs for blocks {from}..={to} returned a log of block {}",
                log.block_number
            )));
        }
        if log.block_number == to && log.block_hash != header.hash {
            return Err(IndexerError::ReorgBeyondFinality {
                block: to,
                stored: log.block_hash,
                canonical: header.hash,
                confirmations,
            });
        }
        stored.push(log);
    }
    Ok(FetchedChunk { from, to, hash: header.hash, logs: stored, splits })
}

/// The header of block `number` as a [`BlockRecord`], or `None` if the chain does not reach it.
async fn fetch_header(provider: &DynProvider, number: u64) -> Result<Option<BlockRecord>, IndexerError> {
    let Some(block) = provider.get_block_by_number(BlockNumberOrTag::Number(number)).await? else {
        return Ok(None);
    };
    let h = &block.header;
    if h.number != number {
        return Err(IndexerError::Node(format!("asked for block {number}, got block {}", h.number)));
    }
    Ok(Some(BlockRecord { number, hash: h.hash, parent_hash: h.parent_hash, timestamp: h.timestamp }))
}

/// The first key after every log key of `chain_id`.
fn log_range_end(chain_id: u64) -> Vec<u8> {
    let mut end = store::log_prefix(chain_id);
    end.push(0xff);
    end
}

/// Reads the final logs of `chain_id` after position `after` (block, log index; `None` = from the start), in
/// chain order, at most `limit`. Only final logs: nothing returned can be rolled back.
pub fn read_final_logs(
    db: &Db,
    chain_id: u64,
    after: Option<(u64, u64)>,
    limit: usize,
) -> Result<Vec<StoredLog>, IndexerError> {
    let Some(cursor) = store::read_cursor(db, chain_id)? else { return Ok(Vec::new()) };
    let start = match after {
        Some((block, index)) => match index.checked_add(1) {
            Some(next) => store::log_key(chain_id, block, next),
            None => store::log_key_from_block(chain_id, block + 1),
        },
        None => store::log_prefix(chain_id),
    };
    let end = store::log_key_from_block(chain_id, cursor.finalized + 1);
    let mut out = Vec::new();
    if start >= end {
        return Ok(out);
    }
    for item in db.range(start..end)? {
        if out.len() == limit {
            break;
        }
        let (_, v) = item?;
        out.push(StoredLog::decode(&v)?);
    }
    Ok(out)
}

/// Reads every stored log of `chain_id` (final and unfinalized), in chain order, at most `limit`.
pub fn read_all_logs(db: &Db, chain_id: u64, limit: usize) -> Result<Vec<StoredLog>, IndexerError> {
    store::read_logs(db, chain_id, 0, u64::MAX, limit)
}
