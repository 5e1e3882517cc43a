//! The frames of protocol version 1 (`shared/protocol.md`), both directions,
//! with the parsing rules the contract sets: text frames of one JSON object,
//! at most 64 KiB, unknown types tolerated, missing fields reported by name.

use serde::{Deserialize, Serialize};

/// The protocol version this crate speaks.
pub const VERSION: u32 = 1;

/// Largest frame either side accepts; a larger one is dropped and logged.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Why a frame was dropped.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FrameError {
    /// Over [`MAX_FRAME_BYTES`].
    #[error("frame of {0} bytes is over the 64 KiB limit")]
    TooLarge(usize),
    /// Not JSON, or not an object.
    #[error("frame is not a JSON object: {0}")]
    NotJson(String),
    /// No `type` string.
    #[error("frame has no \"type\" string")]
    NoType,
    /// A known type with a missing or mistyped field.
    #[error("{kind} frame: {message}")]
    Invalid {
        /// The frame's type.
        kind: String,
        /// What serde said (names the field).
        message: String,
    },
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The shopper: classified and answered.
    Buyer,
    /// A human agent: recorded, never answered.
    Agent,
    /// The platform: recorded, never answered.
    System,
}

impl Role {
    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Buyer => "buyer",
            Role::Agent => "agent",
            Role::System => "system",
        }
    }
}

/// The sender of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sender {
    /// buyer, agent or system.
    pub role: Role,
    /// The sender's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The product the buyer is looking at.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The product id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The options selected on the item page (protocol 1.1): 颜色 = 白色.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<std::collections::BTreeMap<String, String>>,
    /// Its price on the page (protocol 1.1); the catalog stays the source of facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
}

/// A chat message delivered to the bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Unique message id (redeliveries reuse it).
    pub id: String,
    /// The conversation it belongs to.
    pub conversation: String,
    /// The shop (default shop when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop: Option<String>,
    /// Who wrote it.
    pub from: Sender,
    /// The text.
    pub text: String,
    /// The gateway's timestamp (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    /// The product page the buyer is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<Item>,
}

/// The protocol 1.1 feature that brings `order` frames and lets the bot
/// send `send` frames (listed in `welcome.features`).
pub const FEATURE_ORDERS: &str = "orders";

/// An order's status (protocol 1.1), in the order an order moves through
/// them: a later status never goes back to an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed, not paid.
    Created,
    /// Paid.
    Paid,
    /// Shipped (courier and tracking set).
    Shipped,
    /// Delivered.
    Delivered,
    /// Cancelled, or timed out unpaid.
    Closed,
}

impl OrderStatus {
    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Created => "created",
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Closed => "closed",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<OrderStatus> {
        Some(match s {
            "created" => OrderStatus::Created,
            "paid" => OrderStatus::Paid,
            "shipped" => OrderStatus::Shipped,
            "delivered" => OrderStatus::Delivered,
            "closed" => OrderStatus::Closed,
            _ => return None,
        })
    }
}

/// The buyer of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderBuyer {
    /// The buyer's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderItem {
    /// The product id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Selected options (颜色, 尺码, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<std::collections::BTreeMap<String, String>>,
    /// Quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qty: Option<u32>,
    /// Unit price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
}

/// An order event (protocol 1.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderEvent {
    /// The event's id (acknowledged, deduplicated like a message id).
    pub id: String,
    /// The order's id.
    pub order: String,
    /// The chat with this buyer.
    pub conversation: String,
    /// The shop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop: Option<String>,
    /// The buyer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer: Option<OrderBuyer>,
    /// What happened.
    pub status: OrderStatus,
    /// The gateway's timestamp (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    /// The order's lines.
    #[serde(default)]
    pub items: Vec<OrderItem>,
    /// The total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
    /// The shipping address (never logged in full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The courier, once shipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub courier: Option<String>,
    /// The tracking number, once shipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<String>,
}

/// Gateway → bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToBot {
    /// The answer to `hello`.
    Welcome {
        /// The gateway's name.
        #[serde(default)]
        gateway: Option<String>,
        /// Its protocol version.
        #[serde(default)]
        version: Option<u32>,
        /// What it supports beyond version 1 (`orders`, `instances`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        features: Option<Vec<String>>,
    },
    /// A chat message.
    Message(Message),
    /// Something happened to an order.
    Order(OrderEvent),
    /// The gateway delivered (or already had delivered) a `send`.
    Sent {
        /// The `send` id.
        id: String,
    },
    /// An agent owns the conversation now.
    Takeover {
        /// Conversation id.
        conversation: String,
        /// The agent.
        #[serde(default)]
        agent: Option<String>,
    },
    /// The agent hands the conversation back.
    Release {
        /// Conversation id.
        conversation: String,
        /// The agent.
        #[serde(default)]
        agent: Option<String>,
    },
}

/// Bot → gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromBot {
    /// First frame on every connection.
    Hello {
        /// "xiaoer".
        bot: String,
        /// Protocol version.
        version: u32,
        /// The shops it answers for.
        shops: Vec<String>,
        /// Which instance this is (1.1: several on one gateway).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance: Option<String>,
    },
    /// Text for the buyer.
    Reply {
        /// Conversation id.
        conversation: String,
        /// The buyer message answered.
        in_reply_to: String,
        /// What the buyer sees.
        text: String,
        /// For the gateway's logs.
        intents: Vec<String>,
        /// For the gateway's logs.
        confidence: f32,
    },
    /// Route the conversation to a person.
    Escalate {
        /// Conversation id.
        conversation: String,
        /// The buyer message that triggered it.
        in_reply_to: String,
        /// Intent id or policy name.
        reason: String,
        /// The intents read.
        intents: Vec<String>,
        /// high or normal.
        priority: String,
        /// One line for the agent.
        summary: String,
    },
    /// The message and all decided about it are stored.
    Ack {
        /// The message id.
        id: String,
    },
    /// A message the bot starts itself (protocol 1.1).
    Send {
        /// Stable for one reason about one order (`<order>/<kind>`).
        id: String,
        /// Conversation id.
        conversation: String,
        /// The reason.
        kind: String,
        /// The order it is about.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<String>,
        /// What the buyer sees.
        text: String,
    },
}

impl FromBot {
    /// The frame's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            FromBot::Hello { .. } => "hello",
            FromBot::Reply { .. } => "reply",
            FromBot::Escalate { .. } => "escalate",
            FromBot::Ack { .. } => "ack",
            FromBot::Send { .. } => "send",
        }
    }

    /// The frame as sent.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A parsed frame, or a type this version does not know (to log and ignore).
#[derive(Debug, PartialEq)]
pub enum Parsed<T> {
    /// A known frame.
    Frame(T),
    /// A `type` this version does not know.
    Unknown(String),
}

fn parse<T: for<'de> Deserialize<'de>>(
    text: &str,
    known: &[&str],
) -> Result<Parsed<T>, FrameError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(text.len()));
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| FrameError::NotJson(e.to_string()))?;
    if !value.is_object() {
        return Err(FrameError::NotJson("not an object".into()));
    }
    let kind = match value.get("type").and_then(|t| t.as_str()) {
        Some(k) => k.to_string(),
        None => return Err(FrameError::NoType),
    };
    if !known.contains(&kind.as_str()) {
        return Ok(Parsed::Unknown(kind));
    }
    serde_json::from_value(value)
        .map(Parsed::Frame)
        .map_err(|e| FrameError::Invalid {
            kind,
            message: e.to_string(),
        })
}

/// Parses a gateway → bot frame.
pub fn parse_to_bot(text: &str) -> Result<Parsed<ToBot>, FrameError> {
    parse(
        text,
        &["welcome", "message", "takeover", "release", "order", "sent"],
    )
}

/// Parses a bot → gateway frame.
pub fn parse_from_bot(text: &str) -> Result<Parsed<FromBot>, FrameError> {
    let parsed = parse(text, &["hello", "reply", "escalate", "ack", "send"])?;
    // 1e39 parses into an f32 as infinity, which JSON cannot carry back
    // (found by the fuzzer).
    if let Parsed::Frame(FromBot::Reply { confidence, .. }) = &parsed {
        if !confidence.is_finite() {
            return Err(FrameError::Invalid {
                kind: "reply".into(),
                message: format!("confidence {confidence} is not a finite number"),
            });
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocol_examples_parse() {
        let m = r#"{"type":"message","id":"m-81","conversation":"c-7","shop":"demo","from":{"role":"buyer","id":"b-3","name":"小王"},"text":"亲,在吗?有货吗","ts":"2026-11-22T10:00:00Z","item":{"id":"i-9","title":"白色雪纺连衣裙"}}"#;
        let Parsed::Frame(ToBot::Message(m)) = parse_to_bot(m).unwrap() else {
            panic!("not a message")
        };
        assert_eq!(m.from.role, Role::Buyer);
        assert_eq!(m.item.unwrap().title.as_deref(), Some("白色雪纺连衣裙"));
        for f in [
            r#"{"type":"welcome","gateway":"name","version":1}"#,
            r#"{"type":"takeover","conversation":"c-7","agent":"a-2"}"#,
            r#"{"type":"release","conversation":"c-7","agent":"a-2"}"#,
        ] {
            assert!(matches!(parse_to_bot(f), Ok(Parsed::Frame(_))), "{f}");
        }
        for f in [
            r#"{"type":"hello","bot":"xiaoer","version":1,"shops":["demo"]}"#,
            r#"{"type":"reply","conversation":"c-7","in_reply_to":"m-81","text":"亲,在的呢","intents":["stock"],"confidence":0.93}"#,
            r#"{"type":"escalate","conversation":"c-7","in_reply_to":"m-81","reason":"complaint","intents":["complaint"],"priority":"high","summary":"买家投诉"}"#,
            r#"{"type":"ack","id":"m-81"}"#,
        ] {
            let Ok(Parsed::Frame(p)) = parse_from_bot(f) else {
                panic!("{f}")
            };
            assert_eq!(parse_from_bot(&p.to_json()), Ok(Parsed::Frame(p)));
        }
    }

    #[test]
    fn the_protocol_1_1_examples_parse() {
        let o = r#"{"type":"order","id":"e-501","order":"o-88","conversation":"c-7","shop":"demo","buyer":{"id":"b-3","name":"小王"},"status":"created","ts":"2026-11-22T10:05:00Z","items":[{"id":"i-9","title":"白色雪纺连衣裙","options":{"颜色":"白色","尺码":"M"},"qty":1,"price":129.0}],"total":129.0,"address":"浙江省杭州市西湖区***","courier":null,"tracking":null}"#;
        let Parsed::Frame(ToBot::Order(o)) = parse_to_bot(o).unwrap() else {
            panic!("not an order")
        };
        assert_eq!(
            (o.status, o.total, o.items.len()),
            (OrderStatus::Created, Some(129.0), 1)
        );
        let w =
            r#"{"type":"welcome","gateway":"name","version":1,"features":["orders","instances"]}"#;
        let Parsed::Frame(ToBot::Welcome { features, .. }) = parse_to_bot(w).unwrap() else {
            panic!("not a welcome")
        };
        assert_eq!(features.unwrap(), ["orders", "instances"]);
        assert_eq!(
            parse_to_bot(r#"{"type":"sent","id":"o-88/payment_reminder"}"#),
            Ok(Parsed::Frame(ToBot::Sent {
                id: "o-88/payment_reminder".into()
            }))
        );
        let s = r#"{"type":"send","id":"o-88/payment_reminder","conversation":"c-7","kind":"payment_reminder","order":"o-88","text":"亲，看到您刚拍下的白色雪纺连衣裙还没有付款哦"}"#;
        let Ok(Parsed::Frame(p)) = parse_from_bot(s) else {
            panic!("{s}")
        };
        assert_eq!(p.kind(), "send");
        assert_eq!(parse_from_bot(&p.to_json()), Ok(Parsed::Frame(p)));
        let rows: &[(&str, &str)] = &[
            (
                r#"{"type":"order","id":"e","order":"o","conversation":"c","status":"refunded"}"#,
                "unknown variant `refunded`",
            ),
            (
                r#"{"type":"order","id":"e","conversation":"c","status":"paid"}"#,
                "missing field `order`",
            ),
            (r#"{"type":"sent"}"#, "missing field `id`"),
        ];
        for (f, want) in rows {
            let e = parse_to_bot(f).unwrap_err().to_string();
            assert!(e.contains(want), "{f}: {e}");
        }
    }

    #[test]
    fn bad_frames_say_why() {
        let rows: &[(&str, &str)] = &[
            ("not json", "not a JSON object"),
            ("[1,2]", "not a JSON object"),
            (r#"{"id":"m-1"}"#, "no \"type\""),
            (
                r#"{"type":"message","conversation":"c","from":{"role":"buyer"},"text":"x"}"#,
                "missing field `id`",
            ),
            (
                r#"{"type":"message","id":"m","conversation":"c","from":{"role":"robot"},"text":"x"}"#,
                "unknown variant `robot`",
            ),
            (r#"{"type":"message","id":7}"#, "message frame"),
        ];
        for (f, want) in rows {
            let e = parse_to_bot(f).unwrap_err().to_string();
            assert!(e.contains(want), "{f}: {e}");
        }
        // Regressions found by the fuzzer.
        assert!(parse_from_bot(
            r#"{"type":"reply","conversation":"c","in_reply_to":"m","text":"x","intents":[],"confidence":1e39}"#
        )
        .is_err());
        let big = format!(r#"{{"type":"x","pad":"{}"}}"#, "a".repeat(MAX_FRAME_BYTES));
        assert!(matches!(parse_to_bot(&big), Err(FrameError::TooLarge(_))));
        assert_eq!(
            parse_to_bot(r#"{"type":"typing","conversation":"c"}"#),
            Ok(Parsed::Unknown("typing".into()))
        );
    }
}
