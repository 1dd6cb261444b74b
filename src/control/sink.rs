//! What the ACS session needs from whoever runs the tasks, as a trait
//! control owns: the engine implements it, and control never names the
//! engine or its runtime. Tasks cross this seam already validated
//! (`task::from_acs`), so nothing below control reads ACS wire types.

use std::collections::HashSet;

use crate::credentials::{CredentialsError, RoleCredentials};
use crate::state::{StateError, StateStore};
use crate::task::TaskDef;

/// One task of an ACS payload, as control understood it.
#[derive(Debug, Clone, PartialEq)]
pub enum PayloadTask {
    /// Desired RUNNING with a valid definition: run it, unless it is
    /// already known (a payload may be sent again).
    Run(Box<TaskDef>),
    /// Desired STOPPED: stop it if it runs here.
    Stop { arn: String },
    /// It cannot run (desired status not understood, definition invalid):
    /// report it STOPPED with the reason, unless it is already known.
    Refuse {
        arn: String,
        /// Container names, each reported STOPPED with the reason.
        containers: Vec<String>,
        reason: String,
    },
}

/// The engine as the ACS session sees it.
pub trait TaskSink: Send + Sync + 'static {
    /// Takes the tasks of one payload. Returns once every task is accepted
    /// and checkpointed (running, or refused with its STOPPED report
    /// queued), so the caller may then acknowledge the payload. An error
    /// means nothing new was accepted: do not acknowledge.
    fn accept(&self, tasks: Vec<PayloadTask>) -> Result<(), StateError>;
    /// Stops tasks the control plane wants stopped (manifest or verification).
    fn stop(&self, arns: &[String], reason: &str);
    /// Tasks running here (not yet stopped) that are missing from a task
    /// manifest: the candidates to stop, once the control plane confirms.
    fn stop_candidates(&self, manifest: &HashSet<String>) -> Vec<String>;
    /// Stores one set of role credentials for a task (memory only).
    fn put_credentials(
        &self,
        task_arn: &str,
        credentials: RoleCredentials,
    ) -> Result<(), CredentialsError>;
}

/// Where the ACS sequence number is kept across restarts.
pub trait SeqCheckpoint: Send + Sync + 'static {
    fn save_seq_num(&self, seq: i64) -> Result<(), StateError>;
}

impl SeqCheckpoint for StateStore {
    fn save_seq_num(&self, seq: i64) -> Result<(), StateError> {
        StateStore::save_seq_num(self, seq)
    }
}

/// ECS_CHECKPOINT=false: the sequence number lives in memory only.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSeqCheckpoint;

impl SeqCheckpoint for NoSeqCheckpoint {
    fn save_seq_num(&self, _: i64) -> Result<(), StateError> {
        Ok(())
    }
}
