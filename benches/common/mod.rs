//! Helpers shared by the benchmark binaries.

/// A `/proc/self/status` field in KiB (`VmHWM:`, `VmRSS:`), 0 if unknown.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// This process's peak resident set size in KiB (`VmHWM`), 0 if unknown.
pub fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

/// This process's resident set size now, in KiB (`VmRSS`), 0 if unknown.
#[allow(dead_code)]
pub fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}
