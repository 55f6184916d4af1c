//! An exclusive advisory lock held for the life of a value, so that two sockctl runs never
//! write the same state file or reload the same HAProxy at once.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{FileType, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use crate::address::Address;
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

impl std::error::Error for LockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LockError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

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

/// Where the lock that keeps two sockctl runs from reloading the same HAProxy at once lives.
///
/// Beside a Unix master socket (`.SOCKET.sockctl-reload-lock`) when the caller may write to
/// that directory and no one else may; otherwise (abstract and TCP masters, sockets in shared
/// directories) in [`private_dir`], named after the address. Never in a directory where
/// another user could create the lock first and hold it to block the caller's reloads.
pub fn reload_lock_path(address: &Address) -> Result<PathBuf, LockError> {
    if let Address::Unix(path) = address
        && let (Some(dir), Some(name)) = (path.parent(), path.file_name())
    {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let only_ours = rustix::fs::stat(dir).is_ok_and(|st| st.st_mode & 0o022 == 0);
        if only_ours && rustix::fs::access(dir, rustix::fs::Access::WRITE_OK).is_ok() {
            let mut lock = OsString::from(".");
            lock.push(name);
            lock.push(".sockctl-reload-lock");
            return Ok(dir.join(lock));
        }
    }
    let mut key: String = address
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if key.len() > 160 {
        // Within NAME_MAX, still one name per address.
        key = format!(
            "{}_{:016x}",
            &key[..128],
            fnv1a(address.to_string().as_bytes())
        );
    }
    Ok(private_dir()?.join(format!("sockctl-reload-{key}.lock")))
}

/// A 64-bit FNV-1a hash: stable across builds, so every sockctl agrees on a lock's name.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A directory in which only the caller can create files: `$XDG_RUNTIME_DIR` when it is set,
/// absolute, a directory (not a symlink) owned by the caller and closed to everyone else;
/// otherwise, for root, `/run/sockctl`, and for other users `TMPDIR/sockctl-UID` (created 0700
/// if absent; if present it must be the caller's and closed to others, or it is refused).
pub fn private_dir() -> Result<PathBuf, LockError> {
    private_dir_from(
        std::env::var_os("XDG_RUNTIME_DIR"),
        rustix::process::geteuid().as_raw(),
        Path::new("/run"),
        &std::env::temp_dir(),
    )
}

fn private_dir_from(
    runtime: Option<OsString>,
    uid: u32,
    run: &Path,
    tmp: &Path,
) -> Result<PathBuf, LockError> {
    if let Some(runtime) = runtime.map(PathBuf::from)
        && runtime.is_absolute()
        && check_private(&runtime, uid).is_ok()
    {
        return Ok(runtime);
    }
    let dir = if uid == 0 && run.is_dir() {
        run.join("sockctl")
    } else {
        tmp.join(format!("sockctl-{uid}"))
    };
    let io_error = |source: io::Error| LockError::Io {
        path: dir.clone(),
        source,
    };
    match rustix::fs::mkdir(&dir, Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(io_error(e.into())),
    }
    check_private(&dir, uid).map_err(io_error)?;
    Ok(dir)
}

/// A directory (not a symlink to one) owned by `uid` that no one else may write to or enter.
fn check_private(dir: &Path, uid: u32) -> io::Result<()> {
    let st = rustix::fs::lstat(dir)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return Err(io::Error::other(
            "not a directory; refusing to keep locks there (another user may have made it)",
        ));
    }
    if st.st_uid != uid || st.st_mode & 0o077 != 0 {
        return Err(io::Error::other(format!(
            "owned by uid {} with mode {:o}; locks need a directory owned by uid {uid} that no \
             one else may use (mode 0700); remove it or set XDG_RUNTIME_DIR",
            st.st_uid,
            st.st_mode & 0o7777
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_dir_is_the_runtime_dir_only_when_it_is_private() {
        let me = rustix::process::geteuid().as_raw();
        let runtime = tempfile::tempdir().unwrap();
        let run = tempfile::tempdir().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let chmod = |p: &Path, mode| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        chmod(runtime.path(), 0o700);
        let pick = |runtime: Option<&Path>, uid| {
            private_dir_from(runtime.map(|p| p.into()), uid, run.path(), tmp.path())
        };
        assert_eq!(pick(Some(runtime.path()), me).unwrap(), runtime.path());
        // Not private, relative, or someone else's: the fallback.
        chmod(runtime.path(), 0o1777);
        let fallback = if me == 0 {
            run.path().join("sockctl")
        } else {
            tmp.path().join(format!("sockctl-{me}"))
        };
        assert_eq!(pick(Some(runtime.path()), me).unwrap(), fallback);
        assert_eq!(pick(Some(Path::new("rel")), me).unwrap(), fallback);
        chmod(runtime.path(), 0o700);
        let err = pick(Some(runtime.path()), me + 1).unwrap_err().to_string();
        assert!(err.contains("owned by uid"), "{err}");
        let mode = std::fs::symlink_metadata(&fallback)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        // Again: the existing directory is checked and used.
        assert_eq!(pick(None, me).unwrap(), fallback);
    }

    #[test]
    fn a_fallback_dir_made_by_someone_else_is_refused() {
        let me = rustix::process::geteuid().as_raw();
        let run = tempfile::tempdir().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let base = if me == 0 { run.path() } else { tmp.path() };
        let name = if me == 0 {
            "sockctl".to_string()
        } else {
            format!("sockctl-{me}")
        };
        // Open to others.
        std::fs::create_dir(base.join(&name)).unwrap();
        std::fs::set_permissions(base.join(&name), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = private_dir_from(None, me, run.path(), tmp.path()).unwrap_err();
        assert!(err.to_string().contains("mode 777"), "{err}");
        // A symlink to a private directory.
        std::fs::remove_dir(base.join(&name)).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), base.join(&name)).unwrap();
        let err = private_dir_from(None, me, run.path(), tmp.path()).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
    }

    #[test]
    fn reload_locks_of_abstract_and_tcp_masters_are_in_the_private_dir() {
        let dir = private_dir().unwrap();
        for address in ["@master", "127.0.0.1:9999"] {
            let address: Address = address.parse().unwrap();
            let path = reload_lock_path(&address).unwrap();
            assert_eq!(path.parent(), Some(dir.as_path()));
        }
        // A socket in a directory others can write to: not beside it.
        let shared = tempfile::tempdir().unwrap();
        std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let address = Address::Unix(shared.path().join("master.sock"));
        assert_eq!(
            reload_lock_path(&address).unwrap().parent(),
            Some(dir.as_path())
        );
        // In a directory of the caller's own: beside the socket.
        let own = tempfile::tempdir().unwrap();
        let address = Address::Unix(own.path().join("master.sock"));
        assert_eq!(
            reload_lock_path(&address).unwrap(),
            own.path().join(".master.sock.sockctl-reload-lock")
        );
        // Very long addresses still make one valid file name.
        let long = Address::Unix(shared.path().join("x".repeat(250)));
        let name = reload_lock_path(&long).unwrap();
        assert!(name.file_name().unwrap().len() < 255);
    }

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
