//! The endpoints against the real things: container stats from the test
//! containerd (cgroups of real runc containers, /proc of their namespaces),
//! the routers served on 127.0.0.1 and queried with a real HTTP client and
//! with busybox `wget` from inside a host-network container, `/metrics`
//! parsed by the Python prometheus_client parser, and the metadata file read
//! from inside a container through its bind mount.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ecs::config::RpsLimit;
use ecs::endpoints::stats::DockerStats;
use ecs::endpoints::{self, RateLimiter, StatsCollector};
use ecs::engine::exec::metadata_file;
use ecs::observe::{
    AgentMetrics, AgentView, ContainerView, Published, StatsStore, TaskLimits, TaskSource, TaskView,
};
use ecs::runtime::containerd::pull::PullOptions;
use ecs::runtime::containerd::{Conn, ContainerdRuntime};
use ecs::runtime::metrics::ContainerMetrics;
use ecs::runtime::ContainerRuntime;
use ecs::task::def::NetworkMode;
use ecs::task::{ContainerStatus, DesiredStatus, TaskStatus};
use serde_json::Value;

use crate::common::{self, TestEnv};

/// ECS_CGROUP_PATH's default, where the test containerd's runc puts cgroups.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

const TASK_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task/endpoints-it/0123456789abcdef";

/// A containerd namespace holding busybox; everything in it is removed on drop.
struct Ns {
    env: TestEnv,
    name: String,
    conn: Conn,
    netns: Vec<String>,
}

impl Ns {
    fn new(env: &TestEnv) -> Ns {
        let name = common::unique_ns("endpoints");
        let conn = Conn::lazy(&env.containerd_sock, &name).unwrap();
        let ns = Ns {
            env: env.clone(),
            name,
            conn,
            netns: Vec::new(),
        };
        ns.ctr(&["images", "pull", "--plain-http", &env.image()]);
        ns
    }

    /// The runtime the collector reads metrics through, in this namespace,
    /// as the agent makes it: from the containers' cgroup files.
    fn runtime(&self) -> Arc<ContainerdRuntime> {
        Arc::new(
            self.containerd_runtime()
                .with_cgroup_root(Path::new(CGROUP_ROOT)),
        )
    }

    /// A runtime that asks containerd's Tasks.Metrics for every sample.
    fn containerd_runtime(&self) -> ContainerdRuntime {
        ContainerdRuntime::new(self.conn.clone(), PullOptions::default())
    }

    fn ctr(&self, args: &[&str]) -> String {
        common::ctr(&self.env, &self.name, args)
    }

    /// `ctr run -d` of busybox with `script`; output goes nowhere (a detached
    /// ctr holds no pipes).
    fn run_detached(&self, id: &str, extra: &[&str], script: &str) {
        let image = self.env.image();
        let mut args = vec!["run", "-d"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[&image, id, "sh", "-c", script]);
        self.ctr(&args);
    }

    /// Runs a short-lived busybox command and returns its stdout.
    fn run_once(&self, id: &str, extra: &[&str], argv: &[&str]) -> String {
        let image = self.env.image();
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        args.push(&image);
        args.push(id);
        args.extend_from_slice(argv);
        self.ctr(&args)
    }

    /// A network namespace for the container, wired by a veth pair to a
    /// peer namespace at 10.77.0.2, so that pings move both counters.
    fn netns_with_peer(&mut self) -> PathBuf {
        let name = common::unique_ns("ecs-ep");
        let peer = format!("{name}-p");
        let ip = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().unwrap();
            assert!(
                out.status.success(),
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        ip(&["netns", "add", &name]);
        self.netns.push(name.clone());
        ip(&["netns", "add", &peer]);
        self.netns.push(peer.clone());
        ip(&[
            "-n", &name, "link", "add", "eth0", "type", "veth", "peer", "name", "p0",
        ]);
        ip(&["-n", &name, "link", "set", "p0", "netns", &peer]);
        ip(&["-n", &name, "addr", "add", "10.77.0.1/24", "dev", "eth0"]);
        ip(&["-n", &name, "link", "set", "eth0", "up"]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        ip(&["-n", &peer, "addr", "add", "10.77.0.2/24", "dev", "p0"]);
        ip(&["-n", &peer, "link", "set", "p0", "up"]);
        PathBuf::from("/var/run/netns").join(name)
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        common::cleanup_ns(&self.env, &self.name);
        for n in self.netns.drain(..) {
            let _ = Command::new("ip").args(["netns", "delete", &n]).status();
        }
    }
}

fn container(token: &str, id: &str, name: &str) -> ContainerView {
    ContainerView {
        token: token.into(),
        runtime_id: id.into(),
        name: name.into(),
        docker_name: format!("ecs-endpoints-1-{name}-1"),
        image: "127.0.0.1:5000/busybox:latest".into(),
        desired_status: DesiredStatus::Running,
        known_status: ContainerStatus::Running,
        cpu: 128,
        memory_mib: 64,
        container_type: "NORMAL".into(),
        ..ContainerView::default()
    }
}

fn task(network_mode: NetworkMode, containers: Vec<ContainerView>) -> TaskView {
    TaskView {
        arn: TASK_ARN.into(),
        family: "endpoints".into(),
        revision: "1".into(),
        desired_status: DesiredStatus::Running,
        known_status: TaskStatus::Running,
        limits: TaskLimits {
            cpu: Some(0.5),
            memory: Some(256),
        },
        launch_type: "EC2".into(),
        network_mode,
        tags: vec![("team".into(), "endpoints".into())],
        containers,
        ..TaskView::default()
    }
}

fn published(tasks: Vec<TaskView>) -> Published {
    let p = Published::new(AgentView {
        cluster: "endpoints-it".into(),
        container_instance_arn: Some(
            "arn:aws:ecs:us-east-1:123456789012:container-instance/endpoints-it/ci".into(),
        ),
        version: "ecs-agent test".into(),
        ..AgentView::default()
    });
    p.publish_tasks(tasks);
    p
}

/// Serves `app` on 127.0.0.1:0 with client addresses (for the limiter).
async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    addr
}

async fn get(url: &str) -> (u16, String, String) {
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, ctype, resp.text().await.unwrap())
}

fn u64_at(v: &Value, path: &[&str]) -> u64 {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_u64()
        .unwrap_or_else(|| panic!("{} not a number in {v}", path.join(".")))
}

/// Polls until `f` holds, panicking with the last stats after `timeout`.
async fn poll_until(
    collector: &mut StatsCollector<ContainerdRuntime>,
    stats: &StatsStore,
    id: &str,
    timeout: Duration,
    what: &str,
    mut f: impl FnMut(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    let mut last = Value::Null;
    loop {
        collector.poll_once().await.unwrap();
        if let Some(s) = stats.get(id) {
            last = serde_json::to_value(DockerStats::from_sample(&s)).unwrap();
            if f(&last) {
                return last;
            }
        }
        assert!(
            start.elapsed() < timeout,
            "timed out waiting for {what}; last stats: {last}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_move_when_a_container_burns_cpu_and_fills_memory() {
    let Some(env) = common::env() else { return };
    let ns = Ns::new(&env);
    let id = "burner";
    // A second tracked container and an untracked one: one filtered
    // Tasks.Metrics call must return exactly the tracked ones.
    ns.run_detached("idle", &["--net-host"], "exec sleep 600");
    ns.run_detached("stranger", &["--net-host"], "exec sleep 600");
    // Burn CPU for a bounded time, then put 40 MiB into /dev/shm (tmpfs
    // pages are charged to the container's memory cgroup). Started last and
    // burning long, so that the first sample is taken before the memory grows
    // even on a loaded machine.
    ns.run_detached(
        id,
        &["--net-host"],
        "timeout 20 sh -c 'while :; do :; done'; \
         dd if=/dev/zero of=/dev/shm/fill bs=1M count=40 2>/dev/null; exec sleep 600",
    );
    let source: Arc<dyn TaskSource> = Arc::new(published(vec![task(
        NetworkMode::Host,
        vec![
            container("tok-burn", id, "burner"),
            container("tok-idle", "idle", "idle"),
        ],
    )]));
    let stats = Arc::new(StatsStore::new());
    let mut collector = StatsCollector::new(ns.runtime(), source.clone(), stats.clone());

    let first = poll_until(
        &mut collector,
        &stats,
        id,
        Duration::from_secs(20),
        "a first sample",
        |_| true,
    )
    .await;
    assert_eq!(stats.len(), 2, "burner and idle, not stranger");
    assert!(stats.get("idle").is_some() && stats.get("stranger").is_none());
    let cpu0 = u64_at(&first, &["cpu_stats", "cpu_usage", "total_usage"]);
    let mem0 = u64_at(&first, &["memory_stats", "usage"]);
    assert_eq!(first["id"], id);
    assert_eq!(first["name"], "/ecs-endpoints-1-burner-1");
    assert!(
        u64_at(&first, &["cpu_stats", "system_cpu_usage"]) > 0,
        "{first}"
    );
    assert!(u64_at(&first, &["cpu_stats", "online_cpus"]) > 0, "{first}");
    assert!(
        first.get("networks").is_none(),
        "host mode has no networks: {first}"
    );

    let later = poll_until(
        &mut collector,
        &stats,
        id,
        Duration::from_secs(60),
        "cpu and memory to grow",
        |v| {
            u64_at(v, &["cpu_stats", "cpu_usage", "total_usage"]) > cpu0 + 200_000_000
                && u64_at(v, &["memory_stats", "usage"]) > mem0 + 30 * 1024 * 1024
        },
    )
    .await;
    // precpu is the previous sample, and both moved forward.
    let pre = u64_at(&later, &["precpu_stats", "cpu_usage", "total_usage"]);
    assert!(pre >= cpu0 && pre <= u64_at(&later, &["cpu_stats", "cpu_usage", "total_usage"]));
    assert!(
        u64_at(&later, &["cpu_stats", "system_cpu_usage"])
            > u64_at(&later, &["precpu_stats", "system_cpu_usage"])
    );
    assert_ne!(later["preread"], "0001-01-01T00:00:00Z");
    assert!(u64_at(&later, &["memory_stats", "limit"]) > 0);
    assert!(u64_at(&later, &["pids_stats", "current"]) >= 1, "{later}");

    // Served: the same sample through /v4 and /v3 stats.
    let limiter = RateLimiter::new(RpsLimit::default(), None);
    let addr = serve(endpoints::metadata_router(source, stats.clone(), limiter)).await;
    let (status, ctype, body) = get(&format!("http://{addr}/v4/tok-burn/stats")).await;
    assert_eq!(
        (status, ctype.as_str()),
        (200, "application/json"),
        "{body}"
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["id"], id);
    let (status, _, body) = get(&format!("http://{addr}/v3/tok-burn/task/stats")).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v[id]["memory_stats"]["usage"].as_u64().unwrap() > mem0 + 30 * 1024 * 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_counters_come_from_the_task_namespace() {
    let Some(env) = common::env() else { return };
    let mut ns = Ns::new(&env);
    let netns = ns.netns_with_peer();
    let id = "pinger";
    let with_ns = format!("network:{}", netns.display());
    // Pings the peer namespace: both counters of eth0 move.
    ns.run_detached(
        id,
        &["--with-ns", &with_ns],
        "while :; do ping -c 1 -W 1 -s 1000 10.77.0.2 >/dev/null 2>&1; sleep 0.2; done",
    );
    let source: Arc<dyn TaskSource> = Arc::new(published(vec![task(
        NetworkMode::Awsvpc,
        vec![container("tok-ping", id, "pinger")],
    )]));
    let stats = Arc::new(StatsStore::new());
    let mut collector = StatsCollector::new(ns.runtime(), source.clone(), stats.clone());
    let first = poll_until(
        &mut collector,
        &stats,
        id,
        Duration::from_secs(20),
        "eth0 counters",
        |v| v["networks"]["eth0"].is_object(),
    )
    .await;
    assert!(
        first["networks"].get("lo").is_none(),
        "loopback is left out: {first}"
    );
    let tx0 = u64_at(&first, &["networks", "eth0", "tx_bytes"]);
    let later = poll_until(
        &mut collector,
        &stats,
        id,
        Duration::from_secs(20),
        "tx to grow",
        |v| u64_at(v, &["networks", "eth0", "tx_bytes"]) > tx0 + 2_000,
    )
    .await;
    assert!(u64_at(&later, &["networks", "eth0", "tx_packets"]) > 0);
    assert!(
        u64_at(&later, &["networks", "eth0", "rx_bytes"]) > 0,
        "replies counted: {later}"
    );
    let rate = stats.get(id).unwrap().network_rate.unwrap();
    assert!(rate.tx_bytes_per_sec > 0.0, "{rate:?}");

    let limiter = RateLimiter::new(RpsLimit::default(), None);
    let addr = serve(endpoints::metadata_router(source, stats, limiter)).await;
    let (status, _, body) = get(&format!("http://{addr}/v4/tok-ping/stats")).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(
        v["network_rate_stats"]["tx_bytes_per_sec"]
            .as_f64()
            .unwrap()
            >= 0.0,
        "{v}"
    );
    assert!(v["networks"]["eth0"]["tx_bytes"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routers_over_real_http_and_from_inside_a_container() {
    let Some(env) = common::env() else { return };
    let ns = Ns::new(&env);
    let id = "web";
    ns.run_detached(id, &["--net-host"], "exec sleep 600");
    let mut stopped = container("tok-old", "old-container-id", "old");
    stopped.known_status = ContainerStatus::Stopped;
    stopped.exit_code = Some(0);
    let mut old_task = task(NetworkMode::Host, vec![stopped]);
    old_task.arn = "arn:aws:ecs:us-east-1:123456789012:task/endpoints-it/fedcba9876543210".into();
    old_task.known_status = TaskStatus::Stopped;
    old_task.desired_status = DesiredStatus::Stopped;
    let published = published(vec![
        task(NetworkMode::Host, vec![container("tok-web", id, "web")]),
        old_task,
    ]);
    let source: Arc<dyn TaskSource> = Arc::new(published.clone());
    let stats = Arc::new(StatsStore::new());
    let metrics = Arc::new(AgentMetrics::new());
    let limiter = RateLimiter::new(
        RpsLimit {
            steady: 1,
            burst: 200,
        },
        Some(metrics.clone()),
    );
    let tmds = serve(endpoints::metadata_router(
        source.clone(),
        stats.clone(),
        limiter,
    ))
    .await;
    let intro = serve(endpoints::introspection_router(
        source.clone(),
        metrics.clone(),
    ))
    .await;

    // Task metadata with a real client.
    let (s, ct, body) = get(&format!("http://{tmds}/v4/tok-web")).await;
    assert_eq!((s, ct.as_str()), (200, "application/json"), "{body}");
    let c: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(c["DockerId"], id);
    assert_eq!(c["Limits"], serde_json::json!({"CPU": 128, "Memory": 64}));
    assert_eq!(
        c["Networks"],
        serde_json::json!([{"NetworkMode": "host", "IPv4Addresses": [""]}])
    );
    let (s, _, body) = get(&format!("http://{tmds}/v4/tok-web/taskWithTags")).await;
    assert_eq!(s, 200);
    let t: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(t["Cluster"], "endpoints-it");
    assert_eq!(t["TaskTags"]["team"], "endpoints");
    assert_eq!(t["Limits"], serde_json::json!({"CPU": 0.5, "Memory": 256}));
    let (s, _, body) = get(&format!("http://{tmds}/v3/nope/task")).await;
    assert_eq!(s, 500, "{body}");

    // From inside a host-network container, with busybox wget.
    let inside = ns.run_once(
        "wget-1",
        &["--net-host"],
        &["wget", "-qO-", &format!("http://{tmds}/v4/tok-web/task")],
    );
    let t: Value =
        serde_json::from_str(inside.trim()).unwrap_or_else(|e| panic!("{e}: {inside:?}"));
    assert_eq!(t["TaskARN"], TASK_ARN);
    assert_eq!(t["Containers"][0]["DockerId"], id);
    assert_eq!(t["LaunchType"], "EC2");
    let inside = ns.run_once(
        "wget-2",
        &["--net-host"],
        &["wget", "-qO-", &format!("http://{intro}/v1/metadata")],
    );
    let m: Value = serde_json::from_str(inside.trim()).unwrap();
    assert_eq!(m["Cluster"], "endpoints-it");

    // Introspection filters and the Go agent's error codes.
    let (s, _, body) = get(&format!("http://{intro}/v1/tasks")).await;
    assert_eq!(s, 200);
    let all: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(all["Tasks"].as_array().unwrap().len(), 2);
    assert_eq!(all["Tasks"][1]["KnownStatus"], "STOPPED");
    let (s, _, body) = get(&format!("http://{intro}/v1/tasks?dockerid={id}")).await;
    assert_eq!(s, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["Arn"],
        TASK_ARN
    );
    let (s, _, _) = get(&format!("http://{intro}/v1/tasks?dockerid=old-cont")).await;
    assert_eq!(s, 200);
    let (s, _, _) = get(&format!(
        "http://{intro}/v1/tasks?dockerid={id}&taskarn={TASK_ARN}"
    ))
    .await;
    assert_eq!(s, 400);
    let (s, _, _) = get(&format!(
        "http://{intro}/v1/tasks?dockerid=0000000000000000000"
    ))
    .await;
    assert_eq!(s, 404);
    let (s, _, _) = get(&format!(
        "http://{intro}/v1/tasks?taskarn=arn:aws:ecs:x:1:task/none"
    ))
    .await;
    assert_eq!(s, 404);
    let (s, _, body) = get(&format!("http://{intro}/v1/tasks?taskarn={TASK_ARN}")).await;
    assert_eq!(s, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["Containers"][0]["DockerId"],
        id
    );
    let (s, ct, body) = get(&format!("http://{intro}/license")).await;
    assert_eq!((s, ct.as_str()), (200, "text/plain"));
    assert!(body.contains("Apache License"));

    // /metrics: parsed by a real Prometheus parser, and counters move.
    metrics.set_acs_connected(true);
    metrics.record_heartbeat();
    metrics.inc_error("pull");
    let (s, ct, text) = get(&format!("http://{intro}/metrics")).await;
    assert_eq!(s, 200);
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let before = common::parse_prometheus(&env, &text);
    assert_eq!(before["ecs_agent_acs_connected"]["type"], "gauge");
    assert_eq!(
        common::prometheus_sample(&before, "ecs_agent_acs_connected", &[]),
        Some(1.0)
    );
    assert_eq!(before["ecs_agent_errors"]["type"], "counter");
    assert_eq!(
        common::prometheus_sample(&before, "ecs_agent_errors", &[("kind", "pull")]),
        Some(1.0)
    );
    assert_eq!(
        common::prometheus_sample(&before, "ecs_agent_tasks", &[("status", "RUNNING")]),
        Some(1.0)
    );
    assert_eq!(
        common::prometheus_sample(&before, "ecs_agent_tasks", &[("status", "STOPPED")]),
        Some(1.0)
    );
    assert!(
        common::prometheus_sample(&before, "process_resident_memory_bytes", &[]).unwrap() > 1e6
    );
    assert!(
        common::prometheus_sample(&before, "ecs_agent_acs_last_heartbeat_age_seconds", &[])
            .unwrap()
            < 60.0
    );

    {
        let pull = metrics.pull_started();
        metrics.add_pull_bytes(4096);
        pull.succeeded();
    }
    metrics.inc_error("pull");
    metrics.set_acs_connected(false);
    published.publish_tasks(vec![task(
        NetworkMode::Host,
        vec![container("tok-web", id, "web")],
    )]);
    // Exhaust the limiter (burst 200) so the throttle counter moves.
    let client = reqwest::Client::new();
    let mut throttled = 0;
    for _ in 0..260 {
        let r = client
            .get(format!("http://{tmds}/v4/tok-web"))
            .send()
            .await
            .unwrap();
        if r.status().as_u16() == 429 {
            throttled += 1;
            assert_eq!(r.text().await.unwrap(), endpoints::ratelimit::LIMIT_MESSAGE);
        }
    }
    assert!(throttled >= 40, "only {throttled} of 260 throttled");
    let (_, _, text) = get(&format!("http://{intro}/metrics")).await;
    let after = common::parse_prometheus(&env, &text);
    assert_eq!(
        common::prometheus_sample(&after, "ecs_agent_acs_connected", &[]),
        Some(0.0)
    );
    assert_eq!(
        common::prometheus_sample(&after, "ecs_agent_errors", &[("kind", "pull")]),
        Some(2.0)
    );
    assert_eq!(
        common::prometheus_sample(&after, "ecs_agent_image_pull_bytes", &[]),
        Some(4096.0)
    );
    assert_eq!(
        common::prometheus_sample(&after, "ecs_agent_image_pulls_completed", &[]),
        Some(1.0)
    );
    assert_eq!(
        common::prometheus_sample(&after, "ecs_agent_tasks", &[("status", "STOPPED")]),
        Some(0.0)
    );
    assert!(
        common::prometheus_sample(&after, "ecs_agent_task_metadata_throttled", &[]).unwrap()
            >= 40.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_file_is_read_inside_the_container_in_both_phases() {
    let Some(env) = common::env() else { return };
    let ns = Ns::new(&env);
    let data = tempfile::tempdir().unwrap();
    let t = task(
        NetworkMode::Host,
        vec![container("tok-f", "filed", "filed")],
    );
    let agent = AgentView {
        cluster: "endpoints-it".into(),
        container_instance_arn: Some(
            "arn:aws:ecs:us-east-1:123456789012:container-instance/endpoints-it/ci".into(),
        ),
        ..AgentView::default()
    };
    let host = metadata_file::HostInfo::default();
    let mount = metadata_file::prepare(data.path(), None, TASK_ARN, "filed").unwrap();
    metadata_file::write(
        &mount.host_dir,
        &metadata_file::initial(&agent, &host, &t, "filed"),
    )
    .unwrap();
    let bind = format!(
        "type=bind,src={},dst={},options=rbind:ro",
        mount.bind_source.display(),
        mount.container_dir
    );
    let read = |id: &str| {
        ns.run_once(
            id,
            &["--net-host", "--mount", &bind, "--env", &mount.env],
            &["sh", "-c", "cat \"$ECS_CONTAINER_METADATA_FILE\""],
        )
    };
    let first: Value = serde_json::from_str(&read("cat-1")).unwrap();
    assert_eq!(first["TaskARN"], TASK_ARN);
    assert_eq!(first["ContainerName"], "filed");
    assert_eq!(first["Cluster"], "endpoints-it");
    assert!(first.get("MetadataFileStatus").is_none(), "{first}");
    assert!(first.get("ContainerID").is_none(), "{first}");

    metadata_file::write(
        &mount.host_dir,
        &metadata_file::ready(&agent, &host, &t, &t.containers[0]),
    )
    .unwrap();
    let second: Value = serde_json::from_str(&read("cat-2")).unwrap();
    assert_eq!(second["MetadataFileStatus"], "READY");
    assert_eq!(second["ContainerID"], "filed");
    assert_eq!(second["DockerContainerName"], "/ecs-endpoints-1-filed-1");
    assert_eq!(second["ImageName"], "127.0.0.1:5000/busybox:latest");
    metadata_file::remove_task(data.path(), TASK_ARN).unwrap();
    assert!(!mount.host_dir.exists());
}

/// The cgroup files read by the agent give what containerd's Tasks.Metrics
/// (the shim's own reading of the same files) gives, for an idle container
/// whose numbers do not move between the two readings; and the files read
/// are those of the cgroup its OCI spec names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_from_cgroup_files_equal_containerds() {
    let Some(env) = common::env() else { return };
    let ns = Ns::new(&env);
    ns.run_detached(
        "still",
        &["--net-host", "--memory-limit", "67108864"],
        "exec sleep 600",
    );
    let ids = vec!["still".to_string()];
    let one = |mut m: Vec<ContainerMetrics>| {
        assert_eq!(m.len(), 1, "{m:?}");
        m.remove(0)
    };
    let from_files = ns.runtime();
    let from_containerd = ns.containerd_runtime();
    // Until the container is idle: sleep's start still counts CPU time.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (files, theirs) = loop {
        let files = one(from_files.metrics(&ids).await.unwrap());
        let theirs = one(from_containerd.metrics(&ids).await.unwrap());
        let again = one(from_files.metrics(&ids).await.unwrap());
        if files.usage == theirs.usage && again.usage == theirs.usage {
            break (files, theirs);
        }
        assert!(
            Instant::now() < deadline,
            "cgroup files {files:#?} against containerd's {theirs:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let memory = files.usage.memory.as_ref().expect("memory");
    assert_eq!(memory.limit, 67_108_864, "{files:?}");
    assert!(
        memory.usage > 0 && memory.stats["total_rss"] > 0,
        "{files:?}"
    );
    let cpu = files.usage.cpu.as_ref().expect("cpu");
    assert!(cpu.total_ns > 0 && !cpu.per_cpu_ns.is_empty(), "{files:?}");
    assert_eq!(files.usage.pids.expect("pids").current, 1);
    assert_eq!(theirs.id, "still");

    // The path comes from the container's spec (ctr's `/<namespace>/<id>`):
    // a root holding only that cgroup, with a number of ours, is what is read.
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("cpuacct").join(&ns.name).join("still");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cpuacct.usage"), "4242\n").unwrap();
    let ours = ns.containerd_runtime().with_cgroup_root(root.path());
    let m = one(ours.metrics(&ids).await.unwrap());
    assert_eq!(m.usage.cpu.expect("cpu").total_ns, 4242);
    assert!(m.usage.memory.is_none(), "no memory cgroup under that root");
    // A root without it: containerd is asked.
    let empty = tempfile::tempdir().unwrap();
    let asked = ns.containerd_runtime().with_cgroup_root(empty.path());
    let m = one(asked.metrics(&ids).await.unwrap());
    assert_eq!(m.usage.memory.expect("memory").limit, 67_108_864);
}
