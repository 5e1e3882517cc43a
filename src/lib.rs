//! xiaoer (店小二): a chat auto-reply bot for Chinese e-commerce shops.
//!
//! The path of one message, module by module:
//! [`nlu`] (normalise, split, match, score) → [`dialogue`] (conversation state
//! and policy) → [`reply`] (the shop's lines, rendered with its facts).
//! [`files`] reads what operators edit; [`config`] the shop's settings;
//! [`engine`] compiles them into one [`engine::Engine`]; [`eval`] scores it.
//!
//! Live chat: [`channel`] (the websocket client, one task per conversation)
//! runs that path for each message and keeps everything in the [`store`]
//! (SQLite) before it acknowledges; [`gateway`] is the server side of the
//! protocol with the web app of `xiaoer demo`.
#![deny(missing_docs)]

pub mod catalog_faq;
pub mod catalog_io;
pub mod channel;
pub mod cli;
pub mod config;
pub mod dialogue;
pub mod embedded;
pub mod engine;
pub mod eval;
pub mod gateway;
pub mod live;
pub mod logsafe;
pub mod metrics;
pub mod proactive;
pub mod reply;
pub mod report;
pub mod store;
pub mod teach;
pub mod watch;

/// The NLU is its own crate (`crates/nlu`): pure, no async or storage in its tree.
pub use xiaoer_nlu as nlu;
pub use xiaoer_nlu::{error, files};

pub use engine::{Engine, FileSource};
pub use error::{Error, Result};
