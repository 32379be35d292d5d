//! Byte-level encodings of every on-disk structure: WAL records, SSTable blocks (data, index,
//! bloom), the SSTable footer and the manifest. docs/kv-format.md describes them for outsiders.
//!
//! The decoders here are public so that they can be fuzzed. They take untrusted bytes and must
//! return `Err` — never panic, never allocate more than a small multiple of their input — on any
//! input. Every length is checked against the bytes that remain before it is used, every sum is
//! checked, and no `Vec` is pre-sized from a count read off the disk.
//!
//! All integers are little-endian. All checksums are CRC32C (Castagnoli).

use std::fmt;

use crate::{MAX_BATCH_BYTES, MAX_BATCH_OPS, MAX_KEY_BYTES, MAX_VALUE_BYTES};

/// Bytes before a WAL record's payload: `len: u32`, `crc: u32`.
pub const WAL_RECORD_HEADER_BYTES: usize = 8;
/// Bytes of a WAL record's payload header: `seq: u64`, `count: u32`.
const WAL_PAYLOAD_HEADER_BYTES: usize = 12;
/// Largest WAL payload a decoder accepts: a maximal batch plus its per-op framing.
pub const MAX_WAL_PAYLOAD_BYTES: usize = WAL_PAYLOAD_HEADER_BYTES + MAX_BATCH_BYTES;
/// Per-op framing in a WAL payload and in [`crate::WriteBatch`] size accounting: kind (1) +
/// key length (4) + value length (4).
pub const OP_OVERHEAD_BYTES: usize = 9;

/// Magic number at the end of every SSTable ("AURUMSST" read as a little-endian u64).
pub const TABLE_MAGIC: u64 = u64::from_le_bytes(*b"AURUMSST");
/// Magic number at the start of the manifest ("AURUMMAN" read as a little-endian u64).
pub const MANIFEST_MAGIC: u64 = u64::from_le_bytes(*b"AURUMMAN");
/// Version of the table and manifest formats described in docs/kv-format.md.
pub const FORMAT_VERSION: u32 = 1;
/// Size of the SSTable footer.
pub const FOOTER_BYTES: usize = 48;
/// Size of a block trailer: `count: u32`, `crc: u32`.
const BLOCK_TRAILER_BYTES: usize = 8;
/// Largest number of bloom probes per key a decoder accepts.
const MAX_BLOOM_PROBES: u8 = 30;
/// Largest table a decoder accepts (offsets are u64, but nothing we write comes close).
pub const MAX_TABLE_BYTES: u64 = 1 << 40;
/// Largest number of tables a manifest may list.
pub const MAX_MANIFEST_TABLES: usize = 1 << 16;

/// Entry kind byte: a tombstone.
pub const KIND_DELETE: u8 = 0;
/// Entry kind byte: a value.
pub const KIND_PUT: u8 = 1;

/// Why some bytes did not decode, and where (offset relative to the start of the decoded input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset of the problem within the input.
    pub offset: u64,
    /// What was wrong.
    pub reason: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for DecodeError {}

fn derr(offset: usize, reason: impl Into<String>) -> DecodeError {
    DecodeError { offset: offset as u64, reason: reason.into() }
}

/// One versioned entry: a user key, its sequence number, and a value or a tombstone (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The user key.
    pub key: Vec<u8>,
    /// The sequence number of the write that produced this version.
    pub seq: u64,
    /// The value, or `None` for a deletion.
    pub value: Option<Vec<u8>>,
}

/// One operation of a write batch: a put (`value: Some`) or a delete (`value: None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOp {
    /// The user key.
    pub key: Vec<u8>,
    /// The value to store, or `None` to delete the key.
    pub value: Option<Vec<u8>>,
}

/// A decoded WAL record: one write batch whose ops got sequence numbers `seq, seq + 1, ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalRecord {
    /// Sequence number of the first op.
    pub seq: u64,
    /// The batch's ops in order.
    pub ops: Vec<BatchOp>,
}

impl WalRecord {
    /// Sequence number of the last op (records are never empty).
    pub fn last_seq(&self) -> u64 {
        self.seq + self.ops.len() as u64 - 1
    }
}

/// A cursor over untrusted bytes; every read is bounds-checked.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(derr(self.pos, format!("{what}: needs {n} bytes, only {} remain", self.remaining())));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.bytes(1, what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &str) -> Result<u64, DecodeError> {
        let b = self.bytes(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A `u32` length prefix followed by that many bytes, at most `limit`.
    fn sized(&mut self, limit: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        let at = self.pos;
        let len = self.u32(what)? as usize;
        if len > limit {
            return Err(derr(at, format!("{what} length {len} exceeds the limit of {limit} bytes")));
        }
        self.bytes(len, what)
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Length as a u32 for encoding; callers enforce the named limits first, so overflow is a bug.
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).expect("length checked against a named limit before encoding")
}

// ---------------------------------------------------------------------------------------------
// WAL records
// ---------------------------------------------------------------------------------------------

/// Append one WAL record holding `ops` (sequence numbers from `seq`) to `out`.
pub fn encode_wal_record(seq: u64, ops: &[BatchOp], out: &mut Vec<u8>) {
    assert!(!ops.is_empty(), "a WAL record holds at least one op");
    let start = out.len();
    out.extend_from_slice(&[0u8; WAL_RECORD_HEADER_BYTES]);
    put_u64(out, seq);
    put_u32(out, len_u32(ops.len()));
    for op in ops {
        out.push(if op.value.is_some() { KIND_PUT } else { KIND_DELETE });
        put_u32(out, len_u32(op.key.len()));
        out.extend_from_slice(&op.key);
        if let Some(v) = &op.value {
            put_u32(out, len_u32(v.len()));
            out.extend_from_slice(v);
        }
    }
    let payload_len = len_u32(out.len() - start - WAL_RECORD_HEADER_BYTES);
    out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
    // The CRC covers the length too, so a garbled length is caught rather than trusted.
    let mut crc = crc32c::crc32c(&out[start..start + 4]);
    crc = crc32c::crc32c_append(crc, &out[start + WAL_RECORD_HEADER_BYTES..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Decode the WAL record at the start of `data`; returns it and the bytes it occupies.
pub fn decode_wal_record(data: &[u8]) -> Result<(WalRecord, usize), DecodeError> {
    let mut r = Reader::new(data);
    let len = r.u32("record length")? as usize;
    let crc = r.u32("record crc")?;
    if !(WAL_PAYLOAD_HEADER_BYTES..=MAX_WAL_PAYLOAD_BYTES).contains(&len) {
        return Err(derr(0, format!("record length {len} out of range")));
    }
    let payload = r.bytes(len, "record payload")?;
    let actual = crc32c::crc32c_append(crc32c::crc32c(&data[..4]), payload);
    if actual != crc {
        return Err(derr(4, format!("record crc mismatch: stored {crc:#010x}, computed {actual:#010x}")));
    }
    let mut p = Reader::new(payload);
    let seq = p.u64("record seq")?;
    let count = p.u32("op count")? as usize;
    if count == 0 || count > MAX_BATCH_OPS {
        return Err(derr(WAL_RECORD_HEADER_BYTES + 8, format!("op count {count} out of range")));
    }
    if seq == 0 || seq.checked_add(count as u64).is_none() {
        return Err(derr(WAL_RECORD_HEADER_BYTES, format!("sequence number {seq} out of range")));
    }
    let mut ops = Vec::new();
    for _ in 0..count {
        let at = WAL_RECORD_HEADER_BYTES + p.pos;
        let kind = p.u8("op kind")?;
        let key = p.sized(MAX_KEY_BYTES, "key")?.to_vec();
        let value = match kind {
            KIND_PUT => Some(p.sized(MAX_VALUE_BYTES, "value")?.to_vec()),
            KIND_DELETE => None,
            k => return Err(derr(at, format!("unknown op kind {k}"))),
        };
        ops.push(BatchOp { key, value });
    }
    if p.remaining() != 0 {
        return Err(derr(WAL_RECORD_HEADER_BYTES + p.pos, "trailing bytes after the last op"));
    }
    Ok((WalRecord { seq, ops }, WAL_RECORD_HEADER_BYTES + len))
}

/// The result of scanning a WAL file: the valid prefix and, if the scan stopped early, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalScan {
    /// Records of the valid prefix, in file order.
    pub records: Vec<WalRecord>,
    /// Length of the valid prefix in bytes.
    pub valid_bytes: u64,
    /// The error at `valid_bytes`, if the file does not end there.
    pub tail_error: Option<DecodeError>,
    /// Whether a valid record follows the bad one — a sign of corruption in the middle of the
    /// file rather than a torn tail, which recovery must not silently cut off.
    pub valid_record_after_error: bool,
}

/// Scan a WAL file: decode records until the end or the first one that does not decode.
pub fn scan_wal(data: &[u8]) -> WalScan {
    let mut records = Vec::new();
    let mut pos = 0usize;
    while pos < data.len() {
        match decode_wal_record(&data[pos..]) {
            Ok((rec, used)) => {
                records.push(rec);
                pos += used;
            }
            Err(mut e) => {
                e.offset += pos as u64;
                // If the bad record's length is plausible, look one record further: a torn
                // write leaves nothing decodable behind it; bit rot in the middle does.
                let valid_after = declared_record_end(&data[pos..])
                    .map(|end| pos + end)
                    .filter(|&next| next < data.len())
                    .is_some_and(|next| decode_wal_record(&data[next..]).is_ok());
                return WalScan {
                    records,
                    valid_bytes: pos as u64,
                    tail_error: Some(e),
                    valid_record_after_error: valid_after,
                };
            }
        }
    }
    WalScan { records, valid_bytes: pos as u64, tail_error: None, valid_record_after_error: false }
}

fn declared_record_end(data: &[u8]) -> Option<usize> {
    let len = Reader::new(data).u32("len").ok()? as usize;
    if len > MAX_WAL_PAYLOAD_BYTES {
        return None;
    }
    WAL_RECORD_HEADER_BYTES.checked_add(len)
}

/// Decode a whole WAL file strictly: every byte must belong to a valid record.
pub fn decode_wal_records(data: &[u8]) -> Result<Vec<WalRecord>, DecodeError> {
    let scan = scan_wal(data);
    match scan.tail_error {
        Some(e) => Err(e),
        None => Ok(scan.records),
    }
}

// ---------------------------------------------------------------------------------------------
// SSTable blocks
// ---------------------------------------------------------------------------------------------

/// Compare internal keys: user key ascending, then sequence number descending (newest first).
pub fn cmp_internal(a_key: &[u8], a_seq: u64, b_key: &[u8], b_seq: u64) -> std::cmp::Ordering {
    a_key.cmp(b_key).then(b_seq.cmp(&a_seq))
}

/// An entry borrowed from a block's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// The user key.
    pub key: &'a [u8],
    /// The sequence number.
    pub seq: u64,
    /// The value, or `None` for a tombstone.
    pub value: Option<&'a [u8]>,
}

impl EntryRef<'_> {
    /// An owned copy.
    pub fn to_entry(&self) -> Entry {
        Entry { key: self.key.to_vec(), seq: self.seq, value: self.value.map(<[u8]>::to_vec) }
    }
}

/// Append the encoding of one data-block entry to `out`.
pub fn encode_block_entry(key: &[u8], seq: u64, value: Option<&[u8]>, out: &mut Vec<u8>) {
    put_u32(out, len_u32(key.len()));
    out.extend_from_slice(key);
    put_u64(out, seq);
    match value {
        Some(v) => {
            out.push(KIND_PUT);
            put_u32(out, len_u32(v.len()));
            out.extend_from_slice(v);
        }
        None => out.push(KIND_DELETE),
    }
}

/// Close a block whose entries are in `out[start..]`: append `count` and the CRC of everything
/// from `start`.
pub fn finish_block(out: &mut Vec<u8>, start: usize, count: u32) {
    put_u32(out, count);
    let crc = crc32c::crc32c(&out[start..]);
    put_u32(out, crc);
}

/// Check a block's CRC and return its entry bytes and entry count.
fn open_block(data: &[u8]) -> Result<(&[u8], usize), DecodeError> {
    if data.len() < BLOCK_TRAILER_BYTES {
        return Err(derr(0, format!("block of {} bytes is shorter than its trailer", data.len())));
    }
    let crc_at = data.len() - 4;
    let stored = u32::from_le_bytes([data[crc_at], data[crc_at + 1], data[crc_at + 2], data[crc_at + 3]]);
    let actual = crc32c::crc32c(&data[..crc_at]);
    if stored != actual {
        return Err(derr(crc_at, format!("block crc mismatch: stored {stored:#010x}, computed {actual:#010x}")));
    }
    let count_at = crc_at - 4;
    let count = u32::from_le_bytes([data[count_at], data[count_at + 1], data[count_at + 2], data[count_at + 3]]);
    Ok((&data[..count_at], count as usize))
}

/// Iterate the entries of a CRC-checked data block without copying. Checks that the entries
/// are strictly ascending in internal-key order and that the count matches.
pub fn block_entries(data: &[u8]) -> Result<BlockEntries<'_>, DecodeError> {
    let (body, count) = open_block(data)?;
    Ok(BlockEntries { r: Reader::new(body), left: count, prev: None, failed: false })
}

/// Iterator returned by [`block_entries`].
pub struct BlockEntries<'a> {
    r: Reader<'a>,
    left: usize,
    prev: Option<(&'a [u8], u64)>,
    failed: bool,
}

/// Where one entry of a checked data block lies within the block's bytes, so that a block parsed
/// once can be binary-searched and read in place (see [`block_spans`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntrySpan {
    /// The user key is `block[key_start..key_end]`.
    pub(crate) key_start: u32,
    pub(crate) key_end: u32,
    pub(crate) seq: u64,
    /// The value's `(start, end)` in the block, or `None` for a tombstone.
    pub(crate) value: Option<(u32, u32)>,
}

impl<'a> BlockEntries<'a> {
    fn parse(&mut self) -> Result<(EntryRef<'a>, EntrySpan), DecodeError> {
        let at = self.r.pos;
        let key = self.r.sized(MAX_KEY_BYTES, "key")?;
        let key_end = self.r.pos;
        let seq = self.r.u64("seq")?;
        let kind = self.r.u8("kind")?;
        let value = match kind {
            KIND_PUT => Some(self.r.sized(MAX_VALUE_BYTES, "value")?),
            KIND_DELETE => None,
            k => return Err(derr(at, format!("unknown entry kind {k}"))),
        };
        if let Some((pk, ps)) = self.prev
            && cmp_internal(pk, ps, key, seq) != std::cmp::Ordering::Less
        {
            return Err(derr(at, "entries out of order"));
        }
        self.prev = Some((key, seq));
        // A block's length is a u32 (its index entry), so every offset inside it fits one.
        let off = |end: usize, len: usize| ((end - len) as u32, end as u32);
        let (key_start, key_end) = off(key_end, key.len());
        let span = EntrySpan { key_start, key_end, seq, value: value.map(|v| off(self.r.pos, v.len())) };
        Ok((EntryRef { key, seq, value }, span))
    }

    fn next_parsed(&mut self) -> Option<Result<(EntryRef<'a>, EntrySpan), DecodeError>> {
        if self.failed {
            return None;
        }
        if self.left == 0 {
            if self.r.remaining() != 0 {
                self.failed = true;
                return Some(Err(derr(self.r.pos, "trailing bytes after the last entry")));
            }
            return None;
        }
        self.left -= 1;
        let item = self.parse();
        self.failed = item.is_err();
        Some(item)
    }
}

impl<'a> Iterator for BlockEntries<'a> {
    type Item = Result<EntryRef<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_parsed().map(|r| r.map(|(e, _)| e))
    }
}

/// Check a data block exactly as [`decode_block`] does (CRC, count, order, no trailing bytes,
/// at least one entry) and return where each entry lies instead of copying the entries.
pub(crate) fn block_spans(data: &[u8]) -> Result<Vec<EntrySpan>, DecodeError> {
    let mut it = block_entries(data)?;
    let mut out = Vec::new();
    while let Some(parsed) = it.next_parsed() {
        out.push(parsed?.1);
    }
    if out.is_empty() {
        return Err(derr(0, "empty data block"));
    }
    Ok(out)
}

/// Decode a whole data block (entries, count, CRC) into owned entries.
pub fn decode_block(data: &[u8]) -> Result<Vec<Entry>, DecodeError> {
    let mut out = Vec::new();
    for e in block_entries(data)? {
        out.push(e?.to_entry());
    }
    if out.is_empty() {
        return Err(derr(0, "empty data block"));
    }
    Ok(out)
}

/// One index entry: the last internal key of a data block and where the block is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// User key of the block's last entry.
    pub last_key: Vec<u8>,
    /// Sequence number of the block's last entry.
    pub last_seq: u64,
    /// Offset of the block in the table file.
    pub offset: u64,
    /// Length of the block, trailer included.
    pub len: u32,
}

/// Encode an index block.
pub fn encode_index(entries: &[IndexEntry], out: &mut Vec<u8>) {
    let start = out.len();
    for e in entries {
        put_u32(out, len_u32(e.last_key.len()));
        out.extend_from_slice(&e.last_key);
        put_u64(out, e.last_seq);
        put_u64(out, e.offset);
        put_u32(out, e.len);
    }
    finish_block(out, start, len_u32(entries.len()));
}

/// Decode an index block. Checks the CRC, that keys ascend, and that blocks are contiguous from
/// offset 0 and end at `data_end` (where the index starts).
pub fn decode_index(data: &[u8], data_end: u64) -> Result<Vec<IndexEntry>, DecodeError> {
    let (body, count) = open_block(data)?;
    let mut r = Reader::new(body);
    let mut out: Vec<IndexEntry> = Vec::new();
    let mut next_offset = 0u64;
    for _ in 0..count {
        let at = r.pos;
        let last_key = r.sized(MAX_KEY_BYTES, "index key")?.to_vec();
        let last_seq = r.u64("index seq")?;
        let offset = r.u64("block offset")?;
        let len = r.u32("block length")?;
        if offset != next_offset || (len as usize) < BLOCK_TRAILER_BYTES {
            return Err(derr(at, format!("block at {offset} (+{len}) is not contiguous with the previous one")));
        }
        next_offset = offset.checked_add(u64::from(len)).ok_or_else(|| derr(at, "block offset overflows"))?;
        if let Some(prev) = out.last()
            && cmp_internal(&prev.last_key, prev.last_seq, &last_key, last_seq) != std::cmp::Ordering::Less
        {
            return Err(derr(at, "index keys out of order"));
        }
        out.push(IndexEntry { last_key, last_seq, offset, len });
    }
    if r.remaining() != 0 {
        return Err(derr(r.pos, "trailing bytes in the index block"));
    }
    if out.is_empty() || next_offset != data_end {
        return Err(derr(0, format!("data blocks end at {next_offset}, index starts at {data_end}")));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Bloom filter
// ---------------------------------------------------------------------------------------------

/// A bloom filter over user keys (double hashing of one 64-bit hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bloom {
    probes: u8,
    bits: Vec<u8>,
}

/// The key hash the bloom filter uses: FNV-1a 64 with a final avalanche (stable forever: it is
/// part of the format).
pub fn bloom_hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

impl Bloom {
    /// A filter for keys with these hashes, `bits_per_key` bits each (0 disables filtering).
    pub fn build(hashes: &[u64], bits_per_key: usize) -> Bloom {
        if bits_per_key == 0 || hashes.is_empty() {
            return Bloom { probes: 1, bits: Vec::new() };
        }
        let nbits = (hashes.len().saturating_mul(bits_per_key)).max(64);
        let nbytes = nbits.div_ceil(8);
        let nbits = (nbytes * 8) as u64;
        // ln 2 * bits per key is the optimal probe count.
        let probes = ((bits_per_key as f64 * 0.69) as u8).clamp(1, MAX_BLOOM_PROBES);
        let mut bits = vec![0u8; nbytes];
        for &h in hashes {
            let (mut a, b) = (h, h.rotate_right(32) | 1);
            for _ in 0..probes {
                let bit = a % nbits;
                bits[(bit / 8) as usize] |= 1 << (bit % 8);
                a = a.wrapping_add(b);
            }
        }
        Bloom { probes, bits }
    }

    /// Whether the key may be present (false means certainly absent).
    pub fn may_contain(&self, key: &[u8]) -> bool {
        if self.bits.is_empty() {
            return true;
        }
        let nbits = (self.bits.len() * 8) as u64;
        let h = bloom_hash(key);
        let (mut a, b) = (h, h.rotate_right(32) | 1);
        for _ in 0..self.probes {
            let bit = a % nbits;
            if self.bits[(bit / 8) as usize] & (1 << (bit % 8)) == 0 {
                return false;
            }
            a = a.wrapping_add(b);
        }
        true
    }

    /// Encode as a block: `probes: u8`, the bit array, `crc: u32`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(self.probes);
        out.extend_from_slice(&self.bits);
        let crc = crc32c::crc32c(&out[start..]);
        put_u32(out, crc);
    }

    /// Decode a bloom block.
    pub fn decode(data: &[u8]) -> Result<Bloom, DecodeError> {
        if data.len() < 5 {
            return Err(derr(0, "bloom block shorter than 5 bytes"));
        }
        let crc_at = data.len() - 4;
        let stored = u32::from_le_bytes([data[crc_at], data[crc_at + 1], data[crc_at + 2], data[crc_at + 3]]);
        if crc32c::crc32c(&data[..crc_at]) != stored {
            return Err(derr(crc_at, "bloom block crc mismatch"));
        }
        let probes = data[0];
        if probes == 0 || probes > MAX_BLOOM_PROBES {
            return Err(derr(0, format!("bloom probe count {probes} out of range")));
        }
        Ok(Bloom { probes, bits: data[1..crc_at].to_vec() })
    }
}

// ---------------------------------------------------------------------------------------------
// SSTable footer and whole-table decoding
// ---------------------------------------------------------------------------------------------

/// The fixed-size footer at the end of every SSTable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footer {
    /// Offset of the index block (also the end of the data blocks).
    pub index_offset: u64,
    /// Length of the index block.
    pub index_len: u32,
    /// Offset of the bloom block (right after the index).
    pub bloom_offset: u64,
    /// Length of the bloom block.
    pub bloom_len: u32,
    /// Number of entries in the table.
    pub entry_count: u64,
}

impl Footer {
    /// Append the 48-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        put_u64(out, self.index_offset);
        put_u32(out, self.index_len);
        put_u64(out, self.bloom_offset);
        put_u32(out, self.bloom_len);
        put_u64(out, self.entry_count);
        put_u32(out, FORMAT_VERSION);
        put_u64(out, TABLE_MAGIC);
        let crc = crc32c::crc32c(&out[start..]);
        put_u32(out, crc);
        debug_assert_eq!(out.len() - start, FOOTER_BYTES);
    }
}

/// Decode the footer from the last [`FOOTER_BYTES`] of `file` (the whole table, or its tail
/// with `file_len` giving the real length) and check it against the file length.
pub fn decode_footer(tail: &[u8], file_len: u64) -> Result<Footer, DecodeError> {
    if tail.len() < FOOTER_BYTES || file_len < FOOTER_BYTES as u64 || file_len > MAX_TABLE_BYTES {
        return Err(derr(0, format!("table of {file_len} bytes cannot hold a footer")));
    }
    let at = tail.len() - FOOTER_BYTES;
    let f = &tail[at..];
    let crc_at = FOOTER_BYTES - 4;
    let stored = u32::from_le_bytes([f[crc_at], f[crc_at + 1], f[crc_at + 2], f[crc_at + 3]]);
    if crc32c::crc32c(&f[..crc_at]) != stored {
        return Err(derr(at + crc_at, "footer crc mismatch"));
    }
    let mut r = Reader::new(f);
    let footer = Footer {
        index_offset: r.u64("index offset")?,
        index_len: r.u32("index length")?,
        bloom_offset: r.u64("bloom offset")?,
        bloom_len: r.u32("bloom length")?,
        entry_count: r.u64("entry count")?,
    };
    let version = r.u32("version")?;
    let magic = r.u64("magic")?;
    if magic != TABLE_MAGIC {
        return Err(derr(at + 36, format!("bad table magic {magic:#018x}")));
    }
    if version != FORMAT_VERSION {
        return Err(derr(at + 32, format!("unsupported table format version {version}")));
    }
    let body_len = file_len - FOOTER_BYTES as u64;
    let index_end = footer.index_offset.checked_add(u64::from(footer.index_len));
    let bloom_end = footer.bloom_offset.checked_add(u64::from(footer.bloom_len));
    if index_end != Some(footer.bloom_offset) || bloom_end != Some(body_len) || footer.entry_count == 0 {
        return Err(derr(at, "footer offsets do not describe the file"));
    }
    Ok(footer)
}

/// Decode and fully verify a whole SSTable held in memory: footer, index, bloom, every block,
/// global ordering, and the entry count. Returns every entry in order.
pub fn decode_table(data: &[u8]) -> Result<Vec<Entry>, DecodeError> {
    let footer = decode_footer(data, data.len() as u64)?;
    // decode_footer proved these ranges lie inside `data`.
    let io = footer.index_offset as usize;
    let index = decode_index(&data[io..io + footer.index_len as usize], footer.index_offset)?;
    let bo = footer.bloom_offset as usize;
    let bloom = Bloom::decode(&data[bo..bo + footer.bloom_len as usize])?;
    let mut out: Vec<Entry> = Vec::new();
    for ie in &index {
        let (o, l) = (ie.offset as usize, ie.len as usize);
        let block = decode_block(&data[o..o + l]).map_err(|mut e| {
            e.offset += ie.offset;
            e
        })?;
        if let (Some(prev), Some(first)) = (out.last(), block.first())
            && cmp_internal(&prev.key, prev.seq, &first.key, first.seq) != std::cmp::Ordering::Less
        {
            return Err(derr(o, "blocks out of order"));
        }
        let last = block.last().expect("decode_block rejects empty blocks");
        if last.key != ie.last_key || last.seq != ie.last_seq {
            return Err(derr(o, "index entry does not match the block's last key"));
        }
        out.extend(block);
    }
    if out.len() as u64 != footer.entry_count {
        return Err(derr(data.len() - FOOTER_BYTES, "footer entry count does not match the blocks"));
    }
    if let Some(missing) = out.iter().find(|e| !bloom.may_contain(&e.key)) {
        return Err(derr(bo, format!("bloom filter misses a key of {} bytes", missing.key.len())));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Manifest
// ---------------------------------------------------------------------------------------------

/// The manifest: which tables are live and where recovery starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// Highest sequence number stored in the live tables.
    pub last_seq: u64,
    /// Next unused file number (tables and WALs share one counter).
    pub next_file_number: u64,
    /// Recovery replays WAL files numbered `>= wal_number`; older ones are obsolete.
    pub wal_number: u64,
    /// Live table numbers, newest first.
    pub tables: Vec<u64>,
}

impl Manifest {
    /// Encode: magic, version, last_seq, next_file_number, wal_number, count, numbers, crc.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(44 + 8 * self.tables.len());
        put_u64(&mut out, MANIFEST_MAGIC);
        put_u32(&mut out, FORMAT_VERSION);
        put_u64(&mut out, self.last_seq);
        put_u64(&mut out, self.next_file_number);
        put_u64(&mut out, self.wal_number);
        put_u32(&mut out, len_u32(self.tables.len()));
        for &t in &self.tables {
            put_u64(&mut out, t);
        }
        let crc = crc32c::crc32c(&out);
        put_u32(&mut out, crc);
        out
    }
}

/// Decode and validate a manifest.
pub fn decode_manifest(data: &[u8]) -> Result<Manifest, DecodeError> {
    if data.len() < 4 {
        return Err(derr(0, "manifest shorter than its crc"));
    }
    let crc_at = data.len() - 4;
    let stored = u32::from_le_bytes([data[crc_at], data[crc_at + 1], data[crc_at + 2], data[crc_at + 3]]);
    if crc32c::crc32c(&data[..crc_at]) != stored {
        return Err(derr(crc_at, "manifest crc mismatch"));
    }
    let mut r = Reader::new(&data[..crc_at]);
    let magic = r.u64("magic")?;
    if magic != MANIFEST_MAGIC {
        return Err(derr(0, format!("bad manifest magic {magic:#018x}")));
    }
    let version = r.u32("version")?;
    if version != FORMAT_VERSION {
        return Err(derr(8, format!("unsupported manifest version {version}")));
    }
    let last_seq = r.u64("last seq")?;
    let next_file_number = r.u64("next file number")?;
    let wal_number = r.u64("wal number")?;
    let count = r.u32("table count")? as usize;
    if count > MAX_MANIFEST_TABLES || count.saturating_mul(8) != r.remaining() {
        return Err(derr(r.pos, format!("table count {count} does not match the manifest length")));
    }
    let mut tables = Vec::new();
    for _ in 0..count {
        let at = r.pos;
        let t = r.u64("table number")?;
        if t >= next_file_number || t == wal_number || tables.contains(&t) {
            return Err(derr(at, format!("table number {t} is invalid or repeated")));
        }
        tables.push(t);
    }
    if wal_number == 0 || wal_number >= next_file_number {
        return Err(derr(28, format!("wal number {wal_number} out of range")));
    }
    Ok(Manifest { last_seq, next_file_number, wal_number, tables })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops() -> Vec<BatchOp> {
        vec![BatchOp { key: b"a".to_vec(), value: Some(b"1".to_vec()) }, BatchOp { key: b"b".to_vec(), value: None }]
    }

    #[test]
    fn wal_record_round_trips_and_detects_every_single_bit_flip() {
        let mut buf = Vec::new();
        encode_wal_record(7, &ops(), &mut buf);
        let (rec, used) = decode_wal_record(&buf).unwrap();
        assert_eq!(used, buf.len());
        assert_eq!(rec, WalRecord { seq: 7, ops: ops() });
        assert_eq!(rec.last_seq(), 8);
        for bit in 0..buf.len() * 8 {
            let mut b = buf.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_wal_record(&b).is_err(), "flip of bit {bit} went unnoticed");
        }
    }

    #[test]
    fn wal_scan_stops_at_a_torn_tail_and_flags_mid_file_corruption() {
        let mut buf = Vec::new();
        encode_wal_record(1, &ops(), &mut buf);
        let first = buf.len();
        encode_wal_record(3, &ops(), &mut buf);
        let torn = &buf[..buf.len() - 3];
        let scan = scan_wal(torn);
        assert_eq!(scan.records.len(), 1);
        assert_eq!(scan.valid_bytes, first as u64);
        assert!(scan.tail_error.is_some() && !scan.valid_record_after_error);

        let mut rot = buf.clone();
        rot[10] ^= 0x40; // inside the first record's payload
        let scan = scan_wal(&rot);
        assert_eq!(scan.records.len(), 0);
        assert!(scan.valid_record_after_error);
        assert!(decode_wal_records(&rot).is_err());
        assert_eq!(decode_wal_records(&buf).unwrap().len(), 2);
    }

    #[test]
    fn block_round_trips_and_rejects_disorder() {
        let mut buf = Vec::new();
        encode_block_entry(b"a", 5, Some(b"x"), &mut buf);
        encode_block_entry(b"a", 3, None, &mut buf);
        encode_block_entry(b"b", 9, Some(b""), &mut buf);
        finish_block(&mut buf, 0, 3);
        let es = decode_block(&buf).unwrap();
        assert_eq!(es.len(), 3);
        assert_eq!(es[1], Entry { key: b"a".to_vec(), seq: 3, value: None });

        let mut bad = Vec::new();
        encode_block_entry(b"b", 1, None, &mut bad);
        encode_block_entry(b"a", 1, None, &mut bad);
        finish_block(&mut bad, 0, 2);
        assert!(decode_block(&bad).is_err());
    }

    #[test]
    fn bloom_has_no_false_negatives_and_few_false_positives() {
        let keys: Vec<Vec<u8>> = (0..1000u32).map(|i| i.to_le_bytes().to_vec()).collect();
        let hashes: Vec<u64> = keys.iter().map(|k| bloom_hash(k)).collect();
        let bloom = Bloom::build(&hashes, 10);
        assert!(keys.iter().all(|k| bloom.may_contain(k)));
        let fp = (1000..11000u32).filter(|i| bloom.may_contain(&i.to_le_bytes())).count();
        assert!(fp < 300, "{fp} false positives in 10000");
        let mut enc = Vec::new();
        bloom.encode(&mut enc);
        assert_eq!(Bloom::decode(&enc).unwrap(), bloom);
    }

    #[test]
    fn manifest_round_trips_and_rejects_bad_numbers() {
        let m = Manifest { last_seq: 9, next_file_number: 10, wal_number: 8, tables: vec![7, 5] };
        assert_eq!(decode_manifest(&m.encode()).unwrap(), m);
        let bad = Manifest { tables: vec![7, 7], ..m.clone() };
        assert!(decode_manifest(&bad.encode()).is_err());
        let bad = Manifest { wal_number: 10, ..m };
        assert!(decode_manifest(&bad.encode()).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// SSTable encoder
// ---------------------------------------------------------------------------------------------

/// Builds an SSTable from entries given in strictly ascending internal-key order. Completed
/// blocks can be drained with [`TableBuilder::take_ready`] so a large table never sits in memory
/// whole; [`TableBuilder::finish`] returns the rest (last block, index, bloom, footer).
#[derive(Debug)]
pub struct TableBuilder {
    block_bytes: usize,
    bloom_bits_per_key: usize,
    ready: Vec<u8>,
    drained: u64,
    block: Vec<u8>,
    block_count: u32,
    index: Vec<IndexEntry>,
    hashes: Vec<u64>,
    last: Option<(Vec<u8>, u64)>,
    entries: u64,
}

impl TableBuilder {
    /// A builder cutting data blocks at about `block_bytes`, with a bloom filter of
    /// `bloom_bits_per_key` bits per distinct key (0: no filtering).
    pub fn new(block_bytes: usize, bloom_bits_per_key: usize) -> TableBuilder {
        TableBuilder {
            block_bytes: block_bytes.max(1),
            bloom_bits_per_key,
            ready: Vec::new(),
            drained: 0,
            block: Vec::new(),
            block_count: 0,
            index: Vec::new(),
            hashes: Vec::new(),
            last: None,
            entries: 0,
        }
    }

    /// Add the next entry; it must sort strictly after the previous one.
    pub fn add(&mut self, key: &[u8], seq: u64, value: Option<&[u8]>) {
        if let Some((lk, ls)) = &self.last {
            assert_eq!(
                cmp_internal(lk, *ls, key, seq),
                std::cmp::Ordering::Less,
                "table entries must be added in ascending internal-key order"
            );
            if lk.as_slice() != key {
                self.hashes.push(bloom_hash(key));
            }
        } else {
            self.hashes.push(bloom_hash(key));
        }
        if self.block_count > 0 && self.block.len() >= self.block_bytes {
            self.close_block();
        }
        encode_block_entry(key, seq, value, &mut self.block);
        self.block_count += 1;
        self.entries += 1;
        match &mut self.last {
            Some((lk, ls)) => {
                lk.clear();
                lk.extend_from_slice(key);
                *ls = seq;
            }
            None => self.last = Some((key.to_vec(), seq)),
        }
    }

    fn close_block(&mut self) {
        debug_assert!(self.block_count > 0);
        finish_block(&mut self.block, 0, self.block_count);
        let (last_key, last_seq) = self.last.clone().expect("a non-empty block has a last entry");
        self.index.push(IndexEntry {
            last_key,
            last_seq,
            offset: self.drained + self.ready.len() as u64,
            len: len_u32(self.block.len()),
        });
        self.ready.append(&mut self.block);
        self.block_count = 0;
    }

    /// Number of entries added so far.
    pub fn entry_count(&self) -> u64 {
        self.entries
    }

    /// Bytes of completed blocks not yet taken (callers drain when this grows large).
    pub fn ready_bytes(&self) -> usize {
        self.ready.len()
    }

    /// Take the bytes of completed blocks; they belong right after previously taken bytes.
    pub fn take_ready(&mut self) -> Vec<u8> {
        self.drained += self.ready.len() as u64;
        std::mem::take(&mut self.ready)
    }

    /// Finish the table and return its remaining bytes. At least one entry must have been added.
    pub fn finish(mut self) -> Vec<u8> {
        assert!(self.entries > 0, "an SSTable holds at least one entry");
        if self.block_count > 0 {
            self.close_block();
        }
        let mut out = std::mem::take(&mut self.ready);
        let index_offset = self.drained + out.len() as u64;
        let index_start = out.len();
        encode_index(&self.index, &mut out);
        let index_len = len_u32(out.len() - index_start);
        let bloom_start = out.len();
        Bloom::build(&self.hashes, self.bloom_bits_per_key).encode(&mut out);
        let bloom_len = len_u32(out.len() - bloom_start);
        Footer {
            index_offset,
            index_len,
            bloom_offset: index_offset + u64::from(index_len),
            bloom_len,
            entry_count: self.entries,
        }
        .encode(&mut out);
        out
    }
}

/// Encode entries (strictly ascending internal keys, at least one) as a whole SSTable in memory.
pub fn encode_table(entries: &[Entry], block_bytes: usize, bloom_bits_per_key: usize) -> Vec<u8> {
    let mut b = TableBuilder::new(block_bytes, bloom_bits_per_key);
    for e in entries {
        b.add(&e.key, e.seq, e.value.as_deref());
    }
    let mut out = b.take_ready();
    out.extend(b.finish());
    out
}

#[cfg(test)]
mod table_tests {
    use super::*;

    #[test]
    fn table_round_trips_and_every_bit_flip_is_detected() {
        let entries: Vec<Entry> = (0..50u32)
            .map(|i| Entry {
                key: format!("key{i:04}").into_bytes(),
                seq: u64::from(i) + 1,
                value: (i % 7 != 0).then(|| vec![i as u8; (i % 13) as usize]),
            })
            .collect();
        let bytes = encode_table(&entries, 64, 10);
        assert_eq!(decode_table(&bytes).unwrap(), entries);
        for bit in (0..bytes.len() * 8).step_by(3) {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_table(&b).is_err(), "flip of bit {bit} went unnoticed");
        }
        for cut in 0..bytes.len() {
            assert!(decode_table(&bytes[..cut]).is_err());
        }
    }
}
