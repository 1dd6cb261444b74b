//! The limits of a task's cgroup, computed as the Go agent does
//! (agent/api/task/task_linux.go `BuildLinuxResourceSpec`).

use std::time::Duration;

use super::CgroupError;
use crate::task::def::TaskDef;

/// The kernel's bounds for cpu.shares; Go clamps each container and the sum.
const MIN_CPU_SHARES: u64 = 2;
const MAX_CPU_SHARES: u64 = 262_144;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuLimit {
    /// Task-level cpu: a CFS quota of `vCPU * period` per period.
    Quota { quota_us: i64, period_us: u64 },
    /// No task-level cpu: the containers' shares added up, as Go's
    /// `buildImplicitLinuxCPUSpec`.
    Shares(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskCgroupSpec {
    pub cpu: CpuLimit,
    /// Task-level memory in bytes.
    pub memory_bytes: Option<i64>,
    /// ECS_TASK_PIDS_LIMIT.
    pub pids_max: Option<u32>,
}

impl TaskCgroupSpec {
    /// `period` is ECS_CGROUP_CPU_PERIOD, `pids_max` ECS_TASK_PIDS_LIMIT.
    pub fn for_task(
        def: &TaskDef,
        period: Duration,
        pids_max: Option<u32>,
    ) -> Result<TaskCgroupSpec, CgroupError> {
        let cpu = match def.limits.cpu.filter(|c| *c > 0.0) {
            Some(vcpu) => {
                let period_us = period.as_micros() as u64;
                CpuLimit::Quota {
                    quota_us: (vcpu * period_us as f64) as i64,
                    period_us,
                }
            }
            None => CpuLimit::Shares(
                def.containers
                    .iter()
                    .map(|c| u64::from(c.cpu).max(MIN_CPU_SHARES))
                    .sum::<u64>()
                    .min(MAX_CPU_SHARES),
            ),
        };
        let memory_bytes = match def.limits.memory_mib.filter(|m| *m > 0) {
            Some(task_mib) => {
                // Go refuses the task rather than give a container a limit
                // its task's cgroup can never grant.
                for c in &def.containers {
                    if let Some(mib) = c.memory_mib.filter(|m| i64::from(*m) > task_mib) {
                        return Err(CgroupError::ContainerMemoryAboveTask {
                            container: c.name.clone(),
                            container_mib: mib,
                            task_mib,
                        });
                    }
                }
                Some(task_mib.saturating_mul(1024 * 1024))
            }
            None => None,
        };
        Ok(TaskCgroupSpec {
            cpu,
            memory_bytes,
            pids_max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::def::{ContainerDef, NetworkMode, TaskLimits};

    fn def(cpu: Option<f64>, memory_mib: Option<i64>, containers: Vec<ContainerDef>) -> TaskDef {
        TaskDef {
            arn: "arn:aws:ecs:us-east-1:0:task/c/t1".into(),
            family: "f".into(),
            version: "1".into(),
            network_mode: NetworkMode::Host,
            containers,
            eni: None,
            eni_attachment_arn: None,
            credentials_id: None,
            execution_credentials_id: None,
            limits: TaskLimits { cpu, memory_mib },
            volumes: Vec::new(),
        }
    }

    #[test]
    fn task_cpu_is_a_quota_of_vcpu_times_the_period_as_go() {
        // 512 units = 0.5 vCPU; Go: quota = task.CPU * period in microseconds.
        let s = TaskCgroupSpec::for_task(
            &def(Some(0.5), Some(256), vec![ContainerDef::minimal("a", "x")]),
            Duration::from_millis(100),
            Some(100),
        )
        .unwrap();
        assert_eq!(
            s.cpu,
            CpuLimit::Quota {
                quota_us: 50_000,
                period_us: 100_000
            }
        );
        assert_eq!(s.memory_bytes, Some(256 * 1024 * 1024));
        assert_eq!(s.pids_max, Some(100));
        let s = TaskCgroupSpec::for_task(
            &def(Some(2.0), None, vec![]),
            Duration::from_millis(8),
            None,
        )
        .unwrap();
        assert_eq!(
            s.cpu,
            CpuLimit::Quota {
                quota_us: 16_000,
                period_us: 8_000
            }
        );
        assert_eq!(s.memory_bytes, None);
    }

    #[test]
    fn without_task_cpu_the_containers_shares_add_up() {
        let mut a = ContainerDef::minimal("a", "x");
        a.cpu = 300;
        let b = ContainerDef::minimal("b", "x"); // 0 counts as the minimum 2
        let s = TaskCgroupSpec::for_task(
            &def(None, None, vec![a, b]),
            Duration::from_millis(100),
            None,
        )
        .unwrap();
        assert_eq!(s.cpu, CpuLimit::Shares(302));
    }

    #[test]
    fn a_container_memory_above_the_task_memory_is_refused() {
        let mut a = ContainerDef::minimal("a", "x");
        a.memory_mib = Some(128);
        let e = TaskCgroupSpec::for_task(
            &def(None, Some(64), vec![a]),
            Duration::from_millis(100),
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "container \"a\" sets memory 128 MiB, more than the task's 64 MiB"
        );
    }
}
