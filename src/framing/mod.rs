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

    /// Takes the pending bytes that belong to the reply in progress whatever comes next, so
    /// that a large reply can be passed on as it arrives; the reply [`next_reply`] gives
    /// later is then only the rest. Empty when the framing cannot say (the default).
    ///
    /// [`next_reply`]: Framer::next_reply
    fn take_partial(&mut self) -> Vec<u8> {
        Vec::new()
    }

    /// Up to `count` interim answers (HAProxy's `+ ` after each payload line) may come before
    /// the next reply.
    fn expect_interim(&mut self, count: usize) {
        let _ = count;
    }

    /// What ends a request on the wire.
    fn ending(&self) -> Ending {
        Ending::Line
    }

    /// With [`Ending::HalfClose`]: whether the half-close may go out now, or must wait for
    /// more of the reply (a server that drops what it has not sent yet when it reads EOF).
    fn may_half_close(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::lines::{Lines, Pattern};
    use super::*;
    use proptest::prelude::*;

    /// Every reply `framer` gives for `stream` pushed in pieces of the sizes in `cuts` (in
    /// turn), then the end of the stream.
    fn frame<F: Framer>(
        mut framer: F,
        interim: usize,
        stream: &[u8],
        cuts: &[usize],
    ) -> Vec<F::Reply> {
        framer.expect_interim(interim);
        let mut replies = Vec::new();
        let mut rest = stream;
        let mut turn = 0;
        while !rest.is_empty() {
            let n = cuts[turn % cuts.len()].clamp(1, rest.len());
            framer.push(&rest[..n]);
            rest = &rest[n..];
            replies.extend(std::iter::from_fn(|| framer.next_reply()));
            turn += 1;
        }
        replies.extend(framer.end());
        replies
    }

    fn same_for_any_cuts<F: Framer>(
        new: impl Fn() -> F,
        interim: usize,
        stream: &[u8],
        cuts: &[usize],
    ) where
        F::Reply: PartialEq + std::fmt::Debug,
    {
        let whole = frame(new(), interim, stream, &[stream.len().max(1)]);
        assert!(
            !whole.is_empty(),
            "no reply in {:?}",
            String::from_utf8_lossy(stream)
        );
        assert_eq!(frame(new(), interim, stream, cuts), whole);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// However the socket cuts the bytes, every framer gives the same replies.
        #[test]
        fn every_framer_gives_the_same_replies_for_any_chunking(
            cuts in proptest::collection::vec(1..24usize, 1..12),
        ) {
            same_for_any_cuts(|| Lines::new(bird::Bird), 1,
                b"0001 BIRD 2.0.12 ready.\n1000-BIRD 2.0.12\n Hostname is vm\n0013 Daemon is up\n\
                  +0020 notice\n1007-Table master4:\n 10.1.0.0/24 blackhole\n0000 \n9001 syntax error\n",
                &cuts);
            same_for_any_cuts(|| Lines::new(tor::Tor::default()), 0,
                b"250-version=0.4\r\n250 OK\r\n650 BW 1 2\r\n250+names=\r\na b\r\n.\r\n250 OK\r\n515 no\r\n",
                &cuts);
            same_for_any_cuts(|| Lines::new(memcached::Memcached::default()), 0,
                b"VALUE k 0 5\r\nEND\r\n\r\nEND\r\nSTORED\r\nSTAT a 1\r\nSTAT b 2\r\nEND\r\nERROR\r\n",
                &cuts);
            same_for_any_cuts(|| Lines::new(openvpn::OpenVpn::default()), 0,
                b">INFO:hello\r\nSUCCESS: pid=1\r\nTITLE,x\r\n>LOG:y\r\nEND\r\nERROR: no\r\n",
                &cuts);
            same_for_any_cuts(|| Lines::new(collectd::Collectd::default()), 0,
                b"2 Values found\na\nb\n0 Done\n-1 Unknown command: X\n",
                &cuts);
            same_for_any_cuts(|| Lines::new(Pattern(regex_lite::Regex::new("^\\.$").unwrap())), 0,
                b"a\nb\n.\nc\n.\n",
                &cuts);
            same_for_any_cuts(doveadm::Doveadm::new, 1,
                b"VERSION\tdoveadm-client\t1\t2\n+\nL\0\0\0\x04\x04log\0\0\0\0\x05a\t\n+\n\0\0\0\0\x03\n-\n",
                &cuts);
            same_for_any_cuts(resp::Resp::new, 0,
                b"+OK\r\n$5\r\nhe\r\nl\r\n*2\r\n:1\r\n$-1\r\n-ERR x\r\n",
                &cuts);
            same_for_any_cuts(Eof::new, 0, b"anything\n\n> at all", &cuts);
        }
    }
}
