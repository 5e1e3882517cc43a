//! Evaluation on labelled sets: the metrics of `../shared/eval/score.py`,
//! computed the same way (the same rules, the same order of operations), plus
//! the classification latency and throughput of the run.

use crate::dialogue::{Conversation, Decision};
use crate::engine::Engine;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::Path;
use std::time::Instant;

/// One labelled message.
#[derive(Debug, Clone, Deserialize)]
pub struct Gold {
    /// The buyer's text.
    pub text: String,
    /// The labelled intents.
    pub intents: Vec<String>,
    /// The labelled action.
    pub action: String,
    /// The item the buyer looks at (as in a `message` frame), for catalog sets.
    #[serde(default)]
    pub item: Option<serde_json::Value>,
    /// The message time (RFC 3339), for promotion windows.
    #[serde(default)]
    pub ts: Option<serde_json::Value>,
    /// Facts the reply must state, each as written in the catalog (a
    /// catalog set): the message is right when the bot replies with every
    /// one of them in its reply, or, labelled `escalate`, when it escalates.
    #[serde(default)]
    pub facts: Option<Vec<String>>,
    /// 1-based line of the file it was read from (0: not from a file).
    #[serde(skip)]
    pub line: usize,
}

/// What is wrong with a labelled file; the line is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoldError {
    /// A line that is not one of the two forms.
    #[error("line {line}: {message} (expected {{\"text\", \"intents\", \"action\"}} or {{\"id\", \"turns\"}})")]
    Syntax {
        /// The line.
        line: usize,
        /// serde's words.
        message: String,
    },
    /// No labelled message at all: scores of nothing would read as a result.
    #[error(
        "no labelled messages in the file (one JSON object a line, see ../shared/eval/README.md)"
    )]
    Empty,
    /// A dialogue with no turns.
    #[error("line {line}: the dialogue has no turns")]
    NoTurns {
        /// The line.
        line: usize,
    },
    /// A label the engine does not know: every message with it would count as wrong.
    #[error("line {line}: unknown intent {intent:?}: not an intent of the engine (its intents: {known})")]
    UnknownIntent {
        /// The line.
        line: usize,
        /// The label.
        intent: String,
        /// The engine's ids, comma-separated.
        known: String,
    },
    /// A message with no intent label.
    #[error("line {line}: \"intents\" is empty (label it \"none\" when nothing fits)")]
    NoIntent {
        /// The line.
        line: usize,
    },
    /// An action other than reply or escalate.
    #[error("line {line}: action {action:?}: must be \"reply\" or \"escalate\"")]
    Action {
        /// The line.
        line: usize,
        /// The label.
        action: String,
    },
}

impl GoldError {
    /// The 1-based line it is about (0: the file as a whole).
    pub fn line(&self) -> usize {
        match self {
            GoldError::Empty => 0,
            GoldError::Syntax { line, .. }
            | GoldError::NoTurns { line }
            | GoldError::UnknownIntent { line, .. }
            | GoldError::NoIntent { line }
            | GoldError::Action { line, .. } => *line,
        }
    }

    /// `file:line: what` as operators read errors.
    pub fn located(&self, file: &Path) -> String {
        let what = self.to_string();
        match self.line() {
            0 => format!("{}: {what}", file.display()),
            n => {
                let rest = what.strip_prefix(&format!("line {n}: ")).unwrap_or(&what);
                format!("{}:{n}: {rest}", file.display())
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum GoldLine {
    Dialogue {
        id: Option<String>,
        turns: Vec<Gold>,
    },
    Single(Gold),
}

/// A labelled file: conversations of one or more turns, in order.
#[derive(Debug, Clone, Default)]
pub struct GoldSet {
    /// Each conversation's turns (a single message is a conversation of one).
    pub conversations: Vec<(String, Vec<Gold>)>,
}

impl GoldSet {
    /// Parses JSONL; errors name the line. A file with no labelled message,
    /// a dialogue with no turns, a message without intents or with an action
    /// other than reply/escalate is an error.
    pub fn parse(text: &str) -> Result<GoldSet, GoldError> {
        let mut out = GoldSet::default();
        for (n, line) in text.lines().enumerate() {
            let n = n + 1;
            if line.trim().is_empty() {
                continue;
            }
            let g: GoldLine = serde_json::from_str(line).map_err(|e| GoldError::Syntax {
                line: n,
                message: e.to_string(),
            })?;
            let (id, mut turns) = match g {
                GoldLine::Dialogue { id, turns } => {
                    (id.unwrap_or_else(|| format!("line-{n}")), turns)
                }
                GoldLine::Single(g) => (format!("line-{n}"), vec![g]),
            };
            if turns.is_empty() {
                return Err(GoldError::NoTurns { line: n });
            }
            for t in &mut turns {
                t.line = n;
                if t.intents.is_empty() {
                    return Err(GoldError::NoIntent { line: n });
                }
                if !matches!(t.action.as_str(), "reply" | "escalate") {
                    return Err(GoldError::Action {
                        line: n,
                        action: t.action.clone(),
                    });
                }
            }
            out.conversations.push((id, turns));
        }
        if out.conversations.is_empty() {
            return Err(GoldError::Empty);
        }
        Ok(out)
    }

    /// Every label is one of `known` (the engine's intent ids; `none` always
    /// counts): the first unknown one with its line.
    pub fn check_intents(&self, known: &[&str]) -> Result<(), GoldError> {
        for g in self.messages() {
            if let Some(bad) = g
                .intents
                .iter()
                .find(|i| i.as_str() != crate::files::NONE && !known.contains(&i.as_str()))
            {
                let mut ids: Vec<&str> = known.to_vec();
                ids.sort_unstable();
                return Err(GoldError::UnknownIntent {
                    line: g.line,
                    intent: bad.clone(),
                    known: ids.join(", "),
                });
            }
        }
        Ok(())
    }

    /// Every message, flattened in order.
    pub fn messages(&self) -> impl Iterator<Item = &Gold> {
        self.conversations.iter().flat_map(|(_, t)| t.iter())
    }
}

/// A prediction for one message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pred {
    /// Predicted intents.
    pub intents: Vec<String>,
    /// Predicted action.
    pub action: String,
}

/// Per-intent figures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PerIntent {
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
    /// Gold count.
    pub support: u64,
}

/// One confusion (gold set → predicted set).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Confusion {
    /// Gold intents joined by +.
    pub gold: String,
    /// Predicted intents joined by +.
    pub pred: String,
    /// How often.
    pub count: u64,
}

/// The scores, with the same names and meanings as `score.py --json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Scores {
    /// Messages scored.
    pub messages: u64,
    /// Share with the exact intent set.
    pub intent_accuracy: f64,
    /// Share with the right action.
    pub action_accuracy: f64,
    /// Share answered (reply) with a wrong intent set.
    pub wrong_answer_rate: f64,
    /// Of those needing a human, share escalated.
    pub escalation_recall: f64,
    /// Of those escalated, share that needed it.
    pub escalation_precision: f64,
    /// Of those the bot should answer, share answered right.
    pub automation_rate: f64,
    /// Mean F1 over intents.
    pub macro_f1: f64,
    /// Per intent.
    pub per_intent: BTreeMap<String, PerIntent>,
    /// Most frequent confusions.
    pub top_confusions: Vec<Confusion>,
}

const SOFT: [&str; 2] = ["greeting", "closing"];

fn pred_set(gold: &BTreeSet<&str>, pred: &Pred) -> BTreeSet<String> {
    let mut got: BTreeSet<String> = pred.intents.iter().cloned().collect();
    if got.is_empty() {
        got.insert("none".into());
    }
    if gold.iter().any(|g| !SOFT.contains(g)) {
        got.retain(|i| !SOFT.contains(&i.as_str()));
        if got.is_empty() {
            got.insert("none".into());
        }
    }
    got
}

fn ratio(a: u64, b: u64, empty: f64) -> f64 {
    if b == 0 {
        empty
    } else {
        a as f64 / b as f64
    }
}

/// Scores predictions against gold, message by message, as `score.py` does.
pub fn score(gold: &[&Gold], pred: &[Pred]) -> Result<Scores, String> {
    if gold.len() != pred.len() {
        return Err(format!(
            "{} gold messages but {} predictions",
            gold.len(),
            pred.len()
        ));
    }
    let n = gold.len() as u64;
    let (mut right, mut act_ok, mut wrong_answer) = (0u64, 0u64, 0u64);
    let (mut esc_gold, mut esc_hit, mut esc_pred) = (0u64, 0u64, 0u64);
    let (mut reply_gold, mut automated) = (0u64, 0u64);
    let mut tp: BTreeMap<String, u64> = BTreeMap::new();
    let mut fp: BTreeMap<String, u64> = BTreeMap::new();
    let mut fn_: BTreeMap<String, u64> = BTreeMap::new();
    // (count, first seen) per confusion, to order ties as Python's Counter does.
    let mut confusions: BTreeMap<(String, String), (u64, usize)> = BTreeMap::new();
    for (k, (g, p)) in gold.iter().zip(pred).enumerate() {
        let gs: BTreeSet<&str> = g.intents.iter().map(String::as_str).collect();
        let ps = pred_set(&gs, p);
        let ps_ref: BTreeSet<&str> = ps.iter().map(String::as_str).collect();
        let ok = gs == ps_ref;
        right += ok as u64;
        act_ok += (p.action == g.action) as u64;
        if p.action == "reply" && !ok {
            wrong_answer += 1;
        }
        if g.action == "escalate" {
            esc_gold += 1;
            esc_hit += (p.action == "escalate") as u64;
        }
        if p.action == "escalate" {
            esc_pred += 1;
        }
        if g.action == "reply" {
            reply_gold += 1;
            automated += (p.action == "reply" && ok) as u64;
        }
        for i in gs.intersection(&ps_ref) {
            *tp.entry(i.to_string()).or_default() += 1;
        }
        for i in ps_ref.difference(&gs) {
            *fp.entry(i.to_string()).or_default() += 1;
        }
        for i in gs.difference(&ps_ref) {
            *fn_.entry(i.to_string()).or_default() += 1;
        }
        if !ok {
            let key = (
                gs.iter().copied().collect::<Vec<_>>().join("+"),
                ps_ref.iter().copied().collect::<Vec<_>>().join("+"),
            );
            confusions.entry(key).or_insert((0, k)).0 += 1;
        }
    }
    let mut per_intent = BTreeMap::new();
    let names: BTreeSet<&String> = tp.keys().chain(fp.keys()).chain(fn_.keys()).collect();
    for i in names {
        let t = tp.get(i).copied().unwrap_or(0);
        let f_p = fp.get(i).copied().unwrap_or(0);
        let f_n = fn_.get(i).copied().unwrap_or(0);
        let p = if t + f_p > 0 {
            t as f64 / (t + f_p) as f64
        } else {
            0.0
        };
        let r = if t + f_n > 0 {
            t as f64 / (t + f_n) as f64
        } else {
            0.0
        };
        let f1 = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        per_intent.insert(
            i.clone(),
            PerIntent {
                precision: p,
                recall: r,
                f1,
                support: t + f_n,
            },
        );
    }
    let macro_f1 = if per_intent.is_empty() {
        0.0
    } else {
        per_intent.values().map(|v| v.f1).sum::<f64>() / per_intent.len() as f64
    };
    let mut conf: Vec<_> = confusions.into_iter().collect();
    conf.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.1 .1.cmp(&b.1 .1)));
    let top_confusions = conf
        .into_iter()
        .take(15)
        .map(|((g, p), (c, _))| Confusion {
            gold: g,
            pred: p,
            count: c,
        })
        .collect();
    Ok(Scores {
        messages: n,
        intent_accuracy: ratio(right, n, 0.0),
        action_accuracy: ratio(act_ok, n, 0.0),
        wrong_answer_rate: ratio(wrong_answer, n, 0.0),
        escalation_recall: ratio(esc_hit, esc_gold, 1.0),
        escalation_precision: ratio(esc_hit, esc_pred, 1.0),
        automation_rate: ratio(automated, reply_gold, 0.0),
        macro_f1,
        per_intent,
        top_confusions,
    })
}

/// One run of an engine over a labelled set: the decisions and their scores.
pub struct Run {
    /// The scores.
    pub scores: Scores,
    /// Each message's decision, in the set's order.
    pub decisions: Vec<Decision>,
    /// Median classification latency, µs.
    pub p50_us: f64,
    /// 99th percentile, µs.
    pub p99_us: f64,
    /// Messages per second over the run (one thread).
    pub throughput: f64,
    /// Of the messages labelled with `facts`: (right, all).
    pub facts: (u64, u64),
}

impl Run {
    /// The share of messages labelled with `facts` that the bot got right
    /// (see [`Gold::facts`]); `None` when the set has no such labels.
    pub fn fact_accuracy(&self) -> Option<f64> {
        (self.facts.1 > 0).then(|| self.facts.0 as f64 / self.facts.1 as f64)
    }
}

/// Whether a decision states the labelled facts (see [`Gold::facts`]).
pub fn fact_right(g: &Gold, d: &Decision) -> Option<bool> {
    let facts = g.facts.as_ref()?;
    Some(if g.action == "escalate" {
        d.action.as_str() == "escalate"
    } else {
        d.action.as_str() == "reply" && facts.iter().all(|f| d.reply.contains(f.as_str()))
    })
}

/// Decides every message of `gold` (each conversation in its own state, in
/// order) and scores the decisions.
pub fn run(engine: &Engine, gold: &GoldSet) -> Result<Run, String> {
    let mut preds = Vec::new();
    let mut lat = Vec::new();
    let mut decisions = Vec::new();
    let t0 = Instant::now();
    for (_, turns) in &gold.conversations {
        let mut conv = Conversation::default();
        for g in turns {
            let ctx = crate::cli::LineContext::parse(g.item.as_ref(), g.ts.as_ref())
                .map_err(|e| format!("line {}: {e}", g.line))?;
            let t = Instant::now();
            let d = engine.decide_on(&mut conv, &g.text, &ctx.context(), false);
            lat.push(t.elapsed().as_secs_f64() * 1e6);
            preds.push(Pred {
                intents: d.intents.clone(),
                action: d.action.as_str().to_string(),
            });
            decisions.push(d);
        }
    }
    let total = t0.elapsed().as_secs_f64();
    let gold_msgs: Vec<_> = gold.messages().collect();
    let mut facts = (0, 0);
    for (g, d) in gold_msgs.iter().zip(&decisions) {
        if let Some(ok) = fact_right(g, d) {
            facts.1 += 1;
            facts.0 += ok as u64;
        }
    }
    let scores = score(&gold_msgs, &preds)?;
    lat.sort_by(f64::total_cmp);
    let throughput = if total > 0.0 {
        preds.len() as f64 / total
    } else {
        0.0
    };
    Ok(Run {
        scores,
        decisions,
        p50_us: percentile(&lat, 50.0),
        p99_us: percentile(&lat, 99.0),
        throughput,
        facts,
    })
}

impl Run {
    /// The predictions, one JSON object a line (text, intents, action,
    /// confidence, reply).
    pub fn write_predictions(&self, gold: &GoldSet, w: &mut impl Write) -> io::Result<()> {
        for (g, d) in gold.messages().zip(&self.decisions) {
            serde_json::to_writer(
                &mut *w,
                &serde_json::json!({"text": g.text, "intents": d.intents, "action": d.action.as_str(), "confidence": d.confidence, "reply": d.reply}),
            )?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }

    /// The scores as `score.py --json` has them, plus latency and throughput.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.scores).unwrap_or_default();
        v["latency_us"] = serde_json::json!({"p50": self.p50_us, "p99": self.p99_us});
        v["throughput_per_s"] = serde_json::json!(self.throughput);
        if let Some(f) = self.fact_accuracy() {
            v["fact_accuracy"] = serde_json::json!(f);
            v["fact_messages"] = serde_json::json!(self.facts.1);
        }
        v
    }

    /// The readable report; with `errors`, every wrongly decided message.
    pub fn write_text(
        &self,
        file: &Path,
        gold: &GoldSet,
        errors: bool,
        w: &mut impl Write,
    ) -> io::Result<()> {
        let s = &self.scores;
        let (p50, p99, throughput) = (self.p50_us, self.p99_us, self.throughput);
        writeln!(w, "{}: {} messages", file.display(), s.messages)?;
        for (k, v) in [
            ("intent_accuracy", s.intent_accuracy),
            ("action_accuracy", s.action_accuracy),
            ("wrong_answer_rate", s.wrong_answer_rate),
            ("escalation_recall", s.escalation_recall),
            ("escalation_precision", s.escalation_precision),
            ("automation_rate", s.automation_rate),
            ("macro_f1", s.macro_f1),
        ] {
            writeln!(w, "{k:22} {v:.4}")?;
        }
        if let Some(f) = self.fact_accuracy() {
            writeln!(
                w,
                "{:22} {f:.4} ({} of {} messages labelled with facts: the reply states them all, or it escalates where labelled so)",
                "fact_accuracy", self.facts.0, self.facts.1
            )?;
        }
        writeln!(w, "{:22} p50 {p50:.1} µs, p99 {p99:.1} µs, {throughput:.0} messages/s (one thread, dialogue policy included)", "latency")?;
        writeln!(w, "\nper intent (worst f1 first):")?;
        let mut per: Vec<_> = s.per_intent.iter().collect();
        per.sort_by(|a, b| a.1.f1.total_cmp(&b.1.f1));
        for (i, v) in per {
            writeln!(
                w,
                "  {i:16} p={:.2} r={:.2} f1={:.2} n={}",
                v.precision, v.recall, v.f1, v.support
            )?;
        }
        writeln!(w, "\ntop confusions (gold -> predicted):")?;
        for c in &s.top_confusions {
            writeln!(w, "  {:3}  {} -> {}", c.count, c.gold, c.pred)?;
        }
        if errors {
            writeln!(w, "\nerrors:")?;
            for (g, d) in gold.messages().zip(&self.decisions) {
                let mut gi = g.intents.clone();
                gi.sort();
                let mut pi: Vec<String> = d.intents.clone();
                if gi.iter().any(|i| !SOFT.contains(&i.as_str())) {
                    pi.retain(|i| !SOFT.contains(&i.as_str()));
                }
                pi.sort();
                if fact_right(g, d) == Some(false) {
                    writeln!(
                        w,
                        "  {:40} facts {:?} {}: got {} {:?}",
                        g.text,
                        g.facts.as_deref().unwrap_or_default(),
                        g.action,
                        d.action.as_str(),
                        d.reply
                    )?;
                } else if gi != pi || g.action != d.action.as_str() {
                    writeln!(
                        w,
                        "  {:40} gold {}/{}  got {}/{} ({:.2})",
                        g.text,
                        gi.join("+"),
                        g.action,
                        d.intents.join("+"),
                        d.action.as_str(),
                        d.confidence
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// Thresholds from 0 to 1 in steps of this size for [`curve`].
pub const CURVE_STEP: f32 = 0.05;

/// One point of the confidence curve: what the bot would do on a labelled set
/// with `nlu.threshold` at this value.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CurvePoint {
    /// The `nlu.threshold` tried.
    pub threshold: f32,
    /// Of the messages the bot should answer, the share it answered right.
    pub automation_rate: f64,
    /// Share of all messages answered with a wrong intent set.
    pub wrong_answer_rate: f64,
    /// Of the messages that needed a human, the share escalated.
    pub escalation_recall: f64,
    /// Share of messages with the exact intent set (does not move with the
    /// threshold, except through follow-ups).
    pub intent_accuracy: f64,
}

/// The trade-off an operator picks `nlu.threshold` from: the whole set is
/// decided again (dialogue policy included, since follow-ups read the
/// threshold too) at each threshold from 0 to 1 in [`CURVE_STEP`] steps.
/// The engine's own threshold is restored afterwards.
pub fn curve(engine: &mut crate::Engine, gold: &GoldSet) -> Result<Vec<CurvePoint>, String> {
    let saved = engine.config.nlu.threshold;
    let msgs: Vec<&Gold> = gold.messages().collect();
    let steps = (1.0 / CURVE_STEP).round() as usize;
    let mut out = Vec::with_capacity(steps + 1);
    for k in 0..=steps {
        let t = (k as f32 * CURVE_STEP).min(1.0);
        engine.config.nlu.threshold = t;
        let mut preds = Vec::with_capacity(msgs.len());
        for (_, turns) in &gold.conversations {
            let mut conv = crate::dialogue::Conversation::default();
            for g in turns {
                let d = engine.decide(&mut conv, &g.text, false);
                preds.push(Pred {
                    intents: d.intents,
                    action: d.action.as_str().to_string(),
                });
            }
        }
        let s = score(&msgs, &preds);
        if s.is_err() {
            engine.config.nlu.threshold = saved;
        }
        let s = s?;
        out.push(CurvePoint {
            threshold: t,
            automation_rate: s.automation_rate,
            wrong_answer_rate: s.wrong_answer_rate,
            escalation_recall: s.escalation_recall,
            intent_accuracy: s.intent_accuracy,
        });
    }
    engine.config.nlu.threshold = saved;
    Ok(out)
}

/// The curve as a table for a terminal, the engine's threshold marked.
pub fn curve_table(points: &[CurvePoint], current: f32) -> String {
    let mut s = String::from("threshold  automation  wrong answers  escalation recall  accuracy\n");
    for p in points {
        let mark = if (p.threshold - current).abs() < CURVE_STEP / 2.0 {
            "  <- nlu.threshold"
        } else {
            ""
        };
        s.push_str(&format!(
            "{:9.2}  {:10.3}  {:13.3}  {:17.3}  {:8.3}{mark}\n",
            p.threshold,
            p.automation_rate,
            p.wrong_answer_rate,
            p.escalation_recall,
            p.intent_accuracy
        ));
    }
    s
}

/// `xiaoer eval --curve FILE`: reads and parses the labelled file, computes
/// the [`curve`], and renders it as a table (or JSON with `json`).
pub fn curve_report(
    engine: &mut crate::Engine,
    file: &std::path::Path,
    json: bool,
) -> Result<String, String> {
    let text =
        std::fs::read_to_string(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
    let gold = GoldSet::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let points = curve(engine, &gold)?;
    if json {
        return serde_json::to_string_pretty(&points).map_err(|e| e.to_string());
    }
    Ok(format!(
        "{}: {} messages; each row decides the whole set again at that nlu.threshold\n{}",
        file.display(),
        gold.messages().count(),
        curve_table(&points, engine.config.nlu.threshold)
    ))
}

/// Latency percentiles (microseconds) of a sample of durations.
pub fn percentile(sorted_us: &[f64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted_us.len() - 1) as f64).round() as usize;
    sorted_us[rank.min(sorted_us.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(intents: &[&str], action: &str) -> Gold {
        Gold {
            text: String::new(),
            intents: intents.iter().map(|s| s.to_string()).collect(),
            action: action.into(),
            item: None,
            ts: None,
            facts: None,
            line: 0,
        }
    }
    fn p(intents: &[&str], action: &str) -> Pred {
        Pred {
            intents: intents.iter().map(|s| s.to_string()).collect(),
            action: action.into(),
        }
    }

    #[test]
    fn soft_intents_and_empty_predictions() {
        let gold = [
            g(&["stock"], "reply"),
            g(&["none"], "escalate"),
            g(&["greeting"], "reply"),
        ];
        let refs: Vec<&Gold> = gold.iter().collect();
        let s = score(
            &refs,
            &[
                p(&["greeting", "stock"], "reply"),
                p(&[], "escalate"),
                p(&["stock"], "reply"),
            ],
        )
        .unwrap();
        assert_eq!(s.messages, 3);
        assert!((s.intent_accuracy - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.wrong_answer_rate - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.escalation_recall, 1.0);
    }

    #[test]
    fn curve_spans_zero_to_one_and_restores_the_threshold() {
        let config = crate::config::Config::load(None).unwrap();
        let mut e = crate::Engine::load(config, crate::FileSource::Embedded).unwrap();
        let gold = GoldSet::parse(concat!(
            r#"{"text": "包邮吗", "intents": ["shipping_fee"], "action": "reply"}"#,
            "\n",
            r#"{"text": "讲个笑话", "intents": ["none"], "action": "escalate"}"#,
        ))
        .unwrap();
        e.config.nlu.threshold = 0.37;
        let points = curve(&mut e, &gold).unwrap();
        assert_eq!(e.config.nlu.threshold, 0.37);
        assert_eq!(points.len(), 21);
        assert_eq!(points[0].threshold, 0.0);
        assert_eq!(points[20].threshold, 1.0);
        // Nothing is below 0: the postage question is answered, and right.
        assert_eq!(points[0].automation_rate, 1.0);
        assert_eq!(points[0].wrong_answer_rate, 0.0);
        // Nothing reaches 1 (confidence < 1): everything goes to a person.
        assert_eq!(points[20].automation_rate, 0.0);
        assert_eq!(points[20].escalation_recall, 1.0);
        let table = curve_table(&points, 0.37);
        assert_eq!(table.lines().count(), 22);
        assert!(
            table.lines().nth(8).unwrap().ends_with("<- nlu.threshold"),
            "{table}"
        );
    }

    #[test]
    fn length_mismatch_is_an_error() {
        let gold = [g(&["stock"], "reply")];
        let refs: Vec<&Gold> = gold.iter().collect();
        assert!(score(&refs, &[]).is_err());
    }
}
