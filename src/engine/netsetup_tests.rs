//! Task networking as the engine drives it through `TaskNetwork`, on the
//! recording fake network and the fake runtime, with time paused.

use std::sync::Arc;

use crate::config::ImagePullBehavior;
use crate::control::sink::{PayloadTask, TaskSink};
use crate::network::fake::{Call as NetCall, FakeNetwork};
use crate::network::TaskNetwork;
use crate::runtime::fake::Call;
use crate::task::def::{ContainerDef, NetworkMode, PortMapping, Protocol};
use crate::task::{StateChange, TaskStatus};

use super::test_support::{engine_with, task_def_in, Harness, TASK_ARN};

fn is_status(status: TaskStatus) -> impl Fn(&StateChange) -> bool {
    move |c| c.task_arn == TASK_ARN && c.task_status == Some(status)
}

fn web() -> ContainerDef {
    ContainerDef {
        port_mappings: vec![PortMapping {
            container_port: 80,
            host_port: None,
            protocol: Protocol::Tcp,
        }],
        ..ContainerDef::minimal("web", "nginx")
    }
}

/// An engine on `network` that has accepted the bridge-mode `web` task.
fn bridge_engine(network: Arc<FakeNetwork>) -> (Harness, Arc<FakeNetwork>) {
    let h = engine_with(
        ImagePullBehavior::Default,
        Some(network.clone() as Arc<dyn TaskNetwork>),
    );
    h.engine
        .accept(vec![PayloadTask::Run(Box::new(task_def_in(
            NetworkMode::Bridge,
            web(),
        )))])
        .expect("NoCheckpoint accepts every task");
    (h, network)
}

fn net_calls(network: &FakeNetwork) -> Vec<NetCall> {
    network
        .calls
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

#[tokio::test(start_paused = true)]
async fn bridge_ports_are_reported_and_the_namespace_released_at_stop() {
    let (h, network) = bridge_engine(Arc::new(FakeNetwork::default()));

    let running = h.reporter.wait_for(is_status(TaskStatus::Running)).await;
    let bindings = &running.containers[0].network_bindings;
    assert_eq!(bindings.len(), 1, "{bindings:?}");
    assert_eq!(
        (bindings[0].container_port, bindings[0].host_port),
        (80, 30080),
        "the dynamic host port the network picked"
    );
    let key = "t1/web".to_string();
    assert_eq!(
        net_calls(&network),
        vec![NetCall::Setup {
            key: key.clone(),
            mode: NetworkMode::Bridge
        }]
    );

    h.runtime
        .exit(&crate::task::spec::container_id("t1", 0, "web"), 0)
        .await;
    h.reporter.wait_for(is_status(TaskStatus::Stopped)).await;
    assert!(
        net_calls(&network).contains(&NetCall::Teardown { key }),
        "the host ports are free once STOPPED is reported"
    );
}

#[tokio::test(start_paused = true)]
async fn a_port_conflict_fails_the_create_without_touching_the_runtime() {
    let network = Arc::new(FakeNetwork::default());
    *network.fail_setup.lock().unwrap_or_else(|p| p.into_inner()) = Some(8080);
    let (h, _) = bridge_engine(network);

    let stopped = h.reporter.wait_for(is_status(TaskStatus::Stopped)).await;
    let reason = stopped.containers[0].reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("CannotCreateContainerError: network:"),
        "reason: {reason}"
    );
    assert!(reason.contains("8080"), "reason names the port: {reason}");
    assert!(!h
        .runtime
        .calls()
        .iter()
        .any(|c| matches!(c, Call::Create { .. })));
}

#[tokio::test(start_paused = true)]
async fn the_namespace_made_alongside_a_pull_that_fails_is_removed() {
    let network = Arc::new(FakeNetwork::default());
    let h = engine_with(
        ImagePullBehavior::Always,
        Some(network.clone() as Arc<dyn TaskNetwork>),
    );
    h.runtime
        .queue_pull(Err(crate::runtime::RuntimeError::Pull {
            kind: crate::runtime::ErrorKind::Other,
            message: "manifest unknown".into(),
        }));
    h.engine
        .accept(vec![PayloadTask::Run(Box::new(task_def_in(
            NetworkMode::Bridge,
            web(),
        )))])
        .expect("NoCheckpoint accepts every task");

    let stopped = h.reporter.wait_for(is_status(TaskStatus::Stopped)).await;
    let reason = stopped.containers[0].reason.clone().unwrap_or_default();
    assert!(reason.contains("manifest unknown"), "reason: {reason}");
    // The namespace was begun with the pull (no create ever came), and
    // taken down before STOPPED was reported.
    let key = "t1/web".to_string();
    assert_eq!(
        net_calls(&network),
        vec![
            NetCall::Setup {
                key: key.clone(),
                mode: NetworkMode::Bridge
            },
            NetCall::Teardown { key }
        ]
    );
    assert!(network
        .live
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .is_empty());
    assert!(!h
        .runtime
        .calls()
        .iter()
        .any(|c| matches!(c, Call::Create { .. })));
}

/// The container is created while its namespace's links and rules are
/// made; when those fail, it is removed before anything starts it, and the
/// task stops naming the network.
#[tokio::test(start_paused = true)]
async fn a_container_whose_namespace_links_fail_is_removed_and_never_started() {
    let network = Arc::new(FakeNetwork::default());
    *network.fail_links.lock().unwrap_or_else(|p| p.into_inner()) = Some("veth name taken".into());
    let (h, network) = bridge_engine(network);

    let stopped = h.reporter.wait_for(is_status(TaskStatus::Stopped)).await;
    let reason = stopped.containers[0].reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("CannotCreateContainerError: network:")
            && reason.contains("veth name taken"),
        "reason: {reason}"
    );
    let id = crate::task::spec::container_id("t1", 0, "web");
    let calls = h.runtime.calls();
    let created = calls
        .iter()
        .position(|c| *c == Call::Create { id: id.clone() });
    let removed = calls
        .iter()
        .position(|c| *c == Call::Remove { id: id.clone() });
    assert!(
        matches!((created, removed), (Some(c), Some(r)) if c < r),
        "created in the reserved namespace, then removed: {calls:?}"
    );
    assert!(
        !calls.iter().any(|c| matches!(c, Call::Start { .. })),
        "nothing started in a half-made namespace: {calls:?}"
    );
    assert!(network
        .live
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .is_empty());
}
