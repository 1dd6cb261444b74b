//! The task lifecycle as a pure state machine: events in, actions out.
//!
//! The engine feeds every outcome (`Event`) into `Task::apply` and carries out
//! whatever `Task::next_actions` returns. Nothing here does I/O or reads a
//! clock: times come in with the events.

use std::time::Duration;

use super::def::{Condition, ContainerNetwork, NetworkBinding, TaskDef};
use super::failure::{Failure, FailureKind, StopReason};
use super::status::{ContainerStatus, DesiredStatus, TaskStatus};

/// Per-container runtime facts the state machine tracks.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContainerState {
    pub known: ContainerStatus,
    /// The last status reported to the control plane.
    pub sent: ContainerStatus,
    /// A pull, create or start is under way; wait for its outcome.
    pub in_flight: bool,
    /// The main process was started at least once (dependency conditions need this).
    pub started: bool,
    /// The stop signal has been sent.
    pub stop_sent: bool,
    /// SIGKILL has been sent after the stop timeout.
    pub kill_sent: bool,
    pub runtime_id: Option<String>,
    pub image_digest: Option<String>,
    pub exit_code: Option<i32>,
    /// Why a pull, create, start or dependency failed; rendered as ECS's
    /// reason string only in the report.
    pub reason: Option<Failure>,
    /// The random id in this container's metadata URIs (`/v4/<token>`):
    /// chosen by the engine at acceptance and kept for the task's life.
    /// Empty in checkpoints from before it existed; the engine fills it in.
    #[serde(default)]
    pub token: String,
    /// Unix ms, recorded by the engine when the runtime created/started it.
    #[serde(default)]
    pub created_at_ms: Option<i64>,
    #[serde(default)]
    pub started_at_ms: Option<i64>,
    /// Unix ms of the exit, from the runtime's exit event.
    #[serde(default)]
    pub finished_at_ms: Option<i64>,
    /// Set once its network namespace is ready (not in host mode).
    #[serde(default)]
    pub network: Option<ContainerNetwork>,
    /// Its own `startTimeout` has passed since it started (the engine's
    /// timer says so): containers waiting on its SUCCESS or COMPLETE give up.
    #[serde(default)]
    pub start_timed_out: bool,
    /// Its health check's state as last changed (status, since, output);
    /// UNKNOWN until a check decides.
    #[serde(default)]
    pub health: super::health::HealthState,
    /// Restarts by its restart policy (the Go agent's RestartTracker).
    #[serde(default)]
    pub restart_count: u32,
    /// Unix ms of the last restart decision.
    #[serde(default)]
    pub last_restart_at_ms: Option<i64>,
    /// The exit code of an exit its restart policy answers with a restart
    /// not yet done; reported as the container's exit if the restart fails.
    #[serde(default)]
    pub restart_pending: Option<i32>,
    /// An exit of the restarted process seen before the restart's outcome:
    /// (exit code, Unix ms), applied once the restart is done.
    #[serde(default)]
    pub exit_during_restart: Option<(i32, i64)>,
}

/// What the engine must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Pull(usize),
    Create(usize),
    Start(usize),
    /// Send the stop signal; report `Event::StopTimedOut` after `timeout` if it still runs.
    Stop {
        container: usize,
        timeout: Duration,
    },
    /// The stop timeout passed: SIGKILL.
    Kill(usize),
    /// Its restart policy restarts the exited container in place: a new
    /// process in the same container (record, snapshot, namespaces, log).
    Restart(usize),
}

/// An outcome the engine observed.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Pulled {
        container: usize,
        result: Result<String, Failure>,
    },
    /// The container is to be created from an image the runtime pulled
    /// before, while the pull asks the registry whether it is still the
    /// one: pulled for the state machine, its digest not known yet.
    PulledProvisionally {
        container: usize,
    },
    /// The pull said that image is the one: its digest, and when the pull
    /// ended.
    ImageConfirmed {
        container: usize,
        digest: String,
        at_ms: i64,
    },
    /// The container's network namespace is set up (comes before `Created`).
    NetworkReady {
        container: usize,
        network: ContainerNetwork,
    },
    Created {
        container: usize,
        result: Result<String, Failure>,
    },
    Started {
        container: usize,
        result: Result<(), Failure>,
    },
    Exited {
        container: usize,
        exit_code: i32,
        at_ms: i64,
    },
    StopTimedOut {
        container: usize,
    },
    /// The outcome of an `Action::Restart`.
    Restarted {
        container: usize,
        result: Result<(), Failure>,
    },
    /// The kernel's OOM killer killed the container (comes just before its
    /// `Exited`): its reason becomes the Go agent's `OutOfMemoryError`.
    OomKilled {
        container: usize,
    },
    /// The container's `startTimeout` has passed since it started (the Go
    /// agent's `hasDependencyTimedOut`: counted from the dependency's start).
    StartTimeoutPassed {
        container: usize,
    },
    DesiredStatus {
        status: DesiredStatus,
        reason: Option<String>,
    },
    PullStarted {
        at_ms: i64,
    },
    PullStopped {
        at_ms: i64,
    },
}

/// What the runtime reports about a container when the agent starts again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    Missing,
    /// A record (and maybe a task) that was never started.
    Created,
    Running,
    Exited {
        exit_code: i32,
    },
}

/// One report for the control plane: the task's status if it changed, and
/// every container whose reportable status changed since the last report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StateChange {
    pub task_arn: String,
    pub task_status: Option<TaskStatus>,
    pub reason: Option<String>,
    pub containers: Vec<ContainerChange>,
    pub pull_started_at_ms: Option<i64>,
    pub pull_stopped_at_ms: Option<i64>,
    pub execution_stopped_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContainerChange {
    pub name: String,
    pub status: ContainerStatus,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub runtime_id: Option<String>,
    pub image_digest: Option<String>,
    /// Host ports forwarded to the container (bridge mode).
    #[serde(default)]
    pub network_bindings: Vec<NetworkBinding>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
/// The fields are the task core's own (visible to its tests): the rest of
/// the crate changes a task through `apply` and the `record_*` and
/// `assign_tokens` methods, and reads it through accessors. Field names are
/// the checkpoint's.
pub struct Task {
    pub(super) def: TaskDef,
    pub(super) desired: DesiredStatus,
    pub(super) known: TaskStatus,
    pub(super) sent: TaskStatus,
    /// Parallel to `def.containers`.
    pub(super) containers: Vec<ContainerState>,
    pub(super) stop_reason: Option<StopReason>,
    pub(super) pull_started_at_ms: Option<i64>,
    pub(super) pull_stopped_at_ms: Option<i64>,
    pub(super) execution_stopped_at_ms: Option<i64>,
    /// ECS_CONTAINER_STOP_TIMEOUT: used when a container sets no stopTimeout.
    pub(super) default_stop_timeout: Duration,
    /// The image digests went out in their own PENDING report (the Go
    /// agent's MANIFEST_PULLED report), or the task got past PENDING first.
    #[serde(default)]
    pub(super) digests_reported: bool,
}

/// Why a container with dependencies cannot start yet (or ever).
enum DependencyCheck {
    Met,
    Waiting,
    Failed(Failure),
    /// A dependency's `startTimeout` ran out before its condition was met.
    TimedOut(Failure),
}

/// The exit code the Go agent gives a container whose dependency timed out.
pub const DEPENDENCY_TIMEOUT_EXIT_CODE: i32 = 143;

impl Task {
    pub fn new(def: TaskDef, desired: DesiredStatus, default_stop_timeout: Duration) -> Task {
        let containers = vec![ContainerState::default(); def.containers.len()];
        Task {
            def,
            desired,
            known: TaskStatus::Pending,
            sent: TaskStatus::Pending,
            containers,
            stop_reason: None,
            pull_started_at_ms: None,
            pull_stopped_at_ms: None,
            execution_stopped_at_ms: None,
            default_stop_timeout,
            digests_reported: false,
        }
    }

    /// Why the task is stopping, as ECS shows it.
    pub fn stop_reason(&self) -> Option<String> {
        self.stop_reason.as_ref().map(StopReason::to_string)
    }

    pub fn arn(&self) -> &str {
        &self.def.arn
    }

    pub fn def(&self) -> &TaskDef {
        &self.def
    }

    pub fn desired(&self) -> DesiredStatus {
        self.desired
    }

    pub fn known(&self) -> TaskStatus {
        self.known
    }

    /// Parallel to `def().containers`.
    pub fn containers(&self) -> &[ContainerState] {
        &self.containers
    }

    pub fn pull_started_at_ms(&self) -> Option<i64> {
        self.pull_started_at_ms
    }

    pub fn pull_stopped_at_ms(&self) -> Option<i64> {
        self.pull_stopped_at_ms
    }

    pub fn execution_stopped_at_ms(&self) -> Option<i64> {
        self.execution_stopped_at_ms
    }

    /// The runtime created container `i` at `at_ms` (Unix ms; shown by the endpoints).
    pub fn record_created(&mut self, i: usize, at_ms: i64) {
        if let Some(c) = self.containers.get_mut(i) {
            c.created_at_ms = Some(at_ms);
        }
    }

    /// The runtime started container `i` at `at_ms` (Unix ms; shown by the endpoints).
    pub fn record_started(&mut self, i: usize, at_ms: i64) {
        if let Some(c) = self.containers.get_mut(i) {
            c.started_at_ms = Some(at_ms);
        }
    }

    /// Gives every container without a metadata token one from `mint`:
    /// all of them at acceptance, and those of checkpoints from before tokens.
    pub fn assign_tokens(&mut self, mut mint: impl FnMut() -> String) {
        for c in self.containers.iter_mut().filter(|c| c.token.is_empty()) {
            c.token = mint();
        }
    }

    /// Container `i`'s health check changed its status: keep the new state
    /// (containers waiting for it to be HEALTHY may start). Ignored unless
    /// the container runs and has a check.
    pub fn set_health(&mut self, i: usize, health: super::health::HealthState) {
        let has_check = self
            .def
            .containers
            .get(i)
            .is_some_and(|d| d.health_check.is_some());
        if let Some(c) = self.containers.get_mut(i) {
            if has_check && c.known == ContainerStatus::Running {
                c.health = health;
            }
        }
    }

    /// Index of the container with this runtime (containerd) id.
    pub fn container_by_runtime_id(&self, id: &str) -> Option<usize> {
        self.containers
            .iter()
            .position(|c| c.runtime_id.as_deref() == Some(id))
    }

    pub fn is_done(&self) -> bool {
        self.known == TaskStatus::Stopped && self.sent == TaskStatus::Stopped
    }

    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Pulled { container, result } => {
                let Some(c) = self.containers.get_mut(container) else {
                    return;
                };
                c.in_flight = false;
                match result {
                    Ok(digest) => {
                        c.image_digest = Some(digest);
                        c.known = c.known.max(ContainerStatus::Pulled);
                    }
                    Err(reason) => self.container_failed(container, reason),
                }
            }
            Event::PulledProvisionally { container } => {
                if let Some(c) = self.containers.get_mut(container) {
                    c.in_flight = false;
                    c.known = c.known.max(ContainerStatus::Pulled);
                }
            }
            Event::ImageConfirmed {
                container,
                digest,
                at_ms,
            } => {
                if let Some(c) = self.containers.get_mut(container) {
                    c.image_digest = Some(digest);
                }
                self.pull_stopped_at_ms = Some(at_ms);
            }
            Event::NetworkReady { container, network } => {
                if let Some(c) = self.containers.get_mut(container) {
                    c.network = Some(network);
                }
            }
            Event::Created { container, result } => {
                let Some(c) = self.containers.get_mut(container) else {
                    return;
                };
                c.in_flight = false;
                match result {
                    Ok(id) => {
                        c.runtime_id = Some(id);
                        c.known = c.known.max(ContainerStatus::Created);
                    }
                    Err(reason) => self.container_failed(container, reason),
                }
            }
            Event::Started { container, result } => {
                let Some(c) = self.containers.get_mut(container) else {
                    return;
                };
                c.in_flight = false;
                match result {
                    Ok(()) => {
                        c.started = true;
                        // An exit may have been seen before the start call returned.
                        c.known = c.known.max(ContainerStatus::Running);
                    }
                    Err(reason) => self.container_failed(container, reason),
                }
            }
            Event::Exited {
                container,
                exit_code,
                at_ms,
            } => {
                let Some(c) = self.containers.get_mut(container) else {
                    return;
                };
                // Without a runtime id nothing of ours can have exited: this is
                // the exit of a half-made container removed to be made again.
                if c.known == ContainerStatus::Stopped || c.runtime_id.is_none() {
                    return;
                }
                if c.restart_pending.is_some() {
                    // The replaced process's exit seen again, or the new
                    // process's, which waits for the restart's outcome.
                    if at_ms > c.last_restart_at_ms.unwrap_or(i64::MIN) {
                        c.exit_during_restart = Some((exit_code, at_ms));
                    }
                    return;
                }
                if self.should_restart(container, exit_code, at_ms) {
                    let c = &mut self.containers[container];
                    c.restart_count += 1;
                    c.last_restart_at_ms = Some(at_ms);
                    c.restart_pending = Some(exit_code);
                    return;
                }
                let c = &mut self.containers[container];
                c.started = true;
                self.container_exited(container, exit_code, at_ms);
            }
            Event::StopTimedOut { .. } => {}
            Event::Restarted { container, result } => {
                let Some(c) = self.containers.get_mut(container) else {
                    return;
                };
                c.in_flight = false;
                let Some(exit_code) = c.restart_pending.take() else {
                    return;
                };
                let during = c.exit_during_restart.take();
                match result {
                    Ok(()) => {
                        if let Some((exit_code, at_ms)) = during {
                            self.apply(Event::Exited {
                                container,
                                exit_code,
                                at_ms,
                            });
                            return;
                        }
                    }
                    // As the Go agent: a failed restart ends in the stop the
                    // exit would have caused.
                    Err(_) => {
                        let at_ms = c.last_restart_at_ms.unwrap_or(0);
                        self.container_exited(container, exit_code, at_ms);
                    }
                }
            }
            Event::OomKilled { container } => {
                if let Some(c) = self.containers.get_mut(container) {
                    if c.known != ContainerStatus::Stopped {
                        c.reason = Some(Failure::out_of_memory());
                    }
                }
            }
            Event::StartTimeoutPassed { container } => {
                if let Some(c) = self.containers.get_mut(container) {
                    c.start_timed_out = c.started;
                }
            }
            Event::DesiredStatus { status, reason } => {
                if status == DesiredStatus::Stopped && self.desired != DesiredStatus::Stopped {
                    self.desired = DesiredStatus::Stopped;
                    if self.stop_reason.is_none() {
                        self.stop_reason = reason.map(StopReason::Requested);
                    }
                }
            }
            Event::PullStarted { at_ms } => {
                self.pull_started_at_ms.get_or_insert(at_ms);
            }
            Event::PullStopped { at_ms } => {
                self.pull_stopped_at_ms = Some(at_ms);
            }
        }
        self.update_task_status();
    }

    fn container_exited(&mut self, container: usize, exit_code: i32, at_ms: i64) {
        let Some(c) = self.containers.get_mut(container) else {
            return;
        };
        c.known = ContainerStatus::Stopped;
        c.exit_code = Some(exit_code);
        c.finished_at_ms = Some(at_ms);
        self.execution_stopped_at_ms = Some(at_ms);
        self.after_container_stopped(container);
    }

    /// The Go agent's `RestartTracker.ShouldRestart`: a policy, no stop
    /// asked for, a code not ignored, and at least the attempt period since
    /// the container started or last restarted (`at_ms`: the exit).
    fn should_restart(&self, container: usize, exit_code: i32, at_ms: i64) -> bool {
        let (Some(def), Some(c)) = (
            self.def.containers.get(container),
            self.containers.get(container),
        ) else {
            return false;
        };
        let Some(policy) = &def.restart_policy else {
            return false;
        };
        if self.desired == DesiredStatus::Stopped || c.stop_sent {
            return false;
        }
        if policy.ignored_exit_codes.contains(&exit_code) {
            return false;
        }
        let since = c.last_restart_at_ms.or(c.started_at_ms);
        let period_ms = i64::try_from(policy.attempt_period.as_millis()).unwrap_or(i64::MAX);
        since.is_none_or(|s| at_ms.saturating_sub(s) >= period_ms)
    }

    /// A pull, create or start failed: the container will never run.
    fn container_failed(&mut self, container: usize, reason: Failure) {
        if let Some(c) = self.containers.get_mut(container) {
            c.known = ContainerStatus::Stopped;
            c.reason = Some(reason);
        }
        self.after_container_stopped(container);
    }

    fn after_container_stopped(&mut self, container: usize) {
        let Some(def) = self.def.containers.get(container) else {
            return;
        };
        // Secrets, environment files and repositoryCredentials are task
        // resources in the Go agent, made before any container: one that
        // cannot be had stops the task, whichever container needs it.
        let resource_failed = self
            .containers
            .get(container)
            .and_then(|c| c.reason.as_ref())
            .is_some_and(|r| r.kind == FailureKind::Resource);
        if (def.essential || resource_failed) && self.desired != DesiredStatus::Stopped {
            self.desired = DesiredStatus::Stopped;
            // An exit, even one the OOM killer caused, stops the task as an
            // exit (the Go agent's task reason); the container keeps its own.
            let own_reason = self
                .containers
                .get(container)
                .and_then(|c| c.reason.clone())
                .filter(|r| r.kind != FailureKind::OutOfMemory);
            self.stop_reason.get_or_insert_with(|| {
                own_reason.map_or(StopReason::EssentialExited, StopReason::Failed)
            });
        }
    }

    /// The actions to take now. Marks them under way, so calling it twice
    /// without new events returns nothing new.
    pub fn next_actions(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        // Failures found while planning can stop the task; plan again until stable.
        loop {
            let before = (self.desired, self.containers.clone());
            if self.desired == DesiredStatus::Stopped {
                self.plan_stop(&mut actions);
            } else {
                self.plan_run(&mut actions);
            }
            self.update_task_status();
            if before == (self.desired, self.containers.clone()) {
                break;
            }
        }
        actions
    }

    fn plan_run(&mut self, actions: &mut Vec<Action>) {
        for i in 0..self.containers.len() {
            let c = &self.containers[i];
            if c.restart_pending.is_some() && !c.in_flight {
                self.containers[i].in_flight = true;
                actions.push(Action::Restart(i));
                continue;
            }
            if c.in_flight || c.known >= ContainerStatus::Running {
                continue;
            }
            match c.known {
                ContainerStatus::None => {
                    self.containers[i].in_flight = true;
                    actions.push(Action::Pull(i));
                }
                // Docker copies a volumesFrom source's mounts at create, so
                // the source is created first (the Go agent's dependency graph);
                // linked containers too: their addresses go into this one's
                // /etc/hosts and environment when it is created.
                ContainerStatus::Pulled
                    if self.volume_sources_created(i) && !self.links_pending(i) =>
                {
                    self.containers[i].in_flight = true;
                    actions.push(Action::Create(i));
                }
                ContainerStatus::Pulled => {}
                ContainerStatus::Created => match self.check_dependencies(i) {
                    DependencyCheck::Met => {
                        self.containers[i].in_flight = true;
                        actions.push(Action::Start(i));
                    }
                    DependencyCheck::Waiting => {}
                    DependencyCheck::Failed(reason) => self.container_failed(i, reason),
                    DependencyCheck::TimedOut(reason) => {
                        // The Go agent's handleTerminalDependencyError: 143 is
                        // what Docker reports after SIGTERM; the container never
                        // ran, but ECS shows this code for it.
                        self.containers[i].exit_code = Some(DEPENDENCY_TIMEOUT_EXIT_CODE);
                        self.container_failed(i, reason)
                    }
                },
                ContainerStatus::Running | ContainerStatus::Stopped => {}
            }
        }
    }

    /// Every `volumesFrom` source of container `i` is created (or already
    /// past it, or stopped: a failed source stops the task anyway).
    fn volume_sources_created(&self, i: usize) -> bool {
        self.def.containers[i].volumes_from.iter().all(|v| {
            self.def
                .containers
                .iter()
                .position(|c| c.name == v.source_container)
                .is_none_or(|k| self.containers[k].known >= ContainerStatus::Created)
        })
    }

    /// Whether a container container `i` links to is not made yet (one that
    /// stopped before it was made is not waited for: the create then fails
    /// naming the link).
    fn links_pending(&self, i: usize) -> bool {
        self.def.containers[i].net.links.iter().any(|l| {
            self.def
                .containers
                .iter()
                .position(|d| d.name == l.container)
                .is_some_and(|j| self.containers[j].known < ContainerStatus::Created)
        })
    }

    fn plan_stop(&mut self, actions: &mut Vec<Action>) {
        for i in 0..self.containers.len() {
            let c = &self.containers[i];
            // A stop ends restarts: an exit waiting for its restart stands.
            if let Some(code) = c.restart_pending.filter(|_| !c.in_flight) {
                let at_ms = c.last_restart_at_ms.unwrap_or(0);
                self.containers[i].restart_pending = None;
                self.container_exited(i, code, at_ms);
                continue;
            }
            if c.known == ContainerStatus::Stopped || c.in_flight {
                continue;
            }
            if c.known < ContainerStatus::Running {
                // Never started: nothing to signal.
                self.containers[i].known = ContainerStatus::Stopped;
                continue;
            }
            if c.stop_sent || !self.dependents_stopped(i) {
                continue;
            }
            self.containers[i].stop_sent = true;
            let timeout = self.def.containers[i]
                .stop_timeout
                .unwrap_or(self.default_stop_timeout);
            actions.push(Action::Stop {
                container: i,
                timeout,
            });
        }
    }

    /// After an agent restart: align with what the runtime reports for each
    /// container (`observed`, parallel to the containers). Running containers
    /// are adopted as they are; those that exited while the agent was down
    /// become STOPPED with their real exit code, unless their restart policy
    /// restarts them now (`now_ms`: the exit is only seen now); anything
    /// half-made is redone. Returns the containers whose runtime leftovers
    /// must be removed first.
    pub fn reconcile(&mut self, observed: &[Observed], now_ms: i64) -> Vec<usize> {
        let mut remove = Vec::new();
        for i in 0..self.containers.len() {
            let seen = observed.get(i).copied().unwrap_or(Observed::Missing);
            let restart_now = match seen {
                Observed::Exited { exit_code } => {
                    self.containers[i].known == ContainerStatus::Running
                        && self.should_restart(i, exit_code, now_ms)
                }
                _ => false,
            };
            let c = &mut self.containers[i];
            // Whatever was under way died with the old process.
            c.in_flight = false;
            if c.known == ContainerStatus::Stopped {
                continue;
            }
            if c.restart_pending.is_some() && seen != Observed::Missing {
                // The restart was under way: done if the new process runs,
                // otherwise done again (it deletes what is left first).
                if seen == Observed::Running {
                    c.restart_pending = None;
                    c.exit_during_restart = None;
                }
                continue;
            }
            match seen {
                Observed::Running => {
                    c.known = ContainerStatus::Running;
                    c.started = true;
                    // The stop timer died with the old process: stop again if still wanted.
                    c.stop_sent = false;
                    c.kill_sent = false;
                }
                Observed::Exited { exit_code } if restart_now => {
                    // Exited while the agent was down: restarted as if seen live
                    // (the Go agent restarts it too once it syncs the state).
                    c.started = true;
                    c.stop_sent = false;
                    c.kill_sent = false;
                    c.restart_count += 1;
                    c.last_restart_at_ms = Some(now_ms);
                    c.restart_pending = Some(exit_code);
                }
                Observed::Exited { exit_code } => {
                    c.known = ContainerStatus::Stopped;
                    c.started = true;
                    c.exit_code = Some(exit_code);
                    self.after_container_stopped(i);
                }
                Observed::Created | Observed::Missing if c.known >= ContainerStatus::Running => {
                    c.known = ContainerStatus::Stopped;
                    c.reason = Some(Failure::vanished());
                    self.after_container_stopped(i);
                }
                Observed::Created | Observed::Missing => {
                    // Half-made (or never made): start over from the pull, which
                    // finds the image in place.
                    if seen == Observed::Created {
                        remove.push(i);
                    }
                    c.known = ContainerStatus::None;
                    c.runtime_id = None;
                }
            }
        }
        self.update_task_status();
        remove
    }

    /// A running container's process ended with no exit status left to read
    /// (`why` says how): stopped, its exit code unknown, as the Go agent
    /// reports a container whose state Docker lost.
    pub fn container_lost(&mut self, container: usize, why: Failure) {
        let Some(c) = self.containers.get_mut(container) else {
            return;
        };
        if c.known != ContainerStatus::Running || c.in_flight || c.restart_pending.is_some() {
            return;
        }
        c.known = ContainerStatus::Stopped;
        c.started = true;
        c.reason = Some(why);
        self.after_container_stopped(container);
        self.update_task_status();
    }

    /// The engine reports that the stop timeout passed; SIGKILL if it still runs.
    pub fn on_stop_timeout(&mut self, container: usize) -> Option<Action> {
        let c = self.containers.get_mut(container)?;
        if c.known == ContainerStatus::Running && !c.kill_sent {
            c.kill_sent = true;
            return Some(Action::Kill(container));
        }
        None
    }

    /// Containers are stopped in reverse dependency order: a container stops
    /// only once everything that depends on it has stopped.
    fn dependents_stopped(&self, container: usize) -> bool {
        let name = &self.def.containers[container].name;
        self.def
            .containers
            .iter()
            .zip(&self.containers)
            .all(|(def, state)| {
                state.known == ContainerStatus::Stopped
                    || !def.depends_on.iter().any(|d| &d.container == name)
            })
    }

    fn check_dependencies(&self, container: usize) -> DependencyCheck {
        let mut waiting = false;
        for dep in &self.def.containers[container].depends_on {
            let Some(j) = self
                .def
                .containers
                .iter()
                .position(|d| d.name == dep.container)
            else {
                return DependencyCheck::Failed(Failure::new(
                    FailureKind::Dependency,
                    format!("container {:?} is not in the task", dep.container),
                ));
            };
            let d = &self.containers[j];
            let never_ran = d.known == ContainerStatus::Stopped && !d.started;
            if never_ran {
                return DependencyCheck::Failed(Failure::new(
                    FailureKind::Dependency,
                    format!(
                        "container {:?} never started{}",
                        dep.container,
                        d.reason
                            .as_ref()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default()
                    ),
                ));
            }
            // The Go agent's hasDependencyTimedOut: only SUCCESS, COMPLETE
            // and HEALTHY time out, and a dependency that already stopped
            // cannot. (Go checks it while the target is not yet created;
            // this agent creates first and waits before the start, so the
            // same moment is "not yet started".)
            let times_out = matches!(
                dep.condition,
                Condition::Success | Condition::Complete | Condition::Healthy
            );
            let healthy = d.health.status == super::health::HealthStatus::Healthy;
            let times_out = times_out && !(dep.condition == Condition::Healthy && healthy);
            if times_out && d.start_timed_out && d.known != ContainerStatus::Stopped {
                return DependencyCheck::TimedOut(Failure::new(
                    FailureKind::CannotStart,
                    format!(
                        "dependency graph: container ordering dependency [{}] for target [{}] has timed out.",
                        self.go_container_string(j),
                        self.go_container_string(container)
                    ),
                ));
            }
            match dep.condition {
                Condition::Start => waiting |= d.known < ContainerStatus::Running,
                Condition::Complete => waiting |= d.known < ContainerStatus::Stopped,
                Condition::Healthy if healthy => {}
                Condition::Healthy if d.known == ContainerStatus::Stopped => {
                    // Its checks ended with it: it can never become HEALTHY.
                    return DependencyCheck::Failed(Failure::new(
                        FailureKind::Dependency,
                        format!(
                            "container {:?} stopped before its health check passed (condition HEALTHY)",
                            dep.container
                        ),
                    ));
                }
                Condition::Healthy => waiting = true,
                Condition::Success => {
                    if d.known < ContainerStatus::Stopped {
                        waiting = true;
                    } else if d.exit_code != Some(0) {
                        return DependencyCheck::Failed(Failure::new(
                            FailureKind::Dependency,
                            format!(
                                "container {:?} exited with code {} but condition SUCCESS needs 0",
                                dep.container,
                                d.exit_code
                                    .map(|c| c.to_string())
                                    .unwrap_or_else(|| "unknown".into())
                            ),
                        ));
                    }
                }
            }
        }
        if waiting {
            DependencyCheck::Waiting
        } else {
            DependencyCheck::Met
        }
    }

    /// A container as the Go agent's `Container.String()` prints it in its
    /// dependency errors: `name(image) (KNOWN->DESIRED)`, then ` - Exit: N`.
    fn go_container_string(&self, i: usize) -> String {
        let (def, c) = (&self.def.containers[i], &self.containers[i]);
        let desired =
            if self.desired == DesiredStatus::Stopped || c.known == ContainerStatus::Stopped {
                "STOPPED"
            } else {
                "RUNNING"
            };
        let mut s = format!(
            "{}({}) ({}->{desired})",
            def.name,
            def.image,
            c.known.go_name()
        );
        if let Some(code) = c.exit_code {
            s.push_str(&format!(" - Exit: {code}"));
        }
        s
    }

    fn update_task_status(&mut self) {
        let all_stopped = self
            .containers
            .iter()
            .all(|c| c.known == ContainerStatus::Stopped);
        let derived = if all_stopped {
            TaskStatus::Stopped
        } else if self
            .containers
            .iter()
            .all(|c| c.known >= ContainerStatus::Running)
        {
            TaskStatus::Running
        } else {
            TaskStatus::Pending
        };
        // No default stop reason here: a stop the control plane asked for keeps
        // the reason it recorded itself.
        self.known = self.known.max(derived);
    }

    /// Once every container's image digest is known and the task is still
    /// PENDING: one entry per container not yet reported, status PENDING
    /// with its digest, as the Go agent's manifest-pulled report carries
    /// them (agent/api/statechange.go: a container at MANIFEST_PULLED with a
    /// resolved digest is reported, its BackendStatusString being PENDING).
    /// Our digests come from the pull itself, so the report follows the
    /// last pull rather than a manifest-only fetch before it.
    fn take_digests_report(&mut self) -> Vec<ContainerChange> {
        if self.digests_reported
            || self.known != TaskStatus::Pending
            || self.containers.is_empty()
            || self.containers.iter().any(|c| c.image_digest.is_none())
        {
            return Vec::new();
        }
        self.digests_reported = true;
        self.def
            .containers
            .iter()
            .zip(self.containers.iter())
            .filter(|(_, c)| c.sent == ContainerStatus::None && c.known < ContainerStatus::Running)
            .map(|(def, c)| ContainerChange {
                name: def.name.clone(),
                status: ContainerStatus::Pulled,
                exit_code: None,
                reason: None,
                runtime_id: c.runtime_id.clone(),
                image_digest: c.image_digest.clone(),
                network_bindings: Vec::new(),
            })
            .collect()
    }

    /// What has changed since the last report, marking it reported. The engine
    /// hands the change to a reporter that retries until the control plane takes it.
    pub fn take_report(&mut self) -> Option<StateChange> {
        let mut containers = self.take_digests_report();
        let digests = !containers.is_empty();
        for (def, c) in self.def.containers.iter().zip(self.containers.iter_mut()) {
            if c.known.wire().is_some() && c.known != c.sent {
                c.sent = c.known;
                containers.push(ContainerChange {
                    name: def.name.clone(),
                    status: c.known,
                    exit_code: if c.known == ContainerStatus::Stopped {
                        c.exit_code
                    } else {
                        None
                    },
                    reason: c.reason.as_ref().map(Failure::to_string),
                    runtime_id: c.runtime_id.clone(),
                    image_digest: c.image_digest.clone(),
                    network_bindings: c
                        .network
                        .as_ref()
                        .map(|n| n.bindings.clone())
                        .unwrap_or_default(),
                });
            }
        }
        let task_status = if self.known != self.sent && self.known != TaskStatus::Pending {
            Some(self.known)
        } else if digests {
            // The Go agent reports its MANIFEST_PULLED step as task PENDING
            // (agent/api/statechange.go NewTaskStateChangeEvent; ecs-agent's
            // TaskStatus.BackendStatus maps it to PENDING).
            Some(TaskStatus::Pending)
        } else {
            None
        };
        if let Some(s) = task_status {
            self.sent = s;
        }
        if task_status.is_none() && containers.is_empty() {
            return None;
        }
        let stopped = task_status == Some(TaskStatus::Stopped);
        if self.known != TaskStatus::Pending {
            self.digests_reported = true;
        }
        Some(StateChange {
            task_arn: self.def.arn.clone(),
            task_status,
            reason: if stopped {
                self.stop_reason.as_ref().map(StopReason::to_string)
            } else {
                None
            },
            containers,
            pull_started_at_ms: self.pull_started_at_ms,
            pull_stopped_at_ms: self.pull_stopped_at_ms,
            execution_stopped_at_ms: if stopped {
                self.execution_stopped_at_ms
            } else {
                None
            },
        })
    }
}
