//! The Kobicha access gate as a model: a pure function from (caller, target, right) to
//! allow or deny, with the reason.
//!
//! Design note. A Kobicha gate is two checks, made in this order:
//!
//! 1. **SD**: the target's security descriptor must grant the caller the right. An SD is
//!    an owner and an *ordered* list of allow/deny entries. Entries are kept in canonical
//!    order (every deny before every allow, each kind in the order given), and the first
//!    entry that names the caller (its user, one of its groups, the SD's owner when the
//!    caller is the owner, or everyone) and whose mask holds the right decides. No such
//!    entry: denied (default deny).
//! 2. **PIP**: the caller's PIP level must dominate the target's. Levels are totally
//!    ordered; dominance is "at least as high".
//!
//! kcmp makes the PROCESS_QUERY_INFORMATION gate against both of its targets (first,
//! then second); process_vm_readv makes the PROCESS_VM_READ gate, process_vm_writev the
//! PROCESS_VM_WRITE gate. The reason of a denial names the check that failed first
//! (SD before PIP) and, for kcmp, which target.
//!
//! The laws the model states (each is a test below, most are property tests):
//!
//! - L1 dominance is reflexive, L2 transitive, L3 total, L4 antisymmetric.
//! - L5 a denied right stays denied when the caller's level drops (and when the target's
//!   rises); equivalently an allowed right stays allowed when the caller's level rises.
//! - L6 a deny entry that names the caller and holds the right wins over any allow entry
//!   for that right, wherever it was placed in the list.
//! - L7 default deny: an SD with no entry naming the caller for the right denies it.
//! - L8 rights are independent: the decision for a right depends only on the entries
//!   whose mask holds it.
//! - L9 the gate is a conjunction: allow iff the SD grants and dominance holds; when the
//!   SD refuses, the reason is the SD whatever the levels (the SD is checked first).
//! - L10 kcmp allows iff the QUERY gate allows on both targets; whether it allows does not
//!   depend on the order of the targets.
//! - L11 adding an allow entry never turns an allow into a deny; adding a deny entry never
//!   turns a deny into an allow.
//! - L12 self access: a process with its default SD (its owner allowed every right) at
//!   the caller's own level is allowed every right to the caller.
//!
//! The mutation switch, [`Dominance::FlippedForMutationTest`], exists only in test builds
//! and with the `mutation-test` feature (which only dev-dependencies enable): no release
//! kobench can be made to use it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A set of process access rights (a mask; bit values as Windows' `PROCESS_*`).
#[derive(Copy, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Rights(pub u32);

impl Rights {
    pub const NONE: Rights = Rights(0);
    pub const VM_READ: Rights = Rights(0x0010);
    pub const VM_WRITE: Rights = Rights(0x0020);
    pub const QUERY_INFORMATION: Rights = Rights(0x0400);
    pub const ALL: Rights = Rights(0x0430);

    pub const fn union(self, o: Rights) -> Rights {
        Rights(self.0 | o.0)
    }

    pub const fn without(self, o: Rights) -> Rights {
        Rights(self.0 & !o.0)
    }

    pub const fn holds(self, r: Right) -> bool {
        self.0 & r.mask().0 != 0
    }
}

impl std::ops::BitOr for Rights {
    type Output = Rights;

    fn bitor(self, o: Rights) -> Rights {
        self.union(o)
    }
}

impl fmt::Debug for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Right::ALL
            .iter()
            .filter(|r| self.holds(**r))
            .map(|r| r.short())
            .collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join("|"))
        }
    }
}

/// One access right, the unit a gate checks.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Right {
    QueryInformation,
    VmRead,
    VmWrite,
}

impl Right {
    pub const ALL: [Right; 3] = [Right::QueryInformation, Right::VmRead, Right::VmWrite];

    pub const fn mask(self) -> Rights {
        match self {
            Right::QueryInformation => Rights::QUERY_INFORMATION,
            Right::VmRead => Rights::VM_READ,
            Right::VmWrite => Rights::VM_WRITE,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Right::QueryInformation => "PROCESS_QUERY_INFORMATION",
            Right::VmRead => "PROCESS_VM_READ",
            Right::VmWrite => "PROCESS_VM_WRITE",
        }
    }

    pub const fn short(self) -> &'static str {
        match self {
            Right::QueryInformation => "QUERY",
            Right::VmRead => "VM_READ",
            Right::VmWrite => "VM_WRITE",
        }
    }
}

pub type UserId = u32;
pub type GroupId = u32;

/// Whom an SD entry names.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Trustee {
    User(UserId),
    Group(GroupId),
    /// Whoever is the SD's owner.
    Owner,
    Everyone,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryKind {
    Allow,
    Deny,
}

/// One SD entry.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry {
    pub kind: EntryKind,
    pub trustee: Trustee,
    pub mask: Rights,
}

impl Entry {
    pub const fn allow(trustee: Trustee, mask: Rights) -> Entry {
        Entry {
            kind: EntryKind::Allow,
            trustee,
            mask,
        }
    }

    pub const fn deny(trustee: Trustee, mask: Rights) -> Entry {
        Entry {
            kind: EntryKind::Deny,
            trustee,
            mask,
        }
    }
}

/// A security descriptor: an owner and entries in canonical order (denies first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityDescriptor {
    owner: UserId,
    entries: Vec<Entry>,
}

impl SecurityDescriptor {
    /// An SD with these entries, put in canonical order (stable: denies, then allows).
    pub fn new(owner: UserId, entries: impl IntoIterator<Item = Entry>) -> SecurityDescriptor {
        let mut entries: Vec<Entry> = entries.into_iter().collect();
        entries.sort_by_key(|e| e.kind == EntryKind::Allow);
        SecurityDescriptor { owner, entries }
    }

    /// A process's default SD: its owner may do everything.
    pub fn default_for(owner: UserId) -> SecurityDescriptor {
        SecurityDescriptor::new(owner, [Entry::allow(Trustee::Owner, Rights::ALL)])
    }

    pub fn owner(&self) -> UserId {
        self.owner
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// This SD with one more entry (canonical order kept).
    pub fn with(&self, e: Entry) -> SecurityDescriptor {
        SecurityDescriptor::new(self.owner, self.entries.iter().copied().chain([e]))
    }

    fn names(&self, t: Trustee, caller: &Token) -> bool {
        match t {
            Trustee::User(u) => u == caller.user,
            Trustee::Group(g) => caller.groups.contains(&g),
            Trustee::Owner => caller.user == self.owner,
            Trustee::Everyone => true,
        }
    }

    /// The SD check alone: `Ok` when granted, else how it refused.
    pub fn decide(&self, caller: &Token, right: Right) -> Result<(), SdDenial> {
        for (i, e) in self.entries.iter().enumerate() {
            if e.mask.holds(right) && self.names(e.trustee, caller) {
                return match e.kind {
                    EntryKind::Allow => Ok(()),
                    EntryKind::Deny => Err(SdDenial::DenyEntry { index: i }),
                };
            }
        }
        Err(SdDenial::NoGrant)
    }

    /// The rights this SD grants the caller.
    pub fn granted(&self, caller: &Token) -> Rights {
        Right::ALL
            .iter()
            .filter(|r| self.decide(caller, **r).is_ok())
            .fold(Rights::NONE, |m, r| m.union(r.mask()))
    }
}

/// A PIP level; levels are totally ordered (higher trusts more).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PipLevel(pub u8);

impl fmt::Display for PipLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{}", self.0)
    }
}

/// Which way dominance points. Only `Normal` exists in kobench as built for users; the
/// flipped direction exists for the mutation test that proves the matrix can fail.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Dominance {
    /// The caller dominates the target when its level is at least as high (the rule).
    #[default]
    Normal,
    /// Wrong on purpose: the caller "dominates" when its level is at most the target's.
    #[cfg(any(test, feature = "mutation-test"))]
    FlippedForMutationTest,
}

impl Dominance {
    pub fn dominates(self, caller: PipLevel, target: PipLevel) -> bool {
        match self {
            Dominance::Normal => caller >= target,
            #[cfg(any(test, feature = "mutation-test"))]
            Dominance::FlippedForMutationTest => caller <= target,
        }
    }
}

/// The caller's token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub user: UserId,
    pub groups: Vec<GroupId>,
    pub level: PipLevel,
}

/// What a gate needs to know about a target process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub sd: SecurityDescriptor,
    pub level: PipLevel,
}

impl Target {
    /// The caller's own process as a target: its default SD at its own level.
    pub fn own_process(caller: &Token) -> Target {
        Target {
            sd: SecurityDescriptor::default_for(caller.user),
            level: caller.level,
        }
    }
}

/// How the SD refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SdDenial {
    /// The entry at this index (canonical order) denies the right to the caller.
    DenyEntry { index: usize },
    /// No entry grants the right to the caller.
    NoGrant,
}

/// Which of an operation's targets a denial is about.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Which {
    /// The one target of readv / writev.
    Target,
    /// kcmp's first target.
    First,
    /// kcmp's second target.
    Second,
}

/// Why a gate denied.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Why {
    Sd {
        which: Which,
        right: Right,
        by: SdDenial,
    },
    Pip {
        which: Which,
        caller: PipLevel,
        target: PipLevel,
    },
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = |w: &Which| match w {
            Which::Target => "",
            Which::First => " (target 1)",
            Which::Second => " (target 2)",
        };
        match self {
            Why::Sd {
                which,
                right,
                by: SdDenial::NoGrant,
            } => write!(f, "SD: no entry grants {}{}", right.name(), w(which)),
            Why::Sd {
                which,
                right,
                by: SdDenial::DenyEntry { index },
            } => write!(f, "SD: entry {index} denies {}{}", right.name(), w(which)),
            Why::Pip {
                which,
                caller,
                target,
            } => write!(f, "PIP: {caller} does not dominate {target}{}", w(which)),
        }
    }
}

/// A gate's answer.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    Allow,
    Deny(Why),
}

impl Decision {
    pub fn is_allow(&self) -> bool {
        matches!(self, Decision::Allow)
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Allow => f.write_str("allow"),
            Decision::Deny(w) => write!(f, "deny ({w})"),
        }
    }
}

/// The operations that pass a gate.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Operation {
    Kcmp,
    Readv,
    Writev,
}

impl Operation {
    /// The right the operation needs.
    pub const fn right(self) -> Right {
        match self {
            Operation::Kcmp => Right::QueryInformation,
            Operation::Readv => Right::VmRead,
            Operation::Writev => Right::VmWrite,
        }
    }

    /// The rule ID whose verdicts check this gate.
    pub const fn rule(self) -> &'static str {
        match self {
            Operation::Kcmp => "KCMP-GATE",
            Operation::Readv => "PVM-READ-GATE",
            Operation::Writev => "PVM-WRITE-GATE",
        }
    }
}

/// The gate for one right against one target (`Which::Target`).
pub fn check(caller: &Token, target: &Target, right: Right) -> Decision {
    check_with(Dominance::Normal, caller, target, right, Which::Target)
}

/// The gate with an explicit dominance direction, naming the target as `which`.
pub fn check_with(
    dom: Dominance,
    caller: &Token,
    target: &Target,
    right: Right,
    which: Which,
) -> Decision {
    if let Err(by) = target.sd.decide(caller, right) {
        return Decision::Deny(Why::Sd { which, right, by });
    }
    if !dom.dominates(caller.level, target.level) {
        return Decision::Deny(Why::Pip {
            which,
            caller: caller.level,
            target: target.level,
        });
    }
    Decision::Allow
}

/// kcmp's gate: PROCESS_QUERY_INFORMATION and dominance on the first target, then the second.
pub fn kcmp(caller: &Token, first: &Target, second: &Target) -> Decision {
    kcmp_with(Dominance::Normal, caller, first, second)
}

pub fn kcmp_with(dom: Dominance, caller: &Token, first: &Target, second: &Target) -> Decision {
    match check_with(dom, caller, first, Right::QueryInformation, Which::First) {
        Decision::Allow => check_with(dom, caller, second, Right::QueryInformation, Which::Second),
        d => d,
    }
}

/// process_vm_readv's gate.
pub fn readv(caller: &Token, target: &Target) -> Decision {
    check(caller, target, Right::VmRead)
}

/// process_vm_writev's gate.
pub fn writev(caller: &Token, target: &Target) -> Decision {
    check(caller, target, Right::VmWrite)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ME: UserId = 61001;
    const OTHER: UserId = 61002;
    const G_ME: GroupId = 61001;
    const G_OTHER: GroupId = 61002;

    fn tok(level: u8) -> Token {
        Token {
            user: ME,
            groups: vec![G_ME],
            level: PipLevel(level),
        }
    }

    fn tgt(sd: SecurityDescriptor, level: u8) -> Target {
        Target {
            sd,
            level: PipLevel(level),
        }
    }

    fn any_rights() -> impl Strategy<Value = Rights> {
        (0u32..8).prop_map(|b| {
            Rights(((b & 1) * 0x10) | (((b >> 1) & 1) * 0x20) | (((b >> 2) & 1) * 0x400))
        })
    }

    fn any_right() -> impl Strategy<Value = Right> {
        prop::sample::select(Right::ALL.to_vec())
    }

    fn any_trustee() -> impl Strategy<Value = Trustee> {
        prop_oneof![
            prop::sample::select(vec![ME, OTHER]).prop_map(Trustee::User),
            prop::sample::select(vec![G_ME, G_OTHER, 7]).prop_map(Trustee::Group),
            Just(Trustee::Owner),
            Just(Trustee::Everyone),
        ]
    }

    fn any_entry() -> impl Strategy<Value = Entry> {
        (any::<bool>(), any_trustee(), any_rights()).prop_map(|(deny, trustee, mask)| Entry {
            kind: if deny {
                EntryKind::Deny
            } else {
                EntryKind::Allow
            },
            trustee,
            mask,
        })
    }

    fn any_sd() -> impl Strategy<Value = SecurityDescriptor> {
        (
            prop::sample::select(vec![ME, OTHER]),
            prop::collection::vec(any_entry(), 0..6),
        )
            .prop_map(|(o, es)| SecurityDescriptor::new(o, es))
    }

    fn any_token() -> impl Strategy<Value = Token> {
        (
            prop::sample::select(vec![ME, OTHER]),
            prop::collection::vec(prop::sample::select(vec![G_ME, G_OTHER, 7]), 0..3),
            0u8..4,
        )
            .prop_map(|(user, groups, l)| Token {
                user,
                groups,
                level: PipLevel(l),
            })
    }

    fn any_target() -> impl Strategy<Value = Target> {
        (any_sd(), 0u8..4).prop_map(|(sd, l)| Target {
            sd,
            level: PipLevel(l),
        })
    }

    /// An entry that names `caller` whatever the SD's owner.
    fn naming(caller: &Token) -> impl Strategy<Value = Trustee> {
        let mut v = vec![Trustee::User(caller.user), Trustee::Everyone];
        v.extend(caller.groups.iter().map(|g| Trustee::Group(*g)));
        prop::sample::select(v)
    }

    proptest! {
        #[test]
        fn l1_dominance_is_reflexive(l in 0u8..=255) {
            prop_assert!(Dominance::Normal.dominates(PipLevel(l), PipLevel(l)));
        }

        #[test]
        fn l2_dominance_is_transitive(a in 0u8..8, b in 0u8..8, c in 0u8..8) {
            let d = Dominance::Normal;
            let (a, b, c) = (PipLevel(a), PipLevel(b), PipLevel(c));
            if d.dominates(a, b) && d.dominates(b, c) {
                prop_assert!(d.dominates(a, c));
            }
        }

        #[test]
        fn l3_l4_dominance_is_total_and_antisymmetric(a in 0u8..8, b in 0u8..8) {
            let d = Dominance::Normal;
            let (pa, pb) = (PipLevel(a), PipLevel(b));
            prop_assert!(d.dominates(pa, pb) || d.dominates(pb, pa));
            if d.dominates(pa, pb) && d.dominates(pb, pa) {
                prop_assert_eq!(a, b);
            }
        }

        #[test]
        fn l5_denied_stays_denied_when_caller_level_drops(c in any_token(), t in any_target(), r in any_right(), drop in 0u8..4) {
            if !check(&c, &t, r).is_allow() {
                let lower = Token { level: PipLevel(c.level.0.saturating_sub(drop)), ..c.clone() };
                prop_assert!(!check(&lower, &t, r).is_allow());
                let higher_target = Target { level: PipLevel(t.level.0.saturating_add(drop)), ..t.clone() };
                prop_assert!(!check(&c, &higher_target, r).is_allow());
            } else {
                let higher = Token { level: PipLevel(c.level.0 + drop), ..c.clone() };
                prop_assert!(check(&higher, &t, r).is_allow());
            }
        }

        #[test]
        fn l6_deny_entry_wins_over_allow(c in any_token(), t in any_target(), r in any_right(), extra in any_rights(), pos in 0usize..8) {
            // Put a deny naming the caller anywhere (even after an allow for the same right,
            // and after an explicit allow for the caller we add too).
            let who = Trustee::User(c.user);
            let mut es: Vec<Entry> = t.sd.entries().to_vec();
            es.insert(0, Entry::allow(who, Rights::ALL));
            let deny = Entry::deny(who, r.mask().union(extra));
            es.insert(pos.min(es.len()), deny);
            let sd = SecurityDescriptor::new(t.sd.owner(), es);
            let d = check(&c, &Target { sd, level: t.level }, r);
            prop_assert!(matches!(d, Decision::Deny(Why::Sd { by: SdDenial::DenyEntry { .. }, .. })), "{:?}", d);
        }

        #[test]
        fn l7_default_deny(c in any_token(), t in any_target(), r in any_right()) {
            let names_caller = t.sd.entries().iter().any(|e| e.mask.holds(r) && t.sd.names(e.trustee, &c));
            if !names_caller {
                prop_assert_eq!(t.sd.decide(&c, r), Err(SdDenial::NoGrant));
            }
        }

        #[test]
        fn l8_rights_are_independent(c in any_token(), t in any_target(), r in any_right(), noise in prop::collection::vec(any_rights(), 6)) {
            // Changing every entry's bits for the other rights leaves the decision for r alone.
            let es: Vec<Entry> = t.sd.entries().iter().zip(noise.iter().cycle()).map(|(e, n)| {
                let other = n.without(r.mask());
                let keep = if e.mask.holds(r) { r.mask() } else { Rights::NONE };
                Entry { mask: keep.union(other), ..*e }
            }).collect();
            let t2 = Target { sd: SecurityDescriptor::new(t.sd.owner(), es), level: t.level };
            prop_assert_eq!(check(&c, &t, r).is_allow(), check(&c, &t2, r).is_allow());
        }

        #[test]
        fn l9_gate_is_sd_and_pip_with_sd_first(c in any_token(), t in any_target(), r in any_right()) {
            let sd_ok = t.sd.decide(&c, r).is_ok();
            let pip_ok = c.level >= t.level;
            let d = check(&c, &t, r);
            prop_assert_eq!(d.is_allow(), sd_ok && pip_ok);
            match d {
                Decision::Allow => {}
                Decision::Deny(Why::Sd { right, .. }) => { prop_assert!(!sd_ok); prop_assert_eq!(right, r); }
                Decision::Deny(Why::Pip { caller, target, .. }) => {
                    prop_assert!(sd_ok && !pip_ok);
                    prop_assert_eq!((caller, target), (c.level, t.level));
                }
            }
        }

        #[test]
        fn l10_kcmp_needs_query_on_both(c in any_token(), a in any_target(), b in any_target()) {
            let both = check(&c, &a, Right::QueryInformation).is_allow() && check(&c, &b, Right::QueryInformation).is_allow();
            prop_assert_eq!(kcmp(&c, &a, &b).is_allow(), both);
            prop_assert_eq!(kcmp(&c, &a, &b).is_allow(), kcmp(&c, &b, &a).is_allow());
            if let Decision::Deny(Why::Sd { which, .. } | Why::Pip { which, .. }) = kcmp(&c, &a, &b) {
                let first_denies = !check(&c, &a, Right::QueryInformation).is_allow();
                prop_assert_eq!(which, if first_denies { Which::First } else { Which::Second });
            }
        }

        #[test]
        fn l11_monotone_in_entries(c in any_token(), t in any_target(), r in any_right(), who in any_trustee(), m in any_rights()) {
            let before = check(&c, &t, r).is_allow();
            let with_allow = Target { sd: t.sd.with(Entry::allow(who, m)), level: t.level };
            let with_deny = Target { sd: t.sd.with(Entry::deny(who, m)), level: t.level };
            if before { prop_assert!(check(&c, &with_allow, r).is_allow()); }
            if !before { prop_assert!(!check(&c, &with_deny, r).is_allow()); }
        }

        #[test]
        fn l12_self_access(c in any_token(), r in any_right()) {
            prop_assert_eq!(check(&c, &Target::own_process(&c), r), Decision::Allow);
        }

        #[test]
        fn l6_for_every_way_an_entry_names_the_caller(
            (c, who) in any_token().prop_flat_map(|c| { let n = naming(&c); (Just(c), n) }),
            t in any_target(),
            r in any_right(),
        ) {
            let sd = t.sd.with(Entry::allow(Trustee::Everyone, Rights::ALL)).with(Entry::deny(who, r.mask()));
            let denied = !check(&c, &Target { sd, level: t.level }, r).is_allow();
            prop_assert!(denied);
        }
    }

    #[test]
    fn canonical_order_puts_denies_first_and_keeps_order_within_kind() {
        let sd = SecurityDescriptor::new(
            ME,
            [
                Entry::allow(Trustee::Owner, Rights::ALL),
                Entry::deny(Trustee::Group(G_OTHER), Rights::VM_WRITE),
                Entry::allow(Trustee::Everyone, Rights::QUERY_INFORMATION),
                Entry::deny(Trustee::User(OTHER), Rights::ALL),
            ],
        );
        let kinds: Vec<_> = sd.entries().iter().map(|e| (e.kind, e.trustee)).collect();
        assert_eq!(
            kinds,
            vec![
                (EntryKind::Deny, Trustee::Group(G_OTHER)),
                (EntryKind::Deny, Trustee::User(OTHER)),
                (EntryKind::Allow, Trustee::Owner),
                (EntryKind::Allow, Trustee::Everyone),
            ]
        );
    }

    #[test]
    fn linux_inexpressible_read_granted_write_denied() {
        // An SD Linux cannot build: VM_READ (and QUERY) granted, VM_WRITE not.
        let sd = SecurityDescriptor::new(
            ME,
            [Entry::allow(
                Trustee::Owner,
                Rights::VM_READ.union(Rights::QUERY_INFORMATION),
            )],
        );
        let t = tgt(sd, 0);
        assert_eq!(readv(&tok(1), &t), Decision::Allow);
        assert_eq!(
            writev(&tok(1), &t),
            Decision::Deny(Why::Sd {
                which: Which::Target,
                right: Right::VmWrite,
                by: SdDenial::NoGrant
            })
        );
        // Same with an explicit deny for writing.
        let sd = SecurityDescriptor::new(
            ME,
            [
                Entry::allow(Trustee::Owner, Rights::ALL),
                Entry::deny(Trustee::Everyone, Rights::VM_WRITE),
            ],
        );
        let t = tgt(sd, 0);
        assert!(readv(&tok(0), &t).is_allow());
        assert_eq!(
            writev(&tok(0), &t),
            Decision::Deny(Why::Sd {
                which: Which::Target,
                right: Right::VmWrite,
                by: SdDenial::DenyEntry { index: 0 }
            })
        );
    }

    #[test]
    fn linux_inexpressible_query_granted_read_denied() {
        let sd = SecurityDescriptor::new(
            OTHER,
            [Entry::allow(
                Trustee::Group(G_ME),
                Rights::QUERY_INFORMATION,
            )],
        );
        let t = tgt(sd, 1);
        let own = Target::own_process(&tok(2));
        assert_eq!(kcmp(&tok(2), &t, &own), Decision::Allow);
        assert_eq!(
            readv(&tok(2), &t),
            Decision::Deny(Why::Sd {
                which: Which::Target,
                right: Right::VmRead,
                by: SdDenial::NoGrant
            })
        );
        assert!(!writev(&tok(2), &t).is_allow());
        // And the reverse: reading granted, query not.
        let sd = SecurityDescriptor::new(
            OTHER,
            [Entry::allow(
                Trustee::User(ME),
                Rights::VM_READ | Rights::VM_WRITE,
            )],
        );
        let t = tgt(sd, 1);
        assert!(readv(&tok(2), &t).is_allow());
        assert_eq!(
            kcmp(&tok(2), &own, &t),
            Decision::Deny(Why::Sd {
                which: Which::Second,
                right: Right::QueryInformation,
                by: SdDenial::NoGrant
            })
        );
    }

    #[test]
    fn reasons_name_the_check_and_target() {
        let grant = SecurityDescriptor::default_for(ME);
        let theirs = SecurityDescriptor::default_for(OTHER);
        // SD refuses first even when PIP also fails.
        assert_eq!(
            readv(&tok(0), &tgt(theirs.clone(), 3)),
            Decision::Deny(Why::Sd {
                which: Which::Target,
                right: Right::VmRead,
                by: SdDenial::NoGrant
            })
        );
        assert_eq!(
            writev(&tok(1), &tgt(grant.clone(), 2)),
            Decision::Deny(Why::Pip {
                which: Which::Target,
                caller: PipLevel(1),
                target: PipLevel(2)
            })
        );
        assert_eq!(
            kcmp(&tok(1), &tgt(grant.clone(), 1), &tgt(grant.clone(), 2)),
            Decision::Deny(Why::Pip {
                which: Which::Second,
                caller: PipLevel(1),
                target: PipLevel(2)
            })
        );
        assert_eq!(
            kcmp(&tok(2), &tgt(grant.clone(), 1), &tgt(grant, 2)),
            Decision::Allow
        );
        assert_eq!(
            Decision::Deny(Why::Pip {
                which: Which::First,
                caller: PipLevel(1),
                target: PipLevel(2)
            })
            .to_string(),
            "deny (PIP: L1 does not dominate L2 (target 1))"
        );
    }

    #[test]
    fn flipped_dominance_breaks_l5() {
        // The mutation switch is detectably wrong: it breaks the monotonicity law.
        let f = Dominance::FlippedForMutationTest;
        assert!(f.dominates(PipLevel(1), PipLevel(2)));
        assert!(!f.dominates(PipLevel(2), PipLevel(1)));
        let t = tgt(SecurityDescriptor::default_for(ME), 1);
        assert!(!check_with(f, &tok(2), &t, Right::VmRead, Which::Target).is_allow());
        assert!(check_with(f, &tok(0), &t, Right::VmRead, Which::Target).is_allow());
    }
}
