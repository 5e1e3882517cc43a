//! The demo's web app against anonymous and hostile clients, on a real server
//! on loopback: every agent route anonymously and as the wrong agent, every
//! buyer route without or with a wrong conversation token, the login limits,
//! the caps on conversations, and slow clients against the connection cap.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use xiaoer::gateway::auth::{self, Auth, LoginError};
use xiaoer::gateway::web::{self, Access};
use xiaoer::gateway::{Gateway, GatewayConfig};

const PHONE: &str = "13800138000";

fn config() -> GatewayConfig {
    GatewayConfig {
        name: "t".into(),
        token: "k".into(),
        shop: "s".into(),
        items: vec![],
    }
}

/// One request on its own connection: (status, whole response). Event
/// streams never end: they are read until 300 ms pass without news.
async fn http(addr: &str, method: &str, path: &str, extra: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // A watchdog, not a timing: logins hash on a busy test machine.
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let wait = if String::from_utf8_lossy(&buf).contains("text/event-stream") {
                Duration::from_millis(300)
            } else {
                Duration::from_secs(30)
            };
            match tokio::time::timeout(wait, s.read(&mut chunk)).await {
                Ok(Ok(n @ 1..)) => buf.extend_from_slice(&chunk[..n]),
                _ => return,
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn json_body(response: &str) -> serde_json::Value {
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"))
}

struct Site {
    handle: xiaoer::live::GatewayHandle,
    addr: String,
}

impl Site {
    fn gw(&self) -> &Gateway {
        &self.handle.gateway
    }
}

/// A gateway with its web app; with logins for agents a-1 and a-2 (password
/// "pw") when `logins`.
async fn site(logins: bool) -> Site {
    let handle = xiaoer::live::start_gateway(config(), "127.0.0.1:0", Some("127.0.0.1:0"))
        .await
        .unwrap();
    if logins {
        let h = auth::hash_password("pw");
        handle.gateway.set_auth(Arc::new(Auth::new(
            [("a-1".to_string(), h.clone()), ("a-2".to_string(), h)]
                .into_iter()
                .collect(),
            Duration::from_secs(600),
        )));
    }
    let addr = handle.web_addr.unwrap().to_string();
    Site { handle, addr }
}

/// The `Cookie:` header line of a fresh session of `agent`.
async fn login(addr: &str, agent: &str) -> String {
    let (status, r) = http(
        addr,
        "POST",
        "/api/login",
        "",
        &format!(r#"{{"agent":"{agent}","password":"pw"}}"#),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let cookie = r
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .expect("a session cookie");
    format!("Cookie: {}\r\n", cookie.split(';').next().unwrap())
}

/// Opens a conversation as the buyer page does: (id, token header line).
async fn open(addr: &str) -> (String, String) {
    let (status, r) = http(addr, "POST", "/api/buyer/conversations", "", "").await;
    assert_eq!(status, 200, "{r}");
    let v = json_body(&r);
    (
        v["id"].as_str().unwrap().to_string(),
        format!(
            "{}: {}\r\n",
            web::TOKEN_HEADER,
            v["token"].as_str().unwrap()
        ),
    )
}

async fn buyer_says(addr: &str, conv: &str, token: &str, text: &str) -> (u16, String) {
    http(
        addr,
        "POST",
        &format!("/api/buyer/conversations/{conv}/messages"),
        token,
        &serde_json::json!({ "text": text, "name": "张三" }).to_string(),
    )
    .await
}

/// Everything a request could change: the conversations, what went to the
/// bot, the sessions' view of things.
fn snapshot(gw: &Gateway) -> String {
    let convs: Vec<_> = gw
        .conversations()
        .iter()
        .map(|c| serde_json::to_string(&gw.conversation(&c.id).unwrap()).unwrap())
        .collect();
    format!("{convs:?} sent={}", gw.stats().sent)
}

fn is_redirect_to_login(status: u16, r: &str) -> bool {
    (300..400).contains(&status) && r.to_ascii_lowercase().contains("location: /login")
}

/// Every route the router lists as an agent's, anonymously and with a forged
/// session: 401 (a redirect to /login for the page), nothing of the
/// conversation in the answer, nothing changed. As another agent than the
/// one who holds the conversation: reads are shared (one queue for all
/// agents), every action on the conversation is 403 and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_agent_route_needs_the_right_agent() {
    let s = site(true).await;
    let (conv, token) = open(&s.addr).await;
    let (status, r) = buyer_says(&s.addr, &conv, &token, &format!("我的电话{PHONE}")).await;
    assert_eq!(status, 200, "{r}");
    let a1 = login(&s.addr, "a-1").await;
    let a2 = login(&s.addr, "a-2").await;
    let (status, r) = http(
        &s.addr,
        "POST",
        &format!("/api/conversations/{conv}/takeover"),
        &a1,
        "{}",
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let before = snapshot(s.gw());
    let forged = format!("Cookie: {}={}\r\n", auth::COOKIE, "0".repeat(64));
    let agent_routes: Vec<_> = web::route_table()
        .into_iter()
        .filter(|r| r.access == Access::Agent)
        .collect();
    assert!(agent_routes.len() >= 8, "{agent_routes:?}");
    for route in &agent_routes {
        let path = route.path.replace("{id}", &conv);
        let body = if route.method == "POST" {
            r#"{"agent":"a-1","text":"冒充客服"}"#
        } else {
            ""
        };
        for (who, extra) in [("anonymous", ""), ("forged session", forged.as_str())] {
            let (status, r) = http(&s.addr, route.method, &path, extra, body).await;
            if route.path == "/agent" {
                assert!(is_redirect_to_login(status, &r), "{who} {route:?}: {r}");
            } else {
                assert_eq!(status, 401, "{who} {route:?}: {r}");
            }
            assert!(
                !r.contains(PHONE) && !r.contains(&conv),
                "{who} {route:?} leaks: {r}"
            );
            assert_eq!(
                snapshot(s.gw()),
                before,
                "{who} {route:?} changed something"
            );
        }
        let (status, r) = http(&s.addr, route.method, &path, &a2, body).await;
        // Actions on a conversation belong to its owner; teaching the bot
        // (no conversation in the path) is any agent's.
        if route.method == "POST" && route.path.contains("{id}") {
            assert_eq!(status, 403, "a-2 {route:?}: {r}");
            assert_eq!(snapshot(s.gw()), before, "a-2 {route:?} changed something");
        } else {
            assert!(
                status != 401 && status != 403,
                "a-2 may read {route:?}: {r}"
            );
        }
    }
    // The holder can act: the refusals above were about who asked.
    let (status, r) = http(
        &s.addr,
        "POST",
        &format!("/api/conversations/{conv}/reply"),
        &a1,
        r#"{"text":"您好"}"#,
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_ne!(snapshot(s.gw()), before);
    s.handle.stop();
}

/// Every buyer route needs the conversation's own token: none, another
/// conversation's, a made-up one or an agent's session get 403, nothing of
/// the conversation, and change nothing. With it, the buyer sees their
/// conversation without the bot's internal notes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buyer_routes_need_the_conversations_token() {
    let s = site(true).await;
    let (conv, token) = open(&s.addr).await;
    let (other, other_token) = open(&s.addr).await;
    let (status, r) = buyer_says(&s.addr, &conv, &token, &format!("我的电话{PHONE}")).await;
    assert_eq!(status, 200, "{r}");
    let a1 = login(&s.addr, "a-1").await;
    let before = snapshot(s.gw());
    let made_up = format!("{}: {}\r\n", web::TOKEN_HEADER, "0".repeat(64));
    let bare = |h: &str| h.trim_end().rsplit(' ').next().unwrap().to_string();
    let buyer_routes: Vec<_> = web::route_table()
        .into_iter()
        .filter(|r| r.access == Access::Buyer)
        .collect();
    assert!(buyer_routes.len() >= 3, "{buyer_routes:?}");
    for route in &buyer_routes {
        let path = route.path.replace("{id}", &conv);
        // (who, path, headers)
        let tries: Vec<(&str, String, String)> = if route.path.contains("{id}") {
            vec![
                ("no token", path.clone(), String::new()),
                (
                    "another conversation's token",
                    path.clone(),
                    other_token.clone(),
                ),
                ("a made-up token", path.clone(), made_up.clone()),
                ("an agent's session", path.clone(), a1.clone()),
            ]
        } else {
            let q = |c: &str| format!("{path}?c={c}");
            vec![
                ("no conversation", path.clone(), String::new()),
                ("no token", q(&conv), String::new()),
                (
                    "another conversation's token",
                    q(&format!("{conv}:{}", bare(&other_token))),
                    String::new(),
                ),
                (
                    "a made-up token",
                    q(&format!("{conv}:{}", "0".repeat(64))),
                    String::new(),
                ),
                (
                    "one good, one bad",
                    q(&format!("{other}:{},{conv}:x", bare(&other_token))),
                    String::new(),
                ),
                ("an agent's session", q(&conv), a1.clone()),
            ]
        };
        for (who, path, extra) in tries {
            let (status, r) = http(
                &s.addr,
                route.method,
                &path,
                &extra,
                r#"{"text":"冒充买家"}"#,
            )
            .await;
            assert_eq!(status, 403, "{who} {route:?}: {r}");
            assert!(!r.contains(PHONE), "{who} {route:?} leaks: {r}");
            assert_eq!(
                snapshot(s.gw()),
                before,
                "{who} {route:?} changed something"
            );
        }
    }
    // The routes of old that let anyone read or post are gone.
    for (method, path) in [
        ("POST", format!("/api/conversations/{conv}/messages")),
        (
            "GET",
            format!("/api/buyer/conversations/{conv}/../../conversations/{conv}"),
        ),
    ] {
        let (status, r) = http(
            &s.addr,
            method,
            &path,
            "",
            r#"{"buyer":{"id":"x"},"text":"冒充买家"}"#,
        )
        .await;
        assert!(!(200..300).contains(&status), "{method} {path}: {r}");
        assert!(!r.contains(PHONE));
    }
    assert_eq!(snapshot(s.gw()), before);
    // With the token: the conversation, without the bot's notes.
    let (status, r) = http(
        &s.addr,
        "GET",
        &format!("/api/buyer/conversations/{conv}"),
        &token,
        "",
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert!(r.contains(PHONE));
    let v = json_body(&r);
    assert!(
        v.get("escalation").is_none() && !r.contains("\"decision\""),
        "{r}"
    );
    let (status, r) = http(
        &s.addr,
        "GET",
        &format!("/api/buyer/events?c={conv}:{}", bare(&token)),
        "",
        "",
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert!(r.contains("text/event-stream"), "{r}");
    s.handle.stop();
}

/// The public surface is exactly this; a new public route must be added
/// here on purpose. None of it shows a conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_routes_are_these_and_show_no_conversation() {
    let public: BTreeSet<(&str, &str)> = web::route_table()
        .into_iter()
        .filter(|r| r.access == Access::Public)
        .map(|r| (r.method, r.path))
        .collect();
    let expected: BTreeSet<(&str, &str)> = [
        ("GET", "/"),
        ("GET", "/login"),
        ("GET", "/assets/login.js"),
        ("GET", "/assets/app.css"),
        ("GET", "/assets/buyer.js"),
        ("GET", "/assets/agent.js"),
        ("GET", "/assets/orders-buyer.js"),
        ("GET", "/assets/orders.js"),
        ("GET", "/assets/catalog.js"),
        ("POST", "/api/login"),
        // The agents to pick on an open loopback console (empty with passwords).
        ("GET", "/api/login/agents"),
        ("POST", "/api/logout"),
        ("GET", "/api/shop"),
        ("POST", "/api/buyer/conversations"),
    ]
    .into_iter()
    .collect();
    assert_eq!(public, expected);
    let s = site(true).await;
    let (conv, token) = open(&s.addr).await;
    buyer_says(&s.addr, &conv, &token, &format!("我的电话{PHONE}")).await;
    for (method, path) in public {
        let (status, r) = http(&s.addr, method, path, "", "{}").await;
        assert!(status != 0 && status < 500, "{method} {path}: {r}");
        assert!(
            !r.contains(PHONE) && !r.contains(&conv),
            "{method} {path} leaks: {r}"
        );
    }
    s.handle.stop();
}

/// Failed logins are limited per client and per agent id (unknown ids
/// alike), and an unknown id costs the same hash as a known one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_limited_per_client_and_per_agent() {
    let h = auth::hash_password("pw");
    let a = Auth::new(
        [("a-1".to_string(), h.clone()), ("a-2".to_string(), h)]
            .into_iter()
            .collect(),
        Duration::from_secs(600),
    );
    let ip = |n: u32| std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n));
    // Equal work for an unknown id.
    let n0 = a.hashes_computed();
    assert_eq!(a.login(ip(1), "ghost", "pw").await, Err(LoginError::Wrong));
    assert_eq!(a.hashes_computed(), n0 + 1, "an unknown id is hashed too");
    assert_eq!(a.login(ip(1), "a-1", "nope").await, Err(LoginError::Wrong));
    assert_eq!(a.hashes_computed(), n0 + 2);
    // Per client: after the limit even the right password is refused, from
    // that client only, and without computing a hash.
    for _ in 2..auth::MAX_LOGIN_FAILURES_PER_CLIENT {
        assert_eq!(a.login(ip(1), "a-2", "nope").await, Err(LoginError::Wrong));
    }
    let n1 = a.hashes_computed();
    assert!(matches!(
        a.login(ip(1), "a-1", "pw").await,
        Err(LoginError::Limited(_))
    ));
    assert_eq!(a.hashes_computed(), n1, "a locked client costs no hash");
    assert!(a.login(ip(2), "a-1", "pw").await.is_ok());
    // Per agent, from many clients: a-1 locks, a-2 does not; an unknown id
    // locks the same way (a lockout tells nothing about which ids exist).
    let h = auth::hash_password("pw");
    let a = Auth::new(
        [("a-1".to_string(), h.clone()), ("a-2".to_string(), h)]
            .into_iter()
            .collect(),
        Duration::from_secs(600),
    );
    for id in ["a-1", "ghost-2"] {
        for n in 0..auth::MAX_LOGIN_FAILURES_PER_AGENT {
            assert_eq!(
                a.login(ip(100 + n), id, "nope").await,
                Err(LoginError::Wrong),
                "{id}"
            );
        }
        let locked = a.login(ip(999), id, "pw").await;
        assert!(
            matches!(locked, Err(LoginError::Limited(_))),
            "{id}: {locked:?}"
        );
    }
    assert!(a.login(ip(999), "a-2", "pw").await.is_ok());

    // Over HTTP: 401s, then 429 with Retry-After.
    let s = site(true).await;
    let mut codes = Vec::new();
    let mut last = String::new();
    for _ in 0..=auth::MAX_LOGIN_FAILURES_PER_CLIENT {
        let (status, r) = http(
            &s.addr,
            "POST",
            "/api/login",
            "",
            r#"{"agent":"a-1","password":"guess"}"#,
        )
        .await;
        codes.push(status);
        last = r;
    }
    let limit = auth::MAX_LOGIN_FAILURES_PER_CLIENT as usize;
    assert!(codes[..limit].iter().all(|&c| c == 401), "{codes:?}");
    assert_eq!(codes[limit], 429, "{codes:?}");
    assert!(
        last.to_ascii_lowercase().contains("retry-after: "),
        "{last}"
    );
    s.handle.stop();
}

/// Anonymous clients cannot grow the demo without bound: conversations per
/// client, and bytes and messages per conversation, are capped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_are_capped_per_client_and_in_size() {
    let s = site(false).await;
    let mut opened = Vec::new();
    for _ in 0..web::MAX_CONVERSATIONS_PER_CLIENT {
        opened.push(open(&s.addr).await);
    }
    let (status, r) = http(&s.addr, "POST", "/api/buyer/conversations", "", "").await;
    assert_eq!(status, 429, "{r}");
    assert!(r.to_ascii_lowercase().contains("retry-after: "), "{r}");
    let (conv, token) = &opened[0];
    let big = "货".repeat(2000);
    let fits = xiaoer::gateway::MAX_CONVERSATION_BYTES / big.len();
    for i in 0..fits {
        let (status, r) = buyer_says(&s.addr, conv, token, &big).await;
        assert_eq!(status, 200, "message {i}: {r}");
    }
    let (status, r) = buyer_says(&s.addr, conv, token, &big).await;
    assert_eq!(status, 429, "{r}");
    let kept = s.gw().conversation(conv).unwrap().messages.unwrap().len();
    assert_eq!(kept, fits);
    // Message count, in another conversation.
    let (conv, token) = &opened[1];
    for _ in 0..xiaoer::gateway::MAX_MESSAGES_PER_CONVERSATION {
        s.gw()
            .buyer_post(conv, bare(token), "", "在吗", None)
            .unwrap();
    }
    let (status, r) = buyer_says(&s.addr, conv, token, "在吗").await;
    assert_eq!(status, 429, "{r}");
    s.handle.stop();
}

fn bare(token_header: &str) -> &str {
    token_header.trim_end().rsplit(' ').next().unwrap()
}

/// Reads until the server answers or closes: Some(what it said) or None if
/// it did neither within `wait`.
async fn answer_within(s: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let got = tokio::time::timeout(wait, async {
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    got.ok().map(|_| String::from_utf8_lossy(&buf).to_string())
}

/// Slow clients against a real server on loopback with a small cap: past the
/// cap a client gets 503 at once (so /healthz answers, if only "full"),
/// the slow ones are cut off after the header timeout, and then the server
/// answers normally again. Bounded: 40 connections, done in seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_cannot_hold_the_server() {
    const CAP: usize = 16;
    const SLOW: usize = 40;
    let header_timeout = Duration::from_secs(2);
    let gw = Gateway::new(config());
    let app = web::router(gw).merge(xiaoer::metrics::routes());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(web::serve_with(
        listener,
        app,
        web::ServeLimits {
            max_connections: CAP,
            header_timeout,
        },
    ));
    let mut slow = Vec::new();
    for _ in 0..SLOW {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        // Half a request, never finished.
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(c);
    }
    // Full: a new client hears so at once instead of hanging.
    let (status, r) = http(&addr, "GET", "/healthz", "", "").await;
    assert_eq!(status, 503, "{r}");
    assert!(r.to_ascii_lowercase().contains("retry-after: "), "{r}");
    // Every slow client is answered 503 or cut off, none is left hanging.
    let mut refused = 0;
    for (i, c) in slow.iter_mut().enumerate() {
        let said = answer_within(c, header_timeout + Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("slow client {i} still held after the header timeout"));
        refused += usize::from(said.contains(" 503 "));
    }
    assert!(refused >= SLOW - CAP - 4, "{refused} of {SLOW} refused");
    drop(slow);
    // The slots are free again.
    let mut status = 0;
    for _ in 0..50 {
        status = http(&addr, "GET", "/healthz", "", "").await.0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200);
    server.abort();
}

/// The demo's own server (default limits) cuts off a client that never
/// finishes its headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_server_cuts_off_half_requests() {
    let s = site(false).await;
    let mut c = TcpStream::connect(&s.addr).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let said = answer_within(&mut c, web::HEADER_TIMEOUT + Duration::from_secs(5)).await;
    assert!(said.is_some(), "still connected after the header timeout");
    s.handle.stop();
}

/// `[console]` is checked when the configuration loads, with the rule the
/// gateway applies: no agent id that every takeover would reject, no session
/// length that overflows a clock.
#[test]
fn console_settings_are_checked_on_load() {
    let dir = crate::scratch("web-security-config");
    let h = auth::hash_password("pw");
    let old = "pbkdf2-sha256$100000$00112233445566778899aabbccddeeff$00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let rows: &[(&str, String, Option<&str>)] = &[
        (
            "PHC hash",
            format!("[console.agents]\na-1 = \"{h}\"\n"),
            None,
        ),
        (
            "old hash form",
            format!("[console.agents]\na-1 = \"{old}\"\n"),
            None,
        ),
        (
            "session at most",
            format!(
                "[console]\nsession_minutes = {}\n",
                auth::MAX_SESSION_MINUTES
            ),
            None,
        ),
        (
            "session too long",
            format!("[console]\nsession_minutes = {}\n", i64::MAX),
            Some("console.session_minutes"),
        ),
        (
            "@ in an id",
            format!("[console.agents]\n\"a@b\" = \"{h}\"\n"),
            Some("a@b"),
        ),
        (
            "Chinese id",
            format!("[console.agents]\n\"小美\" = \"{h}\"\n"),
            Some("小美"),
        ),
        (
            "not a hash",
            "[console.agents]\na-1 = \"secret\"\n".into(),
            Some("xiaoer hash-password"),
        ),
    ];
    for (what, text, err) in rows {
        let f = dir.join("x.toml");
        std::fs::write(&f, text).unwrap();
        let got = xiaoer::config::Config::load(Some(&f));
        match (err, got) {
            (None, Ok(_)) => {}
            (Some(want), Err(e)) => {
                let m = e.to_string();
                assert!(m.contains(want), "{what}: {m}");
            }
            (want, got) => panic!("{what}: wanted error {want:?}, got {got:?}"),
        }
    }
}

/// `xiaoer hash-password` writes a PHC string the configuration accepts.
#[test]
fn hash_password_prints_a_phc_string() {
    let out = crate::run_with_stdin(&["hash-password"], b"s3cret\n");
    assert!(out.status.success(), "{out:?}");
    let hash = String::from_utf8(out.stdout).unwrap();
    let hash = hash.trim();
    assert!(hash.starts_with("$pbkdf2-sha256$i="), "{hash}");
    assert!(auth::is_hash(hash) && auth::verify_password(hash, "s3cret"));
}

/// A failed login's agent id reaches the text log escaped: no terminal
/// control sequence, no forged log line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_agent_id_is_escaped_in_the_log() {
    use std::io::{BufRead, BufReader};
    let dir = crate::scratch("web-security-log");
    let cfg = dir.join("x.toml");
    std::fs::write(
        &cfg,
        format!(
            "[console.agents]\na-1 = \"{}\"\n",
            auth::hash_password("pw")
        ),
    )
    .unwrap();
    let log = dir.join("demo.log");
    let mut demo = crate::xiaoer(&[
        "demo",
        "--config",
        cfg.to_str().unwrap(),
        "--port",
        "0",
        "--state",
        dir.join("s.db").to_str().unwrap(),
    ])
    .env("XIAOER_LOG", "info")
    .env("XIAOER_LOG__FORMAT", "text")
    .stdout(std::process::Stdio::piped())
    .stderr(std::fs::File::create(&log).unwrap())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.trim().strip_prefix("buyer page:").map(|u| {
                u.trim()
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_string()
            })
        })
        .expect("the demo prints its address");
    std::thread::spawn(move || for _ in lines {});
    let (status, r) = http(
        &addr,
        "POST",
        "/api/login",
        "",
        r#"{"agent":"x\u001b[2J\u001b[31m\nINFO xiaoer: agent logged in agent=a-1","password":"p"}"#,
    )
    .await;
    let _ = demo.kill();
    let _ = demo.wait();
    assert_eq!(status, 401, "{r}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("failed agent login"), "{text}");
    assert!(
        !text.contains("\x1b[2J") && !text.contains("\x1b[31m\n"),
        "{text:?}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.trim_start().starts_with("INFO xiaoer: agent logged in")),
        "a forged line: {text}"
    );
}

/// The reported case (issue 11, item 9): `xiaoer demo` with 256 file
/// descriptors and 400 clients that never finish their headers. The
/// connection cap follows the descriptor limit (half of it), so the process
/// never runs out: a health probe is answered (503 while full) within
/// seconds of the flood, and 200 once the header timeout has cut the slow
/// ones off. (With a fixed cap of 512 instead of half the limit, this fails:
/// the accept loop runs out of descriptors, "Too many open files".)
#[test]
fn a_demo_with_256_descriptors_answers_during_a_flood() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::time::Instant;
    const SLOW: usize = 400;
    let dir = crate::scratch("web-security-fds");
    let exe = env!("CARGO_BIN_EXE_xiaoer");
    let mut demo = std::process::Command::new("sh")
        .args([
            "-c",
            "ulimit -n 256 && exec \"$0\" demo --port 0 --state \"$1\"",
        ])
        .arg(exe)
        .arg(dir.join("s.db"))
        .current_dir(&dir)
        .env("XIAOER_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.join("demo.log")).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.trim().strip_prefix("buyer page:").map(|u| {
                u.trim()
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_string()
            })
        })
        .expect("the demo prints its address");
    std::thread::spawn(move || for _ in lines {});
    // The status line of one GET /healthz, or what went wrong.
    let probe = |addr: &str| -> String {
        let Ok(mut s) = std::net::TcpStream::connect(addr) else {
            return "connect failed".into();
        };
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = s.write_all(b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n");
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(n) => String::from_utf8_lossy(&buf[..n])
                .lines()
                .next()
                .unwrap_or("closed unanswered")
                .to_string(),
            Err(e) => format!("no answer: {e}"),
        }
    };
    assert!(probe(&addr).contains(" 200 "), "{}", probe(&addr));
    let flooded = Instant::now();
    let sock: std::net::SocketAddr = addr.parse().unwrap();
    let mut slow = Vec::new();
    for _ in 0..SLOW {
        // A server out of descriptors stops accepting: connects then wait.
        if let Ok(mut c) = std::net::TcpStream::connect_timeout(&sock, Duration::from_secs(1)) {
            let _ = c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n");
            slow.push(c);
        }
    }
    // An answer within seconds of the flood's start (the refusals of the
    // first wave linger 1 s).
    let mut said = Vec::new();
    let answered = loop {
        let got = probe(&addr);
        let ok = got.starts_with("HTTP/1.");
        said.push(got);
        if ok || flooded.elapsed() > Duration::from_secs(5) {
            break ok;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let alive = demo.try_wait().unwrap().is_none();
    let log = std::fs::read_to_string(dir.join("demo.log")).unwrap_or_default();
    assert!(
        answered && alive,
        "no answer to /healthz in 5 s of the flood: {said:?}\n{log}"
    );
    // Never out of descriptors (the accept loop logs each failure).
    assert!(!log.contains("accept failed"), "{log}");
    // Once the header timeout has cut the slow clients off: 200 again.
    let mut last = String::new();
    while flooded.elapsed() < web::HEADER_TIMEOUT + Duration::from_secs(10) {
        last = probe(&addr);
        if last.contains(" 200 ") {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    drop(slow);
    let _ = demo.kill();
    let _ = demo.wait();
    assert!(last.contains(" 200 "), "{last}\n{log}");
}
