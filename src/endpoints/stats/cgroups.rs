//! containerd's Tasks.Metrics payloads (cgroup v1 and v2) turned into a
//! typed sample, with the units and host figures Docker's daemon uses. Pure:
//! the host figures are passed in.

use std::collections::BTreeMap;

use prost::Message;

use crate::observe::stats::{
    Blkio, BlkioEntry, BlkioOp, BlkioV1, ContainerSample, Cpu, IoDevice, Memory, Pids, Throttling,
};

#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/io.containerd.cgroups.v1.rs"));
}

#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod v2 {
    include!(concat!(env!("OUT_DIR"), "/io.containerd.cgroups.v2.rs"));
}

const V1_TYPE: &str = "io.containerd.cgroups.v1.Metrics";
const V2_TYPE: &str = "io.containerd.cgroups.v2.Metrics";

/// A decoded Tasks.Metrics payload.
#[derive(Debug, Clone, PartialEq)]
pub enum CgroupMetrics {
    V1(v1::Metrics),
    V2(v2::Metrics),
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unsupported metrics type {0:?} (expected {V1_TYPE} or {V2_TYPE})")]
    UnknownType(String),
    #[error("cannot decode {type_url}: {source}")]
    Decode {
        type_url: String,
        #[source]
        source: prost::DecodeError,
    },
}

impl CgroupMetrics {
    /// containerd writes the bare message name as type URL; a
    /// `type.googleapis.com/` style prefix is accepted too.
    pub fn decode(type_url: &str, value: &[u8]) -> Result<CgroupMetrics, DecodeError> {
        let name = type_url.rsplit('/').next().unwrap_or(type_url);
        let err = |source| DecodeError::Decode {
            type_url: type_url.to_string(),
            source,
        };
        match name {
            V1_TYPE => v1::Metrics::decode(value)
                .map(CgroupMetrics::V1)
                .map_err(err),
            V2_TYPE => v2::Metrics::decode(value)
                .map(CgroupMetrics::V2)
                .map_err(err),
            _ => Err(DecodeError::UnknownType(type_url.to_string())),
        }
    }
}

/// What Docker adds from the host to each sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostSample {
    /// Sum of the first seven /proc/stat `cpu` fields, in nanoseconds.
    pub system_cpu_usage: u64,
    pub online_cpus: u32,
    /// MemTotal in bytes; a larger cgroup limit (none set) is shown as this.
    pub mem_total: u64,
}

/// Fills cpu, memory, pids and blkio of `out` from one payload. The caller
/// sets read/preread, precpu, name, id and networks.
pub fn fill(out: &mut ContainerSample, metrics: &CgroupMetrics, host: HostSample) {
    match metrics {
        CgroupMetrics::V1(m) => fill_v1(out, m),
        CgroupMetrics::V2(m) => fill_v2(out, m),
    }
    out.cpu.system_ns = host.system_cpu_usage;
    out.cpu.online_cpus = host.online_cpus;
    if host.mem_total > 0 && out.memory.limit > host.mem_total {
        out.memory.limit = host.mem_total;
    }
}

fn fill_v1(out: &mut ContainerSample, m: &v1::Metrics) {
    if let Some(p) = &m.pids {
        out.pids = Pids {
            current: p.current,
            limit: p.limit,
        };
    }
    if let Some(cpu) = &m.cpu {
        let usage = cpu.usage.clone().unwrap_or_default();
        let thr = cpu.throttling.unwrap_or_default();
        out.cpu = Cpu {
            total_ns: usage.total,
            per_cpu_ns: usage.per_cpu,
            kernel_ns: usage.kernel,
            user_ns: usage.user,
            system_ns: 0,
            online_cpus: 0,
            throttling: Throttling {
                periods: thr.periods,
                throttled_periods: thr.throttled_periods,
                throttled_ns: thr.throttled_time,
            },
        };
    }
    if let Some(mem) = &m.memory {
        let usage = mem.usage.unwrap_or_default();
        out.memory = Memory {
            usage: usage.usage,
            max_usage: usage.max,
            stats: v1_memory_stat(mem),
            failcnt: usage.failcnt,
            limit: usage.limit,
        };
    }
    if let Some(b) = &m.blkio {
        let conv = |v: &[v1::BlkIoEntry]| -> Vec<BlkioEntry> {
            v.iter()
                .map(|e| BlkioEntry {
                    major: e.major,
                    minor: e.minor,
                    op: BlkioOp::from_kernel(&e.op),
                    value: e.value,
                })
                .collect()
        };
        out.blkio = Blkio::V1(BlkioV1 {
            service_bytes: conv(&b.io_service_bytes_recursive),
            serviced: conv(&b.io_serviced_recursive),
            queued: conv(&b.io_queued_recursive),
            service_time: conv(&b.io_service_time_recursive),
            wait_time: conv(&b.io_wait_time_recursive),
            merged: conv(&b.io_merged_recursive),
            time: conv(&b.io_time_recursive),
            sectors: conv(&b.sectors_recursive),
        });
    }
}

/// Key names as in the cgroup v1 memory.stat file (which is what Docker shows).
fn v1_memory_stat(m: &v1::MemoryStat) -> BTreeMap<String, u64> {
    [
        ("cache", m.cache),
        ("rss", m.rss),
        ("rss_huge", m.rss_huge),
        ("mapped_file", m.mapped_file),
        ("dirty", m.dirty),
        ("writeback", m.writeback),
        ("pgpgin", m.pg_pg_in),
        ("pgpgout", m.pg_pg_out),
        ("pgfault", m.pg_fault),
        ("pgmajfault", m.pg_maj_fault),
        ("inactive_anon", m.inactive_anon),
        ("active_anon", m.active_anon),
        ("inactive_file", m.inactive_file),
        ("active_file", m.active_file),
        ("unevictable", m.unevictable),
        ("hierarchical_memory_limit", m.hierarchical_memory_limit),
        ("hierarchical_memsw_limit", m.hierarchical_swap_limit),
        ("total_cache", m.total_cache),
        ("total_rss", m.total_rss),
        ("total_rss_huge", m.total_rss_huge),
        ("total_mapped_file", m.total_mapped_file),
        ("total_dirty", m.total_dirty),
        ("total_writeback", m.total_writeback),
        ("total_pgpgin", m.total_pg_pg_in),
        ("total_pgpgout", m.total_pg_pg_out),
        ("total_pgfault", m.total_pg_fault),
        ("total_pgmajfault", m.total_pg_maj_fault),
        ("total_inactive_anon", m.total_inactive_anon),
        ("total_active_anon", m.total_active_anon),
        ("total_inactive_file", m.total_inactive_file),
        ("total_active_file", m.total_active_file),
        ("total_unevictable", m.total_unevictable),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn fill_v2(out: &mut ContainerSample, m: &v2::Metrics) {
    if let Some(p) = &m.pids {
        out.pids = Pids {
            current: p.current,
            limit: p.limit,
        };
    }
    if let Some(cpu) = &m.cpu {
        // cpu.stat is in microseconds; Docker shows nanoseconds.
        out.cpu = Cpu {
            total_ns: cpu.usage_usec.saturating_mul(1000),
            per_cpu_ns: Vec::new(),
            kernel_ns: cpu.system_usec.saturating_mul(1000),
            user_ns: cpu.user_usec.saturating_mul(1000),
            system_ns: 0,
            online_cpus: 0,
            throttling: Throttling {
                periods: cpu.nr_periods,
                throttled_periods: cpu.nr_throttled,
                throttled_ns: cpu.throttled_usec.saturating_mul(1000),
            },
        };
    }
    if let Some(mem) = &m.memory {
        out.memory = Memory {
            usage: mem.usage,
            max_usage: 0,
            stats: v2_memory_stat(mem),
            failcnt: 0,
            limit: mem.usage_limit,
        };
    }
    if let Some(io) = &m.io {
        out.blkio = Blkio::V2(
            io.usage
                .iter()
                .map(|e| IoDevice {
                    major: e.major,
                    minor: e.minor,
                    read_bytes: e.rbytes,
                    write_bytes: e.wbytes,
                    read_ios: e.rios,
                    write_ios: e.wios,
                })
                .collect(),
        );
    }
}

/// Key names as in the cgroup v2 memory.stat file.
fn v2_memory_stat(m: &v2::MemoryStat) -> BTreeMap<String, u64> {
    [
        ("anon", m.anon),
        ("file", m.file),
        ("kernel_stack", m.kernel_stack),
        ("slab", m.slab),
        ("sock", m.sock),
        ("shmem", m.shmem),
        ("file_mapped", m.file_mapped),
        ("file_dirty", m.file_dirty),
        ("file_writeback", m.file_writeback),
        ("anon_thp", m.anon_thp),
        ("inactive_anon", m.inactive_anon),
        ("active_anon", m.active_anon),
        ("inactive_file", m.inactive_file),
        ("active_file", m.active_file),
        ("unevictable", m.unevictable),
        ("slab_reclaimable", m.slab_reclaimable),
        ("slab_unreclaimable", m.slab_unreclaimable),
        ("pgfault", m.pgfault),
        ("pgmajfault", m.pgmajfault),
        ("workingset_refault", m.workingset_refault),
        ("workingset_activate", m.workingset_activate),
        ("workingset_nodereclaim", m.workingset_nodereclaim),
        ("pgrefill", m.pgrefill),
        ("pgscan", m.pgscan),
        ("pgsteal", m.pgsteal),
        ("pgactivate", m.pgactivate),
        ("pgdeactivate", m.pgdeactivate),
        ("pglazyfree", m.pglazyfree),
        ("pglazyfreed", m.pglazyfreed),
        ("thp_fault_alloc", m.thp_fault_alloc),
        ("thp_collapse_alloc", m.thp_collapse_alloc),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}
