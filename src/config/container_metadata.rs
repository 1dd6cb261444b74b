//! ECS_ENABLE_CONTAINER_METADATA and ECS_HOST_DATA_DIR: the container
//! metadata file, and where the data directory is on the host when the
//! agent itself runs in a container.

use std::path::PathBuf;

use super::{values, Reader};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerMetadata {
    /// ECS_ENABLE_CONTAINER_METADATA: write `ecs-container-metadata.json`
    /// for each container and point `ECS_CONTAINER_METADATA_FILE` at it.
    pub enabled: bool,
    /// ECS_HOST_DATA_DIR: the host directory mounted at ECS_DATADIR when the
    /// agent runs in a container; the source of the files the agent
    /// bind-mounts into containers. None: the agent runs on the host.
    pub host_data_dir: Option<PathBuf>,
}

impl Reader<'_> {
    pub(super) fn container_metadata(&mut self) -> ContainerMetadata {
        ContainerMetadata {
            enabled: self
                .parse("ECS_ENABLE_CONTAINER_METADATA", values::parse_bool)
                .unwrap_or(false),
            host_data_dir: self.parse("ECS_HOST_DATA_DIR", |s| values::parse_abs_path(s, false)),
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::config::{test_support, Config, ConfigError};

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        test_support::config(pairs)
    }

    #[test]
    fn off_by_default_as_in_the_go_agent_and_documented() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.container_metadata, ContainerMetadata::default());
        assert!(c.ignored_variables.is_empty());
        let doc = test_support::documented_defaults();
        assert_eq!(doc["ECS_ENABLE_CONTAINER_METADATA"], "false");
        assert_eq!(doc["ECS_HOST_DATA_DIR"], "");
    }

    #[test]
    fn values_are_read_and_bad_ones_name_the_variable() {
        let c = cfg(&[
            ("ECS_ENABLE_CONTAINER_METADATA", "true"),
            ("ECS_HOST_DATA_DIR", "/var/lib/ecs/data"),
        ])
        .unwrap();
        assert!(c.container_metadata.enabled);
        assert_eq!(
            c.container_metadata.host_data_dir,
            Some(PathBuf::from("/var/lib/ecs/data"))
        );
        assert!(c.ignored_variables.is_empty(), "{:?}", c.ignored_variables);
        for (name, value) in [
            ("ECS_ENABLE_CONTAINER_METADATA", "maybe"),
            ("ECS_HOST_DATA_DIR", "var/lib/ecs"),
        ] {
            let err = cfg(&[(name, value)]).unwrap_err().to_string();
            assert!(err.contains(name), "{name}={value}: {err}");
        }
    }
}
