//! ARNs and resolving the names/ids/ARNs callers pass.

use crate::local::error::ApiError;
use crate::local::state::{taskdef_key, ClusterRec, State, TaskDefRec, ACCOUNT_ID};
use crate::local::taskdef::{view_of_body, TaskDefView};
use serde_json::{Map, Value};

pub const DEFAULT_CLUSTER: &str = "default";

pub fn arn(region: &str, resource: &str) -> String {
    format!("arn:aws:ecs:{region}:{ACCOUNT_ID}:{resource}")
}

pub fn cluster_arn(region: &str, name: &str) -> String {
    arn(region, &format!("cluster/{name}"))
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Cluster name from a name or ARN (absent: "default").
pub fn cluster_name(param: Option<&str>) -> String {
    match param {
        None | Some("") => DEFAULT_CLUSTER.to_string(),
        Some(p) if p.starts_with("arn:") => p
            .split_once(":cluster/")
            .map(|(_, n)| n.to_string())
            .unwrap_or_else(|| p.to_string()),
        Some(p) => p.to_string(),
    }
}

pub fn valid_cluster_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// An ACTIVE cluster by name or ARN.
pub fn cluster<'a>(st: &'a State, param: Option<&str>) -> Result<&'a ClusterRec, ApiError> {
    st.clusters
        .get(&cluster_name(param))
        .filter(|c| c.status == "ACTIVE")
        .ok_or_else(ApiError::cluster_not_found)
}

/// Like `cluster`, but creates "default" on first use as ECS does.
pub fn cluster_or_default(
    st: &mut State,
    region: &str,
    param: Option<&str>,
) -> Result<ClusterRec, ApiError> {
    let name = cluster_name(param);
    if name == DEFAULT_CLUSTER && st.clusters.get(&name).is_none_or(|c| c.status != "ACTIVE") {
        let rec = ClusterRec {
            arn: cluster_arn(region, &name),
            name: name.clone(),
            status: "ACTIVE".into(),
            tags: vec![],
            settings: vec![serde_json::json!({"name": "containerInsights", "value": "disabled"})],
        };
        tracing::info!(cluster = %rec.arn, "created the default cluster");
        st.put_cluster(rec);
    }
    cluster(st, Some(&name)).cloned()
}

/// A task ARN from an ARN or a task id within a cluster.
pub fn task_arn(region: &str, cluster: &ClusterRec, param: &str) -> String {
    if param.starts_with("arn:") {
        param.to_string()
    } else {
        arn(region, &format!("task/{}/{param}", cluster.name))
    }
}

pub fn instance_arn(region: &str, cluster: &ClusterRec, param: &str) -> String {
    if param.starts_with("arn:") {
        param.to_string()
    } else {
        arn(
            region,
            &format!("container-instance/{}/{param}", cluster.name),
        )
    }
}

/// A task definition from "family", "family:revision" or its ARN. A bare
/// family means its latest ACTIVE revision.
pub fn taskdef<'a>(st: &'a State, param: &str) -> Result<&'a TaskDefRec, ApiError> {
    let not_found = || ApiError::client(format!("Unable to describe task definition {param:?}."));
    let spec = match param.split_once(":task-definition/") {
        Some((_, rest)) => rest,
        None => param,
    };
    match spec.rsplit_once(':') {
        Some((family, rev)) => {
            let rev: i64 = rev.parse().map_err(|_| {
                ApiError::client(format!(
                    "Invalid revision in task definition {param:?}: expected family:revision."
                ))
            })?;
            st.taskdefs
                .get(&taskdef_key(family, rev))
                .ok_or_else(not_found)
        }
        None => st
            .taskdefs
            .values()
            .filter(|t| t.family == spec && t.status == "ACTIVE")
            .max_by_key(|t| t.revision)
            .ok_or_else(not_found),
    }
}

fn body_error(rec: &TaskDefRec, e: impl std::fmt::Display) -> ApiError {
    tracing::error!(task_definition = %rec.arn, error = %e, "stored task definition unreadable");
    ApiError::server(format!("reading task definition {}: {e}", rec.arn))
}

/// The full definition of a revision (from the store).
pub fn definition(st: &State, rec: &TaskDefRec) -> Result<Map<String, Value>, ApiError> {
    st.bodies
        .with(&taskdef_key(&rec.family, rec.revision), |b| {
            serde_json::from_slice::<Map<String, Value>>(b)
        })
        .map_err(|e| body_error(rec, e))?
        .map_err(|e| body_error(rec, e))
}

/// The typed view of a revision's definition (from the store).
pub fn definition_view(st: &State, rec: &TaskDefRec) -> Result<TaskDefView, ApiError> {
    st.bodies
        .with(&taskdef_key(&rec.family, rec.revision), view_of_body)
        .map_err(|e| body_error(rec, e))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_arns() {
        assert_eq!(cluster_name(None), "default");
        assert_eq!(
            cluster_name(Some("arn:aws:ecs:us-east-1:000000000000:cluster/prod")),
            "prod"
        );
        assert_eq!(cluster_name(Some("prod")), "prod");
        assert!(valid_cluster_name("a-b_c1"));
        assert!(!valid_cluster_name("a b"));
    }
}
