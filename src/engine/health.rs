//! Health checks of running containers, as Docker's health monitor runs
//! them: one timer-driven tokio task per container with a check (a few
//! hundred bytes and a timer while it sleeps), each probe an exec in the
//! container through the runtime, bounded by its timeout. A container whose
//! probe hangs holds only its own loop. The loop owns the Docker bookkeeping
//! ([`HealthState`]: streak, last results) and tells the task's actor only
//! when the status changes, so a probe that changes nothing costs no
//! checkpoint write and no republished view.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::observe::AgentMetrics;
use crate::runtime::{ContainerRuntime, ExecOutcome};
use crate::task::health::{CheckResult, HealthCheck, HealthState, MAX_OUTPUT_LEN};
use crate::task::spec::container_id;
use crate::task::{ContainerStatus, Task};

use super::inner::{now_ms, Inner, Msg};

/// The health check loops of one task's containers, by container index.
pub(crate) struct HealthLoops {
    /// Dropping a sender stops its loop (between probes, never mid-probe,
    /// so a probe's exec is always cleaned up).
    stops: Vec<Option<oneshot::Sender<()>>>,
}

impl HealthLoops {
    pub(crate) fn new(containers: usize) -> HealthLoops {
        HealthLoops {
            stops: (0..containers).map(|_| None).collect(),
        }
    }

    /// Starts the loops of running containers with a check that have none,
    /// and stops those of containers no longer running.
    pub(crate) fn sync<R: ContainerRuntime>(
        &mut self,
        inner: &Arc<Inner<R>>,
        task: &Task,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        for (i, (def, state)) in task
            .def()
            .containers
            .iter()
            .zip(task.containers())
            .enumerate()
        {
            let Some(slot) = self.stops.get_mut(i) else {
                continue;
            };
            let check = def
                .health_check
                .as_ref()
                .filter(|_| state.known == ContainerStatus::Running);
            match (check, slot.is_some()) {
                (Some(check), false) => {
                    let (stop_tx, stop_rx) = oneshot::channel();
                    *slot = Some(stop_tx);
                    let probe = Probe {
                        task: task.arn().to_string(),
                        index: i,
                        id: container_id(task.def().id(), i, &def.name),
                        check: check.clone(),
                        started_ms: state.started_at_ms.unwrap_or_else(now_ms),
                    };
                    tracing::debug!(task = %probe.task, container = %probe.id, "health checks start");
                    tokio::spawn(probe.run(
                        inner.runtime.clone(),
                        inner.metrics.clone(),
                        state.health.clone(),
                        tx.clone(),
                        stop_rx,
                    ));
                }
                (None, true) => *slot = None,
                _ => {}
            }
        }
    }
}

struct Probe {
    task: String,
    index: usize,
    id: String,
    check: HealthCheck,
    /// Unix ms when the container started (the start period counts from it).
    started_ms: i64,
}

impl Probe {
    async fn run<R: ContainerRuntime>(
        self,
        runtime: Arc<R>,
        metrics: Arc<AgentMetrics>,
        mut state: HealthState,
        tx: mpsc::UnboundedSender<Msg>,
        mut stop: oneshot::Receiver<()>,
    ) {
        let argv = self.check.argv();
        loop {
            let since_start = now_ms().saturating_sub(self.started_ms).max(0) as u64;
            let delay = self
                .check
                .next_delay(state.status, Duration::from_millis(since_start));
            tokio::select! {
                biased;
                _ = &mut stop => return,
                _ = tokio::time::sleep(delay) => {}
            }
            let (result, timed_out) = self.probe(&*runtime, &argv).await;
            metrics.record_health_check(result.exit_code == 0, timed_out);
            if state.record(&self.check, self.started_ms, result) {
                tracing::info!(task = %self.task, container = %self.id, status = state.status.backend(), output = %state.output, "container health changed");
                if tx.send(Msg::Health(self.index, state.clone())).is_err() {
                    return;
                }
            }
        }
    }

    /// The probe's result, and whether it was killed at its timeout.
    async fn probe<R: ContainerRuntime>(
        &self,
        runtime: &R,
        argv: &[String],
    ) -> (CheckResult, bool) {
        let start_ms = now_ms();
        let outcome = runtime
            .health_check(&self.id, argv, self.check.timeout, MAX_OUTPUT_LEN)
            .await;
        let end_ms = now_ms();
        match outcome {
            Ok(ExecOutcome {
                exit_code: Some(code),
                output,
            }) => (CheckResult::exited(start_ms, end_ms, code, &output), false),
            Ok(ExecOutcome {
                exit_code: None,
                output,
            }) => {
                tracing::debug!(task = %self.task, container = %self.id, "health check timed out");
                let r = CheckResult::timed_out(start_ms, end_ms, self.check.timeout, &output);
                (r, true)
            }
            Err(e) => {
                tracing::debug!(task = %self.task, container = %self.id, error = %e, "health check could not run");
                (CheckResult::failed(start_ms, end_ms, &e.to_string()), false)
            }
        }
    }
}
