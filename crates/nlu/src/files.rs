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
    /// `replies/_proactive.toml` as `(file name, text)`: the lines of messages
    /// the bot starts itself, compiled by the main crate (not the NLU's).
    pub proactive: Option<(String, String)>,
    /// Agents' quick replies (`replies/_agent.toml`), in key order.
    pub quick: Vec<QuickReply>,
}

/// One quick reply of `replies/_agent.toml`: a table `[key]` with a `title`
/// and the `text` an agent sends (shop variables allowed, like replies).
#[derive(Debug, Clone)]
pub struct QuickReply {
    /// The file's name.
    pub file: String,
    /// The table name, what `/key` finds in the console's composer.
    pub key: String,
    /// A few words for the list.
    pub title: At<String>,
    /// The text.
    pub text: At<String>,
}

/// Longest quick-reply key.
pub const MAX_QUICK_KEY: usize = 32;
/// Longest quick-reply title, in characters.
pub const MAX_QUICK_TITLE: usize = 40;

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
    "ships_to",
    "unlisted_destination",
    "unknown_fact",
    "ask_item",
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
struct RawQuick {
    title: Spanned<String>,
    text: Spanned<String>,
}

/// `replies/_agent.toml`: every table a quick reply, checked.
fn quick_replies(file: &str, text: &str, problems: &mut Problems) -> Vec<QuickReply> {
    let Some(tables) = parse::<BTreeMap<String, RawQuick>>(file, text, problems) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, raw) in tables {
        let (title, body) = (at(text, raw.title), at(text, raw.text));
        let key_ok = !key.is_empty()
            && key.len() <= MAX_QUICK_KEY
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !key_ok {
            problems.push(
                file,
                title.line,
                format!("[{key}]: a quick reply's name is 1-{MAX_QUICK_KEY} ASCII letters, digits, - or _ (agents type /name to find it)"),
            );
        }
        let t = title.value.trim();
        if t.is_empty() || t.chars().count() > MAX_QUICK_TITLE {
            problems.push(
                file,
                title.line,
                format!(
                    "[{key}] title: 1 to {MAX_QUICK_TITLE} characters, a few words for the list"
                ),
            );
        }
        let n = body.value.trim().chars().count();
        if n == 0 || n > crate::MAX_INPUT_CHARS {
            problems.push(
                file,
                body.line,
                format!(
                    "[{key}] text: 1 to {} characters, what the agent sends",
                    crate::MAX_INPUT_CHARS
                ),
            );
        }
        out.push(QuickReply {
            file: file.to_string(),
            key,
            title,
            text: body,
        });
    }
    out
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
            let (line, msg) = toml_error(text, &e);
            problems.push(
                file,
                line,
                format!("{msg} (this file must be valid TOML in the documented form)"),
            );
            None
        }
    }
}

/// Where a TOML error in `text` must be fixed, and why: (1-based line, 0 when
/// unknown; message). The parser notices a missing `]`, a missing comma or an
/// unclosed string in an array only at the next value, usually on the next
/// line, and names what it met there ("missing comma between array elements"
/// at `hints = [`, when line above lacks its `]`). Such an error is moved
/// back to the last line with content before it, with the cause that line
/// shows. Other errors (and every error of a key or value) stay as the parser
/// reports them.
pub fn toml_error(text: &str, e: &toml::de::Error) -> (usize, String) {
    let msg = e.message().trim().replace('\n', " ");
    let Some(span) = e.span() else {
        return (0, msg);
    };
    let at = floor_char_boundary(text, span.start);
    let line = line_of(text, at);
    if !msg.contains("array") {
        return (line, msg);
    }
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let here = text[line_start..].lines().next().unwrap_or("").trim_start();
    let prefix = text[line_start..at].trim();
    let first_on_line = prefix.is_empty();
    // Does a new entry start where the parser stopped? At the start of a
    // line, the line says; inside one, only a bare key before the error
    // (`"bao you" = …` stopped at `=`) or a key at it does: a value next to
    // another on one line (`["有货" "现货"]`) is this line's own mistake.
    let new_entry = if first_on_line {
        starts_with_key(here) || here.starts_with('[') && !first_value(here)
    } else {
        let at_text = text[at..].lines().next().unwrap_or("").trim_start();
        starts_with_key(at_text)
            || !prefix.contains(['=', '[', ',']) && starts_with_key(&format!("{prefix} ="))
    };
    if !first_on_line && !new_entry {
        return (line, msg);
    }
    // The last line with content before this one.
    let lines: Vec<&str> = text[..line_start].lines().collect();
    let Some((k, prev)) = lines.iter().enumerate().rev().find(|(_, l)| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    }) else {
        return (line, msg);
    };
    let prev_line = k + 1;
    let cause = if let Some(quote) = open_string(prev) {
        format!("a string is not closed: add the closing {quote} on this line")
    } else if new_entry {
        format!("the array is not closed: add `]` at the end of this line (line {line} starts a new entry)")
    } else {
        "a comma is missing at the end of this line: array elements are separated by `,`"
            .to_string()
    };
    (prev_line, cause)
}

/// `at`, or the start of the character it falls in.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// A line that begins a `key = value` entry (bare or quoted key, dotted).
fn starts_with_key(line: &str) -> bool {
    if let Some(q) = line.chars().next().filter(|c| matches!(c, '"' | '\'')) {
        return line[1..]
            .find(q)
            .is_some_and(|end| line[1 + end + 1..].trim_start().starts_with('='));
    }
    let key_len = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '\t')))
        .unwrap_or(line.len());
    key_len > 0 && line[..key_len].trim().len() > 0 && line[key_len..].starts_with('=')
}

/// A `[` that opens a value (an array of arrays), not a table header.
fn first_value(line: &str) -> bool {
    let rest = line[1..].trim_start();
    rest.starts_with(['"', '\'', '[', ']']) || rest.starts_with(|c: char| c.is_ascii_digit())
}

/// The quote of a string left open at the end of `line`, if any (comments
/// and closed strings skipped; multi-line strings are not judged).
fn open_string(line: &str) -> Option<&'static str> {
    if line.contains("\"\"\"") || line.contains("'''") {
        return None;
    }
    let mut open: Option<char> = None;
    let mut escaped = false;
    for c in line.chars() {
        match open {
            None if c == '#' => break,
            None if c == '"' || c == '\'' => open = Some(c),
            None => {}
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => open = None,
            Some(_) => {}
        }
    }
    open.map(|q| if q == '"' { "`\"`" } else { "`'`" })
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
            if file.ends_with("_proactive.toml") {
                out.proactive = Some((file.clone(), text.clone()));
                continue;
            }
            if file.ends_with("_agent.toml") {
                out.quick.extend(quick_replies(file, text, &mut problems));
                continue;
            }
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
    for (p, read) in read_all(paths) {
        let name = p.display().to_string();
        let bytes = match read {
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

/// Files read in parallel from this many on (a catalog of thousands of item
/// files); fewer are read one after the other.
const PARALLEL_READ_FROM: usize = 64;

/// [`read_file`] of every path, in order: on every core (at most 8) when
/// there are many, so a 10,000-file catalog does not wait on one file at a
/// time.
fn read_all(
    paths: Vec<std::path::PathBuf>,
) -> Vec<(std::path::PathBuf, std::result::Result<Vec<u8>, Unreadable>)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    if paths.len() < PARALLEL_READ_FROM || threads == 1 {
        return paths
            .into_iter()
            .map(|p| {
                let r = read_file(&p);
                (p, r)
            })
            .collect();
    }
    let chunk = paths.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|p| read_file(p)).collect::<Vec<_>>()))
            .collect();
        let mut reads = Vec::with_capacity(paths.len());
        for (h, part) in handles.into_iter().zip(paths.chunks(chunk)) {
            match h.join() {
                Ok(r) => reads.extend(r),
                // A reader thread cannot panic short of a bug; read its part here.
                Err(_) => reads.extend(part.iter().map(|p| read_file(p))),
            }
        }
        paths.iter().cloned().zip(reads).collect()
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A TOML mistake is reported at the line to fix, with its cause (before,
    /// the first three were reported one line late as "missing comma").
    #[test]
    fn toml_errors_point_at_the_line_to_fix() {
        let head = "id = \"stock\"\naction = \"reply\"\n";
        let rows: &[(&str, usize, &str)] = &[
            // A `]` missing at the end of line 3.
            (
                "keywords = [\"有货\", \"现货\"\nhints = [\"还有\"]\n",
                3,
                "the array is not closed",
            ),
            // A multi-line array whose `]` is missing (line 4 is its last).
            (
                "keywords = [\n  \"有货\", \"现货\",\n\n# a comment\nhints = [\"还有\"]\n",
                4,
                "the array is not closed",
            ),
            // The comma at the end of line 4 is missing.
            (
                "keywords = [\n  \"有货\", \"现货\"\n  \"缺货\",\n]\n",
                4,
                "a comma is missing",
            ),
            // An unclosed string at the end of an array's line.
            (
                "keywords = [\"有货\", \"现货]\nhints = [\"还有\"]\n",
                3,
                "a string is not closed",
            ),
            // Errors the parser places right stay where they are.
            ("keywords = [\"有货\" \"现货\"]\n", 3, "missing comma"),
            ("keywords = [\"有货\",, \"现货\"]\n", 3, "extra comma"),
            ("hints == [\"还有\"]\n", 3, "="),
            ("action = reply\n", 3, "quoted"),
            (
                "keywords = [\"x\"]\nkeywords = [\"y\"]\n",
                4,
                "duplicate key",
            ),
            // Quoted keys (the aliases file) start an entry too.
            (
                "[aliases]\n\"zai ma\" = [\"在吗\"\n\"bao you\" = \"包邮\"\n",
                4,
                "the array is not closed",
            ),
        ];
        for (body, line, cause) in rows {
            let text = format!("{head}{body}");
            let e = toml::from_str::<toml::Table>(&text).expect_err(body);
            let (got_line, msg) = toml_error(&text, &e);
            assert_eq!(got_line, *line, "{body:?}: {msg}");
            assert!(msg.contains(cause), "{body:?}: {msg}");
        }
    }

    /// The same through [`Sources::parse`]: file and line in the problem.
    #[test]
    fn intent_file_syntax_error_names_its_line() {
        let text =
            "id = \"stock\"\naction = \"reply\"\nkeywords = [\"有货\"\nexamples = [\"有货吗\"]\n";
        let err = Sources::parse(&[("intents/stock.toml".into(), text.into())], &[])
            .err()
            .expect("a syntax error");
        let shown = err.to_string();
        assert!(shown.contains("intents/stock.toml:3:"), "{shown}");
        assert!(shown.contains("`]`"), "{shown}");
    }
}
