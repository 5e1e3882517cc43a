//! Save to catalog through the real binary: `xiaoer demo` with a catalog
//! folder and a team; a buyer asks what the item's file does not say (the bot
//! escalates, unknown_fact), the agent answers and saves the answer from the
//! console's API, the file gets the FAQ entry (and still passes `check`), and
//! the next buyer who asks gets the answer from the bot. Who may save and
//! what is refused, one row each; a refusal writes nothing.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// What the fashion catalog's k-101 (a hoodie) does not say.
const QUESTION: &str = "可以手洗吗";
const ANSWER: &str = "亲，可以手洗的哦，30℃以下冷水轻揉，别拧干就好～";

async fn http(addr: &str, method: &str, path: &str, extra: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut buf))
        .await
        .expect("answered within the watchdog")
        .unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn start_demo(dir: &Path) -> (Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = crate::xiaoer(&[
        "--config",
        "x.toml",
        "--catalog",
        "catalog",
        "demo",
        "--port",
        "0",
        "--state",
        "s.db",
    ])
    .current_dir(dir)
    .env("XIAOER_LOG", "warn")
    .stdout(Stdio::piped())
    .stderr(std::fs::File::create(dir.join("demo.log")).unwrap())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = String::new();
    for l in lines.by_ref().map_while(Result::ok) {
        if let Some(u) = l.trim().strip_prefix("buyer page:") {
            addr = u
                .trim()
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string();
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    assert!(
        !addr.is_empty(),
        "demo did not start: {}",
        std::fs::read_to_string(dir.join("demo.log")).unwrap_or_default()
    );
    (child, addr)
}

async fn login(addr: &str, agent: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = format!(r#"{{"agent":"{agent}","password":"pw"}}"#);
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST /api/login HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    let cookie = text
        .lines()
        .find_map(|l| {
            let lower = l.to_ascii_lowercase();
            lower
                .starts_with("set-cookie: ")
                .then(|| l["set-cookie: ".len()..].to_string())
        })
        .unwrap_or_else(|| panic!("{agent} logs in: {text}"));
    format!("Cookie: {}\r\n", cookie.split(';').next().unwrap())
}

/// A buyer's conversation: (id, token header).
async fn open(addr: &str) -> (String, String) {
    let (status, body) = http(addr, "POST", "/api/buyer/conversations", "", "").await;
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    (
        v["id"].as_str().unwrap().to_string(),
        format!("x-conversation-token: {}\r\n", v["token"].as_str().unwrap()),
    )
}

async fn ask(addr: &str, conv: &str, token: &str, text: &str) {
    let body = serde_json::json!({"text": text, "item": {"id": "k-101", "title": "加绒连帽卫衣"}});
    let (status, b) = http(
        addr,
        "POST",
        &format!("/api/buyer/conversations/{conv}/messages"),
        token,
        &body.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{b}");
}

/// Polls the conversation (as `session`) until `done` holds: a watchdog.
async fn until(
    addr: &str,
    conv: &str,
    session: &str,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = http(
            addr,
            "GET",
            &format!("/api/conversations/{conv}"),
            session,
            "",
        )
        .await;
        let v = json(&body);
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "waiting for {what}: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn catalog_snapshot(dir: &Path) -> Vec<(String, String)> {
    xiaoer::files::read_dir(&dir.join("catalog")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_answer_saved_to_the_catalog_answers_the_next_buyer() {
    let dir = crate::scratch("savecat");
    crate::copy_files(&dir);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    for e in std::fs::read_dir(root.join("tests/data/catalog/fashion")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join("catalog").join(p.file_name().unwrap())).unwrap();
    }
    let h = xiaoer::gateway::auth::hash_password("pw");
    let member = |id: &str, name: &str, role: &str| {
        format!("[[console.team]]\nid = \"{id}\"\nname = \"{name}\"\nrole = \"{role}\"\npassword = \"{h}\"\n")
    };
    std::fs::write(
        dir.join("x.toml"),
        format!(
            "{}{}{}",
            member("a-1", "小一", "agent"),
            member("a-2", "小二", "agent"),
            member("boss", "老板", "supervisor")
        ),
    )
    .unwrap();
    let (mut demo, addr) = start_demo(&dir);
    let a1 = login(&addr, "a-1").await;
    let a2 = login(&addr, "a-2").await;
    let boss = login(&addr, "boss").await;

    // A buyer asks what the file does not say: the bot escalates.
    let (conv, token) = open(&addr).await;
    ask(&addr, &conv, &token, QUESTION).await;
    let v = until(&addr, &conv, &a1, "the unknown_fact escalation", |v| {
        v["escalation"]["reason"] == "unknown_fact"
    })
    .await;
    assert!(
        v["escalation"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("商品 k-101: "),
        "{v}"
    );
    // Another chat, escalated for something else.
    let (other, other_token) = open(&addr).await;
    ask(&addr, &other, &other_token, "我要投诉你们，太差了").await;
    until(&addr, &other, &a1, "the complaint's escalation", |v| {
        v["escalation"]["reason"].is_string()
    })
    .await;

    let takeover = |c: &str| format!("/api/conversations/{c}/takeover");
    assert_eq!(
        http(&addr, "POST", &takeover(&conv), &a1, "{}").await.0,
        200
    );
    assert_eq!(
        http(&addr, "POST", &takeover(&other), &a1, "{}").await.0,
        200
    );
    let (status, body) = http(
        &addr,
        "POST",
        &format!("/api/conversations/{conv}/reply"),
        &a1,
        &serde_json::json!({ "text": ANSWER }).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Who may save, and what is refused: nothing is written.
    let before = catalog_snapshot(&dir);
    let save = |c: &str| format!("/api/conversations/{c}/catalog-faq");
    let body = |q: &str, a: &str| serde_json::json!({"question": q, "answer": a}).to_string();
    let long = "好".repeat(xiaoer::catalog_faq::MAX_FAQ_CHARS + 1);
    // (who, conversation, question, answer, status, what the error says)
    let rows: Vec<(&str, &str, &str, &str, u16, &str)> = vec![
        ("", &conv, QUESTION, ANSWER, 401, "log in"),
        (&a2, &conv, QUESTION, ANSWER, 403, "only they can"),
        (&a1, &conv, "  ", ANSWER, 400, "question is empty"),
        (&a1, &conv, QUESTION, "", 400, "answer is empty"),
        (&a1, &conv, QUESTION, &long, 400, "at most 300"),
        (&a1, &conv, &long, ANSWER, 400, "at most 300"),
        (
            &a1,
            &conv,
            "我要投诉你们",
            "亲，抱歉",
            400,
            "would still not answer",
        ),
        (&a1, &other, QUESTION, ANSWER, 409, "unknown_fact"),
        (&a1, "c-nope", QUESTION, ANSWER, 404, ""),
    ];
    for (who, c, q, a, want, says) in &rows {
        let (status, text) = http(&addr, "POST", &save(c), who, &body(q, a)).await;
        assert_eq!(status, *want, "{c} {q:?} {a:?} as {who:?}: {text}");
        assert!(text.contains(says), "{c} {q:?}: {text}");
        assert_eq!(catalog_snapshot(&dir), before, "{q:?} changed the catalog");
    }

    // The owner saves.
    let (status, text) = http(&addr, "POST", &save(&conv), &a1, &body(QUESTION, ANSWER)).await;
    assert_eq!(status, 200, "{text}");
    let saved = json(&text);
    assert_eq!(saved["item"], "k-101");
    let at = saved["saved"].as_str().unwrap();
    assert!(at.starts_with("catalog/k-101.toml:"), "{at}");
    assert!(!at.contains("not yet in force"), "{at}");
    // A supervisor may save from anyone's chat.
    let (status, text) = http(
        &addr,
        "POST",
        &save(&conv),
        &boss,
        &body("能烘干吗", "亲，不建议烘干哦，平铺晾干就好～"),
    )
    .await;
    assert_eq!(status, 200, "{text}");

    // The file: the operator's text kept, the entry signed, still valid.
    let file = std::fs::read_to_string(dir.join("catalog/k-101.toml")).unwrap();
    let original =
        std::fs::read_to_string(root.join("tests/data/catalog/fashion/k-101.toml")).unwrap();
    assert!(file.starts_with(&original), "{file}");
    assert!(file.contains("# FAQ saved by a-1, "), "{file}");
    assert!(file.contains("# FAQ saved by boss, "), "{file}");
    assert!(file.contains(ANSWER), "{file}");
    let line: usize = at.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(file.lines().nth(line - 1), Some("[[faq]]"), "{file}");
    let check = crate::xiaoer(&["--catalog", "catalog", "check"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && out.contains(" 0 warnings"),
        "{out}{}",
        String::from_utf8_lossy(&check.stderr)
    );

    // The history shows it; the store logs it.
    let v = until(&addr, &conv, &a1, "the catalog marker", |v| {
        v["messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["marker"] == "catalog"))
    })
    .await;
    assert!(v.to_string().contains("catalog/k-101.toml:"), "{v}");

    // The next buyer who asks gets the answer from the bot.
    let (next, next_token) = open(&addr).await;
    ask(&addr, &next, &next_token, QUESTION).await;
    let v = until(&addr, &next, &a1, "the bot's answer", |v| {
        v["messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["role"] == "bot"))
    })
    .await;
    let bot: Vec<&str> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "bot")
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(bot.iter().any(|t| t.contains(ANSWER)), "{v}");
    assert!(v["escalation"].is_null(), "{v}");

    let _ = demo.kill();
    let _ = demo.wait();
    let store = xiaoer::store::Store::open_read_only(&dir.join("s.db")).unwrap();
    let log = store.as_sqlite().unwrap().desk_events(&conv).unwrap();
    assert!(
        log.iter()
            .any(|e| e.kind == "catalog_faq" && e.agent == "a-1"),
        "{log:?}"
    );
}

/// `xiaoer catalog faq-add`: the same edit from the terminal, and its refusals.
#[test]
fn faq_add_from_the_command_line() {
    let dir = crate::scratch("savecat-cli");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    for e in std::fs::read_dir(root.join("tests/data/catalog/fashion")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join("catalog").join(p.file_name().unwrap())).unwrap();
    }
    let run = |args: &[&str]| {
        crate::xiaoer(&[&["--catalog", "catalog", "catalog", "faq-add"], args].concat())
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let before = catalog_snapshot(&dir);
    // (args, exit code, what stderr says)
    let rows: &[(&[&str], i32, &str)] = &[
        (
            &["--item", "nope", "--q", QUESTION, "--a", ANSWER],
            1,
            "no item \"nope\"",
        ),
        (
            &["--item", "k-101", "--q", " ", "--a", ANSWER],
            1,
            "question is empty",
        ),
        (&["--item", "k-101", "--q", QUESTION], 2, "--a"),
    ];
    for (args, code, says) in rows {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(
            catalog_snapshot(&dir),
            before,
            "{args:?} changed the catalog"
        );
    }
    let out = run(&[
        "--item", "k-101", "--q", QUESTION, "--a", ANSWER, "--as", "op-1",
    ]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("catalog/k-101.toml:"), "{said}");
    let file = std::fs::read_to_string(dir.join("catalog/k-101.toml")).unwrap();
    assert!(
        file.contains("# FAQ saved by op-1, ") && file.contains(ANSWER),
        "{file}"
    );
    let line = serde_json::json!({"text": QUESTION, "item": {"id": "k-101"}}).to_string();
    let mut child = crate::xiaoer(&["--catalog", "catalog", "classify", "--jsonl"])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{line}").unwrap();
    let out = child.wait_with_output().unwrap();
    let v = json(String::from_utf8_lossy(&out.stdout).trim());
    assert_eq!(v["action"], "reply", "{v}");
    assert!(v["reply"].as_str().unwrap().contains(ANSWER), "{v}");
}
