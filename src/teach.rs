//! Teaching: an agent or operator says which intent a buyer's message should
//! have been, and the message becomes an example of that intent in
//! `intents/<file>.toml`, so the next buyer who says it gets the answer.
//!
//! The edit is made as an operator would make it by hand (one line added to the
//! intent's `examples` list, with a comment saying who taught it and when), is
//! checked as `xiaoer check` would check it before anything is written (the
//! files still load, and the engine built from them reads the new example as
//! the taught intent), and is written atomically (a temporary file beside it,
//! then a rename), so a running bot's hot reload sees either the old file or
//! the new one, never half of it.

use crate::config::Config;
use crate::engine::{Engine, Folders};
use crate::error::Error;
use crate::files::{self, Sources};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use toml::Spanned;

/// The longest example that can be taught, in characters. Examples are whole
/// buyer messages; a longer text is a paste, not a phrasing worth keeping.
pub const MAX_EXAMPLE_CHARS: usize = 200;

/// The longest "who" recorded in the comment.
const MAX_WHO_CHARS: usize = 64;

/// One teaching: the buyer's text and the intent it should have been.
#[derive(Debug, Clone)]
pub struct Lesson<'a> {
    /// The buyer's message, as they wrote it.
    pub text: &'a str,
    /// The intent id it should have been read as (`none` for off-topic).
    pub intent: &'a str,
    /// Who taught it (an agent id, or the operator's name), for the comment.
    pub who: &'a str,
    /// When, in milliseconds since the epoch, for the comment.
    pub at_ms: i64,
}

/// Where a lesson was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taught {
    /// The intent file that now holds the example.
    pub file: PathBuf,
    /// The 1-based line of the new example.
    pub line: usize,
}

/// Why a lesson was refused. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum TeachError {
    /// The text is empty after trimming.
    #[error("the message is empty: there is nothing to teach")]
    Empty,
    /// The text is too long to be an example.
    #[error("the message is {0} characters long: examples are at most {MAX_EXAMPLE_CHARS}")]
    TooLong(usize),
    /// No intent with that id.
    #[error("{0:?} is not an intent id (see intents/*.toml)")]
    UnknownIntent(String),
    /// The intent already has this example.
    #[error("{file}:{line} already has this example of {intent}")]
    AlreadyThere {
        /// The file.
        file: String,
        /// Its line.
        line: usize,
        /// The intent.
        intent: String,
    },
    /// The intent's file has no `examples = [...]` list to add to.
    #[error("{0} has no `examples = [...]` list: add one, then teach again")]
    NoExamples(String),
    /// With the new example, the engine still reads the text as something else:
    /// the example would be flagged by `xiaoer check`.
    #[error("with this example the bot would still read the message as {read_as}, not {intent} ({why}): add a keyword or a negative to the intent files instead")]
    Misread {
        /// The intent taught.
        intent: String,
        /// What the engine reads instead.
        read_as: String,
        /// A short explanation.
        why: String,
    },
    /// The intent files do not load (before or after the edit).
    #[error("the intent files do not load: {0}")]
    Files(#[from] Error),
    /// Writing failed.
    #[error("could not write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// One edit of the operators' files at a time in this process (teaching an
/// example, saving a catalog FAQ entry): two agents editing the same file at
/// once must not lose one of the two edits.
pub(crate) static WRITING: Mutex<()> = Mutex::new(());

#[derive(Deserialize)]
struct RawExamples {
    id: Option<String>,
    examples: Option<Spanned<Vec<Spanned<String>>>>,
}

/// Adds `lesson.text` as an example of `lesson.intent` to its file in
/// `folders.intents`, after checking that the result loads and reads the text
/// as that intent. Returns where it was written; on an error nothing changed.
pub fn teach(
    config: &Config,
    folders: &Folders,
    lesson: &Lesson<'_>,
) -> Result<Taught, TeachError> {
    let text = clean(lesson.text)?;
    let _guard = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    let mut intents = files::read_dir(&folders.intents)?;
    let replies = files::read_dir(&folders.replies)?;

    // Which file declares the intent.
    let mut found = None;
    for (i, (name, body)) in intents.iter().enumerate() {
        if name.ends_with("_aliases.toml") {
            continue;
        }
        let Ok(raw) = toml::from_str::<RawExamples>(body) else {
            continue;
        };
        if raw.id.as_deref() == Some(lesson.intent) {
            found = Some((i, raw));
            break;
        }
    }
    let Some((index, raw)) = found else {
        return Err(TeachError::UnknownIntent(lesson.intent.to_string()));
    };
    let (name, body) = &intents[index];
    let Some(list) = raw.examples else {
        return Err(TeachError::NoExamples(name.clone()));
    };
    for e in list.get_ref() {
        if e.get_ref().trim() == text {
            return Err(TeachError::AlreadyThere {
                file: name.clone(),
                line: line_of(body, e.span().start),
                intent: lesson.intent.to_string(),
            });
        }
    }
    let comment = signature("taught", lesson.who, lesson.at_ms);
    let (new_body, line) = insert_example(body, &list, &text, &comment);

    // Check the edited files as `xiaoer check` would, before writing.
    intents[index].1 = new_body.clone();
    let sources = Sources::parse(&intents, &replies)?;
    let engine = Engine::build(config.clone(), &sources)?;
    let c = engine.nlu.classify(&text, false);
    let got: Vec<&str> = c
        .intents
        .iter()
        .map(|s| engine.nlu.intents[s.intent].id.as_str())
        .collect();
    let ok = got.first() == Some(&lesson.intent) || (got.is_empty() && lesson.intent == "none");
    if !ok {
        let read_as = if got.is_empty() {
            "none".to_string()
        } else {
            got.join(" + ")
        };
        return Err(TeachError::Misread {
            intent: lesson.intent.to_string(),
            read_as,
            why: "another intent's keywords or patterns claim it".to_string(),
        });
    }

    let path = PathBuf::from(&intents[index].0);
    write_atomically(&path, &new_body).map_err(|source| TeachError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(Taught { file: path, line })
}

/// Teaching from the console, over the folders the bot reads.
#[derive(Debug, Clone)]
pub struct FolderTeacher {
    config: Config,
    folders: Folders,
}

impl FolderTeacher {
    /// Teaches into `folders` (the bot's hot reload picks the edits up).
    pub fn new(config: Config, folders: Folders) -> FolderTeacher {
        FolderTeacher { config, folders }
    }
}

impl crate::gateway::Teacher for FolderTeacher {
    fn intents(&self) -> Vec<(String, String)> {
        match Sources::from_dirs(&self.folders.intents, &self.folders.replies) {
            Ok(src) => src
                .intents
                .iter()
                .map(|i| (i.id.clone(), i.description.clone()))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    fn teach(&self, text: &str, intent: &str, who: &str) -> Result<String, String> {
        let lesson = Lesson {
            text,
            intent,
            who,
            at_ms: crate::store::now_ms(),
        };
        match teach(&self.config, &self.folders, &lesson) {
            Ok(t) => {
                let name = t.file.file_name().map(|n| n.to_string_lossy().into_owned());
                Ok(format!("intents/{}:{}", name.unwrap_or_default(), t.line))
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

/// `text` trimmed to one line: control characters and runs of white space
/// become one space (what a file keeps of a chat message).
pub(crate) fn one_line(text: &str) -> String {
    let spaced: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text as it will be stored: trimmed, one line, no control characters.
fn clean(text: &str) -> Result<String, TeachError> {
    let t = one_line(text);
    let n = t.chars().count();
    if n == 0 {
        return Err(TeachError::Empty);
    }
    if n > MAX_EXAMPLE_CHARS {
        return Err(TeachError::TooLong(n));
    }
    Ok(t)
}

/// `# taught by a-1, 2026-12-01 17:40 UTC` (`what` = "taught"): the comment
/// an edit from the console or the terminal leaves in the file, the "who"
/// reduced to safe characters.
pub(crate) fn signature(what: &str, who: &str, at_ms: i64) -> String {
    let who: String = who
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_WHO_CHARS)
        .collect();
    let who = if who.trim().is_empty() {
        "?".to_string()
    } else {
        who
    };
    let ts = crate::gateway::rfc3339(at_ms);
    // 2026-12-01T17:40:00Z → 2026-12-01 17:40 UTC
    let short = format!("{} {} UTC", &ts[..10], &ts[11..16]);
    format!("# {what} by {}, {short}", who.trim())
}

/// The file with `text` added as the last entry of the `examples` list whose
/// span is `list`, and the 1-based line of the new entry. The rest of the file,
/// its comments and layout, is kept as it was.
fn insert_example(
    body: &str,
    list: &Spanned<Vec<Spanned<String>>>,
    text: &str,
    comment: &str,
) -> (String, usize) {
    let literal = toml_string(text);
    let close = list.span().end - 1; // the `]`
    let mut out = String::with_capacity(body.len() + literal.len() + comment.len() + 8);
    let entry = format!("  {literal}, {comment}\n");
    match list.get_ref().last() {
        Some(last) => {
            let last_end = last.span().end;
            let between = &body[last_end..close];
            out.push_str(&body[..last_end]);
            if !has_comma(between) {
                out.push(',');
            }
            // `]` alone on its line: the entry goes on a line of its own
            // before it; otherwise it starts a new line.
            let line_start = body[..close].rfind('\n').map_or(0, |i| i + 1);
            if line_start > last_end && body[line_start..close].trim().is_empty() {
                out.push_str(&body[last_end..line_start]);
                let line = line_of(&out, out.len());
                out.push_str(&entry);
                out.push_str(&body[line_start..]);
                (out, line)
            } else {
                out.push_str(between);
                out.push('\n');
                let line = line_of(&out, out.len());
                out.push_str(&entry);
                out.push_str(&body[close..]);
                (out, line)
            }
        }
        None => {
            out.push_str(&body[..close]);
            out.push('\n');
            let line = line_of(&out, out.len());
            out.push_str(&entry);
            out.push_str(&body[close..]);
            (out, line)
        }
    }
}

/// Whether the TOML between two array entries holds their separating comma
/// (comments skipped).
fn has_comma(between: &str) -> bool {
    between
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .any(|l| l.contains(','))
}

/// A TOML basic string holding `s`.
pub(crate) fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Writes `body` to `path` through a temporary file in the same folder (whose
/// name does not end in `.toml`, so a reload never reads it) and a rename:
/// a running bot's hot reload sees the old file or the new one, never half.
pub(crate) fn write_atomically(path: &Path, body: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.teach-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(body.as_bytes())?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            let _ = std::fs::set_permissions(&tmp, meta.permissions());
        }
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(body: &str) -> Spanned<Vec<Spanned<String>>> {
        toml::from_str::<RawExamples>(body)
            .unwrap()
            .examples
            .unwrap()
    }

    fn examples(body: &str) -> Vec<String> {
        spans(body)
            .into_inner()
            .into_iter()
            .map(|s| s.into_inner())
            .collect()
    }

    #[test]
    fn insert_keeps_the_file_and_adds_one_entry() {
        // (file, expected examples after, expected line of the new entry)
        let rows: &[(&str, &[&str], usize)] = &[
            (
                "id = \"x\"\nexamples = [\n  \"a\",\n  \"b\",\n]\n",
                &["a", "b", "新的"],
                5,
            ),
            (
                "id = \"x\"\nexamples = [\n  \"a\",\n  \"b\"\n]\n",
                &["a", "b", "新的"],
                5,
            ),
            (
                "id = \"x\"\nexamples = [\"a\", \"b\"]\n",
                &["a", "b", "新的"],
                3,
            ),
            (
                "id = \"x\"\nexamples = [\"a\", # note, with a comma\n]\n",
                &["a", "新的"],
                3,
            ),
            (
                "id = \"x\"\nexamples = [\n  \"a\" # no comma, see\n]\n",
                &["a", "新的"],
                4,
            ),
            ("id = \"x\"\nexamples = []\n", &["新的"], 3),
            (
                "id = \"x\"\nexamples = [\n  \"a\",\n]\nyields = true\n",
                &["a", "新的"],
                4,
            ),
        ];
        for (body, want, line) in rows {
            let (out, got_line) = insert_example(body, &spans(body), "新的", "# taught by t");
            assert_eq!(examples(&out), *want, "{body:?} became {out:?}");
            assert_eq!(got_line, *line, "{body:?} became {out:?}");
            assert!(
                out.lines().nth(got_line - 1).unwrap().contains("新的"),
                "{out:?}"
            );
            assert!(out.contains("# taught by t"), "{out:?}");
        }
    }

    #[test]
    fn text_is_cleaned_and_bounded() {
        let rows: &[(&str, Result<&str, ()>)] = &[
            ("  有货吗  ", Ok("有货吗")),
            ("有货吗\n还有吗", Ok("有货吗 还有吗")),
            ("a\u{1b}[31mb", Ok("a [31mb")),
            ("   ", Err(())),
            ("", Err(())),
        ];
        for (raw, want) in rows {
            let got = clean(raw).map_err(|_| ());
            assert_eq!(got.as_deref(), want.as_deref().map_err(|_| &()), "{raw:?}");
        }
        assert!(matches!(
            clean(&"好".repeat(MAX_EXAMPLE_CHARS + 1)),
            Err(TeachError::TooLong(_))
        ));
        assert!(clean(&"好".repeat(MAX_EXAMPLE_CHARS)).is_ok());
    }

    #[test]
    fn quotes_and_backslashes_stay_text() {
        let body = "id = \"x\"\nexamples = [\n  \"a\",\n]\n";
        let text = r#"他说"包邮" \n 吗"#;
        let (out, _) = insert_example(body, &spans(body), text, "# t");
        assert_eq!(examples(&out), vec!["a".to_string(), text.to_string()]);
    }

    #[test]
    fn comment_names_who_and_when_on_one_line() {
        let c = signature("taught", "a-1\n# forged", 1_764_610_800_000);
        assert_eq!(c.lines().count(), 1);
        assert!(c.starts_with("# taught by a-1# forged, "), "{c}");
        assert!(c.ends_with(" UTC"), "{c}");
    }
}

#[cfg(test)]
mod on_files {
    use super::*;

    /// A copy of the repository's intents/ and replies/ in a fresh folder.
    fn copy() -> Folders {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::temp_dir().join(format!(
            "xiaoer-teach-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["intents", "replies"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            for e in std::fs::read_dir(root.join(sub)).unwrap() {
                let p = e.unwrap().path();
                std::fs::copy(&p, dir.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
        Folders {
            intents: dir.join("intents"),
            replies: dir.join("replies"),
        }
    }
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    fn snapshot(f: &Folders) -> Vec<(String, String)> {
        files::read_dir(&f.intents).unwrap()
    }

    fn lesson<'a>(text: &'a str, intent: &'a str) -> Lesson<'a> {
        Lesson {
            text,
            intent,
            who: "a-1",
            at_ms: 1_764_610_800_000,
        }
    }

    #[test]
    fn a_taught_message_is_read_as_its_intent_after_a_reload() {
        let f = copy();
        let config = Config::defaults();
        let text = "宝贝能不能塞进洗碗机里面洗呀";
        let before = Engine::load(
            config.clone(),
            crate::FileSource::Dirs(&f.intents, &f.replies),
        )
        .unwrap();
        let read = |e: &Engine| {
            e.nlu
                .classify(text, false)
                .intents
                .first()
                .map(|s| e.nlu.intents[s.intent].id.clone())
        };
        assert_ne!(
            read(&before).as_deref(),
            Some("usage_help"),
            "already known: pick another text"
        );
        let taught = teach(&config, &f, &lesson(text, "usage_help")).unwrap();
        let body = std::fs::read_to_string(&taught.file).unwrap();
        let line = body.lines().nth(taught.line - 1).unwrap();
        assert!(
            line.contains(text) && line.contains("# taught by a-1, "),
            "{line}"
        );
        let after = Engine::load(config, crate::FileSource::Dirs(&f.intents, &f.replies)).unwrap();
        assert_eq!(read(&after).as_deref(), Some("usage_help"));
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&f.intents)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }

    #[test]
    fn refused_lessons_change_nothing() {
        let f = copy();
        let config = Config::defaults();
        let before = snapshot(&f);
        // (text, intent, what the refusal must be)
        type Check = fn(&TeachError) -> bool;
        let rows: &[(&str, &str, Check)] = &[
            ("随便说点什么", "no_such_intent", |e| {
                matches!(e, TeachError::UnknownIntent(_))
            }),
            ("我要投诉你们", "stock", |e| {
                matches!(e, TeachError::Misread { .. })
            }),
            ("   ", "stock", |e| matches!(e, TeachError::Empty)),
        ];
        for (text, intent, check) in rows {
            let err = teach(&config, &f, &lesson(text, intent)).unwrap_err();
            assert!(check(&err), "{text} as {intent}: {err}");
            assert_eq!(snapshot(&f), before, "{text} as {intent} changed the files");
        }
        // The same example twice: the second is refused.
        let text = "宝贝能不能塞进洗碗机里面洗呀";
        teach(&config, &f, &lesson(text, "usage_help")).unwrap();
        let once = snapshot(&f);
        let err = teach(&config, &f, &lesson(text, "usage_help")).unwrap_err();
        assert!(matches!(err, TeachError::AlreadyThere { .. }), "{err}");
        assert_eq!(snapshot(&f), once);
    }
}
