//! Readings from `/proc`: a process's resident memory, this process's CPU
//! time, and the kernel's TCP buffer memory.

use std::time::Instant;

/// Resident set size of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Memory the kernel holds for TCP sockets, in KiB (`/proc/net/sockstat`
/// counts pages of 4 KiB), plus the slab caches (socket structures).
pub fn kernel_net_kib() -> Option<u64> {
    let sockstat = std::fs::read_to_string("/proc/net/sockstat").ok()?;
    let tcp_pages: u64 = sockstat
        .lines()
        .find(|l| l.starts_with("TCP:"))?
        .split_whitespace()
        .skip_while(|w| *w != "mem")
        .nth(1)?
        .parse()
        .ok()?;
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let slab: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("Slab:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(tcp_pages * 4 + slab)
}

/// This process's user + system CPU time, in seconds (`/proc/self/stat`
/// counts in USER_HZ = 100 ticks a second on Linux).
fn cpu_seconds() -> f64 {
    process_cpu_seconds("self")
}

/// User + system CPU seconds of process `pid` ("self" for this one).
fn process_cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line, the 12th and 13th after it.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    (ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0)) / 100.0
}

/// CPU seconds of `pid` and every process under it (a server started
/// through a wrapper script counts as the wrapper's child).
fn tree_cpu_seconds(pid: u32) -> f64 {
    let mut total = process_cpu_seconds(&pid.to_string());
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
            total += tree_cpu_seconds(child);
        }
    }
    total
}

/// Measures how busy a process kept the cores over a span.
pub struct CpuMeter {
    wall: Instant,
    cpu: f64,
    /// Whose CPU time: this process, or a process tree.
    of: Option<u32>,
}

impl CpuMeter {
    /// This process.
    pub fn start() -> CpuMeter {
        CpuMeter {
            wall: Instant::now(),
            cpu: cpu_seconds(),
            of: None,
        }
    }

    /// Process `pid` and its descendants (the server under test).
    pub fn of(pid: u32) -> CpuMeter {
        CpuMeter {
            wall: Instant::now(),
            cpu: tree_cpu_seconds(pid),
            of: Some(pid),
        }
    }

    /// CPU seconds used per wall second since `start` (1.0 = one core busy).
    pub fn load(&self) -> f64 {
        let wall = self.wall.elapsed().as_secs_f64();
        if wall <= 0.0 {
            return 0.0;
        }
        let now = self.of.map_or_else(cpu_seconds, tree_cpu_seconds);
        (now - self.cpu) / wall
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_memory_and_cpu() {
        assert!(rss_kib(std::process::id()).unwrap() > 0);
        let meter = CpuMeter::start();
        let until = Instant::now() + std::time::Duration::from_millis(300);
        let mut x = 0u64;
        while Instant::now() < until {
            x = x.wrapping_mul(31).wrapping_add(1);
        }
        assert!(x != 1);
        let load = meter.load();
        assert!(load > 0.05 && load < 1.5, "{load}");
        // The same process read through /proc/PID, as the server is.
        let own = CpuMeter::of(std::process::id());
        assert!(own.cpu >= meter.cpu, "{} < {}", own.cpu, meter.cpu);
        assert!(kernel_net_kib().unwrap() > 0);
    }
}
