//! Aurum's transaction intelligence: fraud and anomaly scoring of ledger transfers.
//!
//! ```text
//!   TxEvent ──► profile::compute (per-account windows, amount profile, counterparties, hours)
//!                  │ FeatureVector
//!                  ├──► hst (Half-Space Trees): model_score
//!                  └──► rules (declarative, hot-reloaded): fired rules + reasons
//!               Scorer::assess ──► score in [0, 1], Decision (allow / hold / reject), reasons
//!               Scorer::observe ──► profiles, model, top-K riskiest accounts, drift (PSI)
//! ```
//!
//! - [`scorer`] is the entry point; [`stream`] drives it from the ledger journal and writes alerts
//!   to the `risk.alerts` topic; [`reload`] watches the rules file.
//! - [`synth`] generates labelled synthetic traffic (normal personas + injected patterns) and
//!   [`eval`] measures precision and recall per pattern on it.
//!
//! The crate never touches money: features are `f64` evidence, amounts stay integer base units in
//! [`TxEvent`], and thresholds are parsed exactly from decimal strings.

pub mod bench;
pub mod drift;
pub mod error;
pub mod eval;
pub mod event;
pub mod expr;
pub mod features;
pub mod hst;
pub mod profile;
pub mod reload;
pub mod rules;
pub mod scorer;
pub mod stream;
pub mod synth;

pub use error::RiskError;
pub use event::TxEvent;
pub use features::{FEATURE_COUNT, Feature, FeatureVector};
pub use rules::{Decision, Policy, RuleSet, Side};
pub use scorer::{Assessment, Reason, Scorer, ScorerConfig, ScorerStats};
