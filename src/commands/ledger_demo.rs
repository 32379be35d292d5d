//! The ledger part of `aurum demo`: a day of a gold-and-rupee business on the embedded ledger.
//!
//! Assets: XAU (troy ounces, 3 decimals — bar lists weigh to 0.001 oz) and INR (2 decimals).
//! The business holds gold in its vault and rupees at its bank (asset accounts); it owes customers
//! the gold and rupees in their wallets (liability accounts that must not go negative); it earns
//! fees (income). Buying and selling gold are multi-asset journal entries that balance per asset
//! through two exchange accounts (equity), the trading-account method of multi-currency
//! bookkeeping. Card-style holds are pending transfers that post (in full or in part), are voided,
//! or expire. One customer tries to spend more rupees than they have and is refused.
//!
//! The day runs on a simulated clock (09:00 to 18:00) so that hold expiry is decided by journal
//! timestamps, deterministically. Re-running the demo plays another day on the same ledger.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aurum_ledger::decimal::{format_amount, format_signed, parse_amount};
use aurum_ledger::{
    AccountId, AccountKind, AssetId, Command, CreateAccount, CreateAsset, CreateEntry, CreateTransfer, Limit, Metadata,
    Outcome, PostPending, Posting, ResultCode, Side, Timestamp, TransferFlags, TransferId, VoidPending,
};
use aurum_ledger_node::engine::{Engine, EngineConfig};
use aurum_vfs::rng::SplitMix64;
use serde_json::{Value, json};

use super::Context;
use super::ledger::{open_engine, trial_balance_json};

type DemoResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const XAU: AssetId = AssetId(1);
const INR: AssetId = AssetId(2);
const XAU_SCALE: u8 = 3;
const INR_SCALE: u8 = 2;

// Business accounts.
const VAULT_GOLD: AccountId = AccountId(1001); // asset, XAU: allocated bars in the vault
const BANK_INR: AccountId = AccountId(1002); // asset, INR: rupees at the bank
const FX_XAU: AccountId = AccountId(1003); // equity, XAU: exchange (trading) account
const FX_INR: AccountId = AccountId(1004); // equity, INR: exchange (trading) account
const FEES_INR: AccountId = AccountId(1005); // income, INR: fees earned
pub(crate) const MERCHANT_INR: AccountId = AccountId(1006); // liability, INR: owed to merchants for card spend
const CAPITAL_INR: AccountId = AccountId(1007); // equity, INR: owners' capital

/// Customers per day.
const CUSTOMERS: u64 = 40;
/// One simulated minute in ns.
const MINUTE_NS: u64 = 60 * 1_000_000_000;

fn customer_gold(c: u64) -> AccountId {
    AccountId(u128::from(100_000 + c))
}

fn customer_inr(c: u64) -> AccountId {
    AccountId(u128::from(200_000 + c))
}

fn meta(pairs: &[(&str, &str)]) -> Metadata {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn account(id: AccountId, asset: AssetId, kind: AccountKind, limit: Limit, name: &str) -> Command {
    Command::CreateAccount(CreateAccount {
        id,
        asset,
        kind,
        limit,
        history: true,
        metadata: meta(&[("name", name)]),
        linked: false,
    })
}

fn inr(s: &str) -> u128 {
    parse_amount(s, INR_SCALE).expect("valid INR literal")
}

fn xau(s: &str) -> u128 {
    parse_amount(s, XAU_SCALE).expect("valid XAU literal")
}

fn transfer(id: u128, from: AccountId, to: AccountId, amount: u128, asset: AssetId, memo: &str) -> CreateTransfer {
    CreateTransfer {
        id: TransferId(id),
        debit_account: from,
        credit_account: to,
        amount,
        asset,
        flags: TransferFlags::default(),
        timeout_secs: 0,
        metadata: meta(&[("memo", memo)]),
    }
}

/// What happened during the day, for the summary.
#[derive(Debug, Default)]
struct Tally {
    commands: u64,
    by_code: std::collections::BTreeMap<&'static str, u64>,
    gold_bought_mg: u128,
    gold_sold_mg: u128,
    fees_paise: u128,
    holds_posted: u64,
    holds_voided: u64,
    holds_expired: u64,
    refused_overdraft: Option<String>,
}

impl Tally {
    fn record(&mut self, outcomes: &[Outcome]) {
        for o in outcomes {
            self.commands += 1;
            *self.by_code.entry(o.code.as_str()).or_default() += 1;
        }
    }
}

/// Run the day; returns the summary JSON (trial balance included).
pub fn run_day(ctx: &Context) -> DemoResult<Value> {
    // A simulated clock, starting after everything already in the ledger.
    let clock_ns = Arc::new(AtomicU64::new(0));
    let clock = {
        let c = clock_ns.clone();
        Arc::new(move || Timestamp(c.load(Ordering::SeqCst))) as aurum_ledger_node::engine::Clock
    };
    let engine = open_engine(ctx, EngineConfig { clock, ..EngineConfig::default() })?;
    let wall_ns = aurum_ledger_node::engine::system_clock()().0;
    let (day, start_ns) = engine.read(|l| {
        // Each run is a new day; ids of the day derive from the journal position, unique per run.
        let day = l.last_seq() + 1;
        let last = l.last_timestamp().0.max(wall_ns);
        // 09:00 UTC of the day after the last event or today, whichever is later.
        let day_ns = 86_400 * 1_000_000_000u64;
        (day, (last / day_ns + 1) * day_ns + 9 * 60 * MINUTE_NS)
    })?;
    clock_ns.store(start_ns, Ordering::SeqCst);
    let at = |minutes: u64| clock_ns.store(start_ns + minutes * MINUTE_NS, Ordering::SeqCst);
    let mut tally = Tally::default();
    let mut rng = SplitMix64::new(7);
    // Transfer ids: unique per day.
    let mut next_id = u128::from(day) * 1_000_000;
    let mut id = || {
        next_id += 1;
        next_id
    };

    eprintln!("[ledger 1/5] opening the books: assets, business and customer accounts...");
    let mut setup = vec![
        Command::CreateAsset(CreateAsset { id: XAU, code: "XAU".into(), scale: XAU_SCALE }),
        Command::CreateAsset(CreateAsset { id: INR, code: "INR".into(), scale: INR_SCALE }),
        account(VAULT_GOLD, XAU, AccountKind::Asset, Limit::None, "vault gold (allocated bars)"),
        account(BANK_INR, INR, AccountKind::Asset, Limit::None, "bank rupees"),
        account(FX_XAU, XAU, AccountKind::Equity, Limit::None, "exchange: gold"),
        account(FX_INR, INR, AccountKind::Equity, Limit::None, "exchange: rupees"),
        account(FEES_INR, INR, AccountKind::Income, Limit::None, "fee income"),
        account(MERCHANT_INR, INR, AccountKind::Liability, Limit::None, "merchants payable"),
        account(CAPITAL_INR, INR, AccountKind::Equity, Limit::None, "owners' capital"),
    ];
    let wallet = Limit::DebitsMustNotExceedCredits { overdraft: 0 };
    for c in 0..CUSTOMERS {
        setup.push(account(customer_gold(c), XAU, AccountKind::Liability, wallet, &format!("customer {c} gold")));
        setup.push(account(customer_inr(c), INR, AccountKind::Liability, wallet, &format!("customer {c} rupees")));
    }
    // Re-running replays these creations: same ids, same fields, first outcome returned.
    tally.record(&engine.submit(setup)?);

    eprintln!("[ledger 2/5] 09:00 capital in, gold bars bought for the vault, customers fund their wallets...");
    at(0);
    let vault_oz = xau("400.000");
    let vault_cost = inr("26000000.00"); // 400 oz at 65,000.00 INR/oz
    let capital = Command::CreateTransfer(transfer(id(), BANK_INR, CAPITAL_INR, inr("30000000.00"), INR, "capital"));
    // Buying bars: gold in, rupees out, through the exchange accounts (balanced per asset).
    let buy_bars = Command::CreateEntry(CreateEntry {
        id: TransferId(id()),
        postings: vec![
            Posting { account: VAULT_GOLD, side: Side::Debit, amount: vault_oz },
            Posting { account: FX_XAU, side: Side::Credit, amount: vault_oz },
            Posting { account: FX_INR, side: Side::Debit, amount: vault_cost },
            Posting { account: BANK_INR, side: Side::Credit, amount: vault_cost },
        ],
        metadata: meta(&[("memo", "bought 400 oz of LBMA bars")]),
        linked: false,
    });
    tally.record(&engine.submit(vec![capital, buy_bars])?);
    let mut funding = Vec::new();
    for c in 0..CUSTOMERS {
        let amount = inr("50000.00") + u128::from(rng.below(20)) * inr("10000.00");
        funding.push(Command::CreateTransfer(transfer(id(), BANK_INR, customer_inr(c), amount, INR, "wallet top-up")));
    }
    tally.record(&engine.submit(funding)?);

    eprintln!("[ledger 3/5] 09:30-16:00 customers buy and sell gold (fee 1%), card holds are placed...");
    let price_per_oz = inr("65000.00");
    let mut holds = Vec::new();
    for round in 0..6u64 {
        at(30 + round * 60);
        let mut trades = Vec::new();
        let mut trade_meta: Vec<Option<(bool, u128, u128)>> = Vec::new();
        for c in 0..CUSTOMERS {
            if rng.below(3) == 0 {
                continue;
            }
            let oz = xau("0.100") * u128::from(1 + rng.below(5)); // 0.1 to 0.5 oz
            // thousandths of an oz × paise per oz / 1000 = paise; exact because oz is a multiple of 0.1.
            assert_eq!(oz * price_per_oz % 1000, 0, "gold amounts are whole paise");
            let cost = oz * price_per_oz / 1000;
            let fee = cost / 100;
            let selling = round >= 3 && rng.below(2) == 0;
            trade_meta.push(Some((selling, oz, fee)));
            let postings = if selling {
                vec![
                    Posting { account: customer_gold(c), side: Side::Debit, amount: oz },
                    Posting { account: FX_XAU, side: Side::Credit, amount: oz },
                    Posting { account: FX_INR, side: Side::Debit, amount: cost },
                    Posting { account: customer_inr(c), side: Side::Credit, amount: cost - fee },
                    Posting { account: FEES_INR, side: Side::Credit, amount: fee },
                ]
            } else {
                vec![
                    Posting { account: customer_inr(c), side: Side::Debit, amount: cost + fee },
                    Posting { account: FX_INR, side: Side::Credit, amount: cost },
                    Posting { account: FEES_INR, side: Side::Credit, amount: fee },
                    Posting { account: FX_XAU, side: Side::Debit, amount: oz },
                    Posting { account: customer_gold(c), side: Side::Credit, amount: oz },
                ]
            };
            trades.push(Command::CreateEntry(CreateEntry {
                id: TransferId(id()),
                postings,
                metadata: meta(&[("memo", if selling { "customer sells gold" } else { "customer buys gold" })]),
                linked: false,
            }));
            if round >= 3 && rng.below(3) == 0 {
                // A card authorisation: hold rupees for a merchant for 3 hours.
                let hold_id = id();
                let mut t = transfer(hold_id, customer_inr(c), MERCHANT_INR, inr("2500.00"), INR, "card hold");
                t.flags.pending = true;
                t.timeout_secs = 3 * 3600;
                trades.push(Command::CreateTransfer(t));
                trade_meta.push(None);
                holds.push(hold_id);
            }
        }
        let outcomes = engine.submit(trades)?;
        // Failed trades (a customer short of gold or rupees) are refused with a code, not applied.
        for (o, meta) in outcomes.iter().zip(&trade_meta) {
            if let (true, Some((selling, oz, fee))) = (o.code.is_ok(), meta) {
                if *selling {
                    tally.gold_sold_mg += oz
                } else {
                    tally.gold_bought_mg += oz
                }
                tally.fees_paise += fee;
            }
        }
        tally.record(&outcomes);
    }

    eprintln!("[ledger 4/5] 15:00 holds settle: some post in full, some in part, some are voided, the rest expire...");
    at(15 * 60 - 9 * 60);
    let mut settle = Vec::new();
    let mut voids = Vec::new();
    let mut settled = std::collections::BTreeSet::new();
    for (i, hold) in holds.iter().enumerate() {
        match i % 4 {
            0 => settle.push(Command::PostPending(PostPending {
                id: TransferId(id()),
                pending_id: TransferId(*hold),
                amount: None,
                metadata: meta(&[("memo", "merchant captured in full")]),
                linked: false,
            })),
            1 => settle.push(Command::PostPending(PostPending {
                id: TransferId(id()),
                pending_id: TransferId(*hold),
                amount: Some(inr("1999.99")),
                metadata: meta(&[("memo", "merchant captured in part")]),
                linked: false,
            })),
            2 => {
                voids.push(settle.len());
                settle.push(Command::VoidPending(VoidPending {
                    id: TransferId(id()),
                    pending_id: TransferId(*hold),
                    metadata: meta(&[("memo", "authorisation reversed")]),
                    linked: false,
                }))
            }
            _ => continue, // left to expire
        }
        settled.insert(*hold);
    }
    if !settle.is_empty() {
        let outcomes = engine.submit(settle)?;
        for (cmd, o) in outcomes.iter().enumerate() {
            if o.code.is_ok() {
                if voids.contains(&cmd) { tally.holds_voided += 1 } else { tally.holds_posted += 1 }
            }
        }
        tally.record(&outcomes);
    }

    eprintln!("[ledger 4b/5] 16:00 a money mule: six customers pay one wallet within minutes, which passes it on...");
    // The pattern the risk scoring exists for: a wallet that rarely receives takes small payments
    // from six customers it never dealt with, then forwards nearly all of it to a new account.
    let mule = customer_inr(0);
    let mut inflow = 0;
    for (minute, sender) in (1..=6u64).enumerate() {
        at(16 * 60 - 9 * 60 + minute as u64);
        let amount = inr("2500.00");
        let o = engine.submit(vec![Command::CreateTransfer(transfer(
            id(),
            customer_inr(sender),
            mule,
            amount,
            INR,
            "for you",
        ))])?;
        if o.first().is_some_and(|o| o.code.is_ok()) {
            inflow += amount;
        }
        tally.record(&o);
    }
    at(16 * 60 - 9 * 60 + 7);
    let onward = inflow / 100 * 95;
    tally.record(&engine.submit(vec![Command::CreateTransfer(transfer(
        id(),
        mule,
        customer_inr(CUSTOMERS - 1),
        onward,
        INR,
        "onward",
    ))])?);

    eprintln!("[ledger 5/5] 18:00 an overdraft is refused; the remaining holds have expired...");
    at(18 * 60 - 9 * 60);
    let greedy = customer_inr(rng.below(CUSTOMERS));
    let huge = inr("10000000.00");
    let outcomes =
        engine.submit(vec![Command::CreateTransfer(transfer(id(), greedy, MERCHANT_INR, huge, INR, "too big"))])?;
    tally.record(&outcomes);
    if let Some(o) = outcomes.first()
        && o.code != ResultCode::Ok
    {
        tally.refused_overdraft = Some(format!(
            "customer account {} tried to pay {} INR: refused with {} (code {})",
            greedy.0,
            format_amount(huge, INR_SCALE),
            o.code.as_str(),
            o.code.code()
        ));
    }
    let (expired, trial, vault, fees, seq) = engine.read(|l| {
        let expired = holds
            .iter()
            .filter(|h| !settled.contains(h))
            .filter(|h| {
                l.transfer(TransferId(**h)).is_some_and(|t| t.pending_state == aurum_ledger::PendingState::Expired)
            })
            .count() as u64;
        let vault = l.account(VAULT_GOLD).map_or(0, |a| a.balance());
        let fees = l.account(FEES_INR).map_or(0, |a| a.balance());
        (expired, trial_balance_json(l), vault, fees, l.last_seq())
    })?;
    tally.holds_expired = expired;
    let snapshot = engine.snapshot_now()?;
    Ok(json!({
        "day": day,
        "date": crate::output::format_ns(start_ns)[..10].to_string(),
        "journal_blocks": seq,
        "commands": tally.commands,
        "outcomes": tally.by_code,
        "gold_bought_oz": format_amount(tally.gold_bought_mg, XAU_SCALE),
        "gold_sold_oz": format_amount(tally.gold_sold_mg, XAU_SCALE),
        "fees_inr": format_amount(tally.fees_paise, INR_SCALE),
        "holds": {"placed": holds.len(), "posted": tally.holds_posted, "voided": tally.holds_voided, "expired": tally.holds_expired},
        "refused_overdraft": tally.refused_overdraft,
        "vault_gold_oz": format_signed(vault, XAU_SCALE),
        "fee_income_inr": format_signed(fees, INR_SCALE),
        "snapshot_seq": snapshot.seq,
        "trial_balance": trial,
        "public_key": engine_public_key(&engine),
    }))
}

fn engine_public_key(engine: &Engine) -> String {
    engine.public_key_hex()
}
