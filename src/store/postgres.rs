//! The shared back end: a PostgreSQL server that several bot instances use at
//! once (`store.url = "postgres://…"`).
//!
//! Each write is one transaction on a pooled connection, its statements sent
//! in one pipeline (three round trips a write). The first to insert
//! a message id (or order-event id) wins; a second write of the same id
//! inserts nothing, is rolled back whole and comes back as
//! [`Written::Duplicate`], so two instances never both answer one message.
//! Migrations are versioned in `xiaoer_schema` and run under an advisory
//! lock, so instances starting together migrate once. Plain TCP only (the
//! server on loopback or a private network): no TLS in this version.

use super::*;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

/// Connections one instance keeps to the server at most.
pub const POOL_SIZE: usize = 16;
/// Longest wait for a pooled connection (or a new one) before a write fails.
pub const CONNECT_WITHIN: Duration = Duration::from_secs(5);
/// Key of the advisory lock the migrations run under.
const MIGRATION_LOCK: i64 = 0x7869_616f_6572; // "xiaoer"

/// The schema, one migration per version; `xiaoer_schema` says which ran.
/// Version 1 is SQLite's versions 1–5 at once (this back end started there).
const MIGRATIONS: &[&str] = &[
    // 1: everything.
    "CREATE TABLE messages(
        id TEXT NOT NULL,
        conversation TEXT NOT NULL,
        role TEXT NOT NULL,
        sender TEXT,
        name TEXT,
        text TEXT NOT NULL,
        ts TEXT,
        item TEXT,
        received_ms BIGINT NOT NULL,
        seq BIGSERIAL,
        PRIMARY KEY (conversation, id)
    );
    CREATE INDEX messages_by_conversation ON messages(conversation, received_ms);
    CREATE INDEX messages_by_time ON messages(received_ms);
    CREATE TABLE decisions(
        message_id TEXT NOT NULL,
        conversation TEXT NOT NULL,
        action TEXT NOT NULL,
        intents TEXT NOT NULL,
        confidence REAL,
        reason TEXT,
        lang TEXT,
        reply TEXT,
        decided_ms BIGINT NOT NULL,
        PRIMARY KEY (conversation, message_id)
    );
    CREATE INDEX decisions_by_time ON decisions(decided_ms);
    CREATE TABLE outbound(
        seq BIGSERIAL PRIMARY KEY,
        conversation TEXT,
        in_reply_to TEXT,
        kind TEXT NOT NULL,
        frame TEXT NOT NULL,
        at_ms BIGINT NOT NULL
    );
    CREATE INDEX outbound_by_message ON outbound(in_reply_to);
    CREATE TABLE conversations(
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        agent TEXT,
        state TEXT NOT NULL,
        updated_ms BIGINT NOT NULL
    );
    CREATE INDEX conversations_by_status ON conversations(status);
    CREATE TABLE escalations(
        id BIGSERIAL PRIMARY KEY,
        conversation TEXT NOT NULL,
        message_id TEXT,
        reason TEXT NOT NULL,
        priority TEXT NOT NULL,
        summary TEXT NOT NULL,
        status TEXT NOT NULL,
        agent TEXT,
        opened_ms BIGINT NOT NULL,
        taken_ms BIGINT,
        released_ms BIGINT
    );
    CREATE INDEX escalations_by_conversation ON escalations(conversation, status);
    CREATE TABLE health(k INTEGER PRIMARY KEY CHECK (k = 1), probed_ms BIGINT NOT NULL);
    CREATE TABLE order_events(
        id TEXT NOT NULL,
        conversation TEXT NOT NULL,
        order_id TEXT NOT NULL,
        status TEXT NOT NULL,
        ts TEXT,
        received_ms BIGINT NOT NULL,
        PRIMARY KEY (conversation, id)
    );
    CREATE TABLE orders(
        id TEXT PRIMARY KEY,
        conversation TEXT NOT NULL,
        buyer TEXT,
        status TEXT NOT NULL,
        items TEXT NOT NULL,
        total DOUBLE PRECISION,
        address TEXT,
        courier TEXT,
        tracking TEXT,
        chatted BOOLEAN NOT NULL DEFAULT FALSE,
        created_ms BIGINT,
        paid_ms BIGINT,
        shipped_ms BIGINT,
        delivered_ms BIGINT,
        closed_ms BIGINT,
        updated_ms BIGINT NOT NULL
    );
    CREATE INDEX orders_by_conversation ON orders(conversation);
    CREATE TABLE proactive(
        id TEXT PRIMARY KEY,
        conversation TEXT NOT NULL,
        buyer TEXT NOT NULL,
        order_id TEXT,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        due_ms BIGINT NOT NULL,
        reason TEXT,
        text TEXT,
        frame TEXT,
        created_ms BIGINT NOT NULL,
        sending_ms BIGINT,
        sent_ms BIGINT
    );
    CREATE INDEX proactive_due ON proactive(state, due_ms);
    CREATE INDEX proactive_by_conversation ON proactive(conversation);
    CREATE INDEX proactive_by_buyer ON proactive(buyer, sending_ms);
    CREATE TABLE desk_events(
        id BIGSERIAL PRIMARY KEY,
        conversation TEXT NOT NULL,
        kind TEXT NOT NULL,
        agent TEXT NOT NULL,
        message_id TEXT,
        detail TEXT,
        at_ms BIGINT NOT NULL
    );
    CREATE INDEX desk_events_by_conversation ON desk_events(conversation, at_ms);
    CREATE INDEX desk_events_by_kind ON desk_events(kind, at_ms);",
    // 2: an order's due messages are cancelled by the order (paid, closed).
    "CREATE INDEX proactive_by_order ON proactive(order_id, state);",
];

/// The PostgreSQL back end.
pub struct Postgres {
    pool: Pool,
    /// The address without its password (messages, logs).
    url: String,
    /// The runtime the pool lives on ([`Postgres::write_blocking`]).
    rt: tokio::runtime::Handle,
    read_only: bool,
    probe: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// `url` with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest = &out[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            if let Some(colon) = rest[..at].find(':') {
                let start = scheme_end + 3 + colon + 1;
                let end = scheme_end + 3 + at;
                out.replace_range(start..end, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

impl Postgres {
    /// Connects to `url`, checks the server takes queries and migrates the
    /// schema (unless `read_only`). Must run on a tokio runtime.
    pub async fn connect(
        url: &str,
        password: Option<&str>,
        read_only: bool,
    ) -> Result<Postgres, StoreError> {
        let shown = redact(url);
        let bad = |why: String| StoreError::Url {
            url: shown.clone(),
            why,
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(bad("must start with postgres:// or postgresql://".into()));
        }
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| bad(format!("{e}")))?;
        if let Some(p) = password {
            config.password(p.trim_end_matches(['\r', '\n']));
        }
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(bad(
                "sslmode=require: this xiaoer connects without TLS (keep the server on loopback or a private network)".into(),
            ));
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_WITHIN))
            .create_timeout(Some(CONNECT_WITHIN))
            .build()
            .map_err(|e| bad(e.to_string()))?;
        let pg = Postgres {
            pool,
            url: shown,
            rt: tokio::runtime::Handle::current(),
            read_only,
            probe: std::sync::Mutex::new(None),
        };
        if read_only {
            let version = pg.version().await?;
            if version < 1 {
                return Err(pg.err("no xiaoer schema in this database (give the bots' store.url)"));
            }
            if version > MIGRATIONS.len() as i64 {
                return Err(pg.too_new(version));
            }
        } else {
            pg.migrate().await?;
            probe(&pg.pool).await.map_err(|e| pg.err(e))?;
            crate::metrics::set_store_health(Ok(()));
            pg.start_probing();
        }
        Ok(pg)
    }

    /// The server's address, without password.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn err(&self, message: impl std::fmt::Display) -> StoreError {
        StoreError::Postgres {
            url: self.url.clone(),
            message: message.to_string(),
        }
    }

    /// The error for a driver error, with what the server said.
    fn pg(&self, e: tokio_postgres::Error) -> StoreError {
        self.err(describe(&e))
    }

    fn too_new(&self, found: i64) -> StoreError {
        self.err(format!(
            "schema version {found} is newer than this xiaoer knows ({}); use a newer binary",
            MIGRATIONS.len()
        ))
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => self.pg(e),
            other => self.err(format!("no connection: {other}")),
        })
    }

    /// The schema version in the database (0: none yet).
    async fn version(&self) -> Result<i64, StoreError> {
        let c = self.client().await?;
        let exists: bool = c
            .query_one("SELECT to_regclass('xiaoer_schema') IS NOT NULL", &[])
            .await
            .map_err(|e| self.pg(e))?
            .get(0);
        if !exists {
            return Ok(0);
        }
        let row = c
            .query_one("SELECT COALESCE(MAX(version), 0) FROM xiaoer_schema", &[])
            .await
            .map_err(|e| self.pg(e))?;
        Ok(row.get::<_, i32>(0) as i64)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let e = |e: tokio_postgres::Error| self.err(format!("migrating: {}", describe(&e)));
        let tx = c.transaction().await.map_err(e)?;
        // Instances starting together: one migrates, the others wait and
        // then find nothing to do.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(e)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS xiaoer_schema(version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)",
        )
        .await
        .map_err(e)?;
        let version: i32 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM xiaoer_schema", &[])
            .await
            .map_err(e)?
            .get(0);
        if version as usize > MIGRATIONS.len() {
            return Err(self.too_new(version as i64));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.batch_execute(sql).await.map_err(|err| {
                self.err(format!(
                    "migrating to schema version {}: {}",
                    i + 1,
                    describe(&err)
                ))
            })?;
            tx.execute(
                "INSERT INTO xiaoer_schema(version, applied_ms) VALUES ($1, $2)",
                &[&((i + 1) as i32), &now_ms()],
            )
            .await
            .map_err(e)?;
        }
        tx.commit().await.map_err(e)
    }

    /// Probes every [`sqlite::PROBE_EVERY`] so readiness follows the server.
    fn start_probing(&self) {
        let pool = self.pool.clone();
        let url = self.url.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(sqlite::PROBE_EVERY).await;
                let r = probe(&pool).await;
                if let Err(e) = &r {
                    tracing::error!(store = %url, error = %e, "the state store cannot write");
                }
                crate::metrics::set_store_health(r);
            }
        });
        *self.probe.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }

    /// Writes `ops` in one transaction ([`Store::write`]).
    pub async fn write(&self, ops: Vec<Op>) -> Result<Written, StoreError> {
        if self.read_only {
            return Err(self.err("opened read-only"));
        }
        let r = self.write_tx(&ops).await;
        crate::metrics::set_store_health(r.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        r
    }

    /// One transaction in three round trips whatever the number of ops:
    /// `BEGIN`, then every statement at once (tokio-postgres pipelines
    /// requests polled together; the server runs them in order), then
    /// `COMMIT`, or `ROLLBACK` when a claim found its id taken.
    async fn write_tx(&self, ops: &[Op]) -> Result<Written, StoreError> {
        let now = now_ms();
        let mut stmts = Vec::with_capacity(ops.len() + 2);
        for op in ops {
            statements(op, &now, &mut stmts);
        }
        let mut c = self.client().await?;
        let e = |e: tokio_postgres::Error| self.err(format!("write failed: {}", describe(&e)));
        let tx = c.transaction().await.map_err(e)?;
        let mut prepared = Vec::with_capacity(stmts.len());
        for s in &stmts {
            // From the connection's cache after its first write.
            prepared.push(tx.prepare_cached(s.sql).await.map_err(e)?);
        }
        let done = futures_util::future::join_all(
            stmts
                .iter()
                .zip(&prepared)
                .map(|(s, p)| tx.execute(p, &s.params)),
        )
        .await;
        let mut duplicate = false;
        for (s, n) in stmts.iter().zip(done) {
            // The first error is the cause; the later ones only say the
            // transaction is aborted.
            if n.map_err(e)? == 0 && s.claim {
                duplicate = true;
            }
        }
        if duplicate {
            tx.rollback().await.map_err(e)?;
            return Ok(Written::Duplicate);
        }
        tx.commit().await.map_err(e)?;
        Ok(Written::Committed)
    }

    /// [`Postgres::write`] from a thread outside the runtime.
    pub fn write_blocking(&self, ops: Vec<Op>) -> Result<Written, StoreError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(self.err("write_blocking called on the runtime"));
        }
        self.rt.block_on(self.write(ops))
    }

    async fn rows(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(sql).await.map_err(|e| self.pg(e))?;
        c.query(&stmt, params).await.map_err(|e| self.pg(e))
    }

    async fn count(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<i64, StoreError> {
        Ok(self
            .rows(sql, params)
            .await?
            .first()
            .map(|r| r.get::<_, i64>(0))
            .unwrap_or(0))
    }

    async fn exists(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<bool, StoreError> {
        Ok(!self.rows(sql, params).await?.is_empty())
    }

    /// [`Store::conversation`].
    pub async fn conversation(&self, id: &str) -> Result<Option<StoredConversation>, StoreError> {
        let row = self
            .rows(
                "SELECT status, agent, state FROM conversations WHERE id = $1",
                &[&id],
            )
            .await?;
        let handled: HashSet<String> = self
            .rows(
                "SELECT id FROM messages WHERE conversation = $1 ORDER BY received_ms DESC LIMIT $2",
                &[&id, &(HANDLED_RECENT as i64)],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok(match row.first() {
            Some(r) => Some(StoredConversation {
                status: r.get(0),
                agent: r.get(1),
                state: r.get(2),
                handled,
            }),
            None if !handled.is_empty() => Some(StoredConversation {
                status: "bot".into(),
                handled,
                ..Default::default()
            }),
            None => None,
        })
    }

    /// [`Store::waiting`].
    pub async fn waiting(&self) -> Result<i64, StoreError> {
        self.count(
            "SELECT COUNT(*) FROM conversations WHERE status = 'escalated'",
            &[],
        )
        .await
    }

    /// [`Store::message_stored`].
    pub async fn message_stored(&self, conversation: &str, id: &str) -> Result<bool, StoreError> {
        self.exists(
            "SELECT 1 FROM messages WHERE conversation = $1 AND id = $2",
            &[&conversation, &id],
        )
        .await
    }

    /// [`Store::decided_answers`].
    pub async fn decided_answers(&self) -> Result<i64, StoreError> {
        self.count(
            "SELECT COUNT(*) FROM decisions WHERE action IN ('reply', 'escalate')",
            &[],
        )
        .await
    }

    /// [`Store::order_event_seen`].
    pub async fn order_event_seen(&self, conversation: &str, id: &str) -> Result<bool, StoreError> {
        self.exists(
            "SELECT 1 FROM order_events WHERE conversation = $1 AND id = $2",
            &[&conversation, &id],
        )
        .await
    }

    /// [`Store::order`].
    pub async fn order(&self, id: &str) -> Result<Option<StoredOrder>, StoreError> {
        Ok(self
            .rows(&format!("{ORDER_COLUMNS} WHERE id = $1"), &[&id])
            .await?
            .first()
            .map(order_row))
    }

    /// [`Store::conversation_orders`].
    pub async fn conversation_orders(
        &self,
        conversation: &str,
        limit: usize,
    ) -> Result<Vec<StoredOrder>, StoreError> {
        Ok(self
            .rows(
                &format!(
                    "{ORDER_COLUMNS} WHERE conversation = $1 ORDER BY updated_ms DESC, id LIMIT $2"
                ),
                &[&conversation, &(limit as i64)],
            )
            .await?
            .iter()
            .map(order_row)
            .collect())
    }

    /// [`Store::buyer_messages`].
    pub async fn buyer_messages(&self, conversation: &str) -> Result<i64, StoreError> {
        self.count(
            "SELECT COUNT(*) FROM messages WHERE conversation = $1 AND role = 'buyer'",
            &[&conversation],
        )
        .await
    }

    /// [`Store::complained_since`].
    pub async fn complained_since(
        &self,
        conversation: &str,
        since_ms: i64,
    ) -> Result<bool, StoreError> {
        self.exists(
            r#"SELECT 1 FROM decisions WHERE conversation = $1 AND decided_ms >= $2
             AND (reason = 'complaint' OR intents LIKE '%"complaint"%') LIMIT 1"#,
            &[&conversation, &since_ms],
        )
        .await
    }

    /// [`Store::sends_to_buyer`].
    pub async fn sends_to_buyer(
        &self,
        buyer: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<i64, StoreError> {
        self.count(
            "SELECT COUNT(*) FROM proactive WHERE buyer = $1 AND sending_ms >= $2 AND sending_ms < $3",
            &[&buyer, &from_ms, &to_ms],
        )
        .await
    }

    /// [`Store::proactive_in`].
    pub async fn proactive_in(
        &self,
        state: &str,
        until_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<ProactiveRow>, StoreError> {
        Ok(self
            .rows(
                &format!("{PROACTIVE_COLUMNS} WHERE state = $1 AND due_ms <= $2 ORDER BY due_ms, id LIMIT $3"),
                &[&state, &until_ms.unwrap_or(i64::MAX), &(limit as i64)],
            )
            .await?
            .iter()
            .map(proactive_row)
            .collect())
    }

    /// [`Store::proactive_row`].
    pub async fn proactive_row(&self, id: &str) -> Result<Option<ProactiveRow>, StoreError> {
        Ok(self
            .rows(&format!("{PROACTIVE_COLUMNS} WHERE id = $1"), &[&id])
            .await?
            .first()
            .map(proactive_row))
    }

    /// [`Store::proactive_counts`].
    pub async fn proactive_counts(
        &self,
    ) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
        Ok(self
            .rows("SELECT state, COUNT(*) FROM proactive GROUP BY state", &[])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    /// [`Store::next_due`].
    pub async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .rows("SELECT MIN(due_ms) FROM proactive WHERE state = 'due'", &[])
            .await?
            .first()
            .and_then(|r| r.get(0)))
    }

    /// [`Store::conversation_proactive`].
    pub async fn conversation_proactive(
        &self,
        conversation: &str,
        limit: usize,
    ) -> Result<Vec<ProactiveRow>, StoreError> {
        Ok(self
            .rows(
                &format!(
                    "{PROACTIVE_COLUMNS} WHERE conversation = $1 ORDER BY created_ms, id LIMIT $2"
                ),
                &[&conversation, &(limit as i64)],
            )
            .await?
            .iter()
            .map(proactive_row)
            .collect())
    }

    /// [`Store::reminder_outcomes`].
    pub async fn reminder_outcomes(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<ReminderOutcome>, StoreError> {
        Ok(self
            .rows(
                "SELECT p.sending_ms, o.paid_ms FROM proactive p LEFT JOIN orders o ON o.id = p.order_id
                 WHERE p.kind = 'payment_reminder' AND p.sending_ms >= $1 AND p.sending_ms < $2
                 ORDER BY p.sending_ms LIMIT $3",
                &[&from_ms, &to_ms, &(limit as i64)],
            )
            .await?
            .iter()
            .map(|r| ReminderOutcome {
                sent_ms: r.get(0),
                paid_ms: r.get(1),
            })
            .collect())
    }

    /// [`Store::marked_wrong`].
    pub async fn marked_wrong(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(self
            .rows(
                "SELECT m.text, m.conversation, MAX(e.at_ms) AS at
                 FROM desk_events e JOIN messages m
                   ON m.id = e.message_id AND m.conversation = e.conversation
                 WHERE e.kind = 'wrong' AND e.at_ms BETWEEN $1 AND $2
                 GROUP BY m.conversation, m.id
                 ORDER BY at DESC LIMIT $3",
                &[&from_ms, &to_ms, &(limit as i64)],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    /// [`Store::desk_events`].
    pub async fn desk_events(&self, conversation: &str) -> Result<Vec<DeskRow>, StoreError> {
        Ok(self
            .rows(
                "SELECT kind, agent, message_id, detail, at_ms FROM desk_events
                 WHERE conversation = $1 ORDER BY at_ms, id",
                &[&conversation],
            )
            .await?
            .iter()
            .map(|r| DeskRow {
                kind: r.get(0),
                agent: r.get(1),
                message_id: r.get(2),
                detail: r.get(3),
                at_ms: r.get(4),
            })
            .collect())
    }

    /// [`Store::escalation_history`].
    pub async fn escalation_history(
        &self,
        conversation: &str,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        Ok(self
            .rows(
                "SELECT status, agent FROM escalations WHERE conversation = $1 ORDER BY opened_ms, id",
                &[&conversation],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    /// [`Store::report_window`].
    pub async fn report_window(
        &self,
        from_ms: i64,
        to_ms: i64,
        t: Teachable<'_>,
    ) -> Result<ReportWindow, StoreError> {
        let mut w = ReportWindow::default();
        for r in self
            .rows(
                "SELECT action, COUNT(*) FROM decisions WHERE decided_ms BETWEEN $1 AND $2 GROUP BY action",
                &[&from_ms, &to_ms],
            )
            .await?
        {
            let n = r.get::<_, i64>(1).max(0) as u64;
            match r.get::<_, &str>(0) {
                "reply" => w.replied = n,
                "escalate" => w.escalated = n,
                _ => {}
            }
        }
        for r in self
            .rows(
                "SELECT COALESCE(reason, 'unknown'), COUNT(*) FROM decisions
                 WHERE action = 'escalate' AND decided_ms BETWEEN $1 AND $2 GROUP BY 1",
                &[&from_ms, &to_ms],
            )
            .await?
        {
            w.reasons.insert(r.get(0), r.get::<_, i64>(1).max(0) as u64);
        }
        w.teachable = self
            .rows(
                "SELECT m.text, m.conversation, d.decided_ms, COALESCE(d.reason, 'unknown')
                 FROM decisions d JOIN messages m
                   ON m.id = d.message_id AND m.conversation = d.conversation
                 WHERE d.action = 'escalate' AND d.decided_ms BETWEEN $1 AND $2
                   AND (d.reason IN ($4, $5) OR d.confidence < $6)
                 ORDER BY d.decided_ms DESC, m.seq DESC LIMIT $3",
                &[
                    &from_ms,
                    &to_ms,
                    &(t.limit as i64),
                    &t.reasons[0],
                    &t.reasons[1],
                    &(t.below as f32),
                ],
            )
            .await?
            .iter()
            .map(|r| EscalatedMessage {
                text: r.get(0),
                conversation: r.get(1),
                decided_ms: r.get(2),
                reason: r.get(3),
            })
            .collect();
        Ok(w)
    }

    /// Stops probing; the pool's connections close as it is dropped.
    pub fn close(&self) {
        if let Some(t) = self.probe.lock().unwrap_or_else(|p| p.into_inner()).take() {
            t.abort();
        }
        self.pool.close();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(t) = self.probe.lock().unwrap_or_else(|p| p.into_inner()).take() {
            t.abort();
        }
    }
}

/// One small write: proves the server takes writes (readiness).
async fn probe(pool: &Pool) -> Result<(), String> {
    let c = pool
        .get()
        .await
        .map_err(|e| format!("no connection: {e}"))?;
    c.execute(
        "INSERT INTO health(k, probed_ms) VALUES (1, $1)
         ON CONFLICT(k) DO UPDATE SET probed_ms = excluded.probed_ms",
        &[&now_ms()],
    )
    .await
    .map(|_| ())
    .map_err(|e| describe(&e))
}

/// A driver error with its causes (`db error` alone says nothing): the
/// server's message, or why the connection failed.
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

const ORDER_COLUMNS: &str =
    "SELECT id, conversation, buyer, status, items, total, address, courier, tracking, chatted,
    created_ms, paid_ms, shipped_ms, delivered_ms, closed_ms FROM orders";

fn order_row(r: &Row) -> StoredOrder {
    StoredOrder {
        id: r.get(0),
        conversation: r.get(1),
        buyer: r.get(2),
        status: r.get(3),
        items: r.get(4),
        total: r.get(5),
        address: r.get(6),
        courier: r.get(7),
        tracking: r.get(8),
        chatted: r.get(9),
        created_ms: r.get(10),
        paid_ms: r.get(11),
        shipped_ms: r.get(12),
        delivered_ms: r.get(13),
        closed_ms: r.get(14),
    }
}

const PROACTIVE_COLUMNS: &str =
    "SELECT id, conversation, buyer, order_id, kind, state, due_ms, reason, text, frame,
    sending_ms, sent_ms FROM proactive";

fn proactive_row(r: &Row) -> ProactiveRow {
    ProactiveRow {
        id: r.get(0),
        conversation: r.get(1),
        buyer: r.get(2),
        order_id: r.get(3),
        kind: r.get(4),
        state: r.get(5),
        due_ms: r.get(6),
        reason: r.get(7),
        text: r.get(8),
        frame: r.get(9),
        sending_ms: r.get(10),
        sent_ms: r.get(11),
    }
}

/// Runs `sql` with `params` in `tx`: rows changed.
/// One statement of a write.
struct Stmt<'a> {
    sql: &'static str,
    params: Vec<&'a (dyn ToSql + Sync)>,
    /// Changing no row means the write's id is taken: the write is a duplicate.
    claim: bool,
}

/// The statements of one op, in order. Pure: no statement depends on the
/// client reading an earlier one's result, so a write's statements go to the
/// server in one pipeline (see [`Postgres::write_tx`]).
fn statements<'a>(op: &'a Op, now: &'a i64, out: &mut Vec<Stmt<'a>>) {
    let mut push = |sql: &'static str, params: Vec<&'a (dyn ToSql + Sync)>, claim: bool| {
        out.push(Stmt { sql, params, claim })
    };
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
            push(
                "INSERT INTO messages(id, conversation, role, sender, name, text, ts, item, received_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                vec![id, conversation, role, sender, name, text, ts, item, now],
                true,
            );
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
            push(
                "INSERT INTO decisions(message_id, conversation, action, intents, confidence, reason, lang, reply, decided_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT(conversation, message_id) DO UPDATE SET action = $3, intents = $4,
                 confidence = $5, reason = $6, lang = $7, reply = $8, decided_ms = $9",
                vec![message_id, conversation, action, intents, confidence, reason, lang, reply, now],
                false,
            );
        }
        Op::Outbound {
            conversation,
            in_reply_to,
            kind,
            frame,
        } => {
            push(
                "INSERT INTO outbound(conversation, in_reply_to, kind, frame, at_ms) VALUES ($1, $2, $3, $4, $5)",
                vec![conversation, in_reply_to, kind, frame, now],
                false,
            );
        }
        Op::State {
            conversation,
            status,
            agent,
            state,
        } => {
            push(
                "INSERT INTO conversations(id, status, agent, state, updated_ms) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT(id) DO UPDATE SET status = $2, agent = $3, state = $4, updated_ms = $5",
                vec![conversation, status, agent, state, now],
                false,
            );
        }
        Op::EscalationOpened {
            conversation,
            message_id,
            reason,
            priority,
            summary,
        } => {
            push(
                "INSERT INTO escalations(conversation, message_id, reason, priority, summary, status, opened_ms)
                 VALUES ($1, $2, $3, $4, $5, 'open', $6)",
                vec![conversation, message_id, reason, priority, summary, now],
                false,
            );
        }
        Op::Taken {
            conversation,
            agent,
        } => push(
            // An open escalation becomes taken; with none open, the takeover
            // is recorded as one.
            "WITH taken AS (UPDATE escalations SET status = 'taken', agent = $2, taken_ms = $3
                 WHERE conversation = $1 AND status = 'open' RETURNING 1)
             INSERT INTO escalations(conversation, reason, priority, summary, status, agent, opened_ms, taken_ms)
             SELECT $1, 'agent_takeover', 'normal', 'taken over by an agent', 'taken', $2, $3, $3
             WHERE NOT EXISTS (SELECT 1 FROM taken)",
            vec![conversation, agent, now],
            false,
        ),
        Op::Released {
            conversation,
            agent,
        } => {
            push(
                "UPDATE escalations SET status = 'released', agent = COALESCE(agent, $2), released_ms = $3
                 WHERE conversation = $1 AND status IN ('open', 'taken')",
                vec![conversation, agent, now],
                false,
            );
        }
        Op::OrderEvent {
            id,
            conversation,
            order_id,
            status,
            ts,
        } => {
            push(
                "INSERT INTO order_events(id, conversation, order_id, status, ts, received_ms)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                vec![id, conversation, order_id, status, ts, now],
                true,
            );
        }
        Op::Order(o) => {
            push(
                "INSERT INTO orders(id, conversation, buyer, status, items, total, address, courier,
                 tracking, chatted, created_ms, paid_ms, shipped_ms, delivered_ms, closed_ms, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                 ON CONFLICT(id) DO UPDATE SET conversation = $2, buyer = $3, status = $4, items = $5,
                 total = $6, address = $7, courier = $8, tracking = $9, chatted = $10, created_ms = $11,
                 paid_ms = $12, shipped_ms = $13, delivered_ms = $14, closed_ms = $15, updated_ms = $16",
                vec![
                &o.id,
                &o.conversation,
                &o.buyer,
                &o.status,
                &o.items,
                &o.total,
                &o.address,
                &o.courier,
                &o.tracking,
                &o.chatted,
                &o.created_ms,
                &o.paid_ms,
                &o.shipped_ms,
                &o.delivered_ms,
                &o.closed_ms,
                now,
                ],
                false,
            );
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
            push(
                "INSERT INTO proactive(id, conversation, buyer, order_id, kind, state, due_ms, created_ms)
                 VALUES ($1, $2, $3, $4, $5, 'due', $6, $7) ON CONFLICT DO NOTHING",
                vec![id, conversation, buyer, order_id, kind, due_ms, at_ms],
                false,
            );
        }
        Op::ProactiveCancel {
            id,
            order_id,
            kind,
            reason,
        } => {
            // One statement per shape, each able to use an index (an
            // `$1 IS NULL OR id = $1` filter makes the planner scan the table).
            match (id, order_id) {
                (Some(id), _) => push(
                    "UPDATE proactive SET state = 'cancelled', reason = $4
                     WHERE id = $1 AND state = 'due' AND ($2::TEXT IS NULL OR order_id = $2)
                     AND ($3::TEXT IS NULL OR kind = $3)",
                    vec![id, order_id, kind, reason],
                    false,
                ),
                (None, Some(order_id)) => push(
                    "UPDATE proactive SET state = 'cancelled', reason = $3
                     WHERE order_id = $1 AND state = 'due' AND ($2::TEXT IS NULL OR kind = $2)",
                    vec![order_id, kind, reason],
                    false,
                ),
                (None, None) => {}
            }
        }
        Op::ProactiveDelay { id, due_ms, reason } => {
            push(
                "UPDATE proactive SET due_ms = $2, reason = $3 WHERE id = $1 AND state = 'due'",
                vec![id, due_ms, reason],
                false,
            );
        }
        Op::ProactiveSending {
            id,
            text,
            frame,
            at_ms,
        } => {
            // The claim: of two instances, the first to store it sends it.
            push(
                "UPDATE proactive SET state = 'sending', text = $2, frame = $3, sending_ms = $4
                 WHERE id = $1 AND state = 'due'",
                vec![id, text, frame, at_ms],
                true,
            );
        }
        Op::ProactiveSent { id, at_ms } => {
            push(
                "UPDATE proactive SET state = 'sent', sent_ms = $2 WHERE id = $1 AND state = 'sending'",
                vec![id, at_ms],
                false,
            );
        }
        Op::ProactiveFailed { id, reason } => {
            push(
                "UPDATE proactive SET state = 'failed', reason = $2 WHERE id = $1 AND state = 'sending'",
                vec![id, reason],
                false,
            );
        }
        Op::DeskEvent {
            conversation,
            kind,
            agent,
            message_id,
            detail,
        } => {
            push(
                "INSERT INTO desk_events(conversation, kind, agent, message_id, detail, at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                vec![conversation, kind, agent, message_id, detail, now],
                false,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_show() {
        for (given, shown) in [
            (
                "postgres://xiaoer:s3cret@db:5432/xiaoer",
                "postgres://xiaoer:***@db:5432/xiaoer",
            ),
            ("postgres://xiaoer@db/xiaoer", "postgres://xiaoer@db/xiaoer"),
            (
                "postgresql://u:p%40ss@h/d?sslmode=disable",
                "postgresql://u:***@h/d?sslmode=disable",
            ),
            (
                "postgres://h/d?user=u&password=pw",
                "postgres://h/d?user=u&password=***",
            ),
        ] {
            assert_eq!(redact(given), shown, "{given}");
        }
    }
}
