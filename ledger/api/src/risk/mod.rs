//! Risk scoring at admission: every transfer created through the API is scored by
//! [`aurum_risk::Scorer`] before the ledger sees it, and the policy decides.
//!
//! - **allow**: submitted as sent.
//! - **hold**: submitted as a *pending* transfer (`timeout_secs` = the policy's
//!   `hold_timeout_secs`, metadata `aurum.risk = "held"` and `aurum.risk_score`), with a review
//!   record ([`review`]) that a reviewer releases (posts) or voids. A transfer the client already
//!   asked to be pending is left as sent and only gets a review record; while that review is open
//!   the client cannot post it either.
//! - **reject**: refused with 422 `risk_rejected`; the ledger never sees it.
//!
//! After the ledger applied a transfer (a fresh outcome, not a replay), the scorer learns from it
//! ([`aurum_risk::Scorer::observe`], with the ledger's timestamp), and an assessment at or above
//! the policy's `alert_at` is appended to the `risk.alerts` topic of the engine's log; a
//! [`webhook`] task delivers them.
//!
//! **Retries stay idempotent.** The ledger replays a transfer only if the retry carries the same
//! fields — but a retry is scored against profiles that already include the first attempt, so its
//! decision may differ. Hence: a transfer with a review record is never re-scored; the record
//! (written before the first submission) rebuilds exactly what was submitted. A transfer that
//! would now be held or rejected but whose id the ledger already holds is submitted as sent (the
//! ledger replays it or reports the conflict) instead of being held or refused a second time.
//! Allowed transfers need no record: they are submitted as sent.
//!
//! The scorer sits behind one mutex, held only to assess (before submission) and to observe
//! (after), never across the ledger's fsync.

pub mod review;
pub mod webhook;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aurum_ledger::{Command, CreateTransfer, MAX_METADATA_ENTRIES, Outcome, ResultCode, TransferId};
use aurum_ledger_node::engine::Engine;
use aurum_log::ProducerRecord;
use aurum_risk::reload::RulesFile;
use aurum_risk::stream::{ALERTS_TOPIC, Alert};
use aurum_risk::{Assessment, Decision, RiskError, RuleSet, Scorer, Side, TxEvent};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::{RiskSettings, WebhookLimits};
use crate::error::ApiError;
use crate::routes::Caller;
use crate::routes::model::Id;
use crate::server::AppState;
use review::{Resolution, ResolutionAction, ReviewRecord, ReviewState, ReviewStore};

/// Metadata key marking a transfer the server made pending for review (value `held`); a released
/// review's posting transfer carries `released`, a voided one's voiding transfer `voided`.
pub const RISK_METADATA_KEY: &str = "aurum.risk";
/// Metadata key with the score of a held transfer (4 decimals).
pub const RISK_SCORE_METADATA_KEY: &str = "aurum.risk_score";
/// Batches with more transfers than this are scored on a blocking thread, not an async worker.
pub const INLINE_ASSESS_MAX_ITEMS: usize = 16;
/// Response header of a created transfer: the decision that governs it (`allow` or `hold`).
pub const DECISION_HEADER: &str = "aurum-risk-decision";
/// Response header of a created transfer: its score, 4 decimals.
pub const SCORE_HEADER: &str = "aurum-risk-score";
/// Response header of a created transfer: the rules that fired, comma-separated (absent if none).
pub const RULES_HEADER: &str = "aurum-risk-rules";

/// Nanoseconds since the Unix epoch, by the server's clock.
pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Run blocking work (KV, log, file reads) off the async workers.
pub async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::Internal(format!("blocking task: {e}")))?
}

/// What the policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionJson {
    /// Let through.
    Allow,
    /// Held as pending for review.
    Hold,
    /// Refused.
    Reject,
}

impl DecisionJson {
    /// From the policy's decision.
    pub fn of(d: Decision) -> DecisionJson {
        match d {
            Decision::Allow => DecisionJson::Allow,
            Decision::Hold => DecisionJson::Hold,
            Decision::Reject => DecisionJson::Reject,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionJson::Allow => "allow",
            DecisionJson::Hold => "hold",
            DecisionJson::Reject => "reject",
        }
    }
}

/// Whose behaviour a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RiskSideJson {
    /// The debit account.
    Sender,
    /// The credit account.
    Receiver,
}

impl RiskSideJson {
    /// From the rule's side.
    pub fn of(s: Side) -> RiskSideJson {
        match s {
            Side::Sender => RiskSideJson::Sender,
            Side::Receiver => RiskSideJson::Receiver,
        }
    }
}

/// One fired rule (or the anomaly model), explained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonView {
    /// Rule name, or `anomaly_model`.
    pub rule: String,
    /// The pattern it detects (`velocity`, `structuring`, ..., `anomaly`).
    pub pattern: String,
    /// Whose behaviour it is about.
    pub side: RiskSideJson,
    /// That account.
    pub account: Id,
    /// What it contributed to the score, in [0, 1].
    pub score: f64,
    /// Human-readable, with the feature values.
    pub text: String,
}

/// A risk assessment: score, decision, reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskView {
    /// Combined score in [0, 1] (independent evidence: 1 − Π(1 − sᵢ) over what fired).
    pub score: f64,
    /// What the policy decided.
    pub decision: DecisionJson,
    /// Fired rules in file order, then the anomaly model if it contributed.
    pub reasons: Vec<ReasonView>,
}

impl RiskView {
    /// From the scorer's assessment.
    pub fn of(a: &Assessment) -> RiskView {
        RiskView {
            score: a.score,
            decision: DecisionJson::of(a.decision),
            reasons: a
                .reasons
                .iter()
                .map(|r| ReasonView {
                    rule: r.rule.clone(),
                    pattern: r.pattern.clone(),
                    side: RiskSideJson::of(r.side),
                    account: Id(r.account),
                    score: r.score,
                    text: r.text.clone(),
                })
                .collect(),
        }
    }

    /// The response headers of a created transfer.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h =
            vec![(DECISION_HEADER, self.decision.as_str().to_string()), (SCORE_HEADER, format!("{:.4}", self.score))];
        if !self.reasons.is_empty() {
            h.push((RULES_HEADER, self.reasons.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>().join(",")));
        }
        h
    }
}

/// Where the rules came from and how they changed.
#[derive(Debug, Clone)]
pub struct RulesInfo {
    /// `built-in`, or the file's path.
    pub source: String,
    /// When the rules in force were loaded (ns since the Unix epoch).
    pub loaded_at_ns: u64,
    /// Successful reloads since the server started.
    pub reloads: u64,
    /// The last reload failure (cleared by a successful reload).
    pub last_error: Option<String>,
}

/// The risk side of the server's state.
pub struct RiskState {
    scorer: Mutex<Scorer>,
    rules_file: Option<Mutex<RulesFile>>,
    rules_info: Mutex<RulesInfo>,
    reviews: ReviewStore,
    webhook_url: Option<String>,
    webhook_limits: WebhookLimits,
    top_k: usize,
    replayed_transfers: u64,
}

impl std::fmt::Debug for RiskState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RiskState")
            .field("rules", &self.rules_info.lock().source)
            .field("reviews", &self.reviews.len())
            .field("webhook", &self.webhook_url.as_deref().map(crate::config::redact_url))
            .finish_non_exhaustive()
    }
}

impl RiskState {
    /// Load the rules, warm the scorer from the whole journal, create the alerts topic and load
    /// the review index (blocking: run it off the async workers).
    pub fn open(
        engine: &Engine,
        topics: &dyn aurum_log::Topics,
        settings: &RiskSettings,
    ) -> Result<RiskState, RiskError> {
        let (rules_file, rules, source) = match &settings.rules_file {
            None => (None, RuleSet::default_rules(), "built-in".to_string()),
            Some(path) => {
                let (file, rules) = RulesFile::load(path)?;
                (Some(Mutex::new(file)), rules, path.display().to_string())
            }
        };
        let mut scorer = Scorer::new(Arc::new(rules), settings.scorer.clone());
        let replayed_transfers = aurum_risk::stream::replay_journal(&mut scorer, &engine.journal_reader())?;
        aurum_risk::stream::ensure_alerts_topic(topics)?;
        let reviews = ReviewStore::open(engine.db())?;
        Ok(RiskState {
            scorer: Mutex::new(scorer),
            rules_file,
            rules_info: Mutex::new(RulesInfo { source, loaded_at_ns: now_ns(), reloads: 0, last_error: None }),
            reviews,
            webhook_url: settings.webhook_url.clone(),
            webhook_limits: settings.webhook,
            top_k: settings.scorer.top_k,
            replayed_transfers,
        })
    }

    /// The scorer (lock briefly: admission waits on it).
    pub fn scorer(&self) -> &Mutex<Scorer> {
        &self.scorer
    }

    /// The reviews.
    pub fn reviews(&self) -> &ReviewStore {
        &self.reviews
    }

    /// Where alerts are POSTed, with the webhook's limits.
    pub fn webhook(&self) -> Option<(&str, WebhookLimits)> {
        self.webhook_url.as_deref().map(|u| (u, self.webhook_limits))
    }

    /// Whether the rules come from a file (and so can be reloaded).
    pub fn has_rules_file(&self) -> bool {
        self.rules_file.is_some()
    }

    /// The scorer's ranking size.
    pub fn top_k(&self) -> usize {
        self.top_k
    }

    /// Transfers replayed from the journal at startup.
    pub fn replayed_transfers(&self) -> u64 {
        self.replayed_transfers
    }

    /// Where the rules came from.
    pub fn rules_info(&self) -> RulesInfo {
        self.rules_info.lock().clone()
    }

    /// Re-read the rules file now and swap the rules in (blocking). A bad file changes nothing
    /// and is `risk_rules_invalid` with the parser's message (rule and column).
    pub fn reload_rules_now(&self) -> Result<(), ApiError> {
        let Some(file) = &self.rules_file else { return Err(ApiError::RulesBuiltIn) };
        let mut watched = file.lock();
        let refused = |e: RiskError| {
            let detail = e.to_string();
            self.rules_info.lock().last_error = Some(detail.clone());
            ApiError::RulesInvalid { detail }
        };
        let (fresh, rules) = RulesFile::load(watched.path()).map_err(refused)?;
        self.scorer.lock().set_rules(Arc::new(rules)).map_err(refused)?;
        *watched = fresh;
        let mut info = self.rules_info.lock();
        info.loaded_at_ns = now_ns();
        info.reloads += 1;
        info.last_error = None;
        tracing::info!(rules = %info.source, "risk rules reloaded on request");
        Ok(())
    }

    /// One poll of the rules file (blocking): swap in new valid rules; log a bad file once and
    /// keep the rules in force.
    pub fn poll_rules_file(&self) {
        let Some(file) = &self.rules_file else { return };
        let mut watched = file.lock();
        let result = watched.reload_if_changed().and_then(|fresh| match fresh {
            None => Ok(false),
            Some(rules) => self.scorer.lock().set_rules(Arc::new(rules)).map(|()| true),
        });
        let mut info = self.rules_info.lock();
        match result {
            Ok(false) => {}
            Ok(true) => {
                info.loaded_at_ns = now_ns();
                info.reloads += 1;
                info.last_error = None;
                tracing::info!(rules = %info.source, "risk rules reloaded: the file changed");
            }
            Err(e) => {
                let message = e.to_string();
                // Unreadable files fail at every poll: say it once per distinct error.
                if info.last_error.as_deref() != Some(message.as_str()) {
                    tracing::warn!(error = %message, "risk rules file refused; the rules in force stay");
                    info.last_error = Some(message);
                }
            }
        }
    }

    /// Tell the scorer about an asset created through the API.
    pub fn register_asset(&self, id: u32, code: &str, scale: u8) {
        if let Err(e) = self.scorer.lock().register_asset(id, code, scale) {
            tracing::warn!(asset = code, error = %e, "risk scoring: asset not registered; its transfers are scored without its threshold");
        }
    }
}

/// One transfer of a create request, validated, before risk scoring.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The command as the client asked for it.
    pub command: CreateTransfer,
    /// Its asset's code.
    pub asset_code: String,
    /// Its asset's scale.
    pub scale: u8,
}

#[derive(Debug)]
enum Verdict {
    /// The ledger holds the id already: submitted as sent, for the ledger to replay or refuse.
    Existing,
    /// It has a review record: rebuilt from it, not re-scored.
    Reviewed(Box<ReviewRecord>),
    /// Scored by this request; `review` is the record written for a hold.
    Assessed { assessment: Box<Assessment>, review: Option<Box<ReviewRecord>> },
}

/// Transfers after risk scoring: what to submit, and what governs each.
#[derive(Debug)]
pub struct Admission {
    commands: Vec<Command>,
    verdicts: Vec<Verdict>,
}

impl Admission {
    /// The commands to submit (holds applied), in request order.
    pub fn commands(&self) -> &[Command] {
        &self.commands
    }

    /// The transfer command `i` (every command of an admission is a transfer).
    pub fn transfer(&self, i: usize) -> &CreateTransfer {
        match &self.commands[i] {
            Command::CreateTransfer(c) => c,
            other => unreachable!("admission of a non-transfer {other:?}"),
        }
    }
}

/// Metadata a hold adds to `metadata`: `aurum.risk`, then `aurum.risk_score`, as many as fit the
/// ledger's limit on entries (a client using nearly all of them keeps its own; the review record
/// still says the transfer is held).
fn hold_metadata(metadata: &aurum_ledger::Metadata, score: f64) -> BTreeMap<String, String> {
    let mut added = BTreeMap::new();
    let room = MAX_METADATA_ENTRIES.saturating_sub(metadata.len());
    for (k, v) in [(RISK_METADATA_KEY, "held".to_string()), (RISK_SCORE_METADATA_KEY, format!("{score:.4}"))]
        .into_iter()
        .take(room)
    {
        added.insert(k.to_string(), v);
    }
    added
}

fn assess_all(risk: &RiskState, events: &[TxEvent]) -> (Vec<Assessment>, u32, Vec<u64>) {
    let scorer = risk.scorer.lock();
    let hold_timeout_secs = scorer.rules().policy.hold_timeout_secs;
    let mut latencies_ns = Vec::with_capacity(events.len());
    let assessments = events
        .iter()
        .map(|e| {
            let start = Instant::now();
            let a = scorer.assess(e);
            latencies_ns.push(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
            a
        })
        .collect();
    (assessments, hold_timeout_secs, latencies_ns)
}

/// Append alert records to `risk.alerts` in one batch (blocking); a failure is logged, never the
/// request's: the transfer was applied or refused regardless.
async fn append_alerts(state: &AppState, records: Vec<ProducerRecord>) {
    if records.is_empty() {
        return;
    }
    let n = records.len() as u64;
    let topics = state.topics().clone();
    let appended = blocking(move || {
        topics.append(ALERTS_TOPIC, 0, &records).map_err(|e| ApiError::Internal(format!("appending alerts: {e}")))
    })
    .await;
    match appended {
        Ok(_) => state.metrics().risk().alerts(n),
        Err(e) => tracing::error!(error = %e, alerts = n, "risk alerts not appended"),
    }
}

/// Score a request's transfers and apply the policy: the transfers to submit, or the refusal.
/// `array` names the batch's array for problem pointers (`transfers`), `None` for a single
/// transfer. Holds get their review records before this returns (write-ahead).
pub async fn admit(
    state: &AppState,
    risk: &Arc<RiskState>,
    candidates: Vec<Candidate>,
    caller: &Caller,
    array: Option<&str>,
) -> Result<Admission, ApiError> {
    // 1. Transfers with a review record are rebuilt from it.
    let reviewed: Vec<usize> =
        candidates.iter().enumerate().filter(|(_, c)| risk.reviews.has(c.command.id.0)).map(|(i, _)| i).collect();
    let mut records: HashMap<usize, ReviewRecord> = HashMap::new();
    if !reviewed.is_empty() {
        let db = state.engine().db().clone();
        let ids: Vec<(usize, u128)> = reviewed.iter().map(|&i| (i, candidates[i].command.id.0)).collect();
        let found = blocking(move || {
            ids.into_iter()
                .map(|(i, id)| ReviewStore::get(&db, id).map(|r| r.map(|r| (i, r))))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
        records.extend(found.into_iter().flatten());
    }

    // 2. Score the others, by the wall clock (the ledger assigns the real timestamp).
    let now = now_ns();
    let to_assess: Vec<usize> = (0..candidates.len()).filter(|i| !records.contains_key(i)).collect();
    let events: Vec<TxEvent> = to_assess
        .iter()
        .map(|&i| TxEvent::of_command(&candidates[i].command, candidates[i].command.amount, now))
        .collect();
    let (assessments, hold_timeout_secs, latencies) = if events.len() > INLINE_ASSESS_MAX_ITEMS {
        let (risk, events) = (risk.clone(), events.clone());
        blocking(move || Ok(assess_all(&risk, &events))).await?
    } else {
        assess_all(risk, &events)
    };
    state.metrics().risk().scored(&latencies);
    let mut assessed: HashMap<usize, (TxEvent, Assessment)> =
        to_assess.into_iter().zip(events.into_iter().zip(assessments)).collect();

    // 3. A hold or a rejection of an id the ledger already holds would change a retry into a
    //    conflict (or refuse a transfer that exists): those are submitted as sent.
    let flagged: Vec<u128> = assessed
        .iter()
        .filter(|(_, (_, a))| a.decision != Decision::Allow)
        .map(|(&i, _)| candidates[i].command.id.0)
        .collect();
    let existing: HashSet<u128> = if flagged.is_empty() {
        HashSet::new()
    } else {
        state
            .read(move |l| {
                flagged
                    .into_iter()
                    .filter(|&id| l.transfer(TransferId(id)).is_some() || l.entry(TransferId(id)).is_some())
                    .collect()
            })
            .await?
    };

    // 4. The policy.
    let mut rejected: Vec<(usize, TxEvent, Assessment)> = Vec::new();
    let mut commands = Vec::with_capacity(candidates.len());
    let mut verdicts = Vec::with_capacity(candidates.len());
    let mut new_records: Vec<ReviewRecord> = Vec::new();
    for (i, candidate) in candidates.into_iter().enumerate() {
        let Candidate { mut command, asset_code, scale } = candidate;
        if let Some(record) = records.remove(&i) {
            record.rebuild(&mut command);
            commands.push(Command::CreateTransfer(command));
            verdicts.push(Verdict::Reviewed(Box::new(record)));
            continue;
        }
        let (event, a) = assessed.remove(&i).expect("every transfer without a record was assessed");
        if a.decision != Decision::Allow && existing.contains(&command.id.0) {
            commands.push(Command::CreateTransfer(command));
            verdicts.push(Verdict::Existing);
            continue;
        }
        state.metrics().risk().decision(a.decision);
        let review = match a.decision {
            Decision::Allow => None,
            Decision::Reject => {
                rejected.push((i, event, a));
                commands.push(Command::CreateTransfer(command));
                verdicts.push(Verdict::Existing); // never submitted: the request is refused below
                continue;
            }
            // A non-pending transfer with a timeout is refused by the ledger
            // (`timeout_reserved_for_pending_transfer`): holding it would hide that mistake.
            Decision::Hold if !command.flags.pending && command.timeout_secs != 0 => None,
            Decision::Hold => {
                let held_by_risk = !command.flags.pending;
                let added = if held_by_risk { hold_metadata(&command.metadata, a.score) } else { BTreeMap::new() };
                let record = ReviewRecord {
                    version: review::RECORD_VERSION,
                    transfer: Id(command.id.0),
                    debit_account: Id(command.debit_account.0),
                    credit_account: Id(command.credit_account.0),
                    asset: command.asset.0,
                    asset_code,
                    scale,
                    amount_units: command.amount.to_string(),
                    score: a.score,
                    decision: DecisionJson::Hold,
                    reasons: RiskView::of(&a).reasons,
                    held_by_risk,
                    timeout_secs: if held_by_risk { hold_timeout_secs } else { 0 },
                    added_metadata: added,
                    created_by: caller.key_id.clone(),
                    created_at_ns: now,
                    state: ReviewState::Open,
                    resolution: None,
                };
                record.rebuild(&mut command);
                new_records.push(record.clone());
                Some(Box::new(record))
            }
        };
        commands.push(Command::CreateTransfer(command));
        verdicts.push(Verdict::Assessed { assessment: Box::new(a), review });
    }

    // 5. Any rejection refuses the whole request, as a validation error of an item would.
    if let Some((first, _, a)) = rejected.first() {
        let risk_view = RiskView::of(a);
        let field = array.map(|name| format!("/{name}/{first}"));
        let alerts = rejected
            .iter()
            .filter(|(_, _, a)| a.alert)
            .map(|(_, e, a)| Alert::of(e, a, "admission").record(None))
            .collect();
        append_alerts(state, alerts).await;
        return Err(ApiError::RiskRejected { field, risk: Box::new(risk_view) });
    }

    // 6. Write-ahead: the review records exist before their transfers reach the ledger.
    if !new_records.is_empty() {
        let risk = risk.clone();
        let db = state.engine().db().clone();
        blocking(move || {
            let changes: Vec<(Option<&ReviewRecord>, &ReviewRecord)> = new_records.iter().map(|r| (None, r)).collect();
            risk.reviews.write(&db, &changes)
        })
        .await?;
    }
    Ok(Admission { commands, verdicts })
}

/// The alert of a held transfer applied on a retry (its first submission never reached the
/// ledger): the stored assessment, at the ledger's timestamp.
fn alert_of_record(record: &ReviewRecord, e: &TxEvent) -> Alert {
    Alert {
        transfer: e.id.to_string(),
        debit_account: e.debit.to_string(),
        credit_account: e.credit.to_string(),
        asset: e.asset,
        amount_units: e.amount.to_string(),
        timestamp_ns: e.ts_ns,
        score: record.score,
        decision: record.decision.as_str().to_string(),
        source: "admission".to_string(),
        reasons: record
            .reasons
            .iter()
            .map(|r| aurum_risk::stream::AlertReason {
                rule: r.rule.clone(),
                pattern: r.pattern.clone(),
                side: match r.side {
                    RiskSideJson::Sender => "sender".to_string(),
                    RiskSideJson::Receiver => "receiver".to_string(),
                },
                account: r.account.0.to_string(),
                score: r.score,
                text: r.text.clone(),
            })
            .collect(),
    }
}

/// Close the open reviews of transfers the ledger refused: `failed` (a retry rebuilds the same
/// command and gets the same refusal), or deleted when the id turned out to belong to another
/// transfer (`id_exists_with_different_fields`: that transfer's retries must not be rebuilt).
async fn close_refused(state: &AppState, risk: &Arc<RiskState>, refused: Vec<(u128, ResultCode)>) {
    let (writer, db) = (risk.clone(), state.engine().db().clone());
    let _guard = risk.reviews.lock().await;
    let closed = blocking(move || {
        let at_ns = now_ns();
        let mut failed = Vec::new();
        let mut foreign = Vec::new();
        for (id, code) in refused {
            // The stored record, not an admission's copy: only an open review is closed.
            let Some(current) = ReviewStore::get(&db, id)?.filter(|c| c.state == ReviewState::Open) else { continue };
            if code == ResultCode::IdExistsWithDifferentFields {
                foreign.push(current);
                continue;
            }
            let resolution = Resolution {
                action: ResolutionAction::Ledger,
                transfer: None,
                by: None,
                at_ns,
                note: None,
                result: Some(code.as_str().to_string()),
            };
            let after = current.closed(ReviewState::Failed, resolution);
            failed.push((current, after));
        }
        let changes: Vec<(Option<&ReviewRecord>, &ReviewRecord)> = failed.iter().map(|(b, a)| (Some(b), a)).collect();
        writer.reviews.write(&db, &changes)?;
        writer.reviews.delete(&db, &foreign)
    })
    .await;
    if let Err(e) = closed {
        tracing::error!(error = %e, "closing the reviews of refused transfers");
    }
}

/// After the ledger answered: learn from what it applied, alert, close the reviews of transfers
/// it refused; returns the risk view of each transfer for the response.
pub async fn after_apply(
    state: &AppState,
    risk: &Arc<RiskState>,
    admission: &Admission,
    outcomes: &[Outcome],
) -> Vec<Option<RiskView>> {
    debug_assert_eq!(admission.commands.len(), outcomes.len());
    let mut alerts = Vec::new();
    let mut refused = Vec::new();
    {
        let mut scorer = risk.scorer.lock();
        for ((command, verdict), outcome) in admission.commands.iter().zip(&admission.verdicts).zip(outcomes) {
            let fresh_refusal = !outcome.code.is_ok() && !outcome.replayed;
            match verdict {
                Verdict::Existing => {}
                Verdict::Assessed { assessment, review } => {
                    if let Some(e) = TxEvent::of_applied(command, outcome) {
                        scorer.observe(&e, Some(assessment));
                        if assessment.alert {
                            alerts.push(Alert::of(&e, assessment, "admission").record(None));
                        }
                    }
                    if let Some(r) = review.as_ref().filter(|_| fresh_refusal) {
                        refused.push((r.transfer.0, outcome.code));
                    }
                }
                // Usually a replay. Applied fresh only when the first submission of a held
                // transfer never reached the ledger (an overloaded queue, a stop): learn now.
                Verdict::Reviewed(record) => {
                    if let Some(e) = TxEvent::of_applied(command, outcome) {
                        scorer.observe(&e, None);
                        if record.score >= scorer.rules().policy.alert_at {
                            alerts.push(alert_of_record(record, &e).record(None));
                        }
                    }
                    if fresh_refusal && record.state == ReviewState::Open {
                        refused.push((record.transfer.0, outcome.code));
                    }
                }
            }
        }
    }
    append_alerts(state, alerts).await;
    if !refused.is_empty() {
        close_refused(state, risk, refused).await;
    }
    admission
        .verdicts
        .iter()
        .zip(outcomes)
        .map(|(v, o)| match v {
            Verdict::Existing => None,
            Verdict::Reviewed(r) => Some(r.risk_view()),
            Verdict::Assessed { .. } if o.replayed => None,
            Verdict::Assessed { assessment, .. } => Some(RiskView::of(assessment)),
        })
        .collect()
}
