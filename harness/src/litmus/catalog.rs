//! The tests kobench knows: SB and MP with every barrier kind.
//!
//! Thread 0 is the slow side, thread 1 the fast side. The membarrier variants are the
//! kernel's own scenarios (comment above `sys_membarrier` in `kernel/sched/membarrier.c`):
//! A (SB): `x=1; membarrier(); r0=y` against `y=1; barrier(); r0=x`, forbidden
//! `0:r0=0 /\ 1:r0=0`; B (MP): `r0=y; membarrier(); r1=x` against `x=1; barrier(); y=1`,
//! forbidden `0:r0=1 /\ 0:r1=0`.
//!
//! Positive controls. SB without a fence is allowed on every architecture, x86-TSO
//! included (the store waits in the store buffer while the load goes ahead), so
//! `SB+compilers` (the membarrier variants with the barrier replaced by a compiler barrier)
//! must be Sometimes everywhere. MP without fences is *forbidden* by x86-TSO (loads are not
//! reordered with loads, stores not with stores), so on x86_64 MP cannot serve as its own
//! control: `MP+swapped` runs the reader's loads in the other order (what a compiler may
//! emit when there is no barrier), which makes the condition reachable under any model and
//! proves the engine overlaps the reader's window with the writer's. On weaker
//! architectures `MP+compilers` is the control.

use super::test::{Barrier, Expect, Op, Role, Test};
use crate::sys::membarrier::Cmd;

const SB_LOCS: &[&str] = &["x", "y"];

fn st(loc: usize) -> Op {
    Op::Store { loc, value: 1 }
}

fn ld(loc: usize, reg: usize) -> Op {
    Op::Load { loc, reg }
}

/// `mb-private-expedited` for PRIVATE_EXPEDITED, etc.
pub fn cmd_slug(c: Cmd) -> String {
    format!("mb-{}", c.name().to_ascii_lowercase().replace('_', "-"))
}

struct Spec {
    suffix: String,
    slow: Barrier,
    fast: Barrier,
    expect: (Expect, Expect),
    role: Role,
    /// Whether a positive control judges this test (every test but the control itself).
    control: bool,
    test_only: bool,
    note: &'static str,
}

fn spec(
    suffix: &str,
    slow: Barrier,
    fast: Barrier,
    expect: (Expect, Expect),
    role: Role,
    note: &'static str,
) -> Spec {
    Spec {
        suffix: suffix.into(),
        slow,
        fast,
        expect,
        role,
        control: true,
        test_only: false,
        note,
    }
}

fn sb(s: Spec, xproc: bool) -> Test {
    let x = if xproc { "+xproc" } else { "" };
    let ctl = format!("SB{x}+compilers");
    let name = format!("SB{x}{}", s.suffix);
    let control = s.control && name != ctl;
    Test {
        name,
        family: "SB",
        locs: SB_LOCS,
        threads: vec![
            vec![st(0), Op::Barrier(s.slow), ld(1, 0)],
            vec![st(1), Op::Barrier(s.fast), ld(0, 0)],
        ],
        condition: vec![(0, 0, 0), (1, 0, 0)],
        expect_x86_64: s.expect.0,
        expect_weak: s.expect.1,
        role: s.role,
        control_x86_64: control.then(|| ctl.clone()),
        control_weak: control.then_some(ctl),
        cross_process: xproc,
        test_only: s.test_only,
        note: s.note,
    }
}

fn mp(s: Spec, xproc: bool, swapped: bool) -> Test {
    let x = if xproc { "+xproc" } else { "" };
    let reader = if swapped {
        vec![ld(0, 1), Op::Barrier(s.slow), ld(1, 0)]
    } else {
        vec![ld(1, 0), Op::Barrier(s.slow), ld(0, 1)]
    };
    let name = format!("MP{x}{}", s.suffix);
    let (ctl_x86, ctl_weak) = (format!("MP{x}+swapped"), format!("MP{x}+compilers"));
    Test {
        family: "MP",
        locs: SB_LOCS,
        threads: vec![reader, vec![st(0), Op::Barrier(s.fast), st(1)]],
        condition: vec![(0, 0, 1), (0, 1, 0)],
        expect_x86_64: s.expect.0,
        expect_weak: s.expect.1,
        role: s.role,
        control_x86_64: (s.control && name != ctl_x86).then_some(ctl_x86),
        control_weak: (s.control && name != ctl_weak).then_some(ctl_weak),
        name,
        cross_process: xproc,
        test_only: s.test_only,
        note: s.note,
    }
}

use Expect::{Allowed, Never, Sometimes};

/// Every test, in the order the workload runs them (controls first).
pub fn catalog() -> Vec<Test> {
    let mut v = Vec::new();
    let private = [
        Cmd::PrivateExpedited,
        Cmd::PrivateExpeditedSyncCore,
        Cmd::PrivateExpeditedRseq,
        Cmd::GlobalExpedited,
        Cmd::Global,
    ];
    let ctl = |suffix: &str, slow, fast, note| {
        spec(
            suffix,
            slow,
            fast,
            (Sometimes, Sometimes),
            Role::Control,
            note,
        )
    };
    // --- SB, in one process.
    v.push(sb(
        ctl(
            "",
            Barrier::None,
            Barrier::None,
            "SB with no barrier: allowed on every architecture, x86-TSO included",
        ),
        false,
    ));
    v.push(sb(
        ctl(
            "+compilers",
            Barrier::Compiler,
            Barrier::Compiler,
            "positive control of the SB membarrier variants: same code, compiler barriers only",
        ),
        false,
    ));
    v.push(sb(
        spec(
            "+fences",
            Barrier::Fence,
            Barrier::Fence,
            (Never, Never),
            Role::Sanity,
            "SB+mfences: a full fence on both sides forbids it",
        ),
        false,
    ));
    v.push(sb(spec("+fence+compiler", Barrier::Fence, Barrier::Compiler, (Allowed, Allowed), Role::Info, "a fence on one side only does not forbid it: why the slow side needs membarrier, not a fence"), false));
    for c in private {
        v.push(sb(
            spec(
                &format!("+{}", cmd_slug(c)),
                Barrier::Membarrier(c),
                Barrier::Compiler,
                (Never, Never),
                Role::Rule("MB-ORDER-PRIVATE"),
                "scenario A of kernel/sched/membarrier.c: fast side compiler barrier only",
            ),
            false,
        ));
    }
    let mut mutation = spec("+mutation", Barrier::Omitted(Cmd::PrivateExpedited), Barrier::Compiler, (Never, Never), Role::Mutation("MB-ORDER-PRIVATE"), "test-only: the slow side's membarrier is omitted while Never is still expected; must come out fail");
    mutation.test_only = true;
    v.push(sb(mutation, false));
    // --- MP, in one process.
    v.push(mp(
        spec(
            "",
            Barrier::None,
            Barrier::None,
            (Never, Sometimes),
            Role::Sanity,
            "MP without fences: forbidden by x86-TSO, allowed on weaker models",
        ),
        false,
        false,
    ));
    v.push(mp(spec("+compilers", Barrier::Compiler, Barrier::Compiler, (Never, Sometimes), Role::Control, "positive control of the MP membarrier variants on weak architectures; forbidden by x86-TSO"), false, false));
    v.push(mp(ctl("+swapped", Barrier::Compiler, Barrier::Compiler, "x86 positive control of MP: the reader's loads in the order a compiler may emit without a barrier (r1=x before r0=y); reachable under any model"), false, true));
    v.push(mp(
        spec(
            "+fences",
            Barrier::Fence,
            Barrier::Fence,
            (Never, Never),
            Role::Sanity,
            "MP with full fences: forbidden everywhere",
        ),
        false,
        false,
    ));
    for c in private {
        v.push(mp(
            spec(
                &format!("+{}", cmd_slug(c)),
                Barrier::Membarrier(c),
                Barrier::Compiler,
                (Never, Never),
                Role::Rule("MB-ORDER-PRIVATE"),
                "scenario B of kernel/sched/membarrier.c: fast side compiler barrier only",
            ),
            false,
            false,
        ));
    }
    // --- Across processes: the fast side in a helper process registered for GLOBAL_EXPEDITED.
    v.push(sb(
        ctl(
            "+compilers",
            Barrier::Compiler,
            Barrier::Compiler,
            "positive control across processes",
        ),
        true,
    ));
    v.push(mp(
        ctl(
            "+swapped",
            Barrier::Compiler,
            Barrier::Compiler,
            "x86 positive control of MP across processes (reader's loads swapped)",
        ),
        true,
        true,
    ));
    v.push(mp(
        spec(
            "+compilers",
            Barrier::Compiler,
            Barrier::Compiler,
            (Never, Sometimes),
            Role::Control,
            "weak-architecture positive control of MP across processes; forbidden by x86-TSO",
        ),
        true,
        false,
    ));
    for c in [Cmd::GlobalExpedited, Cmd::Global] {
        v.push(sb(
            spec(
                &format!("+{}", cmd_slug(c)),
                Barrier::Membarrier(c),
                Barrier::Compiler,
                (Never, Never),
                Role::Rule("MB-ORDER-GLOBAL"),
                "scenario A across processes",
            ),
            true,
        ));
        v.push(mp(
            spec(
                &format!("+{}", cmd_slug(c)),
                Barrier::Membarrier(c),
                Barrier::Compiler,
                (Never, Never),
                Role::Rule("MB-ORDER-GLOBAL"),
                "scenario B across processes",
            ),
            true,
            false,
        ));
    }
    v.push(sb(
        spec(
            "+mb-private-expedited",
            Barrier::Membarrier(Cmd::PrivateExpedited),
            Barrier::Compiler,
            (Allowed, Allowed),
            Role::Info,
            "PRIVATE_EXPEDITED promises nothing about other processes: information only",
        ),
        true,
    ));
    v.push(mp(
        spec(
            "+mb-private-expedited",
            Barrier::Membarrier(Cmd::PrivateExpedited),
            Barrier::Compiler,
            (Allowed, Allowed),
            Role::Info,
            "PRIVATE_EXPEDITED promises nothing about other processes: information only",
        ),
        true,
        false,
    ));
    v
}

/// The test named `name` (case-insensitive).
pub fn find(name: &str) -> Option<Test> {
    catalog()
        .into_iter()
        .find(|t| t.name.eq_ignore_ascii_case(name.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_controls_exist() {
        let all = catalog();
        let mut names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for t in &all {
            for c in [&t.control_x86_64, &t.control_weak].into_iter().flatten() {
                let ctl = find(c).unwrap_or_else(|| panic!("{}: control {c} missing", t.name));
                assert_eq!(ctl.cross_process, t.cross_process, "{}", t.name);
                assert_eq!(ctl.family, t.family);
            }
        }
    }

    #[test]
    fn every_membarrier_command_has_sb_and_mp_in_process() {
        for c in Cmd::BARRIERS {
            for fam in ["SB", "MP"] {
                let t = find(&format!("{fam}+{}", cmd_slug(c))).unwrap();
                assert_eq!(t.slow_barrier(), Barrier::Membarrier(c));
                assert_eq!(t.threads[1][1], Op::Barrier(Barrier::Compiler));
                assert_eq!(t.expect(), Expect::Never);
                assert_eq!(t.role, Role::Rule("MB-ORDER-PRIVATE"));
            }
        }
    }

    #[test]
    fn sb_and_mp_read_as_litmus() {
        let sb = find("SB+mb-global").unwrap();
        assert_eq!(sb.code(0), "x=1; membarrier(GLOBAL); r0=y");
        assert_eq!(sb.code(1), "y=1; compiler barrier; r0=x");
        assert_eq!(sb.condition_text(), "0:r0=0 /\\ 1:r0=0");
        assert_eq!(sb.state_regs(), vec![(0, 0), (1, 0)]);
        let mp = find("mp+swapped").unwrap();
        assert_eq!(mp.code(0), "r1=x; compiler barrier; r0=y");
        assert_eq!(mp.state_regs(), vec![(0, 0), (0, 1)]);
        assert_eq!(find("MP").unwrap().expect_x86_64, Expect::Never);
        assert_eq!(
            find("MP+mb-global").unwrap().control_x86_64.as_deref(),
            Some("MP+swapped")
        );
        assert_eq!(
            find("MP+mb-global").unwrap().control_weak.as_deref(),
            Some("MP+compilers")
        );
    }
}
