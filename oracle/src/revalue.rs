//! Mark-to-market: the ledger revalues its gold holdings in fiat from an aggregated price.
//!
//! Holdings are the balances of the configured gold accounts (base units of the gold asset). Their fiat value is
//! holdings × price, rounded **down to the fiat asset's minor unit** — the one rounding in the system, explicit and
//! documented: a value must be booked in whole cents. What is booked is the difference between that rounded
//! value and the revaluation account's balance, so rounding never accumulates: after every revaluation the
//! revaluation account holds exactly the rounded value of the holdings at that price. A rise debits the
//! revaluation account (asset) and credits unrealised gain/loss (income); a fall does the reverse.
//!
//! The entry's id is derived from the price round it uses, so revaluing twice on the same round books once.

use aurum_ledger::{
    AccountId, AssetId, Command, CreateTransfer, Ledger, Metadata, TransferFlags, TransferId, decimal::format_amount,
};
use serde::{Deserialize, Serialize};

/// What to revalue and where to book it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevaluationConfig {
    /// The gold accounts whose balances are the holdings.
    pub holdings: Vec<u128>,
    /// The fiat asset the value is booked in.
    pub fiat_asset: u32,
    /// Asset account holding the fair-value adjustment (fiat).
    pub revaluation_account: u128,
    /// Income account of unrealised gains and losses (fiat).
    pub unrealised_account: u128,
}

/// Why a revaluation could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevalueError {
    /// An account or asset is missing or of the wrong asset.
    #[error("revaluation: {0}")]
    Config(String),
    /// The value does not fit 128 bits.
    #[error("revaluation: the value overflows")]
    Overflow,
}

/// The computed revaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revaluation {
    /// Σ holdings, base units of the gold asset.
    pub holdings: i128,
    /// The value, fiat base units, rounded down.
    pub value: i128,
    /// What the revaluation account held before.
    pub booked_before: i128,
    /// The entry to submit, if the value changed.
    pub command: Option<Command>,
}

/// Computes the revaluation at `price` (fiat base units per whole unit of gold, at `price_scale` decimals),
/// from price round `round` of `symbol`.
pub fn revalue(
    ledger: &Ledger,
    config: &RevaluationConfig,
    price: i128,
    price_scale: u8,
    symbol: &str,
    round: u64,
) -> Result<Revaluation, RevalueError> {
    let fiat = ledger
        .asset(AssetId(config.fiat_asset))
        .ok_or_else(|| RevalueError::Config(format!("fiat asset {} does not exist", config.fiat_asset)))?;
    let mut holdings: i128 = 0;
    let mut gold_scale = None;
    for id in &config.holdings {
        let a = ledger
            .account(AccountId(*id))
            .ok_or_else(|| RevalueError::Config(format!("account {id} does not exist")))?;
        let scale = ledger.asset(a.asset).map(|x| x.scale).unwrap_or(0);
        if *gold_scale.get_or_insert(scale) != scale {
            return Err(RevalueError::Config("the holdings accounts hold assets of different scales".into()));
        }
        holdings = holdings.checked_add(a.balance()).ok_or(RevalueError::Overflow)?;
    }
    let gold_scale = gold_scale.ok_or_else(|| RevalueError::Config("no holdings accounts".into()))?;
    for id in [config.revaluation_account, config.unrealised_account] {
        let a = ledger
            .account(AccountId(id))
            .ok_or_else(|| RevalueError::Config(format!("account {id} does not exist")))?;
        if a.asset != fiat.id {
            return Err(RevalueError::Config(format!("account {id} is not in {}", fiat.code)));
        }
    }
    // value (fiat base units) = holdings × price / 10^(gold_scale + price_scale − fiat_scale), rounded down.
    let exact = holdings.checked_mul(price).ok_or(RevalueError::Overflow)?;
    let shift = u32::from(gold_scale) + u32::from(price_scale);
    let fiat_scale = u32::from(fiat.scale);
    let value = if shift >= fiat_scale {
        exact.div_euclid(10i128.checked_pow(shift - fiat_scale).ok_or(RevalueError::Overflow)?)
    } else {
        exact.checked_mul(10i128.pow(fiat_scale - shift)).ok_or(RevalueError::Overflow)?
    };
    let booked_before = ledger.account(AccountId(config.revaluation_account)).map_or(0, |a| a.balance());
    let delta = value - booked_before;
    let command = (delta != 0).then(|| {
        let (debit, credit) = if delta > 0 {
            (config.revaluation_account, config.unrealised_account)
        } else {
            (config.unrealised_account, config.revaluation_account)
        };
        let id = aurum_chain::mirror::derive_id(&[
            b"aurum/revaluation",
            symbol.as_bytes(),
            &round.to_be_bytes(),
            &config.revaluation_account.to_be_bytes(),
        ]);
        let metadata: Metadata = [
            ("memo", format!("mark-to-market of gold at {symbol} round {round}")),
            ("price", format_amount(price.unsigned_abs(), price_scale)),
            ("holdings", format_amount(holdings.unsigned_abs(), gold_scale)),
            ("value", format_amount(value.unsigned_abs(), fiat.scale)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Command::CreateTransfer(CreateTransfer {
            id: TransferId(id),
            debit_account: AccountId(debit),
            credit_account: AccountId(credit),
            amount: delta.unsigned_abs(),
            asset: fiat.id,
            flags: TransferFlags::default(),
            timeout_secs: 0,
            metadata,
        })
    });
    Ok(Revaluation { holdings, value, booked_before, command })
}
