//! The rules of `[proactive]` in `xiaoer.toml`, read once with the
//! configuration: durations (`30m`, `2s`, `1d`), working hours in the shop's
//! time zone (`shop.timezone`), the shop's same-day cutoff (`shop.cutoff`),
//! and the pure time arithmetic the scheduler needs (local day, next opening).

use serde::Deserialize;

/// One minute, one hour, one day in milliseconds.
pub const MINUTE_MS: i64 = 60_000;
/// One hour in milliseconds.
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
/// One day in milliseconds.
pub const DAY_MS: i64 = 24 * HOUR_MS;
/// Longest duration a rule takes (a longer one is a typo).
pub const MAX_DURATION_MS: i64 = 30 * DAY_MS;

/// `[proactive]` as written (checked into [`Rules`] by [`Rules::from_config`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProactiveConfig {
    /// Delay from `created` to the payment reminder (催付), e.g. `30m`.
    pub payment_reminder_after: String,
    /// Hours in which the bot starts messages, `09:00-22:00` (shop time).
    pub working_hours: String,
    /// The order check (核对) after `paid`: on or off.
    pub order_check: serde_json::Value,
    /// The shipped note after `shipped`: on or off.
    pub shipped_notice: serde_json::Value,
    /// Delay from `delivered` to the follow-up; empty: no follow-up.
    #[serde(default)]
    pub delivered_followup_after: String,
    /// Proactive messages one buyer gets per shop day, at most.
    pub max_per_buyer_per_day: u32,
}

/// The checked rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// ms from `created` to the reminder.
    pub payment_reminder_after: i64,
    /// Minutes of the shop's day `[open, close)`; `close` may be 1440, and
    /// `open > close` wraps past midnight.
    pub working_hours: (u32, u32),
    /// Order check on `paid`.
    pub order_check: bool,
    /// Shipped note on `shipped`.
    pub shipped_notice: bool,
    /// ms from `delivered` to the follow-up, if any.
    pub delivered_followup_after: Option<i64>,
    /// Per buyer per shop day.
    pub max_per_buyer_per_day: u32,
    /// The shop's offset from UTC in minutes (`shop.timezone`).
    pub utc_offset_min: i32,
    /// The shop's same-day shipping cutoff, minutes of the day (`shop.cutoff`).
    pub cutoff: Option<u32>,
}

impl Rules {
    /// Checks `[proactive]` and the shop keys it uses. Errors start with
    /// `section.key = value` so the configuration loader puts `file:line:`
    /// before them.
    pub fn from_config(
        p: &ProactiveConfig,
        shop: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Result<Rules, String> {
        let key = |k: &str, v: &str, why: String| format!("proactive.{k} = {v:?} {why}");
        let payment_reminder_after = parse_duration(&p.payment_reminder_after)
            .map_err(|e| key("payment_reminder_after", &p.payment_reminder_after, e))?;
        let working_hours =
            parse_hours(&p.working_hours).map_err(|e| key("working_hours", &p.working_hours, e))?;
        let delivered_followup_after = if p.delivered_followup_after.trim().is_empty() {
            None
        } else {
            Some(
                parse_duration(&p.delivered_followup_after)
                    .map_err(|e| key("delivered_followup_after", &p.delivered_followup_after, e))?,
            )
        };
        let order_check = on_off(&p.order_check)
            .map_err(|e| format!("proactive.order_check = {} {e}", p.order_check))?;
        let shipped_notice = on_off(&p.shipped_notice)
            .map_err(|e| format!("proactive.shipped_notice = {} {e}", p.shipped_notice))?;
        let text = |k: &str| match shop.get(k) {
            None => Ok(None),
            Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(v) => Err(format!("shop.{k} = {v} must be text")),
        };
        let utc_offset_min = match text("timezone")? {
            None => 8 * 60,
            Some(tz) => parse_timezone(&tz).map_err(|e| format!("shop.timezone = {tz:?} {e}"))?,
        };
        let cutoff = match text("cutoff")? {
            None => None,
            Some(c) => Some(
                parse_hhmm(&c)
                    .filter(|m| *m < 24 * 60)
                    .ok_or_else(|| format!("shop.cutoff = {c:?} must be a time of day like \"16:00\" (the same-day shipping cutoff), or empty"))?,
            ),
        };
        Ok(Rules {
            payment_reminder_after,
            working_hours,
            order_check,
            shipped_notice,
            delivered_followup_after,
            max_per_buyer_per_day: p.max_per_buyer_per_day,
            utc_offset_min,
            cutoff,
        })
    }

    /// Minutes since the shop's local midnight at `ms`.
    pub fn minute_of_day(&self, ms: i64) -> u32 {
        (self.local(ms).rem_euclid(DAY_MS) / MINUTE_MS) as u32
    }

    fn local(&self, ms: i64) -> i64 {
        ms + i64::from(self.utc_offset_min) * MINUTE_MS
    }

    /// The shop's day number at `ms` (days since 1970-01-01, shop time).
    pub fn day(&self, ms: i64) -> i64 {
        self.local(ms).div_euclid(DAY_MS)
    }

    /// The UTC ms at which shop day `day` starts.
    pub fn day_start(&self, day: i64) -> i64 {
        day * DAY_MS - i64::from(self.utc_offset_min) * MINUTE_MS
    }

    /// True when `ms` falls in the working hours.
    pub fn working(&self, ms: i64) -> bool {
        let (open, close) = self.working_hours;
        let m = self.minute_of_day(ms);
        match open.cmp(&close) {
            std::cmp::Ordering::Less => (open..close).contains(&m),
            std::cmp::Ordering::Greater => m >= open || m < close,
            std::cmp::Ordering::Equal => true,
        }
    }

    /// `ms` itself in the working hours, else the next opening after it.
    pub fn next_opening(&self, ms: i64) -> i64 {
        if self.working(ms) {
            return ms;
        }
        let open = i64::from(self.working_hours.0) * MINUTE_MS;
        let today = self.day_start(self.day(ms)) + open;
        if today > ms {
            today
        } else {
            today + DAY_MS
        }
    }

    /// The first opening of the shop day after the one of `ms` (a buyer who
    /// had their day's messages waits for it).
    pub fn next_day_opening(&self, ms: i64) -> i64 {
        let start = self.day_start(self.day(ms) + 1);
        self.next_opening(start)
    }

    /// The cutoff as `HH:MM` when `ms` is before it on its shop day.
    pub fn cutoff_ahead(&self, ms: i64) -> Option<String> {
        let c = self.cutoff?;
        (self.minute_of_day(ms) < c).then(|| format!("{:02}:{:02}", c / 60, c % 60))
    }
}

fn on_off(v: &serde_json::Value) -> Result<bool, String> {
    match v {
        serde_json::Value::Bool(b) => Ok(*b),
        serde_json::Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" => Ok(true),
            "off" | "false" | "no" => Ok(false),
            _ => Err("must be \"on\" or \"off\"".into()),
        },
        _ => Err("must be \"on\" or \"off\"".into()),
    }
}

/// `30m`, `2s`, `1d`, `1h30m`, `500ms` → milliseconds (at most [`MAX_DURATION_MS`]).
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let usage =
        "must be a duration like \"30m\", \"2s\", \"1h30m\" or \"1d\" (units ms, s, m, h, d)";
    if t.is_empty() {
        return Err(usage.into());
    }
    let mut total: i64 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return Err(usage.into());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| usage.to_string())?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let per = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => MINUTE_MS,
            "h" => HOUR_MS,
            "d" => DAY_MS,
            _ => return Err(usage.into()),
        };
        total = total.saturating_add(n.saturating_mul(per));
    }
    if total > MAX_DURATION_MS {
        return Err("is longer than 30 days".into());
    }
    Ok(total)
}

/// `HH:MM` (00:00 to 24:00) → minutes of the day.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

fn parse_hours(s: &str) -> Result<(u32, u32), String> {
    let usage = "must be opening and closing time in shop time, like \"09:00-22:00\" (\"00:00-24:00\": always)";
    let (a, b) = s.split_once('-').ok_or(usage)?;
    let open = parse_hhmm(a).filter(|m| *m < 24 * 60).ok_or(usage)?;
    let close = parse_hhmm(b).ok_or(usage)?;
    if open == close {
        return Err("opens and closes at the same time: write \"00:00-24:00\" for always".into());
    }
    Ok((open, close))
}

/// Zones without daylight saving that shops here use, by IANA name.
const ZONES: &[(&str, i32)] = &[
    ("UTC", 0),
    ("Etc/UTC", 0),
    ("Asia/Shanghai", 480),
    ("Asia/Chongqing", 480),
    ("Asia/Hong_Kong", 480),
    ("Asia/Macau", 480),
    ("Asia/Taipei", 480),
    ("Asia/Singapore", 480),
    ("Asia/Kuala_Lumpur", 480),
    ("Asia/Manila", 480),
    ("Asia/Tokyo", 540),
    ("Asia/Seoul", 540),
    ("Asia/Bangkok", 420),
    ("Asia/Jakarta", 420),
    ("Asia/Ho_Chi_Minh", 420),
    ("Asia/Kolkata", 330),
    ("Asia/Dubai", 240),
];

/// `Asia/Shanghai` (a zone without daylight saving, see [`ZONES`]), `UTC`,
/// or a fixed offset `+08:00` / `UTC+8` → minutes east of UTC.
pub fn parse_timezone(s: &str) -> Result<i32, String> {
    let t = s.trim();
    if let Some((_, m)) = ZONES.iter().find(|(n, _)| n.eq_ignore_ascii_case(t)) {
        return Ok(*m);
    }
    let usage = || {
        format!(
            "is not a time zone this xiaoer knows: write an offset like \"+08:00\", or one of {}",
            ZONES.iter().map(|z| z.0).collect::<Vec<_>>().join(", ")
        )
    };
    let o = t
        .strip_prefix("UTC")
        .or_else(|| t.strip_prefix("GMT"))
        .unwrap_or(t);
    let (sign, o) = match o.chars().next() {
        Some('+') => (1, &o[1..]),
        Some('-') => (-1, &o[1..]),
        _ => return Err(usage()),
    };
    let (h, m) = match o.split_once(':') {
        Some((h, m)) => (h, m),
        None => (o, "00"),
    };
    let h: i32 = h.parse().map_err(|_| usage())?;
    let m: i32 = m.parse().map_err(|_| usage())?;
    if !(0..=14).contains(&h) || !(0..60).contains(&m) || h.to_string().len() > 2 {
        return Err(usage());
    }
    Ok(sign * (h * 60 + m))
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An RFC 3339 time (`2026-11-22T10:05:00Z`, `…+08:00`, fractions allowed)
/// → ms since the epoch; `None` when it is not one.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() < 20 || !s.is_ascii() {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let b = s.as_bytes();
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return None;
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0;
    if let Some(f) = rest.strip_prefix('.') {
        let n = f.chars().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let frac = &f[..n];
        ms = format!("{:0<3}", &frac[..n.min(3)]).parse::<i64>().ok()?;
        rest = &f[n..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 => {
            let sign = match &o[..1] {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            sign * (o[1..3].parse::<i64>().ok()? * 60 + o[4..6].parse::<i64>().ok()?)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + se) - offset_min * 60) * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let rows: &[(&str, Result<i64, ()>)] = &[
            ("30m", Ok(30 * MINUTE_MS)),
            ("2s", Ok(2000)),
            ("1d", Ok(DAY_MS)),
            ("1h30m", Ok(90 * MINUTE_MS)),
            ("500ms", Ok(500)),
            (" 45s ", Ok(45_000)),
            ("0s", Ok(0)),
            ("", Err(())),
            ("30", Err(())),
            ("m", Err(())),
            ("3x", Err(())),
            ("-5m", Err(())),
            ("31d", Err(())),
            ("99999999999s", Err(())),
        ];
        for (s, want) in rows {
            assert_eq!(parse_duration(s).map_err(drop), *want, "{s:?}");
        }
    }

    fn rules(hours: &str, tz: &str, cutoff: &str) -> Result<Rules, String> {
        let p = ProactiveConfig {
            payment_reminder_after: "30m".into(),
            working_hours: hours.into(),
            order_check: serde_json::json!("on"),
            shipped_notice: serde_json::json!(true),
            delivered_followup_after: "".into(),
            max_per_buyer_per_day: 2,
        };
        let shop = [
            ("timezone".to_string(), serde_json::json!(tz)),
            ("cutoff".to_string(), serde_json::json!(cutoff)),
        ]
        .into_iter()
        .collect();
        Rules::from_config(&p, &shop)
    }

    #[test]
    fn bad_values_say_which_key_and_how_to_write_it() {
        let rows: &[(&str, &str, &str, &str)] = &[
            (
                "9-22",
                "+08:00",
                "",
                "proactive.working_hours = \"9-22\" must be",
            ),
            ("09:00-09:00", "+08:00", "", "same time"),
            ("25:00-26:00", "+08:00", "", "working_hours"),
            (
                "09:00-22:00",
                "Mars/Olympus",
                "",
                "shop.timezone = \"Mars/Olympus\"",
            ),
            ("09:00-22:00", "+08:00", "5pm", "shop.cutoff = \"5pm\""),
        ];
        for (h, tz, c, want) in rows {
            let e = rules(h, tz, c).unwrap_err();
            assert!(e.contains(want), "{h} {tz} {c}: {e}");
        }
        let r = rules("09:00-22:00", "Asia/Shanghai", "16:00").unwrap();
        assert_eq!(
            (r.working_hours, r.utc_offset_min, r.cutoff, r.order_check),
            ((540, 1320), 480, Some(960), true)
        );
        assert_eq!(
            rules("22:00-02:00", "-05:30", "").unwrap().utc_offset_min,
            -330
        );
    }

    #[test]
    fn working_hours_and_the_next_opening_in_shop_time() {
        let r = rules("09:00-22:00", "+08:00", "16:00").unwrap();
        // 2026-11-22 in Beijing: 08:59 is 00:59Z, 09:00 is 01:00Z, 22:00 is 14:00Z.
        let at = |s: &str| parse_rfc3339(s).unwrap();
        let rows: &[(&str, bool, &str)] = &[
            ("2026-11-22T00:59:00Z", false, "2026-11-22T01:00:00Z"),
            ("2026-11-22T01:00:00Z", true, "2026-11-22T01:00:00Z"),
            ("2026-11-22T13:59:00Z", true, "2026-11-22T13:59:00Z"),
            ("2026-11-22T14:00:00Z", false, "2026-11-23T01:00:00Z"),
            ("2026-11-22T17:30:00Z", false, "2026-11-23T01:00:00Z"),
        ];
        for (t, working, next) in rows {
            assert_eq!(r.working(at(t)), *working, "{t}");
            assert_eq!(r.next_opening(at(t)), at(next), "{t}");
        }
        assert_eq!(
            r.next_day_opening(at("2026-11-22T03:00:00Z")),
            at("2026-11-23T01:00:00Z")
        );
        assert_eq!(
            r.cutoff_ahead(at("2026-11-22T07:59:00Z")).as_deref(),
            Some("16:00")
        );
        assert_eq!(r.cutoff_ahead(at("2026-11-22T08:00:00Z")), None);
        let night = rules("22:00-02:00", "+00:00", "").unwrap();
        assert!(night.working(at("2026-11-22T23:00:00Z")));
        assert!(night.working(at("2026-11-22T01:00:00Z")));
        assert!(!night.working(at("2026-11-22T12:00:00Z")));
        assert!(rules("00:00-24:00", "UTC", "")
            .unwrap()
            .working(at("2026-11-22T23:59:00Z")));
    }

    #[test]
    fn rfc3339_times() {
        let rows: &[(&str, Option<i64>)] = &[
            ("2026-11-22T10:00:00Z", Some(1_795_341_600_000)),
            ("2026-11-22T18:00:00+08:00", Some(1_795_341_600_000)),
            ("2026-11-22T10:00:00.250Z", Some(1_795_341_600_250)),
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2026-11-22", None),
            ("2026-13-22T10:00:00Z", None),
            ("2026-11-22T10:00:00", None),
            ("二〇二六-11-22T10:00:00Z", None),
        ];
        for (s, want) in rows {
            assert_eq!(parse_rfc3339(s), *want, "{s}");
        }
    }
}
