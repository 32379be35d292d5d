//! The scorer: per-account profiles + rules + anomaly model -> a score in [0, 1] with reasons.
//!
//! [`Scorer::assess`] is read-only: it computes the features of a transfer against the profiles
//! as they are, evaluates the rules and the model, and decides. [`Scorer::observe`] learns from a
//! transfer the ledger applied: profiles, model, ranking and drift. Admission scoring assesses
//! before the ledger sees a transfer and observes after it was applied; the journal stream does
//! both for each applied transfer ([`Scorer::process`]). Same input, same order: same scores —
//! nothing depends on wall time or unseeded randomness.

use std::collections::HashMap;
use std::sync::Arc;

use aurum_ledger::decimal::parse_amount;
use aurum_stats::{ForwardDecay, TopK};

use crate::drift::{DriftConfig, DriftMonitor};
use crate::error::RiskError;
use crate::event::TxEvent;
use crate::features::{Feature, FeatureVector};
use crate::hst::{self, HalfSpaceTrees, HstConfig, ModelScore};
use crate::profile::{self, AssetParams, Profile};
use crate::rules::{Decision, RuleSet, Side};

/// Scorer settings that are not in the rules file (they shape state, so they do not hot-reload).
#[derive(Debug, Clone)]
pub struct ScorerConfig {
    /// The anomaly model.
    pub model: HstConfig,
    /// Accounts kept in the riskiest-accounts ranking.
    pub top_k: usize,
    /// Half-life of an account's accumulated risk in the ranking.
    pub risk_half_life_ns: u64,
    /// Most account profiles kept; transfers of accounts beyond it are scored against empty
    /// profiles (counted in [`ScorerStats::untracked_accounts`]) so memory stays bounded.
    pub max_profiles: usize,
    /// Feature drift monitoring.
    pub drift: DriftConfig,
}

impl Default for ScorerConfig {
    fn default() -> Self {
        ScorerConfig {
            model: HstConfig::default(),
            top_k: 100,
            risk_half_life_ns: 24 * 3600 * 1_000_000_000,
            max_profiles: 5_000_000,
            drift: DriftConfig::default(),
        }
    }
}

/// One fired rule (or the model), explained.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    /// Rule name, or `anomaly_model`.
    pub rule: String,
    /// The pattern it detects (`anomaly` for the model).
    pub pattern: String,
    /// Whose behaviour it is about.
    pub side: Side,
    /// That account.
    pub account: u128,
    /// What it contributed (the rule's score, or the model's contribution).
    pub score: f64,
    /// Human-readable, with the feature values.
    pub text: String,
}

/// The scorer's verdict on one transfer.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The transfer.
    pub transfer: u128,
    /// Combined score in [0, 1].
    pub score: f64,
    /// What the policy decides.
    pub decision: Decision,
    /// Whether the score reaches the alert threshold.
    pub alert: bool,
    /// Fired rules (in file order), then the model if it contributed.
    pub reasons: Vec<Reason>,
    /// The features the decision was made on.
    pub features: FeatureVector,
    /// The model's verdict (kept so that observing does not walk the trees again).
    pub model: ModelScore,
}

impl Assessment {
    /// Does any reason belong to `pattern`?
    pub fn has_pattern(&self, pattern: &str) -> bool {
        self.reasons.iter().any(|r| r.pattern == pattern)
    }
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScorerStats {
    /// Transfers observed.
    pub observed: u64,
    /// Profiles held.
    pub profiles: usize,
    /// Observed transfers whose accounts could not get a profile (the profile limit was reached).
    pub untracked_accounts: u64,
    /// Observed transfers of an asset the scorer was not told about (scored with scale 0 and no
    /// structuring threshold).
    pub unknown_asset_events: u64,
}

/// The scorer.
#[derive(Debug)]
pub struct Scorer {
    rules: Arc<RuleSet>,
    config: ScorerConfig,
    asset_codes: HashMap<u32, (String, u8)>,
    assets: HashMap<u32, AssetParams>,
    profiles: HashMap<u128, Profile>,
    model: HalfSpaceTrees,
    top: TopK<u128>,
    decay: ForwardDecay,
    drift: DriftMonitor,
    stats: ScorerStats,
    /// Stands in for accounts without a profile.
    empty: Profile,
}

/// 1 − Π(1 − sᵢ): independent pieces of evidence combined, never above 1.
fn combine(acc: f64, s: f64) -> f64 {
    1.0 - (1.0 - acc) * (1.0 - s)
}

impl Scorer {
    /// A scorer with no history.
    pub fn new(rules: Arc<RuleSet>, config: ScorerConfig) -> Scorer {
        Scorer {
            model: HalfSpaceTrees::new(config.model),
            top: TopK::new(config.top_k),
            decay: ForwardDecay::new(config.risk_half_life_ns),
            drift: DriftMonitor::new(config.drift.clone()),
            rules,
            config,
            asset_codes: HashMap::new(),
            assets: HashMap::new(),
            profiles: HashMap::new(),
            stats: ScorerStats::default(),
            empty: Profile::default(),
        }
    }

    fn resolve(rules: &RuleSet, code: &str, scale: u8) -> Result<AssetParams, RiskError> {
        let structuring = match rules.thresholds.get(code) {
            None => None,
            Some(text) => {
                let threshold = parse_amount(text, scale).map_err(|e| RiskError::Threshold {
                    asset: code.to_string(),
                    message: format!("{text:?} at scale {scale}: {e}"),
                })?;
                // low = threshold × (1 − band): exact, rounded up so "just under" never widens.
                let keep = u128::from(10_000 - rules.structuring_band_bps);
                let low = threshold.checked_mul(keep).map(|v| v.div_ceil(10_000)).ok_or_else(|| {
                    RiskError::Threshold { asset: code.to_string(), message: "threshold too large".into() }
                })?;
                Some((low, threshold))
            }
        };
        Ok(AssetParams { scale, structuring })
    }

    /// Tell the scorer about an asset (its code names thresholds and rule filters; its scale
    /// turns base units into major units).
    pub fn register_asset(&mut self, id: u32, code: &str, scale: u8) -> Result<(), RiskError> {
        let params = Scorer::resolve(&self.rules, code, scale)?;
        self.asset_codes.insert(id, (code.to_string(), scale));
        self.assets.insert(id, params);
        Ok(())
    }

    /// Swap in new rules (hot reload). The profiles, model and ranking are kept. Fails — and
    /// keeps the old rules — if a threshold does not fit an asset's scale.
    pub fn set_rules(&mut self, rules: Arc<RuleSet>) -> Result<(), RiskError> {
        let mut assets = HashMap::new();
        for (id, (code, scale)) in &self.asset_codes {
            assets.insert(*id, Scorer::resolve(&rules, code, *scale)?);
        }
        self.assets = assets;
        self.rules = rules;
        Ok(())
    }

    /// The rules in force.
    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    fn asset(&self, id: u32) -> (AssetParams, Option<&str>) {
        match self.assets.get(&id) {
            Some(p) => (*p, self.asset_codes.get(&id).map(|(c, _)| c.as_str())),
            None => (AssetParams { scale: 0, structuring: None }, None),
        }
    }

    /// Score a transfer against the current state, without learning from it.
    pub fn assess(&self, e: &TxEvent) -> Assessment {
        let features = self.features(e);
        let model = self.model.assess(&hst::inputs(&features));
        self.decide(e, features, model)
    }

    /// The features of `e` against the current profiles (model score not yet filled in).
    fn features(&self, e: &TxEvent) -> FeatureVector {
        let (params, _) = self.asset(e.asset);
        let sender = self.profiles.get(&e.debit).unwrap_or(&self.empty);
        let receiver = self.profiles.get(&e.credit).unwrap_or(&self.empty);
        profile::compute(sender, receiver, e, &params)
    }

    /// Rules, model contribution and policy, given the features and the model's verdict.
    fn decide(&self, e: &TxEvent, mut features: FeatureVector, model: ModelScore) -> Assessment {
        let (_, code) = self.asset(e.asset);
        let model_score = model.score;
        features.set(Feature::ModelScore, model_score);
        let rules = &self.rules;
        let mut score = 0.0;
        let mut reasons = Vec::new();
        let sender_exempt = rules.exempt.contains(&e.debit);
        let receiver_exempt = rules.exempt.contains(&e.credit);
        for rule in &rules.rules {
            if rule.asset.as_deref().is_some_and(|a| Some(a) != code) {
                continue;
            }
            let exempt = match rule.side {
                Side::Sender => sender_exempt,
                Side::Receiver => receiver_exempt,
            };
            if exempt {
                continue;
            }
            if rule.condition.eval(&features) {
                score = combine(score, rule.score);
                reasons.push(Reason {
                    rule: rule.name.clone(),
                    pattern: rule.pattern.clone(),
                    side: rule.side,
                    account: if rule.side == Side::Sender { e.debit } else { e.credit },
                    score: rule.score,
                    text: rule.reason(&features),
                });
            }
        }
        let contribution = if sender_exempt { 0.0 } else { rules.model.contribution(model_score) };
        if contribution > 0.0 {
            score = combine(score, contribution);
            reasons.push(Reason {
                rule: "anomaly_model".into(),
                pattern: "anomaly".into(),
                side: Side::Sender,
                account: e.debit,
                score: contribution,
                text: format!(
                    "unusual combination of features: rarer than {:.1} % of recent traffic",
                    model_score * 100.0
                ),
            });
        }
        debug_assert!((0.0..=1.0).contains(&score), "score {score} out of [0, 1]");
        Assessment {
            transfer: e.id,
            score,
            decision: rules.policy.decide(score),
            alert: score >= rules.policy.alert_at,
            reasons,
            features,
            model,
        }
    }

    /// Learn from a transfer the ledger applied. `assessed` is its assessment if there was one
    /// (its features feed the model and drift; its reasons the ranking); without one, the transfer
    /// is assessed first.
    pub fn observe(&mut self, e: &TxEvent, assessed: Option<&Assessment>) {
        let fresh;
        let a = match assessed {
            Some(a) => a,
            None => {
                fresh = self.assess(e);
                &fresh
            }
        };
        // The assessment's model verdict is only reusable if the features are its own.
        self.model.learn(&hst::inputs(&a.features), (a.transfer == e.id).then_some(a.model));
        self.learn_rest(e, a);
    }

    /// Everything [`Scorer::observe`] learns except the model.
    fn learn_rest(&mut self, e: &TxEvent, a: &Assessment) {
        let (params, code) = self.asset(e.asset);
        if code.is_none() {
            self.stats.unknown_asset_events += 1;
        }
        self.drift.observe(&a.features);
        self.stats.observed += 1;

        if e.debit != e.credit && self.ensure_profile(e.debit) && self.ensure_profile(e.credit) {
            if let [Some(s), Some(r)] = self.profiles.get_disjoint_mut([&e.debit, &e.credit]) {
                profile::observe(s, r, e, &params);
            }
        } else {
            self.stats.untracked_accounts += 1;
        }
        for reason in &a.reasons {
            if let Some(p) = self.profiles.get_mut(&reason.account) {
                p.risk.add(&self.decay, reason.score, e.ts_ns);
                self.top.offer(reason.account, p.risk.rank_key());
            }
        }
    }

    fn ensure_profile(&mut self, account: u128) -> bool {
        if self.profiles.contains_key(&account) {
            return true;
        }
        if self.profiles.len() >= self.config.max_profiles {
            return false;
        }
        self.profiles.insert(account, Profile::default());
        true
    }

    /// Assess, then observe: the journal stream's step for an applied transfer.
    /// Identical to `assess` then `observe`, with one walk of the model's trees instead of two.
    pub fn process(&mut self, e: &TxEvent) -> Assessment {
        let features = self.features(e);
        let score = self.model.score_and_learn(&hst::inputs(&features));
        let a = self.decide(e, features, ModelScore::learned(score));
        self.learn_rest(e, &a);
        a
    }

    /// The riskiest accounts: (account, accumulated risk decayed to `now_ns`), highest first.
    pub fn top(&self, k: usize, now_ns: u64) -> Vec<(u128, f64)> {
        self.top
            .sorted()
            .into_iter()
            .take(k)
            .map(|(account, _)| {
                let v = self.profiles.get(&account).map_or(0.0, |p| p.risk.value_at(&self.decay, now_ns));
                (account, v)
            })
            .collect()
    }

    /// Feature drift.
    pub fn drift(&self) -> &DriftMonitor {
        &self.drift
    }

    /// Counters.
    pub fn stats(&self) -> ScorerStats {
        ScorerStats { profiles: self.profiles.len(), ..self.stats }
    }
}
