//! The command line's output: decisions (readable and JSON lines), the
//! terminal chat, the report, and the log setup. Each writes to the writer it
//! is given; a closed pipe (`xiaoer eval ... | head`) is not an error.

use crate::dialogue::{Conversation, Decision};
use crate::engine::Engine;
use serde::Serialize;
use std::io::{self, BufRead, Write};

/// Writes a line; a closed pipe is not an error.
macro_rules! out {
    ($w:expr) => {{ let _ = writeln!($w); }};
    ($w:expr, $($arg:tt)*) => {{ let _ = writeln!($w, $($arg)*); }};
}

/// Why the built-in intents and replies are in use.
pub fn why_builtin() -> String {
    let here = std::env::current_dir()
        .map(|d| format!(" in {}", d.display()))
        .unwrap_or_default();
    format!("no intents/ or replies/ folder{here}, and no configuration sets paths.intents or paths.replies")
}

/// Logs to stderr; XIAOER_LOG sets the filter (e.g. `debug`, `xiaoer=trace`).
/// `json`: one JSON object per line, for log collectors. Colours only when
/// stderr is a terminal and `NO_COLOR` is unset or empty: a log file or a
/// pipe gets plain text.
pub fn init_logs(json: bool) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("XIAOER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = if json {
        b.json().try_init()
    } else {
        b.try_init()
    };
}

/// Whether logs are coloured: on a terminal, unless `NO_COLOR` is set to
/// anything but the empty string (<https://no-color.org>).
pub fn colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// One decision, readable (`xiaoer classify TEXT`); `explain` adds the clauses
/// and the evidence.
pub fn print_decision(
    engine: &Engine,
    text: &str,
    d: &Decision,
    explain: bool,
    w: &mut impl Write,
) {
    out!(w, "message:    {text}");
    out!(w, "intents:    {}", d.intents.join(", "));
    out!(w, "confidence: {:.2}", d.confidence);
    match &d.reason {
        Some(r) => out!(w, "action:     escalate ({})", r.as_str()),
        None => out!(w, "action:     reply"),
    }
    if d.inherited {
        out!(
            w,
            "context:    follow-up, topic carried over from the previous message"
        );
    }
    out!(w, "reply:      {}", d.reply);
    if explain {
        let c = &d.classification;
        out!(w, "normalised: {}", c.normalized);
        for cl in &c.clauses {
            out!(w, "  clause {:?}", cl.text);
            for s in cl.ranking.iter().take(3) {
                out!(
                    w,
                    "    {:<16} score {:.2}  confidence {:.2}",
                    engine.nlu.intents[s.intent].id,
                    s.score,
                    s.confidence
                );
            }
            for (k, id, kind) in &cl.evidence.keywords {
                out!(w, "    {kind} {k:?} → {id}");
            }
            for (p, id) in &cl.evidence.patterns {
                out!(w, "    pattern {p:?} → {id}");
            }
            for (e, id, sim) in cl.evidence.examples.iter().take(3) {
                out!(w, "    example {e} → {id} (similarity {sim:.2})");
            }
        }
    }
    out!(w);
}

#[derive(Serialize)]
struct Out<'a> {
    text: &'a str,
    intents: &'a [String],
    action: &'a str,
    confidence: f32,
    reply: &'a str,
    lang: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<&'a str>,
}

#[derive(serde::Deserialize)]
struct In {
    text: Option<serde_json::Value>,
    #[serde(default)]
    conversation: Option<serde_json::Value>,
    #[serde(default)]
    item: Option<serde_json::Value>,
    #[serde(default)]
    ts: Option<serde_json::Value>,
}

/// The item and time a `classify --jsonl` line carries (as a `message`
/// frame does: `item` {id, title, options, price}, `ts`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineContext {
    /// `item.id`.
    pub item_id: Option<String>,
    /// `item.title`.
    pub title: Option<String>,
    /// `item.options`.
    pub options: Vec<(String, String)>,
    /// `ts`.
    pub ts: Option<String>,
}

impl LineContext {
    /// The dialogue's view of it.
    pub fn context(&self) -> crate::dialogue::Context<'_> {
        crate::dialogue::Context {
            item_id: self.item_id.as_deref(),
            title: self.title.as_deref(),
            options: &self.options,
            ts: self.ts.as_deref(),
        }
    }

    /// Reads `item` and `ts` of a JSON line; errors name the field.
    pub fn parse(
        item: Option<&serde_json::Value>,
        ts: Option<&serde_json::Value>,
    ) -> Result<LineContext, String> {
        use serde_json::Value;
        let mut out = LineContext::default();
        match item {
            None | Some(Value::Null) => {}
            Some(Value::Object(o)) => {
                let text = |k: &str| -> Result<Option<String>, String> {
                    match o.get(k) {
                        None | Some(Value::Null) => Ok(None),
                        Some(Value::String(s)) => Ok(Some(s.clone())),
                        Some(Value::Number(n)) if k == "id" => Ok(Some(n.to_string())),
                        Some(_) => Err(format!("\"item.{k}\" must be a string")),
                    }
                };
                out.item_id = text("id")?;
                out.title = text("title")?;
                match o.get("options") {
                    None | Some(Value::Null) => {}
                    Some(Value::Object(opts)) => {
                        for (k, v) in opts {
                            match v {
                                Value::String(s) => out.options.push((k.clone(), s.clone())),
                                Value::Number(n) => out.options.push((k.clone(), n.to_string())),
                                _ => return Err(format!("\"item.options.{k}\" must be a string")),
                            }
                        }
                    }
                    Some(_) => return Err("\"item.options\" must be an object".into()),
                }
            }
            Some(_) => {
                return Err("\"item\" must be an object ({\"id\": ..., \"title\": ...})".into())
            }
        }
        match ts {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                if crate::nlu::knowledge::measure::timestamp(s).is_none() {
                    return Err(format!(
                        "\"ts\" {s:?} is not an RFC 3339 time (2026-11-22T10:00:00Z)"
                    ));
                }
                out.ts = Some(s.clone());
            }
            Some(_) => return Err("\"ts\" must be a string (RFC 3339)".into()),
        }
        Ok(out)
    }
}

/// Reads one input line into (text, conversation, item and time) or a per-line error.
fn parse_line(
    raw: &[u8],
    max_chars: usize,
) -> Result<(String, Option<String>, LineContext), String> {
    let line = std::str::from_utf8(raw)
        .map_err(|e| format!("the line is not valid UTF-8 (byte {})", e.valid_up_to() + 1))?;
    let v: In = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let text = match v.text {
        Some(serde_json::Value::String(s)) => s,
        Some(_) => return Err("\"text\" must be a string".into()),
        None => return Err("missing \"text\"".into()),
    };
    if text.trim().is_empty() {
        return Err("\"text\" is empty".into());
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(format!(
            "\"text\" is {chars} characters, more than the {max_chars} a chat message may have"
        ));
    }
    let conv = match v.conversation {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err("\"conversation\" must be a string or a number".into()),
    };
    let ctx = LineContext::parse(v.item.as_ref(), v.ts.as_ref())?;
    Ok((text, conv, ctx))
}

/// Longest message accepted (a chat message, not a document): the NLU's one
/// input budget.
pub const MAX_MESSAGE_CHARS: usize = crate::nlu::MAX_INPUT_CHARS;

/// `xiaoer classify --jsonl`: one JSON object per input line, in order; lines
/// sharing a conversation are one dialogue; a bad line gets `{"line", "error"}`.
pub fn classify_jsonl(
    engine: &Engine,
    explain: bool,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    let mut convs: std::collections::HashMap<String, Conversation> = Default::default();
    let mut buf = Vec::new();
    let mut n = 0usize;
    loop {
        buf.clear();
        if input
            .read_until(b'\n', &mut buf)
            .map_err(|e| io::Error::new(e.kind(), format!("reading stdin: {e}")))?
            == 0
        {
            break;
        }
        n += 1;
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        if buf.iter().all(|b| b.is_ascii_whitespace()) {
            serde_json::to_writer(
                &mut out,
                &serde_json::json!({"line": n, "error": "empty line"}),
            )?;
            out.write_all(b"\n")?;
            continue;
        }
        match parse_line(&buf, MAX_MESSAGE_CHARS) {
            Err(e) => serde_json::to_writer(&mut out, &serde_json::json!({"line": n, "error": e}))?,
            Ok((text, conv, ctx)) => {
                let mut single = Conversation::default();
                let state = match &conv {
                    Some(id) => convs.entry(id.clone()).or_default(),
                    None => &mut single,
                };
                let d = engine.decide_on(state, &text, &ctx.context(), explain);
                let reason = d.reason.as_ref().map(|r| r.as_str().to_string());
                let o = Out {
                    text: &text,
                    intents: &d.intents,
                    action: d.action.as_str(),
                    confidence: (d.confidence * 1000.0).round() / 1000.0,
                    reply: &d.reply,
                    lang: d.lang.as_str(),
                    reason: reason.as_deref(),
                    conversation: conv.as_deref(),
                    summary: d.summary.as_deref(),
                    item: d.item.as_deref(),
                };
                serde_json::to_writer(&mut out, &o)?;
            }
        }
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// `xiaoer chat`: the bot in a terminal, one conversation, until an empty line
/// or the end of `input`.
pub fn chat(engine: &Engine, input: &mut impl BufRead, w: &mut impl Write) -> io::Result<()> {
    let shop = engine
        .config
        .facts("zh")
        .get("shop")
        .cloned()
        .unwrap_or_default();
    out!(w, "xiaoer chat — you are a buyer chatting with {shop}. Type a message (中文 or English); an empty line ends.");
    out!(
        w,
        "Try: 亲 在吗 有货吗 · 能便宜点吗 · 包邮吗 · when will you ship? · 我要投诉"
    );
    let mut conv = Conversation::default();
    let mut line = String::new();
    loop {
        {
            let _ = write!(w, "\nbuyer> ");
            let _ = w.flush();
        }
        line.clear();
        if input
            .read_line(&mut line)
            .map_err(|e| io::Error::new(e.kind(), format!("reading stdin: {e}")))?
            == 0
            || line.trim().is_empty()
        {
            break;
        }
        let d = engine.decide(&mut conv, line.trim(), false);
        out!(w, "bot>   {}", d.reply);
        match &d.reason {
            Some(r) => out!(
                w,
                "       [{} · {:.2} · handed to a person: {}]",
                d.intents.join("+"),
                d.confidence,
                r.as_str()
            ),
            None => out!(w, "       [{} · {:.2}]", d.intents.join("+"), d.confidence),
        }
    }
    Ok(())
}

/// `xiaoer teach --state`: each escalated message with the bot's reading
/// now, then the operator's answer from `input`: an intent id teaches it,
/// an empty line skips, `?` lists the ids, `q` (or the end of input) stops.
/// Duplicates are asked once.
pub fn teach_interactive(
    engine: &Engine,
    teacher: &dyn crate::gateway::Teacher,
    who: &str,
    texts: impl Iterator<Item = String>,
    input: &mut impl BufRead,
    w: &mut impl Write,
) -> io::Result<()> {
    let ids: Vec<(String, String)> = teacher.intents();
    let mut seen = std::collections::HashSet::new();
    let (mut taught, mut asked) = (0, 0);
    'messages: for text in texts {
        if !seen.insert(text.clone()) {
            continue;
        }
        asked += 1;
        let c = engine.nlu.classify(&text, false);
        let read: Vec<&str> = c
            .intents
            .iter()
            .map(|s| engine.nlu.intents[s.intent].id.as_str())
            .collect();
        let read = if read.is_empty() {
            "none".to_string()
        } else {
            read.join("+")
        };
        writeln!(
            w,
            "\n“{}”  (read as {read}, {:.2})",
            crate::logsafe::escape(&text),
            c.confidence
        )?;
        loop {
            write!(w, "intent id (Enter skips, ? lists, q stops): ")?;
            w.flush()?;
            let mut line = String::new();
            if input.read_line(&mut line)? == 0 {
                writeln!(w)?;
                break 'messages;
            }
            match line.trim() {
                "" => break,
                "q" => break 'messages,
                "?" => {
                    for (id, description) in &ids {
                        writeln!(w, "  {id:<16} {description}")?;
                    }
                }
                id => match teacher.teach(&text, id, who) {
                    Ok(at) => {
                        taught += 1;
                        writeln!(w, "taught as {id} ({at})")?;
                        break;
                    }
                    Err(why) => writeln!(w, "not taught: {why}")?,
                },
            }
        }
    }
    if asked == 0 {
        writeln!(w, "nothing escalated in this range: nothing to teach")?;
    } else {
        writeln!(w, "{taught} taught of {asked} shown")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn logs_are_coloured_only_on_a_terminal_without_no_color() {
        let rows: [(bool, Option<&str>, bool); 6] = [
            (true, None, true),
            (true, Some(""), true),
            (true, Some("1"), false),
            (true, Some("0"), false),
            (false, None, false),
            (false, Some(""), false),
        ];
        for (terminal, no_color, want) in rows {
            assert_eq!(
                colour(terminal, no_color.map(OsStr::new)),
                want,
                "terminal {terminal}, NO_COLOR {no_color:?}"
            );
        }
    }
}
