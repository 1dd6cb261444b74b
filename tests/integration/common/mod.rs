//! Shared harness for the integration tests.
//!
//! The tests drive the real things started by `scripts/testenv up` (a private
//! containerd, two registries, the `aws` CLI); their coordinates arrive in the
//! `ECS_TEST_*` variables written to `.work/testenv/env`. Outside CI a missing
//! environment skips the test loudly; in CI it fails it.
//!
//! Every helper that starts a process kills it on drop, and `Agent` also
//! removes its containerd namespace's tasks and containers, so tests can run
//! in parallel without leaking runc processes.
#![allow(dead_code)]

pub mod agent_image;
pub mod app_thread;
#[cfg(test)]
pub mod ecs_api;
pub mod images;
pub mod procs;
mod selftest;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tempfile::TempDir;

pub const REGION: &str = "us-east-1";
/// Credentials the agent and the CLI sign with; ecs-local accepts any unless
/// started with `--auth`.
pub const ACCESS_KEY_ID: &str = "AKIDECSLOCALTEST";
pub const SECRET_ACCESS_KEY: &str = "ecs-local-test-secret";

/// Coordinates of the shared test environment (`scripts/testenv up`).
#[derive(Debug, Clone)]
pub struct TestEnv {
    /// ECS_TEST_CONTAINERD_SOCK: socket of the private containerd.
    pub containerd_sock: PathBuf,
    /// ECS_TEST_REGISTRY: `127.0.0.1:5000`, no auth.
    pub registry: String,
    /// ECS_TEST_AUTH_REGISTRY: `127.0.0.1:5001`, htpasswd auth.
    pub auth_registry: String,
    /// ECS_TEST_AUTH_USER
    pub auth_user: String,
    /// ECS_TEST_AUTH_PASSWORD
    pub auth_password: String,
    /// ECS_TEST_AWS: the `aws` CLI in the venv.
    pub aws: PathBuf,
    /// ECS_TEST_AWS_SERVER (optional): the socket of scripts/aws-server.py,
    /// the same CLI pre-imported; calls go there when it is set.
    pub aws_server: Option<PathBuf>,
}

impl TestEnv {
    /// `127.0.0.1:5000/busybox:latest`
    pub fn image(&self) -> String {
        format!("{}/busybox:latest", self.registry)
    }

    /// `127.0.0.1:5001/busybox:latest` (needs the credentials).
    pub fn auth_image(&self) -> String {
        format!("{}/busybox:latest", self.auth_registry)
    }
}

const VARS: [&str; 6] = [
    "ECS_TEST_CONTAINERD_SOCK",
    "ECS_TEST_REGISTRY",
    "ECS_TEST_AUTH_REGISTRY",
    "ECS_TEST_AUTH_USER",
    "ECS_TEST_AUTH_PASSWORD",
    "ECS_TEST_AWS",
];

pub fn in_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => {
            let v = v.trim().to_ascii_lowercase();
            !v.is_empty() && v != "false" && v != "0"
        }
        Err(_) => false,
    }
}

/// Whether the tests run as root (namespaces, iptables, buildah need it).
pub fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

/// For tests that need root (namespaces, iptables): outside CI they skip
/// loudly without it; in CI, which runs as root, they fail instead.
pub fn needs_root() -> bool {
    if is_root() {
        return true;
    }
    let test = current_test();
    if in_ci() {
        panic!("{test}: CI is set but the tests do not run as root");
    }
    eprintln!("\n!!!!!!!! SKIPPED (not in CI): {test} needs root !!!!!!!!\n");
    false
}

fn current_test() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string()
}

/// The test environment, or `None` (after a loud SKIPPED line) when it is not
/// set up and we are not in CI. In CI a missing variable fails the test.
pub fn env() -> Option<TestEnv> {
    let missing: Vec<&str> = VARS
        .iter()
        .copied()
        .filter(|v| std::env::var_os(v).is_none_or(|s| s.is_empty()))
        .collect();
    if !missing.is_empty() {
        let test = current_test();
        if in_ci() {
            panic!(
                "{test}: CI is set but {} missing: run `scripts/testenv up` and \
                 `source .work/testenv/env` before `cargo test` (scripts/test does this)",
                missing.join(", ")
            );
        }
        eprintln!(
            "\n!!!!!!!! SKIPPED (not in CI): {test} needs scripts/testenv up \
             (then `source .work/testenv/env`; missing {}) !!!!!!!!\n",
            missing.join(", ")
        );
        return None;
    }
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    Some(TestEnv {
        containerd_sock: PathBuf::from(var("ECS_TEST_CONTAINERD_SOCK")),
        registry: var("ECS_TEST_REGISTRY"),
        auth_registry: var("ECS_TEST_AUTH_REGISTRY"),
        auth_user: var("ECS_TEST_AUTH_USER"),
        auth_password: var("ECS_TEST_AUTH_PASSWORD"),
        aws: PathBuf::from(var("ECS_TEST_AWS")),
        aws_server: std::env::var_os("ECS_TEST_AWS_SERVER")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from),
    })
}

/// moto's endpoint (ECS_TEST_MOTO, `http://127.0.0.1:5002`), the AWS emulator
/// `scripts/testenv up` runs; like [`env`], `None` after a loud SKIPPED line
/// outside CI, a failure in CI. Separate from [`env`] so that an environment
/// brought up before moto joined it still runs every other test.
pub fn moto() -> Option<String> {
    match std::env::var("ECS_TEST_MOTO") {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
        _ => {
            let test = current_test();
            if in_ci() {
                panic!("{test}: CI is set but ECS_TEST_MOTO is missing: run `scripts/testenv up`");
            }
            eprintln!(
                "\n!!!!!!!! SKIPPED (not in CI): {test} needs moto from scripts/testenv up \
                 (ECS_TEST_MOTO missing) !!!!!!!!\n"
            );
            None
        }
    }
}

/// A name unique across tests and test runs, valid as a containerd namespace
/// and as an ECS cluster name (`[A-Za-z0-9][A-Za-z0-9_-]*`).
pub fn unique_ns(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let clean: String = prefix
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let clean = clean.trim_matches('-');
    let clean = if clean.is_empty() { "t" } else { clean };
    format!("{clean}-{}-{n}-{:x}", std::process::id(), nanos & 0xffff)
}

/// Polls `f` every `poll` until it returns `Some`, panicking after `timeout`.
#[track_caller]
pub fn wait_until<T>(timeout: Duration, poll: Duration, f: impl FnMut() -> Option<T>) -> T {
    wait_until_with("condition", timeout, poll, f)
}

/// Like [`wait_until`], naming what is awaited in the panic message.
#[track_caller]
pub fn wait_until_with<T>(
    what: &str,
    timeout: Duration,
    poll: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    let mut tries = 0u32;
    loop {
        tries += 1;
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() >= timeout {
            panic!(
                "{}: timed out after {timeout:?} ({tries} tries) waiting for {what} (at {})",
                current_test(),
                std::panic::Location::caller()
            );
        }
        std::thread::sleep(poll);
    }
}

/// Runs `ctr -a SOCK -n NS ARGS...` and returns stdout; panics with stderr on failure.
#[track_caller]
pub fn ctr(env: &TestEnv, ns: &str, args: &[&str]) -> String {
    match try_ctr(env, ns, args) {
        Ok(out) => out,
        Err(e) => panic!("ctr -n {ns} {}: {e}", args.join(" ")),
    }
}

/// `ctr tasks ls` rows of namespace `ns`: (container id, pid, status).
pub fn ctr_tasks(env: &TestEnv, ns: &str) -> Vec<(String, String, String)> {
    ctr(env, ns, &["tasks", "ls"])
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3).then(|| (f[0].to_string(), f[1].to_string(), f[2].to_string()))
        })
        .collect()
}

/// `ctr` returning stderr as the error instead of panicking.
pub fn try_ctr(env: &TestEnv, ns: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("ctr")
        .arg("-a")
        .arg(&env.containerd_sock)
        .args(["-n", ns])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ctr: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The version containerd's Version service reports, as `ctr version`
/// prints it under `Server:`.
pub fn ctr_version(env: &TestEnv) -> String {
    let out = try_ctr(env, "default", &["version"]).expect("ctr version");
    out.split("Server:")
        .nth(1)
        .and_then(|server| {
            server
                .lines()
                .find_map(|l| l.trim().strip_prefix("Version:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no server version in: {out}"))
}

/// Whether the agent pulls through containerd's Transfer service on the
/// test's containerd (2.x, as `probe` decides), where the registry sees
/// containerd's requests (a HEAD before each manifest GET) instead of ours.
pub fn pulls_through_transfer(env: &TestEnv) -> bool {
    let version = ctr_version(env);
    let v = version.trim_start_matches('v');
    v.split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .is_some_and(|m| m >= 2)
}

/// Kills every task and deletes every container (and image) in `ns`, then
/// tries to drop the namespace. Best effort: used from `Drop`.
pub fn cleanup_ns(env: &TestEnv, ns: &str) {
    let list = |args: &[&str]| -> Vec<String> {
        try_ctr(env, ns, args)
            .unwrap_or_default()
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    };
    let tasks = list(&["tasks", "ls", "-q"]);
    for id in &tasks {
        let _ = try_ctr(env, ns, &["tasks", "kill", "-a", "-s", "SIGKILL", id]);
    }
    for id in &tasks {
        let deadline = Instant::now() + Duration::from_secs(5);
        while try_ctr(env, ns, &["tasks", "delete", id]).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = try_ctr(env, ns, &["tasks", "delete", "-f", id]);
    }
    for id in list(&["containers", "ls", "-q"]) {
        let _ = try_ctr(env, ns, &["containers", "delete", &id]);
    }
    for image in list(&["images", "ls", "-q"]) {
        let _ = try_ctr(env, ns, &["images", "rm", "--sync", &image]);
    }
    // Fails while containerd's GC has not yet removed content; harmless.
    let _ = Command::new("ctr")
        .arg("-a")
        .arg(&env.containerd_sock)
        .args(["namespaces", "rm", ns])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

fn log_files(path: &Path) -> (File, File) {
    let out = File::options()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open log {}: {e}", path.display()));
    let err = out.try_clone().expect("clone log file handle");
    (out, err)
}

fn read_log(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Bytes a process printed, as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The text of a json-file log: each record's `log`, in file order (empty
/// when there is no file yet).
pub fn json_log_text(path: &Path) -> String {
    ecs::logger::read::read_all(path, None)
        .map(|records| records.into_iter().map(|r| r.log).collect())
        .unwrap_or_default()
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn kill_child(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// SIGTERM, then SIGKILL after `grace`.
fn term_child(child: &mut Option<Child>, grace: Duration) {
    if let Some(c) = child.as_mut() {
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    kill_child(child);
}

/// A running `ecs-local` on a free 127.0.0.1 port with a private data dir.
pub struct EcsLocal {
    child: Option<Child>,
    port: u16,
    extra_args: Vec<String>,
    // Option so that Drop can keep() it after a failure.
    data_dir: Option<TempDir>,
    log_path: PathBuf,
}

impl EcsLocal {
    pub fn start(env: &TestEnv) -> EcsLocal {
        Self::start_with_args(env, &[])
    }

    /// Extra CLI arguments, e.g. `["--auth", "AK:SK"]` or `["--region", "eu-west-1"]`.
    pub fn start_with_args(_env: &TestEnv, extra_args: &[&str]) -> EcsLocal {
        let data_dir = tempfile::Builder::new()
            .prefix("ecs-local-")
            .tempdir()
            .expect("tempdir");
        let log_path = data_dir.path().join("ecs-local.log");
        let mut local = EcsLocal {
            child: None,
            port: free_port(),
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            data_dir: Some(data_dir),
            log_path,
        };
        local.spawn();
        local
    }

    fn spawn(&mut self) {
        let (out, err) = log_files(&self.log_path);
        let store = self.data_dir();
        let child = Command::new(env!("CARGO_BIN_EXE_ecs-local"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&store)
            .args(&self.extra_args)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn ecs-local");
        self.child = Some(child);
        self.wait_listening();
    }

    fn wait_listening(&mut self) {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!(
                        "ecs-local exited ({status}) before listening on {addr}; log:\n{}",
                        tail(&self.log(), 60)
                    );
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "ecs-local did not listen on {addr} within 30s; log:\n{}",
                    tail(&self.log(), 60)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The running ecs-local's process id (for /proc measurements).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.log_path.with_file_name("data")
    }

    pub fn log(&self) -> String {
        read_log(&self.log_path)
    }

    /// Stops (SIGTERM) and starts again on the same port with the same data dir.
    pub fn restart(&mut self) {
        term_child(&mut self.child, Duration::from_secs(10));
        self.spawn();
    }

    /// SIGKILL, keeping the data dir; `restart()` brings it back.
    pub fn kill9(&mut self) {
        kill_child(&mut self.child);
    }

    /// GET /debug/stats: what ecs-local received (TCS frames, duplicates...).
    pub fn debug_stats(&self) -> serde_json::Value {
        let out = Command::new("curl")
            .args(["-sf", &format!("{}/debug/stats", self.endpoint())])
            .output()
            .expect("curl");
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("stats: {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// RegisterTaskDefinition through the test-only unchecked route: for
    /// values Amazon ECS refuses (a 1 s health check interval, a restart
    /// attempt period under 60 s) that keep a test short. The definition is
    /// parsed and stored as the API would; only the limits are skipped.
    pub fn register_task_definition_unchecked(&self, input: &serde_json::Value) -> String {
        let out = Command::new("curl")
            .args([
                "-sS",
                "-X",
                "POST",
                "--data-binary",
                &input.to_string(),
                &format!("{}/debug/task-definitions-unchecked", self.endpoint()),
            ])
            .output()
            .expect("curl");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["taskDefinition"]["taskDefinitionArn"]
            .as_str()
            .unwrap_or_else(|| {
                panic!(
                    "unchecked registration: {}",
                    String::from_utf8_lossy(&out.stdout)
                )
            })
            .to_string()
    }
}

impl Drop for EcsLocal {
    fn drop(&mut self) {
        kill_child(&mut self.child);
        if std::thread::panicking() {
            eprintln!(
                "---- ecs-local log ({}) ----\n{}\n---- end ecs-local log ----",
                self.log_path.display(),
                tail(&self.log(), 80)
            );
            // Keep the files for a post-mortem.
            if let Some(dir) = self.data_dir.take() {
                eprintln!("ecs-local data kept at {}", dir.keep().display());
            }
        }
    }
}

/// A running `ecs-agent` registered (or registering) with an [`EcsLocal`].
pub struct Agent {
    env: TestEnv,
    child: Option<Child>,
    cluster: String,
    ns: String,
    vars: Vec<(String, String)>,
    data_dir: Option<TempDir>,
    log_path: PathBuf,
}

impl Agent {
    /// Starts the agent with a unique cluster (created first through the CLI)
    /// and containerd namespace. `extra_env` is applied last, so it overrides.
    pub fn start(env: &TestEnv, local: &EcsLocal, extra_env: &[(&str, &str)]) -> Agent {
        Self::start_unsetting(env, local, extra_env, &[])
    }

    /// [`Agent::start`] with the harness's variables named in `unset` left
    /// out of the agent's environment altogether (not set to "").
    pub fn start_unsetting(
        env: &TestEnv,
        local: &EcsLocal,
        extra_env: &[(&str, &str)],
        unset: &[&str],
    ) -> Agent {
        let cluster = unique_ns("cluster");
        let ns = unique_ns("ecs-test");
        let data_dir = tempfile::Builder::new()
            .prefix("ecs-agent-")
            .tempdir()
            .expect("tempdir");
        let log_path = data_dir.path().join("agent.log");
        let datadir = data_dir.path().join("data");
        fs::create_dir_all(&datadir).expect("create agent data dir");

        if let Err(e) = Aws::new(env, local).ecs(&["create-cluster", "--cluster-name", &cluster]) {
            eprintln!("warning: create-cluster {cluster} failed: {e}");
        }

        let (bridge, subnet, ports) = unique_bridge();
        let mut vars: Vec<(String, String)> = vec![
            ("ECS_BACKEND_HOST".into(), local.endpoint()),
            ("ECS_CLUSTER".into(), cluster.clone()),
            ("AWS_DEFAULT_REGION".into(), REGION.into()),
            ("AWS_ACCESS_KEY_ID".into(), ACCESS_KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), SECRET_ACCESS_KEY.into()),
            ("ECS_DATADIR".into(), datadir.display().to_string()),
            (
                "CONTAINERD_ADDRESS".into(),
                env.containerd_sock.display().to_string(),
            ),
            ("CONTAINERD_NAMESPACE".into(), ns.clone()),
            ("ECS_LOGLEVEL".into(), "debug".into()),
            ("RUST_BACKTRACE".into(), "1".into()),
            (
                "ECS_AGENT_INTROSPECTION_PORT".into(),
                free_port().to_string(),
            ),
            ("ECS_AGENT_CREDENTIALS_PORT".into(), free_port().to_string()),
            // Agents run in parallel: each gets its own bridge and subnet, and
            // none rewrites the host-wide ECS-AGENT-* chains (tests that need
            // them turn this back on, one at a time).
            ("ECS_HOST_NETWORK_SETUP".into(), "false".into()),
            ("ECS_TASK_BRIDGE_NAME".into(), bridge.clone()),
            ("ECS_TASK_BRIDGE_SUBNET".into(), subnet),
            ("ECS_DYNAMIC_HOST_PORT_RANGE".into(), ports),
            // Not on EC2: no wait on instance metadata (tests of the EC2 path
            // point AWS_EC2_METADATA_SERVICE_ENDPOINT at ecs-local's stand-in).
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ];
        vars.retain(|(k, _)| !unset.contains(&k.as_str()));
        for (k, v) in extra_env {
            vars.retain(|(existing, _)| existing != k);
            vars.push((k.to_string(), v.to_string()));
        }
        let mut agent = Agent {
            env: env.clone(),
            child: None,
            cluster,
            ns,
            vars,
            data_dir: Some(data_dir),
            log_path,
        };
        agent.spawn();
        agent
    }

    fn spawn(&mut self) {
        let (out, err) = log_files(&self.log_path);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecs-agent"));
        // Only what we pass: a developer's AWS_* or ECS_* must not leak in.
        for (k, _) in std::env::vars_os() {
            let name = k.to_string_lossy();
            if name.starts_with("ECS_")
                || name.starts_with("AWS_")
                || name.starts_with("CONTAINERD_")
            {
                cmd.env_remove(&k);
            }
        }
        let child = cmd
            .envs(
                self.vars
                    .iter()
                    .map(|(k, v)| (OsStr::new(k), OsStr::new(v))),
            )
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn ecs-agent");
        self.child = Some(child);
    }

    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// The containerd namespace the agent runs its containers in.
    pub fn namespace(&self) -> &str {
        &self.ns
    }

    /// ECS_DATADIR
    pub fn data_dir(&self) -> PathBuf {
        self.log_path.with_file_name("data")
    }

    /// `$ECS_DATADIR/logs/<task-id>/<container-name>-json.log` (json-file,
    /// the default log driver)
    pub fn container_log_path(&self, task_id: &str, container: &str) -> PathBuf {
        self.data_dir()
            .join("logs")
            .join(task_id)
            .join(format!("{container}-json.log"))
    }

    /// The container's output so far, both streams in the order written.
    pub fn container_log(&self, task_id: &str, container: &str) -> String {
        json_log_text(&self.container_log_path(task_id, container))
    }

    /// The agent's own stdout and stderr so far.
    pub fn log(&self) -> String {
        read_log(&self.log_path)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// SIGKILL the agent, leaving its containers running (they must outlive it).
    pub fn kill9(&mut self) {
        kill_child(&mut self.child);
    }

    /// Graceful stop (SIGTERM, SIGKILL after 15s), leaving containers alone.
    pub fn stop(&mut self) {
        term_child(&mut self.child, Duration::from_secs(15));
    }

    /// Stops the agent if running (gracefully) and starts it again with the
    /// same environment, data dir and namespace.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The attributes the control plane holds for this agent's `instance`
    /// (describe-container-instances), as a JSON array.
    pub fn registered_attributes(&self, aws: &Aws, instance: &str) -> Value {
        aws.ecs_ok(&[
            "describe-container-instances",
            "--cluster",
            self.cluster(),
            "--container-instances",
            instance,
        ])["containerInstances"][0]["attributes"]
            .clone()
    }

    /// Waits until the instance is registered and its ACS session is open
    /// (ECS places tasks only on connected instances) and returns its ARN.
    pub fn wait_registered(&self, aws: &Aws, timeout: Duration) -> String {
        // Polled in-process (ecs_api), confirmed once through the CLI.
        wait_until_with_log(
            self,
            "container instance registration and ACS connection",
            timeout,
            || {
                let cluster = json!({ "cluster": self.cluster });
                let v = ecs_api::call(aws, "ListContainerInstances", &cluster).ok()?;
                // The connected one: an agent stopped between its registration
                // and its checkpoint (a restart right after the cluster
                // appeared) leaves an earlier, disconnected instance listed first.
                let arns = v["containerInstanceArns"].as_array()?.clone();
                let query = json!({ "cluster": self.cluster, "containerInstances": arns });
                let d = ecs_api::call(aws, "DescribeContainerInstances", &query).ok()?;
                let arn = d["containerInstances"]
                    .as_array()?
                    .iter()
                    .find(|ci| ci["agentConnected"] == true)?["containerInstanceArn"]
                    .as_str()?
                    .to_string();
                let d = aws
                    .ecs(&[
                        "describe-container-instances",
                        "--cluster",
                        &self.cluster,
                        "--container-instances",
                        &arn,
                    ])
                    .ok()?;
                (d["containerInstances"][0]["agentConnected"] == true).then_some(arn)
            },
        )
    }
}

/// [`wait_until_with`] that puts the agent's log tail into the panic message.
#[track_caller]
pub fn wait_until_with_log<T>(
    agent: &Agent,
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() >= timeout {
            panic!(
                "{}: timed out after {timeout:?} waiting for {what} (at {}); agent log tail:\n{}",
                current_test(),
                std::panic::Location::caller(),
                tail(&agent.log(), 60)
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        kill_child(&mut self.child);
        cleanup_ns(&self.env, &self.ns);
        self.cleanup_network();
        if std::thread::panicking() {
            eprintln!(
                "---- ecs-agent log ({}) ----\n{}\n---- end ecs-agent log ----",
                self.log_path.display(),
                tail(&self.log(), 120)
            );
            if let Some(dir) = self.data_dir.take() {
                eprintln!("ecs-agent data kept at {}", dir.keep().display());
            }
        }
    }
}

/// A bridge name and /24 subnet no other agent of this run uses. The name
/// follows from the subnet, so a leftover of an earlier run is reused rather
/// than clashing with it.
///
/// With them, a dynamic host port range of its own, below the kernel's
/// ephemeral ports (32768 up): a port rule must never catch a connection to a
/// port that `free_port()` handed to an ecs-local or another agent.
fn unique_bridge() -> (String, String, String) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = (std::process::id() * 7 + NEXT.fetch_add(1, Ordering::Relaxed)) % 250;
    // 10.213.x is the network module's tests', 10.214.x the ENI stand-ins'.
    let ports = 20000 + n * 50;
    (
        format!("ecsa{n}"),
        format!("10.215.{n}.0/24"),
        format!("{ports}-{}", ports + 49),
    )
}

impl Agent {
    /// ECS_TASK_BRIDGE_NAME of this agent.
    pub fn bridge(&self) -> String {
        self.var("ECS_TASK_BRIDGE_NAME").unwrap_or_default()
    }

    pub fn var(&self, name: &str) -> Option<String> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// Namespaces, veths, the bridge and its iptables chains of a killed
    /// agent (the agent itself releases them when tasks stop; a test that
    /// ends early must not leave them to the next).
    fn cleanup_network(&self) {
        let state = self.data_dir().join("network").join("network.json");
        let mut script = String::new();
        if let Ok(text) = fs::read_to_string(&state) {
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                for lease in v["leases"].as_object().into_iter().flat_map(|m| m.values()) {
                    if let Some(veth) = lease["host_veth"].as_str() {
                        script.push_str(&format!("ip link del {veth} 2>/dev/null; "));
                    }
                    if let Some(ns) = lease["netns_path"].as_str() {
                        script.push_str(&format!("umount {ns} 2>/dev/null; rm -f {ns}; "));
                    }
                }
            }
        }
        let b = self.bridge();
        if b.is_empty() {
            return;
        }
        script.push_str(&format!(
            "ip link del {b} 2>/dev/null; \
             for tc in nat:ECS-DNAT-{b} nat:ECS-SNAT-{b} nat:ECS-CRED-{b} filter:ECS-FWD-{b} filter:ECS-IN-{b}; do \
               t=${{tc%%:*}}; c=${{tc#*:}}; \
               iptables -w -t $t -S 2>/dev/null | grep -- \"-j $c\\b\" | grep '^-A' | sed 's/^-A/-D/' | \
                 while read -r r; do eval iptables -w -t $t $r; done; \
               iptables -w -t $t -F $c 2>/dev/null; iptables -w -t $t -X $c 2>/dev/null; \
             done; true"
        ));
        let _ = Command::new("sh").arg("-c").arg(&script).status();
    }
}

/// The real AWS CLI pointed at an [`EcsLocal`].
#[derive(Debug, Clone)]
pub struct Aws {
    pub bin: PathBuf,
    /// scripts/aws-server.py's socket: the calls run there (see [`Aws::run`]).
    pub server: Option<PathBuf>,
    pub endpoint: String,
    /// (access key id, secret) the CLI signs with.
    pub keys: (String, String),
    /// The region the CLI signs for ([`REGION`] unless a test says otherwise).
    pub region: String,
}

impl Aws {
    pub fn new(env: &TestEnv, local: &EcsLocal) -> Aws {
        Aws::with_keys(env, local, ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    }

    /// A CLI that signs with other keys (for ecs-local started with `--auth`).
    pub fn with_keys(env: &TestEnv, local: &EcsLocal, access_key_id: &str, secret: &str) -> Aws {
        Aws {
            bin: env.aws.clone(),
            server: env.aws_server.clone(),
            endpoint: local.endpoint(),
            keys: (access_key_id.to_string(), secret.to_string()),
            region: REGION.to_string(),
        }
    }

    /// The CLI against moto (`moto`: its endpoint) in `region`; moto takes any keys.
    pub fn moto(env: &TestEnv, moto: &str, region: &str) -> Aws {
        Aws {
            bin: env.aws.clone(),
            server: env.aws_server.clone(),
            endpoint: moto.to_string(),
            keys: ("AKIDMOTOTEST".into(), "moto-test-secret".into()),
            region: region.to_string(),
        }
    }

    /// Like [`Aws::run`] but panics with the CLI error.
    #[track_caller]
    pub fn run_ok(&self, args: &[&str]) -> serde_json::Value {
        match self.run(args) {
            Ok(v) => v,
            Err(e) => panic!("aws {}: {e}", args.join(" ")),
        }
    }

    /// `aws ecs ARGS... --output json`; the parsed stdout (`Null` when empty),
    /// or the CLI's stderr (exit status included) so tests can assert on it.
    pub fn ecs(&self, args: &[&str]) -> Result<serde_json::Value, String> {
        let mut full = vec!["ecs"];
        full.extend_from_slice(args);
        self.run(&full)
    }

    /// Like [`Aws::ecs`] but panics with the CLI error.
    #[track_caller]
    pub fn ecs_ok(&self, args: &[&str]) -> serde_json::Value {
        match self.ecs(args) {
            Ok(v) => v,
            Err(e) => panic!("aws ecs {}: {e}", args.join(" ")),
        }
    }

    /// Any `aws` subcommand, with endpoint, region, credentials and JSON output set.
    pub fn run(&self, args: &[&str]) -> Result<serde_json::Value, String> {
        let mut full: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        for a in [
            "--endpoint-url",
            &self.endpoint,
            "--region",
            &self.region,
            "--output",
            "json",
        ] {
            full.push(a.to_string());
        }
        let mut env: BTreeMap<String, String> = std::env::vars().collect();
        env.remove("AWS_SESSION_TOKEN");
        env.remove("AWS_PROFILE");
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", self.keys.0.as_str()),
            ("AWS_SECRET_ACCESS_KEY", self.keys.1.as_str()),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_PAGER", ""),
            ("AWS_MAX_ATTEMPTS", "1"),
        ] {
            env.insert(k.to_string(), v.to_string());
        }
        let (code, stdout, stderr) = match &self.server {
            Some(sock) => aws_server_call(sock, &full, &env)?,
            None => {
                let out = Command::new(&self.bin)
                    .args(&full)
                    .env_clear()
                    .envs(&env)
                    .stdin(Stdio::null())
                    .output()
                    .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
                (out.status.code().unwrap_or(-1), out.stdout, out.stderr)
            }
        };
        let stdout = String::from_utf8_lossy(&stdout);
        if code != 0 {
            return Err(format!(
                "{} (exit {code}): {}",
                self.bin.display(),
                String::from_utf8_lossy(&stderr).trim()
            ));
        }
        if stdout.trim().is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_str(&stdout).map_err(|e| format!("aws output is not JSON ({e}): {stdout}"))
    }
}

/// One CLI call through scripts/aws-server.py: (exit code, stdout, stderr).
fn aws_server_call(
    sock: &Path,
    args: &[String],
    env: &BTreeMap<String, String>,
) -> Result<(i32, Vec<u8>, Vec<u8>), String> {
    use std::io::{BufRead, BufReader, Read, Write};
    let fail = |e: &dyn std::fmt::Display| format!("aws server {}: {e}", sock.display());
    let mut stream = std::os::unix::net::UnixStream::connect(sock).map_err(|e| fail(&e))?;
    let cwd = std::env::current_dir().map_err(|e| fail(&e))?;
    let mut request = serde_json::to_vec(&json!({ "args": args, "env": env, "cwd": cwd }))
        .map_err(|e| fail(&e))?;
    request.push(b'\n');
    stream.write_all(&request).map_err(|e| fail(&e))?;
    let mut reader = BufReader::new(stream);
    let mut header = String::new();
    reader.read_line(&mut header).map_err(|e| fail(&e))?;
    let h: Value =
        serde_json::from_str(&header).map_err(|e| fail(&format!("no answer ({e}): {header:?}")))?;
    let len = |k: &str| h[k].as_u64().map(|n| n as usize).ok_or_else(|| fail(&h));
    let mut stdout = vec![0; len("stdout")?];
    let mut stderr = vec![0; len("stderr")?];
    reader.read_exact(&mut stdout).map_err(|e| fail(&e))?;
    reader.read_exact(&mut stderr).map_err(|e| fail(&e))?;
    let code = h["code"].as_i64().ok_or_else(|| fail(&h))? as i32;
    Ok((code, stdout, stderr))
}

/// VmRSS of a process in KiB (from /proc/PID/status).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `["sh", "-c", script]` for a container definition's command.
pub fn sh(script: &str) -> Value {
    json!(["sh", "-c", script])
}

/// Registers a host-network task definition; returns its ARN.
pub fn register_task_def(aws: &Aws, family: &str, containers: Value) -> String {
    register_task_definition(
        aws,
        json!({"family": family, "networkMode": "host", "containerDefinitions": containers}),
    )
}

/// Registers a task definition given as the CLI's whole input; returns its ARN.
pub fn register_task_definition(aws: &Aws, input: Value) -> String {
    aws.ecs_ok(&[
        "register-task-definition",
        "--cli-input-json",
        &input.to_string(),
    ])["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .expect("taskDefinitionArn")
        .to_string()
}

/// Runs one task of `td` on the agent's cluster; returns its ARN.
pub fn run_task(aws: &Aws, agent: &Agent, td: &str) -> String {
    run_task_with(aws, agent, td, &[])
}

/// [`run_task`] with more run-task arguments (network configuration, tags).
pub fn run_task_with(aws: &Aws, agent: &Agent, td: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "run-task",
        "--cluster",
        agent.cluster(),
        "--task-definition",
        td,
    ];
    args.extend_from_slice(extra);
    let out = aws.ecs_ok(&args);
    assert_eq!(out["failures"], json!([]), "{out}");
    out["tasks"][0]["taskArn"]
        .as_str()
        .expect("taskArn")
        .to_string()
}

/// StopTask (does not wait for STOPPED).
pub fn stop_task(aws: &Aws, agent: &Agent, arn: &str) {
    aws.ecs_ok(&["stop-task", "--cluster", agent.cluster(), "--task", arn]);
}

/// The last part of a task ARN (the agent's log directory name).
pub fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// A veth end with a chosen MAC stands in for an ENI the control plane
/// attached; both ends go when it is dropped.
pub struct FakeEni {
    name: String,
}

impl FakeEni {
    pub fn new(name: &str, mac: &str) -> FakeEni {
        let _ = Command::new("ip")
            .args(["link", "del", name])
            .stderr(Stdio::null())
            .status();
        let peer = format!("{name}p");
        let ok = Command::new("ip")
            .args([
                "link", "add", name, "address", mac, "type", "veth", "peer", "name", &peer,
            ])
            .status()
            .expect("ip")
            .success();
        assert!(ok, "cannot create the ENI stand-in {name}");
        FakeEni {
            name: name.to_string(),
        }
    }

    /// Whether the interface is in the host's namespace.
    pub fn on_host(&self) -> bool {
        Command::new("ip")
            .args(["link", "show", &self.name])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }
}

impl Drop for FakeEni {
    fn drop(&mut self) {
        for link in [format!("{}p", self.name), self.name.clone()] {
            let _ = Command::new("ip")
                .args(["link", "del", &link])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Registers a stand-in ENI with ecs-local (`POST /debug/enis`).
pub fn register_eni(local: &EcsLocal, eni: &Value) {
    let ok = Command::new("curl")
        .args([
            "-sf",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-d",
            &eni.to_string(),
            &format!("{}/debug/enis", local.endpoint()),
        ])
        .stdout(Stdio::null())
        .status()
        .expect("curl")
        .success();
    assert!(ok, "ecs-local refused the ENI {eni}");
}

/// The task as describe-tasks shows it.
pub fn describe_task(aws: &Aws, agent: &Agent, arn: &str) -> Option<Value> {
    aws.ecs(&[
        "describe-tasks",
        "--cluster",
        agent.cluster(),
        "--tasks",
        arn,
    ])
    .ok()
    .map(|v| v["tasks"][0].clone())
}

#[track_caller]
pub fn wait_task_status(
    aws: &Aws,
    agent: &Agent,
    arn: &str,
    status: &str,
    timeout: Duration,
) -> Value {
    // Polled in-process (ecs_api), confirmed through the CLI.
    wait_until_with_log(agent, &format!("{arn} {status}"), timeout, || {
        let query = json!({ "cluster": agent.cluster(), "tasks": [arn] });
        let polled = ecs_api::call(aws, "DescribeTasks", &query).ok()?;
        if polled["tasks"][0]["lastStatus"] != status {
            return None;
        }
        describe_task(aws, agent, arn).filter(|t| t["lastStatus"] == status)
    })
}

/// Parses Prometheus text with the prometheus_client parser of the test
/// venv (an independent reader of the exposition format):
/// {family: {type, samples: [[name, labels, value]]}}.
pub fn parse_prometheus(env: &TestEnv, text: &str) -> serde_json::Value {
    use std::io::Write;
    let python = env.aws.with_file_name("python");
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for fam in text_string_to_metric_families(sys.stdin.read()):
    out[fam.name] = {"type": fam.type, "samples": [[s.name, s.labels, s.value] for s in fam.samples]}
print(json.dumps(out))
"#;
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write /metrics to the parser");
    let out = child.wait_with_output().expect("prometheus_client parser");
    assert!(
        out.status.success(),
        "prometheus_client cannot parse /metrics (scripts/setup installs it into the venv):\n{}\n--- text ---\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("parser output")
}

/// The value of the sample of `family` whose labels include `labels`.
pub fn prometheus_sample(
    families: &serde_json::Value,
    family: &str,
    labels: &[(&str, &str)],
) -> Option<f64> {
    families[family]["samples"]
        .as_array()?
        .iter()
        .find_map(|s| {
            labels
                .iter()
                .all(|(k, v)| s[1][*k] == *v)
                .then(|| s[2].as_f64())
                .flatten()
        })
}
