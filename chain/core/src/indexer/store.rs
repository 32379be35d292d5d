//! The indexer's durable state in the KV store: the cursor, the block hashes it keeps, and the raw logs.
//!
//! Every key starts with `chain/<chain id as 16 hex digits>/`, so several chains share one store. Logs are keyed by
//! (block number, log index) in big-endian so a scan returns them in chain order; each stored log carries its block
//! hash, and `(chain id, block hash, log index)` is its identity. Everything the indexer changes in one step (logs,
//! block records, cursor) goes into one atomic `WriteBatch`, so a crash leaves either the old or the new state.
//! See docs/indexer.md for the layout.

use alloy::primitives::{Address, B256, Bytes};
use aurum_kv::{Db, WriteBatch};

use super::IndexerError;

/// Format version of every value written here; a different version is refused, not misread.
const VERSION: u8 = 1;
/// Most topics an EVM log can have.
const MAX_TOPICS: usize = 4;

/// Where the indexer stands. Invariant: `finalized <= tip`; blocks `finalized+1 ..= tip` are unfinalized and each
/// has a [`BlockRecord`]; logs of blocks `<= finalized` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Highest block whose logs are final (`start_block - 1` before the first block is indexed).
    pub finalized: u64,
    /// Hash of block `finalized` (zero when not known: before the first block).
    pub finalized_hash: B256,
    /// Highest block indexed (final or not).
    pub tip: u64,
    /// Hash of block `tip`.
    pub tip_hash: B256,
}

/// A block the indexer has seen: its hash and parent hash, for the parent-hash check that detects reorgs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRecord {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Parent block hash.
    pub parent_hash: B256,
    /// Block timestamp (Unix seconds).
    pub timestamp: u64,
}

/// One event log as indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLog {
    /// Block number.
    pub block_number: u64,
    /// Hash of the block that holds it.
    pub block_hash: B256,
    /// Block timestamp (Unix seconds; 0 if the node did not report it).
    pub block_timestamp: u64,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Position of the transaction in its block.
    pub tx_index: u64,
    /// Position of the log in its block.
    pub log_index: u64,
    /// The emitting contract.
    pub address: Address,
    /// Topics (the event signature first, for non-anonymous events).
    pub topics: Vec<B256>,
    /// ABI-encoded non-indexed fields.
    pub data: Bytes,
}

/// Key prefix of everything about `chain_id`.
pub fn chain_prefix(chain_id: u64) -> Vec<u8> {
    format!("chain/{chain_id:016x}/").into_bytes()
}

fn key(chain_id: u64, kind: &str, suffix: &[u8]) -> Vec<u8> {
    let mut k = chain_prefix(chain_id);
    k.extend_from_slice(kind.as_bytes());
    k.extend_from_slice(suffix);
    k
}

/// Key of the indexer's cursor.
pub fn cursor_key(chain_id: u64) -> Vec<u8> {
    key(chain_id, "cursor", b"")
}

/// Prefix of the block records.
pub fn block_prefix(chain_id: u64) -> Vec<u8> {
    key(chain_id, "block/", b"")
}

/// Key of block `number`'s record.
pub fn block_key(chain_id: u64, number: u64) -> Vec<u8> {
    key(chain_id, "block/", &number.to_be_bytes())
}

/// Prefix of the logs.
pub fn log_prefix(chain_id: u64) -> Vec<u8> {
    key(chain_id, "log/", b"")
}

/// Key of a log: block number and log index, big-endian, so keys sort in chain order.
pub fn log_key(chain_id: u64, block_number: u64, log_index: u64) -> Vec<u8> {
    let mut suffix = [0u8; 16];
    suffix[..8].copy_from_slice(&block_number.to_be_bytes());
    suffix[8..].copy_from_slice(&log_index.to_be_bytes());
    key(chain_id, "log/", &suffix)
}

/// The first log key of block `number` (logs of blocks `>= number` sort at or after it).
pub fn log_key_from_block(chain_id: u64, number: u64) -> Vec<u8> {
    key(chain_id, "log/", &number.to_be_bytes())
}

impl Cursor {
    /// Encodes the cursor.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(1 + 8 + 32 + 8 + 32);
        v.push(VERSION);
        v.extend_from_slice(&self.finalized.to_be_bytes());
        v.extend_from_slice(self.finalized_hash.as_slice());
        v.extend_from_slice(&self.tip.to_be_bytes());
        v.extend_from_slice(self.tip_hash.as_slice());
        v
    }

    /// Decodes a cursor written by [`Cursor::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Cursor, IndexerError> {
        let mut r = Reader::new(bytes, "cursor")?;
        let cursor = Cursor { finalized: r.u64()?, finalized_hash: r.b256()?, tip: r.u64()?, tip_hash: r.b256()? };
        r.end()?;
        if cursor.finalized > cursor.tip {
            return Err(IndexerError::Corrupt(format!(
                "cursor has finalized {} above tip {}",
                cursor.finalized, cursor.tip
            )));
        }
        Ok(cursor)
    }
}

impl BlockRecord {
    /// Encodes the record (the number is in the key).
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(1 + 8 + 32 + 32 + 8);
        v.push(VERSION);
        v.extend_from_slice(&self.number.to_be_bytes());
        v.extend_from_slice(self.hash.as_slice());
        v.extend_from_slice(self.parent_hash.as_slice());
        v.extend_from_slice(&self.timestamp.to_be_bytes());
        v
    }

    /// Decodes a record written by [`BlockRecord::encode`].
    pub fn decode(bytes: &[u8]) -> Result<BlockRecord, IndexerError> {
        let mut r = Reader::new(bytes, "block record")?;
        let rec = BlockRecord { number: r.u64()?, hash: r.b256()?, parent_hash: r.b256()?, timestamp: r.u64()? };
        r.end()?;
        Ok(rec)
    }
}

impl StoredLog {
    /// Encodes the log (block number and log index are also in the key; kept here so a value stands alone).
    pub fn encode(&self) -> Vec<u8> {
        let mut v =
            Vec::with_capacity(1 + 8 + 32 + 8 + 32 + 8 + 8 + 20 + 1 + 32 * self.topics.len() + 4 + self.data.len());
        v.push(VERSION);
        v.extend_from_slice(&self.block_number.to_be_bytes());
        v.extend_from_slice(self.block_hash.as_slice());
        v.extend_from_slice(&self.block_timestamp.to_be_bytes());
        v.extend_from_slice(self.tx_hash.as_slice());
        v.extend_from_slice(&self.tx_index.to_be_bytes());
        v.extend_from_slice(&self.log_index.to_be_bytes());
        v.extend_from_slice(self.address.as_slice());
        debug_assert!(self.topics.len() <= MAX_TOPICS);
        v.push(self.topics.len() as u8);
        for t in &self.topics {
            v.extend_from_slice(t.as_slice());
        }
        v.extend_from_slice(&(self.data.len() as u32).to_be_bytes());
        v.extend_from_slice(&self.data);
        v
    }

    /// Decodes a log written by [`StoredLog::encode`].
    pub fn decode(bytes: &[u8]) -> Result<StoredLog, IndexerError> {
        let mut r = Reader::new(bytes, "log")?;
        let block_number = r.u64()?;
        let block_hash = r.b256()?;
        let block_timestamp = r.u64()?;
        let tx_hash = r.b256()?;
        let tx_index = r.u64()?;
        let log_index = r.u64()?;
        let address = Address::from_slice(r.take(20)?);
        let n = r.take(1)?[0] as usize;
        if n > MAX_TOPICS {
            return Err(IndexerError::Corrupt(format!("log has {n} topics (at most {MAX_TOPICS})")));
        }
        let topics = (0..n).map(|_| r.b256()).collect::<Result<Vec<_>, _>>()?;
        let len = u32::from_be_bytes(r.take(4)?.try_into().expect("4 bytes")) as usize;
        let data = Bytes::copy_from_slice(r.take(len)?);
        r.end()?;
        Ok(StoredLog { block_number, block_hash, block_timestamp, tx_hash, tx_index, log_index, address, topics, data })
    }

    /// Converts a log returned by the node; fails if the node left out a field a mined log must have.
    pub fn from_rpc(log: &alloy::rpc::types::Log) -> Result<StoredLog, IndexerError> {
        let missing = |field: &str| IndexerError::Node(format!("eth_getLogs returned a log without {field}: {log:?}"));
        let topics = log.inner.data.topics().to_vec();
        if topics.len() > MAX_TOPICS {
            return Err(IndexerError::Node(format!("log with {} topics", topics.len())));
        }
        Ok(StoredLog {
            block_number: log.block_number.ok_or_else(|| missing("blockNumber"))?,
            block_hash: log.block_hash.ok_or_else(|| missing("blockHash"))?,
            block_timestamp: log.block_timestamp.unwrap_or(0),
            tx_hash: log.transaction_hash.ok_or_else(|| missing("transactionHash"))?,
            tx_index: log.transaction_index.ok_or_else(|| missing("transactionIndex"))?,
            log_index: log.log_index.ok_or_else(|| missing("logIndex"))?,
            address: log.inner.address,
            topics,
            data: log.inner.data.data.clone(),
        })
    }
}

/// Reads the cursor of `chain_id`, if the indexer ever ran.
pub fn read_cursor(db: &Db, chain_id: u64) -> Result<Option<Cursor>, IndexerError> {
    db.get(&cursor_key(chain_id))?.map(|v| Cursor::decode(&v)).transpose()
}

/// Reads the record of block `number`, if kept.
pub fn read_block(db: &Db, chain_id: u64, number: u64) -> Result<Option<BlockRecord>, IndexerError> {
    db.get(&block_key(chain_id, number))?.map(|v| BlockRecord::decode(&v)).transpose()
}

/// Reads the logs of blocks `from ..= to`, in chain order, at most `limit` of them.
pub fn read_logs(db: &Db, chain_id: u64, from: u64, to: u64, limit: usize) -> Result<Vec<StoredLog>, IndexerError> {
    let start = log_key_from_block(chain_id, from);
    let end = match to.checked_add(1) {
        Some(next) => log_key_from_block(chain_id, next),
        None => {
            let mut e = log_prefix(chain_id);
            e.push(0xff);
            e
        }
    };
    let mut out = Vec::new();
    for item in db.range(start..end)? {
        if out.len() == limit {
            break;
        }
        let (_, v) = item?;
        out.push(StoredLog::decode(&v)?);
    }
    Ok(out)
}

/// Adds `log` to `batch`.
pub fn put_log(batch: &mut WriteBatch, chain_id: u64, log: &StoredLog) {
    batch.put(&log_key(chain_id, log.block_number, log.log_index), &log.encode());
}

/// A bounds-checked reader over a stored value.
struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], what: &'static str) -> Result<Self, IndexerError> {
        match bytes.split_first() {
            Some((&VERSION, rest)) => Ok(Reader { bytes: rest, what }),
            Some((v, _)) => Err(IndexerError::Corrupt(format!("{what} has format version {v}, expected {VERSION}"))),
            None => Err(IndexerError::Corrupt(format!("{what} is empty"))),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], IndexerError> {
        if self.bytes.len() < n {
            return Err(IndexerError::Corrupt(format!("{} is truncated", self.what)));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u64(&mut self) -> Result<u64, IndexerError> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn b256(&mut self) -> Result<B256, IndexerError> {
        Ok(B256::from_slice(self.take(32)?))
    }

    fn end(&self) -> Result<(), IndexerError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(IndexerError::Corrupt(format!("{} has {} trailing bytes", self.what, self.bytes.len())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_log() -> StoredLog {
        StoredLog {
            block_number: 42,
            block_hash: B256::repeat_byte(1),
            block_timestamp: 1_700_000_000,
            tx_hash: B256::repeat_byte(2),
            tx_index: 3,
            log_index: 7,
            address: Address::repeat_byte(9),
            topics: vec![B256::repeat_byte(4), B256::repeat_byte(5)],
            data: Bytes::from_static(&[1, 2, 3]),
        }
    }

    #[test]
    fn values_round_trip() {
        let log = sample_log();
        assert_eq!(StoredLog::decode(&log.encode()).unwrap(), log);
        let cursor =
            Cursor { finalized: 5, finalized_hash: B256::repeat_byte(1), tip: 9, tip_hash: B256::repeat_byte(2) };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        let block =
            BlockRecord { number: 9, hash: B256::repeat_byte(3), parent_hash: B256::repeat_byte(4), timestamp: 77 };
        assert_eq!(BlockRecord::decode(&block.encode()).unwrap(), block);
    }

    #[test]
    fn damaged_values_are_refused_with_a_reason() {
        let bytes = sample_log().encode();
        for cut in 0..bytes.len() {
            assert!(StoredLog::decode(&bytes[..cut]).is_err(), "prefix of {cut} bytes decoded");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(StoredLog::decode(&extra).unwrap_err().to_string().contains("trailing"));
        let mut version = bytes;
        version[0] = 9;
        assert!(StoredLog::decode(&version).unwrap_err().to_string().contains("version 9"));
        let bad = Cursor { finalized: 10, finalized_hash: B256::ZERO, tip: 9, tip_hash: B256::ZERO };
        assert!(Cursor::decode(&bad.encode()).unwrap_err().to_string().contains("above tip"));
    }

    #[test]
    fn log_keys_sort_in_chain_order() {
        let a = log_key(1, 9, 300);
        let b = log_key(1, 10, 0);
        let c = log_key(1, 10, 1);
        assert!(a < b && b < c);
        assert!(log_key_from_block(1, 10) <= b);
        assert!(log_key_from_block(1, 10) > a);
    }
}
