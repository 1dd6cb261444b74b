//! The table of variables this agent honours (documentation is generated
//! from it) and the Go agent variables it accepts without effect.

use super::{
    DEFAULT_CGROUP_PATH, DEFAULT_CONFIG_FILE, DEFAULT_CONTAINERD_ADDRESS,
    DEFAULT_CONTAINERD_NAMESPACE, DEFAULT_DATA_DIR,
};

/// Every variable this agent honours: (name, default, meaning). The README
/// table and deploy/ecs.config are generated from it.
pub fn documented_variables() -> &'static [(&'static str, &'static str, &'static str)] {
    DOCUMENTED
}

const DOCUMENTED: &[(&str, &str, &str)] = &[
    (
        "ECS_CONFIG_FILE",
        DEFAULT_CONFIG_FILE,
        "Settings file of KEY=VALUE lines (# comments, optional `export ` and quotes). Read from the \
         environment only. Variables in the environment win over the file.",
    ),
    (
        "ECS_CLUSTER",
        "default",
        "Cluster to register into: a name (letters, digits, - and _, up to 255) or a cluster ARN.",
    ),
    (
        "ECS_BACKEND_HOST",
        "",
        "ECS API endpoint, e.g. http://127.0.0.1:8080 for ecs-local. http(s)://host[:port][/path]; \
         without a scheme https:// is assumed. Unset: the regional Amazon ECS endpoint.",
    ),
    (
        "AWS_DEFAULT_REGION",
        "",
        "AWS region for API calls and signing. Unset: AWS_REGION, else the region of the EC2 \
         instance identity document (IMDS), else us-east-1 when ECS_BACKEND_HOST is set; \
         otherwise the agent does not start.",
    ),
    (
        "AWS_REGION",
        "",
        "Used as the region when AWS_DEFAULT_REGION is not set.",
    ),
    (
        "AWS_EC2_METADATA_DISABLED",
        "false",
        "As in the AWS SDKs: `true` (any case) means EC2 instance metadata (IMDS) is never asked, so \
         no instance identity document, region or VPC/subnet ids come from it. Otherwise the agent \
         asks IMDSv2 once at start (at most about 1s off EC2).",
    ),
    (
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "",
        "As in the AWS SDKs: the IMDS base URL, e.g. http://[fd00:ec2::254]. Unset: \
         http://169.254.169.254 (or the IPv6 address with AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6).",
    ),
    (
        "ECS_DATADIR",
        DEFAULT_DATA_DIR,
        "Absolute directory for persistent agent state (instance registration, tasks) and task logs.",
    ),
    (
        "ECS_CHECKPOINT",
        "true",
        "Whether to save state to ECS_DATADIR so a restarted agent resumes its tasks.",
    ),
    (
        "ECS_LOGLEVEL",
        "info",
        "Agent log level: debug, info, warn, error, crit or none (case-insensitive).",
    ),
    (
        "ECS_LOG_OUTPUT_FORMAT",
        "logfmt",
        "Agent log line format: logfmt or json.",
    ),
    (
        "ECS_RESERVED_MEMORY",
        "0",
        "MiB of memory (0-65535) withheld from the capacity reported to ECS.",
    ),
    (
        "ECS_RESERVED_PORTS",
        "[22, 2375, 2376, 51678, 51679]",
        "JSON array of TCP host ports ECS must not place tasks on. An empty array means the default, \
         as in the Go agent.",
    ),
    (
        "ECS_RESERVED_PORTS_UDP",
        "[]",
        "JSON array of UDP host ports ECS must not place tasks on.",
    ),
    (
        "ECS_CONTAINER_STOP_TIMEOUT",
        "30s",
        "Time a container gets to exit after SIGTERM before SIGKILL (Go duration: 30s, 1m30s, 500ms). \
         Values under 1s are raised to 1s.",
    ),
    (
        "ECS_CONTAINER_START_TIMEOUT",
        "3m",
        "Time the runtime's start call of a container may take (Go duration). Values under 45s are \
         raised to 45s. (A container's startTimeout is about the containers that depend on it.)",
    ),
    (
        "ECS_ENABLE_TASK_CPU_MEM_LIMIT",
        "true",
        "Enforce task-level cpu and memory on a cgroup per task (`/<CONTAINERD_NAMESPACE>/<task id>`) \
         that its containers live under. Unset: on when the host allows it; true: the agent does not \
         start without it; false: off.",
    ),
    (
        "ECS_CGROUP_PATH",
        DEFAULT_CGROUP_PATH,
        "Where the cgroup file system is mounted (v1 hierarchies or the v2 unified one).",
    ),
    (
        "ECS_CGROUP_CPU_PERIOD",
        "100ms",
        "CFS period of task cpu quotas (quota = task vCPU x period), 8ms to 100ms; other values \
         fall back to 100ms with a warning.",
    ),
    (
        "ECS_TASK_PIDS_LIMIT",
        "",
        "pids.max of every task cgroup, 1 to 4194304; anything else (or unset) means no limit. \
         Needs ECS_ENABLE_TASK_CPU_MEM_LIMIT.",
    ),
    (
        "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION",
        "3h",
        "Time a stopped task's containers are kept before removal (Go duration). Values under 1s are \
         replaced by the default.",
    ),
    (
        "ECS_INSTANCE_ATTRIBUTES",
        "{}",
        "JSON object of custom attributes registered with the instance, e.g. {\"stack\": \"prod\"}. \
         At most 10; names of 1-128 letters, digits and -_./\\; values of 1-128 letters, digits, \
         -_.@/\\: and inner spaces.",
    ),
    (
        "ECS_CONTAINER_INSTANCE_TAGS",
        "{}",
        "JSON object of tags for the container instance. At most 50; keys 1-128 and values 0-256 \
         characters of letters, digits, spaces and _.:/=+-@; no aws: prefix.",
    ),
    (
        "ECS_AVAILABLE_LOGGING_DRIVERS",
        "[\"json-file\",\"syslog\",\"awslogs\",\"fluentd\",\"none\"]",
        "JSON array of the logging drivers tasks may use; the default is ecs-init's on the \
         ECS-optimized AMI. Advertised as logging-driver.NAME for the listed drivers this agent \
         implements (json-file, none, awslogs); the others are named in a start-up warning when set explicitly.",
    ),
    (
        "ECS_DETAILED_OS_FAMILY",
        "",
        "Value of the ecs.os-type-detailed attribute, as ecs-init sets it: <ID>_<VERSION_ID> of \
         /etc/os-release (e.g. amzn_2023). Unset: read from /etc/os-release, else LINUX.",
    ),
    (
        "ECS_IMAGE_PULL_BEHAVIOR",
        "default",
        "default (pull, fall back to a cached image), always (pull or fail), once (pull if never \
         pulled), prefer-cached (use a cached image if present).",
    ),
    (
        "ECS_IMAGE_PULL_TIMEOUT",
        "2h",
        "Time allowed for a whole image pull, its 5 attempts included (Go duration); it then fails \
         with DockerTimeoutError, as in the Go agent. 0 means the default.",
    ),
    (
        "ECS_IMAGE_PULL_INACTIVITY_TIMEOUT",
        "1m",
        "A pull attempt that receives no byte from the registry for this long is stopped with \
         CannotPullContainerError: inactivity time exceeded timeout while pulling image (Go \
         duration). Values under 1m are raised to 1m.",
    ),
    (
        "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION_JITTER",
        "0s",
        "A random extra wait of up to this much before a stopped task is cleaned up, so tasks \
         stopped together are not all removed at once.",
    ),
    (
        "ECS_DISABLE_METRICS",
        "false",
        "Do not send task CPU and memory metrics to the telemetry service (TCS). Container health \
         still goes there unless ECS_DISABLE_DOCKER_HEALTH_CHECK is also true; with both, no TCS \
         connection is made.",
    ),
    (
        "ECS_DISABLE_IMAGE_CLEANUP",
        "false",
        "Never remove images. Otherwise unused images the agent pulled are removed (least recently \
         used first) every ECS_IMAGE_CLEANUP_INTERVAL.",
    ),
    (
        "ECS_IMAGE_CLEANUP_INTERVAL",
        "30m",
        "How often unused images are removed. Unlike the Go agent (minimum 10m), any positive \
         duration is accepted.",
    ),
    (
        "ECS_IMAGE_MINIMUM_CLEANUP_AGE",
        "1h",
        "An image the agent pulled is removed only once it was pulled at least this long ago and no \
         task that is not yet cleaned up uses it.",
    ),
    (
        "NON_ECS_IMAGE_MINIMUM_CLEANUP_AGE",
        "1h",
        "With ECS_ENABLE_UNTRACKED_IMAGE_CLEANUP: minimum age of images the agent did not pull.",
    ),
    (
        "ECS_NUM_IMAGES_DELETE_PER_CYCLE",
        "5",
        "At most this many images are removed per cleanup cycle.",
    ),
    (
        "ECS_ENABLE_UNTRACKED_IMAGE_CLEANUP",
        "false",
        "Also remove images in the agent's containerd namespace that it did not pull.",
    ),
    (
        "ECS_EXCLUDE_UNTRACKED_IMAGE",
        "",
        "Comma-separated image names never removed by untracked image cleanup.",
    ),
    (
        "ECS_IMAGE_CLEANUP_FREE_SPACE_THRESHOLD",
        "",
        "Not a Go agent variable (aws/amazon-ecs-agent#2429). Free space to keep on the image \
         filesystem: a percentage of its size (1% to 99%, e.g. 15%) or a size (e.g. 2GiB, 500MB). \
         Checked every ECS_IMAGE_CLEANUP_INTERVAL (at least every minute); below it, unused images \
         are removed least recently used first, whatever ECS_IMAGE_MINIMUM_CLEANUP_AGE and \
         ECS_NUM_IMAGES_DELETE_PER_CYCLE say, until it is met again (images the agent did not pull \
         only with ECS_ENABLE_UNTRACKED_IMAGE_CLEANUP). Images of tasks not yet cleaned up are never \
         removed. Unset: no free-space cleanup.",
    ),
    (
        "ECS_IMAGE_FILESYSTEM_PATH",
        "",
        "Not a Go agent variable. A directory on the filesystem holding containerd's images, for \
         ECS_IMAGE_CLEANUP_FREE_SPACE_THRESHOLD. Unset: containerd's content store root as \
         containerd reports it, which the agent must be able to see (run it on the host, or mount \
         that directory into the agent's container).",
    ),
    (
        "ECS_DISABLE_PRIVILEGED",
        "false",
        "Refuse tasks with privileged containers.",
    ),
    (
        "ECS_DISABLE_DOCKER_HEALTH_CHECK",
        "false",
        "Run no container health checks: tasks with a healthCheck are refused and \
         ecs.capability.container-health-check is not advertised. Otherwise the agent runs each \
         check inside its container through containerd, as Docker would.",
    ),
    (
        "ECS_ENGINE_AUTH_TYPE",
        "",
        "Format of ECS_ENGINE_AUTH_DATA: docker or dockercfg. Set both or neither.",
    ),
    (
        "ECS_ENGINE_AUTH_DATA",
        "",
        "Private registry credentials. docker: {\"https://index.docker.io/v1/\":{\"username\":\"u\",\
         \"password\":\"p\",\"email\":\"e\"}}; dockercfg: {\"registry\":{\"auth\":\"base64(user:pass)\",\
         \"email\":\"e\"}}. Never logged.",
    ),
    (
        "ECS_INSECURE_REGISTRIES",
        "",
        "Comma-separated registry host[:port] list reached over plain HTTP (and HTTPS without \
         certificate checks), e.g. 127.0.0.1:5000. Not a Go agent variable.",
    ),
    (
        "ECS_AGENT_INTROSPECTION_PORT",
        "51678",
        "TCP port of the introspection API (/v1/metadata, /v1/tasks, /license) and the agent's \
         Prometheus /metrics, on all addresses (ecs-init's iptables rule keeps other hosts out). \
         Not a Go agent variable: there the port is fixed.",
    ),
    (
        "ECS_AGENT_CREDENTIALS_PORT",
        "51679",
        "TCP port on 127.0.0.1 of the task metadata endpoint (v3/v4) that containers reach as \
         169.254.170.2:80 through the networking layer's redirect. Not a Go agent variable: there \
         the port is fixed.",
    ),
    (
        "ECS_TASK_METADATA_RPS_LIMIT",
        "40,60",
        "Steady and burst request limits (per second) for the task metadata endpoint, per client \
         address.",
    ),
    (
        "ECS_POLLING_METRICS_WAIT_DURATION",
        "10s",
        "Time between container stats polls for task metadata /stats (Go duration, 5s to 20s; \
         outside values are clamped). Stats are always polled here, so ECS_POLL_METRICS has no \
         effect.",
    ),
    (
        "ECS_ENABLE_CONTAINER_METADATA",
        "false",
        "Write a JSON file describing each container (task, container id, image, ports, \
         networks; MetadataFileStatus READY once it runs) under ECS_DATADIR/metadata, mounted in \
         the container at the path in its ECS_CONTAINER_METADATA_FILE.",
    ),
    (
        "ECS_SHARED_VOLUME_MATCH_FULL_CONFIG",
        "false",
        "For a task's shared docker volume that already exists: true, its driverOpts and labels \
         must equal the task's, or the task stops; false, the name alone finds it (Docker's \
         behaviour).",
    ),
    (
        "ECS_HOST_DATA_DIR",
        "",
        "Only when the agent runs in a container: the host directory mounted at ECS_DATADIR, \
         from which files the agent mounts into task containers (metadata file, /etc/hosts) are \
         bound. Unset: ECS_DATADIR itself. Unlike the Go agent (default /var/lib/ecs, with \
         ECS_DATADIR appended), it names the data directory itself.",
    ),
    (
        "ECS_HOST_NETWORK_SETUP",
        "true",
        "At start, prepare the host as ecs-init does for the Go agent: route_localnet, \
         169.254.170.2:80 to the task metadata/credentials listener (nat PREROUTING DNAT and OUTPUT \
         REDIRECT), the localhost traffic filter and the introspection port closed to all but \
         loopback and the task bridge, in chains \
         ECS-AGENT-PREROUTING/OUTPUT/INPUT rewritten idempotently. false: leave host-wide rules to \
         someone else (bridge and awsvpc tasks still reach 169.254.170.2 through the task bridge). \
         Not a Go agent variable.",
    ),
    (
        "ECS_SKIP_LOCALHOST_TRAFFIC_FILTER",
        "false",
        "Do not add the rule that drops packets to 127.0.0.0/8 from other hosts unless DNATed.",
    ),
    (
        "ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS",
        "false",
        "Leave the introspection port open on every interface. false: as ecs-init, it answers \
         only on loopback and the task bridge (bridge-mode tasks), not to other hosts or awsvpc \
         tasks (with ECS_HOST_NETWORK_SETUP).",
    ),
    (
        "ECS_DYNAMIC_HOST_PORT_RANGE",
        "",
        "low-high range dynamic host ports (hostPort 0 or absent, bridge mode) come from, e.g. \
         32768-60999. Unset: the kernel's ip_local_port_range.",
    ),
    (
        "ECS_TASK_BRIDGE_NAME",
        "ecs-br0",
        "Linux bridge the agent owns for bridge-mode containers and awsvpc tasks without an ENI. \
         Not a Go agent variable (Docker owns docker0 there).",
    ),
    (
        "ECS_TASK_BRIDGE_SUBNET",
        "169.254.172.0/22",
        "IPv4 subnet of the task bridge, prefix /8 to /29; the first address is the bridge's (the \
         tasks' gateway). Not a Go agent variable.",
    ),
    (
        "ECS_ENABLE_TASK_IAM_ROLE",
        "true",
        "Serve task role credentials to bridge and awsvpc tasks at 169.254.170.2 and advertise \
         task-iam-role (when task networking works on the host). The default is ecs-init's; the Go \
         agent alone defaults to false.",
    ),
    (
        "ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST",
        "true",
        "Also serve them to host-network tasks and advertise task-iam-role-network-host (needs \
         ECS_HOST_NETWORK_SETUP's redirect; without it this is not advertised). The default is \
         ecs-init's.",
    ),
    (
        "ECS_ENABLE_TASK_ENI",
        "true",
        "Accept awsvpc tasks with an ENI (moved into the task's namespace by MAC) and advertise \
         task-eni (when task networking works on the host). awsvpc tasks without one run on the \
         task bridge. The default is ecs-init's (the Go agent alone: false); always off with \
         ECS_EXTERNAL=true, as ecs-init does.",
    ),
    (
        "ECS_EXTERNAL",
        "false",
        "The instance is outside EC2 (ECS Anywhere): task ENIs are off, as ecs-init turns them off.",
    ),
    (
        "ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE",
        "true",
        "awslogs containers that Amazon ECS marks `logsAuthStrategy: ExecutionRole` ship with the \
         task execution role's credentials (ecs-init's default); advertises \
         execution-role-awslogs. Off: every awslogs container ships with the agent's own \
         credentials (those of its ECS calls: the config file's keys or the SDK's default chain).",
    ),
    (
        "CONTAINERD_ADDRESS",
        DEFAULT_CONTAINERD_ADDRESS,
        "containerd gRPC socket path (unix:// prefix optional).",
    ),
    (
        "CONTAINERD_NAMESPACE",
        DEFAULT_CONTAINERD_NAMESPACE,
        "containerd namespace for task containers, images and snapshots: letters and digits joined \
         by single . _ or -, at most 76 characters; not `k8s.io` or `moby` (Kubernetes' and Docker's, \
         which garbage-collect what they did not make). It must be the agent's alone: at start the \
         agent removes the containers and snapshots in it that no checkpointed task owns (see \
         \"Leftovers swept at start\").",
    ),
];
