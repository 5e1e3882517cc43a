//! Numbers in buyers' words: body measurements for the size chart (175,
//! 1米75, 1.75m, 140斤, 70kg, 脚长24), quantities (两斤, 60包, 3件), Chinese
//! numerals, ranges in a size chart ("158-165", "180以上") and dates/times
//! of the catalog files. All linear in the text, no regex backtracking.

/// What a body measurement is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Height in cm.
    Height,
    /// Weight in 斤 (jin, 500 g).
    Weight,
    /// Foot length in cm.
    Foot,
}

/// Measurements found in a message: (what, value in cm or 斤).
pub type Measurements = Vec<(Measure, f64)>;

fn digit(c: char) -> Option<u32> {
    Some(match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

/// A Chinese numeral up to 999 (两, 十二, 二十五, 一百四十, 一百零五).
pub fn cn_number(s: &str) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    let (mut total, mut cur) = (0u32, None::<u32>);
    let mut any = false;
    for c in s.chars() {
        match c {
            '十' => {
                total += cur.unwrap_or(1) * 10;
                cur = None;
            }
            '百' => {
                total += cur.unwrap_or(1) * 100;
                cur = None;
            }
            c => match digit(c) {
                Some(d) => cur = Some(d),
                None => return None,
            },
        }
        any = true;
    }
    any.then_some(total + cur.unwrap_or(0))
}

fn is_cn_numeral(c: char) -> bool {
    digit(c).is_some() || c == '十' || c == '百'
}

/// The text with Chinese numerals written as digits where a unit or 码 follows
/// (两斤 → 2斤, 六十包 → 60包); other Chinese characters stay. Linear.
pub fn arabic(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if is_cn_numeral(chars[i]) {
            let start = i;
            while i < chars.len() && is_cn_numeral(chars[i]) && i - start < 6 {
                i += 1;
            }
            let run: String = chars[start..i].iter().collect();
            let unit_follows = chars
                .get(i)
                .is_some_and(|&c| UNITS.contains(&c) || c == '码' || c == '米');
            match cn_number(&run).filter(|_| unit_follows) {
                Some(n) => out.push_str(&n.to_string()),
                None => out.push_str(&run),
            }
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Counting units a buyer orders by (两件, 3包).
pub const UNITS: &[char] = &[
    '件', '个', '条', '套', '双', '只', '盒', '包', '袋', '瓶', '罐', '箱', '份', '支', '把', '台',
    '块', '片', '本', '斤', '克', '张', '听', '杯',
];

/// A number at the start of `s` (digits with one optional decimal point):
/// (value, bytes used).
fn number_at(s: &str) -> Option<(f64, usize)> {
    let mut end = 0;
    let mut dot = false;
    for (i, c) in s.char_indices() {
        if c.is_ascii_digit() {
            end = i + 1;
        } else if c == '.' && !dot && end == i && end > 0 {
            dot = true;
        } else {
            break;
        }
    }
    if end == 0 {
        return None;
    }
    s[..end].parse().ok().map(|v| (v, end))
}

/// Every number in an (already [`arabic`]) text with its byte range.
fn numbers(text: &str) -> Vec<(f64, usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let prev_digit = text[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_digit() || c == '.');
        if !prev_digit {
            if let Some((v, n)) = number_at(rest) {
                out.push((v, i, i + n));
                i += n;
                continue;
            }
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    out
}

/// Body measurements in a normalised message. Heights: 175, 175cm, 175公分,
/// 1米75, 1米7, 1.75m, 1.75米, 身高175; weights: 140斤, 70kg, 70公斤, 70千克,
/// 体重140 (a bare weight of 80 or more is in 斤, below in kg); foot length:
/// 脚长24, 脚长24.5cm, 24.5cm 的脚. A bare number from 130 to 210 is a height,
/// and a bare number after a height a weight.
pub fn measurements(normalized: &str) -> Measurements {
    let text = arabic(normalized);
    let nums = numbers(&text);
    let mut out: Measurements = Vec::new();
    let mut skip_next = false;
    for (k, &(v, start, end)) in nums.iter().enumerate() {
        if skip_next {
            skip_next = false;
            continue;
        }
        let after = text[end..].trim_start();
        let before = text[..start].trim_end();
        let has = |p: &str| after.starts_with(p);
        // 1米75 / 1米7 / 1米
        if has("米") && (1.0..=2.5).contains(&v) && v.fract() == 0.0 {
            let rest = after["米".len()..].trim_start();
            let cm = match number_at(rest) {
                Some((r, n)) if r < 100.0 && r.fract() == 0.0 => {
                    skip_next = nums.get(k + 1).is_some_and(|x| x.0 == r);
                    if n == 1 {
                        r * 10.0
                    } else {
                        r
                    }
                }
                _ => 0.0,
            };
            out.push((Measure::Height, v * 100.0 + cm));
            continue;
        }
        if (has("米") || has("m") && !has("mm")) && (1.0..2.5).contains(&v) {
            out.push((Measure::Height, (v * 100.0).round()));
            continue;
        }
        if has("斤") {
            out.push((Measure::Weight, v));
            continue;
        }
        if has("kg") || has("公斤") || has("千克") {
            out.push((Measure::Weight, v * 2.0));
            continue;
        }
        let foot_before =
            before.ends_with("脚长") || before.ends_with("脚长是") || before.ends_with("脚");
        let foot_after = has("cm的脚") || has("的脚") || has("cm脚");
        if (foot_before || foot_after) && (10.0..=35.0).contains(&v) {
            out.push((Measure::Foot, v));
            continue;
        }
        if has("mm") && before.ends_with("脚长") && (100.0..=350.0).contains(&v) {
            out.push((Measure::Foot, v / 10.0));
            continue;
        }
        if before.ends_with("体重") || before.ends_with("重") {
            out.push((Measure::Weight, if v >= 80.0 { v } else { v * 2.0 }));
            continue;
        }
        let height_said = before.ends_with("身高")
            || before.ends_with("高")
            || has("cm")
            || has("公分")
            || has("厘米");
        if height_said && (50.0..=230.0).contains(&v) {
            out.push((Measure::Height, v));
            continue;
        }
        let bare = !has("码") && !has("元") && !has("块") && !has("号") && !has("岁");
        if bare && (130.0..=210.0).contains(&v) && !out.iter().any(|m| m.0 == Measure::Height) {
            out.push((Measure::Height, v));
            continue;
        }
        if bare
            && out.iter().any(|m| m.0 == Measure::Height)
            && !out.iter().any(|m| m.0 == Measure::Weight)
            && (60.0..=300.0).contains(&v)
        {
            out.push((Measure::Weight, v));
        }
    }
    out
}

/// A range of a size chart cell: "158-165", "158~165", "158—165", "<150",
/// "150以下", "180以上", "180+", or one number (as a range of itself).
pub fn range(cell: &str) -> Option<(f64, f64)> {
    let c = cell.trim();
    let c = c
        .trim_end_matches("cm")
        .trim_end_matches("斤")
        .trim_end_matches("kg")
        .trim();
    for sep in ["-", "~", "—", "～", "–", "至", "到"] {
        if let Some((a, b)) = c.split_once(sep) {
            let a: f64 = a.trim().trim_end_matches("cm").parse().ok()?;
            let b: f64 = b.trim().trim_end_matches("cm").parse().ok()?;
            return (a <= b).then_some((a, b));
        }
    }
    if let Some(v) = c.strip_prefix('<').or_else(|| c.strip_suffix("以下")) {
        return Some((0.0, v.trim().parse().ok()?));
    }
    if let Some(v) = c
        .strip_prefix('>')
        .or_else(|| c.strip_suffix("以上"))
        .or_else(|| c.strip_suffix('+'))
    {
        return Some((v.trim().parse().ok()?, f64::MAX));
    }
    let v: f64 = c.parse().ok()?;
    Some((v, v))
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// A `YYYY-MM-DD` date, checked (month 1–12, day within the month).
pub fn date(s: &str) -> Option<(i64, u32, u32)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = s[..4].parse().ok()?;
    let m: u32 = s[5..7].parse().ok()?;
    let d: u32 = s[8..10].parse().ok()?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    ((1..=12).contains(&m) && d >= 1 && d <= days[m as usize - 1]).then_some((y, m, d))
}

/// Seconds since the Unix epoch of an RFC 3339 time
/// (`2026-11-20T00:00:00+08:00`, `…Z`, fractions allowed), or of a bare
/// date (its midnight, China time: the shops' clock).
pub fn timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() == 10 {
        let (y, m, d) = date(s)?;
        return Some(days_from_civil(y, m, d) * 86400 - 8 * 3600);
    }
    if s.len() < 20 || !s.is_char_boundary(10) || !matches!(&s[10..11], "T" | "t" | " ") {
        return None;
    }
    let (y, m, d) = date(&s[..10])?;
    let t = &s[11..];
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let p = t.get(r)?;
        p.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| p.parse().ok())?
    };
    let (hh, mm, ss) = (num(0..2)?, num(3..5)?, num(6..8)?);
    if t.get(2..3)? != ":" || t.get(5..6)? != ":" || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut rest = &t[8..];
    if let Some(f) = rest.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &f[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let h: i64 = o[1..3].parse().ok()?;
            let mi: i64 = o[4..6].parse().ok()?;
            let v = h * 3600 + mi * 60;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    Some(days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss - offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Measure::*;

    #[test]
    fn measurements_in_usual_forms() {
        let rows: &[(&str, &[(Measure, f64)])] = &[
            ("我175 140斤穿什么码", &[(Height, 175.0), (Weight, 140.0)]),
            ("1米75 70kg", &[(Height, 175.0), (Weight, 140.0)]),
            ("身高1米7 体重110斤", &[(Height, 170.0), (Weight, 110.0)]),
            ("1.68m 52公斤", &[(Height, 168.0), (Weight, 104.0)]),
            ("175cm", &[(Height, 175.0)]),
            ("身高160体重100斤", &[(Height, 160.0), (Weight, 100.0)]),
            ("脚长24穿多大", &[(Foot, 24.0)]),
            ("脚长24.5cm", &[(Foot, 24.5)]),
            ("160 100", &[(Height, 160.0), (Weight, 100.0)]),
            ("一百四十斤", &[(Weight, 140.0)]),
            ("体重60", &[(Weight, 120.0)]),
            ("穿l码会大吗", &[]),
            ("买2件多少钱", &[]),
        ];
        for (text, want) in rows {
            assert_eq!(measurements(text), want.to_vec(), "{text}");
        }
    }

    #[test]
    fn numerals_and_ranges() {
        assert_eq!(cn_number("两"), Some(2));
        assert_eq!(cn_number("十二"), Some(12));
        assert_eq!(cn_number("一百零五"), Some(105));
        assert_eq!(arabic("两斤多少"), "2斤多少");
        assert_eq!(arabic("六十包的"), "60包的");
        assert_eq!(arabic("一下"), "一下");
        assert_eq!(range("158-165"), Some((158.0, 165.0)));
        assert_eq!(range("180以上"), Some((180.0, f64::MAX)));
        assert_eq!(range("<150"), Some((0.0, 150.0)));
        assert_eq!(range("abc"), None);
        assert_eq!(range("170-160"), None);
    }

    #[test]
    fn times() {
        assert_eq!(timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            timestamp("2026-11-20T00:00:00+08:00"),
            timestamp("2026-11-19T16:00:00Z")
        );
        assert_eq!(
            timestamp("2026-11-22T10:00:00.5Z"),
            timestamp("2026-11-22T10:00:00Z")
        );
        for bad in [
            "2026-13-01T00:00:00Z",
            "2026-02-30",
            "yesterday",
            "2026-11-20T00:00:00",
        ] {
            assert_eq!(timestamp(bad), None, "{bad}");
        }
        assert!(date("2026-12-10").is_some());
    }
}
