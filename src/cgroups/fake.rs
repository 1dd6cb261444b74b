//! A recording fake for the engine's unit tests.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{CgroupError, Ensured, TaskCgroupSpec, TaskCgroups};

#[derive(Default)]
pub struct FakeCgroups {
    /// Task id -> its spec, while it exists.
    pub made: Mutex<BTreeMap<String, TaskCgroupSpec>>,
    pub removed: Mutex<Vec<String>>,
    /// Task id -> what `oom_kills` answers.
    pub oom: Mutex<BTreeMap<String, u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FakeCgroups {
    pub fn spec(&self, task_id: &str) -> Option<TaskCgroupSpec> {
        lock(&self.made).get(task_id).copied()
    }

    pub fn removed(&self) -> Vec<String> {
        lock(&self.removed).clone()
    }

    pub fn set_oom_kills(&self, task_id: &str, n: u64) {
        lock(&self.oom).insert(task_id.to_string(), n);
    }
}

impl TaskCgroups for FakeCgroups {
    fn path(&self, task_id: &str) -> String {
        format!("/ecs/{task_id}")
    }

    fn ensure(&self, task_id: &str, spec: &TaskCgroupSpec) -> Result<Ensured, CgroupError> {
        let mut made = lock(&self.made);
        if made.contains_key(task_id) {
            return Ok(Ensured::Found);
        }
        made.insert(task_id.to_string(), *spec);
        Ok(Ensured::Created)
    }

    fn oom_kills(&self, task_id: &str) -> Result<u64, CgroupError> {
        Ok(lock(&self.oom).get(task_id).copied().unwrap_or(0))
    }

    fn remove(&self, task_id: &str) -> Result<(), CgroupError> {
        lock(&self.made).remove(task_id);
        lock(&self.removed).push(task_id.to_string());
        Ok(())
    }

    fn list(&self) -> Result<Vec<String>, CgroupError> {
        Ok(lock(&self.made).keys().cloned().collect())
    }
}
