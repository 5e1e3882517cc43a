//! Untrusted text in logs and terminal output. A failed login's agent id, a
//! gateway's conversation id or a buyer's words can hold ESC sequences (which
//! recolour or rewrite an operator's terminal) and newlines (which forge log
//! lines). Such characters are shown as `\u{..}` escapes instead, and a
//! backslash as `\\` so an escape typed by an attacker cannot pass for one we
//! wrote. One rule, two forms:
//! - [`esc`] for a value in a log line: escaped and cut to
//!   [`MAX_LOG_VALUE_CHARS`] (`tracing::warn!(agent = %esc(&id), "...")`);
//! - [`escape`] for text shown whole (report output): escaped, not cut.

use std::borrow::Cow;
use std::fmt::{self, Write};

/// Most characters of one untrusted value written to a log; the rest is
/// replaced by `…` (a log line stays a line, whatever a client sends).
pub const MAX_LOG_VALUE_CHARS: usize = 128;

/// Characters a terminal or a log reader would act on rather than show:
/// C0 and C1 controls, DEL, and the Unicode format characters that reorder
/// or hide text (bidi marks, overrides and isolates, zero-width joiners) or
/// break lines.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}'                // Arabic letter mark
            | '\u{200B}'..='\u{200F}' // zero-width, LRM/RLM
            | '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{FEFF}')
}

/// Writes one character in its escaped form.
fn write_escaped(out: &mut impl Write, c: char) -> fmt::Result {
    match c {
        '\\' => out.write_str("\\\\"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c if unsafe_char(c) => write!(out, "\\u{{{:x}}}", c as u32),
        c => out.write_char(c),
    }
}

/// `s` for a log line: unsafe characters escaped, at most
/// [`MAX_LOG_VALUE_CHARS`] characters.
pub fn esc(s: &str) -> Escaped<'_> {
    Escaped(s)
}

/// See [`esc`].
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, c) in self.0.chars().enumerate() {
            if n == MAX_LOG_VALUE_CHARS {
                return f.write_char('…');
            }
            write_escaped(f, c)?;
        }
        Ok(())
    }
}

/// `s` whole with unsafe characters escaped; borrowed when there is nothing
/// to escape.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || unsafe_char(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        let _ = write_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_cannot_steer_a_terminal_or_forge_lines() {
        let rows: &[(&str, &str)] = &[
            ("a-1", "a-1"),
            ("客服小美", "客服小美"),
            ("会话-1", "会话-1"),
            ("\x1b[2J\x1b[31mroot", "\\u{1b}[2J\\u{1b}[31mroot"),
            ("x\nINFO agent logged in", "x\\nINFO agent logged in"),
            ("c\n2026-11-22 ERROR forged", "c\\n2026-11-22 ERROR forged"),
            ("x\r\n", "x\\r\\n"),
            ("a\rb\tc", "a\\rb\\tc"),
            ("\u{9b}31m", "\\u{9b}31m"),
            ("a\u{202E}gnp.exe", "a\\u{202e}gnp.exe"),
            ("a\u{2028}b", "a\\u{2028}b"),
            ("\u{61c}x\u{200b}", "\\u{61c}x\\u{200b}"),
            ("\x7f", "\\u{7f}"),
            ("\\u{1b}", "\\\\u{1b}"),
            ("back\\slash", "back\\\\slash"),
        ];
        for (raw, want) in rows {
            assert_eq!(esc(raw).to_string(), *want, "{raw:?}");
            assert_eq!(escape(raw), *want, "{raw:?}");
            assert!(!escape(raw).chars().any(unsafe_char), "{raw:?}");
        }
        assert!(matches!(escape("c-7"), Cow::Borrowed(_)));
        let long = "x".repeat(MAX_LOG_VALUE_CHARS + 10);
        let shown = esc(&long).to_string();
        assert_eq!(shown.chars().count(), MAX_LOG_VALUE_CHARS + 1);
        assert!(shown.ends_with('…'));
        assert_eq!(escape(&long), long, "escape keeps the whole text");
    }
}
