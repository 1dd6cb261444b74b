//! A stopped container holds no process: once its exit is checkpointed, its
//! containerd task is deleted, and with it the shim and the logger (issue 19).
//! The container record, its snapshot and its log stay until cleanup
//! (ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION), as the task's state does in the
//! checkpoint and the endpoints.
//!
//! Only after the checkpoint: a restarted agent that finds a record without a
//! task would otherwise not know the exit code (containerd forgets it with
//! the task). A restarted agent reaps the stopped containers of the tasks it
//! restores again (deleting a deleted task is a no-op), so a crash between
//! the checkpoint and the delete leaves nothing behind.

use std::sync::Arc;

use crate::runtime::ContainerRuntime;
use crate::task::{ContainerStatus, Task};

use super::exec::retry_unavailable;
use super::inner::Inner;

/// Which containers of one task have had their task deleted by this
/// process (or were asked to be).
#[derive(Debug)]
pub(crate) struct Reaper {
    asked: Vec<bool>,
}

impl Reaper {
    pub(crate) fn new(task: &Task) -> Reaper {
        Reaper {
            asked: vec![false; task.containers().len()],
        }
    }

    /// Deletes the task of every container of `task` that is STOPPED in the
    /// checkpoint and still may have one. `checkpointed`: the last
    /// checkpoint of `task` was written (otherwise wait for the next one).
    pub(crate) fn reap<R: ContainerRuntime>(
        &mut self,
        inner: &Arc<Inner<R>>,
        task: &Task,
        checkpointed: bool,
    ) {
        if !checkpointed {
            return;
        }
        for (i, c) in task.containers().iter().enumerate() {
            let Some(asked) = self.asked.get_mut(i) else {
                continue;
            };
            // A runtime id means the container was made; an in-flight call
            // (a start racing the stop) still has the task to itself.
            if *asked || c.known != ContainerStatus::Stopped || c.in_flight {
                continue;
            }
            let Some(id) = c.runtime_id.clone() else {
                continue;
            };
            *asked = true;
            let inner = inner.clone();
            let arn = task.arn().to_string();
            tokio::spawn(async move {
                match retry_unavailable(&id, || inner.runtime.delete_task(&id)).await {
                    Ok(()) => {
                        tracing::debug!(task = %arn, container = %id, "stopped container holds no process")
                    }
                    // Cleanup removes the task with the container anyway.
                    Err(e) => {
                        inner.metrics.inc_error("delete_task");
                        tracing::warn!(task = %arn, container = %id, error = %e, "cannot delete the exited container's task; it stays until cleanup");
                    }
                }
            });
        }
    }
}
