//! The aggregator: honest, stale, lying, forged and silent sources; quorum loss; the jump breaker; a soak of many
//! simulated sources with no stuck state and bounded memory.

use aurum_oracle::aggregate::{Aggregator, DropReason, RoundOutcome, SymbolConfig};
use aurum_oracle::signing::{Observation, SourceKeys, sign};
use aurum_vfs::rng::SplitMix64;
use ed25519_dalek::SigningKey;

const NOW: i64 = 1_795_000_000_000;

fn config() -> SymbolConfig {
    SymbolConfig {
        symbol: "XAU/USD".into(),
        scale: 8,
        quorum: 3,
        max_age_ms: 60_000,
        mad_limit_permille: 3_000,
        mad_floor_bps: 5,
        jump_limit_bps: 500,
        confirm_rounds: 2,
    }
}

struct Sources {
    keys: Vec<SigningKey>,
    public: SourceKeys,
}

impl Sources {
    fn new(n: usize) -> Sources {
        let keys: Vec<SigningKey> = (0..n)
            .map(|i| {
                let mut seed = [7u8; 32];
                seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
                SigningKey::from_bytes(&seed)
            })
            .collect();
        let mut public = SourceKeys::new();
        for (i, k) in keys.iter().enumerate() {
            public.insert(&format!("s{i}"), k.verifying_key());
        }
        Sources { keys, public }
    }

    /// Source `i` observes `value` at `at_ms`, signed.
    fn obs(&self, i: usize, value: &str, at_ms: i64) -> Observation {
        let mut o = Observation {
            source: format!("s{i}"),
            symbol: "XAU/USD".into(),
            value: Some(value.into()),
            text: None,
            observed_at_ms: at_ms,
            received_at_ms: at_ms + 10,
            signature: None,
        };
        o.signature = Some(sign(&self.keys[i], &o));
        o
    }
}

fn reason(r: &aurum_oracle::aggregate::RoundReport, source: &str) -> Option<DropReason> {
    r.dropped.iter().find(|(s, _)| s == source).map(|(_, d)| d.clone())
}

#[test]
fn honest_sources_publish_the_low_median_exactly() {
    let s = Sources::new(4);
    let mut a = Aggregator::new(config(), s.public.clone());
    let obs = [s.obs(0, "2650.10", NOW), s.obs(1, "2650.30", NOW), s.obs(2, "2650.20", NOW), s.obs(3, "2650.25", NOW)];
    let r = a.round(&obs, NOW + 1_000);
    // Sorted: 2650.10, .20, .25, .30 -> the lower middle, exactly (no averaging of .20 and .25).
    assert_eq!(r.outcome, RoundOutcome::Published { value: 265_020_000_000 });
    assert_eq!(r.used.len(), 4);
    assert!(r.dropped.is_empty());
}

#[test]
fn stale_future_non_positive_unparseable_and_events_are_dropped_with_reasons() {
    let s = Sources::new(8);
    let mut a = Aggregator::new(config(), s.public.clone());
    let mut event = s.obs(7, "1", NOW);
    event.value = None;
    event.text = Some("trading halt".into());
    event.signature = Some(sign(&s.keys[7], &event));
    let obs = [
        s.obs(0, "2650.00", NOW),
        s.obs(1, "2650.01", NOW),
        s.obs(2, "2650.02", NOW),
        s.obs(3, "2650.00", NOW - 120_000), // stale
        s.obs(4, "2650.00", NOW + 60_000),  // from the future
        s.obs(5, "-2650.00", NOW),          // non-positive
        s.obs(6, "2650.000000001", NOW),    // more decimals than the feed's 8
        event,
    ];
    let r = a.round(&obs, NOW);
    assert_eq!(r.outcome, RoundOutcome::Published { value: 265_001_000_000 });
    assert!(matches!(reason(&r, "s3"), Some(DropReason::Stale { age_ms: 120_000 })));
    assert!(matches!(reason(&r, "s4"), Some(DropReason::FromTheFuture { .. })));
    assert_eq!(reason(&r, "s5"), Some(DropReason::NonPositive));
    assert!(matches!(reason(&r, "s6"), Some(DropReason::Unparseable { .. })));
    assert_eq!(reason(&r, "s7"), Some(DropReason::NoValue));
}

#[test]
fn forged_and_unsigned_observations_are_rejected() {
    let s = Sources::new(4);
    let mut a = Aggregator::new(config(), s.public.clone());
    let mut forged = s.obs(3, "9999.00", NOW);
    forged.signature = Some(sign(&SigningKey::from_bytes(&[99; 32]), &forged));
    let mut altered = s.obs(2, "2650.00", NOW);
    altered.value = Some("2700.00".into()); // changed in transit after signing
    let mut unsigned = s.obs(1, "2650.00", NOW);
    unsigned.signature = None;
    let r = a.round(&[s.obs(0, "2650.00", NOW), forged, altered, unsigned], NOW);
    assert_eq!(r.outcome, RoundOutcome::NoQuorum { have: 1, need: 3 });
    for src in ["s1", "s2", "s3"] {
        assert!(matches!(reason(&r, src), Some(DropReason::BadSignature { .. })), "{src}: {:?}", reason(&r, src));
    }
}

#[test]
fn a_lying_source_is_an_outlier_and_a_lost_quorum_publishes_nothing() {
    let s = Sources::new(5);
    let mut a = Aggregator::new(config(), s.public.clone());
    let obs = [
        s.obs(0, "2650.00", NOW),
        s.obs(1, "2650.50", NOW),
        s.obs(2, "2649.80", NOW),
        s.obs(3, "2651.00", NOW),
        s.obs(4, "3100.00", NOW), // lies
    ];
    let r = a.round(&obs, NOW);
    assert_eq!(r.published(), Some(265_000_000_000), "the low median of the four honest values");
    assert!(matches!(reason(&r, "s4"), Some(DropReason::Outlier { .. })));
    // Two sources go silent, one goes stale: two left, below the quorum of three.
    let r = a.round(
        &[s.obs(0, "2650.00", NOW + 1_000), s.obs(1, "2650.10", NOW + 1_000), s.obs(2, "2650.00", NOW - 100_000)],
        NOW + 1_000,
    );
    assert_eq!(r.outcome, RoundOutcome::NoQuorum { have: 2, need: 3 });
    assert_eq!(a.last(), Some(265_000_000_000), "nothing was published over it");
}

#[test]
fn a_jump_trips_the_breaker_until_confirmed_or_reset() {
    let s = Sources::new(3);
    let mut a = Aggregator::new(config(), s.public.clone());
    let round = |a: &mut Aggregator, price: &str, t: i64| {
        a.round(&[s.obs(0, price, t), s.obs(1, price, t), s.obs(2, price, t)], t)
    };
    assert_eq!(round(&mut a, "2650.00", NOW).published(), Some(265_000_000_000));
    // +10%: beyond the 5% limit -> held, twice more to confirm.
    let r = round(&mut a, "2915.00", NOW + 1_000);
    assert!(matches!(r.outcome, RoundOutcome::BreakerTripped { jump_bps: 1000, confirmations: 0, .. }), "{r:?}");
    let r = round(&mut a, "2916.00", NOW + 2_000);
    assert!(matches!(r.outcome, RoundOutcome::BreakerTripped { confirmations: 1, .. }), "{r:?}");
    assert_eq!(a.last(), Some(265_000_000_000));
    assert_eq!(round(&mut a, "2915.50", NOW + 3_000).published(), Some(291_550_000_000), "confirmed: a real move");
    // A one-round spike is held and forgotten when prices return.
    let r = round(&mut a, "3500.00", NOW + 4_000);
    assert!(matches!(r.outcome, RoundOutcome::BreakerTripped { .. }));
    assert_eq!(round(&mut a, "2916.00", NOW + 5_000).published(), Some(291_600_000_000));
    // With confirmations off, only an operator reset accepts a jump.
    let mut strict = Aggregator::new(SymbolConfig { confirm_rounds: 0, ..config() }, s.public.clone());
    assert!(round(&mut strict, "2650.00", NOW).published().is_some());
    for i in 1..=5 {
        assert!(round(&mut strict, "3000.00", NOW + i * 1_000).published().is_none());
    }
    strict.reset_breaker();
    assert_eq!(round(&mut strict, "3000.00", NOW + 9_000).published(), Some(300_000_000_000));
}

/// Many simulated sources over many rounds, with every fault mixed in at random (seeded): the aggregator never
/// gets stuck (it publishes again as soon as enough honest sources are back) and its state does not grow.
#[test]
fn soak_many_sources_no_stuck_state_bounded_state() {
    const SOURCES: usize = 40;
    const ROUNDS: i64 = 3_000;
    let s = Sources::new(SOURCES);
    let mut a = Aggregator::new(SymbolConfig { quorum: 21, ..config() }, s.public.clone());
    let mut rng = SplitMix64::new(2026);
    let mut price: i64 = 265_000; // cents
    let (mut published, mut no_quorum, mut tripped) = (0, 0, 0);
    let state_size = std::mem::size_of_val(&a);
    for round in 0..ROUNDS {
        let t = NOW + round * 1_000;
        // A random walk of a few basis points per round.
        price += rng.range_inclusive(0, 20) as i64 - 10;
        // Every 500 rounds, a stretch of 20 rounds where most sources fail: the quorum is lost, then recovers.
        let outage = round % 500 >= 480;
        let mut obs = Vec::with_capacity(SOURCES);
        for i in 0..SOURCES {
            let fault = rng.below(100);
            if outage && i % 4 != 0 {
                continue; // silent
            }
            let value = format!("{}.{:02}", price / 100, price % 100);
            match fault {
                0..=2 => obs.push(s.obs(i, "99999.00", t)),       // lying
                3..=4 => obs.push(s.obs(i, &value, t - 600_000)), // stale
                5 => {
                    let mut o = s.obs(i, &value, t);
                    o.value = Some("1.00".into()); // altered: signature breaks
                    obs.push(o);
                }
                6 => {} // silent this round
                _ => obs.push(s.obs(i, &value, t)),
            }
        }
        let r = a.round(&obs, t);
        assert_eq!(r.used.len() + r.dropped.len(), obs.len(), "every observation accounted for");
        match r.outcome {
            RoundOutcome::Published { value } => {
                published += 1;
                let expect = i128::from(price) * 1_000_000;
                assert!((value - expect).abs() <= 50 * 1_000_000, "round {round}: {value} vs {expect}");
            }
            RoundOutcome::NoQuorum { .. } => {
                no_quorum += 1;
                assert!(outage, "round {round}: quorum lost outside an outage: {r:?}");
            }
            RoundOutcome::BreakerTripped { .. } => tripped += 1,
        }
        // Not stuck: the first round after an outage publishes again.
        if round % 500 == 0 && round > 0 {
            assert!(r.published().is_some(), "round {round} after an outage: {r:?}");
        }
    }
    assert_eq!(tripped, 0, "honest prices never jump");
    assert_eq!(no_quorum, 6 * 20);
    assert_eq!(published, ROUNDS as usize - no_quorum);
    assert_eq!(std::mem::size_of_val(&a), state_size, "the aggregator's state is fixed-size: no per-round growth");
}

/// More sources than one round considers: the extra ones are dropped with a reason, never silently ignored.
#[test]
fn sources_beyond_the_per_round_limit_are_dropped_with_a_reason() {
    use aurum_oracle::aggregate::MAX_SOURCES_PER_ROUND;
    let n = MAX_SOURCES_PER_ROUND + 2;
    let s = Sources::new(n);
    let mut a = Aggregator::new(config(), s.public.clone());
    let obs: Vec<Observation> = (0..n).map(|i| s.obs(i, "2650.00", NOW)).collect();
    let r = a.round(&obs, NOW);
    assert_eq!(r.used.len(), MAX_SOURCES_PER_ROUND);
    assert_eq!(r.dropped.iter().filter(|(_, d)| *d == DropReason::OverLimit).count(), 2);
    assert_eq!(r.used.len() + r.dropped.len(), n, "every observation accounted for");
}
