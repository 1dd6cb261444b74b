use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::*;
use crate::observe::stats::{Blkio, BlkioEntry, BlkioOp, BlkioV1};
use crate::observe::view::{ContainerView, TaskView};

const SEC: i128 = 1_000_000_000;

fn sample(at_s: i128, cpu_ns: u64, mem_mib: u64) -> Sample {
    Sample {
        at_ns: at_s * SEC,
        cpu_ns,
        cores: 2,
        memory_bytes: mem_mib * BYTES_PER_MIB,
        storage_read_bytes: 10,
        storage_write_bytes: 20,
    }
}

#[test]
fn cpu_percent_is_of_the_whole_host() {
    let mut q = ContainerQueue::default();
    assert!(q.add(&sample(0, 0, 1)));
    // 1 s of CPU on a 2-core host over 1 s: 50 %.
    assert!(q.add(&sample(1, 1_000_000_000, 1)));
    // 2 s of CPU (both cores busy) over 1 s: 100 %.
    assert!(q.add(&sample(2, 3_000_000_000, 3)));
    let cpu = q.cpu_set().unwrap();
    assert_eq!(cpu.sample_count, Some(2), "the first sample has no rate");
    assert_eq!(cpu.min, Some(50.0));
    assert_eq!(cpu.max, Some(100.0));
    assert_eq!(cpu.sum, Some(150.0));
    let mem = q.memory_set().unwrap();
    assert_eq!(mem.sample_count, Some(3));
    assert_eq!(
        (mem.min, mem.max, mem.sum),
        (Some(1.0), Some(3.0), Some(5.0))
    );
}

#[test]
fn one_sample_is_not_enough() {
    let mut q = ContainerQueue::default();
    q.add(&sample(0, 0, 1));
    assert_eq!(q.cpu_set(), None);
    assert_eq!(q.memory_set(), None);
    assert_eq!(q.storage_set(), None);
}

#[test]
fn the_same_sample_read_twice_counts_once() {
    let mut q = ContainerQueue::default();
    assert!(q.add(&sample(5, 0, 1)));
    assert!(!q.add(&sample(5, 0, 1)));
    assert!(!q.add(&sample(4, 0, 1)), "older samples are ignored");
    assert_eq!(q.len(), 1);
}

#[test]
fn a_cpu_counter_reset_gives_no_rate() {
    let mut q = ContainerQueue::default();
    q.add(&sample(0, 5_000_000_000, 1));
    q.add(&sample(1, 0, 1));
    assert_eq!(q.cpu_set(), None);
    q.add(&sample(2, 1_000_000_000, 1));
    assert_eq!(q.cpu_set().unwrap().sum, Some(50.0));
}

#[test]
fn reset_publishes_each_sample_once() {
    let mut q = ContainerQueue::default();
    q.add(&sample(0, 0, 1));
    q.add(&sample(1, 1_000_000_000, 1));
    assert!(q.cpu_set().is_some());
    q.reset();
    assert_eq!(q.cpu_set(), None);
    assert_eq!(q.memory_set(), None);
    q.add(&sample(2, 1_000_000_000, 7));
    let mem = q.memory_set().unwrap();
    assert_eq!((mem.sample_count, mem.sum), (Some(1), Some(7.0)));
    assert_eq!(q.cpu_set().unwrap().sum, Some(0.0));
}

#[test]
fn queue_keeps_the_newest_samples() {
    let mut q = ContainerQueue::default();
    for i in 0..(QUEUE_SIZE as i128 + 5) {
        q.add(&sample(i, 0, i as u64));
    }
    assert_eq!(q.len(), QUEUE_SIZE);
    assert_eq!(q.memory_set().unwrap().min, Some(5.0));
}

#[test]
fn cw_stats_set_of_values() {
    assert_eq!(cw_stats_set(&[]), None);
    let s = cw_stats_set(&[3.0, -1.0, 2.5]).unwrap();
    assert_eq!(s.min, Some(-1.0));
    assert_eq!(s.max, Some(3.0));
    assert_eq!(s.sum, Some(4.5));
    assert_eq!(s.sample_count, Some(3));
}

#[test]
fn ulong_sets_carry_overflow() {
    assert_eq!(ulong_stats_set(&[]), None);
    let s = ulong_stats_set(&[1, 5]).unwrap();
    assert_eq!((s.min, s.max, s.sum), (Some(1), Some(5), Some(6)));
    assert_eq!(
        (s.overflow_min, s.overflow_max, s.overflow_sum),
        (Some(0), Some(0), Some(0))
    );
    let big = i64::MAX as u64 + 7;
    let s = ulong_stats_set(&[big, 3]).unwrap();
    assert_eq!((s.max, s.overflow_max), (Some(i64::MAX), Some(7)));
    assert_eq!((s.min, s.overflow_min), (Some(3), Some(0)));
    assert_eq!((s.sum, s.overflow_sum), (Some(i64::MAX), Some(10)));
    assert_eq!(split_overflow(u64::MAX), (i64::MAX, 1));
    assert_eq!(split_overflow(i64::MAX as u64), (i64::MAX, 0));
}

#[test]
fn storage_set_from_unsent_samples() {
    let mut q = ContainerQueue::default();
    q.add(&sample(0, 0, 1));
    q.add(&sample(1, 0, 1));
    let s = q.storage_set().unwrap();
    assert_eq!(s.read_size_bytes.unwrap().sum, Some(20));
    assert_eq!(s.write_size_bytes.unwrap().max, Some(20));
}

/// `2026-01-02T03:04:05Z` plus `millis`.
fn at(millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_323_045) + Duration::from_millis(millis)
}

fn stats(read: SystemTime, total: u64, online: u32) -> ContainerSample {
    let mut d = ContainerSample {
        read,
        ..ContainerSample::default()
    };
    d.cpu.total_ns = total;
    d.cpu.online_cpus = online;
    d.memory = Memory {
        usage: 10 * BYTES_PER_MIB,
        stats: [("inactive_file".to_string(), 4 * BYTES_PER_MIB)].into(),
        ..Memory::default()
    };
    let entry = |minor, op, value| BlkioEntry {
        major: 8,
        minor,
        op,
        value,
    };
    d.blkio = Blkio::V1(BlkioV1 {
        service_bytes: vec![
            entry(0, BlkioOp::Read, 100),
            entry(16, BlkioOp::Read, 1),
            entry(0, BlkioOp::Write, 50),
            entry(0, BlkioOp::Total, 151),
        ],
        ..BlkioV1::default()
    });
    d
}

#[test]
fn sample_from_container_stats() {
    let s = Sample::from_stats(&stats(at(500), 42, 4)).unwrap();
    assert_eq!(s.at_ns, 1_767_323_045_500_000_000);
    assert_eq!(s.cpu_ns, 42);
    assert_eq!(s.cores, 4);
    assert_eq!(s.memory_bytes, 6 * BYTES_PER_MIB);
    assert_eq!((s.storage_read_bytes, s.storage_write_bytes), (101, 50));
}

#[test]
fn sample_needs_a_time_and_cores() {
    // Never read: the time a sample has before the collector sets it.
    assert_eq!(Sample::from_stats(&stats(UNIX_EPOCH, 1, 4)), None);
    assert_eq!(Sample::from_stats(&stats(at(0), 1, 0)), None);
    let mut d = stats(at(0), 1, 0);
    d.cpu.per_cpu_ns = vec![1, 0, 0];
    assert_eq!(Sample::from_stats(&d).unwrap().cores, 3);
}

#[test]
fn memory_subtracts_inactive_cache() {
    let mut m = Memory {
        usage: 100,
        ..Memory::default()
    };
    assert_eq!(memory_in_use(&m), 100);
    m.stats.insert("total_inactive_file".into(), 30);
    m.stats.insert("inactive_file".into(), 10);
    assert_eq!(memory_in_use(&m), 70, "cgroup v1 key first");
    m.stats.insert("total_inactive_file".into(), 300);
    assert_eq!(memory_in_use(&m), 100, "cache above usage is ignored");
}

fn snapshot() -> Snapshot {
    let container = |name: &str, id: &str| ContainerView {
        name: name.into(),
        runtime_id: id.into(),
        ..ContainerView::default()
    };
    Snapshot {
        tasks: [
            TaskView {
                arn: "arn:task/a".into(),
                family: "fam".into(),
                revision: "3".into(),
                containers: vec![container("web", "id-web"), container("side", "id-side")],
                ..TaskView::default()
            },
            TaskView {
                arn: "arn:task/b".into(),
                family: "other".into(),
                revision: "1".into(),
                containers: vec![container("solo", "id-solo")],
                ..TaskView::default()
            },
        ]
        .map(Arc::new)
        .to_vec(),
        ..Snapshot::default()
    }
}

#[test]
fn accumulator_builds_task_metrics_and_marks_them_sent() {
    let mut acc = Accumulator::default();
    assert!(acc.is_idle());
    assert_eq!(
        acc.observe([("id-web", sample(0, 0, 1)), ("id-solo", sample(0, 0, 1))]),
        2
    );
    assert!(!acc.is_idle());
    // Only one sample each: nothing to report yet.
    assert!(acc.take_task_metrics(&snapshot()).is_empty());
    acc.observe([
        ("id-web", sample(1, 1_000_000_000, 2)),
        ("id-solo", sample(0, 0, 1)),
    ]);
    let tasks = acc.take_task_metrics(&snapshot());
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let t = &tasks[0];
    assert_eq!(t.task_arn.as_deref(), Some("arn:task/a"));
    assert_eq!(t.task_definition_family.as_deref(), Some("fam"));
    assert_eq!(t.task_definition_version.as_deref(), Some("3"));
    assert_eq!(t.container_metrics.len(), 1);
    let c = &t.container_metrics[0];
    assert_eq!(c.container_name.as_deref(), Some("web"));
    assert_eq!(c.cpu_stats_set.as_ref().unwrap().sum, Some(50.0));
    assert!(c.storage_stats_set.is_some());
    // Sent: the next publish has nothing until new samples arrive.
    assert!(acc.take_task_metrics(&snapshot()).is_empty());
    // A container gone from the store is forgotten.
    acc.observe([("id-web", sample(2, 1_000_000_000, 2))]);
    assert!(!acc.is_idle());
    acc.observe(std::iter::empty::<(&str, Sample)>());
    assert!(acc.is_idle());
}

fn task(n: usize) -> TaskMetric {
    TaskMetric {
        task_arn: Some(format!("t{n}")),
        ..TaskMetric::default()
    }
}

#[test]
fn idle_instance_sends_one_final_request() {
    let r = publish_requests("c", "ci", "m", true, vec![], 12.5);
    assert_eq!(r.len(), 1);
    let md = r[0].metadata.as_ref().unwrap();
    assert_eq!((md.idle, md.fin), (Some(true), Some(true)));
    assert_eq!(md.cluster.as_deref(), Some("c"));
    assert_eq!(md.container_instance.as_deref(), Some("ci"));
    assert_eq!(md.message_id.as_deref(), Some("m"));
    assert!(r[0].task_metrics.is_empty());
    assert_eq!(r[0].timestamp, Some(12.5));
}

#[test]
fn nothing_to_send_sends_nothing() {
    assert!(publish_requests("c", "ci", "m", false, vec![], 1.0).is_empty());
}

#[test]
fn tasks_are_paged_with_fin_on_the_last() {
    let r = publish_requests("c", "ci", "m", false, (0..23).map(task).collect(), 1.0);
    assert_eq!(r.len(), 3);
    let sizes: Vec<usize> = r.iter().map(|p| p.task_metrics.len()).collect();
    assert_eq!(sizes, vec![10, 10, 3]);
    let fins: Vec<Option<bool>> = r.iter().map(|p| p.metadata.as_ref().unwrap().fin).collect();
    assert_eq!(fins, vec![Some(false), Some(false), Some(true)]);
    assert!(r
        .iter()
        .all(|p| p.metadata.as_ref().unwrap().idle == Some(false)
            && p.metadata.as_ref().unwrap().message_id.as_deref() == Some("m")));
    let r = publish_requests("c", "ci", "m", false, (0..10).map(task).collect(), 1.0);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].metadata.as_ref().unwrap().fin, Some(true));
}

#[test]
fn request_encodes_as_the_wire_expects() {
    let mut acc = Accumulator::default();
    acc.observe([("id-web", sample(0, 0, 1))]);
    acc.observe([("id-web", sample(1, 500_000_000, 1))]);
    let tasks = acc.take_task_metrics(&snapshot());
    let r = publish_requests("c", "ci", "m", false, tasks, 1.0);
    let text = crate::model::tcs::TcsMessage::PublishMetrics(r[0].clone()).encode();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["type"], "PublishMetricsRequest");
    let m = &v["message"];
    assert_eq!(m["metadata"]["fin"], true);
    let c = &m["taskMetrics"][0]["containerMetrics"][0];
    assert_eq!(c["containerName"], "web");
    assert_eq!(c["cpuStatsSet"]["sampleCount"], 1);
    assert_eq!(c["cpuStatsSet"]["max"], 25.0);
    assert_eq!(c["memoryStatsSet"]["sum"], 2.0);
    assert_eq!(
        c["storageStatsSet"]["readSizeBytes"]["overflowSum"], 0,
        "{text}"
    );
}

fn with_restarts(mut s: Snapshot, web: Option<u32>, solo: Option<u32>) -> Snapshot {
    Arc::make_mut(&mut s.tasks[0]).containers[0].restart_count = web;
    Arc::make_mut(&mut s.tasks[1]).containers[0].restart_count = solo;
    s
}

fn restarts_of(tasks: &[TaskMetric], name: &str) -> Option<i64> {
    tasks
        .iter()
        .flat_map(|t| &t.container_metrics)
        .find(|c| c.container_name.as_deref() == Some(name))
        .and_then(|c| c.restart_stats_set.as_ref())
        .and_then(|r| r.restart_count)
}

#[test]
fn restart_stats_carry_the_restarts_since_the_last_publish() {
    let mut acc = Accumulator::default();
    // The agent (re)starts with web already restarted 4 times: Go's new
    // stats queue counts from there, so the first publish says 0.
    acc.observe([("id-web", sample(0, 0, 1)), ("id-solo", sample(0, 0, 1))]);
    acc.observe([("id-web", sample(1, 0, 1)), ("id-solo", sample(1, 0, 1))]);
    let tasks = acc.take_task_metrics(&with_restarts(snapshot(), Some(4), None));
    assert_eq!(restarts_of(&tasks, "web"), Some(0), "{tasks:?}");
    assert_eq!(restarts_of(&tasks, "solo"), None, "no policy, no set");

    // Two restarts, then a publish.
    acc.observe([("id-web", sample(2, 0, 1)), ("id-solo", sample(2, 0, 1))]);
    let tasks = acc.take_task_metrics(&with_restarts(snapshot(), Some(6), Some(1)));
    assert_eq!(restarts_of(&tasks, "web"), Some(2));
    // solo got a policy's count only now (first seen after a publish): all
    // of its restarts happened since.
    assert_eq!(restarts_of(&tasks, "solo"), Some(1));

    // No new samples for web: no metric, its new restart waits.
    acc.observe([("id-solo", sample(3, 0, 1))]);
    let tasks = acc.take_task_metrics(&with_restarts(snapshot(), Some(7), Some(1)));
    assert_eq!(restarts_of(&tasks, "web"), None);
    assert_eq!(restarts_of(&tasks, "solo"), Some(0));
    acc.observe([("id-web", sample(4, 0, 1)), ("id-solo", sample(4, 0, 1))]);
    acc.observe([("id-web", sample(5, 0, 1)), ("id-solo", sample(5, 0, 1))]);
    let tasks = acc.take_task_metrics(&with_restarts(snapshot(), Some(7), Some(1)));
    assert_eq!(
        restarts_of(&tasks, "web"),
        Some(1),
        "the restart waited, not lost"
    );
}
