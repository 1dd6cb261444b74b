//! ecs-agent: registers this host with ECS and runs the tasks it is sent on
//! containerd. Configured like amazon-ecs-agent (ECS_* variables and
//! /etc/ecs/ecs.config).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use aws_credential_types::Credentials;

use ecs::backoff::Backoff;
use ecs::config::{self, Config, LogFormat};
use ecs::control::registration::{registration, RegistrationInput};
use ecs::control::sink::{NoSeqCheckpoint, SeqCheckpoint};
use ecs::control::tags::ResourceTags;
use ecs::control::task_protection::TaskProtection;
use ecs::control::{AcsSession, EcsClient, TcsSession};
use ecs::credentials::CredentialsStore;
use ecs::engine::{Checkpoint, Engine, EngineServices, EngineSettings, NoCheckpoint, ReportQueue};
use ecs::image::Platform;
use ecs::observe::{AgentView, TaskSource};
use ecs::runtime::containerd::pull::PullOptions;
use ecs::runtime::containerd::{Conn, ContainerdRuntime};
use ecs::state::{InstanceRecord, Saved, StateStore};
use ecs::task::from_acs::Policy;

/// What the Go agent reports as the Docker version; ACS wants something there.
const RUNTIME_VERSION: &str = "containerd";

fn main() -> ExitCode {
    // containerd's shim runs this same binary as each container's log writer
    // (`binary://` stdio); that must happen before tokio or any setup.
    if let Some(code) = ecs::logger::run_if_invoked(std::env::args_os()) {
        return code;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cfg.log_output_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Logfmt => builder.init(),
    }
}

async fn run() -> anyhow::Result<()> {
    let (cfg, file_credentials) = load_config()?;
    init_logging(&cfg);
    for name in &cfg.unknown_variables {
        tracing::warn!(variable = %name, "unknown ECS_* setting ignored");
    }
    for name in &cfg.ignored_variables {
        tracing::info!(variable = %name, "setting has no effect on this agent");
    }
    for w in &cfg.warnings {
        tracing::warn!(warning = %w, "configuration");
    }
    tracing::info!(version = env!("CARGO_PKG_VERSION"), config = ?cfg, "ecs-agent starting");

    let conn = Conn::lazy(&cfg.containerd_address, &cfg.containerd_namespace)
        .context("CONTAINERD_ADDRESS / CONTAINERD_NAMESPACE")?;
    let pull = PullOptions {
        snapshotter: "overlayfs".into(),
        insecure_registries: cfg.insecure_registries.clone(),
        platform: Platform::host(),
    };
    let logger = ecs::logger::install(&cfg.data_dir).context("ECS_DATADIR")?;
    let runtime = Arc::new(ContainerdRuntime::new(conn, pull).with_logger(logger));

    let (store, saved) = open_state(&cfg)?;
    let endpoint = cfg.backend_host.clone().unwrap_or_default();
    if let Some(store) = &store {
        store.check_owner(saved.instance.as_ref(), &cfg.cluster, &endpoint)?;
    }

    let ecs = Arc::new(
        EcsClient::new(
            &cfg.region,
            cfg.backend_host.as_deref(),
            &cfg.cluster,
            file_credentials,
        )
        .await,
    );
    let net = networking::start(&cfg).await?;
    let net_ok = net.manager.is_some();
    let host = ecs::host::facts();
    let input = RegistrationInput {
        reserved_memory_mib: u64::from(cfg.reserved_memory_mib),
        reserved_ports: cfg.reserved_ports.clone(),
        reserved_ports_udp: cfg.reserved_ports_udp.clone(),
        disable_privileged: cfg.disable_privileged,
        custom_attributes: cfg.instance_attributes.clone(),
        tags: cfg.container_instance_tags.clone(),
        existing_arn: saved
            .instance
            .as_ref()
            .map(|i| i.container_instance_arn.clone()),
        runtime_version: RUNTIME_VERSION.into(),
        // Advertised only where they work: roles need 169.254.170.2 routed
        // here, ENIs need task networking.
        task_iam_role: cfg.networking.task_iam_role && net_ok,
        task_iam_role_network_host: cfg.networking.task_iam_role_network_host && net.host_prepared,
        task_eni: cfg.networking.task_eni && net_ok,
    };
    let reg = registration(
        &host,
        &input,
        option_env!("ECS_AGENT_GIT_HASH").unwrap_or("unknown"),
    );
    let (instance_arn, cluster_arn) = register(&ecs, &cfg, &reg).await?;
    tracing::info!(container_instance = %instance_arn, cluster = %cluster_arn, cpu = reg.cpu, memory_mib = reg.memory_mib, "registered");
    if let Some(store) = &store {
        store.save_instance(&InstanceRecord {
            cluster: cfg.cluster.clone(),
            endpoint,
            container_instance_arn: instance_arn.clone(),
            cluster_arn: cluster_arn.clone(),
        })?;
    }

    let settings = EngineSettings {
        cluster_arn: cluster_arn.clone(),
        data_dir: cfg.data_dir.clone(),
        default_stop_timeout: cfg.container_stop_timeout,
        default_start_timeout: cfg.container_start_timeout,
        cleanup_wait: cfg.engine_task_cleanup_wait,
        cleanup_jitter: cfg.engine_task_cleanup_jitter,
        pull_behavior: cfg.image_pull_behavior,
        registry_auth: cfg.engine_auth.clone(),
        task_iam_role: input.task_iam_role,
        task_iam_role_network_host: input.task_iam_role_network_host,
        container_metadata: cfg.container_metadata.enabled,
        host_data_dir: cfg.container_metadata.host_data_dir.clone(),
    };
    let checkpoint: Arc<dyn Checkpoint> = match &store {
        Some(store) => store.clone(),
        None => Arc::new(NoCheckpoint),
    };
    let seq_checkpoint: Arc<dyn SeqCheckpoint> = match &store {
        Some(store) => store.clone(),
        None => Arc::new(NoSeqCheckpoint),
    };
    let reports = ReportQueue::start(ecs.clone(), checkpoint.clone());
    // What the last process decided but the control plane has not taken yet goes first.
    let Saved {
        tasks,
        outbox,
        seq_num,
        images,
        ..
    } = saved;
    for (id, change) in outbox {
        reports.push(Some(id), change);
    }
    let services = EngineServices {
        network: net
            .manager
            .clone()
            .map(|m| m as Arc<dyn ecs::network::TaskNetwork>),
        credentials: CredentialsStore::new(),
    };
    let engine = Engine::new(runtime.clone(), settings, reports, checkpoint, services);
    let router = engine.clone();
    tokio::spawn(async move { router.route_exits().await });
    engine.release_orphan_networks(&tasks).await;
    engine.restore(tasks);
    engine.restore_images(images);
    if cfg.image_cleanup.disabled {
        tracing::info!("image cleanup is off (ECS_DISABLE_IMAGE_CLEANUP)");
    } else {
        tokio::spawn(
            engine
                .clone()
                .clean_images_forever(cfg.image_cleanup.clone()),
        );
    }

    let (connected, acs_up) = tokio::sync::watch::channel(false);
    // The endpoints' collector fills this store; TCS reads it too.
    let stats = endpoints::serve(
        &cfg,
        &engine,
        runtime,
        AgentView {
            cluster: cfg.cluster.clone(),
            container_instance_arn: Some(instance_arn.clone()),
            version: format!("ecs-agent v{}", env!("CARGO_PKG_VERSION")),
            container_instance_tags: cfg.container_instance_tags.clone().into_iter().collect(),
            vpc_id: String::new(),
        },
        acs_up,
        Arc::new(TaskProtection::new(&ecs, &cluster_arn)),
        Arc::new(ResourceTags::new(&ecs)),
    )
    .await?;
    let engine_metrics = engine.metrics().clone();
    if cfg.disable_metrics {
        tracing::info!("task metrics are off (ECS_DISABLE_METRICS); no TCS session");
    } else {
        let tasks: Arc<dyn TaskSource> = Arc::new(engine.published().clone());
        tokio::spawn(
            TcsSession {
                ecs: ecs.clone(),
                cluster_arn: cluster_arn.clone(),
                instance_arn: instance_arn.clone(),
                agent_hash: option_env!("ECS_AGENT_GIT_HASH")
                    .unwrap_or("unknown")
                    .into(),
                stats,
                tasks,
                sample_interval: cfg.endpoints.stats_poll_interval,
                publish_interval: cfg
                    .tcs_publish_interval
                    .unwrap_or(ecs::control::tcs::PUBLISH_INTERVAL),
            }
            .run(),
        );
    }
    let session = AcsSession {
        ecs: ecs.clone(),
        sink: Arc::new(engine),
        policy: Policy {
            disable_privileged: cfg.disable_privileged,
            allow_eni: input.task_eni,
        },
        cluster_arn,
        instance_arn,
        agent_hash: option_env!("ECS_AGENT_GIT_HASH")
            .unwrap_or("unknown")
            .into(),
        runtime_version: RUNTIME_VERSION.into(),
        connected,
        seq_checkpoint,
        initial_seq_num: seq_num.unwrap_or(1),
        metrics: engine_metrics,
    };
    let mut acs = tokio::spawn(session.run());

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: exiting; containers keep running"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: exiting; containers keep running"),
        reason = &mut acs => {
            let reason = reason.unwrap_or_else(|e| format!("ACS session ended: {e}"));
            bail!("the control plane no longer accepts this instance: {reason}");
        }
    }
    Ok(())
}

mod networking {
    //! Task networking: the manager of task namespaces and, unless told
    //! otherwise, the host preparation ecs-init does for the Go agent.

    use std::sync::Arc;

    use anyhow::Context;
    use ecs::config::Config;
    use ecs::network::{default_dynamic_port_range, HostPrep, NetworkConfig, NetworkManager};

    /// What this host can do for task networks.
    pub struct Networking {
        /// None: iptables or the sysctls are unusable here (an agent in a
        /// container without them); only host-mode tasks run.
        pub manager: Option<Arc<NetworkManager>>,
        /// 169.254.170.2 reaches the agent from the host's namespace.
        pub host_prepared: bool,
    }

    pub async fn start(cfg: &Config) -> anyhow::Result<Networking> {
        let n = &cfg.networking;
        if let Err(e) = NetworkManager::probe().await {
            tracing::warn!(error = %e, "task networking is unavailable on this host: only host-mode \
                tasks will run, and task roles, ENIs and 169.254.170.2 are not offered");
            return Ok(Networking {
                manager: None,
                host_prepared: false,
            });
        }
        let net_cfg = NetworkConfig {
            bridge_name: n.task_bridge.clone(),
            bridge_subnet: n.task_subnet,
            dynamic_port_range: n
                .dynamic_host_port_range
                .unwrap_or_else(default_dynamic_port_range),
            reserved_ports_tcp: cfg.reserved_ports.clone(),
            reserved_ports_udp: cfg.reserved_ports_udp.clone(),
            credentials_port: cfg.endpoints.credentials_port,
            ..NetworkConfig::with_defaults(cfg.data_dir.join("network"))
        };
        let manager = NetworkManager::new(net_cfg)
            .await
            .context("task networking state in ECS_DATADIR/network")?;
        let mut host_prepared = false;
        if n.host_setup {
            let prep = HostPrep {
                credentials_port: cfg.endpoints.credentials_port,
                introspection_port: cfg.endpoints.introspection_port,
                skip_localhost_traffic_filter: n.skip_localhost_traffic_filter,
                allow_offhost_introspection: n.allow_offhost_introspection,
                offhost_introspection_interface: n.offhost_introspection_interface.clone(),
            };
            manager.prepare_host(&prep).await.context(
                "preparing the host for task networking (set ECS_HOST_NETWORK_SETUP=false to leave \
                 host-wide iptables rules to someone else)",
            )?;
            host_prepared = true;
        } else {
            tracing::info!("host preparation is off (ECS_HOST_NETWORK_SETUP=false)");
        }
        Ok(Networking {
            manager: Some(Arc::new(manager)),
            host_prepared,
        })
    }
}

mod endpoints {
    //! The local endpoints: task metadata for containers, introspection and
    //! `/metrics` for operators, fed by the engine's published tasks.

    use std::net::{Ipv4Addr, SocketAddr};
    use std::sync::Arc;

    use anyhow::Context;
    use ecs::config::Config;
    use ecs::endpoints::agent_api::{agent_api_router, TaskProtectionApi};
    use ecs::endpoints::tags::TagsApi;
    use ecs::endpoints::{
        introspection_router, metadata_router_with_tags, RateLimiter, StatsCollector,
    };
    use ecs::engine::Engine;
    use ecs::observe::{AgentView, StatsStore, TaskSource};
    use ecs::runtime::ContainerRuntime;
    use tokio::sync::watch;

    /// Binds both listeners (a port in use fails the start, naming its
    /// variable) and serves them in the background. Returns the container
    /// stats store its collector keeps fresh.
    pub async fn serve<R: ContainerRuntime>(
        cfg: &Config,
        engine: &Engine<R>,
        runtime: Arc<R>,
        agent: AgentView,
        mut acs_up: watch::Receiver<bool>,
        protection: Arc<dyn TaskProtectionApi>,
        tags: Arc<dyn TagsApi>,
    ) -> anyhow::Result<Arc<StatsStore>> {
        let published = engine.published().clone();
        published.publish_agent(agent);
        let metrics = engine.metrics().clone();
        let source: Arc<dyn TaskSource> = Arc::new(published);
        let stats = Arc::new(StatsStore::new());
        StatsCollector::new(runtime, source.clone(), stats.clone())
            .with_metrics(metrics.clone())
            .spawn(cfg.endpoints.stats_poll_interval);
        let limit = cfg.endpoints.metadata_rps_limit;
        let limiter = RateLimiter::new(limit, Some(metrics.clone()));

        let metadata_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, cfg.endpoints.credentials_port));
        let metadata = tokio::net::TcpListener::bind(metadata_addr)
            .await
            .with_context(|| {
                format!("task metadata listener on {metadata_addr} (ECS_AGENT_CREDENTIALS_PORT)")
            })?;
        let intro_addr =
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, cfg.endpoints.introspection_port));
        let intro = tokio::net::TcpListener::bind(intro_addr)
            .await
            .with_context(|| {
                format!("introspection listener on {intro_addr} (ECS_AGENT_INTROSPECTION_PORT)")
            })?;
        // Credentials and task metadata share the listener 169.254.170.2:80
        // leads to, as in the Go agent.
        // The agent API shares the metadata endpoint's request limit.
        let agent_api = limiter.apply(agent_api_router(
            source.clone(),
            engine.credentials().clone(),
            protection,
        ));
        let app = metadata_router_with_tags(source.clone(), stats.clone(), limiter, Some(tags))
            .merge(agent_api)
            .merge(ecs::credentials::router(
                engine.credentials().clone(),
                limit,
            ));
        tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(e) = axum::serve(metadata, service).await {
                tracing::error!(error = %e, "task metadata listener failed");
            }
        });
        let app = introspection_router(source, metrics.clone());
        tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(e) = axum::serve(intro, service).await {
                tracing::error!(error = %e, "introspection listener failed");
            }
        });
        tracing::info!(metadata = %metadata_addr, introspection = %intro_addr, "local endpoints listening");

        tokio::spawn(async move {
            while acs_up.changed().await.is_ok() {
                let up = *acs_up.borrow_and_update();
                metrics.set_acs_connected(up);
                if up {
                    metrics.record_heartbeat();
                }
            }
        });
        Ok(stats)
    }
}

/// The checkpoint (ECS_CHECKPOINT, on by default with a data dir) and what it holds.
fn open_state(cfg: &Config) -> anyhow::Result<(Option<Arc<StateStore>>, Saved)> {
    if !cfg.checkpoint {
        tracing::warn!("ECS_CHECKPOINT=false: nothing survives a restart of the agent");
        return Ok((None, Saved::default()));
    }
    let store = StateStore::open(&cfg.data_dir).context("ECS_DATADIR")?;
    let saved = store.load()?;
    tracing::info!(path = %store.path().display(), tasks = saved.tasks.len(), unsent_changes = saved.outbox.len(), "state loaded");
    Ok((Some(Arc::new(store)), saved))
}

/// RegisterContainerInstance, retried while the control plane is unreachable.
/// As the Go agent does, a missing `default` cluster is created.
async fn register(
    ecs: &EcsClient,
    cfg: &Config,
    reg: &ecs::control::registration::Registration,
) -> anyhow::Result<(String, String)> {
    let mut backoff = Backoff::doubling(Duration::from_millis(500), Duration::from_secs(30));
    loop {
        match ecs.register(reg).await {
            Ok(ids) => return Ok(ids),
            Err(e) if e.code() == Some("ClusterNotFoundException") && cfg.cluster == "default" => {
                tracing::info!("cluster \"default\" does not exist; creating it");
                ecs.create_cluster()
                    .await
                    .context("creating the default cluster")?;
            }
            Err(e) if e.is_retryable() => {
                let wait = backoff.next(0.0);
                tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "cannot register yet; retrying");
                tokio::time::sleep(wait).await;
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("registering with cluster {:?} (ECS_CLUSTER)", cfg.cluster)
                });
            }
        }
    }
}
