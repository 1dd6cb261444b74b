//! The process spec each container's probes are exec'd with, kept while the
//! container lives: a health check probes every few seconds with the same
//! arguments, and deriving the spec means fetching the container's whole
//! OCI spec from containerd and decoding and encoding it again, the largest
//! part of the agent's own cost per probe (BENCHMARKS.md, `health-100`).
//! A container's spec never changes once created, so an entry is dropped
//! only when a container of that id is created or removed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Entry = (Vec<String>, Arc<Vec<u8>>);

/// Encoded process specs by container id, for the arguments they were made for.
#[derive(Debug, Default)]
pub(super) struct ExecSpecs(Mutex<HashMap<String, Entry>>);

impl ExecSpecs {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The spec made for `args` in container `id`, if kept.
    pub(super) fn get(&self, id: &str, args: &[String]) -> Option<Arc<Vec<u8>>> {
        self.map()
            .get(id)
            .filter(|(a, _)| a.as_slice() == args)
            .map(|(_, spec)| spec.clone())
    }

    /// Keeps `spec` for `args` in `id` (one entry per container: the last).
    pub(super) fn insert(&self, id: &str, args: &[String], spec: Arc<Vec<u8>>) {
        self.map().insert(id.to_string(), (args.to_vec(), spec));
    }

    /// The container `id` is made anew or gone: its spec may differ.
    pub(super) fn forget(&self, id: &str) {
        self.map().remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_spec_is_found_for_its_container_and_arguments_until_forgotten() {
        let specs = ExecSpecs::default();
        let probe = args(&["sh", "-c", "true"]);
        assert!(specs.get("c1", &probe).is_none());
        specs.insert("c1", &probe, Arc::new(b"spec-1".to_vec()));
        assert_eq!(
            specs.get("c1", &probe).as_deref(),
            Some(&b"spec-1".to_vec())
        );
        assert!(specs.get("c2", &probe).is_none(), "another container");
        assert!(
            specs.get("c1", &args(&["true"])).is_none(),
            "other arguments"
        );
        specs.forget("c1");
        assert!(specs.get("c1", &probe).is_none());
    }
}
