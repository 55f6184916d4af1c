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

use crate::address::Address;
use crate::client::{self, Connection, Flow, Limits, Reconnect, Request};
use crate::command::Command;
use crate::connect::{ConnectError, connect};
use crate::error::{ExchangeError, Received};
use crate::haproxy::command::{self as syntax, Refusal, Rules};
use crate::haproxy::framing::{self, Detected, Flavor, Framed, Prompt, PromptFramer, Target};
use crate::haproxy::outcome::{self, Tags};
use crate::interrupt;
use crate::stream::{IoFailure, Stream};

pub use crate::client::{Broken, Disconnect};

/// One reply of [`Session::pipeline`].
pub type Answer = client::Answer<Framed, Reconnected>;

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
    /// The server closed the connection after this reply, as HAProxy's protocol has it; the
    /// next command reconnects.
    pub closed: Option<Closed>,
}

/// Why the master closed the connection after a complete reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// It was asked to `reload` (3.x answers with the status first).
    Reload,
    /// HAProxy 2.6's master answers its own errors (an unknown `@` target, a denied
    /// command) with a message and closes: the message is the whole reply, a failure.
    AfterError,
}

/// Why the master closed the connection after `command` (sent where the prompt's `target`
/// says), when that close ends a complete reply (`received`, what came before the close)
/// rather than cutting one.
pub fn protocol_close(
    flavor: Flavor,
    target: &Target,
    command: &[u8],
    received: &[u8],
) -> Option<Closed> {
    if flavor != Flavor::Master {
        return None;
    }
    if syntax::is_reload(command, target) {
        return Some(Closed::Reload);
    }
    let failed = outcome::read(received, Tags::Plain).is_ok_and(|o| !o.is_ok());
    (!received.is_empty() && failed).then_some(Closed::AfterError)
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

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpenError::Connect(e) => Some(e),
            OpenError::Io(e) => Some(e),
            OpenError::NotHaproxy { .. } | OpenError::Interrupted => None,
        }
    }
}

/// A prompt-mode connection that survives the server closing it between commands.
#[derive(Debug)]
pub struct Session {
    connection: Connection<PromptFramer>,
    state: State,
}

/// What the session knows beyond the connection, and restores on a new one.
#[derive(Debug)]
struct State {
    options: Options,
    flavor: Flavor,
    prompt: Prompt,
    /// The bare `@…` that made a worker the default target, replayed on reconnect.
    target: Option<Command>,
    /// The level (`operator`, `user`) and modes (`expert-mode on`, …) the user set, in the
    /// order set, at most one of each kind: replayed on reconnect so that a lowered level stays
    /// lowered and a mode stays on.
    access: Vec<Command>,
    /// Settings the caller made with [`Session::run_setting`], replayed on reconnect.
    settings: Vec<Command>,
}

/// Takes the bytes of a large reply as they come (see [`Session::run_parts`]).
pub type Part<'a> = dyn FnMut(&[u8]) -> Flow + 'a;

impl Session {
    /// Connects and switches the connection to prompt mode.
    pub fn open(address: &Address, options: Options) -> Result<Session, OpenError> {
        let stream = connect(address, options.connect_timeout).map_err(OpenError::Connect)?;
        let deadline = Instant::now() + options.detect_timeout;
        let (flavor, prompt) = match handshake(&stream, deadline) {
            Ok(found) => found,
            Err(Handshake::Other(received))
            | Err(Handshake::Failed(IoFailure::TimedOut, received)) => {
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
            Err(Handshake::Failed(IoFailure::Interrupted, _)) => {
                return Err(OpenError::Interrupted);
            }
            Err(Handshake::Failed(IoFailure::Reset(e), _)) => return Err(OpenError::Io(e.into())),
            Err(Handshake::Failed(IoFailure::Other(e), _)) => return Err(OpenError::Io(e)),
        };
        Ok(Session {
            connection: Connection::new(address.clone(), Some(stream), PromptFramer::new(flavor)),
            state: State {
                options,
                flavor,
                prompt,
                target: None,
                access: Vec::new(),
                settings: Vec::new(),
            },
        })
    }

    pub fn flavor(&self) -> Flavor {
        self.state.flavor
    }

    pub fn address(&self) -> &Address {
        self.connection.address()
    }

    /// The last prompt the server sent.
    pub fn prompt(&self) -> &Prompt {
        &self.state.prompt
    }

    /// The bare `@…` command that chose the current worker on the master, if any.
    pub fn target(&self) -> Option<String> {
        self.state.target.as_ref().map(|c| c.to_string())
    }

    /// Whether a connection is open (it may still have been closed by the server since).
    pub fn is_connected(&self) -> bool {
        self.connection.is_connected()
    }

    /// Sends one command line and returns its reply. A line with unescaped `;` is sent one
    /// command at a time, since HAProxy versions disagree on how many prompts such a line gets
    /// (2.6: one per command; 3.2+ stats socket: one in all). A command ending in `<<` is sent
    /// with an empty payload; see [`run_payload`](Session::run_payload).
    pub fn run(
        &mut self,
        command: &Command,
        deadline: Option<Instant>,
    ) -> Result<Reply, ExchangeError> {
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
    ) -> Result<Reply, ExchangeError> {
        self.run_parts(command, payload, deadline, None)
    }

    /// [`run_payload`](Session::run_payload), handing a large reply's bytes to `part` as they
    /// come, so that it is never held whole (see [`Parts`](crate::client::Parts)); the reply's
    /// body is then only what came after the last part. [`Flow::Stop`] from `part` ends the
    /// command with [`ExchangeError::Interrupted`] and drops the connection.
    pub fn run_parts(
        &mut self,
        command: &Command,
        payload: &[Command],
        deadline: Option<Instant>,
        mut part: Option<&mut Part<'_>>,
    ) -> Result<Reply, ExchangeError> {
        syntax::check(command.as_bytes(), &Rules::session())
            .map_err(|refusal: Refusal| ExchangeError::Refused(refusal.to_string()))?;
        let reconnected = self.reconnect_if_lost(deadline)?;
        let parts = syntax::split(command.as_bytes());
        let mut body = Vec::new();
        let mut closed = None;
        let last = parts.len() - 1;
        for (i, part_bytes) in parts.iter().enumerate() {
            let lines = if i == last { payload } else { &[] };
            let target = self.state.prompt.target.clone();
            let parts_wanted = part.is_some();
            let mut to_part = |_: usize, bytes: &[u8]| {
                let Some(part) = part.as_mut() else {
                    return Flow::Continue;
                };
                // The replies of the line's earlier commands go first.
                if !body.is_empty() && part(&std::mem::take(&mut body)) == Flow::Stop {
                    return Flow::Stop;
                }
                part(bytes)
            };
            let taking: Option<&mut crate::client::Parts<'_>> =
                parts_wanted.then_some(&mut to_part);
            match self
                .state
                .exchange(&mut self.connection, part_bytes, lines, deadline, taking)
            {
                Ok(framed) => {
                    self.state.remember(part_bytes, &framed);
                    body.extend_from_slice(&framed.body);
                }
                Err(ExchangeError::Closed { received }) => {
                    let flavor = self.state.flavor;
                    let Some(why) = protocol_close(flavor, &target, part_bytes, received.bytes())
                    else {
                        return Err(ExchangeError::Closed { received }.after(&body));
                    };
                    let lost = match why {
                        Closed::Reload => Disconnect::Asked,
                        Closed::AfterError => Disconnect::Closed,
                    };
                    self.connection.drop_connection(lost);
                    body.extend_from_slice(received.bytes());
                    closed = Some(why);
                    break;
                }
                Err(e) => return Err(e.after(&body)),
            }
        }
        Ok(Reply {
            body,
            prompt: self.state.prompt.clone(),
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
    ) -> Result<Reply, ExchangeError> {
        let reply = self.run(command, deadline)?;
        self.state.settings.push(command.clone());
        Ok(reply)
    }

    /// Sends `requests` (see [`command::request`](super::command::request)) on the session's
    /// connection, written ahead of their replies as [`Connection::pipeline`] does, replacing a
    /// connection the server closed between requests as [`Session::reconnect`] does.
    pub fn pipeline(
        &mut self,
        requests: &[Request],
        limits: &Limits,
        reply: &mut dyn FnMut(Answer) -> Flow,
    ) -> Result<(), Broken> {
        self.connection
            .pipeline(requests, limits, &mut self.state, reply)
    }

    /// [`pipeline`](Session::pipeline), handing large replies' bytes to `part` as they come
    /// (see [`Parts`](crate::client::Parts)).
    pub fn pipeline_parts<'p>(
        &mut self,
        requests: &[Request],
        limits: &Limits,
        part: &'p mut crate::client::Parts<'p>,
        reply: &mut dyn FnMut(Answer) -> Flow,
    ) -> Result<(), Broken> {
        self.connection
            .pipeline_parts(requests, limits, &mut self.state, Some(part), reply)
    }

    /// Replaces the connection now, restoring prompt mode, the settings, the level and modes,
    /// and the `@` target.
    pub fn reconnect(&mut self, deadline: Option<Instant>) -> Result<Reconnected, ExchangeError> {
        let why = self
            .connection
            .check_idle()
            .unwrap_or(Disconnect::Requested);
        self.state.reconnect(&mut self.connection, why, deadline)
    }

    /// Reconnects if the connection is gone or the server closed it while idle; every command
    /// does this first.
    pub fn reconnect_if_lost(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<Reconnected>, ExchangeError> {
        match self.connection.check_idle() {
            Some(why) => self
                .state
                .reconnect(&mut self.connection, why, deadline)
                .map(Some),
            None => Ok(None),
        }
    }
}

impl Reconnect<PromptFramer> for State {
    type Note = Reconnected;

    fn reconnect(
        &mut self,
        connection: &mut Connection<PromptFramer>,
        reason: Disconnect,
        deadline: Option<Instant>,
    ) -> Result<Reconnected, ExchangeError> {
        let give_up = Instant::now() + self.options.reconnect_timeout;
        let mut dropped_target = None;
        'attempt: loop {
            connection.drop_connection(reason);
            let stream = self.connect_retrying(connection.address(), deadline)?;
            connection.install(stream);
            let mut restored = Vec::new();
            let settings = self.settings.clone();
            for command in settings
                .into_iter()
                .chain(self.access.clone())
                .chain(self.target.clone())
            {
                let is_target = command.as_bytes().starts_with(b"@");
                match self.exchange(connection, command.as_bytes(), &[], deadline, None) {
                    Ok(framed)
                        if is_target && !matches!(framed.prompt.target, Target::Worker(_)) =>
                    {
                        dropped_target = Some(command.to_string());
                        self.target = None;
                    }
                    Ok(_) => restored.push(command.to_string()),
                    // A 2.6 master re-executing itself may drop a connection it accepted:
                    // replaying is harmless, so start over.
                    Err(ExchangeError::Closed { received } | ExchangeError::Reset { received })
                        if received.is_empty() && Instant::now() < give_up =>
                    {
                        continue 'attempt;
                    }
                    // 2.6 answers an `@` it cannot resolve with an error and closes: start
                    // over without it.
                    Err(ExchangeError::Closed { .. }) if is_target => {
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

    fn seen(&mut self, reply: &Framed) {
        self.prompt = reply.prompt.clone();
    }
}

impl State {
    /// Sends one command (and its payload) on the open connection and reads its reply.
    fn exchange<'p>(
        &mut self,
        connection: &mut Connection<PromptFramer>,
        command: &[u8],
        payload: &[Command],
        deadline: Option<Instant>,
        part: Option<&'p mut crate::client::Parts<'p>>,
    ) -> Result<Framed, ExchangeError> {
        let request = syntax::request(command, payload);
        let framed = connection.exchange_parts(&request, deadline, self.options.max_bytes, part)?;
        self.prompt = framed.prompt.clone();
        Ok(framed)
    }

    /// Connects and switches to prompt mode, retrying while the socket refuses connections or
    /// closes before answering (a master in the middle of re-executing itself).
    fn connect_retrying(
        &mut self,
        address: &Address,
        deadline: Option<Instant>,
    ) -> Result<Stream, ExchangeError> {
        let give_up = Instant::now() + self.options.reconnect_timeout;
        let give_up = deadline.map_or(give_up, |d| d.min(give_up));
        let not_haproxy = |received| ExchangeError::NotProtocol {
            protocol: "an HAProxy CLI",
            received: Received::held(received),
        };
        loop {
            let left = give_up.saturating_duration_since(Instant::now());
            let limit = self.options.connect_timeout.map_or(left, |c| c.min(left));
            let retry = match connect(address, Some(limit.max(Duration::from_millis(1)))) {
                Ok(stream) => match handshake(&stream, give_up) {
                    Ok((flavor, prompt)) if flavor == self.flavor => {
                        self.prompt = prompt;
                        return Ok(stream);
                    }
                    Ok((_, prompt)) => return Err(not_haproxy(prompt.raw)),
                    Err(Handshake::Other(received)) => return Err(not_haproxy(received)),
                    // A 2.6 master re-executing itself accepts connections it then drops.
                    Err(Handshake::Closed(received)) if received.is_empty() => {
                        ExchangeError::Closed {
                            received: Received::default(),
                        }
                    }
                    Err(Handshake::Failed(IoFailure::Reset(_), received))
                        if received.is_empty() =>
                    {
                        ExchangeError::Reset {
                            received: Received::default(),
                        }
                    }
                    Err(Handshake::Closed(received)) => return Err(not_haproxy(received)),
                    Err(Handshake::Failed(failure, received)) => {
                        return Err(from_failure(failure, received));
                    }
                },
                Err(
                    e @ (ConnectError::Stale(_)
                    | ConnectError::NotFound(_)
                    | ConnectError::Refused(_)),
                ) => ExchangeError::Connect(e),
                Err(ConnectError::Interrupted) => return Err(ExchangeError::interrupted()),
                Err(e) => return Err(ExchangeError::Connect(e)),
            };
            if Instant::now() >= give_up {
                return Err(retry);
            }
            if interrupt::requested() {
                return Err(ExchangeError::interrupted());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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

fn from_failure(failure: IoFailure, received: Vec<u8>) -> ExchangeError {
    let received = Received::held(received);
    match failure {
        IoFailure::TimedOut => ExchangeError::Timeout {
            phase: crate::error::Phase::Reply,
            limit: None,
            received,
        },
        IoFailure::Interrupted => ExchangeError::Interrupted { received },
        IoFailure::Reset(_) => ExchangeError::Reset { received },
        IoFailure::Other(source) => ExchangeError::Io {
            phase: crate::error::Phase::Reply,
            source,
            received,
        },
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
