//! Every lifecycle transition, driven the way the engine drives it.

use std::time::Duration;

use super::def::{Condition, ContainerDef, Dependency, TaskDef};
use super::failure::{Failure, FailureKind, ESSENTIAL_EXITED};
use super::lifecycle::{Action, Event, Task};
use super::status::{ContainerStatus, DesiredStatus, TaskStatus};

fn container(name: &str, essential: bool, deps: &[(&str, Condition)]) -> ContainerDef {
    ContainerDef {
        essential,
        depends_on: deps
            .iter()
            .map(|(n, c)| Dependency {
                container: (*n).into(),
                condition: *c,
            })
            .collect(),
        ..ContainerDef::minimal(name, "busybox")
    }
}

fn task(containers: Vec<ContainerDef>) -> Task {
    let def = TaskDef::minimal("arn:aws:ecs:us-east-1:0:task/c/t1", containers);
    Task::new(def, DesiredStatus::Running, Duration::from_secs(30))
}

/// Pull, create and start container `i` successfully.
fn bring_up(t: &mut Task, i: usize) {
    t.apply(Event::Pulled {
        container: i,
        result: Ok("sha256:d".into()),
    });
    t.apply(Event::Created {
        container: i,
        result: Ok(format!("id{i}")),
    });
}

#[test]
fn single_container_runs_then_exits_and_is_reported_once_each() {
    let mut t = task(vec![container("app", true, &[])]);
    assert_eq!(t.next_actions(), vec![Action::Pull(0)]);
    assert_eq!(
        t.next_actions(),
        vec![],
        "an action under way is not issued twice"
    );
    t.apply(Event::Pulled {
        container: 0,
        result: Ok("sha256:abc".into()),
    });
    // The digests, once all are known: the Go agent's manifest-pulled report
    // (agent/api/statechange.go), task PENDING, container PENDING + imageDigest.
    let r = t.take_report().expect("digests report");
    assert_eq!(r.task_status, Some(TaskStatus::Pending));
    assert_eq!(r.containers.len(), 1);
    assert_eq!(r.containers[0].status.backend_wire(), "PENDING");
    assert_eq!(r.containers[0].image_digest.as_deref(), Some("sha256:abc"));
    assert_eq!(r.containers[0].exit_code, None);
    assert_eq!(t.next_actions(), vec![Action::Create(0)]);
    t.apply(Event::Created {
        container: 0,
        result: Ok("cid".into()),
    });
    assert_eq!(t.next_actions(), vec![Action::Start(0)]);
    assert_eq!(t.take_report(), None, "nothing more before RUNNING");
    t.apply(Event::Started {
        container: 0,
        result: Ok(()),
    });
    assert_eq!(t.known, TaskStatus::Running);
    let r = t.take_report().expect("running report");
    assert_eq!(r.task_status, Some(TaskStatus::Running));
    assert_eq!(r.containers.len(), 1);
    assert_eq!(r.containers[0].status, ContainerStatus::Running);
    assert_eq!(r.containers[0].runtime_id.as_deref(), Some("cid"));
    assert_eq!(r.containers[0].image_digest.as_deref(), Some("sha256:abc"));
    assert_eq!(t.take_report(), None, "each change is reported once");

    t.apply(Event::Exited {
        container: 0,
        exit_code: 0,
        at_ms: 5,
    });
    assert_eq!(t.next_actions(), vec![]);
    assert_eq!(t.known, TaskStatus::Stopped);
    let r = t.take_report().expect("stopped report");
    assert_eq!(r.task_status, Some(TaskStatus::Stopped));
    assert_eq!(r.reason.as_deref(), Some(ESSENTIAL_EXITED));
    assert_eq!(r.containers[0].exit_code, Some(0));
    assert_eq!(r.execution_stopped_at_ms, Some(5));
    assert!(t.is_done());
    assert_eq!(t.take_report(), None);
}

#[test]
fn exit_seen_before_start_returns_is_not_lost() {
    let mut t = task(vec![container("app", true, &[])]);
    t.next_actions();
    bring_up(&mut t, 0);
    t.next_actions();
    t.apply(Event::Exited {
        container: 0,
        exit_code: 3,
        at_ms: 1,
    });
    t.apply(Event::Started {
        container: 0,
        result: Ok(()),
    });
    assert_eq!(t.containers[0].known, ContainerStatus::Stopped);
    assert_eq!(t.known, TaskStatus::Stopped);
    let r = t.take_report().unwrap();
    assert_eq!(r.containers[0].exit_code, Some(3));
}

#[test]
fn pull_failure_stops_task_with_its_reason() {
    let mut t = task(vec![
        container("app", true, &[]),
        container("side", false, &[]),
    ]);
    assert_eq!(t.next_actions(), vec![Action::Pull(0), Action::Pull(1)]);
    t.apply(Event::Pulled {
        container: 0,
        result: Err(Failure::new(FailureKind::CannotPull, "manifest unknown")),
    });
    // The sibling's pull is still under way: wait for it, then stop it unstarted.
    assert_eq!(t.next_actions(), vec![]);
    assert_eq!(t.desired, DesiredStatus::Stopped);
    t.apply(Event::Pulled {
        container: 1,
        result: Ok("d".into()),
    });
    assert_eq!(t.next_actions(), vec![]);
    assert_eq!(t.known, TaskStatus::Stopped);
    let r = t.take_report().unwrap();
    assert_eq!(
        r.reason.as_deref(),
        Some("CannotPullContainerError: manifest unknown")
    );
    assert_eq!(r.containers.len(), 2);
    assert_eq!(
        r.containers[0].reason.as_deref(),
        Some("CannotPullContainerError: manifest unknown")
    );
}

#[test]
fn create_and_start_failures_stop_the_container() {
    let mut t = task(vec![container("a", true, &[])]);
    t.next_actions();
    t.apply(Event::Pulled {
        container: 0,
        result: Ok("d".into()),
    });
    t.next_actions();
    t.apply(Event::Created {
        container: 0,
        result: Err(Failure::new(FailureKind::CannotCreate, "x")),
    });
    t.next_actions();
    assert_eq!(t.known, TaskStatus::Stopped);
    assert_eq!(
        t.stop_reason().as_deref(),
        Some("CannotCreateContainerError: x")
    );

    let mut t = task(vec![container("a", true, &[])]);
    t.next_actions();
    bring_up(&mut t, 0);
    t.next_actions();
    t.apply(Event::Started {
        container: 0,
        result: Err(Failure::new(FailureKind::CannotStart, "y")),
    });
    t.next_actions();
    assert_eq!(t.known, TaskStatus::Stopped);
    assert_eq!(
        t.stop_reason().as_deref(),
        Some("CannotStartContainerError: y")
    );
}

#[test]
fn essential_exit_stops_running_sibling_with_timeout_then_kill() {
    let mut sidecar = container("sidecar", false, &[]);
    sidecar.stop_timeout = Some(Duration::from_secs(2));
    let mut t = task(vec![container("app", true, &[]), sidecar]);
    t.next_actions();
    bring_up(&mut t, 0);
    bring_up(&mut t, 1);
    assert_eq!(t.next_actions(), vec![Action::Start(0), Action::Start(1)]);
    t.apply(Event::Started {
        container: 0,
        result: Ok(()),
    });
    t.apply(Event::Started {
        container: 1,
        result: Ok(()),
    });
    t.take_report();
    t.apply(Event::Exited {
        container: 0,
        exit_code: 1,
        at_ms: 9,
    });
    assert_eq!(
        t.next_actions(),
        vec![Action::Stop {
            container: 1,
            timeout: Duration::from_secs(2)
        }]
    );
    assert_eq!(t.next_actions(), vec![], "stop is sent once");
    assert_eq!(t.known, TaskStatus::Running);
    let r = t.take_report().unwrap();
    assert_eq!(
        r.task_status, None,
        "task still running while the sidecar stops"
    );
    assert_eq!(r.containers[0].status, ContainerStatus::Stopped);
    assert_eq!(r.containers[0].exit_code, Some(1));
    assert_eq!(t.on_stop_timeout(1), Some(Action::Kill(1)));
    assert_eq!(t.on_stop_timeout(1), None, "kill is sent once");
    t.apply(Event::Exited {
        container: 1,
        exit_code: 137,
        at_ms: 12,
    });
    assert_eq!(t.known, TaskStatus::Stopped);
    let r = t.take_report().unwrap();
    assert_eq!(r.task_status, Some(TaskStatus::Stopped));
    assert_eq!(r.reason.as_deref(), Some(ESSENTIAL_EXITED));
    assert_eq!(r.containers[0].name, "sidecar");
    assert_eq!(r.containers[0].exit_code, Some(137));
}

#[test]
fn non_essential_exit_keeps_task_running() {
    let mut t = task(vec![
        container("app", true, &[]),
        container("job", false, &[]),
    ]);
    t.next_actions();
    bring_up(&mut t, 0);
    bring_up(&mut t, 1);
    t.next_actions();
    t.apply(Event::Started {
        container: 0,
        result: Ok(()),
    });
    t.apply(Event::Started {
        container: 1,
        result: Ok(()),
    });
    t.apply(Event::Exited {
        container: 1,
        exit_code: 0,
        at_ms: 1,
    });
    assert_eq!(t.next_actions(), vec![]);
    assert_eq!(t.desired, DesiredStatus::Running);
    assert_eq!(t.known, TaskStatus::Running);
}

#[test]
fn stop_timeout_after_exit_does_nothing() {
    let mut t = task(vec![container("app", true, &[])]);
    t.next_actions();
    bring_up(&mut t, 0);
    t.next_actions();
    t.apply(Event::Started {
        container: 0,
        result: Ok(()),
    });
    t.apply(Event::DesiredStatus {
        status: DesiredStatus::Stopped,
        reason: Some("Task stopped by user".into()),
    });
    assert_eq!(
        t.next_actions(),
        vec![Action::Stop {
            container: 0,
            timeout: Duration::from_secs(30)
        }]
    );
    t.apply(Event::Exited {
        container: 0,
        exit_code: 143,
        at_ms: 3,
    });
    assert_eq!(t.on_stop_timeout(0), None);
    let r = t.take_report().unwrap();
    assert_eq!(r.task_status, Some(TaskStatus::Stopped));
    assert_eq!(r.reason.as_deref(), Some("Task stopped by user"));
}

#[test]
fn desired_stop_while_pulling_never_creates() {
    let mut t = task(vec![container("app", true, &[])]);
    assert_eq!(t.next_actions(), vec![Action::Pull(0)]);
    t.apply(Event::DesiredStatus {
        status: DesiredStatus::Stopped,
        reason: None,
    });
    assert_eq!(t.next_actions(), vec![]);
    t.apply(Event::Pulled {
        container: 0,
        result: Ok("d".into()),
    });
    assert_eq!(t.next_actions(), vec![], "no create after stop");
    assert_eq!(t.known, TaskStatus::Stopped);
    let r = t.take_report().unwrap();
    assert_eq!(r.containers[0].exit_code, None);
}

#[test]
fn depends_on_start_waits_for_dependency_running() {
    let mut t = task(vec![
        container("web", true, &[("db", Condition::Start)]),
        container("db", true, &[]),
    ]);
    t.next_actions();
    bring_up(&mut t, 0);
    bring_up(&mut t, 1);
    assert_eq!(t.next_actions(), vec![Action::Start(1)]);
    t.apply(Event::Started {
        container: 1,
        result: Ok(()),
    });
    assert_eq!(t.next_actions(), vec![Action::Start(0)]);
}

#[test]
fn depends_on_success_runs_init_first_and_task_is_pending_meanwhile() {
    let mut t = task(vec![
        container("init", false, &[]),
        container("app", true, &[("init", Condition::Success)]),
    ]);
    t.next_actions();
    bring_up(&mut t, 0);
    bring_up(&mut t, 1);
    let digests = t.take_report().unwrap();
    assert_eq!(digests.task_status, Some(TaskStatus::Pending));
    assert_eq!(t.next_actions(), vec![Action::Start(0)]);
    t.apply(Event::Started {
        container: 0,
        result: Ok(()),
    });
    assert_eq!(t.next_actions(), vec![]);
    assert_eq!(t.known, TaskStatus::Pending, "app has not started yet");
    let r = t.take_report().unwrap();
    assert_eq!(r.task_status, None);
    assert_eq!(r.containers[0].status, ContainerStatus::Running);
    t.apply(Event::Exited {
        container: 0,
        exit_code: 0,
        at_ms: 1,
    });
    assert_eq!(t.next_actions(), vec![Action::Start(1)]);
    t.apply(Event::Started {
        container: 1,
        result: Ok(()),
    });
    assert_eq!(t.known, TaskStatus::Running);
}

#[test]
fn depends_on_success_with_failed_dependency_stops_dependent() {
    let mut t = task(vec![
        container("init", false, &[]),
        container("app", true, &[("init", Condition::Success)]),
    ]);
    t.next_actions();
    bring_up(&mut t, 0);
    bring_up(&mut t, 1);
    t.next_actions();
    t.apply(Event::Started {
        container: 0,
        result: Ok(()),
    });
    t.apply(Event::Exited {
        container: 0,
        exit_code: 2,
        at_ms: 1,
    });
    assert_eq!(t.next_actions(), vec![]);
    assert_eq!(t.known, TaskStatus::Stopped);
    let reason = t.stop_reason().unwrap();
    assert!(reason.contains("\"init\" exited with code 2"), "{reason}");
    assert!(reason.contains("SUCCESS"), "{reason}");
}

#[test]
fn depends_on_complete_accepts_any_exit_code() {
    let mut t = task(vec![
        container("init", false, &[]),
        container("app", true, &[("init", Condition::Complete)]),
    ]);
    t.next_actions();
    bring_up(&mut t, 0);
    bring_up(&mut t, 1);
    t.next_actions();
    t.apply(Event::Started {
        container: 0,
        result: Ok(()),
    });
    assert_eq!(t.next_actions(), vec![]);
    t.apply(Event::Exited {
        container: 0,
        exit_code: 7,
        at_ms: 1,
    });
    assert_eq!(t.next_actions(), vec![Action::Start(1)]);
}

#[test]
fn dependency_that_never_started_fails_dependent() {
    let mut t = task(vec![
        container("db", false, &[]),
        container("web", true, &[("db", Condition::Start)]),
    ]);
    t.next_actions();
    t.apply(Event::Pulled {
        container: 0,
        result: Err(Failure::new(FailureKind::CannotPull, "nope")),
    });
    bring_up(&mut t, 1);
    t.next_actions();
    assert_eq!(t.known, TaskStatus::Stopped);
    let reason = t.stop_reason().unwrap();
    assert!(reason.contains("\"db\" never started"), "{reason}");
}

#[test]
fn stop_goes_in_reverse_dependency_order() {
    let mut t = task(vec![
        container("db", true, &[]),
        container("web", true, &[("db", Condition::Start)]),
    ]);
    t.next_actions();
    bring_up(&mut t, 0);
    bring_up(&mut t, 1);
    t.next_actions();
    t.apply(Event::Started {
        container: 0,
        result: Ok(()),
    });
    t.next_actions();
    t.apply(Event::Started {
        container: 1,
        result: Ok(()),
    });
    t.apply(Event::DesiredStatus {
        status: DesiredStatus::Stopped,
        reason: None,
    });
    assert_eq!(
        t.next_actions(),
        vec![Action::Stop {
            container: 1,
            timeout: Duration::from_secs(30)
        }],
        "web (the dependent) stops first"
    );
    t.apply(Event::Exited {
        container: 1,
        exit_code: 0,
        at_ms: 1,
    });
    assert_eq!(
        t.next_actions(),
        vec![Action::Stop {
            container: 0,
            timeout: Duration::from_secs(30)
        }]
    );
}

#[test]
fn duplicate_exit_is_ignored() {
    let mut t = task(vec![container("app", true, &[])]);
    t.next_actions();
    bring_up(&mut t, 0);
    t.next_actions();
    t.apply(Event::Started {
        container: 0,
        result: Ok(()),
    });
    t.apply(Event::Exited {
        container: 0,
        exit_code: 1,
        at_ms: 1,
    });
    t.take_report();
    t.apply(Event::Exited {
        container: 0,
        exit_code: 9,
        at_ms: 2,
    });
    assert_eq!(t.containers[0].exit_code, Some(1));
    assert_eq!(t.take_report(), None);
}

#[test]
fn events_for_unknown_containers_are_ignored() {
    let mut t = task(vec![container("app", true, &[])]);
    t.apply(Event::Exited {
        container: 5,
        exit_code: 0,
        at_ms: 1,
    });
    t.apply(Event::Pulled {
        container: 9,
        result: Ok("d".into()),
    });
    assert_eq!(t.known, TaskStatus::Pending);
}

#[test]
fn pull_times_are_kept_first_start_last_stop() {
    let mut t = task(vec![container("app", true, &[])]);
    t.apply(Event::PullStarted { at_ms: 10 });
    t.apply(Event::PullStarted { at_ms: 20 });
    t.apply(Event::PullStopped { at_ms: 30 });
    assert_eq!(t.pull_started_at_ms, Some(10));
    assert_eq!(t.pull_stopped_at_ms, Some(30));
}

#[test]
fn network_bindings_are_reported_with_the_container() {
    use super::def::{ContainerNetwork, NetworkBinding, Protocol};
    let mut t = task(vec![container("web", true, &[])]);
    t.next_actions();
    let net = ContainerNetwork {
        ipv4: Some("10.0.0.2".parse().unwrap()),
        bindings: vec![NetworkBinding {
            container_port: 80,
            host_port: 41000,
            protocol: Protocol::Tcp,
            bind_ip: "0.0.0.0".parse().unwrap(),
        }],
        sources: vec!["10.0.0.2".parse().unwrap()],
    };
    t.apply(Event::NetworkReady {
        container: 0,
        network: net.clone(),
    });
    bring_up(&mut t, 0);
    t.apply(Event::Started {
        container: 0,
        result: Ok(()),
    });
    let r = t.take_report().expect("running report");
    assert_eq!(r.containers[0].network_bindings, net.bindings);
    assert_eq!(t.containers[0].network, Some(net));
}

#[test]
fn digests_are_reported_once_after_the_last_pull() {
    let mut t = task(vec![container("a", true, &[]), container("b", true, &[])]);
    t.next_actions();
    t.apply(Event::Pulled {
        container: 0,
        result: Ok("sha256:a".into()),
    });
    assert_eq!(t.take_report(), None, "b's digest is not known yet");
    t.apply(Event::Pulled {
        container: 1,
        result: Ok("sha256:b".into()),
    });
    let r = t.take_report().expect("digests report");
    assert_eq!(r.task_status, Some(TaskStatus::Pending));
    let digests: Vec<(&str, Option<&str>)> = r
        .containers
        .iter()
        .map(|c| (c.name.as_str(), c.image_digest.as_deref()))
        .collect();
    assert_eq!(
        digests,
        vec![("a", Some("sha256:a")), ("b", Some("sha256:b"))]
    );
    assert_eq!(t.take_report(), None, "sent once");
    // The RUNNING report carries the digests too, as the Go agent's does.
    for i in 0..2 {
        t.apply(Event::Created {
            container: i,
            result: Ok(format!("id{i}")),
        });
        t.apply(Event::Started {
            container: i,
            result: Ok(()),
        });
    }
    let r = t.take_report().expect("running report");
    assert_eq!(r.task_status, Some(TaskStatus::Running));
    assert!(
        r.containers.iter().all(|c| c.image_digest.is_some()),
        "{r:?}"
    );
}

/// The Go agent reports an OOM-killed container with its own reason, and the
/// task with the essential-exit one.
#[test]
fn an_oom_kill_gives_the_container_the_go_agents_reason() {
    let mut t = task(vec![container("app", true, &[])]);
    t.next_actions();
    bring_up(&mut t, 0);
    t.next_actions();
    t.apply(Event::Started {
        container: 0,
        result: Ok(()),
    });
    t.take_report();
    t.apply(Event::OomKilled { container: 0 });
    t.apply(Event::Exited {
        container: 0,
        exit_code: 137,
        at_ms: 1,
    });
    t.next_actions();
    let r = t.take_report().unwrap();
    assert_eq!(
        r.containers[0].reason.as_deref(),
        Some("OutOfMemoryError: Container killed due to memory usage")
    );
    assert_eq!(r.containers[0].exit_code, Some(137));
    assert_eq!(r.reason.as_deref(), Some(ESSENTIAL_EXITED));
}

#[test]
fn a_volumes_from_container_is_created_after_its_source() {
    let mut reader = container("reader", true, &[]);
    reader.volumes_from = vec![crate::task::volumes::VolumesFrom {
        source_container: "data".into(),
        read_only: true,
    }];
    let mut t = task(vec![reader, container("data", false, &[])]);
    assert_eq!(t.next_actions(), vec![Action::Pull(0), Action::Pull(1)]);
    for i in [0, 1] {
        t.apply(Event::Pulled {
            container: i,
            result: Ok("sha256:d".into()),
        });
    }
    assert_eq!(
        t.next_actions(),
        vec![Action::Create(1)],
        "the source first"
    );
    t.apply(Event::Created {
        container: 1,
        result: Ok("id1".into()),
    });
    let next = t.next_actions();
    assert!(next.contains(&Action::Create(0)), "{next:?}");
}

#[test]
fn a_linking_container_is_created_after_the_linked_one() {
    let mut web = container("web", true, &[("db", Condition::Start)]);
    web.net.links = vec![crate::task::netopts::Link {
        container: "db".into(),
        alias: "database".into(),
    }];
    let mut t = task(vec![container("db", false, &[]), web]);
    t.next_actions();
    for i in 0..2 {
        t.apply(Event::Pulled {
            container: i,
            result: Ok("d".into()),
        });
    }
    // Only db is created while it is not made yet.
    assert_eq!(t.next_actions(), vec![Action::Create(0)]);
    t.apply(Event::Created {
        container: 0,
        result: Ok("id0".into()),
    });
    let actions = t.next_actions();
    assert!(actions.contains(&Action::Create(1)), "{actions:?}");
}

/// A non-essential container whose secrets (or environment files, or
/// repositoryCredentials) cannot be fetched stops the task with the
/// resource's reason, as the Go agent's failed task resource does; another
/// failure of a non-essential container leaves the task running.
#[test]
fn a_non_essential_containers_resource_failure_stops_the_task() {
    let reason =
        "fetching secret data from SSM Parameter Store in us-east-1: invalid parameters: /gone";
    let mut t = task(vec![
        container("app", true, &[]),
        container("job", false, &[]),
        container("side", false, &[]),
    ]);
    t.next_actions();
    bring_up(&mut t, 0);
    t.apply(Event::Pulled {
        container: 2,
        result: Err(Failure::new(FailureKind::CannotPull, "manifest unknown")),
    });
    t.next_actions();
    assert_eq!(t.desired, DesiredStatus::Running);
    t.apply(Event::Pulled {
        container: 1,
        result: Ok("sha256:d".into()),
    });
    t.apply(Event::Created {
        container: 1,
        result: Err(Failure::new(FailureKind::Resource, reason)),
    });
    t.next_actions();
    assert_eq!(t.desired, DesiredStatus::Stopped);
    assert_eq!(
        t.stop_reason.as_ref().map(ToString::to_string).as_deref(),
        Some(reason)
    );
}
