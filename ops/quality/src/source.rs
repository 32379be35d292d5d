//! The engines checks run on, and the little SQL that differs between them.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::spec::SourceKind;

/// A boxed `Send` future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One result row: column name → value (JSON: numbers, strings, null).
pub type Row = serde_json::Map<String, Value>;

/// The SQL dialect of an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// Apache DataFusion (over the Iceberg tables).
    DataFusion,
}

/// A SQL engine to check tables on. Implemented by `aurum-lake` (DataFusion over Iceberg) and
/// `aurum-pg` (the read model), so this crate links neither.
pub trait SqlSource: Send + Sync {
    /// Which source this is (checks name theirs).
    fn kind(&self) -> SourceKind;
    /// Its dialect.
    fn dialect(&self) -> Dialect;
    /// Run one query; its rows. Errors are the engine's message.
    fn query<'a>(&'a self, sql: &'a str) -> BoxFuture<'a, Result<Vec<Row>, String>>;
}

impl Dialect {
    /// `"name"` or `"schema"."name"`: names are checked plain identifiers, so quoting only
    /// keeps their case.
    pub fn ident(self, path: &str) -> String {
        path.split('.').map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join(".")
    }

    /// One name exactly as an engine reports it (a column read from `information_schema`): quoted
    /// whole, inner quotes doubled, never split on dots.
    pub fn quoted(self, name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    /// A string literal (single quotes doubled).
    pub fn string(self, s: &str) -> String {
        format!("'{}'", s.replace('\'', "''"))
    }

    /// An exact decimal from a checked decimal string.
    pub fn decimal(self, s: &str) -> String {
        match self {
            Dialect::Postgres => format!("CAST({} AS numeric)", self.string(s)),
            Dialect::DataFusion => format!("CAST({} AS DECIMAL(38, 18))", self.string(s)),
        }
    }

    /// `expr` as text.
    pub fn text(self, expr: &str) -> String {
        match self {
            Dialect::Postgres => format!("CAST({expr} AS text)"),
            Dialect::DataFusion => format!("CAST({expr} AS VARCHAR)"),
        }
    }

    /// `expr` as a double (for binning only: never for money).
    pub fn float(self, expr: &str) -> String {
        match self {
            Dialect::Postgres => format!("CAST({expr} AS double precision)"),
            Dialect::DataFusion => format!("CAST({expr} AS DOUBLE)"),
        }
    }

    /// A timestamp expression as whole seconds since the epoch.
    pub fn epoch_seconds(self, expr: &str) -> String {
        match self {
            Dialect::Postgres => format!("CAST(FLOOR(EXTRACT(EPOCH FROM {expr})) AS bigint)"),
            Dialect::DataFusion => format!("to_unixtime({expr})"),
        }
    }

    /// The condition choosing a table's columns in `information_schema.columns`.
    pub fn columns_of(self, table: &str) -> String {
        let (schema, name) = table.split_once('.').map_or((None, table), |(s, t)| (Some(s), t));
        let schema = match (self, schema) {
            (_, Some(s)) => self.string(s),
            (Dialect::Postgres, None) => "current_schema()".into(),
            (Dialect::DataFusion, None) => self.string("public"),
        };
        format!("table_schema = {schema} AND table_name = {}", self.string(name))
    }
}

/// A cell as text (`None` for NULL): strings as they are, numbers as written.
pub fn cell_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A cell as a count (engines return counts as numbers or, for big ones, strings).
pub fn cell_u64(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_i64().and_then(|i| u64::try_from(i).ok())),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A cell as an i64 (times).
pub fn cell_i64(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A cell as an f64 (statistics only).
pub fn cell_f64(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}
