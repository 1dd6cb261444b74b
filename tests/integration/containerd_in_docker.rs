//! containerd-in-docker (issue 17): the image `scripts/image --with-containerd`
//! builds (agent, containerd and runc on a debootstrapped Debian 12 root) run
//! by Debian's dockerd 20.10 the way deploy/README.md says: a private dockerd
//! (own data root, exec root, pidfile and socket; no iptables, no bridge, no
//! ip_forward change), `docker load`, `docker run --privileged
//! --cgroupns=host --network host` with `ECS_*` pointing at an ecs-local on
//! loopback. The agent registers, a task goes RUNNING and, on stop-task, to
//! STOPPED with exit code 0; `docker stop` then stops the agent, a task left
//! running and containerd in that order, and everything is removed.
//!
//! Root only. A missing tool (dockerd, buildah, debootstrap) skips loudly
//! outside CI and fails in CI, like the rest of the harness.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ecs::task::linux::CAPABILITY_NAMES;
use serde_json::json;
use tempfile::TempDir;

use crate::common::agent_image::{self, missing};
use crate::common::is_root;
use crate::common::{self, tail, text, Aws, EcsLocal};

const IMAGE: &str = "localhost/ecs-agent-containerd:latest";
const DOCKERD: &str = "/usr/sbin/dockerd";
/// Debian's client, the daemon's own version (the /usr/local/bin client on
/// these machines is 28.x).
const DOCKER: &str = "/usr/bin/docker";
const CONTAINER: &str = "ecs-agent-dind";
/// Where the agent inside keeps its data (ECS_DATADIR, passed explicitly).
const DATADIR_INSIDE: &str = "/var/lib/ecs/data";

/// A private dockerd under a temp dir, stopped and removed (with its
/// containers, images and mounts) on drop.
struct Dockerd {
    child: Option<Child>,
    dir: Option<TempDir>,
    sock: PathBuf,
    log: PathBuf,
    driver: &'static str,
}

impl Dockerd {
    /// overlay2 first (the host's filesystem here is ext4), vfs if overlay2
    /// does not start (a host whose filesystem cannot carry overlayfs).
    fn start() -> Dockerd {
        let mut tried = String::new();
        for driver in ["overlay2", "vfs"] {
            let dir = tempfile::Builder::new()
                .prefix("ecs-dind-")
                .tempdir()
                .expect("tempdir");
            let mut d = Dockerd {
                child: None,
                sock: dir.path().join("docker.sock"),
                log: dir.path().join("dockerd.log"),
                dir: Some(dir),
                driver,
            };
            match d.spawn() {
                Ok(()) => return d,
                Err(e) => tried.push_str(&format!("\n{driver}: {e}")),
            }
        }
        panic!("no private dockerd would start:{tried}");
    }

    fn path(&self) -> &Path {
        self.dir.as_ref().expect("dir").path()
    }

    fn spawn(&mut self) -> Result<(), String> {
        let dir = self.path().to_path_buf();
        // Its own config file: the host's /etc/docker/daemon.json (if any)
        // must not change what the test runs.
        fs::write(dir.join("daemon.json"), "{}\n").expect("write daemon.json");
        let log = fs::File::create(&self.log).expect("dockerd log");
        let child = Command::new(DOCKERD)
            .arg("--config-file")
            .arg(dir.join("daemon.json"))
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            // Nothing outside its own directory: no iptables rules, no
            // docker0, no ip_forward or masquerading (the agent container
            // uses the host's network).
            .args([
                "--iptables=false",
                "--ip-forward=false",
                "--ip-masq=false",
                "--bridge=none",
                "--userland-proxy=false",
            ])
            .arg(format!("--storage-driver={}", self.driver))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone"))
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawn {DOCKERD}: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self
                .docker(&["version", "--format", "{{.Server.Version}}"])
                .status
                .success()
            {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(format!(
                    "dockerd exited ({status}):\n{}",
                    tail(&fs::read_to_string(&self.log).unwrap_or_default(), 20)
                ));
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(format!(
                    "dockerd did not answer within 60 s:\n{}",
                    tail(&fs::read_to_string(&self.log).unwrap_or_default(), 20)
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new(DOCKER)
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(args)
            // No ~/.docker config, contexts or credential helpers.
            .env("DOCKER_CONFIG", self.path().join("client"))
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {DOCKER}: {e}"))
    }

    #[track_caller]
    fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {}: {}\n{}{}",
            args.join(" "),
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SIGTERM (through kill(1): no libc binding here) so that dockerd
        // unmounts its layers and stops its containerd.
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!("warning: dockerd did not exit on SIGTERM within 30 s; SIGKILL");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Mounts left under the temp dir (none when dockerd exits cleanly).
    fn mounts(&self) -> Vec<String> {
        let dir = self.path().display().to_string();
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
            .filter(|m| m.starts_with(&dir))
            .collect()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if self.child.is_some() {
            // Whatever a failed test left: containers (and their anonymous
            // volumes), then the daemon.
            // `stop` first: the entrypoint then deletes the tasks (and their
            // cgroups) it holds.
            let ids = text(&self.docker(&["ps", "-aq"]).stdout);
            for id in ids.split_whitespace() {
                let _ = self.docker(&["stop", "--time", "20", id]);
                let _ = self.docker(&["rm", "-f", "-v", id]);
            }
        }
        self.stop();
        let mut left = self.mounts();
        left.reverse();
        // dockerd 20.10 leaves the bind mount of its host-network sandbox
        // (exec/netns/default) behind when it exits; anything else is news.
        for m in &left {
            if !m.ends_with("/netns/default") {
                eprintln!("warning: unmounting {m} left by dockerd");
            }
            let _ = Command::new("umount").args(["-l", m]).status();
        }
        if let Some(dir) = self.dir.take() {
            if let Err(e) = fs::remove_dir_all(dir.path()) {
                eprintln!("warning: removing {}: {e}", dir.path().display());
            }
        }
    }
}

/// Capabilities missing from this process's bounding set (dockerd inherits
/// it). The test machines lack SYS_RESOURCE, and `--privileged` asks runc for
/// every capability the kernel has, which fails there with "unable to apply
/// caps: operation not permitted".
fn missing_capabilities() -> Vec<&'static str> {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let bounding = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(u64::MAX);
    let last: usize = fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(CAPABILITY_NAMES.len() - 1);
    // By number (linux/capability.h), as Docker spells them.
    CAPABILITY_NAMES
        .iter()
        .enumerate()
        .filter(|(bit, _)| *bit <= last && bounding & (1 << bit) == 0)
        .map(|(_, name)| *name)
        .collect()
}

/// deploy/README.md's two forms: `--privileged` where root holds every
/// capability, else its unrolled equivalent without the missing ones.
fn privilege_flags() -> Vec<String> {
    let missing = missing_capabilities();
    if missing.is_empty() {
        return vec!["--privileged".into()];
    }
    let mut flags: Vec<String> = vec!["--cap-add=ALL".into()];
    flags.extend(missing.iter().map(|c| format!("--cap-drop={c}")));
    flags.extend(
        [
            "--security-opt=seccomp=unconfined",
            "--security-opt=apparmor=unconfined",
            "--security-opt=systempaths=unconfined",
            "--volume=/sys/fs/cgroup:/sys/fs/cgroup",
        ]
        .map(String::from),
    );
    flags
}

/// Removes the namespace's own cgroup (`/<namespace>` in every hierarchy),
/// which the agent makes and the entrypoint leaves (it is shared by the
/// namespace's tasks), with whatever a failed test left below it; rmdir only
/// succeeds on a cgroup without processes.
struct NamespaceCgroups(String);

fn rmdir_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                rmdir_tree(&e.path());
            }
        }
    }
    if let Err(e) = fs::remove_dir(dir) {
        eprintln!("warning: rmdir {}: {e}", dir.display());
    }
}

impl Drop for NamespaceCgroups {
    fn drop(&mut self) {
        let Ok(entries) = fs::read_dir("/sys/fs/cgroup") else {
            return;
        };
        let mut dirs = vec![Path::new("/sys/fs/cgroup").join(&self.0)];
        dirs.extend(entries.flatten().map(|e| e.path().join(&self.0)));
        for dir in dirs.iter().filter(|d| d.is_dir()) {
            rmdir_tree(dir);
        }
    }
}

fn describe(aws: &Aws, cluster: &str, task: &str) -> serde_json::Value {
    aws.ecs(&["describe-tasks", "--cluster", cluster, "--tasks", task])
        .map(|v| v["tasks"][0].clone())
        .unwrap_or(serde_json::Value::Null)
}

#[test]
fn agent_with_its_own_containerd_runs_tasks_inside_docker() {
    let Some(env) = common::env() else { return };
    if !is_root() {
        missing("dockerd, buildah and debootstrap need root");
        return;
    }
    for tool in [DOCKERD, DOCKER, "/usr/bin/buildah", "/usr/sbin/debootstrap"] {
        if !Path::new(tool).exists() {
            missing(&format!("{tool} is not installed"));
            return;
        }
    }
    let work = tempfile::Builder::new()
        .prefix("ecs-dind-image-")
        .tempdir()
        .expect("tempdir");

    // The image, as a user builds it (the Debian root is cached under
    // .work/containerd-in-docker after the first build).
    let archive = work.path().join("ecs-agent-containerd.docker.tar");
    agent_image::build(&[
        "--with-containerd".as_ref(),
        "--output".as_ref(),
        archive.as_os_str(),
    ]);

    // Its own containerd, but the host's cgroup tree (--cgroupns=host): a
    // namespace of its own keeps the task cgroups apart from other agents'.
    // Declared before the daemon so that it is removed after it.
    let ns = common::unique_ns("dind-tasks");
    let _cgroups = NamespaceCgroups(ns.clone());
    let dockerd = Dockerd::start();
    eprintln!("private dockerd, storage driver {}", dockerd.driver);
    let loaded = dockerd.docker_ok(&["load", "--input", &archive.display().to_string()]);
    assert!(loaded.contains(IMAGE), "docker load: {loaded}");

    let local = EcsLocal::start(&env);
    let aws = Aws::new(&env, &local);
    let cluster = common::unique_ns("dind");
    aws.ecs_ok(&["create-cluster", "--cluster-name", &cluster]);

    // deploy/README.md's `docker run`, with the test's values.
    let vars = [
        format!("ECS_CLUSTER={cluster}"),
        format!("ECS_BACKEND_HOST={}", local.endpoint()),
        format!("AWS_DEFAULT_REGION={}", common::REGION),
        format!("AWS_ACCESS_KEY_ID={}", common::ACCESS_KEY_ID),
        format!("AWS_SECRET_ACCESS_KEY={}", common::SECRET_ACCESS_KEY),
        format!("ECS_DATADIR={DATADIR_INSIDE}"),
        format!("CONTAINERD_NAMESPACE={ns}"),
        "ECS_LOGLEVEL=info".to_string(),
        // Host networking: free ports, and no host-wide iptables rules from
        // inside the container while other tests' agents run beside it.
        format!("ECS_AGENT_INTROSPECTION_PORT={}", common::free_port()),
        format!("ECS_AGENT_CREDENTIALS_PORT={}", common::free_port()),
        "ECS_HOST_NETWORK_SETUP=false".to_string(),
        "AWS_EC2_METADATA_DISABLED=true".to_string(),
    ];
    let mut args: Vec<String> = vec![
        "run".into(),
        "--detach".into(),
        "--name".into(),
        CONTAINER.into(),
        "--cgroupns=host".into(),
        "--network=host".into(),
    ];
    let privileges = privilege_flags();
    eprintln!("docker run privileges: {}", privileges.join(" "));
    args.extend(privileges);
    for v in &vars {
        args.push("--env".into());
        args.push(v.clone());
    }
    args.push(IMAGE.into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    dockerd.docker_ok(&args);

    let logs = || {
        let out = dockerd.docker(&["logs", CONTAINER]);
        format!("{}{}", text(&out.stdout), text(&out.stderr))
    };
    let state = || {
        format!(
            "container:\n{}\nlog tail:\n{}",
            text(&dockerd.docker(&["ps", "-a"]).stdout),
            tail(&logs(), 40)
        )
    };
    let wait = |what: &str, timeout: Duration, f: &mut dyn FnMut() -> bool| {
        agent_image::wait_for(what, timeout, f, &state)
    };

    wait(
        "the agent in docker to register",
        Duration::from_secs(90),
        &mut || agent_image::registered(&aws, &cluster),
    );
    let startup = logs();
    assert!(
        startup.contains("entrypoint: containerd 1.6") && startup.contains("is up on"),
        "the entrypoint starts containerd first: {}",
        tail(&startup, 20)
    );

    // A task that exits 0 on SIGTERM, and one left running for `docker stop`.
    let td = json!({
        "family": "dind",
        "networkMode": "host",
        "containerDefinitions": [{
            "name": "app", "image": env.image(), "memory": 32, "essential": true,
            "command": ["sh", "-c",
                "trap 'echo dind-task-stopped; exit 0' TERM; echo dind-task-running; \
                 while :; do sleep 0.2; done"]
        }]
    });
    let td_arn = aws.ecs_ok(&[
        "register-task-definition",
        "--cli-input-json",
        &td.to_string(),
    ])["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .expect("taskDefinitionArn")
        .to_string();
    let run = |count: &str| -> Vec<String> {
        let out = aws.ecs_ok(&[
            "run-task",
            "--cluster",
            &cluster,
            "--task-definition",
            &td_arn,
            "--count",
            count,
        ]);
        assert_eq!(out["failures"], json!([]), "run-task: {out}");
        out["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .map(|t| t["taskArn"].as_str().expect("taskArn").to_string())
            .collect()
    };
    let tasks = run("2");
    let (first, second) = (&tasks[0], &tasks[1]);
    for task in [first, second] {
        wait("a task to be RUNNING", Duration::from_secs(90), &mut || {
            describe(&aws, &cluster, task)["lastStatus"] == "RUNNING"
        });
    }

    aws.ecs_ok(&["stop-task", "--cluster", &cluster, "--task", first]);
    let mut last = serde_json::Value::Null;
    wait("the stopped task", Duration::from_secs(60), &mut || {
        last = describe(&aws, &cluster, first);
        last["lastStatus"] == "STOPPED"
    });
    assert_eq!(last["containers"][0]["exitCode"], 0, "{last}");
    // Its output, where the agent inside wrote it.
    let task_id = first.rsplit('/').next().unwrap_or_default();
    let log_path = format!("{DATADIR_INSIDE}/logs/{task_id}/app-json.log");
    let task_log = dockerd.docker_ok(&["exec", CONTAINER, "cat", &log_path]);
    assert!(
        task_log.contains("dind-task-running") && task_log.contains("dind-task-stopped"),
        "{log_path}: {task_log}"
    );

    // The second task's cgroup (the agent's per-task cgroup) is in the
    // host's tree, because of --cgroupns=host.
    let second_id = second.rsplit('/').next().unwrap_or_default();
    let task_cgroup = PathBuf::from(format!("/sys/fs/cgroup/memory/{ns}/{second_id}"));
    let v1_memory = Path::new("/sys/fs/cgroup/memory").is_dir();
    if v1_memory {
        assert!(
            task_cgroup.is_dir(),
            "{} missing while the task runs",
            task_cgroup.display()
        );
    }

    // `docker stop`: agent, then the running task, then containerd.
    let stopped_at = Instant::now();
    dockerd.docker_ok(&["stop", "--time", "30", CONTAINER]);
    let took = stopped_at.elapsed();
    let exit = dockerd.docker_ok(&["inspect", "--format", "{{.State.ExitCode}}", CONTAINER]);
    let stop_log = logs();
    assert_eq!(
        exit.trim(),
        "0",
        "exit status after docker stop ({took:.1?}):\n{}",
        tail(&stop_log, 30)
    );
    let order: Vec<usize> = [
        "entrypoint: stopping ecs-agent",
        "entrypoint: ecs-agent exited with status 0",
        "entrypoint: stopping 1 task container(s)",
        "entrypoint: stopping containerd",
        "entrypoint: containerd exited with status 0",
    ]
    .iter()
    .map(|line| {
        stop_log
            .find(line)
            .unwrap_or_else(|| panic!("no {line:?} in the log:\n{}", tail(&stop_log, 30)))
    })
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "stop order: {order:?}\n{}",
        tail(&stop_log, 30)
    );
    eprintln!("docker stop took {took:.1?}");
    if v1_memory {
        assert!(
            !task_cgroup.exists(),
            "{} left on the host after docker stop",
            task_cgroup.display()
        );
    }

    dockerd.docker_ok(&["rm", "--volumes", CONTAINER]);
    dockerd.docker_ok(&["rmi", IMAGE]);
    let left = dockerd.docker_ok(&["ps", "-aq"]);
    assert!(left.trim().is_empty(), "containers left: {left}");
    drop(dockerd);
}
