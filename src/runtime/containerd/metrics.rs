//! Container metrics and pids: read from each container's cgroup files where
//! the runtime knows the cgroup file system (`crate::runtime::cgroupfs`: no
//! call reaches a shim), else through containerd's Tasks service: one
//! Tasks.Metrics call for the given ids (its payloads are the cgroups v1 or v2
//! `Metrics` protos, decoded here into the runtime's plain values), one
//! Tasks.List for pids. Never a stream per container.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::SystemTime;

use containerd_client::services::v1::tasks_client::TasksClient;
use containerd_client::services::v1::{ListTasksRequest, MetricsRequest};
use prost::Message;

use super::cgroup_paths::CgroupPaths;
use super::error::from_status;
use super::Conn;
use crate::observe::stats::{BlkioEntry, BlkioOp, BlkioV1, IoDevice};
use crate::runtime::cgroupfs::CgroupFs;
use crate::runtime::metrics::{
    BlkioUsage, ContainerMetrics, CpuUsage, MemoryUsage, PidsUsage, ResourceUsage, V1_MEMORY_KEYS,
    V2_MEMORY_KEYS,
};
use crate::runtime::RuntimeError;

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

/// The metrics of the running containers among `ids`: from their cgroup
/// files with `fs`, and from containerd for those whose cgroup is not found
/// there (a spec that cannot be read, a path of another cgroup driver).
pub(super) async fn metrics(
    conn: &Conn,
    fs: Option<&CgroupFs>,
    paths: &CgroupPaths,
    ids: &[String],
) -> Result<Vec<ContainerMetrics>, RuntimeError> {
    let Some(fs) = fs else {
        return from_tasks(conn, ids).await;
    };
    let known = paths.of(conn, ids).await;
    let (mut out, read) = crate::blocking::run(|| {
        let mut out = Vec::with_capacity(known.len());
        let mut read = HashSet::new();
        for (id, path) in known {
            let Some(usage) = path.as_deref().and_then(|p| fs.read(p)) else {
                continue;
            };
            read.insert(id.clone());
            out.push(ContainerMetrics {
                id,
                read: Some(SystemTime::now()),
                usage,
            });
        }
        (out, read)
    });
    let rest: Vec<String> = ids
        .iter()
        .filter(|id| !read.contains(*id))
        .cloned()
        .collect();
    if !rest.is_empty() {
        out.extend(from_tasks(conn, &rest).await?);
    }
    Ok(out)
}

/// The metrics of the running containers among `ids`, from containerd. A
/// payload that cannot be decoded is logged and left out; the others are
/// still returned.
async fn from_tasks(conn: &Conn, ids: &[String]) -> Result<Vec<ContainerMetrics>, RuntimeError> {
    let filters = ids.iter().map(|id| format!("id=={id}")).collect();
    let metrics = TasksClient::new(conn.channel())
        .metrics(conn.request(MetricsRequest { filters }))
        .await
        .map_err(|s| from_status(s, |kind, message| RuntimeError::Metrics { kind, message }))?
        .into_inner()
        .metrics;
    let mut out = Vec::with_capacity(metrics.len());
    for m in metrics {
        let Some(any) = m.data else { continue };
        let usage = match decode(&any.type_url, &any.value) {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(container = %m.id, error = %e, "unreadable container metrics");
                continue;
            }
        };
        out.push(ContainerMetrics {
            read: m.timestamp.and_then(|t| SystemTime::try_from(t).ok()),
            id: m.id,
            usage,
        });
    }
    Ok(out)
}

/// A pid of each running container among `ids`: read from its cgroup with
/// `fs`; containerd's Tasks.List (which asks every shim) only for those whose
/// cgroup is not found there.
pub(super) async fn pids(
    conn: &Conn,
    fs: Option<&CgroupFs>,
    paths: &CgroupPaths,
    ids: &[String],
) -> Result<HashMap<String, u32>, RuntimeError> {
    let mut out = HashMap::new();
    if let Some(fs) = fs {
        let known = paths.of(conn, ids).await;
        out = crate::blocking::run(|| {
            known
                .into_iter()
                .filter_map(|(id, path)| Some((id, fs.pid(path.as_deref()?)?)))
                .collect()
        });
    }
    if ids.iter().any(|id| !out.contains_key(id)) {
        for (id, pid) in task_pids(conn).await? {
            if ids.contains(&id) {
                out.entry(id).or_insert(pid);
            }
        }
    }
    Ok(out)
}

/// The pid of every task's main process in the namespace, by container id.
async fn task_pids(conn: &Conn) -> Result<HashMap<String, u32>, RuntimeError> {
    let tasks = TasksClient::new(conn.channel())
        .list(conn.request(ListTasksRequest {
            filter: String::new(),
        }))
        .await
        .map_err(|s| from_status(s, |kind, message| RuntimeError::ListTasks { kind, message }))?
        .into_inner()
        .tasks;
    Ok(tasks
        .into_iter()
        .map(|p| {
            let id = if p.container_id.is_empty() {
                p.id
            } else {
                p.container_id
            };
            (id, p.pid)
        })
        .collect())
}

/// Decode one Tasks.Metrics payload. containerd writes the bare message name
/// as type URL; a `type.googleapis.com/` style prefix is accepted too.
pub fn decode(type_url: &str, value: &[u8]) -> Result<ResourceUsage, DecodeError> {
    let name = type_url.rsplit('/').next().unwrap_or(type_url);
    let err = |source| DecodeError::Decode {
        type_url: type_url.to_string(),
        source,
    };
    match name {
        V1_TYPE => v1::Metrics::decode(value).map(|m| from_v1(&m)).map_err(err),
        V2_TYPE => v2::Metrics::decode(value).map(|m| from_v2(&m)).map_err(err),
        _ => Err(DecodeError::UnknownType(type_url.to_string())),
    }
}

pub fn from_v1(m: &v1::Metrics) -> ResourceUsage {
    let pids = m.pids.as_ref().map(|p| PidsUsage {
        current: p.current,
        limit: p.limit,
    });
    let cpu = m.cpu.as_ref().map(|cpu| {
        let usage = cpu.usage.clone().unwrap_or_default();
        let thr = cpu.throttling.unwrap_or_default();
        CpuUsage {
            total_ns: usage.total,
            per_cpu_ns: usage.per_cpu,
            kernel_ns: usage.kernel,
            user_ns: usage.user,
            throttling_periods: thr.periods,
            throttled_periods: thr.throttled_periods,
            throttled_time_ns: thr.throttled_time,
        }
    });
    let memory = m.memory.as_ref().map(|mem| {
        let usage = mem.usage.unwrap_or_default();
        MemoryUsage {
            usage: usage.usage,
            max_usage: usage.max,
            failcnt: usage.failcnt,
            limit: usage.limit,
            stats: v1_memory_stat(mem),
        }
    });
    let blkio = m.blkio.as_ref().map(|b| {
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
        BlkioUsage::V1(BlkioV1 {
            service_bytes: conv(&b.io_service_bytes_recursive),
            serviced: conv(&b.io_serviced_recursive),
            queued: conv(&b.io_queued_recursive),
            service_time: conv(&b.io_service_time_recursive),
            wait_time: conv(&b.io_wait_time_recursive),
            merged: conv(&b.io_merged_recursive),
            time: conv(&b.io_time_recursive),
            sectors: conv(&b.sectors_recursive),
        })
    });
    ResourceUsage {
        cpu,
        memory,
        pids,
        blkio,
    }
}

/// In the order of [`V1_MEMORY_KEYS`].
fn v1_memory_stat(m: &v1::MemoryStat) -> BTreeMap<String, u64> {
    memory_stat(
        &V1_MEMORY_KEYS,
        [
            m.cache,
            m.rss,
            m.rss_huge,
            m.mapped_file,
            m.dirty,
            m.writeback,
            m.pg_pg_in,
            m.pg_pg_out,
            m.pg_fault,
            m.pg_maj_fault,
            m.inactive_anon,
            m.active_anon,
            m.inactive_file,
            m.active_file,
            m.unevictable,
            m.hierarchical_memory_limit,
            m.hierarchical_swap_limit,
            m.total_cache,
            m.total_rss,
            m.total_rss_huge,
            m.total_mapped_file,
            m.total_dirty,
            m.total_writeback,
            m.total_pg_pg_in,
            m.total_pg_pg_out,
            m.total_pg_fault,
            m.total_pg_maj_fault,
            m.total_inactive_anon,
            m.total_active_anon,
            m.total_inactive_file,
            m.total_active_file,
            m.total_unevictable,
        ],
    )
}

pub fn from_v2(m: &v2::Metrics) -> ResourceUsage {
    let pids = m.pids.as_ref().map(|p| PidsUsage {
        current: p.current,
        limit: p.limit,
    });
    // cpu.stat is in microseconds.
    let cpu = m.cpu.as_ref().map(|cpu| CpuUsage {
        total_ns: cpu.usage_usec.saturating_mul(1000),
        per_cpu_ns: Vec::new(),
        kernel_ns: cpu.system_usec.saturating_mul(1000),
        user_ns: cpu.user_usec.saturating_mul(1000),
        throttling_periods: cpu.nr_periods,
        throttled_periods: cpu.nr_throttled,
        throttled_time_ns: cpu.throttled_usec.saturating_mul(1000),
    });
    let memory = m.memory.as_ref().map(|mem| MemoryUsage {
        usage: mem.usage,
        max_usage: 0,
        failcnt: 0,
        limit: mem.usage_limit,
        stats: v2_memory_stat(mem),
    });
    let blkio = m.io.as_ref().map(|io| {
        BlkioUsage::V2(
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
        )
    });
    ResourceUsage {
        cpu,
        memory,
        pids,
        blkio,
    }
}

/// In the order of [`V2_MEMORY_KEYS`].
fn v2_memory_stat(m: &v2::MemoryStat) -> BTreeMap<String, u64> {
    memory_stat(
        &V2_MEMORY_KEYS,
        [
            m.anon,
            m.file,
            m.kernel_stack,
            m.slab,
            m.sock,
            m.shmem,
            m.file_mapped,
            m.file_dirty,
            m.file_writeback,
            m.anon_thp,
            m.inactive_anon,
            m.active_anon,
            m.inactive_file,
            m.active_file,
            m.unevictable,
            m.slab_reclaimable,
            m.slab_unreclaimable,
            m.pgfault,
            m.pgmajfault,
            m.workingset_refault,
            m.workingset_activate,
            m.workingset_nodereclaim,
            m.pgrefill,
            m.pgscan,
            m.pgsteal,
            m.pgactivate,
            m.pgdeactivate,
            m.pglazyfree,
            m.pglazyfreed,
            m.thp_fault_alloc,
            m.thp_collapse_alloc,
        ],
    )
}

fn memory_stat<const N: usize>(keys: &[&str; N], values: [u64; N]) -> BTreeMap<String, u64> {
    keys.iter()
        .zip(values)
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_or_corrupt_payloads_are_errors() {
        assert!(decode("io.containerd.cgroups.v3.Metrics", &[]).is_err());
        assert!(decode("io.containerd.cgroups.v1.Metrics", &[0xff, 0xff]).is_err());
    }
}
