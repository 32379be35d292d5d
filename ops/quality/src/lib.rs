//! `aurum-quality`: data-quality checks in the style of Great Expectations and Soda, and a
//! column profiler, over any SQL engine behind [`SqlSource`].
//!
//! - [`spec`]: the checks file (TOML): not null, unique, in set, between, regex, row count,
//!   freshness, referential integrity, distribution drift (PSI), each with a severity, a `mostly`
//!   threshold and an optional `where`;
//! - [`run`]: each check compiled to one to three SQL queries; its result has the rows looked at,
//!   the unexpected ones, examples of unexpected values, and pass / warn / fail / error;
//! - [`profile`]: per-column rows, NULLs, distinct values, min, max, mean and top values;
//! - [`source`]: the engine trait and the SQL that differs between PostgreSQL and DataFusion.
//!
//! The engines live elsewhere (`aurum-lake` for Iceberg through DataFusion, `aurum-pg` for the
//! read model), so this crate links neither. Decimal bounds are compared exactly (decimal
//! literals, never floats); floats appear only in drift binning and PSI, which are statistics.

pub mod error;
pub mod profile;
pub mod run;
pub mod source;
pub mod spec;

pub use error::QualityError;
pub use profile::{ColumnProfile, profile};
pub use run::{CheckResult, Example, Status, run_check, run_checks, worst};
pub use source::{BoxFuture, Dialect, Row, SqlSource};
pub use spec::{Check, Kind, Severity, SourceKind, TimeUnit, parse};
