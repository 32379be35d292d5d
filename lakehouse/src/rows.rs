//! Journal blocks to rows of the lakehouse's tables, and rows to Arrow record batches.
//!
//! Each block's facts (`aurum_ledger_node::facts`) become:
//! - a movement (transfer, post or void, accepted or refused): a `transfers` row;
//! - a posting: a `postings` row;
//! - an account created: an `accounts` row;
//! - a pending transfer that expired at the start of a block: a `transfers` row of kind `expired`.

use std::sync::Arc;

use arrow_array::builder::{Decimal128Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use aurum_ledger::{AccountId, AssetId, Ledger, Metadata, Side, TransferId};
use aurum_ledger_node::block::Block;
use aurum_ledger_node::facts::{Fact, for_each_fact, transfer_kind_name};

use crate::error::LakeError;
use crate::tables::{AMOUNT_PRECISION, AMOUNT_SCALE, LakeTable};

/// Largest value of a decimal(38, s) column, in its unscaled integer.
pub(crate) const MAX_DECIMAL_38: i128 = 99_999_999_999_999_999_999_999_999_999_999_999_999;

/// Base units at `scale` as the unscaled value of a decimal(38, 18).
pub fn decimal_units(units: u128, scale: u8, transfer: impl FnOnce() -> String) -> Result<i128, LakeError> {
    debug_assert!(scale <= 18);
    let factor = 10u128.pow(u32::from(18 - scale.min(18)));
    units
        .checked_mul(factor)
        .and_then(|v| i128::try_from(v).ok())
        .filter(|v| *v <= MAX_DECIMAL_38)
        .ok_or_else(|| LakeError::AmountTooLarge { transfer: transfer(), units, scale })
}

fn micros(ts_ns: u64) -> i64 {
    (ts_ns / 1_000) as i64
}

fn metadata_json(m: &Metadata) -> Option<String> {
    (!m.is_empty()).then(|| serde_json::to_string(m).expect("string maps serialize"))
}

/// A batch of `schema` from columns known by name: a table column this code does not know (added
/// by a newer version) is null; a known column the table lacks is dropped (the catalog adds missing
/// columns on open). Every sink builds its batches this way.
pub fn project_by_name(known: &[(&str, ArrayRef)], schema: arrow_schema::SchemaRef) -> Result<RecordBatch, LakeError> {
    let rows = known.first().map_or(0, |(_, c)| c.len());
    let columns = schema
        .fields()
        .iter()
        .map(|f| {
            known
                .iter()
                .find(|(n, _)| *n == f.name())
                .map(|(_, c)| c.clone())
                .unwrap_or_else(|| arrow_array::new_null_array(f.data_type(), rows))
        })
        .collect();
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(schema, columns, &options)?)
}

/// Columns of `transfers`.
#[derive(Default)]
struct TransferCols {
    seq: Int64Builder,
    ts: TimestampMicrosecondBuilder,
    ts_ns: Int64Builder,
    transfer_id: StringBuilder,
    kind: StringBuilder,
    result: StringBuilder,
    debit: StringBuilder,
    credit: StringBuilder,
    asset: StringBuilder,
    amount: Decimal128Builder,
    pending_id: StringBuilder,
    metadata: StringBuilder,
    rows: usize,
}

/// Columns of `postings`.
#[derive(Default)]
struct PostingCols {
    seq: Int64Builder,
    ts: TimestampMicrosecondBuilder,
    ts_ns: Int64Builder,
    transfer_id: StringBuilder,
    account: StringBuilder,
    asset: StringBuilder,
    side: StringBuilder,
    amount: Decimal128Builder,
    rows: usize,
}

/// Columns of `accounts`.
#[derive(Default)]
struct AccountCols {
    seq: Int64Builder,
    ts: TimestampMicrosecondBuilder,
    account: StringBuilder,
    asset: StringBuilder,
    kind: StringBuilder,
    metadata: StringBuilder,
    rows: usize,
}

/// One transfer-like row before it is appended.
struct TransferRow<'a> {
    id: TransferId,
    kind: &'static str,
    result: &'static str,
    debit: Option<AccountId>,
    credit: Option<AccountId>,
    asset: Option<AssetId>,
    amount: Option<u128>,
    pending_id: Option<TransferId>,
    metadata: Option<&'a Metadata>,
    ts_ns: u64,
}

/// Rows gathered from blocks, per table, until they are written.
#[derive(Default)]
pub struct Rows {
    transfers: TransferCols,
    postings: PostingCols,
    accounts: AccountCols,
}

impl Rows {
    /// Rows held for `table`.
    pub fn len(&self, table: LakeTable) -> usize {
        match table {
            LakeTable::Transfers => self.transfers.rows,
            LakeTable::Postings => self.postings.rows,
            LakeTable::Accounts => self.accounts.rows,
            // Fed from topics and the chain, never from journal blocks.
            LakeTable::RiskAlerts
            | LakeTable::RiskScores
            | LakeTable::Prices
            | LakeTable::ReconFindings
            | LakeTable::Bars
            | LakeTable::ChainEvents
            | LakeTable::DailyBalances => 0,
        }
    }

    /// No rows for any table.
    pub fn is_empty(&self) -> bool {
        LakeTable::JOURNAL.iter().all(|t| self.len(*t) == 0)
    }

    fn asset_of(ledger: &Ledger, id: AssetId) -> (String, u8) {
        ledger.asset(id).map_or_else(|| (format!("#{}", id.0), 0), |a| (a.code.clone(), a.scale))
    }

    fn push_transfer(&mut self, ledger: &Ledger, seq: u64, r: TransferRow<'_>) -> Result<(), LakeError> {
        let c = &mut self.transfers;
        c.seq.append_value(seq as i64);
        c.ts.append_value(micros(r.ts_ns));
        c.ts_ns.append_value(r.ts_ns as i64);
        c.transfer_id.append_value(r.id.0.to_string());
        c.kind.append_value(r.kind);
        c.result.append_value(r.result);
        c.debit.append_option(r.debit.map(|a| a.0.to_string()));
        c.credit.append_option(r.credit.map(|a| a.0.to_string()));
        match r.asset {
            Some(asset) => {
                let (code, scale) = Rows::asset_of(ledger, asset);
                c.asset.append_value(code);
                match r.amount {
                    Some(units) => c.amount.append_value(decimal_units(units, scale, || r.id.0.to_string())?),
                    None => c.amount.append_null(),
                }
            }
            None => {
                c.asset.append_null();
                c.amount.append_null();
            }
        }
        c.pending_id.append_option(r.pending_id.map(|p| p.0.to_string()));
        c.metadata.append_option(r.metadata.and_then(metadata_json));
        c.rows += 1;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn push_posting(
        &mut self,
        ledger: &Ledger,
        seq: u64,
        ts_ns: u64,
        transfer: TransferId,
        account: AccountId,
        side: Side,
        units: u128,
    ) -> Result<(), LakeError> {
        let asset = ledger.account(account).map(|a| a.asset);
        let (code, scale) = asset.map_or_else(|| ("?".to_string(), 0), |a| Rows::asset_of(ledger, a));
        let c = &mut self.postings;
        c.seq.append_value(seq as i64);
        c.ts.append_value(micros(ts_ns));
        c.ts_ns.append_value(ts_ns as i64);
        c.transfer_id.append_value(transfer.0.to_string());
        c.account.append_value(account.0.to_string());
        c.asset.append_value(code);
        c.side.append_value(match side {
            Side::Debit => "debit",
            Side::Credit => "credit",
        });
        c.amount.append_value(decimal_units(units, scale, || transfer.0.to_string())?);
        c.rows += 1;
        Ok(())
    }

    /// Add the rows of `block` for the tables in `wanted` (a table that already holds this block
    /// gets none), from the block's [`facts`](aurum_ledger_node::facts). `ledger` is the engine's
    /// current state: records of applied commands never change once written, so the current state
    /// describes any past block's transfers.
    pub fn add_block(&mut self, ledger: &Ledger, block: &Block, wanted: &[LakeTable]) -> Result<(), LakeError> {
        let want = |t| wanted.contains(&t);
        let seq = block.seq;
        for_each_fact(ledger, block, |fact| match fact {
            Fact::Expired { pending: p, timestamp } if want(LakeTable::Transfers) => self.push_transfer(
                ledger,
                seq,
                TransferRow {
                    id: p.id,
                    kind: "expired",
                    result: "ok",
                    debit: Some(p.debit_account),
                    credit: Some(p.credit_account),
                    asset: Some(p.asset),
                    amount: Some(p.amount),
                    pending_id: None,
                    metadata: None,
                    ts_ns: timestamp.0,
                },
            ),
            Fact::Movement(m) if want(LakeTable::Transfers) => self.push_transfer(
                ledger,
                seq,
                TransferRow {
                    id: m.id,
                    kind: transfer_kind_name(m.kind),
                    result: m.result.as_str(),
                    debit: m.debit,
                    credit: m.credit,
                    asset: m.asset,
                    amount: m.amount,
                    pending_id: m.pending_id,
                    metadata: Some(m.metadata),
                    ts_ns: m.timestamp.0,
                },
            ),
            Fact::Posting(p) if want(LakeTable::Postings) => {
                self.push_posting(ledger, seq, p.timestamp.0, p.movement, p.account, p.side, p.amount)
            }
            Fact::Account { id, asset, kind, metadata, timestamp, .. } if want(LakeTable::Accounts) => {
                let c = &mut self.accounts;
                c.seq.append_value(seq as i64);
                c.ts.append_value(micros(timestamp.0));
                c.account.append_value(id.0.to_string());
                c.asset.append_value(Rows::asset_of(ledger, asset).0);
                c.kind.append_value(kind.as_str());
                c.metadata.append_option(metadata_json(metadata));
                c.rows += 1;
                Ok(())
            }
            _ => Ok(()),
        })
    }

    /// Take the rows of `table` as a record batch of `schema` (the table's current Arrow schema,
    /// with Iceberg's field ids); the builders start empty again. Columns are matched by name: a
    /// column the table has but this code does not know (added by a newer version) is null; a
    /// column this code knows but the table lacks is dropped (the catalog adds it on open).
    pub fn take_batch(&mut self, table: LakeTable, schema: arrow_schema::SchemaRef) -> Result<RecordBatch, LakeError> {
        let known = self.take_columns(table)?;
        let full = iceberg::arrow::schema_to_arrow_schema(&table.schema()?)?;
        let named = full.fields().iter().map(|f| f.name().as_str()).zip(known).collect::<Vec<_>>();
        project_by_name(&named, schema)
    }

    fn take_columns(&mut self, table: LakeTable) -> Result<Vec<ArrayRef>, LakeError> {
        let tz = "+00:00";
        let dec = |b: &mut Decimal128Builder| -> Result<ArrayRef, LakeError> {
            Ok(Arc::new(b.finish().with_precision_and_scale(AMOUNT_PRECISION, AMOUNT_SCALE)?))
        };
        let columns: Vec<ArrayRef> = match table {
            LakeTable::Transfers => {
                let c = &mut self.transfers;
                c.rows = 0;
                vec![
                    Arc::new(c.seq.finish()),
                    Arc::new(c.ts.finish().with_timezone(tz)),
                    Arc::new(c.ts_ns.finish()),
                    Arc::new(c.transfer_id.finish()),
                    Arc::new(c.kind.finish()),
                    Arc::new(c.result.finish()),
                    Arc::new(c.debit.finish()),
                    Arc::new(c.credit.finish()),
                    Arc::new(c.asset.finish()),
                    dec(&mut c.amount)?,
                    Arc::new(c.pending_id.finish()),
                    Arc::new(c.metadata.finish()),
                ]
            }
            LakeTable::Postings => {
                let c = &mut self.postings;
                c.rows = 0;
                vec![
                    Arc::new(c.seq.finish()),
                    Arc::new(c.ts.finish().with_timezone(tz)),
                    Arc::new(c.ts_ns.finish()),
                    Arc::new(c.transfer_id.finish()),
                    Arc::new(c.account.finish()),
                    Arc::new(c.asset.finish()),
                    Arc::new(c.side.finish()),
                    dec(&mut c.amount)?,
                ]
            }
            LakeTable::RiskAlerts
            | LakeTable::RiskScores
            | LakeTable::Prices
            | LakeTable::ReconFindings
            | LakeTable::Bars
            | LakeTable::ChainEvents
            | LakeTable::DailyBalances => unreachable!("{} is not fed from the journal", table.name()),
            LakeTable::Accounts => {
                let c = &mut self.accounts;
                c.rows = 0;
                vec![
                    Arc::new(c.seq.finish()),
                    Arc::new(c.ts.finish().with_timezone(tz)),
                    Arc::new(c.account.finish()),
                    Arc::new(c.asset.finish()),
                    Arc::new(c.kind.finish()),
                    Arc::new(c.metadata.finish()),
                ]
            }
        };
        Ok(columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact_and_bounded() {
        assert_eq!(decimal_units(1, 2, String::new).unwrap(), 10_000_000_000_000_000);
        assert_eq!(decimal_units(123, 18, String::new).unwrap(), 123);
        assert_eq!(decimal_units(u128::from(u64::MAX), 0, String::new).unwrap(), i128::from(u64::MAX) * 10i128.pow(18));
        let e = decimal_units(10u128.pow(21), 0, || "7".into()).unwrap_err().to_string();
        assert!(e.contains("transfer 7") && e.contains("decimal(38, 18)"), "{e}");
        assert!(decimal_units(10u128.pow(38), 18, String::new).is_err());
    }
}
