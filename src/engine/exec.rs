//! Carrying out one action against the runtime. Each runs in its own tokio
//! task and reports its outcome to the task actor as a message.

mod links;
mod metadata;
pub mod metadata_file;
mod netfiles;
mod secret_log;
pub mod tokens;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::backoff::Backoff;
use crate::config::ImagePullBehavior;
use crate::network::NamespaceInfo;
use crate::observe::view::{AgentView, TaskSource, TaskView};
use crate::runtime::{ContainerRuntime, ContainerState, ErrorKind, RuntimeError};
use crate::task::container::{BindMount, NetworkAttachment, PulledImage};
use crate::task::def::{task_id, NetworkMode};
use crate::task::failure::{Failure, FailureKind};
use crate::task::image_ref::ImageRef;
use crate::task::log_driver::LogDriver;
use crate::task::netopts::NetOptions;
use crate::task::spec::{container_id, container_log, container_spec, set_env, SpecContext};
use crate::task::{Action, Event, Task};

use super::cgroups::CgroupRequest;
use super::image_check::Settled;
use super::inner::{ImageCheck, Inner, Msg};
use super::volumes::{VolumeRequest, VolumeSettings};
use super::{netsetup, nsholder, publish};
pub(crate) use secret_log::resume_secret_log_shipping;
use tokens::endpoint_env;

const SIGTERM: i32 = 15;
const SIGKILL: i32 = 9;

/// A container's secrets and environment files, fetched with the task's
/// execution role. The error is the task's stoppedReason: it names what
/// could not be fetched, never a value.
async fn aws_env<R>(
    inner: &Inner<R>,
    arn: &str,
    inputs: &crate::task::def::AwsInputs,
) -> Result<crate::taskres::ContainerEnv, String> {
    let Some(aws) = &inner.aws else {
        return Err("secrets and environment files are not available on this agent".into());
    };
    let creds = inner
        .credentials
        .task_credentials(arn, crate::credentials::RoleType::TaskExecution);
    aws.container_env(creds.as_ref(), inputs)
        .await
        .map_err(|e| e.to_string())
}

/// A container's registry login from Secrets Manager, with the task's
/// execution role; the error is the task's stoppedReason.
async fn registry_login<R>(
    inner: &Inner<R>,
    arn: &str,
    auth: &crate::task::resources::AsmRegistryAuth,
) -> Result<crate::config::RegistryCredentials, String> {
    let Some(aws) = &inner.aws else {
        return Err("repositoryCredentials are not available on this agent".into());
    };
    let creds = inner
        .credentials
        .task_credentials(arn, crate::credentials::RoleType::TaskExecution);
    aws.registry_credentials(creds.as_ref(), auth)
        .await
        .map_err(|e| e.to_string())
}

/// How long to keep retrying while containerd is unreachable before failing
/// the container: long enough to ride out a containerd restart.
const UNAVAILABLE_PATIENCE: Duration = Duration::from_secs(300);

pub(crate) fn execute<R: ContainerRuntime>(
    inner: &Arc<Inner<R>>,
    task: &Task,
    images: &[Option<PulledImage>],
    action: Action,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let inner = inner.clone();
    let tx = tx.clone();
    let arn = task.arn().to_string();
    match action {
        Action::Pull(i) => {
            let Some(def) = task.def().containers.get(i) else {
                return;
            };
            let image = def.image.clone();
            let registry_auth = def.aws.registry_auth.clone();
            let ecr_auth = def.aws.ecr_auth.clone();
            // The container's namespace is made while its image is pulled.
            inner.begin_network(task, i);
            // An image pulled before is taken at once, and the pull's answer
            // goes to the create begun from it (`image_check.rs`).
            let checked = match inner.settings.pull_behavior {
                ImagePullBehavior::Default | ImagePullBehavior::Always => {
                    inner.runtime.remembered_image(&image)
                }
                ImagePullBehavior::Once | ImagePullBehavior::PreferCached => None,
            }
            .map(|provisional| {
                let (answer, outcome) = tokio::sync::oneshot::channel();
                tracing::debug!(task = %arn, image = %image, digest = %provisional.digest, "creating from the image pulled before while the registry is asked");
                let check = ImageCheck {
                    provisional: provisional.clone(),
                    outcome,
                };
                inner.put_image_check(&arn, i, check);
                let _ = tx.send(Msg::PulledProvisionally(i, Box::new(provisional)));
                answer
            });
            let deliver = move |result: Result<PulledImage, Failure>| match checked {
                Some(answer) => {
                    let _ = answer.send(result);
                }
                None => {
                    let _ = tx.send(Msg::Pulled(i, result.map(Box::new)));
                }
            };
            tokio::spawn(async move {
                // repositoryCredentials: the login comes from Secrets Manager
                // first (Go: the asmauth task resource, before the pull).
                let mut login = PullLogin::Given(None);
                if let Some(auth) = &registry_auth {
                    match registry_login(&inner, &arn, auth).await {
                        Ok(c) => login = PullLogin::Given(Some(c)),
                        Err(reason) => {
                            inner.metrics.inc_error("resources");
                            tracing::warn!(task = %arn, image = %image, reason = %reason, "fetching the registry login failed");
                            let failure = Failure::new(FailureKind::Resource, reason);
                            return deliver(Err(failure));
                        }
                    }
                } else if let Some(auth) = ecr_auth {
                    login = PullLogin::Ecr(auth);
                }
                let metered = inner.metrics.pull_started();
                let result = pull(&inner, &arn, &image, login).await;
                if let Ok(pulled) = &result {
                    inner.record_image_use(&pulled.name);
                }
                match &result {
                    Ok(_) => metered.succeeded(),
                    Err(reason) => {
                        drop(metered);
                        inner.metrics.inc_error("pull");
                        tracing::warn!(task = %arn, image = %image, reason = %reason, "pull failed");
                    }
                }
                deliver(result);
            });
        }
        Action::Create(i) => {
            let (Some(def), Some(Some(image))) = (task.def().containers.get(i), images.get(i))
            else {
                let _ = tx.send(Msg::Event(Event::Created {
                    container: i,
                    result: Err(Failure::new(
                        FailureKind::CannotCreate,
                        "image was not pulled",
                    )),
                }));
                return;
            };
            let id = container_id(task_id(&arn), i, &def.name);
            let ctx = spec_context(&inner, task, i, &id);
            let mut spec = container_spec(task.def(), def, image, &ctx);
            let aws_inputs = def.aws.clone();
            // A log driver with secretOptions: resolved once they are fetched.
            let pending_log = match &def.log {
                LogDriver::Pending(p) => {
                    Some((p.clone(), ctx.log_path.clone(), task.def().clone()))
                }
                _ => None,
            };
            let keep: Vec<String> = def
                .environment
                .keys()
                .cloned()
                .chain(ctx.extra_env.iter().map(|(k, _)| k.clone()))
                .collect();
            let net_request =
                netsetup::request(task, i).map(|req| (inner.setup_cell(&req.key), req));
            let cgroup_request = CgroupRequest::new(&inner, task.def());
            let holder_request = nsholder::request(task.def(), i).map(|h| {
                let shm = nsholder::shm_size(task.def(), i).map(|size| {
                    let data_dir = inner.settings.data_dir.clone();
                    (data_dir, task_id(&arn).to_string(), size)
                });
                (h, shm)
            });
            let files = ContainerFiles::new(&inner, task, images, i, &id);
            let volume_request = VolumeRequest::new(
                VolumeSettings {
                    data_dir: inner.settings.data_dir.clone(),
                    host_data_dir: inner.settings.host_data_dir.clone(),
                    shared_match_full_config: inner.settings.shared_volume_match_full_config,
                },
                task.def(),
                i,
                // The image VOLUMEs of each container pulled so far (a
                // volumesFrom source is created, so pulled, before).
                &|k| {
                    images
                        .get(k)
                        .and_then(Option::as_ref)
                        .map(|img| img.config.volumes.clone())
                        .unwrap_or_default()
                },
            );
            inner.route(&id, &arn, i);
            let check = std::sync::Mutex::new(inner.take_image_check(&arn, i));
            tokio::spawn(async move {
                let take_check = || check.lock().unwrap_or_else(|p| p.into_inner()).take();
                // A step before the create failed: counted, logged, and the
                // container reported not created (once its pull has said
                // that the image it was begun from is the one to use).
                let refuse =
                    |metric: &'static str, what: &str, kind: FailureKind, reason: String| {
                        inner.metrics.inc_error(metric);
                        tracing::warn!(task = %arn, container = %id, reason = %reason, "{what}");
                        let created = Event::Created {
                            container: i,
                            result: Err(Failure::new(kind, reason)),
                        };
                        match take_check() {
                            Some(check) => {
                                let tx = tx.clone();
                                tokio::spawn(async move {
                                    let _ = match check.verdict().await.settle(i, false) {
                                        Settled::Stands(confirmed) => {
                                            tx.send(Msg::Events(vec![confirmed, created]))
                                        }
                                        Settled::Redo(redo) => {
                                            tx.send(Msg::Pulled(i, redo.map(Box::new)))
                                        }
                                    };
                                });
                            }
                            None => {
                                let _ = tx.send(Msg::Event(created));
                            }
                        }
                    };
                // Secrets and environment files before anything is set up
                // for the container (Go: task resources the containers wait for).
                if !aws_inputs.is_empty() {
                    match aws_env(&inner, &arn, &aws_inputs).await {
                        Ok(mut env) => {
                            let log_options = std::mem::take(&mut env.log_options);
                            env.apply(&mut spec.env, &keep);
                            if let Some((pending, path, task_def)) = &pending_log {
                                // Checked as Docker checks LogConfig at create.
                                match pending.resolve(&log_options) {
                                    Ok(driver) => {
                                        spec.log = container_log(&driver, path.clone());
                                        if let (LogDriver::Awslogs(a), Some(shipper)) =
                                            (&driver, &inner.log_shipper)
                                        {
                                            shipper.start_container(task_def, i, a);
                                        }
                                    }
                                    Err(reason) => {
                                        return refuse(
                                            "create",
                                            "the log driver refuses its secretOptions",
                                            FailureKind::CannotCreate,
                                            reason,
                                        );
                                    }
                                }
                            }
                        }
                        Err(reason) => {
                            return refuse(
                                "resources",
                                "fetching secrets or environment files failed",
                                FailureKind::Resource,
                                reason,
                            );
                        }
                    }
                }
                // What the task needs before any of its containers (its
                // cgroup, the holder of its shared namespaces) and what this
                // container needs (its namespace, volumes and files) do not
                // depend on each other: both are made at once, and the
                // container is created once both are.
                let cgroup_parent = spec.cgroup_parent.clone();
                let task_side = async {
                    // The task's cgroup first: limits in place before any of its
                    // containers can run (Go: a resource the containers wait for).
                    let mut cgroup_parent = cgroup_parent;
                    if let Some(req) = cgroup_request {
                        let parent = req.ensure().await.map_err(|reason| {
                            refusal(
                                "create",
                                "task cgroup setup failed",
                                FailureKind::CannotCreate,
                                reason,
                            )
                        })?;
                        cgroup_parent = Some(parent);
                    }
                    // pidMode/ipcMode task: the holder of the shared namespaces
                    // runs before a container joins it, in the task's cgroup.
                    let mut holder_pid = None;
                    let mut shm_dir = None;
                    if let Some((mut holder, shm)) = holder_request {
                        holder.cgroup_parent = cgroup_parent.clone();
                        let pid = inner
                            .runtime
                            .ensure_namespace_holder(&holder)
                            .await
                            .map_err(|e| {
                                refusal(
                                    "create",
                                    "task namespace holder failed",
                                    FailureKind::CannotCreate,
                                    e.to_string(),
                                )
                            })?;
                        holder_pid = Some(pid);
                        if let Some((data_dir, task, size)) = shm {
                            let dir = off_runtime("making the task's /dev/shm", move || {
                                super::volumes::task_shm(&data_dir, &task, size)
                            })
                            .await
                            .map_err(|reason| {
                                refusal(
                                    "create",
                                    "cannot make the task's shared /dev/shm",
                                    FailureKind::CannotCreate,
                                    reason,
                                )
                            })?;
                            shm_dir = Some(host_data_path(&inner, &dir));
                        }
                    }
                    Ok::<_, Refusal>((cgroup_parent, holder_pid, shm_dir))
                };
                let container_side = async {
                    // The namespace comes first: the container is created inside
                    // it. Its links, addresses and rules are made while the
                    // container is created (`wired`, awaited below).
                    let mut setup_begun = None;
                    if let Some((cell, req)) = net_request {
                        let setup = inner.network_setup(&cell, &arn, req);
                        let info = setup.reserved.clone().await.map_err(|reason| {
                            refusal(
                                "network",
                                "task network setup failed",
                                FailureKind::Network,
                                reason,
                            )
                        })?;
                        setup_begun = Some((setup, info));
                    }
                    // The task's volumes before the agent's own files: a mount
                    // of /etc must not hide /etc/hosts.
                    let mut volumes = None;
                    if let Some(req) = volume_request {
                        let made = off_runtime("preparing volumes", move || req.prepare())
                            .await
                            .map_err(|reason| {
                                refusal(
                                    "create",
                                    "cannot prepare the container's volumes",
                                    FailureKind::CannotCreate,
                                    reason,
                                )
                            })?;
                        volumes = Some(made);
                    }
                    let namespace = setup_begun.as_ref().map(|(_, info)| info.clone());
                    let prepared = off_runtime("preparing container files", move || {
                        files.prepare(namespace.as_ref())
                    })
                    .await
                    .map_err(|reason| {
                        refusal(
                            "create",
                            "cannot write the container's files",
                            FailureKind::CannotCreate,
                            reason,
                        )
                    })?;
                    Ok::<_, Refusal>((setup_begun, volumes, prepared))
                };
                let (task_side, container_side) = tokio::join!(task_side, container_side);
                let (cgroup_parent, holder_pid, shm_dir) = match task_side {
                    Ok(made) => made,
                    Err(r) => return refuse(r.metric, r.what, r.kind, r.reason),
                };
                let (setup_begun, volumes, prepared) = match container_side {
                    Ok(made) => made,
                    Err(r) => return refuse(r.metric, r.what, r.kind, r.reason),
                };
                spec.cgroup_parent = cgroup_parent;
                if holder_pid.is_some() {
                    spec.namespace_holder = holder_pid;
                }
                if shm_dir.is_some() {
                    spec.task_shm = shm_dir;
                }
                let wired = setup_begun.as_ref().map(|(setup, info)| {
                    spec.network = NetworkAttachment::Namespace(info.netns_path.clone());
                    setup.done.clone()
                });
                if let Some(made) = volumes {
                    spec.mounts.extend(made.mounts);
                    spec.populate_from_image = made.populate_from_image;
                }
                prepared.apply(&mut spec);
                let create = retry_unavailable(&id, || inner.runtime.create(&spec));
                // The links and rules are made beside the create from now
                // on, not while its files and spec were made.
                if let Some((setup, _)) = &setup_begun {
                    setup.let_wire();
                }
                let wire = async {
                    match wired {
                        Some(done) => done.await.map(Some),
                        None => Ok(None),
                    }
                };
                let checking = async {
                    match take_check() {
                        Some(check) => Some(check.verdict().await),
                        None => None,
                    }
                };
                let (created, wired, verdict) = tokio::join!(create, wire, checking);
                if let Some((setup, _)) = &setup_begun {
                    setup.let_spares();
                }
                // Begun from a provisional image: kept only if the pull says
                // it is the image to use; else made again from what it says.
                let image_gone = matches!(&created, Err(e) if e.kind() == ErrorKind::NotFound);
                let (confirmed, redo) = match verdict.map(|v| v.settle(i, image_gone)) {
                    Some(Settled::Stands(confirmed)) => (Some(confirmed), None),
                    Some(Settled::Redo(result)) => (None, Some(result)),
                    None => (None, None),
                };
                if let Some(result) = redo {
                    match &result {
                        Ok(image) => {
                            tracing::info!(task = %arn, container = %id, digest = %image.digest, "the container is made again from the image the pull brought")
                        }
                        Err(reason) => {
                            tracing::info!(task = %arn, container = %id, reason = %reason, "the pull of the image the container was begun from failed; it is removed")
                        }
                    }
                    if created.is_ok() {
                        if let Err(e) = inner.runtime.remove(&id).await {
                            tracing::warn!(task = %arn, container = %id, error = %e, "cannot remove a container begun from an outdated image");
                        }
                    }
                    let _ = tx.send(Msg::Pulled(i, result.map(Box::new)));
                    return;
                }
                let network = match wired {
                    Ok(Some(info)) => Some(Event::NetworkReady {
                        container: i,
                        network: netsetup::container_network(&info),
                    }),
                    Ok(None) => None,
                    Err(reason) => {
                        // Created in a namespace that was never finished (and is
                        // gone again): it must not start, and goes now.
                        if created.is_ok() {
                            if let Err(e) = inner.runtime.remove(&id).await {
                                tracing::warn!(task = %arn, container = %id, error = %e, "cannot remove a container whose network failed");
                            }
                        }
                        if let Some(confirmed) = confirmed {
                            let _ = tx.send(Msg::Event(confirmed));
                        }
                        return refuse(
                            "network",
                            "task network setup failed",
                            FailureKind::Network,
                            reason,
                        );
                    }
                };
                let result = created
                    .map(|()| id.clone())
                    .map_err(|e| Failure::new(FailureKind::CannotCreate, e.to_string()));
                match &result {
                    Ok(_) => tracing::info!(task = %arn, container = %id, "container created"),
                    Err(reason) => {
                        inner.metrics.inc_error("create");
                        tracing::warn!(task = %arn, container = %id, reason = %reason, "create failed")
                    }
                }
                let created = Event::Created {
                    container: i,
                    result,
                };
                // One message: the task takes one step (one checkpoint)
                // for all of it before the container's start.
                let mut events: Vec<Event> = confirmed.into_iter().chain(network).collect();
                events.push(created);
                let _ = tx.send(Msg::Events(events));
            });
        }
        Action::Start(i) => {
            let Some(id) = runtime_id(task, i) else {
                return;
            };
            // ECS_CONTAINER_START_TIMEOUT bounds the start call, as the Go
            // agent's; a container's own startTimeout is about the containers
            // that depend on it (see the task's dependency checks).
            let timeout = inner.settings.start_call_timeout;
            tokio::spawn(async move {
                let started = tokio::time::timeout(
                    timeout,
                    retry_unavailable(&id, || inner.runtime.start(&id)),
                )
                .await;
                let result = match started {
                    Ok(Ok(pid)) => {
                        tracing::info!(task = %arn, container = %id, pid, "container started");
                        Ok(())
                    }
                    Ok(Err(e)) => Err(Failure::new(FailureKind::CannotStart, e.to_string())),
                    Err(_) => Err(Failure::new(
                        FailureKind::CannotStart,
                        format!(
                            "start did not finish within {}s (ECS_CONTAINER_START_TIMEOUT)",
                            timeout.as_secs()
                        ),
                    )),
                };
                if result.is_err() {
                    inner.metrics.inc_error("start");
                }
                let _ = tx.send(Msg::Event(Event::Started {
                    container: i,
                    result,
                }));
            });
        }
        Action::Stop {
            container: i,
            timeout,
        } => {
            let Some(id) = runtime_id(task, i) else {
                return;
            };
            tokio::spawn(async move {
                tracing::info!(task = %arn, container = %id, timeout_s = timeout.as_secs(), "stopping container");
                signal(&inner, &id, i, SIGTERM, &tx).await;
                tokio::time::sleep(timeout).await;
                let _ = tx.send(Msg::StopTimedOut(i));
            });
        }
        Action::Restart(i) => {
            let (Some(id), Some(def)) = (runtime_id(task, i), task.def().containers.get(i)) else {
                return;
            };
            let log = crate::task::spec::container_log(
                &def.log,
                inner.settings.log_path(task_id(&arn), &def.name),
            );
            tokio::spawn(async move {
                let result = retry_unavailable(&id, || inner.runtime.restart(&id, &log)).await;
                let result = match result {
                    Ok(pid) => {
                        tracing::info!(task = %arn, container = %id, pid, "container restarted by its restart policy");
                        Ok(())
                    }
                    Err(e) => {
                        inner.metrics.inc_error("restart");
                        tracing::warn!(task = %arn, container = %id, error = %e, "restart failed; the container stops");
                        Err(Failure::new(FailureKind::CannotStart, e.to_string()))
                    }
                };
                let _ = tx.send(Msg::Event(Event::Restarted {
                    container: i,
                    result,
                }));
            });
        }
        Action::Kill(i) => {
            let Some(id) = runtime_id(task, i) else {
                return;
            };
            tokio::spawn(async move { signal(&inner, &id, i, SIGKILL, &tx).await });
        }
    }
}

/// How container `i` of the task is created: its id, log, and the
/// variables the agent injects.
fn spec_context<R>(inner: &Inner<R>, task: &Task, i: usize, id: &str) -> SpecContext {
    let name = task.def().containers.get(i).map_or("", |d| d.name.as_str());
    let mut extra_env = vec![("AWS_EXECUTION_ENV".into(), "AWS_ECS_EC2".into())];
    if let Some(c) = task.containers().get(i).filter(|c| !c.token.is_empty()) {
        extra_env.extend(endpoint_env(&c.token));
    }
    extra_env.extend(inner.credentials_env(task.def()));
    SpecContext {
        cluster_arn: inner.settings.cluster_arn.clone(),
        container_id: id.to_string(),
        log_path: inner.settings.log_path(task_id(task.arn()), name),
        network: NetworkAttachment::Host,
        extra_env,
    }
}

/// The containers container `i` links to (`links`), as it sees them; a
/// linked container without an address (it never got a network) is an error
/// naming the link.
fn linked<R>(
    inner: &Inner<R>,
    task: &Task,
    images: &[Option<PulledImage>],
    i: usize,
) -> Result<Vec<links::Linked>, String> {
    let def = task.def();
    let Some(c) = def.containers.get(i) else {
        return Ok(Vec::new());
    };
    c.net
        .links
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let j = def
                .containers
                .iter()
                .position(|d| d.name == l.container)
                .ok_or_else(|| format!("links[{k}]: no container {:?}", l.container))?;
            let child = &def.containers[j];
            let state = task.containers().get(j);
            let ip = state
                .and_then(|s| s.network.as_ref())
                .and_then(|n| n.ipv4)
                .ok_or_else(|| {
                    format!(
                        "links[{k}]: container {:?} has no network address",
                        l.container
                    )
                })?;
            let id = state
                .and_then(|s| s.runtime_id.clone())
                .unwrap_or_else(|| container_id(def.id(), j, &child.name));
            let hostname = netfiles::hostname(
                def.network_mode,
                child.hostname.as_deref(),
                &id,
                def.id(),
                Some(ip),
            );
            // Its environment as it was created with (Docker: its Config.Env).
            let env = match images.get(j) {
                Some(Some(image)) => {
                    container_spec(def, child, image, &spec_context(inner, task, j, &id)).env
                }
                _ => child
                    .environment
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
            };
            // Docker's ExposedPorts: the port mappings' (the Go agent's
            // Config) and the image's.
            let image_ports = match images.get(j) {
                Some(Some(image)) => image.config.exposed_ports.as_slice(),
                _ => &[],
            };
            let ports = child
                .port_mappings
                .iter()
                .map(|p| (p.container_port, p.protocol))
                .chain(image_ports.iter().filter_map(|p| links::exposed_port(p)))
                .collect();
            Ok(links::Linked {
                alias: l.alias.clone(),
                ip,
                hostname,
                id,
                env,
                ports,
            })
        })
        .collect()
}

/// What the agent mounts into a container beside its image: the hosts files
/// of its own network namespace, and (ECS_ENABLE_CONTAINER_METADATA) the
/// metadata file. Gathered from the task when the create is planned,
/// written on a blocking thread once the namespace is up.
struct ContainerFiles {
    data_dir: PathBuf,
    /// ECS_HOST_DATA_DIR: `data_dir` as the runtime sees it.
    host_data_dir: Option<PathBuf>,
    task_id: String,
    mode: NetworkMode,
    container: String,
    container_id: String,
    defined_hostname: Option<String>,
    /// The definition's DNS and hosts settings.
    net: NetOptions,
    /// Its links, resolved (or why they cannot be).
    links: Result<Vec<links::Linked>, String>,
    metadata: Option<(AgentView, TaskView)>,
}

/// The files written, as the container spec takes them.
#[derive(Debug, Default)]
struct PreparedFiles {
    mounts: Vec<BindMount>,
    env: Vec<String>,
    /// Set only where the container's own environment does not (Docker's
    /// link variables).
    default_env: Vec<String>,
    hostname: Option<String>,
}

impl PreparedFiles {
    fn apply(self, spec: &mut crate::task::container::ContainerSpec) {
        spec.mounts.extend(self.mounts);
        for e in &self.env {
            if let Some((k, v)) = e.split_once('=') {
                set_env(&mut spec.env, k, v);
            }
        }
        for e in self.default_env {
            let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
            if !spec
                .env
                .iter()
                .any(|x| x.split_once('=').map(|(k, _)| k) == Some(key))
            {
                spec.env.push(e);
            }
        }
        if self.hostname.is_some() {
            spec.hostname = self.hostname;
        }
    }
}

impl ContainerFiles {
    fn new<R>(
        inner: &Inner<R>,
        task: &Task,
        images: &[Option<PulledImage>],
        i: usize,
        container_id: &str,
    ) -> ContainerFiles {
        let def = &task.def().containers[i];
        let settings = &inner.settings;
        let metadata = settings.container_metadata.then(|| {
            (
                inner.published.snapshot().agent.clone(),
                publish::task_view(task, &settings.cluster_arn),
            )
        });
        ContainerFiles {
            data_dir: settings.data_dir.clone(),
            host_data_dir: settings.host_data_dir.clone(),
            task_id: task.def().id().to_string(),
            mode: task.def().network_mode,
            container: def.name.clone(),
            container_id: container_id.to_string(),
            // awsvpc with an ENI: the first label of its private DNS name,
            // as the Go agent names the task's containers.
            defined_hostname: def.hostname.clone().or_else(|| {
                task.def()
                    .eni
                    .as_ref()
                    .and_then(|e| e.private_dns_name.as_deref())
                    .and_then(|n| n.split('.').next())
                    .filter(|h| !h.is_empty())
                    .map(str::to_string)
            }),
            net: def.net.clone(),
            links: linked(inner, task, images, i),
            metadata,
        }
    }

    /// Where a file under the data directory is for the runtime.
    fn host_path(&self, path: &Path) -> PathBuf {
        match (&self.host_data_dir, path.strip_prefix(&self.data_dir)) {
            (Some(host), Ok(rel)) => host.join(rel),
            _ => path.to_path_buf(),
        }
    }

    /// Blocking. A container in its own namespace (or, with
    /// disableNetworking, one with only loopback) gets /etc/hosts,
    /// /etc/hostname and /etc/resolv.conf as Docker writes them; in host
    /// mode it keeps the host's unless its definition sets extraHosts or DNS
    /// settings. Failing to write those fails the create. The metadata file
    /// only warns.
    fn prepare(self, namespace: Option<&NamespaceInfo>) -> Result<PreparedFiles, String> {
        let mut out = PreparedFiles::default();
        let links = self.links.clone()?;
        let (ns_dir, own_dir) =
            netfiles::dirs(&self.data_dir, &self.task_id, self.mode, &self.container)
                .map_err(|e| e.to_string())?;
        let net = &self.net;
        let servers: Vec<String> = net.dns_servers.iter().map(|d| d.to_string()).collect();
        let link_lines: Vec<(std::net::IpAddr, String)> = links
            .iter()
            .map(|l| (std::net::IpAddr::V4(l.ip), l.host_names()))
            .collect();
        let mut files = Vec::new();
        if namespace.is_some() || net.disabled {
            let ns_ip = namespace.and_then(|n| n.ipv4);
            let hostname = netfiles::hostname(
                self.mode,
                self.defined_hostname.as_deref(),
                &self.container_id,
                &self.task_id,
                ns_ip,
            );
            // In none mode, or alone with loopback, there is no address for the name.
            let ipv4 = ns_ip.filter(|_| self.mode != NetworkMode::None && !net.disabled);
            // A container's own settings make its files its own.
            let dir = if net.has_own_files() || net.disabled {
                &own_dir
            } else {
                &ns_dir
            };
            // The task definition's servers and search list, else the ENI's.
            let eni_servers: Vec<String> = namespace
                .map(|n| n.dns.iter().map(|d| d.to_string()).collect())
                .unwrap_or_default();
            let servers = if servers.is_empty() {
                eni_servers
            } else {
                servers
            };
            let search = match (&net.dns_search, namespace) {
                (s, _) if !s.is_empty() => s.clone(),
                (_, Some(n)) => n.dns_search.clone(),
                (_, None) => Vec::new(),
            };
            files.push((
                dir.join("hosts"),
                "/etc/hosts",
                netfiles::hosts(&hostname, ipv4, &net.extra_hosts, &link_lines),
            ));
            files.push((
                own_dir.join("hostname"),
                "/etc/hostname",
                format!("{hostname}\n"),
            ));
            files.push((
                dir.join("resolv.conf"),
                "/etc/resolv.conf",
                netfiles::Resolv::for_container(
                    &netfiles::host_resolv_conf(),
                    &servers,
                    &search,
                    true,
                ),
            ));
            out.hostname = Some(hostname);
        } else {
            // Host mode: Docker copies the host's files unless told otherwise.
            if !net.extra_hosts.is_empty() {
                files.push((
                    own_dir.join("hosts"),
                    "/etc/hosts",
                    netfiles::hosts("", None, &net.extra_hosts, &[]),
                ));
            }
            if !servers.is_empty() || !net.dns_search.is_empty() {
                files.push((
                    own_dir.join("resolv.conf"),
                    "/etc/resolv.conf",
                    netfiles::Resolv::for_container(
                        &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
                        &servers,
                        &net.dns_search,
                        false,
                    ),
                ));
            }
        }
        // A namespace of the network layer's dies with the host (see
        // `netfiles::write`); a host-mode or disableNetworking container may
        // be restarted in place after a crash, mounting these again.
        let durable = namespace.is_none();
        for (path, destination, contents) in files {
            netfiles::write(&path, &contents, durable).map_err(|e| e.to_string())?;
            out.mounts.push(BindMount {
                source: self.host_path(&path),
                destination: destination.to_string(),
                read_only: true,
            });
        }
        for l in &links {
            out.default_env.extend(l.env(&self.container_id));
        }
        if let Some((agent, view)) = &self.metadata {
            match metadata::at_create(
                &self.data_dir,
                self.host_data_dir.as_deref(),
                agent,
                view,
                &self.container,
            ) {
                Ok(at) => {
                    out.mounts.push(at.mount);
                    out.env.push(at.env);
                }
                Err(e) => {
                    tracing::warn!(task = %view.arn, container = %self.container, error = %e, "cannot create the container metadata file; the container runs without it");
                }
            }
        }
        Ok(out)
    }
}

/// ECS_ENABLE_CONTAINER_METADATA: rewrites container `i`'s metadata file
/// with its runtime facts and `READY`, once it runs.
pub(crate) fn metadata_ready<R>(inner: &Inner<R>, task: &Task, i: usize) {
    if !inner.settings.container_metadata {
        return;
    }
    let Some(def) = task.def().containers.get(i) else {
        return;
    };
    let container = def.name.clone();
    let view = publish::task_view(task, &inner.settings.cluster_arn);
    let agent = inner.published.snapshot().agent.clone();
    let data_dir = inner.settings.data_dir.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = metadata::ready(&data_dir, &agent, &view, &container) {
            tracing::warn!(task = %view.arn, container = %container, error = %e, "cannot update the container metadata file");
        }
    });
}

/// Where a path under the data directory is for the runtime (the host's
/// view when the agent runs in a container: ECS_HOST_DATA_DIR).
/// Blocking preparation off the async workers; a panic in it is a failure
/// of `what`, as its own errors are.
async fn off_runtime<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("{what}: {e}"))
        .and_then(|r| r)
}

/// A step before the create that failed: what `refuse` reports.
struct Refusal {
    metric: &'static str,
    what: &'static str,
    kind: FailureKind,
    reason: String,
}

fn refusal(metric: &'static str, what: &'static str, kind: FailureKind, reason: String) -> Refusal {
    Refusal {
        metric,
        what,
        kind,
        reason,
    }
}

fn host_data_path<R>(inner: &Inner<R>, path: &Path) -> PathBuf {
    let s = &inner.settings;
    match (&s.host_data_dir, path.strip_prefix(&s.data_dir)) {
        (Some(host), Ok(rel)) => host.join(rel),
        _ => path.to_path_buf(),
    }
}

/// Removes what `ContainerFiles` wrote for a task (at cleanup). Blocking.
pub(crate) fn remove_task_files(data_dir: &Path, task_arn: &str) {
    if let Err(e) = netfiles::remove_task(data_dir, task_id(task_arn)) {
        tracing::warn!(task = %task_arn, error = %e, "cannot remove the task's hosts files");
    }
    if let Err(e) = metadata::remove_task(data_dir, task_arn) {
        tracing::warn!(task = %task_arn, error = %e, "cannot remove the task's metadata files");
    }
    super::volumes::remove_task(data_dir, task_id(task_arn));
}

fn runtime_id(task: &Task, i: usize) -> Option<String> {
    task.containers().get(i).and_then(|c| c.runtime_id.clone())
}

/// Sends a signal; if that fails, asks containerd whether the container has
/// already exited, so an exit missed on the event stream is still seen.
async fn signal<R: ContainerRuntime>(
    inner: &Inner<R>,
    id: &str,
    index: usize,
    sig: i32,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let Err(e) = retry_unavailable(id, || inner.runtime.kill(id, sig)).await else {
        return;
    };
    tracing::warn!(container = %id, signal = sig, error = %e, "signal failed; checking the container's state");
    if let Ok(Some(ContainerState::Stopped { exit_code })) = inner.runtime.state(id).await {
        let _ = tx.send(Msg::Event(Event::Exited {
            container: index,
            exit_code,
            at_ms: super::inner::now_ms(),
        }));
    }
}

/// Where a pull's registry login comes from.
enum PullLogin {
    /// The container's repositoryCredentials (already fetched), else the
    /// agent's ECS_ENGINE_AUTH_DATA for the registry.
    Given(Option<crate::config::RegistryCredentials>),
    /// Private ECR: a token asked for only when the image is fetched (Go:
    /// dockerGoClient.pullImage asks for it), so a cached image under
    /// ECS_IMAGE_PULL_BEHAVIOR once or prefer-cached needs none.
    Ecr(crate::task::resources::EcrRegistryAuth),
}

async fn pull<R: ContainerRuntime>(
    inner: &Inner<R>,
    arn: &str,
    image: &ImageRef,
    login: PullLogin,
) -> Result<PulledImage, Failure> {
    let runtime = &inner.runtime;
    let parsed = image;
    let image = image.as_written();
    let ecr = match &login {
        PullLogin::Ecr(auth) => Some(auth),
        PullLogin::Given(_) => None,
    };
    let failed = |e: RuntimeError| pull_failure(e, ecr);
    let cached = || async { retry_unavailable(image, || runtime.find_image(parsed)).await };
    let fetch = || async {
        let creds = match &login {
            // The container's own login (repositoryCredentials) before the
            // agent's ECS_ENGINE_AUTH_DATA, as the Go agent's per-container auth.
            PullLogin::Given(c) => c
                .clone()
                .or_else(|| inner.settings.credentials_for_image(parsed.reference())),
            PullLogin::Ecr(auth) => Some(ecr_login(inner, arn, auth).await?),
        };
        retry_unavailable(image, || runtime.pull_image(parsed, creds.clone()))
            .await
            .map_err(failed)
    };
    match inner.settings.pull_behavior {
        ImagePullBehavior::Always => fetch().await,
        ImagePullBehavior::Default => match fetch().await {
            Ok(img) => Ok(img),
            Err(e) => match cached().await {
                Ok(Some(img)) => {
                    tracing::warn!(image, error = %e, "pull failed; using the cached image (ECS_IMAGE_PULL_BEHAVIOR=default)");
                    Ok(img)
                }
                _ => Err(e),
            },
        },
        ImagePullBehavior::Once | ImagePullBehavior::PreferCached => {
            match cached().await.map_err(failed)? {
                Some(img) => {
                    tracing::info!(image, "using cached image");
                    Ok(img)
                }
                None => fetch().await,
            }
        }
    }
}

/// A private ECR image's login, with the task's execution role or the
/// agent's credentials: the Go agent's CannotPullECRContainerError when it
/// cannot be had.
async fn ecr_login<R>(
    inner: &Inner<R>,
    arn: &str,
    auth: &crate::task::resources::EcrRegistryAuth,
) -> Result<crate::config::RegistryCredentials, Failure> {
    let Some(aws) = &inner.aws else {
        return Err(Failure::new(
            FailureKind::CannotPullEcr,
            "private ECR images are not available on this agent",
        ));
    };
    let creds = inner
        .credentials
        .task_credentials(arn, crate::credentials::RoleType::TaskExecution);
    aws.ecr_login(creds.as_ref(), auth).await.map_err(|e| {
        inner.metrics.inc_error("resources");
        tracing::warn!(task = %arn, registry_id = %auth.registry_id, region = %auth.region, reason = %e, "ECR authorization token failed");
        Failure::new(FailureKind::CannotPullEcr, e.to_string())
    })
}

/// A failed pull as the task's reason. The Go agent reports pull timeouts
/// as DockerTimeoutError. A registry that refuses an ECR token says only
/// "unauthorized" or "denied": the reason adds whose token it was.
fn pull_failure(e: RuntimeError, ecr: Option<&crate::task::resources::EcrRegistryAuth>) -> Failure {
    let kind = match e.kind() {
        ErrorKind::Timeout => FailureKind::Timeout,
        _ => FailureKind::CannotPull,
    };
    let mut detail = e.to_string();
    if let (
        Some(auth),
        RuntimeError::Image(crate::image::RegistryError::Registry {
            status: 401 | 403, ..
        }),
    ) = (ecr, &e)
    {
        let role = if auth.use_execution_role {
            "the task execution role"
        } else {
            "the instance's credentials"
        };
        detail.push_str(&format!(
            "; the registry refused the ECR authorization token of registry {} in {}, asked with {role}: check that the image is in that registry and that the role may pull from it",
            auth.registry_id, auth.region
        ));
    }
    Failure::new(kind, detail)
}

/// Retries a runtime call while containerd is unreachable, with backoff.
pub(crate) async fn retry_unavailable<T, F, Fut>(what: &str, mut call: F) -> Result<T, RuntimeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RuntimeError>>,
{
    let deadline = Instant::now() + UNAVAILABLE_PATIENCE;
    let mut backoff = Backoff::doubling(Duration::from_millis(250), Duration::from_secs(10));
    loop {
        match call().await {
            Err(e) if e.is_unavailable() && Instant::now() < deadline => {
                let wait = backoff.next(0.0);
                tracing::warn!(target_object = what, error = %e, retry_in_ms = wait.as_millis() as u64, "containerd unreachable; retrying");
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}
