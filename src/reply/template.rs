//! Reply templates: text with `{name}` slots filled from the shop's facts and the
//! message's item. `{{` and `}}` write literal braces.

use crate::config::Facts;

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Text(String),
    Var(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    segs: Vec<Seg>,
}

impl Template {
    /// Parses a template; an unclosed or malformed `{...}` is an error.
    pub fn parse(s: &str) -> Result<Template, String> {
        let mut segs = Vec::new();
        let mut text = String::new();
        let mut chars = s.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|&(_, n)| n) == Some('{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek().map(|&(_, n)| n) == Some('}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let rest = &s[i + 1..];
                    let Some(end) = rest.find('}') else {
                        return Err(format!(
                            "unclosed {{ at character {}: write {{name}}, or {{{{ for a brace",
                            s[..i].chars().count() + 1
                        ));
                    };
                    let name = &rest[..end];
                    if name.is_empty()
                        || !name
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
                    {
                        return Err(format!(
                            "{{{name}}} is not a variable name: use lower-case letters and _"
                        ));
                    }
                    if !text.is_empty() {
                        segs.push(Seg::Text(std::mem::take(&mut text)));
                    }
                    segs.push(Seg::Var(name.to_string()));
                    for _ in 0..name.chars().count() + 1 {
                        chars.next();
                    }
                }
                '}' => return Err("a lone } : write }} for a brace".to_string()),
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            segs.push(Seg::Text(text));
        }
        Ok(Template { segs })
    }

    /// The variable names used.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.segs.iter().filter_map(|s| match s {
            Seg::Var(v) => Some(v.as_str()),
            Seg::Text(_) => None,
        })
    }

    /// True when the template has no text and no variables.
    pub fn is_blank(&self) -> bool {
        self.segs
            .iter()
            .all(|s| matches!(s, Seg::Text(t) if t.trim().is_empty()))
    }

    /// Fills the slots. `item` replaces `{item}` when the buyer named one;
    /// otherwise the facts' `item` ("这款宝贝") is used.
    pub fn render(&self, facts: &Facts, item: Option<&str>) -> String {
        let mut out = String::new();
        for s in &self.segs {
            match s {
                Seg::Text(t) => out.push_str(t),
                Seg::Var(v) if v == "item" => match item {
                    Some(i) => out.push_str(i),
                    None => out.push_str(facts.get("item").map_or("", String::as_str)),
                },
                Seg::Var(v) => out.push_str(facts.get(v).map_or("", String::as_str)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let mut f = Facts::new();
        f.insert("ship_hours".into(), "48".into());
        f.insert("item".into(), "这款宝贝".into());
        let rows: &[(&str, Option<&str>, &str)] = &[
            ("亲，{ship_hours}小时内发货哦", None, "亲，48小时内发货哦"),
            ("亲，{item}有现货呢", Some("卫衣"), "亲，卫衣有现货呢"),
            ("亲，{item}有现货呢", None, "亲，这款宝贝有现货呢"),
            ("{{literal}}", None, "{literal}"),
        ];
        for (t, item, want) in rows {
            assert_eq!(Template::parse(t).unwrap().render(&f, *item), *want, "{t}");
        }
    }

    #[test]
    fn buyer_text_is_never_template_syntax() {
        let f = Facts::new();
        let t = Template::parse("亲，{item}呢").unwrap();
        assert_eq!(t.render(&f, Some("{ship_hours}")), "亲，{ship_hours}呢");
    }

    #[test]
    fn errors() {
        for bad in ["{unclosed", "lone }", "{Bad Name}", "{}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
