//! UpdateTaskProtection and GetTaskProtection: task scale-in protection,
//! kept with the task record (`protected_until`).
//!
//! Amazon ECS protects only tasks of a service and answers `TASK_NOT_VALID`
//! for standalone ones; ecs-local has no services, so every task it placed
//! can be protected.

use super::lookup::{arn, cluster, cluster_arn, cluster_name};
use super::render;
use super::request::parse;
use crate::local::app::Ctx;
use crate::local::auth::access_denied;
use crate::local::error::ApiError;
use crate::local::placement::Failure;
use crate::local::state::{State, TaskRec};
use serde::Deserialize;
use serde_json::{json, Value};

/// Protection when enabled without `expiresInMinutes`: 2 hours.
pub const DEFAULT_EXPIRES_IN_MINUTES: i64 = 120;
/// At most 48 hours.
pub const MAX_EXPIRES_IN_MINUTES: i64 = 2880;
const MAX_UPDATE_TASKS: usize = 10;
const MAX_GET_TASKS: usize = 100;

/// The task is not in the cluster (as DescribeTasks says it).
pub const REASON_MISSING: &str = "MISSING";
/// The task is stopping or stopped: there is nothing left to protect. The
/// reason string the Amazon ECS agent knows from the scheduler.
pub const REASON_STOPPING_OR_STOPPED: &str = "TASK_STOPPING_OR_STOPPED";

const STOPPING_STATUSES: [&str; 4] = ["DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"];

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct UpdateReq {
    cluster: Option<String>,
    tasks: Option<Vec<String>>,
    protection_enabled: Option<bool>,
    expires_in_minutes: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct GetReq {
    cluster: Option<String>,
    tasks: Option<Vec<String>>,
}

fn required_cluster(c: Option<&str>) -> Result<&str, ApiError> {
    c.filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::invalid("cluster is required."))
}

/// Task ARNs of the given ids/ARNs in the named cluster, duplicates dropped.
fn task_arns(region: &str, cluster: &str, params: &[String]) -> Vec<String> {
    let name = cluster_name(Some(cluster));
    let mut out: Vec<String> = Vec::with_capacity(params.len());
    for p in params {
        let a = if p.starts_with("arn:") {
            p.clone()
        } else {
            arn(region, &format!("task/{name}/{p}"))
        };
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// Task role keys act on their own task only (checked before anything is
/// looked up, as IAM decides before the service does).
fn hold_to_principal(
    ctx: &Ctx,
    op: &str,
    cluster: &str,
    arns: Option<&[String]>,
) -> Result<(), ApiError> {
    let Some(p) = &ctx.principal else {
        return Ok(());
    };
    let denied = match arns {
        None => Some(cluster_arn(&ctx.region, &cluster_name(Some(cluster)))),
        Some(arns) => arns.iter().find(|a| **a != p.task_arn).cloned(),
    };
    match denied {
        Some(resource) => {
            tracing::warn!(task = %p.task_arn, op, resource = %resource, "task credentials used on another resource");
            Err(access_denied(p, op, Some(&resource)))
        }
        None => Ok(()),
    }
}

fn stopping_or_stopped(t: &TaskRec) -> bool {
    t.desired_status == "STOPPED" || STOPPING_STATUSES.contains(&t.last_status.as_str())
}

/// The task if it can take protection, else why not.
fn protectable<'a>(st: &'a State, cluster_arn: &str, task_arn: &str) -> Result<&'a TaskRec, Value> {
    let Some(t) = st
        .tasks
        .get(task_arn)
        .filter(|t| t.cluster_arn == cluster_arn)
    else {
        return Err(render::failure(&Failure {
            arn: task_arn.to_string(),
            reason: REASON_MISSING.into(),
            detail: None,
        }));
    };
    if stopping_or_stopped(t) {
        return Err(render::failure(&Failure {
            arn: task_arn.to_string(),
            reason: REASON_STOPPING_OR_STOPPED.into(),
            detail: Some(format!(
                "The task is {} (desired status {}).",
                t.last_status, t.desired_status
            )),
        }));
    }
    Ok(t)
}

pub fn update(st: &mut State, ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: UpdateReq = parse(body)?;
    let cluster_param = required_cluster(req.cluster.as_deref())?;
    let tasks = req.tasks.unwrap_or_default();
    if tasks.is_empty() || tasks.len() > MAX_UPDATE_TASKS {
        return Err(ApiError::invalid(format!(
            "tasks must name between 1 and {MAX_UPDATE_TASKS} tasks (got {}).",
            tasks.len()
        )));
    }
    let enabled = req
        .protection_enabled
        .ok_or_else(|| ApiError::invalid("protectionEnabled is required."))?;
    // Only meaningful when enabling; Amazon ECS ignores it otherwise.
    let minutes = if enabled {
        let m = req.expires_in_minutes.unwrap_or(DEFAULT_EXPIRES_IN_MINUTES);
        if !(1..=MAX_EXPIRES_IN_MINUTES).contains(&m) {
            return Err(ApiError::invalid(format!(
                "expiresInMinutes must be between 1 and {MAX_EXPIRES_IN_MINUTES} (got {m})."
            )));
        }
        Some(m)
    } else {
        None
    };
    let arns = task_arns(&ctx.region, cluster_param, &tasks);
    hold_to_principal(ctx, "UpdateTaskProtection", cluster_param, Some(&arns))?;
    let c = cluster(st, Some(cluster_param))?.clone();
    let until = minutes.map(|m| ctx.now + (m * 60) as f64);
    let mut protected = Vec::new();
    let mut failures = Vec::new();
    for a in &arns {
        let mut t = match protectable(st, &c.arn, a) {
            Ok(t) => t.clone(),
            Err(f) => {
                failures.push(f);
                continue;
            }
        };
        t.protected_until = until;
        tracing::info!(task = %t.arn, enabled, expires_at = ?until, "task protection updated");
        protected.push(render::protected_task(&t, ctx.now));
        st.put_task(t);
    }
    Ok(json!({ "protectedTasks": protected, "failures": failures }))
}

pub fn get(st: &mut State, ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: GetReq = parse(body)?;
    let cluster_param = required_cluster(req.cluster.as_deref())?;
    let tasks = req.tasks.filter(|t| !t.is_empty());
    if let Some(t) = &tasks {
        if t.len() > MAX_GET_TASKS {
            return Err(ApiError::invalid(format!(
                "tasks must name at most {MAX_GET_TASKS} tasks (got {}).",
                t.len()
            )));
        }
    }
    let arns = tasks.map(|t| task_arns(&ctx.region, cluster_param, &t));
    hold_to_principal(ctx, "GetTaskProtection", cluster_param, arns.as_deref())?;
    let c = cluster(st, Some(cluster_param))?.clone();
    let mut protected = Vec::new();
    let mut failures = Vec::new();
    match arns {
        Some(arns) => {
            for a in &arns {
                match protectable(st, &c.arn, a) {
                    Ok(t) => protected.push(render::protected_task(t, ctx.now)),
                    Err(f) => failures.push(f),
                }
            }
        }
        // No tasks named: the cluster's tasks that are protected now.
        None => {
            let mut live: Vec<&TaskRec> = st
                .tasks
                .values()
                .filter(|t| t.cluster_arn == c.arn && !stopping_or_stopped(t))
                .filter(|t| t.protected_until.is_some_and(|u| u > ctx.now))
                .collect();
            live.sort_by(|a, b| {
                a.created_at
                    .total_cmp(&b.created_at)
                    .then(a.arn.cmp(&b.arn))
            });
            protected = live
                .into_iter()
                .map(|t| render::protected_task(t, ctx.now))
                .collect();
        }
    }
    Ok(json!({ "protectedTasks": protected, "failures": failures }))
}

#[cfg(test)]
#[path = "protection_tests.rs"]
mod tests;
