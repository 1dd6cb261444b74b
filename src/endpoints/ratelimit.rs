//! ECS_TASK_METADATA_RPS_LIMIT: a token bucket per client IP (as the Go
//! agent's tollbooth limiter, which keys on the remote address), shared by
//! every route of the 169.254.170.2 listener that it is applied to.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::config::RpsLimit;
use crate::observe::AgentMetrics;
use crate::token_bucket::TokenBuckets;

/// Buckets kept before idle (full) ones are dropped.
const MAX_TRACKED_CLIENTS: usize = 4096;

/// Body of a refused request (tollbooth's default message).
pub const LIMIT_MESSAGE: &str = "You have reached maximum request limit.";

/// The shared limiter. Serve with
/// `into_make_service_with_connect_info::<SocketAddr>()` so that it keys on
/// the client IP; without connect info every client shares one bucket.
#[derive(Debug)]
pub struct RateLimiter {
    buckets: TokenBuckets<Option<IpAddr>>,
    metrics: Option<Arc<AgentMetrics>>,
}

impl RateLimiter {
    pub fn new(limit: RpsLimit, metrics: Option<Arc<AgentMetrics>>) -> Arc<RateLimiter> {
        Arc::new(RateLimiter {
            buckets: TokenBuckets::new(limit, MAX_TRACKED_CLIENTS),
            metrics,
        })
    }

    pub fn limit(&self) -> RpsLimit {
        self.buckets.limit()
    }

    /// Takes a token for `client` at `now`; false when the bucket is empty.
    pub fn allow_at(&self, client: Option<IpAddr>, now: Instant) -> bool {
        self.buckets.allow_at(client, now)
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
    fn bucket_allows_burst_then_refills_at_steady_rate() {
        let l = RateLimiter::new(
            RpsLimit {
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
