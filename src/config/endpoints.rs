//! Settings of the local endpoints: where they listen, the task metadata
//! request limit and how often container stats are polled.

use std::time::Duration;

use super::{format_go_duration, ConfigError, Reader};

/// The Go agent's fixed ports (there they are constants, not settings).
pub const DEFAULT_INTROSPECTION_PORT: u16 = 51678;
pub const DEFAULT_CREDENTIALS_PORT: u16 = 51679;
const DEFAULT_RPS: RpsLimit = RpsLimit {
    steady: 40,
    burst: 60,
};
const DEFAULT_STATS_POLL: Duration = Duration::from_secs(10);
const MIN_STATS_POLL: Duration = Duration::from_secs(5);
const MAX_STATS_POLL: Duration = Duration::from_secs(20);

/// ECS_TASK_METADATA_RPS_LIMIT: requests per second refilled, and how many
/// may come at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpsLimit {
    pub steady: u32,
    pub burst: u32,
}

impl Default for RpsLimit {
    /// The Go agent's default, `40,60`.
    fn default() -> Self {
        DEFAULT_RPS
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    /// ECS_AGENT_INTROSPECTION_PORT: introspection API and `/metrics`, on all addresses.
    pub introspection_port: u16,
    /// ECS_AGENT_CREDENTIALS_PORT: task metadata (and credentials) on
    /// 127.0.0.1, where 169.254.170.2:80 is redirected.
    pub credentials_port: u16,
    pub metadata_rps_limit: RpsLimit,
    /// ECS_POLLING_METRICS_WAIT_DURATION.
    pub stats_poll_interval: Duration,
}

fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err("a TCP port number from 1 to 65535".into()),
    }
}

fn parse_rps(s: &str) -> Result<RpsLimit, String> {
    let expected = || "\"steady,burst\": two whole numbers above 0, e.g. 40,60".to_string();
    let (a, b) = s.split_once(',').ok_or_else(expected)?;
    let steady = a.trim().parse::<u32>().map_err(|_| expected())?;
    let burst = b.trim().parse::<u32>().map_err(|_| expected())?;
    if steady == 0 || burst == 0 {
        return Err(expected());
    }
    Ok(RpsLimit { steady, burst })
}

impl Reader<'_> {
    pub(super) fn endpoints(&mut self) -> Endpoints {
        let introspection_port = self
            .parse("ECS_AGENT_INTROSPECTION_PORT", parse_port)
            .unwrap_or(DEFAULT_INTROSPECTION_PORT);
        let credentials_port = self
            .parse("ECS_AGENT_CREDENTIALS_PORT", parse_port)
            .unwrap_or(DEFAULT_CREDENTIALS_PORT);
        if introspection_port == credentials_port {
            self.errors.push(ConfigError::Invalid {
                variable: "ECS_AGENT_CREDENTIALS_PORT",
                value: credentials_port.to_string(),
                expected: "a port other than ECS_AGENT_INTROSPECTION_PORT".into(),
            });
        }
        let metadata_rps_limit = self
            .parse("ECS_TASK_METADATA_RPS_LIMIT", parse_rps)
            .unwrap_or(DEFAULT_RPS);
        Endpoints {
            introspection_port,
            credentials_port,
            metadata_rps_limit,
            stats_poll_interval: self.stats_poll_interval(),
        }
    }

    /// Go semantics: zero means the default; outside 5s..20s is clamped.
    fn stats_poll_interval(&mut self) -> Duration {
        let name = "ECS_POLLING_METRICS_WAIT_DURATION";
        let bound = match self.duration(name) {
            None => return DEFAULT_STATS_POLL,
            Some(d) if d.is_zero() => return DEFAULT_STATS_POLL,
            Some(d) if d < MIN_STATS_POLL => MIN_STATS_POLL,
            Some(d) if d > MAX_STATS_POLL => MAX_STATS_POLL,
            Some(d) => return d,
        };
        self.warn(
            name,
            format!(
                "outside {}..{}; using {}",
                format_go_duration(MIN_STATS_POLL),
                format_go_duration(MAX_STATS_POLL),
                format_go_duration(bound)
            ),
        );
        bound
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::config::{test_support, Config};

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        test_support::config(pairs)
    }

    #[test]
    fn defaults_are_the_go_agents_and_documented() {
        let e = cfg(&[]).unwrap().endpoints;
        assert_eq!(e.introspection_port, 51678);
        assert_eq!(e.credentials_port, 51679);
        assert_eq!(
            e.metadata_rps_limit,
            RpsLimit {
                steady: 40,
                burst: 60
            }
        );
        assert_eq!(e.metadata_rps_limit, RpsLimit::default());
        assert_eq!(e.stats_poll_interval, Duration::from_secs(10));
        let doc = test_support::documented_defaults();
        assert_eq!(doc["ECS_AGENT_INTROSPECTION_PORT"], "51678");
        assert_eq!(doc["ECS_AGENT_CREDENTIALS_PORT"], "51679");
        assert_eq!(doc["ECS_TASK_METADATA_RPS_LIMIT"], "40,60");
        assert_eq!(doc["ECS_POLLING_METRICS_WAIT_DURATION"], "10s");
    }

    #[test]
    fn values_are_read_and_validated_naming_the_variable() {
        let e = cfg(&[
            ("ECS_AGENT_INTROSPECTION_PORT", "6000"),
            ("ECS_AGENT_CREDENTIALS_PORT", "6001"),
            ("ECS_TASK_METADATA_RPS_LIMIT", " 100 , 150 "),
            ("ECS_POLLING_METRICS_WAIT_DURATION", "15s"),
        ])
        .unwrap()
        .endpoints;
        assert_eq!((e.introspection_port, e.credentials_port), (6000, 6001));
        assert_eq!(
            e.metadata_rps_limit,
            RpsLimit {
                steady: 100,
                burst: 150
            }
        );
        assert_eq!(e.stats_poll_interval, Duration::from_secs(15));
        for (name, value) in [
            ("ECS_AGENT_INTROSPECTION_PORT", "0"),
            ("ECS_AGENT_CREDENTIALS_PORT", "70000"),
            ("ECS_TASK_METADATA_RPS_LIMIT", "40"),
            ("ECS_TASK_METADATA_RPS_LIMIT", "0,5"),
            // Once parsed a second time by endpoints' RateLimit::from_env_value.
            ("ECS_TASK_METADATA_RPS_LIMIT", "a,1"),
            ("ECS_TASK_METADATA_RPS_LIMIT", "1,b"),
            ("ECS_TASK_METADATA_RPS_LIMIT", "1,2,3"),
            ("ECS_POLLING_METRICS_WAIT_DURATION", "soon"),
        ] {
            let err = cfg(&[(name, value)]).unwrap_err().to_string();
            assert!(err.contains(name), "{name}={value}: {err}");
        }
        let err = cfg(&[
            ("ECS_AGENT_INTROSPECTION_PORT", "7000"),
            ("ECS_AGENT_CREDENTIALS_PORT", "7000"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("ECS_AGENT_CREDENTIALS_PORT"), "{err}");
    }

    #[test]
    fn poll_interval_is_clamped_with_a_warning() {
        let c = cfg(&[("ECS_POLLING_METRICS_WAIT_DURATION", "1s")]).unwrap();
        assert_eq!(c.endpoints.stats_poll_interval, Duration::from_secs(5));
        assert_eq!(c.warnings.len(), 1);
        let c = cfg(&[("ECS_POLLING_METRICS_WAIT_DURATION", "1m")]).unwrap();
        assert_eq!(c.endpoints.stats_poll_interval, Duration::from_secs(20));
        let c = cfg(&[("ECS_POLLING_METRICS_WAIT_DURATION", "0s")]).unwrap();
        assert_eq!(c.endpoints.stats_poll_interval, Duration::from_secs(10));
        assert!(c.warnings.is_empty());
    }
}
