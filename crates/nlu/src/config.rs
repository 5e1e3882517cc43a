//! The settings the NLU reads, from the `[nlu]` and `[catalog]` sections of
//! `xiaoer.toml` (the bot's configuration loader fills them in).

use serde::Deserialize;

/// Classifier thresholds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NluConfig {
    /// Minimum confidence to answer without a human.
    pub threshold: f32,
    /// Minimum lead of the best intent over the runner-up.
    pub margin: f32,
    /// Examples retrieved per clause.
    pub neighbours: usize,
}

/// Item words recognised in messages.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Chinese item words.
    #[serde(default)]
    pub zh: Vec<String>,
    /// English item words.
    #[serde(default)]
    pub en: Vec<String>,
}
