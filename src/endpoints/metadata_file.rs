//! ECS_ENABLE_CONTAINER_METADATA: the container metadata file, as the Go
//! agent's containermetadata package writes it. At create the file holds
//! the task fields (no `MetadataFileStatus`: Go's `omitempty` drops its zero
//! value); once the container runs it is rewritten with the container fields
//! and `"MetadataFileStatus": "READY"`. The host directory
//! `$ECS_DATADIR/metadata/<task-arn-resource-after-"task/">/<container>` is
//! bind-mounted at `/opt/ecs/metadata/<uuid>` and
//! `ECS_CONTAINER_METADATA_FILE` points at the file inside.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::EndpointsError;
use crate::observe::metadata_json::{networks_json, NetworkJson, Version};
use crate::observe::names;
use crate::observe::view::{AgentView, ContainerView, TaskView};

pub const FILE_NAME: &str = "ecs-container-metadata.json";
pub const CONTAINER_MOUNT_ROOT: &str = "/opt/ecs/metadata";
pub const ENV_VAR: &str = "ECS_CONTAINER_METADATA_FILE";
const READY: &str = "READY";

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
pub fn to_json(f: &MetadataFile) -> Result<Vec<u8>, EndpointsError> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"\t"),
    );
    f.serialize(&mut ser).map_err(EndpointsError::Encode)?;
    Ok(out)
}

/// The part of a task ARN the Go agent names the directory after: what
/// follows the first `/` of the resource (`cluster/id` for long ARNs).
pub fn task_dir_name(task_arn: &str) -> Result<&str, EndpointsError> {
    let bad = || EndpointsError::BadTaskArn(task_arn.to_string());
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
) -> Result<PathBuf, EndpointsError> {
    if container_name.is_empty()
        || !is_plain_relative(container_name)
        || container_name.contains('/')
    {
        return Err(EndpointsError::BadContainerName(container_name.to_string()));
    }
    Ok(data_dir
        .join("metadata")
        .join(task_dir_name(task_arn)?)
        .join(container_name))
}

/// `$ECS_DATADIR/metadata/<task>`, removed when the task is cleaned up.
pub fn task_dir(data_dir: &Path, task_arn: &str) -> Result<PathBuf, EndpointsError> {
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
) -> Result<MetadataMount, EndpointsError> {
    let host_dir = container_dir(data_dir, task_arn, container_name)?;
    let bind_source = container_dir(host_data_dir.unwrap_or(data_dir), task_arn, container_name)?;
    std::fs::create_dir_all(&host_dir).map_err(|source| EndpointsError::Io {
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
pub fn write(dir: &Path, f: &MetadataFile) -> Result<PathBuf, EndpointsError> {
    use std::os::unix::fs::PermissionsExt;
    let data = to_json(f)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EndpointsError::Io { path, source }
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
pub fn remove_task(data_dir: &Path, task_arn: &str) -> Result<(), EndpointsError> {
    let dir = task_dir(data_dir, task_arn)?;
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(EndpointsError::Io { path: dir, source }),
    }
}
