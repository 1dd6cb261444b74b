//! The holder of a task's shared PID and IPC namespaces (`pidMode` /
//! `ipcMode` `task`): a containerd container of its own running the agent's
//! init in `--pause` mode, as the Go agent runs its pause container.
//!
//! A PID namespace lives only as long as its first process (when that one
//! ends the kernel kills every other process in it, and nothing can join it
//! any more), so it cannot be pinned with a bind mount like a network
//! namespace, nor borrowed from the task's first container, whose exit
//! would take the others with it. The holder is that first process: PID 1
//! of the shared namespace, reaping what is orphaned there. It is a
//! containerd task, so its shim owns it and it outlives the agent, like the
//! task's containers; the containers join it through `/proc/<pid>/ns/...`
//! (the shared /dev/shm is a tmpfs the engine makes on the host: a mount
//! of another mount namespace cannot be bind-mounted).
//!
//! It needs no image: its root is an empty directory next to the init
//! (`$ECS_DATADIR/bin/namespace-root`), read-only, with the init bound in,
//! a tmpfs /dev and /proc (runc needs it); no capabilities, no privileges to
//! gain, a network namespace of its own with nothing in it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use containerd_client::services::v1::container::Runtime;
use containerd_client::services::v1::containers_client::ContainersClient;
use containerd_client::services::v1::tasks_client::TasksClient;
use containerd_client::services::v1::{
    Container, CreateContainerRequest, CreateTaskRequest, WaitRequest,
};

use super::create::RUNC_V2;
use super::error::from_status;
use super::{lifecycle, Conn};
use crate::runtime::{ErrorKind, NamespaceHolder, RuntimeError};

const SPEC_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
/// Where the init is mounted in the holder.
const INIT_IN_HOLDER: &str = "/ecs-agent-init";
/// How long a holder told to go (SIGTERM) gets before it is killed.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// The empty root of every holder, beside the init.
fn root_dir(init: &Path) -> PathBuf {
    init.with_file_name("namespace-root")
}

/// The holder's OCI spec. Pure.
pub(super) fn spec(holder: &NamespaceHolder, init: &Path, namespace: &str) -> serde_json::Value {
    let cgroup = match &holder.cgroup_parent {
        Some(parent) => format!("{}/{}", parent.trim_end_matches('/'), holder.id),
        None => format!("/{namespace}/{}", holder.id),
    };
    serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": [INIT_IN_HOLDER, "--pause"],
            "env": ["PATH=/"],
            "cwd": "/",
            "capabilities": {"bounding": [], "effective": [], "permitted": []},
            "noNewPrivileges": true
        },
        "root": {"path": root_dir(init), "readonly": true},
        // runc itself needs /proc (it closes inherited descriptors through it).
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": INIT_IN_HOLDER, "type": "bind", "source": init,
             "options": ["bind", "ro"]}
        ],
        "linux": {
            "namespaces": [
                {"type": "pid"}, {"type": "ipc"}, {"type": "mount"},
                {"type": "uts"}, {"type": "network"}
            ],
            "cgroupsPath": cgroup
        }
    })
}

/// The holder's host pid: the running one, or a new one started.
pub(super) async fn ensure(
    conn: &Conn,
    snapshotter: &str,
    init: &Path,
    holder: &NamespaceHolder,
) -> Result<u32, RuntimeError> {
    let id = holder.id.as_str();
    let create_err = |kind, message: String| RuntimeError::Create {
        id: id.to_string(),
        kind,
        message: format!("task namespace holder: {message}"),
    };
    match lifecycle::state(conn, id).await? {
        Some(crate::runtime::ContainerState::Running { pid }) => return Ok(pid),
        // Ended (its namespace with it) or half made: made again.
        Some(state) => {
            tracing::warn!(container = %id, ?state, "task namespace holder not running; making it again");
            lifecycle::remove(conn, snapshotter, id).await?;
        }
        None => {}
    }
    let root = root_dir(init);
    tokio::fs::create_dir_all(&root).await.map_err(|e| {
        create_err(
            ErrorKind::Other,
            format!("creating {}: {e}", root.display()),
        )
    })?;
    let json = serde_json::to_vec(&spec(holder, init, conn.namespace()))
        .map_err(|e| create_err(ErrorKind::Other, format!("encoding the OCI spec: {e}")))?;
    let container = Container {
        id: id.to_string(),
        labels: [(
            "com.amazonaws.ecs.namespace-holder".to_string(),
            "true".to_string(),
        )]
        .into(),
        runtime: Some(Runtime {
            name: RUNC_V2.to_string(),
            options: None,
        }),
        spec: Some(prost_types::Any {
            type_url: SPEC_TYPE_URL.to_string(),
            value: json,
        }),
        ..Default::default()
    };
    let made = async {
        ContainersClient::new(conn.channel())
            .create(conn.request(CreateContainerRequest {
                container: Some(container),
            }))
            .await
            .map_err(|s| from_status(s, |kind, m| create_err(kind, format!("recording: {m}"))))?;
        TasksClient::new(conn.channel())
            .create(conn.request(CreateTaskRequest {
                container_id: id.to_string(),
                ..Default::default()
            }))
            .await
            .map_err(|s| {
                from_status(s, |kind, m| create_err(kind, format!("creating task: {m}")))
            })?;
        lifecycle::start(conn, id).await
    }
    .await;
    match made {
        Ok(pid) => {
            tracing::info!(container = %id, pid, "task namespace holder started");
            Ok(pid)
        }
        Err(e) => {
            if let Err(c) = lifecycle::remove(conn, snapshotter, id).await {
                tracing::warn!(container = %id, error = %c, "cannot remove the half-made namespace holder");
            }
            Err(e)
        }
    }
}

/// Tells the holder to go (its namespaces end with it), then removes it.
/// Idempotent.
pub(super) async fn remove(conn: &Conn, snapshotter: &str, id: &str) -> Result<(), RuntimeError> {
    if let Some(crate::runtime::ContainerState::Running { .. }) = lifecycle::state(conn, id).await?
    {
        lifecycle::kill(conn, id, 15).await?;
        let mut tasks = TasksClient::new(conn.channel());
        let wait = tasks.wait(conn.request(WaitRequest {
            container_id: id.to_string(),
            exec_id: String::new(),
        }));
        // Past the wait, remove kills it.
        let _ = tokio::time::timeout(STOP_WAIT, wait).await;
    }
    lifecycle::remove(conn, snapshotter, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_runs_the_init_unprivileged_in_new_namespaces() {
        let holder = NamespaceHolder {
            id: "t1-ns".into(),
            cgroup_parent: Some("/ecs/t1".into()),
        };
        let init = Path::new("/var/lib/ecs/data/bin/ecs-agent-init");
        let v = spec(&holder, init, "ecs");
        assert_eq!(
            v["process"]["args"],
            serde_json::json!(["/ecs-agent-init", "--pause"])
        );
        assert_eq!(
            v["process"]["capabilities"]["effective"],
            serde_json::json!([])
        );
        assert_eq!(
            v["root"],
            serde_json::json!({"path": "/var/lib/ecs/data/bin/namespace-root", "readonly": true})
        );
        assert_eq!(v["linux"]["cgroupsPath"], "/ecs/t1/t1-ns");
        let types: Vec<&str> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["pid", "ipc", "mount", "uts", "network"]);
        assert_eq!(v["mounts"][2]["source"], init.display().to_string());
        let v = spec(
            &NamespaceHolder {
                cgroup_parent: None,
                ..holder
            },
            init,
            "ecs",
        );
        assert_eq!(v["linux"]["cgroupsPath"], "/ecs/t1-ns");
    }
}
