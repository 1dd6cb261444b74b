//! What the spec needs from the host for a container's `devices` and swap
//! limit: each device node's type and numbers (as Docker reads them with
//! stat), and whether the memory cgroup limits swap at all.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::oci::HostDevice;
use crate::runtime::RuntimeError;
use crate::task::container::ContainerSpec;

/// The host's device nodes for the container's `devices`, in order. A path
/// that is missing or not a device stops the container with its name.
pub(super) async fn resolve(spec: &ContainerSpec) -> Result<Vec<HostDevice>, RuntimeError> {
    let mut out = Vec::with_capacity(spec.linux.devices.len());
    for d in &spec.linux.devices {
        let invalid = |reason: String| RuntimeError::InvalidSpec {
            field: "linuxParameters.devices.hostPath",
            value: d.host_path.clone(),
            reason,
        };
        let meta = tokio::fs::metadata(&d.host_path)
            .await
            .map_err(|e| invalid(format!("cannot use it as a device: {e}")))?;
        let kind = meta.file_type();
        if !kind.is_char_device() && !kind.is_block_device() {
            return Err(invalid("is not a device node on this host".into()));
        }
        let rdev = meta.rdev();
        out.push(HostDevice {
            container_path: d.container_path.clone(),
            block: kind.is_block_device(),
            major: i64::from(libc::major(rdev)),
            minor: i64::from(libc::minor(rdev)),
            file_mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            permissions: d.permissions.clone(),
        });
    }
    Ok(out)
}

/// Whether runc can set a swap limit here: cgroup v1's `memory.memsw.*`
/// exists only with swap accounting on; cgroup v2's `memory.swap.max` only
/// where the kernel has swap support.
pub(super) async fn swap_limit_supported() -> bool {
    let v1 = Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
    if tokio::fs::metadata(v1).await.is_ok() {
        return true;
    }
    // v2: look at our own cgroup (the root has no memory.swap.max).
    let Ok(own) = tokio::fs::read_to_string("/proc/self/cgroup").await else {
        return false;
    };
    let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")) else {
        return false;
    };
    let file = Path::new("/sys/fs/cgroup")
        .join(path.trim().trim_start_matches('/'))
        .join("memory.swap.max");
    tokio::fs::metadata(file).await.is_ok()
}
