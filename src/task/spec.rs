//! From a validated container definition and its image to the runtime's
//! `ContainerSpec`, merging them the way Docker does, so task definitions mean
//! here what they mean under the Go agent.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::container::{ContainerLog, ContainerSpec, NetworkAttachment, PulledImage};

use super::def::{ContainerDef, TaskDef};
use super::log_driver::LogDriver;

/// Facts about where the container runs, decided by the engine.
#[derive(Debug, Clone)]
pub struct SpecContext {
    pub cluster_arn: String,
    pub container_id: String,
    /// Where the container's log goes; `def.log` says in which format.
    pub log_path: PathBuf,
    pub network: NetworkAttachment,
    /// Variables the agent injects, applied last.
    pub extra_env: Vec<(String, String)>,
}

/// The Go agent gives containers with 0 or 1 CPU units the kernel's minimum
/// of 2 shares, rather than Docker's default of 1024.
const MIN_CPU_SHARES: u64 = 2;

pub fn container_spec(
    task: &TaskDef,
    def: &ContainerDef,
    image: &PulledImage,
    ctx: &SpecContext,
) -> ContainerSpec {
    let cfg = &image.config;
    // Docker: a definition's entryPoint replaces the image's and drops its Cmd;
    // a definition's command alone keeps the image's entrypoint.
    let (entrypoint, cmd) = match (&def.entry_point, &def.command) {
        (Some(ep), Some(cmd)) => (ep.clone(), cmd.clone()),
        (Some(ep), None) => (ep.clone(), Vec::new()),
        (None, Some(cmd)) => (cfg.entrypoint.clone(), cmd.clone()),
        (None, None) => (cfg.entrypoint.clone(), cfg.cmd.clone()),
    };
    let mut args = entrypoint;
    args.extend(cmd);

    let mut env = cfg.env.clone();
    let overrides = def.environment.iter().map(|(k, v)| (k.clone(), v.clone()));
    for (k, v) in overrides.chain(ctx.extra_env.iter().cloned()) {
        set_env(&mut env, &k, &v);
    }

    let mut labels: BTreeMap<String, String> = cfg.labels.clone();
    labels.extend(def.labels.clone());
    for (k, v) in ecs_labels(&ctx.cluster_arn, task, def) {
        labels.insert(k.to_string(), v.to_string());
    }

    let mib = |m: u32| i64::from(m) * 1024 * 1024;
    ContainerSpec {
        id: ctx.container_id.clone(),
        image: image.clone(),
        args,
        env,
        cwd: def
            .working_directory
            .clone()
            .or_else(|| (!cfg.working_dir.is_empty()).then(|| cfg.working_dir.clone()))
            .unwrap_or_else(|| "/".to_string()),
        user: def.user.clone().unwrap_or_else(|| cfg.user.clone()),
        hostname: def.hostname.clone(),
        cpu_shares: Some(u64::from(def.cpu).max(MIN_CPU_SHARES)),
        memory_limit_bytes: def.memory_mib.map(mib),
        memory_reservation_bytes: def.memory_reservation_mib.map(mib),
        cgroup_parent: None,
        privileged: def.privileged,
        readonly_rootfs: def.readonly_rootfs,
        ulimits: def.ulimits.clone(),
        labels,
        log: container_log(&def.log, ctx.log_path.clone()),
        network: if def.net.disabled {
            NetworkAttachment::Isolated
        } else {
            ctx.network.clone()
        },
        // The engine adds its own (hosts files, metadata file) once the
        // container's network is known.
        mounts: Vec::new(),
        populate_from_image: Vec::new(),
        namespace_holder: None,
        task_shm: None,
        linux: def.linux.clone(),
        tty: def.tty,
        health_runner: def.health_check.is_some(),
    }
}

/// The size at which an awslogs blocking-mode spool file is handed to the
/// shipper (about one full PutLogEvents batch): once shipped it is removed,
/// so a container whose lines CloudWatch keeps up with holds about two of
/// these on disk, however long it runs.
pub const SPOOL_FILE_SIZE: u64 = 1_000_000;

/// What a container's log driver makes of its log path.
/// awslogs keeps the json-file as its spool, which the agent ships, rotated
/// only once the shipper removed the file before: in blocking mode at
/// SPOOL_FILE_SIZE, growing on while CloudWatch is behind (nothing may be
/// dropped); in non-blocking mode at half of max-buffer-size, and while
/// both files are full new lines are dropped (and counted by the logger),
/// so the spool holds about max-buffer-size at most.
pub fn container_log(driver: &LogDriver, path: PathBuf) -> ContainerLog {
    match driver {
        LogDriver::JsonFile { max_size, max_file } => ContainerLog::JsonFile {
            path,
            max_size: *max_size,
            max_file: *max_file,
        },
        LogDriver::Awslogs(a) if a.blocking => ContainerLog::Spool {
            path,
            file_size: SPOOL_FILE_SIZE,
            drop_when_full: false,
        },
        LogDriver::Awslogs(a) => ContainerLog::Spool {
            path,
            file_size: (a.max_buffer_size / 2).max(1),
            drop_when_full: true,
        },
        LogDriver::None => ContainerLog::Discard,
        // Never reaches the runtime: the create replaces it with the driver
        // its fetched secretOptions resolve to (engine::exec).
        LogDriver::Pending(_) => ContainerLog::Discard,
    }
}

/// The labels the agent puts on every container, after the image's and the
/// definition's `dockerLabels` (and over them).
pub fn ecs_labels<'a>(
    cluster_arn: &'a str,
    task: &'a TaskDef,
    def: &'a ContainerDef,
) -> [(&'static str, &'a str); 5] {
    [
        ("com.amazonaws.ecs.cluster", cluster_arn),
        ("com.amazonaws.ecs.container-name", def.name.as_str()),
        ("com.amazonaws.ecs.task-arn", task.arn.as_str()),
        (
            "com.amazonaws.ecs.task-definition-family",
            task.family.as_str(),
        ),
        (
            "com.amazonaws.ecs.task-definition-version",
            task.version.as_str(),
        ),
    ]
}

/// Sets `key` in a `KEY=VALUE` list, replacing an earlier value.
pub(crate) fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    let entry = format!("{key}={value}");
    match env
        .iter_mut()
        .find(|e| e.split_once('=').map(|(k, _)| k) == Some(key))
    {
        Some(existing) => *existing = entry,
        None => env.push(entry),
    }
}

fn clean_id_part(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// A containerd id for a task's container: readable in `ctr containers ls`,
/// valid for containerd (alphanumerics joined by single `-`), at most 76 bytes.
pub fn container_id(task_id: &str, container_index: usize, name: &str) -> String {
    let clean = clean_id_part;
    let mut id = format!("{}-{}-{}", clean(task_id), container_index, clean(name));
    id.truncate(76);
    id.trim_end_matches('-').to_string()
}

/// The containerd id of a task's namespace holder (`pidMode`/`ipcMode`
/// `task`): `<task id>-ns`, never a container's (those have an index).
pub fn namespace_holder_id(task_id: &str) -> String {
    let mut id = clean_id_part(task_id);
    id.truncate(73);
    format!("{}-ns", id.trim_end_matches('-'))
}

/// Whether containerd id `id` is named after task `task_id`, as its
/// containers' and its namespace holder's are.
pub fn owned_by_task(task_id: &str, id: &str) -> bool {
    let task = clean_id_part(task_id);
    !task.is_empty()
        && id
            .strip_prefix(task.as_str())
            .is_some_and(|rest| rest.starts_with('-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::container::ImageConfig;
    use crate::task::def::NetworkMode;

    fn image(entrypoint: &[&str], cmd: &[&str]) -> PulledImage {
        PulledImage {
            name: "docker.io/library/busybox:latest".into(),
            digest: "sha256:m".into(),
            chain_id: "sha256:c".into(),
            config: ImageConfig {
                entrypoint: entrypoint.iter().map(|s| s.to_string()).collect(),
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                env: vec!["PATH=/bin".into(), "A=image".into()],
                working_dir: "/img".into(),
                user: "app".into(),
                labels: BTreeMap::from([("from".into(), "image".into())]),
                volumes: vec![],
                exposed_ports: vec![],
            },
        }
    }

    fn def() -> ContainerDef {
        ContainerDef::minimal("web", "busybox")
    }

    fn task() -> TaskDef {
        TaskDef {
            arn: "arn:aws:ecs:us-east-1:0:task/c/abc".into(),
            family: "fam".into(),
            version: "3".into(),
            network_mode: NetworkMode::Host,
            eni: None,
            eni_attachment_arn: None,
            credentials_id: None,
            execution_credentials_id: None,
            limits: Default::default(),
            volumes: Vec::new(),
            containers: vec![],
        }
    }

    fn ctx() -> SpecContext {
        SpecContext {
            cluster_arn: "arn:aws:ecs:us-east-1:0:cluster/c".into(),
            container_id: "abc-0-web".into(),
            log_path: "/logs/abc/web.log".into(),
            network: NetworkAttachment::Host,
            extra_env: vec![("AWS_EXECUTION_ENV".into(), "AWS_ECS_EC2".into())],
        }
    }

    fn args(d: &ContainerDef, img: &PulledImage) -> Vec<String> {
        container_spec(&task(), d, img, &ctx()).args
    }

    #[test]
    fn args_merge_like_docker() {
        let img = image(&["/entry"], &["default"]);
        assert_eq!(args(&def(), &img), vec!["/entry", "default"]);
        let mut d = def();
        d.command = Some(vec!["mine".into()]);
        assert_eq!(args(&d, &img), vec!["/entry", "mine"]);
        let mut d = def();
        d.entry_point = Some(vec!["sh".into(), "-c".into()]);
        assert_eq!(
            args(&d, &img),
            vec!["sh", "-c"],
            "entryPoint drops the image's Cmd"
        );
        d.command = Some(vec!["echo hi".into()]);
        assert_eq!(args(&d, &img), vec!["sh", "-c", "echo hi"]);
    }

    #[test]
    fn env_overrides_image_then_agent_last() {
        let mut d = def();
        d.environment.insert("A".into(), "def".into());
        d.environment
            .insert("AWS_EXECUTION_ENV".into(), "user".into());
        d.environment.insert("B".into(), "x=y".into());
        let s = container_spec(&task(), &d, &image(&[], &["sh"]), &ctx());
        assert_eq!(
            s.env,
            vec![
                "PATH=/bin",
                "A=def",
                "AWS_EXECUTION_ENV=AWS_ECS_EC2",
                "B=x=y"
            ]
        );
    }

    #[test]
    fn defaults_come_from_image_and_definition_wins() {
        let img = image(&[], &["sh"]);
        let s = container_spec(&task(), &def(), &img, &ctx());
        assert_eq!(s.cwd, "/img");
        assert_eq!(s.user, "app");
        assert_eq!(
            s.cpu_shares,
            Some(2),
            "0 CPU units become the minimum 2 shares"
        );
        assert_eq!(s.memory_limit_bytes, None);
        let mut d = def();
        d.working_directory = Some("/srv".into());
        d.user = Some("1000:1000".into());
        d.cpu = 512;
        d.memory_mib = Some(64);
        d.memory_reservation_mib = Some(32);
        let s = container_spec(&task(), &d, &img, &ctx());
        assert_eq!(s.cwd, "/srv");
        assert_eq!(s.user, "1000:1000");
        assert_eq!(s.cpu_shares, Some(512));
        assert_eq!(s.memory_limit_bytes, Some(64 * 1024 * 1024));
        assert_eq!(s.memory_reservation_bytes, Some(32 * 1024 * 1024));
        let mut img = image(&[], &["sh"]);
        img.config.working_dir.clear();
        assert_eq!(container_spec(&task(), &def(), &img, &ctx()).cwd, "/");
    }

    #[test]
    fn labels_include_ecs_labels() {
        let mut d = def();
        d.labels.insert("team".into(), "a".into());
        let s = container_spec(&task(), &d, &image(&[], &["sh"]), &ctx());
        assert_eq!(s.labels["team"], "a");
        assert_eq!(s.labels["from"], "image");
        assert_eq!(
            s.labels["com.amazonaws.ecs.task-arn"],
            "arn:aws:ecs:us-east-1:0:task/c/abc"
        );
        assert_eq!(s.labels["com.amazonaws.ecs.container-name"], "web");
        assert_eq!(s.labels["com.amazonaws.ecs.task-definition-version"], "3");
    }

    #[test]
    fn container_ids_are_valid_for_containerd() {
        assert_eq!(container_id("abc123", 0, "web"), "abc123-0-web");
        assert_eq!(container_id("abc", 1, "my__app-_x"), "abc-1-my-app-x");
        let long = container_id(&"a".repeat(32), 2, &"b".repeat(200));
        assert!(long.len() <= 76);
        assert!(!long.ends_with('-'));
        assert_eq!(namespace_holder_id("abc/123"), "abc-123-ns");
        assert!(namespace_holder_id(&"a".repeat(100)).len() <= 76);
        assert!(owned_by_task("abc/123", &container_id("abc/123", 0, "web")));
        assert!(owned_by_task("abc/123", &namespace_holder_id("abc/123")));
        assert!(!owned_by_task("abc", "abc1-0-web"));
        assert!(!owned_by_task("", "-0-web"));
    }
}
