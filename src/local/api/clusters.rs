//! CreateCluster, DeleteCluster, ListClusters, DescribeClusters.

use super::lookup::{cluster, cluster_arn, cluster_name, valid_cluster_name, DEFAULT_CLUSTER};
use super::render;
use super::request::{paginate, parse};
use crate::local::app::Ctx;
use crate::local::error::{ApiError, ErrorKind};
use crate::local::state::{ClusterRec, State};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct CreateReq {
    cluster_name: Option<String>,
    tags: Vec<Value>,
    settings: Vec<Value>,
}

pub fn create(st: &mut State, ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: CreateReq = parse(body)?;
    let name = req
        .cluster_name
        .unwrap_or_else(|| DEFAULT_CLUSTER.to_string());
    if !valid_cluster_name(&name) {
        return Err(ApiError::invalid(format!(
            "Invalid clusterName {name:?}: up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed."
        )));
    }
    let existing = st
        .clusters
        .get(&name)
        .filter(|c| c.status == "ACTIVE")
        .cloned();
    let rec = match existing {
        // ECS returns the existing cluster for a repeated create.
        Some(c) => c,
        None => {
            let settings = if req.settings.is_empty() {
                vec![json!({"name": "containerInsights", "value": "disabled"})]
            } else {
                req.settings
            };
            let rec = ClusterRec {
                arn: cluster_arn(&ctx.region, &name),
                name: name.clone(),
                status: "ACTIVE".into(),
                tags: super::tags::validate(&req.tags, "tags")?,
                settings,
            };
            tracing::info!(cluster = %rec.arn, "cluster created");
            st.put_cluster(rec.clone());
            rec
        }
    };
    Ok(json!({ "cluster": render::cluster(st, &rec) }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct DeleteReq {
    cluster: Option<String>,
}

pub fn delete(st: &mut State, _ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: DeleteReq = parse(body)?;
    if req.cluster.as_deref().unwrap_or("").is_empty() {
        return Err(ApiError::invalid("cluster is required."));
    }
    let mut c = cluster(st, req.cluster.as_deref())?.clone();
    if st
        .instances
        .values()
        .any(|i| i.cluster_arn == c.arn && i.status != "INACTIVE")
    {
        return Err(ApiError::new(
            ErrorKind::ClusterContainsContainerInstances,
            "The Cluster cannot be deleted while Container Instances are active or draining.",
        ));
    }
    if st
        .tasks
        .values()
        .any(|t| t.cluster_arn == c.arn && t.last_status != "STOPPED")
    {
        return Err(ApiError::new(
            ErrorKind::ClusterContainsTasks,
            "The Cluster cannot be deleted while Tasks are active.",
        ));
    }
    c.status = "INACTIVE".into();
    st.put_cluster(c.clone());
    tracing::info!(cluster = %c.arn, "cluster deleted");
    Ok(json!({ "cluster": render::cluster(st, &c) }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ListReq {
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub fn list(st: &mut State, _ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: ListReq = parse(body)?;
    let arns: Vec<String> = st
        .clusters
        .values()
        .filter(|c| c.status == "ACTIVE")
        .map(|c| c.arn.clone())
        .collect();
    let (page, token) = paginate(arns, req.next_token.as_deref(), req.max_results)?;
    Ok(json!({ "clusterArns": page, "nextToken": token }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct DescribeReq {
    clusters: Vec<String>,
    include: Vec<String>,
}

pub fn describe(st: &mut State, ctx: &mut Ctx, body: Value) -> Result<Value, ApiError> {
    let req: DescribeReq = parse(body)?;
    let wanted = if req.clusters.is_empty() {
        vec![DEFAULT_CLUSTER.to_string()]
    } else {
        req.clusters
    };
    if wanted.len() > 100 {
        return Err(ApiError::invalid("clusters can name at most 100 clusters."));
    }
    let with_tags = render::include_tags(&req.include);
    let mut clusters = Vec::new();
    let mut failures = Vec::new();
    for w in &wanted {
        let name = cluster_name(Some(w));
        // ECS still describes INACTIVE clusters (for a while).
        match st.clusters.get(&name) {
            Some(c) => clusters.push(render::without_tags_unless(
                render::cluster(st, c),
                with_tags,
            )),
            None => failures.push(render::missing(&cluster_arn(&ctx.region, &name))),
        }
    }
    Ok(json!({ "clusters": clusters, "failures": failures }))
}
