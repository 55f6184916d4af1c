//! Commands read from standard input, one per line, that Ctrl-C can interrupt.
//!
//! std's readers retry on `EINTR`, which would leave a Ctrl-C unanswered while we wait for the
//! next line; this reader gives up when the interrupt flag is set.

use std::io;
use std::os::fd::BorrowedFd;

use rustix::io::Errno;

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
            match rustix::io::read(stdin, &mut self.buf[len..]) {
                Ok(0) => {
                    self.buf.truncate(len);
                    self.eof = true;
                }
                Ok(n) => self.buf.truncate(len + n),
                Err(Errno::INTR) if !sockctl::interrupt::requested() => self.buf.truncate(len),
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(e.into());
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
