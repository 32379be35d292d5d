//! Canonical binary encodings of commands, batch results and ledger snapshots: the bytes that the
//! journal hashes and signs (docs/journal-format.md). Decoders never panic on any input.

use crate::command::Command;
use crate::outcome::BatchResult;

/// Why bytes failed to decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

/// Append the canonical encoding of a command.
pub fn encode_command(_command: &Command, _out: &mut Vec<u8>) {
    unimplemented!("helper A implements the codec")
}

/// Decode one command from the start of `buf`; returns it and the bytes consumed.
pub fn decode_command(_buf: &[u8]) -> Result<(Command, usize), DecodeError> {
    unimplemented!("helper A implements the codec")
}

/// Append the canonical encoding of a batch result (expiries and outcomes).
pub fn encode_batch_result(_result: &BatchResult, _out: &mut Vec<u8>) {
    unimplemented!("helper A implements the codec")
}

/// Decode a batch result from the start of `buf`; returns it and the bytes consumed.
pub fn decode_batch_result(_buf: &[u8]) -> Result<(BatchResult, usize), DecodeError> {
    unimplemented!("helper A implements the codec")
}
