//! Configuration: one TOML file read through the `config` crate, layered over the
//! defaults built into the binary, with every key overridable from the environment
//! (`XIAOER_SHOP__SHIP_HOURS=24`, `XIAOER_SHOP__ZH__COURIER=圆通`).

use crate::embedded::DEFAULT_CONFIG;
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
pub use xiaoer_nlu::config::{Catalog, NluConfig};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where operators' files live.
    pub paths: Paths,
    /// Classifier thresholds.
    pub nlu: NluConfig,
    /// Conversation policy.
    pub dialogue: DialogueConfig,
    /// Shop facts: shared scalars, and `zh` / `en` tables of wording.
    pub shop: BTreeMap<String, serde_json::Value>,
    /// Item words per language.
    pub catalog: Catalog,
    /// How escalations are prioritised and summarised.
    pub escalation: EscalationConfig,
    /// The gateway connection of `xiaoer run`.
    pub channel: ChannelConfig,
    /// The state store.
    pub store: StoreConfig,
    /// `xiaoer demo`.
    pub demo: DemoConfig,
    /// Typing delays.
    pub timing: TimingConfig,
    /// Logs.
    pub log: LogConfig,
    /// Metrics and health endpoints.
    pub metrics: MetricsConfig,
    /// The agent console's logins.
    pub console: ConsoleConfig,
    /// Messages the bot starts itself (催付, order check, shipped, follow-up).
    pub proactive: crate::proactive::rules::ProactiveConfig,
    /// `[proactive]` checked (not a key of its own).
    #[serde(skip)]
    proactive_rules: Option<crate::proactive::rules::Rules>,
    /// The configuration file read, if any (not a key).
    #[serde(skip)]
    pub file: Option<PathBuf>,
    /// Where the keys in [`TRACKED`] were set (not a key).
    #[serde(skip)]
    origins: BTreeMap<&'static str, Origin>,
    /// `[shop] ships_to`, read once (not a key of its own).
    #[serde(skip)]
    ships_to: Vec<Country>,
}

/// A country international orders ship to (`[shop] ships_to`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Country {
    /// How replies name it ("the United States").
    pub name: String,
    /// Every way of writing it, lower case ("the united states", "usa", "us").
    pub forms: Vec<String>,
}

/// The keys whose origin [`Config::origin`] knows: those whose mere presence
/// changes what the binary does.
pub const TRACKED: [&str; 5] = [
    "paths.intents",
    "paths.replies",
    "paths.catalog",
    "channel.token",
    "channel.token_file",
];

/// Where a configuration key's value was set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Origin {
    /// Nowhere: the built-in default.
    #[default]
    Default,
    /// The configuration file, at this line when it could be found.
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line of the key.
        line: Option<usize>,
    },
    /// This environment variable.
    Env(String),
}

impl Origin {
    /// Set by the operator (file or environment), not left at the default.
    pub fn is_explicit(&self) -> bool {
        *self != Origin::Default
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Default => write!(f, "the built-in default"),
            Origin::File {
                path,
                line: Some(n),
            } => write!(f, "{}:{n}", path.display()),
            Origin::File { path, line: None } => write!(f, "{}", path.display()),
            Origin::Env(var) => write!(f, "the environment variable {var}"),
        }
    }
}

/// The agent console's logins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Login lifetime in minutes.
    pub session_minutes: u64,
    /// Agent id → password hash (the form of earlier releases: each such
    /// agent is named by its id and has the role `agent`).
    #[serde(default)]
    pub agents: BTreeMap<String, String>,
    /// The agents as people (`[[console.team]]`): id, display name, role and
    /// password hash. A list, so an operator's file replaces the shipped demo
    /// team instead of adding to it.
    #[serde(default)]
    pub team: Vec<TeamEntry>,
}

/// One `[[console.team]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamEntry {
    /// The agent id (the rule of [`crate::gateway::auth::valid_agent_id`]).
    pub id: String,
    /// The name buyers and colleagues see ("小美").
    pub name: String,
    /// `agent` or `supervisor` (supervisors may reassign chats).
    #[serde(default = "default_role")]
    pub role: String,
    /// A password hash from `xiaoer hash-password`; without one the agent can
    /// only be picked on a loopback console with no passwords at all.
    #[serde(default)]
    pub password: Option<String>,
}

fn default_role() -> String {
    "agent".into()
}

/// Logs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// Characters of a buyer's message allowed in logs.
    pub message_chars: usize,
}

/// Metrics and health endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address, or "" for off.
    pub listen: String,
}

/// Typing delays before an answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimingConfig {
    /// Off: answer at once.
    pub enabled: bool,
    /// Delay for intents not listed.
    pub default_ms: u64,
    /// Delay by intent id or escalation reason.
    #[serde(default)]
    pub intents: BTreeMap<String, u64>,
}

/// How escalations are prioritised and summarised.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationConfig {
    /// Reasons escalated with priority `high`.
    pub high_priority: Vec<String>,
    /// Summary prefix per reason.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// More waiting escalations than this: the busy line (0: never).
    pub busy_after: u32,
    /// Minutes each waiting chat adds to the expected wait.
    pub minutes_per_waiting: u32,
}

/// The gateway connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// ws:// or wss:// address.
    pub url: String,
    /// Bearer token ("" when it comes from `token_file` or `run --token`).
    pub token: String,
    /// A file holding the bearer token (systemd credentials, docker secrets);
    /// read by [`Config::channel_token`]. Empty or absent: unused.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Shops named in `hello`.
    pub shops: Vec<String>,
    /// This instance's name in `hello` (several instances on one gateway);
    /// empty: `<host>-<pid>`.
    #[serde(default)]
    pub instance: String,
}

/// The state store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The SQLite file.
    pub path: PathBuf,
    /// `normal` or `full`.
    pub synchronous: String,
    /// A PostgreSQL server shared by several instances
    /// (`postgres://user:password@host:port/db`); empty: the SQLite file.
    #[serde(default)]
    pub url: String,
    /// A file holding the PostgreSQL password (compose secrets, systemd
    /// credentials), so it stays out of `url`. Empty or absent: unused.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// `xiaoer demo`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    /// Address of the web app.
    pub listen: String,
    /// State file ("" for a temporary one).
    pub state: String,
    /// Products offered on the buyer page.
    pub items: Vec<String>,
    /// The demo's payment reminder delay (e.g. `20s`, so a newcomer sees 催付
    /// happen), replacing `proactive.payment_reminder_after`; empty: that key.
    #[serde(default)]
    pub payment_reminder_after: String,
}

/// Folders of the operators' files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paths {
    /// `intents/` folder.
    pub intents: PathBuf,
    /// `replies/` folder.
    pub replies: PathBuf,
    /// `catalog/` folder (`../shared/catalog.md`): used when it exists, or
    /// required when set.
    #[serde(default = "default_catalog")]
    pub catalog: PathBuf,
}

fn default_catalog() -> PathBuf {
    PathBuf::from("catalog")
}

/// Conversation policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialogueConfig {
    /// The intent whose repeats climb the bargaining ladder ("" to disable).
    pub bargain_intent: String,
    /// The bargaining ask (1-based) from which the bot escalates.
    pub bargain_escalate_at: u32,
    /// Offer the configured concession once instead of escalating.
    pub bargain_concession: bool,
    /// Messages of the conversation remembered for context.
    pub history: usize,
}

/// Shop facts resolved for one language: template variable → text.
pub type Facts = BTreeMap<String, String>;

impl Config {
    /// The built-in defaults alone (no file, no environment).
    pub fn defaults() -> Config {
        Config::build(None, false).expect("the built-in configuration is valid")
    }

    /// Defaults, then `file` (required when given; else `./xiaoer.toml` if present),
    /// then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config> {
        Config::build(file, true)
    }

    fn build(file: Option<&Path>, env: bool) -> Result<Config> {
        use config::{Environment, File, FileFormat};
        let mut b =
            config::Config::builder().add_source(File::from_str(DEFAULT_CONFIG, FileFormat::Toml));
        let path = match file {
            Some(p) if !p.is_file() => {
                return Err(Error::Config(format!("{}: no such file", p.display())));
            }
            Some(p) => Some(p.to_path_buf()),
            None if env && Path::new("xiaoer.toml").is_file() => Some(PathBuf::from("xiaoer.toml")),
            None => None,
        };
        if let Some(p) = &path {
            // Syntax first, with the line to fix and its cause (the `config`
            // crate would name the line where the parser noticed).
            if let Ok(text) = std::fs::read_to_string(p) {
                if let Err(e) = toml::from_str::<toml::Table>(&text) {
                    let (line, msg) = crate::files::toml_error(&text, &e);
                    return Err(Error::Config(format!(
                        "{}:{line}: {msg} (the configuration must be valid TOML)",
                        p.display()
                    )));
                }
            }
            b = b.add_source(
                File::from(p.as_path())
                    .format(FileFormat::Toml)
                    .required(true),
            );
        }
        if env {
            // Only XIAOER_<SECTION>__<KEY> variables are configuration; others
            // with the prefix (XIAOER_LOG, XIAOER_CONFIG) belong to the binary.
            let vars: config::Map<String, String> = std::env::vars()
                .filter(|(k, _)| {
                    k.strip_prefix("XIAOER_")
                        .is_some_and(|rest| rest.contains("__"))
                })
                .collect();
            b = b.add_source(
                Environment::with_prefix("XIAOER")
                    .prefix_separator("_")
                    .separator("__")
                    .try_parsing(true)
                    .source(Some(vars)),
            );
        }
        let located = |e: Error| match (e, &path) {
            (Error::Config(m), Some(p)) => Error::Config(locate(p, &m)),
            (e, _) => e,
        };
        let c = b
            .build()
            .map_err(|e| located(Error::Config(e.to_string())))?;
        let origins = origins(&c, path.as_deref());
        let mut cfg: Config = c
            .try_deserialize()
            .map_err(|e| located(Error::Config(e.to_string())))?;
        cfg.file = path.clone();
        cfg.origins = origins;
        cfg.ships_to = countries(&cfg.shop).map_err(located)?;
        cfg.proactive_rules = Some(
            crate::proactive::rules::Rules::from_config(&cfg.proactive, &cfg.shop)
                .map_err(|e| located(Error::Config(e)))?,
        );
        let demo = cfg.demo.payment_reminder_after.trim();
        if !demo.is_empty() {
            crate::proactive::rules::parse_duration(demo).map_err(|e| {
                located(Error::Config(format!(
                    "demo.payment_reminder_after = {demo:?} {e}"
                )))
            })?;
        }
        cfg.validate().map_err(located)?;
        Ok(cfg)
    }

    /// Where `key` (one of [`TRACKED`]) was set.
    pub fn origin(&self, key: &str) -> Origin {
        self.origins.get(key).cloned().unwrap_or_default()
    }

    /// `key = "value"` with where it was set, for messages about a key:
    /// `file:line: key = "value"` as other configuration errors, or with
    /// `(from the environment variable ...)` or `(the default)` after it.
    pub fn describe(&self, key: &str, value: &Path) -> String {
        let kv = format!("{key} = {:?}", value.display().to_string());
        match self.origin(key) {
            Origin::Default => format!("{kv} (the default)"),
            o @ Origin::File { .. } => format!("{o}: {kv}"),
            o @ Origin::Env(_) => format!("{kv} (from {o})"),
        }
    }

    /// The `token_file` key, when set to something.
    pub fn token_file(&self) -> Option<&Path> {
        self.channel
            .token_file
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty())
    }

    /// The gateway's bearer token: `channel.token`, or the content of
    /// `channel.token_file` without its trailing newline. Errors name the file,
    /// never the token.
    pub fn channel_token(&self) -> Result<String> {
        let Some(file) = self.token_file() else {
            return Ok(self.channel.token.clone());
        };
        let what = self.describe("channel.token_file", file);
        let text = std::fs::read(file)
            .map_err(|e| Error::Config(format!("{what}: cannot read the token file: {e}")))?;
        let text = String::from_utf8(text)
            .map_err(|_| Error::Config(format!("{what}: the token file is not UTF-8 text")))?;
        let token = text.trim_end_matches(['\n', '\r']);
        if token.is_empty() {
            return Err(Error::Config(format!("{what}: the token file is empty")));
        }
        if token.contains(['\n', '\r']) {
            return Err(Error::Config(format!(
                "{what}: the token file has more than one line: it must hold the token alone"
            )));
        }
        Ok(token.to_string())
    }

    fn validate(&self) -> Result<()> {
        if !self.channel.token.is_empty() && self.token_file().is_some() {
            return Err(Error::Config(format!(
                "channel.token (set in {}) and channel.token_file (set in {}) are both set: keep one, preferably the file",
                self.origin("channel.token"),
                self.origin("channel.token_file")
            )));
        }
        let n = &self.nlu;
        if !(0.0..=1.0).contains(&n.threshold) {
            return Err(Error::Config(format!(
                "nlu.threshold = {} must be between 0 and 1",
                n.threshold
            )));
        }
        if !(0.0..=1.0).contains(&n.margin) {
            return Err(Error::Config(format!(
                "nlu.margin = {} must be between 0 and 1",
                n.margin
            )));
        }
        if n.neighbours == 0 || n.neighbours > 100 {
            return Err(Error::Config(format!(
                "nlu.neighbours = {} must be 1 to 100",
                n.neighbours
            )));
        }
        {
            use crate::gateway::auth;
            let minutes = self.console.session_minutes;
            if minutes > auth::MAX_SESSION_MINUTES {
                return Err(Error::Config(format!(
                    "console.session_minutes = {minutes} must be 0 to {} (30 days)",
                    auth::MAX_SESSION_MINUTES
                )));
            }
            for (id, hash) in &self.console.agents {
                // The same rule takeovers apply: an id accepted here works there.
                if !auth::valid_agent_id(id) {
                    return Err(Error::Config(format!(
                        "console.agents.{} = …: the agent id {:?} must be {}",
                        crate::logsafe::esc(id),
                        crate::logsafe::esc(id).to_string(),
                        auth::AGENT_ID_RULE
                    )));
                }
                if !auth::is_hash(hash) {
                    return Err(Error::Config(format!(
                        "console.agents.{id} = …: not a password hash: make one with `xiaoer hash-password` and paste it"
                    )));
                }
            }
            self.check_team()?;
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(Error::Config(format!(
                "log.format = {:?} must be \"text\" or \"json\"",
                self.log.format
            )));
        }
        let url = self.store.url.trim();
        if !url.is_empty() && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(Error::Config(format!(
                "store.url = {:?} must start with postgres:// or postgresql:// (or be empty for the SQLite file)",
                crate::store::postgres::redact(url)
            )));
        }
        if !matches!(self.store.synchronous.as_str(), "normal" | "full") {
            return Err(Error::Config(format!(
                "store.synchronous = {:?} must be \"normal\" or \"full\"",
                self.store.synchronous
            )));
        }
        for lang in ["zh", "en"] {
            if !matches!(self.shop.get(lang), Some(serde_json::Value::Object(_))) {
                return Err(Error::Config(format!(
                    "[shop.{lang}] is missing: it holds the shop's wording in that language"
                )));
            }
        }
        Ok(())
    }

    /// `[[console.team]]`: each entry's id, name, role and password, ids
    /// unique across the team and `[console.agents]`. Errors name the entry's
    /// line in the configuration file.
    fn check_team(&self) -> Result<()> {
        use crate::gateway::auth;
        let text = self
            .file
            .as_deref()
            .and_then(|p| std::fs::read_to_string(p).ok());
        let mut seen: std::collections::BTreeSet<&str> =
            self.console.agents.keys().map(String::as_str).collect();
        for (n, e) in self.console.team.iter().enumerate() {
            let at = match (&self.file, text.as_deref().and_then(|t| team_line(t, n))) {
                (Some(p), Some(line)) => format!("{}:{line}: ", p.display()),
                _ => String::new(),
            };
            let id = crate::logsafe::esc(&e.id).to_string();
            let what = format!("{at}[[console.team]] #{} (id = {id:?})", n + 1);
            let why = if !auth::valid_agent_id(&e.id) {
                Some(format!("the id must be {}", auth::AGENT_ID_RULE))
            } else if !seen.insert(e.id.as_str()) {
                Some("this id is listed twice: every agent needs their own".into())
            } else if e.name.trim().is_empty()
                || e.name.chars().count() > auth::MAX_NAME_CHARS
                || e.name.chars().any(char::is_control)
            {
                Some(format!(
                    "name = {:?} must be 1 to {} characters (what buyers see, e.g. \"小美\")",
                    crate::logsafe::esc(&e.name).to_string(),
                    auth::MAX_NAME_CHARS
                ))
            } else if auth::Role::parse(&e.role).is_none() {
                Some(format!(
                    "role = {:?} must be \"agent\" or \"supervisor\"",
                    crate::logsafe::esc(&e.role).to_string()
                ))
            } else if e
                .password
                .as_deref()
                .is_some_and(|h| !h.is_empty() && !auth::is_hash(h))
            {
                Some("password = …: not a password hash: make one with `xiaoer hash-password` and paste it (never the password itself)".into())
            } else {
                None
            };
            if let Some(why) = why {
                return Err(Error::Config(format!("{what}: {why}")));
            }
        }
        Ok(())
    }

    /// The console's agents as people: `[[console.team]]`, then the agents of
    /// `[console.agents]` (named by their id, role `agent`).
    pub fn team(&self) -> Vec<crate::gateway::auth::Member> {
        use crate::gateway::auth::{Member, Role};
        let mut out: Vec<Member> = self
            .console
            .team
            .iter()
            .map(|e| Member {
                id: e.id.clone(),
                name: e.name.trim().to_string(),
                role: Role::parse(&e.role).unwrap_or(Role::Agent),
                hash: e.password.clone().filter(|h| !h.is_empty()),
            })
            .collect();
        for (id, hash) in &self.console.agents {
            if !out.iter().any(|m| &m.id == id) {
                out.push(Member {
                    id: id.clone(),
                    name: id.clone(),
                    role: Role::Agent,
                    hash: Some(hash.clone()),
                });
            }
        }
        out
    }

    /// The countries international orders ship to (`[shop] ships_to`); empty
    /// when the shop lists none (then every "do you ship to X?" goes to a person).
    pub fn ships_to(&self) -> &[Country] {
        &self.ships_to
    }

    /// The checked `[proactive]` rules.
    pub fn proactive(&self) -> &crate::proactive::rules::Rules {
        self.proactive_rules
            .as_ref()
            .expect("checked when the configuration was built")
    }

    /// Replaces the proactive rules (the demo shortens the reminder delay).
    pub fn set_proactive(&mut self, rules: crate::proactive::rules::Rules) {
        self.proactive_rules = Some(rules);
    }

    /// Priority of an escalation for `reason`: `high` or `normal`.
    pub fn priority(&self, reason: &str) -> &'static str {
        if self.escalation.high_priority.iter().any(|r| r == reason) {
            "high"
        } else {
            "normal"
        }
    }

    /// The typing delay before answering a message read as `intents`
    /// (escalated for `reason`, if so): the reason's delay, else the first
    /// listed intent's, else the default.
    pub fn typing_delay(&self, intents: &[String], reason: Option<&str>) -> std::time::Duration {
        let t = &self.timing;
        if !t.enabled {
            return std::time::Duration::ZERO;
        }
        let ms = reason
            .and_then(|r| t.intents.get(r))
            .or_else(|| intents.iter().find_map(|i| t.intents.get(i)))
            .copied()
            .unwrap_or(t.default_ms);
        std::time::Duration::from_millis(ms.min(60_000))
    }

    /// The template variables for one language (`"zh"` or `"en"`): shared scalars
    /// of `[shop]`, overridden by `[shop.<lang>]`.
    pub fn facts(&self, lang: &str) -> Facts {
        let mut out = Facts::new();
        for (k, v) in &self.shop {
            if let Some(s) = scalar(v) {
                out.insert(k.clone(), s);
            }
        }
        if let Some(serde_json::Value::Object(m)) = self.shop.get(lang) {
            for (k, v) in m {
                if let Some(s) = scalar(v) {
                    out.insert(k.clone(), s);
                }
            }
        }
        out
    }
}

/// Where each of [`TRACKED`] was set in the layered configuration `c`, whose
/// file (if any) is `file`.
fn origins(c: &config::Config, file: Option<&Path>) -> BTreeMap<&'static str, Origin> {
    let mut out = BTreeMap::new();
    let text = file.and_then(|p| std::fs::read_to_string(p).ok());
    for key in TRACKED {
        let (section, name) = key.split_once('.').expect("a dotted key");
        let origin = c
            .get_table(section)
            .ok()
            .and_then(|t| t.get(name).and_then(|v| v.origin().map(str::to_string)));
        let o = match (origin.as_deref(), file) {
            (None, _) => Origin::Default,
            (Some("the environment"), _) => {
                let want = format!("{section}__{name}");
                let var = std::env::vars_os()
                    .filter_map(|(k, _)| k.into_string().ok())
                    .find(|k| {
                        k.strip_prefix("XIAOER_")
                            .is_some_and(|rest| rest.eq_ignore_ascii_case(&want))
                    })
                    .unwrap_or_else(|| format!("XIAOER_{}", want.to_uppercase()));
                Origin::Env(var)
            }
            (Some(_), Some(path)) => Origin::File {
                path: path.to_path_buf(),
                line: text.as_deref().and_then(|t| line_of_key(t, key)),
            },
            (Some(_), None) => Origin::Default,
        };
        out.insert(key, o);
    }
    out
}

/// Puts `file:line:` before a configuration error that names a key found in
/// the file, so the operator goes straight to it.
fn locate(path: &Path, message: &str) -> String {
    let key = key_in(message);
    let line = key.and_then(|k| {
        let text = std::fs::read_to_string(path).ok()?;
        line_of_key(&text, &k)
    });
    match line {
        Some(n) => format!("{}:{n}: {message}", path.display()),
        None => message.to_string(),
    }
}

/// The dotted key an error message is about.
fn key_in(m: &str) -> Option<String> {
    let between = |s: &str, open: &str| -> Option<String> {
        let i = s.find(open)? + open.len();
        let j = s[i..].find('`')?;
        Some(s[i..i + j].to_string())
    };
    if let Some(field) = between(m, "unknown field `") {
        return Some(match between(m, "for key `") {
            Some(section) => format!("{section}.{field}"),
            None => field,
        });
    }
    if let Some(k) = between(m, "for key `") {
        return Some(k);
    }
    // Our own checks start with `section.key = value`.
    let first = m.split_whitespace().next()?;
    (first.contains('.') && m[first.len()..].trim_start().starts_with('='))
        .then(|| first.to_string())
}

/// The 1-based line of `section.key` (or a top-level `key`) in TOML text.
fn line_of_key(text: &str, dotted: &str) -> Option<usize> {
    let (section, key) = match dotted.rsplit_once('.') {
        Some((s, k)) => (s, k),
        None => ("", dotted),
    };
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            current = h.trim().to_string();
            continue;
        }
        if current == section {
            if let Some((k, _)) = t.split_once('=') {
                if k.trim().trim_matches('"') == key {
                    return Some(i + 1);
                }
            }
        }
    }
    None
}

/// The 1-based line of the `n`-th (0-based) `[[console.team]]` header.
fn team_line(text: &str, n: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let t: String = l.chars().filter(|c| !c.is_whitespace()).collect();
            t.starts_with("[[console.team]]")
        })
        .nth(n)
        .map(|(i, _)| i + 1)
}

/// `[shop] ships_to`: a list of `"Name|other|ways"` strings.
fn countries(shop: &BTreeMap<String, serde_json::Value>) -> Result<Vec<Country>> {
    let bad = |why: &str| {
        Error::Config(format!(
            "shop.ships_to = [...] {why}: write a list of country names, each \"Name\" or \"Name|other|ways\""
        ))
    };
    let list = match shop.get("ships_to") {
        None => return Ok(Vec::new()),
        Some(serde_json::Value::Array(list)) => list,
        Some(_) => return Err(bad("is not a list")),
    };
    let mut out = Vec::new();
    for v in list {
        let serde_json::Value::String(s) = v else {
            return Err(bad("holds something other than text"));
        };
        let mut forms: Vec<String> = s
            .split('|')
            .map(|f| f.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if forms.iter().any(|f| f.is_empty()) {
            return Err(bad(&format!("has an empty name in {s:?}")));
        }
        let name = forms[0].clone();
        for f in &mut forms {
            *f = f.to_lowercase();
        }
        forms.sort();
        forms.dedup();
        out.push(Country { name, forms });
    }
    Ok(out)
}

fn scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_describe_a_shop_in_both_languages() {
        let c = Config::defaults();
        let zh = c.facts("zh");
        let en = c.facts("en");
        assert_eq!(zh["ship_hours"], en["ship_hours"]);
        assert_ne!(zh["courier"], en["courier"]);
        assert!(zh.contains_key("item") && en.contains_key("item"));
    }

    #[test]
    fn errors_point_at_the_line_of_their_key() {
        let text = "[paths]\nintents = \"i\"\n\n[nlu]\nthreshold = 1.5\nthreshhold = 2\n";
        let rows: &[(&str, Option<usize>)] = &[
            ("invalid type: string \"high\", expected a floating point for key `nlu.threshold` in x.toml", Some(5)),
            ("nlu.threshold = 1.5 must be between 0 and 1", Some(5)),
            ("unknown field `threshhold`, expected one of `threshold` for key `nlu`", Some(6)),
            ("unknown field `nope`, expected one of `threshold` for key `nlu`", None),
            ("[shop.zh] is missing", None),
        ];
        for (m, want) in rows {
            let got = key_in(m).and_then(|k| line_of_key(text, &k));
            assert_eq!(got, *want, "{m}");
        }
    }

    #[test]
    fn typing_delays_by_reason_then_intent_then_default() {
        let mut c = Config::defaults();
        c.timing.intents = [
            ("bargain".to_string(), 1500),
            ("complaint".to_string(), 800),
        ]
        .into_iter()
        .collect();
        c.timing.default_ms = 100;
        let ms = |intents: &[&str], reason: Option<&str>, c: &Config| {
            let v: Vec<String> = intents.iter().map(|s| s.to_string()).collect();
            c.typing_delay(&v, reason).as_millis()
        };
        assert_eq!(ms(&["bargain"], None, &c), 1500);
        assert_eq!(ms(&["greeting", "bargain"], None, &c), 1500);
        assert_eq!(ms(&["defect"], Some("complaint"), &c), 800);
        assert_eq!(ms(&["stock"], None, &c), 100);
        c.timing.enabled = false;
        assert_eq!(ms(&["bargain"], None, &c), 0);
    }

    #[test]
    fn a_team_of_ones_own_replaces_the_demo_team() {
        let dir = std::env::temp_dir().join(format!("xiaoer-team-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let f = dir.join("x.toml");
        let ids = |text: &str| {
            std::fs::write(&f, text).unwrap();
            let c = Config::build(Some(&f), false).unwrap();
            c.team().into_iter().map(|m| m.id).collect::<Vec<_>>()
        };
        assert_eq!(
            Config::defaults().team().len(),
            2,
            "the demo ships two agents"
        );
        let rows: &[(&str, &[&str])] = &[
            ("[[console.team]]\nid = \"a-9\"\nname = \"小九\"\n", &["a-9"]),
            ("[console]\nteam = []\n", &[]),
            ("[console]\nteam = []\n[console.agents]\nold = \"$pbkdf2-sha256$i=1$AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\n", &["old"]),
        ];
        for (text, want) in rows {
            assert_eq!(ids(text), *want, "{text}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
