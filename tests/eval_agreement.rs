//! `xiaoer eval --json` agrees with the reference scorer `score.py` on the dev
//! sets, figure for figure.

use super::{scratch, shared, xiaoer};

fn agree(set: &str) {
    let gold = shared().join("eval").join(set);
    let dir = scratch(&format!("eval-{set}"));
    let preds = dir.join("pred.jsonl");
    let out = xiaoer(&[
        "eval",
        gold.to_str().unwrap(),
        "--json",
        "--predictions",
        preds.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let py = std::process::Command::new("python3")
        .arg(shared().join("eval/score.py"))
        .args([gold.to_str().unwrap(), preds.to_str().unwrap(), "--json"])
        .output()
        .expect("python3 runs the reference scorer");
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let theirs: serde_json::Value = serde_json::from_slice(&py.stdout).unwrap();
    for (k, v) in theirs.as_object().unwrap() {
        assert_eq!(&ours[k], v, "{set}: {k} differs");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn agrees_with_score_py_on_dev() {
    agree("dev.jsonl");
}

#[test]
fn agrees_with_score_py_on_dialogues() {
    agree("dev_dialogues.jsonl");
}
