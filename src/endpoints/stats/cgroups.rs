//! A container's cgroup usage, as the runtime reports it, turned into a
//! typed sample, with the units and host figures Docker's daemon uses. Pure:
//! the host figures are passed in.

use crate::observe::stats::{Blkio, ContainerSample, Cpu, Memory, Pids, Throttling};
use crate::runtime::metrics::{BlkioUsage, ResourceUsage};

/// What Docker adds from the host to each sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostSample {
    /// Sum of the first seven /proc/stat `cpu` fields, in nanoseconds.
    pub system_cpu_usage: u64,
    pub online_cpus: u32,
    /// MemTotal in bytes; a larger cgroup limit (none set) is shown as this.
    pub mem_total: u64,
}

/// Fills cpu, memory, pids and blkio of `out` from one sample. The caller
/// sets read/preread, precpu, name, id and networks.
pub fn fill(out: &mut ContainerSample, usage: &ResourceUsage, host: HostSample) {
    if let Some(p) = &usage.pids {
        out.pids = Pids {
            current: p.current,
            limit: p.limit,
        };
    }
    if let Some(cpu) = &usage.cpu {
        out.cpu = Cpu {
            total_ns: cpu.total_ns,
            per_cpu_ns: cpu.per_cpu_ns.clone(),
            kernel_ns: cpu.kernel_ns,
            user_ns: cpu.user_ns,
            system_ns: 0,
            online_cpus: 0,
            throttling: Throttling {
                periods: cpu.throttling_periods,
                throttled_periods: cpu.throttled_periods,
                throttled_ns: cpu.throttled_time_ns,
            },
        };
    }
    if let Some(mem) = &usage.memory {
        out.memory = Memory {
            usage: mem.usage,
            max_usage: mem.max_usage,
            stats: mem.stats.clone(),
            failcnt: mem.failcnt,
            limit: mem.limit,
        };
    }
    match &usage.blkio {
        Some(BlkioUsage::V1(b)) => out.blkio = Blkio::V1(b.clone()),
        Some(BlkioUsage::V2(devices)) => out.blkio = Blkio::V2(devices.clone()),
        None => {}
    }
    out.cpu.system_ns = host.system_cpu_usage;
    out.cpu.online_cpus = host.online_cpus;
    if host.mem_total > 0 && out.memory.limit > host.mem_total {
        out.memory.limit = host.mem_total;
    }
}
