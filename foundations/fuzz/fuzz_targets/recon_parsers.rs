//! Fuzz the reconciliation's parsers of outside files: bar lists (CSV or JSON), statements (CSV with
//! exact decimals) and matching rules (TOML). Bad input is an error, never a panic.
#![no_main]
use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aurum_recon::barlist::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let scales: BTreeMap<String, u8> =
            [("USD".to_string(), 2), ("XAU".to_string(), 3), ("WEI".to_string(), 18)].into_iter().collect();
        let _ = aurum_recon::matching::load_items_csv(text, &scales);
        let _ = aurum_recon::matching::Rules::from_toml(text);
    }
});
