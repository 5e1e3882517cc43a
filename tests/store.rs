//! One store suite, run on both back ends: the SQLite file and a real
//! PostgreSQL server (the throwaway cluster `scripts/test` starts).

use std::sync::Arc;
use xiaoer::store::{Op, Store, Teachable, Written};

/// The back ends to test: a SQLite file, and a fresh PostgreSQL database.
async fn backends(name: &str) -> Vec<(&'static str, Store)> {
    let dir = crate::scratch(&format!("store-{name}"));
    let mut v = vec![("sqlite", Store::open(&dir.join("s.db")).unwrap())];
    if let Some(url) = crate::pg_database(name).await {
        v.push(("postgres", Store::connect(&url, false).await.unwrap()));
    }
    v
}

fn message(conversation: &str, id: &str, text: &str) -> Op {
    Op::Message {
        id: id.into(),
        conversation: conversation.into(),
        role: "buyer".into(),
        sender: Some("b-1".into()),
        name: None,
        text: text.into(),
        ts: None,
        item: None,
    }
}

fn decision(
    conversation: &str,
    id: &str,
    action: &str,
    reason: Option<&str>,
    confidence: f32,
) -> Op {
    Op::Decision {
        message_id: id.into(),
        conversation: conversation.into(),
        action: action.into(),
        intents: "[]".into(),
        confidence: Some(confidence),
        reason: reason.map(str::to_string),
        lang: Some("zh".into()),
        reply: Some("亲，在的呢".into()),
    }
}

fn state(conversation: &str, status: &str, json: &str) -> Op {
    Op::State {
        conversation: conversation.into(),
        status: status.into(),
        agent: None,
        state: json.into(),
    }
}

#[tokio::test]
async fn what_is_written_reads_back_the_same_on_both() {
    for (b, s) in backends("readback").await {
        assert!(s.conversation("c-1").await.unwrap().is_none(), "{b}");
        let w = s
            .write(vec![
                message("c-1", "m-1", "有货吗"),
                decision("c-1", "m-1", "reply", None, 0.9),
                state("c-1", "bot", r#"{"bargains":1}"#),
            ])
            .await
            .unwrap();
        assert_eq!(w, Written::Committed, "{b}");
        let c = s.conversation("c-1").await.unwrap().expect("stored");
        assert_eq!(
            (c.status.as_str(), c.state.as_str()),
            ("bot", r#"{"bargains":1}"#),
            "{b}"
        );
        assert!(c.handled.contains("m-1"), "{b}");
        assert!(s.message_stored("c-1", "m-1").await.unwrap(), "{b}");
        assert!(
            !s.message_stored("c-2", "m-1").await.unwrap(),
            "{b}: ids are per conversation"
        );
        assert_eq!(s.buyer_messages("c-1").await.unwrap(), 1, "{b}");
        assert_eq!(s.decided_answers().await.unwrap(), 1, "{b}");
        s.close();
    }
}

#[tokio::test]
async fn a_message_id_stored_already_makes_the_whole_write_a_duplicate() {
    for (b, s) in backends("duplicate").await {
        s.write(vec![
            message("c-1", "m-1", "便宜点"),
            state("c-1", "bot", r#"{"bargains":1}"#),
        ])
        .await
        .unwrap();
        // Another instance decided the same message differently: nothing of
        // its write may land.
        let w = s
            .write(vec![
                message("c-1", "m-1", "便宜点"),
                decision("c-1", "m-1", "reply", None, 0.9),
                state("c-1", "bot", r#"{"bargains":2}"#),
            ])
            .await
            .unwrap();
        assert_eq!(w, Written::Duplicate, "{b}");
        let c = s.conversation("c-1").await.unwrap().unwrap();
        assert_eq!(
            c.state, r#"{"bargains":1}"#,
            "{b}: the duplicate's state was kept"
        );
        assert_eq!(
            s.decided_answers().await.unwrap(),
            0,
            "{b}: the duplicate's decision was kept"
        );
        // The same id in another conversation is another message.
        assert_eq!(
            s.write(vec![message("c-2", "m-1", "在吗")]).await.unwrap(),
            Written::Committed,
            "{b}"
        );
        s.close();
    }
}

#[tokio::test]
async fn order_events_and_send_claims_are_decided_by_the_store() {
    for (b, s) in backends("claims").await {
        let event = || Op::OrderEvent {
            id: "e-1".into(),
            conversation: "c-1".into(),
            order_id: "o-1".into(),
            status: "created".into(),
            ts: None,
        };
        let due = Op::ProactiveDue {
            id: "o-1/payment_reminder".into(),
            conversation: "c-1".into(),
            buyer: "b-1".into(),
            order_id: Some("o-1".into()),
            kind: "payment_reminder".into(),
            due_ms: 10,
            at_ms: 1,
        };
        assert_eq!(
            s.write(vec![event(), due]).await.unwrap(),
            Written::Committed,
            "{b}"
        );
        assert!(s.order_event_seen("c-1", "e-1").await.unwrap(), "{b}");
        assert_eq!(
            s.write(vec![event()]).await.unwrap(),
            Written::Duplicate,
            "{b}"
        );
        assert_eq!(s.next_due().await.unwrap(), Some(10), "{b}");
        let sending = || Op::ProactiveSending {
            id: "o-1/payment_reminder".into(),
            text: "亲，还没付款哦".into(),
            frame: "{}".into(),
            at_ms: 20,
        };
        // Two instances found it due; the first claim sends, the second not.
        assert_eq!(
            s.write(vec![sending()]).await.unwrap(),
            Written::Committed,
            "{b}"
        );
        assert_eq!(
            s.write(vec![sending()]).await.unwrap(),
            Written::Duplicate,
            "{b}"
        );
        let row = s
            .proactive_row("o-1/payment_reminder")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.state.as_str(), row.sending_ms),
            ("sending", Some(20)),
            "{b}"
        );
        assert_eq!(
            s.proactive_counts().await.unwrap().get("sending"),
            Some(&1),
            "{b}"
        );
        assert_eq!(s.sends_to_buyer("b-1", 0, 100).await.unwrap(), 1, "{b}");
        s.write(vec![Op::ProactiveSent {
            id: "o-1/payment_reminder".into(),
            at_ms: 30,
        }])
        .await
        .unwrap();
        assert_eq!(
            s.proactive_in("sending", None, 10).await.unwrap().len(),
            0,
            "{b}"
        );
        s.close();
    }
}

#[tokio::test]
async fn the_agents_queue_and_the_report_come_from_the_store() {
    for (b, s) in backends("queue").await {
        for (c, status) in [
            ("c-1", "escalated"),
            ("c-2", "escalated"),
            ("c-3", "bot"),
            ("c-4", "taken"),
        ] {
            s.write(vec![state(c, status, "{}")]).await.unwrap();
        }
        assert_eq!(s.waiting().await.unwrap(), 2, "{b}");
        s.write(vec![
            message("c-1", "m-1", "今天天气真好"),
            decision("c-1", "m-1", "escalate", Some("unclassified"), 0.1),
            message("c-2", "m-2", "有货吗"),
            decision("c-2", "m-2", "reply", None, 0.9),
            message("c-3", "m-3", "我要投诉"),
            decision("c-3", "m-3", "escalate", Some("complaint"), 0.95),
            Op::DeskEvent {
                conversation: "c-2".into(),
                kind: "wrong".into(),
                agent: "xiaomei".into(),
                message_id: Some("m-2".into()),
                detail: None,
            },
        ])
        .await
        .unwrap();
        let w = s
            .report_window(
                0,
                i64::MAX,
                Teachable {
                    reasons: ["unclassified", "low_confidence"],
                    below: 0.45,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert_eq!((w.replied, w.escalated), (1, 2), "{b}");
        assert_eq!(w.reasons.get("complaint"), Some(&1), "{b}");
        let teachable: Vec<&str> = w.teachable.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            teachable,
            ["今天天气真好"],
            "{b}: a confident complaint is not teachable"
        );
        let wrong = s.marked_wrong(0, i64::MAX, 10).await.unwrap();
        assert_eq!(wrong.len(), 1, "{b}");
        assert_eq!(
            (wrong[0].0.as_str(), wrong[0].1.as_str()),
            ("有货吗", "c-2"),
            "{b}"
        );
        let log = s.desk_events("c-2").await.unwrap();
        assert_eq!((log.len(), log[0].agent.as_str()), (1, "xiaomei"), "{b}");
        s.close();
    }
}

/// Three instances write the same message ids at once: each id is stored
/// (and so answered) by exactly one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_writers_of_one_message_exactly_one_stores_it() {
    let Some(url) = crate::pg_database("race").await else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(Arc::new(Store::connect(&url, false).await.unwrap()));
    }
    const IDS: usize = 60;
    let mut tasks = Vec::new();
    for (i, s) in stores.iter().enumerate() {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            for n in 0..IDS {
                let id = format!("m-{n}");
                let w = s
                    .write(vec![
                        message("c-1", &id, "能便宜点吗"),
                        decision("c-1", &id, "reply", None, 0.9),
                        state("c-1", "bot", &format!(r#"{{"by":{i}}}"#)),
                    ])
                    .await
                    .unwrap();
                if w == Written::Committed {
                    won.push(n);
                }
            }
            won
        }));
    }
    let mut winners = vec![0usize; IDS];
    for t in tasks {
        for n in t.await.unwrap() {
            winners[n] += 1;
        }
    }
    assert!(
        winners.iter().all(|&w| w == 1),
        "stores per id: {winners:?}"
    );
    assert_eq!(stores[0].decided_answers().await.unwrap(), IDS as i64);
}

#[tokio::test]
async fn a_second_instance_migrates_nothing_and_a_bad_url_says_what_is_wrong() {
    if let Some(url) = crate::pg_database("migrate").await {
        let a = Store::connect(&url, false).await.unwrap();
        a.write(vec![message("c-1", "m-1", "在吗")]).await.unwrap();
        let b = Store::connect(&url, false).await.unwrap();
        assert!(b.message_stored("c-1", "m-1").await.unwrap());
        let r = Store::connect(&url, true).await.unwrap();
        assert!(
            r.write(vec![message("c-1", "m-2", "x")]).await.is_err(),
            "read-only"
        );
    }
    for (url, says) in [
        ("mysql://u:secret@h/d", "must start with postgres://"),
        ("postgres://u:secret@127.0.0.1:1/d", "127.0.0.1:1"),
    ] {
        let e = Store::connect(url, false)
            .await
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains(says), "{url}: {e}");
        assert!(!e.contains("secret"), "the password shows: {e}");
    }
}

fn due(order: &str, kind: &str) -> Op {
    Op::ProactiveDue {
        id: format!("{order}/{kind}"),
        conversation: "c-1".into(),
        buyer: "b-1".into(),
        order_id: Some(order.into()),
        kind: kind.into(),
        due_ms: 10,
        at_ms: 1,
    }
}

fn cancel(id: Option<&str>, order: Option<&str>, kind: Option<&str>) -> Op {
    Op::ProactiveCancel {
        id: id.map(str::to_string),
        order_id: order.map(str::to_string),
        kind: kind.map(str::to_string),
        reason: "paid".into(),
    }
}

/// A cancel by id, by order, or by order and kind changes exactly those due
/// messages (each shape is its own indexed statement).
#[tokio::test]
async fn a_cancel_touches_only_the_due_messages_it_names() {
    let ids = [
        "o-1/payment_reminder",
        "o-1/shipped_notice",
        "o-2/payment_reminder",
        "o-3/payment_reminder",
    ];
    // (the cancel, which of `ids` are cancelled afterwards)
    let rows: [(Op, [bool; 4]); 5] = [
        (cancel(None, None, None), [false; 4]),
        (
            cancel(Some("o-2/payment_reminder"), None, None),
            [false, false, true, false],
        ),
        (
            cancel(None, Some("o-1"), Some("shipped_notice")),
            [false, true, false, false],
        ),
        (cancel(None, Some("o-1"), None), [true, true, false, false]),
        (
            cancel(Some("o-3/payment_reminder"), Some("o-9"), None),
            [false; 4],
        ),
    ];
    for (i, (op, cancelled)) in rows.into_iter().enumerate() {
        for (b, s) in backends(&format!("cancel{i}")).await {
            let mut ops: Vec<Op> = ids
                .iter()
                .map(|id| {
                    let (order, kind) = id.split_once('/').unwrap();
                    due(order, kind)
                })
                .collect();
            ops.push(op.clone());
            s.write(ops).await.unwrap();
            for (id, want) in ids.iter().zip(cancelled) {
                let row = s.proactive_row(id).await.unwrap().unwrap();
                let want = if want { "cancelled" } else { "due" };
                assert_eq!(row.state, want, "{b}, row {i}: {id}");
            }
            s.close();
        }
    }
}

/// A takeover takes the open escalation; with none open it records one, so
/// the history says who held the conversation either way.
#[tokio::test]
async fn a_takeover_takes_the_open_escalation_or_records_one() {
    for (b, s) in backends("takeover").await {
        let taken = |c: &str| Op::Taken {
            conversation: c.into(),
            agent: "xiaomei".into(),
        };
        s.write(vec![
            Op::EscalationOpened {
                conversation: "c-1".into(),
                message_id: "m-1".into(),
                reason: "complaint".into(),
                priority: "high".into(),
                summary: "投诉".into(),
            },
            taken("c-1"),
            taken("c-2"),
        ])
        .await
        .unwrap();
        let xiaomei = Some("xiaomei".to_string());
        assert_eq!(
            s.escalation_history("c-1").await.unwrap(),
            [("taken".to_string(), xiaomei.clone())],
            "{b}"
        );
        assert_eq!(
            s.escalation_history("c-2").await.unwrap(),
            [("taken".to_string(), xiaomei.clone())],
            "{b}"
        );
        s.write(vec![Op::Released {
            conversation: "c-2".into(),
            agent: "xiaomei".into(),
        }])
        .await
        .unwrap();
        assert_eq!(
            s.escalation_history("c-2").await.unwrap(),
            [("released".to_string(), xiaomei)],
            "{b}"
        );
        s.close();
    }
}

/// A write whose message id is taken is undone whole, even when the message
/// is not its first op (the statements of a write go to PostgreSQL in one
/// pipeline; the claim's result decides commit or rollback).
#[tokio::test]
async fn a_taken_id_anywhere_in_a_write_undoes_all_of_it() {
    for (b, s) in backends("claimlate").await {
        s.write(vec![message("c-1", "m-1", "在吗")]).await.unwrap();
        let w = s
            .write(vec![
                state("c-9", "escalated", "{}"),
                message("c-9", "m-9", "有货吗"),
                message("c-1", "m-1", "在吗"),
                decision("c-9", "m-9", "reply", None, 0.9),
            ])
            .await
            .unwrap();
        assert_eq!(w, Written::Duplicate, "{b}");
        assert!(s.conversation("c-9").await.unwrap().is_none(), "{b}");
        assert!(!s.message_stored("c-9", "m-9").await.unwrap(), "{b}");
        assert_eq!(s.waiting().await.unwrap(), 0, "{b}");
        s.close();
    }
}

/// A long conversation reads back only its newest handled ids (a bounded
/// read and bounded memory); an older id is still caught by the claim.
#[tokio::test]
async fn a_long_conversation_reads_back_a_bounded_set_of_handled_ids() {
    let n = xiaoer::store::HANDLED_RECENT + 44;
    for (b, s) in backends("handled").await {
        for i in 0..n {
            s.write(vec![message("c-1", &format!("m-{i}"), "在吗")])
                .await
                .unwrap();
            // Distinct arrival times, so "newest" is well defined.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let c = s.conversation("c-1").await.unwrap().unwrap();
        assert_eq!(c.handled.len(), xiaoer::store::HANDLED_RECENT, "{b}");
        assert!(c.handled.contains(&format!("m-{}", n - 1)), "{b}");
        assert!(!c.handled.contains("m-0"), "{b}");
        assert_eq!(
            s.write(vec![message("c-1", "m-0", "在吗")]).await.unwrap(),
            Written::Duplicate,
            "{b}"
        );
        s.close();
    }
}
