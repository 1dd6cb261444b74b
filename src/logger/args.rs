//! The logger's command line, as the shim builds it from the URI query.

use std::ffi::OsString;
use std::path::PathBuf;

use super::LoggerError;

/// First argument of a logger invocation, and the one query key of the
/// `binary://` URI. The agent itself takes no arguments, so it cannot clash.
pub const FLAG: &str = "--containerd-logger";

/// `args` without the program name: exactly `FLAG <log file>`.
pub(super) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<PathBuf, LoggerError> {
    let mut args = args.into_iter();
    let (Some(flag), Some(path), None) = (args.next(), args.next(), args.next()) else {
        return Err(LoggerError::Usage);
    };
    if flag != FLAG || path.is_empty() {
        return Err(LoggerError::Usage);
    }
    let path = PathBuf::from(path);
    if !path.is_absolute() {
        return Err(LoggerError::RelativePath(path));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn takes_the_flag_and_an_absolute_path() {
        assert_eq!(
            parse(args(&[FLAG, "/d/logs/t/a b.log"])).unwrap(),
            PathBuf::from("/d/logs/t/a b.log")
        );
    }

    #[test]
    fn refuses_anything_else() {
        for bad in [
            &[][..],
            &[FLAG],
            &[FLAG, ""],
            &["--other", "/x.log"],
            &[FLAG, "/x.log", "extra"],
        ] {
            assert!(
                matches!(parse(args(bad)), Err(LoggerError::Usage)),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse(args(&[FLAG, "x.log"])),
            Err(LoggerError::RelativePath(_))
        ));
    }
}
