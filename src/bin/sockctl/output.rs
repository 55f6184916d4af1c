//! Where replies go: standard output, unbuffered, or a file replaced atomically.

use std::fs::File;
use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::path::Path;

use anyhow::Context;
use sockctl::atomic_file::AtomicFile;

/// Standard output without std's line buffering: replies arrive in large chunks that should
/// reach the kernel as one write each.
pub struct RawStdout(ManuallyDrop<File>);

impl RawStdout {
    pub fn new() -> Self {
        // SAFETY: fd 1 stays open for the life of the process and is never closed through
        // this handle (ManuallyDrop).
        RawStdout(ManuallyDrop::new(unsafe { File::from_raw_fd(1) }))
    }
}

impl Write for RawStdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub enum Output {
    Stdout(RawStdout),
    File(AtomicFile),
}

impl Output {
    pub fn open(path: Option<&Path>) -> anyhow::Result<Self> {
        Ok(match path {
            None => Output::Stdout(RawStdout::new()),
            Some(path) => Output::File(
                AtomicFile::create(path).with_context(|| format!("{}", path.display()))?,
            ),
        })
    }

    /// Puts a file in place; for standard output there is nothing left to do.
    pub fn finish(self) -> anyhow::Result<()> {
        if let Output::File(file) = self {
            let path = file.path().display().to_string();
            file.commit().context(path)?;
        }
        Ok(())
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(out) => out.write(buf),
            Output::File(file) => file.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::Stdout(out) => out.write_all(buf),
            Output::File(file) => file.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
