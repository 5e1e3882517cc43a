//! `xiaoer-bench`: the speed record of the engine, in a release build.
//!
//! ```text
//! cargo run --release --bin xiaoer-bench -- [MESSAGES.jsonl ...]
//! ```
//! Measures start-up (load the files, build the index), then classification on
//! one thread over every message of the given files (default: the shared dev
//! sets), repeated until at least 200,000 decisions: throughput, p50, p99 and max
//! latency of `Nlu::classify` and of the whole decision (dialogue and reply).
//!
//! ```text
//! xiaoer-bench scale N     # the intent files copied N times (N × 27 intents):
//!                          # start-up, classification p50/p99, peak memory
//! xiaoer-bench length      # cost per message for 2 to 2,000 characters
//! xiaoer-bench adversarial [ROUNDS]
//!                          # worst-case latency of the whole decision on each
//!                          # hostile message (xiaoer::nlu::hostile) at 250 to
//!                          # 4,000 characters, and µs per character read
//! xiaoer-bench catalog [decide|load [RUNS]]
//!                          # a generated catalog: decision p50/p99 with 1,000
//!                          # items against none, load time and memory of
//!                          # 10,000 items (`decide` or `load` alone; `load`
//!                          # RUNS times)
//! xiaoer-bench latency [MESSAGES.jsonl ...]
//!                          # the default measurement as two JSON lines, for
//!                          # scripts/compare-baseline.sh
//! ```
//!
//! `latency` prints, for `classify` (NLU) and then `decide` (the whole decision),
//! `{"what", "n", "messages", "rounds", "msg_per_s", "p50_us", "p90_us", "p99_us",
//! "max_us"}`: the same shape as `scripts/baseline_timing.py` on the same files.
//! Messages are the lines with "text" and the turns of dialogue lines, in file
//! order; after one warm-up pass they are timed one at a time, repeated until at
//! least 200,000 decisions. `decide` keeps one conversation per dialogue (a fresh
//! one per single message and per round), as `xiaoer eval` does.

use std::time::Instant;
use xiaoer::config::Config;
use xiaoer::dialogue::Conversation;
use xiaoer::eval::{percentile, GoldSet};
use xiaoer::{Engine, FileSource};

/// Peak resident memory of this process, from /proc (Linux), in MB.
fn peak_rss_mb() -> Option<f64> {
    status_mb("VmHWM:")
}

/// A memory figure of this process from /proc/self/status, in MB.
fn status_mb(key: &str) -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = s
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// What `--help` prints.
const USAGE: &str = "\
xiaoer-bench: the engine's speed record (build with --release)

usage:
  xiaoer-bench [MESSAGES.jsonl ...]   start-up, then classify and decide on one thread
                                      over every message (default: the shared dev sets):
                                      msg/s, per CPU second, p50/p99/max
  xiaoer-bench scale N                the intent files copied N times (default 10):
                                      start-up, classification, peak memory
  xiaoer-bench length                 cost per message for 2 to 2,000 characters
  xiaoer-bench adversarial [ROUNDS]   worst-case latency of each hostile message
  xiaoer-bench catalog [decide|load [RUNS]]
                                      decisions with a generated 1,000-item catalog;
                                      load time and memory of 10,000 items
  xiaoer-bench latency [MESSAGES.jsonl ...]
                                      the default measurement as two JSON lines
  xiaoer-bench --help | -h            this text
";

/// The labelled messages of an eval-format file, or a clear error naming it.
fn gold(f: &str) -> Result<GoldSet, String> {
    let s = std::fs::read_to_string(f).map_err(|e| format!("cannot read {f}: {e}"))?;
    GoldSet::parse(&s).map_err(|e| format!("{f}: {e}"))
}

/// [`gold`], or the error printed and the process ended (status 2).
fn gold_or_exit(f: &str) -> GoldSet {
    gold(f).unwrap_or_else(|e| {
        eprintln!("xiaoer-bench: {e}");
        std::process::exit(2)
    })
}

fn dev_texts() -> Vec<String> {
    let mut texts = Vec::new();
    for f in [
        "../shared/eval/dev.jsonl",
        "../shared/eval/dev_dialogues.jsonl",
    ] {
        let g = gold_or_exit(f);
        texts.extend(g.messages().map(|m| m.text.clone()));
    }
    texts
}

/// The messages of eval-format files: one `Vec` per conversation.
fn conversations(files: &[String]) -> Vec<Vec<String>> {
    let mut convs = Vec::new();
    for f in files {
        let g = gold_or_exit(f);
        convs.extend(
            g.conversations
                .iter()
                .map(|(_, turns)| turns.iter().map(|t| t.text.clone()).collect::<Vec<_>>()),
        );
    }
    convs
}

/// Times every message of `convs`, `rounds` times over, each conversation from
/// a fresh state: `Nlu::classify` alone, or the whole decision when `whole`.
/// Returns the sorted latencies in µs, the total seconds, and the thread's CPU
/// seconds over the same span (on a shared machine the wall time counts the
/// time other processes held the core; the CPU time does not).
fn time_decisions(
    engine: &Engine,
    convs: &[Vec<String>],
    rounds: usize,
    whole: bool,
) -> (Vec<f64>, f64, f64) {
    let messages: usize = convs.iter().map(Vec::len).sum();
    let mut lat = Vec::with_capacity(rounds * messages);
    let cpu0 = thread_cpu_us();
    let t0 = Instant::now();
    for _ in 0..rounds {
        for conv in convs {
            let mut state = Conversation::default();
            for t in conv {
                let s = Instant::now();
                if whole {
                    std::hint::black_box(engine.decide(&mut state, t, false));
                } else {
                    std::hint::black_box(engine.nlu.classify(t, false));
                }
                lat.push(s.elapsed().as_secs_f64() * 1e6);
            }
        }
    }
    let total = t0.elapsed().as_secs_f64();
    let cpu = (thread_cpu_us() - cpu0) / 1e6;
    lat.sort_by(f64::total_cmp);
    (lat, total, cpu)
}

/// `xiaoer-bench latency`: one JSON line each for `classify` and `decide`.
fn latency(files: &[String]) {
    let convs = conversations(files);
    let messages: usize = convs.iter().map(Vec::len).sum();
    if messages == 0 {
        eprintln!("xiaoer-bench: no messages in {files:?}");
        std::process::exit(2);
    }
    let engine =
        Engine::load(Config::defaults(), FileSource::Embedded).expect("the built-in files load");
    let rounds = 200_000usize.div_ceil(messages).max(1);
    for (what, whole) in [("classify", false), ("decide", true)] {
        time_decisions(&engine, &convs, 1, whole);
        let (lat, total, _) = time_decisions(&engine, &convs, rounds, whole);
        // Written by hand to keep the keys in this order (`json!` sorts them).
        println!(
            "{{\"what\": \"{what}\", \"n\": {}, \"messages\": {messages}, \"rounds\": {rounds}, \"msg_per_s\": {:.1}, \"p50_us\": {:.1}, \"p90_us\": {:.1}, \"p99_us\": {:.1}, \"max_us\": {:.1}}}",
            lat.len(),
            lat.len() as f64 / total,
            percentile(&lat, 50.0),
            percentile(&lat, 90.0),
            percentile(&lat, 99.0),
            lat.last().copied().unwrap_or(0.0)
        );
    }
}

/// Classifies every text, `rounds` times: (messages/s, p50 µs, p99 µs).
fn measure(engine: &Engine, texts: &[String], rounds: usize) -> (f64, f64, f64) {
    let convs = [texts.to_vec()];
    time_decisions(engine, &convs, 1, false);
    let (lat, total, _) = time_decisions(engine, &convs, rounds, false);
    (
        lat.len() as f64 / total,
        percentile(&lat, 50.0),
        percentile(&lat, 99.0),
    )
}

/// The built-in intent and reply files, copied `n` times with renamed ids.
fn scaled_files(n: usize) -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("xiaoer-scale-{n}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["intents", "replies"] {
        std::fs::create_dir_all(dir.join(sub)).expect("temp dir");
    }
    let ids: Vec<String> = std::fs::read_dir(root.join("intents"))
        .expect("intents/")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().to_string()))
        .filter(|s| !s.starts_with('_'))
        .collect();
    for sub in ["intents", "replies"] {
        for e in std::fs::read_dir(root.join(sub)).expect("folder").flatten() {
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            if name.starts_with('_') || !name.ends_with(".toml") {
                std::fs::write(dir.join(sub).join(&name), &text).expect("write");
                continue;
            }
            for k in 0..n {
                let renamed: String = if k == 0 {
                    text.clone()
                } else {
                    text.lines()
                        .map(|l| {
                            let key = l.split('=').next().unwrap_or("").trim();
                            if ["id", "intent", "absorbs", "follows"].contains(&key) {
                                let mut l = l.to_string();
                                for id in &ids {
                                    let re =
                                        regex::Regex::new(&format!(r"\b{id}\b")).expect("id regex");
                                    l = re.replace_all(&l, format!("{id}_{k}")).to_string();
                                }
                                l
                            } else {
                                l.to_string()
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                let stem = name.trim_end_matches(".toml");
                let file = if k == 0 {
                    name.clone()
                } else {
                    format!("{stem}_{k}.toml")
                };
                std::fs::write(dir.join(sub).join(file), renamed).expect("write");
            }
        }
    }
    dir
}

fn scale(n: usize) {
    let dir = scaled_files(n);
    let texts = dev_texts();
    let t = Instant::now();
    let engine = Engine::load(
        Config::defaults(),
        FileSource::Dirs(&dir.join("intents"), &dir.join("replies")),
    )
    .expect("the scaled files load");
    let startup = t.elapsed().as_secs_f64() * 1e3;
    let loaded = (status_mb("VmRSS:"), peak_rss_mb());
    let (rate, p50, p99) = measure(&engine, &texts, (100_000 / texts.len()).max(1));
    println!(
        "scale ×{n}: {} intents; start-up {startup:.0} ms; classify {rate:.0} msg/s, p50 {p50:.1} µs, p99 {p99:.1} µs; RSS after loading {:.0} MB (peak so far {:.0} MB), after classifying {:.0} MB, peak {:.0} MB",
        engine.nlu.intents.len(),
        loaded.0.unwrap_or(0.0),
        loaded.1.unwrap_or(0.0),
        status_mb("VmRSS:").unwrap_or(0.0),
        peak_rss_mb().unwrap_or(0.0)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn length() {
    let engine = Engine::load(Config::defaults(), FileSource::Embedded).expect("files load");
    let texts = dev_texts();
    let joined: Vec<char> = texts.join("，").chars().collect();
    for len in [2usize, 10, 50, 200, 1000, 2000] {
        let msgs: Vec<String> = (0..200)
            .map(|i| {
                let start = (i * 7919) % (joined.len() - len);
                joined[start..start + len].iter().collect()
            })
            .collect();
        let (rate, p50, p99) = measure(
            &engine,
            &msgs,
            (20_000 / msgs.len() / len.max(1)).clamp(2, 50),
        );
        println!("length {len:>5} chars: {rate:>8.0} msg/s, p50 {p50:>8.1} µs, p99 {p99:>8.1} µs");
    }
}

/// `xiaoer-bench adversarial`: per hostile kind and length, the worst and the
/// median time of the whole decision over `rounds` runs (after one warm-up),
/// and the worst per character read (at most `MAX_INPUT_CHARS`): a row whose
/// µs/char stays flat as the length doubles grows linearly; past the budget
/// the time stays flat, since only the budget is read.
fn adversarial(rounds: usize) {
    use xiaoer::nlu::{hostile::TABLE, MAX_INPUT_CHARS};
    let engine = Engine::load(Config::defaults(), FileSource::Embedded).expect("files load");
    let lengths = [250usize, 500, 1000, 2000, 4000];
    println!(
        "{:<14} {}",
        "kind",
        lengths
            .iter()
            .map(|n| format!("{:>24}", format!("{n} chars: max/p50 µs")))
            .collect::<String>()
    );
    let mut worst_per_char: Vec<(f64, &str, usize)> = Vec::new();
    for h in TABLE {
        let mut row = format!("{:<14}", h.name);
        for &n in &lengths {
            let text = (h.make)(n);
            let read = text.chars().count().min(MAX_INPUT_CHARS);
            std::hint::black_box(engine.decide(&mut Conversation::default(), &text, false));
            let mut lat: Vec<f64> = (0..rounds)
                .map(|_| {
                    let t = Instant::now();
                    std::hint::black_box(engine.decide(&mut Conversation::default(), &text, false));
                    t.elapsed().as_secs_f64() * 1e6
                })
                .collect();
            lat.sort_by(f64::total_cmp);
            let max = *lat.last().unwrap_or(&0.0);
            worst_per_char.push((max / read.max(1) as f64, h.name, n));
            row.push_str(&format!(
                "{:>24}",
                format!("{max:.0} / {:.0}", percentile(&lat, 50.0))
            ));
        }
        println!("{row}");
    }
    worst_per_char.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (us, name, n) in worst_per_char.iter().take(5) {
        println!("worst per character read: {name} at {n} chars, {us:.2} µs/char");
    }
}

/// A generated catalog item (`k`: its number): names, five attributes, six
/// variants (one sold out), a size chart on every other item, two FAQ entries.
fn catalog_item(k: usize) -> String {
    const KINDS: [&str; 8] = [
        "卫衣",
        "连衣裙",
        "牛仔裤",
        "茶杯",
        "坚果",
        "耳机",
        "湿巾",
        "围巾",
    ];
    let kind = KINDS[k % KINDS.len()];
    let mut t = format!(
        "id = \"g-{k}\"\ntitle = \"{kind}{k}号款\"\nnames = [\"{kind}{k}\", \"{k}号{kind}\"]\nprice = {}.0\n\n[attributes]\n面料 = \"棉{}%\"\n产地 = \"广州{}\"\n洗涤 = \"可机洗\"\n保质期 = \"{}天\"\n连接方式 = \"蓝牙5.{}\"\n",
        50 + k % 300, 50 + k % 50, k % 17, 90 + k % 200, k % 4
    );
    for (c, colour) in ["白色", "黑色", "藏青"].iter().enumerate() {
        for size in ["M", "L"] {
            let stock = if c == 1 && size == "L" { 0 } else { 3 + k % 9 };
            t += &format!("\n[[variants]]\noptions = {{ 颜色 = \"{colour}\", 尺码 = \"{size}\" }}\nstock = {stock}\n");
            if stock == 0 {
                t += "restock = \"2026-12-10\"\n";
            }
        }
    }
    if k % 2 == 0 {
        t += "\n[size_chart]\ncolumns = [\"尺码\", \"身高cm\", \"体重斤\"]\nrows = [[\"M\", \"158-168\", \"95-120\"], [\"L\", \"168-178\", \"120-145\"]]\nnote = \"正常尺码\"\n";
    }
    t += &format!("\n[[faq]]\nq = [\"{k}号可以机洗吗\", \"能放洗衣机吗\"]\na = \"亲，可以机洗的哦\"\n\n[[faq]]\nq = [\"会起球吗\"]\na = \"亲，{kind}不容易起球哦\"\n");
    t
}

/// A catalog of `n` generated items, written to a fresh folder.
fn catalog_dir(n: usize) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("xiaoer-catalog-{n}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    for k in 0..n {
        std::fs::write(dir.join(format!("g-{k}.toml")), catalog_item(k)).expect("write");
    }
    std::fs::write(
        dir.join("_shop.toml"),
        "[[promotions]]\nname = \"满299减30\"\nkind = \"discount\"\nthreshold = 299.0\noff = 30.0\n\n[[faq]]\nq = [\"能开专票吗\"]\na = \"亲，可以开专票哦\"\n",
    )
    .expect("write");
    dir
}

/// `xiaoer-bench catalog`: the catalog's cost. Decisions over the shared dev
/// messages plus product questions (each asked about a random item of the
/// catalog; ids ignored without one), with no catalog and with 1,000 items;
/// then a 10,000-item folder loaded: time and resident memory added.
fn catalog_bench(part: Option<&str>, runs: usize) {
    const QUESTIONS: [&str; 12] = [
        "黑色L码还有吗",
        "有货吗",
        "多少钱",
        "白色M多少钱",
        "我175 140斤穿什么码",
        "什么面料",
        "哪里产的",
        "能放洗衣机吗",
        "需要连WIFI吗",
        "可以手洗吗",
        "有什么活动",
        "保质期多久",
    ];
    let mut texts: Vec<(String, Option<String>)> =
        dev_texts().into_iter().map(|t| (t, None)).collect();
    for k in 0..2000 {
        texts.push((
            QUESTIONS[k % QUESTIONS.len()].to_string(),
            Some(format!("g-{}", (k * 7919) % 1000)),
        ));
    }
    let base =
        Engine::load(Config::defaults(), FileSource::Embedded).expect("the built-in files load");
    if part != Some("load") {
        catalog_decide(&base, &texts);
    }
    if part == Some("decide") {
        return;
    }
    let dir = catalog_dir(10_000);
    let mut base = Some(base);
    for _ in 0..runs.max(1) {
        let engine = match base.take() {
            Some(e) => e,
            None => Engine::load(Config::defaults(), FileSource::Embedded)
                .expect("the built-in files load"),
        };
        let before = status_mb("VmRSS:").unwrap_or(0.0);
        let cpu = process_cpu_s();
        let t = Instant::now();
        let big = engine
            .with_catalog_dir(&dir)
            .expect("the generated catalog loads");
        let took = t.elapsed().as_secs_f64();
        let cpu = process_cpu_s() - cpu;
        let after = status_mb("VmRSS:").unwrap_or(0.0);
        println!(
            "load, 10,000-item catalog (read {} files, parse, index): {:.2} s ({:.2} s of CPU on all threads); resident memory {:.0} MB more (peak {:.0} MB)",
            10_001,
            took,
            cpu,
            after - before,
            peak_rss_mb().unwrap_or(0.0)
        );
        std::hint::black_box(&big);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Decisions with no catalog and with 1,000 items (see [`catalog_bench`]).
fn catalog_decide(base: &Engine, texts: &[(String, Option<String>)]) {
    let dir = catalog_dir(1000);
    let with = Engine::load(Config::defaults(), FileSource::Embedded)
        .expect("the built-in files load")
        .with_catalog_dir(&dir)
        .expect("the generated catalog loads");
    let _ = std::fs::remove_dir_all(&dir);
    // One round over every message, timed two ways: wall time, and the
    // thread's CPU time (what the decision costs, without the time another
    // process on a busy machine took the core away).
    let round = |engine: &Engine, wall: &mut Vec<f64>, cpu: &mut Vec<f64>| {
        for (t, item) in texts {
            let mut conv = Conversation::default();
            let ctx = xiaoer::dialogue::Context {
                item_id: item.as_deref(),
                ..Default::default()
            };
            let c = thread_cpu_us();
            let s = Instant::now();
            std::hint::black_box(engine.decide_on(&mut conv, t, &ctx, false));
            wall.push(s.elapsed().as_secs_f64() * 1e6);
            cpu.push(thread_cpu_us() - c);
        }
    };
    let rounds = (100_000 / texts.len()).max(1);
    let (mut scratch_w, mut scratch_c) = (Vec::new(), Vec::new());
    round(base, &mut scratch_w, &mut scratch_c);
    round(&with, &mut scratch_w, &mut scratch_c);
    // The two engines take turns, round by round, so that both meet the
    // same load from the rest of the machine.
    let mut runs: [(Vec<f64>, Vec<f64>); 2] = Default::default();
    for _ in 0..rounds {
        for (k, engine) in [base, &with].into_iter().enumerate() {
            let (w, c) = &mut runs[k];
            round(engine, w, c);
        }
    }
    let mut p99 = [(0.0, 0.0); 2];
    for (k, name) in ["no catalog", "1,000-item catalog"].into_iter().enumerate() {
        let (w, c) = &mut runs[k];
        w.sort_by(f64::total_cmp);
        c.sort_by(f64::total_cmp);
        p99[k] = (percentile(w, 99.0), percentile(c, 99.0));
        println!(
            "decide, {name}: {} decisions ({} messages, {} of them product questions about an item); wall p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs; CPU p50 {:.1} µs, p99 {:.1} µs",
            w.len(),
            texts.len(),
            2000,
            percentile(w, 50.0),
            p99[k].0,
            w.last().copied().unwrap_or(0.0),
            percentile(c, 50.0),
            p99[k].1,
        );
    }
    println!(
        "decide p99, 1,000-item catalog vs none: {:.2}× wall, {:.2}× CPU",
        p99[1].0 / p99[0].0.max(1e-9),
        p99[1].1 / p99[0].1.max(1e-9)
    );
}

/// The process's CPU time so far (every thread, user and system), in s.
fn process_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// The calling thread's CPU time so far, in µs.
fn thread_cpu_us() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e6 + ts.tv_nsec as f64 / 1e3
}

/// The given files, or the shared dev sets.
fn default_files(args: Vec<String>) -> Vec<String> {
    if args.is_empty() {
        vec![
            "../shared/eval/dev.jsonl".to_string(),
            "../shared/eval/dev_dialogues.jsonl".to_string(),
        ]
    } else {
        args
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--help" | "-h") => {
            print!("{USAGE}");
            return;
        }
        Some(flag) if flag.starts_with('-') => {
            eprintln!("xiaoer-bench: unknown option {flag:?}\n\n{USAGE}");
            std::process::exit(2);
        }
        Some("scale") => {
            let n = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
            scale(n);
            return;
        }
        Some("length") => {
            length();
            return;
        }
        Some("adversarial") => {
            let rounds = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
            adversarial(rounds);
            return;
        }
        Some("catalog") => {
            let runs = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
            catalog_bench(args.get(1).map(String::as_str), runs);
            return;
        }
        Some("latency") => {
            latency(&default_files(args[1..].to_vec()));
            return;
        }
        _ => {}
    }
    let files = default_files(args);
    let mut texts = Vec::new();
    for f in &files {
        let g = gold_or_exit(f);
        texts.extend(g.messages().map(|m| m.text.clone()));
    }
    if texts.is_empty() {
        eprintln!("xiaoer-bench: no messages in {files:?}");
        std::process::exit(2);
    }

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
        // The whole list is one conversation, as before the latency mode.
        let convs = std::slice::from_ref(&texts);
        time_decisions(&engine, convs, 1, whole);
        let (lat, total, cpu) = time_decisions(&engine, convs, rounds, whole);
        println!(
            "{name}: {} messages, {:.0} messages/s on one thread ({:.0} per CPU second of the thread); latency p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
            lat.len(),
            lat.len() as f64 / total,
            lat.len() as f64 / cpu,
            percentile(&lat, 50.0),
            percentile(&lat, 99.0),
            lat.last().copied().unwrap_or(0.0)
        );
    }
}
