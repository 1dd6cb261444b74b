//! `ContainerdRuntime` against the real containerd of `scripts/testenv` with the
//! busybox test image: create/start/kill/remove, exit events, logs, limits.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ecs::runtime::containerd::pull::PullOptions;
use ecs::runtime::containerd::{Conn, ContainerdRuntime};
use ecs::runtime::{ContainerRuntime, ContainerState, ExitEvent};
use ecs::task::container::{ContainerSpec, NetworkAttachment, PulledImage, Ulimit, UlimitName};
use ecs::task::image_ref::ImageRef;
use tokio::sync::mpsc::Receiver;

use crate::common::{self, TestEnv};

const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// One namespace, one runtime, the image, a temp dir for logs; all removed on drop.
struct Fixture {
    env: TestEnv,
    ns: String,
    rt: ContainerdRuntime,
    image: PulledImage,
    dir: tempfile::TempDir,
}

impl Fixture {
    async fn new(prefix: &str) -> Option<Fixture> {
        let env = common::env()?;
        let ns = common::unique_ns(prefix);
        let rt = runtime(&env, &ns);
        let image = rt
            .pull_image(
                &ImageRef::parse(&env.image()).expect("image reference"),
                None,
            )
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        Some(Fixture {
            env,
            ns,
            rt,
            image,
            dir,
        })
    }

    fn log_path(&self, id: &str) -> PathBuf {
        self.dir
            .path()
            .join("logs")
            .join("task-1")
            .join(format!("{id}.log"))
    }

    fn spec(&self, id: &str, args: &[&str]) -> ContainerSpec {
        ContainerSpec {
            id: id.to_string(),
            image: self.image.clone(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: self.image.config.env.clone(),
            cwd: "/".into(),
            user: String::new(),
            hostname: None,
            cpu_shares: None,
            memory_limit_bytes: None,
            memory_reservation_bytes: None,
            cgroup_parent: None,
            privileged: false,
            readonly_rootfs: false,
            ulimits: Vec::new(),
            labels: BTreeMap::from([("com.amazonaws.ecs.container-name".into(), id.into())]),
            log: ecs::task::container::ContainerLog::Plain(self.log_path(id)),
            network: NetworkAttachment::Host,
            mounts: Vec::new(),
            populate_from_image: Vec::new(),
            namespace_holder: None,
            task_shm: None,
            linux: Default::default(),
            tty: false,
            health_runner: false,
        }
    }

    /// Create and start `spec`, wait for its exit; returns exit code and log.
    async fn run(&self, exits: &mut Receiver<ExitEvent>, spec: &ContainerSpec) -> (i32, String) {
        self.rt.create(spec).await.unwrap();
        self.rt.start(&spec.id).await.unwrap();
        let ev = wait_exit(exits, &spec.id).await;
        // Deleting the task waits for the shim to finish copying output.
        self.rt.remove(&spec.id).await.unwrap();
        let log = read_log(spec.log.path().unwrap());
        (ev.exit_code, log)
    }

    fn ctr(&self, args: &[&str]) -> String {
        common::ctr(&self.env, &self.ns, args)
    }

    fn assert_gone(&self, id: &str) {
        let containers = self.ctr(&["containers", "ls", "-q"]);
        assert!(
            !containers.lines().any(|l| l.trim() == id),
            "container {id} left: {containers}"
        );
        let snapshots = self.ctr(&["snapshots", "ls"]);
        assert!(
            !snapshots
                .lines()
                .any(|l| l.split_whitespace().next() == Some(id)),
            "snapshot {id} left:\n{snapshots}"
        );
        let tasks = self.ctr(&["tasks", "ls", "-q"]);
        assert!(
            !tasks.lines().any(|l| l.trim() == id),
            "task {id} left: {tasks}"
        );
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        common::cleanup_ns(&self.env, &self.ns);
        // cleanup_ns leaves container snapshots; the namespace cannot go without that.
        let snaps = common::try_ctr(&self.env, &self.ns, &["snapshots", "ls"]).unwrap_or_default();
        for line in snaps.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.last() == Some(&"Active") {
                let _ = common::try_ctr(&self.env, &self.ns, &["snapshots", "rm", cols[0]]);
            }
        }
        // Image content goes with containerd's next GC; until then the namespace is not empty.
        let deadline = Instant::now() + Duration::from_secs(5);
        while common::try_ctr(&self.env, "default", &["namespaces", "rm", &self.ns]).is_err()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn runtime(env: &TestEnv, ns: &str) -> ContainerdRuntime {
    // The container logger is the shim's logger, as in production (cargo's
    // build of it here; `logging_runtime` takes the one the agent installs).
    ContainerdRuntime::new(
        Conn::lazy(&env.containerd_sock, ns).unwrap(),
        PullOptions::default(),
    )
    .with_logger(std::path::PathBuf::from(env!(
        "CARGO_BIN_EXE_ecs-agent-logger"
    )))
}

async fn wait_exit(exits: &mut Receiver<ExitEvent>, id: &str) -> ExitEvent {
    let deadline = tokio::time::Instant::now() + EXIT_TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, exits.recv()).await {
            Ok(Some(ev)) if ev.container_id == id => return ev,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("exit channel closed while waiting for {id}"),
            Err(_) => panic!("no exit event for {id} within {EXIT_TIMEOUT:?}"),
        }
    }
}

/// The shim may still be copying output when the exit event arrives: wait
/// until the file is non-empty and has stopped growing.
fn read_log(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = String::new();
    let mut stable_since = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text != last {
            last = text;
            stable_since = Instant::now();
        }
        let settled = !last.is_empty() && stable_since.elapsed() >= Duration::from_millis(300);
        if settled || Instant::now() > deadline {
            return last;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn assert_running(rt: &ContainerdRuntime, id: &str) -> u32 {
    match rt.state(id).await.unwrap() {
        Some(ContainerState::Running { pid }) => pid,
        other => panic!("{id}: expected running, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_exits_zero_with_log_and_state_transitions() {
    let Some(fx) = Fixture::new("rt-echo").await else {
        return;
    };
    let mut exits = fx.rt.subscribe_exits().await.unwrap();
    let spec = fx.spec(
        "echo",
        &["sh", "-c", "echo hello from the container; sleep 3"],
    );

    // pull_image and find_image go through the image module.
    assert_eq!(
        fx.rt
            .find_image(&ImageRef::parse(&fx.env.image()).expect("image reference"))
            .await
            .unwrap()
            .as_ref(),
        Some(&fx.image)
    );
    let absent = format!("{}/busybox:absent", fx.env.registry);
    assert_eq!(
        fx.rt
            .find_image(&ImageRef::parse(&absent).expect("image reference"))
            .await
            .unwrap(),
        None
    );

    assert_eq!(fx.rt.state("echo").await.unwrap(), None);
    fx.rt.create(&spec).await.unwrap();
    assert_eq!(
        fx.rt.state("echo").await.unwrap(),
        Some(ContainerState::Created)
    );
    // The create's lease (deleted while the task is made) is gone with it.
    let leases = fx.ctr(&["leases", "ls", "-q"]);
    assert!(!leases.contains("ecs-create-"), "{leases}");
    let pid = fx.rt.start("echo").await.unwrap();
    assert!(pid > 0);
    assert_eq!(assert_running(&fx.rt, "echo").await, pid);

    let before = time_ms();
    let ev = wait_exit(&mut exits, "echo").await;
    assert_eq!(ev.exit_code, 0);
    assert!(
        (before - 5_000..time_ms() + 1_000).contains(&ev.exited_at_ms),
        "{ev:?}"
    );
    assert_eq!(
        fx.rt.state("echo").await.unwrap(),
        Some(ContainerState::Stopped { exit_code: 0 })
    );
    assert_eq!(
        read_log(spec.log.path().unwrap()),
        "hello from the container\n"
    );

    // Killing an exited container is not an error.
    fx.rt.kill("echo", 15).await.unwrap();
    fx.rt.remove("echo").await.unwrap();
    assert_eq!(fx.rt.state("echo").await.unwrap(), None);
    fx.assert_gone("echo");
    // Idempotent.
    fx.rt.remove("echo").await.unwrap();
    fx.rt.kill("echo", 9).await.unwrap();
}

fn own_hard_nofile() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace()
        .nth(4)
        .unwrap()
        .parse()
        .unwrap_or(u64::MAX)
}

fn time_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_code_is_reported() {
    let Some(fx) = Fixture::new("rt-exit3").await else {
        return;
    };
    let mut exits = fx.rt.subscribe_exits().await.unwrap();
    let spec = fx.spec("three", &["sh", "-c", "echo bye >&2; exit 3"]);
    fx.rt.create(&spec).await.unwrap();
    fx.rt.start("three").await.unwrap();
    assert_eq!(wait_exit(&mut exits, "three").await.exit_code, 3);
    assert_eq!(
        fx.rt.state("three").await.unwrap(),
        Some(ContainerState::Stopped { exit_code: 3 })
    );
    assert_eq!(
        read_log(spec.log.path().unwrap()),
        "bye\n",
        "stderr lands in the same log"
    );
    fx.rt.remove("three").await.unwrap();
    fx.assert_gone("three");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_sleeping_container() {
    let Some(fx) = Fixture::new("rt-term").await else {
        return;
    };
    let mut exits = fx.rt.subscribe_exits().await.unwrap();
    // PID 1 of a pid namespace ignores signals it has no handler for (the
    // kernel's rule, as with `docker run` without --init), so the shell traps.
    let spec = fx.spec(
        "sleeper",
        &["sh", "-c", "trap 'exit 143' TERM; sleep 100 & wait"],
    );
    fx.rt.create(&spec).await.unwrap();
    fx.rt.start("sleeper").await.unwrap();
    assert_running(&fx.rt, "sleeper").await;
    // Until the shell has installed its trap, SIGTERM is ignored: send it
    // again until the trap answers.
    let mut exit = None;
    for _ in 0..30 {
        fx.rt.kill("sleeper", 15).await.unwrap();
        let wait = wait_exit(&mut exits, "sleeper");
        if let Ok(ev) = tokio::time::timeout(Duration::from_secs(1), wait).await {
            exit = Some(ev.exit_code);
            break;
        }
    }
    assert_eq!(exit, Some(143));
    fx.rt.remove("sleeper").await.unwrap();
    fx.assert_gone("sleeper");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ignored_sigkill_is_not() {
    let Some(fx) = Fixture::new("rt-kill").await else {
        return;
    };
    let mut exits = fx.rt.subscribe_exits().await.unwrap();
    let spec = fx.spec("stubborn", &["sh", "-c", "trap '' TERM; sleep 100"]);
    fx.rt.create(&spec).await.unwrap();
    fx.rt.start("stubborn").await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    fx.rt.kill("stubborn", 15).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_running(&fx.rt, "stubborn").await;
    fx.rt.kill("stubborn", 9).await.unwrap();
    assert_eq!(wait_exit(&mut exits, "stubborn").await.exit_code, 137);
    assert_eq!(
        fx.rt.state("stubborn").await.unwrap(),
        Some(ContainerState::Stopped { exit_code: 137 })
    );
    fx.rt.remove("stubborn").await.unwrap();
    fx.assert_gone("stubborn");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ulimits_user_and_readonly_rootfs_apply() {
    let Some(fx) = Fixture::new("rt-limits").await else {
        return;
    };
    let mut exits = fx.rt.subscribe_exits().await.unwrap();

    let mut spec = fx.spec("ulimit", &["sh", "-c", "ulimit -n; ulimit -Hn"]);
    spec.ulimits = vec![Ulimit {
        name: UlimitName::Nofile,
        soft: 1234,
        hard: 2345,
    }];
    assert_eq!(
        fx.run(&mut exits, &spec).await,
        (0, "1234\n2345\n".to_string())
    );

    // 32768 like Docker on ECS AMIs, unless the host's hard limit is lower and
    // we may not raise it (no CAP_SYS_RESOURCE, as in some sandboxes).
    let spec = fx.spec("default-nofile", &["sh", "-c", "ulimit -n"]);
    let (code, log) = fx.run(&mut exits, &spec).await;
    assert_eq!(code, 0);
    let n: u64 = log.trim().parse().unwrap();
    assert!(n == 32768 || (n < 32768 && n == own_hard_nofile()), "{log}");

    let mut spec = fx.spec("numeric-user", &["sh", "-c", "id -u; id -g"]);
    spec.user = "1000:1000".into();
    assert_eq!(
        fx.run(&mut exits, &spec).await,
        (0, "1000\n1000\n".to_string())
    );

    // A bare uid takes its group and home from the image's /etc/passwd, as in Docker.
    let mut spec = fx.spec("uid-only", &["sh", "-c", "id -u; id -g; echo $HOME"]);
    spec.user = "1000".into();
    assert_eq!(
        fx.run(&mut exits, &spec).await,
        (0, "1000\n1000\n/home/app\n".to_string())
    );

    let mut spec = fx.spec("named-user", &["sh", "-c", "id -u; id -g; echo $HOME"]);
    spec.user = "nobody".into();
    assert_eq!(
        fx.run(&mut exits, &spec).await,
        (0, "65534\n65534\n/nonexistent\n".to_string())
    );

    let mut spec = fx.spec(
        "readonly",
        &["sh", "-c", "touch /x && echo wrote || echo readonly"],
    );
    spec.readonly_rootfs = true;
    let (code, log) = fx.run(&mut exits, &spec).await;
    assert_eq!(code, 0);
    // stdout and stderr are copied separately: their order in the file is not fixed.
    assert!(
        log.lines().any(|l| l == "readonly") && !log.contains("wrote"),
        "{log}"
    );

    let spec = fx.spec(
        "writable",
        &["sh", "-c", "touch /x && echo wrote || echo readonly"],
    );
    assert_eq!(fx.run(&mut exits, &spec).await, (0, "wrote\n".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileged_gets_host_caps_and_no_readonly_proc() {
    let Some(fx) = Fixture::new("rt-priv").await else {
        return;
    };
    let mut exits = fx.rt.subscribe_exits().await.unwrap();
    let script = "mkdir -p /tmp/m; mount -t tmpfs none /tmp/m 2>/dev/null && echo mounted; \
                  grep -q ' /proc/sys ' /proc/mounts && echo proc-sys-readonly; \
                  grep CapEff /proc/self/status | tr '\\t' ' '";
    let mut spec = fx.spec("priv", &["sh", "-c", script]);
    spec.privileged = true;
    let (code, log) = fx.run(&mut exits, &spec).await;
    assert_eq!(code, 0, "{log}");
    let host_bnd = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:").map(|v| v.trim().to_string()))
        .unwrap();
    assert_eq!(log, format!("mounted\nCapEff: {host_bnd}\n"));

    let plain = fx.spec("plain", &["sh", "-c", script]);
    let (_, log) = fx.run(&mut exits, &plain).await;
    assert_eq!(log, "proc-sys-readonly\nCapEff: 00000000a80425fb\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_reaches_the_cgroup() {
    let Some(fx) = Fixture::new("rt-mem").await else {
        return;
    };
    let mut exits = fx.rt.subscribe_exits().await.unwrap();
    let mut spec = fx.spec(
        "mem",
        &[
            "sh",
            "-c",
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; sleep 8",
        ],
    );
    spec.memory_limit_bytes = Some(64 << 20);
    spec.memory_reservation_bytes = Some(32 << 20);
    spec.cpu_shares = Some(256);
    fx.rt.create(&spec).await.unwrap();
    fx.rt.start("mem").await.unwrap();
    // Seen from the host too, at the cgroup path the spec names.
    let v1 = PathBuf::from("/sys/fs/cgroup/memory")
        .join(&fx.ns)
        .join("mem");
    if v1.exists() {
        let read = |f: &str| {
            std::fs::read_to_string(v1.join(f))
                .unwrap()
                .trim()
                .to_string()
        };
        assert_eq!(read("memory.limit_in_bytes"), "67108864");
        assert_eq!(read("memory.soft_limit_in_bytes"), "33554432");
        let cpu = PathBuf::from("/sys/fs/cgroup/cpu")
            .join(&fx.ns)
            .join("mem/cpu.shares");
        assert_eq!(std::fs::read_to_string(cpu).unwrap().trim(), "256");
    } else {
        // cgroup v2: runc's cgroupfs driver uses the same path under the unified root.
        let v2 = PathBuf::from("/sys/fs/cgroup")
            .join(&fx.ns)
            .join("mem/memory.max");
        assert_eq!(std::fs::read_to_string(v2).unwrap().trim(), "67108864");
    }
    assert_eq!(wait_exit(&mut exits, "mem").await.exit_code, 0);
    assert_eq!(read_log(spec.log.path().unwrap()), "67108864\n");
    fx.rt.remove("mem").await.unwrap();
    fx.assert_gone("mem");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_outlives_the_runtime_and_remove_kills_leftovers() {
    let Some(fx) = Fixture::new("rt-outlive").await else {
        return;
    };
    let spec = fx.spec("long", &["sleep", "100"]);
    {
        let rt = runtime(&fx.env, &fx.ns);
        rt.create(&spec).await.unwrap();
        rt.start("long").await.unwrap();
    }
    // The runtime (and its connection) are gone; the shim keeps the task.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tasks = fx.ctr(&["tasks", "ls"]);
    assert!(
        tasks
            .lines()
            .any(|l| l.starts_with("long ") && l.contains("RUNNING")),
        "task not running after the runtime was dropped:\n{tasks}"
    );
    let rt = runtime(&fx.env, &fx.ns);
    assert_running(&rt, "long").await;
    // remove is meant for stopped containers but must not leave a running one behind.
    rt.remove("long").await.unwrap();
    assert_eq!(rt.state("long").await.unwrap(), None);
    fx.assert_gone("long");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_create_leaves_nothing_behind() {
    let Some(fx) = Fixture::new("rt-fail").await else {
        return;
    };
    let mut spec = fx.spec("ghost", &["true"]);
    spec.user = "ghost".into();
    let err = fx.rt.create(&spec).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "user \"ghost\": no such user in the image's /etc/passwd"
    );
    assert!(!err.is_unavailable());
    fx.assert_gone("ghost");

    let mut spec = fx.spec("noparent", &["true"]);
    spec.image.chain_id =
        "sha256:0000000000000000000000000000000000000000000000000000000000000000".into();
    let err = fx.rt.create(&spec).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("creating container noparent: preparing snapshot"),
        "{err}"
    );
    fx.assert_gone("noparent");

    // runc refuses a missing binary when the task is created: the container
    // record and snapshot made before must go again.
    let spec = fx.spec("nobinary", &["/does/not/exist"]);
    let err = fx.rt.create(&spec).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("creating container nobinary: creating task:"),
        "{err}"
    );
    assert!(err.to_string().contains("/does/not/exist"), "{err}");
    fx.assert_gone("nobinary");

    // A snapshot orphaned by a crash between preparing it and recording the
    // container does not block the id forever.
    fx.ctr(&["snapshots", "prepare", "orphan", &fx.image.chain_id]);
    let spec = fx.spec("orphan", &["true"]);
    fx.rt.create(&spec).await.unwrap();
    assert_eq!(
        fx.rt.state("orphan").await.unwrap(),
        Some(ContainerState::Created)
    );
    fx.rt.remove("orphan").await.unwrap();
    fx.assert_gone("orphan");

    // A container that never started is removed as well.
    let spec = fx.spec("never-started", &["true"]);
    fx.rt.create(&spec).await.unwrap();
    fx.rt.remove("never-started").await.unwrap();
    fx.assert_gone("never-started");

    // A duplicate id fails without touching the existing container.
    let spec = fx.spec("dup", &["sleep", "100"]);
    fx.rt.create(&spec).await.unwrap();
    assert!(fx.rt.create(&spec).await.is_err());
    assert_eq!(
        fx.rt.state("dup").await.unwrap(),
        Some(ContainerState::Created)
    );
    fx.rt.start("dup").await.unwrap();
    assert_running(&fx.rt, "dup").await;
    fx.rt.remove("dup").await.unwrap();
    fx.assert_gone("dup");
}

/// A named network namespace, deleted on drop.
struct NetNs(String);

impl NetNs {
    fn add(name: &str) -> NetNs {
        let ok = Command::new("ip")
            .args(["netns", "add", name])
            .status()
            .unwrap()
            .success();
        assert!(ok, "ip netns add {name}");
        NetNs(name.to_string())
    }

    fn path(&self) -> PathBuf {
        PathBuf::from("/var/run/netns").join(&self.0)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_network_and_network_namespace() {
    let Some(fx) = Fixture::new("rt-net").await else {
        return;
    };
    let mut exits = fx.rt.subscribe_exits().await.unwrap();

    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let spec = fx.spec(
        "hostnet",
        &["sh", "-c", "hostname; test -s /etc/resolv.conf && echo dns"],
    );
    assert_eq!(
        fx.run(&mut exits, &spec).await,
        (0, format!("{}\ndns\n", host_name.trim()))
    );

    let mut spec = fx.spec("named", &["hostname"]);
    spec.hostname = Some("web-1".into());
    assert_eq!(fx.run(&mut exits, &spec).await, (0, "web-1\n".to_string()));

    // A fresh namespace made the way the network layer makes them.
    let netns = NetNs::add(&format!("rt-{}", std::process::id()));
    let mut spec = fx.spec("isolated", &["sh", "-c", "ls /sys/class/net"]);
    spec.network = NetworkAttachment::Namespace(netns.path());
    let result = fx.run(&mut exits, &spec).await;
    assert_eq!(result, (0, "lo\n".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_socket_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let conn = Conn::lazy(&dir.path().join("nope.sock"), "rt-nosock").unwrap();
    let rt = ContainerdRuntime::new(conn, PullOptions::default());
    let err = rt.state("x").await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    let err = rt.start("x").await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    let err = rt.subscribe_exits().await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
}

/// A containerd of our own, so that it can be killed and restarted without
/// disturbing the shared one.
struct PrivateContainerd {
    env: TestEnv,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl PrivateContainerd {
    fn start(shared: &TestEnv) -> PrivateContainerd {
        let dir = tempfile::Builder::new().prefix("ctrd-").tempdir().unwrap();
        let d = dir.path();
        let config = format!(
            "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.snapshotter.v1.aufs\", \
             \"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.devmapper\", \
             \"io.containerd.snapshotter.v1.zfs\", \"io.containerd.tracing.processor.v1.otlp\", \
             \"io.containerd.internal.v1.tracing\"]\n\
             [grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n\
             [debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{opt}\"\n",
            root = d.join("root").display(),
            state = d.join("state").display(),
            sock = d.join("c.sock").display(),
            opt = d.join("opt").display(),
        );
        std::fs::write(d.join("config.toml"), config).unwrap();
        let mut env = shared.clone();
        env.containerd_sock = d.join("c.sock");
        let mut c = PrivateContainerd {
            env,
            dir,
            child: None,
        };
        c.spawn();
        c
    }

    fn spawn(&mut self) {
        let d = self.dir.path();
        let _ = std::fs::remove_file(d.join("c.sock"));
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(d.join("containerd.log"))
            .unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        common::wait_until_with(
            "private containerd",
            Duration::from_secs(30),
            Duration::from_millis(100),
            || common::try_ctr(&self.env, "default", &["version"]).ok(),
        );
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateContainerd {
    fn drop(&mut self) {
        if self.child.is_some() {
            for ns in common::try_ctr(&self.env, "default", &["namespaces", "ls", "-q"])
                .unwrap_or_default()
                .lines()
            {
                common::cleanup_ns(&self.env, ns.trim());
            }
        }
        if let Some(c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let mut c = c;
            let _ = c.wait();
        }
        // Unmount whatever a failed test left mounted under the temp dir.
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let prefix = self.dir.path().display().to_string();
        let mut targets: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|t| t.starts_with(&prefix))
            .collect();
        targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
        for t in targets {
            let _ = Command::new("umount").args(["-l", t]).status();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_events_resume_after_containerd_restarts() {
    let Some(shared) = common::env() else { return };
    let mut ctrd = PrivateContainerd::start(&shared);
    // Unique: a run stopped mid-test leaves runc state under
    // /run/containerd/runc/<namespace>/, which the next run must not meet.
    let ns = common::unique_ns("rt-restart");
    let rt = runtime(&ctrd.env, &ns);
    let image = rt
        .pull_image(
            &ImageRef::parse(&shared.image()).expect("image reference"),
            None,
        )
        .await
        .unwrap();
    let logs = tempfile::tempdir().unwrap();
    let spec = |id: &str| ContainerSpec {
        id: id.to_string(),
        image: image.clone(),
        args: vec!["sleep".into(), "100".into()],
        env: image.config.env.clone(),
        cwd: "/".into(),
        user: String::new(),
        hostname: None,
        cpu_shares: None,
        memory_limit_bytes: None,
        memory_reservation_bytes: None,
        cgroup_parent: None,
        privileged: false,
        readonly_rootfs: false,
        ulimits: Vec::new(),
        labels: BTreeMap::new(),
        log: ecs::task::container::ContainerLog::Plain(logs.path().join(format!("{id}.log"))),
        network: NetworkAttachment::Host,
        mounts: Vec::new(),
        populate_from_image: Vec::new(),
        namespace_holder: None,
        task_shm: None,
        linux: Default::default(),
        tty: false,
        health_runner: false,
    };
    let mut exits = rt.subscribe_exits().await.unwrap();
    rt.create(&spec("before")).await.unwrap();
    rt.start("before").await.unwrap();

    rt.create(&spec("during")).await.unwrap();
    let during_pid = rt.start("during").await.unwrap();

    ctrd.kill9();
    let err = rt.state("before").await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    // This exit happens while nobody listens: it must still be reported.
    let killed = Command::new("kill")
        .args(["-9", &during_pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    ctrd.spawn();
    assert_eq!(wait_exit(&mut exits, "during").await.exit_code, 137);

    // The task outlived containerd; the same runtime reconnects by itself.
    assert_running(&rt, "before").await;
    rt.create(&spec("after")).await.unwrap();
    rt.start("after").await.unwrap();
    // Longer than the longest backoff, so the stream is surely back.
    tokio::time::sleep(Duration::from_secs(7)).await;
    rt.kill("after", 9).await.unwrap();
    let ev = wait_exit(&mut exits, "after").await;
    assert_eq!(ev.exit_code, 137);
    rt.kill("before", 9).await.unwrap();
    assert_eq!(wait_exit(&mut exits, "before").await.exit_code, 137);
    for id in ["before", "after", "during"] {
        rt.remove(id).await.unwrap();
    }
}

/// The runtime the agent uses: stdio through our `binary://` logger (the
/// `ecs-agent` binary itself), not the shim's `file://` writer.
/// With the logger the agent installs (`$ECS_DATADIR/bin/ecs-agent-logger`).
fn logging_runtime(fx: &Fixture) -> ContainerdRuntime {
    let logger = ecs::logger::install(fx.dir.path()).expect("install the container logger");
    runtime(&fx.env, &fx.ns).with_logger(logger)
}

/// Every line of both streams reaches the log, the end of stderr included,
/// with several containers logging at once; after `remove` the log is
/// complete without waiting (the shim waits for the logger to finish).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_logger_keeps_every_line_of_both_streams() {
    let Some(fx) = Fixture::new("rt-logger").await else {
        return;
    };
    let rt = logging_runtime(&fx);
    let mut exits = rt.subscribe_exits().await.unwrap();
    const LINES: usize = 2000;
    let script = format!(
        "i=0; while [ $i -lt {LINES} ]; do echo out$i; echo err$i >&2; i=$((i+1)); done; \
         echo LAST-ERR >&2"
    );
    let ids = ["chatty-1", "chatty-2", "chatty-3", "chatty-4"];
    let specs: Vec<ContainerSpec> = ids
        .iter()
        .map(|id| fx.spec(id, &["sh", "-c", &script]))
        .collect();
    let started: Vec<_> = specs
        .iter()
        .map(|spec| {
            let (rt, spec) = (rt.clone(), spec.clone());
            tokio::spawn(async move {
                rt.create(&spec).await.unwrap();
                rt.start(&spec.id).await.unwrap();
            })
        })
        .collect();
    for handle in started {
        handle.await.unwrap();
    }
    let mut pending: Vec<&str> = ids.to_vec();
    let deadline = tokio::time::Instant::now() + EXIT_TIMEOUT;
    while !pending.is_empty() {
        let ev = tokio::time::timeout_at(deadline, exits.recv())
            .await
            .unwrap_or_else(|_| panic!("no exit for {pending:?}"))
            .unwrap();
        if let Some(i) = pending.iter().position(|id| *id == ev.container_id) {
            assert_eq!(ev.exit_code, 0, "{ev:?}");
            pending.remove(i);
        }
    }
    for spec in &specs {
        rt.remove(&spec.id).await.unwrap();
        let log = std::fs::read_to_string(spec.log.path().unwrap()).unwrap();
        let (mut outs, mut errs) = (Vec::new(), Vec::new());
        for line in log.lines() {
            if line.starts_with("out") {
                outs.push(line);
            } else {
                errs.push(line);
            }
        }
        let want_out: Vec<String> = (0..LINES).map(|i| format!("out{i}")).collect();
        let mut want_err: Vec<String> = (0..LINES).map(|i| format!("err{i}")).collect();
        want_err.push("LAST-ERR".into());
        assert_eq!(outs, want_out, "{}: stdout", spec.id);
        // The order between the two streams is the readers' (two pipes have
        // no common clock); within each, every line is there, in order.
        assert_eq!(errs, want_err, "{}: stderr", spec.id);
        fx.assert_gone(&spec.id);
    }
    // Each logger has exited (the shim waited for it in `remove`).
    let ours = fx.dir.path().to_string_lossy().into_owned();
    let loggers = crate::common::procs::processes_where(|c| {
        c.contains(ecs::logger::PLAIN_FLAG) && c.contains(&ours)
    });
    assert!(loggers.is_empty(), "loggers left: {loggers:?}");
}

/// Health checks are execs (issue 15): 100 of them, one timed out, leave no
/// exec process behind in the shim: the id they all use is free again for
/// `ctr tasks exec`, and only the main process runs in the container.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_execs_leave_no_exec_process_in_the_shim() {
    let Some(fx) = Fixture::new("rt-execs").await else {
        return;
    };
    let spec = fx.spec("probe", &["sleep", "600"]);
    fx.rt.create(&spec).await.unwrap();
    fx.rt.start("probe").await.unwrap();
    let exec_id = "ecs-health-check";
    let args = |s: &str| vec!["sh".to_string(), "-c".to_string(), s.to_string()];
    // The first half take their exit from Tasks.Wait (no exit event stream
    // yet), the second half from the stream, as the agent's probes do.
    let mut exits = None;
    for i in 0..100 {
        if i == 50 {
            exits = Some(fx.rt.subscribe_exits().await.unwrap());
        }
        let out = fx
            .rt
            .exec(
                "probe",
                exec_id,
                &args(&format!("echo {i}; exit {}", i % 3)),
                Duration::from_secs(10),
                4096,
            )
            .await
            .unwrap_or_else(|e| panic!("exec {i}: {e}"));
        assert_eq!(out.exit_code, Some(i % 3), "exec {i}");
        assert_eq!(out.output, format!("{i}\n").into_bytes(), "exec {i}");
    }
    let hung = fx
        .rt
        .exec(
            "probe",
            exec_id,
            &args("sleep 60"),
            Duration::from_millis(300),
            4096,
        )
        .await
        .unwrap();
    assert_eq!(hung.exit_code, None, "killed at its timeout");
    // Free for another client: containerd keeps no record of the last one.
    common::ctr(
        &fx.env,
        &fx.ns,
        &["tasks", "exec", "--exec-id", exec_id, "probe", "true"],
    );
    let ps = common::ctr(&fx.env, &fx.ns, &["tasks", "ps", "probe"]);
    assert_eq!(
        ps.lines().skip(1).count(),
        1,
        "only the main process:\n{ps}"
    );
    fx.rt.remove("probe").await.unwrap();
    fx.assert_gone("probe");
    // The output FIFO, kept between runs, goes with the container.
    let fifos = std::env::temp_dir().join("ecs-agent-exec").join("probe");
    assert!(!fifos.exists(), "{} left behind", fifos.display());
    drop(exits);
}
