//! Finding the HAProxy socket when the user did not name one: `$SOCKCTL_SOCKET`, then the
//! `stats socket` of the configuration, then the `-S` master socket of a running HAProxy.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::address::{Address, AddressError};
use crate::haproxy::config::GlobalSettings;
use crate::haproxy::running;

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

impl std::error::Error for DiscoverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DiscoverError::BadAddress { error, .. } => Some(error),
            _ => None,
        }
    }
}

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

/// Running HAProxy masters and their `-S` socket ([`running::masters`]).
pub fn running_masters() -> Vec<(u32, String)> {
    running::masters()
}
