//! ecs-agent: registers this host with ECS and runs the tasks it is sent on
//! containerd. Configured like amazon-ecs-agent (ECS_* variables and
//! /etc/ecs/ecs.config). This binary reads the environment and the config
//! file; `ecs::agent` builds and runs everything else.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{bail, Context};
use aws_credential_types::Credentials;

use ecs::config::{self, Config, LogFormat};

fn main() -> ExitCode {
    // `ecs-agent logs ...` reads a container's log; any other start is the agent.
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == ecs::logger::LOGS_COMMAND) {
        return logs(args);
    }
    // Before the runtime starts its threads (see ecs::heap).
    ecs::heap::limit_arenas();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2).enable_all();
    // Few blocking threads, and not kept idle (see ecs::blocking).
    let runtime = match ecs::blocking::limit_pool(&mut builder).build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ecs-agent: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ecs-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `ecs-agent logs ...`: a container's output, read from the json-file log
/// under the configured ECS_DATADIR. No async runtime, no agent.
fn logs(args: impl Iterator<Item = std::ffi::OsString>) -> ExitCode {
    let result = ecs::logger::parse_logs_args(args)
        .map_err(anyhow::Error::from)
        .and_then(|args| {
            let (cfg, _) = load_config()?;
            ecs::logger::run_logs(&cfg.data_dir, &args)?;
            Ok(())
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ecs-agent logs: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The configuration, and AWS keys found in the config file.
fn load_config() -> anyhow::Result<(Config, Option<Credentials>)> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let path = config::config_file_path(&env).to_string();
    let file = match std::fs::read_to_string(&path) {
        Ok(text) => config::parse_env_file(&text).with_context(|| format!("in {path}"))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => bail!("cannot read the config file {path}: {e}"),
    };
    let credentials = file_credentials(&env, &file);
    Ok((Config::from_sources(&env, &file)?, credentials))
}

/// The Go agent gets AWS_* keys from ecs.config through `docker --env-file`;
/// the SDK reads only the process environment, so keys set in the file (and
/// not in the environment) are handed to it explicitly.
fn file_credentials(
    env: &BTreeMap<String, String>,
    file: &[(String, String)],
) -> Option<Credentials> {
    if env.get("AWS_ACCESS_KEY_ID").is_some_and(|v| !v.is_empty()) {
        return None;
    }
    let get = |k: &str| {
        file.iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let (id, secret) = (get("AWS_ACCESS_KEY_ID")?, get("AWS_SECRET_ACCESS_KEY")?);
    Some(Credentials::new(
        id,
        secret,
        get("AWS_SESSION_TOKEN"),
        None,
        "ecs.config",
    ))
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ECS_AGENT_LOG_FILTER")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cfg.log_level.as_filter()));
    // Colour codes only for a person at a terminal: a log file, journald or
    // a container runtime's log driver gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match cfg.log_output_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Logfmt => builder.init(),
    }
}

async fn run() -> anyhow::Result<()> {
    let (cfg, file_credentials) = load_config()?;
    init_logging(&cfg);
    ecs::agent::run(cfg, file_credentials).await?;
    Ok(())
}
