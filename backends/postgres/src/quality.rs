//! The read model as a data-quality source: each check's query runs wrapped in
//! `row_to_json`, so any result shape comes back as name → JSON value.

use aurum_quality::{BoxFuture, Dialect, Row, SourceKind, SqlSource};
use sqlx::PgPool;

/// Data-quality checks on the PostgreSQL read model (its schema is the pool's search path).
#[derive(Debug, Clone)]
pub struct PgSource {
    pool: PgPool,
}

impl PgSource {
    /// Over `pool`.
    pub fn new(pool: PgPool) -> PgSource {
        PgSource { pool }
    }
}

impl SqlSource for PgSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Postgres
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query<'a>(&'a self, sql: &'a str) -> BoxFuture<'a, Result<Vec<Row>, String>> {
        Box::pin(async move {
            let wrapped = format!("SELECT row_to_json(q)::text FROM ({sql}) AS q");
            let texts: Vec<String> =
                sqlx::query_scalar(&wrapped).fetch_all(&self.pool).await.map_err(|e| e.to_string())?;
            texts.iter().map(|t| serde_json::from_str::<Row>(t).map_err(|e| format!("row {t:?}: {e}"))).collect()
        })
    }
}
