//! An exclusive advisory lock held for the life of a value, so that two sockctl runs never
//! write the same state file or reload the same HAProxy at once.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use crate::interrupt;

#[derive(Debug)]
pub struct Lock {
    _file: File,
    pub path: PathBuf,
}

#[derive(Debug)]
pub enum LockError {
    /// Another process held the lock for the whole wait.
    Busy {
        path: PathBuf,
        waited: Duration,
    },
    Interrupted,
    Io {
        path: PathBuf,
        source: io::Error,
    },
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Busy { path, waited } => write!(
                f,
                "another sockctl run holds the lock {} (waited {})",
                path.display(),
                crate::units::format_duration(*waited)
            ),
            LockError::Interrupted => write!(f, "interrupted while waiting for a lock"),
            LockError::Io { path, source } => write!(f, "lock {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for LockError {}

impl Lock {
    /// Takes the lock at `path`, creating the file (0600, never through a symlink), waiting up to
    /// `wait` for another holder to let go.
    pub fn acquire(path: &Path, wait: Option<Duration>) -> Result<Lock, LockError> {
        let io_error = |source: Errno| LockError::Io {
            path: path.to_path_buf(),
            source: source.into(),
        };
        let fd = rustix::fs::open(
            path,
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(io_error)?;
        let start = Instant::now();
        loop {
            match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {
                    return Ok(Lock {
                        _file: File::from(fd),
                        path: path.to_path_buf(),
                    });
                }
                Err(Errno::WOULDBLOCK | Errno::INTR) => {}
                Err(e) => return Err(io_error(e)),
            }
            if interrupt::requested() {
                return Err(LockError::Interrupted);
            }
            if wait.is_some_and(|w| start.elapsed() >= w) {
                return Err(LockError::Busy {
                    path: path.to_path_buf(),
                    waited: start.elapsed(),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_waits_then_gives_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let first = Lock::acquire(&path, None).unwrap();
        let err = Lock::acquire(&path, Some(Duration::from_millis(50))).unwrap_err();
        assert!(matches!(err, LockError::Busy { .. }), "{err}");
        drop(first);
        Lock::acquire(&path, Some(Duration::ZERO)).unwrap();
    }

    #[test]
    fn refuses_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("x.lock");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            Lock::acquire(&link, None),
            Err(LockError::Io { .. })
        ));
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    }
}
