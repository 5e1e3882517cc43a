//! Table tests of the catalog: loading errors with file:line, and one row per
//! kind of question with the fact the answer must state.

use super::*;
use crate::normalize::Normalizer;

fn files(dir: &str) -> Vec<(String, String)> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/catalog/");
    let mut out: Vec<(String, String)> = std::fs::read_dir(format!("{root}{dir}"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            (
                format!("catalog/{}", p.file_name().unwrap().to_string_lossy()),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn fashion() -> (Knowledge, Normalizer) {
    let norm = Normalizer::new(&[]);
    (Knowledge::parse(&files("fashion"), &norm).unwrap(), norm)
}

/// 2026-11-22T10:00:00+08:00: inside the 满299减30 window.
const IN_WINDOW: i64 = 1_795_312_800;

fn ask(k: &Knowledge, norm: &Normalizer, item: Option<&str>, ask: Ask, text: &str) -> Answer {
    let t = norm.normalize(text);
    k.answer(&Query {
        text: &t,
        ask,
        item: item.and_then(|i| k.item_by_id(i)),
        page_options: &[],
        now: IN_WINDOW,
        en: crate::lang::detect(&t) == Some(crate::lang::Lang::En),
    })
}

#[test]
fn the_window_constant_is_in_the_window() {
    assert_eq!(
        measure::timestamp("2026-11-22T10:00:00+08:00"),
        Some(IN_WINDOW)
    );
}

#[test]
fn answers_state_the_facts() {
    let (k, n) = fashion();
    use Ask::*;
    // (item, ask, message, every fragment the reply must hold)
    let rows: &[(Option<&str>, Ask, &str, &[&str])] = &[
        (
            Some("i-9"),
            Stock,
            "黑色L码还有吗",
            &["黑色 L", "卖完", "2026-12-10", "黑色 M", "藏青 L"],
        ),
        (Some("i-9"), Stock, "白色M有货吗", &["白色 M", "有现货"]),
        (Some("i-9"), Stock, "黑的M有吗", &["黑色 M", "有现货"]),
        (Some("i-9"), Stock, "有货吗", &["有现货", "黑色 L", "卖完"]),
        // Sizes and colours the item is not made in: said so, never "in stock".
        (Some("i-9"), Stock, "XXL有吗", &["没有XXL", "M、L、XL"]),
        (
            Some("i-9"),
            Stock,
            "有红色的吗",
            &["没有红色", "白色、黑色、藏青"],
        ),
        (Some("i-9"), Price, "红色的多少钱", &["没有红色"]),
        (
            Some("i-9"),
            Stock,
            "do you have it in red",
            &["doesn't come in red", "白色"],
        ),
        (Some("i-9"), Stock, "38码有吗", &["没有38码"]),
        (Some("i-9"), Stock, "xl有吗", &["XL", "卖完"]),
        (
            Some("i-9"),
            Stock,
            "it's for my mum, is the M in stock?",
            &["M is in stock"],
        ),
        (Some("i-9"), Price, "1.5米的多少钱", &["129元"]),
        (Some("i-9"), Stock, "白色XL有吗", &["没有白色 XL"]),
        (
            Some("i-9"),
            Stock,
            "is the black L in stock?",
            &["sold out", "2026-12-10"],
        ),
        (Some("i-9"), Price, "多少钱", &["129元", "黑色 L 139"]),
        (
            Some("i-9"),
            Price,
            "黑色L多少钱",
            &["139元", "满299减30", "再买160元"],
        ),
        (
            Some("i-9"),
            Price,
            "白色M买3件多少钱",
            &["387元", "到手357元"],
        ),
        (Some("k-101"), Price, "这个多少钱", &["99元", "满299减30"]),
        (
            Some("i-9"),
            Size,
            "我175 140斤穿什么码",
            &["XL", "版型偏小"],
        ),
        (Some("i-9"), Size, "1米6 100斤", &["M码"]),
        (
            Some("i-9"),
            Size,
            "身高162 体重120斤",
            &["L码", "按身高是M", "按体重是L"],
        ),
        (Some("i-9"), Size, "偏大还是偏小", &["版型偏小"]),
        (
            Some("i-9"),
            Attribute,
            "什么面料的",
            &["聚酯纤维雪纺，内衬棉"],
        ),
        (Some("i-9"), Attribute, "哪里产的", &["广州"]),
        (Some("i-9"), Attribute, "能放洗衣机吗", &["可以机洗的哦"]),
        (
            Some("k-101"),
            Attribute,
            "里面填充的是什么",
            &["摇粒绒内里"],
        ),
        (Some("k-101"), Attribute, "是纯棉的吗", &["棉65%"]),
        (
            Some("i-9"),
            Promotion,
            "有什么活动吗",
            &["满299减30", "买二送一", "再买170元"],
        ),
        (Some("k-101"), Promotion, "有活动吗", &["满299减30"]),
        (None, Other, "能开专票吗", &["增值税专用发票"]),
        (None, Promotion, "店里有啥优惠", &["满299减30"]),
    ];
    let mut bad = Vec::new();
    for (item, a, text, want) in rows {
        match ask(&k, &n, *item, *a, text) {
            Answer::Fact(s) if want.iter().all(|w| s.contains(w)) => {}
            other => bad.push(format!("{item:?} {a:?} {text:?}: {other:?}, want {want:?}")),
        }
    }
    assert!(bad.is_empty(), "\n{}", bad.join("\n"));
}

#[test]
fn facts_not_in_the_file_are_unknown() {
    let (k, n) = fashion();
    use Ask::*;
    let rows: &[(Option<&str>, Ask, &str)] = &[
        (Some("k-101"), Attribute, "可以手洗吗"),
        (Some("k-101"), Attribute, "需要连WIFI吗"),
        (Some("i-9"), Attribute, "是甜的吗"),
        (Some("i-9"), Size, "我190 200斤穿什么码"),
        (Some("k-101"), Size, "我175穿什么码"),
        (Some("i-9"), Stock, "藏青XL什么时候补货"),
        (Some("i-9"), Attribute, "保修多久"),
    ];
    for (item, a, text) in rows {
        let got = ask(&k, &n, *item, *a, text);
        assert!(matches!(got, Answer::Unknown(_)), "{text}: {got:?}");
    }
    assert_eq!(ask(&k, &n, None, Stock, "有货吗"), Answer::NeedItem);
    assert_eq!(ask(&k, &n, None, Other, "什么时候发货"), Answer::Pass);
}

#[test]
fn items_are_found_by_their_names() {
    let (k, n) = fashion();
    let find = |t: &str| k.item_named(&n.normalize(t));
    assert_eq!(find("雪纺裙还有吗"), Ok(k.item_by_id("i-9")));
    assert_eq!(find("卫衣多少钱"), Ok(k.item_by_id("k-101")));
    assert_eq!(find("在吗"), Ok(None));
    assert!(find("卫衣和雪纺裙").is_err());
}

#[test]
fn promotions_follow_their_window() {
    let (k, n) = fashion();
    let t = n.normalize("有什么活动");
    let q = |now| Query {
        text: &t,
        ask: Ask::Promotion,
        item: k.item_by_id("k-101"),
        page_options: &[],
        now,
        en: false,
    };
    let after = measure::timestamp("2026-12-13T00:00:00+08:00").unwrap();
    match k.answer(&q(after)) {
        Answer::Fact(s) => assert!(!s.contains("满299减30"), "{s}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn page_options_fill_what_the_text_leaves_out() {
    let (k, n) = fashion();
    let t = n.normalize("L码还有吗");
    let page = vec![("颜色".to_string(), "黑色".to_string())];
    let q = Query {
        text: &t,
        ask: Ask::Stock,
        item: k.item_by_id("i-9"),
        page_options: &page,
        now: IN_WINDOW,
        en: false,
    };
    match k.answer(&q) {
        Answer::Fact(s) => assert!(s.contains("黑色 L") && s.contains("卖完"), "{s}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_files_are_reported_at_file_and_line() {
    let norm = Normalizer::new(&[]);
    let rows: &[(&str, &str, &str)] = &[
        ("catalog/a.toml", "id = \"a\"\ntitle = \"x\"\ncolour = \"red\"\n", "catalog/a.toml:3:"),
        ("catalog/a.toml", "title = \"x\"\n", "catalog/a.toml:1:"),
        ("catalog/a.toml", "id = \"a\"\ntitle = \"x\"\n[[variants]]\noptions = { 颜色 = \"白\" }\nrestock = \"12月10日\"\n", "catalog/a.toml:5: restock"),
        ("catalog/a.toml", "id = \"a\"\ntitle = \"x\"\n[size_chart]\ncolumns = [\"尺码\", \"身高cm\"]\nrows = [\n  [\"S\", \"150-158\"],\n  [\"M\", \"高个子\"],\n]\n", "catalog/a.toml:7:"),
        ("catalog/a.toml", "id = \"a\"\ntitle = \"x\"\nprice = -3.0\n", "catalog/a.toml:3:"),
        ("catalog/_shop.toml", "[[promotions]]\nname = \"x\"\nkind = \"coupon\"\n", "catalog/_shop.toml:1:"),
        ("catalog/_shop.toml", "[[promotions]]\nname = \"x\"\nkind = \"discount\"\nthreshold = 9.0\noff = 1.0\nitems = [\"nope\"]\n", "\"nope\""),
    ];
    for (file, text, want) in rows {
        let err = Knowledge::parse(&[(file.to_string(), text.to_string())], &norm).unwrap_err();
        assert!(err.to_string().contains(want), "{text}\n→ {err}");
    }
    let twice = vec![
        (
            "catalog/a.toml".to_string(),
            "id = \"a\"\ntitle = \"x\"\n".to_string(),
        ),
        (
            "catalog/b.toml".to_string(),
            "id = \"a\"\ntitle = \"y\"\n".to_string(),
        ),
    ];
    assert!(Knowledge::parse(&twice, &norm)
        .unwrap_err()
        .to_string()
        .contains("also the id of catalog/a.toml"));
}

#[test]
fn bare_chinese_keys_are_read_as_catalog_md_writes_them() {
    let rows: &[(&str, &str)] = &[
        ("面料 = \"棉\"\n", "\"面料\" = \"棉\"\n"),
        (
            "options = { 颜色 = \"白色\", 尺码 = \"M\" }",
            "options = { \"颜色\" = \"白色\", \"尺码\" = \"M\" }",
        ),
        (
            "[属性]\n产地 = \"广州 = 好\" # 备注 = x\n",
            "[\"属性\"]\n\"产地\" = \"广州 = 好\" # 备注 = x\n",
        ),
        (
            "a = \"\"\"\n面料 = x\n\"\"\"\n",
            "a = \"\"\"\n面料 = x\n\"\"\"\n",
        ),
        (
            "q = [\"可以机洗吗\", \"能放洗衣机吗\"]",
            "q = [\"可以机洗吗\", \"能放洗衣机吗\"]",
        ),
        ("\"已引 号\" = 1", "\"已引 号\" = 1"),
    ];
    for (text, want) in rows {
        assert_eq!(quote_bare_keys(text), *want, "{text}");
    }
}

#[test]
fn quoting_keys_by_bytes_gives_what_quoting_by_characters_gave() {
    let mut rows: Vec<String> = [
        "面料 = \"棉\"\n",
        "a = \"x\\中\" \n面料 = 1",
        "a = \"x\\",
        "a = \"x\\中",
        "a = '''\n面料 = x\n'''\n面料 = 2",
        "面料\u{3000}= 1\n产地\u{a0}= 2\n",
        "[属性.产地]\n甲 = 1\n",
        "x = { 颜色 = \"白\" , 尺码=\"M\"}\n# 注释 = 1\n",
        "\"未闭合 = 1\n面料 = 2",
        "键",
        "中 文 = 1",
        "a = \"\"\"多行\\\"\"\" \n键 = 1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo/catalog");
    for e in std::fs::read_dir(root).unwrap() {
        rows.push(std::fs::read_to_string(e.unwrap().path()).unwrap());
    }
    for text in &rows {
        assert_eq!(
            quote_bare_keys(text),
            quote_bare_keys_by_char(text),
            "{text}"
        );
    }
}

/// The first, character-by-character version of `quote_bare_keys`, which
/// the byte version must agree with. The text with every bare key that has non-ASCII characters in quotes
/// (`面料 = "棉"` → `"面料" = "棉"`, also in inline tables and table
/// headers), so files written as catalog.md shows parse under TOML 1.0 and
/// 1.1 rules, whose bare keys are ASCII only. Strings and comments are left
/// alone; lines keep their numbers. One pass, linear.
fn quote_bare_keys_by_char(text: &str) -> std::borrow::Cow<'_, str> {
    if text.is_ascii() {
        return text.into();
    }
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut i = 0;
    // The last significant character before the current position.
    let mut prev = '\n';
    let special = |c: char| c.is_whitespace() || "=[]{},\"'#.".contains(c);
    while i < b.len() {
        let c = b[i];
        if c == '#' {
            while i < b.len() && b[i] != '\n' {
                out.push(b[i]);
                i += 1;
            }
            continue;
        }
        if c == '"' || c == '\'' {
            let triple = i + 2 < b.len() && b[i + 1] == c && b[i + 2] == c;
            let q = if triple { 3 } else { 1 };
            for _ in 0..q {
                out.push(c);
            }
            i += q;
            while i < b.len() {
                if c == '"' && b[i] == '\\' && i + 1 < b.len() {
                    out.push(b[i]);
                    out.push(b[i + 1]);
                    i += 2;
                    continue;
                }
                if b[i] == c && (!triple || (i + 2 < b.len() && b[i + 1] == c && b[i + 2] == c)) {
                    for _ in 0..q {
                        out.push(c);
                    }
                    i += q;
                    break;
                }
                if !triple && b[i] == '\n' {
                    break;
                }
                out.push(b[i]);
                i += 1;
            }
            prev = c;
            continue;
        }
        if !special(c) {
            let start = i;
            while i < b.len() && !special(b[i]) {
                i += 1;
            }
            let word: String = b[start..i].iter().collect();
            let mut j = i;
            while j < b.len() && (b[j] == ' ' || b[j] == '\t') {
                j += 1;
            }
            let next = b.get(j).copied().unwrap_or('\n');
            let key_before = matches!(prev, '\n' | '{' | ',' | '[' | '.');
            let key_after = matches!(next, '=' | '.' | ']');
            if key_before && key_after && !word.is_ascii() {
                out.push('"');
                out.push_str(&word);
                out.push('"');
            } else {
                out.push_str(&word);
            }
            prev = b[i - 1];
            continue;
        }
        out.push(c);
        if !c.is_whitespace() || c == '\n' {
            prev = c;
        }
        i += 1;
    }
    out.into()
}
