//! cgroup v2: the container's directory in the unified hierarchy.

use std::path::Path;

use super::parse::{key_values, number, stat_of, text};
use crate::observe::stats::IoDevice;
use crate::runtime::metrics::{
    BlkioUsage, CpuUsage, MemoryUsage, PidsUsage, ResourceUsage, V2_MEMORY_KEYS,
};

pub(super) fn read(dir: &Path) -> Option<ResourceUsage> {
    // cpu.stat is in every v2 cgroup, whatever controllers it has.
    let cpu = read_file(dir, "cpu.stat")?;
    let cpu = key_values(&cpu);
    let usec = |k: &str| cpu.get(k).copied().unwrap_or(0).saturating_mul(1000);
    let has = |f: &str| dir.join(f).exists();
    Some(ResourceUsage {
        cpu: Some(CpuUsage {
            total_ns: usec("usage_usec"),
            per_cpu_ns: Vec::new(),
            kernel_ns: usec("system_usec"),
            user_ns: usec("user_usec"),
            throttling_periods: cpu.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: cpu.get("nr_throttled").copied().unwrap_or(0),
            throttled_time_ns: usec("throttled_usec"),
        }),
        memory: has("memory.current").then(|| {
            let stat = read_file(dir, "memory.stat").unwrap_or_default();
            MemoryUsage {
                usage: number(&dir.join("memory.current"), 0),
                max_usage: 0,
                failcnt: 0,
                // "max" reads as u64::MAX, as containerd/cgroups gives it.
                limit: number(&dir.join("memory.max"), u64::MAX),
                stats: stat_of(&key_values(&stat), &V2_MEMORY_KEYS),
            }
        }),
        pids: has("pids.current").then(|| PidsUsage {
            current: number(&dir.join("pids.current"), 0),
            limit: number(&dir.join("pids.max"), u64::MAX),
        }),
        blkio: read_file(dir, "io.stat").map(|s| BlkioUsage::V2(io_stat(&s))),
    })
}

fn read_file(dir: &Path, name: &str) -> Option<String> {
    text(&dir.join(name))
}

/// `maj:min rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=..` lines.
pub(super) fn io_stat(text: &str) -> Vec<IoDevice> {
    text.lines()
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            let (major, minor) = fields.next()?.split_once(':')?;
            let mut dev = IoDevice {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                read_bytes: 0,
                write_bytes: 0,
                read_ios: 0,
                write_ios: 0,
            };
            for f in fields {
                let Some((k, v)) = f.split_once('=') else {
                    continue;
                };
                let v = v.parse().unwrap_or(0);
                match k {
                    "rbytes" => dev.read_bytes = v,
                    "wbytes" => dev.write_bytes = v,
                    "rios" => dev.read_ios = v,
                    "wios" => dev.write_ios = v,
                    _ => {}
                }
            }
            Some(dev)
        })
        .collect()
}
