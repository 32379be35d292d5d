//! One-to-many and many-to-one passes. Candidates are found pairwise (reference, date, currency, description,
//! same sign — every criterion but the amount, which applies to the group's sum); then each "one" item, in
//! canonical order, looks for a subset of its untaken candidates whose amounts sum to its own within the
//! tolerance. The search is bounded: at most [`MAX_GROUP_CANDIDATES`] candidates (nearest in time), groups of at
//! most [`MAX_GROUP_ITEMS`], at most [`MAX_SUBSET_STEPS`] steps — never an unbounded subset enumeration.

use super::prepare::Sides;
use super::probe::{DescriptionCache, Plan, Taken};
use super::rules::Shape;
use super::{MAX_GROUP_CANDIDATES, MAX_GROUP_ITEMS, MAX_SUBSET_STEPS};

/// An accepted group: positions of each side in canonical order, and Σ statement − Σ ledger.
#[derive(Debug)]
pub(crate) struct Group {
    pub ledger: Vec<u32>,
    pub statement: Vec<u32>,
    pub difference: i128,
}

/// Runs a group rule; marks and returns the accepted groups.
pub(crate) fn pass(
    sides: &Sides,
    plan: &Plan,
    shape: Shape,
    taken: &mut Taken,
    cache: &mut DescriptionCache,
) -> Vec<Group> {
    taken.refresh();
    let (index, probes) = plan.prepare_pass(sides, taken);
    if index.is_empty() {
        return Vec::new();
    }
    // (one's rank, time difference, member's rank, one, member): sorted, each one's members come nearest first,
    // and the ones come in canonical order.
    let mut links: Vec<(u32, u64, u32, u32, u32)> = Vec::new();
    plan.probe(&index, &probes, 0..probes.len(), sides, MAX_GROUP_CANDIDATES, cache, |se, candidates, _| {
        let (s, s_rank) = (se.pos, se.rank);
        for c in candidates {
            links.push(match shape {
                Shape::ManyToOne => (s_rank, c.time_difference, c.rank, s, c.pos),
                _ => (c.rank, c.time_difference, s_rank, c.pos, s),
            });
        }
    });
    links.sort_unstable();
    let tolerance = plan.amount_tolerance.unwrap_or(0);
    let mut out = Vec::new();
    let mut members: Vec<u32> = Vec::with_capacity(MAX_GROUP_CANDIDATES);
    let mut amounts: Vec<i128> = Vec::with_capacity(MAX_GROUP_CANDIDATES);
    for run in links.chunk_by(|a, b| a.0 == b.0) {
        let one = run[0].3;
        let (one_taken, member_taken, one_amount) = match shape {
            Shape::ManyToOne => (taken.statement[one as usize], &taken.ledger, sides.statement.entry(one).amount),
            _ => (taken.ledger[one as usize], &taken.statement, sides.ledger.entry(one).amount),
        };
        if one_taken {
            continue;
        }
        members.clear();
        members.extend(run.iter().map(|l| l.4).filter(|&m| !member_taken[m as usize]).take(MAX_GROUP_CANDIDATES));
        amounts.clear();
        amounts.extend(members.iter().map(|&m| match shape {
            Shape::ManyToOne => sides.ledger.entry(m).amount,
            _ => sides.statement.entry(m).amount,
        }));
        let Some(chosen) = find_subset(one_amount, tolerance, &amounts) else { continue };
        let mut group: Vec<u32> = chosen.iter().map(|&i| members[i]).collect();
        let member_side = if shape == Shape::ManyToOne { &sides.ledger } else { &sides.statement };
        group.sort_unstable_by_key(|&m| member_side.entry(m).rank);
        // The subset search checked the sum without overflow, so this cannot overflow either.
        let members_sum = chosen.iter().fold(0i128, |acc, &i| acc.saturating_add(amounts[i]));
        match shape {
            Shape::ManyToOne => {
                taken.statement[one as usize] = true;
                for &m in &group {
                    taken.ledger[m as usize] = true;
                }
                out.push(Group {
                    ledger: group,
                    statement: vec![one],
                    difference: one_amount.saturating_sub(members_sum),
                });
            }
            _ => {
                taken.ledger[one as usize] = true;
                for &m in &group {
                    taken.statement[m as usize] = true;
                }
                out.push(Group {
                    ledger: vec![one],
                    statement: group,
                    difference: members_sum.saturating_sub(one_amount),
                });
            }
        }
    }
    out
}

/// Indices of at least two `amounts` summing to within `tolerance` of `target`: the whole set if it fits, else
/// the first subset found by increasing size. Amounts of another sign than `target` (or zero) are never chosen.
/// `None` if there is none within the limits.
pub(crate) fn find_subset(target: i128, tolerance: i128, amounts: &[i128]) -> Option<Vec<usize>> {
    let tolerance = tolerance.unsigned_abs();
    let n = amounts.len();
    if n < 2 || target == 0 {
        return None;
    }
    let same_sign = |a: i128| a != 0 && a.signum() == target.signum();
    if n <= MAX_GROUP_ITEMS
        && amounts.iter().all(|&a| same_sign(a))
        && let Some(sum) = amounts.iter().try_fold(0i128, |acc, &a| acc.checked_add(a))
        && sum.abs_diff(target) <= tolerance
    {
        return Some((0..n).collect());
    }
    // Members share the target's sign, so work with magnitudes: find a subset whose magnitudes sum into
    // [lo, hi]. Sorted ascending, a partial sum can be bounded from both sides and hopeless branches cut.
    let mut order: Vec<usize> = (0..n).filter(|&i| same_sign(amounts[i])).collect();
    order.sort_by_key(|&i| (amounts[i].unsigned_abs(), i));
    let magnitudes: Vec<u128> = order.iter().map(|&i| amounts[i].unsigned_abs()).collect();
    let mut prefix = vec![0u128; magnitudes.len() + 1];
    for (i, m) in magnitudes.iter().enumerate() {
        prefix[i + 1] = prefix[i].saturating_add(*m);
    }
    let target_magnitude = target.unsigned_abs();
    let window = Window {
        magnitudes: &magnitudes,
        prefix: &prefix,
        lo: target_magnitude.saturating_sub(tolerance),
        hi: target_magnitude.saturating_add(tolerance),
    };
    let mut steps = 0usize;
    let mut chosen = Vec::with_capacity(MAX_GROUP_ITEMS);
    for size in 2..=magnitudes.len().min(MAX_GROUP_ITEMS) {
        if window.search(size, 0, 0, &mut chosen, &mut steps) {
            let mut picked: Vec<usize> = chosen.iter().map(|&k| order[k]).collect();
            picked.sort_unstable();
            return Some(picked);
        }
        if steps >= MAX_SUBSET_STEPS {
            break;
        }
    }
    None
}

/// The subset-sum search over ascending magnitudes.
struct Window<'a> {
    magnitudes: &'a [u128],
    /// prefix[i] = Σ magnitudes[..i] (saturating).
    prefix: &'a [u128],
    lo: u128,
    hi: u128,
}

impl Window<'_> {
    /// Σ magnitudes[from..from + count].
    fn range_sum(&self, from: usize, count: usize) -> u128 {
        self.prefix[from + count].saturating_sub(self.prefix[from])
    }

    /// Depth-first search for `size` items in total from `magnitudes[start..]`; `chosen` holds the path.
    fn search(&self, size: usize, start: usize, sum: u128, chosen: &mut Vec<usize>, steps: &mut usize) -> bool {
        let need = size - chosen.len();
        if need == 0 {
            return (self.lo..=self.hi).contains(&sum);
        }
        let n = self.magnitudes.len();
        if n < start + need {
            return false;
        }
        // The largest reachable sum takes the `need` largest items; if even that is short, give up here.
        if sum.saturating_add(self.range_sum(n - need, need)) < self.lo {
            return false;
        }
        for i in start..=n - need {
            *steps += 1;
            if *steps > MAX_SUBSET_STEPS {
                return false;
            }
            // The smallest sum through i takes i and the items right after it; ascending, so later i only grow.
            if sum.saturating_add(self.range_sum(i, need)) > self.hi {
                break;
            }
            chosen.push(i);
            if self.search(size, i + 1, sum.saturating_add(self.magnitudes[i]), chosen, steps) {
                return true;
            }
            chosen.pop();
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_whole_set_first_then_smallest() {
        assert_eq!(find_subset(100, 0, &[60, 40]), Some(vec![0, 1]));
        assert_eq!(find_subset(100, 0, &[70, 60, 40]), Some(vec![1, 2]));
        assert_eq!(find_subset(100, 0, &[60, -10, 40, 0]), Some(vec![0, 2])); // other signs never chosen
        assert_eq!(find_subset(-100, 0, &[-70, -60, -40]), Some(vec![1, 2]));
        assert_eq!(find_subset(100, 1, &[30, 31, 40]), Some(vec![0, 1, 2])); // 101: within 1
        assert_eq!(find_subset(100, 0, &[100]), None); // a single item is one-to-one's business
        assert_eq!(find_subset(100, 0, &[30, 30, 30]), None);
        let many = vec![1i128; 40];
        assert_eq!(find_subset(8, 0, &many[..16]), Some((0..8).collect()));
        assert_eq!(find_subset(9, 0, &many[..16]), None); // more than MAX_GROUP_ITEMS needed
    }

    #[test]
    fn subset_search_is_bounded() {
        // Even sums only, odd target: nothing fits, and the pruning or the budget ends the search quickly.
        let amounts: Vec<i128> = (0..16).map(|i| 2 * (1000 + i)).collect();
        assert_eq!(find_subset(9_001, 0, &amounts), None);
        let odd: Vec<i128> = (0..16).map(|i| 3 + 2 * i).collect();
        assert!(find_subset(40, 0, &odd).is_some());
    }
}
