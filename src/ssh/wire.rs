//! The relay's wire format: what a remote `sockctl __relay` writes on its standard output.
//!
//! A header line naming the version, then records: a type byte, a 32-bit big-endian length,
//! the payload. The socket's bytes travel in `D` records, so that the end of the stream is a
//! record of its own (`Z`: a clean EOF, a reset, a read error) and never ssh's EOF, which
//! looks the same whether the server finished or the connection to the host was lost.
//! The other direction (the local side's bytes to the socket) is not framed: the relay's
//! standard input is the command, and its EOF is the half-close.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use rustix::io::Errno;

use crate::connect::ConnectError;

/// The version this build speaks; a relay that speaks another says so in its header.
pub const VERSION: u32 = 1;

/// The header's text before the version number.
pub const MAGIC: &[u8] = b"sockctl-relay ";

/// The longest payload a record may announce: more is a corrupt stream, not a big reply.
pub const MAX_RECORD: usize = 1 << 20;

pub const CONNECTED: u8 = b'C';
pub const CONNECT_FAILED: u8 = b'E';
pub const DATA: u8 = b'D';
pub const WRITE_FAILED: u8 = b'W';
pub const END: u8 = b'Z';

/// How the socket's side of the conversation ended on the remote host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The server closed cleanly (EOF).
    Clean,
    /// The server reset the connection (ECONNRESET, EPIPE).
    Reset(i32),
    /// Reading the socket failed otherwise.
    Failed(i32),
}

pub fn header() -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(VERSION.to_string().as_bytes());
    h.push(b'\n');
    h
}

/// Appends one record to `out`.
pub fn record(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
}

/// The end record's payload: how the socket ended, and how many of the caller's bytes were
/// written to it by then. The caller compares that count with what it sent: bytes the server
/// never got would have failed the write (EPIPE) or reset the connection on the host itself,
/// and must not look like a clean end here.
pub fn end_payload(end: &End, written: u64) -> Vec<u8> {
    match end {
        End::Clean => format!("eof {written}").into_bytes(),
        End::Reset(errno) => format!("reset {errno}").into_bytes(),
        End::Failed(errno) => format!("error {errno}").into_bytes(),
    }
}

/// The end and, for a clean one, the count of bytes written.
pub fn parse_end(payload: &[u8]) -> Option<(End, u64)> {
    let text = std::str::from_utf8(payload).ok()?;
    let (word, number) = text.split_once(' ')?;
    match word {
        "eof" => Some((End::Clean, number.parse().ok()?)),
        "reset" => Some((End::Reset(number.parse().ok()?), 0)),
        "error" => Some((End::Failed(number.parse().ok()?), 0)),
        _ => None,
    }
}

/// A connect error as fields: its kind, then what it names, separated by NUL (which no path,
/// name or message here holds).
pub fn connect_error_payload(e: &ConnectError) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let path = |kind: &str, p: &PathBuf| {
        let mut v = kind.as_bytes().to_vec();
        v.push(0);
        v.extend_from_slice(p.as_os_str().as_bytes());
        v
    };
    let fields = |parts: &[&str]| parts.join("\0").into_bytes();
    match e {
        ConnectError::NotFound(p) => path("not-found", p),
        ConnectError::Stale(p) => path("stale", p),
        ConnectError::NotASocket { path: p, actual } => {
            let mut v = path("not-a-socket", p);
            v.push(0);
            v.extend_from_slice(actual.as_bytes());
            v
        }
        ConnectError::PermissionDenied(p) => path("permission-denied", p),
        ConnectError::NameTooLong(p) => path("name-too-long", p),
        ConnectError::Refused(what) => fields(&["refused", what]),
        ConnectError::Resolve { host, why } => fields(&["resolve", host, why]),
        ConnectError::TimedOut { peer, after } => {
            fields(&["timed-out", peer, &after.as_millis().to_string()])
        }
        ConnectError::Interrupted => fields(&["interrupted"]),
        ConnectError::Other { peer, source } => fields(&["other", peer, &source.to_string()]),
        // A relay connects to local addresses only.
        ConnectError::Ssh(e) => fields(&["other", "ssh", &e.to_string()]),
    }
}

pub fn parse_connect_error(payload: &[u8]) -> Option<ConnectError> {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let mut parts = payload.split(|&b| b == 0);
    let kind = parts.next()?;
    let mut next_bytes = || parts.next();
    let path = |b: Option<&[u8]>| b.map(|b| PathBuf::from(OsStr::from_bytes(b)));
    let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
    Some(match kind {
        b"not-found" => ConnectError::NotFound(path(next_bytes())?),
        b"stale" => ConnectError::Stale(path(next_bytes())?),
        b"permission-denied" => ConnectError::PermissionDenied(path(next_bytes())?),
        b"name-too-long" => ConnectError::NameTooLong(path(next_bytes())?),
        b"not-a-socket" => {
            let p = path(next_bytes())?;
            let actual = match next_bytes()? {
                b"regular file" => "regular file",
                b"directory" => "directory",
                b"symbolic link" => "symbolic link",
                b"named pipe" => "named pipe",
                b"character device" => "character device",
                b"block device" => "block device",
                _ => "file of another kind",
            };
            ConnectError::NotASocket { path: p, actual }
        }
        b"refused" => ConnectError::Refused(text(next_bytes())?),
        b"resolve" => ConnectError::Resolve {
            host: text(next_bytes())?,
            why: text(next_bytes())?,
        },
        b"timed-out" => ConnectError::TimedOut {
            peer: text(next_bytes())?,
            after: Duration::from_millis(text(next_bytes())?.parse().ok()?),
        },
        b"interrupted" => ConnectError::Interrupted,
        b"other" => ConnectError::Other {
            peer: text(next_bytes())?,
            source: io::Error::other(text(next_bytes())?),
        },
        _ => return None,
    })
}

/// What a [`Decoder`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    Header(u32),
    Record(u8, Vec<u8>),
}

/// Why the stream is not a relay's.
#[derive(Debug, PartialEq, Eq)]
pub enum Corrupt {
    /// The first bytes are not the header (a login script that prints, another program).
    NotRelay(Vec<u8>),
    /// A record announced more than [`MAX_RECORD`].
    TooLong(usize),
}

/// Cuts the relay's output into a header and records, as it arrives in pieces.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    seen_header: bool,
}

impl Decoder {
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Whether bytes are held that do not make a whole item yet.
    pub fn partial(&self) -> bool {
        !self.buf.is_empty()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The next complete item, `Ok(None)` when more bytes are needed.
    pub fn next_item(&mut self) -> Result<Option<Item>, Corrupt> {
        if !self.seen_header {
            let prefix = self.buf.len().min(MAGIC.len());
            if self.buf[..prefix] != MAGIC[..prefix] {
                return Err(Corrupt::NotRelay(self.buf.clone()));
            }
            let Some(newline) = self.buf.iter().position(|&b| b == b'\n') else {
                if self.buf.len() > 64 {
                    return Err(Corrupt::NotRelay(self.buf.clone()));
                }
                return Ok(None);
            };
            let version = std::str::from_utf8(&self.buf[MAGIC.len()..newline])
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| Corrupt::NotRelay(self.buf.clone()))?;
            self.buf.drain(..=newline);
            self.seen_header = true;
            return Ok(Some(Item::Header(version)));
        }
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes(self.buf[1..5].try_into().expect("4 bytes")) as usize;
        if len > MAX_RECORD {
            return Err(Corrupt::TooLong(len));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let kind = self.buf[0];
        let payload = self.buf[5..5 + len].to_vec();
        self.buf.drain(..5 + len);
        Ok(Some(Item::Record(kind, payload)))
    }
}

/// The errno of a failed read or write, for an [`End`] or a `W` record.
pub fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(Errno::IO.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_any_cut() {
        let mut stream = header();
        record(&mut stream, CONNECTED, b"unix:/run/x.sock");
        record(&mut stream, DATA, &[0, 1, 2, b'\n', 255]);
        record(&mut stream, END, &end_payload(&End::Reset(104), 0));
        for size in 1..stream.len() {
            let mut decoder = Decoder::default();
            let mut items = Vec::new();
            for piece in stream.chunks(size) {
                decoder.feed(piece);
                while let Some(item) = decoder.next_item().unwrap() {
                    items.push(item);
                }
            }
            assert_eq!(
                items,
                [
                    Item::Header(VERSION),
                    Item::Record(CONNECTED, b"unix:/run/x.sock".to_vec()),
                    Item::Record(DATA, vec![0, 1, 2, b'\n', 255]),
                    Item::Record(END, b"reset 104".to_vec()),
                ]
            );
            assert!(!decoder.partial());
        }
    }

    #[test]
    fn other_output_is_not_a_relay() {
        let mut decoder = Decoder::default();
        decoder.feed(b"Welcome to lb1\n");
        assert!(matches!(decoder.next_item(), Err(Corrupt::NotRelay(_))));
    }

    #[test]
    fn connect_errors_round_trip() {
        for e in [
            ConnectError::NotFound("/run/x.sock".into()),
            ConnectError::NotASocket {
                path: "/etc/passwd".into(),
                actual: "regular file",
            },
            ConnectError::Refused("@haproxy".into()),
            ConnectError::TimedOut {
                peer: "/run/x.sock".into(),
                after: Duration::from_millis(1500),
            },
        ] {
            let back = parse_connect_error(&connect_error_payload(&e)).unwrap();
            assert_eq!(back.to_string(), e.to_string());
        }
        assert_eq!(
            parse_end(&end_payload(&End::Failed(5), 0)),
            Some((End::Failed(5), 0))
        );
        assert_eq!(
            parse_end(&end_payload(&End::Clean, 12)),
            Some((End::Clean, 12))
        );
    }
}
