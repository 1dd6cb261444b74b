//! Builds the agent from a [`Config`] and runs it: the one module that knows
//! every other. It passes the config's own types through; the binary only
//! reads the environment and the config file and calls [`run`].

mod checkpoint;
mod endpoints;
mod error;
pub mod host;
pub mod imds;
mod networking;
mod register;
mod reporter;
mod settle;
mod task_cgroups;

use std::sync::Arc;

use aws_credential_types::Credentials;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::control::eni_watcher::EniWatcher;
use crate::control::tags::ResourceTags;
use crate::control::task_protection::TaskProtection;
use crate::control::tcs::PUBLISH_INTERVAL;
use crate::control::{AcsSession, EcsClient, TcsSession};
use crate::credentials::CredentialsStore;
use crate::engine::{Engine, EngineServices, EngineSettings, ReportQueue};
use crate::image::Platform;
use crate::network::TaskNetwork;
use crate::observe::{AgentView, TaskSource};
use crate::runtime::containerd::pull::{PullOptions, PullTimeouts};
use crate::runtime::containerd::{probe, Conn, ContainerdRuntime};
use crate::state::{InstanceRecord, Saved};
use crate::task::from_acs::Policy;

pub use error::AgentError;
use register::{AGENT_HASH, RUNTIME_VERSION};

/// How long start-up waits for containerd to listen (both started at boot).
const CONTAINERD_START_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A started agent: tasks run, endpoints listen, the ACS session is open.
pub struct Agent {
    /// Ends only when the control plane declares the instance inactive.
    acs: JoinHandle<String>,
}

/// Builds and runs the agent until SIGTERM or SIGINT (Ok: containers keep
/// running) or until the control plane no longer accepts this instance.
/// `aws_credentials`: AWS keys from the config file, if any.
pub async fn run(cfg: Config, aws_credentials: Option<Credentials>) -> Result<(), AgentError> {
    log_config(&cfg);
    build(&cfg, aws_credentials).await?.wait().await
}

fn log_config(cfg: &Config) {
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
}

/// Starts every part of the agent in order: runtime, checkpoint,
/// registration, engine (with the last process's tasks), endpoints, TCS and
/// ACS.
pub async fn build(
    cfg: &Config,
    aws_credentials: Option<Credentials>,
) -> Result<Agent, AgentError> {
    let conn = Conn::lazy(&cfg.containerd_address, &cfg.containerd_namespace)
        .map_err(AgentError::Containerd)?;
    let mut pull = PullOptions {
        snapshotter: "overlayfs".into(),
        insecure_registries: cfg.insecure_registries.clone(),
        platform: Platform::host(),
        timeouts: PullTimeouts {
            whole: cfg.image_pull_timeout,
            inactivity: cfg.image_pull_inactivity_timeout,
            ..PullTimeouts::default()
        },
        transfer: false,
    };
    let containerd = probe::probe(&conn, &pull.snapshotter, CONTAINERD_START_WAIT)
        .await
        .map_err(AgentError::ContainerdProbe)?;
    tracing::info!(version = %containerd.version, revision = %containerd.revision, socket = %cfg.containerd_address.display(), namespace = %cfg.containerd_namespace, pulls_through_transfer = containerd.transfer, "containerd");
    pull.transfer = containerd.transfer;
    // Owner-only before anything is written there (with or without a
    // checkpoint: container logs and metadata files live there too).
    crate::state::secure_data_dir(&cfg.data_dir).map_err(AgentError::OpenState)?;
    if let Some(path) = &cfg.image_cleanup.filesystem {
        // Free-space cleanup reads it every minute: a wrong path is a
        // setting to fix now, not a warning a minute after start.
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(AgentError::ImageFilesystem {
                    path: path.clone(),
                    error: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a directory"),
                })
            }
            Err(error) => {
                return Err(AgentError::ImageFilesystem {
                    path: path.clone(),
                    error,
                })
            }
        }
    }
    let logger = crate::logger::install(&cfg.data_dir).map_err(AgentError::Logger)?;
    let init = crate::logger::install_init(&cfg.data_dir).map_err(AgentError::Logger)?;
    let runtime = Arc::new(
        ContainerdRuntime::new(conn, pull)
            .with_logger(logger)
            .with_init(init)
            .with_exec_dir(cfg.data_dir.join("exec"))
            .with_cgroup_root(&cfg.task_limits.cgroup_path),
    );

    let opened = checkpoint::open(cfg)?;
    let endpoint = cfg.backend_host.clone().unwrap_or_default();
    if let Some(store) = &opened.store {
        store.check_owner(opened.saved.instance.as_ref(), &cfg.cluster, &endpoint)?;
    }

    // Before anything is called: the region may come from the identity document.
    let ec2 = imds::read(cfg).await;
    let region = cfg
        .resolve_region(ec2.as_ref().and_then(|e| e.identity.region.as_deref()))
        .map_err(AgentError::Config)?;
    if cfg.region.is_none() {
        let from_document =
            ec2.as_ref().and_then(|e| e.identity.region.as_deref()) == Some(&region);
        let source = if from_document {
            "the EC2 instance identity document"
        } else {
            "the default with ECS_BACKEND_HOST"
        };
        tracing::info!(%region, source, "no AWS_DEFAULT_REGION set; region taken from elsewhere");
    }
    let ecs = Arc::new(
        EcsClient::new(
            &region,
            cfg.backend_host.as_deref(),
            &cfg.cluster,
            aws_credentials,
        )
        .await,
    );
    let net = networking::start(cfg).await?;
    let cgroups = task_cgroups::start(cfg)?;
    let mut input = register::input(cfg, &net, &opened.saved, ec2.as_ref());
    input.task_cpu_mem_limit = cgroups.is_some();
    let missing =
        crate::control::registration::unimplemented_logging_drivers(&input.logging_drivers);
    if !missing.is_empty() {
        if cfg.logging_drivers_set {
            tracing::warn!(drivers = ?missing, "ECS_AVAILABLE_LOGGING_DRIVERS lists logging drivers this agent does not implement; they are not advertised, so ECS places no task that needs them here");
        } else {
            tracing::info!(drivers = ?missing, "logging drivers of ecs-init's default list that this agent does not implement are not advertised");
        }
    }
    let (instance_arn, cluster_arn) = register::register(&ecs, cfg, &input).await?;
    if let Some(store) = &opened.store {
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
        start_call_timeout: cfg.container_start_timeout,
        cleanup_wait: cfg.engine_task_cleanup_wait,
        cleanup_jitter: cfg.engine_task_cleanup_jitter,
        pull_behavior: cfg.image_pull_behavior,
        registry_auth: cfg.engine_auth.clone(),
        task_iam_role: input.task_iam_role,
        task_iam_role_network_host: input.task_iam_role_network_host,
        container_metadata: cfg.container_metadata.enabled,
        host_data_dir: cfg.container_metadata.host_data_dir.clone(),
        shared_volume_match_full_config: cfg.shared_volume_match_full_config,
    };
    let reports = ReportQueue::start(ecs.clone(), opened.checkpoint.clone());
    // What the last process decided but the control plane has not taken yet goes first.
    let Saved {
        tasks,
        outbox,
        seq_num,
        images,
        eni_attachments,
        ..
    } = opened.saved;
    for (id, change) in outbox {
        reports.push(Some(id), change);
    }
    let credentials = CredentialsStore::new();
    let metrics = Arc::new(crate::observe::AgentMetrics::new());
    let shipping = crate::awslogs::Shipping::new(
        &region,
        ecs.credentials_provider(),
        cfg.networking.awslogs_execution_role_override,
        credentials.clone(),
        opened.log_offsets,
        metrics.clone(),
        cfg.data_dir.clone(),
    )
    .await;
    let services = EngineServices {
        network: net.manager.clone().map(|m| m as Arc<dyn TaskNetwork>),
        credentials,
        cgroups,
        aws: Some(crate::taskres::AwsResources::new(&region, ecs.credentials_provider()).await),
        log_shipper: Some(Arc::new(shipping)),
        metrics: Some(metrics),
    };
    let engine = Engine::new(
        runtime.clone(),
        settings,
        reports,
        opened.checkpoint,
        services,
    );
    let router = engine.clone();
    tokio::spawn(async move { router.route_exits().await });
    // Leftovers first: their processes go before the networks and cgroups
    // of unknown tasks are released.
    engine
        .remove_leftover_containers(&tasks, opened.store.is_some())
        .await;
    engine.release_orphan_networks(&tasks).await;
    engine.remove_stale_cgroups(&tasks);
    engine.restore(tasks);
    engine.restore_images(images);
    if cfg.image_cleanup.disabled {
        tracing::info!("image cleanup is off (ECS_DISABLE_IMAGE_CLEANUP)");
        if cfg.image_cleanup.free_space.is_some() {
            tracing::warn!(
                "ECS_IMAGE_CLEANUP_FREE_SPACE_THRESHOLD has no effect: ECS_DISABLE_IMAGE_CLEANUP is true"
            );
        }
    } else {
        tokio::spawn(
            engine
                .clone()
                .clean_images_forever(cfg.image_cleanup.clone()),
        );
    }

    let (connected, acs_up) = tokio::sync::watch::channel(false);
    // Start-up ends with the first ACS connection: what it alone touched
    // (code, and heap it freed) goes back to the system.
    let mut first_connection = acs_up.clone();
    tokio::spawn(async move {
        if first_connection.wait_for(|up| *up).await.is_ok() {
            settle::give_back("start-up").await;
        }
    });
    // And every burst of task changes, once it is over.
    tokio::spawn(settle::after_bursts(engine.metrics().clone()));
    // The endpoints' collector fills this store; TCS reads it too.
    let stats = endpoints::serve(
        cfg,
        &engine,
        runtime,
        AgentView {
            cluster: cfg.cluster.clone(),
            container_instance_arn: Some(instance_arn.clone()),
            version: format!("ecs-agent v{}", env!("CARGO_PKG_VERSION")),
            containerd_version: containerd.version.clone(),
            pulls_through_transfer: containerd.transfer,
            container_instance_tags: cfg.container_instance_tags.clone().into_iter().collect(),
            // As the Go agent hands its task metadata server the VPC it read.
            vpc_id: ec2
                .as_ref()
                .and_then(|e| e.network.as_ref())
                .map(|n| n.vpc_id.clone())
                .unwrap_or_default(),
        },
        acs_up,
        Arc::new(TaskProtection::new(&ecs, &cluster_arn)),
        Arc::new(ResourceTags::new(&ecs)),
    )
    .await?;
    // As the Go agent: the telemetry session carries metrics and health,
    // and is left out only when both are off.
    if cfg.disable_metrics && cfg.disable_health_check {
        tracing::info!("task metrics and health checks are off (ECS_DISABLE_METRICS, ECS_DISABLE_DOCKER_HEALTH_CHECK); no TCS session");
    } else {
        if cfg.disable_metrics {
            tracing::info!("task metrics are off (ECS_DISABLE_METRICS); the TCS session carries container health only");
        }
        let tasks: Arc<dyn TaskSource> = Arc::new(engine.published().clone());
        tokio::spawn(
            TcsSession {
                ecs: ecs.clone(),
                cluster_arn: cluster_arn.clone(),
                instance_arn: instance_arn.clone(),
                agent_hash: AGENT_HASH.into(),
                stats,
                tasks,
                sample_interval: cfg.endpoints.stats_poll_interval,
                publish_interval: cfg.tcs_publish_interval.unwrap_or(PUBLISH_INTERVAL),
                publish_metrics: !cfg.disable_metrics,
                publish_health: !cfg.disable_health_check,
            }
            .run(),
        );
    }
    // Reports task ENIs ATTACHED as their MACs appear on the host.
    let eni_watcher = Arc::new(EniWatcher::with_checkpoint(opened.attachment_checkpoint));
    let wall_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    eni_watcher.restore(&eni_attachments, tokio::time::Instant::now(), wall_ms);
    tokio::spawn(eni_watcher.clone().run(ecs.clone()));
    let session = AcsSession {
        eni_watcher,
        ecs,
        metrics: engine.metrics().clone(),
        sink: Arc::new(engine),
        policy: Policy {
            disable_privileged: cfg.disable_privileged,
            allow_eni: input.task_eni,
            apparmor: false,
            disable_health_check: cfg.disable_health_check,
        },
        cluster_arn,
        instance_arn,
        agent_hash: AGENT_HASH.into(),
        runtime_version: RUNTIME_VERSION.into(),
        connected,
        seq_checkpoint: opened.seq_checkpoint,
        initial_seq_num: seq_num.unwrap_or(1),
    };
    Ok(Agent {
        acs: tokio::spawn(session.run()),
    })
}

impl Agent {
    /// Until SIGTERM or SIGINT (Ok: containers keep running), or until the
    /// control plane no longer accepts this instance.
    pub async fn wait(mut self) -> Result<(), AgentError> {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(AgentError::Signal)?;
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: exiting; containers keep running"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: exiting; containers keep running"),
            reason = &mut self.acs => {
                let reason = reason.unwrap_or_else(|e| format!("ACS session ended: {e}"));
                return Err(AgentError::Inactive(reason));
            }
        }
        Ok(())
    }
}
