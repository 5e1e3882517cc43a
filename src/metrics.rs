//! Observability: Prometheus metrics and the health endpoints.
//!
//! The bot records through the `metrics` facade (cheap when nothing is
//! installed, e.g. in `classify`); `run` and `demo` install the Prometheus
//! recorder and serve `/metrics`, `/healthz` (the process answers) and
//! `/readyz` (connected to the gateway, engine loaded).

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

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

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static CONNECTED: AtomicBool = AtomicBool::new(false);

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
                if connected() {
                    (StatusCode::OK, "ready: connected to the gateway\n")
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "not ready: not connected to the gateway\n",
                    )
                }
            }),
        )
}

/// Serves [`routes`] on `listen` in the background.
pub async fn serve(listen: &str) -> std::io::Result<std::net::SocketAddr> {
    let l = tokio::net::TcpListener::bind(listen).await?;
    let addr = l.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(l, routes::<()>()).await {
            tracing::error!(error = %e, "metrics listener stopped");
        }
    });
    Ok(addr)
}
