//! Named network namespaces (files bind-mounted like `ip netns add` does)
//! and netlink connections opened inside them.
//!
//! A socket belongs to the namespace its creating thread was in, so a
//! connection "inside" a namespace is made on a short-lived OS thread that
//! `setns`es first; tokio's own threads never change namespace.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rtnetlink::Handle;

use super::NetworkError;

fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn ns_err(path: &Path, op: &'static str) -> impl FnOnce(io::Error) -> NetworkError {
    let path = path.to_path_buf();
    move |source| NetworkError::Namespace { path, op, source }
}

/// Makes `dir` a shared mount point as iproute2 does, so namespace mounts
/// propagate to other mount namespaces; best effort.
fn prepare_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let c = cstr(dir)?;
    let none = c"none";
    let empty = c"";
    // SAFETY: plain mount(2) calls with valid NUL-terminated strings.
    unsafe {
        if libc::mount(
            empty.as_ptr(),
            c.as_ptr(),
            none.as_ptr(),
            libc::MS_SHARED | libc::MS_REC,
            std::ptr::null(),
        ) == 0
        {
            return Ok(());
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            return Err(io::Error::last_os_error());
        }
        check(libc::mount(
            c.as_ptr(),
            c.as_ptr(),
            none.as_ptr(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        ))?;
        check(libc::mount(
            empty.as_ptr(),
            c.as_ptr(),
            none.as_ptr(),
            libc::MS_SHARED | libc::MS_REC,
            std::ptr::null(),
        ))
    }
}

/// True if `path` is a mounted namespace file (not just a leftover file).
pub(crate) fn is_mounted(path: &Path) -> bool {
    // nsfs files have a distinct device from their directory.
    use std::os::unix::fs::MetadataExt;
    match (
        std::fs::metadata(path),
        path.parent().map(std::fs::metadata),
    ) {
        (Ok(f), Some(Ok(d))) => f.dev() != d.dev(),
        _ => false,
    }
}

/// Creates a new, empty network namespace mounted at `path`.
pub(crate) async fn create(path: &Path) -> Result<(), NetworkError> {
    let path = path.to_path_buf();
    let p2 = path.clone();
    tokio::task::spawn_blocking(move || create_blocking(&p2))
        .await
        .map_err(|e| NetworkError::Namespace {
            path: path.clone(),
            op: "create",
            source: io::Error::other(e.to_string()),
        })?
}

fn create_blocking(path: &Path) -> Result<(), NetworkError> {
    if let Some(dir) = path.parent() {
        if let Err(e) = prepare_dir(dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot make the netns directory a shared mount");
        }
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(ns_err(path, "create file"))?;
    let target = path.to_path_buf();
    // The namespace is made on a thread of its own that ends right after.
    let res = std::thread::spawn(move || -> io::Result<()> {
        // SAFETY: unshare only affects this thread, which does nothing else.
        check(unsafe { libc::unshare(libc::CLONE_NEWNET) })?;
        let src = CString::new("/proc/thread-self/ns/net")
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let dst = cstr(&target)?;
        let none = c"none";
        // SAFETY: mount(2) with valid strings.
        check(unsafe {
            libc::mount(
                src.as_ptr(),
                dst.as_ptr(),
                none.as_ptr(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        })
    })
    .join()
    .unwrap_or_else(|_| Err(io::Error::other("namespace thread panicked")));
    if let Err(e) = res {
        let _ = std::fs::remove_file(path);
        return Err(ns_err(path, "unshare+mount")(e));
    }
    Ok(())
}

/// Unmounts and removes the namespace file; nothing if it is gone.
pub(crate) fn remove(path: &Path) -> Result<(), NetworkError> {
    if !path.exists() {
        return Ok(());
    }
    let c = cstr(path).map_err(ns_err(path, "umount"))?;
    // SAFETY: umount2(2) with a valid string.
    let rc = unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        // EINVAL: not a mount point (a leftover file).
        if e.raw_os_error() != Some(libc::EINVAL) {
            return Err(ns_err(path, "umount")(e));
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ns_err(path, "remove file")(e)),
    }
}

/// An rtnetlink handle whose socket lives in a namespace; its connection
/// task ends when this is dropped.
pub(crate) struct NsHandle {
    pub handle: Handle,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for NsHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A netlink connection in the agent's own namespace.
pub(crate) fn host_handle() -> Result<NsHandle, NetworkError> {
    let (conn, handle, _) =
        rtnetlink::new_connection().map_err(|source| NetworkError::Netlink {
            op: "open netlink socket".into(),
            reason: source.to_string(),
        })?;
    Ok(NsHandle {
        handle,
        task: tokio::spawn(conn),
    })
}

/// A netlink connection inside the namespace mounted at `path`.
pub(crate) async fn handle_in(path: &Path) -> Result<NsHandle, NetworkError> {
    let file = File::open(path).map_err(ns_err(path, "open"))?;
    let rt = tokio::runtime::Handle::current();
    let p: PathBuf = path.to_path_buf();
    let made = std::thread::spawn(move || {
        let _guard = rt.enter();
        // SAFETY: setns on this short-lived thread only.
        check(unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) })?;
        rtnetlink::new_connection()
    })
    .join()
    .unwrap_or_else(|_| Err(io::Error::other("netns thread panicked")));
    let (conn, handle, _) = made.map_err(ns_err(&p, "setns+netlink socket"))?;
    Ok(NsHandle {
        handle,
        task: tokio::spawn(conn),
    })
}

/// The agent's own network namespace, to move interfaces back into.
pub(crate) fn host_ns_file() -> Result<File, NetworkError> {
    let p = Path::new("/proc/self/ns/net");
    File::open(p).map_err(ns_err(p, "open"))
}
