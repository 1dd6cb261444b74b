//! `requiresAttributes`: the container instance attributes Amazon ECS derives
//! from a task definition at RegisterTaskDefinition, shown by
//! describe-task-definition and required by placement. Pure.
//!
//! Amazon ECS does not publish its derivation, so each rule names its
//! evidence: `requiresAttributes` of real describe-task-definition output
//! (public task definitions registered with Amazon ECS, e.g. an ECR image with
//! an execution role carries `ecr-auth` and `execution-role-ecr-pull`; awsvpc
//! carries `task-eni` and `docker-remote-api.1.18`), the attribute names the Go
//! agent advertises for each feature (aws/amazon-ecs-agent
//! agent/app/agent_capability.go), and the Docker API level a field needs.
//! Attributes keep the order of first derivation; Docker API levels come last.

use super::ecr::{is_ecr_image, EcrRegistries};
use super::state::Attribute;
use super::taskdef::{ContainerDef, TaskDefView};

const CAP: &str = "com.amazonaws.ecs.capability.";
const ATTR: &str = "ecs.capability.";

/// The attributes an instance must have to take a task of `v`; images on a
/// host of `ecr` (`--ecr-registry`) count as private ECR images.
pub fn requires_attributes(v: &TaskDefView, ecr: &EcrRegistries) -> Vec<Attribute> {
    let mut r = Required::default();
    task_rules(v, &mut r);
    for c in &v.container_definitions {
        container_rules(v, c, ecr, &mut r);
    }
    r.finish()
}

#[derive(Default)]
struct Required {
    names: Vec<String>,
    /// Minor versions of `docker-remote-api.1.N`.
    levels: Vec<u32>,
}

impl Required {
    fn add(&mut self, name: impl Into<String>) {
        let name = name.into();
        if !self.names.contains(&name) {
            self.names.push(name);
        }
    }

    fn level(&mut self, minor: u32) {
        if !self.levels.contains(&minor) {
            self.levels.push(minor);
        }
    }

    fn finish(mut self) -> Vec<Attribute> {
        self.levels.sort_unstable();
        let levels = self
            .levels
            .iter()
            .map(|m| format!("{CAP}docker-remote-api.1.{m}"));
        self.names
            .into_iter()
            .chain(levels)
            .map(|name| Attribute {
                name,
                ..Default::default()
            })
            .collect()
    }
}

pub(super) fn secret_provider(value_from: &str) -> &'static str {
    if value_from.starts_with("arn:aws:secretsmanager:")
        || value_from.starts_with("arn:aws-cn:secretsmanager:")
        || value_from.starts_with("arn:aws-us-gov:secretsmanager:")
    {
        "asm"
    } else {
        "ssm"
    }
}

fn task_rules(v: &TaskDefView, r: &mut Required) {
    let has = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
    let mode = v.network_mode.as_deref().unwrap_or("bridge");
    // Real output: every definition with a taskRoleArn; the Go agent's
    // task-iam-role (ECS_ENABLE_TASK_IAM_ROLE).
    if has(&v.task_role_arn) {
        r.add(format!("{CAP}task-iam-role"));
        // Task roles in host mode are what ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST
        // enables; the Go agent advertises task-iam-role-network-host for it.
        if mode == "host" {
            r.add(format!("{CAP}task-iam-role-network-host"));
        }
    }
    // Real output: every awsvpc definition carries task-eni and 1.18.
    if mode == "awsvpc" {
        r.add(format!("{ATTR}task-eni"));
        r.level(18);
    }
    // The Go agent's pid-ipc-namespace-sharing (needs its pause image).
    if has(&v.pid_mode) || has(&v.ipc_mode) {
        r.add(format!("{ATTR}pid-ipc-namespace-sharing"));
    }
    // Real output: `ipcMode: none` carries 1.32 (Docker's none, private and
    // shareable IPC modes are API 1.32).
    if v.ipc_mode.as_deref() == Some("none") {
        r.level(32);
    }
    // App Mesh proxyConfiguration: the Go agent's aws-appmesh.
    if v.proxy_configuration.is_some() {
        r.add(format!("{ATTR}aws-appmesh"));
    }
    for vol in &v.volumes {
        if let Some(efs) = &vol.efs_volume_configuration {
            // Real output of EFS definitions: efs and docker-remote-api.1.25;
            // with transit encryption or an access point / IAM authorization
            // also efsAuth (the Go agent's ECS_VOLUME_PLUGIN_CAPABILITIES).
            r.add(format!("{ATTR}efs"));
            r.level(25);
            let auth = efs.authorization_config.as_ref().is_some_and(|a| {
                a.access_point_id.is_some() || a.iam.as_deref() == Some("ENABLED")
            });
            if auth || efs.transit_encryption.as_deref() == Some("ENABLED") {
                r.add(format!("{ATTR}efsAuth"));
            }
        }
        if let Some(docker) = &vol.docker_volume_configuration {
            // The Go agent advertises docker-plugin.<driver> per volume driver
            // (appendVolumeDriverCapabilities), `local` always.
            let driver = docker.driver.as_deref().unwrap_or("local");
            r.add(format!("{ATTR}docker-plugin.{driver}"));
        }
    }
}

fn container_rules(v: &TaskDefView, c: &ContainerDef, ecr: &EcrRegistries, r: &mut Required) {
    let has_exec_role = v
        .execution_role_arn
        .as_deref()
        .is_some_and(|s| !s.trim().is_empty());
    if let Some(log) = &c.log_configuration {
        if let Some(driver) = log.log_driver.as_deref() {
            // Real output: logging-driver.<driver> and docker-remote-api.1.19
            // for every logConfiguration.
            r.add(format!("{CAP}logging-driver.{driver}"));
            r.level(19);
            // Real output: awslogs with an execution role.
            if driver == "awslogs" && has_exec_role {
                r.add(format!("{ATTR}execution-role-awslogs"));
            }
            // Real output: every definition whose awslogs options include
            // awslogs-create-group carries 1.29 (the option arrived with
            // Docker 17.05, API 1.29).
            if driver == "awslogs" && log.options.contains_key("awslogs-create-group") {
                r.level(29);
            }
            // Real output: every definition whose options set `mode` or
            // `max-buffer-size` (Docker 17.04's non-blocking mode, API
            // 1.28; the console's defaults) carries 1.28.
            if ["mode", "max-buffer-size"]
                .iter()
                .any(|k| log.options.contains_key(*k))
            {
                r.level(28);
            }
        }
        // The Go agent's secrets.<ssm|asm>.bootstrap.log-driver.
        for s in &log.secret_options {
            let provider = secret_provider(s.value_from.as_deref().unwrap_or(""));
            r.add(format!("{ATTR}secrets.{provider}.bootstrap.log-driver"));
        }
    }
    if c.image.as_deref().is_some_and(|i| is_ecr_image(i, ecr)) {
        // Real output: ECR images carry ecr-auth, and execution-role-ecr-pull
        // when the task has an execution role to pull with. A mapped host
        // stands for an ECR registry: its payloads carry ECR authentication
        // (`ecr.rs`), so its definitions require what that needs.
        r.add(format!("{CAP}ecr-auth"));
        if has_exec_role {
            r.add(format!("{ATTR}execution-role-ecr-pull"));
        }
    }
    // The Go agent's privileged-container (unless ECS_DISABLE_PRIVILEGED).
    if c.privileged == Some(true) {
        r.add(format!("{CAP}privileged-container"));
    }
    // Real output: dependsOn carries container-ordering.
    if !c.depends_on.is_empty() {
        r.add(format!("{ATTR}container-ordering"));
    }
    // Real output: healthCheck carries container-health-check; the Docker
    // field (Healthcheck) is API 1.24, the level the Go agent's fixture
    // v10/container-health-check is written for.
    if c.health_check.is_some() {
        r.add(format!("{ATTR}container-health-check"));
        r.level(24);
    }
    // The name the Go agent advertises (capabilityPrivateRegistryAuthASM,
    // with the `ecs.capability.` prefix).
    if c.repository_credentials.is_some() {
        r.add(format!(
            "{ATTR}private-registry-authentication.secretsmanager"
        ));
    }
    // Real output: secrets.ssm.environment-variables /
    // secrets.asm.environment-variables by the secret's source.
    for s in &c.secrets {
        let provider = secret_provider(s.value_from.as_deref().unwrap_or(""));
        r.add(format!("{ATTR}secrets.{provider}.environment-variables"));
    }
    // Real output: environmentFiles carries env-files.s3.
    if !c.environment_files.is_empty() {
        r.add(format!("{ATTR}env-files.s3"));
    }
    // FireLens: the Go agent's firelens.fluentd / firelens.fluentbit (the
    // awsfirelens log driver follows from the logConfiguration rule).
    if let Some(f) = &c.firelens_configuration {
        let kind = f.kind.as_deref().unwrap_or("fluentbit");
        r.add(format!("{ATTR}firelens.{kind}"));
    }
    // The Go agent's network.container-port-range.
    if c.port_mappings
        .iter()
        .any(|p| p.container_port_range.is_some())
    {
        r.add(format!("{ATTR}network.container-port-range"));
    }
    // The Go agent's container-restart-policy.
    if c.restart_policy.as_ref().and_then(|p| p.enabled) == Some(true) {
        r.add(format!("{ATTR}container-restart-policy"));
    }
    // Docker API levels of container fields (docs: "requires version 1.N of
    // the Docker Remote API"; levels seen in real output): memoryReservation
    // 1.21; initProcessEnabled, sharedMemorySize and tmpfs 1.25.
    if c.memory_reservation.is_some() {
        r.level(21);
    }
    // Real output (2021): dockerSecurityOptions no-new-privileges carries
    // 1.23 (Docker 1.11's option, API 1.23).
    if c.docker_security_options
        .iter()
        .any(|o| o.starts_with("no-new-privileges"))
    {
        r.level(23);
    }
    if let Some(l) = &c.linux_parameters {
        if l.init_process_enabled.is_some() || l.shared_memory_size.is_some() || !l.tmpfs.is_empty()
        {
            r.level(25);
        }
    }
}

#[cfg(test)]
#[path = "requires_tests.rs"]
mod tests;
