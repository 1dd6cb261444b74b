//! awslogs when CloudWatch Logs misbehaves: a small proxy in front of moto
//! (the real emulator; the proxy forwards every request to it unchanged)
//! answers PutLogEvents with throttling or 5xx, or holds it unanswered,
//! while the test says so. The agent reaches it through the task's
//! `awslogs-endpoint` alone (its own CloudWatch endpoint is not set), so
//! these tests also check that option end to end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, TRANSFER_ENCODING};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::awslogs::{awslogs_task, events, line_number, metric, spool_bytes, ARRIVE, START};
use crate::common::app_thread::AppThread;
use crate::common::{self, run_task, task_id, wait_task_status, Agent, Aws, EcsLocal, REGION};

/// What the proxy does to PutLogEvents (every other call is forwarded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Pass,
    /// 400 ThrottlingException, as CloudWatch throttles.
    Throttle,
    /// 500 ServiceUnavailableException.
    Unavailable,
    /// No answer until the mode changes (then the request goes on).
    Stall,
}

struct Shared {
    upstream: String,
    http: reqwest::Client,
    mode: tokio::sync::watch::Sender<Mode>,
    /// PutLogEvents answered with a fault or held.
    faulted: AtomicUsize,
    /// PutLogEvents forwarded to moto.
    passed: AtomicUsize,
}

/// The proxy, served from its own thread (common::app_thread).
struct CwProxy {
    url: String,
    shared: Arc<Shared>,
    /// Dropped after `drop` below has let held requests go.
    _server: AppThread,
}

impl CwProxy {
    fn start(moto: &str, mode: Mode) -> CwProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            upstream: moto.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
            mode: tokio::sync::watch::Sender::new(mode),
            faulted: AtomicUsize::new(0),
            passed: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        CwProxy {
            url,
            shared,
            _server: AppThread::serve(listener, app),
        }
    }

    fn set(&self, mode: Mode) {
        self.shared.mode.send_replace(mode);
    }

    fn faulted(&self) -> usize {
        self.shared.faulted.load(Ordering::SeqCst)
    }

    fn passed(&self) -> usize {
        self.shared.passed.load(Ordering::SeqCst)
    }
}

impl Drop for CwProxy {
    fn drop(&mut self) {
        // Held requests go on (or fail) rather than hang the runtime.
        self.set(Mode::Pass);
    }
}

fn aws_error(status: StatusCode, kind: &str) -> Response {
    let body = json!({"__type": kind, "message": format!("the test proxy answers {kind}")});
    (
        status,
        [(CONTENT_TYPE, "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}

async fn handle(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let put = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.ends_with(".PutLogEvents"));
    if put {
        let mut mode = s.mode.subscribe();
        let mut counted = false;
        loop {
            let now = *mode.borrow_and_update();
            if now != Mode::Pass && !counted {
                s.faulted.fetch_add(1, Ordering::SeqCst);
                counted = true;
            }
            match now {
                Mode::Pass => break,
                Mode::Throttle => return aws_error(StatusCode::BAD_REQUEST, "ThrottlingException"),
                Mode::Unavailable => {
                    return aws_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "ServiceUnavailableException",
                    )
                }
                Mode::Stall => {
                    if mode.changed().await.is_err() {
                        return aws_error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "ServiceUnavailableException",
                        );
                    }
                }
            }
        }
        s.passed.fetch_add(1, Ordering::SeqCst);
    }
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 << 20).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut up = s
        .http
        .request(parts.method, format!("{}{path}", s.upstream))
        .body(body);
    for (name, value) in &parts.headers {
        if name != HOST && name != CONTENT_LENGTH && name != TRANSFER_ENCODING {
            up = up.header(name, value);
        }
    }
    let resp = match up.send().await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = resp.status();
    let mut headers = HeaderMap::new();
    for (name, value) in resp.headers() {
        if name != CONTENT_LENGTH && name != TRANSFER_ENCODING {
            headers.insert(name, value.clone());
        }
    }
    let body = resp.bytes().await.unwrap_or_default();
    (status, headers, Body::from(body)).into_response()
}

/// The agent without any CloudWatch endpoint of its own: only a task's
/// awslogs-endpoint leads anywhere.
fn start_agent(env: &common::TestEnv, local: &EcsLocal) -> Agent {
    Agent::start(env, local, &[])
}

/// Blocking mode through throttling, then 5xx: nothing arrives while the
/// faults last (each retried, in the agent's log and its error counter),
/// and once they end every line arrives, exactly once and in order.
#[test]
fn blocking_mode_rides_out_throttling_and_5xx_and_every_line_arrives_once() {
    let Some(env) = common::env() else { return };
    let Some(moto) = common::moto() else { return };
    let group = format!("/ecs/{}", common::unique_ns("awslogs-5xx"));
    let logs = Aws::moto(&env, &moto, REGION);
    logs.run_ok(&["logs", "create-log-group", "--log-group-name", &group]);
    let proxy = CwProxy::start(&moto, Mode::Throttle);

    let local = EcsLocal::start(&env);
    let agent = start_agent(&env, &local);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);

    const LINES: usize = 2000;
    let td = awslogs_task(
        &env,
        &aws,
        "awslogs-faults",
        json!({"awslogs-group": group, "awslogs-stream-prefix": "f", "mode": "blocking",
               "awslogs-endpoint": proxy.url}),
        // 20 bursts of 100 lines, 0.2 s apart.
        "i=0; while [ $i -lt 20 ]; do j=0; while [ $j -lt 100 ]; do \
         echo line-$((i*100+j)); j=$((j+1)); done; i=$((i+1)); sleep 0.2; done; sleep 5",
        false,
    );
    let arn = run_task(&aws, &agent, &td);
    let stream = format!("f/app/{}", task_id(&arn));
    common::wait_until_with_log(&agent, "throttled PutLogEvents", ARRIVE, || {
        (proxy.faulted() >= 3).then_some(())
    });
    proxy.set(Mode::Unavailable);
    let throttled = proxy.faulted();
    common::wait_until_with_log(&agent, "PutLogEvents answered 500", ARRIVE, || {
        (proxy.faulted() >= throttled + 3).then_some(())
    });
    assert!(
        events(&logs, &group, &stream).is_empty(),
        "lines arrived while every put failed"
    );
    assert_eq!(proxy.passed(), 0);
    proxy.set(Mode::Pass);

    let got = common::wait_until_with_log(&agent, "every line in CloudWatch", ARRIVE, || {
        let got = events(&logs, &group, &stream);
        (got.len() >= LINES).then_some(got)
    });
    let want: Vec<String> = (0..LINES).map(|i| format!("line-{i}")).collect();
    assert_eq!(got, want, "lines lost, sent twice or out of order");
    let port = agent
        .var("ECS_AGENT_INTROSPECTION_PORT")
        .expect("introspection port");
    let errors = metric(&port, "ecs_agent_errors_total{kind=\"awslogs\"} ").unwrap_or(0.0);
    assert!(errors >= 2.0, "awslogs errors counted: {errors}");
    let log = agent.log();
    assert!(
        log.contains("ThrottlingException") && log.contains("ServiceUnavailableException"),
        "the faults are in the agent's log"
    );
    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    assert_eq!(t["containers"][0]["exitCode"], 0, "{t}");
}

/// The agent's resident memory in bytes (VmRSS).
fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Samples a spool's size on disk and the agent's RSS every 10 ms on a
/// thread of its own (the container writes its lines within a second).
struct Sampler {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(u64, u64, usize)>,
}

impl Sampler {
    fn start(path: std::path::PathBuf, pid: u32) -> Sampler {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut spool, mut mem, mut n) = (0u64, 0u64, 0usize);
            while !stopped.load(Ordering::SeqCst) {
                spool = spool.max(spool_bytes(&path));
                mem = mem.max(rss(pid));
                n += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            (spool, mem, n)
        });
        Sampler { stop, thread }
    }

    /// The largest spool and RSS seen, and how many samples were taken.
    fn stop(self) -> (u64, u64, usize) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap_or((0, 0, 0))
    }
}

/// The value of a /metrics counter once it has not changed for 3 s (the
/// agent looks at the logger's count every second).
fn settled(agent: &Agent, port: &str, name: &str) -> usize {
    let mut last = (metric(port, name).unwrap_or(0.0), Instant::now());
    common::wait_until_with_log(agent, &format!("{name} to settle"), ARRIVE, || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let now = metric(port, name).unwrap_or(0.0);
        if now != last.0 {
            last = (now, Instant::now());
        }
        (last.1.elapsed() >= std::time::Duration::from_secs(3)).then_some(now as usize)
    })
}

/// Non-blocking mode (max-buffer-size 1m) while CloudWatch holds every
/// PutLogEvents unanswered: a container writing 60,000 lines of 1 KB as
/// fast as it can is never slowed (it ends while CloudWatch is still
/// stalled), the spool never holds much more than max-buffer-size (the
/// logger drops new lines while it is full, as Docker's ring buffer does),
/// and the agent's memory does not grow with what was written. Every line
/// is either in CloudWatch once CloudWatch answers again, in order and
/// once, or counted in /metrics' dropped lines: dropped equals written
/// minus delivered, also with a kill -9 of the agent in between (the
/// restarted agent counts nothing again).
#[test]
fn non_blocking_mode_never_blocks_on_a_stalled_cloudwatch_and_counts_drops() {
    let Some(env) = common::env() else { return };
    let Some(moto) = common::moto() else { return };
    let group = format!("/ecs/{}", common::unique_ns("awslogs-stall"));
    let logs = Aws::moto(&env, &moto, REGION);
    logs.run_ok(&["logs", "create-log-group", "--log-group-name", &group]);
    let proxy = CwProxy::start(&moto, Mode::Stall);

    let local = EcsLocal::start(&env);
    let mut agent = start_agent(&env, &local);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    let pid = agent.pid().expect("agent pid");

    const LINES: usize = 60_000;
    const BUFFER: u64 = 1_000_000;
    let td = awslogs_task(
        &env,
        &aws,
        "awslogs-stall",
        json!({"awslogs-group": group, "awslogs-stream-prefix": "s", "mode": "non-blocking",
               "max-buffer-size": "1m", "awslogs-endpoint": proxy.url}),
        "l=$(head -c 1000 /dev/zero | tr '\\0' x); i=0; while [ $i -lt 60000 ]; do \
         echo \"line-$i $l\"; i=$((i+1)); done",
        false,
    );
    let before = rss(pid);
    let started = Instant::now();
    let arn = run_task(&aws, &agent, &td);
    let id = task_id(&arn).to_string();
    let stream = format!("s/app/{id}");
    let path = agent.container_log_path(&id, "app");
    let sampler = Sampler::start(path.clone(), pid);
    // The container runs to its end with CloudWatch stalled throughout.
    common::wait_until_with_log(&agent, "the container's end", START, || {
        let t = common::describe_task(&aws, &agent, &arn)?;
        (t["lastStatus"] == "STOPPED").then_some(())
    });
    let took = started.elapsed();
    let (max_spool, max_rss, samples) = sampler.stop();
    assert!(samples > 10, "only {samples} samples");
    let t = common::describe_task(&aws, &agent, &arn).unwrap_or_default();
    assert_eq!(t["containers"][0]["exitCode"], 0, "{t}");
    // The spool holds less than a full batch now: the put goes once its
    // first line was read 5 s ago, possibly after the container's end.
    common::wait_until_with_log(&agent, "a PutLogEvents held by the proxy", ARRIVE, || {
        (proxy.faulted() >= 1).then_some(())
    });
    assert_eq!(proxy.passed(), 0, "CloudWatch answered during the stall");
    // Two files of half max-buffer-size, each passing it by a line at most.
    assert!(
        max_spool > BUFFER / 2 && max_spool <= BUFFER + 8192,
        "the spool held {max_spool} bytes (max-buffer-size {BUFFER})"
    );
    let written = LINES as u64 * 1040;
    assert!(
        max_rss.saturating_sub(before) < 28 << 20,
        "the agent grew from {before} to {max_rss} bytes while {written} were written ({took:?})"
    );

    let port = agent
        .var("ECS_AGENT_INTROSPECTION_PORT")
        .expect("introspection port");
    const DROPPED: &str = "ecs_agent_awslogs_lines_dropped_total ";
    let dropped_before = settled(&agent, &port, DROPPED);
    assert!(dropped_before > 0, "nothing counted as dropped");
    // The held put fails now, then the agent dies with nothing delivered;
    // the restarted one resumes from its checkpoint and must not count the
    // same dropped lines again.
    proxy.set(Mode::Unavailable);
    agent.kill9();
    agent.restart();
    let port = agent
        .var("ECS_AGENT_INTROSPECTION_PORT")
        .expect("introspection port");
    common::wait_until_with_log(&agent, "the restarted agent's /metrics", START, || {
        metric(&port, DROPPED).map(|_| ())
    });
    std::thread::sleep(std::time::Duration::from_secs(3));
    let dropped_after = metric(&port, DROPPED).unwrap_or(0.0) as usize;
    assert_eq!(dropped_after, 0, "counted again after the restart");

    proxy.set(Mode::Pass);
    let got = common::wait_until_with_log(&agent, "every kept line in CloudWatch", ARRIVE, || {
        let got = events(&logs, &group, &stream);
        (got.len() + dropped_before + dropped_after >= LINES).then_some(got)
    });
    let shipped = metric(&port, "ecs_agent_awslogs_events_shipped_total ").unwrap_or(0.0) as usize;
    assert_eq!(
        got.len(),
        shipped,
        "moto holds what the restarted agent shipped"
    );
    assert_eq!(
        dropped_before + dropped_after,
        LINES - got.len(),
        "dropped is not written minus delivered"
    );
    // What arrived is the oldest lines (the newest were dropped), in order,
    // none twice.
    let numbers: Vec<usize> = got.iter().filter_map(|m| line_number(m)).collect();
    let want: Vec<usize> = (0..got.len()).collect();
    assert_eq!(numbers, want, "out of order, twice, or not the oldest");
}
