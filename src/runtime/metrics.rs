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

/// The keys of cgroup v1's memory.stat that a sample carries, named as in
/// the file (which is what Docker shows): those of containerd's v1 proto.
pub const V1_MEMORY_KEYS: [&str; 32] = [
    "cache",
    "rss",
    "rss_huge",
    "mapped_file",
    "dirty",
    "writeback",
    "pgpgin",
    "pgpgout",
    "pgfault",
    "pgmajfault",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "hierarchical_memory_limit",
    "hierarchical_memsw_limit",
    "total_cache",
    "total_rss",
    "total_rss_huge",
    "total_mapped_file",
    "total_dirty",
    "total_writeback",
    "total_pgpgin",
    "total_pgpgout",
    "total_pgfault",
    "total_pgmajfault",
    "total_inactive_anon",
    "total_active_anon",
    "total_inactive_file",
    "total_active_file",
    "total_unevictable",
];

/// The keys of cgroup v2's memory.stat that a sample carries, named as in
/// the file: those of containerd's v2 proto.
pub const V2_MEMORY_KEYS: [&str; 31] = [
    "anon",
    "file",
    "kernel_stack",
    "slab",
    "sock",
    "shmem",
    "file_mapped",
    "file_dirty",
    "file_writeback",
    "anon_thp",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "slab_reclaimable",
    "slab_unreclaimable",
    "pgfault",
    "pgmajfault",
    "workingset_refault",
    "workingset_activate",
    "workingset_nodereclaim",
    "pgrefill",
    "pgscan",
    "pgsteal",
    "pgactivate",
    "pgdeactivate",
    "pglazyfree",
    "pglazyfreed",
    "thp_fault_alloc",
    "thp_collapse_alloc",
];
