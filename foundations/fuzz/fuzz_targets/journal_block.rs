//! Fuzz the journal's block decoder (docs/journal-format.md): a block that decodes re-encodes to the
//! bytes it came from, so no two byte strings decode to the same block. Checksums and hashes are
//! left as they are: a valid signature is out of the fuzzer's reach, and the decoder must stand on
//! its own before any of them is checked.
#![no_main]
use aurum_ledger_node::block::Block;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = Block::decode(data) {
        assert_eq!(block.encode(), data, "a block re-encodes to its bytes");
    }
});
