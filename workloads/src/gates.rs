//! gates: the Kobicha access gates (KCMP-GATE, PVM-READ-GATE, PVM-WRITE-GATE), checked
//! scenario by scenario against the running kernel, and what a gate costs.
//!
//! Design note. Each [`Scenario`] is stated in Kobicha terms (the target's SD, the PIP
//! levels) and decided by the pure model in `kobench_harness::gates`. Its Linux
//! realisation (RULES.md, last section) is a set of credentials per process: same or
//! different uid/gid and the dumpable flag for the SD, nested permitted capability sets
//! C_0 ⊂ C_1 ⊂ C_2 for the PIP levels; callers never hold CAP_SYS_PTRACE (it is even
//! dropped from their bounding set), except in the info rows that show its override.
//!
//! The harness never forks. One single-threaded root helper (`__helper gates`) takes one
//! scenario per request line, forks the targets and the caller, each of which takes its
//! credentials with `sys::creds::take`, re-arms PDEATHSIG (a credential change clears it)
//! and reports ready. The helper verifies every process's credentials from
//! `/proc/PID/status` (Uid, Gid, Groups, CapInh/Prm/Eff/Bnd/Amb) and its dumpable flag
//! from the owner of that file (root when not dumpable) and from the process's own
//! `PR_GET_DUMPABLE` before it tells the caller to
//! make the call; a mismatch is an error with the reason, never a pass. Then it kills and
//! reaps every process of the scenario. Not root: every realised scenario is `skip`.
//!
//! Yama: kcmp asks for ptrace READ access, process_vm for ATTACH, and Yama restricts only
//! ATTACH. With ptrace_scope 1 each target declares `PR_SET_PTRACER_ANY` (so the relation
//! rule is out of the way and only the gate remains); with 2 or 3 an allowed process_vm
//! call cannot be realised and those rows say `skip`.

use crate::context::Context;
use crate::helpers::reply;
use crate::{Descriptor, Workload};
use kobench_harness::child::Helper;
use kobench_harness::gates::{
    self as model, Decision, Dominance, Entry, Operation, PipLevel, Rights, SecurityDescriptor,
    Target, Token, Trustee, Which,
};
use kobench_harness::sample::{sample, Budget};
use kobench_harness::schema::{Measurement, Verdict};
use kobench_harness::stats::Summary;
use kobench_harness::sys::creds::{
    self, cap_bit, Wanted, CAP_KILL, CAP_NET_BIND_SERVICE, CAP_SYS_NICE, CAP_SYS_PTRACE,
};
use kobench_harness::sys::kcmp::{kcmp, KcmpType};
use kobench_harness::sys::process::{self as proc_, Fork};
use kobench_harness::sys::pvm::{readv, writev, RemoteIov};
use kobench_harness::sys::Errno;
use kobench_harness::timer::Clock;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, IoSlice, IoSliceMut, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::time::Duration;

pub struct Gates;

/// The caller's uid and gid; a second uid and gid for "different" (no account needed).
pub const UID_A: u32 = 61001;
pub const UID_B: u32 = 61002;
pub const GID_A: u32 = 61001;
pub const GID_B: u32 = 61002;

const HELPER_TIMEOUT: Duration = Duration::from_secs(20);
const KID_TIMEOUT: Duration = Duration::from_secs(10);
/// What a target holds and writev writes (8 bytes each side).
const TARGET_FILL: u8 = 0xA5;
const WRITE_PATTERN: [u8; 8] = *b"kobench!";

impl Workload for Gates {
    fn descriptor(&self) -> Descriptor {
        Descriptor {
            name: "gates",
            summary: "Kobicha SD + PIP access gates of kcmp and process_vm, model vs kernel, as a scenario matrix; cost of allowed vs denied calls",
            exercises: &["kcmp(2) KCMP_VM", "process_vm_readv(2)", "process_vm_writev(2)", "setresuid/setresgid/capset/PR_SET_DUMPABLE in forked helpers"],
            rules: &["KCMP-GATE", "PVM-READ-GATE", "PVM-WRITE-GATE"],
            verifies: true,
            unavailable_when: "never; without root every realised scenario is skip (credentials cannot be chosen)",
        }
    }

    fn run(&self, ctx: &Context) -> anyhow::Result<()> {
        let env = GateEnv::probe();
        ctx.out.data("yama_ptrace_scope", json!(env.yama_text()));
        ctx.out.data("euid", json!(proc_::euid()));
        ctx.out.verdict(
            Verdict::info("KCMP-GATE", "Yama ptrace_scope", env.yama_text())
                .with_note(env.yama_note()),
        );
        if let Some(msg) = env.not_root_message() {
            ctx.out.progress(&msg);
        }
        let scenarios = scenarios();
        let observations = observe(ctx, &scenarios, &env);
        let rows: Vec<Row> = scenarios
            .iter()
            .zip(&observations)
            .map(|(s, o)| evaluate(s, o, Dominance::Normal, &env))
            .collect();
        ctx.out.verdicts(rows.iter().map(|r| r.verdict.clone()));
        ctx.out.data("matrix", matrix_table(&rows));
        for m in cost_measurements(&scenarios, &observations) {
            ctx.out.measurement(m);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios: Kobicha terms, the model's decision, the Linux realisation.

/// The operations of the matrix. `KcmpT1` is `kcmp(target1, self)`, `KcmpT2` is
/// `kcmp(self, target2)`: the other reference is the caller's own process.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Op {
    KcmpT1,
    KcmpT2,
    KcmpBoth,
    Readv,
    Writev,
}

impl Op {
    pub const fn name(self) -> &'static str {
        match self {
            Op::KcmpT1 => "kcmp-t1",
            Op::KcmpT2 => "kcmp-t2",
            Op::KcmpBoth => "kcmp-both",
            Op::Readv => "readv",
            Op::Writev => "writev",
        }
    }

    pub const fn operation(self) -> Operation {
        match self {
            Op::KcmpT1 | Op::KcmpT2 | Op::KcmpBoth => Operation::Kcmp,
            Op::Readv => Operation::Readv,
            Op::Writev => Operation::Writev,
        }
    }

    pub const fn is_pvm(self) -> bool {
        matches!(self, Op::Readv | Op::Writev)
    }

    fn allowed_text(self) -> &'static str {
        if self.is_pvm() {
            "allowed: 8 bytes"
        } else {
            "allowed: 1 or 2"
        }
    }
}

/// A target's SD, as a Kobicha SD with (where Linux has one) its realisation.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SdCase {
    /// Owner = the caller's user, owner allowed everything. Linux: same uids and gids, dumpable.
    Grant,
    /// Another user's default SD. Linux: different uid.
    DenyOtherUser,
    /// Only members of another group are allowed. Linux: different gid.
    DenyOtherGroup,
    /// The caller's own SD with a deny-everyone entry. Linux: not dumpable.
    DenyExplicit,
    /// Grants QUERY and VM_READ, not VM_WRITE.
    ReadNotWrite,
    /// Grants QUERY and VM_WRITE, denies VM_READ.
    WriteNotRead,
    /// Grants QUERY only.
    QueryNotRead,
    /// Grants VM_READ and VM_WRITE, not QUERY.
    ReadNotQuery,
}

impl SdCase {
    pub const fn label(self) -> &'static str {
        match self {
            SdCase::Grant => "sd-grant",
            SdCase::DenyOtherUser => "sd-deny-uid",
            SdCase::DenyOtherGroup => "sd-deny-gid",
            SdCase::DenyExplicit => "sd-deny-nodump",
            SdCase::ReadNotWrite => "sd-read-not-write",
            SdCase::WriteNotRead => "sd-write-not-read",
            SdCase::QueryNotRead => "sd-query-not-read",
            SdCase::ReadNotQuery => "sd-read-not-query",
        }
    }

    /// The Kobicha SD of the target.
    pub fn sd(self) -> SecurityDescriptor {
        let all = Rights::ALL;
        match self {
            SdCase::Grant => SecurityDescriptor::default_for(UID_A),
            SdCase::DenyOtherUser => SecurityDescriptor::default_for(UID_B),
            SdCase::DenyOtherGroup => {
                SecurityDescriptor::new(UID_A, [Entry::allow(Trustee::Group(GID_B), all)])
            }
            SdCase::DenyExplicit => SecurityDescriptor::new(
                UID_A,
                [
                    Entry::allow(Trustee::Owner, all),
                    Entry::deny(Trustee::Everyone, all),
                ],
            ),
            SdCase::ReadNotWrite => SecurityDescriptor::new(
                UID_A,
                [Entry::allow(
                    Trustee::Owner,
                    Rights::QUERY_INFORMATION | Rights::VM_READ,
                )],
            ),
            SdCase::WriteNotRead => SecurityDescriptor::new(
                UID_A,
                [
                    Entry::allow(Trustee::Owner, all),
                    Entry::deny(Trustee::Everyone, Rights::VM_READ),
                ],
            ),
            SdCase::QueryNotRead => SecurityDescriptor::new(
                UID_A,
                [Entry::allow(Trustee::Owner, Rights::QUERY_INFORMATION)],
            ),
            SdCase::ReadNotQuery => SecurityDescriptor::new(
                UID_A,
                [Entry::allow(
                    Trustee::Owner,
                    Rights::VM_READ | Rights::VM_WRITE,
                )],
            ),
        }
    }

    /// The target's (uid, gid, dumpable), or why Linux cannot build this SD.
    pub fn linux(self) -> Result<(u32, u32, bool), &'static str> {
        match self {
            SdCase::Grant => Ok((UID_A, GID_A, true)),
            SdCase::DenyOtherUser => Ok((UID_B, GID_A, true)),
            SdCase::DenyOtherGroup => Ok((UID_A, GID_B, true)),
            SdCase::DenyExplicit => Ok((UID_A, GID_A, false)),
            SdCase::ReadNotWrite | SdCase::WriteNotRead => Err(
                "Linux checks one right (ptrace ATTACH: same uid/gid, dumpable) for both process_vm_readv and process_vm_writev: an SD granting PROCESS_VM_READ but not PROCESS_VM_WRITE (or the reverse) cannot be built",
            ),
            SdCase::QueryNotRead | SdCase::ReadNotQuery => Err(
                "Linux decides kcmp (ptrace READ) and process_vm (ptrace ATTACH) by the same uid/gid/dumpable test (Yama, which restricts only ATTACH, is not a property of the target's SD): an SD granting PROCESS_QUERY_INFORMATION but not PROCESS_VM_READ (or the reverse) cannot be built",
            ),
        }
    }
}

/// One side of a scenario: a target process.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetCase {
    pub sd: SdCase,
    pub level: u8,
}

/// What a scenario's cost run measures.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CostVariant {
    Allowed,
    DeniedSd,
    DeniedPip,
}

impl CostVariant {
    pub const fn name(self) -> &'static str {
        match self {
            CostVariant::Allowed => "allowed",
            CostVariant::DeniedSd => "denied-sd",
            CostVariant::DeniedPip => "denied-pip",
        }
    }
}

/// One row of the matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    pub id: String,
    pub op: Op,
    pub caller_level: u8,
    /// kcmp's first reference / the process_vm target; `None`: the caller itself.
    pub t1: Option<TargetCase>,
    /// kcmp's second reference; `None`: the caller itself.
    pub t2: Option<TargetCase>,
    /// Info row: the caller holds CAP_SYS_PTRACE (which Linux lets override both checks).
    pub ptrace_override: bool,
    /// Measure allowed-vs-denied cost on this scenario.
    pub cost: Option<CostVariant>,
}

/// PIP level k as a permitted capability set: C_0 = {} ⊂ C_1 ⊂ C_2 ⊂ C_3.
pub fn level_caps(level: u8) -> u64 {
    const LADDER: [u32; 3] = [CAP_KILL, CAP_NET_BIND_SERVICE, CAP_SYS_NICE];
    LADDER
        .iter()
        .take(level as usize)
        .fold(0, |m, c| m | cap_bit(*c))
}

impl Scenario {
    pub fn rule(&self) -> &'static str {
        self.op.operation().rule()
    }

    pub fn caller_token(&self) -> Token {
        Token {
            user: UID_A,
            groups: vec![GID_A],
            level: PipLevel(self.caller_level),
        }
    }

    fn model_target(&self, t: Option<TargetCase>) -> Target {
        match t {
            Some(t) => Target {
                sd: t.sd.sd(),
                level: PipLevel(t.level),
            },
            None => Target::own_process(&self.caller_token()),
        }
    }

    /// The model's decision, with dominance pointing `dom`'s way.
    pub fn model(&self, dom: Dominance) -> Decision {
        let c = self.caller_token();
        let (a, b) = (self.model_target(self.t1), self.model_target(self.t2));
        match self.op {
            Op::KcmpT1 | Op::KcmpT2 | Op::KcmpBoth => model::kcmp_with(dom, &c, &a, &b),
            Op::Readv => model::check_with(dom, &c, &a, model::Right::VmRead, Which::Target),
            Op::Writev => model::check_with(dom, &c, &a, model::Right::VmWrite, Which::Target),
        }
    }

    /// Why Linux cannot build this scenario, if it cannot.
    pub fn inexpressible(&self) -> Option<&'static str> {
        [self.t1, self.t2]
            .iter()
            .flatten()
            .find_map(|t| t.sd.linux().err())
    }

    /// A target's credentials; `None` for the caller itself or an inexpressible SD. In the
    /// override rows the target is also made non-dumpable with another gid, so the
    /// override has every check to beat.
    pub fn wanted_target(&self, t: Option<TargetCase>) -> Option<Wanted> {
        let t = t?;
        let (uid, gid, dumpable) = t.sd.linux().ok()?;
        let w = Wanted {
            uid,
            gid,
            permitted: level_caps(t.level),
            effective: 0,
            dumpable,
            keep_ptrace_bound: false,
        };
        Some(if self.ptrace_override {
            Wanted {
                dumpable: false,
                gid: GID_B,
                ..w
            }
        } else {
            w
        })
    }

    /// The caller's credentials.
    pub fn wanted_caller(&self) -> Wanted {
        let ptrace = if self.ptrace_override {
            cap_bit(CAP_SYS_PTRACE)
        } else {
            0
        };
        Wanted {
            uid: UID_A,
            gid: GID_A,
            permitted: level_caps(self.caller_level) | ptrace,
            effective: ptrace,
            dumpable: true,
            keep_ptrace_bound: self.ptrace_override,
        }
    }

    fn sd_text(&self) -> String {
        match (self.t1, self.t2) {
            (Some(a), Some(b)) => format!("{} + {}", a.sd.label(), b.sd.label()),
            (Some(a), None) | (None, Some(a)) => a.sd.label().to_string(),
            (None, None) => "-".into(),
        }
    }

    fn pip_text(&self) -> String {
        let l = |t: Option<TargetCase>| {
            t.map(|t| format!("L{}", t.level))
                .unwrap_or_else(|| "self".into())
        };
        match self.op {
            Op::KcmpT1 | Op::Readv | Op::Writev => {
                format!("L{} vs {}", self.caller_level, l(self.t1))
            }
            Op::KcmpT2 => format!("L{} vs {}", self.caller_level, l(self.t2)),
            Op::KcmpBoth => format!("L{} vs {}, {}", self.caller_level, l(self.t1), l(self.t2)),
        }
    }

    /// How the scenario is built on Linux, in words.
    pub fn realisation(&self) -> String {
        if let Some(r) = self.inexpressible() {
            return format!("n/a: {r}");
        }
        let c = self.wanted_caller();
        let mut s = format!(
            "caller uid {} gid {} CapPrm {:#x}",
            c.uid, c.gid, c.permitted
        );
        if self.ptrace_override {
            s.push_str(" (CapEff CAP_SYS_PTRACE)");
        }
        let t = |n: &str, t: Option<TargetCase>| match self.wanted_target(t) {
            Some(w) => format!(
                "; {n} uid {} gid {}{} CapPrm {:#x}",
                w.uid,
                w.gid,
                if w.dumpable { "" } else { " not dumpable" },
                w.permitted
            ),
            None => format!("; {n} = caller itself"),
        };
        match self.op {
            Op::KcmpT1 => s + &t("target1", self.t1) + "; kcmp(t1, self, KCMP_VM)",
            Op::KcmpT2 => s + &t("target2", self.t2) + "; kcmp(self, t2, KCMP_VM)",
            Op::KcmpBoth => {
                s + &t("target1", self.t1) + &t("target2", self.t2) + "; kcmp(t1, t2, KCMP_VM)"
            }
            Op::Readv => s + &t("target", self.t1) + "; process_vm_readv 8 bytes",
            Op::Writev => s + &t("target", self.t1) + "; process_vm_writev 8 bytes",
        }
    }
}

/// Every scenario, in matrix order.
pub fn scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    let expressible = [
        SdCase::Grant,
        SdCase::DenyOtherUser,
        SdCase::DenyOtherGroup,
        SdCase::DenyExplicit,
    ];
    // (caller, target): strict dominance, equal levels, no dominance.
    let pips = [(2u8, 1u8), (1, 1), (1, 2)];
    for op in [Op::KcmpT1, Op::KcmpT2, Op::Readv, Op::Writev] {
        for sd in expressible {
            for (c, t) in pips {
                let tc = Some(TargetCase { sd, level: t });
                let (t1, t2) = if op == Op::KcmpT2 {
                    (None, tc)
                } else {
                    (tc, None)
                };
                let cost = match (op, sd, c > t) {
                    (Op::KcmpT2, ..) => None,
                    (_, SdCase::Grant, true) => Some(CostVariant::Allowed),
                    (_, SdCase::DenyOtherUser, true) => Some(CostVariant::DeniedSd),
                    (_, SdCase::Grant, false) if c < t => Some(CostVariant::DeniedPip),
                    _ => None,
                };
                v.push(Scenario {
                    id: format!("{}/{}/L{c} vs L{t}", op.name(), sd.label()),
                    op,
                    caller_level: c,
                    t1,
                    t2,
                    ptrace_override: false,
                    cost,
                });
            }
        }
    }
    let both_sds = [
        (SdCase::Grant, SdCase::Grant),
        (SdCase::DenyOtherUser, SdCase::Grant),
        (SdCase::Grant, SdCase::DenyExplicit),
    ];
    // (caller, t1, t2): dominates both, fails on t1, fails on t2.
    let both_pips = [(2u8, 1u8, 2u8), (1, 2, 1), (1, 1, 2)];
    for (s1, s2) in both_sds {
        for (c, l1, l2) in both_pips {
            let cost = match (s1, s2, c, l1) {
                (SdCase::Grant, SdCase::Grant, 2, _) => Some(CostVariant::Allowed),
                (SdCase::DenyOtherUser, _, 2, _) => Some(CostVariant::DeniedSd),
                (SdCase::Grant, SdCase::Grant, 1, 2) => Some(CostVariant::DeniedPip),
                _ => None,
            };
            v.push(Scenario {
                id: format!(
                    "kcmp-both/{}+{}/L{c} vs L{l1},L{l2}",
                    s1.label(),
                    s2.label()
                ),
                op: Op::KcmpBoth,
                caller_level: c,
                t1: Some(TargetCase { sd: s1, level: l1 }),
                t2: Some(TargetCase { sd: s2, level: l2 }),
                ptrace_override: false,
                cost,
            });
        }
    }
    let inexpressible = [
        (Op::Readv, SdCase::ReadNotWrite),
        (Op::Writev, SdCase::ReadNotWrite),
        (Op::Readv, SdCase::WriteNotRead),
        (Op::Writev, SdCase::WriteNotRead),
        (Op::KcmpT1, SdCase::QueryNotRead),
        (Op::Readv, SdCase::QueryNotRead),
        (Op::KcmpT1, SdCase::ReadNotQuery),
        (Op::Readv, SdCase::ReadNotQuery),
    ];
    for (op, sd) in inexpressible {
        v.push(Scenario {
            id: format!("{}/{}/L1 vs L1", op.name(), sd.label()),
            op,
            caller_level: 1,
            t1: Some(TargetCase { sd, level: 1 }),
            t2: None,
            ptrace_override: false,
            cost: None,
        });
    }
    for op in [Op::KcmpT1, Op::Readv, Op::Writev] {
        v.push(Scenario {
            id: format!(
                "{}/cap-sys-ptrace/L0 vs L2 other uid not dumpable",
                op.name()
            ),
            op,
            caller_level: 0,
            t1: Some(TargetCase {
                sd: SdCase::DenyOtherUser,
                level: 2,
            }),
            t2: None,
            ptrace_override: true,
            cost: None,
        });
    }
    v
}

// ---------------------------------------------------------------------------------------
// The environment: root, Yama.

/// What the gate checks depend on besides the scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateEnv {
    pub root: bool,
    pub euid: u32,
    /// `/proc/sys/kernel/yama/ptrace_scope`; `None` when Yama is not built in.
    pub yama: Option<i32>,
}

impl GateEnv {
    pub fn probe() -> GateEnv {
        let euid = proc_::euid();
        let yama = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
            .ok()
            .and_then(|s| s.trim().parse().ok());
        GateEnv {
            root: euid == 0,
            euid,
            yama,
        }
    }

    pub fn yama_text(&self) -> String {
        match self.yama {
            Some(s) => s.to_string(),
            None => "absent (Yama not built in)".into(),
        }
    }

    fn yama_note(&self) -> String {
        match self.yama {
            None | Some(0) => "no Yama relation rule: only the uid/gid/dumpable and capability checks decide".into(),
            Some(1) => "scope 1 restricts ATTACH (process_vm) to descendants: each target declares PR_SET_PTRACER_ANY so only the gate decides".into(),
            Some(s) => format!("scope {s} forbids ATTACH without CAP_SYS_PTRACE: allowed process_vm rows cannot be realised (skip)"),
        }
    }

    /// The message for a non-root run, `None` as root.
    pub fn not_root_message(&self) -> Option<String> {
        (!self.root).then(|| {
            format!(
                "not root (euid {}): the scenarios need processes with chosen uids, gids and capability sets (CAP_SETUID, CAP_SETGID, CAP_SETPCAP); every realised scenario is skipped — run as root to check the gates",
                self.euid
            )
        })
    }
}

// ---------------------------------------------------------------------------------------
// Observing: the workload side.

/// What a scenario's processes reported.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// The call's return value, or its errno name.
    pub result: Option<Result<i64, String>>,
    /// A process could not take or did not show its credentials, or the setup failed.
    pub error: Option<String>,
    /// Each process's verified credentials, in words.
    pub verified: Vec<String>,
    /// readv: the bytes read were the target's; writev: the bytes arrived in the target.
    pub data_ok: Option<bool>,
    /// Latency of the same call repeated, when the scenario has a cost variant.
    pub cost: Option<Summary>,
}

/// A scenario's observation.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    Skipped(String),
    Inexpressible(String),
    Seen(Observed),
}

/// One line to the `gates` helper: the call and each process's credentials.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub op: Op,
    pub caller: Wanted,
    pub t1: Option<Wanted>,
    pub t2: Option<Wanted>,
    /// (max samples, max ms) for the cost run.
    pub cost: Option<(u64, u64)>,
}

/// The helper request that realises `s`.
pub fn request_for(s: &Scenario, budget: (u64, u64)) -> Request {
    Request {
        op: s.op,
        caller: s.wanted_caller(),
        t1: s.wanted_target(s.t1),
        t2: s.wanted_target(s.t2),
        cost: s.cost.map(|_| budget),
    }
}

/// Runs every scenario that Linux can express (through one root helper); the others are
/// `Inexpressible`, and without root every one is `Skipped`.
pub fn observe(ctx: &Context, scenarios: &[Scenario], env: &GateEnv) -> Vec<Observation> {
    let budget = ctx.profile.pick(
        (2_000, 20),
        (20_000, 150),
        (200_000, 1_000),
        (1_000_000, 3_000),
    );
    let mut helper: Option<Helper> = None;
    let mut out = Vec::with_capacity(scenarios.len());
    for (i, s) in scenarios.iter().enumerate() {
        if let Some(r) = s.inexpressible() {
            out.push(Observation::Inexpressible(r.to_string()));
            continue;
        }
        if let Some(msg) = env.not_root_message() {
            out.push(Observation::Skipped(msg));
            continue;
        }
        if ctx.cancelled() {
            out.push(Observation::Skipped(
                "run cancelled before this scenario".into(),
            ));
            continue;
        }
        ctx.out
            .progress(&format!("gates: {}/{} {}", i + 1, scenarios.len(), s.id));
        if helper.is_none() {
            match Helper::spawn(
                &ctx.helper_exe,
                "gates",
                &[env.yama.unwrap_or(-1).to_string()],
            ) {
                Ok(h) => helper = Some(h),
                Err(e) => {
                    out.push(Observation::Seen(Observed {
                        error: Some(e.to_string()),
                        ..Observed::default()
                    }));
                    continue;
                }
            }
        }
        let h = helper.as_mut().expect("spawned above");
        let line = serde_json::to_string(&request_for(s, budget)).expect("requests serialize");
        match h.request::<Observed>(&line, HELPER_TIMEOUT) {
            Ok(o) => out.push(Observation::Seen(o)),
            Err(e) => {
                // The helper is gone or stuck: report it here, start a new one for the next.
                helper = None;
                out.push(Observation::Seen(Observed {
                    error: Some(format!("helper: {e}")),
                    ..Observed::default()
                }));
            }
        }
    }
    if let Some(h) = helper {
        let _ = h.finish(Duration::from_secs(5));
    }
    out
}

// ---------------------------------------------------------------------------------------
// Judging: model vs kernel.

const OVERRIDE_EXPECTED: &str = "allowed (CAP_SYS_PTRACE override)";

/// One evaluated row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub scenario: Scenario,
    pub model: Decision,
    pub expected: String,
    pub observed: String,
    pub verdict: Verdict,
    /// Each process's credentials as read from /proc before the call.
    pub verified: Vec<String>,
}

fn observed_text(op: Op, o: &Observed) -> String {
    if let Some(e) = &o.error {
        return format!("ERROR: {e}");
    }
    match &o.result {
        None => "ERROR: no result".into(),
        Some(Err(e)) => e.clone(),
        Some(Ok(v)) if op.is_pvm() => {
            let data = match o.data_ok {
                Some(true) => ", data matches",
                Some(false) => ", DATA MISMATCH",
                None => "",
            };
            format!("allowed: {v} bytes{data}")
        }
        Some(Ok(v)) => format!("allowed: {v}"),
    }
}

/// Judges one scenario: the model (with `dom`) against what the kernel did.
pub fn evaluate(s: &Scenario, o: &Observation, dom: Dominance, env: &GateEnv) -> Row {
    let decision = s.model(dom);
    let rule = s.rule();
    let expected = match decision {
        _ if s.ptrace_override => OVERRIDE_EXPECTED.to_string(),
        Decision::Allow => s.op.allowed_text().to_string(),
        Decision::Deny(_) => "EPERM".to_string(),
    };
    let model_note = format!("model: {decision}");
    let (observed, verdict) = match o {
        Observation::Inexpressible(r) => (
            "n/a".to_string(),
            Verdict::not_applicable(rule, &s.id, r.clone()).with_note(format!(
                "{r}; {model_note} (decided in the model's unit tests)"
            )),
        ),
        Observation::Skipped(r) => ("skip".to_string(), Verdict::skip(rule, &s.id, r.clone())),
        Observation::Seen(ob) => {
            let text = observed_text(s.op, ob);
            let v = if ob.error.is_some() || ob.result.is_none() {
                Verdict::check(rule, &s.id, false, &expected, &text).with_note(format!(
                    "credentials or setup failed: the scenario was not checked; {model_note}"
                ))
            } else if s.ptrace_override {
                Verdict {
                    expected: OVERRIDE_EXPECTED.into(),
                    ..Verdict::info(rule, &s.id, &text).with_note(format!(
                        "CAP_SYS_PTRACE passes both the uid/gid/dumpable check and the capability-subset check; {model_note} (the Kobicha model has no override){}",
                        if matches!(ob.result, Some(Ok(_))) { "" } else { "; UNEXPECTED: the override did not pass" }
                    ))
                }
            } else if s.op.is_pvm() && decision.is_allow() && env.yama.is_some_and(|y| y >= 2) {
                Verdict::skip(rule, &s.id, format!("Yama ptrace_scope {} forbids ptrace ATTACH without CAP_SYS_PTRACE: an allowed process_vm call cannot be realised (observed {text})", env.yama.unwrap_or(0)))
            } else {
                let ok = match (&decision, &ob.result) {
                    (Decision::Allow, Some(Ok(v))) => {
                        if s.op.is_pvm() {
                            *v == 8 && ob.data_ok == Some(true)
                        } else {
                            *v == 1 || *v == 2
                        }
                    }
                    (Decision::Deny(_), Some(Err(e))) => e == "EPERM",
                    _ => false,
                };
                Verdict::check(rule, &s.id, ok, &expected, &text).with_note(model_note)
            };
            (text, v)
        }
    };
    let verified = match o {
        Observation::Seen(ob) => ob.verified.clone(),
        _ => Vec::new(),
    };
    Row {
        scenario: s.clone(),
        model: decision,
        expected,
        observed,
        verdict,
        verified,
    }
}

/// The matrix as a `data` table.
pub fn matrix_table(rows: &[Row]) -> serde_json::Value {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let s = &r.scenario;
            vec![
                s.id.clone(),
                r.verdict.rule.clone(),
                s.sd_text(),
                s.pip_text(),
                r.model.to_string(),
                r.expected.clone(),
                s.realisation(),
                r.observed.clone(),
                r.verdict.outcome.as_str().to_string(),
                r.verdict.note.clone(),
                r.verified.join("; "),
            ]
        })
        .collect();
    json!({
        "kind": "table",
        "title": "Kobicha access gates: model vs kernel",
        "columns": ["scenario", "rule", "SD", "PIP caller vs target", "model", "expected", "Linux realisation", "observed", "verdict", "note", "verified credentials"],
        "rows": cells,
    })
}

/// Allowed vs denied latency per operation, from the scenarios that carry a cost variant.
pub fn cost_measurements(scenarios: &[Scenario], obs: &[Observation]) -> Vec<Measurement> {
    let mut by_op: BTreeMap<Op, BTreeMap<&'static str, Summary>> = BTreeMap::new();
    for (s, o) in scenarios.iter().zip(obs) {
        if let (
            Some(c),
            Observation::Seen(Observed {
                cost: Some(sum),
                error: None,
                ..
            }),
        ) = (s.cost, o)
        {
            by_op.entry(s.op).or_default().insert(c.name(), sum.clone());
        }
    }
    let mut out = Vec::new();
    for (op, m) in by_op {
        let allowed = m.get("allowed").map(|s| s.p50 as f64).filter(|v| *v > 0.0);
        for (variant, summary) in m {
            let mut derived = BTreeMap::new();
            if let (Some(a), true) = (allowed, variant != "allowed") {
                derived.insert("ratio_to_allowed".to_string(), summary.p50 as f64 / a);
            }
            out.push(Measurement {
                id: format!("gates/{}/{variant}", op.name()),
                unit: "ns".into(),
                smaller_is_better: true,
                params: BTreeMap::from([
                    ("command".to_string(), json!(op.name())),
                    ("variant".to_string(), json!(variant)),
                ]),
                summary,
                derived,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The helper: `__helper gates YAMA_SCOPE`, root, single-threaded; one request per line.

#[derive(Debug, Serialize, Deserialize)]
enum KidMsg {
    /// Took its credentials; a target also gives its buffer's address.
    Ready {
        pid: i32,
        dumpable: i32,
        addr: usize,
    },
    /// Could not take its credentials.
    Failed(String),
    /// The caller's call, and its cost run.
    Done {
        result: Result<i64, String>,
        data_ok: Option<bool>,
        cost: Option<Summary>,
    },
    /// A target's first 8 bytes.
    Bytes(Vec<u8>),
}

#[derive(Debug, Serialize, Deserialize)]
enum HelperMsg {
    Go {
        t1: i32,
        t2: i32,
        addr: usize,
        cost: Option<(u64, u64)>,
    },
    Peek,
}

/// One end of a helper <-> child channel: JSON lines over a Unix socket pair.
struct Chan {
    w: UnixStream,
    r: BufReader<UnixStream>,
}

impl Chan {
    fn new(s: UnixStream) -> std::io::Result<Chan> {
        s.set_read_timeout(Some(KID_TIMEOUT))?;
        Ok(Chan {
            r: BufReader::new(s.try_clone()?),
            w: s,
        })
    }

    fn send<T: Serialize>(&mut self, v: &T) -> Result<(), String> {
        let mut line = serde_json::to_vec(v).map_err(|e| e.to_string())?;
        line.push(b'\n');
        self.w.write_all(&line).map_err(|e| format!("send: {e}"))
    }

    fn recv<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, String> {
        let mut line = String::new();
        match self.r.read_line(&mut line) {
            Ok(0) => Err("closed the channel without answering".into()),
            Ok(_) => serde_json::from_str(&line).map_err(|e| format!("bad message {line:?}: {e}")),
            Err(e) => Err(format!("no answer within {KID_TIMEOUT:?}: {e}")),
        }
    }
}

/// A forked scenario process; killed and reaped on drop.
struct Kid {
    pid: i32,
    chan: Chan,
    role: &'static str,
}

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = proc_::kill(self.pid, libc::SIGKILL);
        let _ = proc_::wait_pid_timeout(self.pid, Duration::from_secs(5));
    }
}

/// Forks a child that takes `w`'s credentials and then runs `main`.
fn fork_kid(
    role: &'static str,
    w: &Wanted,
    yama: i32,
    main: impl FnOnce(&mut Chan) -> i32,
) -> Result<Kid, String> {
    let (ours, theirs) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    let parent = proc_::getpid();
    match proc_::fork_single_threaded() {
        Err(e) => Err(format!("fork {role}: {e}")),
        Ok(Fork::Child) => {
            drop(ours);
            let Ok(mut ch) = Chan::new(theirs) else {
                proc_::exit_now(3)
            };
            let became = creds::take(w)
                .map_err(|(step, e)| format!("{step}: {e}"))
                .and_then(|_| {
                    // A credential change clears PDEATHSIG: re-arm it, then make sure the
                    // helper did not die before it was armed.
                    proc_::die_with_parent().map_err(|e| format!("PR_SET_PDEATHSIG: {e}"))?;
                    if std::os::unix::process::parent_id() as i32 != parent {
                        proc_::exit_now(4);
                    }
                    if yama == 1 {
                        creds::set_ptracer_any().map_err(|e| format!("PR_SET_PTRACER_ANY: {e}"))?;
                    }
                    Ok(())
                });
            // Whatever happens, this child never returns into the helper's loop.
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match became {
                Err(m) => {
                    let _ = ch.send(&KidMsg::Failed(format!(
                        "{role} could not take uid {} gid {}: {m}",
                        w.uid, w.gid
                    )));
                    1
                }
                Ok(()) => main(&mut ch),
            }))
            .unwrap_or(101);
            proc_::exit_now(code)
        }
        Ok(Fork::Parent { child }) => {
            drop(theirs);
            let chan = Chan::new(ours).map_err(|e| format!("channel: {e}"))?;
            Ok(Kid {
                pid: child,
                chan,
                role,
            })
        }
    }
}

fn target_main(ch: &mut Chan) -> i32 {
    let buf = vec![TARGET_FILL; 4096];
    let dumpable = creds::get_dumpable().unwrap_or(-1);
    if ch
        .send(&KidMsg::Ready {
            pid: proc_::getpid(),
            dumpable,
            addr: buf.as_ptr() as usize,
        })
        .is_err()
    {
        return 1;
    }
    // Serve peeks until the helper closes the channel or kills us.
    while let Ok(HelperMsg::Peek) = ch.recv::<HelperMsg>() {
        // Read through a volatile view: the bytes were written by another process.
        let bytes: Vec<u8> = buf[..8].iter().map(|b| std::hint::black_box(*b)).collect();
        if ch.send(&KidMsg::Bytes(bytes)).is_err() {
            break;
        }
    }
    drop(std::hint::black_box(buf));
    0
}

fn call(op: Op, t1: i32, t2: i32, addr: usize, scratch: &mut [u8; 8]) -> Result<i64, Errno> {
    let me = proc_::getpid();
    let remote = [RemoteIov { base: addr, len: 8 }];
    match op {
        Op::KcmpT1 => kcmp(t1, me, KcmpType::Vm, 0, 0),
        Op::KcmpT2 => kcmp(me, t2, KcmpType::Vm, 0, 0),
        Op::KcmpBoth => kcmp(t1, t2, KcmpType::Vm, 0, 0),
        Op::Readv => readv(t1, &mut [IoSliceMut::new(scratch)], &remote, 0).map(|n| n as i64),
        Op::Writev => writev(t1, &[IoSlice::new(&WRITE_PATTERN)], &remote, 0).map(|n| n as i64),
    }
}

fn caller_main(ch: &mut Chan, op: Op, clock: &Clock) -> i32 {
    let dumpable = creds::get_dumpable().unwrap_or(-1);
    if ch
        .send(&KidMsg::Ready {
            pid: proc_::getpid(),
            dumpable,
            addr: 0,
        })
        .is_err()
    {
        return 1;
    }
    let Ok(HelperMsg::Go { t1, t2, addr, cost }) = ch.recv::<HelperMsg>() else {
        return 1;
    };
    let mut scratch = [0u8; 8];
    let r = call(op, t1, t2, addr, &mut scratch);
    let data_ok = match (op, &r) {
        (Op::Readv, Ok(8)) => Some(scratch == [TARGET_FILL; 8]),
        _ => None,
    };
    let cost = cost.and_then(|(n, ms)| {
        let allowed = r.is_ok();
        let never = std::sync::atomic::AtomicBool::new(false);
        sample(
            clock,
            Budget::new(n, Duration::from_millis(ms)),
            &never,
            || match call(op, t1, t2, addr, &mut scratch) {
                Ok(_) if allowed => Ok(()),
                Err(e) if !allowed && Err(e) == r => Ok(()),
                _ => Err(()),
            },
        )
        .ok()
        .map(|h| Summary::of(&h))
    });
    let result = r.map_err(|e| e.name());
    let _ = ch.send(&KidMsg::Done {
        result,
        data_ok,
        cost,
    });
    0
}

/// Checks `pid`'s credentials against `w` from /proc; the text says what was seen.
fn verify(pid: i32, w: &Wanted, self_dumpable: i32) -> Result<String, String> {
    let field = |f: &str| {
        proc_::status_field(Some(pid), f).ok_or_else(|| format!("/proc/{pid}/status has no {f}"))
    };
    let hex = |f: &str| -> Result<u64, String> {
        u64::from_str_radix(&field(f)?, 16).map_err(|e| format!("{f}: {e}"))
    };
    let ids = |f: &str, want: u32| -> Result<(), String> {
        let v = field(f)?;
        let all: Vec<&str> = v.split_whitespace().collect();
        if all.len() == 4 && all.iter().all(|x| *x == want.to_string()) {
            Ok(())
        } else {
            Err(format!(
                "{f} is {v:?}, wanted {want} (real, effective, saved, fs)"
            ))
        }
    };
    ids("Uid", w.uid)?;
    ids("Gid", w.gid)?;
    let groups = field("Groups")?;
    if !groups.is_empty() {
        return Err(format!("supplementary groups {groups:?}, wanted none"));
    }
    for (f, want) in [
        ("CapPrm", w.permitted),
        ("CapEff", w.effective),
        ("CapInh", 0),
        ("CapAmb", 0),
    ] {
        let got = hex(f)?;
        if got != want {
            return Err(format!("{f} is {got:#x}, wanted {want:#x}"));
        }
    }
    let bnd = hex("CapBnd")?;
    if !w.keep_ptrace_bound && bnd & cap_bit(CAP_SYS_PTRACE) != 0 {
        return Err(format!("CapBnd {bnd:#x} still holds CAP_SYS_PTRACE"));
    }
    // /proc/PID/status belongs to the process's euid when it is dumpable, to root when it
    // is not (fs/proc/base.c task_dump_owner; the /proc/PID directory itself keeps the euid).
    let owner = std::fs::metadata(format!("/proc/{pid}/status"))
        .map_err(|e| format!("stat /proc/{pid}/status: {e}"))?
        .uid();
    let owner_says = owner == w.uid && w.uid != 0;
    if owner_says != w.dumpable || (self_dumpable == 1) != w.dumpable {
        return Err(format!(
            "dumpable is {self_dumpable} (/proc/{pid}/status owned by uid {owner}), wanted {}",
            w.dumpable as i32
        ));
    }
    Ok(format!(
        "pid {pid}: uid {} gid {} CapPrm {:#x} CapEff {:#x} CapBnd {bnd:#x} dumpable {}",
        w.uid, w.gid, w.permitted, w.effective, self_dumpable
    ))
}

fn ready(k: &mut Kid, w: &Wanted) -> Result<(i32, usize, String), String> {
    match k.chan.recv::<KidMsg>()? {
        KidMsg::Ready {
            pid,
            dumpable,
            addr,
        } => {
            if pid != k.pid {
                return Err(format!(
                    "{} reported pid {pid}, forked as {}",
                    k.role, k.pid
                ));
            }
            let v = verify(pid, w, dumpable)
                .map_err(|e| format!("{} credentials not as asked: {e}", k.role))?;
            Ok((pid, addr, format!("{} {v}", k.role)))
        }
        KidMsg::Failed(m) => Err(m),
        other => Err(format!("{}: unexpected {other:?}", k.role)),
    }
}

fn serve(req: &Request, yama: i32, clock: &Clock) -> Observed {
    let mut o = Observed::default();
    let mut run = || -> Result<(), String> {
        let mut kids: Vec<Kid> = Vec::new();
        let (mut p1, mut p2, mut addr) = (0, 0, 0);
        for (role, w) in [("target1", req.t1), ("target2", req.t2)] {
            let Some(w) = w else { continue };
            let mut k = fork_kid(role, &w, yama, target_main)?;
            let (pid, a, v) = ready(&mut k, &w)?;
            o.verified.push(v);
            if role == "target1" {
                (p1, addr) = (pid, a);
            } else {
                p2 = pid;
            }
            kids.push(k);
        }
        let op = req.op;
        let mut c = fork_kid("caller", &req.caller, yama, |ch| caller_main(ch, op, clock))?;
        let (_, _, v) = ready(&mut c, &req.caller)?;
        o.verified.push(v);
        c.chan.send(&HelperMsg::Go {
            t1: p1,
            t2: p2,
            addr,
            cost: req.cost,
        })?;
        match c.chan.recv::<KidMsg>()? {
            KidMsg::Done {
                result,
                data_ok,
                cost,
            } => {
                o.data_ok = data_ok;
                o.cost = cost;
                if op == Op::Writev && result == Ok(8) {
                    let t = kids.first_mut().ok_or("writev without a target")?;
                    t.chan.send(&HelperMsg::Peek)?;
                    match t.chan.recv::<KidMsg>()? {
                        KidMsg::Bytes(b) => o.data_ok = Some(b == WRITE_PATTERN),
                        other => return Err(format!("target1: unexpected {other:?}")),
                    }
                }
                o.result = Some(result);
            }
            KidMsg::Failed(m) => return Err(m),
            other => return Err(format!("caller: unexpected {other:?}")),
        }
        drop(c);
        drop(kids);
        Ok(())
    };
    if let Err(e) = run() {
        o.error = Some(e);
        o.result = None;
    }
    o
}

/// `__helper gates YAMA_SCOPE`: serves one scenario per stdin line, one reply per line.
pub fn helper_gates(args: &[String]) -> i32 {
    let yama: i32 = args.first().and_then(|a| a.parse().ok()).unwrap_or(-1);
    let (clock, _) = Clock::calibrate(Duration::from_millis(20));
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let o = match serde_json::from_str::<Request>(&line) {
            Ok(req) => serve(&req, yama, &clock),
            Err(e) => Observed {
                error: Some(format!("bad request: {e}")),
                ..Observed::default()
            },
        };
        reply(&o);
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use kobench_harness::schema::Outcome;

    fn env() -> GateEnv {
        GateEnv {
            root: true,
            euid: 0,
            yama: None,
        }
    }

    #[test]
    fn matrix_shape() {
        let s = scenarios();
        assert_eq!(s.len(), 48 + 9 + 8 + 3);
        let ids: std::collections::BTreeSet<_> = s.iter().map(|s| s.id.clone()).collect();
        assert_eq!(ids.len(), s.len(), "scenario ids are unique");
        assert_eq!(s.iter().filter(|s| s.inexpressible().is_some()).count(), 8);
        for op in [Op::KcmpT1, Op::KcmpBoth, Op::Readv, Op::Writev] {
            let costs: Vec<_> = s
                .iter()
                .filter(|x| x.op == op)
                .filter_map(|x| x.cost)
                .collect();
            assert_eq!(costs.len(), 3, "{op:?}");
            for c in [
                CostVariant::Allowed,
                CostVariant::DeniedSd,
                CostVariant::DeniedPip,
            ] {
                assert!(costs.contains(&c));
            }
        }
        // Cost scenarios are decided as their variant says.
        for x in s.iter().filter(|x| x.cost.is_some()) {
            let d = x.model(Dominance::Normal);
            match x.cost.unwrap() {
                CostVariant::Allowed => assert!(d.is_allow(), "{}", x.id),
                CostVariant::DeniedSd => assert!(
                    matches!(d, Decision::Deny(model::Why::Sd { .. })),
                    "{}",
                    x.id
                ),
                CostVariant::DeniedPip => assert!(
                    matches!(d, Decision::Deny(model::Why::Pip { .. })),
                    "{}",
                    x.id
                ),
            }
        }
    }

    #[test]
    fn realisations_follow_the_mapping() {
        let s = scenarios();
        let find = |id: &str| s.iter().find(|x| x.id == id).unwrap().clone();
        let r = find("readv/sd-grant/L2 vs L1");
        let req = request_for(&r, (1, 1));
        assert_eq!(
            req.caller,
            Wanted {
                uid: UID_A,
                gid: GID_A,
                permitted: 0x420,
                effective: 0,
                dumpable: true,
                keep_ptrace_bound: false
            }
        );
        assert_eq!(
            req.t1.unwrap(),
            Wanted {
                uid: UID_A,
                gid: GID_A,
                permitted: 0x20,
                effective: 0,
                dumpable: true,
                keep_ptrace_bound: false
            }
        );
        let r = find("writev/sd-deny-nodump/L1 vs L1");
        assert!(!request_for(&r, (1, 1)).t1.unwrap().dumpable);
        let r = find("kcmp-t2/sd-deny-gid/L1 vs L2");
        let req = request_for(&r, (1, 1));
        assert!(req.t1.is_none());
        assert_eq!(req.t2.unwrap().gid, GID_B);
        // Callers never hold CAP_SYS_PTRACE, except the override rows.
        for x in &s {
            let c = x.wanted_caller();
            assert_eq!(
                c.permitted & cap_bit(CAP_SYS_PTRACE) != 0,
                x.ptrace_override,
                "{}",
                x.id
            );
            assert_eq!(c.keep_ptrace_bound, x.ptrace_override);
        }
        // Nested capability sets.
        for l in 0..3 {
            assert_eq!(level_caps(l) & level_caps(l + 1), level_caps(l));
            assert_ne!(level_caps(l), level_caps(l + 1));
        }
        assert_eq!(level_caps(0), 0);
    }

    fn seen(r: Result<i64, &str>, data_ok: Option<bool>) -> Observation {
        Observation::Seen(Observed {
            result: Some(r.map_err(String::from)),
            data_ok,
            ..Observed::default()
        })
    }

    #[test]
    fn evaluation_outcomes() {
        let s = scenarios();
        let find = |id: &str| s.iter().find(|x| x.id == id).unwrap().clone();
        let e = env();
        let allow = find("readv/sd-grant/L1 vs L1");
        assert_eq!(
            evaluate(&allow, &seen(Ok(8), Some(true)), Dominance::Normal, &e)
                .verdict
                .outcome,
            Outcome::Pass
        );
        assert_eq!(
            evaluate(&allow, &seen(Ok(8), Some(false)), Dominance::Normal, &e)
                .verdict
                .outcome,
            Outcome::Fail
        );
        assert_eq!(
            evaluate(&allow, &seen(Err("EPERM"), None), Dominance::Normal, &e)
                .verdict
                .outcome,
            Outcome::Fail
        );
        let deny = find("kcmp-both/sd-grant+sd-grant/L1 vs L2,L1");
        assert_eq!(
            evaluate(&deny, &seen(Err("EPERM"), None), Dominance::Normal, &e)
                .verdict
                .outcome,
            Outcome::Pass
        );
        assert_eq!(
            evaluate(&deny, &seen(Err("ESRCH"), None), Dominance::Normal, &e)
                .verdict
                .outcome,
            Outcome::Fail
        );
        assert_eq!(
            evaluate(&deny, &seen(Ok(1), None), Dominance::Normal, &e)
                .verdict
                .outcome,
            Outcome::Fail
        );
        // A credential failure is a failure with the reason, never a pass.
        let bad = Observation::Seen(Observed {
            error: Some("caller could not take uid 61001 gid 61001: capset: EPERM".into()),
            ..Observed::default()
        });
        let row = evaluate(&deny, &bad, Dominance::Normal, &e);
        assert_eq!(row.verdict.outcome, Outcome::Fail);
        assert!(row.observed.contains("capset: EPERM"), "{}", row.observed);
        // n/a rows keep the model's decision and the reason.
        let na = find("writev/sd-read-not-write/L1 vs L1");
        let row = evaluate(
            &na,
            &Observation::Inexpressible(na.inexpressible().unwrap().into()),
            Dominance::Normal,
            &e,
        );
        assert_eq!(row.verdict.outcome, Outcome::NotApplicable);
        assert!(
            row.verdict.note.contains("PROCESS_VM_WRITE")
                && row.verdict.note.contains("model: deny (SD"),
            "{}",
            row.verdict.note
        );
        // Yama scope 2: allowed process_vm rows cannot be realised.
        let y2 = GateEnv {
            yama: Some(2),
            ..env()
        };
        assert_eq!(
            evaluate(&allow, &seen(Err("EPERM"), None), Dominance::Normal, &y2)
                .verdict
                .outcome,
            Outcome::Skip
        );
        // The override rows are info.
        let ov = find("readv/cap-sys-ptrace/L0 vs L2 other uid not dumpable");
        assert_eq!(
            evaluate(&ov, &seen(Ok(8), Some(true)), Dominance::Normal, &e)
                .verdict
                .outcome,
            Outcome::Info
        );
    }

    #[test]
    fn verify_refuses_credentials_that_differ() {
        // This test process is not uid 61001 and holds no such capability sets.
        let me = proc_::getpid();
        let w = Wanted {
            uid: UID_A,
            gid: GID_A,
            permitted: 0x20,
            effective: 0,
            dumpable: true,
            keep_ptrace_bound: false,
        };
        let e = verify(me, &w, 1).unwrap_err();
        assert!(e.starts_with("Uid is"), "{e}");
        let uid = proc_::uid();
        let gid_line = proc_::status_field(None, "Gid").unwrap();
        let gid: u32 = gid_line.split_whitespace().next().unwrap().parse().unwrap();
        let e = verify(me, &Wanted { uid, gid, ..w }, 1).unwrap_err();
        assert!(e.contains("Cap") || e.contains("groups"), "{e}");
        assert!(verify(i32::MAX, &w, 1).unwrap_err().contains("has no Uid"));
    }

    #[test]
    fn not_root_skips_every_realised_scenario_with_the_reason() {
        let ctx = Context::for_tests(std::path::PathBuf::from("/nonexistent/kobench"), None);
        let e = GateEnv {
            root: false,
            euid: 65534,
            yama: Some(1),
        };
        let s = scenarios();
        let obs = observe(&ctx, &s, &e);
        let rows: Vec<Row> = s
            .iter()
            .zip(&obs)
            .map(|(s, o)| evaluate(s, o, Dominance::Normal, &e))
            .collect();
        let count = |o: Outcome| rows.iter().filter(|r| r.verdict.outcome == o).count();
        assert_eq!(count(Outcome::Skip), s.len() - 8);
        assert_eq!(count(Outcome::NotApplicable), 8);
        assert!(rows
            .iter()
            .filter(|r| r.verdict.outcome == Outcome::Skip)
            .all(|r| r.verdict.note.contains("not root (euid 65534)")));
    }
}
