//! Aggregation of one symbol's observations into one price per round.
//!
//! Per round, over the newest observation of each source: verify the signature; drop what is unparseable, has
//! more decimals than the symbol's scale (never rounded), is non-positive, stale, or from the future; require a
//! quorum; take the low median (the lower middle value of an even count: exact, no averaging); reject outliers
//! whose distance from the median exceeds a multiple of the median absolute deviation (with a floor, so that
//! identical honest sources do not make every tiny difference an outlier); re-check the quorum; take the low
//! median of what is left. Then the jump breaker: a price that moves more than `jump_limit_bps` from the last
//! published one is held, not published, until it is confirmed by `confirm_rounds` consecutive rounds near the new
//! level (a real move) or an operator resets the breaker. Every report says which sources were used, which were
//! dropped, and why.

use std::collections::BTreeMap;

use aurum_ledger::decimal::parse_amount;
use serde::Serialize;

use crate::signing::{Observation, SignatureError, SourceKeys};

/// How far in the future (ms) a source's timestamp may be (clock skew) before the observation is refused.
pub const MAX_FUTURE_SKEW_MS: i64 = 5_000;
/// Most sources considered per round (the newest observation of each).
pub const MAX_SOURCES_PER_ROUND: usize = 256;

/// How one symbol is aggregated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, Serialize)]
pub struct SymbolConfig {
    /// The symbol (`XAU/USD`).
    pub symbol: String,
    /// Decimal places of the aggregate (the on-chain feed's decimals).
    pub scale: u8,
    /// Sources needed after every drop.
    pub quorum: usize,
    /// Oldest observation accepted, relative to the round's time.
    pub max_age_ms: i64,
    /// Outliers: distance from the median above `mad_limit_permille / 1000` × MAD is rejected (3000 = 3 MADs).
    pub mad_limit_permille: u32,
    /// The MAD used is at least `median × mad_floor_bps / 10 000`.
    pub mad_floor_bps: u32,
    /// A published price moving more than this from the last one trips the breaker.
    pub jump_limit_bps: u32,
    /// Rounds in a row near a new level that confirm a jump (0: only an operator reset accepts it).
    pub confirm_rounds: u32,
}

/// Why an observation was not used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum DropReason {
    /// The signature does not hold.
    BadSignature {
        /// Why.
        detail: String,
    },
    /// An older observation of a source that sent a newer one this round.
    Superseded,
    /// No value (an event, not a price).
    NoValue,
    /// The value is not an exact decimal at the symbol's scale.
    Unparseable {
        /// Why.
        detail: String,
    },
    /// Zero or negative.
    NonPositive,
    /// Older than `max_age_ms`.
    Stale {
        /// Its age.
        age_ms: i64,
    },
    /// Dated in the future beyond the allowed skew.
    FromTheFuture {
        /// How far ahead.
        ahead_ms: i64,
    },
    /// Beyond [`MAX_SOURCES_PER_ROUND`] sources this round (sources are taken in name order).
    OverLimit,
    /// Too far from the median.
    Outlier {
        /// |value − median|, in base units.
        distance: i128,
        /// The largest distance allowed this round.
        limit: i128,
    },
}

/// What a round produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RoundOutcome {
    /// A price to publish.
    Published {
        /// Base units at the symbol's scale.
        value: i128,
    },
    /// Too few good sources.
    NoQuorum {
        /// Good sources.
        have: usize,
        /// Needed.
        need: usize,
    },
    /// The price jumped; held until confirmed or reset.
    BreakerTripped {
        /// The held price.
        candidate: i128,
        /// The last published price.
        last: i128,
        /// The move, in basis points.
        jump_bps: u128,
        /// Rounds near the new level so far.
        confirmations: u32,
    },
}

/// The record of one round: what was decided and from what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoundReport {
    /// The symbol.
    pub symbol: String,
    /// Decimal places of every value in the report (the symbol's scale): a value `v` is the price
    /// `v / 10^scale`. Recorded so that a reader of the journal needs no configuration.
    pub scale: u8,
    /// Round number (1, 2, ...).
    pub round: u64,
    /// The round's time (Unix ms).
    pub at_ms: i64,
    /// The decision.
    pub outcome: RoundOutcome,
    /// Sources used and their values (base units).
    pub used: Vec<(String, i128)>,
    /// Sources dropped and why.
    pub dropped: Vec<(String, DropReason)>,
}

impl RoundReport {
    /// The published value, if any.
    pub fn published(&self) -> Option<i128> {
        match self.outcome {
            RoundOutcome::Published { value } => Some(value),
            _ => None,
        }
    }
}

/// The breaker's memory of a held jump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    candidate: i128,
    confirmations: u32,
}

/// Aggregates one symbol, round after round. Its state is O(1): the last published price and a held jump.
#[derive(Debug, Clone)]
pub struct Aggregator {
    config: SymbolConfig,
    keys: SourceKeys,
    last: Option<i128>,
    held: Option<Held>,
    round: u64,
}

/// Parses a signed exact decimal at `scale`; more decimals than `scale` is an error, never a rounding.
pub fn parse_value(text: &str, scale: u8) -> Result<i128, String> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let units = parse_amount(digits, scale).map_err(|e| format!("{text:?}: {e}"))?;
    let units = i128::try_from(units).map_err(|_| format!("{text:?} is out of range"))?;
    Ok(if negative { -units } else { units })
}

/// The lower middle of sorted `values` (exact: no averaging of the two middles).
fn low_median(sorted: &[i128]) -> i128 {
    debug_assert!(!sorted.is_empty() && sorted.windows(2).all(|w| w[0] <= w[1]));
    sorted[(sorted.len() - 1) / 2]
}

impl Aggregator {
    /// An aggregator for `config`, verifying with `keys`.
    pub fn new(config: SymbolConfig, keys: SourceKeys) -> Self {
        assert!(config.quorum >= 1, "a quorum of zero sources would publish nothing's opinion");
        Self { config, keys, last: None, held: None, round: 0 }
    }

    /// The configuration.
    pub fn config(&self) -> &SymbolConfig {
        &self.config
    }

    /// The last published price.
    pub fn last(&self) -> Option<i128> {
        self.last
    }

    /// Seeds the last published price (e.g. from the feed on chain at start), so the breaker has a reference.
    pub fn set_last(&mut self, value: i128) {
        self.last = Some(value);
    }

    /// An operator accepts the held jump: the next round publishes whatever it aggregates.
    pub fn reset_breaker(&mut self) {
        self.held = None;
        self.last = None;
    }

    /// Runs one round at `now_ms` over `observations` (of any symbols; only this one's are considered).
    pub fn round(&mut self, observations: &[Observation], now_ms: i64) -> RoundReport {
        self.round += 1;
        let c = &self.config;
        let mut dropped = Vec::new();
        // The newest observation of each source; older ones are superseded.
        let mut newest: BTreeMap<&str, &Observation> = BTreeMap::new();
        for o in observations.iter().filter(|o| o.symbol == c.symbol) {
            match newest.get(o.source.as_str()) {
                Some(prev) if prev.observed_at_ms >= o.observed_at_ms => {
                    dropped.push((o.source.clone(), DropReason::Superseded));
                }
                Some(prev) => {
                    dropped.push((prev.source.clone(), DropReason::Superseded));
                    newest.insert(&o.source, o);
                }
                None => {
                    newest.insert(&o.source, o);
                }
            }
        }
        let mut good: Vec<(String, i128)> = Vec::new();
        for (n, (source, o)) in newest.into_iter().enumerate() {
            if n >= MAX_SOURCES_PER_ROUND {
                dropped.push((source.to_string(), DropReason::OverLimit));
                continue;
            }
            let verdict = (|| {
                self.keys.verify(o).map_err(|e: SignatureError| DropReason::BadSignature { detail: e.to_string() })?;
                let text = o.value.as_deref().ok_or(DropReason::NoValue)?;
                let value = parse_value(text, c.scale).map_err(|detail| DropReason::Unparseable { detail })?;
                if value <= 0 {
                    return Err(DropReason::NonPositive);
                }
                let age = now_ms - o.observed_at_ms;
                if age > c.max_age_ms {
                    return Err(DropReason::Stale { age_ms: age });
                }
                if -age > MAX_FUTURE_SKEW_MS {
                    return Err(DropReason::FromTheFuture { ahead_ms: -age });
                }
                Ok(value)
            })();
            match verdict {
                Ok(v) => good.push((source.to_string(), v)),
                Err(reason) => dropped.push((source.to_string(), reason)),
            }
        }

        let report = |outcome, used, dropped| RoundReport {
            symbol: c.symbol.clone(),
            scale: c.scale,
            round: self.round,
            at_ms: now_ms,
            outcome,
            used,
            dropped,
        };
        if good.len() < c.quorum {
            return report(RoundOutcome::NoQuorum { have: good.len(), need: c.quorum }, good, dropped);
        }
        // Outliers by median absolute deviation, with a floor relative to the median.
        let mut values: Vec<i128> = good.iter().map(|(_, v)| *v).collect();
        values.sort_unstable();
        let median = low_median(&values);
        let mut deviations: Vec<i128> = values.iter().map(|v| (v - median).abs()).collect();
        deviations.sort_unstable();
        let mad = low_median(&deviations);
        let floor = median.saturating_mul(i128::from(c.mad_floor_bps)) / 10_000;
        let limit = mad.max(floor).saturating_mul(i128::from(c.mad_limit_permille)) / 1_000;
        let mut used = Vec::with_capacity(good.len());
        for (source, v) in good {
            let distance = (v - median).abs();
            if distance > limit {
                dropped.push((source, DropReason::Outlier { distance, limit }));
            } else {
                used.push((source, v));
            }
        }
        if used.len() < c.quorum {
            return report(RoundOutcome::NoQuorum { have: used.len(), need: c.quorum }, used, dropped);
        }
        let mut kept: Vec<i128> = used.iter().map(|(_, v)| *v).collect();
        kept.sort_unstable();
        let value = low_median(&kept);

        // The jump breaker.
        if let Some(last) = self.last {
            let jump_bps = (value - last).unsigned_abs().saturating_mul(10_000) / last.unsigned_abs().max(1);
            if jump_bps > u128::from(c.jump_limit_bps) {
                let near = |a: i128, b: i128| {
                    (a - b).unsigned_abs().saturating_mul(10_000) / b.unsigned_abs().max(1)
                        <= u128::from(c.jump_limit_bps)
                };
                let confirmations = match self.held {
                    Some(h) if near(value, h.candidate) => h.confirmations + 1,
                    _ => 0,
                };
                if c.confirm_rounds == 0 || confirmations < c.confirm_rounds {
                    self.held = Some(Held { candidate: value, confirmations });
                    return report(
                        RoundOutcome::BreakerTripped { candidate: value, last, jump_bps, confirmations },
                        used,
                        dropped,
                    );
                }
            }
        }
        self.held = None;
        self.last = Some(value);
        report(RoundOutcome::Published { value }, used, dropped)
    }
}
