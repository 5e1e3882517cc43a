//! Agent logins for the console: configured agents with PBKDF2-SHA256
//! password hashes (`xiaoer hash-password`), random session tokens in an
//! HttpOnly, SameSite=Strict cookie, sessions that expire. `ring` is already
//! in the build for TLS, so hashing and randomness cost no new dependency.

use ring::rand::{SecureRandom, SystemRandom};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "xiaoer_session";
const ITERATIONS: u32 = 100_000;
const ALG: ring::pbkdf2::Algorithm = ring::pbkdf2::PBKDF2_HMAC_SHA256;

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

/// A storable hash of `password`: `pbkdf2-sha256$ITER$SALT$HASH`.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    let _ = SystemRandom::new().fill(&mut salt);
    let mut out = [0u8; 32];
    let iter = NonZeroU32::new(ITERATIONS).expect("non-zero");
    ring::pbkdf2::derive(ALG, iter, &salt, password.as_bytes(), &mut out);
    format!("pbkdf2-sha256${ITERATIONS}${}${}", hex(&salt), hex(&out))
}

/// Checks `password` against a stored hash; a malformed hash never matches.
pub fn verify_password(stored: &str, password: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    let [scheme, iter, salt, hash] = parts[..] else {
        return false;
    };
    let (Some(iter), Some(salt), Some(hash)) = (
        iter.parse::<u32>().ok().and_then(NonZeroU32::new),
        unhex(salt),
        unhex(hash),
    ) else {
        return false;
    };
    scheme == "pbkdf2-sha256"
        && ring::pbkdf2::verify(ALG, iter, &salt, password.as_bytes(), &hash).is_ok()
}

/// Whether a stored hash has the right form (checked at start-up).
pub fn is_hash(stored: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    parts.len() == 4
        && parts[0] == "pbkdf2-sha256"
        && parts[1].parse::<u32>().is_ok_and(|n| n > 0)
        && unhex(parts[2]).is_some()
        && unhex(parts[3]).is_some_and(|h| h.len() == 32)
}

/// The configured agents and their live sessions.
pub struct Auth {
    agents: HashMap<String, String>,
    sessions: Mutex<HashMap<String, (String, Instant)>>,
    ttl: Duration,
}

impl Auth {
    /// Agents (id → hash) whose sessions last `ttl`.
    pub fn new(agents: HashMap<String, String>, ttl: Duration) -> Auth {
        Auth {
            agents,
            sessions: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    /// A new session token for a correct id and password.
    pub fn login(&self, agent: &str, password: &str) -> Option<String> {
        let ok = self
            .agents
            .get(agent)
            .is_some_and(|h| verify_password(h, password));
        if !ok {
            return None;
        }
        let mut raw = [0u8; 32];
        SystemRandom::new().fill(&mut raw).ok()?;
        let token = hex(&raw);
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        s.retain(|_, (_, exp)| *exp > now);
        s.insert(token.clone(), (agent.to_string(), now + self.ttl));
        Some(token)
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

    #[test]
    fn passwords_and_sessions() {
        let h = hash_password("秘密 pass");
        assert!(is_hash(&h));
        assert!(verify_password(&h, "秘密 pass"));
        assert!(!verify_password(&h, "秘密 pas"));
        for bad in ["", "x", "pbkdf2-sha256$0$00$00", "md5$1$00$00"] {
            assert!(!verify_password(bad, ""));
            assert!(!is_hash(bad));
        }
        let auth = Auth::new(
            [("a-1".to_string(), h)].into_iter().collect(),
            Duration::from_secs(60),
        );
        assert!(auth.login("a-1", "wrong").is_none());
        assert!(auth.login("a-2", "秘密 pass").is_none());
        let t = auth.login("a-1", "秘密 pass").unwrap();
        assert_eq!(auth.agent(&t).as_deref(), Some("a-1"));
        assert_eq!(token_in(&format!("x=1; {COOKIE}={t}")), Some(t.as_str()));
        auth.logout(&t);
        assert!(auth.agent(&t).is_none());
        let brief = Auth::new(auth.agents.clone(), Duration::ZERO);
        let t = brief.login("a-1", "秘密 pass").unwrap();
        assert!(brief.agent(&t).is_none(), "expired");
    }
}
