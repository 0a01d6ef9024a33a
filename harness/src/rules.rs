//! The rulebook: every rule ID of `shared/kobicha/RULES.md`, its text, and the workload
//! that checks it. Verdicts name rules by these IDs.

use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub family: &'static str,
    pub text: &'static str,
    /// What Linux must show for it.
    pub linux: &'static str,
    /// The workload whose verdicts name it.
    pub workload: &'static str,
}

macro_rules! rule {
    ($id:literal, $fam:literal, $wl:literal, $text:literal, $linux:literal) => {
        Rule {
            id: $id,
            family: $fam,
            workload: $wl,
            text: $text,
            linux: $linux,
        }
    };
}

pub const RULES: &[Rule] = &[
    rule!("MB-QUERY", "membarrier", "membarrier", "QUERY returns the set of supported commands; a command outside it, or an unknown command, is refused.", "QUERY returns a mask (bit 0 never set); unknown cmd (e.g. -1, 1<<10, 3) -> EINVAL."),
    rule!("MB-FLAGS", "membarrier", "membarrier", "flags must be 0, except FLAG_CPU with PRIVATE_EXPEDITED_RSEQ.", "any other flags -> EINVAL, checked before registration; RSEQ+FLAG_CPU with an offline, out-of-range or negative cpu_id -> 0."),
    rule!("MB-UNPRIV", "membarrier", "membarrier", "membarrier needs no privilege.", "every supported command succeeds in a process with no capabilities and a non-root uid."),
    rule!("MB-REG", "membarrier", "membarrier", "The expedited private commands need a per-process registration first, each its own.", "before registering -> EPERM; after -> 0; registering twice is fine; one registration does not enable another; shared by threads, inherited across fork, cleared by exec; GLOBAL_EXPEDITED may be sent unregistered."),
    rule!("MB-REG-COST", "membarrier", "membarrier", "Registration is a one-time setup cost.", "registration cost single-threaded vs after threads exist; per-call cost does not include it."),
    rule!("MB-COST-GLOBAL", "membarrier", "membarrier", "GLOBAL is slow and system-wide; GLOBAL_EXPEDITED is faster.", "latency ratio GLOBAL / GLOBAL_EXPEDITED > 1."),
    rule!("MB-ORDER-PRIVATE", "membarrier", "ordering", "After PRIVATE_EXPEDITED returns, every running thread of the caller's process is ordered with the caller's earlier writes.", "asymmetric SB and MP never show the forbidden outcome; the positive control shows it."),
    rule!("MB-ORDER-GLOBAL", "membarrier", "ordering", "GLOBAL orders against all threads of all processes; GLOBAL_EXPEDITED against threads of registered processes.", "the same tests across two processes over shared memory."),
    rule!("MB-SYNC-CORE", "membarrier", "jit", "After PRIVATE_EXPEDITED_SYNC_CORE returns, a thread that observes new code never runs the old code.", "JIT swap test: no stale generation after observing the new one; registration rule as MB-REG."),
    rule!("MB-RSEQ", "membarrier", "membarrier", "PRIVATE_EXPEDITED_RSEQ restarts in-flight rseq critical sections on the targeted CPUs.", "registration rule; where rseq is usable, a per-CPU critical section test shows the restart."),
    rule!("KCMP-EQ", "kcmp", "kcmp", "kcmp returns 0 exactly when both references denote the same kernel object.", "0 equal; otherwise 1 or 2, antisymmetric and consistent; 3 never returned."),
    rule!("KCMP-SHARE", "kcmp", "kcmp", "Sharing follows how the processes were made.", "threads share VM/FILES/FS/SIGHAND; CLONE_* children share that type; fork children do not."),
    rule!("KCMP-FILE", "kcmp", "kcmp", "FILE compares open files, not paths.", "dup'd and inherited fds -> 0; same path opened twice -> not 0."),
    rule!("KCMP-EPOLL", "kcmp", "kcmp", "EPOLL_TFD says whether a target fd sits in another process's epoll set.", "present -> 0; absent -> ENOENT; not epoll -> EINVAL; fd not open -> EBADF; bad slot -> EFAULT."),
    rule!("KCMP-ARGS", "kcmp", "kcmp", "Bad arguments are refused clearly.", "missing pid -> ESRCH first, then EPERM, then bad type -> EINVAL, bad fd -> EBADF."),
    rule!("KCMP-GATE", "kcmp", "gates", "kcmp needs PROCESS_QUERY_INFORMATION on both targets' SDs and PIP dominance over both.", "denied -> EPERM."),
    rule!("PVM-READ-GATE", "process_vm", "gates", "readv needs PROCESS_VM_READ on the target's SD and PIP dominance.", "denied -> EPERM."),
    rule!("PVM-WRITE-GATE", "process_vm", "gates", "writev needs PROCESS_VM_WRITE on the target's SD and PIP dominance.", "denied -> EPERM."),
    rule!("PVM-DATA", "process_vm", "process_vm", "What arrives is exactly what was there, in iovec order; the return value is the number of bytes moved.", "return = min(local total, remote total); scatter/gather across up to 1024 iovecs each side."),
    rule!("PVM-PARTIAL", "process_vm", "process_vm", "A transfer stops at the first fault and reports what it moved.", "bytes before the fault (page granular); nothing moved -> EFAULT; 0x7ffff000 per call; no write into read-only memory."),
    rule!("PVM-ARGS", "process_vm", "process_vm", "Bad arguments are refused clearly.", "flags -> EINVAL; >1024 iovecs -> EINVAL; negative length -> EINVAL; bad pointers -> EFAULT; missing pid, zombie, kernel thread -> ESRCH; zero bytes -> 0 before the pid is looked at."),
];

/// Looks a rule up by ID.
pub fn find(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_findable() {
        for (i, r) in RULES.iter().enumerate() {
            assert!(
                RULES[i + 1..].iter().all(|o| o.id != r.id),
                "{} twice",
                r.id
            );
            assert_eq!(find(r.id).unwrap().id, r.id);
        }
        assert_eq!(RULES.len(), 21);
        assert!(find("MB-NOPE").is_none());
    }
}
