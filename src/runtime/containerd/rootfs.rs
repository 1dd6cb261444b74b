//! Reading a file of the container's root filesystem (its /etc/passwd and
//! /etc/group) straight from the snapshot's directories, without mounting: the
//! overlay's upper dir first, then each lower dir top-down, as overlayfs would.
//!
//! Every path component is checked with `symlink_metadata`, so a symlink in an
//! image layer is never followed on the host; symlinks are resolved inside the
//! layered tree instead.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use containerd_client::types::Mount;

/// Files bigger than this are not plausible passwd/group files.
const MAX_FILE: u64 = 4 << 20;
const MAX_SYMLINKS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("unsupported snapshot mount type {0:?}")]
    UnsupportedMount(String),
    #[error("reading {path} from the image: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("reading {0} from the image: too many levels of symbolic links")]
    SymlinkLoop(String),
    #[error("reading {0} from the image: file too large")]
    TooLarge(String),
}

/// The directories that make up the root filesystem, top layer first.
pub fn layer_dirs(mounts: &[Mount]) -> Result<Vec<PathBuf>, RootfsError> {
    let mut dirs = Vec::new();
    for m in mounts {
        match m.r#type.as_str() {
            "bind" | "rbind" => dirs.push(PathBuf::from(&m.source)),
            "overlay" => {
                let mut upper = None;
                let mut lower = Vec::new();
                for opt in &m.options {
                    if let Some(u) = opt.strip_prefix("upperdir=") {
                        upper = Some(PathBuf::from(u));
                    } else if let Some(l) = opt.strip_prefix("lowerdir=") {
                        lower = l
                            .split(':')
                            .filter(|d| !d.is_empty())
                            .map(PathBuf::from)
                            .collect();
                    }
                }
                dirs.extend(upper);
                dirs.extend(lower);
            }
            other => return Err(RootfsError::UnsupportedMount(other.to_string())),
        }
    }
    Ok(dirs)
}

enum Lookup {
    Found(PathBuf),
    /// Resolved through a symlink: the new path's components, inside the container.
    Symlink(Vec<String>),
    Absent,
}

/// Read `path` (absolute, inside the container) from the layered `dirs`.
/// `Ok(None)` when the image has no such file.
pub fn read_file(dirs: &[PathBuf], path: &str) -> Result<Option<String>, RootfsError> {
    let io_err = |source| RootfsError::Io {
        path: path.to_string(),
        source,
    };
    let mut want = normalize(Path::new(path));
    for _ in 0..MAX_SYMLINKS {
        match lookup(dirs, &want).map_err(io_err)? {
            Lookup::Absent => return Ok(None),
            Lookup::Symlink(target) => want = target,
            Lookup::Found(host_path) => {
                let file = std::fs::File::open(&host_path).map_err(io_err)?;
                let mut text = String::new();
                file.take(MAX_FILE + 1)
                    .read_to_string(&mut text)
                    .map_err(io_err)?;
                if text.len() as u64 > MAX_FILE {
                    return Err(RootfsError::TooLarge(path.to_string()));
                }
                return Ok(Some(text));
            }
        }
    }
    Err(RootfsError::SymlinkLoop(path.to_string()))
}

/// Components of an absolute container path with `.`/`..` resolved lexically
/// (`..` at the root stays at the root, as in the kernel).
fn normalize(p: &Path) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

fn lookup(dirs: &[PathBuf], want: &[String]) -> std::io::Result<Lookup> {
    // Walk the components; at each step find the topmost layer that has the
    // prefix, as overlayfs merges directories and lets upper entries hide lower.
    'layers: for dir in dirs {
        let mut host = dir.clone();
        for (depth, comp) in want.iter().enumerate() {
            host.push(comp);
            let meta = match std::fs::symlink_metadata(&host) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue 'layers,
                Err(e) if e.raw_os_error() == Some(20) => continue 'layers, // ENOTDIR
                Err(e) => return Err(e),
            };
            let last = depth + 1 == want.len();
            let ft = meta.file_type();
            if is_whiteout(&meta) {
                return Ok(Lookup::Absent);
            }
            if ft.is_symlink() {
                let target = std::fs::read_link(&host)?;
                let mut base: Vec<String> = want[..depth].to_vec();
                let resolved = if target.is_absolute() {
                    normalize(&target)
                } else {
                    base.extend(normalize_relative(&target));
                    collapse(base)
                };
                let mut full = resolved;
                full.extend(want[depth + 1..].iter().cloned());
                return Ok(Lookup::Symlink(full));
            }
            if last {
                if ft.is_file() {
                    return Ok(Lookup::Found(host));
                }
                return Ok(Lookup::Absent);
            }
            // A directory here may still take deeper entries from lower layers
            // (unless it is opaque, an xattr std cannot read; images rarely make
            // /etc opaque).
            if !ft.is_dir() {
                return Ok(Lookup::Absent);
            }
        }
    }
    Ok(Lookup::Absent)
}

fn normalize_relative(p: &Path) -> Vec<String> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_string()),
            _ => None,
        })
        .collect()
}

fn collapse(parts: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for p in parts {
        if p == ".." {
            out.pop();
        } else {
            out.push(p);
        }
    }
    out
}

/// overlayfs marks deleted files with a 0/0 character device.
fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    meta.file_type().is_char_device() && meta.rdev() == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn overlay_options_give_upper_then_lowers() {
        let m = Mount {
            r#type: "overlay".into(),
            source: "overlay".into(),
            target: String::new(),
            options: vec![
                "index=off".into(),
                "workdir=/s/3/work".into(),
                "upperdir=/s/3/fs".into(),
                "lowerdir=/s/2/fs:/s/1/fs".into(),
            ],
        };
        let dirs = layer_dirs(&[m]).unwrap();
        assert_eq!(
            dirs,
            vec![PathBuf::from("/s/3/fs"), "/s/2/fs".into(), "/s/1/fs".into()]
        );
        let b = Mount {
            r#type: "bind".into(),
            source: "/s/1/fs".into(),
            target: String::new(),
            options: vec!["rbind".into(), "rw".into()],
        };
        assert_eq!(layer_dirs(&[b]).unwrap(), vec![PathBuf::from("/s/1/fs")]);
    }

    #[test]
    fn upper_layers_win_and_missing_is_none() {
        let t = tempfile::tempdir().unwrap();
        let (top, bottom) = (t.path().join("top"), t.path().join("bottom"));
        write(&bottom, "etc/passwd", "old");
        write(&bottom, "etc/group", "g");
        write(&top, "etc/passwd", "new");
        let dirs = vec![top, bottom];
        assert_eq!(
            read_file(&dirs, "/etc/passwd").unwrap().as_deref(),
            Some("new")
        );
        assert_eq!(
            read_file(&dirs, "/etc/group").unwrap().as_deref(),
            Some("g")
        );
        assert_eq!(read_file(&dirs, "/etc/shadow").unwrap(), None);
    }

    #[test]
    fn symlinks_resolve_inside_the_image_not_the_host() {
        let t = tempfile::tempdir().unwrap();
        let layer = t.path().join("l");
        write(&layer, "data/passwd", "in-image");
        std::fs::create_dir_all(layer.join("etc")).unwrap();
        // Absolute target: must mean the image's /data, never the host's.
        std::os::unix::fs::symlink("/data/passwd", layer.join("etc/passwd")).unwrap();
        std::os::unix::fs::symlink("../data/passwd", layer.join("etc/group")).unwrap();
        let dirs = vec![layer.clone()];
        assert_eq!(
            read_file(&dirs, "/etc/passwd").unwrap().as_deref(),
            Some("in-image")
        );
        assert_eq!(
            read_file(&dirs, "/etc/group").unwrap().as_deref(),
            Some("in-image")
        );

        let host_dir = t.path().join("host-etc");
        write(&host_dir, "passwd", "host secret");
        let evil = t.path().join("evil");
        std::fs::create_dir_all(&evil).unwrap();
        std::os::unix::fs::symlink(&host_dir, evil.join("etc")).unwrap();
        // The image has no such directory of its own: the host's must not leak in.
        assert_eq!(read_file(&[evil], "/etc/passwd").unwrap(), None);
    }

    #[test]
    fn symlink_loops_are_errors() {
        let t = tempfile::tempdir().unwrap();
        let layer = t.path().join("l");
        std::fs::create_dir_all(layer.join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc/b", layer.join("etc/a")).unwrap();
        std::os::unix::fs::symlink("/etc/a", layer.join("etc/b")).unwrap();
        assert!(matches!(
            read_file(&[layer], "/etc/a"),
            Err(RootfsError::SymlinkLoop(_))
        ));
    }
}
