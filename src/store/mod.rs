//! The store: every inbound message, every decision and answer sent, each
//! conversation's state, the escalations, orders, started messages and the
//! desk log. All SQL of the project lives under this module.
//!
//! Two back ends behind one [`Store`]: the embedded SQLite file (the
//! default, [`sqlite`]) and a PostgreSQL server that several bot instances
//! share ([`postgres`], `store.url = "postgres://…"`). Both decide "answered
//! at most once" inside the write transaction: a write that carries a message
//! (or order event) id someone already stored changes nothing and comes back
//! as [`Written::Duplicate`], so of two instances given the same message only
//! the first to store it answers.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused something.
    #[error("state store {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The file was written by a newer xiaoer.
    #[error("state store {path}: schema version {found} is newer than this xiaoer knows ({known}); use a newer binary or another --state file")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The version in the file.
        found: i64,
        /// The newest version this binary writes.
        known: i64,
    },
    /// A transaction did not commit (its messages stay unacknowledged).
    #[error("state store {path}: write failed: {message}")]
    Write {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
    /// The writer thread has stopped (after an earlier error or at shutdown).
    #[error("state store {0}: the writer has stopped")]
    Closed(PathBuf),
    /// The file is damaged: SQLite cannot read it, or its integrity check fails.
    #[error("state store {path}: the file is damaged ({detail}): restore it from a backup, or move it away to start with an empty store (conversations' state would be lost)")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite found.
        detail: String,
    },
    /// The file opens but a write fails (read-only file or folder, full disk).
    #[error("state store {path}: cannot write ({message}): check the file's and its folder's permissions and the free disk space")]
    CannotWrite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
    /// Not a state file this xiaoer can read (no schema version).
    #[error(
        "state store {0}: not a xiaoer state file (no schema version): give the bot's --state file"
    )]
    NotAStore(PathBuf),
    /// The PostgreSQL server refused something, or cannot be reached.
    #[error("state store {url}: {message}")]
    Postgres {
        /// The server's address, without its password.
        url: String,
        /// What the server or the driver said.
        message: String,
    },
    /// `store.url` is not an address this xiaoer can use.
    #[error("store.url {url}: {why}")]
    Url {
        /// The address as given, without its password.
        url: String,
        /// What is wrong with it.
        why: String,
    },
}

impl StoreError {
    /// The error for `source` on `path`, naming damage as such.
    pub(crate) fn sqlite(path: &Path, source: rusqlite::Error) -> StoreError {
        use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
        match source.sqlite_error_code() {
            Some(NotADatabase | DatabaseCorrupt) => StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: source.to_string(),
            },
            _ => StoreError::Sqlite {
                path: path.to_path_buf(),
                source,
            },
        }
    }
}

/// One row to write; a message and everything decided about it are one batch.
#[derive(Debug, Clone)]
pub enum Op {
    /// An inbound message (any role); its id marks it handled.
    Message {
        /// Gateway's message id.
        id: String,
        /// Conversation id.
        conversation: String,
        /// buyer, agent or system.
        role: String,
        /// The sender's id.
        sender: Option<String>,
        /// The sender's display name.
        name: Option<String>,
        /// The text.
        text: String,
        /// The gateway's timestamp.
        ts: Option<String>,
        /// The product page's item, as JSON.
        item: Option<String>,
    },
    /// What the bot decided about a buyer message.
    Decision {
        /// The message decided on.
        message_id: String,
        /// Conversation id.
        conversation: String,
        /// reply, escalate or silent (escalated / taken over).
        action: String,
        /// Intent ids, JSON array.
        intents: String,
        /// Confidence 0..1.
        confidence: Option<f32>,
        /// Escalation reason.
        reason: Option<String>,
        /// zh or en.
        lang: Option<String>,
        /// The reply text.
        reply: Option<String>,
    },
    /// A frame the bot sends (reply, escalate, ack).
    Outbound {
        /// Conversation id.
        conversation: Option<String>,
        /// The message it answers.
        in_reply_to: Option<String>,
        /// The frame's type.
        kind: String,
        /// The frame as sent.
        frame: String,
    },
    /// A conversation's state after the batch.
    State {
        /// Conversation id.
        conversation: String,
        /// bot, escalated or taken.
        status: String,
        /// The agent that owns it.
        agent: Option<String>,
        /// The dialogue state, JSON.
        state: String,
    },
    /// The bot hands the conversation to a person.
    EscalationOpened {
        /// Conversation id.
        conversation: String,
        /// The message that triggered it.
        message_id: String,
        /// Intent id or policy name.
        reason: String,
        /// high or normal.
        priority: String,
        /// One line for the agent.
        summary: String,
    },
    /// An agent took the conversation (opens a row when none is open).
    Taken {
        /// Conversation id.
        conversation: String,
        /// The agent.
        agent: String,
    },
    /// An agent handed the conversation back.
    Released {
        /// Conversation id.
        conversation: String,
        /// The agent.
        agent: String,
    },
    /// An order event (protocol 1.1); its id marks it handled.
    OrderEvent {
        /// The event id.
        id: String,
        /// Conversation id.
        conversation: String,
        /// The order id.
        order_id: String,
        /// Its status.
        status: String,
        /// The gateway's timestamp.
        ts: Option<String>,
    },
    /// An order's latest state (replaces the stored one).
    Order(StoredOrder),
    /// A message the bot will start; a second one with the same id changes
    /// nothing (the same reason about the same order is said once).
    ProactiveDue {
        /// The `send` id.
        id: String,
        /// Conversation id.
        conversation: String,
        /// Buyer id, else the conversation.
        buyer: String,
        /// The order.
        order_id: Option<String>,
        /// The reason.
        kind: String,
        /// When (bot clock, ms).
        due_ms: i64,
        /// Now (bot clock, ms).
        at_ms: i64,
    },
    /// Cancels due (not yet sent) messages: one id, or every one of an order
    /// (of one kind, when given).
    ProactiveCancel {
        /// One message.
        id: Option<String>,
        /// Every due message of this order.
        order_id: Option<String>,
        /// Only this kind of them.
        kind: Option<String>,
        /// Why (paid, closed, agent, complaint, too_old, no_line, ...).
        reason: String,
    },
    /// A due message waits (working hours, the daily cap).
    ProactiveDelay {
        /// The `send` id.
        id: String,
        /// The new due time (bot clock, ms).
        due_ms: i64,
        /// Why.
        reason: String,
    },
    /// The message is decided and stored before its `send` goes out.
    ProactiveSending {
        /// The `send` id.
        id: String,
        /// The text.
        text: String,
        /// The frame.
        frame: String,
        /// Now (bot clock, ms).
        at_ms: i64,
    },
    /// The gateway answered `sent`.
    ProactiveSent {
        /// The `send` id.
        id: String,
        /// Now (bot clock, ms).
        at_ms: i64,
    },
    /// Gave up resending (the gateway never answered `sent`).
    ProactiveFailed {
        /// The `send` id.
        id: String,
        /// Why.
        reason: String,
    },
    /// Something an agent did in the console (the desk log).
    DeskEvent {
        /// Conversation id.
        conversation: String,
        /// takeover, release, reassign, note, close or wrong.
        kind: String,
        /// The agent who did it.
        agent: String,
        /// The buyer message it is about (`wrong`).
        message_id: Option<String>,
        /// The note, the outcome, `from -> to`.
        detail: Option<String>,
    },
}

/// An order as the store keeps it: the latest state of all its events.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct StoredOrder {
    /// The order id.
    pub id: String,
    /// The conversation with its buyer.
    pub conversation: String,
    /// The buyer's id.
    pub buyer: Option<String>,
    /// created, paid, shipped, delivered or closed.
    pub status: String,
    /// The items, JSON array as the gateway sent them.
    pub items: String,
    /// The total.
    pub total: Option<f64>,
    /// The address (shown to the buyer in the order check only).
    #[serde(skip)]
    pub address: Option<String>,
    /// Courier, once shipped.
    pub courier: Option<String>,
    /// Tracking number, once shipped.
    pub tracking: Option<String>,
    /// The buyer chatted in the conversation before ordering.
    pub chatted: bool,
    /// When each status was first seen (bot clock, ms).
    pub created_ms: Option<i64>,
    /// Paid.
    pub paid_ms: Option<i64>,
    /// Shipped.
    pub shipped_ms: Option<i64>,
    /// Delivered.
    pub delivered_ms: Option<i64>,
    /// Closed.
    pub closed_ms: Option<i64>,
}

/// A message the bot starts, as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProactiveRow {
    /// The `send` id (`<order>/<kind>`).
    pub id: String,
    /// Conversation id.
    pub conversation: String,
    /// The buyer it counts against (buyer id, else the conversation).
    pub buyer: String,
    /// The order, if any.
    pub order_id: Option<String>,
    /// payment_reminder, order_check, shipped_notice, delivered_followup.
    pub kind: String,
    /// due, sending (stored, `sent` not heard yet), sent, cancelled, failed.
    pub state: String,
    /// When it is due (bot clock, ms).
    pub due_ms: i64,
    /// Why it was cancelled or delayed.
    pub reason: Option<String>,
    /// The text, once decided.
    pub text: Option<String>,
    /// The `send` frame, once decided.
    #[serde(skip)]
    pub frame: Option<String>,
    /// When it was first sent (bot clock, ms).
    pub sending_ms: Option<i64>,
    /// When the gateway answered `sent` (bot clock, ms).
    pub sent_ms: Option<i64>,
}

/// One payment reminder for the report: when it went out, and when its
/// order was paid (if it was).
#[derive(Debug, Clone, PartialEq)]
pub struct ReminderOutcome {
    /// When the reminder was sent (bot clock, ms).
    pub sent_ms: i64,
    /// When the order was paid, if it was.
    pub paid_ms: Option<i64>,
}

/// A conversation as the store knows it.
#[derive(Debug, Clone, Default)]
pub struct StoredConversation {
    /// bot, escalated or taken.
    pub status: String,
    /// The agent that owns it.
    pub agent: Option<String>,
    /// The dialogue state, JSON.
    pub state: String,
    /// Ids of the conversation's newest messages already handled, at most
    /// [`HANDLED_RECENT`]: the redelivery fast path. Older ones are found by
    /// the write's claim (`Written::Duplicate`), so a long conversation costs
    /// bounded memory and a bounded read.
    pub handled: HashSet<String>,
}

/// Handled message ids a conversation keeps in memory (and reads back) at most.
pub const HANDLED_RECENT: usize = 256;

/// One row of the desk log ([`Op::DeskEvent`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskRow {
    /// takeover, release, reassign, note, close or wrong.
    pub kind: String,
    /// Who.
    pub agent: String,
    /// The buyer message (`wrong`).
    pub message_id: Option<String>,
    /// The note, outcome or `from -> to`.
    pub detail: Option<String>,
    /// When, ms since the epoch.
    pub at_ms: i64,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub mod postgres;
pub mod sqlite;

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Committed.
    Committed,
    /// Nothing written: a message or order-event id of the write was already
    /// stored (by this instance before, or by another), or a started message
    /// it claims was claimed already. The caller acknowledges and does not
    /// answer.
    Duplicate,
}

/// The report's counts for a time window ([`Store::report_window`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportWindow {
    /// Buyer messages answered.
    pub replied: u64,
    /// Buyer messages handed to a person.
    pub escalated: u64,
    /// Hand-offs by reason.
    pub reasons: std::collections::BTreeMap<String, u64>,
    /// Escalated messages worth teaching from, newest first.
    pub teachable: Vec<EscalatedMessage>,
}

/// One escalated buyer message ([`ReportWindow::teachable`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EscalatedMessage {
    /// What the buyer wrote.
    pub text: String,
    /// Its conversation.
    pub conversation: String,
    /// When the bot decided (ms).
    pub decided_ms: i64,
    /// The escalation's reason.
    pub reason: String,
}

/// Which escalated messages the report lists: these reasons, or a
/// confidence under `below`; at most `limit`.
#[derive(Debug, Clone, Copy)]
pub struct Teachable<'a> {
    /// Reasons always listed (unclassified, low confidence).
    pub reasons: [&'a str; 2],
    /// Confidence under which any escalation is listed.
    pub below: f64,
    /// Most rows.
    pub limit: usize,
}

enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// Handle to the store: cheap to share between tasks.
pub struct Store {
    backend: Backend,
}

/// Dispatches a method to the back end in use (SQLite's run inline: they are
/// local and short).
macro_rules! each {
    ($self:ident . $m:ident ( $($a:expr),* )) => {
        match &$self.backend {
            Backend::Sqlite(s) => s.$m($($a),*),
            Backend::Postgres(p) => p.$m($($a),*).await,
        }
    };
}

impl Store {
    /// Opens (creating and migrating) the SQLite store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_with(path, false)
    }

    /// [`Store::open`], with `synchronous=FULL` when `full` (survives power loss).
    pub fn open_with(path: &Path, full: bool) -> Result<Store, StoreError> {
        Ok(Store {
            backend: Backend::Sqlite(sqlite::Sqlite::open_with(path, full)?),
        })
    }

    /// Opens the SQLite store at `path` for reading only (`report`): nothing
    /// is created, migrated or switched. Writes fail.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        Ok(Store {
            backend: Backend::Sqlite(sqlite::Sqlite::open_read_only(path)?),
        })
    }

    /// Connects to the PostgreSQL store at `url` (migrating it unless
    /// `read_only`). Must run on a tokio runtime; the store keeps using it.
    pub async fn connect(url: &str, read_only: bool) -> Result<Store, StoreError> {
        Self::connect_with(url, None, read_only).await
    }

    /// [`Store::connect`] with the password given apart from `url` (read
    /// from `store.password_file`).
    pub async fn connect_with(
        url: &str,
        password: Option<&str>,
        read_only: bool,
    ) -> Result<Store, StoreError> {
        Ok(Store {
            backend: Backend::Postgres(
                postgres::Postgres::connect(url, password, read_only).await?,
            ),
        })
    }

    /// The SQLite file, or the server's address (without password), for messages.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Sqlite(s) => s.path().display().to_string(),
            Backend::Postgres(p) => p.url().to_string(),
        }
    }

    /// The SQLite back end, when that is the one in use (its own tests and tools).
    pub fn as_sqlite(&self) -> Option<&sqlite::Sqlite> {
        match &self.backend {
            Backend::Sqlite(s) => Some(s),
            Backend::Postgres(_) => None,
        }
    }

    /// Writes `ops` in one transaction; resolves once it is committed, or
    /// with [`Written::Duplicate`] when it changed nothing (see there).
    pub async fn write(&self, ops: Vec<Op>) -> Result<Written, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.write(ops).await,
            Backend::Postgres(p) => p.write(ops).await,
        }
    }

    /// [`Store::write`] for code outside the runtime (blocks until committed).
    pub fn write_blocking(&self, ops: Vec<Op>) -> Result<Written, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.write_blocking(ops),
            Backend::Postgres(p) => p.write_blocking(ops),
        }
    }

    /// A conversation's stored state and handled message ids, if it was seen.
    pub async fn conversation(&self, id: &str) -> Result<Option<StoredConversation>, StoreError> {
        each!(self.conversation(id))
    }

    /// Conversations handed to a person that no agent has taken yet (the
    /// agents' queue, shared by every instance).
    pub async fn waiting(&self) -> Result<i64, StoreError> {
        each!(self.waiting())
    }

    /// True when message `id` of `conversation` is stored.
    pub async fn message_stored(&self, conversation: &str, id: &str) -> Result<bool, StoreError> {
        each!(self.message_stored(conversation, id))
    }

    /// Buyer messages answered (reply or escalate) in the whole store.
    pub async fn decided_answers(&self) -> Result<i64, StoreError> {
        each!(self.decided_answers())
    }

    /// True when the order event `id` of `conversation` was handled.
    pub async fn order_event_seen(&self, conversation: &str, id: &str) -> Result<bool, StoreError> {
        each!(self.order_event_seen(conversation, id))
    }

    /// An order's latest state.
    pub async fn order(&self, id: &str) -> Result<Option<StoredOrder>, StoreError> {
        each!(self.order(id))
    }

    /// A conversation's orders, latest first, at most `limit`.
    pub async fn conversation_orders(
        &self,
        conversation: &str,
        limit: usize,
    ) -> Result<Vec<StoredOrder>, StoreError> {
        each!(self.conversation_orders(conversation, limit))
    }

    /// Buyer messages stored for `conversation`.
    pub async fn buyer_messages(&self, conversation: &str) -> Result<i64, StoreError> {
        each!(self.buyer_messages(conversation))
    }

    /// True when the bot read a complaint in `conversation` since `since_ms`.
    pub async fn complained_since(
        &self,
        conversation: &str,
        since_ms: i64,
    ) -> Result<bool, StoreError> {
        each!(self.complained_since(conversation, since_ms))
    }

    /// Started messages `buyer` was sent in `[from_ms, to_ms)` (bot clock).
    pub async fn sends_to_buyer(
        &self,
        buyer: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<i64, StoreError> {
        each!(self.sends_to_buyer(buyer, from_ms, to_ms))
    }

    /// Started messages in `state`, due by `until_ms` (any time for `None`),
    /// oldest first, at most `limit`.
    pub async fn proactive_in(
        &self,
        state: &str,
        until_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<ProactiveRow>, StoreError> {
        each!(self.proactive_in(state, until_ms, limit))
    }

    /// One started message.
    pub async fn proactive_row(&self, id: &str) -> Result<Option<ProactiveRow>, StoreError> {
        each!(self.proactive_row(id))
    }

    /// Started messages by state, in one read.
    pub async fn proactive_counts(
        &self,
    ) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
        each!(self.proactive_counts())
    }

    /// The earliest due time of a started message not sent yet.
    pub async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        each!(self.next_due())
    }

    /// Every started message of a conversation, oldest first.
    pub async fn conversation_proactive(
        &self,
        conversation: &str,
        limit: usize,
    ) -> Result<Vec<ProactiveRow>, StoreError> {
        each!(self.conversation_proactive(conversation, limit))
    }

    /// Payment reminders sent in `[from_ms, to_ms)` with when their order
    /// was paid; at most `limit`, oldest first.
    pub async fn reminder_outcomes(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<ReminderOutcome>, StoreError> {
        each!(self.reminder_outcomes(from_ms, to_ms, limit))
    }

    /// Buyer messages whose answer an agent marked wrong in `[from_ms,
    /// to_ms]`, newest first, at most `limit`: (text, conversation, at).
    pub async fn marked_wrong(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        each!(self.marked_wrong(from_ms, to_ms, limit))
    }

    /// The desk log of a conversation, oldest first.
    pub async fn desk_events(&self, conversation: &str) -> Result<Vec<DeskRow>, StoreError> {
        each!(self.desk_events(conversation))
    }

    /// A conversation's escalations, oldest first: (status, agent).
    pub async fn escalation_history(
        &self,
        conversation: &str,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        each!(self.escalation_history(conversation))
    }

    /// The report's counts and teachable escalations for `[from_ms, to_ms]`.
    pub async fn report_window(
        &self,
        from_ms: i64,
        to_ms: i64,
        teachable: Teachable<'_>,
    ) -> Result<ReportWindow, StoreError> {
        each!(self.report_window(from_ms, to_ms, teachable))
    }

    /// Finishes queued writes and stops writing.
    pub fn close(&self) {
        match &self.backend {
            Backend::Sqlite(s) => s.close(),
            Backend::Postgres(p) => p.close(),
        }
    }
}
