//! The same command on many sockets at once: the list of targets, labelled output, the worst
//! exit code.
//!
//! Each target runs on a thread of its own (at most `-j` at a time) and writes into buffers of
//! its own; when it finishes, the main thread prints its output in one piece, every line
//! prefixed with `ADDR: `, and its messages to stderr. Targets are printed in the order they
//! finish, so a slow one never holds back the others' output; lines of two targets never mix.
//! With `--json`, one object keyed by address, in the order the targets were given, once all
//! are done.

mod progress;

use std::io::{self, IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use sockctl::Address;
use sockctl::fanout::{self, Event};

use crate::exit::{self, Code, UsageError};
use crate::report;
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
    pub out: Vec<u8>,
    pub err: Vec<u8>,
}

/// One target's entry in `--json`.
struct Entry {
    /// The exit code this target alone would give.
    code: Code,
    /// The messages it printed on stderr, without the `sockctl: ` in front.
    errors: Vec<String>,
    /// Its JSON document (`null` if it failed before it had one), or its replies as a JSON
    /// string; as text, so that objects keep the order of their keys.
    result: String,
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
        // Into a pipe or a file, through a spool: a reader that pauses must not stall the
        // socket (HAProxy closes a connection it cannot write to after its stats timeout).
        let stdout = io::stdout();
        let mut out: Box<dyn Write> = if stdout.is_terminal() {
            Box::new(stdout.lock())
        } else {
            Box::new(io::BufWriter::new(crate::spool::Spool::new(
                crate::spool::RawStdout,
            )))
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
    fanout::run(
        targets,
        jobs,
        Duration::from_millis(100),
        |_, address| {
            let mut buffers = Buffers::default();
            let result = work(address, &mut buffers);
            let code = settle(result, &mut buffers.err);
            (code, buffers)
        },
        |event| {
            let (index, (code, buffers)) = match event {
                Event::Tick => return progress.tick(),
                Event::Done(index, result) => (index, result),
            };
            worst = worst.max(code);
            progress.clear();
            let _ = io::stderr().write_all(&buffers.err);
            match json {
                Some(shape) => entries[index] = Some(entry(code, &buffers, shape)),
                None => {
                    let written = out.write_all(&labelled(&targets[index], &buffers.out));
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
        match out.write_all(&keyed_json(keyed)) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            written => written?,
        }
    }
    Ok(worst)
}

/// Descriptors one job may hold at once: its socket, the directory handle a long Unix path is
/// reached through, a resolver's socket or file while a host name is looked up.
const FDS_PER_JOB: u64 = 3;

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
        eprintln!(
            "sockctl: -j {jobs} lowered to {allowed}: the open-file limit is {soft} \
             (ulimit -n) and each socket at work needs up to {FDS_PER_JOB}"
        );
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
                report::error_to(err, &e);
            }
            exit::for_error(&e)
        }
    }
}

/// Every line of `output` with `address: ` in front; a last line without a newline gets one.
fn labelled(address: &Address, output: &[u8]) -> Vec<u8> {
    let label = format!("{address}: ");
    let mut text = Vec::with_capacity(output.len() + label.len() * 4);
    for line in output.split_inclusive(|&b| b == b'\n') {
        text.extend_from_slice(label.as_bytes());
        text.extend_from_slice(line);
    }
    if !text.is_empty() && !text.ends_with(b"\n") {
        text.push(b'\n');
    }
    text
}

fn entry(code: Code, buffers: &Buffers, shape: Shape) -> Entry {
    let text = String::from_utf8_lossy(&buffers.out);
    let is_json = || serde_json::from_slice::<serde::de::IgnoredAny>(&buffers.out).is_ok();
    let result = match shape {
        _ if buffers.out.is_empty() => "null".to_string(),
        Shape::Json if is_json() => text.trim_end().to_string(),
        _ => serde_json::Value::String(text.into_owned()).to_string(),
    };
    let errors = String::from_utf8_lossy(&buffers.err)
        .lines()
        .map(|line| line.strip_prefix("sockctl: ").unwrap_or(line).to_string())
        .collect();
    Entry {
        code,
        errors,
        result,
    }
}

/// One object keyed by address, in the order given, pretty-printed like the documents in it.
fn keyed_json(entries: impl Iterator<Item = (String, Entry)>) -> Vec<u8> {
    let mut text = String::from("{");
    for (i, (address, entry)) in entries.enumerate() {
        let errors = serde_json::to_string_pretty(&entry.errors).expect("strings serialize");
        text.push_str(if i == 0 { "\n  " } else { ",\n  " });
        text.push_str(&serde_json::Value::String(address).to_string());
        text.push_str(&format!(
            ": {{\n    \"code\": {},\n    \"errors\": {},\n    \"result\": {}\n  }}",
            entry.code as i32,
            indent(&errors),
            indent(&entry.result)
        ));
    }
    text.push_str(if text.len() > 1 { "\n}\n" } else { "}\n" });
    text.into_bytes()
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
    }

    #[test]
    fn jobs_fit_in_the_open_file_limit() {
        assert_eq!(bound_jobs(200, 64, 5), 14);
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

    #[test]
    fn json_entries_keep_documents_and_text() {
        let buffers = Buffers {
            out: b"{\n  \"b\": 1,\n  \"a\": [\n    2\n  ]\n}\n".to_vec(),
            err: b"sockctl: x: boom\n".to_vec(),
        };
        let json = entry(Code::CommandFailed, &buffers, Shape::Json);
        let text = entry(Code::Ok, &buffers, Shape::Text);
        let broken = Buffers {
            out: b"{\"a\"".to_vec(),
            err: Vec::new(),
        };
        let broken = entry(Code::BadReply, &broken, Shape::Json);
        let empty = entry(Code::Connect, &Buffers::default(), Shape::Json);
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
                "/a b": {"code": 0, "errors": ["x: boom"], "result": String::from_utf8(buffers.out.clone()).unwrap()},
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
