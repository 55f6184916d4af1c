//! The `sockctl` binary: parses the command line, runs one command module, and turns the
//! outcome into a message and an exit code.

mod cli;
mod exit;
mod lines;
mod output;
mod report;
mod send;
mod shell;
mod signals;

use clap::Parser;

use crate::cli::{Cli, Commands};
use crate::exit::Code;

fn main() {
    signals::install();
    let cli = Cli::parse();
    let result = match cli.command {
        Commands::Send(args) => send::run(args, cli.verbose),
        Commands::Shell(args) => shell::run(args),
    };
    // Everything the command held (temp files, connections) has been dropped by now.
    let code = match result {
        Ok(code) => code,
        Err(err) if exit::is_broken_pipe(&err) => Code::Ok,
        Err(err) => {
            if !err.is::<exit::Reported>() {
                report::error(&err);
            }
            exit::for_error(&err)
        }
    };
    if sockctl::interrupt::requested() {
        signals::reraise_and_exit();
    }
    std::process::exit(code as i32)
}
