//! Helper processes: kobench re-executes itself in a hidden helper mode
//! (`kobench __helper NAME ARGS...`) instead of forking a multi-threaded process.
//!
//! A [`Helper`] dies with the harness: the child gets `PR_SET_PDEATHSIG(SIGKILL)` before it
//! execs (so a `kill -9` of kobench takes it down), and the harness kills and reaps it on
//! drop. PDEATHSIG fires when the *thread* that spawned the child exits, so keep a
//! `Helper` in the thread that made it. Replies are one JSON value per line on stdout.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum HelperError {
    #[error("could not start helper {name}: {source}")]
    Spawn {
        name: String,
        source: std::io::Error,
    },
    #[error("helper {name} did not answer within {timeout:?}")]
    Timeout { name: String, timeout: Duration },
    #[error("helper {name} exited without answering ({status})")]
    Exited { name: String, status: String },
    #[error("helper {name} sent an unreadable reply: {detail}")]
    BadReply { name: String, detail: String },
    #[error("helper {name}: {detail}")]
    Failed { name: String, detail: String },
}

/// The executable that provides helper mode: this binary, or `KOBENCH_HELPER_EXE`.
pub fn helper_exe() -> PathBuf {
    std::env::var_os("KOBENCH_HELPER_EXE")
        .map(PathBuf::from)
        .or_else(|| std::env::current_exe().ok())
        .unwrap_or_else(|| PathBuf::from("kobench"))
}

/// A running helper process with a line-oriented JSON control channel.
pub struct Helper {
    name: String,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    replies: crossbeam::channel::Receiver<String>,
}

impl Helper {
    /// Starts `exe __helper name args...`.
    pub fn spawn(exe: &Path, name: &str, args: &[String]) -> Result<Helper, HelperError> {
        let mut cmd = Command::new(exe);
        cmd.arg("__helper").arg(name).args(args);
        Self::spawn_command(cmd, name)
    }

    /// Starts a prepared command (its arguments already set) as a helper.
    pub fn spawn_command(mut cmd: Command, name: &str) -> Result<Helper, HelperError> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        crate::sys::process::command_dying_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|source| HelperError::Spawn {
            name: name.into(),
            source,
        })?;
        let stdout = child.stdout.take().expect("piped");
        let stdin = child.stdin.take();
        let (tx, rx) = crossbeam::channel::unbounded();
        std::thread::spawn(move || {
            // Bytes, not UTF-8 lines: one odd byte must not end the channel.
            let mut r = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf)
                            .trim_end_matches('\n')
                            .to_string();
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Ok(Helper {
            name: name.into(),
            child: Some(child),
            stdin,
            replies: rx,
        })
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(-1)
    }

    /// Sends one command line.
    pub fn send(&mut self, line: &str) -> Result<(), HelperError> {
        let name = self.name.clone();
        let stdin = self.stdin.as_mut().ok_or_else(|| HelperError::Failed {
            name: name.clone(),
            detail: "stdin closed".into(),
        })?;
        writeln!(stdin, "{line}")
            .and_then(|_| stdin.flush())
            .map_err(|e| HelperError::Failed {
                name,
                detail: format!("cannot send command: {e}"),
            })
    }

    /// Waits for the next reply line, parsed as JSON.
    pub fn recv<T: serde::de::DeserializeOwned>(
        &mut self,
        timeout: Duration,
    ) -> Result<T, HelperError> {
        match self.replies.recv_timeout(timeout) {
            Ok(line) => serde_json::from_str(&line).map_err(|e| HelperError::BadReply {
                name: self.name.clone(),
                detail: format!("{e}: {line}"),
            }),
            Err(crossbeam::channel::RecvTimeoutError::Timeout) => Err(HelperError::Timeout {
                name: self.name.clone(),
                timeout,
            }),
            Err(crossbeam::channel::RecvTimeoutError::Disconnected) => {
                // stdout closed: the helper has exited or is about to; wait a little, then
                // kill it rather than block on a helper that closed stdout and lives on.
                let status = self
                    .child
                    .as_mut()
                    .map(|c| wait_or_kill(c, Duration::from_secs(2)))
                    .unwrap_or_else(|| "unknown status".into());
                Err(HelperError::Exited {
                    name: self.name.clone(),
                    status,
                })
            }
        }
    }

    /// Sends a command and waits for its reply.
    pub fn request<T: serde::de::DeserializeOwned>(
        &mut self,
        line: &str,
        timeout: Duration,
    ) -> Result<T, HelperError> {
        self.send(line)?;
        self.recv(timeout)
    }

    /// Closes stdin and waits for the helper to exit (killing it past `timeout`).
    pub fn finish(mut self, timeout: Duration) -> Result<std::process::ExitStatus, HelperError> {
        self.stdin.take();
        let mut child = self.child.take().expect("present until drop");
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                return Ok(s);
            }
            if std::time::Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HelperError::Timeout {
                    name: self.name.clone(),
                    timeout,
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Runs a one-shot helper: start it, read its single JSON reply, reap it.
    pub fn run_once<T: serde::de::DeserializeOwned>(
        exe: &Path,
        name: &str,
        args: &[String],
        timeout: Duration,
    ) -> Result<T, HelperError> {
        let mut h = Helper::spawn(exe, name, args)?;
        let v = h.recv(timeout)?;
        let _ = h.finish(Duration::from_secs(5));
        Ok(v)
    }
}

/// Waits for `child` up to `limit`, then kills and reaps it; describes how it ended.
fn wait_or_kill(child: &mut Child, limit: Duration) -> String {
    let deadline = std::time::Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return s.to_string(),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1))
            }
            _ => {
                let _ = child.kill();
                return child
                    .wait()
                    .map(|s| format!("{s}, killed after {limit:?} with stdout closed"))
                    .unwrap_or_else(|e| format!("unknown status: {e}"));
            }
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.stdin.take();
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
