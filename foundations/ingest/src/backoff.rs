//! Retry delays: [`aurum_retry`]'s policy and backoff, shared with the scheduler and the alert
//! webhook (one definition of "exponential with a cap and seeded jitter").

pub use aurum_retry::{Backoff, MAX_ATTEMPTS_LIMIT, MAX_DELAY_LIMIT_MS, RetryPolicy, RetryPolicyError, seed_for};
