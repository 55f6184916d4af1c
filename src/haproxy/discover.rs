//! Finding the HAProxy socket when the user did not name one: `$SOCKCTL_SOCKET`, then the
//! `stats socket` of the configuration, then the `-S` master socket of a running HAProxy.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::address::{Address, AddressError};
use crate::haproxy::config::GlobalSettings;

pub const ENV_SOCKET: &str = "SOCKCTL_SOCKET";
pub const DEFAULT_CONFIG: &str = "/etc/haproxy/haproxy.cfg";

/// Where a socket address came from, for `-v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Environment,
    Config(PathBuf),
    RunningMaster(u32),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Environment => write!(f, "${ENV_SOCKET}"),
            Source::Config(path) => write!(f, "the 'stats socket' line of {}", path.display()),
            Source::RunningMaster(pid) => write!(f, "the -S argument of HAProxy master {pid}"),
        }
    }
}

#[derive(Debug)]
pub enum DiscoverError {
    /// Nothing found; each entry says what was looked at and why it gave nothing.
    NotFound(Vec<String>),
    /// More than one running master: the user must choose.
    Ambiguous(Vec<(u32, String)>),
    BadAddress {
        source: Source,
        error: AddressError,
    },
}

impl fmt::Display for DiscoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoverError::NotFound(tried) => write!(
                f,
                "no socket given and none found ({}); give one with -s ADDR",
                tried.join("; ")
            ),
            DiscoverError::Ambiguous(masters) => {
                let list: Vec<String> = masters
                    .iter()
                    .map(|(pid, a)| format!("{a} (pid {pid})"))
                    .collect();
                write!(
                    f,
                    "several HAProxy masters are running: {}; choose one with -s ADDR",
                    list.join(", ")
                )
            }
            DiscoverError::BadAddress { source, error } => write!(f, "from {source}: {error}"),
        }
    }
}

impl std::error::Error for DiscoverError {}

/// Which sockets will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// A stats socket or a master socket.
    Any,
    /// Only a master socket (the configuration cannot name one).
    Master,
}

pub fn find_socket(config: &Path, want: Want) -> Result<(Address, Source), DiscoverError> {
    let mut tried = Vec::new();
    let parse = |text: &str, source: Source| {
        text.parse::<Address>()
            .map(|a| (a, source.clone()))
            .map_err(|error| DiscoverError::BadAddress { source, error })
    };
    match std::env::var(ENV_SOCKET) {
        Ok(value) if !value.is_empty() => return parse(&value, Source::Environment),
        _ => tried.push(format!("${ENV_SOCKET} is not set")),
    }
    if want == Want::Any {
        match GlobalSettings::read(config) {
            Ok(settings) => match settings.stats_socket() {
                Some(socket) => return parse(&socket, Source::Config(config.to_path_buf())),
                None => tried.push(format!("{} has no 'stats socket' line", config.display())),
            },
            Err(e) => tried.push(format!("cannot read {}: {e}", config.display())),
        }
    }
    let masters = running_masters();
    match masters.as_slice() {
        [] => tried.push("no running HAProxy master was started with -S".into()),
        [(pid, socket)] => return parse(socket, Source::RunningMaster(*pid)),
        _ => return Err(DiscoverError::Ambiguous(masters)),
    }
    Err(DiscoverError::NotFound(tried))
}

/// Running HAProxy masters and their `-S` socket, found from command lines under /proc.
/// Workers are forked, not executed, so they share the master's command line: a process
/// whose parent is one of the candidates is a worker and is left out. Only processes owned by
/// root or by the caller count: anyone can start a process called haproxy with `-S` pointing
/// at a socket of theirs, and root must not send its reload or read its state dump there.
pub fn running_masters() -> Vec<(u32, String)> {
    let me = rustix::process::geteuid().as_raw();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut candidates = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let trusted = rustix::fs::stat(format!("/proc/{pid}"))
            .is_ok_and(|st| st.st_uid == 0 || st.st_uid == me);
        if !trusted {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if let Some(socket) = master_socket_arg(&cmdline, pid) {
            candidates.push((pid, socket, parent_pid(pid)));
        }
    }
    let pids: Vec<u32> = candidates.iter().map(|c| c.0).collect();
    let mut masters: Vec<(u32, String)> = candidates
        .into_iter()
        .filter(|(_, _, parent)| !parent.is_some_and(|p| pids.contains(&p)))
        .map(|(pid, socket, _)| (pid, socket))
        .collect();
    masters.sort();
    masters
}

/// The `-S` argument of an HAProxy command line, without its `,option` suffixes, made
/// absolute against the process's working directory when relative.
fn master_socket_arg(cmdline: &[u8], pid: u32) -> Option<String> {
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    let program = Path::new(std::str::from_utf8(args.first()?).ok()?);
    if !program.file_name()?.to_str()?.starts_with("haproxy") {
        return None;
    }
    let value = args
        .iter()
        .position(|a| *a == b"-S")
        .and_then(|i| args.get(i + 1))?;
    let value = std::str::from_utf8(value).ok()?;
    let socket = value.split(',').next()?.to_string();
    let is_relative_path =
        !socket.contains(':') && !socket.contains('@') && !socket.starts_with('/');
    if is_relative_path && let Ok(cwd) = std::fs::read_link(format!("/proc/{pid}/cwd")) {
        return Some(cwd.join(&socket).display().to_string());
    }
    Some(socket)
}

fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_socket_from_a_command_line() {
        let line = b"/usr/sbin/haproxy\0-Ws\0-f\0/etc/haproxy/haproxy.cfg\0-S\0/run/haproxy-master.sock,mode,600\0";
        assert_eq!(
            master_socket_arg(line, std::process::id()).as_deref(),
            Some("/run/haproxy-master.sock")
        );
        assert_eq!(master_socket_arg(b"/usr/bin/socat\0-S\0/x\0", 1), None);
        assert_eq!(master_socket_arg(b"haproxy\0-f\0x.cfg\0", 1), None);
        let relative = master_socket_arg(b"haproxy\0-W\0-S\0m.sock\0", std::process::id());
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(relative, Some(cwd.join("m.sock").display().to_string()));
    }

    #[test]
    fn parent_of_this_process() {
        assert_eq!(
            parent_pid(std::process::id()),
            Some(rustix::process::getppid().unwrap().as_raw_nonzero().get() as u32)
        );
    }
}
