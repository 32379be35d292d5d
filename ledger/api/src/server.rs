//! The server: shared state, the router with its middleware, and the lifecycle (`serve`, `start`).
//!
//! Middleware, outermost first: request id and JSON access log (`logging`), body limit, metrics
//! (by route template), then — on `/v1` routes only — authentication, scope and rate limit.
//! Background tasks: the idempotency sweeper and, with risk scoring on, the rules-file poller and
//! the alert webhook; all stop before the engine closes.
//! Nothing is acknowledged before the engine's durable callback: handlers await a oneshot that the
//! writer thread completes once the block holding their commands is in the journal. On shutdown
//! the listener stops accepting, in-flight requests finish (and so every acknowledged one is
//! durable), then the engine is closed.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use aurum_ledger::{AssetId, Command, Ledger, Outcome};
use aurum_ledger_node::engine::{Engine, EngineConfig, EngineError};
use aurum_vfs::OsVfs;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{Method, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use parking_lot::{Mutex, RwLock};
use tokio::sync::oneshot;

use crate::auth::{ApiKeyInfo, AuthError, KeyId, KeyStore, NewApiKey, Scope};
use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::idempotency::IdempotencyStore;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::risk::RiskState;
use crate::routes::{self, Caller};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The ledger engine could not be opened.
    #[error("opening the ledger under {dir}: {source}")]
    Engine {
        /// The data directory.
        dir: String,
        /// Why.
        #[source]
        source: EngineError,
    },
    /// The API key store could not be opened or bootstrapped.
    #[error("API keys: {0}")]
    Keys(#[from] AuthError),
    /// The address could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("serving HTTP: {0}")]
    Io(#[from] std::io::Error),
    /// A setting is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// Risk scoring could not start (bad rules file, unreadable journal, KV failure).
    #[error("risk scoring: {0}")]
    Risk(#[from] aurum_risk::RiskError),
}

/// The result of the last audit run through `POST /v1/audit`.
#[derive(Debug, Default)]
pub struct AuditState {
    /// An audit is running.
    pub running: bool,
    /// The last finished audit.
    pub last: Option<routes::ops::AuditView>,
}

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

struct Inner {
    engine: Engine,
    keys: KeyStore,
    limiter: RateLimiter,
    metrics: Metrics,
    idempotency: IdempotencyStore,
    /// Assets are immutable once created: code → (id, scale), so transfers need no ledger read.
    assets: RwLock<HashMap<String, (AssetId, u8)>>,
    audit: Mutex<AuditState>,
    max_body_bytes: usize,
    max_batch_items: usize,
    /// Risk scoring at admission, when on.
    risk: Option<Arc<RiskState>>,
    /// The platform's topics (risk alerts): the engine's embedded log or a Kafka cluster.
    topics: aurum_log::SharedTopics,
    /// Health history and alert state.
    ops: crate::operations::OpsState,
    /// Consumer groups whose lag is reported.
    watched_groups: Vec<(String, String)>,
    /// The last journal seq the read model holds (`u64::MAX`: not known yet, or none configured).
    read_model_through: std::sync::atomic::AtomicU64,
    /// History from a read model, when configured.
    read_model: Option<Arc<dyn crate::read_model::ReadModel>>,
    /// Dropped with the last handle on the state: `run` waits for it before closing the engine.
    released: tokio::sync::watch::Sender<()>,
}

impl AppState {
    /// State over an open engine and key store, risk scoring off.
    pub fn new(engine: Engine, keys: KeyStore, config: &ServerConfig) -> AppState {
        AppState::with_risk(engine, keys, config, None)
    }

    /// State over an open engine and key store, with risk scoring if `risk` is given (see
    /// [`RiskState::open`]).
    pub fn with_risk(engine: Engine, keys: KeyStore, config: &ServerConfig, risk: Option<RiskState>) -> AppState {
        let max_batch_items = config.max_batch_items.clamp(1, aurum_ledger::MAX_BATCH_COMMANDS);
        let metrics = Metrics::new();
        let topics = topics_of(&engine, config);
        let db = engine.db().clone();
        if risk.is_some() {
            metrics.risk().enable();
        }
        AppState {
            inner: Arc::new(Inner {
                idempotency: IdempotencyStore::new(engine.db().clone()),
                engine,
                keys,
                limiter: RateLimiter::new(config.default_rate_limit_per_sec, config.rate_limit_burst_secs),
                metrics,
                assets: RwLock::new(HashMap::new()),
                audit: Mutex::new(AuditState::default()),
                max_body_bytes: config.max_body_bytes,
                max_batch_items,
                risk: risk.map(Arc::new),
                topics,
                ops: crate::operations::OpsState::load(&db),
                watched_groups: config.watched_groups.clone(),
                read_model_through: std::sync::atomic::AtomicU64::new(u64::MAX),
                read_model: config.read_model.clone(),
                released: tokio::sync::watch::Sender::new(()),
            }),
        }
    }

    /// The read model, caught up with the journal up to the engine's head now, or `None` (none
    /// configured, behind, or failing: the failure is logged) — then memory answers.
    pub async fn caught_up_read_model(&self) -> Option<&Arc<dyn crate::read_model::ReadModel>> {
        let model = self.inner.read_model.as_ref()?;
        let head = self.inner.engine.head().0;
        let journal = self.inner.engine.journal_reader();
        let caught_up = model.catch_up(&journal).await;
        if let Ok(through) = caught_up {
            self.record_read_model_through(through);
        }
        match caught_up {
            Ok(through) if through >= head => Some(model),
            Ok(through) => {
                tracing::warn!(through, head, "read model behind the journal: answering from memory");
                None
            }
            Err(error) => {
                tracing::warn!(%error, "read model failed: answering from memory");
                None
            }
        }
    }

    /// Risk scoring, if on.
    pub fn risk(&self) -> Option<&Arc<RiskState>> {
        self.inner.risk.as_ref()
    }

    /// Risk scoring, or 404 `risk_disabled`.
    pub fn risk_enabled(&self) -> Result<&Arc<RiskState>, ApiError> {
        self.risk().ok_or(ApiError::RiskDisabled)
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The platform's topics (risk alerts): the engine's embedded log or a Kafka cluster.
    pub fn topics(&self) -> &aurum_log::SharedTopics {
        &self.inner.topics
    }

    /// Health history and alert state.
    pub fn ops(&self) -> &crate::operations::OpsState {
        &self.inner.ops
    }

    /// Consumer groups whose lag is reported: (group, topic).
    pub fn watched_groups(&self) -> &[(String, String)] {
        &self.inner.watched_groups
    }

    /// The last journal seq the read model holds, once known.
    pub fn read_model_through(&self) -> Option<u64> {
        let t = self.inner.read_model_through.load(std::sync::atomic::Ordering::Relaxed);
        (self.inner.read_model.is_some() && t != u64::MAX).then_some(t)
    }

    fn record_read_model_through(&self, through: u64) {
        self.inner.read_model_through.store(through, std::sync::atomic::Ordering::Relaxed);
    }

    /// The API keys.
    pub fn keys(&self) -> &KeyStore {
        &self.inner.keys
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Idempotency records of batch requests.
    pub fn idempotency(&self) -> &IdempotencyStore {
        &self.inner.idempotency
    }

    /// The audit status.
    pub fn audit(&self) -> &Mutex<AuditState> {
        &self.inner.audit
    }

    /// Largest request body in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }

    /// Most items per batch request.
    pub fn max_batch_items(&self) -> usize {
        self.inner.max_batch_items
    }

    /// Submit commands; resolves once the block holding them is durable (never before).
    pub async fn submit(&self, commands: Vec<Command>) -> Result<Vec<Outcome>, ApiError> {
        let (tx, rx) = oneshot::channel();
        self.inner.engine.try_submit_with(commands, move |r| drop(tx.send(r)))?;
        let outcomes = rx.await.map_err(|_| ApiError::Unavailable("the ledger engine stopped".into()))??;
        Ok(outcomes)
    }

    /// Run a query on the durable state, off the async workers (a read waits while the writer
    /// holds the state for a block's fsync).
    pub async fn read<R: Send + 'static>(&self, f: impl FnOnce(&Ledger) -> R + Send + 'static) -> Result<R, ApiError> {
        let engine = self.inner.engine.clone();
        tokio::task::spawn_blocking(move || engine.read(f))
            .await
            .map_err(|e| ApiError::Internal(format!("read task: {e}")))?
            .map_err(ApiError::from)
    }

    /// An asset's (id, scale) by code, from the cache or the ledger.
    pub async fn asset_by_code(&self, code: &str) -> Result<Option<(AssetId, u8)>, ApiError> {
        if let Some(found) = self.inner.assets.read().get(code) {
            return Ok(Some(*found));
        }
        let owned = code.to_string();
        let found = self.read(move |l| l.asset_by_code(&owned).map(|a| (a.id, a.scale))).await?;
        if let Some(found) = found {
            self.remember_asset(code, found);
        }
        Ok(found)
    }

    /// Cache an asset (assets never change once created).
    pub fn remember_asset(&self, code: &str, asset: (AssetId, u8)) {
        self.inner.assets.write().insert(code.to_string(), asset);
    }
}

/// Routes whose POST needs admin besides `/v1/admin/*`: an audit, and the risk reviewer's and
/// operator's actions.
const ADMIN_POSTS: [&str; 4] = [
    "/v1/audit",
    "/v1/risk/reviews/{transfer_id}/release",
    "/v1/risk/reviews/{transfer_id}/void",
    "/v1/risk/rules/reload",
];

/// The scope a request needs: `/v1/admin/*`, `POST /v1/audit` and the risk reviews' release and
/// void and the rules reload need admin; other reads — and `POST /v1/risk/assess`, a dry run that
/// changes nothing — need read; other writes need write.
pub fn required_scope(method: &Method, route: &str) -> Scope {
    if route.starts_with("/v1/admin/")
        || route == "/v1/admin"
        || (method == Method::POST && ADMIN_POSTS.contains(&route))
    {
        Scope::Admin
    } else if method == Method::GET || method == Method::HEAD || (method == Method::POST && route == "/v1/risk/assess")
    {
        Scope::Read
    } else {
        Scope::Write
    }
}

fn auth_error(e: AuthError) -> ApiError {
    match e {
        AuthError::Store(s) => ApiError::Internal(format!("API key store: {s}")),
        other => ApiError::Unauthorized(other.to_string()),
    }
}

/// Authenticate the bearer token, check the scope and the key's rate.
async fn authorize(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map_or_else(|| req.uri().path().to_string(), |m| m.as_str().to_string());
    let header = req.headers().get(axum::http::header::AUTHORIZATION).map(|v| v.to_str().unwrap_or("\u{0}"));
    let key: ApiKeyInfo = match state.keys().authenticate(header) {
        Ok(k) => k,
        Err(e) => return auth_error(e).into_response(),
    };
    let needed = required_scope(req.method(), &route);
    if !key.scope.allows(needed) {
        let mut r = ApiError::InsufficientScope { needed: needed.as_str(), have: key.scope.as_str() }.into_response();
        r.extensions_mut().insert(KeyId(key.id.clone()));
        return r;
    }
    if let Err(retry_after) = state.inner.limiter.check(&key.id, key.rate_limit_per_sec, Instant::now()) {
        let retry_after_secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        let mut r = ApiError::RateLimited { retry_after_secs: retry_after_secs.max(1) }.into_response();
        r.extensions_mut().insert(KeyId(key.id.clone()));
        return r;
    }
    req.extensions_mut().insert(KeyId(key.id.clone()));
    req.extensions_mut().insert(Caller { key_id: key.id.clone() });
    let mut response = next.run(req).await;
    response.extensions_mut().insert(KeyId(key.id));
    response
}

/// Count every request by route template, method and status, with its latency.
async fn record_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route =
        req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().clone();
    let response = next.run(req).await;
    state.metrics().record_request(&route, method.as_str(), response.status().as_u16(), start.elapsed());
    response
}

async fn route_not_found(uri: Uri) -> ApiError {
    ApiError::RouteNotFound(format!("no route for {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}

/// The whole API as a router (with its state applied).
pub fn router(state: AppState) -> Router {
    router_with(state, false)
}

fn router_with(state: AppState, bench_routes: bool) -> Router {
    use axum::routing::{delete, get, post};
    use routes::{accounts, admin, assets, entries, ops, recon, risk, transfers};

    let v1 = Router::new()
        .route("/v1/assets", post(assets::create).get(assets::list))
        .route("/v1/assets/{code}", get(assets::get))
        .route("/v1/accounts", post(accounts::create).get(accounts::list))
        .route("/v1/accounts/{id}", get(accounts::get))
        .route("/v1/accounts/{id}/balance", get(accounts::balance))
        .route("/v1/accounts/{id}/statement", get(accounts::statement))
        .route("/v1/accounts/{id}/close", post(accounts::close))
        .route("/v1/transfers", post(transfers::create).get(transfers::list))
        .route("/v1/transfers/batch", post(transfers::batch))
        .route("/v1/transfers/{id}", get(transfers::get))
        .route("/v1/transfers/{id}/post", post(transfers::post_pending))
        .route("/v1/transfers/{id}/void", post(transfers::void_pending))
        .route("/v1/entries", post(entries::create).get(entries::list))
        .route("/v1/entries/batch", post(entries::batch))
        .route("/v1/entries/{id}", get(entries::get))
        .route("/v1/trial-balance", get(ops::trial_balance))
        .route("/v1/journal/head", get(ops::head))
        .route("/v1/ops/overview", get(ops::overview))
        .route("/v1/audit", post(ops::run_audit).get(ops::audit_status))
        .route("/v1/recon/latest", get(recon::latest))
        .route("/v1/recon/latest/report.html", get(recon::latest_html))
        .route("/v1/recon/latest/breaks.csv", get(recon::latest_csv))
        .route("/v1/risk/assess", post(risk::assess))
        .route("/v1/risk/reviews", get(risk::list_reviews))
        .route("/v1/risk/reviews/{transfer_id}", get(risk::get_review))
        .route("/v1/risk/reviews/{transfer_id}/release", post(risk::release))
        .route("/v1/risk/reviews/{transfer_id}/void", post(risk::void))
        .route("/v1/risk/alerts", get(risk::alerts))
        .route("/v1/risk/top", get(risk::top))
        .route("/v1/risk/drift", get(risk::drift))
        .route("/v1/risk/rules", get(risk::rules))
        .route("/v1/risk/rules/reload", post(risk::reload_rules))
        .route("/v1/admin/api-keys", post(admin::create_key).get(admin::list_keys))
        .route("/v1/admin/api-keys/{id}", delete(admin::revoke_key));
    // The load benchmark's baseline: the same stack (auth, rate limit, metrics, logging, JSON
    // parse) with a trivial handler, so the benchmark's ratio shows the ledger's own cost.
    let v1 = if bench_routes { v1.merge(crate::bench_route::bench_routes()) } else { v1 };
    let v1 = v1.route_layer(middleware::from_fn_with_state(state.clone(), authorize));

    let public = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/dashboard", get(ops::dashboard))
        .route("/openapi.json", get(crate::openapi::serve_openapi));

    Router::new()
        .merge(v1)
        .merge(public)
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .layer(DefaultBodyLimit::max(state.max_body_bytes()))
        .layer(middleware::from_fn(crate::logging::request_id_layer))
        .with_state(state)
}

/// A server running in the background (tests, benchmarks, embedding programs).
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    admin_token: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), ServeError>>>,
}

impl RunningServer {
    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bootstrap admin token, if this start created it (the first start on a data dir).
    pub fn admin_token(&self) -> Option<&str> {
        self.admin_token.as_deref()
    }

    /// Stop accepting, finish in-flight requests, close the engine; returns once all is done.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(|e| ServeError::Io(std::io::Error::other(e)))?,
            None => Ok(()),
        }
    }
}

struct Opened {
    state: AppState,
    listener: tokio::net::TcpListener,
    bootstrap: Option<NewApiKey>,
    extras: Extras,
}

/// What runs beside the API: alerting, and the background work (stopped before the engine
/// closes).
struct Extras {
    bench_routes: bool,
    alerts: Option<crate::operations::AlertSettings>,
    stop_background: Option<Box<dyn FnOnce() + Send>>,
}

async fn open(config: &ServerConfig) -> Result<Opened, ServeError> {
    if let Some(url) = config.risk.as_ref().and_then(|r| r.webhook_url.as_deref()) {
        crate::risk::webhook::check_url(url).map_err(ServeError::Config)?;
    }
    let dir = config.data_dir.clone();
    let engine_dir = dir.clone();
    let journal = config.journal.clone();
    let (engine, _report) = tokio::task::spawn_blocking(move || match journal {
        None => Engine::open(Arc::new(OsVfs), &engine_dir, EngineConfig::default()),
        Some(j) => {
            Engine::open_dir_with_journal(Arc::new(OsVfs), &engine_dir, j.backend, j.policy, EngineConfig::default())
        }
    })
    .await
    .map_err(|e| ServeError::Io(std::io::Error::other(e)))?
    .map_err(|source| ServeError::Engine { dir: dir.display().to_string(), source })?;
    let keys = KeyStore::open(engine.db().clone())?;
    let bootstrap = keys.bootstrap()?;
    let risk = match &config.risk {
        None => None,
        Some(settings) => {
            let (engine, settings, topics) = (engine.clone(), settings.clone(), topics_of(&engine, config));
            let risk = tokio::task::spawn_blocking(move || RiskState::open(&engine, &*topics, &settings))
                .await
                .map_err(|e| ServeError::Io(std::io::Error::other(e)))??;
            tracing::info!(
                rules = %risk.rules_info().source,
                replayed_transfers = risk.replayed_transfers(),
                reviews = risk.reviews().len(),
                webhook = risk.webhook().map(|(url, _)| crate::config::redact_url(url)).as_deref().unwrap_or("none"),
                "risk scoring at admission is on"
            );
            Some(risk)
        }
    };
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Bind { addr: config.addr, source })?;
    let state = AppState::with_risk(engine, keys, config, risk);
    let stop_background = match &config.background {
        None => None,
        Some(b) => {
            let (b, engine, topics) = (b.clone(), state.engine().clone(), state.topics().clone());
            let started = tokio::task::spawn_blocking(move || b.start(&engine, &topics))
                .await
                .map_err(|e| ServeError::Io(std::io::Error::other(e)))?;
            Some(started.map_err(ServeError::Config)?)
        }
    };
    let extras = Extras { bench_routes: config.bench_routes, alerts: config.alerts.clone(), stop_background };
    Ok(Opened { state, listener, bootstrap, extras })
}

/// The configured topics, else the engine's embedded log.
fn topics_of(engine: &Engine, config: &ServerConfig) -> aurum_log::SharedTopics {
    config.topics.clone().unwrap_or_else(|| Arc::new(engine.log().clone()))
}

/// Longest wait at shutdown for connection tasks to drop their handles on the state.
const STATE_RELEASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Start the risk tasks (rules-file poller, alert webhook), if risk scoring is on; they stop when
/// `stop` turns true.
fn spawn_risk_tasks(state: &AppState, stop: &tokio::sync::watch::Sender<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    let Some(risk) = state.risk() else { return Vec::new() };
    let mut tasks = Vec::new();
    if risk.has_rules_file() {
        let (risk, mut stop) = (risk.clone(), stop.subscribe());
        tasks.push(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(aurum_risk::reload::RULES_POLL_INTERVAL);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await; // the first tick is immediate: the rules were just loaded
            loop {
                tokio::select! {
                    _ = ticker.tick() => {
                        let risk = risk.clone();
                        let _ = tokio::task::spawn_blocking(move || risk.poll_rules_file()).await;
                    }
                    () = crate::risk::webhook::stopped(&mut stop) => return,
                }
            }
        }));
    }
    if risk.webhook().is_some() {
        tasks.push(tokio::spawn(crate::risk::webhook::run(state.clone(), stop.subscribe())));
    }
    tasks
}

/// How often the read model is brought up to the journal's head in the background (requests
/// still catch it up before answering: this keeps that short).
pub const READ_MODEL_FOLLOW_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Keep the read model, if any, projected up to the engine's head until `stop` turns true.
fn spawn_read_model_follower(
    state: &AppState,
    stop: &tokio::sync::watch::Sender<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let model = state.inner.read_model.clone()?;
    let (engine, mut stop, state) = (state.engine().clone(), stop.subscribe(), state.clone());
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(READ_MODEL_FOLLOW_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut through = 0;
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    if engine.head().0 <= through {
                        continue;
                    }
                    // A failure is the model's to log and back off from; the next tick retries.
                    if let Ok(t) = model.catch_up(&engine.journal_reader()).await {
                        through = t;
                        state.record_read_model_through(t);
                    }
                }
                () = crate::risk::webhook::stopped(&mut stop) => return,
            }
        }
    }))
}

async fn run(
    state: AppState,
    listener: tokio::net::TcpListener,
    extras: Extras,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let app = router_with(state.clone(), extras.bench_routes);
    let sweeper = tokio::spawn(state.idempotency().clone().sweep_periodically());
    let (stop, _) = tokio::sync::watch::channel(false);
    let mut background = spawn_risk_tasks(&state, &stop);
    background.extend(spawn_read_model_follower(&state, &stop));
    background.push(tokio::spawn(crate::operations::run(state.clone(), extras.alerts, stop.subscribe())));
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    sweeper.abort();
    let _ = sweeper.await; // its store handle is dropped before the engine closes
    // The webhook and the read model's follower hold the state: they must be gone before the
    // engine closes. The webhook stops within one poll wait (an alert being retried is delivered
    // again after the restart); the follower after the catch-up in progress.
    let _ = stop.send(true);
    for task in background {
        let _ = task.await;
    }
    // The job scheduler holds the engine: stopped (its running attempts given up) before it closes.
    if let Some(stop_background) = extras.stop_background {
        let _ = tokio::task::spawn_blocking(stop_background).await;
    }
    served?;
    // Every connection has finished: every acknowledged command is durable. Close the engine
    // (the writer drains its queue and exits when the last handle is dropped). axum returns once
    // the connections are closed, but a connection task may still be dropping its handle on the
    // state: wait for the last one, so that the engine below is the last handle and closing it
    // releases the data directory before `shutdown` returns (a restart can open it at once).
    let engine = state.engine().clone();
    let mut released = state.inner.released.subscribe();
    drop(state);
    if tokio::time::timeout(STATE_RELEASE_TIMEOUT, released.changed()).await.is_err() {
        tracing::warn!("a request handler still holds the server state; the ledger closes when it ends");
    }
    tokio::task::spawn_blocking(move || drop(engine)).await.map_err(|e| ServeError::Io(std::io::Error::other(e)))?;
    Ok(())
}

/// Start the server in the background: open the engine, bootstrap the admin key, bind. Returns
/// once it accepts connections.
pub async fn start(config: ServerConfig) -> Result<RunningServer, ServeError> {
    let Opened { state, listener, bootstrap, extras } = open(&config).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(run(state, listener, extras, async move {
        let _ = rx.await;
    }));
    Ok(RunningServer { addr, admin_token: bootstrap.map(|k| k.token), shutdown: Some(tx), task: Some(task) })
}

/// Run the server until `shutdown` resolves, then drain in-flight requests and close the engine.
/// On the first start on a data directory, prints the bootstrap admin token once to stdout.
pub async fn serve(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    if let Some(filter) = &config.log_filter {
        crate::logging::init(filter);
    }
    let Opened { state, listener, bootstrap, extras } = open(&config).await?;
    let addr = listener.local_addr()?;
    if let (Some(key), true) = (&bootstrap, config.print_bootstrap_token) {
        // stdout, once, never through tracing: the token is a secret.
        println!("bootstrap admin API key (shown once, store it now): {}", key.token);
    }
    drop(bootstrap);
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "aurum API listening");
    // On stdout, after the listener is bound: supervisors and tests wait for this line.
    println!("aurum API listening on http://{addr}");
    run(state, listener, extras, shutdown).await
}
