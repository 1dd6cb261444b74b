//! Writes `network.json` off the async runtime, in the order its states
//! were taken. A setup's lease is written while its namespace is made (the
//! two do not depend on each other), so writes may finish out of order: a
//! late one must never put an older state over a newer one.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

use super::state::{self, State};
use super::NetworkError;

pub(super) struct Saver {
    dir: PathBuf,
    /// Numbers the snapshots in the order they were taken.
    taken: AtomicU64,
    /// The number of the newest snapshot on disk; held while writing, so
    /// that writes never overlap on the temporary file.
    written: Mutex<u64>,
}

/// The state at one moment, encoded.
pub(super) struct Snapshot {
    seq: u64,
    json: Vec<u8>,
}

impl Saver {
    pub(super) fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            taken: AtomicU64::new(0),
            written: Mutex::new(0),
        }
    }

    /// Encodes `state`. Call it with the state lock held, so that the
    /// snapshots' numbers follow the changes they hold.
    pub(super) fn take(&self, state: &State) -> Result<Snapshot, NetworkError> {
        Ok(Snapshot {
            seq: self.taken.fetch_add(1, Ordering::Relaxed) + 1,
            json: state::encode(&self.dir, state)?,
        })
    }

    /// Writes the snapshot, unless a newer one is on disk already: that one
    /// holds this one's changes too.
    pub(super) async fn write(&self, snap: Snapshot) -> Result<(), NetworkError> {
        let mut written = self.written.lock().await;
        if snap.seq <= *written {
            return Ok(());
        }
        let dir = self.dir.clone();
        let Snapshot { seq, json } = snap;
        tokio::task::spawn_blocking(move || state::write(&dir, &json))
            .await
            .map_err(|e| NetworkError::StateIo {
                path: self.dir.join(state::STATE_FILE),
                source: std::io::Error::other(e.to_string()),
            })??;
        *written = seq;
        Ok(())
    }
}
