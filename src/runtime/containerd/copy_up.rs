//! Filling a new, empty volume with the image's content at its mount path,
//! as Docker does for named and anonymous volumes (`copyExistingContents`):
//! the snapshot's layer directories are applied bottom-up at that path, the
//! way overlayfs would show them (a whiteout removes what lower layers put
//! there, an opaque directory hides their content). Owners, modes and
//! symlinks are kept; symlinks are never followed on the host.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Copies `path` (absolute, inside the container) of the layered `dirs`
/// (top layer first, as `rootfs::layer_dirs` gives them) into `dest`,
/// unless `dest` already has entries. Blocking.
pub fn populate(dirs: &[PathBuf], path: &str, dest: &Path) -> io::Result<()> {
    if std::fs::read_dir(dest)?.next().is_some() {
        return Ok(());
    }
    let rel: PathBuf = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != "." && *c != "..")
        .collect();
    let mut copied = false;
    for layer in dirs.iter().rev() {
        let Some(src) = within(layer, &rel) else {
            continue;
        };
        let meta = std::fs::symlink_metadata(&src)?;
        if is_whiteout(&meta) || !meta.is_dir() {
            // The path itself removed or replaced by a non-directory here:
            // nothing of the lower layers shows through.
            clear(dest)?;
            copied = false;
            continue;
        }
        if is_opaque(&src) {
            clear(dest)?;
        }
        apply(&src, dest)?;
        copy_owner_and_mode(&meta, dest)?;
        copied = true;
    }
    if copied {
        tracing::debug!(path, dest = %dest.display(), "volume filled from the image");
    }
    Ok(())
}

/// `layer/rel` if every component below `layer` is a real directory (a
/// symlink in a layer is never followed on the host).
fn within(layer: &Path, rel: &Path) -> Option<PathBuf> {
    let mut p = layer.to_path_buf();
    let n = rel.components().count();
    for (i, c) in rel.components().enumerate() {
        p.push(c);
        let meta = std::fs::symlink_metadata(&p).ok()?;
        if i + 1 < n && !meta.is_dir() {
            return None;
        }
    }
    Some(p)
}

fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    let Ok(path) = CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    let mut value = [0u8; 1];
    // SAFETY: NUL-terminated strings and a buffer of the given length.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    n == 1 && value[0] == b'y'
}

fn clear(dir: &Path) -> io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        remove(&p)?;
    }
    Ok(())
}

fn remove(p: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// One layer's directory `src` over `dest`. An explicit stack, not
/// recursion: the depth is the image's to choose.
fn apply(src: &Path, dest: &Path) -> io::Result<()> {
    let mut stack = vec![(src.to_path_buf(), dest.to_path_buf())];
    while let Some((from, to)) = stack.pop() {
        for entry in std::fs::read_dir(&from)? {
            let entry = entry?;
            let s = entry.path();
            let d = to.join(entry.file_name());
            let meta = std::fs::symlink_metadata(&s)?;
            let ft = meta.file_type();
            if is_whiteout(&meta) {
                remove(&d)?;
            } else if ft.is_dir() {
                if std::fs::symlink_metadata(&d).is_ok_and(|m| !m.is_dir()) || is_opaque(&s) {
                    remove(&d)?;
                }
                if std::fs::symlink_metadata(&d).is_err() {
                    std::fs::create_dir(&d)?;
                }
                copy_owner_and_mode(&meta, &d)?;
                stack.push((s, d));
            } else if ft.is_symlink() {
                remove(&d)?;
                std::os::unix::fs::symlink(std::fs::read_link(&s)?, &d)?;
                lchown(&d, &meta)?;
            } else if ft.is_file() {
                remove(&d)?;
                std::fs::copy(&s, &d)?;
                copy_owner_and_mode(&meta, &d)?;
            }
            // Devices, fifos and sockets in a volume path are left out.
        }
    }
    Ok(())
}

fn lchown(p: &Path, meta: &std::fs::Metadata) -> io::Result<()> {
    std::os::unix::fs::lchown(p, Some(meta.uid()), Some(meta.gid()))
}

fn copy_owner_and_mode(meta: &std::fs::Metadata, p: &Path) -> io::Result<()> {
    lchown(p, meta)?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_bottom_up_with_whiteouts_and_stop_at_a_full_volume() {
        let tmp = tempfile::tempdir().unwrap();
        let (lower, upper, dest) = (
            tmp.path().join("lower"),
            tmp.path().join("upper"),
            tmp.path().join("dest"),
        );
        std::fs::create_dir_all(lower.join("data/sub")).unwrap();
        std::fs::write(lower.join("data/a"), "lower-a").unwrap();
        std::fs::write(lower.join("data/gone"), "x").unwrap();
        std::fs::write(lower.join("data/sub/b"), "b").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", lower.join("data/link")).unwrap();
        std::fs::create_dir_all(upper.join("data")).unwrap();
        std::fs::write(upper.join("data/a"), "upper-a").unwrap();
        // A whiteout: a 0/0 character device (root only; skipped otherwise).
        let wh = CString::new(upper.join("data/gone").as_os_str().as_bytes()).unwrap();
        // SAFETY: a NUL-terminated path.
        let whiteout = unsafe { libc::mknod(wh.as_ptr(), libc::S_IFCHR | 0o600, 0) } == 0;
        std::fs::create_dir(&dest).unwrap();
        populate(&[upper.clone(), lower.clone()], "/data", &dest).unwrap();
        assert_eq!(std::fs::read_to_string(dest.join("a")).unwrap(), "upper-a");
        assert_eq!(std::fs::read_to_string(dest.join("sub/b")).unwrap(), "b");
        assert_eq!(
            std::fs::read_link(dest.join("link")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert_eq!(dest.join("gone").exists(), !whiteout);
        // Not empty any more: a second fill changes nothing.
        std::fs::write(dest.join("mine"), "x").unwrap();
        std::fs::remove_file(dest.join("a")).unwrap();
        populate(&[upper, lower], "/data", &dest).unwrap();
        assert!(!dest.join("a").exists());
        // A path no layer has leaves the volume empty.
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        populate(&[tmp.path().join("lower")], "/nothing/here", &empty).unwrap();
        assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    }
}
