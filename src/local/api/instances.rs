//! RegisterContainerInstance, DeregisterContainerInstance,
//! DescribeContainerInstances, ListContainerInstances,
//! UpdateContainerInstancesState.

use super::lifecycle::request_stop;
use super::lookup::{arn, cluster, cluster_or_default, instance_arn, new_id};
use super::render;
use super::request::{paginate, parse};
use crate::local::app::Ctx;
use crate::local::error::{ApiError, ErrorKind};
use crate::local::imds::derived_from_document;
use crate::local::state::{Attribute, InstanceRec, Resource, State};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RegisterReq {
    cluster: Option<String>,
    instance_identity_document: Option<String>,
    total_resources: Vec<Resource>,
    version_info: Option<Value>,
    container_instance_arn: Option<String>,
    attributes: Vec<Attribute>,
    tags: Vec<Value>,
}

pub fn register(st: &mut State, ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: RegisterReq = parse(body)?;
    let tags = super::tags::validate(&req.tags, "tags")?;
    let c = cluster_or_default(st, &ctx.region, req.cluster.as_deref())?;
    for (i, a) in req.attributes.iter().enumerate() {
        if a.name.trim().is_empty() {
            return Err(ApiError::invalid(format!(
                "attributes[{i}].name must not be empty."
            )));
        }
    }
    for (i, r) in req.total_resources.iter().enumerate() {
        if r.name.trim().is_empty() {
            return Err(ApiError::invalid(format!(
                "totalResources[{i}].name must not be empty."
            )));
        }
    }
    // Amazon ECS adds what the identity document says to what the agent sent.
    let (ec2_instance_id, derived) =
        derived_from_document(req.instance_identity_document.as_deref().unwrap_or(""));
    let mut attributes = req.attributes.clone();
    attributes.retain(|a| !derived.iter().any(|d| d.name == a.name));
    attributes.extend(derived);
    let prefix = arn(&ctx.region, &format!("container-instance/{}/", c.name));
    let existing = req
        .container_instance_arn
        .as_deref()
        .filter(|a| !a.is_empty())
        .map(|a| instance_arn(&ctx.region, &c, a));
    let rec = match existing.as_ref().and_then(|a| st.instances.get(a)) {
        Some(old) => {
            if old.cluster_arn != c.arn {
                return Err(ApiError::client(format!(
                    "Container instance {} belongs to another cluster ({}).",
                    old.arn, old.cluster_arn
                )));
            }
            if old.status == "INACTIVE" {
                return Err(ApiError::client(format!(
                    "Container instance {} was deregistered; register without containerInstanceArn.",
                    old.arn
                )));
            }
            if old.registered_by.is_some() && old.registered_by != ctx.signer {
                return Err(ApiError::new(
                    ErrorKind::AccessDenied,
                    format!(
                        "User {} is not authorized to perform: ecs:RegisterContainerInstance on resource: {} because another principal registered that container instance",
                        ctx.signer.as_deref().unwrap_or("(unsigned)"),
                        old.arn
                    ),
                ));
            }
            InstanceRec {
                version: old.version + 1,
                version_info: req
                    .version_info
                    .clone()
                    .unwrap_or_else(|| old.version_info.clone()),
                registered_resources: req.total_resources.clone(),
                attributes: attributes.clone(),
                ec2_instance_id: ec2_instance_id
                    .clone()
                    .or_else(|| old.ec2_instance_id.clone()),
                tags: if tags.is_empty() {
                    old.tags.clone()
                } else {
                    tags.clone()
                },
                ..old.clone()
            }
        }
        None => {
            // Keep an ARN the agent remembers if it is one of ours for this cluster.
            let arn = existing
                .filter(|a| a.starts_with(&prefix) && a.len() > prefix.len())
                .unwrap_or_else(|| format!("{prefix}{}", new_id()));
            InstanceRec {
                arn,
                cluster_arn: c.arn.clone(),
                ec2_instance_id,
                version: 1,
                version_info: req.version_info.clone().unwrap_or_else(|| json!({})),
                registered_resources: req.total_resources.clone(),
                status: "ACTIVE".into(),
                status_reason: None,
                agent_connected: false,
                attributes: attributes.clone(),
                registered_at: ctx.now,
                tags: tags.clone(),
                next_seq_num: 1,
                registered_by: ctx.signer.clone(),
            }
        }
    };
    tracing::info!(instance = %rec.arn, cluster = %c.arn, attributes = rec.attributes.len(), "container instance registered");
    st.put_instance(rec.clone());
    Ok(json!({ "containerInstance": render::instance(st, &rec) }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct DeregisterReq {
    cluster: Option<String>,
    container_instance: Option<String>,
    force: Option<bool>,
}

pub fn deregister(st: &mut State, ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: DeregisterReq = parse(body)?;
    let c = cluster(st, req.cluster.as_deref())?.clone();
    let param = req
        .container_instance
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid("containerInstance is required."))?;
    let arn = instance_arn(&ctx.region, &c, param);
    let mut rec = st
        .instances
        .get(&arn)
        .filter(|i| i.cluster_arn == c.arn)
        .cloned()
        .ok_or_else(|| ApiError::invalid(format!("Container instance {param:?} not found.")))?;
    let live: Vec<String> = st
        .tasks
        .values()
        .filter(|t| t.container_instance_arn == arn && t.last_status != "STOPPED")
        .map(|t| t.arn.clone())
        .collect();
    if !live.is_empty() && req.force != Some(true) {
        return Err(ApiError::invalid(format!(
            "Container instance {arn} has {} task(s) that are not stopped; deregister with force to orphan them.",
            live.len()
        )));
    }
    for t in live {
        request_stop(
            st,
            ctx,
            &t,
            "Container instance deregistered",
            "UserInitiated",
        );
    }
    rec.status = "INACTIVE".into();
    rec.version += 1;
    st.put_instance(rec.clone());
    // The ACS session sees INACTIVE and closes.
    ctx.notify.push(arn.clone());
    tracing::info!(instance = %arn, "container instance deregistered");
    Ok(json!({ "containerInstance": render::instance(st, &rec) }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct DescribeReq {
    cluster: Option<String>,
    container_instances: Vec<String>,
    include: Vec<String>,
}

pub fn describe(st: &mut State, ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: DescribeReq = parse(body)?;
    let c = cluster(st, req.cluster.as_deref())?.clone();
    if req.container_instances.is_empty() || req.container_instances.len() > 100 {
        return Err(ApiError::invalid(
            "containerInstances must name between 1 and 100 container instances.",
        ));
    }
    let with_tags = render::include_tags(&req.include);
    let mut out = Vec::new();
    let mut failures = Vec::new();
    for p in &req.container_instances {
        let a = instance_arn(&ctx.region, &c, p);
        match st.instances.get(&a).filter(|i| i.cluster_arn == c.arn) {
            Some(i) => out.push(render::without_tags_unless(
                render::instance(st, i),
                with_tags,
            )),
            None => failures.push(render::missing(&a)),
        }
    }
    Ok(json!({ "containerInstances": out, "failures": failures }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ListReq {
    cluster: Option<String>,
    filter: Option<String>,
    status: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub fn list(st: &mut State, _ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: ListReq = parse(body)?;
    let c = cluster(st, req.cluster.as_deref())?.clone();
    if req.filter.as_deref().is_some_and(|f| !f.is_empty()) {
        return Err(ApiError::invalid(
            "filter: cluster query language expressions are not supported by ecs-local.",
        ));
    }
    let arns: Vec<String> = st
        .instances
        .values()
        .filter(|i| i.cluster_arn == c.arn)
        .filter(|i| match req.status.as_deref() {
            None => i.status != "INACTIVE",
            Some(s) => i.status == s,
        })
        .map(|i| i.arn.clone())
        .collect();
    let (page, token) = paginate(arns, req.next_token.as_deref(), req.max_results)?;
    Ok(json!({ "containerInstanceArns": page, "nextToken": token }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct UpdateStateReq {
    cluster: Option<String>,
    container_instances: Vec<String>,
    status: Option<String>,
}

pub fn update_state(st: &mut State, ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: UpdateStateReq = parse(body)?;
    let c = cluster(st, req.cluster.as_deref())?.clone();
    let status = match req.status.as_deref() {
        Some(s @ ("ACTIVE" | "DRAINING")) => s.to_string(),
        other => {
            return Err(ApiError::invalid(format!(
                "Invalid status {:?}: must be ACTIVE or DRAINING.",
                other.unwrap_or("")
            )))
        }
    };
    if req.container_instances.is_empty() || req.container_instances.len() > 10 {
        return Err(ApiError::invalid(
            "containerInstances must name between 1 and 10 container instances.",
        ));
    }
    let mut out = Vec::new();
    let mut failures = Vec::new();
    for p in &req.container_instances {
        let a = instance_arn(&ctx.region, &c, p);
        let Some(mut rec) = st
            .instances
            .get(&a)
            .filter(|i| i.cluster_arn == c.arn && i.status != "INACTIVE")
            .cloned()
        else {
            failures.push(render::missing(&a));
            continue;
        };
        if rec.status != status {
            rec.status = status.clone();
            rec.version += 1;
            st.put_instance(rec.clone());
            if status == "DRAINING" {
                let live: Vec<String> = st
                    .tasks
                    .values()
                    .filter(|t| t.container_instance_arn == a && t.desired_status != "STOPPED")
                    .map(|t| t.arn.clone())
                    .collect();
                for t in live {
                    request_stop(
                        st,
                        ctx,
                        &t,
                        "Container instance is draining",
                        "ServiceSchedulerInitiated",
                    );
                }
            }
            tracing::info!(instance = %a, status = %status, "container instance state updated");
        }
        out.push(render::instance(st, &rec));
    }
    Ok(json!({ "containerInstances": out, "failures": failures }))
}
