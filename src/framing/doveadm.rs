//! Dovecot's doveadm-server protocol (1.2): after the `VERSION` handshake, replies come in
//! packets of a channel byte (0: output, `L`: log), a 4-byte big-endian length and the data.
//! The output is tab-ended fields (0x01 escapes: `1`, `t`, `n`, `r`), then `\n` and a result
//! line: `+` success, `-` or `-CODE` failure.

use super::Framer;

/// A doveadm reply: the output's fields, what the server logged meanwhile, and the result line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DoveadmReply {
    pub fields: Vec<Vec<u8>>,
    pub log: Vec<u8>,
    /// `+`, `-`, `-NOUSER`, … (without its `\n`).
    pub result: Vec<u8>,
}

impl DoveadmReply {
    /// The fields, one per line, as `doveadm -f flow` would show them.
    pub fn text(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for field in &self.fields {
            out.extend_from_slice(field);
            out.push(b'\n');
        }
        out
    }

    pub fn failure(&self) -> Option<String> {
        self.result.starts_with(b"-").then(|| {
            let code = String::from_utf8_lossy(&self.result[1..]).into_owned();
            match code.as_str() {
                "" => "the command failed".to_string(),
                code => format!("the command failed ({code})"),
            }
        })
    }
}

#[derive(Debug, Default)]
pub struct Doveadm {
    /// Bytes not yet a whole packet (or the unframed handshake answer).
    buf: Vec<u8>,
    output: Vec<u8>,
    log: Vec<u8>,
    /// How much of `output` was searched for the result line.
    searched: usize,
    /// Where the result line starts in `output`, once its `\n` came.
    result_at: Option<usize>,
    /// The result line is complete.
    result_seen: bool,
    /// The handshake's `VERSION…\n+\n` is still to come.
    greeting: bool,
}

impl Doveadm {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the whole packets in `buf` to their channels.
    fn unpack(&mut self) {
        let mut at = 0;
        while let Some(header) = self.buf.get(at..at + 5) {
            let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
            let Some(data) = self.buf.get(at + 5..at + 5 + len) else {
                break;
            };
            if header[0] == b'L' {
                // A log line starts with its level byte.
                self.log
                    .extend_from_slice(data.get(1..).unwrap_or_default());
            } else {
                self.output.extend_from_slice(data);
            }
            at += 5 + len;
        }
        self.buf.drain(..at);
        self.search();
    }

    fn search(&mut self) {
        if self.result_seen {
            return;
        }
        let found = memchr::memchr_iter(b'\n', &self.output[self.searched..])
            .map(|i| i + self.searched)
            .find(|&i| match self.result_at {
                None => {
                    self.result_at = Some(i + 1);
                    false
                }
                Some(_) => true,
            });
        self.searched = self.output.len();
        self.result_seen = found.is_some();
    }
}

/// The output channel's bytes split into the reply, once the result line is complete. Fields
/// after the result line are the table's last piece, which the server can send late.
fn split(output: &[u8]) -> Option<(Vec<Vec<u8>>, Vec<u8>)> {
    let newline = memchr::memchr(b'\n', output)?;
    let end = memchr::memchr(b'\n', &output[newline + 1..])? + newline + 1;
    let late = &output[end + 1..];
    let fields = output[..newline]
        .split(|&b| b == b'\t')
        .chain(late.split(|&b| b == b'\t'))
        .filter(|f| !f.is_empty())
        .map(unescape)
        .collect();
    Some((fields, output[newline + 1..end].to_vec()))
}

fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut bytes = field.iter();
    while let Some(&b) = bytes.next() {
        if b != 1 {
            out.push(b);
            continue;
        }
        out.push(match bytes.next() {
            Some(b't') => b'\t',
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b'1') | None => 1,
            Some(&other) => other,
        });
    }
    out
}

impl Framer for Doveadm {
    type Reply = DoveadmReply;

    fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
        if !self.greeting {
            self.unpack();
        }
    }

    fn next_reply(&mut self) -> Option<DoveadmReply> {
        if self.greeting {
            // `VERSION\tdoveadm-client\t1\t2\n+\n`, unframed.
            let first = memchr::memchr(b'\n', &self.buf)?;
            let second = memchr::memchr(b'\n', &self.buf[first + 1..])? + first + 1;
            let result = self.buf[first + 1..second].to_vec();
            self.buf.drain(..=second);
            self.greeting = false;
            self.unpack();
            return Some(DoveadmReply {
                result,
                ..DoveadmReply::default()
            });
        }
        // The last piece of a table (`process status`) can come after the result line on a
        // connection kept open: a reply is whole only at EOF, after the client's half-close.
        None
    }

    fn end(&mut self) -> Option<DoveadmReply> {
        let (fields, result) = split(&self.output)?;
        let reply = DoveadmReply {
            fields,
            log: std::mem::take(&mut self.log),
            result,
        };
        self.clear();
        Some(reply)
    }

    fn pending_len(&self) -> usize {
        self.buf.len() + self.output.len()
    }

    fn take_pending(&mut self) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut self.output);
        bytes.append(&mut self.buf);
        self.clear();
        bytes
    }

    fn clear(&mut self) {
        *self = Self::default();
    }

    /// The handshake's answer comes before the reply.
    fn expect_interim(&mut self, count: usize) {
        self.greeting = count > 0;
    }

    /// One command per connection: its reply ends at EOF.
    fn ending(&self) -> super::Ending {
        super::Ending::HalfClose
    }

    /// doveadm-server reads the next command as soon as one is done, and on EOF closes the
    /// connection with whatever of the reply the socket had no room for yet: the half-close
    /// waits until the result line is in, when all but a table's late last piece has come.
    fn may_half_close(&self) -> bool {
        !self.greeting && self.result_seen
    }
}

/// The handshake a client sends first.
pub const HANDSHAKE: &[u8] = b"VERSION\tdoveadm-server\t1\t2\n";

/// A command as doveadm-server reads it: no flags, no user, the words tab-separated.
pub fn command(line: &[u8]) -> Vec<u8> {
    let mut out = b"\t".to_vec();
    for word in line
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
    {
        out.push(b'\t');
        out.extend(word.iter().flat_map(|&b| match b {
            1 => vec![1, b'1'],
            b'\t' => vec![1, b't'],
            _ => vec![b],
        }));
    }
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_into_replies() {
        let mut framer = Doveadm::new();
        framer.expect_interim(1);
        framer.push(b"VERSION\tdoveadm-client\t1\t2\n+\n");
        assert_eq!(framer.next_reply().unwrap().result, b"+");
        framer.push(b"L\0\0\0\x07\x04oh no\n");
        framer.push(b"\0\0\0\0\x03\n-\n");
        assert_eq!(framer.next_reply(), None);
        let failed = framer.end().unwrap();
        assert_eq!(failed.log, b"oh no\n");
        assert_eq!(failed.failure().as_deref(), Some("the command failed"));
        framer.push(b"\0\0\0\0\x0aa\tb\x01tc\t\n+\n");
        let ok = framer.end().unwrap();
        assert_eq!(ok.fields, [b"a".to_vec(), b"b\tc".to_vec()]);
        assert_eq!(ok.text(), b"a\nb\tc\n");
        assert_eq!(command(b"process status"), b"\t\tprocess\tstatus\n");
    }

    #[test]
    fn the_half_close_waits_for_the_result_line_and_a_late_piece_is_kept() {
        let mut framer = Doveadm::new();
        framer.expect_interim(1);
        assert!(!framer.may_half_close());
        framer.push(b"VERSION\tdoveadm-client\t1\t2\n+\n\0\0\0\0\x04a\tb\t");
        assert!(framer.next_reply().is_some());
        assert!(!framer.may_half_close());
        framer.push(b"\0\0\0\0\x03\n+");
        assert!(!framer.may_half_close());
        framer.push(b"\n\0\0\0");
        assert!(framer.may_half_close());
        framer.push(b"\0\x02c\t");
        let reply = framer.end().unwrap();
        assert_eq!(reply.fields, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(reply.result, b"+");
    }
}
