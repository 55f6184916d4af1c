//! The `sockctl` binary: parses the command line, runs one command module, and turns the
//! outcome into a message and an exit code.

/// The exit codes as `--help` shows them, a literal so that help texts can `concat!` it.
macro_rules! exit_codes_help {
    () => {
        "\
Exit codes:
  0    success
  1    the server answered, but the command failed
  2    usage error (bad option, address or command)
  3    cannot connect (missing, refused, permission denied, not a socket, DNS)
  4    timed out before the reply was complete (connect timeout included)
  5    reply invalid or incomplete (reset, too large, failed validation)
  6    cannot write the output (-o FILE or standard output)
  130  interrupted"
    };
}

mod cli;
mod docs;
mod exit;
mod fanout;
mod haproxy;
mod lines;
mod output;
mod report;
mod sanitize;
mod send;
mod shell;
mod signals;
mod table;

use crate::cli::{Commands, HaproxyCommand};

fn main() {
    signals::install();
    let cli = cli::parse();
    let result = match cli.command {
        Commands::Send(args) => send::run(args, cli.global.verbose),
        Commands::Completions { shell } => docs::completions(shell),
        Commands::Man { dir } => docs::man(dir.as_deref()),
        Commands::Haproxy(command) => match command {
            HaproxyCommand::SaveState(args) => haproxy::save_state::run(args, cli.global.verbose),
            HaproxyCommand::Reload(args) => haproxy::reload::run(args, cli.global.verbose),
            HaproxyCommand::Proc(args) => haproxy::proc::run(args, cli.global.verbose),
            HaproxyCommand::Exec(args) => haproxy::exec::run(args, cli.global.verbose),
            HaproxyCommand::Stat(args) => haproxy::stat::run(args, cli.global.verbose),
            HaproxyCommand::Info(args) => haproxy::info::run(args, cli.global.verbose),
            HaproxyCommand::Servers(args) => haproxy::servers::run(args, cli.global.verbose),
        },
        Commands::Shell(args) => shell::run(args),
    };
    // Everything the command held (temp files, connections) has been dropped by now.
    let code = fanout::settle(result, &mut std::io::stderr());
    if sockctl::interrupt::requested() {
        signals::reraise_and_exit();
    }
    std::process::exit(code as i32)
}
