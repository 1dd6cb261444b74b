//! The readers against directories laid out as the kernel lays out a
//! container's cgroup, with file contents in the kernel's formats. The v1
//! reader is also checked against containerd's own Tasks.Metrics for real
//! containers (tests/integration/stats.rs).

use std::path::Path;

use super::*;
use crate::observe::stats::{BlkioEntry, BlkioOp, IoDevice};
use crate::runtime::metrics::BlkioUsage;

fn write(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

const PATH: &str = "/ecs/task1/c1";

#[test]
fn only_plain_paths_below_the_root_are_read() {
    assert_eq!(relative("/ecs/t/c"), Some(Path::new("ecs/t/c")));
    assert_eq!(relative("ecs/c"), Some(Path::new("ecs/c")));
    assert_eq!(relative("system.slice:ecs:c1"), None, "systemd driver");
    assert_eq!(relative("/ecs/../etc"), None);
    assert_eq!(relative("/"), None);
    assert_eq!(relative(""), None);
}

#[test]
fn v1_reads_each_controller_as_containerd_does() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let rel = PATH.trim_start_matches('/');
    write(
        &r.join("cpuacct").join(rel),
        &[
            ("cpuacct.usage", "123456789\n"),
            ("cpuacct.usage_percpu", "100000000 23456789 \n"),
            ("cpuacct.stat", "user 7\nsystem 3\n"),
        ],
    );
    write(
        &r.join("cpu").join(rel),
        &[(
            "cpu.stat",
            "nr_periods 10\nnr_throttled 2\nthrottled_time 5000\n",
        )],
    );
    write(
        &r.join("memory").join(rel),
        &[
            ("memory.usage_in_bytes", "4096000\n"),
            ("memory.max_usage_in_bytes", "8192000\n"),
            ("memory.failcnt", "1\n"),
            ("memory.limit_in_bytes", "536870912\n"),
            (
                "memory.stat",
                "cache 12288\nrss 65536\nrss_huge 0\nshmem 0\nswap 0\ntotal_rss 65536\n",
            ),
        ],
    );
    write(
        &r.join("pids").join(rel),
        &[("pids.current", "3\n"), ("pids.max", "max\n")],
    );
    // No CFQ lists on this kernel (as on the test machines): the throttle ones.
    write(
        &r.join("blkio").join(rel),
        &[
            (
                "blkio.throttle.io_service_bytes",
                "8:0 Read 4096\n8:0 Write 0\n8:0 Total 4096\nTotal 4096\n",
            ),
            ("blkio.throttle.io_serviced", "8:0 Read 1\nTotal 1\n"),
        ],
    );
    let fs = CgroupFs::at(r);
    assert_eq!(fs.version(), Version::V1);
    let u = fs.read(PATH).expect("the container's cgroup is there");

    let cpu = u.cpu.unwrap();
    assert_eq!(cpu.total_ns, 123_456_789);
    assert_eq!(cpu.per_cpu_ns, [100_000_000, 23_456_789]);
    assert_eq!(cpu.user_ns, 70_000_000, "ticks of 10 ms");
    assert_eq!(cpu.kernel_ns, 30_000_000);
    assert_eq!(
        (
            cpu.throttling_periods,
            cpu.throttled_periods,
            cpu.throttled_time_ns
        ),
        (10, 2, 5000)
    );
    let mem = u.memory.unwrap();
    assert_eq!(
        (mem.usage, mem.max_usage, mem.failcnt, mem.limit),
        (4_096_000, 8_192_000, 1, 536_870_912)
    );
    assert_eq!(mem.stats["rss"], 65536);
    assert_eq!(mem.stats["total_rss"], 65536);
    assert_eq!(mem.stats["dirty"], 0, "a key the file lacks is 0");
    assert!(!mem.stats.contains_key("swap"), "the proto's keys only");
    assert_eq!(
        mem.stats.len(),
        crate::runtime::metrics::V1_MEMORY_KEYS.len()
    );
    let pids = u.pids.unwrap();
    assert_eq!((pids.current, pids.limit), (3, 0), "v1 max reads as 0");
    let Some(BlkioUsage::V1(b)) = u.blkio else {
        panic!("v1 blkio")
    };
    let read = |value| BlkioEntry {
        major: 8,
        minor: 0,
        op: BlkioOp::Read,
        value,
    };
    assert_eq!(b.service_bytes.len(), 3, "the Total line left out");
    assert_eq!(b.service_bytes[0], read(4096));
    assert_eq!(b.serviced, [read(1)]);
    assert!(b.sectors.is_empty());

    // A cgroup without the optional controllers: their parts are None.
    let other = "/ecs/c2";
    write(&r.join("cpuacct/ecs/c2"), &[("cpuacct.usage", "5\n")]);
    let u = fs.read(other).unwrap();
    assert_eq!(u.cpu.unwrap().total_ns, 5);
    assert!(u.memory.is_none() && u.pids.is_none() && u.blkio.is_none());
    assert!(fs.read("/ecs/gone").is_none(), "no cgroup: ask containerd");

    assert_eq!(fs.pid(PATH), None, "no cgroup.procs");
    write(
        &r.join("cpuacct").join(rel),
        &[("cgroup.procs", "42\n43\n")],
    );
    assert_eq!(fs.pid(PATH), Some(42));
    assert_eq!(fs.pid("/ecs/gone"), None);
}

#[test]
fn v1_blkio_prefers_the_cfq_lists_where_they_count() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    write(&r.join("cpuacct/ecs/c"), &[("cpuacct.usage", "1\n")]);
    write(
        &r.join("blkio/ecs/c"),
        &[
            ("blkio.io_serviced_recursive", "8:16 Write 2\nTotal 2\n"),
            ("blkio.sectors_recursive", "8:16 24\n"),
            ("blkio.throttle.io_serviced", "8:16 Write 9\nTotal 9\n"),
        ],
    );
    let Some(BlkioUsage::V1(b)) = CgroupFs::at(r).read("/ecs/c").unwrap().blkio else {
        panic!("v1 blkio")
    };
    assert_eq!(b.serviced.len(), 1);
    assert_eq!(b.serviced[0].value, 2);
    assert_eq!(b.sectors[0].op, BlkioOp::Other(String::new()));
    assert_eq!(b.sectors[0].value, 24);
}

#[test]
fn v2_reads_the_unified_directory_as_containerd_does() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    write(r, &[("cgroup.controllers", "cpu io memory pids\n")]);
    write(
        &r.join("ecs/task1/c1"),
        &[
            (
                "cpu.stat",
                "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 30\n",
            ),
            ("memory.current", "1048576\n"),
            ("memory.max", "max\n"),
            ("memory.stat", "anon 4096\nfile 8192\nworkingset_refault_anon 0\n"),
            ("pids.current", "2\n"),
            ("pids.max", "64\n"),
            (
                "io.stat",
                "8:0 rbytes=4096 wbytes=512 rios=1 wios=2 dbytes=0 dios=0\n",
            ),
        ],
    );
    let fs = CgroupFs::at(r);
    assert_eq!(fs.version(), Version::V2);
    let u = fs.read(PATH).unwrap();
    let cpu = u.cpu.unwrap();
    assert_eq!(
        (cpu.total_ns, cpu.user_ns, cpu.kernel_ns),
        (2_500_000, 2_000_000, 500_000)
    );
    assert_eq!(
        (
            cpu.throttling_periods,
            cpu.throttled_periods,
            cpu.throttled_time_ns
        ),
        (4, 1, 30_000)
    );
    assert!(cpu.per_cpu_ns.is_empty());
    let mem = u.memory.unwrap();
    assert_eq!((mem.usage, mem.limit), (1_048_576, u64::MAX));
    assert_eq!((mem.stats["anon"], mem.stats["file"]), (4096, 8192));
    assert_eq!(
        mem.stats.len(),
        crate::runtime::metrics::V2_MEMORY_KEYS.len()
    );
    let pids = u.pids.unwrap();
    assert_eq!((pids.current, pids.limit), (2, 64));
    assert_eq!(
        u.blkio,
        Some(BlkioUsage::V2(vec![IoDevice {
            major: 8,
            minor: 0,
            read_bytes: 4096,
            write_bytes: 512,
            read_ios: 1,
            write_ios: 2,
        }]))
    );
    assert!(fs.read("/ecs/gone").is_none());
    write(&r.join("ecs/task1/c1"), &[("cgroup.procs", "7\n")]);
    assert_eq!(fs.pid(PATH), Some(7));
}
