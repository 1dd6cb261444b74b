//! ECS_ENABLE_TASK_CPU_MEM_LIMIT, ECS_CGROUP_PATH, ECS_CGROUP_CPU_PERIOD and
//! ECS_TASK_PIDS_LIMIT: task cgroups, with the Go agent's defaults and
//! ranges (agent/config/config.go, parse.go, parse_linux.go).

use std::path::PathBuf;
use std::time::Duration;

use super::{format_go_duration, values, Reader};

pub const DEFAULT_CGROUP_PATH: &str = "/sys/fs/cgroup";
const DEFAULT_CPU_PERIOD: Duration = Duration::from_millis(100);
const MIN_CPU_PERIOD: Duration = Duration::from_millis(8);
const MAX_CPU_PERIOD: Duration = Duration::from_millis(100);
/// The kernel's PID_MAX_LIMIT, Go's upper bound for ECS_TASK_PIDS_LIMIT.
const MAX_PIDS_LIMIT: u32 = 4_194_304;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLimitsConfig {
    /// ECS_ENABLE_TASK_CPU_MEM_LIMIT: on unless set to false.
    pub enabled: bool,
    /// Set to true explicitly: if task cgroups cannot be set up the agent
    /// does not start (Go), instead of going on without them.
    pub explicit: bool,
    /// ECS_CGROUP_PATH: where the cgroup file system is mounted.
    pub cgroup_path: PathBuf,
    /// ECS_CGROUP_CPU_PERIOD: the CFS period of task cpu quotas.
    pub cpu_period: Duration,
    /// ECS_TASK_PIDS_LIMIT: pids.max of every task cgroup; None: no limit.
    pub pids_limit: Option<u32>,
}

impl Reader<'_> {
    pub(super) fn task_limits(&mut self) -> TaskLimitsConfig {
        let set = self.parse("ECS_ENABLE_TASK_CPU_MEM_LIMIT", values::parse_bool);
        let cgroup_path = self
            .parse("ECS_CGROUP_PATH", |s| values::parse_abs_path(s, false))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CGROUP_PATH));
        // Go: outside 8ms..100ms (0 included) the default, with a warning.
        let cpu_period = match self.duration("ECS_CGROUP_CPU_PERIOD") {
            Some(d) if (MIN_CPU_PERIOD..=MAX_CPU_PERIOD).contains(&d) => d,
            Some(_) => {
                self.warn(
                    "ECS_CGROUP_CPU_PERIOD",
                    format!(
                        "outside {}..{}; using {}",
                        format_go_duration(MIN_CPU_PERIOD),
                        format_go_duration(MAX_CPU_PERIOD),
                        format_go_duration(DEFAULT_CPU_PERIOD)
                    ),
                );
                DEFAULT_CPU_PERIOD
            }
            None => DEFAULT_CPU_PERIOD,
        };
        // Go: anything but a whole number from 1 to 4194304 means no limit.
        let pids_limit = match self.get("ECS_TASK_PIDS_LIMIT") {
            None => None,
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=MAX_PIDS_LIMIT).contains(&n) => Some(n),
                _ => {
                    self.warn(
                        "ECS_TASK_PIDS_LIMIT",
                        format!("expected a whole number from 1 to {MAX_PIDS_LIMIT}; no limit"),
                    );
                    None
                }
            },
        };
        TaskLimitsConfig {
            enabled: set.unwrap_or(true),
            explicit: set == Some(true),
            cgroup_path,
            cpu_period,
            pids_limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{test_support, Config, ConfigError};

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        test_support::config(pairs)
    }

    #[test]
    fn defaults_are_the_go_agents_and_documented() {
        let c = cfg(&[]).unwrap().task_limits;
        assert!(c.enabled && !c.explicit);
        assert_eq!(c.cgroup_path, PathBuf::from("/sys/fs/cgroup"));
        assert_eq!(c.cpu_period, Duration::from_millis(100));
        assert_eq!(c.pids_limit, None);
        let doc = test_support::documented_defaults();
        assert_eq!(doc["ECS_ENABLE_TASK_CPU_MEM_LIMIT"], "true");
        assert_eq!(doc["ECS_CGROUP_PATH"], "/sys/fs/cgroup");
        assert_eq!(doc["ECS_CGROUP_CPU_PERIOD"], "100ms");
        assert_eq!(doc["ECS_TASK_PIDS_LIMIT"], "");
    }

    #[test]
    fn values_in_range_are_kept() {
        let c = cfg(&[
            ("ECS_ENABLE_TASK_CPU_MEM_LIMIT", "true"),
            ("ECS_CGROUP_PATH", "/cg"),
            ("ECS_CGROUP_CPU_PERIOD", "8ms"),
            ("ECS_TASK_PIDS_LIMIT", "4194304"),
        ])
        .unwrap();
        let t = c.task_limits;
        assert!(t.enabled && t.explicit);
        assert_eq!(t.cgroup_path, PathBuf::from("/cg"));
        assert_eq!(t.cpu_period, Duration::from_millis(8));
        assert_eq!(t.pids_limit, Some(4_194_304));
        assert!(c.warnings.is_empty());
        assert!(
            !cfg(&[("ECS_ENABLE_TASK_CPU_MEM_LIMIT", "false")])
                .unwrap()
                .task_limits
                .enabled
        );
    }

    #[test]
    fn out_of_range_values_fall_back_as_in_go_with_a_warning() {
        for period in ["7ms", "101ms", "0s"] {
            let c = cfg(&[("ECS_CGROUP_CPU_PERIOD", period)]).unwrap();
            assert_eq!(
                c.task_limits.cpu_period,
                Duration::from_millis(100),
                "{period}"
            );
            assert_eq!(c.warnings[0].variable, "ECS_CGROUP_CPU_PERIOD");
        }
        for pids in ["0", "-1", "4194305", "many"] {
            let c = cfg(&[("ECS_TASK_PIDS_LIMIT", pids)]).unwrap();
            assert_eq!(c.task_limits.pids_limit, None, "{pids}");
            assert_eq!(c.warnings[0].variable, "ECS_TASK_PIDS_LIMIT");
        }
        let e = cfg(&[("ECS_CGROUP_PATH", "relative")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("ECS_CGROUP_PATH"), "{e}");
        let e = cfg(&[("ECS_ENABLE_TASK_CPU_MEM_LIMIT", "maybe")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("ECS_ENABLE_TASK_CPU_MEM_LIMIT"), "{e}");
    }
}
