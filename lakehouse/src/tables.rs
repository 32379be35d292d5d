//! The lakehouse's tables: their Iceberg schemas and partition specs, in one place.
//!
//! Conventions:
//! - ids (u128 in the ledger) are decimal strings: Iceberg has no 128-bit integer;
//! - amounts are `decimal(38, 18)` in the asset's major units — every asset has a scale ≤ 18, so
//!   base units × 10^(18 − scale) is exact and sums across rows of one asset are exact;
//! - time is `timestamptz` (µs, what Iceberg and Parquet readers expect) plus `ts_ns`, the ledger's
//!   exact nanosecond timestamp;
//! - field ids are 1..n in order (Iceberg re-assigns ids on creation; numbering them in order keeps
//!   them stable).

use iceberg::spec::{NestedField, PrimitiveType, Schema, Transform, Type, UnboundPartitionSpec};

use crate::error::LakeError;

/// The namespace every table lives in.
pub const NAMESPACE: &str = "aurum";
/// Precision and scale of every amount column.
pub const AMOUNT_PRECISION: u8 = 38;
/// See [`AMOUNT_PRECISION`].
pub const AMOUNT_SCALE: i8 = 18;

/// A table the lakehouse keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LakeTable {
    /// Every transfer command of the journal with its result (applied or refused): created,
    /// pending, posted, voided, and expired holds.
    Transfers,
    /// Every movement of a posted balance: two legs per posted transfer or post, the postings of
    /// journal entries.
    Postings,
    /// Every account created.
    Accounts,
    /// Every risk alert of the `risk.alerts` topic (admission and journal scoring).
    RiskAlerts,
    /// The risk score of every applied transfer (the `risk.scores` topic of journal scoring).
    RiskScores,
    /// Every oracle round (`oracle.rounds`): the published price, or why none was.
    Prices,
    /// Every finding of every three-way reconciliation run (`recon.runs`), breaks and explained.
    ReconFindings,
    /// Every bar of the bar list of every reconciliation run (`recon.runs`), as counted.
    Bars,
    /// Every final log of the token and its feeds, decoded (the chain indexer's store).
    ChainEvents,
    /// Every account's closing balance on every closed day it moved (materialised from postings).
    DailyBalances,
}

impl LakeTable {
    /// Every table.
    pub const ALL: [LakeTable; 10] = [
        LakeTable::Transfers,
        LakeTable::Postings,
        LakeTable::Accounts,
        LakeTable::RiskAlerts,
        LakeTable::RiskScores,
        LakeTable::Prices,
        LakeTable::ReconFindings,
        LakeTable::Bars,
        LakeTable::ChainEvents,
        LakeTable::DailyBalances,
    ];
    /// The tables fed from the ledger's journal.
    pub const JOURNAL: [LakeTable; 3] = [LakeTable::Transfers, LakeTable::Postings, LakeTable::Accounts];
    /// The tables fed from topics of the log (positions: `aurum.offset.<partition>`).
    pub const TOPICS: [LakeTable; 5] =
        [LakeTable::RiskAlerts, LakeTable::RiskScores, LakeTable::Prices, LakeTable::ReconFindings, LakeTable::Bars];

    /// Its name in the catalog.
    pub fn name(self) -> &'static str {
        match self {
            LakeTable::Transfers => "transfers",
            LakeTable::Postings => "postings",
            LakeTable::Accounts => "accounts",
            LakeTable::RiskAlerts => "risk_alerts",
            LakeTable::RiskScores => "risk_scores",
            LakeTable::Prices => "prices",
            LakeTable::ReconFindings => "recon_findings",
            LakeTable::Bars => "bars",
            LakeTable::ChainEvents => "chain_events",
            LakeTable::DailyBalances => "daily_balances",
        }
    }

    /// Its schema.
    pub fn schema(self) -> Result<Schema, LakeError> {
        let req = |id, name: &str, t| NestedField::required(id, name, Type::Primitive(t)).into();
        let opt = |id, name: &str, t| NestedField::optional(id, name, Type::Primitive(t)).into();
        let amount = || PrimitiveType::Decimal { precision: u32::from(AMOUNT_PRECISION), scale: AMOUNT_SCALE as u32 };
        let fields = match self {
            LakeTable::Transfers => vec![
                req(1, "seq", PrimitiveType::Long),
                req(2, "ts", PrimitiveType::Timestamptz),
                req(3, "ts_ns", PrimitiveType::Long),
                req(4, "transfer_id", PrimitiveType::String),
                req(5, "kind", PrimitiveType::String),
                req(6, "result", PrimitiveType::String),
                opt(7, "debit_account", PrimitiveType::String),
                opt(8, "credit_account", PrimitiveType::String),
                opt(9, "asset", PrimitiveType::String),
                opt(10, "amount", amount()),
                opt(11, "pending_id", PrimitiveType::String),
                opt(12, "metadata", PrimitiveType::String),
            ],
            LakeTable::Postings => vec![
                req(1, "seq", PrimitiveType::Long),
                req(2, "ts", PrimitiveType::Timestamptz),
                req(3, "ts_ns", PrimitiveType::Long),
                req(4, "transfer_id", PrimitiveType::String),
                req(5, "account", PrimitiveType::String),
                req(6, "asset", PrimitiveType::String),
                req(7, "side", PrimitiveType::String),
                req(8, "amount", amount()),
            ],
            LakeTable::Accounts => vec![
                req(1, "seq", PrimitiveType::Long),
                req(2, "ts", PrimitiveType::Timestamptz),
                req(3, "account", PrimitiveType::String),
                req(4, "asset", PrimitiveType::String),
                req(5, "kind", PrimitiveType::String),
                opt(6, "metadata", PrimitiveType::String),
            ],
            LakeTable::RiskAlerts => vec![
                req(1, "log_offset", PrimitiveType::Long),
                req(2, "ts", PrimitiveType::Timestamptz),
                req(3, "ts_ns", PrimitiveType::Long),
                req(4, "transfer_id", PrimitiveType::String),
                req(5, "debit_account", PrimitiveType::String),
                req(6, "credit_account", PrimitiveType::String),
                req(7, "asset_id", PrimitiveType::Long),
                // Base units as a decimal string: exact for any u128, whatever the asset's scale.
                req(8, "amount_units", PrimitiveType::String),
                // A score in [0, 1] is evidence, not money: a double is right here.
                req(9, "score", PrimitiveType::Double),
                req(10, "decision", PrimitiveType::String),
                req(11, "source", PrimitiveType::String),
                req(12, "patterns", PrimitiveType::String),
                req(13, "reasons", PrimitiveType::String),
            ],
            LakeTable::RiskScores => vec![
                req(1, "seq", PrimitiveType::Long),
                req(2, "ts", PrimitiveType::Timestamptz),
                req(3, "ts_ns", PrimitiveType::Long),
                req(4, "transfer_id", PrimitiveType::String),
                req(5, "debit_account", PrimitiveType::String),
                req(6, "credit_account", PrimitiveType::String),
                req(7, "asset_id", PrimitiveType::Long),
                req(8, "amount_units", PrimitiveType::String),
                req(9, "score", PrimitiveType::Double),
                req(10, "model_score", PrimitiveType::Double),
                req(11, "decision", PrimitiveType::String),
                req(12, "alert", PrimitiveType::Boolean),
                // Comma-separated, in rule order; empty when no rule fired.
                req(13, "patterns", PrimitiveType::String),
            ],
            LakeTable::Prices => vec![
                req(1, "log_offset", PrimitiveType::Long),
                req(2, "ts", PrimitiveType::Timestamptz),
                req(3, "symbol", PrimitiveType::String),
                req(4, "round", PrimitiveType::Long),
                // published, no_quorum or breaker_tripped.
                req(5, "status", PrimitiveType::String),
                // The published price (status published), exactly: value / 10^scale.
                opt(6, "price", amount()),
                // The held price of a tripped breaker.
                opt(7, "candidate", amount()),
                req(8, "sources_used", PrimitiveType::Long),
                req(9, "sources_dropped", PrimitiveType::Long),
                // The transaction that pushed the price on chain, if one did.
                opt(10, "push_tx", PrimitiveType::String),
            ],
            LakeTable::ReconFindings => vec![
                req(1, "log_offset", PrimitiveType::Long),
                req(2, "ts", PrimitiveType::Timestamptz),
                req(3, "chain_id", PrimitiveType::Long),
                req(4, "block", PrimitiveType::Long),
                req(5, "journal_seq", PrimitiveType::Long),
                req(6, "bar_list_sha256", PrimitiveType::String),
                req(7, "class", PrimitiveType::String),
                req(8, "subject", PrimitiveType::String),
                // Troy ounces (token base units / 10^18), exactly.
                req(9, "expected_oz", amount()),
                req(10, "found_oz", amount()),
                req(11, "difference_oz", amount()),
                req(12, "explained", PrimitiveType::Boolean),
                req(13, "explanation", PrimitiveType::String),
            ],
            LakeTable::Bars => vec![
                req(1, "log_offset", PrimitiveType::Long),
                req(2, "ts", PrimitiveType::Timestamptz),
                req(3, "chain_id", PrimitiveType::Long),
                req(4, "block", PrimitiveType::Long),
                req(5, "bar_list_sha256", PrimitiveType::String),
                req(6, "line", PrimitiveType::Long),
                req(7, "refiner", PrimitiveType::String),
                req(8, "serial", PrimitiveType::String),
                req(9, "year", PrimitiveType::Long),
                req(10, "vault", PrimitiveType::String),
                req(11, "gross_oz", amount()),
                // Tenths of a part per thousand (999.9 -> 9999).
                req(12, "assay", PrimitiveType::Long),
                req(13, "fine_oz", amount()),
                req(14, "expected_fine_oz", amount()),
                req(15, "status", PrimitiveType::String),
                req(16, "allocation", PrimitiveType::String),
                req(17, "backing", PrimitiveType::Boolean),
            ],
            LakeTable::ChainEvents => vec![
                req(1, "chain_id", PrimitiveType::Long),
                req(2, "block", PrimitiveType::Long),
                req(3, "block_hash", PrimitiveType::String),
                // The block's timestamp.
                req(4, "ts", PrimitiveType::Timestamptz),
                req(5, "tx_hash", PrimitiveType::String),
                req(6, "log_index", PrimitiveType::Long),
                req(7, "contract", PrimitiveType::String),
                // transfer, minted, redeemed, wiped, frozen, unfrozen, paused, unpaused,
                // reserve_answer, price_answer.
                req(8, "event", PrimitiveType::String),
                opt(9, "from_address", PrimitiveType::String),
                opt(10, "to_address", PrimitiveType::String),
                // Token amounts in troy ounces (the token has 18 decimals), exactly.
                opt(11, "amount_oz", amount()),
                opt(12, "reserve_oz", amount()),
                opt(13, "reference", PrimitiveType::String),
                // A feed's answer as the raw integer (× 10^feed decimals), and its round.
                opt(14, "answer", PrimitiveType::String),
                opt(15, "feed_round", PrimitiveType::String),
            ],
            LakeTable::DailyBalances => vec![
                req(1, "account", PrimitiveType::String),
                req(2, "asset", PrimitiveType::String),
                // UTC midnight of the day.
                req(3, "day", PrimitiveType::Timestamptz),
                // The day's posted credits minus debits, and the closing balance (cumulative).
                req(4, "net", amount()),
                req(5, "balance", amount()),
                req(6, "postings", PrimitiveType::Long),
            ],
        };
        Ok(Schema::builder().with_schema_id(0).with_fields(fields).build()?)
    }

    /// Its partitioning: postings by asset and day (queries of one asset's movements skip the
    /// others' files); accounts not at all (small); every other table by day.
    pub fn partition_spec(self) -> Result<UnboundPartitionSpec, LakeError> {
        let spec = match self {
            LakeTable::Transfers => {
                UnboundPartitionSpec::builder().add_partition_field(2, "ts_day", Transform::Day)?.build()
            }
            LakeTable::Postings => UnboundPartitionSpec::builder()
                .add_partition_field(6, "asset", Transform::Identity)?
                .add_partition_field(2, "ts_day", Transform::Day)?
                .build(),
            LakeTable::Accounts => UnboundPartitionSpec::builder().build(),
            // Every other table is a stream of timestamped facts, queried by time.
            LakeTable::RiskAlerts
            | LakeTable::RiskScores
            | LakeTable::Prices
            | LakeTable::ReconFindings
            | LakeTable::Bars => {
                UnboundPartitionSpec::builder().add_partition_field(2, "ts_day", Transform::Day)?.build()
            }
            LakeTable::ChainEvents => {
                UnboundPartitionSpec::builder().add_partition_field(4, "ts_day", Transform::Day)?.build()
            }
            LakeTable::DailyBalances => {
                UnboundPartitionSpec::builder().add_partition_field(3, "day_day", Transform::Day)?.build()
            }
        };
        Ok(spec)
    }
}
