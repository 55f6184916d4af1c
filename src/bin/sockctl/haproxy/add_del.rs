//! `sockctl haproxy add|del SERVER`: servers at runtime. `del` only once HAProxy can delete
//! the server: in maintenance, no session left, no connection attached.

use std::time::{Duration, Instant};

use sockctl::Address;
use sockctl::Exchange;
use sockctl::command::Command;
use sockctl::haproxy::command::{self as syntax, Rules};
use sockctl::haproxy::discover::Want;
use sockctl::haproxy::info;
use sockctl::haproxy::master;
use sockctl::haproxy::operate::Action;
use sockctl::haproxy::outcome::{self, SEVERITY_PREFIX, Tags};
use sockctl::haproxy::route::{self, Route};
use sockctl::haproxy::session::{self, Session};
use sockctl::haproxy::{Failure, ParseError};

use super::destination::{self, Destination};
use super::operate::{POLL, Plan, named, run_in, wait};
use super::{at, targets};

use crate::cli::{AddArgs, DelArgs, RouteArgs};
use crate::config::{Config, HELD_REPLY_LIMIT};
use crate::exit::{Code, Reported, UsageError};
use crate::many;
use crate::messages;

pub fn add(args: AddArgs, config: &Config) -> anyhow::Result<Code> {
    let Some(backend) = &args.server.backend else {
        return Err(UsageError(format!(
            "add needs BACKEND/NAME: which backend should {} join?",
            args.server
        ))
        .into());
    };
    let mut command = format!(
        "add server {backend}/{} {}",
        args.server.server, args.address
    );
    for keyword in &args.keywords {
        command.push(' ');
        command.push_str(keyword);
    }
    // The whole line is checked as any command is: no `;`, no line break, no payload.
    syntax::check(command.as_bytes(), &Rules::argument(false))
        .map_err(|why| UsageError(format!("add: {why}")))?;
    messages::say(
        "note: a server added at runtime does not survive a reload unless it is also in the \
         configuration",
    );
    let targets = targets(&args.socket, Want::Any, config.verbose)?;
    let exchange = args.exchange.holding(Some(HELD_REPLY_LIMIT));
    many::each(
        &targets,
        args.socket.targets.jobs,
        None,
        |address, out, _| {
            let kind = at(master::probe(address, &exchange), address)?;
            let to = current(&kind)?;
            run_in(address, &exchange, &to, &command)?;
            if args.ready {
                let ready = Action::Ready.command(backend, &args.server.server);
                run_in(address, &exchange, &to, &ready)?;
                writeln!(out, "{address}: {}: added, ready", args.server)?;
            } else {
                writeln!(
                    out,
                    "{address}: {}: added, in maintenance (as HAProxy adds servers; --ready to \
                     serve at once)",
                    args.server
                )?;
            }
            Ok(Code::Ok)
        },
    )
}

pub fn del(args: DelArgs, config: &Config) -> anyhow::Result<Code> {
    let targets = targets(&args.socket, Want::Any, config.verbose)?;
    let exchange = args.exchange.holding(Some(HELD_REPLY_LIMIT));
    let plan = Plan {
        action: Action::Maint,
        server: &args.server,
        worker: None,
        wait: Some(args.wait_timeout.0),
        then_maint: false,
        shutdown_sessions: args.shutdown_sessions,
        progress: config.terminal.stderr,
        dry_run: false,
        json: false,
    };
    many::each(
        &targets,
        args.socket.targets.jobs,
        None,
        |address, out, err| {
            let kind = at(master::probe(address, &exchange), address)?;
            let to = current(&kind)?;
            let place = address.to_string();
            let Some(servers) = named(address, &exchange, &to, plan.server, &place, err)? else {
                return Err(Reported(Code::CommandFailed).into());
            };
            // Only a server in maintenance can be deleted, and only once no session is attached.
            for (backend, server) in &servers {
                run_in(
                    address,
                    &exchange,
                    &to,
                    &Action::Maint.command(backend, server),
                )?;
            }
            let limit = args.wait_timeout.0;
            if has_wait(address, &exchange, &to, &place)? {
                let shutdown = args.shutdown_sessions;
                let how = WaitDel {
                    address,
                    exchange: &exchange,
                    limit,
                    shutdown,
                    place: &place,
                };
                return how.run(&servers, out, err);
            }
            let left = wait(address, &to, &plan, &servers, limit, &place, err)?;
            if !left.is_empty() && !args.shutdown_sessions {
                for pending in &left {
                    messages::line_to(err, format_args!("{place}: still waiting: {pending}"))?;
                }
                messages::line_to(
                    err,
                    format_args!(
                        "{place}: gave up waiting after {}; not deleted (left in maintenance)",
                        sockctl::units::format_duration(limit)
                    ),
                )?;
                return Err(Reported(Code::Timeout).into());
            }
            for (backend, server) in &servers {
                if !left.is_empty() {
                    let shutdown = format!("shutdown sessions server {backend}/{server}");
                    run_in(address, &exchange, &to, &shutdown)?;
                }
                delete(address, &exchange, &to, backend, server)?;
                writeln!(out, "{place}: {backend}/{server}: deleted")?;
            }
            Ok(Code::Ok)
        },
    )
}

/// How long connections take to let go once their sessions ended: `del server` is retried
/// that long before HAProxy 3.0, and HAProxy's own wait gets that long after
/// `--shutdown-sessions`.
const SETTLE: Duration = Duration::from_secs(5);

/// `del server`, retried for a few seconds while HAProxy still counts a connection that has
/// just ended (its "Server still has connections attached").
fn delete(
    address: &Address,
    exchange: &Exchange,
    to: &Destination,
    backend: &str,
    server: &str,
) -> anyhow::Result<()> {
    let command = format!("del server {backend}/{server}");
    let give_up = Instant::now() + SETTLE;
    loop {
        let outcome = at(route::run(address, exchange, to.route, &command), address)?;
        match outcome.into_result() {
            Ok(_) => return Ok(()),
            Err(failure)
                if failure.message.contains("still has connections")
                    && Instant::now() < give_up =>
            {
                std::thread::sleep(POLL);
            }
            Err(failure) => {
                return Err(anyhow::Error::new(failure).context(format!("{address}: '{command}'")));
            }
        }
    }
}

/// The longest delay given to HAProxy's `wait`, in milliseconds.
const MAX_WAIT_MS: u128 = 2_000_000_000;

/// The first version whose CLI has `wait … srv-removable`.
const WAIT_SINCE: (u32, u32) = (3, 0);

/// Whether `del` can let HAProxy wait (`wait … srv-removable`): on HAProxy 3.0 and later, on a
/// stats socket. Through the master, the connection to the worker is shut for writing right
/// after each routed command, which ends a `wait` at once ("Interrupted").
fn has_wait(
    address: &Address,
    exchange: &Exchange,
    to: &Destination,
    place: &str,
) -> anyhow::Result<bool> {
    if to.route != Route::Direct {
        return Ok(false);
    }
    let reply = run_in(address, exchange, to, "show info")?;
    let info = info::parse(&reply).map_err(|e| anyhow::Error::new(e).context(place.to_string()))?;
    Ok(info.version().is_some_and(|v| v >= WAIT_SINCE))
}

/// `del` on HAProxy 3.0+: HAProxy waits itself until each server can be deleted (`wait …
/// srv-removable` checks what `del server` checks: maintenance, no session, no connection,
/// idle ones included), then `del server`. All on one connection kept open in prompt mode:
/// HAProxy ends a `wait` whose client shut its write side ("Interrupted").
struct WaitDel<'a> {
    address: &'a Address,
    exchange: &'a Exchange,
    /// `--wait-timeout`, shared by the servers.
    limit: Duration,
    shutdown: bool,
    place: &'a str,
}

/// How a `wait … srv-removable` ended, when it did not fail.
enum Removable {
    Done,
    /// The delay ran out; HAProxy's words (`Wait delay expired. Server still has …`).
    Expired(String),
}

impl WaitDel<'_> {
    fn run(
        &self,
        servers: &[(String, String)],
        out: &mut dyn std::io::Write,
        err: &mut dyn std::io::Write,
    ) -> anyhow::Result<Code> {
        let place = self.place;
        let mut session = self.open()?;
        let deadline = Instant::now() + self.limit;
        let mut expired = Vec::new();
        for (backend, server) in servers {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Removable::Expired(why) = self.wait(&mut session, backend, server, left)? {
                let then = match self.shutdown {
                    true => "; ending its sessions (--shutdown-sessions)",
                    false => "",
                };
                messages::line_to(
                    err,
                    format_args!("{place}: {backend}/{server}: {why}{then}"),
                )?;
                expired.push((backend, server));
            }
        }
        if !expired.is_empty() && !self.shutdown {
            messages::line_to(
                err,
                format_args!(
                    "{place}: gave up waiting after {}; not deleted (left in maintenance)",
                    sockctl::units::format_duration(self.limit)
                ),
            )?;
            return Err(Reported(Code::Timeout).into());
        }
        for (backend, server) in servers {
            if expired.contains(&(backend, server)) {
                let shutdown = format!("shutdown sessions server {backend}/{server}");
                self.run_in(&mut session, &shutdown, Duration::ZERO)?;
                if let Removable::Expired(why) = self.wait(&mut session, backend, server, SETTLE)? {
                    messages::line_to(err, format_args!("{place}: {backend}/{server}: {why}"))?;
                    messages::line_to(
                        err,
                        format_args!(
                            "{place}: sessions shut down, still not removable after {}; not \
                             deleted (left in maintenance)",
                            sockctl::units::format_duration(SETTLE)
                        ),
                    )?;
                    return Err(Reported(Code::Timeout).into());
                }
            }
            let command = format!("del server {backend}/{server}");
            self.run_in(&mut session, &command, Duration::ZERO)?;
            writeln!(out, "{place}: {backend}/{server}: deleted")?;
        }
        Ok(Code::Ok)
    }

    /// A prompt-mode session with severity tags.
    fn open(&self) -> anyhow::Result<Session> {
        let options = session::Options {
            connect_timeout: self.exchange.get_connect_timeout(),
            max_bytes: self.exchange.get_max_bytes(),
            ..session::Options::default()
        };
        let mut session = at(Session::open(self.address, options), self.address)?;
        let tags = SEVERITY_PREFIX.trim_end().trim_end_matches(';');
        let command = Command::new(tags).expect("no line break");
        let reply = at(
            session.run_setting(&command, self.deadline(Duration::ZERO)),
            self.address,
        )?;
        at(outcome::read(&reply.body, Tags::Tagged), self.address)?;
        Ok(session)
    }

    /// The deadline of a reply that HAProxy may hold back for `longer`.
    fn deadline(&self, longer: Duration) -> Option<Instant> {
        self.exchange
            .get_timeout()
            .map(|t| Instant::now() + t + longer)
    }

    /// `wait <ms> srv-removable BACKEND/SERVER`, after making the CLI's idle timeout (`stats
    /// timeout`, 10 s by default) long enough not to cut it. A failure (`Failed. <why>`) is
    /// an error.
    fn wait(
        &self,
        session: &mut Session,
        backend: &str,
        server: &str,
        limit: Duration,
    ) -> anyhow::Result<Removable> {
        // HAProxy takes no delay under 1 ms, and counts time in 32-bit milliseconds: a delay
        // past 2^31 (some 24 days) would wrap.
        let ms = limit.as_millis().clamp(1, MAX_WAIT_MS);
        let idle = ms.div_ceil(1000) + SETTLE.as_secs() as u128;
        self.run_in(session, &format!("set timeout cli {idle}"), Duration::ZERO)?;
        let command = format!("wait {ms} srv-removable {backend}/{server}");
        let said = match self.run_in(session, &command, limit) {
            Ok(said) => said,
            Err(e) => {
                return match e.downcast_ref::<Failure>() {
                    Some(f) if f.message.starts_with("Wait delay expired.") => {
                        Ok(Removable::Expired(f.message.clone()))
                    }
                    _ => Err(e),
                };
            }
        };
        if !said.starts_with(b"Done.") {
            let found = String::from_utf8_lossy(said.trim_ascii())
                .chars()
                .take(80)
                .collect();
            let wrong = ParseError::NotThisOutput {
                expected: "wait",
                found,
            };
            return Err(anyhow::Error::new(wrong).context(format!("{}: '{command}'", self.address)));
        }
        Ok(Removable::Done)
    }

    /// Runs `command` on the session (its reply may take `longer` than the exchange's
    /// timeout) and gives its output or HAProxy's failure.
    fn run_in(
        &self,
        session: &mut Session,
        command: &str,
        longer: Duration,
    ) -> anyhow::Result<Vec<u8>> {
        let line = Command::new(command.to_string()).map_err(|e| UsageError(e.to_string()))?;
        let reply = at(session.run(&line, self.deadline(longer)), self.address)?;
        let outcome = at(
            outcome::read_for(command, &reply.body, Tags::TaggedSession),
            self.address,
        )?;
        outcome.into_result().map_err(|failure| {
            anyhow::Error::new(failure).context(format!("{}: '{command}'", self.address))
        })
    }
}

/// The current process: the stats socket's, or the master's current worker.
fn current(kind: &master::SocketKind) -> anyhow::Result<Destination> {
    let route = RouteArgs {
        worker: None,
        master: false,
    };
    Ok(destination::resolve(kind, &route)?
        .into_iter()
        .next()
        .expect("one current process"))
}
