//! Opening a connection to an [`Address`] within a time limit, with errors that say what to fix.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::PollFlags;
use rustix::fs::{CWD, FileType, Mode, OFlags};
use rustix::io::Errno;
use rustix::net::sockopt::{self, Timeout};
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

use crate::address::{Address, Family};
use crate::interrupt;
use crate::stream::{IoFailure, POLL_SLICE, Peer, Stream, wait};

/// Why a connection could not be opened.
#[derive(Debug)]
pub enum ConnectError {
    /// The socket file (or a directory on its path) does not exist.
    NotFound(PathBuf),
    /// A socket file exists but nothing accepts connections on it.
    Stale(PathBuf),
    /// The path exists but is not a socket.
    NotASocket {
        path: PathBuf,
        actual: &'static str,
    },
    PermissionDenied(PathBuf),
    /// Nothing bound to an abstract name, or a TCP port that refuses.
    Refused(String),
    /// The host name did not resolve (or not to the requested family).
    Resolve {
        host: String,
        why: String,
    },
    /// The connect timeout passed: an unreachable host, or a listener whose backlog is full.
    TimedOut {
        peer: String,
        after: Duration,
    },
    /// The socket file name alone is too long for `sun_path`, even via its directory.
    NameTooLong(PathBuf),
    Interrupted,
    Other {
        peer: String,
        source: io::Error,
    },
    /// A socket on another host was not reached because ssh or the remote sockctl failed.
    Ssh(crate::ssh::SshError),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::units::format_duration;
        match self {
            ConnectError::NotFound(_) => write!(f, "connect: no such file or directory"),
            ConnectError::Stale(_) => write!(
                f,
                "connect: connection refused (stale socket: the file exists but nothing is \
                 listening; is the service running?)"
            ),
            ConnectError::NotASocket { actual, .. } => {
                write!(f, "connect: not a socket (it is a {actual})")
            }
            ConnectError::PermissionDenied(path) => write!(
                f,
                "connect: permission denied (check the socket's owner and mode with \
                 'ls -l {}', or run as a member of its group)",
                path.display()
            ),
            ConnectError::Refused(what) => {
                write!(
                    f,
                    "connect: connection refused (nothing is listening on {what})"
                )
            }
            ConnectError::Resolve { host, why } => write!(f, "cannot resolve '{host}': {why}"),
            ConnectError::TimedOut { peer, after } => write!(
                f,
                "connect: timed out after {} to {peer} (host unreachable, or the listener's \
                 backlog is full because the service is not accepting)",
                format_duration(*after)
            ),
            ConnectError::NameTooLong(_) => write!(
                f,
                "connect: socket file name is too long (over {} bytes even without its directory)",
                SUN_PATH_MAX - PROC_FD_PREFIX_MAX
            ),
            ConnectError::Interrupted => write!(f, "connect: interrupted"),
            ConnectError::Other { peer, source } => write!(f, "connect to {peer}: {source}"),
            ConnectError::Ssh(e) => write!(f, "connect: {e}"),
        }
    }
}

// The messages above already include their causes; no `source()` so they are not repeated.
impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Other { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Room in `sockaddr_un.sun_path`, without a terminating NUL (Linux accepts that).
const SUN_PATH_MAX: usize = 108;
/// `/proc/self/fd/<fd>/`, with room for a large descriptor number.
const PROC_FD_PREFIX_MAX: usize = 24;

/// Connects to `addr`, giving up after `timeout` (`None`: wait as long as the kernel does).
pub fn connect(addr: &Address, timeout: Option<Duration>) -> Result<Stream, ConnectError> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let (fd, peer) = match addr {
        Address::Unix(path) => (
            unix_path(path, deadline, timeout)?,
            Peer::Unix(path.clone()),
        ),
        Address::Abstract { name, padded } => {
            let mut bytes = name.clone();
            if *padded {
                bytes.resize(crate::address::ABSTRACT_NAME_MAX, 0);
            }
            let sockaddr =
                SocketAddrUnix::new_abstract_name(&bytes).map_err(|_| ConnectError::Resolve {
                    host: addr.to_string(),
                    why: "abstract name longer than 107 bytes".into(),
                })?;
            let fd = unix_connect(&sockaddr, deadline).map_err(|e| match e {
                Errno::CONNREFUSED => ConnectError::Refused(abstract_hint(addr, *padded)),
                other => unix_error(other, addr.to_string(), timeout),
            })?;
            (fd, Peer::Abstract(name.clone()))
        }
        Address::Tcp { host, port, family } => tcp(host, *port, *family, timeout)?,
        Address::Ssh { target, remote } => {
            return crate::ssh::link::connect(target, remote, timeout);
        }
    };
    Stream::new(fd, peer).map_err(|source| ConnectError::Other {
        peer: addr.to_string(),
        source,
    })
}

/// Which abstract name was tried, and the other spelling, since the two never meet.
fn abstract_hint(addr: &Address, padded: bool) -> String {
    let Address::Abstract { name, .. } = addr else {
        return addr.to_string();
    };
    let name = String::from_utf8_lossy(name);
    if padded {
        format!("{addr}, padded as HAProxy binds it; a socket bound without padding is @{name}")
    } else {
        format!("{addr}; a socket HAProxy binds as abns@ is reached as abns@{name}")
    }
}

fn unix_path(
    path: &Path,
    deadline: Option<Instant>,
    timeout: Option<Duration>,
) -> Result<OwnedFd, ConnectError> {
    let result = match SocketAddrUnix::new(path) {
        Ok(sockaddr) => unix_connect(&sockaddr, deadline),
        Err(Errno::NAMETOOLONG) => long_unix_path(path, deadline)?,
        Err(e) => Err(e),
    };
    result.map_err(|e| match e {
        Errno::NOENT | Errno::NOTDIR => ConnectError::NotFound(path.to_path_buf()),
        Errno::ACCESS | Errno::PERM => ConnectError::PermissionDenied(path.to_path_buf()),
        // connect() on a regular file or directory also says "refused": look before blaming
        // the service.
        Errno::CONNREFUSED => {
            match rustix::fs::stat(path).map(|st| FileType::from_raw_mode(st.st_mode)) {
                Ok(FileType::Socket) | Err(_) => ConnectError::Stale(path.to_path_buf()),
                Ok(other) => ConnectError::NotASocket {
                    path: path.to_path_buf(),
                    actual: file_type_name(other),
                },
            }
        }
        other => unix_error(other, path.display().to_string(), timeout),
    })
}

/// Reaches a socket whose path does not fit in `sun_path` through its directory: a handle
/// opened with `O_PATH` makes `/proc/self/fd/N/NAME` a short alias for the same file.
fn long_unix_path(
    path: &Path,
    deadline: Option<Instant>,
) -> Result<Result<OwnedFd, Errno>, ConnectError> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(Err(Errno::NAMETOOLONG));
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let dir_fd = match rustix::fs::openat(
        CWD,
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => return Ok(Err(e)),
    };
    let mut alias = format!("/proc/self/fd/{}/", dir_fd.as_raw_fd()).into_bytes();
    alias.extend_from_slice(name.as_bytes());
    let sockaddr = SocketAddrUnix::new(alias.as_slice())
        .map_err(|_| ConnectError::NameTooLong(path.to_path_buf()))?;
    Ok(unix_connect(&sockaddr, deadline))
}

/// A blocking connect bounded by `SO_SNDTIMEO`: for Unix sockets the kernel applies it to the
/// wait for room in a full listen backlog, where a plain blocking connect would hang forever
/// and a non-blocking one would fail at once. The wait goes in slices, so that a stop request
/// seen by another thread (see [`crate::stream`]) ends it too.
fn unix_connect(sockaddr: &SocketAddrUnix, deadline: Option<Instant>) -> Result<OwnedFd, Errno> {
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    loop {
        let left = match deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None => POLL_SLICE,
        };
        if left.is_zero() {
            return Err(Errno::AGAIN);
        }
        // The kernel reads a zero timeout as "forever".
        let slice = left.min(POLL_SLICE).max(Duration::from_micros(1));
        sockopt::set_socket_timeout(&fd, Timeout::Send, Some(slice))?;
        match rustix::net::connect(&fd, sockaddr) {
            Ok(()) => break,
            Err(Errno::INTR | Errno::AGAIN) if interrupt::requested() => return Err(Errno::INTR),
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) if deadline.is_none_or(|d| Instant::now() < d) => continue,
            Err(e) => return Err(e),
        }
    }
    sockopt::set_socket_timeout(&fd, Timeout::Send, None)?;
    Ok(fd)
}

fn unix_error(errno: Errno, peer: String, timeout: Option<Duration>) -> ConnectError {
    match errno {
        Errno::AGAIN => ConnectError::TimedOut {
            peer,
            after: timeout.unwrap_or_default(),
        },
        Errno::INTR => ConnectError::Interrupted,
        other => ConnectError::Other {
            peer,
            source: other.into(),
        },
    }
}

fn file_type_name(file_type: FileType) -> &'static str {
    match file_type {
        FileType::RegularFile => "regular file",
        FileType::Directory => "directory",
        FileType::Symlink => "symbolic link",
        FileType::Fifo => "named pipe",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        _ => "file of another kind",
    }
}

/// Tries each address the name resolves to, in the resolver's order, each within `timeout`.
fn tcp(
    host: &str,
    port: u16,
    family: Family,
    timeout: Option<Duration>,
) -> Result<(OwnedFd, Peer), ConnectError> {
    let resolve_error = |why: String| ConnectError::Resolve {
        host: host.to_string(),
        why,
    };
    let candidates: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| resolve_error(resolver_message(&e)))?
        .filter(|a| match family {
            Family::Any => true,
            Family::V4 => a.is_ipv4(),
            Family::V6 => a.is_ipv6(),
        })
        .collect();
    if candidates.is_empty() {
        let what = match family {
            Family::Any => "no address",
            Family::V4 => "no IPv4 address",
            Family::V6 => "no IPv6 address",
        };
        return Err(resolve_error(what.to_string()));
    }
    first_that_accepts(&candidates, timeout)
}

/// Connects to each address in turn until one accepts; else the last one's error.
fn first_that_accepts(
    candidates: &[SocketAddr],
    timeout: Option<Duration>,
) -> Result<(OwnedFd, Peer), ConnectError> {
    let mut last = None;
    for &addr in candidates {
        match tcp_one(addr, timeout) {
            Ok(fd) => return Ok((fd, Peer::Tcp(addr))),
            Err(IoFailure::Interrupted) => return Err(ConnectError::Interrupted),
            Err(IoFailure::TimedOut) => {
                last = Some(ConnectError::TimedOut {
                    peer: addr.to_string(),
                    after: timeout.unwrap_or_default(),
                })
            }
            Err(IoFailure::Other(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                last = Some(ConnectError::Refused(addr.to_string()))
            }
            Err(IoFailure::Reset(e)) => {
                last = Some(ConnectError::Other {
                    peer: addr.to_string(),
                    source: e.into(),
                })
            }
            Err(IoFailure::Other(source)) => {
                last = Some(ConnectError::Other {
                    peer: addr.to_string(),
                    source,
                })
            }
        }
    }
    Err(last.expect("at least one candidate was tried"))
}

fn tcp_one(addr: SocketAddr, timeout: Option<Duration>) -> Result<OwnedFd, IoFailure> {
    let domain = if addr.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let fd = rustix::net::socket_with(
        domain,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )
    .map_err(IoFailure::from)?;
    match rustix::net::connect(&fd, &addr) {
        Ok(()) => {}
        Err(Errno::INPROGRESS | Errno::INTR) => {
            wait(
                fd.as_fd(),
                PollFlags::OUT,
                timeout.map(|t| Instant::now() + t),
            )?;
            sockopt::socket_error(&fd)
                .map_err(IoFailure::from)?
                .map_err(|e| IoFailure::Other(e.into()))?;
        }
        Err(e) => return Err(IoFailure::Other(e.into())),
    }
    Ok(fd)
}

/// getaddrinfo's text without std's "failed to lookup address information: " preamble.
fn resolver_message(e: &io::Error) -> String {
    let text = e.to_string();
    text.strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A loopback port where nothing listens (bound, then let go).
    fn refusing_port() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    }

    #[test]
    fn every_resolved_address_is_tried_in_turn() {
        let refusing = refusing_port();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let accepting = listener.local_addr().unwrap();
        let timeout = Some(Duration::from_secs(5));
        let (_fd, peer) = first_that_accepts(&[refusing, accepting], timeout).unwrap();
        assert_eq!(peer, Peer::Tcp(accepting));
        let (client, _) = listener.accept().unwrap();
        assert_eq!(client.peer_addr().unwrap().ip(), accepting.ip());

        // When none accepts, the last one's error is the one reported.
        let other = refusing_port();
        match first_that_accepts(&[refusing, other], timeout) {
            Err(ConnectError::Refused(what)) => assert_eq!(what, other.to_string()),
            Err(e) => panic!("{e}"),
            Ok((_, peer)) => panic!("connected to {peer}"),
        }
    }
}
