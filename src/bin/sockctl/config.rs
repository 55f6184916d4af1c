//! The run's settings, decided once: what the command line asked for, in the terms the
//! commands work with, and what the terminal is. Nothing below `main` asks clap or the
//! terminal again.

use std::io::IsTerminal;
use std::sync::OnceLock;

use sockctl::Exchange;
use sockctl::units::ByteSize;

use sockctl::service::{Profile, Proto, Secret};

use crate::cli::{ExchangeArgs, Global, ProtoArgs};
use crate::exit::UsageError;

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

impl ProtoArgs {
    /// The service profile the options describe, with its secret; `None` for HAProxy's
    /// socket without options (the default: `send`'s half-close and EOF, the shell's prompt
    /// mode).
    pub fn profile(&self) -> Result<Option<(Profile, Option<Secret>)>, UsageError> {
        let options_given = self.ends_with.is_some()
            || self.greeting.is_some()
            || !self.say.is_empty()
            || self.prefix.is_some()
            || self.crlf
            || self.end_input.is_some()
            || self.listen
            || self.fails_on.is_some();
        let proto = match (self.proto, options_given) {
            (None | Some(Proto::Haproxy), false) => return Ok(None),
            (Some(Proto::Haproxy), true) => {
                return Err(UsageError(
                    "--ends-with, --greeting, --say, --prefix, --crlf, --end-input, --listen and \
                     --fails-on describe another protocol than HAProxy's: use them without \
                     --proto haproxy"
                        .into(),
                ));
            }
            (None, true) => Proto::Line,
            (Some(proto), _) => proto,
        };
        let secret = self.secret()?;
        let mut profile = Profile::of(proto, secret.as_ref());
        if let Some(pattern) = &self.ends_with {
            profile.ends_with = Some(pattern.clone());
        }
        if let Some(pattern) = &self.greeting {
            profile.greeting = Some(pattern.clone());
        }
        profile
            .preamble
            .extend(self.say.iter().map(|line| line.as_bytes().to_vec()));
        if let Some(prefix) = &self.prefix {
            profile.prefix = prefix.as_bytes().to_vec();
        }
        profile.crlf |= self.crlf;
        if let Some(bytes) = &self.end_input {
            profile.end_input =
                unescape(bytes).map_err(|e| UsageError(format!("--end-input: {e}")))?;
        }
        profile.send_nothing |= self.listen;
        if let Some(pattern) = &self.fails_on {
            profile.fails_on = Some(pattern.clone());
        }
        Ok(Some((profile, secret)))
    }

    /// The password from --password-file or $SOCKCTL_PASSWORD, or tor's cookie.
    fn secret(&self) -> Result<Option<Secret>, UsageError> {
        if let Some(path) = &self.cookie_file {
            let cookie = std::fs::read(path)
                .map_err(|e| UsageError(format!("--cookie-file {}: {e}", path.display())))?;
            return Ok(Some(Secret::Cookie(cookie)));
        }
        if let Some(path) = &self.password_file {
            let text = std::fs::read(path)
                .map_err(|e| UsageError(format!("--password-file {}: {e}", path.display())))?;
            let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
            let first = first.strip_suffix(b"\r").unwrap_or(first);
            return Ok(Some(Secret::Password(first.to_vec())));
        }
        Ok(std::env::var_os("SOCKCTL_PASSWORD")
            .map(|p| Secret::Password(std::os::unix::ffi::OsStrExt::as_bytes(&*p).to_vec())))
    }
}

/// `\n`, `\r`, `\t`, `\\` and `\xNN` in an option's bytes.
fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b't') => out.push(b'\t'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex: Vec<u8> = bytes.by_ref().take(2).collect();
                let value = std::str::from_utf8(&hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .filter(|_| hex.len() == 2)
                    .ok_or("\\x takes two hex digits")?;
                out.push(value);
            }
            _ => return Err("unknown escape (\\n, \\r, \\t, \\\\, \\xNN)".into()),
        }
    }
    Ok(out)
}
