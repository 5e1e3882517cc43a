//! `xiaoer-load`: end-to-end load through the embedded gateway on loopback.
//!
//! ```text
//! cargo build --release
//! target/release/xiaoer-load [--rate 2000] [--conversations 1000] [--seconds 10]
//!                            [--in-process] [--state FILE]
//!                            [--instances N --store-url postgres://… [--kill-every S]]
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
//!
//! Orders (protocol 1.1) are mixed in: each new conversation places an order
//! (`created`) with its first message, and every other one pays at its third;
//! the bot's payment reminder comes after 1 s, its order check on payment. At
//! the end every started message must have reached the gateway exactly once
//! (first copies = stored sends, none still waiting for `sent`), also under
//! `--chaos` (SIGKILLs between storing a send and `sent` make repeats, which
//! the gateway answers without showing them again).
//!
//! Several instances (protocol 1.1): `--instances 3 --store-url postgres://…`
//! starts three `xiaoer run` processes on one PostgreSQL store; the gateway
//! gives each conversation to one of them and moves it when that one leaves.
//! `--kill-every 5` SIGKILLs one instance every 5 s (in turn) and starts it
//! again, as a supervisor would. Reported besides: the fail-over time, from a
//! dead instance's conversations moving until another instance acknowledged
//! each of their messages.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use xiaoer::channel::frame::{OrderItem, OrderStatus};
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
    chaos: bool,
    instances: usize,
    store_url: Option<String>,
    kill_every: Option<u64>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        rate: 2000,
        conversations: 1000,
        seconds: 10,
        in_process: false,
        state: None,
        chaos: false,
        instances: 1,
        store_url: None,
        kill_every: None,
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
            "--instances" => {
                a.instances = value("--instances")?
                    .parse()
                    .map_err(|e| format!("--instances: {e}"))?
            }
            "--store-url" => a.store_url = Some(value("--store-url")?),
            "--kill-every" => {
                a.kill_every = Some(
                    value("--kill-every")?
                        .parse()
                        .map_err(|e| format!("--kill-every: {e}"))?,
                )
            }
            "--chaos" => a.chaos = true,
            "-h" | "--help" => {
                println!("xiaoer-load [--rate N] [--conversations N] [--seconds N] [--in-process] [--chaos] [--state FILE] [--instances N --store-url postgres://… [--kill-every S]]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if a.chaos && a.in_process {
        return Err("--chaos kills the bot process: it cannot run --in-process".into());
    }
    if a.instances == 0 || (a.instances > 1 && a.store_url.is_none()) {
        return Err("--instances above 1 share one PostgreSQL store: give --store-url".into());
    }
    if (a.instances > 1 || a.kill_every.is_some()) && a.in_process {
        return Err("--instances and --kill-every run bot processes: not --in-process".into());
    }
    if a.kill_every == Some(0) {
        return Err("--kill-every must be above 0".into());
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

/// The bot instances the run started: whatever way the run ends (an early
/// error return included), none outlives it.
struct Reaper(Vec<Option<std::process::Child>>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for c in self.0.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
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
    // Every conversation of the run stays in memory (a new one per script
    // played): the run's own bound instead of the demo's.
    gw.set_max_conversations((args.rate * args.seconds / 5 + args.conversations) as usize + 1000);
    let dir = std::env::temp_dir().join(format!("xiaoer-load-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let state = args.state.clone().unwrap_or_else(|| dir.join("state.db"));
    let _ = std::fs::remove_file(&state);

    // Orders: reminders after 1 s at any hour, and no daily cap in the way.
    let proactive_env = [
        ("XIAOER_PROACTIVE__PAYMENT_REMINDER_AFTER", "1s"),
        ("XIAOER_PROACTIVE__WORKING_HOURS", "00:00-24:00"),
        ("XIAOER_PROACTIVE__MAX_PER_BUYER_PER_DAY", "100000"),
    ];
    let mut children = Reaper(Vec::new());
    let mut in_process = None;
    let mut spawn: Option<Box<dyn Fn(usize) -> std::process::Child>> = None;
    if args.in_process {
        let mut config = xiaoer::config::Config::defaults();
        config.timing.enabled = false;
        let mut rules = config.proactive().clone();
        rules.payment_reminder_after = 1000;
        rules.working_hours = (0, 24 * 60);
        rules.max_per_buyer_per_day = 100_000;
        config.set_proactive(rules);
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
                    instance: None,
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
        let url = g.bot_url();
        let (st, tk, pg) = (state.clone(), token.clone(), args.store_url.clone());
        // Typing delays are the shop's chosen pauses, not the bot's speed.
        spawn = Some(Box::new(move |i: usize| {
            let mut c = std::process::Command::new(&exe);
            c.args([
                "run",
                "--url",
                &url,
                "--instance",
                &format!("bot-{}", i + 1),
            ]);
            match &pg {
                Some(u) => c.env("XIAOER_STORE__URL", u),
                None => c.arg("--state").arg(&st),
            };
            c.env("XIAOER_CHANNEL__TOKEN", &tk)
                .env("XIAOER_LOG", "error")
                .env("XIAOER_TIMING__ENABLED", "false")
                .envs(proactive_env)
                .stdout(Stdio::null())
                .spawn()
                .expect("xiaoer run starts")
        }));
        if let Some(f) = spawn.as_ref() {
            children.0 = (0..args.instances).map(|i| Some(f(i))).collect();
        }
    }
    let t0 = Instant::now();
    while gw.instances() < args.instances {
        if t0.elapsed() > Duration::from_secs(15) {
            eprintln!("xiaoer-load: the bot did not connect");
            return 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "{} bot instance(s) connected after {} ms; sending {} msg/s over {} conversations for {} s",
        args.instances,
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
    let mut order_events: u64 = 0;
    let mut ids = Vec::with_capacity(total as usize);
    let mut rng = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64 | 1)
        .unwrap_or(7);
    let mut random = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut next_chaos = Instant::now() + Duration::from_millis(300 + random() % 1200);
    let (mut kills, mut drops) = (0u32, 0u32);
    let mut next_kill = args
        .kill_every
        .map(|s| Instant::now() + Duration::from_secs(s));
    let mut turn_to_kill = 0usize;
    let mut chaos = |children: &mut Vec<Option<std::process::Child>>, which: usize, kill: bool| {
        if kill {
            if let (Some(Some(c)), Some(spawn)) = (children.get_mut(which), spawn.as_ref()) {
                let _ = c.kill(); // SIGKILL
                let _ = c.wait();
                children[which] = Some(spawn(which));
                kills += 1;
            }
        } else {
            gw.drop_bot();
            drops += 1;
        }
    };
    while sent < total {
        tick.tick().await;
        if args.chaos && Instant::now() >= next_chaos {
            let r = random();
            chaos(
                &mut children.0,
                (r as usize / 2) % args.instances,
                r % 2 == 0,
            );
            next_chaos = Instant::now() + Duration::from_millis(300 + random() % 1200);
        }
        if let (Some(at), Some(every)) = (next_kill, args.kill_every) {
            if Instant::now() >= at {
                chaos(&mut children.0, turn_to_kill % args.instances, true);
                turn_to_kill += 1;
                next_kill = Some(at + Duration::from_secs(every));
            }
        }
        let due = ((start.elapsed().as_secs_f64() * args.rate as f64) as u64).min(total);
        while sent < due {
            let slot = sent % args.conversations;
            let round = sent / args.conversations;
            let script = SCRIPTS[(slot as usize) % SCRIPTS.len()];
            let turn = (round as usize) % script.len();
            let generation = round / script.len() as u64;
            let conv = format!("c-{slot}-{generation}");
            match gw.buyer_message(&conv, &format!("b-{slot}"), "", script[turn], None) {
                Ok(id) => ids.push((conv.clone(), id)),
                Err(e) => {
                    eprintln!("xiaoer-load: {e}");
                    return 1;
                }
            }
            let order = format!("o-{slot}-{generation}");
            let status = match turn {
                0 => Some(OrderStatus::Created),
                2 if generation % 2 == 0 => Some(OrderStatus::Paid),
                _ => None,
            };
            if let Some(status) = status {
                let item = OrderItem {
                    id: None,
                    title: Some("白色雪纺连衣裙".into()),
                    options: None,
                    qty: Some(1),
                    price: Some(129.0),
                };
                let r = gw.order_event(
                    &conv,
                    &format!("b-{slot}"),
                    &order,
                    status,
                    vec![item],
                    Some(129.0),
                    Some("杭州"),
                    None,
                    xiaoer::store::now_ms(),
                );
                if let Err(e) = r {
                    eprintln!("xiaoer-load: {e}");
                    return 1;
                }
                order_events += 1;
            }
            sent += 1;
        }
    }
    let send_secs = start.elapsed().as_secs_f64();
    let drain = Instant::now();
    while gw.stats().acked < total + order_events && drain.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Throughput: everything sent, acknowledged (stored) by the bots.
    let done_secs = start.elapsed().as_secs_f64();
    // The last reminders are due 1 s after the last orders; repeats of sends
    // cut off by a kill go out at the next connection.
    let mut waiting_sent = u64::MAX;
    let mut stored_sends = 0u64;
    let reader = match &args.store_url {
        Some(u) => xiaoer::store::Store::connect(u, true).await,
        None => xiaoer::store::Store::open_read_only(&state),
    };
    let reader = match reader {
        Ok(r) => r,
        Err(e) => {
            eprintln!("xiaoer-load: cannot read the store: {e}");
            return 1;
        }
    };
    while drain.elapsed() < Duration::from_secs(90) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Ok(counts) = reader.proactive_counts().await {
            let n = |st: &str| counts.get(st).copied().unwrap_or(0) as u64;
            waiting_sent = n("sending");
            stored_sends = n("sending") + n("sent");
            if n("due") == 0 && waiting_sent == 0 && gw.stats().sends == stored_sends {
                break;
            }
        }
    }
    if args.chaos || args.kill_every.is_some() {
        println!(
            "chaos: {kills} SIGKILLs of a bot instance, {drops} connection drops by the gateway"
        );
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
    println!(
        "processed: {} messages and order events acknowledged in {:.2} s ({:.0}/s)",
        s.acked,
        done_secs,
        s.acked as f64 / done_secs
    );
    summary("reply", reply);
    summary("ack", ack);
    if args.instances > 1 || args.kill_every.is_some() {
        summary("moved", gw.take_failovers());
        println!("{} conversations moved to another instance", s.moved);
    }
    println!(
        "orders: {} events sent, {} sends shown to buyers, {} repeats answered again, {} stored as sent or sending, {} still waiting for `sent`",
        order_events, s.sends, s.send_repeats, stored_sends, waiting_sent
    );
    if let Some(b) = in_process {
        b.stop().await;
    }
    for slot in children.0.iter_mut() {
        if let Some(mut c) = slot.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }
    // Compare the store with what was sent: every message must be there.
    let mut lost = 0u64;
    for (conversation, id) in &ids {
        if !reader
            .message_stored(conversation, id)
            .await
            .unwrap_or(false)
        {
            lost += 1;
        }
    }
    let decided_answers = reader.decided_answers().await.unwrap_or(0);
    println!(
        "store: {} of {} sent messages stored ({} missing); {} answers decided, {} reply frames received ({} decided but cut off by a kill before they left)",
        ids.len() as u64 - lost,
        ids.len(),
        lost,
        decided_answers,
        s.replies,
        decided_answers - s.replies as i64
    );
    if args.state.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if s.acked < total + order_events || s.double_answers > 0 || lost > 0 {
        eprintln!("xiaoer-load: FAILED: not every message acknowledged exactly once");
        return 1;
    }
    if waiting_sent != 0 || s.sends != stored_sends {
        eprintln!(
            "xiaoer-load: FAILED: not every started message reached the gateway exactly once"
        );
        return 1;
    }
    0
}
