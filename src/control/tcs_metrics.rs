//! Container stats samples turned into TCS metric sets, computed the way the
//! Go agent's stats queue computes them: CPU as the percentage of the host
//! (nanoseconds used per nanosecond elapsed, divided by the host's cores),
//! memory in MiB without inactive page cache, storage as byte counters split
//! into int64 and overflow. Only samples not yet published count; a set needs
//! at least two samples in the queue. Pure: no clock, no I/O.

use std::collections::{HashMap, VecDeque};
use std::time::UNIX_EPOCH;

use crate::model::tcs::{
    ContainerMetric, CwStatsSet, MetricsMetadata, PublishMetricsRequest, RestartStatsSet,
    StorageStatsSet, TaskMetric, ULongStatsSet,
};
use crate::observe::stats::{ContainerSample, Memory};
use crate::observe::view::Snapshot;

/// Samples kept per container: a publish interval's worth at the fastest poll
/// the agent allows, so nothing unsent is dropped between publishes.
pub const QUEUE_SIZE: usize = 60;
/// Tasks per PublishMetricsRequest, as in the Go agent (keeps frames small).
pub const TASKS_PER_MESSAGE: usize = 10;

const BYTES_PER_MIB: u64 = 1024 * 1024;

/// What is used of one container stats sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// When containerd read it, nanoseconds since the epoch.
    pub at_ns: i128,
    /// Cumulative CPU time of the container, nanoseconds.
    pub cpu_ns: u64,
    /// Cores of the host: CPU percent is of the whole host, as in Go.
    pub cores: u32,
    pub memory_bytes: u64,
    pub storage_read_bytes: u64,
    pub storage_write_bytes: u64,
}

impl Sample {
    /// None when the sample has no usable time (not after the Unix epoch:
    /// never read) or no core count (the Go agent rejects those too).
    pub fn from_stats(s: &ContainerSample) -> Option<Sample> {
        let at = s
            .read
            .duration_since(UNIX_EPOCH)
            .ok()
            .filter(|d| !d.is_zero())?;
        let cores = match s.cpu.online_cpus {
            0 => u32::try_from(s.cpu.per_cpu_ns.len()).ok()?,
            n => n,
        };
        if cores == 0 {
            return None;
        }
        Some(Sample {
            at_ns: i128::try_from(at.as_nanos()).ok()?,
            cpu_ns: s.cpu.total_ns,
            cores,
            memory_bytes: memory_in_use(&s.memory),
            storage_read_bytes: s.blkio.read_bytes(),
            storage_write_bytes: s.blkio.write_bytes(),
        })
    }
}

/// Usage minus reclaimable page cache (`total_inactive_file` on cgroup v1,
/// `inactive_file` on v2), as `docker stats` and the Go agent report it.
pub fn memory_in_use(m: &Memory) -> u64 {
    let cache = m
        .stats
        .get("total_inactive_file")
        .or_else(|| m.stats.get("inactive_file"))
        .copied()
        .unwrap_or(0);
    if cache < m.usage {
        m.usage - cache
    } else {
        m.usage
    }
}

#[derive(Debug, Clone)]
struct Usage {
    at_ns: i128,
    /// CPU time per core, to compute the next sample's percentage.
    cpu_per_core_ns: u64,
    /// None for the first sample or after a counter reset.
    cpu_percent: Option<f64>,
    memory_mib: u64,
    storage_read: u64,
    storage_write: u64,
    sent: bool,
}

/// The recent samples of one container.
#[derive(Debug, Clone, Default)]
pub struct ContainerQueue {
    buf: VecDeque<Usage>,
}

impl ContainerQueue {
    /// Adds a sample; one not newer than the last (the same sample read
    /// again from the store) is ignored and `false` returned.
    pub fn add(&mut self, s: &Sample) -> bool {
        let per_core = s.cpu_ns / u64::from(s.cores.max(1));
        let cpu_percent = match self.buf.back() {
            Some(last) if s.at_ns <= last.at_ns => return false,
            Some(last) => per_core
                .checked_sub(last.cpu_per_core_ns)
                .map(|used| 100.0 * used as f64 / (s.at_ns - last.at_ns) as f64),
            None => None,
        };
        if self.buf.len() >= QUEUE_SIZE {
            self.buf.pop_front();
        }
        self.buf.push_back(Usage {
            at_ns: s.at_ns,
            cpu_per_core_ns: per_core,
            cpu_percent,
            memory_mib: s.memory_bytes / BYTES_PER_MIB,
            storage_read: s.storage_read_bytes,
            storage_write: s.storage_write_bytes,
            sent: false,
        });
        true
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Marks every sample published.
    pub fn reset(&mut self) {
        for u in &mut self.buf {
            u.sent = true;
        }
    }

    pub fn cpu_set(&self) -> Option<CwStatsSet> {
        self.float_set(|u| u.cpu_percent)
    }

    pub fn memory_set(&self) -> Option<CwStatsSet> {
        self.float_set(|u| Some(u.memory_mib as f64))
    }

    pub fn storage_set(&self) -> Option<StorageStatsSet> {
        Some(StorageStatsSet {
            read_size_bytes: self.ulong_set(|u| u.storage_read),
            write_size_bytes: self.ulong_set(|u| u.storage_write),
        })
        .filter(|s| s.read_size_bytes.is_some() || s.write_size_bytes.is_some())
    }

    fn unsent(&self) -> Option<impl Iterator<Item = &Usage>> {
        (self.buf.len() >= 2).then(|| self.buf.iter().filter(|u| !u.sent))
    }

    fn float_set(&self, value: impl Fn(&Usage) -> Option<f64>) -> Option<CwStatsSet> {
        let values: Vec<f64> = self
            .unsent()?
            .filter_map(value)
            .filter(|v| !v.is_nan())
            .collect();
        cw_stats_set(&values)
    }

    fn ulong_set(&self, value: impl Fn(&Usage) -> u64) -> Option<ULongStatsSet> {
        let values: Vec<u64> = self.unsent()?.map(value).collect();
        ulong_stats_set(&values)
    }
}

/// min/max/sum/sampleCount of the values; None for no values.
pub fn cw_stats_set(values: &[f64]) -> Option<CwStatsSet> {
    if values.is_empty() {
        return None;
    }
    let min = values.iter().copied().fold(f64::MAX, f64::min);
    let max = values.iter().copied().fold(-f64::MAX, f64::max);
    Some(CwStatsSet {
        min: Some(min),
        max: Some(max),
        sample_count: Some(values.len() as i64),
        sum: Some(values.iter().sum()),
    })
}

/// Unsigned counters as the wire's int64: what does not fit goes to the
/// `overflow*` fields (value modulo i64::MAX, the int64 field pinned at
/// i64::MAX), as the Go agent does. The sum wraps like Go's uint64 sum.
pub fn ulong_stats_set(values: &[u64]) -> Option<ULongStatsSet> {
    let min = *values.iter().min()?;
    let max = *values.iter().max()?;
    let sum = values.iter().fold(0u64, |a, v| a.wrapping_add(*v));
    let (min, overflow_min) = split_overflow(min);
    let (max, overflow_max) = split_overflow(max);
    let (sum, overflow_sum) = split_overflow(sum);
    Some(ULongStatsSet {
        min: Some(min),
        max: Some(max),
        sample_count: Some(values.len() as i64),
        sum: Some(sum),
        overflow_min: Some(overflow_min),
        overflow_max: Some(overflow_max),
        overflow_sum: Some(overflow_sum),
    })
}

/// (int64 part, overflow).
pub fn split_overflow(v: u64) -> (i64, i64) {
    match i64::try_from(v) {
        Ok(v) => (v, 0),
        Err(_) => (i64::MAX, (v % i64::MAX as u64) as i64),
    }
}

/// Per-container queues by containerd id, fed from the stats store.
#[derive(Debug, Default)]
pub struct Accumulator {
    queues: HashMap<String, ContainerQueue>,
    /// Restart count already published, by (task ARN, container name), for
    /// containers with a restart policy. Apart from the sample queues: a
    /// restarting container may miss samples, and its restarts must still
    /// be counted once.
    restarts_sent: HashMap<(String, String), u32>,
    /// Whether a publish has happened since the agent started.
    published: bool,
}

impl Accumulator {
    /// Takes the store's current samples; containers no longer sampled are
    /// forgotten. Returns how many new samples were added.
    pub fn observe<'a>(&mut self, samples: impl IntoIterator<Item = (&'a str, Sample)>) -> usize {
        let mut seen = std::collections::HashSet::new();
        let mut added = 0;
        for (id, s) in samples {
            seen.insert(id.to_string());
            if self.queues.entry(id.to_string()).or_default().add(&s) {
                added += 1;
            }
        }
        self.queues.retain(|id, _| seen.contains(id));
        added
    }

    /// No container is being sampled: the Go agent's "idle instance".
    pub fn is_idle(&self) -> bool {
        self.queues.is_empty()
    }

    /// The restart count of a container with a restart policy as last
    /// published (the Go agent's `RestartStatsSet` is the count's growth
    /// over the unsent samples). A container first seen at the first publish
    /// after an agent start counts from its current count, as Go's new stats
    /// queue does; one first seen later started since the last publish.
    fn restarts_published(&self, key: &(String, String), count: u32) -> u32 {
        match self.restarts_sent.get(key) {
            Some(b) => *b,
            None if self.published => 0,
            None => count,
        }
    }

    /// Task metrics for every task with at least one container that has
    /// both a CPU and a memory set; then every queue is marked sent.
    pub fn take_task_metrics(&mut self, snapshot: &Snapshot) -> Vec<TaskMetric> {
        let mut out = Vec::new();
        let mut restarts_sent = HashMap::new();
        for task in &snapshot.tasks {
            let mut containers = Vec::new();
            for c in &task.containers {
                let restarts = c.restart_count.map(|count| {
                    let key = (task.arn.clone(), c.name.clone());
                    (count, self.restarts_published(&key, count), key)
                });
                let metric = self.queues.get(&c.runtime_id).and_then(|q| {
                    Some(ContainerMetric {
                        container_name: Some(c.name.clone()),
                        cpu_stats_set: Some(q.cpu_set()?),
                        memory_stats_set: Some(q.memory_set()?),
                        storage_stats_set: q.storage_set(),
                        restart_stats_set: restarts.as_ref().map(|(count, base, _)| {
                            RestartStatsSet {
                                restart_count: Some(i64::from(count.saturating_sub(*base))),
                            }
                        }),
                        ..ContainerMetric::default()
                    })
                });
                if let Some((count, base, key)) = restarts {
                    // Without a metric this time its restarts wait for the next.
                    restarts_sent.insert(key, if metric.is_some() { count } else { base });
                }
                containers.extend(metric);
            }
            if containers.is_empty() {
                continue;
            }
            out.push(TaskMetric {
                task_arn: Some(task.arn.clone()),
                task_definition_family: Some(task.family.clone()),
                task_definition_version: Some(task.revision.clone()),
                container_metrics: containers,
                ..TaskMetric::default()
            });
        }
        for q in self.queues.values_mut() {
            q.reset();
        }
        // Containers no longer in the snapshot are forgotten with it.
        self.restarts_sent = restarts_sent;
        self.published = true;
        out
    }
}

/// The requests of one publish: an idle instance sends one request with
/// `idle` and `fin` set and no tasks; otherwise tasks go
/// [`TASKS_PER_MESSAGE`] at a time, all with the same message id, `fin` on
/// the last. Nothing to send (not idle, no task has metrics yet): empty.
pub fn publish_requests(
    cluster: &str,
    container_instance: &str,
    message_id: &str,
    idle: bool,
    tasks: Vec<TaskMetric>,
    timestamp_s: f64,
) -> Vec<PublishMetricsRequest> {
    let metadata = |fin: bool| MetricsMetadata {
        cluster: Some(cluster.to_string()),
        container_instance: Some(container_instance.to_string()),
        message_id: Some(message_id.to_string()),
        idle: Some(idle),
        fin: Some(fin),
    };
    if idle {
        return vec![PublishMetricsRequest {
            metadata: Some(metadata(true)),
            timestamp: Some(timestamp_s),
            ..PublishMetricsRequest::default()
        }];
    }
    let chunks: Vec<Vec<TaskMetric>> = tasks
        .chunks(TASKS_PER_MESSAGE)
        .map(<[TaskMetric]>::to_vec)
        .collect();
    let n = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, task_metrics)| PublishMetricsRequest {
            metadata: Some(metadata(i + 1 == n)),
            task_metrics,
            timestamp: Some(timestamp_s),
            ..PublishMetricsRequest::default()
        })
        .collect()
}

#[cfg(test)]
#[path = "tcs_metrics_tests.rs"]
mod tests;
