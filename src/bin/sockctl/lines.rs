//! Input that a signal can interrupt: commands from standard input one per line, and whole
//! files that may be FIFOs (`--batch`, `--sockets-file`).
//!
//! std's readers (and its `open`) retry on `EINTR`, which would leave a Ctrl-C or a SIGTERM
//! unanswered for as long as the writer keeps its end open; these readers wait in `poll` for at
//! most 100 ms at a time and give up as soon as the interrupt flag is set.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// How long a wait for input may go without looking at the interrupt flag.
const SLICE: Duration = Duration::from_millis(100);

fn interrupted() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, "interrupted")
}

/// One `read` of `fd` once it is ready: `Ok(0)` at EOF; an error once a stop is requested.
fn read_some(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        if sockctl::interrupt::requested() {
            return Err(interrupted());
        }
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        let slice = Timespec::try_from(SLICE).expect("a small duration");
        match poll(&mut fds, Some(&slice)) {
            Ok(0) | Err(Errno::INTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        match rustix::io::read(fd, &mut *buf) {
            Ok(n) => return Ok(n),
            // A FIFO opened without blocking: no data after all.
            Err(Errno::INTR | Errno::AGAIN) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Everything `fd` holds, up to EOF.
pub fn read_to_end(fd: BorrowedFd<'_>) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match read_some(fd, &mut buf)? {
            0 => return Ok(data),
            n => data.extend_from_slice(&buf[..n]),
        }
    }
}

/// Everything in the file at `path`, which may be a FIFO whose writer has not come yet: it is
/// opened without blocking and then waited for in `poll` (a FIFO without a writer yet is not
/// readable, and reports the end only once a writer came and went).
pub fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    if sockctl::interrupt::requested() {
        return Err(interrupted());
    }
    let file = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    read_to_end(file.as_fd())
}

/// Standard input, up to EOF.
pub fn read_stdin() -> io::Result<Vec<u8>> {
    // SAFETY: fd 0 is open for the life of the process.
    read_to_end(unsafe { BorrowedFd::borrow_raw(0) })
}

pub struct StdinLines {
    buf: Vec<u8>,
    start: usize,
    eof: bool,
    /// Line number of the line last returned.
    pub number: usize,
}

impl StdinLines {
    pub fn new() -> Self {
        StdinLines {
            buf: Vec::with_capacity(8192),
            start: 0,
            eof: false,
            number: 0,
        }
    }

    /// The next line without its `\n` (and without a `\r` before it), or `None` at EOF.
    pub fn next_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(pos) = self.buf[self.start..].iter().position(|&b| b == b'\n') {
                let end = self.start + pos;
                let mut line = self.buf[self.start..end].to_vec();
                self.start = end + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.number += 1;
                return Ok(Some(line));
            }
            if self.eof {
                if self.start < self.buf.len() {
                    let line = self.buf[self.start..].to_vec();
                    self.start = self.buf.len();
                    self.number += 1;
                    return Ok(Some(line));
                }
                return Ok(None);
            }
            self.buf.drain(..self.start);
            self.start = 0;
            let len = self.buf.len();
            self.buf.resize(len + 8192, 0);
            // SAFETY: fd 0 is open for the life of the process.
            let stdin = unsafe { BorrowedFd::borrow_raw(0) };
            match read_some(stdin, &mut self.buf[len..]) {
                Ok(0) => {
                    self.buf.truncate(len);
                    self.eof = true;
                }
                Ok(n) => self.buf.truncate(len + n),
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(e);
                }
            }
        }
    }

    /// The next line that is a command: blank lines and `#` comments are skipped.
    pub fn next_command(&mut self) -> io::Result<Option<Vec<u8>>> {
        while let Some(line) = self.next_line()? {
            match line.iter().find(|b| !b.is_ascii_whitespace()) {
                None | Some(b'#') => continue,
                Some(_) => return Ok(Some(line)),
            }
        }
        Ok(None)
    }
}
