//! Room kept on the data dir's filesystem for the checkpoint. A payload is
//! acknowledged only once it is committed, so on a disk that something else
//! filled (images, logs, another process) the agent would stop acknowledging,
//! and a task sent then would never be run nor reported STOPPED with the
//! reason that the disk is full. A preallocated file is given up for a commit
//! that failed for want of space, and taken again, as far as there is room,
//! after every commit until it is whole.

use std::fs::OpenOptions;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Enough for many payloads of large tasks: a commit copies only the pages
/// it changes, and redb reuses the pages earlier commits freed.
pub const BYTES: u64 = 8 << 20;

pub const FILE_NAME: &str = "agent.redb.reserve";

#[derive(Debug)]
pub(super) struct Reserve {
    path: PathBuf,
    size: u64,
    /// Bytes allocated to the file as last seen.
    held: AtomicU64,
    /// The file cannot be allocated for another reason than a full disk (a
    /// file system without fallocate, say): tried no more, so that every
    /// commit does not try and warn again.
    given_up: AtomicBool,
}

impl Reserve {
    /// Takes the reserve in `dir`, or as much of it as there is room for.
    pub fn new(dir: &Path, size: u64) -> Reserve {
        let reserve = Reserve {
            path: dir.join(FILE_NAME),
            size,
            held: AtomicU64::new(0),
            given_up: AtomicBool::new(false),
        };
        reserve.take();
        reserve
    }

    /// Allocates what is missing of the reserve, or as much of it as the disk
    /// has room for. A reserve that is whole costs nothing here.
    pub fn take(&self) {
        if self.held.load(Ordering::Relaxed) >= self.size || self.given_up.load(Ordering::Relaxed) {
            return;
        }
        match self.allocate() {
            Ok(held) => {
                self.held.store(held, Ordering::Relaxed);
                tracing::debug!(path = %self.path.display(), held, "checkpoint reserve taken");
            }
            Err(e) => {
                self.given_up.store(true, Ordering::Relaxed);
                tracing::warn!(path = %self.path.display(), error = %e, "cannot keep room for the checkpoint; not tried again");
            }
        }
    }

    /// Bytes of the file allocated once fallocate has done what it could:
    /// on a full disk it stops short, and what it got is kept.
    fn allocate(&self) -> std::io::Result<u64> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(super::perms::FILE_MODE)
            .open(&self.path)?;
        let len = libc::off_t::try_from(self.size).unwrap_or(libc::off_t::MAX);
        // SAFETY: fallocate on a descriptor this function owns.
        let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOSPC) {
                return Err(e);
            }
        }
        Ok((file.metadata()?.blocks() * 512).min(self.size))
    }

    /// Frees the reserve for a commit; returns the bytes freed.
    pub fn release(&self) -> u64 {
        let held = self.held.swap(0, Ordering::Relaxed);
        match std::fs::remove_file(&self.path) {
            Ok(()) => held,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot free the checkpoint reserve");
                0
            }
        }
    }
}

/// An I/O error for want of space.
pub(super) fn is_full(io: &std::io::Error) -> bool {
    io.raw_os_error() == Some(libc::ENOSPC) || io.kind() == std::io::ErrorKind::StorageFull
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reserve that cannot be allocated (here its path is a directory) is
    /// not tried again at every commit, even once it could be.
    #[test]
    fn a_reserve_that_cannot_be_made_is_not_tried_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::create_dir(&path).unwrap();
        let reserve = Reserve::new(dir.path(), 4096);
        std::fs::remove_dir(&path).unwrap();
        reserve.take();
        assert!(!path.exists(), "tried again");

        let fine = tempfile::tempdir().unwrap();
        let reserve = Reserve::new(fine.path(), 4096);
        assert_eq!(
            std::fs::metadata(fine.path().join(FILE_NAME))
                .unwrap()
                .len(),
            4096
        );
        assert_eq!(reserve.release(), 4096);
    }
}
