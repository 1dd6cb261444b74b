//! ECS JSON 1.1 operations. Each handler takes the parsed request body and
//! works on the state under the app's lock.

mod agent;
mod clusters;
mod instances;
pub(crate) mod lifecycle;
mod lookup;
mod protection;

pub use lookup::cluster_name as lookup_cluster_name;
pub mod render;
mod tags;
mod taskdefs;
mod tasks;

use super::app::Ctx;
use super::error::{ApiError, ErrorKind};
use super::state::State;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113.";

type Handler = fn(&mut State, &mut Ctx, Value) -> Result<Value, ApiError>;

fn handler(op: &str) -> Option<Handler> {
    let h: Handler = match op {
        "CreateCluster" => clusters::create,
        "DeleteCluster" => clusters::delete,
        "ListClusters" => clusters::list,
        "DescribeClusters" => clusters::describe,
        "RegisterTaskDefinition" => taskdefs::register,
        "DeregisterTaskDefinition" => taskdefs::deregister,
        "DescribeTaskDefinition" => taskdefs::describe,
        "ListTaskDefinitions" => taskdefs::list,
        "ListTaskDefinitionFamilies" => taskdefs::list_families,
        "RunTask" => tasks::run,
        "StartTask" => tasks::start,
        "StopTask" => tasks::stop,
        "DescribeTasks" => tasks::describe,
        "ListTasks" => tasks::list,
        "RegisterContainerInstance" => instances::register,
        "DeregisterContainerInstance" => instances::deregister,
        "DescribeContainerInstances" => instances::describe,
        "ListContainerInstances" => instances::list,
        "UpdateContainerInstancesState" => instances::update_state,
        "DiscoverPollEndpoint" => agent::discover_poll_endpoint,
        "SubmitTaskStateChange" => agent::submit_task_state_change,
        "SubmitContainerStateChange" => agent::submit_container_state_change,
        "TagResource" => tags::tag_resource,
        "UntagResource" => tags::untag_resource,
        "ListTagsForResource" => tags::list_tags_for_resource,
        "UpdateTaskProtection" => protection::update,
        "GetTaskProtection" => protection::get,
        _ => return None,
    };
    Some(h)
}

pub fn dispatch(st: &mut State, ctx: &mut Ctx, op: &str, body: Value) -> Result<Value, ApiError> {
    let h = handler(op).ok_or_else(|| {
        ApiError::new(
            ErrorKind::UnknownOperation,
            format!("Operation {op} is not supported by ecs-local."),
        )
    })?;
    h(st, ctx, body)
}

/// Parses a request body into its typed shape, naming the member on failure.
pub(crate) fn parse<T: DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        ApiError::new(
            ErrorKind::Serialization,
            format!("Invalid value for '{path}': {}", e.into_inner()),
        )
    })
}

/// `nextToken`/`maxResults` paging over an ordered list.
pub(crate) fn paginate(
    items: Vec<String>,
    next_token: Option<&str>,
    max_results: Option<i64>,
) -> Result<(Vec<String>, Option<String>), ApiError> {
    let start = match next_token {
        None | Some("") => 0,
        Some(t) => t
            .strip_prefix("ecs-local:")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ApiError::invalid(format!("Invalid nextToken {t:?}.")))?,
    };
    let max = match max_results {
        None => 100,
        Some(m) if (1..=100).contains(&m) => m as usize,
        Some(m) => {
            return Err(ApiError::invalid(format!(
                "maxResults must be between 1 and 100 (got {m})."
            )))
        }
    };
    let end = (start + max).min(items.len());
    let page = items
        .get(start..end)
        .map(<[String]>::to_vec)
        .unwrap_or_default();
    let token = (end < items.len()).then(|| format!("ecs-local:{end}"));
    Ok((page, token))
}

#[cfg(test)]
#[path = "net_tests.rs"]
mod net_tests;
#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
