//! Sources from TOML: the documented shape parses, starts and runs; mistakes are refused with the
//! source and the setting named.

use std::sync::Arc;

use aurum_ingest::{
    ConfigError, ConfigProblem, Field, IngestConfig, ManualClock, Overflow, SourceConfig, SourceKind, SystemClock,
    TimestampFormat, spawn_sources,
};
use axum::Router;
use axum::routing::get;

use crate::support::*;

/// The example of docs/ingest.md, with the servers' addresses filled in.
fn example(http_base: &str, ws_url: &str, csv_path: &str) -> String {
    format!(
        r#"
buffer_capacity = 256

[[source]]
name = "metals-api"
kind = "http"
url = "{http_base}/v1/latest"
interval_ms = 1000
timeout_ms = 2000
max_body_bytes = 65536

[source.fields]
items = "/rates"
symbol = {{ pointer = "/pair" }}
value = {{ pointer = "/price" }}
timestamp = {{ pointer = "/at" }}
timestamp_format = "rfc3339"
signature = {{ pointer = "/sig" }}

[source.retry]
base_ms = 100
max_delay_ms = 5000
max_attempts = 3
jitter_percent = 50
seed = 7

[source.breaker]
failure_threshold = 5
cooldown_ms = 30000

[[source]]
name = "custodian-ws"
kind = "ws"
url = "{ws_url}"
subscribe = '{{"op": "subscribe", "channels": ["reserve", "notices"]}}'
timeout_ms = 5000
message_timeout_ms = 30000

[source.fields]
symbol = {{ pointer = "/type" }}
value = {{ pointer = "/amount" }}
value_optional = true
text = {{ pointer = "/notice" }}
timestamp = {{ pointer = "/ts" }}
timestamp_format = "unix_seconds"

[[source]]
name = "history"
kind = "csv"
path = "{csv_path}"

[source.fields]
symbol = {{ fixed = "XAU/USD" }}
value = {{ pointer = "/price" }}
timestamp = {{ pointer = "/timestamp" }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_toml_parses_starts_and_runs() {
    let http_base = http_server(Router::new().route(
        "/v1/latest",
        get(|| async {
            r#"{"rates": [{"pair": "XAU/USD", "price": "2650.12", "at": "2024-11-05T14:30:00Z", "sig": "aa"},
                          {"pair": "XAU/INR", "price": 221000.5, "at": "2024-11-05T14:30:00Z", "sig": "bb"}]}"#
        }),
    ))
    .await;
    let ws_url = ws_server(|_, mut socket| async move {
        use futures_util::{SinkExt, StreamExt};
        let _subscribe = socket.next().await;
        let batch = r#"[{"type": "RESERVE", "amount": "12000.000", "notice": "quarterly attestation", "ts": 1730817000},
                        {"type": "halt", "notice": "vault audit in progress", "ts": 1730817000}]"#;
        socket.send(tokio_tungstenite::tungstenite::Message::text(batch)).await.unwrap();
        while socket.next().await.is_some() {}
    })
    .await;
    let csv = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(csv.path(), "timestamp,price\n1730817000000,2649.90\n").unwrap();

    let config: IngestConfig =
        toml::from_str(&example(&http_base, &ws_url, &csv.path().display().to_string())).unwrap();
    assert_eq!(config.buffer_capacity, 256);
    assert_eq!(config.sources.len(), 3);
    let http = &config.sources[0];
    assert_eq!((http.kind, http.interval_ms, http.retry.seed), (SourceKind::Http, Some(1000), Some(7)));
    assert_eq!(http.fields.items.as_deref(), Some("/rates"));
    assert_eq!(http.fields.symbol, Field::pointer("/pair"));
    assert_eq!(http.fields.timestamp_format, TimestampFormat::Rfc3339);
    assert_eq!(config.sources[2].fields.symbol, Field::fixed("XAU/USD"));

    let clock = ManualClock::new(T0);
    let mut ing = config.spawn(Arc::new(clock.clone())).unwrap();
    let mut obs = recv_n(&mut ing.observations, 5).await;
    obs.sort_by(|a, b| (&a.source, &a.symbol).cmp(&(&b.source, &b.symbol)));
    let got: Vec<(&str, &str, Option<&str>, Option<&str>)> =
        obs.iter().map(|o| (o.source.as_str(), o.symbol.as_str(), o.value.as_deref(), o.text.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("custodian-ws", "RESERVE", Some("12000.000"), Some("quarterly attestation")),
            ("custodian-ws", "halt", None, Some("vault audit in progress")),
            ("history", "XAU/USD", Some("2649.90"), None),
            ("metals-api", "XAU/INR", Some("221000.5"), None),
            ("metals-api", "XAU/USD", Some("2650.12"), None),
        ]
    );
    assert!(obs.iter().all(|o| o.observed_at_ms == 1_730_817_000_000 && o.received_at_ms == T0));
    ing.runner.shutdown().await;
}

fn minimal(kind: &str, extra: &str) -> String {
    format!(
        "name = \"s\"\nkind = \"{kind}\"\n{extra}\n[fields]\nsymbol = {{ fixed = \"X\" }}\ntimestamp = {{ pointer = \"/t\" }}\n"
    )
}

fn problem(toml_text: &str) -> ConfigProblem {
    let config: SourceConfig = toml::from_str(toml_text).unwrap();
    match config.build() {
        Err(ConfigError::Source { name, problem }) => {
            assert_eq!(name, "s");
            problem
        }
        other => panic!("expected a source error, got {other:?}"),
    }
}

#[test]
fn mistakes_are_refused_with_the_setting_named() {
    assert_eq!(problem(&minimal("http", "")), ConfigProblem::Missing { kind: "http", setting: "url" });
    assert_eq!(problem(&minimal("csv", "")), ConfigProblem::Missing { kind: "csv", setting: "path" });
    assert_eq!(
        problem(&minimal("csv", "path = \"a.csv\"\nurl = \"http://x\"")),
        ConfigProblem::Unused { kind: "csv", setting: "url" }
    );
    assert_eq!(
        problem(&minimal("http", "url = \"http://x\"\nsubscribe = \"hi\"")),
        ConfigProblem::Unused { kind: "http", setting: "subscribe" }
    );
    assert!(
        matches!(problem(&minimal("http", "url = \"https://x\"")), ConfigProblem::Url { reason, .. } if reason.contains("TLS"))
    );
    assert!(matches!(problem(&minimal("ws", "url = \"http://x\"")), ConfigProblem::Url { .. }));
    assert!(matches!(
        problem(&minimal("http", "url = \"http://x\"\ninterval_ms = 0")),
        ConfigProblem::Limit { setting: "interval_ms", .. }
    ));
    assert!(matches!(
        problem(&minimal("http", "url = \"http://x\"\nmax_body_bytes = 0")),
        ConfigProblem::Limit { setting: "max_body_bytes", .. }
    ));
    assert!(matches!(
        problem(&minimal("http", "url = \"http://x\"\n[retry]\nmax_attempts = 0")),
        ConfigProblem::Retry(_)
    ));
    assert!(matches!(
        problem(&minimal("http", "url = \"http://x\"\n[breaker]\nfailure_threshold = 0")),
        ConfigProblem::Breaker(_)
    ));
    let bad_pointer = "name = \"s\"\nkind = \"csv\"\npath = \"a\"\n[fields]\nsymbol = { pointer = \"sym\" }\ntimestamp = { pointer = \"/t\" }\n";
    let message = ConfigError::Source { name: "s".into(), problem: problem(bad_pointer) }.to_string();
    assert!(message.contains("source \"s\"") && message.contains("\"sym\" is not a JSON pointer"), "{message}");
    // Unknown keys are errors, not silently ignored.
    assert!(toml::from_str::<SourceConfig>(&minimal("http", "url = \"http://x\"\nintervall_ms = 5")).is_err());
    // Defaults by kind.
    let csv: SourceConfig = toml::from_str(&minimal("csv", "path = \"a.csv\"")).unwrap();
    assert_eq!(csv.build().unwrap().policy.overflow, Overflow::Block);
    let http: SourceConfig = toml::from_str(&minimal("http", "url = \"http://x\"")).unwrap();
    assert_eq!(http.build().unwrap().policy.overflow, Overflow::DropOldest);
}

#[tokio::test]
async fn duplicate_names_and_bad_capacity_start_nothing() {
    let one: SourceConfig = toml::from_str(&minimal("http", "url = \"http://127.0.0.1:9/x\"")).unwrap();
    let err = spawn_sources(&[one.clone(), one.clone()], Arc::new(SystemClock), 8).unwrap_err();
    assert_eq!(err, ConfigError::DuplicateName("s".into()));
    let err = spawn_sources(&[one], Arc::new(SystemClock), 0).unwrap_err();
    assert_eq!(err, ConfigError::BufferCapacity(0));
}

#[test]
fn outside_a_runtime_is_an_error_not_a_panic() {
    let err = spawn_sources(&[], Arc::new(SystemClock), 8).unwrap_err();
    assert_eq!(err, ConfigError::NoRuntime);
}
