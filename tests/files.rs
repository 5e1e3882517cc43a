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
