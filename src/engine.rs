//! The engine: the compiled NLU, replies and configuration, built together from
//! one set of files so they always agree. Cheap to share (`Arc<Engine>`), rebuilt
//! off to the side on reload.

use crate::config::Config;
use crate::error::{Error, Problems, Result};
use crate::files::Sources;
use crate::nlu::Nlu;
use crate::reply::Replies;
use std::path::Path;

/// Where the operators' files come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileSource<'a> {
    /// The copies built into the binary.
    Embedded,
    /// The folders named in the configuration.
    Configured,
    /// These folders.
    Dirs(&'a Path, &'a Path),
}

/// Everything needed to decide on a message.
#[derive(Debug)]
pub struct Engine {
    /// The classifier.
    pub nlu: Nlu,
    /// The reply lines.
    pub replies: Replies,
    /// The configuration in force.
    pub config: Config,
}

impl Engine {
    /// Loads files and compiles the engine. With [`FileSource::Configured`], the
    /// configured folders are used when `paths.intents` exists, else the
    /// embedded defaults (so `xiaoer` works from any directory).
    pub fn load(config: Config, source: FileSource<'_>) -> Result<Engine> {
        let src = match source {
            FileSource::Embedded => Sources::embedded()?,
            FileSource::Dirs(i, r) => Sources::from_dirs(i, r)?,
            FileSource::Configured if config.paths.intents.is_dir() => {
                Sources::from_dirs(&config.paths.intents, &config.paths.replies)?
            }
            FileSource::Configured => Sources::embedded()?,
        };
        Engine::build(config, &src)
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
                nlu,
                replies,
                config,
            }),
            _ => Err(Error::Files { problems }),
        }
    }
}
