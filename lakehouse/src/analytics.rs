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
        sql: "SELECT credit_account AS merchant, asset, date_bin(INTERVAL '1 day', ts) AS day, \
              count(*) AS attempts, \
              sum(CASE WHEN result = 'ok' THEN 1 ELSE 0 END) AS succeeded, \
              CAST(sum(CASE WHEN result = 'ok' THEN 1 ELSE 0 END) AS DOUBLE) / count(*) AS success_rate, \
              sum(CASE WHEN result = 'ok' THEN amount END) AS volume \
              FROM transfers WHERE kind IN ('posted', 'pending') AND credit_account IS NOT NULL \
              GROUP BY credit_account, asset, date_bin(INTERVAL '1 day', ts)",
    },
    Analytic {
        name: "amount_p95",
        description: "95th percentile (nearest rank) of applied transfer amounts per asset and day, with the count and the median",
        sql: "WITH ranked AS ( \
                SELECT asset, date_bin(INTERVAL '1 day', ts) AS day, amount, \
                       row_number() OVER (PARTITION BY asset, date_bin(INTERVAL '1 day', ts) ORDER BY amount) AS r, \
                       count(*) OVER (PARTITION BY asset, date_bin(INTERVAL '1 day', ts)) AS n \
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
                     coalesce(sum(amount) FILTER (WHERE side = 'credit'), 0) \
                       - coalesce(sum(amount) FILTER (WHERE side IS DISTINCT FROM 'credit'), 0) AS balance, \
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
        sql: "SELECT p.asset, date_bin(INTERVAL '1 day', p.ts) AS day, \
                     sum(CASE WHEN a.wallet THEN p.amount ELSE 0 END) AS onchain_volume, \
                     sum(p.amount) AS total_volume \
              FROM postings p \
              JOIN (SELECT account, metadata LIKE '%\"role\":\"token-wallet\"%' AS wallet FROM accounts) a \
                ON a.account = p.account \
              WHERE p.side = 'credit' GROUP BY p.asset, date_bin(INTERVAL '1 day', p.ts)",
    },
    Analytic {
        name: "risk_alerts_daily",
        description: "Risk alerts per day, decision and pattern, with the mean and highest score",
        sql: "SELECT date_bin(INTERVAL '1 day', ts) AS day, decision, patterns, count(*) AS alerts, \
              avg(score) AS mean_score, max(score) AS max_score \
              FROM risk_alerts GROUP BY date_bin(INTERVAL '1 day', ts), decision, patterns",
    },
    Analytic {
        name: "refusals",
        description: "Refused transfer commands per result code and day",
        sql: "SELECT result, date_bin(INTERVAL '1 day', ts) AS day, count(*) AS refused \
              FROM transfers WHERE result <> 'ok' GROUP BY result, date_bin(INTERVAL '1 day', ts)",
    },
    Analytic {
        name: "daily_balances_live",
        description: "Closing posted balance of every account on every day it moved, the open day included (credits minus debits, cumulative), with the day's net movement; the daily_balances table holds the closed days",
        sql: "SELECT account, asset, day, net, \
                     sum(net) OVER (PARTITION BY account, asset ORDER BY day \
                                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS balance, \
                     postings \
              FROM (SELECT account, asset, date_bin(INTERVAL '1 day', ts) AS day, \
                           sum(CASE WHEN side = 'credit' THEN amount ELSE -amount END) AS net, \
                           count(*) AS postings \
                    FROM postings GROUP BY account, asset, date_bin(INTERVAL '1 day', ts))",
    },
    Analytic {
        name: "latest_prices",
        description: "The last published oracle price of every symbol, with its round and time",
        sql: "SELECT symbol, price, round, ts FROM ( \
                SELECT symbol, price, round, ts, \
                       row_number() OVER (PARTITION BY symbol ORDER BY ts DESC, round DESC) AS r \
                FROM prices WHERE status = 'published') \
              WHERE r = 1",
    },
    Analytic {
        name: "aum",
        description: "Assets under management: customer holdings by asset valued in fiat at the latest oracle price of the symbol `<asset>/<currency>`; `exact` is false if a value had more than 9 decimals (the product is computed at 9 + 9)",
        sql: "SELECT h.asset, h.held, h.holders, \
                     split_part(p.symbol, '/', 2) AS currency, p.price, p.ts AS priced_at, \
                     CAST(h.held AS DECIMAL(38, 9)) * CAST(p.price AS DECIMAL(38, 9)) AS aum, \
                     (CAST(h.held AS DECIMAL(38, 9)) = h.held AND CAST(p.price AS DECIMAL(38, 9)) = p.price) AS exact \
              FROM holdings_by_asset h JOIN latest_prices p ON split_part(p.symbol, '/', 1) = h.asset",
    },
    Analytic {
        name: "recon_breaks_daily",
        description: "Reconciliation findings per day and class: runs, breaks, explained differences, and the absolute ounces the breaks differ by",
        sql: "SELECT date_bin(INTERVAL '1 day', ts) AS day, class, count(DISTINCT log_offset) AS runs, \
                     sum(CASE WHEN explained THEN 0 ELSE 1 END) AS breaks, \
                     sum(CASE WHEN explained THEN 1 ELSE 0 END) AS explained, \
                     sum(CASE WHEN explained THEN 0 ELSE abs(difference_oz) END) AS break_oz \
              FROM recon_findings GROUP BY date_bin(INTERVAL '1 day', ts), class",
    },
    Analytic {
        name: "risk_scores_daily",
        description: "Transfers scored per day and asset: how many, how many alerted, the mean score and the share held or rejected by policy",
        sql: "SELECT date_bin(INTERVAL '1 day', ts) AS day, asset_id, count(*) AS scored, \
                     sum(CASE WHEN alert THEN 1 ELSE 0 END) AS alerted, avg(score) AS mean_score, \
                     CAST(sum(CASE WHEN decision <> 'allow' THEN 1 ELSE 0 END) AS DOUBLE) / count(*) AS held_or_rejected_share \
              FROM risk_scores GROUP BY date_bin(INTERVAL '1 day', ts), asset_id",
    },
    Analytic {
        name: "token_supply_daily",
        description: "Per chain and day, from final chain events: ounces minted, redeemed and wiped, and the net change of the token supply",
        sql: "SELECT chain_id, date_bin(INTERVAL '1 day', ts) AS day, \
                     sum(CASE WHEN event = 'transfer' AND from_address = '0x0000000000000000000000000000000000000000' THEN amount_oz ELSE 0 END) AS minted_oz, \
                     sum(CASE WHEN event = 'redeemed' THEN amount_oz ELSE 0 END) AS redeemed_oz, \
                     sum(CASE WHEN event = 'wiped' THEN amount_oz ELSE 0 END) AS wiped_oz, \
                     sum(CASE WHEN event = 'transfer' AND from_address = '0x0000000000000000000000000000000000000000' THEN amount_oz \
                              WHEN event = 'transfer' AND to_address = '0x0000000000000000000000000000000000000000' THEN -amount_oz ELSE 0 END) AS supply_change_oz \
              FROM chain_events GROUP BY chain_id, date_bin(INTERVAL '1 day', ts)",
    },
];

/// Register every analytic as a view of `ctx`.
pub async fn register(ctx: &SessionContext) -> Result<(), LakeError> {
    for a in ANALYTICS {
        ctx.sql(&format!("CREATE OR REPLACE VIEW {} AS {}", a.name, a.sql)).await?;
    }
    Ok(())
}
