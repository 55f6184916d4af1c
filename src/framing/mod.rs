//! Where one reply ends and the next begins, per protocol.
//!
//! A [`Framer`] is pushed whatever chunks the socket gives and hands out complete replies,
//! whatever the chunk boundaries: the bytes decide, never time. It also says what ends a
//! request on the wire. The [`client`](crate::client) drives any framer over a persistent
//! connection; [`Exchange`](crate::exchange::Exchange) is the streaming form of [`Eof`] for
//! one command.
//!
//! Implementations: [`Eof`] (the server ends the reply by closing, after the client's
//! half-close) and HAProxy's prompt mode ([`haproxy::framing`](crate::haproxy::framing)).

pub mod bird;
pub mod collectd;
pub mod doveadm;
mod eof;
pub mod lines;
pub mod memcached;
pub mod openvpn;
pub mod resp;
pub mod tor;

pub use eof::Eof;
pub use lines::{LineReply, LineRule, Lines, Step};

/// What follows a request's bytes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Nothing: the request's own bytes (a line) end it, and the connection carries the next.
    Line,
    /// A half-close (`shutdown(SHUT_WR)`): one request per connection, whose reply ends at EOF.
    HalfClose,
}

/// Cuts a stream of bytes into replies.
pub trait Framer {
    type Reply;

    /// Takes the next chunk received.
    fn push(&mut self, chunk: &[u8]);

    /// The next complete reply, if all its bytes have arrived.
    fn next_reply(&mut self) -> Option<Self::Reply>;

    /// The peer closed the connection cleanly: the reply that EOF completes, if EOF ends a
    /// reply in this protocol (otherwise the bytes still pending are a cut reply).
    fn end(&mut self) -> Option<Self::Reply> {
        None
    }

    /// How many bytes received are not part of a complete reply yet.
    fn pending_len(&self) -> usize;

    /// Takes the pending bytes and forgets everything buffered.
    fn take_pending(&mut self) -> Vec<u8>;

    /// Forgets everything buffered, e.g. after the connection was replaced.
    fn clear(&mut self);

    /// Up to `count` interim answers (HAProxy's `+ ` after each payload line) may come before
    /// the next reply.
    fn expect_interim(&mut self, count: usize) {
        let _ = count;
    }

    /// What ends a request on the wire.
    fn ending(&self) -> Ending {
        Ending::Line
    }
}
