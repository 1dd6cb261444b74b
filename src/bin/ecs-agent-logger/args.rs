//! The logger's command line, as the shim builds it from the URI query: one
//! key and its value (the shim's map of query keys has no order, so all the
//! settings travel in one value). The agent builds these URIs in
//! `src/runtime/containerd/create.rs`; `src/logger/uri.rs` holds the same
//! flag names and checks they match this file.

use std::ffi::OsString;
use std::path::PathBuf;

use super::logfile::Rotation;
use super::Error;

/// Output as it came, stdout and stderr interleaved (the agent's only
/// format before json-file; kept for runtime-level tests and as an option).
pub const PLAIN_FLAG: &str = "--containerd-logger";
/// Docker's json-file format; value `<max-size>:<max-file>:<path>`, sizes in
/// bytes, max-size 0 for no rotation.
pub const JSON_FILE_FLAG: &str = "--json-file";
/// json-file records as the awslogs blocking-mode spool: value
/// `<file-size>:<path>`; rotated at file-size only once the shipper removed
/// the previous file, never removing one (`logfile.rs`, handed-off rotation).
pub const SPOOL_FLAG: &str = "--spool";
/// The awslogs non-blocking-mode spool: as SPOOL_FLAG, but while the file
/// is full and the shipper has not taken the previous one, new lines are
/// dropped and counted (`logfile.rs`, `drops.rs`).
pub const DROPPING_SPOOL_FLAG: &str = "--spool-drop";

#[derive(Debug, PartialEq, Eq)]
pub enum Mode {
    Plain(PathBuf),
    JsonFile { path: PathBuf, rotation: Rotation },
}

/// `args` without the program name: exactly `FLAG VALUE`.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Mode, Error> {
    let mut args = args.into_iter();
    let (Some(flag), Some(value), None) = (args.next(), args.next(), args.next()) else {
        return Err(Error::Usage("expected two arguments".into()));
    };
    let usage = |why: &str| Error::Usage(why.to_string());
    let value = value
        .into_string()
        .map_err(|_| usage("the argument is not UTF-8"))?;
    let mode = if flag == PLAIN_FLAG {
        Mode::Plain(PathBuf::from(value))
    } else if flag == JSON_FILE_FLAG {
        let mut parts = value.splitn(3, ':');
        let (Some(size), Some(files), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(usage("json-file: expected <max-size>:<max-file>:<path>"));
        };
        let max_size: u64 = size
            .parse()
            .map_err(|_| usage("json-file: max-size is not a number of bytes"))?;
        let max_file: u32 = files
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| usage("json-file: max-file is not a number of at least 1"))?;
        Mode::JsonFile {
            path: PathBuf::from(path),
            rotation: Rotation {
                max_size: (max_size > 0).then_some(max_size),
                max_file,
                handoff: false,
                drop_when_full: false,
            },
        }
    } else if flag == SPOOL_FLAG || flag == DROPPING_SPOOL_FLAG {
        let Some((size, path)) = value.split_once(':') else {
            return Err(usage("spool: expected <file-size>:<path>"));
        };
        let size: u64 = size
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| usage("spool: file-size is not a positive number of bytes"))?;
        Mode::JsonFile {
            path: PathBuf::from(path),
            rotation: Rotation {
                max_size: Some(size),
                max_file: 2,
                handoff: true,
                drop_when_full: flag == DROPPING_SPOOL_FLAG,
            },
        }
    } else {
        return Err(usage("unknown mode"));
    };
    let path = match &mode {
        Mode::Plain(p) | Mode::JsonFile { path: p, .. } => p,
    };
    if !path.is_absolute() {
        return Err(usage("the log file must be an absolute path"));
    }
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn takes_a_mode_and_its_value() {
        assert_eq!(
            parse(args(&[PLAIN_FLAG, "/d/logs/t/a b.log"])).unwrap(),
            Mode::Plain("/d/logs/t/a b.log".into())
        );
        assert_eq!(
            parse(args(&[JSON_FILE_FLAG, "0:1:/d/l/a:b-json.log"])).unwrap(),
            Mode::JsonFile {
                path: "/d/l/a:b-json.log".into(),
                rotation: Rotation {
                    max_size: None,
                    max_file: 1,
                    handoff: false,
                    drop_when_full: false,
                }
            }
        );
        assert_eq!(
            parse(args(&[JSON_FILE_FLAG, "10000:3:/x-json.log"])).unwrap(),
            Mode::JsonFile {
                path: "/x-json.log".into(),
                rotation: Rotation {
                    max_size: Some(10000),
                    max_file: 3,
                    handoff: false,
                    drop_when_full: false,
                }
            }
        );
        assert_eq!(
            parse(args(&[SPOOL_FLAG, "1000000:/d/a:b-json.log"])).unwrap(),
            Mode::JsonFile {
                path: "/d/a:b-json.log".into(),
                rotation: Rotation {
                    max_size: Some(1_000_000),
                    max_file: 2,
                    handoff: true,
                    drop_when_full: false,
                }
            }
        );
        assert_eq!(
            parse(args(&[DROPPING_SPOOL_FLAG, "500000:/d/a-json.log"])).unwrap(),
            Mode::JsonFile {
                path: "/d/a-json.log".into(),
                rotation: Rotation {
                    max_size: Some(500_000),
                    max_file: 2,
                    handoff: true,
                    drop_when_full: true,
                }
            }
        );
    }

    #[test]
    fn refuses_anything_else() {
        for bad in [
            &[][..],
            &[PLAIN_FLAG],
            &[PLAIN_FLAG, ""],
            &[PLAIN_FLAG, "x.log"],
            &["--other", "/x.log"],
            &[PLAIN_FLAG, "/x.log", "extra"],
            &[JSON_FILE_FLAG, "/x.log"],
            &[JSON_FILE_FLAG, "1:0:/x.log"],
            &[JSON_FILE_FLAG, "-1:1:/x.log"],
            &[JSON_FILE_FLAG, "1:1:x.log"],
            &[SPOOL_FLAG, "/x.log"],
            &[SPOOL_FLAG, "0:/x.log"],
            &[SPOOL_FLAG, "1:x.log"],
            &[DROPPING_SPOOL_FLAG, "0:/x.log"],
        ] {
            assert!(matches!(parse(args(bad)), Err(Error::Usage(_))), "{bad:?}");
        }
    }
}
