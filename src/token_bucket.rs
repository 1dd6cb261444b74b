//! The request limit of ECS_TASK_METADATA_RPS_LIMIT as token buckets keyed by
//! caller, as the Go agent's tollbooth limiter keys them. The task metadata
//! endpoints key by client IP and the credentials endpoint by client IP and
//! path, each with buckets of its own. Pure: the time is passed in.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

use crate::config::RpsLimit;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// One bucket per key, each holding up to `burst` tokens and refilled at
/// `steady` tokens a second.
#[derive(Debug)]
pub struct TokenBuckets<K> {
    limit: RpsLimit,
    /// Above this many keys, buckets that are full again are dropped.
    max_tracked: usize,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq> TokenBuckets<K> {
    pub fn new(limit: RpsLimit, max_tracked: usize) -> Self {
        TokenBuckets {
            limit,
            max_tracked,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self) -> RpsLimit {
        self.limit
    }

    /// Takes a token from `key`'s bucket at `now`; false when it is empty.
    pub fn allow_at(&self, key: K, now: Instant) -> bool {
        let rate = f64::from(self.limit.steady);
        let burst = f64::from(self.limit.burst);
        // A panic elsewhere must not take the endpoints down with it.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= self.max_tracked && !buckets.contains_key(&key) {
            // A full bucket carries no state worth keeping.
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate < burst
            });
        }
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn burst_then_the_steady_rate_per_key() {
        let l = TokenBuckets::new(
            RpsLimit {
                steady: 10,
                burst: 3,
            },
            16,
        );
        let t0 = Instant::now();
        assert!((0..3).all(|_| l.allow_at("a", t0)));
        assert!(!l.allow_at("a", t0));
        assert!(l.allow_at("b", t0));
        assert!(l.allow_at("a", t0 + Duration::from_millis(100)));
        assert!(!l.allow_at("a", t0 + Duration::from_millis(100)));
    }

    #[test]
    fn full_buckets_are_dropped_when_too_many_keys_are_tracked() {
        let l = TokenBuckets::new(
            RpsLimit {
                steady: 1,
                burst: 2,
            },
            2,
        );
        let t0 = Instant::now();
        assert!(l.allow_at(1, t0));
        assert!(l.allow_at(2, t0));
        // Both are full again after a second; a third key makes room.
        assert!(l.allow_at(3, t0 + Duration::from_secs(2)));
        assert_eq!(l.tracked(), 1);
    }
}
