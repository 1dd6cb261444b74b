//! Jittered exponential backoff as a pure value: the caller supplies the
//! random number, so tests are deterministic. Every retry loop of the agent
//! waits by it (registration, the report queue, containerd-unavailable
//! retries, the ACS and TCS sessions); it sits on the ground floor so that
//! each of them may import it.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
    /// Fraction of each wait that is randomized (0.0 - 1.0).
    jitter: f64,
    /// The random part is added on top of the base (the Go agent's
    /// `retry.ExponentialBackoff`) instead of taken out of it.
    jitter_on_top: bool,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration, jitter: f64) -> Backoff {
        Backoff {
            min,
            max,
            current: min,
            jitter: jitter.clamp(0.0, 1.0),
            jitter_on_top: false,
        }
    }

    /// The Go agent's `retry.NewExponentialBackoff(min, max, jitter, 2)`:
    /// each wait is its base plus up to `jitter` of it, the base doubling up
    /// to `max`. For retries whose timing users know from the Go agent.
    pub fn go(min: Duration, max: Duration, jitter: f64) -> Backoff {
        Backoff {
            jitter_on_top: true,
            ..Backoff::new(min, max, jitter)
        }
    }

    /// Plain doubling from `min` up to `max`, without jitter: for loops that
    /// retry one local call, where there is no crowd of clients to spread.
    pub fn doubling(min: Duration, max: Duration) -> Backoff {
        Backoff::new(min, max, 0.0)
    }

    /// The next wait; `random` is in [0, 1). Doubles the base each time, up to max.
    pub fn next(&mut self, random: f64) -> Duration {
        let base = self.current;
        self.current = (self.current * 2).min(self.max);
        let spread = base.as_secs_f64() * self.jitter;
        let below = if self.jitter_on_top { 0.0 } else { spread };
        let wait = base.as_secs_f64() - below + spread * random.clamp(0.0, 1.0);
        Duration::from_secs_f64(wait.max(0.0))
    }

    /// The base of the next wait (before jitter), for logs.
    pub fn upcoming(&self) -> Duration {
        self.current
    }

    pub fn reset(&mut self) {
        self.current = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_max_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350), 0.0);
        assert_eq!(b.next(0.5), Duration::from_millis(100));
        assert_eq!(b.next(0.5), Duration::from_millis(200));
        assert_eq!(b.next(0.5), Duration::from_millis(350));
        assert_eq!(b.next(0.5), Duration::from_millis(350));
        b.reset();
        assert_eq!(b.next(0.5), Duration::from_millis(100));
    }

    #[test]
    fn doubling_ignores_the_random_number() {
        let mut b = Backoff::doubling(Duration::from_millis(500), Duration::from_secs(30));
        assert_eq!(b.next(0.9), Duration::from_millis(500));
        assert_eq!(b.next(0.1), Duration::from_secs(1));
        for _ in 0..10 {
            b.next(0.0);
        }
        assert_eq!(b.next(0.5), Duration::from_secs(30));
    }

    #[test]
    fn go_style_adds_the_jitter_on_top() {
        // The Go agent's image pull backoff: 1.1s doubling to 5s, +0-20%.
        let mut b = Backoff::go(Duration::from_millis(1100), Duration::from_secs(5), 0.2);
        assert_eq!(b.next(0.0), Duration::from_millis(1100));
        assert_eq!(b.next(0.5), Duration::from_millis(2420));
        assert_eq!(b.next(0.0), Duration::from_millis(4400));
        assert_eq!(b.next(1.0), Duration::from_secs(6));
        assert_eq!(b.next(0.0), Duration::from_secs(5));
    }

    #[test]
    fn jitter_stays_within_the_base() {
        let mut lo = Backoff::new(Duration::from_secs(1), Duration::from_secs(10), 0.5);
        let mut hi = lo.clone();
        assert_eq!(lo.next(0.0), Duration::from_millis(500));
        assert_eq!(hi.next(1.0), Duration::from_secs(1));
    }
}
