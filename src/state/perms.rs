//! The data directory and the checkpoint hold task environments (and so
//! whatever secrets a task definition put there): owner-only, 0700 and 0600.
//! Checked at every start: a wider mode, left by an older agent or by hand,
//! is narrowed with a log line.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A path whose mode could not be made owner-only.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct ModeError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

pub const DIR_MODE: u32 = 0o700;
pub const FILE_MODE: u32 = 0o600;

fn data_dir_err(path: &Path) -> impl FnOnce(std::io::Error) -> ModeError + '_ {
    move |source| ModeError {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` (0700) if missing, and narrows it to 0700 if group or others
/// may use it.
pub(super) fn secure_dir(dir: &Path) -> Result<(), ModeError> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(data_dir_err(dir))?;
    narrow(dir, DIR_MODE, "data directory")
}

/// Creates the checkpoint file empty and 0600 if missing (redb initializes
/// an empty file), so that it is never readable by others even for a moment,
/// and narrows an existing one to 0600.
pub(super) fn secure_file(path: &Path) -> Result<(), ModeError> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)
        .map_err(data_dir_err(path))?;
    narrow(path, FILE_MODE, "checkpoint file")
}

fn narrow(path: &Path, mode: u32, what: &str) -> Result<(), ModeError> {
    let was = std::fs::metadata(path)
        .map_err(data_dir_err(path))?
        .permissions()
        .mode()
        & 0o7777;
    if was & !mode == 0 {
        return Ok(());
    }
    std::fs::set_permissions(path, Permissions::from_mode(mode)).map_err(data_dir_err(path))?;
    tracing::warn!(path = %path.display(), was = %format!("{was:04o}"), now = %format!("{mode:04o}"),
        "{what} was open to other users; narrowed (it holds task environments)");
    Ok(())
}
