//! Stats conversion from sample cgroup v1 and v2 metrics.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use prost::Message;
use serde_json::{json, Value};

use super::cgroups::HostSample;
use super::collector::sample_for_tests;
use super::docker::DockerStats;
use crate::observe::stats::{Cpu, NetworkCounters};
// The payloads are built as containerd sends them, so that these tests cover
// the decoding by the containerd runtime and the rendering together.
use crate::runtime::containerd::metrics::{decode, from_v1, v1, v2};

fn host() -> HostSample {
    HostSample {
        system_cpu_usage: 5_000_000_000_000,
        online_cpus: 2,
        mem_total: 8 << 30,
    }
}

fn v1_sample(total_cpu: u64, mem_usage: u64) -> v1::Metrics {
    v1::Metrics {
        pids: Some(v1::PidsStat {
            current: 3,
            limit: 0,
        }),
        cpu: Some(v1::CpuStat {
            usage: Some(v1::CpuUsage {
                total: total_cpu,
                kernel: 10_000_000,
                user: 20_000_000,
                per_cpu: vec![total_cpu / 2, total_cpu - total_cpu / 2],
            }),
            throttling: Some(v1::Throttle {
                periods: 7,
                throttled_periods: 2,
                throttled_time: 300,
            }),
        }),
        memory: Some(v1::MemoryStat {
            cache: 4096,
            rss: 8192,
            pg_pg_in: 11,
            total_cache: 4096,
            hierarchical_swap_limit: 99,
            usage: Some(v1::MemoryEntry {
                limit: 9_223_372_036_854_771_712,
                usage: mem_usage,
                max: mem_usage * 2,
                failcnt: 1,
            }),
            ..Default::default()
        }),
        blkio: Some(v1::BlkIoStat {
            io_service_bytes_recursive: vec![v1::BlkIoEntry {
                op: "Read".into(),
                device: String::new(),
                major: 8,
                minor: 0,
                value: 512,
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn v1_metrics_become_docker_stats_with_docker_field_names() {
    let any_value = v1_sample(123_456_789, 1 << 20).encode_to_vec();
    let decoded = decode("io.containerd.cgroups.v1.Metrics", &any_value).unwrap();
    let read = UNIX_EPOCH + Duration::new(1_700_000_000, 500_000_000);
    let s = sample_for_tests("abc", "ecs-fam-1-web-1", read, &decoded, host(), None, None);
    let v = serde_json::to_value(DockerStats::from_sample(&s)).unwrap();
    assert_eq!(v["read"], "2023-11-14T22:13:20.5Z");
    assert_eq!(v["preread"], "0001-01-01T00:00:00Z");
    assert_eq!(v["name"], "/ecs-fam-1-web-1");
    assert_eq!(v["id"], "abc");
    assert_eq!(v["num_procs"], 0);
    assert_eq!(v["storage_stats"], json!({}));
    assert_eq!(v["pids_stats"], json!({"current": 3}));
    assert_eq!(
        v["cpu_stats"],
        json!({
            "cpu_usage": {"total_usage": 123_456_789u64,
                          "percpu_usage": [61_728_394u64, 61_728_395u64],
                          "usage_in_kernelmode": 10_000_000, "usage_in_usermode": 20_000_000},
            "system_cpu_usage": 5_000_000_000_000u64,
            "online_cpus": 2,
            "throttling_data": {"periods": 7, "throttled_periods": 2, "throttled_time": 300}
        })
    );
    // No previous sample: Docker's zero CPUStats.
    assert_eq!(
        v["precpu_stats"],
        json!({"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
               "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}})
    );
    let mem = &v["memory_stats"];
    assert_eq!(mem["usage"], 1 << 20);
    assert_eq!(mem["max_usage"], 2 << 20);
    assert_eq!(mem["failcnt"], 1);
    // An unlimited cgroup shows the host's memory, as Docker does.
    assert_eq!(mem["limit"], 8u64 << 30);
    assert_eq!(mem["stats"]["cache"], 4096);
    assert_eq!(mem["stats"]["rss"], 8192);
    assert_eq!(mem["stats"]["pgpgin"], 11);
    assert_eq!(mem["stats"]["total_cache"], 4096);
    assert_eq!(mem["stats"]["hierarchical_memsw_limit"], 99);
    assert_eq!(mem["stats"].as_object().unwrap().len(), 32);
    assert_eq!(
        v["blkio_stats"]["io_service_bytes_recursive"],
        json!([{"major": 8, "minor": 0, "op": "Read", "value": 512}])
    );
    assert_eq!(v["blkio_stats"]["sectors_recursive"], json!([]));
    // Host network mode: no networks key at all.
    assert!(v.get("networks").is_none());
    assert_eq!(s.network_rate, None);
}

#[test]
fn v2_metrics_convert_microseconds_and_io_like_docker() {
    let m = v2::Metrics {
        pids: Some(v2::PidsStat {
            current: 4,
            limit: 100,
        }),
        cpu: Some(v2::CpuStat {
            usage_usec: 1500,
            user_usec: 1000,
            system_usec: 500,
            nr_periods: 3,
            nr_throttled: 1,
            throttled_usec: 20,
            ..Default::default()
        }),
        memory: Some(v2::MemoryStat {
            anon: 100,
            file: 200,
            pgfault: 5,
            usage: 300,
            usage_limit: 64 << 20,
            ..Default::default()
        }),
        io: Some(v2::IoStat {
            usage: vec![v2::IoEntry {
                major: 259,
                minor: 1,
                rbytes: 10,
                wbytes: 20,
                rios: 1,
                wios: 2,
            }],
            psi: None,
        }),
        ..Default::default()
    };
    let decoded = decode(
        "type.googleapis.com/io.containerd.cgroups.v2.Metrics",
        &m.encode_to_vec(),
    )
    .unwrap();
    let s = sample_for_tests("id2", "n", UNIX_EPOCH, &decoded, host(), None, None);
    let v = serde_json::to_value(DockerStats::from_sample(&s)).unwrap();
    assert_eq!(
        v["cpu_stats"]["cpu_usage"],
        json!({"total_usage": 1_500_000, "usage_in_kernelmode": 500_000, "usage_in_usermode": 1_000_000})
    );
    assert_eq!(
        v["cpu_stats"]["throttling_data"],
        json!({"periods": 3, "throttled_periods": 1, "throttled_time": 20_000})
    );
    assert_eq!(v["pids_stats"], json!({"current": 4, "limit": 100}));
    let mem = &v["memory_stats"];
    assert_eq!(mem["usage"], 300);
    assert_eq!(mem["limit"], 64 << 20);
    assert!(mem.get("max_usage").is_none() && mem.get("failcnt").is_none());
    assert_eq!(mem["stats"]["anon"], 100);
    assert_eq!(mem["stats"]["file"], 200);
    assert_eq!(
        v["blkio_stats"],
        json!({
            "io_service_bytes_recursive": [
                {"major": 259, "minor": 1, "op": "read", "value": 10},
                {"major": 259, "minor": 1, "op": "write", "value": 20}],
            "io_serviced_recursive": [
                {"major": 259, "minor": 1, "op": "read", "value": 1},
                {"major": 259, "minor": 1, "op": "write", "value": 2}],
            "io_queue_recursive": null, "io_service_time_recursive": null,
            "io_wait_time_recursive": null, "io_merged_recursive": null,
            "io_time_recursive": null, "sectors_recursive": null
        })
    );
}

#[test]
fn previous_sample_fills_precpu_preread_and_network_rate() {
    let decoded = from_v1(&v1_sample(2_000, 10));
    let t0 = UNIX_EPOCH + Duration::from_secs(1_000);
    let t1 = t0 + Duration::from_secs(2);
    let prev_cpu = Cpu {
        total_ns: 1_000,
        system_ns: 42,
        online_cpus: 2,
        ..Default::default()
    };
    let mut nets = BTreeMap::new();
    nets.insert(
        "eth0".to_string(),
        NetworkCounters {
            rx_bytes: 3_000,
            tx_bytes: 1_000,
            ..Default::default()
        },
    );
    let s = sample_for_tests(
        "x",
        "n",
        t1,
        &decoded,
        host(),
        Some(nets),
        Some((t0, prev_cpu.clone(), Some((1_000, 600)))),
    );
    assert_eq!(s.precpu, prev_cpu);
    let docker = DockerStats::from_sample(&s);
    assert_eq!(docker.preread, "1970-01-01T00:16:40Z");
    let rate = s.network_rate.unwrap();
    assert_eq!(rate.rx_bytes_per_sec, 1_000.0);
    assert_eq!(rate.tx_bytes_per_sec, 200.0);
    let v: Value = serde_json::to_value(&docker).unwrap();
    assert_eq!(
        v["networks"]["eth0"],
        json!({"rx_bytes": 3000, "rx_packets": 0, "rx_errors": 0, "rx_dropped": 0,
               "tx_bytes": 1000, "tx_packets": 0, "tx_errors": 0, "tx_dropped": 0})
    );
}

#[tokio::test]
async fn polling_nothing_touches_no_socket_and_a_dead_socket_is_an_error() {
    use std::sync::Arc;

    use crate::endpoints::{StatsCollector, StatsError};
    use crate::observe::view::{ContainerView, Published, TaskView};
    use crate::observe::StatsStore;
    use crate::runtime::containerd::pull::PullOptions;
    use crate::runtime::containerd::{Conn, ContainerdRuntime};
    use crate::task::def::NetworkMode;
    use crate::task::ContainerStatus;

    let conn = Conn::lazy(std::path::Path::new("/nonexistent/containerd.sock"), "ns").unwrap();
    let runtime = Arc::new(ContainerdRuntime::new(conn, PullOptions::default()));
    let published = Published::default();
    let store = Arc::new(StatsStore::new());
    store.insert(
        "gone",
        sample_for_tests(
            "gone",
            "g",
            UNIX_EPOCH,
            &from_v1(&v1_sample(1, 1)),
            host(),
            None,
            None,
        ),
    );
    let mut c = StatsCollector::new(runtime, Arc::new(published.clone()), store.clone());
    // No running container: no call, and stale samples are dropped.
    assert_eq!(c.poll_once().await.unwrap(), 0);
    assert!(store.is_empty());
    published.publish_tasks(vec![TaskView {
        network_mode: NetworkMode::Host,
        containers: vec![ContainerView {
            runtime_id: "c1".into(),
            known_status: ContainerStatus::Running,
            ..ContainerView::default()
        }],
        ..TaskView::default()
    }]);
    assert!(matches!(c.poll_once().await, Err(StatsError::Metrics(_))));
}
