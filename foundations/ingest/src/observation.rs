//! What a source delivers, after field mapping: the unit that flows from the runner to the consumer.

use serde::{Deserialize, Serialize};

/// One observation of one source: a price, a reserve attestation or an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// The source's configured name.
    pub source: String,
    /// What was observed: `"XAU/USD"`, `"XAU/INR"`, `"RESERVE"`, or an event type like `"halt"`.
    pub symbol: String,
    /// An exact decimal string (`"2650.12"`, `"-1.5"`), as served; `None` for pure events.
    pub value: Option<String>,
    /// Free text of an event (a custodian notice), if mapped and present.
    pub text: Option<String>,
    /// The source's own timestamp, unix milliseconds.
    pub observed_at_ms: i64,
    /// When the framework received the payload, unix milliseconds, from its [`crate::Clock`].
    pub received_at_ms: i64,
    /// The signature as served by the source (hex); verified downstream, not here.
    pub signature: Option<String>,
}
