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
    /// Where the output is in the printer's temporary file, when it was passed on in parts
    /// (`--json` with a reply over the hold size): offset and length.
    #[serde(skip)]
    spooled: Option<(u64, u64)>,
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
            spooled: None,
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
    /// `--json`: the outputs passed on in parts, kept out of memory until the document is
    /// written; its length, and where the current entry's output starts in it.
    spool: Option<std::fs::File>,
    spool_len: u64,
    part_start: Option<u64>,
    /// The end of the last part, when it cut a UTF-8 character (escaped output only).
    carry: Vec<u8>,
}

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
            spool: None,
            spool_len: 0,
            part_start: None,
        }
    }

    /// How much of a reply may be held to be judged whole before it is passed on in parts.
    pub fn hold(&self) -> usize {
        sockctl::haproxy::outcome::Judge::HOLD
    }

    /// Output of the entry in progress, passed on as it comes (with `--json`, into a
    /// temporary file until the document is written).
    pub fn part(&mut self, process: Process, bytes: &[u8]) -> std::io::Result<()> {
        if self.json {
            let spool = match &mut self.spool {
                Some(file) => file,
                None => self.spool.insert(crate::spool::temporary()?),
            };
            spool.write_all(bytes)?;
            self.part_start.get_or_insert(self.spool_len);
            self.spool_len += bytes.len() as u64;
            return Ok(());
        }
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
        let whole = sanitize::whole_characters(&self.carry);
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
            let mut entry = entry;
            if let Some(start) = self.part_start.take() {
                entry.spooled = Some((start, self.spool_len - start));
            }
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

    pub fn finish(mut self) -> anyhow::Result<Code> {
        if self.json {
            let written = match self.spool.take() {
                None => {
                    let report = Report {
                        ok: self.results.iter().all(|r| r.ok),
                        results: std::mem::take(&mut self.results),
                    };
                    let mut text = serde_json::to_vec_pretty(&report)?;
                    text.push(b'\n');
                    self.out.write_all(&text)
                }
                Some(spool) => write_report(&self.results, spool, &mut self.out),
            };
            match written {
                // Every command ran: the reader went away, the exit code stands.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                written => written?,
            }
        }
        Ok(self.worst)
    }
}

/// The `--json` document of `results`, as `serde_json::to_vec_pretty` writes a [`Report`],
/// with each spooled output copied from `spool` a chunk at a time.
fn write_report(
    results: &[Entry],
    mut spool: std::fs::File,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let ok = results.iter().all(|r| r.ok);
    write!(out, "{{\n  \"ok\": {ok},\n  \"results\": [")?;
    for (i, entry) in results.iter().enumerate() {
        out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
        let text = serde_json::to_string_pretty(entry)?;
        let text = text.replace('\n', "\n    ");
        let (before, after) = match entry.spooled {
            // The field written empty, as no string value can hold this (its quotes would be
            // escaped).
            Some(_) => text
                .split_once("\"output\": \"\"")
                .expect("the output field"),
            None => (text.as_str(), ""),
        };
        write!(out, "    {before}")?;
        if let Some((offset, len)) = entry.spooled {
            out.write_all(b"\"output\": \"")?;
            spool.seek(SeekFrom::Start(offset))?;
            let mut left = len;
            let mut carry = Vec::new();
            let mut chunk = vec![0; 64 * 1024];
            while left > 0 {
                let n = chunk.len().min(left as usize);
                spool.read_exact(&mut chunk[..n])?;
                left -= n as u64;
                carry.extend_from_slice(&chunk[..n]);
                let keep = crate::many::escape_utf8(&carry, false, out)?;
                carry.drain(..carry.len() - keep);
            }
            crate::many::escape_utf8(&carry, true, out)?;
            write!(out, "\"{after}")?;
        }
    }
    if results.is_empty() {
        out.write_all(b"]\n}\n")
    } else {
        out.write_all(b"\n  ]\n}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without spooled outputs, the document written by hand is serde's to the byte.
    #[test]
    fn the_report_by_hand_is_serdes() {
        for count in [0, 1, 3] {
            let results: Vec<Entry> = (0..count)
                .map(|i| {
                    let entry = Entry::new(&format!("show \"x\" {i}"), Process::Socket, Some(i));
                    let entry = entry.output(format!("a\n\tb\u{1b}[0m {i}\n"));
                    if i == 1 {
                        entry.error(Code::CommandFailed, "No such server.".into())
                    } else {
                        entry
                    }
                })
                .collect();
            let mut by_hand = Vec::new();
            let spool = crate::spool::temporary().unwrap();
            write_report(&results, spool, &mut by_hand).unwrap();
            let report = Report {
                ok: results.iter().all(|r| r.ok),
                results,
            };
            let mut serde = serde_json::to_vec_pretty(&report).unwrap();
            serde.push(b'\n');
            assert_eq!(
                String::from_utf8(by_hand).unwrap(),
                String::from_utf8(serde).unwrap()
            );
        }
    }
}
