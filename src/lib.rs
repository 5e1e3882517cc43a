//! xiaoer (店小二): a chat auto-reply bot for Chinese e-commerce shops.
//!
//! The path of one message, module by module:
//! [`nlu`] (normalise, split, match, score) → [`dialogue`] (conversation state
//! and policy) → [`reply`] (the shop's lines, rendered with its facts).
//! [`files`] reads what operators edit; [`config`] the shop's settings;
//! [`engine`] compiles them into one [`engine::Engine`]; [`eval`] scores it.
#![deny(missing_docs)]

pub mod config;
pub mod dialogue;
pub mod engine;
pub mod error;
pub mod eval;
pub mod files;
pub mod nlu;
pub mod reply;

pub use engine::{Engine, FileSource};
pub use error::{Error, Result};
