//! Runs the built `sockctl` and checks how it ended, one expectation after another:
//!
//! ```text
//! sockctl(["send", path, "show info"]).fails(3).stderr_has("nothing is listening");
//! let doc: Value = sockctl(["haproxy", "info", "-s"]).arg(&ha.admin).succeeds().json();
//! ```
//!
//! A check that fails shows the command line, how the run ended, and what it wrote on stdout
//! and stderr, so that a red test explains itself.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// `sockctl ARGS…`; add to it with [`Sockctl::arg`], [`Sockctl::env`], [`Sockctl::stdin`]…,
/// then run it with [`Sockctl::succeeds`], [`Sockctl::fails`] or [`Sockctl::run`].
pub fn sockctl<I, S>(args: I) -> Sockctl
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let command = Sockctl {
        args: Vec::new(),
        env: Vec::new(),
        stdin: None,
        timeout: None,
    };
    command.args(args)
}

/// A command line of the built `sockctl`, with its environment and standard input.
#[must_use = "a command does nothing until it runs"]
#[derive(Clone)]
pub struct Sockctl {
    args: Vec<OsString>,
    /// Variables set (`Some`) or removed (`None`), in order.
    env: Vec<(OsString, Option<OsString>)>,
    stdin: Option<Vec<u8>>,
    timeout: Option<Duration>,
}

impl Sockctl {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.env.push((key.into(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.env.push((key.into(), None));
        self
    }

    /// What standard input holds; without it, standard input is empty.
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Kills the run after `limit`: a hang fails the test instead of holding up the suite.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// The process to start, for a test that sets up its standard streams, limits or user
    /// itself, or signals it; [`Sockctl::ended`] turns its output into a [`Run`] to check.
    /// Standard input and the timeout are not part of it.
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sockctl"));
        command.args(&self.args);
        for (key, value) in &self.env {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        command
    }

    /// Runs to the end, stdout and stderr captured, and checks nothing.
    pub fn run(&self) -> Run {
        let mut command = assert_cmd::Command::from_std(self.command());
        if let Some(input) = &self.stdin {
            command.write_stdin(input.clone());
        }
        if let Some(limit) = self.timeout {
            command.timeout(limit);
        }
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("running {self}: {e}"));
        self.ended(output)
    }

    /// Runs, and checks that the run exited 0.
    #[track_caller]
    pub fn succeeds(&self) -> Run {
        self.run().succeeds()
    }

    /// Runs, and checks that the run exited with `code`.
    #[track_caller]
    pub fn fails(&self, code: i32) -> Run {
        self.run().fails(code)
    }

    /// How a process started from [`Sockctl::command`] ended, to check like any other run.
    pub fn ended(&self, output: Output) -> Run {
        Run::new(self, output)
    }
}

/// The command line as a shell would take it (control characters and bytes that are not
/// UTF-8 escaped), with the environment changes first and standard input after.
impl fmt::Display for Sockctl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unset: Vec<&OsString> = self
            .env
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k)
            .collect();
        if !self.env.is_empty() {
            write!(f, "env ")?;
            for key in unset {
                write!(f, "-u {} ", quoted(key.as_encoded_bytes()))?;
            }
            for (key, value) in &self.env {
                if let Some(value) = value {
                    let pair = [key.as_encoded_bytes(), b"=", value.as_encoded_bytes()].concat();
                    write!(f, "{} ", quoted(&pair))?;
                }
            }
        }
        write!(f, "sockctl")?;
        for arg in &self.args {
            write!(f, " {}", quoted(arg.as_encoded_bytes()))?;
        }
        if let Some(input) = &self.stdin {
            write!(f, " <<< {}", quoted(&cut(input, 1024)))?;
        }
        Ok(())
    }
}

/// How a run ended and what it wrote. The checks take the run and give it back, so that they
/// chain; each shows the whole run when it fails (so does `{run}` in a message of one's own).
pub struct Run {
    command: String,
    output: Output,
}

impl Run {
    /// A finished `command` (described as a person would type it) and its output.
    pub fn new(command: impl fmt::Display, output: Output) -> Run {
        Run {
            command: command.to_string(),
            output,
        }
    }

    /// Checks that the run exited 0.
    #[track_caller]
    pub fn succeeds(self) -> Self {
        self.exited(0)
    }

    /// Checks that the run exited with `code`, not 0.
    #[track_caller]
    pub fn fails(self, code: i32) -> Self {
        assert_ne!(code, 0, "fails(0): a run that exits 0 succeeds()");
        self.exited(code)
    }

    #[track_caller]
    fn exited(self, code: i32) -> Self {
        if self.code() != Some(code) {
            panic!("expected exit code {code}\n{self}");
        }
        self
    }

    /// Checks that the run ended by `signal` (`libc::SIGINT`…), as a shell sees it.
    #[track_caller]
    pub fn killed_by(self, signal: i32) -> Self {
        if self.output.status.signal() != Some(signal) {
            panic!("expected an end by signal {signal}\n{self}");
        }
        self
    }

    #[track_caller]
    pub fn stdout_has(self, text: impl AsRef<str>) -> Self {
        let text = text.as_ref();
        if !self.stdout().contains(text) {
            panic!("stdout lacks {text:?}\n{self}");
        }
        self
    }

    #[track_caller]
    pub fn stderr_has(self, text: impl AsRef<str>) -> Self {
        let text = text.as_ref();
        if !self.stderr().contains(text) {
            panic!("stderr lacks {text:?}\n{self}");
        }
        self
    }

    #[track_caller]
    pub fn stderr_lacks(self, text: impl AsRef<str>) -> Self {
        let text = text.as_ref();
        if self.stderr().contains(text) {
            panic!("stderr has {text:?}\n{self}");
        }
        self
    }

    /// Checks that stdout is exactly `expected`, byte for byte.
    #[track_caller]
    pub fn stdout_is(self, expected: impl AsRef<[u8]>) -> Self {
        let expected = expected.as_ref();
        if self.output.stdout != expected {
            panic!("expected stdout {}\n{self}", quoted(expected));
        }
        self
    }

    /// Checks that stderr is exactly `expected`, byte for byte.
    #[track_caller]
    pub fn stderr_is(self, expected: impl AsRef<[u8]>) -> Self {
        let expected = expected.as_ref();
        if self.output.stderr != expected {
            panic!("expected stderr {}\n{self}", quoted(expected));
        }
        self
    }

    /// The exit code; `None` when a signal ended the run.
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// The signal that ended the run, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.output.status.signal()
    }

    /// Stdout as text (bytes that are not UTF-8 replaced).
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// Stderr as text (bytes that are not UTF-8 replaced).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn stdout_bytes(&self) -> &[u8] {
        &self.output.stdout
    }

    pub fn stderr_bytes(&self) -> &[u8] {
        &self.output.stderr
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.output.stdout)
            .unwrap_or_else(|e| panic!("stdout is not the JSON expected: {e}\n{self}"))
    }

    /// Stdout parsed as the documented JSON document `T`, which must give the same JSON back:
    /// no field unknown, none lost, none renamed.
    #[track_caller]
    pub fn document<T: DeserializeOwned + Serialize>(&self) -> T {
        let doc: T = self.json();
        let original: serde_json::Value = self.json();
        assert_eq!(
            serde_json::to_value(&doc).unwrap(),
            original,
            "the document lost or changed fields\n{self}"
        );
        doc
    }
}

/// The command line, how the run ended, then stdout and stderr (long ones cut in the middle).
impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "$ {}", self.command)?;
        writeln!(f, "{}", self.output.status)?;
        for (name, bytes) in [
            ("stdout", &self.output.stdout),
            ("stderr", &self.output.stderr),
        ] {
            writeln!(f, "--- {name}: {} bytes", bytes.len())?;
            if !bytes.is_empty() {
                let text = shown(&cut(bytes, 8192));
                write!(f, "{text}")?;
                if !text.ends_with('\n') {
                    writeln!(f)?;
                }
            }
        }
        write!(f, "---")
    }
}

/// `bytes`, or its first and last `keep / 2` bytes around a note of what was left out.
fn cut(bytes: &[u8], keep: usize) -> Vec<u8> {
    if bytes.len() <= keep {
        return bytes.to_vec();
    }
    let (head, tail) = (&bytes[..keep / 2], &bytes[bytes.len() - keep / 2..]);
    let note = format!("\n[… {} bytes not shown …]\n", bytes.len() - keep);
    [head, note.as_bytes(), tail].concat()
}

/// Text to show on a terminal: control characters other than newline and tab, and bytes that
/// are not UTF-8, escaped.
fn shown(bytes: &[u8]) -> String {
    let mut text = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() && c != '\n' && c != '\t' {
                match u8::try_from(c) {
                    Ok(byte) if byte.is_ascii() => text.push_str(&format!("\\x{byte:02x}")),
                    _ => text.extend(c.escape_default()),
                }
            } else {
                text.push(c);
            }
        }
        for byte in chunk.invalid() {
            text.push_str(&format!("\\x{byte:02x}"));
        }
    }
    text
}

/// One word of a command line: as it is when a shell would take it so, else single-quoted
/// (escaped as [`shown`] does, all on one line).
fn quoted(bytes: &[u8]) -> String {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"-_./:@%+=,".contains(b);
    if !bytes.is_empty() && bytes.iter().all(plain) {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let text = shown(bytes).replace('\n', "\\n").replace('\t', "\\t");
    format!("'{}'", text.replace('\'', r"'\''"))
}
