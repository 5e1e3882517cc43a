//! Property tests: normalisation is idempotent and never panics, whatever the
//! text; what the store acknowledged survives closing and reopening it.

use proptest::prelude::*;
use xiaoer::store::{Op, Store};

/// Text mixing what buyers type: Chinese (simplified and traditional),
/// full-width forms, Latin, digits, emoji, punctuation, control characters.
fn buyer_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("亲".to_string()),
        Just("有货吗".to_string()),
        Just("發貨".to_string()),
        Just("ＡＢＣ１２３".to_string()),
        Just("包邮吗？？？".to_string()),
        Just("zai ma".to_string()),
        Just("👍😊".to_string()),
        Just("木有".to_string()),
        Just("\u{200b}\u{feff}\t\r\n".to_string()),
        Just("ﾃｽﾄ".to_string()),
        // Halves of pinyin aliases, and what may come between them (bao☀you).
        Just("bao".to_string()),
        Just("you".to_string()),
        Just("zai".to_string()),
        Just("☀".to_string()),
        Just(" ".to_string()),
        "[a-zA-Z0-9 ,.!?]{0,8}",
        "\\PC{0,6}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(pieces, 0..8).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn normalising_twice_changes_nothing(text in buyer_text()) {
        let n = crate::engine().nlu.normalizer();
        let once = n.normalize(&text);
        let twice = n.normalize(&once);
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn classifying_anything_gives_a_decision(text in buyer_text()) {
        let e = crate::engine();
        let d = e.decide(&mut xiaoer::dialogue::Conversation::default(), &text, false);
        prop_assert!((0.0..=1.0).contains(&d.confidence));
        prop_assert!(!d.reply.trim().is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever batches the writes come in, every written message is there
    /// after the store is closed and opened again, with its conversation.
    #[test]
    fn acknowledged_messages_survive_reopening(
        batches in prop::collection::vec(prop::collection::vec((0u8..6, buyer_text()), 1..6), 1..6)
    ) {
        let dir = crate::scratch("prop-store");
        let path = dir.join("s.db");
        let mut written = Vec::new();
        {
            let store = Store::open(&path).unwrap();
            let mut n = 0;
            for batch in &batches {
                let mut ops = Vec::new();
                for (conv, text) in batch {
                    n += 1;
                    let id = format!("m-{n}");
                    ops.push(Op::Message {
                        id: id.clone(),
                        conversation: format!("c-{conv}"),
                        role: "buyer".into(),
                        sender: None,
                        name: None,
                        text: text.clone(),
                        ts: None,
                        item: None,
                    });
                    written.push((id, format!("c-{conv}"), text.clone()));
                }
                store.write_blocking(ops).unwrap();
            }
        }
        let store = Store::open(&path).unwrap();
        let store = store.as_sqlite().unwrap();
        for (id, conv, text) in &written {
            let c = store.conversation(conv).unwrap().expect("conversation kept");
            prop_assert!(c.handled.contains(id));
            let got: String = store
                .read(|db| db.query_row("SELECT text FROM messages WHERE id = ?1", [id], |r| r.get(0)))
                .unwrap();
            prop_assert_eq!(&got, text);
        }
    }
}
