//! Replacing a file whole or not at all.
//!
//! Bytes go to a temporary file created exclusively beside the target (never through a
//! symlink), which is flushed to disk and renamed over the target only on [`AtomicFile::commit`].
//! Dropping an uncommitted file removes the temporary, so the target keeps its old contents on
//! any failure. A replaced file keeps its permission bits and, when allowed, its owner; a new
//! file is private (0600).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

const TEMP_SUFFIX: &str = ".sockctl-tmp";

#[derive(Debug)]
pub struct AtomicFile {
    dir: OwnedFd,
    /// The directory as named, to check at commit that it still is the one open as `dir`.
    dir_path: PathBuf,
    path: PathBuf,
    name: OsString,
    temp_name: OsString,
    file: File,
    renamed: bool,
}

impl AtomicFile {
    /// Prepares to replace `path`. Fails, touching nothing, if `path` is a symlink or not a
    /// regular file, or if its directory does not exist or is not writable.
    pub fn create(path: &Path) -> io::Result<Self> {
        let (dir_path, name) = split_target(path)?;
        let name = name.to_os_string();
        let dir = rustix::fs::open(
            dir_path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let existing = match rustix::fs::statat(&dir, &*name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Some(stat),
            Err(Errno::NOENT) => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(stat) = &existing {
            match FileType::from_raw_mode(stat.st_mode) {
                FileType::RegularFile => {}
                FileType::Symlink => {
                    return Err(io::Error::other(
                        "is a symbolic link; give the path of the file it points to",
                    ));
                }
                _ => return Err(io::Error::other("exists and is not a regular file")),
            }
            check_takeover(&dir, stat)?;
        }

        // Runs of this very target killed mid-write (SIGKILL, power loss) left their
        // temporaries; those of other targets and of live writers are not ours to touch.
        let _ = remove_stale_temps_at(&dir, &name);
        let (temp_name, fd) = create_temp(&dir, &name)?;
        let file = File::from(fd);
        let guard = AtomicFile {
            dir,
            dir_path: dir_path.to_path_buf(),
            path: path.to_path_buf(),
            name,
            temp_name,
            file,
            renamed: false,
        };
        if let Some(stat) = existing {
            rustix::fs::fchmod(&guard.file, Mode::from_raw_mode(stat.st_mode & 0o7777))?;
            if stat.st_uid != rustix::process::geteuid().as_raw()
                || stat.st_gid != rustix::process::getegid().as_raw()
            {
                // Root replacing haproxy's file should leave it haproxy's; anyone else cannot,
                // and then the file simply becomes theirs, as with any editor.
                let owner = rustix::fs::Uid::from_raw(stat.st_uid);
                let group = rustix::fs::Gid::from_raw(stat.st_gid);
                match rustix::fs::fchown(&guard.file, Some(owner), Some(group)) {
                    Ok(()) | Err(Errno::PERM) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(guard)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes the bytes to disk and puts them in place of the target.
    ///
    /// Fails, leaving nothing behind, if the directory was moved or replaced since
    /// [`AtomicFile::create`]: the rename works on the directory opened then, so the file would
    /// land where the path no longer leads. A move racing with the rename itself is seen
    /// afterwards and reported as an error too (the file is then in the moved directory).
    pub fn commit(mut self) -> io::Result<()> {
        self.file.sync_all()?;
        self.check_directory()?;
        rustix::fs::renameat(&self.dir, &*self.temp_name, &self.dir, &*self.name)?;
        self.renamed = true;
        rustix::fs::fsync(&self.dir)?;
        self.check_directory()
    }

    /// Whether the directory's path still leads to the directory open as `dir`.
    fn check_directory(&self) -> io::Result<()> {
        let open = rustix::fs::fstat(&self.dir)?;
        let same = match rustix::fs::stat(&self.dir_path) {
            Ok(now) => now.st_dev == open.st_dev && now.st_ino == open.st_ino,
            Err(Errno::NOENT | Errno::NOTDIR) => false,
            Err(e) => return Err(e.into()),
        };
        if same {
            return Ok(());
        }
        Err(io::Error::other(if self.renamed {
            format!(
                "the directory {} was moved or replaced while the file was written; the file \
                 was put in the moved directory, not at this path",
                self.dir_path.display()
            )
        } else {
            format!(
                "the directory {} was moved or replaced while the file was written; nothing \
                 was put in place",
                self.dir_path.display()
            )
        }))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.renamed {
            return;
        }
        let _ = rustix::fs::unlinkat(&self.dir, &*self.temp_name, AtFlags::empty());
    }
}

/// Refuses to replace a file of another user in a directory others may write to.
///
/// The replacement keeps the old file's owner and mode, which is right for haproxy's state file
/// in its own directory, but in a shared directory such as /tmp the "old file" may have been
/// planted, mode 0666, by someone waiting to read (or change) what root writes there. Its owner
/// and mode are kept only when that is safe: the file is the caller's, or its owner also owns
/// the directory, or only the directory's owner may write to it. This is the rule of the
/// kernel's `fs.protected_regular`, applied whatever that setting is.
fn check_takeover(dir: &OwnedFd, file: &rustix::fs::Stat) -> io::Result<()> {
    let me = rustix::process::geteuid().as_raw();
    if file.st_uid == me {
        return Ok(());
    }
    let dir = rustix::fs::fstat(dir)?;
    if file.st_uid == dir.st_uid || dir.st_mode & 0o022 == 0 {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "exists, owned by another user (uid {}), in a directory others can write to (mode {:o}); \
         refusing to replace it with their owner and mode, as fs.protected_regular would; \
         remove it or write elsewhere",
        file.st_uid,
        dir.st_mode & 0o7777
    )))
}

/// The directory and the name of the file `path` names, from its bytes as given: a path
/// ending in `/`, `/.` or `/..` (or `.`, `..`) names a directory, never a file to create.
pub fn split_target(path: &Path) -> io::Result<(&Path, &OsStr)> {
    let bytes = path.as_os_str().as_bytes();
    let (dir, name) = match bytes.iter().rposition(|&b| b == b'/') {
        Some(0) => (&b"/"[..], &bytes[1..]),
        Some(slash) => (&bytes[..slash], &bytes[slash + 1..]),
        None => (&b"."[..], bytes),
    };
    if matches!(name, b"" | b"." | b"..") {
        return Err(io::Error::other(
            "names a directory (it ends with '/', '.' or '..'); give a file name",
        ));
    }
    Ok((Path::new(OsStr::from_bytes(dir)), OsStr::from_bytes(name)))
}

/// `.NAME.PID.N.sockctl-tmp`, created with `O_EXCL` (which never follows a symlink).
fn create_temp(dir: &OwnedFd, name: &OsStr) -> io::Result<(OsString, OwnedFd)> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let pid = std::process::id();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut temp = Vec::from(b".".as_slice());
        temp.extend_from_slice(name.as_bytes());
        temp.extend_from_slice(format!(".{pid}.{n}{TEMP_SUFFIX}").as_bytes());
        let temp = OsString::from_vec(temp);
        match rustix::fs::openat(
            dir,
            &*temp,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        ) {
            Ok(fd) => return Ok((temp, fd)),
            Err(Errno::EXIST) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Removes temporaries for `path` left by runs that were killed (their process is gone).
/// Returns how many were removed.
pub fn remove_stale_temps(path: &Path) -> io::Result<usize> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(0);
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let dir = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    remove_stale_temps_at(&dir, name)
}

/// [`remove_stale_temps`] in the directory open as `dir`.
fn remove_stale_temps_at(dir: &OwnedFd, name: &OsStr) -> io::Result<usize> {
    let mut removed = 0;
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        let file_name = entry.file_name().to_bytes();
        let Some((target, pid)) = parse_temp_name(file_name) else {
            continue;
        };
        if target == name.as_bytes()
            && !process_alive(pid)
            && rustix::fs::unlinkat(dir, entry.file_name(), AtFlags::empty()).is_ok()
        {
            removed += 1;
        }
    }
    Ok(removed)
}

/// The target and the writer's PID of a temporary named `.NAME.PID.N.sockctl-tmp`.
///
/// The name is read from its end: the suffix, then `N` and `PID` (digits only), and what is
/// left after the leading `.` is the target's name exactly. `.state.424242.77.0.sockctl-tmp`
/// is therefore a temporary of `state.424242` written by process 77, never one of `state`.
fn parse_temp_name(file_name: &[u8]) -> Option<(&[u8], i32)> {
    let rest = file_name
        .strip_prefix(b".")?
        .strip_suffix(TEMP_SUFFIX.as_bytes())?;
    let digits = |field: &[u8]| !field.is_empty() && field.iter().all(u8::is_ascii_digit);
    let dot = rest.iter().rposition(|&b| b == b'.')?;
    let (rest, n) = (&rest[..dot], &rest[dot + 1..]);
    let dot = rest.iter().rposition(|&b| b == b'.')?;
    let (target, pid) = (&rest[..dot], &rest[dot + 1..]);
    if target.is_empty() || !digits(n) || !digits(pid) {
        return None;
    }
    let pid = std::str::from_utf8(pid).ok()?.parse().ok()?;
    Some((target, pid))
}

fn process_alive(pid: i32) -> bool {
    match rustix::process::Pid::from_raw(pid) {
        Some(pid) => !matches!(rustix::process::test_kill_process(pid), Err(Errno::SRCH)),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temps(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(TEMP_SUFFIX))
            .collect()
    }

    #[test]
    fn replaces_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();

        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        drop(file);
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert!(temps(dir.path()).is_empty());

        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"new").unwrap();
        file.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        assert!(temps(dir.path()).is_empty());
    }

    #[test]
    fn new_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reply");
        let file = AtomicFile::create(&path).unwrap();
        file.commit().unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn refuses_symlinks_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = AtomicFile::create(&link).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        let err = AtomicFile::create(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        assert!(temps(dir.path()).is_empty());
    }

    #[test]
    fn a_path_naming_a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for given in ["new/", "new/.", "new/..", ".", "..", "/", "sub//"] {
            let path = dir.path().join(given);
            let err = AtomicFile::create(&path).unwrap_err().to_string();
            assert!(err.contains("names a directory"), "{given}: {err}");
        }
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
        let (d, n) = split_target(Path::new("a/b//c")).unwrap();
        assert_eq!((d, n), (Path::new("a/b/"), OsStr::new("c")));
        let (d, n) = split_target(Path::new("/c")).unwrap();
        assert_eq!((d, n), (Path::new("/"), OsStr::new("c")));
        let (d, n) = split_target(Path::new("c")).unwrap();
        assert_eq!((d, n), (Path::new("."), OsStr::new("c")));
    }

    #[test]
    fn a_directory_moved_before_the_commit_gets_nothing() {
        let top = tempfile::tempdir().unwrap();
        let sub = top.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let mut file = AtomicFile::create(&sub.join("out")).unwrap();
        file.write_all(b"new").unwrap();
        let moved = top.path().join("moved");
        std::fs::rename(&sub, &moved).unwrap();
        std::fs::create_dir(&sub).unwrap();
        let err = file.commit().unwrap_err().to_string();
        assert!(err.contains("was moved or replaced"), "{err}");
        assert!(temps(&moved).is_empty());
        assert!(std::fs::read_dir(&moved).unwrap().next().is_none());
        assert!(std::fs::read_dir(&sub).unwrap().next().is_none());
    }

    #[test]
    fn temporary_names_read_back_to_their_exact_target() {
        let name = |s: &str| parse_temp_name(s.as_bytes()).map(|(t, p)| (t.to_vec(), p));
        assert_eq!(
            name(".state.424242.77.0.sockctl-tmp"),
            Some((b"state.424242".to_vec(), 77))
        );
        assert_eq!(
            name(".state.77.0.sockctl-tmp"),
            Some((b"state".to_vec(), 77))
        );
        assert_eq!(name("..a.b..1.2.sockctl-tmp"), Some((b".a.b.".to_vec(), 1)));
        for bad in [
            ".state.sockctl-tmp",
            ".state.x.0.sockctl-tmp",
            ".state.1.x.sockctl-tmp",
            "..1.0.sockctl-tmp",
            "state.1.0.sockctl-tmp",
            ".1.0.sockctl-tmp",
        ] {
            assert_eq!(name(bad), None, "{bad}");
        }
        // Every temporary this module creates reads back to its target.
        let dir = tempfile::tempdir().unwrap();
        for target in ["state", "state.424242", ".x.1.2", "a.sockctl-tmp"] {
            let dir_fd = rustix::fs::open(dir.path(), OFlags::RDONLY, Mode::empty()).unwrap();
            let (temp, _fd) = create_temp(&dir_fd, OsStr::new(target)).unwrap();
            let (parsed, pid) = parse_temp_name(temp.as_bytes()).unwrap();
            assert_eq!(parsed, target.as_bytes());
            assert_eq!(pid as u32, std::process::id());
        }
    }

    #[test]
    fn stale_temps_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        // PID 0x3fffffff is above pid_max on any Linux system: never alive.
        let dead = dir
            .path()
            .join(format!(".state.{}.0{TEMP_SUFFIX}", 0x3fff_ffff));
        let mine = dir
            .path()
            .join(format!(".state.{}.9{TEMP_SUFFIX}", std::process::id()));
        // A killed run of the neighbouring file `state.1073741822`, whose name starts like a
        // temporary of `state` written by a dead process.
        let neighbour = dir.path().join(format!(
            ".state.{}.{}.0{TEMP_SUFFIX}",
            0x3fff_fffe, 0x3fff_ffff
        ));
        std::fs::write(&dead, "x").unwrap();
        std::fs::write(&mine, "x").unwrap();
        std::fs::write(&neighbour, "x").unwrap();
        assert_eq!(remove_stale_temps(&path).unwrap(), 1);
        assert!(!dead.exists());
        assert!(mine.exists());
        assert!(neighbour.exists());
    }
}
