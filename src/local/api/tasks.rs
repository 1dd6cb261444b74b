//! RunTask, StartTask, StopTask, DescribeTasks, ListTasks.

use super::lifecycle::{
    new_task_id, queue_eni_attachment, queue_payload, request_stop, taskdef_of,
};
use super::lookup::{
    arn, cluster, cluster_or_default, definition_view, instance_arn, task_arn, taskdef,
};
use super::request::{paginate, parse};
use super::{render, tags};
use crate::local::app::Ctx;
use crate::local::credentials;
use crate::local::enis::{self, Pool};
use crate::local::error::ApiError;
use crate::local::overrides::{effective_containers, reservation, task_cpu_memory, TaskOverride};
use crate::local::placement::{self, Candidate, Failure, Requirement};
use crate::local::state::{
    ClusterRec, ContainerRec, EniRec, Reservation, State, TaskDefRec, TaskEni, TaskRec,
};
use crate::local::taskdef::{TaskDefView, MAX_CONTAINER_VALUE};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RunReq {
    cluster: Option<String>,
    task_definition: Option<String>,
    count: Option<i64>,
    overrides: Option<Value>,
    started_by: Option<String>,
    group: Option<String>,
    launch_type: Option<String>,
    network_configuration: Option<NetworkConfiguration>,
    tags: Vec<Value>,
    container_instances: Vec<String>,
    propagate_tags: Option<String>,
    #[serde(rename = "enableECSManagedTags")]
    enable_ecs_managed_tags: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct NetworkConfiguration {
    awsvpc_configuration: Option<AwsVpcConfiguration>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct AwsVpcConfiguration {
    subnets: Vec<String>,
    security_groups: Vec<String>,
    assign_public_ip: Option<String>,
}

const MAX_SUBNETS: usize = 16;
const MAX_SECURITY_GROUPS: usize = 5;

/// The subnets an awsvpc task takes its ENI from; `None` when it runs
/// without one (no awsvpcConfiguration: awsvpc-style local mode).
fn subnets(
    v: &TaskDefView,
    nc: Option<&NetworkConfiguration>,
) -> Result<Option<Vec<String>>, ApiError> {
    let awsvpc = v.network_mode.as_deref() == Some("awsvpc");
    let Some(cfg) = nc.and_then(|n| n.awsvpc_configuration.as_ref()) else {
        return Ok(None);
    };
    if !awsvpc {
        return Err(ApiError::invalid(
            "Network Configuration is not valid for the given networkMode of this task definition.",
        ));
    }
    if cfg.subnets.is_empty() {
        return Err(ApiError::invalid(
            "networkConfiguration.awsvpcConfiguration.subnets can not be empty.",
        ));
    }
    if cfg.subnets.len() > MAX_SUBNETS {
        return Err(ApiError::invalid(format!(
            "networkConfiguration.awsvpcConfiguration.subnets can have at most {MAX_SUBNETS} items."
        )));
    }
    if let Some(i) = cfg.subnets.iter().position(|s| s.trim().is_empty()) {
        return Err(ApiError::invalid(format!(
            "networkConfiguration.awsvpcConfiguration.subnets[{i}] must not be empty."
        )));
    }
    if cfg.security_groups.len() > MAX_SECURITY_GROUPS {
        return Err(ApiError::invalid(format!(
            "networkConfiguration.awsvpcConfiguration.securityGroups can have at most {MAX_SECURITY_GROUPS} items."
        )));
    }
    match cfg.assign_public_ip.as_deref() {
        None | Some("DISABLED") => {}
        Some("ENABLED") => {
            return Err(ApiError::invalid(
                "Assign public IP is not supported for this launch type.",
            ))
        }
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Invalid networkConfiguration.awsvpcConfiguration.assignPublicIp {other:?}: must be ENABLED or DISABLED."
            )))
        }
    }
    Ok(Some(cfg.subnets.clone()))
}

/// What RunTask and StartTask share once the request is checked.
struct Launch {
    cluster: ClusterRec,
    def: TaskDefRec,
    view: TaskDefView,
    overrides: TaskOverride,
    overrides_raw: Value,
    started_by: Option<String>,
    group: Option<String>,
    tags: Vec<Value>,
    /// Subnets to take an ENI from (awsvpc with awsvpcConfiguration).
    subnets: Option<Vec<String>>,
    /// What each task holds on its instance, checked for range once.
    reservation: Reservation,
}

fn prepare(st: &mut State, ctx: &Ctx, req: &RunReq) -> Result<Launch, ApiError> {
    let td = req
        .task_definition
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid("taskDefinition is required."))?;
    if let Some(lt) = req.launch_type.as_deref() {
        if lt != "EC2" {
            return Err(ApiError::invalid(format!(
                "launchType {lt:?} is not supported by ecs-local; only EC2 is."
            )));
        }
    }
    if let Some(s) = &req.started_by {
        if s.len() > 36 {
            return Err(ApiError::invalid(format!(
                "startedBy must be at most 36 characters (got {}).",
                s.len()
            )));
        }
    }
    let cluster = cluster_or_default(st, &ctx.region, req.cluster.as_deref())?;
    let def = taskdef(st, td)?.clone();
    if def.status != "ACTIVE" {
        return Err(ApiError::client(format!(
            "TaskDefinition {} is inactive.",
            def.arn
        )));
    }
    let v = definition_view(st, &def)?;
    let subnets = subnets(&v, req.network_configuration.as_ref())?;
    let overrides_raw = req.overrides.clone().unwrap_or_else(|| json!({}));
    let overrides: TaskOverride = serde_path_to_error::deserialize(overrides_raw.clone())
        .map_err(|e| ApiError::invalid(format!("Invalid overrides.{}: {}", e.path(), e.inner())))?;
    for (i, o) in overrides.container_overrides.iter().enumerate() {
        let name = o.name.as_deref().unwrap_or("");
        if !v
            .container_definitions
            .iter()
            .any(|c| c.name.as_deref() == Some(name))
        {
            return Err(ApiError::invalid(format!(
                "overrides.containerOverrides[{i}].name: Override for container named {name:?} is not a container in the TaskDefinition."
            )));
        }
        for (field, value) in [
            ("cpu", o.cpu),
            ("memory", o.memory),
            ("memoryReservation", o.memory_reservation),
        ] {
            if value.is_some_and(|v| v < 0) {
                return Err(ApiError::invalid(format!(
                    "overrides.containerOverrides[{i}].{field} must not be negative."
                )));
            }
            if let Some(n) = value.filter(|n| *n > MAX_CONTAINER_VALUE) {
                return Err(ApiError::invalid(format!(
                    "overrides.containerOverrides[{i}].{field} {n} is out of range (at most {MAX_CONTAINER_VALUE})."
                )));
            }
        }
    }
    let managed = req
        .enable_ecs_managed_tags
        .unwrap_or(false)
        .then_some(cluster.name.as_str());
    let tags = tags::task_tags(&req.tags, req.propagate_tags.as_deref(), &def.tags, managed)?;
    let reservation = reservation(&v, &overrides)?;
    Ok(Launch {
        cluster,
        def,
        view: v,
        overrides,
        overrides_raw,
        started_by: req.started_by.clone(),
        group: req.group.clone(),
        tags,
        subnets,
        reservation,
    })
}

/// Credentials for the task role and the execution role, if the task has them.
fn issue_credentials(t: &mut TaskRec, l: &Launch, now: f64, ttl: f64) {
    let role = |over: &Option<String>, def: &Option<String>| {
        over.clone()
            .or_else(|| def.clone())
            .filter(|r| !r.trim().is_empty())
    };
    let mut rng = rand::rng();
    if let Some(r) = role(&l.overrides.task_role_arn, &l.view.task_role_arn) {
        t.role_credentials = Some(credentials::issue(&mut rng, &r, now, ttl));
    }
    if let Some(r) = role(&l.overrides.execution_role_arn, &l.view.execution_role_arn) {
        t.execution_role_credentials = Some(credentials::issue(&mut rng, &r, now, ttl));
    }
}

fn requirement(l: &Launch) -> Requirement {
    Requirement {
        reservation: l.reservation.clone(),
        attributes: l.def.requires_attributes.clone(),
    }
}

fn create_task(
    st: &mut State,
    ctx: &mut Ctx,
    l: &Launch,
    instance_arn: &str,
    eni: Option<EniRec>,
) -> Value {
    let id = new_task_id();
    let arn_ = arn(&ctx.region, &format!("task/{}/{id}", l.cluster.name));
    let containers = effective_containers(&l.view, &l.overrides)
        .into_iter()
        .map(|c| ContainerRec {
            container_arn: arn(
                &ctx.region,
                &format!("container/{}/{id}/{}", l.cluster.name, uuid::Uuid::new_v4()),
            ),
            name: c.name.unwrap_or_default(),
            image: c.image.unwrap_or_default(),
            last_status: "PENDING".into(),
            cpu: c.cpu,
            memory: c.memory,
            memory_reservation: c.memory_reservation,
            essential: c.essential,
            has_health_check: c.health_check.is_some(),
            ..Default::default()
        })
        .collect();
    let r = l.reservation.clone();
    let (task_cpu, task_mem) = task_cpu_memory(&l.view, &l.overrides);
    let initial = if l.view.network_mode.as_deref() == Some("awsvpc") {
        "PROVISIONING"
    } else {
        "PENDING"
    };
    let mut t = TaskRec {
        arn: arn_.clone(),
        cluster_arn: l.cluster.arn.clone(),
        task_definition_arn: l.def.arn.clone(),
        container_instance_arn: instance_arn.to_string(),
        last_status: initial.into(),
        desired_status: "RUNNING".into(),
        created_at: ctx.now,
        started_by: l.started_by.clone(),
        group: Some(
            l.group
                .clone()
                .unwrap_or_else(|| format!("family:{}", l.def.family)),
        ),
        cpu: Some(task_cpu.unwrap_or(r.cpu).to_string()),
        memory: Some(task_mem.unwrap_or(r.memory).to_string()),
        overrides: l.overrides_raw.clone(),
        containers,
        version: 1,
        reservation: r,
        tags: l.tags.clone(),
        eni: eni.map(|eni| {
            let attachment_id = uuid::Uuid::new_v4().to_string();
            TaskEni {
                attachment_arn: arn(&ctx.region, &format!("attachment/{attachment_id}")),
                attachment_id,
                eni,
                status: enis::PRECREATED.into(),
                attach_deadline: Some(ctx.now + ctx.eni_attach_timeout_ms as f64 / 1000.0),
                reported_with: Vec::new(),
            }
        }),
        ..Default::default()
    };
    issue_credentials(&mut t, l, ctx.now, ctx.credentials_ttl);
    tracing::info!(
        task = %arn_,
        instance = %instance_arn,
        task_definition = %l.def.arn,
        eni = ?t.eni.as_ref().map(|e| &e.eni.network_interface_id),
        task_role = t.role_credentials.is_some(),
        execution_role = t.execution_role_credentials.is_some(),
        "task placed"
    );
    let out = render::task(&t);
    let has_eni = t.eni.is_some();
    st.put_task(t);
    // As Amazon ECS: the agent hears of the ENI first, and gets the task
    // (PROVISIONING until then) only once it reported the ENI ATTACHED
    // (`agent::submit_task_state_change`), or the task is stopped when it
    // does not within the attachment's waitTimeoutMs (`attach_timeout`).
    if has_eni {
        queue_eni_attachment(st, ctx, &arn_);
    } else {
        queue_payload(st, ctx, &arn_);
    }
    out
}

/// Registered ENIs the task may take, if its subnets have any registered.
fn free_enis(st: &State, l: &Launch) -> Option<Vec<EniRec>> {
    match enis::pool(st, l.subnets.as_deref()?) {
        Pool::Local => None,
        Pool::Free(free) => Some(free),
    }
}

fn eni_failure(arn: &str) -> Failure {
    Failure {
        arn: arn.to_string(),
        reason: "RESOURCE:ENI".into(),
        detail: None,
    }
}

/// The log says which attribute is missing too (RunTask's failure detail
/// names it; the log keeps it for users of tools that drop the detail).
fn log_missing_attributes(cands: &[Candidate], need: &Requirement, failures: &[Failure]) {
    for f in failures.iter().filter(|f| f.reason == "ATTRIBUTE") {
        if let Some(c) = cands.iter().find(|c| c.arn == f.arn) {
            if let Some(missing) = placement::missing_attribute(c, need) {
                tracing::info!(container_instance = %c.arn, attribute = %missing,
                    "task not placed: the instance lacks an attribute the task definition requires");
            }
        }
    }
}

fn candidates(st: &State, cluster_arn: &str) -> Vec<Candidate> {
    st.instances
        .values()
        .filter(|i| i.cluster_arn == cluster_arn && i.status != "INACTIVE")
        .map(|i| render::candidate(st, i))
        .collect()
}

pub fn run(st: &mut State, ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: RunReq = parse(body)?;
    let count = req.count.unwrap_or(1);
    if !(1..=10).contains(&count) {
        return Err(ApiError::invalid(format!(
            "count must be between 1 and 10 (got {count})."
        )));
    }
    let l = prepare(st, ctx, &req)?;
    let mut cands = candidates(st, &l.cluster.arn);
    if cands.is_empty() {
        return Err(ApiError::invalid(
            "No Container Instances were found in your cluster.",
        ));
    }
    let need = requirement(&l);
    let want = count as usize;
    let free = free_enis(st, &l);
    let limit = free.as_ref().map_or(want, |f| f.len().min(want));
    let (placed, mut failures) = placement::place(&mut cands, &need, limit);
    log_missing_attributes(&cands, &need, &failures);
    if placed.len() == limit && limit < want {
        // Out of ENIs: every instance says why it cannot take another task.
        failures = cands
            .iter()
            .map(|c| {
                placement::check(c, &need)
                    .err()
                    .unwrap_or_else(|| eni_failure(&c.arn))
            })
            .collect();
        failures.sort();
        failures.dedup();
    }
    let mut free = free.map(Vec::into_iter);
    let tasks: Vec<Value> = placed
        .iter()
        .map(|i| {
            let eni = free.as_mut().and_then(Iterator::next);
            create_task(st, ctx, &l, i, eni)
        })
        .collect();
    let failures: Vec<Value> = failures.iter().map(render::failure).collect();
    Ok(json!({ "tasks": tasks, "failures": failures }))
}

pub fn start(st: &mut State, ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: RunReq = parse(body)?;
    if req.container_instances.is_empty() || req.container_instances.len() > 10 {
        return Err(ApiError::invalid(
            "containerInstances must name between 1 and 10 container instances.",
        ));
    }
    let l = prepare(st, ctx, &req)?;
    let need = requirement(&l);
    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    for p in &req.container_instances {
        let a = instance_arn(&ctx.region, &l.cluster, p);
        let Some(inst) = st
            .instances
            .get(&a)
            .filter(|i| i.cluster_arn == l.cluster.arn)
        else {
            failures.push(render::failure(&Failure {
                arn: a,
                reason: "MISSING".into(),
                detail: None,
            }));
            continue;
        };
        let cand = render::candidate(st, inst);
        if let Err(f) = placement::check(&cand, &need) {
            log_missing_attributes(std::slice::from_ref(&cand), &need, std::slice::from_ref(&f));
            failures.push(render::failure(&f));
            continue;
        }
        // Looked up per task: the previous one may have taken the last ENI.
        let eni = match free_enis(st, &l) {
            None => None,
            Some(free) => match free.into_iter().next() {
                Some(e) => Some(e),
                None => {
                    failures.push(render::failure(&eni_failure(&a)));
                    continue;
                }
            },
        };
        tasks.push(create_task(st, ctx, &l, &a, eni));
    }
    Ok(json!({ "tasks": tasks, "failures": failures }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct StopReq {
    cluster: Option<String>,
    task: Option<String>,
    reason: Option<String>,
}

fn find_task<'a>(st: &'a State, region: &str, c: &ClusterRec, param: &str) -> Option<&'a TaskRec> {
    let a = task_arn(region, c, param);
    st.tasks.get(&a).filter(|t| t.cluster_arn == c.arn)
}

pub fn stop(st: &mut State, ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: StopReq = parse(body)?;
    let c = cluster(st, req.cluster.as_deref())?.clone();
    let param = req
        .task
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid("task is required."))?;
    if req.reason.as_deref().is_some_and(|r| r.len() > 255) {
        return Err(ApiError::invalid("reason must be at most 255 characters."));
    }
    let arn_ = find_task(st, &ctx.region, &c, param)
        .map(|t| t.arn.clone())
        .ok_or_else(|| ApiError::invalid("The referenced task was not found."))?;
    let reason = req
        .reason
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "Task stopped by user".to_string());
    request_stop(st, ctx, &arn_, &reason, "UserInitiated");
    let t = st
        .tasks
        .get(&arn_)
        .ok_or_else(|| ApiError::server("task vanished while stopping"))?;
    Ok(json!({ "task": render::task(t) }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct DescribeReq {
    cluster: Option<String>,
    tasks: Vec<String>,
    include: Vec<String>,
}

pub fn describe(st: &mut State, ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: DescribeReq = parse(body)?;
    let c = cluster(st, req.cluster.as_deref())?.clone();
    if req.tasks.is_empty() || req.tasks.len() > 100 {
        return Err(ApiError::invalid(
            "tasks must name between 1 and 100 tasks.",
        ));
    }
    let with_tags = render::include_tags(&req.include);
    let mut out = Vec::new();
    let mut failures = Vec::new();
    for p in &req.tasks {
        match find_task(st, &ctx.region, &c, p) {
            Some(t) => out.push(render::without_tags_unless(render::task(t), with_tags)),
            None => failures.push(render::missing(&task_arn(&ctx.region, &c, p))),
        }
    }
    Ok(json!({ "tasks": out, "failures": failures }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ListReq {
    cluster: Option<String>,
    container_instance: Option<String>,
    family: Option<String>,
    started_by: Option<String>,
    desired_status: Option<String>,
    launch_type: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub fn list(st: &mut State, ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: ListReq = parse(body)?;
    let c = cluster(st, req.cluster.as_deref())?.clone();
    let desired = req.desired_status.as_deref().unwrap_or("RUNNING");
    if !["RUNNING", "PENDING", "STOPPED"].contains(&desired) {
        return Err(ApiError::invalid(format!(
            "Invalid desiredStatus {desired:?}: must be RUNNING, PENDING or STOPPED."
        )));
    }
    let inst = req
        .container_instance
        .as_deref()
        .map(|p| instance_arn(&ctx.region, &c, p));
    let mut tasks: Vec<&TaskRec> = st
        .tasks
        .values()
        .filter(|t| t.cluster_arn == c.arn)
        .filter(|t| inst.as_ref().is_none_or(|i| &t.container_instance_arn == i))
        .filter(|t| {
            req.family
                .as_ref()
                .is_none_or(|f| taskdef_of(st, t).is_some_and(|d| &d.family == f))
        })
        .filter(|t| {
            req.started_by
                .as_ref()
                .is_none_or(|s| t.started_by.as_ref() == Some(s))
        })
        .filter(|_| req.launch_type.as_deref().is_none_or(|l| l == "EC2"))
        .filter(|t| match desired {
            "PENDING" => {
                t.desired_status == "RUNNING"
                    && render::PENDING_STATUSES.contains(&t.last_status.as_str())
            }
            d => t.desired_status == d,
        })
        .collect();
    tasks.sort_by(|a, b| {
        a.created_at
            .total_cmp(&b.created_at)
            .then(a.arn.cmp(&b.arn))
    });
    let arns = tasks.iter().map(|t| t.arn.clone()).collect();
    let (page, token) = paginate(arns, req.next_token.as_deref(), req.max_results)?;
    Ok(json!({ "taskArns": page, "nextToken": token }))
}
