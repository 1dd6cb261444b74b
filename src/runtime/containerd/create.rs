//! Creating a container: snapshot, user lookup, OCI spec, container record and
//! task (not started). Whatever was made is removed again if a later step fails.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use containerd_client::services::v1::container::Runtime;
use containerd_client::services::v1::containers_client::ContainersClient;
use containerd_client::services::v1::leases_client::LeasesClient;
use containerd_client::services::v1::snapshots::snapshots_client::SnapshotsClient;
use containerd_client::services::v1::snapshots::{PrepareSnapshotRequest, RemoveSnapshotRequest};
use containerd_client::services::v1::tasks_client::TasksClient;
use containerd_client::services::v1::{
    Container, CreateContainerRequest, CreateRequest as CreateLeaseRequest, CreateTaskRequest,
    DeleteContainerRequest, DeleteRequest as DeleteLeaseRequest, DeleteTaskRequest,
    GetContainerRequest,
};
use containerd_client::types::Mount;
use tonic::Code;

use super::devices;
use super::error::from_status;
use super::oci::{build_spec, SpecError, SpecInputs};
use super::rootfs;
use super::user::{self, ResolvedUser};
use super::Conn;
use crate::logger;
use crate::runtime::{ErrorKind, RuntimeError};
use crate::task::container::{ContainerLog, ContainerSpec, NetworkAttachment};

pub(super) const RUNC_V2: &str = "io.containerd.runc.v2";
const SPEC_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
/// A crashed agent's lease must not pin snapshots forever.
const LEASE_TTL: time::Duration = time::Duration::hours(1);

/// What exists so far, so a failure removes exactly that.
#[derive(Default)]
struct Made {
    snapshot: bool,
    container: bool,
    task: bool,
    /// The lease went once the container record named the snapshot.
    lease_deleted: bool,
}

/// `logger`: the program the shim runs to write the log (`binary://`); `None`
/// lets the shim write the file itself (`file://`). `init`: the program
/// mounted into containers with `initProcessEnabled`.
pub(super) async fn create(
    conn: &Conn,
    snapshotter: &str,
    logger: Option<&Path>,
    init: Option<&Path>,
    spec: &ContainerSpec,
) -> Result<(), RuntimeError> {
    validate_id(&spec.id)?;
    let id = spec.id.as_str();
    // The snapshot is unreferenced until the container record names it; the
    // lease keeps the garbage collector off it in between. Taken while the
    // log file is made: the two do not depend on each other.
    let (log_uri, lease) = tokio::join!(prepare_log(id, &spec.log, logger), create_lease(conn, id));
    let lease = lease?;
    let log_uri = match log_uri {
        Ok(uri) => uri,
        Err(e) => {
            delete_lease(conn, &lease).await;
            return Err(e);
        }
    };
    let mut made = Made::default();
    let result = create_steps(conn, snapshotter, spec, &lease, &log_uri, init, &mut made).await;
    if let Err(e) = &result {
        tracing::warn!(container = %id, image = %spec.image.name, error = %e, "create failed; cleaning up");
        cleanup(conn, snapshotter, id, &made).await;
    }
    if !made.lease_deleted {
        delete_lease(conn, &lease).await;
    }
    if result.is_ok() {
        let log = spec
            .log
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        tracing::info!(container = %id, image = %spec.image.name, log, "container created");
    }
    result
}

async fn create_steps(
    conn: &Conn,
    snapshotter: &str,
    spec: &ContainerSpec,
    lease: &str,
    log_uri: &str,
    init: Option<&Path>,
    made: &mut Made,
) -> Result<(), RuntimeError> {
    let id = spec.id.as_str();
    let create_err = |kind, message| RuntimeError::Create {
        id: id.to_string(),
        kind,
        message,
    };

    let mounts = prepare_snapshot(conn, snapshotter, spec, lease).await?;
    made.snapshot = true;

    let user = resolve_user(&spec.user, mounts.clone()).await?;
    populate_volumes(spec, &mounts).await?;
    let mut inputs = spec_inputs(conn, spec, user).await;
    inputs.init = init.map(Path::to_path_buf);
    inputs.devices = devices::resolve(spec).await?;
    inputs.swap_limit = devices::swap_limit_supported().await;
    if !inputs.swap_limit && spec.linux.memory_swap_bytes.is_some() {
        // Docker drops it the same way ("Your kernel does not support swap limit").
        tracing::warn!(container = %id, "this host's memory cgroup cannot limit swap; maxSwap is not applied");
    }
    let oci = build_spec(spec, &inputs).map_err(|e| match e {
        SpecError::Invalid {
            field,
            value,
            reason,
        } => RuntimeError::InvalidSpec {
            field,
            value,
            reason: reason.to_string(),
        },
        SpecError::Build(e) => create_err(ErrorKind::Other, format!("building the OCI spec: {e}")),
    })?;
    let json = serde_json::to_vec(&oci)
        .map_err(|e| create_err(ErrorKind::Other, format!("encoding the OCI spec: {e}")))?;

    let container = Container {
        id: id.to_string(),
        labels: spec
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        image: spec.image.name.clone(),
        runtime: Some(Runtime {
            name: RUNC_V2.to_string(),
            options: None,
        }),
        spec: Some(prost_types::Any {
            type_url: SPEC_TYPE_URL.to_string(),
            value: json,
        }),
        snapshotter: snapshotter.to_string(),
        snapshot_key: id.to_string(),
        ..Default::default()
    };
    ContainersClient::new(conn.channel())
        .create(conn.leased_request(
            CreateContainerRequest {
                container: Some(container),
            },
            lease,
        ))
        .await
        .map_err(|s| {
            from_status(s, |kind, m| {
                create_err(kind, format!("recording container: {m}"))
            })
        })?;
    made.container = true;

    // From here a failure may leave a half-made task behind even when the
    // call errs, so cleanup must try to delete it.
    made.task = true;
    // The record holds the snapshot now: the lease goes while the shim and
    // runc make the task, rather than after.
    made.lease_deleted = true;
    let mut tasks = TasksClient::new(conn.channel());
    let task = tasks.create(conn.request(CreateTaskRequest {
        container_id: id.to_string(),
        rootfs: mounts,
        stdout: log_uri.to_string(),
        stderr: log_uri.to_string(),
        // The shim holds the terminal and copies its output to the log
        // (stdout only: a terminal has one stream).
        terminal: spec.tty,
        ..Default::default()
    }));
    let (task, ()) = tokio::join!(task, delete_lease(conn, lease));
    let resp = task
        .map_err(|s| from_status(s, |kind, m| create_err(kind, format!("creating task: {m}"))))?
        .into_inner();
    tracing::debug!(container = %id, pid = resp.pid, "task created");
    Ok(())
}

/// Prepare the container's writable snapshot on top of the image. A snapshot
/// left by an agent that died between this step and recording the container
/// has no container record; it is removed and prepared afresh.
async fn prepare_snapshot(
    conn: &Conn,
    snapshotter: &str,
    spec: &ContainerSpec,
    lease: &str,
) -> Result<Vec<Mount>, RuntimeError> {
    let id = spec.id.as_str();
    let create_err = |kind, m: String| RuntimeError::Create {
        id: id.to_string(),
        kind,
        message: m,
    };
    let mut snapshots = SnapshotsClient::new(conn.channel());
    let request = || {
        conn.leased_request(
            PrepareSnapshotRequest {
                snapshotter: snapshotter.to_string(),
                key: id.to_string(),
                parent: spec.image.chain_id.clone(),
                labels: HashMap::new(),
            },
            lease,
        )
    };
    let status = match snapshots.prepare(request()).await {
        Ok(resp) => return Ok(resp.into_inner().mounts),
        Err(s) if s.code() == Code::AlreadyExists => s,
        Err(s) => {
            return Err(from_status(s, |kind, m| {
                create_err(kind, format!("preparing snapshot: {m}"))
            }))
        }
    };
    let existing = ContainersClient::new(conn.channel())
        .get(conn.request(GetContainerRequest { id: id.to_string() }))
        .await;
    match existing {
        Ok(_) => {
            return Err(create_err(
                ErrorKind::AlreadyExists,
                format!("container already exists ({})", status.message()),
            ))
        }
        Err(s) if s.code() == Code::NotFound => {}
        Err(s) => {
            return Err(from_status(s, |kind, m| {
                create_err(kind, format!("preparing snapshot: {m}"))
            }))
        }
    }
    tracing::warn!(container = %id, "removing a snapshot left without a container by an earlier create");
    let remove = RemoveSnapshotRequest {
        snapshotter: snapshotter.to_string(),
        key: id.to_string(),
    };
    snapshots.remove(conn.request(remove)).await.map_err(|s| {
        from_status(s, |kind, m| {
            create_err(kind, format!("removing orphaned snapshot: {m}"))
        })
    })?;
    Ok(snapshots
        .prepare(request())
        .await
        .map_err(|s| {
            from_status(s, |kind, m| {
                create_err(kind, format!("preparing snapshot: {m}"))
            })
        })?
        .into_inner()
        .mounts)
}

/// containerd's identifier rule (`identifiers.Validate`); checked here so a bad
/// id never reaches the snapshotter or the cgroup path.
fn validate_id(id: &str) -> Result<(), RuntimeError> {
    let invalid = |reason: &str| {
        Err(RuntimeError::InvalidSpec {
            field: "id",
            value: id.to_string(),
            reason: reason.into(),
        })
    };
    if id.is_empty() || id.len() > 76 {
        return invalid("must be 1 to 76 characters");
    }
    let bytes = id.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        let sep = matches!(b, b'.' | b'_' | b'-');
        if !(b.is_ascii_alphanumeric() || sep) {
            return invalid("only letters, digits, '.', '_' and '-' are allowed");
        }
        let edge = i == 0 || i + 1 == bytes.len();
        if sep && (edge || matches!(bytes[i + 1], b'.' | b'_' | b'-')) {
            return invalid("separators must sit between letters or digits");
        }
    }
    Ok(())
}

/// Creates the log file (so a bad path fails here, with a message in our
/// log, not in a logger whose stderr goes nowhere) and returns the stdio URI
/// (empty for a discarded log: the shim gives the container /dev/null).
pub(super) async fn prepare_log(
    id: &str,
    log: &ContainerLog,
    logger: Option<&Path>,
) -> Result<String, RuntimeError> {
    let create_err = |kind, message| RuntimeError::Create {
        id: id.to_string(),
        kind,
        message,
    };
    let Some(log_path) = log.path() else {
        return Ok(String::new());
    };
    if !log_path.is_absolute() {
        return Err(RuntimeError::InvalidSpec {
            field: "log_path",
            value: log_path.display().to_string(),
            reason: "must be absolute".into(),
        });
    }
    if let Some(dir) = log_path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(|e| {
            create_err(
                ErrorKind::Other,
                format!("creating log directory {}: {e}", dir.display()),
            )
        })?;
    }
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(logger::LOG_MODE)
        .open(log_path)
        .await
        .map_err(|e| {
            create_err(
                ErrorKind::Other,
                format!("creating log file {}: {e}", log_path.display()),
            )
        })?;
    match (logger, log) {
        (Some(bin), log) => Ok(binary_uri(bin, log)),
        (None, ContainerLog::Plain(path)) => Ok(file_uri(path)),
        // containerd's own file writer knows no other format.
        (None, _) => Err(RuntimeError::InvalidSpec {
            field: "log",
            value: log_path.display().to_string(),
            reason: "json-file needs the container logger (ContainerdRuntime::with_logger)".into(),
        }),
    }
}

/// `file://` URI: the shim opens the file and copies both streams into it.
pub(super) fn file_uri(path: &Path) -> String {
    format!("file://{}", uri_escape(path))
}

/// `binary://` URI: the shim runs `logger` with the container's stdout and
/// stderr as fds 3 and 4 (see `src/bin/ecs-agent-logger`). The shim turns
/// each query key and its value into two arguments, in a Go map's random
/// order, hence a single key: `logger --containerd-logger <log path>`,
/// `logger --json-file <max-size>:<max-file>:<log path>` (max-size 0: none)
/// or `logger --spool[-drop] <file-size>:<log path>`.
pub(super) fn binary_uri(logger: &Path, log: &ContainerLog) -> String {
    let (flag, value) = match log {
        ContainerLog::Plain(path) => (logger::PLAIN_FLAG, uri_escape(path)),
        ContainerLog::JsonFile {
            path,
            max_size,
            max_file,
        } => (
            logger::JSON_FILE_FLAG,
            format!(
                "{}%3A{}%3A{}",
                max_size.unwrap_or(0),
                max_file,
                uri_escape(path)
            ),
        ),
        ContainerLog::Spool {
            path,
            file_size,
            drop_when_full,
        } => (
            if *drop_when_full {
                logger::DROPPING_SPOOL_FLAG
            } else {
                logger::SPOOL_FLAG
            },
            format!("{file_size}%3A{}", uri_escape(path)),
        ),
        ContainerLog::Discard => return String::new(),
    };
    format!("binary://{}?{flag}={value}", uri_escape(logger))
}

/// Percent-encodes all but unreserved characters and `/`: what a URL parser
/// would take as a delimiter (`?`, `#`, `&`, `;`, `=`), `%`, and `+` (a space
/// in Go's query decoding) reach the shim as the bytes they were.
fn uri_escape(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn resolve_user(spec_user: &str, mounts: Vec<Mount>) -> Result<ResolvedUser, RuntimeError> {
    let invalid = |reason: String| RuntimeError::InvalidSpec {
        field: "user",
        value: spec_user.to_string(),
        reason,
    };
    // Names must be looked up; numeric ids and root only use the files for
    // HOME, the passwd gid and extra groups, so a file we cannot read (an
    // unusual snapshotter, say) is not fatal for them.
    let needs_names = spec_user
        .split(':')
        .any(|p| !p.is_empty() && p.parse::<u32>().is_err());
    let files = tokio::task::spawn_blocking(move || {
        let dirs = rootfs::layer_dirs(&mounts)?;
        let passwd = rootfs::read_file(&dirs, "/etc/passwd")?;
        let group = rootfs::read_file(&dirs, "/etc/group")?;
        Ok::<_, rootfs::RootfsError>((passwd, group))
    })
    .await
    .unwrap_or_else(|e| {
        Err(rootfs::RootfsError::Io {
            path: "/etc/passwd".into(),
            source: std::io::Error::other(e),
        })
    });
    let (passwd, group) = match files {
        Ok(files) => files,
        Err(e) if needs_names => return Err(invalid(e.to_string())),
        Err(e) => {
            tracing::debug!(user = %spec_user, error = %e, "image user files unreadable; using the ids as given");
            (None, None)
        }
    };
    user::resolve(spec_user, passwd.as_deref(), group.as_deref())
        .map_err(|e| invalid(e.to_string()))
}

async fn spec_inputs(conn: &Conn, spec: &ContainerSpec, user: ResolvedUser) -> SpecInputs {
    let host_hostname = match tokio::fs::read_to_string("/proc/sys/kernel/hostname").await {
        Ok(h) if !h.trim().is_empty() => h.trim().to_string(),
        _ => spec.id.chars().take(12).collect(),
    };
    let existing = |p: &str| {
        let p = PathBuf::from(p);
        async move { tokio::fs::metadata(&p).await.is_ok().then_some(p) }
    };
    let status = tokio::fs::read_to_string("/proc/self/status").await.ok();
    let hosts = match spec.network {
        NetworkAttachment::Host => existing("/etc/hosts").await,
        NetworkAttachment::Namespace(_) | NetworkAttachment::Isolated => None,
    };
    SpecInputs {
        user,
        namespace: conn.namespace().to_string(),
        host_hostname,
        resolv_conf: existing("/etc/resolv.conf").await,
        hosts,
        nofile_cap: nofile_cap(status.as_deref()).await,
        cap_bounding: status.as_deref().and_then(|s| cap_set(s, "CapBnd")),
        devices: Vec::new(),
        swap_limit: false,
        init: None,
    }
}

/// Our own hard nofile limit, which the shim and runc share unless they may
/// raise it (CAP_SYS_RESOURCE); `None` when unlimited or unreadable.
async fn nofile_cap(status: Option<&str>) -> Option<u64> {
    const CAP_SYS_RESOURCE: u64 = 1 << 24;
    if cap_set(status?, "CapEff").is_some_and(|caps| caps & CAP_SYS_RESOURCE != 0) {
        return None;
    }
    let limits = tokio::fs::read_to_string("/proc/self/limits").await.ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(4)?.parse().ok()
}

/// A capability mask (`CapEff`, `CapBnd`, ...) from /proc/<pid>/status.
fn cap_set(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
}

async fn create_lease(conn: &Conn, id: &str) -> Result<String, RuntimeError> {
    let expire = (time::OffsetDateTime::now_utc() + LEASE_TTL)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut labels = HashMap::new();
    if !expire.is_empty() {
        labels.insert("containerd.io/gc.expire".to_string(), expire);
    }
    let lease_id = format!("ecs-create-{id}-{}", uuid::Uuid::new_v4().simple());
    LeasesClient::new(conn.channel())
        .create(conn.request(CreateLeaseRequest {
            id: lease_id,
            labels,
        }))
        .await
        .map_err(|s| {
            from_status(s, |kind, m| RuntimeError::Create {
                id: id.to_string(),
                kind,
                message: format!("creating lease: {m}"),
            })
        })?
        .into_inner()
        .lease
        .map(|l| l.id)
        .ok_or_else(|| RuntimeError::Create {
            id: id.to_string(),
            kind: ErrorKind::Other,
            message: "creating lease: containerd returned no lease".into(),
        })
}

async fn delete_lease(conn: &Conn, lease: &str) {
    let res = LeasesClient::new(conn.channel())
        .delete(conn.request(DeleteLeaseRequest {
            id: lease.to_string(),
            sync: false,
        }))
        .await;
    if let Err(s) = res {
        if s.code() != Code::NotFound {
            tracing::warn!(lease = %lease, error = %s.message(), "deleting lease failed; it expires by itself");
        }
    }
}

async fn cleanup(conn: &Conn, snapshotter: &str, id: &str, made: &Made) {
    let log = |what: &str, s: tonic::Status| {
        if s.code() != Code::NotFound {
            tracing::warn!(container = %id, error = %s.message(), "cleanup: {what} failed");
        }
    };
    if made.task {
        let req = DeleteTaskRequest {
            container_id: id.to_string(),
        };
        if let Err(s) = TasksClient::new(conn.channel())
            .delete(conn.request(req))
            .await
        {
            log("deleting task", s);
        }
    }
    if made.container {
        let req = DeleteContainerRequest { id: id.to_string() };
        if let Err(s) = ContainersClient::new(conn.channel())
            .delete(conn.request(req))
            .await
        {
            log("deleting container record", s);
        }
    }
    if made.snapshot {
        let req = RemoveSnapshotRequest {
            snapshotter: snapshotter.to_string(),
            key: id.to_string(),
        };
        if let Err(s) = SnapshotsClient::new(conn.channel())
            .remove(conn.request(req))
            .await
        {
            log("removing snapshot", s);
        }
    }
}

/// Fills each still-empty volume of `spec.populate_from_image` with the
/// image's content at its path, as Docker does before the first start.
async fn populate_volumes(spec: &ContainerSpec, mounts: &[Mount]) -> Result<(), RuntimeError> {
    if spec.populate_from_image.is_empty() {
        return Ok(());
    }
    let fail = |message: String| RuntimeError::Create {
        id: spec.id.clone(),
        kind: ErrorKind::Other,
        message,
    };
    let dirs = rootfs::layer_dirs(mounts).map_err(|e| fail(e.to_string()))?;
    let jobs: Vec<(String, std::path::PathBuf)> = spec
        .populate_from_image
        .iter()
        .filter_map(|d| {
            let m = spec.mounts.iter().find(|m| &m.destination == d)?;
            Some((d.clone(), m.source.clone()))
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        for (path, source) in jobs {
            super::copy_up::populate(&dirs, &path, &source).map_err(|e| {
                format!(
                    "filling the volume at {path} from the image ({}): {e}",
                    source.display()
                )
            })?;
        }
        Ok::<(), String>(())
    })
    .await
    .map_err(|e| fail(e.to_string()))?
    .map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_containerd_rules() {
        assert!(validate_id("ecs-task-1_web.2").is_ok());
        assert!(validate_id("a").is_ok());
        for bad in ["", "-a", "a-", "a--b", "a/b", "a b", &"x".repeat(77)] {
            let err = validate_id(bad).unwrap_err();
            assert!(err.to_string().starts_with("id "), "{bad}: {err}");
        }
    }

    #[test]
    fn capability_sets_are_read_from_status() {
        let status = "Name:\tx\nCapEff:\t000001ffffffffff\nCapBnd:\t000001fffeffffff\n";
        assert_eq!(cap_set(status, "CapEff"), Some(0x1ff_ffff_ffff));
        assert_eq!(cap_set(status, "CapBnd"), Some(0x1ff_feff_ffff));
        assert_eq!(cap_set("nothing", "CapEff"), None);
    }

    #[test]
    fn file_uri_escapes_delimiters() {
        assert_eq!(
            file_uri(Path::new("/var/log/ecs/t1/web.log")),
            "file:///var/log/ecs/t1/web.log"
        );
        assert_eq!(
            file_uri(Path::new("/d/a b#?%.log")),
            "file:///d/a%20b%23%3F%25.log"
        );
    }

    /// Decodes a `binary://` URI as the shim does (Go's `url.Parse`, then
    /// `Query()`: pairs split on `&`, key and value split on the first `=`,
    /// `+` read as a space, `%XX` as a byte) into program and arguments.
    fn shim_command(uri: &str) -> (PathBuf, Vec<std::ffi::OsString>) {
        use std::os::unix::ffi::OsStringExt;
        fn unescape(s: &str, plus_is_space: bool) -> std::ffi::OsString {
            let b = s.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < b.len() {
                match b[i] {
                    b'%' => {
                        out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                        i += 3;
                        continue;
                    }
                    b'+' if plus_is_space => out.push(b' '),
                    c => out.push(c),
                }
                i += 1;
            }
            std::ffi::OsString::from_vec(out)
        }
        let rest = uri.strip_prefix("binary://").unwrap();
        let (path, query) = rest.split_once('?').unwrap();
        assert!(!path.contains('#') && !query.contains('#'));
        let mut args = Vec::new();
        for pair in query.split('&') {
            assert!(!pair.contains(';'), "Go drops pairs with ';': {pair}");
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            args.push(unescape(k, true));
            args.push(unescape(v, true));
        }
        (PathBuf::from(unescape(path, false)), args)
    }

    #[test]
    fn binary_uri_carries_the_mode_and_the_log_path() {
        let plain = |p: &str| ContainerLog::Plain(p.into());
        assert_eq!(
            binary_uri(
                Path::new("/var/lib/ecs/data/bin/ecs-agent-logger"),
                &plain("/var/lib/ecs/data/logs/t1/web.log")
            ),
            "binary:///var/lib/ecs/data/bin/ecs-agent-logger\
             ?--containerd-logger=/var/lib/ecs/data/logs/t1/web.log"
        );
        let logger = Path::new("/d ata/b+in/log?ger");
        for log in [
            "/d/a b#?%.log",
            "/d/x&y=z;w+v.log",
            "/d/caf\u{e9}/%41.log",
            "/plain/web.log",
            "/d/a:b.log",
        ] {
            let (program, args) = shim_command(&binary_uri(logger, &plain(log)));
            assert_eq!(program, logger);
            assert_eq!(args, [logger::PLAIN_FLAG, log], "{log}");
            let json = ContainerLog::JsonFile {
                path: log.into(),
                max_size: Some(10_000),
                max_file: 3,
            };
            let (_, args) = shim_command(&binary_uri(logger, &json));
            assert_eq!(
                args,
                [logger::JSON_FILE_FLAG, &format!("10000:3:{log}")],
                "{log}"
            );
        }
        let json = ContainerLog::JsonFile {
            path: "/l/c-json.log".into(),
            max_size: None,
            max_file: 1,
        };
        let (_, args) = shim_command(&binary_uri(logger, &json));
        assert_eq!(args, [logger::JSON_FILE_FLAG, "0:1:/l/c-json.log"]);
        let mut spool = ContainerLog::Spool {
            path: "/l/a:b-json.log".into(),
            file_size: 1_000_000,
            drop_when_full: false,
        };
        let (_, args) = shim_command(&binary_uri(logger, &spool));
        assert_eq!(args, [logger::SPOOL_FLAG, "1000000:/l/a:b-json.log"]);
        if let ContainerLog::Spool { drop_when_full, .. } = &mut spool {
            *drop_when_full = true;
        }
        let (_, args) = shim_command(&binary_uri(logger, &spool));
        assert_eq!(
            args,
            [logger::DROPPING_SPOOL_FLAG, "1000000:/l/a:b-json.log"]
        );
    }
}
