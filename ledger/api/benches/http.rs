//! HTTP load benchmark of the REST API: the real server stack in-process on 127.0.0.1 (port 0) over
//! a fresh data directory, driven by a minimal HTTP/1.1 keep-alive load generator.
//!
//! Measured, each after a warm-up and beside a BASELINE in the same run — the same requests, on the
//! same stack (request id + log layer, body limit, metrics, auth, scope, rate limiter, typed JSON
//! parse), to a handler that answers without touching the ledger (`/v1/_bench/noop`, see
//! src/bench_route.rs) — so `ledger / baseline` is the ledger's own cost:
//! 1. `POST /v1/transfers`, one transfer per request, at 1, 16 and 64 connections: requests/s, p50
//!    and p99 latency;
//! 2. `POST /v1/transfers/batch`, 1 000 independent transfers per request, at 1 and 4 connections:
//!    transfers/s.
//!
//! At the end it checks the ledger holds exactly the acknowledged transfers (sum of balances).
//!
//! Run: `CARGO_TARGET_DIR=/work/target-api cargo bench -p aurum-api --bench http`
//! (`AURUM_BENCH_SECS=n` sets the measured seconds per phase; default 5). Without `--bench` (as under
//! `cargo test --benches`) it runs a short smoke version.
//!
//! The load generator writes pre-formatted requests and parses only the status line and
//! Content-Length, so on a small machine it takes as little CPU from the server as possible. Logging
//! is not initialised (the request log's cost is then one disabled `tracing` callsite), and the rate
//! limit is off (`default_rate_limit_per_sec: 0`); both apply equally to ledger and baseline.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aurum_api::ServerConfig;
use tokio::net::TcpStream;

/// Accounts the transfers move between (spread, so no single hot account pair).
const ACCOUNTS: u64 = 256;
/// Transfers per batch request.
const BATCH_ITEMS: usize = 1000;
/// Connections for the single-transfer runs.
const SINGLE_CONNECTIONS: [usize; 3] = [1, 16, 64];
/// Connections for the batch runs.
const BATCH_CONNECTIONS: [usize; 2] = [1, 4];
/// Largest response the load generator accepts, in bytes (a 1 000-item batch answer is ~200 KiB).
const MAX_RESPONSE_BYTES: usize = 8 << 20;
/// First transfer id; every request gets a fresh one (ids are unique forever).
static NEXT_ID: AtomicU64 = AtomicU64::new(1_000_000);

#[derive(Clone, Copy)]
struct Timing {
    warmup: Duration,
    measure: Duration,
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let secs: f64 = std::env::var("AURUM_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let timing = if full {
        Timing { warmup: Duration::from_secs(1), measure: Duration::from_secs_f64(secs) }
    } else {
        Timing { warmup: Duration::from_millis(50), measure: Duration::from_millis(200) }
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());

    let data = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temporary data dir");
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus)
        .thread_name("server")
        .enable_all()
        .build()
        .expect("server runtime");
    let config = ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_path_buf(),
        default_rate_limit_per_sec: 0, // unlimited: the benchmark measures throughput, not the limiter
        log_filter: None,
        bench_routes: true,
        print_bootstrap_token: false,
        ..ServerConfig::default()
    };
    let server = server_rt.block_on(aurum_api::start(config)).expect("server starts");
    let addr = server.addr();
    let token = server.admin_token().expect("a fresh data dir gets a bootstrap key").to_owned();

    // The client on its own single thread, so it cannot steal the server's scheduler.
    let client_rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("client runtime");
    let token = Arc::new(token);
    client_rt.block_on(run(addr, token, timing, full, cpus, data.path().display().to_string()));
    server_rt.block_on(server.shutdown()).expect("clean shutdown");
}

async fn run(addr: SocketAddr, token: Arc<String>, timing: Timing, full: bool, cpus: usize, data_dir: String) {
    setup(addr, &token).await;
    let (noop_single, noop_batch, parsed) = baseline_paths(addr, &token).await;

    println!("aurum-api HTTP load benchmark");
    println!(
        "  machine: {cpus} CPU(s); server: axum, {cpus} tokio worker(s), data dir {data_dir}; client: 1 thread, raw HTTP/1.1 keep-alive"
    );
    println!(
        "  {:.1} s warm-up + {:.1} s measured per phase; every acknowledgement is durable (journal fsync)",
        timing.warmup.as_secs_f64(),
        timing.measure.as_secs_f64()
    );
    if !parsed {
        println!("  NOTE: baseline handler ignores the body (src/bench_route.rs not wired in): baseline flattered");
    }
    if !full {
        println!("  (smoke run: pass --bench, as `cargo bench` does, for the real thing)");
    }

    let mut acked_transfers = 0u64;
    println!();
    println!("single transfers: POST /v1/transfers  vs  baseline POST {noop_single}");
    println!(
        "{:>5} | {:>10} {:>8} {:>8} {:>8} | {:>10} {:>8} {:>8} {:>8} | {:>6}",
        "conns", "ledger/s", "p50 ms", "p99 ms", "max ms", "base/s", "p50 ms", "p99 ms", "max ms", "ratio"
    );
    for &conns in &SINGLE_CONNECTIONS {
        let base = phase(addr, &token, conns, timing, Work::Single { path: noop_single }).await;
        let ledger = phase(addr, &token, conns, timing, Work::Single { path: "/v1/transfers" }).await;
        acked_transfers += ledger.acked_items;
        println!(
            "{:>5} | {:>10.0} {:>8.3} {:>8.3} {:>8.1} | {:>10.0} {:>8.3} {:>8.3} {:>8.1} | {:>6.2}{}",
            conns,
            ledger.per_sec(),
            ledger.p(0.50),
            ledger.p(0.99),
            ledger.max(),
            base.per_sec(),
            base.p(0.50),
            base.p(0.99),
            base.max(),
            ledger.per_sec() / base.per_sec(),
            errors_note(&ledger, &base)
        );
    }

    println!();
    println!("batches of {BATCH_ITEMS}: POST /v1/transfers/batch  vs  baseline POST {noop_batch}");
    println!(
        "{:>5} | {:>12} {:>7} {:>8} {:>8} {:>8} | {:>12} {:>8} {:>8} | {:>6}",
        "conns", "transfers/s", "req/s", "p50 ms", "p99 ms", "max ms", "base items/s", "p50 ms", "p99 ms", "ratio"
    );
    let batch_conns: &[usize] = if full { &BATCH_CONNECTIONS } else { &BATCH_CONNECTIONS[..1] };
    for &conns in batch_conns {
        let base = phase(addr, &token, conns, timing, Work::Batch { path: noop_batch }).await;
        let ledger = phase(addr, &token, conns, timing, Work::Batch { path: "/v1/transfers/batch" }).await;
        acked_transfers += ledger.acked_items;
        println!(
            "{:>5} | {:>12.0} {:>7.0} {:>8.3} {:>8.3} {:>8.1} | {:>12.0} {:>8.3} {:>8.3} | {:>6.2}{}",
            conns,
            ledger.items_per_sec(),
            ledger.per_sec(),
            ledger.p(0.50),
            ledger.p(0.99),
            ledger.max(),
            base.items_per_sec(),
            base.p(0.50),
            base.p(0.99),
            ledger.items_per_sec() / base.items_per_sec(),
            errors_note(&ledger, &base)
        );
    }

    println!();
    engine_summary(addr).await;
    verify(addr, &token, acked_transfers).await;
}

fn errors_note(ledger: &PhaseResult, base: &PhaseResult) -> String {
    if ledger.errors + base.errors == 0 {
        String::new()
    } else {
        format!(
            "  ERRORS: ledger {} ({}), baseline {} ({})",
            ledger.errors, ledger.first_error, base.errors, base.first_error
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Workload

#[derive(Clone, Copy)]
enum Work {
    Single { path: &'static str },
    Batch { path: &'static str },
}

/// A transfer of 0.01 between two distinct accounts chosen from the id.
fn transfer_json(out: &mut String, id: u64) {
    use std::fmt::Write as _;
    let debit = 1 + id % ACCOUNTS;
    let credit = 1 + (id % ACCOUNTS + 1 + (id / ACCOUNTS) % (ACCOUNTS - 1)) % ACCOUNTS;
    debug_assert_ne!(debit, credit);
    let _ = write!(
        out,
        r#"{{"id":"{id}","debit_account":"{debit}","credit_account":"{credit}","amount":"0.01","asset":"XAU"}}"#
    );
}

/// The request bytes and how many transfers it carries.
fn build(work: Work, token: &str, buf: &mut String) -> (Vec<u8>, u64) {
    buf.clear();
    let (path, items) = match work {
        Work::Single { path } => {
            transfer_json(buf, NEXT_ID.fetch_add(1, Ordering::Relaxed));
            (path, 1)
        }
        Work::Batch { path } => {
            let first = NEXT_ID.fetch_add(BATCH_ITEMS as u64, Ordering::Relaxed);
            buf.push_str(r#"{"transfers":["#);
            for i in 0..BATCH_ITEMS as u64 {
                if i > 0 {
                    buf.push(',');
                }
                transfer_json(buf, first + i);
            }
            buf.push_str("]}");
            (path, BATCH_ITEMS as u64)
        }
    };
    (http_request("POST", path, token, buf.as_bytes()), items)
}

fn http_request(method: &str, path: &str, token: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

// ---------------------------------------------------------------------------------------------
// Phases

struct PhaseResult {
    /// Requests completed inside the measured window.
    requests: u64,
    /// Transfers carried by those requests.
    items: u64,
    /// Transfers acknowledged over the whole phase, warm-up included (for the final check).
    acked_items: u64,
    /// Latencies of the measured requests, µs, sorted.
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: String,
    window: Duration,
}

impl PhaseResult {
    fn per_sec(&self) -> f64 {
        self.requests as f64 / self.window.as_secs_f64()
    }
    fn items_per_sec(&self) -> f64 {
        self.items as f64 / self.window.as_secs_f64()
    }
    /// Largest latency, in milliseconds.
    fn max(&self) -> f64 {
        self.latencies_us.last().map_or(f64::NAN, |&us| f64::from(us) / 1e3)
    }
    /// Quantile `q` of latency, in milliseconds.
    fn p(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() as f64 * q).ceil() as usize).clamp(1, self.latencies_us.len()) - 1;
        f64::from(self.latencies_us[i]) / 1e3
    }
}

struct WorkerResult {
    requests: u64,
    items: u64,
    acked_items: u64,
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

async fn phase(addr: SocketAddr, token: &Arc<String>, conns: usize, timing: Timing, work: Work) -> PhaseResult {
    let start = Instant::now();
    let measure_from = start + timing.warmup;
    let end = measure_from + timing.measure;
    let mut handles = Vec::with_capacity(conns);
    for _ in 0..conns {
        let token = token.clone();
        handles.push(tokio::spawn(async move { worker(addr, &token, work, measure_from, end).await }));
    }
    let mut r = PhaseResult {
        requests: 0,
        items: 0,
        acked_items: 0,
        latencies_us: Vec::new(),
        errors: 0,
        first_error: String::new(),
        window: timing.measure,
    };
    for h in handles {
        let w = h.await.expect("worker task");
        r.requests += w.requests;
        r.items += w.items;
        r.acked_items += w.acked_items;
        r.latencies_us.extend(w.latencies_us);
        r.errors += w.errors;
        if r.first_error.is_empty()
            && let Some(e) = w.first_error
        {
            r.first_error = e;
        }
    }
    r.latencies_us.sort_unstable();
    r
}

async fn worker(addr: SocketAddr, token: &str, work: Work, measure_from: Instant, end: Instant) -> WorkerResult {
    let mut conn = Conn::connect(addr).await.expect("connect");
    let mut buf = String::new();
    let mut r =
        WorkerResult { requests: 0, items: 0, acked_items: 0, latencies_us: Vec::new(), errors: 0, first_error: None };
    loop {
        let (req, items) = build(work, token, &mut buf);
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        let (status, body) = conn.send(&req).await.expect("request");
        let done = Instant::now();
        let ok = (200..300).contains(&status);
        if ok {
            r.acked_items += items;
        } else {
            r.errors += 1;
            if r.first_error.is_none() {
                r.first_error = Some(format!("{status} {}", String::from_utf8_lossy(&body[..body.len().min(300)])));
            }
        }
        // Throughput counts the completions inside the window (a request started in the warm-up
        // but finished in the window counts), so a long stall cannot zero a phase.
        if done >= measure_from && done <= end && ok {
            r.requests += 1;
            r.items += items;
            r.latencies_us.push(u32::try_from(done.duration_since(sent).as_micros()).unwrap_or(u32::MAX));
        }
    }
    r
}

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 keep-alive client: enough for this server (responses carry Content-Length).

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn { stream, buf: Vec::with_capacity(64 * 1024) })
    }

    /// Send one request and read its response: (status, body).
    async fn send(&mut self, req: &[u8]) -> io::Result<(u16, Vec<u8>)> {
        self.write_all(req).await?;
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(io::Error::other)?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line in {head:?}")))?;
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok())?
            })
            .ok_or_else(|| io::Error::other(format!("no content-length in {head:?}")))?;
        if len > MAX_RESPONSE_BYTES {
            return Err(io::Error::other(format!("response of {len} bytes")));
        }
        while self.buf.len() < head_end + len {
            self.fill().await?;
        }
        let body = self.buf[head_end..head_end + len].to_vec();
        self.buf.drain(..head_end + len);
        Ok((status, body))
    }

    /// `write_all` on the readiness API (tokio's `io-util` feature is not enabled in this crate).
    async fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            self.stream.writable().await?;
            match self.stream.try_write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            self.stream.readable().await?;
            match self.stream.try_read(&mut chunk) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed the connection")),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------
// Setup, baseline discovery, summary and the final check

async fn call(addr: SocketAddr, token: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut conn = Conn::connect(addr).await.expect("connect");
    let (status, body) = conn.send(&http_request(method, path, token, body.as_bytes())).await.expect("request");
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn setup(addr: SocketAddr, token: &str) {
    let (s, b) = call(addr, token, "POST", "/v1/assets", r#"{"id":1,"code":"XAU","scale":2}"#).await;
    assert!(s == 201 || s == 200, "creating the asset: {s} {b}");
    let mut conn = Conn::connect(addr).await.expect("connect");
    for id in 1..=ACCOUNTS {
        let body = format!(r#"{{"id":"{id}","asset":"XAU","kind":"asset"}}"#);
        let (s, b) = conn.send(&http_request("POST", "/v1/accounts", token, body.as_bytes())).await.expect("request");
        assert!((200..300).contains(&s), "creating account {id}: {s} {}", String::from_utf8_lossy(&b));
    }
}

/// The baseline paths, and whether the baseline handler parses the body (src/bench_route.rs).
async fn baseline_paths(addr: SocketAddr, token: &str) -> (&'static str, &'static str, bool) {
    let mut one = String::new();
    transfer_json(&mut one, 1);
    let (s, b) = call(addr, token, "POST", "/v1/_bench/noop", &one).await;
    assert!((200..300).contains(&s), "the baseline route /v1/_bench/noop is mounted (bench_routes): {s} {b}");
    let parses = b.contains("parsed");
    let batch = format!(r#"{{"transfers":[{one}]}}"#);
    let (s, b) = call(addr, token, "POST", "/v1/_bench/noop/batch", &batch).await;
    if (200..300).contains(&s) && b.contains("parsed") {
        ("/v1/_bench/noop", "/v1/_bench/noop/batch", parses)
    } else {
        ("/v1/_bench/noop", "/v1/_bench/noop", false)
    }
}

/// Engine figures from /metrics: blocks, commands per block, mean journal append + fsync time.
async fn engine_summary(addr: SocketAddr) {
    let (s, text) = call(addr, "", "GET", "/metrics", "").await;
    if s != 200 {
        println!("engine: /metrics answered {s}");
        return;
    }
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')).and_then(|v| v.parse().ok()))
            .unwrap_or(f64::NAN)
    };
    let (blocks, commands) = (value("aurum_ledger_blocks_total"), value("aurum_ledger_commands_total"));
    let (fsync_sum, fsync_count) =
        (value("aurum_journal_fsync_seconds_sum"), value("aurum_journal_fsync_seconds_count"));
    println!(
        "engine: {blocks:.0} blocks, {commands:.0} commands ({:.1} per block), journal append+fsync mean {:.3} ms",
        commands / blocks,
        fsync_sum / fsync_count * 1e3
    );
}

/// Every acknowledged transfer moved 0.01: the accounts' credits must add up to exactly that.
async fn verify(addr: SocketAddr, token: &str, acked_transfers: u64) {
    let mut conn = Conn::connect(addr).await.expect("connect");
    let mut credited_cents = 0u128;
    for id in 1..=ACCOUNTS {
        let (s, b) = conn.send(&http_request("GET", &format!("/v1/accounts/{id}"), token, b"")).await.expect("request");
        let b = String::from_utf8_lossy(&b);
        assert_eq!(s, 200, "account {id}: {b}");
        let v: serde_json::Value = serde_json::from_str(&b).expect("account JSON");
        let credits = v["credits_posted"].as_str().expect("credits_posted");
        let (whole, frac) = credits.split_once('.').unwrap_or((credits, "0"));
        credited_cents += whole.parse::<u128>().unwrap() * 100 + format!("{frac:0<2}")[..2].parse::<u128>().unwrap();
    }
    let ok = credited_cents == u128::from(acked_transfers);
    println!(
        "check: {acked_transfers} transfers acknowledged, ledger credits sum to {credited_cents} × 0.01 — {}",
        if ok { "exact" } else { "MISMATCH" }
    );
    assert!(ok, "every acknowledged transfer is in the ledger, and nothing else");
}
