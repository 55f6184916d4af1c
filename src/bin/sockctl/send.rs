//! `sockctl send`: each command on its own connection, replies in order; to one socket, or to
//! several at once with each result labelled.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use anyhow::Context;
use sockctl::error::Received;
use sockctl::service::{self, Profile, Secret, Service};
use sockctl::{Address, Command, Exchange, ExchangeError};
use std::time::Instant;

use crate::cli::SendArgs;
use crate::config::Config;
use crate::config::HELD_REPLY_LIMIT;
use crate::exit::{self, Code, Reported, UsageError};
use crate::lines::StdinLines;
use crate::many::{self, Shape, Targets};
use crate::messages;
use crate::output::Output;

pub fn run(args: SendArgs, config: &Config) -> anyhow::Result<Code> {
    let verbose = config.verbose;
    let exchange = args.exchange.streaming();
    let service = args.proto.profile()?;
    let given = &args.targets;
    let many = !given.sockets.is_empty() || given.sockets_file.is_some();
    // With the sockets given as options, every positional argument is a command.
    let (single, arguments): (Option<Address>, Vec<OsString>) = if many {
        let all = args.address.iter().chain(&args.commands).cloned().collect();
        (None, all)
    } else {
        let address = args
            .address
            .as_ref()
            .expect("clap requires ADDR without -s");
        let address = Address::from_os_str(address)?;
        (Some(address), args.commands.clone())
    };
    // A server that writes on connect is read once, with no command.
    let listen = service.as_ref().is_some_and(|(p, _)| p.send_nothing);
    let from_stdin =
        !listen && (arguments.is_empty() || (arguments.len() == 1 && arguments[0] == "-"));
    let arguments = if listen && arguments.is_empty() {
        vec![OsString::new()]
    } else {
        arguments
    };
    // Every command given as an argument is checked before anything is sent.
    let mut commands = Vec::new();
    if !from_stdin {
        for (i, arg) in arguments.iter().enumerate() {
            let command = Command::new(arg.as_bytes())
                .map_err(|e| UsageError(format!("command {}: {e}", i + 1)))?;
            commands.push(command);
        }
    }
    let targets = match single {
        Some(address) => Targets {
            list: vec![address],
            many: false,
        },
        None => Targets::new(&given.sockets, given.sockets_file.as_deref())?,
    };
    let mut output = Output::open(args.output.as_deref())?;
    // One socket, as it always was: replies as they come, unlabelled.
    if !targets.many && !args.json {
        let run = Run::new(&targets.list[0], &exchange, verbose, args.keep_going)
            .with_service(service.clone(), &args);
        let mut stderr = std::io::stderr();
        let worst = if from_stdin {
            run.stdin(&mut output, &mut stderr)?
        } else {
            run.all(&commands, &mut output, &mut stderr)?
        };
        return finish(output, worst);
    }
    if from_stdin {
        commands = read_stdin()?;
    }
    let json = args.json.then_some(Shape::Text);
    // Text output streams (or spills to a file); JSON embeds each socket's replies, so they
    // are held, at most --max-bytes (default HELD_REPLY_LIMIT) per socket in all.
    let held = if args.json {
        args.exchange.max_bytes(Some(HELD_REPLY_LIMIT))
    } else {
        None
    };
    let worst = many::run(
        &targets.list,
        given.jobs as usize,
        json,
        &mut output,
        |address, buffers| {
            let mut run = Run::new(address, &exchange, verbose, args.keep_going)
                .with_service(service.clone(), &args);
            run.held = held.map(|limit| (limit, 0));
            run.all(&commands, &mut buffers.out, &mut buffers.err)
        },
    )?;
    finish(output, worst)
}

/// Puts `-o FILE` in place if everything succeeded.
fn finish(output: Output, worst: Code) -> anyhow::Result<Code> {
    if worst == Code::Ok {
        output.finish()?;
    }
    Ok(worst)
}

/// Every command on standard input, for several sockets to run alike.
fn read_stdin() -> anyhow::Result<Vec<Command>> {
    let mut lines = StdinLines::new();
    let mut commands = Vec::new();
    while let Some(line) = lines
        .next_command()
        .context("reading commands from stdin")?
    {
        commands.push(
            Command::new(line)
                .map_err(|e| UsageError(format!("stdin line {}: {e}", lines.number)))?,
        );
    }
    Ok(commands)
}

/// The commands for one socket.
struct Run<'a> {
    address: &'a Address,
    exchange: &'a Exchange,
    verbose: bool,
    keep_going: bool,
    worst: Code,
    /// The limit on this socket's replies together and what they took so far, when they are
    /// held in memory (`--json`).
    held: Option<(u64, u64)>,
    /// Another service's protocol (`--proto`, the line options): its client.
    service: Option<Service>,
}

impl<'a> Run<'a> {
    fn new(address: &'a Address, exchange: &'a Exchange, verbose: bool, keep_going: bool) -> Self {
        Run {
            address,
            exchange,
            verbose,
            keep_going,
            worst: Code::Ok,
            held: None,
            service: None,
        }
    }

    /// Commands go through a client of the service's protocol.
    fn with_service(mut self, service: Option<(Profile, Option<Secret>)>, args: &SendArgs) -> Self {
        self.service = service.map(|(profile, secret)| {
            let options = service::Options {
                connect_timeout: args.exchange.connect_timeout.limit(),
                max_bytes: args.exchange.max_bytes(Some(HELD_REPLY_LIMIT)),
            };
            Service::new(self.address.clone(), profile, secret, options)
        });
        self
    }

    fn all(
        mut self,
        commands: &[Command],
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> anyhow::Result<Code> {
        if self.keep_going
            && commands.len() > 1
            && let Some(service) = &self.service
            && !service.profile().one_per_connection()
            && !service.profile().send_nothing
        {
            return self.pipelined(commands, out, err);
        }
        for (i, command) in commands.iter().enumerate() {
            match self.one(command, out, err) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) if exit::is_broken_pipe(&e) => {
                    let rest = &commands[i + 1..];
                    return self.output_closed(rest.iter().map(|c| format!("'{c}'")).collect());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(self.worst)
    }

    /// Each command as soon as its line arrives; for a service's batch that runs anyway
    /// (`--keep-going`), all of them written ahead once the input has ended.
    fn stdin(mut self, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<Code> {
        if self.keep_going && self.service.is_some() {
            let commands = read_stdin()?;
            return self.all(&commands, out, err);
        }
        let mut lines = StdinLines::new();
        let mut next = || -> anyhow::Result<Option<Command>> {
            let Some(line) = lines
                .next_command()
                .context("reading commands from stdin")?
            else {
                return Ok(None);
            };
            let command = Command::new(line)
                .map_err(|e| UsageError(format!("stdin line {}: {e}", lines.number)))?;
            Ok(Some(command))
        };
        while let Some(command) = next()? {
            match self.one(&command, out, err) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) if exit::is_broken_pipe(&e) => {
                    // Whether commands were left is known only once the input ends.
                    let mut rest = Vec::new();
                    while let Some(command) = next()? {
                        rest.push(format!("'{command}'"));
                    }
                    return self.output_closed(rest);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(self.worst)
    }

    /// Standard output was closed while a reply was written: quiet if that was the last
    /// command (it was sent and answered), exit 6 naming the others if any were left.
    fn output_closed(&self, rest: Vec<String>) -> anyhow::Result<Code> {
        if rest.is_empty() {
            return Ok(self.worst);
        }
        Err(anyhow::Error::new(exit::NotRun(rest)).context(self.address.to_string()))
    }

    /// One exchange; `Ok(false)` when the run should stop here.
    fn one(
        &mut self,
        command: &Command,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> anyhow::Result<bool> {
        if self.service.is_some() {
            return self.one_framed(command, out, err);
        }
        let result = match self.held {
            None => self.exchange.run(self.address, command, out),
            Some((limit, used)) => {
                let left = limit.saturating_sub(used);
                let exchange = self.exchange.clone().max_bytes(Some(left));
                let result = exchange.run(self.address, command, out);
                match result {
                    Ok(facts) => {
                        self.held = Some((limit, used + facts.received));
                        Ok(facts)
                    }
                    // The limit is the socket's, not what was left of it.
                    Err(ExchangeError::TooLarge { received, .. }) => Err(ExchangeError::TooLarge {
                        limit,
                        received: Received::streamed(used + received.count()),
                    }),
                    Err(e) => Err(e),
                }
            }
        };
        match result {
            Ok(facts) => {
                if self.verbose {
                    messages::exchange_facts(err, self.address, command, &facts);
                }
                if facts.received == 0 {
                    self.empty(command, err)?;
                }
                Ok(true)
            }
            Err(e) => self.failed(e, err),
        }
    }

    /// Every command runs anyway (`--keep-going`): they are written ahead of their replies
    /// over one connection, which saves a round trip each (a Redis batch).
    fn pipelined(
        mut self,
        commands: &[Command],
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> anyhow::Result<Code> {
        const WINDOW: usize = 64;
        let mut service = self.service.take().expect("a service");
        let mut failure: Option<anyhow::Error> = None;
        service.run_many(
            commands,
            WINDOW,
            self.exchange.get_timeout(),
            &mut |i, result| {
                let step = match result {
                    Ok(reply) => self.show(&commands[i], reply, out, err),
                    Err(e) => {
                        let _ = out.write_all(e.received().bytes());
                        self.failed(e, err)
                    }
                };
                match step {
                    Ok(_) => sockctl::client::Flow::Continue,
                    Err(e) => {
                        failure = Some(e);
                        sockctl::client::Flow::Stop
                    }
                }
            },
        );
        match failure {
            Some(e) if !e.is::<Reported>() => Err(e),
            _ => Ok(self.worst),
        }
    }

    /// An empty reply is never silent: some servers say nothing to a command they did not
    /// understand (dovecot without its handshake).
    fn empty(&self, command: &Command, err: &mut dyn Write) -> anyhow::Result<()> {
        let command = messages::shortened(command);
        messages::line_to(
            err,
            format_args!("{}: '{command}': empty reply (0 bytes)", self.address),
        )?;
        Ok(())
    }

    /// One command through the service's client: its reply, its verdict.
    fn one_framed(
        &mut self,
        command: &Command,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> anyhow::Result<bool> {
        let service = self.service.as_mut().expect("a service");
        let deadline = self.exchange.get_timeout().map(|t| Instant::now() + t);
        match service.run(command, deadline) {
            Ok(reply) => self.show(command, reply, out, err),
            Err(e) => {
                // What arrived before the failure is shown, as for a streamed reply.
                out.write_all(e.received().bytes())?;
                self.failed(e, err)
            }
        }
    }

    /// A service's reply: its text on `out`, its notices with -v and its verdict on `err`.
    fn show(
        &mut self,
        command: &Command,
        reply: sockctl::service::ServiceReply,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> anyhow::Result<bool> {
        if self.verbose && !reply.aside.is_empty() {
            let aside = String::from_utf8_lossy(&reply.aside);
            for line in aside.lines() {
                messages::line_to(err, format_args!("{}: {line}", self.address))?;
            }
        }
        out.write_all(&reply.body)?;
        if reply.body.is_empty() && reply.failure.is_none() {
            self.empty(command, err)?;
        }
        let Some(failure) = reply.failure else {
            return Ok(true);
        };
        let shown = messages::shortened(command);
        messages::line_to(err, format_args!("{}: '{shown}': {failure}", self.address))?;
        self.worst = self.worst.max(Code::CommandFailed);
        if self.keep_going {
            Ok(true)
        } else {
            Err(Reported(self.worst).into())
        }
    }

    /// A command without a complete reply: said on `err`; the run stops unless --keep-going.
    fn failed(&mut self, e: ExchangeError, err: &mut dyn Write) -> anyhow::Result<bool> {
        let code = exit::for_exchange(&e);
        let error = anyhow::Error::new(e).context(self.address.to_string());
        if code == Code::Interrupted || exit::is_broken_pipe(&error) {
            return Err(error);
        }
        messages::error_to(err, &error);
        self.worst = self.worst.max(code);
        if self.keep_going {
            Ok(true)
        } else {
            Err(Reported(self.worst).into())
        }
    }
}
