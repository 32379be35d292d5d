//! The statement matching engine: every break class, group shapes, tolerance edges, determinism, errors that
//! name their place, exact decimals.

use std::collections::BTreeMap;

use aurum_recon::matching::{
    BreakClass, Criterion, Ids, Item, ItemKind, LoadErrorKind, Outcome, RefMode, Rules, RulesError, Side,
    load_items_csv, parse_timestamp, run, similarity_permille,
};
use aurum_vfs::rng::SplitMix64;
use proptest::prelude::*;

const RULES: &str = r#"
[currencies]
USD = 2
XAU = 3

[classification]
rounding_tolerance_units = 1
timing_window_days = 30
duplicate_window_days = 1

[[rule]]
name = "exact"
amount = { tolerance_units = 0 }
date = { window_days = 3 }
reference = { mode = "equals" }

[[rule]]
name = "split settlement"
shape = "one_to_many"
amount = { tolerance_units = 0 }
date = { window_days = 3 }
reference = { mode = "equals" }

[[rule]]
name = "batch payout"
shape = "many_to_one"
amount = { tolerance_units = 0 }
date = { window_days = 3 }
reference = { mode = "contains" }

[[rule]]
name = "by description"
amount = { tolerance_units = 0 }
date = { window_days = 1 }
description = { min_similarity_permille = 800 }
"#;

const DAY: i64 = 86_400;

fn rules() -> Rules {
    Rules::from_toml(RULES).expect("test rules parse")
}

fn t(text: &str) -> i64 {
    parse_timestamp(text).expect("test timestamp")
}

fn item(id: &str, at_secs: i64, amount: i128, reference: &str, description: &str) -> Item {
    Item {
        id: id.into(),
        at_secs,
        amount,
        currency: "USD".into(),
        reference: reference.into(),
        description: description.into(),
        kind: ItemKind::Payment,
    }
}

fn kind(mut i: Item, kind: ItemKind) -> Item {
    i.kind = kind;
    i
}

/// The single break of `id` (panics if there is not exactly one).
fn break_of<'o>(outcome: &'o Outcome, id: &str) -> &'o aurum_recon::matching::Break {
    let found: Vec<_> = outcome.breaks.iter().filter(|b| b.ids.iter().any(|i| &**i == id)).collect();
    assert_eq!(found.len(), 1, "breaks of {id}: {found:#?}");
    found[0]
}

/// Every item appears exactly once in the outcome, on its side.
fn assert_accounted(ledger: &[Item], statement: &[Item], outcome: &Outcome) {
    let mut seen: BTreeMap<(Side, &str), usize> = BTreeMap::new();
    for m in &outcome.matches {
        assert!(!m.ledger.is_empty() && !m.statement.is_empty(), "{m:?}");
        for id in &m.ledger {
            *seen.entry((Side::Ledger, &**id)).or_default() += 1;
        }
        for id in &m.statement {
            *seen.entry((Side::Statement, &**id)).or_default() += 1;
        }
    }
    for b in &outcome.breaks {
        for id in &b.ids {
            *seen.entry((b.side, &**id)).or_default() += 1;
        }
    }
    let expected: BTreeMap<(Side, &str), usize> = ledger
        .iter()
        .map(|i| ((Side::Ledger, &*i.id), 1))
        .chain(statement.iter().map(|i| ((Side::Statement, &*i.id), 1)))
        .collect();
    assert_eq!(seen, expected);
}

fn day(n: i64) -> i64 {
    t("2026-11-01") + n * DAY
}

/// A small clean book: one-to-one lines, a split settlement, a batch payout, a line found by description.
fn clean() -> (Vec<Item>, Vec<Item>) {
    let mut ledger = Vec::new();
    let mut statement = Vec::new();
    for i in 0..20 {
        let r = format!("INV-{i:03}");
        ledger.push(item(&format!("L{i}"), day(1) + i * 600, 10_000 + i as i128, &r, "supplier payment"));
        statement.push(item(&format!("S{i}"), day(2) + i * 600, 10_000 + i as i128, &r, "SUPPLIER PAYMENT"));
    }
    ledger.push(item("L-split", day(3), 100_000, "SPLIT-1", "bar purchase"));
    statement.push(item("S-split-a", day(3) + 3600, 60_000, "SPLIT-1", "bar purchase part 1"));
    statement.push(item("S-split-b", day(4), 40_000, "SPLIT-1", "bar purchase part 2"));
    ledger.push(item("L-pay-1", day(5), -12_345, "PAY-1", "payout"));
    ledger.push(item("L-pay-2", day(5), -54_321, "PAY-2", "payout"));
    statement.push(item("S-batch", day(6), -66_666, "BATCH PAY-1 PAY-2", "batch payout"));
    ledger.push(item("L-desc", day(7), 777, "ORD-77", "ACME Corp monthly fee"));
    statement.push(item("S-desc", day(7) + 600, 777, "", "monthly fee ACME CORP"));
    (ledger, statement)
}

#[test]
fn clean_data_matches_everything_and_breaks_nothing() {
    let (ledger, statement) = clean();
    let outcome = run(&ledger, &statement, &rules());
    assert!(outcome.breaks.is_empty(), "{:#?}", outcome.breaks);
    assert_accounted(&ledger, &statement, &outcome);
    assert_eq!(outcome.matches.len(), 23);
    let by_rule = |name: &str| outcome.matches.iter().filter(|m| &*m.rule == name).count();
    assert_eq!(
        (by_rule("exact"), by_rule("split settlement"), by_rule("batch payout"), by_rule("by description")),
        (20, 1, 1, 1)
    );
    assert!(outcome.matches.iter().all(|m| m.difference == 0));
}

#[test]
fn one_to_many_picks_the_lines_that_sum() {
    let (ledger, mut statement) = clean();
    // A third line with the same reference that does not belong: the whole set does not sum, a subset does.
    statement.push(item("S-split-stray", day(3) + 7200, 25_000, "SPLIT-1", "bar purchase part 3"));
    let outcome = run(&ledger, &statement, &rules());
    let m = outcome.matches.iter().find(|m| &*m.rule == "split settlement").expect("split matched");
    assert_eq!(m.ledger, ["L-split"]);
    assert_eq!(m.statement, ["S-split-a", "S-split-b"]);
    assert_eq!(break_of(&outcome, "S-split-stray").class, BreakClass::MissingInLedger);
    assert_accounted(&ledger, &statement, &outcome);
}

#[test]
fn many_to_one_groups_ledger_items_named_in_one_line() {
    let (ledger, statement) = clean();
    let outcome = run(&ledger, &statement, &rules());
    let m = outcome.matches.iter().find(|m| &*m.rule == "batch payout").expect("batch matched");
    assert_eq!(m.ledger, ["L-pay-1", "L-pay-2"]);
    assert_eq!(m.statement, ["S-batch"]);
    // Id lists print, serialise and compare as lists of strings, one id or many.
    assert_eq!(format!("{:?} {:?}", m.ledger, m.statement), r#"["L-pay-1", "L-pay-2"] ["S-batch"]"#);
    assert_eq!(serde_json::to_value(&m.ledger).unwrap(), serde_json::json!(["L-pay-1", "L-pay-2"]));
    assert_eq!(serde_json::to_value(&m.statement).unwrap(), serde_json::json!(["S-batch"]));
    assert_eq!(serde_json::to_value(Ids::none()).unwrap(), serde_json::json!([]));
    assert_eq!(m.statement, Ids::from_iter(["S-batch".into()]));
    assert_eq!(m.statement, Ids::one("S-batch".into()));
}

#[test]
fn timing_difference_names_the_counterpart() {
    let ledger = vec![item("L1", day(1), 5_000, "TX-1", "wire")];
    let statement = vec![item("S1", day(10), 5_000, "TX-1", "wire")];
    let outcome = run(&ledger, &statement, &rules());
    assert!(outcome.matches.is_empty());
    let (l, s) = (break_of(&outcome, "L1"), break_of(&outcome, "S1"));
    assert_eq!((l.class, s.class), (BreakClass::TimingDifference, BreakClass::TimingDifference));
    assert_eq!((l.counterpart.clone(), s.counterpart.clone()), (Ids::one("S1".into()), Ids::one("L1".into())));
    assert!(l.explanation.contains("S1") && l.explanation.contains("9d"), "{}", l.explanation);
    assert_eq!(BreakClass::TimingDifference.as_str(), "timing_difference");
}

#[test]
fn items_after_the_statement_period_are_timing_differences() {
    let mut r = rules();
    r.classification.period_end = Some(day(5));
    let ledger = vec![item("L1", day(1), 100, "A", "x"), item("L-late", day(6), 200, "B", "in transit")];
    let statement = vec![item("S1", day(1), 100, "A", "x")];
    let outcome = run(&ledger, &statement, &r);
    let late = break_of(&outcome, "L-late");
    assert_eq!(late.class, BreakClass::TimingDifference);
    assert!(late.explanation.contains("after the statement period"), "{}", late.explanation);
    // Without a configured end, the last statement line's date is the end.
    let outcome = run(&ledger, &statement, &rules());
    assert_eq!(break_of(&outcome, "L-late").class, BreakClass::TimingDifference);
}

#[test]
fn rounding_within_the_tolerance_mismatch_beyond() {
    let ledger = vec![item("L1", day(1), 10_000, "R1", "fx"), item("L2", day(1), 20_000, "R2", "fx")];
    let statement = vec![item("S1", day(1), 10_001, "R1", "fx"), item("S2", day(1), 20_002, "R2", "fx")];
    let outcome = run(&ledger, &statement, &rules());
    assert_eq!(break_of(&outcome, "L1").class, BreakClass::Rounding);
    assert_eq!(break_of(&outcome, "S1").class, BreakClass::Rounding);
    assert_eq!(break_of(&outcome, "S1").counterpart, ["L1"]);
    assert_eq!(break_of(&outcome, "L2").class, BreakClass::AmountMismatch);
    assert_eq!(break_of(&outcome, "S2").class, BreakClass::AmountMismatch);
    assert!(break_of(&outcome, "S2").explanation.contains("0.02 USD"), "{}", break_of(&outcome, "S2").explanation);
    // Rounding off: the 1-unit difference is a mismatch too.
    let mut r = rules();
    r.classification.rounding_tolerance = 0;
    assert_eq!(break_of(&run(&ledger, &statement, &r), "L1").class, BreakClass::AmountMismatch);
}

#[test]
fn amount_mismatch_lists_every_line_with_the_reference() {
    let ledger = vec![item("L1", day(1), 100_000, "SPLIT-9", "bars")];
    let statement = vec![item("S1", day(1), 60_000, "SPLIT-9", "bars"), item("S2", day(2), 30_000, "SPLIT-9", "bars")];
    let outcome = run(&ledger, &statement, &rules());
    let l = break_of(&outcome, "L1");
    assert_eq!(l.class, BreakClass::AmountMismatch);
    assert_eq!(l.counterpart, ["S1", "S2"]);
    assert!(l.explanation.contains("900.00 USD") && l.explanation.contains("-100.00 USD"), "{}", l.explanation);
    assert_eq!(break_of(&outcome, "S1").class, BreakClass::AmountMismatch);
}

#[test]
fn missing_on_either_side() {
    let ledger = vec![item("L1", day(1), 100, "A", "x"), item("L-only", day(1), 999, "NOPE", "lost")];
    let statement = vec![item("S1", day(1), 100, "A", "x"), item("S-only", day(1), 555, "FEE", "bank fee")];
    let outcome = run(&ledger, &statement, &rules());
    assert_eq!(break_of(&outcome, "L-only").class, BreakClass::MissingInStatement);
    assert_eq!(break_of(&outcome, "S-only").class, BreakClass::MissingInLedger);
    assert_eq!(break_of(&outcome, "S-only").side, Side::Statement);
    assert!(break_of(&outcome, "S-only").counterpart.is_empty());
}

#[test]
fn duplicates_on_either_side_name_their_matched_twin() {
    let ledger = vec![
        item("L1", day(1), 100, "A", "rent"),
        item("L2", day(1), 300, "B", "fee"),
        item("L2-again", day(1) + 60, 300, "b", "FEE"), // booked twice
    ];
    let statement = vec![
        item("S1", day(1), 100, "A", "rent"),
        item("S1-copy", day(1) + 3600, 100, "A", "rent"), // imported twice
        item("S1-far", day(9), 100, "A", "rent"),         // beyond the 1-day duplicate window
        item("S2", day(1), 300, "B", "fee"),
    ];
    let outcome = run(&ledger, &statement, &rules());
    let copy = break_of(&outcome, "S1-copy");
    assert_eq!(copy.class, BreakClass::Duplicate);
    assert_eq!(copy.counterpart, ["S1"]);
    assert!(copy.explanation.contains("matched ledger transfer L1 under rule \"exact\""), "{}", copy.explanation);
    let again = break_of(&outcome, "L2-again");
    assert_eq!((again.class, again.side), (BreakClass::Duplicate, Side::Ledger));
    assert_eq!(again.counterpart, ["L2"]);
    assert_eq!(break_of(&outcome, "S1-far").class, BreakClass::MissingInLedger);
    assert_eq!(BreakClass::Duplicate.as_str(), "duplicate");
}

#[test]
fn unbooked_mints_are_unauthorised_booked_ones_match() {
    let ledger = vec![kind(item("L-mint", day(1), 1_000, "0xabc:1", "mint"), ItemKind::Mint)];
    let statement = vec![
        kind(item("E-mint", day(1), 1_000, "0xABC:1", "mint"), ItemKind::Mint),
        kind(item("E-rogue", day(2), 50_000, "0xdef:7", "mint"), ItemKind::Mint),
    ];
    let outcome = run(&ledger, &statement, &rules());
    assert_eq!(outcome.matches.len(), 1);
    let rogue = break_of(&outcome, "E-rogue");
    assert_eq!(rogue.class, BreakClass::UnauthorisedMint);
    assert!(rogue.explanation.contains("500.00 USD"), "{}", rogue.explanation);
    assert_eq!(BreakClass::UnauthorisedMint.as_str(), "unauthorised_mint");
}

#[test]
fn unbooked_freezes_and_wipes_are_flagged() {
    let ledger = vec![item("L1", day(1), 100, "A", "x")];
    let statement = vec![
        item("S1", day(1), 100, "A", "x"),
        kind(item("E-freeze", day(2), 0, "0xf:1", "freeze 0xdead"), ItemKind::Freeze),
        kind(item("E-wipe", day(2), -7_000, "0xf:2", "wipe 0xdead"), ItemKind::Wipe),
    ];
    let outcome = run(&ledger, &statement, &rules());
    assert_eq!(break_of(&outcome, "E-freeze").class, BreakClass::FrozenOrWiped);
    assert_eq!(break_of(&outcome, "E-wipe").class, BreakClass::FrozenOrWiped);
    assert!(break_of(&outcome, "E-wipe").explanation.contains("wipe"));
}

#[test]
fn amount_tolerance_edges() {
    let text = r#"
        [currencies]
        USD = 2
        [classification]
        rounding_tolerance_units = 0
        [[rule]]
        name = "fees"
        only_currency = "USD"
        amount = { tolerance = "0.05" }
        reference = { mode = "equals" }
    "#;
    let r = Rules::from_toml(text).unwrap();
    assert_eq!(r.rules[0].criteria[0], Criterion::Amount { tolerance: 5 });
    let ledger = vec![item("L-in", day(1), 10_000, "A", ""), item("L-out", day(1), 10_000, "B", "")];
    let statement = vec![item("S-in", day(1), 9_995, "A", ""), item("S-out", day(1), 10_006, "B", "")];
    let outcome = run(&ledger, &statement, &r);
    assert_eq!(outcome.matches.len(), 1);
    assert_eq!((&*outcome.matches[0].ledger[0], outcome.matches[0].difference), ("L-in", -5));
    assert_eq!(break_of(&outcome, "S-out").class, BreakClass::AmountMismatch);
}

#[test]
fn date_window_edges() {
    let ledger = vec![item("L-in", day(1), 100, "A", ""), item("L-out", day(1), 200, "B", "")];
    let statement = vec![item("S-in", day(4), 100, "A", ""), item("S-out", day(4) + 1, 200, "B", "")];
    let outcome = run(&ledger, &statement, &rules());
    assert_eq!(outcome.matches.len(), 1);
    assert_eq!(outcome.matches[0].statement, ["S-in"]);
    assert_eq!(break_of(&outcome, "S-out").class, BreakClass::TimingDifference);
}

#[test]
fn similarity_edges() {
    let (a, b) = ("Wire ACME Ltd invoice 42", "ACME Limited wire inv 42");
    let score = similarity_permille(a, b);
    assert!(score > 0 && score < 1000);
    let rules_at = |min: u16| {
        Rules::from_toml(&format!(
            "[[rule]]\nname = \"d\"\namount = {{ tolerance_units = 0 }}\ndescription = {{ min_similarity_permille = {min} }}"
        ))
        .unwrap()
    };
    let ledger = vec![item("L", day(1), 100, "", a)];
    let statement = vec![item("S", day(1), 100, "", b)];
    assert_eq!(run(&ledger, &statement, &rules_at(score)).matches.len(), 1);
    let outcome = run(&ledger, &statement, &rules_at(score + 1));
    assert!(outcome.matches.is_empty());
    // Same amount, both without reference, same day: a timing pair (the rule failed on the description only).
    assert_eq!(break_of(&outcome, "S").counterpart, ["L"]);
}

#[test]
fn reference_modes_are_case_insensitive_and_directional() {
    let mode_rules = |mode: &str| {
        Rules::from_toml(&format!(
            "[[rule]]\nname = \"r\"\namount = {{ tolerance_units = 0 }}\nreference = {{ mode = \"{mode}\" }}"
        ))
        .unwrap()
    };
    let ledger = vec![item("L", day(1), 100, " inv-7 ", "")];
    let matched = |stmt_ref: &str, mode: &str| {
        !run(&ledger, &[item("S", day(1), 100, stmt_ref, "")], &mode_rules(mode)).matches.is_empty()
    };
    assert!(matched("INV-7", "equals"));
    assert!(!matched("INV-77", "equals"));
    assert!(matched("INV-7/2026 acme", "prefix"));
    assert!(!matched("ref INV-7", "prefix"));
    assert!(matched("ref Inv-7 acme", "contains"));
    assert!(!matched("INV7", "contains"));
    assert_eq!(mode_rules("contains").rules[0].reference_mode(), Some(RefMode::Contains));
    // An empty reference never matches by reference.
    let empty = vec![item("L", day(1), 100, "", "")];
    assert!(run(&empty, &[item("S", day(1), 100, "", "")], &mode_rules("equals")).matches.is_empty());
}

#[test]
fn currencies_never_mix_under_an_amount_rule() {
    let mut gold = item("S", day(1), 100, "A", "");
    gold.currency = "XAU".into();
    let outcome = run(&[item("L", day(1), 100, "A", "")], &[gold], &rules());
    assert!(outcome.matches.is_empty());
    let r = Rules::from_toml(
        "[currencies]\nUSD = 2\n[[rule]]\nname = \"usd only\"\nonly_currency = \"USD\"\nreference = {}\n",
    )
    .unwrap();
    let mut l = item("L", day(1), 100, "A", "");
    l.currency = "XAU".into();
    assert!(run(&[l], &[item("S", day(1), 100, "A", "")], &r).matches.is_empty());
}

#[test]
fn exact_decimals_point_one_plus_point_two_is_point_three() {
    let scales: BTreeMap<String, u8> = [("USD".to_string(), 2)].into();
    let ledger = load_items_csv(
        "id,date,amount,currency,reference,description\n\
         L1,2026-11-02,0.1,USD,PAY-A,a\n\
         L2,2026-11-02,0.20,USD,PAY-B,b\n",
        &scales,
    )
    .unwrap();
    let statement = load_items_csv(
        "id,date,amount,currency,reference,description\nS1,2026-11-02T09:00:00Z,0.3,USD,PAY-A PAY-B,ab\n",
        &scales,
    )
    .unwrap();
    assert_eq!((ledger[0].amount, ledger[1].amount, statement[0].amount), (10, 20, 30));
    let outcome = run(&ledger, &statement, &rules());
    assert_eq!(outcome.matches.len(), 1, "{outcome:#?}");
    assert_eq!(outcome.matches[0].difference, 0);
    // More decimals than the scale is refused, not rounded.
    let e = load_items_csv("id,date,amount,currency,reference,description\nL1,2026-11-02,0.301,USD,,\n", &scales)
        .unwrap_err();
    assert_eq!((e.line, e.column), (2, 3));
    assert!(e.to_string().contains("decimal places"), "{e}");
}

#[test]
fn csv_loads_kinds_signs_and_timestamps() {
    let scales: BTreeMap<String, u8> = [("USD".to_string(), 2), ("XAU".to_string(), 3)].into();
    let items = load_items_csv(
        "ID,Date,Amount,Currency,Reference,Description,Kind,extra\n\
         a,2026-11-02T10:00:00+01:00,-12.5,USD,\"R,1\",\"say \"\"hi\"\"\",,ignored\n\
         b,2026-11-02,1.234,XAU,0xabc,mint,Mint,\n",
        &scales,
    )
    .unwrap();
    assert_eq!(items[0].amount, -1250);
    assert_eq!(items[0].at_secs, t("2026-11-02T09:00:00Z"));
    assert_eq!(items[0].reference, "R,1");
    assert_eq!(items[0].kind, ItemKind::Payment);
    assert_eq!((items[1].amount, items[1].kind), (1234, ItemKind::Mint));
}

#[test]
fn csv_errors_name_line_and_column() {
    let scales: BTreeMap<String, u8> = [("USD".to_string(), 2)].into();
    let head = "id,date,amount,currency,reference,description,kind\n";
    let cases: [(&str, (usize, usize), &str); 7] = [
        ("a,2026-11-02,1.00,USD,r,d,payment\nb,2026-11-31,1,USD,r,d,\n", (3, 2), "day out of range"),
        ("a,2026-11-02,1.00,EUR,r,d,\n", (2, 4), "unknown currency \"EUR\""),
        ("a,2026-11-02,1e3,USD,r,d,\n", (2, 3), "not a plain decimal"),
        ("a,2026-11-02,+1,USD,r,d,\n", (2, 3), "not a plain decimal"),
        ("a,2026-11-02,1,USD,r,d,airdrop\n", (2, 7), "kind \"airdrop\""),
        (" ,2026-11-02,1,USD,r,d,\n", (2, 1), "id is empty"),
        ("a,2026-11-02,1,USD,r\n", (2, 6), "fields"),
    ];
    for (body, place, reason) in cases {
        let e = load_items_csv(&format!("{head}{body}"), &scales).unwrap_err();
        assert_eq!((e.line, e.column), place, "{body:?}: {e}");
        assert!(e.to_string().contains(reason), "{body:?}: {e}");
    }
    let e = load_items_csv("id,date,amount\n", &scales).unwrap_err();
    assert!(e.to_string().contains("\"currency\""), "{e}");
    assert_eq!(load_items_csv("", &scales).unwrap_err().kind, LoadErrorKind::Empty);
    let long = "r".repeat(300);
    let e = load_items_csv(&format!("{head}a,2026-11-02,1,USD,{long},d,\n"), &scales).unwrap_err();
    assert_eq!((e.line, e.column), (2, 5));
}

#[test]
fn rules_errors_name_rule_criterion_and_field() {
    let rule_error = |text: &str| match Rules::from_toml(text) {
        Err(RulesError::Rule { rule, field, reason }) => (rule, field, reason),
        other => panic!("{text}: {other:?}"),
    };
    let (rule, field, reason) = rule_error("[[rule]]\nname = \"fx\"\namount = { tolerance = \"0.05\" }\n");
    assert_eq!((rule.as_str(), field.as_str()), ("\"fx\"", "amount.tolerance"));
    assert!(reason.contains("only_currency"), "{reason}");
    let (_, field, reason) = rule_error(
        "[currencies]\nUSD = 2\n[[rule]]\nname = \"fx\"\nonly_currency = \"USD\"\namount = { tolerance = \"0.005\" }\n",
    );
    assert_eq!(field, "amount.tolerance");
    assert!(reason.contains("decimal places"), "{reason}");
    let (_, field, _) = rule_error("[[rule]]\nname = \"a\"\ndate = { window_weeks = 1 }\n");
    assert_eq!(field, "date.window_weeks");
    let (_, field, _) = rule_error("[[rule]]\nname = \"a\"\nreference = { mode = \"like\" }\n");
    assert_eq!(field, "reference.mode");
    let (_, field, _) = rule_error("[[rule]]\nname = \"a\"\ndescription = { min_similarity_permille = 1001 }\n");
    assert_eq!(field, "description.min_similarity_permille");
    let (_, field, reason) = rule_error("[[rule]]\nname = \"a\"\ndescription = { min_similarity_permille = 900 }\n");
    assert_eq!(field, "criteria");
    assert!(reason.contains("cannot find candidates"), "{reason}");
    let (_, field, reason) = rule_error("[[rule]]\nname = \"g\"\nshape = \"one_to_many\"\nreference = {}\n");
    assert_eq!(field, "shape");
    assert!(reason.contains("must sum"), "{reason}");
    let (rule, field, _) = rule_error("[[rule]]\nshape = \"one_to_one\"\n");
    assert_eq!((rule.as_str(), field.as_str()), ("#1", "name"));
    let (rule, field, _) =
        rule_error("[[rule]]\nname = \"a\"\nreference = {}\n[[rule]]\nname = \"a\"\nreference = {}\n");
    assert_eq!((rule.as_str(), field.as_str()), ("\"a\"", "name"));
    let (_, field, _) = rule_error("[[rule]]\nname = \"a\"\nreference = {}\nshape = \"one_to_all\"\n");
    assert_eq!(field, "shape");
    let (_, field, _) = rule_error("[[rule]]\nname = \"a\"\nreference = {}\nweight = 3\n");
    assert_eq!(field, "weight");

    match Rules::from_toml("[classification]\ntiming_window_days = -1\n[[rule]]\nname = \"a\"\nreference = {}\n") {
        Err(RulesError::Field { field, .. }) => assert_eq!(field, "classification.timing_window_days"),
        other => panic!("{other:?}"),
    }
    match Rules::from_toml("[currencies]\nUSD = 19\n") {
        Err(RulesError::Field { field, .. }) => assert_eq!(field, "currencies.USD"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(Rules::from_toml("[currencies]\n"), Err(RulesError::Field { field, .. }) if field == "rule"));
    let e = Rules::from_toml("[[rule]]\nname = \"a\n").unwrap_err();
    assert!(matches!(e, RulesError::Syntax(_)) && e.to_string().contains("line 2"), "{e}");
}

/// A varied book with every break class, several items per key, and identical twins.
fn varied(seed: u64, n: usize) -> (Vec<Item>, Vec<Item>) {
    let mut rng = SplitMix64::new(seed);
    let mut ledger = Vec::new();
    let mut statement = Vec::new();
    for i in 0..n {
        let amount = 100 + rng.below(50) as i128; // few amounts: many ties
        let at = day(1) + rng.below(20 * DAY as u64) as i64;
        let r = format!("R{}", rng.below(n as u64 / 2 + 1)); // shared references
        ledger.push(item(&format!("L{i}"), at, amount, &r, "payment"));
        match rng.below(10) {
            0 => {}                                                                           // missing in statement
            1 => statement.push(item(&format!("S{i}"), at + 9 * DAY, amount, &r, "payment")), // timing
            2 => statement.push(item(&format!("S{i}"), at, amount + 1, &r, "payment")),       // rounding
            3 => {
                statement.push(item(&format!("S{i}"), at, amount, &r, "payment"));
                statement.push(item(&format!("S{i}b"), at, amount, &r, "payment")); // duplicate
            }
            4 => statement.push(kind(item(&format!("S{i}"), at, amount, "0xm", "mint"), ItemKind::Mint)),
            _ => statement.push(item(&format!("S{i}"), at + rng.below(DAY as u64) as i64, amount, &r, "payment")),
        }
    }
    (ledger, statement)
}

fn shuffle(items: &mut [Item], rng: &mut SplitMix64) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i as u64 + 1) as usize);
    }
}

#[test]
fn shuffled_inputs_give_the_identical_outcome() {
    let (mut ledger, mut statement) = varied(7, 2_000);
    // Exact copies (same id and all) must not make the outcome depend on order either.
    ledger.push(ledger[5].clone());
    statement.push(statement[9].clone());
    let r = rules();
    let first = run(&ledger, &statement, &r);
    assert!(first.breaks.len() > 100 && first.matches.len() > 1000);
    let mut rng = SplitMix64::new(99);
    for _ in 0..3 {
        shuffle(&mut ledger, &mut rng);
        shuffle(&mut statement, &mut rng);
        assert_eq!(run(&ledger, &statement, &r), first);
    }
    for class in [
        BreakClass::TimingDifference,
        BreakClass::Rounding,
        BreakClass::Duplicate,
        BreakClass::MissingInStatement,
        BreakClass::UnauthorisedMint,
    ] {
        assert!(first.count(class) > 0, "{class:?}: {:?}", first.counts());
    }
}

#[test]
fn the_amount_criterion_keeps_signs_apart_and_groups_never_mix_signs() {
    let ledger = vec![item("L", day(1), 100_000, "G", "")];
    let statement = vec![item("S1", day(1), 150_000, "G", ""), item("S2", day(1), -50_000, "G", "")];
    let outcome = run(&ledger, &statement, &rules());
    assert!(outcome.matches.is_empty(), "{outcome:#?}");
}

fn arb_item(prefix: &'static str) -> impl Strategy<Value = (i64, i128, u8, u8, u8)> {
    let _ = prefix;
    (0i64..6, -3i128..6, 0u8..4, 0u8..3, 0u8..5)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_item_appears_exactly_once(
        ledger_spec in proptest::collection::vec(arb_item("L"), 0..40),
        statement_spec in proptest::collection::vec(arb_item("S"), 0..40),
    ) {
        let refs = ["", "A", "B", "A B"];
        let descs = ["fee", "acme fee", "other"];
        let kinds = ItemKind::ALL;
        let build = |prefix: &str, spec: &[(i64, i128, u8, u8, u8)]| -> Vec<Item> {
            spec.iter().enumerate().map(|(i, &(d, amount, r, desc, k))| Item {
                id: format!("{prefix}{i}").into(),
                at_secs: day(d),
                amount: amount * 100,
                currency: "USD".into(),
                reference: refs[r as usize].into(),
                description: descs[desc as usize].into(),
                kind: kinds[k as usize],
            }).collect()
        };
        let (ledger, statement) = (build("L", &ledger_spec), build("S", &statement_spec));
        let outcome = run(&ledger, &statement, &rules());
        assert_accounted(&ledger, &statement, &outcome);
        let mut reversed = (ledger.clone(), statement.clone());
        reversed.0.reverse();
        reversed.1.reverse();
        prop_assert_eq!(run(&reversed.0, &reversed.1, &rules()), outcome);
    }
}

#[test]
fn hundreds_of_identical_candidates_all_pair_up() {
    // Every line fits every transfer: each probe keeps only MAX_CANDIDATES_PER_ITEM candidates, so the pass runs
    // more rounds until all are paired.
    let n = 300;
    let ledger: Vec<Item> = (0..n).map(|i| item(&format!("L{i:03}"), day(1), 500, "SAME", "x")).collect();
    let statement: Vec<Item> = (0..n).map(|i| item(&format!("S{i:03}"), day(1), 500, "SAME", "x")).collect();
    let outcome = run(&ledger, &statement, &rules());
    assert!(outcome.breaks.is_empty(), "{:?}", outcome.counts());
    assert_eq!(outcome.matches.len(), n);
    // Ties go by canonical order: L000 with S000, and so on.
    assert!(outcome.matches.iter().all(|m| m.ledger[0][1..] == m.statement[0][1..]), "{:?}", &outcome.matches[..3]);
}

#[test]
fn large_inputs_take_the_two_thread_paths_and_stay_deterministic() {
    // Above the engine's parallel threshold (50,000 items per side) preparation, probing, naming the
    // matches and classification run on two threads; the outcome must not notice.
    let (mut ledger, mut statement) = varied(11, 60_000);
    let r = rules();
    let first = run(&ledger, &statement, &r);
    assert_accounted(&ledger, &statement, &first);
    let mut rng = SplitMix64::new(5);
    shuffle(&mut ledger, &mut rng);
    shuffle(&mut statement, &mut rng);
    assert_eq!(run(&ledger, &statement, &r), first);
}

#[test]
fn the_documented_rules_file_parses() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/matching.md")).expect("docs");
    let start = doc.find("```toml\n").expect("a toml example") + "```toml\n".len();
    let end = start + doc[start..].find("```").expect("closed");
    let rules = Rules::from_toml(&doc[start..end]).expect("the example in docs/matching.md parses");
    assert_eq!(rules.rules.len(), 5);
    assert_eq!(rules.rules[1].amount_tolerance(), Some(5));
    assert_eq!(rules.rules[1].reference_mode(), Some(RefMode::Prefix));
}
