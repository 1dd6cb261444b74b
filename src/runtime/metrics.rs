//! Resource usage of running containers, as the runtime measures it (cgroup
//! v1 or v2), in plain values: what the stats endpoints and TCS are made from.
//! The runtime's own encoding (containerd's cgroups protos) is decoded by its
//! implementation.

use std::collections::BTreeMap;
use std::time::SystemTime;

// The block I/O shapes are the ones the agent shows (observe), so that the
// runtime's reading needs no second copy and no field-by-field mapping.
use crate::observe::stats::{BlkioV1, IoDevice};

/// One container's sample.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerMetrics {
    /// The runtime's container id.
    pub id: String,
    /// When the runtime took the sample, if it said.
    pub read: Option<SystemTime>,
    pub usage: ResourceUsage,
}

/// What the container's cgroup reports; a part the cgroup does not report
/// is `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceUsage {
    pub cpu: Option<CpuUsage>,
    pub memory: Option<MemoryUsage>,
    pub pids: Option<PidsUsage>,
    pub blkio: Option<BlkioUsage>,
}

/// CPU time, in nanoseconds whatever unit the cgroup counts in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuUsage {
    pub total_ns: u64,
    /// Per CPU; empty where the cgroup does not count per CPU (v2).
    pub per_cpu_ns: Vec<u64>,
    pub kernel_ns: u64,
    pub user_ns: u64,
    pub throttling_periods: u64,
    pub throttled_periods: u64,
    pub throttled_time_ns: u64,
}

/// Memory in bytes; zero where the cgroup does not count it (v2 keeps no
/// maximum nor fail count).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryUsage {
    pub usage: u64,
    pub max_usage: u64,
    pub failcnt: u64,
    pub limit: u64,
    /// The cgroup's memory.stat, with the key names of its version's file.
    pub stats: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PidsUsage {
    pub current: u64,
    pub limit: u64,
}

/// Block I/O, as the cgroup version counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlkioUsage {
    /// cgroup v1: the blkio controller's `*_recursive` lists.
    V1(BlkioV1),
    /// cgroup v2: io.stat, one entry per device.
    V2(Vec<IoDevice>),
}
