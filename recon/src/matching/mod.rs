//! The statement matching engine: external statements (bank, custodian, payment processor, on-chain events)
//! against ledger transfers, with exact integer amounts.
//!
//! [`run`] is pure: `(ledger items, statement items, rules) -> Outcome`. Every item ends in exactly one
//! [`Match`] or one [`Break`]; a dry run is a run whose outcome is not persisted. The outcome is a function of
//! the inputs as sets: input order, hash seeds and the machine do not change a byte of it.
//!
//! How it works (docs/matching.md has the long version):
//! 1. `prepare` reads each side once into compact entries (join fields, reference hash and head) and gives
//!    every item its canonical rank (time, then id, then every other field); every later tie is broken by
//!    rank, and the output is in rank order.
//! 2. Each rule, in file order, is one pass over the items still free (`probe` compiles it to a plan):
//!    `one_to_one` (a merge join on the rule's exact components, nearest-first walk of the date or amount
//!    window, then closest-first greedy acceptance) or `groups` (candidates per item, then a bounded
//!    subset-sum search).
//! 3. `classify` explains every item left over: duplicate, timing, rounding, amount mismatch, unauthorised
//!    mint, frozen/wiped, missing.
//!
//! Independent large pieces of work run on two threads (`parallel`); each is deterministic and their
//! results are combined in a fixed order, so the outcome does not depend on scheduling.

mod classify;
mod groups;
mod hash;
mod index;
mod load;
mod one_to_one;
mod parallel;
mod prepare;
mod probe;
mod rules;
mod similarity;
mod time;

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;

pub use load::{LoadError, LoadErrorKind, MAX_DESCRIPTION_BYTES, MAX_ID_BYTES, MAX_REFERENCE_BYTES, load_items_csv};
pub use rules::{
    Classification, Criterion, MAX_DATE_WINDOW_SECS, MAX_RULE_NAME_CHARS, MAX_RULES, RefMode, Rule, Rules, RulesError,
    Shape,
};
pub use similarity::{MAX_SIMILARITY_CHARS, similarity_permille};
pub use time::{TimestampError, format_timestamp, parse_timestamp};

/// Most items in the "many" side of a one-to-many or many-to-one match.
pub const MAX_GROUP_ITEMS: usize = 8;
/// Most candidates considered for the "many" side of one group (the nearest in time are kept).
pub const MAX_GROUP_CANDIDATES: usize = 16;
/// Most subsets examined (search steps) when looking for a group that sums to one item's amount. The search
/// tries the whole candidate set first, then subsets by increasing size; the budget keeps it polynomial.
pub const MAX_SUBSET_STEPS: usize = 4096;
/// Most passing candidates kept for one statement item in a one-to-one pass (the nearest first).
pub const MAX_CANDIDATES_PER_ITEM: usize = 16;
/// Most index entries examined for one probe, passing or not: bounds the work on degenerate data (thousands of
/// items sharing one key and date).
pub const MAX_SCANNED_PER_PROBE: usize = 4096;
/// Most rounds of one one-to-one pass. A round re-runs the pass for items whose candidate list was cut by a
/// limit above and whose candidates were all taken by better pairs.
pub const MAX_PASS_ROUNDS: usize = 64;
/// Most counterparts named in one amount-mismatch break.
pub const MAX_COUNTERPARTS_LISTED: usize = 8;
/// Most items on one side ([`run`] indexes items with u32 positions).
pub const MAX_ITEMS_PER_SIDE: usize = u32::MAX as usize - 1;

/// What kind of movement an item records. Payments are the ordinary case; the others are token events from
/// the chain (or their booking in the ledger). Kinds do not take part in matching; they decide how an
/// unmatched item is classified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemKind {
    /// A transfer of value.
    #[default]
    Payment,
    /// Tokens created.
    Mint,
    /// Tokens destroyed (redemption).
    Burn,
    /// A frozen address's balance wiped by asset protection.
    Wipe,
    /// An address frozen by asset protection.
    Freeze,
}

impl ItemKind {
    /// Every kind, in order.
    pub const ALL: [ItemKind; 5] =
        [ItemKind::Payment, ItemKind::Mint, ItemKind::Burn, ItemKind::Wipe, ItemKind::Freeze];

    /// The stable lower-case name used in CSV files.
    pub fn as_str(&self) -> &'static str {
        match self {
            ItemKind::Payment => "payment",
            ItemKind::Mint => "mint",
            ItemKind::Burn => "burn",
            ItemKind::Wipe => "wipe",
            ItemKind::Freeze => "freeze",
        }
    }

    /// The kind named `name` (ASCII case-insensitive).
    pub fn parse(name: &str) -> Option<ItemKind> {
        ItemKind::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(name))
    }
}

/// An item's identifier. Shared, not copied: an outcome names every input item, and copying 2M ids into
/// their own allocations cost a 1M × 1M run 18% (BENCHMARKS.md).
pub type ItemId = Arc<str>;

/// One ledger transfer or one statement line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Item {
    /// Identifier, unique within its side (the outcome names items by it).
    pub id: ItemId,
    /// When it happened, unix seconds UTC.
    pub at_secs: i64,
    /// Signed amount in base units of `currency` (negative = money out).
    pub amount: i128,
    /// Currency or asset code.
    pub currency: String,
    /// Reference (end-to-end id, invoice number, transaction hash); compared trimmed and ASCII-case-insensitively.
    pub reference: String,
    /// Free text.
    pub description: String,
    /// What kind of movement.
    pub kind: ItemKind,
}

/// Which input an item came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// The ledger's transfers.
    Ledger,
    /// The external statement.
    Statement,
}

impl Side {
    /// `ledger` or `statement`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Side::Ledger => "ledger",
            Side::Statement => "statement",
        }
    }
}

/// The ids of the items on one side of a match or in a break, in canonical order. Dereferences to a slice
/// (and compares, hashes and prints as one); a single id (the common case) is held without a separate
/// allocation.
#[derive(Clone)]
pub struct Ids(IdList);

#[derive(Clone)]
enum IdList {
    One(ItemId),
    Many(Box<[ItemId]>),
}

impl Ids {
    /// One id.
    pub fn one(id: ItemId) -> Ids {
        Ids(IdList::One(id))
    }

    /// No id.
    pub fn none() -> Ids {
        Ids(IdList::Many(Box::default()))
    }
}

impl FromIterator<ItemId> for Ids {
    fn from_iter<I: IntoIterator<Item = ItemId>>(iter: I) -> Ids {
        let mut all: Vec<ItemId> = iter.into_iter().collect();
        if all.len() == 1 { Ids::one(all.pop().expect("one id")) } else { Ids(IdList::Many(all.into_boxed_slice())) }
    }
}

impl Deref for Ids {
    type Target = [ItemId];

    fn deref(&self) -> &[ItemId] {
        match &self.0 {
            IdList::One(id) => std::slice::from_ref(id),
            IdList::Many(ids) => ids,
        }
    }
}

impl PartialEq for Ids {
    fn eq(&self, other: &Ids) -> bool {
        **self == **other
    }
}

impl Eq for Ids {}

impl std::hash::Hash for Ids {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl std::fmt::Debug for Ids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a Ids {
    type Item = &'a ItemId;
    type IntoIter = std::slice::Iter<'a, ItemId>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<const N: usize> PartialEq<[&str; N]> for Ids {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.len() == N && self.iter().zip(other).all(|(a, b)| **a == **b)
    }
}

impl serde::Serialize for Ids {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(|id| &**id))
    }
}

/// Items of both sides that a rule paired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Name of the rule that matched them (shared by every match of that rule).
    pub rule: Arc<str>,
    /// Ledger item ids (one, or several for many-to-one), in canonical order.
    pub ledger: Ids,
    /// Statement item ids (one, or several for one-to-many), in canonical order.
    pub statement: Ids,
    /// Σ statement − Σ ledger, base units (non-zero only under an amount tolerance; 0 when the items' currencies
    /// differ, which only a rule without amount and currency criteria allows).
    pub difference: i128,
}

/// Why an item stayed unmatched. The codes of [`BreakClass::as_str`] are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BreakClass {
    /// A counterpart with the same amount and reference exists, dated outside every rule's window; or the item
    /// is dated after the statement period.
    TimingDifference,
    /// A counterpart with the same reference differs by at most the rounding tolerance.
    Rounding,
    /// A statement item with no ledger counterpart.
    MissingInLedger,
    /// A ledger item with no statement counterpart.
    MissingInStatement,
    /// A copy of an item on the same side that matched.
    Duplicate,
    /// A counterpart with the same reference has a different amount.
    AmountMismatch,
    /// A mint on the statement (chain) that the ledger never booked.
    UnauthorisedMint,
    /// A freeze or wipe event with no counterpart.
    FrozenOrWiped,
}

impl BreakClass {
    /// Every class, in order.
    pub const ALL: [BreakClass; 8] = [
        BreakClass::TimingDifference,
        BreakClass::Rounding,
        BreakClass::MissingInLedger,
        BreakClass::MissingInStatement,
        BreakClass::Duplicate,
        BreakClass::AmountMismatch,
        BreakClass::UnauthorisedMint,
        BreakClass::FrozenOrWiped,
    ];

    /// The stable snake_case code.
    pub fn as_str(&self) -> &'static str {
        match self {
            BreakClass::TimingDifference => "timing_difference",
            BreakClass::Rounding => "rounding",
            BreakClass::MissingInLedger => "missing_in_ledger",
            BreakClass::MissingInStatement => "missing_in_statement",
            BreakClass::Duplicate => "duplicate",
            BreakClass::AmountMismatch => "amount_mismatch",
            BreakClass::UnauthorisedMint => "unauthorised_mint",
            BreakClass::FrozenOrWiped => "frozen_or_wiped",
        }
    }
}

/// An unmatched item, classified and explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The side the item is on.
    pub side: Side,
    /// The item's id (one per break today; a list so a break can one day cover a group).
    pub ids: Ids,
    /// Why it is unmatched.
    pub class: BreakClass,
    /// A sentence for a person, naming the counterpart when there is one.
    pub explanation: String,
    /// Ids on the other side (or, for a duplicate, the same side's twin) the explanation refers to.
    pub counterpart: Ids,
}

/// The result of a run: every item in exactly one match or one break.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Matches, in canonical order of their first ledger item.
    pub matches: Vec<Match>,
    /// Breaks: ledger items first, then statement items, each side in canonical order.
    pub breaks: Vec<Break>,
}

impl Outcome {
    /// Number of breaks of `class`.
    pub fn count(&self, class: BreakClass) -> usize {
        self.breaks.iter().filter(|b| b.class == class).count()
    }

    /// Break counts per class, every class present (zero included).
    pub fn counts(&self) -> BTreeMap<BreakClass, usize> {
        let mut counts: BTreeMap<BreakClass, usize> = BreakClass::ALL.iter().map(|c| (*c, 0)).collect();
        for b in &self.breaks {
            *counts.entry(b.class).or_default() += 1;
        }
        counts
    }
}

/// One side of a match inside the engine: input positions in canonical order. One item (the common case)
/// needs no allocation.
#[derive(Debug)]
enum Members {
    One(u32),
    Many(Box<[u32]>),
}

impl Members {
    fn as_slice(&self) -> &[u32] {
        match self {
            Members::One(pos) => std::slice::from_ref(pos),
            Members::Many(positions) => positions,
        }
    }
}

/// A match inside the engine: positions, not ids.
#[derive(Debug)]
struct Paired {
    /// Index of the rule in `Rules::rules`.
    rule: u32,
    /// Canonical rank of the first ledger item: the output order.
    first_rank: u32,
    /// Σ statement − Σ ledger (0 across currencies).
    difference: i128,
    ledger: Members,
    statement: Members,
}

/// Runs `rules` over `ledger` and `statement` items and classifies what is left. Pure and deterministic.
///
/// # Panics
/// If either side has more than [`MAX_ITEMS_PER_SIDE`] items.
pub fn run(ledger: &[Item], statement: &[Item], rules: &Rules) -> Outcome {
    assert!(ledger.len() <= MAX_ITEMS_PER_SIDE && statement.len() <= MAX_ITEMS_PER_SIDE, "too many items");
    let large = ledger.len().min(statement.len()) >= parallel::PARALLEL_MIN_ITEMS;
    let ((mut ledger_side, ledger_codes), (mut statement_side, statement_codes)) =
        parallel::join(large, || prepare::Prepared::new(ledger), || prepare::Prepared::new(statement));
    let currencies = prepare::Currencies::of([&ledger_codes, &statement_codes]);
    parallel::join(
        large,
        || ledger_side.renumber_currencies(&ledger_codes, &currencies),
        || statement_side.renumber_currencies(&statement_codes, &currencies),
    );
    let sides = prepare::Sides { ledger: ledger_side, statement: statement_side };
    let mut cache = probe::DescriptionCache::default();
    let mut paired = apply_rules(&sides, rules, &currencies, &mut cache);
    // Matches come out in canonical order of their first ledger item.
    paired.sort_unstable_by_key(|p| p.first_rank);
    let ledger_match = classify::match_of(ledger.len(), &paired, Side::Ledger);
    let statement_match = classify::match_of(statement.len(), &paired, Side::Statement);
    // Classifying the leftovers and naming the matches are independent.
    let ((mut ledger_verdicts, mut statement_verdicts), matches) = parallel::join(
        large,
        || classify::classify(&sides, &paired, &ledger_match, &statement_match, rules, &mut cache),
        || name_matches(&sides, &paired, rules),
    );
    let mut breaks = Vec::new();
    for side in [Side::Ledger, Side::Statement] {
        let (prepared, verdicts) = match side {
            Side::Ledger => (&sides.ledger, &mut ledger_verdicts),
            Side::Statement => (&sides.statement, &mut statement_verdicts),
        };
        for &pos in prepared.by_rank() {
            if let Some(v) = verdicts.take(pos as usize) {
                breaks.push(Break {
                    side,
                    ids: Ids::one(prepared.item(pos).id.clone()),
                    class: v.class,
                    explanation: v.explanation,
                    counterpart: v.counterpart,
                });
            }
        }
    }
    Outcome { matches, breaks }
}

/// The matches of `paired`, naming their items.
fn name_matches(sides: &prepare::Sides, paired: &[Paired], rules: &Rules) -> Vec<Match> {
    let names: Vec<Arc<str>> = rules.rules.iter().map(|r| Arc::from(r.name.as_str())).collect();
    let ids = |side: &prepare::Prepared, members: &Members| match members {
        Members::One(pos) => Ids::one(side.item(*pos).id.clone()),
        Members::Many(positions) => positions.iter().map(|&pos| side.item(pos).id.clone()).collect(),
    };
    paired
        .iter()
        .map(|p| Match {
            rule: names[p.rule as usize].clone(),
            ledger: ids(&sides.ledger, &p.ledger),
            statement: ids(&sides.statement, &p.statement),
            difference: p.difference,
        })
        .collect()
}

/// Every rule in order, each a pass over what the previous ones left.
fn apply_rules(
    sides: &prepare::Sides,
    rules: &Rules,
    currencies: &prepare::Currencies,
    cache: &mut probe::DescriptionCache,
) -> Vec<Paired> {
    let mut taken = probe::Taken::new(sides);
    let mut paired: Vec<Paired> = Vec::new();
    for (rule_index, rule) in rules.rules.iter().enumerate() {
        let plan = probe::Plan::for_rule(rule, currencies);
        let rule_index = rule_index as u32; // ≤ MAX_RULES in a file; rules built in code are not that many either
        match rule.shape {
            Shape::OneToOne => {
                paired.extend(one_to_one::pass(sides, &plan, &mut taken, cache).into_iter().map(|a| Paired {
                    rule: rule_index,
                    first_rank: a.l_rank,
                    difference: a.difference,
                    ledger: Members::One(a.l),
                    statement: Members::One(a.s),
                }));
            }
            Shape::OneToMany | Shape::ManyToOne => {
                for g in groups::pass(sides, &plan, rule.shape, &mut taken, cache) {
                    paired.push(Paired {
                        rule: rule_index,
                        first_rank: sides.ledger.entry(g.ledger[0]).rank,
                        difference: g.difference,
                        ledger: Members::Many(g.ledger.into_boxed_slice()),
                        statement: Members::Many(g.statement.into_boxed_slice()),
                    });
                }
            }
        }
    }
    paired
}
