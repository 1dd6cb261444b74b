//! A few network namespaces made ahead of the tasks that will use them.
//!
//! Making a namespace (`unshare(CLONE_NEWNET)`: the kernel sets up every
//! per-namespace subsystem) took 2 to 3 ms of a bridge or awsvpc start
//! measured here, and a container cannot be created before its namespace
//! exists. A setup takes a spare instead and only mounts it under the key's
//! name. Spares are made once this manager has set up a namespace (a host
//! that runs only host-mode tasks never holds one), and only when no setup,
//! teardown or container create in a set-up namespace (a `Hold`, see
//! `Reserved::settled`) has been under way for `QUIET`, so that making them
//! never competes with a task's start. They are held by file descriptor
//! alone (see `netns::Spare`): nothing to find or clean up after a restart.
//! They close with their manager (`Owner`), not whenever the filler last
//! lets go of them.

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::netns::{self, Spare};

/// How many spares are kept: a task start rarely comes alone.
const SPARES: usize = 2;
/// How long the network must have been idle before spares are made.
const QUIET: Duration = Duration::from_millis(100);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Busy {
    in_flight: usize,
    last_end: Instant,
}

pub(super) struct Spares {
    held: Mutex<Vec<Spare>>,
    busy: Mutex<Busy>,
    /// Wakes the filler: work ended, a spare was taken, or the owner went.
    wake: Arc<Notify>,
    filling: AtomicBool,
    /// Set when the owner goes: nothing more is made or kept.
    closed: AtomicBool,
}

/// The manager's handle on its spares. Its drop closes them at once: the
/// filler holds them for an instant at each step, and the last holder's
/// drop would otherwise close them on the filler's thread, after the
/// manager is gone (a stopped agent's spares must be gone with it).
pub(super) struct Owner(Arc<Spares>);

impl Owner {
    pub(super) fn new() -> Self {
        Self(Arc::new(Spares {
            held: Mutex::new(Vec::new()),
            busy: Mutex::new(Busy {
                in_flight: 0,
                last_end: Instant::now(),
            }),
            wake: Arc::new(Notify::new()),
            filling: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        }))
    }
}

impl Deref for Owner {
    type Target = Arc<Spares>;
    fn deref(&self) -> &Arc<Spares> {
        &self.0
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::SeqCst);
        let spares = std::mem::take(&mut *lock(&self.0.held));
        drop(spares);
        self.0.wake.notify_one();
    }
}

/// What the filler does next.
enum Step {
    Wait,
    Sleep(Duration),
    Make,
    End,
}

/// Marks network work under way; its end starts the quiet spell.
pub(super) struct Working<'a>(&'a Spares);

impl Drop for Working<'_> {
    fn drop(&mut self) {
        self.0.end_work();
    }
}

/// Like `Working`, for work that outlives the call that began it (a
/// container created in a namespace once its setup has returned). Does not
/// keep the spares alive.
pub(super) struct Hold(Weak<Spares>);

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(s) = self.0.upgrade() {
            s.end_work();
        }
    }
}

impl Spares {
    /// Called for the length of every setup and teardown.
    pub(super) fn working(&self) -> Working<'_> {
        lock(&self.busy).in_flight += 1;
        Working(self)
    }

    /// Work under way until the hold is dropped.
    pub(super) fn hold(self: &Arc<Self>) -> Hold {
        lock(&self.busy).in_flight += 1;
        Hold(Arc::downgrade(self))
    }

    fn end_work(&self) {
        let mut b = lock(&self.busy);
        b.in_flight = b.in_flight.saturating_sub(1);
        b.last_end = Instant::now();
        drop(b);
        self.wake.notify_one();
    }

    /// A spare to use, if one is ready; from the first call on, spares are
    /// made when the network is quiet.
    pub(super) fn take(self: &Arc<Self>) -> Option<Spare> {
        if !self.filling.swap(true, Ordering::Relaxed) {
            tokio::spawn(fill(Arc::downgrade(self), self.wake.clone()));
        }
        let spare = lock(&self.held).pop();
        self.wake.notify_one();
        spare
    }

    /// Keeps a spare unless the owner has gone meanwhile; the flag is read
    /// under the lock that the owner's drop empties the list under.
    fn keep(&self, spare: Spare) {
        let mut held = lock(&self.held);
        if !self.closed.load(Ordering::SeqCst) {
            held.push(spare);
        }
    }

    /// How many are ready (for tests and the agent's own view).
    pub(super) fn ready(&self) -> usize {
        lock(&self.held).len()
    }

    /// The inode numbers of the namespaces ready.
    pub(super) fn ids(&self) -> Vec<u64> {
        lock(&self.held).iter().filter_map(Spare::id).collect()
    }

    fn next_step(&self) -> Step {
        if self.closed.load(Ordering::SeqCst) {
            return Step::End;
        }
        let wait = {
            let b = lock(&self.busy);
            (b.in_flight == 0).then(|| QUIET.saturating_sub(b.last_end.elapsed()))
        };
        match wait {
            None => Step::Wait,
            Some(d) if !d.is_zero() => Step::Sleep(d),
            Some(_) if self.ready() >= SPARES => Step::Wait,
            Some(_) => Step::Make,
        }
    }
}

/// Keeps `SPARES` ready, making them only in quiet spells; ends when the
/// spares are closed with their manager.
async fn fill(spares: Weak<Spares>, wake: Arc<Notify>) {
    loop {
        let step = match spares.upgrade() {
            Some(s) => s.next_step(),
            None => Step::End,
        };
        match step {
            Step::End => return,
            // A `notify_one` before this wait is kept: nothing is missed.
            Step::Wait => wake.notified().await,
            Step::Sleep(d) => tokio::time::sleep(d).await,
            Step::Make => {
                let made = tokio::task::spawn_blocking(netns::make_spare)
                    .await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
                let Some(s) = spares.upgrade() else { return };
                match made {
                    Ok(spare) => s.keep(spare),
                    Err(e) => {
                        // Setups make their own namespaces meanwhile; try
                        // again after the next one.
                        tracing::warn!(error = %e, "cannot make a spare network namespace");
                        drop(s);
                        wake.notified().await;
                    }
                }
            }
        }
    }
}
