//! The feature vector of one transfer: what the rules and the anomaly model see.
//!
//! Every feature is named (the rules file refers to features by name) and is a plain `f64`:
//! features are evidence for a score, never money. Amount-valued features are in the asset's
//! major units (`amount / 10^scale`); money itself stays in integer base units in [`crate::TxEvent`].
//! "Sender" is the debit account, "receiver" the credit account.

/// Declares the feature list once: the enum, its names and its documentation table.
macro_rules! features {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// One named feature.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(usize)]
        pub enum Feature {
            $(#[doc = $doc] $variant,)*
        }

        impl Feature {
            /// Every feature, in vector order.
            pub const ALL: &'static [Feature] = &[$(Feature::$variant,)*];

            /// The name used in rules files and reasons.
            pub fn name(self) -> &'static str {
                match self {
                    $(Feature::$variant => $name,)*
                }
            }

            /// What the feature measures.
            pub fn doc(self) -> &'static str {
                match self {
                    $(Feature::$variant => $doc,)*
                }
            }
        }
    };
}

features! {
    Amount => "amount", "The transfer amount in the asset's major units.";
    AmountRatio => "amount_ratio", "Amount divided by the median of the sender's recent outflows (0 without history).";
    AmountVsMax => "amount_vs_max", "Amount divided by the largest of the sender's recent outflows (0 without history): above 1 means a new record.";
    AmountZ => "amount_z", "Robust z-score of ln(amount) against the sender's recent outflows: (x - median) / (1.4826 MAD); 0 with fewer than the profile minimum.";
    OutCount1m => "out_count_1m", "Sender's outflows in the last minute, this one included.";
    OutCount10m => "out_count_10m", "Sender's outflows in the last 10 minutes, this one included.";
    OutCount1h => "out_count_1h", "Sender's outflows in the last hour, this one included.";
    OutCount24h => "out_count_24h", "Sender's outflows in the last 24 hours, this one included.";
    OutVsPeak1h => "out_1h_vs_peak", "Sender's outflows in the last hour divided by the most it had in any clock hour that ended over an hour ago (at least 1): velocity against its own history.";
    OutSum1h => "out_sum_1h", "Sum of the sender's outflows in the last hour (major units), this one included.";
    HistoryCount => "history_count", "Sender's outflows before this one (lifetime).";
    NewCounterparty => "new_counterparty", "1 if the sender never transacted with the receiver before, else 0.";
    FanOut1h => "fan_out_1h", "Distinct receivers paid by the sender in the last hour, this one included.";
    NewCounterparties1h => "new_counterparties_1h", "First-seen receivers paid by the sender in the last hour, this one included.";
    NearThreshold => "near_threshold", "1 if the amount is within the structuring band just under the asset's reporting threshold.";
    NearThreshold24h => "near_threshold_24h", "Sender's outflows in the band under the reporting threshold in the last 24 hours, this one included.";
    Inflow10m => "inflow_10m", "Sum of the sender's inflows in the last 10 minutes (major units).";
    PassThrough => "pass_through", "Sender's outflows in the last 10 minutes (this one included) divided by its inflows in that time; 0 without inflows.";
    DormantDays => "dormant_days", "Days since the sender's previous activity in either direction (0 for a first transfer).";
    HourShare => "hour_share", "Share of the sender's past activity in this hour of the day (UTC); 1 while the profile is too young to judge.";
    AccountAgeDays => "account_age_days", "Days since the sender's first activity.";
    InCount1h => "in_count_1h", "Receiver's inflows in the last hour, this one included.";
    FanIn1h => "fan_in_1h", "Distinct senders to the receiver in the last hour, this one included.";
    NewSenders1h => "new_senders_1h", "First-seen senders to the receiver in the last hour, this one included.";
    ReceiverInPerDay => "receiver_in_per_day", "Receiver's inflows older than one hour per day of its age (its normal inbound rate).";
    ReceiverHistoryCount => "receiver_history_count", "Receiver's events (in and out) before this one.";
    ModelScore => "model_score", "The online anomaly model's score in [0, 1] (Half-Space Trees).";
}

/// Number of features.
pub const FEATURE_COUNT: usize = Feature::ALL.len();

impl Feature {
    /// The feature with this name.
    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.iter().copied().find(|f| f.name() == name)
    }
}

/// The features of one transfer, indexed by [`Feature`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureVector(pub [f64; FEATURE_COUNT]);

impl Default for FeatureVector {
    fn default() -> Self {
        FeatureVector([0.0; FEATURE_COUNT])
    }
}

impl FeatureVector {
    /// One feature's value.
    pub fn get(&self, f: Feature) -> f64 {
        self.0[f as usize]
    }

    /// Set one feature.
    pub fn set(&mut self, f: Feature, v: f64) {
        debug_assert!(v.is_finite(), "feature {} is not finite: {v}", f.name());
        self.0[f as usize] = v;
    }

    /// (name, value) pairs, for JSON output.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        Feature::ALL.iter().map(|f| (f.name(), self.get(*f)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for (i, f) in Feature::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
            assert_eq!(Feature::from_name(f.name()), Some(*f));
        }
        let mut names: Vec<_> = Feature::ALL.iter().map(|f| f.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FEATURE_COUNT);
    }
}
