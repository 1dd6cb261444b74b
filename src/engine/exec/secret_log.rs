//! awslogs containers whose options came from `secretOptions`, after an
//! agent restart: their values are not in the checkpoint, so they are
//! fetched again before such a container's shipping resumes.

use std::sync::Arc;
use std::time::Duration;

use crate::backoff::Backoff;
use crate::runtime::ContainerRuntime;
use crate::task::log_driver::LogDriver;
use crate::task::Task;

use super::super::inner::Inner;
use super::aws_env;

/// After a restart: the awslogs containers of `task` whose driver came
/// from secretOptions and were created before it ship again once those are
/// fetched again (their values are never checkpointed). The execution role's
/// credentials may come only after ACS hands them over again, so this tries
/// for a while; what it cannot fetch is logged (never a value) and counted.
pub(crate) fn resume_secret_log_shipping<R: ContainerRuntime>(inner: &Arc<Inner<R>>, task: &Task) {
    let Some(shipper) = inner.log_shipper.clone() else {
        return;
    };
    for (i, (def, state)) in task
        .def()
        .containers
        .iter()
        .zip(task.containers())
        .enumerate()
    {
        let LogDriver::Pending(pending) = &def.log else {
            continue;
        };
        if pending.kind != "awslogs" || state.known < crate::task::ContainerStatus::Created {
            continue;
        }
        let inputs = crate::task::def::AwsInputs {
            secrets: def
                .aws
                .secrets
                .iter()
                .filter(|s| s.target == crate::task::resources::SecretTarget::LogDriver)
                .cloned()
                .collect(),
            ..Default::default()
        };
        let (inner, shipper, pending) = (inner.clone(), shipper.clone(), pending.clone());
        let (task_def, arn, name) = (task.def().clone(), task.arn().to_string(), def.name.clone());
        tokio::spawn(async move {
            let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30), 0.2);
            for attempt in 1..=40 {
                let resolved = aws_env(&inner, &arn, &inputs)
                    .await
                    .and_then(|env| pending.resolve(&env.log_options));
                match resolved {
                    Ok(LogDriver::Awslogs(a)) => {
                        shipper.start_container(&task_def, i, &a);
                        return;
                    }
                    Ok(_) => return,
                    Err(reason) => {
                        tracing::warn!(task = %arn, container = %name, attempt, reason = %reason, "awslogs: cannot fetch the secretOptions to resume shipping");
                    }
                }
                tokio::time::sleep(backoff.next(rand::random::<f64>())).await;
            }
            inner.metrics.inc_error("awslogs");
            tracing::error!(task = %arn, container = %name, "awslogs: gave up fetching the secretOptions; this container's lines are not shipped");
        });
    }
}
