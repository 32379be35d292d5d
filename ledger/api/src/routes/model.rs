//! The API's JSON nouns: domain newtypes for ids and amounts, and the response views. Ids of
//! accounts, transfers and entries are u128 as decimal strings; amounts are decimal strings with
//! at most the asset's scale of decimals — never JSON numbers, so no client rounds them.

use std::collections::BTreeMap;
use std::fmt;

use aurum_ledger::decimal::{DecimalError, format_amount, format_signed, parse_amount};
use aurum_ledger::{
    Account, AccountKind, Asset, Entry, Limit, MAX_METADATA_ENTRIES, MAX_METADATA_KEY_BYTES, MAX_METADATA_VALUE_BYTES,
    Metadata, PendingState, Side, Transfer, TransferKind,
};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use crate::error::ApiError;

/// Message prefix of the error for an amount sent as a JSON number (classified by the extractor).
pub const AMOUNT_NOT_STRING: &str = "amount must be a JSON string";
/// Message prefix of the error for a malformed id (classified by the extractor).
pub const ID_INVALID: &str = "id must be a JSON string of 1 to 39 decimal digits";
/// Metadata keys with this prefix are the server's (e.g. `aurum.api_key`).
pub const RESERVED_METADATA_PREFIX: &str = "aurum.";
/// Metadata key under which the server records the id of the API key that created a transfer or
/// entry. It is part of the command, hence of the ledger's idempotency fingerprint: a retry of the
/// same id with another API key is `id_exists_with_different_fields`.
pub const API_KEY_METADATA_KEY: &str = "aurum.api_key";

/// A u128 identifier as a decimal string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ToSchema)]
#[schema(value_type = String, example = "1001")]
pub struct Id(pub u128);

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal string id")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                parse_id(v).map(Id).ok_or_else(|| E::custom(format!("{ID_INVALID}; got {v:?}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                Err(E::custom(format!("{ID_INVALID}; got the number {v} (send \"{v}\")")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
                Err(E::custom(format!("{ID_INVALID}; got the number {v}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Id, E> {
                Err(E::custom(format!("{ID_INVALID}; got the number {v}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parse 1–39 ASCII digits into a u128 (None: not an id).
pub fn parse_id(v: &str) -> Option<u128> {
    if v.is_empty() || v.len() > 39 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u128>().ok()
}

/// A decimal amount as sent by the client: a JSON string, converted with the asset's scale later.
#[derive(Debug, Clone, PartialEq, Eq, ToSchema)]
#[schema(value_type = String, example = "12.500")]
pub struct DecimalString(pub String);

impl<'de> Deserialize<'de> for DecimalString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DecimalString, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DecimalString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal string such as \"12.50\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DecimalString, E> {
                Ok(DecimalString(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DecimalString, E> {
                Err(E::custom(format!("{AMOUNT_NOT_STRING} of a decimal, e.g. \"{v}\", not a number")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DecimalString, E> {
                Err(E::custom(format!("{AMOUNT_NOT_STRING} of a decimal, not the number {v}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<DecimalString, E> {
                Err(E::custom(format!("{AMOUNT_NOT_STRING} of a decimal, not the number {v}")))
            }
        }
        d.deserialize_any(V)
    }
}

impl DecimalString {
    /// Exact base units for an asset of `scale`, or the problem naming `field`.
    pub fn to_units(&self, scale: u8, field: &str) -> Result<u128, ApiError> {
        self.to_units_at(scale, || field.to_string())
    }

    /// [`DecimalString::to_units`] with the field's pointer built only for a problem: a batch
    /// item's pointer is formatted (`/transfers/{i}/amount`), and formatting it for every valid
    /// item cost more than parsing the amount.
    pub fn to_units_at(&self, scale: u8, field: impl FnOnce() -> String) -> Result<u128, ApiError> {
        parse_amount(&self.0, scale).map_err(|e| {
            let code = match e {
                DecimalError::TooPrecise { .. } => "amount_too_precise",
                DecimalError::Overflow(_) => "amount_too_large",
                _ => "amount_invalid",
            };
            ApiError::Amount { code, field: field(), detail: e.to_string() }
        })
    }
}

/// Client metadata: string keys and values. Keys starting with `aurum.` are rejected.
pub type MetadataIn = BTreeMap<String, String>;

/// Check client metadata for reserved keys and for the journal's size limits (entries, key and
/// value bytes: a command beyond them could not be journalled); `field` is the pointer of the
/// metadata object.
pub fn client_metadata(m: Option<MetadataIn>, field: &str) -> Result<Metadata, ApiError> {
    client_metadata_at(m, || field.to_string())
}

/// [`client_metadata`] with the metadata object's pointer built only for a problem (see
/// [`DecimalString::to_units_at`]).
pub fn client_metadata_at(m: Option<MetadataIn>, field: impl Fn() -> String) -> Result<Metadata, ApiError> {
    let m = m.unwrap_or_default();
    let pointer = |k: &str| format!("{}/{}", field(), k.replace('~', "~0").replace('/', "~1"));
    if let Some(k) = m.keys().find(|k| k.starts_with(RESERVED_METADATA_PREFIX)) {
        return Err(ApiError::ReservedMetadataKey { field: pointer(k) });
    }
    if m.len() > MAX_METADATA_ENTRIES {
        return Err(ApiError::field(
            "invalid_value",
            field(),
            format!("{} metadata entries; at most {MAX_METADATA_ENTRIES}", m.len()),
        ));
    }
    for (k, v) in &m {
        if k.len() > MAX_METADATA_KEY_BYTES {
            return Err(ApiError::field(
                "invalid_value",
                pointer(k),
                format!("metadata key of {} bytes; at most {MAX_METADATA_KEY_BYTES}", k.len()),
            ));
        }
        if v.len() > MAX_METADATA_VALUE_BYTES {
            return Err(ApiError::field(
                "invalid_value",
                pointer(k),
                format!("metadata value of {} bytes; at most {MAX_METADATA_VALUE_BYTES}", v.len()),
            ));
        }
    }
    Ok(m)
}

/// Account kind in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KindJson {
    /// Debit-normal: what the business owns.
    Asset,
    /// Credit-normal: what the business owes.
    Liability,
    /// Credit-normal: owners' stake.
    Equity,
    /// Credit-normal: income.
    Income,
    /// Debit-normal: expenses.
    Expense,
}

impl From<KindJson> for AccountKind {
    fn from(k: KindJson) -> AccountKind {
        match k {
            KindJson::Asset => AccountKind::Asset,
            KindJson::Liability => AccountKind::Liability,
            KindJson::Equity => AccountKind::Equity,
            KindJson::Income => AccountKind::Income,
            KindJson::Expense => AccountKind::Expense,
        }
    }
}

/// Account limit in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LimitJson {
    /// No limit.
    #[default]
    None,
    /// Debits (pending + posted) must not exceed posted credits plus the overdraft.
    DebitsMustNotExceedCredits,
    /// Credits (pending + posted) must not exceed posted debits plus the overdraft.
    CreditsMustNotExceedDebits,
}

/// Transfer kind in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferKindJson {
    /// Single-phase, posted at once.
    Posted,
    /// A pending transfer (a hold).
    Pending,
    /// Posts a pending transfer.
    PostPending,
    /// Voids a pending transfer.
    VoidPending,
}

impl TransferKindJson {
    /// From the ledger's kind.
    pub fn of(k: TransferKind) -> TransferKindJson {
        match k {
            TransferKind::Posted => TransferKindJson::Posted,
            TransferKind::Pending => TransferKindJson::Pending,
            TransferKind::PostPending => TransferKindJson::PostPending,
            TransferKind::VoidPending => TransferKindJson::VoidPending,
        }
    }

    /// To the ledger's kind.
    pub fn to_ledger(self) -> TransferKind {
        match self {
            TransferKindJson::Posted => TransferKind::Posted,
            TransferKindJson::Pending => TransferKind::Pending,
            TransferKindJson::PostPending => TransferKind::PostPending,
            TransferKindJson::VoidPending => TransferKind::VoidPending,
        }
    }
}

/// Where a pending transfer is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PendingStateJson {
    /// Not a pending transfer.
    None,
    /// Holding funds.
    Pending,
    /// Posted.
    Posted,
    /// Voided.
    Voided,
    /// Expired.
    Expired,
}

impl PendingStateJson {
    /// From the ledger's state.
    pub fn of(s: PendingState) -> PendingStateJson {
        match s {
            PendingState::None => PendingStateJson::None,
            PendingState::Pending => PendingStateJson::Pending,
            PendingState::Posted => PendingStateJson::Posted,
            PendingState::Voided => PendingStateJson::Voided,
            PendingState::Expired => PendingStateJson::Expired,
        }
    }
}

/// Debit or credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SideJson {
    /// Debit.
    Debit,
    /// Credit.
    Credit,
}

impl From<SideJson> for Side {
    fn from(s: SideJson) -> Side {
        match s {
            SideJson::Debit => Side::Debit,
            SideJson::Credit => Side::Credit,
        }
    }
}

impl From<Side> for SideJson {
    fn from(s: Side) -> SideJson {
        match s {
            Side::Debit => SideJson::Debit,
            Side::Credit => SideJson::Credit,
        }
    }
}

/// An asset.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetView {
    /// Numeric id.
    pub id: u32,
    /// Code, e.g. `XAU`.
    pub code: String,
    /// Decimal places of one base unit.
    pub scale: u8,
    /// When it was created (ns since the Unix epoch).
    pub timestamp_ns: u64,
}

impl AssetView {
    /// From the ledger's asset.
    pub fn of(a: &Asset) -> AssetView {
        AssetView { id: a.id.0, code: a.code.clone(), scale: a.scale, timestamp_ns: a.timestamp.0 }
    }
}

/// An account with its balances (decimal strings in its asset's units). The same fields as
/// `aurum ledger account --json`, plus its limit, history flag and creation time.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountView {
    /// Account id.
    pub id: Id,
    /// Asset code.
    pub asset: String,
    /// Accounting kind.
    pub kind: KindJson,
    /// Posted debits.
    pub debits_posted: String,
    /// Posted credits.
    pub credits_posted: String,
    /// Pending debits (holds).
    pub debits_pending: String,
    /// Pending credits.
    pub credits_pending: String,
    /// Posted balance on the account's normal side (may be negative).
    pub balance: String,
    /// Balance minus the pending holds that would reduce it.
    pub available: String,
    /// Closed accounts accept no transfers.
    pub closed: bool,
    /// Annotations.
    pub metadata: BTreeMap<String, String>,
    /// Balance limit.
    pub limit: LimitJson,
    /// Overdraft allowed beyond the limit.
    pub overdraft: String,
    /// Whether balance history is kept (for `balance?as_of` and statements).
    pub history: bool,
    /// When it was created (ns since the Unix epoch).
    pub timestamp_ns: u64,
}

fn kind_json(k: AccountKind) -> KindJson {
    match k {
        AccountKind::Asset => KindJson::Asset,
        AccountKind::Liability => KindJson::Liability,
        AccountKind::Equity => KindJson::Equity,
        AccountKind::Income => KindJson::Income,
        AccountKind::Expense => KindJson::Expense,
    }
}

impl AccountView {
    /// From the ledger's account and its asset.
    pub fn of(a: &Account, asset: &Asset) -> AccountView {
        let s = asset.scale;
        let (limit, overdraft) = match a.limit {
            Limit::None => (LimitJson::None, 0),
            Limit::DebitsMustNotExceedCredits { overdraft } => (LimitJson::DebitsMustNotExceedCredits, overdraft),
            Limit::CreditsMustNotExceedDebits { overdraft } => (LimitJson::CreditsMustNotExceedDebits, overdraft),
        };
        AccountView {
            id: Id(a.id.0),
            asset: asset.code.clone(),
            kind: kind_json(a.kind),
            debits_posted: format_amount(a.debits_posted, s),
            credits_posted: format_amount(a.credits_posted, s),
            debits_pending: format_amount(a.debits_pending, s),
            credits_pending: format_amount(a.credits_pending, s),
            balance: format_signed(a.balance(), s),
            available: format_signed(a.available(), s),
            closed: a.closed,
            metadata: a.metadata.clone(),
            limit,
            overdraft: format_amount(overdraft, s),
            history: a.history,
            timestamp_ns: a.timestamp.0,
        }
    }
}

/// A transfer: single-phase, pending, or the post/void of a pending one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferView {
    /// Transfer id.
    pub id: Id,
    /// How it came about.
    pub kind: TransferKindJson,
    /// Account debited.
    pub debit_account: Id,
    /// Account credited.
    pub credit_account: Id,
    /// Asset code.
    pub asset: String,
    /// Amount moved (for balancing transfers and partial posts: what was decided).
    pub amount: String,
    /// For posts and voids: the pending transfer acted on.
    pub pending_id: Option<Id>,
    /// For pending transfers with a timeout: when the hold expires (ns since the Unix epoch).
    pub expires_at_ns: Option<u64>,
    /// For pending transfers: where the hold is in its life (`none` for other kinds). In the
    /// response to a create, the state at creation.
    pub pending_state: PendingStateJson,
    /// Annotations, including `aurum.api_key`: the id of the API key that created it.
    pub metadata: BTreeMap<String, String>,
    /// When it was applied (ns since the Unix epoch).
    pub timestamp_ns: u64,
}

impl TransferView {
    /// From the ledger's transfer and its asset.
    pub fn of(t: &Transfer, asset: &Asset) -> TransferView {
        TransferView {
            id: Id(t.id.0),
            kind: TransferKindJson::of(t.kind),
            debit_account: Id(t.debit_account.0),
            credit_account: Id(t.credit_account.0),
            asset: asset.code.clone(),
            amount: format_amount(t.amount, asset.scale),
            pending_id: t.pending_id.map(|p| Id(p.0)),
            expires_at_ns: t.expires_at.map(|e| e.0),
            pending_state: PendingStateJson::of(t.pending_state),
            metadata: t.metadata.clone(),
            timestamp_ns: t.timestamp.0,
        }
    }
}

/// One posting of a journal entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostingView {
    /// Account.
    pub account: Id,
    /// Debit or credit.
    pub side: SideJson,
    /// Amount in the account's asset.
    pub amount: String,
    /// The account's asset code.
    pub asset: String,
}

/// A journal entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryView {
    /// Entry id (shares the namespace of transfer ids).
    pub id: Id,
    /// Postings, as submitted.
    pub postings: Vec<PostingView>,
    /// Annotations, including `aurum.api_key`.
    pub metadata: BTreeMap<String, String>,
    /// When it was applied (ns since the Unix epoch).
    pub timestamp_ns: u64,
}

impl EntryView {
    /// From the ledger's entry; `asset_of` gives each posting account's (code, scale).
    pub fn of(e: &Entry, asset_of: impl Fn(aurum_ledger::AccountId) -> (String, u8)) -> EntryView {
        EntryView {
            id: Id(e.id.0),
            postings: e
                .postings
                .iter()
                .map(|p| {
                    let (code, scale) = asset_of(p.account);
                    PostingView {
                        account: Id(p.account.0),
                        side: p.side.into(),
                        amount: format_amount(p.amount, scale),
                        asset: code,
                    }
                })
                .collect(),
            metadata: e.metadata.clone(),
            timestamp_ns: e.timestamp.0,
        }
    }
}
