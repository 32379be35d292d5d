//! Aurum's chain side (DESIGN.md §5): typed alloy bindings for the `GoldToken` and `AggregatorFeed` contracts
//! (generated from the checked-in artifacts in `contracts/artifacts/`), the Anvil lifecycle (spawn the pinned
//! binary, or connect to any JSON-RPC URL), deployment of the token with its reserve and price feeds, the
//! indexer (backfill, follow, reorgs, confirmation depth, durable cursor) and the mirror of the token's final
//! events into the ledger.

pub mod anvil;
pub mod bindings;
pub mod deploy;
pub mod events;
pub mod holdings;
pub mod indexer;
pub mod mirror;

pub use alloy;
pub use anvil::{AnvilConfig, LocalAnvil, anvil_binary, connect, ensure_installed};
pub use bindings::{AggregatorFeed, GoldToken};
pub use deploy::{DeployConfig, Deployment, deploy_all, send};
pub use events::ChainEvent;
pub use holdings::{Holdings, HoldingsError, holdings_at};
pub use indexer::{Indexer, IndexerConfig, IndexerError};
pub use mirror::{Mirror, MirrorConfig, MirrorError};

use alloy::primitives::TxHash;
use alloy::sol_types::SolInterface;

/// Everything that can go wrong talking to the chain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pinned Anvil binary is not installed.
    #[error("anvil binary not found at {0}: run `npm ci` in contracts/")]
    AnvilMissing(std::path::PathBuf),
    /// Installing the pinned Anvil with npm failed.
    #[error("installing anvil: {0}")]
    Install(String),
    /// Anvil could not be started or did not become ready.
    #[error("starting anvil: {0}")]
    AnvilSpawn(#[from] alloy::node_bindings::NodeError),
    /// The JSON-RPC endpoint could not be reached or answered with an error.
    #[error("json-rpc: {0}")]
    Rpc(#[from] alloy::transports::TransportError),
    /// A contract call or transaction failed (a revert carries the contract's custom error; see [`Error::revert`]).
    #[error("contract: {0}")]
    Contract(#[from] alloy::contract::Error),
    /// Waiting for a transaction's receipt failed.
    #[error("pending transaction: {0}")]
    Pending(#[from] alloy::providers::PendingTransactionError),
    /// A transaction was mined but reverted.
    #[error("transaction {0} reverted")]
    Reverted(TxHash),
    /// A deployment transaction produced no contract address.
    #[error("deployment transaction {0} created no contract")]
    NoContractAddress(TxHash),
    /// A private key given for a remote endpoint is malformed.
    #[error("invalid private key: {0}")]
    InvalidKey(String),
}

impl Error {
    /// Decodes the revert data carried by this error into one of the custom errors of interface `E` (e.g.
    /// [`GoldToken::GoldTokenErrors`]); `None` if this is not a revert or the data matches no error of `E`.
    pub fn revert<E: SolInterface>(&self) -> Option<E> {
        match self {
            Self::Contract(e) => e.as_decoded_interface_error::<E>(),
            Self::Rpc(e) => e.as_error_resp().and_then(|r| r.as_revert_data()).and_then(|d| E::abi_decode(&d).ok()),
            _ => None,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
