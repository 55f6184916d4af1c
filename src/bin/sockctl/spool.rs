//! Standard output that never holds up the socket.
//!
//! When the reader of a pipe pauses (a pager, a slow consumer), a blocking write to stdout
//! stops sockctl from reading the socket; HAProxy then stops writing, and after its `stats
//! timeout` closes the connection: a batch would be cut in the middle. [`Spool`] writes to the
//! pipe only what it can take without waiting and keeps the rest in a temporary file (memory
//! stays small whatever the reply), then hands it over as the reader catches up, and all of it
//! at the end. A reader that is gone is reported at once, as a plain write would.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, BorrowedFd};

/// At most this much goes to the pipe per attempt: a pipe that polls writable has room for a
/// page, so such a write does not wait.
const CHUNK: usize = 4096;

pub struct Spool<W: Write + AsFd> {
    out: W,
    /// Bytes waiting for the reader: in memory up to [`MEMORY`], then in `file`.
    held: Vec<u8>,
    file: Option<File>,
    /// Bytes in `file` not yet passed on, from `read_at` to the end.
    read_at: u64,
    in_file: u64,
}

/// What is held in memory before the temporary file takes over.
const MEMORY: usize = 1 << 20;

impl<W: Write + AsFd> Spool<W> {
    pub fn new(out: W) -> Self {
        Spool {
            out,
            held: Vec::new(),
            file: None,
            read_at: 0,
            in_file: 0,
        }
    }

    fn writable(&self) -> bool {
        writable(self.out.as_fd())
    }

    fn pending(&self) -> bool {
        !self.held.is_empty() || self.read_at < self.in_file
    }

    /// Passes on what the reader takes without waiting (everything, with `wait`).
    fn drain(&mut self, wait: bool) -> io::Result<()> {
        while self.pending() {
            if !wait && !self.writable() {
                return Ok(());
            }
            if !self.held.is_empty() {
                let n = self.held.len().min(if wait { usize::MAX } else { CHUNK });
                self.out.write_all(&self.held[..n])?;
                self.held.drain(..n);
                continue;
            }
            let Some(file) = self.file.as_mut() else {
                break;
            };
            let mut chunk = vec![0; CHUNK.min((self.in_file - self.read_at) as usize)];
            file.seek(SeekFrom::Start(self.read_at))?;
            file.read_exact(&mut chunk)?;
            self.out.write_all(&chunk)?;
            self.read_at += chunk.len() as u64;
            if self.read_at == self.in_file {
                // All passed on: start the file over.
                file.set_len(0)?;
                (self.read_at, self.in_file) = (0, 0);
            }
        }
        Ok(())
    }

    fn hold(&mut self, mut buf: &[u8]) -> io::Result<()> {
        if self.file.is_none() && self.held.len() + buf.len() <= MEMORY {
            self.held.extend_from_slice(buf);
            return Ok(());
        }
        if self.file.is_none() {
            self.file = Some(temporary()?);
        }
        let file = self.file.as_mut().expect("made above");
        file.seek(SeekFrom::End(0))?;
        if !self.held.is_empty() && self.in_file == 0 {
            // Memory first, in order: move it to the file.
            let held = std::mem::take(&mut self.held);
            file.write_all(&held)?;
            self.in_file += held.len() as u64;
        }
        while !buf.is_empty() {
            let n = file.write(buf)?;
            self.in_file += n as u64;
            buf = &buf[n..];
        }
        Ok(())
    }
}

impl<W: Write + AsFd> Write for Spool<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.drain(false)?;
        let mut rest = buf;
        if !self.pending() {
            while !rest.is_empty() && self.writable() {
                let n = rest.len().min(CHUNK);
                self.out.write_all(&rest[..n])?;
                rest = &rest[n..];
            }
        }
        if !rest.is_empty() {
            self.hold(rest)?;
        }
        Ok(buf.len())
    }

    /// Everything held goes out, waiting for the reader as long as it takes.
    fn flush(&mut self) -> io::Result<()> {
        self.drain(true)?;
        self.out.flush()
    }
}

/// Standard output without std's line buffering in between: what [`Spool`] writes reaches
/// the pipe as it was cut.
pub struct RawStdout;

impl Write for RawStdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match rustix::io::write(self.as_fd(), buf) {
                Err(rustix::io::Errno::INTR) => continue,
                result => return result.map_err(io::Error::from),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for RawStdout {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: descriptor 1 stays open for the whole life of the process.
        unsafe { BorrowedFd::borrow_raw(1) }
    }
}

/// Whether writes to `fd` can wait on a reader: a pipe or a socket, not a file or a device.
pub fn is_pipe(fd: &impl AsFd) -> bool {
    rustix::fs::fstat(fd).is_ok_and(|st| {
        let kind = rustix::fs::FileType::from_raw_mode(st.st_mode);
        matches!(
            kind,
            rustix::fs::FileType::Fifo | rustix::fs::FileType::Socket
        )
    })
}

/// Whether a write of up to [`CHUNK`] bytes goes through without waiting (a reader that is
/// gone counts: the write then fails at once, as it should).
fn writable(fd: BorrowedFd<'_>) -> bool {
    use rustix::event::{PollFd, PollFlags, poll};
    let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match poll(&mut fds, Some(&zero)) {
        Ok(n) => n > 0,
        // Cannot tell: write as a plain writer would.
        Err(_) => true,
    }
}

/// A file in the temporary directory that has no name, so that nothing is left behind
/// however the process ends (`O_TMPFILE`; where the file system lacks it, a file created
/// exclusively, mode 0600, and unlinked at once).
pub(crate) fn temporary() -> io::Result<std::fs::File> {
    use rustix::fs::{CWD, Mode, OFlags, openat};
    let dir = std::env::temp_dir();
    let flags = OFlags::RDWR | OFlags::CLOEXEC;
    match openat(
        CWD,
        &dir,
        flags | OFlags::TMPFILE,
        Mode::from_raw_mode(0o600),
    ) {
        Ok(fd) => return Ok(std::fs::File::from(fd)),
        Err(e) if !matches!(e, rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR) => {
            return Err(e.into());
        }
        Err(_) => {}
    }
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    loop {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = dir.join(format!(".sockctl-spool.{}.{n}", std::process::id()));
        let flags = flags | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW;
        match openat(CWD, &path, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => {
                let _ = std::fs::remove_file(&path);
                return Ok(std::fs::File::from(fd));
            }
            Err(rustix::io::Errno::EXIST) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stalled_reader_holds_nothing_up_and_loses_nothing() {
        let (reader, writer) = std::io::pipe().unwrap();
        let mut spool = Spool::new(writer);
        // Far more than a pipe holds, written while nobody reads: no write waits.
        let line: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).chain([b'\n']).collect();
        let mut sent = Vec::new();
        for _ in 0..30_000 {
            spool.write_all(&line).unwrap();
            sent.extend_from_slice(&line);
        }
        assert!(spool.pending());
        let collector = std::thread::spawn(move || {
            let mut reader = reader;
            let mut got = Vec::new();
            reader.read_to_end(&mut got).unwrap();
            got
        });
        spool.flush().unwrap();
        drop(spool);
        assert_eq!(collector.join().unwrap(), sent);
    }

    #[test]
    fn a_reader_that_is_gone_is_an_error_at_once() {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        // SAFETY: ignoring SIGPIPE so that the write reports EPIPE, as sockctl does.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let mut spool = Spool::new(writer);
        let err = spool.write_all(b"x\n").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }
}
