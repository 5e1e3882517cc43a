//! Invalid operators' files: an error naming the file, the line and what is
//! wrong, and a non-zero exit.

use super::{copy_files, scratch, xiaoer};

fn check_with(name: &str, edit: impl Fn(&std::path::Path)) -> (i32, String) {
    let dir = scratch(name);
    copy_files(&dir);
    edit(&dir);
    let out = xiaoer(&[
        "--intents",
        dir.join("intents").to_str().unwrap(),
        "--replies",
        dir.join("replies").to_str().unwrap(),
        "check",
    ])
    .output()
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn replace(path: &std::path::Path, from: &str, to: &str) {
    let s = std::fs::read_to_string(path).unwrap();
    assert!(s.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, s.replacen(from, to, 1)).unwrap();
}

#[test]
fn broken_regex_names_file_and_line() {
    let (code, err) = check_with("regex", |d| {
        let p = d.join("intents/stock.toml");
        replace(&p, "patterns = [\n", "patterns = [\n  '(unclosed',\n");
    });
    assert_eq!(code, 2);
    assert!(
        err.contains("intents/stock.toml:")
            && err.contains("(unclosed")
            && err.contains("does not compile"),
        "{err}"
    );
}

#[test]
fn toml_syntax_error_names_file_and_line() {
    let (code, err) = check_with("syntax", |d| {
        let p = d.join("intents/stock.toml");
        let s = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, format!("{s}\nexamples2 = [\"x\"\n")).unwrap();
    });
    assert_eq!(code, 2);
    assert!(err.contains("intents/stock.toml:"), "{err}");
}

#[test]
fn unknown_template_variable_and_intent() {
    let (code, err) = check_with("vars", |d| {
        replace(
            &d.join("replies/stock.toml"),
            "zh = [\n",
            "zh = [\n  \"亲，{warehouse_name}有货哦\",\n",
        );
        replace(
            &d.join("replies/courier.toml"),
            "intent = \"courier\"",
            "intent = \"couriers\"",
        );
    });
    assert_eq!(code, 2);
    assert!(
        err.contains("replies/stock.toml:") && err.contains("{warehouse_name}"),
        "{err}"
    );
    assert!(
        err.contains("\"couriers\" has no file in intents/"),
        "{err}"
    );
    assert!(err.contains("\"courier\" has no replies"), "{err}");
}

#[test]
fn wrong_action_and_unknown_key() {
    let (code, err) = check_with("action", |d| {
        replace(
            &d.join("intents/stock.toml"),
            "action = \"reply\"",
            "action = \"answer\"\nkeywordz = []",
        );
    });
    assert_eq!(code, 2);
    assert!(
        err.contains("intents/stock.toml:") && err.contains("keywordz"),
        "{err}"
    );
}

/// Where the intent and reply files come from (`paths.intents`,
/// `paths.replies`): a folder the configuration file or the environment names
/// must exist, for every command that loads them (exit 2, the key, the path
/// and `file:line` or the variable); with nothing configured and no default
/// folders the built-in files are used, and said to be.
#[test]
fn configured_folders_must_exist_and_the_built_in_files_are_announced() {
    struct Row {
        name: &'static str,
        /// Files written in the row's folder (`{dir}` replaced).
        files: &'static [(&'static str, &'static str)],
        /// Sub-folders that get a copy of the repository's intents/ and replies/.
        copies: &'static [&'static str],
        /// Empty folders made.
        dirs: &'static [&'static str],
        env: &'static [(&'static str, &'static str)],
        args: &'static [&'static str],
        code: i32,
        stdout: &'static [&'static str],
        stderr: &'static [&'static str],
    }
    const ROW: Row = Row {
        name: "",
        files: &[],
        copies: &[],
        dirs: &[],
        env: &[],
        args: &["check"],
        code: 0,
        stdout: &[],
        stderr: &[],
    };
    // A typo in the implicit ./xiaoer.toml (the real folders are in shop/).
    const TYPO: &[(&str, &str)] = &[(
        "xiaoer.toml",
        "[paths]\nintents = \"shop/intnets\"\nreplies = \"shop/replies\"\n",
    )];
    const TYPO_ERR: &[&str] = &[
        "xiaoer.toml:2: paths.intents = \"shop/intnets\": no such folder (relative to {dir})",
        "never replaced by the built-in files",
    ];
    let rows = [
        Row {
            name: "fresh machine: check says it checked the built-in files",
            stdout: &[
                "checked: the built-in intents and replies (no intents/ or replies/ folder in {dir}, and no configuration sets paths.intents or paths.replies)",
                "checked: the built-in configuration",
                "ok: ",
            ],
            ..ROW
        },
        Row {
            name: "fresh machine: classify runs on the built-in files and logs it",
            args: &["classify", "在吗"],
            stdout: &["intents:    greeting"],
            stderr: &["INFO", "running on the intents and replies built into the binary"],
            ..ROW
        },
        Row {
            name: "a configuration without [paths] on a fresh machine: built-in files",
            files: &[("x.toml", "[nlu]\nthreshold = 0.5\n")],
            args: &["--config", "{dir}/x.toml", "check"],
            stdout: &[
                "checked: the built-in intents and replies",
                "checked: configuration {dir}/x.toml",
            ],
            ..ROW
        },
        Row {
            name: "configured folders that exist are the ones checked",
            files: &[(
                "xiaoer.toml",
                "[paths]\nintents = \"shop/intents\"\nreplies = \"shop/replies\"\n",
            )],
            copies: &["shop"],
            stdout: &[
                "checked: intents {dir}/shop/intents, replies {dir}/shop/replies",
                "checked: configuration xiaoer.toml",
                "ok: ",
            ],
            ..ROW
        },
        Row {
            name: "check: a mistyped folder in ./xiaoer.toml",
            files: TYPO,
            copies: &["shop"],
            code: 2,
            stderr: TYPO_ERR,
            ..ROW
        },
        Row {
            name: "classify: a mistyped folder",
            files: TYPO,
            copies: &["shop"],
            args: &["classify", "在吗"],
            code: 2,
            stderr: TYPO_ERR,
            ..ROW
        },
        Row {
            name: "eval: a mistyped folder",
            files: TYPO,
            copies: &["shop"],
            args: &["eval", "{dir}/gold.jsonl"],
            code: 2,
            stderr: TYPO_ERR,
            ..ROW
        },
        Row {
            name: "demo: a mistyped folder",
            files: TYPO,
            copies: &["shop"],
            args: &["demo", "--port", "0"],
            code: 2,
            stderr: TYPO_ERR,
            ..ROW
        },
        Row {
            name: "run: a mistyped folder",
            files: TYPO,
            copies: &["shop"],
            args: &["run", "--url", "ws://127.0.0.1:9/", "--state", "{dir}/s.db"],
            code: 2,
            stderr: TYPO_ERR,
            ..ROW
        },
        Row {
            name: "a --config file elsewhere names an absolute folder that is missing",
            files: &[("conf.toml", "# shop\n\n[paths]\nreplies = \"/nonexistent/xiaoer/replies\"\n")],
            copies: &["."],
            args: &["--config", "{dir}/conf.toml", "check"],
            code: 2,
            stderr: &["{dir}/conf.toml:4: paths.replies = \"/nonexistent/xiaoer/replies\": no such folder: fix the path"],
            ..ROW
        },
        Row {
            name: "the environment names a missing folder",
            copies: &["."],
            env: &[("XIAOER_PATHS__INTENTS", "{dir}/nowhere")],
            code: 2,
            stderr: &["paths.intents = \"{dir}/nowhere\" (from the environment variable XIAOER_PATHS__INTENTS): no such folder"],
            ..ROW
        },
        Row {
            name: "the environment overrides a missing folder of the file with one that exists",
            files: TYPO,
            copies: &["shop"],
            env: &[("XIAOER_PATHS__INTENTS", "{dir}/shop/intents")],
            stdout: &["checked: intents {dir}/shop/intents, replies {dir}/shop/replies"],
            ..ROW
        },
        Row {
            name: "one folder configured, the other left to a default that is absent",
            copies: &["shop"],
            env: &[("XIAOER_PATHS__INTENTS", "{dir}/shop/intents")],
            code: 2,
            stderr: &["paths.replies = \"replies\" (the default): no such folder (relative to {dir}): paths.intents is set, so set paths.replies too"],
            ..ROW
        },
        Row {
            name: "a file where a folder should be",
            files: &[("xiaoer.toml", "[paths]\nreplies = \"notes.txt\"\n"), ("notes.txt", "x")],
            copies: &["."],
            code: 2,
            stderr: &["xiaoer.toml:2: paths.replies = \"notes.txt\": is not a folder"],
            ..ROW
        },
        Row {
            name: "./intents without ./replies is not the built-in files",
            dirs: &["intents"],
            code: 2,
            stderr: &["paths.replies = \"replies\" (the default): no such folder", "the folder of paths.intents is there"],
            ..ROW
        },
        Row {
            name: "--intents naming a missing folder (unchanged)",
            args: &["--intents", "{dir}/nope", "check"],
            code: 2,
            stderr: &["{dir}/nope: no such folder of intent files"],
            ..ROW
        },
    ];
    for (i, row) in rows.iter().enumerate() {
        let dir = super::cli::canonical_scratch(&format!("folders-{i}"));
        let d = dir.to_str().unwrap();
        let sub = |s: &str| s.replace("{dir}", d);
        for sub_dir in row.copies {
            copy_files(&dir.join(sub_dir));
        }
        for name in row.dirs {
            std::fs::create_dir_all(dir.join(name)).unwrap();
        }
        let r = super::cli::run_in_dir(&dir, row.files, row.args, row.env);
        let shown = format!("{}\nstdout:\n{}\nstderr:\n{}", row.name, r.stdout, r.stderr);
        assert_eq!(r.code, Some(row.code), "{shown}");
        for want in row.stdout {
            assert!(
                r.stdout.contains(&sub(want)),
                "wanted {:?}: {shown}",
                sub(want)
            );
        }
        for want in row.stderr {
            assert!(
                r.stderr.contains(&sub(want)),
                "wanted {:?}: {shown}",
                sub(want)
            );
        }
        if row.code != 0 {
            // Nothing ran on the built-in demo files instead.
            for never in ["reply:", "xiaoer demo is running", "built into the binary"] {
                assert!(
                    !r.stdout.contains(never) && !r.stderr.contains(never),
                    "{never:?}: {shown}"
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
