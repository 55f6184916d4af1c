//! Reloading HAProxy through the master CLI and finding out whether it worked.
//!
//! HAProxy 2.7+ answers `reload` with `Success=1` or `Success=0`, then `--` and the startup
//! log, once the new worker has loaded (or failed to). HAProxy 2.6 answers nothing: the master
//! re-executes itself, the connection ends, and the socket refuses connections for ~50 ms.
//! There the verdict comes from `show proc`: polled until the master's reload counter moves,
//! then a higher failure counter means the new configuration was rejected, and a worker that
//! was not there before means it serves.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::address::Address;
use crate::exchange::{Exchange, ExchangeError};
use crate::haproxy::master::{self, ProcError};
use crate::haproxy::proc_list::ProcList;

const IN_PROGRESS: &str = "Another reload is still in progress";

/// How the master told us the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// 2.7+: a `Success=` line in the reply.
    StatusLine,
    /// 2.6: an empty reply, then `show proc` counters.
    PolledCounters,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Reloaded,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub status: Status,
    pub protocol: Protocol,
    pub before: ProcList,
    pub after: ProcList,
    /// The worker serving before the reload, and the one serving after (the same one when the
    /// reload failed).
    pub old_worker: Option<u32>,
    pub new_worker: Option<u32>,
    /// The startup log the master sent after `--` (2.7+ only).
    pub logs: Option<String>,
    /// From sending `reload` until the verdict.
    #[serde(rename = "elapsed_ms", serialize_with = "millis")]
    pub elapsed: Duration,
}

#[derive(Debug)]
pub enum ReloadError {
    Proc(ProcError),
    Exchange(ExchangeError),
    /// HAProxy refused because a reload is still running (2.7+).
    InProgress,
    /// `reload` got an answer this version of sockctl does not know.
    Unexpected(String),
    /// The deadline passed before the master showed an outcome.
    GaveUp {
        after: Duration,
        last_seen: String,
    },
}

impl fmt::Display for ReloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadError::Proc(e) => e.fmt(f),
            ReloadError::Exchange(e) => write!(f, "reload: {e}"),
            ReloadError::InProgress => write!(
                f,
                "reload refused: another reload is still in progress; nothing was done"
            ),
            ReloadError::Unexpected(reply) => {
                write!(f, "reload: unexpected reply {reply:?}")
            }
            ReloadError::GaveUp { after, last_seen } => write!(
                f,
                "reload: no outcome after {}; last seen: {last_seen}",
                crate::units::format_duration(*after)
            ),
        }
    }
}

impl std::error::Error for ReloadError {}

/// Where the lock that keeps two sockctl runs from reloading the same HAProxy at once lives:
/// beside a Unix master socket when that directory is writable, else in the temp directory.
pub fn lock_path(address: &Address) -> std::path::PathBuf {
    if let Address::Unix(path) = address
        && let (Some(dir), Some(name)) = (path.parent(), path.file_name())
    {
        let dir = if dir.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            dir
        };
        if rustix::fs::access(dir, rustix::fs::Access::WRITE_OK).is_ok() {
            let mut lock = std::ffi::OsString::from(".");
            lock.push(name);
            lock.push(".sockctl-reload-lock");
            return dir.join(lock);
        }
    }
    let key: String = address
        .text()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let uid = rustix::process::geteuid().as_raw();
    std::env::temp_dir().join(format!("sockctl-reload-{uid}-{key}.lock"))
}

pub struct Reload<'a> {
    pub address: &'a Address,
    /// Limits for each `show proc` (connect and reply).
    pub exchange: Exchange,
    /// Limit for the whole reload, loading the new configuration included.
    pub timeout: Duration,
    /// Pause between two `show proc` while waiting for 2.6 to come back.
    pub poll_every: Duration,
}

impl<'a> Reload<'a> {
    pub fn new(address: &'a Address, timeout: Duration) -> Self {
        Reload {
            address,
            exchange: Exchange::new()
                .timeout(Some(Duration::from_secs(10)))
                .connect_timeout(Some(Duration::from_secs(2))),
            timeout,
            poll_every: Duration::from_millis(10),
        }
    }

    /// `show proc` before anything else: proves this is a master and gives the counters the
    /// verdict is measured against.
    pub fn before(&self) -> Result<ProcList, ReloadError> {
        master::show_proc(self.address, &self.exchange).map_err(ReloadError::Proc)
    }

    /// Sends `reload` and waits for the verdict.
    pub fn run(&self, before: ProcList) -> Result<Outcome, ReloadError> {
        let start = Instant::now();
        let deadline = start + self.timeout;
        // The reply of 2.7+ only comes once the new worker has loaded: allow all the time left.
        let send = self.exchange.clone().timeout(Some(self.timeout));
        let reply = match master::run(self.address, &send, "reload") {
            Ok(reply) => reply,
            // 2.6 may be gone before it answers: the verdict comes from show proc.
            Err(ExchangeError::ClosedBeforeCommand | ExchangeError::Reset { received: 0 }) => {
                Vec::new()
            }
            Err(e) => return Err(ReloadError::Exchange(e)),
        };
        let text = String::from_utf8_lossy(&reply);
        if let Some(rest) = text.strip_prefix("Success=") {
            let ok = rest.starts_with('1');
            if !ok && !rest.starts_with('0') {
                return Err(ReloadError::Unexpected(excerpt(&text)));
            }
            let logs = rest
                .split_once("--\n")
                .map(|(_, logs)| logs.trim_end_matches('\n').to_string());
            // 3.x refuses a reload while a new worker is still starting, as a failure whose
            // "log" says so: nothing was done, which is not the same as a rejected config.
            if !ok && logs.as_deref().is_some_and(|l| l.starts_with(IN_PROGRESS)) {
                return Err(ReloadError::InProgress);
            }
            let after = self.poll_until(deadline, |_| true)?;
            return Ok(self.outcome(ok, Protocol::StatusLine, before, after, logs, start));
        }
        if text.contains(IN_PROGRESS) {
            return Err(ReloadError::InProgress);
        }
        if !reply.is_empty() {
            return Err(ReloadError::Unexpected(excerpt(&text)));
        }
        let failed_before = before.master.failed.unwrap_or(0);
        let old_pids: Vec<u32> = before.workers.iter().map(|w| w.pid).collect();
        let after = self.poll_until(deadline, |now| {
            now.master.reloads > before.master.reloads
                && (now.master.failed.unwrap_or(0) > failed_before
                    || now.workers.iter().any(|w| !old_pids.contains(&w.pid)))
        })?;
        let ok = after.master.failed.unwrap_or(0) <= failed_before;
        Ok(self.outcome(ok, Protocol::PolledCounters, before, after, None, start))
    }

    fn outcome(
        &self,
        ok: bool,
        protocol: Protocol,
        before: ProcList,
        after: ProcList,
        logs: Option<String>,
        start: Instant,
    ) -> Outcome {
        Outcome {
            status: if ok { Status::Reloaded } else { Status::Failed },
            protocol,
            old_worker: before.current_worker().map(|w| w.pid),
            new_worker: after.current_worker().map(|w| w.pid),
            before,
            after,
            logs,
            elapsed: start.elapsed(),
        }
    }

    /// Asks `show proc` until `done` says so, riding out the moments when the re-executing
    /// master refuses or resets connections.
    fn poll_until(
        &self,
        deadline: Instant,
        done: impl Fn(&ProcList) -> bool,
    ) -> Result<ProcList, ReloadError> {
        let start = Instant::now();
        let mut last_seen = String::from("nothing yet");
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ReloadError::GaveUp {
                    after: start.elapsed(),
                    last_seen,
                });
            }
            let exchange = self
                .exchange
                .clone()
                .timeout(Some(left.min(self.exchange.get_timeout().unwrap_or(left))));
            match master::show_proc(self.address, &exchange) {
                Ok(list) if done(&list) => return Ok(list),
                Ok(list) => last_seen = summary(&list),
                Err(ProcError::Exchange(e)) if transient(&e) => last_seen = e.to_string(),
                // The poll only had what was left of the deadline: running out of it there is
                // the deadline passing, not a broken exchange.
                Err(ProcError::Exchange(
                    ExchangeError::Timeout { .. }
                    | ExchangeError::Connect(crate::connect::ConnectError::TimedOut { .. }),
                )) if Instant::now() >= deadline => continue,
                Err(e) => return Err(ReloadError::Proc(e)),
            }
            if crate::interrupt::requested() {
                return Err(ReloadError::Exchange(ExchangeError::Interrupted {
                    received: 0,
                }));
            }
            std::thread::sleep(self.poll_every.min(left));
        }
    }
}

/// Failures that a re-executing master causes and that go away by themselves.
fn transient(e: &ExchangeError) -> bool {
    use crate::connect::ConnectError;
    matches!(
        e,
        ExchangeError::Connect(ConnectError::Stale(_) | ConnectError::Refused(_))
            | ExchangeError::Connect(ConnectError::NotFound(_))
            | ExchangeError::ClosedBeforeCommand
            | ExchangeError::Reset { .. }
    )
}

fn summary(list: &ProcList) -> String {
    let workers: Vec<String> = list.workers.iter().map(|w| w.pid.to_string()).collect();
    format!(
        "master {} with {} reloads ({} failed), workers [{}]",
        list.master.pid,
        list.master.reloads,
        list.master.failed.unwrap_or(0),
        workers.join(", ")
    )
}

fn excerpt(text: &str) -> String {
    text.chars().take(120).collect()
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(crate::units::millis(*d))
}
