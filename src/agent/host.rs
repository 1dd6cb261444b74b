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
        os_release_family: std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|text| os_release_family(&text)),
    }
}

/// `<ID>_<VERSION_ID>` of an os-release file, as ecs-init computes
/// ECS_DETAILED_OS_FAMILY (ecs-init/config/os_family.go): values trimmed of
/// spaces and quotes; `None` without both.
pub fn os_release_family(text: &str) -> Option<String> {
    let value = |key: &str| {
        text.lines()
            .rev()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
            .filter(|v| !v.is_empty())
    };
    Some(format!("{}_{}", value("ID=")?, value("VERSION_ID=")?))
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

    #[test]
    fn os_family_as_ecs_init_computes_it() {
        let al2023 = "NAME=\"Amazon Linux\"\nVERSION=\"2023\"\nID=\"amzn\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"2023\"\n";
        assert_eq!(
            super::os_release_family(al2023).as_deref(),
            Some("amzn_2023")
        );
        let debian =
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nID=debian\n";
        assert_eq!(
            super::os_release_family(debian).as_deref(),
            Some("debian_12")
        );
        // Rolling releases have no VERSION_ID: no detailed family.
        assert_eq!(super::os_release_family("ID=arch\n"), None);
    }
}
