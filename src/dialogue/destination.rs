//! Where an English-speaking buyer wants the parcel sent ("how much is shipping
//! to the US?", "do you ship to Brazil?"). English buyers are the shop's
//! buyers abroad, so their shipping questions are answered from the
//! international facts, and "do you ship to X?" from `[shop] ships_to`: a
//! listed country gets a yes, anything else that reads as a place goes to a
//! person (the bot never guesses that a parcel can go somewhere).

use crate::config::Country;
use std::collections::HashMap;

/// Most words in one way of writing a country ("the united arab emirates").
const MAX_NAME_WORDS: usize = 4;

/// What the message says about a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place<'c> {
    /// A country of the list.
    Listed(&'c Country),
    /// A capitalised name after "ship … to" that is not on the list.
    Unlisted,
}

/// A destination named after "to", and whether a shipping word came before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destination<'c> {
    /// The place.
    pub place: Place<'c>,
    /// "ship", "deliver", "send" … came before the "to": the message asks
    /// about shipping there.
    pub asks_shipping: bool,
}

/// Words that say "getting a parcel somewhere".
const SHIPPING_WORDS: &[&str] = &[
    "ship",
    "ships",
    "shipped",
    "shipping",
    "deliver",
    "delivers",
    "delivered",
    "delivery",
    "send",
    "sends",
    "sent",
    "post",
    "mail",
    "arrive",
    "arrives",
    "courier",
    "postage",
];

/// Capitalised words after "to" that are not places ("ship it to Me", "to My office").
const NOT_PLACES: &[&str] = &[
    "i", "me", "my", "mine", "you", "your", "our", "him", "her", "his", "them", "their", "this",
    "that", "these", "those", "it", "a", "an", "home", "address", "office", "work", "hotel",
    "school", "europe", "asia", "africa", "latin", "south", "north", "all", "other", "another",
    "which", "what", "where", "any", "every", "check", "buy", "pay",
];

/// The first destination the text names after "to": a listed country if one
/// is named anywhere, else an unlisted place asked about. Linear in the text
/// (at most [`MAX_NAME_WORDS`] hash lookups per word).
pub fn find<'c>(text: &str, countries: &'c [Country]) -> Option<Destination<'c>> {
    let mut by_form: HashMap<&str, &Country> = HashMap::new();
    for c in countries {
        for f in &c.forms {
            by_form.entry(f.as_str()).or_insert(c);
        }
    }
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '\''))
        .map(|w| w.trim_start_matches(['.', '\'']))
        .filter(|w| !w.is_empty())
        .collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let bare = |w: &str| w.trim_end_matches(['.', '\'']).to_string();
    let mut shipping = false;
    let mut unlisted: Option<Destination<'c>> = None;
    for i in 0..words.len() {
        let w = bare(&lower[i]);
        if SHIPPING_WORDS.contains(&w.as_str()) {
            shipping = true;
        }
        if w != "to" {
            continue;
        }
        // The longest way of writing a listed country that starts here, with
        // or without "the" ("to the USA", "to the United States").
        let start = i + 1;
        let mut found = None;
        let the = lower.get(start).is_some_and(|w| bare(w) == "the");
        for from in [start, start + 1].into_iter().take(1 + the as usize) {
            let mut name = String::new();
            for k in 0..MAX_NAME_WORDS.min(words.len().saturating_sub(from)) {
                if k > 0 {
                    name.push(' ');
                }
                name.push_str(&lower[from + k]);
                let key = name.trim_end_matches(['.', '\'']);
                let hit = by_form.get(name.as_str()).or_else(|| by_form.get(key));
                if let Some(c) = hit {
                    found = found.or(Some(*c));
                }
            }
        }
        if let Some(c) = found {
            return Some(Destination {
                place: Place::Listed(c),
                asks_shipping: shipping,
            });
        }
        // Not listed: a place only when written as a name (capitalised).
        let next = match lower.get(start).map(|w| bare(w)) {
            Some(t) if t == "the" => start + 1,
            _ => start,
        };
        if let (Some(orig), Some(low)) = (words.get(next), lower.get(next)) {
            let capital = orig.chars().next().is_some_and(char::is_uppercase);
            if shipping
                && capital
                && unlisted.is_none()
                && !NOT_PLACES.contains(&bare(low).as_str())
            {
                unlisted = Some(Destination {
                    place: Place::Unlisted,
                    asks_shipping: true,
                });
            }
        }
    }
    unlisted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn countries() -> Vec<Country> {
        [
            (
                "the United States",
                &[
                    "the united states",
                    "united states",
                    "usa",
                    "us",
                    "u.s.",
                    "america",
                ][..],
            ),
            ("Brazil", &["brazil"][..]),
            (
                "the United Arab Emirates",
                &["the united arab emirates", "uae"][..],
            ),
            ("Spain", &["spain"][..]),
        ]
        .iter()
        .map(|(n, f)| Country {
            name: n.to_string(),
            forms: f.iter().map(|s| s.to_string()).collect(),
        })
        .collect()
    }

    #[test]
    fn table() {
        let cs = countries();
        // (message, the country named or "?" for unlisted or "" for none, asks shipping)
        let rows: &[(&str, &str, bool)] = &[
            ("how much is shipping to the US?", "the United States", true),
            ("is shipping free to Brazil?", "Brazil", true),
            ("do you ship to Brazil?", "Brazil", true),
            (
                "How many days to ship to the USA?",
                "the United States",
                true,
            ),
            (
                "Is it in stock and how long to ship to the US",
                "the United States",
                true,
            ),
            ("delivery to U.S.?", "the United States", true),
            (
                "Do you deliver to The United Arab Emirates",
                "the United Arab Emirates",
                true,
            ),
            ("and to Spain?", "Spain", false),
            ("how long to Spain.", "Spain", false),
            ("do you ship to Narnia?", "?", true),
            ("can you send it to the Moon", "?", true),
            ("Can you send it to the Vatican?", "?", true),
            ("ship it to My office", "", false),
            ("please send to my address", "", false),
            ("I want to buy this", "", false),
            ("I'm going to Brazil next week", "Brazil", false),
            ("is it free to return?", "", false),
            ("", "", false),
            ("to", "", false),
        ];
        for (text, want, asks) in rows {
            let got = find(text, &cs);
            match (*want, got) {
                ("", None) => {}
                ("?", Some(d)) => {
                    assert_eq!(d.place, Place::Unlisted, "{text:?}");
                    assert_eq!(d.asks_shipping, *asks, "{text:?}");
                }
                (
                    name,
                    Some(Destination {
                        place: Place::Listed(c),
                        asks_shipping,
                    }),
                ) => {
                    assert_eq!(c.name, name, "{text:?}");
                    assert_eq!(asks_shipping, *asks, "{text:?}");
                }
                (_, got) => panic!("{text:?}: want {want:?}, got {got:?}"),
            }
        }
    }
}
