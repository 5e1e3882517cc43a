//! Reading the operators' files: `intents/*.toml`, `intents/_aliases.toml`,
//! `replies/*.toml` and `replies/_system.toml`. This stage only parses and checks
//! form, keeping each value's line so later stages can point at it; building the
//! matchers is [`crate`]'s job, rendering is the bot's `reply` module's.

use crate::error::{line_of, Error, Problems, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

/// A value with the line it was written on.
#[derive(Debug, Clone, PartialEq)]
pub struct At<T> {
    /// The value.
    pub value: T,
    /// 1-based line in [`At`]'s file.
    pub line: usize,
}

/// What the bot does by default with an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Answer with a scripted reply.
    Reply,
    /// Hand the chat to a human agent after a holding line.
    Escalate,
}

impl Action {
    /// The action's name as written in files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Reply => "reply",
            Action::Escalate => "escalate",
        }
    }
}

/// One intent file, parsed.
#[derive(Debug, Clone)]
pub struct IntentFile {
    /// The file's name, e.g. `intents/stock.toml`.
    pub file: String,
    /// The intent id.
    pub id: String,
    /// Default action.
    pub action: Action,
    /// One line for people.
    pub description: String,
    /// Gives way to any other intent in the same message (greetings, thanks).
    pub yields: bool,
    /// Intents this one absorbs when both are in a message (defect absorbs
    /// return_exchange: a flaw plus "can I return it" is a defect).
    pub absorbs: Vec<At<String>>,
    /// Read as another intent right after a turn of the named intent:
    /// previous intent → the intent to read ("多少钱" after a courier question
    /// asks about postage). Applies to short and follow-up messages.
    pub follows: Vec<(At<String>, String)>,
    /// Strong phrases.
    pub keywords: Vec<At<String>>,
    /// Weak phrases.
    pub hints: Vec<At<String>>,
    /// Phrases that veto the intent in their clause.
    pub negative: Vec<At<String>>,
    /// Regular expressions.
    pub patterns: Vec<At<String>>,
    /// Example utterances.
    pub examples: Vec<At<String>>,
}

/// A set of reply variants per language.
#[derive(Debug, Clone, Default)]
pub struct Variants {
    /// Chinese variants.
    pub zh: Vec<At<String>>,
    /// English variants.
    pub en: Vec<At<String>>,
}

/// One reply file, parsed.
#[derive(Debug, Clone)]
pub struct ReplyFile {
    /// The file's name.
    pub file: String,
    /// The intent the replies answer.
    pub intent: At<String>,
    /// The replies.
    pub main: Variants,
    /// Named later stages (`later`, `concession` for bargaining).
    pub stages: BTreeMap<String, Variants>,
}

/// `replies/_system.toml`: lines that belong to no intent.
#[derive(Debug, Clone, Default)]
pub struct SystemFile {
    /// The file's name.
    pub file: String,
    /// Table name → variants (`fallback`, `unclassified`, `busy`, ...).
    pub tables: BTreeMap<String, Variants>,
}

/// Everything operators wrote, parsed but not yet compiled.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Intent files, in file-name order.
    pub intents: Vec<IntentFile>,
    /// Alias → replacement, with file and line.
    pub aliases: Vec<(At<String>, String)>,
    /// Name of the aliases file, when there is one.
    pub aliases_file: String,
    /// Reply files.
    pub replies: Vec<ReplyFile>,
    /// The system lines.
    pub system: SystemFile,
}

/// The taxonomy's id for "nothing fits". An intent file may use it to teach the
/// engine what off-topic messages look like; it has no replies of its own (the
/// `unclassified` holding line answers it).
pub const NONE: &str = "none";

/// The table names `_system.toml` may hold.
pub const SYSTEM_TABLES: &[&str] = &[
    "greeting_prefix",
    "unclassified",
    "low_confidence",
    "repeated_bargain",
    "repeated_question",
    "busy",
    "fallback",
    "follow_up_closing",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntent {
    id: Spanned<String>,
    action: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    yields: bool,
    #[serde(default)]
    absorbs: Vec<Spanned<String>>,
    #[serde(default)]
    follows: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    keywords: Vec<Spanned<String>>,
    #[serde(default)]
    hints: Vec<Spanned<String>>,
    #[serde(default)]
    negative: Vec<Spanned<String>>,
    #[serde(default)]
    patterns: Vec<Spanned<String>>,
    #[serde(default)]
    examples: Vec<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawVariants {
    #[serde(default)]
    zh: Vec<Spanned<String>>,
    #[serde(default)]
    en: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReply {
    intent: Spanned<String>,
    #[serde(default)]
    zh: Vec<Spanned<String>>,
    #[serde(default)]
    en: Vec<Spanned<String>>,
    later: Option<RawVariants>,
    concession: Option<RawVariants>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAliases {
    #[serde(default)]
    aliases: BTreeMap<String, Spanned<String>>,
}

fn at(text: &str, s: Spanned<String>) -> At<String> {
    let line = line_of(text, s.span().start);
    At {
        value: s.into_inner(),
        line,
    }
}

fn ats(text: &str, v: Vec<Spanned<String>>) -> Vec<At<String>> {
    v.into_iter().map(|s| at(text, s)).collect()
}

fn variants(text: &str, raw: RawVariants) -> Variants {
    Variants {
        zh: ats(text, raw.zh),
        en: ats(text, raw.en),
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
    problems: &mut Problems,
) -> Option<T> {
    match toml::from_str::<T>(text) {
        Ok(v) => Some(v),
        Err(e) => {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
            let msg = e.message().trim().replace('\n', " ");
            problems.push(
                file,
                line,
                format!("{msg} (this file must be valid TOML in the documented form)"),
            );
            None
        }
    }
}

impl Sources {
    /// Parses named file texts: `intents` and `replies` are `(name, text)` pairs.
    /// Every problem is collected; an error lists them all.
    pub fn parse(intents: &[(String, String)], replies: &[(String, String)]) -> Result<Sources> {
        let mut problems = Problems::default();
        let mut out = Sources::default();
        for (file, text) in intents {
            if file.ends_with("_aliases.toml") {
                out.aliases_file = file.clone();
                if let Some(raw) = parse::<RawAliases>(file, text, &mut problems) {
                    for (k, v) in raw.aliases {
                        let line = line_of(text, v.span().start);
                        out.aliases.push((At { value: k, line }, v.into_inner()));
                    }
                }
                continue;
            }
            let Some(raw) = parse::<RawIntent>(file, text, &mut problems) else {
                continue;
            };
            let action_line = line_of(text, raw.action.span().start);
            let action = match raw.action.get_ref().as_str() {
                "reply" => Action::Reply,
                "escalate" => Action::Escalate,
                other => {
                    problems.push(
                        file,
                        action_line,
                        format!("action is {other:?}: write \"reply\" or \"escalate\""),
                    );
                    Action::Reply
                }
            };
            let id_line = line_of(text, raw.id.span().start);
            let id = raw.id.into_inner();
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
            {
                problems.push(
                    file,
                    id_line,
                    format!("id {id:?} must be lower-case letters, digits and _"),
                );
            }
            if id == NONE && action != Action::Escalate {
                problems.push(file, action_line, "the `none` file holds off-topic examples, and off-topic messages go to a person: write action = \"escalate\"");
            }
            out.intents.push(IntentFile {
                file: file.clone(),
                id,
                action,
                description: raw.description,
                yields: raw.yields,
                absorbs: ats(text, raw.absorbs),
                follows: raw
                    .follows
                    .into_iter()
                    .map(|(prev, to)| {
                        (
                            At {
                                value: prev,
                                line: line_of(text, to.span().start),
                            },
                            to.into_inner(),
                        )
                    })
                    .collect(),
                keywords: ats(text, raw.keywords),
                hints: ats(text, raw.hints),
                negative: ats(text, raw.negative),
                patterns: ats(text, raw.patterns),
                examples: ats(text, raw.examples),
            });
        }
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for i in &out.intents {
            if let Some(prev) = seen.insert(&i.id, &i.file) {
                problems.push(
                    &i.file,
                    0,
                    format!("intent id {:?} is also defined in {prev}: keep one", i.id),
                );
            }
        }
        let ids: Vec<&str> = out.intents.iter().map(|i| i.id.as_str()).collect();
        for i in &out.intents {
            for a in &i.absorbs {
                if !ids.contains(&a.value.as_str()) {
                    problems.push(
                        &i.file,
                        a.line,
                        format!("absorbs {:?}, which is not an intent id", a.value),
                    );
                }
            }
            for (prev, to) in &i.follows {
                for id in [&prev.value, to] {
                    if !ids.contains(&id.as_str()) {
                        problems.push(
                            &i.file,
                            prev.line,
                            format!("follows names {id:?}, which is not an intent id"),
                        );
                    }
                }
            }
        }
        for (file, text) in replies {
            if file.ends_with("_system.toml") {
                out.system.file = file.clone();
                if let Some(tables) =
                    parse::<BTreeMap<String, RawVariants>>(file, text, &mut problems)
                {
                    for (name, raw) in tables {
                        if !SYSTEM_TABLES.contains(&name.as_str()) {
                            problems.push(
                                file,
                                0,
                                format!(
                                    "unknown table [{name}]: the tables are {}",
                                    SYSTEM_TABLES.join(", ")
                                ),
                            );
                        }
                        out.system.tables.insert(name, variants(text, raw));
                    }
                }
                continue;
            }
            let Some(raw) = parse::<RawReply>(file, text, &mut problems) else {
                continue;
            };
            let mut stages = BTreeMap::new();
            if let Some(l) = raw.later {
                stages.insert("later".to_string(), variants(text, l));
            }
            if let Some(c) = raw.concession {
                stages.insert("concession".to_string(), variants(text, c));
            }
            out.replies.push(ReplyFile {
                file: file.clone(),
                intent: at(text, raw.intent),
                main: Variants {
                    zh: ats(text, raw.zh),
                    en: ats(text, raw.en),
                },
                stages,
            });
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(Error::Files { problems })
        }
    }

    /// Reads `intents_dir/*.toml` and `replies_dir/*.toml`.
    pub fn from_dirs(intents_dir: &Path, replies_dir: &Path) -> Result<Sources> {
        Sources::parse(&read_dir(intents_dir)?, &read_dir(replies_dir)?)
    }
}

/// Largest intent or reply file read (the biggest shipped one is ~15 KB): a
/// bigger file is reported, never read into memory.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The `*.toml` files of `dir` as `(path, text)` pairs, sorted by name.
pub fn read_dir(dir: &Path) -> Result<Vec<(String, String)>> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    let mut problems = Problems::default();
    for p in paths {
        let name = p.display().to_string();
        let bytes = match read_file(&p) {
            Ok(b) => b,
            Err(Unreadable::Io(source)) => return Err(Error::Io { path: p, source }),
            Err(Unreadable::NotAFile) => {
                problems.push(&name, 0, "not a regular file (a FIFO, socket or device?): only regular files are read; remove it or rename it so it does not end in .toml");
                continue;
            }
            Err(Unreadable::TooBig(len)) => {
                problems.push(&name, 0, format!("{len} bytes or more, over the {MAX_FILE_BYTES} an intent or reply file may have (files::MAX_FILE_BYTES): split it"));
                continue;
            }
        };
        match String::from_utf8(bytes) {
            Ok(text) => out.push((name, text)),
            Err(e) => {
                let off = e.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(e.as_bytes());
                problems.push(
                    &name,
                    line_of(&text, off),
                    "the file is not valid UTF-8: save it as UTF-8",
                );
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::Files { problems });
    }
    Ok(out)
}

/// Why a file was not read.
enum Unreadable {
    Io(std::io::Error),
    /// A FIFO, socket or device: reading could block forever or never end.
    NotAFile,
    /// At least this many bytes, over [`MAX_FILE_BYTES`].
    TooBig(u64),
}

/// Reads a regular file (symlinks followed) of at most [`MAX_FILE_BYTES`],
/// never blocking: it is opened non-blocking (a FIFO's open would wait for a
/// writer) and its type checked on the open file, so a swap between the check
/// and the read cannot slip a FIFO in.
fn read_file(p: &Path) -> std::result::Result<Vec<u8>, Unreadable> {
    use std::io::Read;
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let f = opts.open(p).map_err(Unreadable::Io)?;
    let meta = f.metadata().map_err(Unreadable::Io)?;
    if !meta.is_file() {
        return Err(Unreadable::NotAFile);
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(Unreadable::TooBig(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow while read: the cap holds whatever its size said.
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(Unreadable::Io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Unreadable::TooBig(bytes.len() as u64));
    }
    Ok(bytes)
}
