//! A [`ContainerRuntime`] for the engine's unit tests, after youki's
//! recording syscall fake (`libcontainer/src/syscall/test.rs`): a test queues
//! the outcome of each kind of call, the fake records every call with its
//! arguments and the (tokio, so pausable) instant it came, and a test pushes
//! container exits into the stream `subscribe_exits` handed out. A call whose
//! queue is empty succeeds the way a healthy containerd would answer.
//! Test-only: declared under `#[cfg(test)]`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

use super::metrics::ContainerMetrics;
use super::{ContainerRuntime, ContainerState, ExitEvent, RuntimeError};
use crate::config::RegistryCredentials;
use crate::task::container::{ContainerSpec, ImageConfig, PulledImage};
use crate::task::image_ref::ImageRef;

/// One call the engine made, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Pull {
        reference: String,
        with_credentials: bool,
    },
    FindImage {
        reference: String,
    },
    Create {
        id: String,
    },
    Start {
        id: String,
    },
    Kill {
        id: String,
        signal: i32,
    },
    DeleteTask {
        id: String,
    },
    Restart {
        id: String,
    },
    Remove {
        id: String,
    },
    State {
        id: String,
    },
    SubscribeExits,
    Exec {
        id: String,
        args: Vec<String>,
    },
    Metrics {
        ids: Vec<String>,
    },
    List,
    Pids,
    EnsureNamespaceHolder {
        id: String,
    },
    RemoveNamespaceHolder {
        id: String,
    },
}

/// The queued outcomes, one queue per kind of call.
#[derive(Default)]
struct Outcomes {
    pull: VecDeque<Result<PulledImage, RuntimeError>>,
    find_image: VecDeque<Result<Option<PulledImage>, RuntimeError>>,
    create: VecDeque<Result<(), RuntimeError>>,
    start: VecDeque<Result<u32, RuntimeError>>,
    kill: VecDeque<Result<(), RuntimeError>>,
    delete_task: VecDeque<Result<(), RuntimeError>>,
    restart: VecDeque<Result<u32, RuntimeError>>,
    remove: VecDeque<Result<(), RuntimeError>>,
    state: VecDeque<Result<Option<ContainerState>, RuntimeError>>,
    exec: VecDeque<Result<super::ExecOutcome, RuntimeError>>,
    list: VecDeque<Result<Vec<String>, RuntimeError>>,
}

#[derive(Default)]
pub struct FakeRuntime {
    outcomes: Mutex<Outcomes>,
    calls: Mutex<Vec<(Instant, Call)>>,
    /// Woken at every call, so a test can wait for the one it expects.
    called: Notify,
    /// The senders of every exit stream handed out.
    exits: Mutex<Vec<mpsc::Sender<ExitEvent>>>,
    /// How long every start call takes (a runtime that hangs).
    start_delay: Mutex<Option<std::time::Duration>>,
    /// How long every pull takes (a slow registry).
    pull_delay: Mutex<Option<std::time::Duration>>,
    /// What `remembered_image` answers, by reference as written.
    remembered: Mutex<HashMap<String, PulledImage>>,
    /// The image of every create, in order: (container id, image digest).
    created: Mutex<Vec<(String, String)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding it should not hide its own message.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a successful pull of `reference` returns.
pub fn pulled(reference: &str) -> PulledImage {
    PulledImage {
        name: reference.to_string(),
        digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000"
            .to_string(),
        chain_id: "sha256:chain".to_string(),
        config: ImageConfig::default(),
    }
}

impl FakeRuntime {
    pub fn new() -> FakeRuntime {
        FakeRuntime::default()
    }

    /// Every start call from now on takes `delay` before it answers.
    pub fn delay_starts(&self, delay: std::time::Duration) {
        *lock(&self.start_delay) = Some(delay);
    }

    /// Every pull from now on takes `delay` before it answers.
    pub fn delay_pulls(&self, delay: std::time::Duration) {
        *lock(&self.pull_delay) = Some(delay);
    }

    /// `remembered_image` of `reference` answers `image` from now on.
    pub fn remember(&self, reference: &str, image: PulledImage) {
        lock(&self.remembered).insert(reference.to_string(), image);
    }

    /// Each create so far: the container id and its image's digest.
    pub fn created_images(&self) -> Vec<(String, String)> {
        lock(&self.created).clone()
    }

    pub fn queue_pull(&self, outcome: Result<PulledImage, RuntimeError>) {
        lock(&self.outcomes).pull.push_back(outcome);
    }

    pub fn queue_find_image(&self, outcome: Result<Option<PulledImage>, RuntimeError>) {
        lock(&self.outcomes).find_image.push_back(outcome);
    }

    pub fn queue_create(&self, outcome: Result<(), RuntimeError>) {
        lock(&self.outcomes).create.push_back(outcome);
    }

    pub fn queue_start(&self, outcome: Result<u32, RuntimeError>) {
        lock(&self.outcomes).start.push_back(outcome);
    }

    pub fn queue_kill(&self, outcome: Result<(), RuntimeError>) {
        lock(&self.outcomes).kill.push_back(outcome);
    }

    pub fn queue_restart(&self, outcome: Result<u32, RuntimeError>) {
        lock(&self.outcomes).restart.push_back(outcome);
    }

    pub fn queue_delete_task(&self, outcome: Result<(), RuntimeError>) {
        lock(&self.outcomes).delete_task.push_back(outcome);
    }

    pub fn queue_remove(&self, outcome: Result<(), RuntimeError>) {
        lock(&self.outcomes).remove.push_back(outcome);
    }

    pub fn queue_state(&self, outcome: Result<Option<ContainerState>, RuntimeError>) {
        lock(&self.outcomes).state.push_back(outcome);
    }

    /// The outcome of the next exec; one without an exit code (a hang)
    /// answers only once the call's timeout has passed.
    pub fn queue_exec(&self, outcome: Result<super::ExecOutcome, RuntimeError>) {
        lock(&self.outcomes).exec.push_back(outcome);
    }

    /// What the next `list` finds in the namespace (empty when not queued).
    pub fn queue_list(&self, outcome: Result<Vec<String>, RuntimeError>) {
        lock(&self.outcomes).list.push_back(outcome);
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.calls).iter().map(|(_, c)| c.clone()).collect()
    }

    /// Every call so far with the instant it was made.
    pub fn timed_calls(&self) -> Vec<(Instant, Call)> {
        lock(&self.calls).clone()
    }

    /// Waits until a call matching `want` has been made, and returns the
    /// instant of the first such call.
    pub async fn wait_for(&self, want: impl Fn(&Call) -> bool) -> Instant {
        loop {
            // Registered before looking, so a call made in between still wakes us.
            let called = self.called.notified();
            tokio::pin!(called);
            called.as_mut().enable();
            if let Some((at, _)) = lock(&self.calls).iter().find(|(_, c)| want(c)) {
                return *at;
            }
            called.await;
        }
    }

    /// Pushes an exit into every exit stream handed out.
    pub async fn exit(&self, container_id: &str, exit_code: i32) {
        let senders = lock(&self.exits).clone();
        let event = ExitEvent {
            container_id: container_id.to_string(),
            exit_code,
            exited_at_ms: 0,
            task_gone: false,
        };
        for tx in senders {
            let _ = tx.send(event.clone()).await;
        }
    }

    fn record(&self, call: Call) {
        lock(&self.calls).push((Instant::now(), call));
        self.called.notify_waiters();
    }

    fn next<T>(&self, queue: impl FnOnce(&mut Outcomes) -> Option<T>, healthy: T) -> T {
        queue(&mut lock(&self.outcomes)).unwrap_or(healthy)
    }
}

impl ContainerRuntime for FakeRuntime {
    async fn pull_image(
        &self,
        image: &ImageRef,
        credentials: Option<RegistryCredentials>,
    ) -> Result<PulledImage, RuntimeError> {
        let reference = image.as_written();
        self.record(Call::Pull {
            reference: reference.to_string(),
            with_credentials: credentials.is_some(),
        });
        let delay = *lock(&self.pull_delay);
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        self.next(|o| o.pull.pop_front(), Ok(pulled(reference)))
    }

    fn remembered_image(&self, image: &ImageRef) -> Option<PulledImage> {
        lock(&self.remembered).get(image.as_written()).cloned()
    }

    async fn find_image(&self, image: &ImageRef) -> Result<Option<PulledImage>, RuntimeError> {
        self.record(Call::FindImage {
            reference: image.as_written().to_string(),
        });
        self.next(|o| o.find_image.pop_front(), Ok(None))
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<(), RuntimeError> {
        self.record(Call::Create {
            id: spec.id.clone(),
        });
        lock(&self.created).push((spec.id.clone(), spec.image.digest.clone()));
        self.next(|o| o.create.pop_front(), Ok(()))
    }

    async fn start(&self, id: &str) -> Result<u32, RuntimeError> {
        self.record(Call::Start { id: id.to_string() });
        let delay = *lock(&self.start_delay);
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        self.next(|o| o.start.pop_front(), Ok(4242))
    }

    async fn kill(&self, id: &str, signal: i32) -> Result<(), RuntimeError> {
        self.record(Call::Kill {
            id: id.to_string(),
            signal,
        });
        self.next(|o| o.kill.pop_front(), Ok(()))
    }

    async fn restart(
        &self,
        id: &str,
        _: &crate::task::container::ContainerLog,
    ) -> Result<u32, RuntimeError> {
        self.record(Call::Restart { id: id.to_string() });
        self.next(|o| o.restart.pop_front(), Ok(4343))
    }

    async fn delete_task(&self, id: &str) -> Result<(), RuntimeError> {
        self.record(Call::DeleteTask { id: id.to_string() });
        self.next(|o| o.delete_task.pop_front(), Ok(()))
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        self.record(Call::Remove { id: id.to_string() });
        self.next(|o| o.remove.pop_front(), Ok(()))
    }

    async fn state(&self, id: &str) -> Result<Option<ContainerState>, RuntimeError> {
        self.record(Call::State { id: id.to_string() });
        self.next(|o| o.state.pop_front(), Ok(None))
    }

    async fn subscribe_exits(&self) -> Result<mpsc::Receiver<ExitEvent>, RuntimeError> {
        self.record(Call::SubscribeExits);
        let (tx, rx) = mpsc::channel(16);
        lock(&self.exits).push(tx);
        Ok(rx)
    }

    async fn metrics(&self, ids: &[String]) -> Result<Vec<ContainerMetrics>, RuntimeError> {
        self.record(Call::Metrics { ids: ids.to_vec() });
        Ok(Vec::new())
    }

    async fn exec(
        &self,
        id: &str,
        _exec_id: &str,
        args: &[String],
        timeout: std::time::Duration,
        _output_cap: usize,
    ) -> Result<super::ExecOutcome, RuntimeError> {
        self.record(Call::Exec {
            id: id.to_string(),
            args: args.to_vec(),
        });
        let outcome = self.next(
            |o| o.exec.pop_front(),
            Ok(super::ExecOutcome {
                exit_code: Some(0),
                output: Vec::new(),
            }),
        );
        if matches!(&outcome, Ok(o) if o.exit_code.is_none()) {
            tokio::time::sleep(timeout).await;
        }
        outcome
    }

    async fn list(&self) -> Result<Vec<String>, RuntimeError> {
        self.record(Call::List);
        self.next(|o| o.list.pop_front(), Ok(Vec::new()))
    }

    async fn pids(&self, _ids: &[String]) -> Result<HashMap<String, u32>, RuntimeError> {
        self.record(Call::Pids);
        Ok(HashMap::new())
    }

    async fn ensure_namespace_holder(
        &self,
        holder: &super::NamespaceHolder,
    ) -> Result<u32, RuntimeError> {
        self.record(Call::EnsureNamespaceHolder {
            id: holder.id.clone(),
        });
        Ok(4242)
    }

    async fn remove_namespace_holder(&self, id: &str) -> Result<(), RuntimeError> {
        self.record(Call::RemoveNamespaceHolder { id: id.to_string() });
        Ok(())
    }
}
