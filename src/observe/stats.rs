//! One typed sample of a container's resource use, as the stats collector
//! reads it from containerd (cgroup v1 or v2) and /proc. Both the
//! Docker-shaped stats JSON of task metadata and the TCS metrics are rendered
//! from it; nothing here is pre-formatted for either.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// The latest sample of one container.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSample {
    /// containerd container id.
    pub id: String,
    /// The runtime-unique container name.
    pub name: String,
    /// When containerd read the metrics.
    pub read: SystemTime,
    /// When the previous sample was read; `None` for the first.
    pub preread: Option<SystemTime>,
    pub pids: Pids,
    pub cpu: Cpu,
    /// The previous sample's CPU figures (all zero for the first sample).
    pub precpu: Cpu,
    pub memory: Memory,
    pub blkio: Blkio,
    /// Interface name -> counters of the container's network namespace,
    /// loopback left out; empty when there are none (host network mode).
    pub networks: BTreeMap<String, NetworkCounters>,
    /// Bytes per second between the last two samples; `None` without
    /// network counters or before the second sample.
    pub network_rate: Option<NetworkRate>,
}

/// A sample of nothing, read at the Unix epoch (a time no real sample has).
impl Default for ContainerSample {
    fn default() -> ContainerSample {
        ContainerSample {
            id: String::new(),
            name: String::new(),
            read: UNIX_EPOCH,
            preread: None,
            pids: Pids::default(),
            cpu: Cpu::default(),
            precpu: Cpu::default(),
            memory: Memory::default(),
            blkio: Blkio::default(),
            networks: BTreeMap::new(),
            network_rate: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pids {
    pub current: u64,
    /// 0: no limit known.
    pub limit: u64,
}

/// CPU time of the container, and the host figures rates are taken against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cpu {
    /// Cumulative CPU time, nanoseconds.
    pub total_ns: u64,
    /// Per CPU, nanoseconds; cgroup v1 only (empty on v2).
    pub per_cpu_ns: Vec<u64>,
    pub kernel_ns: u64,
    pub user_ns: u64,
    /// The host's CPU time (/proc/stat), nanoseconds; 0 when unknown.
    pub system_ns: u64,
    /// CPUs online on the host; 0 when unknown.
    pub online_cpus: u32,
    pub throttling: Throttling,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Throttling {
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_ns: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memory {
    /// Bytes.
    pub usage: u64,
    /// Bytes; cgroup v1 only (0 on v2).
    pub max_usage: u64,
    /// The cgroup's memory.stat counters, named as the kernel names them
    /// (the names differ between cgroup v1 and v2).
    pub stats: BTreeMap<String, u64>,
    /// cgroup v1 only.
    pub failcnt: u64,
    /// Bytes; the host's memory when the cgroup has no lower limit.
    pub limit: u64,
}

/// Block I/O of the container, as its cgroup version counts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Blkio {
    /// No block I/O figures in the metrics.
    #[default]
    Unknown,
    /// cgroup v1: the blkio controller's recursive lists.
    V1(BlkioV1),
    /// cgroup v2: io.stat, one entry per device.
    V2(Vec<IoDevice>),
}

/// The cgroup v1 blkio controller's `*_recursive` lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlkioV1 {
    pub service_bytes: Vec<BlkioEntry>,
    pub serviced: Vec<BlkioEntry>,
    pub queued: Vec<BlkioEntry>,
    pub service_time: Vec<BlkioEntry>,
    pub wait_time: Vec<BlkioEntry>,
    pub merged: Vec<BlkioEntry>,
    pub time: Vec<BlkioEntry>,
    pub sectors: Vec<BlkioEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: BlkioOp,
    pub value: u64,
}

/// The operation a cgroup v1 blkio line counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlkioOp {
    Read,
    Write,
    Sync,
    Async,
    Discard,
    Total,
    /// Anything else the kernel prints, kept as printed (the lists without
    /// operations, such as `sectors_recursive`, have an empty one).
    Other(String),
}

impl BlkioOp {
    /// From the name the kernel prints in the blkio files (`Read`, ...).
    pub fn from_kernel(name: &str) -> BlkioOp {
        match name {
            "Read" => BlkioOp::Read,
            "Write" => BlkioOp::Write,
            "Sync" => BlkioOp::Sync,
            "Async" => BlkioOp::Async,
            "Discard" => BlkioOp::Discard,
            "Total" => BlkioOp::Total,
            other => BlkioOp::Other(other.to_string()),
        }
    }

    /// The name as the kernel prints it.
    pub fn kernel_name(&self) -> &str {
        match self {
            BlkioOp::Read => "Read",
            BlkioOp::Write => "Write",
            BlkioOp::Sync => "Sync",
            BlkioOp::Async => "Async",
            BlkioOp::Discard => "Discard",
            BlkioOp::Total => "Total",
            BlkioOp::Other(name) => name,
        }
    }
}

/// One device of cgroup v2's io.stat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoDevice {
    pub major: u64,
    pub minor: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub read_ios: u64,
    pub write_ios: u64,
}

impl Blkio {
    /// Bytes read from block devices, over every device.
    pub fn read_bytes(&self) -> u64 {
        self.bytes(&BlkioOp::Read, |d| d.read_bytes)
    }

    /// Bytes written to block devices, over every device.
    pub fn write_bytes(&self) -> u64 {
        self.bytes(&BlkioOp::Write, |d| d.write_bytes)
    }

    fn bytes(&self, op: &BlkioOp, v2: impl Fn(&IoDevice) -> u64) -> u64 {
        match self {
            Blkio::Unknown => 0,
            Blkio::V1(b) => b
                .service_bytes
                .iter()
                .filter(|e| e.op == *op)
                .fold(0, |sum, e| sum.saturating_add(e.value)),
            Blkio::V2(devices) => devices.iter().fold(0, |sum, d| sum.saturating_add(v2(d))),
        }
    }
}

/// Counters of one network interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkCounters {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// Bytes per second over every interface, between two samples.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NetworkRate {
    pub rx_bytes_per_sec: f64,
    pub tx_bytes_per_sec: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(minor: u64, op: &str, value: u64) -> BlkioEntry {
        BlkioEntry {
            major: 8,
            minor,
            op: BlkioOp::from_kernel(op),
            value,
        }
    }

    #[test]
    fn blkio_bytes_by_operation_on_both_cgroup_versions() {
        assert_eq!(Blkio::Unknown.read_bytes(), 0);
        let v1 = Blkio::V1(BlkioV1 {
            service_bytes: vec![
                entry(0, "Read", 100),
                entry(16, "Read", 1),
                entry(0, "Write", 50),
                entry(0, "Total", 151),
            ],
            serviced: vec![entry(0, "Read", 7)],
            ..BlkioV1::default()
        });
        assert_eq!((v1.read_bytes(), v1.write_bytes()), (101, 50));
        let v2 = Blkio::V2(vec![
            IoDevice {
                read_bytes: 10,
                write_bytes: 20,
                read_ios: 1,
                ..IoDevice::default()
            },
            IoDevice {
                read_bytes: 5,
                ..IoDevice::default()
            },
        ]);
        assert_eq!((v2.read_bytes(), v2.write_bytes()), (15, 20));
    }

    #[test]
    fn kernel_operation_names_round_trip() {
        for name in [
            "Read", "Write", "Sync", "Async", "Discard", "Total", "", "odd",
        ] {
            assert_eq!(BlkioOp::from_kernel(name).kernel_name(), name);
        }
        assert_eq!(BlkioOp::from_kernel("Read"), BlkioOp::Read);
        assert_eq!(
            BlkioOp::from_kernel("read"),
            BlkioOp::Other("read".into()),
            "v1 names are capitalised; v2 has no op names"
        );
    }
}
