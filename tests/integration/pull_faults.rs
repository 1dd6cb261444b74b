//! A hung or broken registry (issue 18, point 7): a stand-in proxies the real
//! test registry (its real manifests and blobs) while it misbehaves, and the
//! pull, then the task, must end as the Go agent's would
//! (agent/dockerclient/dockerapi/docker_client.go: 5 attempts with backoff,
//! `CannotPullContainerError: inactivity time exceeded timeout while pulling
//! image`, `DockerTimeoutError: Could not transition to pulled; timed out
//! after waiting ...`), with nothing of the image left in containerd's
//! content store.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use ecs::runtime::containerd::pull::{self, PullOptions, PullTimeouts};
use futures_util::StreamExt as _;
use serde_json::{json, Value};

use crate::common::app_thread::AppThread;
use crate::common::{self, Agent, Aws, EcsLocal, TestEnv};
use crate::pull::{push_multi_image_layers, Ns};

/// What the stand-in does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Proxy it as it is.
    Pass,
    /// Answer this status itself.
    Status(u16),
    /// Send the headers (the real Content-Length) and this many bytes, then
    /// nothing more, keeping the connection open.
    StallAfter(usize),
    /// Send the headers and this many bytes, then close the connection.
    CloseAfter(usize),
    /// The whole body with one byte flipped (so the digest does not match).
    Corrupt,
    /// Nothing (not even headers) until the test calls `Standin::release`,
    /// then proxy it as it is.
    Hold,
}

type Script = dyn Fn(&str, usize) -> Fault + Send + Sync;

struct Shared {
    upstream: String,
    http: reqwest::Client,
    script: Box<Script>,
    seen: Mutex<Vec<String>>,
    released: tokio::sync::watch::Sender<bool>,
}

/// The stand-in registry: its own thread and runtime, so that synchronous
/// tests (the agent's) and async ones (the runtime's) can use it alike.
pub(crate) struct Standin {
    pub(crate) addr: String,
    shared: Arc<Shared>,
    _server: AppThread,
}

impl Standin {
    /// Serves `upstream`'s registry with `script(path, n)` deciding, for the
    /// `n`th request (from 0) of each path, what goes wrong.
    pub(crate) fn start(
        upstream: &str,
        script: impl Fn(&str, usize) -> Fault + Send + Sync + 'static,
    ) -> Standin {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            http: reqwest::Client::new(),
            script: Box::new(script),
            seen: Mutex::new(Vec::new()),
            released: tokio::sync::watch::channel(false).0,
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        Standin {
            addr,
            shared,
            _server: AppThread::serve(listener, app),
        }
    }

    /// Lets the requests held by `Fault::Hold` (and later ones) through.
    pub(crate) fn release(&self) {
        self.shared.released.send_replace(true);
    }

    /// How many requests had a path containing `part`.
    pub(crate) fn requests(&self, part: &str) -> usize {
        self.shared
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.contains(part))
            .count()
    }
}

async fn handle(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let n = {
        let mut seen = s.seen.lock().unwrap();
        let n = seen.iter().filter(|p| **p == path).count();
        seen.push(path.clone());
        n
    };
    let fault = (s.script)(&path, n);
    if let Fault::Status(code) = fault {
        let status = StatusCode::from_u16(code).unwrap();
        let body = format!(
            r#"{{"errors":[{{"code":"UNAVAILABLE","message":"stand-in answers {code}"}}]}}"#
        );
        return (status, [(CONTENT_TYPE, "application/json")], body).into_response();
    }
    if fault == Fault::Hold {
        let mut released = s.released.subscribe();
        // An error means the stand-in is going away: answer anyway.
        let _ = released.wait_for(|r| *r).await;
    }
    let mut up = s.http.get(format!("http://{}{}", s.upstream, req.uri()));
    if let Some(accept) = req.headers().get(ACCEPT) {
        up = up.header(ACCEPT, accept.clone());
    }
    let resp = match up.send().await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = resp.status();
    let mut headers = HeaderMap::new();
    for name in [
        CONTENT_TYPE,
        HeaderName::from_static("docker-content-digest"),
    ] {
        if let Some(v) = resp.headers().get(&name) {
            headers.insert(name, v.clone());
        }
    }
    let body = resp.bytes().await.unwrap_or_default();
    // The real length is announced whatever is then sent.
    headers.insert(CONTENT_LENGTH, body.len().into());
    let body = match fault {
        Fault::Pass | Fault::Status(_) | Fault::Hold => Body::from(body),
        Fault::Corrupt => {
            let mut b = body.to_vec();
            let i = b.len() / 2;
            b[i] ^= 0xff;
            Body::from(b)
        }
        Fault::StallAfter(n) => {
            let first = body.slice(..n.min(body.len()));
            let once = futures_util::stream::once(async move { Ok::<_, std::io::Error>(first) });
            Body::from_stream(once.chain(futures_util::stream::pending()))
        }
        Fault::CloseAfter(n) => {
            let first = body.slice(..n.min(body.len()));
            // The error comes a moment later, once headers and the first
            // bytes are on the wire: hyper then closes the connection.
            let broken = async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Err(std::io::Error::other("the stand-in cuts the body short"))
            };
            let once = futures_util::stream::once(async move { Ok(first) });
            Body::from_stream(once.chain(futures_util::stream::once(broken)))
        }
    };
    (status, headers, body).into_response()
}

/// The agent's options on this containerd (Transfer on 2.x), with `timeouts`.
async fn options(ns: &Ns, timeouts: PullTimeouts) -> PullOptions {
    PullOptions {
        timeouts,
        ..crate::pull::opts_for(&ns.conn).await
    }
}

/// Fast timeouts for the runtime-level tests (the agent holds operators to
/// a 1m minimum inactivity; `PullOptions` is the runtime's own).
fn quick() -> PullTimeouts {
    PullTimeouts {
        inactivity: Duration::from_secs(1),
        ..PullTimeouts::default()
    }
}

/// No image, blob, ingest, snapshot or lease of a failed pull in `ns`.
/// Ingests of a pull cancelled mid-blob are aborted by a spawned task, so
/// this waits a little for them.
async fn assert_nothing_left(ns: &Ns) {
    let mut ingests = ns.active_ingests();
    for _ in 0..20 {
        if ingests.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        ingests = ns.active_ingests();
    }
    assert!(ingests.is_empty(), "partial ingests left: {ingests:?}");
    assert!(ns.image_names().is_empty(), "{:?}", ns.image_names());
    let content = ns.content_digests();
    assert!(
        content.is_empty(),
        "blobs of a failed pull left: {content:?}"
    );
    let snapshots = ns.snapshots();
    assert!(snapshots.is_empty(), "snapshots left: {snapshots:?}");
    assert!(ns.leases().await.is_empty(), "pull lease left");
}

#[cfg(target_arch = "x86_64")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_cut_short_fails_the_pull_after_five_attempts_and_leaves_nothing() {
    let Some(env) = common::env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_, repo, layers) = push_multi_image_layers(&env, dir.path());
    // The last layer breaks off half-way, every time; the others arrive, so
    // the failed pull has committed blobs to clean up.
    let broken = layers[2].clone();
    let cut = broken.clone();
    let standin = Standin::start(&env.registry, move |path, _| {
        if path.ends_with(&cut) {
            Fault::CloseAfter(10)
        } else {
            Fault::Pass
        }
    });
    let ns = Ns::new(&env, "pull-cut");
    let reference = format!("{}/{repo}:v1", standin.addr);
    let err = pull::pull(&ns.conn, &reference, None, &options(&ns, quick()).await)
        .await
        .unwrap_err();
    let text = err.to_string();
    // Our own pull counts the bytes; containerd's Transfer (2.x) does not
    // say how many it had, and the reason names the blob from its progress.
    let want = if options(&ns, quick()).await.transfer {
        format!("the download of {broken} broke off")
    } else {
        format!(
            "content for {broken} from {} ended after 10 of ",
            standin.addr
        )
    };
    assert!(
        text.contains(&want),
        "the reason says which blob broke off: {text}"
    );
    // containerd's Transfer (2.x) reopens a broken body itself, 3 times
    // at the offset where it stopped (core/remotes/docker/httpreadseeker.go
    // `maxRetry`): 4 requests per attempt of ours.
    let per_attempt = if options(&ns, quick()).await.transfer {
        4
    } else {
        1
    };
    assert_eq!(
        standin.requests(&broken),
        5 * per_attempt,
        "5 attempts, as the Go agent"
    );
    assert_nothing_left(&ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_layer_is_refused_after_five_attempts_and_leaves_nothing() {
    let Some(env) = common::env() else { return };
    let (repo, _, layer) = common::images::push_unique_busybox(&env, "pulltest-fault");
    let bad = layer.clone();
    let standin = Standin::start(&env.registry, move |path, _| {
        if path.ends_with(&bad) {
            Fault::Corrupt
        } else {
            Fault::Pass
        }
    });
    let ns = Ns::new(&env, "pull-corrupt");
    let reference = format!("{}/{repo}:latest", standin.addr);
    let err = pull::pull(&ns.conn, &reference, None, &options(&ns, quick()).await)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "content for {layer} from {} has digest sha256:",
            standin.addr
        )) && text.contains("refusing corrupted or tampered data"),
        "{text}"
    );
    assert_eq!(standin.requests(&layer), 5);
    assert_nothing_left(&ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_that_stalls_fails_for_inactivity_and_leaves_no_partial_ingest() {
    let Some(env) = common::env() else { return };
    let (repo, _, layer) = common::images::push_unique_busybox(&env, "pulltest-fault");
    let stalled = layer.clone();
    let standin = Standin::start(&env.registry, move |path, _| {
        if path.ends_with(&stalled) {
            Fault::StallAfter(64 << 10)
        } else {
            Fault::Pass
        }
    });
    let ns = Ns::new(&env, "pull-stall");
    let reference = format!("{}/{repo}:latest", standin.addr);
    let err = pull::pull(&ns.conn, &reference, None, &options(&ns, quick()).await)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "inactivity time exceeded timeout while pulling image"
    );
    assert_eq!(standin.requests(&layer), 5);
    assert_nothing_left(&ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_past_its_whole_timeout_is_cancelled_and_leaves_nothing() {
    let Some(env) = common::env() else { return };
    let (repo, _, layer) = common::images::push_unique_busybox(&env, "pulltest-fault");
    let stalled = layer.clone();
    let standin = Standin::start(&env.registry, move |path, _| {
        if path.ends_with(&stalled) {
            Fault::StallAfter(64 << 10)
        } else {
            Fault::Pass
        }
    });
    let ns = Ns::new(&env, "pull-whole");
    let reference = format!("{}/{repo}:latest", standin.addr);
    // Inactivity (1m) would come far later: the whole-pull timeout ends it,
    // mid-blob, with the partial blob's ingest open.
    let timeouts = PullTimeouts {
        whole: Duration::from_secs(3),
        ..PullTimeouts::default()
    };
    let err = pull::pull(&ns.conn, &reference, None, &options(&ns, timeouts).await)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Could not transition to pulled; timed out after waiting 3s"
    );
    assert_eq!(standin.requests(&layer), 1);
    assert_nothing_left(&ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_answering_503_twice_is_retried_and_the_pull_succeeds() {
    let Some(env) = common::env() else { return };
    let standin = Standin::start(&env.registry, |path, n| {
        if path.contains("/manifests/") && n < 2 {
            Fault::Status(503)
        } else {
            Fault::Pass
        }
    });
    let ns = Ns::new(&env, "pull-503");
    let reference = format!("{}/busybox:latest", standin.addr);
    let pulled = pull::pull(&ns.conn, &reference, None, &options(&ns, quick()).await)
        .await
        .unwrap();
    assert_eq!(pulled.name, reference);
    assert_eq!(standin.requests("/manifests/"), 3);
    assert_eq!(ns.image_names(), vec![reference]);
    assert!(ns.active_ingests().is_empty());
    assert!(ns.leases().await.is_empty());
}

// ---- Through the agent: the task's reasons, as describe-tasks shows them ----

const STOP: Duration = Duration::from_secs(120);

struct World {
    env: TestEnv,
    _local: EcsLocal,
    agent: Agent,
    aws: Aws,
}

fn world(extra_env: &[(&str, &str)]) -> Option<World> {
    let env = common::env()?;
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, extra_env);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, Duration::from_secs(60));
    Some(World {
        env,
        _local: local,
        agent,
        aws,
    })
}

impl World {
    /// Runs a one-container task of `image` and waits until it is STOPPED.
    fn run_until_stopped(&self, family: &str, image: &str) -> (String, Value) {
        let td = common::register_task_def(
            &self.aws,
            family,
            json!([{"name": "c", "image": image, "memory": 32, "essential": true,
                    "command": common::sh("echo ran-after-retries")}]),
        );
        let arn = common::run_task(&self.aws, &self.agent, &td);
        let t = common::wait_task_status(&self.aws, &self.agent, &arn, "STOPPED", STOP);
        (arn, t)
    }

    /// The blobs and ingests of the agent's namespace.
    fn content(&self) -> (Vec<String>, Vec<String>) {
        let ns = self.agent.namespace();
        let blobs = common::ctr(&self.env, ns, &["content", "ls", "-q"]);
        let active = common::ctr(&self.env, ns, &["content", "active"]);
        (
            blobs
                .lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect(),
            active.lines().skip(1).map(str::to_string).collect(),
        )
    }

    /// Nothing of the image's layer is in the agent's namespace.
    fn assert_no_layer(&self, layer: &str) {
        let (blobs, active) = self.content();
        assert!(active.is_empty(), "partial ingests left: {active:?}");
        assert!(!blobs.iter().any(|b| b == layer), "{layer} left: {blobs:?}");
    }
}

fn reason(t: &Value) -> (String, String) {
    let container = t["containers"][0]["reason"].as_str().unwrap_or_default();
    let task = t["stoppedReason"].as_str().unwrap_or_default();
    (container.to_string(), task.to_string())
}

#[test]
fn a_task_whose_registry_stalls_mid_layer_is_stopped_for_inactivity() {
    // The test knob (documented as test-only) lowers the inactivity timeout
    // below the 1m that ECS_IMAGE_PULL_INACTIVITY_TIMEOUT allows operators.
    let Some(w) = world(&[("ECS_TEST_IMAGE_PULL_INACTIVITY_TIMEOUT_MS", "1000")]) else {
        return;
    };
    let (repo, _, layer) = common::images::push_unique_busybox(&w.env, "pulltest-agent");
    let stalled = layer.clone();
    let standin = Standin::start(&w.env.registry, move |path, _| {
        if path.ends_with(&stalled) {
            Fault::StallAfter(64 << 10)
        } else {
            Fault::Pass
        }
    });
    let (_, t) = w.run_until_stopped("stall", &format!("{}/{repo}:latest", standin.addr));
    let want = "CannotPullContainerError: inactivity time exceeded timeout while pulling image";
    assert_eq!(reason(&t), (want.to_string(), want.to_string()), "{t}");
    assert_eq!(standin.requests(&layer), 5, "5 attempts, as the Go agent");
    w.assert_no_layer(&layer);
}

#[test]
fn a_task_past_ecs_image_pull_timeout_is_stopped_with_docker_timeout_error() {
    let Some(w) = world(&[("ECS_IMAGE_PULL_TIMEOUT", "4s")]) else {
        return;
    };
    let (repo, _, layer) = common::images::push_unique_busybox(&w.env, "pulltest-agent");
    let stalled = layer.clone();
    let standin = Standin::start(&w.env.registry, move |path, _| {
        if path.ends_with(&stalled) {
            Fault::StallAfter(64 << 10)
        } else {
            Fault::Pass
        }
    });
    let (_, t) = w.run_until_stopped("whole", &format!("{}/{repo}:latest", standin.addr));
    let want = "DockerTimeoutError: Could not transition to pulled; timed out after waiting 4s";
    assert_eq!(reason(&t), (want.to_string(), want.to_string()), "{t}");
    w.assert_no_layer(&layer);
}

#[test]
fn a_task_whose_registry_answers_503_twice_runs_and_503_forever_stops_it_after_five_attempts() {
    let Some(w) = world(&[]) else { return };

    let flaky = Standin::start(&w.env.registry, |path, n| {
        if path.contains("/manifests/") && n < 2 {
            Fault::Status(503)
        } else {
            Fault::Pass
        }
    });
    let (arn, t) = w.run_until_stopped("flaky", &format!("{}/busybox:latest", flaky.addr));
    assert_eq!(t["containers"][0]["exitCode"], 0, "{t}");
    assert_eq!(
        t["stoppedReason"], "Essential container in task exited",
        "{t}"
    );
    assert!(w
        .agent
        .container_log(common::task_id(&arn), "c")
        .contains("ran-after-retries"));
    assert_eq!(flaky.requests("/manifests/"), 3);

    let down = Standin::start(&w.env.registry, |_, _| Fault::Status(503));
    let (_, t) = w.run_until_stopped("down", &format!("{}/busybox:latest", down.addr));
    let (container, task) = reason(&t);
    assert!(
        container.starts_with("CannotPullContainerError: ")
            && container.contains(&format!("(HTTP 503 from {})", down.addr)),
        "{t}"
    );
    assert_eq!(task, container, "{t}");
    // containerd's resolver tries a GET after a failed HEAD: two requests
    // per attempt through its Transfer service.
    let per_attempt = if common::pulls_through_transfer(&w.env) {
        2
    } else {
        1
    };
    assert_eq!(
        down.requests("/manifests/"),
        5 * per_attempt,
        "5 attempts, as the Go agent"
    );
}
