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

use serde::Serialize;

use super::destination::{self, Destination};
use super::view;
use super::{at, targets};

use crate::cli::{OperateArgs, RouteArgs, SocketsArgs, WeightArgs, WorkerChoice};
use crate::config::{Config, HELD_REPLY_LIMIT, VIEW_REPLY_LIMIT};
use crate::exit::{Code, Reported, UsageError};
use crate::many::{self, Shape};
use crate::messages;

/// How often the state is read while waiting.
pub(super) const POLL: Duration = Duration::from_millis(200);

/// What one run does.
pub(super) struct Plan<'a> {
    pub(super) action: Action,
    pub(super) server: &'a ServerName,
    pub(super) worker: Option<WorkerChoice>,
    pub(super) wait: Option<Duration>,
    pub(super) then_maint: bool,
    pub(super) shutdown_sessions: bool,
    pub(super) progress: bool,
    /// Read the state and say what would change; send no change.
    pub(super) dry_run: bool,
    pub(super) json: bool,
}

pub fn run(action: Action, args: OperateArgs, config: &Config) -> anyhow::Result<Code> {
    let plan = Plan {
        action,
        server: &args.server,
        worker: args.worker,
        wait: args.wait.then_some(args.wait_timeout.0),
        then_maint: args.then.is_some(),
        shutdown_sessions: args.shutdown_sessions,
        progress: config.terminal.stderr && !args.json,
        dry_run: args.dry_run,
        json: args.json,
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
        dry_run: args.dry_run,
        json: args.json,
    };
    each(&args.socket, &args.exchange, &plan, config)
}

/// One action on one server, as the command with that name does it without a wait: for
/// `top`'s keys. The code, and what the command would have printed (its lines and errors).
pub fn apply(
    address: &Address,
    exchange: &crate::cli::ExchangeArgs,
    worker: Option<WorkerChoice>,
    action: Action,
    server: &ServerName,
) -> (Code, String) {
    let plan = Plan {
        action,
        server,
        worker,
        wait: None,
        then_maint: false,
        shutdown_sessions: false,
        progress: false,
        dry_run: false,
        json: false,
    };
    let exchange = exchange.holding(Some(HELD_REPLY_LIMIT));
    let mut report = Report::new(&plan);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let result = one_socket(address, &exchange, &plan, &mut report, &mut out, &mut err);
    let code = many::settle(result, &mut err);
    out.extend_from_slice(&err);
    (code, String::from_utf8_lossy(&out).trim_end().to_string())
}

fn each(
    sockets: &SocketsArgs,
    exchange: &crate::cli::ExchangeArgs,
    plan: &Plan<'_>,
    config: &Config,
) -> anyhow::Result<Code> {
    let targets = targets(sockets, Want::Any, config.verbose)?;
    let exchange = exchange.holding(Some(HELD_REPLY_LIMIT));
    if plan.json {
        // Keyed by address even for one socket, as `send --json`: a failure is a record too.
        return many::run(
            &targets.list,
            sockets.targets.jobs as usize,
            Some(Shape::Json),
            &mut std::io::stdout().lock(),
            |address, buffers| {
                let mut report = Report::new(plan);
                let (mut text, err) = (std::io::sink(), &mut buffers.err);
                let result = one_socket(address, &exchange, plan, &mut report, &mut text, err);
                report.settle();
                // What was done before a failure is said too; a socket never reached has no
                // result.
                if report.reached {
                    view::json_to(&report, &mut buffers.out)?;
                }
                result
            },
        );
    }
    many::each(&targets, sockets.targets.jobs, None, |address, out, err| {
        let mut report = Report::new(plan);
        one_socket(address, &exchange, plan, &mut report, out, err)
    })
}

/// What a run did on one socket: for `--json`, and the lines of the text output.
#[derive(Serialize)]
struct Report {
    action: &'static str,
    dry_run: bool,
    /// Whether any server's state changed (with `--dry-run`: would change).
    changed: bool,
    servers: Vec<Record>,
    /// Whether the socket answered.
    #[serde(skip)]
    reached: bool,
    /// Whether `--shutdown-sessions` ended sessions.
    #[serde(skip)]
    ended_sessions: bool,
}

/// One server in one process.
#[derive(Serialize)]
struct Record {
    target: &'static str,
    pid: Option<u32>,
    backend: String,
    server: String,
    before: Option<Snapshot>,
    after: Option<Snapshot>,
    changed: bool,
    /// `done`, `timeout` (the wait ended with this server not there yet), `dry-run`, or
    /// `failed` (its command was not done).
    verdict: &'static str,
    /// At a timeout: what was left on the server.
    left: Option<Left>,
}

/// A server's state as `show servers state` and `show stat` give it.
#[derive(Serialize, Clone, PartialEq, Eq)]
struct Snapshot {
    /// `ready`, `drain` or `maint`, as `haproxy servers` names them.
    admin_state: &'static str,
    admin_flags: Vec<String>,
    /// The operational state: `stopped`, `starting`, `running`, `stopping`.
    op_state: &'static str,
    /// `show stat`'s status (`UP`, `DOWN`, `DRAIN`, `MAINT`, `no check`, …); `null` when not
    /// read (with `--dry-run`, for the state after).
    status: Option<String>,
    /// The weight set by the user (`srv_uweight`).
    weight: u32,
    /// Current sessions (`scur`) and requests queued (`qcur`).
    sessions: Option<i64>,
    queued: Option<i64>,
    #[serde(skip)]
    admin_bits: u32,
}

#[derive(Serialize)]
struct Left {
    sessions: i64,
    queued: i64,
    status: String,
}

impl Report {
    fn new(plan: &Plan<'_>) -> Report {
        Report {
            action: plan.action.name(),
            dry_run: plan.dry_run,
            changed: false,
            servers: Vec::new(),
            reached: false,
            ended_sessions: false,
        }
    }

    /// Sets `changed` from the records, once the run on the socket ended (well or not).
    fn settle(&mut self) {
        self.changed = self.ended_sessions || self.servers.iter().any(|r| r.changed);
    }
}

/// Reads the state of each of `servers` in the process `to`.
fn snapshots(
    address: &Address,
    exchange: &Exchange,
    to: &Destination,
    servers: &[(String, String)],
    place: &str,
) -> anyhow::Result<Vec<Option<Snapshot>>> {
    let state = run_in(address, exchange, to, "show servers state")?;
    let state = servers_state::parse(&state)
        .map_err(|e| anyhow::Error::new(e).context(place.to_string()))?;
    let stat = run_in(address, exchange, to, "show stat -1 4 -1")?;
    let stat = stat::parse(&stat).map_err(|e| anyhow::Error::new(e).context(place.to_string()))?;
    Ok(servers
        .iter()
        .map(|(backend, server)| {
            let s = state
                .servers
                .iter()
                .find(|s| s.backend == *backend && s.name == *server)?;
            let row = stat
                .rows
                .iter()
                .find(|r| r.proxy() == Some(backend) && r.name() == Some(server));
            let int = |field: &str| row.and_then(|r| r.get(field)).and_then(|v| v.as_int());
            Some(Snapshot {
                admin_state: s.admin_state_name,
                admin_flags: s.admin_flags.clone(),
                op_state: s.op_state_name,
                status: row
                    .and_then(|r| r.get("status"))
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
                weight: s.weight,
                sessions: int("scur"),
                queued: int("qcur"),
                admin_bits: s.admin_state,
            })
        })
        .collect())
}

/// The state `before` leads to once `actions` are done, as far as it can be told without
/// doing them: the admin state and the weight.
fn predicted(before: &Snapshot, actions: &[Action]) -> Snapshot {
    let mut after = before.clone();
    for action in actions {
        after.admin_bits = action.admin_after(after.admin_bits);
        after.weight = action.weight_after(after.weight);
    }
    after.admin_state = servers_state::admin_state_name(after.admin_bits);
    after.admin_flags = servers_state::admin_flag_names(after.admin_bits);
    after.status = None;
    after
}

/// Whether the operator's part of the state differs.
fn differs(before: &Snapshot, after: &Snapshot) -> bool {
    before.admin_bits != after.admin_bits || before.weight != after.weight
}

/// Runs `command` where `to` says, and gives its output or HAProxy's failure.
pub(super) fn run_in(
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
    report: &mut Report,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<Code> {
    let kind = at(master::probe(address, exchange), address)?;
    report.reached = true;
    let route = RouteArgs {
        worker: plan.worker,
        master: false,
    };
    let destinations = destination::resolve(&kind, &route)?;
    // The state is read around the change only when it is reported.
    let observe = plan.json || plan.dry_run;
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
        let before = if observe {
            snapshots(address, exchange, to, &servers, &place)?
        } else {
            vec![None; servers.len()]
        };
        let first = report.servers.len();
        for ((backend, server), before) in servers.iter().zip(&before) {
            report.servers.push(Record {
                target: to.process.kind(),
                pid: to.process.pid(),
                backend: backend.clone(),
                server: server.clone(),
                before: before.clone(),
                after: None,
                changed: false,
                // Until its command is done.
                verdict: "failed",
                left: None,
            });
        }
        if plan.dry_run {
            let mut actions = vec![plan.action];
            if plan.then_maint {
                actions.push(Action::Maint);
            }
            for record in &mut report.servers[first..] {
                record.verdict = "dry-run";
                let Some(before) = &record.before else {
                    continue;
                };
                let after = predicted(before, &actions);
                record.changed = differs(before, &after);
                writeln!(
                    out,
                    "{place}: {}/{}: {} (dry run: {})",
                    record.backend,
                    record.server,
                    if record.changed {
                        format!("would be {}", done_word(plan.action))
                    } else {
                        format!("already {}", done_word(plan.action))
                    },
                    state_words(before),
                )?;
                record.after = Some(after);
            }
            continue;
        }
        for (i, (backend, server)) in servers.iter().enumerate() {
            run_in(address, exchange, to, &plan.action.command(backend, server))?;
            let record = &mut report.servers[first + i];
            record.verdict = "done";
            // What it leads to, until the state is read again (a later failure may prevent that).
            if let Some(before) = &record.before {
                record.changed = differs(before, &predicted(before, &[plan.action]));
            }
            writeln!(
                out,
                "{place}: {backend}/{server}: {}",
                done_word(plan.action)
            )?;
        }
        let mut timed_out = false;
        if let Some(limit) = plan.wait {
            let left = wait(address, to, plan, &servers, limit, &place, err)?;
            if plan.shutdown_sessions {
                for (backend, server) in &servers {
                    let command = format!("shutdown sessions server {backend}/{server}");
                    run_in(address, exchange, to, &command)?;
                }
                if !left.is_empty() {
                    // Sessions were ended: that is a change, whatever the state says.
                    report.ended_sessions = true;
                }
            }
            for pending in &left {
                let record = report.servers[first..]
                    .iter_mut()
                    .find(|r| r.backend == pending.backend && r.server == pending.server);
                if let Some(record) = record {
                    record.verdict = "timeout";
                    record.left = Some(Left {
                        sessions: pending.sessions,
                        queued: pending.queued,
                        status: pending.status.clone(),
                    });
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
                timed_out = true;
            }
        }
        if plan.then_maint && !timed_out {
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
        if observe {
            let after = snapshots(address, exchange, to, &servers, &place)?;
            for (record, after) in report.servers[first..].iter_mut().zip(after) {
                if let (Some(before), Some(after)) = (&record.before, &after) {
                    record.changed = differs(before, after);
                }
                record.after = after;
            }
        }
    }
    if worst == Code::Ok {
        Ok(worst)
    } else {
        Err(Reported(worst).into())
    }
}

/// A server's state in a few words, for the text of `--dry-run`.
fn state_words(s: &Snapshot) -> String {
    let mut words = format!("now {}, weight {}", s.admin_state, s.weight);
    if let Some(status) = &s.status {
        words.push_str(&format!(", {status}"));
    }
    if let Some(sessions) = s.sessions {
        words.push_str(&format!(", {sessions} sessions"));
    }
    words
}

/// The `(backend, server)` pairs `server` names in the process `to`, or `None` after saying
/// that there is none.
pub(super) fn named(
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
pub(super) fn wait(
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
