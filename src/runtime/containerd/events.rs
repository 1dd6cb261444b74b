//! Exit events of our namespace's containers, from containerd's event stream,
//! resubscribing forever when the stream breaks.
//!
//! containerd sends the response headers of a Subscribe only with its first
//! event, so "subscribed" is unobservable by itself. To know that the
//! subscription is live (and no exit can slip by unseen) we publish a probe
//! event on our own topic until it comes back through the stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use containerd_client::events::TaskExit;
use containerd_client::services::v1::containers_client::ContainersClient;
use containerd_client::services::v1::events_client::EventsClient;
use containerd_client::services::v1::tasks_client::TasksClient;
use containerd_client::services::v1::{
    ListContainersRequest, ListTasksRequest, PublishRequest, SubscribeRequest,
};
use containerd_client::types::v1::{Process, Status as ProcessStatus};
use containerd_client::types::Envelope;
use prost::Message;
use tokio::sync::mpsc;
use tonic::codec::Streaming;

use super::error::from_status;
use super::exec_exits::ExecExits;
use super::lifecycle::exit_code;
use super::Conn;
use crate::backoff::Backoff;
use crate::runtime::ExitEvent;
use crate::runtime::{ErrorKind, RuntimeError};

const EXIT_TOPIC: &str = "/tasks/exit";
const PROBE_TOPIC: &str = "/ecs-agent/subscribe-probe";
const TASK_EXIT_TYPE: &str = "containerd.events.TaskExit";
const CHANNEL_CAPACITY: usize = 1024;
const PROBE_EVERY: Duration = Duration::from_millis(200);
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A stream that lived this long counts as healthy: the backoff starts over.
const HEALTHY_AFTER: Duration = Duration::from_secs(5);

/// Returns once the first subscription is live; from then on the events flow
/// into the channel, across containerd restarts, until the receiver is dropped.
/// Exits of exec'd processes go to their waiters in `exec_exits`.
pub(super) async fn subscribe_exits(
    conn: &Conn,
    exec_exits: Arc<ExecExits>,
) -> Result<mpsc::Receiver<ExitEvent>, RuntimeError> {
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let stream = open(conn).await?;
    tracing::info!(namespace = %conn.namespace(), "subscribed to containerd exit events");
    tokio::spawn(run(conn.clone(), tx, stream, exec_exits));
    Ok(rx)
}

async fn run(
    conn: Conn,
    tx: mpsc::Sender<ExitEvent>,
    mut stream: Streaming<Envelope>,
    exec_exits: Arc<ExecExits>,
) {
    let mut backoff = Backoff::doubling(BACKOFF_MIN, BACKOFF_MAX);
    loop {
        let since = Instant::now();
        exec_exits.stream_up();
        let pumped = pump(&conn, &tx, &mut stream, &exec_exits).await;
        exec_exits.stream_down();
        match pumped {
            Pumped::ReceiverGone => {
                tracing::debug!("exit event receiver dropped; unsubscribing");
                return;
            }
            Pumped::Broken(reason) => {
                tracing::warn!(namespace = %conn.namespace(), error = %reason, "containerd event stream broke; resubscribing");
            }
        }
        if since.elapsed() >= HEALTHY_AFTER {
            backoff.reset();
        }
        loop {
            let wait = backoff.next(0.0);
            tokio::select! {
                _ = tx.closed() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            match open(&conn).await {
                Ok(s) => {
                    tracing::info!(namespace = %conn.namespace(), "resubscribed to containerd exit events");
                    stream = s;
                    if replay_stopped(&conn, &tx).await.is_err() {
                        return;
                    }
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.upcoming().as_millis() as u64, "resubscribing to containerd events failed");
                }
            }
        }
    }
}

/// Exits that happened while the stream was down were never seen: send one
/// for every stopped task (the live stream is already back, so none falls in
/// between), and a `task_gone` one for every container whose task is gone
/// (containerd 1.7+ drops, when it starts, a task whose process ended while
/// it was down, with its exit status: containerd/containerd#6860's cleanup of
/// shims without processes). Receivers may thus see an exit twice, or one for
/// a container whose task they deleted themselves, never not at all.
/// `Err` when the receiver is gone.
async fn replay_stopped(conn: &Conn, tx: &mpsc::Sender<ExitEvent>) -> Result<(), ()> {
    let tasks = match TasksClient::new(conn.channel())
        .list(conn.request(ListTasksRequest {
            filter: String::new(),
        }))
        .await
    {
        Ok(resp) => resp.into_inner().tasks,
        Err(s) => {
            // The next break of the stream will try again; exits stay
            // visible through `state` meanwhile.
            tracing::warn!(error = %s.message(), "listing tasks after resubscribing failed");
            return Ok(());
        }
    };
    for event in tasks.iter().filter_map(stopped_exit) {
        tracing::info!(container = %event.container_id, exit_code = event.exit_code, "replaying exit missed while the event stream was down");
        tx.send(event).await.map_err(|_| ())?;
    }
    let containers = match ContainersClient::new(conn.channel())
        .list(conn.request(ListContainersRequest {
            filters: Vec::new(),
        }))
        .await
    {
        Ok(resp) => resp.into_inner().containers,
        Err(s) => {
            tracing::warn!(error = %s.message(), "listing containers after resubscribing failed");
            return Ok(());
        }
    };
    let with_task: std::collections::HashSet<&str> = tasks.iter().map(task_container).collect();
    for c in containers
        .iter()
        .filter(|c| !with_task.contains(c.id.as_str()))
    {
        tracing::debug!(container = %c.id, "container without a task after resubscribing");
        // No exit to tell: the receiver asks for the container's state.
        let event = ExitEvent {
            container_id: c.id.clone(),
            exit_code: 0,
            exited_at_ms: 0,
            task_gone: true,
        };
        tx.send(event).await.map_err(|_| ())?;
    }
    Ok(())
}

/// The container of a task as Tasks.List lists it (whose `id` is the
/// container id where `container_id` is left empty).
fn task_container(p: &Process) -> &str {
    if p.container_id.is_empty() {
        &p.id
    } else {
        &p.container_id
    }
}

/// The exit of a stopped task as listed by Tasks.List (whose `id` is the container id).
fn stopped_exit(p: &Process) -> Option<ExitEvent> {
    if ProcessStatus::try_from(p.status).ok()? != ProcessStatus::Stopped {
        return None;
    }
    let at = p.exited_at?;
    Some(ExitEvent {
        container_id: task_container(p).to_string(),
        exit_code: exit_code(p.exit_status),
        exited_at_ms: at.seconds.saturating_mul(1000) + i64::from(at.nanos / 1_000_000),
        task_gone: false,
    })
}

enum Pumped {
    ReceiverGone,
    Broken(String),
}

async fn pump(
    conn: &Conn,
    tx: &mpsc::Sender<ExitEvent>,
    stream: &mut Streaming<Envelope>,
    exec_exits: &ExecExits,
) -> Pumped {
    loop {
        let msg = tokio::select! {
            _ = tx.closed() => return Pumped::ReceiverGone,
            msg = stream.message() => msg,
        };
        let envelope = match msg {
            Ok(Some(e)) => e,
            Ok(None) => return Pumped::Broken("stream ended".into()),
            Err(s) => return Pumped::Broken(s.to_string()),
        };
        let event = match decode(conn.namespace(), &envelope) {
            None => continue,
            Some(Exit::Exec {
                container_id,
                exec_id,
                pid,
                exit_code,
            }) => {
                exec_exits.deliver(&container_id, &exec_id, (pid, exit_code));
                continue;
            }
            Some(Exit::Init(event)) => event,
        };
        tracing::info!(
            container = %event.container_id,
            exit_code = event.exit_code,
            "container exited"
        );
        if tx.send(event).await.is_err() {
            return Pumped::ReceiverGone;
        }
    }
}

/// A process exit in our namespace.
#[derive(Debug, PartialEq, Eq)]
enum Exit {
    /// A container's init process: the container exited.
    Init(ExitEvent),
    /// A process exec'd in a container.
    Exec {
        container_id: String,
        exec_id: String,
        pid: u32,
        exit_code: i32,
    },
}

/// The exit of a container's init process in `namespace`, or None for
/// anything else (probes, exec'd processes, other namespaces, other types).
#[cfg(test)]
fn decode_exit(namespace: &str, envelope: &Envelope) -> Option<ExitEvent> {
    match decode(namespace, envelope)? {
        Exit::Init(e) => Some(e),
        Exit::Exec { .. } => None,
    }
}

/// A process exit in `namespace`, or None for anything else (probes, other
/// namespaces, other types).
fn decode(namespace: &str, envelope: &Envelope) -> Option<Exit> {
    if envelope.topic != EXIT_TOPIC || envelope.namespace != namespace {
        return None;
    }
    let any = envelope.event.as_ref()?;
    // containerd writes the bare full name; tolerate the `type.googleapis.com/` form.
    if any.type_url.rsplit('/').next() != Some(TASK_EXIT_TYPE) {
        tracing::debug!(type_url = %any.type_url, "ignoring event of unexpected type");
        return None;
    }
    let exit = match TaskExit::decode(any.value.as_slice()) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "undecodable TaskExit event");
            return None;
        }
    };
    // An exec'd process has its own id; the init process's id is the container's.
    if exit.id != exit.container_id {
        return Some(Exit::Exec {
            container_id: exit.container_id,
            exec_id: exit.id,
            pid: exit.pid,
            exit_code: exit_code(exit.exit_status),
        });
    }
    let at = exit.exited_at.or(envelope.timestamp)?;
    let exited_at_ms = at.seconds.saturating_mul(1000) + i64::from(at.nanos / 1_000_000);
    tracing::debug!(container = %exit.container_id, pid = exit.pid, exit_code = exit.exit_status, "task exit event");
    Some(Exit::Init(ExitEvent {
        container_id: exit.container_id,
        exit_code: exit_code(exit.exit_status),
        exited_at_ms,
        task_gone: false,
    }))
}

/// Subscribe, and probe until the stream delivers: then it is live.
async fn open(conn: &Conn) -> Result<Streaming<Envelope>, RuntimeError> {
    let ns = conn.namespace();
    let filters = vec![
        format!("topic==\"{EXIT_TOPIC}\",namespace==\"{ns}\""),
        format!("topic==\"{PROBE_TOPIC}\",namespace==\"{ns}\""),
    ];
    let events_err = |kind, message| RuntimeError::Events { kind, message };
    let mut client = EventsClient::new(conn.channel());
    let mut publisher = EventsClient::new(conn.channel());
    let subscribe = client.subscribe(conn.request(SubscribeRequest { filters }));
    tokio::pin!(subscribe);
    let mut probe = tokio::time::interval(PROBE_EVERY);
    let deadline = tokio::time::sleep(OPEN_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            res = &mut subscribe => {
                return res.map(|r| r.into_inner()).map_err(|s| from_status(s, events_err));
            }
            _ = probe.tick() => {
                let req = PublishRequest {
                    topic: PROBE_TOPIC.to_string(),
                    event: Some(prost_types::Any {
                        type_url: "type.googleapis.com/google.protobuf.Empty".to_string(),
                        value: Vec::new(),
                    }),
                };
                if let Err(s) = publisher.publish(conn.request(req)).await {
                    return Err(from_status(s, |kind, m| events_err(kind, format!("publishing probe: {m}"))));
                }
            }
            _ = &mut deadline => {
                return Err(events_err(ErrorKind::Other, format!("no event came back within {OPEN_TIMEOUT:?}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use containerd_client::to_any;

    fn envelope(ns: &str, topic: &str, exit: &TaskExit) -> Envelope {
        Envelope {
            timestamp: None,
            namespace: ns.into(),
            topic: topic.into(),
            event: Some(to_any(exit)),
        }
    }

    fn exit(container: &str, id: &str, status: u32) -> TaskExit {
        TaskExit {
            container_id: container.into(),
            id: id.into(),
            pid: 42,
            exit_status: status,
            exited_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 123_456_789,
            }),
        }
    }

    #[test]
    fn exec_exit_is_decoded_with_its_ids_and_pid() {
        let env = envelope("ecs", EXIT_TOPIC, &exit("c1", "ecs-health-check", 1));
        assert_eq!(
            decode("ecs", &env),
            Some(Exit::Exec {
                container_id: "c1".into(),
                exec_id: "ecs-health-check".into(),
                pid: 42,
                exit_code: 1,
            })
        );
        assert!(decode("other", &env).is_none(), "another namespace");
    }

    #[test]
    fn init_exit_is_decoded() {
        let ev = decode_exit("ecs", &envelope("ecs", EXIT_TOPIC, &exit("c1", "c1", 137))).unwrap();
        assert_eq!(
            ev,
            ExitEvent {
                container_id: "c1".into(),
                exit_code: 137,
                exited_at_ms: 1_700_000_000_123,
                task_gone: false,
            }
        );
    }

    #[test]
    fn other_events_are_ignored() {
        assert!(decode_exit(
            "ecs",
            &envelope("ecs", EXIT_TOPIC, &exit("c1", "exec-1", 0))
        )
        .is_none());
        assert!(decode_exit("ecs", &envelope("other", EXIT_TOPIC, &exit("c1", "c1", 0))).is_none());
        assert!(decode_exit("ecs", &envelope("ecs", PROBE_TOPIC, &exit("c1", "c1", 0))).is_none());
        let mut wrong_type = envelope("ecs", EXIT_TOPIC, &exit("c1", "c1", 0));
        if let Some(any) = wrong_type.event.as_mut() {
            any.type_url = "containerd.events.TaskOOM".into();
        }
        assert!(decode_exit("ecs", &wrong_type).is_none());
    }

    #[test]
    fn only_stopped_tasks_are_replayed() {
        let ts = prost_types::Timestamp {
            seconds: 5,
            nanos: 2_000_000,
        };
        let p = |status: ProcessStatus, exited_at| Process {
            id: "c1".into(),
            pid: 7,
            status: status as i32,
            exit_status: 9,
            exited_at,
            ..Default::default()
        };
        assert_eq!(
            stopped_exit(&p(ProcessStatus::Stopped, Some(ts))),
            Some(ExitEvent {
                container_id: "c1".into(),
                exit_code: 9,
                exited_at_ms: 5002,
                task_gone: false,
            })
        );
        assert_eq!(stopped_exit(&p(ProcessStatus::Running, Some(ts))), None);
        assert_eq!(stopped_exit(&p(ProcessStatus::Created, None)), None);
    }

    #[test]
    fn google_style_type_url_is_accepted() {
        let mut env = envelope("ecs", EXIT_TOPIC, &exit("c1", "c1", 3));
        if let Some(any) = env.event.as_mut() {
            any.type_url = "type.googleapis.com/containerd.events.TaskExit".into();
        }
        assert_eq!(decode_exit("ecs", &env).unwrap().exit_code, 3);
    }
}
