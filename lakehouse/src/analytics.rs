//! Named analytics, registered as views in every SQL session: `SELECT * FROM payment_volume`.
//!
//! Money stays exact: sums are over `decimal(38, 18)`, and the 95th percentile is the
//! nearest-rank value of the amounts themselves (an amount that occurred), not an interpolated or
//! approximate float.

use datafusion::prelude::SessionContext;

use crate::error::LakeError;

/// A named query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Analytic {
    /// The view's name.
    pub name: &'static str,
    /// What it answers.
    pub description: &'static str,
    /// Its SQL.
    pub sql: &'static str,
}

/// Every named analytic.
pub const ANALYTICS: &[Analytic] = &[
    Analytic {
        name: "payment_volume",
        description: "Payments per receiving account (merchant), asset and day: attempts, successes, success rate, volume applied",
        sql: "SELECT credit_account AS merchant, asset, date_trunc('day', ts) AS day, \
              count(*) AS attempts, \
              sum(CASE WHEN result = 'ok' THEN 1 ELSE 0 END) AS succeeded, \
              CAST(sum(CASE WHEN result = 'ok' THEN 1 ELSE 0 END) AS DOUBLE) / count(*) AS success_rate, \
              sum(CASE WHEN result = 'ok' THEN amount END) AS volume \
              FROM transfers WHERE kind IN ('posted', 'pending') AND credit_account IS NOT NULL \
              GROUP BY credit_account, asset, date_trunc('day', ts)",
    },
    Analytic {
        name: "amount_p95",
        description: "95th percentile (nearest rank) of applied transfer amounts per asset and day, with the count and the median",
        sql: "WITH ranked AS ( \
                SELECT asset, date_trunc('day', ts) AS day, amount, \
                       row_number() OVER (PARTITION BY asset, date_trunc('day', ts) ORDER BY amount) AS r, \
                       count(*) OVER (PARTITION BY asset, date_trunc('day', ts)) AS n \
                FROM transfers WHERE result = 'ok' AND kind IN ('posted', 'pending') AND amount IS NOT NULL) \
              SELECT asset, day, max(n) AS transfers, \
                     max(CASE WHEN r = CAST(ceil(0.5 * n) AS BIGINT) THEN amount END) AS p50, \
                     max(CASE WHEN r = CAST(ceil(0.95 * n) AS BIGINT) THEN amount END) AS p95 \
              FROM ranked GROUP BY asset, day",
    },
    Analytic {
        name: "holdings",
        description: "Posted balance of every account (credits minus debits, in the asset's units) from the postings",
        sql: "SELECT account, asset, \
                     sum(CASE WHEN side = 'credit' THEN amount ELSE -amount END) AS balance, \
                     count(*) AS postings \
              FROM postings GROUP BY account, asset",
    },
    Analytic {
        name: "holdings_by_asset",
        description: "Customer holdings by asset: the sum of positive balances of liability accounts, and how many accounts hold some",
        sql: "SELECT h.asset, sum(h.balance) AS held, count(*) AS holders \
              FROM holdings h JOIN accounts a ON a.account = h.account \
              WHERE a.kind = 'liability' AND h.balance > 0 GROUP BY h.asset",
    },
    Analytic {
        name: "onchain_share",
        description: "Per asset and day: volume moved into on-chain wallets (accounts whose metadata says role token-wallet) against all volume",
        sql: "SELECT p.asset, date_trunc('day', p.ts) AS day, \
                     sum(CASE WHEN a.metadata LIKE '%\"role\":\"token-wallet\"%' THEN p.amount ELSE 0 END) AS onchain_volume, \
                     sum(p.amount) AS total_volume \
              FROM postings p JOIN accounts a ON a.account = p.account \
              WHERE p.side = 'credit' GROUP BY p.asset, date_trunc('day', p.ts)",
    },
    Analytic {
        name: "risk_alerts_daily",
        description: "Risk alerts per day, decision and pattern, with the mean and highest score",
        sql: "SELECT date_trunc('day', ts) AS day, decision, patterns, count(*) AS alerts, \
              avg(score) AS mean_score, max(score) AS max_score \
              FROM risk_alerts GROUP BY date_trunc('day', ts), decision, patterns",
    },
    Analytic {
        name: "refusals",
        description: "Refused transfer commands per result code and day",
        sql: "SELECT result, date_trunc('day', ts) AS day, count(*) AS refused \
              FROM transfers WHERE result <> 'ok' GROUP BY result, date_trunc('day', ts)",
    },
];

/// Register every analytic as a view of `ctx`.
pub async fn register(ctx: &SessionContext) -> Result<(), LakeError> {
    for a in ANALYTICS {
        ctx.sql(&format!("CREATE OR REPLACE VIEW {} AS {}", a.name, a.sql)).await?;
    }
    Ok(())
}
