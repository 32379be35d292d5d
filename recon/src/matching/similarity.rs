//! Description similarity as an integer per-mille score: the Sørensen–Dice coefficient of the two texts' word
//! bigram multisets. Dice over bigrams forgives word order ("ACME Corp payment" ~ "Payment ACME CORP") and small
//! typos, which is how bank and ledger descriptions differ; integers keep it exact and deterministic.

/// Characters of a description considered (the rest is ignored): bounds the cost of one comparison.
pub const MAX_SIMILARITY_CHARS: usize = 256;

/// The sorted bigram multiset of a description: ASCII letters lower-cased, any run of non-alphanumerics a word
/// break, bigrams taken inside words (a one-letter word counts as one unit), each packed in a u64.
pub(crate) fn bigrams(text: &str) -> Box<[u64]> {
    let mut out = Vec::new();
    let mut prev: Option<char> = None;
    let mut word_len = 0usize;
    let flush = |prev: Option<char>, word_len: usize, out: &mut Vec<u64>| {
        if word_len == 1
            && let Some(c) = prev
        {
            out.push(u64::from(u32::from(c)) << 32);
        }
    };
    for c in text.chars().take(MAX_SIMILARITY_CHARS) {
        if c.is_alphanumeric() {
            let c = c.to_ascii_lowercase();
            if let Some(p) = prev.filter(|_| word_len > 0) {
                out.push((u64::from(u32::from(p)) << 32) | u64::from(u32::from(c)));
            }
            prev = Some(c);
            word_len += 1;
        } else {
            flush(prev, word_len, &mut out);
            word_len = 0;
            prev = None;
        }
    }
    flush(prev, word_len, &mut out);
    out.sort_unstable();
    out.into_boxed_slice()
}

/// Dice similarity of two sorted bigram multisets, per mille (floor): 2·|A∩B|·1000 / (|A|+|B|). Two empty
/// texts are identical (1000); one empty text shares nothing (0).
pub(crate) fn dice_permille(a: &[u64], b: &[u64]) -> u16 {
    if a.is_empty() && b.is_empty() {
        return 1000;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    // ≤ 1000 because common ≤ min(|A|, |B|); the sizes are bounded by MAX_SIMILARITY_CHARS, so no overflow.
    (2 * common * 1000 / (a.len() + b.len())) as u16
}

/// The similarity of two descriptions, 0..=1000 per mille (see the module documentation).
pub fn similarity_permille(a: &str, b: &str) -> u16 {
    dice_permille(&bigrams(a), &bigrams(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_symmetric_bounded_and_forgive_order_and_case() {
        assert_eq!(similarity_permille("ACME Corp payment", "payment, acme CORP"), 1000);
        assert_eq!(similarity_permille("", ""), 1000);
        assert_eq!(similarity_permille("abc", ""), 0);
        assert_eq!(similarity_permille("night", "nacht"), 250); // {ni,ig,gh,ht} vs {na,ac,ch,ht}: 2·1/8
        let (a, b) = ("Wire transfer ACME Ltd inv 42", "ACME Limited wire inv 42");
        assert_eq!(similarity_permille(a, b), similarity_permille(b, a));
        assert!(similarity_permille(a, b) > 500 && similarity_permille(a, b) < 1000);
        assert_eq!(similarity_permille("a b", "b a"), 1000);
    }
}
