//! ECS_ENABLE_CONTAINER_METADATA for the engine: the file is written when
//! the container is created, mounted into it, and rewritten READY once it
//! runs. Failures are logged, never fatal to the container, as in the Go agent.

use std::path::Path;

use super::metadata_file::{self, HostInfo, MetadataFileError};
use crate::observe::view::{AgentView, TaskView};
use crate::task::container::BindMount;

/// Prepared at create: the mount and the variable pointing into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AtCreate {
    pub mount: BindMount,
    /// `ECS_CONTAINER_METADATA_FILE=...`
    pub env: String,
}

/// What the file shows of the host. No EC2 instance metadata is read here,
/// so the availability zone and host addresses stay unset (omitted).
fn host_info() -> HostInfo {
    HostInfo::default()
}

/// Creates the directory, writes the initial file and returns what the
/// container spec needs. Blocking: call from a blocking thread.
/// `host_data_dir`: ECS_HOST_DATA_DIR.
pub(crate) fn at_create(
    data_dir: &Path,
    host_data_dir: Option<&Path>,
    agent: &AgentView,
    task: &TaskView,
    container: &str,
) -> Result<AtCreate, MetadataFileError> {
    let prepared = metadata_file::prepare(data_dir, host_data_dir, &task.arn, container)?;
    let initial = metadata_file::initial(agent, &host_info(), task, container);
    metadata_file::write(&prepared.host_dir, &initial)?;
    Ok(AtCreate {
        mount: BindMount {
            source: prepared.bind_source,
            destination: prepared.container_dir,
            // As the Go agent: the container may write next to the file.
            read_only: false,
        },
        env: prepared.env,
    })
}

/// Rewrites the file with the container's runtime facts and `READY`.
/// Blocking: call from a blocking thread.
pub(crate) fn ready(
    data_dir: &Path,
    agent: &AgentView,
    task: &TaskView,
    container: &str,
) -> Result<(), MetadataFileError> {
    let Some(c) = task.containers.iter().find(|c| c.name == container) else {
        return Err(MetadataFileError::BadContainerName(container.to_string()));
    };
    let dir = metadata_file::container_dir(data_dir, &task.arn, container)?;
    let file = metadata_file::ready(agent, &host_info(), task, c);
    metadata_file::write(&dir, &file).map(|_| ())
}

/// Removes the task's metadata files (at cleanup). Missing is fine.
pub(crate) fn remove_task(data_dir: &Path, task_arn: &str) -> Result<(), MetadataFileError> {
    metadata_file::remove_task(data_dir, task_arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::view::ContainerView;
    use crate::task::def::NetworkMode;

    fn task() -> TaskView {
        TaskView {
            arn: "arn:aws:ecs:us-east-1:0:task/c/abc".into(),
            family: "fam".into(),
            revision: "3".into(),
            network_mode: NetworkMode::Bridge,
            containers: vec![ContainerView {
                name: "web".into(),
                runtime_id: "abc-0-web".into(),
                docker_name: "abc-0-web".into(),
                image: "busybox".into(),
                image_id: "sha256:d".into(),
                ..ContainerView::default()
            }],
            ..TaskView::default()
        }
    }

    fn agent() -> AgentView {
        AgentView {
            cluster: "c".into(),
            container_instance_arn: Some("arn:aws:ecs:us-east-1:0:container-instance/c/i".into()),
            ..AgentView::default()
        }
    }

    fn read(dir: &Path) -> serde_json::Value {
        let text = std::fs::read_to_string(dir.join(metadata_file::FILE_NAME)).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn create_then_ready_then_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let at = at_create(tmp.path(), None, &agent(), &task(), "web").unwrap();
        let dir = tmp.path().join("metadata/c/abc/web");
        assert_eq!(at.mount.source, dir);
        assert!(!at.mount.read_only);
        assert!(at.mount.destination.starts_with("/opt/ecs/metadata/"));
        assert_eq!(
            at.env,
            format!(
                "ECS_CONTAINER_METADATA_FILE={}/ecs-container-metadata.json",
                at.mount.destination
            )
        );
        let v = read(&dir);
        assert_eq!(v["TaskARN"], "arn:aws:ecs:us-east-1:0:task/c/abc");
        assert_eq!(v["ContainerName"], "web");
        assert_eq!(v["Cluster"], "c");
        assert!(v.get("MetadataFileStatus").is_none(), "{v}");
        assert!(v.get("ContainerID").is_none(), "{v}");

        ready(tmp.path(), &agent(), &task(), "web").unwrap();
        let v = read(&dir);
        assert_eq!(v["MetadataFileStatus"], "READY");
        assert_eq!(v["ContainerID"], "abc-0-web");
        assert_eq!(v["DockerContainerName"], "/abc-0-web");
        assert_eq!(v["ImageName"], "busybox");
        assert_eq!(v["TaskDefinitionRevision"], "3");
        assert!(ready(tmp.path(), &agent(), &task(), "other").is_err());

        remove_task(tmp.path(), &task().arn).unwrap();
        assert!(!dir.exists());
    }

    #[test]
    fn host_data_dir_is_the_mount_source() {
        let tmp = tempfile::tempdir().unwrap();
        let host = Path::new("/host/ecs/data");
        let at = at_create(tmp.path(), Some(host), &agent(), &task(), "web").unwrap();
        assert_eq!(
            at.mount.source,
            Path::new("/host/ecs/data/metadata/c/abc/web")
        );
        assert!(tmp.path().join("metadata/c/abc/web").is_dir());
    }
}
