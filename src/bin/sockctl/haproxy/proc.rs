//! `sockctl haproxy proc`.

use sockctl::haproxy::discover::Want;
use sockctl::haproxy::master;
use sockctl::haproxy::proc_list::{ProcList, Process};

use super::view::{self, Mode};
use super::{at, targets};
use crate::cli::ProcArgs;
use crate::config::Config;
use crate::exit::Code;
use crate::many::{self, Shape};
use crate::table;

pub fn run(args: ProcArgs, config: &Config) -> anyhow::Result<Code> {
    let verbose = config.verbose;
    let targets = targets(&args.socket, Want::Master, verbose)?;
    let exchange = args.exchange.streaming();
    // The table stays the default off a terminal too, as it was before --json existed.
    let mode = view::mode(&args.format, true);
    let json = (mode == Mode::Json).then_some(Shape::Json);
    many::each(
        &targets,
        args.socket.targets.jobs,
        json,
        |address, out, _| {
            let (list, reply) = at(master::show_proc_with_reply(address, &exchange), address)?;
            match mode {
                Mode::Json => out.write_all(&view::json(&list)?)?,
                Mode::Raw => out.write_all(&reply)?,
                Mode::Table => out.write_all(table(&list).as_bytes())?,
            }
            Ok(Code::Ok)
        },
    )
}

/// One line per process, columns aligned, the current worker marked.
pub fn table(list: &ProcList) -> String {
    let current = list.current_worker().map(|w| w.pid);
    let row = |p: &Process, role: String| {
        let reloads = match p.failed {
            Some(failed) => format!("{} ({failed} failed)", p.reloads),
            None => p.reloads.to_string(),
        };
        vec![
            p.pid.to_string(),
            role,
            reloads,
            p.uptime.clone(),
            p.version.clone(),
        ]
    };
    let mut rows = vec![row(&list.master, "master".into())];
    for w in &list.workers {
        let role = if Some(w.pid) == current {
            "worker (current)"
        } else {
            "worker"
        };
        rows.push(row(w, role.into()));
    }
    for w in &list.old_workers {
        let role = if Some(w.pid) == current {
            "old worker (serving)"
        } else {
            "old worker"
        };
        rows.push(row(w, role.into()));
    }
    for p in list.programs.iter().chain(&list.old_programs) {
        rows.push(row(p, format!("program {}", p.kind)));
    }
    table::render(&["PID", "ROLE", "RELOADS", "UPTIME", "VERSION"], &rows)
}
