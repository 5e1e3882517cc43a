//! Operators' files (crates/nlu/src/files.rs, `Sources::parse`): any text in any of the
//! four kinds of file gives Ok or a list of problems, never a panic.
//!
//! Input layout: the first byte picks the kind of the first file (its value
//! mod 4: 0 an intent file, 1 `_aliases.toml`, 2 a reply file, 3
//! `_system.toml`; seeds start with the digit '0'..'3'); the rest is its text.
//! NUL bytes split off further texts, each parsed as one more intent file, so
//! cross-file checks (duplicate ids, absorbs, follows) are reached too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xiaoer::files::Sources;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.split('\0');
    let first = parts.next().unwrap_or_default().to_string();

    let mut intents: Vec<(String, String)> = Vec::new();
    let mut replies: Vec<(String, String)> = Vec::new();
    match kind % 4 {
        0 => intents.push(("intents/fuzz.toml".into(), first)),
        1 => intents.push(("intents/_aliases.toml".into(), first)),
        2 => replies.push(("replies/fuzz.toml".into(), first)),
        _ => replies.push(("replies/_system.toml".into(), first)),
    }
    for (n, extra) in parts.take(4).enumerate() {
        intents.push((format!("intents/extra{n}.toml"), extra.to_string()));
    }

    match Sources::parse(&intents, &replies) {
        Ok(src) => {
            // Every value keeps a 1-based line inside its file.
            let lines = text.lines().count().max(1);
            for i in &src.intents {
                for a in i.keywords.iter().chain(&i.examples).chain(&i.patterns) {
                    assert!(a.line >= 1 && a.line <= lines, "line {} of {lines}", a.line);
                }
            }
        }
        Err(e) => {
            // The error must render (it is what `xiaoer check` prints).
            let _ = e.to_string();
        }
    }
});
