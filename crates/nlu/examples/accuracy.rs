//! Intent accuracy of the NLU alone, fast: for editing intent files and the
//! scoring without building the bot.
//!
//! `cargo run -p xiaoer-nlu --release --example accuracy -- INTENTS_DIR FILE.jsonl...`
//!
//! Each line's intents are compared as `xiaoer eval` does (greeting and
//! closing ignored beside anything else; nothing read is `none`). Dialogue
//! files are read turn by turn without their context, so their figure is a
//! floor of `xiaoer eval`'s; the bot's eval stays the measure to report.
//! `XIAOER_MISSES=1` lists the misses (gold, read, confidence, text). Each
//! file also gets, at thresholds 0.5, 0.55 and 0.6, the wrong answers (a
//! wrong reading whose intents all reply, at or over the threshold) and the
//! automation (right answers among the turns whose gold action is reply),
//! as `xiaoer eval` counts them for single messages.

use xiaoer_nlu::config::{Catalog, NluConfig};
use xiaoer_nlu::files::Action;
use xiaoer_nlu::files::{read_dir, Sources};
use xiaoer_nlu::score::same_intents;
use xiaoer_nlu::Nlu;

/// Thresholds at which the wrong answers and the automation are counted.
const THRESHOLDS: [f32; 3] = [0.5, 0.55, 0.6];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((dir, files)) = args.split_first() else {
        return Err("usage: accuracy INTENTS_DIR FILE.jsonl...".into());
    };
    let src = Sources::parse(&read_dir(std::path::Path::new(dir))?, &[])?;
    let params = NluConfig {
        threshold: 0.6,
        margin: 0.08,
        neighbours: 8,
    };
    let nlu = Nlu::build(&src, &Catalog::default(), &params)?;
    let show = std::env::var_os("XIAOER_MISSES").is_some();
    for file in files {
        let (mut n, mut right) = (0usize, 0usize);
        let (mut wrong, mut auto, mut replies) = ([0usize; 3], [0usize; 3], 0usize);
        for (k, line) in std::fs::read_to_string(file)?.lines().enumerate() {
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("{file}:{}: {e}", k + 1))?;
            let turns = match v.get("turns").and_then(|t| t.as_array()) {
                Some(t) => t.clone(),
                None => vec![v],
            };
            for t in turns {
                let text = t["text"].as_str().unwrap_or_default();
                let gold: Vec<&str> = t["intents"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                    .unwrap_or_default();
                let c = nlu.classify(text, false);
                let got: Vec<&str> = c
                    .intents
                    .iter()
                    .map(|s| nlu.intents[s.intent].id.as_str())
                    .collect();
                n += 1;
                let ok = same_intents(&got, &gold);
                let answers = !c.intents.is_empty()
                    && c.intents
                        .iter()
                        .all(|s| nlu.intents[s.intent].action == Action::Reply);
                let gold_replies = t["action"].as_str() == Some("reply");
                replies += usize::from(gold_replies);
                for (k, th) in THRESHOLDS.iter().enumerate() {
                    let answered = answers && c.confidence >= *th;
                    wrong[k] += usize::from(answered && !ok);
                    auto[k] += usize::from(answered && ok && gold_replies);
                }
                if ok {
                    right += 1;
                } else if show {
                    let g = if got.is_empty() {
                        "none".into()
                    } else {
                        got.join("+")
                    };
                    println!("miss\t{}\t{g}\t{:.2}\t{text}", gold.join("+"), c.confidence);
                }
            }
        }
        println!(
            "{file}: {right}/{n} = {:.4}",
            right as f32 / n.max(1) as f32
        );
        for (k, th) in THRESHOLDS.iter().enumerate() {
            println!(
                "  at {th:.2}: wrong {} ({:.2} %), automation {:.3}",
                wrong[k],
                100.0 * wrong[k] as f32 / n.max(1) as f32,
                auto[k] as f32 / replies.max(1) as f32
            );
        }
    }
    Ok(())
}
