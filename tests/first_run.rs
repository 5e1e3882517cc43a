//! A new user's first run (issue 11, items 14 and 15): the README's test
//! command is `scripts/test`, CI runs exactly it, and it provides what the
//! tests need beyond Rust (Chromium, a CJK font, playwright-core) before
//! `cargo test --locked`. Reading the files is the test: a fresh machine is
//! not at hand here, so this keeps the three from drifting apart.

use std::path::PathBuf;

fn read(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Lines that do something: no blank lines, no comments.
fn commands(script: &str) -> Vec<&str> {
    script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

#[test]
fn ci_runs_exactly_the_readme_test_command() {
    // The quick start's second command.
    let readme = read("README.md");
    let quick = readme
        .split("## Quick start")
        .nth(1)
        .and_then(|s| s.split("```sh").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("README.md has a Quick start with a sh block");
    let cmds: Vec<&str> = commands(quick)
        .into_iter()
        .map(|l| l.split(" #").next().unwrap_or(l).trim())
        .collect();
    assert_eq!(cmds.get(1).copied(), Some("scripts/test"), "{cmds:?}");
    // .ci/run: the shell settings, the repository root, then exactly that.
    let ci = read(".ci/run");
    assert_eq!(
        commands(&ci).last().copied(),
        Some("exec scripts/test"),
        ".ci/run must end by running the README's command, with no arguments:\n{ci}"
    );
    assert!(
        !commands(&ci).iter().any(|l| l.contains("cargo")),
        ".ci/run runs cargo itself:\n{ci}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        for f in [".ci/run", "scripts/test"] {
            let mode = std::fs::metadata(root.join(f))
                .unwrap()
                .permissions()
                .mode();
            assert!(mode & 0o111 != 0, "{f} is not executable");
        }
    }
}

#[test]
fn the_test_command_provides_what_the_tests_need() {
    let script = read("scripts/test");
    let cmds = commands(&script);
    // Not `exec`: the throwaway PostgreSQL is stopped when the tests end.
    assert_eq!(
        cmds.last().copied(),
        Some("cargo test --locked \"$@\""),
        "scripts/test must end by running every test:\n{script}"
    );
    // Installed when missing: the browser, the font that draws the pages'
    // Chinese (without one it renders as boxes), playwright-core, and the
    // PostgreSQL the store tests run on (started, and stopped at exit).
    for need in [
        "chromium",
        "fonts-noto-cjk",
        "npm ci --prefix tests/browser",
        "apt_install postgresql",
        "pg_ctl",
        "trap stop_postgres EXIT",
        "XIAOER_TEST_PG_URL=",
    ] {
        assert!(
            cmds.iter().any(|l| l.contains(need)),
            "scripts/test does not provide {need}"
        );
    }
    // The README says so too (the fonts for anyone opening the demo).
    let readme = read("README.md");
    assert!(
        readme.contains("fonts-noto-cjk"),
        "README.md never names the CJK font"
    );
}
