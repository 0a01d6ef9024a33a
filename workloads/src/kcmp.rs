//! kcmp: the sharing matrix on process relationships built for real, FILE and EPOLL_TFD
//! comparisons, argument errors, order consistency, and the latency of each type.
//!
//! Design note. A single-threaded helper (`__helper kcmp-family`) builds the family: plain
//! fork children, clone children with each sharing flag, a thread, and a few fds (one
//! opened twice, one dup'd, one in an epoll set). It reports the pids and fd numbers and
//! keeps everything alive until told `quit`; then it kills and reaps every child. The
//! harness makes every kcmp call from outside, as CRIU or a debugger would.
//!
//! IO and SYSVSEM compare the task's `io_context` and SysV undo list, which exist only once
//! allocated; two tasks with none compare equal. So the helper arranges the allocation
//! states on purpose (kernel sources: block/blk-ioc.c `__copy_io`, ipc/sem.c `copy_semundo`):
//! - `fork_a`, `fork_b` are forked before anything is allocated: both have none;
//! - `undo_a`, `undo_b` each take a semaphore with SEM_UNDO themselves, and the helper sets
//!   an ioprio on each: both have their own of each;
//! - `clone_sysvsem` is cloned with CLONE_SYSVSEM, which allocates the helper's undo list
//!   and shares it;
//! - then the helper sets its own ioprio, so `clone_io` shares a real io_context, and every
//!   child cloned after it without CLONE_IO (`fork_after_ioprio`, the CLONE_VM/FILES/FS/
//!   SIGHAND children, the thread) gets its own copy.
//!
//! Every sharing claim is paired with a negative control in which both sides hold an
//! allocated object.

use crate::context::Context;
use crate::helpers::reply;
use crate::{Descriptor, Workload};
use kobench_harness::child::Helper;
use kobench_harness::sample::{plain_loop_ns, sample, Budget};
use kobench_harness::schema::{Measurement, Verdict};
use kobench_harness::stats::Summary;
use kobench_harness::sys::clone::{CloneFlags, Parked};
use kobench_harness::sys::kcmp::{self as k, EpollSlot, KcmpType};
use kobench_harness::sys::mem::{Mapping, Prot};
use kobench_harness::sys::{epoll, ioprio, outcome, process as proc_, sysvsem, Errno};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::os::fd::AsRawFd;
use std::time::Duration;

pub struct Kcmp;

const HELPER_TIMEOUT: Duration = Duration::from_secs(30);
const CHILD_READY: Duration = Duration::from_secs(10);

/// The types that compare per-task objects (no index).
pub const TASK_TYPES: [KcmpType; 6] = [
    KcmpType::Vm,
    KcmpType::Files,
    KcmpType::Fs,
    KcmpType::Sighand,
    KcmpType::Io,
    KcmpType::Sysvsem,
];

impl Workload for Kcmp {
    fn descriptor(&self) -> Descriptor {
        Descriptor {
            name: "kcmp",
            summary: "sharing matrix over threads, fork and clone children (VM/FILES/FS/SIGHAND/IO/SYSVSEM), FILE and EPOLL_TFD, errors, order, latency per type",
            exercises: &["kcmp(2): every type", "clone(2) with CLONE_VM, CLONE_FILES, CLONE_FS, CLONE_SIGHAND, CLONE_IO, CLONE_SYSVSEM", "ioprio_set(2)", "semop(2) SEM_UNDO", "epoll_ctl(2)"],
            rules: &["KCMP-EQ", "KCMP-SHARE", "KCMP-FILE", "KCMP-EPOLL", "KCMP-ARGS"],
            verifies: true,
            unavailable_when: "the kernel has no kcmp (CONFIG_KCMP=n: ENOSYS) or seccomp/an LSM refuses it",
        }
    }

    fn unavailable(&self, _ctx: &Context) -> Option<String> {
        let me = proc_::getpid();
        match k::kcmp(me, me, KcmpType::Vm, 0, 0) {
            Ok(_) => None,
            Err(e) if e.0 == libc::ENOSYS => Some(
                "kcmp returned ENOSYS: kernel built without CONFIG_KCMP (or CHECKPOINT_RESTORE)"
                    .into(),
            ),
            Err(e) => Some(format!(
                "kcmp on this process itself failed with {e}: seccomp or an LSM refuses it"
            )),
        }
    }

    fn deadline(&self, ctx: &Context) -> Duration {
        ctx.profile.pick(
            Duration::from_secs(60),
            Duration::from_secs(60),
            Duration::from_secs(180),
            Duration::from_secs(600),
        )
    }

    fn run(&self, ctx: &Context) -> anyhow::Result<()> {
        ctx.out.progress("kcmp: building the process family");
        let mut h = Helper::spawn(&ctx.helper_exe, "kcmp-family", &[])?;
        let fam: Family = h.recv(HELPER_TIMEOUT)?;
        if let Some(e) = &fam.error {
            anyhow::bail!("kcmp-family helper could not build the family: {e}");
        }
        let mut pids: BTreeMap<String, i32> = fam.members.clone();
        pids.insert("helper".into(), h.pid());
        ctx.out.data("processes", json!(pids));
        ctx.out
            .data("parent_ioprio_before", json!(fam.parent_ioprio_before));

        ctx.out.progress("kcmp: sharing matrix");
        share_checks(ctx, &fam);
        ctx.out.progress("kcmp: order consistency");
        eq_checks(ctx, &fam);
        ctx.out.progress("kcmp: FILE, EPOLL_TFD, arguments");
        ctx.out.verdicts(file_checks(&fam));
        ctx.out.verdicts(epoll_checks(&fam)?);
        ctx.out.verdicts(args_checks(&fam));
        latency(ctx, &fam)?;

        ctx.out.progress("kcmp: tearing the family down");
        let down: Teardown = h.request("quit", HELPER_TIMEOUT)?;
        let _ = h.finish(Duration::from_secs(5));
        ctx.out.data("teardown", json!(down));
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The helper: builds the family, reports it, keeps it until `quit`.

/// fd numbers in the helper (the `parent`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fds {
    /// `/dev/null`, opened before any child: inherited by the fork children.
    pub orig: i32,
    /// `/dev/null` opened again: another open file.
    pub reopened: i32,
    /// `dup(orig)`.
    pub dup: i32,
    /// Opened after every child: absent from the fork children, present in the CLONE_FILES one.
    pub late: i32,
    /// A pipe's read end, made before any child (inherited by the fork children).
    pub polled: i32,
    /// An epoll instance watching `polled` (/dev/null cannot be polled: epoll_ctl says EPERM).
    pub epoll: i32,
    /// A number no process of the family has open.
    pub not_open: i32,
}

/// What the helper reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Family {
    /// role -> pid (tid for `thread`); `parent` is the helper itself.
    pub members: BTreeMap<String, i32>,
    pub fds: Option<Fds>,
    /// The helper's ioprio before it set one (class 0: none, so its fork children got no io_context).
    pub parent_ioprio_before: i32,
    pub error: Option<String>,
}

impl Family {
    fn pid(&self, role: &str) -> i32 {
        self.members.get(role).copied().unwrap_or(-1)
    }

    fn fds(&self) -> &Fds {
        self.fds.as_ref().expect("reported with the family")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Teardown {
    pub killed_and_reaped: usize,
    pub thread_joined: bool,
}

/// `__helper kcmp-family`: builds the family (see the module note), replies with a
/// [`Family`], waits for `quit` (or end of input), kills and reaps everything, replies
/// with a [`Teardown`].
pub fn helper_family(_args: &[String]) -> i32 {
    let mut kids: Vec<Parked> = Vec::new();
    let mut fam = Family {
        members: BTreeMap::new(),
        fds: None,
        parent_ioprio_before: -1,
        error: None,
    };
    let (quit_tx, quit_rx) = std::sync::mpsc::channel::<()>();
    let mut keep = Vec::new();
    let mut thread = None;
    if let Err(e) = build(&mut fam, &mut kids, &mut keep, quit_rx, &mut thread) {
        fam.error = Some(e);
    }
    reply(&fam);
    if fam.error.is_none() {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(l) if l.trim() == "quit" => break,
                Ok(_) => continue,
                Err(_) => break,
            }
        }
    }
    drop(quit_tx);
    let thread_joined = thread
        .map(|t: std::thread::JoinHandle<()>| t.join().is_ok())
        .unwrap_or(false);
    let n = kids.len();
    drop(kids);
    drop(keep);
    reply(&Teardown {
        killed_and_reaped: n,
        thread_joined,
    });
    0
}

fn build(
    fam: &mut Family,
    kids: &mut Vec<Parked>,
    keep: &mut Vec<std::os::fd::OwnedFd>,
    quit: std::sync::mpsc::Receiver<()>,
    thread: &mut Option<std::thread::JoinHandle<()>>,
) -> Result<(), String> {
    let me = proc_::getpid();
    fam.members.insert("parent".into(), me);
    fam.parent_ioprio_before = ioprio::get(0).map_err(|e| format!("ioprio_get: {e}"))?;
    let orig: std::os::fd::OwnedFd = std::fs::File::open("/dev/null")
        .map_err(|e| format!("open /dev/null: {e}"))?
        .into();
    let (polled, polled_w) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (polled, polled_w): (std::os::fd::OwnedFd, std::os::fd::OwnedFd) =
        (polled.into(), polled_w.into());
    let mut spawn = |role: &str,
                     flags: CloneFlags,
                     semid: Option<i32>,
                     kids: &mut Vec<Parked>|
     -> Result<i32, String> {
        let p = Parked::spawn(flags, semid, CHILD_READY)
            .map_err(|e| format!("clone {role} ({}): {e}", flags.name()))?;
        let pid = p.pid();
        fam.members.insert(role.into(), pid);
        kids.push(p);
        Ok(pid)
    };
    // 1. Nothing allocated yet: two plain fork children with neither object.
    spawn("fork_a", CloneFlags::FORK, None, kids)?;
    spawn("fork_b", CloneFlags::FORK, None, kids)?;
    // 2. Two fork children that each take a private semaphore with SEM_UNDO (own undo list).
    let sem = sysvsem::SemSet::private(1).map_err(|e| format!("semget: {e}"))?;
    let undo_a = spawn("undo_a", CloneFlags::FORK, Some(sem.id()), kids)?;
    let undo_b = spawn("undo_b", CloneFlags::FORK, Some(sem.id()), kids)?;
    sem.remove().map_err(|e| format!("semctl IPC_RMID: {e}"))?;
    // 3. CLONE_SYSVSEM allocates this process's undo list and shares it.
    spawn("clone_sysvsem", CloneFlags::SYSVSEM, None, kids)?;
    // 4. io_contexts: the undo children's own, then ours; CLONE_IO shares ours.
    let prio = ioprio::value(ioprio::CLASS_BE, 4);
    for pid in [undo_a, undo_b, 0] {
        ioprio::set(pid, prio).map_err(|e| format!("ioprio_set({pid}): {e}"))?;
    }
    spawn("clone_io", CloneFlags::IO, None, kids)?;
    spawn("fork_after_ioprio", CloneFlags::FORK, None, kids)?;
    spawn("clone_vm", CloneFlags::VM, None, kids)?;
    spawn("clone_files", CloneFlags::FILES, None, kids)?;
    spawn("clone_fs", CloneFlags::FS, None, kids)?;
    spawn("clone_sighand_vm", CloneFlags::SIGHAND_VM, None, kids)?;
    // 5. fds opened after every child.
    let open = || -> Result<std::os::fd::OwnedFd, String> {
        Ok(std::fs::File::open("/dev/null")
            .map_err(|e| format!("open /dev/null: {e}"))?
            .into())
    };
    let reopened = open()?;
    let dup = orig.try_clone().map_err(|e| format!("dup: {e}"))?;
    let late = open()?;
    let ep = epoll::create().map_err(|e| format!("epoll_create1: {e}"))?;
    epoll::add(&ep, polled.as_raw_fd()).map_err(|e| format!("epoll_ctl ADD: {e}"))?;
    fam.fds = Some(Fds {
        orig: orig.as_raw_fd(),
        reopened: reopened.as_raw_fd(),
        dup: dup.as_raw_fd(),
        late: late.as_raw_fd(),
        polled: polled.as_raw_fd(),
        epoll: ep.as_raw_fd(),
        // Far beyond any fd table in the family.
        not_open: 1_000_000,
    });
    keep.extend([orig, reopened, dup, late, polled, polled_w, ep]);
    // 6. Last (no more clones after it): a thread, parked until quit.
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    *thread = Some(std::thread::spawn(move || {
        let _ = tid_tx.send(proc_::gettid());
        let _ = quit.recv();
    }));
    let tid = tid_rx
        .recv_timeout(CHILD_READY)
        .map_err(|e| format!("thread did not start: {e}"))?;
    fam.members.insert("thread".into(), tid);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// KCMP-SHARE: the matrix.

/// One row of the sharing matrix: a pair of family members and what each type must show.
pub struct Row {
    pub relationship: &'static str,
    pub a: &'static str,
    pub b: &'static str,
    /// Expected equality for VM, FILES, FS, SIGHAND, IO, SYSVSEM (the order of [`TASK_TYPES`]).
    pub eq: [bool; 6],
}

/// The matrix. `none_io`: the helper had no ioprio when it forked `fork_a`/`fork_b`, so
/// neither got an io_context (true unless kobench itself runs under `ionice`).
pub fn rows(none_io: bool) -> Vec<Row> {
    const T: bool = true;
    const F: bool = false;
    vec![
        Row {
            relationship: "thread",
            a: "parent",
            b: "thread",
            eq: [T, T, T, T, F, T],
        },
        Row {
            relationship: "fork child",
            a: "parent",
            b: "fork_a",
            eq: [F, F, F, F, F, F],
        },
        Row {
            relationship: "CLONE_VM child",
            a: "parent",
            b: "clone_vm",
            eq: [T, F, F, F, F, F],
        },
        Row {
            relationship: "CLONE_FILES child",
            a: "parent",
            b: "clone_files",
            eq: [F, T, F, F, F, F],
        },
        Row {
            relationship: "CLONE_FS child",
            a: "parent",
            b: "clone_fs",
            eq: [F, F, T, F, F, F],
        },
        Row {
            relationship: "CLONE_SIGHAND|CLONE_VM child",
            a: "parent",
            b: "clone_sighand_vm",
            eq: [T, F, F, T, F, F],
        },
        Row {
            relationship: "CLONE_IO child",
            a: "parent",
            b: "clone_io",
            eq: [F, F, F, F, T, F],
        },
        Row {
            relationship: "CLONE_SYSVSEM child",
            a: "parent",
            b: "clone_sysvsem",
            eq: [F, F, F, F, F, T],
        },
        Row {
            relationship: "two fork children, neither with io_context nor undo list",
            a: "fork_a",
            b: "fork_b",
            eq: [F, F, F, F, none_io, T],
        },
        Row {
            relationship: "fork child without vs with (ioprio, SEM_UNDO)",
            a: "fork_a",
            b: "undo_a",
            eq: [F; 6],
        },
        Row {
            relationship: "two fork children, each with its own (ioprio, SEM_UNDO)",
            a: "undo_a",
            b: "undo_b",
            eq: [F; 6],
        },
        Row {
            relationship: "fork child made after the parent's ioprio (own io_context copy)",
            a: "parent",
            b: "fork_after_ioprio",
            eq: [F; 6],
        },
        Row {
            relationship: "fork child that took SEM_UNDO itself (own undo list)",
            a: "parent",
            b: "undo_a",
            eq: [F; 6],
        },
    ]
}

/// For each type: the row that shows the sharing and its negative control (both sides
/// holding an allocated object, made without the flag).
const CLAIMS: [(KcmpType, &str, &str); 6] = [
    (KcmpType::Vm, "CLONE_VM child", "fork child"),
    (KcmpType::Files, "CLONE_FILES child", "fork child"),
    (KcmpType::Fs, "CLONE_FS child", "fork child"),
    (
        KcmpType::Sighand,
        "CLONE_SIGHAND|CLONE_VM child",
        "fork child",
    ),
    (
        KcmpType::Io,
        "CLONE_IO child",
        "fork child made after the parent's ioprio (own io_context copy)",
    ),
    (
        KcmpType::Sysvsem,
        "CLONE_SYSVSEM child",
        "fork child that took SEM_UNDO itself (own undo list)",
    ),
];

/// `eq`, `ne`, or the errno name; 3 (unordered) shows as `3`, which no expectation accepts.
pub fn relation(r: &Result<i64, Errno>) -> String {
    match r {
        Ok(0) => "eq".into(),
        Ok(1) | Ok(2) => "ne".into(),
        other => outcome(other),
    }
}

fn eq_word(eq: bool) -> &'static str {
    if eq {
        "eq"
    } else {
        "ne"
    }
}

fn share_checks(ctx: &Context, fam: &Family) {
    let none_io = ioprio::class_of(fam.parent_ioprio_before) == 0;
    let mut table_rows = Vec::new();
    let mut cells = Vec::new();
    let mut observed_of = BTreeMap::new();
    for row in rows(none_io) {
        let (a, b) = (fam.pid(row.a), fam.pid(row.b));
        let mut exp = Vec::new();
        let mut obs = Vec::new();
        let mut trow = vec![
            json!(row.relationship),
            json!(format!("{} vs {}", row.a, row.b)),
        ];
        for (i, t) in TASK_TYPES.iter().enumerate() {
            let r = k::kcmp(a, b, *t, 0, 0);
            let o = relation(&r);
            let e = eq_word(row.eq[i]);
            exp.push(format!("{} {e}", t.name()));
            obs.push(format!("{} {o} ({})", t.name(), outcome(&r)));
            trow.push(json!(format!("{e}/{o}")));
            cells.push(json!({"relationship": row.relationship, "a": row.a, "b": row.b, "type": t.name(), "expected": e, "observed": o, "kcmp": outcome(&r)}));
            observed_of.insert((row.relationship, *t), o.clone());
        }
        let ok = exp.iter().zip(&obs).all(|(e, o)| o.starts_with(e.as_str()));
        ctx.out.verdict(Verdict::check(
            "KCMP-SHARE",
            format!("{} ({} vs {}): every type", row.relationship, row.a, row.b),
            ok,
            exp.join(", "),
            obs.join(", "),
        ));
        table_rows.push(json!(trow));
    }
    for (t, shared, control) in CLAIMS {
        let s = observed_of.get(&(shared, t)).cloned().unwrap_or_default();
        let c = observed_of.get(&(control, t)).cloned().unwrap_or_default();
        ctx.out.verdict(Verdict::check(
            "KCMP-SHARE",
            format!(
                "{}: {shared} shares it; control ({control}) does not",
                t.name()
            ),
            s == "eq" && c == "ne",
            "eq / ne",
            format!("{s} / {c}"),
        ));
    }
    let pair = "two fork children, neither with io_context nor undo list";
    let io = observed_of
        .get(&(pair, KcmpType::Io))
        .cloned()
        .unwrap_or_default();
    let sem = observed_of
        .get(&(pair, KcmpType::Sysvsem))
        .cloned()
        .unwrap_or_default();
    if none_io {
        ctx.out.verdict(Verdict::check(
            "KCMP-SHARE",
            "IO and SYSVSEM compare equal while neither side has one allocated (fork_a vs fork_b)",
            io == "eq" && sem == "eq",
            "IO eq, SYSVSEM eq",
            format!("IO {io}, SYSVSEM {sem}"),
        ));
    } else {
        ctx.out.verdict(Verdict::check("KCMP-SHARE", "SYSVSEM compares equal while neither side has an undo list (fork_a vs fork_b)", sem == "eq", "eq", sem).with_note(format!("IO part skipped: the helper inherited ioprio {:#x} (kobench runs under ionice?), so its fork children got io_contexts", fam.parent_ioprio_before)));
    }
    let mut columns = vec![json!("relationship"), json!("pair")];
    columns.extend(TASK_TYPES.iter().map(|t| json!(t.name())));
    ctx.out.data("sharing_matrix", json!({"kind": "table", "title": "kcmp sharing matrix (expected/observed: eq = kcmp 0, ne = 1 or 2)", "columns": columns, "rows": table_rows}));
    ctx.out.data("sharing", json!(cells));
}

// ---------------------------------------------------------------------------------------
// KCMP-EQ: values, antisymmetry, order consistency, equality classes.

/// What a full n×n kcmp matrix shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderCheck {
    pub n: usize,
    /// Off-diagonal or diagonal values other than 0/1/2 (errors included).
    pub bad_values: Vec<String>,
    pub diagonal_nonzero: usize,
    pub antisymmetry_violations: usize,
    pub transitivity_violations: usize,
    pub triples: usize,
}

impl OrderCheck {
    pub fn ok(&self) -> bool {
        self.bad_values.is_empty()
            && self.diagonal_nonzero == 0
            && self.antisymmetry_violations == 0
            && self.transitivity_violations == 0
    }
}

/// Checks a matrix of kcmp results `m[i][j] = kcmp(i, j)` for the rules of a total
/// preorder: values in {0, 1, 2}, 0 on the diagonal, `m[i][j] = 1` iff `m[j][i] = 2` (and
/// 0 iff 0), and transitivity of both `<` (1) and `=` (0) over every triple.
pub fn check_order(m: &[Vec<Result<i64, Errno>>]) -> OrderCheck {
    let n = m.len();
    let mut c = OrderCheck {
        n,
        ..Default::default()
    };
    let v = |i: usize, j: usize| -> Option<i64> {
        m[i][j]
            .as_ref()
            .ok()
            .copied()
            .filter(|x| (0..=2).contains(x))
    };
    for (i, row) in m.iter().enumerate() {
        for (j, r) in row.iter().enumerate() {
            if v(i, j).is_none() {
                c.bad_values.push(format!("[{i}][{j}]={}", outcome(r)));
            }
        }
        if v(i, i) != Some(0) {
            c.diagonal_nonzero += 1;
        }
    }
    if !c.bad_values.is_empty() {
        return c;
    }
    let mirror = |x: i64| [0, 2, 1][x as usize];
    for i in 0..n {
        for j in i + 1..n {
            if v(j, i) != v(i, j).map(mirror) {
                c.antisymmetry_violations += 1;
            }
        }
    }
    // rank: 0 equal, 1 less, 2 greater. i R j and j R k must give i R k for R in {<, =};
    // i < j = k and i = j < k give i < k.
    for i in 0..n {
        for j in 0..n {
            for kk in 0..n {
                c.triples += 1;
                let (ij, jk, ik) = (v(i, j).unwrap(), v(j, kk).unwrap(), v(i, kk).unwrap());
                let want = match (ij, jk) {
                    (0, 0) => Some(0),
                    (1, 1) | (1, 0) | (0, 1) => Some(1),
                    (2, 2) | (2, 0) | (0, 2) => Some(2),
                    _ => None,
                };
                if want.is_some_and(|w| w != ik) {
                    c.transitivity_violations += 1;
                }
            }
        }
    }
    c
}

fn eq_checks(ctx: &Context, fam: &Family) {
    // Everyone in the family plus the harness itself.
    let mut set: Vec<(String, i32)> = fam.members.iter().map(|(r, p)| (r.clone(), *p)).collect();
    set.push(("harness".into(), proc_::getpid()));
    let expected_class: [(KcmpType, &[&str]); 6] = [
        (
            KcmpType::Vm,
            &["clone_sighand_vm", "clone_vm", "parent", "thread"],
        ),
        (KcmpType::Files, &["clone_files", "parent", "thread"]),
        (KcmpType::Fs, &["clone_fs", "parent", "thread"]),
        (KcmpType::Sighand, &["clone_sighand_vm", "parent", "thread"]),
        (KcmpType::Io, &["clone_io", "parent"]),
        (KcmpType::Sysvsem, &["clone_sysvsem", "parent", "thread"]),
    ];
    let mut orders = serde_json::Map::new();
    for (t, class) in expected_class {
        let m: Vec<Vec<Result<i64, Errno>>> = set
            .iter()
            .map(|(_, a)| set.iter().map(|(_, b)| k::kcmp(*a, *b, t, 0, 0)).collect())
            .collect();
        let c = check_order(&m);
        let mut counts = BTreeMap::new();
        for r in m.iter().flatten() {
            *counts.entry(outcome(r)).or_insert(0usize) += 1;
        }
        ctx.out.verdict(Verdict::check(
            "KCMP-EQ",
            format!("{}: {}x{} matrix over the family and the harness: values 0/1/2 only (never 3), kcmp(a,a)=0, kcmp(a,b)=1 iff kcmp(b,a)=2, transitive", t.name(), c.n, c.n),
            c.ok(),
            "only 0/1/2, 0 violations",
            format!("values {counts:?}; diagonal non-zero {}, antisymmetry violations {}, transitivity violations {} of {} triples{}", c.diagonal_nonzero, c.antisymmetry_violations, c.transitivity_violations, c.triples, if c.bad_values.is_empty() { String::new() } else { format!("; bad: {}", c.bad_values.join(" ")) }),
        ));
        // 0 exactly when the same object: the parent's class is what the family shares.
        let pi = set.iter().position(|(r, _)| r == "parent").unwrap_or(0);
        let mut got: Vec<&str> = set
            .iter()
            .enumerate()
            .filter(|(j, _)| m[pi][*j] == Ok(0))
            .map(|(_, (r, _))| r.as_str())
            .collect();
        got.sort_unstable();
        ctx.out.verdict(Verdict::expect_eq("KCMP-EQ", format!("{}: members with kcmp(parent, x) = 0 are exactly those sharing the parent's object", t.name()), class.join(","), got.join(",")));
        if c.ok() {
            // Sort by the kcmp order and record the classes.
            let mut idx: Vec<usize> = (0..set.len()).collect();
            idx.sort_by(|&i, &j| match m[i][j] {
                Ok(1) => std::cmp::Ordering::Less,
                Ok(2) => std::cmp::Ordering::Greater,
                _ => std::cmp::Ordering::Equal,
            });
            let sorted_ok =
                (0..idx.len()).all(|x| (x + 1..idx.len()).all(|y| m[idx[x]][idx[y]] != Ok(2)));
            let mut classes: Vec<Vec<String>> = Vec::new();
            for (x, &i) in idx.iter().enumerate() {
                if x > 0 && m[idx[x - 1]][i] == Ok(0) {
                    classes
                        .last_mut()
                        .expect("one class started")
                        .push(set[i].0.clone());
                } else {
                    classes.push(vec![set[i].0.clone()]);
                }
            }
            if t == KcmpType::Vm {
                ctx.out.verdict(Verdict::check("KCMP-EQ", format!("sorting {} processes by kcmp VM gives a consistent total order", set.len()), sorted_ok && set.len() >= 4, "every later element compares >= every earlier one (no 2 before it)", format!("{} processes in {} classes; sorted order consistent over {} pairs: {sorted_ok}", set.len(), classes.len(), set.len() * (set.len() - 1) / 2)));
            }
            orders.insert(t.name().into(), json!(classes));
        }
    }
    ctx.out.data("sorted_classes", json!(orders));
}

// ---------------------------------------------------------------------------------------
// KCMP-FILE, KCMP-EPOLL, KCMP-ARGS.

fn expect(rule: &str, check: &str, expected: &str, r: Result<i64, Errno>) -> Verdict {
    Verdict::expect_eq(rule, check, expected, outcome(&r))
}

fn expect_ne(rule: &str, check: &str, r: Result<i64, Errno>) -> Verdict {
    Verdict::check(
        rule,
        check,
        matches!(r, Ok(1) | Ok(2)),
        "1 or 2",
        outcome(&r),
    )
}

fn file_checks(fam: &Family) -> Vec<Verdict> {
    let f = fam.fds();
    let (p, fa, cf) = (fam.pid("parent"), fam.pid("fork_a"), fam.pid("clone_files"));
    let file = |a, b, i: i32, j: i32| k::kcmp(a, b, KcmpType::File, i as u64, j as u64);
    let fwd = file(p, p, f.orig, f.reopened);
    let back = file(p, p, f.reopened, f.orig);
    vec![
        expect(
            "KCMP-FILE",
            "dup'd fd: kcmp(parent, parent, FILE, fd, dup(fd))",
            "0",
            file(p, p, f.orig, f.dup),
        ),
        expect(
            "KCMP-FILE",
            "fd inherited over fork: kcmp(parent, fork_a, FILE, fd, fd)",
            "0",
            file(p, fa, f.orig, f.orig),
        ),
        expect(
            "KCMP-FILE",
            "CLONE_FILES child sees an fd opened after the clone (one table)",
            "0",
            file(p, cf, f.late, f.late),
        ),
        expect_ne("KCMP-FILE", "same path (/dev/null) opened twice", fwd),
        Verdict::check(
            "KCMP-FILE",
            "same path opened twice, both orders: antisymmetric",
            matches!((&fwd, &back), (Ok(1), Ok(2)) | (Ok(2), Ok(1))),
            "1/2 or 2/1",
            format!("{}/{}", outcome(&fwd), outcome(&back)),
        ),
        expect(
            "KCMP-FILE",
            "fd indexes are 32-bit: idx1 = fd | 1<<32 still names fd",
            "0",
            k::kcmp(p, p, KcmpType::File, f.orig as u64 | 1 << 32, f.dup as u64),
        ),
    ]
}

fn epoll_checks(fam: &Family) -> anyhow::Result<Vec<Verdict>> {
    let f = fam.fds();
    let (p, fa) = (fam.pid("parent"), fam.pid("fork_a"));
    let slot = |efd: i32, tfd: i32, toff: u32| EpollSlot {
        efd: efd as u32,
        tfd: tfd as u32,
        toff,
    };
    let present = slot(f.epoll, f.polled, 0);
    let mut v = vec![
        expect(
            "KCMP-EPOLL",
            "fd in the epoll set: kcmp(parent, parent, EPOLL_TFD, fd, {epfd, fd, 0})",
            "0",
            k::kcmp_epoll(p, p, f.polled, &present),
        ),
        expect(
            "KCMP-EPOLL",
            "another process's fd (inherited by fork_a) in the parent's epoll set",
            "0",
            k::kcmp_epoll(fa, p, f.polled, &present),
        ),
        expect_ne(
            "KCMP-EPOLL",
            "registered slot, compared with a different file (the reopened fd)",
            k::kcmp_epoll(p, p, f.reopened, &present),
        ),
        expect(
            "KCMP-EPOLL",
            "absent: a target fd never added",
            "ENOENT",
            k::kcmp_epoll(p, p, f.reopened, &slot(f.epoll, f.reopened, 0)),
        ),
        expect(
            "KCMP-EPOLL",
            "absent: the right fd at another offset (toff 1)",
            "ENOENT",
            k::kcmp_epoll(p, p, f.polled, &slot(f.epoll, f.polled, 1)),
        ),
        expect(
            "KCMP-EPOLL",
            "efd is not an epoll fd (/dev/null)",
            "EINVAL",
            k::kcmp_epoll(p, p, f.polled, &slot(f.orig, f.polled, 0)),
        ),
        expect(
            "KCMP-EPOLL",
            "idx1 fd not open",
            "EBADF",
            k::kcmp_epoll(p, p, f.not_open, &present),
        ),
        expect(
            "KCMP-EPOLL",
            "efd not open",
            "EBADF",
            k::kcmp_epoll(p, p, f.polled, &slot(f.not_open, f.polled, 0)),
        ),
        expect(
            "KCMP-EPOLL",
            "bad slot pointer (8, in the unmapped page 0)",
            "EFAULT",
            k::raw(p, p, KcmpType::EpollTfd.raw(), f.polled as u64, 8),
        ),
        expect(
            "KCMP-EPOLL",
            "bad slot pointer (a kernel address)",
            "EFAULT",
            k::raw(
                p,
                p,
                KcmpType::EpollTfd.raw(),
                f.polled as u64,
                0xffff_ffff_ffff_f000,
            ),
        ),
    ];
    // The slot is three u32: 12 bytes right before an inaccessible page are read in full,
    // and a slot that runs 4 bytes into it faults. The page after a one-page memfd mapped
    // over two pages lies beyond end of file: any access to it faults.
    let page = kobench_harness::sys::mem::page_size();
    let mfd = kobench_harness::sys::mem::memfd("kobench-kcmp-slot", page)?;
    let bytes: Vec<u8> = [present.efd, present.tfd, present.toff]
        .iter()
        .flat_map(|x| x.to_ne_bytes())
        .collect();
    std::os::unix::fs::FileExt::write_all_at(
        &std::fs::File::from(mfd.try_clone()?),
        &bytes,
        (page - 12) as u64,
    )?;
    let m = Mapping::shared_fd(mfd.as_raw_fd(), 2 * page, Prot::Read)?;
    let guard = m.addr() + page;
    v.push(expect(
        "KCMP-EPOLL",
        "slot is three u32: 12 readable bytes just before an inaccessible page",
        "0",
        k::raw(
            p,
            p,
            KcmpType::EpollTfd.raw(),
            f.polled as u64,
            (guard - 12) as u64,
        ),
    ));
    v.push(expect(
        "KCMP-EPOLL",
        "slot running 4 bytes into an inaccessible page",
        "EFAULT",
        k::raw(
            p,
            p,
            KcmpType::EpollTfd.raw(),
            f.polled as u64,
            (guard - 8) as u64,
        ),
    ));
    Ok(v)
}

/// A pid no process has: pids are below `pid_max` (proc(5)).
fn missing_pid() -> i32 {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4_194_304)
}

fn args_checks(fam: &Family) -> Vec<Verdict> {
    let f = fam.fds();
    let (p, fa) = (fam.pid("parent"), fam.pid("fork_a"));
    let gone = missing_pid();
    let mut v = vec![
        expect(
            "KCMP-ARGS",
            &format!("missing pid1 ({gone} = pid_max)"),
            "ESRCH",
            k::kcmp(gone, p, KcmpType::Vm, 0, 0),
        ),
        expect(
            "KCMP-ARGS",
            "missing pid2",
            "ESRCH",
            k::kcmp(p, gone, KcmpType::Vm, 0, 0),
        ),
        expect(
            "KCMP-ARGS",
            "missing pid with a bad type (99): ESRCH checked first",
            "ESRCH",
            k::raw(gone, p, 99, 0, 0),
        ),
        expect(
            "KCMP-ARGS",
            "missing pid with FILE and fds not open: ESRCH checked first",
            "ESRCH",
            k::kcmp(
                gone,
                p,
                KcmpType::File,
                f.not_open as u64,
                f.not_open as u64,
            ),
        ),
        expect(
            "KCMP-ARGS",
            "bad type 8 (KCMP_TYPES)",
            "EINVAL",
            k::raw(p, p, 8, 0, 0),
        ),
        expect("KCMP-ARGS", "bad type -1", "EINVAL", k::raw(p, p, -1, 0, 0)),
        expect(
            "KCMP-ARGS",
            "FILE with idx1 not open",
            "EBADF",
            k::kcmp(p, p, KcmpType::File, f.not_open as u64, f.orig as u64),
        ),
        expect(
            "KCMP-ARGS",
            "FILE with idx2 not open",
            "EBADF",
            k::kcmp(p, p, KcmpType::File, f.orig as u64, f.not_open as u64),
        ),
        expect(
            "KCMP-ARGS",
            "FILE with an fd the fork child never had (opened after the fork)",
            "EBADF",
            k::kcmp(p, fa, KcmpType::File, f.late as u64, f.late as u64),
        ),
    ];
    v.push(Verdict::info("KCMP-ARGS", "EPERM between ESRCH and EINVAL", format!("not checked here (euid {}): it needs a caller without ptrace access; the access-gate workload checks it under KCMP-GATE", proc_::euid())));
    v
}

// ---------------------------------------------------------------------------------------
// Latency per type.

/// One timed kcmp call.
type KcmpOp<'a> = Box<dyn Fn() -> Result<i64, Errno> + 'a>;

fn latency(ctx: &Context, fam: &Family) -> anyhow::Result<()> {
    let f = fam.fds();
    let (p, fa) = (fam.pid("parent"), fam.pid("fork_a"));
    let slot = EpollSlot {
        efd: f.epoll as u32,
        tfd: f.polled as u32,
        toff: 0,
    };
    let budget = ctx.profile.pick(
        Budget::new(2_000, Duration::from_millis(20)),
        Budget::new(50_000, Duration::from_millis(150)),
        Budget::new(300_000, Duration::from_secs(1)),
        Budget::new(1_000_000, Duration::from_secs(3)),
    );
    let plain_n = ctx.profile.pick(2_000, 20_000, 200_000, 500_000);
    // The floor: entering the kernel at all.
    let floor = sample(&ctx.clock, budget, &ctx.cancel, || {
        std::hint::black_box(proc_::getppid_raw());
        Ok::<(), Errno>(())
    })
    .map_err(|e| anyhow::anyhow!("getppid failed: {:?}", e.error))?;
    let floor_summary = Summary::of(&floor);
    let floor_p50 = floor_summary.p50.max(1) as f64;
    let mut params = BTreeMap::new();
    params.insert("variant".to_string(), json!("getppid floor"));
    ctx.out.measurement(Measurement {
        id: "kcmp/getppid".into(),
        unit: "ns".into(),
        smaller_is_better: true,
        params,
        summary: floor_summary,
        derived: BTreeMap::from([("x_floor".to_string(), 1.0)]),
    });
    for t in KcmpType::ALL {
        if ctx.cancelled() {
            break;
        }
        ctx.out.progress(&format!("kcmp: latency of {}", t.name()));
        let (pair, op): (&str, KcmpOp) = match t {
            KcmpType::File => (
                "parent fd vs fork_a fd (same file)",
                Box::new(|| k::kcmp(p, fa, KcmpType::File, f.orig as u64, f.orig as u64)),
            ),
            KcmpType::EpollTfd => (
                "fork_a fd in parent's epoll set (present)",
                Box::new(|| k::kcmp_epoll(fa, p, f.polled, &slot)),
            ),
            t => (
                "parent vs fork_a",
                Box::new(move || k::kcmp(p, fa, t, 0, 0)),
            ),
        };
        let h = sample(&ctx.clock, budget, &ctx.cancel, || op().map(|_| ())).map_err(|e| {
            anyhow::anyhow!(
                "kcmp {} failed after {} samples: {}",
                t.name(),
                e.after_samples,
                e.error
            )
        })?;
        let summary = Summary::of(&h);
        // The same call in a plain loop (no per-call timing): kobench's path adds nothing.
        let plain = plain_loop_ns(plain_n, || {
            let _ = std::hint::black_box(op());
        });
        let mut params = BTreeMap::new();
        params.insert("type".to_string(), json!(t.name()));
        params.insert("variant".to_string(), json!(pair));
        let derived = BTreeMap::from([
            ("x_floor".to_string(), summary.p50 as f64 / floor_p50),
            ("plain_loop_ns".to_string(), plain),
            (
                "ratio_to_plain_loop".to_string(),
                summary.p50 as f64 / plain.max(1.0),
            ),
        ]);
        ctx.out.measurement(Measurement {
            id: format!("kcmp/{}", t.name()),
            unit: "ns".into(),
            smaller_is_better: true,
            params,
            summary,
            derived,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: &[&[i64]]) -> Vec<Vec<Result<i64, Errno>>> {
        v.iter()
            .map(|r| r.iter().map(|&x| Ok(x)).collect())
            .collect()
    }

    #[test]
    fn order_of_a_consistent_matrix() {
        // a = b < c
        let c = check_order(&m(&[&[0, 0, 1], &[0, 0, 1], &[2, 2, 0]]));
        assert!(c.ok(), "{c:?}");
        assert_eq!(c.triples, 27);
    }

    #[test]
    fn order_catches_cycles_asymmetry_and_3() {
        // a < b < c < a: antisymmetric but not transitive.
        let c = check_order(&m(&[&[0, 1, 2], &[2, 0, 1], &[1, 2, 0]]));
        assert!(c.transitivity_violations > 0 && c.antisymmetry_violations == 0);
        let c = check_order(&m(&[&[0, 1], &[1, 0]]));
        assert_eq!(c.antisymmetry_violations, 1);
        let c = check_order(&m(&[&[0, 3], &[3, 0]]));
        assert_eq!(c.bad_values, vec!["[0][1]=3", "[1][0]=3"]);
        assert!(!c.ok());
    }

    #[test]
    fn every_claim_has_a_row_and_a_control_with_the_type_unshared() {
        let rs = rows(true);
        for (t, shared, control) in CLAIMS {
            let i = TASK_TYPES.iter().position(|x| *x == t).unwrap();
            assert!(
                rs.iter().any(|r| r.relationship == shared && r.eq[i]),
                "{shared}"
            );
            assert!(
                rs.iter().any(|r| r.relationship == control && !r.eq[i]),
                "{control}"
            );
        }
    }

    #[test]
    fn relation_words() {
        assert_eq!(relation(&Ok(0)), "eq");
        assert_eq!(relation(&Ok(2)), "ne");
        assert_eq!(relation(&Ok(3)), "3");
        assert_eq!(relation(&Err(Errno(libc::EBADF))), "EBADF");
    }
}
