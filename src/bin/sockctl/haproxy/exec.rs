//! `sockctl haproxy exec`: HAProxy commands with honest exit codes.

use std::io::{IsTerminal, Write};

use serde::Serialize;
use sockctl::haproxy::discover::Want;
use sockctl::haproxy::master;
use sockctl::haproxy::route::{self, RunError};
use sockctl::{Address, Command};

use super::target::{self, Role, Target};
use super::{at, socket};
use crate::cli::{ExecArgs, WorkerChoice};
use crate::exit::{self, Code, UsageError};
use crate::sanitize;
use crate::send::exchange_from;

/// `--json`: every result, in the order run.
#[derive(Serialize)]
struct Report {
    ok: bool,
    results: Vec<Entry>,
}

/// One command in one process.
#[derive(Serialize)]
struct Entry {
    command: String,
    /// `socket`, `worker` or `master`.
    target: &'static str,
    pid: Option<u32>,
    role: Option<Role>,
    ok: bool,
    /// The output as text (invalid UTF-8 replaced); the bytes are printed as they came.
    output: String,
    #[serde(skip)]
    bytes: Vec<u8>,
    errors: Vec<EntryError>,
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

pub fn run(args: ExecArgs, verbose: bool) -> anyhow::Result<Code> {
    check_commands(&args)?;
    let address = socket(&args.socket, Want::Any, verbose)?;
    let exchange = exchange_from(&args.exchange);
    let kind = at(master::probe(&address, &exchange), &address)?;
    let targets = target::resolve(&kind, &args.route)?;
    // Asked for all workers, the reader cannot know how many there will be: always label.
    let labelled = targets.len() > 1 || args.route.worker == Some(WorkerChoice::All);
    let escape = !args.raw && !args.json && std::io::stdout().is_terminal();
    let mut out = std::io::stdout().lock();
    let mut report = Report {
        ok: true,
        results: Vec::new(),
    };
    let mut worst = Code::Ok;
    for command in &args.commands {
        let mut failed = false;
        for target in &targets {
            if verbose && let Ok(line) = target.route.line(command) {
                eprintln!("sockctl: {address}: {}: sending '{line}'", target.process);
            }
            let result = one(&address, &exchange, target, command)?;
            failed |= !result.ok;
            for error in &result.errors {
                worst = worst.max(error.exit);
                let place = match target.process {
                    target::Process::Socket => String::new(),
                    process => format!("{process}: "),
                };
                eprintln!(
                    "sockctl: {address}: {place}'{}': {}",
                    sanitize::text(command),
                    sanitize::text(&error.message)
                );
            }
            if args.json {
                report.results.push(result);
                continue;
            }
            if labelled {
                writeln!(out, "== {} ==", target.process)?;
            }
            if escape {
                out.write_all(sanitize::text(&result.output).as_bytes())?;
            } else {
                out.write_all(&result.bytes)?;
            }
        }
        if failed && !args.keep_going {
            break;
        }
    }
    if args.json {
        report.ok = report.results.iter().all(|r| r.ok);
        let mut text = serde_json::to_vec_pretty(&report)?;
        text.push(b'\n');
        out.write_all(&text)?;
    }
    out.flush()?;
    Ok(worst)
}

/// Every COMMAND is checked before anything is sent.
fn check_commands(args: &ExecArgs) -> Result<(), UsageError> {
    for (i, command) in args.commands.iter().enumerate() {
        let n = i + 1;
        if let Err(e) = Command::new(command.as_bytes()) {
            return Err(UsageError(format!("command {n}: {e}")));
        }
        if command.trim().is_empty() {
            return Err(UsageError(format!("command {n} is empty")));
        }
        if command.trim_start().starts_with('@') {
            return Err(UsageError(format!(
                "command {n} starts with '@': choose the process with --worker or --master \
                 instead, so that results are labelled with it"
            )));
        }
        if !args.allow_chaining && route::is_chain(command) {
            return Err(UsageError(format!(
                "command {n} holds ';', which HAProxy takes as the end of a command: what \
                 follows would run as another command. Give each command as its own \
                 argument, escape the ';' as '\\;' if it belongs to a value, or pass \
                 --allow-chaining"
            )));
        }
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
    let mut result = Entry {
        command: command.to_string(),
        target: target.process.kind(),
        pid: target.process.pid(),
        role: target.process.role(),
        ok: true,
        output: String::new(),
        bytes: Vec::new(),
        errors: Vec::new(),
    };
    let simple = |code: Code, message: String| EntryError {
        code: code as i32,
        exit: code,
        severity: None,
        severity_name: None,
        message,
    };
    match route::run(address, exchange, target.route, command) {
        Ok(outcome) => {
            result.output = String::from_utf8_lossy(&outcome.output).into_owned();
            result.bytes = outcome.output;
            for failure in &outcome.failures {
                result.errors.push(EntryError {
                    code: Code::CommandFailed as i32,
                    exit: Code::CommandFailed,
                    severity: failure.severity,
                    severity_name: failure.severity_name(),
                    message: failure.message.clone(),
                });
            }
        }
        Err(RunError::Exchange(e)) => {
            let code = exit::for_exchange(&e);
            if code == Code::Interrupted {
                return Err(anyhow::Error::new(e).context(address.to_string()));
            }
            result.errors.push(simple(code, e.to_string()));
        }
        Err(RunError::Reply(e)) => result.errors.push(simple(Code::BadReply, e.to_string())),
        Err(RunError::Command(e)) => result.errors.push(simple(Code::Usage, e.to_string())),
    }
    result.ok = result.errors.is_empty();
    Ok(result)
}
