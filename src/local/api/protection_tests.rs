use super::*;
use crate::local::api::dispatch;
use crate::local::api::tests::{call, ctx};
use crate::local::auth::TaskPrincipal;
use crate::local::credentials::Role;
use crate::local::error::ErrorKind;
use crate::local::store::Store;

const NOW: f64 = 1000.0;

/// A cluster "c" with one connected instance and `n` tasks of family "f".
fn setup(n: usize) -> (State, Vec<String>) {
    let mut st = State::default();
    call(&mut st, "CreateCluster", json!({"clusterName": "c"}));
    call(&mut st, "CreateCluster", json!({"clusterName": "other"}));
    let r = call(
        &mut st,
        "RegisterContainerInstance",
        json!({"cluster": "c", "totalResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": 4096},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 4096}]}),
    );
    let inst = r["containerInstance"]["containerInstanceArn"]
        .as_str()
        .unwrap()
        .to_string();
    st.instances.get_mut(&inst).unwrap().agent_connected = true;
    call(
        &mut st,
        "RegisterTaskDefinition",
        json!({"family": "f", "containerDefinitions": [
            {"name": "app", "image": "busybox", "memory": 64}]}),
    );
    let r = call(
        &mut st,
        "RunTask",
        json!({"cluster": "c", "taskDefinition": "f", "count": n}),
    );
    let arns: Vec<String> = r["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["taskArn"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(arns.len(), n);
    for a in &arns {
        st.tasks.get_mut(a).unwrap().last_status = "RUNNING".into();
    }
    (st, arns)
}

fn at(now: f64) -> Ctx {
    Ctx { now, ..ctx() }
}

fn try_op(st: &mut State, cx: &mut Ctx, op: &str, body: Value) -> Result<Value, ApiError> {
    dispatch(st, cx, op, body)
}

fn update(st: &mut State, body: Value) -> Value {
    try_op(st, &mut at(NOW), "UpdateTaskProtection", body).unwrap()
}

fn get_at(st: &mut State, now: f64, body: Value) -> Value {
    try_op(st, &mut at(now), "GetTaskProtection", body).unwrap()
}

fn invalid(st: &mut State, op: &str, body: Value) -> String {
    let e = try_op(st, &mut at(NOW), op, body).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameter, "{e}");
    e.message
}

#[test]
fn enabling_defaults_to_two_hours_and_get_reads_it_back() {
    let (mut st, arns) = setup(1);
    let r = update(
        &mut st,
        json!({"cluster": "c", "tasks": [arns[0]], "protectionEnabled": true}),
    );
    let want = json!([{"taskArn": arns[0], "protectionEnabled": true,
        "expirationDate": NOW + 7200.0}]);
    assert_eq!(r["protectedTasks"], want, "{r}");
    assert_eq!(r["failures"], json!([]));
    assert_eq!(st.tasks[&arns[0]].protected_until, Some(NOW + 7200.0));
    let g = get_at(
        &mut st,
        NOW + 1.0,
        json!({"cluster": "c", "tasks": [arns[0]]}),
    );
    assert_eq!(g["protectedTasks"], want);
    assert_eq!(g["failures"], json!([]));
}

#[test]
fn expires_in_minutes_is_kept_reset_and_checked() {
    let (mut st, arns) = setup(1);
    let r = update(
        &mut st,
        json!({"cluster": "c", "tasks": [arns[0]], "protectionEnabled": true, "expiresInMinutes": 1}),
    );
    assert_eq!(r["protectedTasks"][0]["expirationDate"], json!(NOW + 60.0));
    // Enabling again restarts the clock with the new duration.
    let r = update(
        &mut st,
        json!({"cluster": "c", "tasks": [arns[0]], "protectionEnabled": true, "expiresInMinutes": 2880}),
    );
    assert_eq!(
        r["protectedTasks"][0]["expirationDate"],
        json!(NOW + 2880.0 * 60.0)
    );
    for bad in [0, -5, 2881] {
        let m = invalid(
            &mut st,
            "UpdateTaskProtection",
            json!({"cluster": "c", "tasks": [arns[0]], "protectionEnabled": true, "expiresInMinutes": bad}),
        );
        assert!(m.starts_with("expiresInMinutes"), "{m}");
    }
    // Ignored when unprotecting.
    let r = update(
        &mut st,
        json!({"cluster": "c", "tasks": [arns[0]], "protectionEnabled": false, "expiresInMinutes": 0}),
    );
    assert_eq!(r["protectedTasks"][0]["protectionEnabled"], false);
}

#[test]
fn unprotecting_clears_the_expiration() {
    let (mut st, arns) = setup(1);
    update(
        &mut st,
        json!({"cluster": "c", "tasks": [arns[0]], "protectionEnabled": true}),
    );
    let r = update(
        &mut st,
        json!({"cluster": "c", "tasks": [arns[0]], "protectionEnabled": false}),
    );
    let want = json!([{"taskArn": arns[0], "protectionEnabled": false}]);
    assert_eq!(r["protectedTasks"], want);
    assert_eq!(st.tasks[&arns[0]].protected_until, None);
    let g = get_at(&mut st, NOW, json!({"cluster": "c", "tasks": [arns[0]]}));
    assert_eq!(g["protectedTasks"], want);
}

#[test]
fn expired_protection_reads_as_unprotected() {
    let (mut st, arns) = setup(1);
    update(
        &mut st,
        json!({"cluster": "c", "tasks": [arns[0]], "protectionEnabled": true, "expiresInMinutes": 1}),
    );
    let g = get_at(
        &mut st,
        NOW + 59.0,
        json!({"cluster": "c", "tasks": [arns[0]]}),
    );
    assert_eq!(g["protectedTasks"][0]["protectionEnabled"], true);
    let g = get_at(
        &mut st,
        NOW + 60.0,
        json!({"cluster": "c", "tasks": [arns[0]]}),
    );
    assert_eq!(
        g["protectedTasks"],
        json!([{"taskArn": arns[0], "protectionEnabled": false}])
    );
    let g = get_at(&mut st, NOW + 60.0, json!({"cluster": "c"}));
    assert_eq!(g["protectedTasks"], json!([]));
}

#[test]
fn unknown_stopped_and_foreign_tasks_are_failures() {
    let (mut st, arns) = setup(3);
    let stopped = &arns[1];
    let stopping = &arns[2];
    {
        let t = st.tasks.get_mut(stopped).unwrap();
        t.last_status = "STOPPED".into();
        t.desired_status = "STOPPED".into();
    }
    st.tasks.get_mut(stopping).unwrap().desired_status = "STOPPED".into();
    let id = arns[0].rsplit('/').next().unwrap();
    let nope = "arn:aws:ecs:us-east-1:000000000000:task/c/0123456789abcdef";
    let r = update(
        &mut st,
        json!({"cluster": "c", "protectionEnabled": true,
            "tasks": [id, arns[0], stopped, stopping, nope, "feedface"]}),
    );
    // The id and the ARN of the same task count once.
    assert_eq!(r["protectedTasks"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["protectedTasks"][0]["taskArn"], json!(arns[0]));
    let f = r["failures"].as_array().unwrap();
    let reasons: Vec<(&str, &str)> = f
        .iter()
        .map(|f| (f["arn"].as_str().unwrap(), f["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (stopped.as_str(), REASON_STOPPING_OR_STOPPED),
            (stopping.as_str(), REASON_STOPPING_OR_STOPPED),
            (nope, REASON_MISSING),
            (
                "arn:aws:ecs:us-east-1:000000000000:task/c/feedface",
                REASON_MISSING
            ),
        ]
    );
    assert!(f[0]["detail"].as_str().unwrap().contains("STOPPED"), "{r}");
    assert!(f[2].get("detail").is_none(), "{r}");
    assert_eq!(st.tasks[stopped].protected_until, None);

    // The same task named under another cluster is not there.
    let r = update(
        &mut st,
        json!({"cluster": "other", "tasks": [arns[0]], "protectionEnabled": true}),
    );
    assert_eq!(r["protectedTasks"], json!([]));
    assert_eq!(r["failures"][0]["reason"], REASON_MISSING);

    let g = get_at(
        &mut st,
        NOW,
        json!({"cluster": "c", "tasks": [stopped, nope]}),
    );
    assert_eq!(g["failures"][0]["reason"], REASON_STOPPING_OR_STOPPED);
    assert_eq!(g["failures"][1]["reason"], REASON_MISSING);
}

#[test]
fn pending_tasks_can_be_protected() {
    // The agent may ask before its RUNNING state change has arrived.
    let (mut st, arns) = setup(1);
    st.tasks.get_mut(&arns[0]).unwrap().last_status = "PENDING".into();
    let r = update(
        &mut st,
        json!({"cluster": "c", "tasks": [arns[0]], "protectionEnabled": true}),
    );
    assert_eq!(r["protectedTasks"][0]["protectionEnabled"], true, "{r}");
}

#[test]
fn requests_are_checked_at_the_boundary() {
    let (mut st, arns) = setup(1);
    let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
    for (op, body, field) in [
        (
            "UpdateTaskProtection",
            json!({"tasks": [arns[0]], "protectionEnabled": true}),
            "cluster",
        ),
        (
            "UpdateTaskProtection",
            json!({"cluster": "c", "protectionEnabled": true}),
            "tasks",
        ),
        (
            "UpdateTaskProtection",
            json!({"cluster": "c", "tasks": [], "protectionEnabled": true}),
            "tasks",
        ),
        (
            "UpdateTaskProtection",
            json!({"cluster": "c", "tasks": eleven, "protectionEnabled": true}),
            "tasks",
        ),
        (
            "UpdateTaskProtection",
            json!({"cluster": "c", "tasks": [arns[0]]}),
            "protectionEnabled",
        ),
        ("GetTaskProtection", json!({"tasks": [arns[0]]}), "cluster"),
        (
            "GetTaskProtection",
            json!({"cluster": "c", "tasks": vec!["t"; 101]}),
            "tasks",
        ),
    ] {
        let m = invalid(&mut st, op, body.clone());
        assert!(m.starts_with(field), "{op} {body}: {m}");
    }
    let e = try_op(
        &mut st,
        &mut at(NOW),
        "UpdateTaskProtection",
        json!({"cluster": "c", "tasks": [arns[0]], "protectionEnabled": "yes"}),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Serialization);
    assert!(e.message.contains("protectionEnabled"), "{}", e.message);
    for op in ["UpdateTaskProtection", "GetTaskProtection"] {
        let e = try_op(
            &mut st,
            &mut at(NOW),
            op,
            json!({"cluster": "nope", "tasks": [arns[0]], "protectionEnabled": true}),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::ClusterNotFound, "{op}");
    }
}

#[test]
fn get_without_tasks_lists_the_protected_ones() {
    let (mut st, arns) = setup(3);
    update(
        &mut st,
        json!({"cluster": "c", "tasks": [arns[2], arns[0]], "protectionEnabled": true}),
    );
    let g = get_at(&mut st, NOW, json!({"cluster": "c"}));
    let listed: Vec<&str> = g["protectedTasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["taskArn"].as_str().unwrap())
        .collect();
    let mut want = vec![arns[0].as_str(), arns[2].as_str()];
    want.sort_by_key(|a| {
        let t = &st.tasks[*a];
        (t.created_at.to_bits(), t.arn.clone())
    });
    assert_eq!(listed, want);
    let g = get_at(&mut st, NOW, json!({"cluster": "c", "tasks": []}));
    assert_eq!(g["protectedTasks"].as_array().unwrap().len(), 2);
}

#[test]
fn task_role_callers_act_on_their_own_task_only() {
    let (mut st, arns) = setup(2);
    let mut cx = at(NOW);
    cx.principal = Some(TaskPrincipal {
        task_arn: arns[0].clone(),
        role: Role::Task,
        role_arn: "arn:aws:iam::000000000000:role/app".into(),
    });
    let own = json!({"cluster": "c", "tasks": [arns[0]], "protectionEnabled": true});
    let r = try_op(&mut st, &mut cx, "UpdateTaskProtection", own).unwrap();
    assert_eq!(r["protectedTasks"][0]["protectionEnabled"], true);
    let r = try_op(
        &mut st,
        &mut cx,
        "GetTaskProtection",
        json!({"cluster": "c", "tasks": [arns[0].rsplit('/').next().unwrap()]}),
    )
    .unwrap();
    assert_eq!(r["protectedTasks"][0]["taskArn"], json!(arns[0]));

    let session = format!(
        "User: arn:aws:sts::000000000000:assumed-role/app/{} is not authorized to perform: ",
        arns[0].rsplit('/').next().unwrap()
    );
    for (op, body, resource) in [
        (
            "UpdateTaskProtection",
            json!({"cluster": "c", "tasks": [arns[0], arns[1]], "protectionEnabled": true}),
            arns[1].clone(),
        ),
        (
            "GetTaskProtection",
            json!({"cluster": "c", "tasks": [arns[1]]}),
            arns[1].clone(),
        ),
        (
            "GetTaskProtection",
            json!({"cluster": "c"}),
            "arn:aws:ecs:us-east-1:000000000000:cluster/c".to_string(),
        ),
        // Denied before the unknown cluster is noticed.
        (
            "GetTaskProtection",
            json!({"cluster": "nope", "tasks": [arns[0].rsplit('/').next().unwrap()]}),
            "arn:aws:ecs:us-east-1:000000000000:task/nope/".to_string()
                + arns[0].rsplit('/').next().unwrap(),
        ),
    ] {
        let e = try_op(&mut st, &mut cx, op, body.clone()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::AccessDenied, "{op} {body}");
        assert_eq!(
            e.message,
            format!(
                "{session}ecs:{op} on resource: {resource} because no identity-based policy allows the ecs:{op} action"
            )
        );
    }
    // Nothing changed for the other task.
    assert_eq!(st.tasks[&arns[1]].protected_until, None);
}

#[test]
fn protection_survives_a_reload_of_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (mut st, arns) = setup(1);
    update(
        &mut st,
        json!({"cluster": "c", "tasks": [arns[0]], "protectionEnabled": true, "expiresInMinutes": 30}),
    );
    let store = Store::open(dir.path()).unwrap();
    store.write(&st.take_changes().unwrap()).unwrap();
    drop(store);
    let mut back = Store::open(dir.path()).unwrap().load().unwrap();
    assert_eq!(back.tasks[&arns[0]].protected_until, Some(NOW + 1800.0));
    let g = get_at(&mut back, NOW, json!({"cluster": "c", "tasks": [arns[0]]}));
    assert_eq!(
        g["protectedTasks"][0]["expirationDate"],
        json!(NOW + 1800.0)
    );
}

#[test]
fn records_without_protection_still_load() {
    let old = br#"{"arn":"a","clusterArn":"c","taskDefinitionArn":"d","containerInstanceArn":"i","lastStatus":"RUNNING","desiredStatus":"RUNNING","createdAt":1.0}"#;
    let mut st = State::default();
    st.load_record(crate::local::state::Table::Tasks, "a", old)
        .unwrap();
    assert_eq!(st.tasks["a"].protected_until, None);
    assert_eq!(
        render::protected_task(&st.tasks["a"], NOW),
        json!({"taskArn": "a", "protectionEnabled": false})
    );
}
