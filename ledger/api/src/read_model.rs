//! History served from an external read model (the PostgreSQL projection) instead of the
//! engine's memory, when one is configured.
//!
//! Read-your-writes: before answering, a route asks the read model to catch up with the journal
//! as it is at that moment ([`ReadModel::catch_up`]); only if it then holds every block up to the
//! engine's head does the answer come from it, else (or on any error, logged) from memory. The
//! response says which with the `Aurum-Read-Source` header (`read-model` or `memory`), so the two
//! can be told apart and compared. The implementation lives outside this crate (the binary wires
//! `aurum-pg` in), so the API links no database driver.

use std::future::Future;
use std::pin::Pin;

use aurum_ledger::{
    Account, AccountId, AccountKind, AsOf, Asset, AssetId, BalanceAt, MovementFilter, StatementLine, Timestamp,
    Transfer,
};
use aurum_ledger_node::journal::JournalReader;
use axum::response::Response;

/// The response header naming where history came from.
pub const READ_SOURCE_HEADER: &str = "aurum-read-source";

/// A boxed future of a read model's answer; errors are messages (logged, then memory answers).
pub type ReadFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// A page of accounts, each with its asset, and the cursor of the next page.
pub type AccountPage = (Vec<(Account, Asset)>, Option<AccountId>);
/// A page of transfers, each with its asset, and the time to continue after.
pub type TransferPage = (Vec<(Transfer, Asset)>, Option<Timestamp>);

/// A store that answers history queries with the ledger's semantics.
pub trait ReadModel: Send + Sync + std::fmt::Debug + 'static {
    /// Project what `journal` holds beyond the read model's position; the last seq it then holds.
    fn catch_up<'a>(&'a self, journal: &'a JournalReader) -> ReadFuture<'a, u64>;

    /// As [`aurum_ledger::Ledger::statement`], at most `limit` lines.
    fn statement(
        &self,
        account: AccountId,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> ReadFuture<'_, Vec<StatementLine>>;

    /// As [`aurum_ledger::Ledger::balance_as_of`].
    fn balance_as_of(&self, account: AccountId, as_of: AsOf) -> ReadFuture<'_, Option<BalanceAt>>;

    /// As [`aurum_ledger::Ledger::accounts_page`] (each account with its asset): the same
    /// records and the same cursor.
    fn accounts_page(
        &self,
        after: Option<AccountId>,
        limit: usize,
        asset: Option<AssetId>,
        kind: Option<AccountKind>,
    ) -> ReadFuture<'_, AccountPage>;

    /// Accepted transfers (never entries: `filter.entries_only` is false) in the order applied,
    /// after the one applied at `after`, at most `limit`, each with its asset; and the timestamp
    /// to continue after (`None`: the end). The records are the ledger's.
    fn transfers_page(
        &self,
        after: Option<Timestamp>,
        limit: usize,
        filter: MovementFilter,
    ) -> ReadFuture<'_, TransferPage>;
}

/// `response` with the header saying where its history came from (`read-model` or `memory`).
pub fn with_source(mut response: Response, source: &'static str) -> Response {
    response.headers_mut().insert(READ_SOURCE_HEADER, axum::http::HeaderValue::from_static(source));
    response
}
