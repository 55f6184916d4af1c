//! Redis's RESP (2 and 3): every reply says its own length, so it comes back whole whatever its
//! size, without relying on EOF (Redis drops what it has not sent when it reads the client's
//! EOF).

use super::Framer;

/// One RESP value, parsed from the front of `bytes`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `+OK`, and RESP3's `,` double, `(` big number, `#` boolean as their text.
    Simple(Vec<u8>),
    /// `-ERR …` and RESP3's `!` blob error.
    Error(Vec<u8>),
    Integer(i64),
    /// `$` and RESP3's `=` verbatim string.
    Bulk(Vec<u8>),
    /// `$-1`, `*-1`, RESP3's `_`.
    Nil,
    /// `*`, RESP3's `~` set and `%` map (keys and values in turn).
    Array(Vec<Value>),
}

/// Why the front of the bytes is no complete value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parse {
    /// At least this many bytes in all are needed.
    Need(usize),
    Invalid,
}

/// Parses one value at `at`; returns it and where the next begins.
fn value(bytes: &[u8], at: usize) -> Result<(Value, usize), Parse> {
    let (line, next) = line(bytes, at)?;
    let kind = *line.first().ok_or(Parse::Invalid)?;
    let rest = &line[1..];
    let number = || -> Result<i64, Parse> {
        std::str::from_utf8(rest)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or(Parse::Invalid)
    };
    match kind {
        b'+' | b',' | b'(' | b'#' => Ok((Value::Simple(rest.to_vec()), next)),
        b'-' => Ok((Value::Error(rest.to_vec()), next)),
        b':' => Ok((Value::Integer(number()?), next)),
        b'_' => Ok((Value::Nil, next)),
        b'$' | b'=' | b'!' => {
            let len = number()?;
            if len < 0 {
                return Ok((Value::Nil, next));
            }
            let end = next + usize::try_from(len).map_err(|_| Parse::Invalid)?;
            if bytes.len() < end + 2 {
                return Err(Parse::Need(end + 2));
            }
            if &bytes[end..end + 2] != b"\r\n" {
                return Err(Parse::Invalid);
            }
            let data = bytes[next..end].to_vec();
            let value = if kind == b'!' {
                Value::Error(data)
            } else {
                Value::Bulk(data)
            };
            Ok((value, end + 2))
        }
        b'*' | b'~' | b'%' | b'>' | b'|' => {
            let count = number()?;
            if count < 0 {
                return Ok((Value::Nil, next));
            }
            let count = usize::try_from(count).map_err(|_| Parse::Invalid)?;
            let count = if kind == b'%' || kind == b'|' {
                count * 2
            } else {
                count
            };
            let mut items = Vec::with_capacity(count.min(1024));
            let mut at = next;
            for _ in 0..count {
                let (item, after) = value(bytes, at)?;
                items.push(item);
                at = after;
            }
            if kind == b'|' {
                // Attributes describe the value that follows: that value is the reply.
                return value(bytes, at);
            }
            Ok((Value::Array(items), at))
        }
        _ => Err(Parse::Invalid),
    }
}

fn line(bytes: &[u8], at: usize) -> Result<(&[u8], usize), Parse> {
    let rest = bytes.get(at..).ok_or(Parse::Need(at + 1))?;
    match rest.windows(2).position(|w| w == b"\r\n") {
        Some(end) => Ok((&rest[..end], at + end + 2)),
        // A line is short: more than 64 KiB without its end is no RESP.
        None if rest.len() > 64 * 1024 => Err(Parse::Invalid),
        None => Err(Parse::Need(bytes.len() + 1)),
    }
}

/// A complete reply: its bytes as they came, and the value they hold.
#[derive(Debug, Clone, PartialEq)]
pub struct RespReply {
    pub raw: Vec<u8>,
    pub value: Value,
}

/// Frames RESP replies. Bytes that are no RESP at all stay pending (the caller's deadline or
/// size limit ends the wait; the error carries them).
#[derive(Debug, Default)]
pub struct Resp {
    buf: Vec<u8>,
    /// No complete value before this many bytes: a 20 MB bulk string is parsed once, not at
    /// every chunk.
    need: usize,
    invalid: bool,
}

impl Resp {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the bytes received are no RESP.
    pub fn is_invalid(&self) -> bool {
        self.invalid
    }
}

impl Framer for Resp {
    type Reply = RespReply;

    fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    fn next_reply(&mut self) -> Option<RespReply> {
        loop {
            if self.invalid || self.buf.is_empty() || self.buf.len() < self.need {
                return None;
            }
            match value(&self.buf, 0) {
                Ok((value, end)) => {
                    self.need = 0;
                    // Handed over, not copied byte by byte: a 20 MB reply is most of the
                    // buffer.
                    let rest = self.buf.split_off(end);
                    let raw = std::mem::replace(&mut self.buf, rest);
                    // RESP3 push messages (`>`) are out of band, not a reply.
                    if raw.first() == Some(&b'>') {
                        continue;
                    }
                    return Some(RespReply { raw, value });
                }
                Err(Parse::Need(n)) => {
                    self.need = n;
                    return None;
                }
                Err(Parse::Invalid) => {
                    self.invalid = true;
                    return None;
                }
            }
        }
    }

    fn pending_len(&self) -> usize {
        self.buf.len()
    }

    fn take_pending(&mut self) -> Vec<u8> {
        let bytes = std::mem::take(&mut self.buf);
        self.clear();
        bytes
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.need = 0;
        self.invalid = false;
    }
}

/// The command as RESP: an array of bulk strings, so that any byte can be in an argument.
/// Words are split like redis-cli does: on blanks, with "double" (backslash escapes) and
/// 'single' quotes.
pub fn command(line: &[u8]) -> Option<Vec<u8>> {
    let words = split_words(line)?;
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for word in words {
        out.extend_from_slice(format!("${}\r\n", word.len()).as_bytes());
        out.extend_from_slice(&word);
        out.extend_from_slice(b"\r\n");
    }
    Some(out)
}

fn split_words(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut words = Vec::new();
    let mut bytes = line.iter().copied().peekable();
    loop {
        while bytes.next_if(|b| b.is_ascii_whitespace()).is_some() {}
        let Some(first) = bytes.next() else {
            return Some(words);
        };
        let mut word = Vec::new();
        match first {
            b'"' => loop {
                match bytes.next()? {
                    b'"' => break,
                    b'\\' => match bytes.next()? {
                        b'n' => word.push(b'\n'),
                        b'r' => word.push(b'\r'),
                        b't' => word.push(b'\t'),
                        b'x' => {
                            let hex = [bytes.next()?, bytes.next()?];
                            let hex = std::str::from_utf8(&hex).ok()?;
                            word.push(u8::from_str_radix(hex, 16).ok()?);
                        }
                        other => word.push(other),
                    },
                    other => word.push(other),
                }
            },
            b'\'' => loop {
                match bytes.next()? {
                    b'\'' => break,
                    b'\\' if bytes.peek() == Some(&b'\'') => word.push(bytes.next()?),
                    other => word.push(other),
                }
            },
            other => {
                word.push(other);
                while let Some(b) = bytes.next_if(|b| !b.is_ascii_whitespace()) {
                    word.push(b);
                }
            }
        }
        words.push(word);
    }
}

/// The reply as text, as `redis-cli` prints it into a pipe: strings as they are, one element
/// of a list per line, nil as an empty line. The error of the reply, if it is one, apart.
pub fn render(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Simple(text) | Value::Bulk(text) | Value::Error(text) => {
            out.extend_from_slice(text);
            out.push(b'\n');
        }
        Value::Integer(n) => out.extend_from_slice(format!("{n}\n").as_bytes()),
        Value::Nil => out.push(b'\n'),
        Value::Array(items) => items.iter().for_each(|item| render(item, out)),
    }
}

/// The error message of an error reply.
pub fn failed(value: &Value) -> Option<String> {
    match value {
        Value::Error(text) => Some(String::from_utf8_lossy(text).into_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values() {
        let mut framer = Resp::new();
        framer.push(b"+OK\r\n:12\r\n$5\r\nhe\r\nl\r\n*2\r\n$1\r\na\r\n$-1\r\n-ERR no\r\n");
        let values: Vec<Value> =
            std::iter::from_fn(|| framer.next_reply().map(|r| r.value)).collect();
        assert_eq!(
            values,
            [
                Value::Simple(b"OK".to_vec()),
                Value::Integer(12),
                Value::Bulk(b"he\r\nl".to_vec()),
                Value::Array(vec![Value::Bulk(b"a".to_vec()), Value::Nil]),
                Value::Error(b"ERR no".to_vec()),
            ]
        );
        assert_eq!(failed(&values[4]).as_deref(), Some("ERR no"));
    }

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        assert_eq!(
            command(b"SET k \"a b\\n\"").unwrap(),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na b\n\r\n"
        );
        assert_eq!(
            command(b"GET 'it\\'s'").unwrap(),
            b"*2\r\n$3\r\nGET\r\n$4\r\nit's\r\n"
        );
        assert!(command(b"GET \"open").is_none());
    }

    proptest! {
        /// However the bytes are cut, the same replies come out.
        #[test]
        fn any_chunking_gives_the_same_replies(cuts in proptest::collection::vec(1..40usize, 1..20)) {
            let stream = b"+OK\r\n$10\r\n0123456789\r\n*3\r\n:1\r\n$-1\r\n*1\r\n+x\r\n-ERR e\r\n";
            let mut whole = Resp::new();
            whole.push(stream);
            let expected: Vec<RespReply> = std::iter::from_fn(|| whole.next_reply()).collect();
            let mut framer = Resp::new();
            let mut got = Vec::new();
            let mut rest = &stream[..];
            let mut turn = 0;
            while !rest.is_empty() {
                let n = cuts[turn % cuts.len()].min(rest.len());
                framer.push(&rest[..n]);
                rest = &rest[n..];
                got.extend(std::iter::from_fn(|| framer.next_reply()));
                turn += 1;
            }
            prop_assert_eq!(got, expected);
        }
    }
}
