//! `sockctl shell`: an interactive session on an admin socket.
//!
//! On an HAProxy stats socket or master CLI the session runs in prompt mode and every reply is
//! framed by HAProxy's own prompt ([`sockctl::haproxy::session`]); any other socket gets a
//! line-oriented raw session ([`raw`]). With standard input not a terminal, commands are read
//! from it and run one after the other over the same connection ([`batch`]).

mod completion;
mod history;
mod piped;
mod raw;
mod service;

use std::collections::VecDeque;
use std::io::{self};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Editor};
use sockctl::client::Flow;
use sockctl::error::ExchangeError;
use sockctl::haproxy::command::{
    Refusal, has_payload_pattern, is_payload_command, payload_pattern,
};
use sockctl::haproxy::framing::{Flavor, Target};
use sockctl::haproxy::session::{Closed, OpenError, Options, Reconnected, Reply, Session};
use sockctl::units::ByteSize;
use sockctl::{Address, Command};

use crate::cli::ShellArgs;
use crate::config::{Config, Terminal};
pub use crate::messages::note;
use sockctl::haproxy::discover::{self, Want};

use crate::exit::Code;
use crate::signals;

use completion::{Commands, ShellHelper, Vocabulary};

/// What the shell works with, decided once from the command line.
#[derive(Debug)]
pub struct Settings {
    pub address: Address,
    /// `--raw`: lines as typed, bytes as they come, no HAProxy detection.
    pub raw: bool,
    /// Limit for each reply.
    pub timeout: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub max_bytes: Option<u64>,
    pub history: bool,
    pub terminal: Terminal,
    /// Another service's protocol (`--proto`, the line options).
    pub service: Option<(sockctl::service::Profile, Option<sockctl::service::Secret>)>,
}

impl Settings {
    /// The settings of `args`; without an address, the socket discovery finds.
    fn new(args: ShellArgs, config: &Config) -> anyhow::Result<Settings> {
        let address = match args.address {
            Some(address) => address,
            None => {
                let path = args.config.path.as_deref();
                let path = path.unwrap_or(std::path::Path::new(discover::DEFAULT_CONFIG));
                let (address, source) = discover::find_socket(path, Want::Any)?;
                note(format!("using {address} from {source}"));
                address
            }
        };
        let service = args.proto.profile()?;
        // HAProxy's replies pass as they come; another service's are held to their end.
        let held = service.is_some();
        Ok(Settings {
            address,
            raw: args.raw,
            timeout: args.timeout.limit(),
            connect_timeout: args.connect_timeout.limit(),
            max_bytes: match args.max_bytes {
                Some(ByteSize(0)) => None,
                Some(ByteSize(limit)) => Some(limit),
                None => held.then_some(crate::config::HELD_REPLY_LIMIT),
            },
            history: !args.no_history,
            terminal: config.terminal,
            service,
        })
    }

    /// The deadline for one reply.
    pub fn deadline(&self) -> Option<Instant> {
        self.timeout.map(|t| Instant::now() + t)
    }

    pub fn session_options(&self) -> Options {
        Options {
            connect_timeout: self.connect_timeout,
            max_bytes: self.max_bytes,
            ..Options::default()
        }
    }
}

pub fn run(args: ShellArgs, config: &Config) -> anyhow::Result<Code> {
    let args = Settings::new(args, config)?;
    if let Some((profile, secret)) = args.service.clone() {
        if !args.terminal.stdin {
            return service::piped(&args, profile, secret);
        }
        signals::keep_handling_interrupts();
        signals::end_shell_on_termination();
        return service::interactive(&args, profile, secret);
    }
    if !args.terminal.stdin {
        return piped::run(&args);
    }
    // Ctrl-C abandons the wait for one reply; it must not end the shell. SIGTERM and SIGHUP
    // do, with the terminal restored.
    signals::keep_handling_interrupts();
    signals::end_shell_on_termination();
    if args.raw {
        let stream = sockctl::connect::connect(&args.address, args.connect_timeout)
            .with_context(|| args.address.to_string())?;
        return raw::interactive(&args, stream, Vec::new(), false);
    }
    // Before HAProxy's `prompt` probe, which another service could misread (OpenVPN takes it
    // for a password), a moment's silence: services that greet are known by their greeting.
    match greeting(&args)? {
        Greeting::Silent => {}
        Greeting::Of(proto) => {
            note(format!(
                "{}: a {proto} greeting; {proto} session",
                args.address
            ));
            let profile = sockctl::service::Profile::of(proto, None);
            return service::interactive(&args, profile, None);
        }
        Greeting::Other(stream, received) => {
            note(format!(
                "{}: not an HAProxy CLI (it spoke first); raw session (lines are sent as typed)",
                args.address
            ));
            return raw::interactive(&args, stream, received, true);
        }
    }
    match Session::open(&args.address, args.session_options()) {
        Ok(session) => Interactive::new(&args, session)?.run(),
        Err(OpenError::NotHaproxy { received, stream }) => {
            note(format!(
                "{}: not an HAProxy CLI; raw session (lines are sent as typed). For another \
                 service's protocol give --proto NAME (bird, tor, openvpn, memcached, unbound, \
                 kea, redis, collectd, dovecot, uwsgi)",
                args.address
            ));
            match stream {
                Some(stream) => raw::interactive(&args, stream, received, true),
                None => {
                    print_reply(&received, true)?;
                    note("connection closed by the server");
                    Ok(Code::Ok)
                }
            }
        }
        Err(OpenError::Connect(e)) => Err(anyhow::Error::new(e).context(args.address.to_string())),
        Err(OpenError::Interrupted) => Ok(Code::Interrupted),
        Err(e) => Err(anyhow::Error::new(e).context(args.address.to_string())),
    }
}

/// What a socket says before it is asked anything.
enum Greeting {
    /// Nothing: HAProxy, and the services that wait for a command.
    Silent,
    /// The greeting of a service sockctl knows.
    Of(sockctl::service::Proto),
    /// Something else, and the connection it came on.
    Other(sockctl::stream::Stream, Vec<u8>),
}

/// How long a socket may stay silent before it is taken for one that waits for a command.
const GREETING_WAIT: Duration = Duration::from_millis(150);

fn greeting(args: &Settings) -> anyhow::Result<Greeting> {
    use sockctl::service::Proto;
    let stream = sockctl::connect::connect(&args.address, args.connect_timeout)
        .with_context(|| args.address.to_string())?;
    let mut buf = [0u8; 512];
    let received = match stream.read_some(&mut buf, Some(Instant::now() + GREETING_WAIT)) {
        Ok(n) => buf[..n].to_vec(),
        Err(sockctl::stream::IoFailure::TimedOut) => return Ok(Greeting::Silent),
        Err(sockctl::stream::IoFailure::Interrupted) => {
            return Err(crate::exit::Reported(Code::Interrupted).into());
        }
        Err(_) => return Ok(Greeting::Silent),
    };
    if received.starts_with(b"ENTER PASSWORD:") {
        return Err(crate::exit::UsageError(format!(
            "{}: OpenVPN asks for its management password: run with --proto openvpn \
             --password-file FILE",
            args.address
        ))
        .into());
    }
    let known = if received.starts_with(b"0001 BIRD") {
        Some(Proto::Bird)
    } else if received.starts_with(b">INFO:OpenVPN") {
        Some(Proto::Openvpn)
    } else if received.starts_with(b"{") {
        Some(Proto::Uwsgi)
    } else {
        None
    };
    Ok(match known {
        // The service gets a connection of its own: OpenVPN serves one client at a time.
        Some(proto) => Greeting::Of(proto),
        None if received.is_empty() => Greeting::Silent,
        None => Greeting::Other(stream, received),
    })
}

/// What a reconnect did, in one line.
pub fn describe(again: &Reconnected) -> String {
    let mut text = format!("reconnected ({})", again.reason);
    if !again.restored.is_empty() {
        text.push_str(&format!("; restored {}", again.restored.join(", ")));
    }
    if let Some(target) = &again.dropped_target {
        text.push_str(&format!("; {target} is gone, back on the master"));
    }
    text
}

/// Prints a reply for a person: without HAProxy's terminating empty line, escaped unless raw.
pub fn print_reply(body: &[u8], escape: bool) -> io::Result<()> {
    let shown = match body {
        b"\n" => &b""[..],
        _ if body.ends_with(b"\n\n") => &body[..body.len() - 1],
        _ => body,
    };
    crate::sanitize::print(shown, escape)
}

/// A reply shown as it comes: what [`print_reply`] shows of the whole, printed in parts.
#[derive(Default)]
struct Shown {
    /// Not shown yet: at least the last byte, which the end decides about, and a cut
    /// character.
    held: Vec<u8>,
    /// The last byte shown, if any was.
    last_shown: Option<u8>,
}

impl Shown {
    fn part(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.held.extend_from_slice(bytes);
        let keep_last = self.held.len().saturating_sub(1);
        let cut = crate::sanitize::whole_characters(&self.held[..keep_last]);
        if cut == 0 {
            return Ok(());
        }
        crate::sanitize::print(&self.held[..cut], true)?;
        self.last_shown = Some(self.held[cut - 1]);
        self.held.drain(..cut);
        Ok(())
    }

    /// The rest of the reply, after its last part.
    fn rest(&mut self, body: &[u8]) -> io::Result<()> {
        let Some(last) = self.last_shown else {
            return print_reply(body, true);
        };
        let mut tail = std::mem::take(&mut self.held);
        tail.extend_from_slice(body);
        // HAProxy's terminating empty line is not shown (see `print_reply`).
        let ends_blank = tail.ends_with(b"\n\n") || (tail == b"\n" && last == b'\n');
        if ends_blank {
            tail.pop();
        }
        crate::sanitize::print(&tail, true)
    }
}

/// What to say after a 2.6 master answered its own error and closed the connection.
fn master_error_note(received: &[u8]) -> String {
    if received.starts_with(b"Can't find the target PID") {
        "no such process: the master has no worker of that PID or relative number (see 'show \
         proc'); the next command reconnects"
            .into()
    } else {
        "the master closed the connection after its error; the next command reconnects".into()
    }
}

/// A 3.x master reports a failed reload as `Success=0`.
pub fn reload_failed(reply: &Reply) -> bool {
    reply.closed == Some(Closed::Reload) && reply.body.starts_with(b"Success=0")
}

/// The interactive HAProxy session.
struct Interactive<'a> {
    args: &'a Settings,
    session: Session,
    editor: Editor<ShellHelper, FileHistory>,
    history: Option<PathBuf>,
    /// Lines of a multi-line paste not run yet.
    pasted: VecDeque<String>,
}

impl<'a> Interactive<'a> {
    fn new(args: &'a Settings, session: Session) -> anyhow::Result<Self> {
        let config = rustyline::Config::builder()
            .auto_add_history(false)
            .max_history_size(1000)?
            .history_ignore_dups(true)?
            .completion_type(CompletionType::List)
            .build();
        let mut editor = Editor::with_config(config)?;
        let history = if !args.history {
            None
        } else {
            history::path(&args.address)
        };
        if let Some(path) = &history {
            // A missing file is the first session on this socket.
            let _ = editor.load_history(path);
        }
        let mut shell = Interactive {
            args,
            session,
            editor,
            history,
            pasted: VecDeque::new(),
        };
        let vocabulary = shell.learn();
        shell.editor.set_helper(Some(ShellHelper { vocabulary }));
        Ok(shell)
    }

    /// Asks the server for its commands and its backend and server names. Failures only mean
    /// less completion.
    fn learn(&mut self) -> Vocabulary {
        let mut vocabulary = Vocabulary::default();
        let ask = |session: &mut Session, text: &str| {
            let command = Command::new(text).ok()?;
            let deadline = Some(Instant::now() + Duration::from_secs(5));
            session.run(&command, deadline).ok().map(|r| r.body)
        };
        if let Some(help) = ask(&mut self.session, "help") {
            vocabulary.own = Commands::from_help(&help);
        }
        let servers = match self.session.flavor() {
            Flavor::Stats => ask(&mut self.session, "show servers state"),
            Flavor::Master => {
                if let Some(help) = ask(&mut self.session, "@1 help") {
                    vocabulary.worker = Commands::from_help(&help);
                }
                ask(&mut self.session, "@1 show servers state")
            }
        };
        if let Some(servers) = servers {
            vocabulary.learn_servers(&servers);
        }
        vocabulary
    }

    /// `admin.sock> `, `master> `, `master@1> `.
    fn prompt(&self) -> String {
        match self.session.flavor() {
            Flavor::Stats => {
                let name = match &self.args.address {
                    // On another host: `lb1:admin.sock> `.
                    Address::Ssh { target, remote } => {
                        format!("{}:{}", target.host, short_name(remote))
                    }
                    other => short_name(other),
                };
                format!("{name}> ")
            }
            Flavor::Master => {
                let failed = if self.session.prompt().reload_failed {
                    "[ReloadFailed]"
                } else {
                    ""
                };
                let target = match (&self.session.prompt().target, self.session.target()) {
                    (Target::Worker(_), Some(target)) => target,
                    (Target::Worker(pid), None) => format!("@!{pid}"),
                    _ => String::new(),
                };
                format!("master{failed}{target}> ")
            }
        }
    }

    fn run(mut self) -> anyhow::Result<Code> {
        loop {
            let prompt = self.prompt();
            let on_worker = matches!(self.session.prompt().target, Target::Worker(_));
            if let Some(helper) = self.editor.helper_mut() {
                helper.vocabulary.worker_target = on_worker;
            }
            let line = match self.read_line(&prompt) {
                Ok(line) => line,
                // Ctrl-C at the prompt only clears the line.
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(e.into()),
            };
            let text = line.trim();
            if text.is_empty() {
                continue;
            }
            if matches!(text, "quit" | "exit") {
                break;
            }
            self.remember(text);
            let command = match Command::new(text) {
                Ok(c) => c,
                Err(e) => {
                    crate::messages::say(format_args!("{e}"));
                    continue;
                }
            };
            if has_payload_pattern(command.as_bytes()) {
                // Its payload lines (typed or pasted) must not run as commands either.
                if let Some(pattern) = payload_pattern(command.as_bytes()) {
                    self.skip_payload(&String::from_utf8_lossy(pattern))?;
                }
                crate::messages::say(format_args!("{}", Refusal::PayloadPattern));
                continue;
            }
            let payload = if is_payload_command(command.as_bytes()) {
                match self.read_payload()? {
                    Some(lines) => lines,
                    None => continue,
                }
            } else {
                Vec::new()
            };
            self.one(&command, &payload)?;
        }
        Ok(Code::Ok)
    }

    /// The next line: from a multi-line paste if one is being run, else from the editor.
    fn read_line(&mut self, prompt: &str) -> Result<String, ReadlineError> {
        if let Some(line) = self.pasted.pop_front() {
            println!("{prompt}{line}");
            return Ok(line);
        }
        let text = self.editor.readline(prompt)?;
        if !text.contains('\n') {
            return Ok(text);
        }
        // A paste of several lines runs as if they had been typed one by one.
        self.pasted = text
            .split('\n')
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect();
        Ok(self.pasted.pop_front().unwrap_or_default())
    }

    /// Lines after a command ending in `<<`, up to an empty line; `None` if abandoned (Ctrl-C).
    fn read_payload(&mut self) -> anyhow::Result<Option<Vec<Command>>> {
        let mut lines = Vec::new();
        loop {
            match self.read_line("+ ") {
                Ok(line) if line.is_empty() => return Ok(Some(lines)),
                Ok(line) => match Command::new(line) {
                    Ok(c) => lines.push(c),
                    Err(e) => crate::messages::say(format_args!("{e}")),
                },
                Err(ReadlineError::Interrupted) => {
                    note("payload abandoned");
                    return Ok(None);
                }
                // Ctrl-D ends the payload like an empty line.
                Err(ReadlineError::Eof) => return Ok(Some(lines)),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reads and drops the lines of a refused payload, up to the line `pattern` (or Ctrl-C,
    /// Ctrl-D).
    fn skip_payload(&mut self, pattern: &str) -> anyhow::Result<()> {
        loop {
            match self.read_line("+ ") {
                Ok(line) if line == pattern => return Ok(()),
                Ok(_) => {}
                Err(ReadlineError::Interrupted | ReadlineError::Eof) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn remember(&mut self, text: &str) {
        let _ = self.editor.add_history_entry(text);
        if let Some(path) = &self.history {
            // Saved after every command so that nothing is lost however the shell ends.
            if let Err(e) = history::save(&mut self.editor, path) {
                note(format!("cannot save history to {}: {e}", path.display()));
                self.history = None;
            }
        }
    }

    fn one(&mut self, command: &Command, payload: &[Command]) -> anyhow::Result<()> {
        // A large reply is shown as it comes, not held until its prompt.
        let mut shown = Shown::default();
        let mut written = Ok(());
        let mut part = |bytes: &[u8]| {
            written = shown.part(bytes);
            if written.is_ok() {
                Flow::Continue
            } else {
                Flow::Stop
            }
        };
        let deadline = self.args.deadline();
        let result = self
            .session
            .run_parts(command, payload, deadline, Some(&mut part));
        written?;
        match result {
            Ok(reply) => {
                if let Some(again) = &reply.reconnected {
                    note(describe(again));
                }
                shown.rest(&reply.body)?;
                if reload_failed(&reply) {
                    note("the reload failed (Success=0)");
                }
                match reply.closed {
                    Some(Closed::Reload) => note(
                        "the master closed the connection to reload; the next command reconnects",
                    ),
                    // The 2.6 master answers its own errors (no such process, unknown
                    // command) and closes: the message it sent is the whole story.
                    Some(Closed::AfterError) => note(master_error_note(&reply.body)),
                    None => {}
                }
            }
            // A reply over --max-bytes is not shown: it could be anything, of any size.
            Err(e @ ExchangeError::TooLarge { .. }) => {
                crate::messages::say(format_args!("{}: {e}", self.args.address));
            }
            Err(e) => {
                let received = [&shown.held[..], e.received().bytes()].concat();
                let ends_line = match received.last() {
                    Some(&last) => last == b'\n',
                    None => shown.last_shown.is_none_or(|b| b == b'\n'),
                };
                crate::sanitize::print(&received, true)?;
                if !ends_line {
                    println!();
                }
                match &e {
                    ExchangeError::Interrupted { .. } => {
                        sockctl::interrupt::clear();
                        note("interrupted; the next command reconnects");
                    }
                    ExchangeError::Timeout { .. } => note(format!(
                        "no complete reply within {} (--timeout); the next command reconnects",
                        sockctl::units::format_duration(self.args.timeout.unwrap_or_default())
                    )),
                    _ => crate::messages::say(format_args!("{}: {e}", self.args.address)),
                }
            }
        }
        Ok(())
    }
}

/// A socket file's name, else the whole address. The line editor prints its prompt as it is:
/// no control characters.
fn short_name(address: &Address) -> String {
    match address {
        Address::Unix(path) => path.file_name().map_or_else(
            || address.to_string(),
            |n| crate::sanitize::cell(&n.to_string_lossy()).into_owned(),
        ),
        other => other.to_string(),
    }
}
