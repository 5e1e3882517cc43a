//! The `xiaoer` command line: parse flags, load the engine, run the command,
//! turn errors into messages and exit codes.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use serde::Serialize;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use xiaoer::channel::ClientConfig;
use xiaoer::config::Config;
use xiaoer::dialogue::{Conversation, Decision};
use xiaoer::engine::{configured_folders, Folders};
use xiaoer::eval::{self, GoldSet, Pred};
use xiaoer::{Engine, FileSource};

/// 店小二 — answers buyers in a shop's chat like its best agent, and hands the
/// chat to a person when it should.
#[derive(Parser)]
#[command(name = "xiaoer", version, about, long_about = None)]
struct Cli {
    /// Configuration file (TOML). Default: ./xiaoer.toml if present, else the
    /// built-in demo shop. Every key can be overridden with XIAOER_<SECTION>__<KEY>.
    #[arg(long, short = 'c', global = true, env = "XIAOER_CONFIG")]
    config: Option<PathBuf>,
    /// Folder of intent files (default: paths.intents; when no configuration
    /// sets it and ./intents is absent, the built-in set).
    #[arg(long, global = true)]
    intents: Option<PathBuf>,
    /// Folder of reply files (default: paths.replies; when no configuration
    /// sets it and ./replies is absent, the built-in set).
    #[arg(long, global = true)]
    replies: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify messages and show the bot's decision and reply.
    ///
    /// With TEXT: a readable decision for each. With --jsonl: one JSON object per
    /// stdin line ({"text": ..., "conversation": optional id}) in, one out, in
    /// order; lines that share a conversation are one conversation.
    Classify {
        /// Messages to classify (one conversation, in order).
        text: Vec<String>,
        /// Read JSON lines from stdin, write JSON lines to stdout.
        #[arg(long)]
        jsonl: bool,
        /// Show which keywords, patterns and examples decided it.
        #[arg(long)]
        explain: bool,
    },
    /// Score the engine on a labelled JSONL file (single messages or dialogues).
    Eval {
        /// The labelled file (formats in ../shared/eval/README.md).
        file: PathBuf,
        /// Print the scores as JSON.
        #[arg(long)]
        json: bool,
        /// Also write the predictions (as `classify --jsonl` would) to this file.
        #[arg(long)]
        predictions: Option<PathBuf>,
        /// List every wrongly classified message.
        #[arg(long)]
        errors: bool,
        /// Print, for nlu.threshold from 0 to 1, the automation and
        /// wrong-answer rates, to choose the threshold from data.
        #[arg(long)]
        curve: bool,
    },
    /// Validate the intent, reply and configuration files.
    Check,
    /// Run the whole thing on this machine: an embedded chat gateway, the bot
    /// connected to it, and a web app with a buyer page and an agent console
    /// (default http://127.0.0.1:8080). Ctrl-C stops.
    Demo {
        /// Address of the web app (default: demo.listen, 127.0.0.1:8080).
        /// Anything but loopback exposes the agent console to the network.
        #[arg(long)]
        listen: Option<String>,
        /// Shortcut for --listen 127.0.0.1:PORT.
        #[arg(long, short = 'p', conflicts_with = "listen")]
        port: Option<u16>,
        /// Keep the bot's state in this SQLite file (default: demo.state, else a
        /// temporary file removed at exit).
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Connect the bot to a chat gateway and answer buyers until Ctrl-C/SIGTERM
    /// (protocol: shared/protocol.md). Reconnects by itself.
    Run {
        /// The gateway's websocket address (default: channel.url).
        #[arg(long)]
        url: Option<String>,
        /// Bearer token for the gateway (default: channel.token, or the file
        /// channel.token_file names; XIAOER_CHANNEL__TOKEN or
        /// XIAOER_CHANNEL__TOKEN_FILE keep it out of `ps`).
        #[arg(long)]
        token: Option<String>,
        /// The SQLite state file (default: store.path, xiaoer.db).
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// What the bot could not answer or escalated, from its state store:
    /// automation rate, escalation reasons, and the escalated messages grouped
    /// into clusters of similar wording with the intent file to add them to.
    Report {
        /// The SQLite state file (default: store.path, xiaoer.db).
        #[arg(long)]
        state: Option<PathBuf>,
        /// Start of the range: an age (30m, 24h, 7d, 2w) or a date/time
        /// (2026-11-01, 2026-11-01T08:00:00Z, UTC).
        #[arg(long, default_value = "7d")]
        since: String,
        /// End of the range (same forms; default now).
        #[arg(long)]
        until: Option<String>,
        /// Clusters to show (newest first).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Examples per cluster.
        #[arg(long, default_value_t = 3)]
        examples: usize,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Hash an agent's password for [console.agents] in xiaoer.toml (reads the
    /// password from stdin: `echo -n 'secret' | xiaoer hash-password`).
    HashPassword,
    /// Chat with the bot as a buyer in this terminal, no network (one line per
    /// message; an empty line or Ctrl-D ends).
    Chat,
}

/// Prints a line to stdout; a closed pipe (`xiaoer eval ... | head`) is not an error.
macro_rules! out {
    () => {{ let _ = writeln!(std::io::stdout().lock()); }};
    ($($arg:tt)*) => {{ let _ = writeln!(std::io::stdout().lock(), $($arg)*); }};
}

fn main() {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("xiaoer: {e:#}");
            std::process::exit(2);
        }
    }
}

/// Loads the engine for a command. Running on the built-in intents and
/// replies is said in the log (stderr), once.
fn load(cli: &Cli) -> Result<Engine> {
    let (engine, folders) = files_args(cli).load_from()?;
    if folders.is_none() {
        init_logs(engine.config.log.format == "json");
        tracing::info!(
            "running on the intents and replies built into the binary: {}",
            why_builtin()
        );
    }
    Ok(engine)
}

/// Why the built-in intents and replies are in use.
fn why_builtin() -> String {
    let here = std::env::current_dir()
        .map(|d| format!(" in {}", d.display()))
        .unwrap_or_default();
    format!("no intents/ or replies/ folder{here}, and no configuration sets paths.intents or paths.replies")
}

fn files_args(cli: &Cli) -> FilesArgs {
    FilesArgs {
        config: cli.config.clone(),
        intents: cli.intents.clone(),
        replies: cli.replies.clone(),
    }
}

/// Where the engine's files come from; kept so a running bot can reload them.
#[derive(Clone)]
struct FilesArgs {
    config: Option<PathBuf>,
    intents: Option<PathBuf>,
    replies: Option<PathBuf>,
}

impl FilesArgs {
    fn load(&self) -> Result<Engine> {
        Ok(self.load_from()?.0)
    }

    /// The engine, and the folders its intent and reply files came from
    /// (`None`: the built-in copies).
    fn load_from(&self) -> Result<(Engine, Option<Folders>)> {
        let config = Config::load(self.config.as_deref()).context("loading the configuration")?;
        let intents = self
            .intents
            .clone()
            .unwrap_or_else(|| config.paths.intents.clone());
        let replies = self
            .replies
            .clone()
            .unwrap_or_else(|| config.paths.replies.clone());
        if self.intents.is_some() || self.replies.is_some() {
            if !intents.is_dir() {
                bail!("{}: no such folder of intent files", intents.display());
            }
            if !replies.is_dir() {
                bail!("{}: no such folder of reply files", replies.display());
            }
            let engine = Engine::load(config, FileSource::Dirs(&intents, &replies))?;
            return Ok((engine, Some(Folders { intents, replies })));
        }
        // The same resolution as FileSource::Configured, done here to know it.
        let folders = configured_folders(&config)?;
        let engine = match &folders {
            Some(f) => Engine::load(config, FileSource::Dirs(&f.intents, &f.replies))?,
            None => Engine::load(config, FileSource::Embedded)?,
        };
        Ok((engine, folders))
    }

    /// The files a running bot watches: the folders it loaded from (none when
    /// it runs on the built-in copies) and the configuration file.
    fn watched(&self, engine: &Engine) -> xiaoer::watch::Watched {
        let mut w = xiaoer::watch::Watched::default();
        let intents = self
            .intents
            .clone()
            .unwrap_or_else(|| engine.config.paths.intents.clone());
        let replies = self
            .replies
            .clone()
            .unwrap_or_else(|| engine.config.paths.replies.clone());
        if intents.is_dir() {
            w.dirs.push(intents);
            if replies.is_dir() {
                w.dirs.push(replies);
            }
        }
        // The file the configuration was read from (given, or ./xiaoer.toml).
        w.files.extend(engine.config.file.clone());
        w
    }

    /// Starts hot reload into `bot`; logs what it watches.
    fn watch(
        &self,
        engine: &Engine,
        bot: Arc<xiaoer::channel::bot::Bot>,
    ) -> Option<xiaoer::watch::WatchHandle> {
        let what = self.watched(engine);
        if what.dirs.is_empty() && what.files.is_empty() {
            tracing::info!("hot reload off: no folder or configuration file to watch");
            return None;
        }
        let me = self.clone();
        let shown: Vec<String> = what
            .dirs
            .iter()
            .chain(&what.files)
            .map(|p| p.display().to_string())
            .collect();
        let r = xiaoer::watch::watch(
            what,
            move || me.load().map_err(|e| format!("{e:#}")),
            move |e| bot.set_engine(e),
            |outcome| match outcome {
                xiaoer::watch::Reloaded::Ok { intents, took } => {
                    metrics::counter!(xiaoer::metrics::RELOADS, "result" => "ok").increment(1);
                    tracing::info!(
                        intents,
                        took_ms = took.as_millis() as u64,
                        "reloaded the intent, reply and configuration files"
                    )
                }
                xiaoer::watch::Reloaded::Invalid(problems) => {
                    metrics::counter!(xiaoer::metrics::RELOADS, "result" => "invalid").increment(1);
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
}

fn run(cli: Cli) -> Result<i32> {
    match &cli.command {
        Command::Classify {
            text,
            jsonl,
            explain,
        } => {
            let engine = load(&cli)?;
            if *jsonl {
                classify_jsonl(&engine, *explain)?;
            } else if text.is_empty() {
                bail!("give a message to classify, e.g. xiaoer classify \"亲 在吗 有货吗\", or --jsonl to read stdin");
            } else {
                let mut conv = Conversation::default();
                for t in text {
                    let d = engine.decide(&mut conv, t, *explain);
                    print_decision(&engine, t, &d, *explain);
                }
            }
            Ok(0)
        }
        Command::Eval {
            file,
            json,
            predictions,
            errors,
            curve,
        } => {
            let mut engine = load(&cli)?;
            if *curve {
                out!("{}", eval::curve_report(&mut engine, file, *json).map_err(anyhow::Error::msg)?);
                return Ok(0);
            }
            run_eval(&engine, file, *json, predictions.as_deref(), *errors)
        }
        Command::Report {
            state,
            since,
            until,
            limit,
            examples,
            json,
        } => {
            let engine = load(&cli)?;
            let state = state
                .clone()
                .unwrap_or_else(|| engine.config.store.path.clone());
            if !state.is_file() {
                bail!(
                    "{}: no state file (give the bot's --state)",
                    state.display()
                );
            }
            let now = xiaoer::store::now_ms();
            let from = xiaoer::report::parse_time(since, now).map_err(anyhow::Error::msg)?;
            let to = match until {
                Some(u) => xiaoer::report::parse_time(u, now).map_err(anyhow::Error::msg)?,
                None => now,
            };
            let store = xiaoer::store::Store::open(&state)?;
            let mut r = xiaoer::report::build(&store, &engine, from, to, *examples)?;
            r.clusters.truncate(*limit);
            if *json {
                out!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_report(&r, &state);
            }
            Ok(0)
        }
        Command::HashPassword => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            let password = line.trim_end_matches(['\n', '\r']);
            if password.is_empty() {
                bail!("give the password on stdin: echo -n 'secret' | xiaoer hash-password");
            }
            out!("{}", xiaoer::gateway::auth::hash_password(password));
            Ok(0)
        }
        Command::Chat => {
            let engine = load(&cli)?;
            chat(&engine)
        }
        Command::Run { url, token, state } => {
            let engine = load(&cli)?;
            let token = match token {
                Some(t) => t.clone(),
                None => engine.config.channel_token()?,
            };
            let client = ClientConfig {
                url: url
                    .clone()
                    .unwrap_or_else(|| engine.config.channel.url.clone()),
                token,
                shops: engine.config.channel.shops.clone(),
                log_chars: engine.config.log.message_chars,
            };
            let state = state
                .clone()
                .unwrap_or_else(|| engine.config.store.path.clone());
            runtime(&engine.config)?.block_on(run_bot(engine, client, state, files_args(&cli)))
        }
        Command::Demo {
            listen,
            port,
            state,
        } => {
            let engine = load(&cli)?;
            let listen = match (listen, port) {
                (Some(l), _) => l.clone(),
                (None, Some(p)) => format!("127.0.0.1:{p}"),
                (None, None) => engine.config.demo.listen.clone(),
            };
            let state = state.clone().or_else(|| {
                Some(PathBuf::from(&engine.config.demo.state)).filter(|p| !p.as_os_str().is_empty())
            });
            runtime(&engine.config)?.block_on(run_demo(engine, listen, state, files_args(&cli)))
        }
        Command::Check => {
            let (engine, folders) = files_args(&cli).load_from()?;
            match &folders {
                Some(f) => {
                    let abs = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or(p.into());
                    out!(
                        "checked: intents {}, replies {}",
                        abs(&f.intents).display(),
                        abs(&f.replies).display()
                    )
                }
                None => out!(
                    "checked: the built-in intents and replies ({})",
                    why_builtin()
                ),
            }
            match &engine.config.file {
                Some(p) => out!("checked: configuration {}", p.display()),
                None => {
                    out!("checked: the built-in configuration (no xiaoer.toml here, no --config)")
                }
            }
            let misread = engine.nlu.misread_examples();
            for w in engine.nlu.warnings.0.iter().chain(&misread.0) {
                out!("warning: {w}");
            }
            out!(
                "ok: {} intents, {} warnings",
                engine.nlu.intents.len(),
                engine.nlu.warnings.0.len() + misread.0.len()
            );
            Ok(0)
        }
    }
}

fn runtime(config: &Config) -> Result<tokio::runtime::Runtime> {
    init_logs(config.log.format == "json");
    xiaoer::metrics::install();
    xiaoer::live::install_tls();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Logs to stderr; XIAOER_LOG sets the filter (e.g. `debug`, `xiaoer=trace`).
/// `json`: one JSON object per line, for log collectors.
fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("XIAOER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        b.json().try_init()
    } else {
        b.try_init()
    };
}

/// Serves /metrics, /healthz and /readyz when `metrics.listen` is set.
async fn serve_metrics(config: &Config) -> Result<()> {
    let listen = config.metrics.listen.trim();
    if listen.is_empty() {
        return Ok(());
    }
    let addr = xiaoer::metrics::serve(listen)
        .await
        .with_context(|| format!("metrics.listen = {listen:?}: cannot listen there"))?;
    tracing::info!(%addr, "metrics on http://{addr}/metrics (also /healthz, /readyz)");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stop_signal() {
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

async fn run_bot(
    engine: Engine,
    client: ClientConfig,
    state: PathBuf,
    files: FilesArgs,
) -> Result<i32> {
    let url = client.url.clone();
    serve_metrics(&engine.config).await?;
    let engine = Arc::new(engine);
    let bot = xiaoer::live::start_bot(engine.clone(), &state, client)
        .with_context(|| format!("starting the bot for {url}"))?;
    let _watch = files.watch(&engine, bot.bot.clone());
    tracing::info!(%url, state = %state.display(), "xiaoer running; Ctrl-C or SIGTERM stops");
    stop_signal().await;
    tracing::info!("stopping");
    bot.stop().await;
    Ok(0)
}

async fn run_demo(
    engine: Engine,
    listen: String,
    state: Option<PathBuf>,
    files: FilesArgs,
) -> Result<i32> {
    let token = xiaoer::live::random_token();
    let facts = engine.config.facts("zh");
    let gw_config = xiaoer::gateway::GatewayConfig {
        name: "xiaoer-demo".into(),
        token: token.clone(),
        shop: facts.get("shop").cloned().unwrap_or_else(|| "demo".into()),
        items: engine.config.demo.items.clone(),
    };
    let ip_loopback = listen
        .parse::<std::net::SocketAddr>()
        .map(|a| a.ip().is_loopback())
        .unwrap_or(listen.starts_with("localhost:"));
    serve_metrics(&engine.config).await?;
    let agents = engine.config.console.agents.clone();
    let session =
        std::time::Duration::from_secs(engine.config.console.session_minutes.saturating_mul(60));
    if !ip_loopback && agents.is_empty() {
        bail!("{listen} is reachable from other machines, and the agent console would be open to anyone: list agents under [console.agents] in xiaoer.toml (hashes from `xiaoer hash-password`), or listen on 127.0.0.1");
    }
    let gw = xiaoer::live::start_gateway(gw_config, "127.0.0.1:0", Some(&listen))
        .await
        .context("starting the demo gateway")?;
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
    };
    let engine = Arc::new(engine);
    let bot =
        xiaoer::live::start_bot(engine.clone(), &state, client).context("starting the demo bot")?;
    let _watch = files.watch(&engine, bot.bot.clone());
    {
        let b = bot.bot.clone();
        gw.gateway.set_report(Arc::new(move |hours| {
            let now = xiaoer::store::now_ms();
            let engine = b.engine();
            xiaoer::report::build(b.store(), &engine, now - hours * 3_600_000, now, 3)
                .map_err(|e| e.to_string())
                .and_then(|r| serde_json::to_value(r).map_err(|e| e.to_string()))
        }));
    }
    if !agents.is_empty() {
        gw.gateway
            .set_auth(Arc::new(xiaoer::gateway::auth::Auth::new(
                agents.clone().into_iter().collect(),
                session,
            )));
    }
    let web = gw.web_addr.map(|a| a.to_string()).unwrap_or(listen);
    out!("xiaoer demo is running.");
    out!("  buyer page:    http://{web}/");
    out!("  agent console: http://{web}/agent");
    out!(
        "  bot state:     {}{}",
        state.display(),
        if temporary { " (removed at exit)" } else { "" }
    );
    if !agents.is_empty() {
        out!(
            "  agent console login required ({} agents configured)",
            agents.len()
        );
    }
    out!("Ctrl-C stops.");
    stop_signal().await;
    bot.stop().await;
    gw.stop();
    if temporary {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", state.display()));
        }
    }
    Ok(0)
}

fn print_report(r: &xiaoer::report::Report, state: &std::path::Path) {
    let when = |ms: i64| {
        xiaoer::gateway::rfc3339(ms)
            .replace('T', " ")
            .replace('Z', "")
    };
    out!(
        "xiaoer report: {} to {} UTC, {}",
        when(r.from_ms),
        when(r.to_ms),
        state.display()
    );
    match r.automation_rate {
        Some(a) => out!(
            "decided {} · answered {} · escalated {} · automation rate {:.1}%",
            r.decided,
            r.replied,
            r.escalated,
            a * 100.0
        ),
        None => out!("no buyer messages decided in this range"),
    }
    if !r.reasons.is_empty() {
        let reasons: Vec<String> = r
            .reasons
            .iter()
            .map(|c| format!("{} {}", c.reason, c.count))
            .collect();
        out!("escalations by reason: {}", reasons.join(", "));
    }
    if r.clusters.is_empty() {
        return;
    }
    out!();
    out!("escalated messages, similar ones together, newest first:");
    for c in &r.clusters {
        let reasons: Vec<String> = c
            .reasons
            .iter()
            .map(|x| format!("{} ×{}", x.reason, x.count))
            .collect();
        let hint = match &c.suggest {
            Some(id) => format!(" → intents/{id}.toml?"),
            None => String::new(),
        };
        out!();
        out!(
            "[{}] {}{}  (latest {})",
            c.size,
            reasons.join(", "),
            hint,
            when(c.latest_ms)
        );
        for e in &c.examples {
            let text: String = e
                .text
                .chars()
                .filter(|ch| !ch.is_control())
                .take(100)
                .collect();
            out!("    “{}”  ({})", text, e.conversation);
        }
    }
}

fn chat(engine: &Engine) -> Result<i32> {
    let shop = engine
        .config
        .facts("zh")
        .get("shop")
        .cloned()
        .unwrap_or_default();
    out!("xiaoer chat — you are a buyer chatting with {shop}. Type a message (中文 or English); an empty line ends.");
    out!("Try: 亲 在吗 有货吗 · 能便宜点吗 · 包邮吗 · when will you ship? · 我要投诉");
    let mut conv = Conversation::default();
    let stdin = std::io::stdin();
    let mut line = String::new();
    loop {
        {
            let mut o = std::io::stdout().lock();
            let _ = write!(o, "\nbuyer> ");
            let _ = o.flush();
        }
        line.clear();
        if stdin.lock().read_line(&mut line).context("reading stdin")? == 0
            || line.trim().is_empty()
        {
            break;
        }
        let d = engine.decide(&mut conv, line.trim(), false);
        out!("bot>   {}", d.reply);
        match &d.reason {
            Some(r) => out!(
                "       [{} · {:.2} · handed to a person: {}]",
                d.intents.join("+"),
                d.confidence,
                r.as_str()
            ),
            None => out!("       [{} · {:.2}]", d.intents.join("+"), d.confidence),
        }
    }
    Ok(0)
}

fn print_decision(engine: &Engine, text: &str, d: &Decision, explain: bool) {
    out!("message:    {text}");
    out!("intents:    {}", d.intents.join(", "));
    out!("confidence: {:.2}", d.confidence);
    match &d.reason {
        Some(r) => out!("action:     escalate ({})", r.as_str()),
        None => out!("action:     reply"),
    }
    if d.inherited {
        out!("context:    follow-up, topic carried over from the previous message");
    }
    out!("reply:      {}", d.reply);
    if explain {
        let c = &d.classification;
        out!("normalised: {}", c.normalized);
        for cl in &c.clauses {
            out!("  clause {:?}", cl.text);
            for s in cl.ranking.iter().take(3) {
                out!(
                    "    {:<16} score {:.2}  confidence {:.2}",
                    engine.nlu.intents[s.intent].id,
                    s.score,
                    s.confidence
                );
            }
            for (k, id, kind) in &cl.evidence.keywords {
                out!("    {kind} {k:?} → {id}");
            }
            for (p, id) in &cl.evidence.patterns {
                out!("    pattern {p:?} → {id}");
            }
            for (e, id, sim) in cl.evidence.examples.iter().take(3) {
                out!("    example {e} → {id} (similarity {sim:.2})");
            }
        }
    }
    out!();
}

#[derive(Serialize)]
struct Out<'a> {
    text: &'a str,
    intents: &'a [String],
    action: &'a str,
    confidence: f32,
    reply: &'a str,
    lang: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation: Option<&'a str>,
}

#[derive(serde::Deserialize)]
struct In {
    text: Option<serde_json::Value>,
    #[serde(default)]
    conversation: Option<serde_json::Value>,
}

/// Reads one input line into (text, conversation) or a per-line error.
fn parse_line(raw: &[u8], max_bytes: usize) -> Result<(String, Option<String>), String> {
    let line = std::str::from_utf8(raw)
        .map_err(|e| format!("the line is not valid UTF-8 (byte {})", e.valid_up_to() + 1))?;
    let v: In = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let text = match v.text {
        Some(serde_json::Value::String(s)) => s,
        Some(_) => return Err("\"text\" must be a string".into()),
        None => return Err("missing \"text\"".into()),
    };
    if text.trim().is_empty() {
        return Err("\"text\" is empty".into());
    }
    if text.len() > max_bytes {
        return Err(format!(
            "\"text\" is {} bytes, more than the {} a chat message may have",
            text.len(),
            max_bytes
        ));
    }
    let conv = match v.conversation {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err("\"conversation\" must be a string or a number".into()),
    };
    Ok((text, conv))
}

/// Longest message accepted (a chat message, not a document).
const MAX_MESSAGE_BYTES: usize = 8 * 1024;

fn classify_jsonl(engine: &Engine, explain: bool) -> Result<()> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut convs: std::collections::HashMap<String, Conversation> = Default::default();
    let mut buf = Vec::new();
    let mut n = 0usize;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf).context("reading stdin")? == 0 {
            break;
        }
        n += 1;
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        if buf.iter().all(|b| b.is_ascii_whitespace()) {
            serde_json::to_writer(
                &mut out,
                &serde_json::json!({"line": n, "error": "empty line"}),
            )?;
            out.write_all(b"\n")?;
            continue;
        }
        match parse_line(&buf, MAX_MESSAGE_BYTES) {
            Err(e) => serde_json::to_writer(&mut out, &serde_json::json!({"line": n, "error": e}))?,
            Ok((text, conv)) => {
                let mut single = Conversation::default();
                let state = match &conv {
                    Some(id) => convs.entry(id.clone()).or_default(),
                    None => &mut single,
                };
                let d = engine.decide(state, &text, explain);
                let reason = d.reason.as_ref().map(|r| r.as_str().to_string());
                let o = Out {
                    text: &text,
                    intents: &d.intents,
                    action: d.action.as_str(),
                    confidence: (d.confidence * 1000.0).round() / 1000.0,
                    reply: &d.reply,
                    lang: d.lang.as_str(),
                    reason: reason.as_deref(),
                    conversation: conv.as_deref(),
                };
                serde_json::to_writer(&mut out, &o)?;
            }
        }
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

fn run_eval(
    engine: &Engine,
    file: &std::path::Path,
    json: bool,
    predictions: Option<&std::path::Path>,
    errors: bool,
) -> Result<i32> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let gold = GoldSet::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let mut preds = Vec::new();
    let mut lat = Vec::new();
    let mut details = Vec::new();
    let t0 = Instant::now();
    for (_, turns) in &gold.conversations {
        let mut conv = Conversation::default();
        for g in turns {
            let t = Instant::now();
            let d = engine.decide(&mut conv, &g.text, false);
            lat.push(t.elapsed().as_secs_f64() * 1e6);
            preds.push(Pred {
                intents: d.intents.clone(),
                action: d.action.as_str().to_string(),
            });
            details.push(d);
        }
    }
    let total = t0.elapsed().as_secs_f64();
    let gold_msgs: Vec<_> = gold.messages().collect();
    let scores = eval::score(&gold_msgs, &preds).map_err(anyhow::Error::msg)?;
    lat.sort_by(f64::total_cmp);
    let (p50, p99) = (eval::percentile(&lat, 50.0), eval::percentile(&lat, 99.0));
    let throughput = if total > 0.0 {
        preds.len() as f64 / total
    } else {
        0.0
    };
    if let Some(p) = predictions {
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        );
        for (g, d) in gold_msgs.iter().zip(&details) {
            serde_json::to_writer(
                &mut w,
                &serde_json::json!({"text": g.text, "intents": d.intents, "action": d.action.as_str(), "confidence": d.confidence, "reply": d.reply}),
            )?;
            w.write_all(b"\n")?;
        }
    }
    if json {
        let mut v = serde_json::to_value(&scores)?;
        v["latency_us"] = serde_json::json!({"p50": p50, "p99": p99});
        v["throughput_per_s"] = serde_json::json!(throughput);
        out!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    let s = &scores;
    out!("{}: {} messages", file.display(), s.messages);
    for (k, v) in [
        ("intent_accuracy", s.intent_accuracy),
        ("action_accuracy", s.action_accuracy),
        ("wrong_answer_rate", s.wrong_answer_rate),
        ("escalation_recall", s.escalation_recall),
        ("escalation_precision", s.escalation_precision),
        ("automation_rate", s.automation_rate),
        ("macro_f1", s.macro_f1),
    ] {
        out!("{k:22} {v:.4}");
    }
    out!("{:22} p50 {p50:.1} µs, p99 {p99:.1} µs, {throughput:.0} messages/s (one thread, dialogue policy included)", "latency");
    out!("\nper intent (worst f1 first):");
    let mut per: Vec<_> = s.per_intent.iter().collect();
    per.sort_by(|a, b| a.1.f1.total_cmp(&b.1.f1));
    for (i, v) in per {
        out!(
            "  {i:16} p={:.2} r={:.2} f1={:.2} n={}",
            v.precision,
            v.recall,
            v.f1,
            v.support
        );
    }
    out!("\ntop confusions (gold -> predicted):");
    for c in &s.top_confusions {
        out!("  {:3}  {} -> {}", c.count, c.gold, c.pred);
    }
    if errors {
        out!("\nerrors:");
        for (g, d) in gold_msgs.iter().zip(&details) {
            let mut gi = g.intents.clone();
            gi.sort();
            let mut pi: Vec<String> = d.intents.clone();
            if gi.iter().any(|i| i != "greeting" && i != "closing") {
                pi.retain(|i| i != "greeting" && i != "closing");
            }
            pi.sort();
            if gi != pi || g.action != d.action.as_str() {
                out!(
                    "  {:40} gold {}/{}  got {}/{} ({:.2})",
                    g.text,
                    gi.join("+"),
                    g.action,
                    d.intents.join("+"),
                    d.action.as_str(),
                    d.confidence
                );
            }
        }
    }
    Ok(0)
}
