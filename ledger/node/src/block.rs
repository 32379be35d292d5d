//! Journal blocks: one batch of commands with its timestamp and outcomes, chained to the previous
//! block by SHA-256 and signed with the node's ed25519 key. The byte format, the hash and the
//! signature are specified in docs/journal-format.md; this module is the reference encoder and a
//! decoder that never panics on any input.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! [0,4)        magic "AUJB"
//! [4,6)        version u16 = 1
//! [6,8)        flags u16 = 0
//! [8,16)       seq u64 (1 = genesis block)
//! [16,24)      timestamp u64 (ns since the Unix epoch; the batch context timestamp)
//! [24,56)      prev_hash (32 bytes; zeros for seq 1)
//! [56,60)      command_count u32
//! [60,64)      commands_len u32 = C
//! [64,64+C)    the commands, each in the canonical codec encoding, back to back
//! +4           result_len u32 = R
//! +R           the batch result (expiries and outcomes), canonical codec encoding
//! +32          hash = SHA-256 of every byte before it
//! +64          signature = ed25519 signature of the 32-byte hash by the node key
//! ```

use aurum_ledger::codec::{decode_batch_result, decode_command, encode_batch_result, encode_command};
use aurum_ledger::{BatchResult, Command, MAX_BATCH_COMMANDS, Timestamp};
use sha2::{Digest, Sha256};

use crate::keys::{self, NodeKey, SIGNATURE_BYTES};

/// The four bytes every block starts with (ASCII `AUJB`: AUrum Journal Block).
pub const BLOCK_MAGIC: [u8; 4] = *b"AUJB";
/// The block format version this code writes and reads.
pub const BLOCK_VERSION: u16 = 1;
/// Size of a SHA-256 hash.
pub const HASH_BYTES: usize = 32;
/// Bytes before the commands: magic, version, flags, seq, timestamp, prev_hash, command count,
/// commands length.
pub const BLOCK_HEADER_BYTES: usize = 64;
/// Bytes of a block that are not commands or result: header, result length, hash, signature.
pub const BLOCK_OVERHEAD_BYTES: usize = BLOCK_HEADER_BYTES + 4 + HASH_BYTES + SIGNATURE_BYTES;
/// Largest encoded block: a block is one log record, whose value is at most this many bytes.
pub const MAX_BLOCK_BYTES: usize = aurum_log::record::MAX_VALUE_BYTES;
/// Most commands in one block (one batch).
pub const MAX_BLOCK_COMMANDS: usize = MAX_BATCH_COMMANDS;
/// The previous-hash of the genesis block (seq 1).
pub const GENESIS_PREV_HASH: [u8; HASH_BYTES] = [0; HASH_BYTES];

/// Why bytes are not a valid block. Framing errors (the block's own structure) are distinguished
/// from errors inside a command or result encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// Fewer bytes than the smallest possible block.
    #[error("block is {len} bytes, shorter than the minimum {min}")]
    TooShort {
        /// Bytes given.
        len: usize,
        /// Smallest block.
        min: usize,
    },
    /// More bytes than [`MAX_BLOCK_BYTES`].
    #[error("block is {len} bytes, more than the limit {max}")]
    TooLarge {
        /// Bytes given.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The first four bytes are not `AUJB`.
    #[error("bad block magic {found:02x?}, expected {BLOCK_MAGIC:02x?} (\"AUJB\")")]
    BadMagic {
        /// The bytes found.
        found: [u8; 4],
    },
    /// A format version this code does not know.
    #[error("unsupported block version {found}, expected {BLOCK_VERSION}")]
    UnsupportedVersion {
        /// The version found.
        found: u16,
    },
    /// Flags other than 0.
    #[error("unknown block flags {found:#06x}")]
    UnknownFlags {
        /// The flags found.
        found: u16,
    },
    /// More commands than a batch may hold.
    #[error("block declares {count} commands, more than the limit {max}")]
    TooManyCommands {
        /// Declared count.
        count: u32,
        /// The limit.
        max: usize,
    },
    /// A length field points past the end of the block or leaves bytes over.
    #[error("block framing: {what} declares {declared} bytes at byte {at}, but {available} bytes are available")]
    Framing {
        /// Which section.
        what: &'static str,
        /// Byte position of the length field.
        at: usize,
        /// Declared length.
        declared: u64,
        /// Bytes actually available for it.
        available: u64,
    },
    /// A command failed to decode.
    #[error("command {index} (at byte {at}) does not decode: {reason}")]
    Command {
        /// Index of the command in the block.
        index: usize,
        /// Byte position in the block.
        at: usize,
        /// The codec's reason.
        reason: String,
    },
    /// The commands section holds a different number of commands than declared.
    #[error("commands section: {reason}")]
    CommandCount {
        /// What is wrong.
        reason: String,
    },
    /// The batch result failed to decode or does not fill its section.
    #[error("batch result (at byte {at}) does not decode: {reason}")]
    Result {
        /// Byte position in the block.
        at: usize,
        /// The codec's reason.
        reason: String,
    },
    /// The batch result has a different number of outcomes than the block has commands.
    #[error("block has {commands} commands but {outcomes} outcomes")]
    OutcomeCount {
        /// Commands.
        commands: usize,
        /// Outcomes.
        outcomes: usize,
    },
    /// A block with seq 0, or a genesis block with a non-zero previous hash.
    #[error("invalid chain position: {reason}")]
    Chain {
        /// What is wrong.
        reason: String,
    },
}

/// A sealed journal block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Sequence number: 1 for the genesis block, then +1 per block.
    pub seq: u64,
    /// Hash of the previous block ([`GENESIS_PREV_HASH`] for seq 1).
    pub prev_hash: [u8; HASH_BYTES],
    /// The batch timestamp given to the state machine (`BatchContext::timestamp`).
    pub timestamp: Timestamp,
    /// The commands, in order.
    pub commands: Vec<Command>,
    /// What the state machine did: expiries, then one outcome per command.
    pub result: BatchResult,
    /// SHA-256 of the block's bytes before the hash field ([`Block::compute_hash`]).
    pub hash: [u8; HASH_BYTES],
    /// Ed25519 signature of `hash` by the node key.
    pub signature: [u8; SIGNATURE_BYTES],
}

/// SHA-256 of `bytes`, as an array.
pub fn sha256(bytes: &[u8]) -> [u8; HASH_BYTES] {
    Sha256::digest(bytes).into()
}

/// The hash of an encoded block: SHA-256 of every byte before the hash field, i.e. all but the
/// last 96 bytes. `None` if `encoded` is shorter than a block can be.
pub fn hash_of_encoded(encoded: &[u8]) -> Option<[u8; HASH_BYTES]> {
    if encoded.len() < BLOCK_OVERHEAD_BYTES {
        return None;
    }
    Some(sha256(&encoded[..encoded.len() - HASH_BYTES - SIGNATURE_BYTES]))
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// Encode the hashed part of a block (everything before the hash field).
fn encode_body(
    seq: u64,
    prev_hash: &[u8; HASH_BYTES],
    timestamp: Timestamp,
    commands: &[Command],
    result: &BatchResult,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(BLOCK_OVERHEAD_BYTES + 64 * commands.len());
    out.extend_from_slice(&BLOCK_MAGIC);
    put_u16(&mut out, BLOCK_VERSION);
    put_u16(&mut out, 0);
    put_u64(&mut out, seq);
    put_u64(&mut out, timestamp.0);
    out.extend_from_slice(prev_hash);
    // Lengths that do not fit a u32 are saturated; such a block exceeds MAX_BLOCK_BYTES and is
    // refused by the journal and by the decoder.
    put_u32(&mut out, u32::try_from(commands.len()).unwrap_or(u32::MAX));
    let commands_len_at = out.len();
    put_u32(&mut out, 0);
    for command in commands {
        encode_command(command, &mut out);
    }
    let commands_len = out.len() - BLOCK_HEADER_BYTES;
    out[commands_len_at..commands_len_at + 4]
        .copy_from_slice(&u32::try_from(commands_len).unwrap_or(u32::MAX).to_le_bytes());
    let result_len_at = out.len();
    put_u32(&mut out, 0);
    encode_batch_result(result, &mut out);
    let result_len = out.len() - result_len_at - 4;
    out[result_len_at..result_len_at + 4].copy_from_slice(&u32::try_from(result_len).unwrap_or(u32::MAX).to_le_bytes());
    out
}

impl Block {
    /// Build a block and seal it: compute its hash over the canonical bytes and sign the hash.
    pub fn seal(
        seq: u64,
        prev_hash: [u8; HASH_BYTES],
        timestamp: Timestamp,
        commands: Vec<Command>,
        result: BatchResult,
        key: &NodeKey,
    ) -> Block {
        debug_assert!(seq >= 1, "block seq starts at 1");
        debug_assert!(seq != 1 || prev_hash == GENESIS_PREV_HASH, "genesis block must have a zero prev_hash");
        debug_assert_eq!(commands.len(), result.outcomes.len(), "one outcome per command");
        let body = encode_body(seq, &prev_hash, timestamp, &commands, &result);
        let hash = sha256(&body);
        let signature = key.sign(&hash);
        Block { seq, prev_hash, timestamp, commands, result, hash, signature }
    }

    /// The canonical encoding (docs/journal-format.md). Its length may exceed
    /// [`MAX_BLOCK_BYTES`] for an oversized batch; the journal refuses such blocks.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = encode_body(self.seq, &self.prev_hash, self.timestamp, &self.commands, &self.result);
        out.extend_from_slice(&self.hash);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Recompute the hash from the block's fields: SHA-256 of the canonical encoding of
    /// everything before the hash field. Equals `self.hash` for an untampered block.
    pub fn compute_hash(&self) -> [u8; HASH_BYTES] {
        sha256(&encode_body(self.seq, &self.prev_hash, self.timestamp, &self.commands, &self.result))
    }

    /// Whether `signature` is a valid ed25519 signature of the stored `hash` by `public_key`.
    /// (Whether `hash` is the right hash is [`Block::compute_hash`]'s question.)
    pub fn verify_signature(&self, public_key: &[u8; 32]) -> bool {
        keys::verify(public_key, &self.hash, &self.signature)
    }

    /// Decode a block. Never panics; allocates at most in proportion to `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Block, BlockError> {
        let len = bytes.len();
        if len < BLOCK_OVERHEAD_BYTES {
            return Err(BlockError::TooShort { len, min: BLOCK_OVERHEAD_BYTES });
        }
        if len > MAX_BLOCK_BYTES {
            return Err(BlockError::TooLarge { len, max: MAX_BLOCK_BYTES });
        }
        let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
        if magic != BLOCK_MAGIC {
            return Err(BlockError::BadMagic { found: magic });
        }
        let version = u16_at(bytes, 4);
        if version != BLOCK_VERSION {
            return Err(BlockError::UnsupportedVersion { found: version });
        }
        let flags = u16_at(bytes, 6);
        if flags != 0 {
            return Err(BlockError::UnknownFlags { found: flags });
        }
        let seq = u64_at(bytes, 8);
        let timestamp = Timestamp(u64_at(bytes, 16));
        let mut prev_hash = [0u8; HASH_BYTES];
        prev_hash.copy_from_slice(&bytes[24..56]);
        if seq == 0 {
            return Err(BlockError::Chain { reason: "seq 0 (the first block is seq 1)".into() });
        }
        if seq == 1 && prev_hash != GENESIS_PREV_HASH {
            return Err(BlockError::Chain { reason: "genesis block (seq 1) with a non-zero prev_hash".into() });
        }
        let count = u32_at(bytes, 56);
        if count as usize > MAX_BLOCK_COMMANDS {
            return Err(BlockError::TooManyCommands { count, max: MAX_BLOCK_COMMANDS });
        }
        // Bytes between the end of the header and the result length field.
        let trailer = 4 + HASH_BYTES + SIGNATURE_BYTES;
        let commands_len = u32_at(bytes, 60) as usize;
        let available = len - BLOCK_OVERHEAD_BYTES;
        if commands_len > available {
            return Err(BlockError::Framing {
                what: "commands_len",
                at: 60,
                declared: commands_len as u64,
                available: available as u64,
            });
        }
        let commands_end = BLOCK_HEADER_BYTES + commands_len;
        let result_len = u32_at(bytes, commands_end) as usize;
        let result_available = len - commands_end - trailer;
        if result_len != result_available {
            return Err(BlockError::Framing {
                what: "result_len",
                at: commands_end,
                declared: result_len as u64,
                available: result_available as u64,
            });
        }
        let mut commands = Vec::with_capacity((count as usize).min(commands_len));
        let mut at = BLOCK_HEADER_BYTES;
        for index in 0..count as usize {
            if at >= commands_end {
                return Err(BlockError::CommandCount {
                    reason: format!("declares {count} commands but its {commands_len} bytes end after {index}"),
                });
            }
            let (command, used) =
                decode_command(&bytes[at..commands_end]).map_err(|e| BlockError::Command { index, at, reason: e.0 })?;
            if used == 0 || used > commands_end - at {
                return Err(BlockError::Command { index, at, reason: format!("codec reported {used} bytes consumed") });
            }
            commands.push(command);
            at += used;
        }
        if at != commands_end {
            return Err(BlockError::CommandCount {
                reason: format!("{} bytes left over after {count} commands", commands_end - at),
            });
        }
        let result_at = commands_end + 4;
        let result_end = result_at + result_len;
        let (result, used) = decode_batch_result(&bytes[result_at..result_end])
            .map_err(|e| BlockError::Result { at: result_at, reason: e.0 })?;
        if used != result_len {
            return Err(BlockError::Result {
                at: result_at,
                reason: format!("result used {used} of its {result_len} bytes"),
            });
        }
        if result.outcomes.len() != commands.len() {
            return Err(BlockError::OutcomeCount { commands: commands.len(), outcomes: result.outcomes.len() });
        }
        let mut hash = [0u8; HASH_BYTES];
        hash.copy_from_slice(&bytes[result_end..result_end + HASH_BYTES]);
        let mut signature = [0u8; SIGNATURE_BYTES];
        signature.copy_from_slice(&bytes[result_end + HASH_BYTES..]);
        Ok(Block { seq, prev_hash, timestamp, commands, result, hash, signature })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aurum_ledger::{
        AccountId, AccountKind, AssetId, CreateAccount, CreateAsset, CreateEntry, CreateTransfer, Expiry, Limit,
        Metadata, Outcome, Posting, ResultCode, Side, TransferFlags, TransferId,
    };

    fn sample_commands() -> Vec<Command> {
        let mut metadata = Metadata::new();
        metadata.insert("ref".into(), "inv-7".into());
        vec![
            Command::CreateAsset(CreateAsset { id: AssetId(1), code: "XAU".into(), scale: 3 }),
            Command::CreateAccount(CreateAccount {
                id: AccountId(10),
                asset: AssetId(1),
                kind: AccountKind::Liability,
                limit: Limit::DebitsMustNotExceedCredits { overdraft: 5 },
                history: true,
                metadata: metadata.clone(),
                linked: false,
            }),
            Command::CreateTransfer(CreateTransfer {
                id: TransferId(100),
                debit_account: AccountId(10),
                credit_account: AccountId(11),
                amount: 1234,
                asset: AssetId(1),
                flags: TransferFlags { pending: true, ..TransferFlags::default() },
                timeout_secs: 60,
                metadata,
            }),
            Command::CreateEntry(CreateEntry {
                id: TransferId(101),
                postings: vec![
                    Posting { account: AccountId(10), side: Side::Debit, amount: 7 },
                    Posting { account: AccountId(11), side: Side::Credit, amount: 7 },
                ],
                metadata: Metadata::new(),
                linked: false,
            }),
        ]
    }

    fn sample_result(n: usize) -> BatchResult {
        BatchResult {
            expired: vec![Expiry { transfer: TransferId(99), timestamp: Timestamp(1_000) }],
            outcomes: (0..n)
                .map(|i| Outcome {
                    code: if i == 3 { ResultCode::AccountNotFound } else { ResultCode::Ok },
                    timestamp: Timestamp(1_001 + i as u64),
                    amount: (i == 2).then_some(1234),
                    replayed: false,
                })
                .collect(),
        }
    }

    fn sample_block(key: &NodeKey) -> Block {
        let commands = sample_commands();
        let result = sample_result(commands.len());
        Block::seal(7, [0x5a; 32], Timestamp(1_000), commands, result, key)
    }

    /// What a verifier does with bytes: decode, recompute the hash over the bytes, check the
    /// signature.
    fn verifies(bytes: &[u8], public_key: &[u8; 32]) -> bool {
        match Block::decode(bytes) {
            Ok(b) => hash_of_encoded(bytes) == Some(b.hash) && b.verify_signature(public_key),
            Err(_) => false,
        }
    }

    #[test]
    fn round_trip() {
        let key = NodeKey::from_seed([1; 32]);
        let block = sample_block(&key);
        let bytes = block.encode();
        assert_eq!(&bytes[..4], b"AUJB");
        assert_eq!(hash_of_encoded(&bytes), Some(block.hash));
        assert_eq!(block.compute_hash(), block.hash);
        assert!(block.verify_signature(&key.public_key()));
        let decoded = Block::decode(&bytes).unwrap();
        assert_eq!(decoded, block);
        assert_eq!(decoded.encode(), bytes);
        assert!(!block.verify_signature(&NodeKey::from_seed([2; 32]).public_key()));
        // An empty genesis block.
        let genesis = Block::seal(1, GENESIS_PREV_HASH, Timestamp(5), vec![], BatchResult::default(), &key);
        assert_eq!(Block::decode(&genesis.encode()).unwrap(), genesis);
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let key = NodeKey::from_seed([1; 32]);
        let bytes = sample_block(&key).encode();
        assert!(verifies(&bytes, &key.public_key()));
        for bit in 0..bytes.len() * 8 {
            let mut bad = bytes.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(!verifies(&bad, &key.public_key()), "flip of bit {bit} (byte {}) not detected", bit / 8);
        }
        // Truncations and extensions too.
        for len in 0..bytes.len() {
            assert!(!verifies(&bytes[..len], &key.public_key()), "truncation to {len} bytes not detected");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(!verifies(&longer, &key.public_key()));
    }

    #[test]
    fn changed_field_changes_the_hash() {
        let key = NodeKey::from_seed([1; 32]);
        let block = sample_block(&key);
        let mut b = block.clone();
        b.timestamp = Timestamp(1_001);
        assert_ne!(b.compute_hash(), block.hash);
        let mut b = block.clone();
        b.prev_hash[31] ^= 1;
        assert_ne!(b.compute_hash(), block.hash);
        let mut b = block.clone();
        b.result.outcomes[0].timestamp = Timestamp(2);
        assert_ne!(b.compute_hash(), block.hash);
        let mut b = block.clone();
        if let Command::CreateTransfer(t) = &mut b.commands[2] {
            t.amount += 1;
        }
        assert_ne!(b.compute_hash(), block.hash);
    }

    #[test]
    fn outcome_count_must_match() {
        let key = NodeKey::from_seed([1; 32]);
        let commands = sample_commands();
        let body = encode_body(3, &[1; 32], Timestamp(1), &commands, &sample_result(commands.len() - 1));
        let mut bytes = body.clone();
        let hash = sha256(&body);
        bytes.extend_from_slice(&hash);
        bytes.extend_from_slice(&key.sign(&hash));
        assert!(matches!(Block::decode(&bytes), Err(BlockError::OutcomeCount { commands: 4, outcomes: 3 })));
    }

    #[test]
    fn chain_position_is_checked() {
        let key = NodeKey::from_seed([1; 32]);
        let mut bytes = Block::seal(1, GENESIS_PREV_HASH, Timestamp(5), vec![], BatchResult::default(), &key).encode();
        bytes[30] = 1; // prev_hash of a genesis block
        assert!(matches!(Block::decode(&bytes), Err(BlockError::Chain { .. })));
        bytes[30] = 0;
        bytes[8] = 0; // seq 0
        assert!(matches!(Block::decode(&bytes), Err(BlockError::Chain { .. })));
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = aurum_vfs::rng::SplitMix64::new(7);
        for len in [0usize, 1, 50, 163, 164, 165, 200, 1000] {
            for _ in 0..50 {
                let bytes: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
                assert!(Block::decode(&bytes).is_err());
            }
        }
        // A well-framed header with nonsense lengths.
        let mut b = vec![0u8; BLOCK_OVERHEAD_BYTES];
        b[..4].copy_from_slice(&BLOCK_MAGIC);
        b[4] = 1;
        b[8] = 2;
        b[60..64].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(Block::decode(&b), Err(BlockError::Framing { what: "commands_len", .. })));
        b[60..64].copy_from_slice(&0u32.to_le_bytes());
        b[64..68].copy_from_slice(&5u32.to_le_bytes());
        assert!(matches!(Block::decode(&b), Err(BlockError::Framing { what: "result_len", .. })));
        b[56..60].copy_from_slice(&1_000_000u32.to_le_bytes());
        assert!(matches!(Block::decode(&b), Err(BlockError::TooManyCommands { .. })));
        b[56..60].copy_from_slice(&1u32.to_le_bytes());
        b[64..68].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(Block::decode(&b), Err(BlockError::CommandCount { .. })));
        b[4] = 2;
        assert!(matches!(Block::decode(&b), Err(BlockError::UnsupportedVersion { found: 2 })));
        b[0] = b'X';
        assert!(matches!(Block::decode(&b), Err(BlockError::BadMagic { .. })));
        assert!(matches!(Block::decode(&b[..10]), Err(BlockError::TooShort { .. })));
    }

    #[test]
    fn hash_of_encoded_needs_a_whole_trailer() {
        assert_eq!(hash_of_encoded(&[0u8; 10]), None);
        let b = vec![1u8; BLOCK_OVERHEAD_BYTES + 5];
        assert_eq!(hash_of_encoded(&b), Some(sha256(&b[..b.len() - 96])));
    }
}
#[cfg(test)]
mod test_vector {
    use super::*;

    /// The worked example of docs/journal-format.md ("Test vector"): keep them in sync.
    #[test]
    fn documented_test_vector() {
        let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap();
        let key = NodeKey::from_seed(seed.try_into().unwrap());
        let timestamp = Timestamp(1_700_000_000_000_000_000);
        let block = Block::seal(1, GENESIS_PREV_HASH, timestamp, vec![], BatchResult::default(), &key);
        let body = "41554a42010000000100000000000000\
                    00002a36fe9c97170000000000000000\
                    00000000000000000000000000000000\
                    00000000000000000000000000000000\
                    080000000000000000000000";
        let hash = "37e010ef1c52813d1bb416876307461a148898af5b4966621edd817ea55d49c2";
        let sig = "d9ffc4ca4c0ca510f88c835875f6273e79da51314345be1f783cb0ca7d8fee04\
                   665632e5f1cb1af00e7c260ff07c8e836012b1225f61750c319bea885c4b7902";
        let body: String = body.split_whitespace().collect();
        let sig: String = sig.split_whitespace().collect();
        assert_eq!(hex::encode(block.encode()), format!("{body}{hash}{sig}"));
        assert_eq!(hex::encode(sha256(&hex::decode(&body).unwrap())), hash);
        assert!(keys::verify(&key.public_key(), &block.hash, &block.signature));
    }
}
