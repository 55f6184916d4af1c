//! `sockctl shell ADDR < commands`: many commands over one HAProxy connection.
//!
//! Each line of standard input is a command (blank lines and `#` comments are skipped); a line
//! ending in ` <<` takes the lines after it, up to an empty line, as its payload. Each reply is
//! written as the exact bytes the command returns on its own connection (escaped only when
//! standard output is a terminal). A failed command does not stop the run; the exit code is the
//! first failure's.
//!
//! What counts as a failure: no complete reply (timeout, reset, closed), a 2.6 master closing
//! on its own error message (an unknown `@` target), and a 3.x `reload` answering `Success=0`.
//! HAProxy's error *messages* (`Unknown command`, `No such server.`) are not recognised: the
//! CLI gives them no status, and guessing from their wording would be wrong for some command.

use std::io::{self, IsTerminal, Write};

use anyhow::Context;
use sockctl::Command;
use sockctl::haproxy::session::{OpenError, Session, SessionError, is_payload_command};

use super::{code_for, deadline, describe, note, options, raw, reload_failed};
use crate::cli::ShellArgs;
use crate::exit::{Code, UsageError};
use crate::lines::StdinLines;

pub fn run(args: &ShellArgs) -> anyhow::Result<Code> {
    if args.raw {
        return raw::piped(args);
    }
    let mut session = match Session::open(args.address(), options(args)) {
        Ok(session) => session,
        Err(OpenError::NotHaproxy { .. }) => {
            eprintln!(
                "sockctl: {}: not an HAProxy CLI (no HAProxy prompt in answer to 'prompt'); \
                 use --raw for a line-oriented session",
                args.address()
            );
            return Ok(Code::BadReply);
        }
        Err(OpenError::Interrupted) => return Ok(Code::Interrupted),
        Err(e) => return Err(anyhow::Error::new(e).context(args.address().to_string())),
    };
    let escape = io::stdout().is_terminal();
    let mut lines = StdinLines::new();
    let mut first_failure = Code::Ok;
    while let Some(line) = lines
        .next_command()
        .context("reading commands from stdin")?
    {
        let command = Command::new(line)
            .map_err(|e| UsageError(format!("stdin line {}: {e}", lines.number)))?;
        let mut payload = Vec::new();
        if is_payload_command(command.as_bytes()) {
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
        let code = match session.run_payload(&command, &payload, deadline(args)) {
            Ok(reply) => {
                if let Some(again) = &reply.reconnected {
                    note(&describe(again));
                }
                write(&reply.body, escape)?;
                if reload_failed(&reply) {
                    eprintln!(
                        "sockctl: {}: '{command}': the reload failed (Success=0)",
                        args.address()
                    );
                    Code::CommandFailed
                } else {
                    Code::Ok
                }
            }
            Err(e) => {
                write(e.received(), escape)?;
                let code = code_for(session.flavor(), &e);
                if code == Code::Interrupted {
                    return Err(anyhow::Error::new(e).context(args.address().to_string()));
                }
                if !matches!(e, SessionError::Closed { .. }) || code != Code::CommandFailed {
                    eprintln!("sockctl: {}: '{command}': {e}", args.address());
                }
                code
            }
        };
        if first_failure == Code::Ok {
            first_failure = code;
        }
    }
    Ok(first_failure)
}

fn write(bytes: &[u8], escape: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if escape {
        out.write_all(crate::sanitize::bytes(bytes).as_bytes())?;
    } else {
        out.write_all(bytes)?;
    }
    out.flush()
}
