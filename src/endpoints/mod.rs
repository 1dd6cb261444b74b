//! Local HTTP endpoints for containers and operators: task metadata v3/v4
//! with Docker-shaped stats, the introspection API with a Prometheus
//! `/metrics`, and the shared request limit.
//!
//! This module does not own listeners or the engine: it gets a narrow
//! `observe::TaskSource` (the engine publishes `observe::TaskView`s into an
//! `observe::Published`) and returns axum routers. Wired in by
//! `src/bin/ecs-agent.rs` (listeners, stats, ACS gauge), along these lines:
//!
//! ```ignore
//! use std::sync::Arc;
//! use ecs::endpoints::{self, *};
//! use ecs::observe::*;
//!
//! // main, once at start:
//! let metrics = Arc::new(AgentMetrics::new());
//! let published = Published::new(AgentView {
//!     cluster: cfg.cluster.clone(),
//!     container_instance_arn: None, // publish_agent() again after registration
//!     version: format!("ecs-agent v{}", env!("CARGO_PKG_VERSION")),
//!     container_instance_tags: cfg.container_instance_tags.clone().into_iter().collect(),
//!     vpc_id: String::new(),
//! });
//! let source: Arc<dyn TaskSource> = Arc::new(published.clone());
//! let stats = Arc::new(StatsStore::new());
//! let _poller = StatsCollector::new(runtime.clone(), source.clone(), stats.clone())
//!     .with_metrics(metrics.clone())
//!     .spawn(std::time::Duration::from_secs(10));
//! let limit = RateLimit::from_env_value(std::env::var("ECS_TASK_METADATA_RPS_LIMIT").ok().as_deref())?;
//! let limiter = RateLimiter::new(limit, Some(metrics.clone()));
//! // 127.0.0.1:51679 (what 169.254.170.2:80 is DNATed to): metadata + credentials
//! // on one listener and one limiter (per client IP, as the Go agent). The
//! // credentials router has its own bucket: give it a limit it never reaches
//! // and wrap it with ours, so both share one budget.
//! let creds_app = credentials::router(creds.clone(), credentials::RateLimit { steady: u32::MAX, burst: u32::MAX });
//! let task_app = metadata_router(source.clone(), stats.clone(), limiter.clone())
//!     .merge(limiter.apply(creds_app));
//! // Neither router has a fallback; add one after merging if wanted.
//! axum::serve(listener, task_app.into_make_service_with_connect_info::<std::net::SocketAddr>());
//! // 0.0.0.0:51678 (as the Go agent): introspection + /metrics.
//! axum::serve(intro_listener, introspection_router(source, metrics.clone()));
//!
//! // engine (not through this module): a token per container
//! // (engine::exec::tokens), its URIs in the container's environment, the
//! // container metadata file (engine::exec::metadata_file), and
//! // published.publish_task(view) after every task/container change.
//!
//! // control: metrics.set_acs_connected(true/false); metrics.record_heartbeat();
//! // image/engine: let pull = metrics.pull_started(); metrics.add_pull_bytes(n); pull.succeeded();
//! // engine: metrics.set_state_changes_pending(n); metrics.inc_state_changes_submitted();
//! // anyone: metrics.inc_error("pull" | "create" | "start" | "stop" | "acs" | "tcs" | "state_change" | ...);
//! ```
//!
//! Stats: containers of the snapshot whose `known_status` is `RUNNING` and
//! that have a `runtime_id` are polled. Network counters come from
//! `/proc/<pid>/net/dev` of the container's init process (its network
//! namespace; loopback left out) for non-`host` tasks; `host` tasks show no
//! `networks`, as Docker does for host-mode containers.

pub mod agent_api;
mod gojson;
pub mod introspection;
pub mod prometheus;
pub mod ratelimit;
pub mod stats;
pub mod tags;
pub mod tmds;
pub mod tmds_json;

#[cfg(test)]
mod tests;

pub use gojson::{format_go_time, GoFloat, GoTime};
pub use introspection::introspection_router;
pub use ratelimit::{RateLimit, RateLimiter};
pub use stats::{StatsCollector, StatsError};
pub use tmds::{metadata_router, metadata_router_with_tags};

/// The `/license` text.
pub const LICENSE_TEXT: &str = include_str!("LICENSE-NOTICE.txt");

#[derive(Debug, thiserror::Error)]
pub enum EndpointsError {
    #[error("ECS_TASK_METADATA_RPS_LIMIT={value:?}: {why}")]
    BadRateLimit { value: String, why: String },
}
