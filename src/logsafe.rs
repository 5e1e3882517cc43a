//! Text from outside (gateway ids, stored strings) made safe for a log line
//! or a terminal: control characters (ESC sequences, forged newlines), and
//! the invisible characters that reorder or break lines on screen, are
//! written as escapes, so one value stays one visible token on one line.

use std::borrow::Cow;

/// True for characters a log line or terminal must not get raw: C0/C1
/// controls and DEL, line and paragraph separators, and the bidirectional
/// marks and overrides that make text display in another order.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{2028}' | '\u{2029}'      // line / paragraph separator
            | '\u{200E}' | '\u{200F}'    // LRM, RLM
            | '\u{061C}'                 // Arabic letter mark
            | '\u{202A}'..='\u{202E}'    // embeddings and overrides
            | '\u{2066}'..='\u{2069}') // isolates
}

/// `s` with a backslash written `\\`, `\n` `\r` `\t` as such, and every other
/// unsafe character as `\u{XXXX}`; borrowed when there is nothing to escape.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || unsafe_char(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_ids_stay_one_visible_token() {
        let rows: &[(&str, &str)] = &[
            ("c-7", "c-7"),
            ("会话-1", "会话-1"),
            ("c\n2026-11-22 ERROR forged", "c\\n2026-11-22 ERROR forged"),
            ("\u{1b}[2J\u{1b}[31mred", "\\u{001b}[2J\\u{001b}[31mred"),
            ("a\rb\tc", "a\\rb\\tc"),
            ("back\\slash", "back\\\\slash"),
            ("\u{202e}gnp.exe", "\\u{202e}gnp.exe"),
            ("x\u{9b}y\u{7f}", "x\\u{009b}y\\u{007f}"),
            ("line\u{2028}sep", "line\\u{2028}sep"),
        ];
        for (input, want) in rows {
            let got = escape(input);
            assert_eq!(got, *want, "{input:?}");
            assert!(!got.chars().any(unsafe_char), "{input:?}");
        }
        assert!(matches!(escape("c-7"), Cow::Borrowed(_)));
    }
}
