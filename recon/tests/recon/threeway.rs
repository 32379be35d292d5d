//! Three-way reconciliation: clean data reports nothing; each injected break is detected and classified; explained
//! differences (in-flight, frozen, wiped, rounding) are kept apart from breaks; the reports name what they ran on.

use std::collections::{BTreeMap, BTreeSet};

use aurum_recon::barlist::{self, BarList};
use aurum_recon::report;
use aurum_recon::threeway::{ChainView, Class, Inputs, LedgerView, ThreeWay, UNITS_PER_MILLI_OZ, reconcile};

const OZ: i128 = 1_000_000_000_000_000_000;

const BARS: &str = "refiner,serial,year,gross_oz,assay,fine_oz,vault,status,allocation
Valcambi SA,VS-2024-011871,2024,400.125,999.9,400.084,LDN-1,allocated,Aurum Gold program
PAMP SA,PA-2023-882140,2023,398.470,999.9,398.430,LDN-1,allocated,Aurum Gold program
Argor-Heraeus SA,AH-2024-377215,2024,402.910,999.9,402.869,LDN-1,allocated,Aurum Gold program
Metalor Technologies SA,MT-2022-140903,2022,395.662,999.5,395.464,LDN-1,allocated,Aurum Gold program
Heraeus Metals,HM-2024-560018,2024,401.034,999.9,400.993,LDN-1,allocated,Aurum Gold program
Heraeus Metals,HM-2024-560019,2024,401.034,999.9,400.993,LDN-1,unallocated,Aurum Gold program
";
/// Σ fine weight of the five allocated bars: 1997.840 oz.
const BARS_FINE: i128 = 1_997_840 * UNITS_PER_MILLI_OZ as i128;

fn addr(n: u8) -> String {
    format!("0x{:040x}", n)
}

/// A consistent program: 1997.840 oz of bars; 405 oz on chain (alice 250, bob 110, dave 45); 625 oz in custody.
fn clean() -> (BarList, ChainView, LedgerView) {
    let bars = barlist::parse(BARS.as_bytes()).unwrap();
    let holders: BTreeMap<String, u128> =
        [(addr(1), 250), (addr(2), 110), (addr(4), 45)].into_iter().map(|(a, n)| (a, n * OZ as u128)).collect();
    let chain = ChainView {
        chain_id: 31337,
        block: 25,
        token: addr(9),
        supply: 405 * OZ as u128,
        holders: holders.clone(),
        frozen: BTreeSet::new(),
        treasury: BTreeSet::new(),
        reserve_attested: Some(BARS_FINE as u128),
    };
    let ledger = LedgerView {
        journal_seq: 40,
        vault: BARS_FINE,
        custody: 625 * OZ,
        wallets: holders.into_iter().map(|(a, v)| (a, v as i128)).collect(),
        mint_clearing: 0,
        redemption_clearing: 0,
        wiped: 0,
        inventory: BARS_FINE - 625 * OZ - 405 * OZ,
    };
    (bars, chain, ledger)
}

fn run(bars: &BarList, chain: ChainView, ledger: LedgerView) -> ThreeWay {
    reconcile(&Inputs {
        bars,
        bar_list_file: "bars.csv".into(),
        allocation: Some("Aurum Gold program".into()),
        chain,
        ledger,
    })
}

/// The (class, explained) of every finding about `subject`.
fn about(r: &ThreeWay, subject: &str) -> Vec<(Class, bool)> {
    r.findings.iter().filter(|f| f.subject.starts_with(subject)).map(|f| (f.class, f.explained)).collect()
}

#[test]
fn clean_data_reports_no_findings() {
    let (bars, chain, ledger) = clean();
    let r = run(&bars, chain, ledger);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert_eq!(r.summary.breaks, 0);
    assert_eq!(r.summary.bars, 6);
    assert_eq!(r.summary.bars_backing, 5, "the unallocated bar does not back the token");
    assert_eq!(r.summary.bars_fine, BARS_FINE);
    assert_eq!(r.summary.ledger_liabilities, 1030 * OZ);
}

#[test]
fn each_injected_break_is_detected_and_classified() {
    // A bar listed twice.
    let (_, chain, ledger) = clean();
    let dup = format!("{BARS}PAMP SA,PA-2023-882140,2023,398.470,999.9,398.430,LDN-1,allocated,Aurum Gold program\n");
    let r = run(&barlist::parse(dup.as_bytes()).unwrap(), chain, ledger);
    assert_eq!(about(&r, "bar PAMP SA PA-2023-882140"), [(Class::Duplicate, false)]);
    assert_eq!(r.summary.bars_fine, BARS_FINE, "a duplicate is counted once");
    assert_eq!(r.summary.breaks, 1);

    // A fine weight off by 0.001 oz (rounded up): explained rounding, but the vault no longer equals the ledger.
    let (_, chain, ledger) = clean();
    let rounded = BARS.replace("400.084", "400.085");
    let r = run(&barlist::parse(rounded.as_bytes()).unwrap(), chain, ledger);
    assert_eq!(about(&r, "bar Valcambi"), [(Class::Rounding, true)]);
    assert_eq!(about(&r, "vault"), [(Class::AmountMismatch, false)]);

    // A fine weight that is simply wrong.
    let (_, chain, ledger) = clean();
    let wrong = BARS.replace("398.430", "388.430");
    let r = run(&barlist::parse(wrong.as_bytes()).unwrap(), chain, ledger);
    assert!(about(&r, "bar PAMP SA").contains(&(Class::AmountMismatch, false)));

    // A wallet the ledger mirrors wrongly, one it does not know, and one the chain does not show.
    let (bars, mut chain, mut ledger) = clean();
    *ledger.wallets.get_mut(&addr(2)).unwrap() -= OZ;
    chain.holders.insert(addr(5), 3 * OZ as u128);
    chain.supply += 3 * OZ as u128;
    ledger.wallets.insert(addr(6), 7 * OZ);
    let r = run(&bars, chain, ledger);
    assert_eq!(about(&r, &format!("wallet {}", addr(2))), [(Class::AmountMismatch, false)]);
    assert_eq!(about(&r, &format!("wallet {}", addr(5))), [(Class::MissingInLedger, false)]);
    assert_eq!(about(&r, &format!("wallet {}", addr(6))), [(Class::MissingOnChain, false)]);

    // A mint nobody booked: mint clearing in debit.
    let (bars, chain, mut ledger) = clean();
    ledger.mint_clearing = -10 * OZ;
    let r = run(&bars, chain, ledger);
    assert_eq!(about(&r, "mint clearing"), [(Class::UnauthorisedMint, false)]);

    // The reserve attested above the bars.
    let (bars, mut chain, ledger) = clean();
    chain.reserve_attested = Some(BARS_FINE as u128 + OZ as u128);
    let r = run(&bars, chain, ledger);
    assert_eq!(about(&r, "reserve feed"), [(Class::ReserveMismatch, false)]);

    // More owed than the bars hold.
    let (bars, chain, mut ledger) = clean();
    ledger.custody += 2_000 * OZ;
    let r = run(&bars, chain, ledger);
    assert_eq!(about(&r, "reserve coverage"), [(Class::UnderReserved, false)]);

    // A supply that the holders do not add up to (events missing from the index).
    let (bars, mut chain, ledger) = clean();
    chain.supply += 1;
    let r = run(&bars, chain, ledger);
    assert_eq!(about(&r, "token supply"), [(Class::AmountMismatch, false)]);

    // Settled more redemptions than were burned.
    let (bars, chain, mut ledger) = clean();
    ledger.redemption_clearing = -OZ;
    let r = run(&bars, chain, ledger);
    assert_eq!(about(&r, "redemption clearing"), [(Class::AmountMismatch, false)]);
}

#[test]
fn in_flight_frozen_and_wiped_are_explained_not_breaks() {
    let (bars, mut chain, mut ledger) = clean();
    chain.frozen.insert(addr(4));
    ledger.mint_clearing = 20 * OZ; // booked withdrawals, mints not final yet
    ledger.custody -= 20 * OZ;
    ledger.redemption_clearing = 5 * OZ; // burned, not settled
    ledger.wiped = 12 * OZ;
    ledger.custody -= 17 * OZ;
    chain.treasury.insert(addr(1));
    let r = run(&bars, chain, ledger);
    assert_eq!(r.summary.breaks, 0, "{:#?}", r.findings);
    assert_eq!(about(&r, "mint clearing"), [(Class::InFlightMint, true)]);
    assert_eq!(about(&r, "redemption clearing"), [(Class::InFlightRedemption, true)]);
    assert_eq!(about(&r, "wiped"), [(Class::FrozenOrWiped, true)]);
    assert_eq!(about(&r, &format!("wallet {}", addr(4))), [(Class::FrozenOrWiped, true)]);
    assert_eq!(r.summary.in_flight_mints, 20 * OZ);
    assert_eq!(r.summary.treasury, 250 * OZ);
}

#[test]
fn reports_name_what_they_ran_on_and_render_every_finding() {
    let (bars, chain, mut ledger) = clean();
    ledger.mint_clearing = -OZ / 2;
    let r = run(&bars, chain, ledger);
    let json = report::json(&r, "2026-11-26T09:00:00Z");
    assert_eq!(json["run_on"]["chain_id"], 31337);
    assert_eq!(json["run_on"]["block"], 25);
    assert_eq!(json["run_on"]["journal_seq"], 40);
    assert_eq!(json["run_on"]["bar_list"]["sha256"], bars.sha256);
    assert_eq!(json["summary"]["breaks"], 1);
    assert_eq!(json["findings"][0]["class"], "unauthorised_mint");
    assert_eq!(json["findings"][0]["found_oz"], "-0.500");
    let csv = report::findings_csv(&r);
    assert_eq!(csv.lines().count(), 2);
    assert!(csv.lines().nth(1).unwrap().starts_with("unauthorised_mint,mint clearing,0.000,-0.500,-0.500,false,"));
    let html = report::html(&r, "2026-11-26T09:00:00Z");
    assert!(html.contains("1 unexplained break"));
    assert!(html.contains(&bars.sha256) && html.contains("block <b>25</b>"));
    assert!(html.contains("unauthorised_mint") && html.contains("<svg"));
    assert_eq!(html, report::html(&r, "2026-11-26T09:00:00Z"), "deterministic");
}
