//! The exit codes, one per kind of outcome a script may want to act on.

use std::io;

use sockctl::address::AddressError;
use sockctl::command::CommandError;
use sockctl::connect::ConnectError;
use sockctl::error::ExchangeError;
use sockctl::haproxy::batch::BatchError;
use sockctl::haproxy::discover::DiscoverError;
use sockctl::haproxy::losses::{LossError, SyncError};
use sockctl::haproxy::master::ProcError;
use sockctl::haproxy::outcome::{Failure, OutcomeError};
use sockctl::haproxy::reload::ReloadError;
use sockctl::haproxy::route::RunError;
use sockctl::haproxy::save_state::SaveError;
use sockctl::haproxy::servers_state::StateError;
use sockctl::haproxy::session::OpenError;
use sockctl::haproxy::table::TableError;
use sockctl::haproxy::{BadName, ParseError};
use sockctl::lock::LockError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    Ok = 0,
    /// The server answered, but the command failed.
    CommandFailed = 1,
    Usage = 2,
    Connect = 3,
    Timeout = 4,
    BadReply = 5,
    /// The reply could not be written where it was asked to go.
    Output = 6,
    Interrupted = 130,
}

/// Marks an error as a usage error wherever it comes from.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// An error whose message has been printed already; carries only the code.
#[derive(Debug)]
pub struct Reported(pub Code);

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failed with exit code {}", self.0 as i32)
    }
}

impl std::error::Error for Reported {}

/// Standard output was closed (its reader went away, as in `sockctl … | head -c1`) before every
/// command ran: these did not run (each as a message names it, `'show stat' in worker 12`). Exit 6: a quiet exit 0 is only for a closed output after
/// every command ran, so that 0 never hides a command that did not.
#[derive(Debug)]
pub struct NotRun(pub Vec<String>);

impl std::fmt::Display for NotRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // All of a few; of many, the first three and the last.
        const SHOWN: usize = 5;
        let n = self.0.len();
        let noun = if n == 1 { "command" } else { "commands" };
        write!(f, "{n} {noun} not run (")?;
        if n <= SHOWN {
            f.write_str(&self.0.join(", "))?;
        } else {
            let last = &self.0[n - 1];
            write!(f, "{}, … {} more …, {last}", self.0[..3].join(", "), n - 4)?;
        }
        f.write_str("): standard output was closed (broken pipe)")
    }
}

impl std::error::Error for NotRun {}

pub fn for_exchange(e: &ExchangeError) -> Code {
    match e {
        ExchangeError::Connect(c) => for_connect(c),
        ExchangeError::Refused(_) => Code::Usage,
        // A wrong password is like a permission denied: no session.
        ExchangeError::Denied(_) => Code::Connect,
        ExchangeError::Timeout { .. } | ExchangeError::Idle { .. } => Code::Timeout,
        ExchangeError::NotProtocol { .. }
        | ExchangeError::Reset { .. }
        | ExchangeError::Closed { .. }
        | ExchangeError::ClosedBeforeCommand
        | ExchangeError::TooLarge { .. }
        | ExchangeError::Unexpected { .. }
        | ExchangeError::Io { .. } => Code::BadReply,
        ExchangeError::Sink { .. } => Code::Output,
        ExchangeError::Interrupted { .. } => Code::Interrupted,
    }
}

pub fn for_connect(e: &ConnectError) -> Code {
    match e {
        ConnectError::TimedOut { .. } => Code::Timeout,
        ConnectError::Interrupted => Code::Interrupted,
        ConnectError::Ssh(e) if e.is_usage() => Code::Usage,
        ConnectError::Ssh(e) if e.is_timeout() => Code::Timeout,
        ConnectError::Ssh(_) => Code::Connect,
        ConnectError::NotFound(_)
        | ConnectError::Stale(_)
        | ConnectError::NotASocket { .. }
        | ConnectError::PermissionDenied(_)
        | ConnectError::Refused(_)
        | ConnectError::Resolve { .. }
        | ConnectError::NameTooLong(_)
        | ConnectError::Other { .. } => Code::Connect,
    }
}

fn for_save(e: &SaveError) -> Code {
    match e {
        SaveError::BadBackend(_) => Code::Usage,
        SaveError::Lock(e) => for_lock(e),
        SaveError::File { .. } => Code::Output,
        SaveError::Exchange(e) => for_exchange(e),
        SaveError::Invalid(_) => Code::BadReply,
    }
}

fn for_proc(e: &ProcError) -> Code {
    match e {
        ProcError::Exchange(e) => for_exchange(e),
        // The wrong socket was given: the user has to fix the command line.
        ProcError::NotMaster(_) => Code::Usage,
        ProcError::Parse(_) => Code::BadReply,
    }
}

fn for_lock(e: &LockError) -> Code {
    match e {
        LockError::Busy { .. } => Code::Timeout,
        LockError::Interrupted => Code::Interrupted,
        LockError::Io { .. } => Code::Output,
    }
}

/// Finds the code for an error by looking down its chain for a type we know.
pub fn for_error(err: &anyhow::Error) -> Code {
    for cause in err.chain() {
        if let Some(Reported(code)) = cause.downcast_ref() {
            return *code;
        }
        if let Some(e) = cause.downcast_ref::<ExchangeError>() {
            return for_exchange(e);
        }
        if let Some(e) = cause.downcast_ref::<ConnectError>() {
            return for_connect(e);
        }
        if let Some(e) = cause.downcast_ref::<SaveError>() {
            return for_save(e);
        }
        if let Some(e) = cause.downcast_ref::<ReloadError>() {
            return match e {
                ReloadError::Proc(e) => for_proc(e),
                ReloadError::Exchange(e) => for_exchange(e),
                ReloadError::InProgress => Code::CommandFailed,
                ReloadError::Unexpected(_) => Code::BadReply,
                ReloadError::GaveUp { .. } => Code::Timeout,
                ReloadError::Exited { .. } | ReloadError::NoWorker { .. } => Code::CommandFailed,
                ReloadError::NoChange { .. } => Code::BadReply,
            };
        }
        if let Some(e) = cause.downcast_ref::<ProcError>() {
            return for_proc(e);
        }
        if let Some(e) = cause.downcast_ref::<LossError>() {
            return match e {
                LossError::Exchange { source, .. } => for_exchange(source),
                LossError::Reply { .. } => Code::BadReply,
                // Input that cannot be read: refused before anything was done.
                LossError::Config(_) | LossError::File { .. } => Code::Usage,
            };
        }
        if let Some(e) = cause.downcast_ref::<SyncError>() {
            return match e {
                SyncError::Unwritable { .. }
                | SyncError::ChangedSinceLoad { .. }
                | SyncError::Ambiguous { .. } => Code::Usage,
                SyncError::File { .. } => Code::Output,
            };
        }
        if let Some(e) = cause.downcast_ref::<LockError>() {
            return for_lock(e);
        }
        if let Some(e) = cause.downcast_ref::<RunError>() {
            return match e {
                RunError::Command(_) => Code::Usage,
                RunError::Exchange(e) => for_exchange(e),
                RunError::Reply(_) => Code::BadReply,
            };
        }
        if let Some(e) = cause.downcast_ref::<BatchError>() {
            return match e {
                BatchError::Severity(_) => Code::BadReply,
                BatchError::Route { .. } => Code::Usage,
                BatchError::Lost { error, .. } => for_exchange(error),
                BatchError::Output(_) => Code::Output,
            };
        }
        if let Some(e) = cause.downcast_ref::<OpenError>() {
            return match e {
                OpenError::Connect(c) => for_connect(c),
                OpenError::Interrupted => Code::Interrupted,
                OpenError::NotHaproxy { .. } | OpenError::Io(_) => Code::BadReply,
            };
        }
        if let Some(e) = cause.downcast_ref::<StateError>() {
            return match e {
                StateError::UnknownCommand { .. }
                | StateError::PermissionDenied { .. }
                | StateError::NoSuchBackend { .. } => Code::CommandFailed,
                StateError::Empty
                | StateError::UnsupportedVersion { .. }
                | StateError::NotAStateDump { .. }
                | StateError::BadHeader { .. }
                | StateError::Truncated { .. }
                | StateError::MissingBlankLine { .. }
                | StateError::FieldCount { .. }
                | StateError::LineTooLong { .. }
                | StateError::TrailingData { .. }
                | StateError::BadValue { .. }
                | StateError::MissingColumn { .. }
                | StateError::InvalidField { .. } => Code::BadReply,
            };
        }
        if cause.is::<NotRun>() {
            return Code::Output;
        }
        if cause.is::<Failure>() {
            return Code::CommandFailed;
        }
        if let Some(TableError::NotDumped(_)) = cause.downcast_ref() {
            return Code::CommandFailed;
        }
        if cause.is::<ParseError>() || cause.is::<OutcomeError>() || cause.is::<TableError>() {
            return Code::BadReply;
        }
        if cause.is::<UsageError>()
            || cause.is::<AddressError>()
            || cause.is::<CommandError>()
            || cause.is::<DiscoverError>()
            || cause.is::<BadName>()
        {
            return Code::Usage;
        }
    }
    if err.chain().any(|c| c.is::<io::Error>()) {
        return Code::Output;
    }
    Code::CommandFailed
}

/// `sockctl … | head` must stop quietly: a closed stdout is the reader's choice, not a failure
/// (once every command ran; before, it is [`NotRun`]).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let io = match cause.downcast_ref::<ExchangeError>() {
            Some(ExchangeError::Sink { source, .. }) => Some(source),
            _ => cause.downcast_ref::<io::Error>(),
        };
        io.is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_run_names_the_commands() {
        let one = NotRun(vec!["'set server be/s2 weight 42'".into()]);
        assert_eq!(
            one.to_string(),
            "1 command not run ('set server be/s2 weight 42'): standard output was closed \
             (broken pipe)"
        );
        let few = NotRun((1..=5).map(|i| format!("'c{i}'")).collect());
        assert!(
            few.to_string()
                .starts_with("5 commands not run ('c1', 'c2', 'c3', 'c4', 'c5'): "),
            "{few}"
        );
        let many = NotRun((1..=11).map(|i| format!("'c{i}'")).collect());
        assert!(
            many.to_string()
                .starts_with("11 commands not run ('c1', 'c2', 'c3', … 7 more …, 'c11'): "),
            "{many}"
        );
        assert_eq!(
            for_error(&anyhow::Error::new(one).context("x")),
            Code::Output
        );
    }
}
