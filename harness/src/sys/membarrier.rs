//! membarrier(2): commands as a typed enum, and the raw call for rule checks.
//!
//! Values from `include/uapi/linux/membarrier.h`. libc lacks `GET_REGISTRATIONS`
//! (Linux 6.3) and `FLAG_CPU` (Linux 5.10), so they are defined here.

use super::{check, Errno};
use serde::{Deserialize, Serialize};

/// `MEMBARRIER_CMD_FLAG_CPU`: with `PRIVATE_EXPEDITED_RSEQ`, aim at one CPU.
pub const FLAG_CPU: u32 = 1;

/// One membarrier command.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Cmd {
    Query,
    Global,
    GlobalExpedited,
    RegisterGlobalExpedited,
    PrivateExpedited,
    RegisterPrivateExpedited,
    PrivateExpeditedSyncCore,
    RegisterPrivateExpeditedSyncCore,
    PrivateExpeditedRseq,
    RegisterPrivateExpeditedRseq,
    GetRegistrations,
}

impl Cmd {
    /// Every command bit QUERY can report, in bit order.
    pub const ALL: [Cmd; 10] = [
        Cmd::Global,
        Cmd::GlobalExpedited,
        Cmd::RegisterGlobalExpedited,
        Cmd::PrivateExpedited,
        Cmd::RegisterPrivateExpedited,
        Cmd::PrivateExpeditedSyncCore,
        Cmd::RegisterPrivateExpeditedSyncCore,
        Cmd::PrivateExpeditedRseq,
        Cmd::RegisterPrivateExpeditedRseq,
        Cmd::GetRegistrations,
    ];

    /// The barrier commands (not registrations, not QUERY).
    pub const BARRIERS: [Cmd; 5] = [
        Cmd::PrivateExpedited,
        Cmd::PrivateExpeditedSyncCore,
        Cmd::PrivateExpeditedRseq,
        Cmd::GlobalExpedited,
        Cmd::Global,
    ];

    /// The raw command value.
    pub const fn raw(self) -> i32 {
        match self {
            Cmd::Query => 0,
            Cmd::Global => 1 << 0,
            Cmd::GlobalExpedited => 1 << 1,
            Cmd::RegisterGlobalExpedited => 1 << 2,
            Cmd::PrivateExpedited => 1 << 3,
            Cmd::RegisterPrivateExpedited => 1 << 4,
            Cmd::PrivateExpeditedSyncCore => 1 << 5,
            Cmd::RegisterPrivateExpeditedSyncCore => 1 << 6,
            Cmd::PrivateExpeditedRseq => 1 << 7,
            Cmd::RegisterPrivateExpeditedRseq => 1 << 8,
            Cmd::GetRegistrations => 1 << 9,
        }
    }

    /// The name without the `MEMBARRIER_CMD_` prefix.
    pub const fn name(self) -> &'static str {
        match self {
            Cmd::Query => "QUERY",
            Cmd::Global => "GLOBAL",
            Cmd::GlobalExpedited => "GLOBAL_EXPEDITED",
            Cmd::RegisterGlobalExpedited => "REGISTER_GLOBAL_EXPEDITED",
            Cmd::PrivateExpedited => "PRIVATE_EXPEDITED",
            Cmd::RegisterPrivateExpedited => "REGISTER_PRIVATE_EXPEDITED",
            Cmd::PrivateExpeditedSyncCore => "PRIVATE_EXPEDITED_SYNC_CORE",
            Cmd::RegisterPrivateExpeditedSyncCore => "REGISTER_PRIVATE_EXPEDITED_SYNC_CORE",
            Cmd::PrivateExpeditedRseq => "PRIVATE_EXPEDITED_RSEQ",
            Cmd::RegisterPrivateExpeditedRseq => "REGISTER_PRIVATE_EXPEDITED_RSEQ",
            Cmd::GetRegistrations => "GET_REGISTRATIONS",
        }
    }

    /// Parses a command name, with or without the `MEMBARRIER_CMD_` prefix.
    pub fn from_name(s: &str) -> Option<Cmd> {
        let s = s.trim().to_ascii_uppercase();
        let s = s.strip_prefix("MEMBARRIER_CMD_").unwrap_or(&s);
        std::iter::once(Cmd::Query)
            .chain(Cmd::ALL)
            .find(|c| c.name() == s)
    }

    /// The registration a private expedited command needs, if any.
    pub const fn registration(self) -> Option<Cmd> {
        match self {
            Cmd::PrivateExpedited => Some(Cmd::RegisterPrivateExpedited),
            Cmd::PrivateExpeditedSyncCore => Some(Cmd::RegisterPrivateExpeditedSyncCore),
            Cmd::PrivateExpeditedRseq => Some(Cmd::RegisterPrivateExpeditedRseq),
            Cmd::GlobalExpedited => Some(Cmd::RegisterGlobalExpedited),
            _ => None,
        }
    }
}

/// The commands set in a QUERY mask, in bit order.
pub fn decode_mask(mask: i64) -> Vec<Cmd> {
    Cmd::ALL
        .into_iter()
        .filter(|c| mask & c.raw() as i64 != 0)
        .collect()
}

/// `membarrier(cmd, flags, cpu_id)` with raw arguments, for the rule checks that must pass
/// values no typed API would allow.
#[inline]
pub fn raw(cmd: i32, flags: u32, cpu_id: i32) -> Result<i64, Errno> {
    // SAFETY: membarrier takes three integers and touches no user memory.
    check(unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            cmd as libc::c_int,
            flags as libc::c_uint,
            cpu_id as libc::c_int,
        )
    })
}

/// `membarrier(cmd, 0, 0)`.
#[inline(always)]
pub fn call(cmd: Cmd) -> Result<i64, Errno> {
    raw(cmd.raw(), 0, 0)
}

/// `membarrier(PRIVATE_EXPEDITED_RSEQ, FLAG_CPU, cpu)`: the barrier aimed at one CPU.
#[inline(always)]
pub fn rseq_on_cpu(cpu: i32) -> Result<i64, Errno> {
    raw(Cmd::PrivateExpeditedRseq.raw(), FLAG_CPU, cpu)
}

/// `QUERY`: the mask of supported commands (empty when membarrier is missing).
pub fn query() -> Result<i64, Errno> {
    call(Cmd::Query)
}

/// `GET_REGISTRATIONS` (Linux 6.3+): the mask of this process's registrations.
pub fn registrations() -> Result<i64, Errno> {
    call(Cmd::GetRegistrations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bits_are_distinct() {
        let mut seen = 0i32;
        for c in Cmd::ALL {
            assert_eq!(Cmd::from_name(c.name()), Some(c));
            assert_eq!(seen & c.raw(), 0);
            seen |= c.raw();
        }
        assert_eq!(seen, 0x3ff);
        assert_eq!(
            Cmd::from_name("membarrier_cmd_private_expedited"),
            Some(Cmd::PrivateExpedited)
        );
        assert_eq!(Cmd::from_name("nope"), None);
    }

    #[test]
    fn decode_mask_lists_set_bits() {
        assert_eq!(
            decode_mask(0b1001),
            vec![Cmd::Global, Cmd::PrivateExpedited]
        );
        assert_eq!(decode_mask(0x3ff).len(), 10);
    }
}
