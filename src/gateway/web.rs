//! The demo's web app: the buyer page, the agent console and the JSON API
//! and live events behind them. Pages are plain HTML/CSS/JS built into the
//! binary; every response carries a strict Content-Security-Policy, and the
//! pages only ever put chat text into the DOM as text.

use super::{Gateway, GatewayError};
use crate::channel::frame::Item;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::convert::Infallible;

/// Largest request body the API reads.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

struct Asset(&'static str, &'static str);

const BUYER_HTML: Asset = Asset(
    "text/html; charset=utf-8",
    include_str!("../../web/buyer.html"),
);
const AGENT_HTML: Asset = Asset(
    "text/html; charset=utf-8",
    include_str!("../../web/agent.html"),
);
const APP_CSS: Asset = Asset("text/css; charset=utf-8", include_str!("../../web/app.css"));
const BUYER_JS: Asset = Asset(
    "text/javascript; charset=utf-8",
    include_str!("../../web/buyer.js"),
);
const LOGIN_HTML: Asset = Asset(
    "text/html; charset=utf-8",
    include_str!("../../web/login.html"),
);
const LOGIN_JS: Asset = Asset(
    "text/javascript; charset=utf-8",
    include_str!("../../web/login.js"),
);
const AGENT_JS: Asset = Asset(
    "text/javascript; charset=utf-8",
    include_str!("../../web/agent.js"),
);

impl IntoResponse for Asset {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, self.0)], self.1).into_response()
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let status = match self {
            GatewayError::NotFound(_) => StatusCode::NOT_FOUND,
            GatewayError::Invalid(_) => StatusCode::BAD_REQUEST,
            GatewayError::Conflict(_) => StatusCode::CONFLICT,
        };
        (status, Json(serde_json::json!({"error": self.to_string()}))).into_response()
    }
}

/// The web app's routes over `gw`.
pub fn router(gw: Gateway) -> Router {
    Router::new()
        .route("/", get(|| async { BUYER_HTML }))
        .route("/agent", get(agent_page))
        .route("/login", get(|| async { LOGIN_HTML }))
        .route("/assets/login.js", get(|| async { LOGIN_JS }))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/assets/app.css", get(|| async { APP_CSS }))
        .route("/assets/buyer.js", get(|| async { BUYER_JS }))
        .route("/assets/agent.js", get(|| async { AGENT_JS }))
        .route("/api/shop", get(shop))
        .route("/api/conversations", get(list))
        .route("/api/conversations/{id}", get(detail))
        .route("/api/conversations/{id}/messages", post(buyer_message))
        .route("/api/conversations/{id}/takeover", post(takeover))
        .route("/api/conversations/{id}/reply", post(agent_reply))
        .route("/api/conversations/{id}/release", post(release))
        .route("/api/events", get(events))
        .route("/api/report", get(report))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(secure_headers))
        .with_state(gw)
}

/// Who is asking: `Ok(None)` when logins are off, the session's agent when
/// on, or a 401 to send back.
#[allow(clippy::result_large_err)] // the error is the response itself
fn agent_of(gw: &Gateway, headers: &HeaderMap) -> Result<Option<String>, Response> {
    let Some(auth) = gw.auth() else {
        return Ok(None);
    };
    let agent = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(super::auth::token_in)
        .and_then(|t| auth.agent(t));
    match agent {
        Some(a) => Ok(Some(a)),
        None => Err((
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "log in first: /login"})),
        )
            .into_response()),
    }
}

async fn agent_page(State(gw): State<Gateway>, headers: HeaderMap) -> Response {
    match agent_of(&gw, &headers) {
        Ok(_) => AGENT_HTML.into_response(),
        Err(_) => axum::response::Redirect::to("/login").into_response(),
    }
}

#[derive(Deserialize)]
struct LoginIn {
    agent: String,
    password: String,
}

async fn login(State(gw): State<Gateway>, Json(l): Json<LoginIn>) -> Response {
    let Some(auth) = gw.auth() else {
        return (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": "logins are off: the console listens on loopback only"})),
        )
            .into_response();
    };
    match auth.login(&l.agent, &l.password) {
        Some(token) => {
            tracing::info!(agent = %l.agent, "agent logged in");
            let cookie = format!(
                "{}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
                super::auth::COOKIE,
                auth.ttl().as_secs()
            );
            (
                [(header::SET_COOKIE, cookie)],
                Json(serde_json::json!({"agent": l.agent})),
            )
                .into_response()
        }
        None => {
            tracing::warn!(agent = %l.agent.chars().take(64).collect::<String>(), "failed agent login");
            (
                StatusCode::UNAUTHORIZED,
                Json(serde_json::json!({"error": "wrong agent id or password"})),
            )
                .into_response()
        }
    }
}

async fn logout(State(gw): State<Gateway>, headers: HeaderMap) -> Response {
    if let (Some(auth), Some(t)) = (
        gw.auth(),
        headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(super::auth::token_in),
    ) {
        auth.logout(t);
    }
    let cookie = format!(
        "{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
        super::auth::COOKIE
    );
    ([(header::SET_COOKIE, cookie)], Json(serde_json::json!({}))).into_response()
}

async fn secure_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

async fn shop(State(gw): State<Gateway>) -> impl IntoResponse {
    let c = gw.config();
    let items: Vec<serde_json::Value> = c
        .items
        .iter()
        .enumerate()
        .map(|(i, t)| serde_json::json!({"id": format!("i-{}", i + 1), "title": t}))
        .collect();
    Json(serde_json::json!({"name": c.shop, "items": items}))
}

async fn list(State(gw): State<Gateway>, headers: HeaderMap) -> Response {
    if let Err(r) = agent_of(&gw, &headers) {
        return r;
    }
    Json(serde_json::json!({
        "bot_connected": gw.bot_connected(),
        "conversations": gw.conversations(),
    }))
    .into_response()
}

async fn detail(State(gw): State<Gateway>, Path(id): Path<String>) -> Response {
    match gw.conversation(&id) {
        Ok(c) => Json(c).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct BuyerIn {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct BuyerMessage {
    buyer: BuyerIn,
    text: String,
    #[serde(default)]
    item: Option<Item>,
}

#[derive(Deserialize)]
struct AgentIn {
    agent: String,
    #[serde(default)]
    text: Option<String>,
}

fn created(r: Result<String, GatewayError>) -> Response {
    match r {
        Ok(id) => Json(serde_json::json!({"id": id})).into_response(),
        Err(e) => e.into_response(),
    }
}

fn view(r: Result<super::ConvView, GatewayError>) -> Response {
    match r {
        Ok(c) => Json(c).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn buyer_message(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    Json(m): Json<BuyerMessage>,
) -> Response {
    let name = m.buyer.name.unwrap_or_default();
    created(gw.buyer_message(&id, &m.buyer.id, &name, &m.text, m.item))
}

/// The acting agent: the session's when logins are on (the body cannot
/// claim another), else the body's. Every action is logged with it.
#[allow(clippy::result_large_err)]
fn acting(
    gw: &Gateway,
    headers: &HeaderMap,
    a: &AgentIn,
    action: &str,
    conv: &str,
) -> Result<String, Response> {
    let agent = agent_of(gw, headers)?.unwrap_or_else(|| a.agent.clone());
    tracing::info!(%agent, conversation = %conv, action, "agent action");
    Ok(agent)
}

async fn takeover(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(a): Json<AgentIn>,
) -> Response {
    match acting(&gw, &headers, &a, "takeover", &id) {
        Ok(agent) => view(gw.takeover(&id, &agent)),
        Err(r) => r,
    }
}

async fn release(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(a): Json<AgentIn>,
) -> Response {
    match acting(&gw, &headers, &a, "release", &id) {
        Ok(agent) => view(gw.release(&id, &agent)),
        Err(r) => r,
    }
}

async fn agent_reply(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(a): Json<AgentIn>,
) -> Response {
    match acting(&gw, &headers, &a, "reply", &id) {
        Ok(agent) => created(gw.agent_message(&id, &agent, a.text.as_deref().unwrap_or(""))),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct ReportQuery {
    #[serde(default)]
    hours: Option<i64>,
}

async fn report(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<ReportQuery>,
) -> Response {
    if let Err(r) = agent_of(&gw, &headers) {
        return r;
    }
    let hours = q.hours.unwrap_or(24);
    if !(1..=24 * 366).contains(&hours) {
        return GatewayError::Invalid("hours must be 1 to 8784".into()).into_response();
    }
    let Some(f) = gw.report() else {
        return (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": "no report here: it needs the bot's state store"})),
        )
            .into_response();
    };
    match tokio::task::spawn_blocking(move || f(hours)).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({ "error": e })),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

async fn events(
    State(gw): State<Gateway>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let rx = gw.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        use tokio::sync::broadcast::error::RecvError;
        match rx.recv().await {
            Ok(data) => Some((Ok(Event::default().data(data)), rx)),
            // Fell behind: tell the page to fetch everything again.
            Err(RecvError::Lagged(_)) => Some((
                Ok(Event::default().data(r#"{"conversation":null,"kind":"bot"}"#)),
                rx,
            )),
            Err(RecvError::Closed) => None,
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
