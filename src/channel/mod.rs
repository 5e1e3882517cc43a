//! The channel: the websocket client that connects the bot to a chat gateway
//! (`shared/protocol.md`). It sends `hello`, routes each message to its
//! conversation's task ([`bot`]), writes the frames the tasks produce, pings,
//! and reconnects with backoff and jitter when the connection drops.
//!
//! Frames waiting to be written survive a reconnect: they stay in the outbox
//! and go out after the next `welcome`.
//!
//! Bounds: at most [`MAX_IN_FLIGHT`] gateway events are in hand (read, not
//! yet handled) at once; at the limit the client stops reading, so the
//! gateway waits (TCP backpressure) and nothing is dropped; time spent not
//! reading does not count towards [`DEAD_AFTER`]. The outbox holds
//! at most [`OUTBOX_CAPACITY`] frames; a conversation whose frames do not
//! fit waits (its message is stored already). Every write to the gateway has
//! [`SEND_WITHIN`] to finish, so a gateway that stops reading is noticed and
//! the connection is replaced instead of the bot stalling behind it.

pub mod bot;
pub mod frame;
pub mod guard;

use crate::logsafe::escape;
use bot::{Bot, Dispatcher, Event};
use frame::{FromBot, Parsed, ToBot, MAX_FRAME_BYTES};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, Message as WsMessage};

/// Ping the gateway this often.
pub const PING_EVERY: Duration = Duration::from_secs(15);
/// Nothing heard for this long (not even a pong) while reading means the
/// connection is dead.
pub const DEAD_AFTER: Duration = Duration::from_secs(30);
/// First reconnect delay; doubles up to [`BACKOFF_MAX`].
pub const BACKOFF_FIRST: Duration = Duration::from_millis(500);
/// Longest reconnect delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A connection that stayed up this long since `welcome` was healthy: the
/// next reconnect starts from [`BACKOFF_FIRST`] again. A shorter one (a
/// gateway that closes after every welcome) keeps doubling the delay.
pub const STABLE_AFTER: Duration = Duration::from_secs(30);
/// Longest wait for one write to the gateway; longer means it stopped
/// reading, and the connection is dropped and replaced.
pub const SEND_WITHIN: Duration = Duration::from_secs(10);
/// Gateway events (messages, hand-offs) read but not yet handled, at most.
pub const MAX_IN_FLIGHT: usize = 1024;
/// Frames waiting to be written, at most.
pub const OUTBOX_CAPACITY: usize = 1024;
/// The kernel's send buffer for the gateway connection. Fixed (not left to
/// grow to megabytes), so what a gateway that stopped reading leaves unsent is
/// bounded and a blocked write shows within [`SEND_WITHIN`]; at 100 ms round
/// trip it still carries a few thousand frames a second.
pub const SEND_BUFFER_BYTES: u32 = 128 * 1024;
/// How long the gateway has to answer `hello`.
const WELCOME_WITHIN: Duration = Duration::from_secs(10);
/// Longest message tungstenite buffers; frames over 64 KiB but under this are
/// dropped by us (the protocol keeps the connection for them).
const WS_MAX: usize = 4 * 1024 * 1024;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// ws:// or wss:// address.
    pub url: String,
    /// Bearer token.
    pub token: String,
    /// Shops named in `hello`.
    pub shops: Vec<String>,
    /// Characters of a frame (which may hold a buyer's words) allowed in logs.
    pub log_chars: usize,
    /// This instance's name in `hello` (protocol 1.1, several instances).
    pub instance: Option<String>,
}

/// The instance name when none is configured: `<host>-<pid>`.
pub fn default_instance() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "xiaoer".into());
    format!("{host}-{}", std::process::id())
}

/// Errors that stop the client before it starts.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The URL is not a websocket URL.
    #[error("channel url {0:?}: {1}")]
    Url(String, String),
    /// The token cannot go in an HTTP header.
    #[error("channel token: {0}")]
    Token(String),
}

/// The websocket settings both ends use.
pub fn ws_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(WS_MAX))
        .max_frame_size(Some(WS_MAX))
}

/// The outbox: conversations put frames in, the connection writes them out.
pub fn outbox() -> (mpsc::Sender<String>, mpsc::Receiver<String>) {
    mpsc::channel(OUTBOX_CAPACITY)
}

/// The delay before reconnect attempt `attempt` (0-based): 0.5 s doubling to
/// 30 s, each scaled by a random 0.75–1.25 so many bots do not retry in step.
pub fn backoff(attempt: u32) -> Duration {
    let base = BACKOFF_FIRST
        .saturating_mul(1u32 << attempt.min(10))
        .min(BACKOFF_MAX);
    let jitter = 0.75 + 0.5 * random_unit();
    base.mul_f64(jitter)
}

fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Why one connection ended.
enum End {
    /// Shutdown was asked for and everything in hand was sent.
    Shutdown,
    /// The connection dropped or died; reconnect.
    Dropped(String),
}

/// The connection as the client uses it: TCP, TLS for wss://, the frame
/// guard, websocket.
type Ws = tokio_tungstenite::WebSocketStream<
    guard::FrameGuard<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
>;

/// The TLS settings for wss:// (the web PKI's roots), built once.
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: std::sync::OnceLock<Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            Arc::new(
                rustls::ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            )
        })
        .clone()
}

/// A TCP connection to `host:port` (each address in turn), with the send
/// buffer of [`SEND_BUFFER_BYTES`] and no Nagle delay.
async fn connect_tcp(host: &str, port: u16) -> std::io::Result<tokio::net::TcpStream> {
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_send_buffer_size(SEND_BUFFER_BYTES)?;
        match socket.connect(addr).await {
            Ok(tcp) => {
                tcp.set_nodelay(true)?;
                return Ok(tcp);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, format!("{host}: no address"))
    }))
}

/// Writes `msg`, giving up after [`SEND_WITHIN`].
async fn send_within<S>(sink: &mut S, msg: WsMessage) -> Result<(), String>
where
    S: futures_util::Sink<WsMessage> + Unpin,
    S::Error: std::fmt::Display,
{
    match tokio::time::timeout(SEND_WITHIN, sink.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "a write waited {} s: the gateway stopped reading",
            SEND_WITHIN.as_secs()
        )),
    }
}

/// The client: owns the dispatcher and the outbox across reconnects.
pub struct Client {
    config: ClientConfig,
    dispatcher: Dispatcher,
    outbox: mpsc::Receiver<String>,
    /// A frame whose write failed; it goes out first on the next connection.
    pending: Option<String>,
    /// One permit per event in hand ([`MAX_IN_FLIGHT`]).
    in_flight: Arc<Semaphore>,
    /// The bot (for what is not one conversation's: `welcome`, `sent`).
    bot: Arc<Bot>,
}

impl Client {
    /// A client for `bot`, reading the frames the bot produces from `outbox`.
    pub fn new(
        config: ClientConfig,
        bot: Arc<Bot>,
        outbox: mpsc::Receiver<String>,
    ) -> Result<Client, ChannelError> {
        let url = config.url.trim();
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(ChannelError::Url(
                config.url.clone(),
                "must start with ws:// or wss://".into(),
            ));
        }
        url.into_client_request()
            .map_err(|e| ChannelError::Url(config.url.clone(), e.to_string()))?;
        tungstenite::http::HeaderValue::from_str(&format!("Bearer {}", config.token)).map_err(
            |_| ChannelError::Token("contains characters an HTTP header cannot carry".into()),
        )?;
        Ok(Client {
            config,
            dispatcher: Dispatcher::new(bot.clone()),
            outbox,
            pending: None,
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            bot,
        })
    }

    /// Connects, serves and reconnects until `shutdown` turns true; then lets
    /// the conversations finish the messages in hand, sends what they produced
    /// and returns.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut attempt: u32 = 0;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let connected = tokio::select! {
                c = self.connect() => c,
                _ = shutdown.changed() => break,
            };
            match connected {
                Ok(ws) => {
                    tracing::info!(url = %self.config.url, "connected to the gateway");
                    let mut welcomed_at = None;
                    let end = self.serve(ws, &mut shutdown, &mut welcomed_at).await;
                    crate::metrics::set_connected(false);
                    // The next gateway says again whether it takes `send`s.
                    self.bot.set_orders_feature(false);
                    if welcomed_at.is_some_and(|t: Instant| t.elapsed() >= STABLE_AFTER) {
                        attempt = 0;
                    }
                    match end {
                        End::Shutdown => return,
                        End::Dropped(why) => {
                            metrics::counter!(crate::metrics::RECONNECTS).increment(1);
                            tracing::warn!(reason = %escape(&why), "connection to the gateway lost; reconnecting")
                        }
                    }
                }
                Err(why) => {
                    tracing::warn!(url = %self.config.url, error = %escape(&why), "cannot connect to the gateway")
                }
            }
            let delay = backoff(attempt);
            attempt = attempt.saturating_add(1);
            tracing::info!(
                delay_ms = delay.as_millis() as u64,
                attempt,
                "reconnecting after a pause"
            );
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => break,
            }
        }
        // Shutdown while not connected: finish the work in hand; what it would
        // send stays unacknowledged and the gateway redelivers it next time.
        let mut unsent = usize::from(self.pending.is_some());
        unsent += self.finish_collecting(|_| {}).await;
        if unsent > 0 {
            tracing::warn!(
                frames = unsent,
                "stopped while disconnected: frames not sent"
            );
        }
    }

    /// Lets the conversations finish the events in hand while taking their
    /// frames out of the (bounded) outbox, so none waits on a full one;
    /// `keep` gets each frame. Returns how many frames there were.
    async fn finish_collecting(&mut self, mut keep: impl FnMut(String)) -> usize {
        let mut n = 0;
        let finish = self.dispatcher.finish();
        tokio::pin!(finish);
        loop {
            tokio::select! {
                _ = &mut finish => break,
                Some(f) = self.outbox.recv() => {
                    n += 1;
                    keep(f);
                }
            }
        }
        while let Ok(f) = self.outbox.try_recv() {
            n += 1;
            keep(f);
        }
        n
    }

    async fn connect(&self) -> Result<Ws, String> {
        let mut req = self
            .config
            .url
            .trim()
            .into_client_request()
            .map_err(|e| e.to_string())?;
        if let Ok(v) =
            tungstenite::http::HeaderValue::from_str(&format!("Bearer {}", self.config.token))
        {
            req.headers_mut()
                .insert(tungstenite::http::header::AUTHORIZATION, v);
        }
        let fut = async move {
            let uri = req.uri().clone();
            let tls = uri.scheme_str() == Some("wss");
            let host = uri.host().unwrap_or_default();
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
            let tcp = connect_tcp(&host, port)
                .await
                .map_err(tungstenite::Error::Io)?;
            let stream = if tls {
                let name = rustls::pki_types::ServerName::try_from(host).map_err(|_| {
                    tungstenite::Error::Tls(tungstenite::error::TlsError::InvalidDnsName)
                })?;
                let tls = tokio_rustls::TlsConnector::from(tls_config())
                    .connect(name, tcp)
                    .await
                    .map_err(tungstenite::Error::Io)?;
                tokio_tungstenite::MaybeTlsStream::Rustls(tls)
            } else {
                tokio_tungstenite::MaybeTlsStream::Plain(tcp)
            };
            tokio_tungstenite::client_async_with_config(
                req,
                guard::FrameGuard::new(stream),
                Some(ws_config()),
            )
            .await
        };
        match tokio::time::timeout(WELCOME_WITHIN, fut).await {
            Err(_) => Err("timed out connecting".into()),
            Ok(Ok((ws, _))) => Ok(ws),
            Ok(Err(tungstenite::Error::Http(resp))) if resp.status().as_u16() == 401 => Err(
                "the gateway refused the token (HTTP 401): check channel.token / --token".into(),
            ),
            Ok(Err(tungstenite::Error::Http(resp))) => {
                Err(format!("the gateway answered HTTP {}", resp.status()))
            }
            Ok(Err(e)) => Err(e.to_string()),
        }
    }

    async fn serve(
        &mut self,
        ws: Ws,
        shutdown: &mut watch::Receiver<bool>,
        welcomed_at: &mut Option<Instant>,
    ) -> End {
        let (mut sink, mut stream) = ws.split();
        let hello = FromBot::Hello {
            bot: "xiaoer".into(),
            version: frame::VERSION,
            shops: self.config.shops.clone(),
            instance: self.config.instance.clone(),
        };
        if let Err(e) = send_within(&mut sink, WsMessage::text(hello.to_json())).await {
            return End::Dropped(format!("sending hello: {e}"));
        }
        let started = Instant::now();
        let mut heard = Listening::new(Instant::now());
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        let mut welcome_check =
            tokio::time::interval_at(tokio::time::Instant::now() + WELCOME_WITHIN, WELCOME_WITHIN);
        // The permit for the next event read; reading waits for one.
        let mut permit: Option<OwnedSemaphorePermit> = None;
        loop {
            let welcomed = welcomed_at.is_some();
            if permit.is_none() {
                // At the in-flight bound reading stops here, and so does
                // the silence clock (until a permit comes free).
                match self.in_flight.clone().try_acquire_owned() {
                    Ok(p) => permit = Some(p),
                    Err(_) => heard.pause(),
                }
            }
            tokio::select! {
                biased;
                _ = shutdown.changed() => {
                    return self.drain(&mut sink).await;
                }
                p = self.in_flight.clone().acquire_owned(), if permit.is_none() => {
                    permit = p.ok();
                    heard.resume(Instant::now());
                }
                msg = stream.next(), if permit.is_some() => {
                    heard.heard(Instant::now());
                    match msg {
                        None => return End::Dropped("the gateway closed the connection".into()),
                        Some(Err(e)) => return End::Dropped(e.to_string()),
                        Some(Ok(WsMessage::Text(t))) => {
                            if self.on_text(t.as_str(), &mut permit) && !welcomed {
                                *welcomed_at = Some(Instant::now());
                                crate::metrics::set_connected(true);
                                tracing::debug!(after_ms = started.elapsed().as_millis() as u64, "welcomed");
                                if let Some(p) = self.pending.take() {
                                    if let Err(e) = send_within(&mut sink, WsMessage::text(p.clone())).await {
                                        self.pending = Some(p);
                                        return End::Dropped(e);
                                    }
                                }
                            }
                        }
                        Some(Ok(WsMessage::Binary(b))) => {
                            metrics::counter!(crate::metrics::BAD_FRAMES, "why" => "binary").increment(1);
                            tracing::warn!(bytes = b.len(), "binary frame dropped: the protocol uses text frames");
                        }
                        Some(Ok(WsMessage::Close(c))) => {
                            return End::Dropped(format!("the gateway closed the connection ({c:?})"));
                        }
                        Some(Ok(_)) => {} // ping / pong: tungstenite answers pings itself
                    }
                }
                out = self.outbox.recv(), if welcomed => {
                    let Some(out) = out else { return End::Shutdown };
                    if let Err(e) = send_within(&mut sink, WsMessage::text(out.clone())).await {
                        self.pending = Some(out);
                        return End::Dropped(e);
                    }
                }
                _ = ping.tick() => {
                    if heard.silent_for(Instant::now()) > DEAD_AFTER {
                        return End::Dropped(format!("nothing heard for {} s", DEAD_AFTER.as_secs()));
                    }
                    if let Err(e) = send_within(&mut sink, WsMessage::Ping(Vec::new().into())).await {
                        return End::Dropped(e);
                    }
                }
                _ = welcome_check.tick(), if !welcomed => {
                    return End::Dropped(format!("no welcome within {} s of hello", WELCOME_WITHIN.as_secs()));
                }
            }
        }
    }

    /// Handles one text frame; true when it shows the gateway accepted us.
    /// An event for a conversation takes `permit` along (released when it
    /// has been handled).
    fn on_text(&mut self, text: &str, permit: &mut Option<OwnedSemaphorePermit>) -> bool {
        if text.len() > MAX_FRAME_BYTES {
            metrics::counter!(crate::metrics::BAD_FRAMES, "why" => "too_large").increment(1);
            tracing::warn!(bytes = text.len(), "frame over 64 KiB dropped");
            return false;
        }
        match frame::parse_to_bot(text) {
            Ok(Parsed::Frame(ToBot::Welcome {
                gateway,
                version,
                features,
            })) => {
                let orders = features
                    .as_ref()
                    .is_some_and(|f| f.iter().any(|x| x == frame::FEATURE_ORDERS));
                tracing::info!(gateway = ?gateway.as_deref().map(escape), version = ?version, orders, "welcomed by the gateway");
                if version.is_some_and(|v| v != frame::VERSION) {
                    tracing::warn!(version = ?version, "the gateway speaks another protocol version");
                }
                self.bot.set_orders_feature(orders);
                self.bot.new_connection();
                true
            }
            Ok(Parsed::Frame(ToBot::Order(o))) => {
                let conv = o.conversation.clone();
                self.dispatcher
                    .dispatch(&conv, Event::Order(o), permit.take());
                true
            }
            Ok(Parsed::Frame(ToBot::Sent { id })) => {
                let bot = self.bot.clone();
                tokio::spawn(async move { crate::proactive::on_sent(&bot, id).await });
                true
            }
            Ok(Parsed::Frame(ToBot::Message(m))) => {
                let conv = m.conversation.clone();
                self.dispatcher
                    .dispatch(&conv, Event::Message(m), permit.take());
                true
            }
            Ok(Parsed::Frame(ToBot::Takeover {
                conversation,
                agent,
            })) => {
                self.dispatcher
                    .dispatch(&conversation, Event::Takeover(agent), permit.take());
                true
            }
            Ok(Parsed::Frame(ToBot::Release {
                conversation,
                agent,
            })) => {
                self.dispatcher
                    .dispatch(&conversation, Event::Release(agent), permit.take());
                true
            }
            Ok(Parsed::Unknown(kind)) => {
                metrics::counter!(crate::metrics::BAD_FRAMES, "why" => "unknown_type").increment(1);
                let kind: String = kind.chars().take(40).collect();
                tracing::info!(kind = %escape(&kind), "frame of unknown type ignored");
                false
            }
            Err(e) => {
                metrics::counter!(crate::metrics::BAD_FRAMES, "why" => "invalid").increment(1);
                // The frame may carry a buyer's words: only as much as allowed.
                let head: String = text.chars().take(self.config.log_chars).collect();
                tracing::warn!(error = %escape(&e.to_string()), bytes = text.len(), frame = %escape(&head), "bad frame ignored");
                false
            }
        }
    }

    /// Shutdown while connected: finish the messages in hand, send everything
    /// they produced, close politely.
    async fn drain<S>(&mut self, sink: &mut S) -> End
    where
        S: futures_util::Sink<WsMessage> + Unpin,
        S::Error: std::fmt::Display,
    {
        tracing::info!("shutting down: finishing the messages in hand");
        let mut frames: Vec<String> = self.pending.take().into_iter().collect();
        self.finish_collecting(|f| frames.push(f)).await;
        let n = frames.len();
        for f in frames {
            if let Err(e) = send_within(sink, WsMessage::text(f)).await {
                tracing::warn!(error = %e, "could not send everything before shutdown");
                break;
            }
        }
        let _ = send_within(sink, WsMessage::Close(None)).await;
        tracing::info!(frames = n, "sent the last frames; bye");
        End::Shutdown
    }
}

/// How long the gateway has been silent while we were reading. At the
/// in-flight bound the client stops reading (backpressure), so frames and
/// pongs wait unread in the socket: that time is not the gateway's silence,
/// and a busy bot must not drop a live connection (and the answers it has
/// decided but not yet sent) for it.
#[derive(Debug, Clone, Copy)]
struct Listening {
    /// Since when we have been reading without hearing anything; `None`
    /// while not reading.
    since: Option<Instant>,
}

impl Listening {
    fn new(now: Instant) -> Listening {
        Listening { since: Some(now) }
    }

    /// A frame arrived.
    fn heard(&mut self, now: Instant) {
        self.since = Some(now);
    }

    /// Reading stopped at the in-flight bound.
    fn pause(&mut self) {
        self.since = None;
    }

    /// Reading again (a permit came free): the silence counts from now,
    /// unless we were reading all along.
    fn resume(&mut self, now: Instant) {
        self.since.get_or_insert(now);
    }

    fn silent_for(&self, now: Instant) -> Duration {
        self.since
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (what happens at second t, silence at the end in seconds)
    #[test]
    fn only_time_spent_reading_counts_as_the_gateway_silent() {
        enum Step {
            Heard(u64),
            Pause,
            Resume(u64),
        }
        use Step::*;
        let rows: [(&str, Vec<Step>, u64, u64); 5] = [
            ("reading, nothing heard", vec![], 40, 40),
            ("heard at 25", vec![Heard(25)], 40, 15),
            ("paused at the bound, never resumed", vec![Pause], 40, 0),
            (
                "paused, reading again from 35",
                vec![Pause, Resume(35)],
                40,
                5,
            ),
            (
                "a permit taken while reading all along",
                vec![Resume(20)],
                40,
                40,
            ),
        ];
        for (name, steps, at, silent) in rows {
            let t0 = Instant::now();
            let s = |n: u64| t0 + Duration::from_secs(n);
            let mut l = Listening::new(t0);
            for step in steps {
                match step {
                    Heard(n) => l.heard(s(n)),
                    Pause => l.pause(),
                    Resume(n) => l.resume(s(n)),
                }
            }
            assert_eq!(l.silent_for(s(at)), Duration::from_secs(silent), "{name}");
        }
    }

    #[test]
    fn backoff_starts_under_a_second_and_stops_at_thirty() {
        for _ in 0..50 {
            let first = backoff(0);
            assert!(first >= Duration::from_millis(375) && first <= Duration::from_millis(625));
            assert!(backoff(20) <= Duration::from_millis(37_500));
            assert!(backoff(20) >= Duration::from_millis(22_500));
        }
        assert!(backoff(3) > backoff(0));
    }
}
