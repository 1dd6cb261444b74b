//! ECS_TASK_METADATA_RPS_LIMIT (`steady,burst`): a token bucket per caller
//! address and path, as the Go agent's tollbooth limiter keys its buckets,
//! so one noisy task cannot starve the others.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Requests per second allowed on average, and at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub steady: u32,
    pub burst: u32,
}

impl Default for RateLimit {
    /// The Go agent's default, `40,60`.
    fn default() -> Self {
        Self {
            steady: 40,
            burst: 60,
        }
    }
}

/// Buckets idle this long are full again and can be forgotten.
const IDLE: Duration = Duration::from_secs(60);
const PRUNE_ABOVE: usize = 1024;

type Key = (Option<IpAddr>, String);

pub(crate) struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<Key, (f64, Instant)>>,
}

impl Limiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from the caller's bucket for this path, if there is one.
    pub fn try_acquire(&self, caller: Option<IpAddr>, path: &str) -> bool {
        self.try_acquire_at(caller, path, Instant::now())
    }

    pub(crate) fn try_acquire_at(&self, caller: Option<IpAddr>, path: &str, now: Instant) -> bool {
        let cap = f64::from(self.limit.burst.max(1));
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, (_, last)| now.saturating_duration_since(*last) < IDLE);
        }
        let b = map
            .entry((caller.map(|c| c.to_canonical()), path.to_string()))
            .or_insert((cap, now));
        let elapsed = now.saturating_duration_since(b.1).as_secs_f64();
        b.0 = (b.0 + elapsed * f64::from(self.limit.steady)).min(cap);
        b.1 = now;
        if b.0 >= 1.0 {
            b.0 -= 1.0;
            true
        } else {
            false
        }
    }
}
