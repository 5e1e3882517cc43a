//! Live chat over real websockets: the `xiaoer run` binary against the
//! embedded gateway (or a bare test server) in this process, with a real
//! SQLite file. Each test checks one of protocol.md's guarantees.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::WebSocketStream;
use xiaoer::gateway::{Gateway, GatewayConfig};
use xiaoer::live::{start_gateway, GatewayHandle};

const TOKEN: &str = "test-token-1";

/// `xiaoer run` as a child process, its log in a file.
struct BotProc {
    child: Child,
    log: PathBuf,
}

impl BotProc {
    fn start(url: &str, token: &str, state: &Path, log: PathBuf) -> BotProc {
        Self::start_with(
            url,
            token,
            state,
            log,
            &[("XIAOER_TIMING__ENABLED", "false")],
        )
    }

    fn start_with(
        url: &str,
        token: &str,
        state: &Path,
        log: PathBuf,
        env: &[(&str, &str)],
    ) -> BotProc {
        let child = crate::xiaoer(&[
            "run",
            "--url",
            url,
            "--token",
            token,
            "--state",
            state.to_str().unwrap(),
        ])
        .env("XIAOER_LOG", "info")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("xiaoer run starts");
        BotProc { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no chance to finish anything.
    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit code.
    fn terminate(&mut self) -> Option<i32> {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for BotProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn gateway() -> GatewayHandle {
    start_gateway(
        GatewayConfig {
            name: "test-gateway".into(),
            token: TOKEN.into(),
            shop: "测试小店".into(),
            items: vec![],
        },
        "127.0.0.1:0",
        None,
    )
    .await
    .expect("gateway starts")
}

async fn until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    f()
}

fn bot_texts(gw: &Gateway, conv: &str) -> Vec<String> {
    gw.conversation(conv)
        .map(|c| {
            c.messages
                .unwrap_or_default()
                .into_iter()
                .filter(|m| m.role == "bot")
                .map(|m| m.text)
                .collect()
        })
        .unwrap_or_default()
}

/// Every message answered once, in order per conversation, all acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_is_answered_once_in_order() {
    let dir = crate::scratch("live-order");
    let g = gateway().await;
    let gw = g.gateway.clone();
    let _bot = BotProc::start(&g.bot_url(), TOKEN, &dir.join("s.db"), dir.join("bot.log"));
    assert!(until(crate::CONNECT_WAIT, || gw.bot_connected()).await);
    let script = [
        "亲 在吗",
        "这件有货吗",
        "几天能发货",
        "发什么快递",
        "好的谢谢",
    ];
    for turn in script {
        for c in 0..20 {
            gw.buyer_message(&format!("c-{c}"), &format!("b-{c}"), "买家", turn, None)
                .unwrap();
        }
    }
    assert!(
        until(Duration::from_secs(20), || gw.stats().acked == 100).await,
        "{:?}",
        gw.stats()
    );
    let s = gw.stats();
    assert_eq!(
        (s.unacked, s.double_answers, s.replies),
        (0, 0, 100),
        "{s:?}"
    );
    for c in 0..20 {
        let v = gw.conversation(&format!("c-{c}")).unwrap();
        let msgs = v.messages.unwrap();
        // One reply per message, in the order the messages were sent.
        let asked: Vec<String> = msgs
            .iter()
            .filter(|m| m.role == "buyer")
            .map(|m| format!("r-{}-1", m.id))
            .collect();
        let answered: Vec<String> = msgs
            .iter()
            .filter(|m| m.role == "bot")
            .map(|m| m.id.clone())
            .collect();
        assert_eq!(asked.len(), 5);
        assert_eq!(answered, asked, "c-{c}");
        assert!(msgs
            .iter()
            .all(|m| m.role != "buyer" || m.acked == Some(true)));
    }
}

/// Escalation silences the bot; takeover silences it; agent messages are
/// recorded, never answered; release gives the conversation back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_takeover_and_release() {
    let dir = crate::scratch("live-handoff");
    let g = gateway().await;
    let gw = g.gateway.clone();
    let _bot = BotProc::start(&g.bot_url(), TOKEN, &dir.join("s.db"), dir.join("bot.log"));
    assert!(until(crate::CONNECT_WAIT, || gw.bot_connected()).await);
    let acked = |n: u64| {
        let gw = gw.clone();
        move || gw.stats().acked == n
    };

    gw.buyer_message("c-1", "b-1", "小王", "东西收到是坏的,我要投诉!", None)
        .unwrap();
    assert!(until(Duration::from_secs(5), acked(1)).await);
    let v = gw.conversation("c-1").unwrap();
    assert_eq!(v.status, "escalated");
    let e = v.escalation.unwrap();
    assert_eq!((e.priority.as_str(), e.summary.is_empty()), ("high", false));
    assert_eq!(bot_texts(&gw, "c-1").len(), 1, "one holding reply");

    // Escalated: recorded and acknowledged, not answered.
    gw.buyer_message("c-1", "b-1", "小王", "有人吗", None)
        .unwrap();
    assert!(until(Duration::from_secs(5), acked(2)).await);
    gw.takeover("c-1", "a-1").unwrap();
    gw.agent_message("c-1", "a-1", "您好,我是客服小美").unwrap();
    gw.buyer_message("c-1", "b-1", "小王", "有货吗", None)
        .unwrap();
    assert!(until(Duration::from_secs(5), acked(4)).await);
    assert_eq!(
        bot_texts(&gw, "c-1").len(),
        1,
        "silent while escalated / taken"
    );

    gw.release("c-1", "a-1").unwrap();
    gw.buyer_message("c-1", "b-1", "小王", "这件有货吗", None)
        .unwrap();
    assert!(until(Duration::from_secs(5), acked(5)).await);
    assert!(until(Duration::from_secs(5), || bot_texts(&gw, "c-1").len() == 2).await);
    assert_eq!(gw.stats().double_answers, 0);

    // The store has all of it, agent message included.
    let db = rusqlite::Connection::open(dir.join("s.db")).unwrap();
    let roles: Vec<String> = db
        .prepare("SELECT role FROM messages WHERE conversation = 'c-1' ORDER BY received_ms, rowid")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(roles, ["buyer", "buyer", "agent", "buyer", "buyer"]);
    let esc: (String, String, String) = db
        .query_row(
            "SELECT reason, status, agent FROM escalations WHERE conversation = 'c-1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(esc, ("complaint".into(), "released".into(), "a-1".into()));
}

/// The gateway drops the connection: the bot is back within the backoff
/// (first retry under 1 s, then 1 s, 2 s ±25 %: a connection that lasted
/// under `STABLE_AFTER` does not reset it), and what was sent meanwhile is
/// answered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_a_drop_and_gets_redeliveries() {
    let dir = crate::scratch("live-reconnect");
    let g = gateway().await;
    let gw = g.gateway.clone();
    let _bot = BotProc::start(&g.bot_url(), TOKEN, &dir.join("s.db"), dir.join("bot.log"));
    assert!(until(crate::CONNECT_WAIT, || gw.bot_connected()).await);
    for round in 1..=3u64 {
        gw.drop_bot();
        let dropped = Instant::now();
        gw.buyer_message(&format!("c-{round}"), "b-1", "小王", "几天能发货", None)
            .unwrap();
        let within = Duration::from_millis(625 << (round - 1)) + Duration::from_millis(500);
        assert!(
            until(within, || gw.stats().connections == round + 1).await,
            "no reconnect within {within:?} (round {round})"
        );
        eprintln!("reconnected after {:?}", dropped.elapsed());
        assert!(until(Duration::from_secs(5), || gw.stats().acked == round).await);
    }
    let s = gw.stats();
    assert_eq!((s.replies, s.double_answers, s.unacked), (3, 0, 0), "{s:?}");
}

/// A wrong token gets HTTP 401; the bot says so and retries with backoff
/// instead of spinning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused_and_retried_with_backoff() {
    let dir = crate::scratch("live-token");
    let g = gateway().await;
    let gw = g.gateway.clone();
    let bot = BotProc::start(
        &g.bot_url(),
        "wrong",
        &dir.join("s.db"),
        dir.join("bot.log"),
    );
    // Counted from the first refusal (the start may be slow on a busy machine).
    assert!(until(Duration::from_secs(60), || gw.stats().refused >= 1).await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let refused = gw.stats().refused;
    // 0.5, 1, 2 s (±25 %) apart: about 3 tries in 3 s, never dozens.
    assert!((2..=5).contains(&refused), "refused {refused} times in 3 s");
    assert!(!gw.bot_connected());
    assert!(
        bot.log().contains("refused the token (HTTP 401)"),
        "{}",
        bot.log()
    );
}

/// SIGTERM: the bot finishes, says goodbye and exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_cleanly() {
    let dir = crate::scratch("live-term");
    let g = gateway().await;
    let gw = g.gateway.clone();
    let mut bot = BotProc::start(&g.bot_url(), TOKEN, &dir.join("s.db"), dir.join("bot.log"));
    assert!(until(crate::CONNECT_WAIT, || gw.bot_connected()).await);
    for c in 0..50 {
        gw.buyer_message(&format!("c-{c}"), "b", "", "包邮吗", None)
            .unwrap();
    }
    assert!(until(Duration::from_secs(10), || gw.stats().acked == 50).await);
    assert_eq!(bot.terminate(), Some(0), "{}", bot.log());
}

/// A bare websocket server: accepts the bot, reads hello, sends welcome.
struct RawServer {
    listener: TcpListener,
}

impl RawServer {
    async fn new() -> RawServer {
        RawServer {
            listener: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/", self.listener.local_addr().unwrap())
    }

    async fn accept(&self) -> WebSocketStream<TcpStream> {
        let (s, _) = tokio::time::timeout(Duration::from_secs(60), self.listener.accept())
            .await
            .expect("the bot connects")
            .unwrap();
        let mut ws = tokio_tungstenite::accept_async(s).await.unwrap();
        let hello = next(&mut ws, Duration::from_secs(5)).await.expect("hello");
        assert_eq!(hello["type"], "hello");
        assert_eq!(hello["version"], 1);
        ws.send(Ws::text(
            json!({"type":"welcome","gateway":"raw","version":1}).to_string(),
        ))
        .await
        .unwrap();
        ws
    }
}

/// The next JSON text frame, or None on timeout / close.
async fn next(ws: &mut WebSocketStream<TcpStream>, within: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Ws::Text(t)))) => return serde_json::from_str(t.as_str()).ok(),
            Ok(Some(Ok(Ws::Close(_)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => return None,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

fn message(id: &str, conv: &str, text: &str) -> Ws {
    Ws::text(
        json!({"type":"message","id":id,"conversation":conv,"from":{"role":"buyer","id":"b-1"},"text":text})
            .to_string(),
    )
}

/// Frames until (and including) the ack of `id`.
async fn until_ack(ws: &mut WebSocketStream<TcpStream>, id: &str) -> Vec<Value> {
    let mut got = Vec::new();
    while let Some(f) = next(ws, Duration::from_secs(5)).await {
        let done = f["type"] == "ack" && f["id"] == id;
        got.push(f);
        if done {
            return got;
        }
    }
    panic!("no ack for {id}; got {got:?}");
}

fn kinds(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .map(|f| f["type"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// Killed (SIGKILL) after replying and before the gateway saw an ack, then
/// restarted on the same state: the redelivered message is acknowledged, not
/// answered again, and the conversation's state (two bargaining asks) is
/// intact, so the third ask escalates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_reply_and_ack_never_answers_twice() {
    let dir = crate::scratch("live-kill");
    let state = dir.join("s.db");
    let server = RawServer::new().await;
    let mut bot = BotProc::start(&server.url(), "x", &state, dir.join("bot1.log"));
    let mut ws = server.accept().await;
    ws.send(message("m-1", "c-1", "能便宜点吗")).await.unwrap();
    let reply = next(&mut ws, Duration::from_secs(5)).await.unwrap();
    assert_eq!(reply["type"], "reply");
    assert_eq!(reply["in_reply_to"], "m-1");
    // Kill before reading anything else: for this gateway m-1 is unacknowledged.
    bot.kill9();
    drop(ws);

    let _bot = BotProc::start(&server.url(), "x", &state, dir.join("bot2.log"));
    let mut ws = server.accept().await;
    ws.send(message("m-1", "c-1", "能便宜点吗")).await.unwrap();
    let got = until_ack(&mut ws, "m-1").await;
    assert_eq!(kinds(&got), ["ack"], "redelivery is acknowledged only");

    ws.send(message("m-2", "c-1", "再便宜一点吧"))
        .await
        .unwrap();
    let got = until_ack(&mut ws, "m-2").await;
    assert_eq!(kinds(&got), ["reply", "ack"]);
    ws.send(message("m-3", "c-1", "便宜点我就买"))
        .await
        .unwrap();
    let got = until_ack(&mut ws, "m-3").await;
    assert_eq!(kinds(&got), ["reply", "escalate", "ack"], "{got:?}");
    assert_eq!(got[1]["reason"], "repeated_bargain");
    // Nothing more comes for m-1.
    assert!(next(&mut ws, Duration::from_millis(300)).await.is_none());
}

/// Bad frames are logged and ignored; the connection stays up and the next
/// good message is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_never_close_the_connection() {
    let dir = crate::scratch("live-frames");
    let server = RawServer::new().await;
    let bot = BotProc::start(&server.url(), "x", &dir.join("s.db"), dir.join("bot.log"));
    let mut ws = server.accept().await;
    let big = format!(
        r#"{{"type":"message","id":"m-big","conversation":"c-1","from":{{"role":"buyer"}},"text":"{}"}}"#,
        "货".repeat(30_000)
    );
    let bad: Vec<Ws> = vec![
        Ws::text("not json"),
        Ws::text("[1,2,3]"),
        Ws::text(r#"{"no":"type"}"#),
        Ws::text(r#"{"type":"message","id":"m-0"}"#),
        Ws::text(
            r#"{"type":"message","id":"m-0","conversation":"c","from":{"role":"robot"},"text":"x"}"#,
        ),
        Ws::text(r#"{"type":"typing","conversation":"c-1"}"#),
        Ws::text(big),
        Ws::binary(vec![0u8, 159, 146, 150]),
        Ws::text(r#"{"type":"takeover"}"#),
    ];
    for f in bad {
        ws.send(f).await.unwrap();
    }
    ws.send(message("m-1", "c-1", "几天能发货")).await.unwrap();
    let got = until_ack(&mut ws, "m-1").await;
    assert_eq!(kinds(&got), ["reply", "ack"], "{got:?}");
    // Same connection: no second hello came, and nothing for the bad frames.
    let log = bot.log();
    for why in [
        "not a JSON object",
        "no \"type\"",
        "missing field",
        "unknown variant",
        "unknown type",
        "over 64 KiB",
        "binary frame",
    ] {
        assert!(log.contains(why), "log lacks {why:?}:\n{log}");
    }
    assert!(!log.contains("reconnecting"), "{log}");
}

/// The state file is created and migrated by the binary; a newer schema is
/// refused with a clear message.
#[test]
fn a_state_file_from_a_newer_version_is_refused() {
    let dir = crate::scratch("live-schema");
    let db = dir.join("s.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 42)
        .unwrap();
    let out = crate::xiaoer(&[
        "run",
        "--url",
        "ws://127.0.0.1:9/",
        "--state",
        db.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("schema version 42 is newer"), "{err}");
}

/// A bargain answer comes after its typing pause; a greeting in another
/// conversation meanwhile is not held up by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_delays_hold_one_conversation_only() {
    let dir = crate::scratch("live-typing");
    let server = RawServer::new().await;
    let _bot = BotProc::start_with(
        &server.url(),
        "x",
        &dir.join("s.db"),
        dir.join("bot.log"),
        &[("XIAOER_TIMING__INTENTS__BARGAIN", "1500")],
    );
    let mut ws = server.accept().await;
    let t0 = Instant::now();
    ws.send(message("m-1", "c-1", "能便宜点吗")).await.unwrap();
    ws.send(message("m-2", "c-2", "你好")).await.unwrap();
    let first = next(&mut ws, Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (first["type"].as_str(), first["in_reply_to"].as_str()),
        (Some("reply"), Some("m-2"))
    );
    let got = until_ack(&mut ws, "m-1").await;
    assert!(
        t0.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        t0.elapsed()
    );
    assert!(
        got.iter()
            .any(|f| f["type"] == "reply" && f["in_reply_to"] == "m-1"),
        "{got:?}"
    );
}

/// More than `escalation.busy_after` chats waiting: the holding line tells
/// the buyer the expected wait; a takeover shortens the queue again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_queue_gets_the_busy_line() {
    let dir = crate::scratch("live-busy");
    let g = gateway().await;
    let gw = g.gateway.clone();
    let _bot = BotProc::start_with(
        &g.bot_url(),
        TOKEN,
        &dir.join("s.db"),
        dir.join("bot.log"),
        &[
            ("XIAOER_TIMING__ENABLED", "false"),
            ("XIAOER_ESCALATION__BUSY_AFTER", "2"),
            ("XIAOER_ESCALATION__MINUTES_PER_WAITING", "2"),
        ],
    );
    assert!(until(crate::CONNECT_WAIT, || gw.bot_connected()).await);
    for (n, want_busy) in [(1, false), (2, false), (3, true)] {
        gw.buyer_message(&format!("c-{n}"), "b", "", "我要投诉你们", None)
            .unwrap();
        assert!(until(Duration::from_secs(5), || gw.stats().acked == n).await);
        let text = bot_texts(&gw, &format!("c-{n}")).join("");
        assert_eq!(text.contains("6分钟"), want_busy, "c-{n}: {text}");
    }
    gw.takeover("c-1", "a-1").unwrap();
    gw.takeover("c-2", "a-1").unwrap();
    // Hand-offs in other conversations run concurrently: wait until stored.
    let db = rusqlite::Connection::open(dir.join("s.db")).unwrap();
    assert!(
        until(Duration::from_secs(5), || db
            .query_row(
                "SELECT COUNT(*) FROM conversations WHERE status = 'taken'",
                [],
                |r| r.get::<_, i64>(0)
            )
            .unwrap_or(0)
            == 2)
        .await
    );
    gw.buyer_message("c-4", "b", "", "我要投诉你们", None)
        .unwrap();
    assert!(until(Duration::from_secs(5), || gw.stats().acked == 4).await);
    let text = bot_texts(&gw, "c-4").join("");
    assert!(!text.contains("分钟"), "queue of 2 is not busy: {text}");
}

fn decision_intents(gw: &Gateway, conv: &str) -> Option<Vec<String>> {
    let v = gw.conversation(conv).ok()?;
    v.messages?
        .into_iter()
        .find(|m| m.role == "buyer")?
        .decision
        .filter(|d| !d.intents.is_empty())
        .map(|d| d.intents)
}

/// Editing an intent file takes effect within 2 s, with no message lost or
/// answered twice; a broken edit is reported with file:line and the previous
/// files stay in force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_files_take_effect_and_broken_ones_do_not() {
    let dir = crate::scratch("live-reload");
    crate::copy_files(&dir);
    let g = gateway().await;
    let gw = g.gateway.clone();
    // The folders come from the configuration (paths.*), as in production.
    let (intents, replies) = (dir.join("intents"), dir.join("replies"));
    let bot = BotProc::start_with(
        &g.bot_url(),
        TOKEN,
        &dir.join("s.db"),
        dir.join("bot.log"),
        &[
            ("XIAOER_TIMING__ENABLED", "false"),
            ("XIAOER_PATHS__INTENTS", intents.to_str().unwrap()),
            ("XIAOER_PATHS__REPLIES", replies.to_str().unwrap()),
        ],
    );
    assert!(until(crate::CONNECT_WAIT, || gw.bot_connected()).await);
    let phrase = "芝麻开门咒语";
    gw.buyer_message("c-0", "b", "", phrase, None).unwrap();
    assert!(
        until(Duration::from_secs(5), || decision_intents(&gw, "c-0")
            .is_some())
        .await
    );
    assert_ne!(decision_intents(&gw, "c-0").unwrap(), ["stock"]);

    // A new keyword for stock.
    let stock = dir.join("intents/stock.toml");
    let original = std::fs::read_to_string(&stock).unwrap();
    std::fs::write(
        &stock,
        original.replacen("keywords = [", "keywords = [\"芝麻开门咒语\", ", 1),
    )
    .unwrap();
    let written = Instant::now();
    let mut k = 1;
    let took = loop {
        let conv = format!("c-{k}");
        gw.buyer_message(&conv, "b", "", phrase, None).unwrap();
        assert!(
            until(Duration::from_secs(5), || decision_intents(&gw, &conv)
                .is_some())
            .await
        );
        if decision_intents(&gw, &conv).unwrap() == ["stock"] {
            break written.elapsed();
        }
        // A watchdog, not a speed claim: a debug build on a busy machine
        // takes seconds to rebuild the engine (BENCHMARKS.md has the figure).
        assert!(
            written.elapsed() < Duration::from_secs(30),
            "not reloaded within 30 s:\n{}",
            bot.log()
        );
        k += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("the edit answered after {took:?}");

    // A broken edit: reported with file:line, the previous files stay.
    std::fs::write(&stock, "id = \"stock\"\nkeywords = [\"unterminated\n").unwrap();
    assert!(
        until(Duration::from_secs(5), || bot
            .log()
            .contains("previous version stays in force"))
        .await,
        "{}",
        bot.log()
    );
    assert!(bot.log().contains("stock.toml:"), "{}", bot.log());
    gw.buyer_message("c-last", "b", "", phrase, None).unwrap();
    assert!(
        until(Duration::from_secs(5), || decision_intents(&gw, "c-last")
            .is_some())
        .await
    );
    assert_eq!(decision_intents(&gw, "c-last").unwrap(), ["stock"]);
    let s = gw.stats();
    assert_eq!((s.double_answers, s.unacked), (0, 0), "{s:?}");
    assert_eq!(s.acked, k + 2);
}

/// A plain HTTP GET over loopback: (status, body).
async fn http_get(addr: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    (status, body)
}

fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// /healthz, /readyz (ready only while connected) and Prometheus metrics;
/// JSON logs that never show the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_health_and_json_logs() {
    let dir = crate::scratch("live-metrics");
    let g = gateway().await;
    let gw = g.gateway.clone();
    let metrics = free_port();
    let mut bot = BotProc::start_with(
        &g.bot_url(),
        TOKEN,
        &dir.join("s.db"),
        dir.join("bot.log"),
        &[
            ("XIAOER_TIMING__ENABLED", "false"),
            ("XIAOER_METRICS__LISTEN", &metrics),
            ("XIAOER_LOG__FORMAT", "json"),
        ],
    );
    assert!(until(crate::CONNECT_WAIT, || gw.bot_connected()).await);
    let deadline = Instant::now() + Duration::from_secs(5);
    while http_get_ok(&metrics).await.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(http_get(&metrics, "/healthz").await.0, 200);
    // Ready once the bot has its session, which follows the gateway's own
    // "connected" by the welcome's round trip (a loaded CI machine showed
    // 503 in that window): polled, not read once.
    let deadline = Instant::now() + Duration::from_secs(5);
    while http_get(&metrics, "/readyz").await.0 != 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(http_get(&metrics, "/readyz").await.0, 200);
    gw.buyer_message("c-1", "b", "", "几天能发货", None)
        .unwrap();
    gw.buyer_message("c-2", "b", "", "我要投诉", None).unwrap();
    assert!(until(Duration::from_secs(5), || gw.stats().acked == 2).await);
    let (status, body) = http_get(&metrics, "/metrics").await;
    assert_eq!(status, 200);
    for want in [
        "xiaoer_messages_total{role=\"buyer\"} 2",
        "xiaoer_replies_total{intent=\"ship_time\"} 1",
        "xiaoer_escalations_total{",
        "xiaoer_connected 1",
        "xiaoer_decide_seconds_bucket",
        "xiaoer_message_seconds_count 2",
    ] {
        assert!(body.contains(want), "metrics lack {want:?}:\n{body}");
    }
    // The gateway goes away: not ready any more.
    g.stop();
    gw.drop_bot();
    let mut not_ready = false;
    for _ in 0..100 {
        if http_get(&metrics, "/readyz").await.0 == 503 {
            not_ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(not_ready, "still ready without a gateway");
    assert_eq!(bot.terminate(), Some(0));
    let log = bot.log();
    assert!(!log.contains(TOKEN), "the token is in the log");
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "not JSON: {line}"
        );
    }
}

async fn http_get_ok(addr: &str) -> Option<()> {
    TcpStream::connect(addr).await.ok().map(|_| ())
}

/// One HTTP/1.0 request: (status, head, body).
async fn http(
    addr: &str,
    method: &str,
    path: &str,
    extra: &str,
    body: &str,
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

fn start_demo(args: &[&str], dir: &Path) -> (Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = crate::xiaoer(&[&["demo"], args].concat())
        .env("XIAOER_LOG", "warn")
        .env("XIAOER_TIMING__ENABLED", "false")
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
                .replace("0.0.0.0", "127.0.0.1");
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

/// Beyond loopback the console needs configured agents; with them, the
/// console and its API need a login, sessions expire, and actions are done
/// as the logged-in agent whatever the request claims.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_requires_a_login_beyond_loopback() {
    let dir = crate::scratch("live-auth");
    let open = crate::xiaoer(&[
        "demo",
        "--listen",
        "0.0.0.0:0",
        "--state",
        dir.join("a.db").to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(open.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&open.stderr).contains("[console.agents]"));

    let hash = xiaoer::gateway::auth::hash_password("s3cret");
    let cfg = dir.join("x.toml");
    std::fs::write(
        &cfg,
        format!("[console]\nsession_minutes = 480\n[console.agents]\na-1 = \"{hash}\"\n"),
    )
    .unwrap();
    let (mut demo, addr) = start_demo(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--listen",
            "0.0.0.0:0",
            "--state",
            dir.join("b.db").to_str().unwrap(),
        ],
        &dir,
    );
    assert!(
        !addr.is_empty(),
        "demo did not start: {}",
        std::fs::read_to_string(dir.join("demo.log")).unwrap_or_default()
    );
    assert_eq!(
        http(&addr, "GET", "/api/conversations", "", "").await.0,
        401
    );
    let (status, head, _) = http(&addr, "GET", "/agent", "", "").await;
    assert!(status == 303 || status == 302 || status == 307, "{head}");
    assert!(
        head.to_ascii_lowercase().contains("location: /login"),
        "{head}"
    );
    let (status, _, _) = http(
        &addr,
        "POST",
        "/api/login",
        "",
        r#"{"agent":"a-1","password":"wrong"}"#,
    )
    .await;
    assert_eq!(status, 401);
    let (status, head, _) = http(
        &addr,
        "POST",
        "/api/login",
        "",
        r#"{"agent":"a-1","password":"s3cret"}"#,
    )
    .await;
    assert_eq!(status, 200, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .expect("a session cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = format!("Cookie: {}\r\n", cookie.split(';').next().unwrap());
    assert_eq!(
        http(&addr, "GET", "/api/conversations", &session, "")
            .await
            .0,
        200
    );
    // The buyer side needs no login (a conversation's token instead); the
    // agent acts as the session says.
    let (status, _, body) = http(&addr, "POST", "/api/buyer/conversations", "", "").await;
    assert_eq!(status, 200, "{body}");
    let opened: serde_json::Value = serde_json::from_str(&body).unwrap();
    let conv = opened["id"].as_str().unwrap();
    let token = format!(
        "x-conversation-token: {}\r\n",
        opened["token"].as_str().unwrap()
    );
    let (status, _, _) = http(
        &addr,
        "POST",
        &format!("/api/buyer/conversations/{conv}/messages"),
        &token,
        r#"{"text":"我要投诉"}"#,
    )
    .await;
    assert_eq!(status, 200);
    let takeover = format!("/api/conversations/{conv}/takeover");
    assert_eq!(
        http(&addr, "POST", &takeover, "", r#"{"agent":"mallory"}"#)
            .await
            .0,
        401
    );
    let (status, _, body) =
        http(&addr, "POST", &takeover, &session, r#"{"agent":"mallory"}"#).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"agent\":\"a-1\""), "{body}");
    let (status, _, _) = http(&addr, "POST", "/api/logout", &session, "").await;
    assert_eq!(status, 200);
    assert_eq!(
        http(&addr, "GET", "/api/conversations", &session, "")
            .await
            .0,
        401,
        "logged out"
    );
    let _ = demo.kill();
    let _ = demo.wait();

    // Sessions expire.
    std::fs::write(
        &cfg,
        format!("[console]\nsession_minutes = 0\n[console.agents]\na-1 = \"{hash}\"\n"),
    )
    .unwrap();
    let (mut demo, addr) = start_demo(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--port",
            "0",
            "--state",
            dir.join("c.db").to_str().unwrap(),
        ],
        &dir,
    );
    let (_, head, _) = http(
        &addr,
        "POST",
        "/api/login",
        "",
        r#"{"agent":"a-1","password":"s3cret"}"#,
    )
    .await;
    let cookie = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("set-cookie: ")
                .map(|c| c.to_string())
        })
        .unwrap();
    let session = format!("Cookie: {}\r\n", cookie.split(';').next().unwrap());
    assert_eq!(
        http(&addr, "GET", "/api/conversations", &session, "")
            .await
            .0,
        401,
        "expired"
    );
    let _ = demo.kill();
    let _ = demo.wait();
}

// ---- Hardening (issue 11): hostile gateways, slow decisions, broken stores.

/// A gateway that sends a message over 4 MiB, then a text frame that is not
/// UTF-8, then redelivers both on every connection: each is dropped and
/// logged, the connection stays, and the next message is answered on it.
/// (Before: the library closed the connection on each, 87 reconnects in 45 s.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_invalid_frames_are_dropped_and_the_connection_stays() {
    use tokio_tungstenite::tungstenite::protocol::frame::{
        coding::{Data, OpCode},
        Frame,
    };
    let dir = crate::scratch("live-oversized");
    let server = RawServer::new().await;
    let bot = BotProc::start(&server.url(), "x", &dir.join("s.db"), dir.join("bot.log"));
    let mut ws = server.accept().await;
    let huge = format!(
        r#"{{"type":"message","id":"m-huge","conversation":"c-1","from":{{"role":"buyer"}},"text":"{}"}}"#,
        "a".repeat(5 << 20)
    );
    let not_utf8 = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    ws.send(Ws::text(huge)).await.unwrap();
    ws.send(Ws::Frame(not_utf8)).await.unwrap();
    ws.send(message("m-1", "c-1", "几天能发货")).await.unwrap();
    let got = until_ack(&mut ws, "m-1").await;
    assert_eq!(kinds(&got), ["reply", "ack"], "{got:?}");
    // Still the first connection: no second one comes.
    assert!(
        tokio::time::timeout(Duration::from_secs(2), server.listener.accept())
            .await
            .is_err(),
        "the bot reconnected:\n{}",
        bot.log()
    );
    let log = bot.log();
    for why in ["over 64 KiB dropped", "not UTF-8 dropped"] {
        assert!(log.contains(why), "log lacks {why:?}:\n{log}");
    }
    assert!(!log.contains("reconnecting"), "{log}");
}

/// A gateway that welcomes the bot and closes the connection at once, every
/// time: the delay doubles (0.5, 1, 2, 4 s ...) instead of starting again at
/// every `welcome`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_closes_after_welcome_gets_growing_delays() {
    let dir = crate::scratch("live-flap");
    let server = RawServer::new().await;
    let _bot = BotProc::start(&server.url(), "x", &dir.join("s.db"), dir.join("bot.log"));
    // Counted from the first connection (the start may be slow on a busy machine).
    let mut first = Some(
        tokio::time::timeout(Duration::from_secs(60), server.listener.accept())
            .await
            .expect("the bot connects")
            .unwrap(),
    );
    let started = Instant::now();
    let mut connections = 0;
    while started.elapsed() < Duration::from_secs(6) {
        if let Some(s) = first.take() {
            connections += 1;
            flap(s.0).await;
            continue;
        }
        let Ok(Ok((s, _))) = tokio::time::timeout(
            Duration::from_secs(6).saturating_sub(started.elapsed()),
            server.listener.accept(),
        )
        .await
        else {
            break;
        };
        connections += 1;
        flap(s).await;
    }
    // 0.5 + 1 + 2 + 4 s (±25 %) of pauses: at most 4 connections in 6 s;
    // starting again at each welcome made about 12.
    assert!(
        (2..=4).contains(&connections),
        "{connections} connections in 6 s"
    );
}

/// A gateway that stops reading: the bot's writes wait at most
/// `SEND_WITHIN`, then it drops the connection and connects again (before,
/// it stalled behind the blocked write for good, pings included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_stops_reading_is_replaced() {
    let dir = crate::scratch("live-stalled");
    // A small receive window, so the bot's writes back up soon.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(16).unwrap();
    let server = RawServer { listener };
    let bot = BotProc::start(&server.url(), "x", &dir.join("s.db"), dir.join("bot.log"));
    let ws = server.accept().await;
    let stalled = Instant::now();
    // Never read again; keep sending buyer messages the bot answers.
    let (mut tx, _rx) = ws.split();
    let sender = tokio::spawn(async move {
        for i in 0.. {
            let m = message(&format!("m-{i}"), &format!("c-{}", i % 50), "几天能发货");
            if tx.send(m).await.is_err() {
                break;
            }
        }
    });
    let again = tokio::time::timeout(Duration::from_secs(40), server.listener.accept()).await;
    sender.abort();
    assert!(
        again.is_ok(),
        "no new connection 40 s after the gateway stopped reading:\n{}",
        bot.log()
    );
    eprintln!("replaced after {:?}", stalled.elapsed());
    assert!(bot.log().contains("stopped reading"), "{}", bot.log());
}

/// Welcomes the bot and closes the connection.
async fn flap(s: TcpStream) {
    let mut ws = tokio_tungstenite::accept_async(s).await.unwrap();
    let _hello = next(&mut ws, Duration::from_secs(5)).await;
    ws.send(Ws::text(
        json!({"type":"welcome","gateway":"flap","version":1}).to_string(),
    ))
    .await
    .unwrap();
    let _ = ws.close(None).await;
}

/// Released by the test when it ends, so slow decisions finish.
static SLOW_RELEASE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Decisions run off the async workers with a deadline: three messages whose
/// decisions hang (a test hook) do not stop other conversations from being
/// answered over the websocket; each hung one goes to a person with reason
/// `timeout`, stored and acknowledged, so a redelivery is only acknowledged.
/// (Before: two such messages on two workers stopped the bot entirely.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_decision_does_not_stop_other_conversations() {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    let dir = crate::scratch("live-slow");
    let engine = Arc::new(
        xiaoer::Engine::load(
            xiaoer::config::Config::defaults(),
            xiaoer::FileSource::Embedded,
        )
        .unwrap(),
    );
    let store = Arc::new(xiaoer::store::Store::open(&dir.join("s.db")).unwrap());
    let (out_tx, out_rx) = xiaoer::channel::outbox();
    let bot = xiaoer::channel::bot::Bot::new(engine, store, out_tx);
    bot.set_decide_hook(|text| {
        if text.contains("慢慢来") {
            // Busy like a runaway classifier, until the test ends (at most 40 s).
            let started = Instant::now();
            while !SLOW_RELEASE.load(Ordering::Relaxed)
                && started.elapsed() < Duration::from_secs(40)
            {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    let server = RawServer::new().await;
    let client = xiaoer::channel::Client::new(
        xiaoer::channel::ClientConfig {
            url: server.url(),
            token: "x".into(),
            shops: vec!["demo".into()],
            log_chars: 40,
            instance: None,
        },
        bot,
        out_rx,
    )
    .unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(client.run(stop_rx));
    let mut ws = server.accept().await;
    for i in 0..3 {
        ws.send(message(
            &format!("s-{i}"),
            &format!("c-slow-{i}"),
            "慢慢来 有货吗",
        ))
        .await
        .unwrap();
    }
    let t0 = Instant::now();
    for i in 0..5 {
        ws.send(message(&format!("m-{i}"), &format!("c-{i}"), "几天能发货"))
            .await
            .unwrap();
    }
    // Everything that comes, by message; the watchdog turns a hang into a failure.
    let mut by_msg: std::collections::HashMap<String, Vec<Value>> = Default::default();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut normal_done = None;
    while by_msg
        .values()
        .filter(|v| v.iter().any(|f| f["type"] == "ack"))
        .count()
        < 8
    {
        let f = next(&mut ws, deadline.saturating_duration_since(Instant::now()))
            .await
            .unwrap_or_else(|| panic!("frames stopped; got {by_msg:?}"));
        let id = f["in_reply_to"]
            .as_str()
            .or(f["id"].as_str())
            .unwrap_or_default()
            .to_string();
        by_msg.entry(id).or_default().push(f);
        if normal_done.is_none()
            && (0..5).all(|i| {
                by_msg
                    .get(&format!("m-{i}"))
                    .is_some_and(|v| v.iter().any(|f| f["type"] == "ack"))
            })
        {
            normal_done = Some(t0.elapsed());
        }
    }
    let normal_done = normal_done.expect("the other conversations were answered");
    eprintln!("other conversations answered within {normal_done:?}");
    for i in 0..5 {
        assert_eq!(kinds(&by_msg[&format!("m-{i}")]), ["reply", "ack"]);
    }
    for i in 0..3 {
        let got = &by_msg[&format!("s-{i}")];
        assert_eq!(kinds(got), ["reply", "escalate", "ack"], "{got:?}");
        assert_eq!(got[1]["reason"], "timeout");
    }
    // Answered before the slow ones' deadline ran out.
    assert!(
        normal_done < xiaoer::channel::bot::DECIDE_WITHIN,
        "{normal_done:?}"
    );
    // A redelivery (as after a restart) is acknowledged only.
    ws.send(message("s-0", "c-slow-0", "慢慢来 有货吗"))
        .await
        .unwrap();
    assert_eq!(kinds(&until_ack(&mut ws, "s-0").await), ["ack"]);
    SLOW_RELEASE.store(true, Ordering::Relaxed);
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), running).await;
}

fn status_in(db: &Path, conversation: &str) -> Option<String> {
    rusqlite::Connection::open(db)
        .ok()?
        .query_row(
            "SELECT status FROM conversations WHERE id = ?1",
            [conversation],
            |r| r.get(0),
        )
        .ok()
}

/// A takeover that meets a store error (the file locked by another writer
/// for a while) holds at once and is stored when the store works again: the
/// bot never talks over the agent. (Before: rolled back and never retried,
/// and the bot answered the buyer under the agent's nose.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_survives_a_store_error() {
    let dir = crate::scratch("live-takeover-locked");
    let db = dir.join("s.db");
    let g = gateway().await;
    let gw = g.gateway.clone();
    let bot = BotProc::start(&g.bot_url(), TOKEN, &db, dir.join("bot.log"));
    assert!(until(crate::CONNECT_WAIT, || gw.bot_connected()).await);
    gw.buyer_message("c-1", "b-1", "小王", "这件有货吗", None)
        .unwrap();
    assert!(until(Duration::from_secs(5), || gw.stats().acked == 1).await);
    assert_eq!(bot_texts(&gw, "c-1").len(), 1);

    // Another process holds the write lock: every write of the bot fails
    // after its busy timeout.
    let lock = rusqlite::Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    gw.takeover("c-1", "a-1").unwrap();
    assert!(
        until(Duration::from_secs(15), || bot
            .log()
            .contains("hand-off not stored"))
        .await,
        "{}",
        bot.log()
    );
    lock.execute_batch("COMMIT").unwrap();
    drop(lock);
    // Stored by a retry, with no message to carry it.
    assert!(
        until(Duration::from_secs(15), || status_in(&db, "c-1").as_deref()
            == Some("taken"))
        .await,
        "{}",
        bot.log()
    );
    gw.buyer_message("c-1", "b-1", "小王", "几天能发货", None)
        .unwrap();
    assert!(until(Duration::from_secs(5), || gw.stats().acked == 2).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        bot_texts(&gw, "c-1").len(),
        1,
        "the bot talked over the agent"
    );
    let agent: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT agent FROM escalations WHERE conversation = 'c-1' AND status = 'taken'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(agent, "a-1");
}

/// /readyz follows the store: not ready while the file cannot be written (a
/// real SQLite lock held by another process), ready again after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_includes_a_store_that_takes_writes() {
    let dir = crate::scratch("live-ready-store");
    let db = dir.join("s.db");
    let g = gateway().await;
    let gw = g.gateway.clone();
    let metrics = free_port();
    let bot = BotProc::start_with(
        &g.bot_url(),
        TOKEN,
        &db,
        dir.join("bot.log"),
        &[
            ("XIAOER_TIMING__ENABLED", "false"),
            ("XIAOER_METRICS__LISTEN", &metrics),
        ],
    );
    assert!(until(crate::CONNECT_WAIT, || gw.bot_connected()).await);
    let deadline = Instant::now() + Duration::from_secs(5);
    while http_get_ok(&metrics).await.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(http_get(&metrics, "/readyz").await.0, 200);
    let lock = rusqlite::Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut why = String::new();
    for _ in 0..300 {
        let (status, body) = http_get(&metrics, "/readyz").await;
        if status == 503 {
            why = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        why.contains("state store cannot write"),
        "{why:?}\n{}",
        bot.log()
    );
    lock.execute_batch("COMMIT").unwrap();
    drop(lock);
    let mut ready = false;
    for _ in 0..300 {
        if http_get(&metrics, "/readyz").await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "not ready again after the lock went:\n{}", bot.log());
}

/// A damaged state file stops the start with a clear error (exit 2), row by
/// row: a file that is not a database, and one with a damaged page.
#[test]
fn a_damaged_state_file_stops_the_start() {
    let dir = crate::scratch("live-corrupt");
    let good = dir.join("good.db");
    {
        let s = xiaoer::store::Store::open(&good).unwrap();
        let ops: Vec<_> = (0..400)
            .map(|i| xiaoer::store::Op::Message {
                id: format!("m-{i}"),
                conversation: format!("c-{i}"),
                role: "buyer".into(),
                sender: None,
                name: None,
                text: "有货吗".repeat(20),
                ts: None,
                item: None,
            })
            .collect();
        s.write_blocking(ops).unwrap();
        s.close();
    }
    let bytes = std::fs::read(&good).unwrap();
    let page = 4096;
    assert!(bytes.len() > 6 * page, "{} bytes", bytes.len());
    let mut header = bytes.clone();
    header[..100].copy_from_slice(&[0x5a; 100]);
    // The first 100 bytes of every page but the first (the schema).
    let mut page_damage = bytes.clone();
    for p in page_damage[page..].chunks_mut(page) {
        p[..100].fill(0xff);
    }
    let rows: &[(&str, Vec<u8>)] = &[("not-a-db", header), ("damaged-page", page_damage)];
    for (name, content) in rows {
        let db = dir.join(format!("{name}.db"));
        std::fs::write(&db, content).unwrap();
        let out = crate::xiaoer(&[
            "run",
            "--url",
            "ws://127.0.0.1:9/",
            "--state",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains("the file is damaged"), "{name}: {err}");
        assert!(err.contains(db.to_str().unwrap()), "{name}: {err}");
    }
}

/// Message ids reused across conversations are different messages: both are
/// answered once, and after a restart both redeliveries are acknowledged only.
/// (Before: the second overwrote the first's decision and was answered again
/// after every restart.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_id_reused_in_another_conversation_is_its_own_message() {
    let dir = crate::scratch("live-reused-id");
    let state = dir.join("s.db");
    let server = RawServer::new().await;
    let mut bot = BotProc::start(&server.url(), "x", &state, dir.join("bot1.log"));
    let mut ws = server.accept().await;
    ws.send(message("m-1", "c-1", "几天能发货")).await.unwrap();
    assert_eq!(kinds(&until_ack(&mut ws, "m-1").await), ["reply", "ack"]);
    ws.send(message("m-1", "c-2", "发什么快递")).await.unwrap();
    assert_eq!(kinds(&until_ack(&mut ws, "m-1").await), ["reply", "ack"]);
    bot.kill9();
    drop(ws);

    let _bot = BotProc::start(&server.url(), "x", &state, dir.join("bot2.log"));
    let mut ws = server.accept().await;
    for conv in ["c-1", "c-2"] {
        ws.send(message("m-1", conv, "几天能发货")).await.unwrap();
        assert_eq!(kinds(&until_ack(&mut ws, "m-1").await), ["ack"], "{conv}");
    }
    let db = rusqlite::Connection::open(&state).unwrap();
    let decided: Vec<(String, String)> = db
        .prepare("SELECT conversation, action FROM decisions WHERE message_id = 'm-1' ORDER BY conversation")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        decided,
        [
            ("c-1".into(), "reply".into()),
            ("c-2".into(), "reply".into())
        ]
    );
}

/// Conversation ids from the gateway reach the text log and `report` escaped:
/// no ESC sequence, no forged line. `report` reads a read-only copy in
/// rollback-journal mode without changing a byte of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_conversation_ids_are_escaped_and_report_only_reads() {
    let dir = crate::scratch("live-escape");
    let state = dir.join("s.db");
    let server = RawServer::new().await;
    let mut bot = BotProc::start(&server.url(), "x", &state, dir.join("bot.log"));
    let mut ws = server.accept().await;
    let hostile = "c-1\u{1b}[2J\u{1b}]0;pwned\u{7}\n2026-11-22T10:00:00Z ERROR forged line";
    ws.send(message("m-1", hostile, "我要投诉 东西是坏的"))
        .await
        .unwrap();
    assert_eq!(
        kinds(&until_ack(&mut ws, "m-1").await),
        ["reply", "escalate", "ack"]
    );
    ws.send(Ws::text(
        json!({"type":"takeover","conversation":hostile,"agent":"a\u{1b}[31m-1"}).to_string(),
    ))
    .await
    .unwrap();
    assert!(
        until(Duration::from_secs(5), || bot.log().contains("hand-off")).await,
        "{}",
        bot.log()
    );
    assert_eq!(bot.terminate(), Some(0));
    let log = bot.log();
    assert!(!log.contains('\u{1b}') && !log.contains('\u{7}'), "{log:?}");
    assert!(
        !log.lines()
            .any(|l| l.starts_with("2026-11-22T10:00:00Z ERROR forged")),
        "{log}"
    );
    assert!(log.contains("c-1\\u{1b}[2J"), "{log}");

    // A read-only copy in rollback-journal mode.
    let copy = dir.join("copy.db");
    std::fs::copy(&state, &copy).unwrap();
    let wal = dir.join("s.db-wal");
    if wal.exists() {
        std::fs::copy(&wal, dir.join("copy.db-wal")).unwrap();
    }
    rusqlite::Connection::open(&copy)
        .unwrap()
        .pragma_update(None, "journal_mode", "DELETE")
        .unwrap();
    let mut perms = std::fs::metadata(&copy).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&copy, perms).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let out = crate::xiaoer(&["report", "--state", copy.to_str().unwrap(), "--since", "1d"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("escalated 1"), "{stdout}");
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{7}'),
        "{stdout:?}"
    );
    assert!(
        !stdout
            .lines()
            .any(|l| l.starts_with("2026-11-22T10:00:00Z")),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        before,
        "report changed the file"
    );
    assert!(!dir.join("copy.db-wal").exists(), "report made a WAL");
}
