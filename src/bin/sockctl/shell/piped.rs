//! `sockctl shell ADDR < commands`: many commands over one HAProxy connection.
//!
//! Each line of standard input is a command (blank lines and `#` comments are skipped); a line
//! ending in ` <<` takes the lines after it, up to an empty line, as its payload. Each reply is
//! written as the exact bytes the command returns on its own connection (escaped only when
//! standard output is a terminal). A failed command does not stop the run.
//!
//! What counts as a failure (exit code 1): a reply that is one of HAProxy's error messages
//! (`No such server.`, `Unknown command…`), recognised by its text as `haproxy exec` does
//! through the master ([`outcome`]): the shell sends the commands as they are, without severity
//! tags, so that the bytes shown are HAProxy's; a 2.6 master closing on its own error message
//! (an unknown `@` target); a 3.x `reload` answering `Success=0`. Each one is reported on
//! stderr with its line. No complete reply (timeout, reset, closed) is a failure with a higher
//! code, and the exit code is the highest of the run.

use anyhow::Context;
use sockctl::client::Flow;
use sockctl::error::ExchangeError;
use sockctl::haproxy::command::{self as syntax, Refusal};
use sockctl::haproxy::outcome::{Judge, Tags};
use sockctl::haproxy::session::{OpenError, Session};
use sockctl::{Address, Command};

use super::{Settings, describe, note, raw, reload_failed};
use crate::exit::{self, Code, UsageError};
use crate::lines::StdinLines;

pub fn run(args: &Settings) -> anyhow::Result<Code> {
    if args.raw {
        return raw::piped(args);
    }
    let mut session = match Session::open(&args.address, args.session_options()) {
        Ok(session) => session,
        Err(OpenError::NotHaproxy { .. }) => {
            crate::messages::say(format_args!(
                "{}: not an HAProxy CLI (no HAProxy prompt in answer to 'prompt'); \
                 use --raw for a line-oriented session, or --proto NAME for another service's \
                 protocol",
                args.address
            ));
            return Ok(Code::BadReply);
        }
        Err(OpenError::Interrupted) => return Ok(Code::Interrupted),
        Err(e) => return Err(anyhow::Error::new(e).context(args.address.to_string())),
    };
    let escape = args.terminal.stdout;
    let mut lines = StdinLines::new();
    let mut worst = Code::Ok;
    while let Some(line) = lines
        .next_command()
        .context("reading commands from stdin")?
    {
        let number = lines.number;
        let command = Command::new(line)
            .map_err(|e| UsageError(format!("stdin line {}: {e}", lines.number)))?;
        // Refused as a whole here, not by the session: the payload lines after it must not run
        // as commands.
        if syntax::has_payload_pattern(command.as_bytes()) {
            let why = Refusal::PayloadPattern;
            return Err(UsageError(format!("stdin line {number}: {why}")).into());
        }
        let mut payload = Vec::new();
        if syntax::is_payload_command(command.as_bytes()) {
            while let Some(line) = lines.next_line().context("reading a payload from stdin")? {
                if line.is_empty() {
                    break;
                }
                payload.push(
                    Command::new(line)
                        .map_err(|e| UsageError(format!("stdin line {}: {e}", lines.number)))?,
                );
            }
        }
        // A large reply is shown as it comes, judged by a judge that holds little of it.
        let mut judge = Judge::new(&command.to_string(), Tags::Plain, Judge::HOLD);
        let mut shown = Ok(());
        let mut part = |bytes: &[u8]| {
            shown = crate::sanitize::print(bytes, escape)
                .and_then(|()| judge.push(bytes, &mut |_| Ok(())));
            if shown.is_ok() {
                Flow::Continue
            } else {
                Flow::Stop
            }
        };
        let result = session.run_parts(&command, &payload, args.deadline(), Some(&mut part));
        shown?;
        let code = match result {
            Ok(reply) => {
                if let Some(again) = &reply.reconnected {
                    note(describe(again));
                }
                crate::sanitize::print(&reply.body, escape)?;
                judge.push(&reply.body, &mut |_| Ok(()))?;
                if reload_failed(&reply) {
                    crate::messages::say(format_args!(
                        "{}: '{command}': the reload failed (Success=0)",
                        args.address
                    ));
                    Code::CommandFailed
                } else if report_errors(&args.address, number, &command, judge) {
                    Code::CommandFailed
                } else {
                    Code::Ok
                }
            }
            Err(e) => {
                // A reply over --max-bytes is not written: it could be anything, of any size.
                if !matches!(e, ExchangeError::TooLarge { .. }) {
                    crate::sanitize::print(e.received().bytes(), escape)?;
                }
                let code = exit::for_exchange(&e);
                if code == Code::Interrupted {
                    return Err(anyhow::Error::new(e).context(args.address.to_string()));
                }
                crate::messages::say(format_args!("{}: '{command}': {e}", args.address));
                code
            }
        };
        worst = worst.max(code);
    }
    Ok(worst)
}

/// Reports on stderr each of HAProxy's error messages in `reply`, as `haproxy exec --batch`
/// does; whether there was any.
fn report_errors(address: &Address, line: usize, command: &Command, reply: Judge) -> bool {
    let failures = match reply.finish(&mut |_| Ok(())) {
        Ok(Ok(outcome)) => outcome.failures,
        _ => Vec::new(),
    };
    for failure in &failures {
        crate::messages::say(format_args!(
            "{address}: line {line}: {}: {}",
            crate::sanitize::text(&command.to_string()),
            crate::sanitize::text(&failure.message)
        ));
    }
    !failures.is_empty()
}
