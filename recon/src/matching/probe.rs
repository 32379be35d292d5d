//! What every pass shares: the plan a rule compiles to, the index of eligible ledger items, and the probe that
//! finds, for each statement item, the ledger items satisfying every pairwise criterion — nearest first.
//!
//! The probe always goes from the statement side into a ledger index, whatever the shape: a `contains` or
//! `prefix` reference can only be probed that way (a statement reference is searched for the ledger references
//! it holds), and one direction keeps one code path. Plans with one probe key per item (no reference, or
//! `equals`) probe in key order — a merge join over two sorted arrays; substring plans go through a hash map.

use super::MAX_SCANNED_PER_PROBE;
use super::hash::{RollingRef, combine, combine_i128, ref_hash};
use super::index::{Index, Nearest, Slot};
use super::parallel::{PARALLEL_MIN_ITEMS, join};
use super::prepare::{Currencies, Entry, Prepared, Sides, same_reference};
use super::rules::{Criterion, RefMode, Rule, Shape};
use super::similarity::{bigrams, dice_permille};

/// Items already in a match (or, during classification, already explained), by input position; and the
/// positions still free, so that late passes, which see few items, do not scan every entry.
#[derive(Debug)]
pub(crate) struct Taken {
    pub ledger: Vec<bool>,
    pub statement: Vec<bool>,
    live_ledger: Vec<u32>,
    live_statement: Vec<u32>,
}

impl Taken {
    pub(crate) fn new(sides: &Sides) -> Taken {
        Taken::from_flags(vec![false; sides.ledger.len()], vec![false; sides.statement.len()])
    }

    pub(crate) fn from_flags(ledger: Vec<bool>, statement: Vec<bool>) -> Taken {
        let live = |flags: &[bool]| (0..flags.len() as u32).filter(|&p| !flags[p as usize]).collect();
        Taken { live_ledger: live(&ledger), live_statement: live(&statement), ledger, statement }
    }

    /// Drops taken positions from the live lists (ascending input positions, so scans stay sequential).
    pub(crate) fn refresh(&mut self) {
        let (ledger, statement) = (&self.ledger, &self.statement);
        self.live_ledger.retain(|&p| !ledger[p as usize]);
        self.live_statement.retain(|&p| !statement[p as usize]);
    }

    pub(crate) fn live_ledger(&self) -> &[u32] {
        &self.live_ledger
    }

    pub(crate) fn live_statement(&self) -> &[u32] {
        &self.live_statement
    }
}

/// Statement items ready to probe: sorted by key for a merge join (keys and entries in that order, so the
/// probe loop reads memory sequentially), or just positions for substring probes.
#[derive(Debug)]
pub(crate) enum Probes {
    ByKey { keys: Vec<u64>, entries: Vec<Entry> },
    Positions(Vec<u32>),
}

impl Probes {
    pub(crate) fn len(&self) -> usize {
        match self {
            Probes::ByKey { keys, .. } => keys.len(),
            Probes::Positions(positions) => positions.len(),
        }
    }
}

/// Description bigrams, computed the first time an item's description is compared, then kept.
#[derive(Debug, Default)]
pub(crate) struct DescriptionCache {
    ledger: Vec<Option<Box<[u64]>>>,
    statement: Vec<Option<Box<[u64]>>>,
}

impl DescriptionCache {
    pub(crate) fn similarity(&mut self, sides: &Sides, l: u32, s: u32) -> u16 {
        if self.ledger.len() != sides.ledger.len() {
            self.ledger.resize_with(sides.ledger.len(), || None);
        }
        if self.statement.len() != sides.statement.len() {
            self.statement.resize_with(sides.statement.len(), || None);
        }
        let a = self.ledger[l as usize].get_or_insert_with(|| bigrams(&sides.ledger.item(l).description));
        let b = self.statement[s as usize].get_or_insert_with(|| bigrams(&sides.statement.item(s).description));
        dice_permille(a, b)
    }
}

/// How a probe walks a key's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Runs sorted by date; the window is the date window.
    Time,
    /// Runs sorted by amount; the window is the amount tolerance.
    Amount,
    /// No window: runs in canonical order.
    Rank,
}

/// A rule compiled for the engine (also built directly for classification's internal passes).
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// `Some(None)`: the rule names a currency no item has, so nothing is eligible.
    pub only_currency: Option<Option<u32>>,
    pub same_currency: bool,
    /// Amount criterion checked per pair (one-to-one) rather than on a group's sum.
    pub pairwise_amount: bool,
    pub amount_tolerance: Option<i128>,
    /// Smallest |difference| accepted (classification's rounding pass wants a non-zero one).
    pub min_amount_difference: u128,
    pub date_window: Option<i64>,
    pub reference: Option<RefMode>,
    /// Two empty references count as equal (classification only; rules never match on an absent reference).
    pub empty_references_equal: bool,
    pub min_similarity: Option<u16>,
    /// Both amounts of a pair non-zero with one sign (groups: every member moves money the way the one does).
    pub same_sign: bool,
}

/// One passing candidate of a probe and how close it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub pos: u32,
    pub rank: u32,
    pub amount_difference: u128,
    /// Statement − ledger amount (saturating; 0 across currencies, where it means nothing).
    pub difference: i128,
    pub time_difference: u64,
    /// 1000 − similarity (0 when the rule has no description criterion).
    pub dissimilarity: u16,
}

/// The ledger items eligible for a pass, indexed by the plan's key.
#[derive(Debug)]
pub(crate) struct LedgerIndex {
    index: Index,
    /// Distinct lengths of the indexed references, ascending (the substrings a `contains`/`prefix` probe hashes).
    reference_lengths: Vec<usize>,
}

impl LedgerIndex {
    pub(crate) fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

const KEY_SEED: u64 = 0x6175_7275_6d5f_6d61;

impl Plan {
    pub(crate) fn for_rule(rule: &Rule, currencies: &Currencies) -> Plan {
        let amount_tolerance = rule.amount_tolerance();
        Plan {
            only_currency: rule.only_currency.as_deref().map(|c| currencies.id(c)),
            same_currency: amount_tolerance.is_some() || rule.criteria.contains(&Criterion::Currency),
            pairwise_amount: rule.shape == Shape::OneToOne,
            amount_tolerance,
            min_amount_difference: 0,
            date_window: rule.date_window_secs(),
            reference: rule.reference_mode(),
            empty_references_equal: false,
            min_similarity: rule.min_similarity_permille(),
            same_sign: rule.shape != Shape::OneToOne,
        }
    }

    /// The exact amount is part of the join key (one-to-one, no tolerance).
    fn amount_in_key(&self) -> bool {
        self.pairwise_amount && self.amount_tolerance == Some(0)
    }

    /// One probe key per statement item (so probes can run in key order).
    fn single_key(&self) -> bool {
        matches!(self.reference, None | Some(RefMode::Equals))
    }

    fn scan(&self) -> Scan {
        if self.date_window.is_some() {
            Scan::Time
        } else if self.pairwise_amount && self.amount_tolerance.is_some() && !self.amount_in_key() {
            Scan::Amount
        } else {
            Scan::Rank
        }
    }

    /// Whether an item can take part at all (currency filter, a reference when one is needed, a sign for groups).
    fn eligible(&self, e: &Entry) -> bool {
        let currency_ok = match self.only_currency {
            None => true,
            Some(Some(c)) => e.currency == c,
            Some(None) => false,
        };
        let reference_ok = match self.reference {
            None => true,
            Some(RefMode::Equals) if self.empty_references_equal => true,
            Some(_) => e.ref_len > 0,
        };
        currency_ok && reference_ok && !(self.same_sign && e.amount == 0)
    }

    /// Key of an entry without its reference part.
    fn base_key(&self, e: &Entry) -> u64 {
        let mut key = KEY_SEED;
        if self.same_currency {
            key = combine(key, u64::from(e.currency));
        }
        if self.amount_in_key() {
            key = combine_i128(key, e.amount);
        }
        key
    }

    /// The whole key of an entry (its own reference included when the plan has one).
    fn key(&self, e: &Entry) -> u64 {
        let base = self.base_key(e);
        if self.reference.is_some() { combine(base, e.ref_hash) } else { base }
    }

    /// Indexes the eligible ledger items among `positions`.
    pub(crate) fn index_ledger(&self, ledger: &Prepared, positions: &[u32]) -> LedgerIndex {
        let scan = self.scan();
        let mut lengths = Vec::new();
        let rows: Vec<(u64, i128, u32, u32)> = positions
            .iter()
            .map(|&p| ledger.entry(p))
            .filter(|e| self.eligible(e))
            .map(|e| {
                if !self.single_key() {
                    lengths.push(e.ref_len as usize);
                }
                let value = match scan {
                    Scan::Time => i128::from(e.at),
                    Scan::Amount => e.amount,
                    Scan::Rank => i128::from(e.rank),
                };
                (self.key(e), value, e.rank, e.pos)
            })
            .collect();
        lengths.sort_unstable();
        lengths.dedup();
        LedgerIndex { index: Index::build(rows, ledger.entries(), !self.single_key()), reference_lengths: lengths }
    }

    /// The keys a statement item probes with a substring reference mode: one per substring that has the length
    /// of some indexed ledger reference.
    fn substring_keys(&self, index: &LedgerIndex, statement: &Prepared, e: &Entry, keys: &mut Vec<u64>) {
        keys.clear();
        let base = self.base_key(e);
        let reference = statement.reference(e.pos);
        for &len in index.reference_lengths.iter().take_while(|&&len| len <= reference.len()) {
            match self.reference {
                Some(RefMode::Prefix) => keys.push(combine(base, ref_hash(&reference[..len]))),
                _ => keys.extend(RollingRef::new(reference, len).map(|(_, h)| combine(base, h))),
            }
        }
        keys.sort_unstable();
        keys.dedup();
    }

    /// Every pairwise criterion for (ledger entry `le`, statement entry `se`); `None` when one fails.
    pub(crate) fn check(
        &self,
        sides: &Sides,
        le: &Entry,
        se: &Entry,
        cache: &mut DescriptionCache,
    ) -> Option<Candidate> {
        if self.same_currency && le.currency != se.currency {
            return None;
        }
        let amount_difference = se.amount.abs_diff(le.amount);
        if self.pairwise_amount
            && let Some(tolerance) = self.amount_tolerance
            && (amount_difference > tolerance.unsigned_abs() || amount_difference < self.min_amount_difference)
        {
            return None;
        }
        if self.same_sign && (le.amount.signum() != se.amount.signum() || le.amount == 0) {
            return None;
        }
        let time_difference = se.at.abs_diff(le.at);
        if let Some(window) = self.date_window
            && time_difference > window.unsigned_abs()
        {
            return None;
        }
        if let Some(mode) = self.reference {
            let related = match mode {
                RefMode::Equals => {
                    (le.ref_len > 0 || self.empty_references_equal)
                        && same_reference(le, &sides.ledger, se, &sides.statement)
                }
                RefMode::Prefix | RefMode::Contains => {
                    let (lr, sr) = (sides.ledger.reference(le.pos), sides.statement.reference(se.pos));
                    !lr.is_empty()
                        && if mode == RefMode::Prefix {
                            sr.len() >= lr.len() && sr[..lr.len()].eq_ignore_ascii_case(lr)
                        } else {
                            sr.windows(lr.len()).any(|w| w.eq_ignore_ascii_case(lr))
                        }
                }
            };
            if !related {
                return None;
            }
        }
        let mut dissimilarity = 0;
        if let Some(min) = self.min_similarity {
            let similarity = cache.similarity(sides, le.pos, se.pos);
            if similarity < min {
                return None;
            }
            dissimilarity = 1000 - similarity;
        }
        let difference = if le.currency == se.currency { se.amount.saturating_sub(le.amount) } else { 0 };
        Some(Candidate { pos: le.pos, rank: le.rank, amount_difference, difference, time_difference, dissimilarity })
    }

    /// Walks `runs` nearest first, collecting up to `limit` passing candidates into `out`; returns whether the
    /// walk was cut short by `limit` or by [`MAX_SCANNED_PER_PROBE`] (so more candidates may exist).
    fn collect<'r>(
        &self,
        sides: &Sides,
        se: &Entry,
        runs: impl Iterator<Item = &'r [Slot]>,
        limit: usize,
        cache: &mut DescriptionCache,
        out: &mut Vec<Candidate>,
    ) -> bool {
        out.clear();
        let (center, radius) = match self.scan() {
            Scan::Time => (i128::from(se.at), u128::from(self.date_window.unwrap_or(0).unsigned_abs())),
            Scan::Amount => (se.amount, self.amount_tolerance.unwrap_or(0).unsigned_abs()),
            Scan::Rank => (i128::MIN, u128::MAX),
        };
        let several_runs = !self.single_key();
        let mut scanned = 0usize;
        for run in runs {
            for slot in Nearest::new(run, center, radius) {
                scanned += 1;
                if scanned > MAX_SCANNED_PER_PROBE {
                    return true;
                }
                if several_runs && out.iter().any(|c| c.pos == slot.entry.pos) {
                    continue;
                }
                if let Some(candidate) = self.check(sides, &slot.entry, se, cache) {
                    out.push(candidate);
                    if out.len() >= limit {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// The eligible statement items among `positions`, ready to probe.
    pub(crate) fn probes(&self, statement: &Prepared, positions: &[u32]) -> Probes {
        let eligible = positions.iter().map(|&p| statement.entry(p)).filter(|e| self.eligible(e));
        if self.single_key() {
            let mut by_key: Vec<(u64, u32)> = eligible.map(|e| (self.key(e), e.pos)).collect();
            by_key.sort_unstable();
            // A tight gather loop: independent loads overlap, unlike the same loads spread through the probe loop.
            let entries = by_key.iter().map(|&(_, pos)| *statement.entry(pos)).collect();
            Probes::ByKey { keys: by_key.into_iter().map(|(key, _)| key).collect(), entries }
        } else {
            Probes::Positions(eligible.map(|e| e.pos).collect())
        }
    }

    /// Probes the index with `probes[range]`: `visit(statement entry, candidates nearest first, cut short)`.
    /// The order of visits is not canonical; callers must not depend on it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn probe(
        &self,
        index: &LedgerIndex,
        probes: &Probes,
        range: std::ops::Range<usize>,
        sides: &Sides,
        limit: usize,
        cache: &mut DescriptionCache,
        mut visit: impl FnMut(&Entry, &[Candidate], bool),
    ) {
        let mut out = Vec::new();
        match probes {
            Probes::ByKey { keys, entries } => {
                let mut cursor = 0usize;
                for (&key, se) in keys[range.clone()].iter().zip(&entries[range]) {
                    let run = index.index.run_from(key, &mut cursor);
                    if run.is_empty() {
                        continue;
                    }
                    let cut = self.collect(sides, se, std::iter::once(run), limit, cache, &mut out);
                    visit(se, &out, cut);
                }
            }
            Probes::Positions(positions) => {
                let mut keys = Vec::new();
                for &s in &positions[range] {
                    let se = sides.statement.entry(s);
                    self.substring_keys(index, &sides.statement, se, &mut keys);
                    let runs = keys.iter().map(|&k| index.index.run(k));
                    let cut = self.collect(sides, se, runs, limit, cache, &mut out);
                    visit(se, &out, cut);
                }
            }
        }
    }

    /// Whether probes may run on two threads: only without a description criterion, whose cache is shared.
    pub(crate) fn probes_in_parallel(&self, probes: &Probes) -> bool {
        self.min_similarity.is_none() && probes.len() >= PARALLEL_MIN_ITEMS
    }

    /// Builds the ledger index and the statement probes of a pass over the live items — on two threads when
    /// there are many.
    pub(crate) fn prepare_pass(&self, sides: &Sides, taken: &Taken) -> (LedgerIndex, Probes) {
        let large = taken.live_ledger().len().min(taken.live_statement().len()) >= PARALLEL_MIN_ITEMS;
        join(
            large,
            || self.index_ledger(&sides.ledger, taken.live_ledger()),
            || self.probes(&sides.statement, taken.live_statement()),
        )
    }
}
