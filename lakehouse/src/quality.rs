//! The lakehouse as a data-quality source: checks run as DataFusion SQL over the Iceberg tables
//! (the same session `aurum sql` uses), rows come back through Arrow's JSON writer.

use aurum_quality::{BoxFuture, Dialect, Row, SourceKind, SqlSource};
use datafusion::prelude::SessionContext;

/// Data-quality checks on the Iceberg tables.
#[derive(Clone)]
pub struct LakeSource {
    ctx: SessionContext,
}

impl std::fmt::Debug for LakeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LakeSource").finish_non_exhaustive()
    }
}

impl LakeSource {
    /// Over a session from [`crate::sql::session`].
    pub fn new(ctx: SessionContext) -> LakeSource {
        LakeSource { ctx }
    }
}

impl SqlSource for LakeSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Lake
    }

    fn dialect(&self) -> Dialect {
        Dialect::DataFusion
    }

    fn query<'a>(&'a self, sql: &'a str) -> BoxFuture<'a, Result<Vec<Row>, String>> {
        Box::pin(async move {
            let batches = crate::sql::query(&self.ctx, sql).await.map_err(|e| e.to_string())?;
            let json = crate::sql::json_rows(&batches).map_err(|e| e.to_string())?;
            serde_json::from_slice::<Vec<Row>>(&json).map_err(|e| format!("rows: {e}"))
        })
    }
}
