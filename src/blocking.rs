//! One rule for blocking work reached from async code: it never runs on an
//! async worker as is. Async callers that own their data hand it to
//! `tokio::task::spawn_blocking` (netns, iptables, conntrack, container
//! files); synchronous code that async code calls (a redb commit made while an
//! ACS payload is handled, a directory removed at cleanup) goes through
//! [`run`], which tells the runtime that this worker blocks so that its other
//! tasks move to another worker.

use std::time::Duration;

use tokio::runtime::{Builder, Handle, RuntimeFlavor};

/// Threads for blocking work beside the async workers; tokio's default is
/// 512. Every [`run`] hands the worker's queue to another thread of this
/// pool, and a burst of task state changes queues that many checkpoint
/// commits behind the state store's one lock: 55 to 74 threads during bursts
/// of 10 large tasks (`scripts/bench --only rss-large`), each with its
/// touched stack and its own heap use, while the commits take that lock in
/// turn. Past the cap, blocking work waits for a thread (the commits are
/// serialised anyway: 41 large tasks took the same time with the cap).
pub const MAX_THREADS: usize = 8;

/// How long an idle blocking thread waits for more work before it ends
/// (tokio's default: 10 s). Starting a thread costs tens of microseconds;
/// keeping the threads of a burst for 10 s kept their stacks and heap
/// resident long after it: 68 threads and 89.8 MiB VmRSS 5 s after 101 large
/// tasks were cleaned up (debug build), 3 threads and 60 MiB with this.
pub const KEEP_ALIVE: Duration = Duration::from_secs(1);

/// Bounds the runtime's blocking pool (see [`MAX_THREADS`], [`KEEP_ALIVE`]).
pub fn limit_pool(builder: &mut Builder) -> &mut Builder {
    builder
        .max_blocking_threads(MAX_THREADS)
        .thread_keep_alive(KEEP_ALIVE)
}

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
    use super::{limit_pool, run, MAX_THREADS};

    /// However much blocking work is queued at once, no more than
    /// MAX_THREADS pieces of it run at the same time, and all of it runs.
    #[test]
    fn the_blocking_pool_is_bounded() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        use std::time::Duration;
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(1).enable_all();
        let rt = limit_pool(&mut builder).build().expect("a runtime");
        let now = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs = 4 * MAX_THREADS;
        let done = rt.block_on(async {
            let handles: Vec<_> = (0..jobs)
                .map(|_| {
                    let (now, most) = (now.clone(), most.clone());
                    tokio::task::spawn_blocking(move || {
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(n, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        now.fetch_sub(1, Ordering::SeqCst);
                    })
                })
                .collect();
            let mut done = 0;
            for h in handles {
                done += usize::from(h.await.is_ok());
            }
            done
        });
        assert_eq!(done, jobs);
        let most = most.load(Ordering::SeqCst);
        assert!(most <= MAX_THREADS, "{most} ran at once");
        assert!(most > 1, "blocking work ran one at a time");
    }

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
