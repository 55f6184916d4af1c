//! The run's settings, decided once: what the command line asked for, in the terms the
//! commands work with, and what the terminal is. Nothing below `main` asks clap or the
//! terminal again.

use std::io::IsTerminal;
use std::sync::OnceLock;

use sockctl::Exchange;
use sockctl::units::ByteSize;

use crate::cli::{ExchangeArgs, Global};

/// What every command takes.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// `-v`: what happened on each connection, on stderr.
    pub verbose: bool,
    pub terminal: Terminal,
}

impl Config {
    pub fn new(global: &Global) -> Config {
        Config {
            verbose: global.verbose,
            terminal: Terminal::get(),
        }
    }
}

/// Which standard streams are a terminal: a person reads (or types) there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terminal {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

impl Terminal {
    /// Asked of the system once per run; every part of the program gets the same answer.
    pub fn get() -> Terminal {
        static TERMINAL: OnceLock<Terminal> = OnceLock::new();
        *TERMINAL.get_or_init(|| Terminal {
            stdin: std::io::stdin().is_terminal(),
            stdout: std::io::stdout().is_terminal(),
            stderr: std::io::stderr().is_terminal(),
        })
    }
}

/// How replies are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    /// One JSON document.
    pub json: bool,
    /// The bytes as they came, also on a terminal.
    pub raw: bool,
    /// Control characters shown escaped: on a terminal, unless raw or JSON.
    pub escape: bool,
}

impl Output {
    pub fn new(json: bool, raw: bool, terminal: Terminal) -> Output {
        Output {
            json,
            raw,
            escape: !raw && !json && terminal.stdout,
        }
    }
}

/// The default `--max-bytes` where a reply is held in memory to be judged or embedded: `exec`
/// (also `--batch` and through the master), `shell`, `send --json`.
pub const HELD_REPLY_LIMIT: u64 = sockctl::haproxy::session::DEFAULT_MAX_REPLY;

/// The default `--max-bytes` of the views that parse a whole reply (`stat`, `info`,
/// `servers`): 512 MiB, above the `show stat` of a million servers (about 270 MB from 2.6,
/// 350 MB from 3.x).
pub const VIEW_REPLY_LIMIT: u64 = 512 << 20;

impl ExchangeArgs {
    /// `--max-bytes`, else `default` (`None`: no limit); `--max-bytes 0` is no limit.
    pub fn max_bytes(&self, default: Option<u64>) -> Option<u64> {
        match self.max_bytes {
            Some(ByteSize(0)) => None,
            Some(ByteSize(limit)) => Some(limit),
            None => default,
        }
    }

    /// The exchange for a reply that streams to its sink: no size limit unless asked for.
    pub fn streaming(&self) -> Exchange {
        self.holding(None)
    }

    /// The exchange for a reply held in memory: `--max-bytes`, else `default`.
    pub fn holding(&self, default: Option<u64>) -> Exchange {
        Exchange::new()
            .timeout(self.timeout.limit())
            .connect_timeout(self.connect_timeout.limit())
            .idle_timeout(self.idle_timeout.and_then(|d| d.limit()))
            .max_bytes(self.max_bytes(default))
    }
}
