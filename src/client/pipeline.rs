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

use super::{Answer, Connection, Disconnect, Flow, Limits, PART_MIN, Parts, Reconnect, Request};
use crate::error::{ExchangeError, Received};
use crate::framing::Framer;
use crate::stream::IoFailure;

/// The state of one [`Connection::pipeline`] call.
pub(super) struct Run<'a, 'p> {
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
    /// Takes large replies in parts as they come.
    pub(super) part: Option<&'p mut Parts<'p>>,
    /// Bytes of the reply in progress already handed to `part`.
    partial: u64,
}

/// A connection idle for less than this is not checked before the next request: servers
/// close idle CLI connections after seconds (HAProxy's CLI timeout, `set timeout cli`), and
/// the check costs a system call per request.
const IDLE_CHECK: Duration = Duration::from_secs(1);

impl<'a, 'p> Run<'a, 'p> {
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
            part: None,
            partial: 0,
        }
    }

    /// Bytes of the reply in progress handed to the caller's parts.
    pub(super) fn streamed(&self) -> u64 {
        self.partial
    }

    /// Hands the safe part of a large pending reply to the caller; `false` if it said stop.
    fn hand_part<F: Framer>(&mut self, connection: &mut Connection<F>) -> bool {
        // Bytes with no request to answer are judged when they are framed, not passed on.
        if self.part.is_none()
            || connection.framer.pending_len() < PART_MIN
            || self.answered >= self.sent()
        {
            return true;
        }
        let Some(part) = self.part.as_mut() else {
            return true;
        };
        let bytes = connection.framer.take_partial();
        if bytes.is_empty() {
            return true;
        }
        self.partial += bytes.len() as u64;
        if part(self.answered, &bytes) == Flow::Stop {
            connection.drop_connection(Disconnect::Incomplete);
            return false;
        }
        true
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

    /// How many requests may be unanswered at once: one on a half-close framing, where each
    /// has its own connection.
    fn window<F: Framer>(&self, connection: &Connection<F>) -> usize {
        if connection.half_close() {
            1
        } else {
            self.limits.window.max(1)
        }
    }

    /// Puts requests into the outgoing bytes while the window has room.
    fn admit<F: Framer>(&mut self, connection: &Connection<F>) {
        let window = self.window(connection);
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
        self.partial = 0;
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
            if self.answered < self.sent() || connection.framer.pending_len() > 0 {
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
        // What was passed on counts as received too.
        self.run(connection, hook, to)
            .map_err(|e| e.after_streamed(self.partial))
    }

    fn run<F: Framer, H: Reconnect<F>>(
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
                if connection.framer.pending_len() > 0 {
                    // More than one reply for a request: whatever it is, the next request
                    // must not read it as its own.
                    connection.drop_connection(Disconnect::Unexpected);
                }
                return Ok(());
            }
            if !self.hand_part(connection) {
                return Ok(());
            }
            // A peer that never stops sending keeps every read busy, so the deadline is
            // checked here, not only when a wait finds nothing to read.
            if self.reply_deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(connection.fail(IoFailure::TimedOut));
            }
            if let Some(limit) = self.limits.max_bytes
                && self.partial + connection.framer.pending_len() as u64 > limit
            {
                // Taken, not copied: a reply at the limit is not held twice.
                let received = Received::held(connection.framer.take_pending());
                connection.drop_connection(Disconnect::Incomplete);
                return Err(ExchangeError::TooLarge { limit, received });
            }
            self.reconnect_if_needed(connection, hook, &mut note)?;
            self.admit(connection);
            let stream = connection.stream.as_ref().expect("connected");
            // The socket took part of what is left to write: try again before waiting.
            let mut write_more = false;
            // The last bytes of the admitted requests went out just now.
            let mut wrote_all = false;
            if !self.out.is_empty() && !self.peer_gone {
                match stream.send_some(&self.out) {
                    Ok(n) => {
                        self.out.drain(..n);
                        self.written += n as u64;
                        if n > 0 {
                            self.last_sent = Some(Instant::now());
                            write_more = !self.out.is_empty();
                            wrote_all = self.out.is_empty();
                        }
                    }
                    Err(IoFailure::Reset(_)) => self.peer_gone = true,
                    Err(failure) => return Err(connection.fail(failure)),
                }
            }
            if self.out.is_empty()
                && !self.shut
                && !self.peer_gone
                && connection.half_close()
                && connection.framer.may_half_close()
            {
                match stream.shutdown_write() {
                    Ok(()) => self.shut = true,
                    Err(IoFailure::Reset(_)) => self.peer_gone = true,
                    Err(failure) => return Err(connection.fail(failure)),
                }
            }
            // One request at a time, the reply to the request just written is almost never
            // there yet: the server has still to be woken up, read it and answer. Waiting
            // before reading saves a `recv` that would fail with EAGAIN, leaving `send`,
            // `poll` and `recv` per request; when the reply is there, the wait returns at once.
            let read = if wrote_all && self.window(connection) == 1 {
                Ok(None)
            } else {
                stream.read_now(&mut buf)
            };
            match read {
                Ok(Some(n)) if n > 0 => {
                    connection.framer.push(&buf);
                    buf.clear();
                    continue;
                }
                // EOF ends the reply in a half-close framing, once the request went out.
                Ok(Some(_)) if self.answered < self.sent() && connection.half_close() => {
                    let Some(reply) = connection.framer.end() else {
                        // A reply EOF does not complete: cut.
                        let received = Received::held(connection.framer.take_pending());
                        connection.drop_connection(Disconnect::Closed);
                        return Err(ExchangeError::Closed { received });
                    };
                    connection.drop_connection(Disconnect::Closed);
                    if !self.deliver(connection, hook, &mut note, reply, to)? {
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
            // Nothing came in, and nothing more can go out until something does (or the
            // socket has room again): going round again would only repeat the `recv`.
            if !write_more {
                let writing = !self.out.is_empty() && !self.peer_gone;
                if let Err(failure) = stream.wait_ready(writing, self.reply_deadline) {
                    return Err(connection.fail(failure));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;
    use std::thread;

    use super::super::{Broken, Connection, Flow, Limits, Redial, Request};
    use crate::address::Address;
    use crate::command::Command;
    use crate::error::ExchangeError;
    use crate::framing::Framer;

    use super::*;

    /// Replies end at a newline.
    #[derive(Default)]
    struct Lines(Vec<u8>);

    impl Framer for Lines {
        type Reply = Vec<u8>;

        fn push(&mut self, chunk: &[u8]) {
            self.0.extend_from_slice(chunk);
        }

        fn next_reply(&mut self) -> Option<Vec<u8>> {
            let end = self.0.iter().position(|&b| b == b'\n')? + 1;
            Some(self.0.drain(..end).collect())
        }

        fn pending_len(&self) -> usize {
            self.0.len()
        }

        fn take_pending(&mut self) -> Vec<u8> {
            std::mem::take(&mut self.0)
        }

        fn clear(&mut self) {
            self.0.clear();
        }
    }

    /// A server on a fresh socket running `serve` on its one connection, and a client
    /// connection to it.
    fn serve(
        serve: impl FnOnce(std::os::unix::net::UnixStream) + Send + 'static,
    ) -> (Connection<Lines>, thread::JoinHandle<()>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = thread::spawn(move || serve(listener.accept().unwrap().0));
        let address = Address::Unix(path);
        let stream = crate::connect::connect(&address, Some(Duration::from_secs(3))).unwrap();
        (
            Connection::new(address, Some(stream), Lines::default()),
            server,
            dir,
        )
    }

    fn requests(lines: &[&str]) -> Vec<Request> {
        lines
            .iter()
            .map(|c| Request::line(&Command::new(*c).unwrap()))
            .collect()
    }

    fn run(
        connection: &mut Connection<Lines>,
        requests: &[Request],
        limits: &Limits,
    ) -> (Vec<Vec<u8>>, Result<(), Broken>) {
        let mut hook = Redial {
            connect_timeout: Some(Duration::from_secs(3)),
        };
        let mut replies = Vec::new();
        let result = connection.pipeline(requests, limits, &mut hook, &mut |answer| {
            replies.push(answer.reply);
            Flow::Continue
        });
        (replies, result)
    }

    /// Bytes after the last reply (the start of a second reply to one request) are no reply
    /// of the next request: the connection goes, and the next run starts on a new one.
    #[test]
    fn bytes_after_the_last_reply_end_the_connection() {
        let (mut connection, server, _dir) = serve(|mut conn| {
            let mut buf = [0u8; 64];
            let _ = conn.read(&mut buf).unwrap();
            conn.write_all(b"one\nextra").unwrap();
            let _ = conn.read(&mut buf);
        });
        let limits = Limits {
            reply_timeout: Some(Duration::from_secs(10)),
            ..Limits::default()
        };
        let (replies, result) = run(&mut connection, &requests(&["a"]), &limits);
        result.unwrap();
        assert_eq!(replies, [b"one\n"]);
        // Both lines came in one read: the extra one was there when the run ended.
        assert!(!connection.is_connected());
        drop(connection);
        server.join().unwrap();
    }

    /// One at a time, the client waits for each reply before it writes the next request
    /// (it waits before its first read, so a late reply must still be found).
    #[test]
    fn one_at_a_time_sends_each_request_after_the_reply_before() {
        let (mut connection, server, _dir) = serve(|mut conn| {
            let mut buf = [0u8; 64];
            for _ in 0..3 {
                let n = conn.read(&mut buf).unwrap();
                // A client that wrote ahead would have sent the next line during the sleep.
                thread::sleep(Duration::from_millis(30));
                assert_eq!(buf[n - 1], b'\n');
                assert_eq!(buf[..n].iter().filter(|&&b| b == b'\n').count(), 1);
                conn.write_all(&[b"re: ", &buf[..n]].concat()).unwrap();
            }
        });
        let limits = Limits {
            reply_timeout: Some(Duration::from_secs(10)),
            ..Limits::default()
        };
        let (replies, result) = run(&mut connection, &requests(&["a", "b", "c"]), &limits);
        result.unwrap();
        server.join().unwrap();
        assert_eq!(replies, [b"re: a\n", b"re: b\n", b"re: c\n"]);
    }

    /// A server that reads the request and never answers: the wait ends at the reply timeout.
    #[test]
    fn one_at_a_time_keeps_the_reply_timeout() {
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let (mut connection, server, _dir) = serve(move |mut conn| {
            let mut buf = [0u8; 64];
            let _ = conn.read(&mut buf).unwrap();
            let _ = wait.recv_timeout(Duration::from_secs(10));
        });
        let limits = Limits {
            reply_timeout: Some(Duration::from_millis(200)),
            ..Limits::default()
        };
        let started = Instant::now();
        let (replies, result) = run(&mut connection, &requests(&["a"]), &limits);
        let took = started.elapsed();
        done.send(()).unwrap();
        server.join().unwrap();
        assert!(replies.is_empty());
        let broken = result.unwrap_err();
        assert!(
            matches!(broken.error, ExchangeError::Timeout { .. }),
            "{broken:?}"
        );
        assert_eq!((broken.answered, broken.sent), (0, 1));
        assert!(took >= Duration::from_millis(200), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    /// A reply that never ends is cut at the byte limit.
    #[test]
    fn one_at_a_time_keeps_the_byte_limit() {
        let (mut connection, server, _dir) = serve(|mut conn| {
            let mut buf = [0u8; 64];
            let _ = conn.read(&mut buf).unwrap();
            let chunk = [b'x'; 512];
            // Until the client hangs up.
            while conn.write_all(&chunk).is_ok() {}
        });
        let limits = Limits {
            reply_timeout: Some(Duration::from_secs(10)),
            max_bytes: Some(4096),
            ..Limits::default()
        };
        let (replies, result) = run(&mut connection, &requests(&["a"]), &limits);
        drop(connection);
        server.join().unwrap();
        assert!(replies.is_empty());
        let broken = result.unwrap_err();
        assert!(
            matches!(broken.error, ExchangeError::TooLarge { limit: 4096, .. }),
            "{broken:?}"
        );
    }
}
