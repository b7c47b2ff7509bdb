//! Facts about where and how the client ran: git state (git2), CI run URL,
//! host name, the process's own CPU use, and the client probe ([`probe`]):
//! whether the client itself limited the measurement.

use std::time::Duration;

pub mod probe;

pub use probe::{ClientProbe, Thresholds, assess};

use crate::bundle::GitInfo;

/// Git state of the repository containing `dir`, if any. Never fails: a
/// missing or unreadable repository just means no git facts.
pub fn git_info(dir: &std::path::Path) -> Option<GitInfo> {
    let repo = git2::Repository::discover(dir).ok()?;
    let head = repo.head().ok()?;
    let commit = head.peel_to_commit().ok()?.id().to_string();
    let branch = head
        .is_branch()
        .then(|| head.shorthand().ok().map(str::to_string))
        .flatten();
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(false).include_ignored(false);
    let dirty = repo
        .statuses(Some(&mut opts))
        .map(|s| !s.is_empty())
        .unwrap_or(false);
    Some(GitInfo {
        commit,
        branch,
        dirty,
    })
}

/// The CI run URL from the environment: GitHub Actions or GitLab CI.
pub fn ci_run_url(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if let (Some(server), Some(repo), Some(run)) = (
        env("GITHUB_SERVER_URL"),
        env("GITHUB_REPOSITORY"),
        env("GITHUB_RUN_ID"),
    ) {
        return Some(format!("{server}/{repo}/actions/runs/{run}"));
    }
    env("CI_JOB_URL").or_else(|| env("CI_PIPELINE_URL"))
}

pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// User and system CPU time of this process so far.
pub fn process_cpu() -> (Duration, Duration) {
    // SAFETY: getrusage writes into the zeroed struct we pass and reads
    // nothing else; RUSAGE_SELF is always valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return (Duration::ZERO, Duration::ZERO);
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

/// This process's resident memory (`VmRSS` of `/proc/self/status`, Linux);
/// `None` where that file does not exist or has no such line.
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

/// `VmRSS:    12345 kB` → bytes.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut parts = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") => value.checked_mul(1024),
        _ => None,
    }
}

/// Peak resident set size of this process, bytes.
pub fn peak_rss_bytes() -> u64 {
    // SAFETY: as in `process_cpu`.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return 0;
    }
    ru.ru_maxrss.max(0) as u64 * 1024
}

/// One reading of the host's CPU signals.
#[derive(Debug, Clone, Copy)]
pub struct HostSample {
    at: std::time::Instant,
    /// `/proc/pressure/cpu` "some" total stall time, µs.
    pressure_total_us: Option<u64>,
    load1: Option<f64>,
}

pub fn host_sample() -> HostSample {
    let pressure_total_us = std::fs::read_to_string("/proc/pressure/cpu")
        .ok()
        .and_then(|t| {
            let some = t.lines().find(|l| l.starts_with("some "))?;
            let total = some
                .split_whitespace()
                .find_map(|f| f.strip_prefix("total="))?;
            total.parse().ok()
        });
    let load1 = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok());
    HostSample {
        at: std::time::Instant::now(),
        pressure_total_us,
        load1,
    }
}

/// CPU pressure share (Linux PSI, "some": the share of wall time in which at
/// least one runnable task waited for a CPU — kernel docs,
/// Documentation/accounting/psi.rst) and load between two samples.
pub fn host_signals(start: &HostSample, end: &HostSample) -> crate::bundle::HostSignals {
    let wall_us = end.at.duration_since(start.at).as_micros() as f64;
    let pressure = match (start.pressure_total_us, end.pressure_total_us) {
        (Some(a), Some(b)) if wall_us > 0.0 => {
            Some(((b.saturating_sub(a)) as f64 / wall_us).clamp(0.0, 1.0))
        }
        _ => None,
    };
    crate::bundle::HostSignals {
        cpus: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
        cpu_pressure_some: pressure.map(|p| (p * 1e4).round() / 1e4),
        load1_start: start.load1,
        load1_end: end.load1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_bytes() {
        let status = "Name:\tx\nVmPeak:\t  900 kB\nVmRSS:\t   2048 kB\nThreads: 3\n";
        assert_eq!(parse_vm_rss(status), Some(2048 * 1024));
        assert_eq!(parse_vm_rss("VmRSS: lots\n"), None);
        assert_eq!(parse_vm_rss("Name: x\n"), None);
    }
}
