//! Hostile messages for the worst-case checks: inputs built to hit each NLU
//! stage's worst case (a splitter that backtracks, clauses compared with
//! clauses, a clause re-read over a growing span, aliases that expand, …).
//! One table shared by `tests/adversarial.rs` (classification must finish,
//! with bounded work) and `xiaoer-bench adversarial` (latency per length).

/// One kind of hostile message: its name and a maker of about `n` characters.
pub struct Hostile {
    /// Short name for reports.
    pub name: &'static str,
    /// What it attacks.
    pub attacks: &'static str,
    /// Builds a message of about `n` characters (never fewer than `n`).
    pub make: fn(usize) -> String,
}

/// `unit` repeated until the text has at least `n` characters, then `tail`.
fn fill(unit: &str, n: usize, tail: &str) -> String {
    let per = unit.chars().count().max(1);
    let mut s = unit.repeat(n.div_ceil(per));
    s.push_str(tail);
    s
}

/// Every hostile kind.
pub const TABLE: &[Hostile] = &[
    Hostile {
        name: "xian-q",
        attacks: "pinyin splitter: \"xian\" cuts as xian or xi+an, and the final q fails every cut",
        make: |n| fill("xian", n.saturating_sub(1), "q"),
    },
    Hostile {
        name: "xian-q-words",
        attacks: "pinyin splitter, many words (pinyin mode on the whole message)",
        make: |n| fill("xianxianxianq ", n, ""),
    },
    Hostile {
        name: "syllables",
        attacks:
            "a message that is all pinyin syllables (pinyin mode, transliteration, pinyin search)",
        make: |n| fill("zhuangshuangchuangxiangyou", n, ""),
    },
    Hostile {
        name: "pinyin-words",
        attacks: "pinyin text with aliases and keywords by sound",
        make: |n| fill("bao you ma fa huo le ma ", n, ""),
    },
    Hostile {
        name: "commas",
        attacks: "thousands of empty clauses",
        make: |n| fill(",", n, ""),
    },
    Hostile {
        name: "short-clauses",
        attacks: "thousands of one-word clauses (clauses × clauses in combining)",
        make: |n| fill("好,", n, ""),
    },
    Hostile {
        name: "topic-chain",
        attacks: "topic + comment joins (a joined clause re-read over a growing span)",
        make: |n| {
            let mut s = String::from("邮费 ");
            s.push_str(&fill("多少钱 ", n.saturating_sub(3), ""));
            s
        },
    },
    Hostile {
        name: "questions",
        attacks: "a clause cut after every 吗, each with keywords",
        make: |n| fill("有货吗包邮吗", n, ""),
    },
    Hostile {
        name: "keywords",
        attacks: "one clause dense with overlapping keywords of many intents",
        make: |n| fill("有货包邮发货退货优惠正品尺码", n, ""),
    },
    Hostile {
        name: "emoji",
        attacks: "pictographs (separators) and an alias pictograph",
        make: |n| fill("😀👍", n, ""),
    },
    Hostile {
        name: "aliases",
        attacks: "aliases applied back to back (Latin and Chinese)",
        make: |n| fill("zai ma 木有", n, ""),
    },
    Hostile {
        name: "one-char",
        attacks: "a long run of one Chinese character",
        make: |n| fill("货", n, ""),
    },
    Hostile {
        name: "one-letter",
        attacks: "a long run of one letter (a syllable: the splitter's longest word)",
        make: |n| fill("a", n, ""),
    },
    Hostile {
        name: "mixed-scripts",
        attacks: "scripts, digits, traditional characters and full-width forms together",
        make: |n| fill("有貨嗎ＸＬabc١٢٣ЖΩ😀ｶﾀ", n, ""),
    },
    Hostile {
        name: "combining",
        attacks: "one letter with a long run of combining marks (normalisation reorders them)",
        make: |n| {
            let mut s = String::from("e");
            for k in 0..n.saturating_sub(1) {
                s.push(['\u{301}', '\u{323}', '\u{308}'][k % 3]);
            }
            s
        },
    },
    Hostile {
        name: "expanding",
        attacks: "characters NFKC expands (one becomes up to 18)",
        make: |n| fill("\u{fdfa}㍿", n, ""),
    },
    Hostile {
        name: "realistic",
        attacks: "ordinary questions back to back, up to the budget",
        make: |n| {
            fill(
                "亲 在吗？这款卫衣有XL码吗 包邮吗 什么时候发货 能便宜点吗 ",
                n,
                "",
            )
        },
    },
];

#[cfg(test)]
mod tests {
    #[test]
    fn makers_reach_the_length() {
        for h in super::TABLE {
            for n in [1, 10, 2000] {
                assert!((h.make)(n).chars().count() >= n, "{} at {n}", h.name);
            }
        }
    }
}
