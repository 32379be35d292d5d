//! Indexed logs decoded into the events Aurum acts on: token movements, supply changes, asset-protection actions
//! and feed answers. A log of an indexed contract that is not one of these (role grants, configuration) decodes to
//! [`ChainEvent::Other`]; a log that claims to be one of these but does not decode is an error.

use alloy::primitives::{Address, B256, I256, U256};
use alloy::sol_types::SolEvent;

use crate::bindings::{AggregatorFeed, GoldToken};
use crate::deploy::Deployment;
use crate::indexer::StoredLog;

/// A decoded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainEvent {
    /// ERC-20 transfer (mints come `from` zero and burns go `to` zero; see the specific events below).
    Transfer {
        /// Sender (zero for a mint).
        from: Address,
        /// Receiver (zero for a burn).
        to: Address,
        /// Token base units.
        amount: U256,
    },
    /// A secure mint.
    Minted {
        /// Receiver.
        to: Address,
        /// Token base units.
        amount: U256,
        /// The attested reserve (token base units) the mint was checked against.
        reserve: U256,
    },
    /// A redemption burn.
    Redeemed {
        /// The burned-from address.
        from: Address,
        /// Token base units.
        amount: U256,
        /// The off-chain redemption reference.
        reference: B256,
    },
    /// A frozen address's whole balance burned by asset protection.
    Wiped {
        /// The frozen address.
        account: Address,
        /// Token base units burned.
        amount: U256,
    },
    /// An address frozen.
    Frozen {
        /// The address.
        account: Address,
    },
    /// An address unfrozen.
    Unfrozen {
        /// The address.
        account: Address,
    },
    /// Token transfers paused.
    Paused,
    /// Token transfers resumed.
    Unpaused,
    /// A new reserve attestation on the reserve feed.
    ReserveAnswer {
        /// Answer (fine troy ounces × 10^feed decimals).
        answer: I256,
        /// Round id.
        round: U256,
        /// Feed timestamp.
        updated_at: U256,
    },
    /// A new price on the price feed.
    PriceAnswer {
        /// Answer (USD per fine troy ounce × 10^feed decimals).
        answer: I256,
        /// Round id.
        round: U256,
        /// Feed timestamp.
        updated_at: U256,
    },
    /// Any other log of an indexed contract.
    Other,
}

/// Why a log could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("log {log_index} of block {block} ({tx}): {reason}")]
pub struct DecodeError {
    /// Block number.
    pub block: u64,
    /// Log index.
    pub log_index: u64,
    /// Transaction hash.
    pub tx: B256,
    /// What failed.
    pub reason: String,
}

fn decode_as<E: SolEvent>(log: &StoredLog) -> Result<E, DecodeError> {
    E::decode_raw_log(log.topics.iter().copied(), &log.data).map_err(|e| DecodeError {
        block: log.block_number,
        log_index: log.log_index,
        tx: log.tx_hash,
        reason: format!("{} does not decode: {e}", E::SIGNATURE),
    })
}

/// Decodes `log`, emitted by one of `deployment`'s contracts.
pub fn decode(log: &StoredLog, deployment: &Deployment) -> Result<ChainEvent, DecodeError> {
    let Some(&topic0) = log.topics.first() else { return Ok(ChainEvent::Other) };
    if log.address == deployment.token {
        return Ok(match topic0 {
            GoldToken::Transfer::SIGNATURE_HASH => {
                let e: GoldToken::Transfer = decode_as(log)?;
                ChainEvent::Transfer { from: e.from, to: e.to, amount: e.value }
            }
            GoldToken::Minted::SIGNATURE_HASH => {
                let e: GoldToken::Minted = decode_as(log)?;
                ChainEvent::Minted { to: e.to, amount: e.amount, reserve: e.reserve }
            }
            GoldToken::Redeemed::SIGNATURE_HASH => {
                let e: GoldToken::Redeemed = decode_as(log)?;
                ChainEvent::Redeemed { from: e.from, amount: e.amount, reference: e.redemptionRef }
            }
            GoldToken::FrozenAddressWiped::SIGNATURE_HASH => {
                let e: GoldToken::FrozenAddressWiped = decode_as(log)?;
                ChainEvent::Wiped { account: e.account, amount: e.amount }
            }
            GoldToken::AddressFrozen::SIGNATURE_HASH => {
                ChainEvent::Frozen { account: decode_as::<GoldToken::AddressFrozen>(log)?.account }
            }
            GoldToken::AddressUnfrozen::SIGNATURE_HASH => {
                ChainEvent::Unfrozen { account: decode_as::<GoldToken::AddressUnfrozen>(log)?.account }
            }
            GoldToken::Paused::SIGNATURE_HASH => ChainEvent::Paused,
            GoldToken::Unpaused::SIGNATURE_HASH => ChainEvent::Unpaused,
            _ => ChainEvent::Other,
        });
    }
    let is_reserve = log.address == deployment.reserve_feed;
    if (is_reserve || log.address == deployment.price_feed) && topic0 == AggregatorFeed::AnswerUpdated::SIGNATURE_HASH {
        let e: AggregatorFeed::AnswerUpdated = decode_as(log)?;
        return Ok(if is_reserve {
            ChainEvent::ReserveAnswer { answer: e.current, round: e.roundId, updated_at: e.updatedAt }
        } else {
            ChainEvent::PriceAnswer { answer: e.current, round: e.roundId, updated_at: e.updatedAt }
        });
    }
    Ok(ChainEvent::Other)
}
