//! aurum-risk integration tests: each built-in rule on its pattern and on a benign control, hot
//! reload, drift, the ranking, the generator, the evaluation on a held-out seed, and the journal
//! stream's exactly-once alerts across a restart on a real engine.

use std::sync::Arc;

use aurum_ledger::{
    AccountId, AccountKind, AssetId, Command, CreateAccount, CreateAsset, CreateTransfer, Limit, TransferFlags,
    TransferId,
};
use aurum_ledger_node::engine::{Engine, EngineConfig};
use aurum_ledger_node::journal::JournalReader;
use aurum_risk::drift::{DriftConfig, DriftMonitor};
use aurum_risk::reload::RulesFile;
use aurum_risk::stream::{ALERTS_TOPIC, BlockScores, RiskStream, SCORES_TOPIC, read_alerts};
use aurum_risk::synth::{self, Pattern, SynthConfig};
use aurum_risk::{Assessment, Decision, Feature, FeatureVector, RuleSet, Scorer, ScorerConfig, TxEvent, eval};
use aurum_stats::PsiBand;

const S: u64 = 1_000_000_000;
const MIN: u64 = 60 * S;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;
/// 2026-03-02T00:00:00Z.
const T0: u64 = 1_772_409_600 * S;

/// A scorer with the built-in rules over USD (scale 2), fed by hand.
struct World {
    scorer: Scorer,
    next_id: u128,
}

impl World {
    fn new() -> World {
        World::with_rules(RuleSet::default_rules())
    }

    fn with_rules(rules: RuleSet) -> World {
        let mut scorer = Scorer::new(Arc::new(rules), ScorerConfig::default());
        scorer.register_asset(1, "USD", 2).unwrap();
        World { scorer, next_id: 1 }
    }

    /// Score and observe one transfer of `cents` at `ts`.
    fn pay(&mut self, debit: u128, credit: u128, cents: u128, ts: u64) -> Assessment {
        self.next_id += 1;
        self.scorer.process(&TxEvent { id: self.next_id, debit, credit, asset: 1, amount: cents, ts_ns: ts })
    }

    /// 30 days of ordinary life for `account`: two payments a day around `median` cents (±20 %)
    /// to its merchants 500..503, at 09:00 and 18:00 plus a few minutes. Returns the next day.
    fn history(&mut self, account: u128, median: u128, start: u64) -> u64 {
        for day in 0..30u64 {
            for (k, hour) in [9u64, 18].iter().enumerate() {
                let wobble = [80u128, 95, 100, 105, 120][((day * 2 + k as u64) % 5) as usize];
                let a = self.pay(
                    account,
                    500 + u128::from((day + k as u64).is_multiple_of(4)),
                    median * wobble / 100,
                    start + day * DAY + hour * HOUR + day * MIN,
                );
                assert!(
                    a.reasons.iter().all(|r| r.rule == "anomaly_model"),
                    "ordinary history flagged: {:?}",
                    a.reasons
                );
            }
        }
        start + 30 * DAY
    }
}

fn rules_fired(a: &Assessment) -> Vec<&str> {
    a.reasons.iter().filter(|r| r.rule != "anomaly_model").map(|r| r.rule.as_str()).collect()
}

#[test]
fn velocity_burst_fires_on_a_burst_but_not_on_a_payroll_account_that_always_bursts() {
    let mut w = World::new();
    let day = w.history(1, 4_000, T0);
    let fired: Vec<_> =
        (0..6u64).map(|k| rules_fired(&w.pay(1, 500, 4_000, day + 10 * HOUR + k * 30 * S)).len()).collect();
    assert_eq!(fired, vec![0, 0, 0, 0, 1, 1], "the fifth transfer within 10 minutes fires");
    let a = w.pay(1, 500, 4_000, day + 10 * HOUR + 200 * S);
    assert_eq!(rules_fired(&a), vec!["velocity_burst"]);
    assert!(a.reasons[0].text.contains("transfers out within 10 minutes"), "{}", a.reasons[0].text);
    assert_eq!(a.decision, Decision::Hold, "0.8 ≥ hold_at 0.75");

    // A burst that straddles a clock hour: the previous hour does not become its own baseline.
    let day = w.history(2, 4_000, T0);
    let start = day + 11 * HOUR - 90 * S;
    let fired: Vec<_> = (0..6u64).map(|k| rules_fired(&w.pay(2, 500, 4_000, start + k * 30 * S)).len()).collect();
    assert_eq!(fired, vec![0, 0, 0, 0, 1, 1], "straddling 11:00");

    // Control: an employer whose payroll is a burst of 20 every fortnight.
    for cycle in 0..3u64 {
        let t = T0 + cycle * 14 * DAY;
        for e in 0..20u128 {
            let a = w.pay(9, 1000 + e, 250_000, t + e as u64 * 5 * S);
            if cycle > 0 {
                assert!(rules_fired(&a).is_empty(), "payroll {cycle} employee {e}: {:?}", a.reasons);
            }
        }
    }
}

#[test]
fn amount_far_above_profile_fires_on_a_takeover_amount_not_on_a_big_but_plausible_one() {
    let mut w = World::new();
    let day = w.history(1, 10_000, T0);
    let control = w.pay(1, 500, 35_000, day + 12 * HOUR);
    assert!(rules_fired(&control).is_empty(), "{:?}", control.reasons);
    let a = w.pay(1, 501, 300_000, day + 13 * HOUR);
    assert_eq!(rules_fired(&a), vec!["amount_far_above_profile"]);
    assert!(a.features.get(Feature::AmountRatio) > 25.0);
    // The same amount to a never-paid merchant with history is not "deviation" (that is the
    // new-counterparty rule's business, and it needs a brand-new receiver).
    w.pay(77, 502, 1_000, day);
    let b = w.pay(1, 502, 300_000, day + 14 * HOUR);
    assert!(rules_fired(&b).is_empty(), "{:?}", b.reasons);
}

#[test]
fn large_payment_to_new_account_needs_a_brand_new_receiver_and_a_large_amount() {
    let mut w = World::new();
    let day = w.history(1, 5_000, T0);
    let a = w.pay(1, 9_000_001, 150_000, day + 12 * HOUR);
    assert_eq!(rules_fired(&a), vec!["large_payment_to_new_account"]);
    // Controls: an ordinary amount to a new account; a large amount to an established stranger.
    let small = w.pay(1, 9_000_002, 6_000, day + 13 * HOUR);
    assert!(rules_fired(&small).is_empty(), "{:?}", small.reasons);
    for k in 0..5 {
        w.pay(300 + k, 600, 2_000, day + k as u64 * MIN);
    }
    let known = w.pay(1, 600, 150_000, day + 14 * HOUR);
    assert!(rules_fired(&known).is_empty(), "{:?}", known.reasons);
}

#[test]
fn structuring_fires_on_the_third_amount_just_under_the_threshold() {
    let mut w = World::new();
    let day = w.history(1, 50_000, T0);
    let a1 = w.pay(1, 700, 950_000, day + 9 * HOUR);
    let a2 = w.pay(1, 701, 980_000, day + 11 * HOUR);
    let a3 = w.pay(1, 700, 999_999, day + 14 * HOUR);
    assert!(rules_fired(&a1).iter().all(|r| *r != "structuring_under_threshold"));
    assert!(rules_fired(&a2).iter().all(|r| *r != "structuring_under_threshold"));
    assert!(rules_fired(&a3).contains(&"structuring_under_threshold"), "{:?}", a3.reasons);
    assert_eq!(a3.features.get(Feature::NearThreshold24h), 3.0);
    // Control: amounts at the threshold itself are reported, not structured.
    let mut w = World::new();
    let day = w.history(2, 50_000, T0);
    for k in 0..4u64 {
        let a = w.pay(2, 700, 1_000_000, day + (9 + k) * HOUR);
        assert!(rules_fired(&a).iter().all(|r| *r != "structuring_under_threshold"), "{:?}", a.reasons);
    }
}

#[test]
fn rapid_pass_through_fires_when_money_leaves_within_minutes_to_a_new_account() {
    let mut w = World::new();
    let t = T0 + 40 * DAY;
    w.pay(5_000_000, 42, 500_000, t);
    let a = w.pay(42, 9_100_000, 460_000, t + 3 * MIN);
    assert_eq!(rules_fired(&a), vec!["rapid_pass_through"]);
    assert!((a.features.get(Feature::PassThrough) - 0.92).abs() < 1e-9);
    // Controls: a small share sent on; or the whole amount but after the window.
    let mut w = World::new();
    w.pay(5_000_000, 43, 500_000, t);
    assert!(rules_fired(&w.pay(43, 9_100_001, 100_000, t + 3 * MIN)).is_empty());
    assert!(rules_fired(&w.pay(43, 9_100_002, 390_000, t + 11 * MIN)).is_empty());
}

#[test]
fn fan_in_fires_on_many_new_senders_into_a_quiet_account_not_into_a_busy_merchant() {
    let mut w = World::new();
    let t = T0 + 40 * DAY;
    let fired: Vec<_> =
        (0..6u128).map(|k| rules_fired(&w.pay(100 + k, 9_200_000, 20_000, t + k as u64 * 7 * MIN)).len()).collect();
    assert_eq!(fired, vec![0, 0, 0, 0, 1, 1]);
    let a = w.pay(106, 9_200_000, 20_000, t + 45 * MIN);
    assert_eq!(rules_fired(&a), vec!["fan_in_new_senders"]);
    assert_eq!(a.reasons[0].account, 9_200_000, "the receiver's risk");
    // Control: a merchant that has received ten payments a day for a month.
    for d in 0..30u64 {
        for k in 0..10u128 {
            w.pay(2_000 + (u128::from(d) * 10 + k) % 150, 800, 3_000, T0 + d * DAY + k as u64 * HOUR);
        }
    }
    for k in 0..8u128 {
        let a = w.pay(3_000 + k, 800, 3_000, t + 2 * DAY + k as u64 * 5 * MIN);
        assert!(rules_fired(&a).is_empty(), "{:?}", a.reasons);
    }
}

#[test]
fn fan_out_fires_on_many_new_receivers_not_on_known_ones() {
    let mut w = World::new();
    let day = w.history(1, 8_000, T0);
    let fired: Vec<_> = (0..6u128)
        .map(|k| rules_fired(&w.pay(1, 4_000 + k, 8_000, day + 10 * HOUR + k as u64 * 8 * MIN)).len())
        .collect();
    assert_eq!(fired, vec![0, 0, 0, 0, 1, 1]);
    assert_eq!(rules_fired(&w.pay(1, 4_100, 8_000, day + 11 * HOUR)), vec!["fan_out_new_receivers"]);
    // Control: the same cadence to counterparties paid before.
    let mut w = World::new();
    let day = w.history(2, 8_000, T0);
    for k in 0..8u128 {
        let a = w.pay(2, 500 + k % 4, 8_000, day + 10 * HOUR + k as u64 * 8 * MIN);
        assert!(rules_fired(&a).is_empty(), "{:?}", a.reasons);
    }
}

#[test]
fn dormant_reactivation_fires_on_a_large_return_not_an_ordinary_one() {
    let mut w = World::new();
    let end = w.history(1, 6_000, T0);
    let a = w.pay(1, 501, 60_000, end + 90 * DAY);
    assert_eq!(rules_fired(&a), vec!["dormant_reactivation"]);
    assert!(a.features.get(Feature::DormantDays) > 89.0);
    let mut w = World::new();
    let end = w.history(2, 6_000, T0);
    assert!(rules_fired(&w.pay(2, 501, 6_500, end + 90 * DAY)).is_empty());
    // Dormant, but not long enough.
    let mut w = World::new();
    let end = w.history(3, 6_000, T0);
    assert!(rules_fired(&w.pay(3, 501, 60_000, end + 40 * DAY)).is_empty());
}

#[test]
fn exempt_platform_accounts_are_not_scored_but_their_counterparties_are() {
    let mut rules = RuleSet::default_rules();
    rules.exempt.insert(1);
    let mut w = World::with_rules(rules);
    // Account 1 (a treasury) pays eight new counterparties in a few minutes: nothing fires.
    for k in 0..8u128 {
        let a = w.pay(1, 4_000 + k, 8_000, T0 + k as u64 * 30 * S);
        assert!(rules_fired(&a).is_empty(), "{:?}", a.reasons);
    }
    // Account 2, not exempt, doing the same is a fan-out and a burst.
    let fired = (0..8u128).map(|k| rules_fired(&w.pay(2, 5_000 + k, 8_000, T0 + k as u64 * 30 * S)).len()).max();
    assert!(fired.unwrap() >= 1);
    // The file form: ids as decimal strings; a bad one is refused with its place.
    let bad = "[policy]\nalert_at = 0.5\nhold_at = 0.7\nreject_at = 0.9\n[exempt]\naccounts = [\"12x\"]\n";
    let e = RuleSet::parse(bad, "t").unwrap_err().to_string();
    assert!(e.contains("exempt.accounts[0]: \"12x\" is not an account id"), "{e}");
    let good = "[policy]\nalert_at = 0.5\nhold_at = 0.7\nreject_at = 0.9\n[exempt]\naccounts = [\"12\", \"340282366920938463463374607431768211455\"]\n";
    assert_eq!(RuleSet::parse(good, "t").unwrap().exempt.len(), 2);
}

#[test]
fn scores_combine_as_independent_evidence_and_policy_decides() {
    let text = r#"
        [policy]
        alert_at = 0.3
        hold_at = 0.5
        reject_at = 0.9
        [model]
        weight = 0.0
        [[rule]]
        name = "big"
        pattern = "p"
        side = "sender"
        when = "amount >= 1000"
        score = 0.6
        reason = "amount {amount}"
        [[rule]]
        name = "very_big"
        pattern = "p"
        side = "receiver"
        when = "amount >= 5000"
        score = 0.8
        reason = "amount {amount} into {receiver_history_count}"
    "#;
    let mut w = World::with_rules(RuleSet::parse(text, "inline").unwrap());
    let a = w.pay(1, 2, 99_999, T0);
    assert_eq!((a.score, a.decision, a.alert), (0.0, Decision::Allow, false));
    let a = w.pay(1, 2, 100_000, T0 + S);
    assert_eq!((a.score, a.decision, a.alert), (0.6, Decision::Hold, true));
    let a = w.pay(1, 2, 500_000, T0 + 2 * S);
    assert!((a.score - 0.92).abs() < 1e-12, "1 - 0.4 × 0.2");
    assert_eq!(a.decision, Decision::Reject);
    assert_eq!(a.reasons[1].text, "amount 5000 into 2");
    // The ranking puts the receiver of the receiver-side rule and the sender of the other.
    let top = w.scorer.top(5, T0 + 3 * S);
    assert_eq!(top.len(), 2);
    assert!(top.iter().any(|(acct, _)| *acct == 1) && top.iter().any(|(acct, _)| *acct == 2));
}

#[test]
fn hot_reload_swaps_valid_rules_and_keeps_the_old_ones_on_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    let rules = |threshold: &str| {
        format!(
            "[policy]\nalert_at = 0.5\nhold_at = 0.5\nreject_at = 1.0\n[model]\nweight = 0.0\n[[rule]]\nname = \"big\"\npattern = \"p\"\nside = \"sender\"\nwhen = \"amount >= {threshold}\"\nscore = 0.9\nreason = \"big\"\n"
        )
    };
    std::fs::write(&path, rules("100")).unwrap();
    let (mut file, loaded) = RulesFile::load(&path).unwrap();
    let mut w = World::with_rules(loaded);
    assert_eq!(w.pay(1, 2, 15_000, T0).decision, Decision::Hold);
    assert!(file.reload_if_changed().unwrap().is_none(), "unchanged");

    std::fs::write(&path, rules("200")).unwrap();
    let new = file.reload_if_changed().unwrap().expect("changed");
    w.scorer.set_rules(Arc::new(new)).unwrap();
    assert_eq!(w.pay(1, 2, 15_000, T0 + S).decision, Decision::Allow);

    std::fs::write(&path, rules("200 and")).unwrap();
    let err = file.reload_if_changed().unwrap_err().to_string();
    assert!(err.contains("rule 1 (\"big\"): when, column 18: expected a feature name"), "{err}");
    assert!(file.reload_if_changed().unwrap().is_none(), "a bad file is reported once");
    assert_eq!(w.pay(1, 2, 25_000, T0 + 2 * S).decision, Decision::Hold, "old rules still in force");
}

#[test]
fn drift_is_stable_on_the_same_distribution_and_significant_on_a_shift() {
    let config =
        DriftConfig { reference_events: 5_000, window_events: 5_000, bins: 10, features: vec![Feature::Amount] };
    let mut m = DriftMonitor::new(config);
    let mut rng = aurum_vfs::rng::SplitMix64::new(11);
    let mut sample = |shift: f64| {
        // A log-normal-ish amount: e^(N(4 + shift, 0.6)) via the sum of 12 uniforms.
        let n: f64 = (0..12).map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64).sum::<f64>() - 6.0;
        let mut f = FeatureVector::default();
        f.set(Feature::Amount, (4.0 + shift + 0.6 * n).exp());
        f
    };
    for _ in 0..5_000 {
        m.observe(&sample(0.0));
    }
    assert!(!m.collecting());
    for _ in 0..5_000 {
        m.observe(&sample(0.0));
    }
    assert_eq!(m.windows(), 1);
    assert_eq!(m.worst(), Some(PsiBand::Stable), "{:?}", m.last());
    for _ in 0..5_000 {
        m.observe(&sample(0.5));
    }
    assert_eq!(m.worst(), Some(PsiBand::Significant), "{:?}", m.last());
    assert!(m.last()[0].psi > 0.25);
}

#[test]
fn the_generator_is_deterministic_and_labels_every_incident() {
    let cfg = SynthConfig {
        seed: 9,
        consumers: 1_000,
        merchants: 50,
        employers: 10,
        incidents_per_pattern: 5,
        ..Default::default()
    };
    let a = synth::generate(&cfg);
    let b = synth::generate(&cfg);
    assert_eq!(a.events, b.events);
    let c = synth::generate(&SynthConfig { seed: 10, ..cfg });
    assert_ne!(a.events, c.events);
    for p in Pattern::ALL {
        assert_eq!(a.incidents[&p], 5, "{p:?}");
        let labelled = a.events.iter().filter(|e| e.label.is_some_and(|l| l.pattern == p)).count();
        assert!(labelled >= 5, "{p:?}: {labelled}");
    }
    assert!(a.events.windows(2).all(|w| w[0].event.ts_ns < w[1].event.ts_ns), "strictly increasing time");
    assert!(a.events.iter().all(|e| e.event.debit != e.event.credit && e.event.amount > 0));
}

#[test]
fn the_built_in_rules_meet_the_aim_on_a_seed_they_were_not_tuned_on() {
    let data = synth::generate(&SynthConfig { seed: 3, ..Default::default() });
    let e = eval::evaluate(&data, Arc::new(RuleSet::default_rules()), ScorerConfig::default());
    for p in &e.patterns {
        assert!(p.recall >= 0.9, "{p:?}");
        assert!(p.precision >= 0.8, "{p:?}");
    }
    assert!(e.false_alerts * 1000 < e.normal, "false alerts {} of {}", e.false_alerts, e.normal);
}

fn account(id: u128) -> Command {
    Command::CreateAccount(CreateAccount {
        id: AccountId(id),
        asset: AssetId(1),
        kind: AccountKind::Liability,
        limit: Limit::None,
        history: false,
        metadata: Default::default(),
        linked: false,
    })
}

fn transfer(id: u128, debit: u128, credit: u128, amount: u128) -> Command {
    Command::CreateTransfer(CreateTransfer {
        id: TransferId(id),
        debit_account: AccountId(debit),
        credit_account: AccountId(credit),
        amount,
        asset: AssetId(1),
        flags: TransferFlags::default(),
        timeout_secs: 0,
        metadata: Default::default(),
    })
}

#[test]
fn the_journal_stream_alerts_exactly_once_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = Engine::open(Arc::new(aurum_vfs::OsVfs), dir.path(), EngineConfig::default()).unwrap();
    let mut setup = vec![Command::CreateAsset(CreateAsset { id: AssetId(1), code: "USD".into(), scale: 2 })];
    setup.extend((1..=20).map(account));
    for o in engine.submit(setup).unwrap() {
        assert!(o.code.is_ok());
    }
    // Account 1 pays eight new counterparties in quick succession, one block each: from the
    // fifth on, both the burst and the fan-out rules fire.
    for k in 0..8u128 {
        assert!(engine.submit(vec![transfer(100 + k, 1, 10 + k, 5_000)]).unwrap()[0].code.is_ok());
    }
    let log = engine.log().clone();
    let new_stream = || {
        let scorer = Scorer::new(Arc::new(RuleSet::default_rules()), ScorerConfig::default());
        RiskStream::open(scorer, JournalReader::new(log.clone()), std::sync::Arc::new(log.clone())).unwrap()
    };
    let drain = |s: &mut RiskStream| {
        let mut total = aurum_risk::stream::PollReport::default();
        loop {
            let r = s.poll().unwrap();
            if r.blocks == 0 {
                return total;
            }
            total.blocks += r.blocks;
            total.transfers += r.transfers;
            total.alerts += r.alerts;
            total.score_records += r.score_records;
        }
    };
    let mut s = new_stream();
    let first = drain(&mut s);
    assert_eq!(first.transfers, 8);
    assert_eq!(first.alerts, 4, "transfers 5 to 8 alert");
    let (alerts, _) = read_alerts(&log, 0, 100).unwrap();
    let ids: Vec<_> = alerts.iter().map(|(_, a)| a.transfer.as_str()).collect();
    assert_eq!(ids, vec!["104", "105", "106", "107"]);
    assert!(alerts.iter().all(|(_, a)| a.source == "journal" && a.reasons.iter().any(|r| r.pattern == "fan_out")));
    drop(s);

    // Restart: the profiles are rebuilt from genesis, nothing is alerted twice; then new blocks
    // alert as usual.
    let mut s = new_stream();
    let again = drain(&mut s);
    assert_eq!((again.transfers, again.alerts, again.score_records), (8, 0, 0));
    assert!(engine.submit(vec![transfer(200, 1, 19, 5_000)]).unwrap()[0].code.is_ok());
    let more = drain(&mut s);
    assert_eq!((more.transfers, more.alerts, more.score_records), (1, 1, 1));
    let offsets = log.offsets(ALERTS_TOPIC, 0).unwrap();
    assert_eq!(offsets.high_watermark, 5);
    assert_eq!(s.scorer().top(1, u64::MAX / 2)[0].0, 1, "the paying account ranks first");
    drop(s);

    // A crash after the alerts of the last block, before its scores: a second alerts log holds
    // what the first holds, less the last scores record. The next run writes only that record.
    assert!(engine.submit(vec![transfer(201, 1, 20, 5_000)]).unwrap()[0].code.is_ok());
    let mut s = new_stream();
    let last = drain(&mut s);
    assert_eq!((last.alerts, last.score_records), (1, 1));
    drop(s);
    let crashed_dir = tempfile::tempdir().unwrap();
    let crashed = aurum_log::Log::open(Arc::new(aurum_vfs::OsVfs), crashed_dir.path(), Default::default()).unwrap();
    let copy = |topic: &str, drop_last: bool| {
        crashed.create_topic(topic, aurum_log::TopicConfig { partitions: 1, ..Default::default() }).unwrap();
        let mut records = log.read(topic, 0, 0, 1 << 20).unwrap().records;
        if drop_last {
            records.pop();
        }
        let records: Vec<_> = records
            .into_iter()
            .map(|r| aurum_log::ProducerRecord { key: r.key, value: r.value, headers: r.headers, timestamp_ms: None })
            .collect();
        crashed.append(topic, 0, &records).unwrap();
    };
    copy(ALERTS_TOPIC, false);
    copy(SCORES_TOPIC, true);
    let scorer = Scorer::new(Arc::new(RuleSet::default_rules()), ScorerConfig::default());
    let mut s =
        RiskStream::open(scorer, JournalReader::new(log.clone()), std::sync::Arc::new(crashed.clone())).unwrap();
    let repaired = drain(&mut s);
    assert_eq!((repaired.alerts, repaired.score_records), (0, 1), "only the missing scores are written");
    let values = |l: &aurum_log::Log| -> Vec<Vec<u8>> {
        l.read(SCORES_TOPIC, 0, 0, 1 << 20).unwrap().records.into_iter().map(|r| r.value.unwrap()).collect()
    };
    assert_eq!(values(&crashed), values(&log), "the repaired topic equals the uncrashed one");

    // One scores record per block with transfers, in journal order, every transfer once.
    let mut seen = Vec::new();
    let mut last_seq = 0;
    let fetched = log.read(SCORES_TOPIC, 0, 0, 1 << 20).unwrap();
    for r in &fetched.records {
        let b: BlockScores = serde_json::from_slice(r.value.as_deref().unwrap()).unwrap();
        assert!(b.seq > last_seq, "blocks in order");
        last_seq = b.seq;
        seen.extend(b.scores.iter().map(|t| (t.transfer.clone(), t.alert)));
        for t in &b.scores {
            assert!((0.0..=1.0).contains(&t.score) && (0.0..=1.0).contains(&t.model_score), "{t:?}");
        }
    }
    let ids: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(ids, vec!["100", "101", "102", "103", "104", "105", "106", "107", "200", "201"]);
    let flagged: Vec<&str> = seen.iter().filter(|(_, a)| *a).map(|(t, _)| t.as_str()).collect();
    let (alerts, _) = read_alerts(&log, 0, 100).unwrap();
    let alerted: Vec<&str> = alerts.iter().map(|(_, a)| a.transfer.as_str()).collect();
    assert_eq!(flagged, alerted, "a score is flagged exactly when its transfer alerted");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 2_000, ..Default::default() })]

    /// The condition parser and the rules-file parser refuse or accept any input; they never panic.
    #[test]
    fn parsers_never_panic(text in "[ -~\\n]{0,200}", words in proptest::collection::vec(
        proptest::sample::select(vec!["amount", "amount_z", "and", "or", "not", "(", ")", ">=", "<", "==", "!=",
            "1", "-2.5", "1e3", "fan_in_1h", "nope", "[policy]", "[[rule]]", "when = ", "\"", "=", "\n"]), 0..40)) {
        let _ = aurum_risk::expr::parse(&text);
        let _ = RuleSet::parse(&text, "fuzz");
        let joined = words.join(" ");
        if let Ok(c) = aurum_risk::expr::parse(&joined) {
            // Whatever parses evaluates without panicking on any feature values.
            let mut f = FeatureVector::default();
            f.set(Feature::Amount, 1e300);
            let _ = c.eval(&f);
        }
        let _ = RuleSet::parse(&joined, "fuzz");
    }
}
