//! Task lifecycle on the control plane: queueing payloads for the agent,
//! stop requests, and applying the state changes agents report.

use super::lookup::new_id;
use crate::local::app::Ctx;
use crate::local::payload::build_task;
use crate::local::state::{taskdef_key, Outgoing, State, TaskRec};
use crate::local::taskdef::view;
use crate::model::acs::PayloadMessage;

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
    let v = match view(&def.definition) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(task = %task_arn, error = %e, "stored task definition no longer parses");
            return;
        }
    };
    let superseded: Vec<String> = st
        .outbox
        .values()
        .filter(|o| o.task_arn == task_arn)
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
        )],
        generated_at: Some(ctx.now as i64),
        message_id: Some(message_id.clone()),
        seq_num: Some(seq),
        ..Default::default()
    };
    tracing::info!(task = %task_arn, message_id = %message_id, seq_num = seq, desired = %task.desired_status, "payload queued");
    st.put_outgoing(Outgoing {
        message_id,
        instance_arn: task.container_instance_arn.clone(),
        task_arn: task_arn.to_string(),
        payload,
    });
    ctx.notify.push(task.container_instance_arn.clone());
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
    st.put_task(t);
    tracing::info!(task = %task_arn, reason, "task stop requested");
    queue_payload(st, ctx, task_arn);
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
    if ch.image_digest.is_some() {
        c.image_digest = ch.image_digest.clone();
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

/// The agent acknowledged a payload.
pub fn ack(st: &mut State, instance_arn: &str, message_id: &str) -> bool {
    match st.outbox.get(message_id) {
        Some(o) if o.instance_arn == instance_arn => {
            st.remove_outgoing(message_id);
            true
        }
        _ => false,
    }
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
