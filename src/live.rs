//! Starting and stopping the live pieces: the bot (engine + store + channel
//! client) and the demo (embedded gateway + web app + bot). Shared by the
//! `run` and `demo` commands, the tests and the load tool.

use crate::channel::bot::Bot;
use crate::channel::{ChannelError, Client, ClientConfig};
use crate::engine::Engine;
use crate::gateway::{web, Gateway, GatewayConfig};
use crate::store::{Store, StoreError};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Errors starting the live pieces.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The store would not open.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The channel settings are wrong.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// A listener would not bind.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A running bot.
pub struct BotHandle {
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// The bot (engine swap, store).
    pub bot: Arc<Bot>,
}

impl BotHandle {
    /// Asks the bot to stop, lets it finish the messages in hand, waits.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        self.bot.store().close();
    }
}

/// Opens the store at `state` and starts the bot's client; it connects (and
/// reconnects) in the background.
pub fn start_bot(
    engine: Arc<Engine>,
    state: &Path,
    client: ClientConfig,
) -> Result<BotHandle, LiveError> {
    let full = engine.config.store.synchronous == "full";
    let store = Arc::new(Store::open_with(state, full)?);
    let (out_tx, out_rx) = crate::channel::outbox();
    let bot = Bot::new(engine, store, out_tx);
    let client = Client::new(client, bot.clone(), out_rx)?;
    let (shutdown, rx) = watch::channel(false);
    let task = tokio::spawn(client.run(rx));
    Ok(BotHandle {
        shutdown,
        task,
        bot,
    })
}

/// A random token for the demo's own bot connection.
pub fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    (0..2)
        .map(|i| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u32(i);
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            );
            format!("{:016x}", h.finish())
        })
        .collect()
}

/// A running gateway: the bot endpoint and, optionally, the web app.
pub struct GatewayHandle {
    /// The gateway.
    pub gateway: Gateway,
    /// Where bots connect (ws://ADDR/).
    pub bot_addr: SocketAddr,
    /// Where the web app listens, if it runs.
    pub web_addr: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl GatewayHandle {
    /// The bot's websocket URL.
    pub fn bot_url(&self) -> String {
        format!("ws://{}/", self.bot_addr)
    }

    /// Stops listening.
    pub fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

async fn bind(addr: &str) -> Result<tokio::net::TcpListener, LiveError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| LiveError::Listen {
            addr: addr.to_string(),
            source,
        })
}

/// Starts a gateway: bots connect on `bot_listen`; the web app listens on
/// `web_listen` when given.
pub async fn start_gateway(
    config: GatewayConfig,
    bot_listen: &str,
    web_listen: Option<&str>,
) -> Result<GatewayHandle, LiveError> {
    let gateway = Gateway::new(config);
    let bot_listener = bind(bot_listen).await?;
    let bot_addr = bot_listener
        .local_addr()
        .map_err(|source| LiveError::Listen {
            addr: bot_listen.into(),
            source,
        })?;
    let mut tasks = vec![gateway.serve_bot(bot_listener)];
    let mut web_addr = None;
    if let Some(listen) = web_listen {
        let l = bind(listen).await?;
        web_addr = l.local_addr().ok();
        let app = web::router(gateway.clone()).merge(crate::metrics::routes());
        tasks.push(tokio::spawn(async move {
            web::serve(l, app).await;
        }));
    }
    Ok(GatewayHandle {
        gateway,
        bot_addr,
        web_addr,
        tasks,
    })
}

/// Installs the TLS crypto provider `wss://` needs (once per process).
pub fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
