//! Many commands on one prompt-mode connection, written ahead of their replies.
//!
//! HAProxy reads the commands of a prompt-mode connection one line at a time and answers each
//! with its reply and a prompt before it reads the next, so the replies come back in order
//! and the [`Framer`](crate::haproxy::framing::Framer) cuts them apart exactly, however many
//! commands are on their way. Writing ahead saves a round trip per command; how far ahead is
//! the caller's `window` (1: one command at a time).
//!
//! The connection is non-blocking and every wait is one `poll` for both directions: HAProxy
//! stops reading commands when its output buffer is full, so a client that only wrote until
//! all its commands were out, and only then read, would wait for ever on a long batch.

use std::time::{Duration, Instant};

use super::{Disconnect, Reconnected, Session, SessionError, is_payload_command};
use crate::exchange::Command;
use crate::haproxy::framing::Framed;
use crate::stream::IoFailure;

/// One command line as it goes on the wire, with its payload if it takes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    bytes: Vec<u8>,
    /// The `+ ` prompts that may come before the reply: one per line read in payload mode.
    payload_prompts: usize,
}

impl Request {
    /// `command`, and when it ends in `<<`, the `payload` lines and the empty line that ends
    /// them (`payload` is ignored otherwise).
    pub fn new(command: &[u8], payload: &[Command]) -> Request {
        let mut bytes = command.to_vec();
        bytes.push(b'\n');
        let mut payload_prompts = 0;
        if is_payload_command(command) {
            for line in payload {
                bytes.extend_from_slice(line.as_bytes());
                bytes.push(b'\n');
            }
            bytes.push(b'\n');
            payload_prompts = 1 + payload.len();
        }
        Request {
            bytes,
            payload_prompts,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Limits for [`Session::pipeline`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// Requests written but not answered yet, at most (at least 1).
    pub window: usize,
    /// The whole run ends by then.
    pub deadline: Option<Instant>,
    /// Each reply must complete within this time of the one before (or of the start).
    pub reply_timeout: Option<Duration>,
    /// A reply larger than this many bytes is an error.
    pub max_bytes: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            window: 1,
            deadline: None,
            reply_timeout: None,
            max_bytes: None,
        }
    }
}

/// What the caller wants after a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Send nothing more. Replies still on their way are abandoned with the connection.
    Stop,
}

/// One reply of [`Session::pipeline`].
#[derive(Debug)]
pub struct Answer {
    /// The request it answers.
    pub index: usize,
    pub framed: Framed,
    /// The connection was replaced before the request was sent: the server had closed it
    /// while it was idle.
    pub reconnected: Option<Reconnected>,
}

/// Why [`Session::pipeline`] ended before every request had its reply.
#[derive(Debug)]
pub struct Broken {
    /// Requests whose replies were handed out; request `answered` is the one whose reply did
    /// not complete.
    pub answered: usize,
    /// Requests written, in whole or in part: those from `answered` on may have run.
    pub sent: usize,
    pub error: SessionError,
}

impl Session {
    /// Sends `requests` in order, at most `limits.window` of them unanswered at a time, and
    /// hands each reply to `reply` as soon as it is complete. Whenever nothing is on its way,
    /// a connection the server closed while idle is replaced before the next request is sent
    /// (nothing of it was sent on the old one). When the connection fails, every reply before
    /// the failure has been handed out, and [`Broken`] says which requests may have run
    /// without an answer; the next call reconnects.
    pub fn pipeline(
        &mut self,
        requests: &[Request],
        limits: &Limits,
        reply: &mut dyn FnMut(Answer) -> Flow,
    ) -> Result<(), Broken> {
        let mut run = Run::new(requests, limits);
        match run.go(self, reply) {
            Ok(()) => Ok(()),
            Err(error) => Err(Broken {
                answered: run.answered,
                sent: run.sent(),
                error,
            }),
        }
    }

    /// Sends one command (and its payload) on the open connection and reads its reply. Any
    /// failure drops the connection: it may still carry the rest of the reply.
    pub(super) fn exchange(
        &mut self,
        command: &[u8],
        payload: &[Command],
        deadline: Option<Instant>,
    ) -> Result<Framed, SessionError> {
        let requests = [Request::new(command, payload)];
        let limits = Limits {
            deadline,
            max_bytes: self.options.max_bytes,
            ..Limits::default()
        };
        let mut framed = None;
        let mut run = Run::new(&requests, &limits);
        // The caller has just connected or checked the connection, and may be reconnecting.
        run.may_reconnect = false;
        run.go(self, &mut |answer| {
            framed = Some(answer.framed);
            Flow::Continue
        })?;
        Ok(framed.expect("a run ends with every reply or an error"))
    }
}

/// The state of one [`Session::pipeline`] call.
struct Run<'a> {
    requests: &'a [Request],
    limits: &'a Limits,
    /// Bytes of admitted requests not written yet.
    out: Vec<u8>,
    /// Bytes written since the start.
    written: u64,
    /// Where each admitted request starts in the bytes written since the start.
    starts: Vec<u64>,
    answered: usize,
    reply_deadline: Option<Instant>,
    /// When bytes last went out. Once it has answered them the server may count its idle
    /// time from there (`None`: nothing sent yet).
    last_sent: Option<Instant>,
    reconnected: Option<Reconnected>,
    /// How many requests were answered when the connection was last replaced: a connection
    /// that closes again before the next reply is not replaced twice.
    replaced_at: Option<usize>,
    /// A write found the connection closed: nothing more is written, and what the server
    /// sent before closing is read.
    peer_gone: bool,
    /// Whether the connection may be replaced (not while a reconnect replays its settings).
    may_reconnect: bool,
}

/// A connection idle for less than this is not checked before the next request: servers
/// close idle CLI connections after seconds (HAProxy's CLI timeout, `set timeout cli`), and
/// the check costs a system call per request.
const IDLE_CHECK: Duration = Duration::from_secs(1);

impl<'a> Run<'a> {
    fn new(requests: &'a [Request], limits: &'a Limits) -> Self {
        Run {
            requests,
            limits,
            out: Vec::new(),
            written: 0,
            starts: Vec::new(),
            answered: 0,
            reply_deadline: None,
            last_sent: None,
            reconnected: None,
            replaced_at: None,
            peer_gone: false,
            may_reconnect: true,
        }
    }

    /// Requests of which at least one byte went out.
    fn sent(&self) -> usize {
        self.starts.partition_point(|&start| start < self.written)
    }

    fn restart_clock(&mut self) {
        let per_reply = self.limits.reply_timeout.map(|t| Instant::now() + t);
        self.reply_deadline = match (self.limits.deadline, per_reply) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Puts requests into the outgoing bytes while the window has room.
    fn admit(&mut self) {
        let window = self.limits.window.max(1);
        while self.starts.len() < self.requests.len() && self.starts.len() < self.answered + window
        {
            let request = &self.requests[self.starts.len()];
            self.starts.push(self.written + self.out.len() as u64);
            self.out.extend_from_slice(&request.bytes);
        }
    }

    /// Before a request goes into an empty pipeline when nothing was sent for a while,
    /// replaces the connection if the server closed it meanwhile.
    fn reconnect_if_idle_closed(&mut self, session: &mut Session) -> Result<(), SessionError> {
        let idle = self.answered == self.sent() && self.starts.len() < self.requests.len();
        let recent = self.last_sent.is_some_and(|t| t.elapsed() < IDLE_CHECK);
        if !self.may_reconnect || !idle || recent {
            return Ok(());
        }
        self.replace_connection(session)
    }

    /// A connection that ended with every request written so far answered, and nothing else
    /// received: the server closed it between requests, and the rest was never sent.
    fn closed_between_requests(&self, session: &Session) -> bool {
        self.may_reconnect
            && self.answered == self.sent()
            && session.framer.pending().is_empty()
            && self.replaced_at != Some(self.answered)
    }

    /// Reconnects if the connection is gone; the requests not written yet go on the new one.
    fn replace_connection(&mut self, session: &mut Session) -> Result<(), SessionError> {
        if let Some(again) = session.reconnect_if_lost(self.limits.deadline)? {
            self.reconnected = Some(again);
            self.replaced_at = Some(self.answered);
            self.peer_gone = false;
            let next = &self.requests[self.answered];
            session.framer.expect_payload_prompts(next.payload_prompts);
        }
        Ok(())
    }

    fn go(
        &mut self,
        session: &mut Session,
        reply: &mut dyn FnMut(Answer) -> Flow,
    ) -> Result<(), SessionError> {
        self.restart_clock();
        if let Some(first) = self.requests.first() {
            session.framer.expect_payload_prompts(first.payload_prompts);
        }
        // Read into spare capacity: a short reply does not pay for zeroing 64 KiB each time.
        let mut buf = Vec::with_capacity(64 * 1024);
        loop {
            while let Some(framed) = session.framer.next_reply() {
                if self.answered >= self.sent() {
                    // A reply to nothing we sent: the replies can no longer be told apart.
                    session.drop_connection(Disconnect::Unexpected);
                    return Err(SessionError::Unexpected {
                        received: framed.body,
                    });
                }
                session.prompt = framed.prompt.clone();
                let index = self.answered;
                self.answered += 1;
                if let Some(next) = self.requests.get(self.answered) {
                    session.framer.expect_payload_prompts(next.payload_prompts);
                }
                let answer = Answer {
                    index,
                    framed,
                    reconnected: self.reconnected.take(),
                };
                if reply(answer) == Flow::Stop {
                    if self.answered < self.sent() || !session.framer.pending().is_empty() {
                        session.drop_connection(Disconnect::Incomplete);
                    }
                    return Ok(());
                }
                self.restart_clock();
            }
            if self.answered == self.requests.len() {
                if !session.framer.pending().is_empty() {
                    // More than one reply for a command: whatever it is, the next command
                    // must not read it as its own.
                    session.drop_connection(Disconnect::Unexpected);
                }
                return Ok(());
            }
            // A peer that never stops sending keeps every read busy, so the deadline is
            // checked here, not only when a wait finds nothing to read.
            if self.reply_deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(session.fail(IoFailure::TimedOut));
            }
            if let Some(limit) = self.limits.max_bytes
                && session.framer.pending().len() as u64 > limit
            {
                // Taken, not copied: a reply at the limit is not held twice.
                let received = session.framer.take_pending();
                session.drop_connection(Disconnect::Incomplete);
                return Err(SessionError::TooLarge { limit, received });
            }
            self.reconnect_if_idle_closed(session)?;
            self.admit();
            let stream = session.stream.as_ref().expect("connected");
            let mut progress = false;
            if !self.out.is_empty() && !self.peer_gone {
                match stream.send_some(&self.out) {
                    Ok(n) => {
                        self.out.drain(..n);
                        self.written += n as u64;
                        progress = n > 0;
                        if progress {
                            self.last_sent = Some(Instant::now());
                        }
                    }
                    Err(IoFailure::Reset(_)) => self.peer_gone = true,
                    Err(failure) => return Err(session.fail(failure)),
                }
            }
            match stream.read_now(&mut buf) {
                Ok(Some(n)) if n > 0 => {
                    session.framer.push(&buf);
                    buf.clear();
                    continue;
                }
                Ok(Some(_)) | Err(IoFailure::Reset(_)) if self.closed_between_requests(session) => {
                    session.drop_connection(Disconnect::Idle);
                    self.replace_connection(session)?;
                    continue;
                }
                Ok(Some(_)) => {
                    let received = session.framer.pending().to_vec();
                    session.drop_connection(Disconnect::Closed);
                    return Err(SessionError::Closed { received });
                }
                Ok(None) => {}
                Err(failure) => return Err(session.fail(failure)),
            }
            if !progress {
                let writing = !self.out.is_empty() && !self.peer_gone;
                if let Err(failure) = stream.wait_ready(writing, self.reply_deadline) {
                    return Err(session.fail(failure));
                }
            }
        }
    }
}
