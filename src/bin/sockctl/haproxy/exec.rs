//! `sockctl haproxy exec`: HAProxy commands with honest exit codes.

use std::io::{IsTerminal, Write};

use serde::Serialize;
use sockctl::Address;
use sockctl::error::ExchangeError;
use sockctl::haproxy::command::{self as syntax, Rules};
use sockctl::haproxy::discover::Want;
use sockctl::haproxy::master;
use sockctl::haproxy::outcome::{self, Outcome};
use sockctl::haproxy::reload::{Protocol, Reload, ReloadError, Status};
use sockctl::haproxy::route::{self, Route, RunError};
use sockctl::haproxy::session::{self, OpenError, Session};

use super::target::{self, Process, Role, Target};
use super::{at, batch, targets};
use crate::cli::{ExecArgs, WorkerChoice};
use crate::exit::{self, Code, UsageError};
use crate::fanout::{self, Shape};
use crate::sanitize;
use crate::send::{HELD_REPLY_LIMIT, limited_exchange};

/// `--json`: every result, in the order run.
#[derive(Serialize)]
struct Report {
    ok: bool,
    results: Vec<Entry>,
}

/// One command in one process.
#[derive(Serialize)]
pub struct Entry {
    /// The line of the batch file it came from (batches only).
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    command: String,
    /// `socket`, `worker` or `master`.
    target: &'static str,
    pid: Option<u32>,
    role: Option<Role>,
    pub ok: bool,
    /// The output as text (invalid UTF-8 replaced); the bytes are printed as they came.
    output: String,
    #[serde(skip)]
    bytes: Vec<u8>,
    errors: Vec<EntryError>,
    #[serde(skip)]
    process: Process,
}

#[derive(Serialize)]
struct EntryError {
    /// The exit code this error alone would give.
    code: i32,
    #[serde(skip)]
    exit: Code,
    severity: Option<u8>,
    severity_name: Option<&'static str>,
    message: String,
}

impl Entry {
    pub fn new(command: &str, process: Process, line: Option<usize>) -> Entry {
        Entry {
            line,
            command: command.to_string(),
            target: process.kind(),
            pid: process.pid(),
            role: process.role(),
            ok: true,
            output: String::new(),
            bytes: Vec::new(),
            errors: Vec::new(),
            process,
        }
    }

    /// What HAProxy answered.
    pub fn outcome(mut self, outcome: Outcome) -> Entry {
        self.output = String::from_utf8_lossy(&outcome.output).into_owned();
        self.bytes = outcome.output;
        for failure in &outcome.failures {
            self.errors.push(EntryError {
                code: Code::CommandFailed as i32,
                exit: Code::CommandFailed,
                severity: failure.severity,
                severity_name: failure.severity_name(),
                message: failure.message.clone(),
            });
        }
        self.ok = self.errors.is_empty();
        self
    }

    /// No answer to read: the command failed with this code.
    pub fn error(mut self, code: Code, message: String) -> Entry {
        self.errors.push(EntryError {
            code: code as i32,
            exit: code,
            severity: None,
            severity_name: None,
            message,
        });
        self.ok = false;
        self
    }
}

pub fn run(args: ExecArgs, verbose: bool) -> anyhow::Result<Code> {
    let batch = match &args.batch {
        Some(path) => Some(batch::read(path, args.allow_chaining)?),
        None => {
            check_commands(&args)?;
            None
        }
    };
    let targets = targets(&args.socket, Want::Any, verbose)?;
    let json = args.json.then_some(Shape::Json);
    fanout::each(
        &targets,
        args.socket.targets.jobs,
        json,
        |address, out, err| {
            let mut printer = Printer::new(address, &args, out, err);
            let exchange = limited_exchange(&args.exchange, Some(HELD_REPLY_LIMIT));
            let kind = at(master::probe(address, &exchange), address)?;
            let processes = target::resolve(&kind, &args.route)?;
            // Asked for all workers, the reader cannot know how many there will be: always label.
            printer.labelled = processes.len() > 1 || args.route.worker == Some(WorkerChoice::All);
            match &batch {
                Some(entries) => {
                    batch::run(address, &args, &processes, entries, verbose, &mut printer)?
                }
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
    processes: &[Target],
    verbose: bool,
    printer: &mut Printer<'_>,
) -> anyhow::Result<()> {
    let exchange = limited_exchange(&args.exchange, Some(HELD_REPLY_LIMIT));
    for (i, command) in args.commands.iter().enumerate() {
        let mut failed = false;
        for (j, target) in processes.iter().enumerate() {
            if verbose && let Ok(line) = target.route.line(command) {
                printer.note(&format!("{}: sending '{line}'", target.process))?;
            }
            let entry = one(address, &exchange, target, command)?;
            failed |= !entry.ok;
            match printer.show(entry) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
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
                Err(e) => return Err(e.into()),
            }
        }
        if failed && !args.keep_going {
            break;
        }
    }
    Ok(())
}

/// A command that did not run, as a message names it.
fn not_run(command: &str, target: &Target, labelled: bool) -> String {
    let command = sanitize::text(command);
    if labelled {
        format!("'{command}' in {}", target.process)
    } else {
        format!("'{command}'")
    }
}

/// Prints results as they come: the output on `out`, failures on `err`, or one JSON document
/// at the end.
pub struct Printer<'a> {
    address: &'a Address,
    json: bool,
    /// A `== worker PID ==` line before each result.
    pub labelled: bool,
    /// Control characters shown escaped (on a terminal, unless `--raw`).
    escape: bool,
    /// `--raw`: HAProxy's reply byte for byte, blank lines of a silent success included.
    raw: bool,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    results: Vec<Entry>,
    pub worst: Code,
}

impl<'a> Printer<'a> {
    fn new(
        address: &'a Address,
        args: &ExecArgs,
        out: &'a mut dyn Write,
        err: &'a mut dyn Write,
    ) -> Self {
        Printer {
            address,
            json: args.json,
            labelled: false,
            escape: !args.raw && !args.json && std::io::stdout().is_terminal(),
            raw: args.raw,
            out,
            err,
            results: Vec::new(),
            worst: Code::Ok,
        }
    }

    pub fn show(&mut self, entry: Entry) -> std::io::Result<()> {
        for error in &entry.errors {
            self.worst = self.worst.max(error.exit);
            let place = match entry.process {
                Process::Socket => String::new(),
                process => format!("{process}: "),
            };
            let command = sanitize::text(&entry.command);
            let what = match entry.line {
                Some(line) => format!("{place}line {line}: {command}"),
                None => format!("{place}'{command}'"),
            };
            self.out.flush()?;
            writeln!(
                self.err,
                "sockctl: {}: {what}: {}",
                self.address,
                sanitize::text(&error.message)
            )?;
        }
        if self.json {
            self.results.push(entry);
            return Ok(());
        }
        if self.labelled {
            writeln!(self.out, "== {} ==", entry.process)?;
        }
        if !self.raw && entry.bytes.iter().all(|&b| b == b'\n') {
            // HAProxy's empty reply to a silent success (`set weight`): nothing to show.
            return Ok(());
        }
        if self.escape {
            self.out.write_all(sanitize::text(&entry.output).as_bytes())
        } else {
            self.out.write_all(&entry.bytes)
        }
    }

    /// Standard output was closed: quiet if nothing was left to run, else exit 6 naming what
    /// did not run.
    pub fn closed(&self, rest: Vec<String>) -> anyhow::Result<()> {
        if rest.is_empty() {
            return Ok(());
        }
        Err(anyhow::Error::new(exit::NotRun(rest)).context(self.address.to_string()))
    }

    /// A message on stderr, after the output so far.
    pub fn note(&mut self, text: &str) -> std::io::Result<()> {
        self.out.flush()?;
        writeln!(
            self.err,
            "sockctl: {}: {}",
            self.address,
            sanitize::text(text)
        )
    }

    fn finish(self) -> anyhow::Result<Code> {
        if self.json {
            let report = Report {
                ok: self.results.iter().all(|r| r.ok),
                results: self.results,
            };
            let mut text = serde_json::to_vec_pretty(&report)?;
            text.push(b'\n');
            match self.out.write_all(&text) {
                // Every command ran: the reader went away, the exit code stands.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                written => written?,
            }
        }
        Ok(self.worst)
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
    target: &Target,
    command: &str,
) -> anyhow::Result<Entry> {
    let entry = Entry::new(command, target.process, None);
    if target.route == Route::Master && command.trim() == "reload" {
        return verified_reload(address, entry);
    }
    if target.route != Route::Direct {
        return through_master(address, exchange, target, command, entry);
    }
    Ok(match route::run(address, exchange, target.route, command) {
        Ok(outcome) => entry.outcome(outcome),
        Err(RunError::Exchange(e)) => {
            let code = exit::for_exchange(&e);
            if code == Code::Interrupted {
                return Err(anyhow::Error::new(e).context(address.to_string()));
            }
            entry.error(code, e.to_string())
        }
        Err(RunError::Reply(e)) => entry.error(Code::BadReply, e.to_string()),
        Err(RunError::Command(e)) => entry.error(Code::Usage, e.to_string()),
    })
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
    let mut entry = entry;
    entry.bytes = reply.clone().into_bytes();
    entry.output = reply;
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
    target: &Target,
    command: &str,
    entry: Entry,
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
    let body = match session.run(&line, deadline) {
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
    Ok(
        match outcome::read_for(command, &body, target.route.framing()) {
            Ok(outcome) => entry.outcome(outcome),
            Err(e) => entry.error(Code::BadReply, e.to_string()),
        },
    )
}
