//! Facts about the host the agent registers (read from /proc).

use crate::control::registration::HostFacts;

/// CPUs this process may use and the host's total memory.
pub fn facts() -> HostFacts {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    let memory_mib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_total_mib(&text))
        .unwrap_or(0);
    HostFacts {
        cpus,
        memory_mib,
        arch: std::env::consts::ARCH.to_string(),
    }
}

/// `MemTotal:  16326372 kB` -> MiB.
pub fn mem_total_mib(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_mem_total() {
        let text = "MemTotal:       16326372 kB\nMemFree:         1234 kB\n";
        assert_eq!(super::mem_total_mib(text), Some(15943));
        assert_eq!(super::mem_total_mib("nothing"), None);
    }
}
