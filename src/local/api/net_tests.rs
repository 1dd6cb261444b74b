//! ENIs for awsvpc tasks, task role credentials, tags and network bindings,
//! end to end on an in-memory state.

use super::dispatch;
use super::lifecycle::{ack, attach_expired, fail_unattached, Acked};
use super::tests::{call, ctx};
use crate::local::credentials::Role;
use crate::local::enis::{self, EniRequest};
use crate::local::error::ErrorKind;
use crate::local::refresh;
use crate::local::state::{OutMessage, Outgoing, State};
use serde_json::{json, Value};

fn setup() -> (State, String) {
    let mut st = State::default();
    call(&mut st, "CreateCluster", json!({"clusterName": "c"}));
    let r = call(
        &mut st,
        "RegisterContainerInstance",
        json!({
            "cluster": "c",
            "totalResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": 4096},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 4096}
            ],
            // What an agent with task networking advertises; awsvpc also
            // requires docker-remote-api.1.18.
            "attributes": [{"name": "ecs.capability.task-eni"},
                {"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"},
                {"name": "com.amazonaws.ecs.capability.task-iam-role"}]
        }),
    );
    let arn = r["containerInstance"]["containerInstanceArn"]
        .as_str()
        .unwrap()
        .to_string();
    st.instances.get_mut(&arn).unwrap().agent_connected = true;
    call(
        &mut st,
        "RegisterTaskDefinition",
        json!({
            "family": "vpc", "networkMode": "awsvpc",
            "taskRoleArn": "arn:aws:iam::000000000000:role/app",
            "executionRoleArn": "arn:aws:iam::000000000000:role/exec",
            "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 64}],
            "tags": [{"key": "team", "value": "net"}, {"key": "tier", "value": "td"}]
        }),
    );
    (st, arn)
}

fn add_eni(st: &mut State, subnet: &str, n: u8) -> String {
    let req = EniRequest {
        subnet_id: Some(subnet.into()),
        mac_address: Some(format!("02:aa:bb:cc:dd:{n:02x}")),
        private_ipv4_address: Some(format!("10.99.0.{n}")),
        subnet_cidr: Some("10.99.0.0/24".into()),
        gateway: Some("10.99.0.1".into()),
        dns_servers: Some(vec!["10.99.0.2".into()]),
        private_dns_name: Some(format!("ip-10-99-0-{n}.ec2.internal")),
    };
    let rec = enis::validate(st, &req, enis::new_eni_id(), 1.0).unwrap();
    let id = rec.network_interface_id.clone();
    st.put_eni(rec);
    id
}

fn run(st: &mut State, extra: Value) -> Value {
    let mut body = json!({"cluster": "c", "taskDefinition": "vpc"});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    call(st, "RunTask", body)
}

fn subnets(list: &[&str]) -> Value {
    json!({"networkConfiguration": {"awsvpcConfiguration": {"subnets": list}}})
}

fn queued(st: &State, task: &str) -> Vec<Outgoing> {
    let mut v: Vec<Outgoing> = st
        .outbox
        .values()
        .filter(|o| o.task_arn == task)
        .cloned()
        .collect();
    v.sort_by_key(|o| o.order);
    v
}

fn describe(st: &mut State, task: &str, include_tags: bool) -> Value {
    let mut body = json!({"cluster": "c", "tasks": [task]});
    if include_tags {
        body["include"] = json!(["TAGS"]);
    }
    call(st, "DescribeTasks", body)["tasks"][0].clone()
}

fn detail<'a>(attachment: &'a Value, name: &str) -> &'a Value {
    attachment["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .map(|d| &d["value"])
        .unwrap_or(&Value::Null)
}

#[test]
fn awsvpc_task_takes_a_registered_eni_and_gives_it_back() {
    let (mut st, inst) = setup();
    let eni = add_eni(&mut st, "subnet-a", 5);
    let r = run(&mut st, subnets(&["subnet-x", "subnet-a"]));
    assert_eq!(r["failures"], json!([]), "{r}");
    let task = r["tasks"][0]["taskArn"].as_str().unwrap().to_string();
    assert_eq!(r["tasks"][0]["lastStatus"], "PROVISIONING");

    let t = describe(&mut st, &task, false);
    let a = &t["attachments"][0];
    assert_eq!(a["type"], "ElasticNetworkInterface");
    // Not ATTACHED until the agent says so.
    assert_eq!(a["status"], "PRECREATED");
    assert_eq!(detail(a, "subnetId"), "subnet-a");
    assert_eq!(detail(a, "networkInterfaceId"), eni.as_str());
    assert_eq!(detail(a, "macAddress"), "02:aa:bb:cc:dd:05");
    assert_eq!(detail(a, "privateIPv4Address"), "10.99.0.5");
    assert_eq!(detail(a, "privateDnsName"), "ip-10-99-0-5.ec2.internal");
    let ni = &t["containers"][0]["networkInterfaces"][0];
    assert_eq!(ni["attachmentId"], a["id"]);
    assert_eq!(ni["privateIpv4Address"], "10.99.0.5");

    // Only the attachment goes out: the payload waits for the ATTACHED report.
    let q = queued(&st, &task);
    assert_eq!(q.len(), 1, "{q:?}");
    let OutMessage::AttachEnis(m) = &q[0].message else {
        panic!("attachment first: {q:?}")
    };
    assert_eq!(m.task_arn.as_deref(), Some(task.as_str()));
    assert_eq!(m.container_instance_arn.as_deref(), Some(inst.as_str()));
    assert_eq!(m.wait_timeout_ms, Some(60_000));
    assert_eq!(m.message_id.as_deref(), Some(q[0].message_id.as_str()));
    let attach_message_id = q[0].message_id.clone();
    let attachment_arn = m.elastic_network_interfaces[0]
        .attachment_arn
        .clone()
        .unwrap();

    // No ENI left in that subnet: RESOURCE:ENI, from RunTask and StartTask.
    let r2 = run(&mut st, subnets(&["subnet-a"]));
    assert_eq!(r2["tasks"], json!([]));
    assert_eq!(
        r2["failures"],
        json!([{"arn": inst, "reason": "RESOURCE:ENI"}])
    );
    let mut body = subnets(&["subnet-a"]);
    body["cluster"] = json!("c");
    body["taskDefinition"] = json!("vpc");
    body["containerInstances"] = json!([inst]);
    let s = call(&mut st, "StartTask", body);
    assert_eq!(s["failures"][0]["reason"], "RESOURCE:ENI", "{s}");

    // The agent acks the attachment (AckRequest): ATTACHING.
    assert_eq!(ack(&mut st, &inst, &attach_message_id, true), None);
    assert_eq!(
        ack(&mut st, &inst, &attach_message_id, false),
        Some(Acked::EniAttachment)
    );
    assert_eq!(st.meta.eni_attachment_acks, 1);
    let t = describe(&mut st, &task, false);
    assert_eq!(t["attachments"][0]["status"], "ATTACHING");
    assert_eq!(t["lastStatus"], "PROVISIONING");

    // A report naming an attachment the task does not have is refused.
    let e = dispatch(
        &mut st,
        &mut ctx(),
        "SubmitTaskStateChange",
        json!({"cluster": "c", "task": task,
               "attachments": [{"attachmentArn": "arn:nope", "status": "ATTACHED"}]}),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("attachments[0].attachmentArn"),
        "{e}"
    );

    // The Go agent's report (ecs-agent/api/ecs/client/ecs_client.go
    // submitTaskStateChange with an Attachment): cluster, task, attachments.
    call(
        &mut st,
        "SubmitTaskStateChange",
        json!({"cluster": "c", "task": task,
               "attachments": [{"attachmentArn": attachment_arn, "status": "ATTACHED"}]}),
    );
    let t = describe(&mut st, &task, false);
    assert_eq!(t["attachments"][0]["status"], "ATTACHED");
    assert_eq!(t["lastStatus"], "PENDING");
    let held = &st.tasks[&task].eni.as_ref().unwrap().reported_with;
    assert_eq!(held, &vec!["attachments", "cluster", "task"]);

    // Now the payload, carrying the same ENI.
    let q = queued(&st, &task);
    assert_eq!(q.len(), 1, "{q:?}");
    let p = q[0].payload().expect("the payload");
    let e = &p.tasks[0].elastic_network_interfaces[0];
    assert_eq!(e, &m.elastic_network_interfaces[0]);
    assert_eq!(e.ec2_id.as_deref(), Some(eni.as_str()));
    assert_eq!(e.mac_address.as_deref(), Some("02:aa:bb:cc:dd:05"));
    assert_eq!(
        e.subnet_gateway_ipv4_address.as_deref(),
        Some("10.99.0.1/24")
    );
    assert_eq!(
        e.ipv4_addresses[0].private_address.as_deref(),
        Some("10.99.0.5")
    );
    assert_eq!(e.ipv4_addresses[0].primary, Some(true));
    assert_eq!(e.domain_name_servers, vec!["10.99.0.2"]);
    assert_eq!(e.interface_association_protocol.as_deref(), Some("default"));
    let attachment_id = a["id"].as_str().unwrap();
    assert!(
        e.attachment_arn
            .as_deref()
            .unwrap()
            .ends_with(&format!(":attachment/{attachment_id}")),
        "{e:?}"
    );
    // A second report changes nothing and queues nothing more.
    call(
        &mut st,
        "SubmitTaskStateChange",
        json!({"cluster": "c", "task": task,
               "attachments": [{"attachmentArn": attachment_arn, "status": "ATTACHED"}]}),
    );
    assert_eq!(queued(&st, &task).len(), 1);
    assert_eq!(
        ack(&mut st, &inst, &q[0].message_id, false),
        Some(Acked::Payload)
    );
    assert_eq!(st.meta.eni_attachment_acks, 1);

    // STOPPED: the attachment is DELETED and the ENI free again.
    call(
        &mut st,
        "SubmitTaskStateChange",
        json!({"cluster": "c", "task": task, "status": "STOPPED"}),
    );
    let t = describe(&mut st, &task, false);
    assert_eq!(t["attachments"][0]["status"], "DELETED");
    let r3 = run(&mut st, subnets(&["subnet-a"]));
    assert_eq!(r3["failures"], json!([]), "{r3}");
    let t3 = &r3["tasks"][0];
    assert_eq!(
        detail(&t3["attachments"][0], "networkInterfaceId"),
        eni.as_str()
    );
}

#[test]
fn an_eni_never_reported_attached_stops_its_task() {
    let (mut st, _inst) = setup();
    let eni = add_eni(&mut st, "subnet-a", 5);
    let r = run(&mut st, subnets(&["subnet-a"]));
    let task = r["tasks"][0]["taskArn"].as_str().unwrap().to_string();
    let deadline = st.tasks[&task]
        .eni
        .as_ref()
        .unwrap()
        .attach_deadline
        .unwrap();
    assert_eq!(deadline, ctx().now + 60.0);
    assert!(attach_expired(&st, deadline - 0.1).is_empty());
    assert_eq!(attach_expired(&st, deadline), vec![task.clone()]);
    fail_unattached(&mut st, &mut ctx(), &task);
    let t = describe(&mut st, &task, false);
    assert_eq!(t["lastStatus"], "STOPPED", "{t}");
    assert_eq!(t["desiredStatus"], "STOPPED");
    assert_eq!(t["stopCode"], "TaskFailedToStart");
    let reason = t["stoppedReason"].as_str().unwrap();
    let attachment = st.tasks[&task].eni.as_ref().unwrap().attachment_arn.clone();
    assert!(
        reason.starts_with("Timeout waiting for network interface provisioning to complete")
            && reason.contains(&attachment)
            && reason.contains(&eni),
        "{reason}"
    );
    assert_eq!(t["attachments"][0]["status"], "DELETED");
    // Nothing was ever sent but the attachment, and that is withdrawn.
    assert!(queued(&st, &task).is_empty());
    assert!(attach_expired(&st, deadline + 1.0).is_empty());
    // The ENI is free again.
    let r = run(&mut st, subnets(&["subnet-a"]));
    assert_eq!(r["failures"], json!([]), "{r}");
}

#[test]
fn stopping_a_task_whose_eni_is_not_attached_stops_it_at_once() {
    let (mut st, _inst) = setup();
    add_eni(&mut st, "subnet-a", 5);
    let r = run(&mut st, subnets(&["subnet-a"]));
    let task = r["tasks"][0]["taskArn"].as_str().unwrap().to_string();
    call(&mut st, "StopTask", json!({"cluster": "c", "task": task}));
    let t = describe(&mut st, &task, false);
    assert_eq!(t["lastStatus"], "STOPPED", "{t}");
    assert!(queued(&st, &task).is_empty());
}

#[test]
fn enis_run_out_partway_through_a_count() {
    let (mut st, inst) = setup();
    add_eni(&mut st, "subnet-a", 5);
    add_eni(&mut st, "subnet-b", 6);
    let mut body = subnets(&["subnet-a", "subnet-b"]);
    body["count"] = json!(3);
    let r = run(&mut st, body);
    let tasks = r["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{r}");
    assert_eq!(
        r["failures"],
        json!([{"arn": inst, "reason": "RESOURCE:ENI"}])
    );
    let ips: Vec<&Value> = tasks
        .iter()
        .map(|t| detail(&t["attachments"][0], "privateIPv4Address"))
        .collect();
    // Subnets in the order given.
    assert_eq!(ips, vec!["10.99.0.5", "10.99.0.6"]);
}

#[test]
fn awsvpc_without_enis_runs_in_local_mode() {
    let (mut st, _) = setup();
    add_eni(&mut st, "subnet-a", 5);
    // No awsvpcConfiguration at all, or one naming subnets without ENIs.
    for extra in [json!({}), subnets(&["subnet-none"])] {
        let r = run(&mut st, extra);
        assert_eq!(r["failures"], json!([]), "{r}");
        let task = r["tasks"][0]["taskArn"].as_str().unwrap().to_string();
        assert_eq!(r["tasks"][0]["attachments"], json!([]));
        assert_eq!(
            r["tasks"][0]["containers"][0]["networkInterfaces"],
            json!([])
        );
        let q = queued(&st, &task);
        assert_eq!(q.len(), 1, "payload only: {q:?}");
        assert!(q[0].payload().unwrap().tasks[0]
            .elastic_network_interfaces
            .is_empty());
        assert_eq!(
            q[0].payload().unwrap().tasks[0].network_mode.as_deref(),
            Some("awsvpc")
        );
    }
}

#[test]
fn network_configuration_is_checked() {
    let (mut st, _) = setup();
    let err = |st: &mut State, body: Value| dispatch(st, &mut ctx(), "RunTask", body).unwrap_err();
    let mut b = subnets(&[]);
    b["taskDefinition"] = json!("vpc");
    b["cluster"] = json!("c");
    let e = err(&mut st, b.clone());
    assert_eq!(e.kind, ErrorKind::InvalidParameter);
    assert!(e.message.contains("subnets"), "{}", e.message);
    b["networkConfiguration"]["awsvpcConfiguration"] =
        json!({"subnets": ["subnet-a"], "assignPublicIp": "ENABLED"});
    let e = err(&mut st, b.clone());
    assert!(e.message.contains("Assign public IP"), "{}", e.message);
    call(
        &mut st,
        "RegisterTaskDefinition",
        json!({"family": "br", "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 64}]}),
    );
    let e = err(
        &mut st,
        json!({"cluster": "c", "taskDefinition": "br",
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-a"]}}}),
    );
    assert_eq!(
        e.message,
        "Network Configuration is not valid for the given networkMode of this task definition."
    );
}

#[test]
fn role_credentials_are_minted_delivered_and_refreshed() {
    let (mut st, inst) = setup();
    let r = run(
        &mut st,
        json!({"overrides": {"taskRoleArn": "arn:aws:iam::000000000000:role/other"}}),
    );
    let task = r["tasks"][0]["taskArn"].as_str().unwrap().to_string();
    let t = st.tasks[&task].clone();
    let role = t.role_credentials.clone().expect("task role credentials");
    let exec = t
        .execution_role_credentials
        .clone()
        .expect("execution role");
    assert_eq!(
        role.credentials.role_arn.as_deref(),
        Some("arn:aws:iam::000000000000:role/other"),
        "the override wins"
    );
    assert_eq!(
        exec.credentials.role_arn.as_deref(),
        Some("arn:aws:iam::000000000000:role/exec")
    );
    assert_ne!(
        role.credentials.credentials_id,
        exec.credentials.credentials_id
    );
    assert_eq!(role.expires_at, 1000.0 + 100.0);
    assert_eq!(role.refresh_at, 1075.0);
    let q = queued(&st, &task);
    let p = q[0].payload().unwrap();
    assert_eq!(
        p.tasks[0].role_credentials.as_ref(),
        Some(&role.credentials)
    );
    assert_eq!(
        p.tasks[0].execution_role_credentials.as_ref(),
        Some(&exec.credentials)
    );

    // Not due yet; then due for both roles.
    let (due, next) = refresh::due(&st, 1010.0);
    assert!(due.is_empty());
    assert_eq!(next, Some(1075.0));
    let (due, _) = refresh::due(&st, 1075.0);
    assert_eq!(due.len(), 2);
    let mut cx = ctx();
    cx.now = 1075.0;
    refresh::refresh(&mut st, &mut cx, &task, Role::Task);
    let fresh = st.tasks[&task].role_credentials.clone().unwrap();
    assert_eq!(
        fresh.credentials.credentials_id,
        role.credentials.credentials_id
    );
    assert_ne!(
        fresh.credentials.access_key_id,
        role.credentials.access_key_id
    );
    assert_ne!(
        fresh.credentials.session_token,
        role.credentials.session_token
    );
    assert_eq!(fresh.expires_at, 1175.0);
    assert_eq!(cx.notify, vec![inst.clone()]);
    let q = queued(&st, &task);
    assert_eq!(q.len(), 2);
    // The unacked payload now hands out the new keys too.
    assert_eq!(
        q[0].payload().unwrap().tasks[0].role_credentials.as_ref(),
        Some(&fresh.credentials)
    );
    let OutMessage::Credentials(m) = &q[1].message else {
        panic!("{q:?}")
    };
    assert_eq!(m.role_type.as_deref(), Some("TaskApplication"));
    assert_eq!(m.task_arn.as_deref(), Some(task.as_str()));
    assert_eq!(m.role_credentials.as_ref(), Some(&fresh.credentials));
    // A second refresh before the ack replaces the pending message.
    refresh::refresh(&mut st, &mut cx, &task, Role::Task);
    let q = queued(&st, &task);
    assert_eq!(q.len(), 2);
    let newest = q[1].message_id.clone();
    assert_eq!(
        ack(&mut st, &inst, &newest, false),
        None,
        "not an AckRequest's"
    );
    assert_eq!(ack(&mut st, &inst, &newest, true), Some(Acked::Credentials));
    assert_eq!(st.meta.credential_refresh_acks, 1);

    // Desired STOPPED: no more refreshes.
    call(&mut st, "StopTask", json!({"cluster": "c", "task": task}));
    let (due, next) = refresh::due(&st, 5000.0);
    assert!(due.is_empty() && next.is_none(), "{due:?}");
}

#[test]
fn task_without_roles_gets_no_credentials() {
    let (mut st, _) = setup();
    call(
        &mut st,
        "RegisterTaskDefinition",
        json!({"family": "plain", "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 64}]}),
    );
    let r = call(
        &mut st,
        "RunTask",
        json!({"cluster": "c", "taskDefinition": "plain"}),
    );
    let task = r["tasks"][0]["taskArn"].as_str().unwrap();
    assert!(st.tasks[task].role_credentials.is_none());
    assert!(st.tasks[task].execution_role_credentials.is_none());
    let p = &queued(&st, task)[0];
    assert!(p.payload().unwrap().tasks[0].role_credentials.is_none());
}

fn list_tags(st: &mut State, arn: &str) -> Value {
    call(st, "ListTagsForResource", json!({"resourceArn": arn}))["tags"].clone()
}

#[test]
fn tags_on_every_taggable_resource() {
    let (mut st, inst) = setup();
    let cluster = "arn:aws:ecs:us-east-1:000000000000:cluster/c";
    let td = "arn:aws:ecs:us-east-1:000000000000:task-definition/vpc:1";
    let r = run(
        &mut st,
        json!({"tags": [{"key": "tier", "value": "run"}], "propagateTags": "TASK_DEFINITION",
            "enableECSManagedTags": true}),
    );
    let task = r["tasks"][0]["taskArn"].as_str().unwrap().to_string();
    // Given tags win over the task definition's; then the managed tag.
    assert_eq!(
        list_tags(&mut st, &task),
        json!([{"key": "tier", "value": "run"}, {"key": "team", "value": "net"},
            {"key": "aws:ecs:clusterName", "value": "c"}])
    );
    assert!(describe(&mut st, &task, false).get("tags").is_none());
    assert_eq!(describe(&mut st, &task, true)["tags"][0]["key"], "tier");
    assert_eq!(
        list_tags(&mut st, td),
        json!([{"key": "team", "value": "net"}, {"key": "tier", "value": "td"}])
    );
    for arn in [cluster, inst.as_str(), td, task.as_str()] {
        call(
            &mut st,
            "TagResource",
            json!({"resourceArn": arn, "tags": [{"key": "env", "value": "test"}, {"key": "team", "value": "x"}]}),
        );
        let tags = list_tags(&mut st, arn);
        assert!(
            tags.as_array()
                .unwrap()
                .contains(&json!({"key": "env", "value": "test"})),
            "{arn}: {tags}"
        );
        assert!(
            tags.as_array()
                .unwrap()
                .contains(&json!({"key": "team", "value": "x"})),
            "{arn}: {tags}"
        );
        call(
            &mut st,
            "UntagResource",
            json!({"resourceArn": arn, "tagKeys": ["env", "nope"]}),
        );
        let tags = list_tags(&mut st, arn);
        assert!(!tags.to_string().contains("\"env\""), "{arn}: {tags}");
    }
    let d = call(
        &mut st,
        "DescribeClusters",
        json!({"clusters": ["c"], "include": ["TAGS"]}),
    );
    assert_eq!(
        d["clusters"][0]["tags"],
        json!([{"key": "team", "value": "x"}])
    );
    let d = call(&mut st, "DescribeClusters", json!({"clusters": ["c"]}));
    assert!(d["clusters"][0].get("tags").is_none());
    let d = call(
        &mut st,
        "DescribeTaskDefinition",
        json!({"taskDefinition": "vpc:1", "include": ["TAGS"]}),
    );
    assert!(d["tags"].to_string().contains("\"x\""), "{d}");
}

#[test]
fn tagging_errors_are_ecs_shaped() {
    let (mut st, _) = setup();
    let err =
        |st: &mut State, op: &str, body: Value| dispatch(st, &mut ctx(), op, body).unwrap_err();
    let e = err(
        &mut st,
        "ListTagsForResource",
        json!({"resourceArn": "arn:aws:ecr:us-east-1:000000000000:repository/x"}),
    );
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::InvalidParameter, "The ARN provided is invalid.")
    );
    let e = err(
        &mut st,
        "ListTagsForResource",
        json!({"resourceArn": "nonsense"}),
    );
    assert_eq!(e.kind, ErrorKind::InvalidParameter);
    let e = err(
        &mut st,
        "TagResource",
        json!({"resourceArn": "arn:aws:ecs:us-east-1:000000000000:task/c/0123", "tags": [{"key": "a", "value": "b"}]}),
    );
    assert_eq!(e.kind, ErrorKind::ResourceNotFound);
    let e = err(
        &mut st,
        "ListTagsForResource",
        json!({"resourceArn": "arn:aws:ecs:us-east-1:000000000000:cluster/nope"}),
    );
    assert_eq!(e.kind, ErrorKind::ClusterNotFound);
    let e = err(
        &mut st,
        "ListTagsForResource",
        json!({"resourceArn": "arn:aws:ecs:us-east-1:000000000000:task/0123"}),
    );
    assert_eq!(
        e.message,
        "Long arn format must be used for tagging operations"
    );
    let e = err(
        &mut st,
        "ListTagsForResource",
        json!({"resourceArn": "arn:aws:ecs:us-east-1:000000000000:task-definition/nope:1"}),
    );
    assert_eq!(e.kind, ErrorKind::ResourceNotFound);
    let cluster = "arn:aws:ecs:us-east-1:000000000000:cluster/c";
    let e = err(
        &mut st,
        "TagResource",
        json!({"resourceArn": cluster, "tags": [{"key": "aws:x", "value": "b"}]}),
    );
    assert!(e.message.contains("tags[0].key"), "{}", e.message);
    let e = err(
        &mut st,
        "TagResource",
        json!({"resourceArn": cluster, "tags": [{"key": "", "value": "b"}]}),
    );
    assert!(e.message.contains("tags[0].key"), "{}", e.message);
    let e = err(&mut st, "TagResource", json!({"resourceArn": cluster}));
    assert!(e.message.contains("tags"), "{}", e.message);
    let e = err(
        &mut st,
        "UntagResource",
        json!({"resourceArn": cluster, "tagKeys": ["aws:ecs:clusterName"]}),
    );
    assert!(e.message.contains("tagKeys[0]"), "{}", e.message);
    let many: Vec<Value> = (0..51)
        .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
        .collect();
    let e = err(
        &mut st,
        "TagResource",
        json!({"resourceArn": cluster, "tags": many}),
    );
    assert!(e.message.contains("50"), "{}", e.message);
    let e = err(
        &mut st,
        "RunTask",
        json!({"cluster": "c", "taskDefinition": "vpc", "propagateTags": "SERVICE"}),
    );
    assert!(e.message.contains("propagateTags"), "{}", e.message);
}

#[test]
fn network_bindings_reach_describe_tasks() {
    let (mut st, _) = setup();
    call(
        &mut st,
        "RegisterTaskDefinition",
        json!({"family": "web", "containerDefinitions": [
            {"name": "a", "image": "busybox", "memory": 64, "portMappings": [{"containerPort": 80}]},
            {"name": "b", "image": "busybox", "memory": 64, "portMappings": [{"containerPort": 53, "protocol": "udp"}]}]}),
    );
    let r = call(
        &mut st,
        "RunTask",
        json!({"cluster": "c", "taskDefinition": "web"}),
    );
    let task = r["tasks"][0]["taskArn"].as_str().unwrap().to_string();
    let a =
        json!([{"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 32768, "protocol": "tcp"}]);
    let b =
        json!([{"bindIP": "0.0.0.0", "containerPort": 53, "hostPort": 32769, "protocol": "udp"}]);
    call(
        &mut st,
        "SubmitTaskStateChange",
        json!({"cluster": "c", "task": task, "status": "RUNNING",
            "containers": [{"containerName": "a", "status": "RUNNING", "networkBindings": a}]}),
    );
    call(
        &mut st,
        "SubmitContainerStateChange",
        json!({"cluster": "c", "task": task, "containerName": "b", "status": "RUNNING",
            "networkBindings": b}),
    );
    let t = describe(&mut st, &task, false);
    let by_name = |n: &str| {
        t["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("a")["networkBindings"], a);
    assert_eq!(by_name("b")["networkBindings"], b);
    // A later report without bindings keeps them.
    call(
        &mut st,
        "SubmitContainerStateChange",
        json!({"cluster": "c", "task": task, "containerName": "b", "status": "STOPPED", "exitCode": 0}),
    );
    let t = describe(&mut st, &task, false);
    let b_now = t["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "b")
        .unwrap();
    assert_eq!(b_now["networkBindings"], b);
}
