//! The catalog's word index: one tantivy in-RAM index over the words of
//! attributes (the buyers' words for each attribute concept, the shops' own
//! attribute keys, every item's attribute values) and the FAQ questions
//! (items' and the shop's). A question retrieves its candidates there,
//! restricted to its item and the shop; [`WordIndex::search`] then checks
//! each candidate (a phrase must occur in the question, a FAQ question must
//! be covered well enough), so retrieval never decides on its own.

use super::{Faq, Item};
use crate::normalize::Normalizer;
use crate::segment;
use serde::Deserialize;
use std::collections::HashMap;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, STRING,
};
use tantivy::tokenizer::{TextAnalyzer, WhitespaceTokenizer};
use tantivy::{Index, IndexReader, ReloadPolicy, Searcher, Term};

const TOKENIZER: &str = "xiaoer_catalog";
/// Owner of the concept phrases and attribute keys (every item's).
const ANY: &str = "\u{1}any";
/// Owner of the shop-wide FAQ.
const SHOP: &str = "\u{1}shop";
/// Candidates read per question.
const CANDIDATES: usize = 40;
/// Most query terms per question (its rarest tokens).
const MAX_TERMS: usize = 12;

/// The built-in words buyers use for attributes.
const ATTRIBUTE_WORDS: &str = include_str!("attribute_words.toml");

#[derive(Deserialize)]
struct RawConcepts {
    concept: Vec<RawConcept>,
}

#[derive(Deserialize)]
struct RawConcept {
    keys: Vec<String>,
    words: Vec<String>,
}

/// An attribute concept: the keys shops write, the words buyers use.
#[derive(Debug, Clone)]
pub struct Concept {
    /// Keys, normalised.
    pub keys: Vec<String>,
    /// Buyers' words, normalised.
    pub words: Vec<String>,
}

impl Concept {
    /// The concept's own name (its first key), for summaries.
    pub fn name(&self) -> &str {
        &self.keys[0]
    }

    /// An item's attribute key belongs to this concept.
    pub fn covers(&self, key_normalized: &str) -> bool {
        self.keys
            .iter()
            .any(|k| key_normalized.contains(k.as_str()))
    }
}

/// What a document of the index stands for.
#[derive(Debug, Clone)]
pub enum Doc {
    /// A buyer's word for a concept.
    Word {
        /// Index into [`WordIndex::concepts`].
        concept: usize,
    },
    /// A shop's attribute key (as normalised) of some item.
    Key,
    /// An attribute value of an item.
    Value {
        /// The item.
        item: usize,
        /// Index into its attributes.
        attr: usize,
    },
    /// A FAQ question.
    Faq {
        /// The item (`None`: the shop's FAQ).
        item: Option<usize>,
        /// Index into that FAQ list.
        faq: usize,
    },
}

/// A checked hit.
#[derive(Debug, Clone, PartialEq)]
pub enum Hit {
    /// The question names an attribute: by one of the item's keys
    /// (`attr`), or by a concept's word (`concept`, with `attr` when the
    /// item has an attribute of that concept). `len`: characters matched.
    Attribute {
        /// Index into the item's attributes, when it has it.
        attr: Option<usize>,
        /// The concept named, if it was a concept word.
        concept: Option<usize>,
        /// Characters of the phrase matched.
        len: usize,
    },
    /// The question uses a word of an attribute value of the item.
    Value {
        /// Index into the item's attributes.
        attr: usize,
    },
    /// A FAQ entry, with how well its question covers the buyer's.
    Faq {
        /// The item (`None`: the shop's).
        item: Option<usize>,
        /// Index into that FAQ list.
        faq: usize,
        /// 0..1.
        similarity: f32,
    },
}

/// The index.
pub struct WordIndex {
    searcher: Searcher,
    _reader: IndexReader,
    text: tantivy::schema::Field,
    owner: tantivy::schema::Field,
    doc_ref: Vec<Vec<u32>>,
    /// Per document: what it stands for (several items may share its
    /// text; in item order, the shop's last) and its normalised text.
    docs: Vec<(Vec<Doc>, String)>,
    /// Per document: its topic tokens with their weights (sorted by token)
    /// and the weights' sum, computed once at build instead of for every
    /// candidate of every question.
    topics: Vec<(Vec<(String, f32)>, f32)>,
    /// Every topic token of some FAQ question: a question sharing too little
    /// weight with them cannot reach a FAQ floor ([`WordIndex::faq_search`]).
    faq_words: std::collections::HashSet<String>,
    /// Document frequency of tokens (weights of the FAQ similarity).
    df: HashMap<String, u32>,
    /// The attribute concepts.
    pub concepts: Vec<Concept>,
    /// Normalised attribute keys per item.
    pub keys: Vec<Vec<String>>,
}

impl std::fmt::Debug for WordIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WordIndex")
            .field("docs", &self.docs.len())
            .finish()
    }
}

/// Characters that carry no topic in a question (particles, pronouns, modal
/// verbs): left out of the FAQ similarity.
fn filler(c: char) -> bool {
    "吗呢吧啊呀么嘛的了是这个那能可以会要请问亲你我们他她它有不没在款一下还和也都就呐哦喔滴咯啦件该"
        .contains(c)
}

/// The tokens of a normalised text that carry its topic.
pub fn topic_tokens(text: &str) -> Vec<String> {
    topic_of(segment::tokens(text))
}

/// [`topic_tokens`] of a text's [`segment::tokens`]: sorted, deduplicated.
fn topic_of(tokens: Vec<String>) -> Vec<String> {
    let mut t: Vec<String> = tokens
        .into_iter()
        .filter(|t| t != "#num" && !t.chars().all(filler))
        .filter(|t| {
            !(t.chars().count() == 2 && t.chars().any(filler) && t.chars().all(segment::is_cjk))
        })
        .collect();
    t.sort();
    t.dedup();
    t
}

impl WordIndex {
    /// Builds the index of a catalog.
    pub fn build(
        items: &[Item],
        shop_faq: &[Faq],
        norm: &Normalizer,
    ) -> tantivy::Result<WordIndex> {
        let raw: RawConcepts =
            toml::from_str(ATTRIBUTE_WORDS).expect("attribute_words.toml is valid (tested)");
        let concepts: Vec<Concept> = raw
            .concept
            .into_iter()
            .map(|c| Concept {
                keys: c
                    .keys
                    .iter()
                    .map(|k| norm.normalize(k))
                    .filter(|k| !k.is_empty())
                    .collect(),
                words: c
                    .words
                    .iter()
                    .map(|k| norm.normalize(k))
                    .filter(|k| !k.is_empty())
                    .collect(),
            })
            .filter(|c| !c.keys.is_empty())
            .collect();
        // One document per distinct text (a value or FAQ question many items
        // share is indexed once, with every owner): a 10,000-item catalog of
        // a few kinds of goods is a few thousand documents, not 100,000.
        let mut docs: Vec<(Vec<Doc>, String, Vec<String>)> = Vec::new();
        let mut at: HashMap<(u8, String), usize> = HashMap::new();
        let mut add = |group: u8, d: Doc, text: String, owner: &str| {
            let k = *at.entry((group, text.clone())).or_insert_with(|| {
                docs.push((Vec::new(), text, Vec::new()));
                docs.len() - 1
            });
            docs[k].0.push(d);
            if docs[k].2.last().map(String::as_str) != Some(owner) {
                docs[k].2.push(owner.to_string());
            }
        };
        // Normalising is most of the build's cost; shared texts are normalised once.
        let mut cache: HashMap<String, String> = HashMap::new();
        let mut normal = |s: &str| -> String {
            if let Some(n) = cache.get(s) {
                return n.clone();
            }
            let n = norm.normalize(s);
            cache.insert(s.to_string(), n.clone());
            n
        };
        for (k, c) in concepts.iter().enumerate() {
            for w in c.words.iter().chain(&c.keys) {
                add(0, Doc::Word { concept: k }, w.clone(), ANY);
            }
        }
        let mut keys = Vec::with_capacity(items.len());
        let mut seen_keys = std::collections::HashSet::new();
        for (i, it) in items.iter().enumerate() {
            let mut own = Vec::new();
            for (a, (key, value)) in it.attributes.iter().enumerate() {
                let nk = normal(key);
                if seen_keys.insert(nk.clone()) {
                    add(1, Doc::Key, nk.clone(), ANY);
                }
                own.push(nk);
                add(2, Doc::Value { item: i, attr: a }, normal(value), &it.id);
            }
            keys.push(own);
            for (f, faq) in it.faq.iter().enumerate() {
                for q in &faq.q {
                    add(
                        3,
                        Doc::Faq {
                            item: Some(i),
                            faq: f,
                        },
                        normal(q),
                        &it.id,
                    );
                }
            }
        }
        for (f, faq) in shop_faq.iter().enumerate() {
            for q in &faq.q {
                add(3, Doc::Faq { item: None, faq: f }, normal(q), SHOP);
            }
        }
        let mut schema = Schema::builder();
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqs);
        let text =
            schema.add_text_field("t", TextOptions::default().set_indexing_options(indexing));
        let owner = schema.add_text_field("o", STRING);
        let refs = schema.add_u64_field("r", NumericOptions::default().set_fast());
        let index = Index::create_in_ram(schema.build());
        index.tokenizers().register(
            TOKENIZER,
            TextAnalyzer::from(WhitespaceTokenizer::default()),
        );
        let mut writer =
            index.writer_with_num_threads::<tantivy::TantivyDocument>(1, 50_000_000)?;
        let mut df: HashMap<String, u32> = HashMap::new();
        let mut topics: Vec<Vec<String>> = Vec::with_capacity(docs.len());
        for (k, (_, t, owners)) in docs.iter().enumerate() {
            let toks = segment::tokens(t);
            let mut uniq = toks.clone();
            uniq.sort();
            uniq.dedup();
            topics.push(topic_of(uniq.clone()));
            for u in uniq {
                *df.entry(u).or_default() += 1;
            }
            let mut doc = tantivy::doc!(text => toks.join(" "), refs => k as u64);
            for o in owners {
                doc.add_text(owner, o);
            }
            writer.add_document(doc)?;
        }
        writer.commit()?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let searcher = reader.searcher();
        let mut doc_ref = Vec::new();
        for seg in searcher.segment_readers() {
            let col = seg.fast_fields().u64("r")?;
            doc_ref.push(
                (0..seg.max_doc())
                    .map(|d| col.first(d).unwrap_or(0) as u32)
                    .collect(),
            );
        }
        let n = docs.len();
        let weigh = |list: Vec<String>| {
            let w: Vec<(String, f32)> = list
                .into_iter()
                .map(|t| {
                    let d = weight_of(n, df.get(&t).copied().unwrap_or(0));
                    (t, d)
                })
                .collect();
            let total = w.iter().map(|(_, d)| d).sum();
            (w, total)
        };
        let faq_words = docs
            .iter()
            .zip(&topics)
            .filter(|((refs, _, _), _)| refs.iter().any(|d| matches!(d, Doc::Faq { .. })))
            .flat_map(|(_, t)| t.iter().cloned())
            .collect();
        let topics = topics.into_iter().map(weigh).collect();
        Ok(WordIndex {
            searcher,
            _reader: reader,
            text,
            owner,
            doc_ref,
            docs: docs.into_iter().map(|(d, t, _)| (d, t)).collect(),
            topics,
            faq_words,
            df,
            concepts,
            keys,
        })
    }

    fn weight(&self, token: &str) -> f32 {
        weight_of(self.docs.len(), self.df.get(token).copied().unwrap_or(0))
    }

    /// A question's topic tokens (sorted) with their weights, and their sum.
    fn weighed(&self, question: &[String]) -> (Vec<(String, f32)>, f32) {
        let w: Vec<(String, f32)> = question
            .iter()
            .map(|t| (t.clone(), self.weight(t)))
            .collect();
        let total = w.iter().map(|(_, d)| d).sum();
        (w, total)
    }

    /// How well FAQ question `faq_q` covers the buyer's question (both
    /// normalised), 0..1: the weighted share of the FAQ question's topic
    /// tokens found in the buyer's, times the share of the buyer's found in
    /// the FAQ question's, square-rooted (a geometric mean of the two).
    pub fn similarity(&self, question: &[String], faq_q: &str) -> f32 {
        let f = self.weighed(&topic_tokens(faq_q));
        similarity_of(&self.weighed(question), (&f.0, f.1))
    }

    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        doc: &Doc,
        r: usize,
        text: &str,
        question: &str,
        q_topic: &[String],
        q_weighed: &(Vec<(String, f32)>, f32),
        item_idx: Option<usize>,
        hits: &mut Vec<Hit>,
    ) {
        match doc {
            Doc::Word { concept } => {
                if question.contains(text) {
                    let attr = item_idx.and_then(|i| {
                        self.keys[i]
                            .iter()
                            .position(|k| self.concepts[*concept].covers(k))
                    });
                    hits.push(Hit::Attribute {
                        attr,
                        concept: Some(*concept),
                        len: text.chars().count(),
                    });
                }
            }
            Doc::Key => {
                if let Some(i) = item_idx {
                    if let Some(a) = self.keys[i].iter().position(|k| k == text) {
                        if question.contains(text) {
                            hits.push(Hit::Attribute {
                                attr: Some(a),
                                concept: None,
                                len: text.chars().count() + 1,
                            });
                        }
                    }
                }
            }
            Doc::Value { item: i, attr } => {
                if Some(*i) == item_idx {
                    let shared = self.topics[r]
                        .0
                        .iter()
                        .any(|(t, _)| t.chars().count() >= 2 && q_topic.binary_search(t).is_ok());
                    if shared {
                        hits.push(Hit::Value { attr: *attr });
                    }
                }
            }
            Doc::Faq { item: i, faq } => {
                if i.is_none() || *i == item_idx {
                    let (f, total) = &self.topics[r];
                    hits.push(Hit::Faq {
                        item: *i,
                        faq: *faq,
                        similarity: similarity_of(q_weighed, (f, *total)),
                    });
                }
            }
        }
    }

    /// The checked hits of a normalised question about `item` (`id` its
    /// id): attribute phrases that occur in it, values it shares a word
    /// with, FAQ entries (the item's and the shop's) with their similarity.
    pub fn search(&self, question: &str, item: Option<(usize, &str)>) -> Vec<Hit> {
        let q_topic = topic_tokens(question);
        self.search_topics(question, q_topic, item)
    }

    /// [`WordIndex::search`] for FAQ entries only, with similarity at least
    /// `floor`: no search at all when the question shares too little with
    /// every FAQ question to reach it. A FAQ question's similarity is at most
    /// √(w / total), `w` the weight of the buyer's topic tokens that occur in
    /// some FAQ question and `total` that of all of them (the shared weight is
    /// at most the FAQ question's own total), so below `floor²` nothing can
    /// pass; a long message about something else costs no query.
    pub fn faq_search(&self, question: &str, item: Option<(usize, &str)>, floor: f32) -> Vec<Hit> {
        let q_topic = topic_tokens(question);
        let (w, total) = q_topic.iter().fold((0.0f32, 0.0f32), |(w, total), t| {
            let d = self.weight(t);
            (
                w + if self.faq_words.contains(t) { d } else { 0.0 },
                total + d,
            )
        });
        // (The item's own answers get 0.001 on top of their similarity.)
        let reach = (floor - 0.001).max(0.0);
        if total <= 0.0 || w / total < reach * reach * 0.999 {
            return Vec::new();
        }
        self.search_topics(question, q_topic, item)
            .into_iter()
            .filter(|h| matches!(h, Hit::Faq { .. }))
            .collect()
    }

    fn search_topics(
        &self,
        question: &str,
        q_topic: Vec<String>,
        item: Option<(usize, &str)>,
    ) -> Vec<Hit> {
        let q_weighed = self.weighed(&q_topic);
        let mut terms: Vec<(u32, &String)> = q_topic
            .iter()
            .filter_map(|t| self.df.get(t).map(|&n| (n, t)))
            .collect();
        terms.sort();
        terms.truncate(MAX_TERMS);
        if terms.is_empty() {
            return Vec::new();
        }
        let mut owners: Vec<Box<dyn Query>> = vec![
            Box::new(TermQuery::new(
                Term::from_field_text(self.owner, ANY),
                IndexRecordOption::Basic,
            )),
            Box::new(TermQuery::new(
                Term::from_field_text(self.owner, SHOP),
                IndexRecordOption::Basic,
            )),
        ];
        if let Some((_, id)) = item {
            owners.push(Box::new(TermQuery::new(
                Term::from_field_text(self.owner, id),
                IndexRecordOption::Basic,
            )));
        }
        let text_q: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .map(|(_, t)| {
                (
                    Occur::Should,
                    Box::new(TermQuery::new(
                        Term::from_field_text(self.text, t),
                        IndexRecordOption::WithFreqs,
                    )) as Box<dyn Query>,
                )
            })
            .collect();
        let query = BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(BooleanQuery::union(owners)) as Box<dyn Query>,
            ),
            (Occur::Must, Box::new(BooleanQuery::new(text_q))),
        ]);
        let Ok(top) = self
            .searcher
            .search(&query, &TopDocs::with_limit(CANDIDATES).order_by_score())
        else {
            return Vec::new();
        };
        let item_idx = item.map(|(i, _)| i);
        let mut hits = Vec::new();
        for (_, addr) in top {
            let Some(&r) = self
                .doc_ref
                .get(addr.segment_ord as usize)
                .and_then(|s| s.get(addr.doc_id as usize))
            else {
                continue;
            };
            let (refs, text) = &self.docs[r as usize];
            // The references of this item (and of the shop), found by
            // binary search: a text many items share costs no scan.
            let of = |d: &Doc| match d {
                Doc::Value { item, .. } => *item,
                Doc::Faq { item, .. } => item.unwrap_or(usize::MAX),
                _ => 0,
            };
            let range = |want: usize| {
                let lo = refs.partition_point(|d| of(d) < want);
                let hi = refs.partition_point(|d| of(d) <= want);
                &refs[lo..hi]
            };
            let mut mine: Vec<&Doc> = Vec::new();
            match refs.first() {
                Some(Doc::Word { .. } | Doc::Key) => mine.extend(refs.iter()),
                _ => {
                    if let Some(i) = item_idx {
                        mine.extend(range(i));
                    }
                    mine.extend(range(usize::MAX));
                }
            }
            for doc in mine {
                self.check(
                    doc, r as usize, text, question, &q_topic, &q_weighed, item_idx, &mut hits,
                );
            }
        }
        hits
    }
}

/// A token's weight in a collection of `n` documents where `df` hold it.
fn weight_of(n: usize, df: u32) -> f32 {
    (1.0 + n.max(1) as f32 / (1.0 + df as f32)).ln()
}

/// [`WordIndex::similarity`] of weighed topic tokens (both sorted by
/// token): the weight they share over the geometric mean of their totals,
/// which is the geometric mean of the two shares. Linear in their lengths.
fn similarity_of(q: &(Vec<(String, f32)>, f32), f: (&[(String, f32)], f32)) -> f32 {
    let (q, q_total) = (&q.0, q.1);
    let (f, f_total) = f;
    if q.is_empty() || f.is_empty() || q_total <= 0.0 || f_total <= 0.0 {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0.0f32);
    while i < q.len() && j < f.len() {
        match q[i].0.cmp(&f[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += q[i].1;
                i += 1;
                j += 1;
            }
        }
    }
    common / (q_total * f_total).sqrt()
}

#[cfg(test)]
mod tests {
    #[test]
    fn attribute_words_parse() {
        let raw: super::RawConcepts = toml::from_str(super::ATTRIBUTE_WORDS).unwrap();
        assert!(raw.concept.len() > 20);
        assert!(raw
            .concept
            .iter()
            .all(|c| !c.keys.is_empty() && !c.words.is_empty()));
    }
}
