//! The shop catalog (`../shared/catalog.md`) through the real binary and the
//! engine: answers from facts in `classify --jsonl` (item and ts per line),
//! escalations for facts the files lack, `check` and configuration errors
//! with their file:line, hot reload of a changed catalog, and the fact
//! accuracy of the labelled catalog sets (`tests/data/catalog/*.jsonl`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const FASHION: &str = "tests/data/catalog/fashion";

#[test]
fn classify_jsonl_answers_from_the_catalog() {
    // (input line, action, reason, fragments the reply (or summary) must hold)
    let rows: &[(&str, &str, Option<&str>, &[&str])] = &[
        (
            r#"{"text":"黑色L码还有吗","item":{"id":"i-9","title":"白色雪纺连衣裙"}}"#,
            "reply",
            None,
            &["黑色 L", "2026-12-10", "黑色 M", "藏青 L"],
        ),
        (
            r#"{"text":"L码还有吗","item":{"id":"i-9","options":{"颜色":"黑色"}}}"#,
            "reply",
            None,
            &["黑色 L", "卖完"],
        ),
        (
            r#"{"text":"我175 140斤穿什么码","item":{"id":"i-9"}}"#,
            "reply",
            None,
            &["XL", "版型偏小"],
        ),
        (
            r#"{"text":"多少钱","item":{"id":"i-9"},"ts":"2026-11-22T10:00:00+08:00"}"#,
            "reply",
            None,
            &["129", "满299减30"],
        ),
        (
            r#"{"text":"有什么活动","item":{"id":"k-101"},"ts":"2026-12-20T10:00:00+08:00"}"#,
            "reply",
            None,
            &["没有进行中的活动"],
        ),
        (
            r#"{"text":"里面填充的是什么","item":{"id":"k-101"}}"#,
            "reply",
            None,
            &["摇粒绒内里"],
        ),
        (
            r#"{"text":"能开专票吗"}"#,
            "reply",
            None,
            &["增值税专用发票"],
        ),
        (r#"{"text":"卫衣多少钱"}"#, "reply", None, &["99"]),
        (
            r#"{"text":"可以手洗吗","item":{"id":"k-101"}}"#,
            "escalate",
            Some("unknown_fact"),
            &["商品 k-101: 可以手洗吗"],
        ),
        (
            r#"{"text":"需要连WIFI吗","item":{"id":"k-101"}}"#,
            "escalate",
            Some("unknown_fact"),
            &["商品 k-101"],
        ),
        (
            r#"{"text":"多少钱","item":{"id":"nope-1"}}"#,
            "escalate",
            Some("unknown_fact"),
            &["商品 nope-1"],
        ),
        (
            r#"{"text":"有货吗","conversation":"a"}"#,
            "reply",
            None,
            &["哪一款"],
        ),
        (
            r#"{"text":"有货吗","conversation":"a"}"#,
            "escalate",
            Some("no_item"),
            &[],
        ),
        (
            r#"{"text":"is the black L in stock?","item":{"id":"i-9"}}"#,
            "reply",
            None,
            &["sold out", "2026-12-10"],
        ),
    ];
    let input: String = rows.iter().map(|r| format!("{}\n", r.0)).collect();
    let out = crate::run_with_stdin(
        &["--catalog", FASHION, "classify", "--jsonl"],
        input.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), rows.len());
    for ((input, action, reason, want), got) in rows.iter().zip(&lines) {
        assert_eq!(got["action"], *action, "{input}: {got}");
        assert_eq!(got["reason"].as_str(), *reason, "{input}: {got}");
        let said = format!(
            "{} {}",
            got["reply"].as_str().unwrap(),
            got["summary"].as_str().unwrap_or("")
        );
        for w in *want {
            assert!(said.contains(w), "{input}: {w:?} not in {said}");
        }
    }
}

#[test]
fn bad_item_and_ts_fields_are_line_errors() {
    let input = "{\"text\":\"有货吗\",\"item\":\"i-9\"}\n{\"text\":\"有货吗\",\"ts\":\"yesterday\"}\n{\"text\":\"有货吗\",\"item\":{\"id\":\"i-9\"}}\n";
    let out = crate::run_with_stdin(
        &["--catalog", FASHION, "classify", "--jsonl"],
        input.as_bytes(),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].contains("\"line\":1") && lines[0].contains("item"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("\"line\":2") && lines[1].contains("ts"),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains("\"action\""), "{}", lines[2]);
}

#[test]
fn check_names_catalog_problems_at_file_and_line() {
    let dir = crate::scratch("catalog-check");
    std::fs::write(
        dir.join("a.toml"),
        "id = \"a\"\ntitle = \"x\"\ncolour = \"red\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("b.toml"), "id = \"b\"\ntitle = \"y\"\n[[variants]]\noptions = { 颜色 = \"白\" }\nrestock = \"下周\"\n").unwrap();
    let out = crate::xiaoer(&["--catalog", dir.to_str().unwrap(), "check"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("a.toml:3:") && err.contains("colour"), "{err}");
    assert!(
        err.contains("b.toml:5:") && err.contains("restock"),
        "{err}"
    );

    let ok = crate::xiaoer(&["--catalog", FASHION, "check"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        text.contains("checked: catalog") && text.contains("2 items"),
        "{text}"
    );
    assert!(text.contains(" 0 warnings"), "{text}");
}

#[test]
fn a_configured_catalog_folder_must_exist() {
    let out = crate::xiaoer(&["classify", "有货吗"])
        .env("XIAOER_PATHS__CATALOG", "/nonexistent/catalog")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("paths.catalog") && err.contains("XIAOER_PATHS__CATALOG"),
        "{err}"
    );
}

#[test]
fn without_a_catalog_the_templates_answer_as_before() {
    let e = crate::engine();
    assert!(e.knowledge.is_none());
    let mut conv = xiaoer::dialogue::Conversation::default();
    let d = e.decide(&mut conv, "有货吗", false);
    assert_eq!(d.intents, ["stock"]);
    assert!(
        d.reason.is_none() && !d.reply.contains("哪一款"),
        "{}",
        d.reply
    );
}

/// The labelled sets: (questions, catalog folder).
const SETS: &[(&str, &str)] = &[
    ("tests/data/catalog/demo.jsonl", "demo/catalog"),
    ("tests/data/catalog/fashion.jsonl", FASHION),
    (
        "tests/data/catalog/gadgets.jsonl",
        "tests/data/catalog/gadgets",
    ),
];

/// The share of labelled catalog questions each set must get right (the
/// reply states every labelled fact, or escalates where labelled so).
/// Measured at 0.98–1.00 (README, "Catalog"); the floor leaves room for
/// wording changes, not for facts lost.
const FACT_FLOOR: f64 = 0.93;

#[test]
fn fact_accuracy_of_the_labelled_catalog_sets() {
    let mut total = 0;
    for (set, dir) in SETS {
        let engine = xiaoer::Engine::load(
            xiaoer::config::Config::defaults(),
            xiaoer::FileSource::Embedded,
        )
        .unwrap()
        .with_catalog_dir(&root().join(dir))
        .unwrap();
        let text = std::fs::read_to_string(root().join(set)).unwrap();
        let gold = xiaoer::eval::GoldSet::parse(&text).unwrap();
        let run = xiaoer::eval::run(&engine, &gold).unwrap();
        let acc = run.fact_accuracy().expect("the set is labelled with facts");
        assert!(
            acc >= FACT_FLOOR,
            "{set}: fact accuracy {acc:.3} under {FACT_FLOOR}"
        );
        total += run.facts.1;
    }
    assert!(total >= 150, "{total} labelled questions");
}

#[test]
fn eval_prints_fact_accuracy_beside_intent_accuracy() {
    let out = crate::xiaoer(&[
        "--catalog",
        FASHION,
        "eval",
        "tests/data/catalog/fashion.jsonl",
        "--json",
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["fact_accuracy"].as_f64().is_some() && v["intent_accuracy"].as_f64().is_some(),
        "{v}"
    );
    assert_eq!(v["fact_messages"], 40);
}

/// `xiaoer run` with a catalog folder (the gateway is unreachable, which
/// `run` retries): a changed item file is reloaded, an invalid one is
/// refused with its file:line and the previous catalog stays.
#[test]
fn a_changed_catalog_is_reloaded() {
    let dir = crate::scratch("catalog-reload");
    let cat = dir.join("catalog");
    std::fs::create_dir_all(&cat).unwrap();
    for e in std::fs::read_dir(root().join(FASHION)).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, cat.join(p.file_name().unwrap())).unwrap();
    }
    crate::copy_files(&dir);
    let log = dir.join("bot.log");
    let mut child = crate::xiaoer(&[
        "run",
        "--url",
        "ws://127.0.0.1:9/",
        "--token",
        "t",
        "--state",
        dir.join("s.db").to_str().unwrap(),
    ])
    .current_dir(&dir)
    .env("XIAOER_LOG", "info")
    .env("NO_COLOR", "1")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&log).unwrap())
    .spawn()
    .unwrap();
    let wait = |what: &str, n: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.matches(what).count() >= n {
                return text;
            }
            if Instant::now() > deadline {
                return format!("TIMEOUT waiting for {what:?}:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let started = wait("hot reload on", 1);
    let watched = started.contains("catalog");
    write(
        &cat.join("k-101.toml"),
        &std::fs::read_to_string(cat.join("k-101.toml"))
            .unwrap()
            .replace("99.0", "89.0"),
    );
    let first = wait("reloaded the intent", 1);
    write(
        &cat.join("bad.toml"),
        "id = \"z\"\ntitle = \"z\"\nprice = \"cheap\"\n",
    );
    let second = wait("previous version stays", 1);
    let _ = child.kill();
    let _ = child.wait();
    assert!(watched, "{started}");
    assert!(!first.starts_with("TIMEOUT"), "{first}");
    assert!(
        !second.starts_with("TIMEOUT") && second.contains("bad.toml:3"),
        "{second}"
    );
}

fn write(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn catalog_import_and_export_through_the_binary() {
    let dir = crate::scratch("catalog-import");
    let csv = dir.join("erp.csv");
    std::fs::write(&csv, "item_id,title,options,price,stock,restock,材质\nt-1,马克杯,颜色:白色,29,5,,陶瓷\nt-1,马克杯,颜色:黑色,29,0,2026-12-10,\nt-2,杯垫,,九块,3,,\n").unwrap();
    let out_dir = dir.join("catalog");
    let out = crate::xiaoer(&[
        "catalog",
        "import",
        csv.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("erp.csv:4: row skipped") && err.contains("price"),
        "{err}"
    );
    assert!(out_dir.join("t-1.toml").is_file());
    let out = crate::xiaoer(&["--catalog", out_dir.to_str().unwrap(), "catalog", "export"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "item_id,title,names,options,price,stock,restock,材质\nt-1,马克杯,,颜色:白色,29,5,,陶瓷\nt-1,马克杯,,颜色:黑色,29,0,2026-12-10,陶瓷\n"
    );
    let ask = crate::run_with_stdin(
        &[
            "--catalog",
            out_dir.to_str().unwrap(),
            "classify",
            "--jsonl",
        ],
        "{\"text\":\"黑色的还有吗\",\"item\":{\"id\":\"t-1\"}}\n".as_bytes(),
    );
    let line = String::from_utf8(ask.stdout).unwrap();
    assert!(line.contains("2026-12-10"), "{line}");
}
