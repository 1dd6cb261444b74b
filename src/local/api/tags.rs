//! TagResource, UntagResource, ListTagsForResource, and the tag checks the
//! operations that take `tags` share.

use super::lookup::DEFAULT_CLUSTER;
use super::request::parse;
use crate::local::app::Ctx;
use crate::local::error::{ApiError, ErrorKind};
use crate::local::state::{taskdef_key, State, ACCOUNT_ID};
use serde::Deserialize;
use serde_json::{json, Value};

/// Tags per resource, not counting `aws:` ones.
pub const MAX_TAGS: usize = 50;
const MAX_KEY: usize = 128;
const MAX_VALUE: usize = 256;
/// The tag ECS adds to tasks run with `enableECSManagedTags`.
pub const MANAGED_CLUSTER_TAG: &str = "aws:ecs:clusterName";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tag {
    key: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

fn allowed_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

fn reserved(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
}

fn key_of(tag: &Value) -> Option<&str> {
    tag.get("key").and_then(Value::as_str)
}

/// Checks tags as given in a request (`field` names the member) and returns
/// them as `{"key", "value"}` objects.
pub fn validate(tags: &[Value], field: &str) -> Result<Vec<Value>, ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::invalid(format!(
            "{field}: at most {MAX_TAGS} tags can be applied to a resource (got {}).",
            tags.len()
        )));
    }
    let mut out: Vec<Value> = Vec::with_capacity(tags.len());
    for (i, raw) in tags.iter().enumerate() {
        let t: Tag = serde_json::from_value(raw.clone())
            .map_err(|e| ApiError::invalid(format!("{field}[{i}]: {e}")))?;
        let key = t
            .key
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ApiError::invalid(format!("{field}[{i}].key must not be empty.")))?;
        let value = t.value.unwrap_or_default();
        if key.chars().count() > MAX_KEY || !key.chars().all(allowed_char) {
            return Err(ApiError::invalid(format!(
                "{field}[{i}].key {key:?}: up to {MAX_KEY} letters, numbers, spaces and _ . : / = + - @ are allowed."
            )));
        }
        if value.chars().count() > MAX_VALUE || !value.chars().all(allowed_char) {
            return Err(ApiError::invalid(format!(
                "{field}[{i}].value of {key:?}: up to {MAX_VALUE} letters, numbers, spaces and _ . : / = + - @ are allowed."
            )));
        }
        if reserved(&key) {
            return Err(ApiError::invalid(format!(
                "{field}[{i}].key {key:?}: the aws: prefix is reserved for AWS use."
            )));
        }
        if out.iter().any(|o| key_of(o) == Some(key.as_str())) {
            return Err(ApiError::invalid(format!(
                "{field}[{i}].key {key:?} is given twice; each tag key must be unique."
            )));
        }
        out.push(json!({"key": key, "value": value}));
    }
    Ok(out)
}

/// `existing` with `new` applied: a given key's value replaces the old one.
/// Refuses a result with more than [`MAX_TAGS`] user tags.
pub fn merge(existing: &[Value], new: &[Value]) -> Result<Vec<Value>, ApiError> {
    let mut out: Vec<Value> = existing.to_vec();
    for t in new {
        match out.iter_mut().find(|o| key_of(o) == key_of(t)) {
            Some(o) => *o = t.clone(),
            None => out.push(t.clone()),
        }
    }
    let user = out
        .iter()
        .filter(|t| !key_of(t).is_some_and(reserved))
        .count();
    if user > MAX_TAGS {
        return Err(ApiError::invalid(format!(
            "tags: a resource can have at most {MAX_TAGS} tags; this would make {user}."
        )));
    }
    Ok(out)
}

/// A taggable ecs-local record, by its key in the state.
enum Target {
    Cluster(String),
    Instance(String),
    Task(String),
    TaskDef(String),
}

fn invalid_arn() -> ApiError {
    ApiError::invalid("The ARN provided is invalid.")
}

fn not_found() -> ApiError {
    ApiError::new(
        ErrorKind::ResourceNotFound,
        "The specified resource could not be found.",
    )
}

/// Resolves `resourceArn` to a record that exists.
fn target(st: &State, ctx: &Ctx, arn: &str) -> Result<Target, ApiError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(invalid_arn());
    };
    if prefix != "arn" || !partition.starts_with("aws") || service != "ecs" {
        return Err(invalid_arn());
    }
    let (kind, rest) = resource.split_once('/').ok_or_else(invalid_arn)?;
    if rest.is_empty() {
        return Err(invalid_arn());
    }
    let here = region == ctx.region && account == ACCOUNT_ID;
    let long_arn = || {
        if rest.contains('/') {
            Ok(())
        } else {
            Err(ApiError::invalid(
                "Long arn format must be used for tagging operations",
            ))
        }
    };
    match kind {
        "cluster" => {
            let found = here
                && st
                    .clusters
                    .get(rest)
                    .is_some_and(|c| c.status == "ACTIVE" && c.arn == arn);
            if found {
                Ok(Target::Cluster(rest.to_string()))
            } else {
                Err(ApiError::cluster_not_found())
            }
        }
        "container-instance" => {
            long_arn()?;
            cluster_exists(st, here, rest)?;
            st.instances
                .contains_key(arn)
                .then(|| Target::Instance(arn.to_string()))
                .ok_or_else(not_found)
        }
        "task" => {
            long_arn()?;
            cluster_exists(st, here, rest)?;
            st.tasks
                .contains_key(arn)
                .then(|| Target::Task(arn.to_string()))
                .ok_or_else(not_found)
        }
        "task-definition" => {
            let (family, rev) = rest.rsplit_once(':').ok_or_else(invalid_arn)?;
            let rev: i64 = rev.parse().map_err(|_| invalid_arn())?;
            let key = taskdef_key(family, rev);
            st.taskdefs
                .get(&key)
                .filter(|d| here && d.arn == arn)
                .map(|_| Target::TaskDef(key))
                .ok_or_else(not_found)
        }
        // Valid ECS resources ecs-local never has.
        "service" | "capacity-provider" | "task-set" => Err(not_found()),
        other => Err(ApiError::invalid(format!(
            "Unsupported resource type: {other}"
        ))),
    }
}

/// Tasks and container instances live in a cluster that must exist.
fn cluster_exists(st: &State, here: bool, rest: &str) -> Result<(), ApiError> {
    let name = rest.split('/').next().unwrap_or(DEFAULT_CLUSTER);
    if here && st.clusters.contains_key(name) {
        Ok(())
    } else {
        Err(ApiError::cluster_not_found())
    }
}

fn tags_of<'a>(st: &'a State, t: &Target) -> &'a [Value] {
    let tags = match t {
        Target::Cluster(k) => st.clusters.get(k).map(|c| &c.tags),
        Target::Instance(k) => st.instances.get(k).map(|i| &i.tags),
        Target::Task(k) => st.tasks.get(k).map(|t| &t.tags),
        Target::TaskDef(k) => st.taskdefs.get(k).map(|d| &d.tags),
    };
    tags.map(Vec::as_slice).unwrap_or_default()
}

fn set_tags(st: &mut State, t: &Target, tags: Vec<Value>) {
    match t {
        Target::Cluster(k) => {
            if let Some(mut c) = st.clusters.get(k).cloned() {
                c.tags = tags;
                st.put_cluster(c);
            }
        }
        Target::Instance(k) => {
            if let Some(mut i) = st.instances.get(k).cloned() {
                i.tags = tags;
                st.put_instance(i);
            }
        }
        Target::Task(k) => {
            if let Some(mut x) = st.tasks.get(k).cloned() {
                x.tags = tags;
                st.put_task(x);
            }
        }
        Target::TaskDef(k) => {
            if let Some(mut d) = st.taskdefs.get(k).cloned() {
                d.tags = tags;
                st.put_taskdef(d);
            }
        }
    }
}

fn resource_arn(v: &Option<String>) -> Result<&str, ApiError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid("resourceArn is required."))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TagReq {
    resource_arn: Option<String>,
    tags: Option<Vec<Value>>,
}

pub fn tag_resource(st: &mut State, ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: TagReq = parse(body)?;
    let arn = resource_arn(&req.resource_arn)?;
    let given = req
        .tags
        .ok_or_else(|| ApiError::invalid("tags is required."))?;
    let new = validate(&given, "tags")?;
    let t = target(st, ctx, arn)?;
    let merged = merge(tags_of(st, &t), &new)?;
    set_tags(st, &t, merged);
    tracing::info!(resource = %arn, tags = new.len(), "resource tagged");
    Ok(json!({}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct UntagReq {
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub fn untag_resource(st: &mut State, ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: UntagReq = parse(body)?;
    let arn = resource_arn(&req.resource_arn)?;
    let keys = req
        .tag_keys
        .ok_or_else(|| ApiError::invalid("tagKeys is required."))?;
    for (i, k) in keys.iter().enumerate() {
        if k.is_empty() || k.chars().count() > MAX_KEY {
            return Err(ApiError::invalid(format!(
                "tagKeys[{i}] must be 1 to {MAX_KEY} characters."
            )));
        }
        if reserved(k) {
            return Err(ApiError::invalid(format!(
                "tagKeys[{i}] {k:?}: tags with the aws: prefix cannot be removed."
            )));
        }
    }
    let t = target(st, ctx, arn)?;
    let kept: Vec<Value> = tags_of(st, &t)
        .iter()
        .filter(|tag| !key_of(tag).is_some_and(|k| keys.iter().any(|x| x == k)))
        .cloned()
        .collect();
    set_tags(st, &t, kept);
    tracing::info!(resource = %arn, keys = keys.len(), "resource untagged");
    Ok(json!({}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ListReq {
    resource_arn: Option<String>,
}

pub fn list_tags_for_resource(
    st: &mut State,
    ctx: &mut Ctx,
    body: Value,
) -> Result<Value, ApiError> {
    let req: ListReq = parse(body)?;
    let arn = resource_arn(&req.resource_arn)?;
    let t = target(st, ctx, arn)?;
    Ok(json!({ "tags": tags_of(st, &t) }))
}

/// The tags a new task gets: those given, then (with
/// `propagateTags: TASK_DEFINITION`) the task definition's for keys not given,
/// then ECS's managed tag when asked for.
pub fn task_tags(
    given: &[Value],
    propagate: Option<&str>,
    taskdef_tags: &[Value],
    managed_cluster: Option<&str>,
) -> Result<Vec<Value>, ApiError> {
    let mut tags = validate(given, "tags")?;
    match propagate {
        None | Some("NONE") => {}
        Some("TASK_DEFINITION") => {
            for t in taskdef_tags {
                if !tags.iter().any(|x| key_of(x) == key_of(t)) {
                    tags.push(t.clone());
                }
            }
        }
        Some("SERVICE") => {
            return Err(ApiError::invalid(
                "propagateTags SERVICE is only valid for tasks started by a service.",
            ))
        }
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Invalid propagateTags {other:?}: must be TASK_DEFINITION, SERVICE or NONE."
            )))
        }
    }
    let mut tags = merge(&[], &tags)?;
    if let Some(cluster) = managed_cluster {
        tags.push(json!({"key": MANAGED_CLUSTER_TAG, "value": cluster}));
    }
    Ok(tags)
}

#[cfg(test)]
#[path = "tags_tests.rs"]
mod tests;
