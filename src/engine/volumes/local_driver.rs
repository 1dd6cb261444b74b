//! Docker's `local` volume driver with `driverOpts` (`type`, `device`, `o`):
//! a mount(2) of `device` on the volume's directory, options parsed as
//! moby's `mount.ParseOptions` does (flag words become mount flags, the rest
//! is the file system's data), an NFS/CIFS `addr=` host name resolved to an
//! address as `volume/local/local_unix.go` does, because the kernel takes
//! addresses only.

use std::ffi::CString;
use std::net::ToSocketAddrs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use libc::c_ulong;

/// Mounts the options on `dir` unless it is mounted already or the options
/// ask for no mount (no `type`: a plain directory).
pub(super) fn mount_if_needed(
    dir: &Path,
    opts: &std::collections::BTreeMap<String, String>,
) -> Result<(), String> {
    let _guard = super::MOUNTING.lock().unwrap_or_else(|p| p.into_inner());
    mount_locked(dir, opts)
}

/// As [`mount_if_needed`], with `MOUNTING` already held.
pub(super) fn mount_locked(
    dir: &Path,
    opts: &std::collections::BTreeMap<String, String>,
) -> Result<(), String> {
    let get = |k: &str| opts.get(k).map(String::as_str).unwrap_or_default();
    let (fstype, device, o) = (get("type"), get("device"), get("o"));
    if fstype.is_empty() {
        return Ok(());
    }
    if mount_points_under(dir)?.iter().any(|m| m == dir) {
        return Ok(());
    }
    let (flags, data) = parse_options(o);
    let data = match fstype {
        "nfs" | "nfs4" | "cifs" => resolve_addr(&data)?,
        _ => data,
    };
    mount(device, dir, fstype, flags, &data)?;
    // A read-only bind needs a second, remounting call (moby's mount.Mount).
    if flags & libc::MS_BIND != 0 && flags & libc::MS_RDONLY != 0 {
        mount(
            "",
            dir,
            "",
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
            "",
        )?;
    }
    tracing::info!(path = %dir.display(), fstype, device, "volume mounted");
    Ok(())
}

fn cstr(s: &[u8]) -> Result<CString, String> {
    CString::new(s).map_err(|_| "a mount argument contains a NUL byte".to_string())
}

fn mount(device: &str, dir: &Path, fstype: &str, flags: c_ulong, data: &str) -> Result<(), String> {
    let (src, target, typ, dat) = (
        cstr(device.as_bytes())?,
        cstr(dir.as_os_str().as_bytes())?,
        cstr(fstype.as_bytes())?,
        cstr(data.as_bytes())?,
    );
    // SAFETY: every pointer is a NUL-terminated string alive for the call.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            typ.as_ptr(),
            flags,
            dat.as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(format!(
            "mount of {device:?} (type {fstype}, options {data:?}) on {}: {}",
            dir.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// moby's flag words; every other option is file-system data.
pub(super) fn parse_options(o: &str) -> (c_ulong, String) {
    let mut flags: c_ulong = 0;
    let mut data = Vec::new();
    for opt in o.split(',').filter(|s| !s.is_empty()) {
        let (clear, bits) = match opt {
            "defaults" => (false, 0),
            "ro" => (false, libc::MS_RDONLY),
            "rw" => (true, libc::MS_RDONLY),
            "suid" => (true, libc::MS_NOSUID),
            "nosuid" => (false, libc::MS_NOSUID),
            "dev" => (true, libc::MS_NODEV),
            "nodev" => (false, libc::MS_NODEV),
            "exec" => (true, libc::MS_NOEXEC),
            "noexec" => (false, libc::MS_NOEXEC),
            "sync" => (false, libc::MS_SYNCHRONOUS),
            "async" => (true, libc::MS_SYNCHRONOUS),
            "dirsync" => (false, libc::MS_DIRSYNC),
            "remount" => (false, libc::MS_REMOUNT),
            "mand" => (false, libc::MS_MANDLOCK),
            "nomand" => (true, libc::MS_MANDLOCK),
            "atime" => (true, libc::MS_NOATIME),
            "noatime" => (false, libc::MS_NOATIME),
            "diratime" => (true, libc::MS_NODIRATIME),
            "nodiratime" => (false, libc::MS_NODIRATIME),
            "bind" => (false, libc::MS_BIND),
            "rbind" => (false, libc::MS_BIND | libc::MS_REC),
            "relatime" => (false, libc::MS_RELATIME),
            "norelatime" => (true, libc::MS_RELATIME),
            "strictatime" => (false, libc::MS_STRICTATIME),
            "nostrictatime" => (true, libc::MS_STRICTATIME),
            // Propagation is set apart in moby; a volume's is private.
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => (false, 0),
            other => {
                data.push(other);
                continue;
            }
        };
        if clear {
            flags &= !bits;
        } else {
            flags |= bits;
        }
    }
    (flags, data.join(","))
}

/// `addr=HOST` becomes `addr=IP` (the first IPv4 address of HOST).
fn resolve_addr(data: &str) -> Result<String, String> {
    let mut out = Vec::new();
    for opt in data.split(',') {
        match opt.strip_prefix("addr=") {
            Some(host) if host.parse::<std::net::IpAddr>().is_err() => {
                let ip = (host, 0)
                    .to_socket_addrs()
                    .map_err(|e| format!("cannot resolve addr={host}: {e}"))?
                    .find(|a| a.is_ipv4())
                    .ok_or_else(|| format!("addr={host} has no IPv4 address"))?
                    .ip();
                out.push(format!("addr={ip}"));
            }
            _ => out.push(opt.to_string()),
        }
    }
    Ok(out.join(","))
}

/// The mount points at or under `root`, from /proc/self/mountinfo.
fn mount_points_under(root: &Path) -> Result<Vec<PathBuf>, String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .filter(|p| p.starts_with(root))
        .collect())
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let n = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(n);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts everything mounted at or under `root`, deepest first; an error
/// if anything is still mounted there afterwards.
pub(super) fn unmount_under(root: &Path) -> Result<(), String> {
    let mut mounted = mount_points_under(root)?;
    mounted.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for m in &mounted {
        let target = cstr(m.as_os_str().as_bytes())?;
        // SAFETY: a NUL-terminated path alive for the call. MNT_DETACH: a
        // busy file system is cut off at once and freed when unused.
        if unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) } != 0 {
            let e = std::io::Error::last_os_error();
            tracing::warn!(path = %m.display(), error = %e, "cannot unmount a volume");
        }
    }
    let left = mount_points_under(root)?;
    if let Some(m) = left.first() {
        return Err(format!("{} is still mounted", m.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_split_into_flags_and_data_as_moby() {
        let (flags, data) = parse_options("size=1m,ro,nosuid,uid=1000");
        assert_eq!(flags, libc::MS_RDONLY | libc::MS_NOSUID);
        assert_eq!(data, "size=1m,uid=1000");
        let (flags, data) = parse_options("bind,ro,rw");
        assert_eq!(flags, libc::MS_BIND);
        assert_eq!(data, "");
        let (flags, data) = parse_options("addr=10.0.0.1,nfsvers=4.1,rw");
        assert_eq!(flags, 0);
        assert_eq!(data, "addr=10.0.0.1,nfsvers=4.1");
    }

    #[test]
    fn nfs_addr_host_names_become_addresses() {
        assert_eq!(
            resolve_addr("addr=localhost,vers=4.1").unwrap(),
            "addr=127.0.0.1,vers=4.1"
        );
        assert_eq!(resolve_addr("addr=10.1.2.3").unwrap(), "addr=10.1.2.3");
    }

    #[test]
    fn mountinfo_paths_are_unescaped() {
        assert_eq!(unescape("/a\\040b\\134c"), "/a b\\c");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
