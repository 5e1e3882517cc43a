//! `xiaoer-bench`: the speed record of the engine, in a release build.
//!
//! ```text
//! cargo run --release --bin xiaoer-bench -- [MESSAGES.jsonl ...]
//! ```
//! Measures start-up (load the files, build the index), then classification on
//! one thread over every message of the given files (default: the shared dev
//! sets), repeated until at least 200,000 decisions: throughput, p50, p99 and max
//! latency of `Nlu::classify` and of the whole decision (dialogue and reply).

use std::time::Instant;
use xiaoer::config::Config;
use xiaoer::dialogue::Conversation;
use xiaoer::eval::{percentile, GoldSet};
use xiaoer::{Engine, FileSource};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let files = if args.is_empty() {
        vec![
            "../shared/eval/dev.jsonl".to_string(),
            "../shared/eval/dev_dialogues.jsonl".to_string(),
        ]
    } else {
        args
    };
    let mut texts = Vec::new();
    for f in &files {
        let s = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{f}: {e}"));
        let g = GoldSet::parse(&s).unwrap_or_else(|e| panic!("{f}: {e}"));
        texts.extend(g.messages().map(|m| m.text.clone()));
    }
    assert!(!texts.is_empty(), "no messages in {files:?}");

    let mut startups = Vec::new();
    let mut engine = None;
    for _ in 0..5 {
        let t = Instant::now();
        let e = Engine::load(Config::defaults(), FileSource::Embedded)
            .expect("the built-in files load");
        startups.push(t.elapsed().as_secs_f64() * 1e3);
        engine = Some(e);
    }
    let engine = engine.unwrap();
    startups.sort_by(f64::total_cmp);
    println!("start-up (parse files, compile matchers, build index): median {:.1} ms, max {:.1} ms over 5", startups[2], startups[4]);

    let rounds = (200_000 / texts.len()).max(1);
    for (name, whole) in [
        ("classify (NLU)", false),
        ("decide (NLU + dialogue + reply)", true),
    ] {
        // Warm up.
        for t in &texts {
            std::hint::black_box(engine.nlu.classify(t, false));
        }
        let mut lat = Vec::with_capacity(rounds * texts.len());
        let t0 = Instant::now();
        for _ in 0..rounds {
            let mut conv = Conversation::default();
            for t in &texts {
                let s = Instant::now();
                if whole {
                    std::hint::black_box(engine.decide(&mut conv, t, false));
                } else {
                    std::hint::black_box(engine.nlu.classify(t, false));
                }
                lat.push(s.elapsed().as_secs_f64() * 1e6);
            }
        }
        let total = t0.elapsed().as_secs_f64();
        lat.sort_by(f64::total_cmp);
        println!(
            "{name}: {} messages, {:.0} messages/s on one thread; latency p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
            lat.len(),
            lat.len() as f64 / total,
            percentile(&lat, 50.0),
            percentile(&lat, 99.0),
            lat.last().copied().unwrap_or(0.0)
        );
    }
}
