//! RegisterTaskDefinition, DeregisterTaskDefinition, DescribeTaskDefinition,
//! ListTaskDefinitions, ListTaskDefinitionFamilies.

use super::lookup::{arn, definition, taskdef};
use super::render;
use super::request::{paginate, parse};
use crate::local::app::Ctx;
use crate::local::ecr::EcrRegistries;
use crate::local::error::ApiError;
use crate::local::requires::requires_attributes;
use crate::local::state::{taskdef_key, Attribute, State, TaskDefRec};
use crate::local::taskdef::{check_limits, validate, view};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// Fills the members ECS fills in on registration so a describe shows them.
fn with_defaults(mut def: Map<String, Value>) -> Map<String, Value> {
    let mode = def
        .get("networkMode")
        .and_then(Value::as_str)
        .unwrap_or("bridge")
        .to_string();
    if let Some(Value::Array(containers)) = def.get_mut("containerDefinitions") {
        for c in containers.iter_mut() {
            let Value::Object(c) = c else { continue };
            c.entry("cpu").or_insert(json!(0));
            c.entry("essential").or_insert(json!(true));
            for list in ["portMappings", "environment", "mountPoints", "volumesFrom"] {
                c.entry(list).or_insert(json!([]));
            }
            if let Some(Value::Array(pms)) = c.get_mut("portMappings") {
                for p in pms.iter_mut() {
                    let Value::Object(p) = p else { continue };
                    p.entry("protocol").or_insert(json!("tcp"));
                    if mode == "host" || mode == "awsvpc" {
                        if let Some(cp) = p.get("containerPort").cloned() {
                            p.entry("hostPort").or_insert(cp);
                        }
                    }
                }
            }
        }
    }
    def.entry("volumes").or_insert(json!([]));
    // Amazon ECS gives a docker volume without a scope the task scope (the
    // Go agent would treat a missing one as shared).
    if let Some(Value::Array(volumes)) = def.get_mut("volumes") {
        for v in volumes.iter_mut() {
            if let Some(Value::Object(d)) = v.get_mut("dockerVolumeConfiguration") {
                d.entry("scope").or_insert(json!("task"));
            }
        }
    }
    def.entry("placementConstraints").or_insert(json!([]));
    def
}

/// A RegisterTaskDefinition request checked, parsed and serialized before
/// the state lock is taken: under the lock the revision is only numbered and
/// stored, so no definition is parsed, validated or serialized while every
/// other request (and the agents' sessions) wait.
pub struct Prepared {
    family: String,
    tags: Vec<Value>,
    /// With ECS's defaults; moved into the response.
    definition: Map<String, Value>,
    /// Its JSON, as stored.
    body: Vec<u8>,
    requires_attributes: Vec<Attribute>,
}

/// Checks and prepares a registration; `limits: false` only for the
/// test-only debug route that hands the agent a definition ECS itself
/// would refuse. `ecr`: the `--ecr-registry` mappings (their images are
/// private ECR images for `requiresAttributes`).
pub fn prepare(body: Value, limits: bool, ecr: &EcrRegistries) -> Result<Prepared, ApiError> {
    let Value::Object(mut def) = body else {
        return Err(ApiError::client("The request body must be a JSON object."));
    };
    if !def.contains_key("family") {
        return Err(ApiError::client("family is required."));
    }
    if !def.contains_key("containerDefinitions") {
        return Err(ApiError::client("containerDefinitions is required."));
    }
    let tags = match def.remove("tags") {
        Some(Value::Array(t)) => super::tags::validate(&t, "tags")?,
        None | Some(Value::Null) => vec![],
        Some(_) => return Err(ApiError::client("tags must be a list of {key, value}.")),
    };
    if limits {
        check_limits(&def)?;
    }
    let v = view(&def)?;
    validate(&v)?;
    let definition = with_defaults(def);
    let body = serde_json::to_vec(&definition)
        .map_err(|e| ApiError::server(format!("serializing the task definition: {e}")))?;
    Ok(Prepared {
        requires_attributes: requires_attributes(&v, ecr),
        family: v.family,
        tags,
        definition,
        body,
    })
}

pub fn register(st: &mut State, ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let ecr = ctx.ecr_registries.clone();
    register_prepared(st, ctx, prepare(body, true, &ecr)?)
}

/// The next revision of a family: its records are one contiguous key range
/// (`family:revision`, and a family has no ':').
fn next_revision(st: &State, family: &str) -> i64 {
    let prefix = format!("{family}:");
    st.taskdefs
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(_, t)| t.revision)
        .max()
        .unwrap_or(0)
        + 1
}

/// Numbers and stores a prepared registration (under the state lock).
pub fn register_prepared(st: &mut State, ctx: &mut Ctx, p: Prepared) -> Result<Value, ApiError> {
    let revision = next_revision(st, &p.family);
    let rec = TaskDefRec {
        arn: arn(
            &ctx.region,
            &format!("task-definition/{}:{revision}", p.family),
        ),
        family: p.family,
        revision,
        status: "ACTIVE".into(),
        registered_at: ctx.now,
        deregistered_at: None,
        requires_attributes: p.requires_attributes,
        tags: p.tags,
    };
    tracing::info!(task_definition = %rec.arn, "task definition registered");
    st.put_taskdef_body(&taskdef_key(&rec.family, revision), p.body);
    let out = render::taskdef(&rec, p.definition);
    let tags = rec.tags.clone();
    st.put_taskdef(rec);
    Ok(json!({ "taskDefinition": out, "tags": tags }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct OneReq {
    task_definition: Option<String>,
    include: Vec<String>,
}

fn required_taskdef(req: &OneReq) -> Result<&str, ApiError> {
    req.task_definition
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::client("taskDefinition is required."))
}

pub fn deregister(st: &mut State, ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: OneReq = parse(body)?;
    let name = required_taskdef(&req)?;
    if !name.contains(':') {
        return Err(ApiError::client(format!(
            "Invalid taskDefinition {name:?}: a revision is required (family:revision or the full ARN)."
        )));
    }
    let mut rec = taskdef(st, name)?.clone();
    let definition = definition(st, &rec)?;
    if rec.status == "ACTIVE" {
        rec.status = "INACTIVE".into();
        rec.deregistered_at = Some(ctx.now);
        st.put_taskdef(rec.clone());
    }
    Ok(json!({ "taskDefinition": render::taskdef(&rec, definition) }))
}

pub fn describe(st: &mut State, _ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: OneReq = parse(body)?;
    let rec = taskdef(st, required_taskdef(&req)?)?;
    let mut out = json!({ "taskDefinition": render::taskdef(rec, definition(st, rec)?) });
    if req.include.iter().any(|i| i == "TAGS") {
        out["tags"] = json!(rec.tags);
    }
    Ok(out)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ListReq {
    family_prefix: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

fn status_filter(status: Option<&str>) -> Result<Option<&str>, ApiError> {
    match status {
        None => Ok(Some("ACTIVE")),
        Some("ALL") => Ok(None),
        Some(s @ ("ACTIVE" | "INACTIVE" | "DELETE_IN_PROGRESS")) => Ok(Some(s)),
        Some(s) => Err(ApiError::invalid(format!(
            "Invalid status {s:?}: must be ACTIVE, INACTIVE or DELETE_IN_PROGRESS."
        ))),
    }
}

pub fn list(st: &mut State, _ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: ListReq = parse(body)?;
    let status = status_filter(req.status.as_deref())?;
    let mut defs: Vec<&TaskDefRec> = st
        .taskdefs
        .values()
        .filter(|t| req.family_prefix.as_ref().is_none_or(|f| &t.family == f))
        .filter(|t| status.is_none_or(|s| t.status == s))
        .collect();
    defs.sort_by(|a, b| (&a.family, a.revision).cmp(&(&b.family, b.revision)));
    match req.sort.as_deref() {
        None | Some("ASC") => {}
        Some("DESC") => defs.reverse(),
        Some(s) => {
            return Err(ApiError::invalid(format!(
                "Invalid sort {s:?}: must be ASC or DESC."
            )))
        }
    }
    let arns = defs.iter().map(|t| t.arn.clone()).collect();
    let (page, token) = paginate(arns, req.next_token.as_deref(), req.max_results)?;
    Ok(json!({ "taskDefinitionArns": page, "nextToken": token }))
}

pub fn list_families(st: &mut State, _ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: ListReq = parse(body)?;
    let status = status_filter(req.status.as_deref())?;
    let families: BTreeSet<String> = st
        .taskdefs
        .values()
        .filter(|t| {
            req.family_prefix
                .as_ref()
                .is_none_or(|f| t.family.starts_with(f.as_str()))
        })
        .filter(|t| status.is_none_or(|s| t.status == s))
        .map(|t| t.family.clone())
        .collect();
    let (page, token) = paginate(
        families.into_iter().collect(),
        req.next_token.as_deref(),
        req.max_results,
    )?;
    Ok(json!({ "families": page, "nextToken": token }))
}
