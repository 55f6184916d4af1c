//! `sockctl send`: each command on its own connection, replies in order.

use std::os::unix::ffi::OsStrExt;

use anyhow::Context;
use sockctl::{Address, Command, Exchange};

use crate::cli::{ExchangeArgs, SendArgs};
use crate::exit::{self, Code, Reported, UsageError};
use crate::lines::StdinLines;
use crate::output::Output;
use crate::report;

pub fn run(args: SendArgs, verbose: bool) -> anyhow::Result<Code> {
    let exchange = exchange_from(&args.exchange);
    let from_stdin = args.commands.is_empty()
        || (args.commands.len() == 1 && args.commands[0].as_bytes() == b"-");
    // Every command given as an argument is checked before anything is sent.
    let mut commands = Vec::new();
    if !from_stdin {
        for (i, arg) in args.commands.iter().enumerate() {
            let command = Command::new(arg.as_bytes())
                .map_err(|e| UsageError(format!("command {}: {e}", i + 1)))?;
            commands.push(command);
        }
    }
    let mut output = Output::open(args.output.as_deref())?;
    let mut run = Run {
        address: &args.address,
        exchange: &exchange,
        verbose,
        keep_going: args.keep_going,
        worst: Code::Ok,
    };
    if from_stdin {
        let mut lines = StdinLines::new();
        while let Some(line) = lines
            .next_command()
            .context("reading commands from stdin")?
        {
            let command = Command::new(line)
                .map_err(|e| UsageError(format!("stdin line {}: {e}", lines.number)))?;
            if !run.one(&command, &mut output)? {
                break;
            }
        }
    } else {
        for command in &commands {
            if !run.one(command, &mut output)? {
                break;
            }
        }
    }
    if run.worst == Code::Ok {
        output.finish()?;
    }
    Ok(run.worst)
}

pub fn exchange_from(args: &ExchangeArgs) -> Exchange {
    Exchange::new()
        .timeout(args.timeout.limit())
        .connect_timeout(args.connect_timeout.limit())
        .idle_timeout(args.idle_timeout.and_then(|d| d.limit()))
        .max_bytes(args.max_bytes.map(|b| b.0))
}

struct Run<'a> {
    address: &'a Address,
    exchange: &'a Exchange,
    verbose: bool,
    keep_going: bool,
    worst: Code,
}

impl Run<'_> {
    /// One exchange; `Ok(false)` when the run should stop here.
    fn one(&mut self, command: &Command, output: &mut Output) -> anyhow::Result<bool> {
        match self.exchange.run(self.address, command, output) {
            Ok(facts) => {
                if self.verbose {
                    report::exchange_facts(self.address, command, &facts);
                }
                Ok(true)
            }
            Err(e) => {
                let code = exit::for_exchange(&e);
                let err = anyhow::Error::new(e).context(self.address.to_string());
                if code == Code::Interrupted || exit::is_broken_pipe(&err) {
                    return Err(err);
                }
                report::error(&err);
                self.worst = self.worst.max(code);
                if self.keep_going {
                    Ok(true)
                } else {
                    Err(Reported(self.worst).into())
                }
            }
        }
    }
}
