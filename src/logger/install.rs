//! Placing the logger where the shim can run it, and the container init
//! where containers can mount it: `$ECS_DATADIR/bin`.
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

/// The logger program, as build.rs built it and deflated it.
static LOGGER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ecs-agent-logger.deflate"));
/// The program's FNV-1a hash, from build.rs: an installed file is checked
/// against it without inflating `LOGGER`, whose pages then stay out of the
/// agent's memory.
const LOGGER_FNV1A: &str = env!("ECS_LOGGER_FNV1A");

/// File name of the container init (`src/bin/ecs-agent-init`) under
/// `$ECS_DATADIR/bin`, mounted read-only into containers with
/// `initProcessEnabled` and run as a task's namespace holder.
pub const INIT_FILE: &str = "ecs-agent-init";
static INIT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ecs-agent-init.deflate"));
const INIT_FNV1A: &str = env!("ECS_INIT_FNV1A");

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("ECS_DATADIR {0:?}: must be an absolute path")]
    RelativeDataDir(PathBuf),
    #[error("installing the {what} at {path}: {source}")]
    Target {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// Puts the logger at `$ECS_DATADIR/bin/ecs-agent-logger` unless it is
/// already there; returns that path. Blocking; called once at startup.
pub fn install(data_dir: &Path) -> Result<PathBuf, InstallError> {
    install_program(
        data_dir,
        "container logger",
        LOGGER_FILE,
        LOGGER,
        LOGGER_FNV1A,
    )
}

/// Puts the container init at `$ECS_DATADIR/bin/ecs-agent-init` unless it
/// is already there; returns that path. Blocking; called once at startup.
pub fn install_init(data_dir: &Path) -> Result<PathBuf, InstallError> {
    install_program(data_dir, "container init", INIT_FILE, INIT, INIT_FNV1A)
}

fn install_program(
    data_dir: &Path,
    what: &'static str,
    file: &str,
    packed: &[u8],
    hash: &str,
) -> Result<PathBuf, InstallError> {
    if !data_dir.is_absolute() {
        return Err(InstallError::RelativeDataDir(data_dir.to_path_buf()));
    }
    let target = data_dir.join("bin").join(file);
    let written = place(packed, hash, &target).map_err(|source| InstallError::Target {
        what,
        path: target.clone(),
        source,
    })?;
    if written {
        tracing::info!(path = %target.display(), "{what} installed");
    } else {
        tracing::debug!(path = %target.display(), "{what} already in place");
    }
    Ok(target)
}

/// No helper comes near this; a larger output means a broken build.
const MAX_PROGRAM: usize = 64 << 20;

/// The program carried deflated in `packed`.
fn inflate(packed: &[u8]) -> io::Result<Vec<u8>> {
    miniz_oxide::inflate::decompress_to_vec_with_limit(packed, MAX_PROGRAM)
        .map_err(|e| io::Error::other(format!("inflating the carried program: {e}")))
}

/// Makes `target` an executable holding the program deflated in `packed`
/// (whose FNV-1a hash, in hex, is `hash`); true when it had to be written.
fn place(packed: &[u8], hash: &str, target: &Path) -> io::Result<bool> {
    let current = match fs::read(target) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let executable = fs::metadata(target).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    if executable && current.is_some_and(|c| format!("{:016x}", fnv1a(&c)) == hash) {
        return Ok(false);
    }
    let program = inflate(packed)?;
    if format!("{:016x}", fnv1a(&program)) != hash {
        return Err(io::Error::other(
            "the carried program does not match its hash",
        ));
    }
    let dir = target.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(dir)?;
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&program)?;
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

    fn pack(b: &[u8]) -> Vec<u8> {
        miniz_oxide::deflate::compress_to_vec(b, 6)
    }

    #[test]
    fn a_program_that_does_not_match_its_hash_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("bin").join(LOGGER_FILE);
        let err = place(&pack(b"v1"), &hash(b"v2"), &target).unwrap_err();
        assert!(err.to_string().contains("does not match its hash"), "{err}");
        let err = place(b"not deflated", &hash(b"v1"), &target).unwrap_err();
        assert!(err.to_string().contains("inflating"), "{err}");
        assert!(!target.exists());
    }

    #[test]
    fn writes_once_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("data/bin").join(LOGGER_FILE);
        assert!(place(&pack(b"v1"), &hash(b"v1"), &target).unwrap());
        assert!(!place(&pack(b"v1"), &hash(b"v1"), &target).unwrap());
        let mode = fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);

        // A logger still running v1 keeps reading v1 after an upgrade.
        let mut running_logger = fs::File::open(&target).unwrap();
        assert!(place(&pack(b"v2"), &hash(b"v2"), &target).unwrap());
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
        assert!(place(&pack(b"v2"), &hash(b"v2"), &target).unwrap());
    }

    #[test]
    fn installs_the_built_logger_under_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let path = install(dir.path()).unwrap();
        assert_eq!(path, dir.path().join("bin").join(LOGGER_FILE));
        let program = inflate(LOGGER).unwrap();
        assert_eq!(fs::read(&path).unwrap(), program);
        assert_eq!(hash(&program), LOGGER_FNV1A);
        // Carried deflated: well under the program's own size.
        assert!(
            LOGGER.len() * 10 < program.len() * 6,
            "{} of {}",
            LOGGER.len(),
            program.len()
        );
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

    /// Runs `path` with `args`, retrying while another test thread's fork
    /// briefly holds the freshly written file open (ETXTBSY).
    fn spawn(path: &Path, args: &[&str]) -> std::process::Child {
        (0..50)
            .find_map(
                |_| match std::process::Command::new(path).args(args).spawn() {
                    Err(e) if e.raw_os_error() == Some(26) => {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        None
                    }
                    other => Some(other.unwrap()),
                },
            )
            .expect("the program runs")
    }

    fn children(pid: u32) -> Vec<String> {
        fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !f() {
            assert!(std::time::Instant::now() < deadline, "timed out: {what}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// The init as a program (not PID 1 here: a subreaper, as in a
    /// container that shares a PID namespace): exit statuses, signals
    /// passed on, orphans reaped.
    #[test]
    fn installs_an_init_that_reaps_and_passes_signals_on() {
        let dir = tempfile::tempdir().unwrap();
        let init = install_init(dir.path()).unwrap();
        assert_eq!(init, dir.path().join("bin").join(INIT_FILE));
        assert_eq!(hash(&fs::read(&init).unwrap()), INIT_FNV1A);
        let code = |args: &[&str]| spawn(&init, args).wait().unwrap().code();
        // Waiting in sigtimedwait: its signals are blocked and looked for
        // (/proc's SigBlk shows them unblocked while it waits).
        let blocked = |pid: u32| {
            fs::read_to_string(format!("/proc/{pid}/wchan"))
                .is_ok_and(|w| w.contains("sigtimedwait"))
        };
        assert_eq!(code(&["--", "sh", "-c", "exit 3"]), Some(3));
        assert_eq!(code(&["--", "sh", "-c", "kill -KILL $$"]), Some(137));
        assert_eq!(code(&["--", "/no/such/program"]), Some(127));
        assert_eq!(code(&[]), Some(1), "no program");

        // SIGTERM to the init reaches the program, whose exit code is the init's.
        let ready = dir.path().join("ready");
        let script = format!(
            "trap 'exit 42' TERM; touch {}; while :; do sleep 0.05; done",
            ready.display()
        );
        let mut child = spawn(&init, &["--", "sh", "-c", &script]);
        wait_for("the trap", || ready.exists());
        wait_for("signals blocked", || blocked(child.id()));
        // SAFETY: kill with integer arguments, to a child of ours.
        extern "C" {
            fn kill(pid: i32, sig: i32) -> i32;
        }
        assert_eq!(unsafe { kill(child.id() as i32, 15) }, 0);
        assert_eq!(child.wait().unwrap().code(), Some(42));

        // An orphan (the backgrounded sleep, whose subshell is gone) comes to
        // the init; once it ends, it is reaped: no zombie stays a child.
        let mut child = spawn(&init, &["--", "sh", "-c", "(sleep 0.3 &); exec sleep 3"]);
        let pid = child.id();
        wait_for("the orphan is the init's", || children(pid).len() == 2);
        wait_for("the orphan reaped", || children(pid).len() == 1);
        assert_eq!(unsafe { kill(pid as i32, 15) }, 0);
        assert_eq!(
            child.wait().unwrap().code(),
            Some(143),
            "sleep killed by SIGTERM"
        );

        // The namespace holder leaves on SIGTERM with 0.
        let mut pause = spawn(&init, &["--pause"]);
        wait_for("signals blocked", || blocked(pause.id()));
        assert_eq!(unsafe { kill(pause.id() as i32, 15) }, 0);
        assert_eq!(pause.wait().unwrap().code(), Some(0));
    }
}
