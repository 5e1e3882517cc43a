//! Example search: a tantivy in-RAM index of every intent's example utterances,
//! queried with BM25. Tokens come from [`super::segment::tokens`]; the query is
//! built from terms directly, so buyer text is never parsed as query syntax.

use tantivy::collector::TopDocs;
use tantivy::query::BooleanQuery;
use tantivy::schema::{IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{TextAnalyzer, WhitespaceTokenizer};
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
    /// Document frequency of every indexed token, per field (text, pinyin):
    /// unknown tokens are dropped before they cost a dictionary lookup, and a
    /// long message queries only its rarest tokens.
    df: [std::collections::HashMap<String, u32>; 2],
}

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
    /// Indexes examples given as their token lists (text tokens, pinyin tokens),
    /// in order.
    pub fn build(examples: &[(Vec<String>, Vec<String>)]) -> tantivy::Result<ExampleIndex> {
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
                tantivy::doc!(field => toks.join(" "), pinyin => py.join(" "), ex => i as u64),
            )?;
        }
        writer.commit()?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let searcher = reader.searcher();
        let mut df: [std::collections::HashMap<String, u32>; 2] = Default::default();
        for (toks, py) in examples {
            for (k, list) in [toks, py].into_iter().enumerate() {
                let mut uniq: Vec<&String> = list.iter().collect();
                uniq.sort();
                uniq.dedup();
                for t in uniq {
                    *df[k].entry(t.clone()).or_default() += 1;
                }
            }
        }
        let mut doc_to_example = Vec::new();
        for seg in searcher.segment_readers() {
            let col = seg.fast_fields().u64("ex")?;
            doc_to_example.push(
                (0..seg.max_doc())
                    .map(|d| col.first(d).unwrap_or(0) as u32)
                    .collect(),
            );
        }
        Ok(ExampleIndex {
            searcher,
            _reader: reader,
            field,
            pinyin,
            doc_to_example,
            df,
        })
    }

    /// The `k` examples most similar to `tokens`, best first, with BM25 scores;
    /// `pinyin` searches the examples' transliterations instead of their text.
    /// Ties break on the example's index, so results are deterministic.
    pub fn search<S: AsRef<str>>(&self, tokens: &[S], k: usize, pinyin: bool) -> Vec<(usize, f32)> {
        let field = if pinyin { self.pinyin } else { self.field };
        if tokens.is_empty() {
            return Vec::new();
        }
        let df = &self.df[pinyin as usize];
        let mut uniq: Vec<(u32, &str)> = tokens
            .iter()
            .filter_map(|t| df.get(t.as_ref()).map(|&n| (n, t.as_ref())))
            .collect();
        uniq.sort();
        uniq.dedup();
        uniq.truncate(MAX_TERMS);
        if uniq.is_empty() {
            return Vec::new();
        }
        let terms = uniq
            .into_iter()
            .map(|(_, t)| Term::from_field_text(field, t))
            .collect();
        let query = BooleanQuery::new_multiterms_query(terms);
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
