//! The NLU: a pure, synchronous function from a message to the intents it
//! expresses. Built once from the operators' files; no I/O here.
//!
//! normalise → split into clauses → per clause: keywords (Aho-Corasick),
//! patterns (`RegexSet`), nearest examples (tantivy BM25) → score → combine the
//! clauses into the message's intents with a confidence.
//!
//! Its own crate so that NLU work builds and tests in seconds and its purity is
//! checked by the compiler: nothing here depends on tokio, axum, rusqlite or the
//! websocket stack. [`files`] parses the operators' files, [`config`] holds the
//! settings the NLU reads, [`error`] the errors both share with the bot.
//!
//! Worst case: every stage is linear in the message, which classification
//! itself caps at [`MAX_INPUT_CHARS`] characters (hostile input included:
//! `tests/adversarial.rs`, `xiaoer-bench adversarial`). The constants hidden
//! in "linear" are the sizes of the operators' files (phrases, patterns,
//! intents), never the message; the one sort over the message's tokens (the
//! example query) is O(n log n).
#![deny(missing_docs)]

pub mod calibration;
pub mod config;
pub mod error;
pub mod files;
#[doc(hidden)]
pub mod hostile;
pub mod keywords;
pub mod knowledge;
pub mod lang;
pub mod model;
pub mod normalize;
pub mod patterns;
pub mod pinyin;
pub mod score;
pub mod search;
pub mod segment;

use crate::config::{Catalog, NluConfig};
use crate::error::{Error, Problems, Result};
use crate::files::{Action, Sources, NONE};
use aho_corasick::{AhoCorasick, MatchKind};
use keywords::{Keyword, Keywords};
use lang::Lang;
use normalize::Normalizer;
use patterns::Patterns;
use score::Signals;
use search::ExampleIndex;
use serde::Serialize;

/// The input budget of [`Nlu::classify`], in characters: a message is
/// classified on its first `MAX_INPUT_CHARS` characters and a longer one is
/// marked [`Classification::truncated`], which the dialogue hands to a person
/// (the bot read only part of it, and a shop would rather have an agent read a
/// pasted letter than answer its first lines). The one limit behind the CLI's
/// `classify --jsonl`, the gateway's messages and the bot's frames.
///
/// Why 2,000: chat messages are short (the longest of the shared dev sets has
/// 88 characters, and chat boxes of the platforms cut far earlier), so
/// 2,000 is over twenty times any real question, while a hostile message of
/// that length costs about a millisecond to classify (`xiaoer-bench
/// adversarial`, BENCHMARKS.md).
pub const MAX_INPUT_CHARS: usize = 2000;

/// `text` cut to its first [`MAX_INPUT_CHARS`] characters, and whether it was cut.
pub fn within_budget(text: &str) -> (&str, bool) {
    if text.len() <= MAX_INPUT_CHARS {
        // No more characters than bytes: nothing to count.
        return (text, false);
    }
    match text.char_indices().nth(MAX_INPUT_CHARS) {
        Some((at, _)) => (&text[..at], true),
        None => (text, false),
    }
}

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
    /// (previous intent, intent to read instead), as indices.
    pub follows: Vec<(usize, usize)>,
}

#[derive(Debug, Clone)]
struct Example {
    intent: usize,
    text: String,
    file: String,
    line: usize,
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
    /// Intents a keyword or pattern of this clause states outright (the
    /// operator's own words, which the character model never overrules).
    /// The ones a pattern states (a phrase of the file's own shape) come
    /// first: see [`Clause::framed`].
    pub stated: Vec<usize>,
    /// How many of `stated` a pattern states (one list, no allocation of its own).
    pub framed: usize,
    /// Intents with an example nearly the clause itself (a taught phrasing).
    pub taught: Vec<usize>,
}

impl Clause {
    /// Intents a pattern of this clause states.
    pub fn framed(&self) -> &[usize] {
        &self.stated[..self.framed]
    }
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
    /// The message was longer than [`MAX_INPUT_CHARS`]: only its beginning
    /// was read.
    pub truncated: bool,
    /// What the calibrated confidence was computed from (see
    /// [`calibration`]), when it was: for `examples/calibrate.rs`, which
    /// learns the weights from labelled real turns.
    #[doc(hidden)]
    pub features: Option<calibration::Features>,
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
    example_hashes: ExampleHashes,
    model: model::CharModel,
    items: Option<AhoCorasick>,
    item_words: Vec<String>,
    pinyin: pinyin::Pinyin,
    /// Keyword phrases by their pinyin (as syllable codes: [`pinyin::SoundCode`]),
    /// and the phrase each pattern stands for.
    py_keywords: Option<AhoCorasick>,
    sound: pinyin::SoundCode,
    py_owner: Vec<usize>,
    params: NluConfig,
    /// Non-fatal findings for `check` (e.g. a keyword claimed by two intents).
    pub warnings: Problems,
}

pub use segment::hash;

/// Every example's token hashes (text, then pinyin) in one array, and
/// each example's spans in it: the example search compares a clause with up
/// to sixteen examples, and one `Vec` per example cost a cache miss for the
/// example and another for its list.
#[derive(Debug, Default)]
struct ExampleHashes {
    all: Vec<u64>,
    /// Per example: start and length of its text hashes, then of its pinyin
    /// ones, then its intent.
    spans: Vec<[u32; 5]>,
}

impl ExampleHashes {
    /// Appends the next example's sorted text and pinyin hashes.
    fn push(&mut self, intent: usize, text: &[u64], py: &[u64]) {
        let at = self.all.len() as u32;
        self.spans.push([
            at,
            text.len() as u32,
            at + text.len() as u32,
            py.len() as u32,
            intent as u32,
        ]);
        self.all.extend_from_slice(text);
        self.all.extend_from_slice(py);
    }

    /// The sorted token hashes of example `ex`, by sound when `pinyin`.
    fn of(&self, ex: usize, pinyin: bool) -> &[u64] {
        let [t, tn, p, pn, _] = self.spans[ex];
        let (start, len) = if pinyin { (p, pn) } else { (t, tn) };
        &self.all[start as usize..(start + len) as usize]
    }

    /// The intent of example `ex`.
    fn intent(&self, ex: usize) -> usize {
        self.spans[ex][4] as usize
    }
}

/// Sorted, deduplicated hashes of tokens.
fn hash_all(tokens: &[String]) -> Vec<u64> {
    let mut v: Vec<u64> = tokens.iter().map(|t| hash(t)).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// A keyword heard in a homophone (法货 for 发货) counts this much of its weight.
const HOMOPHONE_WEIGHT: f32 = 0.7;

/// Confidence from which another clause adds its own intent. Real buyers
/// rarely ask two things in one turn (4 of 531 real_dev turns have two
/// labels, against 121 of 1,936 in dev.jsonl), and a second reading from a
/// side remark is the commoner error: measured, 0.5 -> 0.6 (and 0.3 -> 0.45
/// for escalating intents) gained on real_dev, on dev and held out on
/// real_train alike.
const SECOND_MIN: f32 = 0.6;
/// The same for an intent whose action is escalate: lower, since a missed
/// hand-off costs a shop more than an extra one.
const SECOND_MIN_ESCALATE: f32 = 0.45;
/// Confidence from which a reading that absorbs a picked one comes in
/// below the second bar (a complaint absorbs nearly everything, so a weak
/// one must not).
const ABSORB_MIN: f32 = 0.5;
/// Share of a clause's top score from which a reading that the clause
/// states and that absorbs the top one takes its place (see
/// `Nlu::absorbed_in_clause`). Measured on real_train.jsonl held out: 0.712
/// off, 0.714 at 0.5 to 0.7 (0.716 at 0.8); dev.jsonl, real_dev.jsonl and the
/// dialogues read the same from 0.3 to 0.95. Below 0.7 a cancel asked with
/// 退掉 turns into a return (`check` flags the example), so 0.7.
const ABSORB_NEAR: f32 = 0.7;
/// Share of a clause's top score from which a reading a keyword or pattern
/// states takes the place of a top reading that nothing states (see
/// `Nlu::stated_in_clause`). Measured: real_train.jsonl held out 0.719 off,
/// 0.721 at 0.9, 0.723 at 0.8, 0.725 from 0.7 down to 0.5; dev.jsonl 1795 ->
/// 1797 of 1,936 at 0.7 (承重多少 is a product question, not a price);
/// real_dev.jsonl 383 either way (one turn gained, one lost).
const STATED_NEAR: f32 = 0.7;
/// Similarity of an example from which it is a taught phrasing of the clause.
const TAUGHT_SIMILARITY: f32 = 0.9;
/// Longest clause that counts as a greeting or thanks on weak evidence.
const SOCIAL_MAX_LEN: usize = 6;
/// Confidence a longer greeting-like clause needs.
const SOCIAL_LONG_MIN: f32 = 0.6;
/// Score from which another clause adds its own intent.
const SECOND_SCORE: f32 = 1.2;
/// Below this combined score nothing fits: the answer is `none`.
const NONE_BELOW: f32 = 0.6;
/// Score from which a reading that nothing else contests is given as the
/// message's intent, however unsure (its confidence is below 0.37 there).
/// Below it the answer is `none`. Measured on the real buyer turns: 0.45
/// against `NONE_BELOW` (0.6) turns 2 of 531 escalations into the right
/// intent and 4 of 1,936 on dev.jsonl, with no answer changed.
const GUESS_FROM: f32 = 0.45;
/// A polite reading stands instead of a real one this many times its score.
const SOCIAL_MARGIN: f32 = 1.5;
/// … and instead of an off-topic one from this share of its score.
const OFF_TOPIC_MARGIN: f32 = 1.0;
/// Keyword weight that names a topic outright (a two-character keyword).
const TOPIC_KEYWORD: f32 = 1.0;
/// Longest comment, in characters, read together with the topic before it
/// (邮费 多少钱, 发票填错了 能修改吗): four holds 能修改吗 and 能少点不; five
/// would take a question of its own (邮费多少钱 这个多少钱).
const TOPIC_COMMENT_UNITS: usize = 4;
/// Share of a decision's confidence that rests on the character model
/// agreeing with it (see `Nlu::temper`).
const AGREEMENT: f32 = 0.3;
/// Below this confidence the rules are unsure, and a model reading of at
/// least `SWITCH_MODEL` names the intent instead (see `Nlu::temper`).
/// Chosen on real_train.jsonl held out (`examples/calibrate.rs`): intent
/// accuracy 0.591 at 0.5, 0.603 at 0.4, 0.625 at 0.2; below 0.4 the
/// dialogue set falls under 0.95 (0.938 at 0.3), so 0.4.
const SWITCH_BELOW: f32 = 0.45;
const SWITCH_MODEL: f32 = 0.4;
/// Keyword weight from which a clause states an intent outright.
const STATED_KEYWORD: f32 = 1.0;
/// Weight of an example and of a keyword in the character model.
const MODEL_EXAMPLE: f32 = 1.0;
const MODEL_KEYWORD: f32 = 0.5;
/// A real reading below this confidence …
const WEAK_REAL: f32 = 0.35;
/// … gives way to a polite one within this share of its score.
const NEAR_SOCIAL: f32 = 0.8;

impl Nlu {
    /// Compiles the matchers and the example index. Every invalid pattern is
    /// reported with its file and line.
    pub fn build(src: &Sources, catalog: &Catalog, params: &NluConfig) -> Result<Nlu> {
        let mut problems = Problems::default();
        let mut warnings = Problems::default();
        let aliases: Vec<(String, String)> = src
            .aliases
            .iter()
            .map(|(a, r)| (a.value.clone(), r.clone()))
            .collect();
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
                absorbs: f
                    .absorbs
                    .iter()
                    .filter_map(|a| index_of(&a.value))
                    .collect(),
                follows: f
                    .follows
                    .iter()
                    .filter_map(|(p, t)| Some((index_of(&p.value)?, index_of(t)?)))
                    .collect(),
            })
            .collect();

        let mut phrases = Vec::new();
        let mut owner: std::collections::HashMap<String, (usize, String, usize)> =
            Default::default();
        let mut pats = Vec::new();
        let mut pat_at: Vec<(String, usize)> = Vec::new();
        let mut seen_phrases = std::collections::HashSet::new();
        let mut examples = Vec::new();
        for (i, f) in src.intents.iter().enumerate() {
            for (list, kind) in [
                (&f.keywords, Keyword::Strong),
                (&f.hints, Keyword::Hint),
                (&f.negative, Keyword::Negative),
            ] {
                for k in list {
                    let n = norm.normalize(&k.value);
                    if n.is_empty() {
                        problems.push(
                            &f.file,
                            k.line,
                            format!("{:?} is empty once normalised: remove it", k.value),
                        );
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
                    if seen_phrases.insert((i, kind, n.clone())) {
                        phrases.push((i, kind, n));
                    }
                }
            }
            for p in &f.patterns {
                // Syntax is checked here (cheap); compiled once, below.
                match regex_syntax::Parser::new().parse(&p.value) {
                    Ok(_) => {
                        pats.push((i, p.value.clone()));
                        pat_at.push((f.file.clone(), p.line));
                    }
                    Err(e) => problems.push(
                        &f.file,
                        p.line,
                        format!(
                            "pattern {:?} does not compile: {}",
                            p.value,
                            e.to_string()
                                .lines()
                                .last()
                                .unwrap_or("invalid regex")
                                .trim()
                        ),
                    ),
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
                examples.push(Example {
                    intent: i,
                    text,
                    file: f.file.clone(),
                    line: e.line,
                });
            }
        }
        if !problems.is_empty() {
            return Err(Error::Files { problems });
        }
        let py = pinyin::Pinyin::new();
        let mut py_owner = Vec::new();
        let mut py_phrases = Vec::new();
        for (k, (_, _, text)) in phrases.iter().enumerate() {
            if text.chars().count() >= 2 && text.chars().all(segment::is_cjk) {
                py_phrases.push(py.transliterate(text));
                py_owner.push(k);
            }
        }
        let sound = pinyin::SoundCode::new(&py, py_phrases.iter().map(String::as_str));
        let py_codes: Vec<Vec<u8>> = py_phrases
            .iter()
            .map(|p| sound.of_transliteration(p))
            .collect();
        let py_keywords = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&py_codes)
            .ok()
            .filter(|_| !py_phrases.is_empty());
        let patterns = Patterns::new(pats).map_err(|(k, e)| {
            let (file, line) = &pat_at[k];
            let mut problems = Problems::default();
            problems.push(
                file,
                *line,
                format!(
                    "pattern does not compile: {}",
                    e.to_string().lines().last().unwrap_or("").trim()
                ),
            );
            Error::Files { problems }
        })?;
        let model = model::CharModel::train(
            examples
                .iter()
                .map(|e| (e.intent, e.text.as_str(), MODEL_EXAMPLE))
                .chain(
                    phrases
                        .iter()
                        .filter(|(_, kind, _)| *kind == Keyword::Strong)
                        .map(|(i, _, text)| (*i, text.as_str(), MODEL_KEYWORD)),
                ),
            intents.len(),
        );
        let keywords = Keywords::new(phrases, &patterns.literals);
        let mut example_hashes = ExampleHashes::default();
        let toks: Vec<(String, String)> = examples
            .iter()
            .map(|e| {
                let py_toks = pinyin::tokens(&py.transliterate(&e.text));
                example_hashes.push(
                    e.intent,
                    &segment::token_hashes(&e.text),
                    &hash_all(&py_toks),
                );
                (segment::tokens(&e.text).join(" "), py_toks.join(" "))
            })
            .collect();
        example_hashes.all.shrink_to_fit();
        let index = ExampleIndex::build(&toks)?;
        let mut item_words: Vec<String> = catalog
            .zh
            .iter()
            .chain(&catalog.en)
            .map(|w| norm.normalize(w))
            .collect();
        item_words.retain(|w| !w.is_empty());
        let items = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&item_words)
            .ok();
        Ok(Nlu {
            norm,
            keywords,
            patterns,
            index,
            examples,
            example_hashes,
            model,
            items,
            item_words,
            pinyin: py,
            py_keywords,
            sound,
            py_owner,
            params: params.clone(),
            intents,
            warnings,
        })
    }

    /// Every example that the engine itself reads as another intent (or as
    /// nothing): a sign of overlapping keywords or a mislabelled example. One
    /// problem per example, with its file and line, for `xiaoer check`.
    pub fn misread_examples(&self) -> Problems {
        let mut out = Problems::default();
        for e in &self.examples {
            let c = self.classify(&e.text, false);
            let got: Vec<&str> = c
                .intents
                .iter()
                .map(|s| self.intents[s.intent].id.as_str())
                .collect();
            let own = self.intents[e.intent].id.as_str();
            let ok = got.first() == Some(&own) || (got.is_empty() && own == NONE);
            if !ok {
                let read = if got.is_empty() {
                    "none".to_string()
                } else {
                    got.join(" + ")
                };
                out.push(&e.file, e.line, format!(
                    "example {:?} of {own} is read as {read}: reword it, or strengthen {own}'s keywords or add a negative to the other intent",
                    e.text));
            }
        }
        out
    }

    /// The normaliser in use.
    pub fn normalizer(&self) -> &Normalizer {
        &self.norm
    }

    /// The character model's posterior over the intents for a normalised
    /// message (for tools that study the readings, as `examples/calibrate.rs`).
    pub fn model_posterior(&self, normalized: &str) -> Vec<f32> {
        self.model.posterior(normalized)
    }

    /// Looks an intent up by id.
    pub fn intent_index(&self, id: &str) -> Option<usize> {
        self.intents.iter().position(|i| i.id == id)
    }

    /// Classifies a message. `explain` keeps the evidence of each clause.
    /// Reads at most [`MAX_INPUT_CHARS`] characters; linear in them.
    pub fn classify(&self, text: &str, explain: bool) -> Classification {
        let (text, truncated) = within_budget(text);
        let normalized = self.norm.normalize(text);
        let lang = lang::detect(&normalized);
        let item = self.find_item(&normalized);
        let (hits, literals) = self.keywords.find(&normalized);
        let pinyin_mode = lang == Some(Lang::En) && self.pinyin.is_pinyin_text(&normalized);
        // Phase one: keywords and patterns, clause by clause (cheap).
        let mut parts: Vec<(std::ops::Range<usize>, Vec<Signals>, Evidence)> =
            segment::clauses(&normalized)
                .into_iter()
                .map(|r| {
                    let (sig, ev) = self.clause_signals(
                        &normalized,
                        r.clone(),
                        &hits,
                        &literals,
                        pinyin_mode,
                        explain,
                    );
                    (r, sig, ev)
                })
                .collect();
        self.join_topics(
            &normalized,
            &mut parts,
            &hits,
            &literals,
            pinyin_mode,
            explain,
        );
        // Phase two: the example index, unless every clause is already decided by
        // its phrases (measured: the index query is most of a message's cost, and
        // it cannot change a clear keyword decision).
        let settled = |r: &std::ops::Range<usize>, sig: &[Signals]| {
            decisive(sig)
                || (!substantive(&normalized[r.clone()]) && sig.iter().all(|x| x.score() == 0.0))
        };
        let all_settled = parts.iter().all(|(r, sig, _)| settled(r, sig));
        if !all_settled {
            let neighbours = if pinyin_mode {
                let toks = pinyin::tokens(&self.pinyin.transliterate(&normalized));
                let pairs: Vec<String> = toks.iter().filter(|t| t.contains('_')).cloned().collect();
                self.index.search(
                    if pairs.is_empty() { &toks } else { &pairs },
                    self.params.neighbours * 2,
                    true,
                )
            } else {
                self.index.search(
                    &segment::query_tokens(&normalized),
                    self.params.neighbours * 2,
                    false,
                )
            };
            for (r, sig, ev) in &mut parts {
                self.add_examples(
                    &normalized[r.clone()],
                    sig,
                    ev,
                    &neighbours,
                    pinyin_mode,
                    explain,
                );
            }
        }
        let clauses: Vec<Clause> = parts
            .into_iter()
            .map(|(r, sig, ev)| rank(&normalized[r], &sig, ev))
            .collect();
        let (mut intents, mut confidence) = self.combine(&clauses);
        // Every reading gets the calibrated confidence, the ones the
        // operator's decisive phrases settled too (measured on
        // real_train.jsonl, held out: the calibration ranks right over wrong
        // readings with AUC 0.809 over all readings against 0.767 when the
        // settled ones keep the rules' confidence).
        let features = self.temper(&normalized, &clauses, &mut intents, &mut confidence);
        Classification {
            normalized,
            lang,
            intents,
            confidence,
            clauses,
            item,
            truncated,
            features,
        }
    }

    /// Confidence that means something. The character model reads the
    /// message beside the rules; then the chosen reading's confidence is the
    /// calibrated chance that it is right ([`calibration`]): a logistic
    /// function of the rules' own confidence and score, whether a keyword or
    /// pattern states it, how far the model agrees, and the message's shape,
    /// with weights learnt from labelled real buyer turns
    /// (`examples/calibrate.rs` on real_train.jsonl). Keywords and examples
    /// are sure of themselves on phrasing they know; the model sees every
    /// character of every example, so a decision it does not share is the
    /// kind that is wrong. Returns what the confidence was computed from.
    fn temper(
        &self,
        normalized: &str,
        clauses: &[Clause],
        intents: &mut Vec<Scored>,
        confidence: &mut f32,
    ) -> Option<calibration::Features> {
        let p = self.model.posterior(normalized);
        let top = p.iter().copied().fold(0.0f32, f32::max);
        if top <= 0.0 {
            return None;
        }
        let agreement = |i: usize| p.get(i).copied().unwrap_or(0.0) / top;
        // The rules' own view of their weakest chosen reading.
        let rule = intents
            .iter()
            .copied()
            .reduce(|a, b| if b.confidence < a.confidence { b } else { a });
        let factor = |i: usize| (1.0 - AGREEMENT) + AGREEMENT * agreement(i);
        for s in intents.iter_mut() {
            s.confidence *= factor(s.intent);
        }
        let none = self.intent_index(NONE);
        *confidence = match intents.iter().map(|s| s.confidence).reduce(f32::min) {
            Some(weakest) => weakest,
            None => none.map_or(*confidence, |n| *confidence * factor(n)),
        };
        // Unsure rules, sure model: the model's reading names the intent (for
        // the agent's summary and routing); the confidence stays low, so the
        // chat still goes to a person.
        let (best, p_best) =
            p.iter().enumerate().fold(
                (0, 0.0f32),
                |acc, (i, &x)| if x > acc.1 { (i, x) } else { acc },
            );
        let current = intents.first().map(|s| s.intent).or(none);
        let stated_by = |i: usize| clauses.iter().any(|c| c.stated.contains(&i));
        // Never over the operator's own words: a keyword or pattern that
        // states the current reading keeps it.
        // An off-topic reading the none file states (退订, 注销) is the
        // operator's word too.
        let stated = intents.iter().any(|s| stated_by(s.intent))
            || intents.is_empty() && none.is_some_and(stated_by);
        let mut switched = false;
        // Nor to a courtesy over a question: in "备注有用吗? 谢谢", the
        // thanks fill the model's grams, but the buyer asked something the
        // rules read (however unsure), and an unsure reading goes to a person
        // rather than out as a goodbye.
        let polite_over_question = self.intents.get(best).is_some_and(|i| i.yields)
            && clauses.iter().any(|c| {
                substantive(&c.text)
                    && is_question(&c.text)
                    && c.ranking
                        .first()
                        .is_some_and(|t| !self.intents[t.intent].yields)
            });
        if *confidence < SWITCH_BELOW
            && p_best >= SWITCH_MODEL
            && current != Some(best)
            && !stated
            && !polite_over_question
        {
            intents.clear();
            if Some(best) != none {
                intents.push(Scored {
                    intent: best,
                    score: p_best,
                    confidence: *confidence,
                });
                switched = true;
            }
        }
        if intents.is_empty() {
            return None;
        }
        let (rule_conf, rule_score) = match (rule, switched) {
            (Some(r), false) => (r.confidence, r.score),
            _ => (0.0, 0.0),
        };
        let features = calibration::Features::new(calibration::Reading {
            rule_confidence: rule_conf,
            rule_score,
            agreement: intents
                .iter()
                .map(|s| agreement(s.intent))
                .fold(1.0, f32::min),
            model_top: top,
            stated: intents.iter().all(|s| stated_by(s.intent)),
            units: units(normalized),
            // Clauses with substance of their own: a polite tail (谢谢, 在吗)
            // is not a second topic.
            clauses: clauses
                .iter()
                .filter(|c| {
                    substantive(&c.text)
                        && c.ranking
                            .first()
                            .is_none_or(|t| !self.intents[t.intent].yields)
                })
                .count()
                .max(1),
            intents: intents.len(),
            switched,
        });
        let calibrated = features.confidence();
        *confidence = calibrated;
        for s in intents.iter_mut() {
            s.confidence = calibrated;
        }
        Some(features)
    }

    /// Topic and comment: a bare topic, a space, then a short question about
    /// it ("邮费 多少钱", "you fei duo shao qian") is one question, not two.
    /// When the two read together keep the topic's intent on top and rule out
    /// the comment's own reading (邮费 vetoes price), they become one clause. A
    /// topic that is itself a question ("包邮吗 多少钱") stays apart.
    fn join_topics(
        &self,
        msg: &str,
        parts: &mut Vec<(std::ops::Range<usize>, Vec<Signals>, Evidence)>,
        hits: &[keywords::Hit],
        literals: &[keywords::Hit],
        pinyin_mode: bool,
        explain: bool,
    ) {
        let top = |sig: &[Signals]| {
            sig.iter()
                .enumerate()
                .filter(|(_, s)| s.score() > 0.0)
                .max_by(|a, b| a.1.score().total_cmp(&b.1.score()))
                .map(|(i, _)| i)
        };
        // One pass that moves each clause once (no splicing in the middle of
        // the list), and a topic takes one comment: a joined clause is not
        // joined again, so no clause is read twice over a growing span
        // ("邮费 多少钱 多少钱 …" would otherwise re-read the whole run at
        // every step). Linear in the clauses.
        if parts.len() < 2 {
            // One clause (most messages): nothing to join, no list to build.
            return;
        }
        let mut out: Vec<(std::ops::Range<usize>, Vec<Signals>, Evidence)> =
            Vec::with_capacity(parts.len());
        let mut last_joined = false;
        for b in parts.drain(..) {
            let a = match out.last() {
                Some(a) if !last_joined => a,
                _ => {
                    out.push(b);
                    last_joined = false;
                    continue;
                }
            };
            let comment = &msg[b.0.clone()];
            // Clauses are cut at '?', so a clause that asks ends in a particle.
            let asks = |t: &str| t.ends_with(['吗', '呢', '么', '嘛']);
            let apart = !msg[a.0.end..b.0.start].chars().all(char::is_whitespace)
                || asks(&msg[a.0.clone()])
                || units(comment) > TOPIC_COMMENT_UNITS;
            // The readings are looked at only for clauses not apart anyway.
            let (ta, tb) = if apart {
                (None, None)
            } else {
                (top(&a.1), top(&b.1))
            };
            let candidate = !apart
                && match (ta, tb) {
                    // A word with no reading of its own (黑色, a model number)
                    // before a short question: the question is about the word.
                    (None, _) => asks(comment),
                    // A topic named outright (a keyword, not hints: 已经收到了 is
                    // a story, not a topic) and a question read otherwise.
                    (Some(ta), Some(tb)) => ta != tb && a.1[ta].keywords >= TOPIC_KEYWORD,
                    (Some(_), None) => false,
                };
            if candidate {
                let joined = a.0.start..b.0.end;
                let (sig, ev) =
                    self.clause_signals(msg, joined.clone(), hits, literals, pinyin_mode, explain);
                // Read together, the topic must keep its intent and rule out the
                // question's own reading (邮费 vetoes price).
                let holds = match (ta, tb) {
                    (Some(ta), Some(tb)) => top(&sig) == Some(ta) && sig[tb].vetoed,
                    _ => true,
                };
                if holds {
                    *out.last_mut().expect("a is the last") = (joined, sig, ev);
                    last_joined = true;
                    continue;
                }
            }
            out.push(b);
            last_joined = false;
        }
        *parts = out;
    }

    fn find_item(&self, normalized: &str) -> Option<String> {
        let m = self.items.as_ref()?.find(normalized)?;
        Some(self.item_words[m.pattern().as_usize()].clone())
    }

    /// Keyword and pattern signals of one clause.
    fn clause_signals(
        &self,
        msg: &str,
        range: std::ops::Range<usize>,
        hits: &[keywords::Hit],
        literals: &[keywords::Hit],
        pinyin_mode: bool,
        explain: bool,
    ) -> (Vec<Signals>, Evidence) {
        let text = &msg[range.clone()];
        let n = self.intents.len();
        let mut sig = vec![Signals::default(); n];
        let mut ev = Evidence::default();
        // Keywords: each phrase counts once per clause.
        let mut seen = PhraseSet::new(self.keywords.phrases.len());
        let here = keywords::within_slice(hits, &range);
        let inside = keywords::subsumed(&self.keywords.phrases, &here);
        for (_, h) in here.iter().enumerate().filter(|&(k, _)| !inside.get(k)) {
            if !seen.insert(h.phrase) {
                continue;
            }
            let p = &self.keywords.phrases[h.phrase];
            let s = &mut sig[p.intent];
            match p.kind {
                Keyword::Negative => s.vetoed = true,
                _ => s.keywords += p.weight,
            }
            if explain {
                ev.keywords.push((
                    p.text.clone(),
                    self.intents[p.intent].id.clone(),
                    p.kind.as_str(),
                ));
            }
        }
        // A subsumed phrase is not found again by sound either.
        for (_, h) in here.iter().enumerate().filter(|&(k, _)| inside.get(k)) {
            seen.insert(h.phrase);
        }
        // Written phrases that leave no doubt (one intent, strong evidence)
        // settle the clause: sound and patterns could only agree (measured: the
        // two passes are a third of a message's cost).
        if !pinyin_mode && unopposed(&sig) {
            return (sig, ev);
        }
        // The same phrases by sound: pinyin typed as such (full weight), or
        // homophone typos in Chinese (reduced weight, and no vetoes by sound).
        if let Some(ac) = self
            .py_keywords
            .as_ref()
            .filter(|_| pinyin_mode || text.chars().any(segment::is_cjk))
        {
            // The code in scratch space reused by the thread (put back below).
            let mut py = SOUND_SCRATCH.take();
            self.sound.encode_into(&self.pinyin, text, &mut py);
            // A typo by sound keeps a character of the word (便意点 for
            // 便宜点); a run that shares none is other words that sound alike
            // across their boundary (滤芯可以 is not 新客). Pinyin words in the
            // clause (shai tu fan 多少钱) are spellings, not typos. The
            // clause's characters are sorted once, at the first hit, so the
            // test costs no walk of the clause per phrase heard.
            let typos = !pinyin_mode && !text.bytes().any(|b| b.is_ascii_alphabetic());
            // Pinyin typed among the characters (你hao, 发huo了吗) spells the
            // phrase: it counts, and vetoes, as pinyin does, not as a typo.
            let mut spelled: Option<bool> = pinyin_mode.then_some(true);
            let mut have: Option<segment::Hanzi> = None;
            for m in ac.find_overlapping_iter(&py) {
                let k = self.py_owner[m.pattern().as_usize()];
                if !seen.insert(k) {
                    continue;
                }
                let p = &self.keywords.phrases[k];
                if typos {
                    let have = have.get_or_insert_with(|| segment::Hanzi::of(text));
                    if !p.text.chars().any(|c| have.contains(c)) {
                        continue;
                    }
                }
                let spelled =
                    *spelled.get_or_insert_with(|| !typos && self.pinyin.is_spelled_mix(text));
                let s = &mut sig[p.intent];
                match p.kind {
                    Keyword::Negative if spelled => s.vetoed = true,
                    Keyword::Negative => continue,
                    _ => s.keywords += p.weight * if spelled { 1.0 } else { HOMOPHONE_WEIGHT },
                }
                if explain {
                    ev.keywords.push((
                        format!("{} (by sound)", p.text),
                        self.intents[p.intent].id.clone(),
                        p.kind.as_str(),
                    ));
                }
            }
            SOUND_SCRATCH.set(py);
        }
        let found = keywords::within(literals, &range)
            .map(|h| (h.phrase, h.start - range.start, h.end - range.start));
        for m in self.patterns.matches_given(text, found) {
            let i = self.patterns.intent[m];
            sig[i].patterns += 1;
            if explain {
                ev.patterns
                    .push((self.patterns.source[m].clone(), self.intents[i].id.clone()));
            }
        }
        (sig, ev)
    }

    /// Adds the similarity of the retrieved examples to a clause's signals.
    fn add_examples(
        &self,
        text: &str,
        sig: &mut [Signals],
        ev: &mut Evidence,
        neighbours: &[(usize, f32)],
        pinyin_mode: bool,
        explain: bool,
    ) {
        let q = if pinyin_mode {
            hash_all(&pinyin::tokens(&self.pinyin.transliterate(text)))
        } else {
            segment::token_hashes(text)
        };
        let h = &self.example_hashes;
        // Every neighbour's token hashes miss the cache: read their first
        // words in one branch-free pass, so the misses overlap.
        let mut touch = 0u64;
        for &(ex, _) in neighbours {
            touch ^= h.of(ex, pinyin_mode).first().copied().unwrap_or(0);
        }
        std::hint::black_box(touch);
        for &(ex, _bm25) in neighbours {
            let sim = score::cosine(&q, h.of(ex, pinyin_mode));
            if sim <= 0.0 {
                continue;
            }
            let intent = h.intent(ex);
            let s = &mut sig[intent];
            s.example = s.example.max(sim);
            if explain {
                let e = &self.examples[ex];
                ev.examples.push((
                    format!("{} ({}:{})", e.text, e.file, e.line),
                    self.intents[e.intent].id.clone(),
                    sim,
                ));
            }
        }
        ev.examples.sort_by(|a, b| b.2.total_cmp(&a.2));
    }

    /// How far a polite reading of a clause must lead a real one to stand
    /// instead: well ahead of a real question, but only level with an
    /// off-topic reading (`暂时没`: a closing pattern against a loose
    /// resemblance to an off-topic example is a closing).
    fn social_margin(&self, real: Scored) -> f32 {
        if self.intents[real.intent].id == NONE {
            OFF_TOPIC_MARGIN
        } else {
            SOCIAL_MARGIN
        }
    }

    /// The closing of a message whose every other clause only reports
    /// something done ("差价退回来了，谢谢", "好了，已取消"): the buyer says
    /// how things stand and signs off; nothing is asked.
    fn signed_off(&self, clauses: &[Clause]) -> Option<Scored> {
        // A closing on top of its clause, sure of itself or stated by a
        // phrase of the closing file (好了, 可以了: a pattern says so).
        let is_bye = |t: &Scored, c: &Clause| {
            self.intents[t.intent].yields
                && self.intents[t.intent].id == CLOSING
                && (t.confidence >= SOCIAL_LONG_MIN || c.stated.contains(&t.intent))
        };
        let mut bye: Option<Scored> = None;
        let mut reports = 0;
        for c in clauses {
            match c.ranking.first().copied() {
                Some(t) if is_bye(&t, c) => {
                    if bye.is_none_or(|b| t.confidence > b.confidence) {
                        bye = Some(t);
                    }
                }
                Some(t) if self.intents[t.intent].yields && !substantive(&c.text) => {}
                // A fault or a loss reported (镜子碎了) is a case for a person,
                // not a sign-off.
                top if reports_done(&c.text)
                    && top.is_none_or(|t| self.intents[t.intent].action != Action::Escalate) =>
                {
                    reports += 1
                }
                _ => return None,
            }
        }
        bye.filter(|_| reports > 0)
    }

    /// Absorption inside one clause: when a reading the clause states
    /// outright absorbs the clause's top reading and scores nearly as much,
    /// both are there, and the absorbing one is the answer, as it is across
    /// clauses ("选的跟收到的不一样 可以申请退货吧": a claimed flaw with a
    /// return asked for is a defect, however the two phrases' weights fall).
    fn absorbed_in_clause(&self, c: &Clause, top: Scored) -> Scored {
        self.stated_instead(c, top, ABSORB_NEAR, |r| {
            self.intents[r].absorbs.contains(&top.intent)
        })
    }

    /// The operator's words break a near tie: when the clause's top reading
    /// rests on hints and loosely similar examples alone and a reading a
    /// keyword or pattern states scores nearly as much, the stated one is the
    /// clause's reading.
    fn stated_in_clause(&self, c: &Clause, top: Scored) -> Scored {
        // An example nearly the clause itself is the operator's word too.
        if c.stated.contains(&top.intent) || c.taught.contains(&top.intent) {
            return top;
        }
        self.stated_instead(c, top, STATED_NEAR, |_| true)
    }

    /// The best real reading of clause `c` other than `top` that the clause
    /// states, scores at least `share` of `top` and passes `also`, in `top`'s
    /// place (with `top`'s confidence: the clause stays as unsure as it was);
    /// `top` when there is none.
    fn stated_instead(
        &self,
        c: &Clause,
        top: Scored,
        share: f32,
        also: impl Fn(usize) -> bool,
    ) -> Scored {
        c.ranking
            .iter()
            .filter(|r| {
                r.intent != top.intent
                    && !self.intents[r.intent].yields
                    && c.stated.contains(&r.intent)
                    && r.score >= share * top.score
                    && also(r.intent)
            })
            .max_by(|a, b| a.score.total_cmp(&b.score))
            .map_or(top, |r| Scored {
                confidence: top.confidence,
                ..*r
            })
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
        // Polite intents some clause states plainly ("谢谢亲").
        let mut plain_social: Vec<usize> = clauses
            .iter()
            .filter_map(|c| c.ranking.first())
            .filter(|t| soft(t) && t.confidence >= SOCIAL_LONG_MIN)
            .map(|t| t.intent)
            .collect();
        // At most one entry per intent, so the test below is not clauses × clauses.
        plain_social.sort_unstable();
        plain_social.dedup();
        for c in clauses {
            // Greeting-like intents and real questions are read separately: a
            // weak 请问 must not hide the stock question in the same clause.
            let mut social_top = c.ranking.first().copied().filter(|t| soft(t));
            let mut real_ranked = c.ranking.iter().filter(|t| !soft(t));
            let real_top = real_ranked.next().map(|t| {
                let next = real_ranked.next().map_or(0.0, |n| n.score);
                Scored {
                    confidence: score::confidence(t.score, next),
                    ..*t
                }
            });
            let real_top =
                real_top.map(|t| self.stated_in_clause(c, self.absorbed_in_clause(c, t)));
            // In a short clause beside one that says the polite thing plainly,
            // a real reading that is not clearly ahead of that polite one is an
            // echo of it ("没有问题啦 谢谢亲": authenticity 1.07 against closing
            // 0.94; "行 没有问题了 谢谢老板": closing on top, authenticity 1.07).
            let polite = c.ranking.iter().copied().find(|t| soft(t));
            let echo = match (polite, real_top) {
                (Some(p), Some(r)) if units(&c.text) <= SOCIAL_MAX_LEN => {
                    // The clause's confidence against every reading, the polite one included.
                    let weak = c.ranking.first().is_some_and(|t| t.confidence < WEAK_REAL);
                    plain_social.contains(&p.intent)
                        && (social_top.is_some() || weak && p.score >= NEAR_SOCIAL * r.score)
                }
                _ => false,
            };
            // A clause a polite pattern frames whole and that asks nothing is
            // the buyer's sign-off: the topic inside it is the step they will
            // take (那我就等着退款了), not a question. An example the clause
            // nearly is (a taught phrasing: 啊啊啊啊啊 is none's) still rules.
            let framed = polite.is_some_and(|p| c.framed().contains(&p.intent))
                && !is_question(&c.text)
                && real_top.is_none_or(|r| !c.taught.contains(&r.intent));
            let echo = echo || framed;
            if echo {
                social_top = polite;
            }
            if let Some(t) = social_top.filter(|t| t.score >= NONE_BELOW) {
                // A long clause that only sounds polite ("你好，请问附近哪里有...")
                // is not a greeting: its substance goes unexplained.
                // … unless a pattern of the polite file states it (我去重新下单了).
                if units(&c.text) <= SOCIAL_MAX_LEN
                    || t.confidence >= SOCIAL_LONG_MIN
                    || c.framed().contains(&t.intent)
                {
                    social.push(t);
                } else if real_top.is_none_or(|r| r.score < NONE_BELOW) {
                    unexplained = true;
                }
            }
            match real_top {
                Some(t)
                    if !echo
                        && t.score >= NONE_BELOW
                        && social_top.is_none_or(|s| s.score < self.social_margin(t) * t.score) =>
                {
                    real.push(t);
                    if best_real.is_none_or(|b| t.confidence > b.confidence) {
                        best_real = Some(t);
                    }
                }
                Some(t) => {
                    if best_real.is_none_or(|b| t.confidence > b.confidence) {
                        best_real = Some(t);
                    }
                    if social_top.is_none() {
                        unexplained |= substantive(&c.text);
                    }
                }
                None if social_top.is_none() => unexplained |= substantive(&c.text),
                None => {}
            }
        }
        real.sort_by(|a, b| {
            b.confidence
                .total_cmp(&a.confidence)
                .then(b.score.total_cmp(&a.score))
        });
        let mut picked: Vec<Scored> = Vec::new();
        for (k, r) in real.iter().enumerate() {
            if let Some(p) = picked.iter_mut().find(|p| p.intent == r.intent) {
                p.confidence = p.confidence.max(r.confidence);
                continue;
            }
            // A second question is admitted on its own confidence; one that needs
            // a person (a defect beside a return question) on a lower bar, since a
            // missed escalation costs a shop more than an extra one.
            let bar = if self.intents[r.intent].action == Action::Escalate {
                SECOND_MIN_ESCALATE
            } else {
                SECOND_MIN
            };
            if k == 0 || (r.confidence >= bar && r.score >= SECOND_SCORE) {
                picked.push(*r);
            }
        }
        // A report then a thank-you signs off (see `signed_off`).
        if let Some(bye) = self.signed_off(clauses) {
            return (vec![bye], bye.confidence);
        }
        // Off-topic examples (the `none` file) win only as the main reading.
        if let Some(first) = picked.first() {
            if self.intents[first.intent].id == NONE {
                return (Vec::new(), first.confidence);
            }
            picked.retain(|p| self.intents[p.intent].id != NONE);
        }
        if picked.is_empty() {
            if !social.is_empty() && !unexplained {
                social.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
                return (vec![social[0]], social[0].confidence);
            }
            return match best_real {
                // A weak reading is still the best guess: it goes out with its
                // low confidence (so the bot escalates, below any sensible
                // `nlu.threshold`) and the agent sees what it was about.
                Some(b) if b.score >= GUESS_FROM => (vec![b], b.confidence),
                // Nothing fits, and the `none` file (the off-topic examples)
                // did not say so either: an unknown, not a confident `none`.
                Some(_) | None => (Vec::new(), 0.0),
            };
        }
        // A reading that absorbs a picked one comes in below the second
        // bar: "已经发出了吧 大概什么时候到" asks when that parcel arrives
        // (logistics absorbs delivery_time), however sure the first clause is.
        for r in &real {
            let absorbs_picked = self.intents[r.intent]
                .absorbs
                .iter()
                .any(|a| picked.iter().any(|p| p.intent == *a));
            if absorbs_picked
                && r.confidence >= ABSORB_MIN
                && r.score >= SECOND_SCORE
                && picked.iter().all(|p| p.intent != r.intent)
            {
                picked.push(*r);
            }
        }
        let absorbed: Vec<usize> = picked
            .iter()
            .flat_map(|p| self.intents[p.intent].absorbs.iter().copied())
            .collect();
        if picked.iter().any(|p| !absorbed.contains(&p.intent)) {
            picked.retain(|p| !absorbed.contains(&p.intent));
        }
        let conf = picked.iter().map(|p| p.confidence).fold(1.0, f32::min);
        (picked, conf)
    }
}

/// Marks of a question, a want or a problem: a clause holding one is not a
/// plain report.
const NOT_A_REPORT: &[&str] = &[
    "?",
    "吗",
    "么",
    "嘛",
    "呢",
    "吧",
    "怎么",
    "什么",
    "为什么",
    "为啥",
    "多少",
    "多久",
    "几",
    "哪",
    "能",
    "可以",
    "要",
    "想",
    "请",
    "帮",
    "麻烦",
    "没",
    "不",
    "未",
    "还",
    "别",
    "才",
    "但",
];

/// A clause that reports something done or settled (退回来了, 已取消,
/// 快递员联系我了): a completion mark and nothing that asks, wants or
/// complains.
fn reports_done(clause: &str) -> bool {
    let done = clause.starts_with('已')
        || clause.contains("已经")
        || clause.ends_with('了')
        || clause.ends_with('啦');
    done && !NOT_A_REPORT.iter().any(|m| clause.contains(m))
}

/// The closing intent's id.
const CLOSING: &str = "closing";

/// Which phrases a clause has counted (a `HashSet` of indices cost a hash
/// and an allocation per hit): the first few in a list on the stack (a chat
/// clause counts a handful: no allocation), then one bit per phrase (a long
/// clause dense with phrases stays linear).
struct PhraseSet {
    few: [u32; PHRASE_SET_FEW],
    len: usize,
    bits: Vec<u64>,
    phrases: usize,
}

/// Phrases a [`PhraseSet`] holds before it allocates its bits.
const PHRASE_SET_FEW: usize = 16;

impl PhraseSet {
    fn new(phrases: usize) -> PhraseSet {
        PhraseSet {
            few: [0; PHRASE_SET_FEW],
            len: 0,
            bits: Vec::new(),
            phrases,
        }
    }

    /// Adds `k`; false when it was already there (as `HashSet::insert`).
    fn insert(&mut self, k: usize) -> bool {
        if self.bits.is_empty() {
            if self.few[..self.len].contains(&(k as u32)) {
                return false;
            }
            if self.len < PHRASE_SET_FEW {
                self.few[self.len] = k as u32;
                self.len += 1;
                return true;
            }
            self.bits = vec![0; self.phrases.div_ceil(64).max(1)];
            for i in 0..self.len {
                let f = self.few[i] as usize;
                self.bits[f / 64] |= 1 << (f % 64);
            }
        }
        let (word, bit) = (k / 64, 1u64 << (k % 64));
        let new = self.bits[word] & bit == 0;
        self.bits[word] |= bit;
        new
    }
}

/// Chinese characters plus Latin words (runs of ASCII letters and digits)
/// of a clause, in one pass (it runs several times per message).
pub fn units(clause: &str) -> usize {
    units_up_to(clause, usize::MAX)
}

/// [`units`], counted only up to `limit` (the count only grows, so a test
/// against a small bar stops early).
fn units_up_to(clause: &str, limit: usize) -> usize {
    let (mut n, mut in_word) = (0, false);
    for c in clause.chars() {
        let word = c.is_ascii_alphanumeric();
        n += (word && !in_word) as usize + segment::is_cjk(c) as usize;
        if n >= limit {
            return n;
        }
        in_word = word;
    }
    n
}

/// Tails that end a question without being part of it.
const QUESTION_TAIL: &[char] = &['哈', '呀', '啊', '哦', '亲', '?', '!', ' '];
/// Words that make a clause a question wherever they stand (a want of an
/// explanation, 不明白, included).
const QUESTION_WORDS: &[&str] = &[
    "是不是",
    "能不能",
    "可不可以",
    "有没有",
    "是否",
    "啥",
    "咋",
    "不明白",
    "不太明白",
    "不清楚",
    "不太清楚",
    "不懂",
    "不太懂",
    "怎么",
    "什么",
    "多少",
    "多久",
    "为什么",
    "哪",
];

/// A clause that asks: a question particle at its end (吗, 么, 嘛, 呢; 吧 only
/// as a tag, 是吧 / 对吧 / 了吧, since a bare 吧 is a request: 那你弄吧), or
/// a question word anywhere.
fn is_question(clause: &str) -> bool {
    let t = clause.trim_end_matches(QUESTION_TAIL);
    t.ends_with(['吗', '么', '嘛', '呢'])
        || ["是吧", "对吧", "了吧"].iter().any(|m| t.ends_with(m))
        || question_words().is_match(clause)
}

/// [`QUESTION_WORDS`] as one automaton, built once: a clause is read once
/// instead of once per word (it is asked of every clause, several times).
fn question_words() -> &'static AhoCorasick {
    static WORDS: std::sync::OnceLock<AhoCorasick> = std::sync::OnceLock::new();
    WORDS.get_or_init(|| AhoCorasick::new(QUESTION_WORDS).expect("fixed question words"))
}

/// A clause with enough content to be a question of its own: three Chinese
/// characters or three words (not 亲, 老板, "hi there").
fn substantive(clause: &str) -> bool {
    // Asked of every clause several times: stop at the third unit.
    units_up_to(clause, 3) >= 3
}

thread_local! {
    /// Scratch space for a clause's syllable code (see [`pinyin::SoundCode`]).
    static SOUND_SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A clause's intents ranked by score, with confidences.
fn rank(text: &str, sig: &[Signals], evidence: Evidence) -> Clause {
    // One pass over the intents computes each score once and counts what each
    // list holds, so every list is allocated once at its length (collecting
    // through `filter` grew each from 4 a push at a time: measured, `rank` was
    // 6 % of classification's instructions for about 30 scores).
    let mut few = [0f32; 64];
    let mut many = Vec::new();
    let scores: &mut [f32] = if sig.len() <= few.len() {
        &mut few[..sig.len()]
    } else {
        many.resize(sig.len(), 0.0);
        &mut many
    };
    let (mut positive, mut framed, mut keyed, mut taught_n) = (0, 0, 0, 0);
    for (x, s) in scores.iter_mut().zip(sig) {
        *x = s.score();
        positive += (*x > 0.0) as usize;
        framed += by_pattern(s) as usize;
        keyed += by_keyword(s) as usize;
        taught_n += by_example(s) as usize;
    }
    let mut ranking: Vec<Scored> = Vec::with_capacity(positive);
    for (i, &score) in scores.iter().enumerate() {
        if score > 0.0 {
            ranking.push(Scored {
                intent: i,
                score,
                confidence: 0.0,
            });
        }
    }
    ranking.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.intent.cmp(&b.intent)));
    for k in 0..ranking.len() {
        let next = ranking.get(k + 1).map_or(0.0, |s| s.score);
        // Each entry's confidence is judged against the one below it for the
        // first; later entries are judged against the best.
        ranking[k].confidence = if k == 0 {
            score::confidence(ranking[0].score, next)
        } else {
            score::confidence(ranking[k].score, ranking[0].score).max(0.0)
        };
    }
    // The intents a pattern states first, then the ones a keyword states.
    let mut stated = Vec::with_capacity(framed + keyed);
    if framed > 0 {
        stated.extend((0..sig.len()).filter(|&i| by_pattern(&sig[i])));
    }
    if keyed > 0 {
        stated.extend((0..sig.len()).filter(|&i| by_keyword(&sig[i])));
    }
    let mut taught = Vec::with_capacity(taught_n);
    if taught_n > 0 {
        taught.extend((0..sig.len()).filter(|&i| by_example(&sig[i])));
    }
    Clause {
        text: text.to_string(),
        ranking,
        evidence,
        stated,
        framed,
        taught,
    }
}

/// A pattern states the intent in the clause.
fn by_pattern(s: &Signals) -> bool {
    !s.vetoed && s.patterns > 0
}

/// A keyword, and no pattern, states the intent in the clause.
fn by_keyword(s: &Signals) -> bool {
    !s.vetoed && s.keywords >= STATED_KEYWORD && s.patterns == 0
}

/// An example nearly the clause itself is of the intent.
fn by_example(s: &Signals) -> bool {
    !s.vetoed && s.example >= TAUGHT_SIMILARITY
}

/// Phrases alone settle a clause: strong evidence for one intent, little for
/// any other.
fn decisive(sig: &[Signals]) -> bool {
    // The two highest scores in one pass (as the first two of a descending
    // `total_cmp` sort, with no allocation).
    let (mut best, mut second): (Option<f32>, Option<f32>) = (None, None);
    for x in sig.iter().map(Signals::score) {
        if best.is_none_or(|b| x.total_cmp(&b).is_gt()) {
            second = best;
            best = Some(x);
        } else if second.is_none_or(|s| x.total_cmp(&s).is_gt()) {
            second = Some(x);
        }
    }
    let (best, second) = (best.unwrap_or(0.0), second.unwrap_or(0.0));
    best >= DECISIVE && second <= 0.4 * best
}

/// One intent has strong keyword evidence and no other intent has any.
fn unopposed(sig: &[Signals]) -> bool {
    let mut strong = 0;
    for s in sig {
        if s.vetoed || s.keywords > 0.0 {
            if s.vetoed || s.keywords < UNOPPOSED {
                return false;
            }
            strong += 1;
        }
    }
    strong == 1
}

/// Keyword weight from which an unopposed intent settles a clause.
const UNOPPOSED: f32 = 1.5;

/// Keyword and pattern score from which a clause needs no example search.
const DECISIVE: f32 = 1.2;

#[cfg(test)]
mod tests {
    use super::{is_question, reports_done, units, PhraseSet};

    /// `rank` as first written (three filtered collects, scores computed in
    /// each), the reference for the one-pass version.
    fn rank_reference(sig: &[super::Signals]) -> String {
        use super::{Scored, STATED_KEYWORD, TAUGHT_SIMILARITY};
        let mut ranking: Vec<Scored> = sig
            .iter()
            .enumerate()
            .map(|(i, s)| Scored {
                intent: i,
                score: s.score(),
                confidence: 0.0,
            })
            .filter(|s| s.score > 0.0)
            .collect();
        ranking.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.intent.cmp(&b.intent)));
        for k in 0..ranking.len() {
            let next = ranking.get(k + 1).map_or(0.0, |s| s.score);
            ranking[k].confidence = if k == 0 {
                super::score::confidence(ranking[0].score, next)
            } else {
                super::score::confidence(ranking[k].score, ranking[0].score).max(0.0)
            };
        }
        let by_pattern = |s: &super::Signals| !s.vetoed && s.patterns > 0;
        let mut stated: Vec<usize> = sig
            .iter()
            .enumerate()
            .filter(|(_, s)| by_pattern(s))
            .map(|(i, _)| i)
            .collect();
        let framed = stated.len();
        stated.extend(
            sig.iter()
                .enumerate()
                .filter(|(_, s)| !s.vetoed && s.keywords >= STATED_KEYWORD && s.patterns == 0)
                .map(|(i, _)| i),
        );
        let taught: Vec<usize> = sig
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.vetoed && s.example >= TAUGHT_SIMILARITY)
            .map(|(i, _)| i)
            .collect();
        format!("{ranking:?} {stated:?} {framed} {taught:?}")
    }

    /// The one-pass `rank` gives what the three collects gave: ties, vetoes,
    /// every list empty or full, and more intents than its stack scores hold.
    #[test]
    fn rank_is_the_reference() {
        use super::Signals;
        let kinds = [
            Signals::default(),
            Signals {
                keywords: 1.0,
                ..Signals::default()
            },
            Signals {
                keywords: 0.3,
                example: 0.5,
                ..Signals::default()
            },
            Signals {
                patterns: 2,
                keywords: 1.5,
                ..Signals::default()
            },
            Signals {
                example: 0.95,
                ..Signals::default()
            },
            Signals {
                keywords: 3.0,
                patterns: 1,
                example: 0.9,
                vetoed: true,
            },
            Signals {
                keywords: 1.0,
                ..Signals::default()
            },
        ];
        for n in [0usize, 1, 2, 7, 28, 64, 65, 130] {
            for shift in 0..kinds.len() {
                let sig: Vec<Signals> = (0..n)
                    .map(|i| kinds[(i * 5 + shift + i / 7) % kinds.len()])
                    .collect();
                let c = super::rank("text", &sig, super::Evidence::default());
                let got = format!("{:?} {:?} {} {:?}", c.ranking, c.stated, c.framed, c.taught);
                assert_eq!(got, rank_reference(&sig), "{n} {shift}");
            }
        }
    }

    #[test]
    fn a_phrase_set_is_a_set_past_its_few() {
        let mut set = PhraseSet::new(300);
        let mut want = std::collections::HashSet::new();
        // Repeats and more distinct phrases than fit in the list.
        for k in (0..40).chain(0..40).chain([299, 0, 299, 64, 63]) {
            assert_eq!(set.insert(k), want.insert(k), "{k}");
        }
    }

    #[test]
    fn units_count_chinese_characters_and_latin_words() {
        // (clause, units); the count is that of the two-pass definition:
        // CJK characters plus the non-empty pieces between non-alphanumerics.
        let rows = [
            ("", 0),
            ("有货吗", 3),
            ("l码有吗", 4),
            ("is this in stock", 4),
            ("165cm 好", 2),
            ("a-b_c", 3),
            ("  hi  there ", 2),
            ("好😀好", 2),
            ("éa", 1),
            ("x1好y2", 3),
        ];
        for (clause, want) in rows {
            let two_pass = clause
                .chars()
                .filter(|&c| crate::segment::is_cjk(c))
                .count()
                + clause
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .count();
            assert_eq!(two_pass, want, "{clause}");
            assert_eq!(units(clause), want, "{clause}");
            // The early-stopping test is the count's.
            assert_eq!(crate::substantive(clause), want >= 3, "{clause}");
        }
        for clause in ["亲", "老板", "hi there", "ab 好", "在吗?", "a b c", "好 1"] {
            assert_eq!(crate::substantive(clause), units(clause) >= 3, "{clause}");
        }
    }

    #[test]
    fn a_question_by_its_particle_or_word() {
        // (clause, asks)
        let rows = [
            ("备注有用吗", true),
            ("发了没呢", true),
            ("确定拍上了是吧", true),
            ("能到了吧哈", true),
            ("这个多少钱", true),
            ("有没有黑色", true),
            ("怎么又坏了", true),
            ("想看看是否可以早点派", true),
            ("订单取消了 不太明白", true),
            // a request or a report
            ("那你弄吧", false),
            ("好的谢谢", false),
            ("已经付款了", false),
        ];
        for (clause, want) in rows {
            assert_eq!(is_question(clause), want, "{clause}");
        }
        // The automaton finds a word exactly where `contains` does.
        for clause in [
            "是不是真的",
            "哪",
            "有没",
            "不太明白了",
            "怎",
            "多少钱",
            "abc",
            "",
        ] {
            assert_eq!(
                super::question_words().is_match(clause),
                super::QUESTION_WORDS.iter().any(|w| clause.contains(w)),
                "{clause}"
            );
        }
    }

    #[test]
    fn a_report_of_something_done_asks_nothing() {
        // (clause, a plain report of something done)
        let rows = [
            ("差价退回来了", true),
            ("已取消", true),
            ("快递员联系我了", true),
            ("钱已经到账啦", true),
            // asks, wants or complains
            ("退回来了吗", false),
            ("还没到账", false),
            ("能退了", false),
            ("我想取消了", false),
            ("怎么又坏了", false),
            // nothing done
            ("这么快", false),
            ("谢谢", false),
        ];
        for (clause, want) in rows {
            assert_eq!(reports_done(clause), want, "{clause}");
        }
    }
}
