//! Free and total space of the filesystem holding a path (statvfs).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What statvfs says about one filesystem, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskSpace {
    /// Free space an unprivileged writer may use (`f_bavail`): containerd
    /// runs as root, but the reserved blocks are the host's last resort, not
    /// room for images.
    pub available: u64,
    pub total: u64,
}

pub fn disk_space(path: &Path) -> io::Result<DiskSpace> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated string and `st` is written by
    // statvfs before it is read (only on success).
    let st = unsafe {
        if libc::statvfs(c.as_ptr(), st.as_mut_ptr()) != 0 {
            return Err(io::Error::last_os_error());
        }
        st.assume_init()
    };
    let frsize = st.f_frsize as u64;
    Ok(DiskSpace {
        available: (st.f_bavail as u64).saturating_mul(frsize),
        total: (st.f_blocks as u64).saturating_mul(frsize),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filesystem_of_a_directory_has_a_size() {
        let d = disk_space(Path::new("/")).unwrap();
        assert!(d.total > 0 && d.available <= d.total, "{d:?}");
        let e = disk_space(Path::new("/no/such/dir")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
