//! The machine fingerprint stored in every result and printed by `kobench env`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub hostname: String,
    pub arch: String,
    pub kernel: String,
    pub kernel_version: String,
    pub cpu_model: String,
    pub cpus_online: usize,
    pub cpus_allowed: usize,
    /// `/sys/devices/system/cpu/smt/active`, when present.
    pub smt_active: Option<bool>,
    pub threads_per_core: usize,
    pub numa_nodes: usize,
    /// Hypervisor vendor/type, or `none` on bare metal; `unknown` when undetectable.
    pub virtualization: String,
    pub frequency_governor: Option<String>,
    /// `/sys/devices/system/cpu/vulnerabilities/*`: name -> status line.
    pub mitigations: BTreeMap<String, String>,
    pub kobench_version: String,
    pub rustc: String,
    /// `membarrier(QUERY)` mask (or the errno name when it failed).
    pub membarrier_query: String,
    pub euid: u32,
}

fn read(p: &str) -> Option<String> {
    fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

fn cpuinfo_field(info: &str, key: &str) -> Option<String> {
    info.lines()
        .find(|l| l.split(':').next().map(|k| k.trim()) == Some(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

impl Fingerprint {
    /// Collects the fingerprint of this machine. `rustc` is the compiler kobench was built with.
    pub fn collect(rustc: &str) -> Fingerprint {
        let info = read("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo_field(&info, "model name")
            .or_else(|| {
                cpuinfo_field(&info, "CPU implementer").map(|imp| {
                    format!(
                        "implementer {imp} part {}",
                        cpuinfo_field(&info, "CPU part").unwrap_or_default()
                    )
                })
            })
            .unwrap_or_else(|| "unknown".into());
        let online = read("/sys/devices/system/cpu/online")
            .and_then(|s| crate::cpus::parse_list(&s).ok())
            .map(|v| v.len())
            .unwrap_or(0);
        let allowed = crate::sys::process::allowed_cpus()
            .map(|v| v.len())
            .unwrap_or(0);
        let threads_per_core = read("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list")
            .and_then(|s| crate::cpus::parse_list(&s).ok())
            .map(|v| v.len())
            .unwrap_or(1);
        let numa_nodes = fs::read_dir("/sys/devices/system/node")
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| {
                        let n = e.file_name();
                        let n = n.to_string_lossy();
                        n.starts_with("node") && n[4..].parse::<u32>().is_ok()
                    })
                    .count()
            })
            .unwrap_or(0)
            .max(1);
        let flags = cpuinfo_field(&info, "flags").unwrap_or_default();
        let virtualization = read("/sys/hypervisor/type")
            .or_else(|| {
                read("/sys/class/dmi/id/sys_vendor").filter(|v| {
                    [
                        "QEMU",
                        "KVM",
                        "VMware",
                        "Xen",
                        "Microsoft",
                        "Amazon",
                        "Google",
                        "Firecracker",
                    ]
                    .iter()
                    .any(|k| v.contains(k))
                })
            })
            .unwrap_or_else(|| {
                if flags.split_whitespace().any(|f| f == "hypervisor") {
                    "hypervisor (cpuinfo flag; vendor unknown)".into()
                } else if flags.is_empty() {
                    "unknown".into()
                } else {
                    "none".into()
                }
            });
        let mut mitigations = BTreeMap::new();
        if let Ok(rd) = fs::read_dir("/sys/devices/system/cpu/vulnerabilities") {
            for e in rd.filter_map(|e| e.ok()) {
                if let Some(v) = read(&e.path().to_string_lossy()) {
                    mitigations.insert(e.file_name().to_string_lossy().into_owned(), v);
                }
            }
        }
        let kernel_version = read("/proc/sys/kernel/osrelease").unwrap_or_default();
        let kernel = format!(
            "{} {} {}",
            read("/proc/sys/kernel/ostype").unwrap_or_else(|| "Linux".into()),
            kernel_version,
            read("/proc/sys/kernel/version").unwrap_or_default()
        );
        let membarrier_query = match crate::sys::membarrier::query() {
            Ok(m) => format!("{m:#x}"),
            Err(e) => e.name(),
        };
        Fingerprint {
            hostname: read("/proc/sys/kernel/hostname").unwrap_or_default(),
            arch: std::env::consts::ARCH.into(),
            kernel,
            kernel_version,
            cpu_model,
            cpus_online: online,
            cpus_allowed: allowed,
            smt_active: read("/sys/devices/system/cpu/smt/active").map(|s| s == "1"),
            threads_per_core,
            numa_nodes,
            virtualization,
            frequency_governor: read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
            mitigations,
            kobench_version: env!("CARGO_PKG_VERSION").into(),
            rustc: rustc.into(),
            membarrier_query,
            euid: crate::sys::process::euid(),
        }
    }

    /// A short machine label for tables and legends: `hostname (cpu model, N CPUs)`.
    pub fn label(&self) -> String {
        format!(
            "{} ({}, {} CPUs)",
            self.hostname, self.cpu_model, self.cpus_online
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_this_machine() {
        let f = Fingerprint::collect("rustc test");
        assert!(f.cpus_online >= 1);
        assert!(f.cpus_allowed >= 1 && f.cpus_allowed <= f.cpus_online.max(f.cpus_allowed));
        assert!(!f.kernel_version.is_empty());
        assert_eq!(f.arch, std::env::consts::ARCH);
        assert!(f.membarrier_query.starts_with("0x") || f.membarrier_query.starts_with('E'));
    }
}
