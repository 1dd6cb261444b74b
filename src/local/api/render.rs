//! Records to ECS API response shapes.

use crate::local::enis::{render_attachments, render_container_interfaces};
use crate::local::placement::{self, Candidate, Failure};
use crate::local::state::{
    ClusterRec, InstanceRec, Resource, State, TaskDefRec, TaskRec, ACCOUNT_ID,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

pub const PENDING_STATUSES: [&str; 3] = ["PROVISIONING", "PENDING", "ACTIVATING"];

fn put_opt<T: serde::Serialize>(m: &mut Map<String, Value>, key: &str, v: &Option<T>) {
    if let Some(v) = v {
        m.insert(key.to_string(), json!(v));
    }
}

pub fn cluster(st: &State, c: &ClusterRec) -> Value {
    let instances = st
        .instances
        .values()
        .filter(|i| i.cluster_arn == c.arn && i.status != "INACTIVE")
        .count();
    let tasks = || st.tasks.values().filter(|t| t.cluster_arn == c.arn);
    let running = tasks().filter(|t| t.last_status == "RUNNING").count();
    let pending = tasks()
        .filter(|t| PENDING_STATUSES.contains(&t.last_status.as_str()))
        .count();
    let dups = st
        .meta
        .duplicates_by_cluster
        .get(&c.arn)
        .copied()
        .unwrap_or(0);
    json!({
        "clusterArn": c.arn,
        "clusterName": c.name,
        "status": c.status,
        "registeredContainerInstancesCount": instances,
        "runningTasksCount": running,
        "pendingTasksCount": pending,
        "activeServicesCount": 0,
        // ecs-local extension: duplicate state changes reported by agents.
        "statistics": [{"name": "duplicateStateChanges", "value": dups.to_string()}],
        "tags": c.tags,
        "settings": c.settings,
        "capacityProviders": [],
        "defaultCapacityProviderStrategy": [],
    })
}

/// A revision as DescribeTaskDefinition shows it: its stored definition
/// with the record's members.
pub fn taskdef(t: &TaskDefRec, definition: serde_json::Map<String, Value>) -> Value {
    let mut m = definition;
    m.insert("taskDefinitionArn".into(), json!(t.arn));
    m.insert("revision".into(), json!(t.revision));
    m.insert("status".into(), json!(t.status));
    m.insert("requiresAttributes".into(), json!(t.requires_attributes));
    m.insert("compatibilities".into(), json!(["EXTERNAL", "EC2"]));
    m.insert("registeredAt".into(), json!(t.registered_at));
    m.insert(
        "registeredBy".into(),
        json!(format!("arn:aws:iam::{ACCOUNT_ID}:root")),
    );
    put_opt(&mut m, "deregisteredAt", &t.deregistered_at);
    Value::Object(m)
}

fn live_tasks_on<'a>(
    st: &'a State,
    instance_arn: &'a str,
) -> impl Iterator<Item = &'a TaskRec> + 'a {
    st.tasks
        .values()
        .filter(move |t| t.container_instance_arn == instance_arn && t.last_status != "STOPPED")
}

fn resource<'a>(i: &'a InstanceRec, name: &str) -> Option<&'a Resource> {
    i.registered_resources.iter().find(|r| r.name == name)
}

fn ports(r: Option<&Resource>) -> BTreeSet<u16> {
    r.map(|r| {
        r.string_set_value
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect()
    })
    .unwrap_or_default()
}

fn int_value(r: Option<&Resource>) -> i64 {
    r.map(|r| r.integer_value.max(r.long_value).max(r.double_value as i64))
        .unwrap_or(0)
}

/// The instance as placement sees it: registered minus what live tasks hold.
pub fn candidate(st: &State, i: &InstanceRec) -> Candidate {
    let mut c = Candidate {
        arn: i.arn.clone(),
        status: i.status.clone(),
        connected: i.agent_connected,
        attributes: i.attributes.clone(),
        cpu_free: int_value(resource(i, "CPU")),
        memory_free: int_value(resource(i, "MEMORY")),
        tcp_used: ports(resource(i, "PORTS")),
        udp_used: ports(resource(i, "PORTS_UDP")),
    };
    for t in live_tasks_on(st, &i.arn) {
        placement::take(&mut c, &t.reservation);
    }
    c
}

fn remaining(st: &State, i: &InstanceRec) -> Vec<Resource> {
    let c = candidate(st, i);
    i.registered_resources
        .iter()
        .map(|r| {
            let mut r = r.clone();
            match r.name.as_str() {
                "CPU" => r.integer_value = c.cpu_free,
                "MEMORY" => r.integer_value = c.memory_free,
                "PORTS" => r.string_set_value = c.tcp_used.iter().map(u16::to_string).collect(),
                "PORTS_UDP" => r.string_set_value = c.udp_used.iter().map(u16::to_string).collect(),
                _ => {}
            }
            r
        })
        .collect()
}

pub fn instance(st: &State, i: &InstanceRec) -> Value {
    let running = live_tasks_on(st, &i.arn)
        .filter(|t| t.last_status == "RUNNING")
        .count();
    let pending = live_tasks_on(st, &i.arn)
        .filter(|t| PENDING_STATUSES.contains(&t.last_status.as_str()))
        .count();
    let mut m = Map::new();
    m.insert("containerInstanceArn".into(), json!(i.arn));
    put_opt(&mut m, "ec2InstanceId", &i.ec2_instance_id);
    m.insert("version".into(), json!(i.version));
    m.insert("versionInfo".into(), i.version_info.clone());
    m.insert("remainingResources".into(), json!(remaining(st, i)));
    m.insert("registeredResources".into(), json!(i.registered_resources));
    m.insert("status".into(), json!(i.status));
    put_opt(&mut m, "statusReason", &i.status_reason);
    m.insert("agentConnected".into(), json!(i.agent_connected));
    m.insert("runningTasksCount".into(), json!(running));
    m.insert("pendingTasksCount".into(), json!(pending));
    m.insert("attributes".into(), json!(i.attributes));
    m.insert("registeredAt".into(), json!(i.registered_at));
    m.insert("attachments".into(), json!([]));
    m.insert("tags".into(), json!(i.tags));
    Value::Object(m)
}

pub fn task(t: &TaskRec) -> Value {
    let containers: Vec<Value> = t
        .containers
        .iter()
        .map(|c| {
            let mut m = Map::new();
            m.insert("containerArn".into(), json!(c.container_arn));
            m.insert("taskArn".into(), json!(t.arn));
            m.insert("name".into(), json!(c.name));
            m.insert("image".into(), json!(c.image));
            put_opt(&mut m, "imageDigest", &c.image_digest);
            put_opt(&mut m, "runtimeId", &c.runtime_id);
            m.insert("lastStatus".into(), json!(c.last_status));
            put_opt(&mut m, "exitCode", &c.exit_code);
            put_opt(&mut m, "reason", &c.reason);
            m.insert("healthStatus".into(), json!(c.health()));
            m.insert("networkBindings".into(), json!(c.network_bindings));
            m.insert("networkInterfaces".into(), render_container_interfaces(t));
            m.insert("cpu".into(), json!(c.cpu.unwrap_or(0).to_string()));
            put_opt(&mut m, "memory", &c.memory.map(|v| v.to_string()));
            put_opt(
                &mut m,
                "memoryReservation",
                &c.memory_reservation.map(|v| v.to_string()),
            );
            Value::Object(m)
        })
        .collect();
    let mut overrides = match &t.overrides {
        Value::Object(o) => o.clone(),
        _ => Map::new(),
    };
    overrides
        .entry("containerOverrides")
        .or_insert_with(|| json!([]));
    overrides
        .entry("inferenceAcceleratorOverrides")
        .or_insert_with(|| json!([]));
    let mut m = Map::new();
    m.insert("taskArn".into(), json!(t.arn));
    m.insert("clusterArn".into(), json!(t.cluster_arn));
    m.insert("taskDefinitionArn".into(), json!(t.task_definition_arn));
    m.insert(
        "containerInstanceArn".into(),
        json!(t.container_instance_arn),
    );
    m.insert("overrides".into(), Value::Object(overrides));
    m.insert("lastStatus".into(), json!(t.last_status));
    m.insert("desiredStatus".into(), json!(t.desired_status));
    put_opt(&mut m, "cpu", &t.cpu);
    put_opt(&mut m, "memory", &t.memory);
    m.insert("containers".into(), Value::Array(containers));
    m.insert(
        "healthStatus".into(),
        json!(crate::local::state::task_health(&t.containers)),
    );
    put_opt(&mut m, "startedBy", &t.started_by);
    m.insert("version".into(), json!(t.version));
    put_opt(&mut m, "stoppedReason", &t.stopped_reason);
    put_opt(&mut m, "stopCode", &t.stop_code);
    m.insert("createdAt".into(), json!(t.created_at));
    put_opt(&mut m, "startedAt", &t.started_at);
    put_opt(&mut m, "stoppingAt", &t.stopping_at);
    put_opt(&mut m, "stoppedAt", &t.stopped_at);
    put_opt(&mut m, "pullStartedAt", &t.pull_started_at);
    put_opt(&mut m, "pullStoppedAt", &t.pull_stopped_at);
    put_opt(&mut m, "executionStoppedAt", &t.execution_stopped_at);
    put_opt(&mut m, "group", &t.group);
    m.insert("launchType".into(), json!("EC2"));
    m.insert("attachments".into(), render_attachments(t));
    m.insert("tags".into(), json!(t.tags));
    m.insert("enableExecuteCommand".into(), json!(false));
    Value::Object(m)
}

/// Whether a Describe* `include` asks for tags.
pub fn include_tags(include: &[String]) -> bool {
    include.iter().any(|i| i == "TAGS")
}

/// Describe* responses carry `tags` only when `include` asked for them.
pub fn without_tags_unless(mut v: Value, tags: bool) -> Value {
    if !tags {
        if let Value::Object(m) = &mut v {
            m.remove("tags");
        }
    }
    v
}

pub fn failure(f: &Failure) -> Value {
    let mut m = Map::new();
    m.insert("arn".into(), json!(f.arn));
    m.insert("reason".into(), json!(f.reason));
    put_opt(&mut m, "detail", &f.detail);
    Value::Object(m)
}

/// A `ProtectedTask`: protection that has expired reads as none.
pub fn protected_task(t: &TaskRec, now: f64) -> Value {
    match t.protected_until.filter(|u| *u > now) {
        Some(until) => json!({
            "taskArn": t.arn,
            "protectionEnabled": true,
            "expirationDate": until,
        }),
        None => json!({"taskArn": t.arn, "protectionEnabled": false}),
    }
}

pub fn missing(arn: &str) -> Value {
    json!({"arn": arn, "reason": "MISSING"})
}
