//! What the agent asks containerd once at start, before it registers: is
//! the socket containerd at all, which version (too old is refused), may our
//! namespace be used, and is the snapshotter we unpack images on working.
//! An agent that registered without these would be placed tasks it can only
//! fail.

use std::path::PathBuf;
use std::time::Duration;

use containerd_client::services::v1::containers_client::ContainersClient;
use containerd_client::services::v1::introspection_client::IntrospectionClient;
use containerd_client::services::v1::version_client::VersionClient;
use containerd_client::services::v1::{ListContainersRequest, PluginsRequest};

use super::version::{Release, OLDEST_SUPPORTED};
use super::Conn;

/// How long one call may take before the socket counts as not answering.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the socket is tried while containerd is not listening yet.
const CONNECT_RETRY: Duration = Duration::from_millis(250);

/// What containerd said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerdInfo {
    /// As its Version service says it (`1.7.24~ds1`, `v2.1.9`).
    pub version: String,
    pub revision: String,
    /// `None` for a version string that is not major.minor[.patch].
    pub release: Option<Release>,
    /// Images are pulled through its Transfer service: 2.0 or later (1.7's
    /// reaches registries over HTTPS only) with the Transfer and Streaming
    /// services loaded.
    pub transfer: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("CONTAINERD_ADDRESS: nothing listens on {path} (waited {waited:?}; is containerd running?): {source}")]
    NotListening {
        path: PathBuf,
        waited: Duration,
        #[source]
        source: std::io::Error,
    },
    #[error("CONTAINERD_ADDRESS: cannot connect to {path}: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("CONTAINERD_ADDRESS: {path} is not a containerd socket (its Version service does not answer: {detail})")]
    NotContainerd { path: PathBuf, detail: String },
    #[error("containerd at {path} is version {found}; the oldest this agent supports is {oldest}: upgrade containerd")]
    TooOld {
        path: PathBuf,
        found: String,
        oldest: Release,
    },
    #[error("CONTAINERD_NAMESPACE: containerd refuses namespace {namespace:?}: {detail}")]
    Namespace { namespace: String, detail: String },
    #[error("containerd's {snapshotter} snapshotter, which every image and container here is unpacked on, {problem}")]
    Snapshotter {
        snapshotter: String,
        problem: String,
    },
}

/// Asks containerd at `conn` what it is. Waits up to `wait` for the socket
/// to accept connections (containerd starting with the agent at boot); a
/// socket that accepts but does not answer as containerd fails at once.
pub async fn probe(
    conn: &Conn,
    snapshotter: &str,
    wait: Duration,
) -> Result<ContainerdInfo, ProbeError> {
    wait_listening(conn, wait).await?;
    let path = conn.socket().to_path_buf();
    let not_containerd = |detail: String| ProbeError::NotContainerd {
        path: path.clone(),
        detail,
    };
    let reply = tokio::time::timeout(CALL_TIMEOUT, VersionClient::new(conn.channel()).version(()))
        .await
        .map_err(|_| not_containerd(format!("no reply within {CALL_TIMEOUT:?}")))?
        .map_err(|s| not_containerd(status_text(&s)))?
        .into_inner();
    let release = Release::parse(&reply.version);
    let mut info = ContainerdInfo {
        version: reply.version,
        revision: reply.revision,
        release,
        transfer: false,
    };
    match info.release {
        Some(r) if r.unsupported() => {
            return Err(ProbeError::TooOld {
                path,
                found: info.version,
                oldest: OLDEST_SUPPORTED,
            })
        }
        Some(_) => {}
        None => {
            tracing::warn!(version = %info.version, "containerd's version is not a release number; assuming it is at least {OLDEST_SUPPORTED}")
        }
    }
    check_namespace(conn).await?;
    check_snapshotter(conn, snapshotter).await?;
    log_deprecations(conn).await;
    if info.release.is_some_and(|r| r.major >= 2) {
        info.transfer = serves(conn, "transfer").await && serves(conn, "streaming").await;
    }
    Ok(info)
}

/// Until the socket accepts a connection: a missing socket or a refused
/// connection is containerd not up yet; anything else (permissions, not a
/// socket) will not change by waiting.
async fn wait_listening(conn: &Conn, wait: Duration) -> Result<(), ProbeError> {
    let path = conn.socket();
    let started = tokio::time::Instant::now();
    let mut logged = false;
    loop {
        match tokio::net::UnixStream::connect(path).await {
            Ok(_) => return Ok(()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                if started.elapsed() >= wait {
                    return Err(ProbeError::NotListening {
                        path: path.to_path_buf(),
                        waited: wait,
                        source: e,
                    });
                }
                if !logged {
                    tracing::info!(socket = %path.display(), error = %e, "containerd is not listening yet; waiting");
                    logged = true;
                }
                tokio::time::sleep(CONNECT_RETRY).await;
            }
            Err(e) => {
                return Err(ProbeError::Connect {
                    path: path.to_path_buf(),
                    source: e,
                })
            }
        }
    }
}

/// A namespaced call containerd must accept: it validates the name, and a
/// proxy or authorization plugin in front of it may refuse it.
async fn check_namespace(conn: &Conn) -> Result<(), ProbeError> {
    let namespace_error = |detail: String| ProbeError::Namespace {
        namespace: conn.namespace().to_string(),
        detail,
    };
    // A filter no container matches: only the namespace is checked.
    let req = conn.request(ListContainersRequest {
        filters: vec!["id==ecs-agent-start-probe".into()],
    });
    tokio::time::timeout(
        CALL_TIMEOUT,
        ContainersClient::new(conn.channel()).list(req),
    )
    .await
    .map_err(|_| namespace_error(format!("no reply within {CALL_TIMEOUT:?}")))?
    .map_err(|s| namespace_error(status_text(&s)))?;
    Ok(())
}

/// Every image is unpacked, and every container made, on one snapshotter:
/// one that is missing or failed to load (overlayfs on a file system that
/// cannot carry it, as inside some containers) fails every task.
async fn check_snapshotter(conn: &Conn, snapshotter: &str) -> Result<(), ProbeError> {
    let problem = |problem: String| ProbeError::Snapshotter {
        snapshotter: snapshotter.to_string(),
        problem,
    };
    let req = PluginsRequest {
        filters: vec![format!(
            "type==io.containerd.snapshotter.v1,id=={snapshotter}"
        )],
    };
    let plugins = tokio::time::timeout(
        CALL_TIMEOUT,
        IntrospectionClient::new(conn.channel()).plugins(req),
    )
    .await
    .map_err(|_| {
        problem(format!(
            "cannot be checked: no reply within {CALL_TIMEOUT:?}"
        ))
    })?
    .map_err(|s| problem(format!("cannot be checked: {}", status_text(&s))))?
    .into_inner()
    .plugins;
    match plugins.first() {
        None => Err(problem("is not among containerd's plugins".into())),
        Some(p) => match &p.init_err {
            Some(e) if e.code != 0 => Err(problem(format!(
                "failed to load in containerd: {}",
                e.message
            ))),
            _ => Ok(()),
        },
    }
}

/// Whether containerd's gRPC service plugin `id` loaded. A question that
/// gets no answer counts as no: the agent then uses its own client.
async fn serves(conn: &Conn, id: &str) -> bool {
    let req = PluginsRequest {
        filters: vec![format!("type==io.containerd.grpc.v1,id=={id}")],
    };
    let reply = tokio::time::timeout(
        CALL_TIMEOUT,
        IntrospectionClient::new(conn.channel()).plugins(req),
    )
    .await;
    match reply {
        Ok(Ok(r)) => r
            .into_inner()
            .plugins
            .first()
            .is_some_and(|p| p.init_err.as_ref().is_none_or(|e| e.code == 0)),
        Ok(Err(s)) => {
            tracing::debug!(plugin = id, error = %status_text(&s), "containerd's plugins cannot be listed");
            false
        }
        Err(_) => false,
    }
}

/// containerd 1.7 and later list the deprecated features in use (config
/// fields, services); logged so that an operator sees them before an
/// upgrade removes them. Older releases have none to say.
async fn log_deprecations(conn: &Conn) {
    let reply = tokio::time::timeout(
        CALL_TIMEOUT,
        IntrospectionClient::new(conn.channel()).server(()),
    )
    .await;
    match reply {
        Ok(Ok(r)) => {
            for d in r.into_inner().deprecations {
                tracing::warn!(id = %d.id, message = %d.message, "containerd reports a deprecated feature in use");
            }
        }
        Ok(Err(s)) => {
            tracing::debug!(error = %status_text(&s), "containerd's Introspection.Server is not available")
        }
        Err(_) => tracing::debug!("containerd's Introspection.Server did not answer"),
    }
}

/// A status as one line: its code, its message, and the transport error
/// behind it (what a socket speaking something else produces).
fn status_text(s: &tonic::Status) -> String {
    let mut text = format!("{:?}: {}", s.code(), s.message());
    let mut source = std::error::Error::source(s);
    while let Some(e) = source {
        let line = e.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = e.source();
    }
    text
}
