//! Write batches: a group of puts and deletes applied atomically.

use crate::format::{BatchOp, OP_OVERHEAD_BYTES};
use crate::{Error, MAX_BATCH_BYTES, MAX_BATCH_OPS, MAX_KEY_BYTES, MAX_VALUE_BYTES};

/// Puts and deletes that [`crate::Db::write`] applies atomically: after a crash either all of
/// them are visible or none. Later ops on the same key win.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    pub(crate) ops: Vec<BatchOp>,
    /// Encoded size, kept up to date so limits are checked in O(1).
    pub(crate) bytes: usize,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    /// Set `key` to `value`.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> &mut Self {
        self.bytes += OP_OVERHEAD_BYTES + key.len() + value.len();
        self.ops.push(BatchOp { key: key.to_vec(), value: Some(value.to_vec()) });
        self
    }

    /// Remove `key`.
    pub fn delete(&mut self, key: &[u8]) -> &mut Self {
        self.bytes += OP_OVERHEAD_BYTES + key.len();
        self.ops.push(BatchOp { key: key.to_vec(), value: None });
        self
    }

    /// Number of ops.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch has no ops.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Encoded size in bytes (what counts against [`MAX_BATCH_BYTES`]).
    pub fn encoded_bytes(&self) -> usize {
        self.bytes
    }

    /// Check every named limit; called before anything touches the disk.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.ops.len() > MAX_BATCH_OPS || self.bytes > MAX_BATCH_BYTES {
            return Err(Error::BatchTooLarge {
                ops: self.ops.len(),
                bytes: self.bytes,
                ops_limit: MAX_BATCH_OPS,
                bytes_limit: MAX_BATCH_BYTES,
            });
        }
        for op in &self.ops {
            if op.key.len() > MAX_KEY_BYTES {
                return Err(Error::KeyTooLarge { len: op.key.len(), limit: MAX_KEY_BYTES });
            }
            if let Some(v) = &op.value
                && v.len() > MAX_VALUE_BYTES
            {
                return Err(Error::ValueTooLarge { len: v.len(), limit: MAX_VALUE_BYTES });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_with_named_errors() {
        let mut b = WriteBatch::new();
        b.put(&vec![0; MAX_KEY_BYTES + 1], b"v");
        assert!(matches!(b.validate(), Err(Error::KeyTooLarge { .. })));
        let mut b = WriteBatch::new();
        b.put(b"k", &vec![0; MAX_VALUE_BYTES + 1]);
        assert!(matches!(b.validate(), Err(Error::ValueTooLarge { .. })));
        let mut b = WriteBatch::new();
        b.put(b"k", b"v").delete(b"k");
        assert_eq!(b.len(), 2);
        assert_eq!(b.encoded_bytes(), 2 * OP_OVERHEAD_BYTES + 3);
        assert!(b.validate().is_ok());
    }
}
