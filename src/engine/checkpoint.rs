//! Where the engine checkpoints what it decided: the state store, or nothing
//! at all with ECS_CHECKPOINT=false. The engine writes through this one seam
//! instead of asking at every write whether there is a store.

use crate::state::{ImageState, StateError, StateStore};
use crate::task::{StateChange, Task};

/// What the engine writes before it acts on a decision or acknowledges it.
pub trait Checkpoint: Send + Sync + 'static {
    /// New tasks of a payload, before the payload is acknowledged.
    fn save_tasks(&self, tasks: &[&Task]) -> Result<(), StateError>;
    /// A task with the state change it produced, in one transaction; `send`
    /// gets the change once, with its outbox id (None when nothing is kept),
    /// as soon as it is queued, possibly before the commit has ended
    /// (`StateStore::save_task_and_send`).
    fn save_task_and_send(
        &self,
        task: &Task,
        change: Option<StateChange>,
        send: &mut dyn FnMut(Option<u64>, StateChange),
    ) -> Result<(), StateError>;
    /// A state change that belongs to no saved task (a refused task); its
    /// outbox id, None when nothing is kept.
    fn queue_report(&self, change: &StateChange) -> Result<Option<u64>, StateError>;
    /// The control plane took the change with this outbox id.
    fn delete_report(&self, id: u64) -> Result<(), StateError>;
    fn delete_task(&self, arn: &str) -> Result<(), StateError>;
    fn save_image(&self, name: &str, state: &ImageState) -> Result<(), StateError>;
    fn delete_image(&self, name: &str) -> Result<(), StateError>;
}

impl Checkpoint for StateStore {
    fn save_tasks(&self, tasks: &[&Task]) -> Result<(), StateError> {
        StateStore::save_tasks(self, tasks)
    }

    fn save_task_and_send(
        &self,
        task: &Task,
        change: Option<StateChange>,
        send: &mut dyn FnMut(Option<u64>, StateChange),
    ) -> Result<(), StateError> {
        StateStore::save_task_and_send(self, task, change, send)
    }

    fn queue_report(&self, change: &StateChange) -> Result<Option<u64>, StateError> {
        StateStore::queue_report(self, change).map(Some)
    }

    fn delete_report(&self, id: u64) -> Result<(), StateError> {
        StateStore::delete_report(self, id)
    }

    fn delete_task(&self, arn: &str) -> Result<(), StateError> {
        StateStore::delete_task(self, arn)
    }

    fn save_image(&self, name: &str, state: &ImageState) -> Result<(), StateError> {
        StateStore::save_image(self, name, state)
    }

    fn delete_image(&self, name: &str) -> Result<(), StateError> {
        StateStore::delete_image(self, name)
    }
}

/// ECS_CHECKPOINT=false: every decision lives in memory only, and nothing
/// survives a restart.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCheckpoint;

impl Checkpoint for NoCheckpoint {
    fn save_tasks(&self, _: &[&Task]) -> Result<(), StateError> {
        Ok(())
    }

    fn save_task_and_send(
        &self,
        _: &Task,
        change: Option<StateChange>,
        send: &mut dyn FnMut(Option<u64>, StateChange),
    ) -> Result<(), StateError> {
        if let Some(change) = change {
            send(None, change);
        }
        Ok(())
    }

    fn queue_report(&self, _: &StateChange) -> Result<Option<u64>, StateError> {
        Ok(None)
    }

    fn delete_report(&self, _: u64) -> Result<(), StateError> {
        Ok(())
    }

    fn delete_task(&self, _: &str) -> Result<(), StateError> {
        Ok(())
    }

    fn save_image(&self, _: &str, _: &ImageState) -> Result<(), StateError> {
        Ok(())
    }

    fn delete_image(&self, _: &str) -> Result<(), StateError> {
        Ok(())
    }
}
