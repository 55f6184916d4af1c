//! The command line, as clap sees it. Turned into library calls by the command modules.

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
  6    cannot write the output (-o FILE or standard output; also standard output
       closed before every command ran)
  130  interrupted"
    };
}

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Command, CommandFactory, FromArgMatches, Parser, Subcommand};
use sockctl::Address;
use sockctl::units::{ByteSize, HumanDuration};

#[derive(Parser)]
#[command(
    name = "sockctl",
    version = env!("SOCKCTL_VERSION"),
    about = "Talk to the administrative sockets of Unix services (HAProxy first), correctly",
    long_about = "Talk to the administrative sockets of Unix services (HAProxy first), correctly.\n\n\
        sockctl sends a command, half-closes the connection so the server knows it is complete, \
        and reads until a clean EOF: a short read is never taken for the end of a reply, and a \
        reply that did not complete is an error with its own exit code.",
    after_help = concat!(
        "\
Examples:
  sockctl send /run/haproxy/admin.sock 'show info'
  sockctl haproxy reload --save-state -s /run/haproxy-master.sock
  sockctl shell /run/haproxy/admin.sock

",
        exit_codes_help!()
    ),
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Commands,
}

#[derive(Args)]
pub struct Global {
    /// Print what happened on each connection to stderr
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Subcommand)]
pub enum Commands {
    /// Send commands to a socket, each on its own connection, and print the replies
    #[command(after_help = SEND_HELP)]
    Send(SendArgs),

    /// HAProxy: run commands with error detection, typed views, save state, reload
    #[command(subcommand, after_help = HAPROXY_HELP)]
    Haproxy(HaproxyCommand),

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(after_help = COMPLETIONS_HELP)]
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },

    /// Interactive session on a socket: HAProxy-aware (prompt framing, completion, history,
    /// reconnects), raw line mode for anything else
    #[command(after_help = SHELL_HELP)]
    Shell(ShellArgs),
}

const SHELL_HELP: &str = "\
Examples:
  sockctl shell /run/haproxy/admin.sock          # stats socket: admin.sock> show info
  sockctl shell /run/haproxy/master.sock         # master CLI: master> @1, then master@1> ...
  printf 'show info\\nshow stat\\n' | sockctl shell /run/haproxy/admin.sock   # one connection

In the session: Tab completes commands (from the server's help) and backend/server names;
a line ending in ' <<' reads payload lines until an empty line; Ctrl-C abandons the wait for a
reply; Ctrl-D or 'quit' leaves. History is kept per socket in $XDG_STATE_HOME/sockctl/.
Reply bytes that are control characters or escape sequences are shown escaped (\\x1b...)
unless --raw, which also skips HAProxy detection: lines are sent as typed and whatever the
server sends is printed as it arrives.

With standard input piped, each reply is written as the exact bytes of the command on its own
connection, and the exit code is the highest of the run: 1 if a command failed (HAProxy's error
messages count), 4 or 5 if a reply was incomplete (see sockctl --help).";

/// Addresses from the command line as bytes: a socket path need not be UTF-8.
fn address() -> impl clap::builder::TypedValueParser<Value = Address> {
    use clap::builder::TypedValueParser;
    clap::builder::OsStringValueParser::new().try_map(|s: OsString| Address::from_os_str(&s))
}

#[derive(Args)]
pub struct ShellArgs {
    /// The socket (same forms as for send); when omitted: $SOCKCTL_SOCKET, else the 'stats
    /// socket' of --config, else the -S socket of the running HAProxy master
    #[arg(value_name = "ADDR", value_parser = address())]
    pub address: Option<Address>,

    #[command(flatten)]
    pub config: ConfigArgs,

    /// Line-oriented raw session: no HAProxy framing, bytes shown unescaped
    #[arg(long)]
    pub raw: bool,

    /// Limit for each reply (0 = none)
    #[arg(long, value_name = "DUR", default_value = "30s")]
    pub timeout: HumanDuration,

    /// Limit for connecting and reconnecting (0 = none)
    #[arg(long, value_name = "DUR", default_value = "3s")]
    pub connect_timeout: HumanDuration,

    /// Fail (exit 5) if a reply is larger than this; each reply is held until its prompt
    /// (0 = none; --raw streams and has no limit)
    #[arg(long, value_name = "SIZE", default_value = "64MiB")]
    pub max_bytes: ByteSize,

    /// Neither read nor write the history file
    #[arg(long)]
    pub no_history: bool,
}

const HAPROXY_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy exec -s /run/haproxy/admin.sock 'set server be_app/s1 state drain'
  sockctl haproxy reload --save-state --json
  sockctl haproxy servers --backend be_app --table

Without -s, the socket is $SOCKCTL_SOCKET, else the 'stats socket' of --config, else the -S
socket of the running HAProxy master.

",
    exit_codes_help!()
);

const COMPLETIONS_HELP: &str = "\
Examples:
  sockctl completions bash > /etc/bash_completion.d/sockctl
  sockctl completions zsh > \"${fpath[1]}/_sockctl\"
  sockctl completions fish > ~/.config/fish/completions/sockctl.fish";

#[derive(Subcommand)]
pub enum HaproxyCommand {
    /// Save `show servers state` to the state file HAProxy loads, validated and atomically
    #[command(after_help = SAVE_STATE_HELP)]
    SaveState(SaveStateArgs),

    /// Reload HAProxy through its master CLI and verify the outcome
    #[command(after_help = RELOAD_HELP)]
    Reload(ReloadArgs),

    /// Show the master's process list (`show proc`): master, workers, reload counters
    #[command(after_help = PROC_HELP)]
    Proc(ProcArgs),

    /// Run HAProxy commands and fail (exit 1) when HAProxy says they failed
    #[command(after_help = EXEC_HELP)]
    Exec(ExecArgs),

    /// `show stat` as typed rows keyed by the header HAProxy sent
    #[command(after_help = STAT_HELP)]
    Stat(StatArgs),

    /// `show info` as one object
    #[command(after_help = INFO_HELP)]
    Info(InfoArgs),

    /// `show servers state` with names for the numeric states
    #[command(after_help = SERVERS_HELP)]
    Servers(ServersArgs),
}

/// Where to find HAProxy when `-s` is not given.
#[derive(Args)]
pub struct SocketArgs {
    /// The stats socket or master socket; when omitted: $SOCKCTL_SOCKET, else the 'stats
    /// socket' of --config, else the -S socket of the running HAProxy master
    #[arg(short, long = "socket", value_name = "ADDR", value_parser = address())]
    pub socket: Option<Address>,

    #[command(flatten)]
    pub config: ConfigArgs,
}

/// The HAProxy configuration, declared once for every command that reads one.
#[derive(Args)]
pub struct ConfigArgs {
    /// HAProxy configuration (a file or a directory, as for haproxy -f) to read the stats
    /// socket, the state file and which backends load it from [default: the files the running
    /// master was started with, else /etc/haproxy/haproxy.cfg]
    #[arg(long = "config", value_name = "CFG", env = "SOCKCTL_CONFIG")]
    pub path: Option<PathBuf>,
}

#[derive(Args)]
pub struct SaveStateArgs {
    #[command(flatten)]
    pub socket: SocketArgs,

    /// State file to write (default: the server-state-file HAProxy loads, from the running
    /// configuration; refused when no backend loads it)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Save only this backend (needs -o FILE: the configured file holds every backend)
    #[arg(long, value_name = "NAME")]
    pub backend: Option<String>,

    #[command(flatten)]
    pub exchange: ExchangeArgs,
}

#[derive(Args)]
pub struct ReloadArgs {
    #[command(flatten)]
    pub socket: SocketArgs,

    /// Save the server state first (through the master), and do not reload if that fails
    #[arg(long)]
    pub save_state: bool,

    /// State file for --save-state (default as for save-state)
    #[arg(long, value_name = "FILE", requires = "save_state")]
    pub state_file: Option<PathBuf>,

    /// Reload even if saving the state failed, or if the configuration will not load the
    /// --state-file given
    #[arg(long, requires = "save_state")]
    pub force: bool,

    /// Give up waiting for the outcome after this long (loading a big configuration takes time)
    #[arg(long, value_name = "DUR", default_value = "5m")]
    pub timeout: HumanDuration,

    /// Print the outcome as one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ProcArgs {
    #[command(flatten)]
    pub socket: SocketsArgs,

    #[command(flatten)]
    pub format: FormatArgs,

    #[command(flatten)]
    pub exchange: ExchangeArgs,
}

/// How a view is printed. Without a flag: a table on a terminal, JSON otherwise (`proc`: always
/// a table).
#[derive(Args)]
pub struct FormatArgs {
    /// Print one JSON document (the default when standard output is not a terminal)
    #[arg(long, conflicts_with_all = ["table", "raw"])]
    pub json: bool,

    /// Print aligned columns for a person (the default on a terminal)
    #[arg(long, conflicts_with = "raw")]
    pub table: bool,

    /// Print HAProxy's reply as it came
    #[arg(long)]
    pub raw: bool,
}

/// The sockets of `send` and of the HAProxy commands that take several.
#[derive(Args)]
pub struct TargetArgs {
    /// A socket; repeat to use several at once, each result labelled with its address
    #[arg(short = 's', long = "socket", value_name = "ADDR", value_parser = address())]
    pub sockets: Vec<Address>,

    /// Use the sockets listed in FILE, one address per line (blank lines and # comments
    /// skipped), each result labelled with its address
    #[arg(long, value_name = "FILE")]
    pub sockets_file: Option<PathBuf>,

    /// Talk to at most N sockets at once (fewer if the open-file limit allows no more)
    #[arg(
        short = 'j',
        long = "jobs",
        value_name = "N",
        default_value_t = 16,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub jobs: u32,
}

/// The sockets of an HAProxy command that runs on several at once.
#[derive(Args)]
pub struct SocketsArgs {
    #[command(flatten)]
    pub targets: TargetArgs,

    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Which process of a master socket runs the command. Refused on a stats socket, whose
/// process is fixed.
#[derive(Args)]
pub struct RouteArgs {
    /// On a master socket: `current` worker (the default), a worker's PID, or `all` current
    /// and old workers, each result labelled
    #[arg(long, value_name = "WHICH", conflicts_with = "master")]
    pub worker: Option<WorkerChoice>,

    /// On a master socket: run in the master itself
    #[arg(long)]
    pub master: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerChoice {
    Current,
    All,
    Pid(u32),
}

impl std::str::FromStr for WorkerChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "current" => Ok(WorkerChoice::Current),
            "all" => Ok(WorkerChoice::All),
            _ => s
                .parse()
                .ok()
                .filter(|&pid| pid > 0)
                .map(WorkerChoice::Pid)
                .ok_or_else(|| format!("expected current, all or a PID, not {s:?}")),
        }
    }
}

#[derive(Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub socket: SocketsArgs,

    #[command(flatten)]
    pub route: RouteArgs,

    /// Let a COMMAND hold `;` to run several commands (refused otherwise: a `;` in a value
    /// would silently run the rest as another command)
    #[arg(long)]
    pub allow_chaining: bool,

    /// Go on with the next COMMAND after a failure (exit with the worst outcome); a batch
    /// then writes commands ahead of their replies, which is much faster
    #[arg(long)]
    pub keep_going: bool,

    /// Run the commands in FILE (one per line, - for standard input) over one connection,
    /// each reply exactly as on a connection of its own
    #[arg(long, value_name = "FILE", conflicts_with = "commands")]
    pub batch: Option<PathBuf>,

    /// Print one JSON document with every result, its process, output and errors
    #[arg(long, conflicts_with = "raw")]
    pub json: bool,

    /// Print the output bytes exactly, also on a terminal (where control characters are
    /// otherwise escaped)
    #[arg(long)]
    pub raw: bool,

    #[command(flatten)]
    pub exchange: ExchangeArgs,

    /// HAProxy commands, each on its own connection, in order
    #[arg(value_name = "COMMAND", required_unless_present = "batch")]
    pub commands: Vec<String>,
}

/// Which worker of a master socket answers a view.
#[derive(Args)]
pub struct ViewRouteArgs {
    /// On a master socket: `current` worker (the default) or a worker's PID
    #[arg(long, value_name = "WHICH")]
    pub worker: Option<WorkerChoice>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatType {
    Frontend,
    Backend,
    Server,
}

#[derive(Args)]
pub struct StatArgs {
    #[command(flatten)]
    pub socket: SocketsArgs,

    #[command(flatten)]
    pub route: ViewRouteArgs,

    /// Only this proxy (backend, frontend or listen section), filtered by HAProxy
    #[arg(long, value_name = "NAME")]
    pub backend: Option<String>,

    /// Only rows of these types (repeat or separate with commas)
    #[arg(long = "type", value_name = "TYPE", value_delimiter = ',')]
    pub types: Vec<StatType>,

    /// Columns of the table, by header name, separated by commas (implies --table)
    #[arg(
        long,
        value_name = "NAMES",
        value_delimiter = ',',
        conflicts_with_all = ["json", "raw"]
    )]
    pub columns: Vec<String>,

    #[command(flatten)]
    pub format: FormatArgs,

    #[command(flatten)]
    pub exchange: ExchangeArgs,
}

#[derive(Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub socket: SocketsArgs,

    #[command(flatten)]
    pub route: ViewRouteArgs,

    #[command(flatten)]
    pub format: FormatArgs,

    #[command(flatten)]
    pub exchange: ExchangeArgs,
}

#[derive(Args)]
pub struct ServersArgs {
    #[command(flatten)]
    pub socket: SocketsArgs,

    #[command(flatten)]
    pub route: ViewRouteArgs,

    /// Only the servers of this backend
    #[arg(long, value_name = "NAME")]
    pub backend: Option<String>,

    #[command(flatten)]
    pub format: FormatArgs,

    #[command(flatten)]
    pub exchange: ExchangeArgs,
}

const SAVE_STATE_HELP: &str = "\
Examples:
  sockctl haproxy save-state
  sockctl haproxy save-state -s /run/haproxy-master.sock -o /var/lib/haproxy/server-state
  sockctl haproxy save-state -s /run/haproxy/admin.sock --backend be_app -o be_app.state

The dump is checked line by line (version line, header, every server line complete, final
empty line) while it streams into a temporary file; the state file is replaced only when the
dump is complete, so HAProxy never loads a truncated file. A lock beside the file
(.NAME.sockctl-lock) keeps two runs apart.

Without -o the file is the server-state-file of the configuration HAProxy runs (--config, else
the running master's command line). Refused, exit 2 and nothing written, when HAProxy would not
load it: the configuration cannot be read, has no server-state-file, or no backend says
'load-server-state-from-file global'.";

const RELOAD_HELP: &str = "\
Examples:
  sockctl haproxy reload --save-state
  sockctl haproxy reload -s /run/haproxy-master.sock --json
  sockctl haproxy reload --save-state --state-file /var/lib/haproxy/server-state --timeout 10m

HAProxy 2.7+ answers 'reload' with Success=1/0 and its startup log; 2.6 answers nothing and
is verified by polling 'show proc' until the reload counter moves: a higher failure counter
means the new configuration was rejected, a new worker means it serves. With --save-state,
the state goes where the running configuration loads it, or the run is refused (exit 2, no
reload; see save-state --help; --state-file PATH --force writes it anyway).
Exit codes: 0 reloaded; 1 reload failed (old worker still serving), HAProxy exited or was left
without a worker, or refused by HAProxy; 2 state file HAProxy would not load; 3 cannot connect;
4 no outcome before --timeout; 5 unexpected reply (Success=1 with nothing changed); see
sockctl --help.";

/// How several sockets are asked, for the help of every command that takes them.
macro_rules! many_help {
    () => {
        "\n\nSeveral sockets (-s repeated, or --sockets-file FILE with one address per line) are \
         asked at once, at most -j N at a time (16): every output line starts with 'ADDR: ', \
         each socket's lines together, in the order the sockets finish; --json prints one \
         object keyed by address ({\"ADDR\": {\"code\", \"errors\", \"result\"}}). The exit code \
         is the worst. On a terminal, a progress bar shows when it takes a while."
    };
}

const PROC_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy proc
  sockctl haproxy proc -s /run/haproxy-master.sock --json
  sockctl haproxy proc -s @lb1-master -s @lb2-master

The table is the default, also when standard output is not a terminal.",
    many_help!()
);

const EXEC_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy exec -s /run/haproxy/admin.sock 'set server be_app/s1 state drain'
  sockctl haproxy exec -s /run/haproxy/admin.sock --keep-going --batch weights.txt
  sockctl haproxy exec --sockets-file lbs.txt --worker all 'show info'

On a stats socket each COMMAND is sent after 'set severity-output number;': messages of
severity 0-3 (emerg..err) are failures, their text goes to standard error, and the tags are
removed from what is shown, which is otherwise exactly HAProxy's reply. 'Unknown command',
'Permission denied', 'This command is restricted' and JSON 'errorStr' replies are failures
too. Through a master socket HAProxy 2.6 gives no severities; failures are recognized by
HAProxy's error texts ('No such server.', 'Can't find backend.', ...).

--batch FILE (- for standard input) runs one command per line over one connection (blank
lines and # comments skipped, a command ending in ' <<' takes the lines up to an empty line
as its payload); each output is exactly what the command returns on a connection of its own,
and a failure names its line. Without --keep-going, commands go one at a time and the first
failure stops the batch; with it, they are written ahead of their replies, several times
faster. If the connection is lost, the batch stops (exit 5) and names the lines that may have
run: nothing is sent twice.",
    many_help!(),
    "

Exit codes: 0 every command succeeded, 1 HAProxy said a command failed, 2 usage (a ';'
without --allow-chaining, --worker on a stats socket), 3 cannot connect, 4 timeout, 5 bad
reply; see sockctl --help."
);

const STAT_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy stat --backend be_app --type server
  sockctl haproxy stat -s /run/haproxy/admin.sock --json | jq '.rows[] | {svname, status}'
  sockctl haproxy stat --sockets-file lbs.txt --columns pxname,svname,status,scur

Rows are keyed by the header HAProxy sent, so every version works; numbers are numbers and
empty fields null. Default table columns: pxname, svname, status, weight, scur, smax,
check_status, lastchg.",
    many_help!()
);

const INFO_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy info
  sockctl haproxy info -s /run/haproxy-master.sock --worker 4242
  sockctl haproxy info --sockets-file lbs.txt --json | jq 'map_values(.result.CurrConns)'",
    many_help!()
);

const SERVERS_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy servers
  sockctl haproxy servers --backend be_app --json | jq '.servers[] | {name, admin_state_name}'
  sockctl haproxy servers -s lb1:9999 -s lb2:9999 --backend be_app --table",
    many_help!()
);

const SEND_HELP: &str = concat!(
    "\
Examples:
  sockctl send /run/haproxy/admin.sock 'show info'
  printf '@1 show info\\n@1 show stat\\n' | sockctl send /run/haproxy-master.sock -
  sockctl send -s lb1:9999 -s lb2:9999 --json 'show info'

With -s or --sockets-file, every argument is a COMMAND.",
    many_help!(),
    "

Addresses:
  /path/to.sock, ./rel.sock, unix:PATH, unix@PATH   Unix socket file (any path length)
  abns@NAME                                         abstract socket, NUL-padded as HAProxy binds it
  @NAME, abstract:NAME, abnsz@NAME                  abstract socket, the name exactly
  HOST:PORT, [V6]:PORT, tcp:HOST:PORT               TCP (every resolved address is tried)
  ipv4@HOST:PORT, ipv6@HOST:PORT                    TCP, one address family only

",
    exit_codes_help!()
);

#[derive(Args)]
pub struct ExchangeArgs {
    /// Limit for the whole exchange, connect included (0 = none)
    #[arg(long, value_name = "DUR", default_value = "10s")]
    pub timeout: HumanDuration,

    /// Limit for connecting (0 = none)
    #[arg(long, value_name = "DUR", default_value = "3s")]
    pub connect_timeout: HumanDuration,

    /// Fail if no reply byte arrives for this long
    #[arg(long, value_name = "DUR")]
    pub idle_timeout: Option<HumanDuration>,

    /// Fail (exit 5) if a reply is larger than this (e.g. 64KiB, 1GiB; 0 = none) [default:
    /// none where replies stream (send to one socket), 64MiB where a reply is held (exec,
    /// --batch, send --json: per socket), 512MiB for the views that parse it, 16MiB for
    /// `show proc`]
    #[arg(long, value_name = "SIZE")]
    pub max_bytes: Option<ByteSize>,
}

#[derive(Args)]
pub struct SendArgs {
    /// The socket (see Addresses below); with -s or --sockets-file, a COMMAND
    #[arg(value_name = "ADDR", required_unless_present_any = ["sockets", "sockets_file"])]
    pub address: Option<OsString>,

    /// Commands, one exchange each, in order; none or "-" reads them from stdin, one per line
    /// (blank lines and # comments skipped)
    #[arg(value_name = "COMMAND")]
    pub commands: Vec<OsString>,

    #[command(flatten)]
    pub targets: TargetArgs,

    /// Print one JSON object keyed by address: each socket's exit code, errors and replies
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub exchange: ExchangeArgs,

    /// Write the replies to FILE, replaced atomically and only if every exchange succeeded
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Go on with the next command after a failure (exit with the highest failure code)
    #[arg(long)]
    pub keep_going: bool,
}

/// Parses the command line. Building clap's definitions of every subcommand, with all their
/// help texts, was most of the work of a one-shot `sockctl send`; only the subcommand named
/// on the command line is built, unless help, the version or something unknown is asked for,
/// which gets the whole tree so that those messages stay complete.
pub fn parse() -> Cli {
    let args: Vec<OsString> = std::env::args_os().collect();
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
        eprintln!("sockctl: {}", line.strip_prefix("error: ").unwrap_or(line));
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
