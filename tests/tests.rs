//! Whole-binary and whole-engine tests, one test binary (it links once).

mod adversarial;
mod bad_input;
mod bench_cli;
mod browser;
mod catalog;
mod cli;
mod deploy;
mod desk;
mod eval_agreement;
mod files;
mod first_run;
mod live;
mod nlu_crate;
mod proactive;
mod properties;
mod regression;
mod reload;
mod savecat;
mod scaleout;
mod store;
mod teach;
mod web_security;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// How long a started bot may take to connect to a test's gateway: a
/// watchdog, not a speed claim (a debug build loading its files beside other
/// tests on 2 busy cores took over 10 s).
pub const CONNECT_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Waits until `f` holds, at most [`CONNECT_WAIT`] (a watchdog, not a timing).
pub async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + CONNECT_WAIT;
    while !f() {
        assert!(
            std::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The built `xiaoer` binary, run from the repository root.
pub fn xiaoer(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xiaoer"));
    c.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Runs `xiaoer args` with `stdin` bytes.
pub fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = xiaoer(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xiaoer runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// The shared folder beside the repository (eval sets, scorer).
pub fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// A fresh empty folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("xiaoer-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Copies the repository's intents/ and replies/ into `dir`.
pub fn copy_files(dir: &std::path::Path) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for sub in ["intents", "replies"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for e in std::fs::read_dir(root.join(sub)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, dir.join(sub).join(p.file_name().unwrap())).unwrap();
        }
    }
}

/// The shared engine for in-process tests (built once).
pub fn engine() -> &'static xiaoer::Engine {
    static E: std::sync::LazyLock<xiaoer::Engine> = std::sync::LazyLock::new(|| {
        xiaoer::Engine::load(
            xiaoer::config::Config::defaults(),
            xiaoer::FileSource::Embedded,
        )
        .expect("built-in files load")
    });
    &E
}

/// A fresh, empty PostgreSQL database for one test on the server that
/// `scripts/test` started (`XIAOER_TEST_PG_URL`), as a `postgres://` URL;
/// `None` when `XIAOER_SKIP_PG` is set. Without either it fails, naming both:
/// a PostgreSQL test never passes by not running.
pub async fn pg_database(name: &str) -> Option<String> {
    if std::env::var_os("XIAOER_SKIP_PG").is_some() {
        eprintln!("{name}: PostgreSQL part skipped (XIAOER_SKIP_PG)");
        return None;
    }
    let admin = std::env::var("XIAOER_TEST_PG_URL").expect(
        "XIAOER_TEST_PG_URL is not set: run the tests through scripts/test (it starts a \
         throwaway PostgreSQL), or set XIAOER_SKIP_PG=1 to skip the PostgreSQL tests",
    );
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach XIAOER_TEST_PG_URL ({admin}): {e}"));
    let conn = tokio::spawn(conn);
    let db = format!("xt_{}_{name}", std::process::id());
    // One statement per call: neither runs inside a transaction block.
    for sql in [
        format!("DROP DATABASE IF EXISTS {db}"),
        format!("CREATE DATABASE {db} TEMPLATE template0"),
    ] {
        client
            .batch_execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
    drop(client);
    let _ = conn.await;
    // The admin URL with the new database in its path.
    let start = admin.find("://").map(|i| i + 3).unwrap_or(0);
    let path = admin[start..].find('/').map(|i| start + i);
    let query = admin.find('?');
    Some(match (path, query) {
        (Some(p), Some(q)) if p < q => format!("{}/{db}{}", &admin[..p], &admin[q..]),
        (Some(p), None) => format!("{}/{db}", &admin[..p]),
        (None, Some(q)) => format!("{}/{db}{}", &admin[..q], &admin[q..]),
        _ => format!("{admin}/{db}"),
    })
}
