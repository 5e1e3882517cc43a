//! The demo's web app: the buyer page, the agent console and the JSON API
//! and live events behind them. Pages are plain HTML/CSS/JS built into the
//! binary; every response carries a strict Content-Security-Policy, and the
//! pages only ever put chat text into the DOM as text.
//!
//! Who may call what ([`route_table`] lists every route with its [`Access`]):
//! the pages, assets, login and the shop's name are public; a buyer page
//! opens a conversation and gets its id and a random token, and only that
//! token reads it, posts in it and follows it (the buyer's own event stream);
//! every agent route sits behind one auth layer, with its own event stream.
//! [`serve`] bounds the clients: a header timeout, a connection cap with an
//! immediate 503 when full, and per-client caps on opened conversations.

use super::auth::{Counts, LoginError};
use super::{Gateway, GatewayError, LiveEvent};
use crate::channel::frame::Item;
use crate::logsafe::esc;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, Query, Request, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodFilter;
use axum::{Extension, Json, Router};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use std::collections::HashSet;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// Largest request body the API reads.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Time a client gets to send a request's headers (and to start the next
/// request on a kept-alive connection).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a request gets to arrive whole and be answered.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Open web connections at most (lowered to half the file descriptor limit
/// when that is smaller, see [`connection_cap`]).
pub const MAX_CONNECTIONS: usize = 512;
/// Clients answered "503, full" at once; further ones are closed unanswered.
pub const MAX_REFUSING: usize = 64;
/// How long a refused client may take to send its request before the 503.
const REFUSE_LINGER: Duration = Duration::from_secs(1);
/// Conversations one client address (an IPv6 /64) may open per [`CLIENT_WINDOW`].
pub const MAX_CONVERSATIONS_PER_CLIENT: u32 = 20;
/// The window of [`MAX_CONVERSATIONS_PER_CLIENT`].
pub const CLIENT_WINDOW: Duration = Duration::from_secs(60 * 60);
/// Client addresses remembered for that cap; when full, expired ones go
/// first, then the oldest (the gateway's [`super::MAX_CONVERSATIONS`] bounds
/// the total whatever is forgotten).
pub const MAX_TRACKED_CLIENTS: usize = 4096;
/// Conversations one buyer event stream may follow.
pub const MAX_STREAM_CONVERSATIONS: usize = 16;
/// The request header that carries a conversation's token (capability).
pub const TOKEN_HEADER: &str = "x-conversation-token";

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
const ORDERS_BUYER_JS: Asset = Asset(
    "text/javascript; charset=utf-8",
    include_str!("../../web/orders-buyer.js"),
);
const ORDERS_JS: Asset = Asset(
    "text/javascript; charset=utf-8",
    include_str!("../../web/orders.js"),
);

const CATALOG_JS: Asset = Asset(
    "text/javascript; charset=utf-8",
    include_str!("../../web/catalog.js"),
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
            GatewayError::Forbidden(_) => StatusCode::FORBIDDEN,
            GatewayError::Limit(_) => StatusCode::TOO_MANY_REQUESTS,
        };
        (status, Json(serde_json::json!({"error": self.to_string()}))).into_response()
    }
}

fn error(status: StatusCode, text: &str) -> Response {
    (status, Json(serde_json::json!({ "error": text }))).into_response()
}

/// A refusal that says when to come back.
fn retry_after(status: StatusCode, wait: Duration, text: &str) -> Response {
    let mut r = error(status, text);
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(wait.as_secs().max(1)),
    );
    r
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: the pages, their assets, the shop's name, login, and opening
    /// a buyer conversation (capped per client).
    Public,
    /// The holder of a conversation's token (header [`TOKEN_HEADER`], or
    /// `c=ID:TOKEN,...` for the buyer's event stream).
    Buyer,
    /// A logged-in agent (when logins are on): one auth layer in front of
    /// every such route.
    Agent,
}

/// One route of the web app, as [`route_table`] lists it.
#[derive(Debug, Clone, Copy)]
pub struct RouteInfo {
    /// Who may call it.
    pub access: Access,
    /// GET or POST.
    pub method: &'static str,
    /// The path pattern (`{id}` for a path parameter).
    pub path: &'static str,
}

#[derive(Clone)]
struct App {
    gw: Gateway,
    /// Conversations opened per client address over [`CLIENT_WINDOW`].
    opens: Arc<Mutex<Counts<IpAddr>>>,
}

/// The routers by access, built together with their table so that no route
/// can exist without being listed (the tests request every listed route).
struct Routes {
    open: Router<App>,
    agent: Router<App>,
    table: Vec<RouteInfo>,
}

const GET: (MethodFilter, &str) = (MethodFilter::GET, "GET");
const POST: (MethodFilter, &str) = (MethodFilter::POST, "POST");

impl Routes {
    fn add<H, T>(
        mut self,
        access: Access,
        (filter, method): (MethodFilter, &'static str),
        path: &'static str,
        handler: H,
    ) -> Self
    where
        H: Handler<T, App>,
        T: 'static,
    {
        let mr = axum::routing::on(filter, handler);
        match access {
            Access::Agent => self.agent = self.agent.route(path, mr),
            Access::Public | Access::Buyer => self.open = self.open.route(path, mr),
        }
        self.table.push(RouteInfo {
            access,
            method,
            path,
        });
        self
    }
}

fn routes() -> Routes {
    use Access::{Agent, Buyer, Public};
    Routes {
        open: Router::new(),
        agent: Router::new(),
        table: Vec::new(),
    }
    .add(Public, GET, "/", || async { BUYER_HTML })
    .add(Public, GET, "/login", || async { LOGIN_HTML })
    .add(Public, GET, "/assets/login.js", || async { LOGIN_JS })
    .add(Public, GET, "/assets/app.css", || async { APP_CSS })
    .add(Public, GET, "/assets/buyer.js", || async { BUYER_JS })
    .add(Public, GET, "/assets/agent.js", || async { AGENT_JS })
    .add(Public, POST, "/api/login", login)
    .add(Public, GET, "/api/login/agents", login_agents)
    .add(Public, POST, "/api/logout", logout)
    .add(Public, GET, "/api/shop", shop)
    .add(Public, POST, "/api/buyer/conversations", buyer_open)
    .add(Buyer, GET, "/api/buyer/conversations/{id}", buyer_detail)
    .add(
        Buyer,
        POST,
        "/api/buyer/conversations/{id}/messages",
        buyer_message,
    )
    .add(Buyer, GET, "/api/buyer/events", buyer_events)
    // Orders (protocol 1.1): the buyer page places and pays orders; the
    // console lists a conversation's orders and what the bot sent about them.
    .add(Public, GET, "/assets/orders-buyer.js", || async {
        ORDERS_BUYER_JS
    })
    .add(Public, GET, "/assets/orders.js", || async { ORDERS_JS })
    .add(
        Buyer,
        POST,
        "/api/buyer/conversations/{id}/orders",
        buyer_place_order,
    )
    .add(
        Buyer,
        POST,
        "/api/buyer/conversations/{id}/orders/{order}/pay",
        buyer_pay,
    )
    .add(Agent, GET, "/api/conversations/{id}/orders", orders)
    .add(Agent, GET, "/agent", || async { AGENT_HTML })
    .add(Agent, GET, "/api/conversations", list)
    .add(Agent, GET, "/api/conversations/{id}", detail)
    .add(Agent, POST, "/api/conversations/{id}/takeover", takeover)
    .add(Agent, POST, "/api/conversations/{id}/reply", agent_reply)
    .add(Agent, POST, "/api/conversations/{id}/release", release)
    .add(Agent, GET, "/api/events", agent_events)
    .add(Agent, GET, "/api/report", report)
    .add(Agent, GET, "/api/intents", intents)
    .add(Agent, POST, "/api/teach", teach)
    // The desk (agents as people, notes, closing, reassigning, drafts).
    .add(Agent, GET, "/api/me", me)
    .add(Agent, GET, "/api/quick-replies", quick_replies)
    .add(Agent, GET, "/api/conversations/{id}/draft", draft)
    .add(Agent, GET, "/api/conversations/{id}/context", context)
    .add(Agent, POST, "/api/conversations/{id}/note", note)
    .add(Agent, POST, "/api/conversations/{id}/close", close)
    .add(Agent, POST, "/api/conversations/{id}/assign", assign)
    .add(Agent, POST, "/api/conversations/{id}/wrong", wrong)
    // Save to catalog: an agent's answer to an unknown_fact escalation
    // becomes a FAQ entry of the item (web/catalog.js).
    .add(Public, GET, "/assets/catalog.js", || async { CATALOG_JS })
    .add(
        Agent,
        POST,
        "/api/conversations/{id}/catalog-faq",
        save_to_catalog,
    )
}

/// Every route of [`router`] with who may call it.
pub fn route_table() -> Vec<RouteInfo> {
    routes().table
}

/// The web app's routes over `gw`.
pub fn router(gw: Gateway) -> Router {
    let app = App {
        gw,
        opens: Arc::new(Mutex::new(Counts::new(CLIENT_WINDOW, MAX_TRACKED_CLIENTS))),
    };
    let r = routes();
    let agent = r.agent.route_layer(axum::middleware::from_fn_with_state(
        app.clone(),
        require_agent,
    ));
    r.open
        .merge(agent)
        .layer(axum::middleware::from_fn(deadline))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(secure_headers))
        .with_state(app)
}

/// The client's address, from the connection (`serve`); unspecified when
/// the router runs without one.
struct Client(IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Client(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
                .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
        ))
    }
}

/// The agent the auth layer let in: `None` when logins are off.
#[derive(Clone)]
struct Session(Option<String>);

/// The one auth layer of the agent routes: a live session when logins are
/// on, else 401 (API) or a redirect to the login page (pages).
async fn require_agent(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let agent = match app.gw.auth() {
        None => None,
        Some(auth) => {
            let who = req
                .headers()
                .get(header::COOKIE)
                .and_then(|v| v.to_str().ok())
                .and_then(super::auth::token_in)
                .and_then(|t| auth.agent(t));
            match who {
                Some(a) => Some(a),
                // A loopback console without passwords: the first agent
                // until the login page picks another.
                None if auth.is_open() && !auth.team().is_empty() => {
                    Some(auth.team()[0].id.clone())
                }
                None if req.uri().path().starts_with("/api/") => {
                    return error(StatusCode::UNAUTHORIZED, "log in first: /login")
                }
                None => return axum::response::Redirect::to("/login").into_response(),
            }
        }
    };
    req.extensions_mut().insert(Session(agent));
    next.run(req).await
}

/// A request gets [`REQUEST_TIMEOUT`] to arrive whole and be answered (event
/// streams only need to start in it).
async fn deadline(req: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => error(StatusCode::REQUEST_TIMEOUT, "the request took too long"),
    }
}

#[derive(Deserialize)]
struct LoginIn {
    agent: String,
    password: String,
}

async fn login(State(app): State<App>, Client(ip): Client, Json(l): Json<LoginIn>) -> Response {
    let Some(auth) = app.gw.auth() else {
        return error(
            StatusCode::NOT_FOUND,
            "logins are off: the console listens on loopback only",
        );
    };
    let result = if auth.is_open() {
        auth.pick(&l.agent)
    } else {
        auth.login(ip, &l.agent, &l.password).await
    };
    match result {
        Ok(token) => {
            tracing::info!(agent = %esc(&l.agent), "agent logged in");
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
        Err(e) => {
            tracing::warn!(agent = %esc(&l.agent), client = %ip, reason = %e, "failed agent login");
            match e {
                LoginError::Wrong => error(StatusCode::UNAUTHORIZED, &e.to_string()),
                LoginError::Limited(wait) => {
                    retry_after(StatusCode::TOO_MANY_REQUESTS, wait, &e.to_string())
                }
                LoginError::Busy => retry_after(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Duration::from_secs(1),
                    &e.to_string(),
                ),
            }
        }
    }
}

/// The agents a loopback console without passwords lets one pick on the
/// login page (none when logins need passwords: no list of ids to guess).
async fn login_agents(State(app): State<App>) -> Response {
    let open = app.gw.auth().is_some_and(|a| a.is_open());
    let agents = if open { app.gw.team() } else { Vec::new() };
    Json(serde_json::json!({ "open": open, "agents": agents })).into_response()
}

async fn logout(State(app): State<App>, headers: HeaderMap) -> Response {
    if let (Some(auth), Some(t)) = (
        app.gw.auth(),
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

async fn shop(State(app): State<App>) -> impl IntoResponse {
    let c = app.gw.config();
    let items: Vec<serde_json::Value> = c
        .items
        .iter()
        .map(|(id, t)| serde_json::json!({"id": id, "title": t}))
        .collect();
    Json(serde_json::json!({
        "name": c.shop,
        "items": items,
        "bot_connected": app.gw.bot_connected(),
    }))
}

/// The buyer page opens a conversation: a new id and its token, at most
/// [`MAX_CONVERSATIONS_PER_CLIENT`] per client per [`CLIENT_WINDOW`].
async fn buyer_open(State(app): State<App>, Client(ip): Client) -> Response {
    let key = super::auth::client_key(ip);
    {
        let now = Instant::now();
        let mut opens = app.opens.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(wait) = opens.locked(&key, MAX_CONVERSATIONS_PER_CLIENT, now) {
            return retry_after(
                StatusCode::TOO_MANY_REQUESTS,
                wait,
                &format!(
                    "{MAX_CONVERSATIONS_PER_CLIENT} conversations an hour from one address: carry on in an open one"
                ),
            );
        }
        opens.add(&key, now, |_| false);
    }
    match app.gw.open_conversation() {
        Ok((id, token)) => Json(serde_json::json!({ "id": id, "token": token })).into_response(),
        Err(e) => {
            app.opens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .undo(&key);
            e.into_response()
        }
    }
}

fn token_of(headers: &HeaderMap) -> &str {
    headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn buyer_detail(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match app.gw.buyer_view(&id, token_of(&headers)) {
        Ok(c) => Json(c).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct BuyerMessage {
    text: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    item: Option<Item>,
}

async fn buyer_message(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(m): Json<BuyerMessage>,
) -> Response {
    let name = m.name.unwrap_or_default();
    created(
        app.gw
            .buyer_post(&id, token_of(&headers), &name, &m.text, m.item),
    )
}

#[derive(Deserialize)]
struct Follow {
    /// `ID:TOKEN` pairs, comma-separated.
    #[serde(default)]
    c: String,
}

/// The buyer's own stream: events of the conversations whose tokens it
/// shows (at most [`MAX_STREAM_CONVERSATIONS`]), and the bot going up or down.
async fn buyer_events(State(app): State<App>, Query(f): Query<Follow>) -> Response {
    let mut mine = HashSet::new();
    for pair in f.c.split(',').filter(|p| !p.is_empty()) {
        if mine.len() == MAX_STREAM_CONVERSATIONS {
            return GatewayError::Invalid(format!(
                "one stream follows at most {MAX_STREAM_CONVERSATIONS} conversations"
            ))
            .into_response();
        }
        let (id, token) = pair.rsplit_once(':').unwrap_or((pair, ""));
        if let Err(e) = app.gw.check_token(id, token) {
            return e.into_response();
        }
        mine.insert(id.to_string());
    }
    if mine.is_empty() {
        return error(
            StatusCode::FORBIDDEN,
            "name the conversations to follow: c=ID:TOKEN,...",
        );
    }
    stream(app.gw.subscribe(), move |e| {
        e.conversation.as_ref().is_none_or(|c| mine.contains(c))
    })
}

/// Server-sent events from `rx` that pass `keep`. A listener more than
/// [`super::EVENT_QUEUE`] events behind gets one `resync` and carries on.
fn stream(
    rx: tokio::sync::broadcast::Receiver<LiveEvent>,
    keep: impl Fn(&LiveEvent) -> bool + Send + 'static,
) -> Response {
    let s = futures_util::stream::unfold((rx, keep), |(mut rx, keep)| async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let e = match rx.recv().await {
                Ok(e) if keep(&e) => e,
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => LiveEvent {
                    conversation: None,
                    kind: "resync",
                },
                Err(RecvError::Closed) => return None,
            };
            let data = serde_json::to_string(&e).unwrap_or_default();
            return Some((Ok::<_, Infallible>(Event::default().data(data)), (rx, keep)));
        }
    });
    Sse::new(s).keep_alive(KeepAlive::default()).into_response()
}

async fn agent_events(State(app): State<App>) -> Response {
    stream(app.gw.subscribe(), |_| true)
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    filter: String,
}

async fn list(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    Query(q): Query<ListQuery>,
) -> Response {
    match app.gw.search(&q.q, &q.filter, s.0.as_deref()) {
        Ok(conversations) => Json(serde_json::json!({
            "bot_connected": app.gw.bot_connected(),
            "reload_problem": app.gw.reload_problem(),
            "conversations": conversations,
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// Who this console works as, and the team (for names and reassigning).
async fn me(State(app): State<App>, Extension(s): Extension<Session>) -> Response {
    Json(serde_json::json!({
        "agent": s.0.as_deref().map(|a| app.gw.agent_view(a)),
        "team": app.gw.team(),
        "logins": app.gw.auth().is_some_and(|a| !a.is_open()),
        "outcomes": super::desk::OUTCOMES,
    }))
    .into_response()
}

async fn quick_replies(State(app): State<App>) -> Response {
    Json(serde_json::json!({ "replies": app.gw.quick_replies() })).into_response()
}

async fn draft(State(app): State<App>, Path(id): Path<String>) -> Response {
    // Classifying takes CPU: off the runtime.
    match tokio::task::spawn_blocking(move || app.gw.draft(&id)).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn context(State(app): State<App>, Path(id): Path<String>) -> Response {
    match app.gw.context(&id) {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The body of the desk's actions; every field optional, so that who may
/// act is checked before what was asked.
#[derive(Deserialize)]
struct DeskIn {
    #[serde(default)]
    agent: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    message: String,
}

fn desk_actor(s: Session, d: &DeskIn, action: &str, conv: &str) -> String {
    let a = AgentIn {
        agent: d.agent.clone(),
        text: None,
    };
    acting(s, &a, action, conv)
}

async fn note(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Json(d): Json<DeskIn>,
) -> Response {
    let agent = desk_actor(s, &d, "note", &id);
    created(app.gw.note(&id, &agent, &d.text))
}

async fn close(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Json(d): Json<DeskIn>,
) -> Response {
    let agent = desk_actor(s, &d, "close", &id);
    view(app.gw.close(&id, &agent, &d.outcome))
}

async fn assign(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Json(d): Json<DeskIn>,
) -> Response {
    let agent = desk_actor(s, &d, "assign", &id);
    view(app.gw.assign(&id, &agent, &d.to))
}

async fn wrong(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Json(d): Json<DeskIn>,
) -> Response {
    let agent = desk_actor(s, &d, "mark wrong", &id);
    view(app.gw.mark_wrong(&id, &agent, &d.message))
}

#[derive(Deserialize)]
struct SaveIn {
    #[serde(default)]
    agent: String,
    #[serde(default)]
    question: String,
    #[serde(default)]
    answer: String,
}

/// Saves an agent's answer to an unknown_fact escalation as a FAQ entry of
/// the item (`Gateway::save_to_catalog`); the bot's hot reload answers the
/// next buyer from it. Refusals are 400 with the reason; nothing is written.
async fn save_to_catalog(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Json(b): Json<SaveIn>,
) -> Response {
    let a = AgentIn {
        agent: b.agent.clone(),
        text: None,
    };
    let agent = acting(s, &a, "save to catalog", &id);
    // Checking the edited catalog builds it again: off the runtime.
    match tokio::task::spawn_blocking(move || {
        app.gw.save_to_catalog(&id, &agent, &b.question, &b.answer)
    })
    .await
    {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn detail(State(app): State<App>, Path(id): Path<String>) -> Response {
    match app.gw.conversation(&id) {
        Ok(c) => Json(c).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct AgentIn {
    #[serde(default)]
    agent: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct PlaceOrder {
    /// The item's title (one of the shop's); read after the token is checked.
    #[serde(default)]
    title: String,
}

async fn buyer_place_order(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(o): Json<PlaceOrder>,
) -> Response {
    created(app.gw.buyer_order(&id, token_of(&headers), &o.title))
}

async fn buyer_pay(
    State(app): State<App>,
    headers: HeaderMap,
    Path((id, order)): Path<(String, String)>,
) -> Response {
    match app.gw.buyer_pay(&id, token_of(&headers), &order) {
        Ok(()) => Json(serde_json::json!({"id": order})).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn orders(State(app): State<App>, Path(id): Path<String>) -> Response {
    match app.gw.orders(&id) {
        Ok(o) => Json(serde_json::json!({ "orders": o })).into_response(),
        Err(e) => e.into_response(),
    }
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

/// The acting agent: the session's when logins are on (the body cannot
/// claim another), else the body's. Every action is logged with it.
fn acting(session: Session, a: &AgentIn, action: &str, conv: &str) -> String {
    let agent = session.0.unwrap_or_else(|| a.agent.clone());
    tracing::info!(agent = %esc(&agent), conversation = %esc(conv), action, "agent action");
    agent
}

async fn takeover(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Json(a): Json<AgentIn>,
) -> Response {
    let agent = acting(s, &a, "takeover", &id);
    view(app.gw.takeover(&id, &agent))
}

async fn release(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Json(a): Json<AgentIn>,
) -> Response {
    let agent = acting(s, &a, "release", &id);
    view(app.gw.release(&id, &agent))
}

async fn agent_reply(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Json(a): Json<AgentIn>,
) -> Response {
    let agent = acting(s, &a, "reply", &id);
    created(
        app.gw
            .agent_message(&id, &agent, a.text.as_deref().unwrap_or("")),
    )
}

#[derive(Deserialize)]
struct ReportQuery {
    #[serde(default)]
    hours: Option<i64>,
}

async fn report(State(app): State<App>, Query(q): Query<ReportQuery>) -> Response {
    let hours = q.hours.unwrap_or(24);
    if !(1..=24 * 366).contains(&hours) {
        return GatewayError::Invalid("hours must be 1 to 8784".into()).into_response();
    }
    let Some(f) = app.gw.report() else {
        return error(
            StatusCode::NOT_FOUND,
            "no report here: it needs the bot's state store",
        );
    };
    match tokio::task::spawn_blocking(move || f(hours)).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// The intents an agent can teach (none when this console cannot edit the
/// intent files).
async fn intents(State(app): State<App>) -> Response {
    match app.gw.teacher() {
        Some(t) => Json(serde_json::json!({
            "intents": t.intents().into_iter()
                .map(|(id, description)| serde_json::json!({"id": id, "description": description}))
                .collect::<Vec<_>>(),
        }))
        .into_response(),
        // No list, no teach buttons; an answer, not an error, so the console
        // logs nothing on a bot that runs on its built-in files.
        None => Json(serde_json::json!({"intents": [], "why": NO_TEACHER})).into_response(),
    }
}

const NO_TEACHER: &str = "teaching needs the intent files as a folder: run the bot with intents/ and replies/ (not the built-in copies)";

fn no_teacher() -> Response {
    error(StatusCode::NOT_FOUND, NO_TEACHER)
}

#[derive(Deserialize)]
struct TeachIn {
    text: String,
    intent: String,
    #[serde(default)]
    agent: String,
}

/// Adds a buyer's message as an example of the intent an agent picked; the
/// bot's hot reload then answers the next buyer who says it. Refusals (an
/// intent that does not exist, a message another intent's keywords claim)
/// come back as 422 with the reason; nothing is written then.
async fn teach(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    Json(t): Json<TeachIn>,
) -> Response {
    let Some(teacher) = app.gw.teacher() else {
        return no_teacher();
    };
    let who = s.0.unwrap_or(t.agent);
    tracing::info!(agent = %esc(&who), intent = %esc(&t.intent), "agent action: teach");
    // Building the engine to check the lesson takes CPU: off the runtime.
    match tokio::task::spawn_blocking(move || teacher.teach(&t.text, &t.intent, &who)).await {
        Ok(Ok(at)) => Json(serde_json::json!({ "taught": at })).into_response(),
        Ok(Err(why)) => error(StatusCode::UNPROCESSABLE_ENTITY, &why),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// How [`serve_with`] bounds its clients.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// Open connections at most (see [`connection_cap`]).
    pub max_connections: usize,
    /// Time a client gets to send a request's headers, also between two
    /// requests on a kept-alive connection.
    pub header_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            max_connections: connection_cap(),
            header_timeout: HEADER_TIMEOUT,
        }
    }
}

/// [`MAX_CONNECTIONS`], or half the process's file descriptor limit if that
/// is lower: the other half stays for the store, the bot, the index files,
/// and for accepting (and refusing) more.
pub fn connection_cap() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|n| n.parse::<usize>().ok())
        });
    match soft {
        Some(n) => MAX_CONNECTIONS.min(n / 2).max(1),
        None => MAX_CONNECTIONS,
    }
}

const FULL: &str = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 72\r\n\r\n{\"error\":\"the server is at its connection limit: try again in a moment\"}";

/// Serves `app` on `listener` with [`ServeLimits::default`].
pub async fn serve(listener: TcpListener, app: Router) {
    serve_with(listener, app, ServeLimits::default()).await
}

/// Serves `app` on `listener` (HTTP/1.1) until the task is dropped. A client
/// that is slow to send its headers is cut off after `header_timeout`, a
/// request that is slow to arrive whole after [`REQUEST_TIMEOUT`]. Past
/// `max_connections` a new client gets an immediate 503 with `Retry-After`
/// and is closed (at most [`MAX_REFUSING`] such answers at once; past that
/// it is closed unanswered), so a flood never runs the process out of file
/// descriptors and the server answers again as soon as slots free up.
pub async fn serve_with(listener: TcpListener, app: Router, limits: ServeLimits) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let refusing = Arc::new(tokio::sync::Semaphore::new(MAX_REFUSING));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "web app: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if let Ok(r) = refusing.clone().try_acquire_owned() {
                tokio::spawn(refuse(stream, r));
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let svc = TowerToHyperService::new(app.clone());
        let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            hyper::service::Service::call(&svc, req)
        });
        let timeout = limits.header_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            let mut b = hyper::server::conn::http1::Builder::new();
            b.timer(TokioTimer::new()).header_read_timeout(timeout);
            if let Err(e) = b.serve_connection(TokioIo::new(stream), svc).await {
                tracing::debug!(error = %e, %peer, "web connection ended");
            }
        });
    }
}

/// Reads what the client sent (briefly) and answers [`FULL`].
async fn refuse(mut stream: tokio::net::TcpStream, _r: tokio::sync::OwnedSemaphorePermit) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(REFUSE_LINGER, async {
        let mut seen = Vec::new();
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            seen.extend_from_slice(&buf[..n]);
            if seen.windows(4).any(|w| w == b"\r\n\r\n") || seen.len() > 8 * 1024 {
                break;
            }
        }
    })
    .await;
    let _ = tokio::time::timeout(REFUSE_LINGER, stream.write_all(FULL.as_bytes())).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_answer_is_well_formed() {
        let (head, body) = FULL.split_once("\r\n\r\n").unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, body.len());
        assert!(serde_json::from_str::<serde_json::Value>(body).is_ok());
    }

    #[test]
    fn every_route_is_listed_once() {
        let t = route_table();
        let mut seen = HashSet::new();
        for r in &t {
            assert!(seen.insert((r.method, r.path)), "{r:?} twice");
        }
        assert!(t
            .iter()
            .any(|r| r.access == Access::Agent && r.path == "/api/events"));
    }
}
