//! Integration tests of aurum-chain against a real Anvil (the pinned binary from contracts/node_modules): the
//! token, the feeds, the indexer (backfill, follow, reorgs, restart) and the ledger mirror.

mod feeds;
mod indexer;
mod token;

use aurum_chain::Error;
use aurum_chain::GoldToken::GoldTokenErrors;
use aurum_chain::alloy::primitives::U256;
use aurum_chain::alloy::rpc::types::TransactionReceipt;
use aurum_chain::alloy::sol_types::SolEvent;
use aurum_chain::deploy::ONE_OUNCE;

/// The decoded events of type `E` in `receipt`, in log order.
pub fn events<E: SolEvent>(receipt: &TransactionReceipt) -> Vec<E> {
    receipt.logs().iter().filter_map(|log| log.log_decode::<E>().ok()).map(|log| log.inner.data).collect()
}

/// The token's custom error carried by a refused transaction.
pub fn refusal(result: Result<TransactionReceipt, Error>) -> GoldTokenErrors {
    let err = result.expect_err("transaction should have been refused");
    err.revert::<GoldTokenErrors>().unwrap_or_else(|| panic!("not a GoldToken revert: {err}"))
}

/// `n` whole tokens (fine troy ounces) in base units.
pub fn oz(n: u64) -> U256 {
    ONE_OUNCE * U256::from(n)
}
