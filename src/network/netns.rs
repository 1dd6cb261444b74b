//! Named network namespaces (files bind-mounted like `ip netns add` does)
//! and netlink connections opened inside them.
//!
//! A socket belongs to the namespace its creating thread was in, so a
//! connection "inside" a namespace is made on a short-lived OS thread that
//! `setns`es first; tokio's own threads never change namespace.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
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

/// A network namespace made ahead of its task, with loopback up, held only
/// by a file descriptor: mounted nowhere, so nothing of it shows on the
/// host, and the kernel frees it when it is dropped (or the agent ends).
pub(crate) struct Spare(File);

impl Spare {
    /// The namespace's inode number, as `ip netns identify` or
    /// `/proc/<pid>/ns/net` show it.
    pub(crate) fn id(&self) -> Option<u64> {
        use std::os::unix::fs::MetadataExt;
        self.0.metadata().ok().map(|m| m.ino())
    }
}

/// Makes a namespace with loopback up (blocking). The namespace is made on
/// a thread of its own that ends right after.
pub(crate) fn make_spare() -> io::Result<Spare> {
    std::thread::spawn(|| -> io::Result<Spare> {
        // SAFETY: unshare only affects this thread, which does nothing else.
        check(unsafe { libc::unshare(libc::CLONE_NEWNET) })?;
        loopback_up()?;
        File::open("/proc/thread-self/ns/net").map(Spare)
    })
    .join()
    .unwrap_or_else(|_| Err(io::Error::other("namespace thread panicked")))
}

/// `ip link set lo up` in the calling thread's namespace, with one ioctl
/// instead of a netlink connection.
fn loopback_up() -> io::Result<()> {
    // SAFETY: a plain socket(2); the fd is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    check(fd)?;
    // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
    let sock = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo") {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write `req`, which lives
    // across both calls; the union's flags member is the one they use.
    unsafe {
        check(libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req))?;
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        check(libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req))
    }
}

/// Mounts a namespace at `path`, made now or taken from the spares: with
/// loopback up, as `ip netns add` + `ip link set lo up` leave one.
pub(crate) async fn create(path: &Path, spare: Option<Spare>) -> Result<(), NetworkError> {
    let path = path.to_path_buf();
    let p2 = path.clone();
    tokio::task::spawn_blocking(move || create_blocking(&p2, spare))
        .await
        .map_err(|e| NetworkError::Namespace {
            path: path.clone(),
            op: "create",
            source: io::Error::other(e.to_string()),
        })?
}

fn create_blocking(path: &Path, spare: Option<Spare>) -> Result<(), NetworkError> {
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
    let mounted = match spare {
        Some(s) => Ok(s),
        None => make_spare(),
    }
    .and_then(|Spare(ns)| {
        let src = CString::new(format!("/proc/self/fd/{}", ns.as_raw_fd()))
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let dst = cstr(path)?;
        let none = c"none";
        // SAFETY: mount(2) with valid strings; `ns` stays open across it.
        check(unsafe {
            libc::mount(
                src.as_ptr(),
                dst.as_ptr(),
                none.as_ptr(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        })
    });
    if let Err(e) = mounted {
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
