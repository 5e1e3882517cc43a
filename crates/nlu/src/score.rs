//! Scoring: the three signals of one clause combined into a ranked list of
//! intents with a confidence in 0..1.
//!
//! score = keywords + patterns + W_EXAMPLE × best example similarity, per intent,
//! zeroed by a negative phrase. Confidence grows with the best score's strength
//! and with its lead over the runner-up, so "unsure" and "torn between two" both
//! come out low, and the caller can answer `none` or escalate.

/// Weight of the nearest example's similarity (0..1) against keyword weights.
pub const W_EXAMPLE: f32 = 2.0;
/// A pattern match counts as much as a long keyword.
pub const W_PATTERN: f32 = 1.0;
/// Keyword evidence of one intent in one clause is capped: ten weak words do not
/// make a certainty.
pub const KEYWORD_CAP: f32 = 2.5;
/// Score at which strength reaches 1 − 1/e.
const SCALE: f32 = 1.3;

/// The signals of one intent in one clause.
#[derive(Debug, Clone, Copy, Default)]
pub struct Signals {
    /// Sum of keyword and hint weights.
    pub keywords: f32,
    /// Number of matching patterns.
    pub patterns: u32,
    /// Similarity (0..1) of the nearest example of this intent.
    pub example: f32,
    /// Vetoed by a negative phrase.
    pub vetoed: bool,
}

impl Signals {
    /// The combined score.
    pub fn score(&self) -> f32 {
        if self.vetoed {
            return 0.0;
        }
        let pat = if self.patterns > 0 {
            W_PATTERN + 0.25 * (self.patterns - 1) as f32
        } else {
            0.0
        };
        self.keywords.min(KEYWORD_CAP) + pat + W_EXAMPLE * self.example
    }
}

/// Confidence of the best of a ranking, from its score and the runner-up's.
pub fn confidence(best: f32, second: f32) -> f32 {
    if best <= 0.0 {
        return 0.0;
    }
    let strength = 1.0 - (-best / SCALE).exp();
    let lead = (best - second.max(0.0)) / best; // 0 when tied, 1 when alone
    strength * (0.35 + 0.65 * lead)
}

/// Cosine similarity of two sorted, deduplicated token-hash lists.
pub fn cosine(a: &[u64], b: &[u64]) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    // Branch-free merge: which list moves is data, not a jump the processor
    // must guess (this runs for every retrieved example of every clause).
    // The loop's own test reads the two heads, so they are not checked again.
    while let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
        common += (x == y) as usize;
        i += (x <= y) as usize;
        j += (y <= x) as usize;
    }
    common as f32 / ((a.len() * b.len()) as f32).sqrt()
}

/// Whether a reading's intents are the labelled ones, by the eval scorer's
/// rule (`../shared/eval/score.py`): greeting and closing are ignored in the
/// reading when the label holds anything else, and nothing read is `none`.
/// For the tools that study the NLU alone (`examples/`).
pub fn same_intents<S: AsRef<str>>(got: &[&str], gold: &[S]) -> bool {
    let polite = |i: &str| i == "greeting" || i == "closing";
    let gold: std::collections::BTreeSet<&str> = gold.iter().map(AsRef::as_ref).collect();
    let real_gold = gold.iter().any(|g| !polite(g));
    let mut read: std::collections::BTreeSet<&str> = got
        .iter()
        .copied()
        .filter(|i| !(real_gold && polite(i)))
        .collect();
    if read.is_empty() {
        read.insert("none");
    }
    read == gold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_rises_with_strength_and_lead() {
        assert_eq!(confidence(0.0, 0.0), 0.0);
        assert!(confidence(3.0, 0.0) > confidence(1.0, 0.0));
        assert!(confidence(3.0, 0.0) > confidence(3.0, 2.5));
        assert!(confidence(10.0, 0.0) <= 1.0);
    }

    #[test]
    fn veto_zeroes() {
        let s = Signals {
            keywords: 2.0,
            patterns: 1,
            example: 0.9,
            vetoed: true,
        };
        assert_eq!(s.score(), 0.0);
    }

    #[test]
    fn same_intents_follows_the_scorer() {
        // (read, labelled, the same by the scorer's rule)
        let rows: &[(&[&str], &[&str], bool)] = &[
            (&["stock"], &["stock"], true),
            (&["stock", "greeting"], &["stock"], true),
            (&["closing"], &["closing"], true),
            (&[], &["none"], true),
            (&["closing"], &["none"], true),
            (&["closing"], &["stock"], false),
            (&["stock"], &["stock", "courier"], false),
        ];
        for (got, gold, want) in rows {
            assert_eq!(same_intents(got, gold), *want, "{got:?} {gold:?}");
        }
    }

    #[test]
    fn cosine_bounds() {
        assert_eq!(cosine(&[1, 2, 3], &[1, 2, 3]), 1.0);
        assert_eq!(cosine(&[1, 2], &[3, 4]), 0.0);
        assert_eq!(cosine(&[], &[1]), 0.0);
    }
}
