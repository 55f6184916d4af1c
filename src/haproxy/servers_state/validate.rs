//! The streaming validator: a dump is checked as it arrives, keeping only the current line.

use std::io::{self, Write};

use super::{MAX_LINE, StateError, StateSummary};
use crate::haproxy::text::excerpt;

/// How many bytes after the end of the dump are kept to quote in the error.
const TRAILING_QUOTE: usize = 80;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Version,
    Header,
    Servers,
    Done,
}

/// Checks a dump fed in chunks of any size, failing as soon as a line is wrong. Memory stays
/// bounded by [`MAX_LINE`]. After an error every call returns that error again.
#[derive(Debug, Clone)]
pub struct StateValidator {
    pub(super) partial: Vec<u8>,
    /// Complete lines seen so far.
    lines: usize,
    stage: Stage,
    columns: usize,
    be_id_column: usize,
    /// What each column of the header may hold.
    kinds: Vec<Column>,
    last_backend: Vec<u8>,
    summary: StateSummary,
    failed: Option<StateError>,
}

impl Default for StateValidator {
    fn default() -> Self {
        Self::new()
    }
}

impl StateValidator {
    pub fn new() -> Self {
        StateValidator {
            partial: Vec::new(),
            lines: 0,
            stage: Stage::Version,
            columns: 0,
            be_id_column: 0,
            kinds: Vec::new(),
            last_backend: Vec::new(),
            summary: StateSummary {
                backends: 0,
                servers: 0,
            },
            failed: None,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) -> Result<(), StateError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.consume(chunk);
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    /// Call at EOF: the dump is valid only if it ended right after its closing blank line.
    pub fn finish(self) -> Result<StateSummary, StateError> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        let line = self.lines + 1;
        if self.stage == Stage::Done && !self.partial.is_empty() {
            return Err(self.trailing());
        }
        if !self.partial.is_empty() {
            // An error message cut before its newline still says what it is.
            if self.stage == Stage::Version {
                check_version(&self.partial)?;
            }
            return Err(StateError::Truncated { line });
        }
        match self.stage {
            Stage::Done => Ok(self.summary),
            Stage::Version => Err(StateError::Empty),
            Stage::Header | Stage::Servers => {
                Err(StateError::MissingBlankLine { line: self.lines })
            }
        }
    }

    fn consume(&mut self, mut rest: &[u8]) -> Result<(), StateError> {
        while !rest.is_empty() {
            if self.stage == Stage::Done {
                // Gather what to quote before failing, so that the error does not depend on
                // where the chunks were cut.
                let room = TRAILING_QUOTE.saturating_sub(self.partial.len());
                let line_end = rest.iter().position(|&b| b == b'\n');
                let take = line_end.unwrap_or(rest.len()).min(room);
                self.partial
                    .extend_from_slice(rest.get(..take).unwrap_or_default());
                if line_end.is_some() || self.partial.len() >= TRAILING_QUOTE {
                    return Err(self.trailing());
                }
                return Ok(());
            }
            let newline = rest.iter().position(|&b| b == b'\n');
            let taken = newline.unwrap_or(rest.len());
            if self.partial.len().saturating_add(taken) > MAX_LINE {
                return Err(StateError::LineTooLong {
                    line: self.lines + 1,
                    limit: MAX_LINE,
                });
            }
            let (head, tail) = rest.split_at(taken);
            let Some(_) = newline else {
                self.partial.extend_from_slice(head);
                return Ok(());
            };
            rest = tail.get(1..).unwrap_or_default();
            if self.partial.is_empty() {
                self.line(head)?;
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(head);
                let result = self.line(&line);
                line.clear();
                self.partial = line;
                result?;
            }
        }
        Ok(())
    }

    fn trailing(&self) -> StateError {
        StateError::TrailingData {
            line: self.lines + 1,
            found: excerpt(&self.partial),
        }
    }

    fn line(&mut self, text: &[u8]) -> Result<(), StateError> {
        self.lines += 1;
        let line = self.lines;
        match self.stage {
            Stage::Version => {
                check_version(text)?;
                self.stage = Stage::Header;
            }
            Stage::Header => {
                let names = header_names(text).ok_or_else(|| StateError::BadHeader {
                    line,
                    found: excerpt(text),
                })?;
                self.be_id_column = names.iter().position(|n| *n == b"be_id").ok_or_else(|| {
                    StateError::BadHeader {
                        line,
                        found: excerpt(text),
                    }
                })?;
                self.columns = names.len();
                self.kinds = names
                    .iter()
                    .map(|name| Column {
                        name: String::from_utf8_lossy(name).into_owned(),
                        kind: Kind::of(name),
                    })
                    .collect();
                self.stage = Stage::Servers;
            }
            Stage::Servers if text.is_empty() => self.stage = Stage::Done,
            Stage::Servers => {
                let mut found = 0;
                let mut backend: &[u8] = &[];
                for (i, field) in fields(text).enumerate() {
                    if i == self.be_id_column {
                        backend = field;
                    }
                    found += 1;
                }
                if found != self.columns {
                    return Err(StateError::FieldCount {
                        line,
                        expected: self.columns,
                        found,
                    });
                }
                for (column, field) in self.kinds.iter().zip(fields(text)) {
                    if let Err(expected) = column.kind.check(field) {
                        return Err(StateError::InvalidField {
                            line,
                            column: column.name.clone(),
                            found: excerpt(field),
                            expected,
                        });
                    }
                }
                // The dump lists each backend's servers together.
                if self.summary.servers == 0 || backend != self.last_backend.as_slice() {
                    self.summary.backends += 1;
                    self.last_backend.clear();
                    self.last_backend.extend_from_slice(backend);
                }
                self.summary.servers += 1;
            }
            Stage::Done => {}
        }
        Ok(())
    }
}

/// A column of the header and what its values may be.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: Kind,
}

/// The type of a column of `show servers state` version 1, as HAProxy writes it
/// (`dump_servers_state()`, with `printf` formats) and reads it back (`srv_state_srv_update()`,
/// which refuses a server's line with a value out of these ranges). The ranges are those of
/// every version from 2.6 to 3.x; where versions differ (the bits of `srv_check_state`, the
/// number of check statuses, the flags of `srv_admin_state`) the widest is taken, so that a
/// real dump always passes and a value no HAProxy writes does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A decimal integer from `min` to `max`.
    Number {
        min: i64,
        max: i64,
        expected: &'static str,
    },
    /// A proxy or server name: letters, digits, `.`, `_`, `-`, `:` (HAProxy's `invalid_char`).
    Name,
    /// `-` or an IPv4 or IPv6 address (`inet_ntop`).
    Address,
    /// `-` or a host name of at most 255 letters, digits, `.`, `-`, `_`.
    Fqdn,
    /// Any bytes but control characters: `srvrecord`, and columns of later format versions.
    Text,
}

impl Kind {
    const fn number(min: i64, max: i64, expected: &'static str) -> Kind {
        Kind::Number { min, max, expected }
    }

    fn of(name: &[u8]) -> Kind {
        const INT: i64 = i32::MAX as i64;
        match name {
            b"be_id" | b"srv_id" => Kind::number(0, INT, "a number from 0 to 2147483647"),
            b"be_name" | b"srv_name" => Kind::Name,
            b"srv_addr" | b"srv_check_addr" | b"srv_agent_addr" => Kind::Address,
            b"srv_op_state" => Kind::number(0, 3, "0 to 3 (stopped, starting, running, stopping)"),
            b"srv_admin_state" => Kind::number(0, 255, "a set of state bits from 0 to 255"),
            b"srv_uweight" | b"srv_iweight" => Kind::number(0, 256, "a weight from 0 to 256"),
            b"srv_time_since_last_change" => {
                Kind::number(i64::MIN, i64::MAX, "a number of seconds")
            }
            b"srv_check_status" => Kind::number(0, 255, "a check status from 0 to 255"),
            b"srv_check_result" => Kind::number(0, 4, "a check result from 0 to 4"),
            b"srv_check_health" | b"srv_check_state" | b"srv_agent_state" => {
                Kind::number(0, INT, "a number from 0 to 2147483647")
            }
            b"bk_f_forced_id" | b"srv_f_forced_id" => Kind::number(0, 1, "0 or 1"),
            b"srv_fqdn" => Kind::Fqdn,
            b"srv_port" | b"srv_check_port" | b"srv_agent_port" => {
                Kind::number(0, 65535, "a port from 0 to 65535")
            }
            b"srv_use_ssl" => Kind::number(-INT - 1, INT, "a number"),
            _ => Kind::Text,
        }
    }

    /// `Err` says what was expected.
    fn check(self, field: &[u8]) -> Result<(), &'static str> {
        let printable = |b: &u8| !b.is_ascii_control();
        match self {
            Kind::Number { min, max, expected } => {
                let digits = field
                    .strip_prefix(b"-")
                    .filter(|_| min < 0)
                    .unwrap_or(field);
                let fits = !digits.is_empty()
                    && digits.iter().all(u8::is_ascii_digit)
                    && std::str::from_utf8(field)
                        .ok()
                        .and_then(|text| text.parse::<i64>().ok())
                        .is_some_and(|n| (min..=max).contains(&n));
                if fits { Ok(()) } else { Err(expected) }
            }
            Kind::Name => {
                let valid = |b: &u8| b.is_ascii_alphanumeric() || b".-_:".contains(b);
                if field.iter().all(valid) {
                    Ok(())
                } else {
                    Err("a name of letters, digits, '.', '_', '-' and ':'")
                }
            }
            Kind::Address => {
                let ip = std::str::from_utf8(field)
                    .ok()
                    .and_then(|text| text.parse::<std::net::IpAddr>().ok());
                if field == b"-" || ip.is_some() {
                    Ok(())
                } else {
                    Err("'-' or an IP address")
                }
            }
            Kind::Fqdn => {
                let valid = |b: &u8| b.is_ascii_alphanumeric() || b".-_".contains(b);
                if field == b"-" || (field.len() <= 255 && field.iter().all(valid)) {
                    Ok(())
                } else {
                    Err("'-' or a host name")
                }
            }
            Kind::Text => {
                if field.iter().all(printable) {
                    Ok(())
                } else {
                    Err("text without control characters")
                }
            }
        }
    }
}

/// Checks a complete reply in one go.
pub fn validate(reply: &[u8]) -> Result<StateSummary, StateError> {
    let mut validator = StateValidator::new();
    validator.push(reply)?;
    validator.finish()
}

fn check_version(text: &[u8]) -> Result<(), StateError> {
    if text == b"1" {
        return Ok(());
    }
    let found = excerpt(text);
    Err(if !text.is_empty() && text.iter().all(u8::is_ascii_digit) {
        StateError::UnsupportedVersion { found }
    } else if text.starts_with(b"Unknown command") {
        StateError::UnknownCommand { found }
    } else if text.starts_with(b"Permission denied") {
        StateError::PermissionDenied { found }
    } else if text.starts_with(b"Can't find backend") {
        StateError::NoSuchBackend { found }
    } else {
        StateError::NotAStateDump { found }
    })
}

/// Fields of a server line, split as HAProxy's loader does: on runs of spaces and tabs.
pub(super) fn fields(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| b == b' ' || b == b'\t')
        .filter(|f| !f.is_empty())
}

pub(super) fn header_names(text: &[u8]) -> Option<Vec<&[u8]>> {
    let names: Vec<&[u8]> = fields(text.strip_prefix(b"# ")?).collect();
    (!names.is_empty()).then_some(names)
}

/// Streams bytes into `inner` after checking them, so that a file is only fed what can still
/// become a valid dump. Call [`ValidatingWriter::finish`] at EOF before keeping the file; a
/// write that fails validation returns an [`io::ErrorKind::InvalidData`] error wrapping the
/// [`StateError`] and forwards nothing.
pub struct ValidatingWriter<W: Write> {
    inner: W,
    validator: StateValidator,
}

impl<W: Write> ValidatingWriter<W> {
    pub fn new(inner: W) -> Self {
        ValidatingWriter {
            inner,
            validator: StateValidator::new(),
        }
    }

    /// The summary and the inner writer, or why the bytes written are not a valid dump.
    pub fn finish(self) -> Result<(StateSummary, W), StateError> {
        let summary = self.validator.finish()?;
        Ok((summary, self.inner))
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for ValidatingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.validator
            .push(buf)
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
        self.inner.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
