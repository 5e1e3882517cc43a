//! Hostile messages: classification and the whole decision finish on every
//! kind of `xiaoer::nlu::hostile::TABLE` at every length up to twice the input
//! budget, the splitter's work is bounded by a constant per byte, and a
//! message over the budget is read on its first `MAX_INPUT_CHARS` characters
//! and handed to a person. Time is only watched by a generous watchdog (a hang
//! becomes a failure); the latencies are measured by `xiaoer-bench adversarial`.

use crate::engine;
use std::sync::mpsc;
use std::time::Duration;
use xiaoer::dialogue::{Conversation, Reason};
use xiaoer::files::Action;
use xiaoer::nlu::hostile::TABLE;
use xiaoer::nlu::pinyin::{Pinyin, MAX_SYLLABLE};
use xiaoer::nlu::{within_budget, MAX_INPUT_CHARS};

/// Runs `f` on its own thread; a result not back within `secs` fails the test
/// (the thread is left behind: a test process that hangs is the worse outcome).
fn watchdog<T: Send + 'static>(what: &str, secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("{what}: no answer within {secs} s"))
}

/// The reported hang: 65 characters that took 10 minutes.
#[test]
fn the_reported_message_is_classified() {
    let text = "xian".repeat(16) + "q";
    let d = watchdog("xian×16+q", 60, move || {
        engine().decide(&mut Conversation::default(), &text, false)
    });
    assert!(!d.reply.trim().is_empty());
}

#[test]
fn every_hostile_kind_finishes_at_every_length() {
    for h in TABLE {
        for n in [10, 100, 1000, MAX_INPUT_CHARS, 2 * MAX_INPUT_CHARS] {
            let text = (h.make)(n);
            let what = format!("{} at {n} characters", h.name);
            let d = watchdog(&what, 120, move || {
                let e = engine();
                let c = e.nlu.classify(&text, false);
                let d = e.decide(&mut Conversation::default(), &text, false);
                (c, d, text.chars().count())
            });
            let (c, d, chars) = d;
            // No clause more than the characters read; confidences in range.
            assert!(c.clauses.len() <= MAX_INPUT_CHARS, "{what}");
            assert!(
                (0.0..=1.0).contains(&c.confidence),
                "{what}: {}",
                c.confidence
            );
            assert_eq!(c.truncated, chars > MAX_INPUT_CHARS, "{what}");
            assert!(!d.reply.trim().is_empty(), "{what}");
            if chars > MAX_INPUT_CHARS {
                assert_eq!(d.action, Action::Escalate, "{what}");
                assert_eq!(d.reason, Some(Reason::TooLong), "{what}");
            }
        }
    }
}

/// The splitter makes at most 2 × `MAX_SYLLABLE` table lookups per byte, on
/// every Latin word of every hostile message (before: "xian"×12+"q" made
/// millions of attempts).
#[test]
fn splitter_work_is_linear() {
    let p = Pinyin::new();
    for h in TABLE {
        for n in [100, MAX_INPUT_CHARS] {
            let text = (h.make)(n).to_lowercase();
            for w in text
                .split(|c: char| !c.is_ascii_lowercase())
                .filter(|w| !w.is_empty())
            {
                let (_, steps) = p.split_word_counted(w);
                assert!(
                    steps <= 2 * MAX_SYLLABLE * w.len(),
                    "{} at {n}: {} bytes took {steps} steps",
                    h.name,
                    w.len()
                );
            }
        }
    }
}

/// The budget: exactly `MAX_INPUT_CHARS` characters are read, counted in
/// characters (not bytes), and a message at the budget is read whole.
#[test]
fn the_input_budget_is_in_characters() {
    let rows: &[(String, usize, bool)] = &[
        ("货".repeat(MAX_INPUT_CHARS), MAX_INPUT_CHARS, false),
        ("货".repeat(MAX_INPUT_CHARS + 1), MAX_INPUT_CHARS, true),
        ("a".repeat(MAX_INPUT_CHARS - 1), MAX_INPUT_CHARS - 1, false),
        ("😀".repeat(3 * MAX_INPUT_CHARS), MAX_INPUT_CHARS, true),
        (String::new(), 0, false),
    ];
    for (text, chars, cut) in rows {
        let (read, truncated) = within_budget(text);
        assert_eq!(
            read.chars().count(),
            *chars,
            "{} chars",
            text.chars().count()
        );
        assert_eq!(truncated, *cut);
        assert!(text.starts_with(read));
    }
    // At the budget a question is answered as usual; one more character and
    // the whole goes to a person.
    let question = "有货吗";
    let at = format!(
        "{}{question}",
        " ".repeat(MAX_INPUT_CHARS - question.chars().count())
    );
    let d = engine().decide(&mut Conversation::default(), &at, false);
    assert_eq!(d.intents, ["stock"], "{:?}", d.reason);
    let over = format!("{at}吗");
    let d = engine().decide(&mut Conversation::default(), &over, false);
    assert_eq!(d.reason, Some(Reason::TooLong));
}
