//! The embedded back end: one SQLite file (WAL), the default.
//!
//! Writes go through one writer thread that commits whatever is queued in a
//! single transaction (group commit): a message is acknowledged only after
//! its transaction is committed, and at 2,000 messages/s one commit carries
//! many of them. Each job runs in its own savepoint, so a job that finds its
//! message already stored ([`Written::Duplicate`]) leaves no trace and the
//! others still commit. `synchronous=NORMAL` in WAL mode keeps every
//! committed transaction across a crash or kill of the process (an OS crash
//! or power loss may lose the last ones; set `store.synchronous = "full"`
//! for that). Reads use their own connection, which WAL lets run beside the
//! writer.

use super::*;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};
use std::thread;
use tokio::sync::oneshot;

/// The schema, one migration per version; `PRAGMA user_version` says which ran.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE messages(
        id TEXT PRIMARY KEY,
        conversation TEXT NOT NULL,
        role TEXT NOT NULL,
        sender TEXT,
        name TEXT,
        text TEXT NOT NULL,
        ts TEXT,
        item TEXT,
        received_ms INTEGER NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages(conversation, received_ms);
    CREATE INDEX messages_by_time ON messages(received_ms);
    CREATE TABLE decisions(
        message_id TEXT PRIMARY KEY,
        conversation TEXT NOT NULL,
        action TEXT NOT NULL,
        intents TEXT NOT NULL,
        confidence REAL,
        reason TEXT,
        lang TEXT,
        reply TEXT,
        decided_ms INTEGER NOT NULL
    );
    CREATE INDEX decisions_by_time ON decisions(decided_ms);
    CREATE TABLE outbound(
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation TEXT,
        in_reply_to TEXT,
        kind TEXT NOT NULL,
        frame TEXT NOT NULL,
        at_ms INTEGER NOT NULL
    );
    CREATE INDEX outbound_by_message ON outbound(in_reply_to);
    CREATE TABLE conversations(
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        agent TEXT,
        state TEXT NOT NULL,
        updated_ms INTEGER NOT NULL
    );
    CREATE TABLE escalations(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation TEXT NOT NULL,
        message_id TEXT,
        reason TEXT NOT NULL,
        priority TEXT NOT NULL,
        summary TEXT NOT NULL,
        status TEXT NOT NULL,
        agent TEXT,
        opened_ms INTEGER NOT NULL,
        taken_ms INTEGER,
        released_ms INTEGER
    );
    CREATE INDEX escalations_by_conversation ON escalations(conversation, status);",
    // 2: message ids are unique per conversation only (gateways reuse them
    // across conversations), so messages and decisions are keyed by both;
    // `health` holds the readiness probe's row.
    "CREATE TABLE messages2(
        id TEXT NOT NULL,
        conversation TEXT NOT NULL,
        role TEXT NOT NULL,
        sender TEXT,
        name TEXT,
        text TEXT NOT NULL,
        ts TEXT,
        item TEXT,
        received_ms INTEGER NOT NULL,
        PRIMARY KEY (conversation, id)
    );
    INSERT INTO messages2(rowid, id, conversation, role, sender, name, text, ts, item, received_ms)
        SELECT rowid, id, conversation, role, sender, name, text, ts, item, received_ms FROM messages;
    DROP TABLE messages;
    ALTER TABLE messages2 RENAME TO messages;
    CREATE INDEX messages_by_conversation ON messages(conversation, received_ms);
    CREATE INDEX messages_by_time ON messages(received_ms);
    CREATE TABLE decisions2(
        message_id TEXT NOT NULL,
        conversation TEXT NOT NULL,
        action TEXT NOT NULL,
        intents TEXT NOT NULL,
        confidence REAL,
        reason TEXT,
        lang TEXT,
        reply TEXT,
        decided_ms INTEGER NOT NULL,
        PRIMARY KEY (conversation, message_id)
    );
    INSERT INTO decisions2(rowid, message_id, conversation, action, intents, confidence, reason, lang, reply, decided_ms)
        SELECT rowid, message_id, conversation, action, intents, confidence, reason, lang, reply, decided_ms FROM decisions;
    DROP TABLE decisions;
    ALTER TABLE decisions2 RENAME TO decisions;
    CREATE INDEX decisions_by_time ON decisions(decided_ms);
    CREATE TABLE health(k INTEGER PRIMARY KEY CHECK (k = 1), probed_ms INTEGER NOT NULL);",
    // 3: orders from the channel (protocol 1.1) and the messages the bot
    // starts about them. `order_events` dedups event ids like `messages`;
    // `orders` keeps each order's latest state; `proactive` holds every due,
    // sent or cancelled message the bot starts (its id is the `send` id).
    "CREATE TABLE order_events(
        id TEXT NOT NULL,
        conversation TEXT NOT NULL,
        order_id TEXT NOT NULL,
        status TEXT NOT NULL,
        ts TEXT,
        received_ms INTEGER NOT NULL,
        PRIMARY KEY (conversation, id)
    );
    CREATE TABLE orders(
        id TEXT PRIMARY KEY,
        conversation TEXT NOT NULL,
        buyer TEXT,
        status TEXT NOT NULL,
        items TEXT NOT NULL,
        total REAL,
        address TEXT,
        courier TEXT,
        tracking TEXT,
        chatted INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER,
        paid_ms INTEGER,
        shipped_ms INTEGER,
        delivered_ms INTEGER,
        closed_ms INTEGER,
        updated_ms INTEGER NOT NULL
    );
    CREATE INDEX orders_by_conversation ON orders(conversation);
    CREATE TABLE proactive(
        id TEXT PRIMARY KEY,
        conversation TEXT NOT NULL,
        buyer TEXT NOT NULL,
        order_id TEXT,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        due_ms INTEGER NOT NULL,
        reason TEXT,
        text TEXT,
        frame TEXT,
        created_ms INTEGER NOT NULL,
        sending_ms INTEGER,
        sent_ms INTEGER
    );
    CREATE INDEX proactive_due ON proactive(state, due_ms);
    CREATE INDEX proactive_by_conversation ON proactive(conversation);
    CREATE INDEX proactive_by_buyer ON proactive(buyer, sending_ms);",
    // 4 (desk): what agents did in the console, as one log: takeover,
    // release, reassign, note, close (detail: the outcome) and wrong (an
    // agent marked the bot's answer to `message_id` wrong; the report
    // teaches from these).
    "CREATE TABLE desk_events(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation TEXT NOT NULL,
        kind TEXT NOT NULL,
        agent TEXT NOT NULL,
        message_id TEXT,
        detail TEXT,
        at_ms INTEGER NOT NULL
    );
    CREATE INDEX desk_events_by_conversation ON desk_events(conversation, at_ms);
    CREATE INDEX desk_events_by_kind ON desk_events(kind, at_ms);",
    // 5: the agents' queue is counted from the store (every instance's).
    "CREATE INDEX conversations_by_status ON conversations(status);",
    // 6: an order's due messages are cancelled by the order (paid, closed).
    "CREATE INDEX proactive_by_order ON proactive(order_id, state);",
];

struct Job {
    ops: Vec<Op>,
    done: Option<oneshot::Sender<Result<Written, String>>>,
}

/// The SQLite back end.
pub struct Sqlite {
    path: PathBuf,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    reader: Mutex<Connection>,
    writer: Mutex<Option<thread::JoinHandle<()>>>,
}

fn open(path: &Path, synchronous_full: bool) -> Result<Connection, StoreError> {
    let err = |source| StoreError::sqlite(path, source);
    let conn = Connection::open(path).map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(err)?;
    conn.pragma_update(
        None,
        "synchronous",
        if synchronous_full { "FULL" } else { "NORMAL" },
    )
    .map_err(err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(err)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let err = |source| StoreError::sqlite(path, source);
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err)?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let write = |e: rusqlite::Error| match StoreError::sqlite(path, e) {
            StoreError::Sqlite { source, .. } => StoreError::CannotWrite {
                path: path.to_path_buf(),
                message: format!("migrating to schema version {}: {source}", i + 1),
            },
            other => other,
        };
        let tx = conn.transaction().map_err(write)?;
        tx.execute_batch(sql).map_err(write)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(write)?;
        tx.commit().map_err(write)?;
    }
    Ok(())
}

/// SQLite's own check of the file's structure (every page read once): a
/// damaged file stops the start instead of failing message after message.
fn check_integrity(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let found: Vec<String> = conn
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(|e| StoreError::sqlite(path, e))?;
    if found.len() == 1 && found[0] == "ok" {
        Ok(())
    } else {
        Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: found.join("; "),
        })
    }
}

/// One small write transaction: proves the file, its folder and the disk
/// take writes (readiness, and the start).
fn probe(conn: &Connection) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO health(k, probed_ms) VALUES (1, ?1)
         ON CONFLICT(k) DO UPDATE SET probed_ms = excluded.probed_ms",
    )?
    .execute(params![now_ms()])?;
    Ok(())
}

impl Sqlite {
    /// Opens (creating and migrating) the store at `path`.
    pub fn open(path: &Path) -> Result<Sqlite, StoreError> {
        Self::open_with(path, false)
    }

    /// [`Store::open`], with `synchronous=FULL` when `full` (survives power loss).
    pub fn open_with(path: &Path, full: bool) -> Result<Sqlite, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut conn = open(path, full)?;
        check_integrity(&conn, path)?;
        migrate(&mut conn, path)?;
        probe(&conn).map_err(|e| match StoreError::sqlite(path, e) {
            StoreError::Sqlite { source, .. } => StoreError::CannotWrite {
                path: path.to_path_buf(),
                message: source.to_string(),
            },
            other => other,
        })?;
        crate::metrics::set_store_health(Ok(()));
        let reader = open(path, full)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let p = path.to_path_buf();
        let writer = thread::Builder::new()
            .name("xiaoer-store".into())
            .spawn(move || write_loop(conn, p, rx))
            .map_err(|e| StoreError::Write {
                path: path.to_path_buf(),
                message: format!("cannot start the writer thread: {e}"),
            })?;
        Ok(Sqlite {
            path: path.to_path_buf(),
            jobs: Mutex::new(Some(tx)),
            reader: Mutex::new(reader),
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Opens the store at `path` for reading only (`report`): nothing is
    /// created, migrated or switched, so a read-only copy works and the bot's
    /// file is left as it is. Writes fail with [`StoreError::Closed`].
    pub fn open_read_only(path: &Path) -> Result<Sqlite, StoreError> {
        use rusqlite::OpenFlags;
        let err = |e| StoreError::sqlite(path, e);
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known,
            });
        }
        if version < 1 {
            return Err(StoreError::NotAStore(path.to_path_buf()));
        }
        Ok(Sqlite {
            path: path.to_path_buf(),
            jobs: Mutex::new(None),
            reader: Mutex::new(conn),
            writer: Mutex::new(None),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `ops` in one transaction; resolves once it is committed.
    pub async fn write(&self, ops: Vec<Op>) -> Result<Written, StoreError> {
        let (done, wait) = oneshot::channel();
        self.send(Job {
            ops,
            done: Some(done),
        })?;
        self.outcome(wait.await.ok())
    }

    /// Writes `ops` and blocks until committed (for code outside the runtime).
    pub fn write_blocking(&self, ops: Vec<Op>) -> Result<Written, StoreError> {
        let (done, wait) = oneshot::channel();
        self.send(Job {
            ops,
            done: Some(done),
        })?;
        self.outcome(wait.blocking_recv().ok())
    }

    /// What the writer said about a job (None: it stopped before answering).
    fn outcome(&self, done: Option<Result<Written, String>>) -> Result<Written, StoreError> {
        match done {
            Some(Ok(w)) => Ok(w),
            Some(Err(message)) => Err(StoreError::Write {
                path: self.path.clone(),
                message,
            }),
            None => Err(StoreError::Closed(self.path.clone())),
        }
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        match jobs.as_ref() {
            Some(tx) => tx
                .send(job)
                .map_err(|_| StoreError::Closed(self.path.clone())),
            None => Err(StoreError::Closed(self.path.clone())),
        }
    }

    /// A conversation's stored state and handled message ids, if it was seen.
    pub fn conversation(&self, id: &str) -> Result<Option<StoredConversation>, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        };
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        let row = conn
            .prepare_cached("SELECT status, agent, state FROM conversations WHERE id = ?1")
            .and_then(|mut s| {
                s.query_row(params![id], |r| {
                    Ok(StoredConversation {
                        status: r.get(0)?,
                        agent: r.get(1)?,
                        state: r.get(2)?,
                        handled: HashSet::new(),
                    })
                })
                .optional()
            })
            .map_err(err)?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT id FROM messages WHERE conversation = ?1 ORDER BY received_ms DESC LIMIT ?2",
            )
            .map_err(err)?;
        let handled = stmt
            .query_map(params![id, HANDLED_RECENT as i64], |r| {
                r.get::<_, String>(0)
            })
            .map_err(err)?
            .collect::<Result<HashSet<String>, _>>()
            .map_err(err)?;
        Ok(match row {
            Some(mut c) => {
                c.handled = handled;
                Some(c)
            }
            None if !handled.is_empty() => Some(StoredConversation {
                status: "bot".into(),
                handled,
                ..Default::default()
            }),
            None => None,
        })
    }

    fn reader_err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// True when the order event `id` of `conversation` was handled.
    pub fn order_event_seen(&self, conversation: &str, id: &str) -> Result<bool, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        conn.prepare_cached("SELECT 1 FROM order_events WHERE conversation = ?1 AND id = ?2")
            .and_then(|mut s| s.exists(params![conversation, id]))
            .map_err(self.reader_err())
    }

    /// An order's latest state.
    pub fn order(&self, id: &str) -> Result<Option<StoredOrder>, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        conn.prepare_cached(&format!("{ORDER_COLUMNS} WHERE id = ?1"))
            .and_then(|mut s| s.query_row(params![id], order_row).optional())
            .map_err(self.reader_err())
    }

    /// A conversation's orders, latest first, at most `limit`.
    pub fn conversation_orders(
        &self,
        conversation: &str,
        limit: usize,
    ) -> Result<Vec<StoredOrder>, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        conn.prepare_cached(&format!(
            "{ORDER_COLUMNS} WHERE conversation = ?1 ORDER BY updated_ms DESC, id LIMIT ?2"
        ))
        .and_then(|mut s| {
            s.query_map(params![conversation, limit as i64], order_row)?
                .collect()
        })
        .map_err(self.reader_err())
    }

    /// Buyer messages stored for `conversation`.
    pub fn buyer_messages(&self, conversation: &str) -> Result<i64, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        conn.prepare_cached(
            "SELECT COUNT(*) FROM messages WHERE conversation = ?1 AND role = 'buyer'",
        )
        .and_then(|mut s| s.query_row(params![conversation], |r| r.get(0)))
        .map_err(self.reader_err())
    }

    /// True when the bot read a complaint in `conversation` since `since_ms`
    /// (the store's own clock).
    pub fn complained_since(&self, conversation: &str, since_ms: i64) -> Result<bool, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        conn.prepare_cached(
            r#"SELECT 1 FROM decisions WHERE conversation = ?1 AND decided_ms >= ?2
             AND (reason = 'complaint' OR intents LIKE '%"complaint"%') LIMIT 1"#,
        )
        .and_then(|mut s| s.exists(params![conversation, since_ms]))
        .map_err(self.reader_err())
    }

    /// Started messages `buyer` was sent in `[from_ms, to_ms)` (bot clock).
    pub fn sends_to_buyer(&self, buyer: &str, from_ms: i64, to_ms: i64) -> Result<i64, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        conn.prepare_cached(
            "SELECT COUNT(*) FROM proactive WHERE buyer = ?1 AND sending_ms >= ?2 AND sending_ms < ?3",
        )
        .and_then(|mut s| s.query_row(params![buyer, from_ms, to_ms], |r| r.get(0)))
        .map_err(self.reader_err())
    }

    /// Messages in `state`, due by `until_ms` (any time for `None`), oldest
    /// first, at most `limit`.
    pub fn proactive_in(
        &self,
        state: &str,
        until_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<ProactiveRow>, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        conn.prepare_cached(&format!(
            "{PROACTIVE_COLUMNS} WHERE state = ?1 AND due_ms <= ?2 ORDER BY due_ms, id LIMIT ?3"
        ))
        .and_then(|mut s| {
            s.query_map(
                params![state, until_ms.unwrap_or(i64::MAX), limit as i64],
                proactive_row,
            )?
            .collect()
        })
        .map_err(self.reader_err())
    }

    /// One started message.
    pub fn proactive_row(&self, id: &str) -> Result<Option<ProactiveRow>, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        conn.prepare_cached(&format!("{PROACTIVE_COLUMNS} WHERE id = ?1"))
            .and_then(|mut s| s.query_row(params![id], proactive_row).optional())
            .map_err(self.reader_err())
    }

    /// Started messages by state (due, sending, sent, cancelled, failed), in
    /// one read.
    pub fn proactive_counts(&self) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        conn.prepare_cached("SELECT state, COUNT(*) FROM proactive GROUP BY state")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(self.reader_err())
    }

    /// The earliest due time of a message not sent yet.
    pub fn next_due(&self) -> Result<Option<i64>, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        conn.prepare_cached("SELECT MIN(due_ms) FROM proactive WHERE state = 'due'")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(self.reader_err())
    }

    /// Every started message of a conversation (and its orders), oldest first.
    pub fn conversation_proactive(
        &self,
        conversation: &str,
        limit: usize,
    ) -> Result<Vec<ProactiveRow>, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        conn.prepare_cached(&format!(
            "{PROACTIVE_COLUMNS} WHERE conversation = ?1 ORDER BY created_ms, id LIMIT ?2"
        ))
        .and_then(|mut s| {
            s.query_map(params![conversation, limit as i64], proactive_row)?
                .collect()
        })
        .map_err(self.reader_err())
    }

    /// Payment reminders sent in `[from_ms, to_ms)` (bot clock) with when
    /// their order was paid; at most `limit`, oldest first.
    pub fn reminder_outcomes(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<ReminderOutcome>, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        // Stores from before schema 3 have no such table: nothing to report.
        let known: bool = conn
            .prepare_cached(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'proactive'",
            )
            .and_then(|mut s| s.exists([]))
            .map_err(self.reader_err())?;
        if !known {
            return Ok(Vec::new());
        }
        conn.prepare_cached(
            "SELECT p.sending_ms, o.paid_ms FROM proactive p LEFT JOIN orders o ON o.id = p.order_id
             WHERE p.kind = 'payment_reminder' AND p.sending_ms >= ?1 AND p.sending_ms < ?2
             ORDER BY p.sending_ms LIMIT ?3",
        )
        .and_then(|mut s| {
            s.query_map(params![from_ms, to_ms, limit as i64], |r| {
                Ok(ReminderOutcome {
                    sent_ms: r.get(0)?,
                    paid_ms: r.get(1)?,
                })
            })?
            .collect()
        })
        .map_err(self.reader_err())
    }

    /// Buyer messages whose bot answer an agent marked wrong in
    /// `[from_ms, to_ms]`, newest first, at most `limit`: (text,
    /// conversation, marked at). Each message once, however often marked.
    pub fn marked_wrong(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        self.read(|c| {
            // A file of an older version, opened read-only (`report`), has
            // no desk log yet: nothing was marked.
            let has_log: bool = c.query_row(
                "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'desk_events')",
                [],
                |r| r.get(0),
            )?;
            if !has_log {
                return Ok(Vec::new());
            }
            c.prepare_cached(
                "SELECT m.text, m.conversation, MAX(e.at_ms) AS at
                 FROM desk_events e JOIN messages m
                   ON m.id = e.message_id AND m.conversation = e.conversation
                 WHERE e.kind = 'wrong' AND e.at_ms BETWEEN ?1 AND ?2
                 GROUP BY m.conversation, m.id
                 ORDER BY at DESC LIMIT ?3",
            )?
            .query_map(params![from_ms, to_ms, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect()
        })
    }

    /// The desk log of a conversation, oldest first: (kind, agent,
    /// message id, detail, at).
    pub fn desk_events(&self, conversation: &str) -> Result<Vec<DeskRow>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT kind, agent, message_id, detail, at_ms FROM desk_events
                 WHERE conversation = ?1 ORDER BY at_ms, id",
            )?
            .query_map(params![conversation], |r| {
                Ok(DeskRow {
                    kind: r.get(0)?,
                    agent: r.get(1)?,
                    message_id: r.get(2)?,
                    detail: r.get(3)?,
                    at_ms: r.get(4)?,
                })
            })?
            .collect()
        })
    }

    /// [`Store::escalation_history`].
    pub fn escalation_history(
        &self,
        conversation: &str,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT status, agent FROM escalations WHERE conversation = ?1 ORDER BY opened_ms, id",
            )?
            .query_map(params![conversation], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
        })
    }

    /// Escalated conversations no agent has taken yet.
    pub fn waiting(&self) -> Result<i64, StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT COUNT(*) FROM conversations WHERE status = 'escalated'")?
                .query_row([], |r| r.get(0))
        })
    }

    /// True when message `id` of `conversation` is stored.
    pub fn message_stored(&self, conversation: &str, id: &str) -> Result<bool, StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT 1 FROM messages WHERE conversation = ?1 AND id = ?2")?
                .exists(params![conversation, id])
        })
    }

    /// Decisions that answered (reply or escalate).
    pub fn decided_answers(&self) -> Result<i64, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT COUNT(*) FROM decisions WHERE action IN ('reply', 'escalate')",
            )?
            .query_row([], |r| r.get(0))
        })
    }

    /// The report's counts and teachable escalations for `[from_ms, to_ms]`.
    pub fn report_window(
        &self,
        from_ms: i64,
        to_ms: i64,
        t: Teachable<'_>,
    ) -> Result<ReportWindow, StoreError> {
        self.read(|c| {
            let mut w = ReportWindow::default();
            let mut stmt = c.prepare_cached(
                "SELECT action, COUNT(*) FROM decisions WHERE decided_ms BETWEEN ?1 AND ?2 GROUP BY action",
            )?;
            for r in stmt.query_map([from_ms, to_ms], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
            })? {
                let (action, n) = r?;
                match action.as_str() {
                    "reply" => w.replied = n,
                    "escalate" => w.escalated = n,
                    _ => {}
                }
            }
            let mut stmt = c.prepare_cached(
                "SELECT COALESCE(reason, 'unknown'), COUNT(*) FROM decisions
                 WHERE action = 'escalate' AND decided_ms BETWEEN ?1 AND ?2 GROUP BY 1",
            )?;
            for r in stmt.query_map([from_ms, to_ms], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
            })? {
                let (reason, n) = r?;
                w.reasons.insert(reason, n);
            }
            let mut stmt = c.prepare_cached(
                "SELECT m.text, m.conversation, d.decided_ms, COALESCE(d.reason, 'unknown')
                 FROM decisions d JOIN messages m
                   ON m.id = d.message_id AND m.conversation = d.conversation
                 WHERE d.action = 'escalate' AND d.decided_ms BETWEEN ?1 AND ?2
                   AND (d.reason IN (?4, ?5) OR d.confidence < ?6)
                 ORDER BY d.decided_ms DESC, m.rowid DESC LIMIT ?3",
            )?;
            w.teachable = stmt
                .query_map(
                    params![
                        from_ms,
                        to_ms,
                        t.limit as i64,
                        t.reasons[0],
                        t.reasons[1],
                        t.below
                    ],
                    |r| {
                        Ok(EscalatedMessage {
                            text: r.get(0)?,
                            conversation: r.get(1)?,
                            decided_ms: r.get(2)?,
                            reason: r.get(3)?,
                        })
                    },
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(w)
        })
    }

    /// Runs a read-only query on the reader connection (reports, tests).
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn).map_err(|source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }

    /// Finishes queued writes and stops the writer.
    pub fn close(&self) {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = h.join();
        }
    }
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        self.close();
    }
}
const ORDER_COLUMNS: &str =
    "SELECT id, conversation, buyer, status, items, total, address, courier, tracking, chatted,
    created_ms, paid_ms, shipped_ms, delivered_ms, closed_ms FROM orders";

fn order_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredOrder> {
    Ok(StoredOrder {
        id: r.get(0)?,
        conversation: r.get(1)?,
        buyer: r.get(2)?,
        status: r.get(3)?,
        items: r.get(4)?,
        total: r.get(5)?,
        address: r.get(6)?,
        courier: r.get(7)?,
        tracking: r.get(8)?,
        chatted: r.get::<_, i64>(9)? != 0,
        created_ms: r.get(10)?,
        paid_ms: r.get(11)?,
        shipped_ms: r.get(12)?,
        delivered_ms: r.get(13)?,
        closed_ms: r.get(14)?,
    })
}

const PROACTIVE_COLUMNS: &str =
    "SELECT id, conversation, buyer, order_id, kind, state, due_ms, reason, text, frame,
    sending_ms, sent_ms FROM proactive";

fn proactive_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ProactiveRow> {
    Ok(ProactiveRow {
        id: r.get(0)?,
        conversation: r.get(1)?,
        buyer: r.get(2)?,
        order_id: r.get(3)?,
        kind: r.get(4)?,
        state: r.get(5)?,
        due_ms: r.get(6)?,
        reason: r.get(7)?,
        text: r.get(8)?,
        frame: r.get(9)?,
        sending_ms: r.get(10)?,
        sent_ms: r.get(11)?,
    })
}

/// Most jobs one transaction carries.
const BATCH: usize = 512;

/// With no write for this long, the writer proves the store still takes
/// writes (readiness follows the answer).
pub const PROBE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

fn write_loop(mut conn: Connection, path: PathBuf, rx: mpsc::Receiver<Job>) {
    loop {
        let first = match rx.recv_timeout(PROBE_EVERY) {
            Ok(j) => j,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let r = probe(&conn).map_err(|e| e.to_string());
                if let Err(e) = &r {
                    tracing::error!(store = %path.display(), error = %e, "the state store cannot write");
                }
                crate::metrics::set_store_health(r);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut jobs = vec![first];
        while jobs.len() < BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let result = commit(&mut conn, &jobs).map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::error!(store = %path.display(), error = %e, "a write to the state store failed; the messages stay unacknowledged");
        }
        crate::metrics::set_store_health(result.as_ref().map(|_| ()).map_err(Clone::clone));
        match result {
            Ok(written) => {
                for (j, w) in jobs.into_iter().zip(written) {
                    if let Some(done) = j.done {
                        let _ = done.send(Ok(w));
                    }
                }
            }
            Err(e) => {
                for j in jobs {
                    if let Some(done) = j.done {
                        let _ = done.send(Err(e.clone()));
                    }
                }
            }
        }
    }
}

/// Commits `jobs` in one transaction, each in its own savepoint: a job that
/// finds its message stored already is rolled back alone.
fn commit(conn: &mut Connection, jobs: &[Job]) -> rusqlite::Result<Vec<Written>> {
    let mut tx = conn.transaction()?;
    let now = now_ms();
    let mut written = Vec::with_capacity(jobs.len());
    for job in jobs {
        let sp = tx.savepoint()?;
        let mut fresh = true;
        for op in &job.ops {
            if !apply(&sp, op, now)? {
                fresh = false;
                break;
            }
        }
        if fresh {
            sp.commit()?;
            written.push(Written::Committed);
        } else {
            // Dropping the savepoint rolls the job back.
            drop(sp);
            written.push(Written::Duplicate);
        }
    }
    tx.commit()?;
    Ok(written)
}

/// Applies one op; false when it finds its id taken (the job is a duplicate).
fn apply(tx: &Connection, op: &Op, now: i64) -> rusqlite::Result<bool> {
    match op {
        Op::Message {
            id,
            conversation,
            role,
            sender,
            name,
            text,
            ts,
            item,
        } => {
            let n = tx
                .prepare_cached(
                    "INSERT INTO messages(id, conversation, role, sender, name, text, ts, item, received_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING",
                )?
                .execute(params![id, conversation, role, sender, name, text, ts, item, now])?;
            if n == 0 {
                return Ok(false);
            }
        }
        Op::Decision {
            message_id,
            conversation,
            action,
            intents,
            confidence,
            reason,
            lang,
            reply,
        } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO decisions(message_id, conversation, action, intents, confidence, reason, lang, reply, decided_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![message_id, conversation, action, intents, confidence, reason, lang, reply, now])?;
        }
        Op::Outbound {
            conversation,
            in_reply_to,
            kind,
            frame,
        } => {
            tx.prepare_cached(
                "INSERT INTO outbound(conversation, in_reply_to, kind, frame, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![conversation, in_reply_to, kind, frame, now])?;
        }
        Op::State {
            conversation,
            status,
            agent,
            state,
        } => {
            tx.prepare_cached(
                "INSERT INTO conversations(id, status, agent, state, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(id) DO UPDATE SET status = ?2, agent = ?3, state = ?4, updated_ms = ?5",
            )?
            .execute(params![conversation, status, agent, state, now])?;
        }
        Op::EscalationOpened {
            conversation,
            message_id,
            reason,
            priority,
            summary,
        } => {
            tx.prepare_cached(
                "INSERT INTO escalations(conversation, message_id, reason, priority, summary, status, opened_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6)",
            )?
            .execute(params![conversation, message_id, reason, priority, summary, now])?;
        }
        Op::Taken {
            conversation,
            agent,
        } => {
            let n = tx
                .prepare_cached(
                    "UPDATE escalations SET status = 'taken', agent = ?2, taken_ms = ?3
                     WHERE conversation = ?1 AND status = 'open'",
                )?
                .execute(params![conversation, agent, now])?;
            if n == 0 {
                tx.prepare_cached(
                    "INSERT INTO escalations(conversation, reason, priority, summary, status, agent, opened_ms, taken_ms)
                     VALUES (?1, 'agent_takeover', 'normal', 'taken over by an agent', 'taken', ?2, ?3, ?3)",
                )?
                .execute(params![conversation, agent, now])?;
            }
        }
        Op::Released {
            conversation,
            agent,
        } => {
            tx.prepare_cached(
                "UPDATE escalations SET status = 'released', agent = COALESCE(agent, ?2), released_ms = ?3
                 WHERE conversation = ?1 AND status IN ('open', 'taken')",
            )?
            .execute(params![conversation, agent, now])?;
        }
        Op::OrderEvent {
            id,
            conversation,
            order_id,
            status,
            ts,
        } => {
            let n = tx
                .prepare_cached(
                    "INSERT INTO order_events(id, conversation, order_id, status, ts, received_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                )?
                .execute(params![id, conversation, order_id, status, ts, now])?;
            if n == 0 {
                return Ok(false);
            }
        }
        Op::Order(o) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO orders(id, conversation, buyer, status, items, total, address, courier,
                 tracking, chatted, created_ms, paid_ms, shipped_ms, delivered_ms, closed_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?
            .execute(params![
                o.id,
                o.conversation,
                o.buyer,
                o.status,
                o.items,
                o.total,
                o.address,
                o.courier,
                o.tracking,
                i64::from(o.chatted),
                o.created_ms,
                o.paid_ms,
                o.shipped_ms,
                o.delivered_ms,
                o.closed_ms,
                now
            ])?;
        }
        Op::ProactiveDue {
            id,
            conversation,
            buyer,
            order_id,
            kind,
            due_ms,
            at_ms,
        } => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO proactive(id, conversation, buyer, order_id, kind, state, due_ms, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'due', ?6, ?7)",
            )?
            .execute(params![id, conversation, buyer, order_id, kind, due_ms, at_ms])?;
        }
        Op::ProactiveCancel {
            id,
            order_id,
            kind,
            reason,
        } => {
            // One statement per shape, each able to use an index.
            match (id, order_id) {
                (Some(id), _) => tx
                    .prepare_cached(
                        "UPDATE proactive SET state = 'cancelled', reason = ?4
                         WHERE id = ?1 AND state = 'due' AND (?2 IS NULL OR order_id = ?2)
                         AND (?3 IS NULL OR kind = ?3)",
                    )?
                    .execute(params![id, order_id, kind, reason])?,
                (None, Some(order_id)) => tx
                    .prepare_cached(
                        "UPDATE proactive SET state = 'cancelled', reason = ?3
                         WHERE order_id = ?1 AND state = 'due' AND (?2 IS NULL OR kind = ?2)",
                    )?
                    .execute(params![order_id, kind, reason])?,
                (None, None) => 0,
            };
        }
        Op::ProactiveDelay { id, due_ms, reason } => {
            tx.prepare_cached(
                "UPDATE proactive SET due_ms = ?2, reason = ?3 WHERE id = ?1 AND state = 'due'",
            )?
            .execute(params![id, due_ms, reason])?;
        }
        Op::ProactiveSending {
            id,
            text,
            frame,
            at_ms,
        } => {
            // The claim: of two instances, the first to store it sends it.
            let n = tx
                .prepare_cached(
                    "UPDATE proactive SET state = 'sending', text = ?2, frame = ?3, sending_ms = ?4
                     WHERE id = ?1 AND state = 'due'",
                )?
                .execute(params![id, text, frame, at_ms])?;
            if n == 0 {
                return Ok(false);
            }
        }
        Op::ProactiveSent { id, at_ms } => {
            tx.prepare_cached(
                "UPDATE proactive SET state = 'sent', sent_ms = ?2 WHERE id = ?1 AND state = 'sending'",
            )?
            .execute(params![id, at_ms])?;
        }
        Op::ProactiveFailed { id, reason } => {
            tx.prepare_cached(
                "UPDATE proactive SET state = 'failed', reason = ?2 WHERE id = ?1 AND state = 'sending'",
            )?
            .execute(params![id, reason])?;
        }
        Op::DeskEvent {
            conversation,
            kind,
            agent,
            message_id,
            detail,
        } => {
            tx.prepare_cached(
                "INSERT INTO desk_events(conversation, kind, agent, message_id, detail, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![conversation, kind, agent, message_id, detail, now])?;
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xiaoer-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("state.db")
    }

    #[test]
    fn the_desk_log_is_kept_and_an_older_file_reads_without_it() {
        let p = tmp("desk-log");
        let s = Sqlite::open(&p).unwrap();
        s.write_blocking(vec![
            message("m-1", "c-1"),
            Op::DeskEvent {
                conversation: "c-1".into(),
                kind: "note".into(),
                agent: "a-1".into(),
                message_id: None,
                detail: Some("老客户".into()),
            },
            Op::DeskEvent {
                conversation: "c-1".into(),
                kind: "wrong".into(),
                agent: "a-1".into(),
                message_id: Some("m-1".into()),
                detail: None,
            },
        ])
        .unwrap();
        let log = s.desk_events("c-1").unwrap();
        let kinds: Vec<&str> = log.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["note", "wrong"]);
        assert_eq!(log[0].detail.as_deref(), Some("老客户"));
        assert_eq!(s.marked_wrong(0, i64::MAX, 10).unwrap().len(), 1);
        s.close();
        // A version-2 file (before the desk log), opened read-only as
        // `report` does: nothing marked, no error.
        let old = tmp("desk-log-v2");
        {
            let c = Connection::open(&old).unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.execute_batch(MIGRATIONS[1]).unwrap();
            c.pragma_update(None, "user_version", 2).unwrap();
        }
        let r = Sqlite::open_read_only(&old).unwrap();
        assert!(r.marked_wrong(0, i64::MAX, 10).unwrap().is_empty());
    }

    fn message(id: &str, conv: &str) -> Op {
        Op::Message {
            id: id.into(),
            conversation: conv.into(),
            role: "buyer".into(),
            sender: Some("b-1".into()),
            name: None,
            text: "有货吗".into(),
            ts: None,
            item: None,
        }
    }

    #[test]
    fn written_rows_survive_reopening() {
        let path = tmp("reopen");
        {
            let s = Sqlite::open(&path).unwrap();
            s.write_blocking(vec![
                message("m-1", "c-1"),
                Op::State {
                    conversation: "c-1".into(),
                    status: "escalated".into(),
                    agent: None,
                    state: "{}".into(),
                },
            ])
            .unwrap();
        }
        let s = Sqlite::open(&path).unwrap();
        let c = s.conversation("c-1").unwrap().unwrap();
        assert_eq!(c.status, "escalated");
        assert!(c.handled.contains("m-1"));
        assert!(s.conversation("c-2").unwrap().is_none());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let path = tmp("newer");
        {
            let c = Connection::open(&path).unwrap();
            c.pragma_update(None, "user_version", 99).unwrap();
        }
        let e = Sqlite::open(&path).err().unwrap();
        assert!(e.to_string().contains("schema version 99"), "{e}");
    }

    /// A file of schema version 1 (ids unique across conversations) is
    /// migrated in place: its rows stay, and afterwards a message id reused
    /// in another conversation is a message of its own.
    #[test]
    fn version_1_files_migrate_and_ids_are_per_conversation() {
        let path = tmp("migrate");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
            c.execute_batch(
                "INSERT INTO messages VALUES ('m-1', 'c-1', 'buyer', NULL, NULL, '有货吗', NULL, NULL, 1);
                 INSERT INTO decisions VALUES ('m-1', 'c-1', 'reply', '[]', 0.9, NULL, 'zh', '有的', 1);",
            )
            .unwrap();
        }
        let s = Sqlite::open(&path).unwrap();
        let version: i64 = s
            .read(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        assert!(s
            .conversation("c-1")
            .unwrap()
            .unwrap()
            .handled
            .contains("m-1"));
        let decision = |conv: &str, action: &str| Op::Decision {
            message_id: "m-1".into(),
            conversation: conv.into(),
            action: action.into(),
            intents: "[]".into(),
            confidence: None,
            reason: None,
            lang: None,
            reply: None,
        };
        s.write_blocking(vec![message("m-1", "c-2"), decision("c-2", "escalate")])
            .unwrap();
        // Rows: (conversation, action) of m-1, one per conversation.
        let rows: Vec<(String, String)> = s
            .read(|c| {
                c.prepare("SELECT conversation, action FROM decisions WHERE message_id = 'm-1' ORDER BY 1")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .unwrap();
        assert_eq!(
            rows,
            [
                ("c-1".into(), "reply".into()),
                ("c-2".into(), "escalate".into())
            ]
        );
        assert!(s
            .conversation("c-2")
            .unwrap()
            .unwrap()
            .handled
            .contains("m-1"));
        let texts: i64 = s
            .read(|c| {
                c.query_row("SELECT COUNT(*) FROM messages WHERE id = 'm-1'", [], |r| {
                    r.get(0)
                })
            })
            .unwrap();
        assert_eq!(texts, 2);
    }

    /// Opening for reading changes nothing: not the journal mode, not the
    /// schema, no health row.
    #[test]
    fn read_only_opening_writes_nothing() {
        let path = tmp("read-only");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let s = Sqlite::open_read_only(&path).unwrap();
        assert!(s.conversation("c-1").unwrap().is_none());
        assert!(matches!(
            s.write_blocking(vec![message("m", "c")]),
            Err(StoreError::Closed(_))
        ));
        drop(s);
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let empty = tmp("read-only-empty");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(
            Sqlite::open_read_only(&empty),
            Err(StoreError::NotAStore(_))
        ));
    }

    #[test]
    fn takeover_without_an_escalation_opens_one() {
        let path = tmp("takeover");
        let s = Sqlite::open(&path).unwrap();
        s.write_blocking(vec![Op::Taken {
            conversation: "c-1".into(),
            agent: "a-1".into(),
        }])
        .unwrap();
        s.write_blocking(vec![Op::Released {
            conversation: "c-1".into(),
            agent: "a-1".into(),
        }])
        .unwrap();
        let rows: Vec<(String, String)> = s
            .read(|c| {
                c.prepare("SELECT status, agent FROM escalations")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .unwrap();
        assert_eq!(rows, vec![("released".into(), "a-1".into())]);
    }
}
