//! The engine: the compiled NLU, replies and configuration, built together from
//! one set of files so they always agree. Cheap to share (`Arc<Engine>`), rebuilt
//! off to the side on reload.

use crate::config::Config;
use crate::error::{Error, Problems, Result};
use crate::files::Sources;
use crate::nlu::Nlu;
use crate::reply::Replies;
use std::path::{Path, PathBuf};

/// Where the operators' files come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileSource<'a> {
    /// The copies built into the binary.
    Embedded,
    /// The folders named in the configuration (see [`configured_folders`]).
    Configured,
    /// These folders.
    Dirs(&'a Path, &'a Path),
}

/// The folders of the operators' files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folders {
    /// `intents/`.
    pub intents: PathBuf,
    /// `replies/`.
    pub replies: PathBuf,
}

/// Where the intent and reply files are read from: the one place that decides.
///
/// `intents` / `replies` are the command line's `--intents` / `--replies`:
/// when either is given, the pair is that flag (or the configured path for
/// the other) and both must be folders. Otherwise [`configured_folders`].
/// `None`: the copies built into the binary.
pub fn resolve_folders(
    config: &Config,
    intents: Option<&Path>,
    replies: Option<&Path>,
) -> Result<Option<Folders>> {
    if intents.is_none() && replies.is_none() {
        return configured_folders(config);
    }
    let intents = intents.unwrap_or(&config.paths.intents).to_path_buf();
    let replies = replies.unwrap_or(&config.paths.replies).to_path_buf();
    for (dir, what) in [(&intents, "intent"), (&replies, "reply")] {
        if !dir.is_dir() {
            return Err(Error::NoFolder {
                path: dir.clone(),
                what,
            });
        }
    }
    Ok(Some(Folders { intents, replies }))
}

/// Where [`FileSource::Configured`] reads the intent and reply files:
///
/// - both `paths.intents` and `paths.replies` are folders: those folders;
/// - neither is set (configuration file or `XIAOER_PATHS__*`) and neither
///   default folder exists: `None`, the copies built into the binary;
/// - otherwise an error naming each missing folder, its key and where the key
///   was set (`file:line` or the environment variable). A configured folder
///   that is missing never falls back to the built-in demo shop.
pub fn configured_folders(config: &Config) -> Result<Option<Folders>> {
    let p = &config.paths;
    let keys = [("paths.intents", &p.intents), ("paths.replies", &p.replies)];
    let missing: Vec<_> = keys.iter().filter(|(_, dir)| !dir.is_dir()).collect();
    if missing.is_empty() {
        return Ok(Some(Folders {
            intents: p.intents.clone(),
            replies: p.replies.clone(),
        }));
    }
    let set = |key: &str| config.origin(key).is_explicit();
    if missing.len() == keys.len() && !keys.iter().any(|(k, _)| set(k)) {
        return Ok(None);
    }
    let here = std::env::current_dir()
        .map(|d| format!(" (relative to {})", d.display()))
        .unwrap_or_default();
    let lines: Vec<String> = missing
        .iter()
        .map(|(key, dir)| {
            let why = if dir.exists() {
                "is not a folder"
            } else {
                "no such folder"
            };
            let rel = if dir.is_relative() { here.as_str() } else { "" };
            let (other, _) = keys.iter().find(|(k, _)| k != key).expect("two keys");
            let fix = if set(key) {
                "fix the path (a configured folder is never replaced by the built-in files; remove the key to use them)".to_string()
            } else if set(other) {
                format!("{other} is set, so set {key} too")
            } else {
                format!("the folder of {other} is there, so this one is needed too: create it, or set {key}")
            };
            format!("{}: {why}{rel}: {fix}", config.describe(key, dir))
        })
        .collect();
    Err(Error::Config(lines.join("\n")))
}

/// Where the catalog (`catalog/`, `../shared/catalog.md`) is read from: the
/// `--catalog` flag, else `paths.catalog` when the configuration sets it (it
/// must then be a folder), else `./catalog` when that folder exists. `None`:
/// the bot runs without a catalog, as before one existed.
pub fn resolve_catalog(config: &Config, flag: Option<&Path>) -> Result<Option<PathBuf>> {
    if let Some(dir) = flag {
        if !dir.is_dir() {
            return Err(Error::NoFolder {
                path: dir.to_path_buf(),
                what: "catalog",
            });
        }
        return Ok(Some(dir.to_path_buf()));
    }
    let dir = &config.paths.catalog;
    if config.origin("paths.catalog").is_explicit() && !dir.is_dir() {
        return Err(Error::Config(format!(
            "{}: no such folder: fix the path, or remove the key to run without a catalog",
            config.describe("paths.catalog", dir)
        )));
    }
    Ok(dir.is_dir().then(|| dir.clone()))
}

/// Everything needed to decide on a message.
#[derive(Debug)]
pub struct Engine {
    /// The shop's catalog, when one is loaded ([`Engine::with_catalog`]):
    /// product questions are answered from it.
    pub knowledge: Option<crate::nlu::knowledge::Knowledge>,
    /// The folder the catalog was read from ([`Engine::with_catalog_dir`]);
    /// `None` without a catalog or with the built-in demo one. Agents save
    /// FAQ entries into it from the console (`crate::catalog_faq`).
    pub catalog_dir: Option<PathBuf>,
    /// The classifier.
    pub nlu: Nlu,
    /// The reply lines.
    pub replies: Replies,
    /// The configuration in force.
    pub config: Config,
    /// The lines of messages the bot starts (`replies/_proactive.toml`).
    pub proactive: crate::proactive::lines::Lines,
}

impl Engine {
    /// Loads files and compiles the engine. With [`FileSource::Configured`], the
    /// folders [`resolve_folders`] resolves: an error when the
    /// configuration names a folder that is missing, the embedded copies
    /// when it names none and the default folders are absent (so `xiaoer`
    /// works from any directory).
    pub fn load(config: Config, source: FileSource<'_>) -> Result<Engine> {
        let src = match source {
            FileSource::Embedded => crate::embedded::sources()?,
            FileSource::Dirs(i, r) => Sources::from_dirs(i, r)?,
            FileSource::Configured => match resolve_folders(&config, None, None)? {
                Some(f) => Sources::from_dirs(&f.intents, &f.replies)?,
                None => crate::embedded::sources()?,
            },
        };
        let engine = Engine::build(config, &src);
        drop(src);
        // Building the matchers and the index allocates far more than it
        // keeps (token lists, regex compilers, the index writer): hand the
        // freed pages back, as the hot reload does. Measured with ten times
        // the intent data (`xiaoer-bench scale 10`): RSS after loading
        // 167 -> 107 MB.
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only returns free pages of the allocator's arenas.
        unsafe {
            libc::malloc_trim(0);
        }
        engine
    }

    /// Compiles parsed sources.
    pub fn build(config: Config, src: &Sources) -> Result<Engine> {
        let mut problems = Problems::default();
        let nlu = match Nlu::build(src, &config.catalog, &config.nlu) {
            Ok(n) => Some(n),
            Err(Error::Files { problems: p }) => {
                problems.0.extend(p.0);
                None
            }
            Err(e) => return Err(e),
        };
        let ids: Vec<&str> = src.intents.iter().map(|i| i.id.as_str()).collect();
        let replies = match Replies::build(src, &ids, &config) {
            Ok(r) => Some(r),
            Err(Error::Files { problems: p }) => {
                problems.0.extend(p.0);
                None
            }
            Err(e) => return Err(e),
        };
        let proactive =
            crate::proactive::lines::Lines::build(src.proactive.as_ref(), &config, &mut problems);
        let bargain = &config.dialogue.bargain_intent;
        if !bargain.is_empty() && !ids.contains(&bargain.as_str()) {
            problems.push(
                "xiaoer.toml",
                0,
                format!("dialogue.bargain_intent = {bargain:?} is not an intent id"),
            );
        }
        match (nlu, replies) {
            (Some(nlu), Some(replies)) if problems.is_empty() => Ok(Engine {
                knowledge: None,
                catalog_dir: None,
                nlu,
                replies,
                config,
                proactive,
            }),
            _ => Err(Error::Files { problems }),
        }
    }

    /// The engine with the catalog of these files (`(name, text)` pairs:
    /// [`crate::files::read_dir`] of a folder, or the built-in demo
    /// catalog); problems come with `file:line`.
    pub fn with_catalog(mut self, files: &[(String, String)]) -> Result<Engine> {
        let k = crate::nlu::knowledge::Knowledge::parse(files, self.nlu.normalizer())
            .map_err(|problems| Error::Files { problems })?;
        self.knowledge = Some(k);
        Ok(self)
    }

    /// [`Engine::with_catalog`] of a folder's `*.toml` files.
    pub fn with_catalog_dir(self, dir: &Path) -> Result<Engine> {
        let files = crate::files::read_dir(dir)?;
        let mut engine = self.with_catalog(&files)?;
        drop(files);
        engine.catalog_dir = Some(dir.to_path_buf());
        // The load reads and parses on several threads, each with its own
        // allocator arena: hand what they freed back to the system (as the
        // hot reload does), or a 10,000-item catalog keeps ~20 MB more resident.
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only returns free pages of the allocator's arenas.
        unsafe {
            libc::malloc_trim(0);
        }
        Ok(engine)
    }
}
