//! Pushing aggregated prices to an AggregatorV3 feed on chain, and reading them back safely.
//!
//! A push is a secp256k1-signed transaction through alloy (the EVM has no ed25519). The connector pushes when the
//! aggregate deviates from the feed's latest answer by at least `deviation_bps`, or when `heartbeat_secs` have
//! passed since the feed's last update, or when the feed has no answer yet — the Chainlink policy. Time is the
//! chain's (the latest block's timestamp), the clock the feed's `updatedAt` is written in.
//!
//! Consumers check staleness themselves: [`read_fresh`] refuses an answer older than the consumer's limit, as a
//! contract consuming the feed must (`updatedAt` against `block.timestamp`).

use aurum_chain::AggregatorFeed::{self, AggregatorFeedErrors};
use aurum_chain::alloy::eips::BlockNumberOrTag;
use aurum_chain::alloy::primitives::{I256, TxHash};
use aurum_chain::alloy::providers::{DynProvider, Provider};
use aurum_chain::send;

/// When to push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct PushPolicy {
    /// Push when the aggregate moves this many basis points from the feed's answer.
    pub deviation_bps: u32,
    /// Push when the feed's answer is this old, whatever the price did.
    pub heartbeat_secs: u64,
}

/// Why a push happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum PushReason {
    /// The feed had no answer.
    FirstAnswer,
    /// The price moved.
    Deviation {
        /// By this many basis points.
        bps: u128,
    },
    /// The heartbeat elapsed.
    Heartbeat {
        /// Seconds since the feed's last update.
        age_secs: u64,
    },
}

/// The feed's latest answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedAnswer {
    /// Round id.
    pub round: u128,
    /// Answer, base units at the feed's decimals.
    pub answer: i128,
    /// `updatedAt` (chain time, Unix seconds).
    pub updated_at: u64,
}

/// Errors talking to the feed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The chain call failed.
    #[error(transparent)]
    Chain(#[from] aurum_chain::Error),
    /// The answer does not fit the connector's integers.
    #[error("feed answer out of range: {0}")]
    OutOfRange(String),
    /// A consumer refused a stale answer.
    #[error("the feed's answer is {age_secs} s old, older than the {max_age_secs} s this consumer accepts")]
    Stale {
        /// Its age.
        age_secs: u64,
        /// The limit.
        max_age_secs: u64,
    },
    /// The feed has never been updated.
    #[error("the feed has no answer yet")]
    NoAnswer,
}

/// Whether (and why) to push `candidate` given the feed's `latest` answer, at chain time `now_secs`.
pub fn decide(policy: &PushPolicy, latest: Option<FeedAnswer>, candidate: i128, now_secs: u64) -> Option<PushReason> {
    let Some(latest) = latest else { return Some(PushReason::FirstAnswer) };
    let bps = (candidate - latest.answer).unsigned_abs().saturating_mul(10_000) / latest.answer.unsigned_abs().max(1);
    if bps >= u128::from(policy.deviation_bps) {
        return Some(PushReason::Deviation { bps });
    }
    let age_secs = now_secs.saturating_sub(latest.updated_at);
    if age_secs >= policy.heartbeat_secs {
        return Some(PushReason::Heartbeat { age_secs });
    }
    None
}

/// The latest block's timestamp: the chain's clock.
pub async fn chain_time(provider: &DynProvider) -> Result<u64, PushError> {
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .map_err(|e| PushError::Chain(e.into()))?
        .ok_or_else(|| PushError::OutOfRange("the node has no latest block".into()))?;
    Ok(block.header.timestamp)
}

/// The feed's latest answer, or `None` before its first update.
pub async fn latest(
    feed: &AggregatorFeed::AggregatorFeedInstance<DynProvider>,
) -> Result<Option<FeedAnswer>, PushError> {
    match feed.latestRoundData().call().await {
        Ok(r) => Ok(Some(FeedAnswer {
            round: u128::try_from(r.roundId).map_err(|_| PushError::OutOfRange(format!("round {}", r.roundId)))?,
            answer: i128::try_from(r.answer).map_err(|_| PushError::OutOfRange(format!("answer {}", r.answer)))?,
            updated_at: u64::try_from(r.updatedAt)
                .map_err(|_| PushError::OutOfRange(format!("updatedAt {}", r.updatedAt)))?,
        })),
        Err(e) => {
            let e = aurum_chain::Error::from(e);
            match e.revert::<AggregatorFeedErrors>() {
                Some(AggregatorFeedErrors::NoDataPresent(_)) => Ok(None),
                _ => Err(e.into()),
            }
        }
    }
}

/// What [`maybe_push`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOutcome {
    /// Why it pushed, if it did.
    pub reason: Option<PushReason>,
    /// The transaction, if it pushed.
    pub tx: Option<TxHash>,
    /// The feed's answer afterwards.
    pub latest: Option<FeedAnswer>,
}

/// Pushes `candidate` to `feed` if the policy says so (the provider must sign as an updater of the feed).
pub async fn maybe_push(
    feed: &AggregatorFeed::AggregatorFeedInstance<DynProvider>,
    policy: &PushPolicy,
    candidate: i128,
) -> Result<PushOutcome, PushError> {
    let before = latest(feed).await?;
    let now = chain_time(feed.provider()).await?;
    let Some(reason) = decide(policy, before, candidate, now) else {
        return Ok(PushOutcome { reason: None, tx: None, latest: before });
    };
    let answer = I256::try_from(candidate).map_err(|_| PushError::OutOfRange(candidate.to_string()))?;
    let receipt = send(feed.updateAnswer(answer)).await?;
    Ok(PushOutcome { reason: Some(reason), tx: Some(receipt.transaction_hash), latest: latest(feed).await? })
}

/// A consumer's read: the latest answer, refused if older than `max_age_secs` at chain time.
pub async fn read_fresh(
    feed: &AggregatorFeed::AggregatorFeedInstance<DynProvider>,
    max_age_secs: u64,
) -> Result<FeedAnswer, PushError> {
    let answer = latest(feed).await?.ok_or(PushError::NoAnswer)?;
    let now = chain_time(feed.provider()).await?;
    let age_secs = now.saturating_sub(answer.updated_at);
    if age_secs > max_age_secs {
        return Err(PushError::Stale { age_secs, max_age_secs });
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deviation_heartbeat_and_first_answer() {
        let p = PushPolicy { deviation_bps: 50, heartbeat_secs: 3_600 };
        assert_eq!(decide(&p, None, 100, 0), Some(PushReason::FirstAnswer));
        let l = Some(FeedAnswer { round: 1, answer: 10_000, updated_at: 1_000 });
        assert_eq!(decide(&p, l, 10_049, 1_100), None, "0.49% within the band");
        assert_eq!(decide(&p, l, 10_050, 1_100), Some(PushReason::Deviation { bps: 50 }));
        assert_eq!(decide(&p, l, 9_950, 1_100), Some(PushReason::Deviation { bps: 50 }));
        assert_eq!(decide(&p, l, 10_000, 4_599), None);
        assert_eq!(decide(&p, l, 10_000, 4_600), Some(PushReason::Heartbeat { age_secs: 3_600 }));
    }
}
