//! `sockctl haproxy save-state`.

use std::path::Path;

use sockctl::haproxy::config::GlobalSettings;
use sockctl::haproxy::discover::Want;
use sockctl::haproxy::master;
use sockctl::haproxy::save_state::{dump_command, save_state};

use super::{at, socket, state_file};
use crate::cli::SaveStateArgs;
use crate::exit::{Code, UsageError};
use crate::send::exchange_from;

pub fn run(args: SaveStateArgs, verbose: bool) -> anyhow::Result<Code> {
    // The default file is the one HAProxy loads for every backend: one backend's dump there
    // would throw away the saved state of all the others at the next reload.
    let settings = GlobalSettings::read(&args.socket.config).ok();
    if let Some(backend) = &args.backend {
        let global = settings.as_ref().and_then(GlobalSettings::state_file);
        let refused = match (&args.output, &global) {
            (None, _) => true,
            (Some(output), Some(global)) => same_file(output, global),
            (Some(_), None) => false,
        };
        if refused {
            return Err(UsageError(format!(
                "--backend {backend} saves one backend only; give it a file of its own with -o \
                 FILE (the configured state file holds every backend's state)"
            ))
            .into());
        }
    }
    let address = socket(&args.socket, Want::Any, verbose)?;
    let exchange = exchange_from(&args.exchange);
    let kind = at(master::probe(&address, &exchange), &address)?;
    let path = state_file(
        args.output.as_deref(),
        &args.socket.config,
        settings.as_ref(),
        &address,
        false,
        verbose,
    )?;
    let command = dump_command(&kind, args.backend.as_deref())?;
    let saved = at(save_state(&address, &command, &path, &exchange), &address)?;
    crate::output::committed(&saved.path);
    if verbose {
        eprintln!(
            "sockctl: {address}: '{command}': {} bytes in {}",
            saved.bytes,
            sockctl::units::format_duration(saved.elapsed)
        );
    }
    println!(
        "saved {} of {} to {}",
        counted(saved.summary.servers, "server"),
        counted(saved.summary.backends, "backend"),
        saved.path.display()
    );
    Ok(Code::Ok)
}

/// Whether two paths name the same file (the same text, or the same file once resolved).
fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (a.canonicalize(), b.canonicalize()),
            (Ok(a), Ok(b)) if a == b
        )
}

/// `1 server`, `3 servers`.
fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
