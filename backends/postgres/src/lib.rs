//! `aurum-pg`: Aurum's read model in PostgreSQL, for when one machine's memory is not where
//! history and list queries should be answered from.
//!
//! - [`migrate`]: the schema, embedded and applied on connect (docs/postgres.md has the ER
//!   diagram): a normalised model (assets, accounts, transfers, entries, postings, expirations,
//!   balances, balance history) and an analytics star (fact_transfers, dim_account, dim_asset,
//!   dim_date);
//! - [`project`]: the projector, which re-executes the journal and writes each batch of blocks
//!   and its position in one transaction (exactly once across crashes and restarts);
//! - [`read`]: the queries answered from it (balances, balance as of a time or seq, statements,
//!   trial balance, transfer lists), in the ledger's own types;
//! - [`text`]: PostgreSQL's text formats (COPY rows, timestamps), so amounts stay exact strings.
//!
//! sqlx is used here and in the lakehouse's catalog only; nothing else in Aurum links it.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor};

pub mod codes;
pub mod error;
pub mod migrate;
pub mod project;
pub mod quality;
pub mod read;
pub mod text;

pub use error::PgError;
pub use project::{DEFAULT_PROJECTION, Failpoint, Projector, SyncReport};
/// The connection pool type of [`ReadModel::pool`] (sqlx's), re-exported so callers need no sqlx.
pub use sqlx::PgPool;

/// Connections in a read model's pool.
pub const POOL_CONNECTIONS: u32 = 4;
/// How long to wait for a connection from the pool (and for the server at connect).
pub const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Where the read model lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// `postgres://user:password@host:port/database`.
    pub url: String,
    /// A schema of its own (created if missing); `None`: the user's default search path.
    pub schema: Option<String>,
}

impl PgConfig {
    /// The URL with its password replaced by `***`, for messages and logs.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

/// `url` with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, tail) = rest.split_once('/').map_or((rest, None), |(a, t)| (a, Some(t)));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    match tail {
        Some(t) => format!("{scheme}://{authority}/{t}"),
        None => format!("{scheme}://{authority}"),
    }
}

fn check_schema_name(schema: &str) -> Result<(), PgError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(PgError::Config(format!(
            "schema name {schema:?} must be 1-63 characters of a-z, 0-9 and _, not starting with a digit"
        )))
    }
}

/// A connected, migrated read model.
#[derive(Debug, Clone)]
pub struct ReadModel {
    pool: PgPool,
    config: PgConfig,
}

impl ReadModel {
    /// Connect, create the schema if one is named and missing, and apply the migrations the
    /// database lacks.
    pub async fn connect(config: &PgConfig) -> Result<ReadModel, PgError> {
        let mut options = PgConnectOptions::from_str(&config.url)
            .map_err(|e| PgError::Config(format!("bad URL {}: {e}", config.redacted_url())))?;
        if let Some(schema) = &config.schema {
            check_schema_name(schema)?;
        }
        // One plain connection first: a refused connection or bad credentials fail at once here,
        // where the pool would retry until its acquire timeout.
        let mut conn = sqlx::PgConnection::connect_with(&options)
            .await
            .map_err(PgError::db(format!("connecting to {}", config.redacted_url())))?;
        if let Some(schema) = &config.schema {
            // A plain string runs as a simple query. (`raw_sql(..).execute(..)` would make this
            // future not provably Send, which the API's boxed read model needs.)
            conn.execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
                .await
                .map_err(PgError::db(format!("creating schema {schema}")))?;
            options = options.options([("search_path", schema.as_str())]);
        }
        conn.close().await.map_err(PgError::db("closing the setup connection"))?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(PgError::db(format!("connecting to {}", config.redacted_url())))?;
        migrate::migrate(&pool).await?;
        Ok(ReadModel { pool, config: config.clone() })
    }

    /// [`ReadModel::connect`] as a boxed `Send` future, for callers that store or spawn it
    /// (proving `Send` for sqlx's transaction futures needs the concrete types this crate has).
    pub fn connect_send(
        config: &PgConfig,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<ReadModel, PgError>> + Send + '_>> {
        Box::pin(ReadModel::connect(config))
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Where it lives.
    pub fn config(&self) -> &PgConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://aurum:s3cret@127.0.0.1:5432/aurum"), "postgres://aurum:***@127.0.0.1:5432/aurum");
        assert_eq!(redact("postgres://aurum@h/db"), "postgres://aurum@h/db");
        assert_eq!(redact("postgres://h"), "postgres://h");
    }

    #[test]
    fn schema_names_are_checked() {
        assert!(check_schema_name("t_0193abc").is_ok());
        for bad in ["", "0abc", "a-b", "A", "a;drop", &"x".repeat(64)] {
            assert!(check_schema_name(bad).is_err(), "{bad}");
        }
    }
}
