//! ECS_ENABLE_CONTAINER_METADATA: the container metadata file, as the Go
//! agent's containermetadata package writes it. At create the file holds
//! the task fields (no `MetadataFileStatus`: Go's `omitempty` drops its zero
//! value); once the container runs it is rewritten with the container fields
//! and `"MetadataFileStatus": "READY"`. The host directory
//! `$ECS_DATADIR/metadata/<task-arn-resource-after-"task/">/<container>` is
//! bind-mounted at `/opt/ecs/metadata/<uuid>` and
//! `ECS_CONTAINER_METADATA_FILE` points at the file inside. The engine
//! writes it (see `metadata.rs`); its `Networks` are printed as task metadata
//! v3 prints them (`observe::metadata_json`).

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::observe::metadata_json::{networks_json, NetworkJson, Version};
use crate::observe::names;
use crate::observe::view::{AgentView, ContainerView, TaskView};

pub const FILE_NAME: &str = "ecs-container-metadata.json";
pub const CONTAINER_MOUNT_ROOT: &str = "/opt/ecs/metadata";
pub const ENV_VAR: &str = "ECS_CONTAINER_METADATA_FILE";
const READY: &str = "READY";

#[derive(Debug, thiserror::Error)]
pub enum MetadataFileError {
    #[error("task ARN {0:?} has no task id (expected arn:...:task/[cluster/]id)")]
    BadTaskArn(String),
    #[error("container name {0:?} cannot name a metadata directory")]
    BadContainerName(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode the container metadata file: {0}")]
    Encode(#[source] serde_json::Error),
}

/// Host facts the Go agent adds (from EC2 instance metadata there; pass
/// what is known, empty strings are omitted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostInfo {
    pub availability_zone: String,
    pub private_ipv4: String,
    pub public_ipv4: String,
    pub ipv6: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PortMapping {
    #[serde(rename = "ContainerPort")]
    pub container_port: u16,
    #[serde(rename = "ContainerPortRange")]
    pub container_port_range: String,
    #[serde(rename = "HostPort")]
    pub host_port: u16,
    #[serde(rename = "BindIp")]
    pub bind_ip: String,
    #[serde(rename = "Protocol")]
    pub protocol: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetadataFile {
    #[serde(rename = "Cluster", skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(
        rename = "ContainerInstanceARN",
        skip_serializing_if = "String::is_empty"
    )]
    pub container_instance_arn: String,
    #[serde(rename = "TaskARN", skip_serializing_if = "String::is_empty")]
    pub task_arn: String,
    #[serde(
        rename = "TaskDefinitionFamily",
        skip_serializing_if = "String::is_empty"
    )]
    pub task_definition_family: String,
    #[serde(
        rename = "TaskDefinitionRevision",
        skip_serializing_if = "String::is_empty"
    )]
    pub task_definition_revision: String,
    #[serde(rename = "ContainerID", skip_serializing_if = "String::is_empty")]
    pub container_id: String,
    #[serde(rename = "ContainerName", skip_serializing_if = "String::is_empty")]
    pub container_name: String,
    #[serde(
        rename = "DockerContainerName",
        skip_serializing_if = "String::is_empty"
    )]
    pub docker_container_name: String,
    #[serde(rename = "ImageID", skip_serializing_if = "String::is_empty")]
    pub image_id: String,
    #[serde(rename = "ImageName", skip_serializing_if = "String::is_empty")]
    pub image_name: String,
    #[serde(rename = "PortMappings", skip_serializing_if = "Vec::is_empty")]
    pub port_mappings: Vec<PortMapping>,
    #[serde(rename = "Networks", skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkJson>,
    #[serde(rename = "MetadataFileStatus", skip_serializing_if = "Option::is_none")]
    pub metadata_file_status: Option<&'static str>,
    #[serde(rename = "AvailabilityZone", skip_serializing_if = "String::is_empty")]
    pub availability_zone: String,
    #[serde(
        rename = "HostPrivateIPv4Address",
        skip_serializing_if = "String::is_empty"
    )]
    pub host_private_ipv4_address: String,
    #[serde(
        rename = "HostPublicIPv4Address",
        skip_serializing_if = "String::is_empty"
    )]
    pub host_public_ipv4_address: String,
    #[serde(rename = "HostIPv6Address", skip_serializing_if = "String::is_empty")]
    pub host_ipv6_address: String,
}

/// The file written when the container is created.
pub fn initial(
    agent: &AgentView,
    host: &HostInfo,
    task: &TaskView,
    container_name: &str,
) -> MetadataFile {
    MetadataFile {
        cluster: agent.cluster.clone(),
        container_instance_arn: agent.container_instance_arn.clone().unwrap_or_default(),
        task_arn: task.arn.clone(),
        task_definition_family: task.family.clone(),
        task_definition_revision: task.revision.clone(),
        container_id: String::new(),
        container_name: container_name.to_string(),
        docker_container_name: String::new(),
        image_id: String::new(),
        image_name: String::new(),
        port_mappings: Vec::new(),
        networks: Vec::new(),
        metadata_file_status: None,
        availability_zone: host.availability_zone.clone(),
        host_private_ipv4_address: host.private_ipv4.clone(),
        host_public_ipv4_address: host.public_ipv4.clone(),
        host_ipv6_address: host.ipv6.clone(),
    }
}

/// The file rewritten once the container runs.
pub fn ready(
    agent: &AgentView,
    host: &HostInfo,
    task: &TaskView,
    c: &ContainerView,
) -> MetadataFile {
    let mut f = initial(agent, host, task, &c.name);
    f.container_id = c.runtime_id.clone();
    // Docker's inspect name, which the Go agent copies, starts with '/'.
    f.docker_container_name = if c.docker_name.is_empty() {
        String::new()
    } else {
        format!("/{}", c.docker_name)
    };
    f.image_id = c.image_id.clone();
    f.image_name = c.image.clone();
    f.port_mappings = c
        .ports
        .iter()
        .map(|p| PortMapping {
            container_port: p.container_port,
            container_port_range: String::new(),
            host_port: p.host_port,
            bind_ip: p.host_ip.clone(),
            protocol: names::protocol(p.protocol).to_string(),
        })
        .collect();
    f.networks = networks_json(task, c, Version::V3);
    f.metadata_file_status = Some(READY);
    f
}

/// Go's MarshalIndent(.., "", "\t").
pub fn to_json(f: &MetadataFile) -> Result<Vec<u8>, MetadataFileError> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"\t"),
    );
    f.serialize(&mut ser).map_err(MetadataFileError::Encode)?;
    Ok(out)
}

/// The part of a task ARN the Go agent names the directory after: what
/// follows the first `/` of the resource (`cluster/id` for long ARNs).
pub fn task_dir_name(task_arn: &str) -> Result<&str, MetadataFileError> {
    let bad = || MetadataFileError::BadTaskArn(task_arn.to_string());
    let resource = task_arn.splitn(6, ':').nth(5).ok_or_else(bad)?;
    let (_, rest) = resource.split_once('/').ok_or_else(bad)?;
    if rest.is_empty() || !is_plain_relative(rest) {
        return Err(bad());
    }
    Ok(rest)
}

fn is_plain_relative(p: &str) -> bool {
    Path::new(p)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
}

/// `$ECS_DATADIR/metadata/<task>/<container>`.
pub fn container_dir(
    data_dir: &Path,
    task_arn: &str,
    container_name: &str,
) -> Result<PathBuf, MetadataFileError> {
    if container_name.is_empty()
        || !is_plain_relative(container_name)
        || container_name.contains('/')
    {
        return Err(MetadataFileError::BadContainerName(
            container_name.to_string(),
        ));
    }
    Ok(data_dir
        .join("metadata")
        .join(task_dir_name(task_arn)?)
        .join(container_name))
}

/// `$ECS_DATADIR/metadata/<task>`, removed when the task is cleaned up.
pub fn task_dir(data_dir: &Path, task_arn: &str) -> Result<PathBuf, MetadataFileError> {
    Ok(data_dir.join("metadata").join(task_dir_name(task_arn)?))
}

/// What the engine adds to the container spec for the metadata file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataMount {
    /// Directory holding the file as this process sees it: pass to [`write`].
    pub host_dir: PathBuf,
    /// The same directory as the host (containerd) sees it: the bind-mount
    /// source (read-write, as Go). Differs from `host_dir` only when the
    /// agent itself runs in a container (ECS_HOST_DATA_DIR).
    pub bind_source: PathBuf,
    /// Mount destination inside the container.
    pub container_dir: String,
    /// `ECS_CONTAINER_METADATA_FILE=<container_dir>/ecs-container-metadata.json`
    pub env: String,
}

/// Creates the directory and picks the in-container path (random, as Go).
/// `host_data_dir`: where ECS_DATADIR is on the host when the agent runs in
/// a container (Go: ECS_HOST_DATA_DIR); `None` when it runs on the host.
pub fn prepare(
    data_dir: &Path,
    host_data_dir: Option<&Path>,
    task_arn: &str,
    container_name: &str,
) -> Result<MetadataMount, MetadataFileError> {
    let host_dir = container_dir(data_dir, task_arn, container_name)?;
    let bind_source = container_dir(host_data_dir.unwrap_or(data_dir), task_arn, container_name)?;
    std::fs::create_dir_all(&host_dir).map_err(|source| MetadataFileError::Io {
        path: host_dir.clone(),
        source,
    })?;
    let container_dir = format!("{CONTAINER_MOUNT_ROOT}/{}", uuid::Uuid::new_v4());
    let env = format!("{ENV_VAR}={container_dir}/{FILE_NAME}");
    Ok(MetadataMount {
        host_dir,
        bind_source,
        container_dir,
        env,
    })
}

/// Writes `f` as `<dir>/ecs-container-metadata.json` atomically (temp file,
/// mode 0644, fsync, rename), so a reader never sees half a file.
pub fn write(dir: &Path, f: &MetadataFile) -> Result<PathBuf, MetadataFileError> {
    use std::os::unix::fs::PermissionsExt;
    let data = to_json(f)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| MetadataFileError::Io { path, source }
    };
    let target = dir.join(FILE_NAME);
    let tmp = dir.join(format!(
        ".{FILE_NAME}.{}.tmp",
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(&data).map_err(io(&tmp))?;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, &target).map_err(io(&target))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| target)
}

/// Removes the task's metadata directory (at task cleanup). Missing is fine.
pub fn remove_task(data_dir: &Path, task_arn: &str) -> Result<(), MetadataFileError> {
    let dir = task_dir(data_dir, task_arn)?;
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(MetadataFileError::Io { path: dir, source }),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::{json, Value};

    use super::*;

    use crate::observe::test_fixtures::{agent, host_task, HOST_CID, HOST_TASK_ARN};

    #[test]
    fn metadata_file_phases_match_the_go_agent() {
        let t = host_task();
        let host = HostInfo {
            availability_zone: "us-west-2b".into(),
            private_ipv4: "10.0.0.5".into(),
            ..Default::default()
        };
        let mut a = agent();
        a.container_instance_arn =
            Some("arn:aws:ecs:us-west-2:111122223333:container-instance/default/ci1".into());
        let first = initial(&a, &host, &t, "web");
        let v = serde_json::to_value(&first).unwrap();
        assert_eq!(
            v,
            json!({
                "Cluster": "default",
                "ContainerInstanceARN": "arn:aws:ecs:us-west-2:111122223333:container-instance/default/ci1",
                "TaskARN": HOST_TASK_ARN,
                "TaskDefinitionFamily": "web",
                "TaskDefinitionRevision": "3",
                "ContainerName": "web",
                "AvailabilityZone": "us-west-2b",
                "HostPrivateIPv4Address": "10.0.0.5"
            })
        );
        let ready = ready(&a, &host, &t, &t.containers[0]);
        let v = serde_json::to_value(&ready).unwrap();
        assert_eq!(v["MetadataFileStatus"], "READY");
        assert_eq!(v["ContainerID"], HOST_CID);
        assert_eq!(v["DockerContainerName"], "/ecs-web-3-web-1");
        assert_eq!(v["ImageName"], "busybox");
        assert_eq!(
            v["PortMappings"],
            json!([{"ContainerPort": 8080, "ContainerPortRange": "", "HostPort": 8080,
                    "BindIp": "0.0.0.0", "Protocol": "tcp"}])
        );
        assert_eq!(
            v["Networks"],
            json!([{"NetworkMode": "host", "IPv4Addresses": [""]}])
        );

        let text = String::from_utf8(to_json(&ready).unwrap()).unwrap();
        assert!(
            text.starts_with("{\n\t\"Cluster\": \"default\",\n"),
            "{text}"
        );

        let dir = tempfile::tempdir().unwrap();
        let m = prepare(dir.path(), None, HOST_TASK_ARN, "web").unwrap();
        assert_eq!(m.bind_source, m.host_dir);
        let in_container = prepare(
            dir.path(),
            Some(Path::new("/var/lib/ecs/data")),
            HOST_TASK_ARN,
            "web",
        )
        .unwrap();
        assert_eq!(
            in_container.bind_source,
            Path::new("/var/lib/ecs/data/metadata/default/1111aaaa2222bbbb/web")
        );
        assert_eq!(
            m.host_dir,
            dir.path().join("metadata/default/1111aaaa2222bbbb/web")
        );
        assert!(m.container_dir.starts_with("/opt/ecs/metadata/"));
        assert_eq!(
            m.env,
            format!(
                "ECS_CONTAINER_METADATA_FILE={}/ecs-container-metadata.json",
                m.container_dir
            )
        );
        let path = write(&m.host_dir, &first).unwrap();
        let path2 = write(&m.host_dir, &ready).unwrap();
        assert_eq!(path, path2);
        let back: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(back["MetadataFileStatus"], "READY");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(
            std::fs::read_dir(&m.host_dir).unwrap().count(),
            1,
            "no temp files left"
        );
        remove_task(dir.path(), HOST_TASK_ARN).unwrap();
        assert!(!dir
            .path()
            .join("metadata/default/1111aaaa2222bbbb")
            .exists());
        remove_task(dir.path(), HOST_TASK_ARN).unwrap();

        // Old-style ARNs have no cluster part; nonsense is refused.
        assert_eq!(task_dir_name("arn:aws:ecs:r:1:task/abc").unwrap(), "abc");
        for bad in [
            "arn:aws:ecs:r:1:task",
            "nope",
            "arn:aws:ecs:r:1:task/../x",
            "arn:aws:ecs:r:1:task/",
        ] {
            assert!(task_dir_name(bad).is_err(), "{bad}");
        }
        assert!(container_dir(dir.path(), HOST_TASK_ARN, "../x").is_err());
    }
}
