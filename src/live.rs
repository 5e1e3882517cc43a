//! Starting and stopping the live pieces: the bot (engine + store + channel
//! client), hot reload, and the demo (embedded gateway + web app + bot).
//! Shared by the `run` and `demo` commands, the tests and the load tool.

use crate::channel::bot::Bot;
use crate::channel::{ChannelError, Client, ClientConfig};
use crate::config::Config;
use crate::engine::Engine;
use crate::gateway::{web, Gateway, GatewayConfig};
use crate::store::{Store, StoreError};
use crate::watch::{Reloaded, WatchHandle, Watched};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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
    /// The metrics listener would not bind.
    #[error("metrics.listen = {listen:?}: cannot listen there: {source}")]
    Metrics {
        /// The configured address.
        listen: String,
        /// Why.
        source: std::io::Error,
    },
    /// A piece would not start.
    #[error("starting {what}")]
    Start {
        /// Which piece (`the bot for URL`, `the demo gateway`).
        what: String,
        /// Why.
        #[source]
        source: Box<LiveError>,
    },
    /// The demo would expose the agent console to the network with no login.
    #[error("{listen} is reachable from other machines, and the agent console would be open to anyone: list agents under [console.agents] in xiaoer.toml (hashes from `xiaoer hash-password`), or listen on 127.0.0.1")]
    OpenConsole {
        /// The web app's address.
        listen: String,
    },
}

impl LiveError {
    fn starting(what: impl Into<String>) -> impl FnOnce(LiveError) -> LiveError {
        let what = what.into();
        move |e| LiveError::Start {
            what,
            source: Box::new(e),
        }
    }
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
    start_bot_with_clock(engine, state, client, None)
}

/// [`start_bot`] with the proactive scheduler on `clock` (tests move theirs;
/// `None`: the system's).
pub fn start_bot_with_clock(
    engine: Arc<Engine>,
    state: &Path,
    client: ClientConfig,
    clock: Option<Arc<dyn crate::proactive::Clock>>,
) -> Result<BotHandle, LiveError> {
    let full = engine.config.store.synchronous == "full";
    let store = Arc::new(Store::open_with(state, full)?);
    start_bot_on(engine, store, client, clock)
}

/// Where the bot keeps its state.
#[derive(Debug, Clone)]
pub enum StoreAt {
    /// The embedded SQLite file.
    File(PathBuf),
    /// A PostgreSQL server several instances share (`postgres://…`).
    Url(String),
}

impl StoreAt {
    /// `--state` when given, else `store.url` when set, else `store.path`.
    pub fn choose(state: Option<PathBuf>, config: &crate::config::Config) -> StoreAt {
        match state {
            Some(p) => StoreAt::File(p),
            None if !config.store.url.trim().is_empty() => {
                StoreAt::Url(config.store.url.trim().to_string())
            }
            None => StoreAt::File(config.store.path.clone()),
        }
    }

    /// Opens (creating and migrating) the store.
    pub async fn open(&self, config: &crate::config::Config) -> Result<Store, StoreError> {
        match self {
            StoreAt::File(p) => Store::open_with(p, config.store.synchronous == "full"),
            StoreAt::Url(u) => {
                let password = password(config)?;
                Store::connect_with(u, password.as_deref(), false).await
            }
        }
    }

    /// Opens the store for reading only (`report`, `teach`).
    pub async fn open_read_only(
        &self,
        config: &crate::config::Config,
    ) -> Result<Store, StoreError> {
        match self {
            StoreAt::File(p) => Store::open_read_only(p),
            StoreAt::Url(u) => {
                let password = password(config)?;
                Store::connect_with(u, password.as_deref(), true).await
            }
        }
    }

    /// For messages: the file, or the server without password.
    pub fn describe(&self) -> String {
        match self {
            StoreAt::File(p) => p.display().to_string(),
            StoreAt::Url(u) => crate::store::postgres::redact(u),
        }
    }
}

/// The PostgreSQL password from `store.password_file`, when set.
fn password(config: &crate::config::Config) -> Result<Option<String>, StoreError> {
    match config
        .store
        .password_file
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty())
    {
        None => Ok(None),
        Some(p) => std::fs::read_to_string(p)
            .map(Some)
            .map_err(|e| StoreError::Url {
                url: crate::store::postgres::redact(&config.store.url),
                why: format!("store.password_file {}: {e}", p.display()),
            }),
    }
}

/// [`start_bot_with_clock`] on a store already open (a PostgreSQL one, say).
pub fn start_bot_on(
    engine: Arc<Engine>,
    store: Arc<Store>,
    client: ClientConfig,
    clock: Option<Arc<dyn crate::proactive::Clock>>,
) -> Result<BotHandle, LiveError> {
    let (out_tx, out_rx) = crate::channel::outbox();
    let bot = Bot::new(engine, store, out_tx);
    if let Some(c) = clock {
        bot.set_clock(c);
    }
    let client = Client::new(client, bot.clone(), out_rx)?;
    let (shutdown, rx) = watch::channel(false);
    let scheduler = tokio::spawn(crate::proactive::run(bot.clone(), rx.clone()));
    let task = tokio::spawn(async move {
        client.run(rx).await;
        let _ = scheduler.await;
    });
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

/// What a running bot reloads: the files to watch and how to load them again.
pub struct Reload {
    /// The folders and configuration file.
    pub what: Watched,
    /// Loads the engine again (the problems as text when the files are invalid).
    pub rebuild: Box<dyn Fn() -> Result<Engine, String> + Send>,
}

/// Starts hot reload into `bot`: logs what it watches and each outcome, counts
/// reloads. `None` when there is nothing to watch or watching failed (logged).
pub fn hot_reload(reload: Reload, bot: Arc<Bot>) -> Option<WatchHandle> {
    hot_reload_telling(reload, bot, |_| {})
}

/// [`hot_reload`] that also tells `tell` each outcome: the problems when the
/// files failed to load, none when a reload succeeded (the agent console
/// shows them).
pub fn hot_reload_telling(
    reload: Reload,
    bot: Arc<Bot>,
    tell: impl Fn(Option<String>) + Send + 'static,
) -> Option<WatchHandle> {
    let Reload { what, rebuild } = reload;
    if what.is_empty() {
        tracing::info!("hot reload off: no folder or configuration file to watch");
        return None;
    }
    let shown: Vec<String> = what
        .dirs
        .iter()
        .chain(&what.files)
        .map(|p| p.display().to_string())
        .collect();
    let r = crate::watch::watch(
        what,
        rebuild,
        move |e| bot.set_engine(e),
        move |outcome| match outcome {
            Reloaded::Ok { intents, took } => {
                tell(None);
                metrics::counter!(crate::metrics::RELOADS, "result" => "ok").increment(1);
                tracing::info!(
                    intents,
                    took_ms = took.as_millis() as u64,
                    "reloaded the intent, reply and configuration files"
                )
            }
            Reloaded::Invalid(problems) => {
                tell(Some(problems.clone()));
                metrics::counter!(crate::metrics::RELOADS, "result" => "invalid").increment(1);
                tracing::error!(
                    "the changed files are invalid; the previous version stays in force:\n{problems}"
                )
            }
        },
    );
    match r {
        Ok(h) => {
            tracing::info!(watching = ?shown, "hot reload on");
            Some(h)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the files; changes need a restart");
            None
        }
    }
}

/// Serves /metrics, /healthz and /readyz when `metrics.listen` is set.
pub async fn serve_metrics(config: &Config) -> Result<(), LiveError> {
    let listen = config.metrics.listen.trim();
    if listen.is_empty() {
        return Ok(());
    }
    let addr = crate::metrics::serve(listen)
        .await
        .map_err(|source| LiveError::Metrics {
            listen: listen.to_string(),
            source,
        })?;
    tracing::info!(%addr, "metrics on http://{addr}/metrics (also /healthz, /readyz)");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `xiaoer run`: the bot on a gateway with hot reload, until Ctrl-C/SIGTERM;
/// then it finishes the messages in hand.
pub async fn run_bot(
    engine: Engine,
    client: ClientConfig,
    state: StoreAt,
    reload: Reload,
) -> Result<(), LiveError> {
    let url = client.url.clone();
    serve_metrics(&engine.config).await?;
    let store = Arc::new(state.open(&engine.config).await?);
    let engine = Arc::new(engine);
    let instance =
        crate::logsafe::escape(client.instance.as_deref().unwrap_or_default()).to_string();
    let bot = start_bot_on(engine, store, client, None)
        .map_err(LiveError::starting(format!("the bot for {url}")))?;
    let _watch = hot_reload(reload, bot.bot.clone());
    tracing::info!(%url, state = %state.describe(), instance = %instance, "xiaoer running; Ctrl-C or SIGTERM stops");
    stop_signal().await;
    tracing::info!("stopping");
    bot.stop().await;
    Ok(())
}

/// The running demo: the embedded gateway with its web app, and the bot.
pub struct Demo {
    gw: GatewayHandle,
    bot: BotHandle,
    _watch: Option<WatchHandle>,
    /// Where the web app listens (host:port).
    pub web: String,
    /// The bot's state file.
    pub state: PathBuf,
    /// The state file is removed at [`Demo::stop`].
    pub temporary: bool,
    /// Agents with a password (a login is required when any).
    pub agents: usize,
    /// On an open loopback console: the agent it works as ("小美 (xiaomei)").
    pub first_agent: Option<String>,
}

impl Demo {
    /// Starts the demo's gateway and web app on `listen` (loopback unless
    /// agents are configured), and the bot connected to it with hot reload.
    /// `teach`: the folders agents may teach into from the console.
    /// `state`: the bot's SQLite file (default: a temporary one).
    pub async fn start(
        engine: Engine,
        listen: String,
        state: Option<PathBuf>,
        reload: Reload,
        teach: Option<crate::engine::Folders>,
    ) -> Result<Demo, LiveError> {
        let token = random_token();
        let facts = engine.config.facts("zh");
        let gw_config = GatewayConfig {
            name: "xiaoer-demo".into(),
            token: token.clone(),
            shop: facts.get("shop").cloned().unwrap_or_else(|| "demo".into()),
            // The catalog's items when there is one (frames then carry ids
            // the catalog knows), else the configured titles.
            items: match &engine.knowledge {
                Some(k) if !k.is_empty() => k
                    .items
                    .iter()
                    .map(|i| (i.id.clone(), i.title.clone()))
                    .collect(),
                _ => engine
                    .config
                    .demo
                    .items
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (format!("i-{}", i + 1), t.clone()))
                    .collect(),
            },
        };
        let ip_loopback = listen
            .parse::<std::net::SocketAddr>()
            .map(|a| a.ip().is_loopback())
            .unwrap_or(listen.starts_with("localhost:"));
        serve_metrics(&engine.config).await?;
        let team = engine.config.team();
        let with_password = team.iter().filter(|m| m.hash.is_some()).count();
        let session = std::time::Duration::from_secs(
            engine.config.console.session_minutes.saturating_mul(60),
        );
        if !ip_loopback && with_password == 0 {
            return Err(LiveError::OpenConsole { listen });
        }
        let gw = start_gateway(gw_config, "127.0.0.1:0", Some(&listen))
            .await
            .map_err(LiveError::starting("the demo gateway"))?;
        let (state, temporary) = match state {
            Some(p) => (p, false),
            None => (
                std::env::temp_dir().join(format!("xiaoer-demo-{}.db", std::process::id())),
                true,
            ),
        };
        let client = ClientConfig {
            url: gw.bot_url(),
            token,
            shops: vec!["demo".into()],
            log_chars: engine.config.log.message_chars,
            instance: None,
        };
        // Agents teach the bot from the console when its files are folders.
        if let Some(folders) = teach {
            gw.gateway
                .set_teacher(Arc::new(crate::teach::FolderTeacher::new(
                    engine.config.clone(),
                    folders,
                )));
        }
        let engine = Arc::new(engine);
        let demo_reminder = engine.config.demo.payment_reminder_after.clone();
        let bot = start_bot(engine, &state, client).map_err(LiveError::starting("the demo bot"))?;
        if let Ok(ms) = crate::proactive::rules::parse_duration(&demo_reminder) {
            // Checked with the configuration; "" keeps the [proactive] values.
            bot.bot.set_reminder_override(ms);
        }
        let watch = {
            let g = gw.gateway.clone();
            hot_reload_telling(reload, bot.bot.clone(), move |p| g.set_reload_problem(p))
        };
        gw.gateway.set_desk(Arc::new(BotDesk(bot.bot.clone())));
        {
            let b = bot.bot.clone();
            // Called on a blocking thread of the runtime (the web handler's
            // spawn_blocking), where waiting on the store's future is allowed.
            let rt = tokio::runtime::Handle::current();
            gw.gateway.set_report(Arc::new(move |hours| {
                let now = crate::store::now_ms();
                let engine = b.engine();
                rt.block_on(crate::report::build(
                    b.store(),
                    &engine,
                    now - hours * 3_600_000,
                    now,
                    3,
                ))
                .map_err(|e| e.to_string())
                .and_then(|r| serde_json::to_value(r).map_err(|e| e.to_string()))
            }));
        }
        let first_agent = team
            .first()
            .filter(|_| with_password == 0)
            .map(|m| format!("{} ({})", m.name, m.id));
        if !team.is_empty() {
            gw.gateway
                .set_auth(Arc::new(crate::gateway::auth::Auth::for_team(
                    team, session,
                )));
        }
        let web = gw.web_addr.map(|a| a.to_string()).unwrap_or(listen);
        Ok(Demo {
            gw,
            bot,
            _watch: watch,
            web,
            state,
            temporary,
            agents: with_password,
            first_agent,
        })
    }

    /// Stops the bot (finishing the messages in hand) and the gateway;
    /// removes a temporary state file.
    pub async fn stop(self) {
        self.bot.stop().await;
        self.gw.stop();
        if self.temporary {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.state.display()));
            }
        }
    }
}

/// How long saving an answer to the catalog waits for the bot's hot reload to
/// put it in force before answering "saved, not yet in force".
pub const SAVED_IN_FORCE_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// The desk's view of the bot: its quick replies and drafts from the engine
/// in force, the agents' actions into its store, answers into its catalog.
struct BotDesk(Arc<Bot>);

impl crate::gateway::desk::DeskHooks for BotDesk {
    fn quick_replies(&self) -> Vec<(String, String, String)> {
        self.0.engine().replies.quick().to_vec()
    }

    fn item_facts(&self, id: &str) -> Option<serde_json::Value> {
        let engine = self.0.engine();
        let k = engine.knowledge.as_ref()?;
        let item = &k.items[k.item_by_id(id)?];
        Some(serde_json::json!({
            "id": item.id,
            "title": item.title,
            "price": item.price,
            "attributes": item.attributes,
            "variants": item.variants.iter().map(|v| serde_json::json!({
                "label": v.label(),
                "stock": v.stock,
                "price": v.price,
                "restock": v.restock,
            })).collect::<Vec<_>>(),
        }))
    }

    fn save_faq(
        &self,
        item: &str,
        question: &str,
        answer: &str,
        who: &str,
    ) -> Result<String, String> {
        let engine = self.0.engine();
        let entry = crate::catalog_faq::Entry {
            item,
            question,
            answer,
            who,
            at_ms: crate::store::now_ms(),
        };
        let saved = crate::catalog_faq::save(&engine, &entry).map_err(|e| e.to_string())?;
        drop(engine);
        tracing::info!(agent = %crate::logsafe::esc(who), item = %crate::logsafe::esc(item), at = %saved.at(), "saved an answer to the catalog");
        // "Saved" means the bot answers from it: wait for the hot reload
        // to put the edited catalog in force (a bounded wait).
        let question = crate::teach::one_line(question);
        let deadline = std::time::Instant::now() + SAVED_IN_FORCE_WAIT;
        loop {
            let engine = self.0.engine();
            let in_force = engine.knowledge.as_ref().is_some_and(|k| {
                k.item_by_id(item)
                    .is_some_and(|i| k.items[i].faq.iter().any(|f| f.q.contains(&question)))
            });
            if in_force {
                return Ok(saved.at());
            }
            if std::time::Instant::now() > deadline {
                tracing::warn!(at = %saved.at(), "the saved answer is not in force yet: is hot reload on?");
                return Ok(format!(
                    "{} (not yet in force: the bot has not reloaded)",
                    saved.at()
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    fn draft(&self, text: &str, item: Option<&str>) -> Option<(String, String)> {
        let engine = self.0.engine();
        let mut conv = crate::dialogue::Conversation::default();
        let d = engine.decide_about(&mut conv, text, item, false);
        // Only an answer of the bot's own: a holding line is no draft.
        (d.action == crate::files::Action::Reply && d.reason.is_none())
            .then(|| (d.intents.first().cloned().unwrap_or_default(), d.reply))
    }

    fn record(&self, r: crate::gateway::desk::DeskRecord) {
        let op = crate::store::Op::DeskEvent {
            conversation: r.conversation,
            kind: r.kind.to_string(),
            agent: r.agent,
            message_id: r.message_id,
            detail: r.detail,
        };
        let bot = self.0.clone();
        // The web handlers run on the runtime: write without waiting there;
        // elsewhere (a caller on its own thread) wait for the commit.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if let Err(e) = bot.store().write(vec![op]).await {
                        tracing::error!(error = %e, "the desk log could not be stored");
                    }
                });
            }
            Err(_) => {
                if let Err(e) = bot.store().write_blocking(vec![op]) {
                    tracing::error!(error = %e, "the desk log could not be stored");
                }
            }
        }
    }
}
