//! Many HAProxy commands over one connection, each reply exactly what the command returns on
//! a connection of its own.
//!
//! [`split`] turns the text of a batch (one command per line) into [`Entry`]s and refuses what
//! would not run as written; [`run`] sends them over a prompt-mode [`Session`] and hands each
//! command's [`Outcome`] to the caller as soon as it is known.
//!
//! # How the commands travel
//!
//! Measured against HAProxy 2.6.12 on its stats socket, 10,000 `set server be/sN weight W`
//! from one process, on two cores (median of five; `docs/many.md` has the rest):
//!
//! | way | cost per command |
//! |---|---|
//! | a connection per command | ~80 µs |
//! | prompt mode, one command at a time | 31–38 µs (20 µs on a busy machine) |
//! | prompt mode, written ahead (up to 256 in flight) | ~8 µs |
//! | `a; b; c` chains of ~8 KB on non-interactive connections | ~6 µs |
//!
//! Chains are not used: on a non-interactive connection the replies of a chain run together
//! with nothing to tell where one ends (replies contain empty lines), HAProxy 3.0+ runs only
//! the first line of such a connection, and a chain has no way to stop at a failure. Prompt
//! mode ends every reply with a prompt, which [`framing`](super::framing) finds exactly, and
//! the framed bytes are the non-interactive bytes.
//!
//! Writing ahead is used only when every command runs anyway (`keep_going`) and only on a
//! stats socket. Otherwise a command is sent once the reply before it was read: a batch that
//! stops at its first failure must not have sent the commands after it. Through the master
//! CLI each command costs ~125 µs whatever the client does (the master forwards every command
//! to the worker on a connection of its own), and HAProxy 2.6's master closes the connection
//! after its own errors, dropping whatever was written after the failed command; one command
//! at a time keeps that exact too.
//!
//! # Failures
//!
//! On a stats socket the session first runs `set severity-output number`, so that every
//! message carries its severity, read by [`outcome`] as for a command on its
//! own connection (the tags are removed from the output). Through the master, failures are
//! recognized by their text, as for `route::run`.
//!
//! When the connection fails before a reply is complete, the batch stops with
//! [`BatchError::Lost`], which says which command was waiting for its reply and which
//! commands after it were written (and may have run): nothing is sent again. Two closes are
//! part of HAProxy's protocol and do not stop the batch, as nothing was written after the
//! command that caused them: the master's own error messages on 2.6 (the next command
//! reconnects), and a master `reload`.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::time::Duration;

use super::command;
use super::outcome::{self, Judge, Outcome, OutcomeError, SEVERITY_PREFIX, Tags};
use super::route::Route;
use super::session::{self, Reconnected, Session};
use crate::client::{Flow, Limits, Request};
use crate::command::Command;
use crate::error::ExchangeError;
use crate::haproxy::framing::{Flavor, Target};

mod split;

pub use split::{Entry, Rules, SplitError, split};

/// One command to run in one process.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub entry: &'a Entry,
    pub route: Route,
}

/// How [`run`] goes.
#[derive(Debug, Clone)]
pub struct Options {
    /// Run every command whatever happens to the ones before (and write ahead on a stats
    /// socket); otherwise stop after the first failed command.
    pub keep_going: bool,
    /// Commands written ahead of their replies when that is allowed.
    pub window: usize,
    /// Each command's reply must be complete within this time.
    pub reply_timeout: Option<Duration>,
    /// A reply larger than this is an error (default
    /// [`DEFAULT_MAX_REPLY`](super::session::DEFAULT_MAX_REPLY)).
    pub max_bytes: Option<u64>,
    /// A reply is held up to this size to be judged whole; past it, its output goes to
    /// [`run_parts`]' `out` as it comes (see [`Judge`]). Default: no limit.
    pub hold: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            keep_going: false,
            window: 256,
            reply_timeout: Some(Duration::from_secs(10)),
            max_bytes: Some(super::session::DEFAULT_MAX_REPLY),
            hold: usize::MAX,
        }
    }
}

#[derive(Debug)]
pub enum BatchError {
    /// The stats socket did not take `set severity-output number`.
    Severity(OutcomeError),
    /// A step's route does not fit the socket (a master route on a stats socket, or the
    /// other way round).
    Route { step: usize },
    /// The connection failed before step `step` had its complete reply. Steps `step` up to
    /// (not including) `sent` were written and may have run; nothing was sent again.
    Lost {
        step: usize,
        sent: usize,
        error: ExchangeError,
    },
    /// Writing a reply's output failed (see [`run_parts`]); the run stopped there.
    Output(io::Error),
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::Severity(e) => e.fmt(f),
            BatchError::Route { .. } => f.write_str("a command's route does not fit the socket"),
            BatchError::Lost { error, .. } => error.fmt(f),
            BatchError::Output(e) => write!(f, "writing the output: {e}"),
        }
    }
}

impl std::error::Error for BatchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BatchError::Severity(e) => Some(e),
            BatchError::Lost { error, .. } => Some(error),
            BatchError::Output(e) => Some(e),
            _ => None,
        }
    }
}

/// What became of one step.
#[derive(Debug)]
pub struct Done {
    pub step: usize,
    pub outcome: Outcome,
    /// The connection was replaced before this step was sent.
    pub reconnected: Option<Reconnected>,
}

/// Runs `steps` in order over `session`, calling `done` with each step's outcome as soon as
/// it is known; `done` may stop the run. Stops after a failed step unless
/// [`Options::keep_going`].
pub fn run(
    session: &mut Session,
    steps: &[Step<'_>],
    options: &Options,
    done: &mut dyn FnMut(Done) -> Flow,
) -> Result<(), BatchError> {
    run_parts(session, steps, options, &mut |_, _| Ok(()), done)
}

/// [`run`], where the output of a reply larger than [`Options::hold`] goes to `out` (with its
/// step) as it comes; that step's outcome then has only what came after. An error from `out`
/// stops the run and is returned as [`BatchError::Output`].
pub fn run_parts(
    session: &mut Session,
    steps: &[Step<'_>],
    options: &Options,
    out: &mut dyn FnMut(usize, &[u8]) -> io::Result<()>,
    done: &mut dyn FnMut(Done) -> Flow,
) -> Result<(), BatchError> {
    let flavor = session.flavor();
    if let Some(step) = steps
        .iter()
        .position(|s| (s.route == Route::Direct) != (flavor == Flavor::Stats))
    {
        return Err(BatchError::Route { step });
    }
    let tags = match flavor {
        Flavor::Stats => {
            set_severity(session, options)?;
            Tags::TaggedSession
        }
        Flavor::Master => Tags::Plain,
    };
    let wire = Wire::new(steps);
    let window = match flavor {
        Flavor::Stats if options.keep_going => options.window.max(1),
        _ => 1,
    };
    let limits = Limits {
        window,
        deadline: None,
        reply_timeout: options.reply_timeout,
        max_bytes: options.max_bytes,
    };
    // The reply of the step in progress (its commands' replies, in order), and the first
    // error writing output. Shared by the two callbacks of the pipeline.
    let reading = RefCell::new(Reading {
        judge: None,
        failed_output: None,
        out,
        tags,
        hold: options.hold,
    });
    let feed = |step: usize, bytes: &[u8]| -> Flow {
        let command = &steps[step].entry.command;
        reading.borrow_mut().feed(step, command, bytes)
    };
    let finish = |step: usize,
                  reconnected: Option<Reconnected>,
                  done: &mut dyn FnMut(Done) -> Flow|
     -> Flow {
        let command = &steps[step].entry.command;
        let Some(outcome) = reading.borrow_mut().finish(step, command) else {
            return Flow::Stop;
        };
        let failed = !outcome.is_ok();
        let flow = done(Done {
            step,
            outcome,
            reconnected,
        });
        if failed && !options.keep_going {
            Flow::Stop
        } else {
            flow
        }
    };
    let output_failed = || reading.borrow_mut().failed_output.take();
    let mut reconnected = None;
    let mut next = 0;
    while next < wire.requests.len() {
        let mut part = |index: usize, bytes: &[u8]| feed(wire.step_of[next + index], bytes);
        let result =
            session.pipeline_parts(&wire.requests[next..], &limits, &mut part, &mut |answer| {
                let index = next + answer.index;
                let step = wire.step_of[index];
                reconnected = reconnected.take().or(answer.reconnected);
                if feed(step, &answer.reply.body) == Flow::Stop {
                    return Flow::Stop;
                }
                if !wire.ends_step(index) {
                    return Flow::Continue;
                }
                finish(step, reconnected.take(), done)
            });
        if let Some(e) = output_failed() {
            return Err(BatchError::Output(e));
        }
        let Err(broken) = result else {
            return Ok(());
        };
        let index = next + broken.answered;
        let step = wire.step_of[index];
        let nothing_after = broken.sent <= broken.answered + 1;
        match broken.error {
            ExchangeError::Closed { received }
                if nothing_after
                    && closes_after(flavor, &wire.requests[index], received.bytes()) =>
            {
                let flow = match feed(step, received.bytes()) {
                    Flow::Continue => finish(step, reconnected.take(), done),
                    Flow::Stop => Flow::Stop,
                };
                if let Some(e) = output_failed() {
                    return Err(BatchError::Output(e));
                }
                if flow == Flow::Stop {
                    return Ok(());
                }
                next = wire.first_of_step(step + 1);
            }
            error => {
                let sent = match broken.sent {
                    0 => step,
                    n => wire.step_of[next + n - 1] + 1,
                };
                return Err(BatchError::Lost { step, sent, error });
            }
        }
    }
    Ok(())
}

/// What the pipeline's callbacks share.
struct Reading<'o> {
    /// The judge of the step in progress.
    judge: Option<Judge>,
    failed_output: Option<io::Error>,
    out: &'o mut dyn FnMut(usize, &[u8]) -> io::Result<()>,
    tags: Tags,
    hold: usize,
}

impl Reading<'_> {
    /// More of step `step`'s reply.
    fn feed(&mut self, step: usize, command: &str, bytes: &[u8]) -> Flow {
        let (tags, hold) = (self.tags, self.hold);
        let judge = self
            .judge
            .get_or_insert_with(|| Judge::new(command, tags, hold));
        let out = &mut self.out;
        match judge.push(bytes, &mut |b| out(step, b)) {
            Ok(()) => Flow::Continue,
            Err(e) => {
                self.failed_output = Some(e);
                Flow::Stop
            }
        }
    }

    /// Step `step`'s reply is complete: its outcome, `None` when writing its output failed.
    fn finish(&mut self, step: usize, command: &str) -> Option<Outcome> {
        let judge = match self.judge.take() {
            Some(judge) => judge,
            None => Judge::new(command, self.tags, self.hold),
        };
        let out = &mut self.out;
        match judge.finish(&mut |b| out(step, b)) {
            Ok(Ok(outcome)) => Some(outcome),
            Ok(Err(e)) => {
                self.failed_output = Some(e);
                None
            }
            Err(_) => unreachable!("session tags always read"),
        }
    }
}

/// Switches severity tags on for the whole session (and for any reconnect).
fn set_severity(session: &mut Session, options: &Options) -> Result<(), BatchError> {
    let command = SEVERITY_PREFIX.trim_end().trim_end_matches(';');
    let command = Command::new(command).expect("no line break");
    let deadline = options.reply_timeout.map(|t| std::time::Instant::now() + t);
    let lost = |error| BatchError::Lost {
        step: 0,
        sent: 0,
        error,
    };
    let reply = session.run_setting(&command, deadline).map_err(lost)?;
    outcome::read(&reply.body, Tags::Tagged).map_err(BatchError::Severity)?;
    Ok(())
}

/// A close the master makes after answering, with nothing lost: its own error message, or a
/// `reload` (requests go with their route's prefix, as if from the master's own prompt).
fn closes_after(flavor: Flavor, request: &Request, received: &[u8]) -> bool {
    let line = request.as_bytes().strip_suffix(b"\n").unwrap_or_default();
    session::protocol_close(flavor, &Target::Master, line, received).is_some()
}

/// The steps as command lines on the wire: one per command of a chain, each routed.
struct Wire {
    requests: Vec<Request>,
    /// The step each request belongs to.
    step_of: Vec<usize>,
}

impl Wire {
    fn new(steps: &[Step<'_>]) -> Wire {
        let mut wire = Wire {
            requests: Vec::new(),
            step_of: Vec::new(),
        };
        for (index, step) in steps.iter().enumerate() {
            let parts = command::commands(&step.entry.command);
            let last = parts.len().saturating_sub(1);
            for (i, part) in parts.iter().enumerate() {
                let line = match step.route.prefix() {
                    None => part.to_string(),
                    Some(prefix) => format!("{prefix} {part}"),
                };
                let payload = if i == last {
                    &step.entry.payload[..]
                } else {
                    &[]
                };
                wire.requests
                    .push(command::request(line.as_bytes(), payload));
                wire.step_of.push(index);
            }
        }
        wire
    }

    fn ends_step(&self, index: usize) -> bool {
        self.step_of.get(index + 1) != self.step_of.get(index)
    }

    /// The first request of `step`, or the end.
    fn first_of_step(&self, step: usize) -> usize {
        self.step_of.partition_point(|&s| s < step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_lines_are_routed_per_command() {
        let entries = split(
            b"show info\nset weight b/s 1; get weight b/s\nadd map #0 <<\nk v\n",
            Rules {
                allow_chaining: true,
            },
        )
        .unwrap();
        let steps: Vec<Step> = entries
            .iter()
            .map(|entry| Step {
                entry,
                route: Route::CurrentWorker,
            })
            .collect();
        let wire = Wire::new(&steps);
        let lines: Vec<&[u8]> = wire.requests.iter().map(|r| r.as_bytes()).collect();
        assert_eq!(
            lines,
            [
                &b"@1 show info\n"[..],
                b"@1 set weight b/s 1\n",
                b"@1 get weight b/s\n",
                b"@1 add map #0 <<\nk v\n\n"
            ]
        );
        assert_eq!(wire.step_of, [0, 1, 1, 2]);
        assert!(wire.ends_step(0) && !wire.ends_step(1) && wire.ends_step(2));
        assert!(wire.ends_step(3));
        assert_eq!(wire.first_of_step(2), 3);
        assert_eq!(wire.first_of_step(3), 4);
    }
}
