//! `xiaoer-bench`'s command line: help, and bad files as clear errors (no
//! panic). Its measurements are run by hand in a release build (BENCHMARKS.md).

use std::process::Command;

#[test]
fn bench_help_and_bad_files() {
    let dir = std::env::temp_dir().join(format!("xiaoer-bench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, "{not json\n").unwrap();
    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let missing = dir.join("missing.jsonl");
    let (bad, empty, missing) = (
        bad.to_string_lossy().to_string(),
        empty.to_string_lossy().to_string(),
        missing.to_string_lossy().to_string(),
    );
    // (arguments, exit code, stdout holds, stderr holds)
    let rows: Vec<(Vec<&str>, i32, &str, &str)> = vec![
        (vec!["--help"], 0, "usage:", ""),
        (vec!["-h"], 0, "xiaoer-bench adversarial", ""),
        (vec!["--bogus"], 2, "", "unknown option \"--bogus\""),
        (vec![&missing], 2, "", "cannot read"),
        (vec!["latency", &missing], 2, "", "missing.jsonl"),
        (vec![&bad], 2, "", "bad.jsonl"),
        (vec![&empty], 2, "", "no labelled messages"),
    ];
    for (args, code, out, err) in rows {
        let o = Command::new(env!("CARGO_BIN_EXE_xiaoer-bench"))
            .args(&args)
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert_eq!(o.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stdout.contains(out), "{args:?}: {stdout}");
        assert!(stderr.contains(err), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
