//! Sending notifications to a Slack-compatible incoming webhook (`{"text": …}` plus an
//! attachment with the details; Mattermost, Rocket.Chat and most chat tools accept the same).
//!
//! Notifications wait in an [`Outbox`] (persisted with the alert states by the caller) and go
//! out in order; one that fails (no answer, a non-2xx status) stays first and is retried after a
//! backoff, so a firing is never overtaken by its own resolve. The outbox holds at most
//! [`MAX_OUTBOX`] notifications; beyond that the oldest are dropped and counted.

use std::collections::VecDeque;
use std::time::Duration;

use aurum_retry::{Backoff, RetryPolicy};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::eval::{Notification, format_value};

/// Most notifications waiting.
pub const MAX_OUTBOX: usize = 1000;
/// Time limit of one POST.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Notifications waiting to be delivered, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outbox {
    /// The queue.
    pub queue: VecDeque<Notification>,
    /// Failed attempts at the first one.
    pub failures: u32,
    /// Not before this time (ms) after a failure.
    pub retry_at_ms: i64,
    /// Dropped for lack of room, ever.
    pub dropped: u64,
    /// Dropped because the receiver refused them for good (a 4xx other than 408 and 429), ever.
    #[serde(default)]
    pub rejected: u64,
    /// Delivered, ever.
    pub delivered: u64,
}

impl Outbox {
    /// Queue notifications (dropping the oldest beyond [`MAX_OUTBOX`]).
    pub fn push(&mut self, n: impl IntoIterator<Item = Notification>) {
        for n in n {
            if self.queue.len() == MAX_OUTBOX {
                self.queue.pop_front();
                self.dropped += 1;
            }
            self.queue.push_back(n);
        }
    }
}

/// The Slack-compatible body of a notification.
pub fn payload(n: &Notification) -> Value {
    let firing = n.status == "firing";
    let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let text = format!(
        "{} [{}] {}{}: {}",
        if firing { ":rotating_light:" } else { ":white_check_mark:" },
        n.status.to_uppercase(),
        n.rule,
        if labels.is_empty() { String::new() } else { format!(" {{{}}}", labels.join(", ")) },
        n.summary
    );
    json!({
        "text": text,
        "attachments": [{
            "color": if firing { "#d00000" } else { "#2eb886" },
            "fields": [
                {"title": "severity", "value": n.severity, "short": true},
                {"title": "value", "value": format_value(n.value), "short": true},
                {"title": "since_ms", "value": n.since_ms.to_string(), "short": true},
            ],
        }],
        "aurum": n,
    })
}

/// A webhook to deliver to.
#[derive(Debug, Clone)]
pub struct Webhook {
    url: String,
    client: reqwest::Client,
    policy: RetryPolicy,
}

impl Webhook {
    /// Posting to `url` (http://), retrying after `base_ms`, doubling up to `max_ms`.
    pub fn new(url: &str, base_ms: u64, max_ms: u64) -> Result<Webhook, String> {
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(format!("alert webhook {url:?}: an http:// URL"));
        }
        let client = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().map_err(|e| e.to_string())?;
        let policy =
            RetryPolicy { base_ms, max_delay_ms: max_ms.max(base_ms), max_attempts: 1, jitter_percent: 50, seed: None };
        Ok(Webhook { url: url.to_string(), client, policy })
    }

    /// Deliver what the outbox holds, in order, until one fails (it stays, retried at
    /// `retry_at_ms`). Returns how many were delivered.
    pub async fn flush(&self, outbox: &mut Outbox, now_ms: i64) -> usize {
        if now_ms < outbox.retry_at_ms {
            return 0;
        }
        let mut sent = 0;
        while let Some(n) = outbox.queue.front() {
            let status = self.client.post(&self.url).json(&payload(n)).send().await.map(|r| r.status().as_u16());
            // A 4xx other than a timeout or a rate limit will not change on retry: drop that one
            // (counted) rather than block every later notification behind it.
            if let Ok(code @ 400..=499) = status
                && code != 408
                && code != 429
            {
                outbox.queue.pop_front();
                outbox.rejected += 1;
                continue;
            }
            if !status.is_ok_and(|c| (200..300).contains(&c)) {
                outbox.failures += 1;
                let delay = Backoff::new(self.policy.clone(), now_ms as u64).delay(outbox.failures);
                outbox.retry_at_ms = now_ms.saturating_add(delay.as_millis() as i64);
                return sent;
            }
            outbox.queue.pop_front();
            outbox.failures = 0;
            outbox.delivered += 1;
            sent += 1;
        }
        sent
    }
}
