//! `ecs-agent logs [-f] [--tail N] TASK_ID CONTAINER`: a container's output
//! from its json-file log, stdout to stdout and stderr to stderr, as
//! `docker logs` prints it (there is no Docker on the host to ask).

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::read::{self, Record, Stream};

/// The subcommand's name: `ecs-agent logs ...`.
pub const COMMAND: &str = "logs";
const USAGE: &str = "usage: ecs-agent logs [-f|--follow] [-n|--tail N] TASK_ID CONTAINER";
/// How often `-f` looks for new output.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("{0}\n{USAGE}")]
    Usage(String),
    #[error(
        "no log for container {container:?} of task {task:?} at {path}: the task id or container name is wrong, \
         the task was cleaned up, or the container logs with logDriver none"
    )]
    NotFound {
        task: String,
        container: String,
        path: PathBuf,
    },
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
}

#[derive(Debug, PartialEq, Eq)]
pub struct LogsArgs {
    pub follow: bool,
    pub tail: Option<usize>,
    pub task_id: String,
    pub container: String,
}

/// The arguments after `logs`.
pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<LogsArgs, LogsError> {
    let usage = |m: String| LogsError::Usage(m);
    let mut follow = false;
    let mut tail = None;
    let mut positional = Vec::new();
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        let a = a
            .into_string()
            .map_err(|a| usage(format!("argument {a:?} is not UTF-8")))?;
        let tail_value = |v: Option<String>| -> Result<Option<usize>, LogsError> {
            let v = v.ok_or_else(|| usage("--tail needs a number of lines".into()))?;
            // docker logs: "all" means no limit.
            if v == "all" {
                return Ok(None);
            }
            v.parse().map(Some).map_err(|_| {
                usage(format!(
                    "--tail {v:?}: expected a number of lines or \"all\""
                ))
            })
        };
        match a.as_str() {
            "-f" | "--follow" => follow = true,
            "-n" | "--tail" => {
                let v = args.next().and_then(|v| v.into_string().ok());
                tail = tail_value(v)?;
            }
            _ if a.starts_with("--tail=") => tail = tail_value(Some(a["--tail=".len()..].into()))?,
            _ if a.starts_with('-') && a.len() > 1 => {
                return Err(usage(format!("unknown option {a:?}")))
            }
            _ => positional.push(a),
        }
    }
    let [task, container]: [String; 2] = positional.try_into().map_err(|p: Vec<String>| {
        usage(format!(
            "expected TASK_ID and CONTAINER, got {} arguments",
            p.len()
        ))
    })?;
    // A task ARN works too: its id is the last part.
    let task_id = match task.strip_prefix("arn:") {
        Some(_) => task.rsplit('/').next().unwrap_or(&task).to_string(),
        None => task.clone(),
    };
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !valid(&task_id) {
        return Err(usage(format!(
            "TASK_ID {task:?}: expected a task id or ARN"
        )));
    }
    if !valid(&container) {
        return Err(usage(format!(
            "CONTAINER {container:?}: expected a container name"
        )));
    }
    Ok(LogsArgs {
        follow,
        tail,
        task_id,
        container,
    })
}

/// `$ECS_DATADIR/logs/<task-id>/<container>-json.log`, where the engine
/// puts a json-file log (`engine::settings`).
pub fn json_log_path(data_dir: &Path, task_id: &str, container: &str) -> PathBuf {
    data_dir
        .join("logs")
        .join(task_id)
        .join(format!("{container}-json.log"))
}

/// Prints the log; returns when done (with `follow`, never on its own).
pub fn run(data_dir: &Path, args: &LogsArgs) -> Result<(), LogsError> {
    let path = json_log_path(data_dir, &args.task_id, &args.container);
    let read_err = |source| LogsError::Read {
        path: path.clone(),
        source,
    };
    let size = match std::fs::metadata(&path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(LogsError::NotFound {
                task: args.task_id.clone(),
                container: args.container.clone(),
                path,
            })
        }
        Err(e) => return Err(read_err(e)),
    };
    let (stdout, stderr) = (io::stdout(), io::stderr());
    let (mut out, mut err) = (stdout.lock(), stderr.lock());
    let mut print = |r: &Record| -> io::Result<()> {
        match r.stream {
            Stream::Stdout => out.write_all(r.log.as_bytes()),
            Stream::Stderr => err.write_all(r.log.as_bytes()),
        }
    };
    let result = (|| -> io::Result<()> {
        for r in read::read_all(&path, args.tail)? {
            print(&r)?;
        }
        if args.follow {
            read::follow(&path, size, FOLLOW_POLL, |r| print(r), || false)?;
        }
        Ok(())
    })();
    match result {
        // `ecs-agent logs ... | head`: the reader has gone, we are done.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(read_err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<LogsArgs, LogsError> {
        parse_args(a.iter().map(OsString::from))
    }

    #[test]
    fn takes_docker_logs_options() {
        assert_eq!(
            parse(&["-f", "--tail", "5", "arn:aws:ecs:r:1:task/c/abc123", "web"]).unwrap(),
            LogsArgs {
                follow: true,
                tail: Some(5),
                task_id: "abc123".into(),
                container: "web".into()
            }
        );
        let a = parse(&["abc", "web_1", "--tail=all"]).unwrap();
        assert_eq!((a.follow, a.tail), (false, None));
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        for (args, says) in [
            (&["abc"][..], "expected TASK_ID and CONTAINER, got 1"),
            (&["abc", "web", "x"], "got 3"),
            (&["--tail", "ten", "abc", "web"], "--tail \"ten\""),
            (&["abc", "web", "--tail"], "--tail needs"),
            (&["-x", "abc", "web"], "unknown option \"-x\""),
            (&["../etc", "web"], "TASK_ID \"../etc\""),
            (&["abc", "a/b"], "CONTAINER \"a/b\""),
        ] {
            let e = parse(args).unwrap_err().to_string();
            assert!(
                e.contains(says) && e.contains("usage: ecs-agent logs"),
                "{args:?}: {e}"
            );
        }
    }

    #[test]
    fn a_missing_log_names_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let e = run(dir.path(), &parse(&["abc", "web"]).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("abc/web-json.log"), "{e}");
    }
}
