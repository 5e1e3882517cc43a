//! Answers from the catalog: which variant a message asks about, and the one
//! line that states its fact (stock, price, size, attribute, FAQ answer,
//! promotions) in the shop's voice, Chinese or English. Facts are quoted as
//! the files write them; where a file is silent the answer is
//! [`Answer::Unknown`] and a person answers.

use super::index::Hit;
use super::measure::{self, Measure};
use super::{Column, Item, Knowledge, PromotionKind, Variant};

/// What the buyer asks, as the dialogue read it (from the message's intents).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Whether a variant is in stock, when it comes back.
    Stock,
    /// What the item, a variant or a quantity costs.
    Price,
    /// Which size fits.
    Size,
    /// A property of the item (material, taste, connection…).
    Attribute,
    /// Current promotions.
    Promotion,
    /// Another question the bot answers (shipping, invoice…): only a
    /// confident FAQ entry replaces its usual reply.
    Other,
    /// The engine could not read the message: a FAQ entry or a named
    /// attribute of the item may still answer it.
    Unread,
    /// How to use the item: an attribute (泡法, 用法) or FAQ entry answers;
    /// without one the intent's usual reply stands.
    Usage,
}

impl Ask {
    /// The question needs to know the item.
    pub fn needs_item(self) -> bool {
        matches!(self, Ask::Stock | Ask::Price | Ask::Size | Ask::Attribute)
    }
}

/// A question to the catalog.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    /// The normalised message.
    pub text: &'a str,
    /// What is asked.
    pub ask: Ask,
    /// The item (index into [`Knowledge::items`]).
    pub item: Option<usize>,
    /// Options the buyer selected on the item page (protocol 1.1 `item.options`).
    pub page_options: &'a [(String, String)],
    /// The message time, Unix seconds (promotion windows).
    pub now: i64,
    /// Answer in English.
    pub en: bool,
}

/// The catalog's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The reply line, stating the fact.
    Fact(String),
    /// The file does not say: what was asked, for the agent's summary.
    Unknown(String),
    /// The question is about an item and none is known.
    NeedItem,
    /// Nothing to add: the intent's usual reply stands.
    Pass,
}

/// A FAQ entry answers when its question covers the buyer's this well.
pub const FAQ_FLOOR: f32 = 0.6;
/// … and replaces the reply of an intent the catalog does not answer (a
/// shipping or invoice question) from this much.
pub const FAQ_FLOOR_OTHER: f32 = 0.7;
/// Most alternatives listed in one reply.
const MAX_LISTED: usize = 4;

/// English colour words and the Chinese value they name (黑色, 藏青…).
const COLOURS: &[(&str, &str)] = &[
    ("black", "黑"),
    ("white", "白"),
    ("red", "红"),
    ("blue", "蓝"),
    ("navy", "藏青"),
    ("grey", "灰"),
    ("gray", "灰"),
    ("pink", "粉"),
    ("green", "绿"),
    ("yellow", "黄"),
    ("beige", "米"),
    ("brown", "棕"),
    ("purple", "紫"),
    ("orange", "橙"),
    ("khaki", "卡其"),
    ("silver", "银"),
    ("gold", "金"),
];

/// Colour stems heard with 色 (白色, 米色), or with 的 / 款 for the ones that
/// are no other word's (黑的, 红款; not 米的 of 1.5米的, not 粉的 of powder).
fn colours_named(text: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for (en, zh) in COLOURS {
        let plain = !matches!(*zh, "米" | "金" | "银" | "粉" | "卡其");
        let heard = text.contains(&format!("{zh}色"))
            || plain
                && ["的", "款"]
                    .iter()
                    .any(|s| text.contains(&format!("{zh}{s}")))
            || occurs(text, en);
        if heard && !out.contains(zh) {
            out.push(zh);
        }
    }
    out
}

/// Flavours a message names as 「…味」 (五香味, 草莓味的): the one or two
/// characters before 味, not the words where 味 is no flavour (口味, 异味,
/// 气味, 味道) nor a question about one (什么味).
fn flavours_named(text: &str) -> Vec<&str> {
    const NOT: &[&str] = &[
        "口", "异", "气", "怪", "香", "什么", "啥", "哪种", "其他", "别的", "这个", "那个", "哪个",
        "其它", "一",
    ];
    let mut out: Vec<&str> = Vec::new();
    for (at, _) in text.match_indices('味') {
        if text[at + '味'.len_utf8()..].starts_with('道') {
            continue;
        }
        let before: Vec<(usize, char)> = text[..at].char_indices().rev().take(2).collect();
        let han = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
        let start = match before.as_slice() {
            [(_, a), (b, c)] if han(*a) && han(*c) => *b,
            [(a, c), ..] if han(*c) => *a,
            _ => continue,
        };
        let mut f = &text[start..at];
        // 的 / 是 before a one-character flavour (是酸味吗) is not part of it.
        if let Some(rest) = f.strip_prefix(['的', '是', '有', '要']) {
            f = rest;
        }
        // 香味 is a scent, 五香味 a flavour.
        if f.is_empty() || f == "香" || NOT.iter().any(|n| *n != "香" && f.ends_with(n)) {
            continue;
        }
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

/// Letter sizes (S … XXXL, 2XL … 5XL, XS) standing as words, and numbered
/// sizes said with 码 (38码, 27.5码), in the normalised (lower-case) text.
fn sizes_named(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphanumeric() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'.') {
                j += 1;
            }
            let word = &text[i..j];
            let letter = {
                let core = word.trim_start_matches(|c: char| ('2'..='5').contains(&c));
                let xs = core.trim_start_matches('x');
                (core.len() < word.len() && core.starts_with('x') || core.len() == word.len())
                    && matches!(xs, "s" | "m" | "l")
                    && core.len() - xs.len() <= 3
            };
            // "it's", "i'm": a letter after an apostrophe is no size.
            let elided = text[..i].ends_with(['\'', '\u{2019}']);
            let letter = letter && !elided;
            let numbered = word.chars().next().is_some_and(|c| c.is_ascii_digit())
                && word.chars().all(|c| c.is_ascii_digit() || c == '.')
                && text[j..].starts_with('码');
            if (letter || numbered) && !out.iter().any(|w| w == word) {
                out.push(word.to_string());
            }
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// Flavour words of English buyers and the Chinese they are sold under.
const FLAVOURS: &[(&str, &str)] = &[
    ("spicy", "辣"),
    ("original", "原味"),
    ("plain", "原味"),
    ("cumin", "孜然"),
    ("sweet", "甜"),
    ("sour", "酸"),
    ("salty", "咸"),
    ("strawberry", "草莓"),
    ("chocolate", "巧克力"),
    ("vanilla", "香草"),
    ("matcha", "抹茶"),
    ("milk", "牛奶"),
    ("honey", "蜂蜜"),
    ("lemon", "柠檬"),
    ("mango", "芒果"),
    ("grape", "葡萄"),
    ("peach", "桃"),
    ("coffee", "咖啡"),
    ("coconut", "椰"),
    ("garlic", "蒜"),
    ("barbecue", "烧烤"),
    ("bbq", "烧烤"),
];

/// The message asks whether something is there (有吗, 还有, 有货, 有麻辣的吗).
fn asks_availability(text: &str) -> bool {
    let t = text.trim_end_matches(['?', '？', ' ', '呀', '啊', '哈']);
    [
        "有吗",
        "还有",
        "有货",
        "有没有货",
        "有木有",
        "有没有",
        "in stock",
        "available",
    ]
    .iter()
    .any(|w| text.contains(w))
        || text.contains('有')
            && ["的吗", "的么", "的嘛", "的没", "的不"]
                .iter()
                .any(|e| t.ends_with(e))
}

/// Yuan as people write them: 129, 39.9, 12.5.
pub fn yuan(v: f64) -> String {
    if v.fract().abs() < 1e-9 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn bounded(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    let ascii = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let first = text[start..end].chars().next();
    let last = text[start..end].chars().next_back();
    (!ascii(first) || !ascii(before)) && (!ascii(last) || !ascii(after))
}

/// (number, unit) of a quantity value such as "60包", "2斤装", "500g".
fn quantity(s: &str) -> Option<(u32, char)> {
    let a = measure::arabic(s);
    let digits: String = a.chars().take_while(|c| c.is_ascii_digit()).collect();
    let unit = a[digits.len()..].chars().next()?;
    Some((digits.parse().ok()?, unit))
}

/// Every (number, unit) in a text.
fn quantities(text: &str) -> Vec<(u32, char)> {
    let a = measure::arabic(text);
    let chars: Vec<char> = a.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit()
            && (i == 0 || !chars[i - 1].is_ascii_digit() && chars[i - 1] != '.')
        {
            let mut j = i;
            let mut n: u64 = 0;
            while j < chars.len() && chars[j].is_ascii_digit() && j - i < 6 {
                n = n * 10 + chars[j] as u64 - '0' as u64;
                j += 1;
            }
            if let Some(&u) = chars.get(j) {
                if !u.is_ascii_digit() && u != '.' {
                    out.push((n as u32, u));
                }
            }
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// Where `needle` occurs in `text` on boundaries.
fn occurs(text: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(p) = text[from..].find(needle) {
        let s = from + p;
        if bounded(text, s, s + needle.len()) {
            return true;
        }
        from = s + needle.len().max(1);
        while !text.is_char_boundary(from) {
            from += 1;
        }
    }
    false
}

impl Knowledge {
    /// The option values a message names for `item`: (option, value), at
    /// most one per option (the longest named), in the item's option order.
    pub fn options_named(&self, item: usize, text: &str) -> Vec<(String, String)> {
        let asked_q = quantities(text);
        let mut best: Vec<(String, String, usize)> = Vec::new();
        for (opt, value, norm) in &self.values[item] {
            let mut hit = occurs(text, norm);
            let mut len = norm.chars().count();
            if hit {
                len += 1000;
            } else {
                // Quantities: every one of the value's in the text (80抽6包
                // for 80抽×6包) beats the text's all being in the value (6包).
                let vq = quantities(norm);
                if !vq.is_empty() && vq.iter().all(|q| asked_q.contains(q)) {
                    hit = true;
                    len += 1000;
                } else if !asked_q.is_empty()
                    && !vq.is_empty()
                    && asked_q.iter().all(|q| vq.contains(q))
                {
                    hit = true;
                }
            }
            if !hit {
                // An English buyer's colour word for a Chinese value.
                hit = COLOURS
                    .iter()
                    .any(|(en, zh)| norm.starts_with(zh) && occurs(text, en));
            }
            if !hit {
                // An English buyer's flavour word for a Chinese value.
                hit = FLAVOURS
                    .iter()
                    .any(|(en, zh)| norm.contains(zh) && occurs(text, en));
            }
            if !hit {
                // 黑色 asked as 黑的 / 黑款.
                if let Some(stem) = norm.strip_suffix('色').filter(|s| !s.is_empty()) {
                    hit = ["的", "款", "色"]
                        .iter()
                        .any(|s| text.contains(&format!("{stem}{s}")))
                        || text.ends_with(stem);
                }
            }
            if hit {
                match best.iter_mut().find(|b| &b.0 == opt) {
                    Some(b) if b.2 < len => *b = (opt.clone(), value.clone(), len),
                    Some(_) => {}
                    None => best.push((opt.clone(), value.clone(), len)),
                }
            }
        }
        best.into_iter().map(|(o, v, _)| (o, v)).collect()
    }

    /// A colour, size, flavour or weight the message names that the item does
    /// not come in (卫衣有白色吗 of a hoodie made in grey, black and navy; XXL
    /// of one that stops at XL; 五香味, 3斤装): (what was asked, the option's
    /// values). An answer about the item's stock or price would otherwise let
    /// the buyer believe it exists. `None` when everything named is the item's.
    fn lacking(&self, item: usize, text: &str) -> Option<(String, Vec<String>)> {
        let values = &self.values[item];
        // The option named for it (颜色, 尺码, colour, size), else the one whose
        // every value is of the kind (not 轴体, whose 红轴 only starts red).
        let option_values = |names: &[&str], pick: &dyn Fn(&str) -> bool| -> Option<Vec<String>> {
            let mut options: Vec<&String> = Vec::new();
            for (o, _, _) in values {
                if !options.contains(&o) {
                    options.push(o);
                }
            }
            let of = |o: &String| -> Vec<&(String, String, String)> {
                values.iter().filter(|(x, _, _)| x == o).collect()
            };
            let named = options.iter().find(|o| {
                let o = o.to_lowercase();
                names.iter().any(|n| o.contains(n))
            });
            let opt = named.or_else(|| {
                options
                    .iter()
                    .find(|o| of(o).iter().all(|(_, _, n)| pick(n)))
            })?;
            Some(of(opt).iter().map(|(_, v, _)| v.clone()).collect())
        };
        let is_colour = |n: &str| COLOURS.iter().any(|(_, zh)| n.contains(zh)) || n.ends_with('色');
        if let Some(colours) = option_values(&["颜色", "色", "colour", "color"], &is_colour) {
            for zh in colours_named(text) {
                if !colours.iter().any(|v| v.contains(zh)) {
                    return Some((format!("{zh}色"), colours));
                }
            }
        }
        let is_size =
            |n: &str| !sizes_named(n).is_empty() || sizes_named(&format!("{n}码")).len() == 1;
        if let Some(sizes) = option_values(&["尺码", "码", "尺寸", "size"], &is_size) {
            for asked in sizes_named(text) {
                let has = sizes.iter().any(|v| {
                    let v = v.to_lowercase();
                    v == asked || v.strip_suffix('码') == Some(asked.as_str())
                });
                if !has {
                    let numbered = asked.starts_with(|c: char| c.is_ascii_digit());
                    let said = if numbered {
                        format!("{asked}码")
                    } else {
                        asked.to_uppercase()
                    };
                    return Some((said, sizes));
                }
            }
        }
        // Flavours and quantities: only when no value of the option was named
        // (两斤的 is 2斤装, not a 2斤 the item lacks).
        let named: Vec<String> = self
            .options_named(item, text)
            .into_iter()
            .map(|(o, _)| o)
            .collect();
        let unnamed = |vals: &[String]| {
            !values
                .iter()
                .any(|(o, v, _)| vals.contains(v) && named.contains(o))
        };
        let is_flavour = |n: &str| n.ends_with('味');
        if let Some(flavours) = option_values(&["口味", "味道", "flavour", "flavor"], &is_flavour)
        {
            if unnamed(&flavours) {
                for f in flavours_named(text) {
                    // 辣味 of 麻辣: the window's last character is enough.
                    let last = f.chars().next_back().map(String::from).unwrap_or_default();
                    let has = flavours.iter().any(|v| {
                        let stem = v.trim_end_matches('味');
                        v.contains(f) || v.contains(&last) || (!stem.is_empty() && f.contains(stem))
                    });
                    if !has {
                        return Some((format!("{f}味"), flavours));
                    }
                }
                // In English: "do you have strawberry" of a jerky sold spicy or plain.
                for (en, zh) in FLAVOURS {
                    if occurs(text, en) && !flavours.iter().any(|v| v.contains(zh)) {
                        return Some((en.to_string(), flavours));
                    }
                }
            }
        }
        // Weights and volumes only: 买3包 counts pieces, it names no spec.
        const MEASURES: &[char] = &['斤', '克', '公', 'g', 'k', 'm', 'l', '升', '毫'];
        let is_quantity = |n: &str| quantity(n).is_some_and(|(_, u)| MEASURES.contains(&u));
        if let Some(amounts) =
            option_values(&["规格", "重量", "净含量", "容量", "装"], &is_quantity)
        {
            let units: Vec<(char, String)> = amounts
                .iter()
                .filter_map(|v| {
                    let (_, u) =
                        quantity(&v.to_lowercase()).filter(|(_, u)| MEASURES.contains(u))?;
                    let a = measure::arabic(&v.to_lowercase());
                    let digits = a.chars().take_while(|c| c.is_ascii_digit()).count();
                    let suffix: String = a
                        .chars()
                        .skip(digits)
                        .take_while(|c| !c.is_whitespace())
                        .collect();
                    Some((u, suffix))
                })
                .collect();
            if unnamed(&amounts) {
                for (n, u) in quantities(text) {
                    if let Some((_, suffix)) = units.iter().find(|(vu, _)| *vu == u) {
                        return Some((format!("{n}{suffix}"), amounts));
                    }
                }
            }
        }
        None
    }

    /// "This item does not come in X": the values it does come in.
    fn not_made_in(asked: &str, values: &[String], en: bool) -> Answer {
        // An English buyer hears the colour in English (white, not 白色).
        let english = asked.strip_suffix('色').and_then(|stem| {
            COLOURS
                .iter()
                .find(|(_, zh)| *zh == stem)
                .map(|(en, _)| *en)
        });
        let asked = if en { english.unwrap_or(asked) } else { asked };
        Answer::Fact(if en {
            format!(
                "Sorry dear, this item doesn't come in {asked}. It comes in: {}.",
                values.join(", ")
            )
        } else {
            format!("亲，这款没有{asked}哦，有的是：{}～", values.join("、"))
        })
    }

    /// The answer to a question (see [`Query`]).
    pub fn answer(&self, q: &Query<'_>) -> Answer {
        let Some(i) = q.item else {
            return match q.ask {
                Ask::Promotion => match self.faq_answer(q, FAQ_FLOOR_OTHER) {
                    Some(a) => Answer::Fact(a),
                    None if self.has_shop_file => Answer::Fact(self.promotions_line(None, None, q)),
                    None => Answer::Pass,
                },
                a if a.needs_item() => match self.faq_answer(q, FAQ_FLOOR) {
                    Some(a) => Answer::Fact(a),
                    None => Answer::NeedItem,
                },
                Ask::Unread => self
                    .faq_answer(q, FAQ_FLOOR_OTHER)
                    .map_or(Answer::Pass, Answer::Fact),
                _ => self
                    .faq_answer(q, FAQ_FLOOR_OTHER)
                    .map_or(Answer::Pass, Answer::Fact),
            };
        };
        let item = &self.items[i];
        // Whether a variant is there, however the question was read: one the
        // item is not made in is said so; one it has gets its stock.
        if matches!(q.ask, Ask::Unread | Ask::Attribute) && asks_availability(q.text) {
            if let Some((asked, values)) = self.lacking(i, q.text) {
                return Self::not_made_in(&asked, &values, q.en);
            }
            if !self.options_named(i, q.text).is_empty() {
                return self.in_stock(item, i, q);
            }
        }
        match q.ask {
            Ask::Usage => match self.attribute(item, i, q, false) {
                Answer::Unknown(_) => Answer::Pass,
                a => a,
            },
            Ask::Unread
                if item.size_chart.is_some() && !measure::measurements(q.text).is_empty() =>
            {
                self.size(item, q)
            }
            Ask::Stock => self.stock(item, i, q),
            Ask::Price => self.price(item, i, q),
            Ask::Size => self.size(item, q),
            Ask::Attribute => self.attribute(item, i, q, true),
            Ask::Unread => self.attribute(item, i, q, false),
            // The shop's own answer first (会员有折扣吗), then the promotions in force.
            Ask::Promotion => match self.faq_answer(q, FAQ_FLOOR_OTHER) {
                Some(a) => Answer::Fact(a),
                None if self.has_shop_file => {
                    let price = self.single_price(item, &self.asked(i, q)).or(item.price);
                    Answer::Fact(self.promotions_line(Some(item), price, q))
                }
                None => Answer::Pass,
            },
            Ask::Other => self
                .faq_answer(q, FAQ_FLOOR_OTHER)
                .map_or(Answer::Pass, Answer::Fact),
        }
    }

    fn faq_answer(&self, q: &Query<'_>, floor: f32) -> Option<String> {
        let id = q.item.map(|i| (i, self.items[i].id.as_str()));
        let mut best: Option<(f32, Option<usize>, usize)> = None;
        for h in self.index.faq_search(q.text, id, floor) {
            if let Hit::Faq {
                item,
                faq,
                similarity,
            } = h
            {
                // The item's own answer wins a tie with the shop's.
                let s = similarity + if item.is_some() { 0.001 } else { 0.0 };
                if s >= floor && best.is_none_or(|b| s > b.0) {
                    best = Some((s, item, faq));
                }
            }
        }
        let (_, item, f) = best?;
        Some(match item {
            Some(i) => self.items[i].faq[f].a.clone(),
            None => self.faq[f].a.clone(),
        })
    }

    /// The options asked: named in the text, else selected on the page.
    fn asked(&self, i: usize, q: &Query<'_>) -> Vec<(String, String)> {
        let mut asked = self.options_named(i, q.text);
        for (o, v) in q.page_options {
            let known = self.values[i].iter().any(|(a, b, _)| a == o && b == v);
            if known && !asked.iter().any(|(a, _)| a == o) {
                asked.push((o.clone(), v.clone()));
            }
        }
        asked
    }

    fn stock(&self, item: &Item, i: usize, q: &Query<'_>) -> Answer {
        if let Some((asked, values)) = self.lacking(i, q.text) {
            return Self::not_made_in(&asked, &values, q.en);
        }
        self.in_stock(item, i, q)
    }

    /// The stock of what the message asks, every variant it names being the item's.
    fn in_stock(&self, item: &Item, i: usize, q: &Query<'_>) -> Answer {
        if item.variants.is_empty() || item.variants.iter().all(|v| v.stock.is_none()) {
            return self
                .faq_answer(q, FAQ_FLOOR)
                .map_or_else(|| Answer::Unknown("库存".into()), Answer::Fact);
        }
        let asked = self.asked(i, q);
        let fits = |v: &Variant| asked.iter().all(|a| v.options.contains(a));
        let matching: Vec<&Variant> = item.variants.iter().filter(|v| fits(v)).collect();
        let restock_asked = [
            "补货",
            "到货",
            "补吗",
            "什么时候有",
            "啥时候有",
            "几时有",
            "再有",
            "restock",
            "back in stock",
        ]
        .iter()
        .any(|w| q.text.contains(w));
        let label = if asked.is_empty() {
            if q.en {
                "it".to_string()
            } else {
                "这款".to_string()
            }
        } else {
            order_label(&asked, item)
        };
        // What else is there: in stock and sharing an asked value.
        let others = |exclude: &[&Variant]| -> Vec<String> {
            let mut near: Vec<&Variant> = item
                .variants
                .iter()
                .filter(|v| in_stock(v) && !exclude.contains(v))
                .filter(|v| asked.iter().any(|a| v.options.contains(a)))
                .collect();
            if near.is_empty() {
                near = item
                    .variants
                    .iter()
                    .filter(|v| in_stock(v) && !exclude.contains(v))
                    .collect();
            }
            near.iter().take(MAX_LISTED).map(|v| v.label()).collect()
        };
        if matching.is_empty() {
            let alt = others(&[]);
            return Answer::Fact(if q.en {
                let mut s = format!("Sorry dear, this item doesn't come in {label}.");
                if !alt.is_empty() {
                    s += &format!(" In stock now: {}.", alt.join(", "));
                }
                s
            } else {
                let mut s = format!("亲，这款没有{label}哦");
                if !alt.is_empty() {
                    s += &format!("，现在有货的有：{}", alt.join("、"));
                }
                s + "～"
            });
        }
        if matching.iter().any(|v| in_stock(v)) {
            let sold: Vec<&&Variant> = matching.iter().filter(|v| v.stock == Some(0)).collect();
            let unknown = matching.iter().any(|v| v.stock.is_none());
            if asked.is_empty() && (!sold.is_empty() || unknown) {
                // Some variants are out: say which.
                let soldl: Vec<String> = sold
                    .iter()
                    .take(MAX_LISTED)
                    .map(|v| with_restock(v, q.en))
                    .collect();
                let have: Vec<String> = matching
                    .iter()
                    .filter(|v| in_stock(v))
                    .take(MAX_LISTED)
                    .map(|v| v.label())
                    .collect();
                return Answer::Fact(if q.en {
                    let mut s = format!("Hi dear, in stock now: {}.", have.join(", "));
                    if !soldl.is_empty() {
                        s += &format!(" Sold out: {}.", soldl.join(", "));
                    }
                    s
                } else {
                    let mut s = format!(
                        "亲，{}有现货的哦，现在有货的有：{}",
                        item_name(item),
                        have.join("、")
                    );
                    if !soldl.is_empty() {
                        s += &format!("；{}暂时卖完了", soldl.join("、"));
                    }
                    s + "～"
                });
            }
            if matching.iter().all(|v| in_stock(v)) || !asked.is_empty() {
                let have: Vec<&&Variant> = matching.iter().filter(|v| in_stock(v)).collect();
                let partial = have.len() < matching.len() && !asked.is_empty();
                let listed = if partial {
                    have.iter()
                        .take(MAX_LISTED)
                        .map(|v| v.label())
                        .collect::<Vec<_>>()
                } else {
                    Vec::new()
                };
                return Answer::Fact(if q.en {
                    if partial {
                        format!("Hi dear, {label}: in stock are {}.", listed.join(", "))
                    } else if restock_asked {
                        format!("Hi dear, {label} is in stock right now, no need to wait!")
                    } else {
                        format!("Hi dear, {label} is in stock! Feel free to order.")
                    }
                } else if partial {
                    format!("亲，{label}现在有货的是：{}哦～", listed.join("、"))
                } else if restock_asked {
                    format!("亲，{label}现在就有现货哦，不用等补货，可以直接拍～")
                } else {
                    format!("亲，{label}有现货的哦，喜欢可以直接拍下～")
                });
            }
        }
        if matching.iter().all(|v| v.stock == Some(0)) {
            let dates: Vec<&str> = {
                let mut d: Vec<&str> = matching
                    .iter()
                    .filter_map(|v| v.restock.as_deref())
                    .collect();
                d.sort();
                d.dedup();
                d
            };
            if restock_asked && dates.is_empty() {
                return Answer::Unknown("补货时间".into());
            }
            let alt = others(&matching);
            let when = dates.first().map(|d| {
                if q.en {
                    format!(" It's expected back on {d}.")
                } else {
                    format!("，预计{d}补货")
                }
            });
            return Answer::Fact(if q.en {
                let mut s = format!(
                    "Sorry dear, {label} is sold out at the moment.{}",
                    when.unwrap_or_default()
                );
                if !alt.is_empty() {
                    s += &format!(" In stock now: {}.", alt.join(", "));
                }
                s
            } else {
                let mut s = format!("亲，{label}暂时卖完了呢{}", when.unwrap_or_default());
                if !alt.is_empty() {
                    s += &format!("；现在有货的有：{}，可以看看哦", alt.join("、"));
                }
                s + "～"
            });
        }
        Answer::Unknown("库存".into())
    }

    /// The one price of the asked variants, if they share one.
    fn single_price(&self, item: &Item, asked: &[(String, String)]) -> Option<f64> {
        let prices = prices(item, asked)?;
        (prices.len() == 1).then(|| prices[0].1)
    }

    fn price(&self, item: &Item, i: usize, q: &Query<'_>) -> Answer {
        if let Some((asked, values)) = self.lacking(i, q.text) {
            return Self::not_made_in(&asked, &values, q.en);
        }
        let asked = self.asked(i, q);
        let Some(list) = prices(item, &asked) else {
            return self
                .faq_answer(q, FAQ_FLOOR)
                .map_or_else(|| Answer::Unknown("价格".into()), Answer::Fact);
        };
        if list.is_empty() {
            return Answer::Fact(if q.en {
                format!(
                    "Sorry dear, this item doesn't come in {}.",
                    order_label(&asked, item)
                )
            } else {
                format!("亲，这款没有{}哦～", order_label(&asked, item))
            });
        }
        // A count of pieces (买两件, 3个): the total, when the unit price is one.
        let named_units: Vec<char> = self.values[i]
            .iter()
            .filter_map(|(_, _, n)| quantity(n).map(|q| q.1))
            .collect();
        let count = quantities(q.text).into_iter().find(|(n, u)| {
            *n > 1
                && *n <= 999
                && measure::UNITS.contains(u)
                && *u != '斤'
                && *u != '克'
                && !named_units.contains(u)
        });
        let what = if asked.is_empty() {
            item_name(item)
        } else {
            order_label(&asked, item)
        };
        let mut s;
        let mut amount = None;
        let one_price = {
            let mut d: Vec<f64> = list.iter().map(|l| l.1).collect();
            d.sort_by(f64::total_cmp);
            d.dedup();
            (d.len() == 1).then(|| d[0])
        };
        if let Some(p) = one_price {
            match count {
                Some((n, u)) => {
                    let total = p * n as f64;
                    amount = Some(total);
                    s = if q.en {
                        format!(
                            "Hi dear, {what} is ¥{} each, so {n} come to ¥{}.",
                            yuan(p),
                            yuan(total)
                        )
                    } else {
                        format!("亲，{what}单价{}元，{n}{u}一共{}元哦", yuan(p), yuan(total))
                    };
                }
                None => {
                    amount = Some(p);
                    s = if q.en {
                        format!("Hi dear, {what} is ¥{}.", yuan(p))
                    } else {
                        format!("亲，{what}的价格是{}元哦", yuan(p))
                    };
                }
            }
        } else {
            let mut distinct: Vec<f64> = list.iter().map(|l| l.1).collect();
            distinct.sort_by(f64::total_cmp);
            distinct.dedup();
            if distinct.len() == 1 {
                amount = Some(distinct[0]);
                s = if q.en {
                    format!("Hi dear, {what} is ¥{}.", yuan(distinct[0]))
                } else {
                    format!("亲，{what}的价格是{}元哦", yuan(distinct[0]))
                };
            } else if let Some(base) = item.price.filter(|_| asked.is_empty()) {
                // The item's price, and the variants that differ from it.
                let own: Vec<String> = item
                    .variants
                    .iter()
                    .filter_map(|v| {
                        v.price
                            .filter(|p| *p != base)
                            .map(|p| format!("{} {}", v.label(), yuan(p)))
                    })
                    .take(MAX_LISTED)
                    .collect();
                amount = Some(base);
                s = if q.en {
                    format!(
                        "Hi dear, {what} is ¥{}; {} (yuan).",
                        yuan(base),
                        own.join(", ")
                    )
                } else {
                    format!(
                        "亲，{what}的价格是{}元，{}元哦",
                        yuan(base),
                        own.join("元，")
                    )
                };
            } else if list.len() <= MAX_LISTED {
                let parts: Vec<String> = list
                    .iter()
                    .map(|(l, p)| format!("{l} {}", yuan(*p)))
                    .collect();
                s = if q.en {
                    format!("Hi dear, prices: {} (yuan).", parts.join(", "))
                } else {
                    format!("亲，{}：{}元哦", item_name(item), parts.join("元，"))
                };
            } else {
                let (lo, hi) = (distinct[0], distinct[distinct.len() - 1]);
                s = if q.en {
                    format!(
                        "Hi dear, {what} is ¥{}–{} depending on the option you choose.",
                        yuan(lo),
                        yuan(hi)
                    )
                } else {
                    format!(
                        "亲，{what}的价格是{}–{}元，看您选的款式哦",
                        yuan(lo),
                        yuan(hi)
                    )
                };
            }
        }
        let promo = self.promotion_notes(Some(item), amount, q);
        if !promo.is_empty() {
            s += &if q.en {
                format!(" {}", promo.join(" "))
            } else {
                format!("；{}", promo.join("；"))
            };
        }
        if !q.en {
            s += "～";
        }
        Answer::Fact(s)
    }

    /// What each promotion in force means for `amount` (yuan about to be spent).
    fn promotion_notes(
        &self,
        item: Option<&Item>,
        amount: Option<f64>,
        q: &Query<'_>,
    ) -> Vec<String> {
        let id = item.map(|i| i.id.as_str());
        self.promotions
            .iter()
            .filter(|p| p.applies(q.now, id))
            .map(|p| match (&p.kind, amount) {
                (PromotionKind::Discount { threshold, off }, Some(a)) if a >= *threshold => {
                    if q.en {
                        format!(
                            "\"{}\" applies: ¥{} off, ¥{} to pay.",
                            p.name,
                            yuan(*off),
                            yuan(a - off)
                        )
                    } else {
                        format!(
                            "可用「{}」立减{}元，到手{}元",
                            p.name,
                            yuan(*off),
                            yuan(a - off)
                        )
                    }
                }
                (PromotionKind::Discount { threshold, off }, Some(a)) => {
                    if q.en {
                        format!(
                            "With \"{}\", spend ¥{} more to get ¥{} off.",
                            p.name,
                            yuan(threshold - a),
                            yuan(*off)
                        )
                    } else {
                        format!(
                            "「{}」再买{}元就能减{}元",
                            p.name,
                            yuan(threshold - a),
                            yuan(*off)
                        )
                    }
                }
                (PromotionKind::Discount { threshold, off }, None) => {
                    if q.en {
                        format!(
                            "\"{}\": ¥{} off orders of ¥{} or more.",
                            p.name,
                            yuan(*off),
                            yuan(*threshold)
                        )
                    } else {
                        format!("「{}」：满{}元减{}元", p.name, yuan(*threshold), yuan(*off))
                    }
                }
                (PromotionKind::Gift { buy, gift }, _) => {
                    if q.en {
                        format!("\"{}\": buy {buy}, get {gift} free.", p.name)
                    } else {
                        format!("「{}」：买{buy}件送{gift}", p.name)
                    }
                }
            })
            .collect()
    }

    fn promotions_line(&self, item: Option<&Item>, price: Option<f64>, q: &Query<'_>) -> String {
        let notes = self.promotion_notes(item, price, q);
        if notes.is_empty() {
            return if q.en {
                "Hi dear, there is no promotion running at the moment.".to_string()
            } else {
                "亲，目前店里暂时没有进行中的活动哦～".to_string()
            };
        }
        if q.en {
            format!("Hi dear, current promotions: {}", notes.join(" "))
        } else {
            format!("亲，现在的活动有：{}～", notes.join("；"))
        }
    }

    fn size(&self, item: &Item, q: &Query<'_>) -> Answer {
        let found = measure::measurements(q.text);
        let fit_asked = [
            "偏大",
            "偏小",
            "正码",
            "标准码",
            "尺码准",
            "码数准",
            "宽松",
            "修身",
            "run small",
            "run large",
            "true to size",
        ]
        .iter()
        .any(|w| q.text.contains(w));
        let Some(chart) = &item.size_chart else {
            return self
                .faq_answer(q, FAQ_FLOOR)
                .map_or_else(|| Answer::Unknown("尺码建议".into()), Answer::Fact);
        };
        let note = chart.note.as_deref();
        if found.is_empty() {
            if let Some(a) = self.faq_answer(q, FAQ_FLOOR) {
                return Answer::Fact(a);
            }
            return match (note, fit_asked) {
                (Some(n), _) => Answer::Fact(if q.en {
                    format!("Hi dear, about the fit: {n}. Tell me your height and weight and I'll suggest a size.")
                } else {
                    format!("亲，{n}哦；告诉我您的身高体重，帮您推荐尺码～")
                }),
                (None, true) => Answer::Unknown("尺码偏大还是偏小".into()),
                (None, false) => Answer::Fact(if q.en {
                    "Hi dear, tell me your height and weight (or foot length) and I'll check the size chart for you.".into()
                } else {
                    "亲，告诉我您的身高和体重（或脚长），小二帮您对照尺码表推荐哦～".into()
                }),
            };
        }
        // Per measurement with a column: the rows that hold it (the larger
        // size on a boundary row, as most charts' notes advise).
        let mut picks: Vec<(Measure, f64, usize)> = Vec::new();
        for &(m, v) in &found {
            for (c, kind) in chart.kinds.iter().enumerate() {
                let value = match (m, kind) {
                    (Measure::Height, Column::Height) | (Measure::Foot, Column::Foot) => v,
                    (Measure::Weight, Column::Weight(kg)) => {
                        if *kg {
                            v / 2.0
                        } else {
                            v
                        }
                    }
                    _ => continue,
                };
                let row = chart
                    .rows
                    .iter()
                    .rposition(|(_, r)| r[c].is_some_and(|(lo, hi)| value >= lo && value <= hi));
                match row {
                    Some(r) => picks.push((m, v, r)),
                    None => return Answer::Unknown(format!("{}，超出尺码表", said(&found))),
                }
            }
        }
        if picks.is_empty() {
            return Answer::Unknown(format!("{}（尺码表没有这一项）", said(&found)));
        }
        let best = picks.iter().map(|p| p.2).max().expect("not empty");
        let size = &chart.rows[best].0;
        let differ = picks.iter().any(|p| p.2 != best);
        let mut s = if q.en {
            let mut s = format!("Hi dear, for {} I'd suggest size {size}.", said_en(&found));
            if differ {
                s = format!("Hi dear, for {} the chart gives different sizes, so I'd go for the larger one: {size}.", said_en(&found));
            }
            s
        } else if differ {
            let per: Vec<String> = picks
                .iter()
                .map(|(m, _, r)| format!("按{}是{}", measure_name(*m), chart.rows[*r].0))
                .collect();
            format!(
                "亲，{}，{}，建议选大一点的{size}码哦",
                said(&found),
                per.join("、")
            )
        } else {
            format!("亲，{}建议穿{size}码哦", said(&found))
        };
        if let Some(n) = note {
            s += &if q.en {
                format!(" Note: {n}.")
            } else {
                format!("（{n}）")
            };
        }
        if !q.en {
            s += "～";
        }
        Answer::Fact(s)
    }

    fn attribute(&self, item: &Item, i: usize, q: &Query<'_>, asked: bool) -> Answer {
        // The item's own name is not a question about it (牛肉干哪里产的
        // asks where, not what 牛肉 is in).
        let mut text = q.text.to_string();
        for w in &self.own_words[i] {
            text = text.replace(w.as_str(), " ");
        }
        let hits = self.index.search(&text, Some((i, item.id.as_str())));
        let mut best_faq: Option<(f32, Option<usize>, usize)> = None;
        let mut best_attr: Option<(usize, Option<usize>, Option<usize>)> = None; // (rank, attr, concept)
        let mut value: Option<usize> = None;
        let valued: Vec<usize> = hits
            .iter()
            .filter_map(|h| match h {
                Hit::Value { attr } => Some(*attr),
                _ => None,
            })
            .collect();
        for h in &hits {
            match *h {
                Hit::Faq {
                    item: it,
                    faq,
                    similarity,
                } => {
                    let s = similarity + if it.is_some() { 0.001 } else { 0.0 };
                    if best_faq.is_none_or(|b| s > b.0) {
                        best_faq = Some((s, it, faq));
                    }
                }
                Hit::Attribute { attr, concept, len } => {
                    // A phrase the item has beats one it lacks; one whose
                    // value shares a word with the question beats the rest;
                    // then the longer.
                    let rank = len
                        + if attr.is_some() { 100 } else { 0 }
                        + if attr.is_some_and(|a| valued.contains(&a)) {
                            50
                        } else {
                            0
                        };
                    if best_attr.is_none_or(|b| rank > b.0) {
                        best_attr = Some((rank, attr, concept));
                    }
                }
                Hit::Value { attr } => {
                    // A value that shares a word: as strong as a named key.
                    if best_attr.is_none_or(|b| b.0 < 150) {
                        best_attr = Some((150, Some(attr), None));
                    }
                    value.get_or_insert(attr);
                }
            }
        }
        let floor = if asked { FAQ_FLOOR } else { FAQ_FLOOR_OTHER };
        if let Some((s, it, f)) = best_faq {
            if s >= floor {
                return Answer::Fact(match it {
                    Some(k) => self.items[k].faq[f].a.clone(),
                    None => self.faq[f].a.clone(),
                });
            }
        }
        let say = |a: usize| {
            let (k, v) = &item.attributes[a];
            Answer::Fact(if q.en {
                format!("Hi dear, {k}: {v}.")
            } else {
                format!("亲，这款的{k}是：{v}哦～")
            })
        };
        match best_attr {
            Some((_, Some(a), _)) => say(a),
            // A property the buyer names that the file does not have.
            Some((_, None, Some(c))) if value.is_none() => {
                Answer::Unknown(self.index.concepts[c].name().to_string())
            }
            _ => match value {
                Some(a) => say(a),
                None if asked => Answer::Unknown(String::new()),
                None => Answer::Pass,
            },
        }
    }
}

fn in_stock(v: &Variant) -> bool {
    v.stock.is_some_and(|s| s > 0)
}

/// The item as replies name it: its first name, else its title.
fn item_name(item: &Item) -> String {
    item.names.first().unwrap_or(&item.title).clone()
}

/// The asked values in the order of the item's options ("黑色 L").
fn order_label(asked: &[(String, String)], item: &Item) -> String {
    let order: Vec<&String> = item
        .variants
        .first()
        .map(|v| v.options.iter().map(|(o, _)| o).collect())
        .unwrap_or_default();
    let mut a: Vec<&(String, String)> = asked.iter().collect();
    a.sort_by_key(|(o, _)| order.iter().position(|x| *x == o).unwrap_or(usize::MAX));
    a.iter()
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn with_restock(v: &Variant, en: bool) -> String {
    match (&v.restock, en) {
        (Some(d), false) => format!("{}（预计{d}补货）", v.label()),
        (Some(d), true) => format!("{} (back on {d})", v.label()),
        (None, _) => v.label(),
    }
}

/// (label, price) of the variants fitting `asked` (the item's price when it
/// has no variants); `None` when one of them has no price in the file.
fn prices(item: &Item, asked: &[(String, String)]) -> Option<Vec<(String, f64)>> {
    if item.variants.is_empty() {
        return if asked.is_empty() {
            item.price.map(|p| vec![(String::new(), p)])
        } else {
            Some(Vec::new())
        };
    }
    item.variants
        .iter()
        .filter(|v| asked.iter().all(|a| v.options.contains(a)))
        .map(|v| v.price.or(item.price).map(|p| (v.label(), p)))
        .collect()
}

fn measure_name(m: Measure) -> &'static str {
    match m {
        Measure::Height => "身高",
        Measure::Weight => "体重",
        Measure::Foot => "脚长",
    }
}

/// The measurements as the reply repeats them: 身高175cm、体重140斤.
fn said(found: &[(Measure, f64)]) -> String {
    found
        .iter()
        .map(|(m, v)| match m {
            Measure::Height => format!("身高{}cm", yuan(*v)),
            Measure::Weight => format!("体重{}斤", yuan(*v)),
            Measure::Foot => format!("脚长{}cm", yuan(*v)),
        })
        .collect::<Vec<_>>()
        .join("、")
}

fn said_en(found: &[(Measure, f64)]) -> String {
    found
        .iter()
        .map(|(m, v)| match m {
            Measure::Height => format!("{} cm tall", yuan(*v)),
            Measure::Weight => format!("{} kg", yuan(v / 2.0)),
            Measure::Foot => format!("a {} cm foot", yuan(*v)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod named_tests {
    use super::*;

    #[test]
    fn colours_sizes_and_flavours_a_message_names() {
        // (normalised text, colours, sizes, flavours)
        let rows: &[(&str, &[&str], &[&str], &[&str])] = &[
            ("有白色吗", &["白"], &[], &[]),
            ("黑的m码有吗", &["黑"], &["m"], &[]),
            ("1.5米的床多少钱", &[], &[], &[]),
            ("粉的能冲几杯", &[], &[], &[]),
            ("do you have it in red", &["红"], &[], &[]),
            ("it's for my mum, is the m in stock?", &[], &["m"], &[]),
            ("xxl有吗", &[], &["xxl"], &[]),
            ("3xl和xs呢", &[], &["3xl", "xs"], &[]),
            ("38码还有吗", &[], &["38"], &[]),
            ("500ml的多少钱", &[], &[], &[]),
            ("有五香味的吗", &[], &[], &["五香"]),
            ("是酸味吗", &[], &[], &["酸"]),
            ("有异味吗", &[], &[], &[]),
            ("什么味的", &[], &[], &[]),
            ("香味重吗", &[], &[], &[]),
            ("口味怎么样", &[], &[], &[]),
        ];
        for (text, colours, sizes, flavours) in rows {
            assert_eq!(colours_named(text), *colours, "{text}");
            assert_eq!(sizes_named(text), *sizes, "{text}");
            assert_eq!(flavours_named(text), *flavours, "{text}");
        }
    }
}
