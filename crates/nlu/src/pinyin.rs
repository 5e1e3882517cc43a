//! Pinyin: buyers type it when they have no Chinese input method ("bao you ma",
//! "baoyouma"), and their Chinese is full of homophone typos (法货 for 发货,
//! 保邮 for 包邮). Both meet the intent files in one place: the toneless pinyin
//! of the keywords. A Chinese clause is transliterated syllable by syllable; a
//! Latin clause that reads as pinyin is cut into syllables.

use super::segment::is_cjk;
use pinyin::ToPinyin;
use std::collections::HashSet;

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
        let longest = syllables.iter().map(|s| s.len()).max().unwrap_or(6);
        Pinyin { syllables, longest }
    }

    /// Cuts a Latin word into pinyin syllables ("baoyou" → bao, you), or `None`
    /// when it does not read as pinyin. Longest syllable first, with backtracking.
    pub fn split_word<'w>(&self, word: &'w str) -> Option<Vec<&'w str>> {
        fn go<'w>(p: &Pinyin, w: &'w str, out: &mut Vec<&'w str>) -> bool {
            if w.is_empty() {
                return true;
            }
            for len in (1..=p.longest.min(w.len())).rev() {
                if w.is_char_boundary(len) && p.syllables.contains(&w[..len]) {
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
        go(self, word, &mut out).then_some(out)
    }

    /// True when a Latin-only text reads as pinyin rather than English: every
    /// word splits into syllables and the text has at least two syllables.
    /// English words that happen to be syllables ("a", "long", "he") rarely
    /// make up a whole sentence.
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
    /// characters become a space.
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
}
