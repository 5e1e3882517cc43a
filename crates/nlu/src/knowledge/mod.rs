//! Shop knowledge: the catalog files (`catalog/`, `../shared/catalog.md`) as a
//! compiled model, and the answers to product questions taken from it (stock
//! of a variant, price, size from the chart, attributes, FAQ, promotions).
//! Pure and synchronous like the rest of the crate: built once from the
//! files' text, then read by every decision.
//!
//! The rule it keeps: a reply states only what a file says. A question about
//! the item whose fact is not there is [`Answer::Unknown`], which the
//! dialogue turns into an escalation (`unknown_fact`).

pub mod answer;
pub mod index;
pub mod measure;

use crate::error::{line_of, Problems};
use crate::normalize::Normalizer;
use aho_corasick::{AhoCorasick, MatchKind};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use toml::Spanned;

pub use answer::{Answer, Ask, Query};

/// The file of shop-wide entries in a catalog folder.
pub const SHOP_FILE: &str = "_shop.toml";

/// Most items a catalog may hold (a bigger ERP export is split into shops):
/// load time and memory grow with it (BENCHMARKS.md: 10,000 items).
pub const MAX_ITEMS: usize = 50_000;

/// A variant (SKU): its option values, stock, own price, restock date.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// (option name, value) in file order: 颜色 = 白色, 尺码 = M.
    pub options: Vec<(String, String)>,
    /// Pieces in stock (`0`: sold out); `None`: the file does not say.
    pub stock: Option<u64>,
    /// Its own price, overriding the item's.
    pub price: Option<f64>,
    /// When a sold-out variant comes back (`YYYY-MM-DD`).
    pub restock: Option<String>,
}

impl Variant {
    /// "白色 M": the option values joined.
    pub fn label(&self) -> String {
        self.options
            .iter()
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A size chart column that the bot understands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Column {
    /// Height in cm.
    Height,
    /// Weight, in 斤 (`false`) or kg (`true`).
    Weight(bool),
    /// Foot length in cm.
    Foot,
    /// Something else (胸围, 衣长…): shown, never matched.
    Other,
}

/// How a size is recommended.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeChart {
    /// Column names as written.
    pub columns: Vec<String>,
    /// What each column (after the first) measures.
    pub kinds: Vec<Column>,
    /// Rows: the size, then one range per column (`None` for a column not understood).
    pub rows: Vec<(String, Vec<Option<(f64, f64)>>)>,
    /// The chart's note (版型偏小…).
    pub note: Option<String>,
}

/// A question and answer of the shop's own.
#[derive(Debug, Clone, PartialEq)]
pub struct Faq {
    /// The ways buyers ask it.
    pub q: Vec<String>,
    /// The shop's answer, said as written.
    pub a: String,
}

/// One item of the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The id the channel sends as `message.item.id`.
    pub id: String,
    /// Its title.
    pub title: String,
    /// What buyers call it.
    pub names: Vec<String>,
    /// The price of every variant without its own (yuan).
    pub price: Option<f64>,
    /// (key, value) in file order.
    pub attributes: Vec<(String, String)>,
    /// Its SKUs.
    pub variants: Vec<Variant>,
    /// Its size chart.
    pub size_chart: Option<SizeChart>,
    /// Its FAQ.
    pub faq: Vec<Faq>,
    /// The file it came from.
    pub file: String,
}

/// What a promotion gives.
#[derive(Debug, Clone, PartialEq)]
pub enum PromotionKind {
    /// Spend at least `threshold`, `off` comes off.
    Discount {
        /// Yuan to spend.
        threshold: f64,
        /// Yuan off.
        off: f64,
    },
    /// Buy `buy` pieces, get `gift`.
    Gift {
        /// Pieces to buy.
        buy: u32,
        /// What comes free.
        gift: String,
    },
}

/// A promotion of `_shop.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Promotion {
    /// Its name (满299减30), said as written.
    pub name: String,
    /// What it gives.
    pub kind: PromotionKind,
    /// In force from (Unix seconds), if limited.
    pub from: Option<i64>,
    /// In force until (Unix seconds), if limited.
    pub until: Option<i64>,
    /// The items it applies to (`None`: every item).
    pub items: Option<Vec<String>>,
}

impl Promotion {
    /// In force at `now` (Unix seconds) for `item`.
    pub fn applies(&self, now: i64, item: Option<&str>) -> bool {
        self.from.is_none_or(|f| now >= f)
            && self.until.is_none_or(|u| now <= u)
            && match (&self.items, item) {
                (Some(list), Some(id)) => list.iter().any(|i| i == id),
                _ => true,
            }
    }
}

/// The compiled catalog.
#[derive(Debug)]
pub struct Knowledge {
    /// Every item, in file-name order.
    pub items: Vec<Item>,
    /// Shop-wide promotions.
    pub promotions: Vec<Promotion>,
    /// Shop-wide FAQ.
    pub faq: Vec<Faq>,
    /// A `_shop.toml` was there (promotion questions are answered from it).
    pub has_shop_file: bool,
    by_id: HashMap<String, usize>,
    /// Names and titles, normalised, for finding an item in a message.
    names: Option<AhoCorasick>,
    name_owner: Vec<Vec<usize>>,
    /// Normalised option values per item: (option, value as written, normalised).
    pub(crate) values: Vec<Vec<(String, String, String)>>,
    /// Each item's title and names, normalised, longest first.
    pub(crate) own_words: Vec<Vec<String>>,
    pub(crate) index: index::WordIndex,
}

/// Raw forms, exactly as the files are written (`deny_unknown_fields`: a
/// mistyped key is an error with its line).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    id: Spanned<String>,
    title: Spanned<String>,
    #[serde(default)]
    names: Vec<String>,
    price: Option<Spanned<f64>>,
    #[serde(default)]
    attributes: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    variants: Vec<Spanned<RawVariant>>,
    size_chart: Option<Spanned<RawChart>>,
    #[serde(default)]
    faq: Vec<Spanned<RawFaq>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    #[serde(default)]
    options: BTreeMap<String, String>,
    stock: Option<u64>,
    price: Option<f64>,
    restock: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChart {
    columns: Vec<String>,
    rows: Vec<Spanned<Vec<String>>>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFaq {
    q: FaqQ,
    a: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FaqQ {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShop {
    #[serde(default)]
    promotions: Vec<Spanned<RawPromotion>>,
    #[serde(default)]
    faq: Vec<Spanned<RawFaq>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPromotion {
    name: String,
    kind: String,
    threshold: Option<f64>,
    off: Option<f64>,
    buy: Option<u32>,
    gift: Option<String>,
    from: Option<String>,
    until: Option<String>,
    items: Option<Vec<String>>,
}

fn faq(text: &str, file: &str, raw: Vec<Spanned<RawFaq>>, problems: &mut Problems) -> Vec<Faq> {
    let mut out = Vec::new();
    for f in raw {
        let line = line_of(text, f.span().start);
        let f = f.into_inner();
        let q: Vec<String> = match f.q {
            FaqQ::One(s) => vec![s],
            FaqQ::Many(v) => v,
        }
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .collect();
        if q.is_empty() || f.a.trim().is_empty() {
            problems.push(
                file,
                line,
                "a [[faq]] needs a question `q` and an answer `a`",
            );
            continue;
        }
        out.push(Faq { q, a: f.a });
    }
    out
}

fn value_text(v: &toml::Value) -> Option<String> {
    Some(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => if *b { "是" } else { "否" }.to_string(),
        toml::Value::Array(a) => a
            .iter()
            .map(value_text)
            .collect::<Option<Vec<_>>>()?
            .join("、"),
        _ => return None,
    })
}

fn column_kind(name: &str) -> Column {
    let n = name.to_lowercase();
    if n.contains("身高") || n.contains("height") {
        Column::Height
    } else if n.contains("体重") || n.contains("weight") {
        Column::Weight(n.contains("kg") || n.contains("公斤") || n.contains("千克"))
    } else if n.contains("脚长") || n.contains("foot") {
        Column::Foot
    } else {
        Column::Other
    }
}

/// The text with every bare key that has non-ASCII characters in quotes
/// (`面料 = "棉"` → `"面料" = "棉"`, also in inline tables and table
/// headers), so files written as catalog.md shows parse under TOML 1.0 and
/// 1.1 rules, whose bare keys are ASCII only. Strings and comments are left
/// alone; lines keep their numbers. One pass over the bytes, linear, copying
/// slices (every character that steers it is ASCII, and UTF-8 never has an
/// ASCII byte inside a longer character).
pub fn quote_bare_keys(text: &str) -> std::borrow::Cow<'_, str> {
    if text.is_ascii() {
        return text.into();
    }
    let b = text.as_bytes();
    let n = b.len();
    let at = |i: usize| text[i..].chars().next().unwrap_or('\n');
    let special = |c: char| c.is_whitespace() || "=[]{},\"'#.".contains(c);
    let mut out = String::with_capacity(n + 16);
    let mut i = 0;
    // The last significant character before the current position.
    let mut prev = '\n';
    while i < n {
        let c = at(i);
        if c == '#' {
            let end = text[i..].find('\n').map_or(n, |p| i + p);
            out.push_str(&text[i..end]);
            i = end;
            continue;
        }
        if c == '"' || c == '\'' {
            let q = c as u8;
            let triple = i + 2 < n && b[i + 1] == q && b[i + 2] == q;
            let ql = if triple { 3 } else { 1 };
            let start = i;
            i += ql;
            while i < n {
                if q == b'"' && b[i] == b'\\' && i + 1 < n {
                    i += 2;
                    continue;
                }
                if b[i] == q && (!triple || (i + 2 < n && b[i + 1] == q && b[i + 2] == q)) {
                    i += ql;
                    break;
                }
                if !triple && b[i] == b'\n' {
                    break;
                }
                i += 1;
            }
            // An escape before a longer character stops inside it: on to
            // the character's end.
            while i < n && !text.is_char_boundary(i) {
                i += 1;
            }
            out.push_str(&text[start..i]);
            prev = c;
            continue;
        }
        if !special(c) {
            let start = i;
            let mut last = c;
            while i < n {
                let d = at(i);
                if special(d) {
                    break;
                }
                last = d;
                i += d.len_utf8();
            }
            let word = &text[start..i];
            let mut j = i;
            while j < n && (b[j] == b' ' || b[j] == b'\t') {
                j += 1;
            }
            let next = if j < n { at(j) } else { '\n' };
            let key_before = matches!(prev, '\n' | '{' | ',' | '[' | '.');
            let key_after = matches!(next, '=' | '.' | ']');
            if key_before && key_after && !word.is_ascii() {
                out.push('"');
                out.push_str(word);
                out.push('"');
            } else {
                out.push_str(word);
            }
            prev = last;
            continue;
        }
        out.push(c);
        if !c.is_whitespace() || c == '\n' {
            prev = c;
        }
        i += c.len_utf8();
    }
    out.into()
}

fn parse_item(file: &str, text: &str, problems: &mut Problems) -> Option<Item> {
    let quoted = quote_bare_keys(text);
    let text: &str = &quoted;
    let raw: RawItem = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let (line, msg) = crate::files::toml_error(text, &e);
            problems.push(
                file,
                line,
                format!("{msg} (a catalog item file: see catalog.md for its keys)"),
            );
            return None;
        }
    };
    let at = |s: std::ops::Range<usize>| line_of(text, s.start);
    let id = raw.id.get_ref().trim().to_string();
    if id.is_empty() {
        problems.push(
            file,
            at(raw.id.span()),
            "`id` is empty: give the id the channel sends as message.item.id",
        );
    }
    let title = raw.title.get_ref().trim().to_string();
    if title.is_empty() {
        problems.push(file, at(raw.title.span()), "`title` is empty");
    }
    let price_ok = |p: f64| p.is_finite() && p >= 0.0;
    let price = raw.price.map(|p| {
        if !price_ok(*p.get_ref()) {
            problems.push(
                file,
                at(p.span()),
                "`price` must be a number of yuan, 0 or more",
            );
        }
        *p.get_ref()
    });
    let mut attributes = Vec::new();
    let mut attr_lines: Vec<(usize, String, String)> = Vec::new();
    for (k, v) in raw.attributes {
        let line = at(v.span());
        match value_text(v.get_ref()) {
            Some(s) if !s.trim().is_empty() => attr_lines.push((line, k, s)),
            _ => problems.push(
                file,
                line,
                format!("attribute {k:?}: the value must be text (or a number), not empty"),
            ),
        }
    }
    // File order, not the map's alphabetical one.
    attr_lines.sort_by_key(|a| a.0);
    for (_, k, v) in attr_lines {
        attributes.push((k, v));
    }
    let mut variants = Vec::new();
    for v in raw.variants {
        let line = at(v.span());
        let v = v.into_inner();
        if v.price.is_some_and(|p| !price_ok(p)) {
            problems.push(
                file,
                line,
                "a variant's `price` must be a number of yuan, 0 or more",
            );
        }
        if let Some(r) = &v.restock {
            if measure::date(r.get_ref()).is_none() {
                problems.push(
                    file,
                    at(r.span()),
                    format!("restock = {:?}: write the date as YYYY-MM-DD", r.get_ref()),
                );
            }
        }
        // File order (the map sorts them): 颜色 before 尺码 as written.
        let mut options: Vec<(String, String)> = v.options.into_iter().collect();
        options.sort_by_key(|(k, _)| text.find(k.as_str()).unwrap_or(usize::MAX));
        if options.iter().any(|(_, val)| val.trim().is_empty()) {
            problems.push(file, line, "a variant option has an empty value");
        }
        if variants.iter().any(|o: &Variant| o.options == options) {
            problems.push(
                file,
                line,
                format!("a second variant with the options {options:?}: keep one"),
            );
        }
        variants.push(Variant {
            options,
            stock: v.stock,
            price: v.price,
            restock: v.restock.map(Spanned::into_inner),
        });
    }
    let size_chart = raw.size_chart.and_then(|c| {
        let line = at(c.span());
        let c = c.into_inner();
        if c.columns.len() < 2 {
            problems.push(file, line, "[size_chart] needs `columns`: the size, then at least one of 身高cm, 体重斤 (or 体重kg), 脚长cm");
            return None;
        }
        let kinds: Vec<Column> = c.columns[1..].iter().map(|n| column_kind(n)).collect();
        // A chart of other measures (手腕周长…) is kept; no size is recommended from it.
        let mut rows = Vec::new();
        for r in c.rows {
            let rl = at(r.span());
            let r = r.into_inner();
            if r.len() != c.columns.len() {
                problems.push(file, rl, format!("a size chart row has {} cells for {} columns", r.len(), c.columns.len()));
                continue;
            }
            let mut ranges = Vec::new();
            for (cell, kind) in r[1..].iter().zip(&kinds) {
                if *kind == Column::Other {
                    ranges.push(None);
                    continue;
                }
                match measure::range(cell) {
                    Some(rg) => ranges.push(Some(rg)),
                    None => {
                        problems.push(file, rl, format!("{cell:?} is not a range: write it as lo-hi, e.g. \"158-165\" (or \"180以上\")"));
                        ranges.push(None);
                    }
                }
            }
            rows.push((r[0].trim().to_string(), ranges));
        }
        Some(SizeChart { columns: c.columns, kinds, rows, note: c.note.filter(|n| !n.trim().is_empty()) })
    });
    let faq = faq(text, file, raw.faq, problems);
    Some(Item {
        id,
        title,
        names: raw
            .names
            .into_iter()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect(),
        price,
        attributes,
        variants,
        size_chart,
        faq,
        file: file.to_string(),
    })
}

fn parse_shop(
    file: &str,
    text: &str,
    problems: &mut Problems,
) -> (Vec<Promotion>, Vec<Faq>, Vec<(usize, Vec<String>)>) {
    let quoted = quote_bare_keys(text);
    let text: &str = &quoted;
    let raw: RawShop = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let (line, msg) = crate::files::toml_error(text, &e);
            problems.push(
                file,
                line,
                format!("{msg} (_shop.toml holds [[promotions]] and [[faq]]: see catalog.md)"),
            );
            return Default::default();
        }
    };
    let mut promotions = Vec::new();
    let mut refs = Vec::new();
    for p in raw.promotions {
        let line = line_of(text, p.span().start);
        let p = p.into_inner();
        let kind = match p.kind.as_str() {
            "discount" => match (p.threshold, p.off) {
                (Some(t), Some(o)) if t.is_finite() && o.is_finite() && t >= 0.0 && o > 0.0 => {
                    PromotionKind::Discount {
                        threshold: t,
                        off: o,
                    }
                }
                _ => {
                    problems.push(file, line, format!("promotion {:?}: kind = \"discount\" needs `threshold` and `off` (yuan, off above 0)", p.name));
                    continue;
                }
            },
            "gift" => match (p.buy, p.gift) {
                (Some(b), Some(g)) if b > 0 && !g.trim().is_empty() => {
                    PromotionKind::Gift { buy: b, gift: g }
                }
                _ => {
                    problems.push(file, line, format!("promotion {:?}: kind = \"gift\" needs `buy` (pieces, 1 or more) and `gift`", p.name));
                    continue;
                }
            },
            k => {
                problems.push(
                    file,
                    line,
                    format!(
                        "promotion {:?}: kind {k:?} is not one of discount, gift",
                        p.name
                    ),
                );
                continue;
            }
        };
        if p.name.trim().is_empty() {
            problems.push(file, line, "a promotion needs a `name`");
            continue;
        }
        let mut time = |v: &Option<String>, key: &str| -> Option<i64> {
            let s = v.as_ref()?;
            let t = measure::timestamp(s);
            if t.is_none() {
                problems.push(
                    file,
                    line,
                    format!(
                        "{key} = {s:?}: write an RFC 3339 time, e.g. \"2026-11-20T00:00:00+08:00\""
                    ),
                );
            }
            t
        };
        let from = time(&p.from, "from");
        let until = time(&p.until, "until");
        if let Some(items) = &p.items {
            refs.push((line, items.clone()));
        }
        promotions.push(Promotion {
            name: p.name,
            kind,
            from,
            until,
            items: p.items,
        });
    }
    let faq = faq(text, file, raw.faq, problems);
    (promotions, faq, refs)
}

/// The items' names as [`Knowledge`] finds them in a message (an automaton
/// of every normalised title and name, with the items owning each), their
/// option values normalised, and each item's own words, longest first.
#[allow(clippy::type_complexity)]
fn item_words(
    items: &[Item],
    norm: &Normalizer,
) -> (
    Option<AhoCorasick>,
    Vec<Vec<usize>>,
    Vec<Vec<(String, String, String)>>,
    Vec<Vec<String>>,
) {
    // Option values and names repeat across items: normalised once each.
    let mut cache: HashMap<String, String> = HashMap::new();
    let mut normal = |s: &str| -> String {
        if let Some(n) = cache.get(s) {
            return n.clone();
        }
        let n = norm.normalize(s);
        cache.insert(s.to_string(), n.clone());
        n
    };
    let mut words: Vec<String> = Vec::new();
    let mut name_owner: Vec<Vec<usize>> = Vec::new();
    let mut word_at: HashMap<String, usize> = HashMap::new();
    for (k, it) in items.iter().enumerate() {
        for n in std::iter::once(&it.title).chain(&it.names) {
            let w = normal(n);
            if w.chars().count() < 2 {
                continue;
            }
            let slot = *word_at.entry(w.clone()).or_insert_with(|| {
                words.push(w);
                name_owner.push(Vec::new());
                name_owner.len() - 1
            });
            if !name_owner[slot].contains(&k) {
                name_owner[slot].push(k);
            }
        }
    }
    // Sparse states only: with tens of thousands of names, dense ones
    // near the root made most of the automaton's build time.
    let names = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .dense_depth(0)
        .build(&words)
        .ok()
        .filter(|_| !words.is_empty());
    let values = items
        .iter()
        .map(|it| {
            let mut v: Vec<(String, String, String)> = Vec::new();
            for var in &it.variants {
                for (o, val) in &var.options {
                    if !v.iter().any(|(a, b, _)| a == o && b == val) {
                        v.push((o.clone(), val.clone(), normal(val)));
                    }
                }
            }
            v
        })
        .collect();
    let own_words = items
        .iter()
        .map(|it| {
            let mut w: Vec<String> = std::iter::once(&it.title)
                .chain(&it.names)
                .map(|n| normal(n))
                .filter(|n| !n.is_empty())
                .collect();
            w.sort_by_key(|n| std::cmp::Reverse(n.len()));
            w
        })
        .collect();
    (names, name_owner, values, own_words)
}

impl Knowledge {
    /// Compiles catalog files given as `(name, text)` pairs (names as the
    /// operator knows them: `catalog/i-9.toml`). Every problem is collected
    /// with its `file:line`.
    pub fn parse(files: &[(String, String)], norm: &Normalizer) -> Result<Knowledge, Problems> {
        let mut problems = Problems::default();
        let mut items: Vec<Item> = Vec::new();
        let mut promotions = Vec::new();
        let mut faq = Vec::new();
        let mut refs = Vec::new();
        let mut shop_file = None;
        let mut has_shop_file = false;
        let mut item_files: Vec<&(String, String)> = Vec::new();
        for f in files {
            let (name, text) = f;
            let base = std::path::Path::new(name)
                .file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default();
            if base == SHOP_FILE {
                let (p, f, r) = parse_shop(name, text, &mut problems);
                promotions = p;
                faq = f;
                refs = r;
                shop_file = Some(name.clone());
                has_shop_file = true;
                continue;
            }
            if item_files.len() >= MAX_ITEMS {
                problems.push(
                    name,
                    0,
                    format!(
                        "more than {MAX_ITEMS} items (knowledge::MAX_ITEMS): split the catalog"
                    ),
                );
                break;
            }
            item_files.push(f);
        }
        // Item files parse independently: on every core (a 10,000-item
        // catalog is mostly TOML parsing), results kept in file order.
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8);
        let chunk = item_files.len().div_ceil(threads).max(1);
        let parsed: Vec<(Vec<Item>, Problems)> = std::thread::scope(|s| {
            let handles: Vec<_> = item_files
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        let mut p = Problems::default();
                        let items: Vec<Item> = part
                            .iter()
                            .filter_map(|(name, text)| parse_item(name, text, &mut p))
                            .collect();
                        (items, p)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| (Vec::new(), Problems::default()))
                })
                .collect()
        });
        for (its, p) in parsed {
            items.extend(its);
            problems.0.extend(p.0);
        }
        let mut by_id = HashMap::new();
        for (k, it) in items.iter().enumerate() {
            if it.id.is_empty() {
                continue;
            }
            if let Some(&j) = by_id.get(&it.id) {
                let other: &Item = &items[j];
                problems.push(
                    &it.file,
                    0,
                    format!(
                        "id {:?} is also the id of {}: each item needs its own",
                        it.id, other.file
                    ),
                );
            } else {
                by_id.insert(it.id.clone(), k);
            }
        }
        if let Some(sf) = &shop_file {
            for (line, list) in &refs {
                for id in list {
                    if !by_id.contains_key(id) {
                        problems.push(
                            sf,
                            *line,
                            format!("items names {id:?}, which no catalog file has as its id"),
                        );
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        // The item names (and their automaton) and the word index do not
        // depend on each other: built side by side.
        let (names, index) = std::thread::scope(|s| {
            let named = s.spawn(|| item_words(&items, norm));
            let index = index::WordIndex::build(&items, &faq, norm);
            let named = named.join().unwrap_or_else(|_| item_words(&items, norm));
            (named, index)
        });
        let (names, name_owner, values, own_words) = names;
        let index = index.map_err(|e| {
            let mut p = Problems::default();
            p.push(
                "catalog",
                0,
                format!("building the catalog's word index: {e}"),
            );
            p
        })?;
        Ok(Knowledge {
            items,
            promotions,
            faq,
            has_shop_file,
            by_id,
            names,
            name_owner,
            values,
            own_words,
            index,
        })
    }

    /// The item with this id.
    pub fn item_by_id(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The item a normalised message names (its title or one of its
    /// `names`): `Ok(Some)` for one item, `Err(candidates)` when the words
    /// fit several, `Ok(None)` when none is named.
    pub fn item_named(&self, normalized: &str) -> Result<Option<usize>, Vec<usize>> {
        let Some(ac) = &self.names else {
            return Ok(None);
        };
        let mut found: Vec<usize> = Vec::new();
        let mut longest = 0;
        for m in ac.find_iter(normalized) {
            let owners = &self.name_owner[m.pattern().as_usize()];
            let len = m.end() - m.start();
            if owners.len() == 1 && len > longest {
                // A name only one item has, longer than any before, decides.
                longest = len;
            }
            for &o in owners {
                if !found.contains(&o) {
                    found.push(o);
                }
            }
        }
        match found.len() {
            0 => Ok(None),
            1 => Ok(Some(found[0])),
            _ => Err(found),
        }
    }

    /// Every item name and title (for the NLU's `{item}` when no catalog words are set).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// No items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests;
