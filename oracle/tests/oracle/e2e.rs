//! End to end: real local HTTP price servers (honest, lying, forging, silent) → aurum-ingest → the connector →
//! the price feed on a real Anvil, verified by reading latestRoundData; deviation pushes, a jump held by the
//! breaker, and every round journalled.

use std::sync::Arc;
use std::time::Duration;

use aurum_chain::{DeployConfig, LocalAnvil, connect, deploy_all};
use aurum_oracle::aggregate::{DropReason, RoundOutcome};
use aurum_oracle::connector::{Connector, OracleConfig};
use aurum_oracle::journal::{OracleJournal, ROUNDS_TOPIC};
use aurum_oracle::push::{self, PushReason};
use aurum_oracle::signing::{Observation, sign};
use axum::extract::State;
use axum::routing::get;
use ed25519_dalek::SigningKey;
use parking_lot_free::Shared;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A tiny shared cell without extra dependencies.
mod parking_lot_free {
    use std::sync::{Arc, Mutex};
    #[derive(Clone)]
    pub struct Shared<T>(Arc<Mutex<T>>);
    impl<T: Clone> Shared<T> {
        pub fn new(v: T) -> Self {
            Shared(Arc::new(Mutex::new(v)))
        }
        pub fn get(&self) -> T {
            self.0.lock().unwrap().clone()
        }
        pub fn set(&self, v: T) {
            *self.0.lock().unwrap() = v;
        }
    }
}

/// What a price server serves: its name, its signing key, and the price (None: never answer).
#[derive(Clone)]
struct Server {
    name: String,
    key: SigningKey,
    price: Shared<Option<String>>,
}

async fn serve_price(State(s): State<Server>) -> axum::Json<serde_json::Value> {
    let Some(price) = s.price.get() else {
        std::future::pending::<()>().await; // silent: accept, never answer
        unreachable!()
    };
    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let o = Observation {
        source: s.name.clone(),
        symbol: "XAU/USD".into(),
        value: Some(price.clone()),
        text: None,
        observed_at_ms: ts,
        received_at_ms: 0,
        signature: None,
    };
    axum::Json(serde_json::json!({"symbol": "XAU/USD", "price": price, "ts": ts, "sig": sign(&s.key, &o)}))
}

async fn start_server(s: Server) -> String {
    let app = axum::Router::new().route("/price", get(serve_price)).with_state(s);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/price")
}

/// Waits until every source in `names` has delivered an observation whose value is `value`, feeding everything
/// received into the connector.
async fn feed_until(
    rx: &mut tokio::sync::mpsc::Receiver<Observation>,
    connector: &mut Connector,
    wanted: &[(&str, &str)],
) {
    let mut missing: Vec<(String, String)> = wanted.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    while !missing.is_empty() {
        let o = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("observations keep coming")
            .expect("open");
        missing.retain(|(n, v)| !(o.source == *n && o.value.as_deref() == Some(v.as_str())));
        connector.observe(o);
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_http_prices_reach_the_feed_through_the_connector() -> TestResult {
    let anvil = LocalAnvil::spawn()?;
    let key = anvil.signer(0);
    let admin = key.address();
    let provider = connect(&anvil.endpoint(), key).await?;
    let d = deploy_all(&provider, admin, &DeployConfig::default()).await?;

    let keys: Vec<SigningKey> = (0..5).map(|i| SigningKey::from_bytes(&[10 + i as u8; 32])).collect();
    let names = ["honest_a", "honest_b", "honest_c", "liar", "forger"];
    let mut servers = Vec::new();
    for (i, name) in names.iter().enumerate() {
        // The forger signs with a key other than the one configured for its name.
        let signing = if *name == "forger" { SigningKey::from_bytes(&[99; 32]) } else { keys[i].clone() };
        servers.push(Server { name: name.to_string(), key: signing, price: Shared::new(Some("2650.00".into())) });
    }
    servers[3].price.set(Some("3100.00".into())); // the liar
    let silent = Server { name: "silent".into(), key: SigningKey::from_bytes(&[77; 32]), price: Shared::new(None) };
    let mut urls = Vec::new();
    for s in servers.iter().chain(std::iter::once(&silent)) {
        urls.push((s.name.clone(), start_server(s.clone()).await));
    }

    let mut toml = format!(
        "round_interval_ms = 500\nevents = []\n\n[keys]\n{}silent = \"{}\"\n\n[ingest]\nbuffer_capacity = 256\n",
        names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{n} = \"{}\"\n", hex::encode(keys[i].verifying_key().to_bytes())))
            .collect::<String>(),
        hex::encode(SigningKey::from_bytes(&[77; 32]).verifying_key().to_bytes()),
    );
    for (name, url) in &urls {
        toml.push_str(&format!(
            "\n[[ingest.source]]\nname = \"{name}\"\nkind = \"http\"\nurl = \"{url}\"\ninterval_ms = 50\ntimeout_ms = 300\n\
             fields = {{ symbol = {{ pointer = \"/symbol\" }}, value = {{ pointer = \"/price\" }}, timestamp = {{ pointer = \"/ts\" }}, timestamp_format = \"unix_millis\", signature = {{ pointer = \"/sig\" }} }}\n"
        ));
    }
    toml.push_str(&format!(
        "\n[[symbol]]\nsymbol = \"XAU/USD\"\nscale = 8\nquorum = 2\nmax_age_ms = 60000\nmad_limit_permille = 3000\nmad_floor_bps = 5\n\
         jump_limit_bps = 500\nconfirm_rounds = 3\nfeed = \"{}\"\ndeviation_bps = 50\nheartbeat_secs = 3600\n\n\
         [chain]\nrpc_url = \"{}\"\nprivate_key_env = \"AURUM_TEST_UNUSED\"\n",
        d.price_feed,
        anvil.endpoint()
    ));
    let config = OracleConfig::from_toml(&toml)?;
    let dir = tempfile::tempdir()?;
    let log = aurum_log::Log::open(Arc::new(aurum_vfs::OsVfs), dir.path(), aurum_log::LogOptions::default())?;
    let journal = OracleJournal::open(Arc::new(log))?;
    let mut connector = Connector::new(&config, Some(provider.clone()), Some(journal.clone()))?;
    let mut ingestion = config.ingest.spawn(Arc::new(aurum_ingest::SystemClock))?;
    let rx = &mut ingestion.observations;
    let feed = d.price_feed(provider.clone());
    let usd = |s: &str| aurum_oracle::aggregate::parse_value(s, 8).unwrap();

    // Round 1: three honest sources, a liar (an outlier), a forger (bad signature), a silent one (timeouts).
    feed_until(
        rx,
        &mut connector,
        &[
            ("honest_a", "2650.00"),
            ("honest_b", "2650.00"),
            ("honest_c", "2650.00"),
            ("liar", "3100.00"),
            ("forger", "2650.00"),
        ],
    )
    .await;
    let round = connector.round(now_ms()).await?;
    let r = &round.symbols[0];
    assert_eq!(r.report.outcome, RoundOutcome::Published { value: usd("2650.00") }, "{:?}", r.report);
    assert!(
        r.report.dropped.iter().any(|(s, d)| s == "liar" && matches!(d, DropReason::Outlier { .. })),
        "{:?}",
        r.report
    );
    assert!(
        r.report.dropped.iter().any(|(s, d)| s == "forger" && matches!(d, DropReason::BadSignature { .. })),
        "{:?}",
        r.report
    );
    assert_eq!(r.push.as_ref().and_then(|p| p.reason), Some(PushReason::FirstAnswer));
    assert_eq!(push::latest(&feed).await?.map(|l| l.answer), Some(usd("2650.00")), "verified on chain");
    tokio::time::timeout(
        Duration::from_secs(60),
        ingestion.metrics.wait_until(|m| m.sources.get("silent").is_some_and(|s| s.failures.timeout >= 1)),
    )
    .await?;

    // Round 2: +1% (beyond the 0.5% deviation threshold): pushed.
    for s in &servers[..3] {
        s.price.set(Some("2676.50".into()));
    }
    feed_until(rx, &mut connector, &[("honest_a", "2676.50"), ("honest_b", "2676.50"), ("honest_c", "2676.50")]).await;
    let round = connector.round(now_ms()).await?;
    assert!(matches!(round.symbols[0].push.as_ref().and_then(|p| p.reason), Some(PushReason::Deviation { bps: 100 })));
    let latest = push::latest(&feed).await?.unwrap();
    assert_eq!((latest.round, latest.answer), (2, usd("2676.50")));

    // Round 3: +20% at once: the breaker holds it; nothing reaches the chain.
    for s in &servers[..3] {
        s.price.set(Some("3211.80".into()));
    }
    feed_until(rx, &mut connector, &[("honest_a", "3211.80"), ("honest_b", "3211.80"), ("honest_c", "3211.80")]).await;
    let round = connector.round(now_ms()).await?;
    assert!(
        matches!(round.symbols[0].report.outcome, RoundOutcome::BreakerTripped { .. }),
        "{:?}",
        round.symbols[0].report
    );
    assert!(round.symbols[0].push.is_none());
    assert_eq!(push::latest(&feed).await?.map(|l| l.round), Some(2));

    // (Quorum loss by silence needs the silent sources' last words to age past max_age_ms: the aggregator tests
    // cover it with exact clocks.)

    // Every round was journalled.
    assert_eq!(journal.read_all(ROUNDS_TOPIC)?.len(), 3);
    drop(ingestion);
    Ok(())
}

/// A soak of the connector itself: 100 simulated sources over 500 rounds (two symbols, an event stream, faults
/// at random, seeded): every round decides, nothing gets stuck, and what the connector holds stays bounded by the
/// sources and symbols — not by the rounds.
#[tokio::test]
async fn connector_soak_many_sources_bounded_and_never_stuck() -> TestResult {
    use aurum_vfs::rng::SplitMix64;
    const SOURCES: usize = 100;
    const ROUNDS: i64 = 500;
    let keys: Vec<SigningKey> = (0..SOURCES).map(|i| SigningKey::from_bytes(&[(i % 250) as u8 + 1; 32])).collect();
    let mut toml = String::from("round_interval_ms = 1000\nevents = [\"halt\"]\n\n[keys]\n");
    for (i, k) in keys.iter().enumerate() {
        toml.push_str(&format!("s{i} = \"{}\"\n", hex::encode(k.verifying_key().to_bytes())));
    }
    toml.push_str("\n[ingest]\nbuffer_capacity = 16\n");
    for symbol in ["XAU/USD", "XAU/INR"] {
        toml.push_str(&format!(
            "\n[[symbol]]\nsymbol = \"{symbol}\"\nscale = 8\nquorum = 51\nmax_age_ms = 5000\nmad_limit_permille = 3000\nmad_floor_bps = 5\njump_limit_bps = 500\nconfirm_rounds = 3\n"
        ));
    }
    let config = OracleConfig::from_toml(&toml)?;
    let mut connector = Connector::new(&config, None, None)?;
    let mut rng = SplitMix64::new(77);
    let t0 = 1_795_000_000_000i64;
    let mut decided = 0;
    for round in 0..ROUNDS {
        let t = t0 + round * 1_000;
        for (i, key) in keys.iter().enumerate() {
            if rng.below(10) == 0 {
                continue; // silent this round
            }
            for (symbol, price) in [("XAU/USD", "2650.00"), ("XAU/INR", "221500.00")] {
                let value = if rng.below(50) == 0 { "1.00" } else { price }; // an occasional liar
                let mut o = Observation {
                    source: format!("s{i}"),
                    symbol: symbol.into(),
                    value: Some(value.into()),
                    text: None,
                    observed_at_ms: t,
                    received_at_ms: t,
                    signature: None,
                };
                o.signature = Some(sign(key, &o));
                connector.observe(o);
            }
        }
        let mut halt = Observation {
            source: "s0".into(),
            symbol: "halt".into(),
            value: None,
            text: Some(format!("notice {round}")),
            observed_at_ms: t,
            received_at_ms: t,
            signature: None,
        };
        halt.signature = Some(sign(&keys[0], &halt));
        connector.observe(halt);
        let r = connector.round(t).await?;
        assert_eq!(r.events.len(), 1, "round {round}");
        for s in &r.symbols {
            assert!(s.report.published().is_some(), "round {round}: {:?}", s.report.outcome);
            decided += 1;
        }
        assert!(connector.tracked() <= SOURCES * 2, "round {round}: {} tracked", connector.tracked());
    }
    assert_eq!(decided, ROUNDS * 2);
    assert_eq!(connector.tracked(), SOURCES * 2);
    Ok(())
}
