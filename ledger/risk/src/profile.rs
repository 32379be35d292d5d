//! Per-account state and the features computed from it.
//!
//! Each account keeps a bounded amount of state, whatever its traffic:
//! - a ring of its last [`RING_EVENTS`] events (time, amount, counterparty, direction, flags) from
//!   which every sliding window is computed exactly — 1 minute, 10 minutes, 1 hour, 24 hours. An
//!   account with more events than that inside a window sees a lower bound (a merchant's hourly
//!   inflow count saturates at the ring size); the rules never need more;
//! - the natural log of its last [`AMOUNT_PROFILE_EVENTS`] outflow amounts: the robust centre
//!   (median) and spread (MAD) of what it usually sends;
//! - a Bloom filter of every counterparty it has dealt with ([`SEEN_FILTER_BITS`] bits, 3 hashes:
//!   about 2 % false "seen" at 100 counterparties, which only ever hides a new-counterparty
//!   signal, never invents one);
//! - a histogram of its activity by hour of day (UTC);
//! - first and last activity, lifetime counts, and a forward-decayed risk sum for the ranking.

use std::collections::VecDeque;

use aurum_stats::DecayedSum;

use crate::event::TxEvent;
use crate::features::{Feature, FeatureVector};

/// Events kept per account for the sliding windows.
pub const RING_EVENTS: usize = 64;
/// Outflow amounts kept per account for the amount profile.
pub const AMOUNT_PROFILE_EVENTS: usize = 32;
/// Outflows needed before the amount profile is trusted (below it, `amount_z` and `amount_ratio` are 0).
pub const MIN_AMOUNT_PROFILE_EVENTS: usize = 5;
/// Events needed before the time-of-day profile is trusted.
pub const MIN_HOUR_PROFILE_EVENTS: u32 = 20;
/// Floor of the amount spread (MAD of ln amount): an account that always sends the same amount
/// would otherwise give an infinite z-score to a one-cent change.
pub const MIN_LN_AMOUNT_SPREAD: f64 = 0.25;
/// Bits of the per-account counterparty filter.
pub const SEEN_FILTER_BITS: usize = 512;

const NS_PER_SEC: u64 = 1_000_000_000;
const MINUTE_NS: u64 = 60 * NS_PER_SEC;
const HOUR_NS: u64 = 60 * MINUTE_NS;
const DAY_NS: u64 = 24 * HOUR_NS;
/// The pass-through window: money in and out within this long.
pub const PASS_THROUGH_WINDOW_NS: u64 = 10 * MINUTE_NS;
/// MAD to standard deviation for a normal distribution.
const MAD_TO_SIGMA: f64 = 1.4826;

const FLAG_OUT: u8 = 1;
const FLAG_NEW: u8 = 2;
const FLAG_NEAR: u8 = 4;

/// What the scorer knows about an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssetParams {
    /// Decimal scale (amount-valued features are `base units / 10^scale`).
    pub scale: u8,
    /// Structuring band `[low, threshold)` in base units; `None`: no reporting threshold.
    pub structuring: Option<(u128, u128)>,
}

impl AssetParams {
    /// Base units to major units, as a feature value (never used for money).
    pub fn major(&self, units: u128) -> f64 {
        units as f64 / 10f64.powi(i32::from(self.scale))
    }

    fn near_threshold(&self, units: u128) -> bool {
        self.structuring.is_some_and(|(low, threshold)| units >= low && units < threshold)
    }
}

#[derive(Debug, Clone, Copy)]
struct RingEvent {
    ts_ns: u64,
    amount: u128,
    /// Counterparty id folded to 64 bits: distinct counts only.
    counterparty: u64,
    flags: u8,
}

/// One account's state.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    ring: VecDeque<RingEvent>,
    ln_amounts: Vec<f32>,
    ln_next: usize,
    seen: [u64; SEEN_FILTER_BITS / 64],
    hours: [u32; 24],
    first_ts_ns: u64,
    last_ts_ns: u64,
    active: bool,
    out_total: u64,
    in_total: u64,
    /// Most outflows in any clock hour (UTC) that ended more than an hour ago, the previous clock
    /// hour's count, and the current one's: the sliding hour of `out_count_1h` overlaps at most
    /// the current and the previous clock hour, so neither counts towards the baseline — a burst
    /// (even one that straddles an hour boundary) cannot raise its own bar.
    peak_out_1h: u32,
    hour_index: u64,
    hour_outflows: u32,
    previous_hour_outflows: u32,
    /// Forward-decayed sum of the risk attributed to this account (for the top-K ranking).
    pub risk: DecayedSum,
}

fn fold(id: u128) -> u64 {
    // A 64-bit mix of both halves: distinct ids stay distinct with overwhelming probability.
    let x = (id as u64) ^ ((id >> 64) as u64).rotate_left(29);
    let x = (x ^ (x >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    let x = (x ^ (x >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn filter_bits(h: u64) -> [usize; 3] {
    let m = SEEN_FILTER_BITS as u64;
    [(h % m) as usize, ((h >> 21) % m) as usize, ((h >> 42) % m) as usize]
}

fn hour_of_day(ts_ns: u64) -> usize {
    ((ts_ns / HOUR_NS) % 24) as usize
}

fn median(values: &mut [f64]) -> f64 {
    debug_assert!(!values.is_empty());
    let mid = values.len() / 2;
    let (_, m, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *m;
    if values.len() % 2 == 1 {
        upper
    } else {
        let lower = values[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    }
}

/// Distinct values of a small slice (sorted in place).
fn distinct(values: &mut [u64]) -> usize {
    values.sort_unstable();
    let mut n = 0;
    for i in 0..values.len() {
        if i == 0 || values[i] != values[i - 1] {
            n += 1;
        }
    }
    n
}

impl Profile {
    /// Has this account dealt with `counterparty` before? (Bloom filter: may say yes wrongly, never no.)
    pub fn has_seen(&self, counterparty: u128) -> bool {
        filter_bits(fold(counterparty)).iter().all(|&b| self.seen[b / 64] & (1 << (b % 64)) != 0)
    }

    fn mark_seen(&mut self, counterparty: u128) {
        for b in filter_bits(fold(counterparty)) {
            self.seen[b / 64] |= 1 << (b % 64);
        }
    }

    /// Lifetime events (both directions).
    pub fn events(&self) -> u64 {
        self.out_total + self.in_total
    }

    /// Robust centre and spread of ln(outflow amount), and the largest ln(outflow amount), once
    /// there are enough outflows.
    fn amount_profile(&self) -> Option<(f64, f64, f64)> {
        if self.ln_amounts.len() < MIN_AMOUNT_PROFILE_EVENTS {
            return None;
        }
        let mut buf = [0f64; AMOUNT_PROFILE_EVENTS];
        let n = self.ln_amounts.len();
        for (d, s) in buf.iter_mut().zip(&self.ln_amounts) {
            *d = f64::from(*s);
        }
        let max = buf[..n].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let centre = median(&mut buf[..n]);
        for v in &mut buf[..n] {
            *v = (*v - centre).abs();
        }
        let mad = median(&mut buf[..n]);
        Some((centre, (mad * MAD_TO_SIGMA).max(MIN_LN_AMOUNT_SPREAD), max))
    }

    fn record(&mut self, ev: RingEvent) {
        // Drop what no window can reach any more, then bound the ring.
        let horizon = ev.ts_ns.saturating_sub(DAY_NS);
        while self.ring.front().is_some_and(|e| e.ts_ns < horizon) {
            self.ring.pop_front();
        }
        if self.ring.len() == RING_EVENTS {
            self.ring.pop_front();
        }
        self.ring.push_back(ev);
        self.hours[hour_of_day(ev.ts_ns)] = self.hours[hour_of_day(ev.ts_ns)].saturating_add(1);
        if !self.active {
            self.active = true;
            self.first_ts_ns = ev.ts_ns;
        }
        self.last_ts_ns = self.last_ts_ns.max(ev.ts_ns);
        debug_assert!(self.ring.len() <= RING_EVENTS);
    }

    fn record_out(&mut self, e: &TxEvent, new: bool, near: bool) {
        let flags = FLAG_OUT | if new { FLAG_NEW } else { 0 } | if near { FLAG_NEAR } else { 0 };
        self.record(RingEvent { ts_ns: e.ts_ns, amount: e.amount, counterparty: fold(e.credit), flags });
        let ln = (e.amount.max(1) as f64).ln() as f32;
        if self.ln_amounts.len() < AMOUNT_PROFILE_EVENTS {
            self.ln_amounts.push(ln);
        } else {
            self.ln_amounts[self.ln_next] = ln;
        }
        self.ln_next = (self.ln_next + 1) % AMOUNT_PROFILE_EVENTS;
        self.mark_seen(e.credit);
        self.out_total += 1;
        let hour = e.ts_ns / HOUR_NS;
        if hour != self.hour_index {
            if hour == self.hour_index + 1 {
                self.peak_out_1h = self.peak_out_1h.max(self.previous_hour_outflows);
                self.previous_hour_outflows = self.hour_outflows;
            } else {
                self.peak_out_1h = self.peak_out_1h.max(self.previous_hour_outflows).max(self.hour_outflows);
                self.previous_hour_outflows = 0;
            }
            self.hour_index = hour;
            self.hour_outflows = 0;
        }
        self.hour_outflows = self.hour_outflows.saturating_add(1);
    }

    fn record_in(&mut self, e: &TxEvent, new: bool) {
        let flags = if new { FLAG_NEW } else { 0 };
        self.record(RingEvent { ts_ns: e.ts_ns, amount: e.amount, counterparty: fold(e.debit), flags });
        self.mark_seen(e.debit);
        self.in_total += 1;
    }
}

/// Compute the features of `e` from the sender's and receiver's profiles as they were before it.
/// `model_score` is left 0: the scorer fills it in.
pub fn compute(sender: &Profile, receiver: &Profile, e: &TxEvent, asset: &AssetParams) -> FeatureVector {
    let mut f = FeatureVector::default();
    let now = e.ts_ns;
    let amount_major = asset.major(e.amount);
    f.set(Feature::Amount, amount_major);

    if let Some((centre, spread, max)) = sender.amount_profile() {
        let ln = (e.amount.max(1) as f64).ln();
        f.set(Feature::AmountZ, (ln - centre) / spread);
        f.set(Feature::AmountRatio, (ln - centre).exp());
        f.set(Feature::AmountVsMax, (ln - max).exp());
    }

    // Sender windows, from the ring (events at or after each cut-off count).
    let new_cp = !sender.has_seen(e.credit);
    let near = asset.near_threshold(e.amount);
    let (mut out_1m, mut out_1h, mut out_24h, mut new_1h, mut near_24h) = (1u32, 1u32, 1u32, 0u32, 0u32);
    let mut out_sum_1h = e.amount;
    let mut out_count_10m = 1u32;
    let (mut in_10m, mut out_10m) = (0u128, e.amount);
    let mut cps = [0u64; RING_EVENTS + 1];
    let mut n_cps = 0;
    for ev in sender.ring.iter().rev() {
        let age = now.saturating_sub(ev.ts_ns);
        if age >= DAY_NS {
            break;
        }
        if ev.flags & FLAG_OUT != 0 {
            out_24h += 1;
            near_24h += u32::from(ev.flags & FLAG_NEAR != 0);
            if age < HOUR_NS {
                out_1h += 1;
                out_sum_1h = out_sum_1h.saturating_add(ev.amount);
                new_1h += u32::from(ev.flags & FLAG_NEW != 0);
                cps[n_cps] = ev.counterparty;
                n_cps += 1;
                out_1m += u32::from(age < MINUTE_NS);
            }
            if age < PASS_THROUGH_WINDOW_NS {
                out_10m = out_10m.saturating_add(ev.amount);
                out_count_10m += 1;
            }
        } else if age < PASS_THROUGH_WINDOW_NS {
            in_10m = in_10m.saturating_add(ev.amount);
        }
    }
    cps[n_cps] = fold(e.credit);
    n_cps += 1;
    f.set(Feature::OutCount1m, f64::from(out_1m));
    f.set(Feature::OutCount10m, f64::from(out_count_10m));
    f.set(Feature::OutCount1h, f64::from(out_1h));
    f.set(Feature::OutCount24h, f64::from(out_24h));
    f.set(Feature::OutVsPeak1h, f64::from(out_1h) / f64::from(sender.peak_out_1h.max(1)));
    f.set(Feature::OutSum1h, asset.major(out_sum_1h));
    f.set(Feature::HistoryCount, sender.out_total as f64);
    f.set(Feature::NewCounterparty, if new_cp { 1.0 } else { 0.0 });
    f.set(Feature::FanOut1h, distinct(&mut cps[..n_cps]) as f64);
    f.set(Feature::NewCounterparties1h, f64::from(new_1h + u32::from(new_cp)));
    f.set(Feature::NearThreshold, if near { 1.0 } else { 0.0 });
    f.set(Feature::NearThreshold24h, f64::from(near_24h + u32::from(near)));
    f.set(Feature::Inflow10m, asset.major(in_10m));
    if in_10m > 0 {
        f.set(Feature::PassThrough, out_10m as f64 / in_10m as f64);
    }
    if sender.active {
        f.set(Feature::DormantDays, now.saturating_sub(sender.last_ts_ns) as f64 / DAY_NS as f64);
        f.set(Feature::AccountAgeDays, now.saturating_sub(sender.first_ts_ns) as f64 / DAY_NS as f64);
    }
    let total_hours: u32 = sender.hours.iter().sum();
    let hour_share = if total_hours < MIN_HOUR_PROFILE_EVENTS {
        1.0
    } else {
        let h = hour_of_day(now);
        let near_hours = sender.hours[(h + 23) % 24] + sender.hours[h] + sender.hours[(h + 1) % 24];
        f64::from(near_hours) / f64::from(total_hours)
    };
    f.set(Feature::HourShare, hour_share);

    // Receiver windows.
    let new_sender = !receiver.has_seen(e.debit);
    let (mut in_1h, mut new_senders) = (1u32, u32::from(new_sender));
    let mut senders = [0u64; RING_EVENTS + 1];
    let mut n_senders = 0;
    for ev in receiver.ring.iter().rev() {
        if now.saturating_sub(ev.ts_ns) >= HOUR_NS {
            break;
        }
        if ev.flags & FLAG_OUT == 0 {
            in_1h += 1;
            new_senders += u32::from(ev.flags & FLAG_NEW != 0);
            senders[n_senders] = ev.counterparty;
            n_senders += 1;
        }
    }
    senders[n_senders] = fold(e.debit);
    n_senders += 1;
    f.set(Feature::InCount1h, f64::from(in_1h));
    f.set(Feature::FanIn1h, distinct(&mut senders[..n_senders]) as f64);
    f.set(Feature::NewSenders1h, f64::from(new_senders));
    let older_inflows = receiver.in_total.saturating_sub(u64::from(in_1h - 1));
    let age_days = if receiver.active { now.saturating_sub(receiver.first_ts_ns) as f64 / DAY_NS as f64 } else { 0.0 };
    f.set(Feature::ReceiverInPerDay, older_inflows as f64 / age_days.max(1.0));
    f.set(Feature::ReceiverHistoryCount, receiver.events() as f64);
    f
}

/// Record `e` in both accounts' profiles (after it was scored, so a transfer never sees itself twice).
pub fn observe(sender: &mut Profile, receiver: &mut Profile, e: &TxEvent, asset: &AssetParams) {
    let new_cp = !sender.has_seen(e.credit);
    let new_sender = !receiver.has_seen(e.debit);
    sender.record_out(e, new_cp, asset.near_threshold(e.amount));
    receiver.record_in(e, new_sender);
}

#[cfg(test)]
mod tests {
    use super::*;

    const USD: AssetParams = AssetParams { scale: 2, structuring: Some((900_000, 1_000_000)) };

    fn tx(id: u128, debit: u128, credit: u128, amount: u128, ts_s: u64) -> TxEvent {
        TxEvent { id, debit, credit, asset: 1, amount, ts_ns: ts_s * NS_PER_SEC }
    }

    fn run(events: &[TxEvent]) -> (std::collections::HashMap<u128, Profile>, Vec<FeatureVector>) {
        let mut profiles = std::collections::HashMap::<u128, Profile>::new();
        let mut out = Vec::new();
        for e in events {
            let s = profiles.remove(&e.debit).unwrap_or_default();
            let r = profiles.remove(&e.credit).unwrap_or_default();
            out.push(compute(&s, &r, e, &USD));
            let (mut s, mut r) = (s, r);
            observe(&mut s, &mut r, e, &USD);
            profiles.insert(e.debit, s);
            profiles.insert(e.credit, r);
        }
        (profiles, out)
    }

    #[test]
    fn windows_count_exactly_at_their_edges() {
        // Outflows at t = 0, 30, 59, 60 s: at 60 s the one at 0 is exactly one minute old (out).
        let evs: Vec<_> =
            [0u64, 30, 59, 60].iter().enumerate().map(|(i, t)| tx(i as u128 + 1, 1, 2, 100, *t)).collect();
        let (_, f) = run(&evs);
        assert_eq!(f[3].get(Feature::OutCount1m), 3.0);
        assert_eq!(f[3].get(Feature::OutCount1h), 4.0);
        assert_eq!(f[3].get(Feature::OutSum1h), 4.0);
        assert_eq!(f[3].get(Feature::FanOut1h), 1.0);
        assert_eq!(f[0].get(Feature::NewCounterparty), 1.0);
        assert_eq!(f[1].get(Feature::NewCounterparty), 0.0);
        assert_eq!(f[3].get(Feature::HistoryCount), 3.0);
    }

    #[test]
    fn amount_profile_is_robust_to_one_outlier() {
        let mut evs: Vec<_> = (0..20).map(|i| tx(i + 1, 1, 2, 10_000 + (i % 3) * 500, i as u64 * 3600)).collect();
        evs.push(tx(100, 1, 2, 2_000_000, 20 * 3600)); // an outlier in the history
        evs.push(tx(101, 1, 2, 10_000, 21 * 3600));
        evs.push(tx(102, 1, 2, 500_000, 22 * 3600));
        let (_, f) = run(&evs);
        assert!(f[21].get(Feature::AmountZ).abs() < 1.0, "{:?}", f[21].get(Feature::AmountZ));
        assert!(f[22].get(Feature::AmountZ) > 5.0);
        let ratio = f[22].get(Feature::AmountRatio);
        assert!((40.0..55.0).contains(&ratio), "ratio {ratio}");
    }

    #[test]
    fn structuring_pass_through_and_dormancy() {
        let evs = vec![
            tx(1, 1, 2, 950_000, 0),
            tx(2, 1, 3, 999_999, 3600),
            tx(3, 1, 4, 1_000_000, 7200), // at the threshold: not under it
            tx(4, 9, 5, 500_000, 100_000),
            tx(5, 5, 6, 450_000, 100_300),
            tx(6, 1, 2, 100, 100_000 + 90 * 86_400),
        ];
        let (_, f) = run(&evs);
        assert_eq!(f[1].get(Feature::NearThreshold24h), 2.0);
        assert_eq!(f[2].get(Feature::NearThreshold), 0.0);
        assert_eq!(f[2].get(Feature::NearThreshold24h), 2.0);
        assert_eq!(f[4].get(Feature::Inflow10m), 5000.0);
        assert!((f[4].get(Feature::PassThrough) - 0.9).abs() < 1e-12);
        assert!(f[5].get(Feature::DormantDays) > 89.0);
        assert_eq!(f[0].get(Feature::DormantDays), 0.0);
    }

    #[test]
    fn fan_in_counts_distinct_and_new_senders() {
        let mut evs: Vec<_> = (0..6).map(|i| tx(i + 1, 10 + i, 99, 100, i as u64 * 60)).collect();
        evs.push(tx(50, 10, 99, 100, 400)); // a repeat sender
        let (_, f) = run(&evs);
        assert_eq!(f[5].get(Feature::FanIn1h), 6.0);
        assert_eq!(f[5].get(Feature::NewSenders1h), 6.0);
        assert_eq!(f[6].get(Feature::FanIn1h), 6.0);
        assert_eq!(f[6].get(Feature::InCount1h), 7.0);
        assert_eq!(f[6].get(Feature::NewSenders1h), 6.0);
        assert_eq!(f[6].get(Feature::ReceiverInPerDay), 0.0);
    }

    #[test]
    fn ring_is_bounded() {
        let evs: Vec<_> = (0..500).map(|i| tx(i + 1, 1, 2 + i, 100, i as u64)).collect();
        let (p, f) = run(&evs);
        assert_eq!(p[&1].ring.len(), RING_EVENTS);
        assert_eq!(f[499].get(Feature::OutCount1h), RING_EVENTS as f64 + 1.0);
        assert_eq!(p[&1].ln_amounts.len(), AMOUNT_PROFILE_EVENTS);
    }
}
