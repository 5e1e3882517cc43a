//! Keyword matching: one Aho-Corasick automaton over every intent's keywords,
//! hints and negative phrases, run once per message.

use super::normalize::on_word_boundaries;
use aho_corasick::{AhoCorasick, MatchKind};

/// What a phrase does when found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keyword {
    /// Strong evidence.
    Strong,
    /// Weak evidence.
    Hint,
    /// Rules the intent out of the clause.
    Negative,
}

impl Keyword {
    /// The kind's name, for `--explain`.
    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::Strong => "keyword",
            Keyword::Hint => "hint",
            Keyword::Negative => "negative",
        }
    }
}

/// One phrase of one intent.
#[derive(Debug, Clone)]
pub struct Phrase {
    /// Index of the intent.
    pub intent: usize,
    /// What it does.
    pub kind: Keyword,
    /// The normalised phrase.
    pub text: String,
    /// Evidence weight (0 for negatives).
    pub weight: f32,
    latin: bool,
}

/// A phrase found in a message.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    /// Index into [`Keywords::phrases`].
    pub phrase: usize,
    /// Byte range in the normalised message.
    pub start: usize,
    /// End of the byte range.
    pub end: usize,
}

/// The compiled automaton. It also carries extra byte literals (the patterns'
/// prefilter literals), so one scan of the message serves both.
#[derive(Debug, Clone)]
pub struct Keywords {
    ac: Option<AhoCorasick>,
    /// Every phrase, in automaton pattern order.
    pub phrases: Vec<Phrase>,
}

/// Evidence weight of a keyword: longer phrases are more specific.
fn weight(kind: Keyword, text: &str) -> f32 {
    let chars = text.chars().count() as f32;
    let latin = text.is_ascii();
    // Latin words are longer per unit of meaning than Chinese characters.
    let units = if latin { (chars / 3.0).max(1.0) } else { chars };
    match kind {
        Keyword::Strong => (0.5 + 0.25 * units).min(1.5),
        Keyword::Hint => 0.3,
        Keyword::Negative => 0.0,
    }
}

impl Keywords {
    /// Builds the automaton from `(intent index, kind, normalised phrase)` triples
    /// and extra `literals`, reported apart by [`Keywords::find`].
    pub fn new(items: Vec<(usize, Keyword, String)>, literals: &[Vec<u8>]) -> Keywords {
        let mut phrases = Vec::new();
        for (intent, kind, text) in items {
            let latin = text.is_ascii();
            phrases.push(Phrase {
                intent,
                kind,
                weight: weight(kind, &text),
                latin,
                text,
            });
        }
        let all: Vec<&[u8]> = phrases
            .iter()
            .map(|p| p.text.as_bytes())
            .chain(literals.iter().map(|l| l.as_slice()))
            .collect();
        // A contiguous NFA: built in a fraction of a DFA's time (start-up counts)
        // and, measured, as fast on chat-length messages.
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .build(&all)
            .ok()
            .filter(|_| !all.is_empty());
        Keywords { ac, phrases }
    }

    /// Every phrase found in `text`, and every extra literal (its index in
    /// `Hit::phrase`), overlaps included, each list ordered by end. Linear in
    /// `text`: at most one hit per phrase ending at each byte, and phrases
    /// ending at one byte are suffixes of the longest there (a bound set by
    /// the intent files, not the message).
    pub fn find(&self, text: &str) -> (Vec<Hit>, Vec<Hit>) {
        // Sized for a chat message's hits up front (growing the lists one
        // push at a time was a measured share of the allocations).
        let guess = text.len().min(256);
        let (mut hits, mut lits) = (Vec::with_capacity(guess), Vec::with_capacity(guess));
        let Some(ac) = &self.ac else {
            return (hits, lits);
        };
        let n = self.phrases.len();
        for m in ac.find_overlapping_iter(text) {
            let k = m.pattern().as_usize();
            if k >= n {
                lits.push(Hit {
                    phrase: k - n,
                    start: m.start(),
                    end: m.end(),
                });
            } else if !self.phrases[k].latin || on_word_boundaries(text, m.start(), m.end()) {
                hits.push(Hit {
                    phrase: k,
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
        // Ordered by end (the automaton reports matches as it reaches their
        // end; the stable sort only makes that a stated fact), so a clause
        // finds its hits by binary search in [`within`].
        hits.sort_by_key(|h| h.end);
        lits.sort_by_key(|h| h.end);
        (hits, lits)
    }
}

/// The hits of `sorted` (ordered by end, as [`Keywords::find`] returns them)
/// that lie inside `range`, in order. Found by binary search on their ends, so
/// the clauses of a message together cost O(hits + clauses × log hits), not
/// clauses × hits; the few hits that end inside `range` but start before it
/// (at most a phrase's length of them) are skipped.
pub fn within<'h>(
    sorted: &'h [Hit],
    range: &std::ops::Range<usize>,
) -> impl Iterator<Item = &'h Hit> + 'h {
    let lo = sorted.partition_point(|h| h.end <= range.start);
    let hi = sorted.partition_point(|h| h.end <= range.end);
    let start = range.start;
    sorted[lo..hi.max(lo)]
        .iter()
        .filter(move |h| h.start >= start)
}
