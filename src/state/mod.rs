//! What survives a restart, in `ECS_DATADIR/agent.redb`: the instance's
//! identity, every task with its containers' known/desired/sent statuses, the
//! ACS sequence number, and the outbox of state changes not yet accepted by the
//! control plane. Every write is a committed transaction before the agent
//! acknowledges what it records (an ACS message); a state change may be
//! sent to the control plane while its own commit syncs, and its acceptance
//! is applied only after that commit (`save_task_and_send`).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::task::{StateChange, Task};

mod perms;
mod reserve;

/// Creates the data directory owner-only (0700), or narrows a wider one.
pub fn secure_data_dir(dir: &Path) -> Result<(), StateError> {
    Ok(perms::secure_dir(dir)?)
}

impl StateError {
    /// A write refused for want of space on the data dir's filesystem.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StateError::Db {
                source: redb::Error::Io(io),
                ..
            }
            | StateError::Open {
                source: redb::DatabaseError::Storage(redb::StorageError::Io(io)),
                ..
            } => reserve::is_full(io),
            _ => false,
        }
    }
}

impl From<perms::ModeError> for StateError {
    fn from(e: perms::ModeError) -> Self {
        StateError::DataDir {
            path: e.path,
            source: e.source,
        }
    }
}

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const TASKS: TableDefinition<&str, &[u8]> = TableDefinition::new("tasks");
const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");
const IMAGES: TableDefinition<&str, &[u8]> = TableDefinition::new("images");
/// awslogs: how far each container's spool is shipped (`<task-id>/<container>`
/// to the shipper's own encoding of its position).
const LOG_OFFSETS: TableDefinition<&str, &[u8]> = TableDefinition::new("log_offsets");

const INSTANCE_KEY: &str = "instance";
const SEQ_KEY: &str = "acs_seq_num";
const ENI_KEY: &str = "eni_attachments";
pub const FILE_NAME: &str = "agent.redb";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the agent state {path}: {source}. The file is kept as it is; move it away deliberately to start afresh (running tasks would then be orphaned)")]
    Open {
        path: PathBuf,
        source: redb::DatabaseError,
    },
    #[error("agent state {path}: {source}")]
    Db { path: PathBuf, source: redb::Error },
    #[error("agent state {path}: record {table}/{key} is unreadable ({source}); the file is kept as it is")]
    Corrupt {
        path: PathBuf,
        table: &'static str,
        key: String,
        source: serde_json::Error,
    },
    #[error("{0}")]
    OtherInstance(Box<OtherInstance>),
    #[error("serializing agent state: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// A data dir that belongs to another instance, cluster or control plane.
#[derive(Debug, thiserror::Error)]
#[error("agent state {path} belongs to container instance {saved_instance} of cluster {saved_cluster:?} at {saved_endpoint:?}, but this agent is configured for cluster {cluster:?} at {endpoint:?} (ECS_CLUSTER / ECS_BACKEND_HOST). Use another ECS_DATADIR, or move the file away deliberately")]
pub struct OtherInstance {
    pub path: PathBuf,
    pub saved_instance: String,
    pub saved_cluster: String,
    pub saved_endpoint: String,
    pub cluster: String,
    pub endpoint: String,
}

/// Who this data dir belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRecord {
    pub cluster: String,
    /// ECS_BACKEND_HOST, or "" for the regional endpoint.
    pub endpoint: String,
    pub container_instance_arn: String,
    pub cluster_arn: String,
}

/// An image the agent pulled: when, and when a container last used it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageState {
    pub pulled_at_ms: i64,
    pub last_used_ms: i64,
}

/// A task ENI attachment the agent was told of (the Go agent keeps these in
/// its data store too, agent/data/eniattachment_client.go), so that one
/// not yet reported ATTACHED is watched again after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EniAttachmentRecord {
    pub attachment_arn: String,
    pub task_arn: String,
    pub cluster_arn: String,
    /// `aa:bb:cc:dd:ee:ff`
    pub mac: String,
    /// Unix ms: `waitTimeoutMs` after the message arrived.
    pub expires_at_ms: i64,
    /// Reported ATTACHED already.
    pub sent: bool,
}

/// Everything loaded at start.
#[derive(Debug, Default)]
pub struct Saved {
    pub instance: Option<InstanceRecord>,
    pub tasks: Vec<Task>,
    pub outbox: Vec<(u64, StateChange)>,
    pub seq_num: Option<i64>,
    pub images: Vec<(String, ImageState)>,
    pub eni_attachments: Vec<EniAttachmentRecord>,
}

/// Opens the database file (again).
type Opener = Box<dyn Fn() -> Result<redb::Database, redb::DatabaseError> + Send + Sync>;

pub struct StateStore {
    /// `None` after an I/O failure (a full disk): redb then refuses every
    /// later operation until the file is reopened, so the next write reopens
    /// it, which recovers the last committed transaction.
    db: Mutex<Option<redb::Database>>,
    path: PathBuf,
    open: Opener,
    reserve: reserve::Reserve,
    /// The highest outbox id handed out by this process: a change may be
    /// sent before its commit ends (`save_task_and_send`), so an id whose
    /// commit failed must never name another change.
    outbox_issued: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore")
            .field("path", &self.path)
            .finish()
    }
}

impl StateStore {
    /// Opens (or creates) the store in `dir`. A file that cannot be opened is
    /// an error, never replaced.
    pub fn open(dir: &Path) -> Result<StateStore, StateError> {
        perms::secure_dir(dir)?;
        let path = dir.join(FILE_NAME);
        perms::secure_file(&path)?;
        let file = path.clone();
        Self::with_opener(path, Box::new(move || redb::Database::create(&file)))
    }

    fn with_opener(path: PathBuf, open: Opener) -> Result<StateStore, StateError> {
        let db = open().map_err(|source| StateError::Open {
            path: path.clone(),
            source,
        })?;
        let reserve =
            reserve::Reserve::new(path.parent().unwrap_or(Path::new(".")), reserve::BYTES);
        let store = StateStore {
            db: Mutex::new(Some(db)),
            path,
            open,
            reserve,
            outbox_issued: std::sync::atomic::AtomicU64::new(0),
        };
        store.write(|txn| {
            txn.open_table(META)?;
            txn.open_table(TASKS)?;
            txn.open_table(OUTBOX)?;
            txn.open_table(IMAGES)?;
            txn.open_table(LOG_OFFSETS)?;
            Ok(())
        })?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db_err(&self, e: impl Into<redb::Error>) -> StateError {
        StateError::Db {
            path: self.path.clone(),
            source: e.into(),
        }
    }

    /// Runs `f` on the open database, reopened first if an I/O failure
    /// closed it. An I/O failure in `f` closes it: redb refuses everything
    /// after one until the file is reopened, and reopening recovers the last
    /// commit (a full disk that has room again).
    fn with_db<T>(
        &self,
        f: impl FnOnce(&redb::Database) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let mut guard = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        let db = match guard.take() {
            Some(db) => db,
            None => {
                let db = (self.open)().map_err(|source| StateError::Open {
                    path: self.path.clone(),
                    source,
                })?;
                tracing::info!(path = %self.path.display(), "agent state reopened after an I/O failure");
                db
            }
        };
        let result = f(&db);
        let failed_io = matches!(
            &result,
            Err(StateError::Db {
                source: redb::Error::Io(_) | redb::Error::PreviousIo,
                ..
            })
        );
        if failed_io {
            drop(db);
        } else {
            *guard = Some(db);
        }
        result
    }

    fn write(
        &self,
        mut f: impl FnMut(&redb::WriteTransaction) -> Result<(), redb::Error>,
    ) -> Result<(), StateError> {
        // A commit fsyncs: off the async worker, by the one rule.
        crate::blocking::run(|| {
            let result = match self.commit(&mut f) {
                Err(e) if e.is_disk_full() => match self.reserve.release() {
                    0 => Err(e),
                    freed => {
                        tracing::warn!(path = %self.path.display(), freed, "the disk of the agent state is full: its reserve is given up for this commit");
                        self.commit(&mut f)
                    }
                },
                other => other,
            };
            if result.is_ok() {
                self.reserve.take();
            }
            result
        })
    }

    fn commit(
        &self,
        f: &mut impl FnMut(&redb::WriteTransaction) -> Result<(), redb::Error>,
    ) -> Result<(), StateError> {
        self.with_db(|db| {
            let txn = db.begin_write().map_err(|e| self.db_err(e))?;
            f(&txn).map_err(|e| self.db_err(e))?;
            txn.commit().map_err(|e| self.db_err(e))
        })
    }

    fn decode<T: for<'de> Deserialize<'de>>(
        &self,
        table: &'static str,
        key: String,
        bytes: &[u8],
    ) -> Result<T, StateError> {
        serde_json::from_slice(bytes).map_err(|source| StateError::Corrupt {
            path: self.path.clone(),
            table,
            key,
            source,
        })
    }

    pub fn load(&self) -> Result<Saved, StateError> {
        self.with_db(|db| self.load_from(db))
    }

    fn load_from(&self, db: &redb::Database) -> Result<Saved, StateError> {
        let txn = db.begin_read().map_err(|e| self.db_err(e))?;
        let meta = txn.open_table(META).map_err(|e| self.db_err(e))?;
        let mut saved = Saved::default();
        if let Some(v) = meta.get(INSTANCE_KEY).map_err(|e| self.db_err(e))? {
            saved.instance = Some(self.decode("meta", INSTANCE_KEY.into(), v.value())?);
        }
        if let Some(v) = meta.get(SEQ_KEY).map_err(|e| self.db_err(e))? {
            saved.seq_num = Some(self.decode("meta", SEQ_KEY.into(), v.value())?);
        }
        if let Some(v) = meta.get(ENI_KEY).map_err(|e| self.db_err(e))? {
            saved.eni_attachments = self.decode("meta", ENI_KEY.into(), v.value())?;
        }
        let tasks = txn.open_table(TASKS).map_err(|e| self.db_err(e))?;
        for row in tasks.iter().map_err(|e| self.db_err(e))? {
            let (k, v) = row.map_err(|e| self.db_err(e))?;
            saved
                .tasks
                .push(self.decode("tasks", k.value().to_string(), v.value())?);
        }
        let outbox = txn.open_table(OUTBOX).map_err(|e| self.db_err(e))?;
        for row in outbox.iter().map_err(|e| self.db_err(e))? {
            let (k, v) = row.map_err(|e| self.db_err(e))?;
            let id = k.value();
            saved
                .outbox
                .push((id, self.decode("outbox", id.to_string(), v.value())?));
        }
        let images = txn.open_table(IMAGES).map_err(|e| self.db_err(e))?;
        for row in images.iter().map_err(|e| self.db_err(e))? {
            let (k, v) = row.map_err(|e| self.db_err(e))?;
            let name = k.value().to_string();
            saved
                .images
                .push((name.clone(), self.decode("images", name, v.value())?));
        }
        Ok(saved)
    }

    pub fn save_image(&self, name: &str, state: &ImageState) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(state)?;
        self.write(|txn| {
            txn.open_table(IMAGES)?.insert(name, bytes.as_slice())?;
            Ok(())
        })
    }

    pub fn delete_image(&self, name: &str) -> Result<(), StateError> {
        self.write(|txn| {
            txn.open_table(IMAGES)?.remove(name)?;
            Ok(())
        })
    }

    /// Refuses a data dir made by another instance, cluster or control plane.
    pub fn check_owner(
        &self,
        saved: Option<&InstanceRecord>,
        cluster: &str,
        endpoint: &str,
    ) -> Result<(), StateError> {
        match saved {
            Some(s) if s.cluster != cluster || s.endpoint != endpoint => {
                Err(StateError::OtherInstance(Box::new(OtherInstance {
                    path: self.path.clone(),
                    saved_instance: s.container_instance_arn.clone(),
                    saved_cluster: s.cluster.clone(),
                    saved_endpoint: s.endpoint.clone(),
                    cluster: cluster.to_string(),
                    endpoint: endpoint.to_string(),
                })))
            }
            _ => Ok(()),
        }
    }

    pub fn save_instance(&self, rec: &InstanceRecord) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(rec)?;
        self.write(|txn| {
            txn.open_table(META)?
                .insert(INSTANCE_KEY, bytes.as_slice())?;
            Ok(())
        })
    }

    pub fn save_seq_num(&self, seq: i64) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(&seq)?;
        self.write(|txn| {
            txn.open_table(META)?.insert(SEQ_KEY, bytes.as_slice())?;
            Ok(())
        })
    }

    /// Replaces the recorded ENI attachments with `list`.
    pub fn save_eni_attachments(&self, list: &[EniAttachmentRecord]) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(list)?;
        self.write(|txn| {
            txn.open_table(META)?.insert(ENI_KEY, bytes.as_slice())?;
            Ok(())
        })
    }

    /// Saves tasks (new ones from a payload, before it is acknowledged).
    pub fn save_tasks(&self, tasks: &[&Task]) -> Result<(), StateError> {
        let rows: Vec<(String, Vec<u8>)> = tasks
            .iter()
            .map(|t| Ok((t.arn().to_string(), serde_json::to_vec(t)?)))
            .collect::<Result<_, serde_json::Error>>()?;
        self.write(|txn| {
            let mut table = txn.open_table(TASKS)?;
            for (k, v) in &rows {
                table.insert(k.as_str(), v.as_slice())?;
            }
            Ok(())
        })
    }

    /// `save_task_and_send` for tests that want the outbox id back.
    #[cfg(test)]
    pub fn save_task_with_report(
        &self,
        task: &Task,
        change: Option<&StateChange>,
    ) -> Result<Option<u64>, StateError> {
        let mut id = None;
        self.save_task_and_send(task, change.cloned(), &mut |sent, _| id = sent)?;
        Ok(id)
    }

    /// Saves a task and, in the same transaction, queues the state change it
    /// produced: the change is marked sent in the task exactly when it enters
    /// the outbox. `send` gets the change with its outbox id as soon as the
    /// change is in the transaction, before the commit syncs the disk: the
    /// report goes out while the disk syncs (a commit took 0.7 to 1.4 ms of
    /// every task start's RUNNING report). The
    /// control plane's acceptance of it cannot be applied before the commit
    /// ends (writes here are one at a time); a change sent and then lost to
    /// a failed commit is sent again after a restart, from the task's own
    /// checkpoint, as the Go agent resends (a duplicate, never a loss).
    /// `send` is called exactly once for a change: with `None` when the
    /// write failed before the change was queued.
    pub fn save_task_and_send(
        &self,
        task: &Task,
        change: Option<StateChange>,
        send: &mut dyn FnMut(Option<u64>, StateChange),
    ) -> Result<(), StateError> {
        let mut pending = change;
        let mut id = None;
        let result = (|| {
            let task_bytes = serde_json::to_vec(task)?;
            let change_bytes = pending.as_ref().map(serde_json::to_vec).transpose()?;
            self.write(|txn| {
                txn.open_table(TASKS)?
                    .insert(task.arn(), task_bytes.as_slice())?;
                if let Some(bytes) = &change_bytes {
                    let next = self.queue_in(&mut txn.open_table(OUTBOX)?, &mut id, bytes)?;
                    if let Some(change) = pending.take() {
                        send(Some(next), change);
                    }
                }
                Ok(())
            })
        })();
        if let Some(change) = pending.take() {
            send(None, change);
        }
        result
    }

    /// Puts `bytes` in the outbox under `*id`, or under a new id the first
    /// time: a commit retried after a full disk keeps the id it used (and
    /// may have sent).
    fn queue_in(
        &self,
        outbox: &mut redb::Table<'_, u64, &[u8]>,
        id: &mut Option<u64>,
        bytes: &[u8],
    ) -> Result<u64, redb::StorageError> {
        let next = match *id {
            Some(id) => id,
            None => self.next_outbox_id(outbox)?,
        };
        *id = Some(next);
        outbox.insert(next, bytes)?;
        Ok(next)
    }

    /// The next outbox id: past every row and every id handed out.
    fn next_outbox_id(
        &self,
        outbox: &redb::Table<'_, u64, &[u8]>,
    ) -> Result<u64, redb::StorageError> {
        use std::sync::atomic::Ordering;
        let after_rows = outbox.last()?.map(|(k, _)| k.value() + 1).unwrap_or(1);
        let id = after_rows.max(self.outbox_issued.load(Ordering::Relaxed) + 1);
        self.outbox_issued.store(id, Ordering::Relaxed);
        Ok(id)
    }

    /// Queues a state change that belongs to no saved task (a refused task).
    pub fn queue_report(&self, change: &StateChange) -> Result<u64, StateError> {
        let bytes = serde_json::to_vec(change)?;
        let mut id = None;
        let mut queued = 0;
        self.write(|txn| {
            queued = self.queue_in(&mut txn.open_table(OUTBOX)?, &mut id, &bytes)?;
            Ok(())
        })?;
        Ok(queued)
    }

    /// The control plane accepted the change.
    pub fn delete_report(&self, id: u64) -> Result<(), StateError> {
        self.write(|txn| {
            txn.open_table(OUTBOX)?.remove(id)?;
            Ok(())
        })
    }

    /// awslogs: a spool's shipped position, stored as given.
    pub fn save_log_offset(&self, key: &str, value: &[u8]) -> Result<(), StateError> {
        self.write(|txn| {
            txn.open_table(LOG_OFFSETS)?.insert(key, value)?;
            Ok(())
        })
    }

    pub fn log_offset(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        self.with_db(|db| {
            let txn = db.begin_read().map_err(|e| self.db_err(e))?;
            let table = txn.open_table(LOG_OFFSETS).map_err(|e| self.db_err(e))?;
            let v = table.get(key).map_err(|e| self.db_err(e))?;
            Ok(v.map(|v| v.value().to_vec()))
        })
    }

    pub fn delete_log_offset(&self, key: &str) -> Result<(), StateError> {
        self.write(|txn| {
            txn.open_table(LOG_OFFSETS)?.remove(key)?;
            Ok(())
        })
    }

    pub fn delete_task(&self, arn: &str) -> Result<(), StateError> {
        self.write(|txn| {
            txn.open_table(TASKS)?.remove(arn)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod full_disk_tests;
#[cfg(test)]
mod tests;
