//! What a pull is told: its snapshotter, registries, platform, timeouts, and
//! which of the two ways it goes (our own client or containerd's Transfer).

use std::time::Duration;

use crate::image::Platform;

/// How long a pull may take, as the Go agent bounds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullTimeouts {
    /// The whole pull, every attempt included (ECS_IMAGE_PULL_TIMEOUT).
    pub whole: Duration,
    /// One attempt until the registry has answered with the manifest (the
    /// Go agent's DockerPullBeginTimeout, for pulls that never start).
    pub begin: Duration,
    /// The longest wait for the registry's next bytes once an attempt has
    /// begun (ECS_IMAGE_PULL_INACTIVITY_TIMEOUT).
    pub inactivity: Duration,
}

impl Default for PullTimeouts {
    fn default() -> Self {
        PullTimeouts {
            whole: Duration::from_secs(2 * 3600),
            begin: Duration::from_secs(5 * 60),
            inactivity: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullOptions {
    /// containerd snapshotter to unpack into, normally `overlayfs`.
    pub snapshotter: String,
    /// `host[:port]` of registries spoken to in plain HTTP (loopback always is).
    pub insecure_registries: Vec<String>,
    /// Which image to take from a multi-platform index.
    pub platform: Platform,
    pub timeouts: PullTimeouts,
    /// Pull through containerd's Transfer service (2.0 and later: the
    /// probe's `ContainerdInfo::transfer`) instead of our own client.
    pub transfer: bool,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            snapshotter: "overlayfs".to_string(),
            insecure_registries: Vec::new(),
            platform: Platform::host(),
            timeouts: PullTimeouts::default(),
            transfer: false,
        }
    }
}
