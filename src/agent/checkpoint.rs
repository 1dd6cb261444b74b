//! The checkpoint (ECS_CHECKPOINT, on by default with a data dir), what it
//! holds from the last process, and the seams the engine and ACS write it
//! through.

use std::sync::Arc;

use crate::awslogs::{MemoryOffsets, OffsetStore, Position};
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
    /// Where awslogs keeps how far each spool is shipped: the store, or memory.
    pub log_offsets: Arc<dyn OffsetStore>,
    pub saved: Saved,
}

/// awslogs positions in the state file, as JSON. A failed write is logged:
/// the worst it costs is lines shipped twice after a restart (or, for the
/// count of the logger's dropped lines, counted twice).
struct StateOffsets(Arc<StateStore>);

/// The record of a container's counted dropped lines, beside its position's.
fn dropped_key(key: &str) -> String {
    format!("{key}#dropped")
}

impl OffsetStore for StateOffsets {
    fn load(&self, key: &str) -> Option<Position> {
        match self.0.log_offset(key) {
            Ok(v) => v.and_then(|b| serde_json::from_slice(&b).ok()),
            Err(e) => {
                tracing::warn!(key, error = %e, "cannot read an awslogs position; shipping starts from the spool's start");
                None
            }
        }
    }
    fn save(&self, key: &str, at: Position) {
        let bytes = serde_json::to_vec(&at).unwrap_or_default();
        if let Err(e) = self.0.save_log_offset(key, &bytes) {
            tracing::warn!(key, error = %e, "cannot checkpoint an awslogs position");
        }
    }
    fn load_dropped(&self, key: &str) -> u64 {
        match self.0.log_offset(&dropped_key(key)) {
            Ok(v) => v.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(0),
            Err(e) => {
                tracing::warn!(key, error = %e, "cannot read how many dropped awslogs lines were counted; they may be counted again");
                0
            }
        }
    }
    fn save_dropped(&self, key: &str, counted: u64) {
        if let Err(e) = self
            .0
            .save_log_offset(&dropped_key(key), counted.to_string().as_bytes())
        {
            tracing::warn!(key, error = %e, "cannot checkpoint how many dropped awslogs lines were counted");
        }
    }
    fn delete(&self, key: &str) {
        for k in [key.to_string(), dropped_key(key)] {
            if let Err(e) = self.0.delete_log_offset(&k) {
                tracing::warn!(key = %k, error = %e, "cannot remove an awslogs position");
            }
        }
    }
}

pub fn open(cfg: &Config) -> Result<Opened, AgentError> {
    if !cfg.checkpoint {
        tracing::warn!("ECS_CHECKPOINT=false: nothing survives a restart of the agent");
        return Ok(Opened {
            store: None,
            checkpoint: Arc::new(NoCheckpoint),
            seq_checkpoint: Arc::new(NoSeqCheckpoint),
            attachment_checkpoint: Arc::new(NoAttachmentCheckpoint),
            log_offsets: Arc::new(MemoryOffsets::default()),
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
        log_offsets: Arc::new(StateOffsets(store.clone())),
        store: Some(store),
        saved,
    })
}
