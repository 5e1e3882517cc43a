//! Messages the bot starts (protocol 1.1) end to end over real websockets:
//! the embedded gateway sends `order` events and answers `send` with `sent`;
//! the bot runs in process on a clock the test moves (so no test waits for
//! minutes), with a real SQLite file. The crash test runs the `xiaoer run`
//! binary against a bare websocket server and kills it with SIGKILL.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::WebSocketStream;
use xiaoer::channel::frame::{OrderItem, OrderStatus};
use xiaoer::channel::ClientConfig;
use xiaoer::gateway::{Gateway, GatewayConfig};
use xiaoer::live::{start_bot_with_clock, start_gateway, BotHandle, GatewayHandle};
use xiaoer::proactive::rules::{Rules, HOUR_MS, MINUTE_MS};
use xiaoer::proactive::ManualClock;
use xiaoer::store::Store;

const TOKEN: &str = "proactive-token";
/// 2026-11-22T02:00:00Z: 10:00 in Beijing (the default shop time zone).
const MORNING: i64 = 1_795_312_800_000;

struct Rig {
    gw: Gateway,
    _g: GatewayHandle,
    bot: Option<BotHandle>,
    clock: Arc<ManualClock>,
    state: std::path::PathBuf,
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(b) = self.bot.take() {
            // Stop in the background; the runtime ends with the test.
            tokio::spawn(b.stop());
        }
    }
}

async fn until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

/// A gateway (with `features`) and a bot on a manual clock at `start`, with
/// the default rules changed by `adjust`.
/// One engine for every test here (loading one is seconds of CPU in a debug
/// build; the tests run beside many others): the built-in files and
/// configuration, without typing delays.
fn engine() -> Arc<xiaoer::Engine> {
    static E: std::sync::LazyLock<Arc<xiaoer::Engine>> = std::sync::LazyLock::new(|| {
        let mut config = xiaoer::config::Config::defaults();
        config.timing.enabled = false;
        Arc::new(
            xiaoer::Engine::load(config, xiaoer::FileSource::Embedded)
                .expect("built-in files load"),
        )
    });
    E.clone()
}

async fn rig(
    name: &str,
    start: i64,
    features: &[&str],
    adjust: impl Fn(&mut Rules) + Send + Sync + 'static,
) -> Rig {
    let dir = crate::scratch(name);
    let g = start_gateway(
        GatewayConfig {
            name: "proactive-gateway".into(),
            token: TOKEN.into(),
            shop: "测试小店".into(),
            items: vec![("i-1".into(), "白色雪纺连衣裙".into())],
        },
        "127.0.0.1:0",
        None,
    )
    .await
    .expect("gateway starts");
    g.gateway.set_features(features);
    let clock = ManualClock::new(start);
    let state = dir.join("s.db");
    let bot = start_bot_with_clock(
        engine(),
        &state,
        ClientConfig {
            url: g.bot_url(),
            token: TOKEN.into(),
            shops: vec!["demo".into()],
            log_chars: 0,
            instance: None,
        },
        Some(clock.clone()),
    )
    .expect("bot starts");
    // The test's rules, before any order arrives (the gateway sends none yet).
    bot.bot.set_rules_adjust(adjust);
    let gw = g.gateway.clone();
    assert!(until(crate::CONNECT_WAIT, || gw.bot_connected()).await);
    Rig {
        gw,
        _g: g,
        bot: Some(bot),
        clock,
        state,
    }
}

impl Rig {
    fn order(&self, conv: &str, order: &str, status: OrderStatus) {
        let shipping = (status >= OrderStatus::Shipped).then_some(("中通快递", "ZT0001"));
        self.gw
            .order_event(
                conv,
                &format!("b-{conv}"),
                order,
                status,
                vec![OrderItem {
                    id: Some("i-9".into()),
                    title: Some("白色雪纺连衣裙".into()),
                    options: None,
                    qty: Some(1),
                    price: Some(129.0),
                }],
                Some(129.0),
                Some("浙江省杭州市西湖区文三路 1 号"),
                shipping,
                self.clock.now(),
            )
            .unwrap();
    }

    /// Every event and message acknowledged.
    async fn settled(&self) {
        let gw = self.gw.clone();
        assert!(
            until(Duration::from_secs(10), || gw.stats().unacked == 0).await,
            "{:?}",
            self.gw.stats()
        );
    }

    /// The proactive messages the buyer of `conv` got, as `kind` names.
    fn sends(&self, conv: &str) -> Vec<String> {
        self.gw
            .conversation(conv)
            .map(|c| {
                c.messages
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|m| m.role == "bot" && m.id.starts_with("s-"))
                    .map(|m| m.id.rsplit('/').next().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn texts(&self, conv: &str) -> Vec<String> {
        self.gw
            .conversation(conv)
            .map(|c| {
                c.messages
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|m| m.role == "bot" && m.id.starts_with("s-"))
                    .map(|m| m.text)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Moves the clock, then gives the scheduler time to act (several ticks).
    async fn advance(&self, ms: i64) {
        self.clock.advance(ms);
        tokio::time::sleep(Duration::from_millis(800)).await;
    }

    async fn expect_sends(&self, conv: &str, want: &[&str]) {
        let ok = until(Duration::from_secs(8), || self.sends(conv) == want).await;
        assert!(ok, "{conv}: {:?}, wanted {want:?}", self.sends(conv));
    }

    /// State and reason of every stored proactive message of `conv`.
    fn stored(&self, conv: &str) -> Vec<(String, String, Option<String>)> {
        let s = Store::open_read_only(&self.state).unwrap();
        s.as_sqlite()
            .unwrap()
            .conversation_proactive(conv, 100)
            .unwrap()
            .into_iter()
            .map(|r| (r.kind, r.state, r.reason))
            .collect()
    }
}

trait Now {
    fn now(&self) -> i64;
}
impl Now for ManualClock {
    fn now(&self) -> i64 {
        xiaoer::proactive::Clock::now_ms(self)
    }
}

/// The reminder comes once, after the delay and not before; an order check
/// on payment; a shipped note with the courier and tracking number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_gets_its_reminder_check_and_shipped_note_once_each() {
    let r = rig("pro-remind", MORNING, &["orders"], |_| {}).await;
    r.order("c-1", "o-1", OrderStatus::Created);
    r.settled().await;
    r.advance(29 * MINUTE_MS).await;
    assert!(r.sends("c-1").is_empty(), "not before 30 minutes");
    r.advance(2 * MINUTE_MS).await;
    r.expect_sends("c-1", &["payment_reminder"]).await;
    let text = &r.texts("c-1")[0];
    assert!(
        text.contains("白色雪纺连衣裙") && text.contains("16:00"),
        "{text}"
    );
    r.advance(HOUR_MS).await;
    r.order("c-1", "o-1", OrderStatus::Paid);
    r.expect_sends("c-1", &["payment_reminder", "order_check"])
        .await;
    assert!(
        r.texts("c-1")[1].contains("文三路"),
        "the order check shows the address"
    );
    r.order("c-1", "o-1", OrderStatus::Shipped);
    r.advance(MINUTE_MS).await;
    // The third message of the day waits: the cap is 2 per buyer per day.
    assert_eq!(r.sends("c-1").len(), 2);
    r.advance(23 * HOUR_MS).await; // 10:32 the next day
    r.expect_sends(
        "c-1",
        &["payment_reminder", "order_check", "shipped_notice"],
    )
    .await;
    let shipped = &r.texts("c-1")[2];
    assert!(
        shipped.contains("中通快递") && shipped.contains("ZT0001"),
        "{shipped}"
    );
    let s = r.gw.stats();
    assert_eq!((s.sends, s.bad_frames), (3, 0), "{s:?}");
}

/// Table: what happens to an order before its reminder is due, and whether
/// the buyer gets a reminder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_reminder_when_paid_closed_taken_over_or_after_a_complaint() {
    let r = rig("pro-table", MORNING, &["orders"], |r| {
        r.order_check = false;
        r.max_per_buyer_per_day = 5;
    })
    .await;
    // (conversation, what happens before the reminder is due, reason stored)
    let rows: &[(&str, &str, Option<&str>)] = &[
        ("c-plain", "nothing", None),
        ("c-paid", "paid", Some("paid")),
        ("c-closed", "closed", Some("closed")),
        ("c-taken", "takeover", Some("agent")),
        ("c-waiting", "escalated", Some("agent")),
        ("c-complaint", "complaint", Some("complaint")),
    ];
    for (conv, what, _) in rows {
        r.order(conv, &format!("o-{conv}"), OrderStatus::Created);
        match *what {
            "paid" => r.order(conv, &format!("o-{conv}"), OrderStatus::Paid),
            "closed" => r.order(conv, &format!("o-{conv}"), OrderStatus::Closed),
            "takeover" => {
                r.gw.buyer_message(conv, &format!("b-{conv}"), "", "在吗", None)
                    .unwrap();
                r.settled().await;
                r.gw.takeover(conv, "a-1").unwrap();
            }
            "escalated" => {
                r.gw.buyer_message(conv, &format!("b-{conv}"), "", "转人工", None)
                    .unwrap();
            }
            "complaint" => {
                r.gw.buyer_message(
                    conv,
                    &format!("b-{conv}"),
                    "",
                    "我要投诉你们，质量太差了",
                    None,
                )
                .unwrap();
                r.settled().await;
                // The agent settles it and hands the chat back: still no 催付 this week.
                r.gw.takeover(conv, "a-1").unwrap();
                r.gw.release(conv, "a-1").unwrap();
            }
            _ => {}
        }
    }
    r.settled().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    r.advance(31 * MINUTE_MS).await;
    r.expect_sends("c-plain", &["payment_reminder"]).await;
    for (conv, what, reason) in rows {
        let want: &[&str] = if reason.is_none() {
            &["payment_reminder"]
        } else {
            &[]
        };
        assert_eq!(r.sends(conv), want, "{conv} ({what})");
        let stored = r.stored(conv);
        assert_eq!(stored.len(), 1, "{conv}: {stored:?}");
        if let Some(why) = reason {
            assert_eq!(stored[0].1, "cancelled", "{conv}");
            assert_eq!(stored[0].2.as_deref(), Some(*why), "{conv}");
        } else {
            assert_eq!(stored[0].1, "sent", "{conv}: the gateway answered `sent`");
        }
    }
}

/// Repeated and late events: the same event id twice changes nothing; a
/// late `created` after `paid` brings no reminder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_and_out_of_order_events_change_nothing() {
    let r = rig("pro-dup", MORNING, &["orders"], |_| {}).await;
    r.order("c-1", "o-1", OrderStatus::Paid);
    r.order("c-1", "o-1", OrderStatus::Created);
    r.expect_sends("c-1", &["order_check"]).await;
    // The same `created` event twice, raw (as a gateway redelivers it).
    let frame =
        json!({"type":"order","id":"e-dup","order":"o-2","conversation":"c-2","buyer":{"id":"b-2"},
        "status":"created","ts":xiaoer::gateway::rfc3339(r.clock.now()),
        "items":[{"title":"白色雪纺连衣裙","qty":1,"price":129.0}],"total":129.0})
        .to_string();
    r.gw.buyer_message("c-2", "b-2", "", "在吗", None).unwrap();
    r.settled().await;
    assert!(r.gw.send_raw(&frame));
    assert!(r.gw.send_raw(&frame));
    let gw = r.gw.clone();
    assert!(
        until(Duration::from_secs(5), || gw.stats().reacked >= 2).await,
        "both copies acknowledged"
    );
    r.advance(31 * MINUTE_MS).await;
    r.expect_sends("c-1", &["order_check"]).await;
    r.expect_sends("c-2", &["payment_reminder"]).await;
    // c-2's buyer chatted before ordering: the other script
    // ([payment_reminder_chatted] of replies/_proactive.toml).
    let t = &r.texts("c-2")[0];
    assert!(
        ["聊得", "记下", "信任"].iter().any(|w| t.contains(w)),
        "{t}"
    );
    let stored = r.stored("c-2");
    assert_eq!(stored.len(), 1, "{stored:?}");
    let o = Store::open_read_only(&r.state)
        .unwrap()
        .as_sqlite()
        .unwrap()
        .order("o-1")
        .unwrap()
        .unwrap();
    assert_eq!((o.status.as_str(), o.created_ms.is_some()), ("paid", true));
}

/// Working hours in shop time: an order at 21:50 (Beijing) gets its reminder
/// at 09:00 the next morning, not at 22:20; an order older than a day none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_working_hours_the_reminder_waits_for_the_opening() {
    let evening = MORNING + 11 * HOUR_MS + 50 * MINUTE_MS; // 21:50
    let r = rig("pro-hours", evening, &["orders"], |_| {}).await;
    r.order("c-1", "o-1", OrderStatus::Created);
    r.settled().await;
    r.advance(31 * MINUTE_MS).await; // 22:21
    r.advance(9 * HOUR_MS).await; // 07:21
    assert!(r.sends("c-1").is_empty(), "nothing in the night");
    assert_eq!(r.stored("c-1")[0].2.as_deref(), Some("closed_hours"));
    r.advance(HOUR_MS + 40 * MINUTE_MS).await; // 09:01
    r.expect_sends("c-1", &["payment_reminder"]).await;
    // An order whose reminder would fall more than a day after it was placed.
    r.order("c-2", "o-2", OrderStatus::Created);
    r.settled().await;
    r.clock.advance(25 * HOUR_MS);
    r.advance(0).await;
    assert!(r.sends("c-2").is_empty());
    assert_eq!(r.stored("c-2")[0].2.as_deref(), Some("too_old"));
}

/// At most `max_per_buyer_per_day` per buyer per shop day: the third order
/// check waits for the next day's opening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_cap_holds_the_third_message_until_the_next_day() {
    let r = rig("pro-cap", MORNING, &["orders"], |_| {}).await;
    for o in ["o-1", "o-2", "o-3"] {
        r.order("c-1", o, OrderStatus::Paid);
    }
    r.expect_sends("c-1", &["order_check", "order_check"]).await;
    r.advance(HOUR_MS).await;
    assert_eq!(r.sends("c-1").len(), 2);
    let waiting: Vec<_> = r
        .stored("c-1")
        .into_iter()
        .filter(|s| s.1 == "due")
        .collect();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].2.as_deref(), Some("daily_cap"));
    r.advance(23 * HOUR_MS).await; // 10:00 next day
    r.expect_sends("c-1", &["order_check", "order_check", "order_check"])
        .await;
}

/// A gateway without the `orders` feature gets no `send` frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_without_orders_gets_no_sends() {
    let r = rig("pro-nofeature", MORNING, &[], |_| {}).await;
    assert!(r
        .gw
        .order_event(
            "c-1",
            "b-1",
            "o-1",
            OrderStatus::Created,
            vec![],
            None,
            None,
            None,
            MORNING
        )
        .is_err());
    // A gateway that sends an order anyway: stored and acknowledged, no send.
    let frame =
        json!({"type":"order","id":"e-1","order":"o-1","conversation":"c-1","status":"paid",
        "items":[{"title":"白色雪纺连衣裙"}],"address":"杭州"})
        .to_string();
    r.gw.buyer_message("c-1", "b-1", "", "在吗", None).unwrap();
    r.settled().await;
    assert!(r.gw.send_raw(&frame));
    let gw = r.gw.clone();
    assert!(until(Duration::from_secs(5), || gw.stats().reacked >= 1).await);
    r.advance(HOUR_MS).await;
    assert!(r.sends("c-1").is_empty());
    let stored = r.stored("c-1");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1, "due", "waits for a gateway that takes sends");
}

// ---- the crash test: the real binary, a bare websocket server ----

struct Raw {
    listener: TcpListener,
}

impl Raw {
    async fn new() -> Raw {
        Raw {
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
        let hello = next(&mut ws, Duration::from_secs(10)).await.expect("hello");
        assert_eq!(hello["type"], "hello");
        ws.send(Ws::text(
            json!({"type":"welcome","gateway":"raw","version":1,"features":["orders"]}).to_string(),
        ))
        .await
        .unwrap();
        ws
    }
}

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

/// The next frame of `kind`, skipping others.
async fn next_of(
    ws: &mut WebSocketStream<TcpStream>,
    kind: &str,
    within: Duration,
) -> Option<Value> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let f = next(ws, deadline - Instant::now()).await?;
        if f["type"] == kind {
            return Some(f);
        }
    }
    None
}

fn bot(url: &str, state: &Path, log: &Path) -> std::process::Child {
    crate::xiaoer(&[
        "run",
        "--url",
        url,
        "--token",
        "x",
        "--state",
        state.to_str().unwrap(),
    ])
    .env("XIAOER_LOG", "info")
    .env("NO_COLOR", "1")
    .env("XIAOER_TIMING__ENABLED", "false")
    .env("XIAOER_PROACTIVE__PAYMENT_REMINDER_AFTER", "1s")
    .env("XIAOER_PROACTIVE__WORKING_HOURS", "00:00-24:00")
    .stdout(std::process::Stdio::null())
    .stderr(std::fs::File::create(log).unwrap())
    .spawn()
    .expect("xiaoer run starts")
}

/// SIGKILL after the reminder was stored and sent, before the gateway
/// answered `sent`: the restarted bot sends the same `send` (same id, same
/// text) until `sent` comes, then never again: the buyer sees it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_storing_a_send_and_sent_sends_it_exactly_once() {
    let dir = crate::scratch("pro-kill");
    let state = dir.join("s.db");
    let server = Raw::new().await;
    let mut first = bot(&server.url(), &state, &dir.join("bot1.log"));
    let mut ws = server.accept().await;
    let order = json!({"type":"order","id":"e-1","order":"o-9","conversation":"c-9","buyer":{"id":"b-9"},
        "status":"created","ts":xiaoer::gateway::rfc3339(xiaoer::store::now_ms()),
        "items":[{"title":"真皮短靴","qty":1,"price":299.0}],"total":299.0,"address":"杭州"});
    ws.send(Ws::text(order.to_string())).await.unwrap();
    let ack = next_of(&mut ws, "ack", Duration::from_secs(10))
        .await
        .expect("ack");
    assert_eq!(ack["id"], "e-1");
    let send = next_of(&mut ws, "send", Duration::from_secs(10))
        .await
        .expect("the reminder");
    assert_eq!(send["id"], "o-9/payment_reminder");
    assert_eq!(send["kind"], "payment_reminder");
    assert_eq!(send["order"], "o-9");
    assert!(
        send["text"].as_str().unwrap().contains("真皮短靴"),
        "{send}"
    );
    // Killed before `sent`.
    let _ = first.kill();
    let _ = first.wait();
    drop(ws);

    let mut second = bot(&server.url(), &state, &dir.join("bot2.log"));
    let mut ws = server.accept().await;
    let again = next_of(&mut ws, "send", Duration::from_secs(10))
        .await
        .expect("sent again after the restart");
    assert_eq!(again, send, "the same send: same id, same text");
    ws.send(Ws::text(
        json!({"type":"sent","id":"o-9/payment_reminder"}).to_string(),
    ))
    .await
    .unwrap();
    let stored = until(Duration::from_secs(10), || {
        Store::open_read_only(&state)
            .ok()
            .and_then(|s| s.as_sqlite()?.conversation_proactive("c-9", 10).ok())
            .is_some_and(|rows| rows.len() == 1 && rows[0].state == "sent")
    })
    .await;
    assert!(stored, "`sent` stored");
    // Never sent again after `sent` (a resend would come within 10 s).
    assert!(next_of(&mut ws, "send", Duration::from_secs(11))
        .await
        .is_none());
    let _ = second.kill();
    let _ = second.wait();
}
