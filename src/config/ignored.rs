//! The Go agent's variables that this agent accepts without effect, and
//! the test knobs that are read but not documented.

/// Go agent variables accepted without effect: features this agent does not
/// have (Docker, Windows, updates, awsvpc, ...). Listed so they are neither
/// errors nor reported as unknown, only as ignored.
pub(crate) const GO_AGENT_IGNORED: &[&str] = &[
    "ECS_AGENT_APPARMOR_PROFILE",
    "ECS_AGENT_CONFIG_FILE_PATH",
    "ECS_AGENT_HEALTHCHECK_HOST",
    "ECS_AGENT_LABELS",
    "ECS_AGENT_PID_NAMESPACE_HOST",
    "ECS_AGENT_RUN_PRIVILEGED",
    "ECS_ALTERNATE_CREDENTIAL_PROFILE",
    "ECS_APPARMOR_CAPABLE",
    "ECS_AUDIT_LOGFILE",
    "ECS_AUDIT_LOGFILE_DISABLED",
    "ECS_AWSVPC_ADDITIONAL_LOCAL_ROUTES",
    "ECS_AWSVPC_BLOCK_IMDS",
    "ECS_CNI_PLUGINS_PATH",
    "ECS_CONTAINER_CREATE_TIMEOUT",
    "ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM",
    "ECS_DISABLE_TASK_METADATA_AZ",
    "ECS_DOMAIN_JOINED_LINUX_INSTANCE",
    "ECS_EBSTA_SUPPORTED",
    "ECS_ENABLE_CPU_UNBOUNDED_WINDOWS_WORKAROUND",
    "ECS_ENABLE_FIRELENS_ASYNC",
    "ECS_ENABLE_GPU_SUPPORT",
    "ECS_ENABLE_HIGH_DENSITY_ENI",
    "ECS_ENABLE_INF_SUPPORT",
    "ECS_ENABLE_MEMORY_UNBOUNDED_WINDOWS_WORKAROUND",
    "ECS_ENABLE_PROMETHEUS_METRICS",
    "ECS_ENABLE_RUNTIME_STATS",
    "ECS_ENABLE_SPOT_INSTANCE_DRAINING",
    "ECS_EXCLUDE_IPV6_PORTBINDING",
    "ECS_FSX_WINDOWS_FILE_SERVER_SUPPORTED",
    "ECS_GMSA_SUPPORTED",
    "ECS_INIT_DOCKER_LOG_FILE_NUM",
    "ECS_INIT_DOCKER_LOG_FILE_SIZE",
    "ECS_INSTANCE_IP_COMPATIBILITY",
    "ECS_LOGFILE",
    "ECS_LOGLEVEL_ON_INSTANCE",
    "ECS_LOG_DRIVER",
    "ECS_LOG_MAX_FILE_SIZE_MB",
    "ECS_LOG_MAX_ROLL_COUNT",
    "ECS_LOG_OPTS",
    "ECS_LOG_ROLLOVER_TYPE",
    "ECS_MANIFEST_PULL_TIMEOUT",
    "ECS_NVIDIA_RUNTIME",
    // ecs-init (since 2025) drops the introspection port on every interface
    // but loopback and the Docker bridge; the interface is no longer chosen.
    "ECS_OFFHOST_INTROSPECTION_INTERFACE_NAME",
    "ECS_POLL_METRICS",
    "ECS_PROPAGATE_TASK_MEMORY_LIMIT_CGROUPV2",
    "ECS_PULL_DEPENDENT_CONTAINERS_UPFRONT",
    "ECS_SELINUX_CAPABLE",
    "ECS_UPDATES_ENABLED",
    "ECS_UPDATE_DOWNLOAD_DIR",
    "ECS_VOLUME_PLUGIN_CAPABILITIES",
    "ECS_WARM_POOLS_CHECK",
];

/// Knobs for the integration tests, read from the same sources as the
/// variables but neither documented for operators nor reported as unknown.
/// ECS_TEST_IMAGE_PULL_INACTIVITY_TIMEOUT_MS lets a test see a stalled
/// registry stop a pull in a second; operators have the 1m minimum.
pub(crate) const TEST_KNOBS: &[&str] = &[
    "ECS_TEST_TCS_PUBLISH_INTERVAL_MS",
    "ECS_TEST_IMAGE_PULL_INACTIVITY_TIMEOUT_MS",
];
