//! The agent desk on a real server with a real bot: agents as people (names
//! buyers see, roles), ownership of every conversation route (an agent who
//! does not own a chat gets 403 and nothing changes), a supervisor's
//! reassignment in the history and the log, notes the buyer never sees,
//! closing with an outcome, marking the bot's answer wrong, search and
//! filters, the buyer's context, drafts and quick replies, reload problems,
//! and `[[console.team]]` / `replies/_agent.toml` checked on load.

use crate::until;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use xiaoer::gateway::auth::{self, Auth, Member, Role};
use xiaoer::gateway::desk::{DeskHooks, DeskRecord};
use xiaoer::gateway::web::{self, Access};
use xiaoer::gateway::{Gateway, GatewayConfig};

async fn http(addr: &str, method: &str, path: &str, extra: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
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

fn json(response: &str) -> serde_json::Value {
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"))
}

/// Records what the desk logs, answers drafts and quick replies like a bot.
#[derive(Default)]
struct Hooks(Mutex<Vec<DeskRecord>>);

impl DeskHooks for Hooks {
    fn quick_replies(&self) -> Vec<(String, String, String)> {
        vec![("wait".into(), "请稍等".into(), "亲，稍等哦".into())]
    }
    fn draft(&self, text: &str, _item: Option<&str>) -> Option<(String, String)> {
        (text == "有货吗").then(|| ("stock".into(), "亲，有货的哦".into()))
    }
    fn record(&self, r: DeskRecord) {
        self.0.lock().unwrap().push(r);
    }
}

struct Desk {
    handle: xiaoer::live::GatewayHandle,
    addr: String,
    hooks: Arc<Hooks>,
    bot: Option<xiaoer::live::BotHandle>,
    dir: std::path::PathBuf,
}

impl Desk {
    fn gw(&self) -> &Gateway {
        &self.handle.gateway
    }
}

fn member(id: &str, name: &str, role: Role) -> Member {
    Member {
        id: id.into(),
        name: name.into(),
        role,
        hash: Some(auth::hash_password("pw")),
    }
}

/// A gateway with its web app, a team (a-1 小一 and a-2 小二, agents; boss
/// 老板, supervisor; password "pw"), recording hooks, and a real bot.
async fn desk(name: &str) -> Desk {
    let handle = xiaoer::live::start_gateway(
        GatewayConfig {
            name: "t".into(),
            token: "k".into(),
            shop: "s".into(),
            items: vec![],
        },
        "127.0.0.1:0",
        Some("127.0.0.1:0"),
    )
    .await
    .unwrap();
    handle.gateway.set_auth(Arc::new(Auth::for_team(
        vec![
            member("a-1", "小一", Role::Agent),
            member("a-2", "小二", Role::Agent),
            member("boss", "老板", Role::Supervisor),
        ],
        Duration::from_secs(600),
    )));
    let hooks = Arc::new(Hooks::default());
    handle.gateway.set_desk(hooks.clone());
    let dir = crate::scratch(name);
    let engine = xiaoer::Engine::load(
        xiaoer::config::Config::defaults(),
        xiaoer::FileSource::Embedded,
    )
    .unwrap();
    let bot = xiaoer::live::start_bot(
        Arc::new(engine),
        &dir.join("s.db"),
        xiaoer::channel::ClientConfig {
            url: handle.bot_url(),
            token: "k".into(),
            shops: vec!["demo".into()],
            log_chars: 0,
            instance: None,
        },
    )
    .unwrap();
    let addr = handle.web_addr.unwrap().to_string();
    Desk {
        handle,
        addr,
        hooks,
        bot: Some(bot),
        dir,
    }
}

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

fn snapshot(gw: &Gateway) -> String {
    let convs: Vec<_> = gw
        .conversations()
        .iter()
        .map(|c| serde_json::to_string(&gw.conversation(&c.id).unwrap()).unwrap())
        .collect();
    format!("{convs:?} sent={}", gw.stats().sent)
}

/// A body that would succeed for the owner, so a refusal is about who asks.
fn body_for(path: &str, bot_reply: &str) -> String {
    let tail = path.rsplit('/').next().unwrap();
    match tail {
        "reply" | "note" => r#"{"text":"您好"}"#.into(),
        "close" => r#"{"outcome":"resolved"}"#.into(),
        "assign" => r#"{"to":"a-2"}"#.into(),
        "wrong" => format!(r#"{{"message":"{bot_reply}"}}"#),
        "catalog-faq" => r#"{"question":"可以手洗吗","answer":"可以的"}"#.into(),
        _ => "{}".into(),
    }
}

/// Every POST route on a conversation, as an agent who does not own it: 403
/// and nothing changes; the owner's own actions go through (a supervisor's
/// reassignment aside), and the supervisor's reassignment is shown in the
/// history and logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_acts_and_a_supervisor_reassigns() {
    let mut d = desk("desk-owner").await;
    let gw = d.gw().clone();
    gw.buyer_message("c-1", "b-1", "张三", "有货吗", None)
        .unwrap();
    until("the bot's answer", || {
        gw.conversation("c-1")
            .unwrap()
            .messages
            .unwrap()
            .iter()
            .any(|m| m.role == "bot")
    })
    .await;
    let bot_reply = gw
        .conversation("c-1")
        .unwrap()
        .messages
        .unwrap()
        .into_iter()
        .find(|m| m.role == "bot")
        .unwrap()
        .id;
    let (a1, a2, boss) = (
        login(&d.addr, "a-1").await,
        login(&d.addr, "a-2").await,
        login(&d.addr, "boss").await,
    );
    let (status, r) = http(
        &d.addr,
        "POST",
        "/api/conversations/c-1/takeover",
        &a1,
        "{}",
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let routes: Vec<_> = web::route_table()
        .into_iter()
        .filter(|r| r.access == Access::Agent && r.method == "POST" && r.path.contains("{id}"))
        .collect();
    for want in [
        "takeover", "reply", "release", "note", "close", "assign", "wrong",
    ] {
        assert!(
            routes.iter().any(|r| r.path.ends_with(want)),
            "{want} is a route: {routes:?}"
        );
    }
    let before = snapshot(&gw);
    let logged = d.hooks.0.lock().unwrap().len();
    for route in &routes {
        let path = route.path.replace("{id}", "c-1");
        let body = body_for(&path, &bot_reply);
        for (who, cookie) in [("a-2", &a2), ("boss", &boss)] {
            // The supervisor's extra rights: reassigning, and saving an
            // answer to the catalog (tests/savecat.rs).
            if who == "boss" && (path.ends_with("/assign") || path.ends_with("/catalog-faq")) {
                continue;
            }
            let (status, r) = http(&d.addr, "POST", &path, cookie, &body).await;
            assert_eq!(status, 403, "{who} {path}: {r}");
            assert_eq!(snapshot(&gw), before, "{who} {path} changed something");
        }
    }
    // The owner (not a supervisor) cannot reassign either.
    let (status, r) = http(
        &d.addr,
        "POST",
        "/api/conversations/c-1/assign",
        &a1,
        r#"{"to":"a-2"}"#,
    )
    .await;
    assert_eq!(status, 403, "{r}");
    assert_eq!(snapshot(&gw), before);
    assert_eq!(d.hooks.0.lock().unwrap().len(), logged, "nothing logged");

    // The owner works: a note, a reply, marking the bot's answer wrong.
    let rows: &[(&str, String, u16)] = &[
        ("note", r#"{"text":"买家是老客户"}"#.into(), 200),
        ("reply", r#"{"text":"您好，我是小一"}"#.into(), 200),
        ("wrong", format!(r#"{{"message":"{bot_reply}"}}"#), 200),
        ("wrong", format!(r#"{{"message":"{bot_reply}"}}"#), 409),
        ("wrong", r#"{"message":"m-404"}"#.into(), 404),
        ("close", r#"{"outcome":"won"}"#.into(), 400),
        ("note", r#"{"text":"  "}"#.into(), 400),
    ];
    for (action, body, want) in rows {
        let (status, r) = http(
            &d.addr,
            "POST",
            &format!("/api/conversations/c-1/{action}"),
            &a1,
            body,
        )
        .await;
        assert_eq!(status, *want, "{action} {body}: {r}");
    }

    // The supervisor gives it to a-2: shown in the history, logged, and the
    // ownership moves with it.
    let (status, r) = http(
        &d.addr,
        "POST",
        "/api/conversations/c-1/assign",
        &boss,
        r#"{"to":"a-2"}"#,
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(json(&r)["agent"], "a-2");
    let c = gw.conversation("c-1").unwrap();
    let msgs = c.messages.unwrap();
    let marker = msgs
        .iter()
        .find(|m| m.marker.as_deref() == Some("reassign"))
        .expect("a reassign marker");
    assert_eq!(marker.text, "老板: 小一 → 小二");
    let kinds: Vec<&str> = msgs.iter().filter_map(|m| m.marker.as_deref()).collect();
    assert_eq!(kinds, ["takeover", "wrong", "reassign"]);
    assert!(msgs
        .iter()
        .any(|m| m.role == "note" && m.text == "买家是老客户"));
    let log: Vec<(&str, String)> = d
        .hooks
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|r| (r.kind, r.agent.clone()))
        .collect();
    assert_eq!(
        log,
        [
            ("takeover", "a-1".to_string()),
            ("note", "a-1".into()),
            ("wrong", "a-1".into()),
            ("reassign", "boss".into())
        ]
    );
    assert_eq!(
        d.hooks.0.lock().unwrap()[3].detail.as_deref(),
        Some("a-1 -> a-2")
    );
    assert_eq!(
        d.hooks.0.lock().unwrap()[2].message_id.as_deref(),
        Some(
            bot_reply
                .trim_start_matches("r-")
                .rsplit_once('-')
                .unwrap()
                .0
        ),
        "the wrong answer is logged by the buyer message it answered"
    );
    let (status, r) = http(
        &d.addr,
        "POST",
        "/api/conversations/c-1/reply",
        &a1,
        r#"{"text":"还在吗"}"#,
    )
    .await;
    assert_eq!(status, 403, "a-1 no longer owns it: {r}");
    let (status, r) = http(
        &d.addr,
        "POST",
        "/api/conversations/c-1/reply",
        &a2,
        r#"{"text":"我是小二"}"#,
    )
    .await;
    assert_eq!(status, 200, "{r}");

    // Buyers see display names, never notes or markers.
    let v = gw.conversation("c-1").unwrap();
    let agent_names: Vec<String> = v
        .messages
        .unwrap()
        .iter()
        .filter(|m| m.role == "agent")
        .filter_map(|m| m.name.clone())
        .collect();
    assert_eq!(agent_names, ["小一", "小二"]);
    let (id, token) = gw.open_conversation().unwrap();
    gw.buyer_post(&id, &token, "李四", "我要投诉", None)
        .unwrap();
    gw.takeover(&id, "a-1").unwrap();
    gw.note(&id, "a-1", "内部：别提退款").unwrap();
    gw.agent_message(&id, "a-1", "您好").unwrap();
    let bv = gw.buyer_view(&id, &token).unwrap();
    assert_eq!(bv.agent.as_deref(), Some("小一"));
    assert!(bv
        .messages
        .iter()
        .all(|m| m.role != "note" && m.role != "event"));
    assert!(!serde_json::to_string(&bv).unwrap().contains("别提退款"));

    d.bot.take().unwrap().stop().await;
    d.handle.stop();
    let _ = std::fs::remove_dir_all(&d.dir);
}

/// Close with an outcome, find chats by text, buyer and id, filter them,
/// the buyer's context, the draft, quick replies, the reload problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_search_filters_context_and_health() {
    let mut d = desk("desk-find").await;
    let gw = d.gw().clone();
    let item = xiaoer::channel::frame::Item {
        id: Some("i-2".into()),
        title: Some("加绒连帽卫衣".into()),
        ..Default::default()
    };
    gw.buyer_message("c-1", "b-1", "张三", "有货吗", Some(item))
        .unwrap();
    gw.buyer_message("c-2", "b-1", "张三", "东西是坏的,我要投诉!", None)
        .unwrap();
    gw.buyer_message("c-3", "b-2", "王五", "今天天气真好啊哈哈哈", None)
        .unwrap();
    until("two escalations", || {
        gw.conversations()
            .iter()
            .filter(|c| c.status == "escalated")
            .count()
            == 2
    })
    .await;
    let a1 = login(&d.addr, "a-1").await;
    http(
        &d.addr,
        "POST",
        "/api/conversations/c-2/takeover",
        &a1,
        "{}",
    )
    .await;
    let ids = |r: &str| -> Vec<String> {
        let mut v: Vec<String> = json(r)["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let rows: &[(&str, &[&str])] = &[
        ("", &["c-1", "c-2", "c-3"]),
        ("q=%E6%8A%95%E8%AF%89", &["c-2"]), // 投诉: text
        ("q=%E7%8E%8B%E4%BA%94", &["c-3"]), // 王五: buyer name
        ("q=C-1", &["c-1"]),                // id, any case
        ("filter=mine", &["c-2"]),
        ("filter=unassigned", &["c-3"]),
        ("filter=high", &["c-2"]),
        ("filter=closed", &[]),
    ];
    for (query, want) in rows {
        let (status, r) = http(
            &d.addr,
            "GET",
            &format!("/api/conversations?{query}"),
            &a1,
            "",
        )
        .await;
        assert_eq!(status, 200, "{query}: {r}");
        assert_eq!(ids(&r), *want, "{query}");
    }
    for bad in ["filter=all-of-them", &format!("q={}", "x".repeat(101))] {
        let (status, _) = http(
            &d.addr,
            "GET",
            &format!("/api/conversations?{bad}"),
            &a1,
            "",
        )
        .await;
        assert_eq!(status, 400, "{bad}");
    }

    // Closed with an outcome: the bot has it again, the closed filter lists
    // it, and the buyer writing again opens it.
    let (status, r) = http(
        &d.addr,
        "POST",
        "/api/conversations/c-2/close",
        &a1,
        r#"{"outcome":"refund"}"#,
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(json(&r)["status"], "bot");
    assert_eq!(json(&r)["closed"]["outcome"], "refund");
    let (_, r) = http(&d.addr, "GET", "/api/conversations?filter=closed", &a1, "").await;
    assert_eq!(ids(&r), ["c-2"]);
    let closes = gw.conversation("c-2").unwrap().messages.unwrap();
    assert!(closes
        .iter()
        .any(|m| m.marker.as_deref() == Some("close") && m.text == "refund"));
    gw.buyer_message("c-2", "b-1", "张三", "还有一个问题", None)
        .unwrap();
    assert!(gw.conversation("c-2").unwrap().closed.is_none());

    // Context: the item, and the same buyer's other chat.
    let (status, r) = http(&d.addr, "GET", "/api/conversations/c-1/context", &a1, "").await;
    assert_eq!(status, 200, "{r}");
    let v = json(&r);
    assert_eq!(v["item"]["title"], "加绒连帽卫衣");
    let earlier: Vec<&str> = v["earlier"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(earlier, ["c-2"]);
    // The draft of the bot's best answer, and the quick replies.
    let (_, r) = http(&d.addr, "GET", "/api/conversations/c-1/draft", &a1, "").await;
    assert_eq!(json(&r)["text"], "亲，有货的哦");
    let (_, r) = http(&d.addr, "GET", "/api/conversations/c-3/draft", &a1, "").await;
    assert!(json(&r)["text"].is_null(), "{r}");
    let (_, r) = http(&d.addr, "GET", "/api/quick-replies", &a1, "").await;
    assert_eq!(json(&r)["replies"][0]["key"], "wait");
    // Who am I, and the team.
    let (_, r) = http(&d.addr, "GET", "/api/me", &a1, "").await;
    let me = json(&r);
    assert_eq!(
        (me["agent"]["name"].as_str(), me["agent"]["role"].as_str()),
        (Some("小一"), Some("agent"))
    );
    assert_eq!(me["team"].as_array().unwrap().len(), 3);
    // With passwords, the login page lists nobody.
    let (_, r) = http(&d.addr, "GET", "/api/login/agents", "", "").await;
    assert_eq!(json(&r)["agents"].as_array().unwrap().len(), 0);

    // Operator health: a failed reload shows until a good one.
    gw.set_reload_problem(Some(
        "replies/_agent.toml:3: [x] title: 1 to 40 characters".into(),
    ));
    let (_, r) = http(&d.addr, "GET", "/api/conversations", &a1, "").await;
    assert!(json(&r)["reload_problem"]
        .as_str()
        .unwrap()
        .contains("_agent.toml:3"));
    gw.set_reload_problem(None);
    let (_, r) = http(&d.addr, "GET", "/api/conversations", &a1, "").await;
    assert!(json(&r)["reload_problem"].is_null());

    d.bot.take().unwrap().stop().await;
    d.handle.stop();
    let _ = std::fs::remove_dir_all(&d.dir);
}

/// A loopback console without passwords: the first agent without a login,
/// another picked on the login page (no password); unknown ids refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_console_picks_agents_without_passwords() {
    let handle = xiaoer::live::start_gateway(
        GatewayConfig {
            name: "t".into(),
            token: "k".into(),
            shop: "s".into(),
            items: vec![],
        },
        "127.0.0.1:0",
        Some("127.0.0.1:0"),
    )
    .await
    .unwrap();
    let team = xiaoer::config::Config::defaults().team();
    assert!(
        team.iter().all(|m| m.hash.is_none()),
        "the demo team has no passwords"
    );
    handle
        .gateway
        .set_auth(Arc::new(Auth::for_team(team, Duration::from_secs(600))));
    let addr = handle.web_addr.unwrap().to_string();
    let (_, r) = http(&addr, "GET", "/api/me", "", "").await;
    assert_eq!(json(&r)["agent"]["id"], "xiaomei");
    let (_, r) = http(&addr, "GET", "/api/login/agents", "", "").await;
    let v = json(&r);
    let listed: Vec<&str> = v["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["小美", "老王"]);
    let (status, _) = http(
        &addr,
        "POST",
        "/api/login",
        "",
        r#"{"agent":"nobody","password":""}"#,
    )
    .await;
    assert_eq!(status, 401);
    let (status, r) = http(
        &addr,
        "POST",
        "/api/login",
        "",
        r#"{"agent":"laowang","password":""}"#,
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let cookie = r
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .unwrap();
    let cookie = format!("Cookie: {}\r\n", cookie.split(';').next().unwrap());
    let (_, r) = http(&addr, "GET", "/api/me", &cookie, "").await;
    assert_eq!(json(&r)["agent"]["role"], "supervisor");
    handle.stop();
}

/// `[[console.team]]` and `replies/_agent.toml` are checked on load, with the
/// line to fix.
#[test]
fn team_and_quick_replies_are_checked_on_load() {
    let dir = crate::scratch("desk-config");
    let h = auth::hash_password("pw");
    let team =
        |body: &str| format!("[console]\nsession_minutes = 60\n\n[[console.team]]\n{body}\n");
    let rows: &[(&str, String, Option<&str>)] = &[
        (
            "ok",
            team("id = \"a-1\"\nname = \"小一\"\nrole = \"supervisor\""),
            None,
        ),
        (
            "with password",
            team(&format!(
                "id = \"a-1\"\nname = \"小一\"\npassword = \"{h}\""
            )),
            None,
        ),
        (
            "bad role",
            team("id = \"a-1\"\nname = \"小一\"\nrole = \"boss\""),
            Some("x.toml:4: [[console.team]] #1 (id = \"a-1\"): role = \"boss\" must be"),
        ),
        (
            "bad id",
            team("id = \"小一\"\nname = \"小一\""),
            Some("x.toml:4: [[console.team]] #1"),
        ),
        (
            "no name",
            team("id = \"a-1\"\nname = \" \""),
            Some("name = \" \" must be 1 to 32"),
        ),
        (
            "plain password",
            team("id = \"a-1\"\nname = \"小一\"\npassword = \"secret\""),
            Some("not a password hash"),
        ),
        (
            "unknown key",
            team("id = \"a-1\"\nname = \"小一\"\nrank = 1"),
            Some("rank"),
        ),
        (
            "twice",
            format!(
                "{}\n[[console.team]]\nid = \"a-1\"\nname = \"又一\"\n",
                team("id = \"a-1\"\nname = \"小一\"")
            ),
            Some("x.toml:8: [[console.team]] #2 (id = \"a-1\"): this id is listed twice"),
        ),
    ];
    for (what, text, err) in rows {
        let f = dir.join("x.toml");
        std::fs::write(&f, text).unwrap();
        match (err, xiaoer::config::Config::load(Some(&f))) {
            (None, Ok(c)) => assert_eq!(c.team().len(), 1, "{what}"),
            (Some(want), Err(e)) => {
                let m = e.to_string();
                assert!(m.contains(want), "{what}: {m}");
            }
            (want, got) => panic!("{what}: wanted error {want:?}, got {got:?}"),
        }
    }

    // Quick replies: the shipped file loads; mistakes name file and line.
    let engine = crate::engine();
    assert!(
        engine.replies.quick().len() >= 5,
        "the shipped quick replies"
    );
    assert!(
        engine
            .replies
            .quick()
            .iter()
            .all(|(_, _, t)| !t.contains('{')),
        "variables rendered"
    );
    let rows: &[(&str, &str)] = &[
        ("[wait]\ntitle = \"稍等\"\n", "missing field `text`"),
        (
            "[wait]\ntitle = \"\"\ntext = \"亲\"\n",
            "_agent.toml:2: [wait] title",
        ),
        (
            "[wait]\ntitle = \"稍等\"\ntext = \"亲 {nope}\"\n",
            "_agent.toml:3: {nope} is not a configuration key",
        ),
        (
            "[\"bad key\"]\ntitle = \"稍等\"\ntext = \"亲\"\n",
            "a quick reply's name",
        ),
        (
            "[wait]\ntitle = \"稍等\"\ntext = \"亲\"\nemoji = 1\n",
            "emoji",
        ),
    ];
    for (text, want) in rows {
        let files = crate::scratch("desk-quick");
        crate::copy_files(&files);
        std::fs::write(files.join("replies/_agent.toml"), text).unwrap();
        let e = xiaoer::Engine::load(
            xiaoer::config::Config::defaults(),
            xiaoer::FileSource::Dirs(&files.join("intents"), &files.join("replies")),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(want), "{text}: {e}");
    }
}

/// `xiaoer demo` on a copy of the files: a broken `replies/_agent.toml`
/// shows in the console's list (file and line) until it is fixed, and the
/// quick replies in force stay the previous ones meanwhile.
#[test]
fn a_failed_reload_shows_in_the_console_with_its_line() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = crate::scratch("desk-reload");
    crate::copy_files(&dir);
    let mut demo = crate::xiaoer(&[
        "demo",
        "--port",
        "0",
        "--state",
        dir.join("s.db").to_str().unwrap(),
    ])
    .current_dir(&dir)
    .env("XIAOER_LOG", "warn")
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let demo = Kill(demo);
    let mut addr = None;
    let mut works_as = String::new();
    for l in lines.by_ref().map_while(Result::ok).take(20) {
        if let Some(u) = l.trim().strip_prefix("buyer page:") {
            addr = Some(
                u.trim()
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_string(),
            );
        }
        if l.contains("works as") {
            works_as = l;
            break;
        }
    }
    assert!(works_as.contains("小美 (xiaomei)"), "{works_as:?}");
    let addr = addr.expect("the demo printed its address");
    let get = |path: &str| -> serde_json::Value {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut r = String::new();
        s.read_to_string(&mut r).unwrap();
        json(&r)
    };
    let wait_for = |what: &str, f: &dyn Fn(&serde_json::Value) -> bool| {
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            let v = get("/api/conversations");
            if f(&v) {
                return v;
            }
            assert!(Instant::now() < end, "timed out waiting for {what}: {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for("the bot", &|v| v["bot_connected"] == true);
    assert!(get("/api/conversations")["reload_problem"].is_null());
    let file = dir.join("replies/_agent.toml");
    let good = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, "[wait]\ntitle = \"稍等\"\ntext = \"\"\n").unwrap();
    let v = wait_for("the reload problem", &|v| v["reload_problem"].is_string());
    let problem = v["reload_problem"].as_str().unwrap();
    assert!(problem.contains("_agent.toml:3"), "{problem}");
    let quick = get("/api/quick-replies");
    assert!(
        quick["replies"].as_array().unwrap().len() >= 5,
        "the previous ones stay: {quick}"
    );
    std::fs::write(&file, good).unwrap();
    wait_for("the problem to clear", &|v| v["reload_problem"].is_null());
    drop(demo);
    let _ = std::fs::remove_dir_all(&dir);
}
