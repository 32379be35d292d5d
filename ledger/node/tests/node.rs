//! Integration tests of `aurum-ledger-node`.
//!
//! Sections:
//! 1. Journal, blocks, keys and audit (tamper tests): every tamper is detected and located.
//! 2. Engine (below the marked line; added by the engine's owner).

// =============================================================================================
// 1. Journal, blocks, keys and audit
// =============================================================================================

mod journal_audit {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use aurum_ledger::{
        AccountId, AccountKind, AssetId, BatchContext, Command, CreateAccount, CreateAsset, CreateEntry,
        CreateTransfer, Ledger, Limit, Metadata, PostPending, Posting, Side, Timestamp, TransferFlags, TransferId,
        VoidPending,
    };
    use aurum_ledger_node::audit::{AuditConfig, AuditReport, AuditStart, DivergenceKind, audit, audit_keep_state};
    use aurum_ledger_node::block::{Block, GENESIS_PREV_HASH};
    use aurum_ledger_node::journal::{
        AckStrength, JOURNAL_PARTITION, JOURNAL_TOPIC, Journal, JournalAck, JournalBackend, JournalError,
        JournalExtent, JournalPolicy, JournalReader, RecordIter, StoredRecord, journal_topic_config, record_key,
    };
    use aurum_ledger_node::keys::{NodeKey, verify};
    use aurum_log::{Log, LogOptions, ProducerRecord, TopicConfig};
    use aurum_vfs::SimVfs;
    use aurum_vfs::rng::SplitMix64;

    const T0_NS: u64 = 1_700_000_000_000_000_000;
    const BLOCK_GAP_NS: u64 = 400_000_000;
    const VAULT: AccountId = AccountId(1);
    const CUSTOMERS: [AccountId; 4] = [AccountId(2), AccountId(3), AccountId(4), AccountId(5)];
    const XAU: AssetId = AssetId(1);

    fn node_key() -> NodeKey {
        NodeKey::from_seed([0x11; 32])
    }

    fn open_log(vfs: &SimVfs, root: &str) -> Log {
        Log::open(Arc::new(vfs.clone()), Path::new(root), LogOptions::default()).unwrap()
    }

    fn transfer(id: u128, from: AccountId, to: AccountId, amount: u128) -> Command {
        Command::CreateTransfer(CreateTransfer {
            id: TransferId(id),
            debit_account: from,
            credit_account: to,
            amount,
            asset: XAU,
            flags: TransferFlags::default(),
            timeout_secs: 0,
            metadata: Metadata::new(),
        })
    }

    /// A deterministic workload: setup, funding, then transfers (some failing for insufficient
    /// funds), pending transfers with short timeouts (some expire, some are posted or voided),
    /// and journal entries.
    fn workload(blocks: u64, seed: u64) -> Vec<(Timestamp, Vec<Command>)> {
        let mut rng = SplitMix64::new(seed);
        let mut batches = Vec::new();
        let mut setup = vec![Command::CreateAsset(CreateAsset { id: XAU, code: "XAU".into(), scale: 3 })];
        setup.push(Command::CreateAccount(CreateAccount {
            id: VAULT,
            asset: XAU,
            kind: AccountKind::Asset,
            limit: Limit::None,
            history: false,
            metadata: Metadata::new(),
            linked: false,
        }));
        for id in CUSTOMERS {
            setup.push(Command::CreateAccount(CreateAccount {
                id,
                asset: XAU,
                kind: AccountKind::Liability,
                limit: Limit::DebitsMustNotExceedCredits { overdraft: 0 },
                history: true,
                metadata: Metadata::new(),
                linked: false,
            }));
        }
        batches.push(setup);
        let mut next_id = 1000u128;
        batches.push(
            CUSTOMERS
                .iter()
                .map(|&c| {
                    next_id += 1;
                    transfer(next_id, VAULT, c, 1_000_000)
                })
                .collect(),
        );
        let mut pendings: Vec<u128> = Vec::new();
        for b in 3..=blocks {
            let mut commands = Vec::new();
            for _ in 0..rng.range_inclusive(2, 7) {
                next_id += 1;
                let from = CUSTOMERS[rng.below(4) as usize];
                let to = CUSTOMERS[rng.below(4) as usize];
                let to = if to == from { VAULT } else { to };
                match rng.below(10) {
                    0 | 1 => {
                        commands.push(Command::CreateTransfer(CreateTransfer {
                            id: TransferId(next_id),
                            debit_account: from,
                            credit_account: to,
                            amount: 1 + u128::from(rng.below(50_000)),
                            asset: XAU,
                            flags: TransferFlags { pending: true, ..TransferFlags::default() },
                            timeout_secs: 1,
                            metadata: Metadata::new(),
                        }));
                        pendings.push(next_id);
                    }
                    2 if !pendings.is_empty() => {
                        let p = pendings.remove(rng.below(pendings.len() as u64) as usize);
                        commands.push(Command::PostPending(PostPending {
                            id: TransferId(next_id),
                            pending_id: TransferId(p),
                            amount: None,
                            metadata: Metadata::new(),
                            linked: false,
                        }));
                    }
                    3 if !pendings.is_empty() => {
                        let p = pendings.remove(0);
                        commands.push(Command::VoidPending(VoidPending {
                            id: TransferId(next_id),
                            pending_id: TransferId(p),
                            metadata: Metadata::new(),
                            linked: false,
                        }));
                    }
                    4 => {
                        let amount = 1 + u128::from(rng.below(1000));
                        commands.push(Command::CreateEntry(CreateEntry {
                            id: TransferId(next_id),
                            postings: vec![
                                Posting { account: from, side: Side::Debit, amount },
                                Posting { account: to, side: Side::Credit, amount },
                            ],
                            metadata: Metadata::new(),
                            linked: false,
                        }));
                    }
                    _ => commands.push(transfer(next_id, from, to, 1 + u128::from(rng.below(400_000)))),
                }
            }
            let _ = b;
            batches.push(commands);
        }
        batches.into_iter().enumerate().map(|(i, c)| (Timestamp(T0_NS + i as u64 * BLOCK_GAP_NS), c)).collect()
    }

    /// Apply the workload with the real state machine and seal each batch into a block.
    fn build_chain(key: &NodeKey, blocks: u64) -> (Vec<Block>, Ledger) {
        let mut ledger = Ledger::new();
        let mut chain: Vec<Block> = Vec::new();
        for (i, (timestamp, commands)) in workload(blocks, 42).into_iter().enumerate() {
            let seq = i as u64 + 1;
            let result = ledger.apply(BatchContext { seq, timestamp }, &commands);
            let prev = chain.last().map_or(GENESIS_PREV_HASH, |b| b.hash);
            chain.push(Block::seal(seq, prev, timestamp, commands, result, key));
        }
        ledger.check_invariants().unwrap();
        (chain, ledger)
    }

    /// The standard test chain (30 blocks), built once per test (fast: well under a millisecond
    /// per block).
    fn chain() -> (Vec<Block>, Ledger) {
        let (chain, ledger) = build_chain(&node_key(), 30);
        let expiries: usize = chain.iter().map(|b| b.result.expired.len()).sum();
        assert!(expiries > 0, "the workload must exercise expiries");
        let failures = chain.iter().flat_map(|b| &b.result.outcomes).filter(|o| !o.code.is_ok()).count();
        assert!(failures > 0, "the workload must exercise rejections");
        (chain, ledger)
    }

    /// Write blocks through the real journal writer.
    fn write_journal(vfs: &SimVfs, root: &str, blocks: &[Block]) -> Journal {
        let journal = Journal::open(open_log(vfs, root)).unwrap();
        for b in blocks {
            journal.append(b).unwrap();
        }
        journal
    }

    /// Write arbitrary records (key = the block's own seq) straight into a fresh journal topic:
    /// what an attacker with write access to the files could produce — every log CRC is valid.
    fn write_raw(vfs: &SimVfs, root: &str, values: &[Vec<u8>]) -> JournalReader {
        let log = open_log(vfs, root);
        log.create_topic(JOURNAL_TOPIC, journal_topic_config()).unwrap();
        for v in values {
            let key = match Block::decode(v) {
                Ok(b) => record_key(b.seq).to_vec(),
                Err(_) => vec![0; 8],
            };
            log.append(JOURNAL_TOPIC, JOURNAL_PARTITION, &[ProducerRecord::new(key, v.clone())]).unwrap();
        }
        JournalReader::new(log)
    }

    fn encode_all(blocks: &[Block]) -> Vec<Vec<u8>> {
        blocks.iter().map(Block::encode).collect()
    }

    fn config(live: Option<&Ledger>, head: Option<(u64, [u8; 32])>) -> AuditConfig<'_> {
        AuditConfig { live, expected_head: head, ..AuditConfig::new(node_key().public_key()) }
    }

    fn run(reader: &JournalReader, live: Option<&Ledger>, head: Option<(u64, [u8; 32])>) -> AuditReport {
        audit(reader, config(live, head)).unwrap()
    }

    fn assert_diverges(report: &AuditReport, kind: DivergenceKind, seq: u64) {
        let d = report.first_divergence.as_ref().unwrap_or_else(|| panic!("no divergence found:\n{report}"));
        assert_eq!((d.kind, d.seq), (kind, seq), "wrong divergence: {d}");
        // Rendering works and names the block.
        assert!(report.to_string().contains(&format!("at block {seq}")), "{report}");
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["first_divergence"]["kind"], kind.as_str());
        assert_eq!(json["first_divergence"]["seq"], seq);
        assert_eq!(json["ok"], false);
    }

    fn head_of(blocks: &[Block]) -> Option<(u64, [u8; 32])> {
        blocks.last().map(|b| (b.seq, b.hash))
    }

    /// Log offset of block `seq` is `seq - 1`; the byte where its batch starts in the segment
    /// file that holds it: the sum of the preceding batches' sizes in that segment (one record
    /// per batch: 42-byte batch header + 34 bytes of record framing with an 8-byte key + value;
    /// docs/log-format.md).
    fn batch_position(vfs: &SimVfs, root: &str, blocks: &[Block], seq: u64) -> (PathBuf, u64) {
        let dir = Path::new(root).join("topics").join(JOURNAL_TOPIC).join("0");
        let mut segments: Vec<u64> = vfs
            .file_paths()
            .into_iter()
            .filter(|p| p.parent() == Some(dir.as_path()) && p.extension().is_some_and(|e| e == "log"))
            .map(|p| p.file_stem().unwrap().to_str().unwrap().parse().unwrap())
            .collect();
        segments.sort_unstable();
        let offset = seq - 1;
        let base = *segments.iter().rev().find(|&&b| b <= offset).unwrap();
        let position: u64 = (base..offset).map(|o| 42 + 34 + blocks[o as usize].encode().len() as u64).sum();
        (dir.join(format!("{base:020}.log")), position)
    }

    // ----- keys ------------------------------------------------------------------------------

    #[test]
    fn node_key_is_created_once_and_reloaded() {
        let vfs = SimVfs::new(1);
        let open =
            || aurum_kv::Db::open(Arc::new(vfs.clone()), Path::new("/kv"), aurum_kv::Options::default()).unwrap();
        let first = NodeKey::load_or_create(&open()).unwrap();
        let again = NodeKey::load_or_create(&open()).unwrap();
        assert_eq!(first.public_key(), again.public_key());
        assert_eq!(first.public_key_hex().len(), 64);
        let msg = [9u8; 32];
        assert!(verify(&first.public_key(), &msg, &again.sign(&msg)));
        // Another store gets another key.
        let other = aurum_kv::Db::open(Arc::new(vfs.clone()), Path::new("/kv2"), aurum_kv::Options::default()).unwrap();
        assert_ne!(NodeKey::load_or_create(&other).unwrap().public_key(), first.public_key());
        // Damage is reported, without the secret.
        let db = open();
        let mut stored = db.get(aurum_ledger_node::keys::NODE_KEY_KV_KEY).unwrap().unwrap();
        stored[0] = 9;
        db.put(aurum_ledger_node::keys::NODE_KEY_KV_KEY, &stored).unwrap();
        let err = NodeKey::load_or_create(&db).unwrap_err().to_string();
        assert!(err.contains("corrupt"), "{err}");
    }

    // ----- journal writer ----------------------------------------------------------------------

    #[test]
    fn journal_appends_reopens_and_reads_in_order() {
        let (blocks, _) = chain();
        let vfs = SimVfs::new(2);
        let journal = write_journal(&vfs, "/j", &blocks[..10]);
        assert_eq!(journal.head(), head_of(&blocks[..10]));
        drop(journal);
        let journal = Journal::open(open_log(&vfs, "/j")).unwrap();
        assert_eq!(journal.head(), head_of(&blocks[..10]));
        assert_eq!(journal.next_position(), (11, blocks[9].hash));
        for b in &blocks[10..] {
            journal.append(b).unwrap();
        }
        let read: Vec<_> = journal.read_blocks(1).unwrap().map(Result::unwrap).collect();
        assert_eq!(read.len(), blocks.len());
        for (raw, b) in read.iter().zip(&blocks) {
            assert_eq!(raw.offset, b.seq - 1, "block seq s lives at log offset s - 1");
            assert_eq!(raw.key.as_deref(), Some(&record_key(b.seq)[..]));
            assert_eq!(raw.block.as_ref().unwrap(), b);
        }
        let from_20: Vec<_> = journal.read_blocks(20).unwrap().map(|r| r.unwrap().offset).collect();
        assert_eq!(from_20, (19..30).collect::<Vec<_>>());
        assert_eq!(journal.reader().read_block(30).unwrap().unwrap().block.unwrap(), blocks[29]);
        assert!(journal.reader().read_block(31).unwrap().is_none());
    }

    #[test]
    fn journal_refuses_blocks_that_do_not_continue_the_chain() {
        let (blocks, _) = chain();
        let vfs = SimVfs::new(3);
        let journal = write_journal(&vfs, "/j", &blocks[..3]);
        for bad in [&blocks[2], &blocks[4], &blocks[0]] {
            assert!(matches!(journal.append(bad), Err(JournalError::NotContiguous { .. })));
        }
        let mut wrong_prev = blocks[3].clone();
        wrong_prev.prev_hash = [7; 32];
        assert!(matches!(journal.append(&wrong_prev), Err(JournalError::NotContiguous { .. })));
        assert_eq!(journal.head(), head_of(&blocks[..3]));
        journal.append(&blocks[3]).unwrap();
    }

    #[test]
    fn journal_refuses_appends_after_a_failed_fsync_until_reopened() {
        let (blocks, _) = chain();
        let vfs = SimVfs::new(4);
        let journal = write_journal(&vfs, "/j", &blocks[..3]);
        vfs.fail_next_syncs(1);
        assert!(matches!(journal.append(&blocks[3]), Err(JournalError::AppendFailed { seq: 4, .. })));
        vfs.clear_faults();
        assert!(matches!(journal.append(&blocks[3]), Err(JournalError::Poisoned { seq: 4 })));
        drop(journal);
        // After a reopen the head says whether block 4 made it; either way the chain continues.
        let journal = Journal::open(open_log(&vfs, "/j")).unwrap();
        let (next, _) = journal.next_position();
        for b in &blocks[next as usize - 1..6] {
            journal.append(b).unwrap();
        }
        let report = run(journal.reader(), None, head_of(&blocks[..6]));
        assert!(report.is_clean(), "{report}");
    }

    #[test]
    fn acknowledged_blocks_survive_a_crash() {
        let (blocks, _) = chain();
        let vfs = SimVfs::new(5);
        let journal = write_journal(&vfs, "/j", &blocks[..12]);
        drop(journal);
        vfs.crash(aurum_vfs::CrashMode::Torn);
        let journal = Journal::open(open_log(&vfs, "/j")).unwrap();
        assert_eq!(journal.head(), head_of(&blocks[..12]));
    }

    #[test]
    fn existing_topic_with_bad_config_is_refused() {
        let vfs = SimVfs::new(6);
        let log = open_log(&vfs, "/j");
        log.create_topic(JOURNAL_TOPIC, TopicConfig { partitions: 2, ..journal_topic_config() }).unwrap();
        assert!(matches!(Journal::open(log), Err(JournalError::TopicConfig { .. })));
    }

    // ----- audit: clean journals ---------------------------------------------------------------

    #[test]
    fn clean_journal_has_no_divergence() {
        let (blocks, live) = chain();
        let vfs = SimVfs::new(10);
        let journal = write_journal(&vfs, "/j", &blocks);
        let report = run(journal.reader(), Some(&live), head_of(&blocks));
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.blocks_checked, 30);
        assert_eq!(report.commands_checked, blocks.iter().map(|b| b.commands.len() as u64).sum::<u64>());
        assert_eq!(report.expiries_checked, blocks.iter().map(|b| b.result.expired.len() as u64).sum::<u64>());
        assert_eq!(report.invariant_checks, 30);
        assert_eq!(report.head, head_of(&blocks));
        assert_eq!(report.final_digest, Some(live.digest()));
        assert_eq!(report.live_digest, Some(live.digest()));
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["ok"], true);
        assert_eq!(json["blocks_checked"], 30);
        assert!(json["first_divergence"].is_null());
        assert!(report.to_string().starts_with("journal OK"), "{report}");
        // Checking invariants every 8 blocks: 30/8 = 3 checks + 1 at the end.
        let sparse = audit(journal.reader(), AuditConfig { invariants_every_blocks: 8, ..config(Some(&live), None) });
        assert_eq!(sparse.unwrap().invariant_checks, 4);
        // An empty journal is clean too (and a missing topic is an empty journal).
        let empty = JournalReader::new(open_log(&vfs, "/empty"));
        let report = run(&empty, Some(&Ledger::new()), None);
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.blocks_checked, 0);
    }

    #[test]
    fn audit_from_a_snapshot_replays_only_the_tail() {
        let (blocks, live) = chain();
        let vfs = SimVfs::new(11);
        let journal = write_journal(&vfs, "/j", &blocks);
        // The state after block 12, through the snapshot codec.
        let (_, at_12) = audit_keep_state(
            &write_journal(&vfs, "/j12", &blocks[..12]).reader().clone(),
            AuditConfig::new(node_key().public_key()),
        )
        .unwrap();
        let mut bytes = Vec::new();
        at_12.encode_snapshot(&mut bytes);
        let snapshot = Ledger::decode_snapshot(&bytes).unwrap();
        let start = AuditStart::Snapshot { ledger: snapshot.clone(), seq: 12, hash: blocks[11].hash };
        let report = audit(journal.reader(), AuditConfig { start, ..config(Some(&live), head_of(&blocks)) }).unwrap();
        assert!(report.is_clean(), "{report}");
        assert_eq!((report.first_seq, report.blocks_checked), (13, 18));
        // A snapshot that claims to be at another seq.
        let start = AuditStart::Snapshot { ledger: snapshot.clone(), seq: 11, hash: blocks[10].hash };
        let report = audit(journal.reader(), AuditConfig { start, ..config(None, None) }).unwrap();
        assert_diverges(&report, DivergenceKind::SnapshotMismatch, 11);
        // A snapshot with the wrong chain hash: block 13 does not link to it.
        let start = AuditStart::Snapshot { ledger: snapshot, seq: 12, hash: [1; 32] };
        let report = audit(journal.reader(), AuditConfig { start, ..config(None, None) }).unwrap();
        assert_diverges(&report, DivergenceKind::PrevHashMismatch, 13);
    }

    // ----- audit: tampering with the files (log CRC catches it) --------------------------------

    #[test]
    fn bit_rot_in_a_sealed_segment_is_unreadable_at_its_block() {
        let (blocks, live) = chain();
        let vfs = SimVfs::new(20);
        // Small segments so that most blocks sit in sealed segments.
        open_log(&vfs, "/j")
            .create_topic(JOURNAL_TOPIC, TopicConfig { segment_bytes: 2048, ..journal_topic_config() })
            .unwrap();
        drop(write_journal(&vfs, "/j", &blocks));
        let (file, pos) = batch_position(&vfs, "/j", &blocks, 9);
        let (last_segment, _) = batch_position(&vfs, "/j", &blocks, 30);
        assert_ne!(file, last_segment, "block 9 must be in a sealed segment");
        // A byte in the middle of block 9's value.
        vfs.corrupt_byte(&file, pos + 76 + 100, 0x04).unwrap();
        let journal = Journal::open(open_log(&vfs, "/j")).unwrap();
        let report = run(journal.reader(), Some(&live), head_of(&blocks));
        assert_diverges(&report, DivergenceKind::Unreadable, 9);
        let d = report.first_divergence.unwrap();
        assert_eq!(d.log_offset, Some(8));
        assert!(d.found.contains("corrupt data in"), "{}", d.found);
        assert_eq!(report.blocks_checked, 8);
    }

    #[test]
    fn bit_rot_in_the_active_segment_is_located_or_cut_and_caught_as_a_truncated_tail() {
        let (blocks, live) = chain();
        let vfs = SimVfs::new(21);
        let journal = write_journal(&vfs, "/j", &blocks);
        let (file, pos) = batch_position(&vfs, "/j", &blocks, 17);
        vfs.corrupt_byte(&file, pos + 76 + 10, 0x80).unwrap();
        // While the log is open, the read fails at block 17.
        let report = run(journal.reader(), Some(&live), head_of(&blocks));
        assert_diverges(&report, DivergenceKind::Unreadable, 17);
        drop(journal);
        // On reopen, recovery cuts the active segment at the bad batch: only the acknowledged
        // head tells that blocks 17..=30 are gone.
        let reader = JournalReader::new(open_log(&vfs, "/j"));
        let report = run(&reader, None, None);
        assert!(report.is_clean(), "without an expected head, a cut journal looks complete: {report}");
        assert_eq!(report.head, head_of(&blocks[..16]));
        let report = run(&reader, Some(&live), head_of(&blocks));
        assert_diverges(&report, DivergenceKind::TruncatedTail, 17);
    }

    // ----- audit: tampering that keeps every log CRC valid -------------------------------------

    fn amount_changed(block: &Block) -> Block {
        let mut b = block.clone();
        let c = b.commands.iter_mut().find_map(|c| match c {
            Command::CreateTransfer(t) => Some(t),
            _ => None,
        });
        c.expect("block has a transfer").amount += 1;
        b
    }

    #[test]
    fn changed_amount_with_stale_hash_is_a_hash_mismatch() {
        let (blocks, live) = chain();
        let mut values = encode_all(&blocks);
        values[14] = amount_changed(&blocks[14]).encode(); // keeps the old hash and signature
        let reader = write_raw(&SimVfs::new(30), "/j", &values);
        assert_diverges(&run(&reader, Some(&live), head_of(&blocks)), DivergenceKind::HashMismatch, 15);
    }

    #[test]
    fn changed_amount_with_recomputed_hash_is_a_bad_signature() {
        let (blocks, live) = chain();
        let mut values = encode_all(&blocks);
        let mut b = amount_changed(&blocks[14]);
        b.hash = b.compute_hash();
        values[14] = b.encode();
        let reader = write_raw(&SimVfs::new(31), "/j", &values);
        assert_diverges(&run(&reader, Some(&live), head_of(&blocks)), DivergenceKind::BadSignature, 15);
    }

    #[test]
    fn block_signed_by_another_key_is_a_bad_signature() {
        let (blocks, live) = chain();
        let forger = NodeKey::from_seed([0x66; 32]);
        let b = amount_changed(&blocks[14]);
        let forged = Block::seal(b.seq, b.prev_hash, b.timestamp, b.commands, b.result, &forger);
        let mut values = encode_all(&blocks);
        values[14] = forged.encode();
        let reader = write_raw(&SimVfs::new(32), "/j", &values);
        let report = run(&reader, Some(&live), head_of(&blocks));
        assert_diverges(&report, DivergenceKind::BadSignature, 15);
        assert_eq!(report.first_divergence.unwrap().log_offset, Some(14));
    }

    #[test]
    fn changed_amount_resealed_with_the_node_key_is_an_outcome_mismatch() {
        // Someone holding the node key rewrites block 15 and re-chains everything after it, but
        // keeps the recorded outcomes: re-execution disagrees at the changed command.
        let (blocks, live) = chain();
        let key = node_key();
        let mut rewritten: Vec<Block> = blocks[..14].to_vec();
        let changed = amount_changed(&blocks[14]);
        let index = changed.commands.iter().position(|c| matches!(c, Command::CreateTransfer(_))).unwrap();
        for b in std::iter::once(&changed).chain(&blocks[15..]) {
            let prev = rewritten.last().unwrap().hash;
            rewritten.push(Block::seal(b.seq, prev, b.timestamp, b.commands.clone(), b.result.clone(), &key));
        }
        let reader = write_raw(&SimVfs::new(33), "/j", &encode_all(&rewritten));
        let report = run(&reader, Some(&live), head_of(&blocks));
        assert_diverges(&report, DivergenceKind::OutcomeMismatch, 15);
        let d = report.first_divergence.unwrap();
        assert_eq!(d.command_index, Some(index));
        assert_ne!(d.expected, d.found);
    }

    #[test]
    fn consistent_rewrite_by_the_key_holder_is_caught_by_the_anchors() {
        // A rewrite with re-executed outcomes is a valid chain; only the acknowledged head and the
        // live state reveal it.
        let (blocks, live) = chain();
        let key = node_key();
        let mut ledger = Ledger::new();
        let mut rewritten: Vec<Block> = Vec::new();
        for (i, b) in blocks.iter().enumerate() {
            let b = if i == 14 { amount_changed(b) } else { b.clone() };
            let result = ledger.apply(BatchContext { seq: b.seq, timestamp: b.timestamp }, &b.commands);
            let prev = rewritten.last().map_or(GENESIS_PREV_HASH, |p| p.hash);
            rewritten.push(Block::seal(b.seq, prev, b.timestamp, b.commands, result, &key));
        }
        let reader = write_raw(&SimVfs::new(34), "/j", &encode_all(&rewritten));
        assert!(run(&reader, None, None).is_clean());
        assert_diverges(&run(&reader, None, head_of(&blocks)), DivergenceKind::HeadMismatch, 30);
        assert_diverges(&run(&reader, None, Some((20, blocks[19].hash))), DivergenceKind::HeadMismatch, 20);
        assert_diverges(&run(&reader, Some(&live), None), DivergenceKind::StateMismatch, 30);
    }

    #[test]
    fn removed_expiry_is_an_expiry_mismatch() {
        let (blocks, live) = chain();
        let key = node_key();
        let at = blocks.iter().position(|b| !b.result.expired.is_empty()).unwrap();
        let mut b = blocks[at].clone();
        b.result.expired.clear();
        let resealed = Block::seal(b.seq, b.prev_hash, b.timestamp, b.commands, b.result, &key);
        let mut values = encode_all(&blocks);
        values[at] = resealed.encode();
        let reader = write_raw(&SimVfs::new(35), "/j", &values);
        assert_diverges(&run(&reader, Some(&live), None), DivergenceKind::ExpiryMismatch, at as u64 + 1);
    }

    #[test]
    fn dropped_block_is_a_sequence_gap() {
        let (blocks, live) = chain();
        let mut values = encode_all(&blocks);
        values.remove(9); // block 10
        let reader = write_raw(&SimVfs::new(36), "/j", &values);
        let report = run(&reader, Some(&live), head_of(&blocks));
        assert_diverges(&report, DivergenceKind::SequenceGap, 10);
        let d = report.first_divergence.unwrap();
        assert_eq!((d.log_offset, d.found.as_str()), (Some(9), "block 11"));
    }

    #[test]
    fn dropped_block_with_renumbered_successors_is_a_prev_hash_mismatch() {
        // Block 10 removed and blocks 11.. resealed (with the node key) as 10..: the seqs are
        // continuous, but the new block 10 does not link to block 9.
        let (blocks, live) = chain();
        let key = node_key();
        let mut values = encode_all(&blocks[..9]);
        let mut prev = blocks[10].prev_hash;
        for b in &blocks[10..] {
            let r = Block::seal(b.seq - 1, prev, b.timestamp, b.commands.clone(), b.result.clone(), &key);
            prev = r.hash;
            values.push(r.encode());
        }
        let reader = write_raw(&SimVfs::new(37), "/j", &values);
        assert_diverges(&run(&reader, Some(&live), None), DivergenceKind::PrevHashMismatch, 10);
    }

    #[test]
    fn reordered_blocks_are_a_sequence_gap() {
        let (blocks, live) = chain();
        let mut values = encode_all(&blocks);
        values.swap(19, 20); // blocks 20 and 21
        let reader = write_raw(&SimVfs::new(38), "/j", &values);
        let report = run(&reader, Some(&live), head_of(&blocks));
        assert_diverges(&report, DivergenceKind::SequenceGap, 20);
        assert_eq!(report.first_divergence.unwrap().found, "block 21");
    }

    #[test]
    fn duplicated_block_is_a_sequence_gap() {
        let (blocks, live) = chain();
        let mut values = encode_all(&blocks);
        values.insert(5, values[4].clone()); // block 5 twice
        let reader = write_raw(&SimVfs::new(39), "/j", &values);
        assert_diverges(&run(&reader, Some(&live), None), DivergenceKind::SequenceGap, 6);
    }

    #[test]
    fn truncated_tail_is_caught_by_the_expected_head() {
        let (blocks, live) = chain();
        let vfs = SimVfs::new(40);
        let journal = write_journal(&vfs, "/j", &blocks[..27]);
        let report = run(journal.reader(), None, head_of(&blocks));
        assert_diverges(&report, DivergenceKind::TruncatedTail, 28);
        assert_eq!(report.first_divergence.unwrap().log_offset, Some(27));
        // Without the head, the live state still tells.
        assert_diverges(&run(journal.reader(), Some(&live), None), DivergenceKind::StateMismatch, 27);
        // An empty journal when blocks were acknowledged.
        let empty = JournalReader::new(open_log(&vfs, "/none"));
        assert_diverges(&run(&empty, None, head_of(&blocks)), DivergenceKind::TruncatedTail, 1);
    }

    #[test]
    fn garbage_record_is_undecodable_and_wrong_key_is_reported() {
        let (blocks, live) = chain();
        let mut values = encode_all(&blocks);
        values[3] = b"not a block".to_vec();
        let reader = write_raw(&SimVfs::new(41), "/j", &values);
        assert_diverges(&run(&reader, Some(&live), None), DivergenceKind::Undecodable, 4);
        // A valid block under the wrong record key.
        let vfs = SimVfs::new(42);
        let log = open_log(&vfs, "/j");
        log.create_topic(JOURNAL_TOPIC, journal_topic_config()).unwrap();
        for (i, v) in encode_all(&blocks).into_iter().enumerate() {
            let key = if i == 6 { record_key(99) } else { record_key(i as u64 + 1) };
            log.append(JOURNAL_TOPIC, JOURNAL_PARTITION, &[ProducerRecord::new(key.to_vec(), v)]).unwrap();
        }
        assert_diverges(&run(&JournalReader::new(log), None, None), DivergenceKind::RecordKeyMismatch, 7);
    }

    #[test]
    fn audit_refuses_an_invalid_public_key() {
        let reader = JournalReader::new(open_log(&SimVfs::new(43), "/j"));
        // Some 32-byte strings are not points of the curve.
        let bad = (0u8..=255)
            .map(|i| {
                let mut k = [i; 32];
                k[0] = 2;
                k
            })
            .find(|k| ed25519_dalek::VerifyingKey::from_bytes(k).is_err())
            .expect("an invalid point");
        let err = audit(&reader, AuditConfig::new(bad)).unwrap_err();
        assert!(err.to_string().contains("not a valid ed25519 public key"), "{err}");
    }

    // ---- the backend seam: the journal's rules hold whatever stores the records ----

    /// A journal backend in memory whose acknowledgements can be made wrong on purpose: what a
    /// misbehaving remote broker could answer.
    #[derive(Debug, Default)]
    struct MemJournal {
        records: parking_lot::Mutex<Vec<StoredRecord>>,
        /// Added to the offset the next acknowledgement reports (the record lands where it lands).
        skew_next_ack: std::sync::atomic::AtomicU64,
        /// The next append fails after storing the record (a lost acknowledgement).
        fail_next_after_store: std::sync::atomic::AtomicBool,
        /// What acknowledgements promise.
        strength: parking_lot::Mutex<Option<AckStrength>>,
    }

    impl JournalBackend for MemJournal {
        fn describe(&self) -> String {
            "memory journal".into()
        }
        fn exists(&self) -> Result<bool, JournalError> {
            Ok(true)
        }
        fn create_or_check(&self) -> Result<(), JournalError> {
            Ok(())
        }
        fn extent(&self) -> Result<JournalExtent, JournalError> {
            Ok(JournalExtent { log_start: 0, end: self.records.lock().len() as u64 })
        }
        fn append(&self, seq: u64, _timestamp_ms: i64, value: &[u8]) -> Result<JournalAck, JournalError> {
            use std::sync::atomic::Ordering::SeqCst;
            let mut records = self.records.lock();
            let offset = records.len() as u64;
            records.push(StoredRecord { offset, key: Some(record_key(seq).to_vec()), value: Some(value.to_vec()) });
            if self.fail_next_after_store.swap(false, SeqCst) {
                return Err(JournalError::Backend { what: "append".into(), source: "connection reset".into() });
            }
            let strength = self.strength.lock().unwrap_or(AckStrength::Fsynced);
            Ok(JournalAck { offset: offset + self.skew_next_ack.swap(0, SeqCst), strength })
        }
        fn records(&self, from: u64, end: u64) -> Result<RecordIter, JournalError> {
            let records = self.records.lock();
            let end = end.min(records.len() as u64);
            let slice: Vec<_> = records[from.min(end) as usize..end as usize].iter().cloned().map(Ok).collect();
            Ok(Box::new(slice.into_iter()))
        }
    }

    #[test]
    fn any_backend_journals_reopens_and_audits_clean() {
        let (blocks, live) = chain();
        let mem = Arc::new(MemJournal::default());
        let journal = Journal::open_backend(mem.clone(), JournalPolicy::default()).unwrap();
        for b in &blocks {
            journal.append(b).unwrap();
        }
        drop(journal);
        let journal = Journal::open_backend(mem.clone(), JournalPolicy::default()).unwrap();
        assert_eq!(journal.head(), head_of(&blocks));
        let report = run(&JournalReader::from_backend(mem), Some(&live), head_of(&blocks));
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.blocks_checked, blocks.len() as u64);
    }

    #[test]
    fn an_acknowledgement_at_the_wrong_offset_poisons_the_journal() {
        let (blocks, _) = chain();
        let mem = Arc::new(MemJournal::default());
        let journal = Journal::open_backend(mem.clone(), JournalPolicy::default()).unwrap();
        journal.append(&blocks[0]).unwrap();
        mem.skew_next_ack.store(5, std::sync::atomic::Ordering::SeqCst);
        let err = journal.append(&blocks[1]).unwrap_err();
        assert!(err.to_string().contains("stored it at offset 6, expected offset 1"), "{err}");
        assert!(matches!(journal.append(&blocks[1]), Err(JournalError::Poisoned { seq: 2 })));
    }

    #[test]
    fn an_acknowledgement_weaker_than_the_policy_is_refused() {
        let (blocks, _) = chain();
        let mem = Arc::new(MemJournal::default());
        *mem.strength.lock() = Some(AckStrength::Replicated);
        let strict = Journal::open_backend(mem.clone(), JournalPolicy::default()).unwrap();
        let err = strict.append(&blocks[0]).unwrap_err();
        assert!(
            err.to_string().contains("acknowledged it as replicated, and the journal requires at least fsynced"),
            "{err}"
        );
        drop(strict);
        // The block landed (the refusal is of the promise, not the bytes): a journal that accepts
        // replicated acknowledgements reopens past it and continues.
        let relaxed = Journal::open_backend(mem.clone(), JournalPolicy { min_ack: AckStrength::Replicated }).unwrap();
        assert_eq!(relaxed.head(), head_of(&blocks[..1]));
        relaxed.append(&blocks[1]).unwrap();
        assert_eq!(AckStrength::parse("replicated"), Some(AckStrength::Replicated));
        assert_eq!(AckStrength::parse("fsync"), None);
    }

    #[test]
    fn a_failed_remote_append_poisons_until_reopened_and_the_reopen_finds_the_landed_block() {
        let (blocks, live) = chain();
        let mem = Arc::new(MemJournal::default());
        let journal = Journal::open_backend(mem.clone(), JournalPolicy::default()).unwrap();
        journal.append(&blocks[0]).unwrap();
        mem.fail_next_after_store.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(matches!(journal.append(&blocks[1]), Err(JournalError::AppendFailed { seq: 2, .. })));
        assert!(matches!(journal.append(&blocks[1]), Err(JournalError::Poisoned { seq: 2 })));
        drop(journal);
        let journal = Journal::open_backend(mem.clone(), JournalPolicy::default()).unwrap();
        assert_eq!(journal.next_position().0, 3, "block 2 landed although its acknowledgement was lost");
        for b in &blocks[2..] {
            journal.append(b).unwrap();
        }
        assert!(run(journal.reader(), Some(&live), head_of(&blocks)).is_clean());
    }
}

// =============================================================================================
// 2. Engine (owned by the engine's author)
// =============================================================================================

mod engine_tests {
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use aurum_ledger::{
        AccountId, AccountKind, AssetId, Command, CreateAccount, CreateAsset, CreateEntry, CreateTransfer, Limit,
        Metadata, Outcome, PostPending, Posting, ResultCode, Side, Timestamp, TransferFlags, TransferId, VoidPending,
    };
    use aurum_ledger_node::audit::DivergenceKind;
    use aurum_ledger_node::engine::{self, AuditFrom, Clock, Engine, EngineConfig, EngineError};
    use aurum_vfs::rng::SplitMix64;
    use aurum_vfs::{CrashMode, SimVfs, Vfs};

    const ROOT: &str = "/node";
    const T0_NS: u64 = 1_800_000_000_000_000_000;
    const ASSET: AssetId = AssetId(7);
    const ACCOUNTS: u64 = 12;

    /// A clock the test moves: every call returns the current value, which only the test advances.
    fn manual_clock() -> (Arc<AtomicU64>, Clock) {
        let now = Arc::new(AtomicU64::new(T0_NS));
        let c = now.clone();
        (now, Arc::new(move || Timestamp(c.load(Ordering::SeqCst))))
    }

    fn config(clock: Clock, snapshot_every_blocks: u64) -> EngineConfig {
        EngineConfig { clock, snapshot_every_blocks, snapshot_on_shutdown: false, ..EngineConfig::default() }
    }

    fn open(vfs: &SimVfs, clock: Clock, snapshot_every_blocks: u64) -> Result<Engine, EngineError> {
        Engine::open(Arc::new(vfs.clone()), Path::new(ROOT), config(clock, snapshot_every_blocks)).map(|(e, _)| e)
    }

    fn setup() -> Vec<Command> {
        let mut cmds = vec![Command::CreateAsset(CreateAsset { id: ASSET, code: "INR".into(), scale: 2 })];
        for a in 0..ACCOUNTS {
            cmds.push(Command::CreateAccount(CreateAccount {
                id: AccountId(u128::from(100 + a)),
                asset: ASSET,
                kind: if a == 0 { AccountKind::Asset } else { AccountKind::Liability },
                // Account 100 is the bank (no limit); customers must not go negative.
                limit: if a == 0 { Limit::None } else { Limit::DebitsMustNotExceedCredits { overdraft: 0 } },
                history: true,
                metadata: Metadata::new(),
                linked: false,
            }));
        }
        cmds
    }

    /// A random command over the test accounts: transfers (some failing), pending with timeouts,
    /// posts, voids, entries, linked pairs, and retries of earlier ids.
    fn random_commands(rng: &mut SplitMix64, next_id: &mut u128, n: usize, issued: &mut Vec<Command>) -> Vec<Command> {
        let account = |rng: &mut SplitMix64| AccountId(u128::from(100 + rng.below(ACCOUNTS)));
        let mut out = Vec::new();
        while out.len() < n {
            *next_id += 1;
            let id = TransferId(*next_id);
            let cmd = match rng.below(10) {
                0 if !issued.is_empty() => issued[rng.below(issued.len() as u64) as usize].clone(), // a retry
                1 | 2 => {
                    let pending = rng.below(issued.len().max(1) as u64) as usize;
                    match issued.get(pending) {
                        Some(Command::CreateTransfer(t)) if t.flags.pending => {
                            if rng.below(2) == 0 {
                                Command::PostPending(PostPending {
                                    id,
                                    pending_id: t.id,
                                    amount: Some(t.amount / 2).filter(|a| *a > 0 && rng.below(2) == 0),
                                    metadata: Metadata::new(),
                                    linked: false,
                                })
                            } else {
                                Command::VoidPending(VoidPending {
                                    id,
                                    pending_id: t.id,
                                    metadata: Metadata::new(),
                                    linked: false,
                                })
                            }
                        }
                        _ => continue,
                    }
                }
                3 => Command::CreateEntry(CreateEntry {
                    id,
                    postings: vec![
                        Posting { account: AccountId(100), side: Side::Debit, amount: 300 },
                        Posting { account: account(rng), side: Side::Credit, amount: 100 },
                        Posting { account: account(rng), side: Side::Credit, amount: 200 },
                    ],
                    metadata: Metadata::new(),
                    linked: false,
                }),
                _ => {
                    let from = if rng.below(3) == 0 { AccountId(100) } else { account(rng) };
                    let to = account(rng);
                    let pending = rng.below(4) == 0;
                    Command::CreateTransfer(CreateTransfer {
                        id,
                        debit_account: from,
                        credit_account: to,
                        amount: u128::from(1 + rng.below(500)),
                        asset: ASSET,
                        flags: TransferFlags { linked: rng.below(8) == 0, pending, ..TransferFlags::default() },
                        timeout_secs: if pending { 1 + rng.below(5) as u32 } else { 0 },
                        metadata: Metadata::new(),
                    })
                }
            };
            issued.push(cmd.clone());
            out.push(cmd);
        }
        out
    }

    #[test]
    fn submits_are_durable_readable_and_survive_restart_with_and_without_snapshots() {
        let vfs = SimVfs::new(1);
        let (now, clock) = manual_clock();
        let engine = open(&vfs, clock.clone(), 3).unwrap();
        assert!(engine.submit(setup()).unwrap().iter().all(|o| o.code == ResultCode::Ok));
        let mut rng = SplitMix64::new(2);
        let mut next_id = 0;
        let mut issued = Vec::new();
        for _ in 0..10 {
            now.fetch_add(1_000_000_000, Ordering::SeqCst);
            let cmds = random_commands(&mut rng, &mut next_id, 20, &mut issued);
            assert_eq!(engine.submit(cmds).unwrap().len(), 20);
        }
        let (digest, head) = (engine.read(|l| l.digest()).unwrap(), engine.head());
        assert_eq!(head.0, 11);
        drop(engine);
        // Restart from the newest snapshot (every 3 blocks) plus the journal tail.
        let (engine, report) = Engine::open(Arc::new(vfs.clone()), Path::new(ROOT), config(clock.clone(), 3)).unwrap();
        assert_eq!(report.snapshot_seq, Some(9));
        assert_eq!(report.blocks_replayed, 2);
        assert_eq!(engine.read(|l| l.digest()).unwrap(), digest);
        assert_eq!(engine.head(), head);
        let audit = engine.audit(AuditFrom::Genesis).unwrap();
        assert!(audit.is_clean(), "{audit}");
        assert_eq!(audit.blocks_checked, 11);
        let audit = engine.audit(AuditFrom::Snapshot).unwrap();
        assert!(audit.is_clean(), "{audit}");
        assert_eq!(audit.blocks_checked, 2);
        // Retrying an old request returns its first outcomes, marked as replays.
        let retried = engine.submit(setup()).unwrap();
        assert!(retried.iter().all(|o| o.replayed && o.code == ResultCode::Ok));
    }

    #[test]
    fn snapshots_by_command_count_and_at_clean_shutdown() {
        let vfs = SimVfs::new(9);
        let (now, clock) = manual_clock();
        let config = EngineConfig {
            clock: clock.clone(),
            snapshot_every_blocks: 0,
            snapshot_every_commands: 30,
            snapshot_on_shutdown: true,
            ..EngineConfig::default()
        };
        let (engine, _) = Engine::open(Arc::new(vfs.clone()), Path::new(ROOT), config.clone()).unwrap();
        engine.submit(setup()).unwrap(); // 13 commands
        let mut rng = SplitMix64::new(10);
        let mut next_id = 0;
        let mut issued = Vec::new();
        for _ in 0..4 {
            now.fetch_add(1_000_000_000, Ordering::SeqCst);
            engine.submit(random_commands(&mut rng, &mut next_id, 10, &mut issued)).unwrap(); // 23, 33 -> snapshot at block 3
        }
        assert_eq!(engine.head().0, 5);
        let digest = engine.read(|l| l.digest()).unwrap();
        drop(engine); // clean shutdown: a snapshot of block 5
        let (engine, report) = Engine::open(Arc::new(vfs.clone()), Path::new(ROOT), config).unwrap();
        assert_eq!(report.snapshot_seq, Some(5), "the shutdown snapshot is the newest");
        assert_eq!(report.blocks_replayed, 0);
        assert_eq!(engine.read(|l| l.digest()).unwrap(), digest);
        let older = aurum_ledger_node::snapshot::list(engine.db()).unwrap();
        assert_eq!(older.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), vec![5, 3], "by command count at block 3");
    }

    #[test]
    fn group_commit_puts_concurrent_requests_in_shared_blocks() {
        let vfs = SimVfs::new(3);
        vfs.set_sync_latency(std::time::Duration::from_millis(2));
        let (_, clock) = manual_clock();
        let engine = open(&vfs, clock, 0).unwrap();
        engine.submit(setup()).unwrap();
        let before = engine.head().0;
        let threads = 8u64;
        let per_thread = 40u64;
        std::thread::scope(|s| {
            for t in 0..threads {
                let engine = engine.clone();
                s.spawn(move || {
                    for i in 0..per_thread {
                        let id = TransferId(u128::from(1_000 + t * 1_000 + i));
                        let out = engine
                            .submit(vec![Command::CreateTransfer(CreateTransfer {
                                id,
                                debit_account: AccountId(100),
                                credit_account: AccountId(u128::from(101 + t)),
                                amount: 1,
                                asset: ASSET,
                                flags: TransferFlags::default(),
                                timeout_secs: 0,
                                metadata: Metadata::new(),
                            })])
                            .unwrap();
                        assert_eq!(out[0].code, ResultCode::Ok);
                    }
                });
            }
        });
        let blocks = engine.head().0 - before;
        let requests = threads * per_thread;
        assert!(blocks * 2 < requests, "{blocks} blocks for {requests} requests: no group commit");
        assert_eq!(engine.read(|l| l.transfer_count()).unwrap(), requests);
        println!("engine group commit: {requests} requests in {blocks} blocks");
    }

    #[test]
    fn a_barrier_returns_once_the_head_anchor_names_the_acknowledged_block() {
        let vfs = SimVfs::new(9);
        let (_, clock) = manual_clock();
        let engine = open(&vfs, clock, 0).unwrap();
        engine.submit(setup()).unwrap();
        let mut rng = SplitMix64::new(9);
        let mut next_id = 0;
        for _ in 0..20 {
            engine.submit(random_commands(&mut rng, &mut next_id, 3, &mut Vec::new())).unwrap();
            engine.barrier().unwrap();
            // The anchor is written after the acknowledgement; past the barrier it is there.
            let anchor = engine.db().get(aurum_ledger_node::engine::HEAD_KEY).unwrap().expect("anchor written");
            assert_eq!(u64::from_le_bytes(anchor[..8].try_into().unwrap()), engine.head().0);
        }
        vfs.fail_next_syncs(1);
        assert!(engine.submit(random_commands(&mut rng, &mut next_id, 3, &mut Vec::new())).is_err());
        assert!(matches!(engine.barrier(), Err(EngineError::Poisoned { .. })), "a poisoned engine says so");
    }

    #[test]
    fn a_failed_journal_write_stops_the_engine_and_a_restart_recovers() {
        let vfs = SimVfs::new(4);
        let (_, clock) = manual_clock();
        let engine = open(&vfs, clock.clone(), 0).unwrap();
        engine.submit(setup()).unwrap();
        let digest = engine.read(|l| l.digest()).unwrap();
        vfs.fail_next_syncs(1);
        let mut rng = SplitMix64::new(5);
        let mut next_id = 0;
        let cmds = random_commands(&mut rng, &mut next_id, 5, &mut Vec::new());
        assert!(matches!(engine.submit(cmds.clone()), Err(EngineError::Poisoned { .. })));
        assert!(
            matches!(engine.read(|l| l.digest()), Err(EngineError::Poisoned { .. })),
            "no reads of unjournalled state"
        );
        assert!(matches!(engine.submit(cmds), Err(EngineError::Poisoned { .. })));
        drop(engine);
        vfs.crash(CrashMode::LoseUnsynced);
        let engine = open(&vfs, clock, 0).unwrap();
        assert_eq!(engine.read(|l| l.digest()).unwrap(), digest, "the unacknowledged block is gone");
        assert!(engine.audit(AuditFrom::Genesis).unwrap().is_clean());
    }

    #[test]
    fn requests_beyond_the_named_limits_are_refused() {
        let vfs = SimVfs::new(6);
        let (_, clock) = manual_clock();
        let engine = open(&vfs, clock, 0).unwrap();
        assert!(matches!(engine.submit(vec![]), Err(EngineError::BatchSize { len: 0, .. })));
        let too_many = vec![Command::CreateAsset(CreateAsset { id: ASSET, code: "INR".into(), scale: 2 }); 8191];
        assert!(matches!(engine.submit(too_many), Err(EngineError::BatchSize { len: 8191, .. })));
        // A command beyond the journal's encoding limits would make a block no reader can decode
        // (the node would not restart): the whole request is refused before it reaches a block.
        let mut cmds = setup();
        let long = Metadata::from([("memo".to_string(), "x".repeat(257))]);
        cmds.push(Command::CreateAccount(CreateAccount {
            id: AccountId(999),
            asset: ASSET,
            kind: AccountKind::Asset,
            limit: Limit::None,
            history: false,
            metadata: long,
            linked: false,
        }));
        let index = cmds.len() - 1;
        let err = engine.submit(cmds).unwrap_err();
        assert!(matches!(&err, EngineError::Unencodable { index: i, .. } if *i == index), "{err}");
        assert!(err.to_string().contains("metadata value: 257 bytes exceeds the limit of 256"), "{err}");
        let long_code = vec![Command::CreateAsset(CreateAsset { id: ASSET, code: "X".repeat(13), scale: 2 })];
        assert!(matches!(engine.submit(long_code), Err(EngineError::Unencodable { index: 0, .. })));
        assert_eq!(engine.head().0, 0, "nothing was journalled");
    }

    #[test]
    fn a_truncated_journal_is_refused_at_start_and_located_by_the_offline_audit() {
        let vfs = SimVfs::new(7);
        let (now, clock) = manual_clock();
        let engine = open(&vfs, clock.clone(), 0).unwrap();
        engine.submit(setup()).unwrap();
        let mut rng = SplitMix64::new(8);
        let mut next_id = 0;
        let mut issued = Vec::new();
        for _ in 0..5 {
            now.fetch_add(1_000_000_000, Ordering::SeqCst);
            engine.submit(random_commands(&mut rng, &mut next_id, 10, &mut issued)).unwrap();
        }
        assert_eq!(engine.head().0, 6);
        drop(engine);
        // Cut the last block off the journal's segment (as an attacker or a bad disk might).
        let seg = vfs
            .file_paths()
            .into_iter()
            .find(|p| p.to_string_lossy().contains("ledger.journal") && p.to_string_lossy().ends_with(".log"))
            .unwrap();
        let file = vfs.open(&seg, aurum_vfs::OpenMode::ReadWriteCreate).unwrap();
        let bytes = file.read_all().unwrap();
        let scan = aurum_log::record::scan_batches(&bytes, 0);
        let (last_pos, _) = *scan.batches.last().unwrap();
        file.truncate(last_pos).unwrap();
        file.sync().unwrap();
        drop(file);
        let err = open(&vfs, clock, 0).unwrap_err();
        assert!(matches!(err, EngineError::Recovery { .. }), "{err}");
        assert!(err.to_string().contains("truncated"), "{err}");
        let report = engine::audit_offline(Arc::new(vfs.clone()), Path::new(ROOT), AuditFrom::Genesis).unwrap();
        let d = report.first_divergence.expect("the truncation is found");
        assert_eq!(d.kind, DivergenceKind::TruncatedTail);
        assert_eq!(d.seq, 6);
    }

    /// The deterministic simulation: a seeded workload through the engine on the simulated disk,
    /// with failed fsyncs, partial writes and crashes (lost or torn unsynced data) at random
    /// moments. After every crash: every acknowledged outcome is still in the ledger, the engine
    /// accepts writes again, and the audit from genesis is clean and matches the live state.
    /// Replay one seed with `AURUM_SIM_SEED=<seed> cargo test -p aurum-ledger-node simulation`.
    #[test]
    fn simulation_with_storage_faults_and_crashes_loses_nothing_acknowledged() {
        let seeds: Vec<u64> = match std::env::var("AURUM_SIM_SEED") {
            Ok(s) => vec![s.parse().expect("AURUM_SIM_SEED is a number")],
            Err(_) => (0..24).collect(),
        };
        for seed in seeds {
            simulate(seed);
        }
    }

    fn simulate(seed: u64) {
        let vfs = SimVfs::new(seed);
        let mut rng = SplitMix64::new(seed ^ 0x5EED);
        let (now, clock) = manual_clock();
        // Snapshots are taken synchronously here (snapshot_now) rather than by the engine's
        // snapshot thread, so that which write an injected fault hits is decided by the seed alone.
        let snapshot_every = rng.below(4);
        let mut engine = open(&vfs, clock.clone(), 0).unwrap();
        // The shadow: a plain in-memory ledger fed exactly the acknowledged batches. The engine's
        // outcomes must equal the shadow's, and after every restart its state must equal it.
        let mut shadow = aurum_ledger::Ledger::new();
        let mut uncertain: Option<(Timestamp, Vec<Command>)> = None;
        let first = setup();
        let t = Timestamp(now.load(Ordering::SeqCst));
        let outcomes = engine.submit(first.clone()).unwrap();
        assert_eq!(shadow.apply(aurum_ledger::BatchContext { seq: 1, timestamp: t }, &first).outcomes, outcomes);
        let mut next_id = 0;
        let mut issued = Vec::new();
        // Every acknowledged (command, outcome): each must be visible after any crash.
        let mut acknowledged: Vec<(Command, Outcome)> = Vec::new();
        let mut crashes = 0;
        for step in 0..40 {
            now.fetch_add(rng.below(3_000_000_000), Ordering::SeqCst);
            if snapshot_every > 0 && step % snapshot_every == 0 && engine.read(|_| ()).is_ok() {
                engine.snapshot_now().unwrap_or_else(|e| panic!("seed {seed} step {step}: snapshot failed: {e}"));
            }
            match rng.below(12) {
                0 => vfs.fail_next_syncs(1),
                1 => vfs.set_partial_write_rate(1, 3),
                _ => {}
            }
            let n = 1 + rng.below(12) as usize;
            let cmds = random_commands(&mut rng, &mut next_id, n, &mut issued);
            let t = Timestamp(now.load(Ordering::SeqCst));
            match engine.submit(cmds.clone()) {
                Ok(outcomes) => {
                    let ctx = aurum_ledger::BatchContext { seq: shadow.last_seq() + 1, timestamp: t };
                    let expected = shadow.apply(ctx, &cmds).outcomes;
                    assert_eq!(outcomes, expected, "seed {seed} step {step}: outcomes differ from the shadow ledger");
                    acknowledged.extend(cmds.into_iter().zip(outcomes));
                }
                Err(EngineError::Poisoned { .. }) if uncertain.is_none() && engine.head().0 == shadow.last_seq() => {
                    // Its block may or may not have reached the disk.
                    uncertain = Some((t, cmds));
                }
                Err(EngineError::Poisoned { .. } | EngineError::Kv(_)) => {}
                Err(e) => panic!("seed {seed} step {step}: unexpected error {e}"),
            }
            // The head anchor is written after the acknowledgement: let the writer finish it
            // under this step's faults, so that which write a fault hits depends on the seed
            // alone and not on the threads' timing. (A poisoned engine answers with its error.)
            let _ = engine.barrier();
            vfs.clear_faults();
            let must_restart = engine.read(|_| ()).is_err();
            if must_restart || rng.below(6) == 0 {
                drop(engine);
                vfs.crash(if rng.below(2) == 0 { CrashMode::Torn } else { CrashMode::LoseUnsynced });
                crashes += 1;
                engine = open(&vfs, clock.clone(), 0)
                    .unwrap_or_else(|e| panic!("seed {seed} step {step}: restart failed: {e}"));
                let head = engine.head().0;
                if let Some((t, cmds)) = uncertain.take()
                    && head == shadow.last_seq() + 1
                {
                    // The unacknowledged block survived: it is part of history now.
                    shadow.apply(aurum_ledger::BatchContext { seq: head, timestamp: t }, &cmds);
                }
                assert_eq!(head, shadow.last_seq(), "seed {seed} step {step}: journal head vs shadow");
                assert_eq!(
                    engine.read(|l| l.digest()).unwrap(),
                    shadow.digest(),
                    "seed {seed} step {step}: recovered state differs from the shadow ledger"
                );
                check_acknowledged(seed, &engine, &acknowledged);
                let audit = engine.audit(AuditFrom::Genesis).unwrap();
                assert!(audit.is_clean(), "seed {seed} step {step}: {audit}");
            }
        }
        check_acknowledged(seed, &engine, &acknowledged);
        let audit = engine.audit(AuditFrom::Genesis).unwrap();
        assert!(audit.is_clean(), "seed {seed}: {audit}");
        engine.read(|l| l.check_invariants()).unwrap().unwrap();
        println!("simulation seed {seed}: {crashes} crashes, {} acknowledged commands checked", acknowledged.len());
    }

    fn check_acknowledged(seed: u64, engine: &Engine, acknowledged: &[(Command, Outcome)]) {
        engine
            .read(|l| {
                for (cmd, outcome) in acknowledged {
                    if outcome.code != ResultCode::Ok || outcome.replayed {
                        continue;
                    }
                    let present = match cmd {
                        Command::CreateTransfer(t) => l.transfer(t.id).is_some(),
                        Command::PostPending(p) => l.transfer(p.id).is_some(),
                        Command::VoidPending(v) => l.transfer(v.id).is_some(),
                        Command::CreateEntry(e) => l.transfer_count() > 0 && l.entry(e.id).is_some(),
                        Command::CreateAccount(a) => l.account(a.id).is_some(),
                        Command::CreateAsset(a) => l.asset(a.id).is_some(),
                        Command::CloseAccount(c) => l.account(c.id).is_some_and(|a| a.closed),
                    };
                    assert!(present, "seed {seed}: acknowledged {} lost after a crash", cmd.kind_name());
                }
            })
            .unwrap();
    }
}

mod engine_backpressure {
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::mpsc;

    use aurum_ledger::{Command, CreateAsset};
    use aurum_ledger_node::engine::{Engine, EngineConfig, EngineError, QUEUE_CAPACITY_REQUESTS};
    use aurum_vfs::SimVfs;

    /// While the writer is stuck in an fsync, requests queue up to QUEUE_CAPACITY_REQUESTS; the
    /// next non-blocking submit is refused with Overloaded (the API's 503 + Retry-After), and
    /// every queued request completes once the disk answers.
    #[test]
    fn a_full_queue_refuses_with_overloaded_and_loses_nothing_queued() {
        let vfs = SimVfs::new(12);
        let config = EngineConfig { max_batch_commands: 1, snapshot_on_shutdown: false, ..EngineConfig::default() };
        let (engine, _) = Engine::open(Arc::new(vfs.clone()), Path::new("/q"), config).unwrap();
        // Released on every path, a failed assertion included: the engine's drop joins its writer.
        struct Release(SimVfs);
        impl Drop for Release {
            fn drop(&mut self) {
                self.0.release_syncs();
            }
        }
        let release = Release(vfs.clone());
        vfs.hold_syncs();
        let (tx, rx) = mpsc::channel();
        let asset = |i: u32| {
            vec![Command::CreateAsset(CreateAsset { id: aurum_ledger::AssetId(i), code: format!("A{i}"), scale: 2 })]
        };
        let mut accepted = 0u32;
        let mut overloaded = false;
        // One request is inside the writer (stuck in fsync), one more may be carried over by it for
        // the next block, and the rest fill the queue.
        for i in 1..=(QUEUE_CAPACITY_REQUESTS as u32 + 3) {
            let tx = tx.clone();
            match engine.try_submit_with(asset(i), move |r| drop(tx.send(r))) {
                Ok(()) => accepted += 1,
                Err(EngineError::Overloaded { capacity }) => {
                    assert_eq!(capacity, QUEUE_CAPACITY_REQUESTS);
                    overloaded = true;
                    break;
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert!(overloaded, "the queue never filled ({accepted} accepted)");
        assert!(accepted as usize >= QUEUE_CAPACITY_REQUESTS, "{accepted} accepted");
        drop(release);
        drop(tx);
        let done: Vec<_> = rx.iter().take(accepted as usize).collect();
        assert_eq!(done.len(), accepted as usize);
        assert!(done.iter().all(|r| r.as_ref().is_ok_and(|o| o[0].code.is_ok())));
        assert_eq!(engine.read(|l| l.assets().len()).unwrap(), accepted as usize);
    }
}
