//! memcached's text protocol: listings (`VALUE`, `STAT`, metadump lines) end with `END`; every
//! other answer is one line (`STORED`, `ERROR`, `VERSION 1.6.18`, a number). A value's data is
//! counted in bytes, so data holding a line `END` does not end the reply.

use super::lines::{LineRule, Step, text};

#[derive(Debug, Clone, Copy, Default)]
pub struct Memcached {
    /// Lines of the current reply seen.
    seen: usize,
    /// Data bytes (with their `\r\n`) of a `VALUE` still to come.
    data: usize,
}

impl LineRule for Memcached {
    fn line(&mut self, line: &[u8]) -> Step {
        if self.data > 0 {
            self.data = self.data.saturating_sub(line.len());
            return Step::More;
        }
        let first = self.seen == 0;
        self.seen += 1;
        let text = text(line);
        if text == b"END" {
            return Step::End;
        }
        if let Some(header) = text.strip_prefix(b"VALUE ") {
            // VALUE <key> <flags> <bytes> [<cas>]
            let bytes = header
                .split(|&b| b == b' ')
                .nth(2)
                .and_then(|n| std::str::from_utf8(n).ok()?.parse::<usize>().ok());
            self.data = bytes.map_or(0, |n| n + 2);
            return Step::More;
        }
        let listing = text.starts_with(b"STAT ")
            || text.starts_with(b"ITEM ")
            || text.starts_with(b"key=")
            || text.starts_with(b"PREFIX ");
        if first && !listing {
            Step::End
        } else {
            Step::More
        }
    }

    fn reset(&mut self) {
        *self = Memcached::default();
    }
}

/// `ERROR`, `CLIENT_ERROR …` and `SERVER_ERROR …` are failures.
pub fn failed(reply: &[u8]) -> Option<String> {
    let first = text(reply.split_inclusive(|&b| b == b'\n').next()?);
    let error = first == b"ERROR"
        || first.starts_with(b"CLIENT_ERROR")
        || first.starts_with(b"SERVER_ERROR");
    error.then(|| String::from_utf8_lossy(first).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::{Framer, Lines};

    #[test]
    fn values_are_counted_in_bytes() {
        let mut framer = Lines::new(Memcached::default());
        framer
            .push(b"VALUE k 0 5\r\nEND\r\n\r\nEND\r\nSTORED\r\nSTAT pid 1\r\nSTAT x 2\r\nEND\r\n");
        assert_eq!(
            framer.next_reply().unwrap().body,
            b"VALUE k 0 5\r\nEND\r\n\r\nEND\r\n"
        );
        assert_eq!(framer.next_reply().unwrap().body, b"STORED\r\n");
        assert_eq!(
            framer.next_reply().unwrap().body,
            b"STAT pid 1\r\nSTAT x 2\r\nEND\r\n"
        );
        framer.push(b"END\r\nCLIENT_ERROR bad data chunk\r\n");
        assert_eq!(framer.next_reply().unwrap().body, b"END\r\n");
        let reply = framer.next_reply().unwrap();
        assert_eq!(
            failed(&reply.body).as_deref(),
            Some("CLIENT_ERROR bad data chunk")
        );
    }
}
