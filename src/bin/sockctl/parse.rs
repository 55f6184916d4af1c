//! Turning argv into the parsed command line, fast for the one subcommand named.

use std::ffi::OsString;

use clap::{Args, Command, CommandFactory, FromArgMatches};

use crate::cli::{
    AddArgs, CertArgs, Cli, DelArgs, ExecArgs, Global, InfoArgs, OperateArgs, PatternArgs,
    ProcArgs, ReloadArgs, SaveStateArgs, SendArgs, ServersArgs, SessArgs, ShellArgs, StatArgs,
    TableArgs, TopArgs, WeightArgs,
};

/// Parses the command line. Building clap's definitions of every subcommand, with all their
/// help texts, was most of the work of a one-shot `sockctl send`; only the subcommand named
/// on the command line is built, unless help, the version or something unknown is asked for,
/// which gets the whole tree so that those messages stay complete.
pub fn parse(args: Vec<OsString>) -> Cli {
    let mut command = only_the_named_subcommand(&args).unwrap_or_else(Cli::command);
    let matches = command
        .try_get_matches_from_mut(&args)
        .unwrap_or_else(|e| exit_on(e));
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // Freeing clap's hundreds of small allocations cost as much as making them; the process
    // needs them no more and ends soon after its one command.
    std::mem::forget((command, matches));
    cli
}

/// Exits for a command line clap refused. A value that does not parse (a duration out of
/// range, a size that is not one) is one line in sockctl's own form; everything else (help,
/// version, unknown options with their suggestions) is clap's.
fn exit_on(error: clap::Error) -> ! {
    if error.kind() == clap::error::ErrorKind::ValueValidation {
        let text = error.to_string();
        let line = text.lines().next().unwrap_or_default();
        crate::messages::say(format_args!(
            "{}",
            line.strip_prefix("error: ").unwrap_or(line)
        ));
        std::process::exit(2);
    }
    error.exit()
}

fn only_the_named_subcommand(args: &[OsString]) -> Option<Command> {
    let words: Vec<&str> = args
        .iter()
        .skip(1)
        .map(|a| a.to_str())
        .collect::<Option<_>>()?;
    let asks_for_help = |w: &&str| matches!(*w, "-h" | "--help" | "-V" | "--version" | "help");
    if words.iter().any(asks_for_help) {
        return None;
    }
    let mut names = words
        .into_iter()
        .filter(|w| !matches!(*w, "-v" | "--verbose"));
    let leaf = |name: &'static str| Command::new(name);
    let subcommand = match names.next()? {
        "send" => SendArgs::augment_args(leaf("send")),
        "shell" => ShellArgs::augment_args(leaf("shell")),
        "haproxy" => {
            let command = match names.next()? {
                "save-state" => SaveStateArgs::augment_args(leaf("save-state")),
                "reload" => ReloadArgs::augment_args(leaf("reload")),
                "proc" => ProcArgs::augment_args(leaf("proc")),
                "exec" => ExecArgs::augment_args(leaf("exec")),
                "stat" => StatArgs::augment_args(leaf("stat")),
                "info" => InfoArgs::augment_args(leaf("info")),
                "servers" => ServersArgs::augment_args(leaf("servers")),
                "map" => PatternArgs::augment_args(leaf("map")),
                "acl" => PatternArgs::augment_args(leaf("acl")),
                "table" => TableArgs::augment_args(leaf("table")),
                "sess" => SessArgs::augment_args(leaf("sess")),
                "cert" => CertArgs::augment_args(leaf("cert")),
                "top" => TopArgs::augment_args(leaf("top")),
                "drain" => OperateArgs::augment_args(leaf("drain")),
                "maint" => OperateArgs::augment_args(leaf("maint")),
                "ready" => OperateArgs::augment_args(leaf("ready")),
                "weight" => WeightArgs::augment_args(leaf("weight")),
                "add" => AddArgs::augment_args(leaf("add")),
                "del" => DelArgs::augment_args(leaf("del")),
                _ => return None,
            };
            leaf("haproxy")
                .subcommand_required(true)
                .subcommand(command)
        }
        _ => return None,
    };
    Some(
        Global::augment_args(Command::new("sockctl"))
            .subcommand_required(true)
            .subcommand(subcommand),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every leaf command has a fast path; a forgotten one would only be slower, so check.
    #[test]
    fn every_subcommand_with_arguments_has_its_own_builder() {
        let full = Cli::command();
        for top in full.get_subcommands() {
            let name = top.get_name();
            if name == "completions" {
                continue; // rarely run, built whole
            }
            let mut paths = vec![vec![name.to_string()]];
            if top.has_subcommands() {
                paths = top
                    .get_subcommands()
                    .map(|leaf| vec![name.to_string(), leaf.get_name().to_string()])
                    .collect();
            }
            for path in paths {
                let mut args = vec![OsString::from("sockctl")];
                args.extend(path.iter().map(OsString::from));
                assert!(only_the_named_subcommand(&args).is_some(), "{path:?}");
            }
        }
    }

    #[test]
    fn help_and_unknown_commands_get_the_whole_tree() {
        for args in [
            &["sockctl", "send", "--help"][..],
            &["sockctl", "-V"],
            &["sockctl", "sned", "x"],
            &["sockctl", "haproxy"],
            &["sockctl", "haproxy", "nope"],
            &["sockctl"],
        ] {
            let args: Vec<OsString> = args.iter().map(OsString::from).collect();
            assert!(only_the_named_subcommand(&args).is_none(), "{args:?}");
        }
    }

    #[test]
    fn the_definitions_are_consistent() {
        Cli::command().debug_assert();
    }
}
