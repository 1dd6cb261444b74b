//! The latest [`ContainerSample`] of every polled container, written by the
//! stats collector and read by the task metadata handlers and TCS.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::stats::ContainerSample;

/// Latest samples by containerd container id.
#[derive(Debug, Default)]
pub struct StatsStore {
    inner: RwLock<HashMap<String, Arc<ContainerSample>>>,
}

impl StatsStore {
    pub fn new() -> StatsStore {
        StatsStore::default()
    }

    pub fn get(&self, runtime_id: &str) -> Option<Arc<ContainerSample>> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(runtime_id)
            .cloned()
    }

    /// Replace every sample (containers no longer polled disappear).
    pub fn replace_all(&self, samples: HashMap<String, Arc<ContainerSample>>) {
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = samples;
    }

    pub fn insert(&self, runtime_id: &str, sample: ContainerSample) {
        self.inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(runtime_id.to_string(), Arc::new(sample));
    }

    /// Every latest sample (the TCS publisher reads them all).
    pub fn all(&self) -> Vec<(String, Arc<ContainerSample>)> {
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
