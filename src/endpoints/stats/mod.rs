//! Container stats in the Docker stats JSON shape, from containerd's
//! Tasks.Metrics (cgroup v1 or v2) plus /proc, collected by polling.

pub mod cgroups;
mod collector;
pub mod docker;
pub mod procfs;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub use cgroups::{CgroupMetrics, HostSample};
pub use collector::{StatsCollector, StatsError};
pub use docker::{DockerStats, NetworkRate};

/// The latest sample of one container.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerStats {
    pub docker: DockerStats,
    /// Bytes per second between the last two samples (task metadata v4);
    /// `None` without network counters or before the second sample.
    pub network_rate: Option<NetworkRate>,
}

/// Latest samples by containerd container id, written by the collector and
/// read by the handlers.
#[derive(Debug, Default)]
pub struct StatsStore {
    inner: RwLock<HashMap<String, Arc<ContainerStats>>>,
}

impl StatsStore {
    pub fn new() -> StatsStore {
        StatsStore::default()
    }

    pub fn get(&self, runtime_id: &str) -> Option<Arc<ContainerStats>> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(runtime_id)
            .cloned()
    }

    /// Replace every sample (containers no longer polled disappear).
    pub fn replace_all(&self, samples: HashMap<String, Arc<ContainerStats>>) {
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = samples;
    }

    pub fn insert(&self, runtime_id: &str, stats: ContainerStats) {
        self.inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(runtime_id.to_string(), Arc::new(stats));
    }

    /// Every latest sample (the TCS publisher reads them all).
    pub fn all(&self) -> Vec<(String, Arc<ContainerStats>)> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(id, s)| (id.clone(), s.clone()))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
