//! Each container's `linux.cgroupsPath`, read once from its OCI spec and
//! kept while it lives: the stats poll reads the cgroup files there instead
//! of asking containerd, which would ask every shim. A container's spec never
//! changes once created, so an entry is dropped only when a container of that
//! id is created or removed.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Conn;
use crate::runtime::{ErrorKind, RuntimeError};

/// `None` for a container whose spec names no usable path.
#[derive(Debug, Default)]
pub(super) struct CgroupPaths(Mutex<HashMap<String, Option<String>>>);

impl CgroupPaths {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<String>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cgroup paths of `ids`, looked up in containerd for those not kept
    /// yet. A container whose spec cannot be read now is left out (asked
    /// again next time); one that has no path is kept as `None`.
    pub(super) async fn of(&self, conn: &Conn, ids: &[String]) -> Vec<(String, Option<String>)> {
        let missing: Vec<String> = {
            let map = self.map();
            ids.iter()
                .filter(|id| !map.contains_key(id.as_str()))
                .cloned()
                .collect()
        };
        for id in missing {
            match super::exec::spec_json(conn, &id).await {
                Ok(spec) => {
                    let path = spec
                        .pointer("/linux/cgroupsPath")
                        .and_then(|p| p.as_str())
                        .map(str::to_string);
                    self.map().insert(id, path);
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => log_unread(&id, &e),
            }
        }
        let map = self.map();
        ids.iter()
            .filter_map(|id| Some((id.clone(), map.get(id.as_str())?.clone())))
            .collect()
    }

    /// The container `id` is made anew or gone.
    pub(super) fn forget(&self, id: &str) {
        self.map().remove(id);
    }
}

fn log_unread(id: &str, e: &RuntimeError) {
    tracing::debug!(container = %id, error = %e, "cgroup path not known; its metrics come from containerd");
}
