//! The embedded gateway: the server side of the protocol, for `xiaoer demo`,
//! the tests and the load tool. It keeps conversations in memory, checks the
//! bot's token, redelivers every unacknowledged message after a reconnect,
//! and records what the bot decided beside each buyer message for the agent
//! console ([`web`]).

pub mod auth;
pub mod desk;
pub mod web;

use crate::channel::frame::{
    self, FromBot, Item, Message, OrderBuyer, OrderEvent, OrderItem, OrderStatus, Parsed, Role,
    Sender, ToBot,
};
use crate::channel::ws_config;
use crate::store::now_ms;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, Notify};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::{http, Message as WsMessage};

/// Longest buyer or agent message the gateway takes from the web app: the
/// NLU's one input budget.
pub const MAX_TEXT_CHARS: usize = crate::nlu::MAX_INPUT_CHARS;

/// What the web app and tests may get wrong.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GatewayError {
    /// No such conversation.
    #[error("no conversation {0:?}")]
    NotFound(String),
    /// A field is empty, too long or badly formed.
    #[error("{0}")]
    Invalid(String),
    /// The action does not fit the conversation's state.
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this here (another agent's conversation, a
    /// missing or wrong conversation token).
    #[error("{0}")]
    Forbidden(String),
    /// A stated limit is reached (conversations, messages, bytes).
    #[error("{0}")]
    Limit(String),
}

/// Conversations the gateway keeps in memory; past it new ones are refused
/// (existing ones go on).
pub const MAX_CONVERSATIONS: usize = 10_000;
/// Buyer and agent messages one conversation takes; past it posts are
/// refused (the bot's replies to accepted messages are still recorded).
pub const MAX_MESSAGES_PER_CONVERSATION: usize = 200;
/// Bytes of buyer and agent text one conversation takes (same policy).
pub const MAX_CONVERSATION_BYTES: usize = 64 * 1024;
/// Live events buffered per listener; a listener that falls further behind
/// is told to fetch everything again (`kind: "resync"`).
pub const EVENT_QUEUE: usize = 1024;
/// Orders one conversation takes; past it new ones are refused.
pub const MAX_ORDERS_PER_CONVERSATION: usize = 20;
/// Latency samples kept between two `take_latencies` calls; later ones are
/// dropped (the load tool takes them every second).
pub const MAX_LATENCY_SAMPLES: usize = 100_000;

/// One live update: what changed, never the content (pages fetch that with
/// their own rights).
#[derive(Debug, Clone, Serialize)]
pub struct LiveEvent {
    /// The conversation, or none for gateway-wide news (bot up or down).
    pub conversation: Option<String>,
    /// message, status, bot or resync.
    pub kind: &'static str,
}

/// Settings of the embedded gateway.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Name sent in `welcome`.
    pub name: String,
    /// The bearer token the bot must present.
    pub token: String,
    /// The shop's display name.
    pub shop: String,
    /// Products the buyer page offers: (id, title).
    pub items: Vec<(String, String)>,
}

/// What the bot decided about a buyer message, as the console shows it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DecisionView {
    /// reply or escalate.
    pub action: String,
    /// Intent ids.
    pub intents: Vec<String>,
    /// Confidence, when the bot gave one.
    pub confidence: Option<f32>,
    /// Escalation reason.
    pub reason: Option<String>,
    /// Escalation priority.
    pub priority: Option<String>,
}

/// One message of a conversation, as the web app shows it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct MsgView {
    /// Message id (bot replies get `r-…`).
    pub id: String,
    /// buyer, bot, agent or system.
    pub role: String,
    /// Sender's name.
    pub name: Option<String>,
    /// The text (the web app escapes it).
    pub text: String,
    /// When, in ms since the epoch.
    pub ts_ms: i64,
    /// Buyer messages: acknowledged by the bot.
    pub acked: Option<bool>,
    /// Buyer messages: the bot's decision.
    pub decision: Option<DecisionView>,
    /// Bot replies: the buyer message answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    /// Bot replies: marked wrong by this agent (display name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrong: Option<String>,
    /// Role `event`: takeover, release, reassign, close or wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// An open escalation.
#[derive(Debug, Clone, Serialize)]
pub struct EscalationView {
    /// Intent id or policy name.
    pub reason: String,
    /// high or normal.
    pub priority: String,
    /// One line for the agent.
    pub summary: String,
    /// When it was opened, ms since the epoch.
    pub since_ms: i64,
}

/// The buyer of a conversation.
#[derive(Debug, Clone, Serialize)]
pub struct BuyerView {
    /// Buyer id.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// The last message, for lists.
#[derive(Debug, Clone, Serialize)]
pub struct LastView {
    /// Who wrote it.
    pub role: String,
    /// The text.
    pub text: String,
    /// When.
    pub ts_ms: i64,
}

/// What the bot sent about an order (protocol 1.1 `send`), for the console.
#[derive(Debug, Clone, Serialize)]
pub struct SentView {
    /// The reason (`payment_reminder`, `order_check`, …).
    pub kind: String,
    /// The text the buyer got.
    pub text: String,
    /// When it reached the buyer, ms since the epoch.
    pub ts_ms: i64,
}

/// An order with what the bot sent about it.
#[derive(Debug, Clone, Serialize)]
pub struct OrderDetail {
    /// The order.
    #[serde(flatten)]
    pub order: OrderView,
    /// The bot's messages about it, oldest first.
    pub sent: Vec<SentView>,
}

/// An order as the gateway shows it (the address only to its buyer).
#[derive(Debug, Clone, Serialize)]
pub struct OrderView {
    /// The order id.
    pub id: String,
    /// created, paid, shipped, delivered or closed.
    pub status: String,
    /// Its lines.
    pub items: Vec<OrderItem>,
    /// The total.
    pub total: Option<f64>,
    /// Courier, once shipped.
    pub courier: Option<String>,
    /// Tracking number, once shipped.
    pub tracking: Option<String>,
    /// Last change, ms since the epoch.
    pub updated_ms: i64,
}

#[derive(Debug)]
struct Conv {
    id: String,
    buyer: BuyerView,
    status: &'static str,
    agent: Option<String>,
    escalation: Option<EscalationView>,
    item: Option<Item>,
    messages: Vec<MsgView>,
    index: HashMap<String, usize>,
    updated_ms: i64,
    /// Released at least once: a reconnecting bot is told again.
    released: bool,
    /// The buyer page's capability for this conversation (opened from the
    /// web); conversations made in process have none.
    token: Option<String>,
    /// Buyer and agent messages and their text bytes, for the caps.
    posted: usize,
    bytes: usize,
    /// Orders (protocol 1.1), oldest first.
    orders: Vec<OrderView>,
    /// `send` ids delivered to the buyer (each once).
    sends: std::collections::HashSet<String>,
    /// Notes, markers, how it was closed.
    desk: desk::ConvDesk,
}

/// A conversation as its buyer sees it: no bot decisions, no escalation notes.
#[derive(Debug, Clone, Serialize)]
pub struct BuyerConvView {
    /// Conversation id.
    pub id: String,
    /// bot, escalated or taken.
    pub status: String,
    /// The agent that owns it.
    pub agent: Option<String>,
    /// Oldest first.
    pub messages: Vec<BuyerMsgView>,
    /// The buyer's orders, oldest first.
    pub orders: Vec<OrderView>,
}

/// One message as the buyer sees it.
#[derive(Debug, Clone, Serialize)]
pub struct BuyerMsgView {
    /// Message id.
    pub id: String,
    /// buyer, bot, agent or system.
    pub role: String,
    /// Sender's name.
    pub name: Option<String>,
    /// The text.
    pub text: String,
    /// When, in ms since the epoch.
    pub ts_ms: i64,
}

/// A conversation as the web app lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ConvView {
    /// Conversation id.
    pub id: String,
    /// The buyer.
    pub buyer: BuyerView,
    /// bot, escalated or taken.
    pub status: String,
    /// The agent that owns it.
    pub agent: Option<String>,
    /// The open escalation.
    pub escalation: Option<EscalationView>,
    /// The product page.
    pub item: Option<Item>,
    /// The last message.
    pub last: Option<LastView>,
    /// Last activity.
    pub updated_ms: i64,
    /// How an agent closed it (until the buyer writes again).
    pub closed: Option<desk::ClosedView>,
    /// Buyer messages so far (the console counts unread ones from it).
    pub buyer_messages: usize,
    /// Oldest first; only in the detail view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MsgView>>,
    /// The buyer's orders (protocol 1.1), oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<OrderView>,
}

impl Conv {
    fn view(&self, with_messages: bool) -> ConvView {
        ConvView {
            id: self.id.clone(),
            buyer: self.buyer.clone(),
            status: self.status.to_string(),
            agent: self.agent.clone(),
            escalation: self.escalation.clone(),
            item: self.item.clone(),
            last: self
                .messages
                .iter()
                .rev()
                .find(|m| m.role != "event" && m.role != "note")
                .map(|m| LastView {
                    role: m.role.clone(),
                    text: m.text.chars().take(80).collect(),
                    ts_ms: m.ts_ms,
                }),
            updated_ms: self.updated_ms,
            closed: self.desk.closed.clone(),
            buyer_messages: self.messages.iter().filter(|m| m.role == "buyer").count(),
            messages: with_messages.then(|| self.messages.clone()),
            orders: self.orders.clone(),
        }
    }

    fn buyer_view(&self) -> BuyerConvView {
        BuyerConvView {
            id: self.id.clone(),
            status: self.status.to_string(),
            agent: self.agent.clone(),
            messages: self
                .messages
                .iter()
                .filter(|m| m.role != "note" && m.role != "event")
                .map(|m| BuyerMsgView {
                    id: m.id.clone(),
                    role: m.role.clone(),
                    name: m.name.clone(),
                    text: m.text.clone(),
                    ts_ms: m.ts_ms,
                })
                .collect(),
            orders: self.orders.clone(),
        }
    }

    /// Room for one more buyer or agent message of `text`.
    fn room_for(&self, text: &str) -> Result<(), GatewayError> {
        if self.posted >= MAX_MESSAGES_PER_CONVERSATION
            || self.bytes + text.len() > MAX_CONVERSATION_BYTES
        {
            return Err(GatewayError::Limit(format!(
                "this conversation is full ({MAX_MESSAGES_PER_CONVERSATION} messages or {} KiB): start a new one",
                MAX_CONVERSATION_BYTES / 1024
            )));
        }
        Ok(())
    }

    fn posted(&mut self, m: MsgView) {
        self.posted += 1;
        self.bytes += m.text.len();
        self.push(m);
    }

    fn new(id: &str, buyer: BuyerView, ts: i64, token: Option<String>) -> Conv {
        Conv {
            id: id.to_string(),
            buyer,
            status: "bot",
            agent: None,
            escalation: None,
            item: None,
            messages: Vec::new(),
            index: HashMap::new(),
            updated_ms: ts,
            released: false,
            token,
            posted: 0,
            bytes: 0,
            orders: Vec::new(),
            sends: Default::default(),
            desk: desk::ConvDesk::default(),
        }
    }

    fn push(&mut self, m: MsgView) {
        self.updated_ms = m.ts_ms;
        self.index.insert(m.id.clone(), self.messages.len());
        self.messages.push(m);
    }
}

/// Counters for tests and the load tool.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Buyer and agent messages sent to the bot (first deliveries).
    pub sent: u64,
    /// Redeliveries after reconnects.
    pub redelivered: u64,
    /// Messages acknowledged (first acks).
    pub acked: u64,
    /// Acks for messages already acknowledged (harmless).
    pub reacked: u64,
    /// Reply frames.
    pub replies: u64,
    /// Escalate frames.
    pub escalations: u64,
    /// Buyer messages that got a second reply (must stay 0).
    pub double_answers: u64,
    /// Messages sent and not yet acknowledged.
    pub unacked: u64,
    /// Frames from the bot that were dropped as bad.
    pub bad_frames: u64,
    /// Bot connections accepted.
    pub connections: u64,
    /// Order events sent to the bot (first deliveries).
    pub orders: u64,
    /// `send` frames delivered to a buyer (first copies).
    pub sends: u64,
    /// Further copies of a `send` already delivered (answered `sent` again).
    pub send_repeats: u64,
    /// Upgrade requests refused for a wrong or missing token.
    pub refused: u64,
    /// Conversations moved to another instance when theirs disconnected.
    pub moved: u64,
}

struct Unacked {
    conversation: String,
    frame: String,
}

/// A connected bot instance (protocol 1.1: several may connect at once).
struct BotConn {
    /// The connection's number.
    id: u64,
    /// The name from `hello` ("" when it gave none).
    instance: String,
    tx: mpsc::UnboundedSender<WsMessage>,
    kill: Arc<Notify>,
    /// Conversations it serves now.
    serving: usize,
}

struct State {
    /// What `welcome` lists (`orders` by default).
    features: Vec<String>,
    next_id: u64,
    conversations: HashMap<String, Conv>,
    /// Unacknowledged frames in send order (seq → (message id, frame)).
    unacked: BTreeMap<u64, Unacked>,
    unacked_seq: HashMap<String, u64>,
    /// Connected bot instances, in connection order.
    bots: Vec<BotConn>,
    /// Which connection serves each conversation (sticky while connected).
    owner: HashMap<String, u64>,
    /// When messages were moved to another instance, by message id: the
    /// time until that instance acknowledges them is the fail-over time.
    moved_at: HashMap<String, Instant>,
    failover_latency: Vec<Duration>,
    /// Conversations held at most ([`MAX_CONVERSATIONS`] unless the load
    /// tool sets its run's need).
    max_conversations: usize,
    stats: Stats,
    answered: HashMap<String, u32>,
    sent_at: HashMap<String, Instant>,
    reply_latency: Vec<Duration>,
    ack_latency: Vec<Duration>,
}

impl State {
    /// The connection that serves `conversation`: its sticky one while
    /// connected, else the instance serving the fewest (now assigned).
    fn route(&mut self, conversation: &str) -> Option<usize> {
        if let Some(&id) = self.owner.get(conversation) {
            if let Some(i) = self.bots.iter().position(|b| b.id == id) {
                return Some(i);
            }
        }
        let i = (0..self.bots.len()).min_by_key(|&i| (self.bots[i].serving, i))?;
        self.bots[i].serving += 1;
        self.owner.insert(conversation.to_string(), self.bots[i].id);
        Some(i)
    }

    /// Sends `text` to the instance serving `conversation`, if any is connected.
    fn send_to(&mut self, conversation: &str, text: String) {
        if let Some(i) = self.route(conversation) {
            let _ = self.bots[i].tx.send(WsMessage::text(text));
        }
    }

    /// Sends `text` on connection `id`, if still connected.
    fn send_on(&self, id: u64, text: String) {
        if let Some(b) = self.bots.iter().find(|b| b.id == id) {
            let _ = b.tx.send(WsMessage::text(text));
        }
    }

    /// Connection `id` is gone: its conversations go to the others, with
    /// every message they had not acknowledged.
    fn bot_left(&mut self, id: u64) {
        let Some(i) = self.bots.iter().position(|b| b.id == id) else {
            return;
        };
        self.bots.remove(i);
        let orphans: HashSet<String> = self
            .owner
            .iter()
            .filter(|(_, &o)| o == id)
            .map(|(c, _)| c.clone())
            .collect();
        self.owner.retain(|_, o| *o != id);
        if orphans.is_empty() {
            return;
        }
        let again: Vec<(String, String)> = self
            .unacked
            .values()
            .filter(|u| orphans.contains(&u.conversation))
            .map(|u| (u.conversation.clone(), u.frame.clone()))
            .collect();
        let now = Instant::now();
        let ids: Vec<String> = self
            .unacked_seq
            .iter()
            .filter(|(_, seq)| {
                self.unacked
                    .get(seq)
                    .is_some_and(|u| orphans.contains(&u.conversation))
            })
            .map(|(m, _)| m.clone())
            .collect();
        if self.bots.is_empty() {
            // Nobody to move them to: they go out when an instance connects.
            return;
        }
        self.stats.moved += orphans.len() as u64;
        for m in ids {
            self.moved_at.insert(m, now);
        }
        self.stats.redelivered += again.len() as u64;
        for (conversation, frame) in again {
            self.send_to(&conversation, frame);
        }
    }
}

impl Default for State {
    fn default() -> State {
        State {
            features: vec![frame::FEATURE_ORDERS.to_string()],
            next_id: 0,
            conversations: HashMap::new(),
            unacked: BTreeMap::new(),
            unacked_seq: HashMap::new(),
            bots: Vec::new(),
            owner: HashMap::new(),
            moved_at: HashMap::new(),
            failover_latency: Vec::new(),
            max_conversations: MAX_CONVERSATIONS,
            stats: Stats::default(),
            answered: HashMap::new(),
            sent_at: HashMap::new(),
            reply_latency: Vec::new(),
            ack_latency: Vec::new(),
        }
    }
}

/// Builds the operator's report for the last `hours` (JSON), when the
/// gateway runs beside a bot whose store it can read (`xiaoer demo`).
pub type ReportFn = Arc<dyn Fn(i64) -> Result<serde_json::Value, String> + Send + Sync>;

/// Teaching from the console: the intents an agent can pick, and the lesson
/// itself (`crate::teach`), when the gateway runs beside a bot whose intent
/// files it can edit (`xiaoer demo` with an `intents/` folder).
pub trait Teacher: Send + Sync {
    /// `(id, description)` of every intent, `none` included.
    fn intents(&self) -> Vec<(String, String)>;
    /// Adds `text` as an example of `intent`, taught by `who`: where it was
    /// written (`intents/x.toml:12`), or why it was refused.
    fn teach(&self, text: &str, intent: &str, who: &str) -> Result<String, String>;
}

struct Shared {
    desk: desk::Shared,
    report: std::sync::OnceLock<ReportFn>,
    teacher: std::sync::OnceLock<Arc<dyn Teacher>>,
    auth: std::sync::OnceLock<Arc<auth::Auth>>,
    config: GatewayConfig,
    state: Mutex<State>,
    events: broadcast::Sender<LiveEvent>,
    conn_seq: AtomicU64,
}

/// The embedded gateway; clones share it.
#[derive(Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
}

fn valid_id(what: &str, s: &str) -> Result<(), GatewayError> {
    if s.is_empty()
        || s.len() > 64
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(GatewayError::Invalid(format!(
            "{what} must be 1-64 characters of letters, digits, - _ . :"
        )));
    }
    Ok(())
}

fn valid_agent(agent: &str) -> Result<(), GatewayError> {
    if auth::valid_agent_id(agent) {
        Ok(())
    } else {
        Err(GatewayError::Invalid(format!(
            "agent must be {}",
            auth::AGENT_ID_RULE
        )))
    }
}

/// 32 random bytes as hex (conversation tokens), or 8 for ids.
fn random_hex(bytes: usize) -> String {
    use ring::rand::SecureRandom;
    let mut raw = [0u8; 32];
    let raw = &mut raw[..bytes.min(32)];
    ring::rand::SystemRandom::new()
        .fill(raw)
        .expect("the operating system's random source works");
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

fn valid_text(text: &str) -> Result<(), GatewayError> {
    if text.trim().is_empty() {
        return Err(GatewayError::Invalid("the message is empty".into()));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(GatewayError::Invalid(format!(
            "the message is over {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(())
}

/// Compares without stopping at the first difference (the token is a secret).
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A time as RFC 3339 UTC (`2026-11-22T10:00:00Z`).
pub fn rfc3339(ms: i64) -> String {
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Gateway {
    /// A gateway with no conversations yet.
    pub fn new(config: GatewayConfig) -> Gateway {
        let (events, _) = broadcast::channel(EVENT_QUEUE);
        Gateway {
            shared: Arc::new(Shared {
                desk: desk::Shared::default(),
                report: std::sync::OnceLock::new(),
                teacher: std::sync::OnceLock::new(),
                auth: std::sync::OnceLock::new(),
                config,
                state: Mutex::new(State::default()),
                events,
                conn_seq: AtomicU64::new(0),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn event(&self, conversation: Option<&str>, kind: &'static str) {
        if self.shared.events.receiver_count() > 0 {
            let _ = self.shared.events.send(LiveEvent {
                conversation: conversation.map(str::to_string),
                kind,
            });
        }
    }

    /// The gateway's settings.
    pub fn config(&self) -> &GatewayConfig {
        &self.shared.config
    }

    /// Requires an agent login for the console and its API.
    pub fn set_auth(&self, a: Arc<auth::Auth>) {
        let _ = self.shared.auth.set(a);
    }

    /// The agents' logins, when required.
    pub fn auth(&self) -> Option<Arc<auth::Auth>> {
        self.shared.auth.get().cloned()
    }

    /// Lets the agent console show the operator's report.
    pub fn set_report(&self, f: ReportFn) {
        let _ = self.shared.report.set(f);
    }

    /// The report source, if any.
    pub fn report(&self) -> Option<ReportFn> {
        self.shared.report.get().cloned()
    }

    /// Lets agents teach the bot from the console.
    pub fn set_teacher(&self, t: Arc<dyn Teacher>) {
        let _ = self.shared.teacher.set(t);
    }

    /// The teacher, if any.
    pub fn teacher(&self) -> Option<Arc<dyn Teacher>> {
        self.shared.teacher.get().cloned()
    }

    /// Live updates for the web app, at most [`EVENT_QUEUE`] behind.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.shared.events.subscribe()
    }

    /// Accepts bot connections on `listener` until the task is dropped.
    pub fn serve_bot(&self, listener: TcpListener) -> tokio::task::JoinHandle<()> {
        let gw = self.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let gw = gw.clone();
                        tokio::spawn(async move {
                            gw.bot_connection(stream).await;
                            tracing::debug!(%peer, "bot connection ended");
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        })
    }

    async fn bot_connection(&self, stream: tokio::net::TcpStream) {
        let token = self.shared.config.token.clone();
        #[allow(clippy::result_large_err)] // tungstenite's callback type
        let check = move |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
            let given = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            if same_secret(given.as_bytes(), token.as_bytes()) {
                Ok(resp)
            } else {
                let mut r = ErrorResponse::new(Some("missing or wrong bearer token".into()));
                *r.status_mut() = http::StatusCode::UNAUTHORIZED;
                Err(r)
            }
        };
        let ws =
            match tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(ws_config()))
                .await
            {
                Ok(ws) => ws,
                Err(e) => {
                    self.state().stats.refused += 1;
                    tracing::warn!(error = %e, "bot connection refused");
                    return;
                }
            };
        let (mut sink, mut stream) = ws.split();
        // The bot speaks first: hello.
        let hello = tokio::time::timeout(Duration::from_secs(10), stream.next()).await;
        let instance = match &hello {
            Ok(Some(Ok(WsMessage::Text(t)))) => match frame::parse_from_bot(t.as_str()) {
                Ok(Parsed::Frame(FromBot::Hello { instance, .. })) => {
                    Some(instance.unwrap_or_default())
                }
                _ => None,
            },
            _ => None,
        };
        let Some(instance) = instance else {
            tracing::warn!("bot did not open with hello; closing");
            let _ = sink.send(WsMessage::Close(None)).await;
            return;
        };
        let features = self.state().features.clone();
        let welcome = ToBot::Welcome {
            gateway: Some(self.shared.config.name.clone()),
            version: Some(frame::VERSION),
            features: Some(features),
        };
        if sink
            .send(WsMessage::text(
                serde_json::to_string(&welcome).unwrap_or_default(),
            ))
            .await
            .is_err()
        {
            return;
        }
        let id = self.shared.conn_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, mut rx) = mpsc::unbounded_channel::<WsMessage>();
        let kill = Arc::new(Notify::new());
        {
            // Under one lock: the instance of the same name it replaces (a
            // reconnect) leaves first, handing its conversations on; then
            // this one takes every conversation no instance serves: the
            // hand-offs it may have missed, then their unacknowledged
            // messages in order, then new traffic.
            let mut st = self.state();
            let replaced: Vec<(u64, Arc<Notify>)> = st
                .bots
                .iter()
                .filter(|b| b.instance == instance)
                .map(|b| (b.id, b.kill.clone()))
                .collect();
            for (old, kill) in replaced {
                kill.notify_one();
                st.bot_left(old);
            }
            let unserved: HashSet<String> = st
                .conversations
                .keys()
                .chain(st.unacked.values().map(|u| &u.conversation))
                .filter(|c| {
                    st.owner
                        .get(*c)
                        .is_none_or(|o| !st.bots.iter().any(|b| b.id == *o))
                })
                .cloned()
                .collect();
            for c in &unserved {
                st.owner.insert(c.clone(), id);
            }
            for c in st
                .conversations
                .values()
                .filter(|c| unserved.contains(&c.id))
            {
                let f = match c.status {
                    "taken" => Some(ToBot::Takeover {
                        conversation: c.id.clone(),
                        agent: c.agent.clone(),
                    }),
                    "bot" if c.released => Some(ToBot::Release {
                        conversation: c.id.clone(),
                        agent: None,
                    }),
                    _ => None,
                };
                if let Some(f) = f {
                    let _ = tx.send(WsMessage::text(
                        serde_json::to_string(&f).unwrap_or_default(),
                    ));
                }
            }
            let again: Vec<String> = st
                .unacked
                .values()
                .filter(|u| unserved.contains(&u.conversation))
                .map(|u| u.frame.clone())
                .collect();
            st.stats.redelivered += again.len() as u64;
            for f in again {
                let _ = tx.send(WsMessage::text(f));
            }
            st.bots.push(BotConn {
                id,
                instance: instance.clone(),
                tx,
                kill: kill.clone(),
                serving: unserved.len(),
            });
            st.stats.connections += 1;
        }
        self.event(None, "bot");
        tracing::info!(connection = id, "bot connected");
        // Writing and reading apart: a bot that stops reading at its
        // in-flight bound must not stop us reading its acks and replies
        // (that would stall both ends until one gives up on the other).
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let mut writer = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => return sink,
                    m = rx.recv() => match m {
                        Some(m) => if sink.send(m).await.is_err() { return sink },
                        None => return sink,
                    },
                }
            }
        });
        let finished = loop {
            tokio::select! {
                _ = kill.notified() => break None,
                w = &mut writer => break Some(w),
                m = stream.next() => match m {
                    None | Some(Err(_)) => break None,
                    Some(Ok(WsMessage::Text(t))) => self.on_bot_frame(id, t.as_str()),
                    Some(Ok(WsMessage::Close(_))) => break None,
                    Some(Ok(_)) => {}
                },
            }
        };
        let sink = match finished {
            Some(w) => w.ok(),
            None => {
                // The bot is leaving: what was queued for it goes to the
                // others (bot_left), not out on this connection.
                // A writer stuck on a bot that reads nothing is given up.
                let _ = stop.send(());
                match tokio::time::timeout(Duration::from_secs(1), &mut writer).await {
                    Ok(w) => w.ok(),
                    Err(_) => {
                        writer.abort();
                        None
                    }
                }
            }
        };
        if let Some(mut sink) = sink {
            let _ = sink.send(WsMessage::Close(None)).await;
        }
        self.state().bot_left(id);
        self.event(None, "bot");
        tracing::info!(connection = id, "bot disconnected");
    }

    fn on_bot_frame(&self, from: u64, text: &str) {
        let parsed = frame::parse_from_bot(text);
        let mut st = self.state();
        let st = &mut *st;
        let conversation = match parsed {
            Ok(Parsed::Frame(FromBot::Reply {
                conversation,
                in_reply_to,
                text,
                intents,
                confidence,
            })) => {
                st.stats.replies += 1;
                let n = st.answered.entry(in_reply_to.clone()).or_insert(0);
                *n += 1;
                if *n > 1 {
                    st.stats.double_answers += 1;
                    tracing::error!(message = %in_reply_to, "answered twice");
                }
                if let Some(t) = st.sent_at.get(&in_reply_to) {
                    if st.reply_latency.len() < MAX_LATENCY_SAMPLES {
                        st.reply_latency.push(t.elapsed());
                    }
                }
                let ts = now_ms();
                if let Some(c) = st.conversations.get_mut(&conversation) {
                    if let Some(&i) = c.index.get(&in_reply_to) {
                        let d = c.messages[i].decision.get_or_insert_with(Default::default);
                        if d.action.is_empty() {
                            d.action = "reply".into();
                        }
                        d.intents = intents;
                        d.confidence = Some(confidence);
                    }
                    let id = format!("r-{in_reply_to}-{n}");
                    c.push(MsgView {
                        id,
                        role: "bot".into(),
                        name: None,
                        text,
                        ts_ms: ts,
                        acked: None,
                        decision: None,
                        in_reply_to: Some(in_reply_to.clone()),
                        ..Default::default()
                    });
                }
                Some(conversation)
            }
            Ok(Parsed::Frame(FromBot::Escalate {
                conversation,
                in_reply_to,
                reason,
                intents,
                priority,
                summary,
            })) => {
                st.stats.escalations += 1;
                if let Some(c) = st.conversations.get_mut(&conversation) {
                    if let Some(&i) = c.index.get(&in_reply_to) {
                        let d = c.messages[i].decision.get_or_insert_with(Default::default);
                        d.action = "escalate".into();
                        d.intents = intents;
                        d.reason = Some(reason.clone());
                        d.priority = Some(priority.clone());
                    }
                    if c.status != "taken" {
                        c.status = "escalated";
                    }
                    c.escalation = Some(EscalationView {
                        reason,
                        priority,
                        summary,
                        since_ms: now_ms(),
                    });
                }
                Some(conversation)
            }
            Ok(Parsed::Frame(FromBot::Ack { id })) => {
                let Some(seq) = st.unacked_seq.remove(&id) else {
                    st.stats.reacked += 1;
                    return;
                };
                let conv = st.unacked.remove(&seq).map(|u| u.conversation);
                st.stats.acked += 1;
                if let Some(t) = st.moved_at.remove(&id) {
                    if st.failover_latency.len() < MAX_LATENCY_SAMPLES {
                        st.failover_latency.push(t.elapsed());
                    }
                }
                if let Some(t) = st.sent_at.remove(&id) {
                    if st.ack_latency.len() < MAX_LATENCY_SAMPLES {
                        st.ack_latency.push(t.elapsed());
                    }
                }
                if let Some(c) = conv.as_ref().and_then(|c| st.conversations.get_mut(c)) {
                    if let Some(&i) = c.index.get(&id) {
                        if c.messages[i].role == "buyer" {
                            c.messages[i].acked = Some(true);
                        }
                    }
                }
                conv
            }
            Ok(Parsed::Frame(FromBot::Send {
                id,
                conversation,
                text,
                ..
            })) => {
                if !st.features.iter().any(|f| f == frame::FEATURE_ORDERS) {
                    st.stats.bad_frames += 1;
                    tracing::warn!(
                        "send frame from the bot, but this gateway has no orders feature"
                    );
                    return;
                }
                let Some(c) = st.conversations.get_mut(&conversation) else {
                    st.stats.bad_frames += 1;
                    tracing::warn!(conversation = %crate::logsafe::esc(&conversation), "send for an unknown conversation dropped");
                    return;
                };
                let first = c.sends.insert(id.clone());
                if first {
                    st.stats.sends += 1;
                    c.push(MsgView {
                        id: format!("s-{id}"),
                        role: "bot".into(),
                        name: None,
                        text,
                        ts_ms: now_ms(),
                        acked: None,
                        decision: None,
                        ..Default::default()
                    });
                } else {
                    st.stats.send_repeats += 1;
                }
                let sent = ToBot::Sent { id };
                st.send_on(from, serde_json::to_string(&sent).unwrap_or_default());
                first.then_some(conversation)
            }
            Ok(Parsed::Frame(FromBot::Hello { .. })) => None,
            Ok(Parsed::Unknown(kind)) => {
                tracing::info!(%kind, "unknown frame type from the bot ignored");
                None
            }
            Err(e) => {
                st.stats.bad_frames += 1;
                tracing::warn!(error = %e, "bad frame from the bot dropped");
                None
            }
        };
        if let Some(c) = conversation {
            self.event(Some(&c), "message");
        }
    }

    fn deliver(&self, st: &mut State, m: &Message) {
        let f = serde_json::to_string(&ToBot::Message(m.clone())).unwrap_or_default();
        self.deliver_frame(st, &m.id, &m.conversation, f);
    }

    /// Sends `f` (a message or an order event with id `id`) and keeps it
    /// for redelivery until acknowledged.
    fn deliver_frame(&self, st: &mut State, id: &str, conversation: &str, f: String) {
        let m_id = id.to_string();
        let m_conversation = conversation.to_string();
        st.next_id += 1;
        let seq = st.next_id;
        st.unacked.insert(
            seq,
            Unacked {
                conversation: m_conversation,
                frame: f.clone(),
            },
        );
        st.unacked_seq.insert(m_id.clone(), seq);
        st.sent_at.insert(m_id, Instant::now());
        st.stats.sent += 1;
        st.send_to(conversation, f);
    }

    /// A hand-off, to the instance serving `conversation`.
    fn control(&self, st: &mut State, conversation: &str, f: &ToBot) {
        st.send_to(conversation, serde_json::to_string(f).unwrap_or_default());
    }

    /// A buyer writes in `conversation` (created on the first message): the
    /// in-process path of tests and the load tool, which name their own ids.
    pub fn buyer_message(
        &self,
        conversation: &str,
        buyer_id: &str,
        buyer_name: &str,
        text: &str,
        item: Option<Item>,
    ) -> Result<String, GatewayError> {
        valid_id("conversation", conversation)?;
        valid_id("buyer id", buyer_id)?;
        self.post_buyer(conversation, Some(buyer_id), None, buyer_name, text, item)
    }

    /// Opens a conversation for the buyer page: a fresh random id and the
    /// token (capability) that alone lets its holder read it, post in it and
    /// follow it. Returns (id, token).
    pub fn open_conversation(&self) -> Result<(String, String), GatewayError> {
        let id = format!("c-{}", random_hex(8));
        let token = random_hex(32);
        let buyer = BuyerView {
            id: format!("b-{}", random_hex(8)),
            name: String::new(),
        };
        let mut st = self.state();
        if st.conversations.len() >= st.max_conversations {
            return Err(GatewayError::Limit(format!(
                "the demo holds {} conversations, its most: try again later",
                st.max_conversations
            )));
        }
        st.conversations.insert(
            id.clone(),
            Conv::new(&id, buyer, now_ms(), Some(token.clone())),
        );
        Ok((id, token))
    }

    /// Whether `token` is the buyer page's capability for `conversation`.
    /// An unknown conversation and a wrong token answer alike.
    pub fn check_token(&self, conversation: &str, token: &str) -> Result<(), GatewayError> {
        let st = self.state();
        let ok = st
            .conversations
            .get(conversation)
            .and_then(|c| c.token.as_deref())
            .is_some_and(|t| same_secret(t.as_bytes(), token.as_bytes()));
        if ok {
            Ok(())
        } else {
            Err(GatewayError::Forbidden(
                "no such conversation for this token: open one from the buyer page".into(),
            ))
        }
    }

    /// The buyer page writes in a conversation it opened (`token` checked):
    /// the buyer is the one the conversation was opened for, named
    /// `buyer_name` from its first message on.
    pub fn buyer_post(
        &self,
        conversation: &str,
        token: &str,
        buyer_name: &str,
        text: &str,
        item: Option<Item>,
    ) -> Result<String, GatewayError> {
        self.check_token(conversation, token)?;
        self.post_buyer(conversation, None, Some(token), buyer_name, text, item)
    }

    /// One conversation as its buyer sees it (`token` checked).
    pub fn buyer_view(
        &self,
        conversation: &str,
        token: &str,
    ) -> Result<BuyerConvView, GatewayError> {
        self.check_token(conversation, token)?;
        let mut v = self
            .state()
            .conversations
            .get(conversation)
            .map(Conv::buyer_view)
            .ok_or_else(|| GatewayError::NotFound(conversation.into()))?;
        // Buyers see the agent's display name, never the id.
        v.agent = v.agent.map(|a| self.display_name(&a));
        Ok(v)
    }

    /// Records and delivers a buyer message. `buyer_id` creates the
    /// conversation if needed (in process); `token` requires it to exist with
    /// that token (web).
    fn post_buyer(
        &self,
        conversation: &str,
        buyer_id: Option<&str>,
        token: Option<&str>,
        buyer_name: &str,
        text: &str,
        item: Option<Item>,
    ) -> Result<String, GatewayError> {
        valid_text(text)?;
        let name: String = buyer_name
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(32)
            .collect();
        let id = {
            let mut guard = self.state();
            let st = &mut *guard;
            let full = st.conversations.len() >= st.max_conversations;
            let ts = now_ms();
            let c = match (buyer_id, st.conversations.contains_key(conversation)) {
                (_, true) => st.conversations.get_mut(conversation),
                (Some(b), false) if !full => Some(
                    st.conversations
                        .entry(conversation.to_string())
                        .or_insert_with(|| {
                            Conv::new(
                                conversation,
                                BuyerView {
                                    id: b.to_string(),
                                    name: String::new(),
                                },
                                ts,
                                None,
                            )
                        }),
                ),
                (Some(_), false) => {
                    return Err(GatewayError::Limit(format!(
                        "the gateway holds {} conversations, its most",
                        st.max_conversations
                    )))
                }
                (None, false) => None,
            };
            let Some(c) = c else {
                return Err(GatewayError::NotFound(conversation.into()));
            };
            if token.is_some() && c.token.as_deref() != token {
                return Err(GatewayError::Forbidden("wrong conversation token".into()));
            }
            c.room_for(text)?;
            if c.posted == 0 {
                // The first message names the buyer (the page lets them edit
                // the name until then).
                c.buyer.name = if name.is_empty() {
                    c.buyer.id.clone()
                } else {
                    name.clone()
                };
            }
            if item.is_some() {
                c.item = item.clone();
            }
            // The buyer writes again: a closed chat is open again.
            c.desk.closed = None;
            let buyer = c.buyer.clone();
            st.next_id += 1;
            let id = format!("m-{}", st.next_id);
            c.posted(MsgView {
                id: id.clone(),
                role: "buyer".into(),
                name: Some(buyer.name.clone()),
                text: text.to_string(),
                ts_ms: ts,
                acked: Some(false),
                decision: None,
                ..Default::default()
            });
            let m = Message {
                id: id.clone(),
                conversation: conversation.to_string(),
                shop: Some(self.shared.config.name.clone()),
                from: Sender {
                    role: Role::Buyer,
                    id: Some(buyer.id.clone()),
                    name: (buyer.name != buyer.id).then_some(buyer.name),
                },
                text: text.to_string(),
                ts: Some(rfc3339(ts)),
                item,
            };
            self.deliver(st, &m);
            id
        };
        self.event(Some(conversation), "message");
        Ok(id)
    }

    /// An agent takes the conversation: the bot goes silent there.
    pub fn takeover(&self, conversation: &str, agent: &str) -> Result<ConvView, GatewayError> {
        valid_agent(agent)?;
        let name = self.display_name(agent);
        let view = {
            let mut guard = self.state();
            let st = &mut *guard;
            st.next_id += 1;
            let mid = format!("e-{}", st.next_id);
            let c = st
                .conversations
                .get_mut(conversation)
                .ok_or_else(|| GatewayError::NotFound(conversation.into()))?;
            if c.status == "taken" && c.agent.as_deref() != Some(agent) {
                return Err(GatewayError::Forbidden(format!(
                    "agent {} already has this conversation",
                    c.agent.as_deref().unwrap_or("?")
                )));
            }
            let fresh = c.status != "taken";
            if fresh {
                c.marker(mid, "takeover", &name, String::new());
            }
            c.desk.closed = None;
            c.status = "taken";
            c.agent = Some(agent.to_string());
            c.updated_ms = now_ms();
            let view = c.view(false);
            let f = ToBot::Takeover {
                conversation: conversation.into(),
                agent: Some(agent.into()),
            };
            self.control(st, conversation, &f);
            (view, fresh)
        };
        let (view, fresh) = view;
        if fresh {
            self.record(conversation, "takeover", agent, None, None);
        }
        self.event(Some(conversation), "status");
        Ok(view)
    }

    /// The agent hands the conversation back to the bot.
    pub fn release(&self, conversation: &str, agent: &str) -> Result<ConvView, GatewayError> {
        valid_agent(agent)?;
        let name = self.display_name(agent);
        let view = {
            let mut guard = self.state();
            let st = &mut *guard;
            st.next_id += 1;
            let mid = format!("e-{}", st.next_id);
            let c = st
                .conversations
                .get_mut(conversation)
                .ok_or_else(|| GatewayError::NotFound(conversation.into()))?;
            if c.status == "bot" {
                return Err(GatewayError::Conflict(
                    "the bot already has this conversation".into(),
                ));
            }
            if c.status == "taken" && c.agent.as_deref() != Some(agent) {
                return Err(GatewayError::Forbidden(format!(
                    "agent {} has this conversation: only they can hand it back",
                    c.agent.as_deref().unwrap_or("?")
                )));
            }
            c.status = "bot";
            c.agent = None;
            c.escalation = None;
            c.released = true;
            c.updated_ms = now_ms();
            c.marker(mid, "release", &name, String::new());
            let view = c.view(false);
            let f = ToBot::Release {
                conversation: conversation.into(),
                agent: Some(agent.into()),
            };
            self.control(st, conversation, &f);
            view
        };
        self.record(conversation, "release", agent, None, None);
        self.event(Some(conversation), "status");
        Ok(view)
    }

    /// The agent who has the conversation writes to the buyer.
    pub fn agent_message(
        &self,
        conversation: &str,
        agent: &str,
        text: &str,
    ) -> Result<String, GatewayError> {
        valid_agent(agent)?;
        valid_text(text)?;
        let name = self.display_name(agent);
        let id = {
            let mut guard = self.state();
            let st = &mut *guard;
            let c = st
                .conversations
                .get_mut(conversation)
                .ok_or_else(|| GatewayError::NotFound(conversation.into()))?;
            if c.status != "taken" {
                return Err(GatewayError::Conflict(
                    "take the conversation over before replying".into(),
                ));
            }
            if c.agent.as_deref() != Some(agent) {
                return Err(GatewayError::Forbidden(format!(
                    "agent {} has this conversation: only they can reply",
                    c.agent.as_deref().unwrap_or("?")
                )));
            }
            c.room_for(text)?;
            st.next_id += 1;
            let id = format!("m-{}", st.next_id);
            let ts = now_ms();
            c.posted(MsgView {
                id: id.clone(),
                role: "agent".into(),
                name: Some(name.clone()),
                text: text.to_string(),
                ts_ms: ts,
                acked: None,
                decision: None,
                ..Default::default()
            });
            let m = Message {
                id: id.clone(),
                conversation: conversation.to_string(),
                shop: Some(self.shared.config.name.clone()),
                from: Sender {
                    role: Role::Agent,
                    id: Some(agent.to_string()),
                    name: Some(name),
                },
                text: text.to_string(),
                ts: Some(rfc3339(ts)),
                item: None,
            };
            self.deliver(st, &m);
            id
        };
        self.event(Some(conversation), "message");
        Ok(id)
    }

    /// Every conversation with a message, latest activity first (a buyer page
    /// that opened one and said nothing is nobody's business yet).
    pub fn conversations(&self) -> Vec<ConvView> {
        let st = self.state();
        let mut v: Vec<ConvView> = st
            .conversations
            .values()
            .filter(|c| !c.messages.is_empty())
            .map(|c| c.view(false))
            .collect();
        v.sort_by(|a, b| b.updated_ms.cmp(&a.updated_ms).then(a.id.cmp(&b.id)));
        v
    }

    /// One conversation with its messages.
    pub fn conversation(&self, id: &str) -> Result<ConvView, GatewayError> {
        self.state()
            .conversations
            .get(id)
            .map(|c| c.view(true))
            .ok_or_else(|| GatewayError::NotFound(id.into()))
    }

    /// True while a bot is connected.
    pub fn bot_connected(&self) -> bool {
        !self.state().bots.is_empty()
    }

    /// Holds up to `n` conversations (the load tool's run; the demo keeps
    /// [`MAX_CONVERSATIONS`]).
    pub fn set_max_conversations(&self, n: usize) {
        self.state().max_conversations = n;
    }

    /// Bot instances connected now.
    pub fn instances(&self) -> usize {
        self.state().bots.len()
    }

    /// The instance (its `hello` name) serving `conversation` now.
    pub fn instance_of(&self, conversation: &str) -> Option<String> {
        let st = self.state();
        let id = st.owner.get(conversation)?;
        st.bots
            .iter()
            .find(|b| b.id == *id)
            .map(|b| b.instance.clone())
    }

    /// Takes the fail-over times measured so far: from a conversation's move
    /// to another instance (its own disconnected) until that instance
    /// acknowledged each moved message.
    pub fn take_failovers(&self) -> Vec<Duration> {
        std::mem::take(&mut self.state().failover_latency)
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        let st = self.state();
        let mut s = st.stats.clone();
        s.unacked = st.unacked.len() as u64;
        s
    }

    /// Takes the latencies measured so far: (first reply, ack), each from the
    /// message's first delivery.
    pub fn take_latencies(&self) -> (Vec<Duration>, Vec<Duration>) {
        let mut st = self.state();
        (
            std::mem::take(&mut st.reply_latency),
            std::mem::take(&mut st.ack_latency),
        )
    }

    /// What `welcome` lists from the next connection on (default: `orders`);
    /// without `orders` the gateway sends no order events and refuses sends.
    pub fn set_features(&self, features: &[&str]) {
        self.state().features = features.iter().map(|f| f.to_string()).collect();
    }

    /// Something happens to an order of `conversation` (created on its first
    /// event, for `buyer_id`): the order is recorded and the event sent to
    /// the bot until acknowledged. `ts_ms` stamps the event. Returns the
    /// event id.
    #[allow(clippy::too_many_arguments)]
    pub fn order_event(
        &self,
        conversation: &str,
        buyer_id: &str,
        order: &str,
        status: OrderStatus,
        items: Vec<OrderItem>,
        total: Option<f64>,
        address: Option<&str>,
        shipping: Option<(&str, &str)>,
        ts_ms: i64,
    ) -> Result<String, GatewayError> {
        valid_id("conversation", conversation)?;
        valid_id("buyer id", buyer_id)?;
        valid_id("order", order)?;
        let id = {
            let mut guard = self.state();
            let st = &mut *guard;
            if !st.features.iter().any(|f| f == frame::FEATURE_ORDERS) {
                return Err(GatewayError::Conflict(
                    "this gateway has no orders feature".into(),
                ));
            }
            let full = st.conversations.len() >= st.max_conversations;
            if full && !st.conversations.contains_key(conversation) {
                return Err(GatewayError::Limit(format!(
                    "the gateway holds {} conversations, its most",
                    st.max_conversations
                )));
            }
            let c = st
                .conversations
                .entry(conversation.to_string())
                .or_insert_with(|| {
                    Conv::new(
                        conversation,
                        BuyerView {
                            id: buyer_id.to_string(),
                            name: String::new(),
                        },
                        ts_ms,
                        None,
                    )
                });
            let known = c.orders.iter().position(|o| o.id == order);
            if known.is_none() && c.orders.len() >= MAX_ORDERS_PER_CONVERSATION {
                return Err(GatewayError::Limit(format!(
                    "this conversation has {MAX_ORDERS_PER_CONVERSATION} orders, its most"
                )));
            }
            let i = known.unwrap_or_else(|| {
                c.orders.push(OrderView {
                    id: order.to_string(),
                    status: status.as_str().into(),
                    items: items.clone(),
                    total,
                    courier: None,
                    tracking: None,
                    updated_ms: ts_ms,
                });
                c.orders.len() - 1
            });
            let o = &mut c.orders[i];
            if OrderStatus::parse(&o.status).is_none_or(|s| status >= s) {
                o.status = status.as_str().into();
            }
            if !items.is_empty() {
                o.items = items.clone();
            }
            if total.is_some() {
                o.total = total;
            }
            if let Some((courier, tracking)) = shipping {
                o.courier = Some(courier.to_string());
                o.tracking = Some(tracking.to_string());
            }
            o.updated_ms = ts_ms;
            let buyer = c.buyer.clone();
            st.next_id += 1;
            let id = format!("e-{}", st.next_id);
            let ev = OrderEvent {
                id: id.clone(),
                order: order.to_string(),
                conversation: conversation.to_string(),
                shop: Some(self.shared.config.name.clone()),
                buyer: Some(OrderBuyer {
                    id: Some(buyer.id.clone()),
                    name: (!buyer.name.is_empty()).then_some(buyer.name),
                }),
                status,
                ts: Some(rfc3339(ts_ms)),
                items,
                total,
                address: address.map(str::to_string),
                courier: shipping.map(|s| s.0.to_string()),
                tracking: shipping.map(|s| s.1.to_string()),
            };
            let f = serde_json::to_string(&ToBot::Order(ev)).unwrap_or_default();
            st.stats.orders += 1;
            self.deliver_frame(st, &id, conversation, f);
            id
        };
        self.event(Some(conversation), "message");
        Ok(id)
    }

    /// A conversation's orders with what the bot sent about each (console).
    pub fn orders(&self, conversation: &str) -> Result<Vec<OrderDetail>, GatewayError> {
        let st = self.state();
        let c = st
            .conversations
            .get(conversation)
            .ok_or_else(|| GatewayError::NotFound(conversation.into()))?;
        Ok(c.orders
            .iter()
            .map(|o| {
                let prefix = format!("s-{}/", o.id);
                OrderDetail {
                    order: o.clone(),
                    sent: c
                        .messages
                        .iter()
                        .filter_map(|m| {
                            let kind = m.id.strip_prefix(&prefix)?;
                            Some(SentView {
                                kind: kind.to_string(),
                                text: m.text.clone(),
                                ts_ms: m.ts_ms,
                            })
                        })
                        .collect(),
                }
            })
            .collect())
    }

    /// The buyer page places an order for one of the demo's items (`token`
    /// checked). Returns the order id.
    pub fn buyer_order(
        &self,
        conversation: &str,
        token: &str,
        title: &str,
    ) -> Result<String, GatewayError> {
        self.check_token(conversation, token)?;
        if !self.shared.config.items.iter().any(|(_, t)| t == title) {
            return Err(GatewayError::Invalid("pick one of the shop's items".into()));
        }
        let buyer = {
            let st = self.state();
            let c = st
                .conversations
                .get(conversation)
                .ok_or_else(|| GatewayError::NotFound(conversation.into()))?;
            c.buyer.id.clone()
        };
        // A believable price from the title, the same for the same item.
        let price = 59.0
            + f64::from(
                title
                    .bytes()
                    .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
                    % 200,
            );
        let order = format!("o-{}", random_hex(6));
        let item = OrderItem {
            id: None,
            title: Some(title.to_string()),
            options: None,
            qty: Some(1),
            price: Some(price),
        };
        self.order_event(
            conversation,
            &buyer,
            &order,
            OrderStatus::Created,
            vec![item],
            Some(price),
            Some("浙江省杭州市西湖区文三路 ***"),
            None,
            now_ms(),
        )?;
        Ok(order)
    }

    /// The buyer page pays an order of its conversation (`token` checked).
    pub fn buyer_pay(
        &self,
        conversation: &str,
        token: &str,
        order: &str,
    ) -> Result<(), GatewayError> {
        self.check_token(conversation, token)?;
        let buyer = {
            let st = self.state();
            let c = st
                .conversations
                .get(conversation)
                .ok_or_else(|| GatewayError::NotFound(conversation.into()))?;
            match c.orders.iter().find(|o| o.id == order) {
                None => return Err(GatewayError::NotFound(order.into())),
                Some(o) if o.status != "created" => {
                    return Err(GatewayError::Conflict(format!(
                        "the order is {} already",
                        o.status
                    )))
                }
                Some(_) => {}
            }
            c.buyer.id.clone()
        };
        self.order_event(
            conversation,
            &buyer,
            order,
            OrderStatus::Paid,
            Vec::new(),
            None,
            Some("浙江省杭州市西湖区文三路 ***"),
            None,
            now_ms(),
        )
        .map(drop)
    }

    /// Drops the bot's connection (tests, chaos runs): it must reconnect.
    pub fn drop_bot(&self) {
        let mut st = self.state();
        let ids: Vec<u64> = st.bots.iter().map(|b| b.id).collect();
        for id in ids {
            if let Some(b) = st.bots.iter().find(|b| b.id == id) {
                b.kill.notify_one();
            }
            st.bot_left(id);
        }
    }

    /// Sends a raw text frame to the bot (tests of malformed frames).
    pub fn send_raw(&self, text: &str) -> bool {
        match self.state().bots.first() {
            Some(b) => b.tx.send(WsMessage::text(text.to_string())).is_ok(),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_341_600_000), "2026-11-22T10:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn web_input_is_checked() {
        let gw = Gateway::new(GatewayConfig {
            name: "t".into(),
            token: "k".into(),
            shop: "s".into(),
            items: vec![],
        });
        let rows: &[(&str, &str, &str)] = &[
            ("", "b", "有货吗"),
            ("c 1", "b", "有货吗"),
            ("c<1>", "b", "有货吗"),
            ("c-1", "", "有货吗"),
            ("c-1", "b", "   "),
        ];
        for (c, b, t) in rows {
            assert!(matches!(
                gw.buyer_message(c, b, "", t, None),
                Err(GatewayError::Invalid(_))
            ));
        }
        let long = "货".repeat(MAX_TEXT_CHARS + 1);
        assert!(gw.buyer_message("c-1", "b", "", &long, None).is_err());
        assert!(gw.buyer_message("c-1", "b", "", "有货吗", None).is_ok());
        assert!(matches!(
            gw.agent_message("c-1", "a-1", "hi"),
            Err(GatewayError::Conflict(_))
        ));
        assert!(matches!(
            gw.takeover("c-404", "a-1"),
            Err(GatewayError::NotFound(_))
        ));
    }

    #[test]
    fn conversations_are_capped_owned_and_need_their_token() {
        let gw = Gateway::new(GatewayConfig {
            name: "t".into(),
            token: "k".into(),
            shop: "s".into(),
            items: vec![],
        });
        for _ in 0..MAX_MESSAGES_PER_CONVERSATION {
            gw.buyer_message("c-1", "b", "", "在吗", None).unwrap();
        }
        assert!(matches!(
            gw.buyer_message("c-1", "b", "", "在吗", None),
            Err(GatewayError::Limit(_))
        ));
        // Only the agent who holds a conversation acts in it.
        gw.buyer_message("c-2", "b", "", "我要投诉", None).unwrap();
        gw.takeover("c-2", "a-1").unwrap();
        let before = gw.conversation("c-2").unwrap().messages.unwrap().len();
        let rows: &[(&str, Result<(), GatewayError>)] = &[
            ("takeover", gw.takeover("c-2", "a-2").map(drop)),
            ("reply", gw.agent_message("c-2", "a-2", "hi").map(drop)),
            ("release", gw.release("c-2", "a-2").map(drop)),
        ];
        for (what, r) in rows {
            assert!(
                matches!(r, Err(GatewayError::Forbidden(_))),
                "{what}: {r:?}"
            );
        }
        let c = gw.conversation("c-2").unwrap();
        assert_eq!(c.agent.as_deref(), Some("a-1"));
        assert_eq!(c.messages.unwrap().len(), before);
        gw.agent_message("c-2", "a-1", "您好").unwrap();
        gw.release("c-2", "a-1").unwrap();
        // Agent ids: the configuration's rule.
        for bad in ["a@b", "小美", ""] {
            assert!(matches!(
                gw.takeover("c-2", bad),
                Err(GatewayError::Invalid(_))
            ));
        }
        // The buyer page's conversations answer their token only.
        let (id, token) = gw.open_conversation().unwrap();
        let (other, other_token) = gw.open_conversation().unwrap();
        assert_ne!(id, other);
        assert!(
            gw.conversations().iter().all(|c| c.id != id),
            "empty ones are not listed"
        );
        for wrong in ["", "x", other_token.as_str()] {
            assert!(matches!(
                gw.buyer_post(&id, wrong, "", "在吗", None),
                Err(GatewayError::Forbidden(_))
            ));
            assert!(gw.buyer_view(&id, wrong).is_err());
        }
        assert!(
            matches!(
                gw.buyer_post("c-2", &token, "", "在吗", None),
                Err(GatewayError::Forbidden(_))
            ),
            "in-process conversations have no token"
        );
        gw.buyer_post(&id, &token, "张三", "在吗", None).unwrap();
        let v = gw.buyer_view(&id, &token).unwrap();
        assert_eq!(v.messages.len(), 1);
        assert_eq!(v.messages[0].name.as_deref(), Some("张三"));
    }

    /// A `send` reaches the buyer once however often the bot repeats it; the
    /// console's order list shows it beside its order. Without the orders
    /// feature there are no order events and sends are refused.
    #[test]
    fn sends_are_delivered_once_and_listed_with_their_order() {
        let gw = Gateway::new(GatewayConfig {
            name: "t".into(),
            token: "k".into(),
            shop: "s".into(),
            items: vec![],
        });
        gw.order_event(
            "c-1",
            "b-1",
            "o-1",
            OrderStatus::Created,
            vec![],
            Some(9.0),
            None,
            None,
            0,
        )
        .unwrap();
        gw.order_event(
            "c-1",
            "b-1",
            "o-1",
            OrderStatus::Paid,
            vec![],
            None,
            None,
            None,
            1,
        )
        .unwrap();
        // A late `created` does not move the order back.
        gw.order_event(
            "c-1",
            "b-1",
            "o-1",
            OrderStatus::Created,
            vec![],
            None,
            None,
            None,
            2,
        )
        .unwrap();
        let send = FromBot::Send {
            id: "o-1/order_check".into(),
            conversation: "c-1".into(),
            kind: "order_check".into(),
            order: Some("o-1".into()),
            text: "亲，核对一下".into(),
        }
        .to_json();
        for _ in 0..3 {
            gw.on_bot_frame(0, &send);
        }
        let s = gw.stats();
        assert_eq!((s.orders, s.sends, s.send_repeats), (3, 1, 2));
        let orders = gw.orders("c-1").unwrap();
        assert_eq!(orders.len(), 1);
        assert_eq!(orders[0].order.status, "paid");
        assert_eq!(orders[0].sent.len(), 1);
        assert_eq!(orders[0].sent[0].kind, "order_check");
        assert!(matches!(gw.orders("c-404"), Err(GatewayError::NotFound(_))));
        gw.set_features(&[]);
        assert!(gw
            .order_event(
                "c-1",
                "b-1",
                "o-2",
                OrderStatus::Created,
                vec![],
                None,
                None,
                None,
                3
            )
            .is_err());
        gw.on_bot_frame(0, &send.replace("o-1/order_check", "o-1/other"));
        assert_eq!(gw.stats().bad_frames, 1);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"ab"));
    }
}
