//! Turning argv into the parsed command line: by hand for a plain one-shot `send`, otherwise
//! by clap, fast for the one subcommand named.

use std::ffi::OsString;
use std::time::Duration;

use clap::{Args, Command, CommandFactory, FromArgMatches};
use sockctl::units::HumanDuration;

use crate::cli::{
    AddArgs, CertArgs, Cli, Commands, DelArgs, ExchangeArgs, ExecArgs, Global, InfoArgs,
    OperateArgs, PatternArgs, ProcArgs, ProtoArgs, ReloadArgs, SaveStateArgs, SendArgs,
    ServersArgs, SessArgs, ShellArgs, StatArgs, TableArgs, TargetArgs, TopArgs, WeightArgs,
};

/// Parses the command line. A plain one-shot `send` needs no clap at all (`one_shot_send`).
/// Otherwise, building clap's definitions of every subcommand, with all their help texts, was
/// most of the work of a one-shot command; only the subcommand named on the command line is
/// built, unless help, the version or something unknown is asked for, which gets the whole
/// tree so that those messages stay complete.
pub fn parse(args: Vec<OsString>) -> Cli {
    if let Some(cli) = one_shot_send(&args) {
        return cli;
    }
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

/// `sockctl [-v] send [FLAG…] ADDR [COMMAND…]`, the form a script runs most, parsed by hand:
/// even building the one subcommand, matching and reading the matches back was four tenths of
/// a one-shot `send`'s work. FLAG is `-v`/`--verbose`, `--json` or `--keep-going`, each at most
/// once, anywhere after `send`. Anything else (another option, `-` or any word starting with
/// one, an empty word, a word that is not UTF-8) is left to clap, which then parses the whole
/// command line as always, so help, errors and suggestions stay its own. No argument of `send`
/// is read from the environment; a unit test says so if one ever is.
fn one_shot_send(args: &[OsString]) -> Option<Cli> {
    let mut words = args.get(1..)?.iter().map(|word| word.to_str());
    let mut verbose = false;
    loop {
        match words.next()?? {
            "send" => break,
            "-v" | "--verbose" if !verbose => verbose = true,
            _ => return None,
        }
    }
    let (mut address, mut commands) = (None, Vec::new());
    let (mut json, mut keep_going) = (false, false);
    for word in words {
        let flag = match word? {
            "-v" | "--verbose" => &mut verbose,
            "--json" => &mut json,
            "--keep-going" => &mut keep_going,
            word if word.is_empty() || word.starts_with('-') => return None,
            word if address.is_none() => {
                address = Some(OsString::from(word));
                continue;
            }
            word => {
                commands.push(OsString::from(word));
                continue;
            }
        };
        // A flag given twice: clap refuses it, except `-v` both before and after `send`.
        if *flag {
            return None;
        }
        *flag = true;
    }
    // The defaults of the arguments clap would have filled in (cli/args.rs); the unit tests
    // compare the whole value with clap's.
    let send = SendArgs {
        address: Some(address?),
        commands,
        targets: TargetArgs {
            sockets: Vec::new(),
            sockets_file: None,
            jobs: 16,
        },
        json,
        exchange: ExchangeArgs {
            timeout: HumanDuration(Duration::from_secs(10)),
            connect_timeout: HumanDuration(Duration::from_secs(3)),
            idle_timeout: None,
            max_bytes: None,
        },
        proto: ProtoArgs::default(),
        output: None,
        keep_going,
    };
    Some(Cli {
        global: Global { verbose },
        command: Commands::Send(Box::new(send)),
    })
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
    use clap::Parser;
    use proptest::prelude::*;

    fn argv(words: &[&str]) -> Vec<OsString> {
        std::iter::once("sockctl")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect()
    }

    /// What a parsed `send` command line holds, to compare: the options have no `PartialEq`
    /// (a compiled regex has none), but all of them print.
    fn seen(cli: &Cli) -> String {
        match &cli.command {
            Commands::Send(send) => format!("verbose: {}, {send:?}", cli.global.verbose),
            _ => "another command".to_string(),
        }
    }

    /// What clap makes of a command line, from the whole tree and from the named subcommand
    /// alone (which must agree).
    fn by_clap(args: &[OsString]) -> Result<String, clap::Error> {
        let whole = Cli::try_parse_from(args)?;
        let mut command = only_the_named_subcommand(args).unwrap_or_else(Cli::command);
        let named = Cli::from_arg_matches(&command.try_get_matches_from_mut(args)?)?;
        assert_eq!(seen(&whole), seen(&named), "{args:?}");
        Ok(seen(&whole))
    }

    /// Whether the fast path takes the command line; when it does, its result must be clap's.
    fn agrees(args: &[OsString]) -> bool {
        let Some(fast) = one_shot_send(args) else {
            return false;
        };
        match by_clap(args) {
            Ok(clap) => assert_eq!(seen(&fast), clap, "{args:?}"),
            Err(e) => panic!("{args:?}: taken by hand, but clap refuses it: {e}"),
        }
        true
    }

    #[test]
    fn the_common_one_shot_forms_are_parsed_by_hand_as_clap_would() {
        for words in [
            &["send", "/run/haproxy/admin.sock", "show version"][..],
            &["send", "/run/haproxy/admin.sock"],
            &["send", "/run/a.sock", "show info", "show stat", "show sess"],
            &["-v", "send", "tcp:127.0.0.1:9999", "show info"],
            &["--verbose", "send", "@abstract", "show info"],
            &["send", "--verbose", "a.sock", "help"],
            &["send", "--json", "a.sock", "show info"],
            &["send", "a.sock", "--keep-going", "b", "c", "-v", "--json"],
            &["send", "help"],
            &["send", "send", "send"],
            &[
                "send",
                "ssh://lb1/run/haproxy/admin.sock",
                "show servers state",
            ],
            &["send", "a.sock", "x --json", " -v"],
        ] {
            assert!(agrees(&argv(words)), "{words:?}");
        }
    }

    #[test]
    fn anything_else_is_left_to_clap() {
        for words in [
            &[][..],
            &["send"],
            &["send", "--help"],
            &["send", "-h", "a.sock"],
            &["send", "a.sock", "-V"],
            &["-V"],
            &["send", "a.sock", "--"],
            &["send", "--", "a.sock", "-x"],
            &["send", "a.sock", "-"],
            &["send", "-s", "a.sock", "show info"],
            &["send", "--timeout", "1s", "a.sock", "show info"],
            &["send", "--timeout=1s", "a.sock"],
            &["send", "a.sock", "--json", "--json"],
            &["-v", "send", "-v", "a.sock"],
            &["-vv", "send", "a.sock"],
            &["send", "a.sock", "--jso"],
            &["send", "", "show info"],
            &["send", "a.sock", "-x"],
            &["--json", "send", "a.sock"],
            &["shell", "a.sock"],
            &["haproxy", "exec", "show info"],
            &["snd", "a.sock"],
        ] {
            assert!(one_shot_send(&argv(words)).is_none(), "{words:?}");
        }
        use std::os::unix::ffi::OsStringExt;
        let mut args = argv(&["send", "a.sock"]);
        args.push(OsString::from_vec(b"show \xff".to_vec()));
        assert!(one_shot_send(&args).is_none());
        assert!(one_shot_send(&[]).is_none());
    }

    /// The fast path fills in every argument clap would not find on the command line with its
    /// default, without looking at the environment: right only while clap does not either.
    #[test]
    fn no_argument_of_send_comes_from_the_environment() {
        let cli = Cli::command();
        let send = cli.find_subcommand("send").expect("send");
        for arg in cli.get_arguments().chain(send.get_arguments()) {
            assert!(arg.get_env().is_none(), "{}", arg.get_id());
        }
    }

    /// Words from the forms the fast path takes and from those it must leave alone; its flags
    /// twice, so that some come twice in one command line.
    const WORDS: &[&str] = &[
        "send",
        "send",
        "-v",
        "--verbose",
        "--json",
        "--keep-going",
        "a.sock",
        "/run/b.sock",
        "@abstract",
        "tcp:127.0.0.1:9999",
        "ssh://lb1/run/c.sock",
        "show info",
        "show version",
        "help",
        "-",
        "--",
        "-h",
        "--help",
        "-V",
        "--version",
        "-s",
        "--socket",
        "-j",
        "4",
        "--timeout",
        "1s",
        "--timeout=1s",
        "--json=true",
        "--jso",
        "-vv",
        "-vs",
        "--crlf",
        "-o",
        "out",
        "--sockets-file",
        "haproxy",
        "exec",
        "",
        " ",
        "-1",
        "x --json",
    ];

    /// How generated command lines begin: mostly with `send`, so that many are taken by hand.
    const STARTS: &[&[&str]] = &[
        &[],
        &["send"],
        &["send"],
        &["-v", "send"],
        &["--verbose", "send"],
        &["send", "a.sock"],
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn what_the_fast_path_takes_it_parses_as_clap_does(
            start in prop::sample::select(STARTS),
            rest in prop::collection::vec(prop::sample::select(WORDS), 0..7),
        ) {
            let words: Vec<&str> = start.iter().chain(&rest).copied().collect();
            agrees(&argv(&words));
        }
    }

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
