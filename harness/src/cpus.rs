//! The CPU set: which CPUs this process may use, their SMT siblings and NUMA nodes, and
//! parsing of `--cpus` lists (`0,2-5`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fs;
use thiserror::Error;

/// Why a CPU list was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CpuListError {
    #[error("CPU list is empty")]
    Empty,
    #[error("'{0}' is not a CPU number or range (expected e.g. 0,2-5)")]
    Syntax(String),
    #[error("range '{0}' runs backwards (write low-high)")]
    Backwards(String),
    #[error("CPU {0} does not exist on this machine (present: {1})")]
    Absent(usize, String),
    #[error("CPU {0} is offline (online: {1})")]
    Offline(usize, String),
    #[error("CPU {0} is not in this process's affinity mask (allowed: {1})")]
    Disallowed(usize, String),
    #[error("cannot read this process's CPU affinity: {0}")]
    Affinity(String),
}

/// Parses a Linux CPU list (`0,2-5,7`) into sorted, distinct CPU numbers.
pub fn parse_list(s: &str) -> Result<Vec<usize>, CpuListError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(CpuListError::Empty);
    }
    let mut out = BTreeSet::new();
    for part in s.split(',') {
        let part = part.trim();
        let num = |t: &str| -> Result<usize, CpuListError> {
            let t = t.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) || t.len() > 6 {
                return Err(CpuListError::Syntax(part.to_string()));
            }
            t.parse()
                .map_err(|_| CpuListError::Syntax(part.to_string()))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(CpuListError::Backwards(part.to_string()));
                }
                out.extend(a..=b);
            }
            None => {
                out.insert(num(part)?);
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// Formats CPU numbers as a compact list (`0-3,6`).
pub fn format_list(cpus: &[usize]) -> String {
    let mut v: Vec<usize> = cpus.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let start = v[i];
        let mut end = start;
        while i + 1 < v.len() && v[i + 1] == end + 1 {
            i += 1;
            end = v[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// One usable CPU and where it sits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    pub id: usize,
    /// Hardware threads sharing this CPU's core (itself included).
    pub smt_siblings: Vec<usize>,
    /// NUMA node, when sysfs reports one.
    pub numa_node: Option<usize>,
    /// Physical package (socket).
    pub package: Option<usize>,
}

/// The CPUs a run uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuSet {
    pub cpus: Vec<Cpu>,
    /// Every CPU this process may use (affinity mask ∩ online), whether selected or not.
    pub allowed: Vec<usize>,
    pub online: Vec<usize>,
    pub present: Vec<usize>,
}

impl CpuSet {
    /// Discovers the allowed CPUs and selects them all, or the `--cpus` list.
    pub fn discover(select: Option<&str>) -> Result<CpuSet, CpuListError> {
        let sysfs = |p: &str| fs::read_to_string(format!("/sys/devices/system/cpu/{p}")).ok();
        let allowed_mask = crate::sys::process::allowed_cpus()
            .map_err(|e| CpuListError::Affinity(e.to_string()))?;
        let online = sysfs("online")
            .and_then(|s| parse_list(&s).ok())
            .unwrap_or_else(|| allowed_mask.clone());
        let present = sysfs("present")
            .and_then(|s| parse_list(&s).ok())
            .unwrap_or_else(|| online.clone());
        let allowed: Vec<usize> = allowed_mask
            .iter()
            .copied()
            .filter(|c| online.contains(c))
            .collect();
        let ids = match select {
            None => allowed.clone(),
            Some(list) => {
                let ids = parse_list(list)?;
                for &c in &ids {
                    if !present.contains(&c) {
                        return Err(CpuListError::Absent(c, format_list(&present)));
                    }
                    if !online.contains(&c) {
                        return Err(CpuListError::Offline(c, format_list(&online)));
                    }
                    if !allowed.contains(&c) {
                        return Err(CpuListError::Disallowed(c, format_list(&allowed)));
                    }
                }
                ids
            }
        };
        if ids.is_empty() {
            return Err(CpuListError::Empty);
        }
        let cpus = ids.into_iter().map(describe).collect();
        Ok(CpuSet {
            cpus,
            allowed,
            online,
            present,
        })
    }

    pub fn ids(&self) -> Vec<usize> {
        self.cpus.iter().map(|c| c.id).collect()
    }

    pub fn len(&self) -> usize {
        self.cpus.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cpus.is_empty()
    }

    /// A selected CPU that is an SMT sibling of `cpu`, if any.
    pub fn smt_sibling_of(&self, cpu: usize) -> Option<usize> {
        let c = self.cpus.iter().find(|c| c.id == cpu)?;
        self.cpus
            .iter()
            .find(|o| o.id != cpu && c.smt_siblings.contains(&o.id))
            .map(|o| o.id)
    }

    /// A selected CPU on another NUMA node than `cpu`, if any.
    pub fn other_node_than(&self, cpu: usize) -> Option<usize> {
        let node = self.cpus.iter().find(|c| c.id == cpu)?.numa_node?;
        self.cpus
            .iter()
            .find(|o| o.numa_node.is_some_and(|n| n != node))
            .map(|o| o.id)
    }

    /// A selected CPU that shares neither core nor (where known) node with `cpu`.
    pub fn distinct_core_from(&self, cpu: usize) -> Option<usize> {
        let c = self.cpus.iter().find(|c| c.id == cpu)?;
        self.cpus
            .iter()
            .find(|o| o.id != cpu && !c.smt_siblings.contains(&o.id))
            .map(|o| o.id)
    }
}

fn describe(id: usize) -> Cpu {
    let base = format!("/sys/devices/system/cpu/cpu{id}");
    let smt_siblings = fs::read_to_string(format!("{base}/topology/thread_siblings_list"))
        .ok()
        .and_then(|s| parse_list(&s).ok())
        .unwrap_or_else(|| vec![id]);
    let package = fs::read_to_string(format!("{base}/topology/physical_package_id"))
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|v| usize::try_from(v).ok());
    let numa_node = fs::read_dir(&base).ok().and_then(|rd| {
        rd.filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_prefix("node"))
                    .and_then(|n| n.parse().ok())
            })
            .next()
    });
    Cpu {
        id,
        smt_siblings,
        numa_node,
        package,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists() {
        assert_eq!(parse_list("0").unwrap(), vec![0]);
        assert_eq!(parse_list("0,2-5").unwrap(), vec![0, 2, 3, 4, 5]);
        assert_eq!(parse_list(" 3, 1 ,1-2 ").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_list("7-7").unwrap(), vec![7]);
    }

    #[test]
    fn rejects_bad_lists() {
        assert_eq!(parse_list(""), Err(CpuListError::Empty));
        assert_eq!(parse_list("a"), Err(CpuListError::Syntax("a".into())));
        assert_eq!(
            parse_list("3-1"),
            Err(CpuListError::Backwards("3-1".into()))
        );
        assert_eq!(parse_list("1,"), Err(CpuListError::Syntax("".into())));
        assert_eq!(parse_list("-1"), Err(CpuListError::Syntax("-1".into())));
        assert_eq!(parse_list("1-"), Err(CpuListError::Syntax("1-".into())));
        assert_eq!(
            parse_list("99999999"),
            Err(CpuListError::Syntax("99999999".into()))
        );
        assert_eq!(
            parse_list("1-2-3"),
            Err(CpuListError::Syntax("1-2-3".into()))
        );
    }

    #[test]
    fn formats_lists() {
        assert_eq!(format_list(&[0, 1, 2, 3, 6]), "0-3,6");
        assert_eq!(format_list(&[5]), "5");
        assert_eq!(format_list(&[3, 1, 2, 9, 10]), "1-3,9-10");
    }

    #[test]
    fn discovery_and_errors_name_the_cpu() {
        let all = CpuSet::discover(None).unwrap();
        assert!(!all.is_empty());
        assert!(all.ids().iter().all(|c| all.allowed.contains(c)));
        let first = all.ids()[0];
        let one = CpuSet::discover(Some(&first.to_string())).unwrap();
        assert_eq!(one.ids(), vec![first]);
        match CpuSet::discover(Some("4095")) {
            Err(CpuListError::Absent(4095, _))
            | Err(CpuListError::Offline(4095, _))
            | Err(CpuListError::Disallowed(4095, _)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}
