//! A profiler: per column, rows, NULLs, distinct values, min, max, mean (numeric columns) and the
//! most frequent values — what an analyst looks at before writing checks.

use serde::Serialize;

use crate::error::QualityError;
use crate::source::{SqlSource, cell_text, cell_u64};
use crate::spec::ident_path;

/// Most frequent values listed per column.
pub const TOP_VALUES: usize = 5;

/// One column's statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnProfile {
    /// Its name.
    pub column: String,
    /// Its SQL type, as the engine names it.
    pub data_type: String,
    /// Rows in the table.
    pub rows: u64,
    /// NULLs.
    pub nulls: u64,
    /// Distinct non-NULL values.
    pub distinct: u64,
    /// Smallest value, as text (`None`: no value, or a type without order).
    pub min: Option<String>,
    /// Largest value.
    pub max: Option<String>,
    /// Mean, as the engine computes it exactly for decimals (numeric columns only).
    pub mean: Option<String>,
    /// The most frequent values with their counts.
    pub top: Vec<(String, u64)>,
}

fn is_numeric(data_type: &str) -> bool {
    let t = data_type.to_ascii_lowercase();
    ["int", "decimal", "numeric", "double", "float", "real"].iter().any(|k| t.contains(k))
}

fn is_ordered(data_type: &str) -> bool {
    let t = data_type.to_ascii_lowercase();
    !["bool", "json", "bytea", "binary", "list", "struct", "map"].iter().any(|k| t.contains(k))
}

/// Profile every column of `table`.
pub async fn profile(source: &dyn SqlSource, table: &str) -> Result<Vec<ColumnProfile>, QualityError> {
    ident_path(table).map_err(|reason| QualityError::Check { check: format!("profile {table}"), reason })?;
    let d = source.dialect();
    let sql = format!(
        "SELECT column_name, data_type FROM information_schema.columns WHERE {} ORDER BY ordinal_position",
        d.columns_of(table)
    );
    let columns = source.query(&sql).await.map_err(|message| QualityError::Engine { sql: sql.clone(), message })?;
    if columns.is_empty() {
        return Err(QualityError::Engine { sql, message: format!("no table {table:?} (or it has no columns)") });
    }
    let t = d.ident(table);
    let mut out = Vec::new();
    for c in columns {
        let name = cell_text(c.get("column_name")).unwrap_or_default();
        let data_type = cell_text(c.get("data_type")).unwrap_or_default();
        let col = d.quoted(&name);
        let mut stats = vec![
            "COUNT(*) AS total".to_string(),
            format!("COUNT({col}) AS present"),
            format!("COUNT(DISTINCT {col}) AS distinct_values"),
        ];
        if is_ordered(&data_type) {
            stats.push(format!("{} AS min_value", d.text(&format!("MIN({col})"))));
            stats.push(format!("{} AS max_value", d.text(&format!("MAX({col})"))));
        }
        if is_numeric(&data_type) {
            stats.push(format!("{} AS mean_value", d.text(&format!("AVG({col})"))));
        }
        let sql = format!("SELECT {} FROM {t}", stats.join(", "));
        let row = source
            .query(&sql)
            .await
            .map_err(|message| QualityError::Engine { sql: sql.clone(), message })?
            .into_iter()
            .next()
            .unwrap_or_default();
        let rows = cell_u64(row.get("total")).unwrap_or(0);
        let v = d.text(&col);
        let sql = format!(
            "SELECT {v} AS v, COUNT(*) AS n FROM {t} WHERE {col} IS NOT NULL GROUP BY {v} ORDER BY n DESC, v LIMIT {TOP_VALUES}"
        );
        let top = source
            .query(&sql)
            .await
            .map_err(|message| QualityError::Engine { sql: sql.clone(), message })?
            .iter()
            .map(|r| (cell_text(r.get("v")).unwrap_or_default(), cell_u64(r.get("n")).unwrap_or(0)))
            .collect();
        out.push(ColumnProfile {
            column: name,
            data_type,
            rows,
            nulls: rows.saturating_sub(cell_u64(row.get("present")).unwrap_or(0)),
            distinct: cell_u64(row.get("distinct_values")).unwrap_or(0),
            min: cell_text(row.get("min_value")),
            max: cell_text(row.get("max_value")),
            mean: cell_text(row.get("mean_value")),
            top,
        });
    }
    Ok(out)
}
