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
use crate::error::ExchangeError;
use crate::exchange::Exchange;
use crate::haproxy::master::{self, ProcError};
use crate::haproxy::proc_list::ProcList;
use crate::haproxy::running;

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
    /// The master process is gone (or refused connections for longer than any re-exec
    /// takes): the reload took HAProxy down.
    Exited {
        pid: u32,
        seen: String,
    },
    /// The reload was counted, but the new worker died and none serves (2.6).
    NoWorker {
        pid: u32,
    },
    /// The master said `Success=1`, yet shows neither a new reload nor a new worker.
    NoChange {
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
            ReloadError::Exited { pid, seen } => write!(
                f,
                "reload failed: HAProxy exited during the reload (master {pid} {seen}); nothing \
                 serves now: check the configuration with 'haproxy -c -f FILE' and the log, \
                 then start HAProxy again"
            ),
            ReloadError::NoWorker { pid } => write!(
                f,
                "reload failed: HAProxy has no worker after the reload (the new worker exited at \
                 startup; master {pid} is still up); nothing serves now: check the \
                 configuration with 'haproxy -c -f FILE' and the log"
            ),
            ReloadError::NoChange { last_seen } => write!(
                f,
                "reload: the master answered Success=1 but shows no new reload and no new \
                 worker ({last_seen}); not counted as a success"
            ),
        }
    }
}

impl std::error::Error for ReloadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReloadError::Proc(e) => Some(e),
            ReloadError::Exchange(e) => Some(e),
            _ => None,
        }
    }
}

/// Where the lock that keeps two sockctl runs from reloading the same HAProxy at once lives;
/// see [`crate::lock::reload_lock_path`].
pub fn lock_path(address: &Address) -> Result<std::path::PathBuf, crate::lock::LockError> {
    crate::lock::reload_lock_path(address)
}

/// The time a connection to `address` takes beyond a local socket's: ssh's setup for one on
/// another host.
fn setup_allowance(address: &Address) -> Duration {
    if address.is_remote() {
        crate::ssh::SETUP_ALLOWANCE
    } else {
        Duration::ZERO
    }
}

pub struct Reload<'a> {
    pub address: &'a Address,
    /// Limits for each `show proc` (connect and reply). A re-executing master may accept a
    /// connection and answer nothing until it is back: a poll without an answer is retried,
    /// so its limit is short.
    pub exchange: Exchange,
    /// Limit for the whole reload, loading the new configuration included.
    pub timeout: Duration,
    /// Pause between two `show proc` while waiting for 2.6 to come back.
    pub poll_every: Duration,
}

impl<'a> Reload<'a> {
    pub fn new(address: &'a Address, timeout: Duration) -> Self {
        // On another host, each poll starts ssh first: that is given its own time.
        let poll_limit = Duration::from_secs(2) + setup_allowance(address);
        Reload {
            address,
            exchange: Exchange::new()
                .timeout(Some(poll_limit))
                .connect_timeout(Some(poll_limit)),
            timeout,
            poll_every: Duration::from_millis(10),
        }
    }

    /// The lock that keeps two sockctl runs from reloading this master at once, waited for
    /// within the reload's timeout.
    pub fn lock(&self) -> Result<crate::lock::Lock, crate::lock::LockError> {
        crate::lock::Lock::acquire(&lock_path(self.address)?, Some(self.timeout))
    }

    /// `show proc` before anything else: proves this is a master and gives the counters the
    /// verdict is measured against.
    ///
    /// A master that refuses while its process still runs is in the middle of a reload
    /// (someone else's): wait for it, within the timeout.
    pub fn before(&self, mut waiting: impl FnMut()) -> Result<ProcList, ReloadError> {
        let start = Instant::now();
        let deadline = start + self.timeout;
        let mut said = false;
        loop {
            match master::show_proc(self.address, &self.exchange) {
                // The re-executing process may be briefly unreadable in /proc: half a second
                // of grace before its absence counts.
                Err(ProcError::Exchange(e))
                    if (transient(&e) || timed_out(&e))
                        && Instant::now() < deadline
                        && (start.elapsed() < Duration::from_millis(500)
                            || running::reloading(self.address)) =>
                {
                    if !said && running::reloading(self.address) {
                        waiting();
                        said = true;
                    }
                    self.pause(deadline)?;
                }
                result => return result.map_err(ReloadError::Proc),
            }
        }
    }

    fn pause(&self, deadline: Instant) -> Result<(), ReloadError> {
        if crate::interrupt::requested() {
            return Err(ReloadError::Exchange(ExchangeError::interrupted()));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        std::thread::sleep(self.poll_every.max(Duration::from_millis(50)).min(left));
        Ok(())
    }

    /// Sends `reload` and waits for the verdict.
    pub fn run(&self, before: ProcList) -> Result<Outcome, ReloadError> {
        let start = Instant::now();
        let deadline = start + self.timeout;
        let master = Master::of(self.address, &before);
        // The reply of 2.7+ only comes once the new worker has loaded: allow all the time left.
        let send = self.exchange.clone().timeout(Some(self.timeout));
        let reply = match master::run(self.address, &send, "reload") {
            Ok(reply) => reply,
            // 2.6 may be gone before it answers: the verdict comes from show proc.
            Err(ExchangeError::ClosedBeforeCommand) => Vec::new(),
            Err(ExchangeError::Reset { received }) if received.is_empty() => Vec::new(),
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
            let after = if ok {
                // The new worker is up when 2.7+ answers: what show proc says must agree.
                // A short wait, for a master that answers before its counters move.
                let soon = deadline
                    .min(Instant::now() + Duration::from_secs(2) + setup_allowance(self.address));
                match self.poll_until(master, soon, |now| changed(&before, now)) {
                    Err(ReloadError::GaveUp { last_seen, .. }) => {
                        return Err(ReloadError::NoChange { last_seen });
                    }
                    other => other?,
                }
            } else {
                self.poll_until(master, deadline, |_| true)?
            };
            let after = if ok {
                self.settled(master, after)?
            } else {
                after
            };
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
        // A new worker that dies at startup (say, its chroot is missing) leaves a master with
        // the reload counted, no failure counted and no worker: once that lasts, nothing
        // serves and the reload failed.
        let workerless_since = std::cell::Cell::new(None::<Instant>);
        let after = self.poll_until(master, deadline, |now| {
            let reloaded = now.master.reloads > before.master.reloads;
            if !(reloaded && now.workers.is_empty()) {
                workerless_since.set(None);
            } else if workerless_since.get().is_none() {
                workerless_since.set(Some(Instant::now()));
            }
            let workerless = workerless_since
                .get()
                .is_some_and(|since| since.elapsed() >= WORKERLESS);
            reloaded
                && (now.master.failed.unwrap_or(0) > failed_before
                    || now.workers.iter().any(|w| !old_pids.contains(&w.pid))
                    || workerless)
        })?;
        if after.workers.is_empty() && after.master.failed.unwrap_or(0) <= failed_before {
            return Err(ReloadError::NoWorker {
                pid: after.master.pid,
            });
        }
        let ok = after.master.failed.unwrap_or(0) <= failed_before;
        let after = if ok {
            self.settled(master, after)?
        } else {
            after
        };
        Ok(self.outcome(ok, Protocol::PolledCounters, before, after, None, start))
    }

    /// A new worker can be listed, even reported ready, and still die at once (say, when its
    /// `chroot` is missing), taking HAProxy down with it: look again a moment later before
    /// calling the reload a success.
    fn settled(&self, master: Master, after: ProcList) -> Result<ProcList, ReloadError> {
        let Some(worker) = after.current_worker().map(|w| w.pid) else {
            return Ok(after);
        };
        std::thread::sleep(SETTLE);
        let soon = Instant::now() + WORKERLESS * 2;
        match self.poll_until(master, soon, |now| {
            now.workers.iter().any(|w| w.pid == worker)
        }) {
            Ok(list) => Ok(list),
            Err(ReloadError::GaveUp { .. }) => Err(ReloadError::NoWorker { pid: master.pid }),
            Err(e) => Err(e),
        }
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
        master: Master,
        deadline: Instant,
        done: impl Fn(&ProcList) -> bool,
    ) -> Result<ProcList, ReloadError> {
        let start = Instant::now();
        let mut last_seen = String::from("nothing yet");
        // Since when the master has refused every connection.
        let mut refusing: Option<Instant> = None;
        let mut seen_list = false;
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
                Ok(list) => {
                    last_seen = summary(&list);
                    seen_list = true;
                    refusing = None;
                }
                Err(ProcError::Exchange(e)) if transient(&e) => {
                    last_seen = e.to_string();
                    if matches!(e, ExchangeError::Connect(_)) {
                        let since = *refusing.get_or_insert_with(Instant::now);
                        check_alive(master, since, &last_seen)?;
                    }
                }
                // A re-executing master may hold a connection without answering: the poll's
                // short limit passing is part of the reload, the deadline decides.
                Err(ProcError::Exchange(e)) if timed_out(&e) => {
                    // What the master last said is worth more than its silence at the end.
                    if !seen_list {
                        last_seen = format!("no answer to show proc ({e})");
                    }
                    refusing = None;
                }
                Err(e) => return Err(ReloadError::Proc(e)),
            }
            if crate::interrupt::requested() {
                return Err(ReloadError::Exchange(ExchangeError::interrupted()));
            }
            std::thread::sleep(self.poll_every.min(left));
        }
    }
}

/// The master whose reload is watched: its PID, and whether its process is visible here (it
/// serves our socket from this host's `/proc`).
#[derive(Clone, Copy)]
struct Master {
    pid: u32,
    local: bool,
}

impl Master {
    fn of(address: &Address, list: &ProcList) -> Master {
        let pid = list.master.pid;
        Master {
            pid,
            local: running::serving(address, pid),
        }
    }
}

/// Refused connections are the re-exec gap while the master process lives; once it is gone
/// (or, where its process cannot be seen, once refusals outlast any re-exec), the reload took
/// HAProxy down. A re-executing master keeps its PID.
fn check_alive(master: Master, refusing_since: Instant, seen: &str) -> Result<(), ReloadError> {
    let gone = if master.local {
        !running::alive(master.pid)
    } else {
        refusing_since.elapsed() > REEXEC_GAP
    };
    if gone {
        return Err(ReloadError::Exited {
            pid: master.pid,
            seen: format!("is gone; last seen: {seen}"),
        });
    }
    Ok(())
}

/// How long after a reload the new worker must still be there to count.
const SETTLE: Duration = Duration::from_millis(100);

/// How long a reloaded 2.6 master may list no worker before the new one counts as dead.
const WORKERLESS: Duration = Duration::from_secs(1);

/// How long a master that cannot be seen in `/proc` may refuse connections before sockctl
/// concludes that it exited: far longer than the ~50 ms of a re-exec.
const REEXEC_GAP: Duration = Duration::from_secs(30);

/// Whether `show proc` shows the reload happened: the counter moved or a worker is new.
fn changed(before: &ProcList, now: &ProcList) -> bool {
    let old: Vec<u32> = before.workers.iter().map(|w| w.pid).collect();
    now.master.reloads > before.master.reloads || now.workers.iter().any(|w| !old.contains(&w.pid))
}

fn timed_out(e: &ExchangeError) -> bool {
    matches!(
        e,
        ExchangeError::Timeout { .. }
            | ExchangeError::Connect(crate::connect::ConnectError::TimedOut { .. })
    )
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
