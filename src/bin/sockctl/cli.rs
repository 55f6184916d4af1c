//! The command line, as clap sees it. Turned into library calls by the command modules.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use sockctl::Address;
use sockctl::units::{ByteSize, HumanDuration};

use crate::exit::EXIT_CODES_HELP;

#[derive(Parser)]
#[command(
    name = "sockctl",
    version = env!("SOCKCTL_VERSION"),
    about = "Talk to the administrative sockets of Unix services (HAProxy first), correctly",
    long_about = "Talk to the administrative sockets of Unix services (HAProxy first), correctly.\n\n\
        sockctl sends a command, half-closes the connection so the server knows it is complete, \
        and reads until a clean EOF: a short read is never taken for the end of a reply, and a \
        reply that did not complete is an error with its own exit code.",
    after_help = EXIT_CODES_HELP,
)]
pub struct Cli {
    /// Print what happened on each connection to stderr
    #[arg(short, long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Commands,
}

#[derive(Subcommand)]
pub enum Commands {
    /// Send commands to a socket, each on its own connection, and print the replies
    #[command(after_help = SEND_HELP)]
    Send(SendArgs),

    /// HAProxy: save server state, reload through the master CLI, show processes
    #[command(subcommand)]
    Haproxy(HaproxyCommand),
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
}

/// Where to find HAProxy when `-s` is not given.
#[derive(Args)]
pub struct SocketArgs {
    /// The stats socket or master socket; when omitted: $SOCKCTL_SOCKET, else the 'stats
    /// socket' of --config, else the -S socket of the running HAProxy master
    #[arg(short, long = "socket", value_name = "ADDR")]
    pub socket: Option<Address>,

    /// HAProxy configuration to read the stats socket and state file from
    #[arg(long, value_name = "CFG", default_value = "/etc/haproxy/haproxy.cfg")]
    pub config: PathBuf,
}

#[derive(Args)]
pub struct SaveStateArgs {
    #[command(flatten)]
    pub socket: SocketArgs,

    /// State file to write (default: server-state-file of --config, joined to
    /// server-state-base; else haproxy.state beside the socket)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Save only this backend
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

    /// Reload even if saving the state failed
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
    pub socket: SocketArgs,

    /// Print one JSON object
    #[arg(long, conflicts_with = "raw")]
    pub json: bool,

    /// Print HAProxy's reply as it came
    #[arg(long)]
    pub raw: bool,

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
(.NAME.sockctl-lock) keeps two runs apart.";

const RELOAD_HELP: &str = "\
Examples:
  sockctl haproxy reload --save-state
  sockctl haproxy reload -s /run/haproxy-master.sock --json
  sockctl haproxy reload --save-state --state-file /var/lib/haproxy/server-state --timeout 10m

HAProxy 2.7+ answers 'reload' with Success=1/0 and its startup log; 2.6 answers nothing and
is verified by polling 'show proc' until the reload counter moves: a higher failure counter
means the new configuration was rejected, a new worker means it serves.
Exit codes: 0 reloaded, 1 reload failed (old worker still serving) or refused, 3 cannot
connect, 4 no outcome before --timeout, 5 unexpected reply; see sockctl --help.";

const PROC_HELP: &str = "\
Examples:
  sockctl haproxy proc
  sockctl haproxy proc -s /run/haproxy-master.sock --json
  sockctl haproxy proc -s @haproxy-master --raw";

const SEND_HELP: &str = "\
Examples:
  sockctl send /run/haproxy/admin.sock 'show info'
  sockctl send -o servers.state /run/haproxy/admin.sock 'show servers state'
  printf 'show info\\nshow stat\\n' | sockctl send @haproxy-master -

Addresses:
  /path/to.sock, ./rel.sock, unix:PATH, unix@PATH   Unix socket file (any path length)
  @NAME, abstract:NAME, abns@NAME                   Linux abstract socket
  HOST:PORT, [V6]:PORT, tcp:HOST:PORT               TCP (every resolved address is tried)
  ipv4@HOST:PORT, ipv6@HOST:PORT                    TCP, one address family only

Exit codes:
  0    success
  1    the server answered, but the command failed
  2    usage error (bad option, address or command)
  3    cannot connect (missing, refused, permission denied, not a socket, DNS)
  4    timed out before the reply was complete (connect timeout included)
  5    reply invalid or incomplete (reset, too large, failed validation)
  6    cannot write the output (-o FILE or standard output)
  130  interrupted";

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

    /// Fail if a reply is larger than this (e.g. 64KiB, 1GiB)
    #[arg(long, value_name = "SIZE")]
    pub max_bytes: Option<ByteSize>,
}

#[derive(Args)]
pub struct SendArgs {
    /// The socket (see Addresses below)
    #[arg(value_name = "ADDR")]
    pub address: Address,

    /// Commands, one exchange each, in order; none or "-" reads them from stdin, one per line
    /// (blank lines and # comments skipped)
    #[arg(value_name = "COMMAND")]
    pub commands: Vec<OsString>,

    #[command(flatten)]
    pub exchange: ExchangeArgs,

    /// Write the replies to FILE, replaced atomically and only if every exchange succeeded
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Go on with the next command after a failure (exit with the highest failure code)
    #[arg(long)]
    pub keep_going: bool,
}
