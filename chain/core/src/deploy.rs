//! Deployment of the reserve feed, the price feed and the gold token, wired together, with the roles granted.

use std::time::Duration;

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionReceipt;

use crate::bindings::{AggregatorFeed, GoldToken};
use crate::{Error, Result};

/// One token (one fine troy ounce) in base units: 10^18.
pub const ONE_OUNCE: U256 = U256::from_limbs([1_000_000_000_000_000_000, 0, 0, 0]);

/// How long [`send`] waits for a transaction to be included before giving up.
pub const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Parameters of [`deploy_all`].
#[derive(Debug, Clone)]
pub struct DeployConfig {
    /// ERC-20 name.
    pub name: String,
    /// ERC-20 symbol.
    pub symbol: String,
    /// Decimals of the reserve feed (answer = fine troy ounces × 10^decimals).
    pub reserve_decimals: u8,
    /// Decimals of the price feed (answer = USD per fine troy ounce × 10^decimals).
    pub price_decimals: u8,
    /// Oldest reserve attestation (seconds) a mint accepts.
    pub max_reserve_age: u64,
    /// Mint rate limit: bucket capacity in token base units.
    pub mint_capacity: U256,
    /// Mint rate limit: refill in token base units per second.
    pub mint_refill_per_second: U256,
}

impl Default for DeployConfig {
    fn default() -> Self {
        Self {
            name: "Aurum Gold".into(),
            symbol: "AUG".into(),
            reserve_decimals: 8,
            price_decimals: 8,
            max_reserve_age: 24 * 3600,
            mint_capacity: ONE_OUNCE * U256::from(1_000_000u64),
            mint_refill_per_second: ONE_OUNCE * U256::from(100u64),
        }
    }
}

/// The deployed contracts' addresses and where they start on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deployment {
    /// The gold token.
    pub token: Address,
    /// The proof-of-reserve feed the token's secure mint reads.
    pub reserve_feed: Address,
    /// The XAU/USD price feed.
    pub price_feed: Address,
    /// Block of the first deployment transaction (where an indexer starts its backfill).
    pub first_block: u64,
}

impl Deployment {
    /// The token bound to `provider` (which signs as whichever account it was built with).
    pub fn token(&self, provider: DynProvider) -> GoldToken::GoldTokenInstance<DynProvider> {
        GoldToken::new(self.token, provider)
    }

    /// The reserve feed bound to `provider`.
    pub fn reserve_feed(&self, provider: DynProvider) -> AggregatorFeed::AggregatorFeedInstance<DynProvider> {
        AggregatorFeed::new(self.reserve_feed, provider)
    }

    /// The price feed bound to `provider`.
    pub fn price_feed(&self, provider: DynProvider) -> AggregatorFeed::AggregatorFeedInstance<DynProvider> {
        AggregatorFeed::new(self.price_feed, provider)
    }
}

/// Gas sent above the estimate: 1/5 (20%).
pub const GAS_HEADROOM_DIVISOR: u64 = 5;

/// Sends a contract transaction and waits for its receipt; a revert (at gas estimation or mined) is an error.
///
/// On an automining node (Anvil) the receipt exists as soon as the send returns, so it is read at once; otherwise
/// this falls back to waiting for the transaction to be included.
pub async fn send<P: Provider, D: CallDecoder>(call: CallBuilder<P, D>) -> Result<TransactionReceipt> {
    // Simulate first: a refusal then surfaces before the nonce filler hands out a nonce (alloy's cached nonce
    // manager would otherwise leave a gap after a failed gas estimation, and every later transaction would stall).
    call.call_raw().await?;
    // Gas headroom: the estimate is taken against the pending block, but the transaction may be
    // mined a second later, and a branch on `block.timestamp` (the mint bucket's refill) then costs
    // more: with the bare estimate it ran out of gas and reverted, rarely, on a loaded machine.
    let estimate = call.estimate_gas().await?;
    let call = call.gas(estimate.saturating_add(estimate / GAS_HEADROOM_DIVISOR));
    let pending = call.send().await?.with_timeout(Some(RECEIPT_TIMEOUT));
    let hash = *pending.tx_hash();
    let receipt = match call.provider.get_transaction_receipt(hash).await? {
        Some(receipt) => receipt,
        None => pending.get_receipt().await?,
    };
    if !receipt.status() {
        return Err(Error::Reverted(hash));
    }
    Ok(receipt)
}

/// Deploys the reserve feed, the price feed and the token (reading the reserve feed), and grants `admin` the
/// feeds' updater role and the token's supply controller, pauser and asset protection roles.
///
/// `provider` must sign as `admin`: it becomes `DEFAULT_ADMIN_ROLE` of all three contracts and sends the grants.
pub async fn deploy_all(provider: &DynProvider, admin: Address, config: &DeployConfig) -> Result<Deployment> {
    let first_block = provider.get_block_number().await? + 1;
    let reserve_feed = deploy(AggregatorFeed::deploy_builder(
        provider,
        admin,
        admin,
        config.reserve_decimals,
        "Aurum vault reserve (fine troy oz)".into(),
    ))
    .await?;
    let price_feed =
        deploy(AggregatorFeed::deploy_builder(provider, admin, admin, config.price_decimals, "XAU / USD".into()))
            .await?;
    let token = deploy(GoldToken::deploy_builder(
        provider,
        config.name.clone(),
        config.symbol.clone(),
        admin,
        reserve_feed,
        U256::from(config.max_reserve_age),
        config.mint_capacity,
        config.mint_refill_per_second,
    ))
    .await?;

    let gold = GoldToken::new(token, provider.clone());
    for role in [
        gold.SUPPLY_CONTROLLER_ROLE().call().await?,
        gold.PAUSER_ROLE().call().await?,
        gold.ASSET_PROTECTION_ROLE().call().await?,
    ] {
        send(gold.grantRole(role, admin)).await?;
    }
    Ok(Deployment { token, reserve_feed, price_feed, first_block })
}

async fn deploy<D: CallDecoder>(builder: CallBuilder<&DynProvider, D>) -> Result<Address> {
    let receipt = send(builder).await?;
    receipt.contract_address.ok_or(Error::NoContractAddress(receipt.transaction_hash))
}
