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
    version,
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
connection, and the exit code is the first failed command's (see sockctl --help).";

#[derive(Args)]
pub struct ShellArgs {
    /// The socket (same forms as for send)
    #[arg(value_name = "ADDR")]
    pub address: Address,

    /// Line-oriented raw session: no HAProxy framing, bytes shown unescaped
    #[arg(long)]
    pub raw: bool,

    /// Limit for each reply (0 = none)
    #[arg(long, value_name = "DUR", default_value = "30s")]
    pub timeout: HumanDuration,

    /// Limit for connecting and reconnecting (0 = none)
    #[arg(long, value_name = "DUR", default_value = "3s")]
    pub connect_timeout: HumanDuration,

    /// Neither read nor write the history file
    #[arg(long)]
    pub no_history: bool,
}

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
