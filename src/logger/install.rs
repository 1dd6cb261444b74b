//! Placing the logger where the shim can run it: `$ECS_DATADIR/bin`.
//!
//! The logger is `src/bin/ecs-agent-logger`, which build.rs compiles as a
//! small static program; the agent carries its bytes and writes them out at
//! start. The shim runs on the host: when the agent runs in a container its
//! own files mean nothing there, but ECS_DATADIR is the same path on both
//! sides (deploy/README.md). The new file replaces the old by rename, so
//! loggers already running keep their old inode (and an older agent's
//! logger, the whole agent binary, keeps serving the containers it started).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// File name of the logger under `$ECS_DATADIR/bin`.
pub const LOGGER_FILE: &str = "ecs-agent-logger";

/// The logger program, as build.rs built it.
static LOGGER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ecs-agent-logger"));
/// Its FNV-1a hash, from build.rs: an installed file is checked against it
/// without reading `LOGGER`, whose pages then stay out of the agent's memory.
const LOGGER_FNV1A: &str = env!("ECS_LOGGER_FNV1A");

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("ECS_DATADIR {0:?}: must be an absolute path")]
    RelativeDataDir(PathBuf),
    #[error("installing the container logger at {path}: {source}")]
    Target { path: PathBuf, source: io::Error },
}

/// Puts the logger at `$ECS_DATADIR/bin/ecs-agent-logger` unless it is
/// already there; returns that path. Blocking; called once at startup.
pub fn install(data_dir: &Path) -> Result<PathBuf, InstallError> {
    if !data_dir.is_absolute() {
        return Err(InstallError::RelativeDataDir(data_dir.to_path_buf()));
    }
    let target = data_dir.join("bin").join(LOGGER_FILE);
    let written = place(LOGGER, LOGGER_FNV1A, &target).map_err(|source| InstallError::Target {
        path: target.clone(),
        source,
    })?;
    if written {
        tracing::info!(path = %target.display(), bytes = LOGGER.len(), "container logger installed");
    } else {
        tracing::debug!(path = %target.display(), "container logger already in place");
    }
    Ok(target)
}

/// Makes `target` an executable holding `program` (whose FNV-1a hash, in
/// hex, is `hash`); true when it had to be written.
fn place(program: &[u8], hash: &str, target: &Path) -> io::Result<bool> {
    let current = match fs::read(target) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let executable = fs::metadata(target).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    if executable && current.is_some_and(|c| format!("{:016x}", fnv1a(&c)) == hash) {
        return Ok(false);
    }
    let dir = target.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{LOGGER_FILE}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(program)?;
        file.set_permissions(fs::Permissions::from_mode(0o755))?;
        file.sync_all()?;
        fs::rename(&tmp, target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| true)
}

/// As build.rs computes it.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn hash(b: &[u8]) -> String {
        format!("{:016x}", fnv1a(b))
    }

    #[test]
    fn writes_once_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("data/bin").join(LOGGER_FILE);
        assert!(place(b"v1", &hash(b"v1"), &target).unwrap());
        assert!(!place(b"v1", &hash(b"v1"), &target).unwrap());
        let mode = fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);

        // A logger still running v1 keeps reading v1 after an upgrade.
        let mut running_logger = fs::File::open(&target).unwrap();
        assert!(place(b"v2", &hash(b"v2"), &target).unwrap());
        assert_eq!(fs::read(&target).unwrap(), b"v2");
        let mut old = String::new();
        running_logger.read_to_string(&mut old).unwrap();
        assert_eq!(old, "v1");
        let leftovers: Vec<_> = fs::read_dir(target.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [LOGGER_FILE]);

        // A file that lost its exec bit is written again.
        fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(place(b"v2", &hash(b"v2"), &target).unwrap());
    }

    #[test]
    fn installs_the_built_logger_under_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let path = install(dir.path()).unwrap();
        assert_eq!(path, dir.path().join("bin").join(LOGGER_FILE));
        assert_eq!(fs::read(&path).unwrap(), LOGGER);
        assert_eq!(hash(LOGGER), LOGGER_FNV1A);
        // The program itself: a logger that refuses a call without the
        // shim's descriptors and says what it is.
        // Another test thread forking while the file was open for writing
        // may briefly hold it (ETXTBSY).
        let out = (0..50)
            .find_map(|_| match std::process::Command::new(&path).output() {
                Err(e) if e.raw_os_error() == Some(26) => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    None
                }
                other => Some(other.unwrap()),
            })
            .expect("the logger runs");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("usage: ecs-agent-logger"), "{err}");
        assert!(matches!(
            install(Path::new("relative")),
            Err(InstallError::RelativeDataDir(_))
        ));
    }
}
