//! The channel: the websocket client that connects the bot to a chat gateway
//! (`shared/protocol.md`). It sends `hello`, routes each message to its
//! conversation's task ([`bot`]), writes the frames the tasks produce, pings,
//! and reconnects with backoff and jitter when the connection drops.
//!
//! Frames waiting to be written survive a reconnect: they stay in the outbox
//! and go out after the next `welcome`.

pub mod bot;
pub mod frame;

use bot::{Bot, Dispatcher, Event};
use frame::{FromBot, Parsed, ToBot, MAX_FRAME_BYTES};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, Message as WsMessage};

/// Ping the gateway this often.
pub const PING_EVERY: Duration = Duration::from_secs(15);
/// Nothing heard for this long (not even a pong) means the connection is dead.
pub const DEAD_AFTER: Duration = Duration::from_secs(30);
/// First reconnect delay; doubles up to [`BACKOFF_MAX`].
pub const BACKOFF_FIRST: Duration = Duration::from_millis(500);
/// Longest reconnect delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
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

/// The client: owns the dispatcher and the outbox across reconnects.
pub struct Client {
    config: ClientConfig,
    dispatcher: Dispatcher,
    outbox: mpsc::UnboundedReceiver<String>,
    /// A frame whose write failed; it goes out first on the next connection.
    pending: Option<String>,
}

impl Client {
    /// A client for `bot`, reading the frames the bot produces from `outbox`.
    pub fn new(
        config: ClientConfig,
        bot: Arc<Bot>,
        outbox: mpsc::UnboundedReceiver<String>,
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
            dispatcher: Dispatcher::new(bot),
            outbox,
            pending: None,
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
                    let end = self.serve(ws, &mut shutdown, &mut attempt).await;
                    crate::metrics::set_connected(false);
                    match end {
                        End::Shutdown => return,
                        End::Dropped(why) => {
                            metrics::counter!(crate::metrics::RECONNECTS).increment(1);
                            tracing::warn!(reason = %why, "connection to the gateway lost; reconnecting")
                        }
                    }
                }
                Err(why) => {
                    tracing::warn!(url = %self.config.url, error = %why, "cannot connect to the gateway")
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
        self.dispatcher.finish().await;
        let mut unsent = usize::from(self.pending.is_some());
        while self.outbox.try_recv().is_ok() {
            unsent += 1;
        }
        if unsent > 0 {
            tracing::warn!(
                frames = unsent,
                "stopped while disconnected: frames not sent"
            );
        }
    }

    async fn connect(
        &self,
    ) -> Result<
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        String,
    > {
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
        let fut = tokio_tungstenite::connect_async_with_config(req, Some(ws_config()), true);
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
        ws: tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        shutdown: &mut watch::Receiver<bool>,
        attempt: &mut u32,
    ) -> End {
        let (mut sink, mut stream) = ws.split();
        let hello = FromBot::Hello {
            bot: "xiaoer".into(),
            version: frame::VERSION,
            shops: self.config.shops.clone(),
        };
        if let Err(e) = sink.send(WsMessage::text(hello.to_json())).await {
            return End::Dropped(format!("sending hello: {e}"));
        }
        let started = Instant::now();
        let mut welcomed = false;
        let mut last_heard = Instant::now();
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        let mut welcome_check =
            tokio::time::interval_at(tokio::time::Instant::now() + WELCOME_WITHIN, WELCOME_WITHIN);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.changed() => {
                    return self.drain(&mut sink).await;
                }
                msg = stream.next() => {
                    last_heard = Instant::now();
                    match msg {
                        None => return End::Dropped("the gateway closed the connection".into()),
                        Some(Err(e)) => return End::Dropped(e.to_string()),
                        Some(Ok(WsMessage::Text(t))) => {
                            if self.on_text(t.as_str()) && !welcomed {
                                welcomed = true;
                                *attempt = 0;
                                crate::metrics::set_connected(true);
                                tracing::debug!(after_ms = started.elapsed().as_millis() as u64, "welcomed");
                                if let Some(p) = self.pending.take() {
                                    if let Err(e) = sink.send(WsMessage::text(p.clone())).await {
                                        self.pending = Some(p);
                                        return End::Dropped(e.to_string());
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
                    if let Err(e) = sink.send(WsMessage::text(out.clone())).await {
                        self.pending = Some(out);
                        return End::Dropped(e.to_string());
                    }
                }
                _ = ping.tick() => {
                    if last_heard.elapsed() > DEAD_AFTER {
                        return End::Dropped(format!("nothing heard for {} s", DEAD_AFTER.as_secs()));
                    }
                    if let Err(e) = sink.send(WsMessage::Ping(Vec::new().into())).await {
                        return End::Dropped(e.to_string());
                    }
                }
                _ = welcome_check.tick(), if !welcomed => {
                    return End::Dropped(format!("no welcome within {} s of hello", WELCOME_WITHIN.as_secs()));
                }
            }
        }
    }

    /// Handles one text frame; true when it shows the gateway accepted us.
    fn on_text(&mut self, text: &str) -> bool {
        if text.len() > MAX_FRAME_BYTES {
            metrics::counter!(crate::metrics::BAD_FRAMES, "why" => "too_large").increment(1);
            tracing::warn!(bytes = text.len(), "frame over 64 KiB dropped");
            return false;
        }
        match frame::parse_to_bot(text) {
            Ok(Parsed::Frame(ToBot::Welcome { gateway, version })) => {
                tracing::info!(gateway = ?gateway, version = ?version, "welcomed by the gateway");
                if version.is_some_and(|v| v != frame::VERSION) {
                    tracing::warn!(version = ?version, "the gateway speaks another protocol version");
                }
                true
            }
            Ok(Parsed::Frame(ToBot::Message(m))) => {
                let conv = m.conversation.clone();
                self.dispatcher.dispatch(&conv, Event::Message(m));
                true
            }
            Ok(Parsed::Frame(ToBot::Takeover {
                conversation,
                agent,
            })) => {
                self.dispatcher
                    .dispatch(&conversation, Event::Takeover(agent));
                true
            }
            Ok(Parsed::Frame(ToBot::Release {
                conversation,
                agent,
            })) => {
                self.dispatcher
                    .dispatch(&conversation, Event::Release(agent));
                true
            }
            Ok(Parsed::Unknown(kind)) => {
                metrics::counter!(crate::metrics::BAD_FRAMES, "why" => "unknown_type").increment(1);
                let kind: String = kind.chars().take(40).collect();
                tracing::info!(kind = %kind, "frame of unknown type ignored");
                false
            }
            Err(e) => {
                metrics::counter!(crate::metrics::BAD_FRAMES, "why" => "invalid").increment(1);
                // The frame may carry a buyer's words: only as much as allowed.
                let head: String = text.chars().take(self.config.log_chars).collect();
                tracing::warn!(error = %e, bytes = text.len(), frame = %head, "bad frame ignored");
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
        self.dispatcher.finish().await;
        let mut frames: Vec<String> = self.pending.take().into_iter().collect();
        while let Ok(f) = self.outbox.try_recv() {
            frames.push(f);
        }
        let n = frames.len();
        for f in frames {
            if let Err(e) = sink.send(WsMessage::text(f)).await {
                tracing::warn!(error = %e, "could not send everything before shutdown");
                break;
            }
        }
        let _ = sink.send(WsMessage::Close(None)).await;
        tracing::info!(frames = n, "sent the last frames; bye");
        End::Shutdown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
