//! ECR authorization tokens kept between pulls, with the Go agent's rules
//! (agent/dockerclient/dockerauth/ecr.go, the LRU cache of
//! dockerapi/docker_client.go):
//!
//! - one entry per credentials id, role ARN, region, registry id and
//!   endpoint override (instance credentials: no id, no role);
//! - an entry is used only while `now < expiresAt - (30 min + jitter)`, the
//!   jitter in `[0, 30 min)`, so tokens are refreshed ahead of their expiry
//!   and not all at once; one without `expiresAt` is never reused;
//! - an entry stored 12 hours ago is gone whatever its expiry; at most 100
//!   entries, the least recently used leaves first.
//!
//! A token ECR has just handed out is used for that pull whatever its
//! `expiresAt` says: Go returns it straight from GetAuthorizationToken and
//! only the next lookup checks the expiry (moto's tokens say 2015). Go
//! draws the jitter at every lookup; here it is drawn once per entry, so one
//! entry's refresh time does not move between lookups.
//!
//! Pure: the clock and the jitter are passed in.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use crate::config::RegistryCredentials;

/// Go: MinimumJitterDuration (the least time before `expiresAt` a token is
/// refreshed; the jitter adds up to as much again).
pub(crate) const REFRESH_AHEAD: Duration = Duration::from_secs(30 * 60);
/// Go: tokenCacheTTL.
const ENTRY_TTL: Duration = Duration::from_secs(12 * 3600);
/// Go: tokenCacheSize.
const CAPACITY: usize = 100;

/// Whose token for which registry (Go: dockerauth cacheKey).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    /// The execution role credentials' id; empty for the instance's.
    pub credentials_id: String,
    pub role_arn: String,
    pub region: String,
    pub registry_id: String,
    pub endpoint_override: String,
}

/// A registry login from GetAuthorizationToken and when ECR says it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub login: RegistryCredentials,
    pub expires_at: Option<SystemTime>,
}

#[derive(Debug)]
struct Entry {
    login: RegistryCredentials,
    /// `expiresAt` less the refresh margin; `None`: never reused.
    refresh_at: Option<SystemTime>,
    stored_at: SystemTime,
    last_used: u64,
}

#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    entries: HashMap<CacheKey, Entry>,
    uses: u64,
}

impl TokenCache {
    /// The cached login for `key` if it is still good at `now`; an entry
    /// that is not is dropped (Go deletes it too).
    pub fn get(&mut self, key: &CacheKey, now: SystemTime) -> Option<RegistryCredentials> {
        let entry = self.entries.get_mut(key)?;
        let fresh = now
            .duration_since(entry.stored_at)
            .map_or(true, |age| age < ENTRY_TTL);
        let valid = entry.refresh_at.is_some_and(|at| now < at);
        if fresh && valid {
            self.uses += 1;
            entry.last_used = self.uses;
            return Some(entry.login.clone());
        }
        self.entries.remove(key);
        None
    }

    /// Keeps `token` for `key`; `jitter` (in `[0, REFRESH_AHEAD)`) moves its
    /// refresh earlier than the least margin.
    pub fn put(&mut self, key: CacheKey, token: Token, now: SystemTime, jitter: Duration) {
        if !self.entries.contains_key(&key) && self.entries.len() >= CAPACITY {
            if let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            {
                self.entries.remove(&oldest);
            }
        }
        self.uses += 1;
        let refresh_at = token
            .expires_at
            .and_then(|at| at.checked_sub(REFRESH_AHEAD + jitter));
        self.entries.insert(
            key,
            Entry {
                login: token.login,
                refresh_at,
                stored_at: now,
                last_used: self.uses,
            },
        );
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn key(registry: &str) -> CacheKey {
        CacheKey {
            credentials_id: "creds-1".into(),
            role_arn: "arn:aws:iam::123456789012:role/exec".into(),
            region: "us-west-2".into(),
            registry_id: registry.into(),
            endpoint_override: String::new(),
        }
    }

    fn token(password: &str, expires_at: Option<SystemTime>) -> Token {
        Token {
            login: RegistryCredentials {
                username: "AWS".into(),
                password: password.into(),
            },
            expires_at,
        }
    }

    #[test]
    fn a_token_is_reused_until_the_refresh_margin_before_its_expiry() {
        let mut c = TokenCache::default();
        // ECR's tokens last 12 hours.
        let expires = at(T0 + 12 * 3600);
        c.put(key("1"), token("p1", Some(expires)), at(T0), Duration::ZERO);
        assert_eq!(c.get(&key("1"), at(T0)).unwrap().password, "p1");
        let margin = REFRESH_AHEAD.as_secs();
        assert!(c.get(&key("1"), at(T0 + 12 * 3600 - margin - 1)).is_some());
        // From 30 minutes before expiry on, it is asked for again.
        assert_eq!(c.get(&key("1"), at(T0 + 12 * 3600 - margin)), None);
        // And the stale entry is gone, not kept for later.
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn the_jitter_moves_the_refresh_earlier() {
        let mut c = TokenCache::default();
        let expires = at(T0 + 3 * 3600);
        c.put(
            key("1"),
            token("p", Some(expires)),
            at(T0),
            Duration::from_secs(20 * 60),
        );
        // 50 minutes before expiry: within 30 min + 20 min of jitter.
        assert_eq!(c.get(&key("1"), at(T0 + 3 * 3600 - 50 * 60)), None);
        c.put(
            key("1"),
            token("p", Some(expires)),
            at(T0),
            Duration::from_secs(20 * 60),
        );
        assert!(c.get(&key("1"), at(T0 + 3 * 3600 - 50 * 60 - 1)).is_some());
    }

    /// moto's tokens carry an expiresAt in 2015: never reused, so every
    /// pull asks ECR again (the pull that asked still uses its token: that
    /// is the caller's, see the module's doc). No expiresAt: the same.
    #[test]
    fn an_already_expired_or_undated_token_is_not_reused() {
        let mut c = TokenCache::default();
        c.put(
            key("1"),
            token("moto", Some(at(1_420_070_400))),
            at(T0),
            Duration::ZERO,
        );
        assert_eq!(c.get(&key("1"), at(T0)), None);
        c.put(key("2"), token("undated", None), at(T0), Duration::ZERO);
        assert_eq!(c.get(&key("2"), at(T0)), None);
    }

    #[test]
    fn entries_last_twelve_hours_at_most() {
        let mut c = TokenCache::default();
        // A token that claims a day of life is still dropped after 12 hours.
        c.put(
            key("1"),
            token("p", Some(at(T0 + 24 * 3600))),
            at(T0),
            Duration::ZERO,
        );
        assert!(c.get(&key("1"), at(T0 + 12 * 3600 - 1)).is_some());
        assert_eq!(c.get(&key("1"), at(T0 + 12 * 3600)), None);
    }

    #[test]
    fn each_part_of_the_key_separates_entries() {
        let mut c = TokenCache::default();
        let exp = Some(at(T0 + 12 * 3600));
        c.put(key("1"), token("base", exp), at(T0), Duration::ZERO);
        let variants = [
            CacheKey {
                credentials_id: "creds-2".into(),
                ..key("1")
            },
            CacheKey {
                role_arn: "arn:aws:iam::123456789012:role/other".into(),
                ..key("1")
            },
            CacheKey {
                region: "eu-west-1".into(),
                ..key("1")
            },
            key("2"),
            CacheKey {
                endpoint_override: "https://ecr.example.test".into(),
                ..key("1")
            },
            // The instance's credentials.
            CacheKey {
                credentials_id: String::new(),
                role_arn: String::new(),
                ..key("1")
            },
        ];
        for k in &variants {
            assert_eq!(c.get(k, at(T0)), None, "{k:?}");
        }
        assert_eq!(c.get(&key("1"), at(T0)).unwrap().password, "base");
    }

    #[test]
    fn the_least_recently_used_entry_leaves_when_full() {
        let mut c = TokenCache::default();
        let exp = Some(at(T0 + 12 * 3600));
        for i in 0..CAPACITY {
            c.put(key(&i.to_string()), token("p", exp), at(T0), Duration::ZERO);
        }
        // 0 is used, so 1 is now the least recently used.
        assert!(c.get(&key("0"), at(T0)).is_some());
        c.put(key("new"), token("p", exp), at(T0), Duration::ZERO);
        assert_eq!(c.len(), CAPACITY);
        assert!(c.get(&key("0"), at(T0)).is_some());
        assert!(c.get(&key("new"), at(T0)).is_some());
        assert_eq!(c.get(&key("1"), at(T0)), None);
    }
}
