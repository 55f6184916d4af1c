//! The reply is everything the server sends until it closes, after the client half-closed.

use super::{Ending, Framer};

/// The framing of `nc -N` and `socat`, and of HAProxy's non-interactive CLI: one request per
/// connection, ended by a half-close; the reply ends at a clean EOF and never before.
#[derive(Debug, Clone, Default)]
pub struct Eof {
    buf: Vec<u8>,
}

impl Eof {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Framer for Eof {
    type Reply = Vec<u8>;

    fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Never before EOF: a short read is not the end of a reply.
    fn next_reply(&mut self) -> Option<Vec<u8>> {
        None
    }

    fn end(&mut self) -> Option<Vec<u8>> {
        Some(std::mem::take(&mut self.buf))
    }

    fn pending_len(&self) -> usize {
        self.buf.len()
    }

    fn take_pending(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    fn clear(&mut self) {
        self.buf.clear();
    }

    fn ending(&self) -> Ending {
        Ending::HalfClose
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_eof_ends_a_reply() {
        let mut framer = Eof::new();
        framer.push(b"a\n\n> ");
        framer.push(b"b");
        assert_eq!(framer.next_reply(), None);
        assert_eq!(framer.end().as_deref(), Some(&b"a\n\n> b"[..]));
        assert_eq!(framer.end().as_deref(), Some(&b""[..]));
    }
}
