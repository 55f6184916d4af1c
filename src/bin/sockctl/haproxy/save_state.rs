//! `sockctl haproxy save-state`.

use sockctl::haproxy::discover::Want;
use sockctl::haproxy::master;
use sockctl::haproxy::save_state::{dump_command, save_state};

use super::config::{Configuration, same_file, state_file};
use super::{at, socket};
use crate::cli::SaveStateArgs;
use crate::config::Config;
use crate::exit::{Code, UsageError};

pub fn run(args: SaveStateArgs, config: &Config) -> anyhow::Result<Code> {
    let verbose = config.verbose;
    // The default file is the one HAProxy loads for every backend: one backend's dump there
    // would throw away the saved state of all the others at the next reload.
    let one_backend_only = |backend: &str| {
        UsageError(format!(
            "--backend {backend} saves one backend only; give it a file of its own with -o \
             FILE (the configured state file holds every backend's state)"
        ))
    };
    if let Some(backend) = &args.backend
        && args.output.is_none()
    {
        return Err(one_backend_only(backend).into());
    }
    let address = socket(&args.socket, Want::Any, verbose)?;
    if address.is_remote() {
        return Err(super::writes_beside(&address, "save-state", super::STATE_FILE).into());
    }
    let exchange = args.exchange.streaming();
    let kind = at(master::probe(&address, &exchange), &address)?;
    let config = || Configuration::find(args.socket.config.path.as_deref(), &address, &kind);
    let path = match (&args.output, &args.backend) {
        (Some(output), Some(backend)) => {
            if config()
                .loaded_state_file()
                .is_ok_and(|global| same_file(output, &global))
            {
                return Err(one_backend_only(backend).into());
            }
            output.clone()
        }
        // A file the user named is a plain dump: whether HAProxy loads it is theirs to say.
        (Some(output), None) => output.clone(),
        (None, _) => state_file(None, &config(), false, verbose)?,
    };
    let command = dump_command(&kind, args.backend.as_deref())?;
    let saved = at(save_state(&address, &command, &path, &exchange), &address)?;
    crate::output::committed(&saved.path);
    if verbose {
        crate::messages::say(format_args!(
            "{address}: '{command}': {} bytes in {}",
            saved.bytes,
            sockctl::units::format_duration(saved.elapsed)
        ));
    }
    println!(
        "saved {} of {} to {}",
        counted(saved.summary.servers, "server"),
        counted(saved.summary.backends, "backend"),
        saved.path.display()
    );
    Ok(Code::Ok)
}

/// `1 server`, `3 servers`.
fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
