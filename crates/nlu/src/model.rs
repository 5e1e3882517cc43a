//! A vocabulary learnt from the intent files: naive Bayes over the character
//! 1- to 3-grams of every example and keyword, by intent.
//!
//! Why: keywords and nearest examples need a buyer to reuse a phrase the files
//! already hold. Real buyers rarely do (一擦全是毛, 充不进电, 有盖子吗); the
//! characters they use still lean towards one intent (毛/擦 → defect, 盖子 →
//! product words). The model turns every example an operator adds, or an agent
//! teaches, into evidence for all the character sequences in it, so one new
//! example helps messages that share only part of it. Its posterior is a fourth
//! signal beside keywords, patterns and the nearest example (see `score.rs`),
//! never a decision on its own.
//!
//! Cost: training is one counting pass (linear in the files); scoring a text
//! is linear in its length (at most `3 × chars` grams, each one hash lookup and
//! a short list of the intents it occurs under).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The keys are already FNV hashes: hashing them again is wasted time.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type GramMap<V> = HashMap<u64, V, BuildHasherDefault<Identity>>;

/// Additive smoothing of the gram counts.
const ALPHA: f32 = 0.1;
/// Longest gram, in characters.
const MAX_N: usize = 3;
/// Start and end of a text, so 吗 at the end differs from 吗 inside.
const START: char = '\u{2}';
const END: char = '\u{3}';
/// The log-likelihoods are divided by the number of known grams to the power
/// of this before the softmax: naive Bayes counts overlapping grams as
/// independent, which makes raw posteriors near 0 or 1 for any sentence.
const TEMPER: f32 = 0.5;

/// Character n-gram naive Bayes over the intents.
#[derive(Debug, Default)]
pub struct CharModel {
    /// Gram → the intents it was seen under (see [`GramTable`]).
    grams: GramTable,
    /// Per gram of several intents, the intents it was seen under, with
    /// `ln((count + α) / α)`.
    owners: Vec<(u16, f32)>,
    /// Per intent: `ln(α / (total grams of the intent + α·V))`.
    base: Vec<f32>,
}

/// The known grams, by hash: open addressing with linear probing over 16-byte
/// slots, at most 80 % full. Scoring a message is one lookup per gram and
/// nearly all of them miss the cache (the table is larger than L2), so the
/// layout is what costs: one slot holds the key and either the one intent of a
/// gram seen under a single intent (most 3-grams: no second read) or its span
/// in `owners`. A `HashMap` read its control bytes, then its slot, then the
/// span: measured, the posterior was 12–16 % of classification.
#[derive(Debug, Default)]
struct GramTable {
    slots: Vec<Slot>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    key: u64,
    /// `ln((count + α) / α)` as bits for a single owner; the start in `owners` otherwise.
    a: u32,
    /// [`EMPTY`]; `SINGLE | intent`; or the number of owners.
    b: u32,
}

const EMPTY: u32 = u32::MAX;
const SINGLE: u32 = 1 << 31;

/// What a gram contributes.
enum Owners {
    One(u16, f32),
    Span(usize, usize),
}

impl GramTable {
    fn with_capacity(n: usize) -> GramTable {
        let len = (n + n / 4 + 1).next_power_of_two();
        GramTable {
            slots: vec![
                Slot {
                    key: 0,
                    a: 0,
                    b: EMPTY
                };
                len
            ],
        }
    }

    /// The slot where `key`'s probe starts (0 for an empty table, whose
    /// lookups read no slot).
    fn home(&self, key: u64) -> usize {
        let bits = self.slots.len().trailing_zeros();
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits.max(1))) as usize
            & self.slots.len().saturating_sub(1)
    }

    /// Inserts a key not yet present (training inserts each gram once).
    fn insert(&mut self, key: u64, a: u32, b: u32) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        while self.slots[i].b != EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot { key, a, b };
    }

    /// The key in `key`'s home slot: a read with no branch on it, to bring
    /// the slot into the cache before [`GramTable::get`].
    fn peek(&self, key: u64) -> u64 {
        self.slots.get(self.home(key)).map_or(0, |s| s.key)
    }

    fn get(&self, key: u64) -> Option<Owners> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let s = self.slots[i];
            if s.b == EMPTY {
                return None;
            }
            if s.key == key {
                return Some(if s.b & SINGLE != 0 {
                    Owners::One((s.b & !SINGLE) as u16, f32::from_bits(s.a))
                } else {
                    Owners::Span(s.a as usize, s.b as usize)
                });
            }
            i = (i + 1) & mask;
        }
    }
}

impl CharModel {
    /// Learns from `(intent, normalised text, weight)`; intents are `0..n`.
    pub fn train<'a>(
        texts: impl IntoIterator<Item = (usize, &'a str, f32)>,
        n: usize,
    ) -> CharModel {
        let mut counts: GramMap<Vec<(u16, f32)>> = GramMap::default();
        let mut totals = vec![0f32; n];
        for (intent, text, weight) in texts {
            if intent >= n || intent > u16::MAX as usize {
                continue;
            }
            for g in grams(text) {
                let list = counts.entry(g).or_default();
                match list.iter_mut().find(|(i, _)| *i as usize == intent) {
                    Some((_, c)) => *c += weight,
                    None => list.push((intent as u16, weight)),
                }
                totals[intent] += weight;
            }
        }
        let v = counts.len() as f32;
        let base = totals
            .iter()
            .map(|t| (ALPHA / (t + ALPHA * v)).ln())
            .collect();
        let mut grams = GramTable::with_capacity(counts.len());
        let mut owners = Vec::new();
        let weight = |c: f32| ((c + ALPHA) / ALPHA).ln();
        for (g, list) in counts {
            match list.as_slice() {
                [(i, c)] => grams.insert(g, weight(*c).to_bits(), SINGLE | *i as u32),
                _ => {
                    let start = owners.len() as u32;
                    owners.extend(list.iter().map(|&(i, c)| (i, weight(c))));
                    // At most one entry per intent, and intents fit in u16.
                    grams.insert(g, start, list.len() as u32);
                }
            }
        }
        CharModel {
            grams,
            owners,
            base,
        }
    }

    /// The posterior of each intent for `text` (sums to 1), or all zeros when
    /// no gram of the text is known.
    pub fn posterior(&self, text: &str) -> Vec<f32> {
        // The gram list is scratch space reused by the thread (this runs once
        // per message; the allocation and its growth were a measured share).
        GRAMS.with(|g| {
            let mut g = g.borrow_mut();
            grams_into(text, &mut g);
            self.posterior_of(&g)
        })
    }

    /// [`CharModel::posterior`] from the text's sorted, deduplicated grams.
    fn posterior_of(&self, grams: &[u64]) -> Vec<f32> {
        let n = self.base.len();
        let mut ll = vec![0f32; n];
        let mut known = 0usize;
        // Nearly every slot read misses the cache: read them all first, with
        // no branch between the reads, so the misses overlap instead of each
        // waiting for the one before (measured: the lookups below then hit).
        let mut touch = 0u64;
        for &g in grams {
            touch ^= self.grams.peek(g);
        }
        std::hint::black_box(touch);
        for &g in grams {
            match self.grams.get(g) {
                Some(Owners::One(i, w)) => {
                    known += 1;
                    ll[i as usize] += w;
                }
                Some(Owners::Span(start, len)) => {
                    known += 1;
                    for &(i, w) in &self.owners[start..start + len] {
                        ll[i as usize] += w;
                    }
                }
                None => {}
            }
        }
        if known == 0 || n == 0 {
            ll.iter_mut().for_each(|l| *l = 0.0);
            return ll;
        }
        let scale = 1.0 / (known as f32).powf(TEMPER);
        for (l, b) in ll.iter_mut().zip(&self.base) {
            *l = (*l + known as f32 * b) * scale;
        }
        let max = ll.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for l in ll.iter_mut() {
            *l = (*l - max).exp();
            sum += *l;
        }
        ll.iter_mut().for_each(|l| *l /= sum);
        ll
    }
}

thread_local! {
    /// Scratch gram list of [`CharModel::posterior`].
    static GRAMS: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Sorted, deduplicated hashes of the 1..=`MAX_N` character grams of `text`
/// between START and END; grams of whitespace only are left out.
fn grams(text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    grams_into(text, &mut out);
    out
}

/// [`grams`] into `out` (cleared first), with no other allocation. A gram of
/// text characters is a slice of `text`, so it is hashed where it lies (with
/// the one-byte START or END before or after it at the ends): no character
/// is encoded again. The grams ending at each character are hashed there,
/// from the byte starts of the last `MAX_N` characters.
fn grams_into(text: &str, out: &mut Vec<u64>) {
    out.clear();
    out.reserve(text.len() * MAX_N + 2 * MAX_N);
    let bytes = text.as_bytes();
    // The byte starts of the last MAX_N text characters, newest first; `seen`
    // of them are filled.
    let mut starts = [0usize; MAX_N];
    // Whitespace characters in a row, the newest last: the grams ending here
    // that are shorter than this run are whitespace only (one count instead
    // of a look at each character of each gram).
    let mut white = 0usize;
    let mut seen = 0usize;
    // Grams ending at text character `c`, which ends at byte `end`: the k+1
    // characters back from it, or START and k of them when k reaches back
    // past the first character.
    for (i, c) in text.char_indices() {
        starts.copy_within(0..MAX_N - 1, 1);
        starts[0] = i;
        white = if c.is_whitespace() { white + 1 } else { 0 };
        seen = (seen + 1).min(MAX_N);
        let end = i + c.len_utf8();
        // A mark alone is no gram (it is not whitespace, so `white` is 0).
        let first = if c == START || c == END { 1 } else { white };
        for k in first..seen {
            out.push(fnv(seed(k), &bytes[starts[k]..end]));
        }
        if seen < MAX_N {
            // START, then the first `seen` characters (to `end`).
            out.push(fnv(fnv(seed(seen), &[START as u8]), &bytes[..end]));
        }
    }
    // Grams ending at END: k = 1..MAX_N, k-1 characters back from the last.
    let chars = seen;
    for k in 1..MAX_N {
        if k - 1 < chars {
            out.push(fnv(fnv(seed(k), &bytes[starts[k - 1]..]), &[END as u8]));
        } else {
            let h = fnv(fnv(seed(k), &[START as u8]), bytes);
            out.push(fnv(h, &[END as u8]));
            break;
        }
    }
    out.sort_unstable();
    out.dedup();
}

/// The FNV-1a offset basis seeded by a gram's length `k`, so grams of
/// different sizes that share bytes never meet.
fn seed(k: usize) -> u64 {
    0xcbf29ce484222325 ^ (k as u64 + 1)
}

/// FNV-1a of `bytes` continued from `h`.
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &x in bytes {
        h = (h ^ x as u64).wrapping_mul(0x100000001b3);
    }
    h
}

/// FNV-1a of a gram, seeded by its length so grams of different sizes that
/// share bytes never meet (the reference for [`fnv`]).
#[cfg(test)]
fn hash_bytes(bytes: &[u8], k: usize) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325 ^ (k as u64 + 1);
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> CharModel {
        CharModel::train(
            [
                (0, "什么时候发货", 1.0),
                (0, "几号能发货", 1.0),
                (1, "东西坏了", 1.0),
                (1, "一擦全是毛", 1.0),
                (2, "谢谢", 1.0),
            ],
            3,
        )
    }

    #[test]
    fn shared_characters_lean_to_their_intent() {
        let m = model();
        for (text, want) in [("今天发货吗", 0), ("掉毛坏了", 1), ("谢谢啦", 2)] {
            let p = m.posterior(text);
            let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
            assert_eq!(best, want, "{text}: {p:?}");
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{p:?}");
        }
    }

    /// The gram table finds every key it holds, with its value, and no other.
    #[test]
    fn the_gram_table_is_a_map() {
        let mut x: u64 = 1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for n in [0usize, 1, 7, 100, 5000] {
            let keys: Vec<u64> = (0..n).map(|_| next()).collect();
            let mut table = GramTable::with_capacity(n);
            for (v, &k) in keys.iter().enumerate() {
                table.insert(k, v as u32, SINGLE | 1);
            }
            for (v, &k) in keys.iter().enumerate() {
                match table.get(k) {
                    Some(Owners::One(1, w)) => assert_eq!(w.to_bits(), v as u32),
                    _ => panic!("key {k} of {n} not found"),
                }
            }
            for _ in 0..2000 {
                let k = next();
                if !keys.contains(&k) {
                    assert!(table.get(k).is_none(), "{k} found in {n}");
                }
            }
        }
    }

    #[test]
    fn unknown_text_gives_no_evidence() {
        assert_eq!(model().posterior("xyz"), vec![0.0; 3]);
        assert_eq!(model().posterior(""), vec![0.0; 3]);
        assert!(CharModel::default().posterior("发货").is_empty());
    }

    /// The first implementation (every start, every length), kept as the
    /// reference the windowed one must equal.
    fn grams_by_start(text: &str) -> Vec<u64> {
        let chars: Vec<char> = std::iter::once(START)
            .chain(text.chars())
            .chain(std::iter::once(END))
            .collect();
        let mut out = Vec::new();
        let mut buf = [0u8; 4 * MAX_N];
        for start in 0..chars.len() {
            let mut len = 0;
            for (k, &c) in chars[start..].iter().take(MAX_N).enumerate() {
                len += c.encode_utf8(&mut buf[len..]).len();
                let gram = &chars[start..=start + k];
                if gram.iter().all(|c| c.is_whitespace()) || (k == 0 && (c == START || c == END)) {
                    continue;
                }
                out.push(hash_bytes(&buf[..len], k));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    #[test]
    fn windowed_grams_equal_the_reference() {
        for text in [
            "",
            "a",
            "好",
            " ",
            "  ",
            "有货吗",
            "a b",
            "l码 有 吗",
            "亲  在吗?",
            "is this in stock",
            "😀👍 好的",
            "\u{2}x\u{3}",
            "ab",
            "好 ",
            "\u{2}",
            "\u{3}\u{3}",
            " a ",
            "a  b\u{3000}c",
            "一二三四五",
            "é 好\t",
        ] {
            assert_eq!(grams(text), grams_by_start(text), "{text:?}");
        }
    }

    #[test]
    fn grams_are_linear_in_the_text() {
        let text = "好".repeat(1000);
        // 1000 identical chars: 1-, 2- and 3-grams of 好, plus the grams at the ends.
        assert!(grams(&text).len() <= 3 + 4);
        let varied: String = (0..1000u32)
            .filter_map(|i| char::from_u32(0x4e00 + i))
            .collect();
        assert!(grams(&varied).len() <= 3 * 1002);
    }
}
