//! `ecs-local`: a local Amazon ECS control plane. One address serves the ECS
//! JSON 1.1 API (POST /), the ACS websocket (/acs/ws) and the TCS websocket
//! (/tcs/ws). State lives in redb under the data dir.

pub mod acs;
pub mod api;
pub mod app;
pub mod attach_timeout;
pub mod auth;
pub mod config;
#[cfg(test)]
mod corpus_tests;
pub mod credentials;
pub mod debug;
pub mod ecr;
pub mod enis;
pub mod error;
#[cfg(test)]
mod fuzz_tests;
pub mod imds;
pub mod overrides;
pub mod payload;
pub mod placement;
pub mod refresh;
pub mod refusal;
pub mod requires;
pub mod server;
pub mod sigv4;
pub mod state;
pub mod store;
pub mod strict_json;
pub mod taskdef;
pub mod taskdef_bodies;
pub mod taskdef_limits;
pub mod tcs;
pub mod ws;

use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("opening the store: {0}")]
    Store(#[from] store::StoreError),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(#[source] std::io::Error),
}

/// Opens the store, binds, prints `ecs-local listening on ADDR` and serves
/// until `shutdown` resolves.
pub async fn run(
    cfg: config::Config,
    data_dir: PathBuf,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), LocalError> {
    let store = store::Store::open(&data_dir)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| LocalError::Listen {
            addr: cfg.listen,
            source,
        })?;
    let bound = listener.local_addr().map_err(LocalError::Serve)?;
    let mut cfg = cfg;
    cfg.listen = bound;
    let app = Arc::new(app::App::new(cfg, store)?);
    tracing::info!(addr = %bound, data_dir = %data_dir.display(), "ecs-local started");
    // Tests and scripts read this line (with the real port when given :0).
    println!("ecs-local listening on {bound}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let refresher = tokio::spawn(refresh::run(app.clone()));
    let attach_deadlines = tokio::spawn(attach_timeout::run(app.clone()));
    let served = axum::serve(listener, server::router(app))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(LocalError::Serve);
    refresher.abort();
    attach_deadlines.abort();
    served
}
