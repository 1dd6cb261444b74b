//! Start, signal, inspect and remove containers made by `create`.

use std::time::Duration;

use containerd_client::services::v1::containers_client::ContainersClient;
use containerd_client::services::v1::snapshots::snapshots_client::SnapshotsClient;
use containerd_client::services::v1::snapshots::RemoveSnapshotRequest;
use containerd_client::services::v1::tasks_client::TasksClient;
use containerd_client::services::v1::{
    DeleteContainerRequest, DeleteTaskRequest, GetContainerRequest, GetRequest, KillRequest,
    StartRequest, WaitRequest,
};
use containerd_client::types::v1::Status as ProcessStatus;
use tonic::Code;

use super::error::from_status;
use super::Conn;
use crate::runtime::ContainerState;
use crate::runtime::{ErrorKind, RuntimeError};

const SIGKILL: u32 = 9;
/// How long `remove` waits for a SIGKILLed task to be reaped.
const KILL_WAIT: Duration = Duration::from_secs(30);

pub(super) async fn start(conn: &Conn, id: &str) -> Result<u32, RuntimeError> {
    let pid = TasksClient::new(conn.channel())
        .start(conn.request(StartRequest {
            container_id: id.to_string(),
            exec_id: String::new(),
        }))
        .await
        .map_err(|s| {
            from_status(s, |kind, message| RuntimeError::Start {
                id: id.to_string(),
                kind,
                message,
            })
        })?
        .into_inner()
        .pid;
    tracing::info!(container = %id, pid, "container started");
    Ok(pid)
}

pub(super) async fn kill(conn: &Conn, id: &str, signal: i32) -> Result<(), RuntimeError> {
    let kill_err = |kind, message| RuntimeError::Kill {
        id: id.to_string(),
        kind,
        message,
    };
    let signal = u32::try_from(signal)
        .ok()
        .filter(|s| (1..=64).contains(s))
        .ok_or_else(|| kill_err(ErrorKind::Other, format!("invalid signal {signal}")))?;
    let req = KillRequest {
        container_id: id.to_string(),
        exec_id: String::new(),
        signal,
        all: false,
    };
    match TasksClient::new(conn.channel())
        .kill(conn.request(req))
        .await
    {
        Ok(_) => {
            tracing::info!(container = %id, signal, "signal sent");
            Ok(())
        }
        Err(s) if already_gone(&s) => {
            tracing::debug!(container = %id, signal, "signal not sent: process already gone");
            Ok(())
        }
        Err(s) => Err(from_status(s, kill_err)),
    }
}

/// No task, or its process already exited: nothing left to signal.
fn already_gone(s: &tonic::Status) -> bool {
    s.code() == Code::NotFound || s.message().contains("process already finished")
}

pub(super) async fn state(conn: &Conn, id: &str) -> Result<Option<ContainerState>, RuntimeError> {
    let state_err = |kind, message| RuntimeError::State {
        id: id.to_string(),
        kind,
        message,
    };
    match ContainersClient::new(conn.channel())
        .get(conn.request(GetContainerRequest { id: id.to_string() }))
        .await
    {
        Ok(_) => {}
        Err(s) if s.code() == Code::NotFound => return Ok(None),
        Err(s) => return Err(from_status(s, state_err)),
    }
    let req = GetRequest {
        container_id: id.to_string(),
        exec_id: String::new(),
    };
    let process = match TasksClient::new(conn.channel())
        .get(conn.request(req))
        .await
    {
        Ok(resp) => resp.into_inner().process,
        Err(s) if s.code() == Code::NotFound => return Ok(Some(ContainerState::Created)),
        Err(s) => return Err(from_status(s, state_err)),
    };
    let Some(p) = process else {
        return Ok(Some(ContainerState::Created));
    };
    let state = match ProcessStatus::try_from(p.status).unwrap_or(ProcessStatus::Unknown) {
        // containerd answers UNKNOWN when the shim did not tell it the state
        // in time (a busy host; its Get gives the shim 2 s) rather than
        // failing the call. A running container read as half-made would be
        // taken for vanished and its task stopped: say "cannot tell" instead.
        ProcessStatus::Unknown => {
            return Err(state_err(
                ErrorKind::Unavailable,
                format!("containerd could not tell the state of the task of container {id} (its shim did not answer in time)"),
            ))
        }
        ProcessStatus::Created => ContainerState::Created,
        ProcessStatus::Running | ProcessStatus::Paused | ProcessStatus::Pausing => {
            ContainerState::Running { pid: p.pid }
        }
        ProcessStatus::Stopped => ContainerState::Stopped {
            exit_code: exit_code(p.exit_status),
        },
    };
    Ok(Some(state))
}

/// containerd reports a death by signal N as 128+N already; larger values
/// would only come from a broken shim.
pub(super) fn exit_code(status: u32) -> i32 {
    i32::try_from(status).unwrap_or(i32::MAX)
}

/// Deletes an exited (or never started) task. The shim closes the logger's
/// pipes and waits for the logger to leave, which it does only once it has
/// read both to their end (`crate::logger`): when this returns, the log is
/// complete, and the shim goes away with its last task.
pub(super) async fn delete_task(conn: &Conn, id: &str) -> Result<(), RuntimeError> {
    match TasksClient::new(conn.channel())
        .delete(conn.request(DeleteTaskRequest {
            container_id: id.to_string(),
        }))
        .await
    {
        Ok(resp) => {
            let r = resp.into_inner();
            tracing::info!(container = %id, pid = r.pid, exit_code = exit_code(r.exit_status), "exited task deleted: its shim and logger end");
            Ok(())
        }
        Err(s) if s.code() == Code::NotFound => Ok(()),
        Err(s) => Err(from_status(s, |kind, message| RuntimeError::DeleteTask {
            id: id.to_string(),
            kind,
            message,
        })),
    }
}

pub(super) async fn remove(conn: &Conn, snapshotter: &str, id: &str) -> Result<(), RuntimeError> {
    let remove_err = |kind, message| RuntimeError::Remove {
        id: id.to_string(),
        kind,
        message,
    };
    let mut tasks = TasksClient::new(conn.channel());

    let get = GetRequest {
        container_id: id.to_string(),
        exec_id: String::new(),
    };
    let running = match tasks.get(conn.request(get)).await {
        Ok(resp) => resp.into_inner().process.is_some_and(|p| {
            matches!(
                ProcessStatus::try_from(p.status),
                Ok(ProcessStatus::Running | ProcessStatus::Paused | ProcessStatus::Pausing)
            )
        }),
        Err(s) if s.code() == Code::NotFound => false,
        Err(s) => return Err(from_status(s, remove_err)),
    };
    if running {
        // The engine removes stopped containers; one still running here is
        // a leftover, so it is killed rather than left behind.
        tracing::warn!(container = %id, "removing a running container: sending SIGKILL");
        let kill = KillRequest {
            container_id: id.to_string(),
            exec_id: String::new(),
            signal: SIGKILL,
            all: true,
        };
        match tasks.kill(conn.request(kill)).await {
            Ok(_) => {}
            Err(s) if already_gone(&s) => {}
            Err(s) => return Err(from_status(s, remove_err)),
        }
        let wait = WaitRequest {
            container_id: id.to_string(),
            exec_id: String::new(),
        };
        match tokio::time::timeout(KILL_WAIT, tasks.wait(conn.request(wait))).await {
            Ok(Ok(_)) => {}
            Ok(Err(s)) if s.code() == Code::NotFound => {}
            Ok(Err(s)) => return Err(from_status(s, remove_err)),
            Err(_) => {
                return Err(remove_err(
                    ErrorKind::Other,
                    format!("task still running {KILL_WAIT:?} after SIGKILL"),
                ))
            }
        }
    }

    match tasks
        .delete(conn.request(DeleteTaskRequest {
            container_id: id.to_string(),
        }))
        .await
    {
        Ok(resp) => {
            let r = resp.into_inner();
            tracing::debug!(container = %id, pid = r.pid, exit_code = exit_code(r.exit_status), "task deleted");
        }
        Err(s) if s.code() == Code::NotFound => {}
        Err(s) => {
            return Err(from_status(s, |kind, m| {
                remove_err(kind, format!("deleting task: {m}"))
            }))
        }
    }
    match ContainersClient::new(conn.channel())
        .delete(conn.request(DeleteContainerRequest { id: id.to_string() }))
        .await
    {
        Ok(_) => {}
        Err(s) if s.code() == Code::NotFound => {}
        Err(s) => {
            return Err(from_status(s, |kind, m| {
                remove_err(kind, format!("deleting container record: {m}"))
            }))
        }
    }
    let req = RemoveSnapshotRequest {
        snapshotter: snapshotter.to_string(),
        key: id.to_string(),
    };
    match SnapshotsClient::new(conn.channel())
        .remove(conn.request(req))
        .await
    {
        Ok(_) => {}
        Err(s) if s.code() == Code::NotFound => {}
        Err(s) => {
            return Err(from_status(s, |kind, m| {
                remove_err(kind, format!("removing snapshot: {m}"))
            }))
        }
    }
    tracing::info!(container = %id, "container removed");
    Ok(())
}
