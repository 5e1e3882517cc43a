//! Segmentation: a normalised message into clauses (one question each, usually),
//! and a clause into the tokens the example index uses.
//!
//! Tokens are Chinese character unigrams and bigrams plus Latin words. Chosen by
//! measurement over jieba words on the dev sets: buyers' typos, slang and
//! run-together phrases break a dictionary segmenter, while bigrams degrade
//! gracefully, cost nothing to load, and keep start-up far under budget
//! (README, "Segmentation").

use std::ops::Range;

/// Splits a normalised message into clause byte ranges. Splits at punctuation,
/// at a space between two Chinese characters, and after a question particle
/// (吗, 呢) followed by more Chinese text; never at the enumeration comma 、,
/// which joins the items of one thought (红色、蓝色; 安装、设置). A '.', ':' or
/// '/' between two digits is part of a number (7.5折, 10:30, 6/18), not a cut.
/// One pass: linear in `text`, at most one clause per character.
pub fn clauses(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut iter = text.char_indices().peekable();
    let mut prev: Option<char> = None;
    while let Some((i, c)) = iter.next() {
        let next = iter.peek().map(|&(_, n)| n);
        let cut_here = match c {
            '.' | ':' | '/'
                if prev.is_some_and(|p| p.is_ascii_digit())
                    && next.is_some_and(|n| n.is_ascii_digit()) =>
            {
                None
            }
            ',' | '.' | '!' | '?' | ';' | ':' | '~' | '(' | ')' | '"' | '\n' | '|' | '/' => Some(i),
            ' ' if prev.is_some_and(is_cjk) && next.is_some_and(is_cjk) => Some(i),
            // Only the question particles; 么 and 嘛 live inside 什么, 怎么, 这么
            // (the aliases fold their question uses, 在么 and 好嘛, into 吗).
            // Before 就 the particle is a pause inside one thought (还没到呢就
            // 便宜了: the price fell while the parcel is on its way), not a cut.
            '吗' | '呢'
                if next.is_some_and(|n| {
                    is_cjk(n) && !matches!(n, '吗' | '呢' | '啊' | '呀' | '哦' | '的' | '就')
                }) =>
            {
                let end = i + c.len_utf8();
                push(&mut out, text, start..end);
                start = end;
                None
            }
            _ => None,
        };
        if let Some(at) = cut_here {
            push(&mut out, text, start..at);
            start = at + c.len_utf8();
        }
        prev = Some(c);
    }
    push(&mut out, text, start..text.len());
    out
}

fn push(out: &mut Vec<Range<usize>>, text: &str, r: Range<usize>) {
    let s = &text[r.clone()];
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return;
    }
    let lead = s.len() - s.trim_start().len();
    out.push(r.start + lead..r.start + lead + trimmed.len());
}

/// The CJK ideographs of a text, sorted, for membership tests that
/// cost no walk of the text each: on the stack for a text of a few dozen
/// (nearly every clause), in one list beyond.
pub struct Hanzi {
    few: [char; 32],
    len: usize,
    many: Vec<char>,
}

impl Hanzi {
    /// The set of `text`'s ideographs (one walk and one sort).
    pub fn of(text: &str) -> Hanzi {
        let mut set = Hanzi {
            few: ['\0'; 32],
            len: 0,
            many: Vec::new(),
        };
        for c in text.chars().filter(|&c| is_cjk(c)) {
            if set.len < set.few.len() {
                set.few[set.len] = c;
                set.len += 1;
            } else {
                if set.many.is_empty() {
                    set.many.extend_from_slice(&set.few);
                }
                set.many.push(c);
            }
        }
        let list: &mut [char] = if set.many.is_empty() {
            &mut set.few[..set.len]
        } else {
            &mut set.many
        };
        list.sort_unstable();
        if !set.many.is_empty() {
            set.many.dedup();
        }
        set
    }

    /// Whether `c` is one of them.
    pub fn contains(&self, c: char) -> bool {
        let list = if self.many.is_empty() {
            &self.few[..self.len]
        } else {
            &self.many[..]
        };
        list.binary_search(&c).is_ok()
    }
}

/// True for CJK ideographs (the characters Chinese is written in).
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0xF900..=0xFAFF)
}

/// Calls `f` with every index token of a normalised text, borrowed from it, in
/// order: Chinese unigrams (`true`) and bigrams, Latin words and numbers (a
/// number is preceded by `#num`, so "165" and "170" look alike). The one walk
/// behind [`tokens`], [`query_tokens`] and [`token_hashes`].
fn each_token<'t>(text: &'t str, mut f: impl FnMut(&'t str, bool)) {
    let mut prev: Option<usize> = None;
    let mut word_start: Option<usize> = None;
    let flush = |start: &mut Option<usize>, end: usize, f: &mut dyn FnMut(&'t str, bool)| {
        if let Some(s) = start.take() {
            let w = &text[s..end];
            if w.bytes().all(|b| b.is_ascii_digit()) {
                f("#num", false);
            }
            f(w, false);
        }
    };
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        if is_cjk(c) {
            flush(&mut word_start, i, &mut f);
            f(&text[i..end], true);
            if let Some(p) = prev {
                f(&text[p..end], false);
            }
            prev = Some(i);
        } else if c.is_alphanumeric() {
            word_start.get_or_insert(i);
            prev = None;
        } else {
            flush(&mut word_start, i, &mut f);
            prev = None;
        }
    }
    flush(&mut word_start, text.len(), &mut f);
}

/// Index tokens of a normalised text (see [`each_token`]).
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    each_token(text, |t, _| out.push(t.to_string()));
    out
}

/// Query tokens for the example index: the Chinese bigrams and Latin words of
/// [`tokens`] (or the unigrams when the text has no bigram), borrowed from the
/// text. Fewer, more specific terms make retrieval sharper and cheaper.
pub fn query_tokens(text: &str) -> Vec<&str> {
    // Sized up front (each list holds at most a token and a `#num` per
    // byte): growing them a push at a time was a measured share of the
    // allocations.
    // The unigrams are gathered in a second walk, only for a text with no
    // bigram or word (one allocation less for nearly every message).
    let mut specific = Vec::with_capacity(text.len() + 1);
    each_token(text, |t, unigram| {
        if !unigram {
            specific.push(t)
        }
    });
    if !specific.is_empty() {
        return specific;
    }
    let mut unigrams = Vec::with_capacity(text.len() / 3 + 1);
    each_token(text, |t, unigram| {
        if unigram {
            unigrams.push(t)
        }
    });
    unigrams
}

/// The hashes of [`tokens`] of `text`, sorted and deduplicated, computed without
/// building the strings (this runs for every clause of every message). At most
/// two tokens per character; O(n log n) for the sort.
pub fn token_hashes(text: &str) -> Vec<u64> {
    let mut out = Vec::with_capacity(text.len());
    each_token(text, |t, _| out.push(hash(t)));
    out.sort_unstable();
    out.dedup();
    out
}

/// FNV-1a hash of a token.
pub fn hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn hanzi_holds_the_ideographs_of_a_text() {
        // (text, held, not held); the long row passes the stack's 32.
        let long: String = ('\u{4e00}'..='\u{4e40}').chain("退款".chars()).collect();
        let rows: &[(&str, &str, &str)] = &[
            ("", "", "货"),
            ("有货吗", "有货吗", "发a"),
            ("滤芯可以 ok 123", "滤芯可以", "新客o1 "),
            ("货货货货", "货", "有"),
            (&long, "\u{4e00}\u{4e20}\u{4e40}退款", "\u{4e41}货"),
        ];
        for (text, held, not) in rows {
            let set = super::Hanzi::of(text);
            for c in held.chars() {
                assert!(set.contains(c), "{c} in {text}");
            }
            for c in not.chars() {
                assert!(!set.contains(c), "{c} not in {text}");
            }
        }
    }

    use super::*;

    fn split(s: &str) -> Vec<&str> {
        clauses(s).into_iter().map(|r| &s[r]).collect()
    }

    #[test]
    fn clause_table() {
        let rows: &[(&str, &[&str])] = &[
            ("亲 在吗 有货吗", &["亲", "在吗", "有货吗"]),
            ("有货吗?什么时候发", &["有货吗", "什么时候发"]),
            // The enumeration comma joins items (normalised 、 stays 、).
            ("自己好安装、设置吗", &["自己好安装、设置吗"]),
            (
                "红色、蓝色有货吗,什么时候发",
                &["红色、蓝色有货吗", "什么时候发"],
            ),
            ("有货吗什么时候发", &["有货吗", "什么时候发"]),
            (
                "is this in stock? when do you ship",
                &["is this in stock", "when do you ship"],
            ),
            ("l码 还有吗", &["l码", "还有吗"]),
            ("好吗好吗", &["好吗", "好吗"]),
            ("", &[]),
            ("...", &[]),
            ("是吗", &["是吗"]),
            // A number's point, colon or slash is no cut; a full stop after one is.
            ("两件7.5折吗", &["两件7.5折吗"]),
            ("还没到呢就降价了", &["还没到呢就降价了"]),
            ("10:30前能送到吗", &["10:30前能送到吗"]),
            ("6/18有活动吗", &["6/18有活动吗"]),
            ("买了3件. 怎么还没发", &["买了3件", "怎么还没发"]),
            ("30元/斤吗", &["30元", "斤吗"]),
            ("发什么快递", &["发什么快递"]),
            ("这个怎么卖", &["这个怎么卖"]),
            ("有货吗什么时候发", &["有货吗", "什么时候发"]),
        ];
        for (input, want) in rows {
            assert_eq!(split(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn hashes_match_tokens() {
        for t in ["l码有货", "我165 cm高", "is this in stock?", "", "好"] {
            let mut want: Vec<u64> = tokens(t).iter().map(|s| hash(s)).collect();
            want.sort_unstable();
            want.dedup();
            assert_eq!(token_hashes(t), want, "{t:?}");
        }
    }

    #[test]
    fn query_tokens_are_the_specific_tokens() {
        for t in [
            "l码有货",
            "我165 cm高",
            "is this in stock?",
            "",
            "好",
            "好 吗",
        ] {
            let all = tokens(t);
            let specific: Vec<&str> = all
                .iter()
                .map(String::as_str)
                .filter(|x| x.chars().count() != 1 || !x.chars().all(is_cjk))
                .collect();
            let want: Vec<&str> = if specific.is_empty() {
                all.iter().map(String::as_str).collect()
            } else {
                specific
            };
            let mut got = query_tokens(t);
            let mut want = want;
            got.sort();
            want.sort();
            assert_eq!(got, want, "{t:?}");
        }
    }

    #[test]
    fn tokens_mix_scripts() {
        assert_eq!(tokens("l码有货"), ["l", "码", "有", "码有", "货", "有货"]);
        assert_eq!(tokens("165cm"), ["165cm"]);
        assert_eq!(tokens("我165"), ["我", "#num", "165"]);
    }
}
