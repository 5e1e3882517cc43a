//! Hot reload: watch the operators' files and put a new engine in force when
//! they change. A change is picked up once the files have been quiet for a
//! moment (editors write in several steps), the new engine is built beside
//! the old one, and only a valid build replaces it; an invalid one is logged
//! with its file:line problems and the old engine stays in force. Messages in
//! hand finish on the engine they started with; none is lost or answered twice.

use crate::engine::Engine;
use notify::event::ModifyKind;
use notify::{EventKind, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the files must be quiet before a reload.
pub const SETTLE: Duration = Duration::from_millis(150);

/// File events kept while a reload runs (more are dropped: see [`watch`]).
const PENDING_SIGNALS: usize = 64;

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

/// Identity of what a path names now (symlinks followed): a folder swapped in
/// under the same name (a Kubernetes ConfigMap update renames `..data`; a
/// deploy replaces `intents/`) has a new one.
fn identity(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(path)
            .ok()
            .and_then(|m| m.modified().ok())
            .map(|t| {
                (
                    0,
                    t.duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos() as u64),
                )
            })
    }
}

/// The folder a path is in (`.` for a bare name), as written: a symlinked
/// folder's parent is where the link is, where its swap happens.
fn parent(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Hands the memory freed by a reload back to the system. glibc keeps freed
/// memory in its per-thread arenas, and an engine build allocates on threads
/// of its own (the example index's writer): without a trim each reload left
/// megabytes resident (measured in the README, "Hot reload").
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What the watcher tells the reload thread (what changed is in `dirty`).
enum Signal {
    /// One of the operators' files changed.
    Changed,
    /// Something was created, removed or renamed beside a watched folder or
    /// the configuration: perhaps the folder itself was swapped.
    Beside,
}

/// The watches, kept current when a watched folder is replaced.
struct Watches {
    watcher: notify::RecommendedWatcher,
    /// Each watched folder and the configuration file, with the identity it had.
    known: Vec<(PathBuf, Option<(u64, u64)>, bool)>,
}

impl Watches {
    /// Notes what was replaced since the last look (swapped, removed, back):
    /// true when anything watched is not what it was.
    fn refresh(&mut self) -> bool {
        let mut changed = false;
        for (path, id, _) in &mut self.known {
            let now = identity(path);
            changed |= now != *id;
            *id = now;
        }
        changed
    }

    /// Watches every folder afresh, right before a reload reads them: a
    /// replaced folder's old watch is gone (or names the old folder), and
    /// after the quiet period the watcher has handled the old one's removal,
    /// which would otherwise drop a watch added earlier under the same name.
    fn rewatch(&mut self) {
        for (path, _, is_dir) in &self.known {
            if !*is_dir {
                continue;
            }
            let _ = self.watcher.unwatch(path);
            if path.is_dir() {
                if let Err(e) = self.watcher.watch(path, RecursiveMode::NonRecursive) {
                    tracing::warn!(folder = %path.display(), error = %e, "cannot watch the folder");
                }
            }
        }
    }
}

/// Keeps the watch running; dropping it stops watching (and ends the reload
/// thread once a reload in progress is done).
pub struct WatchHandle {
    _watches: Arc<Mutex<Watches>>,
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
///
/// The folders' parents are watched too: a folder deleted and created again,
/// or swapped by a rename or a symlink (a Kubernetes ConfigMap), is watched
/// again and its files reloaded.
pub fn watch(
    what: Watched,
    rebuild: impl Fn() -> Result<Engine, String> + Send + 'static,
    install: impl Fn(Arc<Engine>) + Send + 'static,
    report: impl Fn(&Reloaded) + Send + 'static,
) -> Result<WatchHandle, notify::Error> {
    // Bounded: a signal only wakes the thread. When the queue is full, the
    // thread has signals to read, and a file change is never lost: it is
    // also marked in `dirty`, which the thread reads before deciding.
    let (tx, rx) = mpsc::sync_channel::<Signal>(PENDING_SIGNALS);
    let dirty = Arc::new(AtomicBool::new(false));
    let marked = dirty.clone();
    let filter = what.clone();
    let mut parents: Vec<PathBuf> = Vec::new();
    for p in what.dirs.iter().chain(&what.files) {
        let d = parent(p);
        if !parents.iter().any(|q| same(q, &d)) {
            parents.push(d);
        }
    }
    let beside = parents.clone();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        if !matches!(
            ev.kind,
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
        ) {
            return;
        }
        if ev.paths.iter().any(|p| filter.concerns(p)) {
            marked.store(true, Ordering::SeqCst);
            let _ = tx.try_send(Signal::Changed);
        } else if !matches!(ev.kind, EventKind::Modify(ModifyKind::Data(_)))
            && ev
                .paths
                .iter()
                .any(|p| beside.iter().any(|d| same(&parent(p), d)))
        {
            let _ = tx.try_send(Signal::Beside);
        }
    })?;
    let mut watches = Watches {
        watcher,
        known: what
            .dirs
            .iter()
            .map(|d| (d.clone(), identity(d), true))
            .chain(what.files.iter().map(|f| (f.clone(), identity(f), false)))
            .collect(),
    };
    for d in &what.dirs {
        watches.watcher.watch(d, RecursiveMode::NonRecursive)?;
    }
    for d in &parents {
        watches.watcher.watch(d, RecursiveMode::NonRecursive)?;
    }
    let watches = Arc::new(Mutex::new(watches));
    // The thread holds the watches weakly: dropping the handle drops the
    // watcher, which closes the channel and ends the thread.
    let weak = Arc::downgrade(&watches);
    let with = move |f: &dyn Fn(&mut Watches) -> bool| {
        weak.upgrade()
            .is_some_and(|w| f(&mut w.lock().unwrap_or_else(|p| p.into_inner())))
    };
    let refresh = {
        let with = with.clone();
        move || with(&|w: &mut Watches| w.refresh())
    };
    let rewatch = move || {
        with(&|w: &mut Watches| {
            w.rewatch();
            true
        })
    };
    std::thread::Builder::new()
        .name("xiaoer-reload".into())
        .spawn(move || loop {
            let first = match rx.recv() {
                Ok(_) => Instant::now(),
                Err(_) => return,
            };
            // Wait until the files are quiet; a swapped folder is watched again.
            let mut swapped = refresh();
            loop {
                match rx.recv_timeout(SETTLE) {
                    Ok(_) => swapped |= refresh(),
                    Err(mpsc::RecvTimeoutError::Timeout) => break,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
            if !dirty.swap(false, Ordering::SeqCst) && !swapped {
                continue;
            }
            rewatch();
            let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&rebuild))
                .unwrap_or_else(|_| {
                    Err(
                        "building the engine panicked (a bug): the previous version stays in force"
                            .into(),
                    )
                });
            let outcome = match built {
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
            // The old engine is gone now (unless a conversation still holds it).
            release_free_memory();
        })
        .map_err(|e| notify::Error::generic(&e.to_string()))?;
    Ok(WatchHandle { _watches: watches })
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
