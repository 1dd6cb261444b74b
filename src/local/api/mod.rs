//! ECS JSON 1.1 operations. Each handler takes the parsed request body and
//! works on the state under the app's lock.

mod agent;
mod clusters;
mod instances;
pub(crate) mod lifecycle;
mod lookup;
mod protection;
mod request;

pub use lookup::cluster_name as lookup_cluster_name;
pub mod render;
mod tags;
mod taskdefs;
mod tasks;

use super::app::Ctx;
use super::ecr::EcrRegistries;
use super::error::{ApiError, ErrorKind};
use super::state::State;
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

/// A request with the work that needs no state done: run before the state
/// lock is taken (`prepare`), then handed to `dispatch_prepared` under it.
pub enum Request {
    Body(Value),
    /// RegisterTaskDefinition, parsed, validated and serialized.
    RegisterTaskDefinition(taskdefs::Prepared),
}

/// The stateless part of a request, outside the state lock.
pub fn prepare(op: &str, body: Value, ecr: &EcrRegistries) -> Result<Request, ApiError> {
    match op {
        "RegisterTaskDefinition" => Ok(Request::RegisterTaskDefinition(taskdefs::prepare(
            body, true, ecr,
        )?)),
        _ => Ok(Request::Body(body)),
    }
}

/// For the test-only `/debug/task-definitions-unchecked` route: without
/// Amazon ECS's limits.
pub fn prepare_task_definition_unchecked(
    body: Value,
    ecr: &EcrRegistries,
) -> Result<Request, ApiError> {
    Ok(Request::RegisterTaskDefinition(taskdefs::prepare(
        body, false, ecr,
    )?))
}

pub fn dispatch_prepared(
    st: &mut State,
    ctx: &mut Ctx,
    op: &str,
    req: Request,
) -> Result<Value, ApiError> {
    match req {
        Request::RegisterTaskDefinition(p) => taskdefs::register_prepared(st, ctx, p),
        Request::Body(body) => dispatch(st, ctx, op, body),
    }
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

#[cfg(test)]
#[path = "net_tests.rs"]
mod net_tests;
#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
