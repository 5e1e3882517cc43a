//! The command line as a shop's operator uses it.

use super::{run_with_stdin, xiaoer};

#[test]
fn classify_prints_a_readable_decision() {
    let out = xiaoer(&["classify", "亲 在吗 有货吗"]).output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("intents:    stock"), "{s}");
    assert!(s.contains("action:     reply"), "{s}");
    let reply = s
        .lines()
        .find_map(|l| l.strip_prefix("reply:      "))
        .unwrap();
    assert!(reply.contains('亲') && reply.chars().count() > 10, "{s}");
}

#[test]
fn explain_names_the_evidence() {
    let out = xiaoer(&["classify", "--explain", "能发顺丰吗"])
        .output()
        .unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("keyword \"顺丰\" → courier"), "{s}");
    // A clause its phrases do not settle is compared with the examples.
    let out = xiaoer(&["classify", "--explain", "这个冬天穿会冷吗"])
        .output()
        .unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(
        s.contains("example ") && s.contains("intents/"),
        "examples are named with file:line: {s}"
    );
}

#[test]
fn jsonl_keeps_order_and_conversations() {
    let input = [
        r#"{"text": "这个包能便宜点吗", "conversation": "a"}"#,
        r#"{"text": "Is this in stock?", "conversation": "b"}"#,
        r#"{"text": "再少点吧 100块行不行", "conversation": "a"}"#,
        r#"{"text": "便宜点嘛 老顾客了", "conversation": "a"}"#,
        r#"{"text": "便宜点嘛"}"#,
    ]
    .join("\n");
    let out = run_with_stdin(&["classify", "--jsonl"], input.as_bytes());
    assert!(out.status.success());
    let v: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v.len(), 5);
    assert_eq!(v[1]["lang"], "en");
    assert_eq!(v[1]["intents"][0], "stock");
    for k in [0, 2, 3, 4] {
        assert_eq!(v[k]["intents"][0], "bargain", "line {}: {}", k + 1, v[k]);
    }
    assert_eq!(v[0]["action"], "reply");
    assert_eq!(v[2]["action"], "reply");
    assert_eq!(
        v[3]["action"], "escalate",
        "third ask in conversation a escalates"
    );
    assert_eq!(v[3]["reason"], "repeated_bargain");
    assert_eq!(
        v[4]["action"], "reply",
        "a message with no conversation starts fresh"
    );
    assert_ne!(
        v[0]["reply"], v[2]["reply"],
        "the second ask gets a different line"
    );
}

#[test]
fn check_passes_on_the_shipped_files() {
    let out = xiaoer(&["check"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("ok")
            || String::from_utf8_lossy(&out.stdout).contains("\nok")
    );
}

#[test]
fn environment_overrides_configuration() {
    let out = {
        let mut c = xiaoer(&["classify", "--jsonl"]);
        c.env("XIAOER_SHOP__ZH__COURIER", "测试快递");
        let mut child = c
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        for _ in 0..4 {
            stdin
                .write_all(
                    "{\"text\": \"你们默认发什么快递\", \"conversation\": \"c\"}\n".as_bytes(),
                )
                .unwrap();
        }
        drop(stdin);
        child.wait_with_output().unwrap()
    };
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("测试快递"), "{s}");
}

#[test]
fn bad_config_is_a_clear_error() {
    let out = xiaoer(&["check"])
        .env("XIAOER_NLU__THRESHOLD", "7")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nlu.threshold"));
    let out = xiaoer(&["--config", "/nonexistent/x.toml", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.toml"));
}
