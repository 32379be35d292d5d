//! Integration tests of aurum-stats: TopK against a naive model (proptest and seeded loops),
//! forward decay against the direct formula, and PSI on hand-computed and seeded-random data.

use std::collections::HashMap;

use aurum_stats::{
    Bins, DecayedSum, ForwardDecay, Histogram, MAX_PSI_BINS, PSI_PROPORTION_FLOOR, PsiBand, StatsError, TopK, psi,
};
use aurum_vfs::rng::SplitMix64;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Uniform in [0, 1): the top 53 bits of the generator.
fn uniform(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Standard normal by Box–Muller (one of the pair; plenty for tests).
fn normal(rng: &mut SplitMix64) -> f64 {
    let u1 = 1.0 - uniform(rng); // (0, 1]: ln is finite
    let u2 = uniform(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn normal_sample(seed: u64, n: usize, mean: f64) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| mean + normal(&mut rng)).collect()
}

fn histogram(bins: &Bins, xs: &[f64]) -> Histogram {
    let mut h = Histogram::new(bins);
    xs.iter().for_each(|&x| h.observe(bins, x));
    h
}

fn assert_close(got: f64, want: f64, rel: f64) {
    let err = ((got - want) / want).abs();
    assert!(err <= rel, "got {got}, want {want}: relative error {err:e} > {rel:e}");
}

/// Everything `top` must agree on with the naive `model` (key -> current value) when every key
/// only ever increased. Ties at the K-th value may be resolved either way, so the check is: the
/// kept values are exactly the K largest (as a multiset), each kept key has its current value,
/// every key strictly above the K-th value is kept, and `sorted()` is ordered by value desc, key
/// asc. When the K-th and (K+1)-th values differ, `sorted()` must equal the model's top K.
fn assert_matches_model(top: &TopK<u32>, model: &HashMap<u32, f64>) {
    top.check_invariants();
    let mut want: Vec<(u32, f64)> = model.iter().map(|(&k, &v)| (k, v)).collect();
    want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let k = top.capacity().min(want.len());
    let got = top.sorted();
    assert_eq!(got.len(), k);

    let got_values: Vec<f64> = got.iter().map(|e| e.1).collect();
    let want_values: Vec<f64> = want[..k].iter().map(|e| e.1).collect();
    assert_eq!(got_values, want_values, "kept values are not the K largest");
    for (key, value) in &got {
        assert_eq!(model.get(key), Some(value), "key {key} kept with a stale value");
        assert_eq!(top.get(key), Some(*value));
    }
    if k > 0 {
        let boundary = want[k - 1].1;
        for (key, value) in &want {
            if *value > boundary {
                assert!(top.get(key).is_some(), "key {key} with {value} > boundary {boundary} missing");
            }
        }
        assert_eq!(top.min().map(|(_, v)| v), Some(boundary));
        let tie_at_boundary = want.get(k).is_some_and(|next| next.1 == boundary);
        if !tie_at_boundary {
            assert_eq!(got, want[..k].to_vec());
        }
    } else {
        assert!(top.is_empty() && top.min().is_none());
    }
    for pair in got.windows(2) {
        assert!(pair[0].1 > pair[1].1 || (pair[0].1 == pair[1].1 && pair[0].0 < pair[1].0), "sorted order");
    }
}

// ---------------------------------------------------------------------------------------------
// TopK

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Monotone offers with continuous-ish increments (ties rare) and with small integer
    /// increments (ties common): the heap matches the model after every single offer.
    #[test]
    fn topk_matches_naive_model_under_monotone_offers(
        capacity in 1usize..12,
        integer_steps in any::<bool>(),
        ops in prop::collection::vec((0u32..40, 0u32..1_000, -50i32..50), 0..400),
    ) {
        let mut top = TopK::new(capacity);
        let mut model: HashMap<u32, f64> = HashMap::new();
        for (key, step, start) in ops {
            let step = if integer_steps { f64::from(step % 4) } else { f64::from(step) / 7.0 };
            let value = match model.get(&key) {
                Some(&old) => old + step,
                None => f64::from(start),
            };
            model.insert(key, value);
            top.offer(key, value);
            assert_matches_model(&top, &model);
        }
    }

    /// Arbitrary (non-monotone) offers: exactness is not promised, but the heap stays valid,
    /// every kept value is the key's latest one, and the size is min(capacity, distinct keys).
    #[test]
    fn topk_stays_valid_under_arbitrary_offers(
        capacity in 1usize..12,
        ops in prop::collection::vec((0u32..30, -1_000i32..1_000), 0..400),
    ) {
        let mut top = TopK::new(capacity);
        let mut latest: HashMap<u32, f64> = HashMap::new();
        for (key, value) in ops {
            let value = f64::from(value) / 3.0;
            latest.insert(key, value);
            top.offer(key, value);
            top.check_invariants();
            prop_assert!(top.len() <= capacity);
            for (k, v) in top.sorted() {
                prop_assert_eq!(latest.get(&k), Some(&v));
            }
            let min = top.sorted().last().map(|e| e.1);
            prop_assert_eq!(top.min().map(|(_, v)| v), min);
        }
    }
}

/// A larger seeded run than proptest does: 200 keys, K = 16, 20,000 monotone offers.
#[test]
fn topk_seeded_large_monotone_run() {
    let mut rng = SplitMix64::new(0x70b_c0de);
    let mut top = TopK::new(16);
    let mut model: HashMap<u32, f64> = HashMap::new();
    for i in 0..20_000u32 {
        let key = rng.below(200) as u32;
        let value = model.get(&key).copied().unwrap_or(0.0) + uniform(&mut rng);
        model.insert(key, value);
        top.offer(key, value);
        if i % 97 == 0 {
            assert_matches_model(&top, &model);
        }
    }
    assert_matches_model(&top, &model);
}

#[test]
fn topk_decrease_of_a_kept_key_sifts_it_up() {
    let mut top = TopK::new(3);
    for (k, v) in [(1u32, 10.0), (2, 20.0), (3, 30.0)] {
        top.offer(k, v);
    }
    top.offer(3, 5.0);
    top.check_invariants();
    assert_eq!(top.min(), Some((&3, 5.0)));
    assert_eq!(top.sorted(), vec![(2, 20.0), (1, 10.0), (3, 5.0)]);
    // And back up again.
    top.offer(3, 25.0);
    top.check_invariants();
    assert_eq!(top.min(), Some((&1, 10.0)));
}

#[test]
fn topk_full_heap_replaces_only_a_strictly_larger_value() {
    let mut top = TopK::new(2);
    top.offer("a", 1.0);
    top.offer("b", 2.0);
    top.offer("c", 1.0); // equal to the minimum: first-come stays
    assert_eq!(top.get(&"c"), None);
    assert_eq!(top.get(&"a"), Some(1.0));
    top.offer("c", 1.5); // beats the minimum: evicts "a"
    top.check_invariants();
    assert_eq!(top.get(&"a"), None);
    assert_eq!(top.sorted(), vec![("b", 2.0), ("c", 1.5)]);
    assert_eq!((top.len(), top.capacity(), top.is_empty()), (2, 2, false));
}

#[test]
fn topk_ignores_non_finite_values_and_counts_them() {
    let mut top = TopK::new(2);
    top.offer(1u32, 1.0);
    top.offer(1u32, f64::NAN);
    top.offer(2u32, f64::INFINITY);
    top.offer(3u32, f64::NEG_INFINITY);
    top.check_invariants();
    assert_eq!(top.sorted(), vec![(1, 1.0)]);
    assert_eq!(top.non_finite_rejected(), 3);
}

#[test]
fn topk_sorted_breaks_ties_by_key() {
    let mut top = TopK::new(4);
    for k in [9u32, 3, 7, 1] {
        top.offer(k, 2.0);
    }
    assert_eq!(top.sorted(), vec![(1, 2.0), (3, 2.0), (7, 2.0), (9, 2.0)]);
}

// ---------------------------------------------------------------------------------------------
// Forward decay

const SECOND_NS: u64 = 1_000_000_000;
const MINUTE_NS: u64 = 60 * SECOND_NS;
const YEAR_NS: u64 = 365 * 24 * 60 * MINUTE_NS + 6 * 60 * MINUTE_NS; // Julian year

#[test]
fn decay_halves_every_half_life() {
    let decay = ForwardDecay::new(MINUTE_NS);
    let mut sum = DecayedSum::default();
    let t0 = 3 * MINUTE_NS + 17;
    sum.add(&decay, 8.0, t0);
    assert_close(sum.value_at(&decay, t0), 8.0, 1e-12);
    assert_close(sum.value_at(&decay, t0 + MINUTE_NS), 4.0, 1e-12);
    assert_close(sum.value_at(&decay, t0 + 2 * MINUTE_NS), 2.0, 1e-12);
    assert_close(sum.value_at(&decay, t0 + MINUTE_NS / 2), 8.0 * 0.5f64.sqrt(), 1e-12);
    assert_eq!(decay.half_life_ns(), MINUTE_NS);
}

#[test]
fn decay_sums_match_the_direct_formula() {
    let decay = ForwardDecay::new(90 * SECOND_NS);
    let mut rng = SplitMix64::new(42);
    let mut sum = DecayedSum::new();
    let mut items = Vec::new();
    let mut at_ns = 0;
    for _ in 0..500 {
        at_ns += rng.below(20 * SECOND_NS);
        let weight = 0.01 + 100.0 * uniform(&mut rng);
        sum.add(&decay, weight, at_ns);
        items.push((weight, at_ns));
    }
    for now_ns in [at_ns, at_ns + 45 * SECOND_NS, at_ns + 20 * MINUTE_NS] {
        let direct: f64 =
            items.iter().map(|&(w, t)| w * (-((now_ns - t) as f64) / decay.half_life_ns() as f64).exp2()).sum();
        assert_close(sum.value_at(&decay, now_ns), direct, 1e-9);
    }
}

/// At Unix-epoch-scale timestamps the exponent's rounding shows: still well within 1e-7.
#[test]
fn decay_is_accurate_enough_at_unix_timestamps() {
    let decay = ForwardDecay::new(MINUTE_NS);
    let t0 = 1_760_000_000 * SECOND_NS;
    let mut sum = DecayedSum::new();
    sum.add(&decay, 3.0, t0);
    sum.add(&decay, 5.0, t0 + 30 * SECOND_NS);
    let now = t0 + 2 * MINUTE_NS;
    let direct = 3.0 * 0.25 + 5.0 * (-1.5f64).exp2();
    assert_close(sum.value_at(&decay, now), direct, 1e-7);
}

#[test]
fn decay_stays_finite_for_huge_timestamps() {
    let decay = ForwardDecay::new(MINUTE_NS);
    let t = 100 * YEAR_NS;
    let mut sum = DecayedSum::new();
    for i in 0..10u32 {
        sum.add(&decay, 1e300, t + u64::from(i) * SECOND_NS);
    }
    assert!(sum.rank_key().is_finite());
    let v = sum.value_at(&decay, t + 9 * SECOND_NS + MINUTE_NS);
    assert!(v.is_finite() && v > 0.0);
    // Item i is (69 - i) seconds old at `now`.
    let direct = 1e300 * (0..10).map(|i| (-f64::from(69 - i) / 60.0).exp2()).sum::<f64>();
    assert_close(v, direct, 1e-6);

    // The extreme: every u64 timestamp with the shortest half-life.
    let fastest = ForwardDecay::new(1);
    let mut extreme = DecayedSum::new();
    extreme.add(&fastest, 1.0, u64::MAX);
    assert!(extreme.rank_key().is_finite());
    assert!(extreme.value_at(&fastest, u64::MAX).is_finite());
}

#[test]
fn decay_ignores_non_positive_and_non_finite_weights() {
    let decay = ForwardDecay::new(SECOND_NS);
    let mut sum = DecayedSum::default();
    assert!(sum.is_empty());
    for w in [0.0, -0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        sum.add(&decay, w, 5);
    }
    assert!(sum.is_empty());
    assert_eq!(sum.rank_key(), f64::NEG_INFINITY);
    assert_eq!(sum.value_at(&decay, 0), 0.0);
    assert_eq!(sum.value_at(&decay, u64::MAX), 0.0);
}

#[test]
#[should_panic(expected = "half-life must be positive")]
fn decay_rejects_zero_half_life() {
    let _ = ForwardDecay::new(0);
}

/// rank_key never decreases under add, and ordering by it is ordering by value_at at any time.
#[test]
fn decay_rank_key_is_monotone_and_orders_like_value_at() {
    let decay = ForwardDecay::new(5 * MINUTE_NS);
    let mut rng = SplitMix64::new(7);
    let mut sums = vec![DecayedSum::default(); 25];
    let mut at_ns = 1_700_000_000 * SECOND_NS;
    for _ in 0..2_000 {
        at_ns += rng.below(10 * SECOND_NS);
        let i = rng.below(sums.len() as u64) as usize;
        let before = sums[i].rank_key();
        sums[i].add(&decay, 1e-3 + uniform(&mut rng) * 50.0, at_ns);
        assert!(sums[i].rank_key() >= before);
    }
    for now_ns in [at_ns, at_ns + MINUTE_NS, at_ns + 3 * 60 * MINUTE_NS] {
        for a in &sums {
            for b in &sums {
                if a.rank_key() < b.rank_key() {
                    assert!(a.value_at(&decay, now_ns) <= b.value_at(&decay, now_ns));
                }
            }
        }
    }
}

/// The intended use: decayed per-key scores ranked by TopK give the same top accounts as
/// evaluating every sum at the end.
#[test]
fn decay_rank_keys_feed_topk_exactly() {
    let decay = ForwardDecay::new(2 * MINUTE_NS);
    let mut rng = SplitMix64::new(2024);
    let mut sums: HashMap<u32, DecayedSum> = HashMap::new();
    let mut top = TopK::new(10);
    let mut at_ns = 0;
    for _ in 0..5_000 {
        at_ns += rng.below(3 * SECOND_NS);
        let key = rng.below(300) as u32;
        let sum = sums.entry(key).or_default();
        sum.add(&decay, 1.0 + 99.0 * uniform(&mut rng), at_ns);
        top.offer(key, sum.rank_key());
        top.check_invariants();
    }
    let mut by_value: Vec<(u32, f64)> = sums.iter().map(|(&k, s)| (k, s.value_at(&decay, at_ns))).collect();
    by_value.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let from_top: Vec<u32> = top.sorted().into_iter().map(|(k, _)| k).collect();
    let from_values: Vec<u32> = by_value[..10].iter().map(|&(k, _)| k).collect();
    assert_eq!(from_top, from_values);
}

// ---------------------------------------------------------------------------------------------
// PSI: bins and histograms

#[test]
fn bins_cut_at_quantiles() {
    let samples: Vec<f64> = (1..=100).map(f64::from).collect();
    let bins = Bins::from_reference(&samples, 4).unwrap();
    assert_eq!(bins.edges(), &[26.0, 51.0, 76.0]);
    assert_eq!(bins.len(), 4);
    assert_eq!(histogram(&bins, &samples).counts(), &[25, 25, 25, 25]);
    assert_eq!(bins.bin_of(-1e9), 0);
    assert_eq!(bins.bin_of(25.9), 0);
    assert_eq!(bins.bin_of(26.0), 1);
    assert_eq!(bins.bin_of(75.0), 2);
    assert_eq!(bins.bin_of(76.0), 3);
    assert_eq!(bins.bin_of(1e9), 3);
    assert_eq!(bins.bin_of(f64::INFINITY), 3);
}

#[test]
fn bins_merge_repeated_values() {
    // 90% zeros: the cut points collapse to a single cut at 1.
    let mut samples = vec![0.0; 90];
    samples.extend([1.0; 10]);
    let bins = Bins::from_reference(&samples, 10).unwrap();
    assert_eq!(bins.edges(), &[1.0]);
    assert_eq!(histogram(&bins, &samples).counts(), &[90, 10]);

    // Fewer samples than bins.
    let bins = Bins::from_reference(&[3.0, 1.0, 2.0], 10).unwrap();
    assert_eq!(bins.edges(), &[2.0, 3.0]);

    // A constant reference has no spread: one bin, and every PSI against it is 0.
    let constant = Bins::from_reference(&[7.0; 50], 10).unwrap();
    assert_eq!(constant.len(), 1);
    let expected = histogram(&constant, &[7.0; 50]);
    let actual = histogram(&constant, &[100.0; 50]);
    assert_eq!(psi(&expected, &actual).unwrap(), 0.0);
}

#[test]
fn every_reference_bin_is_non_empty_on_random_data() {
    let mut rng = SplitMix64::new(99);
    for round in 0..200 {
        let n = 1 + rng.below(300) as usize;
        let distinct = 1 + rng.below(20);
        let samples: Vec<f64> = (0..n).map(|_| rng.below(distinct) as f64 - 5.0).collect();
        let max_bins = 2 + rng.below(MAX_PSI_BINS as u64 - 1) as usize;
        let bins = Bins::from_reference(&samples, max_bins).unwrap();
        assert!(bins.len() <= max_bins, "round {round}");
        assert!(bins.edges().windows(2).all(|w| w[0] < w[1]), "round {round}");
        assert!(histogram(&bins, &samples).counts().iter().all(|&c| c > 0), "round {round}");
    }
}

#[test]
fn bins_reject_bad_reference_samples() {
    assert_eq!(Bins::from_reference(&[], 10), Err(StatsError::EmptySample));
    match Bins::from_reference(&[1.0, 2.0, 3.0, f64::NAN, f64::INFINITY], 10) {
        Err(StatsError::NonFiniteSample { index: 3, value }) => assert!(value.is_nan()),
        other => panic!("expected NonFiniteSample at index 3, got {other:?}"),
    }
    let err = Bins::from_reference(&[1.0, f64::NEG_INFINITY], 10).unwrap_err();
    assert_eq!(err.to_string(), "reference sample value at index 1 is not finite (-inf)");
    for max_bins in [0, 1, MAX_PSI_BINS + 1] {
        assert_eq!(Bins::from_reference(&[1.0, 2.0], max_bins), Err(StatsError::BinCountOutOfRange { max_bins }));
    }
    let err = Bins::from_reference(&[1.0], 1).unwrap_err();
    assert_eq!(err.to_string(), "max_bins must be between 2 and 100, got 1");
    assert!(Bins::from_reference(&[1.0, 2.0], MAX_PSI_BINS).is_ok());
}

#[test]
fn histogram_counts_invalid_values_apart_and_clears() {
    let bins = Bins::from_reference(&[1.0, 2.0, 3.0, 4.0], 2).unwrap();
    let mut h = Histogram::new(&bins);
    for x in [0.0, 2.9, 3.0, 10.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        h.observe(&bins, x);
    }
    assert_eq!(h.counts(), &[2, 2]);
    assert_eq!(h.total(), 4);
    assert_eq!(h.invalid(), 3);
    h.clear();
    assert_eq!((h.counts(), h.total(), h.invalid()), (&[0, 0][..], 0, 0));
}

#[test]
#[should_panic(expected = "bins of another shape")]
fn histogram_rejects_bins_of_another_shape() {
    let two = Bins::from_reference(&[1.0, 2.0], 2).unwrap();
    let three = Bins::from_reference(&[1.0, 2.0, 3.0], 3).unwrap();
    Histogram::new(&two).observe(&three, 1.0);
}

// ---------------------------------------------------------------------------------------------
// PSI: the index and its bands

#[test]
fn psi_matches_a_hand_computed_example() {
    // Bins (-inf, 2), [2, 3), [3, inf).
    let bins = Bins::from_reference(&[1.0, 2.0, 3.0], 3).unwrap();
    assert_eq!(bins.len(), 3);
    let observe = |counts: [usize; 3]| {
        let mut h = Histogram::new(&bins);
        for (x, n) in [1.0, 2.5, 3.5].into_iter().zip(counts) {
            (0..n).for_each(|_| h.observe(&bins, x));
        }
        h
    };
    // Proportions e = (0.5, 0.3, 0.2), a = (0.4, 0.3, 0.3):
    // (0.4-0.5)·ln(0.8) + 0 + (0.3-0.2)·ln(1.5) = 0.0223144 + 0.0405465 = 0.0628609.
    let expected = observe([50, 30, 20]);
    let actual = observe([40, 30, 30]);
    let value = psi(&expected, &actual).unwrap();
    assert!((value - 0.062_860_866_3).abs() < 1e-9, "{value}");
    assert_eq!(PsiBand::of(value), PsiBand::Stable);
    // Symmetric in its arguments.
    assert_eq!(value, psi(&actual, &expected).unwrap());

    // An empty bin hits the floor instead of giving infinity: e = (1, 0, 0), a = (0.5, 0.5, 0).
    let expected = observe([10, 0, 0]);
    let actual = observe([5, 5, 0]);
    let floor = PSI_PROPORTION_FLOOR;
    let want = (0.5 - 1.0) * (0.5f64).ln() + (0.5 - floor) * (0.5 / floor).ln();
    let value = psi(&expected, &actual).unwrap();
    assert!((value - want).abs() < 1e-12 && value.is_finite(), "{value} vs {want}");
    assert_eq!(PsiBand::of(value), PsiBand::Significant);
}

#[test]
fn psi_of_identical_and_same_distribution_samples_is_stable() {
    let reference = normal_sample(1, 20_000, 0.0);
    let bins = Bins::from_reference(&reference, 10).unwrap();
    assert_eq!(bins.len(), 10);
    let expected = histogram(&bins, &reference);
    assert_eq!(psi(&expected, &expected).unwrap(), 0.0);

    let fresh = histogram(&bins, &normal_sample(2, 20_000, 0.0));
    let value = psi(&expected, &fresh).unwrap();
    assert!(value < 0.01, "{value}");
    assert_eq!(PsiBand::of(value), PsiBand::Stable);
}

#[test]
fn psi_detects_mild_and_large_shifts() {
    let reference = normal_sample(11, 20_000, 0.0);
    let bins = Bins::from_reference(&reference, 10).unwrap();
    let expected = histogram(&bins, &reference);

    // For equal-variance normals PSI with fine bins approaches δ² (δ in standard deviations);
    // deciles lose a little of it. δ = 0.4 gives about 0.15, δ = 1 about 0.9.
    let mild = psi(&expected, &histogram(&bins, &normal_sample(12, 20_000, 0.4))).unwrap();
    assert!((0.12..0.18).contains(&mild), "{mild}");
    assert_eq!(PsiBand::of(mild), PsiBand::Moderate);

    let large = psi(&expected, &histogram(&bins, &normal_sample(13, 20_000, 1.0))).unwrap();
    assert!((0.7..1.0).contains(&large), "{large}");
    assert_eq!(PsiBand::of(large), PsiBand::Significant);
}

#[test]
fn psi_rejects_mismatched_or_empty_histograms() {
    let two = Bins::from_reference(&[1.0, 2.0], 2).unwrap();
    let three = Bins::from_reference(&[1.0, 2.0, 3.0], 3).unwrap();
    let a = histogram(&two, &[1.0, 2.0]);
    let b = histogram(&three, &[1.0, 2.0, 3.0]);
    assert_eq!(psi(&a, &b), Err(StatsError::BinCountMismatch { expected: 2, actual: 3 }));

    let empty = histogram(&two, &[f64::NAN]);
    assert_eq!(psi(&empty, &a), Err(StatsError::EmptyHistogram { which: "expected" }));
    assert_eq!(psi(&a, &empty), Err(StatsError::EmptyHistogram { which: "actual" }));
    assert_eq!(
        psi(&a, &empty).unwrap_err().to_string(),
        "the actual histogram has no observations (invalid values are not counted)"
    );
}

#[test]
fn psi_bands_have_the_customary_boundaries() {
    let cases = [
        (0.0, PsiBand::Stable),
        (0.099_999, PsiBand::Stable),
        (0.10, PsiBand::Moderate),
        (0.249_999, PsiBand::Moderate),
        (0.25, PsiBand::Significant),
        (7.0, PsiBand::Significant),
        (f64::NAN, PsiBand::Significant),
    ];
    for (value, band) in cases {
        assert_eq!(PsiBand::of(value), band, "{value}");
    }
    assert_eq!(
        [PsiBand::Stable.as_str(), PsiBand::Moderate.as_str(), PsiBand::Significant.to_string().as_str()],
        ["stable", "moderate", "significant"]
    );
}
