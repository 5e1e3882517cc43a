//! The NLU crate stays pure: nothing async, no storage, no websocket in its
//! dependency tree (read from Cargo.lock, so the check needs no network).

use std::collections::{BTreeMap, BTreeSet};

/// Every package the named package depends on, directly or not, by name.
fn closure(lock: &str, root: &str) -> BTreeSet<String> {
    let v: toml::Value = toml::from_str(lock).expect("Cargo.lock is TOML");
    let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in v["package"].as_array().expect("packages") {
        let name = p["name"].as_str().unwrap().to_string();
        let list: Vec<String> = p
            .get("dependencies")
            .and_then(|d| d.as_array())
            .map(|a| {
                a.iter()
                    // "name" or "name version" when several versions are locked
                    .map(|d| d.as_str().unwrap().split(' ').next().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        deps.entry(name).or_default().extend(list);
    }
    let mut seen = BTreeSet::new();
    let mut todo = vec![root.to_string()];
    while let Some(n) = todo.pop() {
        if seen.insert(n.clone()) {
            todo.extend(deps.get(&n).cloned().unwrap_or_default());
        }
    }
    seen
}

#[test]
fn the_nlu_crate_has_no_runtime_storage_or_network_in_its_tree() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    let nlu = closure(&lock, "xiaoer-nlu");
    assert!(
        nlu.contains("tantivy") && nlu.contains("aho-corasick"),
        "{nlu:?}"
    );
    for banned in [
        "tokio",
        "axum",
        "rusqlite",
        "tungstenite",
        "tokio-tungstenite",
        "hyper",
        "notify",
    ] {
        assert!(!nlu.contains(banned), "xiaoer-nlu depends on {banned}");
    }
    // The check itself can fail: the bot's own tree has them.
    let bot = closure(&lock, "xiaoer");
    assert!(bot.contains("tokio") && bot.contains("rusqlite"));
}
