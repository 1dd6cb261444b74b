//! Image cleanup as the Go agent does it: every interval, remove up to N
//! images no task uses any more, least recently used first, once they are old
//! enough; optionally also images the agent did not pull. Beyond the Go agent
//! (aws/amazon-ecs-agent#2429): when the image filesystem's free space is
//! below ECS_IMAGE_CLEANUP_FREE_SPACE_THRESHOLD, unused images go oldest
//! first, whatever their age, until it is met again.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{FreeSpaceThreshold, ImageCleanup};
use crate::runtime::images::{ImageRecord, ImageStore};
use crate::runtime::ContainerRuntime;
use crate::state::ImageState;

use super::disk_space::disk_space;
use super::inner::{lock, now_ms, Engine};

/// How often free space is looked at when the cleanup interval is longer: a
/// disk fills faster than the Go agent's 30 minutes.
const FREE_SPACE_CHECK: Duration = Duration::from_secs(60);

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

/// Unused images in the order free-space cleanup removes them: oldest first
/// (the agent's images by last use, others by creation), with no age rule
/// and no per-cycle limit. Images the agent did not pull only with untracked
/// cleanup on, and never the excluded ones. Pure.
pub fn choose_for_space(
    tracked: &HashMap<String, ImageState>,
    present: &[ImageRecord],
    in_use: &HashSet<String>,
    policy: &ImageCleanup,
) -> Vec<String> {
    let mut all: Vec<(i64, &String)> = tracked
        .iter()
        .filter(|(name, _)| !in_use.contains(*name))
        .map(|(name, s)| (s.last_used_ms, name))
        .collect();
    if policy.untracked {
        all.extend(
            present
                .iter()
                .filter(|r| !tracked.contains_key(&r.name) && !in_use.contains(&r.name))
                .filter(|r| !policy.exclude_untracked.iter().any(|x| x == &r.name))
                .map(|r| (r.created_at_ms, &r.name)),
        );
    }
    all.sort();
    all.into_iter().map(|(_, n)| n.clone()).collect()
}

impl<R: ContainerRuntime + ImageStore> Engine<R> {
    /// Runs image cleanup for as long as the agent does.
    pub async fn clean_images_forever(self, policy: ImageCleanup) {
        let tick = match policy.free_space {
            Some(_) => policy.interval.min(FREE_SPACE_CHECK),
            None => policy.interval,
        };
        let mut filesystem = policy.filesystem.clone();
        let mut since_age_pass = Duration::ZERO;
        loop {
            tokio::time::sleep(tick).await;
            since_age_pass += tick;
            if since_age_pass >= policy.interval {
                since_age_pass = Duration::ZERO;
                self.clean_images_once(&policy).await;
            }
            if let Some(threshold) = policy.free_space {
                if filesystem.is_none() {
                    filesystem = self.image_filesystem().await;
                }
                if let Some(path) = &filesystem {
                    self.free_space_once(&policy, threshold, path).await;
                }
            }
        }
    }

    /// Where containerd keeps image content, as it says; `None` (logged)
    /// when it cannot tell, asked again next time.
    async fn image_filesystem(&self) -> Option<PathBuf> {
        match self.inner.runtime.image_filesystem().await {
            Ok(Some(path)) => {
                tracing::info!(path = %path.display(), "image cleanup: watching the free space of containerd's content store");
                Some(path)
            }
            Ok(None) => {
                tracing::warn!("image cleanup: containerd names no content store root; set ECS_IMAGE_FILESYSTEM_PATH");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "image cleanup: cannot ask containerd where its images are");
                None
            }
        }
    }

    /// Removes unused images, oldest first, while the filesystem holding
    /// `path` has less free space than `threshold`.
    pub async fn free_space_once(
        &self,
        policy: &ImageCleanup,
        threshold: FreeSpaceThreshold,
        path: &Path,
    ) {
        let measure = || match disk_space(path) {
            Ok(space) => Some(space),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "image cleanup: cannot read the image filesystem's free space (ECS_IMAGE_FILESYSTEM_PATH)");
                None
            }
        };
        let Some(space) = measure() else { return };
        if threshold.is_met(space.available, space.total) {
            return;
        }
        tracing::warn!(
            available = space.available,
            wanted = threshold.wanted_bytes(space.total),
            threshold = %threshold,
            "image cleanup: the image filesystem is short of free space; removing unused images"
        );
        let Some((present, tracked)) = self.image_facts().await else {
            return;
        };
        let in_use = self.images_in_use();
        for name in choose_for_space(&tracked, &present, &in_use, policy) {
            // A task may have arrived since: its images stay.
            if self.images_in_use().contains(&name) {
                continue;
            }
            if !self.remove_image(&name, "free space").await {
                continue;
            }
            let Some(space) = measure() else { return };
            if threshold.is_met(space.available, space.total) {
                tracing::info!(
                    available = space.available,
                    "image cleanup: free space is back above the threshold"
                );
                return;
            }
        }
        tracing::warn!(
            "image cleanup: no unused image left to remove and the image filesystem is still short of free space"
        );
    }

    async fn remove_image(&self, name: &str, why: &'static str) -> bool {
        match self.inner.runtime.remove_image(name).await {
            Ok(()) => {
                tracing::info!(image = %name, reason = why, "image cleanup: removed");
                self.inner.forget_image(name);
                true
            }
            Err(e) => {
                tracing::warn!(image = %name, error = %e, "image cleanup: cannot remove");
                false
            }
        }
    }

    fn images_in_use(&self) -> HashSet<String> {
        lock(&self.inner.task_images)
            .values()
            .flatten()
            .cloned()
            .collect()
    }

    /// The images present and the agent's own, after forgetting those
    /// removed by someone else.
    async fn image_facts(&self) -> Option<(Vec<ImageRecord>, HashMap<String, ImageState>)> {
        let present = match self.inner.runtime.list_images().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "image cleanup: cannot list images");
                return None;
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
        Some((present, tracked))
    }

    pub async fn clean_images_once(&self, policy: &ImageCleanup) {
        let Some((present, tracked)) = self.image_facts().await else {
            return;
        };
        let in_use = self.images_in_use();
        for name in choose(&tracked, &present, &in_use, policy, now_ms()) {
            self.remove_image(&name, "age").await;
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
            free_space: None,
            filesystem: None,
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

    #[test]
    fn free_space_takes_every_unused_image_oldest_first_whatever_its_age() {
        let tracked = HashMap::from([
            ("used-long-ago".to_string(), st(0, 100)),
            ("in-use".to_string(), st(0, 0)),
            ("just-pulled".to_string(), st(99_999, 99_999)),
            ("used-lately".to_string(), st(0, 90_000)),
        ]);
        let present = vec![
            ImageRecord {
                name: "theirs-old".into(),
                created_at_ms: 50,
            },
            ImageRecord {
                name: "keep:me".into(),
                created_at_ms: 0,
            },
            ImageRecord {
                name: "theirs-in-use".into(),
                created_at_ms: 0,
            },
            ImageRecord {
                name: "used-long-ago".into(),
                created_at_ms: 0,
            },
        ];
        let in_use = HashSet::from(["in-use".to_string(), "theirs-in-use".to_string()]);
        // The per-cycle limit (1) and the minimum age (10 s) do not apply.
        assert_eq!(
            choose_for_space(&tracked, &present, &in_use, &policy(1, false)),
            vec!["used-long-ago", "used-lately", "just-pulled"]
        );
        assert_eq!(
            choose_for_space(&tracked, &present, &in_use, &policy(1, true)),
            vec!["theirs-old", "used-long-ago", "used-lately", "just-pulled"],
            "others by creation time among the agent's by last use; excluded ones never"
        );
    }
}
