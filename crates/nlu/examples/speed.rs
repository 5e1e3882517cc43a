//! Classification speed and a fingerprint of every answer, on the NLU crate
//! alone (builds in a fraction of the bot's time, for work on the engine's
//! speed).
//!
//! `cargo run --release -p xiaoer-nlu --example speed -- INTENTS_DIR ROUNDS FINGERPRINT_OUT FILE.jsonl...`
//!
//! Classifies every message of the files (lines with "text", and the turns of
//! dialogue lines) ROUNDS times on one thread, prints messages per CPU second
//! and p50/p99 and the mean of each message's fastest time (the steadiest
//! figure on a shared machine), and writes every field of every classification (`{:?}`, the
//! explain evidence included) to FINGERPRINT_OUT, so that two builds can be
//! compared byte for byte (`-` for none: the rounds alone, for an instruction
//! count under callgrind). The catalog words are those of `xiaoer.toml`.

use std::time::Instant;
use xiaoer_nlu::config::{Catalog, NluConfig};
use xiaoer_nlu::files::{read_dir, Sources};
use xiaoer_nlu::Nlu;

/// Counts allocations, to print how many a classification makes.
struct Counting;

static ALLOCS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        return Err("usage: speed INTENTS_DIR ROUNDS FINGERPRINT_OUT FILE.jsonl...".into());
    }
    let src = Sources::parse(&read_dir(std::path::Path::new(&args[0]))?, &[])?;
    let rounds: usize = args[1].parse()?;
    let params = NluConfig {
        threshold: 0.6,
        margin: 0.08,
        neighbours: 8,
    };
    let config: toml::Value = toml::from_str(&std::fs::read_to_string("xiaoer.toml")?)?;
    let words = |k: &str| -> Vec<String> {
        config["catalog"][k]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let catalog = Catalog {
        zh: words("zh"),
        en: words("en"),
    };
    let nlu = Nlu::build(&src, &catalog, &params)?;
    let mut texts = Vec::new();
    for f in &args[3..] {
        for line in std::fs::read_to_string(f)?.lines() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            if let Some(t) = v["text"].as_str() {
                texts.push(t.to_string());
            }
            for turn in v["turns"].as_array().into_iter().flatten() {
                if let Some(t) = turn["text"].as_str() {
                    texts.push(t.to_string());
                }
            }
        }
    }
    // `-` writes no fingerprint: the rounds alone, for an instruction count
    // under `valgrind --tool=callgrind --toggle-collect=xiaoer_nlu::Nlu::classify`.
    if args[2] != "-" {
        let mut out = String::new();
        for t in &texts {
            for explain in [false, true] {
                let c = nlu.classify(t, explain);
                out.push_str(&format!("{explain} {c:?}\n"));
            }
        }
        std::fs::write(&args[2], out)?;
    }
    let mut lat = Vec::with_capacity(rounds * texts.len());
    let allocs0 = ALLOCS.load(std::sync::atomic::Ordering::Relaxed);
    let cpu0 = thread_cpu_s();
    // Each message's fastest time over the rounds: on a shared machine the
    // other processes only ever add time, so the sum of the minima is the
    // steadiest figure to compare two builds with.
    let mut fastest = vec![f64::INFINITY; texts.len()];
    for _ in 0..rounds {
        for (t, best) in texts.iter().zip(&mut fastest) {
            let s = Instant::now();
            std::hint::black_box(nlu.classify(t, false));
            let us = s.elapsed().as_secs_f64() * 1e6;
            lat.push(us);
            *best = best.min(us);
        }
    }
    let floor: f64 = fastest.iter().sum::<f64>() / texts.len().max(1) as f64;
    let cpu = thread_cpu_s() - cpu0;
    let allocs = ALLOCS.load(std::sync::atomic::Ordering::Relaxed) - allocs0;
    if lat.is_empty() {
        // No rounds (or no messages): the fingerprint alone.
        return Ok(());
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p / 100.0).round() as usize];
    println!(
        "{} messages: {:.0} per CPU second; p50 {:.1} µs, p99 {:.1} µs; each message at its fastest: {:.1} µs mean ({:.0}/s); {:.1} allocations (and reallocations) per message",
        lat.len(),
        lat.len() as f64 / cpu,
        pct(50.0),
        pct(99.0),
        floor,
        1e6 / floor,
        allocs as f64 / lat.len().max(1) as f64
    );
    Ok(())
}
