//! Messages the bot starts itself (protocol 1.1): order events drive a
//! payment reminder (催付), an order check (核对) after payment, a shipped
//! note and a follow-up after delivery.
//!
//! - An `order` event is handled on its conversation's task, like a message:
//!   the event id, the order's merged state ([`merge`]: a late `created`
//!   after `paid` changes nothing) and the messages it makes due or cancels
//!   ([`plan`]) are stored in one transaction before the `ack`.
//! - Due messages are rows of the store. The scheduler ([`run`]) wakes every
//!   [`TICK`] (or when an event asks), takes the rows due by the bot's
//!   [`Clock`] and decides each one at that moment ([`Verdict`]): the order
//!   must still be in the state the message is about, the conversation must be
//!   the bot's (no agent, no complaint in [`COMPLAINT_DAYS`] days), the shop
//!   open, the buyer under the daily cap, and a line must be sayable with the
//!   order's facts. A message to send is stored as `sending` (text and frame)
//!   before its `send` frame goes out, and is sent again every
//!   [`RESEND_EVERY`] and after each reconnect until the gateway answers
//!   `sent`; the `send` id is stable (`<order>/<kind>`), so a gateway shows it
//!   to the buyer once, whatever a crash repeats.
//! - Nothing is sent to a gateway whose `welcome` lacks the `orders` feature.

pub mod lines;
pub mod rules;

use crate::channel::bot::Bot;
use crate::channel::frame::{FromBot, OrderEvent, OrderStatus};
use crate::logsafe::escape;
use crate::nlu::lang::Lang;
use crate::store::{Op, ProactiveRow, StoredOrder};
use rules::{Rules, DAY_MS};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the scheduler looks for due messages (besides being woken).
pub const TICK: Duration = Duration::from_millis(250);
/// A `send` not answered with `sent` goes again after this long.
pub const RESEND_EVERY: Duration = Duration::from_secs(10);
/// A `send` still unanswered this long (bot clock) after it first went out
/// is given up (`failed`), so a gateway that never answers costs nothing forever.
pub const GIVE_UP_AFTER_MS: i64 = DAY_MS;
/// An unpaid order older than this gets no reminder.
pub const REMINDER_MAX_AGE_MS: i64 = DAY_MS;
/// No started message in a conversation with a complaint this recent.
pub const COMPLAINT_DAYS: i64 = 7;
/// Rows the scheduler takes per pass (the rest wait for the next pass).
pub const BATCH: usize = 64;

/// The reasons, as `send.kind` names them.
pub const PAYMENT_REMINDER: &str = "payment_reminder";
/// After `paid`.
pub const ORDER_CHECK: &str = "order_check";
/// After `shipped`.
pub const SHIPPED_NOTICE: &str = "shipped_notice";
/// After `delivered`.
pub const DELIVERED_FOLLOWUP: &str = "delivered_followup";

/// The bot's time for everything proactive: a clock tests can move.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system's clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        crate::store::now_ms()
    }
}

/// A clock set by hand (tests): starts at a given time and moves only when
/// told.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock showing `ms`.
    pub fn new(ms: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock(AtomicI64::new(ms)))
    }

    /// Moves it by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets it to `ms`.
    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// When the event happened: its timestamp, never later than now (a gateway
/// clock ahead of ours must not push a reminder out); now when it has none.
fn event_ms(ev: &OrderEvent, now: i64) -> i64 {
    ev.ts
        .as_deref()
        .and_then(rules::parse_rfc3339)
        .map_or(now, |t| t.min(now))
}

/// The order after `ev`: the status only moves forward; facts of an event at
/// or past the stored status win, an older event only fills gaps; each
/// status's time is the first seen.
pub fn merge(prev: Option<&StoredOrder>, ev: &OrderEvent, now: i64, chatted: bool) -> StoredOrder {
    let at = event_ms(ev, now);
    let mut o = prev.cloned().unwrap_or_else(|| StoredOrder {
        id: ev.order.clone(),
        conversation: ev.conversation.clone(),
        status: ev.status.as_str().into(),
        items: "[]".into(),
        chatted,
        ..StoredOrder::default()
    });
    let before = OrderStatus::parse(&o.status).unwrap_or(OrderStatus::Created);
    let newer = prev.is_none() || ev.status >= before;
    let pick = |old: &mut Option<String>, new: &Option<String>| {
        if let Some(n) = new.as_ref().filter(|n| !n.trim().is_empty()) {
            if newer || old.is_none() {
                *old = Some(n.clone());
            }
        }
    };
    pick(&mut o.buyer, &ev.buyer.as_ref().and_then(|b| b.id.clone()));
    pick(&mut o.address, &ev.address);
    pick(&mut o.courier, &ev.courier);
    pick(&mut o.tracking, &ev.tracking);
    if !ev.items.is_empty() && (newer || o.items == "[]") {
        o.items = serde_json::to_string(&ev.items).unwrap_or_else(|_| "[]".into());
    }
    if ev.total.is_some() && (newer || o.total.is_none()) {
        o.total = ev.total;
    }
    if ev.status > before {
        o.status = ev.status.as_str().into();
    }
    let slot = match ev.status {
        OrderStatus::Created => &mut o.created_ms,
        OrderStatus::Paid => &mut o.paid_ms,
        OrderStatus::Shipped => &mut o.shipped_ms,
        OrderStatus::Delivered => &mut o.delivered_ms,
        OrderStatus::Closed => &mut o.closed_ms,
    };
    slot.get_or_insert(at);
    o
}

/// What an event does to the messages of its order.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// This reason becomes due at this time.
    Due(&'static str, i64),
    /// Due messages of the order are cancelled (one kind, or all).
    Cancel(Option<&'static str>, &'static str),
}

/// The messages `ev` makes due or cancels, given the order before it
/// (`before`) and after it (`after`, from [`merge`]). A late or repeated
/// event whose status the order has passed makes nothing due.
pub fn plan(
    before: Option<OrderStatus>,
    after: &StoredOrder,
    ev: &OrderEvent,
    r: &Rules,
    now: i64,
) -> Vec<Plan> {
    let Some(status) = OrderStatus::parse(&after.status) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let current = ev.status == status && before.is_none_or(|b| b <= ev.status);
    match status {
        OrderStatus::Created if current => {
            let created = after.created_ms.unwrap_or(now);
            out.push(Plan::Due(
                PAYMENT_REMINDER,
                created + r.payment_reminder_after,
            ));
        }
        OrderStatus::Created => {}
        OrderStatus::Closed => out.push(Plan::Cancel(None, "closed")),
        _ => out.push(Plan::Cancel(Some(PAYMENT_REMINDER), "paid")),
    }
    if current {
        match status {
            OrderStatus::Paid if r.order_check => out.push(Plan::Due(ORDER_CHECK, now)),
            OrderStatus::Shipped => {
                out.push(Plan::Cancel(Some(ORDER_CHECK), "shipped"));
                if r.shipped_notice {
                    out.push(Plan::Due(SHIPPED_NOTICE, now));
                }
            }
            OrderStatus::Delivered => {
                out.push(Plan::Cancel(Some(SHIPPED_NOTICE), "delivered"));
                if let Some(after_ms) = r.delivered_followup_after {
                    let at = after.delivered_ms.unwrap_or(now);
                    out.push(Plan::Due(DELIVERED_FOLLOWUP, at + after_ms));
                }
            }
            _ => {}
        }
    }
    out
}

/// The `send` id of `kind` about `order`.
pub fn send_id(order: &str, kind: &str) -> String {
    format!("{order}/{kind}")
}

/// Handles an order event on its conversation's task: a seen event id is
/// acknowledged again and changes nothing; a new one is stored with the
/// order's new state and its plans, then acknowledged.
pub(crate) async fn on_order(bot: &Bot, ev: OrderEvent) {
    let ack = FromBot::Ack { id: ev.id.clone() };
    let store = bot.store();
    // A redelivered event is found out by the write itself (its id is
    // taken: `Written::Duplicate`, acknowledged only), so no read first.
    let now = bot.clock().now_ms();
    let engine = bot.engine();
    let rules = bot.rules(&engine);
    let prev = match store.order(&ev.order).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(id = %escape(&ev.id), error = %e, "cannot read the order; event left unacknowledged");
            return;
        }
    };
    let chatted = prev.is_none() && store.buyer_messages(&ev.conversation).await.unwrap_or(0) > 0;
    let before = prev.as_ref().and_then(|p| OrderStatus::parse(&p.status));
    let mut after = merge(prev.as_ref(), &ev, now, chatted);
    // The order stays with the conversation it was first seen in.
    if prev.is_none() {
        after.conversation = ev.conversation.clone();
    }
    let buyer = after
        .buyer
        .clone()
        .unwrap_or_else(|| format!("conversation:{}", after.conversation));
    let mut ops = vec![
        Op::OrderEvent {
            id: ev.id.clone(),
            conversation: ev.conversation.clone(),
            order_id: ev.order.clone(),
            status: ev.status.as_str().into(),
            ts: ev.ts.clone(),
        },
        Op::Order(after.clone()),
    ];
    for p in plan(before, &after, &ev, &rules, now) {
        ops.push(match p {
            Plan::Due(kind, due_ms) => Op::ProactiveDue {
                id: send_id(&ev.order, kind),
                conversation: after.conversation.clone(),
                buyer: buyer.clone(),
                order_id: Some(ev.order.clone()),
                kind: kind.into(),
                due_ms,
                at_ms: now,
            },
            Plan::Cancel(kind, reason) => Op::ProactiveCancel {
                id: None,
                order_id: Some(ev.order.clone()),
                kind: kind.map(str::to_string),
                reason: reason.into(),
            },
        });
    }
    match store.write(ops).await {
        Ok(crate::store::Written::Duplicate) => {
            tracing::debug!(id = %escape(&ev.id), "order event stored by another instance meanwhile: acknowledged only");
            bot.send_frame(&ack).await;
        }
        Ok(crate::store::Written::Committed) => {
            metrics::counter!(crate::metrics::ORDER_EVENTS, "status" => ev.status.as_str())
                .increment(1);
            tracing::info!(order = %escape(&ev.order), status = ev.status.as_str(), now_status = %after.status, "order event stored");
            bot.send_frame(&ack).await;
            bot.wake_proactive();
        }
        Err(e) => {
            metrics::counter!(crate::metrics::STORE_ERRORS).increment(1);
            tracing::error!(id = %escape(&ev.id), error = %e, "order event not stored; left unacknowledged");
        }
    }
}

/// What the scheduler does with a due message now.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Say this.
    Send(String),
    /// Never (the reason is stored).
    Cancel(&'static str),
    /// Not yet: due again at this time.
    Delay(i64, &'static str),
}

/// What the decision needs to know about the conversation.
#[derive(Debug, Clone, Default)]
pub struct Situation {
    /// bot, escalated or taken.
    pub status: String,
    /// The buyer's language.
    pub lang: Option<Lang>,
    /// A complaint in the last [`COMPLAINT_DAYS`] days.
    pub complained: bool,
    /// Started messages the buyer had today (shop day).
    pub sent_today: i64,
}

fn seed(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn money(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e12 {
        format!("{}", v as i64)
    } else {
        format!("{v:.2}")
    }
}

/// The title of the order's item(s) for `{item}`: one title, or the first
/// and how many there are. `None` when no item has a title.
fn item_words(items: &[crate::channel::frame::OrderItem], lang: Lang) -> Option<String> {
    let titles: Vec<&str> = items
        .iter()
        .filter_map(|i| i.title.as_deref())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let first = titles.first()?;
    let first: String = first.chars().take(40).collect();
    Some(match (titles.len(), lang) {
        (1, _) => first,
        (n, Lang::Zh) => format!("{first}等{n}件宝贝"),
        (n, Lang::En) => format!("{first} and {} more", n - 1),
    })
}

/// Decides about one due message `row` at `now`.
pub fn decide(
    row: &ProactiveRow,
    order: Option<&StoredOrder>,
    situation: &Situation,
    rules: &Rules,
    lines: &lines::Lines,
    now: i64,
) -> Verdict {
    let Some(order) = order else {
        return Verdict::Cancel("no_order");
    };
    let status = OrderStatus::parse(&order.status);
    let wanted = match row.kind.as_str() {
        PAYMENT_REMINDER => OrderStatus::Created,
        ORDER_CHECK => OrderStatus::Paid,
        SHIPPED_NOTICE => OrderStatus::Shipped,
        DELIVERED_FOLLOWUP => OrderStatus::Delivered,
        _ => return Verdict::Cancel("unknown_kind"),
    };
    match status {
        Some(s) if s == wanted => {}
        Some(OrderStatus::Closed) => return Verdict::Cancel("closed"),
        Some(OrderStatus::Paid) if wanted == OrderStatus::Created => {
            return Verdict::Cancel("paid")
        }
        _ => return Verdict::Cancel("moved_on"),
    }
    if wanted == OrderStatus::Created && now - order.created_ms.unwrap_or(now) > REMINDER_MAX_AGE_MS
    {
        return Verdict::Cancel("too_old");
    }
    if situation.status != "bot" {
        return Verdict::Cancel("agent");
    }
    if situation.complained {
        return Verdict::Cancel("complaint");
    }
    if !rules.working(now) {
        return Verdict::Delay(rules.next_opening(now), "closed_hours");
    }
    if rules.max_per_buyer_per_day == 0 {
        return Verdict::Cancel("daily_cap");
    }
    if situation.sent_today >= i64::from(rules.max_per_buyer_per_day) {
        return Verdict::Delay(rules.next_day_opening(now), "daily_cap");
    }
    let lang = situation.lang.unwrap_or(Lang::Zh);
    let items: Vec<crate::channel::frame::OrderItem> =
        serde_json::from_str(&order.items).unwrap_or_default();
    let mut vars: Vec<(&str, String)> = Vec::new();
    if let Some(i) = item_words(&items, lang) {
        vars.push(("item", i));
    }
    if let Some(t) = order.total {
        vars.push(("total", money(t)));
    }
    let n = seed(&row.id);
    let text = match row.kind.as_str() {
        PAYMENT_REMINDER => {
            let table = if order.chatted {
                "payment_reminder_chatted"
            } else {
                "payment_reminder"
            };
            lines.render(table, None, lang, n, &vars).map(|mut t| {
                if let Some(c) = rules.cutoff_ahead(now) {
                    let mut v = vars.clone();
                    v.push(("cutoff", c));
                    if let Some(line) = lines.render("payment_cutoff", None, lang, n, &v) {
                        if lang == Lang::En {
                            t.push(' ');
                        }
                        t.push_str(&line);
                    }
                }
                t
            })
        }
        ORDER_CHECK => {
            if let Some(a) = &order.address {
                vars.push(("address", a.clone()));
            }
            lines.render(ORDER_CHECK, None, lang, n, &vars)
        }
        SHIPPED_NOTICE => {
            for (k, v) in [("courier", &order.courier), ("tracking", &order.tracking)] {
                if let Some(v) = v {
                    vars.push((k, v.clone()));
                }
            }
            lines.render(SHIPPED_NOTICE, None, lang, n, &vars)
        }
        _ => {
            let titles = items.iter().filter_map(|i| i.title.as_deref());
            let tips = lines.tips_for(titles);
            tips.and_then(|t| lines.render("usage_tips", Some(t), lang, n, &vars))
                .or_else(|| lines.render(DELIVERED_FOLLOWUP, None, lang, n, &vars))
        }
    };
    match text {
        Some(t) => Verdict::Send(t),
        None => Verdict::Cancel("no_line"),
    }
}

async fn situation(bot: &Bot, row: &ProactiveRow, rules: &Rules, now: i64) -> Situation {
    let store = bot.store();
    let mut s = Situation {
        status: "bot".into(),
        ..Situation::default()
    };
    if let Ok(Some(c)) = store.conversation(&row.conversation).await {
        s.status = c.status;
        s.lang = serde_json::from_str::<serde_json::Value>(&c.state)
            .ok()
            .and_then(|v| v.get("lang").and_then(|l| l.as_str()).map(str::to_string))
            .map(|l| if l == "en" { Lang::En } else { Lang::Zh });
    }
    let since = crate::store::now_ms() - COMPLAINT_DAYS * DAY_MS;
    // A store that cannot answer counts as a complaint: better silent than wrong.
    s.complained = store
        .complained_since(&row.conversation, since)
        .await
        .unwrap_or(true);
    let start = rules.day_start(rules.day(now));
    s.sent_today = store
        .sends_to_buyer(&row.buyer, start, start + DAY_MS)
        .await
        .unwrap_or(i64::MAX);
    s
}

/// One pass over the due messages: each is decided, and what is to be said
/// is stored as `sending` before its frame goes out.
async fn due_pass(bot: &Bot, tried: &mut HashMap<String, Instant>) {
    let now = bot.clock().now_ms();
    let rows = match bot.store().proactive_in("due", Some(now), BATCH).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot read due messages");
            return;
        }
    };
    if rows.is_empty() {
        return;
    }
    let engine = bot.engine();
    let rules = bot.rules(&engine);
    for row in rows {
        let order = match row.order_id.as_deref() {
            Some(o) => bot.store().order(o).await.ok().flatten(),
            None => None,
        };
        let s = situation(bot, &row, &rules, now).await;
        let verdict = decide(&row, order.as_ref(), &s, &rules, &engine.proactive, now);
        let (op, frame) = match &verdict {
            Verdict::Cancel(why) => (
                Op::ProactiveCancel {
                    id: Some(row.id.clone()),
                    order_id: None,
                    kind: None,
                    reason: why.to_string(),
                },
                None,
            ),
            Verdict::Delay(at, why) => (
                Op::ProactiveDelay {
                    id: row.id.clone(),
                    due_ms: *at,
                    reason: why.to_string(),
                },
                None,
            ),
            Verdict::Send(text) => {
                let f = FromBot::Send {
                    id: row.id.clone(),
                    conversation: row.conversation.clone(),
                    kind: row.kind.clone(),
                    order: row.order_id.clone(),
                    text: text.clone(),
                };
                (
                    Op::ProactiveSending {
                        id: row.id.clone(),
                        text: text.clone(),
                        frame: f.to_json(),
                        at_ms: now,
                    },
                    Some(f),
                )
            }
        };
        match bot.store().write(vec![op]).await {
            Ok(written) => {
                let what = match &verdict {
                    Verdict::Send(_) => "send",
                    Verdict::Cancel(_) => "cancel",
                    Verdict::Delay(..) => "delay",
                };
                metrics::counter!(crate::metrics::PROACTIVE, "kind" => row.kind.clone(), "outcome" => what).increment(1);
                tracing::info!(id = %escape(&row.id), outcome = what, verdict = ?match &verdict { Verdict::Send(_) => "text".to_string(), v => format!("{v:?}") }, "proactive message decided");
                if let Some(f) = frame {
                    // An event of the order may have cancelled the row between
                    // the decision and the write, or another instance sent it
                    // (`sending` only replaces `due`): the store said so.
                    if written == crate::store::Written::Duplicate {
                        tracing::info!(id = %escape(&row.id), "cancelled or sent elsewhere meanwhile: not sent");
                        continue;
                    }
                    tried.insert(row.id.clone(), Instant::now());
                    bot.send_frame(&f).await;
                }
            }
            Err(e) => {
                metrics::counter!(crate::metrics::STORE_ERRORS).increment(1);
                tracing::error!(id = %escape(&row.id), error = %e, "proactive message not stored; tried again next pass");
            }
        }
    }
}

/// Sends again every stored `send` the gateway has not answered: after a
/// restart or reconnect at once, otherwise every [`RESEND_EVERY`].
async fn resend_pass(bot: &Bot, tried: &mut HashMap<String, Instant>) {
    let now = bot.clock().now_ms();
    let rows = match bot.store().proactive_in("sending", None, 4 * BATCH).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot read unanswered sends");
            return;
        }
    };
    tried.retain(|id, _| rows.iter().any(|r| &r.id == id));
    for row in rows {
        if tried
            .get(&row.id)
            .is_some_and(|t| t.elapsed() < RESEND_EVERY)
        {
            continue;
        }
        if now - row.sending_ms.unwrap_or(now) > GIVE_UP_AFTER_MS {
            let _ = bot
                .store()
                .write(vec![Op::ProactiveFailed {
                    id: row.id.clone(),
                    reason: "no_sent".into(),
                }])
                .await;
            tracing::warn!(id = %escape(&row.id), "the gateway never answered `sent`: given up");
            continue;
        }
        let Some(frame) = row.frame else { continue };
        tried.insert(row.id.clone(), Instant::now());
        tracing::debug!(id = %escape(&row.id), "send repeated until the gateway answers `sent`");
        bot.send_text(frame).await;
    }
}

/// Stores the gateway's `sent`: the message is delivered, never sent again.
pub async fn on_sent(bot: &Bot, id: String) {
    let at_ms = bot.clock().now_ms();
    if let Err(e) = bot
        .store()
        .write(vec![Op::ProactiveSent {
            id: id.clone(),
            at_ms,
        }])
        .await
    {
        tracing::error!(id = %escape(&id), error = %e, "`sent` not stored; the send goes again and the gateway answers again");
    }
}

/// The scheduler: until `shutdown`, sends what is due and repeats what the
/// gateway has not answered, while the gateway has the `orders` feature.
pub async fn run(bot: Arc<Bot>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut tried: HashMap<String, Instant> = HashMap::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        if bot.orders_feature() {
            if bot.take_reconnected() {
                tried.clear();
            }
            due_pass(&bot, &mut tried).await;
            resend_pass(&bot, &mut tried).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = bot.proactive_woken() => {}
            _ = shutdown.changed() => break,
        }
    }
}

#[cfg(test)]
mod tests;
