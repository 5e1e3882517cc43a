//! Untrusted text in logs and terminal output. A failed login's agent id, a
//! gateway's conversation id or a buyer's words can hold ESC sequences (which
//! recolour or rewrite an operator's terminal) and newlines (which forge log
//! lines). [`esc`] shows such characters as `\u{..}` escapes instead, and a
//! backslash as `\\` so an escape typed by an attacker cannot pass for one we
//! wrote. Use it for every untrusted string in a text log line:
//! `tracing::warn!(agent = %logsafe::esc(&id), "...")`.

use std::fmt;

/// Most characters of one untrusted value written to a log; the rest is
/// replaced by `…` (a log line stays a line, whatever a client sends).
pub const MAX_LOG_VALUE_CHARS: usize = 128;

/// `s` for a log line: control, format and line/paragraph separator
/// characters escaped, at most [`MAX_LOG_VALUE_CHARS`] characters.
pub fn esc(s: &str) -> Escaped<'_> {
    Escaped(s)
}

/// See [`esc`].
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(&'a str);

/// Characters a terminal or a log reader would act on rather than show:
/// C0 and C1 controls, DEL, and the Unicode format characters that reorder
/// or hide text (bidi overrides, zero-width joiners) or break lines.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}'   // zero-width, LRM/RLM
            | '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{FEFF}')
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        for (n, c) in self.0.chars().enumerate() {
            if n == MAX_LOG_VALUE_CHARS {
                return f.write_char('…');
            }
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if unsafe_char(c) => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_cannot_steer_a_terminal_or_forge_lines() {
        let rows: &[(&str, &str)] = &[
            ("a-1", "a-1"),
            ("客服小美", "客服小美"),
            ("\x1b[2J\x1b[31mroot", "\\u{1b}[2J\\u{1b}[31mroot"),
            ("x\nINFO agent logged in", "x\\nINFO agent logged in"),
            ("x\r\n", "x\\r\\n"),
            ("\u{9b}31m", "\\u{9b}31m"),
            ("a\u{202E}gnp.exe", "a\\u{202e}gnp.exe"),
            ("a\u{2028}b", "a\\u{2028}b"),
            ("\x7f", "\\u{7f}"),
            ("\\u{1b}", "\\\\u{1b}"),
        ];
        for (raw, want) in rows {
            assert_eq!(esc(raw).to_string(), *want, "{raw:?}");
        }
        let long = "x".repeat(MAX_LOG_VALUE_CHARS + 10);
        let shown = esc(&long).to_string();
        assert_eq!(shown.chars().count(), MAX_LOG_VALUE_CHARS + 1);
        assert!(shown.ends_with('…'));
    }
}
