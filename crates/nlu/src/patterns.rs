//! Pattern matching: every intent's regular expressions, with a literal
//! prefilter so that a clause only runs the few patterns that could match it.
//!
//! Why not one `RegexSet`: it was the first design, and measured on the dev set
//! with the shipped ~200 patterns it ran at 7,000 messages/s with a p99 of 4 ms —
//! an overlapping search over every pattern at once keeps rebuilding the lazy
//! DFA's states (bounded `.{0,6}` over Chinese text multiplies them). Each
//! pattern's possible first literals (`regex-syntax`'s extractor) go into one
//! Aho-Corasick automaton; a pattern runs only when one of them occurs in the
//! clause (or always, when it has no finite set of first literals).
//!
//! Many operator patterns are finite lists in disguise (`加(?:我|个)?(?:微信|vx)`).
//! Their whole language goes into the automaton instead, and they need no
//! compiled regex at all: memory grows with the compiled patterns (each holds
//! its own automata, ~10 KB), and a literal hit is already the answer. A regex per intent (`RegexSet`) was measured too: it
//! used more memory, not less (300 MB against 191 MB at ten times the data).

use regex_automata::meta;
use regex_automata::nfa::thompson::WhichCaptures;
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::Hir;

/// The compiled patterns.
#[derive(Debug, Clone)]
pub struct Patterns {
    /// The compiled regex of each pattern; `None` for a finite list, decided
    /// by its literals alone.
    regexes: Vec<Option<meta::Regex>>,
    /// Intent index of each pattern.
    pub intent: Vec<usize>,
    /// Source of each pattern (for `--explain`).
    pub source: Vec<String>,
    /// Every distinct literal: first, last and inner literals of the patterns
    /// (the prefilter), and every string of the finite ones.
    pub literals: Vec<Vec<u8>>,
    /// (pattern, role) of each literal, role being [`FIRST`], [`LAST`], [`WHOLE`],
    /// [`WORD`] or [`INNER`]: those of literal `l` are `owners[owner_start[l]..owner_start[l + 1]]`.
    /// Patterns share literals (colour lists, 吗, 多少), so each is stored once.
    owners: Vec<(u32, u8)>,
    owner_start: Vec<u32>,
    /// Per pattern: whether it has a finite set of first / last / inner
    /// literals. A pattern runs only when every finite set has a member in
    /// the clause.
    needs: Vec<[bool; 3]>,
    /// The compiled patterns with no finite set of first or last literals,
    /// in order: they run on every clause.
    always: Vec<usize>,
    /// Per pattern: what its matches must look like (see [`Shape`]).
    shape: Vec<Shape>,
    /// Per pattern: every match holds an ASCII digit (see [`needs_digit`]):
    /// the quantity and price patterns run on every clause ending in 吗 that
    /// holds a measure word, and most such clauses have no digit.
    digit: Vec<bool>,
    /// Per pattern, the roles ([`FIRST`], [`LAST`], [`INNER`]) its literals
    /// must all have in a clause before its regex may run; 0 for a finite
    /// list, which needs one [`WHOLE`] or [`WORD`] literal.
    want: Vec<u8>,
}

/// What any match of a pattern must look like, read off its syntax, so that a
/// clause that cannot hold one is turned away before the regex runs (most of
/// the patterns that run on every clause are anchored at both ends, and an
/// anchored pattern's first character already rules out nearly every clause).
#[derive(Debug, Clone)]
struct Shape {
    /// Anchored at the clause's start (`^`): a first literal counts only at 0.
    start: bool,
    /// Anchored at the clause's end (`$`): a last literal counts only there.
    end: bool,
    /// Fewest bytes a match spans; most, when anchored at both ends (the
    /// match is then the whole clause; `u32::MAX`: unbounded).
    min: u32,
    max: u32,
    /// When anchored at the start (end), the characters a match can start
    /// (end) with, as sorted inclusive ranges; empty when unknown.
    first: Vec<(u32, u32)>,
    last: Vec<(u32, u32)>,
}

impl Shape {
    fn of(hir: &Hir) -> Shape {
        use regex_syntax::hir::Look;
        let p = hir.properties();
        let start = p.look_set_prefix().contains(Look::Start);
        let end = p.look_set_suffix().contains(Look::End);
        let edge = |anchored: bool, front: bool| {
            anchored
                .then(|| edge_chars(hir, front))
                .flatten()
                .filter(|(_, nullable)| !nullable)
                .map(|(set, _)| merged(set))
                .unwrap_or_default()
        };
        Shape {
            start,
            end,
            min: p
                .minimum_len()
                .map_or(0, |n| n.min(u32::MAX as usize) as u32),
            max: match p.maximum_len() {
                Some(n) if start && end => n.min(u32::MAX as usize) as u32,
                _ => u32::MAX,
            },
            first: edge(start, true),
            last: edge(end, false),
        }
    }

    /// Whether `clause` could hold a match.
    fn fits(&self, clause: &str) -> bool {
        let within = |set: &[(u32, u32)], c: Option<char>| {
            set.is_empty()
                || c.is_some_and(|c| set.iter().any(|&(lo, hi)| (lo..=hi).contains(&(c as u32))))
        };
        (self.min as usize..=self.max as usize).contains(&clause.len())
            && within(&self.first, clause.chars().next())
            && within(&self.last, clause.chars().next_back())
    }
}

/// The characters any match of `hir` starts with (`front`) or ends with, and
/// whether it can match the empty string (then the set does not cover every
/// match); `None` when not known (bytes that are not UTF-8).
fn edge_chars(hir: &Hir, front: bool) -> Option<(Vec<(u32, u32)>, bool)> {
    use regex_syntax::hir::{Class, HirKind};
    Some(match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => (Vec::new(), true),
        HirKind::Literal(lit) => {
            let s = std::str::from_utf8(&lit.0).ok()?;
            let c = if front {
                s.chars().next()
            } else {
                s.chars().next_back()
            }? as u32;
            (vec![(c, c)], false)
        }
        HirKind::Class(Class::Unicode(cls)) => (
            cls.iter()
                .map(|r| (r.start() as u32, r.end() as u32))
                .collect(),
            false,
        ),
        HirKind::Class(Class::Bytes(cls)) => {
            if cls.iter().any(|r| r.end() > 0x7F) {
                return None;
            }
            (
                cls.iter()
                    .map(|r| (r.start() as u32, r.end() as u32))
                    .collect(),
                false,
            )
        }
        HirKind::Repetition(rep) => {
            let (set, nullable) = edge_chars(&rep.sub, front)?;
            (set, nullable || rep.min == 0)
        }
        HirKind::Capture(cap) => edge_chars(&cap.sub, front)?,
        HirKind::Concat(parts) => {
            let mut all = Vec::new();
            let mut order: Box<dyn Iterator<Item = &Hir>> = if front {
                Box::new(parts.iter())
            } else {
                Box::new(parts.iter().rev())
            };
            loop {
                let Some(part) = order.next() else {
                    break (all, true);
                };
                let (set, nullable) = edge_chars(part, front)?;
                all.extend(set);
                if !nullable {
                    break (all, false);
                }
            }
        }
        HirKind::Alternation(alts) => {
            let mut all = Vec::new();
            let mut any_nullable = false;
            for alt in alts {
                let (set, nullable) = edge_chars(alt, front)?;
                all.extend(set);
                any_nullable |= nullable;
            }
            (all, any_nullable)
        }
    })
}

/// Sorted, merged inclusive ranges.
fn merged(mut set: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    set.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(set.len());
    for (lo, hi) in set {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// Whether every match of `hir` holds an ASCII digit: a literal with one, a
/// class of digits only, a repetition of at least one of them, a sequence
/// with such a part, an alternation whose every branch is one. Conservative:
/// `false` when unsure.
fn needs_digit(hir: &Hir) -> bool {
    use regex_syntax::hir::{Class, HirKind};
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(lit) => lit.0.iter().any(u8::is_ascii_digit),
        HirKind::Class(Class::Unicode(cls)) => {
            !cls.ranges().is_empty()
                && cls
                    .iter()
                    .all(|r| ('0'..='9').contains(&r.start()) && ('0'..='9').contains(&r.end()))
        }
        HirKind::Class(Class::Bytes(cls)) => {
            !cls.ranges().is_empty()
                && cls
                    .iter()
                    .all(|r| r.start().is_ascii_digit() && r.end().is_ascii_digit())
        }
        HirKind::Repetition(rep) => rep.min >= 1 && needs_digit(&rep.sub),
        HirKind::Capture(cap) => needs_digit(&cap.sub),
        HirKind::Concat(parts) => parts.iter().any(needs_digit),
        HirKind::Alternation(alts) => alts.iter().all(needs_digit),
    }
}

/// Roles of a literal for its pattern (bit positions).
const FIRST: u8 = 0;
const LAST: u8 = 1;
const WHOLE: u8 = 2;
/// A whole match when it stands between ASCII word boundaries (`\bfree ship\b`).
const WORD: u8 = 3;
/// One of these must occur somewhere in a match (see [`inner_literals`]).
const INNER: u8 = 4;
/// Shortest inner literal worth a place in the automaton: one Chinese
/// character, or three Latin letters.
const INNER_MIN_BYTES: usize = 3;

/// For a pattern without finite first and last literals (`^[a-z;]*(?:asdf|qwer)…`,
/// `\d+…(?:斤|包|…)\D{0,3}\d+…吗`): the first literals of one part of its
/// top-level sequence, one of which any match holds. Of the parts (but the
/// first, when its first literals are already known) the one whose shortest
/// literal is longest, then the one with fewest. `None` when no part has a
/// short finite set.
fn inner_literals(hir: &Hir, skip_first: bool) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::HirKind;
    let HirKind::Concat(parts) = hir.kind() else {
        return None;
    };
    let mut best: Option<(usize, Vec<Vec<u8>>)> = None;
    let mut first = true;
    for part in parts {
        if matches!(part.kind(), HirKind::Look(_)) {
            continue;
        }
        if std::mem::replace(&mut first, false) && skip_first {
            continue;
        }
        let Some(lits) = edge_literals(part, ExtractKind::Prefix) else {
            continue;
        };
        let shortest = lits.iter().map(Vec::len).min().unwrap_or(0);
        let better = best
            .as_ref()
            .is_none_or(|(s, l)| shortest > *s || (shortest == *s && lits.len() < l.len()));
        if shortest >= INNER_MIN_BYTES && better {
            best = Some((shortest, lits));
        }
    }
    best.map(|(_, lits)| lits)
}

/// Bytes kept of each edge literal. Alternations multiply: `有(?:黑|白|…)色?的?(?:吗|没)`
/// has hundreds of full prefixes but a few dozen of 3 characters, and three
/// characters already rule out nearly every clause.
const EDGE_BYTES: usize = 9;

/// The literals one of which must start (or end) any match of `hir`, if finite.
fn edge_literals(hir: &Hir, kind: ExtractKind) -> Option<Vec<Vec<u8>>> {
    let prefix = matches!(kind, ExtractKind::Prefix);
    let mut seq = Extractor::new().kind(kind).extract(hir);
    if prefix {
        seq.keep_first_bytes(EDGE_BYTES);
    } else {
        seq.keep_last_bytes(EDGE_BYTES);
    }
    seq.dedup();
    let lits = seq.literals()?;
    if lits.is_empty() || lits.len() > 200 || lits.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    Some(lits.iter().map(|l| l.as_bytes().to_vec()).collect())
}

/// Every string `hir` matches, when it is a short finite list with no
/// look-around (the extractor treats `\b` and `^` as empty, which a plain
/// substring test would not honour), and the role its hits play: [`WHOLE`], or
/// [`WORD`] for a list between ASCII word boundaries whose every string starts
/// and ends with a word character (so the boundary test is one byte each side).
fn whole_language(hir: &Hir) -> Option<(Vec<Vec<u8>>, u8)> {
    use regex_syntax::hir::{HirKind, Look};
    if hir.properties().look_set().is_empty() {
        return finite(hir).map(|l| (l, WHOLE));
    }
    let HirKind::Concat(parts) = hir.kind() else {
        return None;
    };
    let word = |h: &Hir| matches!(h.kind(), HirKind::Look(Look::WordAscii));
    if parts.len() < 3 || !word(&parts[0]) || !word(&parts[parts.len() - 1]) {
        return None;
    }
    let inner = Hir::concat(parts[1..parts.len() - 1].to_vec());
    if !inner.properties().look_set().is_empty() {
        return None;
    }
    let lits = finite(&inner)?;
    let edges_are_word = lits
        .iter()
        .all(|l| is_word_byte(l[0]) && is_word_byte(l[l.len() - 1]));
    edges_are_word.then_some((lits, WORD))
}

/// What `(?-u:\b)` counts as a word character.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The strings of a finite, look-free `hir`, if there are few.
fn finite(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let seq = Extractor::new().extract(hir);
    if !seq.is_exact() {
        return None;
    }
    let lits = seq.literals()?;
    if lits.is_empty() || lits.len() > 250 || lits.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    Some(lits.iter().map(|l| l.as_bytes().to_vec()).collect())
}

/// Compiles one pattern for `is_match` only. No capture states (never read)
/// and no inner prefilter (the literal scan already decides when a pattern
/// runs) keep each compiled regex small. No lazy DFA either: its cache grows
/// with the text it meets (up to 2 MB per pattern by default, for months of
/// traffic), while the engines left (a small full DFA where one fits, else the
/// PikeVM) keep memory flat; clauses are short, and at ten times the intent
/// data p99 stayed under 170 µs. Built from the syntax tree the shape and
/// literals were read off (the same parser defaults as the meta builder's
/// own): building from the text parsed every pattern a second time, a
/// measured share of start-up.
fn compile(hir: &Hir) -> Result<meta::Regex, regex::Error> {
    let config = meta::Regex::config()
        .which_captures(WhichCaptures::None)
        .auto_prefilter(false)
        .hybrid(false);
    meta::Regex::builder()
        .configure(config)
        .build_from_hir(hir)
        .map_err(|e| regex::Error::Syntax(e.to_string()))
}

impl Patterns {
    /// Compiles `(intent, pattern)` pairs; an error names the failing pattern's index.
    pub fn new(items: Vec<(usize, String)>) -> Result<Patterns, (usize, regex::Error)> {
        let (intent, source): (Vec<usize>, Vec<String>) = items.into_iter().unzip();
        let mut regexes = Vec::with_capacity(source.len());
        let mut by_literal: std::collections::BTreeMap<Vec<u8>, Vec<(u32, u8)>> =
            Default::default();
        let mut needs = Vec::with_capacity(source.len());
        let mut shape = Vec::with_capacity(source.len());
        let mut digit = Vec::with_capacity(source.len());
        for (i, s) in source.iter().enumerate() {
            let fast = ascii_boundaries(s);
            let hir = regex_syntax::Parser::new()
                .parse(&fast)
                .map_err(|e| (i, regex::Error::Syntax(e.to_string())))?;
            shape.push(Shape::of(&hir));
            digit.push(needs_digit(&hir));
            let mut own = |l: Vec<u8>, role: u8| {
                by_literal.entry(l).or_default().push((i as u32, role));
            };
            if let Some((all, role)) = whole_language(&hir) {
                all.into_iter().for_each(|l| own(l, role));
                regexes.push(None);
                needs.push([false; 3]);
                continue;
            }
            regexes.push(Some(compile(&hir).map_err(|e| (i, e))?));
            let mut need = [false; 3];
            for (role, kind) in [(FIRST, ExtractKind::Prefix), (LAST, ExtractKind::Suffix)] {
                if let Some(ls) = edge_literals(&hir, kind) {
                    need[role as usize] = true;
                    ls.into_iter().for_each(|l| own(l, role));
                }
            }
            if !(need[0] && need[1]) {
                if let Some(ls) = inner_literals(&hir, need[0]) {
                    need[2] = true;
                    ls.into_iter().for_each(|l| own(l, INNER));
                }
            }
            needs.push(need);
        }
        let (mut literals, mut owners, mut owner_start) = (Vec::new(), Vec::new(), vec![0]);
        for (l, o) in by_literal {
            literals.push(l);
            owners.extend(o);
            owner_start.push(owners.len() as u32);
        }
        let always = (0..regexes.len())
            .filter(|&i| regexes[i].is_some() && needs[i] == [false; 3])
            .collect();
        let want = needs
            .iter()
            .map(|n| (n[0] as u8) << FIRST | (n[1] as u8) << LAST | (n[2] as u8) << INNER)
            .collect();
        Ok(Patterns {
            always,
            want,
            shape,
            digit,
            regexes,
            intent,
            source,
            literals,
            owners,
            owner_start,
            needs,
        })
    }

    /// Indices of the patterns matching `clause`, in pattern order.
    pub fn matches(&self, clause: &str) -> Vec<usize> {
        // On its own (tests, tools) a plain scan; the engine passes the hits of
        // its one automaton to `matches_given` instead.
        let hay = clause.as_bytes();
        let mut found = Vec::new();
        for (i, lit) in self.literals.iter().enumerate() {
            for (at, w) in hay.windows(lit.len()).enumerate() {
                if w == lit.as_slice() {
                    found.push((i, at, at + lit.len()));
                }
            }
        }
        self.matches_given(clause, found)
    }

    /// As [`Patterns::matches`], given where [`Patterns::literals`] occur in
    /// the clause, as (literal, start, end) byte offsets (found by the caller's
    /// own scan, overlaps included). The prefilter sorts the (pattern, role)
    /// pairs the literals name when there are fewer than patterns (the usual
    /// chat clause: O(f log f) with f < patterns, a bound set by the files),
    /// and marks a flag per pattern otherwise (O(found + patterns)), so it is
    /// linear in the clause either way; and
    /// each pattern that runs is linear in the clause (no lazy DFA, no
    /// backtracking engine: the meta regex's PikeVM or full DFA, O(m·n) for a
    /// pattern of size m), so a message costs O(n) for the operators' patterns.
    pub fn matches_given(
        &self,
        clause: &str,
        found: impl IntoIterator<Item = (usize, usize, usize)>,
    ) -> Vec<usize> {
        // The per-pattern flags are scratch space reused by the thread (a
        // (pattern, role) list grew a push at a time in every clause and was
        // sorted: a measured share of the prefilter). Taken, not borrowed, so
        // a nested call only allocates.
        SCRATCH.with(|cell| {
            let mut scratch = cell.take();
            let out = self.matches_flagged(clause, found, &mut scratch);
            cell.replace(scratch);
            out
        })
    }

    /// [`Patterns::matches_given`] with `scratch`'s flags all zero (and left so).
    fn matches_flagged(
        &self,
        clause: &str,
        found: impl IntoIterator<Item = (usize, usize, usize)>,
        scratch: &mut Scratch,
    ) -> Vec<usize> {
        let hay = clause.as_bytes();
        let n = self.regexes.len();
        if scratch.bits.len() < n {
            scratch.bits.resize(n, 0);
        }
        if scratch.first_at.len() < n {
            scratch.first_at.resize(n, u32::MAX);
        }
        let Scratch {
            bits,
            touched,
            first_at,
            ready,
        } = scratch;
        touched.clear();
        ready.clear();
        // Whether a pattern's literals are all there: the others cannot run
        // (`run` below turns them away), so only these are sorted and tried.
        let complete = |p: usize, b: u8| match self.want[p] {
            0 => b & (1 << WHOLE | 1 << WORD) != 0,
            w => b & w == w,
        };
        // One bit per role found (FIRST, LAST, WHOLE, WORD, INNER) for each
        // pattern some literal names, and the list of those patterns: a clause
        // pays for the literals it holds, not for every pattern of the files.
        for (l, start, end) in found {
            let owners =
                &self.owners[self.owner_start[l] as usize..self.owner_start[l + 1] as usize];
            for &(p, role) in owners {
                let skip = match role {
                    WORD => {
                        start > 0 && is_word_byte(hay[start - 1])
                            || hay.get(end).is_some_and(|&b| is_word_byte(b))
                    }
                    // An anchored pattern's edge literal counts only at its edge.
                    FIRST => start > 0 && self.shape[p as usize].start,
                    LAST => end < hay.len() && self.shape[p as usize].end,
                    _ => false,
                };
                if skip {
                    continue;
                }
                let b = &mut bits[p as usize];
                let was = *b;
                if was == 0 {
                    touched.push(p);
                }
                *b |= 1 << role;
                if *b != was && !complete(p as usize, was) && complete(p as usize, *b) {
                    ready.push(p);
                }
                if role == FIRST {
                    let at = &mut first_at[p as usize];
                    if *at != u32::MAX && *at != start as u32 {
                        *b |= SEVERAL_FIRSTS;
                    }
                    *at = (*at).min(start as u32);
                }
            }
        }
        let mut digits: Option<bool> = None;
        // `first`: where the pattern's first first literal starts in the
        // clause. Every match starts with one of its first literals, so the
        // regex runs anchored there when it is the only place one starts, and
        // from there on otherwise, instead of trying every position.
        let mut run = |i: usize, bits: u8, first: u32| match &self.regexes[i] {
            None => bits & (1 << WHOLE | 1 << WORD) != 0,
            Some(re) => {
                (!self.needs[i][0] || bits & (1 << FIRST) != 0)
                    && (!self.needs[i][1] || bits & (1 << LAST) != 0)
                    && (!self.needs[i][2] || bits & (1 << INNER) != 0)
                    && (!self.digit[i]
                        || *digits.get_or_insert_with(|| hay.iter().any(u8::is_ascii_digit)))
                    && self.shape[i].fits(clause)
                    && if self.needs[i][0] && (first as usize) < hay.len() {
                        let anchored = if bits & SEVERAL_FIRSTS == 0 {
                            regex_automata::Anchored::Yes
                        } else {
                            regex_automata::Anchored::No
                        };
                        re.is_match(
                            regex_automata::Input::new(clause)
                                .range(first as usize..)
                                .anchored(anchored),
                        )
                    } else {
                        re.is_match(clause)
                    }
            }
        };
        let mut out = Vec::new();
        if touched.len() * 8 > n {
            // A clause dense with literals (a long hostile one): every
            // pattern's flags in order instead of a sort, so the cost stays
            // linear.
            for (i, (b, at)) in bits[..n].iter_mut().zip(&mut first_at[..n]).enumerate() {
                if run(i, *b, *at) {
                    out.push(i);
                }
                *b = 0;
                *at = u32::MAX;
            }
            return out;
        }
        ready.sort_unstable();
        // Patterns with no finite set of edge literals run on every clause; they
        // are merged in pattern order with the ones whose literals are all in
        // the clause.
        let (mut k, mut a) = (0, 0);
        loop {
            let next_seen = ready.get(k).map(|&p| p as usize);
            let next_always = self.always.get(a).copied();
            let i = match (next_seen, next_always) {
                (None, None) => break,
                (Some(x), Some(y)) => x.min(y),
                (Some(x), None) => x,
                (None, Some(y)) => y,
            };
            if next_always == Some(i) {
                a += 1;
            }
            let (mut b, mut at) = (0, u32::MAX);
            if next_seen == Some(i) {
                (b, at) = (bits[i], first_at[i]);
                k += 1;
            }
            if run(i, b, at) {
                out.push(i);
            }
        }
        for &p in touched.iter() {
            bits[p as usize] = 0;
            first_at[p as usize] = u32::MAX;
        }
        out
    }
}

/// The prefilter's scratch space, bounded by the intent files: per pattern,
/// the roles of its literals found in the clause (all zero between
/// clauses) and where its first first literal starts (`u32::MAX` between
/// clauses), and which patterns have any (one entry each).
#[derive(Default)]
struct Scratch {
    bits: Vec<u8>,
    touched: Vec<u32>,
    first_at: Vec<u32>,
    /// The touched patterns whose literals are all there.
    ready: Vec<u32>,
}

/// A flag beside the roles' bits: a pattern's first literals start at more
/// than one place in the clause.
const SEVERAL_FIRSTS: u8 = 1 << 7;

thread_local! {
    /// Scratch space of [`Patterns::matches_given`].
    static SCRATCH: std::cell::Cell<Scratch> = const {
        std::cell::Cell::new(Scratch {
            bits: Vec::new(),
            touched: Vec::new(),
            first_at: Vec::new(),
            ready: Vec::new(),
        })
    };
}

/// Rewrites `\b`, `\B`, `\d`, `\D`, `\s` and `\S` as their ASCII forms. A Unicode
/// word boundary forces the regex engine off its DFA onto a far slower one;
/// around Chinese text the ASCII boundary is what operators mean anyway (a Latin
/// word's edge). Patterns run on normalised text, where digits are ASCII and
/// every run of white space is one ASCII space, so the ASCII classes match the
/// same clauses, with far smaller automata (`\S{0,8}` over Unicode's white
/// space cost a pattern ~40 KB). Each form is a bracket class, so it also works
/// inside one (`[\d一二]`).
pub fn ascii_boundaries(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 16);
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('b') => out.push_str("(?-u:\\b)"),
                // Digits are ASCII after normalisation; the Unicode class is huge.
                Some('d') => out.push_str("[0-9]"),
                Some('D') => out.push_str("[^0-9]"),
                Some('s') => out.push_str("[\\t\\n\\x0B\\x0C\\r ]"),
                Some('S') => out.push_str("[^\\t\\n\\x0B\\x0C\\r ]"),
                Some('B') => out.push_str("(?-u:\\B)"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    #[test]
    fn boundaries_become_ascii() {
        assert_eq!(ascii_boundaries(r"\bship\b"), r"(?-u:\b)ship(?-u:\b)");
        assert_eq!(ascii_boundaries(r"a\\b"), r"a\\b");
        assert_eq!(ascii_boundaries(r"\d+\B"), r"[0-9]+(?-u:\B)");
        assert_eq!(
            ascii_boundaries(r"\S{0,2}\s[^\D]"),
            r"[^\t\n\x0B\x0C\r ]{0,2}[\t\n\x0B\x0C\r ][^[^0-9]]"
        );
    }

    /// Which patterns compile a regex: a finite list (bounded by `\b` on word
    /// characters or not) needs none, anything else does.
    #[test]
    fn finite_lists_compile_no_regex() {
        let rows: &[(&str, bool)] = &[
            (r"加(?:我|个)?(?:微信|vx)", false),
            (r"(?:谈|聊)合作|商务合作", false),
            (r"\bfree ship(?:ping)?\b", false),
            (r"(?i)\bwechat\b", false),
            (r"\b(?:ok|yes) \b", true),
            (r"^在吗$", true),
            (r"\d{2,3}码", true),
            (r".*退", true),
            (r"\bhi\b|\bhello\b", true),
            (r"比\S{0,10}贵", true),
        ];
        for (pattern, compiled) in rows {
            let p = Patterns::new(vec![(0, pattern.to_string())]).unwrap();
            assert_eq!(p.regexes[0].is_some(), *compiled, "{pattern}");
        }
    }

    /// Which literal sets a pattern needs: first, last, inner.
    #[test]
    fn patterns_need_the_literal_sets_they_have() {
        let rows: &[(&str, [bool; 3])] = &[
            (r"什么时候.{0,3}(?:补|到货)", [true, true, false]),
            (r"^[a-z;]*(?:asdf|qwer)[a-z;]*$", [false, false, true]),
            (
                r"(?:\d+|[一两二三四五六七八九十半]+)(?:斤|包)\D{0,3}\d+(?:是吧|吗)",
                [false, true, true],
            ),
            // Too short to be worth it: one Latin letter.
            (r".*(?:a|b).*", [false, false, false]),
            (r"x.+", [true, false, false]),
            (r".+", [false, false, false]),
        ];
        for (pattern, want) in rows {
            let p = Patterns::new(vec![(0, pattern.to_string())]).unwrap();
            assert_eq!(p.needs[0], *want, "{pattern}");
        }
    }

    /// Which patterns need an ASCII digit in every match.
    #[test]
    fn patterns_that_need_a_digit() {
        let rows: &[(&str, bool)] = &[
            (r"\d+块", true),
            (r"(?:\d+|[一两]+)(?:斤|包)\D{0,3}\d+(?:是吧|吗)", true),
            (r"(?:\d+|[一两]+)(?:斤|包)吗", false),
            (r"\d*块", false),
            (r"1[4-9]斤", true),
            (r"[0-9a]码", false),
            (r"(?:\d+号|明天)到", false),
            (r"(?:\d+号|3天)到", true),
            (r"\D+", false),
            (r"\d{0,2}", false),
            (r"(\d)", true),
            (r"^$", false),
        ];
        for (pattern, want) in rows {
            let hir = regex_syntax::Parser::new()
                .parse(&ascii_boundaries(pattern))
                .unwrap();
            assert_eq!(needs_digit(&hir), *want, "{pattern}");
        }
    }

    /// Which clauses a pattern's shape lets through to its regex.
    #[test]
    fn shapes_turn_away_clauses_that_cannot_match() {
        // (pattern, clause, let through)
        let rows: &[(&str, &str, bool)] = &[
            (r"^[啊哈]{4,}$", "啊哈啊哈", true),
            (r"^[啊哈]{4,}$", "啊哈啊", false),
            (r"^[啊哈]{4,}$", "好啊哈啊哈", false),
            (r"^[啊哈]{4,}$", "啊哈啊哈好", false),
            (r"^(?:嗯|哦)+[啊~]*$", "嗯嗯嗯嗯嗯嗯", true),
            (r"^(?:嗯|哦)+[啊~]*$", "", false),
            (r"^(?:嗯|哦){1,2}$", "嗯嗯嗯", false),
            (r"^(?:嗯|哦)+[啊~]*$", "好嗯", false),
            (r"^(?:嗯|哦)+[啊~]*$", "嗯好", false),
            (r"^[a-z;]*(?:asdf)[a-z;]*$", "xasdf", true),
            (r"^[a-z;]*(?:asdf)[a-z;]*$", "好asdf", false),
            (r"^[a-z;]*(?:asdf)[a-z;]*$", "asd", false),
            (r"(?i)^ok\b", "OK then", true),
            (r"(?i)^ok\b", "o\u{212a}", true),
            (r"(?i)^ok\b", "no", false),
            (r"多少钱", "多少", false),
            (r"多少钱", "请问这个多少钱呢", true),
            (r"(?:^|x)在吗", "好在吗", true),
            (r"^a?$", "", true),
        ];
        for &(pattern, clause, want) in rows {
            let hir = regex_syntax::Parser::new()
                .parse(&ascii_boundaries(pattern))
                .unwrap();
            assert_eq!(
                Shape::of(&hir).fits(clause),
                want,
                "{pattern} on {clause:?}"
            );
        }
    }

    #[test]
    fn prefilter_finds_the_same_matches_as_running_every_pattern() {
        let pats = [
            r"\bship\b",
            r"(?:黑|白)色?还有",
            r"\d{2,3}码",
            r".*退",
            r"什么时候(?:能)?(?:补|到货)",
            r"(?i)do you have",
            r"[0-9]+块(?:行吗|卖吗)",
            r"^在吗$",
            r"加(?:我|个)?(?:微信|vx)",
            r"(?i)(?:WeChat|whatsapp)",
            r"(?:谈|聊)合作|商务合作",
            r"\bfree ship(?:ping)?\b",
            r"\b(?:are you|r u) hiring\b",
            r"\b(?:ok|yes) \b",
            r"\bhi\b|\bhello\b",
            // Anchored: turned away by length and by first and last character.
            r"^[啊哈嘿]{4,}$",
            r"^(?:嗯|恩|哦)+[啊呀~]*$",
            r"^[a-z;]*(?:asdf|qwer)[a-z;]*$",
            r"^(?:好的|好)*(?:尽快|快点)(?:吧|吗)*$",
            r"(?i)^ok\b",
            r"^(?:这个)?(?:甜|咸)(?:吗|不)[?？]*$",
            r"(?:^|x)在吗",
            // Inner literals: the units of a quantity, the keyboard runs.
            r"(?:\d+|[一两二三四五六七八九十半]+)(?:斤|包)\D{0,3}\d+(?:是吧|吗)",
            r"[a-z]+ (?:hiring|jobs?) [a-z]*",
            // A digit needed: clauses without one are turned away.
            r"\d+(?:块|元)(?:行吗|卖吗)",
            r"(?:\d+|[一两]+)(?:斤|包)吗",
            // Run anchored where a first literal starts: a match after an
            // earlier first literal, behind a look-behind, at several starts.
            r"(?:库存)?(?:有|够)(?:\d+|[一两]+)(?:个|件)(?:吗|没)",
            r"(?-u:\b)can you \d+",
            r"(?:^|x)(?:好|行)了?吧",
        ];
        let p = Patterns::new(
            pats.iter()
                .enumerate()
                .map(|(i, s)| (i, s.to_string()))
                .collect(),
        )
        .unwrap();
        for text in [
            "when do you ship?",
            "shipping",
            "黑色还有吗",
            "白还有",
            "36码",
            "能退吗",
            "什么时候能补",
            "do you have l",
            "",
            "随便",
            "50块行吗",
            "50块",
            "在吗",
            "在吗在",
            "加个微信",
            "加vx吧",
            "加我",
            "有wechat吗",
            "WHATSAPP",
            "想聊合作",
            "商务合作",
            "free shipping?",
            "freeshipping",
            "carefree ship",
            "free shipping_",
            "r u hiring?",
            "are you hiring",
            "are you hiringnow",
            "ok thanks",
            "yes",
            "hi there",
            "hello",
            "hithere",
            "ship ship",
            "啊哈嘿啊",
            "啊哈嘿",
            "嘿嘿嘿嘿嘿 ",
            "嗯嗯啊",
            "哦~",
            "x嗯",
            "嗯x",
            "asdfgh",
            "qwer;zz",
            "hello asdf",
            "asdf!",
            "好的尽快吧",
            "尽快",
            "请尽快",
            "尽快吧吧吗",
            "OK",
            "ok then",
            "Kk",
            "\u{212a}",
            "甜吗?",
            "这个咸不？？",
            "这个咸不？？ ",
            "不甜吗",
            "x在吗",
            "2斤198是吧",
            "两包 30吗",
            "2x198吗",
            "3斤吗",
            "两斤吗",
            "五十块行吗",
            "有没有够3个吗",
            "有有有2件没",
            "库存有两个吗",
            "库存有 两个吗",
            "有个吗",
            "can you 5",
            "pecan you 5",
            "x can you 5 can you 6",
            "好吧",
            "x好吧",
            "不好吧 行了吧",
            "50元卖吗",
            "斤198吗",
            "r u hiring now",
            "any jobs ",
            "jobs here",
            // More literal hits than patterns: the flag-per-pattern path.
            &"黑色还有吗 free shipping 36码 加个微信 什么时候能补 hi ".repeat(8),
        ] {
            let all: Vec<usize> = (0..pats.len())
                .filter(|&i| {
                    Regex::new(&ascii_boundaries(pats[i]))
                        .unwrap()
                        .is_match(text)
                })
                .collect();
            assert_eq!(p.matches(text), all, "{text:?}");
            if text.len() > 200 {
                assert!(all.len() > 5, "the long row hits several patterns");
            }
        }
    }
}
