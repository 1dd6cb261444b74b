//! The calls agents make: DiscoverPollEndpoint, SubmitTaskStateChange,
//! SubmitContainerStateChange.

use super::lifecycle::{
    apply_container_change, apply_task_status, forget_payloads, report_attachment, Applied,
    ContainerChange,
};
use super::lookup::{cluster, cluster_name, task_arn};
use super::request::parse;
use crate::local::app::Ctx;
use crate::local::error::ApiError;
use crate::local::state::State;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct DiscoverReq {
    container_instance: Option<String>,
    cluster: Option<String>,
}

pub fn discover_poll_endpoint(
    st: &mut State,
    ctx: &mut Ctx,
    body: Value,
) -> Result<Value, ApiError> {
    let req: DiscoverReq = parse(body)?;
    if req.cluster.is_some() {
        cluster(st, req.cluster.as_deref())?;
    }
    tracing::debug!(instance = ?req.container_instance, "poll endpoint discovered");
    let base = format!("http://{}", ctx.host);
    Ok(json!({
        "endpoint": format!("{base}/acs/"),
        "telemetryEndpoint": format!("{base}/tcs/"),
        "serviceConnectEndpoint": format!("{base}/acs/"),
    }))
}

/// A timestamp member: epoch seconds (number), or a string holding epoch
/// seconds or RFC 3339.
fn timestamp(v: &Option<Value>, field: &str) -> Result<Option<f64>, ApiError> {
    let bad = || {
        ApiError::invalid(format!(
            "Invalid {field}: expected epoch seconds or an RFC 3339 timestamp."
        ))
    };
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) => {
            if let Ok(f) = s.parse::<f64>() {
                return Ok(Some(f));
            }
            let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_err(|_| bad())?;
            Ok(Some(t.unix_timestamp_nanos() as f64 / 1e9))
        }
        Some(_) => Err(bad()),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ContainerStateChange {
    container_name: Option<String>,
    image_digest: Option<String>,
    runtime_id: Option<String>,
    exit_code: Option<i64>,
    network_bindings: Option<Vec<Value>>,
    reason: Option<String>,
    status: Option<String>,
}

/// ECS's `AttachmentStateChange`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct AttachmentStateChange {
    attachment_arn: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TaskChangeReq {
    attachments: Vec<AttachmentStateChange>,
    cluster: Option<String>,
    task: Option<String>,
    status: Option<String>,
    reason: Option<String>,
    containers: Vec<ContainerStateChange>,
    pull_started_at: Option<Value>,
    pull_stopped_at: Option<Value>,
    execution_stopped_at: Option<Value>,
}

fn required<'a>(v: &'a Option<String>, field: &str) -> Result<&'a str, ApiError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid(format!("{field} is required.")))
}

fn record(st: &mut State, cluster_arn: &str, task: &str, what: &str, a: Applied) {
    match a {
        Applied::Duplicate => {
            tracing::warn!(task, what, "duplicate state change");
            st.count_duplicate(cluster_arn);
        }
        Applied::Ignored => tracing::debug!(task, what, "state change ignored"),
        Applied::Changed => tracing::info!(task, what, "state change applied"),
    }
}

pub fn submit_task_state_change(
    st: &mut State,
    ctx: &mut Ctx,
    body: Value,
) -> Result<Value, ApiError> {
    let members: Vec<String> = body
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let req: TaskChangeReq = parse(body)?;
    let c = cluster(st, Some(&cluster_name(req.cluster.as_deref())))?.clone();
    let param = required(&req.task, "task")?;
    let arn = task_arn(&ctx.region, &c, param);
    if st.tasks.get(&arn).is_none_or(|t| t.cluster_arn != c.arn) {
        return Err(ApiError::invalid(format!(
            "task: the referenced task {param:?} was not found."
        )));
    }
    // The Go agent confirms an ENI in a request of its own that carries only
    // cluster, task and attachments (ecs-agent/api/ecs/client/ecs_client.go,
    // submitTaskStateChange); handled first, so a request with more in it
    // moves the task on from PENDING.
    for (i, a) in req.attachments.iter().enumerate() {
        let attachment = required(
            &a.attachment_arn,
            &format!("attachments[{i}].attachmentArn"),
        )?;
        let status = required(&a.status, &format!("attachments[{i}].status"))?;
        report_attachment(st, ctx, &arn, attachment, status, &members)
            .map_err(|e| ApiError::invalid(format!("attachments[{i}].attachmentArn: {e}.")))?;
    }
    let mut t = st
        .tasks
        .get(&arn)
        .filter(|t| t.cluster_arn == c.arn)
        .cloned()
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "task: the referenced task {param:?} was not found."
            ))
        })?;
    let mut containers_changed = false;
    for (i, ch) in req.containers.iter().enumerate() {
        let name = ch
            .container_name
            .clone()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                ApiError::invalid(format!("containers[{i}].containerName is required."))
            })?;
        let change = ContainerChange {
            name: name.clone(),
            status: ch.status.clone(),
            runtime_id: ch.runtime_id.clone(),
            exit_code: ch.exit_code,
            reason: ch.reason.clone(),
            image_digest: ch.image_digest.clone(),
            network_bindings: ch.network_bindings.clone(),
        };
        let a = apply_container_change(&mut t, &change);
        containers_changed |= a == Applied::Changed;
        record(
            st,
            &c.arn,
            &arn,
            &format!("container {name} {}", ch.status.as_deref().unwrap_or("-")),
            a,
        );
    }
    if let Some(v) = timestamp(&req.pull_started_at, "pullStartedAt")? {
        t.pull_started_at = Some(v);
    }
    if let Some(v) = timestamp(&req.pull_stopped_at, "pullStoppedAt")? {
        t.pull_stopped_at = Some(v);
    }
    if let Some(v) = timestamp(&req.execution_stopped_at, "executionStoppedAt")? {
        t.execution_stopped_at = Some(v);
    }
    if let Some(status) = req.status.as_deref().filter(|s| !s.is_empty()) {
        let mut a = apply_task_status(&mut t, status, req.reason.as_deref(), ctx.now);
        if a == Applied::Duplicate && containers_changed {
            // The same task status carrying container news (the manifest-pulled
            // report: PENDING again, with the image digests) is not a repeat.
            a = Applied::Ignored;
            tracing::info!(task = %arn, status, "task state change with container updates");
        }
        record(st, &c.arn, &arn, &format!("task {status}"), a);
    }
    let stopped = t.last_status == "STOPPED";
    st.put_task(t);
    if stopped {
        forget_payloads(st, &arn);
    }
    Ok(json!({ "acknowledgment": "ACK" }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ContainerChangeReq {
    cluster: Option<String>,
    task: Option<String>,
    container_name: Option<String>,
    runtime_id: Option<String>,
    status: Option<String>,
    exit_code: Option<i64>,
    reason: Option<String>,
    network_bindings: Option<Vec<Value>>,
}

pub fn submit_container_state_change(
    st: &mut State,
    ctx: &mut Ctx,
    body: Value,
) -> Result<Value, ApiError> {
    let req: ContainerChangeReq = parse(body)?;
    let c = cluster(st, Some(&cluster_name(req.cluster.as_deref())))?.clone();
    let param = required(&req.task, "task")?;
    let name = required(&req.container_name, "containerName")?.to_string();
    let arn = task_arn(&ctx.region, &c, param);
    let mut t = st
        .tasks
        .get(&arn)
        .filter(|t| t.cluster_arn == c.arn)
        .cloned()
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "task: the referenced task {param:?} was not found."
            ))
        })?;
    if !t.containers.iter().any(|x| x.name == name) {
        return Err(ApiError::invalid(format!(
            "containerName: task {arn} has no container named {name:?}."
        )));
    }
    let change = ContainerChange {
        name: name.clone(),
        status: req.status.clone(),
        runtime_id: req.runtime_id,
        exit_code: req.exit_code,
        reason: req.reason,
        image_digest: None,
        network_bindings: req.network_bindings,
    };
    let a = apply_container_change(&mut t, &change);
    record(
        st,
        &c.arn,
        &arn,
        &format!("container {name} {}", req.status.as_deref().unwrap_or("-")),
        a,
    );
    st.put_task(t);
    Ok(json!({ "acknowledgment": "ACK" }))
}
