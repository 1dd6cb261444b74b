//! Local HTTP endpoints for containers and operators: task metadata v3/v4
//! with Docker-shaped stats, the introspection API with a Prometheus
//! `/metrics`, and the shared request limit.
//!
//! This module does not own listeners or the engine: it gets a narrow
//! `observe::TaskSource` (the engine publishes `observe::TaskView`s into an
//! `observe::Published`) and returns axum routers. The agent
//! (`src/agent/endpoints.rs`) wires them, along these lines:
//!
//! ```ignore
//! use std::sync::Arc;
//! use ecs::endpoints::*;
//! use ecs::observe::*;
//!
//! // Published tasks and the agent's counters come from the engine.
//! let published = engine.published().clone();
//! published.publish_agent(agent_view); // cluster, instance ARN, version, tags
//! let metrics = engine.metrics().clone();
//! let source: Arc<dyn TaskSource> = Arc::new(published);
//! let stats = Arc::new(StatsStore::new());
//! StatsCollector::new(runtime.clone(), source.clone(), stats.clone())
//!     .with_metrics(metrics.clone())
//!     .spawn(cfg.endpoints.stats_poll_interval);
//! // ECS_TASK_METADATA_RPS_LIMIT, as the config parsed it.
//! let limit = cfg.endpoints.metadata_rps_limit;
//! let limiter = RateLimiter::new(limit, Some(metrics.clone()));
//! // 127.0.0.1:ECS_AGENT_CREDENTIALS_PORT (what 169.254.170.2:80 is DNATed
//! // to): task metadata, the agent API (sharing the metadata limiter) and
//! // the credentials routes, which keep buckets of their own.
//! let app = metadata_router_with_tags(source.clone(), stats.clone(), limiter.clone(), Some(tags))
//!     .merge(limiter.apply(agent_api::agent_api_router(source.clone(), creds.clone(), protection)))
//!     .merge(ecs::credentials::router(creds.clone(), limit));
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>());
//! // 0.0.0.0:ECS_AGENT_INTROSPECTION_PORT: introspection + /metrics.
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
mod gotime;
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
pub use ratelimit::RateLimiter;
pub use stats::{StatsCollector, StatsError};
pub use tmds::{metadata_router, metadata_router_with_tags};

/// The `/license` text.
pub const LICENSE_TEXT: &str = include_str!("LICENSE-NOTICE.txt");
