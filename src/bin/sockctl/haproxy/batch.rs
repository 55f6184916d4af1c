//! `sockctl haproxy exec --batch FILE`: the commands of a file over one connection.

use std::path::Path;

use anyhow::Context;
use sockctl::Address;
use sockctl::client::Flow;
use sockctl::haproxy::batch::{self, BatchError, Entry, Options, Rules, Step};
use sockctl::haproxy::session::{self, OpenError, Session};

use super::destination::Destination;
use super::printer::{Entry as Result_, Printer};
use crate::exit::{self, Code, Reported, UsageError};
use crate::lines;

/// Commands written ahead of their replies when they may be (see the library's `batch`).
const WINDOW: usize = 256;

/// The commands of FILE (`-`: standard input), all checked before anything is sent.
pub fn read(path: &Path, allow_chaining: bool) -> anyhow::Result<Vec<Entry>> {
    // Read so that a signal ends the wait: the input may be a pipe or a FIFO whose writer
    // keeps it open (`sleep 8 | sockctl … --batch -`).
    let (input, name) = if path == Path::new("-") {
        let input = lines::read_stdin().context("reading the batch from stdin")?;
        (input, "stdin".to_string())
    } else {
        // A batch that cannot be read is a mistake on the command line, not an output error
        // (when interrupted, sockctl dies of the signal whatever the code).
        let input = lines::read_file(path)
            .map_err(|e| UsageError(format!("--batch {}: {e}", path.display())))?;
        (input, path.display().to_string())
    };
    let entries = batch::split(&input, Rules { allow_chaining })
        .map_err(|e| UsageError(format!("{name}: {e}")))?;
    Ok(entries)
}

/// Runs the batch in each process over one connection, in the order `exec` would run the
/// same commands one per connection.
/// What a batch needs of the command line.
pub struct Settings {
    /// Go on after a failure (and write commands ahead of their replies).
    pub keep_going: bool,
    pub connect_timeout: Option<std::time::Duration>,
    /// Limit for each reply.
    pub reply_timeout: Option<std::time::Duration>,
    pub max_bytes: Option<u64>,
}

pub fn run(
    address: &Address,
    args: &Settings,
    processes: &[Destination],
    entries: &[Entry],
    verbose: bool,
    printer: &mut Printer<'_>,
) -> anyhow::Result<()> {
    let limit = args.max_bytes;
    let options = session::Options {
        connect_timeout: args.connect_timeout,
        max_bytes: limit,
        ..session::Options::default()
    };
    let mut session = match Session::open(address, options) {
        Ok(session) => session,
        Err(OpenError::NotHaproxy { .. }) => {
            printer.note("not an HAProxy CLI: it did not answer 'prompt' with a prompt")?;
            return Err(Reported(Code::BadReply).into());
        }
        Err(e) => return Err(anyhow::Error::new(e).context(address.to_string())),
    };
    let (steps, labels): (Vec<Step>, Vec<&Destination>) = entries
        .iter()
        .flat_map(|entry| processes.iter().map(move |target| (entry, target)))
        .map(|(entry, target)| {
            let step = Step {
                entry,
                route: target.route,
            };
            (step, target)
        })
        .unzip();
    let options = Options {
        keep_going: args.keep_going,
        window: WINDOW,
        reply_timeout: args.reply_timeout,
        max_bytes: limit,
        hold: printer.hold(),
    };
    let mut written = Ok(());
    // The last step shown, and whether it failed.
    let last = std::cell::Cell::new((0, false));
    // Output passed on as it comes goes through the same printer as whole replies; the
    // RefCell lets both callbacks reach it.
    let shared = std::cell::RefCell::new(printer);
    let mut out = |step: usize, bytes: &[u8]| {
        last.set((step, false));
        shared.borrow_mut().part(labels[step].process, bytes)
    };
    let result = batch::run_parts(&mut session, &steps, &options, &mut out, &mut |done| {
        let printer = &mut **shared.borrow_mut();
        let step = &steps[done.step];
        if verbose && let Some(again) = &done.reconnected {
            let _ = printer.note(&format!("reconnected ({})", again.reason));
        }
        let entry = Result_::new(
            &step.entry.command,
            labels[done.step].process,
            Some(step.entry.line),
        )
        .outcome(done.outcome);
        last.set((done.step, !entry.ok));
        written = printer.show(entry);
        if written.is_ok() {
            Flow::Continue
        } else {
            Flow::Stop
        }
    });
    let printer = shared.into_inner();
    let written = match (written, &result) {
        (Ok(()), Err(BatchError::Output(e))) => Err(std::io::Error::new(e.kind(), e.to_string())),
        (written, _) => written,
    };
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            // What would have run next, had the output stayed open: nothing after a failed
            // step without --keep-going.
            let (step, failed) = last.get();
            if failed && !args.keep_going {
                return Ok(());
            }
            let labelled = processes.len() > 1;
            let rest: Vec<String> = steps[step + 1..]
                .iter()
                .zip(&labels[step + 1..])
                .map(|(s, target)| {
                    let command = crate::sanitize::text(&s.entry.command);
                    match labelled {
                        true => format!("line {}: '{command}' in {}", s.entry.line, target.process),
                        false => format!("line {}: '{command}'", s.entry.line),
                    }
                })
                .collect();
            if !rest.is_empty() && args.keep_going {
                printer.note(
                    "with --keep-going, commands are written ahead of their replies: some of \
                     those not answered may have run",
                )?;
            }
            return printer.closed(rest);
        }
        Err(e) => return Err(e.into()),
    }
    match result {
        Ok(()) => Ok(()),
        Err(BatchError::Lost { step, sent, error }) => {
            let code = exit::for_exchange(&error);
            if code == Code::Interrupted {
                return Err(anyhow::Error::new(error).context(address.to_string()));
            }
            let entry = steps[step].entry;
            let mut message = format!("line {}: {}: {error}", entry.line, entry.command);
            let last = steps[step..sent].last().map(|s| s.entry.line);
            match last {
                Some(last) if last > entry.line => message.push_str(&format!(
                    "; lines {} to {last} were sent and may have run; nothing was sent again",
                    entry.line
                )),
                Some(_) => message.push_str("; it was sent and may have run; not sent again"),
                None => message.push_str("; it was not sent"),
            }
            printer.note(&message)?;
            printer.worst = printer.worst.max(code);
            Ok(())
        }
        Err(e) => Err(anyhow::Error::new(e).context(address.to_string())),
    }
}
