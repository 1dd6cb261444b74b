//! One task's actor: the only owner of its `Task` state.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::runtime::{ContainerRuntime, ContainerState};
use crate::task::container::PulledImage;
use crate::task::def::task_id;
use crate::task::failure::Failure;
use crate::task::spec::container_id;
use crate::task::{Action, ContainerStatus, Event, Observed, Task, TaskStatus};

use super::exec;
use super::inner::{now_ms, Inner, Msg};
use super::reap::Reaper;

pub(crate) async fn run<R: ContainerRuntime>(
    inner: Arc<Inner<R>>,
    mut task: Task,
    tx: mpsc::UnboundedSender<Msg>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    restored: bool,
) {
    if restored {
        reconcile(&inner, &mut task).await;
        rearm_start_timeouts(&task, &tx);
    }
    // Before any container writes (new task) or from the checkpoint (restored).
    if let Some(shipper) = &inner.log_shipper {
        shipper.start(task.def());
    }
    if restored {
        exec::resume_secret_log_shipping(&inner, &task);
    }
    let mut images: Vec<Option<PulledImage>> = vec![None; task.containers().len()];
    // OOM kills by the task's memory limit already explained (a restored
    // task's earlier ones included), so that each explains one exit.
    let mut oom_explained = if restored {
        inner.task_oom_kills(task.def().id()).unwrap_or(0)
    } else {
        0
    };
    let mut network_released = false;
    let mut reaper = Reaper::new(&task);
    let mut checkpointed;
    let mut health = super::health::HealthLoops::new(task.containers().len());
    loop {
        let actions = task.next_actions();
        if actions.iter().any(|a| matches!(a, Action::Pull(_))) {
            task.apply(Event::PullStarted { at_ms: now_ms() });
        }
        // One view per step, published before acting: a container started
        // below must find its own metadata, and the view shows what was planned.
        inner.publish(&task);
        for action in actions {
            exec::execute(&inner, &task, &images, action, &tx);
        }
        // Checks run while their container runs, resumed after a restart.
        health.sync(&inner, &task, &tx);
        // Released before STOPPED is reported, so that the control plane
        // can place the next task on these host ports as soon as it hears.
        if task.known() == TaskStatus::Stopped && !network_released {
            inner.release_network(task.def()).await;
            // Every container has exited: nothing is left in its namespaces.
            inner.release_namespace_holder(task.def()).await;
            network_released = true;
        }
        // Checkpointed before the next message can act on it, so a restart
        // sees every decision taken so far.
        let change = task.take_report();
        checkpointed = inner.persist_and_report(&task, change);
        // Stopped containers give up their processes once their exit is saved.
        reaper.reap(&inner, &task, checkpointed);
        if task.is_done() {
            inner.mark_finished(task.arn());
            tracing::info!(task = %task.arn(), "task finished");
            break;
        }
        let Some(msg) = rx.recv().await else { break };
        match msg {
            Msg::Event(event) => on_event(&inner, &mut task, event, &mut oom_explained, &tx),
            Msg::Events(events) => {
                for event in events {
                    on_event(&inner, &mut task, event, &mut oom_explained, &tx);
                }
            }
            Msg::Pulled(i, result) => {
                let result = result.map(|image| {
                    let digest = image.digest.clone();
                    if let Some(slot) = images.get_mut(i) {
                        *slot = Some(*image);
                    }
                    digest
                });
                task.apply(Event::PullStopped { at_ms: now_ms() });
                task.apply(Event::Pulled {
                    container: i,
                    result,
                });
            }
            Msg::PulledProvisionally(i, image) => {
                if let Some(slot) = images.get_mut(i) {
                    *slot = Some(*image);
                }
                task.apply(Event::PulledProvisionally { container: i });
            }
            Msg::StopTimedOut(i) => {
                if let Some(kill) = task.on_stop_timeout(i) {
                    tracing::warn!(task = %task.arn(), container = i, "stop timeout passed; sending SIGKILL");
                    exec::execute(&inner, &task, &images, kill, &tx);
                }
            }
            Msg::Recheck => recheck(&inner, &mut task).await,
            Msg::Health(i, state) => task.set_health(i, state),
        }
    }
    // Stops any loop still running (their containers are gone).
    drop(health);
    inner.forget_image_checks(task.arn());
    cleanup(&inner, &mut task, &mut reaper, checkpointed, &mut rx).await;
}

/// Container `i` started `elapsed` ago: tell the task when its own
/// `startTimeout` (if any) has passed, so that containers waiting on its
/// SUCCESS or COMPLETE stop waiting (the Go agent's dependency timeout).
/// Applies a runtime's or a step's event, with what it implies: an OOM
/// kill explained, the runtime's times stamped, a started container's
/// metadata and start timeout.
fn on_event<R>(
    inner: &Arc<Inner<R>>,
    task: &mut Task,
    event: Event,
    oom_explained: &mut u64,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    if let Some(i) = sigkilled(&event) {
        if oom_killed(inner, task, oom_explained) {
            tracing::warn!(task = %task.arn(), container = i, "container killed by the task's memory limit");
            task.apply(Event::OomKilled { container: i });
        }
    }
    let stamp = runtime_time(&event);
    let started = match stamp {
        Some(Stamp::Started(i)) => Some(i),
        _ => None,
    };
    task.apply(event);
    if let Some(stamp) = stamp {
        stamp.record(task, now_ms());
    }
    if let Some(i) = started {
        exec::metadata_ready(inner, task, i);
        arm_start_timeout(task, i, Duration::ZERO, tx);
    }
}

fn arm_start_timeout(task: &Task, i: usize, elapsed: Duration, tx: &mpsc::UnboundedSender<Msg>) {
    let Some(timeout) = task
        .def()
        .containers
        .get(i)
        .and_then(|d| d.start_timeout)
        .filter(|t| !t.is_zero())
    else {
        return;
    };
    let tx = tx.clone();
    tokio::spawn(async move {
        tokio::time::sleep(timeout.saturating_sub(elapsed)).await;
        let _ = tx.send(Msg::Event(Event::StartTimeoutPassed { container: i }));
    });
}

/// After an agent restart the timers are gone: running containers get
/// theirs back, counted from their recorded start.
fn rearm_start_timeouts(task: &Task, tx: &mpsc::UnboundedSender<Msg>) {
    let now = now_ms();
    for (i, c) in task.containers().iter().enumerate() {
        if c.known != ContainerStatus::Running || c.start_timed_out {
            continue;
        }
        if let Some(at) = c.started_at_ms {
            let elapsed = Duration::from_millis(now.saturating_sub(at).max(0) as u64);
            arm_start_timeout(task, i, elapsed, tx);
        }
    }
}

/// The container of an exit with SIGKILL's code: the OOM killer's signal.
fn sigkilled(event: &Event) -> Option<usize> {
    const SIGKILL_EXIT: i32 = 128 + 9;
    match event {
        Event::Exited {
            container,
            exit_code: SIGKILL_EXIT,
            ..
        } => Some(*container),
        _ => None,
    }
}

/// Whether the task cgroup counts an OOM kill not yet explained. The Go
/// agent only trusts Docker's flag on the container itself, which a kill by
/// the task's limit (the task cgroup, a parent) does not always set; the
/// task cgroup's own count does not miss it.
fn oom_killed<R>(inner: &Inner<R>, task: &Task, explained: &mut u64) -> bool {
    match inner.task_oom_kills(task.def().id()) {
        Some(n) if n > *explained => {
            *explained += 1;
            true
        }
        _ => false,
    }
}

/// Times the endpoints show that the state machine does not track itself.
enum Stamp {
    Created(usize),
    Started(usize),
}

impl Stamp {
    fn record(self, task: &mut Task, at_ms: i64) {
        match self {
            Stamp::Created(i) => task.record_created(i, at_ms),
            Stamp::Started(i) => task.record_started(i, at_ms),
        }
    }
}

fn runtime_time(event: &Event) -> Option<Stamp> {
    match event {
        Event::Created {
            container,
            result: Ok(_),
        } => Some(Stamp::Created(*container)),
        Event::Started {
            container,
            result: Ok(()),
        }
        | Event::Restarted {
            container,
            result: Ok(()),
        } => Some(Stamp::Started(*container)),
        _ => None,
    }
}

/// Asks containerd for each container's state and lets the task decide.
async fn reconcile<R: ContainerRuntime>(inner: &Inner<R>, task: &mut Task) {
    let mut observed = Vec::with_capacity(task.containers().len());
    for (i, def) in task.def().containers.iter().enumerate() {
        let id = container_id(task.def().id(), i, &def.name);
        observed.push(match inner.runtime.state(&id).await {
            Ok(None) => Observed::Missing,
            Ok(Some(ContainerState::Created)) => Observed::Created,
            Ok(Some(ContainerState::Running { .. })) => Observed::Running,
            Ok(Some(ContainerState::Stopped { exit_code })) => Observed::Exited { exit_code },
            Err(e) => {
                // Without an answer, assume what was known: a later Recheck corrects it.
                tracing::warn!(task = %task.arn(), container = %id, error = %e, "cannot ask containerd; keeping the saved status");
                match task.containers()[i].known {
                    ContainerStatus::Running => Observed::Running,
                    _ => Observed::Missing,
                }
            }
        });
    }
    for i in task.reconcile(&observed, now_ms()) {
        let id = container_id(task.def().id(), i, &task.def().containers[i].name);
        tracing::info!(task = %task.arn(), container = %id, "removing a half-made container to make it again");
        if let Err(e) = inner.runtime.remove(&id).await {
            tracing::warn!(container = %id, error = %e, "cannot remove the half-made container");
        }
    }
    tracing::info!(task = %task.arn(), known = ?task.known(), "task reconciled with containerd");
}

/// After the exit stream was down: containers that stopped meanwhile.
async fn recheck<R: ContainerRuntime>(inner: &Inner<R>, task: &mut Task) {
    for i in 0..task.containers().len() {
        // A container being restarted has its old exit already.
        let c = &task.containers()[i];
        if c.known != ContainerStatus::Running || c.in_flight {
            continue;
        }
        let id = container_id(task.def().id(), i, &task.def().containers[i].name);
        match inner.runtime.state(&id).await {
            Ok(Some(ContainerState::Stopped { exit_code })) => {
                tracing::info!(task = %task.arn(), container = %id, exit_code, "exit seen on recheck");
                task.apply(Event::Exited {
                    container: i,
                    exit_code,
                    at_ms: now_ms(),
                });
            }
            // Its task is gone with its exit status (containerd restarted
            // after the process ended and dropped the task).
            Ok(Some(ContainerState::Created) | None) => {
                tracing::warn!(task = %task.arn(), container = %id, "the container's task is gone from containerd with its exit status");
                task.container_lost(i, Failure::exit_lost());
            }
            Ok(Some(ContainerState::Running { .. })) | Err(_) => {}
        }
    }
}

/// ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION after the task stopped: its
/// containers, snapshots and logs go, and the agent forgets it.
/// `checkpointed`: the task's last checkpoint (its containers' exits) was
/// written.
async fn cleanup<R: ContainerRuntime>(
    inner: &Arc<Inner<R>>,
    task: &mut Task,
    reaper: &mut Reaper,
    checkpointed: bool,
    rx: &mut mpsc::UnboundedReceiver<Msg>,
) {
    let jitter = inner.settings.cleanup_jitter.mul_f64(rand::random::<f64>());
    let wait = inner.settings.cleanup_wait + jitter;
    let sleep = tokio::time::sleep(wait);
    tokio::pin!(sleep);
    // Keep draining messages (late exits, re-sent stops) while waiting.
    loop {
        tokio::select! {
            _ = &mut sleep => break,
            msg = rx.recv() => match msg {
                None => break,
                // A container that exits at once can be seen exited (and
                // its task done) before its start call returns; the
                // start's answer frees it to give up its containerd task.
                Some(Msg::Event(event)) => {
                    task.apply(event);
                    reaper.reap(inner, task, checkpointed);
                }
                Some(_) => {}
            },
        }
    }
    for (i, def) in task.def().containers.iter().enumerate() {
        let id = container_id(task.def().id(), i, &def.name);
        if let Err(e) = inner.runtime.remove(&id).await {
            tracing::warn!(task = %task.arn(), container = %id, error = %e, "cannot remove container at cleanup");
        }
    }
    // Again, in case the release at stop failed; idempotent.
    inner.release_network(task.def()).await;
    inner.release_namespace_holder(task.def()).await;
    // Its containers are gone, so nothing holds the cgroup any more.
    inner.remove_task_cgroup(task.def().id());
    // Their loggers are gone too: what is left of the spools ships before
    // the logs go.
    if let Some(shipper) = &inner.log_shipper {
        shipper.finish(task.arn()).await;
    }
    let logs = inner
        .settings
        .data_dir
        .join("logs")
        .join(task_id(task.arn()));
    crate::blocking::run(|| {
        if let Err(e) = std::fs::remove_dir_all(&logs) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(task = %task.arn(), path = %logs.display(), error = %e, "cannot remove task logs");
            }
        }
        exec::remove_task_files(&inner.settings.data_dir, task.arn());
    });
    if let Err(e) = inner.checkpoint.delete_task(task.arn()) {
        tracing::error!(task = %task.arn(), error = %e, "cannot remove the task from the state");
    }
    inner.forget(task);
    tracing::info!(task = %task.arn(), "task cleaned up");
    // What it used is free now; the agent's settle watcher gives the pages
    // back once the cleanups stop.
    inner.metrics.inc_tasks_cleaned_up();
}
