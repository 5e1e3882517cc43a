//! The `xiaoer` command line: parse flags, load the engine once, hand the
//! command to the library (`cli` for output, `eval`, `live`), turn errors
//! into messages and exit codes.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use xiaoer::channel::ClientConfig;
use xiaoer::cli::{self, why_builtin};
use xiaoer::config::Config;
use xiaoer::dialogue::Conversation;
use xiaoer::engine::{resolve_catalog, resolve_folders, Folders};
use xiaoer::eval::GoldSet;
use xiaoer::live::{self, Demo, Reload};
use xiaoer::watch::Watched;
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
    /// Folder of catalog files (../shared/catalog.md; default: paths.catalog,
    /// used when ./catalog exists). Without one the bot knows no product;
    /// `demo` then uses the demo shop's built-in catalog.
    #[arg(long, global = true)]
    catalog: Option<PathBuf>,
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
        /// The SQLite state file (default: store.url when set, else
        /// store.path, xiaoer.db).
        #[arg(long)]
        state: Option<PathBuf>,
        /// This instance's name when several share one gateway (default:
        /// channel.instance, else <host>-<pid>).
        #[arg(long)]
        instance: Option<String>,
    },
    /// What the bot could not answer or escalated, from its state store:
    /// automation rate, escalation reasons, and the escalated messages grouped
    /// into clusters of similar wording with the intent file to add them to.
    Report {
        /// The SQLite state file (default: store.url when set, else
        /// store.path, xiaoer.db).
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
    /// Teach the bot: a buyer message becomes an example of the intent it
    /// should have been, in intents/<file>.toml (checked as `check` would,
    /// written atomically; a running bot reloads it).
    ///
    /// With TEXT and --intent: one lesson. With --state: the messages the bot
    /// escalated (newest first), one at a time: type the intent id, Enter
    /// skips, `?` lists the ids, `q` stops.
    Teach {
        /// The message to teach (with --intent).
        text: Option<String>,
        /// The intent it should be read as (`none` for off-topic).
        #[arg(long, requires = "text")]
        intent: Option<String>,
        /// Walk the escalated messages of this SQLite state file.
        #[arg(long, conflicts_with_all = ["text", "intent"])]
        state: Option<PathBuf>,
        /// With --state: from when (an age like 24h or 7d, or a date).
        #[arg(long, default_value = "7d")]
        since: String,
        /// Who teaches, for the comment in the file (default: $USER).
        #[arg(long = "as")]
        who: Option<String>,
    },
    /// Hash an agent's password for [console.agents] in xiaoer.toml (reads the
    /// password from stdin: `echo -n 'secret' | xiaoer hash-password`).
    HashPassword,
    /// Chat with the bot as a buyer in this terminal, no network (one line per
    /// message; an empty line or Ctrl-D ends).
    Chat,
    /// The shop's catalog files (../shared/catalog.md) from and to an ERP
    /// export (CSV, one row per SKU).
    Catalog {
        #[command(subcommand)]
        what: CatalogCommand,
    },
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Turn a CSV export (one row per SKU: item_id/商品ID, title/标题,
    /// options/规格 as 颜色:白色;尺码:M, price/价格, stock/库存, optional
    /// restock/补货日期 and names/别名; other columns are attributes) into one
    /// catalog file per item. Rows it cannot read are listed with their line
    /// and skipped (exit code 1 then).
    Import {
        /// The CSV file (UTF-8).
        file: PathBuf,
        /// Folder to write the item files to (default: --catalog, else
        /// paths.catalog); existing files of the same items are replaced.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write the catalog (--catalog, else paths.catalog) as CSV, one row per
    /// SKU, in the columns `import` reads.
    Export {
        /// The CSV file to write (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Add a question and its answer as a FAQ entry of an item (what "保存到商品
    /// 资料 Save to catalog" does in the agent console): appended to the item's
    /// file with a comment saying who and when, refused with the reason (and
    /// nothing written) when the catalog would not load or the bot would still
    /// not answer the question from it; written atomically, so a running bot
    /// reloads it.
    FaqAdd {
        /// The item's id.
        #[arg(long)]
        item: String,
        /// The question, as buyers ask it.
        #[arg(long)]
        q: String,
        /// The answer.
        #[arg(long)]
        a: String,
        /// Who adds it, for the comment (default: $USER).
        #[arg(long = "as")]
        who: Option<String>,
    },
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

/// Where the engine's files come from (the global flags); kept so a running
/// bot can load them again.
#[derive(Clone)]
struct FilesArgs {
    config: Option<PathBuf>,
    intents: Option<PathBuf>,
    replies: Option<PathBuf>,
    catalog: Option<PathBuf>,
    /// No catalog configured: the demo shop's built-in one (`xiaoer demo`).
    demo_catalog: bool,
}

impl FilesArgs {
    fn of(cli: &Cli) -> FilesArgs {
        FilesArgs {
            config: cli.config.clone(),
            intents: cli.intents.clone(),
            replies: cli.replies.clone(),
            catalog: cli.catalog.clone(),
            demo_catalog: matches!(cli.command, Command::Demo { .. }),
        }
    }

    /// The catalog folder in use (`None`: none, or the built-in demo one).
    fn catalog_dir(&self, config: &Config) -> Result<Option<PathBuf>> {
        Ok(resolve_catalog(config, self.catalog.as_deref())?)
    }

    /// The engine, and the folders its intent and reply files came from
    /// (`None`: the built-in copies), resolved once by [`resolve_folders`].
    fn load(&self) -> Result<(Engine, Option<Folders>)> {
        let config = Config::load(self.config.as_deref()).context("loading the configuration")?;
        let folders = resolve_folders(&config, self.intents.as_deref(), self.replies.as_deref())?;
        let source = match &folders {
            Some(f) => FileSource::Dirs(&f.intents, &f.replies),
            None => FileSource::Embedded,
        };
        let catalog = self.catalog_dir(&config)?;
        let engine = Engine::load(config, source)?;
        let engine = match catalog {
            Some(dir) => engine.with_catalog_dir(&dir)?,
            None if self.demo_catalog => engine.with_catalog(&xiaoer::embedded::demo_catalog())?,
            None => engine,
        };
        Ok((engine, folders))
    }

    /// What a running bot reloads: the folders it loaded from and the
    /// configuration file, loaded again the same way.
    fn reload(&self, engine: &Engine, folders: Option<&Folders>) -> Reload {
        let me = self.clone();
        let mut what = Watched::new(folders, engine.config.file.as_deref());
        if let Ok(Some(dir)) = self.catalog_dir(&engine.config) {
            what.dirs.push(dir);
        }
        Reload {
            what,
            rebuild: Box::new(move || me.load().map(|(e, _)| e).map_err(|e| format!("{e:#}"))),
        }
    }
}

/// Loads the engine for a command. Running on the built-in intents and
/// replies is said in the log (stderr), once.
fn load(files: &FilesArgs) -> Result<(Engine, Option<Folders>)> {
    let (engine, folders) = files.load()?;
    if folders.is_none() {
        cli::init_logs(engine.config.log.format == "json");
        tracing::info!(
            "running on the intents and replies built into the binary: {}",
            why_builtin()
        );
    }
    Ok((engine, folders))
}

fn run(cli: Cli) -> Result<i32> {
    let files = FilesArgs::of(&cli);
    let stdout = std::io::stdout();
    match &cli.command {
        Command::Classify {
            text,
            jsonl,
            explain,
        } => {
            let (engine, _) = load(&files)?;
            if *jsonl {
                cli::classify_jsonl(
                    &engine,
                    *explain,
                    &mut std::io::stdin().lock(),
                    &mut stdout.lock(),
                )?;
            } else if text.is_empty() {
                bail!("give a message to classify, e.g. xiaoer classify \"亲 在吗 有货吗\", or --jsonl to read stdin");
            } else {
                let mut conv = Conversation::default();
                for t in text {
                    let d = engine.decide(&mut conv, t, *explain);
                    cli::print_decision(&engine, t, &d, *explain, &mut stdout.lock());
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
            let (mut engine, _) = load(&files)?;
            if *curve {
                out!(
                    "{}",
                    xiaoer::eval::curve_report(&mut engine, file, *json)
                        .map_err(anyhow::Error::msg)?
                );
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
            let (engine, _) = load(&files)?;
            let at = live::StoreAt::choose(state.clone(), &engine.config);
            if let live::StoreAt::File(f) = &at {
                if !f.is_file() {
                    bail!("{}: no state file (give the bot's --state)", f.display());
                }
            }
            let now = xiaoer::store::now_ms();
            let from = xiaoer::report::parse_time(since, now).map_err(anyhow::Error::msg)?;
            let to = match until {
                Some(u) => xiaoer::report::parse_time(u, now).map_err(anyhow::Error::msg)?,
                None => now,
            };
            let rt = small_runtime()?;
            let store = rt.block_on(at.open_read_only(&engine.config))?;
            let mut r = rt.block_on(xiaoer::report::build(&store, &engine, from, to, *examples))?;
            r.clusters.truncate(*limit);
            let p = rt.block_on(xiaoer::report::proactive(
                &store,
                engine.config.proactive(),
                from,
                to,
            ))?;
            if *json {
                let mut v = serde_json::to_value(&r)?;
                v["proactive"] = serde_json::to_value(&p)?;
                out!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                out!(
                    "{}",
                    xiaoer::report::render_text(&r, &at.describe()).trim_end()
                );
                out!("\n{}", xiaoer::report::render_proactive_text(&p).trim_end());
            }
            Ok(0)
        }
        Command::HashPassword => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            let password = line.trim_end_matches(['\n', '\r']);
            if password.is_empty() {
                bail!("give the password on stdin: echo -n 'secret' | xiaoer hash-password");
            }
            out!("{}", xiaoer::gateway::auth::hash_password(password));
            Ok(0)
        }
        Command::Catalog { what } => {
            let config =
                Config::load(files.config.as_deref()).context("loading the configuration")?;
            let dir = files
                .catalog
                .clone()
                .unwrap_or_else(|| config.paths.catalog.clone());
            match what {
                CatalogCommand::Import { file, out } => {
                    let meta = std::fs::metadata(file)
                        .with_context(|| format!("reading {}", file.display()))?;
                    if meta.len() > xiaoer::catalog_io::MAX_CSV_BYTES as u64 {
                        bail!(
                            "{}: over {} bytes (catalog_io::MAX_CSV_BYTES): split the export",
                            file.display(),
                            xiaoer::catalog_io::MAX_CSV_BYTES
                        );
                    }
                    let text = std::fs::read_to_string(file)
                        .with_context(|| format!("reading {} (UTF-8 expected)", file.display()))?;
                    let (items, bad) = xiaoer::catalog_io::import(&text)
                        .map_err(|b| anyhow::anyhow!("{}:{}: {}", file.display(), b.line, b.why))?;
                    let out = out.clone().unwrap_or(dir);
                    std::fs::create_dir_all(&out)
                        .with_context(|| format!("creating {}", out.display()))?;
                    for (name, toml) in &items {
                        let path = out.join(name);
                        let tmp = out.join(format!(".{name}.tmp"));
                        std::fs::write(&tmp, toml)
                            .and_then(|_| std::fs::rename(&tmp, &path))
                            .with_context(|| format!("writing {}", path.display()))?;
                    }
                    for b in &bad {
                        eprintln!("{}:{}: row skipped: {}", file.display(), b.line, b.why);
                    }
                    out!(
                        "imported {} items into {} ({} rows skipped)",
                        items.len(),
                        out.display(),
                        bad.len()
                    );
                    Ok(if bad.is_empty() { 0 } else { 1 })
                }
                CatalogCommand::Export { out } => {
                    let (engine, _) = files.load()?;
                    let Some(k) = &engine.knowledge else {
                        bail!(
                            "{}: no catalog folder to export (give --catalog DIR)",
                            dir.display()
                        );
                    };
                    let csv = xiaoer::catalog_io::export(k);
                    match out {
                        Some(p) => std::fs::write(p, csv)
                            .with_context(|| format!("writing {}", p.display()))?,
                        None => {
                            let _ = std::io::stdout().lock().write_all(csv.as_bytes());
                        }
                    }
                    Ok(0)
                }
                CatalogCommand::FaqAdd { item, q, a, who } => {
                    let (engine, _) = files.load()?;
                    let who = who
                        .clone()
                        .or_else(|| std::env::var("USER").ok())
                        .unwrap_or_else(|| "operator".into());
                    let entry = xiaoer::catalog_faq::Entry {
                        item,
                        question: q,
                        answer: a,
                        who: &who,
                        at_ms: xiaoer::store::now_ms(),
                    };
                    match xiaoer::catalog_faq::save(&engine, &entry) {
                        Ok(saved) => {
                            out!("saved: {q:?} of item {item} ({})", saved.at());
                            Ok(0)
                        }
                        Err(why) => {
                            eprintln!("xiaoer: not saved: {why}");
                            Ok(1)
                        }
                    }
                }
            }
        }
        Command::Chat => {
            let (engine, _) = load(&files)?;
            cli::chat(&engine, &mut std::io::stdin().lock(), &mut stdout.lock())?;
            Ok(0)
        }
        Command::Teach {
            text,
            intent,
            state,
            since,
            who,
        } => {
            let (engine, folders) = load(&files)?;
            let Some(folders) = folders else {
                bail!("teaching edits the intent files, and this runs on the built-in copies: run it where intents/ and replies/ are, or pass --intents and --replies");
            };
            let who = who
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "operator".into());
            let teacher = xiaoer::teach::FolderTeacher::new(engine.config.clone(), folders);
            match (text, intent, state) {
                (Some(text), Some(intent), None) => {
                    match xiaoer::gateway::Teacher::teach(&teacher, text, intent, &who) {
                        Ok(at) => {
                            out!("taught: {text:?} is {intent} ({at})");
                            Ok(0)
                        }
                        Err(why) => {
                            eprintln!("xiaoer: not taught: {why}");
                            Ok(1)
                        }
                    }
                }
                (None, None, Some(state)) => {
                    if !state.is_file() {
                        bail!("{}: no state file (give the bot's --state)", state.display());
                    }
                    let now = xiaoer::store::now_ms();
                    let from = xiaoer::report::parse_time(since, now).map_err(anyhow::Error::msg)?;
                    let rt = small_runtime()?;
                    let store = xiaoer::store::Store::open_read_only(state)?;
                    let report =
                        rt.block_on(xiaoer::report::build(&store, &engine, from, now, usize::MAX))?;
                    let texts = report.clusters.iter().flat_map(|c| c.examples.iter().map(|e| e.text.clone()));
                    cli::teach_interactive(
                        &engine,
                        &teacher,
                        &who,
                        texts,
                        &mut std::io::stdin().lock(),
                        &mut stdout.lock(),
                    )?;
                    Ok(0)
                }
                _ => bail!("give a message and --intent (xiaoer teach \"能放洗碗机吗\" --intent usage_help), or --state FILE to go through what the bot escalated"),
            }
        }
        Command::Run {
            url,
            token,
            state,
            instance,
        } => {
            let (engine, folders) = load(&files)?;
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
                instance: Some(
                    instance
                        .clone()
                        .filter(|i| !i.trim().is_empty())
                        .or_else(|| {
                            Some(engine.config.channel.instance.trim().to_string())
                                .filter(|i| !i.is_empty())
                        })
                        .unwrap_or_else(xiaoer::channel::default_instance),
                ),
            };
            let state = live::StoreAt::choose(state.clone(), &engine.config);
            let reload = files.reload(&engine, folders.as_ref());
            runtime(&engine.config)?.block_on(live::run_bot(engine, client, state, reload))?;
            Ok(0)
        }
        Command::Demo {
            listen,
            port,
            state,
        } => {
            let (engine, folders) = load(&files)?;
            let listen = match (listen, port) {
                (Some(l), _) => l.clone(),
                (None, Some(p)) => format!("127.0.0.1:{p}"),
                (None, None) => engine.config.demo.listen.clone(),
            };
            let state = state.clone().or_else(|| {
                Some(PathBuf::from(&engine.config.demo.state)).filter(|p| !p.as_os_str().is_empty())
            });
            let reload = files.reload(&engine, folders.as_ref());
            runtime(&engine.config)?.block_on(async move {
                let demo = Demo::start(engine, listen, state, reload, folders).await?;
                out!("xiaoer demo is running.");
                out!("  buyer page:    http://{}/", demo.web);
                out!("  agent console: http://{}/agent", demo.web);
                out!(
                    "  bot state:     {}{}",
                    demo.state.display(),
                    if demo.temporary {
                        " (removed at exit)"
                    } else {
                        ""
                    }
                );
                if demo.agents > 0 {
                    out!(
                        "  agent console login required ({} agents configured)",
                        demo.agents
                    );
                } else if let Some(first) = demo.first_agent.as_deref() {
                    out!("  agent console works as {first}; /login picks another agent");
                }
                out!("Ctrl-C stops.");
                live::stop_signal().await;
                demo.stop().await;
                anyhow::Ok(0)
            })
        }
        Command::Check => {
            let (engine, folders) = files.load()?;
            match &folders {
                Some(f) => {
                    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or(p.into());
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
            match (files.catalog_dir(&engine.config)?, &engine.knowledge) {
                (Some(dir), Some(k)) => out!(
                    "checked: catalog {} ({} items, {} promotions, {} shop FAQ entries)",
                    std::fs::canonicalize(&dir).unwrap_or(dir.clone()).display(),
                    k.len(),
                    k.promotions.len(),
                    k.faq.len()
                ),
                _ => out!("checked: no catalog (no ./catalog folder, no paths.catalog or --catalog): product questions get the intents' replies"),
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

/// A one-thread runtime for a command that reads the store and ends.
fn small_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn runtime(config: &Config) -> Result<tokio::runtime::Runtime> {
    cli::init_logs(config.log.format == "json");
    xiaoer::metrics::install();
    live::install_tls();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// `xiaoer eval`: a labelled file whose labels the engine knows, scored.
fn run_eval(
    engine: &Engine,
    file: &Path,
    json: bool,
    predictions: Option<&Path>,
    errors: bool,
) -> Result<i32> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let gold = GoldSet::parse(&text).map_err(|e| anyhow::anyhow!(e.located(file)))?;
    let ids: Vec<&str> = engine.nlu.intents.iter().map(|i| i.id.as_str()).collect();
    gold.check_intents(&ids)
        .map_err(|e| anyhow::anyhow!(e.located(file)))?;
    let run = xiaoer::eval::run(engine, &gold).map_err(anyhow::Error::msg)?;
    if let Some(p) = predictions {
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        );
        run.write_predictions(&gold, &mut w)
            .and_then(|_| w.flush())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if json {
        out!("{}", serde_json::to_string_pretty(&run.to_json())?);
    } else {
        let _ = run.write_text(file, &gold, errors, &mut std::io::stdout().lock());
    }
    Ok(0)
}
