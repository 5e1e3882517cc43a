//! Saving an agent's answer to the catalog: a buyer asked something the
//! item's file does not say (the bot escalated, `unknown_fact`), an agent
//! answered, and the question and the answer become a `[[faq]]` entry of that
//! item's catalog file, so the next buyer who asks gets the answer from the
//! bot (`../shared/catalog.md`).
//!
//! The edit is made the way [`crate::teach`] makes its own: appended as text
//! (the operator's layout and comments stay), signed with a comment saying
//! who and when, checked before anything is written (the whole catalog still
//! loads, and the bot built from it answers the question from the new entry),
//! and written atomically, so the hot reload reads the old file or the new one.

use crate::dialogue::{Context, Conversation};
use crate::engine::Engine;
use crate::files::Action;
use crate::nlu::knowledge::Knowledge;
use crate::teach::{line_of, one_line, signature, toml_string, write_atomically, WRITING};
use std::path::{Path, PathBuf};

/// The longest question, and the longest answer, that can be saved, in
/// characters: a FAQ entry is one chat line, not a pasted page.
pub const MAX_FAQ_CHARS: usize = 300;

/// One answer to save.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// The catalog item's id.
    pub item: &'a str,
    /// The buyer's question, as they asked it.
    pub question: &'a str,
    /// The agent's answer.
    pub answer: &'a str,
    /// Who answered (an agent id, or the operator's name), for the comment.
    pub who: &'a str,
    /// When, in milliseconds since the epoch, for the comment.
    pub at_ms: i64,
}

/// Where an answer was saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The item's catalog file.
    pub file: PathBuf,
    /// The 1-based line of the new `[[faq]]`.
    pub line: usize,
}

impl Saved {
    /// `catalog/k-101.toml:41`: the folder's and the file's names.
    pub fn at(&self) -> String {
        let name = |p: Option<&Path>| {
            p.and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        format!(
            "{}/{}:{}",
            name(self.file.parent()),
            name(Some(&self.file)),
            self.line
        )
    }
}

/// Why an answer was not saved. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The bot runs without a catalog.
    #[error("no catalog is loaded: run the bot with a catalog folder (--catalog DIR or paths.catalog) to save answers into it")]
    NoCatalog,
    /// The catalog is the demo shop's, built into the binary.
    #[error("the catalog in force is built into the binary (the demo shop's): run with --catalog DIR to save answers into files")]
    BuiltIn,
    /// No item with that id.
    #[error("the catalog has no item {0:?}")]
    UnknownItem(String),
    /// The question or the answer is empty.
    #[error("the {0} is empty")]
    Empty(&'static str),
    /// The question or the answer is too long.
    #[error("the {what} is {chars} characters long: at most {MAX_FAQ_CHARS} (catalog_faq::MAX_FAQ_CHARS)")]
    TooLong {
        /// question or answer.
        what: &'static str,
        /// Its length.
        chars: usize,
    },
    /// The item already has this question.
    #[error("{0} already has this question: edit the entry there")]
    AlreadyThere(String),
    /// With the entry the catalog would not load.
    #[error("with this entry the catalog would not load: {0}")]
    WouldNotParse(String),
    /// With the entry the bot would still not answer the question from it.
    #[error("with this entry the bot would still not answer 「{question}」 from it ({why}): write the question the way buyers ask it")]
    NotAnswered {
        /// The question.
        question: String,
        /// What the bot would do instead.
        why: String,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The question and the answer as they will be stored: one line each, not
/// empty, within [`MAX_FAQ_CHARS`].
fn clean(text: &str, what: &'static str) -> Result<String, SaveError> {
    let t = one_line(text);
    let chars = t.chars().count();
    if chars == 0 {
        return Err(SaveError::Empty(what));
    }
    if chars > MAX_FAQ_CHARS {
        return Err(SaveError::TooLong { what, chars });
    }
    Ok(t)
}

/// The question without the item's own name (这件卫衣可以手洗吗 → 这件可以手洗吗),
/// when that leaves something to ask: the bot reads a question about an
/// item without its name, so the entry carries both phrasings.
fn without_name(k: &Knowledge, item: usize, question: &str) -> Option<String> {
    let it = &k.items[item];
    let mut names: Vec<&str> = std::iter::once(it.title.as_str())
        .chain(it.names.iter().map(String::as_str))
        .filter(|n| n.chars().count() >= 2)
        .collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let mut q = question.to_string();
    for n in names {
        q = q.replace(n, "");
    }
    let q = one_line(&q);
    let meaningful = q.chars().filter(|c| c.is_alphanumeric()).count() >= 2;
    (q != question && meaningful).then_some(q)
}

/// The `[[faq]]` entry as appended to a file, after a blank line, with its
/// comment: returns the text and the line (within it) of `[[faq]]`.
fn entry_text(questions: &[String], answer: &str, comment: &str) -> String {
    let q: Vec<String> = questions.iter().map(|q| toml_string(q)).collect();
    format!(
        "\n{comment}\n[[faq]]\nq = [{}]\na = {}\n",
        q.join(", "),
        toml_string(answer)
    )
}

/// Adds `entry` as a FAQ entry of its item to the item's file in the
/// catalog folder `engine` was loaded from, after checking that the catalog
/// still loads and that the bot built from it answers the question with the
/// entry. Returns where it was written; on an error nothing changed.
pub fn save(engine: &Engine, entry: &Entry<'_>) -> Result<Saved, SaveError> {
    let question = clean(entry.question, "question")?;
    let answer = clean(entry.answer, "answer")?;
    let k = engine.knowledge.as_ref().ok_or(SaveError::NoCatalog)?;
    let dir = engine.catalog_dir.as_deref().ok_or(SaveError::BuiltIn)?;
    let i = k
        .item_by_id(entry.item)
        .ok_or_else(|| SaveError::UnknownItem(entry.item.to_string()))?;
    let path = PathBuf::from(&k.items[i].file);
    let _guard = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SaveError::Io { path, source }
    };
    let mut files =
        crate::files::read_dir(dir).map_err(|e| SaveError::WouldNotParse(e.to_string()))?;
    // The file as it is now (an operator may have edited it since the load).
    let at = files
        .iter()
        .position(|(name, _)| Path::new(name) == path)
        .ok_or_else(|| SaveError::Io {
            path: path.clone(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "the item's file is gone"),
        })?;
    if k.items[i]
        .faq
        .iter()
        .any(|f| f.q.iter().any(|q| q.trim() == question))
    {
        return Err(SaveError::AlreadyThere(format!(
            "{} (item {})",
            path.display(),
            entry.item
        )));
    }
    let mut questions = vec![question.clone()];
    questions.extend(without_name(k, i, &question));
    let comment = signature("FAQ saved", entry.who, entry.at_ms);
    let body = &files[at].1;
    let mut new_body = body.clone();
    if !new_body.is_empty() && !new_body.ends_with('\n') {
        new_body.push('\n');
    }
    let line = line_of(&new_body, new_body.len()) + 2;
    new_body.push_str(&entry_text(&questions, &answer, &comment));
    if new_body.len() as u64 >= crate::files::MAX_FILE_BYTES {
        return Err(SaveError::WouldNotParse(format!(
            "{} would be over {} bytes (files::MAX_FILE_BYTES)",
            path.display(),
            crate::files::MAX_FILE_BYTES
        )));
    }

    // Check the edited catalog as `xiaoer check` would, and ask the bot
    // built from it the buyer's question, before writing.
    files[at].1 = new_body.clone();
    let edited = Knowledge::parse(&files, engine.nlu.normalizer())
        .map_err(|p| SaveError::WouldNotParse(p.to_string()))?;
    let saved = edited
        .item_by_id(entry.item)
        .map(|j| &edited.items[j])
        .is_some_and(|it| {
            it.faq
                .iter()
                .any(|f| f.a == answer && f.q.contains(&question))
        });
    if !saved {
        return Err(SaveError::WouldNotParse(format!(
            "{} does not hold item {} any more",
            path.display(),
            entry.item
        )));
    }
    let ctx = Context {
        item_id: Some(entry.item),
        ..Context::default()
    };
    let d = engine.decide_knowing(
        &mut Conversation::default(),
        &question,
        &ctx,
        false,
        Some(&edited),
    );
    if d.action != Action::Reply || !d.reply.contains(&answer) {
        let why = match &d.reason {
            Some(r) => format!("it would escalate: {}", r.as_str()),
            None => format!("it would reply 「{}」", d.reply),
        };
        return Err(SaveError::NotAnswered { question, why });
    }
    write_atomically(&path, &new_body).map_err(io(&path))?;
    Ok(Saved { file: path, line })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    /// The built-in files with a fresh copy of the fashion test catalog.
    fn engine() -> (Engine, PathBuf) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::temp_dir().join(format!(
            "xiaoer-savecat-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for e in std::fs::read_dir(root.join("tests/data/catalog/fashion")).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
        let engine = Engine::load(Config::defaults(), crate::FileSource::Embedded)
            .unwrap()
            .with_catalog_dir(&dir)
            .unwrap();
        (engine, dir)
    }

    fn entry<'a>(item: &'a str, question: &'a str, answer: &'a str) -> Entry<'a> {
        Entry {
            item,
            question,
            answer,
            who: "a-1",
            at_ms: 1_764_610_800_000,
        }
    }

    fn ask(engine: &Engine, item: &str, text: &str) -> crate::dialogue::Decision {
        let ctx = Context {
            item_id: Some(item),
            ..Context::default()
        };
        engine.decide_on(&mut Conversation::default(), text, &ctx, false)
    }

    #[test]
    fn a_saved_answer_is_appended_signed_and_answers_after_a_reload() {
        let (engine, dir) = engine();
        let q = "这件卫衣可以手洗吗";
        let a = "亲，可以手洗的哦，冷水轻揉就好～";
        let before = ask(&engine, "k-101", q);
        assert_eq!(
            before.reason.as_ref().map(|r| r.as_str()),
            Some("unknown_fact"),
            "pick a question the file does not answer: {}",
            before.reply
        );
        let old = std::fs::read_to_string(dir.join("k-101.toml")).unwrap();
        let saved = save(&engine, &entry("k-101", q, a)).unwrap();
        assert_eq!(saved.file, dir.join("k-101.toml"));
        let new = std::fs::read_to_string(&saved.file).unwrap();
        // Appended: the operator's text is kept as it was.
        assert!(new.starts_with(&old), "{new}");
        let lines: Vec<&str> = new.lines().collect();
        assert_eq!(lines[saved.line - 1], "[[faq]]", "{new}");
        assert!(
            lines[saved.line - 2].starts_with("# FAQ saved by a-1, 2025-12-01 "),
            "{new}"
        );
        assert!(new.contains(q) && new.contains(a), "{new}");
        assert!(saved.at().starts_with(&format!(
            "{}/k-101.toml:",
            dir.file_name().unwrap().to_string_lossy()
        )));
        let after = Engine::load(Config::defaults(), crate::FileSource::Embedded)
            .unwrap()
            .with_catalog_dir(&dir)
            .unwrap();
        let d = ask(&after, "k-101", q);
        assert!(d.reason.is_none() && d.reply.contains(a), "{}", d.reply);
        // Asked without the item's name, too.
        let d = ask(&after, "k-101", "可以手洗吗");
        assert!(d.reason.is_none() && d.reply.contains(a), "{}", d.reply);
        // No temporary file is left behind.
        let hidden: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(hidden.is_empty(), "{hidden:?}");
        // The same question again is refused.
        let err = save(&after, &entry("k-101", q, a)).unwrap_err();
        assert!(matches!(err, SaveError::AlreadyThere(_)), "{err}");
    }

    #[test]
    fn refused_answers_say_why_and_change_nothing() {
        let (engine, dir) = engine();
        let snapshot = || crate::files::read_dir(&dir).unwrap();
        let before = snapshot();
        let long = "好".repeat(MAX_FAQ_CHARS + 1);
        type Check = fn(&SaveError) -> bool;
        // (item, question, answer, the refusal)
        let rows: &[(&str, &str, &str, Check)] = &[
            ("nope-1", "可以手洗吗", "可以", |e| {
                matches!(e, SaveError::UnknownItem(_))
            }),
            ("k-101", "  \n ", "可以", |e| {
                matches!(e, SaveError::Empty("question"))
            }),
            ("k-101", "可以手洗吗", "", |e| {
                matches!(e, SaveError::Empty("answer"))
            }),
            ("k-101", &long, "可以", |e| {
                matches!(
                    e,
                    SaveError::TooLong {
                        what: "question",
                        ..
                    }
                )
            }),
            ("k-101", "可以手洗吗", &long, |e| {
                matches!(e, SaveError::TooLong { what: "answer", .. })
            }),
            // A complaint goes to a person whatever the catalog says.
            ("k-101", "我要投诉你们", "亲，抱歉", |e| {
                matches!(e, SaveError::NotAnswered { .. })
            }),
        ];
        for (item, q, a, check) in rows {
            let err = save(&engine, &entry(item, q, a)).unwrap_err();
            assert!(check(&err), "{item} {q:?} {a:?}: {err}");
            assert_eq!(snapshot(), before, "{q:?} changed the files");
        }
        // A file that would not parse with the entry (its FAQ is an inline
        // array: a [[faq]] table after it is a second definition).
        std::fs::write(
            dir.join("k-101.toml"),
            "id = \"k-101\"\ntitle = \"加绒连帽卫衣\"\nfaq = [{ q = \"起球吗\", a = \"不起球\" }]\n",
        )
        .unwrap();
        let before = snapshot();
        let err = save(&engine, &entry("k-101", "可以手洗吗", "可以的")).unwrap_err();
        assert!(matches!(err, SaveError::WouldNotParse(_)), "{err}");
        assert!(err.to_string().contains("k-101.toml:"), "{err}");
        assert_eq!(snapshot(), before);
        // No catalog; the built-in demo catalog.
        let bare = Engine::load(Config::defaults(), crate::FileSource::Embedded).unwrap();
        assert!(matches!(
            save(&bare, &entry("k-101", "可以手洗吗", "可以")),
            Err(SaveError::NoCatalog)
        ));
        let demo = Engine::load(Config::defaults(), crate::FileSource::Embedded)
            .unwrap()
            .with_catalog(&crate::embedded::demo_catalog())
            .unwrap();
        assert!(matches!(
            save(&demo, &entry("d-102", "可以手洗吗", "可以")),
            Err(SaveError::BuiltIn)
        ));
    }

    #[test]
    fn the_entry_is_valid_toml_whatever_the_text() {
        let text = entry_text(
            &[r#"他说"包邮" \n 吗"#.to_string(), "# 不是注释".to_string()],
            "a\"b'c\\d",
            "# FAQ saved by t",
        );
        #[derive(serde::Deserialize)]
        struct F {
            faq: Vec<toml::Value>,
        }
        let f: F = toml::from_str(&text).unwrap();
        assert_eq!(f.faq[0]["q"][0].as_str(), Some(r#"他说"包邮" \n 吗"#));
        assert_eq!(f.faq[0]["q"][1].as_str(), Some("# 不是注释"));
        assert_eq!(f.faq[0]["a"].as_str(), Some("a\"b'c\\d"));
    }
}
