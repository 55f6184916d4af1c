//! Why a command got no complete reply: one error for every way of reading replies (a stream to
//! EOF, a framed reply on a persistent connection), carrying what did arrive.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::connect::ConnectError;
use crate::units::format_duration;

/// What phase of the exchange an error happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Send,
    Reply,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Send => "sending the command",
            Phase::Reply => "reading the reply",
        })
    }
}

/// The reply bytes that arrived before a failure: how many, and those still held (a streamed
/// reply has passed them to its sink already; a framed one hands them back here).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Received {
    count: u64,
    held: Vec<u8>,
}

impl Received {
    /// `count` bytes that went to a sink.
    pub fn streamed(count: u64) -> Self {
        Received {
            count,
            held: Vec::new(),
        }
    }

    /// Bytes held, not passed on.
    pub fn held(bytes: Vec<u8>) -> Self {
        Received {
            count: bytes.len() as u64,
            held: bytes,
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The bytes held (empty when they were streamed).
    pub fn bytes(&self) -> &[u8] {
        &self.held
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.held
    }

    /// `before` (held replies of earlier commands of the same line) in front.
    fn prepend(&mut self, before: &[u8]) {
        self.held.splice(0..0, before.iter().copied());
        self.count += before.len() as u64;
    }
}

/// Why a command got no complete reply. Every variant but `Connect`, `ClosedBeforeCommand`
/// and `Refused` says what had arrived ([`ExchangeError::received`]).
#[derive(Debug)]
pub enum ExchangeError {
    Connect(ConnectError),
    /// The command was not sent: the client refuses it (`why` says so).
    Refused(String),
    /// The server refused the session before any command: a greeting that says no, a wrong
    /// password.
    Denied(String),
    /// After reconnecting, the socket no longer answers in the protocol it spoke before.
    NotProtocol {
        protocol: &'static str,
        received: Received,
    },
    /// The overall deadline passed before the end of the reply (`limit`: the limit the user
    /// set, when the deadline is one).
    Timeout {
        phase: Phase,
        limit: Option<Duration>,
        received: Received,
    },
    /// No byte arrived for the idle limit.
    Idle {
        limit: Duration,
        received: Received,
    },
    /// The peer reset the connection while we were reading the reply.
    Reset {
        received: Received,
    },
    /// The server closed the connection before the end of a framed reply.
    Closed {
        received: Received,
    },
    /// The peer closed before reading the command (EPIPE or ECONNRESET while sending).
    ClosedBeforeCommand,
    /// The reply is larger than the caller allowed.
    TooLarge {
        limit: u64,
        received: Received,
    },
    /// A reply came for no command that was sent: replies can no longer be told apart.
    Unexpected {
        received: Received,
    },
    /// The sink refused the bytes (a closed pipe, a full disk).
    Sink {
        source: io::Error,
        received: Received,
    },
    Interrupted {
        received: Received,
    },
    Io {
        phase: Phase,
        source: io::Error,
        received: Received,
    },
}

impl ExchangeError {
    /// Reply bytes received before the failure.
    pub fn received(&self) -> &Received {
        static NOTHING: Received = Received {
            count: 0,
            held: Vec::new(),
        };
        match self {
            ExchangeError::Connect(_)
            | ExchangeError::ClosedBeforeCommand
            | ExchangeError::Refused(_)
            | ExchangeError::Denied(_) => &NOTHING,
            ExchangeError::NotProtocol { received, .. }
            | ExchangeError::Timeout { received, .. }
            | ExchangeError::Idle { received, .. }
            | ExchangeError::Reset { received }
            | ExchangeError::Closed { received }
            | ExchangeError::TooLarge { received, .. }
            | ExchangeError::Unexpected { received }
            | ExchangeError::Sink { received, .. }
            | ExchangeError::Interrupted { received }
            | ExchangeError::Io { received, .. } => received,
        }
    }

    fn received_mut(&mut self) -> Option<&mut Received> {
        match self {
            ExchangeError::Connect(_)
            | ExchangeError::ClosedBeforeCommand
            | ExchangeError::Refused(_)
            | ExchangeError::Denied(_) => None,
            ExchangeError::NotProtocol { received, .. }
            | ExchangeError::Timeout { received, .. }
            | ExchangeError::Idle { received, .. }
            | ExchangeError::Reset { received }
            | ExchangeError::Closed { received }
            | ExchangeError::TooLarge { received, .. }
            | ExchangeError::Unexpected { received }
            | ExchangeError::Sink { received, .. }
            | ExchangeError::Interrupted { received }
            | ExchangeError::Io { received, .. } => Some(received),
        }
    }

    /// The same error with `before` (complete replies of earlier commands of one line) in
    /// front of the bytes received.
    pub fn after(mut self, before: &[u8]) -> Self {
        if let Some(received) = self.received_mut() {
            received.prepend(before);
        }
        self
    }

    /// The same error counting `count` bytes of the reply that were passed on before it.
    pub fn after_streamed(mut self, count: u64) -> Self {
        if let Some(received) = self.received_mut() {
            received.count += count;
        }
        self
    }

    /// Interrupted before any reply byte.
    pub fn interrupted() -> Self {
        ExchangeError::Interrupted {
            received: Received::default(),
        }
    }
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.received().count();
        match self {
            ExchangeError::Connect(e) => e.fmt(f),
            ExchangeError::Refused(why) => f.write_str(why),
            ExchangeError::Denied(why) => write!(f, "the server refused the session: {why}"),
            ExchangeError::NotProtocol { protocol, .. } => write!(
                f,
                "after reconnecting, the socket no longer answers like {protocol} ({n} bytes \
                 received)"
            ),
            ExchangeError::Timeout {
                phase,
                limit: Some(limit),
                ..
            } => write!(
                f,
                "timed out after {} while {phase} ({n} bytes received, no EOF)",
                format_duration(*limit)
            ),
            ExchangeError::Timeout { limit: None, .. } => {
                write!(f, "no complete reply in time ({n} bytes received)")
            }
            ExchangeError::Idle { limit, .. } => write!(
                f,
                "no data for {} while reading the reply ({n} bytes received, no EOF)",
                format_duration(*limit)
            ),
            ExchangeError::Reset { .. } => write!(
                f,
                "connection reset by peer while reading the reply ({n} bytes received)"
            ),
            ExchangeError::Closed { .. } => write!(
                f,
                "the server closed the connection before the end of the reply ({n} bytes \
                 received)"
            ),
            ExchangeError::ClosedBeforeCommand => {
                f.write_str("the server closed the connection before reading the command")
            }
            ExchangeError::TooLarge { limit, .. } => write!(
                f,
                "reply larger than the limit of {limit} bytes ({n} bytes received); raise \
                 --max-bytes"
            ),
            ExchangeError::Unexpected { .. } => write!(
                f,
                "the server sent a reply to no command ({n} bytes); the replies can no longer \
                 be told apart"
            ),
            ExchangeError::Sink { source, .. } => {
                write!(f, "writing the reply: {source} ({n} bytes received)")
            }
            ExchangeError::Interrupted { .. } => write!(f, "interrupted ({n} bytes received)"),
            ExchangeError::Io { phase, source, .. } => {
                write!(f, "{phase}: {source} ({n} bytes received)")
            }
        }
    }
}

impl std::error::Error for ExchangeError {
    // `Connect` shows its cause's message as its own; the I/O variants name theirs in the
    // message too, and are the ones a caller may want to inspect (a closed pipe).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExchangeError::Sink { source, .. } | ExchangeError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
