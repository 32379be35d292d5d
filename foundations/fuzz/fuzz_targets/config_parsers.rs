//! Fuzz the parsers of operators' configuration files: data-quality checks (`quality.toml`), risk
//! rules (`rules.toml`) and the risk rules' condition expressions. A bad file is an error naming
//! what is wrong, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = aurum_quality::parse(text);
    let _ = aurum_risk::rules::RuleSet::parse(text, "fuzz");
    let _ = aurum_risk::expr::parse(text);
});
