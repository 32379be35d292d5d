//! The parsers of outside files — bar lists, statements, matching rules — on mutated inputs: an error or a
//! value, never a panic. A seeded smoke of what `foundations/fuzz` (target `recon_parsers`) fuzzes, from
//! the same seed files, so every CI run covers it.

use std::collections::BTreeMap;

use aurum_recon::barlist;
use aurum_recon::matching::{Rules, load_items_csv};
use aurum_vfs::rng::SplitMix64;

const SEEDS: [&str; 4] = [
    include_str!("../../../foundations/fuzz/seeds/recon_parsers/statement.csv"),
    include_str!("../../../foundations/fuzz/seeds/recon_parsers/barlist.csv"),
    include_str!("../../../foundations/fuzz/seeds/recon_parsers/barlist.json"),
    include_str!("../../../foundations/fuzz/seeds/recon_parsers/rules.toml"),
];
/// Mutated inputs per seed.
const ROUNDS: usize = 3000;
/// Bytes that matter to the formats: separators, quotes, signs, digits, brackets.
const INTERESTING: &[u8] = b",\"\n\r=.-+0123456789{}[]:#eE \t\\\xff";

fn parse_all(bytes: &[u8], scales: &BTreeMap<String, u8>) -> usize {
    let mut parsed = usize::from(barlist::parse(bytes).is_ok());
    if let Ok(text) = std::str::from_utf8(bytes) {
        parsed += usize::from(load_items_csv(text, scales).is_ok());
        parsed += usize::from(Rules::from_toml(text).is_ok());
    }
    parsed
}

fn mutate(rng: &mut SplitMix64, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..rng.range_inclusive(1, 4) {
        let at = rng.below(b.len() as u64 + 1) as usize;
        match rng.below(5) {
            0 if at < b.len() => b[at] = INTERESTING[rng.below(INTERESTING.len() as u64) as usize],
            1 if at < b.len() => b[at] ^= 1 << rng.below(8),
            2 => b.insert(at, INTERESTING[rng.below(INTERESTING.len() as u64) as usize]),
            3 => b.truncate(at),
            _ if at < b.len() => {
                // Repeat a slice: duplicated lines, fields, keys.
                let end = (at + rng.range_inclusive(1, 40) as usize).min(b.len());
                let copy = b[at..end].to_vec();
                b.splice(at..at, copy);
            }
            _ => {}
        }
    }
    b
}

#[test]
fn mutated_bar_lists_statements_and_rules_never_panic_the_parsers() {
    let scales: BTreeMap<String, u8> =
        [("USD".to_string(), 2), ("XAU".to_string(), 3), ("WEI".to_string(), 18)].into_iter().collect();
    for (i, seed) in SEEDS.iter().enumerate() {
        assert!(parse_all(seed.as_bytes(), &scales) >= 1, "seed {i} parses as what it is");
        let mut rng = SplitMix64::new(0x5eed + i as u64);
        let mut accepted = 0;
        for _ in 0..ROUNDS {
            accepted += parse_all(&mutate(&mut rng, seed.as_bytes()), &scales);
        }
        // Mutations keep some inputs valid and break most: both paths are exercised.
        assert!(accepted > 0 && accepted < ROUNDS, "seed {i}: {accepted} of {ROUNDS} mutated inputs accepted");
    }
}
