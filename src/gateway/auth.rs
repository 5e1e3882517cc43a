//! Agent logins for the console: configured agents with PBKDF2-SHA256
//! password hashes (`xiaoer hash-password`), random session tokens in an
//! HttpOnly, SameSite=Strict cookie, sessions that expire. `ring` is already
//! in the build for TLS, so hashing and randomness cost no new dependency.
//!
//! A login is the one request an anonymous client can make expensive, so it
//! is guarded: failures are counted per client address and per agent id
//! (unknown ids too, so a lockout tells nothing about which ids exist); the
//! hash runs on the blocking pool, [`MAX_CONCURRENT_HASHES`] at a time with at
//! most [`MAX_WAITING_LOGINS`] waiting, never on the async workers that carry
//! the bot; and an unknown agent id costs the same hash as a known one.
//!
//! Hashes are PHC strings, `$pbkdf2-sha256$i=100000$SALT$HASH` (salt and hash
//! in unpadded standard base64). The older `pbkdf2-sha256$ITER$SALTHEX$HASHHEX`
//! form of earlier releases is still accepted, so existing configurations keep
//! working; `xiaoer hash-password` writes the PHC form.

use ring::rand::{SecureRandom, SystemRandom};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "xiaoer_session";
/// PBKDF2 rounds of new hashes.
pub const ITERATIONS: u32 = 100_000;
/// Most PBKDF2 rounds a configured hash may ask for: one login must not be
/// able to hold a core for minutes because of a typo.
pub const MAX_ITERATIONS: u32 = 10_000_000;
/// Longest console session `console.session_minutes` may set (30 days).
pub const MAX_SESSION_MINUTES: u64 = 30 * 24 * 60;
/// Failed logins are counted over this window, which is also the lockout.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed logins from one client address (an IPv6 /64) per [`LOGIN_WINDOW`].
pub const MAX_LOGIN_FAILURES_PER_CLIENT: u32 = 10;
/// Failed logins for one agent id, from anywhere, per [`LOGIN_WINDOW`].
pub const MAX_LOGIN_FAILURES_PER_AGENT: u32 = 20;
/// Client addresses and unknown agent ids remembered (each table); when full,
/// expired entries go first, then the oldest.
pub const MAX_TRACKED_LOGIN_KEYS: usize = 4096;
/// Live sessions per agent; a new login past it ends the oldest.
pub const MAX_SESSIONS_PER_AGENT: usize = 8;
/// Password hashes computed at once (each takes a core for ~50 ms).
pub const MAX_CONCURRENT_HASHES: usize = 1;
/// Logins queued behind those; more are refused with "busy" at once.
pub const MAX_WAITING_LOGINS: usize = 16;
/// The agent id rule, for messages.
pub const AGENT_ID_RULE: &str = "1-64 characters of ASCII letters, digits, - _ . :";
/// Longest display name of an agent (what buyers see).
pub const MAX_NAME_CHARS: usize = 32;

/// What an agent may do beyond their own chats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Works the chats they take.
    Agent,
    /// Also reassigns chats between agents.
    Supervisor,
}

impl Role {
    /// `agent` or `supervisor`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "agent" => Some(Role::Agent),
            "supervisor" => Some(Role::Supervisor),
            _ => None,
        }
    }
}

/// An agent as a person: who they are, what buyers see, what they may do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Member {
    /// The agent id (logins, takeovers, the store).
    pub id: String,
    /// The display name.
    pub name: String,
    /// agent or supervisor.
    pub role: Role,
    /// The password hash; none on a loopback console without passwords.
    #[serde(skip)]
    pub hash: Option<String>,
}

const ALG: ring::pbkdf2::Algorithm = ring::pbkdf2::PBKDF2_HMAC_SHA256;
const PHC_ID: &str = "pbkdf2-sha256";
const HASH_BYTES: usize = 32;
const SALT_BYTES: usize = 16;

/// Whether `id` may name an agent: the one rule for the configuration's
/// `[console.agents]`, logins and the gateway's takeovers.
pub fn valid_agent_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 without padding, as PHC strings use it.
fn b64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn unb64(s: &str) -> Option<Vec<u8>> {
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Canonical only: the unused low bits must be zero.
    (acc == 0).then_some(out)
}

/// A stored hash, read from either form.
struct Stored {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

fn parse(stored: &str) -> Option<Stored> {
    let (iterations, salt, hash) = if let Some(phc) = stored.strip_prefix('$') {
        // $pbkdf2-sha256$i=N$SALT$HASH
        let mut p = phc.split('$');
        let (id, params, salt, hash) = (p.next()?, p.next()?, p.next()?, p.next()?);
        if id != PHC_ID || p.next().is_some() {
            return None;
        }
        let i = params.strip_prefix("i=")?;
        if i.starts_with('0') || i.starts_with('+') {
            return None;
        }
        (i.parse::<u32>().ok()?, unb64(salt)?, unb64(hash)?)
    } else {
        // pbkdf2-sha256$N$SALTHEX$HASHHEX (releases before PHC strings)
        let mut p = stored.split('$');
        let (id, i, salt, hash) = (p.next()?, p.next()?, p.next()?, p.next()?);
        if id != PHC_ID || p.next().is_some() {
            return None;
        }
        (i.parse::<u32>().ok()?, unhex(salt)?, unhex(hash)?)
    };
    if iterations > MAX_ITERATIONS || hash.len() != HASH_BYTES || salt.is_empty() {
        return None;
    }
    Some(Stored {
        iterations: NonZeroU32::new(iterations)?,
        salt,
        hash,
    })
}

/// A storable hash of `password`, as a PHC string
/// (`$pbkdf2-sha256$i=100000$SALT$HASH`).
pub fn hash_password(password: &str) -> String {
    hash_with(password, NonZeroU32::new(ITERATIONS).expect("non-zero"))
}

/// A PHC hash of `password` with `iterations` rounds.
fn hash_with(password: &str, iterations: NonZeroU32) -> String {
    let mut salt = [0u8; SALT_BYTES];
    // ring's SystemRandom only fails when the OS has no randomness at all.
    SystemRandom::new()
        .fill(&mut salt)
        .expect("the operating system's random source works");
    let mut out = [0u8; HASH_BYTES];
    ring::pbkdf2::derive(ALG, iterations, &salt, password.as_bytes(), &mut out);
    format!("${PHC_ID}$i={iterations}${}${}", b64(&salt), b64(&out))
}

/// The rounds an unknown id's login hashes with: those of the configured
/// hashes (the most common; of equals, the most), so that an unknown id
/// costs what a known one does even when the operator chose another count
/// than [`ITERATIONS`].
fn dummy_iterations<'a>(hashes: impl Iterator<Item = &'a String>) -> NonZeroU32 {
    let mut counts: HashMap<NonZeroU32, usize> = HashMap::new();
    for h in hashes.filter_map(|h| parse(h)) {
        *counts.entry(h.iterations).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|&(i, n)| (n, i))
        .map(|(i, _)| i)
        .unwrap_or(NonZeroU32::new(ITERATIONS).expect("non-zero"))
}

/// Checks `password` against a stored hash (either form); a malformed hash
/// never matches. Takes the hash's full cost: call it off the async workers.
pub fn verify_password(stored: &str, password: &str) -> bool {
    parse(stored).is_some_and(|s| {
        ring::pbkdf2::verify(ALG, s.iterations, &s.salt, password.as_bytes(), &s.hash).is_ok()
    })
}

/// Whether a stored hash has a form [`verify_password`] reads (checked when
/// the configuration loads).
pub fn is_hash(stored: &str) -> bool {
    parse(stored).is_some()
}

/// Why a login did not give a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// Unknown agent or wrong password (never said which).
    #[error("wrong agent id or password")]
    Wrong,
    /// Too many failures from this client or for this agent id.
    #[error("too many failed logins: try again in {} minutes", .0.as_secs().div_ceil(60).max(1))]
    Limited(Duration),
    /// More logins are waiting for a hash than [`MAX_WAITING_LOGINS`].
    #[error("too many logins at once: try again in a moment")]
    Busy,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
}

/// Counts per key over a fixed window from the key's first count, for at
/// most `cap` keys besides pinned ones (which `add` is told about): when
/// full, expired keys go first, then the oldest. Used for failed logins here
/// and for conversations opened per client in [`super::web`].
pub(crate) struct Counts<K> {
    map: HashMap<K, Window>,
    window: Duration,
    cap: usize,
}

impl<K: std::hash::Hash + Eq + Clone> Counts<K> {
    pub(crate) fn new(window: Duration, cap: usize) -> Self {
        Counts {
            map: HashMap::new(),
            window,
            cap,
        }
    }

    /// Time left in `key`'s window if it reached `limit`.
    pub(crate) fn locked(&self, key: &K, limit: u32, now: Instant) -> Option<Duration> {
        let w = self.map.get(key)?;
        let end = w.start + self.window;
        (w.failures >= limit && end > now).then(|| end - now)
    }

    /// Counts one for `key`.
    pub(crate) fn add(&mut self, key: &K, now: Instant, pinned: impl Fn(&K) -> bool) {
        if !self.map.contains_key(key) && !pinned(key) {
            let tracked = |m: &HashMap<K, Window>| m.keys().filter(|k| !pinned(k)).count();
            if tracked(&self.map) >= self.cap {
                let window = self.window;
                self.map.retain(|_, w| w.start + window > now);
                if tracked(&self.map) >= self.cap {
                    let oldest = self
                        .map
                        .iter()
                        .filter(|(k, _)| !pinned(k))
                        .min_by_key(|(_, w)| w.start)
                        .map(|(k, _)| k.clone());
                    if let Some(k) = oldest {
                        self.map.remove(&k);
                    }
                }
            }
        }
        let w = self.map.entry(key.clone()).or_insert(Window {
            start: now,
            failures: 0,
        });
        if w.start + self.window <= now {
            *w = Window {
                start: now,
                failures: 0,
            };
        }
        w.failures = w.failures.saturating_add(1);
    }

    /// Takes back one count of `key`.
    pub(crate) fn undo(&mut self, key: &K) {
        if let Some(w) = self.map.get_mut(key) {
            w.failures = w.failures.saturating_sub(1);
        }
    }

    /// Keys remembered (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// The client address failures are counted under: IPv4 as is (also when
/// mapped into IPv6), IPv6 by its /64, the smallest block one user gets.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

struct Limits {
    clients: Counts<IpAddr>,
    agents: Counts<String>,
}

/// The configured agents and their live sessions.
pub struct Auth {
    agents: HashMap<String, String>,
    /// Everyone, in the configuration's order.
    team: Vec<Member>,
    /// No agent has a password (a loopback console): a login picks who one
    /// is, and a browser without a session works as the first agent.
    open: bool,
    /// Verified in place of an unknown agent's hash, so both cost the same.
    dummy: String,
    sessions: Mutex<HashMap<String, (String, Instant)>>,
    limits: Mutex<Limits>,
    admission: tokio::sync::Semaphore,
    hashing: tokio::sync::Semaphore,
    hashes: std::sync::atomic::AtomicU64,
    ttl: Duration,
}

impl Auth {
    /// Agents (id → hash) whose sessions last `ttl` (at most
    /// [`MAX_SESSION_MINUTES`]).
    pub fn new(agents: HashMap<String, String>, ttl: Duration) -> Auth {
        let mut team: Vec<Member> = agents
            .iter()
            .map(|(id, hash)| Member {
                id: id.clone(),
                name: id.clone(),
                role: Role::Agent,
                hash: Some(hash.clone()),
            })
            .collect();
        team.sort_by(|a, b| a.id.cmp(&b.id));
        Auth::for_team(team, ttl)
    }

    /// The agents of `team` whose sessions last `ttl`. With a password on
    /// anyone, logins need them (agents without one cannot log in); with
    /// none at all the console is open (loopback only, [`Auth::is_open`]).
    pub fn for_team(team: Vec<Member>, ttl: Duration) -> Auth {
        let mut pw = [0u8; 16];
        let _ = SystemRandom::new().fill(&mut pw);
        let agents: HashMap<String, String> = team
            .iter()
            .filter_map(|m| Some((m.id.clone(), m.hash.clone()?)))
            .collect();
        let dummy = hash_with(&hex(&pw), dummy_iterations(agents.values()));
        Auth {
            open: agents.is_empty(),
            team,
            agents,
            dummy,
            sessions: Mutex::new(HashMap::new()),
            limits: Mutex::new(Limits {
                clients: Counts::new(LOGIN_WINDOW, MAX_TRACKED_LOGIN_KEYS),
                agents: Counts::new(LOGIN_WINDOW, MAX_TRACKED_LOGIN_KEYS),
            }),
            admission: tokio::sync::Semaphore::new(MAX_CONCURRENT_HASHES + MAX_WAITING_LOGINS),
            hashing: tokio::sync::Semaphore::new(MAX_CONCURRENT_HASHES),
            hashes: std::sync::atomic::AtomicU64::new(0),
            ttl: ttl.min(Duration::from_secs(MAX_SESSION_MINUTES * 60)),
        }
    }

    fn limits(&self) -> std::sync::MutexGuard<'_, Limits> {
        self.limits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True when no agent has a password: the loopback console picks who one
    /// is without one.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Everyone, in the configuration's order.
    pub fn team(&self) -> &[Member] {
        &self.team
    }

    /// One agent by id.
    pub fn member(&self, id: &str) -> Option<&Member> {
        self.team.iter().find(|m| m.id == id)
    }

    /// A session for a configured agent, without a password: only on an
    /// open console.
    pub fn pick(&self, agent: &str) -> Result<String, LoginError> {
        if !self.open || self.member(agent).is_none() {
            return Err(LoginError::Wrong);
        }
        Ok(self.session(agent))
    }

    fn session(&self, agent: &str) -> String {
        let mut raw = [0u8; 32];
        SystemRandom::new()
            .fill(&mut raw)
            .expect("the operating system's random source works");
        let token = hex(&raw);
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        s.retain(|_, (_, exp)| *exp > now);
        let mine: Vec<(String, Instant)> = s
            .iter()
            .filter(|(_, (a, _))| a == agent)
            .map(|(t, (_, exp))| (t.clone(), *exp))
            .collect();
        if mine.len() >= MAX_SESSIONS_PER_AGENT {
            if let Some((oldest, _)) = mine.iter().min_by_key(|(_, exp)| *exp) {
                s.remove(oldest);
            }
        }
        s.insert(token.clone(), (agent.to_string(), now + self.ttl));
        token
    }

    /// A new session token for a correct id and password from `client`.
    /// The attempt counts as a failure until the hash says otherwise, so
    /// concurrent guesses cannot slip past the limits.
    pub async fn login(
        &self,
        client: IpAddr,
        agent: &str,
        password: &str,
    ) -> Result<String, LoginError> {
        let client = client_key(client);
        // Over-long ids share one key: they can never be agents.
        let agent_key: String = if agent.len() <= 64 {
            agent.into()
        } else {
            String::new()
        };
        {
            let now = Instant::now();
            let mut l = self.limits();
            let wait = l
                .clients
                .locked(&client, MAX_LOGIN_FAILURES_PER_CLIENT, now)
                .or_else(|| {
                    l.agents
                        .locked(&agent_key, MAX_LOGIN_FAILURES_PER_AGENT, now)
                });
            if let Some(wait) = wait {
                return Err(LoginError::Limited(wait));
            }
            l.clients.add(&client, now, |_| false);
            // Configured agents are always counted: spraying unknown ids
            // cannot push a real agent's count out of the table.
            l.agents
                .add(&agent_key, now, |k| self.agents.contains_key(k));
        }
        let checked = self.check(agent, password).await;
        if checked != Ok(false) {
            // Right, or never checked (busy): not a failure.
            let mut l = self.limits();
            l.clients.undo(&client);
            l.agents.undo(&agent_key);
        }
        if !checked? {
            return Err(LoginError::Wrong);
        }
        Ok(self.session(agent))
    }

    /// The password check itself, bounded and off the async workers.
    async fn check(&self, agent: &str, password: &str) -> Result<bool, LoginError> {
        let _admitted = self.admission.try_acquire().map_err(|_| LoginError::Busy)?;
        let _hashing = self.hashing.acquire().await.map_err(|_| LoginError::Busy)?;
        let known = self.agents.get(agent).filter(|_| valid_agent_id(agent));
        let stored = known.unwrap_or(&self.dummy).clone();
        let password = password.to_string();
        self.hashes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ok = tokio::task::spawn_blocking(move || verify_password(&stored, &password))
            .await
            .unwrap_or(false);
        Ok(ok && known.is_some())
    }

    /// The agent of a live session.
    pub fn agent(&self, token: &str) -> Option<String> {
        let s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        s.get(token)
            .filter(|(_, exp)| *exp > Instant::now())
            .map(|(a, _)| a.clone())
    }

    /// Ends a session.
    pub fn logout(&self, token: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }

    /// Password hashes computed by logins so far: one per checked login,
    /// known agent or not (what makes their timing alike).
    pub fn hashes_computed(&self) -> u64 {
        self.hashes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Session lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

/// The session token in a `Cookie` header.
pub fn token_in(cookie_header: &str) -> Option<&str> {
    cookie_header
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn count_tables_stay_within_their_cap() {
        let t0 = Instant::now();
        let mut c: Counts<u32> = Counts::new(Duration::from_secs(60), 3);
        for k in 0..10 {
            c.add(&k, t0 + Duration::from_millis(k.into()), |k| *k == 0);
        }
        // The pinned key stays, and 3 others: the newest.
        assert_eq!(c.len(), 4);
        assert!(c.locked(&0, 1, t0).is_some());
        assert!(c.locked(&9, 1, t0).is_some());
        assert!(c.locked(&1, 1, t0).is_none(), "the oldest went");
        // A window ends.
        assert!(c.locked(&9, 1, t0 + Duration::from_secs(61)).is_none());
    }

    #[test]
    fn base64_round_trips() {
        for n in 0..40 {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(unb64(&b64(&bytes)).as_deref(), Some(&bytes[..]), "{n}");
        }
        assert_eq!(b64(b"any carnal pleas"), "YW55IGNhcm5hbCBwbGVhcw");
        for bad in ["A", "AB=C", "YR", "Y!=="] {
            assert!(unb64(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn hashes_are_phc_and_the_old_form_still_verifies() {
        let h = hash_password("秘密 pass");
        assert!(h.starts_with("$pbkdf2-sha256$i=100000$"), "{h}");
        assert!(is_hash(&h));
        assert!(verify_password(&h, "秘密 pass"));
        assert!(!verify_password(&h, "秘密 pas"));
        // The form of earlier releases, made by hand from the same parts.
        let p = parse(&h).unwrap();
        let old = format!("pbkdf2-sha256$100000${}${}", hex(&p.salt), hex(&p.hash));
        assert!(is_hash(&old));
        assert!(verify_password(&old, "秘密 pass"));
        assert!(!verify_password(&old, "x"));
        let bad: &[&str] = &[
            "",
            "x",
            "pbkdf2-sha256$0$00$00",
            "md5$1$00$00",
            "$pbkdf2-sha256$i=0$AAAA$AAAA",
            "$pbkdf2-sha256$i=100000$$",
            "$md5$i=1$AAAA$AAAA",
            "$pbkdf2-sha256$100000$AAAA$AAAA",
            "$pbkdf2-sha256$i=4000000000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ];
        for bad in bad {
            assert!(!verify_password(bad, ""), "{bad}");
            assert!(!is_hash(bad), "{bad}");
        }
        // Too many rounds for one login, and a truncated hash.
        let slow = h.replace("i=100000", &format!("i={}", MAX_ITERATIONS + 1));
        assert!(!is_hash(&slow));
        assert!(!is_hash(&h[..h.len() - 4]));
    }

    #[test]
    fn agent_ids_follow_one_rule() {
        for ok in ["a-1", "A.b_c:9", &"x".repeat(64)] {
            assert!(valid_agent_id(ok), "{ok}");
        }
        for bad in ["", "a@b", "客服", "a b", "a\n", &"x".repeat(65)] {
            assert!(!valid_agent_id(bad), "{bad}");
        }
    }

    #[test]
    fn client_keys_group_an_ipv6_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(client_key(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    /// An unknown id is hashed with the rounds of the configured hashes, so
    /// it costs what a known id costs also when they are not [`ITERATIONS`]
    /// (before: always `ITERATIONS`, so ids with 1,000,000 rounds stood out
    /// by a factor of 10). One row per configuration.
    #[test]
    fn an_unknown_id_costs_the_rounds_of_the_configured_hashes() {
        let n = |i: u32| NonZeroU32::new(i).unwrap();
        let rows: &[(&[u32], u32)] = &[
            (&[], ITERATIONS),
            (&[ITERATIONS], ITERATIONS),
            (&[2_000], 2_000),
            (&[2_000, 3_000, 2_000], 2_000),
            (&[2_000, 3_000], 3_000),
        ];
        for (configured, want) in rows {
            let agents: HashMap<String, String> = configured
                .iter()
                .enumerate()
                .map(|(k, &i)| (format!("a-{k}"), hash_with("pw", n(i))))
                .collect();
            let auth = Auth::new(agents, Duration::from_secs(60));
            let dummy = parse(&auth.dummy).expect("the dummy is a hash");
            assert_eq!(dummy.iterations.get(), *want, "{configured:?}");
        }
    }

    #[tokio::test]
    async fn passwords_and_sessions() {
        let h = hash_password("秘密 pass");
        let auth = Auth::new(
            [("a-1".to_string(), h)].into_iter().collect(),
            Duration::from_secs(60),
        );
        assert_eq!(
            auth.login(LOCAL, "a-1", "wrong").await,
            Err(LoginError::Wrong)
        );
        assert_eq!(
            auth.login(LOCAL, "a-2", "秘密 pass").await,
            Err(LoginError::Wrong)
        );
        let t = auth.login(LOCAL, "a-1", "秘密 pass").await.unwrap();
        assert_eq!(auth.agent(&t).as_deref(), Some("a-1"));
        assert_eq!(token_in(&format!("x=1; {COOKIE}={t}")), Some(t.as_str()));
        auth.logout(&t);
        assert!(auth.agent(&t).is_none());
        let brief = Auth::new(auth.agents.clone(), Duration::ZERO);
        let t = brief.login(LOCAL, "a-1", "秘密 pass").await.unwrap();
        assert!(brief.agent(&t).is_none(), "expired");
        // The longest lifetime a u64 of minutes can ask for is capped, not a panic.
        let long = Auth::new(auth.agents.clone(), Duration::from_secs(u64::MAX));
        assert_eq!(long.ttl(), Duration::from_secs(MAX_SESSION_MINUTES * 60));
        assert!(long.login(LOCAL, "a-1", "秘密 pass").await.is_ok());
        // Sessions per agent are capped: the oldest goes.
        let first = auth.login(LOCAL, "a-1", "秘密 pass").await.unwrap();
        for _ in 0..MAX_SESSIONS_PER_AGENT {
            auth.login(LOCAL, "a-1", "秘密 pass").await.unwrap();
        }
        assert!(auth.agent(&first).is_none(), "the oldest session ended");
    }
}
