//! Records and the record-batch wire/disk format (docs/log-format.md describes it byte by byte).
//!
//! A batch is the unit of append, CRC and fsync. All integers are little-endian.
//!
//! ```text
//! batch header (42 bytes)
//!   0  u64 base_offset         offset of the first record
//!   8  u32 length              bytes after this field (crc .. end of last record)
//!  12  u32 crc                 CRC-32C of bytes [0, 12) followed by [16, 12 + length)
//!  16  u8  magic = 1
//!  17  u8  flags = 0
//!  18  u32 record_count        >= 1
//!  22  u32 last_offset_delta   offset of the last record - base_offset
//!  26  i64 first_timestamp_ms
//!  34  i64 max_timestamp_ms
//! then record_count records:
//!   u32 record_length (bytes after this field)
//!   u32 offset_delta, i64 timestamp_delta_ms (vs first_timestamp)
//!   i32 key_length (-1 = no key), key bytes
//!   i32 value_length (-1 = no value: a tombstone), value bytes
//!   u16 header_count, then per header: u16 key_length, UTF-8 key, u32 value_length, value
//! ```

use std::fmt;

/// Size of the fixed batch header.
pub const BATCH_HEADER_BYTES: usize = 42;
/// Bytes of the batch prefix: base_offset, length, crc.
pub const BATCH_PREFIX_BYTES: usize = 16;
/// Format version written in every batch.
pub const BATCH_MAGIC: u8 = 1;
/// Largest encoded batch accepted (header included).
pub const MAX_BATCH_BYTES: usize = 16 << 20;
/// Most records in one batch.
pub const MAX_BATCH_RECORDS: usize = 1 << 20;
/// Largest record key.
pub const MAX_KEY_BYTES: usize = 64 << 10;
/// Largest record value.
pub const MAX_VALUE_BYTES: usize = 8 << 20;
/// Most headers on one record.
pub const MAX_HEADERS_PER_RECORD: usize = 64;
/// Largest header key.
pub const MAX_HEADER_KEY_BYTES: usize = 1024;
/// Smallest possible encoded record (length prefix + fixed fields).
const MIN_RECORD_BYTES: usize = 4 + 4 + 8 + 4 + 4 + 2;

/// A record header: a named byte string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name.
    pub key: String,
    /// Header value.
    pub value: Vec<u8>,
}

/// A record as a producer hands it to the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerRecord {
    /// Partitioning and compaction key.
    pub key: Option<Vec<u8>>,
    /// Payload; `None` is a tombstone (deletes the key in a compacted topic).
    pub value: Option<Vec<u8>>,
    /// Headers.
    pub headers: Vec<Header>,
    /// Creation time in ms since the epoch; `None` means "stamp with the log's clock on append".
    pub timestamp_ms: Option<i64>,
}

impl ProducerRecord {
    /// A record with a key and a value.
    pub fn new(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        Self { key: Some(key.into()), value: Some(value.into()), ..Self::default() }
    }

    /// A record without a key.
    pub fn unkeyed(value: impl Into<Vec<u8>>) -> Self {
        Self { value: Some(value.into()), ..Self::default() }
    }
}

/// A record read back from the log, with its offset and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Offset in its partition.
    pub offset: u64,
    /// Timestamp in ms since the epoch.
    pub timestamp_ms: i64,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value (`None`: tombstone).
    pub value: Option<Vec<u8>>,
    /// Headers.
    pub headers: Vec<Header>,
}

/// A borrowed record to encode.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    /// Absolute offset.
    pub offset: u64,
    /// Timestamp in ms.
    pub timestamp_ms: i64,
    /// Key.
    pub key: Option<&'a [u8]>,
    /// Value.
    pub value: Option<&'a [u8]>,
    /// Headers.
    pub headers: &'a [Header],
}

impl<'a> From<&'a Record> for RecordRef<'a> {
    fn from(r: &'a Record) -> Self {
        RecordRef {
            offset: r.offset,
            timestamp_ms: r.timestamp_ms,
            key: r.key.as_deref(),
            value: r.value.as_deref(),
            headers: &r.headers,
        }
    }
}

/// Why bytes failed to decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(reason: impl Into<String>) -> DecodeError {
    DecodeError(reason.into())
}

/// The decoded fixed header of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: u64,
    /// Bytes after the length field.
    pub length: u32,
    /// Stored CRC-32C.
    pub crc: u32,
    /// Number of records.
    pub record_count: u32,
    /// Last record's offset minus `base_offset`.
    pub last_offset_delta: u32,
    /// First record's timestamp.
    pub first_timestamp_ms: i64,
    /// Largest timestamp in the batch.
    pub max_timestamp_ms: i64,
}

impl BatchHeader {
    /// Encoded size of the whole batch.
    pub fn total_bytes(&self) -> usize {
        12 + self.length as usize
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> u64 {
        self.base_offset + u64::from(self.last_offset_delta)
    }

    /// The offset after this batch.
    pub fn next_offset(&self) -> u64 {
        self.last_offset() + 1
    }
}

/// Check a producer record against the named limits.
pub fn validate_producer_record(r: &ProducerRecord) -> Result<(), String> {
    if let Some(k) = &r.key
        && k.len() > MAX_KEY_BYTES
    {
        return Err(format!("key is {} bytes; the limit is MAX_KEY_BYTES = {MAX_KEY_BYTES}", k.len()));
    }
    if let Some(v) = &r.value
        && v.len() > MAX_VALUE_BYTES
    {
        return Err(format!("value is {} bytes; the limit is MAX_VALUE_BYTES = {MAX_VALUE_BYTES}", v.len()));
    }
    if r.headers.len() > MAX_HEADERS_PER_RECORD {
        return Err(format!(
            "{} headers; the limit is MAX_HEADERS_PER_RECORD = {MAX_HEADERS_PER_RECORD}",
            r.headers.len()
        ));
    }
    for h in &r.headers {
        if h.key.len() > MAX_HEADER_KEY_BYTES {
            return Err(format!("header key is {} bytes; the limit is {MAX_HEADER_KEY_BYTES}", h.key.len()));
        }
        if h.value.len() > MAX_VALUE_BYTES {
            return Err(format!("header value is {} bytes; the limit is {MAX_VALUE_BYTES}", h.value.len()));
        }
    }
    Ok(())
}

fn opt_len(b: Option<&[u8]>) -> usize {
    b.map_or(0, <[u8]>::len)
}

fn record_body_bytes(r: &RecordRef<'_>) -> usize {
    let headers: usize = r.headers.iter().map(|h| 2 + h.key.len() + 4 + h.value.len()).sum();
    4 + 8 + 4 + opt_len(r.key) + 4 + opt_len(r.value) + 2 + headers
}

/// Encoded size of a batch of these records.
pub fn encoded_batch_bytes<'a>(records: impl IntoIterator<Item = RecordRef<'a>>) -> usize {
    BATCH_HEADER_BYTES + records.into_iter().map(|r| 4 + record_body_bytes(&r)).sum::<usize>()
}

/// Append one encoded batch to `out`. Records must be in strictly increasing offset order, at
/// least one, and within the named limits (callers validate first; violations are bugs).
pub fn encode_batch(out: &mut Vec<u8>, records: &[RecordRef<'_>]) {
    assert!(!records.is_empty(), "a batch holds at least one record");
    assert!(records.len() <= MAX_BATCH_RECORDS);
    let start = out.len();
    let base = records[0].offset;
    let last = records[records.len() - 1].offset;
    let first_ts = records[0].timestamp_ms;
    let max_ts = records.iter().map(|r| r.timestamp_ms).max().unwrap_or(first_ts);
    out.extend_from_slice(&base.to_le_bytes());
    out.extend_from_slice(&[0u8; 8]); // length and crc, patched below
    out.push(BATCH_MAGIC);
    out.push(0);
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    let last_delta = u32::try_from(last - base).expect("offset span of a batch fits u32");
    out.extend_from_slice(&last_delta.to_le_bytes());
    out.extend_from_slice(&first_ts.to_le_bytes());
    out.extend_from_slice(&max_ts.to_le_bytes());
    let mut prev: Option<u64> = None;
    for r in records {
        assert!(prev.is_none_or(|p| r.offset > p), "offsets strictly increase in a batch");
        prev = Some(r.offset);
        let body = record_body_bytes(r);
        out.extend_from_slice(&(body as u32).to_le_bytes());
        out.extend_from_slice(&((r.offset - base) as u32).to_le_bytes());
        out.extend_from_slice(&r.timestamp_ms.wrapping_sub(first_ts).to_le_bytes());
        for field in [r.key, r.value] {
            match field {
                Some(b) => {
                    out.extend_from_slice(&(b.len() as i32).to_le_bytes());
                    out.extend_from_slice(b);
                }
                None => out.extend_from_slice(&(-1i32).to_le_bytes()),
            }
        }
        out.extend_from_slice(&(r.headers.len() as u16).to_le_bytes());
        for h in r.headers {
            out.extend_from_slice(&(h.key.len() as u16).to_le_bytes());
            out.extend_from_slice(h.key.as_bytes());
            out.extend_from_slice(&(h.value.len() as u32).to_le_bytes());
            out.extend_from_slice(&h.value);
        }
    }
    let length = u32::try_from(out.len() - start - 12).expect("batch length fits u32");
    out[start + 8..start + 12].copy_from_slice(&length.to_le_bytes());
    let crc = batch_crc(&out[start..]);
    out[start + 12..start + 16].copy_from_slice(&crc.to_le_bytes());
}

/// A cursor over a byte slice that fails, never panics, on short input.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or_else(|| bad("length overflow"))?;
        let s = self.buf.get(self.pos..end).ok_or_else(|| bad("truncated"))?;
        self.pos = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn opt_bytes(&mut self, limit: usize, what: &str) -> Result<Option<Vec<u8>>, DecodeError> {
        let len = self.i32()?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| bad(format!("negative {what} length {len}")))?;
        if len > limit {
            return Err(bad(format!("{what} length {len} exceeds limit {limit}")));
        }
        Ok(Some(self.take(len)?.to_vec()))
    }
}

/// The CRC of an encoded batch: every byte but the CRC field itself, so that a flipped bit
/// anywhere (the base offset included) is detected.
fn batch_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&batch[..12]), &batch[BATCH_PREFIX_BYTES..])
}

/// Decode the fixed header at the start of `buf` without checking the CRC.
pub fn decode_batch_header(buf: &[u8]) -> Result<BatchHeader, DecodeError> {
    let mut c = Cursor { buf, pos: 0 };
    let base_offset = c.u64()?;
    let length = c.u32()?;
    let crc = c.u32()?;
    let magic = c.take(1)?[0];
    let flags = c.take(1)?[0];
    let record_count = c.u32()?;
    let last_offset_delta = c.u32()?;
    let first_timestamp_ms = c.i64()?;
    let max_timestamp_ms = c.i64()?;
    if magic != BATCH_MAGIC {
        return Err(bad(format!("bad magic {magic}, expected {BATCH_MAGIC}")));
    }
    if flags != 0 {
        return Err(bad(format!("unknown flags {flags:#x}")));
    }
    let total = 12usize + length as usize;
    if !(BATCH_HEADER_BYTES..=MAX_BATCH_BYTES).contains(&total) {
        return Err(bad(format!("batch length {total} outside [{BATCH_HEADER_BYTES}, {MAX_BATCH_BYTES}]")));
    }
    if record_count == 0 || record_count as usize > MAX_BATCH_RECORDS {
        return Err(bad(format!("record count {record_count} outside [1, {MAX_BATCH_RECORDS}]")));
    }
    if record_count - 1 > last_offset_delta {
        return Err(bad("last offset delta smaller than record count"));
    }
    if base_offset.checked_add(u64::from(last_offset_delta) + 1).is_none() {
        return Err(bad("offsets overflow u64"));
    }
    Ok(BatchHeader { base_offset, length, crc, record_count, last_offset_delta, first_timestamp_ms, max_timestamp_ms })
}

/// Check the header and CRC of the batch at the start of `buf`; returns the header.
/// `buf` may extend past the batch.
pub fn check_batch(buf: &[u8]) -> Result<BatchHeader, DecodeError> {
    let h = decode_batch_header(buf)?;
    let bytes = buf.get(..h.total_bytes()).ok_or_else(|| bad("truncated batch"))?;
    let actual = batch_crc(bytes);
    if actual != h.crc {
        return Err(bad(format!("CRC mismatch: stored {:#010x}, computed {actual:#010x}", h.crc)));
    }
    Ok(h)
}

/// Decode and verify the whole batch at the start of `buf`, returning its header and records.
pub fn decode_batch(buf: &[u8]) -> Result<(BatchHeader, Vec<Record>), DecodeError> {
    let h = check_batch(buf)?;
    let bytes = &buf[..h.total_bytes()];
    let mut c = Cursor { buf: bytes, pos: BATCH_HEADER_BYTES };
    let max_records = (bytes.len() - BATCH_HEADER_BYTES) / MIN_RECORD_BYTES;
    if h.record_count as usize > max_records {
        return Err(bad(format!("record count {} cannot fit in {} bytes", h.record_count, bytes.len())));
    }
    let mut records = Vec::with_capacity(h.record_count as usize);
    let mut prev_delta: Option<u32> = None;
    for i in 0..h.record_count {
        let len = c.u32()? as usize;
        let start = c.pos;
        let delta = c.u32()?;
        if prev_delta.is_some_and(|p| delta <= p) || delta > h.last_offset_delta {
            return Err(bad(format!("record {i}: offset delta {delta} out of order")));
        }
        if i == 0 && delta != 0 {
            return Err(bad("first record's offset delta is not 0"));
        }
        prev_delta = Some(delta);
        let ts_delta = c.i64()?;
        if i == 0 && ts_delta != 0 {
            return Err(bad("first record's timestamp delta is not 0"));
        }
        let key = c.opt_bytes(MAX_KEY_BYTES, "key")?;
        let value = c.opt_bytes(MAX_VALUE_BYTES, "value")?;
        let n_headers = c.u16()? as usize;
        if n_headers > MAX_HEADERS_PER_RECORD {
            return Err(bad(format!("record {i}: {n_headers} headers exceed limit")));
        }
        let mut headers = Vec::with_capacity(n_headers);
        for _ in 0..n_headers {
            let klen = c.u16()? as usize;
            if klen > MAX_HEADER_KEY_BYTES {
                return Err(bad(format!("record {i}: header key length {klen} exceeds limit")));
            }
            let key = std::str::from_utf8(c.take(klen)?)
                .map_err(|_| bad(format!("record {i}: header key is not UTF-8")))?
                .to_owned();
            let vlen = c.u32()? as usize;
            if vlen > MAX_VALUE_BYTES {
                return Err(bad(format!("record {i}: header value length {vlen} exceeds limit")));
            }
            headers.push(Header { key, value: c.take(vlen)?.to_vec() });
        }
        if c.pos - start != len {
            return Err(bad(format!("record {i}: length {len} does not match its fields")));
        }
        records.push(Record {
            offset: h.base_offset + u64::from(delta),
            timestamp_ms: h.first_timestamp_ms.wrapping_add(ts_delta),
            key,
            value,
            headers,
        });
    }
    if prev_delta != Some(h.last_offset_delta) {
        return Err(bad("last record's offset does not match the header"));
    }
    // Retention and time lookups trust the header's max timestamp: it must be the records' max.
    let max_ts = records.iter().map(|r| r.timestamp_ms).max();
    if max_ts != Some(h.max_timestamp_ms) {
        return Err(bad(format!("header max timestamp {} is not the records' maximum", h.max_timestamp_ms)));
    }
    if c.pos != bytes.len() {
        return Err(bad("trailing bytes after the last record"));
    }
    Ok((h, records))
}

/// The position of the first complete, CRC-valid batch at or after byte 1 of `buf` (a resync after
/// a bad batch), if any. Cheap header checks filter candidates before the CRC.
pub fn find_valid_batch(buf: &[u8]) -> Option<usize> {
    (1..buf.len().saturating_sub(BATCH_HEADER_BYTES - 1))
        .find(|&p| buf[p + 16] == BATCH_MAGIC && buf[p + 17] == 0 && check_batch(&buf[p..]).is_ok())
}

/// What a sequential scan of segment bytes found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSummary {
    /// Headers of the valid batches, in order, with their byte positions.
    pub batches: Vec<(u64, BatchHeader)>,
    /// Length of the valid prefix; bytes past it are a torn or corrupt tail.
    pub valid_bytes: u64,
    /// Why the scan stopped before the end, if it did.
    pub stopped: Option<DecodeError>,
}

/// Walk batches from the start of `buf`, verifying each CRC and that offsets increase from
/// `expected_base` on, and stop at the first invalid one. Used by recovery to find a torn tail.
pub fn scan_batches(buf: &[u8], expected_base: u64) -> ScanSummary {
    let mut pos = 0usize;
    let mut next = expected_base;
    let mut batches = Vec::new();
    let mut stopped = None;
    while pos < buf.len() {
        match check_batch(&buf[pos..]) {
            Ok(h) if h.base_offset < next => {
                stopped =
                    Some(bad(format!("batch at byte {pos} has base offset {} below expected {next}", h.base_offset)));
                break;
            }
            Ok(h) => {
                batches.push((pos as u64, h));
                next = h.next_offset();
                pos += h.total_bytes();
            }
            Err(e) => {
                stopped = Some(bad(format!("at byte {pos}: {e}")));
                break;
            }
        }
    }
    ScanSummary { batches, valid_bytes: pos as u64, stopped }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Record> {
        vec![
            Record {
                offset: 7,
                timestamp_ms: 1000,
                key: Some(b"k".to_vec()),
                value: Some(b"v".to_vec()),
                headers: vec![Header { key: "h".into(), value: b"x".to_vec() }],
            },
            Record { offset: 9, timestamp_ms: 990, key: None, value: None, headers: vec![] },
        ]
    }

    #[test]
    fn batch_round_trips() {
        let recs = sample();
        let refs: Vec<RecordRef<'_>> = recs.iter().map(RecordRef::from).collect();
        let mut buf = Vec::new();
        encode_batch(&mut buf, &refs);
        assert_eq!(buf.len(), encoded_batch_bytes(refs.iter().copied()));
        let (h, back) = decode_batch(&buf).unwrap();
        assert_eq!(h.base_offset, 7);
        assert_eq!(h.next_offset(), 10);
        assert_eq!(h.max_timestamp_ms, 1000);
        assert_eq!(back, recs);
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let recs = sample();
        let refs: Vec<RecordRef<'_>> = recs.iter().map(RecordRef::from).collect();
        let mut buf = Vec::new();
        encode_batch(&mut buf, &refs);
        for byte in 0..buf.len() {
            for bit in 0..8 {
                let mut b = buf.clone();
                b[byte] ^= 1 << bit;
                assert!(decode_batch(&b).is_err(), "flip at byte {byte} bit {bit} went undetected");
            }
        }
    }

    #[test]
    fn scan_stops_at_torn_tail() {
        let recs = sample();
        let refs: Vec<RecordRef<'_>> = recs.iter().map(RecordRef::from).collect();
        let mut buf = Vec::new();
        encode_batch(&mut buf, &refs);
        let one = buf.len();
        let refs2: Vec<RecordRef<'_>> =
            recs.iter().map(|r| RecordRef { offset: r.offset + 10, ..RecordRef::from(r) }).collect();
        encode_batch(&mut buf, &refs2);
        let s = scan_batches(&buf[..buf.len() - 3], 7);
        assert_eq!(s.valid_bytes, one as u64);
        assert_eq!(s.batches.len(), 1);
        assert!(s.stopped.is_some());
        let s = scan_batches(&buf, 7);
        assert_eq!(s.batches.len(), 2);
        assert!(s.stopped.is_none());
    }
}
