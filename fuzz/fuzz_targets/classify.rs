//! Classification and the whole decision on one buyer message with the
//! embedded files and default configuration: never panics, confidences are in
//! [0, 1], and the buyer always gets a non-empty reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use xiaoer::{config::Config, dialogue::Conversation, Engine, FileSource};

static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    Engine::load(Config::defaults(), FileSource::Embedded).expect("the embedded files load")
});

fn in_unit(x: f32) -> bool {
    (0.0..=1.0).contains(&x) // false for NaN too
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let engine = &*ENGINE;

    let c = engine.nlu.classify(text, false);
    assert!(in_unit(c.confidence), "classify confidence {} for {text:?}", c.confidence);

    let d = engine.decide(&mut Conversation::default(), text, false);
    assert!(in_unit(d.confidence), "decide confidence {} for {text:?}", d.confidence);
    assert!(in_unit(d.classification.confidence), "decision's classification confidence {} for {text:?}", d.classification.confidence);
    assert!(!d.reply.trim().is_empty(), "empty reply for {text:?}: {d:?}");
    assert!(!d.intents.is_empty(), "no intents (not even none) for {text:?}");

    // A short conversation: each line of the input is a turn of the same buyer,
    // which exercises follow-ups, repeats and the bargaining ladder.
    if text.contains('\n') {
        let mut conv = Conversation::default();
        for (turn, line) in text.split('\n').take(8).enumerate() {
            let d = engine.decide(&mut conv, line, turn % 2 == 1);
            assert!(in_unit(d.confidence), "turn {turn} confidence {} for {text:?}", d.confidence);
            assert!(!d.reply.trim().is_empty(), "turn {turn}: empty reply for {text:?}: {d:?}");
        }
    }
});
