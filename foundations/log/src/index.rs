//! Sparse offset and time indexes of a segment (formats in docs/log-format.md).
//!
//! Both are derived data: they are rebuilt from the segment whenever they are missing or fail
//! validation, so they are written and synced only when a segment is sealed.
//!
//! ```text
//! offset index entry (8 bytes):  u32 relative_offset, u32 byte_position   (both strictly increasing)
//! time index entry  (12 bytes):  i64 max_timestamp_so_far_ms, u32 relative_offset
//!                                (timestamps strictly increasing, offsets strictly increasing)
//! ```

use crate::record::DecodeError;

/// Bytes per offset-index entry.
pub const OFFSET_INDEX_ENTRY_BYTES: usize = 8;
/// Bytes per time-index entry.
pub const TIME_INDEX_ENTRY_BYTES: usize = 12;

/// One offset-index entry: the batch starting at `relative_offset` begins at `position`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetEntry {
    /// Batch base offset minus the segment's base offset.
    pub relative_offset: u32,
    /// Byte position of the batch in the segment file.
    pub position: u32,
}

/// One time-index entry: the largest timestamp of every record up to and including the batch
/// that starts at `relative_offset` is `timestamp_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeEntry {
    /// Largest timestamp seen up to and including the indexed batch.
    pub timestamp_ms: i64,
    /// Base offset of the indexed batch minus the segment's base offset.
    pub relative_offset: u32,
}

/// Encode an offset index.
pub fn encode_offset_index(entries: &[OffsetEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * OFFSET_INDEX_ENTRY_BYTES);
    for e in entries {
        out.extend_from_slice(&e.relative_offset.to_le_bytes());
        out.extend_from_slice(&e.position.to_le_bytes());
    }
    out
}

/// Encode a time index.
pub fn encode_time_index(entries: &[TimeEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * TIME_INDEX_ENTRY_BYTES);
    for e in entries {
        out.extend_from_slice(&e.timestamp_ms.to_le_bytes());
        out.extend_from_slice(&e.relative_offset.to_le_bytes());
    }
    out
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Decode and validate an offset index: whole entries, both fields strictly increasing.
pub fn decode_offset_index(bytes: &[u8]) -> Result<Vec<OffsetEntry>, DecodeError> {
    if !bytes.len().is_multiple_of(OFFSET_INDEX_ENTRY_BYTES) {
        return Err(DecodeError(format!(
            "offset index length {} is not a multiple of {OFFSET_INDEX_ENTRY_BYTES}",
            bytes.len()
        )));
    }
    let mut out: Vec<OffsetEntry> = Vec::with_capacity(bytes.len() / OFFSET_INDEX_ENTRY_BYTES);
    for (i, c) in bytes.chunks_exact(OFFSET_INDEX_ENTRY_BYTES).enumerate() {
        let e = OffsetEntry { relative_offset: le_u32(&c[0..4]), position: le_u32(&c[4..8]) };
        if let Some(p) = out.last()
            && (e.relative_offset <= p.relative_offset || e.position <= p.position)
        {
            return Err(DecodeError(format!("offset index entry {i} does not increase")));
        }
        out.push(e);
    }
    Ok(out)
}

/// Decode and validate a time index: whole entries, both fields strictly increasing.
pub fn decode_time_index(bytes: &[u8]) -> Result<Vec<TimeEntry>, DecodeError> {
    if !bytes.len().is_multiple_of(TIME_INDEX_ENTRY_BYTES) {
        return Err(DecodeError(format!(
            "time index length {} is not a multiple of {TIME_INDEX_ENTRY_BYTES}",
            bytes.len()
        )));
    }
    let mut out: Vec<TimeEntry> = Vec::with_capacity(bytes.len() / TIME_INDEX_ENTRY_BYTES);
    for (i, c) in bytes.chunks_exact(TIME_INDEX_ENTRY_BYTES).enumerate() {
        let ts = i64::from_le_bytes(c[0..8].try_into().expect("8 bytes"));
        let e = TimeEntry { timestamp_ms: ts, relative_offset: le_u32(&c[8..12]) };
        if let Some(p) = out.last()
            && (e.timestamp_ms <= p.timestamp_ms || e.relative_offset <= p.relative_offset)
        {
            return Err(DecodeError(format!("time index entry {i} does not increase")));
        }
        out.push(e);
    }
    Ok(out)
}

/// Position to start scanning for `relative_offset`: the last entry at or before it, else 0.
pub fn lookup_position(entries: &[OffsetEntry], relative_offset: u32) -> u32 {
    let i = entries.partition_point(|e| e.relative_offset <= relative_offset);
    if i == 0 { 0 } else { entries[i - 1].position }
}

/// Relative offset to start scanning for the first record with timestamp >= `timestamp_ms`:
/// the last entry whose running maximum is still below the target (everything before it is
/// older), else the segment start.
pub fn lookup_time(entries: &[TimeEntry], timestamp_ms: i64) -> u32 {
    let i = entries.partition_point(|e| e.timestamp_ms < timestamp_ms);
    if i == 0 { 0 } else { entries[i - 1].relative_offset }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_round_trip_and_look_up() {
        let oi = vec![
            OffsetEntry { relative_offset: 0, position: 0 },
            OffsetEntry { relative_offset: 10, position: 4096 },
            OffsetEntry { relative_offset: 25, position: 9000 },
        ];
        assert_eq!(decode_offset_index(&encode_offset_index(&oi)).unwrap(), oi);
        assert_eq!(lookup_position(&oi, 0), 0);
        assert_eq!(lookup_position(&oi, 12), 4096);
        assert_eq!(lookup_position(&oi, 99), 9000);
        let ti = vec![
            TimeEntry { timestamp_ms: 100, relative_offset: 0 },
            TimeEntry { timestamp_ms: 200, relative_offset: 10 },
        ];
        assert_eq!(decode_time_index(&encode_time_index(&ti)).unwrap(), ti);
        assert_eq!(lookup_time(&ti, 50), 0);
        assert_eq!(lookup_time(&ti, 150), 0);
        assert_eq!(lookup_time(&ti, 250), 10);
    }

    #[test]
    fn invalid_indexes_are_rejected() {
        assert!(decode_offset_index(&[0; 7]).is_err());
        let bad = encode_offset_index(&[
            OffsetEntry { relative_offset: 5, position: 10 },
            OffsetEntry { relative_offset: 5, position: 20 },
        ]);
        assert!(decode_offset_index(&bad).is_err());
        assert!(decode_time_index(&[0; 13]).is_err());
    }
}
