//! A persistent connection that carries many requests, for any [`Framer`].
//!
//! [`Connection::pipeline`] writes requests ahead of their replies (up to a window), reads the
//! replies in order as the framer cuts them, keeps one deadline per reply and one for the run,
//! and replaces a connection the server closed between requests through a [`Reconnect`] hook
//! (a protocol that needs a handshake or restores settings does that there). A request is never
//! sent twice: when a connection ends after a request went out, that is an error for the
//! request, and the next call reconnects.
//!
//! With a half-close framing ([`Ending::HalfClose`]) each request gets a connection of its own,
//! opened by the hook: the same loop then runs one-command-per-connection servers.

use std::fmt;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, poll};
use rustix::io::Errno;
use rustix::net::RecvFlags;

use crate::address::Address;
use crate::connect::connect;
use crate::error::{ExchangeError, Phase, Received};
use crate::framing::{Ending, Framer};
use crate::stream::{IoFailure, Stream};

mod pipeline;

/// One request as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    bytes: Vec<u8>,
    /// Interim answers that may come before the reply (see [`Framer::expect_interim`]).
    interim: usize,
}

impl Request {
    pub fn new(bytes: Vec<u8>, interim: usize) -> Request {
        Request { bytes, interim }
    }

    /// A command and its newline.
    pub fn line(command: &crate::command::Command) -> Request {
        Request::new(command.line(), 0)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn interim(&self) -> usize {
        self.interim
    }
}

/// Limits for [`Connection::pipeline`].
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

/// One reply of [`Connection::pipeline`].
#[derive(Debug)]
pub struct Answer<Reply, Note> {
    /// The request it answers.
    pub index: usize,
    pub reply: Reply,
    /// The connection was replaced before the request was sent (what the hook said).
    pub reconnected: Option<Note>,
}

/// Takes the bytes of a large reply as they arrive, so that no reply need be held whole: the
/// index of the request it answers and the bytes, which the framer says belong to that reply
/// whatever comes next ([`Framer::take_partial`]). Replies under [`PART_MIN`] bytes come whole,
/// as [`Answer`]s only. [`Flow::Stop`] ends the run (the connection is dropped).
pub type Parts<'a> = dyn FnMut(usize, &[u8]) -> Flow + 'a;

/// Pending bytes of a reply are handed to [`Parts`] from this size on.
pub const PART_MIN: usize = 64 * 1024;

/// Why [`Connection::pipeline`] ended before every request had its reply.
#[derive(Debug)]
pub struct Broken {
    /// Requests whose replies were handed out; request `answered` is the one whose reply did
    /// not complete.
    pub answered: usize,
    /// Requests written, in whole or in part: those from `answered` on may have run.
    pub sent: usize,
    pub error: ExchangeError,
}

/// Why the previous connection was replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disconnect {
    /// The server had closed it while we were idle (a CLI's idle timeout).
    Idle,
    /// The server closed it as the last command asked (an HAProxy master's `reload`).
    Asked,
    /// The server closed the connection after the previous command (an HAProxy 2.6 master
    /// does so after its own error messages; a half-close framing after every reply).
    Closed,
    /// The previous reply did not complete (deadline, interrupt, reset), so the connection
    /// still carried the rest of it.
    Incomplete,
    /// Bytes arrived that belong to no command we sent.
    Unexpected,
    /// The caller asked for it.
    Requested,
}

impl fmt::Display for Disconnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Disconnect::Idle => "the server closed the idle connection",
            Disconnect::Asked => "the master closed the connection to reload",
            Disconnect::Closed => "the server closed the connection after the last command",
            Disconnect::Incomplete => "the previous reply did not complete",
            Disconnect::Unexpected => "the server sent bytes nobody asked for",
            Disconnect::Requested => "reconnect requested",
        })
    }
}

/// Opens a replacement connection: connects, does the protocol's handshake, restores what
/// the connection had (settings, a target), and says what it did.
pub trait Reconnect<F: Framer> {
    type Note;

    /// Called when the connection is gone and a request is about to be sent. `why` is the
    /// reason it went. Installs the new stream with [`Connection::install`].
    fn reconnect(
        &mut self,
        connection: &mut Connection<F>,
        why: Disconnect,
        deadline: Option<Instant>,
    ) -> Result<Self::Note, ExchangeError>;

    /// Sees every reply handed out (e.g. to track the prompt).
    fn seen(&mut self, reply: &F::Reply) {
        let _ = reply;
    }
}

/// The plain hook: connect again, nothing to restore.
#[derive(Debug, Clone)]
pub struct Redial {
    pub connect_timeout: Option<Duration>,
}

impl<F: Framer> Reconnect<F> for Redial {
    type Note = Disconnect;

    fn reconnect(
        &mut self,
        connection: &mut Connection<F>,
        why: Disconnect,
        deadline: Option<Instant>,
    ) -> Result<Disconnect, ExchangeError> {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let limit = match (self.connect_timeout, left) {
            (Some(c), Some(l)) => Some(c.min(l)),
            (c, l) => c.or(l),
        };
        let stream = connect(connection.address(), limit).map_err(ExchangeError::Connect)?;
        connection.install(stream);
        Ok(why)
    }
}

/// A connection (or the lack of one, until the next request) and the framer of its replies.
#[derive(Debug)]
pub struct Connection<F> {
    address: Address,
    stream: Option<Stream>,
    framer: F,
    /// Why the stream is gone, when it is.
    lost: Option<Disconnect>,
}

impl<F: Framer> Connection<F> {
    /// A connection on `stream`, or one the first request opens through its hook.
    pub fn new(address: Address, stream: Option<Stream>, framer: F) -> Self {
        let lost = stream.is_none().then_some(Disconnect::Requested);
        Connection {
            address,
            stream,
            framer,
            lost,
        }
    }

    pub fn address(&self) -> &Address {
        &self.address
    }

    pub fn framer(&self) -> &F {
        &self.framer
    }

    pub fn framer_mut(&mut self) -> &mut F {
        &mut self.framer
    }

    pub fn stream(&self) -> Option<&Stream> {
        self.stream.as_ref()
    }

    /// Whether a connection is open (the server may have closed it since).
    pub fn is_connected(&self) -> bool {
        self.stream.is_some()
    }

    /// Puts a new stream in place, with nothing buffered.
    pub fn install(&mut self, stream: Stream) {
        self.framer.clear();
        self.stream = Some(stream);
        self.lost = None;
    }

    /// Drops the stream; the next request reconnects.
    pub fn drop_connection(&mut self, why: Disconnect) {
        self.stream = None;
        self.framer.clear();
        self.lost = Some(why);
    }

    /// Why the connection is gone, if it is, after checking whether the server closed it while
    /// it was idle (never blocks).
    pub fn check_idle(&mut self) -> Option<Disconnect> {
        if let Some(stream) = &self.stream
            && let Some(why) = idle_state(stream)
        {
            self.drop_connection(why);
        }
        if self.stream.is_none() {
            return Some(self.lost.unwrap_or(Disconnect::Requested));
        }
        None
    }

    /// Ends the connection after a failure that leaves it unusable, with what had arrived.
    fn fail(&mut self, failure: IoFailure) -> ExchangeError {
        let received = Received::held(self.framer.take_pending());
        self.drop_connection(Disconnect::Incomplete);
        match failure {
            IoFailure::TimedOut => ExchangeError::Timeout {
                phase: Phase::Reply,
                limit: None,
                received,
            },
            IoFailure::Interrupted => ExchangeError::Interrupted { received },
            IoFailure::Reset(_) => ExchangeError::Reset { received },
            IoFailure::Other(source) => ExchangeError::Io {
                phase: Phase::Reply,
                source,
                received,
            },
        }
    }

    /// Sends one request on the open connection and reads its reply, without reconnecting
    /// (a hook replaying its settings uses this). Any failure drops the connection.
    pub fn exchange(
        &mut self,
        request: &Request,
        deadline: Option<Instant>,
        max_bytes: Option<u64>,
    ) -> Result<F::Reply, ExchangeError> {
        self.exchange_parts(request, deadline, max_bytes, None)
    }

    /// [`exchange`](Connection::exchange), handing the reply's bytes to `part` as they come
    /// once it is large (see [`Parts`]); the reply returned is then only the rest.
    pub fn exchange_parts<'p>(
        &mut self,
        request: &Request,
        deadline: Option<Instant>,
        max_bytes: Option<u64>,
        part: Option<&'p mut Parts<'p>>,
    ) -> Result<F::Reply, ExchangeError> {
        let limits = Limits {
            deadline,
            max_bytes,
            ..Limits::default()
        };
        let mut reply = None;
        let mut run = pipeline::Run::new(std::slice::from_ref(request), &limits);
        run.may_reconnect = false;
        run.part = part;
        run.go(self, &mut NoReconnect, &mut |answer: Answer<
            F::Reply,
            (),
        >| {
            reply = Some(answer.reply);
            Flow::Continue
        })?;
        // Only a part that asked to stop ends a run without the reply.
        reply.ok_or(ExchangeError::Interrupted {
            received: Received::streamed(run.streamed()),
        })
    }

    /// Sends `requests` in order, at most `limits.window` of them unanswered at a time, and
    /// hands each reply to `reply` as soon as it is complete. Whenever nothing is on its way,
    /// a connection the server closed is replaced through `hook` before the next request is
    /// sent (nothing of it was sent on the old one). When the connection fails, every reply
    /// before the failure has been handed out, and [`Broken`] says which requests may have run
    /// without an answer; the next call reconnects.
    pub fn pipeline<H: Reconnect<F>>(
        &mut self,
        requests: &[Request],
        limits: &Limits,
        hook: &mut H,
        reply: &mut dyn FnMut(Answer<F::Reply, H::Note>) -> Flow,
    ) -> Result<(), Broken> {
        self.pipeline_parts(requests, limits, hook, None, reply)
    }

    /// [`pipeline`](Connection::pipeline), handing each large reply's bytes to `part` as they
    /// come (see [`Parts`]); its [`Answer`] then carries only the rest.
    pub fn pipeline_parts<'p, H: Reconnect<F>>(
        &mut self,
        requests: &[Request],
        limits: &Limits,
        hook: &mut H,
        part: Option<&'p mut Parts<'p>>,
        reply: &mut dyn FnMut(Answer<F::Reply, H::Note>) -> Flow,
    ) -> Result<(), Broken> {
        let mut run = pipeline::Run::new(requests, limits);
        run.part = part;
        match run.go(self, hook, reply) {
            Ok(()) => Ok(()),
            Err(error) => Err(Broken {
                answered: run.answered,
                sent: run.sent(),
                error,
            }),
        }
    }

    /// Reads one reply without sending anything: a greeting, or all a server that writes on
    /// connect and never reads has to say (its reply then ends at EOF).
    pub fn receive(
        &mut self,
        deadline: Option<Instant>,
        max_bytes: Option<u64>,
    ) -> Result<F::Reply, ExchangeError> {
        let mut buf = Vec::with_capacity(64 * 1024);
        loop {
            if let Some(reply) = self.framer.next_reply() {
                return Ok(reply);
            }
            if let Some(limit) = max_bytes
                && self.framer.pending_len() as u64 > limit
            {
                let received = Received::held(self.framer.take_pending());
                self.drop_connection(Disconnect::Incomplete);
                return Err(ExchangeError::TooLarge { limit, received });
            }
            let Some(stream) = &self.stream else {
                return Err(ExchangeError::Closed {
                    received: Received::default(),
                });
            };
            buf.clear();
            match stream.read_append(&mut buf, deadline) {
                Ok(0) => {
                    let reply = self.framer.end();
                    let received = Received::held(self.framer.take_pending());
                    self.drop_connection(Disconnect::Closed);
                    return reply.ok_or(ExchangeError::Closed { received });
                }
                Ok(_) => self.framer.push(&buf),
                Err(failure) => return Err(self.fail(failure)),
            }
        }
    }

    fn half_close(&self) -> bool {
        self.framer.ending() == Ending::HalfClose
    }
}

/// The hook of [`Connection::exchange`], which never reconnects.
struct NoReconnect;

impl<F: Framer> Reconnect<F> for NoReconnect {
    type Note = ();

    fn reconnect(
        &mut self,
        _: &mut Connection<F>,
        _: Disconnect,
        _: Option<Instant>,
    ) -> Result<(), ExchangeError> {
        Err(ExchangeError::Closed {
            received: Received::default(),
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::Eof;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;

    /// A server that answers one command per connection, after the client's half-close, as
    /// `nc -N` expects: the half-close framing runs each request on a connection of its own.
    #[test]
    fn half_close_framing_gives_each_request_its_own_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for _ in 0..3 {
                let (mut conn, _) = listener.accept().unwrap();
                let mut command = Vec::new();
                conn.read_to_end(&mut command).unwrap();
                conn.write_all(&[b"reply to ", &command[..]].concat())
                    .unwrap();
                seen.push(command);
            }
            seen
        });
        let address = Address::Unix(path);
        let mut connection = Connection::new(address, None, Eof::new());
        let requests: Vec<Request> = ["a", "b", "c"]
            .iter()
            .map(|c| Request::line(&crate::command::Command::new(*c).unwrap()))
            .collect();
        let limits = Limits {
            window: 8,
            deadline: Some(Instant::now() + Duration::from_secs(10)),
            ..Limits::default()
        };
        let mut hook = Redial {
            connect_timeout: Some(Duration::from_secs(3)),
        };
        let mut replies = Vec::new();
        connection
            .pipeline(&requests, &limits, &mut hook, &mut |answer| {
                replies.push((answer.index, answer.reply, answer.reconnected));
                Flow::Continue
            })
            .unwrap();
        assert_eq!(server.join().unwrap(), [b"a\n", b"b\n", b"c\n"]);
        let bodies: Vec<&[u8]> = replies.iter().map(|(_, r, _)| &r[..]).collect();
        assert_eq!(bodies, [b"reply to a\n", b"reply to b\n", b"reply to c\n"]);
        assert!(replies.iter().all(|(_, _, again)| again.is_some()));
    }
}
