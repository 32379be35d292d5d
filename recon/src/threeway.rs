//! Three-way reconciliation of the tokenized-gold program at one final block:
//! the bars in the vault (the custodian's bar list) ⟷ the token's supply and holders (the chain, as indexed) ⟷ the
//! gold the ledger owes (custody, token wallets, clearing, wiped).
//!
//! Every amount is in token base units (10^18 per fine troy ounce): bar weights (thousandths of an ounce) convert
//! exactly. Each difference becomes a [`Finding`] with a class and an explanation; findings that are a normal state
//! of the business (a withdrawal in flight, a frozen wallet, a rounding by the custodian) are *explained*, the
//! rest are *breaks* that block minting until a clean reconciliation (see `gate`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::barlist::{BarList, BarStatus};

/// Token base units per thousandth of an ounce (10^18 / 10^3).
pub const UNITS_PER_MILLI_OZ: u128 = 1_000_000_000_000_000;

/// What kind of difference a finding is. The codes (`as_str`) are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// The same bar (refiner, serial, year, vault) is listed twice.
    Duplicate,
    /// A stated fine weight differs from gross × assay by at most 0.001 oz.
    Rounding,
    /// Two sides that must agree do not (beyond rounding).
    AmountMismatch,
    /// Tokens on chain that the ledger does not know.
    MissingInLedger,
    /// A ledger token wallet the chain does not show.
    MissingOnChain,
    /// Mints on chain beyond what the platform booked (mint clearing in debit).
    UnauthorisedMint,
    /// A frozen holder, or tokens wiped from one.
    FrozenOrWiped,
    /// Booked withdrawals not yet minted (mint clearing in credit).
    InFlightMint,
    /// Burns on chain not yet settled off chain (redemption clearing in credit).
    InFlightRedemption,
    /// The reserve attested on chain differs from the bars.
    ReserveMismatch,
    /// The gold owed exceeds the bars that back it.
    UnderReserved,
}

impl Class {
    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Duplicate => "duplicate",
            Class::Rounding => "rounding",
            Class::AmountMismatch => "amount_mismatch",
            Class::MissingInLedger => "missing_in_ledger",
            Class::MissingOnChain => "missing_on_chain",
            Class::UnauthorisedMint => "unauthorised_mint",
            Class::FrozenOrWiped => "frozen_or_wiped",
            Class::InFlightMint => "in_flight_mint",
            Class::InFlightRedemption => "in_flight_redemption",
            Class::ReserveMismatch => "reserve_mismatch",
            Class::UnderReserved => "under_reserved",
        }
    }
}

/// The chain side, read from the indexer's final logs at `block`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChainView {
    /// Chain id.
    pub chain_id: u64,
    /// The final block reconciled.
    pub block: u64,
    /// The token's address.
    pub token: String,
    /// Total supply at the block.
    pub supply: u128,
    /// Every holder with a non-zero balance.
    pub holders: BTreeMap<String, u128>,
    /// Frozen holders.
    pub frozen: BTreeSet<String>,
    /// The issuer's own addresses (redemption address, treasury): their tokens are not customers'.
    pub treasury: BTreeSet<String>,
    /// The last reserve attested on the reserve feed, in token base units, if any.
    pub reserve_attested: Option<u128>,
}

/// The ledger side: balances of the program's accounts (normal-side balances, token base units).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LedgerView {
    /// The journal sequence the balances were read at.
    pub journal_seq: u64,
    /// The vault account (asset): bars booked.
    pub vault: i128,
    /// Customers' custodial gold (liabilities), summed.
    pub custody: i128,
    /// The mirrored token wallets: holder address → balance.
    pub wallets: BTreeMap<String, i128>,
    /// Mint clearing (credit: withdrawals booked, not yet minted; debit: mints nobody booked).
    pub mint_clearing: i128,
    /// Redemption clearing (credit: burns not yet settled).
    pub redemption_clearing: i128,
    /// Tokens wiped by asset protection (owed to whoever the authority decides).
    pub wiped: i128,
    /// The issuer's unsold gold (equity).
    pub inventory: i128,
}

/// Inputs of a run.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// The bar list.
    pub bars: &'a BarList,
    /// Its file name, for the report.
    pub bar_list_file: String,
    /// Only bars allocated to this program back the token (`None`: every allocated bar).
    pub allocation: Option<String>,
    /// The chain at the block.
    pub chain: ChainView,
    /// The ledger.
    pub ledger: LedgerView,
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What kind.
    pub class: Class,
    /// What it is about: `vault`, `bar <key>`, `wallet <address>`, `mint clearing`, ...
    pub subject: String,
    /// What one side says (token base units).
    pub expected: i128,
    /// What the other side says (token base units).
    pub found: i128,
    /// A normal state of the business, not a break.
    pub explained: bool,
    /// For the analyst.
    pub explanation: String,
}

impl Finding {
    /// `found - expected`.
    pub fn difference(&self) -> i128 {
        self.found - self.expected
    }
}

/// A holder, side by side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WalletLine {
    /// Address.
    pub address: String,
    /// Balance on chain at the block.
    pub chain: u128,
    /// The ledger's mirrored balance.
    pub ledger: i128,
    /// Frozen on chain.
    pub frozen: bool,
    /// An issuer address.
    pub treasury: bool,
}

/// A bar, as counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BarLine {
    /// `refiner serial (year) in vault`.
    pub key: String,
    /// Line in the bar list.
    pub line: usize,
    /// Fine weight stated (thousandths of an ounce).
    pub fine_milli_oz: u128,
    /// Fine weight by gross × assay, rounded down (thousandths of an ounce).
    pub expected_fine_milli_oz: u128,
    /// Status.
    pub status: BarStatus,
    /// Counted as backing the token.
    pub backing: bool,
}

/// The headline figures (token base units).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    /// Bars in the list.
    pub bars: usize,
    /// Bars that back the token.
    pub bars_backing: usize,
    /// Σ fine weight of the backing bars.
    pub bars_fine: i128,
    /// The reserve attested on chain.
    pub reserve_attested: Option<i128>,
    /// Token supply at the block.
    pub supply: i128,
    /// Of which held by the issuer's own addresses.
    pub treasury: i128,
    /// Ledger: the vault account.
    pub ledger_vault: i128,
    /// Ledger: Σ token wallets.
    pub ledger_on_chain: i128,
    /// Ledger: custody.
    pub ledger_custody: i128,
    /// Ledger: everything owed (custody + wallets + clearing + wiped).
    pub ledger_liabilities: i128,
    /// Ledger: the issuer's own gold.
    pub ledger_inventory: i128,
    /// Withdrawals booked, not yet minted.
    pub in_flight_mints: i128,
    /// Burns not yet settled.
    pub in_flight_redemptions: i128,
    /// Findings that are breaks.
    pub breaks: usize,
    /// Findings that are explained.
    pub explained: usize,
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreeWay {
    /// Chain id.
    pub chain_id: u64,
    /// The block.
    pub block: u64,
    /// The token.
    pub token: String,
    /// The journal sequence.
    pub journal_seq: u64,
    /// The bar list's file name.
    pub bar_list_file: String,
    /// The bar list's SHA-256.
    pub bar_list_sha256: String,
    /// The figures.
    pub summary: Summary,
    /// Every difference, breaks first, then by class and subject.
    pub findings: Vec<Finding>,
    /// Holders, by address.
    pub wallets: Vec<WalletLine>,
    /// Bars, in file order.
    pub bars: Vec<BarLine>,
}

impl ThreeWay {
    /// The findings that are breaks.
    pub fn breaks(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| !f.explained)
    }
}

fn signed(v: u128) -> i128 {
    // Token amounts are bounded by the supply, itself far below 2^127 base units (1.7e20 ounces).
    i128::try_from(v).expect("token amounts fit in i128")
}

/// Runs the reconciliation.
pub fn reconcile(inputs: &Inputs<'_>) -> ThreeWay {
    let Inputs { bars, bar_list_file, allocation, chain, ledger } = inputs;
    let mut findings = Vec::new();
    let mut bar_lines = Vec::with_capacity(bars.bars.len());

    // Bars: duplicates, fine weights, and what backs the token.
    let mut seen = BTreeMap::new();
    let mut bars_fine: i128 = 0;
    let mut bars_backing = 0usize;
    for bar in &bars.bars {
        let key = bar.key();
        let expected = bar.expected_fine_milli_oz();
        let duplicate = seen.insert(key.clone(), bar.line);
        let allocated = bar.status == BarStatus::Allocated
            && allocation.as_ref().is_none_or(|a| a.eq_ignore_ascii_case(&bar.allocation));
        let backing = allocated && duplicate.is_none();
        if let Some(first) = duplicate {
            findings.push(Finding {
                class: Class::Duplicate,
                subject: format!("bar {key}"),
                expected: 0,
                found: signed(bar.fine_milli_oz * UNITS_PER_MILLI_OZ),
                explained: false,
                explanation: format!("listed on line {} and again on line {}; counted once", first, bar.line),
            });
        }
        if bar.fine_milli_oz != expected {
            let diff = bar.fine_milli_oz.abs_diff(expected);
            findings.push(Finding {
                class: if diff <= 1 { Class::Rounding } else { Class::AmountMismatch },
                subject: format!("bar {key}"),
                expected: signed(expected * UNITS_PER_MILLI_OZ),
                found: signed(bar.fine_milli_oz * UNITS_PER_MILLI_OZ),
                explained: diff <= 1,
                explanation: if diff <= 1 {
                    format!("line {}: the stated fine weight is gross × assay rounded to the nearest 0.001 oz instead of down", bar.line)
                } else {
                    format!("line {}: the stated fine weight is not gross × assay; the custodian must correct the bar list", bar.line)
                },
            });
        }
        if backing {
            bars_backing += 1;
            bars_fine += signed(bar.fine_milli_oz * UNITS_PER_MILLI_OZ);
        }
        bar_lines.push(BarLine {
            key: key.to_string(),
            line: bar.line,
            fine_milli_oz: bar.fine_milli_oz,
            expected_fine_milli_oz: expected,
            status: bar.status,
            backing,
        });
    }

    // Vault: the bars against the ledger's vault account.
    if bars_fine != ledger.vault {
        findings.push(Finding {
            class: Class::AmountMismatch,
            subject: "vault".into(),
            expected: bars_fine,
            found: ledger.vault,
            explained: false,
            explanation: "the ledger's vault account does not equal the fine weight of the backing bars".into(),
        });
    }
    // The attestation on chain against the bars.
    if let Some(attested) = chain.reserve_attested {
        let attested = signed(attested);
        if attested != bars_fine {
            findings.push(Finding {
                class: Class::ReserveMismatch,
                subject: "reserve feed".into(),
                expected: bars_fine,
                found: attested,
                explained: false,
                explanation: if attested > bars_fine {
                    "the reserve attested on chain exceeds the bars: mints are allowed against gold that is not there"
                        .into()
                } else {
                    "the reserve attested on chain is below the bars: attest the new bars".into()
                },
            });
        }
    }

    // Holders: chain against the ledger's mirrored wallets.
    let mut wallets = Vec::new();
    let addresses: BTreeSet<&String> = chain.holders.keys().chain(ledger.wallets.keys()).collect();
    let mut treasury_total: i128 = 0;
    for address in addresses {
        let on_chain = chain.holders.get(address).copied().unwrap_or(0);
        let in_ledger = ledger.wallets.get(address).copied().unwrap_or(0);
        let frozen = chain.frozen.contains(address);
        let treasury = chain.treasury.contains(address);
        if treasury {
            treasury_total += signed(on_chain);
        }
        if signed(on_chain) != in_ledger {
            let class = if in_ledger == 0 {
                Class::MissingInLedger
            } else if on_chain == 0 {
                Class::MissingOnChain
            } else {
                Class::AmountMismatch
            };
            findings.push(Finding {
                class,
                subject: format!("wallet {address}"),
                expected: signed(on_chain),
                found: in_ledger,
                explained: false,
                explanation: "the ledger's token wallet does not equal the balance on chain at the block".into(),
            });
        }
        if frozen {
            findings.push(Finding {
                class: Class::FrozenOrWiped,
                subject: format!("wallet {address}"),
                expected: signed(on_chain),
                found: in_ledger,
                explained: true,
                explanation: "frozen by asset protection: the tokens count in the supply but cannot move".into(),
            });
        }
        wallets.push(WalletLine { address: address.clone(), chain: on_chain, ledger: in_ledger, frozen, treasury });
    }
    let ledger_on_chain: i128 = ledger.wallets.values().sum();
    if signed(chain.supply) != chain.holders.values().map(|v| signed(*v)).sum::<i128>() {
        findings.push(Finding {
            class: Class::AmountMismatch,
            subject: "token supply".into(),
            expected: chain.holders.values().map(|v| signed(*v)).sum(),
            found: signed(chain.supply),
            explained: false,
            explanation:
                "the supply does not equal the sum of the holders' balances (the indexed events are incomplete)".into(),
        });
    }

    // Clearing accounts: in-flight movements are explained; the wrong sign is a break.
    if ledger.mint_clearing < 0 {
        findings.push(Finding {
            class: Class::UnauthorisedMint,
            subject: "mint clearing".into(),
            expected: 0,
            found: ledger.mint_clearing,
            explained: false,
            explanation: "tokens were minted on chain that no withdrawal booked in the ledger accounts for".into(),
        });
    } else if ledger.mint_clearing > 0 {
        findings.push(Finding {
            class: Class::InFlightMint,
            subject: "mint clearing".into(),
            expected: 0,
            found: ledger.mint_clearing,
            explained: true,
            explanation: "withdrawals booked in the ledger whose mints are not yet final on chain".into(),
        });
    }
    if ledger.redemption_clearing > 0 {
        findings.push(Finding {
            class: Class::InFlightRedemption,
            subject: "redemption clearing".into(),
            expected: 0,
            found: ledger.redemption_clearing,
            explained: true,
            explanation: "tokens burned on chain whose redemption is not yet settled off chain".into(),
        });
    } else if ledger.redemption_clearing < 0 {
        findings.push(Finding {
            class: Class::AmountMismatch,
            subject: "redemption clearing".into(),
            expected: 0,
            found: ledger.redemption_clearing,
            explained: false,
            explanation: "more redemptions were settled off chain than tokens burned on chain".into(),
        });
    }
    if ledger.wiped != 0 {
        findings.push(Finding {
            class: Class::FrozenOrWiped,
            subject: "wiped".into(),
            expected: 0,
            found: ledger.wiped,
            explained: ledger.wiped > 0,
            explanation: "tokens wiped from frozen addresses: still owed, to whoever the authority decides".into(),
        });
    }

    // Coverage: everything owed must be backed by bars.
    let liabilities =
        ledger.custody + ledger_on_chain + ledger.mint_clearing.max(0) + ledger.redemption_clearing + ledger.wiped;
    if liabilities > bars_fine {
        findings.push(Finding {
            class: Class::UnderReserved,
            subject: "reserve coverage".into(),
            expected: bars_fine,
            found: liabilities,
            explained: false,
            explanation: "the gold owed to customers and token holders exceeds the bars backing it".into(),
        });
    }

    findings.sort_by(|a, b| (a.explained, a.class, &a.subject).cmp(&(b.explained, b.class, &b.subject)));
    let summary = Summary {
        bars: bars.bars.len(),
        bars_backing,
        bars_fine,
        reserve_attested: chain.reserve_attested.map(signed),
        supply: signed(chain.supply),
        treasury: treasury_total,
        ledger_vault: ledger.vault,
        ledger_on_chain,
        ledger_custody: ledger.custody,
        ledger_liabilities: liabilities,
        ledger_inventory: ledger.inventory,
        in_flight_mints: ledger.mint_clearing.max(0),
        in_flight_redemptions: ledger.redemption_clearing.max(0),
        breaks: findings.iter().filter(|f| !f.explained).count(),
        explained: findings.iter().filter(|f| f.explained).count(),
    };
    ThreeWay {
        chain_id: chain.chain_id,
        block: chain.block,
        token: chain.token.clone(),
        journal_seq: ledger.journal_seq,
        bar_list_file: bar_list_file.clone(),
        bar_list_sha256: bars.sha256.clone(),
        summary,
        findings,
        wallets,
        bars: bar_lines,
    }
}
