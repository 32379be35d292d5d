//! A one-to-one pass: every eligible statement item probes the ledger index for its nearest candidates; all
//! candidate pairs are then accepted greedily, closest first — smallest amount difference, then smallest date
//! difference, then highest description similarity, then canonical ranks. Closest-first over all pairs
//! (rather than first-come per statement line) keeps an early line from taking the ledger item a later line
//! fits exactly, and sorting by a total order makes the result independent of input order.

use super::parallel::join;
use super::prepare::Sides;
use super::probe::{DescriptionCache, Plan, Taken};
use super::{MAX_CANDIDATES_PER_ITEM, MAX_PASS_ROUNDS};

/// A candidate pair with its closeness; the field order is the acceptance order (ranks are unique, so the
/// order is total and positions never decide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Pair {
    /// Saturated: differences beyond 2^64 base units are equally far.
    amount_difference: u64,
    time_difference: u64,
    dissimilarity: u16,
    l_rank: u32,
    s_rank: u32,
    l: u32,
    s: u32,
    /// Carried along, never compared in practice (the ranks before it are unique).
    difference: i128,
}

/// An accepted one-to-one pair.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Accepted {
    pub l: u32,
    pub s: u32,
    pub l_rank: u32,
    /// Statement − ledger amount.
    pub difference: i128,
}

/// Runs `plan` one-to-one over the untaken items; marks and returns the accepted pairs.
pub(crate) fn pass(sides: &Sides, plan: &Plan, taken: &mut Taken, cache: &mut DescriptionCache) -> Vec<Accepted> {
    let mut accepted = Vec::new();
    for _round in 0..MAX_PASS_ROUNDS {
        taken.refresh();
        let (index, probes) = plan.prepare_pass(sides, taken);
        if index.is_empty() {
            break;
        }
        // Probe in two halves on two threads when the plan allows; the halves' pairs are concatenated in a fixed
        // order (and acceptance does not depend on it anyway).
        let halves = if plan.probes_in_parallel(&probes) { 2 } else { 1 };
        let chunk = probes.len().div_ceil(halves);
        let probe_range = |range: std::ops::Range<usize>, cache: &mut DescriptionCache| {
            let mut pairs: Vec<Pair> = Vec::with_capacity(range.len());
            let mut cut_short: Vec<u32> = Vec::new();
            plan.probe(&index, &probes, range, sides, MAX_CANDIDATES_PER_ITEM, cache, |se, candidates, cut| {
                if cut {
                    cut_short.push(se.pos);
                }
                pairs.extend(candidates.iter().map(|c| Pair {
                    amount_difference: u64::try_from(c.amount_difference).unwrap_or(u64::MAX),
                    time_difference: c.time_difference,
                    dissimilarity: c.dissimilarity,
                    l_rank: c.rank,
                    s_rank: se.rank,
                    l: c.pos,
                    s: se.pos,
                    difference: c.difference,
                }));
            });
            (pairs, cut_short)
        };
        let ((mut pairs, mut cut_short), (more_pairs, more_cut)) = if halves == 2 {
            // Without a description criterion the cache is never touched: each half gets an empty one.
            join(
                true,
                || probe_range(0..chunk, &mut DescriptionCache::default()),
                || probe_range(chunk..probes.len(), &mut DescriptionCache::default()),
            )
        } else {
            (probe_range(0..probes.len(), cache), (Vec::new(), Vec::new()))
        };
        pairs.extend(more_pairs);
        cut_short.extend(more_cut);
        let before = accepted.len();
        accept(&mut pairs, taken, &mut accepted);
        // Another round can only help a statement item whose candidate list was cut short and which lost all of
        // its candidates to closer pairs: the next round's index no longer holds those.
        let progress = accepted.len() > before;
        if !progress || cut_short.iter().all(|&s| taken.statement[s as usize]) {
            break;
        }
    }
    accepted
}

/// Accepts pairs closest first, each item at most once.
fn accept(pairs: &mut [Pair], taken: &mut Taken, accepted: &mut Vec<Accepted>) {
    if !conflict_free(pairs, &mut taken.ledger) {
        pairs.sort_unstable();
    }
    for p in pairs.iter() {
        let (l, s) = (p.l as usize, p.s as usize);
        if !taken.ledger[l] && !taken.statement[s] {
            taken.ledger[l] = true;
            taken.statement[s] = true;
            accepted.push(Accepted { l: p.l, s: p.s, l_rank: p.l_rank, difference: p.difference });
        }
    }
}

/// Whether no item appears in two pairs — then every pair is accepted whatever the order, and the sort can be
/// skipped (the common case: clean data, one candidate per line). Uses `ledger_taken` as scratch and restores it.
fn conflict_free(pairs: &[Pair], ledger_taken: &mut [bool]) -> bool {
    // Pairs of one statement item are contiguous (pushed together).
    let statements_unique = pairs.windows(2).all(|w| w[0].s != w[1].s);
    if !statements_unique {
        return false;
    }
    let mut marked = 0;
    let mut unique = true;
    for p in pairs {
        let seen = &mut ledger_taken[p.l as usize];
        if *seen {
            unique = false;
            break;
        }
        *seen = true;
        marked += 1;
    }
    for p in &pairs[..marked] {
        ledger_taken[p.l as usize] = false;
    }
    unique
}
