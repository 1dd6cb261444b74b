//! The host figures Docker adds to container stats, and a network
//! namespace's interface counters, from /proc. Parsers are pure; the readers
//! take the /proc root so tests can point them elsewhere.

use std::collections::BTreeMap;
use std::path::Path;

use super::HostSample;
use crate::observe::stats::NetworkCounters;

/// USER_HZ: the unit of /proc/stat. It is 100 on every Linux ABI we run on.
const CLOCK_TICKS_PER_SECOND: u64 = 100;
const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// (system_cpu_usage in ns, online cpus) from /proc/stat text, as Docker
/// computes them: the first seven fields of the `cpu` line (user .. softirq)
/// in ticks, converted to nanoseconds; one `cpuN` line per online CPU.
pub fn parse_proc_stat(text: &str) -> Option<(u64, u32)> {
    let mut total = None;
    let mut cpus = 0u32;
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let Some(name) = fields.next() else { continue };
        if name == "cpu" {
            let mut ticks = 0u64;
            for f in fields.take(7) {
                ticks = ticks.saturating_add(f.parse::<u64>().ok()?);
            }
            total = Some(ticks.saturating_mul(NANOS_PER_SECOND / CLOCK_TICKS_PER_SECOND));
        } else if name.len() > 3
            && name.starts_with("cpu")
            && name[3..].bytes().all(|b| b.is_ascii_digit())
        {
            cpus += 1;
        }
    }
    total.map(|t| (t, cpus))
}

/// MemTotal in bytes from /proc/meminfo text.
pub fn parse_mem_total(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix("MemTotal:")?;
        let kb = rest
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .ok()?;
        Some(kb.saturating_mul(1024))
    })
}

/// Interface counters from /proc/<pid>/net/dev text, loopback left out (as
/// Docker, which only lists the container's endpoints).
pub fn parse_net_dev(text: &str) -> BTreeMap<String, NetworkCounters> {
    let mut out = BTreeMap::new();
    // Two header lines, then `name: rx(8 fields) tx(8 fields)`.
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name == "lo" {
            continue;
        }
        let v: Vec<u64> = rest
            .split_ascii_whitespace()
            .map(|f| f.parse::<u64>().unwrap_or(0))
            .collect();
        if v.len() < 16 {
            continue;
        }
        out.insert(
            name.to_string(),
            NetworkCounters {
                rx_bytes: v[0],
                rx_packets: v[1],
                rx_errors: v[2],
                rx_dropped: v[3],
                tx_bytes: v[8],
                tx_packets: v[9],
                tx_errors: v[10],
                tx_dropped: v[11],
            },
        );
    }
    out
}

/// The host sample for one poll; zeros where /proc could not be read.
pub async fn read_host(proc_root: &Path) -> HostSample {
    let stat = tokio::fs::read_to_string(proc_root.join("stat"))
        .await
        .ok()
        .and_then(|t| parse_proc_stat(&t));
    let mem_total = tokio::fs::read_to_string(proc_root.join("meminfo"))
        .await
        .ok()
        .and_then(|t| parse_mem_total(&t))
        .unwrap_or(0);
    let (system_cpu_usage, online_cpus) = stat.unwrap_or((0, 0));
    HostSample {
        system_cpu_usage,
        online_cpus,
        mem_total,
    }
}

/// Interface counters of the network namespace `pid` lives in.
pub async fn read_net_dev(
    proc_root: &Path,
    pid: u32,
) -> std::io::Result<BTreeMap<String, NetworkCounters>> {
    let text = tokio::fs::read_to_string(proc_root.join(pid.to_string()).join("net/dev")).await?;
    Ok(parse_net_dev(&text))
}

/// VmRSS of a process in bytes, from /proc/<pid>/status text.
pub fn parse_vm_rss(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix("VmRSS:")?;
        let kb = rest
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .ok()?;
        Some(kb.saturating_mul(1024))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_sums_seven_fields_in_nanoseconds() {
        let text = "cpu  100 2 30 400 5 6 7 8 0 0\ncpu0 50 1 15 200 2 3 3 4 0 0\n\
                    cpu1 50 1 15 200 3 3 4 4 0 0\nintr 1 2 3\nctxt 5\n";
        let (ns, cpus) = parse_proc_stat(text).unwrap();
        assert_eq!(ns, (100 + 2 + 30 + 400 + 5 + 6 + 7) * 10_000_000);
        assert_eq!(cpus, 2);
        assert_eq!(parse_proc_stat("intr 1\n"), None);
    }

    #[test]
    fn meminfo_and_vmrss() {
        assert_eq!(
            parse_mem_total("MemTotal:        8040264 kB\nMemFree: 1 kB\n"),
            Some(8040264 * 1024)
        );
        assert_eq!(
            parse_vm_rss("Name:\tx\nVmRSS:\t   12345 kB\n"),
            Some(12345 * 1024)
        );
        assert_eq!(parse_vm_rss("Name: x\n"), None);
    }

    #[test]
    fn net_dev_skips_loopback_and_headers() {
        let text = "Inter-|   Receive                                                |  Transmit\n \
face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  \
eth0: 1500      10    1    2    0     0          0         0     2500      20    3    4    0     0       0          0\n";
        let m = parse_net_dev(text);
        assert_eq!(m.len(), 1);
        let e = &m["eth0"];
        assert_eq!(
            (e.rx_bytes, e.rx_packets, e.rx_errors, e.rx_dropped),
            (1500, 10, 1, 2)
        );
        assert_eq!(
            (e.tx_bytes, e.tx_packets, e.tx_errors, e.tx_dropped),
            (2500, 20, 3, 4)
        );
    }
}
