//! Image cleanup as the Go agent does it: every interval, remove up to N
//! images no task uses any more, least recently used first, once they are old
//! enough; optionally also images the agent did not pull.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::config::ImageCleanup;
use crate::runtime::images::{ImageRecord, ImageStore};
use crate::runtime::ContainerRuntime;
use crate::state::ImageState;

use super::inner::{lock, now_ms, Engine};

/// The images to remove now. Pure: every fact is passed in.
pub fn choose(
    tracked: &HashMap<String, ImageState>,
    present: &[ImageRecord],
    in_use: &HashSet<String>,
    policy: &ImageCleanup,
    now_ms: i64,
) -> Vec<String> {
    let per_cycle = policy.per_cycle as usize;
    let age_ok = |since: i64, min: Duration| now_ms.saturating_sub(since) >= min.as_millis() as i64;
    let mut ours: Vec<(&String, &ImageState)> = tracked
        .iter()
        .filter(|(name, s)| !in_use.contains(*name) && age_ok(s.pulled_at_ms, policy.minimum_age))
        .collect();
    ours.sort_by_key(|(name, s)| (s.last_used_ms, (*name).clone()));
    let mut out: Vec<String> = ours
        .into_iter()
        .map(|(n, _)| n.clone())
        .take(per_cycle)
        .collect();
    if policy.untracked && out.len() < per_cycle {
        let mut others: Vec<&ImageRecord> = present
            .iter()
            .filter(|r| !tracked.contains_key(&r.name) && !in_use.contains(&r.name))
            .filter(|r| !policy.exclude_untracked.iter().any(|x| x == &r.name))
            .filter(|r| age_ok(r.created_at_ms, policy.non_ecs_minimum_age))
            .collect();
        others.sort_by_key(|r| (r.created_at_ms, r.name.clone()));
        let room = per_cycle - out.len();
        out.extend(others.into_iter().take(room).map(|r| r.name.clone()));
    }
    out
}

impl<R: ContainerRuntime + ImageStore> Engine<R> {
    /// Runs image cleanup for as long as the agent does.
    pub async fn clean_images_forever(self, policy: ImageCleanup) {
        loop {
            tokio::time::sleep(policy.interval).await;
            self.clean_images_once(&policy).await;
        }
    }

    pub async fn clean_images_once(&self, policy: &ImageCleanup) {
        let present = match self.inner.runtime.list_images().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "image cleanup: cannot list images");
                return;
            }
        };
        let present_names: HashSet<&str> = present.iter().map(|r| r.name.as_str()).collect();
        // Images removed by someone else are no longer ours to track.
        let gone: Vec<String> = lock(&self.inner.images)
            .keys()
            .filter(|n| !present_names.contains(n.as_str()))
            .cloned()
            .collect();
        for name in gone {
            self.inner.forget_image(&name);
        }
        let tracked = lock(&self.inner.images).clone();
        let in_use: HashSet<String> = lock(&self.inner.task_images)
            .values()
            .flatten()
            .cloned()
            .collect();
        for name in choose(&tracked, &present, &in_use, policy, now_ms()) {
            match self.inner.runtime.remove_image(&name).await {
                Ok(()) => {
                    tracing::info!(image = %name, "image cleanup: removed");
                    self.inner.forget_image(&name);
                }
                Err(e) => tracing::warn!(image = %name, error = %e, "image cleanup: cannot remove"),
            }
        }
    }
}

/// What the engine tracks about images (shared by all actors).
pub(crate) fn new_tracker(
    saved: Vec<(String, ImageState)>,
) -> std::sync::Mutex<HashMap<String, ImageState>> {
    std::sync::Mutex::new(saved.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(per_cycle: usize, untracked: bool) -> ImageCleanup {
        ImageCleanup {
            disabled: false,
            interval: Duration::from_secs(60),
            minimum_age: Duration::from_secs(10),
            non_ecs_minimum_age: Duration::from_secs(20),
            per_cycle: per_cycle as u32,
            untracked,
            exclude_untracked: vec!["keep:me".into()],
        }
    }

    fn st(pulled: i64, used: i64) -> ImageState {
        ImageState {
            pulled_at_ms: pulled,
            last_used_ms: used,
        }
    }

    #[test]
    fn least_recently_used_unused_old_enough_images_go_first() {
        let tracked = HashMap::from([
            ("a".to_string(), st(0, 500)),
            ("b".to_string(), st(0, 100)),
            ("in-use".to_string(), st(0, 0)),
            ("young".to_string(), st(95_000, 95_000)),
            ("c".to_string(), st(0, 300)),
        ]);
        let in_use = HashSet::from(["in-use".to_string()]);
        let got = choose(&tracked, &[], &in_use, &policy(2, false), 100_000);
        assert_eq!(got, vec!["b", "c"]);
        let got = choose(&tracked, &[], &in_use, &policy(10, false), 100_000);
        assert_eq!(got, vec!["b", "c", "a"], "never in use, never too young");
    }

    #[test]
    fn untracked_images_only_when_enabled_and_not_excluded() {
        let present = vec![
            ImageRecord {
                name: "mine".into(),
                created_at_ms: 0,
            },
            ImageRecord {
                name: "theirs".into(),
                created_at_ms: 0,
            },
            ImageRecord {
                name: "keep:me".into(),
                created_at_ms: 0,
            },
            ImageRecord {
                name: "fresh".into(),
                created_at_ms: 90_000,
            },
        ];
        let tracked = HashMap::from([("mine".to_string(), st(0, 0))]);
        let none = HashSet::new();
        assert_eq!(
            choose(&tracked, &present, &none, &policy(5, false), 100_000),
            vec!["mine"]
        );
        assert_eq!(
            choose(&tracked, &present, &none, &policy(5, true), 100_000),
            vec!["mine", "theirs"]
        );
        assert_eq!(
            choose(&tracked, &present, &none, &policy(1, true), 100_000),
            vec!["mine"],
            "per-cycle limit covers both kinds"
        );
    }
}
