//! The checkpoint (ECS_CHECKPOINT, on by default with a data dir), what it
//! holds from the last process, and the seams the engine and ACS write it
//! through.

use std::sync::Arc;

use crate::config::Config;
use crate::control::eni_watcher::{AttachmentCheckpoint, NoAttachmentCheckpoint};
use crate::control::sink::{NoSeqCheckpoint, SeqCheckpoint};
use crate::engine::{Checkpoint, NoCheckpoint};
use crate::state::{Saved, StateStore};

use super::error::AgentError;

pub struct Opened {
    /// The store itself, for the instance record; None when off.
    pub store: Option<Arc<StateStore>>,
    /// The engine's checkpoint: the store, or nothing.
    pub checkpoint: Arc<dyn Checkpoint>,
    /// Where ACS keeps its sequence number: the store, or nothing.
    pub seq_checkpoint: Arc<dyn SeqCheckpoint>,
    /// Where the ENI watcher keeps its attachments: the store, or nothing.
    pub attachment_checkpoint: Arc<dyn AttachmentCheckpoint>,
    pub saved: Saved,
}

pub fn open(cfg: &Config) -> Result<Opened, AgentError> {
    if !cfg.checkpoint {
        tracing::warn!("ECS_CHECKPOINT=false: nothing survives a restart of the agent");
        return Ok(Opened {
            store: None,
            checkpoint: Arc::new(NoCheckpoint),
            seq_checkpoint: Arc::new(NoSeqCheckpoint),
            attachment_checkpoint: Arc::new(NoAttachmentCheckpoint),
            saved: Saved::default(),
        });
    }
    let store = StateStore::open(&cfg.data_dir).map_err(AgentError::OpenState)?;
    let saved = store.load()?;
    tracing::info!(path = %store.path().display(), tasks = saved.tasks.len(), unsent_changes = saved.outbox.len(), "state loaded");
    let store = Arc::new(store);
    Ok(Opened {
        checkpoint: store.clone(),
        seq_checkpoint: store.clone(),
        attachment_checkpoint: store.clone(),
        store: Some(store),
        saved,
    })
}
