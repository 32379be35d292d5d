//! The alert webhook: a background task that consumes `risk.alerts` and POSTs each alert, in
//! offset order, to the configured URL as Slack-compatible JSON:
//!
//! ```json
//! {"text": "Aurum risk alert: hold, score 0.80 — transfer 1005 (7 → 8, 1000 units of asset 1); velocity_burst: 5 transfers out within 10 minutes (…)",
//!  "alert": { …the alert as stored in risk.alerts… }}
//! ```
//!
//! Delivery is **at least once, in order, never skipping**: the consumer group `risk.webhook`'s
//! offset is committed in the log only after a 2xx answer; a failed attempt (timeout, connection
//! error, any non-2xx status) is retried with exponential backoff and jitter, capped at
//! [`WebhookLimits::max_retry_delay`], for as long as it takes. An alert the topic's retention
//! removed before it could be delivered is the only one passed over (counted as `skipped` and
//! logged). Each request carries `Aurum-Alert-Id: risk.alerts-0-<offset>` so a receiver can drop
//! the duplicate a crash in the middle of a delivery may cause. The task wakes when an alert is
//! appended (a blocking `read_wait` on a blocking thread). At shutdown it finishes the attempt in
//! flight (bounded by [`WebhookLimits::request_timeout`]) and commits it if it succeeded, then
//! stops (within [`WebhookLimits::poll_wait`] when idle); an alert waiting for a retry is
//! delivered after the restart. The URL is a secret (Slack's are): logs
//! show its scheme and host only.

use std::time::Duration;

use aurum_log::{SharedTopics, Topics};
use aurum_retry::{Backoff, RetryPolicy};
use aurum_risk::stream::{ALERTS_TOPIC, Alert};
use tokio::sync::watch;

use crate::config::{WebhookLimits, redact_url};
use crate::metrics::RiskMetrics;
use crate::server::AppState;

/// The consumer group whose committed offset is the webhook's position.
pub const WEBHOOK_GROUP: &str = "risk.webhook";
/// Request header naming the alert (`risk.alerts-0-<offset>`): a stable id for deduplication.
pub const ALERT_ID_HEADER: &str = "aurum-alert-id";
/// Most bytes read from the alerts topic per poll.
const MAX_FETCH_BYTES: usize = 1 << 20;

/// Check a webhook URL: `http://host[:port]/path`. This build speaks plain HTTP only (no TLS
/// stack is linked), so an `https://` URL is refused here rather than failing at every delivery;
/// reach an HTTPS receiver (Slack) through a local relay or proxy.
pub fn check_url(url: &str) -> Result<(), String> {
    let shown = redact_url(url);
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("risk webhook URL {shown} is not a URL: {e}"))?;
    match parsed.scheme() {
        "http" if parsed.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        "http" => Err(format!("risk webhook URL {shown} has no host")),
        "https" => Err(format!(
            "risk webhook URL {shown}: this build speaks plain http:// only (no TLS stack is linked); \
             point it at a local relay that forwards to HTTPS"
        )),
        other => Err(format!("risk webhook URL {shown}: scheme {other:?} is not http")),
    }
}

/// The one-line summary of an alert (Slack's `text`): decision, score, transfer, top reason.
pub fn summary(a: &Alert) -> String {
    let top = a.reasons.iter().max_by(|x, y| x.score.total_cmp(&y.score));
    let reason = top.map_or_else(String::new, |r| format!("; {}: {}", r.rule, r.text));
    format!(
        "Aurum risk alert: {}, score {:.2} — transfer {} ({} → {}, {} units of asset {}){reason}",
        a.decision, a.score, a.transfer, a.debit_account, a.credit_account, a.amount_units, a.asset
    )
}

/// The body POSTed for an alert.
pub fn payload(a: &Alert) -> serde_json::Value {
    serde_json::json!({ "text": summary(a), "alert": a })
}

/// The webhook's delays: `aurum_retry`'s exponential backoff, drawn from `[d/2, d]` with
/// `d = min(max, base · 2^(k−1))` before retry `k`. The webhook retries without an attempt limit
/// (an alert is never dropped), so `max_attempts` is unused here.
fn backoff(base: Duration, max: Duration, seed: u64) -> Backoff {
    let base_ms = u64::try_from(base.as_millis()).unwrap_or(u64::MAX).max(1);
    let max_delay_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX).max(base_ms);
    Backoff::new(RetryPolicy { base_ms, max_delay_ms, max_attempts: 1, jitter_percent: 50, seed: None }, seed)
}

/// Resolves once `stop` turns true (or its sender is gone).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Wait `d`, unless the server stops first (then true).
async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(d) => false,
        () = stopped(stop) => true,
    }
}

async fn on_blocking<R: Send + 'static>(
    log: &SharedTopics,
    f: impl FnOnce(&dyn Topics) -> Result<R, aurum_log::Error> + Send + 'static,
) -> Result<R, String> {
    let log = log.clone();
    match tokio::task::spawn_blocking(move || f(&*log)).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(format!("blocking task: {e}")),
    }
}

/// POST one alert until a 2xx answers (true) or the server stops between attempts (false).
async fn deliver(
    client: &reqwest::Client,
    url: &str,
    alert: &Alert,
    offset: u64,
    backoff: &mut Backoff,
    stop: &mut watch::Receiver<bool>,
    metrics: &RiskMetrics,
) -> bool {
    let body = payload(alert);
    let id = format!("{ALERTS_TOPIC}-0-{offset}");
    let mut retry = 0u32;
    loop {
        // An attempt in flight is not abandoned at shutdown (the request timeout bounds it): an
        // alert the receiver acknowledged is committed, so a restart does not deliver it again.
        let sent = client.post(url).header(ALERT_ID_HEADER, &id).json(&body).send().await;
        let failure = match sent {
            Ok(r) if r.status().is_success() => {
                metrics.webhook("delivered", 1);
                return true;
            }
            Ok(r) => format!("HTTP {}", r.status()),
            // Never the URL (reqwest errors may name it): it is a secret.
            Err(e) => format!("{}", e.without_url()),
        };
        metrics.webhook("failed", 1);
        retry += 1;
        let wait = backoff.delay(retry);
        tracing::warn!(webhook = %redact_url(url), alert = %id, attempt = retry, error = %failure, retry_in_ms = wait.as_millis() as u64, "risk alert webhook failed; retrying");
        if sleep_or_stop(wait, stop).await {
            return false;
        }
    }
}

/// Run the webhook until `stop` turns true (spawned by the server when a webhook URL is set).
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let Some((url, limits)) = state.risk().and_then(|r| r.webhook()).map(|(u, l)| (u.to_string(), l)) else {
        return;
    };
    let client = match reqwest::Client::builder().timeout(limits.request_timeout).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e.without_url(), "risk alert webhook: no HTTP client; alerts stay in risk.alerts");
            return;
        }
    };
    let WebhookLimits { retry_base_delay, max_retry_delay, batch_alerts, poll_wait, .. } = limits;
    let mut backoff = backoff(retry_base_delay, max_retry_delay, crate::risk::now_ns());
    let log = state.topics().clone();
    let metrics = state.metrics();
    tracing::info!(webhook = %redact_url(&url), group = WEBHOOK_GROUP, "risk alert webhook started");

    // Where to resume: the committed offset, or the oldest alert still kept.
    let mut failures = 0u32;
    let mut next = loop {
        let position = on_blocking(&log, |log| {
            let committed = log.committed_offset(WEBHOOK_GROUP, ALERTS_TOPIC, 0)?;
            Ok(committed.unwrap_or(log.offsets(ALERTS_TOPIC, 0)?.log_start))
        })
        .await;
        match position {
            Ok(p) => break p,
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "risk alert webhook: reading its committed offset failed; retrying");
                if sleep_or_stop(backoff.delay(failures), &mut stop).await {
                    return;
                }
            }
        }
    };

    failures = 0;
    while !*stop.borrow() {
        let from = next;
        let fetch =
            on_blocking(&log, move |log| log.read_wait(ALERTS_TOPIC, 0, from, MAX_FETCH_BYTES, poll_wait)).await;
        let fetch = match fetch {
            Ok(f) => {
                failures = 0;
                f
            }
            Err(e) => {
                // Retention may have removed alerts never delivered: skip to the oldest kept.
                let bounds = on_blocking(&log, |log| log.offsets(ALERTS_TOPIC, 0)).await;
                if let Ok(o) = bounds
                    && (next < o.log_start || next > o.log_end)
                {
                    let to = if next < o.log_start { o.log_start } else { o.log_end };
                    metrics.risk().webhook("skipped", to.abs_diff(next));
                    tracing::error!(
                        from = next,
                        to,
                        "risk alert webhook: alerts removed by retention before delivery were skipped"
                    );
                    next = to;
                    continue;
                }
                failures += 1;
                tracing::warn!(error = %e, "risk alert webhook: reading risk.alerts failed; retrying");
                if sleep_or_stop(backoff.delay(failures), &mut stop).await {
                    return;
                }
                continue;
            }
        };
        let start = next;
        for record in fetch.records.into_iter().filter(|r| r.offset >= start).take(batch_alerts) {
            if *stop.borrow() {
                return;
            }
            let offset = record.offset;
            match record.value.as_deref().map(serde_json::from_slice::<Alert>) {
                Some(Ok(alert)) => {
                    if !deliver(&client, &url, &alert, offset, &mut backoff, &mut stop, metrics.risk()).await {
                        return; // stopping: not committed, delivered again after the restart
                    }
                }
                _ => {
                    metrics.risk().webhook("skipped", 1);
                    tracing::error!(offset, "risk alert webhook: a record of risk.alerts is not an alert; skipped");
                }
            }
            next = offset + 1;
            let committed = on_blocking(&log, move |log| log.commit_offset(WEBHOOK_GROUP, ALERTS_TOPIC, 0, next)).await;
            if let Err(e) = committed {
                // Delivered but not committed: a restart delivers it again (at least once).
                tracing::warn!(error = %e, offset, "risk alert webhook: committing its offset failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_within_the_jitter_band() {
        let mut b = backoff(Duration::from_millis(100), Duration::from_millis(1000), 7);
        for (retry, ceiling) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (60, 1000)] {
            let d = b.delay(retry).as_millis() as u64;
            assert!((ceiling / 2..=ceiling).contains(&d), "retry {retry}: {d} not in [{}, {ceiling}]", ceiling / 2);
        }
    }

    #[test]
    fn the_summary_is_one_line_with_the_top_reason() {
        let alert = Alert {
            transfer: "1005".into(),
            debit_account: "7".into(),
            credit_account: "8".into(),
            asset: 1,
            amount_units: "1000".into(),
            timestamp_ns: 1,
            score: 0.8,
            decision: "hold".into(),
            source: "admission".into(),
            reasons: vec![aurum_risk::stream::AlertReason {
                rule: "velocity_burst".into(),
                pattern: "velocity".into(),
                side: "sender".into(),
                account: "7".into(),
                score: 0.8,
                text: "5 transfers out within 10 minutes".into(),
            }],
        };
        let text = summary(&alert);
        assert_eq!(
            text,
            "Aurum risk alert: hold, score 0.80 — transfer 1005 (7 → 8, 1000 units of asset 1); velocity_burst: 5 \
             transfers out within 10 minutes"
        );
        let body = payload(&alert);
        assert_eq!(body["alert"]["transfer"], "1005");
        assert!(!body["text"].as_str().unwrap().contains('\n'));
        assert_eq!(redact_url("https://hooks.slack.com/services/T0/B0/secret"), "https://hooks.slack.com/…");
        assert_eq!(redact_url("http://user:pw@127.0.0.1:9/x?y"), "http://127.0.0.1:9/…");
        assert!(check_url("http://127.0.0.1:9/hook").is_ok());
        let e = check_url("https://hooks.slack.com/services/T0/B0/secret").unwrap_err();
        assert!(e.contains("plain http://") && !e.contains("secret"), "{e}");
        assert!(check_url("ftp://x/y").is_err() && check_url("not a url").is_err());
    }
}
