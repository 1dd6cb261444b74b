//! The shapes of cgroup files: one number, `key value` lines, blkio lists.

use std::collections::BTreeMap;
use std::path::Path;

use crate::observe::stats::{BlkioEntry, BlkioOp};

pub(super) fn text(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// A file holding one number; `max` (no limit) is `max_as`. A missing or
/// unreadable file is 0, as containerd/cgroups reads it.
pub(super) fn number(path: &Path, max_as: u64) -> u64 {
    text(path).map_or(0, |s| match s.trim() {
        "max" => max_as,
        n => n.parse().unwrap_or(0),
    })
}

/// `key value` lines (cpu.stat, memory.stat, cpuacct.stat).
pub(super) fn key_values(text: &str) -> BTreeMap<&str, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (k, v) = (it.next()?, it.next()?);
            Some((k, v.parse().ok()?))
        })
        .collect()
}

/// The values of `keys` in `stat`, 0 for those it lacks.
pub(super) fn stat_of(stat: &BTreeMap<&str, u64>, keys: &[&str]) -> BTreeMap<String, u64> {
    keys.iter()
        .map(|k| (k.to_string(), stat.get(k).copied().unwrap_or(0)))
        .collect()
}

/// A v1 blkio list: `maj:min op value` or `maj:min value` lines, and a
/// `Total value` line that is left out (as containerd/cgroups does).
pub(super) fn blkio_entries(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let (dev, op, value) = match fields.as_slice() {
                [dev, op, value] => (*dev, *op, *value),
                [dev, value] if *dev != "Total" => (*dev, "", *value),
                _ => return None,
            };
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: BlkioOp::from_kernel(op),
                value: value.parse().ok()?,
            })
        })
        .collect()
}
