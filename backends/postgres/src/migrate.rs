//! Embedded schema migrations, applied on connect: each `migrations/NNNN_*.sql` file runs once,
//! in order, recorded with its SHA-256 in `aurum_schema_migrations`. All pending migrations run
//! in one transaction under an advisory lock, so concurrent starters neither race nor see half a
//! schema. A database that ran a migration this build does not know, or whose text differs, is
//! refused: the schema and the code would disagree.

use sha2::{Digest, Sha256};
use sqlx::{Executor, PgPool};

use crate::error::PgError;

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its version (the file's number).
    pub version: i32,
    /// Its name (the file's).
    pub name: &'static str,
    /// Its SQL: several statements, run as one simple query.
    pub sql: &'static str,
}

impl Migration {
    /// SHA-256 of the SQL, hex.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

/// The migrations of this build, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "0001_read_model", sql: include_str!("../migrations/0001_read_model.sql") },
    Migration { version: 2, name: "0002_star", sql: include_str!("../migrations/0002_star.sql") },
    Migration { version: 3, name: "0003_lists", sql: include_str!("../migrations/0003_lists.sql") },
];

/// Key of the advisory lock migrations run under ("AURUMPG1" as 8 bytes).
const MIGRATION_LOCK: i64 = 0x4155_5255_4d50_4731;

/// Apply the migrations the database lacks (in the connection's search path). Returns the
/// versions applied now.
pub async fn migrate(pool: &PgPool) -> Result<Vec<i32>, PgError> {
    migrate_to(pool, i32::MAX).await
}

/// [`migrate`], stopping after version `last` (an upgrade test builds an older schema this way,
/// through the same checks and bookkeeping as a real start).
pub async fn migrate_to(pool: &PgPool, last: i32) -> Result<Vec<i32>, PgError> {
    let mut tx = pool.begin().await.map_err(PgError::db("starting the migration transaction"))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(PgError::db("taking the migration lock"))?;
    tx.execute(
        "CREATE TABLE IF NOT EXISTS aurum_schema_migrations (
             version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .map_err(PgError::db("creating aurum_schema_migrations"))?;
    let applied: Vec<(i32, String, String)> =
        sqlx::query_as("SELECT version, name, checksum FROM aurum_schema_migrations ORDER BY version")
            .fetch_all(&mut *tx)
            .await
            .map_err(PgError::db("reading aurum_schema_migrations"))?;
    for (version, name, checksum) in &applied {
        let Some(known) = MIGRATIONS.iter().find(|m| m.version == *version) else {
            return Err(PgError::Migration(format!(
                "the database ran migration {version} ({name}), which this build does not have: it is newer than this build"
            )));
        };
        if known.checksum() != *checksum {
            return Err(PgError::Migration(format!(
                "migration {version} ({name}) in the database has checksum {checksum}, this build's has {}: its text was changed after it ran",
                known.checksum()
            )));
        }
    }
    let mut ran = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version <= last && !applied.iter().any(|(v, _, _)| *v == m.version)) {
        tx.execute(m.sql).await.map_err(PgError::db(format!("running migration {}", m.name)))?;
        sqlx::query("INSERT INTO aurum_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)")
            .bind(m.version)
            .bind(m.name)
            .bind(m.checksum())
            .execute(&mut *tx)
            .await
            .map_err(PgError::db(format!("recording migration {}", m.name)))?;
        ran.push(m.version);
    }
    tx.commit().await.map_err(PgError::db("committing the migrations"))?;
    Ok(ran)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_named_for_their_files() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1);
            assert!(m.name.starts_with(&format!("{:04}_", m.version)), "{}", m.name);
            assert_eq!(m.checksum().len(), 64);
        }
    }
}
