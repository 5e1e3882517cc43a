//! Hot reload in a running `xiaoer run` (the real binary; the gateway is
//! unreachable, which `run` retries, so no network is needed): folders that
//! are swapped (Kubernetes ConfigMap style) or deleted and created again stay
//! watched, a FIFO among the files never blocks the reload thread, and twenty
//! reloads leave the memory where it was.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The bot, killed when the test ends however it ends.
struct Bot {
    child: Child,
    log: PathBuf,
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bot {
    /// `xiaoer run` on the intent and reply folders `intents` and `replies`
    /// (through the configuration's paths, as in production).
    fn start(dir: &Path, intents: &Path, replies: &Path) -> Bot {
        let log = dir.join("bot.log");
        let child = crate::xiaoer(&[
            "run",
            "--url",
            "ws://127.0.0.1:9/",
            "--token",
            "t",
            "--state",
            dir.join("s.db").to_str().unwrap(),
        ])
        .current_dir(dir)
        .env("XIAOER_PATHS__INTENTS", intents)
        .env("XIAOER_PATHS__REPLIES", replies)
        .env("XIAOER_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("xiaoer run starts");
        let bot = Bot { child, log };
        bot.wait_for("hot reload on", 1, Duration::from_secs(30));
        bot
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log lines that say a reload happened, in order.
    fn reloads(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| {
                l.contains("reloaded the intent, reply and configuration files")
                    || l.contains("previous version stays in force")
            })
            .map(str::to_string)
            .collect()
    }

    /// Waits until `what` is in the log `n` times (a generous watchdog: a
    /// reload takes well under a second).
    fn wait_for(&self, what: &str, n: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.log().matches(what).count() < n {
            assert!(
                Instant::now() < deadline,
                "{what:?} not seen {n} times within {limit:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for reload number `n` and returns its log line.
    fn reload(&self, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = self.reloads();
            if r.len() >= n {
                return r[n - 1].clone();
            }
            assert!(
                Instant::now() < deadline,
                "reload {n} did not happen within 20 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// VmRSS of the bot, in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }
}

/// The number of intents a reload line reports (`intents=N`).
fn intents_in(line: &str) -> usize {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("intents="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no intents=N in {line:?}"))
}

/// The repository's intent and reply files in `dir`; without `drop`'s intent
/// and its replies when given (a change the reload line shows as one intent
/// fewer).
fn files_into(dir: &Path, drop: Option<&str>) {
    crate::copy_files(dir);
    if let Some(id) = drop {
        std::fs::remove_file(dir.join(format!("intents/{id}.toml"))).unwrap();
        let _ = std::fs::remove_file(dir.join(format!("replies/{id}.toml")));
    }
}

/// An intent whose files can go without breaking the rest.
const SPARE: &str = "invoice";

fn shipped_intents() -> usize {
    crate::engine().nlu.intents.len()
}

/// A ConfigMap volume: `intents` and `replies` are links into `..data`, a link
/// to a timestamped folder; an update writes a new folder and renames a new
/// `..data` link over the old one, then deletes the old folder.
#[cfg(unix)]
#[test]
fn a_configmap_swap_is_reloaded_every_time() {
    use std::os::unix::fs::symlink;
    let dir = crate::scratch("reload-configmap");
    let cm = dir.join("cm");
    std::fs::create_dir_all(&cm).unwrap();
    files_into(&cm.join("..v1"), None);
    symlink("..v1", cm.join("..data")).unwrap();
    symlink("..data/intents", cm.join("intents")).unwrap();
    symlink("..data/replies", cm.join("replies")).unwrap();
    let bot = Bot::start(&dir, &cm.join("intents"), &cm.join("replies"));
    let all = shipped_intents();
    let mut old = "..v1";
    for (n, (version, drop)) in [("..v2", Some(SPARE)), ("..v3", None), ("..v4", Some(SPARE))]
        .into_iter()
        .enumerate()
    {
        files_into(&cm.join(version), drop);
        symlink(version, cm.join("..data_tmp")).unwrap();
        std::fs::rename(cm.join("..data_tmp"), cm.join("..data")).unwrap();
        std::fs::remove_dir_all(cm.join(old)).unwrap();
        old = version;
        let line = bot.reload(n + 1);
        assert!(line.contains("reloaded"), "swap to {version}: {line}");
        let want = if drop.is_some() { all - 1 } else { all };
        assert_eq!(intents_in(&line), want, "swap to {version}: {line}");
    }
}

/// `rm -rf intents; cp -r new/intents intents`: the new folder is read, and
/// its later edits are seen too.
#[test]
fn a_folder_deleted_and_created_again_stays_watched() {
    let dir = crate::scratch("reload-recreated");
    files_into(&dir, None);
    let bot = Bot::start(&dir, &dir.join("intents"), &dir.join("replies"));
    let all = shipped_intents();
    std::fs::remove_dir_all(dir.join("intents")).unwrap();
    std::fs::remove_dir_all(dir.join("replies")).unwrap();
    files_into(&dir, Some(SPARE));
    // The folders vanish and come back: reloads until the new files are in force.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !bot
        .reloads()
        .last()
        .is_some_and(|l| l.contains("reloaded") && intents_in(l) == all - 1)
    {
        assert!(
            Instant::now() < deadline,
            "the new folders were not loaded:\n{}",
            bot.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // An edit in the new folder is a reload.
    let before = bot.reloads().len();
    crate::copy_files(&dir);
    let line = bot.reload(before + 1);
    std::thread::sleep(Duration::from_millis(500));
    let line = bot.reloads().last().cloned().unwrap_or(line);
    assert!(line.contains("reloaded"), "{line}");
    assert_eq!(intents_in(&line), all, "{line}");
}

/// A FIFO named like an intent file is reported, never opened for a blocking
/// read: the next change reloads as usual.
#[cfg(unix)]
#[test]
fn a_fifo_among_the_files_never_blocks_reload() {
    let dir = crate::scratch("reload-fifo");
    files_into(&dir, None);
    let bot = Bot::start(&dir, &dir.join("intents"), &dir.join("replies"));
    let fifo = dir.join("intents/zz_fifo.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let line = bot.reload(1);
    assert!(line.contains("previous version stays in force"), "{line}");
    bot.wait_for(
        "zz_fifo.toml: not a regular file",
        1,
        Duration::from_secs(5),
    );
    std::fs::remove_file(&fifo).unwrap();
    let line = bot.reload(2);
    assert!(line.contains("reloaded"), "{}", bot.log());
    assert_eq!(intents_in(&line), shipped_intents());
}

/// Twenty reloads: the floor of the resident memory over the last five is within
/// `RELOAD_GROWTH_KIB` of what it was before the first. Measured (release):
/// 35 MB at the start, 111 MB after 20 reloads before the fix (freed memory
/// kept in glibc's arenas); debug after: 48 MB, then 54–63 MB.
#[cfg(target_os = "linux")]
#[test]
fn twenty_reloads_leave_memory_bounded() {
    /// Most resident memory 20 reloads may add: room for one engine being
    /// replaced (~15–20 MB) and the allocator's slack, not one per reload.
    const RELOAD_GROWTH_KIB: u64 = 40 * 1024;
    let dir = crate::scratch("reload-memory");
    files_into(&dir, None);
    let bot = Bot::start(&dir, &dir.join("intents"), &dir.join("replies"));
    let start = bot.rss_kib();
    let stock = dir.join("intents/stock.toml");
    let original = std::fs::read_to_string(&stock).unwrap();
    let mut rss = Vec::new();
    for n in 1..=20 {
        std::fs::write(&stock, format!("{original}\n# edit {n}\n")).unwrap();
        let line = bot.reload(n);
        assert!(line.contains("reloaded"), "{line}");
        rss.push(bot.rss_kib());
    }
    eprintln!("VmRSS at the start {start} KiB, after each reload: {rss:?}");
    // One sample can land while an editor's second write event is still
    // building an engine (CI saw 63 MB, 97 MB, 63 MB in a row), so the floor
    // of the last five samples is the measure: a leak lifts the floor with
    // every reload (35 MB to 111 MB before the fix), a build in flight does not.
    let floor = rss[15..].iter().copied().min().unwrap_or(start);
    let growth = floor.saturating_sub(start);
    assert!(
        growth <= RELOAD_GROWTH_KIB,
        "memory floor grew {growth} KiB over 20 reloads (limit {RELOAD_GROWTH_KIB}): {start} then {rss:?}"
    );
    // And no single sample holds more than two engines' worth above the start.
    let peak = rss.iter().copied().max().unwrap_or(start);
    assert!(
        peak.saturating_sub(start) <= 2 * RELOAD_GROWTH_KIB,
        "memory peaked {peak} KiB (start {start}): {rss:?}"
    );
}
