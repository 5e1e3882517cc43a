//! Normalisation: the one canonical form every matcher sees. The steps run in
//! this order (each is data-independent except the aliases):
//! 1. NFKC: full-width letters, digits and punctuation to half-width (Ｌ码 → l码);
//! 2. lower case;
//! 3. traditional → simplified Chinese (有貨嗎 → 有货吗);
//! 4. control characters are dropped; runs of the same punctuation fold to one;
//!    the enumeration comma 、 stays itself, since it joins the items of one
//!    thought (自己好安装、设置吗) where ， separates clauses;
//! 5. runs of white space, emoji and pictographs fold to one space, trimmed
//!    (they separate words and clauses), except a pictograph that is an alias
//!    on its own (👍), kept for step 6;
//! 6. aliases from `intents/_aliases.toml` (木有 → 没有, "zai ma" → 在吗, 👍 → 好的),
//!    longest first, Latin ones on whole words only, and step 5 again.

use aho_corasick::{AhoCorasick, MatchKind};
use unicode_normalization::UnicodeNormalization;

/// Folds a message into its canonical form.
#[derive(Debug, Clone)]
pub struct Normalizer {
    aliases: Option<AhoCorasick>,
    replacements: Vec<String>,
    latin: Vec<bool>,
    /// Pictographs that are alias keys on their own (👍 → 好的): they stay
    /// for the alias pass, which always replaces them; every other pictograph
    /// separates words before it, as white space does.
    kept: Vec<char>,
}

impl Normalizer {
    /// Builds a normaliser from `(alias, replacement)` pairs; the aliases are
    /// themselves normalised (steps 1–4) so operators may write them any way.
    pub fn new(aliases: &[(String, String)]) -> Normalizer {
        let mut pats = Vec::new();
        let mut replacements = Vec::new();
        let mut latin = Vec::new();
        let folded: Vec<(String, &String)> =
            aliases.iter().map(|(a, r)| (Self::fold(a), r)).collect();
        let kept: Vec<char> = folded
            .iter()
            .filter_map(|(a, _)| {
                let mut one = a.trim().chars();
                match (one.next(), one.next()) {
                    (Some(c), None) if is_pictograph(c) => Some(c),
                    _ => None,
                }
            })
            .collect();
        for (a, r) in folded {
            // In the form the alias pass meets text: one space between words.
            let a = squeeze(&a, &kept);
            if a.is_empty() {
                continue;
            }
            latin.push(a.is_ascii());
            pats.push(a);
            replacements.push(Self::fold(r).trim().to_string());
        }
        let aliases = if pats.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .prefilter(false)
                .build(&pats)
                .ok()
        };
        Normalizer {
            aliases,
            replacements,
            latin,
            kept,
        }
    }

    /// The full canonical form of `text`. Linear in `text`: each step is one
    /// pass (NFKC reorders a run of combining marks by a sort, O(k log k) for
    /// a run of k), the aliases one automaton scan; the output is at most a
    /// constant factor longer (NFKC expands a character to at most 18, an
    /// alias to its replacement).
    pub fn normalize(&self, text: &str) -> String {
        // White space and pictographs separate words before the aliases, so
        // "zai  ma" and "bao☀you" meet the alias in its own form the first time
        // and normalising twice changes nothing (both found by the fuzzer).
        let (words, simple) = match Self::fold_simple(text) {
            Some(words) => (words, true),
            None => (squeeze(&Self::fold(text), &self.kept), false),
        };
        match &self.aliases {
            Some(ac) => match self.apply_aliases(ac, &words) {
                Some(replaced) => squeeze(&replaced, &[]),
                // Nothing replaced: `words` is already squeezed, and squeezing
                // it again changes it only where a kept pictograph stands
                // (which an alias would have replaced).
                None if simple || !words.chars().any(|c| self.kept.contains(&c)) => words,
                None => squeeze(&words, &[]),
            },
            None => words,
        }
    }

    /// Steps 1–4: the part that needs no data (emoji are kept for step 5).
    pub fn fold(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        if text.chars().all(|c| simple_nfkc(c).is_some()) {
            // Every character normalises alone, to one character: NFKC of
            // the text is that of each character (see `simple_nfkc`).
            Self::fold_chars(text.chars().filter_map(simple_nfkc), &mut out);
        } else {
            Self::fold_chars(text.nfkc(), &mut out);
        }
        // Lower-casing or a dropped joiner can bring a base letter and a
        // combining mark together (Y+◌̊ → y+◌̊ = ẙ): compose again, so that
        // normalising twice changes nothing (found by the fuzzer).
        if out.chars().any(|c| {
            // Neither ASCII nor an ideograph is a combining mark: no table lookup.
            !c.is_ascii() && !is_ideograph(c) && unicode_normalization::char::is_combining_mark(c)
        }) {
            out = out.nfkc().collect();
        }
        if out.chars().any(may_convert) {
            fast2s::convert(&out)
        } else {
            // No character the table converts (nearly every buyer writes
            // simplified Chinese): the conversion would copy the text and look
            // every character up in a hash map, to change nothing.
            out
        }
    }

    /// Steps 1–5 in one pass, for a text of the characters nearly every
    /// message is made of (those [`simple_nfkc`] takes, with no character
    /// the traditional → simplified table converts), into one string: the
    /// same as `squeeze(&fold(text), kept)` (a test compares them), which
    /// walks the text five times and copies it twice. `None` for any other
    /// text, which takes that way instead. A kept pictograph is never such a
    /// character, so `kept` plays no part.
    fn fold_simple(text: &str) -> Option<String> {
        let mut out = String::with_capacity(text.len());
        let mut last: Option<char> = None;
        let mut space = false;
        for c in text.chars() {
            let c = match simple_nfkc(c)? {
                c if c.is_control() => ' ',
                '。' => '.',
                c => c,
            };
            if is_punct(c) && last == Some(c) {
                continue;
            }
            last = Some(c);
            if c == ' ' {
                // A run of white space is one space between words, none at
                // either end.
                space = !out.is_empty();
                continue;
            }
            if !c.is_ascii() && may_convert(c) {
                return None;
            }
            if std::mem::take(&mut space) {
                out.push(' ');
            }
            out.push(c.to_ascii_lowercase());
        }
        Some(out)
    }

    /// Steps 1–4 after NFKC, over its output characters.
    fn fold_chars(chars: impl Iterator<Item = char>, out: &mut String) {
        let mut last: Option<char> = None;
        for c in chars {
            let c = match c {
                c if c.is_control() => ' ',
                // Variation selectors and zero-width joiners glue emoji together.
                '\u{fe00}'..='\u{fe0f}' | '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' => {
                    continue
                }
                '\u{3000}' => ' ',
                '。' | '．' => '.',
                '，' => ',',
                '～' | '〜' => '~',
                '【' | '「' | '『' | '《' | '〈' => '(',
                '】' | '」' | '』' | '》' | '〉' => ')',
                '“' | '”' | '‘' | '’' => '"',
                '…' => '.',
                c => c,
            };
            if is_punct(c) && last == Some(c) {
                continue;
            }
            last = Some(c);
            // ASCII and the CJK ideographs (nearly every character of a chat)
            // without the case table's search; ideographs have no case.
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            } else if is_ideograph(c) {
                out.push(c);
            } else {
                for l in c.to_lowercase() {
                    out.push(l);
                }
            }
        }
    }

    /// `text` with its aliases replaced, or `None` when none applies (most
    /// messages: no copy made).
    fn apply_aliases(&self, ac: &AhoCorasick, text: &str) -> Option<String> {
        let mut out = String::new();
        let mut last = 0;
        let mut any = false;
        for m in ac.find_iter(text) {
            let i = m.pattern().as_usize();
            if self.latin[i] && !on_word_boundaries(text, m.start(), m.end()) {
                continue;
            }
            if !any {
                out.reserve(text.len() + 8);
                any = true;
            }
            out.push_str(&text[last..m.start()]);
            let rep = &self.replacements[i];
            // A replacement never glues to a neighbouring Latin word ("发sf吗" →
            // "发顺丰吗", but "sfexpress" is not touched by word boundaries).
            let glue = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
            if glue(out.chars().next_back()) && glue(rep.chars().next()) {
                out.push(' ');
            }
            out.push_str(rep);
            if glue(rep.chars().next_back()) && glue(text[m.end()..].chars().next()) {
                out.push(' ');
            }
            last = m.end();
        }
        if !any {
            return None;
        }
        out.push_str(&text[last..]);
        Some(out)
    }
}

/// True when `text[start..end]` is not glued to other ASCII letters or digits.
pub fn on_word_boundaries(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(|c| c.is_ascii_alphanumeric())
        && !after.is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Folds runs of white space and pictographs (but `kept` ones) into one
/// space, trimmed (steps 6 and 7).
fn squeeze(s: &str, kept: &[char]) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s
        .split(|c: char| c.is_whitespace() || is_pictograph(c) && !kept.contains(&c))
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// The NFKC form of `c` when it is one character that never composes with a
/// neighbour, for the characters nearly every message is made of: ASCII
/// (printable and controls; no canonical composition starts or ends in
/// ASCII alone), the CJK unified ideographs (no decomposition, no
/// composition), the full-width ASCII forms (U+FF01–FF5E, `<wide>` of one
/// ASCII character) and 、。 (no decomposition). For a text made only of
/// these, NFKC is the map of each character (a test compares it with
/// `nfkc` over every such character and mixed strings); `None` for any other
/// character, whose text takes the full algorithm.
fn simple_nfkc(c: char) -> Option<char> {
    match c as u32 {
        0x00..=0x7F | 0x4E00..=0x9FFF | 0x3001 | 0x3002 => Some(c),
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0),
        _ => None,
    }
}

/// Characters `fast2s` converts on their own, and the ones it converts only
/// beside certain neighbours (its special cases, e.g. 著 in 看著): one bit
/// per character of U+0800–U+FFFF, the only ones it converts (three UTF-8
/// bytes). Found once by converting every such character.
fn may_convert(c: char) -> bool {
    static TABLE: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut bits = vec![0u64; 0x10000 / 64];
        let mut mark = |c: char| bits[c as usize / 64] |= 1 << (c as usize % 64);
        // One call over all of them: the context of a character only matters
        // for the special cases, marked below.
        let all: String = (0x800..=0xFFFFu32).filter_map(char::from_u32).collect();
        for (a, b) in all.chars().zip(fast2s::convert(&all).chars()) {
            if a != b {
                mark(a);
            }
        }
        for c in FAST2S_IN_CONTEXT {
            mark(*c);
        }
        bits
    });
    let i = c as usize;
    (0x800..=0xFFFF).contains(&i) && table[i / 64] & (1 << (i % 64)) != 0
}

/// The characters `fast2s` 0.3 converts only in certain words (its
/// `T2S_SPECIAL_CONVERT_TYPE`), which converting each alone cannot find.
const FAST2S_IN_CONTEXT: &[char] = &['藉', '著', '苧', '闔', '鍾', '讎', '畫'];

/// The CJK unified ideographs block (no case, no combining marks).
fn is_ideograph(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF)
}

fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation() || matches!(c, '。' | '、' | '·')
}

/// Emoji, pictographs and dingbats: carry feeling, not intent.
fn is_pictograph(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0xE000..=0xF8FF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n() -> Normalizer {
        Normalizer::new(&[
            ("木有".into(), "没有".into()),
            ("zai ma".into(), "在吗".into()),
            ("bao you".into(), "包邮".into()),
        ])
    }

    #[test]
    fn table() {
        let rows: &[(&str, &str)] = &[
            ("ＸＬ碼還有貨嗎？？？", "xl码还有货吗?"),
            // 、 joins items and stays (a run folds to one); ， is a comma.
            ("自己好安装、、设置吗，謝謝", "自己好安装、设置吗,谢谢"),
            (
                "收货人名字打错了🤦 麻烦改成王丽",
                "收货人名字打错了 麻烦改成王丽",
            ),
            ("木有货了吗", "没有货了吗"),
            ("Zai ma", "在吗"),
            ("lao ban zai ma", "lao ban 在吗"),
            ("bao you ma", "包邮 ma"),
            ("能bao you吗", "能包邮吗"),
            ("  hello\t\nworld  ", "hello world"),
            ("Is this IN STOCK!!!", "is this in stock!"),
            ("", ""),
            ("\u{0}\u{7}", ""),
            ("頭髮 發貨 乾淨", "头发 发货 干净"),
            ("shippingzai ma", "shippingzai ma"),
            ("bao☀you", "包邮"),
            ("zai😀 ma", "在吗"),
            ("zai😀😀ma😀", "在吗"),
        ];
        let n = n();
        for (input, want) in rows {
            assert_eq!(n.normalize(input), *want, "input {input:?}");
        }
    }

    /// The fast path equals NFKC on every character it takes and on mixed
    /// strings of them.
    #[test]
    fn simple_nfkc_is_nfkc() {
        let mut all = String::new();
        for cp in (0..=0x7Fu32)
            .chain(0x4E00..=0x9FFF)
            .chain(0xFF01..=0xFF5E)
            .chain([0x3001, 0x3002])
        {
            let c = char::from_u32(cp).unwrap();
            let one: String = c.to_string().nfkc().collect();
            assert_eq!(one, simple_nfkc(c).unwrap().to_string(), "U+{cp:04X}");
            all.push(c);
        }
        for s in [
            all.as_str(),
            "ＸＬ碼還有貨嗎？？？",
            "e\u{7f}ａ，好ｅ。",
            "Ａ\u{0}b、Ｚ",
        ] {
            let want: String = s.nfkc().collect();
            let got: String = s.chars().filter_map(simple_nfkc).collect();
            assert_eq!(got, want, "{s:?}");
        }
        assert_eq!(simple_nfkc('…'), None);
        assert_eq!(simple_nfkc('\u{301}'), None);
    }

    /// Skipping the conversion when no character may convert changes
    /// nothing: every character that converts alone is marked, and so are
    /// the ones converted in context.
    #[test]
    fn the_conversion_is_skipped_only_where_it_changes_nothing() {
        for s in [
            "看著 藉口 憑藉 苧麻 闔家 鍾書 校讎 計畫",
            "頭髮 發貨 乾淨 乾隆 回覆 瞭望",
            "有货吗 什么时候发",
            "xl码还有货吗?",
        ] {
            let converted = fast2s::convert(s);
            let marked = s.chars().any(may_convert);
            assert!(marked || converted == s, "{s:?}: {converted:?}");
        }
        for cp in 0x800..=0xFFFFu32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            for ctx in ["", "看", "口", "麻", "家", "書", "定", "計"] {
                for t in [format!("{ctx}{c}"), format!("{c}{ctx}")] {
                    if !may_convert(c) && !t.chars().any(may_convert) {
                        assert_eq!(fast2s::convert(&t), t, "U+{cp:04X}");
                    }
                }
            }
        }
        assert!(!may_convert('a') && !may_convert('货') && may_convert('貨'));
    }

    /// The fast paths of `fold` take only characters the tables leave alone.
    #[test]
    fn ideographs_have_no_case_and_are_no_marks() {
        for cp in 0x4E00..=0x9FFFu32 {
            let c = char::from_u32(cp).unwrap();
            assert!(is_ideograph(c));
            assert_eq!(c.to_lowercase().collect::<String>(), c.to_string());
            assert!(!unicode_normalization::char::is_combining_mark(c));
        }
        for c in (0..=0x7Fu8).map(char::from) {
            assert_eq!(
                c.to_lowercase().collect::<String>(),
                c.to_ascii_lowercase().to_string()
            );
            assert!(!unicode_normalization::char::is_combining_mark(c));
        }
    }

    /// The one-pass fold of simple text is the five-pass one: on every
    /// character it takes, alone and between others, and on strings of runs
    /// of white space, controls, punctuation and full-width forms; it turns
    /// away every other character (and a traditional one).
    #[test]
    fn the_one_pass_fold_is_fold_then_squeeze() {
        let slow = |t: &str| squeeze(&Normalizer::fold(t), &[]);
        let mut singles: Vec<char> = (0..=0x7Fu8).map(char::from).collect();
        singles.extend((0x4E00..=0x9FFFu32).filter_map(char::from_u32));
        singles.extend((0xFF01..=0xFF5Eu32).filter_map(char::from_u32));
        singles.extend(['、', '。']);
        for &c in &singles {
            for t in [c.to_string(), format!("a{c}{c}b"), format!(" {c} 货{c}")] {
                match Normalizer::fold_simple(&t) {
                    Some(fast) => assert_eq!(fast, slow(&t), "{t:?}"),
                    None => assert!(may_convert(c), "{t:?} turned away"),
                }
            }
        }
        for t in [
            "",
            "   ",
            " \t\n有货吗？？？  什么时候发 ",
            "ＸＬ码还有吗，，，亲。。。",
            "Is this IN STOCK!!!  ok..",
            "a\u{0}\u{7}b\r\nc",
            "、、。。,,..!!??",
            "ＡＢＣ　１２３",
            "有货吗😀",
            "發貨",
            "cafe\u{301}",
            "…",
        ] {
            let simple = t
                .chars()
                .all(|c| simple_nfkc(c).is_some() && !may_convert(c));
            match Normalizer::fold_simple(t) {
                Some(fast) => assert_eq!(fast, slow(t), "{t:?}"),
                None => assert!(!simple, "{t:?} turned away"),
            }
            assert_eq!(Normalizer::fold_simple(t).is_some(), simple, "{t:?}");
        }
    }

    #[test]
    fn idempotent_on_samples() {
        let n = n();
        for s in [
            "亲 在吗 有货吗",
            "ＡＢＣ１２３",
            "發貨了嗎😀😀",
            "bao you ma?!",
            "木有木有",
            "bao☀you",
            "zai😀 ma 👍",
        ] {
            let once = n.normalize(s);
            assert_eq!(n.normalize(&once), once, "{s:?}");
        }
    }
}
