//! One command, one connection, one complete reply.
//!
//! Connect, send the command and a newline, half-close (`shutdown(SHUT_WR)`) so the server
//! knows no more is coming, then read until a clean EOF. A short read is never the end of a
//! reply; running out of time, a reset, or a reply over the size limit is an error that says
//! how many bytes did arrive.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::address::Address;
use crate::command::Command;
use crate::connect::connect;
use crate::error::{ExchangeError, Phase, Received};
use crate::stream::{IoFailure, Peer, Stream};

/// The facts of a finished exchange, for `-v` and JSON output.
#[derive(Debug, Clone)]
pub struct Report {
    pub peer: Peer,
    pub sent: u64,
    pub received: u64,
    pub connected: Duration,
    pub first_byte: Option<Duration>,
    pub eof: Duration,
}

/// Limits for one exchange. `Exchange::default()` waits at most 10 s in all and 3 s to connect.
#[derive(Debug, Clone)]
pub struct Exchange {
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    max_bytes: Option<u64>,
    buffer_size: usize,
}

impl Default for Exchange {
    fn default() -> Self {
        Exchange {
            timeout: Some(Duration::from_secs(10)),
            connect_timeout: Some(Duration::from_secs(3)),
            idle_timeout: None,
            max_bytes: None,
            buffer_size: 64 * 1024,
        }
    }
}

impl Exchange {
    pub fn new() -> Self {
        Self::default()
    }

    /// The whole exchange, connect included (`None`: no limit).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Longest silence allowed between reply bytes.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    pub fn max_bytes(mut self, limit: Option<u64>) -> Self {
        self.max_bytes = limit;
        self
    }

    /// Size of the read buffer (at least 1 KiB).
    pub fn buffer_size(mut self, size: usize) -> Self {
        self.buffer_size = size.max(1024);
        self
    }

    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    pub fn get_connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    pub fn get_max_bytes(&self) -> Option<u64> {
        self.max_bytes
    }

    /// Sends `command` to `addr` and streams the whole reply into `sink`.
    pub fn run(
        &self,
        addr: &Address,
        command: &Command,
        sink: &mut dyn Write,
    ) -> Result<Report, ExchangeError> {
        let start = Instant::now();
        let connect_timeout = match (self.connect_timeout, self.timeout) {
            (Some(c), Some(t)) => Some(c.min(t)),
            (c, t) => c.or(t),
        };
        let stream = connect(addr, connect_timeout).map_err(ExchangeError::Connect)?;
        let connected = start.elapsed();
        self.exchange_on(stream, command, sink, start, connected)
    }

    /// The exchange on an already connected stream, e.g. one the caller connected itself.
    pub fn run_on(
        &self,
        stream: Stream,
        command: &Command,
        sink: &mut dyn Write,
    ) -> Result<Report, ExchangeError> {
        self.exchange_on(stream, command, sink, Instant::now(), Duration::ZERO)
    }

    /// Passes what the server had sent before it closed on to `sink`, up to the size limit.
    fn salvage(&self, stream: &Stream, sink: &mut dyn Write, deadline: Option<Instant>) {
        let mut buf = Vec::with_capacity(self.buffer_size);
        let mut received: u64 = 0;
        loop {
            buf.clear();
            match stream.read_append(&mut buf, deadline) {
                Ok(n) if n > 0 => {
                    received += n as u64;
                    if self.max_bytes.is_some_and(|limit| received > limit)
                        || sink.write_all(&buf[..n]).is_err()
                    {
                        return;
                    }
                }
                _ => return,
            }
        }
    }

    fn exchange_on(
        &self,
        stream: Stream,
        command: &Command,
        sink: &mut dyn Write,
        start: Instant,
        connected: Duration,
    ) -> Result<Report, ExchangeError> {
        let deadline = self.timeout.map(|t| start + t);
        let line = command.line();
        let timed_out = |phase, received| ExchangeError::Timeout {
            phase,
            limit: self.timeout,
            received: Received::streamed(received),
        };
        let sent = stream
            .send_all(&line, deadline)
            .and_then(|()| stream.shutdown_write());
        if let Err(failure) = sent {
            return Err(match failure {
                IoFailure::TimedOut => timed_out(Phase::Send, 0),
                IoFailure::Interrupted => ExchangeError::interrupted(),
                IoFailure::Reset(_) => {
                    // A server that writes on connect and never reads (uwsgi's stats) has
                    // closed: what it wrote is still there, and is shown with the error.
                    self.salvage(&stream, sink, deadline);
                    ExchangeError::ClosedBeforeCommand
                }
                IoFailure::Other(source) => ExchangeError::Io {
                    phase: Phase::Send,
                    source,
                    received: Received::default(),
                },
            });
        }

        let mut buf = Vec::with_capacity(self.buffer_size);
        let mut received: u64 = 0;
        let mut first_byte = None;
        let mut last_byte = Instant::now();
        loop {
            let idle_deadline = self.idle_timeout.map(|idle| last_byte + idle);
            let wait_until = match (deadline, idle_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            buf.clear();
            let n = match stream.read_append(&mut buf, wait_until) {
                Ok(0) => break,
                Ok(n) => n,
                Err(IoFailure::TimedOut) => {
                    return Err(match (deadline, self.idle_timeout) {
                        (Some(d), _) if Instant::now() >= d => timed_out(Phase::Reply, received),
                        (_, Some(limit)) => ExchangeError::Idle {
                            limit,
                            received: Received::streamed(received),
                        },
                        _ => timed_out(Phase::Reply, received),
                    });
                }
                Err(IoFailure::Interrupted) => {
                    return Err(ExchangeError::Interrupted {
                        received: Received::streamed(received),
                    });
                }
                // A reset before any reply byte means the command was never read: that is the
                // same failure as an EPIPE on send, only noticed later (TCP reports it here).
                Err(IoFailure::Reset(_)) if received == 0 => {
                    return Err(ExchangeError::ClosedBeforeCommand);
                }
                // A read never fails with EPIPE on a socket: this is a socket on another host
                // (`ssh://`) whose server closed without reading the command; what it wrote
                // first has been passed on, as a salvage would.
                Err(IoFailure::Reset(rustix::io::Errno::PIPE)) => {
                    return Err(ExchangeError::ClosedBeforeCommand);
                }
                Err(IoFailure::Reset(_)) => {
                    return Err(ExchangeError::Reset {
                        received: Received::streamed(received),
                    });
                }
                Err(IoFailure::Other(source)) => {
                    return Err(ExchangeError::Io {
                        phase: Phase::Reply,
                        source,
                        received: Received::streamed(received),
                    });
                }
            };
            last_byte = Instant::now();
            first_byte.get_or_insert_with(|| start.elapsed());
            received += n as u64;
            if let Some(limit) = self.max_bytes
                && received > limit
            {
                return Err(ExchangeError::TooLarge {
                    limit,
                    received: Received::streamed(received),
                });
            }
            sink.write_all(&buf[..n])
                .map_err(|source| ExchangeError::Sink {
                    source,
                    received: Received::streamed(received),
                })?;
            if let Some(d) = deadline
                && last_byte >= d
            {
                return Err(timed_out(Phase::Reply, received));
            }
        }
        Ok(Report {
            peer: stream.peer().clone(),
            sent: line.len() as u64,
            received,
            connected,
            first_byte,
            eof: start.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;

    use proptest::prelude::*;

    use crate::stream::Peer;

    /// Runs an exchange against a peer thread that reads the command to its half-close, then
    /// writes `reply` in pieces of the sizes in `cuts` (in turn), pausing after a piece when
    /// `pauses` says so, and closes.
    fn split_reply(
        reply: &[u8],
        cuts: &[usize],
        pauses: &[bool],
        limit: Option<u64>,
    ) -> (Result<Report, ExchangeError>, Vec<u8>) {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let (reply, cuts, pauses) = (reply.to_vec(), cuts.to_vec(), pauses.to_vec());
        let peer = std::thread::spawn(move || {
            let mut command = Vec::new();
            theirs.read_to_end(&mut command).unwrap();
            let mut rest = &reply[..];
            let mut turn = 0;
            while !rest.is_empty() {
                let size = cuts[turn % cuts.len()].clamp(1, rest.len());
                // After a reply over the limit the reader hangs up: writes then fail.
                if theirs.write_all(&rest[..size]).is_err() {
                    break;
                }
                rest = &rest[size..];
                if pauses[turn % pauses.len()] {
                    std::thread::sleep(Duration::from_micros(300));
                }
                turn += 1;
            }
            command
        });
        let stream = Stream::new(OwnedFd::from(ours), Peer::Unix("pair".into())).unwrap();
        let exchange = Exchange::new()
            .timeout(Some(Duration::from_secs(20)))
            .max_bytes(limit)
            .buffer_size(1024);
        let mut sink = Vec::new();
        let result = exchange.run_on(stream, &Command::new("show x").unwrap(), &mut sink);
        assert_eq!(peer.join().unwrap(), b"show x\n");
        (result, sink)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// However the peer splits the reply, the reader gives the same bytes; at the size
        /// limit, under it and over it alike.
        #[test]
        fn any_split_gives_the_same_reply(
            reply in proptest::collection::vec(any::<u8>(), 0..3000),
            cuts in proptest::collection::vec(1..400usize, 1..6),
            pauses in proptest::collection::vec(any::<bool>(), 1..4),
        ) {
            let len = reply.len() as u64;
            // No limit, the limit exactly at the reply's size, and one over it.
            for limit in [None, Some(len), Some(len + 1)] {
                let (result, sink) = split_reply(&reply, &cuts, &pauses, limit);
                let report = result.unwrap_or_else(|e| panic!("limit {limit:?}: {e}"));
                prop_assert_eq!(report.received, len);
                prop_assert_eq!(&sink, &reply);
            }
            // One byte over the limit: refused, and what did reach the sink is the start of
            // the reply, never more than the limit.
            if let Some(limit) = len.checked_sub(1) {
                let (result, sink) = split_reply(&reply, &cuts, &pauses, Some(limit));
                match result {
                    Err(ExchangeError::TooLarge { limit: l, received }) => {
                        let received = received.count();
                        prop_assert_eq!(l, limit);
                        prop_assert!(received > limit && received <= len, "{}", received);
                    }
                    other => prop_assert!(false, "limit {}: {:?}", limit, other.map(|r| r.received)),
                }
                prop_assert!(sink.len() as u64 <= limit);
                prop_assert_eq!(&sink[..], &reply[..sink.len()]);
            }
        }
    }
}
