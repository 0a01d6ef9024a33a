//! The target process: `kobench __helper pvm-target`, a single-threaded re-executed
//! kobench that maps buffers on command and reports their addresses. Commands and
//! replies are JSON lines over its stdin/stdout; it dies with the harness
//! (PR_SET_PDEATHSIG via [`Helper`], and killed and reaped when the [`Target`] drops).

use super::pattern::{self, Expect};
use crate::helpers::reply;
use kobench_harness::child::Helper;
use kobench_harness::sys::mem::{self, Mapping, Prot};
use kobench_harness::sys::process as proc_;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

/// 2 MiB: the x86-64 / arm64 (4 KiB granule) PMD size, i.e. a THP or default hugetlb page.
pub const HUGE: usize = 2 << 20;

/// What backs a buffer.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Pages {
    /// 4 KiB pages (THP not asked for).
    Small,
    /// Transparent huge pages (2 MiB aligned, MADV_HUGEPAGE).
    Thp,
    /// hugetlb 2 MiB pages (MAP_HUGETLB).
    Hugetlb,
}

impl Pages {
    pub fn name(self) -> &'static str {
        match self {
            Pages::Small => "4k",
            Pages::Thp => "thp",
            Pages::Hugetlb => "hugetlb",
        }
    }
}

/// One command to the target.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Cmd {
    /// Map `len` bytes; fill with the pattern `seed` (or leave untouched); optionally make
    /// it read-only, and leave one unmapped page right after it.
    Map {
        id: u32,
        len: usize,
        pages: Pages,
        seed: Option<u64>,
        read_only: bool,
        hole_after: bool,
    },
    /// Fill `[0, len)` of a buffer with the pattern `seed`.
    Fill {
        id: u32,
        len: usize,
        seed: u64,
    },
    /// MADV_DONTNEED `[0, len)`: the pages become untouched again.
    Drop {
        id: u32,
        len: usize,
    },
    /// Read `[0, len)` on the target's CPU, so the pages are resident and cache-warm there.
    Warm {
        id: u32,
        len: usize,
    },
    /// Check `[0, len)` against `expect` in the target itself (independent of readv).
    Check {
        id: u32,
        len: usize,
        seed: Option<u64>,
    },
    /// Test hook: flip (xor 0xff) the byte at `addr`, inside a writable buffer.
    Flip {
        addr: usize,
    },
    /// Fork a child that exits at once and stays a zombie until `reap`.
    Zombie,
    Reap {
        pid: i32,
    },
    Unmap {
        id: u32,
    },
}

struct Buf {
    map: Mapping,
    off: usize,
    len: usize,
}

impl Buf {
    fn addr(&self) -> usize {
        self.map.addr() + self.off
    }
}

fn thp_kib_at(addr: usize) -> Option<u64> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut inside = false;
    for l in smaps.lines() {
        if let Some((range, _)) = l.split_once(' ') {
            if let Some((a, b)) = range.split_once('-') {
                if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                {
                    inside = a <= addr && addr < b;
                    continue;
                }
            }
        }
        if inside {
            if let Some(v) = l.strip_prefix("AnonHugePages:") {
                return v.trim().trim_end_matches("kB").trim().parse().ok();
            }
        }
    }
    None
}

fn map(
    bufs: &mut BTreeMap<u32, Buf>,
    id: u32,
    len: usize,
    pages: Pages,
    seed: Option<u64>,
    read_only: bool,
    hole_after: bool,
) -> Result<Value, String> {
    let page = mem::page_size();
    let (map, off) = match pages {
        Pages::Small => {
            let total = len.div_ceil(page) * page + if hole_after { page } else { 0 };
            (
                Mapping::anon(total, Prot::ReadWrite, mem::MAP_NORESERVE)
                    .map_err(|e| format!("mmap {total}: {e}"))?,
                0,
            )
        }
        Pages::Thp => {
            let m = Mapping::anon(
                len.div_ceil(HUGE) * HUGE + HUGE,
                Prot::ReadWrite,
                mem::MAP_NORESERVE,
            )
            .map_err(|e| format!("mmap: {e}"))?;
            let off = (HUGE - m.addr() % HUGE) % HUGE;
            m.advise(off, len.div_ceil(HUGE) * HUGE, mem::MADV_HUGEPAGE)
                .map_err(|e| format!("madvise(MADV_HUGEPAGE): {e}"))?;
            (m, off)
        }
        Pages::Hugetlb => (
            Mapping::anon(len.div_ceil(HUGE) * HUGE, Prot::ReadWrite, mem::MAP_HUGETLB).map_err(
                |e| {
                    format!(
                        "mmap(MAP_HUGETLB): {e} (vm.nr_hugepages = {})",
                        std::fs::read_to_string("/proc/sys/vm/nr_hugepages")
                            .unwrap_or_default()
                            .trim()
                    )
                },
            )?,
            0,
        ),
    };
    let mut b = Buf { map, off, len };
    if let Some(s) = seed {
        let addr = b.addr();
        pattern::fill(
            &mut writable(&mut b.map)?[off..off + len],
            addr,
            Expect::Pattern(s),
        );
    }
    let mut hole = None;
    if hole_after {
        let keep = len.div_ceil(page) * page;
        b.map
            .truncate(keep)
            .map_err(|e| format!("munmap hole: {e}"))?;
        hole = Some(b.addr() + keep);
    }
    if read_only {
        b.map
            .protect(Prot::Read)
            .map_err(|e| format!("mprotect: {e}"))?;
    }
    let addr = b.addr();
    let thp_kib = if seed.is_some() {
        thp_kib_at(addr)
    } else {
        None
    };
    bufs.insert(id, b);
    Ok(json!({"id": id, "addr": addr, "len": len, "hole": hole, "thp_kib": thp_kib}))
}

fn writable(m: &mut Mapping) -> Result<&mut [u8], String> {
    m.slice_mut()
        .ok_or_else(|| "buffer is not writable".to_string())
}

fn readable(m: &Mapping) -> Result<&[u8], String> {
    m.slice()
        .ok_or_else(|| "buffer is not readable".to_string())
}

fn handle(
    bufs: &mut BTreeMap<u32, Buf>,
    zombies: &mut Vec<i32>,
    cmd: Cmd,
) -> Result<Value, String> {
    let get = |bufs: &BTreeMap<u32, Buf>, id: u32, len: usize| -> Result<(usize, usize), String> {
        let b = bufs.get(&id).ok_or_else(|| format!("no buffer {id}"))?;
        if len > b.len {
            return Err(format!("buffer {id} has {} bytes, not {len}", b.len));
        }
        Ok((b.off, b.addr()))
    };
    match cmd {
        Cmd::Map {
            id,
            len,
            pages,
            seed,
            read_only,
            hole_after,
        } => map(bufs, id, len, pages, seed, read_only, hole_after),
        Cmd::Fill { id, len, seed } => {
            let (off, addr) = get(bufs, id, len)?;
            let m = &mut bufs.get_mut(&id).expect("checked").map;
            pattern::fill(
                &mut writable(m)?[off..off + len],
                addr,
                Expect::Pattern(seed),
            );
            Ok(json!({"ok": true}))
        }
        Cmd::Drop { id, len } => {
            let (off, _) = get(bufs, id, len)?;
            bufs[&id]
                .map
                .advise(
                    off,
                    len.div_ceil(mem::page_size()) * mem::page_size(),
                    mem::MADV_DONTNEED,
                )
                .map_err(|e| format!("madvise(MADV_DONTNEED): {e}"))?;
            Ok(json!({"ok": true}))
        }
        Cmd::Warm { id, len } => {
            let (off, _) = get(bufs, id, len)?;
            let sum = readable(&bufs[&id].map)?[off..off + len]
                .iter()
                .step_by(64)
                .fold(0u64, |a, &b| a.wrapping_add(b as u64));
            Ok(json!({"ok": true, "cpu": proc_::current_cpu().ok(), "sum": sum}))
        }
        Cmd::Check { id, len, seed } => {
            let (off, addr) = get(bufs, id, len)?;
            let e = seed.map(Expect::Pattern).unwrap_or(Expect::Zero);
            let bad = pattern::first_mismatch(&readable(&bufs[&id].map)?[off..off + len], addr, e);
            Ok(json!({"mismatch": bad}))
        }
        Cmd::Flip { addr } => {
            let b = bufs
                .values_mut()
                .find(|b| b.addr() <= addr && addr < b.addr() + b.len)
                .ok_or_else(|| format!("{addr:#x} is in no buffer"))?;
            let i = addr - b.map.addr();
            let bytes = writable(&mut b.map)?;
            bytes[i] ^= 0xff;
            Ok(json!({"flipped": addr, "now": bytes[i]}))
        }
        Cmd::Zombie => match proc_::fork_single_threaded() {
            Err(e) => Err(format!("fork: {e}")),
            Ok(proc_::Fork::Child) => proc_::exit_now(0),
            Ok(proc_::Fork::Parent { child }) => {
                zombies.push(child);
                // Wait (bounded) until the child has exited and is a zombie.
                for _ in 0..5000 {
                    let st =
                        std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
                    if st
                        .rsplit_once(')')
                        .map(|(_, r)| r.trim_start().starts_with('Z'))
                        .unwrap_or(false)
                    {
                        return Ok(json!({"pid": child}));
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(format!("child {child} did not become a zombie within 5 s"))
            }
        },
        Cmd::Reap { pid } => {
            zombies.retain(|&z| z != pid);
            proc_::wait_pid_timeout(pid, Duration::from_secs(5))
                .map_err(|e| format!("waitpid: {e}"))?;
            Ok(json!({"ok": true}))
        }
        Cmd::Unmap { id } => {
            bufs.remove(&id);
            Ok(json!({"ok": true}))
        }
    }
}

/// `__helper pvm-target`: serves [`Cmd`]s, one JSON reply line each, until stdin closes.
pub fn helper_target(_args: &[String]) -> i32 {
    let mut bufs = BTreeMap::new();
    let mut zombies = Vec::new();
    reply(&json!({"ready": proc_::getpid()}));
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let r = match serde_json::from_str::<Cmd>(&line) {
            Ok(c) => handle(&mut bufs, &mut zombies, c),
            Err(e) => Err(format!("bad command {line:?}: {e}")),
        };
        match r {
            Ok(v) => reply(&v),
            Err(e) => reply(&json!({"error": e})),
        }
    }
    for z in zombies {
        let _ = proc_::wait_pid_timeout(z, Duration::from_secs(1));
    }
    0
}

/// A buffer in the target, as the harness sees it.
#[derive(Clone, Debug)]
pub struct Remote {
    pub id: u32,
    pub addr: usize,
    pub len: usize,
    pub pages: Pages,
    /// The unmapped page right after it, if asked for.
    pub hole: Option<usize>,
    /// AnonHugePages of its mapping, in KiB, right after filling.
    pub thp_kib: Option<u64>,
}

/// The harness's handle on a target process. Keep it in the thread that started it
/// (PDEATHSIG follows the spawning thread); dropping it kills and reaps the target.
pub struct Target {
    h: Helper,
    pid: i32,
    next_id: u32,
}

const TIMEOUT: Duration = Duration::from_secs(60);

impl Target {
    pub fn start(exe: &Path) -> anyhow::Result<Target> {
        let mut h = Helper::spawn(exe, "pvm-target", &[])?;
        let v: Value = h.recv(Duration::from_secs(30))?;
        let pid = v["ready"]
            .as_i64()
            .ok_or_else(|| anyhow::anyhow!("pvm-target: unexpected greeting {v}"))?
            as i32;
        anyhow::ensure!(
            pid == h.pid(),
            "pvm-target reports pid {pid}, spawned {}",
            h.pid()
        );
        Ok(Target { h, pid, next_id: 1 })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sends a command; an `{"error": ..}` reply becomes an error.
    pub fn req(&mut self, c: &Cmd) -> anyhow::Result<Value> {
        let v: Value = self.h.request(&serde_json::to_string(c)?, TIMEOUT)?;
        if let Some(e) = v.get("error") {
            anyhow::bail!("pvm-target: {}", e.as_str().unwrap_or_default());
        }
        Ok(v)
    }

    /// Maps a buffer (see [`Cmd::Map`]).
    pub fn map(
        &mut self,
        len: usize,
        pages: Pages,
        seed: Option<u64>,
        read_only: bool,
        hole_after: bool,
    ) -> anyhow::Result<Remote> {
        let id = self.next_id;
        self.next_id += 1;
        let v = self.req(&Cmd::Map {
            id,
            len,
            pages,
            seed,
            read_only,
            hole_after,
        })?;
        Ok(Remote {
            id,
            addr: v["addr"].as_u64().unwrap_or(0) as usize,
            len,
            pages,
            hole: v["hole"].as_u64().map(|x| x as usize),
            thp_kib: v["thp_kib"].as_u64(),
        })
    }

    /// Checks `[0, len)` of a buffer in the target: the first mismatching offset, if any.
    pub fn check(&mut self, r: &Remote, len: usize, e: Expect) -> anyhow::Result<Option<usize>> {
        let seed = match e {
            Expect::Zero => None,
            Expect::Pattern(s) => Some(s),
        };
        let v = self.req(&Cmd::Check {
            id: r.id,
            len,
            seed,
        })?;
        Ok(v["mismatch"].as_u64().map(|x| x as usize))
    }
}
