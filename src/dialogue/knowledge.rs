//! The catalog in the dialogue: which item a message is about (the channel's
//! `item.id`, else its names in the text, else the item the conversation is
//! on), and for each product question of the message the catalog's answer
//! (`crate::nlu::knowledge`). A question whose fact is not in the files goes
//! to a person (`unknown_fact`); a product question with no item known asks
//! which item once, then goes to a person (`no_item`).

use super::{Conversation, Reason};
use crate::engine::Engine;
use crate::files::Action;
use crate::nlu::knowledge::{measure, Answer, Ask, Knowledge, Query};
use crate::nlu::lang::Lang;
use crate::nlu::Classification;
use crate::reply::Key;

/// What the channel says about a message besides its text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The id of the item the buyer is looking at (`message.item.id`).
    pub item_id: Option<&'a str>,
    /// Its title.
    pub title: Option<&'a str>,
    /// The options selected on its page (protocol 1.1 `item.options`).
    pub options: &'a [(String, String)],
    /// The message time (RFC 3339): promotions in force then.
    pub ts: Option<&'a str>,
}

/// What the catalog added to a decision.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// (intent index, the line that answers it instead of its template).
    pub lines: Vec<(usize, String)>,
    /// The escalation summary, when the catalog escalated.
    pub summary: Option<String>,
    /// The item's id.
    pub item_id: Option<String>,
    /// How replies name the item (`{item}`).
    pub item_name: Option<String>,
}

/// Which intents ask what of the catalog. Other intents that the bot answers
/// are [`Ask::Other`]: a confident FAQ entry of the shop replaces their reply.
const ASKS: &[(&str, Ask)] = &[
    ("stock", Ask::Stock),
    ("price", Ask::Price),
    ("size_advice", Ask::Size),
    ("product_info", Ask::Attribute),
    ("promotion", Ask::Promotion),
    ("usage_help", Ask::Usage),
];

/// The intent a message the NLU could not read becomes when the catalog
/// answers it from an attribute or a FAQ entry.
const ATTRIBUTE_INTENT: &str = "product_info";

/// Characters of the buyer's text in a summary.
const SUMMARY_CHARS: usize = 60;

fn short(text: &str) -> String {
    let t: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut s: String = t.chars().take(SUMMARY_CHARS).collect();
    if s.len() < t.len() {
        s.push('…');
    }
    s
}

/// How an `unknown_fact` summary starts: `商品 k-101: 可以手洗吗`.
const SUMMARY_ITEM: &str = "商品 ";

/// The summary of an `unknown_fact` escalation: the item's id (`?` when
/// none is known) and what the buyer asked.
pub fn unknown_fact_summary(id: Option<&str>, text: &str) -> String {
    format!("{SUMMARY_ITEM}{}: {}", id.unwrap_or("?"), short(text))
}

/// The item an `unknown_fact` summary names (`商品 k-101: …` → `k-101`),
/// `None` when the bot knew none: how the console knows whose catalog file
/// an agent's answer belongs in.
pub fn item_of_summary(summary: &str) -> Option<&str> {
    let (id, _) = summary.strip_prefix(SUMMARY_ITEM)?.split_once(": ")?;
    (!id.is_empty() && id != "?").then_some(id)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Engine {
    /// The item of a message: `(index in the catalog, id)`; the id alone
    /// when the channel names an item the catalog does not have.
    fn item_of(
        &self,
        k: &Knowledge,
        conv: &Conversation,
        normalized: &str,
        ctx: &Context<'_>,
    ) -> (Option<usize>, Option<String>) {
        let named = k.item_named(normalized);
        if let Some(id) = ctx.item_id {
            if let Some(i) = k.item_by_id(id) {
                return (Some(i), Some(id.to_string()));
            }
            if let Ok(Some(i)) = named {
                return (Some(i), Some(k.items[i].id.clone()));
            }
            return (None, Some(id.to_string()));
        }
        let remembered = conv.item.as_deref().and_then(|id| k.item_by_id(id));
        let i = match named {
            Ok(Some(i)) => Some(i),
            // Several fit: the one the conversation is on, if it is one of them.
            Err(candidates) => remembered.filter(|r| candidates.contains(r)),
            Ok(None) => remembered.or((k.len() == 1).then_some(0)),
        };
        (i, i.map(|i| k.items[i].id.clone()))
    }

    /// Consults the catalog about a message (see the module doc). May
    /// change the intents (a message the NLU could not read that the catalog
    /// answers) and the reason (an unknown fact, no item).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn consult(
        &self,
        k: &Knowledge,
        conv: &mut Conversation,
        c: &Classification,
        text: &str,
        ctx: &Context<'_>,
        lang: Lang,
        intents: &mut Vec<usize>,
        reason: &mut Option<Reason>,
    ) -> Facts {
        let mut facts = Facts::default();
        let (item, id) = self.item_of(k, conv, &c.normalized, ctx);
        if let Some(i) = item {
            let it = &k.items[i];
            facts.item_name = Some(it.names.first().unwrap_or(&it.title).clone());
            conv.item = Some(it.id.clone());
            conv.asked_item = false;
        } else if let Some(id) = &id {
            conv.item = Some(id.clone());
            facts.item_name = ctx.title.map(str::to_string);
        }
        facts.item_id = id.clone();
        let ts = ctx.ts.and_then(measure::timestamp).unwrap_or_else(now);
        let query = |ask| Query {
            text: &c.normalized,
            ask,
            item,
            page_options: ctx.options,
            now: ts,
            en: lang == Lang::En,
        };
        let unknown = |facts: &mut Facts, reason: &mut Option<Reason>| {
            *reason = Some(Reason::UnknownFact);
            facts.summary = Some(unknown_fact_summary(id.as_deref(), text));
        };
        match reason {
            None => {
                let mut asked_now = false;
                // Intents that ask the same of the catalog get one answer
                // (a message read as two intents answered "other").
                let mut answered: Vec<(Ask, Answer)> = Vec::new();
                for &i in intents.iter() {
                    let intent = &self.nlu.intents[i];
                    if intent.action != Action::Reply {
                        continue;
                    }
                    let ask = ASKS
                        .iter()
                        .find(|(name, _)| *name == intent.id)
                        .map_or(Ask::Other, |a| a.1);
                    if item.is_none() && id.is_some() && ask.needs_item() {
                        // The channel names an item the catalog lacks.
                        unknown(&mut facts, reason);
                        break;
                    }
                    let answer = match answered.iter().find(|(a, _)| *a == ask) {
                        Some((_, a)) => a.clone(),
                        None => {
                            let a = k.answer(&query(ask));
                            answered.push((ask, a.clone()));
                            a
                        }
                    };
                    match answer {
                        Answer::Fact(line) => {
                            let said = facts.lines.iter().any(|(_, l)| *l == line);
                            facts
                                .lines
                                .push((i, if said { String::new() } else { line }));
                        }
                        Answer::Unknown(_) => {
                            unknown(&mut facts, reason);
                            break;
                        }
                        Answer::NeedItem if asked_now => facts.lines.push((i, String::new())),
                        Answer::NeedItem if !conv.asked_item => {
                            conv.asked_item = true;
                            asked_now = true;
                            facts.lines.push((i, self.ask_item_line(lang)));
                        }
                        Answer::NeedItem => {
                            *reason = Some(Reason::NoItem);
                            facts.summary = Some(format!("未指明商品: {}", short(text)));
                            break;
                        }
                        Answer::Pass => {}
                    }
                }
            }
            Some(Reason::Unclassified | Reason::LowConfidence) => {
                match k.answer(&query(Ask::Unread)) {
                    Answer::Fact(line) => {
                        if let Some(p) = self.nlu.intent_index(ATTRIBUTE_INTENT) {
                            *intents = vec![p];
                            facts.lines.push((p, line));
                            *reason = None;
                        }
                    }
                    Answer::Unknown(_) if item.is_some() => unknown(&mut facts, reason),
                    _ => {}
                }
            }
            _ => {}
        }
        if reason.is_some() {
            facts.lines.clear();
        }
        facts
    }

    /// "Which item do you mean?": the `[ask_item]` system line, or a built-in one.
    fn ask_item_line(&self, lang: Lang) -> String {
        if self.replies.has(Key::System("ask_item")) {
            return self.replies.render(Key::System("ask_item"), lang, 0, None);
        }
        match lang {
            Lang::Zh => "亲，您问的是哪一款宝贝呢？发一下商品链接或者告诉我名称，小二马上帮您查哦～".into(),
            Lang::En => "Hi dear, which item are you asking about? Send me the link or its name and I'll check right away.".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_its_item_and_gives_it_back() {
        // (item, text, the item read back)
        let rows: &[(Option<&str>, &str, Option<&str>)] = &[
            (Some("k-101"), "可以手洗吗", Some("k-101")),
            (Some("i:9"), "a: b", Some("i:9")),
            (None, "可以手洗吗", None),
        ];
        for (id, text, back) in rows {
            let s = unknown_fact_summary(*id, text);
            assert_eq!(item_of_summary(&s), *back, "{s}");
        }
        assert_eq!(item_of_summary("未指明商品: 有货吗"), None);
        assert_eq!(item_of_summary("buyer asked for a person"), None);
    }
}
