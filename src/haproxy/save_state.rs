//! Saving `show servers state` to the file HAProxy loads at start and reload, validated and
//! atomically.
//!
//! HAProxy ignores the whole state file when a single line is short or truncated (it only logs
//! a warning), so a partial dump is as bad as none: the reply is checked line by line while it
//! streams into a temporary file, and the file replaces the old one only when the dump is
//! complete. A lock beside the file keeps two runs from interleaving.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::address::Address;
use crate::atomic_file::{AtomicFile, split_target};
use crate::command::Command;
use crate::error::ExchangeError;
use crate::exchange::Exchange;
use crate::haproxy::master::SocketKind;
use crate::haproxy::servers_state::{StateError, StateSummary, ValidatingWriter};
use crate::lock::{Lock, LockError};

#[derive(Debug, Clone)]
pub struct Saved {
    pub path: PathBuf,
    pub summary: StateSummary,
    pub bytes: u64,
    pub elapsed: Duration,
}

#[derive(Debug)]
pub enum SaveError {
    /// A backend name that would change the command.
    BadBackend(String),
    Lock(LockError),
    /// The state file cannot be prepared or put in place.
    File {
        path: PathBuf,
        source: io::Error,
    },
    Exchange(ExchangeError),
    /// HAProxy answered, but not with a complete dump (or with an error message).
    Invalid(StateError),
}

impl fmt::Display for SaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaveError::BadBackend(name) => write!(
                f,
                "invalid backend name {name:?}: it must be one word without ';'"
            ),
            SaveError::Lock(e) => e.fmt(f),
            SaveError::File { path, source } => write!(f, "{}: {source}", path.display()),
            SaveError::Exchange(e) => write!(f, "show servers state: {e}"),
            SaveError::Invalid(e) => write!(f, "show servers state: {e}"),
        }
    }
}

impl std::error::Error for SaveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SaveError::Lock(e) => Some(e),
            SaveError::File { source, .. } => Some(source),
            SaveError::Exchange(e) => Some(e),
            SaveError::Invalid(e) => Some(e),
            _ => None,
        }
    }
}

/// The command that dumps the state on this kind of socket.
pub fn dump_command(kind: &SocketKind, backend: Option<&str>) -> Result<Command, SaveError> {
    let mut command = String::new();
    if let SocketKind::Master(_) = kind {
        // The current worker: the master itself has no servers.
        command.push_str("@1 ");
    }
    command.push_str("show servers state");
    if let Some(backend) = backend {
        if backend.is_empty() || backend.contains(|c: char| c == ';' || c.is_whitespace()) {
            return Err(SaveError::BadBackend(backend.to_string()));
        }
        command.push(' ');
        command.push_str(backend);
    }
    Command::new(command).map_err(|_| SaveError::BadBackend(backend.unwrap_or("").to_string()))
}

/// `.NAME.sockctl-lock` beside the state file.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(".sockctl-lock");
    path.with_file_name(name)
}

/// Dumps the server state through `address` into `path`.
pub fn save_state(
    address: &Address,
    command: &Command,
    path: &Path,
    exchange: &Exchange,
) -> Result<Saved, SaveError> {
    let start = Instant::now();
    let file_error = |source| SaveError::File {
        path: path.to_path_buf(),
        source,
    };
    // A path naming a directory is refused before its lock is made beside it.
    split_target(path).map_err(file_error)?;
    let _lock = Lock::acquire(&lock_path(path), exchange.get_timeout()).map_err(SaveError::Lock)?;
    // Creating the file also removes the temporaries of runs killed mid-save (SIGKILL, power
    // loss), now that the lock says no other run of ours is writing.
    let file = AtomicFile::create(path).map_err(file_error)?;
    let mut sink = ValidatingWriter::new(file);
    let report = match exchange.run(address, command, &mut sink) {
        Ok(report) => report,
        Err(ExchangeError::Sink { source, .. }) => return Err(sink_error(source, path)),
        Err(e) => return Err(SaveError::Exchange(e)),
    };
    let (summary, file) = sink.finish().map_err(SaveError::Invalid)?;
    file.commit().map_err(file_error)?;
    Ok(Saved {
        path: path.to_path_buf(),
        summary,
        bytes: report.received,
        elapsed: start.elapsed(),
    })
}

/// A failed write to the temporary file is either the validator refusing the bytes or the
/// disk refusing them.
fn sink_error(source: io::Error, path: &Path) -> SaveError {
    if source.kind() == io::ErrorKind::InvalidData
        && source
            .get_ref()
            .is_some_and(|inner| inner.is::<StateError>())
    {
        let inner = source.into_inner().expect("checked above");
        let state = inner.downcast::<StateError>().expect("checked above");
        return SaveError::Invalid(*state);
    }
    SaveError::File {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_commands() {
        let stats = SocketKind::Stats;
        assert_eq!(
            dump_command(&stats, None).unwrap().as_bytes(),
            b"show servers state"
        );
        assert_eq!(
            dump_command(&stats, Some("be_app")).unwrap().as_bytes(),
            b"show servers state be_app"
        );
        for bad in ["", "a b", "x;shutdown sessions", "a\nb"] {
            assert!(dump_command(&stats, Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lock_beside_the_file() {
        assert_eq!(
            lock_path(Path::new("/var/lib/haproxy/state")),
            PathBuf::from("/var/lib/haproxy/.state.sockctl-lock")
        );
    }
}
