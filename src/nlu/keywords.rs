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

/// The compiled automaton.
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
    /// Builds the automaton from `(intent index, kind, normalised phrase)` triples.
    pub fn new(items: Vec<(usize, Keyword, String)>) -> Keywords {
        let mut phrases = Vec::new();
        for (intent, kind, text) in items {
            let latin = text.chars().all(|c| c.is_ascii());
            phrases.push(Phrase {
                intent,
                kind,
                weight: weight(kind, &text),
                latin,
                text,
            });
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(phrases.iter().map(|p| p.text.as_str()))
            .ok()
            .filter(|_| !phrases.is_empty());
        Keywords { ac, phrases }
    }

    /// Every phrase found in `text` (overlaps included).
    pub fn find(&self, text: &str) -> Vec<Hit> {
        let Some(ac) = &self.ac else {
            return Vec::new();
        };
        ac.find_overlapping_iter(text)
            .filter(|m| {
                let p = &self.phrases[m.pattern().as_usize()];
                !p.latin || on_word_boundaries(text, m.start(), m.end())
            })
            .map(|m| Hit {
                phrase: m.pattern().as_usize(),
                start: m.start(),
                end: m.end(),
            })
            .collect()
    }
}
