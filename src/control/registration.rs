//! What the agent registers: resources, attributes and the capabilities this
//! build really implements. Pure: host facts are passed in.

use std::collections::BTreeMap;

pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Attribute name -> optional value, in a stable order.
pub type Attributes = BTreeMap<String, Option<String>>;

#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub existing_arn: Option<String>,
    pub cpu: i64,
    pub memory_mib: i64,
    pub reserved_ports: Vec<u16>,
    pub reserved_ports_udp: Vec<u16>,
    pub agent_version: String,
    pub agent_hash: String,
    /// Reported where the Go agent reports the Docker version.
    pub runtime_version: String,
    pub attributes: Attributes,
    pub tags: BTreeMap<String, String>,
    /// Sent on EC2 as the Go agent sends it; None off EC2.
    pub instance_identity: Option<InstanceIdentity>,
}

/// The EC2 instance identity document and its signature, as IMDS gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceIdentity {
    pub document: String,
    pub signature: String,
}

/// Host facts the registration depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    pub cpus: u32,
    pub memory_mib: u64,
    /// `std::env::consts::ARCH`.
    pub arch: String,
    /// `<ID>_<VERSION_ID>` of /etc/os-release, as ecs-init computes it.
    pub os_release_family: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RegistrationInput {
    pub reserved_memory_mib: u64,
    pub reserved_ports: Vec<u16>,
    pub reserved_ports_udp: Vec<u16>,
    pub disable_privileged: bool,
    pub custom_attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub existing_arn: Option<String>,
    pub runtime_version: String,
    /// ECS_ENABLE_TASK_IAM_ROLE (and task credentials are served).
    pub task_iam_role: bool,
    /// ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST
    pub task_iam_role_network_host: bool,
    /// ECS_ENABLE_TASK_ENI, and task networking works on this host.
    pub task_eni: bool,
    /// ECS_DETAILED_OS_FAMILY.
    pub detailed_os_family: Option<String>,
    /// ECS_AVAILABLE_LOGGING_DRIVERS.
    pub logging_drivers: Vec<String>,
    /// From EC2 instance metadata; None off EC2.
    pub instance_identity: Option<InstanceIdentity>,
    /// (VPC id, subnet id) of the primary interface, from EC2 instance
    /// metadata; registered with task ENIs, as the Go agent does.
    pub vpc_subnet: Option<(String, String)>,
    /// ECS_ENABLE_TASK_CPU_MEM_LIMIT, and task cgroups work on this host.
    pub task_cpu_mem_limit: bool,
    /// Container health checks run (ECS_DISABLE_DOCKER_HEALTH_CHECK is not true).
    pub health_checks: bool,
    /// ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE.
    pub awslogs_execution_role: bool,
}

/// When a capability is advertised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// Unless ECS_DISABLE_PRIVILEGED.
    PrivilegedAllowed,
    /// ECS_ENABLE_TASK_IAM_ROLE, and task networking works.
    TaskIamRole,
    /// Also ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST, and the host is prepared.
    TaskIamRoleNetworkHost,
    /// ECS_ENABLE_TASK_ENI, and task networking works.
    TaskEni,
    /// ECS_ENABLE_TASK_CPU_MEM_LIMIT, and task cgroups work on this host.
    TaskCpuMemLimit,
    /// Unless ECS_DISABLE_DOCKER_HEALTH_CHECK.
    HealthChecks,
    /// ECS_AVAILABLE_LOGGING_DRIVERS lists this driver.
    LoggingDriverListed(&'static str),
    /// ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE, and awslogs is listed.
    AwslogsExecutionRole,
}

/// Every capability this build can advertise, each for a feature that works
/// and is tested (the README's capability table names the test; a unit test
/// keeps the two equal). ECS places a task only where every attribute its
/// definition requires is present, so advertising more than this would send
/// tasks we cannot run.
///
/// Docker API levels: the Go agent advertises every level dockerd supports
/// from 1.17 to 1.32 except 1.26, 1.27 and 1.31 (agent/app/agent_capability.go,
/// `excludedDockerAPIVersions`: ECS limits how many attributes an instance
/// registers, so levels no field needs are left out). Amazon ECS derives from a task
/// definition the levels it requires (`requiresAttributes`) and places the
/// task only on an instance that has them; it does not publish the
/// derivation. The rule here: a level is advertised only if every field ECS
/// gates by it, that this agent can be sent, either works or is refused at
/// task start with a reason naming it. The second half holds for any field:
/// `task::docker_config` refuses by name every Docker `Config`/`HostConfig`
/// field this agent does not implement, and `task::from_acs` the payload
/// fields it knows but does not implement (a payload field unknown to the
/// model would pass unseen; none is known to be gated by a level). So the
/// question for each level is whether what ECS is known to gate by it works:
/// - 1.17 (the baseline container fields), 1.18 (awsvpc), 1.19
///   (logConfiguration), 1.21 (memoryReservation), 1.24 (healthCheck, with
///   container-health-check, and like it only while checks run), 1.25
///   (initProcessEnabled, sharedMemorySize, tmpfs; EFS, also gated by 1.25,
///   needs ecs.capability.efs too, which is not advertised).
/// - 1.28: the awslogs options `mode` and `max-buffer-size` (Docker 17.04's
///   non-blocking log mode, API 1.28); every public describe-task-definition
///   output with them requires 1.28, and the console puts them in every new
///   definition. Both work here (`task::log_driver`, `crate::awslogs`).
/// - 1.29: `awslogs-create-group` (real outputs with it require 1.29, also
///   without mode); the agent creates the group (`awslogs::cloudwatch`).
///   The healthCheck `startPeriod` is Docker API 1.29 too, and works.
/// - 1.30: no field ECS is known to gate by it; refusal by name covers
///   whatever it may gate.
/// - 1.32: `ipcMode: none` (Docker's private/shareable/none IPC modes are
///   API 1.32; a real output with it requires 1.32 beside
///   pid-ipc-namespace-sharing); works here, as do `host` and `task`.
/// - 1.20, 1.22: no field ECS is known to gate by them; as 1.30.
/// - 1.23: `dockerSecurityOptions: no-new-privileges` (Docker 1.11's, API
///   1.23; a real output with it requires 1.23); works here.
pub const CAPABILITIES: &[(&str, When)] = &[
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.17",
        When::Always,
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.18",
        When::Always,
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.19",
        When::Always,
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.20",
        When::Always,
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.21",
        When::Always,
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.22",
        When::Always,
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.23",
        When::Always,
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.24",
        When::HealthChecks,
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.25",
        When::Always,
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.28",
        When::Always,
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.29",
        When::Always,
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.30",
        When::Always,
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.32",
        When::Always,
    ),
    ("ecs.capability.container-ordering", When::Always),
    ("ecs.capability.docker-plugin.local", When::Always),
    // The Go agent's name (agent_capability.go), advertised unless
    // ECS_DISABLE_DOCKER_HEALTH_CHECK, as there.
    ("ecs.capability.container-health-check", When::HealthChecks),
    ("ecs.capability.container-restart-policy", When::Always),
    // The Go agent's name (its typo'd constant capabiltyPIDAndIPCNamespaceSharing),
    // advertised there once its pause image is loaded; here the holder is
    // the agent's own init, installed at start.
    ("ecs.capability.pid-ipc-namespace-sharing", When::Always),
    // Fetched with the execution role through the SDKs (see `taskres`).
    (
        "ecs.capability.secrets.ssm.environment-variables",
        When::Always,
    ),
    (
        "ecs.capability.secrets.asm.environment-variables",
        When::Always,
    ),
    // logConfiguration.secretOptions: fetched with the env secrets and
    // merged into the log driver's options at create.
    (
        "ecs.capability.secrets.ssm.bootstrap.log-driver",
        When::Always,
    ),
    (
        "ecs.capability.secrets.asm.bootstrap.log-driver",
        When::Always,
    ),
    ("ecs.capability.env-files.s3", When::Always),
    (
        "ecs.capability.private-registry-authentication.secretsmanager",
        When::Always,
    ),
    // Private ECR: GetAuthorizationToken with the instance's credentials
    // (ecr-auth) or the execution role's (execution-role-ecr-pull).
    ("com.amazonaws.ecs.capability.ecr-auth", When::Always),
    ("ecs.capability.execution-role-ecr-pull", When::Always),
    (
        "com.amazonaws.ecs.capability.privileged-container",
        When::PrivilegedAllowed,
    ),
    (
        "com.amazonaws.ecs.capability.task-iam-role",
        When::TaskIamRole,
    ),
    (
        "com.amazonaws.ecs.capability.task-iam-role-network-host",
        When::TaskIamRoleNetworkHost,
    ),
    ("ecs.capability.task-eni", When::TaskEni),
    // The Go agent's names (agent_capability.go); it advertises both
    // whenever task cgroups are on, and so does this agent.
    ("ecs.capability.task-cpu-mem-limit", When::TaskCpuMemLimit),
    (
        "ecs.capability.increased-task-cpu-limit",
        When::TaskCpuMemLimit,
    ),
    (
        "com.amazonaws.ecs.capability.logging-driver.json-file",
        When::LoggingDriverListed("json-file"),
    ),
    (
        "com.amazonaws.ecs.capability.logging-driver.none",
        When::LoggingDriverListed("none"),
    ),
    (
        "com.amazonaws.ecs.capability.logging-driver.awslogs",
        When::LoggingDriverListed("awslogs"),
    ),
    // The Go agent advertises it on the setting alone; here only where
    // awslogs itself is, since it means nothing without it.
    (
        "ecs.capability.execution-role-awslogs",
        When::AwslogsExecutionRole,
    ),
];

/// The listed logging drivers this agent does not implement.
pub fn unimplemented_logging_drivers(listed: &[String]) -> Vec<String> {
    listed
        .iter()
        .filter(|d| {
            !CAPABILITIES
                .iter()
                .any(|(_, when)| matches!(when, When::LoggingDriverListed(x) if x == d))
        })
        .cloned()
        .collect()
}

impl When {
    fn holds(self, input: &RegistrationInput) -> bool {
        match self {
            When::Always => true,
            When::PrivilegedAllowed => !input.disable_privileged,
            When::TaskIamRole => input.task_iam_role,
            // Host-mode roles mean nothing without task roles.
            When::TaskIamRoleNetworkHost => input.task_iam_role && input.task_iam_role_network_host,
            When::TaskEni => input.task_eni,
            When::TaskCpuMemLimit => input.task_cpu_mem_limit,
            When::HealthChecks => input.health_checks,
            When::LoggingDriverListed(driver) => input.logging_drivers.iter().any(|d| d == driver),
            When::AwslogsExecutionRole => {
                input.awslogs_execution_role && input.logging_drivers.iter().any(|d| d == "awslogs")
            }
        }
    }
}

/// The capabilities `input` earns, in [`CAPABILITIES`] order.
pub fn capabilities(input: &RegistrationInput) -> Vec<&'static str> {
    CAPABILITIES
        .iter()
        .filter(|(_, when)| when.holds(input))
        .map(|(name, _)| *name)
        .collect()
}

fn arch_attribute(arch: &str) -> &str {
    match arch {
        "aarch64" => "arm64",
        other => other,
    }
}

pub fn registration(host: &HostFacts, input: &RegistrationInput, agent_hash: &str) -> Registration {
    let mut attributes: Attributes = BTreeMap::new();
    for cap in capabilities(input) {
        attributes.insert(cap.to_string(), None);
    }
    // As the Go agent (ecs_client.go getAdditionalAttributes): the family is
    // always LINUX; the detailed one is what ecs-init passes in
    // ECS_DETAILED_OS_FAMILY, which this agent, doing ecs-init's job, reads
    // from /etc/os-release itself when it is not set (the Go agent alone
    // would fall back to LINUX).
    attributes.insert("ecs.os-type".into(), Some("linux".into()));
    attributes.insert("ecs.os-family".into(), Some("LINUX".into()));
    let detailed = input
        .detailed_os_family
        .clone()
        .or_else(|| host.os_release_family.clone())
        .unwrap_or_else(|| "LINUX".into());
    attributes.insert("ecs.os-type-detailed".into(), Some(detailed));
    attributes.insert(
        "ecs.cpu-architecture".into(),
        Some(arch_attribute(&host.arch).to_string()),
    );
    // agent/app/agent.go constructVPCSubnetAttributes: only with task ENIs.
    if let (true, Some((vpc, subnet))) = (input.task_eni, &input.vpc_subnet) {
        attributes.insert("ecs.vpc-id".into(), Some(vpc.clone()));
        attributes.insert("ecs.subnet-id".into(), Some(subnet.clone()));
    }
    for (k, v) in &input.custom_attributes {
        attributes.insert(k.clone(), Some(v.clone()));
    }
    let memory = host.memory_mib.saturating_sub(input.reserved_memory_mib);
    Registration {
        existing_arn: input.existing_arn.clone(),
        cpu: i64::from(host.cpus) * 1024,
        memory_mib: i64::try_from(memory).unwrap_or(i64::MAX),
        reserved_ports: input.reserved_ports.clone(),
        reserved_ports_udp: input.reserved_ports_udp.clone(),
        agent_version: AGENT_VERSION.to_string(),
        agent_hash: agent_hash.to_string(),
        runtime_version: input.runtime_version.clone(),
        attributes,
        tags: input.tags.clone(),
        instance_identity: input.instance_identity.clone(),
    }
}

#[cfg(test)]
#[path = "capability_table_tests.rs"]
mod capability_table_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostFacts {
        HostFacts {
            cpus: 2,
            memory_mib: 4096,
            arch: "x86_64".into(),
            os_release_family: Some("debian_12".into()),
        }
    }

    /// Only listed drivers that work are advertised (the Go agent's
    /// appendLoggingDriverCapabilities advertises every listed one).
    #[test]
    fn logging_drivers_listed_and_implemented_are_advertised() {
        let input = RegistrationInput {
            logging_drivers: vec!["json-file".into(), "syslog".into(), "none".into()],
            ..Default::default()
        };
        let caps = capabilities(&input);
        assert!(caps.contains(&"com.amazonaws.ecs.capability.logging-driver.json-file"));
        assert!(!caps.iter().any(|c| c.ends_with("logging-driver.syslog")));
        assert!(caps.contains(&"com.amazonaws.ecs.capability.logging-driver.none"));
        assert_eq!(
            unimplemented_logging_drivers(&input.logging_drivers),
            vec!["syslog".to_string()]
        );
        let none = RegistrationInput {
            logging_drivers: vec!["syslog".into()],
            ..Default::default()
        };
        assert!(!capabilities(&none)
            .iter()
            .any(|c| c.contains("logging-driver")));
        // awslogs, and its execution role only with the setting and the driver.
        let aws = |drivers: &[&str], role: bool| {
            capabilities(&RegistrationInput {
                logging_drivers: drivers.iter().map(|d| d.to_string()).collect(),
                awslogs_execution_role: role,
                ..Default::default()
            })
        };
        let caps = aws(&["awslogs"], true);
        assert!(caps.contains(&"com.amazonaws.ecs.capability.logging-driver.awslogs"));
        assert!(caps.contains(&"ecs.capability.execution-role-awslogs"));
        assert!(!aws(&["awslogs"], false).contains(&"ecs.capability.execution-role-awslogs"));
        assert!(!aws(&["json-file"], true).contains(&"ecs.capability.execution-role-awslogs"));
    }

    /// ecs.os-family is always LINUX (the Go agent's GetOSFamily); the
    /// detailed family is ECS_DETAILED_OS_FAMILY, else /etc/os-release's,
    /// else LINUX (the Go agent's GetDetailedOSFamily without ecs-init).
    #[test]
    fn os_attributes_as_the_go_agent_registers_them() {
        let attr = |h: &HostFacts, input: &RegistrationInput| {
            let r = registration(h, input, "h");
            (
                r.attributes["ecs.os-family"].clone(),
                r.attributes["ecs.os-type-detailed"].clone(),
            )
        };
        let linux = Some("LINUX".to_string());
        assert_eq!(
            attr(&host(), &RegistrationInput::default()),
            (linux.clone(), Some("debian_12".into()))
        );
        let set = RegistrationInput {
            detailed_os_family: Some("amzn_2023".into()),
            ..Default::default()
        };
        assert_eq!(
            attr(&host(), &set),
            (linux.clone(), Some("amzn_2023".into()))
        );
        let bare = HostFacts {
            os_release_family: None,
            ..host()
        };
        assert_eq!(
            attr(&bare, &RegistrationInput::default()),
            (linux.clone(), linux)
        );
    }

    #[test]
    fn resources_follow_the_go_agent() {
        let input = RegistrationInput {
            reserved_memory_mib: 256,
            reserved_ports: vec![22, 51678],
            ..Default::default()
        };
        let r = registration(&host(), &input, "h");
        assert_eq!(r.cpu, 2048);
        assert_eq!(r.memory_mib, 3840);
        assert_eq!(r.reserved_ports, vec![22, 51678]);
        assert_eq!(r.attributes["ecs.os-type"].as_deref(), Some("linux"));
        assert_eq!(
            r.attributes["ecs.cpu-architecture"].as_deref(),
            Some("x86_64")
        );
    }

    #[test]
    fn custom_attributes_and_privileged_capability() {
        let mut input = RegistrationInput::default();
        input
            .custom_attributes
            .insert("stack".into(), "prod".into());
        let r = registration(&host(), &input, "h");
        assert_eq!(r.attributes["stack"].as_deref(), Some("prod"));
        assert!(r
            .attributes
            .contains_key("com.amazonaws.ecs.capability.privileged-container"));
        assert!(r
            .attributes
            .contains_key("ecs.capability.container-ordering"));
        input.disable_privileged = true;
        let r = registration(&host(), &input, "h");
        assert!(!r
            .attributes
            .contains_key("com.amazonaws.ecs.capability.privileged-container"));
    }

    #[test]
    fn nothing_unimplemented_is_advertised() {
        let caps = capabilities(&RegistrationInput::default());
        for absent in [
            "ecs.capability.task-eni",
            "com.amazonaws.ecs.capability.task-iam-role",
            "ecs.capability.container-health-check",
            "com.amazonaws.ecs.capability.logging-driver.awslogs",
            "ecs.capability.execution-role-awslogs",
        ] {
            assert!(
                !caps.contains(&absent),
                "{absent} must not be advertised yet"
            );
        }
        // Everything on, as with ecs-init's defaults: still none of these
        // (EFS, the Docker levels the Go agent leaves out).
        let all = RegistrationInput {
            health_checks: true,
            task_iam_role: true,
            task_iam_role_network_host: true,
            task_eni: true,
            logging_drivers: ["json-file", "syslog", "awslogs", "fluentd", "none"]
                .map(String::from)
                .to_vec(),
            ..Default::default()
        };
        let caps = capabilities(&all);
        for absent in [
            "ecs.capability.efs",
            "ecs.capability.efsAuth",
            "com.amazonaws.ecs.capability.docker-remote-api.1.26",
            "com.amazonaws.ecs.capability.docker-remote-api.1.27",
            "com.amazonaws.ecs.capability.docker-remote-api.1.31",
        ] {
            assert!(!caps.contains(&absent), "{absent} must not be advertised");
        }
    }

    /// As the Go agent: container-health-check (and here its Docker level,
    /// 1.24) unless ECS_DISABLE_DOCKER_HEALTH_CHECK.
    #[test]
    fn health_check_capabilities_follow_ecs_disable_docker_health_check() {
        let on = capabilities(&RegistrationInput {
            health_checks: true,
            ..Default::default()
        });
        assert!(on.contains(&"ecs.capability.container-health-check"));
        assert!(on.contains(&"com.amazonaws.ecs.capability.docker-remote-api.1.24"));
        let off = capabilities(&RegistrationInput::default());
        assert!(!off.contains(&"ecs.capability.container-health-check"));
        assert!(!off.contains(&"com.amazonaws.ecs.capability.docker-remote-api.1.24"));
    }

    /// The levels whose gated fields work here (memoryReservation is 1.21,
    /// initProcessEnabled, sharedMemorySize and tmpfs 1.25, awslogs `mode`
    /// and `max-buffer-size` 1.28, `awslogs-create-group` 1.29, `ipcMode:
    /// none` 1.32, no-new-privileges 1.23; 1.20, 1.22 and 1.30 gate nothing
    /// known), never one the Go agent leaves
    /// out (1.26, 1.27, 1.31) or one above its 1.32.
    #[test]
    fn docker_api_levels_stop_at_what_is_implemented() {
        let levels: Vec<&str> = capabilities(&RegistrationInput::default())
            .into_iter()
            .filter_map(|c| c.strip_prefix("com.amazonaws.ecs.capability.docker-remote-api."))
            .collect();
        assert_eq!(
            levels,
            vec![
                "1.17", "1.18", "1.19", "1.20", "1.21", "1.22", "1.23", "1.25", "1.28", "1.29",
                "1.30", "1.32"
            ]
        );
    }

    #[test]
    fn role_and_eni_capabilities_follow_the_settings() {
        let mut input = RegistrationInput {
            task_iam_role_network_host: true,
            ..Default::default()
        };
        // network-host alone means nothing without task roles.
        assert!(!capabilities(&input)
            .iter()
            .any(|c| c.contains("task-iam-role")));
        input.task_iam_role = true;
        input.task_eni = true;
        let caps = capabilities(&input);
        for present in [
            "com.amazonaws.ecs.capability.task-iam-role",
            "com.amazonaws.ecs.capability.task-iam-role-network-host",
            "ecs.capability.task-eni",
        ] {
            assert!(caps.contains(&present), "{present}");
        }
    }

    /// ecs.vpc-id and ecs.subnet-id are registered with task ENIs only
    /// (agent/app/agent.go: constructVPCSubnetAttributes under
    /// TaskENIEnabled); the identity document goes along as it came.
    #[test]
    fn vpc_and_subnet_attributes_with_task_enis_only() {
        let identity = InstanceIdentity {
            document: "{\"instanceId\":\"i-0\"}".into(),
            signature: "sig".into(),
        };
        let mut input = RegistrationInput {
            vpc_subnet: Some(("vpc-1".into(), "subnet-2".into())),
            instance_identity: Some(identity.clone()),
            ..Default::default()
        };
        let r = registration(&host(), &input, "h");
        assert!(!r.attributes.contains_key("ecs.vpc-id"));
        assert!(!r.attributes.contains_key("ecs.subnet-id"));
        assert_eq!(r.instance_identity, Some(identity));
        input.task_eni = true;
        let r = registration(&host(), &input, "h");
        assert_eq!(r.attributes["ecs.vpc-id"].as_deref(), Some("vpc-1"));
        assert_eq!(r.attributes["ecs.subnet-id"].as_deref(), Some("subnet-2"));
        input.vpc_subnet = None;
        let r = registration(&host(), &input, "h");
        assert!(!r.attributes.contains_key("ecs.vpc-id"));
    }

    #[test]
    fn task_limit_capabilities_only_with_task_cgroups() {
        let names = [
            "ecs.capability.task-cpu-mem-limit",
            "ecs.capability.increased-task-cpu-limit",
        ];
        let caps = capabilities(&RegistrationInput::default());
        assert!(names.iter().all(|n| !caps.contains(n)), "{caps:?}");
        let caps = capabilities(&RegistrationInput {
            task_cpu_mem_limit: true,
            ..Default::default()
        });
        assert!(names.iter().all(|n| caps.contains(n)), "{caps:?}");
    }

    #[test]
    fn arm_is_reported_as_arm64() {
        let h = HostFacts {
            arch: "aarch64".into(),
            ..host()
        };
        let r = registration(&h, &RegistrationInput::default(), "h");
        assert_eq!(
            r.attributes["ecs.cpu-architecture"].as_deref(),
            Some("arm64")
        );
    }
}
