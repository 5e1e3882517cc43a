//! Example search: a tantivy in-RAM index of every intent's example utterances,
//! scored with tantivy's BM25. Tokens come from [`super::segment::tokens`];
//! queries are built from terms directly, so buyer text is never query syntax.
//!
//! A BM25 score of a disjunction is the sum of its terms' scores, and each
//! term's score for a document does not depend on the query. So once the index
//! is built, every term's postings are read out of tantivy with their BM25
//! scores ("impact lists"); a query then sums at most [`MAX_TERMS`] short lists.
//! Measured: a tantivy query cost 10–15 µs (building weights and scorers per
//! term), a quarter of all classification time; the impact lists give the same
//! ranking (a test compares them with tantivy's own top-k search) in about 1 µs.

use std::collections::HashMap;
use tantivy::query::{EnableScoring, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{TextAnalyzer, WhitespaceTokenizer};
use tantivy::{DocSet, TERMINATED};
use tantivy::{Index, IndexReader, ReloadPolicy, Searcher, Term};

const TOKENIZER: &str = "xiaoer_tokens";

/// The example index.
pub struct ExampleIndex {
    searcher: Searcher,
    _reader: IndexReader,
    field: tantivy::schema::Field,
    pinyin: tantivy::schema::Field,
    /// Example index of each document, per segment.
    doc_to_example: Vec<Vec<u32>>,
    /// Per field (text, pinyin), every indexed token's document frequency
    /// (unknown tokens are dropped, and a long message queries only its
    /// rarest tokens) and its (example, BM25 score) list, read out of
    /// tantivy: one lookup per query token.
    terms: [Terms; 2],
}

/// Every indexed token of a field, with its document frequency and its
/// (example, BM25 score) list. A query looks up a dozen tokens, nearly all
/// of them missing the cache: a `HashMap<String, (u32, Vec)>` read its
/// control bytes, then its slot, then the key's own bytes, then the list
/// (measured: the lookups were a tenth of classification's time). Here a
/// token of at most 8 bytes (a Chinese bigram is 6) is its own key, held in
/// the slot with its frequency and its span of one shared list: one read
/// for the lookup, one for the list. Longer tokens (Latin words, pinyin
/// pairs) are in a map beside it.
#[derive(Default)]
struct Terms {
    /// Open addressing, linear probing, at most 80 % full; `len == 0` is empty.
    slots: Vec<TermSlot>,
    long: TokenMap<TermSlot>,
    /// Every token's (example, score) list, one after the other.
    postings: Vec<(u32, f32)>,
}

#[derive(Default, Clone, Copy)]
struct TermSlot {
    /// The token's bytes, little-endian, zero-padded (short tokens only).
    key: u64,
    /// The token's length in bytes; 0 for an empty slot.
    len: u8,
    df: u32,
    start: u32,
    count: u32,
}

impl Terms {
    /// The tokens with their document frequency and list; `postings` is
    /// the lists' total length.
    fn new(
        all: impl ExactSizeIterator<Item = (String, u32, Vec<(u32, f32)>)>,
        postings: usize,
    ) -> Terms {
        let cap = (all.len() + all.len() / 4 + 1).next_power_of_two();
        let mut t = Terms {
            slots: vec![TermSlot::default(); cap],
            long: TokenMap::default(),
            postings: Vec::with_capacity(postings),
        };
        for (token, df, list) in all {
            let slot = TermSlot {
                key: Self::key(token.as_bytes()).unwrap_or(0),
                len: token.len().min(u8::MAX as usize) as u8,
                df,
                start: t.postings.len() as u32,
                count: list.len() as u32,
            };
            t.postings.extend_from_slice(&list);
            if token.is_empty() || token.len() > 8 {
                t.long.insert(token, slot);
                continue;
            }
            let mut i = t.home(slot.key, slot.len);
            while t.slots[i].len != 0 {
                i = (i + 1) & (t.slots.len() - 1);
            }
            t.slots[i] = slot;
        }
        t
    }

    /// A token of 1 to 8 bytes as a number.
    fn key(token: &[u8]) -> Option<u64> {
        if token.is_empty() || token.len() > 8 {
            return None;
        }
        let mut word = [0u8; 8];
        word[..token.len()].copy_from_slice(token);
        Some(u64::from_le_bytes(word))
    }

    fn home(&self, key: u64, len: u8) -> usize {
        let bits = self.slots.len().trailing_zeros().max(1);
        ((key ^ len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
            & (self.slots.len() - 1)
    }

    /// The token's document frequency and list, if it is indexed.
    fn get(&self, token: &str) -> Option<(u32, &[(u32, f32)])> {
        let slot = match Self::key(token.as_bytes()) {
            None => *self.long.get(token)?,
            Some(key) => {
                let len = token.len() as u8;
                let mask = self.slots.len() - 1;
                let mut i = self.home(key, len);
                loop {
                    let s = self.slots[i];
                    if s.len == 0 {
                        return None;
                    }
                    if s.key == key && s.len == len {
                        break s;
                    }
                    i = (i + 1) & mask;
                }
            }
        };
        let (start, count) = (slot.start as usize, slot.count as usize);
        Some((slot.df, &self.postings[start..start + count]))
    }
}

/// Tokens are short strings from a fixed vocabulary: a multiply-rotate hash
/// (as rustc's FxHash) instead of SipHash, which cost more than the lookups.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(n as u64);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

impl Fx {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type TokenMap<V> = HashMap<String, V, std::hash::BuildHasherDefault<Fx>>;

/// Most terms one query uses (the rarest of the message's tokens).
const MAX_TERMS: usize = 6;

impl std::fmt::Debug for ExampleIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExampleIndex")
            .field("docs", &self.searcher.num_docs())
            .finish()
    }
}

impl ExampleIndex {
    /// Indexes examples given as their tokens joined by single spaces (text
    /// tokens, pinyin tokens), in order. Joined, not as lists: with ten times
    /// the intent data the lists of every example, held while the index is
    /// built, were 21 MB of the loading peak.
    pub fn build(examples: &[(String, String)]) -> tantivy::Result<ExampleIndex> {
        let mut schema = Schema::builder();
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqs);
        let field = schema.add_text_field(
            "t",
            TextOptions::default().set_indexing_options(indexing.clone()),
        );
        let pinyin =
            schema.add_text_field("py", TextOptions::default().set_indexing_options(indexing));
        let ex = schema.add_u64_field("ex", NumericOptions::default().set_fast());
        let index = Index::create_in_ram(schema.build());
        index.tokenizers().register(
            TOKENIZER,
            TextAnalyzer::from(WhitespaceTokenizer::default()),
        );
        let mut writer =
            index.writer_with_num_threads::<tantivy::TantivyDocument>(1, 50_000_000)?;
        for (i, (toks, py)) in examples.iter().enumerate() {
            writer.add_document(
                tantivy::doc!(field => toks.clone(), pinyin => py.clone(), ex => i as u64),
            )?;
        }
        writer.commit()?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let searcher = reader.searcher();
        let mut df: [HashMap<String, u32>; 2] = Default::default();
        for (toks, py) in examples {
            for (k, joined) in [toks, py].into_iter().enumerate() {
                let mut uniq: Vec<&str> = joined.split(' ').filter(|t| !t.is_empty()).collect();
                uniq.sort();
                uniq.dedup();
                for t in uniq {
                    *df[k].entry(t.to_string()).or_default() += 1;
                }
            }
        }
        let mut doc_to_example: Vec<Vec<u32>> = Vec::new();
        for seg in searcher.segment_readers() {
            let col = seg.fast_fields().u64("ex")?;
            doc_to_example.push(
                (0..seg.max_doc())
                    .map(|d| col.first(d).unwrap_or(0) as u32)
                    .collect(),
            );
        }
        let mut impacts: [HashMap<String, Vec<(u32, f32)>>; 2] = Default::default();
        for (k, f) in [field, pinyin].into_iter().enumerate() {
            for token in df[k].keys() {
                let query = TermQuery::new(
                    Term::from_field_text(f, token),
                    IndexRecordOption::WithFreqs,
                );
                let weight = query.weight(EnableScoring::enabled_from_searcher(&searcher))?;
                let mut list = Vec::new();
                for (ord, seg) in searcher.segment_readers().iter().enumerate() {
                    let mut scorer = weight.scorer(seg, 1.0)?;
                    let mut doc = scorer.doc();
                    while doc != TERMINATED {
                        list.push((doc_to_example[ord][doc as usize], scorer.score()));
                        doc = scorer.advance();
                    }
                }
                impacts[k].insert(token.clone(), list);
            }
        }
        // Each list moves into the shared one as it is read (the lists of ten
        // times the intent data are megabytes: not held twice).
        let mut terms: [Terms; 2] = Default::default();
        for (k, (df, mut impacts)) in df.into_iter().zip(impacts).enumerate() {
            let total = impacts.values().map(Vec::len).sum();
            terms[k] = Terms::new(
                df.into_iter().map(|(token, n)| {
                    let list = impacts.remove(&token).unwrap_or_default();
                    (token, n, list)
                }),
                total,
            );
        }
        Ok(ExampleIndex {
            searcher,
            _reader: reader,
            field,
            pinyin,
            doc_to_example,
            terms,
        })
    }

    /// The query terms for `tokens`: the known ones, rarest first, at most
    /// [`MAX_TERMS`]. O(t log t) for t tokens (the sort); the query then sums
    /// at most [`MAX_TERMS`] impact lists, whose length the examples bound.
    fn terms<'t, S: AsRef<str>>(&self, tokens: &'t [S], pinyin: bool) -> Vec<&'t str> {
        self.known(tokens, pinyin)
            .into_iter()
            .map(|(_, t, _)| t)
            .collect()
    }

    /// [`ExampleIndex::terms`] with each term's document frequency and impact list.
    fn known<'t, 's, S: AsRef<str>>(
        &'s self,
        tokens: &'t [S],
        pinyin: bool,
    ) -> Vec<(u32, &'t str, &'s [(u32, f32)])> {
        let map = &self.terms[pinyin as usize];
        let mut uniq: Vec<(u32, &str, &[(u32, f32)])> = tokens
            .iter()
            .filter_map(|t| map.get(t.as_ref()).map(|(n, list)| (n, t.as_ref(), list)))
            .collect();
        // As a sort of (df, token) pairs: equal tokens have equal lists.
        uniq.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        uniq.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        uniq.truncate(MAX_TERMS);
        uniq
    }

    /// The `k` examples most similar to `tokens`, best first, with BM25 scores;
    /// `pinyin` searches the examples' transliterations instead of their text.
    /// Ties break on the example's index, so results are deterministic.
    pub fn search<S: AsRef<str>>(&self, tokens: &[S], k: usize, pinyin: bool) -> Vec<(usize, f32)> {
        let known = self.known(tokens, pinyin);
        let mut all: Vec<(u32, f32)> =
            Vec::with_capacity(known.iter().map(|(_, _, list)| list.len()).sum());
        for (_, _, list) in known {
            all.extend_from_slice(list);
        }
        all.sort_unstable_by_key(|&(ex, _)| ex);
        let mut summed: Vec<(usize, f32)> = Vec::with_capacity(all.len());
        for (ex, score) in all {
            match summed.last_mut() {
                Some(last) if last.0 == ex as usize => last.1 += score,
                _ => summed.push((ex as usize, score)),
            }
        }
        top_k(summed, k)
    }

    /// The same search through tantivy's query engine (`BooleanQuery` of the
    /// terms, `TopDocs`): the reference the impact lists are tested against.
    pub fn search_with_tantivy<S: AsRef<str>>(
        &self,
        tokens: &[S],
        k: usize,
        pinyin: bool,
    ) -> Vec<(usize, f32)> {
        use tantivy::collector::TopDocs;
        let field = if pinyin { self.pinyin } else { self.field };
        let terms: Vec<Term> = self
            .terms(tokens, pinyin)
            .into_iter()
            .map(|t| Term::from_field_text(field, t))
            .collect();
        if terms.is_empty() {
            return Vec::new();
        }
        let query = tantivy::query::BooleanQuery::new_multiterms_query(terms);
        let Ok(top) = self
            .searcher
            .search(&query, &TopDocs::with_limit(k).order_by_score())
        else {
            return Vec::new();
        };
        let mut out: Vec<(usize, f32)> = top
            .into_iter()
            .filter_map(|(score, addr)| {
                let ex = *self
                    .doc_to_example
                    .get(addr.segment_ord as usize)?
                    .get(addr.doc_id as usize)?;
                Some((ex as usize, score))
            })
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }
}

/// The `k` best of `(example, score)` pairs (each example once), best first,
/// ties by example. That is a strict order, so selecting the first k and
/// sorting only them gives a full sort's first k; the full sort's cost grew
/// with every example a common token retrieves.
fn top_k(mut scored: Vec<(usize, f32)>, k: usize) -> Vec<(usize, f32)> {
    let order = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if scored.len() > k && k > 0 {
        scored.select_nth_unstable_by(k - 1, order);
    }
    scored.truncate(k);
    scored.sort_unstable_by(order);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_is_the_head_of_a_full_sort() {
        // A small linear congruential generator: scores with many ties.
        let mut x: u64 = 7;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as usize
        };
        for len in [0, 1, 2, 5, 16, 17, 40, 300] {
            let scored: Vec<(usize, f32)> =
                (0..len).map(|ex| (ex, (next() % 7) as f32 * 0.5)).collect();
            let mut shuffled = scored.clone();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, next() % (i + 1));
            }
            for k in [0, 1, 3, 16, 400] {
                let mut want = scored.clone();
                want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                want.truncate(k);
                assert_eq!(top_k(shuffled.clone(), k), want, "len {len}, k {k}");
            }
        }
    }
    use crate::segment::{query_tokens, tokens};

    /// The term table answers as a map from token to (frequency, list) does:
    /// short and long tokens, tokens that are prefixes of others or differ
    /// only by a trailing NUL, and tokens it does not hold.
    #[test]
    fn the_term_table_is_a_map() {
        let held = [
            "发货",
            "发",
            "货吗",
            "a",
            "ab",
            "abcdefgh",
            "abcdefghi",
            "#num",
            "fa_huo",
            "fa_huo_ma",
            "什么时候",
            "a\0",
            "\0",
            "x",
            "快递费",
        ];
        let absent = [
            "",
            "发货吗",
            "abcdefg",
            "abcdefghij",
            "a\0\0",
            "b",
            "什么",
            "fa",
        ];
        for n in [0, 1, 5, held.len()] {
            let mut want: std::collections::HashMap<&str, (u32, Vec<(u32, f32)>)> =
                Default::default();
            for (i, t) in held[..n].iter().enumerate() {
                let list = (0..i as u32).map(|e| (e * 7, e as f32 * 0.5)).collect();
                want.insert(t, (i as u32 + 1, list));
            }
            let total = want.values().map(|(_, l)| l.len()).sum();
            let terms = Terms::new(
                want.iter()
                    .map(|(t, (df, l))| (t.to_string(), *df, l.clone()))
                    .collect::<Vec<_>>()
                    .into_iter(),
                total,
            );
            for t in held.iter().chain(&absent) {
                let got = terms.get(t).map(|(df, l)| (df, l.to_vec()));
                assert_eq!(got, want.get(t).cloned(), "{t:?} of {n}");
            }
        }
    }

    #[test]
    fn impact_lists_rank_as_tantivy_does() {
        let texts = [
            "有货吗",
            "l码还有没有",
            "什么时候发货",
            "发货要几天",
            "能便宜点吗",
            "便宜点包邮吗",
            "包邮吗",
            "这个多少钱",
            "有没有优惠券",
            "是正品吗",
            "什么材质的",
            "我165穿什么码",
            "is this in stock",
            "when will you ship",
            "how much is shipping",
            "有货吗 什么时候发",
        ];
        let examples: Vec<(String, String)> = texts
            .iter()
            .map(|t| (tokens(t).join(" "), String::new()))
            .collect();
        let index = ExampleIndex::build(&examples).unwrap();
        for q in [
            "有货吗",
            "还有货没",
            "包邮不",
            "什么时候能发",
            "ship",
            "is it in stock",
            "便宜",
            "完全无关的话",
        ] {
            let toks = query_tokens(q);
            let ours = index.search(&toks, 5, false);
            let theirs = index.search_with_tantivy(&toks, 5, false);
            assert_eq!(ours.len(), theirs.len(), "{q}");
            for (a, b) in ours.iter().zip(&theirs) {
                assert!((a.1 - b.1).abs() < 1e-4, "{q}: {ours:?} vs {theirs:?}");
            }
            // Same documents, apart from ties at the cut.
            if let (Some(last), true) = (theirs.last(), ours.len() == 5) {
                for (ex, s) in &theirs {
                    assert!(
                        *s <= last.1 + 1e-4 || ours.iter().any(|(e, _)| e == ex),
                        "{q}"
                    );
                }
            }
        }
    }
}
