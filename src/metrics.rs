//! Observability: Prometheus metrics and the health endpoints.
//!
//! The bot records through the `metrics` facade (cheap when nothing is
//! installed, e.g. in `classify`); `run` and `demo` install the Prometheus
//! recorder and serve `/metrics`, `/healthz` (the process answers) and
//! `/readyz` (connected to the gateway and the state store takes writes).

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// Inbound messages, by `role`.
pub const MESSAGES: &str = "xiaoer_messages_total";
/// Redelivered messages acknowledged again without an answer.
pub const REDELIVERED: &str = "xiaoer_redelivered_total";
/// Replies, by first `intent`.
pub const REPLIES: &str = "xiaoer_replies_total";
/// Escalations, by `reason` and `priority`.
pub const ESCALATIONS: &str = "xiaoer_escalations_total";
/// Time to decide on a message (NLU + dialogue + reply), seconds.
pub const DECIDE_SECONDS: &str = "xiaoer_decide_seconds";
/// From a message's arrival to its frames handed to the connection (typing
/// delay excluded), seconds.
pub const HANDLE_SECONDS: &str = "xiaoer_message_seconds";
/// 1 while connected and welcomed by the gateway.
pub const CONNECTED_GAUGE: &str = "xiaoer_connected";
/// Connections lost and retried.
pub const RECONNECTS: &str = "xiaoer_reconnects_total";
/// Frames dropped as bad, by `why`.
pub const BAD_FRAMES: &str = "xiaoer_bad_frames_total";
/// Reloads of the operators' files, by `result` (ok, invalid).
pub const RELOADS: &str = "xiaoer_reloads_total";
/// Escalated conversations waiting for an agent.
pub const WAITING: &str = "xiaoer_waiting_escalations";
/// Store writes that failed.
pub const STORE_ERRORS: &str = "xiaoer_store_errors_total";

/// 1 while the state store takes writes (last write or probe succeeded).
pub const STORE_GAUGE: &str = "xiaoer_store_writable";
/// Decisions that missed their deadline (the chat went to a person).
pub const DECIDE_TIMEOUTS: &str = "xiaoer_decide_timeouts_total";
/// Hand-off writes retried after a store error.
pub const HANDOFF_RETRIES: &str = "xiaoer_handoff_retries_total";
/// Order events stored, by `status`.
pub const ORDER_EVENTS: &str = "xiaoer_order_events_total";
/// Proactive messages decided, by `kind` and `outcome` (send, cancel, delay).
pub const PROACTIVE: &str = "xiaoer_proactive_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static CONNECTED: AtomicBool = AtomicBool::new(false);
/// None until a store opened; then the last write's or probe's outcome.
static STORE: Mutex<Option<Result<(), String>>> = Mutex::new(None);

/// Installs the Prometheus recorder (once per process).
pub fn install() -> Option<PrometheusHandle> {
    if let Some(h) = HANDLE.get() {
        return Some(h.clone());
    }
    let buckets = [
        0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01,
        0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets(&buckets)
        .ok()?
        .install_recorder()
        .ok()?;
    metrics::describe_counter!(MESSAGES, "Inbound messages by role");
    metrics::describe_counter!(REDELIVERED, "Redelivered messages acknowledged again");
    metrics::describe_counter!(REPLIES, "Replies by first intent");
    metrics::describe_counter!(ESCALATIONS, "Escalations by reason and priority");
    metrics::describe_histogram!(DECIDE_SECONDS, "Decision time per message");
    metrics::describe_histogram!(HANDLE_SECONDS, "Arrival to frames sent, per message");
    metrics::describe_gauge!(CONNECTED_GAUGE, "Connected to the gateway");
    metrics::describe_counter!(RECONNECTS, "Connections lost and retried");
    metrics::describe_counter!(BAD_FRAMES, "Frames dropped as bad");
    metrics::describe_counter!(RELOADS, "Reloads of the operators' files by result");
    metrics::describe_gauge!(WAITING, "Escalated chats waiting for an agent");
    metrics::describe_counter!(STORE_ERRORS, "Store writes that failed");
    metrics::describe_gauge!(STORE_GAUGE, "The state store takes writes");
    metrics::describe_counter!(DECIDE_TIMEOUTS, "Decisions past their deadline");
    metrics::describe_counter!(HANDOFF_RETRIES, "Hand-off writes retried");
    let _ = HANDLE.set(handle.clone());
    Some(handle)
}

/// Records the connection state (for `/readyz` and the gauge).
pub fn set_connected(up: bool) {
    CONNECTED.store(up, Ordering::Relaxed);
    metrics::gauge!(CONNECTED_GAUGE).set(if up { 1.0 } else { 0.0 });
}

/// True while connected and welcomed.
pub fn connected() -> bool {
    CONNECTED.load(Ordering::Relaxed)
}

/// Records whether the state store takes writes (its writer calls this after
/// every transaction and probe).
pub fn set_store_health(outcome: Result<(), String>) {
    metrics::gauge!(STORE_GAUGE).set(if outcome.is_ok() { 1.0 } else { 0.0 });
    *STORE.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
}

/// Why the process is not ready, or None when it is: connected to the
/// gateway and the state store takes writes.
pub fn not_ready() -> Option<String> {
    if !connected() {
        return Some("not connected to the gateway".into());
    }
    match &*STORE.lock().unwrap_or_else(|p| p.into_inner()) {
        None => Some("no state store open".into()),
        Some(Err(e)) => Some(format!(
            "the state store cannot write: {}",
            crate::logsafe::escape(e)
        )),
        Some(Ok(())) => None,
    }
}

/// `/metrics`, `/healthz`, `/readyz`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/metrics",
            get(|| async {
                match HANDLE.get() {
                    Some(h) => (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        h.render(),
                    )
                        .into_response(),
                    None => (StatusCode::NOT_FOUND, "metrics are off").into_response(),
                }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(|| async {
                match not_ready() {
                    None => (
                        StatusCode::OK,
                        "ready: connected to the gateway, the state store takes writes\n"
                            .to_string(),
                    ),
                    Some(why) => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("not ready: {why}\n"),
                    ),
                }
            }),
        )
}

/// Serves [`routes`] on `listen` in the background.
pub async fn serve(listen: &str) -> std::io::Result<std::net::SocketAddr> {
    let l = tokio::net::TcpListener::bind(listen).await?;
    let addr = l.local_addr()?;
    // The web app's accept loop: header timeout and connection cap, so slow
    // clients cannot keep /healthz from answering.
    tokio::spawn(crate::gateway::web::serve(l, routes::<()>()));
    Ok(addr)
}
