//! What the kernel knows of a process: CPU time used and peak resident memory. CPU seconds are
//! steadier than wall-clock rates on a shared 2-core machine, so the harness compares work per
//! CPU-second as well as per second.

use anyhow::Context;

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ): 100 on every Linux architecture
/// the project runs on (it is fixed by the kernel ABI, whatever the kernel's own HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU seconds used so far by process `pid` (its threads included).
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).with_context(|| format!("process {pid}"))?;
    parse_cpu_seconds(&stat).with_context(|| format!("unreadable /proc/{pid}/stat: {stat}"))
}

/// The peak resident set (`VmHWM`) of process `pid`, in MiB.
pub fn peak_rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| format!("process {pid}"))?;
    parse_peak_rss_mb(&status).with_context(|| format!("no VmHWM in /proc/{pid}/status"))
}

fn parse_cpu_seconds(stat: &str) -> Option<f64> {
    // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime and stime are fields 14 and 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

fn parse_peak_rss_mb(status: &str) -> Option<f64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime_after_a_name_with_spaces() {
        let stat = "4242 (ioc ingest) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_cpu_seconds(stat), Some(3.25));
        assert_eq!(parse_cpu_seconds("garbage"), None);
    }

    #[test]
    fn reads_the_peak_resident_set() {
        let status = "Name:\tioc-ingest\nVmPeak:\t  900000 kB\nVmHWM:\t   30720 kB\nVmRSS:\t   20000 kB\n";
        assert_eq!(parse_peak_rss_mb(status), Some(30.0));
        assert_eq!(parse_peak_rss_mb("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_has_used_some_cpu_and_memory() {
        let pid = std::process::id();
        assert!(cpu_seconds(pid).expect("own stat") >= 0.0);
        assert!(peak_rss_mb(pid).expect("own status") > 1.0);
    }
}
