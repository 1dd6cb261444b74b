//! The engine's side of task networking and task credentials: which
//! namespace a container joins, when it is made and released, and which
//! credentials a task's containers are pointed at.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use futures_util::future::FutureExt as _;

use crate::credentials::CredentialsStore;
use crate::network::{NamespaceInfo, NamespaceRequest, Reserved};
use crate::task::def::{ContainerNetwork, NetworkMode, TaskDef};
use crate::task::Task;

use super::inner::{lock, Engine, Inner, NetSetup, SetupCell, Signal};

/// What a setup that never began reads once the network was released.
const RELEASED: &str = "the task's network was released before it was set up";

/// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, as the Go agent injects it.
pub const CREDENTIALS_URI_ENV: &str = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";

/// The namespace key of a container: the task's id for awsvpc and none
/// (one namespace shared by all its containers), `<task id>/<container>`
/// for bridge (one per container, as Docker's bridge mode).
fn key(def: &TaskDef, container: &str) -> Option<String> {
    match def.network_mode {
        NetworkMode::Host => None,
        NetworkMode::Bridge => Some(format!("{}/{container}", def.id())),
        NetworkMode::Awsvpc | NetworkMode::None => Some(def.id().to_string()),
    }
}

/// Every key a task may have used (teardown of unknown keys is harmless).
fn keys(def: &TaskDef) -> Vec<String> {
    let mut keys: Vec<String> = def
        .containers
        .iter()
        .filter_map(|c| key(def, &c.name))
        .collect();
    keys.dedup();
    keys
}

/// What the network layer must set up before container `i` is created;
/// `None` in host mode.
pub(crate) fn request(task: &Task, i: usize) -> Option<NamespaceRequest> {
    let def = task.def().containers.get(i)?;
    // disableNetworking: runc gives it a namespace with only loopback.
    if def.net.disabled {
        return None;
    }
    // None in host mode.
    let key = key(task.def(), &def.name)?;
    let mode = task.def().network_mode;
    let ports = if mode == NetworkMode::Bridge {
        def.port_mappings.clone()
    } else {
        Vec::new()
    };
    Some(NamespaceRequest {
        key,
        mode,
        eni: task.def().eni.clone(),
        ports,
    })
}

/// The pure task's view of what the network layer made.
pub(crate) fn container_network(info: &NamespaceInfo) -> ContainerNetwork {
    ContainerNetwork {
        ipv4: info.ipv4,
        bindings: info.bindings.clone(),
        sources: info.source_ips.clone(),
    }
}

fn fire(signal: &Signal) {
    let tx = signal.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(tx) = tx {
        let _ = tx.send(());
    }
}

impl NetSetup {
    /// Runs the setup in a task of its own, so that it goes on whoever
    /// awaits it (a release waits for it to end before tearing down).
    fn begin<R: Send + Sync + 'static>(
        inner: Arc<Inner<R>>,
        task_arn: String,
        req: NamespaceRequest,
    ) -> Self {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (wire_tx, wire) = tokio::sync::oneshot::channel();
        let (spares_tx, settled) = tokio::sync::oneshot::channel();
        let staged = Reserved {
            info: tx,
            wire,
            settled,
        };
        let run =
            tokio::spawn(async move { inner.setup_network(&task_arn, &req, Some(staged)).await });
        let done = async move {
            run.await
                .unwrap_or_else(|e| Err(format!("the network setup ended abnormally: {e}")))
        }
        .boxed()
        .shared();
        let whole = done.clone();
        // Never reserved (an existing namespace, or a failure first): the
        // whole setup's outcome is the reservation's.
        let reserved = async move {
            match rx.await {
                Ok(info) => Ok(info),
                Err(_) => whole.await,
            }
        }
        .boxed()
        .shared();
        Self {
            reserved,
            done,
            wire: Arc::new(std::sync::Mutex::new(Some(wire_tx))),
            spares: Arc::new(std::sync::Mutex::new(Some(spares_tx))),
        }
    }

    /// The links, addresses and rules may be made now: the container's
    /// create is under way (or nothing will be created, and the setup
    /// must end before its teardown). Once is enough; later calls do nothing.
    pub(crate) fn let_wire(&self) {
        fire(&self.wire);
    }

    /// The container's create is over: the network may make its spare
    /// namespaces once it has been quiet a while (after the start, which
    /// follows at once). Once is enough; later calls do nothing.
    pub(crate) fn let_spares(&self) {
        fire(&self.spares);
    }

    /// A setup that will never begin: the network was released first.
    fn released() -> Self {
        let gone = async { Err(RELEASED.to_string()) }.boxed().shared();
        Self {
            reserved: gone.clone(),
            done: gone,
            wire: Arc::default(),
            spares: Arc::default(),
        }
    }
}

impl<R: Send + Sync + 'static> Inner<R> {
    /// The setup of `key`'s namespace, shared by the pull-time start and the
    /// create. Taken by the task's actor (not in a spawned task), so that a
    /// release that the actor runs later always finds it.
    pub(crate) fn setup_cell(&self, key: &str) -> SetupCell {
        lock(&self.net_setups)
            .entry(key.to_string())
            .or_default()
            .clone()
    }

    /// Begins container `i`'s namespace while its image is pulled: the two
    /// do not depend on each other, and the create then finds it made (or
    /// waits for it). A failure is reported by the create, as before.
    pub(crate) fn begin_network(self: &Arc<Self>, task: &Task, i: usize) {
        if self.network.is_none() {
            return;
        }
        let Some(req) = request(task, i) else { return };
        let cell = self.setup_cell(&req.key);
        self.network_setup(&cell, task.arn(), req);
    }

    /// The setup of `req`'s namespace, begun now unless it already was.
    pub(crate) fn network_setup(
        self: &Arc<Self>,
        cell: &SetupCell,
        task_arn: &str,
        req: NamespaceRequest,
    ) -> NetSetup {
        cell.get_or_init(|| NetSetup::begin(self.clone(), task_arn.to_string(), req))
            .clone()
    }
}

impl<R> Inner<R> {
    /// Sets up the namespace (telling `reserved` once a container may be
    /// created in it); the task's credentials are then served only to its
    /// addresses.
    pub(crate) async fn setup_network(
        &self,
        task_arn: &str,
        req: &NamespaceRequest,
        reserved: Option<Reserved>,
    ) -> Result<NamespaceInfo, String> {
        let Some(net) = &self.network else {
            return Err(format!(
                "networkMode {:?} needs task networking, which this instance does not offer \
                 (iptables or a writable /proc/sys is missing; see the agent's start-up log)",
                req.mode.as_str()
            ));
        };
        let info = net.setup(req, reserved).await.map_err(|e| e.to_string())?;
        let ips: Vec<IpAddr> = info.source_ips.iter().map(|ip| (*ip).into()).collect();
        self.credentials.add_task_sources(task_arn, &ips);
        Ok(info)
    }

    /// Tears down every namespace of the task (ports, addresses, ENI back
    /// to the host). Errors are logged: cleanup and restarts retry.
    pub(crate) async fn release_network(&self, def: &TaskDef) {
        let Some(net) = &self.network else { return };
        for key in keys(def) {
            // A setup under way (begun with a pull that then failed, say)
            // ends first, so the teardown below finds all it made; one that
            // never began never will.
            let cell = lock(&self.net_setups).remove(&key);
            if let Some(cell) = cell {
                let setup = cell.get_or_init(NetSetup::released).clone();
                setup.let_wire();
                setup.let_spares();
                let _ = setup.done.await;
            }
            if let Err(e) = net.teardown(&key).await {
                self.metrics.inc_error("network");
                tracing::warn!(task = %def.arn, key = %key, error = %e, "cannot tear down the task network; will retry at cleanup");
            }
        }
    }

    /// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` for the task's containers,
    /// when it has a role and the instance serves task roles in its mode.
    pub(crate) fn credentials_env(&self, def: &TaskDef) -> Option<(String, String)> {
        let id = def.credentials_id.as_ref()?;
        let allowed = self.settings.task_iam_role
            && (def.network_mode != NetworkMode::Host || self.settings.task_iam_role_network_host);
        if !allowed {
            tracing::warn!(task = %def.arn, mode = def.network_mode.as_str(),
                "the task has a role but this instance does not serve task roles in its network mode \
                 (ECS_ENABLE_TASK_IAM_ROLE / ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST)");
            return None;
        }
        Some((
            CREDENTIALS_URI_ENV.to_string(),
            CredentialsStore::relative_uri(id),
        ))
    }
}

/// After a restart: the task's credential ids are known (requests get 503
/// until ACS sends the credentials again, as the Go agent) and restricted to
/// the task's addresses from the checkpoint (a host-mode task's open to any
/// local caller, as when it was accepted).
pub(crate) fn restore_credentials(store: &CredentialsStore, task: &Task) {
    if task.def().network_mode == NetworkMode::Host {
        store.open_task(task.arn());
    }
    for id in [
        &task.def().credentials_id,
        &task.def().execution_credentials_id,
    ]
    .into_iter()
    .flatten()
    {
        store.expect(task.arn(), id);
    }
    let ips: Vec<IpAddr> = task
        .containers()
        .iter()
        .filter_map(|c| c.network.as_ref())
        .flat_map(|n| n.sources.iter().map(|ip| IpAddr::V4(*ip)))
        .collect();
    if !ips.is_empty() {
        store.add_task_sources(task.arn(), &ips);
    }
}

impl<R> Engine<R> {
    /// The credentials the task metadata listener serves.
    pub fn credentials(&self) -> &CredentialsStore {
        &self.inner.credentials
    }

    /// After a restart: namespaces whose task the agent no longer knows
    /// (it was cleaned up while the agent was down, or never checkpointed).
    pub async fn release_orphan_networks(&self, known_tasks: &[Task]) {
        let Some(net) = &self.inner.network else {
            return;
        };
        let known: HashSet<&str> = known_tasks.iter().map(|t| t.def().id()).collect();
        for key in net.keys().await {
            let owner = key.split('/').next().unwrap_or(&key);
            if known.contains(owner) {
                continue;
            }
            tracing::info!(key = %key, "releasing the network of a task this agent no longer knows");
            if let Err(e) = net.teardown(&key).await {
                tracing::warn!(key = %key, error = %e, "cannot release an orphaned task network");
            }
        }
    }
}
