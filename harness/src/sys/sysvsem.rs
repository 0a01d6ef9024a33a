//! System V semaphores: a private set, taken with SEM_UNDO to give a task an undo list
//! (what kcmp's SYSVSEM type compares), and removed again.

use super::{check, Errno};

/// A private semaphore set (`IPC_PRIVATE`, mode 0600), removed (`IPC_RMID`) on drop.
#[derive(Debug)]
pub struct SemSet {
    id: i32,
}

impl SemSet {
    /// `semget(IPC_PRIVATE, nsems, IPC_CREAT | 0600)`.
    pub fn private(nsems: i32) -> Result<SemSet, Errno> {
        // SAFETY: integer arguments only.
        let id = check(
            unsafe { libc::semget(libc::IPC_PRIVATE, nsems, libc::IPC_CREAT | 0o600) }
                as libc::c_long,
        )?;
        Ok(SemSet { id: id as i32 })
    }

    pub fn id(&self) -> i32 {
        self.id
    }

    /// `semop(id, {num, delta, SEM_UNDO})`: the calling task gets an undo list.
    pub fn op_undo(&self, num: u16, delta: i16) -> Result<(), Errno> {
        let mut op = libc::sembuf {
            sem_num: num,
            sem_op: delta,
            sem_flg: libc::SEM_UNDO as libc::c_short,
        };
        // SAFETY: one valid sembuf for the call's duration.
        check(unsafe { libc::semop(self.id, &mut op, 1) } as libc::c_long).map(|_| ())
    }

    /// `semctl(id, 0, IPC_RMID)`: the set is gone at once; undo lists that named it keep
    /// existing (their entries are dropped lazily, ipc/sem.c `freeary`).
    pub fn remove(self) -> Result<(), Errno> {
        let id = self.id;
        std::mem::forget(self);
        rmid(id)
    }
}

fn rmid(id: i32) -> Result<(), Errno> {
    // SAFETY: IPC_RMID takes no fourth argument.
    check(unsafe { libc::semctl(id, 0, libc::IPC_RMID) } as libc::c_long).map(|_| ())
}

impl Drop for SemSet {
    fn drop(&mut self) {
        let _ = rmid(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_take_remove() {
        let s = SemSet::private(1).unwrap();
        let id = s.id();
        s.op_undo(0, 1).unwrap();
        s.remove().unwrap();
        // The id no longer names a set.
        assert_eq!(rmid(id), Err(Errno(libc::EINVAL)));
    }
}
