//! Sending a command where it should run, and reading whether it succeeded.
//!
//! On a stats socket a command runs in the process that owns the socket. On the master CLI a
//! command runs in the master unless it starts with a routing prefix: `@1` for the current
//! worker (the one with the fewest reloads), `@!PID` for any worker by PID, `@master` for the
//! master. A prefix applies to one command only: in `@1 a; b`, `b` runs in the master. So a
//! chain is routed by prefixing each of its commands.

use std::fmt;
use std::io;

use crate::address::Address;
use crate::command::{Command, CommandError};
use crate::error::ExchangeError;
use crate::exchange::Exchange;

use crate::haproxy::command;
use crate::haproxy::outcome::{Judge, Outcome, OutcomeError, SEVERITY_PREFIX, Tags};

/// Where a command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A stats socket: the command goes as it is, after [`SEVERITY_PREFIX`].
    Direct,
    /// Through the master to the current worker (`@1`).
    CurrentWorker,
    /// Through the master to the worker with this PID (`@!PID`), current or old.
    Worker(u32),
    /// The master itself (`@master`).
    Master,
}

impl Route {
    /// The master CLI prefix, if any.
    pub fn prefix(&self) -> Option<String> {
        match self {
            Route::Direct => None,
            Route::CurrentWorker => Some("@1".into()),
            Route::Worker(pid) => Some(format!("@!{pid}")),
            Route::Master => Some("@master".into()),
        }
    }

    /// How the reply of a command sent this way reads (see [`outcome`] for why the master
    /// gives no severity tags).
    pub fn tags(&self) -> Tags {
        match self {
            Route::Direct => Tags::Tagged,
            _ => Tags::Plain,
        }
    }

    /// The line to send to run `command` (one command, or a chain with `;`) this way.
    pub fn line(&self, command: &str) -> Result<Command, CommandError> {
        let line = match self.prefix() {
            None => format!("{SEVERITY_PREFIX}{command}"),
            Some(prefix) => command::commands(command)
                .into_iter()
                .map(|part| format!("{prefix} {part}"))
                .collect::<Vec<_>>()
                .join("; "),
        };
        Command::new(line)
    }
}

#[derive(Debug)]
pub enum RunError {
    /// The command holds a line break.
    Command(CommandError),
    Exchange(ExchangeError),
    Reply(OutcomeError),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Command(e) => e.fmt(f),
            RunError::Exchange(e) => e.fmt(f),
            RunError::Reply(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Command(e) => Some(e),
            RunError::Exchange(e) => Some(e),
            RunError::Reply(e) => Some(e),
        }
    }
}

/// Runs `command` by `route` on its own connection and reads the outcome. The whole reply is
/// held in memory; bound it with [`Exchange::max_bytes`].
pub fn run(
    address: &Address,
    exchange: &Exchange,
    route: Route,
    command: &str,
) -> Result<Outcome, RunError> {
    run_judged(address, exchange, route, command, usize::MAX, &mut |_| {
        Ok(())
    })
}

/// [`run`], holding at most `hold` bytes of the reply: past that, its output goes to `out` as
/// it comes (see [`Judge`]) and the outcome's output is empty.
pub fn run_judged(
    address: &Address,
    exchange: &Exchange,
    route: Route,
    command: &str,
    hold: usize,
    out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> Result<Outcome, RunError> {
    let line = route.line(command).map_err(RunError::Command)?;
    let mut judge = Judge::new(command, route.tags(), hold);
    let report = exchange.run(
        address,
        &line,
        &mut Judging {
            judge: &mut judge,
            out,
        },
    );
    report.map_err(RunError::Exchange)?;
    match judge.finish(out) {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(source)) => Err(RunError::Exchange(ExchangeError::Sink {
            source,
            received: Default::default(),
        })),
        Err(e) => Err(RunError::Reply(e)),
    }
}

/// The sink of an exchange whose reply a [`Judge`] reads.
struct Judging<'a, 'o> {
    judge: &'a mut Judge,
    out: &'o mut dyn FnMut(&[u8]) -> io::Result<()>,
}

impl io::Write for Judging<'_, '_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.judge.push(bytes, self.out)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(route: Route, command: &str) -> String {
        route.line(command).unwrap().to_string()
    }

    #[test]
    fn lines_per_route() {
        assert_eq!(
            line(Route::Direct, "show info"),
            "set severity-output number; show info"
        );
        assert_eq!(line(Route::CurrentWorker, "show info"), "@1 show info");
        assert_eq!(line(Route::Worker(42), "show info"), "@!42 show info");
        assert_eq!(line(Route::Master, "show proc"), "@master show proc");
        // Every command of a chain is routed, not only the first.
        assert_eq!(
            line(
                Route::CurrentWorker,
                "set server b/s state drain; show servers state b"
            ),
            "@1 set server b/s state drain; @1 show servers state b"
        );
        assert_eq!(
            line(Route::Direct, "a; b"),
            "set severity-output number; a; b"
        );
        assert!(Route::Direct.line("a\nb").is_err());
    }
}
