//! A full disk: redb refuses every operation after one failed write until the
//! file is reopened; the store reopens it, so checkpoints resume once there is
//! room again and nothing committed before is lost.

use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

use super::*;
use crate::task::def::{ContainerDef, TaskDef};
use crate::task::{DesiredStatus, Task};

/// Whether the disk is full right now.
type Full = Arc<dyn Fn() -> bool + Send + Sync>;

/// The real file backend, with writes failing as on a full disk while `full`.
struct FillableDisk {
    file: FileBackend,
    full: Full,
}

impl std::fmt::Debug for FillableDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FillableDisk").finish_non_exhaustive()
    }
}

impl FillableDisk {
    fn check(&self) -> Result<(), std::io::Error> {
        if (self.full)() {
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
        Ok(())
    }
}

impl StorageBackend for FillableDisk {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.file.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.file.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.check()?;
        self.file.set_len(len)
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.check()?;
        self.file.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.check()?;
        self.file.write(offset, data)
    }
    fn close(&self) -> Result<(), std::io::Error> {
        self.file.close()
    }
    fn try_lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_range(s, e)
    }
    fn try_lock_shared_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_shared_range(s, e)
    }
    fn lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_range(s, e)
    }
    fn lock_shared_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_shared_range(s, e)
    }
    fn unlock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
        self.file.unlock_range(s, e)
    }
    fn query_lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
        self.file.query_lock_range(s, e)
    }
}

fn store_on(path: &Path, full: &Arc<AtomicBool>) -> StateStore {
    let full = full.clone();
    store_with(path, Arc::new(move || full.load(Ordering::SeqCst)))
}

fn store_with(path: &Path, full: Full) -> StateStore {
    let file = path.to_path_buf();
    StateStore::with_opener(
        path.to_path_buf(),
        Box::new(move || {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&file)
                .map_err(redb::StorageError::from)?;
            redb::Database::builder().create_with_backend(FillableDisk {
                file: FileBackend::new(f)?,
                full: full.clone(),
            })
        }),
    )
    .unwrap()
}

fn task(arn: &str) -> Task {
    let td = TaskDef::minimal(arn, vec![ContainerDef::minimal("c", "busybox")]);
    Task::new(td, DesiredStatus::Running, Duration::from_secs(30))
}

#[test]
fn checkpoints_resume_when_a_full_disk_has_room_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let full = Arc::new(AtomicBool::new(false));
    let store = store_on(&path, &full);
    store.save_tasks(&[&task("arn:before")]).unwrap();

    full.store(true, Ordering::SeqCst);
    for arn in ["arn:while-full-1", "arn:while-full-2"] {
        let e = store.save_tasks(&[&task(arn)]).unwrap_err();
        assert!(e.to_string().contains("No space left"), "{e}");
    }
    full.store(false, Ordering::SeqCst);
    // Without reopening, redb answers PreviousIo to every write from now on.
    store.save_tasks(&[&task("arn:after")]).unwrap();
    store.save_seq_num(7).unwrap();
    let arns = |s: &Saved| {
        let mut a: Vec<String> = s.tasks.iter().map(|t| t.arn().to_string()).collect();
        a.sort();
        a
    };
    assert_eq!(arns(&store.load().unwrap()), ["arn:after", "arn:before"]);
    drop(store);

    // The file itself is sound: a fresh open (as at agent start) reads it all.
    let reopened = StateStore::open(dir.path()).unwrap();
    let saved = reopened.load().unwrap();
    assert_eq!(arns(&saved), ["arn:after", "arn:before"]);
    assert_eq!(saved.seq_num, Some(7));
}

/// A disk filled by someone else while the reserve was held: the commit that
/// fails gives the reserve up, is committed, and the reserve is taken again.
#[test]
fn a_full_disk_gives_the_reserve_up_for_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let reserve = dir.path().join(reserve::FILE_NAME);
    let filled = Arc::new(AtomicBool::new(false));
    let beyond_the_reserve = Arc::new(AtomicBool::new(false));
    // Full while the reserve holds its bytes: freeing them makes room,
    // unless the disk is full beyond them.
    let full: Full = {
        let (filled, beyond, reserve) =
            (filled.clone(), beyond_the_reserve.clone(), reserve.clone());
        Arc::new(move || {
            filled.load(Ordering::SeqCst) && (reserve.exists() || beyond.load(Ordering::SeqCst))
        })
    };
    let store = store_with(&path, full);
    let held = || std::fs::metadata(&reserve).map(|m| m.len()).unwrap_or(0);
    assert_eq!(held(), reserve::BYTES, "the reserve is taken at open");

    filled.store(true, Ordering::SeqCst);
    store.save_tasks(&[&task("arn:on-a-full-disk")]).unwrap();
    let saved = store.load().unwrap();
    assert!(saved.tasks.iter().any(|t| t.arn() == "arn:on-a-full-disk"));
    assert_eq!(held(), reserve::BYTES, "taken again after the commit");

    // Full beyond the reserve: the failure is the disk's, and nothing
    // committed before is lost.
    beyond_the_reserve.store(true, Ordering::SeqCst);
    let e = store.save_seq_num(3).unwrap_err();
    assert!(e.is_disk_full(), "{e}");
    filled.store(false, Ordering::SeqCst);
    store.save_seq_num(4).unwrap();
    assert_eq!(held(), reserve::BYTES, "taken again once there is room");
    let saved = store.load().unwrap();
    assert!(saved.tasks.iter().any(|t| t.arn() == "arn:on-a-full-disk"));
    assert_eq!(saved.seq_num, Some(4));
}

/// A change sent before its commit failed keeps its outbox id to itself:
/// the next change gets another, so the first one's acceptance can never
/// remove the second from the outbox. Each change is sent exactly once.
#[test]
fn an_outbox_id_sent_before_a_failed_commit_is_never_given_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let full = Arc::new(AtomicBool::new(false));
    let store = store_on(&path, &full);
    use super::tests::change;
    let mut sent = Vec::new();
    full.store(true, Ordering::SeqCst);
    let failed = store.save_task_and_send(&task("arn:a"), Some(change("arn:a")), &mut |id, c| {
        sent.push((id, c.task_arn))
    });
    assert!(failed.is_err(), "the full disk refuses the commit");
    full.store(false, Ordering::SeqCst);
    store
        .save_task_and_send(&task("arn:b"), Some(change("arn:b")), &mut |id, c| {
            sent.push((id, c.task_arn))
        })
        .unwrap();

    assert_eq!(sent.len(), 2, "{sent:?}");
    let b_id = sent[1].0.expect("b is in the outbox");
    assert_ne!(sent[0].0, Some(b_id), "{sent:?}");
    let outbox: Vec<(u64, String)> = store
        .load()
        .unwrap()
        .outbox
        .into_iter()
        .map(|(id, c)| (id, c.task_arn))
        .collect();
    assert_eq!(outbox, [(b_id, "arn:b".to_string())]);
}
