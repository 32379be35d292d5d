//! Classification of every item the rules left unmatched, in this order (the first that applies wins):
//!
//! 1. **duplicate** — an item on the same side with the same currency, amount, reference and description,
//!    dated within the duplicate window, *matched*: this one is its copy;
//! 2. **timing difference** — paired one-to-one with an unmatched item on the other side with the same
//!    currency, amount and reference, dated within the timing window (closest first);
//! 3. **rounding** — paired likewise, amounts differing by 1..=rounding tolerance;
//! 4. **amount mismatch** — unmatched items on the other side share its (non-empty) reference within the timing
//!    window (listed, not consumed);
//! 5. **timing difference** — dated after the statement period;
//! 6. **frozen or wiped** (kind wipe/freeze), **unauthorised mint** (a statement mint);
//! 7. **missing in ledger / missing in statement**.
//!
//! Pairing reuses the one-to-one pass, so its choices follow the same closest-first, canonical tie-breaks.

use std::collections::BTreeMap;

use aurum_ledger::decimal::format_signed;

use super::hash::{KeyMap, combine, combine_i128};
use super::index::{Index, Nearest};
use super::one_to_one;
use super::prepare::{Entry, Prepared, Sides};
use super::probe::{DescriptionCache, Plan, Taken};
use super::rules::{RefMode, Rules};
use super::time::{format_duration, format_timestamp};
use super::{BreakClass, Ids, Item, ItemKind, MAX_COUNTERPARTS_LISTED, Paired, Side};

pub(super) const NONE: u32 = u32::MAX;
const SEED: u64 = 0x636c_6173_7369_6679;
/// Largest scale `format_signed` accepts.
const MAX_SCALE: u8 = 18;

/// A verdict for one unmatched item.
pub(super) struct Verdict {
    pub class: BreakClass,
    pub explanation: String,
    pub counterpart: Ids,
}

/// Verdicts of one side, by input position; sparse (most items are matched and have none).
pub(super) struct Verdicts {
    slot: Vec<u32>,
    list: Vec<Option<Verdict>>,
}

impl Verdicts {
    fn new(len: usize) -> Verdicts {
        Verdicts { slot: vec![NONE; len], list: Vec::new() }
    }

    fn has(&self, pos: usize) -> bool {
        self.slot[pos] != NONE
    }

    fn set(&mut self, pos: usize, verdict: Verdict) {
        match self.slot[pos] {
            NONE => {
                self.slot[pos] = self.list.len() as u32;
                self.list.push(Some(verdict));
            }
            at => self.list[at as usize] = Some(verdict),
        }
    }

    /// Takes the verdict of `pos`, if any.
    pub(super) fn take(&mut self, pos: usize) -> Option<Verdict> {
        match self.slot[pos] {
            NONE => None,
            at => self.list[at as usize].take(),
        }
    }
}

/// Words and numbers for explanations.
struct Words<'r> {
    scales: &'r BTreeMap<String, u8>,
}

impl Words<'_> {
    fn money(&self, amount: i128, currency: &str) -> String {
        match self.scales.get(currency) {
            Some(&scale) if scale <= MAX_SCALE => format!("{} {currency}", format_signed(amount, scale)),
            _ => format!("{amount} base units of {currency}"),
        }
    }

    fn reference(item: &Item) -> String {
        match item.reference.trim_ascii() {
            "" => "no reference".to_string(),
            r => format!("reference {r:?}"),
        }
    }

    fn noun(side: Side) -> &'static str {
        match side {
            Side::Ledger => "ledger transfer",
            Side::Statement => "statement line",
        }
    }

    fn ids(items: &[&Item]) -> String {
        items.iter().map(|i| &*i.id).collect::<Vec<_>>().join(", ")
    }
}

/// Which match each input position is in (`NONE` if unmatched).
pub(super) fn match_of(len: usize, paired: &[Paired], side: Side) -> Vec<u32> {
    let mut of = vec![NONE; len];
    for (i, p) in paired.iter().enumerate() {
        let positions = if side == Side::Ledger { &p.ledger } else { &p.statement };
        for &pos in positions.as_slice() {
            of[pos as usize] = i as u32;
        }
    }
    of
}

fn same_content(a: &Item, b: &Item) -> bool {
    a.currency == b.currency
        && a.amount == b.amount
        && a.reference.trim_ascii().eq_ignore_ascii_case(b.reference.trim_ascii())
        && a.description.trim_ascii().eq_ignore_ascii_case(b.description.trim_ascii())
}

fn content_key(e: &Entry) -> u64 {
    combine(combine_i128(combine(SEED, u64::from(e.currency)), e.amount), e.ref_hash)
}

/// For each unmatched item of `side` with a matched twin: (item, twin), the nearest twin in time.
fn duplicates(side: &Prepared, match_of: &[u32], window: i64) -> Vec<(u32, u32)> {
    let unmatched: Vec<u32> = (0..side.len() as u32).filter(|&p| match_of[p as usize] == NONE).collect();
    if unmatched.is_empty() {
        return Vec::new();
    }
    let wanted: KeyMap<()> = unmatched.iter().map(|&u| (content_key(side.entry(u)), ())).collect();
    let rows: Vec<(u64, i128, u32, u32)> = side
        .entries()
        .iter()
        .filter(|e| match_of[e.pos as usize] != NONE)
        .map(|e| (content_key(e), i128::from(e.at), e.rank, e.pos))
        .filter(|row| wanted.contains_key(&row.0))
        .collect();
    let index = Index::build(rows, side.entries(), true);
    let mut out = Vec::new();
    for u in unmatched {
        let e = side.entry(u);
        let run = index.run(content_key(e));
        if let Some(twin) = Nearest::new(run, i128::from(e.at), u128::from(window.unsigned_abs()))
            .find(|slot| same_content(side.item(u), side.item(slot.entry.pos)))
        {
            out.push((u, twin.entry.pos));
        }
    }
    out
}

/// A one-to-one plan over equal currency and reference (empty ones equal too) within the timing window.
fn pairing_plan(window: i64, tolerance: i128, min_difference: u128) -> Plan {
    Plan {
        only_currency: None,
        same_currency: true,
        pairwise_amount: true,
        amount_tolerance: Some(tolerance),
        min_amount_difference: min_difference,
        date_window: Some(window),
        reference: Some(RefMode::Equals),
        empty_references_equal: true,
        min_similarity: None,
        same_sign: false,
    }
}

/// Unmatched items with a non-empty reference, indexed by (currency, reference), sorted by date.
fn by_reference(side: &Prepared, live: &[u32]) -> Index {
    let rows = live
        .iter()
        .map(|&p| side.entry(p))
        .filter(|e| e.ref_len > 0)
        .map(|e| (reference_key(e), i128::from(e.at), e.rank, e.pos))
        .collect();
    Index::build(rows, side.entries(), true)
}

fn reference_key(e: &Entry) -> u64 {
    combine(combine(SEED, u64::from(e.currency)), e.ref_hash)
}

/// A verdict for every unmatched item: (ledger, statement). `ledger_match`/`statement_match` come from
/// [`match_of`].
pub(super) fn classify(
    sides: &Sides,
    paired: &[Paired],
    ledger_match: &[u32],
    statement_match: &[u32],
    rules: &Rules,
    cache: &mut DescriptionCache,
) -> (Verdicts, Verdicts) {
    let settings = &rules.classification;
    let words = Words { scales: &rules.scales };
    let mut verdict_l = Verdicts::new(sides.ledger.len());
    let mut verdict_s = Verdicts::new(sides.statement.len());
    let mut taken = Taken::from_flags(
        ledger_match.iter().map(|&m| m != NONE).collect(),
        statement_match.iter().map(|&m| m != NONE).collect(),
    );

    // 1. Duplicates.
    for (side, prepared, matches, verdicts, taken_side) in [
        (Side::Ledger, &sides.ledger, ledger_match, &mut verdict_l, &mut taken.ledger),
        (Side::Statement, &sides.statement, statement_match, &mut verdict_s, &mut taken.statement),
    ] {
        for (u, twin) in duplicates(prepared, matches, settings.duplicate_window_secs) {
            let (item, twin_item) = (prepared.item(u), prepared.item(twin));
            let p = &paired[matches[twin as usize] as usize];
            let (other_side, other_positions) = match side {
                Side::Ledger => (&sides.statement, &p.statement),
                Side::Statement => (&sides.ledger, &p.ledger),
            };
            let others: Vec<&Item> = other_positions.as_slice().iter().map(|&o| other_side.item(o)).collect();
            let explanation = format!(
                "duplicate of {} {} (same amount {}, {}, description; dated {} apart), which matched {} {} under \
                 rule {:?}",
                Words::noun(side),
                twin_item.id,
                words.money(item.amount, &item.currency),
                Words::reference(item),
                format_duration(item.at_secs.abs_diff(twin_item.at_secs)),
                Words::noun(other(side)),
                Words::ids(&others),
                rules.rules[p.rule as usize].name,
            );
            verdicts.set(
                u as usize,
                Verdict { class: BreakClass::Duplicate, explanation, counterpart: Ids::one(twin_item.id.clone()) },
            );
            taken_side[u as usize] = true;
        }
    }

    // 2. Timing differences and 3. roundings: counterparts paired one-to-one.
    let window = settings.timing_window_secs;
    let mut pairings = vec![(BreakClass::TimingDifference, pairing_plan(window, 0, 0))];
    if settings.rounding_tolerance > 0 {
        pairings.push((BreakClass::Rounding, pairing_plan(window, settings.rounding_tolerance, 1)));
    }
    for (class, plan) in pairings {
        for one_to_one::Accepted { l, s, .. } in one_to_one::pass(sides, &plan, &mut taken, cache) {
            let (li, si) = (sides.ledger.item(l), sides.statement.item(s));
            let apart = format_duration(li.at_secs.abs_diff(si.at_secs));
            let explain = |this: &Item, this_side: Side, that: &Item| match class {
                BreakClass::TimingDifference => format!(
                    "{} {} has the same amount {} and {} but is dated {}, {apart} from this item's {}: outside \
                     the rules' date windows",
                    Words::noun(other(this_side)),
                    that.id,
                    words.money(this.amount, &this.currency),
                    Words::reference(this),
                    format_timestamp(that.at_secs),
                    format_timestamp(this.at_secs),
                ),
                _ => format!(
                    "{} {} ({}, dated {apart} apart) differs from this item's {} by {}: within the rounding \
                     tolerance of {}",
                    Words::noun(other(this_side)),
                    that.id,
                    words.money(that.amount, &that.currency),
                    words.money(this.amount, &this.currency),
                    words.money(this.amount.saturating_sub(that.amount).saturating_abs(), &this.currency),
                    words.money(settings.rounding_tolerance, &this.currency),
                ),
            };
            verdict_l.set(
                l as usize,
                Verdict { class, explanation: explain(li, Side::Ledger, si), counterpart: Ids::one(si.id.clone()) },
            );
            verdict_s.set(
                s as usize,
                Verdict { class, explanation: explain(si, Side::Statement, li), counterpart: Ids::one(li.id.clone()) },
            );
        }
    }

    // 4. Amount mismatches: the same reference on the other side, a different amount (not consumed: several
    // items may point at the same counterparts, e.g. a group whose lines do not add up).
    taken.refresh();
    let ledger_refs = by_reference(&sides.ledger, taken.live_ledger());
    let statement_refs = by_reference(&sides.statement, taken.live_statement());
    for (side, prepared, other_prepared, other_index, verdicts, live) in [
        (Side::Ledger, &sides.ledger, &sides.statement, &statement_refs, &mut verdict_l, taken.live_ledger()),
        (Side::Statement, &sides.statement, &sides.ledger, &ledger_refs, &mut verdict_s, taken.live_statement()),
    ] {
        for &p in live {
            let e = prepared.entry(p);
            let pos = p as usize;
            if e.ref_len == 0 {
                continue;
            }
            let item = prepared.item(e.pos);
            let run = other_index.run(reference_key(e));
            let mut found: Vec<(u32, u32)> = Nearest::new(run, i128::from(e.at), u128::from(window.unsigned_abs()))
                .filter(|slot| {
                    let o = other_prepared.item(slot.entry.pos);
                    o.currency == item.currency
                        && o.reference.trim_ascii().eq_ignore_ascii_case(item.reference.trim_ascii())
                })
                .take(MAX_COUNTERPARTS_LISTED)
                .map(|slot| (slot.entry.rank, slot.entry.pos))
                .collect();
            if found.is_empty() {
                continue;
            }
            found.sort_unstable();
            let others: Vec<&Item> = found.iter().map(|&(_, o)| other_prepared.item(o)).collect();
            let total = others.iter().try_fold(0i128, |acc, o| acc.checked_add(o.amount));
            let (this_word, total_text, difference) = match total {
                Some(total) => {
                    let d = match side {
                        Side::Ledger => total.checked_sub(item.amount),
                        Side::Statement => item.amount.checked_sub(total),
                    };
                    (
                        if others.len() == 1 { "is" } else { "total" },
                        words.money(total, &item.currency),
                        d.map_or_else(|| "too large to show".to_string(), |d| words.money(d, &item.currency)),
                    )
                }
                None => ("total", "too much to add up".to_string(), "too large to show".to_string()),
            };
            let explanation = format!(
                "{}: this {} is {}; {} {} {this_word} {total_text} (statement − ledger = {difference})",
                Words::reference(item),
                Words::noun(side),
                words.money(item.amount, &item.currency),
                Words::noun(other(side)),
                Words::ids(&others),
            );
            verdicts.set(
                pos,
                Verdict {
                    class: BreakClass::AmountMismatch,
                    explanation,
                    counterpart: others.iter().map(|o| o.id.clone()).collect(),
                },
            );
        }
    }

    // 5.–7. What is left, item by item.
    let period_end = settings.period_end.or_else(|| sides.statement.entries().iter().map(|e| e.at).max());
    for (side, prepared, matched, verdicts) in [
        (Side::Ledger, &sides.ledger, ledger_match, &mut verdict_l),
        (Side::Statement, &sides.statement, statement_match, &mut verdict_s),
    ] {
        for (pos, &m) in matched.iter().enumerate() {
            if m == NONE && !verdicts.has(pos) {
                verdicts.set(pos, lone_verdict(prepared.item(pos as u32), side, period_end, window, &words));
            }
        }
    }
    (verdict_l, verdict_s)
}

fn other(side: Side) -> Side {
    match side {
        Side::Ledger => Side::Statement,
        Side::Statement => Side::Ledger,
    }
}

/// The verdict for an item with no counterpart at all.
fn lone_verdict(item: &Item, side: Side, period_end: Option<i64>, window: i64, words: &Words) -> Verdict {
    let amount = words.money(item.amount, &item.currency);
    let date = format_timestamp(item.at_secs);
    let reference = Words::reference(item);
    let (class, explanation) = match (period_end, item.kind, side) {
        (Some(end), _, _) if item.at_secs > end => (
            BreakClass::TimingDifference,
            format!(
                "{amount} ({reference}) dated {date}, after the statement period ending {}: expect it on the next \
                 statement",
                format_timestamp(end)
            ),
        ),
        (_, ItemKind::Wipe | ItemKind::Freeze, _) => (
            BreakClass::FrozenOrWiped,
            format!(
                "a {} of {amount} ({reference}) on {date} with no counterpart in the {}: check that the \
                 asset-protection action is booked on both sides",
                item.kind.as_str(),
                other(side).as_str()
            ),
        ),
        (_, ItemKind::Mint, Side::Statement) => (
            BreakClass::UnauthorisedMint,
            format!("a mint of {amount} ({reference}) on {date} that the ledger never booked"),
        ),
        _ => (
            if side == Side::Statement { BreakClass::MissingInLedger } else { BreakClass::MissingInStatement },
            format!(
                "{amount} ({reference}) on {date}: no {} matches it, and no unmatched one has its reference (or, \
                 without one, its amount) within {}",
                Words::noun(other(side)),
                format_duration(window.unsigned_abs())
            ),
        ),
    };
    Verdict { class, explanation, counterpart: Ids::none() }
}
