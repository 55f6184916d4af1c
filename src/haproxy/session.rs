//! A persistent prompt-mode connection to an HAProxy stats socket or master CLI.
//!
//! [`Session::open`] connects, sends `prompt` and tells from the answer whether the peer is a
//! stats socket (`\n> `), a master CLI (`master> `) or not HAProxy at all. [`Session::run`] then
//! sends one command line and returns its reply, framed by the prompt (see
//! [`framing`](super::framing)), with the prompt removed.
//!
//! The connection does not last for ever: the stats socket closes after its idle timeout, the
//! master closes on `reload` (and, on 2.6, after its own errors), and a reply that did not
//! complete (deadline, Ctrl-C) leaves unread bytes behind. In each case the session drops the
//! connection, and the next command first reconnects, switches prompt mode on again and
//! replays what the user chose for the connection (`operator`/`user`, a bare `@1`), then says
//! so in [`Reply::reconnected`]. A command is never sent twice: when a connection closes after
//! the command went out, that is an error for this command and a reconnect for the next.

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, poll};
use rustix::io::Errno;
use rustix::net::RecvFlags;

use crate::address::Address;
use crate::connect::{ConnectError, connect};
use crate::exchange::Command;
use crate::haproxy::framing::{self, Detected, Flavor, Framed, Framer, Prompt, Target};
use crate::interrupt;
use crate::stream::{IoFailure, Stream};

mod pipeline;

pub use pipeline::{Answer, Broken, Flow, Limits, Request};

/// Limits for opening and reopening a session.
#[derive(Debug, Clone)]
pub struct Options {
    /// Limit for one connection attempt (`None`: the kernel's).
    pub connect_timeout: Option<Duration>,
    /// How long [`Session::open`] waits for the answer to `prompt` before deciding that the
    /// peer is not HAProxy.
    pub detect_timeout: Duration,
    /// How long a reconnect keeps trying while the socket refuses connections: a 2.6 master
    /// re-executing itself for `reload` refuses them for about 50 ms.
    pub reconnect_timeout: Duration,
    /// A reply larger than this many bytes is an error ([`SessionError::TooLarge`]), so that
    /// a peer that never sends a prompt cannot make the session hold more (`None`: no limit).
    pub max_bytes: Option<u64>,
}

/// The default of [`Options::max_bytes`]: 64 MiB, far above any reply a command held in
/// memory gives (views and state dumps, which can be larger, have their own ways).
pub const DEFAULT_MAX_REPLY: u64 = 64 << 20;

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Some(Duration::from_secs(3)),
            detect_timeout: Duration::from_secs(3),
            reconnect_timeout: Duration::from_secs(5),
            max_bytes: Some(DEFAULT_MAX_REPLY),
        }
    }
}

/// Why the previous connection was replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disconnect {
    /// The server had closed it while we were idle (the CLI's idle timeout).
    Idle,
    /// The master closed it after `reload`.
    Reload,
    /// The server closed the connection after the previous command (a 2.6 master does so
    /// after its own error messages).
    Closed,
    /// The previous reply did not complete (deadline, interrupt, reset), so the connection
    /// still carried the rest of it.
    Incomplete,
    /// Bytes arrived that belong to no command we sent.
    Unexpected,
    /// The caller asked for it ([`Session::reconnect`]).
    Requested,
}

impl fmt::Display for Disconnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Disconnect::Idle => "the server closed the idle connection",
            Disconnect::Reload => "the master closed the connection to reload",
            Disconnect::Closed => "the server closed the connection after the last command",
            Disconnect::Incomplete => "the previous reply did not complete",
            Disconnect::Unexpected => "the server sent bytes nobody asked for",
            Disconnect::Requested => "reconnect requested",
        })
    }
}

/// What a reconnect did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconnected {
    pub reason: Disconnect,
    /// Commands replayed after `prompt` to restore the session, in order (`operator`, `@1`).
    pub restored: Vec<String>,
    /// A worker target that no longer exists (e.g. `@!1234` after a reload); the session is
    /// back on the master.
    pub dropped_target: Option<String>,
}

/// A complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply without HAProxy's prompts: the bytes the command returns on a
    /// non-interactive connection. For `a;b`, the replies of `a` and `b` one after the other.
    pub body: Vec<u8>,
    /// The prompt that ended the reply: where the next command goes.
    pub prompt: Prompt,
    /// The connection had to be replaced before the command was sent.
    pub reconnected: Option<Reconnected>,
    /// The server closed the connection after this reply (a master `reload`); the next command
    /// reconnects.
    pub closed: bool,
}

/// Why [`Session::open`] gave no session.
#[derive(Debug)]
pub enum OpenError {
    Connect(ConnectError),
    /// The peer answered `prompt` with something else, closed, or said nothing in time. The
    /// connection is handed back (when still open) with what it sent, for a raw session.
    NotHaproxy {
        received: Vec<u8>,
        stream: Option<Stream>,
    },
    Interrupted,
    Io(io::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Connect(e) => e.fmt(f),
            OpenError::NotHaproxy { received, .. } if received.is_empty() => {
                f.write_str("not an HAProxy CLI (no answer to 'prompt')")
            }
            OpenError::NotHaproxy { received, .. } => write!(
                f,
                "not an HAProxy CLI (it answered 'prompt' with {} bytes)",
                received.len()
            ),
            OpenError::Interrupted => f.write_str("interrupted"),
            OpenError::Io(e) => write!(f, "opening the session: {e}"),
        }
    }
}

impl std::error::Error for OpenError {}

/// Why a command got no complete reply. `received` holds every reply byte that did arrive.
#[derive(Debug)]
pub enum SessionError {
    /// Reconnecting failed.
    Connect(ConnectError),
    /// After a reconnect, the socket no longer answers like the HAProxy CLI it was.
    NotHaproxy {
        received: Vec<u8>,
    },
    /// The deadline passed before the prompt.
    Timeout {
        received: Vec<u8>,
    },
    Interrupted {
        received: Vec<u8>,
    },
    /// The server closed the connection before the prompt (2.6 master errors end this way).
    Closed {
        received: Vec<u8>,
    },
    Reset {
        received: Vec<u8>,
    },
    /// The command is one the session cannot pass on (`prompt`, `quit`).
    Refused {
        why: &'static str,
    },
    /// The reply grew larger than the caller allowed ([`Limits::max_bytes`]).
    TooLarge {
        limit: u64,
        received: Vec<u8>,
    },
    /// A reply came for no command that was sent.
    Unexpected {
        received: Vec<u8>,
    },
    Io {
        source: io::Error,
        received: Vec<u8>,
    },
}

impl SessionError {
    pub fn received(&self) -> &[u8] {
        match self {
            SessionError::Connect(_) | SessionError::Refused { .. } => &[],
            SessionError::NotHaproxy { received }
            | SessionError::Timeout { received }
            | SessionError::Interrupted { received }
            | SessionError::Closed { received }
            | SessionError::Reset { received }
            | SessionError::TooLarge { received, .. }
            | SessionError::Unexpected { received }
            | SessionError::Io { received, .. } => received,
        }
    }

    /// The same error with `before` (complete replies of earlier parts of the line) in front
    /// of the bytes received.
    fn after(mut self, before: &[u8]) -> Self {
        if let SessionError::NotHaproxy { received }
        | SessionError::Timeout { received }
        | SessionError::Interrupted { received }
        | SessionError::Closed { received }
        | SessionError::Reset { received }
        | SessionError::TooLarge { received, .. }
        | SessionError::Unexpected { received }
        | SessionError::Io { received, .. } = &mut self
        {
            received.splice(0..0, before.iter().copied());
        }
        self
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.received().len();
        match self {
            SessionError::Connect(e) => write!(f, "reconnecting: {e}"),
            SessionError::NotHaproxy { .. } => write!(
                f,
                "after reconnecting, the socket no longer answers like an HAProxy CLI \
                 ({n} bytes received)"
            ),
            SessionError::Timeout { .. } => {
                write!(f, "no complete reply in time ({n} bytes received)")
            }
            SessionError::Interrupted { .. } => write!(f, "interrupted ({n} bytes received)"),
            SessionError::Closed { .. } => write!(
                f,
                "the server closed the connection before the end of the reply ({n} bytes \
                 received)"
            ),
            SessionError::Reset { .. } => {
                write!(f, "connection reset by peer ({n} bytes received)")
            }
            SessionError::Refused { why } => f.write_str(why),
            SessionError::TooLarge { limit, .. } => write!(
                f,
                "reply larger than the limit of {limit} bytes ({n} bytes received); raise \
                 --max-bytes"
            ),
            SessionError::Unexpected { .. } => write!(
                f,
                "the server sent a reply to no command ({n} bytes); the replies can no longer \
                 be told apart"
            ),
            SessionError::Io { source, .. } => write!(f, "{source} ({n} bytes received)"),
        }
    }
}

impl std::error::Error for SessionError {}

/// A prompt-mode connection that survives the server closing it between commands.
#[derive(Debug)]
pub struct Session {
    address: Address,
    options: Options,
    flavor: Flavor,
    stream: Option<Stream>,
    framer: Framer,
    prompt: Prompt,
    /// The bare `@…` that made a worker the default target, replayed on reconnect.
    target: Option<Command>,
    /// The level (`operator`, `user`) and modes (`expert-mode on`, …) the user set, in the
    /// order set, at most one of each kind: replayed on reconnect so that a lowered level stays
    /// lowered and a mode stays on.
    access: Vec<Command>,
    /// Settings the caller made with [`Session::run_setting`], replayed on reconnect.
    settings: Vec<Command>,
    /// Why the connection is gone, when it is.
    lost: Option<Disconnect>,
}

impl Session {
    /// Connects and switches the connection to prompt mode.
    pub fn open(address: &Address, options: Options) -> Result<Session, OpenError> {
        let stream = connect(address, options.connect_timeout).map_err(OpenError::Connect)?;
        let deadline = Instant::now() + options.detect_timeout;
        let (flavor, prompt) = match handshake(&stream, deadline) {
            Ok(found) => found,
            Err(Handshake::Other(received)) => {
                return Err(OpenError::NotHaproxy {
                    received,
                    stream: Some(stream),
                });
            }
            Err(Handshake::Closed(received)) => {
                return Err(OpenError::NotHaproxy {
                    received,
                    stream: None,
                });
            }
            Err(Handshake::Failed(IoFailure::TimedOut, received)) => {
                return Err(OpenError::NotHaproxy {
                    received,
                    stream: Some(stream),
                });
            }
            Err(Handshake::Failed(IoFailure::Interrupted, _)) => {
                return Err(OpenError::Interrupted);
            }
            Err(Handshake::Failed(IoFailure::Reset(e), _)) => return Err(OpenError::Io(e.into())),
            Err(Handshake::Failed(IoFailure::Other(e), _)) => return Err(OpenError::Io(e)),
        };
        Ok(Session {
            address: address.clone(),
            options,
            flavor,
            stream: Some(stream),
            framer: Framer::new(flavor),
            prompt,
            target: None,
            access: Vec::new(),
            settings: Vec::new(),
            lost: None,
        })
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The last prompt the server sent.
    pub fn prompt(&self) -> &Prompt {
        &self.prompt
    }

    /// The bare `@…` command that chose the current worker on the master, if any.
    pub fn target(&self) -> Option<String> {
        self.target.as_ref().map(|c| c.to_string())
    }

    /// Whether a connection is open (it may still have been closed by the server since).
    pub fn is_connected(&self) -> bool {
        self.stream.is_some()
    }

    /// Sends one command line and returns its reply. A line with unescaped `;` is sent one
    /// command at a time, since HAProxy versions disagree on how many prompts such a line gets
    /// (2.6: one per command; 3.2+ stats socket: one in all). A command ending in `<<` is sent
    /// with an empty payload; see [`run_payload`](Session::run_payload).
    pub fn run(
        &mut self,
        command: &Command,
        deadline: Option<Instant>,
    ) -> Result<Reply, SessionError> {
        self.run_payload(command, &[], deadline)
    }

    /// Sends a command ending in `<<` followed by `payload` lines and the empty line that ends
    /// the payload, and returns the reply. `payload` goes with the last command of the line and
    /// is ignored unless that command ends in `<<`.
    pub fn run_payload(
        &mut self,
        command: &Command,
        payload: &[Command],
        deadline: Option<Instant>,
    ) -> Result<Reply, SessionError> {
        let parts = split_commands(command.as_bytes());
        for part in &parts {
            let word = first_word(part);
            if word == b"prompt" {
                return Err(SessionError::Refused {
                    why: "'prompt' is refused: the session keeps prompt mode on to find where \
                          each reply ends",
                });
            }
            if word == b"quit" {
                return Err(SessionError::Refused {
                    why: "'quit' is refused: close the session instead",
                });
            }
        }
        if has_payload_pattern(command.as_bytes()) {
            return Err(SessionError::Refused {
                why: PAYLOAD_PATTERN_REFUSED,
            });
        }
        let reconnected = self.reconnect_if_lost(deadline)?;
        let mut body = Vec::new();
        let mut closed = false;
        let last = parts.len() - 1;
        for (i, part) in parts.iter().enumerate() {
            let lines = if i == last { payload } else { &[] };
            let is_reload = self.flavor == Flavor::Master && is_reload(part, &self.prompt.target);
            match self.exchange(part, lines, deadline) {
                Ok(framed) => {
                    self.remember(part, &framed);
                    body.extend_from_slice(&framed.body);
                }
                // The master answers `reload` (3.x: with its status) and closes.
                Err(SessionError::Closed { received }) if is_reload => {
                    self.lost = Some(Disconnect::Reload);
                    body.extend_from_slice(&received);
                    closed = true;
                    break;
                }
                Err(e) => return Err(e.after(&body)),
            }
        }
        Ok(Reply {
            body,
            prompt: self.prompt.clone(),
            reconnected,
            closed,
        })
    }

    /// Runs a command that changes how the connection answers (`set severity-output
    /// number`), and runs it again after every reconnect, before any other command.
    pub fn run_setting(
        &mut self,
        command: &Command,
        deadline: Option<Instant>,
    ) -> Result<Reply, SessionError> {
        let reply = self.run(command, deadline)?;
        self.settings.push(command.clone());
        Ok(reply)
    }

    /// Replaces the connection now, restoring prompt mode, the settings, the level and modes,
    /// and the `@` target.
    pub fn reconnect(&mut self, deadline: Option<Instant>) -> Result<Reconnected, SessionError> {
        let reason = self.lost.take().unwrap_or(Disconnect::Requested);
        let give_up = Instant::now() + self.options.reconnect_timeout;
        let mut dropped_target = None;
        'attempt: loop {
            self.stream = None;
            self.framer.clear();
            let stream = self.connect_retrying(deadline)?;
            self.stream = Some(stream);
            let mut restored = Vec::new();
            let settings = self.settings.clone();
            for command in settings
                .into_iter()
                .chain(self.access.clone())
                .chain(self.target.clone())
            {
                let is_target = command.as_bytes().starts_with(b"@");
                match self.exchange(command.as_bytes(), &[], deadline) {
                    Ok(framed)
                        if is_target && !matches!(framed.prompt.target, Target::Worker(_)) =>
                    {
                        dropped_target = Some(command.to_string());
                        self.target = None;
                    }
                    Ok(_) => restored.push(command.to_string()),
                    // A 2.6 master re-executing itself may drop a connection it accepted:
                    // replaying is harmless, so start over.
                    Err(SessionError::Closed { received } | SessionError::Reset { received })
                        if received.is_empty() && Instant::now() < give_up =>
                    {
                        continue 'attempt;
                    }
                    // 2.6 answers an `@` it cannot resolve with an error and closes: start
                    // over without it.
                    Err(SessionError::Closed { .. }) if is_target => {
                        dropped_target = Some(command.to_string());
                        self.target = None;
                        continue 'attempt;
                    }
                    Err(e) => return Err(e),
                }
            }
            return Ok(Reconnected {
                reason,
                restored,
                dropped_target,
            });
        }
    }

    /// Reconnects if the connection is gone or the server closed it while idle; every command
    /// does this first.
    pub fn reconnect_if_lost(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<Reconnected>, SessionError> {
        if let Some(stream) = &self.stream
            && let Some(why) = idle_state(stream)
        {
            self.stream = None;
            self.lost.get_or_insert(why);
        }
        if self.stream.is_none() {
            return self.reconnect(deadline).map(Some);
        }
        Ok(None)
    }

    /// Connects and switches to prompt mode, retrying while the socket refuses connections or
    /// closes before answering (a master in the middle of re-executing itself).
    fn connect_retrying(&mut self, deadline: Option<Instant>) -> Result<Stream, SessionError> {
        let give_up = Instant::now() + self.options.reconnect_timeout;
        let give_up = deadline.map_or(give_up, |d| d.min(give_up));
        loop {
            let left = give_up.saturating_duration_since(Instant::now());
            let limit = self.options.connect_timeout.map_or(left, |c| c.min(left));
            let retry = match connect(&self.address, Some(limit.max(Duration::from_millis(1)))) {
                Ok(stream) => match handshake(&stream, give_up) {
                    Ok((flavor, prompt)) if flavor == self.flavor => {
                        self.prompt = prompt;
                        return Ok(stream);
                    }
                    Ok((_, prompt)) => {
                        return Err(SessionError::NotHaproxy {
                            received: prompt.raw,
                        });
                    }
                    Err(Handshake::Other(received)) => {
                        return Err(SessionError::NotHaproxy { received });
                    }
                    // A 2.6 master re-executing itself accepts connections it then drops.
                    Err(Handshake::Closed(received)) if received.is_empty() => {
                        SessionError::Closed { received }
                    }
                    Err(Handshake::Failed(IoFailure::Reset(_), received))
                        if received.is_empty() =>
                    {
                        SessionError::Reset { received }
                    }
                    Err(Handshake::Closed(received)) => {
                        return Err(SessionError::NotHaproxy { received });
                    }
                    Err(Handshake::Failed(failure, received)) => {
                        return Err(from_failure(failure, received));
                    }
                },
                Err(
                    e @ (ConnectError::Stale(_)
                    | ConnectError::NotFound(_)
                    | ConnectError::Refused(_)),
                ) => SessionError::Connect(e),
                Err(ConnectError::Interrupted) => {
                    return Err(SessionError::Interrupted {
                        received: Vec::new(),
                    });
                }
                Err(e) => return Err(SessionError::Connect(e)),
            };
            if Instant::now() >= give_up {
                return Err(retry);
            }
            if interrupt::requested() {
                return Err(SessionError::Interrupted {
                    received: Vec::new(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn fail(&mut self, failure: IoFailure) -> SessionError {
        let received = self.framer.take_pending();
        self.drop_connection(Disconnect::Incomplete);
        from_failure(failure, received)
    }

    fn drop_connection(&mut self, why: Disconnect) {
        self.stream = None;
        self.framer.clear();
        self.lost = Some(why);
    }

    /// Keeps track of what a reconnect must restore.
    fn remember(&mut self, command: &[u8], framed: &Framed) {
        let words: Vec<&[u8]> = command
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty())
            .collect();
        match (words.as_slice(), &framed.prompt.target) {
            (_, Target::Master) => self.target = None,
            ([word], Target::Worker(_)) if word.starts_with(b"@") => {
                self.target = Command::new(word.to_vec()).ok();
            }
            _ => {}
        }
        // Empty success: nothing from the master, a lone `\n` from a worker. A failure says
        // why (`Permission denied`), and a mode word alone asks rather than sets.
        let succeeded = framed.body.is_empty() || framed.body == b"\n";
        // A final `-` only asks HAProxy not to end the reply with a newline: it is dropped
        // from what is replayed.
        let words = match words.as_slice() {
            [rest @ .., b"-"] if !rest.is_empty() => rest,
            all => all,
        };
        let changes_access = matches!(
            words,
            [b"operator" | b"user"]
                | [
                    b"expert-mode" | b"experimental-mode" | b"mcli-debug-mode",
                    _
                ]
        );
        if !changes_access || !succeeded {
            return;
        }
        let kind = access_kind(words[0]);
        // At most one of each kind, in the order last set: replaying them in that order ends
        // in the same state, including a stats socket's own rule that lowering the level turns
        // expert and experimental mode off.
        self.access
            .retain(|done| access_kind(done.as_bytes()) != kind);
        let mode_off = kind != b"level" && words.get(1) != Some(&b"on".as_slice());
        if !mode_off && let Ok(command) = Command::new(words.join(&b' ')) {
            self.access.push(command);
        }
    }
}

/// `level` for `operator` and `user`, else the mode's word.
fn access_kind(command: &[u8]) -> &[u8] {
    match command.split(|b| *b == b' ').next().unwrap_or_default() {
        b"operator" | b"user" => b"level",
        word => word,
    }
}

fn from_failure(failure: IoFailure, received: Vec<u8>) -> SessionError {
    match failure {
        IoFailure::TimedOut => SessionError::Timeout { received },
        IoFailure::Interrupted => SessionError::Interrupted { received },
        IoFailure::Reset(_) => SessionError::Reset { received },
        IoFailure::Other(source) => SessionError::Io { source, received },
    }
}

/// Whether an idle connection is still usable: `None` if so, otherwise why not. Never blocks.
fn idle_state(stream: &Stream) -> Option<Disconnect> {
    let mut fds = [PollFd::new(stream, PollFlags::IN)];
    match poll(&mut fds, Some(&rustix::event::Timespec::default())) {
        Ok(0) => return None,
        Ok(_) => {}
        Err(_) => return Some(Disconnect::Idle),
    }
    let mut byte = [0u8; 1];
    match rustix::net::recv(stream, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT) {
        Ok((0, _)) => Some(Disconnect::Idle),
        Ok(_) => Some(Disconnect::Unexpected),
        Err(Errno::AGAIN | Errno::INTR) => None,
        Err(_) => Some(Disconnect::Idle),
    }
}

/// How the answer to `prompt` went.
enum Handshake {
    /// Bytes that are no HAProxy prompt.
    Other(Vec<u8>),
    /// EOF before a whole prompt.
    Closed(Vec<u8>),
    Failed(IoFailure, Vec<u8>),
}

/// Sends `prompt` on a fresh connection and reads the answer. `prompt p` is what is sent: on
/// 3.2+ it sets prompt mode instead of toggling it, and older versions ignore the argument and
/// toggle, which on a fresh connection (never in prompt mode) is the same.
fn handshake(stream: &Stream, deadline: Instant) -> Result<(Flavor, Prompt), Handshake> {
    stream
        .send_all(b"prompt p\n", Some(deadline))
        .map_err(|f| Handshake::Failed(f, Vec::new()))?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        match framing::detect(&answer) {
            Detected::Stats(prompt) => return Ok((Flavor::Stats, prompt)),
            Detected::Master(prompt) => return Ok((Flavor::Master, prompt)),
            Detected::NotHaproxy => return Err(Handshake::Other(answer)),
            Detected::Incomplete => {}
        }
        match stream.read_some(&mut buf, Some(deadline)) {
            Ok(0) => return Err(Handshake::Closed(answer)),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(failure) => return Err(Handshake::Failed(failure, answer)),
        }
    }
}

/// Splits a command line where HAProxy does: at each `;` not escaped by a backslash. The
/// escapes stay in place for HAProxy to interpret.
pub fn split_commands(line: &[u8]) -> Vec<Vec<u8>> {
    let mut parts = Vec::new();
    let mut current = Vec::new();
    let mut bytes = line.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' => {
                current.push(b);
                if let Some(&next) = bytes.next() {
                    current.push(next);
                }
            }
            b';' => parts.push(std::mem::take(&mut current)),
            _ => current.push(b),
        }
    }
    parts.push(current);
    parts
}

/// Whether a command of the line (each `;` part goes out as a line of its own) ends in
/// `<<PATTERN`: HAProxy 3.0+ then takes the lines up to one equal to PATTERN as its payload
/// (older versions take it as an ordinary argument). Not sent: no recording shows how 3.x
/// frames such a payload in prompt mode, and on a 2.6 server the payload lines would run as
/// commands.
pub fn has_payload_pattern(command: &[u8]) -> bool {
    split_commands(command)
        .iter()
        .any(|part| payload_pattern(part).is_some())
}

/// PATTERN when the line's last word is `<<PATTERN`.
pub fn payload_pattern(line: &[u8]) -> Option<&[u8]> {
    line.split(|b| b.is_ascii_whitespace())
        .rfind(|w| !w.is_empty())
        .and_then(|w| w.strip_prefix(b"<<"))
        .filter(|pattern| !pattern.is_empty())
}

/// Why a command with a payload pattern is refused, for every caller to say alike.
pub const PAYLOAD_PATTERN_REFUSED: &str = "a payload pattern ('<<PATTERN', HAProxy 3.0+) is not \
     supported: end the line with ' <<' and the payload with an empty line";

/// A command that announces a payload: its last word is `<<`.
pub fn is_payload_command(command: &[u8]) -> bool {
    command
        .split(|b| b.is_ascii_whitespace())
        .rfind(|w| !w.is_empty())
        .is_some_and(|w| w == b"<<")
}

/// The first word, after an `@master` prefix.
fn first_word(command: &[u8]) -> &[u8] {
    let mut words = command
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    match words.next() {
        Some(b"@master") => words.next().unwrap_or_default(),
        Some(word) => word,
        None => b"",
    }
}

/// A master `reload`: the command itself goes to the master (by default or by `@master`).
pub(crate) fn is_reload(command: &[u8], target: &Target) -> bool {
    let mut words = command
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    let mut first = words.next();
    let mut to_master = *target == Target::Master;
    if first == Some(b"@master") {
        first = words.next();
        to_master = true;
    }
    to_master && first == Some(b"reload") && words.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_haproxy() {
        assert_eq!(split_commands(b"a;b c"), [&b"a"[..], b"b c"]);
        assert_eq!(
            split_commands(br"a\;b;c\\;d"),
            [&br"a\;b"[..], br"c\\", b"d"]
        );
        assert_eq!(split_commands(b"a;"), [&b"a"[..], b""]);
        assert_eq!(split_commands(b""), [b""]);
    }

    #[test]
    fn payload_and_reload_commands() {
        assert!(is_payload_command(b"add map #0 <<"));
        assert!(is_payload_command(b"@1 add map #0 <<  "));
        assert!(!is_payload_command(b"add map #0 <<EOF"));
        assert!(has_payload_pattern(b"set ssl cert a.pem <<%EOF%"));
        assert!(!has_payload_pattern(b"add map #0 <<") && !has_payload_pattern(b"a <<b c"));
        // Each `;` part goes out as a line of its own.
        assert!(has_payload_pattern(b"get weight be/s1 <<EOF; show version"));
        assert_eq!(payload_pattern(b"x <<%EOF%  "), Some(&b"%EOF%"[..]));
        assert!(!is_payload_command(b"show map"));
        let (master, worker) = (Target::Master, Target::Worker(7));
        assert!(is_reload(b"reload", &master) && is_reload(b" @master reload ", &worker));
        assert!(!is_reload(b"reload", &worker) && !is_reload(b"@1 reload", &master));
        assert!(!is_reload(b"reload now", &master));
        assert_eq!(first_word(b"@master prompt"), b"prompt");
        assert_eq!(first_word(b"  quit"), b"quit");
    }
}
