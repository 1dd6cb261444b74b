//! Log shipping as the engine sees it: told when a task's actor begins (new
//! or restored after a restart) and waited for at cleanup, before the task's
//! logs are removed. A trait so that the engine's tests run without AWS;
//! the agent hands the engine a [`super::Shipping`].

use std::future::Future;
use std::pin::Pin;

use crate::task::def::TaskDef;
use crate::task::log_driver::Awslogs;

pub trait LogShipper: Send + Sync {
    /// Starts (or, after a restart, resumes) shipping the logs of the
    /// task's containers that need it; idempotent.
    fn start(&self, task: &TaskDef);
    /// Starts shipping container `index` of the task with `opts`: an awslogs
    /// driver known only at create (its secretOptions were fetched then), so
    /// not shipped by [`LogShipper::start`]; idempotent.
    fn start_container(&self, task: &TaskDef, index: usize, opts: &Awslogs);
    /// Ships what is left of the task's logs (its containers are gone, so
    /// nothing more is written) and stops; returns when done or given up.
    fn finish<'a>(&'a self, task_arn: &'a str) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}
