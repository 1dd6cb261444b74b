//! The sweep at start: what the agent's containerd namespace holds that no
//! task of the checkpoint owns is removed (its task killed and deleted, its
//! record and its snapshot removed). Such leftovers come from an agent
//! killed between creating a container and checkpointing it, a namespace
//! holder whose remove failed at cleanup, or a create that died between its
//! snapshot and its record. Left alone they would hold processes, memory,
//! host ports and disk forever, since nothing would ever report or stop them.
//!
//! The Go agent leaves Docker containers it does not know alone: Docker is
//! shared with whatever else runs on the host. The containerd namespace
//! (`CONTAINERD_NAMESPACE`) is this agent's alone (README, configuration),
//! so whatever is in it and not in the checkpoint is the agent's own
//! leftover. What a checkpointed task owns is never touched: those
//! containers keep running across agent restarts, which is a core promise.
//!
//! Without a checkpoint (`ECS_CHECKPOINT=false`) the agent cannot tell its
//! leftovers from the tasks of its last process, which may still be running
//! for someone: it only counts them in its log and leaves them.

use std::collections::HashSet;

use crate::runtime::ContainerRuntime;
use crate::task::spec::{container_id, namespace_holder_id, owned_by_task};
use crate::task::Task;

use super::Engine;

/// Every runtime id the tasks own: their containers' (as named now, and as
/// recorded when they were made) and their namespace holders'.
fn owned_ids(tasks: &[Task]) -> HashSet<String> {
    let mut ids = HashSet::new();
    for task in tasks {
        let def = task.def();
        ids.insert(namespace_holder_id(def.id()));
        for (i, c) in def.containers.iter().enumerate() {
            ids.insert(container_id(def.id(), i, &c.name));
        }
        ids.extend(
            task.containers()
                .iter()
                .filter_map(|c| c.runtime_id.clone()),
        );
    }
    ids
}

/// The listed ids that belong to none of `tasks`. An id that merely starts
/// with a known task's id is kept too: whatever a task owns is named after it.
pub(crate) fn leftovers(listed: Vec<String>, tasks: &[Task]) -> Vec<String> {
    let owned = owned_ids(tasks);
    listed
        .into_iter()
        .filter(|id| !owned.contains(id))
        .filter(|id| !tasks.iter().any(|t| owned_by_task(t.def().id(), id)))
        .collect()
}

impl<R: ContainerRuntime> Engine<R> {
    /// At start, before the tasks of the checkpoint are restored: removes
    /// what the namespace holds that none of `known_tasks` owns, or, without
    /// a checkpoint (`checkpointed` false), only says what it found.
    pub async fn remove_leftover_containers(&self, known_tasks: &[Task], checkpointed: bool) {
        let inner = &self.inner;
        let listed = match inner.runtime.list().await {
            Ok(ids) => ids,
            Err(e) => {
                inner.metrics.inc_error("leftover");
                tracing::warn!(error = %e, "cannot list the containerd namespace; leftovers of earlier agent processes stay until the next start");
                return;
            }
        };
        let found = leftovers(listed, known_tasks);
        if found.is_empty() {
            return;
        }
        if !checkpointed {
            tracing::warn!(count = found.len(), ids = ?found, "ECS_CHECKPOINT=false: containers of an earlier agent process are left alone in the containerd namespace");
            return;
        }
        for id in found {
            match inner.runtime.remove(&id).await {
                Ok(()) => {
                    inner.metrics.inc_leftovers_removed();
                    tracing::info!(container = %id, "removed a leftover that no checkpointed task owns");
                }
                Err(e) => {
                    inner.metrics.inc_error("leftover");
                    tracing::warn!(container = %id, error = %e, "cannot remove a leftover that no checkpointed task owns; trying again at the next start");
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "leftovers_tests.rs"]
mod tests;
