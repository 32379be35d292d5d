//! Prometheus metrics in the text exposition format (version 0.0.4), without a metrics crate.
//!
//! HTTP series are keyed by route TEMPLATE (`/v1/accounts/{id}`, never a raw path), a method from a
//! fixed list and a status code, so label cardinality is bounded: at most [`MAX_ROUTES`] templates
//! (extra ones fold into [`OVERFLOW_ROUTE`]) × [`METHODS`] × the statuses actually returned. The hot
//! path (`record_request`) takes a read lock on the route map and a short per-(route, method) mutex.
//! Engine figures come from [`EngineStats`], read at render time. With risk scoring on, the risk
//! series ([`RiskMetrics`]) follow: decisions, alerts, webhook deliveries, scoring latency.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use aurum_ledger_node::stats::EngineStats;
use parking_lot::{Mutex, RwLock};

/// Most distinct route templates tracked; more would mean routes are not templates (a bug), so they
/// are folded into one series instead of growing memory and the scrape without bound.
pub const MAX_ROUTES: usize = 256;
/// The route label used once [`MAX_ROUTES`] is reached.
pub const OVERFLOW_ROUTE: &str = "__other__";
/// The methods that get their own label value; anything else is recorded as `OTHER`.
pub const METHODS: [&str; 8] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "OTHER"];
/// Upper bounds of the request latency buckets, in microseconds (0.5 ms … 5 s; +Inf is implicit).
pub const LATENCY_BUCKETS_US: [u64; 13] =
    [500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000];

/// Counts and latencies for one (route, method).
#[derive(Debug)]
struct Series {
    /// Non-cumulative counts per latency bucket; the last slot is +Inf.
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    /// Sum of latencies, in nanoseconds (u64 nanoseconds cover 584 years of summed latency).
    sum_ns: AtomicU64,
    /// Requests per status code. A short mutex: statuses per series are few and rarely new.
    statuses: Mutex<BTreeMap<u16, u64>>,
}

impl Series {
    fn new() -> Series {
        Series {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_ns: AtomicU64::new(0),
            statuses: Mutex::new(BTreeMap::new()),
        }
    }
}

/// One series per method, indexed like [`METHODS`].
type RouteSeries = [Series; METHODS.len()];

/// Upper bounds of the risk scoring latency buckets, in microseconds (1 µs … 5 ms; +Inf implicit).
pub const SCORING_BUCKETS_US: [u64; 11] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 5_000];
/// Decisions, in the order of the `decision` label values.
const DECISIONS: [&str; 3] = ["allow", "hold", "reject"];
/// Webhook delivery results, in the order of the `result` label values: delivered (2xx), failed
/// (an attempt that will be retried), skipped (an alert that retention removed before delivery,
/// or one that does not decode).
pub const WEBHOOK_RESULTS: [&str; 3] = ["delivered", "failed", "skipped"];

/// Counters of risk scoring at admission (rendered only once [`RiskMetrics::enable`] was called).
#[derive(Debug)]
pub struct RiskMetrics {
    enabled: AtomicBool,
    decisions: [AtomicU64; DECISIONS.len()],
    alerts: AtomicU64,
    webhook: [AtomicU64; WEBHOOK_RESULTS.len()],
    scoring_buckets: [AtomicU64; SCORING_BUCKETS_US.len() + 1],
    scoring_sum_ns: AtomicU64,
}

impl RiskMetrics {
    fn new() -> RiskMetrics {
        RiskMetrics {
            enabled: AtomicBool::new(false),
            decisions: std::array::from_fn(|_| AtomicU64::new(0)),
            alerts: AtomicU64::new(0),
            webhook: std::array::from_fn(|_| AtomicU64::new(0)),
            scoring_buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            scoring_sum_ns: AtomicU64::new(0),
        }
    }

    /// Render the risk series from now on (the server calls it when risk scoring is on).
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// Count one decision.
    pub fn decision(&self, d: aurum_risk::Decision) {
        let i = match d {
            aurum_risk::Decision::Allow => 0,
            aurum_risk::Decision::Hold => 1,
            aurum_risk::Decision::Reject => 2,
        };
        self.decisions[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Count alerts appended to the alerts topic.
    pub fn alerts(&self, n: u64) {
        self.alerts.fetch_add(n, Ordering::Relaxed);
    }

    /// Count `n` webhook outcomes of one result (one of [`WEBHOOK_RESULTS`]).
    pub fn webhook(&self, result: &str, n: u64) {
        let i = WEBHOOK_RESULTS.iter().position(|r| *r == result).unwrap_or(WEBHOOK_RESULTS.len() - 1);
        self.webhook[i].fetch_add(n, Ordering::Relaxed);
    }

    /// Record scoring latencies, in nanoseconds, one per assessed transfer.
    pub fn scored(&self, latencies_ns: &[u64]) {
        for &ns in latencies_ns {
            let b = SCORING_BUCKETS_US.iter().position(|&b| ns <= b * 1000).unwrap_or(SCORING_BUCKETS_US.len());
            self.scoring_buckets[b].fetch_add(1, Ordering::Relaxed);
            self.scoring_sum_ns.fetch_add(ns, Ordering::Relaxed);
        }
    }

    fn render(&self, out: &mut String) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        let name = "aurum_risk_decisions_total";
        header(out, name, "counter", "Transfers scored at admission, by the policy's decision.");
        for (d, c) in DECISIONS.iter().zip(&self.decisions) {
            let _ = writeln!(out, "{name}{{decision=\"{d}\"}} {}", c.load(Ordering::Relaxed));
        }
        let name = "aurum_risk_alerts_total";
        header(out, name, "counter", "Risk alerts appended to the risk.alerts topic.");
        let _ = writeln!(out, "{name} {}", self.alerts.load(Ordering::Relaxed));
        let name = "aurum_risk_webhook_deliveries_total";
        header(out, name, "counter", "Alert webhook attempts by result (failed attempts are retried).");
        for (r, c) in WEBHOOK_RESULTS.iter().zip(&self.webhook) {
            let _ = writeln!(out, "{name}{{result=\"{r}\"}} {}", c.load(Ordering::Relaxed));
        }
        let name = "aurum_risk_scoring_seconds";
        header(out, name, "histogram", "Time to score one transfer at admission, in seconds.");
        let mut cumulative = 0;
        let buckets: Vec<(String, u64)> = SCORING_BUCKETS_US
            .iter()
            .map(|&b| fmt_seconds_us(b))
            .chain(std::iter::once("+Inf".to_owned()))
            .zip(&self.scoring_buckets)
            .map(|(le, c)| {
                cumulative += c.load(Ordering::Relaxed);
                (le, cumulative)
            })
            .collect();
        let sum = fmt_f64(self.scoring_sum_ns.load(Ordering::Relaxed) as f64 / 1e9);
        histogram(out, name, "", &buckets, &sum, cumulative);
    }
}

/// The server's metrics. `Send + Sync`; share it behind an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    routes: RwLock<HashMap<String, Arc<RouteSeries>>>,
    risk: RiskMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Metrics {
        Metrics { routes: RwLock::new(HashMap::new()), risk: RiskMetrics::new() }
    }

    /// The risk scoring counters.
    pub fn risk(&self) -> &RiskMetrics {
        &self.risk
    }

    /// Record one HTTP request: the route TEMPLATE (e.g. `/v1/accounts/{id}`; use a fixed name such as
    /// `unmatched` for requests no route matched), method, status and latency.
    pub fn record_request(&self, route: &str, method: &str, status: u16, latency: Duration) {
        let series = &self.route_series(route)[method_index(method)];
        let us = latency.as_micros();
        let bucket = LATENCY_BUCKETS_US.iter().position(|&b| us <= u128::from(b)).unwrap_or(LATENCY_BUCKETS_US.len());
        series.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        series.sum_ns.fetch_add(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        *series.statuses.lock().entry(status).or_insert(0) += 1;
    }

    fn route_series(&self, route: &str) -> Arc<RouteSeries> {
        if let Some(s) = self.routes.read().get(route) {
            return s.clone();
        }
        let mut routes = self.routes.write();
        let key = if routes.len() >= MAX_ROUTES && !routes.contains_key(route) { OVERFLOW_ROUTE } else { route };
        routes.entry(key.to_owned()).or_insert_with(|| Arc::new(std::array::from_fn(|_| Series::new()))).clone()
    }

    /// Everything, in the Prometheus text format 0.0.4 (`Content-Type: text/plain; version=0.0.4`).
    pub fn render(&self, engine: &EngineStats) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let mut routes: Vec<(String, Arc<RouteSeries>)> =
            self.routes.read().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        routes.sort_by(|a, b| a.0.cmp(&b.0));

        header(&mut out, "aurum_http_requests_total", "counter", "HTTP requests by route template, method and status.");
        for (route, series) in &routes {
            for (method, s) in METHODS.iter().zip(series.iter()) {
                for (status, n) in s.statuses.lock().iter() {
                    let labels =
                        format!("route=\"{}\",method=\"{}\",status=\"{}\"", escape_label(route), method, status);
                    let _ = writeln!(out, "aurum_http_requests_total{{{labels}}} {n}");
                }
            }
        }

        let name = "aurum_http_request_duration_seconds";
        header(&mut out, name, "histogram", "HTTP request latency by route template and method, in seconds.");
        for (route, series) in &routes {
            for (method, s) in METHODS.iter().zip(series.iter()) {
                let counts: Vec<u64> = s.buckets.iter().map(|c| c.load(Ordering::Relaxed)).collect();
                if counts.iter().all(|&c| c == 0) {
                    continue;
                }
                let mut cumulative = 0;
                let buckets: Vec<(String, u64)> = LATENCY_BUCKETS_US
                    .iter()
                    .map(|&b| fmt_seconds_us(b))
                    .chain(std::iter::once("+Inf".to_owned()))
                    .zip(&counts)
                    .map(|(le, &c)| {
                        cumulative += c;
                        (le, cumulative)
                    })
                    .collect();
                let sum = s.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
                let labels = format!("route=\"{}\",method=\"{}\"", escape_label(route), method);
                histogram(&mut out, name, &labels, &buckets, &fmt_f64(sum), cumulative);
            }
        }

        header(&mut out, "aurum_ledger_blocks_total", "counter", "Blocks committed by the ledger engine.");
        let _ = writeln!(out, "aurum_ledger_blocks_total {}", engine.blocks.load(Ordering::Relaxed));
        header(&mut out, "aurum_ledger_commands_total", "counter", "Commands committed, all outcomes.");
        let _ = writeln!(out, "aurum_ledger_commands_total {}", engine.commands.load(Ordering::Relaxed));
        header(&mut out, "aurum_ledger_queue_depth", "gauge", "Requests waiting for or being committed by the writer.");
        let _ = writeln!(out, "aurum_ledger_queue_depth {}", engine.in_flight_requests.load(Ordering::Relaxed));

        let (snap, sum, count) = engine.batch_size.snapshot();
        let buckets: Vec<(String, u64)> = snap.iter().map(|&(b, c)| (fmt_bound(b, |b| b.to_string()), c)).collect();
        header(&mut out, "aurum_ledger_batch_size", "histogram", "Commands per committed block.");
        histogram(&mut out, "aurum_ledger_batch_size", "", &with_inf(buckets, count), &sum.to_string(), count);

        let (snap, sum_us, count) = engine.journal_write_us.snapshot();
        let buckets: Vec<(String, u64)> = snap.iter().map(|&(b, c)| (fmt_bound(b, fmt_seconds_us), c)).collect();
        let name = "aurum_journal_fsync_seconds";
        header(&mut out, name, "histogram", "Journal append and fsync time per block, in seconds.");
        histogram(&mut out, name, "", &with_inf(buckets, count), &fmt_f64(sum_us as f64 / 1e6), count);
        self.risk.render(&mut out);
        out
    }
}

fn method_index(method: &str) -> usize {
    METHODS[..METHODS.len() - 1].iter().position(|m| *m == method).unwrap_or(METHODS.len() - 1)
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Write `<name>_bucket{labels,le=...}` lines (already cumulative, ending with +Inf), `_sum`, `_count`.
fn histogram(out: &mut String, name: &str, labels: &str, buckets: &[(String, u64)], sum: &str, count: u64) {
    let sep = if labels.is_empty() { "" } else { "," };
    for (le, c) in buckets {
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {c}");
    }
    let braced = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
    let _ = writeln!(out, "{name}_sum{braced} {sum}");
    let _ = writeln!(out, "{name}_count{braced} {count}");
}

/// Engine histograms end with a `u64::MAX` bucket, rendered as +Inf; should one not, add +Inf = count.
fn with_inf(mut buckets: Vec<(String, u64)>, count: u64) -> Vec<(String, u64)> {
    if buckets.last().is_none_or(|(le, _)| le != "+Inf") {
        buckets.push(("+Inf".to_owned(), count));
    }
    buckets
}

fn fmt_bound(bound: u64, f: impl Fn(u64) -> String) -> String {
    if bound == u64::MAX { "+Inf".to_owned() } else { f(bound) }
}

/// Microseconds as seconds, exactly (`500` → `0.0005`, `1000000` → `1`): no float rounding noise.
fn fmt_seconds_us(us: u64) -> String {
    let (whole, frac) = (us / 1_000_000, us % 1_000_000);
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:06}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// A float in a form Prometheus parses (Rust's `Display` never uses exponents; NaN/inf spelled out).
fn fmt_f64(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() }
    } else {
        format!("{v}")
    }
}

/// Label values: backslash, double quote and line feed are escaped (text format 0.0.4).
fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// HELP text: backslash and line feed are escaped.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One parsed sample line: name, labels (unescaped), value.
    #[derive(Debug, PartialEq)]
    struct Sample {
        name: String,
        labels: Vec<(String, String)>,
        value: f64,
    }

    /// A strict little parser for the text format, so the tests check syntax, not substrings.
    fn parse(text: &str) -> (Vec<Sample>, Vec<(String, String)>) {
        let mut samples = Vec::new();
        let mut types = Vec::new();
        assert!(text.ends_with('\n'), "exposition ends with a newline");
        for line in text.lines() {
            assert!(!line.is_empty(), "no blank lines");
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(["counter", "gauge", "histogram"].contains(&kind));
                types.push((name.to_owned(), kind.to_owned()));
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            assert!(!line.starts_with('#'), "unexpected comment {line}");
            let name_end = line.find(['{', ' ']).unwrap();
            let name = &line[..name_end];
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'), "{name}");
            let mut rest = &line[name_end..];
            let mut labels = Vec::new();
            if let Some(r) = rest.strip_prefix('{') {
                let mut chars = r.char_indices();
                loop {
                    // label name
                    let mut lname = String::new();
                    let (_, c) = chars.next().unwrap();
                    if c == '}' {
                        break;
                    }
                    lname.push(c);
                    for (_, c) in chars.by_ref() {
                        if c == '=' {
                            break;
                        }
                        lname.push(c);
                    }
                    assert_eq!(chars.next().unwrap().1, '"');
                    let mut value = String::new();
                    loop {
                        match chars.next().unwrap().1 {
                            '\\' => match chars.next().unwrap().1 {
                                '\\' => value.push('\\'),
                                '"' => value.push('"'),
                                'n' => value.push('\n'),
                                c => panic!("bad escape \\{c}"),
                            },
                            '"' => break,
                            '\n' => panic!("raw newline in label"),
                            c => value.push(c),
                        }
                    }
                    labels.push((lname, value));
                    match chars.next().unwrap() {
                        (_, ',') => continue,
                        (i, '}') => {
                            rest = &r[i + 1..];
                            break;
                        }
                        (_, c) => panic!("unexpected {c}"),
                    }
                }
            }
            let value = rest.strip_prefix(' ').unwrap();
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse::<f64>().unwrap_or_else(|_| panic!("bad value {v:?}")),
            };
            samples.push(Sample { name: name.to_owned(), labels, value });
        }
        (samples, types)
    }

    fn label<'a>(s: &'a Sample, name: &str) -> Option<&'a str> {
        s.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
        samples.iter().filter(|s| s.name == name && labels.iter().all(|(k, v)| label(s, k) == Some(v))).collect()
    }

    /// Check a histogram series: cumulative, ending in +Inf equal to _count.
    fn check_histogram(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Vec<(f64, f64)> {
        let buckets: Vec<(f64, f64)> = find(samples, &format!("{name}_bucket"), labels)
            .iter()
            .map(|s| {
                let le = label(s, "le").unwrap();
                (if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap() }, s.value)
            })
            .collect();
        assert!(!buckets.is_empty(), "{name} has buckets");
        assert!(buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1), "{name}: {buckets:?}");
        assert_eq!(buckets.last().unwrap().0, f64::INFINITY, "{name} ends with +Inf");
        let count = find(samples, &format!("{name}_count"), labels);
        assert_eq!(count.len(), 1);
        assert_eq!(count[0].value, buckets.last().unwrap().1, "{name}: +Inf == _count");
        assert_eq!(find(samples, &format!("{name}_sum"), labels).len(), 1);
        buckets
    }

    #[test]
    fn renders_valid_text_format() {
        let m = Metrics::new();
        m.record_request("/v1/transfers", "POST", 201, Duration::from_micros(300));
        m.record_request("/v1/transfers", "POST", 201, Duration::from_millis(3));
        m.record_request("/v1/transfers", "POST", 409, Duration::from_millis(30));
        m.record_request("/v1/accounts/{id}", "GET", 200, Duration::from_secs(10));
        m.record_request("/v1/accounts/{id}", "BREW", 405, Duration::from_micros(1));
        let stats = EngineStats::default();
        stats.blocks.store(3, Ordering::Relaxed);
        stats.commands.store(1500, Ordering::Relaxed);
        stats.in_flight_requests.store(7, Ordering::Relaxed);
        for v in [1, 500, 999] {
            stats.batch_size.observe(v);
        }
        for us in [40, 900, 200_000] {
            stats.journal_write_us.observe(us);
        }
        let text = m.render(&stats);
        let (samples, types) = parse(&text);

        // Every family has exactly one TYPE line, before its samples.
        for (name, kind) in [
            ("aurum_http_requests_total", "counter"),
            ("aurum_http_request_duration_seconds", "histogram"),
            ("aurum_ledger_blocks_total", "counter"),
            ("aurum_ledger_commands_total", "counter"),
            ("aurum_ledger_queue_depth", "gauge"),
            ("aurum_ledger_batch_size", "histogram"),
            ("aurum_journal_fsync_seconds", "histogram"),
        ] {
            assert_eq!(types.iter().filter(|(n, k)| n == name && k == kind).count(), 1, "{name}");
            assert!(text.contains(&format!("# HELP {name} ")));
        }

        let post = [("route", "/v1/transfers"), ("method", "POST")];
        assert_eq!(find(&samples, "aurum_http_requests_total", &[post[0], post[1], ("status", "201")])[0].value, 2.0);
        assert_eq!(find(&samples, "aurum_http_requests_total", &[post[0], post[1], ("status", "409")])[0].value, 1.0);
        assert_eq!(
            find(&samples, "aurum_http_requests_total", &[("method", "OTHER"), ("status", "405")])[0].value,
            1.0,
            "unknown methods fold into OTHER"
        );
        let b = check_histogram(&samples, "aurum_http_request_duration_seconds", &post);
        assert_eq!(b[0], (0.0005, 1.0));
        assert_eq!(b.iter().find(|(le, _)| *le == 0.005).unwrap().1, 2.0);
        assert_eq!(b.last().unwrap().1, 3.0);
        let sum = find(&samples, "aurum_http_request_duration_seconds_sum", &post)[0].value;
        assert!((sum - 0.0333).abs() < 1e-9, "{sum}");
        // 10 s is beyond the last finite bucket: only +Inf counts it.
        let get = [("route", "/v1/accounts/{id}"), ("method", "GET")];
        let b = check_histogram(&samples, "aurum_http_request_duration_seconds", &get);
        assert_eq!(b[b.len() - 2].1, 0.0);
        assert_eq!(b.last().unwrap().1, 1.0);

        assert_eq!(find(&samples, "aurum_ledger_blocks_total", &[])[0].value, 3.0);
        assert_eq!(find(&samples, "aurum_ledger_commands_total", &[])[0].value, 1500.0);
        assert_eq!(find(&samples, "aurum_ledger_queue_depth", &[])[0].value, 7.0);
        let b = check_histogram(&samples, "aurum_ledger_batch_size", &[]);
        assert_eq!(b[0], (1.0, 1.0));
        assert_eq!(b.iter().find(|(le, _)| *le == 1024.0).unwrap().1, 3.0);
        assert_eq!(find(&samples, "aurum_ledger_batch_size_sum", &[])[0].value, 1500.0);
        let b = check_histogram(&samples, "aurum_journal_fsync_seconds", &[]);
        assert_eq!(b[0], (0.00005, 1.0), "µs bounds converted to seconds");
        assert_eq!(b.iter().find(|(le, _)| *le == 0.001).unwrap().1, 2.0);
        assert_eq!(b.last().unwrap().1, 3.0);
        let sum = find(&samples, "aurum_journal_fsync_seconds_sum", &[])[0].value;
        assert!((sum - 0.20094).abs() < 1e-12, "{sum}");
    }

    #[test]
    fn risk_series_render_once_enabled() {
        let m = Metrics::new();
        m.risk().decision(aurum_risk::Decision::Hold);
        assert!(!m.render(&EngineStats::default()).contains("aurum_risk_"), "off until enabled");
        m.risk().enable();
        m.risk().decision(aurum_risk::Decision::Allow);
        m.risk().decision(aurum_risk::Decision::Allow);
        m.risk().alerts(3);
        m.risk().webhook("failed", 1);
        m.risk().webhook("delivered", 1);
        m.risk().scored(&[800, 3_000, 9_000_000]);
        let (samples, types) = parse(&m.render(&EngineStats::default()));
        for (name, kind) in [
            ("aurum_risk_decisions_total", "counter"),
            ("aurum_risk_alerts_total", "counter"),
            ("aurum_risk_webhook_deliveries_total", "counter"),
            ("aurum_risk_scoring_seconds", "histogram"),
        ] {
            assert_eq!(types.iter().filter(|(n, k)| n == name && k == kind).count(), 1, "{name}");
        }
        assert_eq!(find(&samples, "aurum_risk_decisions_total", &[("decision", "allow")])[0].value, 2.0);
        assert_eq!(find(&samples, "aurum_risk_decisions_total", &[("decision", "hold")])[0].value, 1.0);
        assert_eq!(find(&samples, "aurum_risk_decisions_total", &[("decision", "reject")])[0].value, 0.0);
        assert_eq!(find(&samples, "aurum_risk_alerts_total", &[])[0].value, 3.0);
        assert_eq!(find(&samples, "aurum_risk_webhook_deliveries_total", &[("result", "failed")])[0].value, 1.0);
        let b = check_histogram(&samples, "aurum_risk_scoring_seconds", &[]);
        assert_eq!(b[0], (0.000001, 1.0), "800 ns is within 1 µs");
        assert_eq!(b.iter().find(|(le, _)| *le == 0.000005).unwrap().1, 2.0);
        assert_eq!(b.last().unwrap().1, 3.0, "9 ms only in +Inf");
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        let nasty = "/a\"b\\c\nd";
        m.record_request(nasty, "GET", 200, Duration::from_millis(1));
        let text = m.render(&EngineStats::default());
        assert!(text.contains(r#"route="/a\"b\\c\nd""#), "{text}");
        let (samples, _) = parse(&text);
        assert_eq!(find(&samples, "aurum_http_requests_total", &[("route", nasty)]).len(), 1);
    }

    #[test]
    fn empty_metrics_render_engine_series() {
        let (samples, _) = parse(&Metrics::new().render(&EngineStats::default()));
        assert_eq!(check_histogram(&samples, "aurum_ledger_batch_size", &[]).last().unwrap().1, 0.0);
        assert!(find(&samples, "aurum_http_requests_total", &[]).is_empty());
    }

    #[test]
    fn route_cardinality_is_bounded() {
        let m = Metrics::new();
        for i in 0..MAX_ROUTES + 50 {
            m.record_request(&format!("/r{i}"), "GET", 200, Duration::from_millis(1));
        }
        assert_eq!(m.routes.read().len(), MAX_ROUTES + 1);
        let (samples, _) = parse(&m.render(&EngineStats::default()));
        assert_eq!(find(&samples, "aurum_http_requests_total", &[("route", OVERFLOW_ROUTE)])[0].value, 50.0);
        // Known routes keep their own series after the limit.
        m.record_request("/r0", "GET", 200, Duration::from_millis(1));
        let (samples, _) = parse(&m.render(&EngineStats::default()));
        assert_eq!(find(&samples, "aurum_http_requests_total", &[("route", "/r0")])[0].value, 2.0);
    }

    #[test]
    fn seconds_formatting_is_exact() {
        assert_eq!(fmt_seconds_us(500), "0.0005");
        assert_eq!(fmt_seconds_us(2_500), "0.0025");
        assert_eq!(fmt_seconds_us(1_000_000), "1");
        assert_eq!(fmt_seconds_us(2_500_000), "2.5");
        assert_eq!(fmt_seconds_us(50), "0.00005");
        assert_eq!(fmt_f64(0.1), "0.1");
        assert_eq!(fmt_f64(1e-7), "0.0000001");
    }

    #[test]
    fn concurrent_recording_counts_everything() {
        let m = Arc::new(Metrics::new());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        m.record_request(&format!("/route{}", (t + i) % 4), "POST", 200, Duration::from_micros(i));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let (samples, _) = parse(&m.render(&EngineStats::default()));
        let total: f64 = find(&samples, "aurum_http_requests_total", &[]).iter().map(|s| s.value).sum();
        assert_eq!(total, 8000.0);
    }
}
