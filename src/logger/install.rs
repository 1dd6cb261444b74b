//! Placing the logger where the shim can run it: `$ECS_DATADIR/bin`.
//!
//! The shim runs on the host. When the agent runs in a container its own
//! path means nothing there, but ECS_DATADIR is the same path on both sides
//! (deploy/README.md). The running binary is hard-linked there (cheap: the
//! debug build is ~90 MB and tests start many agents), or copied when the
//! data directory is on another filesystem. Either way the new file replaces
//! the old by rename, so loggers already running keep their old inode.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// File name of the logger under `$ECS_DATADIR/bin`.
pub const LOGGER_FILE: &str = "ecs-agent-logger";
/// What the kernel shows as the running binary, even after it was replaced
/// or deleted on disk.
const RUNNING_EXE: &str = "/proc/self/exe";

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("ECS_DATADIR {0:?}: must be an absolute path")]
    RelativeDataDir(PathBuf),
    #[error("reading the running binary {path}: {source}")]
    Source { path: PathBuf, source: io::Error },
    #[error("installing the container logger at {path}: {source}")]
    Target { path: PathBuf, source: io::Error },
}

/// How [`install`] got the logger in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placed {
    AlreadyThere,
    Linked,
    Copied,
}

/// Puts the running binary at `$ECS_DATADIR/bin/ecs-agent-logger` unless it
/// is already there; returns that path. Blocking; called once at startup.
pub fn install(data_dir: &Path) -> Result<PathBuf, InstallError> {
    if !data_dir.is_absolute() {
        return Err(InstallError::RelativeDataDir(data_dir.to_path_buf()));
    }
    let running = Path::new(RUNNING_EXE);
    // The path is only good for a hard link while it still names the running
    // inode (a rebuild or an upgrade may have replaced it since we started).
    let running_meta = fs::metadata(running).map_err(|source| InstallError::Source {
        path: running.to_path_buf(),
        source,
    })?;
    let link_source = std::env::current_exe()
        .ok()
        .filter(|p| fs::metadata(p).is_ok_and(|m| same_inode(&m, &running_meta)));
    let target = data_dir.join("bin").join(LOGGER_FILE);
    let placed = place(link_source.as_deref(), running, &target)?;
    match placed {
        Placed::AlreadyThere => {
            tracing::debug!(path = %target.display(), "container logger already in place")
        }
        Placed::Linked | Placed::Copied => {
            tracing::info!(path = %target.display(), how = ?placed, "container logger installed")
        }
    }
    Ok(target)
}

/// Makes `target` the same file as `running`: a hard link of `link_source`
/// (which must be that file) when possible, else a copy of `running`.
fn place(
    link_source: Option<&Path>,
    running: &Path,
    target: &Path,
) -> Result<Placed, InstallError> {
    let terr = |source| InstallError::Target {
        path: target.to_path_buf(),
        source,
    };
    let src = fs::metadata(running).map_err(|source| InstallError::Source {
        path: running.to_path_buf(),
        source,
    })?;
    if let Ok(existing) = fs::metadata(target) {
        if same_inode(&existing, &src) || same_copy(&existing, &src) {
            return Ok(Placed::AlreadyThere);
        }
    }
    let dir = target.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(dir).map_err(terr)?;
    let tmp = dir.join(format!(".{LOGGER_FILE}.{}.tmp", std::process::id()));
    remove_if_present(&tmp).map_err(terr)?;

    let placed = match link_source.map(|s| fs::hard_link(s, &tmp)) {
        Some(Ok(())) => Placed::Linked,
        other => {
            if let Some(Err(e)) = other {
                tracing::debug!(error = %e, "cannot hard-link the agent binary; copying it");
            }
            if let Err(e) = copy(running, &src, &tmp) {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
            Placed::Copied
        }
    };
    if let Err(e) = fs::rename(&tmp, target) {
        let _ = fs::remove_file(&tmp);
        return Err(terr(e));
    }
    Ok(placed)
}

/// The copy gets the source's mtime, so the next start can tell it is current.
fn copy(running: &Path, src: &fs::Metadata, tmp: &Path) -> Result<(), InstallError> {
    let err = |source| InstallError::Target {
        path: tmp.to_path_buf(),
        source,
    };
    fs::copy(running, tmp).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => InstallError::Source {
            path: running.to_path_buf(),
            source,
        },
        _ => err(source),
    })?;
    let file = fs::File::options().write(true).open(tmp).map_err(err)?;
    file.set_permissions(fs::Permissions::from_mode(0o755))
        .map_err(err)?;
    let mtime = src.modified().map_err(err)?;
    file.set_modified(mtime).map_err(err)?;
    file.sync_all().map_err(err)
}

fn same_inode(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

fn same_copy(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.is_file()
        && a.len() == b.len()
        && a.mtime() == b.mtime()
        && a.mtime_nsec() == b.mtime_nsec()
        && a.mode() & 0o111 != 0
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn exe(dir: &Path, name: &str, content: &str) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, content).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn links_once_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = exe(dir.path(), "agent-v1", "v1");
        let target = dir.path().join("data/bin").join(LOGGER_FILE);

        assert_eq!(place(Some(&v1), &v1, &target).unwrap(), Placed::Linked);
        let meta = |p: &Path| fs::metadata(p).unwrap();
        assert!(same_inode(&meta(&target), &meta(&v1)));
        assert_eq!(
            place(Some(&v1), &v1, &target).unwrap(),
            Placed::AlreadyThere
        );

        // A logger still running v1 keeps reading v1 after an upgrade.
        let mut running_logger = fs::File::open(&target).unwrap();
        let v2 = exe(dir.path(), "agent-v2", "v2");
        assert_eq!(place(Some(&v2), &v2, &target).unwrap(), Placed::Linked);
        assert_eq!(fs::read_to_string(&target).unwrap(), "v2");
        let mut old = String::new();
        running_logger.read_to_string(&mut old).unwrap();
        assert_eq!(old, "v1");
        let leftovers: Vec<_> = fs::read_dir(target.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [LOGGER_FILE]);
    }

    #[test]
    fn copies_without_a_link_source_and_recognizes_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = exe(dir.path(), "agent", "v1 binary");
        let target = dir.path().join("bin").join(LOGGER_FILE);

        assert_eq!(place(None, &v1, &target).unwrap(), Placed::Copied);
        let (src, copied) = (fs::metadata(&v1).unwrap(), fs::metadata(&target).unwrap());
        assert!(!same_inode(&src, &copied));
        assert_eq!(fs::read_to_string(&target).unwrap(), "v1 binary");
        assert_eq!(copied.mode() & 0o777, 0o755);
        assert_eq!(place(None, &v1, &target).unwrap(), Placed::AlreadyThere);

        // Same size, newer binary: copied again.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&v1, "v2 binary").unwrap();
        assert_eq!(place(None, &v1, &target).unwrap(), Placed::Copied);
        assert_eq!(fs::read_to_string(&target).unwrap(), "v2 binary");
    }

    #[test]
    fn installs_the_running_binary_under_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let path = install(dir.path()).unwrap();
        assert_eq!(path, dir.path().join("bin").join(LOGGER_FILE));
        let installed = fs::metadata(&path).unwrap();
        let running = fs::metadata(RUNNING_EXE).unwrap();
        assert!(same_inode(&installed, &running) || same_copy(&installed, &running));
        assert!(matches!(
            install(Path::new("relative")),
            Err(InstallError::RelativeDataDir(_))
        ));
    }
}
