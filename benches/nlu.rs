//! Criterion benches of the NLU's two hot paths, on messages of the kinds
//! buyers send: short Chinese, long Chinese with several questions, English,
//! full-width and traditional forms. `cargo bench` (BENCHMARKS.md).

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use xiaoer::config::Config;
use xiaoer::{Engine, FileSource};

const MESSAGES: &[(&str, &str)] = &[
    ("short_zh", "有货吗"),
    ("greeting_question", "亲 在吗 这件外套有M码吗"),
    ("long_zh", "亲，我平时穿38的鞋，脚背比较高，之前买过一双38的挤脚，你们家这款拍哪个码合适？还有几天能到上海，包邮吗"),
    ("english", "Hi, is the black hoodie in stock and how long does shipping to Brazil take?"),
    ("fullwidth_traditional", "ＸＬ號還有貨嗎？？？"),
];

fn engine() -> Engine {
    Engine::load(Config::defaults(), FileSource::Embedded).expect("built-in files load")
}

fn normalize(c: &mut Criterion) {
    let e = engine();
    let mut g = c.benchmark_group("normalize");
    for (name, text) in MESSAGES {
        g.bench_function(*name, |b| {
            b.iter(|| e.nlu.normalizer().normalize(black_box(text)))
        });
    }
    g.finish();
}

fn classify(c: &mut Criterion) {
    let e = engine();
    let mut g = c.benchmark_group("classify");
    for (name, text) in MESSAGES {
        g.bench_function(*name, |b| b.iter(|| e.nlu.classify(black_box(text), false)));
    }
    g.finish();
}

criterion_group!(benches, normalize, classify);
criterion_main!(benches);
