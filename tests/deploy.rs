//! The deployment kit in deploy/: the production configuration loads and runs,
//! the systemd unit verifies, and the Dockerfile and compose file say what the
//! rest of the kit assumes (no Docker engine here: those are read, not run).

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const PROD: &str = "deploy/xiaoer.prod.toml";
/// Where every part of the kit keeps the bot's state.
const STATE: &str = "/var/lib/xiaoer/xiaoer.db";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The prod configuration from the repository root: its /etc/xiaoer paths
/// replaced by the repository's folders through the environment, as the
/// compose file does for the container's.
fn prod(args: &[&str]) -> std::process::Command {
    let mut all = vec!["--config", PROD];
    all.extend_from_slice(args);
    let mut c = crate::xiaoer(&all);
    c.env("XIAOER_PATHS__INTENTS", "intents")
        .env("XIAOER_PATHS__REPLIES", "replies")
        .env("NO_COLOR", "1");
    c
}

#[test]
fn prod_config_passes_check() {
    let out = prod(&["check"]).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("ok:"), "{stdout}{stderr}");
}

/// Kills the bot if the test fails before it stops it.
struct Bot(Child);

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prod_config_runs_retries_an_unreachable_gateway_and_stops_on_sigterm() {
    let dir = crate::scratch("deploy-run");
    let state = dir.join("x.db");
    let log = dir.join("bot.log");
    let token = "deploy-test-token-7f3a";
    // The token as in production: a file (the unit's credential, compose's
    // secret), never argv, with the newline an editor leaves.
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let child = prod(&[
        "run",
        "--url",
        "ws://127.0.0.1:9/",
        "--state",
        state.to_str().unwrap(),
    ])
    .env("XIAOER_CHANNEL__TOKEN_FILE", &token_file)
    // The prod file's metrics address is fixed (127.0.0.1:9464); tests must
    // not depend on that port being free: any free port, read from the log.
    .env("XIAOER_METRICS__LISTEN", "127.0.0.1:0")
    .env("XIAOER_LOG", "info")
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&log).unwrap())
    .spawn()
    .expect("xiaoer run starts");
    let mut bot = Bot(child);
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();

    // The store is opened once the files are loaded (seconds in a debug
    // build on a busy machine), then the bot connects.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !state.is_file() {
        assert!(
            bot.0.try_wait().unwrap().is_none(),
            "xiaoer run exited before creating its state file:\n{}",
            logged()
        );
        assert!(
            Instant::now() < deadline,
            "no state file at {} after 20 s:\n{}",
            state.display(),
            logged()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Nothing listens on port 9: the bot keeps retrying with backoff.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        bot.0.try_wait().unwrap().is_none(),
        "xiaoer run exited instead of retrying the gateway:\n{}",
        logged()
    );

    // The probes an orchestrator uses: alive, but not ready (no gateway).
    let line = logged();
    let metrics = line
        .split("metrics on http://")
        .nth(1)
        .and_then(|rest| rest.split("/metrics").next())
        .unwrap_or_else(|| panic!("no metrics address in the log:\n{line}"));
    assert_eq!(http_status(metrics, "/healthz"), 200);
    assert_eq!(http_status(metrics, "/readyz"), 503);

    let _ = std::process::Command::new("kill")
        .args(["-TERM", &bot.0.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(s) = bot.0.try_wait().unwrap() {
            break s.code();
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM:\n{}",
            logged()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let log = logged();
    assert_eq!(code, Some(0), "exit after SIGTERM:\n{log}");
    assert!(!log.contains(token), "the token was logged:\n{log}");
}

/// The status code of `GET path` at `addr`.
fn http_status(addr: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: {reply:?}"))
}

/// The unit's static facts, then `systemd-analyze verify` and `security`
/// where systemd-analyze exists. Without it (no systemd on this machine) only
/// the static part runs and the test passes with a note on stderr.
#[test]
fn systemd_unit_is_consistent_and_verifies() {
    let unit = read("deploy/xiaoer.service");
    let lines: Vec<&str> = unit.lines().map(str::trim).collect();
    let value = |key: &str| -> Vec<&str> {
        lines
            .iter()
            .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .collect()
    };
    let exec = value("ExecStart");
    assert_eq!(exec.len(), 1, "one ExecStart");
    assert_eq!(
        exec[0],
        format!("/usr/local/bin/xiaoer --config /etc/xiaoer/xiaoer.toml run --state {STATE}")
    );
    assert_eq!(value("User"), ["xiaoer"]);
    assert_eq!(value("StateDirectory"), ["xiaoer"], "{STATE} is systemd's");
    assert_eq!(value("WorkingDirectory"), ["/etc/xiaoer"]);
    assert_eq!(value("EnvironmentFile"), ["-/etc/xiaoer/xiaoer.env"]);
    // The token: a credential the bot reads through channel.token_file.
    assert_eq!(value("LoadCredential"), ["token:/etc/xiaoer/token"]);
    assert!(
        value("Environment").contains(&"XIAOER_CHANNEL__TOKEN_FILE=%d/token"),
        "{:?}",
        value("Environment")
    );
    assert!(
        !unit.contains("XIAOER_CHANNEL__TOKEN="),
        "the token travels as a credential, not in the environment"
    );
    assert_eq!(value("KillSignal"), ["SIGTERM"]);
    assert_eq!(value("Restart"), ["on-failure"]);
    for (key, want) in [
        ("Type", "exec"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectControlGroups", "yes"),
        ("ProtectClock", "yes"),
        ("ProtectHostname", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("RestrictNamespaces", "yes"),
        ("RestrictRealtime", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("SystemCallArchitectures", "native"),
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
        ("UMask", "0077"),
    ] {
        assert!(value(key).contains(&want), "{key}={want} missing");
    }
    assert!(value("SystemCallFilter").contains(&"@system-service"));
    assert!(!unit.contains("--token"), "the token never goes in argv");

    let Some(analyze) = find_in_path("systemd-analyze") else {
        eprintln!("note: systemd-analyze not found; deploy/xiaoer.service not verified");
        return;
    };
    // verify insists the ExecStart binary exists: point it at the built one.
    let dir = crate::scratch("deploy-unit");
    let file = dir.join("xiaoer.service");
    let bin = env!("CARGO_BIN_EXE_xiaoer");
    std::fs::write(
        &file,
        unit.replace(
            "ExecStart=/usr/local/bin/xiaoer ",
            &format!("ExecStart={bin} "),
        ),
    )
    .unwrap();
    let out = std::process::Command::new(&analyze)
        .arg("verify")
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // verify exits 0 on an unknown key but says so; other units on the
    // machine may draw warnings of their own, which are not ours to judge.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("xiaoer.service") || l.contains(bin))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify:\n{stderr}"
    );

    // The exposure score (offline mode: systemd 250 or newer).
    let out = std::process::Command::new(&analyze)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    match text
        .lines()
        .find_map(|l| l.split("exposure level for xiaoer.service:").nth(1))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f32>().ok())
    {
        Some(score) => assert!(score <= 2.0, "exposure {score} (was 1.1):\n{text}"),
        None => eprintln!(
            "note: no offline `systemd-analyze security` here: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    }
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Instructions of a Dockerfile, continuation lines joined, comments dropped.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if cur.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(head) => {
                cur.push_str(head);
                cur.push(' ');
            }
            None => {
                cur.push_str(t);
                let (op, rest) = cur.split_once(char::is_whitespace).unwrap_or((&cur, ""));
                out.push((op.to_uppercase(), rest.trim().to_string()));
                cur.clear();
            }
        }
    }
    out
}

#[test]
fn dockerfile_is_multi_stage_non_root_and_copies_what_exists() {
    let text = read("deploy/Dockerfile");
    let ins = instructions(&text);
    let of = |op: &str| -> Vec<&str> {
        ins.iter()
            .filter(|(o, _)| o == op)
            .map(|(_, r)| r.as_str())
            .collect()
    };
    let from = of("FROM");
    assert!(
        from.len() >= 2 && from.iter().any(|f| f.ends_with("AS builder")),
        "multi-stage, with a builder: {from:?}"
    );
    assert!(
        from.last().unwrap().starts_with("${RUNTIME_IMAGE}")
            && of("ARG").contains(&"RUNTIME_IMAGE=debian:bookworm-slim")
            && of("ARG").contains(&"RUST_IMAGE=rust:1-bookworm"),
        "the final stage is debian:bookworm-slim: {from:?} {:?}",
        of("ARG")
    );
    let builds: Vec<&str> = of("RUN")
        .into_iter()
        .filter(|r| r.contains("cargo build"))
        .collect();
    assert_eq!(builds.len(), 2, "a dependency layer, then the real build");
    assert!(builds
        .iter()
        .all(|r| r.contains("--release --locked --bin xiaoer")));
    let user = *of("USER").last().expect("a USER");
    assert!(
        !["root", "0", "0:0"].contains(&user) && user.starts_with("10001"),
        "USER {user}"
    );
    assert_eq!(of("ENTRYPOINT"), [r#"["xiaoer"]"#]);
    assert_eq!(
        of("CMD"),
        [format!(r#"["run", "--state", "{STATE}"]"#).as_str()]
    );
    assert_eq!(of("WORKDIR").last(), Some(&"/srv/xiaoer"));
    assert!(of("VOLUME").iter().any(|v| v.contains("/var/lib/xiaoer")));
    assert!(of("RUN").iter().any(|r| r.contains("ca-certificates")));

    // Every COPY from the build context names something in the repository and
    // not excluded by the dockerignore (a renamed folder breaks the image).
    let ignore = read("deploy/Dockerfile.dockerignore");
    let ignored: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for want in ["target", ".git", "tests/browser/node_modules"] {
        assert!(ignored.contains(&want), "dockerignore lacks {want}");
    }
    for args in of("COPY") {
        if args.starts_with("--from") {
            continue;
        }
        let words: Vec<&str> = args.split_whitespace().collect();
        for src in &words[..words.len() - 1] {
            assert!(
                root().join(src).exists(),
                "COPY {src}: not in the repository"
            );
            assert!(
                !ignored.contains(src),
                "COPY {src}: excluded by the dockerignore"
            );
        }
    }
    // The real build takes the whole context: the build needs these in it.
    assert!(
        of("COPY").contains(&". ."),
        "the builder copies the context"
    );
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "src",
        "web",
        "intents",
        "replies",
        "xiaoer.toml",
    ] {
        assert!(root().join(needed).exists(), "{needed}");
        assert!(
            !ignored
                .iter()
                .any(|i| i.trim_start_matches("**/") == needed),
            "the dockerignore excludes {needed}"
        );
    }
}

/// `pattern` (with `*` standing for one path segment's characters) matches `path`.
fn glob(pattern: &str, path: &str) -> bool {
    let (ps, xs): (Vec<&str>, Vec<&str>) =
        (pattern.split('/').collect(), path.split('/').collect());
    ps.len() == xs.len()
        && ps.iter().zip(&xs).all(|(p, x)| match p.split_once('*') {
            None => p == x,
            Some((a, b)) => x.len() >= a.len() + b.len() && x.starts_with(a) && x.ends_with(b),
        })
}

/// The skeleton stage stubs every target Cargo.toml declares: cargo refuses a
/// manifest whose bin, test or bench file is missing, so a target the
/// skeleton misses breaks the image's dependency layer.
#[test]
fn dockerfile_skeleton_covers_every_cargo_target() {
    let text = read("deploy/Dockerfile");
    let ins = instructions(&text);
    let run = ins
        .iter()
        .find(|(o, r)| o == "RUN" && r.contains("/skeleton"))
        .map(|(_, r)| r.as_str())
        .expect("the skeleton stage");
    let globs: Vec<&str> = run
        .split("for f in")
        .nth(1)
        .and_then(|r| r.split("; do").next())
        .expect("for f in ...; do")
        .split_whitespace()
        .collect();
    let manifest: toml::Value = toml::from_str(&read("Cargo.toml")).unwrap();
    let mut targets = vec!["build.rs".to_string()];
    let lib = manifest
        .get("lib")
        .and_then(|l| l.get("path"))
        .and_then(|p| p.as_str());
    targets.push(lib.unwrap_or("src/lib.rs").to_string());
    for (kind, dir) in [
        ("bin", "src/bin"),
        ("test", "tests"),
        ("bench", "benches"),
        ("example", "examples"),
    ] {
        for t in manifest
            .get(kind)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let path = match (t.get("path"), t.get("name")) {
                (Some(p), _) => p.as_str().unwrap().to_string(),
                (None, Some(n)) => format!("{dir}/{}.rs", n.as_str().unwrap()),
                _ => panic!("a [[{kind}]] without name or path"),
            };
            targets.push(path);
        }
    }
    for t in &targets {
        assert!(
            globs.iter().any(|g| glob(g, t)),
            "the Dockerfile's skeleton does not stub {t} (globs {globs:?})"
        );
    }
    assert!(
        targets.iter().any(|t| t.starts_with("benches/")),
        "{targets:?}"
    );
}

#[test]
fn compose_file_has_the_hardening_and_mounts() {
    let text = read("deploy/docker-compose.yml");
    // No YAML parser among the dependencies: check its lines. YAML forbids tabs.
    assert!(!text.contains('\t'), "tabs in YAML");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    for want in [
        "xiaoer:",
        "context: ..",
        "dockerfile: deploy/Dockerfile",
        "restart: unless-stopped",
        "read_only: true",
        "- /tmp",
        "- ALL",
        "- no-new-privileges:true",
        "stop_grace_period: 30s",
        "- state:/var/lib/xiaoer",
        "- ../intents:/srv/xiaoer/intents:ro",
        "- ../replies:/srv/xiaoer/replies:ro",
        "- ./xiaoer.prod.toml:/srv/xiaoer/xiaoer.toml:ro",
        "XIAOER_CONFIG: /srv/xiaoer/xiaoer.toml",
        "XIAOER_PATHS__INTENTS: /srv/xiaoer/intents",
        "XIAOER_PATHS__REPLIES: /srv/xiaoer/replies",
        "- xiaoer.env",
        // The token: a secret, read through channel.token_file.
        "secrets:",
        "- xiaoer_token",
        "xiaoer_token:",
        "file: ./xiaoer.token",
        "XIAOER_CHANNEL__TOKEN_FILE: /run/secrets/xiaoer_token",
    ] {
        assert!(lines.contains(&want), "docker-compose.yml lacks `{want}`");
    }
    // The bind mounts' sources exist (relative to deploy/).
    for src in ["../intents", "../replies", "./xiaoer.prod.toml"] {
        assert!(root().join("deploy").join(src).exists(), "{src}");
    }
    // The token comes from the secret's file, never from this file.
    assert!(
        !lines
            .iter()
            .any(|l| l.replace("TOKEN_FILE", "").contains("TOKEN")),
        "a token in docker-compose.yml"
    );
    // Neither the secret nor the env file goes into an image.
    let ignore = read("deploy/Dockerfile.dockerignore");
    for want in ["**/*.token", "**/*.env"] {
        assert!(
            ignore.lines().any(|l| l.trim() == want),
            "dockerignore lacks {want}"
        );
    }
}

#[test]
fn scaleout_compose_runs_three_named_instances_on_one_postgres() {
    let text = read("deploy/compose.scaleout.yml");
    assert!(!text.contains('\t'), "tabs in YAML");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    for want in [
        "postgres:",
        "image: postgres:15",
        "POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password",
        "condition: service_healthy",
        "bot-1:",
        "bot-2:",
        "bot-3:",
        "XIAOER_CHANNEL__INSTANCE: bot-1",
        "XIAOER_CHANNEL__INSTANCE: bot-2",
        "XIAOER_CHANNEL__INSTANCE: bot-3",
        "XIAOER_STORE__URL: postgres://xiaoer@postgres:5432/xiaoer",
        "XIAOER_STORE__PASSWORD_FILE: /run/secrets/postgres_password",
        "XIAOER_CHANNEL__TOKEN_FILE: /run/secrets/xiaoer_token",
        "command: [\"run\"]",
        "read_only: true",
        "- no-new-privileges:true",
        "file: ./postgres.password",
    ] {
        assert!(lines.contains(&want), "compose.scaleout.yml lacks `{want}`");
    }
    // The password comes from the secret, never from this file; every
    // instance's store address carries none.
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("xiaoer:") && l.contains('@') && l.contains("://xiaoer:")),
        "a password in a store URL"
    );
    // The instances' configuration keys exist.
    let config = read("xiaoer.toml");
    for key in ["instance = ", "url = ", "synchronous = "] {
        assert!(config.contains(key), "xiaoer.toml lacks {key}");
    }
    let ignore = read("deploy/Dockerfile.dockerignore");
    assert!(
        ignore.lines().any(|l| l.trim() == "**/*.password"),
        "dockerignore lacks **/*.password"
    );
}

/// Every key of a TOML table, as dotted paths.
fn keys(v: &toml::Value, prefix: &str, out: &mut Vec<String>) {
    if let toml::Value::Table(t) = v {
        for (k, v) in t {
            let p = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            keys(v, &p, out);
            out.push(p);
        }
    }
}

#[test]
fn prod_config_mirrors_the_default_with_production_values() {
    let default: toml::Value = toml::from_str(&read("xiaoer.toml")).unwrap();
    let prod: toml::Value = toml::from_str(&read(PROD)).unwrap();
    let (mut want, mut have) = (Vec::new(), Vec::new());
    keys(&default, "", &mut want);
    keys(&prod, "", &mut have);
    let missing: Vec<&String> = want.iter().filter(|k| !have.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "{PROD} lacks keys of xiaoer.toml (add them with production values): {missing:?}"
    );

    let get = |path: &str| -> &toml::Value {
        path.split('.')
            .try_fold(&prod, |v, k| v.get(k))
            .unwrap_or_else(|| panic!("{path}"))
    };
    let s = |path: &str| get(path).as_str().unwrap_or_else(|| panic!("{path}"));
    assert_eq!(s("store.path"), STATE);
    assert_eq!(s("store.synchronous"), "full");
    assert_eq!(s("channel.token"), "", "the token goes in the environment");
    assert!(s("channel.url").starts_with("wss://"));
    assert_eq!(s("paths.intents"), "/etc/xiaoer/intents");
    assert_eq!(s("paths.replies"), "/etc/xiaoer/replies");
    for addr in ["demo.listen", "metrics.listen"] {
        let a: std::net::SocketAddr = s(addr).parse().unwrap_or_else(|e| panic!("{addr}: {e}"));
        assert!(a.ip().is_loopback(), "{addr} = {a} must stay on loopback");
    }
    for same in ["timing", "nlu"] {
        assert_eq!(
            get(same),
            default.get(same).unwrap(),
            "[{same}] as the default"
        );
    }
    // The state path is the one the unit and the image use.
    assert!(read("deploy/xiaoer.service").contains(&format!("--state {STATE}")));
    assert!(Path::new(STATE).starts_with("/var/lib/xiaoer"));
}
