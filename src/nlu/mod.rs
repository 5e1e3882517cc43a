//! The NLU: a pure, synchronous function from a message to the intents it
//! expresses. Built once from the operators' files; no I/O here.
//!
//! normalise → split into clauses → per clause: keywords (Aho-Corasick),
//! patterns (`RegexSet`), nearest examples (tantivy BM25) → score → combine the
//! clauses into the message's intents with a confidence.

pub mod keywords;
pub mod lang;
pub mod normalize;
pub mod patterns;
pub mod score;
pub mod search;
pub mod segment;

use crate::config::{Catalog, NluConfig};
use crate::error::{Error, Problems, Result};
use crate::files::{Action, Sources};
use aho_corasick::{AhoCorasick, MatchKind};
use keywords::{Keyword, Keywords};
use lang::Lang;
use normalize::Normalizer;
use patterns::Patterns;
use score::Signals;
use search::ExampleIndex;
use serde::Serialize;

/// An intent as the engine knows it.
#[derive(Debug, Clone)]
pub struct Intent {
    /// The id from its file.
    pub id: String,
    /// Default action.
    pub action: Action,
    /// The file it came from.
    pub file: String,
    /// Gives way to any other intent in the same message.
    pub yields: bool,
    /// Indices of the intents this one absorbs.
    pub absorbs: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Example {
    intent: usize,
    text: String,
    file: String,
    line: usize,
    hashes: Vec<u64>,
}

/// A scored intent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Index into [`Nlu::intents`].
    pub intent: usize,
    /// Combined score.
    pub score: f32,
    /// Confidence 0..1.
    pub confidence: f32,
}

/// Why a clause was classified the way it was (for `--explain`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evidence {
    /// `(phrase, intent id, kind)` found.
    pub keywords: Vec<(String, String, &'static str)>,
    /// `(pattern, intent id)` matched.
    pub patterns: Vec<(String, String)>,
    /// `(example, intent id, similarity)`, nearest first.
    pub examples: Vec<(String, String, f32)>,
}

/// One clause's result.
#[derive(Debug, Clone)]
pub struct Clause {
    /// The normalised clause.
    pub text: String,
    /// Intents with a score above zero, best first.
    pub ranking: Vec<Scored>,
    /// What decided it.
    pub evidence: Evidence,
}

/// The NLU's answer for one message.
#[derive(Debug, Clone)]
pub struct Classification {
    /// The normalised message.
    pub normalized: String,
    /// Detected language, if the message has letters.
    pub lang: Option<Lang>,
    /// The intents the message expresses, best first; empty means `none`.
    pub intents: Vec<Scored>,
    /// Confidence of the whole decision (the weakest of the chosen intents, or
    /// how sure the engine is that nothing fits when `intents` is empty).
    pub confidence: f32,
    /// Per-clause detail.
    pub clauses: Vec<Clause>,
    /// The item the buyer named, if any.
    pub item: Option<String>,
}

/// The compiled NLU.
#[derive(Debug)]
pub struct Nlu {
    /// Every intent, in file order.
    pub intents: Vec<Intent>,
    norm: Normalizer,
    keywords: Keywords,
    patterns: Patterns,
    index: ExampleIndex,
    examples: Vec<Example>,
    items: Option<AhoCorasick>,
    item_words: Vec<String>,
    params: NluConfig,
    /// Non-fatal findings for `check` (e.g. a keyword claimed by two intents).
    pub warnings: Problems,
}

pub use segment::hash;

/// Confidence from which another clause adds its own intent.
const SECOND_MIN: f32 = 0.5;
/// Score from which another clause adds its own intent.
const SECOND_SCORE: f32 = 1.2;
/// Below this combined score nothing fits: the answer is `none`.
const NONE_BELOW: f32 = 0.6;

impl Nlu {
    /// Compiles the matchers and the example index. Every invalid pattern is
    /// reported with its file and line.
    pub fn build(src: &Sources, catalog: &Catalog, params: &NluConfig) -> Result<Nlu> {
        let mut problems = Problems::default();
        let mut warnings = Problems::default();
        let aliases: Vec<(String, String)> = src.aliases.iter().map(|(a, r)| (a.value.clone(), r.clone())).collect();
        let norm = Normalizer::new(&aliases);
        let index_of = |id: &str| src.intents.iter().position(|i| i.id == id);
        let intents: Vec<Intent> = src
            .intents
            .iter()
            .map(|f| Intent {
                id: f.id.clone(),
                action: f.action,
                file: f.file.clone(),
                yields: f.yields,
                absorbs: f.absorbs.iter().filter_map(|a| index_of(&a.value)).collect(),
            })
            .collect();

        let mut phrases = Vec::new();
        let mut owner: std::collections::HashMap<String, (usize, String, usize)> = Default::default();
        let mut pats = Vec::new();
        let mut examples = Vec::new();
        for (i, f) in src.intents.iter().enumerate() {
            for (list, kind) in [(&f.keywords, Keyword::Strong), (&f.hints, Keyword::Hint), (&f.negative, Keyword::Negative)] {
                for k in list {
                    let n = norm.normalize(&k.value);
                    if n.is_empty() {
                        problems.push(&f.file, k.line, format!("{:?} is empty once normalised: remove it", k.value));
                        continue;
                    }
                    if kind == Keyword::Strong {
                        if let Some((j, file, line)) = owner.get(&n) {
                            if *j != i {
                                warnings.push(&f.file, k.line, format!(
                                    "keyword {:?} is also a keyword of {} ({file}:{line}): keep it in one intent, or make one a hint",
                                    k.value, intents[*j].id));
                            }
                        } else {
                            owner.insert(n.clone(), (i, f.file.clone(), k.line));
                        }
                    }
                    if !phrases.iter().any(|(pi, pk, pn)| *pi == i && *pk == kind && *pn == n) {
                        phrases.push((i, kind, n));
                    }
                }
            }
            for p in &f.patterns {
                match regex::Regex::new(&p.value) {
                    Ok(_) => pats.push((i, p.value.clone())),
                    Err(e) => problems.push(&f.file, p.line, format!(
                        "pattern {:?} does not compile: {}",
                        p.value,
                        e.to_string().lines().last().unwrap_or("invalid regex").trim()
                    )),
                }
            }
            if f.examples.is_empty() && f.keywords.is_empty() && f.patterns.is_empty() {
                problems.push(&f.file, 0, "the intent has no keywords, patterns or examples: it could never be recognised");
            }
            for e in &f.examples {
                let text = norm.normalize(&e.value);
                if text.is_empty() {
                    problems.push(&f.file, e.line, "an empty example: remove it");
                    continue;
                }
                examples.push(Example { intent: i, hashes: segment::token_hashes(&text), text, file: f.file.clone(), line: e.line });
            }
        }
        if !problems.is_empty() {
            return Err(Error::Files { problems });
        }
        let keywords = Keywords::new(phrases);
        let patterns = Patterns::new(pats).map_err(|e| Error::Config(format!("pattern set: {e}")))?;
        let toks: Vec<Vec<String>> = examples.iter().map(|e| segment::tokens(&e.text)).collect();
        let index = ExampleIndex::build(&toks)?;
        let mut item_words: Vec<String> = catalog.zh.iter().chain(&catalog.en).map(|w| norm.normalize(w)).collect();
        item_words.retain(|w| !w.is_empty());
        let items = AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&item_words).ok();
        Ok(Nlu { intents, norm, keywords, patterns, index, examples, items, item_words, params: params.clone(), warnings })
    }

    /// The normaliser in use.
    pub fn normalizer(&self) -> &Normalizer {
        &self.norm
    }

    /// Looks an intent up by id.
    pub fn intent_index(&self, id: &str) -> Option<usize> {
        self.intents.iter().position(|i| i.id == id)
    }

    /// Classifies a message. `explain` keeps the evidence of each clause.
    pub fn classify(&self, text: &str, explain: bool) -> Classification {
        let normalized = self.norm.normalize(text);
        let lang = lang::detect(&normalized);
        let item = self.find_item(&normalized);
        let hits = self.keywords.find(&normalized);
        // One index query per message; each clause then measures its own
        // similarity to the retrieved examples (measured: a query per clause
        // cost more than everything else together).
        let tokens = segment::query_tokens(&normalized);
        let neighbours = self.index.search(&tokens, self.params.neighbours * 2);
        let mut clauses = Vec::new();
        for range in segment::clauses(&normalized) {
            clauses.push(self.classify_clause(&normalized, range, &hits, &neighbours, explain));
        }
        let (intents, confidence) = self.combine(&clauses);
        Classification { normalized, lang, intents, confidence, clauses, item }
    }

    fn find_item(&self, normalized: &str) -> Option<String> {
        let m = self.items.as_ref()?.find(normalized)?;
        Some(self.item_words[m.pattern().as_usize()].clone())
    }

    fn classify_clause(&self, msg: &str, range: std::ops::Range<usize>, hits: &[keywords::Hit], neighbours: &[(usize, f32)], explain: bool) -> Clause {
        let text = &msg[range.clone()];
        let n = self.intents.len();
        let mut sig = vec![Signals::default(); n];
        let mut ev = Evidence::default();
        // Keywords: each phrase counts once per clause.
        let mut seen = Vec::new();
        for h in hits.iter().filter(|h| h.start >= range.start && h.end <= range.end) {
            if seen.contains(&h.phrase) {
                continue;
            }
            seen.push(h.phrase);
            let p = &self.keywords.phrases[h.phrase];
            let s = &mut sig[p.intent];
            match p.kind {
                Keyword::Negative => s.vetoed = true,
                _ => s.keywords += p.weight,
            }
            if explain {
                ev.keywords.push((p.text.clone(), self.intents[p.intent].id.clone(), p.kind.as_str()));
            }
        }
        for m in self.patterns.matches(text) {
            let i = self.patterns.intent[m];
            sig[i].patterns += 1;
            if explain {
                ev.patterns.push((self.patterns.source[m].clone(), self.intents[i].id.clone()));
            }
        }
        let q = segment::token_hashes(text);
        for &(ex, _bm25) in neighbours {
            let e = &self.examples[ex];
            let sim = score::cosine(&q, &e.hashes);
            if sim <= 0.0 {
                continue;
            }
            let s = &mut sig[e.intent];
            s.example = s.example.max(sim);
            if explain {
                ev.examples.push((format!("{} ({}:{})", e.text, e.file, e.line), self.intents[e.intent].id.clone(), sim));
            }
        }
        ev.examples.sort_by(|a, b| b.2.total_cmp(&a.2));
        let mut ranking: Vec<Scored> = sig
            .iter()
            .enumerate()
            .map(|(i, s)| Scored { intent: i, score: s.score(), confidence: 0.0 })
            .filter(|s| s.score > 0.0)
            .collect();
        ranking.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.intent.cmp(&b.intent)));
        for k in 0..ranking.len() {
            let next = ranking.get(k + 1).map_or(0.0, |s| s.score);
            // Each entry's confidence is judged against the one below it for the
            // first; later entries are judged against the best.
            ranking[k].confidence = if k == 0 { score::confidence(ranking[0].score, next) } else { score::confidence(ranking[k].score, ranking[0].score).max(0.0) };
        }
        Clause { text: text.to_string(), ranking, evidence: ev }
    }

    /// The message's intents from its clauses. The most confident clause gives
    /// the main intent; another clause adds its own only when it is itself
    /// confident (a stray word in a long story is not a second question).
    /// Greeting-like intents (`yields`) stand only when nothing else in the
    /// message has substance; an intent absorbs the ones its file names.
    fn combine(&self, clauses: &[Clause]) -> (Vec<Scored>, f32) {
        let soft = |s: &Scored| self.intents[s.intent].yields;
        let mut real: Vec<Scored> = Vec::new();
        let mut social: Vec<Scored> = Vec::new();
        let mut best_real: Option<Scored> = None;
        let mut unexplained = false;
        for c in clauses {
            let top = c.ranking.first().copied();
            match top {
                Some(t) if soft(&t) && t.score >= NONE_BELOW => social.push(t),
                Some(t) if t.score >= NONE_BELOW => {
                    real.push(t);
                    if best_real.is_none_or(|b| t.confidence > b.confidence) {
                        best_real = Some(t);
                    }
                }
                Some(t) if !soft(&t) => {
                    if best_real.is_none_or(|b| t.confidence > b.confidence) {
                        best_real = Some(t);
                    }
                    unexplained |= substantive(&c.text);
                }
                _ => unexplained |= substantive(&c.text),
            }
        }
        real.sort_by(|a, b| b.confidence.total_cmp(&a.confidence).then(b.score.total_cmp(&a.score)));
        let mut picked: Vec<Scored> = Vec::new();
        for (k, r) in real.iter().enumerate() {
            if let Some(p) = picked.iter_mut().find(|p| p.intent == r.intent) {
                p.confidence = p.confidence.max(r.confidence);
                continue;
            }
            if k == 0 || (r.confidence >= SECOND_MIN && r.score >= SECOND_SCORE) {
                picked.push(*r);
            }
        }
        if picked.is_empty() {
            if !social.is_empty() && !unexplained {
                social.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
                return (vec![social[0]], social[0].confidence);
            }
            return match best_real {
                Some(b) if b.score >= NONE_BELOW => (vec![b], b.confidence),
                Some(b) => (Vec::new(), 1.0 - b.confidence),
                None => (Vec::new(), 1.0),
            };
        }
        let absorbed: Vec<usize> = picked.iter().flat_map(|p| self.intents[p.intent].absorbs.iter().copied()).collect();
        if picked.iter().any(|p| !absorbed.contains(&p.intent)) {
            picked.retain(|p| !absorbed.contains(&p.intent));
        }
        let conf = picked.iter().map(|p| p.confidence).fold(1.0, f32::min);
        (picked, conf)
    }
}

/// A clause with enough content to be a question of its own: three Chinese
/// characters or three words (not 亲, 老板, "hi there").
fn substantive(clause: &str) -> bool {
    let cjk = clause.chars().filter(|&c| segment::is_cjk(c)).count();
    let words = clause.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).count();
    cjk + words >= 3
}
