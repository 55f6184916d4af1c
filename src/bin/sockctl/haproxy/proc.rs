//! `sockctl haproxy proc`.

use std::io::Write;

use sockctl::haproxy::discover::Want;
use sockctl::haproxy::master;
use sockctl::haproxy::proc_list::{ProcList, Process};

use super::{at, socket};
use crate::cli::ProcArgs;
use crate::exit::Code;
use crate::send::exchange_from;

pub fn run(args: ProcArgs, verbose: bool) -> anyhow::Result<Code> {
    let address = socket(&args.socket, Want::Master, verbose)?;
    let exchange = exchange_from(&args.exchange);
    let list = at(master::show_proc(&address, &exchange), &address)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &list)?;
        writeln!(out)?;
    } else if args.raw {
        // Asked again so the bytes are HAProxy's own, untouched.
        let command = sockctl::Command::new("show proc").expect("no line breaks");
        at(exchange.run(&address, &command, &mut out), &address)?;
    } else {
        out.write_all(table(&list).as_bytes())?;
    }
    Ok(Code::Ok)
}

/// One line per process, columns aligned, the current worker marked.
pub fn table(list: &ProcList) -> String {
    let current = list.current_worker().map(|w| w.pid);
    let mut rows = vec![[
        "PID".to_string(),
        "ROLE".into(),
        "RELOADS".into(),
        "UPTIME".into(),
        "VERSION".into(),
    ]];
    let row = |p: &Process, role: String| {
        let reloads = match p.failed {
            Some(failed) => format!("{} ({failed} failed)", p.reloads),
            None => p.reloads.to_string(),
        };
        [
            p.pid.to_string(),
            role,
            reloads,
            p.uptime.clone(),
            p.version.clone(),
        ]
    };
    rows.push(row(&list.master, "master".into()));
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
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        text.push('\n');
    }
    text
}
