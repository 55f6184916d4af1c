//! Which process runs a command: the socket's own, or one chosen through the master.

use std::fmt;

use serde::Serialize;
use sockctl::haproxy::Route;
use sockctl::haproxy::master::SocketKind;
use sockctl::haproxy::proc_list::ProcList;

use crate::cli::{RouteArgs, WorkerChoice};
use crate::exit::UsageError;

/// A process to run commands in, and how to name it in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destination {
    pub route: Route,
    pub process: Process,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Current,
    Old,
}

/// What the output says about where a result came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// The process behind a stats socket.
    Socket,
    /// A worker; its PID as `show proc` listed it just before (`None` if it listed none).
    Worker {
        pid: Option<u32>,
        role: Option<Role>,
    },
    Master {
        pid: u32,
    },
}

impl Process {
    /// `socket`, `worker` or `master`, for JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Process::Socket => "socket",
            Process::Worker { .. } => "worker",
            Process::Master { .. } => "master",
        }
    }

    pub fn pid(&self) -> Option<u32> {
        match self {
            Process::Socket => None,
            Process::Worker { pid, .. } => *pid,
            Process::Master { pid } => Some(*pid),
        }
    }

    pub fn role(&self) -> Option<Role> {
        match self {
            Process::Worker { role, .. } => *role,
            _ => None,
        }
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Socket => f.write_str("socket"),
            Process::Worker { pid, role } => {
                f.write_str("worker")?;
                if let Some(pid) = pid {
                    write!(f, " {pid}")?;
                }
                match role {
                    Some(Role::Current) => f.write_str(" (current)"),
                    Some(Role::Old) => f.write_str(" (old)"),
                    None => Ok(()),
                }
            }
            Process::Master { pid } => write!(f, "master {pid}"),
        }
    }
}

/// The targets `args` ask for on a socket of this kind.
pub fn resolve(kind: &SocketKind, args: &RouteArgs) -> Result<Vec<Destination>, UsageError> {
    let list = match kind {
        SocketKind::Stats if args.worker.is_some() || args.master => {
            return Err(UsageError(
                "--worker and --master need a master socket (haproxy -S); this is a stats \
                 socket, whose commands run in its own process"
                    .into(),
            ));
        }
        SocketKind::Stats => {
            return Ok(vec![Destination {
                route: Route::Direct,
                process: Process::Socket,
            }]);
        }
        SocketKind::Master(list) => list,
    };
    if args.master {
        return Ok(vec![Destination {
            route: Route::Master,
            process: Process::Master {
                pid: list.master.pid,
            },
        }]);
    }
    Ok(match args.worker.unwrap_or(WorkerChoice::Current) {
        WorkerChoice::Current => vec![Destination {
            route: Route::CurrentWorker,
            process: Process::Worker {
                pid: list.current_worker().map(|w| w.pid),
                role: Some(Role::Current),
            },
        }],
        WorkerChoice::Pid(pid) => vec![worker(list, pid)],
        WorkerChoice::All => {
            let mut all: Vec<Destination> = list
                .workers
                .iter()
                .chain(&list.old_workers)
                .map(|w| worker(list, w.pid))
                .collect();
            // The current worker first, then the others from the newest.
            all.sort_by_key(|t| t.process.role() != Some(Role::Current));
            if all.is_empty() {
                return Err(UsageError(
                    "--worker all: the master lists no workers".into(),
                ));
            }
            all
        }
    })
}

/// A worker by PID, labelled from the list; one the list lacks is still asked (HAProxy then
/// answers that it has no such process).
fn worker(list: &ProcList, pid: u32) -> Destination {
    let listed = list
        .workers
        .iter()
        .chain(&list.old_workers)
        .any(|w| w.pid == pid);
    let role = if list.current_worker().map(|w| w.pid) == Some(pid) {
        Some(Role::Current)
    } else if listed {
        Some(Role::Old)
    } else {
        None
    };
    Destination {
        route: Route::Worker(pid),
        process: Process::Worker {
            pid: Some(pid),
            role,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(reply: &[u8]) -> SocketKind {
        SocketKind::Master(sockctl::haproxy::proc_list::parse(reply).unwrap())
    }

    fn args(worker: Option<WorkerChoice>, master: bool) -> RouteArgs {
        RouteArgs { worker, master }
    }

    #[test]
    fn routes_and_labels() {
        // 2.6 during a reload: 10839 current, 10657 old.
        let kind = list(include_bytes!(
            "../../../../tests/fixtures/haproxy/2.6/oldworker_show_proc_during_reload.04.reply"
        ));
        let SocketKind::Master(procs) = &kind else {
            unreachable!()
        };
        let current = procs.current_worker().unwrap().pid;
        let all = resolve(&kind, &args(Some(WorkerChoice::All), false)).unwrap();
        assert!(all.len() >= 2, "{all:?}");
        assert_eq!(all[0].route, Route::Worker(current));
        assert_eq!(all[0].process.role(), Some(Role::Current));
        assert!(all[1..].iter().all(|t| t.process.role() == Some(Role::Old)));

        let default = resolve(&kind, &args(None, false)).unwrap();
        assert_eq!(default[0].route, Route::CurrentWorker);
        assert_eq!(
            default[0].process.to_string(),
            format!("worker {current} (current)")
        );
        let master = resolve(&kind, &args(None, true)).unwrap();
        assert_eq!(master[0].route, Route::Master);
        assert_eq!(master[0].process.kind(), "master");
        let unlisted = resolve(&kind, &args(Some(WorkerChoice::Pid(1)), false)).unwrap();
        assert_eq!(unlisted[0].process.to_string(), "worker 1");

        assert!(
            resolve(
                &SocketKind::Stats,
                &args(Some(WorkerChoice::Current), false)
            )
            .is_err()
        );
        assert!(resolve(&SocketKind::Stats, &args(None, true)).is_err());
        let direct = resolve(&SocketKind::Stats, &args(None, false)).unwrap();
        assert_eq!(direct[0].route, Route::Direct);
    }

    #[test]
    fn worker_choices_parse() {
        assert_eq!("current".parse(), Ok(WorkerChoice::Current));
        assert_eq!("all".parse(), Ok(WorkerChoice::All));
        assert_eq!("4242".parse(), Ok(WorkerChoice::Pid(4242)));
        assert!("0".parse::<WorkerChoice>().is_err());
        assert!("@1".parse::<WorkerChoice>().is_err());
    }
}
