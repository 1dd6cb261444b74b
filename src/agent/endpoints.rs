//! The local endpoints: task metadata for containers, introspection and
//! `/metrics` for operators, fed by the engine's published tasks.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use crate::config::Config;
use crate::endpoints::agent_api::{agent_api_router, TaskProtectionApi};
use crate::endpoints::tags::TagsApi;
use crate::endpoints::{
    introspection_router, metadata_router_with_tags, RateLimiter, StatsCollector,
};
use crate::engine::Engine;
use crate::observe::{AgentView, StatsStore, TaskSource};
use crate::runtime::ContainerRuntime;
use tokio::sync::watch;

use super::error::AgentError;

/// Binds both listeners (a port in use fails the start, naming its
/// variable) and serves them in the background. Returns the container
/// stats store its collector keeps fresh.
pub async fn serve<R: ContainerRuntime>(
    cfg: &Config,
    engine: &Engine<R>,
    runtime: Arc<R>,
    agent: AgentView,
    mut acs_up: watch::Receiver<bool>,
    protection: Arc<dyn TaskProtectionApi>,
    tags: Arc<dyn TagsApi>,
) -> Result<Arc<StatsStore>, AgentError> {
    let published = engine.published().clone();
    published.publish_agent(agent);
    let metrics = engine.metrics().clone();
    let source: Arc<dyn TaskSource> = Arc::new(published);
    let stats = Arc::new(StatsStore::new());
    StatsCollector::new(runtime, source.clone(), stats.clone())
        .with_metrics(metrics.clone())
        .spawn(cfg.endpoints.stats_poll_interval);
    let limit = cfg.endpoints.metadata_rps_limit;
    let limiter = RateLimiter::new(limit, Some(metrics.clone()));

    let metadata_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, cfg.endpoints.credentials_port));
    let metadata = tokio::net::TcpListener::bind(metadata_addr)
        .await
        .map_err(|error| AgentError::Listen {
            listener: "task metadata",
            addr: metadata_addr,
            variable: "ECS_AGENT_CREDENTIALS_PORT",
            error,
        })?;
    let intro_addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, cfg.endpoints.introspection_port));
    let intro = tokio::net::TcpListener::bind(intro_addr)
        .await
        .map_err(|error| AgentError::Listen {
            listener: "introspection",
            addr: intro_addr,
            variable: "ECS_AGENT_INTROSPECTION_PORT",
            error,
        })?;
    // Credentials and task metadata share the listener 169.254.170.2:80
    // leads to, as in the Go agent.
    // The agent API shares the metadata endpoint's request limit.
    let agent_api = limiter.apply(agent_api_router(
        source.clone(),
        engine.credentials().clone(),
        protection,
    ));
    let app = metadata_router_with_tags(source.clone(), stats.clone(), limiter, Some(tags))
        .merge(agent_api)
        .merge(crate::credentials::router(
            engine.credentials().clone(),
            limit,
        ));
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(metadata, service).await {
            tracing::error!(error = %e, "task metadata listener failed");
        }
    });
    let app = introspection_router(source, metrics.clone());
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(intro, service).await {
            tracing::error!(error = %e, "introspection listener failed");
        }
    });
    tracing::info!(metadata = %metadata_addr, introspection = %intro_addr, "local endpoints listening");

    tokio::spawn(async move {
        while acs_up.changed().await.is_ok() {
            let up = *acs_up.borrow_and_update();
            metrics.set_acs_connected(up);
            if up {
                metrics.record_heartbeat();
            }
        }
    });
    Ok(stats)
}
