//! Hot reload: watch the operators' files and put a new engine in force when
//! they change. A change is picked up once the files have been quiet for a
//! moment (editors write in several steps), the new engine is built beside
//! the old one, and only a valid build replaces it; an invalid one is logged
//! with its file:line problems and the old engine stays in force. Messages in
//! hand finish on the engine they started with; none is lost or answered twice.

use crate::engine::Engine;
use notify::{EventKind, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How long the files must be quiet before a reload.
pub const SETTLE: Duration = Duration::from_millis(150);

/// What to watch.
#[derive(Debug, Clone, Default)]
pub struct Watched {
    /// Folders whose `.toml` files count (intents/, replies/).
    pub dirs: Vec<PathBuf>,
    /// Single files (the configuration), watched through their folder so an
    /// editor's write-and-rename is seen.
    pub files: Vec<PathBuf>,
}

impl Watched {
    /// The folders the engine was loaded from (none: the built-in copies) and
    /// the configuration file it read.
    pub fn new(folders: Option<&crate::engine::Folders>, config_file: Option<&Path>) -> Watched {
        Watched {
            dirs: folders
                .map(|f| vec![f.intents.clone(), f.replies.clone()])
                .unwrap_or_default(),
            files: config_file.map(Path::to_path_buf).into_iter().collect(),
        }
    }

    /// Nothing to watch.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty() && self.files.is_empty()
    }

    fn concerns(&self, path: &Path) -> bool {
        let toml = path.extension().is_some_and(|e| e == "toml");
        let in_dir = path
            .parent()
            .is_some_and(|p| self.dirs.iter().any(|d| same(d, p)));
        let is_file = self.files.iter().any(|f| {
            f.file_name() == path.file_name()
                && f.parent()
                    .zip(path.parent())
                    .is_some_and(|(a, b)| same(a, b))
        });
        (toml && in_dir) || is_file
    }
}

fn same(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| {
        let p = if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        };
        std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
    };
    canon(a) == canon(b)
}

/// Keeps the watch running; dropping it stops watching.
pub struct WatchHandle {
    _watcher: notify::RecommendedWatcher,
}

/// A reload's outcome, for logs and metrics.
#[derive(Debug)]
pub enum Reloaded {
    /// The new engine is in force.
    Ok {
        /// Intents in the new engine.
        intents: usize,
        /// From the first change seen to the new engine in force.
        took: Duration,
    },
    /// The files are invalid; the old engine stays.
    Invalid(String),
}

/// Watches `what`; after each settled change calls `rebuild` on a background
/// thread and hands a valid engine to `install`. `report` hears every outcome.
pub fn watch(
    what: Watched,
    rebuild: impl Fn() -> Result<Engine, String> + Send + 'static,
    install: impl Fn(Arc<Engine>) + Send + 'static,
    report: impl Fn(&Reloaded) + Send + 'static,
) -> Result<WatchHandle, notify::Error> {
    let (tx, rx) = mpsc::channel::<Instant>();
    let filter = what.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            let relevant = matches!(
                ev.kind,
                EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
            ) && ev.paths.iter().any(|p| filter.concerns(p));
            if relevant {
                let _ = tx.send(Instant::now());
            }
        }
    })?;
    for d in &what.dirs {
        watcher.watch(d, RecursiveMode::NonRecursive)?;
    }
    for f in &what.files {
        let dir = match f.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    }
    std::thread::Builder::new()
        .name("xiaoer-reload".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                // Wait until the files are quiet.
                while rx.recv_timeout(SETTLE).is_ok() {}
                let outcome = match rebuild() {
                    Ok(engine) => {
                        let intents = engine.nlu.intents.len();
                        install(Arc::new(engine));
                        Reloaded::Ok {
                            intents,
                            took: first.elapsed(),
                        }
                    }
                    Err(problems) => Reloaded::Invalid(problems),
                };
                report(&outcome);
            }
        })
        .map_err(|e| notify::Error::generic(&e.to_string()))?;
    Ok(WatchHandle { _watcher: watcher })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_operators_files_count() {
        let dir = std::env::temp_dir().join(format!("xiaoer-watch-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("intents")).unwrap();
        let w = Watched {
            dirs: vec![dir.join("intents")],
            files: vec![dir.join("xiaoer.toml")],
        };
        assert!(w.concerns(&dir.join("intents/stock.toml")));
        assert!(!w.concerns(&dir.join("intents/.stock.toml.swp")));
        assert!(!w.concerns(&dir.join("intents/notes.txt")));
        assert!(w.concerns(&dir.join("xiaoer.toml")));
        assert!(!w.concerns(&dir.join("other.toml")));
    }
}
