//! Replies: picks a variant of an intent's (or a system line's) templates in the
//! buyer's language and renders it with the shop's facts and the buyer's item.
//! Templates are parsed once at load; buyer text is only ever a value.

pub mod template;

use crate::config::{Config, Facts};
use crate::error::{Error, Problems, Result};
use crate::files::{At, Sources, Variants, NONE, SYSTEM_TABLES};
use crate::nlu::lang::Lang;
use std::collections::{BTreeMap, HashMap};
use template::Template;

/// Compiled variants in both languages.
#[derive(Debug, Clone, Default)]
pub struct Lines {
    zh: Vec<Template>,
    en: Vec<Template>,
}

impl Lines {
    /// The variants for a language (falls back to the other if empty).
    pub fn get(&self, lang: Lang) -> &[Template] {
        let (a, b) = match lang {
            Lang::Zh => (&self.zh, &self.en),
            Lang::En => (&self.en, &self.zh),
        };
        if a.is_empty() {
            b
        } else {
            a
        }
    }
}

/// What to say: an intent's reply (optionally a named stage), or a system line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key<'a> {
    /// An intent's main replies.
    Intent(&'a str),
    /// A later stage of an intent (`later`, `concession`).
    Stage(&'a str, &'a str),
    /// A table of `_system.toml`.
    System(&'a str),
}

/// All reply lines, compiled, with the facts they are rendered with.
#[derive(Debug, Clone)]
pub struct Replies {
    intents: HashMap<String, Lines>,
    stages: HashMap<(String, String), Lines>,
    system: BTreeMap<String, Lines>,
    /// Agents' quick replies: (key, title, text), rendered with the shop's
    /// Chinese facts.
    quick: Vec<(String, String, String)>,
    facts_zh: Facts,
    facts_en: Facts,
}

/// System tables every installation needs.
const REQUIRED_SYSTEM: &[&str] = &[
    "fallback",
    "unclassified",
    "low_confidence",
    "greeting_prefix",
];

impl Replies {
    /// Compiles the reply files against the intents and the configuration.
    /// `intent_ids` are the ids the intent files define.
    pub fn build(src: &Sources, intent_ids: &[&str], cfg: &Config) -> Result<Replies> {
        let facts_zh = cfg.facts("zh");
        let facts_en = cfg.facts("en");
        let mut known: Vec<&str> = facts_zh
            .keys()
            .chain(facts_en.keys())
            .map(String::as_str)
            .collect();
        known.sort();
        known.dedup();
        let mut problems = Problems::default();
        let mut intents = HashMap::new();
        let mut stages = HashMap::new();
        for r in &src.replies {
            let id = r.intent.value.as_str();
            if !intent_ids.contains(&id) {
                problems.push(&r.file, r.intent.line, format!(
                    "intent {id:?} has no file in intents/: fix the id (known: {}) or add intents/{id}.toml",
                    intent_ids.join(", ")));
                continue;
            }
            if intents.contains_key(id) {
                problems.push(
                    &r.file,
                    r.intent.line,
                    format!("a second reply file for {id:?}: keep one"),
                );
                continue;
            }
            intents.insert(
                id.to_string(),
                compile(&r.file, &r.main, &known, &mut problems),
            );
            for (name, v) in &r.stages {
                stages.insert(
                    (id.to_string(), name.clone()),
                    compile(&r.file, v, &known, &mut problems),
                );
            }
        }
        for id in intent_ids.iter().filter(|id| **id != NONE) {
            match intents.get(*id) {
                None => problems.push(&format!("replies/{id}.toml"), 0, format!(
                    "intent {id:?} has no replies: create this file with `intent = \"{id}\"` and zh / en lines")),
                Some(l) if l.zh.is_empty() || l.en.is_empty() => {
                    let file = src.replies.iter().find(|r| r.intent.value == *id).map_or("replies", |r| r.file.as_str());
                    problems.push(file, 0, format!("intent {id:?} needs at least one `zh` and one `en` line"));
                }
                _ => {}
            }
        }
        let sys_file = if src.system.file.is_empty() {
            "replies/_system.toml"
        } else {
            &src.system.file
        };
        let mut system = BTreeMap::new();
        for (name, v) in &src.system.tables {
            system.insert(name.clone(), compile(sys_file, v, &known, &mut problems));
        }
        for name in REQUIRED_SYSTEM {
            if system
                .get(*name)
                .is_none_or(|l: &Lines| l.zh.is_empty() || l.en.is_empty())
            {
                problems.push(
                    sys_file,
                    0,
                    format!("[{name}] with zh and en lines is required"),
                );
            }
        }
        debug_assert!(REQUIRED_SYSTEM.iter().all(|n| SYSTEM_TABLES.contains(n)));
        let mut quick = Vec::new();
        for q in &src.quick {
            let v = Variants {
                zh: vec![q.text.clone()],
                en: Vec::new(),
            };
            let lines = compile(&q.file, &v, &known, &mut problems);
            if let Some(t) = lines.zh.first() {
                quick.push((
                    q.key.clone(),
                    q.title.value.trim().to_string(),
                    t.render(&facts_zh, None),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(Error::Files { problems });
        }
        Ok(Replies {
            intents,
            stages,
            system,
            quick,
            facts_zh,
            facts_en,
        })
    }

    /// The lines for a key, if defined. A missing stage or system table falls back
    /// to `fallback`, so a reply is never empty.
    pub fn lines(&self, key: Key<'_>) -> &Lines {
        let found = match key {
            Key::Intent(id) => self.intents.get(id),
            Key::Stage(id, st) => self.stages.get(&(id.to_string(), st.to_string())),
            Key::System(name) => self.system.get(name),
        };
        found.unwrap_or_else(|| &self.system["fallback"])
    }

    /// True when a key has its own lines (no fallback).
    pub fn has(&self, key: Key<'_>) -> bool {
        match key {
            Key::Intent(id) => self.intents.contains_key(id),
            Key::Stage(id, st) => self.stages.contains_key(&(id.to_string(), st.to_string())),
            Key::System(name) => self.system.contains_key(name),
        }
    }

    /// Agents' quick replies from `replies/_agent.toml`: (key, title, text).
    pub fn quick(&self) -> &[(String, String, String)] {
        &self.quick
    }

    /// Renders variant number `n` (taken modulo the number of variants).
    pub fn render(&self, key: Key<'_>, lang: Lang, n: usize, item: Option<&str>) -> String {
        let lines = self.lines(key).get(lang);
        if lines.is_empty() {
            return String::new();
        }
        let facts = match lang {
            Lang::Zh => &self.facts_zh,
            Lang::En => &self.facts_en,
        };
        lines[n % lines.len()].render(facts, item)
    }

    /// [`Replies::render`] with some variables set for this line only (the
    /// buyer's `{destination}`), besides `{item}`.
    pub fn render_for(
        &self,
        key: Key<'_>,
        lang: Lang,
        n: usize,
        item: Option<&str>,
        vars: &[(&str, String)],
    ) -> String {
        if vars.is_empty() {
            return self.render(key, lang, n, item);
        }
        let lines = self.lines(key).get(lang);
        if lines.is_empty() {
            return String::new();
        }
        let mut facts = match lang {
            Lang::Zh => self.facts_zh.clone(),
            Lang::En => self.facts_en.clone(),
        };
        for (k, v) in vars {
            facts.insert(k.to_string(), v.clone());
        }
        lines[n % lines.len()].render(&facts, item)
    }

    /// [`Replies::render`] with some variables set for this line only (the
    /// busy line's `{wait_minutes}`, counted live).
    pub fn render_with(
        &self,
        key: Key<'_>,
        lang: Lang,
        n: usize,
        vars: &[(&str, String)],
    ) -> String {
        self.render_for(key, lang, n, None, vars)
    }
}

fn compile(file: &str, v: &Variants, known: &[&str], problems: &mut Problems) -> Lines {
    let one = |list: &[At<String>], problems: &mut Problems| {
        let mut out = Vec::new();
        for t in list {
            match Template::parse(&t.value) {
                Ok(tpl) => {
                    for var in tpl.vars() {
                        if var != "item" && !known.contains(&var) {
                            problems.push(file, t.line, format!(
                                "{{{var}}} is not a configuration key: add `{var}` under [shop] (or [shop.zh] / [shop.en]) in xiaoer.toml, or use one of: item, {}",
                                known.join(", ")));
                        }
                    }
                    if tpl.is_blank() {
                        problems.push(file, t.line, "an empty reply line: remove it");
                    }
                    out.push(tpl);
                }
                Err(e) => problems.push(file, t.line, e),
            }
        }
        out
    };
    Lines {
        zh: one(&v.zh, problems),
        en: one(&v.en, problems),
    }
}
