//! The same command on many sockets at once: the list of targets, labelled output, the worst
//! exit code.
//!
//! Each target runs on a thread of its own (at most `-j` at a time) and writes into buffers of
//! its own; when it finishes, the main thread prints its output in one piece, every line
//! prefixed with `ADDR: `, and its messages to stderr. Output past 256 KiB spills to an
//! unnamed temporary file (gone when the process ends), so a target's reply of any size costs
//! no more memory than that; with `--json`, a finished target's large result waits in one
//! shared temporary file until the document is written. Targets are printed in the order they
//! finish, so a slow one never holds back the others' output; lines of two targets never mix.
//! With `--json`, one object keyed by address, in the order the targets were given, once all
//! are done.

mod progress;

use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use sockctl::Address;
use sockctl::fanout::{self, Event};

use crate::exit::{self, Code, UsageError};
use crate::messages;
use progress::Progress;

/// The sockets a command goes to, and whether results carry their address.
pub struct Targets {
    pub list: Vec<Address>,
    /// Several were asked for (`-s` more than once, or `--sockets-file`): label every result,
    /// even when the file held one address, so that a script reads one format.
    pub many: bool,
}

impl Targets {
    /// The `-s` addresses, then those of `file`; each address once.
    pub fn new(sockets: &[Address], file: Option<&Path>) -> anyhow::Result<Targets> {
        let mut list = sockets.to_vec();
        if let Some(path) = file {
            // A list that cannot be read is a mistake on the command line, not an output error.
            // It may be a FIFO kept open by its writer: a signal ends the wait.
            let text = crate::lines::read_file(path)
                .map_err(|e| UsageError(format!("--sockets-file {}: {e}", path.display())))?;
            list.extend(read_list(&text).map_err(|(line, e)| {
                UsageError(format!("{}: line {line}: {e}", path.display()))
            })?);
            if list.is_empty() {
                return Err(UsageError(format!("{}: no address in it", path.display())).into());
            }
        }
        let mut seen = std::collections::HashSet::new();
        list.retain(|a| seen.insert(a.clone()));
        Ok(Targets {
            many: sockets.len() > 1 || file.is_some(),
            list,
        })
    }
}

/// One address per line; blank lines and `#` comments skipped.
fn read_list(text: &[u8]) -> Result<Vec<Address>, (usize, String)> {
    let mut list = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        // Bytes, not text: a socket path need not be UTF-8.
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let address = Address::from_os_str(std::ffi::OsStr::from_bytes(line));
        list.push(address.map_err(|e| (i + 1, format!("{e}")))?);
    }
    Ok(list)
}

/// What a target's standard output holds, for `--json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Reply bytes: shown as a string.
    Text,
    /// One JSON document: embedded as it is.
    Json,
}

/// Where one target writes.
#[derive(Default)]
pub struct Buffers {
    pub out: Spool,
    pub err: Vec<u8>,
}

/// Text output past this size goes to a temporary file.
const SPILL_AT: usize = 256 * 1024;

/// One target's output: in memory, or once past [`SPILL_AT`] (when allowed) in an unnamed
/// temporary file.
#[derive(Default)]
pub struct Spool {
    memory: Vec<u8>,
    file: Option<std::fs::File>,
    /// Whether the output may go to a file (text output; `--json` embeds it and keeps it).
    spills: bool,
}

impl Spool {
    fn spilling() -> Spool {
        Spool {
            spills: true,
            ..Spool::default()
        }
    }

    /// The output held in memory (all of it unless it spilled).
    pub fn bytes(&self) -> &[u8] {
        &self.memory
    }

    /// Whether the output went to a file.
    fn spilled(&self) -> bool {
        self.file.is_some()
    }

    /// Copies the whole output to `to` as `copy` says, reading a spilled file in chunks.
    fn replay(&mut self, mut copy: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        use std::io::{BufRead, Seek};
        let Some(file) = &mut self.file else {
            return copy(&self.memory);
        };
        file.flush()?;
        file.seek(io::SeekFrom::Start(0))?;
        let mut reader = io::BufReader::with_capacity(64 * 1024, file);
        loop {
            let chunk = reader.fill_buf()?;
            if chunk.is_empty() {
                return Ok(());
            }
            let n = chunk.len();
            copy(chunk)?;
            reader.consume(n);
        }
    }
}

impl Write for Spool {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.file.is_none() && self.spills && self.memory.len() + data.len() > SPILL_AT {
            let mut file = crate::spool::temporary()?;
            file.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some(file);
        }
        match &mut self.file {
            Some(file) => file.write_all(data)?,
            None => self.memory.extend_from_slice(data),
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One target's entry in `--json`.
struct Entry {
    /// The exit code this target alone would give.
    code: Code,
    /// The messages it printed on stderr, without the `sockctl: ` in front.
    errors: Vec<String>,
    /// Its JSON document (`null` if it failed before it had one), or its replies as a JSON
    /// string; as text, so that objects keep the order of their keys.
    result: Result_,
}

/// An entry's result: in memory, or in the [`Store`] when large.
enum Result_ {
    Inline(String),
    Stored { offset: u64, len: u64 },
}

/// The large `--json` results of finished targets, one after the other in one unnamed
/// temporary file (one descriptor however many targets), until the document is written.
#[derive(Default)]
struct Store {
    file: Option<std::fs::File>,
    len: u64,
}

impl Store {
    /// Appends what `fill` writes; returns where it starts and its length.
    fn append(
        &mut self,
        fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<(u64, u64)> {
        if self.file.is_none() {
            self.file = Some(crate::spool::temporary()?);
        }
        let file = self.file.as_mut().expect("just made");
        let mut counted = Counted {
            inner: io::BufWriter::with_capacity(64 * 1024, file),
            count: 0,
        };
        fill(&mut counted)?;
        counted.inner.flush()?;
        let offset = self.len;
        self.len += counted.count;
        Ok((offset, counted.count))
    }

    /// Copies `len` bytes from `offset` to `to`, a chunk at a time, as `copy` says.
    fn replay(
        &mut self,
        offset: u64,
        len: u64,
        mut copy: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        use std::io::{Read, Seek};
        let file = self.file.as_mut().expect("stored results have a file");
        file.seek(io::SeekFrom::Start(offset))?;
        let mut left = len;
        let mut buf = vec![0u8; 64 * 1024];
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = file.read(&mut buf[..want])?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "result store"));
            }
            copy(&buf[..n])?;
            left -= n as u64;
        }
        // Appends go to the end again.
        file.seek(io::SeekFrom::End(0))?;
        Ok(())
    }
}

/// A writer that counts what it passes on.
struct Counted<W: Write> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(data)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Runs `work` for each target: a single one straight on stdout and stderr (its error goes
/// back to the caller, as for any command), several at once as [`run`] says.
pub fn each(
    targets: &Targets,
    jobs: u32,
    json: Option<Shape>,
    work: impl Fn(&Address, &mut dyn Write, &mut dyn Write) -> anyhow::Result<Code> + Sync,
) -> anyhow::Result<Code> {
    if !targets.many {
        // A person sees each line as it comes; a pipe gets large writes (a batch of 10,000
        // one-line replies would otherwise be 10,000 writes).
        // Into a pipe, through a spool: a reader that pauses must not stall the socket
        // (HAProxy closes a connection it cannot write to after its stats timeout). A file
        // never makes a write wait for a reader.
        let stdout = io::stdout();
        let mut out: Box<dyn Write> = if crate::config::Terminal::get().stdout {
            Box::new(stdout.lock())
        } else if crate::spool::is_pipe(&stdout) {
            Box::new(io::BufWriter::new(crate::spool::Spool::new(
                crate::spool::RawStdout,
            )))
        } else {
            Box::new(io::BufWriter::new(stdout.lock()))
        };
        let result = work(&targets.list[0], &mut out, &mut io::stderr());
        return match out.flush() {
            // The work ran to its end (or says what did not run): its result stands.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => result,
            Err(e) => result.and(Err(e.into())),
            Ok(()) => result,
        };
    }
    run(
        &targets.list,
        jobs as usize,
        json,
        &mut io::stdout().lock(),
        |address, buffers| work(address, &mut buffers.out, &mut buffers.err),
    )
}

/// Runs `work` for every target on at most `jobs` threads and prints the results to `out`
/// (stdout or `-o FILE`): labelled text, or with `json` one object keyed by address. Returns
/// the worst exit code (130 when interrupted).
pub fn run(
    targets: &[Address],
    jobs: usize,
    json: Option<Shape>,
    out: &mut dyn Write,
    work: impl Fn(&Address, &mut Buffers) -> anyhow::Result<Code> + Sync,
) -> anyhow::Result<Code> {
    let jobs = jobs_within_the_open_file_limit(jobs.min(targets.len()));
    let mut progress = Progress::new(targets.len());
    let mut worst = Code::Ok;
    let mut entries: Vec<Option<Entry>> = targets.iter().map(|_| None).collect();
    let mut failure: Option<io::Error> = None;
    // With --json, the results past SPILL_AT wait here until every target is done.
    let mut store = Store::default();
    fanout::run(
        targets,
        jobs,
        Duration::from_millis(100),
        |_, address| {
            let mut buffers = Buffers {
                out: Spool::spilling(),
                err: Vec::new(),
            };
            let result = work(address, &mut buffers);
            let code = settle(result, &mut buffers.err);
            (code, buffers)
        },
        |event| {
            let (index, (code, mut buffers)) = match event {
                Event::Tick => return progress.tick(),
                Event::Done(index, result) => (index, result),
            };
            worst = worst.max(code);
            progress.clear();
            let _ = io::stderr().write_all(&buffers.err);
            match json {
                Some(shape) => match entry(code, &mut buffers, shape, &mut store) {
                    Ok(made) => entries[index] = Some(made),
                    Err(e) => {
                        failure.get_or_insert(e);
                        entries[index] = Some(Entry {
                            code,
                            errors: Vec::new(),
                            result: Result_::Inline("null".into()),
                        });
                    }
                },
                None => {
                    let written = write_labelled(&targets[index], &mut buffers.out, out);
                    if let Err(e) = written {
                        failure.get_or_insert(e);
                    }
                }
            }
            progress.finished(code != Code::Ok);
        },
    );
    progress.clear();
    // A closed stdout does not stop the targets (their commands are sent either way); their
    // exit codes stand, so that 0 never hides a target that failed.
    if let Some(e) = failure.filter(|e| e.kind() != io::ErrorKind::BrokenPipe) {
        return Err(e.into());
    }
    if sockctl::interrupt::requested() {
        return Ok(Code::Interrupted);
    }
    if json.is_some() {
        let keyed = targets.iter().zip(entries).map(|(address, entry)| {
            let entry = entry.expect("every target ran unless interrupted");
            (address.text(), entry)
        });
        match write_keyed_json(keyed, &mut store, out) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            written => written?,
        }
    }
    Ok(worst)
}

/// Descriptors one job may hold at once: its socket, the directory handle a long Unix path is
/// reached through, a resolver's socket or file while a host name is looked up, the file its
/// output spills to.
const FDS_PER_JOB: u64 = 4;

/// Descriptors left for everything else (`-o FILE` and its directory, the resolver's own).
const FDS_SPARE: u64 = 16;

/// `-j` bounded by the open-file limit, which is first raised as far as it goes (the soft limit
/// to the hard one): jobs beyond it would fail with "Too many open files" without their target
/// ever being contacted. Says so once on stderr when it lowers `jobs`.
fn jobs_within_the_open_file_limit(jobs: usize) -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        let _ = setrlimit(Resource::Nofile, raised);
    }
    let Some(soft) = getrlimit(Resource::Nofile).current else {
        return jobs;
    };
    // Not knowing what is open, assume a few more than stdin, stdout and stderr.
    let open = std::fs::read_dir("/proc/self/fd").map_or(8, |dir| dir.count() as u64);
    let allowed = bound_jobs(jobs, soft, open);
    if allowed < jobs {
        crate::messages::say(format_args!(
            "-j {jobs} lowered to {allowed}: the open-file limit is {soft} \
             (ulimit -n) and each socket at work needs up to {FDS_PER_JOB}"
        ));
    }
    allowed
}

/// How many of `jobs` fit in `limit` descriptors with `open` already in use.
fn bound_jobs(jobs: usize, limit: u64, open: u64) -> usize {
    let room = limit.saturating_sub(open + FDS_SPARE) / FDS_PER_JOB;
    jobs.min(usize::try_from(room).unwrap_or(usize::MAX)).max(1)
}

/// The exit code of a finished command, with its error (if any) reported to `err` as `main`
/// would report it.
pub fn settle(result: anyhow::Result<Code>, err: &mut dyn Write) -> Code {
    match result {
        Ok(code) => code,
        Err(e) if exit::is_broken_pipe(&e) => Code::Ok,
        Err(e) => {
            if !e.is::<exit::Reported>() {
                messages::error_to(err, &e);
            }
            exit::for_error(&e)
        }
    }
}

/// Writes every line of `output` to `to` with `address: ` in front; a last line without a
/// newline gets one. Read and written in chunks: a line may be of any length.
fn write_labelled(address: &Address, output: &mut Spool, to: &mut dyn Write) -> io::Result<()> {
    let label = format!("{address}: ");
    let mut to = io::BufWriter::with_capacity(64 * 1024, to);
    let mut line_start = true;
    output.replay(|chunk| {
        for piece in chunk.split_inclusive(|&b| b == b'\n') {
            if line_start {
                to.write_all(label.as_bytes())?;
            }
            to.write_all(piece)?;
            line_start = piece.ends_with(b"\n");
        }
        Ok(())
    })?;
    if !line_start {
        to.write_all(b"\n")?;
    }
    to.flush()
}

#[cfg(test)]
fn labelled(address: &Address, output: &[u8]) -> Vec<u8> {
    let mut spool = Spool::default();
    spool.write_all(output).unwrap();
    let mut text = Vec::new();
    write_labelled(address, &mut spool, &mut text).unwrap();
    text
}

fn entry(code: Code, buffers: &mut Buffers, shape: Shape, store: &mut Store) -> io::Result<Entry> {
    let errors = messages::records(&buffers.err);
    let result = if buffers.out.spilled() {
        Result_::stored(&mut buffers.out, shape, store)?
    } else {
        let out = buffers.out.bytes();
        let text = String::from_utf8_lossy(out);
        let is_json = || serde_json::from_slice::<serde::de::IgnoredAny>(out).is_ok();
        Result_::Inline(match shape {
            _ if out.is_empty() => "null".to_string(),
            Shape::Json if is_json() => text.trim_end().to_string(),
            _ => serde_json::to_string(&*text).expect("strings serialize"),
        })
    };
    Ok(Entry {
        code,
        errors,
        result,
    })
}

impl Result_ {
    /// A spilled output as a result in `store`: the document as it is (trailing white space
    /// dropped) when it is one, else a JSON string of its text, escaped a chunk at a time.
    fn stored(out: &mut Spool, shape: Shape, store: &mut Store) -> io::Result<Result_> {
        let mut is_json = false;
        if shape == Shape::Json {
            is_json =
                serde_json::from_reader::<_, serde::de::IgnoredAny>(SpoolReader::new(out)?).is_ok();
        }
        let (offset, len) = store.append(|to| {
            if is_json {
                // Trailing white space is held back until something follows it.
                let mut space = Vec::new();
                out.replay(|chunk| {
                    let end = chunk
                        .iter()
                        .rposition(|b| !b.is_ascii_whitespace())
                        .map_or(0, |i| i + 1);
                    if end > 0 {
                        to.write_all(&space)?;
                        space.clear();
                        to.write_all(&chunk[..end])?;
                    }
                    space.extend_from_slice(&chunk[end..]);
                    Ok(())
                })
            } else {
                to.write_all(b"\"")?;
                let mut carry: Vec<u8> = Vec::new();
                out.replay(|chunk| {
                    carry.extend_from_slice(chunk);
                    let keep = escape_utf8(&carry, false, to)?;
                    carry.drain(..carry.len() - keep);
                    Ok(())
                })?;
                escape_utf8(&carry, true, to)?;
                to.write_all(b"\"")
            }
        })?;
        Ok(Result_::Stored { offset, len })
    }
}

/// Writes `bytes` as the inside of a JSON string, invalid UTF-8 replaced as
/// `String::from_utf8_lossy` does; returns how many bytes at the end were held back because
/// they may be the start of a character the next chunk completes (none when `last`).
pub(crate) fn escape_utf8(mut bytes: &[u8], last: bool, to: &mut dyn Write) -> io::Result<usize> {
    let escape = |text: &str, to: &mut dyn Write| -> io::Result<()> {
        let quoted = serde_json::to_string(text).expect("strings serialize");
        to.write_all(&quoted.as_bytes()[1..quoted.len() - 1])
    };
    loop {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                escape(text, to)?;
                return Ok(0);
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                escape(std::str::from_utf8(valid).expect("checked"), to)?;
                match e.error_len() {
                    None if !last => return Ok(rest.len()),
                    None => {
                        escape("\u{FFFD}", to)?;
                        return Ok(0);
                    }
                    Some(n) => {
                        escape("\u{FFFD}", to)?;
                        bytes = &rest[n..];
                    }
                }
            }
        }
    }
}

/// Reads a spilled [`Spool`] from its start.
struct SpoolReader<'a> {
    file: io::BufReader<&'a mut std::fs::File>,
}

impl<'a> SpoolReader<'a> {
    fn new(spool: &'a mut Spool) -> io::Result<Self> {
        use std::io::Seek;
        let file = spool.file.as_mut().expect("a spilled spool");
        file.seek(io::SeekFrom::Start(0))?;
        Ok(SpoolReader {
            file: io::BufReader::with_capacity(64 * 1024, file),
        })
    }
}

impl io::Read for SpoolReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

/// Writes one object keyed by address, in the order given, pretty-printed like the documents
/// in it; stored results are copied from `store` a chunk at a time.
fn write_keyed_json(
    entries: impl Iterator<Item = (String, Entry)>,
    store: &mut Store,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut to = io::BufWriter::with_capacity(64 * 1024, out);
    let mut any = false;
    to.write_all(b"{")?;
    for (i, (address, entry)) in entries.enumerate() {
        any = true;
        let errors = serde_json::to_string_pretty(&entry.errors).expect("strings serialize");
        to.write_all(if i == 0 { b"\n  " } else { b",\n  " })?;
        to.write_all(serde_json::Value::String(address).to_string().as_bytes())?;
        write!(
            to,
            ": {{\n    \"code\": {},\n    \"errors\": {},\n    \"result\": ",
            entry.code as i32,
            indent(&errors),
        )?;
        match entry.result {
            Result_::Inline(text) => to.write_all(indent(&text).as_bytes())?,
            Result_::Stored { offset, len } => store.replay(offset, len, |chunk| {
                for (j, piece) in chunk.split(|&b| b == b'\n').enumerate() {
                    if j > 0 {
                        to.write_all(b"\n    ")?;
                    }
                    to.write_all(piece)?;
                }
                Ok(())
            })?,
        }
        to.write_all(b"\n  }")?;
    }
    to.write_all(if any { b"\n}\n" } else { b"}\n" })?;
    to.flush()
}

#[cfg(test)]
fn keyed_json(entries: impl Iterator<Item = (String, Entry)>) -> Vec<u8> {
    let mut text = Vec::new();
    write_keyed_json(entries, &mut Store::default(), &mut text).unwrap();
    text
}

/// Pretty JSON moved four columns right (a newline in JSON text is never inside a string).
fn indent(json: &str) -> String {
    json.replace('\n', "\n    ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_labelled() {
        let address: Address = "/run/a.sock".parse().unwrap();
        assert_eq!(
            labelled(&address, b"x\n\ny"),
            b"/run/a.sock: x\n/run/a.sock: \n/run/a.sock: y\n"
        );
        assert_eq!(labelled(&address, b""), b"");
        // Spilled to a file, a long line without a newline, read back in chunks.
        let mut spool = Spool::spilling();
        let long = vec![b'x'; SPILL_AT * 3];
        spool.write_all(b"a\n").unwrap();
        spool.write_all(&long).unwrap();
        assert!(spool.file.is_some() && spool.bytes().is_empty());
        let mut text = Vec::new();
        write_labelled(&address, &mut spool, &mut text).unwrap();
        let mut expected = b"/run/a.sock: a\n/run/a.sock: ".to_vec();
        expected.extend_from_slice(&long);
        expected.push(b'\n');
        assert!(text == expected, "{} bytes", text.len());
    }

    #[test]
    fn spilled_results_read_as_kept_ones() {
        // Text with characters of 2 to 4 bytes and invalid bytes at every offset of the
        // 64 KiB chunks it is read back in, and a document with trailing white space.
        let mut text = Vec::new();
        while text.len() < SPILL_AT * 2 {
            text.extend_from_slice("é€😀 \"q\" \\ \n\t\x01".as_bytes());
            text.extend_from_slice(b"\xff\xe2\x82 x");
        }
        let mut doc = b"{\n  \"a\": [\n".to_vec();
        while doc.len() < SPILL_AT * 2 {
            doc.extend_from_slice(b"    \"\xc3\xa9\",\n");
        }
        doc.extend_from_slice(b"    1\n  ]\n}\n\n  ");
        for (bytes, shape) in [
            (&text, Shape::Text),
            (&doc, Shape::Json),
            (&text, Shape::Json),
        ] {
            let mut results = Vec::new();
            for mut out in [Spool::default(), Spool::spilling()] {
                out.write_all(bytes).unwrap();
                assert_eq!(out.spilled(), results.len() == 1);
                let mut buffers = Buffers {
                    out,
                    err: Vec::new(),
                };
                let mut store = Store::default();
                let made = entry(Code::Ok, &mut buffers, shape, &mut store).unwrap();
                let mut keyed = Vec::new();
                let one = std::iter::once(("x".to_string(), made));
                write_keyed_json(one, &mut store, &mut keyed).unwrap();
                results.push(keyed);
            }
            assert!(results[0] == results[1], "{shape:?}");
            serde_json::from_slice::<serde_json::Value>(&results[1]).unwrap();
        }
    }

    #[test]
    fn jobs_fit_in_the_open_file_limit() {
        assert_eq!(bound_jobs(200, 64, 5), 10);
        assert_eq!(bound_jobs(10, 64, 5), 10);
        assert_eq!(bound_jobs(200, 1_048_576, 5), 200);
        // Always at least one: the run goes on, one target at a time.
        assert_eq!(bound_jobs(200, 10, 9), 1);
    }

    #[test]
    fn lists_skip_comments_and_name_bad_lines() {
        let list = read_list(b"# lbs\n/run/a.sock\n\n  @b  \nlb1:9999\n").unwrap();
        let names: Vec<String> = list.iter().map(|a| a.to_string()).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        let (line, _) = read_list(b"/run/a.sock\n\nhost:notaport\n").unwrap_err();
        assert_eq!(line, 3);
    }

    fn spool(bytes: &[u8]) -> Spool {
        let mut spool = Spool::default();
        spool.write_all(bytes).unwrap();
        spool
    }

    #[test]
    fn json_entries_keep_documents_and_text() {
        let buffers = Buffers {
            out: spool(b"{\n  \"b\": 1,\n  \"a\": [\n    2\n  ]\n}\n"),
            err: b"sockctl: x: boom\n".to_vec(),
        };
        let mut store = Store::default();
        let mut buffers = buffers;
        let json = entry(Code::CommandFailed, &mut buffers, Shape::Json, &mut store).unwrap();
        let text = entry(Code::Ok, &mut buffers, Shape::Text, &mut store).unwrap();
        let broken = Buffers {
            out: spool(b"{\"a\""),
            err: Vec::new(),
        };
        let mut broken = broken;
        let broken = entry(Code::BadReply, &mut broken, Shape::Json, &mut store).unwrap();
        let mut empty = Buffers::default();
        let empty = entry(Code::Connect, &mut empty, Shape::Json, &mut store).unwrap();
        let doc = keyed_json(
            [("z", json), ("/a b", text), ("y", broken), ("x", empty)]
                .into_iter()
                .map(|(k, e)| (k.to_string(), e)),
        );
        let doc = String::from_utf8(doc).unwrap();
        let value: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "z": {"code": 1, "errors": ["x: boom"], "result": {"b": 1, "a": [2]}},
                "/a b": {"code": 0, "errors": ["x: boom"], "result": String::from_utf8(buffers.out.bytes().to_vec()).unwrap()},
                "y": {"code": 5, "errors": [], "result": "{\"a\""},
                "x": {"code": 3, "errors": [], "result": null},
            })
        );
        // Keys in the order given, and the document's own order kept.
        assert!(
            doc.find("\"z\"").unwrap() < doc.find("\"/a b\"").unwrap(),
            "{doc}"
        );
        assert!(
            doc.contains("\"result\": {\n      \"b\": 1,\n      \"a\": ["),
            "{doc}"
        );
        assert_eq!(keyed_json(std::iter::empty()), b"{}\n");
    }
}
