//! The options of every command, as clap sees them. Turned into a runtime configuration by
//! the command modules (see `config`); the help texts are in `help`.

use std::ffi::OsString;
use std::path::PathBuf;

use regex_lite::Regex;
use sockctl::haproxy::operate::ServerName;
use sockctl::service::Proto;

use super::help::*;

use clap::{Args, Parser, Subcommand};
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
    Send(Box<SendArgs>),

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

/// A proxy name that goes into an HAProxy command as one argument, checked before anything
/// is sent, the same way for every command.
fn proxy_name(name: &str) -> Result<String, sockctl::haproxy::BadName> {
    sockctl::haproxy::check_name(name).map(str::to_string)
}

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

    /// Fail (exit 5) if a reply is larger than this (0 = none). Default: none for HAProxy and
    /// --raw, whose replies are shown as they come; 64MiB for --proto, where each reply is held
    /// to its end
    #[arg(long, value_name = "SIZE")]
    pub max_bytes: Option<ByteSize>,

    /// Neither read nor write the history file
    #[arg(long)]
    pub no_history: bool,

    #[command(flatten)]
    pub proto: ProtoArgs,
}

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

    /// `show map`: the maps, or the entries of one (MAP: its file or #ID)
    #[command(after_help = MAP_HELP)]
    Map(PatternArgs),

    /// `show acl`: the ACLs, or the entries of one (ACL: its file or #ID)
    #[command(after_help = ACL_HELP)]
    Acl(PatternArgs),

    /// `show table`: the stick tables, or the entries of one with typed data
    #[command(after_help = TABLE_HELP)]
    Table(TableArgs),

    /// `show sess`: one record per stream
    #[command(after_help = SESS_HELP)]
    Sess(SessArgs),

    /// `show ssl cert`: the certificate files, or the details of one
    #[command(after_help = CERT_HELP)]
    Cert(CertArgs),

    /// A live view of frontends, backends and servers, with keys to drain, ready, maint or
    /// weight the selected server
    #[command(after_help = TOP_HELP)]
    Top(TopArgs),

    /// Drain a server by name, in every backend that has it (or be/name for one)
    #[command(after_help = OPERATE_HELP)]
    Drain(OperateArgs),

    /// Put a server by name in maintenance, in every backend that has it (or be/name)
    #[command(after_help = OPERATE_HELP)]
    Maint(OperateArgs),

    /// Make a server by name ready again, in every backend that has it (or be/name)
    #[command(after_help = OPERATE_HELP)]
    Ready(OperateArgs),

    /// Set a server's weight by name, in every backend that has it (or be/name)
    #[command(after_help = OPERATE_HELP)]
    Weight(WeightArgs),

    /// Add a server at runtime: BACKEND/NAME ADDRESS [KEYWORD…] (it does not survive a reload
    /// unless it is also in the configuration)
    #[command(after_help = ADD_DEL_HELP)]
    Add(AddArgs),

    /// Delete a server safely: maintenance, wait until no session is left, then delete
    #[command(after_help = ADD_DEL_HELP)]
    Del(DelArgs),
}

/// What `add` takes.
#[derive(Args)]
pub struct AddArgs {
    /// The new server, BACKEND/NAME
    #[arg(value_name = "BACKEND/NAME")]
    pub server: ServerName,

    /// Its address, as in the configuration (`10.0.0.5:8080`, `unix@/run/app.sock`)
    #[arg(value_name = "ADDRESS")]
    pub address: String,

    /// Server keywords as in the configuration (`check`, `weight 10`, `backup`, …); give
    /// sockctl's own options before the server
    #[arg(
        value_name = "KEYWORD",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub keywords: Vec<String>,

    /// Make it ready once added (HAProxy adds a server in maintenance)
    #[arg(long)]
    pub ready: bool,

    #[command(flatten)]
    pub socket: SocketsArgs,

    #[command(flatten)]
    pub exchange: ExchangeArgs,
}

/// What `del` takes.
#[derive(Args)]
pub struct DelArgs {
    /// The server: NAME in every backend that has it, or BACKEND/NAME
    #[arg(value_name = "SERVER")]
    pub server: ServerName,

    /// Give up waiting for its sessions to end after this long (exit 4; the server stays, in
    /// maintenance)
    #[arg(long, value_name = "DUR", default_value = "5m")]
    pub wait_timeout: HumanDuration,

    /// Shut down the sessions still on it at the timeout, then delete it
    #[arg(long)]
    pub shutdown_sessions: bool,

    #[command(flatten)]
    pub socket: SocketsArgs,

    #[command(flatten)]
    pub exchange: ExchangeArgs,
}

/// What `top` takes.
#[derive(Args)]
pub struct TopArgs {
    #[command(flatten)]
    pub socket: SocketsArgs,

    #[command(flatten)]
    pub route: ViewRouteArgs,

    /// Time between refreshes
    #[arg(short = 'd', long, value_name = "DUR", default_value = "2s")]
    pub interval: HumanDuration,

    /// Stop after this many refreshes
    #[arg(short = 'n', long, value_name = "N")]
    pub count: Option<u64>,

    /// Show only the lines whose BACKEND/NAME or status holds TEXT (ignoring case)
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub filter: String,

    /// One plain table per refresh, also on a terminal (the default when stdout is not one)
    #[arg(long)]
    pub plain: bool,

    #[command(flatten)]
    pub exchange: ExchangeArgs,
}

/// What `drain`, `maint` and `ready` take.
#[derive(Args)]
pub struct OperateArgs {
    /// The server: NAME in every backend that has a server of that name, or BACKEND/NAME
    #[arg(value_name = "SERVER")]
    pub server: ServerName,

    /// Wait until it is done: no session left on a drained or maintained server (nothing
    /// queued either); a ready server up per its health check (at once without a check)
    #[arg(long)]
    pub wait: bool,

    /// Give up waiting after this long (exit 4, with what is left)
    #[arg(long, value_name = "DUR", default_value = "5m", requires = "wait")]
    pub wait_timeout: HumanDuration,

    /// After a drain has completed, put the server in maintenance
    #[arg(long, value_name = "STATE", value_parser = ["maint"], requires = "wait")]
    pub then: Option<String>,

    /// After the wait (done or timed out), shut down the sessions still on the server
    #[arg(long, requires = "wait")]
    pub shutdown_sessions: bool,

    /// Change nothing: read each server's state and say what the command would change
    #[arg(long)]
    pub dry_run: bool,

    /// Print one JSON object keyed by address: each socket's exit code, errors, and each
    /// server's state before and after
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub socket: SocketsArgs,

    /// On a master socket: `current` worker (the default), a worker's PID, or `all` current
    /// and old workers
    #[arg(long, value_name = "WHICH")]
    pub worker: Option<WorkerChoice>,

    #[command(flatten)]
    pub exchange: ExchangeArgs,
}

/// What `weight` takes.
#[derive(Args)]
pub struct WeightArgs {
    /// The server: NAME in every backend that has it, or BACKEND/NAME
    #[arg(value_name = "SERVER")]
    pub server: ServerName,

    /// The weight (0 to 256)
    #[arg(value_name = "WEIGHT", value_parser = clap::value_parser!(u32).range(0..=256))]
    pub weight: u32,

    /// Change nothing: read each server's weight and say what the command would change
    #[arg(long)]
    pub dry_run: bool,

    /// Print one JSON object keyed by address: each socket's exit code, errors, and each
    /// server's state before and after
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub socket: SocketsArgs,

    /// On a master socket: `current` worker (the default), a worker's PID, or `all`
    #[arg(long, value_name = "WHICH")]
    pub worker: Option<WorkerChoice>,

    #[command(flatten)]
    pub exchange: ExchangeArgs,
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
    #[arg(long, value_name = "NAME", value_parser = proxy_name)]
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

    /// Only check the configuration with the running master's own binary (`haproxy -c`):
    /// exit 0 if it loads, 1 with HAProxy's lines if not; no reload, nothing saved
    #[arg(long, conflicts_with_all = ["save_state", "no_check"])]
    pub check_only: bool,

    /// Print the outcome as one JSON object
    #[arg(long)]
    pub json: bool,

    /// Do not check the configuration with the running master's own binary (`haproxy -c`)
    /// before asking it to reload
    #[arg(long)]
    pub no_check: bool,

    /// Refuse to reload (exit 2, nothing saved or written) when the reload would lose
    /// something: servers added at runtime, map/ACL entries changed at runtime, a port the
    /// state file would restore over the configuration's
    #[arg(long)]
    pub strict: bool,

    /// Before the reload, write the running entries of each map and ACL file that differs
    /// from them into the file (atomically, keeping its comments, owner and mode)
    #[arg(long)]
    pub sync_maps: bool,
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
#[derive(Args, Debug)]
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
    #[arg(long, value_name = "NAME", value_parser = proxy_name)]
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
    #[arg(long, value_name = "NAME", value_parser = proxy_name)]
    pub backend: Option<String>,

    #[command(flatten)]
    pub format: FormatArgs,

    #[command(flatten)]
    pub exchange: ExchangeArgs,
}

/// `map` and `acl`.
#[derive(Args)]
pub struct PatternArgs {
    #[command(flatten)]
    pub socket: SocketsArgs,

    #[command(flatten)]
    pub route: ViewRouteArgs,

    /// The file name as HAProxy loaded it, or #ID from the list; without it, the list
    #[arg(value_name = "NAME", value_parser = proxy_name)]
    pub name: Option<String>,

    #[command(flatten)]
    pub format: FormatArgs,

    #[command(flatten)]
    pub exchange: ExchangeArgs,
}

#[derive(Args)]
pub struct TableArgs {
    #[command(flatten)]
    pub socket: SocketsArgs,

    #[command(flatten)]
    pub route: ViewRouteArgs,

    /// The stick table (its proxy's name); without it, the list of tables
    #[arg(value_name = "TABLE", value_parser = proxy_name)]
    pub name: Option<String>,

    /// Only entries whose stored data matches: 'data.TYPE OP VALUE', OP one of eq ne le ge lt
    /// gt, VALUE a whole number (repeat for all of up to 4; applied by HAProxy)
    #[arg(long = "filter", value_name = "FILTER", requires = "name")]
    pub filters: Vec<sockctl::haproxy::table::Filter>,

    #[command(flatten)]
    pub format: FormatArgs,

    #[command(flatten)]
    pub exchange: ExchangeArgs,
}

#[derive(Args)]
pub struct SessArgs {
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
pub struct CertArgs {
    #[command(flatten)]
    pub socket: SocketsArgs,

    #[command(flatten)]
    pub route: ViewRouteArgs,

    /// The certificate file as HAProxy loaded it (*NAME: its uncommitted transaction);
    /// without it, the list
    #[arg(value_name = "NAME", value_parser = proxy_name)]
    pub name: Option<String>,

    #[command(flatten)]
    pub format: FormatArgs,

    #[command(flatten)]
    pub exchange: ExchangeArgs,
}

#[derive(Args, Debug)]
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
    /// none where replies stream (send, exec and --batch with text output), 64MiB where a
    /// reply is held whole (exec --json, send --json: per socket), 512MiB for the views that
    /// parse it, 16MiB for `show proc`]
    #[arg(long, value_name = "SIZE")]
    pub max_bytes: Option<ByteSize>,
}

/// Which protocol the socket speaks, declared once for `send` and `shell`.
#[derive(Args, Clone, Debug, Default)]
pub struct ProtoArgs {
    /// The service behind the socket: haproxy (the default), bird, tor, openvpn, memcached,
    /// unbound, kea, redis, collectd, dovecot, uwsgi (see docs/services.md)
    #[arg(long, value_name = "NAME")]
    pub proto: Option<Proto>,

    /// A reply ends at the first line matching REGEX (no half-close before it), e.g. '^END$'
    #[arg(long, value_name = "REGEX", value_parser = regex)]
    pub ends_with: Option<Regex>,

    /// Read the server's greeting first, up to a line matching REGEX
    #[arg(long, value_name = "REGEX", value_parser = regex)]
    pub greeting: Option<Regex>,

    /// Send LINE first on every connection (repeatable); secrets go in --password-file
    #[arg(long = "say", value_name = "LINE")]
    pub say: Vec<String>,

    /// Put TEXT in front of every command (unbound's is 'UBCT1 ')
    #[arg(long, value_name = "TEXT")]
    pub prefix: Option<String>,

    /// End each line with CR LF instead of LF
    #[arg(long)]
    pub crlf: bool,

    /// Send BYTES after each command, before the half-close (\n, \r, \t, \xNN escapes)
    #[arg(long, value_name = "BYTES")]
    pub end_input: Option<String>,

    /// Send nothing: read what the server writes when a client connects
    #[arg(long)]
    pub listen: bool,

    /// A reply line matching REGEX makes the command fail (exit 1)
    #[arg(long, value_name = "REGEX", value_parser = regex)]
    pub fails_on: Option<Regex>,

    /// The password (tor, redis, openvpn): the first line of FILE [env: SOCKCTL_PASSWORD]
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// tor: authenticate with the control cookie in FILE
    #[arg(long, value_name = "FILE", conflicts_with = "password_file")]
    pub cookie_file: Option<PathBuf>,
}

fn regex(text: &str) -> Result<Regex, String> {
    Regex::new(text).map_err(|e| e.to_string())
}

#[derive(Args, Debug)]
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

    #[command(flatten)]
    pub proto: ProtoArgs,

    /// Write the replies to FILE, replaced atomically and only if every exchange succeeded
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Go on with the next command after a failure (exit with the highest failure code)
    #[arg(long)]
    pub keep_going: bool,
}
