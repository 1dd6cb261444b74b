//! ecs-local: a local Amazon ECS control plane.
//!
//! ecs-local --listen ADDR:PORT --data-dir DIR [--region R] [--auth AK:SK]...
//!           [--heartbeat-secs N] [--resend-secs N] [--manifest-secs N]
//!           [--credentials-ttl-secs N] [--eni-attach-timeout-secs N]
//!           [--ecr-registry HOST=REGISTRY_ID[,ENDPOINT]]...

use anyhow::{anyhow, bail, Context, Result};
use ecs::local::config::{
    Config, DEFAULT_CREDENTIALS_TTL, DEFAULT_ENI_ATTACH_TIMEOUT, MIN_CREDENTIALS_TTL,
};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

const USAGE: &str = "usage: ecs-local --listen ADDR:PORT --data-dir DIR [--region REGION] [--auth ACCESS_KEY:SECRET]... [--heartbeat-secs N] [--resend-secs N] [--manifest-secs N] [--credentials-ttl-secs N] [--eni-attach-timeout-secs N] [--ecr-registry HOST=REGISTRY_ID[,ENDPOINT]]...";

struct Args {
    cfg: Config,
    data_dir: PathBuf,
}

fn secs(flag: &str, v: &str) -> Result<Duration> {
    let n: f64 = v
        .parse()
        .ok()
        .filter(|n: &f64| *n > 0.0 && n.is_finite())
        .ok_or_else(|| anyhow!("{flag}: expected a positive number of seconds, got {v:?}"))?;
    Ok(Duration::from_secs_f64(n))
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args> {
    let mut listen: Option<SocketAddr> = None;
    let mut data_dir: Option<PathBuf> = None;
    let mut region = "us-east-1".to_string();
    let mut auth = Vec::new();
    let mut heartbeat = Duration::from_secs(20);
    let mut resend = Duration::from_secs(15);
    let mut manifest = Duration::from_secs(60);
    let mut credentials_ttl = DEFAULT_CREDENTIALS_TTL;
    let mut eni_attach_timeout = DEFAULT_ENI_ATTACH_TIMEOUT;
    let mut ecr_registries: Vec<ecs::local::ecr::EcrMapping> = Vec::new();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| anyhow!("{name}: missing value\n{USAGE}"))
        };
        match name.as_str() {
            "--listen" => {
                let v = value()?;
                listen = Some(v.parse().map_err(|e| {
                    anyhow!("--listen: {v:?} is not ADDR:PORT (e.g. 127.0.0.1:8080): {e}")
                })?);
            }
            "--data-dir" => {
                let v = value()?;
                if v.is_empty() {
                    bail!("--data-dir: must not be empty");
                }
                data_dir = Some(PathBuf::from(v));
            }
            "--region" => {
                let v = value()?;
                if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    bail!("--region: {v:?} is not a region name like us-east-1");
                }
                region = v;
            }
            "--auth" => {
                let v = value()?;
                let (ak, sk) = v
                    .split_once(':')
                    .filter(|(a, s)| !a.is_empty() && !s.is_empty())
                    .ok_or_else(|| anyhow!("--auth: expected ACCESS_KEY:SECRET"))?;
                if auth.iter().any(|(a, _): &(String, String)| a == ak) {
                    bail!("--auth: access key {ak} given twice");
                }
                auth.push((ak.to_string(), sk.to_string()));
            }
            "--heartbeat-secs" => heartbeat = secs("--heartbeat-secs", &value()?)?,
            "--resend-secs" => resend = secs("--resend-secs", &value()?)?,
            "--manifest-secs" => manifest = secs("--manifest-secs", &value()?)?,
            "--credentials-ttl-secs" => {
                let v = value()?;
                let ttl = secs("--credentials-ttl-secs", &v)?;
                if ttl < MIN_CREDENTIALS_TTL {
                    bail!(
                        "--credentials-ttl-secs: {v:?} is too short; credentials are refreshed a second before they expire, so at least {} seconds",
                        MIN_CREDENTIALS_TTL.as_secs()
                    );
                }
                credentials_ttl = ttl;
            }
            "--eni-attach-timeout-secs" => {
                eni_attach_timeout = secs("--eni-attach-timeout-secs", &value()?)?
            }
            "--ecr-registry" => {
                let m = ecs::local::ecr::parse_mapping(&value()?)
                    .map_err(|e| anyhow!("--ecr-registry: {e}"))?;
                if ecr_registries.iter().any(|e| e.host == m.host) {
                    bail!("--ecr-registry: {} given twice", m.host);
                }
                ecr_registries.push(m);
            }
            other => bail!("{other}: unknown flag\n{USAGE}"),
        }
    }
    let listen = listen.ok_or_else(|| anyhow!("--listen: required\n{USAGE}"))?;
    let data_dir = data_dir.ok_or_else(|| anyhow!("--data-dir: required\n{USAGE}"))?;
    Ok(Args {
        cfg: Config {
            listen,
            region,
            auth,
            heartbeat,
            resend,
            manifest,
            credentials_ttl,
            eni_attach_timeout,
            ecr_registries: std::sync::Arc::new(ecr_registries),
        },
        data_dir,
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

async fn run() -> Result<()> {
    let args = parse_args(std::env::args().skip(1))?;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    ecs::local::run(args.cfg, args.data_dir, shutdown_signal())
        .await
        .context("ecs-local")
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("ecs-local: {e:#}");
        std::process::exit(1);
    }
}
