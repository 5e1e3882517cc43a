//! `replies/_proactive.toml`: what the bot says when it starts a message
//! itself. Tables per reason, each with `zh` and `en` variants; `{item}`,
//! `{total}`, `{courier}`, `{tracking}`, `{address}` and `{cutoff}` come from
//! the order and the shop, the other variables from `[shop]` as in every
//! reply. A variant whose variables have no value for this order is not used;
//! with none left, nothing is sent (never an invented fact).

use crate::config::{Config, Facts};
use crate::error::Problems;
use crate::nlu::lang::Lang;
use crate::reply::template::Template;
use serde::Deserialize;
use toml::Spanned;

/// The variables an order gives, by the reasons that may use them.
const ORDER_VARS: &[(&str, &[&str])] = &[
    ("item", &[]),
    ("total", &[]),
    ("cutoff", &["payment_cutoff"]),
    ("address", &["order_check"]),
    ("courier", &["shipped_notice"]),
    ("tracking", &["shipped_notice"]),
];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawVariants {
    #[serde(default)]
    zh: Vec<Spanned<String>>,
    #[serde(default)]
    en: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTips {
    #[serde(rename = "match")]
    words: Vec<String>,
    #[serde(default)]
    zh: Vec<Spanned<String>>,
    #[serde(default)]
    en: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    payment_reminder: RawVariants,
    #[serde(default)]
    payment_reminder_chatted: RawVariants,
    #[serde(default)]
    payment_cutoff: RawVariants,
    #[serde(default)]
    order_check: RawVariants,
    #[serde(default)]
    shipped_notice: RawVariants,
    #[serde(default)]
    delivered_followup: RawVariants,
    #[serde(default)]
    usage_tips: Vec<RawTips>,
}

/// Variants in both languages.
#[derive(Debug, Clone, Default)]
pub struct Variants {
    zh: Vec<Template>,
    en: Vec<Template>,
}

/// Usage tips for items whose title holds one of `words`.
#[derive(Debug, Clone)]
pub struct Tips {
    words: Vec<String>,
    lines: Variants,
}

/// The compiled `_proactive.toml` (empty when the folder has none: then
/// the bot starts no message, as a shop without these lines would want).
#[derive(Debug, Clone, Default)]
pub struct Lines {
    tables: std::collections::BTreeMap<String, Variants>,
    tips: Vec<Tips>,
    facts_zh: Facts,
    facts_en: Facts,
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

impl Lines {
    /// Compiles `(file, text)` of `_proactive.toml`; problems name file and line.
    pub fn build(file: Option<&(String, String)>, cfg: &Config, problems: &mut Problems) -> Lines {
        let mut out = Lines {
            facts_zh: cfg.facts("zh"),
            facts_en: cfg.facts("en"),
            ..Lines::default()
        };
        let Some((file, text)) = file else {
            return out;
        };
        let raw: Raw = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                let (line, msg) = crate::files::toml_error(text, &e);
                problems.push(file, line, msg);
                return out;
            }
        };
        let mut known: Vec<&str> = out
            .facts_zh
            .keys()
            .chain(out.facts_en.keys())
            .map(String::as_str)
            .collect();
        known.sort();
        known.dedup();
        let compile = |table: &str, v: &[Spanned<String>], problems: &mut Problems| {
            let mut list = Vec::new();
            for s in v {
                let line = line_of(text, s.span().start);
                match Template::parse(s.get_ref()) {
                    Ok(t) => {
                        for var in t.vars() {
                            let order = ORDER_VARS.iter().find(|(n, _)| *n == var);
                            let ok = match order {
                                Some((_, only)) => only.is_empty() || only.contains(&table),
                                None => known.contains(&var),
                            };
                            if !ok {
                                let hint = match order {
                                    Some((_, only)) => format!("{{{var}}} has a value only in [{}]", only.join("], [")),
                                    None => format!("{{{var}}} is neither an order variable (item, total, cutoff, address, courier, tracking) nor a [shop] key of xiaoer.toml"),
                                };
                                problems.push(file, line, hint);
                            }
                        }
                        if t.is_blank() {
                            problems.push(file, line, "an empty line: remove it");
                        }
                        list.push(t);
                    }
                    Err(e) => problems.push(file, line, e),
                }
            }
            list
        };
        let tables: [(&str, &RawVariants); 6] = [
            ("payment_reminder", &raw.payment_reminder),
            ("payment_reminder_chatted", &raw.payment_reminder_chatted),
            ("payment_cutoff", &raw.payment_cutoff),
            ("order_check", &raw.order_check),
            ("shipped_notice", &raw.shipped_notice),
            ("delivered_followup", &raw.delivered_followup),
        ];
        for (name, v) in tables {
            if name != "payment_cutoff" && v.zh.is_empty() {
                problems.push(file, 0, format!("[{name}] needs at least one zh line"));
            }
            let lines = Variants {
                zh: compile(name, &v.zh, problems),
                en: compile(name, &v.en, problems),
            };
            out.tables.insert(name.to_string(), lines);
        }
        for t in &raw.usage_tips {
            let words: Vec<String> = t
                .words
                .iter()
                .map(|w| w.trim().to_lowercase())
                .filter(|w| !w.is_empty())
                .collect();
            if words.is_empty() {
                let line = t.zh.first().map_or(0, |s| line_of(text, s.span().start));
                problems.push(
                    file,
                    line,
                    "[[usage_tips]] needs `match` words (item title words)",
                );
            }
            out.tips.push(Tips {
                words,
                lines: Variants {
                    zh: compile("usage_tips", &t.zh, problems),
                    en: compile("usage_tips", &t.en, problems),
                },
            });
        }
        out
    }

    /// True when the shop has these lines at all.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Usage tips for the first item whose title holds a tip's word.
    pub fn tips_for<'a>(&self, titles: impl IntoIterator<Item = &'a str>) -> Option<usize> {
        let titles: Vec<String> = titles.into_iter().map(str::to_lowercase).collect();
        self.tips
            .iter()
            .position(|t| t.words.iter().any(|w| titles.iter().any(|x| x.contains(w))))
    }

    /// Renders a variant of `table` (or of usage tips `tips`) whose every
    /// variable has a value in the shop's facts or in `vars`; `None` when no
    /// variant can be said truthfully.
    pub fn render(
        &self,
        table: &str,
        tips: Option<usize>,
        lang: Lang,
        seed: u64,
        vars: &[(&str, String)],
    ) -> Option<String> {
        let v = match tips {
            Some(i) => &self.tips.get(i)?.lines,
            None => self.tables.get(table)?,
        };
        let (list, facts) = match lang {
            Lang::En if !v.en.is_empty() => (&v.en, &self.facts_en),
            _ => (&v.zh, &self.facts_zh),
        };
        let mut facts = facts.clone();
        // Order variables come from the order or not at all: never the shop's
        // "这款宝贝" for {item}, nor its default courier for {courier}.
        for (name, _) in ORDER_VARS {
            facts.remove(*name);
        }
        for (k, val) in vars {
            if !val.trim().is_empty() {
                facts.insert(k.to_string(), val.clone());
            }
        }
        let usable: Vec<&Template> = list
            .iter()
            .filter(|t| t.vars().all(|v| facts.contains_key(v)))
            .collect();
        if usable.is_empty() {
            return None;
        }
        let t = usable[(seed % usable.len() as u64) as usize];
        Some(t.render(&facts, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(text: &str) -> (Lines, Problems) {
        let mut p = Problems::default();
        let l = Lines::build(
            Some(&("replies/_proactive.toml".to_string(), text.to_string())),
            &Config::defaults(),
            &mut p,
        );
        (l, p)
    }

    #[test]
    fn the_shipped_file_compiles() {
        let text = include_str!("../../replies/_proactive.toml");
        let (l, p) = build(text);
        assert!(p.is_empty(), "{p}");
        assert!(!l.is_empty());
    }

    #[test]
    fn problems_name_the_line() {
        let rows: &[(&str, &str)] = &[
            (
                "[payment_reminder]\nzh = [\"亲 {tracking}\"]\n",
                ":2: {tracking} has a value only in [shipped_notice]",
            ),
            (
                "[payment_reminder]\nzh = [\"亲\"]\n",
                "[order_check] needs at least one zh line",
            ),
            (
                "[payment_reminder]\nzh = [\"亲 {nope}\"]\n",
                "neither an order variable",
            ),
            ("[payment_reminder\n", "replies/_proactive.toml"),
        ];
        for (text, want) in rows {
            let (_, p) = build(text);
            let all = p.to_string();
            assert!(all.contains(want), "{text}: {all}");
        }
    }

    /// A variant is said only when every one of its variables has a value;
    /// none left: nothing to say.
    #[test]
    fn variants_without_values_are_not_used() {
        let text = "[payment_reminder]\nzh=[\"a\"]\n[payment_reminder_chatted]\nzh=[\"a\"]\n[order_check]\nzh=[\"a\"]\n[delivered_followup]\nzh=[\"a\"]\n\
                    [shipped_notice]\nzh = [\"{courier} {tracking}\", \"发了{courier}\"]\nen = [\"{courier}: {tracking}\"]\n";
        let (l, p) = build(text);
        assert!(p.is_empty(), "{p}");
        let both = [
            ("courier", "中通".to_string()),
            ("tracking", "ZT1".to_string()),
        ];
        let only = [("courier", "中通".to_string())];
        type Row<'a> = (Lang, u64, &'a [(&'a str, String)], Option<&'a str>);
        let rows: &[Row] = &[
            (Lang::Zh, 0, &both, Some("中通 ZT1")),
            (Lang::Zh, 1, &both, Some("发了中通")),
            (Lang::Zh, 0, &only, Some("发了中通")),
            (Lang::Zh, 1, &only, Some("发了中通")),
            (Lang::En, 0, &only, None),
            (Lang::Zh, 0, &[], None),
        ];
        for (lang, seed, vars, want) in rows {
            assert_eq!(
                l.render("shipped_notice", None, *lang, *seed, vars)
                    .as_deref(),
                *want,
                "{lang:?} {seed} {vars:?}"
            );
        }
    }
}
