//! Untrusted input on stdin: every bad line gets its own error object, in
//! order, and the run goes on; nothing panics.

use super::run_with_stdin;

#[test]
fn every_bad_line_gets_an_error_and_the_run_goes_on() {
    let big = "好".repeat(40_000); // 120 KB
    let mut input = Vec::new();
    let rows: Vec<(Vec<u8>, Option<&str>)> = vec![
        (r#"{"text": "L码还有货吗"}"#.as_bytes().to_vec(), None),
        (b"".to_vec(), Some("empty line")),
        (br#"{"text": "   "}"#.to_vec(), Some("empty")),
        (
            format!(r#"{{"text": "{big}"}}"#).into_bytes(),
            Some("characters, more than the 2000"),
        ),
        (
            b"{\"text\": \"\\u0000\\u0007\\u001b[31m\xe6\x9c\x89\xe8\xb4\xa7\xe5\x90\x97\"}"
                .to_vec(),
            None,
        ),
        (b"{\"text\": \"\xff\xfe bad\"}".to_vec(), Some("UTF-8")),
        (b"not json at all".to_vec(), Some("invalid JSON")),
        (br#"{"text": 42}"#.to_vec(), Some("string")),
        (br#"{"conversation": "a"}"#.to_vec(), Some("missing")),
        (
            br#"{"text": "ok", "conversation": {"x": 1}}"#.to_vec(),
            Some("conversation"),
        ),
        (r#"{"text": "什么时候发货"}"#.as_bytes().to_vec(), None),
    ];
    for (line, _) in &rows {
        input.extend_from_slice(line);
        input.push(b'\n');
    }
    let out = run_with_stdin(&["classify", "--jsonl"], &input);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), rows.len(), "one object per input line");
    for (k, ((_, want_err), got)) in rows.iter().zip(&lines).enumerate() {
        match want_err {
            Some(part) => {
                let e = got["error"]
                    .as_str()
                    .unwrap_or_else(|| panic!("line {}: expected an error, got {got}", k + 1));
                assert!(
                    e.contains(part),
                    "line {}: {e:?} should mention {part:?}",
                    k + 1
                );
                assert_eq!(got["line"], k + 1);
            }
            None => {
                assert!(got.get("error").is_none(), "line {}: {got}", k + 1);
                assert!(!got["reply"].as_str().unwrap().is_empty());
            }
        }
    }
}

#[test]
fn hostile_text_through_the_library_never_panics() {
    let e = super::engine();
    let mut conv = xiaoer::dialogue::Conversation::default();
    let long = "有货吗,".repeat(20_000);
    for t in [
        "",
        " ",
        "\u{0}",
        "\u{202e}\u{200d}",
        "🤦🤦🤦",
        "{item}{shop}",
        "((((",
        "\\",
        &long,
        "ａ",
        "吗吗吗吗吗",
        "...",
    ] {
        let d = e.decide(&mut conv, t, true);
        assert!(!d.reply.is_empty(), "{t:?}");
        assert!(
            !d.reply.contains("{item}"),
            "a template slot leaked: {}",
            d.reply
        );
    }
}
