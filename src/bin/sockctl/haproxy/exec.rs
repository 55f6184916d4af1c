//! `sockctl haproxy exec`: HAProxy commands with honest exit codes.

use sockctl::Address;
use sockctl::client::Flow;
use sockctl::error::ExchangeError;
use sockctl::haproxy::command::{self as syntax, Rules};
use sockctl::haproxy::discover::Want;
use sockctl::haproxy::master;
use sockctl::haproxy::outcome::Judge;
use sockctl::haproxy::reload::{Protocol, Reload, ReloadError, Status};
use sockctl::haproxy::route::{self, Route, RunError};
use sockctl::haproxy::session::{self, OpenError, Session};

use super::destination::{self, Destination};
use super::printer::{Entry, Printer};
use super::{at, batch, targets};
use crate::cli::{ExecArgs, WorkerChoice};
use crate::config::HELD_REPLY_LIMIT;
use crate::config::{Config, Output};
use crate::exit::{self, Code, UsageError};
use crate::many::{self, Shape};
use crate::sanitize;

pub fn run(args: ExecArgs, config: &Config) -> anyhow::Result<Code> {
    let verbose = config.verbose;
    let batch = match &args.batch {
        Some(path) => Some(batch::read(path, args.allow_chaining)?),
        None => {
            check_commands(&args)?;
            None
        }
    };
    let targets = targets(&args.socket, Want::Any, verbose)?;
    let json = args.json.then_some(Shape::Json);
    let output = Output::new(args.json, args.raw, config.terminal);
    // Text output passes a large reply on as it comes; JSON embeds it, so holds it, bounded.
    let held_limit = args.json.then_some(HELD_REPLY_LIMIT);
    let settings = batch::Settings {
        keep_going: args.keep_going,
        connect_timeout: args.exchange.connect_timeout.limit(),
        reply_timeout: args.exchange.timeout.limit(),
        max_bytes: args.exchange.max_bytes(held_limit),
    };
    many::each(
        &targets,
        args.socket.targets.jobs,
        json,
        |address, out, err| {
            let mut printer = Printer::new(address, output, out, err);
            let exchange = args.exchange.holding(held_limit);
            let kind = at(master::probe(address, &exchange), address)?;
            let processes = destination::resolve(&kind, &args.route)?;
            // Asked for all workers, the reader cannot know how many there will be: always label.
            printer.labelled = processes.len() > 1 || args.route.worker == Some(WorkerChoice::All);
            match &batch {
                Some(entries) => batch::run(
                    address,
                    &settings,
                    &processes,
                    entries,
                    verbose,
                    &mut printer,
                )?,
                None => each_alone(address, &args, &processes, verbose, &mut printer)?,
            }
            printer.finish()
        },
    )
}

/// Every COMMAND on its own connection.
fn each_alone(
    address: &Address,
    args: &ExecArgs,
    processes: &[Destination],
    verbose: bool,
    printer: &mut Printer<'_>,
) -> anyhow::Result<()> {
    let exchange = args.exchange.holding(args.json.then_some(HELD_REPLY_LIMIT));
    for (i, command) in args.commands.iter().enumerate() {
        let mut failed = false;
        for (j, target) in processes.iter().enumerate() {
            if verbose && let Ok(line) = target.route.line(command) {
                printer.note(&format!("{}: sending '{line}'", target.process))?;
            }
            let shown = one(address, &exchange, target, command, printer).and_then(|entry| {
                failed |= !entry.ok;
                Ok(printer.show(entry)?)
            });
            match shown {
                Ok(()) => {}
                Err(e) if is_broken_pipe(&e) => {
                    // What would have run next, had the output stayed open.
                    let stops = failed && !args.keep_going && j + 1 == processes.len();
                    let rest = if stops {
                        Vec::new()
                    } else {
                        let here = processes[j + 1..].iter().map(|t| (command, t));
                        let after = args.commands[i + 1..]
                            .iter()
                            .flat_map(|c| processes.iter().map(move |t| (c, t)));
                        let labelled = processes.len() > 1;
                        here.chain(after)
                            .map(|(c, t)| not_run(c, t, labelled))
                            .collect()
                    };
                    return printer.closed(rest);
                }
                Err(e) => return Err(e),
            }
        }
        if failed && !args.keep_going {
            break;
        }
    }
    Ok(())
}

/// Standard output was closed while a command's output was being written.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let io = cause.downcast_ref::<std::io::Error>().or_else(|| {
            match cause.downcast_ref::<ExchangeError>() {
                Some(ExchangeError::Sink { source, .. }) => Some(source),
                _ => None,
            }
        });
        io.is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A command that did not run, as a message names it.
fn not_run(command: &str, target: &Destination, labelled: bool) -> String {
    let command = sanitize::text(command);
    if labelled {
        format!("'{command}' in {}", target.process)
    } else {
        format!("'{command}'")
    }
}

/// Every COMMAND is checked before anything is sent.
fn check_commands(args: &ExecArgs) -> Result<(), UsageError> {
    let rules = Rules::argument(args.allow_chaining);
    for (i, command) in args.commands.iter().enumerate() {
        syntax::check(command.as_bytes(), &rules)
            .map_err(|why| UsageError(format!("command {}: {why}", i + 1)))?;
    }
    Ok(())
}

/// Runs one command in one process. Only an interruption is an `Err`: everything else is a
/// result to report.
fn one(
    address: &Address,
    exchange: &sockctl::Exchange,
    target: &Destination,
    command: &str,
    printer: &mut Printer<'_>,
) -> anyhow::Result<Entry> {
    let entry = Entry::new(command, target.process, None);
    if target.route == Route::Master && command.trim() == "reload" {
        return verified_reload(address, entry);
    }
    if target.route != Route::Direct {
        return through_master(address, exchange, target, command, entry, printer);
    }
    let hold = printer.hold();
    let mut out = |bytes: &[u8]| printer.part(target.process, bytes);
    Ok(
        match route::run_judged(address, exchange, target.route, command, hold, &mut out) {
            Ok(outcome) => entry.outcome(outcome),
            Err(RunError::Exchange(e)) => {
                let code = exit::for_exchange(&e);
                if code == Code::Interrupted || is_sink_broken(&e) {
                    return Err(anyhow::Error::new(e).context(address.to_string()));
                }
                entry.error(code, e.to_string())
            }
            Err(RunError::Reply(e)) => entry.error(Code::BadReply, e.to_string()),
            Err(RunError::Command(e)) => entry.error(Code::Usage, e.to_string()),
        },
    )
}

/// `reload` in the master: the verdict `haproxy reload` gives (2.6 answers nothing, so the
/// reply alone would say nothing), with HAProxy's reply as the output where it sent one.
fn verified_reload(address: &Address, entry: Entry) -> anyhow::Result<Entry> {
    let timeout = std::time::Duration::from_secs(300);
    let reload = Reload::new(address, timeout);
    // Like `haproxy reload`: one sockctl reload of a master at a time.
    let _lock = match reload.lock() {
        Ok(lock) => lock,
        Err(e) => {
            let message = e.to_string();
            return Ok(entry.error(exit::for_error(&anyhow::Error::new(e)), message));
        }
    };
    let result = reload.before(|| {}).and_then(|before| reload.run(before));
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(ReloadError::Exchange(e)) if exit::for_exchange(&e) == Code::Interrupted => {
            return Err(anyhow::Error::new(e).context(address.to_string()));
        }
        Err(e) => {
            let message = e.to_string();
            let code = exit::for_error(&anyhow::Error::new(e));
            return Ok(entry.error(code, message));
        }
    };
    let log = outcome.logs.as_deref().map(|l| format!("--\n{l}\n"));
    let reply = match (outcome.protocol, outcome.status) {
        (Protocol::PolledCounters, _) => String::new(),
        (_, Status::Reloaded) => format!("Success=1\n{}", log.unwrap_or_default()),
        (_, Status::Failed) => format!("Success=0\n{}", log.unwrap_or_default()),
    };
    let mut entry = entry.output(reply);
    if outcome.status == Status::Failed {
        let before = outcome.before.master.failed.unwrap_or(0);
        let after = outcome.after.master.failed.unwrap_or(0);
        entry = entry.error(
            Code::CommandFailed,
            format!("the reload failed: the new configuration was rejected (failed reloads {before} -> {after})"),
        );
    }
    Ok(entry)
}

/// One command through the master CLI, framed by the master's prompt: the master closes the
/// connection when it reloads, so a clean EOF may cut a reply anywhere; only the prompt proves
/// the reply complete.
fn through_master(
    address: &Address,
    exchange: &sockctl::Exchange,
    target: &Destination,
    command: &str,
    entry: Entry,
    printer: &mut Printer<'_>,
) -> anyhow::Result<Entry> {
    let line = match target.route.line(command) {
        Ok(line) => line,
        Err(e) => return Ok(entry.error(Code::Usage, e.to_string())),
    };
    let start = std::time::Instant::now();
    let options = session::Options {
        connect_timeout: exchange.get_connect_timeout(),
        max_bytes: exchange.get_max_bytes(),
        ..session::Options::default()
    };
    let mut session = match Session::open(address, options) {
        Ok(session) => session,
        Err(OpenError::NotHaproxy { .. }) => {
            let why = "not an HAProxy master CLI: it did not answer 'prompt' with a prompt";
            return Ok(entry.error(Code::BadReply, why.into()));
        }
        Err(OpenError::Connect(e)) if exit::for_connect(&e) != Code::Interrupted => {
            return Ok(entry.error(exit::for_connect(&e), e.to_string()));
        }
        Err(e @ (OpenError::Interrupted | OpenError::Connect(_))) => {
            return Err(anyhow::Error::new(e).context(address.to_string()));
        }
        Err(e) => return Ok(entry.error(Code::BadReply, e.to_string())),
    };
    let deadline = exchange.get_timeout().map(|t| start + t);
    let mut judge = Judge::new(command, target.route.tags(), printer.hold());
    let mut broken = None;
    let mut part = |bytes: &[u8]| match judge.push(bytes, &mut |b| printer.part(target.process, b))
    {
        Ok(()) => Flow::Continue,
        Err(e) => {
            broken = Some(e);
            Flow::Stop
        }
    };
    let result = session.run_parts(&line, &[], deadline, Some(&mut part));
    if let Some(e) = broken {
        return Err(anyhow::Error::new(e).context(address.to_string()));
    }
    let body = match result {
        // A 2.6 master answers its own errors (an unknown process) and closes: the session
        // gives that as a reply, a failure to report.
        Ok(reply) => reply.body,
        Err(e) => {
            let code = exit::for_exchange(&e);
            if code == Code::Interrupted {
                return Err(anyhow::Error::new(e).context(address.to_string()));
            }
            let message = match &e {
                ExchangeError::Closed { received } => format!(
                    "the master closed the connection before the end of the reply ({} bytes \
                     received; a reload cuts replies): the reply is incomplete",
                    received.count()
                ),
                _ => e.to_string(),
            };
            return Ok(entry.error(code, message));
        }
    };
    let mut out = |b: &[u8]| printer.part(target.process, b);
    judge.push(&body, &mut out)?;
    Ok(match judge.finish(&mut out) {
        Ok(outcome) => entry.outcome(outcome?),
        Err(e) => entry.error(Code::BadReply, e.to_string()),
    })
}

/// Writing a reply's output failed: not the command's failure but the output's.
fn is_sink_broken(e: &ExchangeError) -> bool {
    matches!(e, ExchangeError::Sink { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
}
