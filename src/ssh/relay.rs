//! The remote end of an `ssh://` address: `sockctl __relay VERSION TIMEOUT ADDRESS`, started
//! by ssh on the host of the socket. It connects, says how that went, then copies standard
//! input to the socket (its EOF becomes a half-close) and the socket's bytes, framed, to
//! standard output, ending with how the socket's side ended (see [`super::wire`]).
//!
//! It keeps no deadline of its own beyond the connect: the local side keeps them, and when it
//! gives up it ends ssh, which closes this process's standard output.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;

use super::wire::{self, End};
use crate::address::Address;
use crate::connect::connect;
use crate::stream::{IoFailure, Stream};

/// Exit codes of the relay: the local side reads the records, not these, but a person running
/// it by hand sees them.
const OK: i32 = 0;
const USAGE: i32 = 2;
const CONNECT: i32 = 3;
const LOST: i32 = 5;

/// Runs the relay on this process's standard input and output; returns the exit code. The
/// caller should ignore SIGPIPE, so that a local side gone away is a failed write (the relay
/// then ends) rather than a death by signal.
pub fn serve(args: &[OsString]) -> i32 {
    let stdout = rustix::stdio::stdout();
    let mut out = wire::header();
    let [version, timeout, address] = args else {
        eprintln!(
            "usage: sockctl __relay VERSION TIMEOUT_MS ADDRESS (started by ssh:// addresses)"
        );
        return USAGE;
    };
    if version.to_str() != Some(&wire::VERSION.to_string()) {
        // The header already says which version this is; the caller explains.
        let _ = write_all(stdout, &out);
        return USAGE;
    }
    let timeout = match timeout.to_str() {
        Some("-") => None,
        Some(ms) => match ms.parse() {
            Ok(ms) => Some(Duration::from_millis(ms)),
            Err(_) => return USAGE,
        },
        None => return USAGE,
    };
    let address = match Address::from_os_str(address) {
        Ok(Address::Ssh { .. }) | Err(_) => {
            let e = crate::connect::ConnectError::Other {
                peer: address.to_string_lossy().into_owned(),
                source: io::Error::other("not an address this relay connects to"),
            };
            wire::record(
                &mut out,
                wire::CONNECT_FAILED,
                &wire::connect_error_payload(&e),
            );
            let _ = write_all(stdout, &out);
            return USAGE;
        }
        Ok(address) => address,
    };
    let stream = match connect(&address, timeout) {
        Ok(stream) => stream,
        Err(e) => {
            wire::record(
                &mut out,
                wire::CONNECT_FAILED,
                &wire::connect_error_payload(&e),
            );
            let _ = write_all(stdout, &out);
            return CONNECT;
        }
    };
    wire::record(
        &mut out,
        wire::CONNECTED,
        stream.peer().to_string().as_bytes(),
    );
    if write_all(stdout, &out).is_err() {
        return LOST;
    }
    match copy(&stream, rustix::stdio::stdin(), stdout) {
        Ok(()) => OK,
        Err(_) => LOST,
    }
}

/// Copies both ways until the socket's side has ended and that was said, or until standard
/// output is gone (the local side went away).
fn copy(stream: &Stream, stdin: BorrowedFd<'_>, stdout: BorrowedFd<'_>) -> io::Result<()> {
    let mut up: Vec<u8> = Vec::new();
    let mut stdin_open = true;
    let mut writes_fail = false;
    let mut written: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut socket_events = PollFlags::IN;
        if !up.is_empty() {
            socket_events |= PollFlags::OUT;
        }
        let stdin_events = if stdin_open && up.is_empty() {
            PollFlags::IN
        } else {
            PollFlags::empty()
        };
        // A descriptor at EOF is always ready: standard input is watched only while it is read.
        let mut fds = vec![
            PollFd::from_borrowed_fd(stream.as_fd(), socket_events),
            // No events asked: only POLLERR/POLLHUP, when the reader (ssh) is gone.
            PollFd::from_borrowed_fd(stdout, PollFlags::empty()),
        ];
        if !stdin_events.is_empty() {
            fds.push(PollFd::from_borrowed_fd(stdin, stdin_events));
        }
        let wait = Timespec::try_from(Duration::from_secs(1)).expect("fits");
        match poll(&mut fds, Some(&wait)) {
            Ok(_) => {}
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let socket_ready = fds[0].revents();
        let stdout_ready = fds[1].revents();
        let stdin_ready = fds.get(2).map_or(PollFlags::empty(), |fd| fd.revents());
        if stdout_ready.intersects(PollFlags::ERR | PollFlags::HUP) {
            return Err(io::Error::from(Errno::PIPE));
        }
        if !stdin_events.is_empty() && !stdin_ready.is_empty() {
            match rustix::io::read(stdin, &mut buf[..]) {
                Ok(0) | Err(_) => {
                    stdin_open = false;
                    if !writes_fail {
                        let _ = stream.shutdown_write();
                    }
                }
                Ok(_) if writes_fail => {}
                Ok(n) => up.extend_from_slice(&buf[..n]),
            }
        }
        if !up.is_empty() && socket_ready.contains(PollFlags::OUT) {
            match stream.send_some(&up) {
                Ok(n) => {
                    written += n as u64;
                    up.drain(..n);
                }
                Err(failure) => {
                    let errno = match failure {
                        IoFailure::Reset(errno) => errno.raw_os_error(),
                        IoFailure::Other(e) => wire::errno_of(&e),
                        IoFailure::TimedOut | IoFailure::Interrupted => Errno::IO.raw_os_error(),
                    };
                    up.clear();
                    writes_fail = true;
                    let mut out = Vec::new();
                    wire::record(&mut out, wire::WRITE_FAILED, errno.to_string().as_bytes());
                    write_all(stdout, &out)?;
                }
            }
        }
        if !socket_ready.is_empty() {
            let mut data = Vec::with_capacity(buf.len());
            let end = match stream.read_now(&mut data) {
                Ok(None) => None,
                Ok(Some(0)) => Some(End::Clean),
                Ok(Some(_)) => {
                    let mut out = Vec::with_capacity(data.len() + 5);
                    wire::record(&mut out, wire::DATA, &data);
                    write_all(stdout, &out)?;
                    None
                }
                Err(IoFailure::Reset(errno)) => Some(End::Reset(errno.raw_os_error())),
                Err(IoFailure::Other(e)) => Some(End::Failed(wire::errno_of(&e))),
                Err(IoFailure::TimedOut | IoFailure::Interrupted) => None,
            };
            if let Some(end) = end {
                let mut out = Vec::new();
                wire::record(&mut out, wire::END, &wire::end_payload(&end, written));
                return write_all(stdout, &out);
            }
        }
    }
}

fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
