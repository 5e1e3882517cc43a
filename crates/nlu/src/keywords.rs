//! Keyword matching: one Aho-Corasick automaton over every intent's keywords,
//! hints and negative phrases, run once per message.

use super::normalize::on_word_boundaries;
use aho_corasick::{AhoCorasick, MatchKind};

/// What a phrase does when found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keyword {
    /// Strong evidence.
    Strong,
    /// Weak evidence.
    Hint,
    /// Rules the intent out of the clause.
    Negative,
}

impl Keyword {
    /// The kind's name, for `--explain`.
    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::Strong => "keyword",
            Keyword::Hint => "hint",
            Keyword::Negative => "negative",
        }
    }
}

/// One phrase of one intent.
#[derive(Debug, Clone)]
pub struct Phrase {
    /// Index of the intent.
    pub intent: usize,
    /// What it does.
    pub kind: Keyword,
    /// The normalised phrase.
    pub text: String,
    /// Evidence weight (0 for negatives).
    pub weight: f32,
    latin: bool,
}

/// A phrase found in a message.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    /// Index into [`Keywords::phrases`].
    pub phrase: usize,
    /// Byte range in the normalised message.
    pub start: usize,
    /// End of the byte range.
    pub end: usize,
}

/// The compiled automaton. It also carries extra byte literals (the patterns'
/// prefilter literals), so one scan of the message serves both.
#[derive(Debug, Clone)]
pub struct Keywords {
    ac: Option<AhoCorasick>,
    /// Every phrase, in automaton pattern order.
    pub phrases: Vec<Phrase>,
}

/// Evidence weight of a keyword: longer phrases are more specific.
fn weight(kind: Keyword, text: &str) -> f32 {
    let chars = text.chars().count() as f32;
    let latin = text.is_ascii();
    // Latin words are longer per unit of meaning than Chinese characters.
    let units = if latin { (chars / 3.0).max(1.0) } else { chars };
    match kind {
        Keyword::Strong => (0.5 + 0.25 * units).min(1.5),
        Keyword::Hint => 0.3,
        Keyword::Negative => 0.0,
    }
}

impl Keywords {
    /// Builds the automaton from `(intent index, kind, normalised phrase)` triples
    /// and extra `literals`, reported apart by [`Keywords::find`].
    pub fn new(items: Vec<(usize, Keyword, String)>, literals: &[Vec<u8>]) -> Keywords {
        let mut phrases = Vec::new();
        for (intent, kind, text) in items {
            let latin = text.is_ascii();
            phrases.push(Phrase {
                intent,
                kind,
                weight: weight(kind, &text),
                latin,
                text,
            });
        }
        let all: Vec<&[u8]> = phrases
            .iter()
            .map(|p| p.text.as_bytes())
            .chain(literals.iter().map(|l| l.as_slice()))
            .collect();
        // A contiguous NFA: built in a fraction of a DFA's time (start-up counts)
        // and, measured, as fast on chat-length messages.
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .build(&all)
            .ok()
            .filter(|_| !all.is_empty());
        Keywords { ac, phrases }
    }

    /// Every phrase found in `text`, and every extra literal (its index in
    /// `Hit::phrase`), overlaps included, each list ordered by end. Linear in
    /// `text`: at most one hit per phrase ending at each byte, and phrases
    /// ending at one byte are suffixes of the longest there (a bound set by
    /// the intent files, not the message).
    pub fn find(&self, text: &str) -> (Vec<Hit>, Vec<Hit>) {
        // Sized for a chat message's hits up front (growing the lists one
        // push at a time was a measured share of the allocations).
        let guess = text.len().min(256);
        let (mut hits, mut lits) = (Vec::with_capacity(guess), Vec::with_capacity(guess));
        let Some(ac) = &self.ac else {
            return (hits, lits);
        };
        let n = self.phrases.len();
        for m in ac.find_overlapping_iter(text) {
            let k = m.pattern().as_usize();
            if k >= n {
                lits.push(Hit {
                    phrase: k - n,
                    start: m.start(),
                    end: m.end(),
                });
            } else if !self.phrases[k].latin || on_word_boundaries(text, m.start(), m.end()) {
                hits.push(Hit {
                    phrase: k,
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
        // Ordered by end (the automaton reports matches as it reaches their
        // end; the stable sort only makes that a stated fact), so a clause
        // finds its hits by binary search in [`within`].
        hits.sort_by_key(|h| h.end);
        lits.sort_by_key(|h| h.end);
        (hits, lits)
    }
}

/// Longest phrase wins: of a clause's `hits`, the ones lying inside a
/// strictly longer strong keyword of another intent. An operator who writes
/// 申请价保 for bargain beside 价保 for return_exchange means the longer
/// phrase to decide where it occurs; the shorter one is part of it, not a
/// second reading. Only strong keywords are subsumed by other intents' ones:
/// a hint is weak evidence that may well belong to the longer phrase's
/// question too ("how long" before "before you ship"), and a negative is
/// written to veto other readings. A negative lying inside a strictly longer
/// strong keyword of its own intent is subsumed, though: an operator who
/// vetoes return_exchange by 取消 and writes 取消退款申请 for it means the
/// longer phrase to count, not to veto itself. Returns one flag per hit, in
/// order; O(k log k + n) in the clause's k hits and the n intents they name
/// (a sort and one sweep).
pub fn subsumed(phrases: &[Phrase], hits: &[Hit]) -> Flags {
    let mut out = Flags::new(hits.len());
    if hits.len() < 2 {
        // Nothing to lie inside (most clauses): no sort, no order list.
        return out;
    }
    // The order list on the stack for a clause's first few dozen hits.
    let (mut few, mut many) = ([0usize; 32], Vec::new());
    let order: &mut [usize] = if hits.len() <= few.len() {
        few.iter_mut().enumerate().for_each(|(k, o)| *o = k);
        &mut few[..hits.len()]
    } else {
        many.extend(0..hits.len());
        &mut many
    };
    // By start, longer first: every hit that could cover another comes
    // before it, or is the same span.
    order.sort_by(|&a, &b| {
        let (x, y) = (&hits[a], &hits[b]);
        x.start.cmp(&y.start).then(y.end.cmp(&x.end))
    });
    // The two furthest-reaching strong hits seen so far, of two different
    // intents: (end, intent). A hit of intent i is covered when the furthest
    // one of another intent reaches its end.
    let mut best: [Option<(usize, usize)>; 2] = [None, None];
    // Per intent with a negative hit, the furthest end of its own strong hits
    // so far: empty when the clause has no negative to judge (most do not).
    let mut own: Vec<usize> = Vec::new();
    let vetoing = hits
        .iter()
        .map(|h| &phrases[h.phrase])
        .filter(|p| p.kind == Keyword::Negative)
        .map(|p| p.intent)
        .max();
    if let Some(i) = vetoing {
        own.resize(i + 1, 0);
    }
    let mut k = 0;
    while k < order.len() {
        // Hits of one span are judged before any of them is seen.
        let span = (hits[order[k]].start, hits[order[k]].end);
        let mut j = k;
        while j < order.len() && (hits[order[j]].start, hits[order[j]].end) == span {
            let h = order[j];
            let p = &phrases[hits[h].phrase];
            if p.kind == Keyword::Strong {
                let reach = best
                    .iter()
                    .flatten()
                    .filter(|(_, i)| *i != p.intent)
                    .map(|(e, _)| *e)
                    .max();
                if reach.is_some_and(|e| e >= span.1) {
                    out.set(h);
                }
            } else if p.kind == Keyword::Negative && own.get(p.intent).is_some_and(|&e| e >= span.1)
            {
                out.set(h);
            }
            j += 1;
        }
        for &h in &order[k..j] {
            let p = &phrases[hits[h].phrase];
            if p.kind != Keyword::Strong {
                continue;
            }
            note_reach(&mut best, hits[h].end, p.intent);
            if let Some(e) = own.get_mut(p.intent) {
                *e = (*e).max(hits[h].end);
            }
        }
        k = j;
    }
    out
}

/// One flag per hit of a clause: bits on the stack for its first 64 hits
/// (nearly every clause), a list beyond.
pub struct Flags {
    few: u64,
    many: Vec<bool>,
}

impl Flags {
    fn new(hits: usize) -> Flags {
        Flags {
            few: 0,
            many: if hits > 64 {
                vec![false; hits]
            } else {
                Vec::new()
            },
        }
    }

    fn set(&mut self, hit: usize) {
        match self.many.get_mut(hit) {
            Some(f) => *f = true,
            None => self.few |= 1 << hit,
        }
    }

    /// Whether hit `hit` is flagged.
    pub fn get(&self, hit: usize) -> bool {
        match self.many.get(hit) {
            Some(&f) => f,
            None => hit < 64 && self.few >> hit & 1 != 0,
        }
    }
}

/// Keeps `best` the two furthest-reaching (end, intent) pairs of two
/// different intents, each intent at its furthest end, after a strong hit
/// of `intent` ending at `end`.
fn note_reach(best: &mut [Option<(usize, usize)>; 2], end: usize, intent: usize) {
    if let Some(slot) = best.iter_mut().flatten().find(|(_, i)| *i == intent) {
        slot.0 = slot.0.max(end);
    } else if best[1].is_none_or(|b| end > b.0) {
        best[1] = Some((end, intent));
    }
    if best[1].is_some_and(|b| best[0].is_none_or(|a| b.0 > a.0)) {
        best.swap(0, 1);
    }
}

/// The hits of `sorted` (ordered by end, as [`Keywords::find`] returns them)
/// that lie inside `range`, in order. Found by binary search on their ends, so
/// the clauses of a message together cost O(hits + clauses × log hits), not
/// clauses × hits; the few hits that end inside `range` but start before it
/// (at most a phrase's length of them) are skipped.
pub fn within<'h>(
    sorted: &'h [Hit],
    range: &std::ops::Range<usize>,
) -> impl Iterator<Item = &'h Hit> + 'h {
    let lo = sorted.partition_point(|h| h.end <= range.start);
    let hi = sorted.partition_point(|h| h.end <= range.end);
    let start = range.start;
    sorted[lo..hi.max(lo)]
        .iter()
        .filter(move |h| h.start >= start)
}

/// [`within`] as a list: borrowed from `sorted` when no hit ending inside
/// `range` starts before it (nearly every clause: a phrase rarely straddles
/// a clause boundary), so a clause's hits are not copied.
pub fn within_slice<'h>(
    sorted: &'h [Hit],
    range: &std::ops::Range<usize>,
) -> std::borrow::Cow<'h, [Hit]> {
    let lo = sorted.partition_point(|h| h.end <= range.start);
    let hi = sorted.partition_point(|h| h.end <= range.end);
    let all = &sorted[lo..hi.max(lo)];
    if all.iter().all(|h| h.start >= range.start) {
        std::borrow::Cow::Borrowed(all)
    } else {
        std::borrow::Cow::Owned(within(sorted, range).copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flags on the stack and past it answer as a list of booleans.
    #[test]
    fn flags_are_a_list() {
        for n in [0usize, 1, 2, 63, 64, 65, 200] {
            let set: Vec<usize> = (0..n).filter(|k| k % 3 == 0 || *k == n - 1).collect();
            let mut flags = Flags::new(n);
            set.iter().for_each(|&k| flags.set(k));
            for k in 0..n + 2 {
                assert_eq!(flags.get(k), set.contains(&k), "{n} {k}");
            }
        }
    }

    /// The borrowed list is the filtered one, straddling hits or not.
    #[test]
    fn within_slice_is_within() {
        // (start, end), ordered by end.
        let spans = [(0, 3), (0, 6), (3, 6), (4, 9), (6, 9), (7, 12), (9, 12)];
        let hits: Vec<Hit> = spans
            .iter()
            .enumerate()
            .map(|(phrase, &(start, end))| Hit { phrase, start, end })
            .collect();
        for start in 0..13 {
            for end in start..13 {
                let range = start..end;
                let want: Vec<usize> = within(&hits, &range).map(|h| h.phrase).collect();
                let got: Vec<usize> = within_slice(&hits, &range)
                    .iter()
                    .map(|h| h.phrase)
                    .collect();
                assert_eq!(got, want, "{range:?}");
            }
        }
    }

    /// Phrases of `(intent, kind, text)`, found in `msg`, and which are subsumed.
    fn run(phrases: &[(usize, Keyword, &str)], msg: &str) -> Vec<(String, bool)> {
        let kw = Keywords::new(
            phrases
                .iter()
                .map(|&(i, k, t)| (i, k, t.to_string()))
                .collect(),
            &[],
        );
        let (hits, _) = kw.find(msg);
        let flags = subsumed(&kw.phrases, &hits);
        hits.iter()
            .enumerate()
            .map(|(k, h)| (kw.phrases[h.phrase].text.clone(), flags.get(k)))
            .collect()
    }

    #[test]
    fn the_longest_phrase_of_another_intent_wins() {
        use Keyword::*;
        // (phrases, message, the subsumed phrases)
        let rows: &[(&[(usize, Keyword, &str)], &str, &[&str])] = &[
            // 申请价保 (bargain) holds 价保 (return_exchange).
            (
                &[(0, Strong, "申请价保"), (1, Strong, "价保")],
                "您好 申请价保",
                &["价保"],
            ),
            // Apart, both stand.
            (
                &[(0, Strong, "申请价保"), (1, Strong, "价保")],
                "价保 怎么申请",
                &[],
            ),
            // The same intent's shorter phrase adds up as before.
            (
                &[(0, Strong, "申请价保"), (0, Strong, "价保")],
                "申请价保",
                &[],
            ),
            // Hints are never subsumed, nor negatives by another intent.
            (
                &[(0, Strong, "before you ship"), (1, Hint, "ship")],
                "before you ship",
                &[],
            ),
            (
                &[(0, Strong, "申请价保"), (1, Negative, "价保")],
                "申请价保",
                &[],
            ),
            // A negative inside a longer strong phrase of its own intent is
            // part of that phrase (取消 vetoes return_exchange, 取消退款申请 is it).
            (
                &[(0, Strong, "取消退款申请"), (0, Negative, "取消")],
                "我想取消退款申请",
                &["取消"],
            ),
            // Not when the negative stands apart, reaches past the phrase, or
            // is the phrase itself.
            (
                &[(0, Strong, "退款申请"), (0, Negative, "取消")],
                "取消 退款申请",
                &[],
            ),
            (
                &[(0, Strong, "退款申"), (0, Negative, "款申请")],
                "退款申请",
                &[],
            ),
            (
                &[(0, Strong, "取消退款"), (0, Negative, "取消退款")],
                "取消退款",
                &[],
            ),
            // A hint of its own intent does not lift the veto.
            (
                &[(0, Hint, "取消退款申请"), (0, Negative, "取消")],
                "取消退款申请",
                &[],
            ),
            // A hint does not subsume.
            (
                &[(0, Hint, "申请价保"), (1, Strong, "价保")],
                "申请价保",
                &[],
            ),
            // The same phrase in two intents: neither wins.
            (&[(0, Strong, "价保"), (1, Strong, "价保")], "价保", &[]),
            // Overlapping but not inside: both stand.
            (
                &[(0, Strong, "申请价"), (1, Strong, "价保")],
                "申请价保",
                &[],
            ),
            // Covered by a phrase of another intent, whichever intents reach further (乙 of
            // intent 1 lies inside 甲乙 of intent 0, though intent 1 holds the longest).
            (
                &[
                    (0, Strong, "甲乙"),
                    (1, Strong, "甲乙丙丁"),
                    (2, Strong, "甲乙丙"),
                    (1, Strong, "乙"),
                ],
                "甲乙丙丁",
                &["甲乙", "乙", "甲乙丙"],
            ),
        ];
        for (phrases, msg, want) in rows {
            let got: Vec<String> = run(phrases, msg)
                .into_iter()
                .filter(|(_, f)| *f)
                .map(|(t, _)| t)
                .collect();
            assert_eq!(&got, want, "{msg}: {phrases:?}");
        }
    }
}
