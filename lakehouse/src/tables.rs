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
}

impl LakeTable {
    /// Every table.
    pub const ALL: [LakeTable; 4] =
        [LakeTable::Transfers, LakeTable::Postings, LakeTable::Accounts, LakeTable::RiskAlerts];
    /// The tables fed from the ledger's journal.
    pub const JOURNAL: [LakeTable; 3] = [LakeTable::Transfers, LakeTable::Postings, LakeTable::Accounts];

    /// Its name in the catalog.
    pub fn name(self) -> &'static str {
        match self {
            LakeTable::Transfers => "transfers",
            LakeTable::Postings => "postings",
            LakeTable::Accounts => "accounts",
            LakeTable::RiskAlerts => "risk_alerts",
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
        };
        Ok(Schema::builder().with_schema_id(0).with_fields(fields).build()?)
    }

    /// Its partitioning: transfers and alerts by day; postings by asset and day (queries of one
    /// asset's movements skip the others' files); accounts not at all (small).
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
            LakeTable::RiskAlerts => {
                UnboundPartitionSpec::builder().add_partition_field(2, "ts_day", Transform::Day)?.build()
            }
        };
        Ok(spec)
    }
}
