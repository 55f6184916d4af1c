//! `sockctl haproxy drain|maint|ready|weight SERVER`: the operator's daily job, by server
//! name, everywhere it is, with a wait for the result and one verdict.

use std::time::{Duration, Instant};

use sockctl::Address;
use sockctl::Exchange;
use sockctl::haproxy::discover::Want;
use sockctl::haproxy::master;
use sockctl::haproxy::operate::{Action, Pending, ServerName, pending};
use sockctl::haproxy::route;
use sockctl::haproxy::servers_state;
use sockctl::haproxy::stat;

use super::destination::{self, Destination};
use super::{at, targets};
use sockctl::haproxy::command::{self as syntax, Rules};

use crate::cli::{AddArgs, DelArgs, OperateArgs, RouteArgs, SocketsArgs, WeightArgs, WorkerChoice};
use crate::config::{Config, HELD_REPLY_LIMIT, VIEW_REPLY_LIMIT};
use crate::exit::{Code, Reported, UsageError};
use crate::many;
use crate::messages;

/// How often the state is read while waiting.
const POLL: Duration = Duration::from_millis(200);

/// What one run does.
struct Plan<'a> {
    action: Action,
    server: &'a ServerName,
    worker: Option<WorkerChoice>,
    wait: Option<Duration>,
    then_maint: bool,
    shutdown_sessions: bool,
    progress: bool,
}

pub fn run(action: Action, args: OperateArgs, config: &Config) -> anyhow::Result<Code> {
    let plan = Plan {
        action,
        server: &args.server,
        worker: args.worker,
        wait: args.wait.then_some(args.wait_timeout.0),
        then_maint: args.then.is_some(),
        shutdown_sessions: args.shutdown_sessions,
        progress: config.terminal.stderr,
    };
    if plan.then_maint && action != Action::Drain {
        return Err(UsageError("--then maint follows a drain only".into()).into());
    }
    each(&args.socket, &args.exchange, &plan, config)
}

pub fn weight(args: WeightArgs, config: &Config) -> anyhow::Result<Code> {
    let plan = Plan {
        action: Action::Weight(args.weight),
        server: &args.server,
        worker: args.worker,
        wait: None,
        then_maint: false,
        shutdown_sessions: false,
        progress: false,
    };
    each(&args.socket, &args.exchange, &plan, config)
}

fn each(
    sockets: &SocketsArgs,
    exchange: &crate::cli::ExchangeArgs,
    plan: &Plan<'_>,
    config: &Config,
) -> anyhow::Result<Code> {
    let targets = targets(sockets, Want::Any, config.verbose)?;
    let exchange = exchange.holding(Some(HELD_REPLY_LIMIT));
    many::each(&targets, sockets.targets.jobs, None, |address, out, err| {
        one_socket(address, &exchange, plan, out, err)
    })
}

/// Runs `command` where `to` says, and gives its output or HAProxy's failure.
fn run_in(
    address: &Address,
    exchange: &Exchange,
    to: &Destination,
    command: &str,
) -> anyhow::Result<Vec<u8>> {
    let outcome = at(route::run(address, exchange, to.route, command), address)?;
    outcome
        .into_result()
        .map_err(|failure| anyhow::Error::new(failure).context(format!("{address}: '{command}'")))
}

fn one_socket(
    address: &Address,
    exchange: &Exchange,
    plan: &Plan<'_>,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<Code> {
    let kind = at(master::probe(address, exchange), address)?;
    let route = RouteArgs {
        worker: plan.worker,
        master: false,
    };
    let destinations = destination::resolve(&kind, &route)?;
    let mut worst = Code::Ok;
    for to in &destinations {
        let place = match destinations.len() {
            1 => address.to_string(),
            _ => format!("{address}: {}", to.process),
        };
        let Some(servers) = named(address, exchange, to, plan.server, &place, err)? else {
            worst = worst.max(Code::CommandFailed);
            continue;
        };
        for (backend, server) in &servers {
            run_in(address, exchange, to, &plan.action.command(backend, server))?;
            writeln!(
                out,
                "{place}: {backend}/{server}: {}",
                done_word(plan.action)
            )?;
        }
        let Some(limit) = plan.wait else { continue };
        let left = wait(address, to, plan, &servers, limit, &place, err)?;
        if plan.shutdown_sessions {
            for (backend, server) in &servers {
                let command = format!("shutdown sessions server {backend}/{server}");
                run_in(address, exchange, to, &command)?;
            }
        }
        if !left.is_empty() {
            for pending in &left {
                messages::line_to(err, format_args!("{place}: still waiting: {pending}"))?;
            }
            messages::line_to(
                err,
                format_args!(
                    "{place}: gave up waiting after {}",
                    sockctl::units::format_duration(limit)
                ),
            )?;
            worst = worst.max(Code::Timeout);
            continue;
        }
        if plan.then_maint {
            for (backend, server) in &servers {
                run_in(
                    address,
                    exchange,
                    to,
                    &Action::Maint.command(backend, server),
                )?;
                writeln!(out, "{place}: {backend}/{server}: in maintenance")?;
            }
        }
    }
    if worst == Code::Ok {
        Ok(worst)
    } else {
        Err(Reported(worst).into())
    }
}

/// The `(backend, server)` pairs `server` names in the process `to`, or `None` after saying
/// that there is none.
fn named(
    address: &Address,
    exchange: &Exchange,
    to: &Destination,
    server: &ServerName,
    place: &str,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<Option<Vec<(String, String)>>> {
    let state = run_in(address, exchange, to, "show servers state")?;
    let state = servers_state::parse(&state)
        .map_err(|e| anyhow::Error::new(e).context(place.to_string()))?;
    let servers = server.resolve(&state);
    if servers.is_empty() {
        messages::line_to(err, format_args!("{place}: no server named {server}"))?;
        return Ok(None);
    }
    Ok(Some(servers))
}

fn done_word(action: Action) -> String {
    match action {
        Action::Drain => "draining".into(),
        Action::Ready => "ready".into(),
        Action::Maint => "in maintenance".into(),
        Action::Weight(w) => format!("weight {w}"),
    }
}

/// Polls `show stat` until nothing is left to wait for, or `limit` passed; returns what is
/// left.
fn wait(
    address: &Address,
    to: &Destination,
    plan: &Plan<'_>,
    servers: &[(String, String)],
    limit: Duration,
    place: &str,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<Vec<Pending>> {
    let deadline = Instant::now() + limit;
    let exchange = Exchange::new()
        .timeout(Some(Duration::from_secs(10)))
        .max_bytes(Some(VIEW_REPLY_LIMIT));
    let mut shown = String::new();
    loop {
        let reply = run_in(address, &exchange, to, "show stat -1 4 -1")?;
        let stat =
            stat::parse(&reply).map_err(|e| anyhow::Error::new(e).context(place.to_string()))?;
        let left = pending(plan.action, servers, &stat);
        if left.is_empty() || Instant::now() >= deadline {
            return Ok(left);
        }
        if plan.progress {
            let now: Vec<String> = left.iter().map(|p| p.to_string()).collect();
            let now = now.join("; ");
            if now != shown {
                messages::line_to(err, format_args!("{place}: waiting: {now}"))?;
                shown = now;
            }
        }
        if sockctl::interrupt::requested() {
            return Err(Reported(Code::Interrupted).into());
        }
        std::thread::sleep(POLL.min(deadline.saturating_duration_since(Instant::now())));
    }
}

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
    let give_up = Instant::now() + Duration::from_secs(5);
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
