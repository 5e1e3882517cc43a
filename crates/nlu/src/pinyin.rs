//! Pinyin: buyers type it when they have no Chinese input method ("bao you ma",
//! "baoyouma"), and their Chinese is full of homophone typos (法货 for 发货,
//! 保邮 for 包邮). Both meet the intent files in one place: the toneless pinyin
//! of the keywords. A Chinese clause is transliterated syllable by syllable; a
//! Latin clause that reads as pinyin is cut into syllables.

use super::segment::is_cjk;
use pinyin::ToPinyin;
use std::collections::{HashMap, HashSet};

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

/// The runs of ASCII letters in a text: the words pinyin could spell.
fn latin_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
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
        let words: Vec<&str> = latin_words(text).collect();
        let mut syllables = 0;
        for w in &words {
            match self.split_word(w) {
                Some(s) => syllables += s.len(),
                None => return false,
            }
        }
        syllables >= 2 && !words.iter().any(|w| ENGLISH_TELLS.contains(w))
    }

    /// True when a text mixes Chinese characters with pinyin spellings
    /// ("你hao", "发huo了吗", "ni好"): it has a Latin word, and every Latin word
    /// splits into syllables and is no English tell. Such words are typed
    /// sounds, so a phrase heard across them is spelled, not a homophone
    /// typo. Linear in `text`.
    pub fn is_spelled_mix(&self, text: &str) -> bool {
        if !text.chars().any(is_cjk) {
            return false;
        }
        let mut words = latin_words(text).peekable();
        words.peek().is_some()
            && words.all(|w| self.split_word(w).is_some() && !ENGLISH_TELLS.contains(&w))
    }

    /// Toneless pinyin of a text with one space around every syllable:
    /// " fa huo le ma ". Chinese characters are transliterated; Latin words are
    /// cut into syllables when they can be and kept whole otherwise; other
    /// characters become a space. Linear in `text`: every word is split once.
    pub fn transliterate(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() * 2 + 2);
        out.push(' ');
        self.walk(text, |sound| {
            let syllable = match sound {
                Sound::Latin(w) => w,
                Sound::Char(c) => match c.to_pinyin() {
                    Some(p) => p.plain(),
                    None => return,
                },
            };
            out.push_str(syllable);
            out.push(' ');
        });
        out
    }

    /// The tokens of a text by sound, in order: each Latin word's syllables
    /// (or the word whole when it does not split), and every other
    /// character, whose pinyin (if any) is its syllable. The one walk behind
    /// [`Pinyin::transliterate`] and [`SoundCode::encode_into`], so the two
    /// cannot disagree. Linear in `text`: every word is split once.
    fn walk<'t>(&self, text: &'t str, mut each: impl FnMut(Sound<'t>)) {
        let mut word = 0..0;
        for (i, c) in text.char_indices() {
            if c.is_ascii_alphanumeric() {
                if word.is_empty() {
                    word = i..i;
                }
                word.end = i + 1;
                continue;
            }
            self.latin(&text[word.clone()], &mut each);
            word = 0..0;
            each(Sound::Char(c));
        }
        self.latin(&text[word], &mut each);
    }

    /// A Latin word's tokens: its syllables, or the word whole.
    fn latin<'t>(&self, word: &'t str, each: &mut impl FnMut(Sound<'t>)) {
        if word.is_empty() {
            return;
        }
        match self.split_word(word) {
            Some(parts) => parts.into_iter().for_each(|p| each(Sound::Latin(p))),
            None => each(Sound::Latin(word)),
        }
    }
}

/// A token of a text by sound (see [`Pinyin::walk`]).
enum Sound<'t> {
    /// A syllable cut from a Latin word, or the word kept whole.
    Latin(&'t str),
    /// Any other character.
    Char(char),
}

/// Transliterations as syllable codes, for the keywords by sound: every
/// token of [`Pinyin::transliterate`] (a syllable, or a Latin word kept whole)
/// becomes two bytes, its id's high seven bits with the top bit set, then its
/// low seven bits. A phrase's code matches inside a text's code exactly where
/// its transliteration (" fa huo ") matches inside the text's, since both are
/// runs of whole tokens: a code starts with a high byte and every low byte is
/// below 0x80, so no match starts inside a token. The scan reads two bytes a
/// syllable instead of three to seven ("fa ", "zhuang "), through an
/// automaton of half the states, and a Chinese character's syllable is one
/// table read instead of the `pinyin` crate's lookup and a copy of its text.
#[derive(Debug, Clone)]
pub struct SoundCode {
    /// Token → id; ids below [`SoundCode::UNKNOWN`].
    ids: HashMap<String, u16>,
    /// The id of each character of U+4E00..=U+9FFF's syllable
    /// ([`SoundCode::NONE`] for one without).
    cjk: Vec<u16>,
}

impl SoundCode {
    /// A token no phrase holds.
    const UNKNOWN: u16 = (1 << 14) - 1;
    /// No syllable (a character with no reading).
    const NONE: u16 = u16::MAX;
    const CJK: std::ops::RangeInclusive<u32> = 0x4E00..=0x9FFF;

    /// Ids for every syllable of `py` and every token of `phrases`
    /// (transliterations), the tokens that can take part in a match.
    pub fn new<'a>(py: &Pinyin, phrases: impl IntoIterator<Item = &'a str>) -> SoundCode {
        let mut ids: HashMap<String, u16> = HashMap::new();
        // Looked up before it is inserted: every character of the table asks
        // for a syllable already there (no copy of its text each time).
        let mut id_of = |t: &str| -> u16 {
            if let Some(&id) = ids.get(t) {
                return id;
            }
            let next = ids.len();
            // Cannot fire on operators' files: the phrases given are
            // transliterations of Chinese characters, whose syllables come
            // from the `pinyin` crate's fixed inventory (about 1,400 with
            // the table's own), far below 16,383.
            assert!(next < Self::UNKNOWN as usize, "too many syllables");
            ids.insert(t.to_string(), next as u16);
            next as u16
        };
        let mut syllables: Vec<&String> = py.syllables.iter().collect();
        syllables.sort();
        for s in syllables {
            id_of(s);
        }
        let cjk = Self::CJK
            .map(|cp| {
                char::from_u32(cp)
                    .and_then(|c| c.to_pinyin())
                    .map_or(Self::NONE, |p| id_of(p.plain()))
            })
            .collect();
        for phrase in phrases {
            phrase.split(' ').filter(|t| !t.is_empty()).for_each(|t| {
                id_of(t);
            });
        }
        SoundCode { ids, cjk }
    }

    fn push(out: &mut Vec<u8>, id: u16) {
        out.push(0x80 | (id >> 7) as u8);
        out.push((id & 0x7F) as u8);
    }

    fn push_token(&self, out: &mut Vec<u8>, token: &str) {
        Self::push(out, self.ids.get(token).copied().unwrap_or(Self::UNKNOWN));
    }

    /// The code of a transliteration (" fa huo "): a phrase's, at build time.
    pub fn of_transliteration(&self, py: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for t in py.split(' ').filter(|t| !t.is_empty()) {
            self.push_token(&mut out, t);
        }
        out
    }

    /// The code of `pinyin.transliterate(text)` into `out` (cleared first),
    /// made by the same walk ([`Pinyin::walk`]); a Chinese character's
    /// syllable is read from the table. Linear in `text`.
    pub fn encode_into(&self, pinyin: &Pinyin, text: &str, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(text.len());
        pinyin.walk(text, |sound| match sound {
            Sound::Latin(w) => self.push_token(out, w),
            Sound::Char(c) if Self::CJK.contains(&(c as u32)) => {
                let id = self.cjk[(c as u32 - Self::CJK.start()) as usize];
                if id != Self::NONE {
                    Self::push(out, id);
                }
            }
            Sound::Char(c) => {
                if let Some(p) = c.to_pinyin() {
                    self.push_token(out, p.plain());
                }
            }
        });
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

    /// Phrases by sound found through syllable codes are the ones found in
    /// the transliterated text, in the same order: homophones, phrases that
    /// share syllables, Latin words cut or kept whole (one spelling a
    /// syllable: "hao" in "haoma"; one not: "xyz"), digits, characters with
    /// no reading, and matches that would straddle a token.
    #[test]
    fn sound_codes_find_what_the_text_finds() {
        use aho_corasick::{AhoCorasick, MatchKind};
        let p = Pinyin::new();
        let phrases = [
            "发货",
            "法货",
            "包邮",
            "保邮",
            "便宜点",
            "新客",
            "号码",
            "好",
            "货了",
            "滤芯",
            "可以",
            "以",
            "尺码",
            "绿色",
            "女装",
            "安装",
            "一二三",
        ];
        let py: Vec<String> = phrases.iter().map(|t| p.transliterate(t)).collect();
        let code = SoundCode::new(&p, py.iter().map(String::as_str));
        let codes: Vec<Vec<u8>> = py.iter().map(|t| code.of_transliteration(t)).collect();
        let build = |pats: &[Vec<u8>]| {
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(pats)
                .unwrap()
        };
        let by_text = build(&py.iter().map(|t| t.as_bytes().to_vec()).collect::<Vec<_>>());
        let by_code = build(&codes);
        let texts = [
            "",
            "发货了吗",
            "法货了吗 亲",
            "便意点可以吗",
            "滤芯可以",
            "baoyou ma",
            "bao you ma 包邮吗",
            "haoma 号码多少",
            "xyz发货xyz",
            "fahuo",
            "fa huo le",
            "l码有吗 绿色",
            "lvse nvzhuang",
            "12发货34 5g",
            "〇发〇货 ㄅ发货",
            "一二三四五 一 二 三",
            "尺码 chima 吃吗",
            "安装 anzhuang an zhuang",
            "Fa Huo",
        ];
        let mut buf = Vec::new();
        for text in texts {
            let t = p.transliterate(text);
            let want: Vec<(usize, usize)> = by_text
                .find_overlapping_iter(&t)
                .map(|m| (m.pattern().as_usize(), m.end()))
                .collect();
            code.encode_into(&p, text, &mut buf);
            let got: Vec<usize> = by_code
                .find_overlapping_iter(&buf)
                .map(|m| m.pattern().as_usize())
                .collect();
            let want_pats: Vec<usize> = want.iter().map(|w| w.0).collect();
            assert_eq!(got, want_pats, "{text:?} ({t:?})");
            // The code is the transliteration's, token by token.
            assert_eq!(buf, code.of_transliteration(&t), "{text:?}");
        }
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

    /// Pinyin among characters is a spelling; English words, pinyin alone
    /// and characters alone are not (the engine weighs a phrase heard across a
    /// spelling in full).
    #[test]
    fn spelled_mixes() {
        let p = Pinyin::new();
        let rows = [
            ("你hao", true),
            ("ni好", true),
            ("发huo了吗 谢谢", true),
            ("bao zhen ma 亲", true),
            ("iphone13有货吗", false),
            ("wifi怎么连", false),
            ("hello 在吗", false),
            ("you fei duo shao", false),
            ("发货了吗", false),
            ("", false),
        ];
        for (text, want) in rows {
            assert_eq!(p.is_spelled_mix(text), want, "{text:?}");
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
