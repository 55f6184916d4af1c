//! A connected socket with deadline-bounded I/O.
//!
//! The descriptor is non-blocking: reads and writes are tried first and `poll` is used only
//! when the kernel has nothing for us, so a fast peer costs one syscall per chunk while a slow
//! or silent one can never hold us past a deadline.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags, Shutdown};

use std::sync::Arc;

use crate::interrupt;
use crate::ssh::link::Link;

/// What a connection ended up talking to, for `-v` and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    Unix(PathBuf),
    Abstract(Vec<u8>),
    Tcp(std::net::SocketAddr),
    /// A socket on another host, reached over ssh: the host, and the peer as the remote
    /// relay saw it.
    Remote {
        target: String,
        peer: String,
    },
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Unix(path) => write!(f, "unix:{}", path.display()),
            Peer::Abstract(name) => write!(f, "abstract:{}", String::from_utf8_lossy(name)),
            Peer::Tcp(addr) => write!(f, "tcp:{addr}"),
            Peer::Remote { target, peer } => write!(f, "ssh://{target} {peer}"),
        }
    }
}

/// Why a single read, write or wait did not complete.
#[derive(Debug)]
pub enum IoFailure {
    /// The deadline passed first.
    TimedOut,
    /// The process was asked to stop (see [`interrupt`]).
    Interrupted,
    /// The peer reset the connection or had already closed it (ECONNRESET, EPIPE).
    Reset(Errno),
    Other(io::Error),
}

impl From<interrupt::Requested> for IoFailure {
    fn from(_: interrupt::Requested) -> Self {
        IoFailure::Interrupted
    }
}

impl From<Errno> for IoFailure {
    fn from(errno: Errno) -> Self {
        match errno {
            Errno::CONNRESET | Errno::PIPE => IoFailure::Reset(errno),
            _ => IoFailure::Other(errno.into()),
        }
    }
}

#[derive(Debug)]
pub struct Stream {
    fd: OwnedFd,
    peer: Peer,
    /// For a socket on another host: the ssh child behind `fd` (one end of a socket pair),
    /// which says what an EOF on `fd` stands for, and which ends with the last handle.
    link: Option<Arc<Link>>,
}

impl Stream {
    /// Takes a connected socket and switches it to non-blocking mode.
    pub(crate) fn new(fd: OwnedFd, peer: Peer) -> io::Result<Self> {
        rustix::io::ioctl_fionbio(&fd, true)?;
        Ok(Stream {
            fd,
            peer,
            link: None,
        })
    }

    /// One end of a socket pair whose other end a thread serves for `link`.
    pub(crate) fn linked(fd: OwnedFd, peer: Peer, link: Arc<Link>) -> io::Result<Self> {
        rustix::io::ioctl_fionbio(&fd, true)?;
        Ok(Stream {
            fd,
            peer,
            link: Some(link),
        })
    }

    /// An EOF read from `fd`: the server's clean EOF, unless the link says otherwise.
    fn at_eof(&self) -> Result<(), IoFailure> {
        match self.link.as_ref().and_then(|link| link.failure_at_eof()) {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// A second handle on the same connection, e.g. for a thread that only reads while another
    /// writes.
    pub fn try_clone(&self) -> io::Result<Stream> {
        let fd = rustix::io::fcntl_dupfd_cloexec(&self.fd, 0)?;
        Ok(Stream {
            fd,
            peer: self.peer.clone(),
            link: self.link.clone(),
        })
    }

    /// Writes every byte of `data` or says why not.
    pub fn send_all(&self, mut data: &[u8], deadline: Option<Instant>) -> Result<(), IoFailure> {
        while !data.is_empty() {
            interrupt::check()?;
            match rustix::net::send(&self.fd, data, SendFlags::NOSIGNAL) {
                Ok(n) => data = &data[n..],
                Err(Errno::AGAIN) => wait(self.fd.as_fd(), PollFlags::OUT, deadline)?,
                Err(Errno::INTR) => interrupt::check()?,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Half-closes: tells the peer that the command is complete. A peer that already hung up
    /// is not an error here; the read that follows reports what it left us.
    pub fn shutdown_write(&self) -> Result<(), IoFailure> {
        match rustix::net::shutdown(&self.fd, Shutdown::Write) {
            Ok(()) | Err(Errno::NOTCONN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends as much of `data` as the socket takes now, without waiting; `Ok(0)` when it takes
    /// nothing.
    pub fn send_some(&self, data: &[u8]) -> Result<usize, IoFailure> {
        interrupt::check()?;
        match rustix::net::send(&self.fd, data, SendFlags::NOSIGNAL) {
            Ok(n) => Ok(n),
            Err(Errno::AGAIN | Errno::INTR) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads what has arrived into the spare capacity of `buf` (as [`Self::read_append`]),
    /// without waiting: `Ok(None)` when nothing has, `Ok(Some(0))` at EOF.
    pub fn read_now(&self, buf: &mut Vec<u8>) -> Result<Option<usize>, IoFailure> {
        interrupt::check()?;
        match rustix::net::recv(
            &self.fd,
            rustix::buffer::spare_capacity(buf),
            RecvFlags::empty(),
        ) {
            Ok((_, 0)) => self.at_eof().map(|()| Some(0)),
            Ok((_, n)) => Ok(Some(n)),
            Err(Errno::AGAIN | Errno::INTR) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Waits until there is something to read (or EOF, or an error), or also room to write
    /// when `writing`, or until `deadline` passes.
    pub fn wait_ready(&self, writing: bool, deadline: Option<Instant>) -> Result<(), IoFailure> {
        let events = if writing {
            PollFlags::IN | PollFlags::OUT
        } else {
            PollFlags::IN
        };
        wait(self.fd.as_fd(), events, deadline)
    }

    /// Reads what is available, waiting until `deadline` for something; `Ok(0)` is EOF.
    pub fn read_some(&self, buf: &mut [u8], deadline: Option<Instant>) -> Result<usize, IoFailure> {
        self.read_with(deadline, |fd| {
            rustix::net::recv(fd, &mut *buf, RecvFlags::empty())
        })
    }

    /// Like `read_some`, appending to the spare capacity of `buf`, which therefore need not be
    /// zeroed first: a 64 KiB buffer that a short reply barely touches costs nothing to prepare.
    pub fn read_append(
        &self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<usize, IoFailure> {
        self.read_with(deadline, |fd| {
            rustix::net::recv(fd, rustix::buffer::spare_capacity(buf), RecvFlags::empty())
        })
    }

    fn read_with<T>(
        &self,
        deadline: Option<Instant>,
        mut recv: impl FnMut(BorrowedFd<'_>) -> Result<(T, usize), Errno>,
    ) -> Result<usize, IoFailure> {
        loop {
            // A signal that lands between two syscalls interrupts none of them: look at the
            // flag on every turn, not only after EINTR.
            interrupt::check()?;
            match recv(self.fd.as_fd()) {
                Ok((_, 0)) => return self.at_eof().map(|()| 0),
                Ok((_, n)) => return Ok(n),
                Err(Errno::AGAIN) => wait(self.fd.as_fd(), PollFlags::IN, deadline)?,
                Err(Errno::INTR) => interrupt::check()?,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// No single `poll` lasts longer than this. A signal interrupts the `poll` of one thread only;
/// the others see the stop request when their slice ends, so Ctrl-C stops every thread of a
/// program that talks to many sockets at once within this time.
pub(crate) const POLL_SLICE: Duration = Duration::from_millis(100);

/// Waits until `fd` is ready for `events` or `deadline` passes.
pub(crate) fn wait(
    fd: BorrowedFd<'_>,
    events: PollFlags,
    deadline: Option<Instant>,
) -> Result<(), IoFailure> {
    loop {
        // A signal that arrived while we were not waiting (during a read, a write, or our own
        // processing) left only the flag behind: poll would not see it.
        interrupt::check()?;
        let left = match deadline {
            None => POLL_SLICE,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(IoFailure::TimedOut);
                }
                left.min(POLL_SLICE)
            }
        };
        let timeout = Timespec::try_from(left).expect("at most POLL_SLICE");
        let mut fds = [PollFd::from_borrowed_fd(fd, events)];
        match poll(&mut fds, Some(&timeout)) {
            // Readiness includes HUP and ERR: the read or write that follows reports them.
            Ok(n) if n > 0 => return Ok(()),
            Ok(_) => continue,
            Err(Errno::INTR) => interrupt::check()?,
            Err(e) => return Err(IoFailure::Other(e.into())),
        }
    }
}
