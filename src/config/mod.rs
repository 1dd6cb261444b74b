//! Agent configuration: `ECS_*` variables from the process environment and
//! from `/etc/ecs/ecs.config`, validated into one [`Config`].
//!
//! This module is pure: the binary reads the environment into a map and the
//! file into a string ([`config_file_path`] says which file: `ECS_CONFIG_FILE`,
//! else [`DEFAULT_CONFIG_FILE`]), then calls [`parse_env_file`] and
//! [`Config::from_sources`].
//!
//! Names, formats and defaults follow the Go agent (amazon-ecs-agent), with
//! these deliberate differences:
//! - a value that does not parse is an error naming the variable, not a
//!   logged warning followed by the default, so typos cannot go unnoticed;
//!   out-of-range values the Go agent clamps are clamped the same way and
//!   reported in [`Config::warnings`];
//! - precedence is per variable: the environment wins over the file. A
//!   variable present but empty (after trimming) counts as unset, as in Go,
//!   so `ECS_CLUSTER=` in the environment masks the file's value and gives
//!   the default;
//! - the region comes from `AWS_DEFAULT_REGION`, else `AWS_REGION` (each from
//!   the environment, then the file); this pure module cannot ask EC2
//!   instance metadata, so [`Config::resolve_region`] takes the identity
//!   document's region from the agent and completes the Go agent's order
//!   (then `us-east-1` when `ECS_BACKEND_HOST` points somewhere explicit,
//!   else an error);
//! - `ECS_DATADIR` defaults to `/var/lib/ecs/data` (the host path ecs-init
//!   uses) rather than the in-container `/data/`;
//! - `ECS_INSECURE_REGISTRIES`, `CONTAINERD_ADDRESS`, `CONTAINERD_NAMESPACE`
//!   and `ECS_CONFIG_FILE` are ours (there is no Docker daemon to hold them);
//! - Go agent variables for features this agent does not implement are
//!   accepted and listed in [`Config::ignored_variables`]; other `ECS_*`
//!   names are listed in [`Config::unknown_variables`]. Neither is an error.

mod auth;
mod container_metadata;
mod duration;
mod endpoints;
mod env_file;
mod error;
mod free_space;
#[cfg(test)]
mod fuzz_tests;
mod ignored;
mod network;
mod subnet;
mod task_limits;
mod values;
mod variables;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use auth::{RegistryAuth, RegistryCredentials, RegistryHost, DOCKER_HUB};
pub use container_metadata::ContainerMetadata;
pub use duration::{format_go_duration, go_duration_string, parse_go_duration, DurationError};
pub use endpoints::{Endpoints, RpsLimit};
pub use env_file::parse_env_file;
pub use error::{ConfigError, ConfigWarning, EnvFileProblem};
pub use free_space::FreeSpaceThreshold;
use ignored::{GO_AGENT_IGNORED, TEST_KNOBS};
pub use network::{parse_port_range, Networking, DEFAULT_TASK_BRIDGE, DEFAULT_TASK_SUBNET};
pub use subnet::{Ipv4Net, SubnetError};
pub use task_limits::{TaskLimitsConfig, DEFAULT_CGROUP_PATH};
pub use values::{ImagePullBehavior, LogFormat, LogLevel};
pub use variables::documented_variables;

/// Where the agent reads its settings file unless `ECS_CONFIG_FILE` says otherwise.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/ecs/ecs.config";

/// The variable naming an alternative settings file.
pub const CONFIG_FILE_VARIABLE: &str = "ECS_CONFIG_FILE";

const DEFAULT_CLUSTER: &str = "default";
pub(crate) const DEFAULT_DATA_DIR: &str = "/var/lib/ecs/data";
const DEFAULT_REGION_WITH_BACKEND: &str = "us-east-1";
const DEFAULT_RESERVED_PORTS: [u16; 5] = [22, 2375, 2376, 51678, 51679];
pub(crate) const DEFAULT_CONTAINERD_ADDRESS: &str = "/run/containerd/containerd.sock";
pub(crate) const DEFAULT_CONTAINERD_NAMESPACE: &str = "ecs";

const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(30);
const MIN_STOP_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(3 * 60);
const MIN_START_TIMEOUT: Duration = Duration::from_secs(45);
/// The Go agent's DefaultImagePullTimeout: the whole pull, retries included.
const DEFAULT_IMAGE_PULL_TIMEOUT: Duration = Duration::from_secs(2 * 3600);
/// The Go agent's (Linux) default and minimum for ECS_IMAGE_PULL_INACTIVITY_TIMEOUT.
const DEFAULT_IMAGE_PULL_INACTIVITY: Duration = Duration::from_secs(60);
const MIN_IMAGE_PULL_INACTIVITY: Duration = Duration::from_secs(60);
const DEFAULT_CLEANUP_WAIT: Duration = Duration::from_secs(3 * 3600);
const MIN_CLEANUP_WAIT: Duration = Duration::from_secs(1);

/// When and which unused images are removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageCleanup {
    pub disabled: bool,
    pub interval: Duration,
    pub minimum_age: Duration,
    pub non_ecs_minimum_age: Duration,
    pub per_cycle: u32,
    pub untracked: bool,
    pub exclude_untracked: Vec<String>,
    /// ECS_IMAGE_CLEANUP_FREE_SPACE_THRESHOLD (ours): below this much free
    /// space on the image filesystem, unused images go whatever their age.
    pub free_space: Option<FreeSpaceThreshold>,
    /// ECS_IMAGE_FILESYSTEM_PATH (ours): a directory on the filesystem that
    /// holds containerd's images; unset, containerd's content store root.
    pub filesystem: Option<PathBuf>,
}

/// The settings file to read: `ECS_CONFIG_FILE` if set and non-empty, else
/// [`DEFAULT_CONFIG_FILE`].
pub fn config_file_path(env: &BTreeMap<String, String>) -> &str {
    env.get(CONFIG_FILE_VARIABLE)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_CONFIG_FILE)
}

/// The validated agent configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// ECS_CLUSTER: a cluster name or ARN.
    pub cluster: String,
    /// ECS_BACKEND_HOST, normalized to `scheme://host[:port][/path]` without a
    /// trailing slash; None means the regional Amazon ECS endpoint.
    pub backend_host: Option<String>,
    /// AWS_DEFAULT_REGION / AWS_REGION, when set; [`Config::resolve_region`]
    /// gives the region the agent uses.
    pub region: Option<String>,
    /// AWS_EC2_METADATA_DISABLED: never ask EC2 instance metadata (IMDS).
    pub imds_disabled: bool,
    /// AWS_EC2_METADATA_SERVICE_ENDPOINT; None: the SDK's default
    /// (http://169.254.169.254, or per AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE).
    pub imds_endpoint: Option<String>,
    /// ECS_DATADIR.
    pub data_dir: PathBuf,
    /// ECS_CHECKPOINT.
    pub checkpoint: bool,
    /// ECS_DISABLE_METRICS: no task metrics sent over TCS.
    pub disable_metrics: bool,
    /// ECS_LOGLEVEL.
    pub log_level: LogLevel,
    /// ECS_LOG_OUTPUT_FORMAT.
    pub log_output_format: LogFormat,
    /// ECS_RESERVED_MEMORY, in MiB.
    pub reserved_memory_mib: u16,
    /// ECS_RESERVED_PORTS (TCP).
    pub reserved_ports: Vec<u16>,
    /// ECS_RESERVED_PORTS_UDP.
    pub reserved_ports_udp: Vec<u16>,
    /// ECS_CONTAINER_STOP_TIMEOUT: SIGTERM to SIGKILL.
    pub container_stop_timeout: Duration,
    /// ECS_CONTAINER_START_TIMEOUT.
    pub container_start_timeout: Duration,
    /// ECS_IMAGE_PULL_TIMEOUT: a whole pull, every attempt included.
    pub image_pull_timeout: Duration,
    /// ECS_IMAGE_PULL_INACTIVITY_TIMEOUT (at least 1m): no byte from the
    /// registry for this long stops a pull attempt. The test knob
    /// ECS_TEST_IMAGE_PULL_INACTIVITY_TIMEOUT_MS overrides it, below the minimum.
    pub image_pull_inactivity_timeout: Duration,
    /// ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION.
    pub engine_task_cleanup_wait: Duration,
    /// ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION_JITTER.
    pub engine_task_cleanup_jitter: Duration,
    /// ECS_DISABLE_IMAGE_CLEANUP and friends.
    pub image_cleanup: ImageCleanup,
    /// ECS_INSTANCE_ATTRIBUTES.
    pub instance_attributes: BTreeMap<String, String>,
    /// ECS_CONTAINER_INSTANCE_TAGS.
    pub container_instance_tags: BTreeMap<String, String>,
    /// ECS_DETAILED_OS_FAMILY (ecs-init passes `<ID>_<VERSION_ID>` of
    /// /etc/os-release); unset: the agent reads os-release itself.
    pub detailed_os_family: Option<String>,
    /// ECS_IMAGE_PULL_BEHAVIOR.
    pub image_pull_behavior: ImagePullBehavior,
    /// ECS_DISABLE_PRIVILEGED.
    pub disable_privileged: bool,
    /// ECS_DISABLE_DOCKER_HEALTH_CHECK: containers with a health check are
    /// refused and container-health-check is not advertised.
    pub disable_health_check: bool,
    /// ECS_ENGINE_AUTH_TYPE + ECS_ENGINE_AUTH_DATA, keyed by [`RegistryHost`].
    pub engine_auth: RegistryAuth,
    /// ECS_INSECURE_REGISTRIES: lowercased host[:port] entries.
    pub insecure_registries: Vec<String>,
    /// ECS_AVAILABLE_LOGGING_DRIVERS; ecs-init's list when unset.
    pub available_logging_drivers: Vec<String>,
    /// Whether ECS_AVAILABLE_LOGGING_DRIVERS was set (a driver listed by the
    /// user that this agent lacks deserves a warning; ecs-init's default list
    /// does not).
    pub logging_drivers_set: bool,
    /// CONTAINERD_ADDRESS: socket path.
    pub containerd_address: PathBuf,
    /// CONTAINERD_NAMESPACE.
    pub containerd_namespace: String,
    /// Local endpoint ports, request limit, stats polling.
    pub endpoints: Endpoints,
    /// Task networking and task credentials.
    pub networking: Networking,
    /// ECS_ENABLE_CONTAINER_METADATA, ECS_HOST_DATA_DIR.
    pub container_metadata: ContainerMetadata,
    /// ECS_SHARED_VOLUME_MATCH_FULL_CONFIG: an existing shared volume must
    /// have the task's driverOpts and labels, not only its name.
    pub shared_volume_match_full_config: bool,
    /// Task cgroups: ECS_ENABLE_TASK_CPU_MEM_LIMIT, ECS_CGROUP_PATH,
    /// ECS_CGROUP_CPU_PERIOD, ECS_TASK_PIDS_LIMIT.
    pub task_limits: TaskLimitsConfig,
    /// Test only (ECS_TEST_TCS_PUBLISH_INTERVAL_MS, whole milliseconds above
    /// 0): integration tests shorten TCS's publish interval with it. Not a
    /// setting for operators, so not in the documented table.
    pub tcs_publish_interval: Option<Duration>,
    /// `ECS_*` names set in either source that nothing here knows; for a warning.
    pub unknown_variables: Vec<String>,
    /// Go agent variables that are set but have no effect in this agent.
    pub ignored_variables: Vec<String>,
    /// Values accepted after adjustment, for the caller to log.
    pub warnings: Vec<ConfigWarning>,
}

impl Config {
    /// Build the configuration from the process environment and the parsed
    /// settings file. For each variable the environment wins; in the file a
    /// later line wins over an earlier one. Every problem found is reported
    /// (as [`ConfigError::Multiple`] when there are several).
    pub fn from_sources(
        env: &BTreeMap<String, String>,
        file: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        Self::read(&mut Reader::new(env, file))
    }

    /// The region the agent uses, in the Go agent's order (agent/config
    /// config.go NewConfig): AWS_DEFAULT_REGION (or AWS_REGION) from the
    /// environment, then the config file, then the region of the EC2
    /// instance identity document (`identity_region`, None off EC2). After
    /// that, ours alone: `us-east-1` when ECS_BACKEND_HOST is set (ecs-local
    /// does not care), else [`ConfigError::MissingRegion`]. An identity
    /// region that is no region name counts as none.
    pub fn resolve_region(&self, identity_region: Option<&str>) -> Result<String, ConfigError> {
        if let Some(r) = &self.region {
            return Ok(r.clone());
        }
        if let Some(r) = identity_region.filter(|r| values::validate_region(r).is_ok()) {
            return Ok(r.to_string());
        }
        if self.backend_host.is_some() {
            return Ok(DEFAULT_REGION_WITH_BACKEND.to_string());
        }
        Err(ConfigError::MissingRegion)
    }

    fn read(r: &mut Reader<'_>) -> Result<Config, ConfigError> {
        let cluster = r
            .parse("ECS_CLUSTER", |s| {
                values::validate_cluster(s).map(|()| s.to_string())
            })
            .unwrap_or_else(|| DEFAULT_CLUSTER.to_string());
        let backend_host = r.parse("ECS_BACKEND_HOST", values::parse_backend_host);
        let region = r.region();
        // As every AWS SDK reads them (aws-config's imds module): only `true`,
        // in any case, disables; the endpoint is a full http(s) URL.
        let imds_disabled = r
            .parse("AWS_EC2_METADATA_DISABLED", |s| {
                Ok(s.eq_ignore_ascii_case("true"))
            })
            .unwrap_or(false);
        let imds_endpoint = r.parse(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            values::parse_imds_endpoint,
        );
        let data_dir = r
            .parse("ECS_DATADIR", |s| values::parse_abs_path(s, false))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        // As in Go: on by default whenever there is a data directory, and
        // there always is one here.
        let checkpoint = r
            .parse("ECS_CHECKPOINT", values::parse_bool)
            .unwrap_or(!data_dir.as_os_str().is_empty());
        let disable_metrics = r
            .parse("ECS_DISABLE_METRICS", values::parse_bool)
            .unwrap_or(false);
        let log_level = r
            .parse("ECS_LOGLEVEL", LogLevel::parse)
            .unwrap_or(LogLevel::Info);
        let log_output_format = r
            .parse("ECS_LOG_OUTPUT_FORMAT", LogFormat::parse)
            .unwrap_or(LogFormat::Logfmt);
        let reserved_memory_mib = r
            .parse("ECS_RESERVED_MEMORY", values::parse_mib)
            .unwrap_or(0);
        // Go merges an empty array with the default, so `[]` keeps 22 etc.
        let reserved_ports = r
            .parse("ECS_RESERVED_PORTS", values::parse_ports)
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| DEFAULT_RESERVED_PORTS.to_vec());
        let reserved_ports_udp = r
            .parse("ECS_RESERVED_PORTS_UDP", values::parse_ports)
            .unwrap_or_default();
        let container_stop_timeout = r.duration_clamped(
            "ECS_CONTAINER_STOP_TIMEOUT",
            DEFAULT_STOP_TIMEOUT,
            MIN_STOP_TIMEOUT,
        );
        let container_start_timeout = r.duration_clamped(
            "ECS_CONTAINER_START_TIMEOUT",
            DEFAULT_START_TIMEOUT,
            MIN_START_TIMEOUT,
        );
        // Go: zero or unset is the default; there is no minimum.
        let image_pull_timeout = match r.duration("ECS_IMAGE_PULL_TIMEOUT") {
            Some(d) if !d.is_zero() => d,
            _ => DEFAULT_IMAGE_PULL_TIMEOUT,
        };
        let image_pull_inactivity_timeout = r.duration_clamped(
            "ECS_IMAGE_PULL_INACTIVITY_TIMEOUT",
            DEFAULT_IMAGE_PULL_INACTIVITY,
            MIN_IMAGE_PULL_INACTIVITY,
        );
        // A test knob, so that a stalled registry can be tested in seconds
        // without lowering the operators' minimum: whole milliseconds above 0.
        let image_pull_inactivity_timeout = r
            .test_knob("ECS_TEST_IMAGE_PULL_INACTIVITY_TIMEOUT_MS")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
            .unwrap_or(image_pull_inactivity_timeout);
        let engine_task_cleanup_wait = r.cleanup_wait();
        let engine_task_cleanup_jitter = r
            .duration("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION_JITTER")
            .unwrap_or(Duration::ZERO);
        let image_cleanup = r.image_cleanup();
        let instance_attributes = r
            .parse("ECS_INSTANCE_ATTRIBUTES", |s| {
                let m = values::parse_string_map(s)?;
                values::validate_attributes(&m).map(|()| m)
            })
            .unwrap_or_default();
        let detailed_os_family = r.parse("ECS_DETAILED_OS_FAMILY", values::parse_os_family);
        let container_instance_tags = r
            .parse("ECS_CONTAINER_INSTANCE_TAGS", |s| {
                let m = values::parse_string_map(s)?;
                values::validate_tags(&m).map(|()| m)
            })
            .unwrap_or_default();
        let image_pull_behavior = r
            .parse("ECS_IMAGE_PULL_BEHAVIOR", ImagePullBehavior::parse)
            .unwrap_or(ImagePullBehavior::Default);
        let disable_privileged = r
            .parse("ECS_DISABLE_PRIVILEGED", values::parse_bool)
            .unwrap_or(false);
        let disable_health_check = r
            .parse("ECS_DISABLE_DOCKER_HEALTH_CHECK", values::parse_bool)
            .unwrap_or(false);
        let engine_auth = r.engine_auth();
        let logging_drivers = r.parse(
            "ECS_AVAILABLE_LOGGING_DRIVERS",
            values::parse_logging_drivers,
        );
        let logging_drivers_set = logging_drivers.is_some();
        let available_logging_drivers = logging_drivers.unwrap_or_else(|| {
            values::ECS_INIT_LOGGING_DRIVERS
                .iter()
                .map(|d| d.to_string())
                .collect()
        });
        let insecure_registries = r
            .parse("ECS_INSECURE_REGISTRIES", values::parse_insecure_registries)
            .unwrap_or_default();
        let containerd_address = r
            .parse("CONTAINERD_ADDRESS", |s| values::parse_abs_path(s, true))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONTAINERD_ADDRESS));
        let containerd_namespace = r
            .parse("CONTAINERD_NAMESPACE", |s| {
                values::validate_containerd_namespace(s).map(|()| s.to_string())
            })
            .unwrap_or_else(|| DEFAULT_CONTAINERD_NAMESPACE.to_string());
        let endpoints = r.endpoints();
        let networking = r.networking();
        let container_metadata = r.container_metadata();
        let shared_volume_match_full_config = r
            .parse("ECS_SHARED_VOLUME_MATCH_FULL_CONFIG", values::parse_bool)
            .unwrap_or(false);
        let task_limits = r.task_limits();
        // A test knob: anything but a positive number leaves the default.
        let tcs_publish_interval = r
            .test_knob("ECS_TEST_TCS_PUBLISH_INTERVAL_MS")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        r.get(CONFIG_FILE_VARIABLE);

        let (unknown_variables, ignored_variables) = r.leftovers();
        let warnings = std::mem::take(&mut r.warnings);
        match r.errors.len() {
            0 => {}
            1 => return Err(r.errors.remove(0)),
            _ => return Err(ConfigError::Multiple(std::mem::take(&mut r.errors))),
        }
        Ok(Config {
            cluster,
            backend_host,
            region,
            imds_disabled,
            imds_endpoint,
            data_dir,
            checkpoint,
            disable_metrics,
            log_level,
            log_output_format,
            reserved_memory_mib,
            reserved_ports,
            reserved_ports_udp,
            container_stop_timeout,
            container_start_timeout,
            image_pull_timeout,
            image_pull_inactivity_timeout,
            engine_task_cleanup_wait,
            engine_task_cleanup_jitter,
            image_cleanup,
            instance_attributes,
            container_instance_tags,
            detailed_os_family,
            image_pull_behavior,
            disable_privileged,
            disable_health_check,
            engine_auth,
            insecure_registries,
            available_logging_drivers,
            logging_drivers_set,
            containerd_address,
            containerd_namespace,
            endpoints,
            networking,
            container_metadata,
            shared_volume_match_full_config,
            task_limits,
            tcs_publish_interval,
            unknown_variables,
            ignored_variables,
            warnings,
        })
    }

    /// Credentials for a registry (an image reference's
    /// [`Reference::registry`](crate::task::image_ref::Reference::registry),
    /// or [`RegistryHost::new`] of a name as written); Docker Hub aliases all match.
    pub fn credentials_for(&self, registry: &RegistryHost) -> Option<&RegistryCredentials> {
        self.engine_auth.get(registry)
    }

    /// Whether ECS_INSECURE_REGISTRIES lists this host[:port].
    pub fn is_insecure_registry(&self, registry_host: &str) -> bool {
        let host = registry_host.trim().to_ascii_lowercase();
        self.insecure_registries.contains(&host)
    }
}

impl fmt::Debug for Config {
    // Written out so that a field added later cannot leak a secret by
    // default: credentials show only registry and user name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth: BTreeMap<&str, &str> = self
            .engine_auth
            .iter()
            .map(|(host, c)| (host.as_str(), c.username.as_str()))
            .collect();
        f.debug_struct("Config")
            .field("cluster", &self.cluster)
            .field("backend_host", &self.backend_host)
            .field("region", &self.region)
            .field("imds_disabled", &self.imds_disabled)
            .field("imds_endpoint", &self.imds_endpoint)
            .field("data_dir", &self.data_dir)
            .field("checkpoint", &self.checkpoint)
            .field("disable_metrics", &self.disable_metrics)
            .field("log_level", &self.log_level)
            .field("log_output_format", &self.log_output_format)
            .field("reserved_memory_mib", &self.reserved_memory_mib)
            .field("reserved_ports", &self.reserved_ports)
            .field("reserved_ports_udp", &self.reserved_ports_udp)
            .field("container_stop_timeout", &self.container_stop_timeout)
            .field("container_start_timeout", &self.container_start_timeout)
            .field("image_pull_timeout", &self.image_pull_timeout)
            .field(
                "image_pull_inactivity_timeout",
                &self.image_pull_inactivity_timeout,
            )
            .field("engine_task_cleanup_wait", &self.engine_task_cleanup_wait)
            .field("image_cleanup", &self.image_cleanup)
            .field("instance_attributes", &self.instance_attributes)
            .field("container_instance_tags", &self.container_instance_tags)
            .field("detailed_os_family", &self.detailed_os_family)
            .field("image_pull_behavior", &self.image_pull_behavior)
            .field("disable_privileged", &self.disable_privileged)
            .field("disable_health_check", &self.disable_health_check)
            .field("engine_auth_users", &auth)
            .field("insecure_registries", &self.insecure_registries)
            .field("available_logging_drivers", &self.available_logging_drivers)
            .field("logging_drivers_set", &self.logging_drivers_set)
            .field("containerd_address", &self.containerd_address)
            .field("containerd_namespace", &self.containerd_namespace)
            .field("endpoints", &self.endpoints)
            .field("networking", &self.networking)
            .field("container_metadata", &self.container_metadata)
            .field("task_limits", &self.task_limits)
            .field("tcs_publish_interval", &self.tcs_publish_interval)
            .field("unknown_variables", &self.unknown_variables)
            .field("ignored_variables", &self.ignored_variables)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Looks variables up in both sources, collecting errors instead of
/// stopping at the first, and remembering which names were consulted.
struct Reader<'a> {
    env: &'a BTreeMap<String, String>,
    file: BTreeMap<&'a str, &'a str>,
    consulted: BTreeSet<&'static str>,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigWarning>,
}

impl<'a> Reader<'a> {
    fn new(env: &'a BTreeMap<String, String>, file: &'a [(String, String)]) -> Self {
        // Collecting into a map keeps the last occurrence of a key.
        let file = file.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Reader {
            env,
            file,
            consulted: BTreeSet::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The trimmed value, None when absent or empty.
    fn get(&mut self, name: &'static str) -> Option<&'a str> {
        self.consulted.insert(name);
        let raw = match self.env.get(name) {
            Some(v) => v.as_str(),
            None => self.file.get(name).copied()?,
        };
        Some(raw.trim()).filter(|v| !v.is_empty())
    }

    /// A test knob's trimmed value: read like a variable, but neither
    /// documented nor reported as unknown.
    fn test_knob(&self, name: &'static str) -> Option<&'a str> {
        debug_assert!(TEST_KNOBS.contains(&name));
        let raw = match self.env.get(name) {
            Some(v) => v.as_str(),
            None => self.file.get(name).copied()?,
        };
        Some(raw.trim()).filter(|v| !v.is_empty())
    }

    /// Parse a variable if set; on failure record the error and return None.
    fn parse<T>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, values::Expected>,
    ) -> Option<T> {
        let raw = self.get(name)?;
        match parse(raw) {
            Ok(v) => Some(v),
            Err(expected) => {
                self.errors.push(ConfigError::Invalid {
                    variable: name,
                    value: raw.to_string(),
                    expected,
                });
                None
            }
        }
    }

    fn duration(&mut self, name: &'static str) -> Option<Duration> {
        self.parse(name, |s| {
            parse_go_duration(s).map_err(|e| {
                format!(
                    "a Go duration like 30s, 1m30s, 1.5h or 500ms (units h, m, s, ms, us, ns): {e}"
                )
            })
        })
    }

    /// Go semantics: zero means the default, below the minimum is raised to it.
    fn duration_clamped(
        &mut self,
        name: &'static str,
        default: Duration,
        min: Duration,
    ) -> Duration {
        match self.duration(name) {
            None => default,
            Some(d) if d.is_zero() => default,
            Some(d) if d < min => {
                self.warn(
                    name,
                    format!(
                        "below the minimum of {}; using {}",
                        format_go_duration(min),
                        format_go_duration(min)
                    ),
                );
                min
            }
            Some(d) => d,
        }
    }

    /// Go semantics: below the minimum, the default is used instead.
    fn image_cleanup(&mut self) -> ImageCleanup {
        let positive_duration =
            |r: &mut Self, name: &'static str, default: Duration| match r.duration(name) {
                Some(d) if !d.is_zero() => d,
                _ => default,
            };
        ImageCleanup {
            disabled: self
                .parse("ECS_DISABLE_IMAGE_CLEANUP", values::parse_bool)
                .unwrap_or(false),
            interval: positive_duration(
                self,
                "ECS_IMAGE_CLEANUP_INTERVAL",
                Duration::from_secs(30 * 60),
            ),
            minimum_age: positive_duration(
                self,
                "ECS_IMAGE_MINIMUM_CLEANUP_AGE",
                Duration::from_secs(3600),
            ),
            non_ecs_minimum_age: positive_duration(
                self,
                "NON_ECS_IMAGE_MINIMUM_CLEANUP_AGE",
                Duration::from_secs(3600),
            ),
            per_cycle: self
                .parse("ECS_NUM_IMAGES_DELETE_PER_CYCLE", |s| {
                    match s.trim().parse::<u32>() {
                        Ok(n) if n > 0 => Ok(n),
                        _ => Err("a whole number of images above 0, e.g. 5".into()),
                    }
                })
                .unwrap_or(5),
            untracked: self
                .parse("ECS_ENABLE_UNTRACKED_IMAGE_CLEANUP", values::parse_bool)
                .unwrap_or(false),
            exclude_untracked: self
                .parse("ECS_EXCLUDE_UNTRACKED_IMAGE", |s| {
                    Ok::<_, values::Expected>(
                        s.split(',')
                            .map(str::trim)
                            .filter(|x| !x.is_empty())
                            .map(str::to_string)
                            .collect(),
                    )
                })
                .unwrap_or_default(),
            free_space: self.parse(
                "ECS_IMAGE_CLEANUP_FREE_SPACE_THRESHOLD",
                FreeSpaceThreshold::parse,
            ),
            filesystem: self.parse("ECS_IMAGE_FILESYSTEM_PATH", |s| {
                values::parse_abs_path(s, false)
            }),
        }
    }

    fn cleanup_wait(&mut self) -> Duration {
        let name = "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION";
        match self.duration(name) {
            None => DEFAULT_CLEANUP_WAIT,
            Some(d) if d.is_zero() => DEFAULT_CLEANUP_WAIT,
            Some(d) if d < MIN_CLEANUP_WAIT => {
                self.warn(
                    name,
                    format!(
                        "below the minimum of {}; using the default {}",
                        format_go_duration(MIN_CLEANUP_WAIT),
                        format_go_duration(DEFAULT_CLEANUP_WAIT)
                    ),
                );
                DEFAULT_CLEANUP_WAIT
            }
            Some(d) => d,
        }
    }

    fn warn(&mut self, name: &'static str, message: String) {
        let value = self.get(name).unwrap_or_default().to_string();
        self.warnings.push(ConfigWarning {
            variable: name,
            value,
            message,
        });
    }

    /// The region set explicitly, if any; the rest of the order is
    /// [`Config::resolve_region`]'s.
    fn region(&mut self) -> Option<String> {
        let check = |s: &str| values::validate_region(s).map(|()| s.to_string());
        let default_set = self.get("AWS_DEFAULT_REGION").is_some();
        let region_set = self.get("AWS_REGION").is_some();
        // AWS_REGION is only validated when it is the one used.
        let name = match (default_set, region_set) {
            (true, _) => "AWS_DEFAULT_REGION",
            (false, true) => "AWS_REGION",
            (false, false) => return None,
        };
        // An invalid value is already recorded as an error.
        self.parse(name, check)
    }

    fn engine_auth(&mut self) -> RegistryAuth {
        let kind = self.get(auth::AUTH_TYPE);
        let data = self.get(auth::AUTH_DATA);
        match auth::parse_engine_auth(kind, data) {
            Ok(m) => m.into(),
            Err(e) => {
                self.errors.push(e);
                RegistryAuth::default()
            }
        }
    }

    /// (unknown, ignored) `ECS_*` names present in either source.
    fn leftovers(&self) -> (Vec<String>, Vec<String>) {
        let names: BTreeSet<&str> = self
            .env
            .keys()
            .map(String::as_str)
            .chain(self.file.keys().copied())
            .collect();
        let mut unknown = Vec::new();
        let mut ignored = Vec::new();
        for name in names {
            if self.consulted.contains(name) || TEST_KNOBS.contains(&name) {
                continue;
            }
            if GO_AGENT_IGNORED.contains(&name) {
                ignored.push(name.to_string());
            } else if name.starts_with("ECS_") {
                unknown.push(name.to_string());
            }
        }
        (unknown, ignored)
    }
}

#[cfg(test)]
mod tests;

/// For the per-area config tests: the configuration from a minimal valid
/// environment plus `pairs`, and the documented default of each variable.
#[cfg(test)]
pub(crate) mod test_support {
    use std::collections::BTreeMap;

    use super::{documented_variables, Config, ConfigError};

    pub(crate) fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut env: BTreeMap<String, String> =
            BTreeMap::from([("AWS_DEFAULT_REGION".into(), "us-west-2".into())]);
        env.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Config::from_sources(&env, &[])
    }

    pub(crate) fn documented_defaults() -> BTreeMap<&'static str, &'static str> {
        documented_variables()
            .iter()
            .map(|(n, d, _)| (*n, *d))
            .collect()
    }
}
