//! Restarting an exited container in place (restart policies): its old
//! task goes (`lifecycle::delete_task`, which lets the logger drain), a new
//! task is made on the same record and snapshot, logging to the same file,
//! and started. The namespaces and mounts are the record's spec's, so the
//! container keeps its network namespace and volumes.

use std::path::Path;

use containerd_client::services::v1::snapshots::snapshots_client::SnapshotsClient;
use containerd_client::services::v1::snapshots::MountsRequest;
use containerd_client::services::v1::tasks_client::TasksClient;
use containerd_client::services::v1::CreateTaskRequest;

use super::create::prepare_log;
use super::error::from_status;
use super::{lifecycle, Conn};
use crate::runtime::RuntimeError;
use crate::task::container::ContainerLog;

pub(super) async fn restart(
    conn: &Conn,
    snapshotter: &str,
    logger: Option<&Path>,
    id: &str,
    log: &ContainerLog,
) -> Result<u32, RuntimeError> {
    let err = |kind, message| RuntimeError::Start {
        id: id.to_string(),
        kind,
        message,
    };
    lifecycle::delete_task(conn, id).await?;
    let mounts = SnapshotsClient::new(conn.channel())
        .mounts(conn.request(MountsRequest {
            snapshotter: snapshotter.to_string(),
            key: id.to_string(),
        }))
        .await
        .map_err(|s| {
            from_status(s, |kind, m| {
                err(kind, format!("restarting: snapshot mounts: {m}"))
            })
        })?
        .into_inner()
        .mounts;
    let log_uri = prepare_log(id, log, logger).await?;
    TasksClient::new(conn.channel())
        .create(conn.request(CreateTaskRequest {
            container_id: id.to_string(),
            rootfs: mounts,
            stdout: log_uri.clone(),
            stderr: log_uri,
            ..Default::default()
        }))
        .await
        .map_err(|s| {
            from_status(s, |kind, m| {
                err(kind, format!("restarting: creating task: {m}"))
            })
        })?;
    let pid = lifecycle::start(conn, id).await?;
    tracing::info!(container = %id, pid, "container restarted in place");
    Ok(pid)
}
