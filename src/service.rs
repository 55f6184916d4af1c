//! Other services' admin sockets: a [`Profile`] per protocol (what ends a reply, what to read
//! or say first, how a command goes on the wire, what counts as a failure), and a [`Service`]
//! client that runs commands with it over the generic [`client`](crate::client).

use std::fmt;
use std::time::{Duration, Instant};

use regex_lite::Regex;

use crate::address::Address;
use crate::client::{Connection, Disconnect, Reconnect, Request};
use crate::command::Command;
use crate::connect::connect;
use crate::error::{ExchangeError, Received};
use crate::framing::doveadm::{self, Doveadm};
use crate::framing::lines::{LineRule, OneLine, Pattern, Step, text};
use crate::framing::resp::{self, Resp};
use crate::framing::{Ending, Eof, Framer, Lines, bird, collectd, memcached, openvpn, tor};

/// The protocols sockctl knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// HAProxy's CLI without prompt mode: a command, a half-close, the reply to EOF.
    Haproxy,
    Bird,
    Tor,
    Openvpn,
    Memcached,
    Unbound,
    Kea,
    Redis,
    Collectd,
    Dovecot,
    Uwsgi,
    /// Any line protocol, described by the options alone.
    Line,
}

impl Proto {
    pub const ALL: [Proto; 11] = [
        Proto::Haproxy,
        Proto::Bird,
        Proto::Tor,
        Proto::Openvpn,
        Proto::Memcached,
        Proto::Unbound,
        Proto::Kea,
        Proto::Redis,
        Proto::Collectd,
        Proto::Dovecot,
        Proto::Uwsgi,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Proto::Haproxy => "haproxy",
            Proto::Bird => "bird",
            Proto::Tor => "tor",
            Proto::Openvpn => "openvpn",
            Proto::Memcached => "memcached",
            Proto::Unbound => "unbound",
            Proto::Kea => "kea",
            Proto::Redis => "redis",
            Proto::Collectd => "collectd",
            Proto::Dovecot => "dovecot",
            Proto::Uwsgi => "uwsgi",
            Proto::Line => "line",
        }
    }
}

impl std::str::FromStr for Proto {
    type Err = String;

    fn from_str(s: &str) -> Result<Proto, String> {
        Proto::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Proto::ALL.iter().map(|p| p.name()).collect();
                format!("unknown protocol {s:?}; known: {}", names.join(", "))
            })
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to talk to one service. [`Profile::of`] gives a protocol's; the fields can be set for
/// any line protocol.
#[derive(Debug, Clone)]
pub struct Profile {
    pub proto: Proto,
    /// A line that ends a reply (the line is part of it). `None` with [`Proto::Line`]: the
    /// reply ends at EOF after a half-close.
    pub ends_with: Option<Regex>,
    /// A greeting to read before anything is sent, up to a line this matches.
    pub greeting: Option<Regex>,
    /// Lines sent first on every connection (after the greeting), each of whose replies must
    /// not be a failure: authentication.
    pub preamble: Vec<Vec<u8>>,
    /// Bytes in front of every command.
    pub prefix: Vec<u8>,
    /// Lines end with `\r\n` rather than `\n`.
    pub crlf: bool,
    /// Bytes sent after the command to end the input, before the half-close.
    pub end_input: Vec<u8>,
    /// Send nothing: the server writes on connect (uwsgi's stats).
    pub send_nothing: bool,
    /// A reply line this matches makes the command a failure.
    pub fails_on: Option<Regex>,
}

impl Profile {
    /// The profile of `proto`, with `secret` (a password, or tor's cookie) for the
    /// protocols that authenticate.
    pub fn of(proto: Proto, secret: Option<&Secret>) -> Profile {
        let mut profile = Profile {
            proto,
            ends_with: None,
            greeting: None,
            preamble: Vec::new(),
            prefix: Vec::new(),
            crlf: false,
            end_input: Vec::new(),
            send_nothing: false,
            fails_on: None,
        };
        match proto {
            Proto::Tor => {
                profile.crlf = true;
                profile.preamble.push(match secret {
                    Some(Secret::Password(p)) => [&b"AUTHENTICATE "[..], &quoted(p)].concat(),
                    Some(Secret::Cookie(c)) => {
                        let hex: String = c.iter().map(|b| format!("{b:02X}")).collect();
                        format!("AUTHENTICATE {hex}").into_bytes()
                    }
                    None => b"AUTHENTICATE".to_vec(),
                });
            }
            Proto::Redis => {
                if let Some(Secret::Password(p)) = secret {
                    profile.preamble.push([&b"AUTH "[..], &quoted(p)].concat());
                }
            }
            Proto::Unbound => profile.prefix = b"UBCT1 ".to_vec(),
            Proto::Uwsgi => profile.send_nothing = true,
            _ => {}
        }
        profile
    }

    /// A line protocol described by options alone.
    pub fn line() -> Profile {
        Profile::of(Proto::Line, None)
    }

    /// Whether each command needs a connection of its own (the reply ends at EOF).
    pub fn one_per_connection(&self) -> bool {
        self.framer().ending() == Ending::HalfClose
    }

    fn framer(&self) -> ServiceFramer {
        let lines = |rule| ServiceFramer::Lines(Lines::new(rule), self.fails_on.clone());
        match self.proto {
            Proto::Bird => lines(AnyRule::Bird(bird::Bird)),
            Proto::Tor => lines(AnyRule::Tor(tor::Tor::default())),
            Proto::Openvpn => lines(AnyRule::Openvpn(openvpn::OpenVpn::default())),
            Proto::Memcached => lines(AnyRule::Memcached(memcached::Memcached::default())),
            Proto::Collectd => lines(AnyRule::Collectd(collectd::Collectd::default())),
            Proto::Redis => ServiceFramer::Resp(Resp::new()),
            Proto::Dovecot => ServiceFramer::Doveadm(Doveadm::new()),
            Proto::Line => match &self.ends_with {
                Some(pattern) => lines(AnyRule::Pattern(Pattern(pattern.clone()))),
                None => ServiceFramer::Eof(Eof::new(), self.proto, self.fails_on.clone()),
            },
            Proto::Haproxy | Proto::Unbound | Proto::Kea | Proto::Uwsgi => {
                ServiceFramer::Eof(Eof::new(), self.proto, self.fails_on.clone())
            }
        }
    }

    /// The bytes of `command` on the wire.
    pub fn request(&self, command: &Command) -> Vec<u8> {
        if self.send_nothing {
            return Vec::new();
        }
        let body = match self.proto {
            Proto::Redis => {
                // Words as redis-cli splits them; a line that does not split goes as it is.
                if let Some(bytes) = resp::command(command.as_bytes()) {
                    return bytes;
                }
                command.as_bytes().to_vec()
            }
            Proto::Dovecot => return doveadm::command(command.as_bytes()),
            _ => command.as_bytes().to_vec(),
        };
        let mut bytes = self.prefix.clone();
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(if self.crlf { b"\r\n" } else { b"\n" });
        bytes.extend_from_slice(&self.end_input);
        if self.proto == Proto::Unbound && reads_lines(command.as_bytes()) {
            // These read lines up to one holding only 0x04; a half-close instead makes unbound
            // loop for ever. Any other command must not get it: unread bytes make unbound reset
            // the connection after its reply.
            bytes.extend_from_slice(b"\x04\n");
        }
        bytes
    }
}

/// unbound's commands that read data lines after the command line.
fn reads_lines(command: &[u8]) -> bool {
    let word = command
        .split(|b| b.is_ascii_whitespace())
        .find(|w| !w.is_empty());
    matches!(
        word,
        Some(
            b"local_zones"
                | b"local_zones_remove"
                | b"local_datas"
                | b"local_datas_remove"
                | b"view_local_zones"
                | b"view_local_zones_remove"
                | b"view_local_datas"
                | b"view_local_datas_remove"
        )
    )
}

/// Quoted as tor and redis-cli read a quoted string.
fn quoted(secret: &[u8]) -> Vec<u8> {
    let mut out = vec![b'"'];
    for &b in secret {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
    out
}

/// What a protocol authenticates with. Never taken from the command line, where other users
/// could read it: from a file or the environment.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Password(Vec<u8>),
    /// tor's control cookie (the file's 32 bytes).
    Cookie(Vec<u8>),
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// A complete reply of a service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceReply {
    /// The reply, as text to print (RESP and doveadm replies rendered).
    pub body: Vec<u8>,
    /// What the server sent meanwhile outside the reply: notifications, log lines.
    pub aside: Vec<u8>,
    /// The server's failure message, if the reply is one.
    pub failure: Option<String>,
}

/// The rules of the line protocols, as one type.
#[derive(Debug)]
enum AnyRule {
    Bird(bird::Bird),
    Tor(tor::Tor),
    Openvpn(openvpn::OpenVpn),
    Memcached(memcached::Memcached),
    Collectd(collectd::Collectd),
    Pattern(Pattern),
    #[allow(dead_code)]
    OneLine(OneLine),
}

impl LineRule for AnyRule {
    fn line(&mut self, line: &[u8]) -> Step {
        match self {
            AnyRule::Bird(r) => r.line(line),
            AnyRule::Tor(r) => r.line(line),
            AnyRule::Openvpn(r) => r.line(line),
            AnyRule::Memcached(r) => r.line(line),
            AnyRule::Collectd(r) => r.line(line),
            AnyRule::Pattern(r) => r.line(line),
            AnyRule::OneLine(r) => r.line(line),
        }
    }

    fn reset(&mut self) {
        match self {
            AnyRule::Bird(r) => r.reset(),
            AnyRule::Tor(r) => r.reset(),
            AnyRule::Openvpn(r) => r.reset(),
            AnyRule::Memcached(r) => r.reset(),
            AnyRule::Collectd(r) => r.reset(),
            AnyRule::Pattern(r) => r.reset(),
            AnyRule::OneLine(r) => r.reset(),
        }
    }
}

impl AnyRule {
    fn failed(&self, body: &[u8]) -> Option<String> {
        match self {
            AnyRule::Bird(_) => bird::failed(body),
            AnyRule::Tor(_) => tor::failed(body),
            AnyRule::Openvpn(_) => openvpn::failed(body),
            AnyRule::Memcached(_) => memcached::failed(body),
            AnyRule::Collectd(_) => collectd::failed(body),
            AnyRule::Pattern(_) | AnyRule::OneLine(_) => None,
        }
    }
}

/// The framer of a profile: the protocol's own, judging each reply.
#[derive(Debug)]
enum ServiceFramer {
    Eof(Eof, Proto, Option<Regex>),
    Lines(Lines<AnyRule>, Option<Regex>),
    Resp(Resp),
    Doveadm(Doveadm),
}

/// A reply line `pattern` matches, as the failure's message.
fn matching_line(pattern: &Regex, body: &[u8]) -> Option<String> {
    body.split(|&b| b == b'\n')
        .map(|line| String::from_utf8_lossy(text(line)).into_owned())
        .find(|line| pattern.is_match(line))
}

/// The verdict of a reply that ends at EOF, by protocol.
fn eof_failure(proto: Proto, body: &[u8]) -> Option<String> {
    match proto {
        // `error unknown command 'x'`, `error: this option requires a domain name`.
        Proto::Unbound => {
            let first = text(body.split_inclusive(|&b| b == b'\n').next()?);
            first
                .starts_with(b"error")
                .then(|| String::from_utf8_lossy(first).into_owned())
        }
        // One JSON object (or a list of them, one per service): `result` 0 is success, 3 an
        // empty result; anything else fails.
        Proto::Kea => {
            let value: serde_json::Value = serde_json::from_slice(body).ok()?;
            let answers = match &value {
                serde_json::Value::Array(items) => items.iter().collect(),
                one => vec![one],
            };
            answers.into_iter().find_map(|answer| {
                let result = answer.get("result")?.as_i64()?;
                (result != 0 && result != 3).then(|| {
                    let text = answer.get("text").and_then(|t| t.as_str()).unwrap_or("");
                    format!("result {result}: {text}")
                })
            })
        }
        _ => None,
    }
}

impl Framer for ServiceFramer {
    type Reply = ServiceReply;

    fn push(&mut self, chunk: &[u8]) {
        match self {
            ServiceFramer::Eof(f, ..) => f.push(chunk),
            ServiceFramer::Lines(f, _) => f.push(chunk),
            ServiceFramer::Resp(f) => f.push(chunk),
            ServiceFramer::Doveadm(f) => f.push(chunk),
        }
    }

    fn next_reply(&mut self) -> Option<ServiceReply> {
        match self {
            ServiceFramer::Eof(..) => None,
            ServiceFramer::Lines(f, fails_on) => {
                let reply = f.next_reply()?;
                let failure = f.rule().failed(&reply.body).or_else(|| {
                    fails_on
                        .as_ref()
                        .and_then(|p| matching_line(p, &reply.body))
                });
                Some(ServiceReply {
                    body: reply.body,
                    aside: reply.aside,
                    failure,
                })
            }
            ServiceFramer::Resp(f) => {
                let reply = f.next_reply()?;
                let mut body = Vec::new();
                // An error reply is the verdict's message, on stderr, not output.
                if !matches!(reply.value, resp::Value::Error(_)) {
                    resp::render(&reply.value, &mut body);
                }
                Some(ServiceReply {
                    failure: resp::failed(&reply.value),
                    body,
                    aside: Vec::new(),
                })
            }
            ServiceFramer::Doveadm(f) => {
                let reply = f.next_reply()?;
                Some(ServiceReply {
                    body: reply.text(),
                    aside: reply.log.clone(),
                    failure: reply.failure(),
                })
            }
        }
    }

    fn end(&mut self) -> Option<ServiceReply> {
        if let ServiceFramer::Doveadm(f) = self {
            let reply = f.end()?;
            return Some(ServiceReply {
                body: reply.text(),
                aside: reply.log.clone(),
                failure: reply.failure(),
            });
        }
        let ServiceFramer::Eof(f, proto, fails_on) = self else {
            return None;
        };
        let body = f.end()?;
        let failure = eof_failure(*proto, &body)
            .or_else(|| fails_on.as_ref().and_then(|p| matching_line(p, &body)));
        Some(ServiceReply {
            body,
            aside: Vec::new(),
            failure,
        })
    }

    fn pending_len(&self) -> usize {
        match self {
            ServiceFramer::Eof(f, ..) => f.pending_len(),
            ServiceFramer::Lines(f, _) => f.pending_len(),
            ServiceFramer::Resp(f) => f.pending_len(),
            ServiceFramer::Doveadm(f) => f.pending_len(),
        }
    }

    fn take_pending(&mut self) -> Vec<u8> {
        match self {
            ServiceFramer::Eof(f, ..) => f.take_pending(),
            ServiceFramer::Lines(f, _) => f.take_pending(),
            ServiceFramer::Resp(f) => f.take_pending(),
            ServiceFramer::Doveadm(f) => f.take_pending(),
        }
    }

    fn clear(&mut self) {
        match self {
            ServiceFramer::Eof(f, ..) => f.clear(),
            ServiceFramer::Lines(f, _) => f.clear(),
            ServiceFramer::Resp(f) => f.clear(),
            ServiceFramer::Doveadm(f) => f.clear(),
        }
    }

    fn expect_interim(&mut self, count: usize) {
        match self {
            ServiceFramer::Lines(f, _) => f.expect_interim(count),
            ServiceFramer::Doveadm(f) => f.expect_interim(count),
            ServiceFramer::Eof(..) | ServiceFramer::Resp(_) => {}
        }
    }

    fn ending(&self) -> Ending {
        match self {
            ServiceFramer::Eof(..) => Ending::HalfClose,
            ServiceFramer::Lines(f, _) => f.ending(),
            ServiceFramer::Resp(f) => f.ending(),
            ServiceFramer::Doveadm(f) => f.ending(),
        }
    }

    fn may_half_close(&self) -> bool {
        match self {
            ServiceFramer::Doveadm(f) => f.may_half_close(),
            _ => true,
        }
    }
}

/// Limits of a [`Service`].
#[derive(Debug, Clone)]
pub struct Options {
    pub connect_timeout: Option<Duration>,
    /// A reply larger than this is an error.
    pub max_bytes: Option<u64>,
}

/// A client of one service's socket: connects when needed (and again when the server closed
/// the connection, or after each reply of a one-command-per-connection protocol), reads the
/// greeting, authenticates, then runs commands one at a time.
#[derive(Debug)]
pub struct Service {
    connection: Connection<ServiceFramer>,
    opener: Opener,
}

#[derive(Debug)]
struct Opener {
    profile: Profile,
    secret: Option<Secret>,
    options: Options,
}

impl Service {
    pub fn new(
        address: Address,
        profile: Profile,
        secret: Option<Secret>,
        options: Options,
    ) -> Self {
        Service {
            connection: Connection::new(address, None, profile.framer()),
            opener: Opener {
                profile,
                secret,
                options,
            },
        }
    }

    pub fn profile(&self) -> &Profile {
        &self.opener.profile
    }

    /// Runs `command` and returns its reply. A connection the server closed between commands
    /// is replaced; a command is never sent twice.
    pub fn run(
        &mut self,
        command: &Command,
        deadline: Option<Instant>,
    ) -> Result<ServiceReply, ExchangeError> {
        let limits = crate::client::Limits {
            deadline,
            max_bytes: self.opener.options.max_bytes,
            ..crate::client::Limits::default()
        };
        if self.opener.profile.send_nothing {
            // Nothing to send: what the server writes on connect, to EOF.
            let why = self
                .connection
                .check_idle()
                .unwrap_or(Disconnect::Requested);
            self.opener.reconnect(&mut self.connection, why, deadline)?;
            return self.connection.receive(deadline, limits.max_bytes);
        }
        let request = Request::new(self.opener.profile.request(command), 0);
        let mut reply = None;
        self.connection
            .pipeline(
                std::slice::from_ref(&request),
                &limits,
                &mut self.opener,
                &mut |answer| {
                    reply = Some(answer.reply);
                    crate::client::Flow::Continue
                },
            )
            .map_err(|broken| broken.error)?;
        Ok(reply.expect("a run ends with every reply or an error"))
    }
}

impl Service {
    /// Runs `commands` over one connection, up to `window` written ahead of their replies
    /// (1: each after the reply before it), and hands each reply to `reply` as it completes.
    /// A one-command-per-connection protocol runs them one at a time. When the connection
    /// fails, the error goes to `reply` for the command it cut, and the run ends.
    pub fn run_many(
        &mut self,
        commands: &[Command],
        window: usize,
        reply_timeout: Option<Duration>,
        reply: &mut dyn FnMut(usize, Result<ServiceReply, ExchangeError>) -> crate::client::Flow,
    ) {
        let requests: Vec<Request> = commands
            .iter()
            .map(|c| Request::new(self.opener.profile.request(c), 0))
            .collect();
        let limits = crate::client::Limits {
            window,
            deadline: None,
            reply_timeout,
            max_bytes: self.opener.options.max_bytes,
        };
        let result =
            self.connection
                .pipeline(&requests, &limits, &mut self.opener, &mut |answer| {
                    reply(answer.index, Ok(answer.reply))
                });
        if let Err(broken) = result {
            reply(broken.answered, Err(broken.error));
        }
    }
}

impl Reconnect<ServiceFramer> for Opener {
    type Note = Disconnect;

    fn reconnect(
        &mut self,
        connection: &mut Connection<ServiceFramer>,
        why: Disconnect,
        deadline: Option<Instant>,
    ) -> Result<Disconnect, ExchangeError> {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let limit = match (self.options.connect_timeout, left) {
            (Some(c), Some(l)) => Some(c.min(l)),
            (c, l) => c.or(l),
        };
        let stream = connect(connection.address(), limit).map_err(ExchangeError::Connect)?;
        let profile = &self.profile;
        if profile.proto == Proto::Openvpn
            && let Some(Secret::Password(password)) = &self.secret
        {
            // `ENTER PASSWORD:` comes without a newline: wait for it, then answer.
            wait_for(&stream, b"ENTER PASSWORD:", deadline)?;
            let line = [&password[..], b"\n"].concat();
            send(&stream, &line, deadline)?;
        }
        connection.install(stream);
        let max = self.options.max_bytes;
        if profile.proto == Proto::Bird {
            // `0001 BIRD 2.0.12 ready.`
            let greeting = connection.receive(deadline, max)?;
            if let Some(failure) = greeting.failure {
                return Err(ExchangeError::Denied(failure));
            }
        }
        if let Some(pattern) = &profile.greeting {
            read_greeting(connection, pattern, deadline)?;
        }
        if profile.proto == Proto::Openvpn && self.secret.is_some() {
            let answer = connection.receive(deadline, max)?;
            if !answer.body.starts_with(b"SUCCESS") {
                return Err(ExchangeError::Denied(
                    "the management password was refused".into(),
                ));
            }
        }
        if profile.proto == Proto::Dovecot {
            connection.framer_mut().expect_interim(1);
            send(
                connection.stream().expect("installed"),
                doveadm::HANDSHAKE,
                deadline,
            )?;
            let answer = connection.receive(deadline, max)?;
            if answer.failure.is_some() {
                return Err(ExchangeError::Denied(
                    "doveadm-server refused the handshake".into(),
                ));
            }
        }
        for line in &profile.preamble {
            let mut bytes = line.clone();
            bytes.extend_from_slice(if profile.crlf { b"\r\n" } else { b"\n" });
            let answer = connection.exchange(&Request::new(bytes, 0), deadline, max)?;
            if let Some(failure) = answer.failure {
                return Err(ExchangeError::Denied(failure));
            }
        }
        Ok(why)
    }
}

/// Reads raw bytes until `marker` has come (a prompt without a newline).
fn wait_for(
    stream: &crate::stream::Stream,
    marker: &[u8],
    deadline: Option<Instant>,
) -> Result<(), ExchangeError> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 512];
    while !seen.windows(marker.len()).any(|w| w == marker) {
        match stream.read_some(&mut buf, deadline) {
            Ok(0) => {
                return Err(ExchangeError::Closed {
                    received: Received::held(seen),
                });
            }
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(_) => {
                return Err(ExchangeError::NotProtocol {
                    protocol: "the service's greeting",
                    received: Received::held(seen),
                });
            }
        }
    }
    Ok(())
}

fn send(
    stream: &crate::stream::Stream,
    bytes: &[u8],
    deadline: Option<Instant>,
) -> Result<(), ExchangeError> {
    stream
        .send_all(bytes, deadline)
        .map_err(|_| ExchangeError::ClosedBeforeCommand)
}

/// Reads lines of a greeting up to one `pattern` matches.
fn read_greeting(
    connection: &mut Connection<ServiceFramer>,
    pattern: &Regex,
    deadline: Option<Instant>,
) -> Result<(), ExchangeError> {
    let mut greeting = Lines::new(Pattern(pattern.clone()));
    let stream = connection.stream().expect("installed");
    let mut buf = [0u8; 4096];
    loop {
        if greeting.next_reply().is_some() {
            // What came after the greeting belongs to the replies.
            let rest = greeting.take_pending();
            connection.framer_mut().push(&rest);
            return Ok(());
        }
        match stream.read_some(&mut buf, deadline) {
            Ok(0) => {
                return Err(ExchangeError::Closed {
                    received: Received::held(greeting.take_pending()),
                });
            }
            Ok(n) => greeting.push(&buf[..n]),
            Err(crate::stream::IoFailure::TimedOut) => {
                return Err(ExchangeError::Timeout {
                    phase: crate::error::Phase::Reply,
                    limit: None,
                    received: Received::held(greeting.take_pending()),
                });
            }
            Err(_) => {
                return Err(ExchangeError::Reset {
                    received: Received::held(greeting.take_pending()),
                });
            }
        }
    }
}
