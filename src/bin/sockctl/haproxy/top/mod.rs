//! `sockctl haproxy top`: a live view of one or several sockets, refreshed every few seconds;
//! full-screen with keys to act on the selected server on a terminal, one plain table per
//! refresh otherwise.

mod model;
mod screen;

use std::io::Write;
use std::time::{Duration, Instant};

use sockctl::Address;
use sockctl::haproxy::discover::Want;
use sockctl::haproxy::{servers_state, stat};

use super::targets;
use super::view::{self, Source};
use crate::cli::{TopArgs, WorkerChoice};
use crate::config::Config;
use crate::exit::{self, Code, UsageError};
use crate::{messages, table};

use model::{Model, Sort};

pub fn run(args: TopArgs, config: &Config) -> anyhow::Result<Code> {
    if args.route.worker == Some(WorkerChoice::All) {
        return Err(UsageError(
            "top shows one process per socket: give --worker current or --worker PID".into(),
        )
        .into());
    }
    if args.interval.0 < Duration::from_millis(100) {
        return Err(UsageError("--interval: at least 100ms".into()).into());
    }
    let targets = targets(&args.socket, Want::Any, config.verbose)?;
    let sampler = Sampler {
        sockets: targets.list,
        args: &args,
    };
    if config.terminal.stdout && config.terminal.stdin && !args.plain {
        return screen::run(&sampler);
    }
    plain(&sampler)
}

/// Reads every socket's `show stat` and `show servers state`.
pub struct Sampler<'a> {
    pub sockets: Vec<Address>,
    pub args: &'a TopArgs,
}

impl Sampler<'_> {
    /// Each socket's sample, or why it could not be read with its exit code, read in parallel
    /// (`--jobs` at a time) so that a slow socket holds the refresh up by its own time only.
    fn sample(&self) -> Vec<Result<model::Sample, (Code, String)>> {
        let source = Source {
            socket: &self.args.socket,
            route: &self.args.route,
            exchange: &self.args.exchange,
        };
        let one = |address: &Address| {
            let commands = ["show stat", "show servers state"];
            view::fetch_each(address, &source, &commands, false, &mut std::io::sink())
                .and_then(|replies| {
                    let stat = super::at(stat::parse(&replies[0]), address)?;
                    let state = super::at(servers_state::parse(&replies[1]), address)?;
                    Ok(model::Sample::new(stat, &state))
                })
                .map_err(|e| (exit::for_error(&e), messages::describe(&e)))
        };
        let jobs = usize::try_from(self.args.socket.targets.jobs)
            .unwrap_or(1)
            .max(1);
        let mut samples = Vec::with_capacity(self.sockets.len());
        for sockets in self.sockets.chunks(jobs) {
            std::thread::scope(|scope| {
                let running: Vec<_> = sockets
                    .iter()
                    .map(|address| scope.spawn(|| one(address)))
                    .collect();
                samples.extend(
                    running
                        .into_iter()
                        .map(|r| r.join().expect("a sample does not panic")),
                );
            });
        }
        samples
    }

    /// One sample into the model: the worst exit code of the sockets that failed.
    fn refresh(&self, model: &mut Model) -> Code {
        let mut worst = Code::Ok;
        let samples = self
            .sample()
            .into_iter()
            .map(|s| {
                s.map_err(|(code, why)| {
                    worst = worst.max(code);
                    why
                })
            })
            .collect();
        model.update(samples, Instant::now());
        worst
    }

    /// The cells of one line, with the socket in front when there are several.
    fn cells(&self, line: &model::Line) -> Vec<String> {
        let mut cells = model::cells(line);
        if self.sockets.len() > 1 {
            cells.insert(0, self.sockets[line.socket].to_string());
        }
        cells
    }

    fn header(&self) -> Vec<&'static str> {
        let mut header = model::HEADER.to_vec();
        if self.sockets.len() > 1 {
            header.insert(0, "SOCKET");
        }
        header
    }
}

/// One table per refresh, separated by a blank line; a socket that could not be read is said
/// on stderr each time. The exit code is the last refresh's.
fn plain(sampler: &Sampler<'_>) -> anyhow::Result<Code> {
    let mut model = Model::default();
    let mut out = std::io::stdout().lock();
    let mut refreshes = 0;
    loop {
        let code = sampler.refresh(&mut model);
        for (_, why) in &model.failures {
            messages::say(why);
        }
        let rows: Vec<Vec<String>> = model::shown(&model.lines, &sampler.args.filter, Sort::Config)
            .into_iter()
            .map(|line| sampler.cells(line))
            .collect();
        if refreshes > 0 {
            out.write_all(b"\n")?;
        }
        out.write_all(table::render(&sampler.header(), &rows).as_bytes())?;
        out.flush()?;
        refreshes += 1;
        if sampler.args.count.is_some_and(|n| refreshes >= n) || !sleep(sampler.args.interval.0) {
            return Ok(code);
        }
    }
}

/// Sleeps for `duration` unless a signal asks the run to stop first: false then.
fn sleep(duration: Duration) -> bool {
    let end = Instant::now() + duration;
    while !sockctl::interrupt::requested() {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
    false
}
