//! The operator's report: over a time range, how much the bot answered on its
//! own, why it escalated, and the escalated messages grouped into clusters of
//! similar wording, newest first, each with the intent the engine leans to, so
//! an operator sees which phrases to add to which intent file.
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
/// Escalated messages a report looks at (the newest).
pub const MAX_MESSAGES: usize = 5000;

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
pub fn build(
    store: &Store,
    engine: &Engine,
    from_ms: i64,
    to_ms: i64,
    examples: usize,
) -> Result<Report, StoreError> {
    let (replied, escalated, reasons, rows) = store.read(|c| {
        let mut replied = 0;
        let mut escalated = 0;
        let mut stmt = c.prepare_cached(
            "SELECT action, COUNT(*) FROM decisions WHERE decided_ms BETWEEN ?1 AND ?2 GROUP BY action",
        )?;
        for r in stmt.query_map([from_ms, to_ms], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
        })? {
            let (action, n) = r?;
            match action.as_str() {
                "reply" => replied = n,
                "escalate" => escalated = n,
                _ => {}
            }
        }
        let mut reasons = BTreeMap::new();
        let mut stmt = c.prepare_cached(
            "SELECT COALESCE(reason, 'unknown'), COUNT(*) FROM decisions
             WHERE action = 'escalate' AND decided_ms BETWEEN ?1 AND ?2 GROUP BY 1",
        )?;
        for r in stmt.query_map([from_ms, to_ms], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
        })? {
            let (reason, n) = r?;
            reasons.insert(reason, n);
        }
        let mut stmt = c.prepare_cached(
            "SELECT m.text, m.conversation, d.decided_ms, COALESCE(d.reason, 'unknown')
             FROM decisions d JOIN messages m ON m.id = d.message_id
             WHERE d.action = 'escalate' AND d.decided_ms BETWEEN ?1 AND ?2
             ORDER BY d.decided_ms DESC, m.rowid DESC LIMIT ?3",
        )?;
        let rows = stmt
            .query_map(
                rusqlite::params![from_ms, to_ms, MAX_MESSAGES as i64],
                |r| {
                    Ok(Row {
                        text: r.get(0)?,
                        conversation: r.get(1)?,
                        ts_ms: r.get(2)?,
                        reason: r.get(3)?,
                    })
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok((replied, escalated, reasons, rows))
    })?;

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
    Ok(Report {
        from_ms,
        to_ms,
        decided,
        replied,
        escalated,
        automation_rate: (decided > 0).then(|| replied as f64 / decided as f64),
        reasons: counts(reasons),
        clusters,
    })
}

/// Reads a point in time for `--since` / `--until`: an age (`30m`, `24h`,
/// `7d`, `2w`, counted back from `now_ms`), a date (`2026-11-01`, UTC
/// midnight) or an RFC 3339 time (`2026-11-01T08:00:00Z`).
pub fn parse_time(s: &str, now_ms: i64) -> Result<i64, String> {
    let s = s.trim();
    let bad = || {
        format!("{s:?} is not a time: use an age like 30m, 24h, 7d, 2w, or a date like 2026-11-01 or 2026-11-01T08:00:00Z")
    };
    if let Some(unit) = s.chars().last().filter(|c| {
        c.is_ascii_alphabetic()
            && s.len() > 1
            && s[..s.len() - 1].bytes().all(|b| b.is_ascii_digit())
    }) {
        let n: i64 = s[..s.len() - 1].parse().map_err(|_| bad())?;
        let ms = match unit {
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            'w' => 7 * 86_400_000,
            _ => return Err(bad()),
        };
        return Ok(now_ms - n.max(0).saturating_mul(ms));
    }
    let (date, time) = s.split_once('T').unwrap_or((s, "00:00:00Z"));
    let d: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let t: Vec<i64> = time
        .trim_end_matches('Z')
        .split(':')
        .map(|p| p.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    if d.len() != 3 || t.len() != 3 || !(1..=12).contains(&d[1]) || !(1..=31).contains(&d[2]) {
        return Err(bad());
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m, day) = (if d[1] <= 2 { d[0] - 1 } else { d[0] }, d[1], d[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(((days * 86_400) + t[0] * 3600 + t[1] * 60 + t[2]) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
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
            ("yesterday", Err(())),
            ("5y", Err(())),
            ("2026-13-01", Err(())),
        ];
        for (s, want) in rows {
            assert_eq!(parse_time(s, now).map_err(|_| ()), *want, "{s}");
        }
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
        let rows: &[(&str, &str, &str)] = &[
            ("m-1", "我要投诉你们 东西是坏的", "complaint"),
            ("m-2", "这个能用花呗分期吗亲亲", "low_confidence"),
            ("m-3", "能用花呗分期吗", "low_confidence"),
            ("m-4", "今天天气真好啊", "unclassified"),
            ("m-5", "有货吗", "reply"),
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
            ops.push(Op::Decision {
                message_id: id.to_string(),
                conversation: format!("c-{id}"),
                action: if reply { "reply" } else { "escalate" }.into(),
                intents: "[]".into(),
                confidence: None,
                reason: (!reply).then(|| reason.to_string()),
                lang: None,
                reply: None,
            });
        }
        store.write_blocking(ops).unwrap();
        let r = build(&store, &engine, 0, i64::MAX, 3).unwrap();
        assert_eq!((r.decided, r.replied, r.escalated), (5, 1, 4));
        assert_eq!(r.automation_rate, Some(0.2));
        assert_eq!(
            r.reasons[0],
            Count {
                reason: "low_confidence".into(),
                count: 2
            }
        );
        assert_eq!(r.clusters.len(), 3, "{:#?}", r.clusters);
        let huabei = r
            .clusters
            .iter()
            .find(|c| c.size == 2)
            .expect("the 花呗 pair");
        assert_eq!(huabei.suggest.as_deref(), Some("payment"));
        assert_eq!(huabei.examples.len(), 2);
        let empty = build(&store, &engine, 0, 1, 3).unwrap();
        assert_eq!(
            (empty.decided, empty.automation_rate, empty.clusters.len()),
            (0, None, 0)
        );
    }
}
