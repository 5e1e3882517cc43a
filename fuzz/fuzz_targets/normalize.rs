//! The NLU normaliser (src/nlu/normalize.rs) with the shipped aliases: never
//! panics, and is idempotent — normalize(normalize(x)) == normalize(x).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use xiaoer::{config::Config, Engine, FileSource};

static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    Engine::load(Config::defaults(), FileSource::Embedded).expect("the embedded files load")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let norm = ENGINE.nlu.normalizer();
    let once = norm.normalize(text);
    let twice = norm.normalize(&once);
    assert_eq!(
        twice, once,
        "normalize is not idempotent\n  input: {text:?}\n  once:  {once:?}\n  twice: {twice:?}"
    );
});
