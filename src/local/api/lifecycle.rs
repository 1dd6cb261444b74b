//! Task lifecycle on the control plane: queueing payloads for the agent,
//! stop requests, and applying the state changes agents report.

use super::lookup::new_id;
use crate::local::app::Ctx;
use crate::local::credentials::Role;
use crate::local::enis::{self, acs_eni};
use crate::local::payload::build_task;
use crate::local::state::{taskdef_key, OutMessage, Outgoing, State, TaskRec};
use crate::model::acs::{
    AttachTaskNetworkInterfacesMessage, IamRoleCredentialsMessage, PayloadMessage,
};

/// Puts a message in the outbox of the task's instance and wakes its session.
fn enqueue(st: &mut State, ctx: &mut Ctx, task: &TaskRec, message_id: String, message: OutMessage) {
    let order = st.next_order();
    st.put_outgoing(Outgoing {
        message_id,
        instance_arn: task.container_instance_arn.clone(),
        task_arn: task.arn.clone(),
        order,
        message,
    });
    ctx.notify.push(task.container_instance_arn.clone());
}

/// Queues the task (at its current desired status) for its instance's ACS
/// session, replacing any payload for the same task not yet acknowledged.
pub fn queue_payload(st: &mut State, ctx: &mut Ctx, task_arn: &str) {
    let Some(task) = st.tasks.get(task_arn).cloned() else {
        return;
    };
    let Some(def) = st
        .taskdefs
        .values()
        .find(|d| d.arn == task.task_definition_arn)
        .cloned()
    else {
        tracing::error!(task = %task_arn, task_definition = %task.task_definition_arn, "task definition of a task is gone; no payload");
        return;
    };
    let v = match super::lookup::definition_view(st, &def) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(task = %task_arn, error = %e, "stored task definition no longer parses");
            return;
        }
    };
    let superseded: Vec<String> = st
        .outbox
        .values()
        .filter(|o| o.task_arn == task_arn && o.payload().is_some())
        .map(|o| o.message_id.clone())
        .collect();
    for id in superseded {
        st.remove_outgoing(&id);
    }
    let Some(mut inst) = st.instances.get(&task.container_instance_arn).cloned() else {
        return;
    };
    let seq = inst.next_seq_num.max(1);
    inst.next_seq_num = seq + 1;
    st.put_instance(inst);
    let message_id = uuid::Uuid::new_v4().to_string();
    let payload = PayloadMessage {
        cluster_arn: Some(task.cluster_arn.clone()),
        container_instance_arn: Some(task.container_instance_arn.clone()),
        tasks: vec![build_task(
            &task,
            &def.family,
            def.revision,
            &v,
            &ctx.region,
            &ctx.ecr_registries,
        )],
        generated_at: Some(ctx.now as i64),
        message_id: Some(message_id.clone()),
        seq_num: Some(seq),
        ..Default::default()
    };
    tracing::info!(task = %task_arn, message_id = %message_id, seq_num = seq, desired = %task.desired_status, "payload queued");
    enqueue(st, ctx, &task, message_id, OutMessage::Payload(payload));
}

/// Queues the AttachTaskNetworkInterfacesMessage of a task holding an ENI
/// (sent before its payload, re-sent until the agent's AckRequest).
pub fn queue_eni_attachment(st: &mut State, ctx: &mut Ctx, task_arn: &str) {
    let Some(task) = st.tasks.get(task_arn).cloned() else {
        return;
    };
    let Some(eni) = &task.eni else {
        return;
    };
    let message_id = uuid::Uuid::new_v4().to_string();
    let msg = AttachTaskNetworkInterfacesMessage {
        message_id: Some(message_id.clone()),
        cluster_arn: Some(task.cluster_arn.clone()),
        container_instance_arn: Some(task.container_instance_arn.clone()),
        task_arn: Some(task.arn.clone()),
        task_cluster_arn: Some(task.cluster_arn.clone()),
        generated_at: Some((ctx.now * 1000.0) as i64),
        wait_timeout_ms: Some(ctx.eni_attach_timeout_ms),
        elastic_network_interfaces: vec![acs_eni(eni)],
    };
    tracing::info!(task = %task_arn, message_id = %message_id, eni = %eni.eni.network_interface_id, "ENI attachment queued");
    enqueue(st, ctx, &task, message_id, OutMessage::AttachEnis(msg));
}

/// Queues an IAMRoleCredentialsMessage with the task's current credentials
/// of `role`, replacing one for the same role not yet acknowledged. A payload
/// of the task still waiting for its ack is brought up to date too, so that a
/// re-send never hands out older keys.
pub fn queue_credentials(st: &mut State, ctx: &mut Ctx, task_arn: &str, role: Role) {
    let Some(task) = st.tasks.get(task_arn).cloned() else {
        return;
    };
    let Some(issued) = credentials_of(&task, role) else {
        return;
    };
    let role_type = role.role_type();
    let pending: Vec<Outgoing> = st
        .outbox
        .values()
        .filter(|o| o.task_arn == task_arn)
        .cloned()
        .collect();
    for mut o in pending {
        match &mut o.message {
            OutMessage::Credentials(m) if m.role_type.as_deref() == Some(role_type) => {
                st.remove_outgoing(&o.message_id);
            }
            OutMessage::Payload(p) => {
                for t in p
                    .tasks
                    .iter_mut()
                    .filter(|t| t.arn.as_deref() == Some(task_arn))
                {
                    match role {
                        Role::Task => t.role_credentials = Some(issued.credentials.clone()),
                        Role::Execution => {
                            t.execution_role_credentials = Some(issued.credentials.clone())
                        }
                    }
                }
                st.put_outgoing(o);
            }
            _ => {}
        }
    }
    let message_id = uuid::Uuid::new_v4().to_string();
    let msg = IamRoleCredentialsMessage {
        message_id: Some(message_id.clone()),
        task_arn: Some(task.arn.clone()),
        task_cluster_arn: Some(task.cluster_arn.clone()),
        role_type: Some(role_type.to_string()),
        role_credentials: Some(issued.credentials.clone()),
    };
    tracing::info!(task = %task_arn, message_id = %message_id, role_type, expiration = ?issued.credentials.expiration, "credentials refresh queued");
    enqueue(st, ctx, &task, message_id, OutMessage::Credentials(msg));
}

pub fn credentials_of(t: &TaskRec, role: Role) -> Option<&crate::local::state::IssuedCredentials> {
    match role {
        Role::Task => t.role_credentials.as_ref(),
        Role::Execution => t.execution_role_credentials.as_ref(),
    }
}

/// Sets desiredStatus STOPPED (once) and tells the agent.
pub fn request_stop(st: &mut State, ctx: &mut Ctx, task_arn: &str, reason: &str, code: &str) {
    let Some(mut t) = st.tasks.get(task_arn).cloned() else {
        return;
    };
    if t.desired_status == "STOPPED" || t.last_status == "STOPPED" {
        return;
    }
    t.desired_status = "STOPPED".into();
    t.stopped_reason = Some(reason.to_string());
    t.stop_code = Some(code.to_string());
    t.stopping_at = Some(ctx.now);
    t.version += 1;
    if !payload_sent(&t) {
        // The agent was never given this task (its ENI is not ATTACHED yet):
        // nothing runs, so it is STOPPED here and now.
        t.last_status = "STOPPED".into();
        t.stopped_at = Some(ctx.now);
        st.put_task(t);
        forget_payloads(st, task_arn);
        tracing::info!(task = %task_arn, reason, "task stopped before its ENI was attached");
        return;
    }
    st.put_task(t);
    tracing::info!(task = %task_arn, reason, "task stop requested");
    queue_payload(st, ctx, task_arn);
}

/// Whether the task's payload has been queued for its agent: at once,
/// unless it waits for its ENI to be reported ATTACHED.
pub fn payload_sent(t: &TaskRec) -> bool {
    t.eni.as_ref().is_none_or(|e| e.status == enis::ATTACHED)
}

/// The agent reported the task's ENI attachment `attachment_arn` with
/// `status` (SubmitTaskStateChange `attachments`; `members`: the request's
/// top-level members). ATTACHED moves the task from PROVISIONING to PENDING
/// and queues its payload; returns whether it did.
pub fn report_attachment(
    st: &mut State,
    ctx: &mut Ctx,
    task_arn: &str,
    attachment_arn: &str,
    status: &str,
    members: &[String],
) -> Result<bool, String> {
    let Some(mut t) = st.tasks.get(task_arn).cloned() else {
        return Err(format!("task {task_arn} was not found"));
    };
    let Some(a) = t
        .eni
        .as_mut()
        .filter(|a| a.attachment_arn == attachment_arn)
    else {
        return Err(format!(
            "{attachment_arn} is not an attachment of task {task_arn}"
        ));
    };
    if status != enis::ATTACHED {
        // The Go agent reports task ENIs ATTACHED only (agent/eni/watcher).
        tracing::info!(task = %task_arn, attachment = %attachment_arn, status, "attachment status ignored");
        return Ok(false);
    }
    if a.status == enis::ATTACHED || t.last_status == "STOPPED" {
        tracing::info!(task = %task_arn, attachment = %attachment_arn, last_status = %t.last_status, "attachment report ignored: already attached or stopped");
        return Ok(false);
    }
    a.status = enis::ATTACHED.into();
    a.attach_deadline = None;
    let mut sorted = members.to_vec();
    sorted.sort();
    a.reported_with = sorted;
    if t.last_status == "PROVISIONING" {
        t.last_status = "PENDING".into();
    }
    t.version += 1;
    st.put_task(t);
    tracing::info!(task = %task_arn, attachment = %attachment_arn, "ENI attachment reported ATTACHED");
    queue_payload(st, ctx, task_arn);
    Ok(true)
}

/// Tasks whose ENI was not reported ATTACHED by its deadline.
pub fn attach_expired(st: &State, now: f64) -> Vec<String> {
    st.tasks
        .values()
        .filter(|t| t.last_status != "STOPPED")
        .filter(|t| {
            t.eni
                .as_ref()
                .and_then(|a| a.attach_deadline.filter(|_| a.status != enis::ATTACHED))
                .is_some_and(|d| d <= now)
        })
        .map(|t| t.arn.clone())
        .collect()
}

/// Stops a task whose ENI the agent never reported ATTACHED in time, with
/// Amazon ECS's words for it and the attachment named.
pub fn fail_unattached(st: &mut State, ctx: &mut Ctx, task_arn: &str) {
    let Some(a) = st.tasks.get(task_arn).and_then(|t| t.eni.clone()) else {
        return;
    };
    let reason = format!(
        "Timeout waiting for network interface provisioning to complete: attachment {} \
         (network interface {}, MAC {}) was not reported ATTACHED by the agent within {} ms",
        a.attachment_arn, a.eni.network_interface_id, a.eni.mac_address, ctx.eni_attach_timeout_ms
    );
    tracing::warn!(task = %task_arn, attachment = %a.attachment_arn, status = %a.status, "ENI attachment timed out; stopping the task");
    request_stop(st, ctx, task_arn, &reason, "TaskFailedToStart");
}

/// Order of task statuses; a report never moves a task backwards.
fn task_rank(s: &str) -> Option<u8> {
    Some(match s {
        "PROVISIONING" => 0,
        "PENDING" => 1,
        "MANIFEST_PULLED" => 1,
        "ACTIVATING" => 2,
        "RUNNING" => 3,
        "DEACTIVATING" => 4,
        "STOPPING" => 5,
        "DEPROVISIONING" => 6,
        "STOPPED" => 7,
        _ => return None,
    })
}

fn container_rank(s: &str) -> Option<u8> {
    Some(match s {
        "PENDING" => 0,
        "MANIFEST_PULLED" => 0,
        "RUNNING" => 1,
        "STOPPED" => 2,
        _ => return None,
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    Changed,
    Duplicate,
    Ignored,
}

/// Applies a reported task status. Time fields follow ECS: startedAt at
/// RUNNING, stoppedAt at STOPPED.
pub fn apply_task_status(t: &mut TaskRec, status: &str, reason: Option<&str>, now: f64) -> Applied {
    let (Some(new), Some(cur)) = (task_rank(status), task_rank(&t.last_status)) else {
        return Applied::Ignored;
    };
    if new == cur && status == t.last_status {
        return Applied::Duplicate;
    }
    if new < cur {
        return Applied::Ignored;
    }
    // MANIFEST_PULLED is the agent's internal step within PENDING.
    let status = if status == "MANIFEST_PULLED" {
        "PENDING"
    } else {
        status
    };
    if status == t.last_status {
        return Applied::Duplicate;
    }
    t.last_status = status.to_string();
    if status == "RUNNING" && t.started_at.is_none() {
        t.started_at = Some(now);
    }
    if status == "STOPPED" {
        t.stopped_at = Some(now);
        t.stopping_at.get_or_insert(now);
        if t.desired_status != "STOPPED" {
            t.desired_status = "STOPPED".into();
            t.stop_code
                .get_or_insert_with(|| "EssentialContainerExited".into());
        }
        if let Some(r) = reason.filter(|r| !r.is_empty()) {
            t.stopped_reason.get_or_insert_with(|| r.to_string());
        }
        t.stopped_reason
            .get_or_insert_with(|| "Essential container in task exited".into());
    }
    t.version += 1;
    Applied::Changed
}

/// A container's reported change; fields other than status are recorded
/// whenever given.
#[derive(Debug, Default)]
pub struct ContainerChange {
    pub name: String,
    pub status: Option<String>,
    pub runtime_id: Option<String>,
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
    pub image_digest: Option<String>,
    pub network_bindings: Option<Vec<serde_json::Value>>,
}

pub fn apply_container_change(t: &mut TaskRec, ch: &ContainerChange) -> Applied {
    let Some(c) = t.containers.iter_mut().find(|c| c.name == ch.name) else {
        return Applied::Ignored;
    };
    let mut result = Applied::Ignored;
    if let Some(status) = ch.status.as_deref() {
        let status = if status == "MANIFEST_PULLED" {
            "PENDING"
        } else {
            status
        };
        match (container_rank(status), container_rank(&c.last_status)) {
            (Some(new), Some(cur)) if new > cur => {
                c.last_status = status.to_string();
                result = Applied::Changed;
            }
            (Some(_), Some(_)) if status == c.last_status => result = Applied::Duplicate,
            _ => {}
        }
    }
    if ch.runtime_id.is_some() {
        c.runtime_id = ch.runtime_id.clone();
    }
    if ch.exit_code.is_some() {
        c.exit_code = ch.exit_code;
    }
    if ch.reason.as_deref().is_some_and(|r| !r.is_empty()) {
        c.reason = ch.reason.clone();
    }
    if let Some(d) = ch.image_digest.as_deref().filter(|d| !d.is_empty()) {
        // The Go agent's manifest-pulled report (agent/api/statechange.go,
        // MANIFEST_PULLED sent as PENDING with imageDigest) repeats the
        // container's status to deliver the digest: news, not a duplicate.
        if c.image_digest.as_deref() != Some(d) {
            c.image_digest = Some(d.to_string());
            if result == Applied::Duplicate {
                result = Applied::Changed;
            }
        }
    }
    if let Some(nb) = &ch.network_bindings {
        if !nb.is_empty() {
            c.network_bindings = nb.clone();
        }
    }
    if result == Applied::Changed {
        t.version += 1;
    }
    result
}

/// What an acknowledgement settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acked {
    Payload,
    EniAttachment,
    Credentials,
}

/// The agent acknowledged a message with AckRequest (payloads and ENI
/// attachments) or IAMRoleCredentialsAckRequest (credentials); `credentials`
/// says which. Counts acknowledged attachments and refreshes.
pub fn ack(
    st: &mut State,
    instance_arn: &str,
    message_id: &str,
    credentials: bool,
) -> Option<Acked> {
    let kind = match st.outbox.get(message_id) {
        Some(o) if o.instance_arn == instance_arn => match (&o.message, credentials) {
            (OutMessage::Payload(_), false) => Acked::Payload,
            (OutMessage::AttachEnis(_), false) => Acked::EniAttachment,
            (OutMessage::Credentials(_), true) => Acked::Credentials,
            _ => return None,
        },
        _ => return None,
    };
    let acked = st.remove_outgoing(message_id);
    match kind {
        Acked::EniAttachment => {
            st.count_eni_attachment_ack();
            // The agent has the attachment; now it waits for the ENI.
            if let Some(mut t) = acked.and_then(|o| st.tasks.get(&o.task_arn).cloned()) {
                if let Some(a) = t.eni.as_mut().filter(|a| a.status == enis::PRECREATED) {
                    a.status = enis::ATTACHING.into();
                    t.version += 1;
                    st.put_task(t);
                }
            }
        }
        Acked::Credentials => st.count_credential_refresh_ack(),
        Acked::Payload => {}
    }
    Some(kind)
}

/// Drops undelivered payloads of a task that has stopped.
pub fn forget_payloads(st: &mut State, task_arn: &str) {
    let ids: Vec<String> = st
        .outbox
        .values()
        .filter(|o| o.task_arn == task_arn)
        .map(|o| o.message_id.clone())
        .collect();
    for id in ids {
        st.remove_outgoing(&id);
    }
}

pub fn taskdef_of<'a>(st: &'a State, t: &TaskRec) -> Option<&'a crate::local::state::TaskDefRec> {
    st.taskdefs
        .values()
        .find(|d| d.arn == t.task_definition_arn)
        .or_else(|| {
            let spec = t.task_definition_arn.split_once(":task-definition/")?.1;
            let (fam, rev) = spec.rsplit_once(':')?;
            st.taskdefs.get(&taskdef_key(fam, rev.parse().ok()?))
        })
}

pub fn new_task_id() -> String {
    new_id()
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
