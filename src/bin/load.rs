//! `xiaoer-load`: end-to-end load through the embedded gateway on loopback.
//!
//! ```text
//! cargo build --release
//! target/release/xiaoer-load [--rate 2000] [--conversations 1000] [--seconds 10]
//!                            [--in-process] [--state FILE]
//! ```
//! Starts the embedded gateway, connects a bot to it (by default the `xiaoer`
//! binary beside this one, `xiaoer run`, as its own process; `--in-process`
//! runs it inside this one), and sends buyer messages at a steady rate spread
//! over the given number of conversations. Each conversation plays a short
//! scripted dialogue (greeting, stock, shipping, thanks; some in English, some
//! bargaining, a few complaints that escalate) and is then replaced by a new
//! one. Reports the rate reached, the latency from a message's delivery to its
//! reply and to its ack (median, p90, p99, max), and checks that every message
//! was acknowledged and none answered twice. Typing delays (`[timing]`) are
//! turned off: they are the shop's chosen pauses, not the bot's speed.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use xiaoer::eval::percentile;
use xiaoer::gateway::GatewayConfig;
use xiaoer::live::{start_bot, start_gateway};

const SCRIPTS: &[&[&str]] = &[
    &[
        "亲 在吗",
        "这件有货吗",
        "几天能发货",
        "发什么快递",
        "好的谢谢",
    ],
    &["你好", "有M码吗", "包邮吗", "那顺丰呢", "好的"],
    &[
        "hi",
        "is this in stock?",
        "how long does shipping take to Brazil?",
        "and to Chile?",
        "thanks",
    ],
    &[
        "能便宜点吗",
        "这件衣服什么面料",
        "再便宜一点吧",
        "可以开发票吗",
        "好的谢谢亲",
    ],
    &[
        "在吗",
        "七天无理由退货吗",
        "退货运费谁出",
        "东西收到是坏的,我要投诉!",
        "人呢",
    ],
];

struct Args {
    rate: u64,
    conversations: u64,
    seconds: u64,
    in_process: bool,
    state: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        rate: 2000,
        conversations: 1000,
        seconds: 10,
        in_process: false,
        state: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--rate" => {
                a.rate = value("--rate")?
                    .parse()
                    .map_err(|e| format!("--rate: {e}"))?
            }
            "--conversations" => {
                a.conversations = value("--conversations")?
                    .parse()
                    .map_err(|e| format!("--conversations: {e}"))?
            }
            "--seconds" => {
                a.seconds = value("--seconds")?
                    .parse()
                    .map_err(|e| format!("--seconds: {e}"))?
            }
            "--state" => a.state = Some(PathBuf::from(value("--state")?)),
            "--in-process" => a.in_process = true,
            "-h" | "--help" => {
                println!("xiaoer-load [--rate N] [--conversations N] [--seconds N] [--in-process] [--state FILE]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if a.rate == 0 || a.conversations == 0 || a.seconds == 0 {
        return Err("--rate, --conversations and --seconds must be above 0".into());
    }
    Ok(a)
}

fn summary(name: &str, mut v: Vec<Duration>) {
    let mut us: Vec<f64> = v.drain(..).map(|d| d.as_secs_f64() * 1e6).collect();
    us.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name:<6} n={:<7} median {:>7.0} µs   p90 {:>7.0} µs   p99 {:>7.0} µs   max {:>7.0} µs",
        us.len(),
        percentile(&us, 50.0),
        percentile(&us, 90.0),
        percentile(&us, 99.0),
        us.last().copied().unwrap_or(0.0)
    );
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("xiaoer-load: {e}");
            std::process::exit(2);
        }
    };
    xiaoer::live::install_tls();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let code = rt.block_on(run(args));
    std::process::exit(code);
}

async fn run(args: Args) -> i32 {
    let token = xiaoer::live::random_token();
    let g = start_gateway(
        GatewayConfig {
            name: "xiaoer-load".into(),
            token: token.clone(),
            shop: "load".into(),
            items: vec![],
        },
        "127.0.0.1:0",
        None,
    )
    .await
    .expect("gateway starts");
    let gw = g.gateway.clone();
    let dir = std::env::temp_dir().join(format!("xiaoer-load-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let state = args.state.clone().unwrap_or_else(|| dir.join("state.db"));
    let _ = std::fs::remove_file(&state);

    let mut child = None;
    let mut in_process = None;
    if args.in_process {
        let mut config = xiaoer::config::Config::defaults();
        config.timing.enabled = false;
        let engine = xiaoer::Engine::load(config, xiaoer::FileSource::Embedded).expect("engine");
        in_process = Some(
            start_bot(
                Arc::new(engine),
                &state,
                xiaoer::channel::ClientConfig {
                    url: g.bot_url(),
                    token: token.clone(),
                    shops: vec!["load".into()],
                    log_chars: 0,
                },
            )
            .expect("bot starts"),
        );
    } else {
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("xiaoer")))
            .filter(|p| p.exists())
            .expect("the xiaoer binary beside xiaoer-load (cargo build --release)");
        child = Some(
            std::process::Command::new(exe)
                .args(["run", "--url", &g.bot_url(), "--state"])
                .arg(&state)
                .env("XIAOER_CHANNEL__TOKEN", &token)
                .env("XIAOER_LOG", "warn")
                // Typing delays are the shop's choice, not the bot's speed.
                .env("XIAOER_TIMING__ENABLED", "false")
                .stdout(Stdio::null())
                .spawn()
                .expect("xiaoer run starts"),
        );
    }
    let t0 = Instant::now();
    while !gw.bot_connected() {
        if t0.elapsed() > Duration::from_secs(15) {
            eprintln!("xiaoer-load: the bot did not connect");
            return 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "bot connected after {} ms; sending {} msg/s over {} conversations for {} s",
        t0.elapsed().as_millis(),
        args.rate,
        args.conversations,
        args.seconds
    );

    let total = args.rate * args.seconds;
    let start = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent: u64 = 0;
    while sent < total {
        tick.tick().await;
        let due = ((start.elapsed().as_secs_f64() * args.rate as f64) as u64).min(total);
        while sent < due {
            let slot = sent % args.conversations;
            let round = sent / args.conversations;
            let script = SCRIPTS[(slot as usize) % SCRIPTS.len()];
            let turn = (round as usize) % script.len();
            let generation = round / script.len() as u64;
            let conv = format!("c-{slot}-{generation}");
            if let Err(e) = gw.buyer_message(&conv, &format!("b-{slot}"), "", script[turn], None) {
                eprintln!("xiaoer-load: {e}");
                return 1;
            }
            sent += 1;
        }
    }
    let send_secs = start.elapsed().as_secs_f64();
    let drain = Instant::now();
    while gw.stats().acked < total && drain.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let s = gw.stats();
    let (reply, ack) = gw.take_latencies();
    println!(
        "sent {} in {:.2} s ({:.0} msg/s); acked {}, replies {}, escalations {}, answered twice {}, unacked {}",
        s.sent,
        send_secs,
        s.sent as f64 / send_secs,
        s.acked,
        s.replies,
        s.escalations,
        s.double_answers,
        s.unacked
    );
    summary("reply", reply);
    summary("ack", ack);
    if let Some(b) = in_process {
        b.stop().await;
    }
    if let Some(mut c) = child {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let _ = c.wait();
    }
    if args.state.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if s.acked < total || s.double_answers > 0 {
        eprintln!("xiaoer-load: FAILED: not every message acknowledged exactly once");
        return 1;
    }
    0
}
