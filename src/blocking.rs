//! One rule for blocking work reached from async code: it never runs on an
//! async worker as is. Async callers that own their data hand it to
//! `tokio::task::spawn_blocking` (netns, iptables, conntrack, container
//! files); synchronous code that async code calls (a redb commit made while an
//! ACS payload is handled, a directory removed at cleanup) goes through
//! [`run`], which tells the runtime that this worker blocks so that its other
//! tasks move to another worker.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs `f`, which may block for a while (disk I/O, fsync), without starving
/// the async tasks that share this worker. On a current-thread runtime (unit
/// tests) or outside any runtime it simply runs `f`.
pub fn run<T>(f: impl FnOnce() -> T) -> T {
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::run;

    #[test]
    fn runs_outside_a_runtime() {
        assert_eq!(run(|| 7), 7);
    }

    #[tokio::test]
    async fn runs_on_a_current_thread_runtime() {
        assert_eq!(run(|| 8), 8);
    }

    /// With one worker, a task that blocks it in `run` must not stop the
    /// others: without `block_in_place` the flag below would never be set
    /// while the worker waits for it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn other_tasks_go_on_while_the_only_worker_blocks() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        use std::time::{Duration, Instant};
        let flag = Arc::new(AtomicBool::new(false));
        let seen = flag.clone();
        let blocker = tokio::spawn(async move {
            run(|| {
                let until = Instant::now() + Duration::from_secs(5);
                while !seen.load(Ordering::SeqCst) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(5));
                }
                seen.load(Ordering::SeqCst)
            })
        });
        // Give the blocker the worker first.
        std::thread::sleep(Duration::from_millis(50));
        let setter = tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
        assert_eq!(blocker.await.ok(), Some(true));
        assert!(setter.await.is_ok());
    }
}
