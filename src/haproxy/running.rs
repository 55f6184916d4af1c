//! Running HAProxy processes seen through `/proc`: which ones are masters, whether one can be
//! trusted, and which configuration one reads.
//!
//! The configuration sockctl must reason about is the one HAProxy actually loaded, not the one
//! at a conventional path: a master started with `-f /srv/lb/haproxy.cfg` keeps its state file
//! wherever that file says. Its command line says which files those are.

use std::path::{Path, PathBuf};

use crate::address::Address;

/// What `haproxy -c` said of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub valid: bool,
    /// HAProxy's own lines (`[ALERT]`, `[WARNING]`, …).
    pub messages: String,
}

/// What `/proc` tells about one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub args: Vec<Vec<u8>>,
    /// The working directory relative paths on the command line are taken from.
    pub cwd: Option<PathBuf>,
}

impl Process {
    /// Reads `/proc/PID`; `None` when the process is gone or not readable.
    pub fn read(pid: u32) -> Option<Process> {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let mut args: Vec<Vec<u8>> = cmdline.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
        if args.last().is_some_and(Vec::is_empty) {
            args.pop();
        }
        Some(Process {
            pid,
            args,
            cwd: std::fs::read_link(format!("/proc/{pid}/cwd")).ok(),
        })
    }

    /// Checks the configuration this master was started with, as HAProxy would load it now:
    /// its own binary (`/proc/PID/exe`, the running one even if the file was replaced) with
    /// `-c` on its `-f` files, from its working directory, with its environment (a
    /// configuration may use `${VAR}`). `None` when the files cannot be told (no `-f`).
    pub fn check_configuration(&self) -> Option<std::io::Result<Checked>> {
        let files = self.config_paths()?;
        let mut command = std::process::Command::new(format!("/proc/{}/exe", self.pid));
        // In master-worker mode, as the master runs: `program` sections need it.
        command.arg("-W").arg("-c");
        for file in &files {
            command.arg("-f").arg(file);
        }
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        if let Ok(environ) = std::fs::read(format!("/proc/{}/environ", self.pid)) {
            command.env_clear();
            for entry in environ.split(|&b| b == 0).filter(|e| !e.is_empty()) {
                // HAPROXY_* are the master's own (HAPROXY_MWORKER_REEXEC after a reload makes
                // a checking process behave as a re-executed master).
                if let Some(at) = entry.iter().position(|&b| b == b'=')
                    && !entry.starts_with(b"HAPROXY_")
                {
                    command.env(os(&entry[..at]), os(&entry[at + 1..]));
                }
            }
        }
        let output = command.stdin(std::process::Stdio::null()).output();
        Some(output.map(|out| {
            let mut messages =
                String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).into_owned();
            if !out.status.success() && messages.trim().is_empty() {
                messages = format!("haproxy -c ended with {}", out.status);
            }
            Checked {
                valid: out.status.success(),
                messages,
            }
        }))
    }

    /// Whether the program's name says HAProxy (`haproxy`, `haproxy-2.8`…).
    pub fn is_haproxy(&self) -> bool {
        self.args
            .first()
            .and_then(|a| {
                Path::new(std::str::from_utf8(a).ok()?)
                    .file_name()?
                    .to_str()
            })
            .is_some_and(|name| name.starts_with("haproxy"))
    }

    /// The `-S` argument without its `,option` suffixes, made absolute against the working
    /// directory when it is a relative path.
    pub fn master_socket(&self) -> Option<String> {
        let value = self.value_of(b"-S")?;
        let value = std::str::from_utf8(value).ok()?;
        let socket = value.split(',').next()?.to_string();
        let is_relative_path =
            !socket.contains(':') && !socket.contains('@') && !socket.starts_with('/');
        match &self.cwd {
            Some(cwd) if is_relative_path => Some(cwd.join(&socket).display().to_string()),
            _ => Some(socket),
        }
    }

    /// The configuration files and directories HAProxy reads, in its order: each `-f`, then
    /// every argument after `--`, relative ones taken from the working directory (HAProxy has
    /// already moved there for `-C`). `None` when the command line names none.
    pub fn config_paths(&self) -> Option<Vec<PathBuf>> {
        let mut paths = Vec::new();
        let mut args = self.args.iter().skip(1);
        let mut rest = false;
        while let Some(arg) = args.next() {
            let path = match arg.as_slice() {
                _ if rest => Some(arg),
                b"--" => {
                    rest = true;
                    None
                }
                b"-f" => args.next(),
                // Options that take a value: skip it, so that a value is not read as an option.
                b"-C" | b"-S" | b"-p" | b"-L" | b"-x" | b"-m" | b"-n" | b"-N" | b"-sf" | b"-st" => {
                    args.next();
                    None
                }
                _ => None,
            };
            if let Some(path) = path {
                let path = PathBuf::from(os(path));
                paths.push(match &self.cwd {
                    Some(cwd) if path.is_relative() => cwd.join(path),
                    _ => path,
                });
            }
        }
        (!paths.is_empty()).then_some(paths)
    }

    /// The directory HAProxy resolves relative file names in: its working directory, where
    /// `-C DIR` moved it at start.
    pub fn base_dir(&self) -> Option<PathBuf> {
        self.cwd.clone()
    }

    /// Whether this master's `-S` is `address`: only then is its command line the one behind
    /// the socket (a PID in `show proc` may belong to another PID namespace).
    pub fn serves(&self, address: &Address) -> bool {
        self.master_socket()
            .and_then(|s| s.parse::<Address>().ok())
            .is_some_and(|theirs| crate::haproxy::config::same_address(&theirs, address))
    }

    fn value_of(&self, option: &[u8]) -> Option<&[u8]> {
        let i = self.args.iter().position(|a| a == option)?;
        self.args.get(i + 1).map(Vec::as_slice)
    }
}

fn os(bytes: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(bytes).to_os_string()
}

/// Whether root (or this user) may believe what this process says about itself: its real and
/// effective user are root or the caller, and its executable is an HAProxy binary. A setuid
/// program started by another user (owned by root, argv chosen by that user) fails the first
/// test; a renamed copy of any program fails the second only if it is not named haproxy, which
/// is why the socket it names is checked too ([`socket_trusted`]).
pub fn process_trusted(pid: u32) -> bool {
    let me = rustix::process::getuid().as_raw();
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let uids: Vec<u32> = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .map(|l| {
            l.split_whitespace()
                .filter_map(|u| u.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    // Real, effective, saved and filesystem user: every one must be root or the caller.
    if uids.len() < 2 || !uids.iter().all(|&u| u == 0 || u == me) {
        return false;
    }
    std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| {
        exe.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("haproxy"))
    })
}

/// Whether a socket file may be trusted, in the spirit of OpenSSH's StrictModes: the file and
/// every directory above it are owned by root or the caller, and no other user can replace any
/// of them. A directory others may write is safe only when sticky (then only an entry's owner
/// may rename it) and what it holds is ours; the socket's own directory must also hold the
/// socket already, or anyone could create the name first. Anything that is not a path
/// (abstract, TCP) has no file to check.
pub fn socket_trusted(socket: &str) -> bool {
    let path = Path::new(socket.strip_prefix("unix@").unwrap_or(socket));
    if !path.is_absolute() {
        return !socket.starts_with('.') && socket.contains(['@', ':']);
    }
    let me = rustix::process::getuid().as_raw();
    let owned = |st: &rustix::fs::Stat| st.st_uid == 0 || st.st_uid == me;
    let exists = match rustix::fs::lstat(path) {
        Ok(st) if owned(&st) => true,
        // Not there yet (the master may be re-executing): the directories decide.
        Err(rustix::io::Errno::NOENT) => false,
        _ => return false,
    };
    let mut dir = path.parent();
    let mut holds_ours = exists;
    while let Some(d) = dir {
        let Ok(st) = rustix::fs::stat(d) else {
            return false;
        };
        let others_write = st.st_mode & 0o022 != 0;
        let sticky = st.st_mode & 0o1000 != 0;
        if !owned(&st) || (others_write && !(sticky && holds_ours)) {
            return false;
        }
        holds_ours = true;
        dir = d.parent();
    }
    true
}

/// Running HAProxy masters and their `-S` socket. Workers are forked, not executed, so they
/// share the master's command line: a process whose parent is one of the candidates is a
/// worker and is left out. Only trusted processes with a trusted socket count: anyone can
/// start a process with `-S` pointing at a socket of theirs, and root must not send its reload
/// or read its state dump there.
pub fn masters() -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut candidates = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(process) = Process::read(pid) else {
            continue;
        };
        if !process.is_haproxy() {
            continue;
        }
        let Some(socket) = process.master_socket() else {
            continue;
        };
        if process_trusted(pid) && socket_trusted(&socket) {
            candidates.push((pid, socket, parent_pid(pid)));
        }
    }
    let pids: Vec<u32> = candidates.iter().map(|c| c.0).collect();
    let mut masters: Vec<(u32, String)> = candidates
        .into_iter()
        .filter(|(_, _, parent)| !parent.is_some_and(|p| pids.contains(&p)))
        .map(|(pid, socket, _)| (pid, socket))
        .collect();
    masters.sort();
    masters
}

fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Whether a process of this PID runs (in this PID namespace): a zombie, exited but not yet
/// reaped by its parent, does not.
pub fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, Some("Z" | "X" | "x"))
}

/// Whether the process `pid` is here, is HAProxy, and is the master of `address`.
pub fn serving(address: &Address, pid: u32) -> bool {
    Process::read(pid).is_some_and(|p| p.is_haproxy() && p.serves(address))
}

/// Whether a master of `address` runs here although the socket does not answer: then it is
/// re-executing for a reload.
pub fn reloading(address: &Address) -> bool {
    masters().iter().any(|(pid, _)| serving(address, *pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(line: &[u8], cwd: &str) -> Process {
        Process {
            pid: 1,
            args: line
                .split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(<[u8]>::to_vec)
                .collect(),
            cwd: Some(PathBuf::from(cwd)),
        }
    }

    #[test]
    fn master_socket_from_a_command_line() {
        let p = process(
            b"/usr/sbin/haproxy\0-Ws\0-f\0/etc/haproxy/haproxy.cfg\0-S\0/run/haproxy-master.sock,mode,600\0",
            "/",
        );
        assert!(p.is_haproxy());
        assert_eq!(
            p.master_socket().as_deref(),
            Some("/run/haproxy-master.sock")
        );
        assert!(!process(b"/usr/bin/socat\0-S\0/x\0", "/").is_haproxy());
        assert_eq!(process(b"haproxy\0-f\0x.cfg\0", "/").master_socket(), None);
        let relative = process(b"haproxy\0-W\0-S\0m.sock\0", "/srv/lb");
        assert_eq!(relative.master_socket().as_deref(), Some("/srv/lb/m.sock"));
    }

    #[test]
    fn configuration_from_a_command_line() {
        let p = process(
            b"haproxy\0-W\0-S\0/run/m.sock\0-f\0/srv/lb/a.cfg\0-f\0conf.d\0-p\0-f\0--\0x.cfg\0/abs.cfg\0",
            "/srv",
        );
        assert_eq!(
            p.config_paths().unwrap(),
            ["/srv/lb/a.cfg", "/srv/conf.d", "/srv/x.cfg", "/abs.cfg"].map(PathBuf::from)
        );
        // HAProxy has moved to the -C directory by the time its command line is read.
        let p = process(b"haproxy\0-C\0/etc/lb\0-f\0main.cfg\0", "/etc/lb");
        assert_eq!(
            p.config_paths().unwrap(),
            [PathBuf::from("/etc/lb/main.cfg")]
        );
        assert_eq!(p.base_dir(), Some(PathBuf::from("/etc/lb")));
        assert_eq!(process(b"haproxy\0-v\0", "/").config_paths(), None);
    }

    #[test]
    fn this_process_is_not_haproxy() {
        assert!(!process_trusted(std::process::id()));
        assert!(alive(std::process::id()));
    }

    #[test]
    fn sockets_in_directories_others_can_write_are_not_trusted() {
        assert!(socket_trusted("ipv4@127.0.0.1:9999"));
        assert!(socket_trusted("abns@master"));
        // Straight in a sticky world-writable directory, a name not yet taken: anyone may take
        // it first.
        let tmp = std::env::temp_dir();
        assert!(!socket_trusted(
            &tmp.join("sockctl-no-such.sock").display().to_string()
        ));
        // In a directory of ours under it: safe, whether the socket exists yet or not.
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("m.sock");
        assert!(socket_trusted(&sock.display().to_string()));
        std::fs::write(&sock, "").unwrap();
        assert!(socket_trusted(&sock.display().to_string()));
        // A directory others may write, not sticky: refused.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(!socket_trusted(&sock.display().to_string()));
    }

    #[test]
    fn parent_of_this_process() {
        assert_eq!(
            parent_pid(std::process::id()),
            Some(rustix::process::getppid().unwrap().as_raw_nonzero().get() as u32)
        );
    }
}
