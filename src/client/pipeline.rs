//! The loop of [`Connection::pipeline`]: requests written ahead of their replies.
//!
//! A server that answers each request before it reads the next (HAProxy's prompt mode, Redis,
//! most line protocols) sends the replies in order, so the framer cuts them apart exactly,
//! however many requests are on their way. Writing ahead saves a round trip per request; how
//! far ahead is the caller's `window` (1: one request at a time).
//!
//! The connection is non-blocking and every wait is one `poll` for both directions: a server
//! stops reading requests when its output buffer is full, so a client that only wrote until
//! all its requests were out, and only then read, would wait for ever on a long batch.

use std::time::{Duration, Instant};

use super::{Answer, Connection, Disconnect, Flow, Limits, Reconnect, Request};
use crate::error::{ExchangeError, Received};
use crate::framing::Framer;
use crate::stream::IoFailure;

/// The state of one [`Connection::pipeline`] call.
pub(super) struct Run<'a> {
    requests: &'a [Request],
    limits: &'a Limits,
    /// Bytes of admitted requests not written yet.
    out: Vec<u8>,
    /// Bytes written since the start.
    written: u64,
    /// Where each admitted request starts in the bytes written since the start.
    starts: Vec<u64>,
    pub(super) answered: usize,
    reply_deadline: Option<Instant>,
    /// When bytes last went out. Once it has answered them the server may count its idle
    /// time from there (`None`: nothing sent yet).
    last_sent: Option<Instant>,
    /// How many requests were answered when the connection was last replaced: a connection
    /// that closes again before the next reply is not replaced twice.
    replaced_at: Option<usize>,
    /// A write found the connection closed: nothing more is written, and what the server
    /// sent before closing is read.
    peer_gone: bool,
    /// The current connection was half-closed after its request (half-close framings).
    shut: bool,
    /// Whether the connection may be replaced (not while a hook replays its settings).
    pub(super) may_reconnect: bool,
}

/// A connection idle for less than this is not checked before the next request: servers
/// close idle CLI connections after seconds (HAProxy's CLI timeout, `set timeout cli`), and
/// the check costs a system call per request.
const IDLE_CHECK: Duration = Duration::from_secs(1);

impl<'a> Run<'a> {
    pub(super) fn new(requests: &'a [Request], limits: &'a Limits) -> Self {
        Run {
            requests,
            limits,
            out: Vec::new(),
            written: 0,
            starts: Vec::new(),
            answered: 0,
            reply_deadline: None,
            last_sent: None,
            replaced_at: None,
            peer_gone: false,
            shut: false,
            may_reconnect: true,
        }
    }

    /// Requests of which at least one byte went out.
    pub(super) fn sent(&self) -> usize {
        self.starts.partition_point(|&start| start < self.written)
    }

    fn restart_clock(&mut self) {
        let per_reply = self.limits.reply_timeout.map(|t| Instant::now() + t);
        self.reply_deadline = match (self.limits.deadline, per_reply) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Puts requests into the outgoing bytes while the window has room (one at a time on a
    /// half-close framing, where each has its own connection).
    fn admit<F: Framer>(&mut self, connection: &Connection<F>) {
        let window = if connection.half_close() {
            1
        } else {
            self.limits.window.max(1)
        };
        while self.starts.len() < self.requests.len() && self.starts.len() < self.answered + window
        {
            let request = &self.requests[self.starts.len()];
            self.starts.push(self.written + self.out.len() as u64);
            self.out.extend_from_slice(&request.bytes);
        }
    }

    /// Before a request goes into an empty pipeline, replaces a connection that is gone, or
    /// that the server closed while nothing was sent for a while.
    fn reconnect_if_needed<F: Framer, H: Reconnect<F>>(
        &mut self,
        connection: &mut Connection<F>,
        hook: &mut H,
        note: &mut Option<H::Note>,
    ) -> Result<(), ExchangeError> {
        let idle = self.answered == self.sent() && self.starts.len() < self.requests.len();
        let recent = self.last_sent.is_some_and(|t| t.elapsed() < IDLE_CHECK);
        if !idle || (connection.stream.is_some() && recent) {
            return Ok(());
        }
        if !self.may_reconnect {
            return match connection.stream {
                Some(_) => Ok(()),
                None => Err(ExchangeError::Closed {
                    received: Received::default(),
                }),
            };
        }
        self.replace_connection(connection, hook, note)
    }

    /// A connection that ended with every request written so far answered, and nothing else
    /// received: the server closed it between requests, and the rest was never sent.
    fn closed_between_requests<F: Framer>(&self, connection: &Connection<F>) -> bool {
        self.may_reconnect
            && self.answered == self.sent()
            && connection.framer.pending_len() == 0
            && self.replaced_at != Some(self.answered)
    }

    /// Reconnects if the connection is gone; the requests not written yet go on the new one.
    fn replace_connection<F: Framer, H: Reconnect<F>>(
        &mut self,
        connection: &mut Connection<F>,
        hook: &mut H,
        note: &mut Option<H::Note>,
    ) -> Result<(), ExchangeError> {
        if let Some(why) = connection.check_idle() {
            *note = Some(hook.reconnect(connection, why, self.limits.deadline)?);
            self.replaced_at = Some(self.answered);
            self.peer_gone = false;
            self.shut = false;
            let next = &self.requests[self.answered];
            connection.framer.expect_interim(next.interim);
        }
        Ok(())
    }

    /// Hands out one reply; `Ok(false)` when the caller wants no more.
    fn deliver<F: Framer, H: Reconnect<F>>(
        &mut self,
        connection: &mut Connection<F>,
        hook: &mut H,
        note: &mut Option<H::Note>,
        reply: F::Reply,
        to: &mut dyn FnMut(Answer<F::Reply, H::Note>) -> Flow,
    ) -> Result<bool, ExchangeError> {
        if self.answered >= self.sent() {
            // A reply to nothing we sent: the replies can no longer be told apart.
            let received = Received::held(connection.framer.take_pending());
            connection.drop_connection(Disconnect::Unexpected);
            return Err(ExchangeError::Unexpected { received });
        }
        hook.seen(&reply);
        let index = self.answered;
        self.answered += 1;
        if let Some(next) = self.requests.get(self.answered) {
            connection.framer.expect_interim(next.interim);
        }
        let answer = Answer {
            index,
            reply,
            reconnected: note.take(),
        };
        if to(answer) == Flow::Stop {
            if self.answered < self.sent() || !connection.framer.pending_len() == 0 {
                connection.drop_connection(Disconnect::Incomplete);
            }
            return Ok(false);
        }
        self.restart_clock();
        Ok(true)
    }

    pub(super) fn go<F: Framer, H: Reconnect<F>>(
        &mut self,
        connection: &mut Connection<F>,
        hook: &mut H,
        to: &mut dyn FnMut(Answer<F::Reply, H::Note>) -> Flow,
    ) -> Result<(), ExchangeError> {
        self.restart_clock();
        let mut note = None;
        if let Some(first) = self.requests.first() {
            connection.framer.expect_interim(first.interim);
        }
        // Read into spare capacity: a short reply does not pay for zeroing 64 KiB each time.
        let mut buf = Vec::with_capacity(64 * 1024);
        loop {
            while let Some(reply) = connection.framer.next_reply() {
                if !self.deliver(connection, hook, &mut note, reply, to)? {
                    return Ok(());
                }
            }
            if self.answered == self.requests.len() {
                if !connection.framer.pending_len() == 0 {
                    // More than one reply for a request: whatever it is, the next request
                    // must not read it as its own.
                    connection.drop_connection(Disconnect::Unexpected);
                }
                return Ok(());
            }
            // A peer that never stops sending keeps every read busy, so the deadline is
            // checked here, not only when a wait finds nothing to read.
            if self.reply_deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(connection.fail(IoFailure::TimedOut));
            }
            if let Some(limit) = self.limits.max_bytes
                && connection.framer.pending_len() as u64 > limit
            {
                // Taken, not copied: a reply at the limit is not held twice.
                let received = Received::held(connection.framer.take_pending());
                connection.drop_connection(Disconnect::Incomplete);
                return Err(ExchangeError::TooLarge { limit, received });
            }
            self.reconnect_if_needed(connection, hook, &mut note)?;
            self.admit(connection);
            let stream = connection.stream.as_ref().expect("connected");
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
                    Err(failure) => return Err(connection.fail(failure)),
                }
            }
            if self.out.is_empty() && !self.shut && !self.peer_gone && connection.half_close() {
                match stream.shutdown_write() {
                    Ok(()) => self.shut = true,
                    Err(IoFailure::Reset(_)) => self.peer_gone = true,
                    Err(failure) => return Err(connection.fail(failure)),
                }
            }
            match stream.read_now(&mut buf) {
                Ok(Some(n)) if n > 0 => {
                    connection.framer.push(&buf);
                    buf.clear();
                    continue;
                }
                // EOF ends the reply in a half-close framing, once the request went out.
                Ok(Some(_)) if self.answered < self.sent() && connection.half_close() => {
                    let reply = connection.framer.end();
                    connection.drop_connection(Disconnect::Closed);
                    if let Some(reply) = reply
                        && !self.deliver(connection, hook, &mut note, reply, to)?
                    {
                        return Ok(());
                    }
                    continue;
                }
                Ok(Some(_)) | Err(IoFailure::Reset(_))
                    if self.closed_between_requests(connection) =>
                {
                    connection.drop_connection(Disconnect::Idle);
                    self.replace_connection(connection, hook, &mut note)?;
                    continue;
                }
                Ok(Some(_)) => {
                    let received = Received::held(connection.framer.take_pending());
                    connection.drop_connection(Disconnect::Closed);
                    return Err(ExchangeError::Closed { received });
                }
                Ok(None) => {}
                Err(failure) => return Err(connection.fail(failure)),
            }
            if !progress {
                let writing = !self.out.is_empty() && !self.peer_gone;
                if let Err(failure) = stream.wait_ready(writing, self.reply_deadline) {
                    return Err(connection.fail(failure));
                }
            }
        }
    }
}
