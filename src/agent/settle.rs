//! Giving back what a burst of task changes took, once it is over (issue 19
//! point 3).
//!
//! A burst of task starts frees most of what it allocated (payloads, specs,
//! gRPC buffers, the futures of 100 creates at once), but malloc keeps the
//! freed pages, and the burst ran code from all over the executable (the
//! task path: specs, the runtime's create, networks, checkpoints) which then
//! stays resident while only the stats poll, telemetry and heartbeats run.
//! Measured with 100 running tasks (BENCHMARKS.md): the heap's peak during
//! the burst stayed in the RSS as if the tasks still needed it. So once the
//! task changes stop for a while, the heap is trimmed and the executable's
//! pages are paged out, as after start-up (`crate::code_pages`). The price:
//! the first task change after a quiet spell reads back from the page cache
//! or the disk the code it runs (BENCHMARKS.md measures it).

use std::sync::Arc;
use std::time::Duration;

use crate::observe::AgentMetrics;

/// How long the task changes must have stopped. Deployments start their
/// tasks within seconds of each other; a host that saw none for this long
/// is between bursts.
pub const QUIET: Duration = Duration::from_secs(30);

/// Watches the count of state changes sent to ECS and of tasks cleaned up
/// (which come hours after their stops, with no state change) and, between
/// QUIET and twice QUIET after the last of a burst, gives the burst's memory
/// back. Runs until the runtime ends.
pub async fn after_bursts(metrics: Arc<AgentMetrics>) {
    let changes = || {
        let m = metrics.read();
        m.state_changes_submitted + m.tasks_cleaned_up
    };
    let mut quiet = Quiet::new(changes());
    let mut tick = tokio::time::interval(QUIET);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if quiet.settled(changes()) {
            give_back("a burst of task changes").await;
        }
    }
}

/// Trims the heap and pages the executable out, once the work named by
/// `after` (for the log) is over.
pub async fn give_back(after: &'static str) {
    // Both walk memory with locks held: off the async workers.
    let _ = tokio::task::spawn_blocking(move || {
        crate::heap::trim();
        crate::code_pages::release(after);
    })
    .await;
}

/// Whether a burst has just ended, from one reading of a counter per tick.
struct Quiet {
    seen: u64,
    burst: bool,
}

impl Quiet {
    /// The count at start-up, whose own release is the start-up's.
    fn new(count: u64) -> Quiet {
        Quiet {
            seen: count,
            burst: false,
        }
    }

    /// True once per burst: at the first tick that sees no change after
    /// ticks that saw some.
    fn settled(&mut self, count: u64) -> bool {
        if count != self.seen {
            self.seen = count;
            self.burst = true;
            return false;
        }
        std::mem::take(&mut self.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::Quiet;

    #[test]
    fn a_burst_is_released_once_at_the_first_quiet_tick() {
        let mut q = Quiet::new(5);
        // Nothing happened since start-up: nothing to give back.
        assert!(!q.settled(5));
        assert!(!q.settled(5));
        // Changes over two ticks, then quiet: one release, then none.
        assert!(!q.settled(9));
        assert!(!q.settled(40));
        assert!(q.settled(40));
        assert!(!q.settled(40));
        assert!(!q.settled(40));
        // The next burst gets its own.
        assert!(!q.settled(41));
        assert!(q.settled(41));
    }
}
