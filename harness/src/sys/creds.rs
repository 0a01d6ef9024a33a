//! Credentials: capability sets (capget/capset), keep-caps, the bounding set, the
//! dumpable flag, Yama's ptracer declaration, and [`take`], which puts a forked root
//! child into a chosen uid, gid, capability sets and dumpable state.

use super::{check, Errno};

/// `CAP_KILL` (include/uapi/linux/capability.h).
pub const CAP_KILL: u32 = 5;
/// `CAP_NET_BIND_SERVICE`.
pub const CAP_NET_BIND_SERVICE: u32 = 10;
/// `CAP_SYS_PTRACE`: overrides both halves of the ptrace access check.
pub const CAP_SYS_PTRACE: u32 = 19;
/// `CAP_SYS_NICE`.
pub const CAP_SYS_NICE: u32 = 23;

/// The mask bit of capability `cap`.
pub const fn cap_bit(cap: u32) -> u64 {
    1u64 << cap
}

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit data words per set.
const CAP_V3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Copy, Clone, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// A process's three capability sets, as 64-bit masks.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

/// `capget(2)` of the calling thread.
pub fn capget() -> Result<CapSets, Errno> {
    let mut h = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let mut d = [CapData::default(); 2];
    // SAFETY: version 3 reads a header and writes two CapData, both valid for the call.
    check(unsafe { libc::syscall(libc::SYS_capget, &mut h as *mut CapHeader, d.as_mut_ptr()) })?;
    let join = |lo: u32, hi: u32| lo as u64 | (hi as u64) << 32;
    Ok(CapSets {
        effective: join(d[0].effective, d[1].effective),
        permitted: join(d[0].permitted, d[1].permitted),
        inheritable: join(d[0].inheritable, d[1].inheritable),
    })
}

/// `capset(2)` of the calling thread (new sets must obey capabilities(7)'s rules:
/// permitted only shrinks, effective within permitted).
pub fn capset(s: CapSets) -> Result<(), Errno> {
    let mut h = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let split = |m: u64| (m as u32, (m >> 32) as u32);
    let (e0, e1) = split(s.effective);
    let (p0, p1) = split(s.permitted);
    let (i0, i1) = split(s.inheritable);
    let d = [
        CapData {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        CapData {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    // SAFETY: version 3 reads a header and two CapData, both valid for the call.
    check(unsafe { libc::syscall(libc::SYS_capset, &mut h as *mut CapHeader, d.as_ptr()) })
        .map(|_| ())
}

/// `prctl(PR_SET_KEEPCAPS, on)`: keep the permitted set across a change away from uid 0.
pub fn set_keepcaps(on: bool) -> Result<(), Errno> {
    // SAFETY: integer arguments only.
    check(
        unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, on as libc::c_ulong, 0, 0, 0) } as libc::c_long,
    )
    .map(|_| ())
}

/// `prctl(PR_CAPBSET_DROP, cap)`: removes `cap` from the bounding set (needs CAP_SETPCAP).
pub fn bounding_drop(cap: u32) -> Result<(), Errno> {
    // SAFETY: integer arguments only.
    check(
        unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) }
            as libc::c_long,
    )
    .map(|_| ())
}

/// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)`.
pub fn ambient_clear() -> Result<(), Errno> {
    // SAFETY: integer arguments only.
    check(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    } as libc::c_long)
    .map(|_| ())
}

/// `prctl(PR_GET_DUMPABLE)`: 1 (SUID_DUMP_USER) when the process is dumpable.
pub fn get_dumpable() -> Result<i32, Errno> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) } as libc::c_long)
        .map(|v| v as i32)
}

/// `prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY)`: under Yama ptrace_scope 1, any process
/// that passes the other checks may attach. EINVAL when Yama is not built in.
pub fn set_ptracer_any() -> Result<(), Errno> {
    // SAFETY: integer arguments only; PR_SET_PTRACER_ANY is (unsigned long)-1.
    check(
        unsafe { libc::prctl(libc::PR_SET_PTRACER, libc::PR_SET_PTRACER_ANY, 0, 0, 0) }
            as libc::c_long,
    )
    .map(|_| ())
}

/// What a forked child should become.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Wanted {
    pub uid: u32,
    pub gid: u32,
    /// Permitted set (a subset of root's).
    pub permitted: u64,
    /// Effective set (a subset of `permitted`).
    pub effective: u64,
    pub dumpable: bool,
    /// Keep CAP_SYS_PTRACE in the bounding set; otherwise it is dropped from it first.
    pub keep_ptrace_bound: bool,
}

/// Takes the credentials `w` describes. Call as root in a single-threaded forked child:
/// ambient cleared, CAP_SYS_PTRACE dropped from the bounding set (unless kept), no
/// supplementary groups, `setresgid`/`setresuid` with keep-caps so the permitted set
/// survives, `capset` down to `w`'s sets, keep-caps off, then the dumpable flag (a uid
/// change resets it to `fs.suid_dumpable`, so it is set last). Returns the step that failed.
pub fn take(w: &Wanted) -> Result<(), (&'static str, Errno)> {
    ambient_clear().map_err(|e| ("PR_CAP_AMBIENT_CLEAR_ALL", e))?;
    if !w.keep_ptrace_bound {
        bounding_drop(CAP_SYS_PTRACE).map_err(|e| ("PR_CAPBSET_DROP CAP_SYS_PTRACE", e))?;
    }
    set_keepcaps(true).map_err(|e| ("PR_SET_KEEPCAPS 1", e))?;
    super::process::drop_to(w.uid, w.gid).map_err(|e| ("setgroups/setresgid/setresuid", e))?;
    capset(CapSets {
        effective: w.effective,
        permitted: w.permitted,
        inheritable: 0,
    })
    .map_err(|e| ("capset", e))?;
    set_keepcaps(false).map_err(|e| ("PR_SET_KEEPCAPS 0", e))?;
    super::process::set_dumpable(w.dumpable).map_err(|e| ("PR_SET_DUMPABLE", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capget_matches_proc_status() {
        let s = capget().unwrap();
        let prm = super::super::process::status_field(None, "CapPrm").unwrap();
        assert_eq!(s.permitted, u64::from_str_radix(&prm, 16).unwrap());
        let eff = super::super::process::cap_eff(None).unwrap();
        assert_eq!(s.effective, eff);
    }

    #[test]
    fn capset_to_the_current_sets_is_accepted() {
        // Setting what we already have is always allowed, root or not.
        let s = capget().unwrap();
        capset(s).unwrap();
        assert_eq!(capget().unwrap(), s);
        assert_eq!(get_dumpable().unwrap(), 1);
    }

    #[test]
    fn cap_bits() {
        assert_eq!(cap_bit(CAP_SYS_PTRACE), 0x80000);
        assert_eq!(cap_bit(CAP_KILL) | cap_bit(CAP_NET_BIND_SERVICE), 0x420);
    }
}
