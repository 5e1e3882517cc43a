//! Several bot instances on one shared PostgreSQL store behind one gateway
//! (protocol 1.1 "Several bot instances"): real websockets, a real server.

use crate::until;
use std::sync::Arc;
use xiaoer::channel::ClientConfig;
use xiaoer::gateway::{Gateway, GatewayConfig};
use xiaoer::live::{start_bot_on, start_gateway, BotHandle, GatewayHandle};
use xiaoer::store::Store;

/// The engine without typing delays (the tests wait for answers).
fn engine() -> Arc<xiaoer::Engine> {
    let mut config = xiaoer::config::Config::defaults();
    config.timing.enabled = false;
    Arc::new(xiaoer::Engine::load(config, xiaoer::FileSource::Embedded).unwrap())
}

async fn gateway() -> GatewayHandle {
    start_gateway(
        GatewayConfig {
            name: "t".into(),
            token: "k".into(),
            shop: "s".into(),
            items: vec![],
        },
        "127.0.0.1:0",
        None,
    )
    .await
    .unwrap()
}

async fn instance(
    gw: &GatewayHandle,
    url: &str,
    engine: &Arc<xiaoer::Engine>,
    name: &str,
) -> BotHandle {
    let store = Arc::new(Store::connect(url, false).await.unwrap());
    start_bot_on(
        engine.clone(),
        store,
        ClientConfig {
            url: gw.bot_url(),
            token: "k".into(),
            shops: vec!["demo".into()],
            log_chars: 0,
            instance: Some(name.into()),
        },
        None,
    )
    .unwrap()
}

/// The bot's decision on the last buyer message of `conversation`.
fn last_decision(gw: &Gateway, conversation: &str) -> (String, Option<String>) {
    let c = gw.conversation(conversation).unwrap();
    let m = c
        .messages
        .unwrap_or_default()
        .into_iter()
        .rev()
        .find(|m| m.role == "buyer")
        .expect("a buyer message");
    let d = m.decision.unwrap_or_default();
    (d.action, d.reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_share_conversations_and_a_moved_one_carries_on() {
    let Some(url) = crate::pg_database("scaleout").await else {
        return;
    };
    let engine = engine();
    let gw = gateway().await;
    let mut bots = Vec::new();
    for name in ["bot-1", "bot-2", "bot-3"] {
        bots.push(Some(instance(&gw, &url, &engine, name).await));
    }
    let g = gw.gateway.clone();
    until("three instances", || g.instances() == 3).await;
    for i in 0..30 {
        g.buyer_message(&format!("c-{i}"), &format!("b-{i}"), "买家", "有货吗", None)
            .unwrap();
    }
    until("30 acks", || g.stats().acked == 30).await;
    let served: std::collections::BTreeSet<String> = (0..30)
        .filter_map(|i| g.instance_of(&format!("c-{i}")))
        .collect();
    assert_eq!(
        served.len(),
        3,
        "every instance serves some conversations: {served:?}"
    );

    // Two bargaining asks answered by one instance, then it stops: the third
    // ask, answered by another from the shared store, goes to a person.
    let c = "c-bargain";
    for n in 1..=2u64 {
        g.buyer_message(c, "b-x", "买家", "能便宜点吗", None)
            .unwrap();
        until("the ask is acknowledged", || g.stats().acked == 30 + n).await;
        assert_eq!(last_decision(&g, c).0, "reply", "ask {n} is answered");
    }
    let first = g.instance_of(c).expect("served");
    let i = ["bot-1", "bot-2", "bot-3"]
        .iter()
        .position(|n| *n == first)
        .unwrap();
    bots[i].take().unwrap().stop().await;
    until("the instance is gone", || g.instances() == 2).await;
    g.buyer_message(c, "b-x", "买家", "能便宜点吗", None)
        .unwrap();
    until("the third ask is acknowledged", || g.stats().acked == 33).await;
    let second = g.instance_of(c).expect("served again");
    assert_ne!(second, first, "moved to another instance");
    assert_eq!(
        last_decision(&g, c),
        ("escalate".to_string(), Some("repeated_bargain".to_string())),
        "the ladder counted the asks answered elsewhere"
    );
    // Everyone else still gets answers, once.
    for i in 0..30 {
        g.buyer_message(
            &format!("c-{i}"),
            &format!("b-{i}"),
            "买家",
            "发什么快递",
            None,
        )
        .unwrap();
    }
    until("all acknowledged", || g.stats().acked == 63).await;
    let s = g.stats();
    assert_eq!((s.double_answers, s.unacked), (0, 0), "{s:?}");
    for b in bots.into_iter().flatten() {
        b.stop().await;
    }
}

/// A gateway that gives one message to two instances (here: two gateways,
/// one instance each, one store): only the first to store it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_message_given_to_two_instances_is_answered_once() {
    let Some(url) = crate::pg_database("twice").await else {
        return;
    };
    let engine = engine();
    let (gw1, gw2) = (gateway().await, gateway().await);
    let b1 = instance(&gw1, &url, &engine, "bot-1").await;
    let b2 = instance(&gw2, &url, &engine, "bot-2").await;
    let (g1, g2) = (gw1.gateway.clone(), gw2.gateway.clone());
    until("both connected", || {
        g1.bot_connected() && g2.bot_connected()
    })
    .await;
    for n in 0..20 {
        let c = format!("c-{n}");
        let a = g1.buyer_message(&c, "b-1", "买家", "有货吗", None).unwrap();
        let b = g2.buyer_message(&c, "b-1", "买家", "有货吗", None).unwrap();
        assert_eq!(a, b, "the same message id on both");
    }
    until("both acknowledged all", || {
        g1.stats().acked == 20 && g2.stats().acked == 20
    })
    .await;
    let answers = |g: &Gateway| g.stats().replies;
    assert_eq!(
        answers(&g1) + answers(&g2),
        20,
        "each message answered once"
    );
    b1.stop().await;
    b2.stop().await;
}
