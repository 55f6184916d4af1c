//! Where replies go: standard output, unbuffered, or a file replaced atomically.

use std::fs::File;
use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use sockctl::atomic_file::AtomicFile;

/// The file this run put in place, if any: once it is there, a signal arriving later no longer
/// changes what happened to it, and the exit code must say so.
static COMMITTED: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Records that `path` now holds the new contents.
pub fn committed(path: &Path) {
    if let Ok(mut slot) = COMMITTED.lock() {
        *slot = Some(path.to_path_buf());
    }
}

/// The file put in place by this run, if any.
pub fn committed_file() -> Option<PathBuf> {
    COMMITTED.lock().ok().and_then(|slot| slot.clone())
}

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
            let path = file.path().to_path_buf();
            file.commit().with_context(|| path.display().to_string())?;
            committed(&path);
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
