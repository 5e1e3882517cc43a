use super::*;
use crate::channel::frame::OrderItem;

const T0: i64 = 1_795_341_600_000; // 2026-11-22T10:00:00Z, 18:00 in Beijing

fn rules() -> Rules {
    let mut r = crate::config::Config::defaults().proactive().clone();
    r.working_hours = (0, 24 * 60);
    r
}

fn ev(id: &str, status: OrderStatus, ts: i64) -> OrderEvent {
    OrderEvent {
        id: id.into(),
        order: "o-1".into(),
        conversation: "c-1".into(),
        shop: None,
        buyer: None,
        status,
        ts: Some(crate::gateway::rfc3339(ts)),
        items: vec![OrderItem {
            id: None,
            title: Some("白色雪纺连衣裙".into()),
            options: None,
            qty: Some(1),
            price: Some(129.0),
        }],
        total: Some(129.0),
        address: Some("杭州".into()),
        courier: (status >= OrderStatus::Shipped).then(|| "中通".into()),
        tracking: (status >= OrderStatus::Shipped).then(|| "ZT1".into()),
    }
}

/// Events in arrival order → the order's final status and every plan made.
#[test]
fn events_in_any_order_move_the_order_forward_only() {
    use OrderStatus::*;
    let after = rules().payment_reminder_after;
    let rows: &[(&[OrderStatus], &str, &[Plan])] = &[
        (
            &[Created],
            "created",
            &[Plan::Due(PAYMENT_REMINDER, T0 + after)],
        ),
        (
            &[Created, Paid],
            "paid",
            &[
                Plan::Due(PAYMENT_REMINDER, T0 + after),
                Plan::Cancel(Some(PAYMENT_REMINDER), "paid"),
                Plan::Due(ORDER_CHECK, T0),
            ],
        ),
        // A late `created` after `paid` changes nothing and makes nothing due.
        (
            &[Paid, Created],
            "paid",
            &[
                Plan::Cancel(Some(PAYMENT_REMINDER), "paid"),
                Plan::Due(ORDER_CHECK, T0),
                Plan::Cancel(Some(PAYMENT_REMINDER), "paid"),
            ],
        ),
        (
            &[Created, Closed],
            "closed",
            &[
                Plan::Due(PAYMENT_REMINDER, T0 + after),
                Plan::Cancel(None, "closed"),
            ],
        ),
        (
            &[Shipped, Paid],
            "shipped",
            &[
                Plan::Cancel(Some(PAYMENT_REMINDER), "paid"),
                Plan::Cancel(Some(ORDER_CHECK), "shipped"),
                Plan::Due(SHIPPED_NOTICE, T0),
                Plan::Cancel(Some(PAYMENT_REMINDER), "paid"),
            ],
        ),
        (
            &[Delivered],
            "delivered",
            &[
                Plan::Cancel(Some(PAYMENT_REMINDER), "paid"),
                Plan::Cancel(Some(SHIPPED_NOTICE), "delivered"),
                Plan::Due(DELIVERED_FOLLOWUP, T0 + 2 * DAY_MS),
            ],
        ),
    ];
    for (events, status, want) in rows {
        let mut order: Option<StoredOrder> = None;
        let mut plans = Vec::new();
        for (i, s) in events.iter().enumerate() {
            let e = ev(&format!("e-{i}"), *s, T0);
            let before = order.as_ref().and_then(|o| OrderStatus::parse(&o.status));
            let after = merge(order.as_ref(), &e, T0, false);
            plans.extend(plan(before, &after, &e, &rules(), T0));
            order = Some(after);
        }
        let order = order.unwrap();
        assert_eq!(order.status, *status, "{events:?}");
        assert_eq!(plans, *want, "{events:?}");
    }
}

#[test]
fn merge_keeps_newer_facts_and_first_times() {
    let created = ev("e-1", OrderStatus::Created, T0);
    let mut shipped = ev("e-2", OrderStatus::Shipped, T0 + 5000);
    shipped.address = Some("上海".into());
    let o = merge(None, &shipped, T0 + 9000, false);
    let o = merge(Some(&o), &created, T0 + 9000, true);
    assert_eq!(o.status, "shipped");
    assert_eq!(
        o.address.as_deref(),
        Some("上海"),
        "the older event does not overwrite"
    );
    assert_eq!((o.created_ms, o.shipped_ms), (Some(T0), Some(T0 + 5000)));
    assert!(
        !o.chatted,
        "chatted is decided when the order is first seen"
    );
    // A gateway clock ahead of the bot's: the event counts as now.
    let ahead = merge(
        None,
        &ev("e-3", OrderStatus::Created, T0 + DAY_MS),
        T0,
        false,
    );
    assert_eq!(ahead.created_ms, Some(T0));
}

fn row(kind: &str) -> ProactiveRow {
    ProactiveRow {
        id: send_id("o-1", kind),
        conversation: "c-1".into(),
        buyer: "b-1".into(),
        order_id: Some("o-1".into()),
        kind: kind.into(),
        state: "due".into(),
        due_ms: T0,
        reason: None,
        text: None,
        frame: None,
        sending_ms: None,
        sent_ms: None,
    }
}

fn order(status: OrderStatus, chatted: bool) -> StoredOrder {
    let mut o = merge(None, &ev("e", status, T0), T0, chatted);
    o.created_ms = Some(T0);
    o
}

fn ok() -> Situation {
    Situation {
        status: "bot".into(),
        ..Situation::default()
    }
}

/// One row per rule: what the scheduler does with a due message.
#[test]
fn due_messages_are_decided_by_the_rules() {
    use OrderStatus::*;
    let engine = crate::Engine::load(
        crate::config::Config::defaults(),
        crate::FileSource::Embedded,
    )
    .unwrap();
    let lines = &engine.proactive;
    let mut r = engine.config.proactive().clone(); // 09:00-22:00 Beijing, cutoff 16:00
    r.max_per_buyer_per_day = 2;
    let morning = T0 - 8 * rules::HOUR_MS; // 10:00 Beijing
    let night = T0 + 5 * rules::HOUR_MS; // 23:00 Beijing
    let tomorrow_9 = T0 + 15 * rules::HOUR_MS; // 09:00 Beijing next day
    let fine = ok();
    let agent = Situation {
        status: "taken".into(),
        ..ok()
    };
    let waiting = Situation {
        status: "escalated".into(),
        ..ok()
    };
    let complained = Situation {
        complained: true,
        ..ok()
    };
    let capped = Situation {
        sent_today: 2,
        ..ok()
    };
    type Row<'a> = (
        &'a str,
        Option<StoredOrder>,
        &'a Situation,
        i64,
        Result<&'a str, Verdict>,
    );
    let rows: Vec<Row> = vec![
        (
            PAYMENT_REMINDER,
            Some(order(Created, false)),
            &fine,
            morning + 30 * rules::MINUTE_MS,
            Ok("白色雪纺连衣裙"),
        ),
        (
            PAYMENT_REMINDER,
            Some(order(Paid, false)),
            &fine,
            morning,
            Err(Verdict::Cancel("paid")),
        ),
        (
            PAYMENT_REMINDER,
            Some(order(Closed, false)),
            &fine,
            morning,
            Err(Verdict::Cancel("closed")),
        ),
        (
            PAYMENT_REMINDER,
            Some(order(Created, false)),
            &fine,
            T0 + DAY_MS + 1,
            Err(Verdict::Cancel("too_old")),
        ),
        (
            PAYMENT_REMINDER,
            Some(order(Created, false)),
            &agent,
            T0,
            Err(Verdict::Cancel("agent")),
        ),
        (
            PAYMENT_REMINDER,
            Some(order(Created, false)),
            &waiting,
            T0,
            Err(Verdict::Cancel("agent")),
        ),
        (
            PAYMENT_REMINDER,
            Some(order(Created, false)),
            &complained,
            T0,
            Err(Verdict::Cancel("complaint")),
        ),
        (
            PAYMENT_REMINDER,
            Some(order(Created, false)),
            &fine,
            night,
            Err(Verdict::Delay(tomorrow_9, "closed_hours")),
        ),
        (
            PAYMENT_REMINDER,
            Some(order(Created, false)),
            &capped,
            T0,
            Err(Verdict::Delay(tomorrow_9, "daily_cap")),
        ),
        (
            PAYMENT_REMINDER,
            None,
            &fine,
            T0,
            Err(Verdict::Cancel("no_order")),
        ),
        (ORDER_CHECK, Some(order(Paid, false)), &fine, T0, Ok("杭州")),
        (
            ORDER_CHECK,
            Some(order(Shipped, false)),
            &fine,
            T0,
            Err(Verdict::Cancel("moved_on")),
        ),
        (
            SHIPPED_NOTICE,
            Some(order(Shipped, false)),
            &fine,
            T0,
            Ok("ZT1"),
        ),
        (
            DELIVERED_FOLLOWUP,
            Some(order(Delivered, false)),
            &fine,
            T0,
            Ok("雪纺"),
        ),
    ];
    for (kind, o, s, now, want) in rows {
        let got = decide(&row(kind), o.as_ref(), s, &r, lines, now);
        match (&got, &want) {
            (Verdict::Send(text), Ok(part)) => assert!(text.contains(part), "{kind}: {text}"),
            (v, Err(w)) => assert_eq!(v, w, "{kind} at {now}"),
            _ => panic!("{kind} at {now}: {got:?}, wanted {want:?}"),
        }
    }
}

/// The two scripts, and the cutoff line only before the cutoff.
#[test]
fn reminders_pick_the_script_and_the_cutoff_line() {
    let engine = crate::Engine::load(
        crate::config::Config::defaults(),
        crate::FileSource::Embedded,
    )
    .unwrap();
    let r = engine.config.proactive().clone();
    let at_10 = T0 - 8 * rules::HOUR_MS;
    let at_17 = T0 - rules::HOUR_MS;
    let say = |chatted: bool, now: i64| match decide(
        &row(PAYMENT_REMINDER),
        Some(&order(OrderStatus::Created, chatted)),
        &ok(),
        &r,
        &engine.proactive,
        now,
    ) {
        Verdict::Send(t) => t,
        v => panic!("{v:?}"),
    };
    assert!(say(false, at_10).contains("16:00"), "{}", say(false, at_10));
    assert!(
        !say(false, at_17).contains("16:00"),
        "{}",
        say(false, at_17)
    );
    let plain = say(false, at_17);
    let chatted = say(true, at_17);
    assert_ne!(plain, chatted);
    // No item title: only variants without {item}, or nothing.
    let mut bare = order(OrderStatus::Created, false);
    bare.items = "[]".into();
    let v = decide(
        &row(PAYMENT_REMINDER),
        Some(&bare),
        &ok(),
        &r,
        &engine.proactive,
        at_17,
    );
    assert_eq!(
        v,
        Verdict::Cancel("no_line"),
        "every shipped reminder names the item"
    );
}
