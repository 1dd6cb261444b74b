//! cgroup v1: the container's directory in each controller's hierarchy.

use std::path::Path;

use super::parse::{blkio_entries, key_values, number, stat_of, text};
use crate::observe::stats::BlkioV1;
use crate::runtime::metrics::{
    BlkioUsage, CpuUsage, MemoryUsage, PidsUsage, ResourceUsage, V1_MEMORY_KEYS,
};

/// cpuacct.stat counts in USER_HZ ticks, 100 a second on Linux (what
/// containerd/cgroups assumes too).
const NS_PER_TICK: u64 = 1_000_000_000 / 100;

pub(super) fn read(root: &Path, rel: &Path) -> Option<ResourceUsage> {
    let cpuacct = root.join("cpuacct").join(rel);
    // Every container has a cpuacct cgroup; without one it is not here.
    if !cpuacct.is_dir() {
        return None;
    }
    Some(ResourceUsage {
        cpu: Some(cpu(&cpuacct, &root.join("cpu").join(rel))),
        memory: existing(root, "memory", rel).map(|d| memory(&d)),
        pids: existing(root, "pids", rel).map(|d| PidsUsage {
            current: number(&d.join("pids.current"), 0),
            limit: number(&d.join("pids.max"), 0),
        }),
        blkio: existing(root, "blkio", rel).map(|d| BlkioUsage::V1(blkio(&d))),
    })
}

fn existing(root: &Path, controller: &str, rel: &Path) -> Option<std::path::PathBuf> {
    Some(root.join(controller).join(rel)).filter(|d| d.is_dir())
}

fn cpu(cpuacct: &Path, cpu: &Path) -> CpuUsage {
    let per_cpu = text(&cpuacct.join("cpuacct.usage_percpu"))
        .map(|s| {
            s.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let ticks = text(&cpuacct.join("cpuacct.stat")).unwrap_or_default();
    let ticks = key_values(&ticks);
    let throttling = text(&cpu.join("cpu.stat")).unwrap_or_default();
    let throttling = key_values(&throttling);
    let get = |m: &std::collections::BTreeMap<&str, u64>, k| m.get(k).copied().unwrap_or(0);
    CpuUsage {
        total_ns: number(&cpuacct.join("cpuacct.usage"), 0),
        per_cpu_ns: per_cpu,
        kernel_ns: get(&ticks, "system").saturating_mul(NS_PER_TICK),
        user_ns: get(&ticks, "user").saturating_mul(NS_PER_TICK),
        throttling_periods: get(&throttling, "nr_periods"),
        throttled_periods: get(&throttling, "nr_throttled"),
        throttled_time_ns: get(&throttling, "throttled_time"),
    }
}

fn memory(dir: &Path) -> MemoryUsage {
    let stat = text(&dir.join("memory.stat")).unwrap_or_default();
    MemoryUsage {
        usage: number(&dir.join("memory.usage_in_bytes"), 0),
        max_usage: number(&dir.join("memory.max_usage_in_bytes"), 0),
        failcnt: number(&dir.join("memory.failcnt"), 0),
        limit: number(&dir.join("memory.limit_in_bytes"), 0),
        stats: stat_of(&key_values(&stat), &V1_MEMORY_KEYS),
    }
}

/// The CFQ scheduler's lists where the kernel keeps them; where they are all
/// empty (no device of the cgroup uses CFQ), the throttle lists, as
/// containerd/cgroups falls back to them.
fn blkio(dir: &Path) -> BlkioV1 {
    let list = |name: &str| {
        text(&dir.join(format!("blkio.{name}")))
            .map(|s| blkio_entries(&s))
            .unwrap_or_default()
    };
    let cfq = BlkioV1 {
        service_bytes: list("io_service_bytes_recursive"),
        serviced: list("io_serviced_recursive"),
        queued: list("io_queued_recursive"),
        service_time: list("io_service_time_recursive"),
        wait_time: list("io_wait_time_recursive"),
        merged: list("io_merged_recursive"),
        time: list("time_recursive"),
        sectors: list("sectors_recursive"),
    };
    let empty = [
        &cfq.service_bytes,
        &cfq.serviced,
        &cfq.queued,
        &cfq.service_time,
        &cfq.wait_time,
        &cfq.merged,
        &cfq.time,
        &cfq.sectors,
    ]
    .iter()
    .all(|l| l.is_empty());
    if !empty {
        return cfq;
    }
    BlkioV1 {
        service_bytes: list("throttle.io_service_bytes"),
        serviced: list("throttle.io_serviced"),
        queued: Vec::new(),
        service_time: Vec::new(),
        wait_time: Vec::new(),
        merged: Vec::new(),
        time: Vec::new(),
        sectors: Vec::new(),
    }
}
