//! Rule tuning aid: scores a synthetic stream (seed from argv, default the tuning seed 1), prints
//! the false flags grouped by (pattern, sender range, receiver range) with examples, then the
//! per-pattern figures. `cargo run --release -p aurum-risk --example tune -- 1`
use aurum_risk::{RuleSet, ScorerConfig, eval, synth};
use std::sync::Arc;
fn main() {
    let seed: u64 = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(1);
    let t = std::time::Instant::now();
    let data = synth::generate(&synth::SynthConfig { seed, ..Default::default() });
    println!("generated {} events in {:.2}s", data.events.len(), t.elapsed().as_secs_f64());
    {
        let mut scorer = aurum_risk::Scorer::new(Arc::new(RuleSet::default_rules()), ScorerConfig::default());
        scorer.register_asset(1, "USD", 2).unwrap();
        let mut fp: std::collections::BTreeMap<(String, u128, u128), (u32, Vec<String>)> = Default::default();
        for l in &data.events {
            let a = scorer.process(&l.event);
            if l.event.ts_ns < data.warmup_end_ns {
                continue;
            }
            for r in &a.reasons {
                if l.label.map(|x| x.pattern.name()) != Some(r.pattern.as_str()) {
                    let k = (r.pattern.clone(), l.event.debit / 1_000_000, l.event.credit / 1_000_000);
                    let e = fp.entry(k).or_default();
                    e.0 += 1;
                    if e.1.len() < 2 {
                        e.1.push(format!("{} [{}]", r.text, l.label.map(|x| x.pattern.name()).unwrap_or("-")));
                    }
                }
            }
        }
        for (k, v) in &fp {
            println!("FP {:?} {} e.g. {:?}", k, v.0, v.1);
        }
    }
    let e = eval::evaluate(&data, Arc::new(RuleSet::default_rules()), ScorerConfig::default());
    for p in &e.patterns {
        println!(
            "{:18} inc {:3} det {:3} flagged {:6} true {:6} P {:.3} R {:.3} F1 {:.3}",
            p.pattern.name(),
            p.incidents,
            p.detected,
            p.flagged,
            p.true_flagged,
            p.precision,
            p.recall,
            p.f1
        );
    }
    println!(
        "scored {} normal {} false alerts {} ({:.4}%) in {:.2}s = {:.0} ev/s",
        e.scored,
        e.normal,
        e.false_alerts,
        100.0 * e.false_alerts as f64 / e.normal as f64,
        e.seconds,
        data.events.len() as f64 / e.seconds
    );
    let sp = aurum_risk::bench::speed(&data, Arc::new(RuleSet::default_rules()), &ScorerConfig::default());
    println!("{sp:?}");
}
