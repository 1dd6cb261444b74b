//! The container logger containerd's runc shim runs for every container
//! (`binary://` stdio URI): its installation next to the agent's data, the
//! command line the agent hands it, and reading what it wrote
//! (`ecs-agent logs`).
//!
//! Why a logger process: with a `file://` URI the shim copies stdout and
//! stderr into one file through one shared descriptor (containerd #3118) and
//! the end of stderr could be lost. With `binary://` the shim instead starts
//! a program of ours with the container's stdout and stderr as pipes and
//! leaves the copying to it. That program is `src/bin/ecs-agent-logger`, a
//! small std-only binary (its header says what it costs and why); the
//! protocol with the shim is described there.

mod cli;
mod install;
pub mod read;

pub use cli::{
    json_log_path, parse_args as parse_logs_args, run as run_logs, LogsArgs, LogsError,
    COMMAND as LOGS_COMMAND,
};
pub use install::{install, install_init, InstallError, INIT_FILE, LOGGER_FILE};

/// The logger's modes, one URI query key each (the shim passes the key and
/// its value as the logger's two arguments); the logger's `args.rs` defines
/// the same names (a test below checks).
/// Output as it came, stdout and stderr interleaved: `--containerd-logger <file>`.
pub const PLAIN_FLAG: &str = "--containerd-logger";
/// Docker's json-file format: `--json-file <max-size>:<max-file>:<file>`.
pub const JSON_FILE_FLAG: &str = "--json-file";
/// json-file as the awslogs blocking-mode spool: `--spool <file-size>:<file>`,
/// rotated at file-size only once the shipper removed the previous file.
pub const SPOOL_FLAG: &str = "--spool";
/// The awslogs non-blocking-mode spool: `--spool-drop <file-size>:<file>`,
/// as `--spool` but dropping new lines while the file is full and the
/// shipper still has the previous one, counted in `<file>.dropped`.
pub const DROPPING_SPOOL_FLAG: &str = "--spool-drop";

/// Mode of a container log file made by us (the agent creates it before the
/// task, the logger if it is missing): output may hold secrets.
pub const LOG_MODE: u32 = 0o640;

#[cfg(test)]
mod tests {
    #[test]
    fn the_logger_takes_the_flags_the_agent_sends() {
        let args = include_str!("../bin/ecs-agent-logger/args.rs");
        for (name, value) in [
            ("PLAIN_FLAG", super::PLAIN_FLAG),
            ("JSON_FILE_FLAG", super::JSON_FILE_FLAG),
            ("SPOOL_FLAG", super::SPOOL_FLAG),
            ("DROPPING_SPOOL_FLAG", super::DROPPING_SPOOL_FLAG),
        ] {
            let line = format!("pub const {name}: &str = \"{value}\";");
            assert!(args.contains(&line), "{line} not in the logger's args.rs");
        }
        let logfile = include_str!("../bin/ecs-agent-logger/logfile.rs");
        assert!(logfile.contains(&format!("const LOG_MODE: u32 = 0o{:o};", super::LOG_MODE)));
        let drops = include_str!("../bin/ecs-agent-logger/drops.rs");
        assert!(drops.contains(&format!(
            "pub const SUFFIX: &str = \"{}\";",
            crate::awslogs::DROPS_SUFFIX
        )));
    }
}
