//! Rows of a table built cell by cell, in the table's declared column order, for the sinks whose
//! tables are narrow streams of facts (topics, chain events). The journal's wide, high-volume
//! tables keep their hand-written builders in [`crate::rows`].
//!
//! A row is checked against the table's schema as it is pushed: the number of cells, each cell's
//! type, and nulls in required columns. A mismatch is a bug in the sink that built the row, so it
//! is reported with the table and the column, never written.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Decimal128Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use iceberg::arrow::schema_to_arrow_schema;

use crate::error::LakeError;
use crate::rows::project_by_name;
use crate::tables::{AMOUNT_PRECISION, AMOUNT_SCALE, LakeTable};

/// One cell of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// No value (optional columns only).
    Null,
    /// A string.
    Str(&'a str),
    /// A long.
    Long(i64),
    /// An unsigned value for a long column (offsets, sequences, ids): refused if above `i64::MAX`.
    Unsigned(u64),
    /// A timestamp, µs since the epoch (UTC).
    Micros(i64),
    /// An amount: the unscaled value of a decimal(38, 18).
    Amount(i128),
    /// A double (scores, never money).
    Double(f64),
    /// A boolean.
    Bool(bool),
}

/// The columns of one table being filled.
pub struct Columns {
    table: LakeTable,
    schema: SchemaRef,
    builders: Vec<Box<dyn ArrayBuilder>>,
    rows: usize,
}

impl std::fmt::Debug for Columns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Columns").field("table", &self.table).field("rows", &self.rows).finish()
    }
}

impl Columns {
    /// Empty columns of `table`'s declared schema.
    pub fn new(table: LakeTable) -> Result<Columns, LakeError> {
        let schema = Arc::new(schema_to_arrow_schema(&table.schema()?)?);
        let builders = schema
            .fields()
            .iter()
            .map(|f| -> Box<dyn ArrayBuilder> {
                match f.data_type() {
                    DataType::Utf8 => Box::new(StringBuilder::new()),
                    DataType::Int64 => Box::new(Int64Builder::new()),
                    DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                        Box::new(TimestampMicrosecondBuilder::new().with_timezone_opt(tz.clone()))
                    }
                    DataType::Decimal128(p, s) => {
                        debug_assert_eq!((*p, *s), (AMOUNT_PRECISION, AMOUNT_SCALE));
                        Box::new(Decimal128Builder::new().with_precision_and_scale(*p, *s).expect("valid decimal type"))
                    }
                    DataType::Float64 => Box::new(Float64Builder::new()),
                    DataType::Boolean => Box::new(BooleanBuilder::new()),
                    other => unreachable!("table {} declares an unsupported column type {other}", table.name()),
                }
            })
            .collect();
        Ok(Columns { table, schema, builders, rows: 0 })
    }

    /// Rows pushed since the last [`Columns::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row is pending.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Append a row: one cell per column, in the table's declared order.
    pub fn push(&mut self, row: &[Cell<'_>]) -> Result<(), LakeError> {
        if row.len() != self.builders.len() {
            return Err(
                self.bad("*", format!("row has {} cells, the table {} columns", row.len(), self.builders.len()))
            );
        }
        // Check the whole row before appending any cell, so a bad row leaves the columns aligned.
        for (field, cell) in self.schema.fields().iter().zip(row) {
            let fits = matches!(
                (field.data_type(), cell),
                (_, Cell::Null)
                    | (DataType::Utf8, Cell::Str(_))
                    | (DataType::Int64, Cell::Long(_) | Cell::Unsigned(_))
                    | (DataType::Timestamp(..), Cell::Micros(_))
                    | (DataType::Decimal128(..), Cell::Amount(_))
                    | (DataType::Float64, Cell::Double(_))
                    | (DataType::Boolean, Cell::Bool(_))
            );
            if !fits {
                return Err(self.bad(field.name(), format!("a {} column cannot hold {cell:?}", field.data_type())));
            }
            if *cell == Cell::Null && !field.is_nullable() {
                return Err(self.bad(field.name(), "a required column cannot be null".into()));
            }
            if let Cell::Unsigned(v) = cell
                && i64::try_from(*v).is_err()
            {
                return Err(self.bad(field.name(), format!("{v} does not fit a long")));
            }
            if let Cell::Amount(v) = cell
                && v.unsigned_abs() > crate::rows::MAX_DECIMAL_38.unsigned_abs()
            {
                return Err(self.bad(field.name(), format!("{v} does not fit decimal(38, 18)")));
            }
        }
        for (builder, cell) in self.builders.iter_mut().zip(row) {
            let any = builder.as_any_mut();
            match cell {
                Cell::Null => append_null(any),
                Cell::Str(v) => any.downcast_mut::<StringBuilder>().expect("checked").append_value(v),
                Cell::Long(v) => any.downcast_mut::<Int64Builder>().expect("checked").append_value(*v),
                Cell::Unsigned(v) => any.downcast_mut::<Int64Builder>().expect("checked").append_value(*v as i64),
                Cell::Micros(v) => any.downcast_mut::<TimestampMicrosecondBuilder>().expect("checked").append_value(*v),
                Cell::Amount(v) => any.downcast_mut::<Decimal128Builder>().expect("checked").append_value(*v),
                Cell::Double(v) => any.downcast_mut::<Float64Builder>().expect("checked").append_value(*v),
                Cell::Bool(v) => any.downcast_mut::<BooleanBuilder>().expect("checked").append_value(*v),
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// The pending rows as a batch of `target` (the table's current schema, which may have more
    /// columns than this code knows: those are null), and empty columns again.
    pub fn finish(&mut self, target: SchemaRef) -> Result<RecordBatch, LakeError> {
        let known: Vec<(&str, arrow_array::ArrayRef)> = self
            .schema
            .fields()
            .iter()
            .zip(self.builders.iter_mut())
            .map(|(f, b)| (f.name().as_str(), b.finish()))
            .collect();
        self.rows = 0;
        project_by_name(&known, target)
    }

    fn bad(&self, column: &str, reason: String) -> LakeError {
        LakeError::BadRow { table: self.table.name(), column: column.to_string(), reason }
    }
}

fn append_null(any: &mut dyn std::any::Any) {
    if let Some(b) = any.downcast_mut::<StringBuilder>() {
        b.append_null();
    } else if let Some(b) = any.downcast_mut::<Int64Builder>() {
        b.append_null();
    } else if let Some(b) = any.downcast_mut::<TimestampMicrosecondBuilder>() {
        b.append_null();
    } else if let Some(b) = any.downcast_mut::<Decimal128Builder>() {
        b.append_null();
    } else if let Some(b) = any.downcast_mut::<Float64Builder>() {
        b.append_null();
    } else if let Some(b) = any.downcast_mut::<BooleanBuilder>() {
        b.append_null();
    } else {
        unreachable!("every builder type is listed in Columns::new");
    }
}

/// Base units with `scale` decimals as the unscaled value of a decimal(38, 18), exactly (`None`
/// if the scale exceeds 18 or the value does not fit).
pub fn amount(units: i128, scale: u8) -> Option<i128> {
    let factor = 10i128.checked_pow(u32::from(18u8.checked_sub(scale)?))?;
    units.checked_mul(factor).filter(|v| v.unsigned_abs() <= crate::rows::MAX_DECIMAL_38.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_checked_against_the_schema() {
        let mut c = Columns::new(LakeTable::Prices).unwrap();
        let ok = [
            Cell::Long(7),
            Cell::Micros(1_000),
            Cell::Str("XAU/USD"),
            Cell::Long(1),
            Cell::Str("published"),
            Cell::Amount(amount(265_012_345_678, 8).unwrap()),
            Cell::Null,
            Cell::Long(3),
            Cell::Long(0),
            Cell::Null,
        ];
        c.push(&ok).unwrap();
        let mut wrong_type = ok.clone();
        wrong_type[3] = Cell::Str("1");
        assert!(c.push(&wrong_type).unwrap_err().to_string().contains("round"));
        let mut null_required = ok.clone();
        null_required[2] = Cell::Null;
        assert!(c.push(&null_required).unwrap_err().to_string().contains("symbol"));
        assert!(c.push(&ok[..3]).is_err());
        let mut too_big = ok.clone();
        too_big[0] = Cell::Unsigned(u64::MAX);
        assert!(c.push(&too_big).unwrap_err().to_string().contains("does not fit a long"));
        assert_eq!(c.len(), 1, "refused rows leave nothing behind");
        let schema = Arc::new(schema_to_arrow_schema(&LakeTable::Prices.schema().unwrap()).unwrap());
        let batch = c.finish(schema).unwrap();
        assert_eq!(batch.num_rows(), 1);
        assert!(c.is_empty());
    }

    #[test]
    fn amounts_scale_exactly_or_refuse() {
        assert_eq!(amount(265_012_345_678, 8), Some(2_650_123_456_780_000_000_000));
        assert_eq!(amount(-5, 0), Some(-5_000_000_000_000_000_000));
        assert_eq!(amount(1, 19), None);
        assert_eq!(amount(i128::MAX / 10, 0), None);
    }
}
