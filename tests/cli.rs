//! The command line as a shop's operator uses it.

use super::{run_with_stdin, xiaoer};

#[test]
fn classify_prints_a_readable_decision() {
    let out = xiaoer(&["classify", "亲 在吗 有货吗"]).output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("intents:    stock"), "{s}");
    assert!(s.contains("action:     reply"), "{s}");
    let reply = s
        .lines()
        .find_map(|l| l.strip_prefix("reply:      "))
        .unwrap();
    assert!(reply.contains('亲') && reply.chars().count() > 10, "{s}");
}

#[test]
fn explain_names_the_evidence() {
    let out = xiaoer(&["classify", "--explain", "能发顺丰吗"])
        .output()
        .unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("keyword \"顺丰\" → courier"), "{s}");
    // A clause its phrases do not settle is compared with the examples.
    let out = xiaoer(&["classify", "--explain", "这个冬天穿会冷吗"])
        .output()
        .unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(
        s.contains("example ") && s.contains("intents/"),
        "examples are named with file:line: {s}"
    );
}

#[test]
fn jsonl_keeps_order_and_conversations() {
    let input = [
        r#"{"text": "这个包能便宜点吗", "conversation": "a"}"#,
        r#"{"text": "Is this in stock?", "conversation": "b"}"#,
        r#"{"text": "再少点吧 100块行不行", "conversation": "a"}"#,
        r#"{"text": "便宜点嘛 老顾客了", "conversation": "a"}"#,
        r#"{"text": "便宜点嘛"}"#,
    ]
    .join("\n");
    let out = run_with_stdin(&["classify", "--jsonl"], input.as_bytes());
    assert!(out.status.success());
    let v: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v.len(), 5);
    assert_eq!(v[1]["lang"], "en");
    assert_eq!(v[1]["intents"][0], "stock");
    for k in [0, 2, 3, 4] {
        assert_eq!(v[k]["intents"][0], "bargain", "line {}: {}", k + 1, v[k]);
    }
    assert_eq!(v[0]["action"], "reply");
    assert_eq!(v[2]["action"], "reply");
    assert_eq!(
        v[3]["action"], "escalate",
        "third ask in conversation a escalates"
    );
    assert_eq!(v[3]["reason"], "repeated_bargain");
    assert_eq!(
        v[4]["action"], "reply",
        "a message with no conversation starts fresh"
    );
    assert_ne!(
        v[0]["reply"], v[2]["reply"],
        "the second ask gets a different line"
    );
}

/// The shop's first `xiaoer check`, in the repository with its folders and
/// configuration, is clean: ok and no warning (issue 11, item 17: it gave 5;
/// `check` exits 0 with warnings, so the count is what tells).
#[test]
fn check_passes_on_the_shipped_files() {
    let out = xiaoer(&["check"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("checked: intents "), "{text}");
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("ok: ") && last.ends_with(" 0 warnings"),
        "{text}"
    );
    assert!(!text.contains("warning:"), "{text}");
}

#[test]
fn environment_overrides_configuration() {
    let out = {
        let mut c = xiaoer(&["classify", "--jsonl"]);
        c.env("XIAOER_SHOP__ZH__COURIER", "测试快递");
        let mut child = c
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        for _ in 0..4 {
            stdin
                .write_all(
                    "{\"text\": \"你们默认发什么快递\", \"conversation\": \"c\"}\n".as_bytes(),
                )
                .unwrap();
        }
        drop(stdin);
        child.wait_with_output().unwrap()
    };
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("测试快递"), "{s}");
}

#[test]
fn bad_config_is_a_clear_error() {
    let out = xiaoer(&["check"])
        .env("XIAOER_NLU__THRESHOLD", "7")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nlu.threshold"));
    let out = xiaoer(&["--config", "/nonexistent/x.toml", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.toml"));
}

/// What a finished (or, after `limit`, killed) run of the binary left.
pub struct Ran {
    /// The exit code (`None`: killed at the time limit).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// As [`run_in`], for table rows that name their scratch folder as `{dir}`:
/// writes `files` there and runs with `{dir}` replaced in the files' contents,
/// `args` and `env` values (30 s limit).
pub fn run_in_dir(
    dir: &std::path::Path,
    files: &[(&str, &str)],
    args: &[&str],
    env: &[(&str, &str)],
) -> Ran {
    let d = dir.to_str().unwrap();
    let sub = |s: &str| s.replace("{dir}", d);
    for (name, content) in files {
        std::fs::write(dir.join(name), sub(content)).unwrap();
    }
    let args: Vec<String> = args.iter().map(|a| sub(a)).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), sub(v))).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    run_in(dir, &args, &env, std::time::Duration::from_secs(30))
}

/// Runs `xiaoer args` in `dir` with `env`, killed after `limit` (commands
/// that should fail at once, `run` and `demo` among them, must not hang a
/// test when they start instead).
pub fn run_in(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    limit: std::time::Duration,
) -> Ran {
    use std::process::Stdio;
    let mut child = xiaoer(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xiaoer runs");
    let deadline = std::time::Instant::now() + limit;
    let mut killed = false;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            killed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Ran {
        code: if killed { None } else { out.status.code() },
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A scratch folder, canonical so that messages naming it compare equal.
pub fn canonical_scratch(name: &str) -> std::path::PathBuf {
    std::fs::canonicalize(super::scratch(name)).unwrap()
}

/// `channel.token_file`: errors name the file and where the key was set,
/// never the token.
#[test]
fn token_file_errors_name_the_file_never_the_token() {
    struct Row {
        name: &'static str,
        /// Files to write in the row's folder: (name, content).
        files: &'static [(&'static str, &'static str)],
        env: &'static [(&'static str, &'static str)],
        args: &'static [&'static str],
        stderr: &'static [&'static str],
    }
    const RUN: &[&str] = &["run", "--url", "ws://127.0.0.1:9/", "--state", "{dir}/s.db"];
    let rows = [
        Row {
            name: "both in the environment",
            files: &[("token", "tok-file-1\n")],
            env: &[
                ("XIAOER_CHANNEL__TOKEN", "tok-env-1"),
                ("XIAOER_CHANNEL__TOKEN_FILE", "{dir}/token"),
            ],
            args: RUN,
            stderr: &[
                "channel.token (set in the environment variable XIAOER_CHANNEL__TOKEN) and channel.token_file (set in the environment variable XIAOER_CHANNEL__TOKEN_FILE) are both set",
            ],
        },
        Row {
            name: "token in the file, token_file in the environment; check refuses it too",
            files: &[
                ("x.toml", "[channel]\nurl = \"ws://127.0.0.1:9/\"\ntoken = \"tok-conf-2\"\n"),
                ("token", "tok-file-2\n"),
            ],
            env: &[("XIAOER_CHANNEL__TOKEN_FILE", "{dir}/token")],
            args: &["--config", "{dir}/x.toml", "check"],
            stderr: &["channel.token (set in {dir}/x.toml:3) and channel.token_file", "both set"],
        },
        Row {
            name: "a file that is not there",
            files: &[],
            env: &[("XIAOER_CHANNEL__TOKEN_FILE", "{dir}/missing")],
            args: RUN,
            stderr: &[
                "channel.token_file = \"{dir}/missing\" (from the environment variable XIAOER_CHANNEL__TOKEN_FILE): cannot read the token file",
            ],
        },
        Row {
            name: "a folder, named in the configuration file",
            files: &[("x.toml", "[channel]\ntoken_file = \"{dir}\"\n")],
            env: &[],
            args: &["--config", "{dir}/x.toml", "run", "--url", "ws://127.0.0.1:9/", "--state", "{dir}/s.db"],
            stderr: &["{dir}/x.toml:2: channel.token_file = \"{dir}\": cannot read the token file"],
        },
        Row {
            name: "an empty file",
            files: &[("token", "\n")],
            env: &[("XIAOER_CHANNEL__TOKEN_FILE", "{dir}/token")],
            args: RUN,
            stderr: &["\"{dir}/token\"", "the token file is empty"],
        },
        Row {
            name: "two lines",
            files: &[("token", "tok-line-a\ntok-line-b\n")],
            env: &[("XIAOER_CHANNEL__TOKEN_FILE", "{dir}/token")],
            args: RUN,
            stderr: &["\"{dir}/token\"", "more than one line"],
        },
    ];
    for (i, row) in rows.iter().enumerate() {
        let dir = canonical_scratch(&format!("token-file-{i}"));
        let d = dir.to_str().unwrap();
        let sub = |s: &str| s.replace("{dir}", d);
        let r = run_in_dir(&dir, row.files, row.args, row.env);
        assert_eq!(r.code, Some(2), "{}: {}{}", row.name, r.stdout, r.stderr);
        for want in row.stderr {
            assert!(
                r.stderr.contains(&sub(want)),
                "{}: wanted {:?} in:\n{}",
                row.name,
                sub(want),
                r.stderr
            );
        }
        // No token, from any source, in anything printed.
        for secret in ["tok-file", "tok-env", "tok-conf", "tok-line"] {
            assert!(
                !r.stderr.contains(secret) && !r.stdout.contains(secret),
                "{}: {secret} printed:\n{}{}",
                row.name,
                r.stdout,
                r.stderr
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// `run` sends the token read from `channel.token_file`, its trailing newline
/// dropped, as the bearer token of its connection, and never logs it.
#[test]
fn run_sends_the_token_from_the_file() {
    use std::io::{BufRead, BufReader};
    let rows: &[(&str, &str, &str)] = &[
        // (how the file is set, its content, the token the gateway must see)
        ("XIAOER_CHANNEL__TOKEN_FILE", "tok-sent-1\n", "tok-sent-1"),
        ("XIAOER_CHANNEL__TOKEN_FILE", "tok-sent-2\r\n", "tok-sent-2"),
        ("config", "tok-sent-3", "tok-sent-3"),
    ];
    for (i, (how, content, want)) in rows.iter().enumerate() {
        let dir = canonical_scratch(&format!("token-sent-{i}"));
        let file = dir.join("token");
        std::fs::write(&file, content).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        let state = dir.join("s.db");
        let mut args = vec!["run", "--url", &url, "--state", state.to_str().unwrap()];
        let mut cmd;
        let conf = dir.join("x.toml");
        if *how == "config" {
            std::fs::write(
                &conf,
                format!("[channel]\ntoken_file = {:?}\n", file.to_str().unwrap()),
            )
            .unwrap();
            let mut all = vec!["--config", conf.to_str().unwrap()];
            all.append(&mut args);
            cmd = xiaoer(&all);
        } else {
            cmd = xiaoer(&args);
            cmd.env(how, &file);
        }
        let log = dir.join("bot.log");
        let mut bot = cmd
            .env("XIAOER_LOG", "debug")
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        // The bot connects within seconds (a debug build loads its files first).
        listener.set_nonblocking(true).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(_) if std::time::Instant::now() < deadline => {
                    assert!(
                        bot.try_wait().unwrap().is_none(),
                        "{how}: the bot exited:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                Err(e) => panic!("{how}: no connection: {e}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut auth = None;
        for line in BufReader::new(&stream).lines() {
            let line = line.unwrap();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("authorization") {
                    auth = Some(v.trim().to_string());
                }
            }
        }
        drop(stream);
        let _ = bot.kill();
        let _ = bot.wait();
        assert_eq!(
            auth.as_deref(),
            Some(format!("Bearer {want}").as_str()),
            "{how} {content:?}"
        );
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(!logged.contains(want), "the token was logged:\n{logged}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The README's quick start on a fresh machine: `xiaoer demo` in a folder
/// with no configuration and no intents/ or replies/ starts on the built-in
/// files, and says so once in the log.
#[test]
fn demo_starts_on_a_fresh_machine_on_the_built_in_files() {
    use std::io::{BufRead, BufReader};
    let dir = canonical_scratch("fresh-demo");
    let log = dir.join("demo.log");
    let mut demo = xiaoer(&["demo", "--port", "0"])
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .env_remove("XIAOER_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let started = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("agent console:"));
    let _ = demo.kill();
    let _ = demo.wait();
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(started, "demo did not start:\n{logged}");
    assert_eq!(
        logged
            .matches("running on the intents and replies built into the binary")
            .count(),
        1,
        "{logged}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Logs written to a pipe or a file are plain text: no colour codes, with or
/// without NO_COLOR (a log collector would store the escapes).
#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    let dir = canonical_scratch("plain-logs");
    for no_color in [None, Some("1")] {
        let mut c = xiaoer(&["classify", "在吗"]);
        c.current_dir(&dir)
            .env("XIAOER_LOG", "info")
            .env_remove("NO_COLOR");
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        let out = c.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains("running on the intents and replies built into the binary"),
            "the built-in files are logged: {stderr}"
        );
        assert!(
            !stderr.contains('\x1b'),
            "NO_COLOR {no_color:?}: colour codes in a pipe: {stderr:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The other side of the rule: on a terminal (a pseudo-terminal made by
/// util-linux `script`) the log is coloured, unless NO_COLOR is set. Where
/// `script` is missing the test says so on stderr and checks nothing.
#[test]
fn logs_to_a_terminal_are_coloured_unless_no_color() {
    let Some(script) = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        eprintln!("no util-linux `script` here: terminal colours not checked");
        return;
    };
    let dir = canonical_scratch("tty-logs");
    // (NO_COLOR, colour codes expected)
    for (no_color, coloured) in [(None, true), (Some("1"), false)] {
        let mut c = std::process::Command::new(script);
        c.args([
            "-qec",
            &format!("{} classify 在吗", env!("CARGO_BIN_EXE_xiaoer")),
            "/dev/null",
        ])
        .current_dir(&dir)
        .env("XIAOER_LOG", "info")
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::null());
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        let out = c.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(
            text.contains("running on the intents and replies built into the binary"),
            "{text}"
        );
        assert_eq!(
            text.contains("\x1b["),
            coloured,
            "NO_COLOR {no_color:?} on a terminal: {text:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `eval` refuses a labelled file it cannot score truthfully, naming the
/// file and line: one row per case.
#[test]
fn eval_refuses_files_it_cannot_score() {
    let good = r#"{"text": "有货吗", "intents": ["stock"], "action": "reply"}"#;
    let rows: &[(&str, &str, &str)] = &[
        ("empty file", "", "gold.jsonl: no labelled messages"),
        (
            "blank lines only",
            "\n  \n\n",
            "gold.jsonl: no labelled messages",
        ),
        (
            "an unknown intent on line 2",
            &format!(
                "{good}\n{}\n",
                r#"{"text": "x", "intents": ["stok"], "action": "reply"}"#
            ),
            "gold.jsonl:2: unknown intent \"stok\"",
        ),
        (
            "an unknown intent in a dialogue's turn",
            &format!(
                "{good}\n\n{}\n",
                r#"{"id": "d", "turns": [{"text": "x", "intents": ["stock"], "action": "reply"}, {"text": "y", "intents": ["refund_now"], "action": "reply"}]}"#
            ),
            "gold.jsonl:3: unknown intent \"refund_now\"",
        ),
        (
            "no intents",
            r#"{"text": "x", "intents": [], "action": "reply"}"#,
            "gold.jsonl:1: \"intents\" is empty",
        ),
        (
            "an action that is neither",
            r#"{"text": "x", "intents": ["stock"], "action": "answer"}"#,
            "gold.jsonl:1: action \"answer\": must be \"reply\" or \"escalate\"",
        ),
        (
            "a dialogue with no turns",
            r#"{"id": "d", "turns": []}"#,
            "gold.jsonl:1: the dialogue has no turns",
        ),
        ("not JSON", "{text", "gold.jsonl:1: key must be a string"),
    ];
    let dir = canonical_scratch("eval-refuses");
    for (name, content, want) in rows {
        std::fs::write(dir.join("gold.jsonl"), content).unwrap();
        let r = run_in(
            &dir,
            &["eval", "gold.jsonl"],
            &[],
            std::time::Duration::from_secs(30),
        );
        let shown = format!("{name}\nstdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
        assert_eq!(r.code, Some(2), "{shown}");
        assert!(r.stderr.contains(want), "wanted {want:?}: {shown}");
        assert!(r.stdout.is_empty(), "no scores: {shown}");
    }
    // The ids that exist, "none" among them, are accepted.
    std::fs::write(
        dir.join("gold.jsonl"),
        format!(
            "{good}\n{}\n",
            r#"{"text": "今天天气", "intents": ["none"], "action": "escalate"}"#
        ),
    )
    .unwrap();
    let r = run_in(
        &dir,
        &["eval", "gold.jsonl"],
        &[],
        std::time::Duration::from_secs(30),
    );
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("gold.jsonl: 2 messages"), "{}", r.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}
