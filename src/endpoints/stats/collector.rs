//! Polls the runtime for the metrics of every running container the engine
//! tracks: per poll one `metrics` call for all of them, one `pids` call (only
//! when a non-host task needs network counters) and a few /proc reads. Never
//! a stream per container.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::cgroups;
use super::procfs;
use crate::observe::stats::{ContainerSample, Cpu, NetworkCounters, NetworkRate};
use crate::observe::stats_store::StatsStore;
use crate::observe::view::TaskSource;
use crate::observe::AgentMetrics;
use crate::runtime::metrics::ResourceUsage;
use crate::runtime::{ContainerRuntime, RuntimeError};
use crate::task::def::NetworkMode;
use crate::task::ContainerStatus;

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("polling container metrics: {0}")]
    Metrics(#[source] RuntimeError),
    #[error("polling container pids: {0}")]
    List(#[source] RuntimeError),
}

/// What is kept of the previous sample: Docker's `precpu_stats`/`preread`
/// and the network rate need it.
#[derive(Debug, Clone)]
struct Previous {
    read: SystemTime,
    cpu: Cpu,
    net_totals: Option<(u64, u64)>,
}

struct Target {
    docker_name: String,
    /// Host network mode: no per-container counters exist (Docker shows none).
    wants_net: bool,
}

/// Keeps [`StatsStore`] fresh. Build it, then [`StatsCollector::spawn`].
pub struct StatsCollector<R> {
    runtime: Arc<R>,
    source: Arc<dyn TaskSource>,
    store: Arc<StatsStore>,
    metrics: Option<Arc<AgentMetrics>>,
    proc_root: PathBuf,
    previous: HashMap<String, Previous>,
}

impl<R: ContainerRuntime> StatsCollector<R> {
    pub fn new(
        runtime: Arc<R>,
        source: Arc<dyn TaskSource>,
        store: Arc<StatsStore>,
    ) -> StatsCollector<R> {
        StatsCollector {
            runtime,
            source,
            store,
            metrics: None,
            proc_root: PathBuf::from("/proc"),
            previous: HashMap::new(),
        }
    }

    /// Count failed polls as `errors_total{kind="stats"}`.
    pub fn with_metrics(mut self, metrics: Arc<AgentMetrics>) -> StatsCollector<R> {
        self.metrics = Some(metrics);
        self
    }

    /// Poll every `interval` until the returned handle is aborted (or dropped
    /// with the runtime). A failed poll is logged and retried next tick.
    pub fn spawn(mut self, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = self.poll_once().await {
                    tracing::warn!(error = %e, "container stats poll failed");
                    if let Some(m) = &self.metrics {
                        m.inc_error("stats");
                    }
                }
            }
        })
    }

    /// One poll; returns how many containers have a fresh sample.
    pub async fn poll_once(&mut self) -> Result<usize, StatsError> {
        let snapshot = self.source.snapshot();
        let mut targets: HashMap<String, Target> = HashMap::new();
        for task in &snapshot.tasks {
            for c in &task.containers {
                if c.runtime_id.is_empty() || c.known_status != ContainerStatus::Running {
                    continue;
                }
                targets.insert(
                    c.runtime_id.clone(),
                    Target {
                        docker_name: c.docker_name.clone(),
                        wants_net: task.network_mode != NetworkMode::Host,
                    },
                );
            }
        }
        if targets.is_empty() {
            self.previous.clear();
            self.store.replace_all(HashMap::new());
            return Ok(0);
        }

        let mut ids: Vec<String> = targets.keys().cloned().collect();
        ids.sort();
        let metrics = self
            .runtime
            .metrics(&ids)
            .await
            .map_err(StatsError::Metrics)?;

        let pids = if targets.values().any(|t| t.wants_net) {
            let net: Vec<String> = ids
                .iter()
                .filter(|id| targets.get(*id).is_some_and(|t| t.wants_net))
                .cloned()
                .collect();
            self.runtime.pids(&net).await.map_err(StatsError::List)?
        } else {
            HashMap::new()
        };
        let host = procfs::read_host(&self.proc_root).await;

        let mut samples = HashMap::new();
        let mut previous = HashMap::new();
        for m in metrics {
            let Some(target) = targets.get(&m.id) else {
                continue;
            };
            let read = m.read.unwrap_or_else(SystemTime::now);
            let networks = match pids.get(&m.id) {
                Some(&pid) if target.wants_net && pid > 0 => {
                    match procfs::read_net_dev(&self.proc_root, pid).await {
                        Ok(n) => Some(n),
                        Err(e) => {
                            tracing::debug!(container = %m.id, pid, error = %e, "no network counters");
                            None
                        }
                    }
                }
                _ => None,
            };
            let (stats, prev) = sample(
                &m.id,
                &target.docker_name,
                read,
                &m.usage,
                host,
                networks,
                self.previous.get(&m.id),
            );
            samples.insert(m.id.clone(), Arc::new(stats));
            previous.insert(m.id, prev);
        }
        let n = samples.len();
        self.previous = previous;
        self.store.replace_all(samples);
        Ok(n)
    }
}

/// Builds one sample from the runtime's usage figures and what was kept of
/// the previous one. Pure.
fn sample(
    id: &str,
    docker_name: &str,
    read: SystemTime,
    usage: &ResourceUsage,
    host: cgroups::HostSample,
    networks: Option<BTreeMap<String, NetworkCounters>>,
    prev: Option<&Previous>,
) -> (ContainerSample, Previous) {
    let mut out = ContainerSample {
        id: id.to_string(),
        name: docker_name.to_string(),
        read,
        preread: prev.map(|p| p.read),
        precpu: prev.map(|p| p.cpu.clone()).unwrap_or_default(),
        ..ContainerSample::default()
    };
    cgroups::fill(&mut out, usage, host);

    let totals = networks.as_ref().map(|n| {
        n.values().fold((0u64, 0u64), |(rx, tx), s| {
            (rx.saturating_add(s.rx_bytes), tx.saturating_add(s.tx_bytes))
        })
    });
    let network_rate = match (totals, prev.and_then(|p| p.net_totals.map(|t| (p.read, t)))) {
        (Some((rx, tx)), Some((then, (prx, ptx)))) => {
            let secs = read
                .duration_since(then)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            (secs > 0.0).then(|| NetworkRate {
                rx_bytes_per_sec: rx.saturating_sub(prx) as f64 / secs,
                tx_bytes_per_sec: tx.saturating_sub(ptx) as f64 / secs,
            })
        }
        _ => None,
    };
    if let Some(n) = networks {
        out.networks = n;
    }
    out.network_rate = network_rate;
    let keep = Previous {
        read,
        cpu: out.cpu.clone(),
        net_totals: totals,
    };
    (out, keep)
}

/// What tests pass for the previous sample: (read, cpu, (rx, tx) totals).
#[cfg(test)]
pub(super) type PreviousForTests = (SystemTime, Cpu, Option<(u64, u64)>);

#[cfg(test)]
pub(super) fn sample_for_tests(
    id: &str,
    docker_name: &str,
    read: SystemTime,
    usage: &ResourceUsage,
    host: cgroups::HostSample,
    networks: Option<BTreeMap<String, NetworkCounters>>,
    prev: Option<PreviousForTests>,
) -> ContainerSample {
    let prev = prev.map(|(read, cpu, net_totals)| Previous {
        read,
        cpu,
        net_totals,
    });
    sample(id, docker_name, read, usage, host, networks, prev.as_ref()).0
}
