//! ECS_TASK_METADATA_RPS_LIMIT: a token bucket per client IP (as the Go
//! agent's tollbooth limiter, which keys on the remote address), shared by
//! every route of the 169.254.170.2 listener that it is applied to.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::EndpointsError;
use crate::observe::AgentMetrics;

/// Go agent defaults for ECS_TASK_METADATA_RPS_LIMIT.
pub const DEFAULT_STEADY_RPS: u32 = 40;
pub const DEFAULT_BURST: u32 = 60;

/// Buckets kept before idle (full) ones are dropped.
const MAX_TRACKED_CLIENTS: usize = 4096;

/// Body of a refused request (tollbooth's default message).
pub const LIMIT_MESSAGE: &str = "You have reached maximum request limit.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per second refilled.
    pub steady: u32,
    /// Bucket size: requests allowed at once.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            steady: DEFAULT_STEADY_RPS,
            burst: DEFAULT_BURST,
        }
    }
}

impl RateLimit {
    /// Parses the value of ECS_TASK_METADATA_RPS_LIMIT (`"steady,burst"`);
    /// unset or empty gives the defaults (40,60).
    pub fn from_env_value(value: Option<&str>) -> Result<RateLimit, EndpointsError> {
        let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(RateLimit::default());
        };
        let bad = |why: &str| EndpointsError::BadRateLimit {
            value: v.to_string(),
            why: why.to_string(),
        };
        let (a, b) = v
            .split_once(',')
            .ok_or_else(|| bad("expected \"steady,burst\""))?;
        let steady: u32 = a
            .trim()
            .parse()
            .map_err(|_| bad("steady rate is not a whole number"))?;
        let burst: u32 = b
            .trim()
            .parse()
            .map_err(|_| bad("burst is not a whole number"))?;
        if steady == 0 || burst == 0 {
            return Err(bad("both numbers must be above 0"));
        }
        Ok(RateLimit { steady, burst })
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The shared limiter. Serve with
/// `into_make_service_with_connect_info::<SocketAddr>()` so that it keys on
/// the client IP; without connect info every client shares one bucket.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<Option<IpAddr>, Bucket>>,
    metrics: Option<Arc<AgentMetrics>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit, metrics: Option<Arc<AgentMetrics>>) -> Arc<RateLimiter> {
        Arc::new(RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
            metrics,
        })
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Takes a token for `client` at `now`; false when the bucket is empty.
    pub fn allow_at(&self, client: Option<IpAddr>, now: Instant) -> bool {
        let rate = f64::from(self.limit.steady);
        let burst = f64::from(self.limit.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_TRACKED_CLIENTS && !buckets.contains_key(&client) {
            // A full bucket carries no state worth keeping.
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate < burst
            });
        }
        let b = buckets.entry(client).or_insert(Bucket {
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

    /// Wraps every route of `router` (apply once per router; routes added
    /// to the router afterwards are not limited).
    pub fn apply<S: Clone + Send + Sync + 'static>(
        self: &Arc<Self>,
        router: Router<S>,
    ) -> Router<S> {
        router.layer(middleware::from_fn_with_state(self.clone(), limit))
    }
}

async fn limit(State(limiter): State<Arc<RateLimiter>>, req: Request, next: Next) -> Response {
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip());
    if limiter.allow_at(client, Instant::now()) {
        return next.run(req).await;
    }
    if let Some(m) = &limiter.metrics {
        m.inc_metadata_throttled();
    }
    tracing::debug!(client = ?client, path = %req.uri().path(), "task metadata request throttled");
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        LIMIT_MESSAGE,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parses_like_the_go_agent_and_names_the_variable() {
        assert_eq!(
            RateLimit::from_env_value(None).unwrap(),
            RateLimit::default()
        );
        assert_eq!(
            RateLimit::from_env_value(Some(" 10, 20 ")).unwrap(),
            RateLimit {
                steady: 10,
                burst: 20
            }
        );
        for bad in ["10", "a,1", "1,b", "0,5", "1,2,3"] {
            let e = RateLimit::from_env_value(Some(bad))
                .unwrap_err()
                .to_string();
            assert!(e.contains("ECS_TASK_METADATA_RPS_LIMIT"), "{bad}: {e}");
        }
    }

    #[test]
    fn bucket_allows_burst_then_refills_at_steady_rate() {
        let l = RateLimiter::new(
            RateLimit {
                steady: 10,
                burst: 3,
            },
            None,
        );
        let t0 = Instant::now();
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        assert!((0..3).all(|_| l.allow_at(ip, t0)));
        assert!(!l.allow_at(ip, t0));
        // Another client has its own bucket.
        assert!(l.allow_at(Some(IpAddr::from([10, 0, 0, 2])), t0));
        // 100ms at 10/s refills one token.
        assert!(l.allow_at(ip, t0 + Duration::from_millis(100)));
        assert!(!l.allow_at(ip, t0 + Duration::from_millis(100)));
        // Never more than the burst.
        let later = t0 + Duration::from_secs(60);
        assert!((0..3).all(|_| l.allow_at(ip, later)));
        assert!(!l.allow_at(ip, later));
    }
}
