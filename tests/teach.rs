//! Teaching from the terminal: `xiaoer teach TEXT --intent ID` and the
//! interactive walk over escalated messages (`cli::teach_interactive`), on
//! copies of the shipped files.

use std::path::Path;

/// Not understood by the shipped files (escalated); a kitchen-use question.
const TEXT: &str = "宝贝能不能塞进洗碗机里面洗呀";

fn intent_of(dir: &Path, text: &str) -> String {
    let out = crate::xiaoer(&["classify", text])
        .current_dir(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("intents:"))
        .unwrap_or("none");
    line.split_whitespace().next().unwrap_or("none").to_string()
}

fn intents_snapshot(dir: &Path) -> Vec<(String, String)> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("intents"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn one_lesson_from_the_command_line() {
    let dir = crate::scratch("teach-cli");
    crate::copy_files(&dir);
    assert_ne!(
        intent_of(&dir, TEXT),
        "usage_help",
        "pick a text the shipped files miss"
    );
    let out = crate::xiaoer(&["teach", TEXT, "--intent", "usage_help", "--as", "op-1"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("intents/usage_help.toml:"), "{stdout}");
    let file = std::fs::read_to_string(dir.join("intents/usage_help.toml")).unwrap();
    assert!(
        file.lines()
            .any(|l| l.contains(TEXT) && l.contains("# taught by op-1, ")),
        "{file}"
    );
    assert_eq!(intent_of(&dir, TEXT), "usage_help");
}

#[test]
fn refused_lessons_say_why_and_change_nothing() {
    let dir = crate::scratch("teach-refused");
    crate::copy_files(&dir);
    let before = intents_snapshot(&dir);
    // (args, what stderr must say, exit code)
    let rows: &[(&[&str], &str, i32)] = &[
        (
            &["teach", "我要投诉你们", "--intent", "stock"],
            "would still read the message as complaint",
            1,
        ),
        (
            &["teach", "随便问问", "--intent", "no_such"],
            "is not an intent id",
            1,
        ),
        (&["teach", "随便问问"], "give a message and --intent", 2),
    ];
    for (args, want, code) in rows {
        let out = crate::xiaoer(args).current_dir(&dir).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert_eq!(intents_snapshot(&dir), before, "{args:?} changed the files");
    }
    // On the built-in files there is nothing to edit.
    let bare = crate::scratch("teach-builtin");
    let out = crate::xiaoer(&["teach", TEXT, "--intent", "usage_help"])
        .current_dir(&bare)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("built-in copies"));
}

#[test]
fn the_interactive_walk_teaches_skips_lists_and_stops() {
    let dir = crate::scratch("teach-walk");
    crate::copy_files(&dir);
    let config = xiaoer::config::Config::defaults();
    let folders = xiaoer::engine::Folders {
        intents: dir.join("intents"),
        replies: dir.join("replies"),
    };
    let engine = xiaoer::Engine::load(
        config.clone(),
        xiaoer::FileSource::Dirs(&folders.intents, &folders.replies),
    )
    .unwrap();
    let teacher = xiaoer::teach::FolderTeacher::new(config, folders);
    let texts = ["随便问问天气", TEXT, TEXT, "我要投诉你们", "最后一条"].map(String::from);
    // skip, list then teach, (duplicate not asked), refused then skip, quit.
    let mut input: &[u8] = b"\n?\nusage_help\nstock\n\nq\n";
    let mut out = Vec::new();
    xiaoer::cli::teach_interactive(
        &engine,
        &teacher,
        "op-2",
        texts.into_iter(),
        &mut input,
        &mut out,
    )
    .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("  usage_help "), "? lists the ids:\n{out}");
    assert!(
        out.contains("taught as usage_help (intents/usage_help.toml:"),
        "{out}"
    );
    assert!(
        out.contains(
            "not taught: with this example the bot would still read the message as complaint"
        ),
        "{out}"
    );
    assert_eq!(
        out.matches(TEXT).count(),
        1,
        "a duplicate is asked once:\n{out}"
    );
    assert!(out.contains("“最后一条”"), "{out}");
    assert!(out.trim_end().ends_with("1 taught of 4 shown"), "{out}");
    let file = std::fs::read_to_string(dir.join("intents/usage_help.toml")).unwrap();
    assert!(file.contains("# taught by op-2, "), "{file}");
}
