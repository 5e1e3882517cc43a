//! The agent desk's side of the gateway: agents as people (display names,
//! roles), ownership of a taken chat, internal notes, closing with an
//! outcome, reassignment by a supervisor, marking a bot answer wrong, the
//! markers these leave in the history, search and filters, the buyer's
//! context, and the operator's health (files that failed to reload).
//!
//! Ownership is one rule, [`owner_only`]: while an agent holds a chat, every
//! action on it is theirs (a supervisor reassigns, [`Gateway::assign`]).
//! Notes and markers live in the history with roles `note` and `event`;
//! buyers never see them (`Conv::buyer_view` leaves them out).

use super::auth::{Member, Role};
use super::{Conv, ConvView, Gateway, GatewayError, MsgView, State};
use crate::store::now_ms;
use serde::Serialize;

/// Markers (takeover, release, reassign, close, wrong) one conversation
/// records; past it actions still work, unmarked (bounded memory).
pub const MAX_MARKERS_PER_CONVERSATION: usize = 200;
/// Longest search text.
pub const MAX_QUERY_CHARS: usize = 100;
/// Earlier conversations the buyer context lists.
pub const MAX_EARLIER: usize = 10;
/// How a chat can be closed (the console shows their Chinese labels).
pub const OUTCOMES: &[&str] = &["resolved", "refund", "exchange", "no_response", "other"];

/// What the desk needs from the bot beside the gateway (`xiaoer demo` wires
/// it to the bot's engine and store).
pub trait DeskHooks: Send + Sync {
    /// The quick replies in force: (key, title, text).
    fn quick_replies(&self) -> Vec<(String, String, String)>;
    /// The bot's best answer to `text` (asked about `item`): (intent, text),
    /// or none when it has no answer of its own.
    fn draft(&self, text: &str, item: Option<&str>) -> Option<(String, String)>;
    /// Keeps what an agent did in the bot's store (the report reads `wrong`).
    fn record(&self, r: DeskRecord);
    /// The catalog's facts about item `id` (title, price, attributes,
    /// variants with stock), for the buyer-context panel; none without a
    /// catalog or when the catalog has no such item.
    fn item_facts(&self, _id: &str) -> Option<serde_json::Value> {
        None
    }
    /// Saves an agent's answer as a FAQ entry of catalog item `item`
    /// (`crate::catalog_faq`), signed by `who`: where it was written
    /// (`catalog/k-101.toml:41`), or why it was refused (nothing written).
    fn save_faq(
        &self,
        _item: &str,
        _question: &str,
        _answer: &str,
        _who: &str,
    ) -> Result<String, String> {
        Err("no catalog beside this console: the bot saves answers into its catalog folder".into())
    }
}

/// The escalation reason whose answers can be saved to the catalog.
pub const UNKNOWN_FACT: &str = "unknown_fact";

/// One thing an agent did, for [`DeskHooks::record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskRecord {
    /// Conversation id.
    pub conversation: String,
    /// takeover, release, reassign, note, close, wrong or catalog_faq.
    pub kind: &'static str,
    /// The agent id.
    pub agent: String,
    /// The buyer message (`wrong`).
    pub message_id: Option<String>,
    /// The note, outcome, `from -> to`, or the saved entry (`item file:line: question`).
    pub detail: Option<String>,
}

/// The desk's gateway-wide state.
#[derive(Default)]
pub(super) struct Shared {
    hooks: std::sync::OnceLock<std::sync::Arc<dyn DeskHooks>>,
    /// The hot reload's last failure (`file:line: why` lines), until a
    /// reload succeeds.
    reload_problem: std::sync::Mutex<Option<String>>,
}

/// How a chat was closed.
#[derive(Debug, Clone, Serialize)]
pub struct ClosedView {
    /// One of [`OUTCOMES`].
    pub outcome: String,
    /// Who closed it.
    pub agent: String,
    /// When.
    pub at_ms: i64,
}

/// The desk's part of a conversation.
#[derive(Debug, Default)]
pub(super) struct ConvDesk {
    pub(super) closed: Option<ClosedView>,
    markers: usize,
}

/// The whole check of "may `agent` act on this chat": while someone holds it,
/// only they may.
pub(super) fn owner_only(c: &Conv, agent: &str, what: &str) -> Result<(), GatewayError> {
    if c.status == "taken" && c.agent.as_deref() != Some(agent) {
        return Err(GatewayError::Forbidden(format!(
            "agent {} has this conversation: only they can {what}",
            c.agent.as_deref().unwrap_or("?")
        )));
    }
    Ok(())
}

impl Conv {
    /// Adds a marker (role `event`) to the history, within
    /// [`MAX_MARKERS_PER_CONVERSATION`].
    pub(super) fn marker(&mut self, id: String, kind: &str, name: &str, text: String) {
        if self.desk.markers >= MAX_MARKERS_PER_CONVERSATION {
            return;
        }
        self.desk.markers += 1;
        self.push(MsgView {
            id,
            role: "event".into(),
            name: Some(name.to_string()),
            text,
            ts_ms: now_ms(),
            marker: Some(kind.to_string()),
            ..Default::default()
        });
    }
}

/// An agent as the console shows them.
#[derive(Debug, Clone, Serialize)]
pub struct AgentView {
    /// Agent id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// agent or supervisor.
    pub role: Role,
}

impl Gateway {
    /// Lets the desk reach the bot (quick replies, drafts, the store).
    pub fn set_desk(&self, h: std::sync::Arc<dyn DeskHooks>) {
        let _ = self.shared.desk.hooks.set(h);
    }

    fn hooks(&self) -> Option<std::sync::Arc<dyn DeskHooks>> {
        self.shared.desk.hooks.get().cloned()
    }

    pub(super) fn record(
        &self,
        conversation: &str,
        kind: &'static str,
        agent: &str,
        message_id: Option<String>,
        detail: Option<String>,
    ) {
        if let Some(h) = self.hooks() {
            h.record(DeskRecord {
                conversation: conversation.to_string(),
                kind,
                agent: agent.to_string(),
                message_id,
                detail,
            });
        }
    }

    /// The team member `id`, when logins know a team.
    pub fn member(&self, id: &str) -> Option<Member> {
        self.auth().and_then(|a| a.member(id).cloned())
    }

    /// What buyers and colleagues call agent `id`: their display name, else
    /// the id.
    pub fn display_name(&self, id: &str) -> String {
        self.member(id).map_or_else(|| id.to_string(), |m| m.name)
    }

    /// The agent `id` as the console shows them.
    pub fn agent_view(&self, id: &str) -> AgentView {
        match self.member(id) {
            Some(m) => AgentView {
                id: m.id,
                name: m.name,
                role: m.role,
            },
            None => AgentView {
                id: id.to_string(),
                name: id.to_string(),
                role: Role::Agent,
            },
        }
    }

    /// Everyone configured (empty without a team).
    pub fn team(&self) -> Vec<AgentView> {
        self.auth()
            .map(|a| {
                a.team()
                    .iter()
                    .map(|m| AgentView {
                        id: m.id.clone(),
                        name: m.name.clone(),
                        role: m.role,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn with_conv<T>(
        &self,
        conversation: &str,
        f: impl FnOnce(&mut State, String) -> Result<T, GatewayError>,
    ) -> Result<T, GatewayError> {
        let mut st = self.state();
        if !st.conversations.contains_key(conversation) {
            return Err(GatewayError::NotFound(conversation.into()));
        }
        f(&mut st, conversation.to_string())
    }

    /// An internal note in the history: agents see it, the buyer and the bot
    /// never do. Counts toward the conversation's caps.
    pub fn note(
        &self,
        conversation: &str,
        agent: &str,
        text: &str,
    ) -> Result<String, GatewayError> {
        super::valid_agent(agent)?;
        let name = self.display_name(agent);
        let id = self.with_conv(conversation, |st, conv| {
            let c = st.conversations.get_mut(&conv).expect("checked");
            owner_only(c, agent, "add notes")?;
            super::valid_text(text)?;
            c.room_for(text)?;
            st.next_id += 1;
            let id = format!("n-{}", st.next_id);
            let c = st.conversations.get_mut(&conv).expect("checked");
            c.posted(MsgView {
                id: id.clone(),
                role: "note".into(),
                name: Some(name),
                text: text.to_string(),
                ts_ms: now_ms(),
                ..Default::default()
            });
            Ok(id)
        })?;
        self.record(conversation, "note", agent, None, Some(text.to_string()));
        self.event(Some(conversation), "message");
        Ok(id)
    }

    /// The owner closes the chat with an outcome: the bot has it again (a
    /// buyer who writes later is answered, and the chat opens again).
    pub fn close(
        &self,
        conversation: &str,
        agent: &str,
        outcome: &str,
    ) -> Result<ConvView, GatewayError> {
        super::valid_agent(agent)?;
        let name = self.display_name(agent);
        let view = self.with_conv(conversation, |st, conv| {
            let c = st.conversations.get_mut(&conv).expect("checked");
            owner_only(c, agent, "close it")?;
            if c.status != "taken" {
                return Err(GatewayError::Conflict(
                    "take the conversation over before closing it".into(),
                ));
            }
            if !OUTCOMES.contains(&outcome) {
                return Err(GatewayError::Invalid(format!(
                    "outcome must be one of {}",
                    OUTCOMES.join(", ")
                )));
            }
            st.next_id += 1;
            let mid = format!("e-{}", st.next_id);
            let c = st.conversations.get_mut(&conv).expect("checked");
            c.status = "bot";
            c.agent = None;
            c.escalation = None;
            c.released = true;
            let at = now_ms();
            c.updated_ms = at;
            c.desk.closed = Some(ClosedView {
                outcome: outcome.to_string(),
                agent: agent.to_string(),
                at_ms: at,
            });
            c.marker(mid, "close", &name, outcome.to_string());
            let view = c.view(false);
            self.control(
                st,
                &conv,
                &crate::channel::frame::ToBot::Release {
                    conversation: conv.clone(),
                    agent: Some(agent.into()),
                },
            );
            Ok(view)
        })?;
        self.record(
            conversation,
            "close",
            agent,
            None,
            Some(outcome.to_string()),
        );
        self.event(Some(conversation), "status");
        Ok(view)
    }

    /// A supervisor gives a waiting or taken chat to agent `to`; the history
    /// shows it and the store logs it.
    pub fn assign(&self, conversation: &str, by: &str, to: &str) -> Result<ConvView, GatewayError> {
        super::valid_agent(by)?;
        let supervisor =
            self.auth().is_none() || self.member(by).is_some_and(|m| m.role == Role::Supervisor);
        if !supervisor {
            return Err(GatewayError::Forbidden(
                "only a supervisor can reassign a conversation".into(),
            ));
        }
        super::valid_agent(to)?;
        if self.auth().is_some() && self.member(to).is_none() {
            return Err(GatewayError::Invalid(format!(
                "{to:?} is not an agent of this console"
            )));
        }
        let (by_name, to_name) = (self.display_name(by), self.display_name(to));
        let (view, from) = self.with_conv(conversation, |st, conv| {
            let c = st.conversations.get_mut(&conv).expect("checked");
            if c.status == "bot" {
                return Err(GatewayError::Conflict(
                    "the bot has this conversation: nothing to reassign".into(),
                ));
            }
            let from = c.agent.clone();
            if from.as_deref() == Some(to) {
                return Err(GatewayError::Conflict(format!("{to} already has it")));
            }
            st.next_id += 1;
            let mid = format!("e-{}", st.next_id);
            let c = st.conversations.get_mut(&conv).expect("checked");
            c.status = "taken";
            c.agent = Some(to.to_string());
            c.updated_ms = now_ms();
            let from_name = from.as_deref().map(|f| self.display_name(f));
            let text = match &from_name {
                Some(f) => format!("{by_name}: {f} → {to_name}"),
                None => format!("{by_name}: → {to_name}"),
            };
            c.marker(mid, "reassign", &by_name, text);
            let view = c.view(false);
            self.control(
                st,
                &conv,
                &crate::channel::frame::ToBot::Takeover {
                    conversation: conv.clone(),
                    agent: Some(to.into()),
                },
            );
            Ok((view, from))
        })?;
        let detail = format!("{} -> {to}", from.as_deref().unwrap_or("-"));
        self.record(conversation, "reassign", by, None, Some(detail));
        self.event(Some(conversation), "status");
        Ok(view)
    }

    /// Marks the bot's answer `message` (a bot reply in the history) wrong:
    /// the buyer message it answered goes to the report's clusters.
    pub fn mark_wrong(
        &self,
        conversation: &str,
        agent: &str,
        message: &str,
    ) -> Result<ConvView, GatewayError> {
        super::valid_agent(agent)?;
        let name = self.display_name(agent);
        let (view, asked) = self.with_conv(conversation, |st, conv| {
            let c = st.conversations.get_mut(&conv).expect("checked");
            owner_only(c, agent, "mark answers in it")?;
            let i = *c
                .index
                .get(message)
                .ok_or_else(|| GatewayError::NotFound(format!("{conversation}/{message}")))?;
            let m = &c.messages[i];
            let Some(asked) = m.in_reply_to.clone().filter(|_| m.role == "bot") else {
                return Err(GatewayError::Invalid(
                    "only the bot's answers can be marked wrong".into(),
                ));
            };
            if m.wrong.is_some() {
                return Err(GatewayError::Conflict("already marked wrong".into()));
            }
            c.messages[i].wrong = Some(name.clone());
            st.next_id += 1;
            let mid = format!("e-{}", st.next_id);
            let c = st.conversations.get_mut(&conv).expect("checked");
            let quoted: String = c
                .index
                .get(&asked)
                .map(|&j| c.messages[j].text.chars().take(40).collect())
                .unwrap_or_default();
            c.marker(mid, "wrong", &name, quoted);
            Ok((c.view(false), asked))
        })?;
        self.record(conversation, "wrong", agent, Some(asked), None);
        self.event(Some(conversation), "message");
        Ok(view)
    }

    /// Saves the owner's answer to an `unknown_fact` escalation as a FAQ
    /// entry of the item the bot named in it (its summary, else the item the
    /// buyer is looking at), through [`DeskHooks::save_faq`]: the next buyer
    /// who asks gets the answer from the bot. A supervisor may save from any
    /// chat. The history gets a `catalog` marker and the store a
    /// `catalog_faq` desk event. Returns where it was saved.
    pub fn save_to_catalog(
        &self,
        conversation: &str,
        agent: &str,
        question: &str,
        answer: &str,
    ) -> Result<serde_json::Value, GatewayError> {
        super::valid_agent(agent)?;
        let supervisor = self
            .member(agent)
            .is_some_and(|m| m.role == Role::Supervisor);
        let item = self.with_conv(conversation, |st, conv| {
            let c = st.conversations.get(&conv).expect("checked");
            if !supervisor {
                owner_only(c, agent, "save answers from it")?;
            }
            let Some(esc) = c.escalation.as_ref().filter(|e| e.reason == UNKNOWN_FACT) else {
                return Err(GatewayError::Conflict(format!(
                    "saving to the catalog answers an {UNKNOWN_FACT} escalation, and this conversation has none open"
                )));
            };
            crate::dialogue::knowledge::item_of_summary(&esc.summary)
                .map(str::to_string)
                .or_else(|| c.item.as_ref().and_then(|i| i.id.clone()))
                .ok_or_else(|| {
                    GatewayError::Invalid(
                        "the bot did not say which catalog item this question is about".into(),
                    )
                })
        })?;
        let Some(h) = self.hooks() else {
            return Err(GatewayError::NotFound(
                "no bot beside this console: nothing to save into".into(),
            ));
        };
        let at = h
            .save_faq(&item, question, answer, agent)
            .map_err(GatewayError::Invalid)?;
        let name = self.display_name(agent);
        let asked = crate::teach::one_line(question);
        self.with_conv(conversation, |st, conv| {
            st.next_id += 1;
            let mid = format!("e-{}", st.next_id);
            let c = st.conversations.get_mut(&conv).expect("checked");
            c.marker(mid, "catalog", &name, format!("{at}: {asked}"));
            Ok(())
        })?;
        self.record(
            conversation,
            "catalog_faq",
            agent,
            None,
            Some(format!("{item} {at}: {asked}")),
        );
        self.event(Some(conversation), "message");
        Ok(serde_json::json!({ "saved": at, "item": item }))
    }

    /// Conversations matching `query` (conversation id, buyer id or name, or
    /// any text in the history, case-insensitive) and `filter` (`mine`,
    /// `unassigned`, `high`, `closed`, or empty for all), as
    /// [`Gateway::conversations`] orders them. Linear in the history held,
    /// which the gateway's caps bound.
    pub fn search(
        &self,
        query: &str,
        filter: &str,
        agent: Option<&str>,
    ) -> Result<Vec<ConvView>, GatewayError> {
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(GatewayError::Invalid(format!(
                "search at most {MAX_QUERY_CHARS} characters"
            )));
        }
        if !["", "mine", "unassigned", "high", "closed"].contains(&filter) {
            return Err(GatewayError::Invalid(
                "filter is mine, unassigned, high or closed".into(),
            ));
        }
        let q = query.trim().to_lowercase();
        let st = self.state();
        let mut v: Vec<ConvView> = st
            .conversations
            .values()
            .filter(|c| !c.messages.is_empty())
            .filter(|c| match filter {
                "mine" => c.status == "taken" && c.agent.is_some() && c.agent.as_deref() == agent,
                "unassigned" => c.status == "escalated",
                "high" => {
                    c.status != "bot" && c.escalation.as_ref().is_some_and(|e| e.priority == "high")
                }
                "closed" => c.status == "bot" && c.desk.closed.is_some(),
                _ => true,
            })
            .filter(|c| {
                q.is_empty()
                    || c.id.to_lowercase().contains(&q)
                    || c.buyer.id.to_lowercase().contains(&q)
                    || c.buyer.name.to_lowercase().contains(&q)
                    || c.messages
                        .iter()
                        .any(|m| m.text.to_lowercase().contains(&q))
            })
            .map(|c| c.view(false))
            .collect();
        v.sort_by(|a, b| b.updated_ms.cmp(&a.updated_ms).then(a.id.cmp(&b.id)));
        Ok(v)
    }

    /// The buyer's context for a side panel: the item they look at and their
    /// other conversations (same buyer id, or the same name given on the
    /// buyer page), newest first, at most [`MAX_EARLIER`].
    pub fn context(&self, conversation: &str) -> Result<serde_json::Value, GatewayError> {
        let mut context = self.context_of(conversation)?;
        // Asked of the bot outside the state lock.
        let item_id = context["item"]["id"].as_str().map(str::to_string);
        if let (Some(id), Some(h)) = (item_id, self.hooks()) {
            if let Some(facts) = h.item_facts(&id) {
                context["facts"] = facts;
            }
        }
        Ok(context)
    }

    fn context_of(&self, conversation: &str) -> Result<serde_json::Value, GatewayError> {
        let st = self.state();
        let c = st
            .conversations
            .get(conversation)
            .ok_or_else(|| GatewayError::NotFound(conversation.into()))?;
        let named = !c.buyer.name.is_empty() && c.buyer.name != c.buyer.id;
        let mut earlier: Vec<(bool, ConvView)> = st
            .conversations
            .values()
            .filter(|o| o.id != c.id && !o.messages.is_empty())
            .filter_map(|o| {
                if o.buyer.id == c.buyer.id {
                    Some((true, o.view(false)))
                } else if named && o.buyer.name == c.buyer.name {
                    Some((false, o.view(false)))
                } else {
                    None
                }
            })
            .collect();
        earlier.sort_by_key(|e| std::cmp::Reverse(e.1.updated_ms));
        earlier.truncate(MAX_EARLIER);
        Ok(serde_json::json!({
            "buyer": c.buyer,
            "item": c.item,
            "earlier": earlier.into_iter().map(|(same_id, v)| serde_json::json!({
                "id": v.id,
                "status": v.status,
                "closed": v.closed,
                "updated_ms": v.updated_ms,
                "last": v.last,
                "match": if same_id { "buyer" } else { "name" },
            })).collect::<Vec<_>>(),
        }))
    }

    /// The bot's draft for the last buyer message of a conversation.
    pub fn draft(&self, conversation: &str) -> Result<serde_json::Value, GatewayError> {
        let (last, item) = {
            let st = self.state();
            let c = st
                .conversations
                .get(conversation)
                .ok_or_else(|| GatewayError::NotFound(conversation.into()))?;
            let last = c
                .messages
                .iter()
                .rev()
                .find(|m| m.role == "buyer")
                .map(|m| (m.id.clone(), m.text.clone()));
            (last, c.item.as_ref().and_then(|i| i.title.clone()))
        };
        let Some((id, text)) = last else {
            return Ok(serde_json::json!({"text": null, "why": "no buyer message yet"}));
        };
        let Some(h) = self.hooks() else {
            return Ok(
                serde_json::json!({"for": id, "text": null, "why": "no bot beside this console"}),
            );
        };
        Ok(match h.draft(&text, item.as_deref()) {
            Some((intent, draft)) => {
                serde_json::json!({"for": id, "intent": intent, "text": draft})
            }
            None => {
                serde_json::json!({"for": id, "text": null, "why": "the bot has no answer of its own to this message"})
            }
        })
    }

    /// The quick replies in force.
    pub fn quick_replies(&self) -> Vec<serde_json::Value> {
        self.hooks()
            .map(|h| h.quick_replies())
            .unwrap_or_default()
            .into_iter()
            .map(|(key, title, text)| serde_json::json!({"key": key, "title": title, "text": text}))
            .collect()
    }

    /// The hot reload's outcome: the problems of the files that failed to
    /// load (the previous version stays in force), or none after a success.
    pub fn set_reload_problem(&self, problem: Option<String>) {
        *self
            .shared
            .desk
            .reload_problem
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = problem;
        self.event(None, "health");
    }

    /// The last reload failure, if the files in force are not the ones on disk.
    pub fn reload_problem(&self) -> Option<String> {
        self.shared
            .desk
            .reload_problem
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
