//! `xiaoer catalog import` / `export`: a shop's ERP export (CSV, one row per
//! SKU) to catalog files (`../shared/catalog.md`) and back. Pure conversions
//! on text here; the command line reads and writes the files.
//!
//! Columns (header row, English or Chinese names): `item_id` (商品ID),
//! `title` (标题), `options` (规格: `颜色:白色;尺码:M`), `price` (价格),
//! `stock` (库存); optional `restock` (补货日期, YYYY-MM-DD) and `names`
//! (别名, separated by `;`). Every other column is an attribute of the item
//! (its first non-empty value). Size charts, FAQ entries and promotions have
//! no place in a SKU table: edit them in the files.

use crate::nlu::knowledge::{measure, Item, Knowledge, Variant};
use std::collections::BTreeMap;

/// Largest CSV accepted (a 10,000-item ERP export is a few MB).
pub const MAX_CSV_BYTES: usize = 64 * 1024 * 1024;

/// A row the import could not read: its 1-based line and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// Line of the CSV file.
    pub line: usize,
    /// What is wrong.
    pub why: String,
}

/// Splits CSV text into records with the line each starts on (RFC 4180:
/// quoted fields with `""`, commas and newlines inside quotes). Linear.
pub fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, BadRow> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut rec = Vec::new();
    let mut line = 1;
    let mut start = 1;
    let mut quoted = false;
    let mut chars = text
        .strip_prefix('\u{feff}')
        .unwrap_or(text)
        .chars()
        .peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => {
                rec.push(std::mem::take(&mut field));
                any = true;
            }
            '\r' => {}
            '\n' => {
                rec.push(std::mem::take(&mut field));
                if any || rec.iter().any(|f| !f.is_empty()) {
                    out.push((start, std::mem::take(&mut rec)));
                }
                rec.clear();
                any = false;
                line += 1;
                start = line;
            }
            c => {
                field.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err(BadRow {
            line: start,
            why: "a quoted field is not closed".into(),
        });
    }
    if any || !field.is_empty() {
        rec.push(field);
        out.push((start, rec));
    }
    Ok(out)
}

/// The column names each field may have.
const COLUMNS: &[(&str, &[&str])] = &[
    (
        "item_id",
        &["item_id", "id", "商品id", "商品编码", "宝贝id"],
    ),
    ("title", &["title", "标题", "商品名称", "宝贝标题"]),
    ("options", &["options", "规格", "销售属性", "sku属性"]),
    ("price", &["price", "价格", "售价"]),
    ("stock", &["stock", "库存", "可售库存"]),
    ("restock", &["restock", "补货日期", "到货日期"]),
    ("names", &["names", "别名", "简称"]),
];

/// A column written `属性:NAME` (or `attr:NAME`) is the attribute NAME even
/// when NAME is a column name (规格 is both an option column and a common
/// attribute).
const ATTRIBUTE_PREFIXES: [&str; 3] = ["属性:", "属性：", "attr:"];

fn attribute_name(header: &str) -> &str {
    let h = header.trim();
    ATTRIBUTE_PREFIXES
        .iter()
        .find_map(|p| h.strip_prefix(p))
        .map_or(h, str::trim)
}

fn column(name: &str) -> Option<&'static str> {
    if ATTRIBUTE_PREFIXES
        .iter()
        .any(|p| name.trim().starts_with(p))
    {
        return None;
    }
    let n = name.trim().to_lowercase();
    COLUMNS
        .iter()
        .find(|(_, forms)| forms.contains(&n.as_str()))
        .map(|(k, _)| *k)
}

/// `颜色:白色;尺码:M` (also `：`, `；`, `=`) → pairs.
fn options(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in s
        .split([';', '；'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let Some((k, v)) = part.split_once([':', '：', '=']) else {
            return Err(format!(
                "option {part:?} is not name:value (颜色:白色;尺码:M)"
            ));
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || v.is_empty() {
            return Err(format!("option {part:?} has an empty name or value"));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// The CSV's items as catalog files `(file name, TOML)`, and the rows it
/// could not read. Rows of one item need not be adjacent.
pub fn import(text: &str) -> Result<(Vec<(String, String)>, Vec<BadRow>), BadRow> {
    let recs = records(text)?;
    let Some(((hline, header), rows)) = recs.split_first() else {
        return Err(BadRow {
            line: 1,
            why: "the file is empty: a header row is needed".into(),
        });
    };
    let kinds: Vec<Option<&str>> = header.iter().map(|h| column(h)).collect();
    for need in ["item_id", "title"] {
        if !kinds.contains(&Some(need)) {
            return Err(BadRow {
                line: *hline,
                why: format!("no {need} column (header: {})", header.join(",")),
            });
        }
    }
    let mut bad = Vec::new();
    let mut items: Vec<Item> = Vec::new();
    for (line, row) in rows {
        let line = *line;
        if row.len() != header.len() {
            bad.push(BadRow {
                line,
                why: format!("{} fields for {} columns", row.len(), header.len()),
            });
            continue;
        }
        let get = |k: &str| {
            kinds
                .iter()
                .position(|c| *c == Some(k))
                .map(|i| row[i].trim())
        };
        let id = get("item_id").unwrap_or_default();
        let title = get("title").unwrap_or_default();
        if id.is_empty() || title.is_empty() {
            bad.push(BadRow {
                line,
                why: "no item id or title".into(),
            });
            continue;
        }
        let price = match get("price").filter(|p| !p.is_empty()) {
            None => None,
            Some(p) => match p.trim_start_matches(['¥', '￥']).parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
                _ => {
                    bad.push(BadRow {
                        line,
                        why: format!("price {p:?} is not a number of yuan"),
                    });
                    continue;
                }
            },
        };
        let stock = match get("stock").filter(|p| !p.is_empty()) {
            None => None,
            Some(p) => match p.parse::<u64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    bad.push(BadRow {
                        line,
                        why: format!("stock {p:?} is not a count"),
                    });
                    continue;
                }
            },
        };
        let restock = get("restock").filter(|p| !p.is_empty()).map(str::to_string);
        if let Some(r) = &restock {
            if measure::date(r).is_none() {
                bad.push(BadRow {
                    line,
                    why: format!("restock {r:?} is not a date YYYY-MM-DD"),
                });
                continue;
            }
        }
        let opts = match options(get("options").unwrap_or_default()) {
            Ok(o) => o,
            Err(e) => {
                bad.push(BadRow { line, why: e });
                continue;
            }
        };
        let k = match items.iter().position(|i| i.id == id) {
            Some(k) => {
                if items[k].title != title {
                    bad.push(BadRow {
                        line,
                        why: format!(
                            "item {id:?} has the title {:?} on an earlier row",
                            items[k].title
                        ),
                    });
                    continue;
                }
                k
            }
            None => {
                items.push(Item {
                    id: id.to_string(),
                    title: title.to_string(),
                    names: Vec::new(),
                    price: None,
                    attributes: Vec::new(),
                    variants: Vec::new(),
                    size_chart: None,
                    faq: Vec::new(),
                    file: String::new(),
                });
                items.len() - 1
            }
        };
        let it = &mut items[k];
        if let Some(n) = get("names") {
            for n in n
                .split([';', '；'])
                .map(str::trim)
                .filter(|n| !n.is_empty())
            {
                if !it.names.iter().any(|x| x == n) {
                    it.names.push(n.to_string());
                }
            }
        }
        for (c, kind) in kinds.iter().enumerate() {
            let v = row[c].trim();
            let name = attribute_name(&header[c]);
            if kind.is_none() && !v.is_empty() && !it.attributes.iter().any(|(a, _)| a == name) {
                it.attributes.push((name.to_string(), v.to_string()));
            }
        }
        if it.variants.iter().any(|v| v.options == opts) {
            bad.push(BadRow {
                line,
                why: format!("a second row for item {id:?} with the same options"),
            });
            continue;
        }
        if opts.is_empty() && !it.variants.is_empty()
            || it.variants.iter().any(|v| v.options.is_empty())
        {
            bad.push(BadRow {
                line,
                why: format!("item {id:?} has rows with and without options"),
            });
            continue;
        }
        it.variants.push(Variant {
            options: opts,
            stock,
            price,
            restock,
        });
    }
    let files = items
        .iter()
        .map(|it| (format!("{}.toml", file_stem(&it.id)), to_toml(it)))
        .collect();
    Ok((files, bad))
}

/// A file name for an item id: letters, digits, `-` and `_` kept, the rest `_`.
fn file_stem(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn num(v: f64) -> String {
    let s = format!("{v}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

/// An item as a catalog file. Variants that all share one price carry it on
/// the item; otherwise the most common price is the item's and the others
/// stay on their variants.
pub fn to_toml(it: &Item) -> String {
    let mut counts: Vec<(f64, usize)> = Vec::new();
    for v in &it.variants {
        if let Some(p) = v.price.or(it.price) {
            match counts.iter_mut().find(|c| c.0 == p) {
                Some(c) => c.1 += 1,
                None => counts.push((p, 1)),
            }
        }
    }
    let base = it
        .price
        .or_else(|| counts.iter().max_by_key(|c| c.1).map(|c| c.0));
    let mut t = format!("id = {}\ntitle = {}\n", q(&it.id), q(&it.title));
    if !it.names.is_empty() {
        let n: Vec<String> = it.names.iter().map(|n| q(n)).collect();
        t += &format!("names = [{}]\n", n.join(", "));
    }
    if let Some(p) = base {
        t += &format!("price = {}\n", num(p));
    }
    if !it.attributes.is_empty() {
        t += "\n[attributes]\n";
        for (k, v) in &it.attributes {
            t += &format!("{} = {}\n", q(k), q(v));
        }
    }
    for v in &it.variants {
        t += "\n[[variants]]\n";
        let o: Vec<String> = v
            .options
            .iter()
            .map(|(k, x)| format!("{} = {}", q(k), q(x)))
            .collect();
        t += &format!("options = {{ {} }}\n", o.join(", "));
        if let Some(s) = v.stock {
            t += &format!("stock = {s}\n");
        }
        if let Some(p) = v.price.or(it.price).filter(|p| Some(*p) != base) {
            t += &format!("price = {}\n", num(p));
        }
        if let Some(r) = &v.restock {
            t += &format!("restock = {}\n", q(r));
        }
    }
    t
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The catalog as CSV, one row per variant (an item without variants: one
/// row), in the columns [`import`] reads; attributes as extra columns.
pub fn export(k: &Knowledge) -> String {
    let mut attrs: Vec<String> = Vec::new();
    for it in &k.items {
        for (a, _) in &it.attributes {
            if !attrs.contains(a) {
                attrs.push(a.clone());
            }
        }
    }
    let mut out = String::from("item_id,title,names,options,price,stock,restock");
    for a in &attrs {
        out.push(',');
        let name = if column(a).is_some() || ATTRIBUTE_PREFIXES.iter().any(|p| a.starts_with(p)) {
            format!("{}{a}", ATTRIBUTE_PREFIXES[0])
        } else {
            a.clone()
        };
        out.push_str(&csv_field(&name));
    }
    out.push('\n');
    let none = [Variant {
        options: Vec::new(),
        stock: None,
        price: None,
        restock: None,
    }];
    for it in &k.items {
        let by: BTreeMap<&str, &str> = it
            .attributes
            .iter()
            .map(|(a, v)| (a.as_str(), v.as_str()))
            .collect();
        let variants: &[Variant] = if it.variants.is_empty() {
            &none
        } else {
            &it.variants
        };
        for v in variants {
            let opts: Vec<String> = v.options.iter().map(|(a, b)| format!("{a}:{b}")).collect();
            let cells = [
                it.id.clone(),
                it.title.clone(),
                it.names.join(";"),
                opts.join(";"),
                v.price
                    .or(it.price)
                    .map(|p| format!("{p}"))
                    .unwrap_or_default(),
                v.stock.map(|s| s.to_string()).unwrap_or_default(),
                v.restock.clone().unwrap_or_default(),
            ];
            let row: Vec<String> = cells
                .iter()
                .map(|c| csv_field(c))
                .chain(
                    attrs
                        .iter()
                        .map(|a| csv_field(by.get(a.as_str()).copied().unwrap_or(""))),
                )
                .collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nlu::normalize::Normalizer;

    const CSV: &str = "商品ID,标题,规格,价格,库存,补货日期,面料,产地\n\
a-1,白色T恤,颜色:白色;尺码:M,59,10,,纯棉,广州\n\
a-1,白色T恤,颜色:白色;尺码:L,59,0,2026-12-10,,\n\
a-1,白色T恤,颜色:黑色;尺码:L,69,3,,,\n\
b-2,\"帆布包, 大号\",,39.9,5,,\"帆布，\"\"加厚\"\"\",\n\
c-3,坏行,颜色白色,10,1,,,\n\
d-4,坏价格,,十块,1,,,\n\
e-5,少一列,,1\n\
a-1,白色T恤,颜色:白色;尺码:XL,59,2,12月10日,,\n";

    #[test]
    fn import_reads_skus_and_reports_bad_rows_by_line() {
        let (files, bad) = import(CSV).unwrap();
        let lines: Vec<usize> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, [6, 7, 8, 9], "{bad:?}");
        assert_eq!(files.len(), 2);
        let k = Knowledge::parse(&files, &Normalizer::new(&[])).unwrap();
        let a = &k.items[k.item_by_id("a-1").unwrap()];
        assert_eq!(a.price, Some(59.0));
        assert_eq!(a.variants.len(), 3);
        assert_eq!(a.variants[2].price, Some(69.0));
        assert_eq!(a.variants[1].restock.as_deref(), Some("2026-12-10"));
        assert_eq!(
            a.attributes,
            [
                ("面料".to_string(), "纯棉".to_string()),
                ("产地".to_string(), "广州".to_string())
            ]
        );
        let b = &k.items[k.item_by_id("b-2").unwrap()];
        assert_eq!(b.title, "帆布包, 大号");
        assert_eq!(b.attributes[0].1, "帆布，\"加厚\"");
    }

    #[test]
    fn export_then_import_gives_the_same_catalog() {
        let norm = Normalizer::new(&[]);
        let demo = crate::embedded::demo_catalog();
        let k = Knowledge::parse(&demo, &norm).unwrap();
        let csv = export(&k);
        let (files, bad) = import(&csv).unwrap();
        assert!(bad.is_empty(), "{bad:?}");
        let back = Knowledge::parse(&files, &norm).unwrap();
        assert_eq!(back.items.len(), k.items.len());
        for it in &k.items {
            let b = &back.items[back.item_by_id(&it.id).unwrap()];
            // Attributes come back in the CSV's column order.
            let sorted = |a: &[(String, String)]| {
                let mut a = a.to_vec();
                a.sort();
                a
            };
            assert_eq!(
                (&b.title, &b.names, sorted(&b.attributes)),
                (&it.title, &it.names, sorted(&it.attributes)),
                "{}",
                it.id
            );
            assert_eq!(b.variants.len(), it.variants.len(), "{}", it.id);
            for (x, y) in b.variants.iter().zip(&it.variants) {
                assert_eq!(
                    (&x.options, x.stock, &x.restock),
                    (&y.options, y.stock, &y.restock),
                    "{}",
                    it.id
                );
                assert_eq!(x.price.or(b.price), y.price.or(it.price), "{}", it.id);
            }
        }
        assert_eq!(export(&back), csv);
    }

    #[test]
    fn csv_records_follow_rfc_4180() {
        let r = records("a,\"b,\"\"c\"\"\nd\",e\r\n\r\nx,y,z").unwrap();
        assert_eq!(
            r,
            vec![
                (1, vec!["a".into(), "b,\"c\"\nd".into(), "e".into()]),
                (4, vec!["x".into(), "y".into(), "z".into()])
            ]
        );
        assert_eq!(records("a,\"open\n").unwrap_err().line, 1);
    }
}
