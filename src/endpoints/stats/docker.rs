//! The Docker Engine stats JSON (`GET /containers/{id}/stats`), which the Go
//! agent serves unchanged from task metadata and which existing tools parse.
//! Field names, `omitempty` choices and `null`s follow Docker's Go types.
//! Rendered from `observe`'s typed sample when an endpoint asks.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::endpoints::gojson::{format_go_time, GoTime};
use crate::observe::stats::{
    Blkio, BlkioEntry as SampleBlkioEntry, ContainerSample, Cpu, IoDevice, Memory, NetworkCounters,
    NetworkRate,
};

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DockerStats {
    /// Time of this sample (Go RFC 3339).
    pub read: String,
    /// Time of the previous sample; Go's zero time when there was none.
    pub preread: String,
    pub pids_stats: PidsStats,
    pub blkio_stats: BlkioStats,
    pub num_procs: u32,
    pub storage_stats: StorageStats,
    pub cpu_stats: CpuStats,
    pub precpu_stats: CpuStats,
    pub memory_stats: MemoryStats,
    /// `/` + the runtime-unique container name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Interface name -> counters; absent in host network mode (as Docker).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, NetworkStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PidsStats {
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub current: u64,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub limit: u64,
}

/// Docker prints `null` for lists the cgroup version does not fill.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BlkioStats {
    pub io_service_bytes_recursive: Option<Vec<BlkioEntry>>,
    pub io_serviced_recursive: Option<Vec<BlkioEntry>>,
    pub io_queue_recursive: Option<Vec<BlkioEntry>>,
    pub io_service_time_recursive: Option<Vec<BlkioEntry>>,
    pub io_wait_time_recursive: Option<Vec<BlkioEntry>>,
    pub io_merged_recursive: Option<Vec<BlkioEntry>>,
    pub io_time_recursive: Option<Vec<BlkioEntry>>,
    pub sectors_recursive: Option<Vec<BlkioEntry>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

/// Windows-only in Docker; always `{}` here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StorageStats {}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CpuStats {
    pub cpu_usage: CpuUsage,
    /// Host CPU time in nanoseconds (from /proc/stat), for percentages.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub system_cpu_usage: u64,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub online_cpus: u32,
    pub throttling_data: ThrottlingData,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CpuUsage {
    /// Nanoseconds.
    pub total_usage: u64,
    /// Nanoseconds per CPU; cgroup v1 only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_usage: Vec<u64>,
    pub usage_in_kernelmode: u64,
    pub usage_in_usermode: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ThrottlingData {
    pub periods: u64,
    pub throttled_periods: u64,
    /// Nanoseconds.
    pub throttled_time: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MemoryStats {
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub usage: u64,
    /// cgroup v1 only.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub max_usage: u64,
    /// The cgroup's memory.stat counters (key names differ between v1 and v2).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stats: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub failcnt: u64,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub limit: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NetworkStats {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// The Go agent's `network_rate_stats` (task metadata v4 only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct NetworkRateJson {
    pub rx_bytes_per_sec: f64,
    pub tx_bytes_per_sec: f64,
}

impl From<NetworkRate> for NetworkRateJson {
    fn from(r: NetworkRate) -> NetworkRateJson {
        NetworkRateJson {
            rx_bytes_per_sec: r.rx_bytes_per_sec,
            tx_bytes_per_sec: r.tx_bytes_per_sec,
        }
    }
}

impl DockerStats {
    /// The sample as Docker prints it (`network_rate_stats` is the caller's:
    /// task metadata v4 adds it).
    pub fn from_sample(s: &ContainerSample) -> DockerStats {
        DockerStats {
            read: format_go_time(s.read),
            preread: s
                .preread
                .map(format_go_time)
                .unwrap_or_else(|| GoTime::ZERO_TEXT.to_string()),
            pids_stats: PidsStats {
                current: s.pids.current,
                limit: s.pids.limit,
            },
            blkio_stats: blkio(&s.blkio),
            num_procs: 0,
            storage_stats: StorageStats {},
            cpu_stats: cpu(&s.cpu),
            precpu_stats: cpu(&s.precpu),
            memory_stats: memory(&s.memory),
            // Docker's inspect name starts with '/'.
            name: format!("/{}", s.name),
            id: s.id.clone(),
            networks: s
                .networks
                .iter()
                .map(|(name, n)| (name.clone(), network(n)))
                .collect(),
        }
    }
}

fn cpu(c: &Cpu) -> CpuStats {
    CpuStats {
        cpu_usage: CpuUsage {
            total_usage: c.total_ns,
            percpu_usage: c.per_cpu_ns.clone(),
            usage_in_kernelmode: c.kernel_ns,
            usage_in_usermode: c.user_ns,
        },
        system_cpu_usage: c.system_ns,
        online_cpus: c.online_cpus,
        throttling_data: ThrottlingData {
            periods: c.throttling.periods,
            throttled_periods: c.throttling.throttled_periods,
            throttled_time: c.throttling.throttled_ns,
        },
    }
}

fn memory(m: &Memory) -> MemoryStats {
    MemoryStats {
        usage: m.usage,
        max_usage: m.max_usage,
        stats: m.stats.clone(),
        failcnt: m.failcnt,
        limit: m.limit,
    }
}

/// cgroup v1 lists as the kernel names their operations; cgroup v2's io.stat
/// as Docker shows it: bytes and operations, a `read` and a `write` entry per
/// device, the other lists `null`.
fn blkio(b: &Blkio) -> BlkioStats {
    let v1 = |entries: &[SampleBlkioEntry]| {
        Some(
            entries
                .iter()
                .map(|e| BlkioEntry {
                    major: e.major,
                    minor: e.minor,
                    op: e.op.kernel_name().to_string(),
                    value: e.value,
                })
                .collect(),
        )
    };
    match b {
        Blkio::Unknown => BlkioStats::default(),
        Blkio::V1(b) => BlkioStats {
            io_service_bytes_recursive: v1(&b.service_bytes),
            io_serviced_recursive: v1(&b.serviced),
            io_queue_recursive: v1(&b.queued),
            io_service_time_recursive: v1(&b.service_time),
            io_wait_time_recursive: v1(&b.wait_time),
            io_merged_recursive: v1(&b.merged),
            io_time_recursive: v1(&b.time),
            sectors_recursive: v1(&b.sectors),
        },
        Blkio::V2(devices) => {
            let v2 = |read: fn(&IoDevice) -> u64, write: fn(&IoDevice) -> u64| {
                let entry = |d: &IoDevice, op: &str, value| BlkioEntry {
                    major: d.major,
                    minor: d.minor,
                    op: op.to_string(),
                    value,
                };
                Some(
                    devices
                        .iter()
                        .flat_map(|d| [entry(d, "read", read(d)), entry(d, "write", write(d))])
                        .collect(),
                )
            };
            BlkioStats {
                io_service_bytes_recursive: v2(|d| d.read_bytes, |d| d.write_bytes),
                io_serviced_recursive: v2(|d| d.read_ios, |d| d.write_ios),
                ..BlkioStats::default()
            }
        }
    }
}

fn network(n: &NetworkCounters) -> NetworkStats {
    NetworkStats {
        rx_bytes: n.rx_bytes,
        rx_packets: n.rx_packets,
        rx_errors: n.rx_errors,
        rx_dropped: n.rx_dropped,
        tx_bytes: n.tx_bytes,
        tx_packets: n.tx_packets,
        tx_errors: n.tx_errors,
        tx_dropped: n.tx_dropped,
    }
}
