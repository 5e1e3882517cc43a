//! Pinyin: buyers type it when they have no Chinese input method ("bao you ma",
//! "baoyouma"), and their Chinese is full of homophone typos (法货 for 发货,
//! 保邮 for 包邮). Both meet the intent files in one place: the toneless pinyin
//! of the keywords. A Chinese clause is transliterated syllable by syllable; a
//! Latin clause that reads as pinyin is cut into syllables.

use super::segment::is_cjk;
use pinyin::ToPinyin;
use std::collections::HashSet;

/// Longest toneless syllable, in bytes ("zhuang", "chuang", "shuang"): bounds
/// the work per byte of [`Pinyin::split_word`].
pub const MAX_SYLLABLE: usize = 6;

/// The syllable inventory and the transliterator.
#[derive(Debug, Clone)]
pub struct Pinyin {
    syllables: HashSet<String>,
    longest: usize,
}

impl Default for Pinyin {
    fn default() -> Self {
        Pinyin::new()
    }
}

impl Pinyin {
    /// Collects every toneless syllable the character table knows (about 400).
    pub fn new() -> Pinyin {
        let mut syllables = HashSet::new();
        for cp in 0x4E00u32..=0x9FFF {
            if let Some(p) = char::from_u32(cp).and_then(|c| c.to_pinyin()) {
                syllables.insert(p.plain().to_string());
            }
        }
        // Common ways of typing ü without the letter.
        for s in ["lv", "nv", "lve", "nve"] {
            syllables.insert(s.to_string());
        }
        let longest = syllables
            .iter()
            .map(|s| s.len())
            .max()
            .unwrap_or(MAX_SYLLABLE);
        debug_assert!(
            longest <= MAX_SYLLABLE,
            "a syllable longer than MAX_SYLLABLE"
        );
        Pinyin { syllables, longest }
    }

    /// Cuts a Latin word into pinyin syllables ("baoyou" → bao, you), or `None`
    /// when it does not read as pinyin. At each position the longest syllable
    /// after which the rest still splits (the answer a longest-first
    /// backtracking search gives), found by dynamic programming: a backtracking
    /// search took exponential time ("xian"×16+"q": 10 minutes), this one
    /// takes at most 2 × [`MAX_SYLLABLE`] table lookups per byte of the word.
    pub fn split_word<'w>(&self, word: &'w str) -> Option<Vec<&'w str>> {
        self.split_word_counted(word).0
    }

    /// [`Pinyin::split_word`] and the number of syllable-table lookups it made
    /// (for the adversarial tests: at most 2 × [`MAX_SYLLABLE`] per byte).
    #[doc(hidden)]
    pub fn split_word_counted<'w>(&self, word: &'w str) -> (Option<Vec<&'w str>>, usize) {
        if word.is_empty() || !word.bytes().all(|b| b.is_ascii_lowercase()) {
            return (None, 0);
        }
        let n = word.len();
        let longest = self.longest.min(MAX_SYLLABLE);
        let mut steps = 0;
        // splits[i]: the suffix word[i..] cuts into syllables (ASCII only, so
        // every byte index is a char boundary).
        let mut splits = vec![false; n + 1];
        splits[n] = true;
        for i in (0..n).rev() {
            splits[i] = (1..=longest.min(n - i)).any(|len| {
                steps += 1;
                splits[i + len] && self.syllables.contains(&word[i..i + len])
            });
        }
        if !splits[0] {
            return (None, steps);
        }
        // Forward, longest syllable first among those the rest can follow.
        let mut out = Vec::new();
        let mut i = 0;
        while i < n {
            let len = (1..=longest.min(n - i))
                .rev()
                .find(|&len| {
                    steps += 1;
                    splits[i + len] && self.syllables.contains(&word[i..i + len])
                })
                .expect("splits[i] holds, so some syllable starts here");
            out.push(&word[i..i + len]);
            i += len;
        }
        (Some(out), steps)
    }

    /// True when a Latin-only text reads as pinyin rather than English: every
    /// word splits into syllables and the text has at least two syllables.
    /// English words that happen to be syllables ("a", "long", "he") rarely
    /// make up a whole sentence. Linear in `text`.
    pub fn is_pinyin_text(&self, text: &str) -> bool {
        if text.chars().any(is_cjk) {
            return false;
        }
        let words: Vec<&str> = text
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| !w.is_empty())
            .collect();
        let mut syllables = 0;
        for w in &words {
            match self.split_word(w) {
                Some(s) => syllables += s.len(),
                None => return false,
            }
        }
        syllables >= 2 && !words.iter().any(|w| ENGLISH_TELLS.contains(w))
    }

    /// Toneless pinyin of a text with one space around every syllable:
    /// " fa huo le ma ". Chinese characters are transliterated; Latin words are
    /// cut into syllables when they can be and kept whole otherwise; other
    /// characters become a space. Linear in `text`: every word is split once.
    pub fn transliterate(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() * 2 + 2);
        out.push(' ');
        let mut word = String::new();
        let flush = |word: &mut String, out: &mut String| {
            if word.is_empty() {
                return;
            }
            match self.split_word(word) {
                Some(parts) => {
                    for p in parts {
                        out.push_str(p);
                        out.push(' ');
                    }
                }
                None => {
                    out.push_str(word);
                    out.push(' ');
                }
            }
            word.clear();
        };
        for c in text.chars() {
            if c.is_ascii_alphanumeric() {
                word.push(c);
            } else {
                flush(&mut word, &mut out);
                if let Some(p) = c.to_pinyin() {
                    out.push_str(p.plain());
                    out.push(' ');
                }
            }
        }
        flush(&mut word, &mut out);
        out
    }
}

/// Index tokens of a transliteration: syllables and syllable pairs (the same
/// shape as Chinese character unigrams and bigrams).
pub fn tokens(py: &str) -> Vec<String> {
    let syl: Vec<&str> = py.split(' ').filter(|s| !s.is_empty()).collect();
    let mut out: Vec<String> = syl.iter().map(|s| s.to_string()).collect();
    for w in syl.windows(2) {
        out.push(format!("{}_{}", w[0], w[1]));
    }
    out
}

/// Short English words that are also pinyin syllables but, in a sentence, say
/// "this is English".
const ENGLISH_TELLS: &[&str] = &[
    "a", "an", "he", "me", "you", "long", "ship", "hi", "hello", "is", "to", "it", "in",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let p = Pinyin::new();
        assert_eq!(p.transliterate("发货了吗"), " fa huo le ma ");
        assert_eq!(p.transliterate("法货"), p.transliterate("发货"));
        assert_eq!(p.transliterate("baoyou ma"), " bao you ma ");
        assert_eq!(p.transliterate("l码有吗"), " l ma you ma ");
        assert!(p.is_pinyin_text("zai bu zai"));
        assert!(p.is_pinyin_text("baoyouma"));
        assert!(!p.is_pinyin_text("is this in stock"));
        assert!(!p.is_pinyin_text("hello"));
        assert!(!p.is_pinyin_text("有货吗"));
        assert_eq!(p.split_word("xian"), Some(vec!["xian"]));
        assert_eq!(p.split_word("xyz"), None);
    }

    /// The splitter as it was: longest syllable first, with backtracking
    /// (exponential on "xian"×n+"q"), kept as the reference for short words.
    fn backtracking<'w>(p: &Pinyin, word: &'w str) -> Option<Vec<&'w str>> {
        fn go<'w>(p: &Pinyin, w: &'w str, out: &mut Vec<&'w str>) -> bool {
            if w.is_empty() {
                return true;
            }
            for len in (1..=p.longest.min(w.len())).rev() {
                if p.syllables.contains(&w[..len]) {
                    out.push(&w[..len]);
                    if go(p, &w[len..], out) {
                        return true;
                    }
                    out.pop();
                }
            }
            false
        }
        if word.is_empty() || !word.bytes().all(|b| b.is_ascii_lowercase()) {
            return None;
        }
        let mut out = Vec::new();
        go(p, word, &mut out).then_some(out)
    }

    #[test]
    fn same_cuts_as_backtracking() {
        let p = Pinyin::new();
        let mut words: Vec<String> = [
            "baoyou",
            "baoyouma",
            "xian",
            "xianq",
            "xianxianxian",
            "zhuangzhuang",
            "fahuolema",
            "zaibuzai",
            "shipping",
            "hello",
            "ceshi",
            "ou",
            "nve",
            "lve",
            "aaaa",
            "ng",
            "hm",
            "xiana",
            "erer",
            "kuaidi",
            "duoshaoqian",
            "qq",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every word of up to four letters over letters that make many
        // ambiguous cuts, and a pseudo-random sample of longer ones.
        let letters = b"aeinoughxz";
        for len in 1..=4u32 {
            for k in 0..letters.len().pow(len) {
                let (mut k, mut w) = (k, String::new());
                for _ in 0..len {
                    w.push(letters[k % letters.len()] as char);
                    k /= letters.len();
                }
                words.push(w);
            }
        }
        let mut x: u64 = 0x2545F4914F6CDD1D;
        for _ in 0..3000 {
            let mut w = String::new();
            for _ in 0..(x % 14 + 1) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                w.push((b'a' + (x % 26) as u8) as char);
            }
            words.push(w);
        }
        for w in &words {
            assert_eq!(p.split_word(w), backtracking(&p, w), "{w:?}");
        }
    }

    #[test]
    fn syllables_fit_the_bound() {
        let p = Pinyin::new();
        assert!(p.longest <= MAX_SYLLABLE, "{}", p.longest);
    }

    #[test]
    fn linear_steps_on_hostile_words() {
        let p = Pinyin::new();
        for w in [
            "xian".repeat(16) + "q",
            "xian".repeat(500) + "q",
            "a".repeat(2000),
            "zhuang".repeat(300) + "v",
            "ng".repeat(1000),
        ] {
            let (_, steps) = p.split_word_counted(&w);
            assert!(
                steps <= 2 * MAX_SYLLABLE * w.len(),
                "{} bytes: {steps} steps",
                w.len()
            );
        }
    }
}
