//! Exits of exec'd processes, taken from the exit event stream the runtime
//! reads anyway (containerd publishes a TaskExit for every process, exec'd
//! ones included), so a probe needs no Tasks.Wait call of its own: one gRPC
//! call less per probe for the agent, containerd and the shim
//! (BENCHMARKS.md, `health-100`).
//!
//! An exit is only as reliable as the stream: a waiter is registered only
//! while a subscription is live, and every waiter is dropped when the stream
//! breaks, so its exec falls back to Tasks.Wait instead of waiting for an
//! event that will never come.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::mpsc;

/// `(pid, exit code)` of an exited process.
pub(super) type Exit = (u32, i32);

type Key = (String, String);

#[derive(Debug, Default)]
struct State {
    /// Subscriptions whose stream is delivering events now.
    live: usize,
    waiters: HashMap<Key, mpsc::UnboundedSender<Exit>>,
}

/// Waiters for exec exits, by (container id, exec id).
#[derive(Debug, Default)]
pub(super) struct ExecExits(Mutex<State>);

impl ExecExits {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A subscription's stream is up: its events reach waiters from now on.
    pub(super) fn stream_up(&self) {
        self.state().live += 1;
    }

    /// A subscription's stream broke or ended: exits may be missed until it
    /// is back, so every waiter falls back to asking containerd.
    pub(super) fn stream_down(&self) {
        let mut s = self.state();
        s.live = s.live.saturating_sub(1);
        s.waiters.clear();
    }

    /// Exits of `exec_id` in `container` from now on, or `None` while no
    /// stream is live. Register before starting the process: its exit may
    /// arrive before the start call returns. Exits of an earlier process of
    /// the same ids (a leftover being discarded) may arrive too: match pids.
    pub(super) fn register(
        &self,
        container: &str,
        exec_id: &str,
    ) -> Option<mpsc::UnboundedReceiver<Exit>> {
        let mut s = self.state();
        if s.live == 0 {
            return None;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        s.waiters
            .insert((container.to_string(), exec_id.to_string()), tx);
        Some(rx)
    }

    /// The process is done with (reaped or given up on).
    pub(super) fn unregister(&self, container: &str, exec_id: &str) {
        self.state()
            .waiters
            .remove(&(container.to_string(), exec_id.to_string()));
    }

    /// Hands an exit to its waiter, if there is one.
    pub(super) fn deliver(&self, container: &str, exec_id: &str, exit: Exit) {
        let key = (container.to_string(), exec_id.to_string());
        if let Some(tx) = self.state().waiters.get(&key) {
            let _ = tx.send(exit);
        }
    }
}

/// Waits for the exit of the process with `pid`; `None` when the waiter
/// was dropped (the stream broke): ask containerd then.
pub(super) async fn exit_of(rx: &mut mpsc::UnboundedReceiver<Exit>, pid: u32) -> Option<i32> {
    while let Some((p, code)) = rx.recv().await {
        if p == pid {
            return Some(code);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_waiter_is_registered_while_no_stream_is_live() {
        let exits = ExecExits::default();
        assert!(exits.register("c", "probe").is_none());
        exits.stream_up();
        assert!(exits.register("c", "probe").is_some());
    }

    #[tokio::test]
    async fn the_exit_of_the_started_pid_is_the_one_waited_for() {
        let exits = ExecExits::default();
        exits.stream_up();
        let mut rx = exits.register("c", "probe").expect("live");
        // A leftover's exit (another pid) arrives first, then ours.
        exits.deliver("c", "probe", (10, 137));
        exits.deliver("other", "probe", (11, 1));
        exits.deliver("c", "probe", (12, 0));
        assert_eq!(exit_of(&mut rx, 12).await, Some(0));
    }

    #[tokio::test]
    async fn a_broken_stream_releases_every_waiter() {
        let exits = ExecExits::default();
        exits.stream_up();
        let mut rx = exits.register("c", "probe").expect("live");
        exits.stream_down();
        assert_eq!(exit_of(&mut rx, 12).await, None);
        assert!(exits.register("c", "probe").is_none(), "no stream is live");
    }

    #[tokio::test]
    async fn an_unregistered_waiter_gets_nothing_more() {
        let exits = ExecExits::default();
        exits.stream_up();
        let mut rx = exits.register("c", "probe").expect("live");
        exits.unregister("c", "probe");
        exits.deliver("c", "probe", (12, 0));
        assert_eq!(exit_of(&mut rx, 12).await, None);
    }
}
