//! Language of a message: Chinese when it holds any Chinese character (after
//! pinyin aliases were folded), English otherwise.

use super::segment::is_cjk;
use serde::Serialize;

/// A language the bot answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Chinese.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `zh` or `en`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

/// Detects the language of a normalised message; `None` when it has no letters
/// at all (digits, punctuation), so the conversation's language stays.
pub fn detect(normalized: &str) -> Option<Lang> {
    if normalized.chars().any(is_cjk) {
        Some(Lang::Zh)
    } else if normalized.chars().any(|c| c.is_ascii_alphabetic()) {
        Some(Lang::En)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        for (s, want) in [
            ("有货吗", Some(Lang::Zh)),
            ("is it in stock", Some(Lang::En)),
            ("l码有吗", Some(Lang::Zh)),
            ("???", None),
            ("", None),
        ] {
            assert_eq!(detect(s), want, "{s:?}");
        }
    }
}
