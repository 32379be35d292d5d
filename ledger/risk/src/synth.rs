//! A labelled synthetic payment stream: realistic normal traffic from personas, plus injected
//! incidents of each fraud pattern, every injected transfer labelled with its pattern and incident.
//!
//! Normal traffic (one asset, USD at scale 2):
//! - consumers pay their favourite merchants (log-normal amounts around a personal median, at
//!   personal hours of the day), sometimes a new merchant, friends (p2p), a monthly rent 4–8× their
//!   usual amount; they are topped up from a cash-in account; most are paid a salary every 15 days
//!   by an employer, whose payroll is a burst of transfers to known employees;
//! - employers fund each payroll from their own bank account the evening before;
//! - merchants settle the day's takings to their bank account once a day;
//! - some consumers are infrequent (weeks between transfers), some join during the period
//!   (onboarding: a first top-up, then spending, sometimes at once), some come back after months
//!   of dormancy with ordinary amounts.
//!
//! Injected patterns (after the warm-up, each on its own accounts):
//! - `velocity`: 8–15 transfers within 2–5 minutes to 1–3 known merchants;
//! - `deviation`: one transfer of 15–60× the account's usual amount to a known counterparty;
//! - `new_counterparty`: one transfer of 6–30× the usual amount to a brand-new account;
//! - `structuring`: 3–6 transfers within 24 h, each just under the 10 000.00 reporting threshold;
//! - `pass_through`: a new account topped up with 2 000–8 500, then within minutes 85–98 % of it
//!   sent on to another new account;
//! - `fan_in`: a new account paid by 8–20 different customers within an hour;
//! - `fan_out`: an account paying 8–20 customers it never paid before within an hour;
//! - `reactivation`: an account dormant for 90+ days sending 5–20× its old usual amount.
//!
//! Everything is drawn from one seeded generator: the same config gives the same stream.

use std::collections::BTreeMap;

use aurum_vfs::rng::SplitMix64;

use crate::event::TxEvent;

/// The asset of the synthetic stream.
pub const SYNTH_ASSET_ID: u32 = 1;
/// Its code.
pub const SYNTH_ASSET_CODE: &str = "USD";
/// Its scale.
pub const SYNTH_ASSET_SCALE: u8 = 2;
/// The seed the built-in rules were tuned on. Evaluations use other seeds.
pub const TUNING_SEED: u64 = 1;
/// Most events a generated stream may hold.
pub const MAX_SYNTH_EVENTS: usize = 50_000_000;

const NS: u64 = 1_000_000_000;
const MINUTE: u64 = 60 * NS;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
/// 2026-01-01T00:00:00Z.
const EPOCH_NS: u64 = 1_767_225_600 * NS;
const CENTS: u128 = 100;

const CASH_IN: u128 = 5_000_000;
const CONSUMER_BASE: u128 = 1_000_000;
const MERCHANT_BASE: u128 = 2_000_000;
const EMPLOYER_BASE: u128 = 3_000_000;
const BANK_BASE: u128 = 4_000_000;
const LANDLORD_BASE: u128 = 6_000_000;
const EMPLOYER_BANK_BASE: u128 = 8_000_000;
const FRESH_BASE: u128 = 9_000_000;

/// The injected patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pattern {
    /// A burst of transfers.
    Velocity,
    /// An amount far above the account's usual.
    Deviation,
    /// A large first payment to a brand-new account.
    NewCounterparty,
    /// Several amounts just under the reporting threshold.
    Structuring,
    /// Money in and straight out again.
    PassThrough,
    /// Many senders into one new account.
    FanIn,
    /// One account paying many new counterparties.
    FanOut,
    /// A long-dormant account moving a large amount.
    Reactivation,
}

impl Pattern {
    /// Every pattern.
    pub const ALL: [Pattern; 8] = [
        Pattern::Velocity,
        Pattern::Deviation,
        Pattern::NewCounterparty,
        Pattern::Structuring,
        Pattern::PassThrough,
        Pattern::FanIn,
        Pattern::FanOut,
        Pattern::Reactivation,
    ];

    /// The name rules use in their `pattern` field.
    pub fn name(self) -> &'static str {
        match self {
            Pattern::Velocity => "velocity",
            Pattern::Deviation => "deviation",
            Pattern::NewCounterparty => "new_counterparty",
            Pattern::Structuring => "structuring",
            Pattern::PassThrough => "pass_through",
            Pattern::FanIn => "fan_in",
            Pattern::FanOut => "fan_out",
            Pattern::Reactivation => "reactivation",
        }
    }
}

/// Ground truth of an injected transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    /// Its pattern.
    pub pattern: Pattern,
    /// Its incident (unique across patterns).
    pub incident: u32,
}

/// A transfer and its ground truth (`None`: normal traffic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labelled {
    /// The transfer.
    pub event: TxEvent,
    /// What was injected, if anything.
    pub label: Option<Label>,
}

/// Generator settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthConfig {
    /// Seed of everything.
    pub seed: u64,
    /// Consumers.
    pub consumers: u32,
    /// Merchants.
    pub merchants: u32,
    /// Employers.
    pub employers: u32,
    /// Days of traffic.
    pub days: u32,
    /// Days before any injection (profiles learn normal behaviour); evaluations skip them.
    pub warmup_days: u32,
    /// Incidents injected per pattern.
    pub incidents_per_pattern: u32,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 2,
            consumers: 10_000,
            merchants: 300,
            employers: 60,
            days: 45,
            warmup_days: 21,
            incidents_per_pattern: 60,
        }
    }
}

/// A generated stream.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Transfers in time order, ids 1, 2, 3, ...
    pub events: Vec<Labelled>,
    /// Evaluations count transfers at or after this time.
    pub warmup_end_ns: u64,
    /// Incidents injected, per pattern.
    pub incidents: BTreeMap<Pattern, u32>,
}

struct Rng(SplitMix64);

impl Rng {
    fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + (hi.ln() - lo.ln()) * self.unit()).exp()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }
    fn normal(&mut self) -> f64 {
        // Box–Muller.
        let u1 = self.unit().max(1e-300);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn poisson(&mut self, lambda: f64) -> u32 {
        // Knuth's method: fine for the small rates here.
        let l = (-lambda).exp();
        let (mut k, mut p) = (0u32, 1.0);
        loop {
            p *= self.unit();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }
}

#[derive(Debug, Clone)]
struct Consumer {
    id: u128,
    rate_per_day: f64,
    median_cents: f64,
    sigma: f64,
    peak_hour: f64,
    hour_spread: f64,
    favourites: Vec<u32>,
    friends: Vec<u32>,
    rent: Option<(u32, u128)>,
    joins_day: u32,
}

struct Gen {
    rng: Rng,
    out: Vec<(u64, u128, u128, u128, Option<Label>)>,
}

impl Gen {
    fn push(&mut self, ts: u64, debit: u128, credit: u128, amount: u128, label: Option<Label>) {
        debug_assert!(debit != credit && amount > 0);
        self.out.push((ts, debit, credit, amount, label));
    }

    fn amount(&mut self, c: &Consumer, factor: f64) -> u128 {
        let v = c.median_cents * factor * (c.sigma * self.rng.normal()).exp();
        (v.round() as u128).max(50)
    }

    fn time_of_day(&mut self, c: &Consumer, day: u64) -> u64 {
        let h = (c.peak_hour + c.hour_spread * self.rng.normal()).rem_euclid(24.0);
        EPOCH_NS + day * DAY + (h * HOUR as f64) as u64
    }
}

fn merchant_id(m: u32) -> u128 {
    MERCHANT_BASE + u128::from(m)
}

fn consumer_id(c: u32) -> u128 {
    CONSUMER_BASE + u128::from(c)
}

/// Generate a stream.
pub fn generate(cfg: &SynthConfig) -> Dataset {
    assert!(cfg.consumers >= 100 && cfg.merchants >= 10 && cfg.employers >= 1, "population too small");
    assert!(cfg.warmup_days + 2 <= cfg.days, "need at least two days after the warm-up");
    let mut g = Gen { rng: Rng(SplitMix64::new(cfg.seed)), out: Vec::new() };
    let days = u64::from(cfg.days);

    // Merchant popularity (Zipf-like): cumulative weights for sampling.
    let weights: Vec<f64> = (0..cfg.merchants).map(|r| 1.0 / (f64::from(r) + 2.0)).collect();
    let total: f64 = weights.iter().sum();
    let mut cumulative = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in &weights {
        acc += w / total;
        cumulative.push(acc);
    }
    let pick_merchant = |rng: &mut Rng| -> u32 {
        let u = rng.unit();
        cumulative.partition_point(|c| *c < u).min(cumulative.len() - 1) as u32
    };

    // Personas.
    let landlords = (cfg.consumers / 5).max(1);
    let mut consumers = Vec::with_capacity(cfg.consumers as usize);
    for i in 0..cfg.consumers {
        let r = &mut g.rng;
        let infrequent = r.chance(0.05);
        let onboarding = !infrequent && r.chance(0.05);
        let favourites = (0..3 + r.below(6)).map(|_| pick_merchant(r)).collect();
        let friends = (0..r.below(5)).map(|_| r.below(u64::from(cfg.consumers)) as u32).filter(|f| *f != i).collect();
        let median_cents = r.log_uniform(8.0, 300.0) * 100.0;
        let rent = r
            .chance(0.6)
            .then(|| (r.below(u64::from(landlords)) as u32, (median_cents * r.range(4.0, 8.0)).round() as u128));
        consumers.push(Consumer {
            id: consumer_id(i),
            rate_per_day: if infrequent { r.range(0.02, 0.05) } else { r.log_uniform(0.5, 4.0) },
            median_cents,
            sigma: r.range(0.3, 0.8),
            peak_hour: r.range(8.0, 21.0),
            hour_spread: r.range(1.5, 4.0),
            favourites,
            friends,
            rent,
            joins_day: if onboarding { r.below(days - 1) as u32 } else { 0 },
        });
    }

    // Employers and employees.
    let mut payroll: Vec<Vec<(u128, u128)>> = vec![Vec::new(); cfg.employers as usize];
    for c in &consumers {
        if c.joins_day == 0 && g.rng.chance(0.8) {
            let e = (g.rng.unit().powi(2) * f64::from(cfg.employers)) as usize;
            let salary = (g.rng.log_uniform(1500.0, 6000.0) * 100.0).round() as u128;
            let last = payroll.len() - 1;
            payroll[e.min(last)].push((c.id, salary));
        }
    }

    // Consumer traffic, and merchant takings per day for the settlements.
    let mut takings: BTreeMap<(u32, u64), u128> = BTreeMap::new();
    for c in &consumers {
        for day in u64::from(c.joins_day)..days {
            if day == u64::from(c.joins_day) && c.joins_day > 0 {
                // Onboarding: a first top-up; sometimes spent at once on a new merchant.
                let t = g.time_of_day(c, day);
                let top = (g.rng.log_uniform(20.0, 1500.0) * 100.0).round() as u128;
                g.push(t, CASH_IN, c.id, top, None);
                if g.rng.chance(0.3) {
                    let m = pick_merchant(&mut g.rng);
                    let spend = (top as f64 * g.rng.range(0.5, 1.0)).round() as u128;
                    let dt = g.rng.below(8 * MINUTE);
                    g.push(t + dt, c.id, merchant_id(m), spend.max(50), None);
                    *takings.entry((m, day)).or_default() += spend.max(50);
                }
            }
            for _ in 0..g.rng.poisson(c.rate_per_day) {
                let t = g.time_of_day(c, day);
                let roll = g.rng.unit();
                if roll < 0.80 || (roll < 0.92 && c.friends.is_empty()) {
                    let m = c.favourites[g.rng.below(c.favourites.len() as u64) as usize];
                    let a = g.amount(c, 1.0);
                    g.push(t, c.id, merchant_id(m), a, None);
                    *takings.entry((m, day)).or_default() += a;
                } else if roll < 0.92 {
                    let f = c.friends[g.rng.below(c.friends.len() as u64) as usize];
                    let a = g.amount(c, 1.0);
                    g.push(t, c.id, consumer_id(f), a, None);
                } else if roll < 0.97 {
                    let m = pick_merchant(&mut g.rng);
                    let a = g.amount(c, 1.0);
                    g.push(t, c.id, merchant_id(m), a, None);
                    *takings.entry((m, day)).or_default() += a;
                } else {
                    // An occasional bigger purchase at a known merchant.
                    let m = c.favourites[g.rng.below(c.favourites.len() as u64) as usize];
                    // Big purchases have their own, narrower spread than everyday ones.
                    let factor = g.rng.range(2.0, 6.0) * (0.25 * g.rng.normal()).exp();
                    let a = ((c.median_cents * factor).round() as u128).max(50);
                    g.push(t, c.id, merchant_id(m), a, None);
                    *takings.entry((m, day)).or_default() += a;
                }
            }
            if day == u64::from(c.joins_day)
                && c.joins_day == 0
                && let Some((landlord, amount)) = c.rent
            {
                // Last month's rent, paid before the stream starts: tenants know their landlord.
                let t = g.time_of_day(c, day).saturating_sub((30 - u64::from(c.id as u32 % 28)) * DAY);
                g.push(t, c.id, LANDLORD_BASE + u128::from(landlord), amount, None);
            }
            if let Some((landlord, amount)) = c.rent
                && day % 30 == u64::from(c.id as u32 % 28)
            {
                let t = g.time_of_day(c, day);
                g.push(t, c.id, LANDLORD_BASE + u128::from(landlord), amount, None);
            }
            if g.rng.chance(0.12) {
                let t = g.time_of_day(c, day);
                let top = (g.rng.log_uniform(20.0, 2000.0) * 100.0).round() as u128;
                g.push(t, CASH_IN, c.id, top, None);
            }
        }
    }

    // Settlements: each merchant's takings of the day, late in the evening, to its bank.
    for ((m, day), amount) in &takings {
        let t = EPOCH_NS + day * DAY + 23 * HOUR + g.rng.below(50 * MINUTE);
        g.push(t, merchant_id(*m), BANK_BASE + u128::from(*m), *amount, None);
    }

    // Payroll every 15 days at 09:00, funded the evening before.
    for (e, staff) in payroll.iter().enumerate() {
        if staff.is_empty() {
            continue;
        }
        let employer = EMPLOYER_BASE + e as u128;
        let total: u128 = staff.iter().map(|(_, s)| s).sum();
        for day in (0..days).step_by(15) {
            let mut t = EPOCH_NS + day * DAY + 9 * HOUR;
            // Funded from the employer's own bank account, not the card cash-in.
            g.push(t.saturating_sub(12 * HOUR), EMPLOYER_BANK_BASE + e as u128, employer, total, None);
            for (employee, salary) in staff {
                t += 2 * NS + g.rng.below(8 * NS);
                g.push(t, employer, *employee, *salary, None);
            }
        }
    }

    // Injections.
    let warmup_end_ns = EPOCH_NS + u64::from(cfg.warmup_days) * DAY;
    let inject_span = (days - u64::from(cfg.warmup_days) - 1) * DAY;
    let mut incident = 0u32;
    let mut incidents = BTreeMap::new();
    let mut next_fresh = FRESH_BASE;
    let mut fresh = || {
        next_fresh += 1;
        next_fresh
    };
    // Regular, established consumers, each used by at most one incident.
    let mut pool: Vec<usize> =
        (0..consumers.len()).filter(|i| consumers[*i].joins_day == 0 && consumers[*i].rate_per_day >= 0.5).collect();
    for i in (1..pool.len()).rev() {
        let j = g.rng.below(i as u64 + 1) as usize;
        pool.swap(i, j);
    }
    let mut take = || pool.pop().expect("enough consumers for the incidents");
    let existing = |rng: &mut Rng| consumer_id(rng.below(u64::from(cfg.consumers)) as u32);
    let mut dormant_id = 7_000_000u128;

    for pattern in Pattern::ALL {
        for _ in 0..cfg.incidents_per_pattern {
            incident += 1;
            let label = Some(Label { pattern, incident });
            let start = warmup_end_ns + g.rng.below(inject_span);
            match pattern {
                Pattern::Velocity => {
                    let c = consumers[take()].clone();
                    let n = 8 + g.rng.below(8);
                    let span = 2 * MINUTE + g.rng.below(3 * MINUTE);
                    let targets: Vec<u32> = (0..1 + g.rng.below(3))
                        .map(|_| c.favourites[g.rng.below(c.favourites.len() as u64) as usize])
                        .collect();
                    for k in 0..n {
                        let m = targets[g.rng.below(targets.len() as u64) as usize];
                        let a = g.amount(&c, 1.0);
                        g.push(start + span * k / n, c.id, merchant_id(m), a, label);
                    }
                }
                Pattern::Deviation => {
                    let c = consumers[take()].clone();
                    let m = c.favourites[0];
                    // The fraudster picks the amount: no persona noise.
                    let a = (c.median_cents * g.rng.range(30.0, 100.0)).round() as u128;
                    g.push(start, c.id, merchant_id(m), a, label);
                }
                Pattern::NewCounterparty => {
                    let c = consumers[take()].clone();
                    let a = (c.median_cents * g.rng.range(10.0, 40.0)).round() as u128;
                    let to = fresh();
                    g.push(start, c.id, to, a, label);
                }
                Pattern::Structuring => {
                    let c = consumers[take()].clone();
                    let n = 3 + g.rng.below(4);
                    let receivers: Vec<u128> = (0..1 + g.rng.below(3)).map(|_| existing(&mut g.rng)).collect();
                    let mut t = start;
                    for _ in 0..n {
                        let a = 900_000 + u128::from(g.rng.below(99_999));
                        let to = receivers[g.rng.below(receivers.len() as u64) as usize];
                        if to != c.id {
                            g.push(t, c.id, to, a, label);
                        }
                        t += HOUR + g.rng.below(3 * HOUR);
                    }
                }
                Pattern::PassThrough => {
                    let mule = fresh();
                    let inflow = (g.rng.range(2_000.0, 8_500.0) * 100.0).round() as u128;
                    g.push(start, CASH_IN, mule, inflow, label);
                    let out = (inflow as f64 * g.rng.range(0.85, 0.98)).round() as u128;
                    let dt = g.rng.below(7 * MINUTE);
                    g.push(start + MINUTE + dt, mule, fresh(), out, label);
                }
                Pattern::FanIn => {
                    let mule = fresh();
                    let n = 8 + g.rng.below(13);
                    for k in 0..n {
                        let victim = consumers[take()].clone();
                        let a = g.amount(&victim, 1.0);
                        let dt = g.rng.below(MINUTE);
                        g.push(start + k * (50 * MINUTE / n) + dt, victim.id, mule, a, label);
                    }
                }
                Pattern::FanOut => {
                    let c = consumers[take()].clone();
                    let n = 8 + g.rng.below(13);
                    for k in 0..n {
                        let mut to = existing(&mut g.rng);
                        while to == c.id || c.friends.iter().any(|f| consumer_id(*f) == to) {
                            to = existing(&mut g.rng);
                        }
                        let a = g.amount(&c, 1.0);
                        g.push(start + k * (55 * MINUTE / n), c.id, to, a, label);
                    }
                }
                Pattern::Reactivation => {
                    dormant_id += 1;
                    let c = dormant_persona(&mut g.rng, dormant_id, cfg.merchants);
                    dormant_history(&mut g, &c);
                    let factor = g.rng.range(5.0, 20.0);
                    let a = g.amount(&c, factor);
                    let to = existing(&mut g.rng);
                    g.push(start, c.id, to, a, label);
                }
            }
            *incidents.entry(pattern).or_insert(0) += 1;
        }
    }

    // Legitimate returners: the same dormant history, back with an ordinary amount.
    for _ in 0..cfg.incidents_per_pattern * 3 {
        dormant_id += 1;
        let c = dormant_persona(&mut g.rng, dormant_id, cfg.merchants);
        dormant_history(&mut g, &c);
        let t = warmup_end_ns + g.rng.below(inject_span);
        let to = merchant_id(c.favourites[0]);
        let a = g.amount(&c, 1.0);
        g.push(t, c.id, to, a, None);
    }

    assert!(g.out.len() <= MAX_SYNTH_EVENTS, "generated {} events; the limit is {MAX_SYNTH_EVENTS}", g.out.len());
    // Stable sort: equal timestamps keep generation order, so the stream is deterministic.
    g.out.sort_by_key(|e| e.0);
    let mut last = 0u64;
    let events = g
        .out
        .into_iter()
        .enumerate()
        .map(|(i, (ts, debit, credit, amount, label))| {
            // Strictly increasing timestamps, as the journal assigns them.
            let ts = ts.max(last + 1);
            last = ts;
            Labelled {
                event: TxEvent { id: i as u128 + 1, debit, credit, asset: SYNTH_ASSET_ID, amount, ts_ns: ts },
                label,
            }
        })
        .collect();
    Dataset { events, warmup_end_ns, incidents }
}

fn dormant_persona(rng: &mut Rng, id: u128, merchants: u32) -> Consumer {
    let median_cents = rng.log_uniform(8.0, 300.0) * 100.0;
    Consumer {
        id,
        rate_per_day: 0.3,
        median_cents,
        sigma: rng.range(0.3, 0.6),
        peak_hour: rng.range(8.0, 21.0),
        hour_spread: rng.range(1.5, 4.0),
        favourites: vec![rng.below(u64::from(merchants.min(50))) as u32],
        friends: Vec::new(),
        rent: None,
        joins_day: 0,
    }
}

/// 6–10 ordinary transfers 120 to 90 days before the stream starts, then silence.
fn dormant_history(g: &mut Gen, c: &Consumer) {
    for _ in 0..6 + g.rng.below(5) {
        let day_offset = 90 + g.rng.below(30);
        let t = g.time_of_day(c, 0).saturating_sub(day_offset * DAY);
        let a = g.amount(c, 1.0);
        g.push(t, c.id, merchant_id(c.favourites[0]), a, None);
    }
}

/// Base units of `major` whole units of the synthetic asset (for tests).
pub fn usd(major: u128) -> u128 {
    major * CENTS
}
