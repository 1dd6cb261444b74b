//! The command line Docker gives its init (`/sbin/docker-init -- cmd...`),
//! tini's options that matter here, and the agent's own `--pause` mode.
//! Pure, so that it is tested without processes.

use std::ffi::OsString;

/// The agent starts the task's namespace holder with this (see main.rs).
pub const PAUSE_FLAG: &str = "--pause";
/// `--health-runner <timeout ms> <output cap> -- <check...>` (health.rs).
pub const HEALTH_FLAG: &str = "--health-runner";

#[derive(Debug, PartialEq, Eq)]
pub enum Mode {
    /// Start `program` and stay PID 1 for it.
    Run {
        program: Vec<OsString>,
        /// tini's `-g` (or `TINI_KILL_PROCESS_GROUP`): signals go to the
        /// child's process group, not to the child alone.
        to_group: bool,
    },
    /// Hold the task's PID and IPC namespaces: reap, and leave on SIGTERM.
    Pause,
    /// Run `program` each time the agent asks (health.rs).
    Health {
        timeout_ms: u64,
        cap: usize,
        program: Vec<OsString>,
    },
}

/// `argv` without the program name; `group_env`: `TINI_KILL_PROCESS_GROUP`.
pub fn parse(
    mut argv: impl Iterator<Item = OsString>,
    group_env: Option<OsString>,
) -> Result<Mode, String> {
    // tini reads the variable as "set to anything but empty".
    let mut to_group = group_env.is_some_and(|v| !v.is_empty());
    let mut program = Vec::new();
    while let Some(arg) = argv.next() {
        match arg.to_str() {
            Some("--") => {
                program.extend(argv);
                break;
            }
            Some(HEALTH_FLAG) if program.is_empty() => return health(argv),
            Some(PAUSE_FLAG) if program.is_empty() => {
                if let Some(extra) = argv.next() {
                    return Err(format!("{PAUSE_FLAG} takes no arguments, got {extra:?}"));
                }
                return Ok(Mode::Pause);
            }
            Some("-g") => to_group = true,
            Some(s) if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("unknown option {s:?}"));
            }
            _ => {
                program.push(arg);
                program.extend(argv);
                break;
            }
        }
    }
    if program.is_empty() {
        return Err("no program to run".into());
    }
    Ok(Mode::Run { program, to_group })
}

fn health(mut argv: impl Iterator<Item = OsString>) -> Result<Mode, String> {
    let mut number = |what: &str| -> Result<u64, String> {
        let arg = argv.next().ok_or(format!("{HEALTH_FLAG}: no {what}"))?;
        arg.to_str()
            .and_then(|s| s.parse().ok())
            .ok_or(format!("{HEALTH_FLAG}: {what} {arg:?} is not a number"))
    };
    let timeout_ms = number("timeout")?;
    let cap = number("output cap")? as usize;
    match argv.next() {
        Some(dd) if dd == "--" => {}
        _ => return Err(format!("{HEALTH_FLAG}: expected -- before the check")),
    }
    let program: Vec<OsString> = argv.collect();
    if program.is_empty() {
        return Err(format!("{HEALTH_FLAG}: no check to run"));
    }
    Ok(Mode::Health {
        timeout_ms,
        cap,
        program,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str], env: Option<&str>) -> Result<Mode, String> {
        parse(args.iter().map(OsString::from), env.map(OsString::from))
    }

    fn run(program: &[&str], to_group: bool) -> Mode {
        Mode::Run {
            program: program.iter().map(OsString::from).collect(),
            to_group,
        }
    }

    #[test]
    fn docker_command_lines() {
        assert_eq!(
            parse_strs(&["--", "sh", "-c", "x"], None),
            Ok(run(&["sh", "-c", "x"], false))
        );
        // Options after the program or after `--` are the program's.
        assert_eq!(
            parse_strs(&["--", "-g", "--pause"], None),
            Ok(run(&["-g", "--pause"], false))
        );
        assert_eq!(
            parse_strs(&["app", "-g"], None),
            Ok(run(&["app", "-g"], false))
        );
        assert_eq!(
            parse_strs(&["-g", "--", "app"], None),
            Ok(run(&["app"], true))
        );
        assert_eq!(
            parse_strs(&["--", "app"], Some("1")),
            Ok(run(&["app"], true))
        );
        assert_eq!(
            parse_strs(&["--", "app"], Some("")),
            Ok(run(&["app"], false))
        );
        assert_eq!(parse_strs(&["--pause"], None), Ok(Mode::Pause));
        assert_eq!(
            parse_strs(
                &["--health-runner", "5000", "4096", "--", "sh", "-c", "true"],
                None
            ),
            Ok(Mode::Health {
                timeout_ms: 5000,
                cap: 4096,
                program: ["sh", "-c", "true"].iter().map(OsString::from).collect(),
            })
        );
        assert!(parse_strs(&["--health-runner", "5s", "1", "--", "x"], None)
            .unwrap_err()
            .contains("not a number"));
        assert!(parse_strs(&["--health-runner", "1", "1", "--"], None)
            .unwrap_err()
            .contains("no check"));
    }

    #[test]
    fn bad_command_lines_say_what_is_wrong() {
        assert_eq!(parse_strs(&[], None), Err("no program to run".into()));
        assert_eq!(parse_strs(&["--"], None), Err("no program to run".into()));
        assert_eq!(
            parse_strs(&["-x", "app"], None),
            Err("unknown option \"-x\"".into())
        );
        assert!(parse_strs(&["--pause", "x"], None)
            .unwrap_err()
            .contains("takes no arguments"));
    }
}
