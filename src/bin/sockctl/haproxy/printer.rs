//! The results of `haproxy exec` (one command per connection or a batch): printed as they
//! come, failures on stderr, or one JSON document at the end.

use std::io::Write;

use serde::Serialize;
use sockctl::Address;
use sockctl::haproxy::outcome::Outcome;

use super::destination::{Process, Role};
use crate::config::Output;
use crate::exit::{self, Code};
use crate::sanitize;

/// `--json`: every result, in the order run.
#[derive(Serialize)]
struct Report {
    ok: bool,
    results: Vec<Entry>,
}

/// One command in one process.
#[derive(Serialize)]
pub struct Entry {
    /// The line of the batch file it came from (batches only).
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    command: String,
    /// `socket`, `worker` or `master`.
    target: &'static str,
    pid: Option<u32>,
    role: Option<Role>,
    pub ok: bool,
    /// The output as text (invalid UTF-8 replaced); the bytes are printed as they came.
    output: String,
    #[serde(skip)]
    bytes: Vec<u8>,
    errors: Vec<EntryError>,
    #[serde(skip)]
    process: Process,
}

#[derive(Serialize)]
struct EntryError {
    /// The exit code this error alone would give.
    code: i32,
    #[serde(skip)]
    exit: Code,
    severity: Option<u8>,
    severity_name: Option<&'static str>,
    message: String,
}

impl Entry {
    pub fn new(command: &str, process: Process, line: Option<usize>) -> Entry {
        Entry {
            line,
            command: command.to_string(),
            target: process.kind(),
            pid: process.pid(),
            role: process.role(),
            ok: true,
            output: String::new(),
            bytes: Vec::new(),
            errors: Vec::new(),
            process,
        }
    }

    /// What HAProxy answered.
    pub fn outcome(mut self, outcome: Outcome) -> Entry {
        self.output = String::from_utf8_lossy(&outcome.output).into_owned();
        self.bytes = outcome.output;
        for failure in &outcome.failures {
            self.errors.push(EntryError {
                code: Code::CommandFailed as i32,
                exit: Code::CommandFailed,
                severity: failure.severity,
                severity_name: failure.severity_name(),
                message: failure.message.clone(),
            });
        }
        self.ok = self.errors.is_empty();
        self
    }

    /// The output, when sockctl made it (a verified reload's verdict).
    pub fn output(mut self, text: String) -> Entry {
        self.bytes = text.clone().into_bytes();
        self.output = text;
        self
    }

    /// No answer to read: the command failed with this code.
    pub fn error(mut self, code: Code, message: String) -> Entry {
        self.errors.push(EntryError {
            code: code as i32,
            exit: code,
            severity: None,
            severity_name: None,
            message,
        });
        self.ok = false;
        self
    }
}

/// Prints results as they come: the output on `out`, failures on `err`, or one JSON document
/// at the end.
pub struct Printer<'a> {
    address: &'a Address,
    json: bool,
    /// A `== worker PID ==` line before each result.
    pub labelled: bool,
    /// Control characters shown escaped (on a terminal, unless `--raw`).
    escape: bool,
    /// `--raw`: HAProxy's reply byte for byte, blank lines of a silent success included.
    raw: bool,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    results: Vec<Entry>,
    pub worst: Code,
    /// Part of the current entry's output went out as it came.
    flowing: bool,
    /// The end of the last part, when it cut a UTF-8 character (escaped output only).
    carry: Vec<u8>,
}

/// A reply larger than this is passed on as it comes rather than held to be judged whole
/// (see `Judge`), except for JSON, which embeds it.
const HOLD: usize = 1 << 20;

impl<'a> Printer<'a> {
    pub fn new(
        address: &'a Address,
        output: Output,
        out: &'a mut dyn Write,
        err: &'a mut dyn Write,
    ) -> Self {
        Printer {
            address,
            json: output.json,
            labelled: false,
            escape: output.escape,
            raw: output.raw,
            out,
            err,
            results: Vec::new(),
            worst: Code::Ok,
            flowing: false,
            carry: Vec::new(),
        }
    }

    /// How much of a reply may be held to be judged whole before it is passed on in parts.
    pub fn hold(&self) -> usize {
        if self.json { usize::MAX } else { HOLD }
    }

    /// Output of the entry in progress, passed on as it comes.
    pub fn part(&mut self, process: Process, bytes: &[u8]) -> std::io::Result<()> {
        if !self.flowing {
            self.flowing = true;
            if self.labelled {
                writeln!(self.out, "== {process} ==")?;
            }
        }
        if !self.escape {
            return self.out.write_all(bytes);
        }
        self.carry.extend_from_slice(bytes);
        let whole = whole_characters(&self.carry);
        let shown = sanitize::bytes(&self.carry[..whole]);
        self.carry.drain(..whole);
        self.out.write_all(shown.as_bytes())
    }

    pub fn show(&mut self, entry: Entry) -> std::io::Result<()> {
        for error in &entry.errors {
            self.worst = self.worst.max(error.exit);
            let place = match entry.process {
                Process::Socket => String::new(),
                process => format!("{process}: "),
            };
            let command = sanitize::text(&entry.command);
            let what = match entry.line {
                Some(line) => format!("{place}line {line}: {command}"),
                None => format!("{place}'{command}'"),
            };
            self.out.flush()?;
            crate::messages::line_to(
                self.err,
                format_args!(
                    "{}: {what}: {}",
                    self.address,
                    sanitize::text(&error.message)
                ),
            )?;
        }
        if self.json {
            self.results.push(entry);
            return Ok(());
        }
        if std::mem::take(&mut self.flowing) {
            // The rest after the parts (a cut character, shown escaped, is all there can be).
            let rest = std::mem::take(&mut self.carry);
            self.out.write_all(sanitize::bytes(&rest).as_bytes())?;
            return self.out.write_all(&entry.bytes);
        }
        if self.labelled {
            writeln!(self.out, "== {} ==", entry.process)?;
        }
        if !self.raw && entry.bytes.iter().all(|&b| b == b'\n') {
            // HAProxy's empty reply to a silent success (`set weight`): nothing to show.
            return Ok(());
        }
        if self.escape {
            self.out.write_all(sanitize::text(&entry.output).as_bytes())
        } else {
            self.out.write_all(&entry.bytes)
        }
    }

    /// Standard output was closed: quiet if nothing was left to run, else exit 6 naming what
    /// did not run.
    pub fn closed(&self, rest: Vec<String>) -> anyhow::Result<()> {
        if rest.is_empty() {
            return Ok(());
        }
        Err(anyhow::Error::new(exit::NotRun(rest)).context(self.address.to_string()))
    }

    /// A message on stderr, after the output so far.
    pub fn note(&mut self, text: &str) -> std::io::Result<()> {
        self.out.flush()?;
        crate::messages::line_to(
            self.err,
            format_args!("{}: {}", self.address, sanitize::text(text)),
        )
    }

    pub fn finish(self) -> anyhow::Result<Code> {
        if self.json {
            let report = Report {
                ok: self.results.iter().all(|r| r.ok),
                results: self.results,
            };
            let mut text = serde_json::to_vec_pretty(&report)?;
            text.push(b'\n');
            match self.out.write_all(&text) {
                // Every command ran: the reader went away, the exit code stands.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                written => written?,
            }
        }
        Ok(self.worst)
    }
}

/// How many bytes of `bytes` end on a character boundary: all but a UTF-8 sequence cut at
/// the end.
fn whole_characters(bytes: &[u8]) -> usize {
    for back in 1..=3.min(bytes.len()) {
        let at = bytes.len() - back;
        let lead = bytes[at];
        let needs = match lead {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            0x80..=0xbf => continue,
            _ => return bytes.len(),
        };
        return if needs > back { at } else { bytes.len() };
    }
    bytes.len()
}
