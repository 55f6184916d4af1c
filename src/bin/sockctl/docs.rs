//! Completion scripts, generated from the same clap definitions as `--help` (the manual pages
//! come from the same definitions through `sockctl-man`, see `make man`).

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::Code;

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<Code> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "sockctl", &mut std::io::stdout());
    Ok(Code::Ok)
}
