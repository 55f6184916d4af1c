//! What the typed views share: choosing the output form, and fetching one command's output
//! from one process with error detection.

use std::io::Write;

use anyhow::Context;
use serde::Serialize;
use sockctl::Address;
use sockctl::haproxy::discover::Want;
use sockctl::haproxy::{master, route};

use super::destination;
use super::{at, targets};
use crate::cli::{ExchangeArgs, FormatArgs, RouteArgs, SocketsArgs, ViewRouteArgs, WorkerChoice};
use crate::config::VIEW_REPLY_LIMIT;
use crate::exit::{Code, UsageError};
use crate::many::{self, Shape};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Json,
    Table,
    Raw,
}

/// The form asked for, else a table when `table_by_default`.
pub fn mode(format: &FormatArgs, table_by_default: bool) -> Mode {
    if format.json {
        Mode::Json
    } else if format.table {
        Mode::Table
    } else if format.raw {
        Mode::Raw
    } else if table_by_default {
        Mode::Table
    } else {
        Mode::Json
    }
}

/// Views are tables for a person at a terminal, JSON for programs.
pub fn on_terminal() -> bool {
    crate::config::Terminal::get().stdout
}

/// Where a view's command runs: the stats socket's process, or one worker of a master.
pub struct Source<'a> {
    pub socket: &'a SocketsArgs,
    pub route: &'a ViewRouteArgs,
    pub exchange: &'a ExchangeArgs,
}

/// Runs `command` as [`run`] does and shows its output in `mode`: as HAProxy sent it, or
/// `parse`d into JSON or into a `table`.
pub fn show<T: Serialize, E: std::error::Error + Send + Sync + 'static>(
    source: &Source<'_>,
    command: &str,
    mode: Mode,
    verbose: bool,
    parse: impl Fn(&[u8]) -> Result<T, E> + Sync,
    table: impl Fn(&T) -> anyhow::Result<String> + Sync,
) -> anyhow::Result<Code> {
    show_with(source, command, mode, verbose, |address, reply, out| {
        let parsed = at(parse(reply), address)?;
        match mode {
            Mode::Json => json_to(&parsed, out),
            _ => Ok(out.write_all(table(&parsed)?.as_bytes())?),
        }
    })
}

/// Runs `command` as [`run`] does and shows its output as HAProxy sent it, or as `render`
/// writes it (for JSON and table modes).
pub fn show_with(
    source: &Source<'_>,
    command: &str,
    mode: Mode,
    verbose: bool,
    render: impl Fn(&Address, &[u8], &mut dyn Write) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<Code> {
    run(
        source,
        command,
        mode == Mode::Json,
        verbose,
        |address, reply, out| {
            if mode == Mode::Raw {
                return Ok(out.write_all(&reply)?);
            }
            render(address, &reply, out)
        },
    )
}

/// Runs `command` in the process `source` names on each socket and prints what `render`
/// makes of its output: for one socket as it is, for several labelled with the address (or
/// with `json`, keyed by it).
fn run(
    source: &Source<'_>,
    command: &str,
    json: bool,
    verbose: bool,
    render: impl Fn(&Address, Vec<u8>, &mut dyn Write) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<Code> {
    if source.route.worker == Some(WorkerChoice::All) {
        return Err(UsageError(
            "a view shows one process: give --worker current or --worker PID (exec runs a \
             command in all workers)"
                .into(),
        )
        .into());
    }
    let targets = targets(source.socket, Want::Any, verbose)?;
    let jobs = source.socket.targets.jobs;
    many::each(
        &targets,
        jobs,
        json.then_some(Shape::Json),
        |address, out, err| {
            let reply = fetch(address, source, command, verbose, err)?;
            render(address, reply, out)?;
            Ok(Code::Ok)
        },
    )
}

/// Runs `command` in the process `source` names and returns its output, or the failure
/// HAProxy reported, with the address in front of the error.
fn fetch(
    address: &Address,
    source: &Source<'_>,
    command: &str,
    verbose: bool,
    err: &mut dyn Write,
) -> anyhow::Result<Vec<u8>> {
    let mut outputs = fetch_each(address, source, &[command], verbose, err)?;
    Ok(outputs.remove(0))
}

/// [`fetch`] for several commands, the socket asked once which process runs them.
pub fn fetch_each(
    address: &Address,
    source: &Source<'_>,
    commands: &[&str],
    verbose: bool,
    err: &mut dyn Write,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let exchange = source.exchange.holding(Some(VIEW_REPLY_LIMIT));
    let kind = at(master::probe(address, &exchange), address)?;
    let route_args = RouteArgs {
        worker: source.route.worker,
        master: false,
    };
    let target = destination::resolve(&kind, &route_args)?
        .into_iter()
        .next()
        .expect("one target for one worker");
    commands
        .iter()
        .map(|command| {
            if verbose {
                crate::messages::line_to(
                    err,
                    format_args!("{address}: '{command}' in {}", target.process),
                )?;
            }
            let outcome = route::run(address, &exchange, target.route, command)
                .with_context(|| format!("{address}: '{command}'"))?;
            let output = outcome
                .into_result()
                .with_context(|| format!("{address}: '{command}'"))?;
            Ok(output)
        })
        .collect()
}

/// One JSON document and a newline, written as it is made (a large document is never held).
pub fn json_to(value: &impl Serialize, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    serde_json::to_writer_pretty(&mut out, value)?;
    out.write_all(b"\n")?;
    Ok(out.flush()?)
}

/// One JSON document and a newline.
pub fn json(value: &impl Serialize) -> anyhow::Result<Vec<u8>> {
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    Ok(text)
}
