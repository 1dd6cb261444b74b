//! Operations end to end on an in-memory state (no server, no store).

use super::dispatch;
use crate::local::app::Ctx;
use crate::local::error::ErrorKind;
use crate::local::state::State;
use serde_json::{json, Value};

pub(super) fn ctx() -> Ctx {
    Ctx {
        now: 1000.0,
        region: "us-east-1".into(),
        host: "127.0.0.1:1".into(),
        notify: vec![],
        credentials_ttl: 100.0,
        eni_attach_timeout_ms: 60_000,
        principal: None,
        signer: None,
        ecr_registries: Default::default(),
    }
}

pub(super) fn call(st: &mut State, op: &str, body: Value) -> Value {
    dispatch(st, &mut ctx(), op, body).unwrap_or_else(|e| panic!("{op}: {e}"))
}

fn setup() -> (State, String) {
    let mut st = State::default();
    call(&mut st, "CreateCluster", json!({"clusterName": "c"}));
    let r = call(
        &mut st,
        "RegisterContainerInstance",
        json!({
            "cluster": "c",
            "totalResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 512},
                {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22"]}
            ],
            "attributes": [{"name": "a"}, {"name": "b", "value": "v"}],
            "versionInfo": {"agentVersion": "1"}
        }),
    );
    let arn = r["containerInstance"]["containerInstanceArn"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        r["containerInstance"]["attributes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    st.instances.get_mut(&arn).unwrap().agent_connected = true;
    call(
        &mut st,
        "RegisterTaskDefinition",
        json!({
            "family": "f",
            "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 200,
                "portMappings": [{"containerPort": 80, "hostPort": 80}]}]
        }),
    );
    (st, arn)
}

#[test]
fn run_task_places_and_queues_a_payload() {
    let (mut st, inst) = setup();
    let mut cx = ctx();
    let r = dispatch(
        &mut st,
        &mut cx,
        "RunTask",
        json!({"cluster": "c", "taskDefinition": "f"}),
    )
    .unwrap();
    assert_eq!(r["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(cx.notify, vec![inst.clone()]);
    assert_eq!(st.outbox.len(), 1);
    let out = st.outbox.values().next().unwrap();
    assert_eq!(out.payload().unwrap().seq_num, Some(1));
    assert_eq!(
        out.payload().unwrap().tasks[0].desired_status.as_deref(),
        Some("RUNNING")
    );
    let d = call(
        &mut st,
        "DescribeContainerInstances",
        json!({"cluster": "c", "containerInstances": [inst]}),
    );
    let remaining = &d["containerInstances"][0]["remainingResources"];
    let mem = remaining
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "MEMORY")
        .unwrap();
    assert_eq!(mem["integerValue"], 312);
    let ports = remaining
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "PORTS")
        .unwrap();
    assert_eq!(ports["stringSetValue"], json!(["22", "80"]));
    // Port 80 is taken now.
    let r = call(
        &mut st,
        "RunTask",
        json!({"cluster": "c", "taskDefinition": "f"}),
    );
    assert_eq!(r["failures"][0]["reason"], "RESOURCE:PORTS");
}

#[test]
fn state_changes_duplicates_and_stop() {
    let (mut st, _) = setup();
    let r = call(
        &mut st,
        "RunTask",
        json!({"cluster": "c", "taskDefinition": "f"}),
    );
    let task = r["tasks"][0]["taskArn"].as_str().unwrap().to_string();
    let id = task.rsplit('/').next().unwrap().to_string();
    // The Go agent's manifest-pulled report: PENDING again, with the digest
    // (agent/api/statechange.go); news, not a duplicate.
    call(
        &mut st,
        "SubmitTaskStateChange",
        json!({"cluster": "c", "task": id, "status": "PENDING",
        "containers": [{"containerName": "app", "status": "PENDING", "imageDigest": "sha256:d1"}]}),
    );
    assert_eq!(st.meta.duplicate_state_changes, 0);
    let d = call(
        &mut st,
        "DescribeTasks",
        json!({"cluster": "c", "tasks": [id]}),
    );
    assert_eq!(
        d["tasks"][0]["containers"][0]["imageDigest"], "sha256:d1",
        "{d}"
    );
    call(
        &mut st,
        "SubmitTaskStateChange",
        json!({"cluster": "c", "task": id, "status": "RUNNING",
        "containers": [{"containerName": "app", "status": "RUNNING", "runtimeId": "x"}], "pullStartedAt": 5}),
    );
    assert_eq!(st.meta.duplicate_state_changes, 0);
    call(
        &mut st,
        "SubmitTaskStateChange",
        json!({"cluster": "c", "task": task, "status": "RUNNING"}),
    );
    assert_eq!(st.meta.duplicate_state_changes, 1);
    let d = call(&mut st, "DescribeClusters", json!({"clusters": ["c"]}));
    assert_eq!(d["clusters"][0]["statistics"][0]["value"], "1");
    assert_eq!(d["clusters"][0]["runningTasksCount"], 1);
    let s = call(
        &mut st,
        "StopTask",
        json!({"cluster": "c", "task": task, "reason": "bye"}),
    );
    assert_eq!(s["task"]["desiredStatus"], "STOPPED");
    assert_eq!(s["task"]["stoppedReason"], "bye");
    // Only the newest payload for the task stays queued.
    assert_eq!(st.outbox.len(), 1);
    let out = st.outbox.values().next().unwrap();
    assert_eq!(
        out.payload().unwrap().tasks[0].desired_status.as_deref(),
        Some("STOPPED")
    );
    assert_eq!(out.payload().unwrap().seq_num, Some(2));
    call(
        &mut st,
        "SubmitTaskStateChange",
        json!({"cluster": "c", "task": task, "status": "STOPPED"}),
    );
    assert!(st.outbox.is_empty(), "a stopped task needs no delivery");
    let l = call(
        &mut st,
        "ListTasks",
        json!({"cluster": "c", "desiredStatus": "STOPPED"}),
    );
    assert_eq!(l["taskArns"], json!([task]));
}

#[test]
fn draining_stops_tasks_and_places_none() {
    let (mut st, inst) = setup();
    let r = call(
        &mut st,
        "RunTask",
        json!({"cluster": "c", "taskDefinition": "f"}),
    );
    let task = r["tasks"][0]["taskArn"].as_str().unwrap().to_string();
    let u = call(
        &mut st,
        "UpdateContainerInstancesState",
        json!({"cluster": "c", "containerInstances": [inst], "status": "DRAINING"}),
    );
    assert_eq!(u["containerInstances"][0]["status"], "DRAINING");
    assert_eq!(st.tasks[&task].desired_status, "STOPPED");
    let r = call(
        &mut st,
        "RunTask",
        json!({"cluster": "c", "taskDefinition": "f"}),
    );
    assert_eq!(r["tasks"], json!([]));
    assert_eq!(r["failures"][0]["reason"], "INACTIVE");
    let e = dispatch(
        &mut st,
        &mut ctx(),
        "UpdateContainerInstancesState",
        json!({"cluster": "c", "containerInstances": [inst], "status": "GONE"}),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameter);
    assert!(e.message.contains("status"));
}

#[test]
fn errors_are_ecs_shaped() {
    let (mut st, inst) = setup();
    let e = dispatch(
        &mut st,
        &mut ctx(),
        "DeleteCluster",
        json!({"cluster": "c"}),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::ClusterContainsContainerInstances);
    let e = dispatch(
        &mut st,
        &mut ctx(),
        "RunTask",
        json!({"cluster": "c", "taskDefinition": 5}),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Serialization);
    assert!(e.message.contains("taskDefinition"), "{}", e.message);
    let e = dispatch(&mut st, &mut ctx(), "Frobnicate", json!({})).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownOperation);
    let e = dispatch(
        &mut st,
        &mut ctx(),
        "StopTask",
        json!({"cluster": "c", "task": "nope"}),
    )
    .unwrap_err();
    assert_eq!(e.message, "The referenced task was not found.");
    let e = dispatch(
        &mut st,
        &mut ctx(),
        "ListClusters",
        json!({"maxResults": 0}),
    )
    .unwrap_err();
    assert!(e.message.contains("maxResults"));
    let e = dispatch(
        &mut st,
        &mut ctx(),
        "DeregisterContainerInstance",
        json!({"cluster": "c"}),
    )
    .unwrap_err();
    assert!(e.message.contains("containerInstance"));
    // Deregistering an idle instance works; then the cluster can go.
    call(
        &mut st,
        "DeregisterContainerInstance",
        json!({"cluster": "c", "containerInstance": inst}),
    );
    let d = call(&mut st, "DeleteCluster", json!({"cluster": "c"}));
    assert_eq!(d["cluster"]["status"], "INACTIVE");
    let e = dispatch(&mut st, &mut ctx(), "ListTasks", json!({"cluster": "c"})).unwrap_err();
    assert_eq!(e.kind, ErrorKind::ClusterNotFound);
}

#[test]
fn pagination() {
    let mut st = State::default();
    for i in 0..5 {
        call(
            &mut st,
            "CreateCluster",
            json!({"clusterName": format!("c{i}")}),
        );
    }
    let p1 = call(&mut st, "ListClusters", json!({"maxResults": 2}));
    assert_eq!(p1["clusterArns"].as_array().unwrap().len(), 2);
    let tok = p1["nextToken"].as_str().unwrap();
    let p2 = call(
        &mut st,
        "ListClusters",
        json!({"maxResults": 10, "nextToken": tok}),
    );
    assert_eq!(p2["clusterArns"].as_array().unwrap().len(), 3);
    assert!(p2["nextToken"].is_null());
}

fn remaining(st: &mut State, inst: &str, name: &str) -> Value {
    let d = call(
        st,
        "DescribeContainerInstances",
        json!({"cluster": "c", "containerInstances": [inst]}),
    );
    d["containerInstances"][0]["remainingResources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap()["integerValue"]
        .clone()
}

/// Issue 18 point 13: two containers with cpu/memory i64::MAX used to wrap
/// the task's sum (release builds), so the impossible task was placed and the
/// instance's remaining resources went wrong. ECS's model types these fields
/// as 32-bit integers: larger values are refused at registration.
#[test]
fn huge_container_values_are_refused_at_registration() {
    let (mut st, inst) = setup();
    for field in ["cpu", "memory", "memoryReservation"] {
        let mut c = json!({"name": "a", "image": "busybox", "memory": 64});
        c[field] = json!(i64::MAX);
        if field == "memoryReservation" {
            c["memory"] = json!(i64::MAX);
        }
        let mut d = c.clone();
        d["name"] = json!("b");
        let e = dispatch(
            &mut st,
            &mut ctx(),
            "RegisterTaskDefinition",
            json!({"family": "huge", "containerDefinitions": [c, d]}),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Client, "{field}: {e}");
        assert!(e.message.contains("out of range"), "{field}: {e}");
    }
    assert_eq!(remaining(&mut st, &inst, "CPU"), 1024);
    assert_eq!(remaining(&mut st, &inst, "MEMORY"), 512);
}

/// The same through RunTask overrides: refused with InvalidParameterException,
/// nothing placed, the instance's resources untouched.
#[test]
fn huge_override_values_are_refused_not_wrapped() {
    let (mut st, inst) = setup();
    call(
        &mut st,
        "RegisterTaskDefinition",
        json!({"family": "two", "containerDefinitions": [
            {"name": "a", "image": "busybox", "memory": 10, "cpu": 1},
            {"name": "b", "image": "busybox", "memory": 10, "cpu": 1}]}),
    );
    for field in ["cpu", "memory"] {
        let ov = json!({"containerOverrides": [
            {"name": "a", field: i64::MAX}, {"name": "b", field: i64::MAX}]});
        let e = dispatch(
            &mut st,
            &mut ctx(),
            "RunTask",
            json!({"cluster": "c", "taskDefinition": "two", "overrides": ov}),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameter, "{field}: {e}");
        assert!(e.message.contains("out of range"), "{field}: {e}");
    }
    assert!(st.tasks.is_empty());
    assert_eq!(remaining(&mut st, &inst, "CPU"), 1024);
    assert_eq!(remaining(&mut st, &inst, "MEMORY"), 512);
}

/// Task-level values ECS cannot hold ("inf vCPU", > 2^31) are invalid
/// settings, not saturated into a huge reservation.
#[test]
fn huge_task_level_values_are_invalid_settings() {
    let (mut st, _) = setup();
    for (cpu, memory) in [("inf vCPU", "512"), ("256", "9223372036854775807")] {
        let e = dispatch(
            &mut st,
            &mut ctx(),
            "RegisterTaskDefinition",
            json!({"family": "t", "cpu": cpu, "memory": memory,
                "containerDefinitions": [{"name": "a", "image": "busybox"}]}),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Client, "{cpu}/{memory}: {e}");
        assert!(e.message.starts_with("Invalid '"), "{e}");
    }
}

/// A nextToken so large that start + maxResults overflows used to wrap (and
/// panic in debug builds); it is refused as an invalid parameter.
#[test]
fn huge_next_token_is_refused() {
    let mut st = State::default();
    call(&mut st, "CreateCluster", json!({"clusterName": "c"}));
    let tok = format!("ecs-local:{}", usize::MAX);
    let e = dispatch(
        &mut st,
        &mut ctx(),
        "ListClusters",
        json!({"maxResults": 10, "nextToken": tok}),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameter, "{e}");
    // A token just past the end (the list shrank) is an empty last page.
    let p = call(
        &mut st,
        "ListClusters",
        json!({"maxResults": 10, "nextToken": "ecs-local:5"}),
    );
    assert_eq!(p["clusterArns"], json!([]));
    assert!(p["nextToken"].is_null());
}
