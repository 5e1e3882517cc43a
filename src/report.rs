//! The operator's report: over a time range, how much the bot answered on its
//! own, why it escalated, and the messages it could not read or read wrong
//! grouped into clusters of similar wording, newest first, each with the
//! intent the engine leans to, so an operator sees which phrases to add to
//! which intent file. Only those teach: a message escalated because it was
//! understood (a complaint, 转人工, a third bargaining ask) is the bot doing
//! its job, so it is counted among the reasons but never clustered.
//!
//! Clustering is leader clustering on the same character n-gram sets the
//! dialogue uses for repeats: a message joins the first cluster whose leader
//! it resembles (cosine ≥ [`SIMILAR`]), else it leads a new one. Cheap, no
//! training, and stable from one report to the next.

use crate::engine::Engine;
use crate::nlu::{score, segment};
use crate::store::{Store, StoreError};
use serde::Serialize;
use std::collections::BTreeMap;

/// Resemblance to a cluster's leader needed to join it.
pub const SIMILAR: f32 = 0.5;
/// Messages a report clusters (the newest).
pub const MAX_MESSAGES: usize = 5000;
/// Escalation reasons that mean the bot could not read the message: the ones
/// the clusters teach from, besides escalations decided below the confidence
/// threshold (an escalating intent read on thin evidence) and answers an
/// agent marked wrong.
pub const TEACHABLE: &[&str] = &["unclassified", "low_confidence"];
/// The reason of a message whose bot answer an agent marked wrong.
pub const MARKED_WRONG: &str = "marked_wrong";

/// A reason and how often it came up.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Count {
    /// Intent id or policy name.
    pub reason: String,
    /// How many escalations.
    pub count: u64,
}

/// One escalated message shown as an example.
#[derive(Debug, Clone, Serialize)]
pub struct Example {
    /// The buyer's words.
    pub text: String,
    /// Its conversation.
    pub conversation: String,
    /// When it was decided.
    pub ts_ms: i64,
}

/// Similar escalated messages.
#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    /// Messages in it.
    pub size: usize,
    /// The newest one's time.
    pub latest_ms: i64,
    /// Why they escalated.
    pub reasons: Vec<Count>,
    /// The intent the engine leans to for them: add the phrases to
    /// `intents/<suggest>.toml` if that is what they mean.
    pub suggest: Option<String>,
    /// The newest few.
    pub examples: Vec<Example>,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Range start, ms since the epoch.
    pub from_ms: i64,
    /// Range end.
    pub to_ms: i64,
    /// Buyer messages the bot decided on (answered or escalated).
    pub decided: u64,
    /// Answered on its own.
    pub replied: u64,
    /// Handed to a person.
    pub escalated: u64,
    /// replied / decided.
    pub automation_rate: Option<f64>,
    /// Escalations by reason, most frequent first.
    pub reasons: Vec<Count>,
    /// Bot answers agents marked wrong.
    pub marked_wrong: u64,
    /// The Chinese label of every reason shown (`[escalation.labels]`).
    pub labels: BTreeMap<String, String>,
    /// Clusters, newest first.
    pub clusters: Vec<Cluster>,
}

struct Row {
    text: String,
    conversation: String,
    ts_ms: i64,
    reason: String,
}

fn counts(map: BTreeMap<String, u64>) -> Vec<Count> {
    let mut v: Vec<Count> = map
        .into_iter()
        .map(|(reason, count)| Count { reason, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    v
}

/// Builds the report for `[from_ms, to_ms]` from the store; `engine` supplies
/// normalisation and the suggested intents.
pub async fn build(
    store: &Store,
    engine: &Engine,
    from_ms: i64,
    to_ms: i64,
    examples: usize,
) -> Result<Report, StoreError> {
    let w = store
        .report_window(
            from_ms,
            to_ms,
            crate::store::Teachable {
                reasons: [TEACHABLE[0], TEACHABLE[1]],
                below: f64::from(engine.config.nlu.threshold),
                limit: MAX_MESSAGES,
            },
        )
        .await?;
    let (replied, escalated, reasons) = (w.replied, w.escalated, w.reasons);
    let rows: Vec<Row> = w
        .teachable
        .into_iter()
        .map(|e| Row {
            text: e.text,
            conversation: e.conversation,
            ts_ms: e.decided_ms,
            reason: e.reason,
        })
        .collect();
    let wrong = store.marked_wrong(from_ms, to_ms, MAX_MESSAGES).await?;
    let marked_wrong = wrong.len() as u64;
    let mut rows = rows;
    rows.extend(wrong.into_iter().map(|(text, conversation, ts_ms)| Row {
        text,
        conversation,
        ts_ms,
        reason: MARKED_WRONG.to_string(),
    }));
    rows.sort_by_key(|r| std::cmp::Reverse(r.ts_ms));
    rows.truncate(MAX_MESSAGES);

    struct Building {
        leader: Vec<u64>,
        leader_text: String,
        rows: Vec<Row>,
        reasons: BTreeMap<String, u64>,
    }
    let mut clusters: Vec<Building> = Vec::new();
    for row in rows {
        let normalized = engine.nlu.normalizer().normalize(&row.text);
        let hashes = segment::token_hashes(&normalized);
        let home = clusters.iter().position(|c| {
            c.leader_text == normalized || score::cosine(&c.leader, &hashes) >= SIMILAR
        });
        let c = match home {
            Some(i) => &mut clusters[i],
            None => {
                clusters.push(Building {
                    leader: hashes,
                    leader_text: normalized,
                    rows: Vec::new(),
                    reasons: BTreeMap::new(),
                });
                clusters.last_mut().expect("just pushed")
            }
        };
        *c.reasons.entry(row.reason.clone()).or_insert(0) += 1;
        c.rows.push(row);
    }
    let clusters = clusters
        .into_iter()
        .map(|c| {
            let leader = &c.rows[0].text;
            let cl = engine.nlu.classify(leader, false);
            let suggest = cl
                .intents
                .first()
                .map(|s| s.intent)
                .or_else(|| {
                    cl.clauses
                        .iter()
                        .filter_map(|k| k.ranking.first())
                        .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
                        .map(|s| s.intent)
                })
                .map(|i| engine.nlu.intents[i].id.clone())
                .filter(|id| id != crate::files::NONE);
            Cluster {
                size: c.rows.len(),
                latest_ms: c.rows[0].ts_ms,
                reasons: counts(c.reasons),
                suggest,
                examples: c
                    .rows
                    .iter()
                    .take(examples)
                    .map(|r| Example {
                        text: r.text.clone(),
                        conversation: r.conversation.clone(),
                        ts_ms: r.ts_ms,
                    })
                    .collect(),
            }
        })
        .collect();
    let decided = replied + escalated;
    let mut labels = BTreeMap::new();
    for r in reasons
        .keys()
        .map(String::as_str)
        .chain([MARKED_WRONG])
        .chain(TEACHABLE.iter().copied())
    {
        if let Some(l) = engine.config.escalation.labels.get(r) {
            labels.insert(r.to_string(), l.clone());
        }
    }
    Ok(Report {
        from_ms,
        to_ms,
        decided,
        replied,
        escalated,
        automation_rate: (decided > 0).then(|| replied as f64 / decided as f64),
        reasons: counts(reasons),
        marked_wrong,
        labels,
        clusters,
    })
}

/// Furthest back an age (`--since 30d`) may reach.
pub const MAX_AGE_DAYS: i64 = 100 * 366;

/// Reads a point in time for `--since` / `--until`: an age (`30m`, `24h`,
/// `7d`, `2w`, counted back from `now_ms`), a date (`2026-11-01`, UTC
/// midnight) or an RFC 3339 time (`2026-11-01T08:00:00Z`, with fractions of a
/// second or an offset like `+08:00`). Impossible dates (2026-02-31, hour
/// 24) and ages past [`MAX_AGE_DAYS`] are errors that say why.
pub fn parse_time(s: &str, now_ms: i64) -> Result<i64, String> {
    let s = s.trim();
    let shown = crate::logsafe::escape(s);
    let bad = |why: &str| {
        format!("{shown:?} is not a time ({why}): use an age like 30m, 24h, 7d, 2w, or a date like 2026-11-01 or 2026-11-01T08:00:00Z")
    };
    if let Some(unit) = s.chars().last().filter(|c| {
        c.is_ascii_alphabetic()
            && s.len() > 1
            && s[..s.len() - 1].bytes().all(|b| b.is_ascii_digit())
    }) {
        let ms: i64 = match unit {
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            'w' => 7 * 86_400_000,
            _ => return Err(bad("the unit is m, h, d or w")),
        };
        let n: i64 = s[..s.len() - 1]
            .parse()
            .map_err(|_| bad("the number is too large"))?;
        let back = n
            .checked_mul(ms)
            .filter(|b| *b <= MAX_AGE_DAYS * 86_400_000)
            .ok_or_else(|| bad(&format!("more than {MAX_AGE_DAYS} days back")))?;
        return Ok(now_ms - back);
    }
    let (date, time) = s.split_once(['T', 't', ' ']).unwrap_or((s, "00:00:00Z"));
    let num = |part: &str, digits: usize, what: &str| -> Result<i64, String> {
        if part.len() != digits || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(&format!("the {what} needs {digits} digits")));
        }
        part.parse().map_err(|_| bad(what))
    };
    let d: Vec<&str> = date.split('-').collect();
    let [y, mo, day] = d[..] else {
        return Err(bad("a date is YYYY-MM-DD"));
    };
    let (y, mo, day) = (
        num(y, 4, "year")?,
        num(mo, 2, "month")?,
        num(day, 2, "day")?,
    );
    if !(1..=12).contains(&mo) {
        return Err(bad(&format!("there is no month {mo}")));
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = match mo {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=month_days).contains(&day) {
        return Err(bad(&format!("{y}-{mo:02} has {month_days} days")));
    }
    // The time, then the offset: Z, or +hh:mm / -hh:mm.
    let (clock, offset_min) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(i) = time.rfind(['+', '-']).filter(|i| *i > 0) {
        let (c, off) = time.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let Some((oh, om)) = off[1..].split_once(':') else {
            return Err(bad("an offset is +hh:mm"));
        };
        let (oh, om) = (num(oh, 2, "offset hour")?, num(om, 2, "offset minute")?);
        if oh > 23 || om > 59 {
            return Err(bad("the offset is out of range"));
        }
        (c, sign * (oh * 60 + om))
    } else {
        return Err(bad("a time ends in Z or an offset like +08:00"));
    };
    let clock = clock.split_once('.').map_or(clock, |(c, frac)| {
        if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
            "bad"
        } else {
            c
        }
    });
    let t: Vec<&str> = clock.split(':').collect();
    let [h, mi, sec] = t[..] else {
        return Err(bad("a time is hh:mm:ss"));
    };
    let (h, mi, sec) = (
        num(h, 2, "hour")?,
        num(mi, 2, "minute")?,
        num(sec, 2, "second")?,
    );
    if h > 23 || mi > 59 || sec > 59 {
        return Err(bad("the time of day is out of range"));
    }
    // Days from the civil date (Howard Hinnant's algorithm); no overflow:
    // the year has four digits.
    let (y, m) = (if mo <= 2 { y - 1 } else { y }, mo);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(((days * 86_400) + h * 3600 + mi * 60 + sec - offset_min * 60) * 1000)
}

/// The report as text for a terminal. Everything that came from outside
/// (conversation ids, reasons, buyers' words) is escaped, so no stored value
/// can move the cursor, colour the screen or forge a line.
pub fn render_text(r: &Report, state: &str) -> String {
    use crate::logsafe::escape;
    use std::fmt::Write;
    let when = |ms: i64| {
        crate::gateway::rfc3339(ms)
            .replace('T', " ")
            .replace('Z', "")
    };
    let label = |reason: &str| match r.labels.get(reason) {
        Some(l) => format!("{} ({})", escape(reason), escape(l)),
        None => escape(reason).to_string(),
    };
    let mut o = String::new();
    let _ = writeln!(
        o,
        "xiaoer report: {} to {} UTC, {}",
        when(r.from_ms),
        when(r.to_ms),
        escape(state)
    );
    match r.automation_rate {
        Some(a) => {
            let _ = writeln!(
                o,
                "decided {} · answered {} · escalated {} · automation rate {:.1}%",
                r.decided,
                r.replied,
                r.escalated,
                a * 100.0
            );
        }
        None => o.push_str("no buyer messages decided in this range\n"),
    }
    if !r.reasons.is_empty() {
        let reasons: Vec<String> = r
            .reasons
            .iter()
            .map(|c| format!("{} {}", label(&c.reason), c.count))
            .collect();
        let _ = writeln!(o, "escalations by reason: {}", reasons.join(", "));
    }
    if r.marked_wrong > 0 {
        let _ = writeln!(o, "bot answers marked wrong by agents: {}", r.marked_wrong);
    }
    if r.clusters.is_empty() {
        return o;
    }
    o.push_str(
        "\nmessages the bot could not read or read wrong, similar ones together, newest first:\n",
    );
    for c in &r.clusters {
        let reasons: Vec<String> = c
            .reasons
            .iter()
            .map(|x| format!("{} ×{}", label(&x.reason), x.count))
            .collect();
        let hint = match &c.suggest {
            Some(id) => format!(" → intents/{}.toml?", escape(id)),
            None => String::new(),
        };
        let _ = writeln!(
            o,
            "\n[{}] {}{}  (latest {})",
            c.size,
            reasons.join(", "),
            hint,
            when(c.latest_ms)
        );
        for e in &c.examples {
            let text: String = e.text.chars().take(100).collect();
            let _ = writeln!(o, "    “{}”  ({})", escape(&text), escape(&e.conversation));
        }
    }
    o
}

/// Payment reminders a report looks at (the oldest in the range first).
pub const MAX_REMINDERS: usize = 100_000;

/// Reminders sent in one hour of the shop's day, and how many of their
/// orders were paid within 24 hours.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReminderHour {
    /// Hour of the day, shop time (0-23).
    pub hour: u32,
    /// Reminders sent in that hour.
    pub reminders: u64,
    /// Their orders paid within 24 h of the reminder.
    pub paid: u64,
}

/// The proactive part of the report: payment reminders (催付) and how many
/// turned into payments within 24 hours.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProactiveReport {
    /// Reminders sent in the range.
    pub reminders: u64,
    /// Their orders paid within 24 h of the reminder.
    pub paid_within_24h: u64,
    /// paid_within_24h / reminders.
    pub conversion: Option<f64>,
    /// By hour of the shop's day (hours with reminders only).
    pub by_hour: Vec<ReminderHour>,
    /// The shop's offset from UTC the hours are in, minutes.
    pub utc_offset_min: i32,
}

/// The proactive part for reminders sent in `[from_ms, to_ms]`, by the hour
/// of `rules`' time zone.
pub async fn proactive(
    store: &Store,
    rules: &crate::proactive::rules::Rules,
    from_ms: i64,
    to_ms: i64,
) -> Result<ProactiveReport, StoreError> {
    let rows = store
        .reminder_outcomes(from_ms, to_ms.saturating_add(1), MAX_REMINDERS)
        .await?;
    let mut hours: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    let (mut reminders, mut paid) = (0, 0);
    for r in rows {
        let converted = r
            .paid_ms
            .is_some_and(|p| p >= r.sent_ms && p - r.sent_ms <= crate::proactive::rules::DAY_MS);
        let h = hours
            .entry(rules.minute_of_day(r.sent_ms) / 60)
            .or_default();
        h.0 += 1;
        reminders += 1;
        if converted {
            h.1 += 1;
            paid += 1;
        }
    }
    Ok(ProactiveReport {
        reminders,
        paid_within_24h: paid,
        conversion: (reminders > 0).then(|| paid as f64 / reminders as f64),
        by_hour: hours
            .into_iter()
            .map(|(hour, (reminders, paid))| ReminderHour {
                hour,
                reminders,
                paid,
            })
            .collect(),
        utc_offset_min: rules.utc_offset_min,
    })
}

/// The proactive part as text, after [`render_text`].
pub fn render_proactive_text(p: &ProactiveReport) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let Some(c) = p.conversion else {
        o.push_str("payment reminders (催付): none sent in this range\n");
        return o;
    };
    let off = p.utc_offset_min;
    let zone = format!(
        "UTC{}{:02}:{:02}",
        if off < 0 { '-' } else { '+' },
        off.abs() / 60,
        off.abs() % 60
    );
    let _ = writeln!(
        o,
        "payment reminders (催付): {} sent · {} paid within 24 h · conversion {:.1}%",
        p.reminders,
        p.paid_within_24h,
        c * 100.0
    );
    let _ = writeln!(o, "by hour sent ({zone}):");
    for h in &p.by_hour {
        let _ = writeln!(
            o,
            "    {:02}:00  {:>5} sent  {:>5} paid  {:>5.1}%",
            h.hour,
            h.reminders,
            h.paid,
            h.paid as f64 * 100.0 / h.reminders.max(1) as f64
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a store future to its end (SQLite's complete at once).
    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }
    use crate::store::Op;

    #[test]
    fn times_for_the_range() {
        let now = 1_795_341_600_000; // 2026-11-22T10:00:00Z
        let rows: &[(&str, Result<i64, ()>)] = &[
            ("24h", Ok(now - 86_400_000)),
            ("30m", Ok(now - 1_800_000)),
            ("7d", Ok(now - 7 * 86_400_000)),
            ("2026-11-22", Ok(now - 10 * 3_600_000)),
            ("2026-11-22T10:00:00Z", Ok(now)),
            ("2000-02-29", Ok(951_782_400_000)),
            ("2026-11-22T18:00:00+08:00", Ok(now)),
            ("2026-11-22T05:30:00-04:30", Ok(now)),
            ("2026-11-22T10:00:00.250Z", Ok(now)),
            ("2024-02-29", Ok(1_709_164_800_000)),
            ("0w", Ok(now)),
            ("yesterday", Err(())),
            ("5y", Err(())),
            ("2026-13-01", Err(())),
            // Regressions: impossible dates and overflow (issue 11, item 13).
            ("2026-02-31", Err(())),
            ("2026-02-29", Err(())),
            ("1900-02-29", Err(())),
            ("2026-04-31", Err(())),
            ("2026-00-10", Err(())),
            ("2026-11-00", Err(())),
            ("2026-11-22T24:00:00Z", Err(())),
            ("2026-11-22T10:60:00Z", Err(())),
            ("2026-11-22T10:00:00", Err(())),
            ("2026-11-22T10:00:00+25:00", Err(())),
            ("2026-11-22T10:00:00.Z", Err(())),
            ("9999999999999999-01-01", Err(())),
            ("-2026-01-01", Err(())),
            ("2026-1-01", Err(())),
            ("99999999999999999999d", Err(())),
            ("9999999999999999w", Err(())),
            ("40000d", Err(())),
            ("\u{1b}[31m1d", Err(())),
        ];
        for (s, want) in rows {
            assert_eq!(parse_time(s, now).map_err(|_| ()), *want, "{s}");
        }
        let e = parse_time("2026-02-31", now).unwrap_err();
        assert!(e.contains("2026-02 has 28 days"), "{e}");
        let e = parse_time("\u{1b}[2Jx", now).unwrap_err();
        assert!(!e.contains('\u{1b}'), "{e}");
    }

    #[test]
    fn the_text_report_escapes_what_came_from_outside() {
        let r = Report {
            from_ms: 0,
            to_ms: 1,
            decided: 1,
            replied: 0,
            escalated: 1,
            automation_rate: Some(0.0),
            reasons: vec![Count {
                reason: "x\u{1b}[2J".into(),
                count: 1,
            }],
            marked_wrong: 0,
            labels: BTreeMap::new(),
            clusters: vec![Cluster {
                size: 1,
                latest_ms: 0,
                reasons: vec![],
                suggest: None,
                examples: vec![Example {
                    text: "有货吗\n[fake] line".into(),
                    conversation: "c-1\u{1b}]0;owned\u{7}\n2026-01-01 forged".into(),
                    ts_ms: 0,
                }],
            }],
        };
        let out = render_text(&r, "s.db");
        assert!(!out.chars().any(|c| c == '\u{1b}' || c == '\u{7}'), "{out}");
        assert!(
            !out.lines()
                .any(|l| l.starts_with("2026-01-01") || l.starts_with("[fake]")),
            "{out}"
        );
        assert!(
            out.contains("c-1\\u{1b}]0;owned\\u{7}\\n2026-01-01 forged"),
            "{out}"
        );
    }

    #[test]
    fn similar_escalations_cluster_with_a_suggestion() {
        let dir = std::env::temp_dir().join(format!("xiaoer-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir.join("s.db")).unwrap();
        let engine = Engine::load(
            crate::config::Config::defaults(),
            crate::engine::FileSource::Embedded,
        )
        .unwrap();
        // Understood escalations (a complaint, 转人工, a bargain asked once
        // too often) are counted but never clustered: nothing to teach.
        let rows: &[(&str, &str, &str)] = &[
            ("m-1", "我要投诉你们 东西是坏的", "complaint"),
            ("m-2", "这个能用花呗分期吗亲亲", "low_confidence"),
            ("m-3", "能用花呗分期吗", "low_confidence"),
            ("m-4", "今天天气真好啊", "unclassified"),
            ("m-5", "有货吗", "reply"),
            ("m-6", "转人工", "human"),
            ("m-7", "能便宜点吗", "repeated_bargain"),
            ("m-8", "我要投诉", "complaint"),
            ("m-9", "这件起球吗", "reply"),
            ("m-10", "帮我写张贺卡放进去", "order_change@0.17"),
        ];
        let mut ops = Vec::new();
        for (id, text, reason) in rows {
            ops.push(Op::Message {
                id: id.to_string(),
                conversation: format!("c-{id}"),
                role: "buyer".into(),
                sender: None,
                name: None,
                text: text.to_string(),
                ts: None,
                item: None,
            });
            let reply = *reason == "reply";
            // "intent@0.17": escalated for the intent, at that confidence.
            let (reason, confidence) = match reason.split_once('@') {
                Some((r, c)) => (r, Some(c.parse::<f32>().unwrap())),
                None => (*reason, Some(0.9)),
            };
            ops.push(Op::Decision {
                message_id: id.to_string(),
                conversation: format!("c-{id}"),
                action: if reply { "reply" } else { "escalate" }.into(),
                intents: "[]".into(),
                confidence,
                reason: (!reply).then(|| reason.to_string()),
                lang: None,
                reply: None,
            });
        }
        // An agent marks the bot's answer to m-9 wrong (twice: one row).
        for _ in 0..2 {
            ops.push(Op::DeskEvent {
                conversation: "c-m-9".into(),
                kind: "wrong".into(),
                agent: "a-1".into(),
                message_id: Some("m-9".into()),
                detail: None,
            });
        }
        store.write_blocking(ops).unwrap();
        let r = block(build(&store, &engine, 0, i64::MAX, 3)).unwrap();
        assert_eq!((r.decided, r.replied, r.escalated), (10, 2, 8));
        assert_eq!(r.marked_wrong, 1);
        assert_eq!(
            r.reasons[0],
            Count {
                reason: "complaint".into(),
                count: 2
            }
        );
        let clustered: Vec<&str> = r
            .clusters
            .iter()
            .flat_map(|c| c.examples.iter().map(|e| e.text.as_str()))
            .collect();
        for understood in [
            "我要投诉你们 东西是坏的",
            "转人工",
            "能便宜点吗",
            "我要投诉",
        ] {
            assert!(
                !clustered.contains(&understood),
                "{understood} clustered: {clustered:?}"
            );
        }
        assert!(clustered.contains(&"这件起球吗"), "{clustered:?}");
        assert!(
            clustered.contains(&"帮我写张贺卡放进去"),
            "read on thin evidence: {clustered:?}"
        );
        assert!(r
            .clusters
            .iter()
            .any(|c| c.reasons.iter().any(|x| x.reason == MARKED_WRONG)));
        assert_eq!(r.clusters.len(), 4, "{:#?}", r.clusters);
        // Every reason shown has its Chinese label.
        for c in &r.reasons {
            assert!(
                r.labels.contains_key(&c.reason),
                "{} has no label",
                c.reason
            );
        }
        assert_eq!(r.labels[MARKED_WRONG], "客服标记答错");
        let huabei = r
            .clusters
            .iter()
            .find(|c| c.size == 2)
            .expect("the 花呗 pair");
        assert_eq!(huabei.suggest.as_deref(), Some("payment"));
        assert_eq!(huabei.examples.len(), 2);
        let empty = block(build(&store, &engine, 0, 1, 3)).unwrap();
        assert_eq!(
            (empty.decided, empty.automation_rate, empty.clusters.len()),
            (0, None, 0)
        );
    }

    /// Reminders by hour of shop time; paid within 24 h counts, later or
    /// never does not.
    #[test]
    fn the_proactive_part_counts_conversions_by_hour() {
        let dir = std::env::temp_dir().join(format!("xiaoer-report-pro-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir.join("s.db")).unwrap();
        let rules = crate::config::Config::defaults().proactive().clone();
        let t0 = 1_795_312_800_000; // 10:00 Beijing
        let h = crate::proactive::rules::HOUR_MS;
        // (order, reminder sent at, paid at)
        let rows: &[(&str, i64, Option<i64>)] = &[
            ("o-1", t0, Some(t0 + h)),
            ("o-2", t0 + 60_000, Some(t0 + 25 * h)),
            ("o-3", t0 + 5 * h, None),
            ("o-4", t0 + 5 * h + 1, Some(t0 + 5 * h + 2)),
        ];
        let mut ops = Vec::new();
        for (o, sent, paid) in rows {
            ops.push(Op::Order(crate::store::StoredOrder {
                id: o.to_string(),
                conversation: "c".into(),
                status: if paid.is_some() { "paid" } else { "created" }.into(),
                items: "[]".into(),
                paid_ms: *paid,
                ..Default::default()
            }));
            let id = format!("{o}/payment_reminder");
            ops.push(Op::ProactiveDue {
                id: id.clone(),
                conversation: "c".into(),
                buyer: "b".into(),
                order_id: Some(o.to_string()),
                kind: "payment_reminder".into(),
                due_ms: *sent,
                at_ms: *sent,
            });
            ops.push(Op::ProactiveSending {
                id,
                text: "亲".into(),
                frame: "{}".into(),
                at_ms: *sent,
            });
        }
        store.write_blocking(ops).unwrap();
        let p = block(proactive(&store, &rules, t0 - h, t0 + 6 * h)).unwrap();
        assert_eq!((p.reminders, p.paid_within_24h), (4, 2));
        assert_eq!(
            p.by_hour,
            [
                ReminderHour {
                    hour: 10,
                    reminders: 2,
                    paid: 1
                },
                ReminderHour {
                    hour: 15,
                    reminders: 2,
                    paid: 1
                },
            ]
        );
        let text = render_proactive_text(&p);
        assert!(
            text.contains("conversion 50.0%") && text.contains("UTC+08:00"),
            "{text}"
        );
        assert_eq!(
            block(proactive(&store, &rules, t0 + 7 * h, t0 + 8 * h))
                .unwrap()
                .reminders,
            0
        );
    }
}
