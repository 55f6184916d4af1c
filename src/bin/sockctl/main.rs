//! The `sockctl` binary: parses the command line, runs one command module, and turns the
//! outcome into a message and an exit code.

// The C entry point, not std's: see `main` below.
#![cfg_attr(not(test), no_main)]

mod cli;
mod config;
mod docs;
mod exit;
mod haproxy;
mod lines;
mod many;
mod messages;
mod output;
mod parse;
mod sanitize;
mod send;
mod shell;
mod signals;
mod spool;
mod table;

use crate::cli::{Commands, HaproxyCommand};
use sockctl::haproxy::operate::Action;
use sockctl::haproxy::patterns::Kind;

/// Entered from the C runtime rather than through std's `main`, whose set-up (finding the main
/// thread's stack through `/proc/self/maps`, a guard page, SIGSEGV and SIGBUS handlers for a
/// stack overflow message) was a sixth of a one-shot `send`'s work (BENCHMARKS.md,
/// "Start-up"). What sockctl needs of it, SIGPIPE ignored, `signals::install` does; the
/// arguments are taken from `argv` here, which std reads only on glibc without its `main`.
// Not in the unit tests, whose harness has its own `main`.
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    use std::os::unix::ffi::OsStrExt;
    let count = usize::try_from(argc).unwrap_or(0);
    let args = (0..count)
        .map(|i| {
            // SAFETY: the C runtime passes `argc` valid, NUL-terminated strings in `argv`.
            let arg = unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) };
            std::ffi::OsStr::from_bytes(arg.to_bytes()).to_os_string()
        })
        .collect();
    run(args)
}

#[cfg_attr(test, allow(dead_code))]
fn run(args: Vec<std::ffi::OsString>) -> ! {
    // The remote end of an ssh:// address, started by ssh on this host: no command line to
    // parse, no signal handling of its own (ssh going away ends it).
    if args.get(1).map(std::ffi::OsString::as_os_str)
        == Some(std::ffi::OsStr::new(sockctl::ssh::RELAY_SUBCOMMAND))
    {
        // SAFETY: setting a signal's disposition, before any other thread exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        std::process::exit(sockctl::ssh::relay::serve(&args[2..]));
    }
    signals::install();
    let cli = parse::parse(args);
    let config = config::Config::new(&cli.global);
    let result = match cli.command {
        Commands::Send(args) => send::run(*args, &config),
        Commands::Completions { shell } => docs::completions(shell),
        Commands::Haproxy(command) => match command {
            HaproxyCommand::SaveState(args) => haproxy::save_state::run(args, &config),
            HaproxyCommand::Reload(args) => haproxy::reload::run(args, &config),
            HaproxyCommand::Proc(args) => haproxy::proc::run(args, &config),
            HaproxyCommand::Exec(args) => haproxy::exec::run(args, &config),
            HaproxyCommand::Stat(args) => haproxy::stat::run(args, &config),
            HaproxyCommand::Info(args) => haproxy::info::run(args, &config),
            HaproxyCommand::Servers(args) => haproxy::servers::run(args, &config),
            HaproxyCommand::Map(args) => haproxy::patterns::run(Kind::Map, args, &config),
            HaproxyCommand::Acl(args) => haproxy::patterns::run(Kind::Acl, args, &config),
            HaproxyCommand::Table(args) => haproxy::table::run(args, &config),
            HaproxyCommand::Sess(args) => haproxy::sess::run(args, &config),
            HaproxyCommand::Cert(args) => haproxy::cert::run(args, &config),
            HaproxyCommand::Top(args) => haproxy::top::run(args, &config),
            HaproxyCommand::Drain(args) => haproxy::operate::run(Action::Drain, args, &config),
            HaproxyCommand::Maint(args) => haproxy::operate::run(Action::Maint, args, &config),
            HaproxyCommand::Ready(args) => haproxy::operate::run(Action::Ready, args, &config),
            HaproxyCommand::Weight(args) => haproxy::operate::weight(args, &config),
            HaproxyCommand::Add(args) => haproxy::add_del::add(args, &config),
            HaproxyCommand::Del(args) => haproxy::add_del::del(args, &config),
        },
        Commands::Shell(args) => shell::run(args, &config),
    };
    // Everything the command held (temp files, connections) has been dropped by now.
    let code = many::settle(result, &mut std::io::stderr());
    if sockctl::interrupt::requested() {
        // A signal that came after the file was put in place changed nothing: the run
        // completed, and the exit code says so. Otherwise the old file is intact (the
        // temporary is gone), and the process dies of the signal.
        if code == exit::Code::Ok
            && let Some(path) = output::committed_file()
        {
            crate::messages::say(format_args!(
                "{} arrived after {} was in place; the run completed",
                signals::received_name(),
                path.display()
            ));
            std::process::exit(0);
        }
        signals::reraise_and_exit();
    }
    std::process::exit(code as i32)
}
