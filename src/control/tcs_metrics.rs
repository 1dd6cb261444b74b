//! Container stats samples turned into TCS metric sets, computed the way the
//! Go agent's stats queue computes them: CPU as the percentage of the host
//! (nanoseconds used per nanosecond elapsed, divided by the host's cores),
//! memory in MiB without inactive page cache, storage as byte counters split
//! into int64 and overflow. Only samples not yet published count; a set needs
//! at least two samples in the queue. Pure: no clock, no I/O.

use std::collections::{HashMap, VecDeque};
use std::time::UNIX_EPOCH;

use crate::model::tcs::{
    ContainerMetric, CwStatsSet, MetricsMetadata, PublishMetricsRequest, StorageStatsSet,
    TaskMetric, ULongStatsSet,
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

    /// Task metrics for every task with at least one container that has
    /// both a CPU and a memory set; then every queue is marked sent.
    pub fn take_task_metrics(&mut self, snapshot: &Snapshot) -> Vec<TaskMetric> {
        let mut out = Vec::new();
        for task in &snapshot.tasks {
            let containers: Vec<ContainerMetric> = task
                .containers
                .iter()
                .filter_map(|c| {
                    let q = self.queues.get(&c.runtime_id)?;
                    Some(ContainerMetric {
                        container_name: Some(c.name.clone()),
                        cpu_stats_set: Some(q.cpu_set()?),
                        memory_stats_set: Some(q.memory_set()?),
                        storage_stats_set: q.storage_set(),
                        ..ContainerMetric::default()
                    })
                })
                .collect();
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
