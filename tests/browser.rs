//! The demo's two pages in a real browser: `xiaoer demo` on a free port, then
//! tests/browser/demo.mjs drives Debian's Chromium through playwright-core
//! (buyer chat, escaping of markup, escalation, the agent console's queue,
//! takeover, agent reply, hand-back, conversation tokens, teaching the bot).
//! `scripts/test` (the README's test command, which CI runs) installs
//! Chromium, `fonts-noto-cjk` and playwright-core when they are missing.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn buyer_page_and_agent_console_work_in_chromium() {
    in_chromium("demo.mjs", 9, &[]);
}

/// Orders in the demo: place an order, see 催付 arrive, pay, see the order
/// check, and the console's order list (tests/browser/orders.mjs).
#[test]
fn orders_and_the_payment_reminder_in_chromium() {
    in_chromium("orders.mjs", 4, &[]);
}

/// The agent desk with two agents at once (tests/browser/desk.mjs): the
/// first agent of the loopback console and a supervisor picked on the login
/// page; ownership, the waiting count in the title, desktop notifications,
/// quick replies, drafts, notes, reassigning, closing, search, filters,
/// unread counts, the buyer context and the report's clusters.
#[test]
fn the_agent_desk_works_for_two_agents_in_chromium() {
    in_chromium("desk.mjs", 9, &[]);
}

/// The buyer picks an item from the demo catalog; stock and size answers state its
/// facts, and the agent console's buyer context shows them.
#[test]
fn catalog_answers_about_the_picked_item_in_chromium() {
    in_chromium("catalog.mjs", 4, &[]);
}

/// Save to catalog (tests/browser/savecat.mjs): a question the demo catalog
/// cannot answer escalates; the agent answers and clicks "save to catalog"
/// under the reply; a second buyer gets the answer from the bot. The demo
/// runs on a copy of demo/catalog, which the save edits.
#[test]
fn an_answer_saved_to_the_catalog_answers_the_next_buyer_in_chromium() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let catalog = crate::scratch("browser-savecat-catalog");
    for e in std::fs::read_dir(root.join("demo/catalog")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, catalog.join(p.file_name().unwrap())).unwrap();
    }
    if !in_chromium("savecat.mjs", 3, &["--catalog", catalog.to_str().unwrap()]) {
        return;
    }
    let saved = std::fs::read_to_string(catalog.join("d-102-hoodie.toml")).unwrap();
    assert!(
        saved.contains("# FAQ saved by ") && saved.contains("会掉色吗"),
        "{saved}"
    );
}

/// Runs `xiaoer demo` (on a scratch copy of the shipped files, with `args`
/// added) and drives it with `tests/browser/<script>`, which must print
/// "`steps` passed, 0 failed". Scripts share tests/browser/lib.mjs.
pub fn in_chromium(script: &str, steps: usize, args: &[&str]) -> bool {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("XIAOER_SKIP_BROWSER").is_some() {
        eprintln!("XIAOER_SKIP_BROWSER is set: browser test skipped");
        return false;
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: scripts/test installs it (or apt-get install chromium, set CHROMIUM, or XIAOER_SKIP_BROWSER=1)"
    );
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is missing: scripts/test installs it (or npm ci --prefix tests/browser, or XIAOER_SKIP_BROWSER=1)"
    );
    // One script at a time: each runs a demo and a Chromium, and two at once
    // on a small machine turn waits into timeouts.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    // The demo runs on its own copy of the shipped files (a folder per
    // script): step 9 of demo.mjs teaches the bot, which edits intents/.
    let dir = crate::scratch(&format!("browser-{}", script.trim_end_matches(".mjs")));
    crate::copy_files(&dir);
    let state = dir.join("s.db");
    let mut all = vec!["demo", "--port", "0", "--state", state.to_str().unwrap()];
    all.extend_from_slice(args);
    let mut demo = crate::xiaoer(&all)
        .current_dir(&dir)
        .env("XIAOER_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("xiaoer demo starts");
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut url = None;
    while url.is_none() && Instant::now() < deadline {
        match lines.next() {
            Some(Ok(l)) => {
                if let Some(u) = l.trim().strip_prefix("buyer page:") {
                    url = Some(u.trim().trim_end_matches('/').to_string());
                }
            }
            _ => break,
        }
    }
    let url = url.expect("demo printed its address");
    let shots = root
        .join("target/browser")
        .join(script.trim_end_matches(".mjs"));
    let out = std::process::Command::new("node")
        .arg(root.join("tests/browser").join(script))
        .arg(&url)
        .arg(&shots)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    let _ = demo.kill();
    let _ = demo.wait();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(
        out.status.success(),
        "browser test {script} failed:\n{text}"
    );
    assert!(
        text.contains(&format!("{steps} passed, 0 failed")),
        "{script}: expected {steps} steps:\n{text}"
    );
    true
}
