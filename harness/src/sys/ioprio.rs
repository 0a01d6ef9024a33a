//! ioprio_get(2) / ioprio_set(2). glibc has no wrappers; values from
//! `include/uapi/linux/ioprio.h`. Setting a priority is also what makes the kernel give a
//! task its own `io_context` (block/ioprio.c `set_task_ioprio`), which kcmp's IO type compares.

use super::{check, Errno};

/// `IOPRIO_WHO_PROCESS`: `who` is a thread id (0: the caller).
pub const WHO_PROCESS: i32 = 1;
/// `IOPRIO_CLASS_BE`, the best-effort class, settable without privilege.
pub const CLASS_BE: u16 = 2;
const CLASS_SHIFT: u16 = 13;

/// `IOPRIO_PRIO_VALUE(class, level)`.
pub const fn value(class: u16, level: u16) -> i32 {
    ((class << CLASS_SHIFT) | level) as i32
}

/// `ioprio_set(IOPRIO_WHO_PROCESS, tid, prio)`.
pub fn set(tid: i32, prio: i32) -> Result<(), Errno> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::syscall(libc::SYS_ioprio_set, WHO_PROCESS, tid, prio) }).map(|_| ())
}

/// `ioprio_get(IOPRIO_WHO_PROCESS, tid)`.
pub fn get(tid: i32) -> Result<i32, Errno> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::syscall(libc::SYS_ioprio_get, WHO_PROCESS, tid) }).map(|v| v as i32)
}

/// The class part of a priority value.
pub const fn class_of(prio: i32) -> u16 {
    (prio as u16) >> CLASS_SHIFT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_matches_uapi() {
        // IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 4) = (2 << 13) | 4 = 16388.
        assert_eq!(value(CLASS_BE, 4), 16388);
        assert_eq!(class_of(16388), CLASS_BE);
    }
}
