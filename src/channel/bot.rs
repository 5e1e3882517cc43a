//! The bot's side of a conversation: one task per conversation handles its
//! events in arrival order (so answers keep the buyer's order), while
//! different conversations run concurrently and never wait for each other.
//!
//! For each buyer message the task decides, stores the message, the decision,
//! the frames it will send and the new conversation state in one transaction,
//! and only then sends the frames and the `ack`. A message id already stored
//! is acknowledged again and never answered twice, across restarts too.
//!
//! Decisions run on a bounded blocking pool ([`DECIDE_THREADS`]), never on the
//! async workers, each within [`DECIDE_WITHIN`]: one that misses it hands the
//! chat to a person (reason `timeout`), stored and acknowledged like any
//! other, so a slow message neither stops other conversations nor comes back
//! after every restart.
//!
//! A hand-off (takeover, release) holds in memory at once, so the bot falls
//! silent the moment an agent takes over; if the store refuses it, it is
//! written again with every later write of the conversation and on its own
//! every [`HANDOFF_RETRY_FIRST`]..[`HANDOFF_RETRY_MAX`] until stored.

use crate::channel::frame::{FromBot, Message, Role};
use crate::dialogue::{Conversation, Decision, Snapshot};
use crate::engine::Engine;
use crate::files::Action;
use crate::logsafe::escape;
use crate::metrics as m;
use crate::store::{Op, Store};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

/// Longest one decision may take, waiting for a thread of the pool included;
/// past it the chat goes to a person with reason [`TIMEOUT_REASON`].
pub const DECIDE_WITHIN: Duration = Duration::from_secs(5);
/// Decisions running at once. A decision past its deadline keeps its thread
/// until it ends (a thread cannot be stopped), so this bounds the threads a
/// flood of slow messages can hold; the rest of the pool keeps deciding.
pub const DECIDE_THREADS: usize = 8;
/// The escalation reason of a decision that missed [`DECIDE_WITHIN`].
pub const TIMEOUT_REASON: &str = "timeout";
/// First wait before writing a hand-off the store refused again.
pub const HANDOFF_RETRY_FIRST: Duration = Duration::from_millis(500);
/// Longest wait between hand-off write attempts.
pub const HANDOFF_RETRY_MAX: Duration = Duration::from_secs(30);
/// At shutdown, how long a hand-off the store still refuses is retried.
pub const HANDOFF_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Code run on the decision's thread just before deciding (tests).
type DecideHook = Arc<dyn Fn(&str) + Send + Sync>;
/// A change to the configured proactive rules.
type RulesAdjust = Arc<dyn Fn(&mut crate::proactive::rules::Rules) + Send + Sync>;

/// Who speaks in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The bot answers.
    Bot,
    /// Handed to a person; the bot is silent until `release`.
    Escalated,
    /// An agent owns it; the bot is silent until `release`.
    Taken,
}

impl Status {
    /// The status's name (store, console).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Bot => "bot",
            Status::Escalated => "escalated",
            Status::Taken => "taken",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "escalated" => Status::Escalated,
            "taken" => Status::Taken,
            _ => Status::Bot,
        }
    }
}

/// What a conversation task receives.
#[derive(Debug)]
pub enum Event {
    /// A chat message (any role).
    Message(Message),
    /// An agent owns the conversation.
    Takeover(Option<String>),
    /// The agent hands it back.
    Release(Option<String>),
    /// Something happened to an order of this conversation (protocol 1.1).
    Order(crate::channel::frame::OrderEvent),
}

/// What the bot shares between its conversation tasks.
pub struct Bot {
    engine: RwLock<Arc<Engine>>,
    store: Arc<Store>,
    outbox: mpsc::Sender<String>,
    /// Escalated conversations no agent has taken yet (the agents' queue).
    waiting: std::sync::atomic::AtomicI64,
    /// Threads of the decision pool ([`DECIDE_THREADS`]).
    deciders: Arc<Semaphore>,
    decide_hook: OnceLock<DecideHook>,
    /// The clock of everything proactive (tests move their own).
    clock: OnceLock<Arc<dyn crate::proactive::Clock>>,
    /// The gateway's last `welcome` listed the `orders` feature.
    orders: std::sync::atomic::AtomicBool,
    /// A connection was welcomed since the scheduler last looked: unanswered
    /// sends go again at once.
    reconnected: std::sync::atomic::AtomicBool,
    /// Wakes the scheduler (an order event made something due).
    proactive_wake: tokio::sync::Notify,
    /// Changes to the configured proactive rules (the demo's short reminder
    /// delay; tests' rules on a shared engine).
    rules_adjust: OnceLock<RulesAdjust>,
    /// Welcomed connections so far ([`Bot::new_connection`]).
    generation: std::sync::atomic::AtomicU64,
}

impl Bot {
    /// A bot answering with `engine`, storing in `store`, sending frames into
    /// `outbox` (the connection writes them out, in order).
    pub fn new(engine: Arc<Engine>, store: Arc<Store>, outbox: mpsc::Sender<String>) -> Arc<Bot> {
        // A file answers at once; a server's count comes with the first escalation.
        let waiting = store
            .as_sqlite()
            .and_then(|s| s.waiting().ok())
            .unwrap_or(0);
        Arc::new(Bot {
            engine: RwLock::new(engine),
            store,
            outbox,
            waiting: std::sync::atomic::AtomicI64::new(waiting),
            deciders: Arc::new(Semaphore::new(DECIDE_THREADS)),
            decide_hook: OnceLock::new(),
            clock: OnceLock::new(),
            orders: std::sync::atomic::AtomicBool::new(false),
            reconnected: std::sync::atomic::AtomicBool::new(false),
            proactive_wake: tokio::sync::Notify::new(),
            rules_adjust: OnceLock::new(),
            generation: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// A new connection was welcomed: conversations may have been served by
    /// another instance meanwhile, so each reloads its state from the store
    /// before its next event.
    pub(crate) fn new_connection(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Uses `clock` for everything proactive (once per bot, before events;
    /// tests move it).
    pub fn set_clock(&self, clock: Arc<dyn crate::proactive::Clock>) {
        let _ = self.clock.set(clock);
    }

    /// The clock of everything proactive.
    pub fn clock(&self) -> Arc<dyn crate::proactive::Clock> {
        self.clock
            .get()
            .cloned()
            .unwrap_or_else(|| Arc::new(crate::proactive::SystemClock))
    }

    /// Changes the configured proactive rules with `adjust` (once per bot;
    /// it applies to every reload too).
    pub fn set_rules_adjust(
        &self,
        adjust: impl Fn(&mut crate::proactive::rules::Rules) + Send + Sync + 'static,
    ) {
        let _ = self.rules_adjust.set(Arc::new(adjust));
    }

    /// The demo: reminders `ms` after the order, at any hour.
    pub fn set_reminder_override(&self, ms: i64) {
        self.set_rules_adjust(move |r| {
            r.payment_reminder_after = ms;
            r.working_hours = (0, 24 * 60);
        });
    }

    /// The proactive rules in force with `engine`.
    pub fn rules(&self, engine: &Engine) -> crate::proactive::rules::Rules {
        let mut r = engine.config.proactive().clone();
        if let Some(adjust) = self.rules_adjust.get() {
            adjust(&mut r);
        }
        r
    }

    /// Records what the gateway's `welcome` said about the `orders` feature.
    pub fn set_orders_feature(&self, on: bool) {
        use std::sync::atomic::Ordering::SeqCst;
        self.orders.store(on, SeqCst);
        if on {
            self.reconnected.store(true, SeqCst);
            self.proactive_wake.notify_one();
        }
    }

    /// True while the gateway has the `orders` feature.
    pub fn orders_feature(&self) -> bool {
        self.orders.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn take_reconnected(&self) -> bool {
        self.reconnected
            .swap(false, std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn wake_proactive(&self) {
        self.proactive_wake.notify_one();
    }

    pub(crate) async fn proactive_woken(&self) {
        self.proactive_wake.notified().await
    }

    pub(crate) async fn send_frame(&self, frame: &FromBot) {
        self.send(frame).await
    }

    pub(crate) async fn send_text(&self, frame: String) {
        let _ = self.outbox.send(frame).await;
    }

    /// Runs `hook` with each buyer text on the decision's thread just before
    /// deciding (once per bot). Tests use it to make a decision slow.
    #[doc(hidden)]
    pub fn set_decide_hook(&self, hook: impl Fn(&str) + Send + Sync + 'static) {
        let _ = self.decide_hook.set(Arc::new(hook));
    }

    /// Escalated conversations waiting for an agent.
    pub fn waiting(&self) -> i64 {
        self.waiting.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The shared queue as the store counts it (every instance's escalations).
    async fn waiting_now(&self) -> i64 {
        match self.store.waiting().await {
            Ok(n) => {
                self.waiting.store(n, std::sync::atomic::Ordering::Relaxed);
                metrics::gauge!(m::WAITING).set(n as f64);
                n
            }
            Err(_) => self.waiting(),
        }
    }

    fn add_waiting(&self, n: i64) {
        let now = self
            .waiting
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed)
            + n;
        metrics::gauge!(m::WAITING).set(now as f64);
    }

    /// The engine in force.
    pub fn engine(&self) -> Arc<Engine> {
        self.engine
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Puts a new engine in force (hot reload); messages in hand finish on the old one.
    pub fn set_engine(&self, engine: Arc<Engine>) {
        *self.engine.write().unwrap_or_else(|p| p.into_inner()) = engine;
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Queues `frame` for the connection; waits while the outbox is full.
    async fn send(&self, frame: &FromBot) {
        // The receiver lives as long as the process's connection loop.
        let _ = self.outbox.send(frame.to_json()).await;
    }
}

/// A conversation task that heard nothing for this long ends; its state is in
/// the store and a new task picks it up when the buyer writes again.
pub const IDLE_AFTER: std::time::Duration = std::time::Duration::from_secs(600);

/// A conversation's slot in the dispatcher. The lease is held by the
/// conversation's task for its whole life, so a new task for the same
/// conversation starts only after the previous one has finished (and stored)
/// everything it was given.
struct Slot {
    tx: mpsc::UnboundedSender<Queued>,
    lease: Arc<tokio::sync::Mutex<()>>,
}

/// An event with the connection's permit for it: the conversation queues are
/// bounded together by the permits ([`crate::channel::MAX_IN_FLIGHT`]).
type Queued = (Event, Option<OwnedSemaphorePermit>);

/// Routes events to conversation tasks, starting one per new conversation.
pub struct Dispatcher {
    bot: Arc<Bot>,
    conversations: HashMap<String, Slot>,
    tasks: JoinSet<()>,
    idle_after: std::time::Duration,
    dispatched: u64,
}

impl Dispatcher {
    /// A dispatcher for `bot`.
    pub fn new(bot: Arc<Bot>) -> Dispatcher {
        Dispatcher {
            bot,
            conversations: HashMap::new(),
            tasks: JoinSet::new(),
            idle_after: IDLE_AFTER,
            dispatched: 0,
        }
    }

    /// Ends conversation tasks after `idle` without events (tests use a short one).
    pub fn with_idle(mut self, idle: std::time::Duration) -> Dispatcher {
        self.idle_after = idle;
        self
    }

    /// Hands `event` to its conversation's task; `permit` is released once
    /// the event has been handled.
    pub fn dispatch(
        &mut self,
        conversation: &str,
        event: Event,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        let event: Queued = (event, permit);
        // Reap finished tasks now and then so the set does not grow.
        while let Some(r) = self.tasks.try_join_next() {
            if let Err(e) = r {
                tracing::error!(error = %e, "a conversation task failed");
            }
        }
        self.dispatched += 1;
        if self.dispatched % 4096 == 0 {
            self.sweep();
        }
        let (event, lease) = match self.conversations.get(conversation) {
            Some(slot) => match slot.tx.send(event) {
                Ok(()) => return,
                // The task went idle and ended (or is ending): a new one
                // waits for it through the lease.
                Err(mpsc::error::SendError(ev)) => (ev, slot.lease.clone()),
            },
            None => (event, Arc::new(tokio::sync::Mutex::new(()))),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(event);
        self.conversations.insert(
            conversation.to_string(),
            Slot {
                tx,
                lease: lease.clone(),
            },
        );
        let bot = self.bot.clone();
        let id = conversation.to_string();
        let idle = self.idle_after;
        self.tasks.spawn(async move {
            let _held = lease.lock_owned().await;
            conversation_task(bot, id, rx, idle).await
        });
    }

    /// Forgets the slots of conversations whose task has ended.
    fn sweep(&mut self) {
        self.conversations
            .retain(|_, slot| !slot.tx.is_closed() || slot.lease.try_lock().is_err());
    }

    /// Lets every task finish the events in hand, then returns.
    pub async fn finish(&mut self) {
        self.conversations.clear();
        while let Some(r) = self.tasks.join_next().await {
            if let Err(e) = r {
                tracing::error!(error = %e, "a conversation task failed");
            }
        }
    }
}

/// A conversation's live state.
struct Live {
    /// The engine the dialogue state's intent numbers refer to.
    engine: Arc<Engine>,
    id: String,
    status: Status,
    agent: Option<String>,
    dialogue: Conversation,
    handled: HashSet<String>,
    /// Hand-offs in force in memory that the store has not taken yet; written
    /// with the next write of this conversation, or retried on their own.
    unsaved: Vec<Op>,
    /// The connection generation the state was read in ([`Bot::new_connection`]).
    generation: u64,
}

/// Notes `id` as handled. The set is the redelivery fast path only (the
/// store's claim is the authority), so past its bound it starts afresh
/// rather than grow with the conversation.
fn remember(live: &mut Live, id: &str) {
    if live.handled.len() >= crate::store::HANDLED_RECENT {
        live.handled.clear();
    }
    live.handled.insert(id.to_string());
}

async fn load(bot: &Bot, id: &str) -> Live {
    let mut live = Live {
        generation: bot.generation(),
        engine: bot.engine(),
        id: id.to_string(),
        status: Status::Bot,
        agent: None,
        dialogue: Conversation::default(),
        handled: HashSet::new(),
        unsaved: Vec::new(),
    };
    match bot.store.conversation(id).await {
        Ok(Some(stored)) => {
            live.status = Status::parse(&stored.status);
            live.agent = stored.agent;
            live.handled = stored.handled;
            if !stored.state.is_empty() {
                match serde_json::from_str::<Snapshot>(&stored.state) {
                    Ok(s) => live.dialogue = Conversation::restore(&s, &live.engine),
                    Err(e) => {
                        tracing::warn!(conversation = %escape(id), error = %e, "stored dialogue state unreadable; starting it afresh")
                    }
                }
            }
        }
        Ok(None) => {}
        Err(e) => {
            tracing::error!(conversation = %escape(id), error = %e, "cannot read the conversation's state")
        }
    }
    live
}

async fn conversation_task(
    bot: Arc<Bot>,
    id: String,
    mut rx: mpsc::UnboundedReceiver<Queued>,
    idle: std::time::Duration,
) {
    let mut live = load(&bot, &id).await;
    let mut retry = HANDOFF_RETRY_FIRST;
    // True when this task ended itself (idle), false when the dispatcher
    // let go of it (shutdown).
    let mut went_idle = false;
    loop {
        // A hand-off not stored yet is written again after `retry`.
        let wait = if live.unsaved.is_empty() { idle } else { retry };
        match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Some((e, _permit))) => handle(&bot, &mut live, e).await,
            Ok(None) => break,
            Err(_) if !live.unsaved.is_empty() => {
                if save_handoffs(&bot, &mut live).await {
                    retry = HANDOFF_RETRY_FIRST;
                } else {
                    retry = (retry * 2).min(HANDOFF_RETRY_MAX);
                }
            }
            Err(_) => {
                // Idle: refuse new events, finish what already came, end.
                rx.close();
                while let Ok((e, _permit)) = rx.try_recv() {
                    handle(&bot, &mut live, e).await;
                }
                went_idle = true;
                break;
            }
        }
    }
    // A hand-off the store still refuses. Idle: keep trying; the next task of
    // this conversation waits for this one (the lease), so nothing answers
    // meanwhile. Shutting down: try for a while, then say so loudly.
    let give_up = tokio::time::Instant::now() + HANDOFF_SHUTDOWN_GRACE;
    while !live.unsaved.is_empty() {
        tokio::time::sleep(retry).await;
        if save_handoffs(&bot, &mut live).await {
            break;
        }
        retry = (retry * 2).min(HANDOFF_RETRY_MAX);
        if !went_idle && tokio::time::Instant::now() >= give_up {
            tracing::error!(
                conversation = %escape(&live.id),
                status = live.status.as_str(),
                "stopping with a hand-off the store refused: it is not stored"
            );
            break;
        }
    }
}

/// Writes the hand-offs not stored yet with the conversation's state; true
/// when stored.
async fn save_handoffs(bot: &Bot, live: &mut Live) -> bool {
    metrics::counter!(m::HANDOFF_RETRIES).increment(1);
    let engine = current_engine(bot, live);
    let mut ops = live.unsaved.clone();
    ops.push(state_op(&engine, live));
    match bot.store.write(ops).await {
        Ok(_) => {
            live.unsaved.clear();
            tracing::info!(conversation = %escape(&live.id), status = live.status.as_str(), "hand-off stored after a retry");
            true
        }
        Err(e) => {
            metrics::counter!(m::STORE_ERRORS).increment(1);
            tracing::error!(conversation = %escape(&live.id), error = %e, "hand-off still not stored; retrying (the bot stays silent meanwhile)");
            false
        }
    }
}

async fn handle(bot: &Bot, live: &mut Live, event: Event) {
    // Reconnected since the state was read: another instance may have served
    // this conversation meanwhile (the store is shared), so read it again.
    // A hand-off not stored yet stays in force (memory wins until stored).
    if live.generation != bot.generation() && live.unsaved.is_empty() {
        *live = load(bot, &live.id).await;
    }
    match event {
        Event::Message(m) => on_message(bot, live, m).await,
        Event::Takeover(agent) => on_handoff(bot, live, Status::Taken, agent).await,
        Event::Release(agent) => on_handoff(bot, live, Status::Bot, agent).await,
        Event::Order(ev) => crate::proactive::on_order(bot, ev).await,
    }
}

fn state_op(engine: &Engine, live: &Live) -> Op {
    Op::State {
        conversation: live.id.clone(),
        status: live.status.as_str().to_string(),
        agent: live.agent.clone(),
        state: serde_json::to_string(&live.dialogue.snapshot(engine)).unwrap_or_default(),
    }
}

/// The busy line when more than `escalation.busy_after` chats wait for an
/// agent (`waiting` counts this one): the expected wait, counted live.
fn busy_line(
    engine: &Engine,
    waiting: i64,
    lang: crate::nlu::lang::Lang,
    seed: &str,
) -> Option<String> {
    let e = &engine.config.escalation;
    if e.busy_after == 0 || waiting <= i64::from(e.busy_after) {
        return None;
    }
    let minutes = (waiting.max(1) as u64) * u64::from(e.minutes_per_waiting.max(1));
    let n = seed
        .bytes()
        .fold(0usize, |a, b| a.wrapping_mul(31).wrapping_add(b as usize));
    Some(engine.replies.render_with(
        crate::reply::Key::System("busy"),
        lang,
        n,
        &[("wait_minutes", minutes.to_string())],
    ))
}

/// The escalation's one line for the agent: the reason's label and the message.
fn summary(engine: &Engine, reason: &str, text: &str) -> String {
    let label = engine
        .config
        .escalation
        .labels
        .get(reason)
        .map(String::as_str)
        .unwrap_or(reason);
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = text.chars().take(60).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("{label}: {short}")
}

/// How a decision off the async workers ended.
enum Decided {
    /// In time: the decision and the dialogue state after it.
    Done(Decision, Conversation),
    /// Past [`DECIDE_WITHIN`] (waiting for a thread included).
    TimedOut,
    /// The decision panicked.
    Failed,
}

/// Decides on `text` on the decision pool, within [`DECIDE_WITHIN`]. The
/// dialogue state goes along as a copy, so a decision that is abandoned
/// leaves the conversation's state as it was.
async fn decide(
    bot: &Bot,
    engine: &Arc<Engine>,
    dialogue: &Conversation,
    text: &str,
    item: Option<&crate::channel::frame::Item>,
    ts: Option<&str>,
) -> Decided {
    let engine = engine.clone();
    let mut dialogue = dialogue.clone();
    let text = text.to_string();
    let item = item.cloned();
    let ts = ts.map(str::to_string);
    let hook = bot.decide_hook.get().cloned();
    let deciders = bot.deciders.clone();
    let run = async move {
        let Ok(thread) = deciders.acquire_owned().await else {
            return Decided::Failed;
        };
        let job = tokio::task::spawn_blocking(move || {
            let _thread = thread;
            if let Some(hook) = hook {
                hook(&text);
            }
            let options: Vec<(String, String)> = item
                .as_ref()
                .and_then(|i| i.options.clone())
                .map(|o| o.into_iter().collect())
                .unwrap_or_default();
            let ctx = crate::dialogue::Context {
                item_id: item.as_ref().and_then(|i| i.id.as_deref()),
                title: item.as_ref().and_then(|i| i.title.as_deref()),
                options: &options,
                ts: ts.as_deref(),
            };
            let d = engine.decide_on(&mut dialogue, &text, &ctx, false);
            (d, dialogue)
        });
        match job.await {
            Ok((d, dialogue)) => Decided::Done(d, dialogue),
            Err(_) => Decided::Failed,
        }
    };
    tokio::time::timeout(DECIDE_WITHIN, run)
        .await
        .unwrap_or(Decided::TimedOut)
}

async fn on_message(bot: &Bot, live: &mut Live, m: Message) {
    let arrived = std::time::Instant::now();
    metrics::counter!(m::MESSAGES, "role" => m.from.role.as_str()).increment(1);
    let ack = FromBot::Ack { id: m.id.clone() };
    if live.handled.contains(&m.id) {
        metrics::counter!(m::REDELIVERED).increment(1);
        tracing::debug!(id = %escape(&m.id), conversation = %escape(&live.id), "redelivered message: acknowledged again, not answered");
        bot.send(&ack).await;
        return;
    }
    let engine = current_engine(bot, live);
    let before = (live.status, live.agent.clone(), live.dialogue.clone());
    // Hand-offs the store refused so far go first, in the same transaction.
    let mut ops = live.unsaved.clone();
    ops.push(Op::Message {
        id: m.id.clone(),
        conversation: m.conversation.clone(),
        role: m.from.role.as_str().to_string(),
        sender: m.from.id.clone(),
        name: m.from.name.clone(),
        text: m.text.clone(),
        ts: m.ts.clone(),
        item: m.item.as_ref().and_then(|i| serde_json::to_string(i).ok()),
    });
    let mut frames = Vec::new();
    let mut delay = std::time::Duration::ZERO;
    let silent = |why: &str| Op::Decision {
        message_id: m.id.clone(),
        conversation: m.conversation.clone(),
        action: "silent".into(),
        intents: "[]".into(),
        confidence: None,
        reason: Some(why.into()),
        lang: None,
        reply: None,
    };
    if m.from.role != Role::Buyer {
        // Agents' and the platform's messages are history, never answered.
    } else if live.status != Status::Bot {
        ops.push(silent(live.status.as_str()));
    } else if m.text.trim().is_empty() {
        ops.push(silent("empty"));
    } else {
        let started = std::time::Instant::now();
        let decided = decide(
            bot,
            &engine,
            &live.dialogue,
            &m.text,
            m.item.as_ref(),
            m.ts.as_deref(),
        )
        .await;
        metrics::histogram!(m::DECIDE_SECONDS).record(started.elapsed().as_secs_f64());
        let d = match decided {
            Decided::Done(d, dialogue) => {
                live.dialogue = dialogue;
                Outcome::from(d)
            }
            Decided::TimedOut | Decided::Failed => {
                let timed_out = matches!(decided, Decided::TimedOut);
                metrics::counter!(m::DECIDE_TIMEOUTS).increment(1);
                tracing::error!(
                    id = %escape(&m.id),
                    conversation = %escape(&live.id),
                    chars = m.text.chars().count(),
                    "{}: the chat goes to a person",
                    if timed_out {
                        format!("no decision within {} ms", DECIDE_WITHIN.as_millis())
                    } else {
                        "the decision failed".to_string()
                    }
                );
                handed_over(&engine, live, &m.text, &m.id, TIMEOUT_REASON)
            }
        };
        let reason = d.reason.clone();
        ops.push(Op::Decision {
            message_id: m.id.clone(),
            conversation: m.conversation.clone(),
            action: d.action.as_str().into(),
            intents: serde_json::to_string(&d.intents).unwrap_or_default(),
            confidence: Some(d.confidence),
            reason: reason.clone(),
            lang: Some(d.lang.as_str().into()),
            reply: Some(d.reply.clone()),
        });
        let mut text = d.reply.clone();
        if d.action == Action::Escalate {
            if let Some(busy) = busy_line(&engine, bot.waiting_now().await + 1, d.lang, &m.id) {
                if d.lang == crate::nlu::lang::Lang::En {
                    text.push(' ');
                }
                text.push_str(&busy);
                if let Some(Op::Decision { reply, .. }) = ops.last_mut() {
                    *reply = Some(text.clone());
                }
            }
        }
        delay = engine.config.typing_delay(&d.intents, reason.as_deref());
        frames.push(FromBot::Reply {
            conversation: m.conversation.clone(),
            in_reply_to: m.id.clone(),
            text,
            intents: d.intents.clone(),
            confidence: (d.confidence * 1000.0).round() / 1000.0,
        });
        if d.action == Action::Escalate {
            let reason = reason.unwrap_or_else(|| "unclassified".into());
            let priority = engine.config.priority(&reason).to_string();
            let summary = d
                .summary
                .clone()
                .unwrap_or_else(|| summary(&engine, &reason, &m.text));
            ops.push(Op::EscalationOpened {
                conversation: m.conversation.clone(),
                message_id: m.id.clone(),
                reason: reason.clone(),
                priority: priority.clone(),
                summary: summary.clone(),
            });
            frames.push(FromBot::Escalate {
                conversation: m.conversation.clone(),
                in_reply_to: m.id.clone(),
                reason,
                intents: d.intents.clone(),
                priority,
                summary,
            });
            live.status = Status::Escalated;
        }
    }
    // The ack is not logged: the stored message is the acknowledgement, and
    // one row less per message is a statement less on the write path.
    for f in &frames {
        ops.push(Op::Outbound {
            conversation: Some(m.conversation.clone()),
            in_reply_to: Some(m.id.clone()),
            kind: f.kind().into(),
            frame: f.to_json(),
        });
    }
    frames.push(ack);
    ops.push(state_op(&engine, live));
    if !delay.is_zero() {
        // Typing. Nothing is stored yet, so a restart now means the gateway
        // redelivers the message and it is decided afresh: nothing lost.
        tokio::time::sleep(delay).await;
    }
    match bot.store.write(ops).await {
        Ok(crate::store::Written::Duplicate) => {
            // Another instance stored (and answered) it first: acknowledge
            // only, and carry on from what the store holds now.
            metrics::counter!(m::REDELIVERED).increment(1);
            tracing::info!(id = %escape(&m.id), conversation = %escape(&live.id), "message stored by another instance first: acknowledged, not answered");
            let unsaved = std::mem::take(&mut live.unsaved);
            let (status, agent) = (before.0, before.1);
            *live = load(bot, &live.id).await;
            if !unsaved.is_empty() {
                (live.status, live.agent, live.unsaved) = (status, agent, unsaved);
            }
            remember(live, &m.id);
            bot.send(&FromBot::Ack { id: m.id.clone() }).await;
        }
        Ok(crate::store::Written::Committed) => {
            remember(live, &m.id);
            live.unsaved.clear();
            if live.status == Status::Escalated && before.0 != Status::Escalated {
                bot.add_waiting(1);
            }
            for f in &frames {
                match f {
                    FromBot::Reply { intents, .. } => metrics::counter!(
                        m::REPLIES,
                        "intent" => intents.first().cloned().unwrap_or_default()
                    )
                    .increment(1),
                    FromBot::Escalate {
                        reason, priority, ..
                    } => metrics::counter!(
                        m::ESCALATIONS,
                        "reason" => reason.clone(),
                        "priority" => priority.clone()
                    )
                    .increment(1),
                    _ => {}
                }
                bot.send(f).await;
            }
            metrics::histogram!(m::HANDLE_SECONDS)
                .record(arrived.elapsed().saturating_sub(delay).as_secs_f64());
        }
        Err(e) => {
            metrics::counter!(m::STORE_ERRORS).increment(1);
            // Not stored, so not acknowledged: the gateway redelivers it later.
            tracing::error!(id = %escape(&m.id), conversation = %escape(&live.id), error = %e, "message not stored; left unacknowledged");
            (live.status, live.agent, live.dialogue) = before;
        }
    }
}

/// What is sent and stored about a decided message.
struct Outcome {
    intents: Vec<String>,
    action: Action,
    confidence: f32,
    reason: Option<String>,
    reply: String,
    lang: crate::nlu::lang::Lang,
    /// The decision's own escalation summary (the catalog's `商品 id: …`).
    summary: Option<String>,
}

impl From<Decision> for Outcome {
    fn from(d: Decision) -> Outcome {
        Outcome {
            summary: d.summary,
            reason: d.reason.as_ref().map(|r| r.as_str().to_string()),
            intents: d.intents,
            action: d.action,
            confidence: d.confidence,
            reply: d.reply,
            lang: d.lang,
        }
    }
}

/// The outcome when deciding failed or took too long: a holding line (the
/// one for messages the bot did not understand) and the chat to a person.
fn handed_over(engine: &Engine, live: &Live, text: &str, seed: &str, reason: &str) -> Outcome {
    use crate::nlu::lang::{detect, Lang};
    let lang = detect(text).or(live.dialogue.lang).unwrap_or(Lang::Zh);
    let n = seed
        .bytes()
        .fold(0usize, |a, b| a.wrapping_mul(31).wrapping_add(b as usize));
    Outcome {
        intents: Vec::new(),
        action: Action::Escalate,
        confidence: 0.0,
        reason: Some(reason.to_string()),
        reply: engine
            .replies
            .render_with(crate::reply::Key::System("unclassified"), lang, n, &[]),
        lang,
        summary: None,
    }
}

/// The engine in force; after a reload, the conversation's state is carried
/// over by intent id (the new files may number intents differently).
fn current_engine(bot: &Bot, live: &mut Live) -> Arc<Engine> {
    let engine = bot.engine();
    if !Arc::ptr_eq(&engine, &live.engine) {
        let snapshot = live.dialogue.snapshot(&live.engine);
        live.dialogue = Conversation::restore(&snapshot, &engine);
        live.engine = engine.clone();
    }
    engine
}

/// Puts a hand-off in force at once (the bot is silent from this moment in a
/// taken conversation) and stores it; a store error never undoes it: it stays
/// in `unsaved` and is written again until the store takes it.
async fn on_handoff(bot: &Bot, live: &mut Live, to: Status, agent: Option<String>) {
    let engine = current_engine(bot, live);
    let from = live.status;
    let who = agent.clone().unwrap_or_else(|| "agent".into());
    let op = if to == Status::Taken {
        live.agent = Some(who.clone());
        Op::Taken {
            conversation: live.id.clone(),
            agent: who,
        }
    } else {
        live.agent = None;
        // The agent settled what was asked: the bargaining ladder starts again.
        live.dialogue.bargains = 0;
        Op::Released {
            conversation: live.id.clone(),
            agent: who,
        }
    };
    live.status = to;
    if from == Status::Escalated && to != Status::Escalated {
        bot.add_waiting(-1);
    }
    live.unsaved.push(op);
    let mut ops = live.unsaved.clone();
    ops.push(state_op(&engine, live));
    match bot.store.write(ops).await {
        Ok(_) => {
            live.unsaved.clear();
            tracing::info!(conversation = %escape(&live.id), status = live.status.as_str(), agent = ?agent.as_deref().map(escape), "hand-off");
        }
        Err(e) => {
            metrics::counter!(m::STORE_ERRORS).increment(1);
            tracing::error!(conversation = %escape(&live.id), status = live.status.as_str(), error = %e, "hand-off not stored yet; it holds in memory and is retried until stored");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buyer(id: &str, text: &str) -> Event {
        Event::Message(Message {
            id: id.into(),
            conversation: "c-1".into(),
            shop: None,
            from: crate::channel::frame::Sender {
                role: Role::Buyer,
                id: None,
                name: None,
            },
            text: text.into(),
            ts: None,
            item: None,
        })
    }

    impl Dispatcher {
        fn dispatch_test(&mut self, conv: &str, e: Event) {
            self.dispatch(conv, e, None)
        }
    }

    async fn frames_until_ack(rx: &mut mpsc::Receiver<String>, id: &str) -> Vec<String> {
        let mut kinds = Vec::new();
        loop {
            let f = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
                .await
                .expect("a frame")
                .expect("open");
            let v: serde_json::Value = serde_json::from_str(&f).unwrap();
            kinds.push(v["type"].as_str().unwrap().to_string());
            if v["type"] == "ack" && v["id"] == id {
                return kinds;
            }
        }
    }

    /// An idle conversation's task ends; the next message starts a new one
    /// from the store: handled ids and the bargaining count are still there.
    #[tokio::test]
    async fn idle_conversations_end_and_come_back_from_the_store() {
        let dir = std::env::temp_dir().join(format!("xiaoer-idle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Arc::new(Store::open(&dir.join("s.db")).unwrap());
        let engine = Arc::new(
            Engine::load(
                crate::config::Config::defaults(),
                crate::engine::FileSource::Embedded,
            )
            .unwrap(),
        );
        let (tx, mut rx) = crate::channel::outbox();
        let bot = Bot::new(engine, store, tx);
        let mut d = Dispatcher::new(bot).with_idle(std::time::Duration::from_millis(30));
        d.dispatch_test("c-1", buyer("m-1", "能便宜点吗"));
        assert_eq!(frames_until_ack(&mut rx, "m-1").await, ["reply", "ack"]);
        d.dispatch_test("c-1", buyer("m-2", "再便宜一点吧"));
        assert_eq!(frames_until_ack(&mut rx, "m-2").await, ["reply", "ack"]);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(d.tasks.try_join_next().is_some(), "the idle task ended");
        d.dispatch_test("c-1", buyer("m-2", "再便宜一点吧"));
        assert_eq!(frames_until_ack(&mut rx, "m-2").await, ["ack"]);
        d.dispatch_test("c-1", buyer("m-3", "便宜点我就买"));
        assert_eq!(
            frames_until_ack(&mut rx, "m-3").await,
            ["reply", "escalate", "ack"]
        );
        d.finish().await;
    }

    /// A full outbox makes conversations wait, never drops a frame: with room
    /// for 2 frames, 30 conversations' replies and acks all come out, in
    /// order per conversation, once the connection reads again.
    #[tokio::test]
    async fn a_full_outbox_makes_conversations_wait_and_loses_nothing() {
        let dir = std::env::temp_dir().join(format!("xiaoer-outbox-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Arc::new(Store::open(&dir.join("s.db")).unwrap());
        let engine = Arc::new(
            Engine::load(
                crate::config::Config::defaults(),
                crate::engine::FileSource::Embedded,
            )
            .unwrap(),
        );
        let (tx, mut rx) = mpsc::channel(2);
        let bot = Bot::new(engine, store, tx);
        let mut d = Dispatcher::new(bot);
        for c in 0..30 {
            let conv = format!("c-{c}");
            let Event::Message(mut m) = buyer(&format!("m-{c}"), "几天能发货") else {
                unreachable!()
            };
            m.conversation = conv.clone();
            d.dispatch(&conv, Event::Message(m), None);
        }
        // Nobody reads for a while: the conversations wait on the outbox.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let mut got: HashMap<String, Vec<String>> = HashMap::new();
        while got.values().map(Vec::len).sum::<usize>() < 60 {
            let f = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
                .await
                .expect("frames keep coming")
                .expect("open");
            let v: serde_json::Value = serde_json::from_str(&f).unwrap();
            let id = v["in_reply_to"]
                .as_str()
                .or(v["id"].as_str())
                .unwrap()
                .to_string();
            got.entry(id)
                .or_default()
                .push(v["type"].as_str().unwrap().to_string());
        }
        for c in 0..30 {
            assert_eq!(got[&format!("m-{c}")], ["reply", "ack"], "m-{c}");
        }
        d.finish().await;
    }

    #[test]
    fn summaries_are_one_short_line() {
        let engine = crate::engine::Engine::load(
            crate::config::Config::defaults(),
            crate::engine::FileSource::Embedded,
        )
        .unwrap();
        let s = summary(&engine, "complaint", "东西坏了\n我要投诉");
        assert_eq!(s, "买家投诉: 东西坏了 我要投诉");
        let long = "很".repeat(100);
        assert_eq!(
            summary(&engine, "x_reason", &long).chars().count(),
            10 + 60 + 1
        );
    }
}
