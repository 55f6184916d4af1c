//! Sockets on other hosts: `ssh://[user@]host[:port]/path/to.sock`.
//!
//! sockctl implements no SSH: the system's `ssh` client runs `sockctl __relay` on the host of
//! the socket (see [`relay`]), and its standard input and output carry the conversation
//! ([`wire`] says how). Locally, [`link`] turns that child process into a [`crate::stream::Stream`]
//! like any other, with the same deadlines and the same verdicts: the remote relay says
//! whether the socket was found, and whether the server's reply ended cleanly or by a reset.
//!
//! The client is `ssh` unless `SOCKCTL_SSH` names another command line (`ssh -F FILE -o …`,
//! split as a shell would, without running one); the program run on the remote host is
//! `sockctl` unless `SOCKCTL_REMOTE` names another (`/opt/bin/sockctl`, `sudo -n sockctl`).

pub(crate) mod link;
pub mod relay;
pub mod wire;

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::net::Ipv6Addr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::process::ExitStatus;

use crate::address::Address;

/// The environment variable with the ssh command line.
pub const SSH_VAR: &str = "SOCKCTL_SSH";
/// The environment variable with the program to run on the remote host.
pub const REMOTE_VAR: &str = "SOCKCTL_REMOTE";
/// The hidden subcommand the remote program is asked to run.
pub const RELAY_SUBCOMMAND: &str = "__relay";

/// What the short internal limits of a multi-step operation (a reload's polls of `show
/// proc`) add for a socket on another host, where each connection starts ssh: its TCP connect,
/// key exchange, authentication and the remote shell.
pub const SETUP_ALLOWANCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Which host to reach, and as whom: what `ssh` is given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// The forms of a remote address that are not a path: after `ssh://host/`, these prefixes
/// name an abstract socket or a TCP address on that host; anything else is an absolute path.
pub const REMOTE_PREFIXES: [&str; 8] = [
    "@",
    "abns@",
    "abnsz@",
    "abstract:",
    "unix:",
    "tcp:",
    "ipv4@",
    "ipv6@",
];

/// Splits `ssh://[user@]host[:port]/rest` into the target and the remote address's text:
/// `rest` itself when it starts with one of [`REMOTE_PREFIXES`], else `/rest`.
pub fn split(input: &str) -> Result<(Target, String), &'static str> {
    let after = input
        .strip_prefix("ssh://")
        .ok_or("not an ssh:// address")?;
    let (authority, rest) = after
        .split_once('/')
        .ok_or("missing the socket after the host (ssh://HOST/path/to.sock)")?;
    if rest.is_empty() {
        return Err("missing the socket after the host (ssh://HOST/path/to.sock)");
    }
    let (user, host_port) = match authority.rsplit_once('@') {
        Some((user, rest)) => (Some(user), rest),
        None => (None, authority),
    };
    if let Some(user) = user {
        let bad = |c: char| c.is_control() || c.is_whitespace() || matches!(c, '/' | ':');
        if user.is_empty() || user.starts_with('-') || user.contains(bad) {
            return Err("not a user name before '@'");
        }
    }
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or("missing ']' after IPv6 address")?;
        if host.parse::<Ipv6Addr>().is_err() {
            return Err("not an IPv6 address inside [ ]");
        }
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("expected ':PORT' after ']'")?,
            ),
        };
        (host, port)
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let name_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if host.is_empty() {
        return Err("empty host");
    }
    // A host that starts with '-' would be an option to ssh.
    if host.starts_with('-') || !(host.chars().all(name_chars) || host.contains(':')) {
        return Err("not a host name or IP address");
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err("port must be 1-65535"),
            Ok(p) => Some(p),
        },
    };
    let remote = if REMOTE_PREFIXES.iter().any(|p| rest.starts_with(p)) {
        rest.to_string()
    } else {
        format!("/{rest}")
    };
    let target = Target {
        user: user.map(str::to_string),
        host: host.to_string(),
        port,
    };
    Ok((target, remote))
}

/// How the remote address is given to the relay: a form its parser reads back as the same
/// address whatever the bytes (a relative path keeps `unix:`, the family of TCP stays).
pub fn relay_argument(remote: &Address) -> OsString {
    use crate::address::Family;
    let mut bytes = Vec::new();
    match remote {
        Address::Unix(path) => {
            bytes.extend_from_slice(b"unix:");
            bytes.extend_from_slice(path.as_os_str().as_bytes());
        }
        Address::Abstract { name, padded } => {
            bytes.extend_from_slice(if *padded { b"abns@" } else { b"abnsz@" });
            bytes.extend_from_slice(name);
        }
        Address::Tcp { host, port, family } => {
            let prefix = match family {
                Family::Any => "tcp:",
                Family::V4 => "ipv4@",
                Family::V6 => "ipv6@",
            };
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.clone()
            };
            bytes.extend_from_slice(format!("{prefix}{host}:{port}").as_bytes());
        }
        Address::Ssh { remote, .. } => return relay_argument(remote),
    }
    OsString::from_vec(bytes)
}

/// Splits a command line into words as a POSIX shell would for quoting ('…', "…", \), with
/// no expansion of any kind: no shell runs.
pub fn split_words(line: &str) -> Result<Vec<OsString>, &'static str> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(OsString::from(std::mem::take(&mut word)));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated single quote"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated double quote"),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated double quote"),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => word.push(c),
                    None => return Err("a backslash at the end"),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(OsString::from(word));
    }
    Ok(words)
}

/// One word for a POSIX shell: in single quotes, a quote itself as `'\''`.
pub fn quote(word: &[u8]) -> Vec<u8> {
    let mut out = vec![b'\''];
    for &b in word {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    out
}

/// The local ssh command and the remote program, from the environment.
#[derive(Debug, Clone)]
pub struct Options {
    pub ssh: Vec<OsString>,
    pub remote: Vec<OsString>,
}

impl Options {
    pub fn from_env() -> Result<Options, SshError> {
        let words = |var: &'static str, default: &str| -> Result<Vec<OsString>, SshError> {
            let value = std::env::var_os(var);
            let text = match &value {
                None => default,
                Some(v) => v.to_str().ok_or(SshError::Setting {
                    var,
                    why: "not UTF-8",
                })?,
            };
            let words = split_words(text).map_err(|why| SshError::Setting { var, why })?;
            if words.is_empty() {
                return Err(SshError::Setting {
                    var,
                    why: "no command in it",
                });
            }
            Ok(words)
        };
        Ok(Options {
            ssh: words(SSH_VAR, "ssh")?,
            remote: words(REMOTE_VAR, "sockctl")?,
        })
    }
}

/// Why the relay on the other host could not be reached: ssh's own failures, told with
/// ssh's last line on stderr and what to try.
#[derive(Debug)]
pub enum SshError {
    /// `SOCKCTL_SSH` or `SOCKCTL_REMOTE` cannot be split into words.
    Setting {
        var: &'static str,
        why: &'static str,
    },
    /// The ssh program could not be started.
    Spawn { program: String, source: io::Error },
    /// ssh itself failed (exit 255): unreachable host, refused key, unknown host key.
    Failed { target: String, said: String },
    /// The remote shell did not find the program (exit 127) or could not run it (126).
    Missing {
        target: String,
        program: String,
        status: i32,
        said: String,
    },
    /// The remote program ran but did not start a relay: an older sockctl, another program.
    NoRelay {
        target: String,
        status: Option<ExitStatus>,
        said: String,
    },
    /// Something else than a relay wrote on the standard output.
    NotRelay { target: String, output: Vec<u8> },
    /// The remote relay speaks another version.
    Version { target: String, remote: u32 },
    /// ssh's setup and the remote connect took longer than the connect timeout.
    TimedOut {
        target: String,
        after: std::time::Duration,
        said: String,
    },
}

impl SshError {
    /// Whether the fix is on the caller's command line or environment (exit 2), not the host.
    pub fn is_usage(&self) -> bool {
        matches!(self, SshError::Setting { .. })
    }

    /// Whether it is a timeout (exit 4).
    pub fn is_timeout(&self) -> bool {
        matches!(self, SshError::TimedOut { .. })
    }
}

/// The ssh command line that tries the same host, for hints.
fn try_command(target: &str) -> String {
    match split(&format!("ssh://{target}/x")) {
        Ok((t, _)) => {
            let port = t.port.map_or(String::new(), |p| format!("-p {p} "));
            let user = t.user.map_or(String::new(), |u| format!("{u}@"));
            format!("ssh {port}{user}{} true", t.host)
        }
        Err(_) => format!("ssh {target} true"),
    }
}

fn said(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

impl fmt::Display for SshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SshError::Setting { var, why } => write!(f, "{var}: {why}"),
            SshError::Spawn { program, source } => write!(
                f,
                "cannot run '{program}': {source} (install OpenSSH's client, or name the \
                 client in {SSH_VAR})"
            ),
            SshError::Failed { target, said: text } => write!(
                f,
                "ssh to {target} failed{} (check that '{}' works; ssh options go in {SSH_VAR})",
                said(text),
                try_command(target)
            ),
            SshError::TimedOut {
                target,
                after,
                said: text,
            } => write!(
                f,
                "timed out after {} waiting for ssh to {target} and the relay there{} (ssh's \
                 setup counts against --connect-timeout; check that '{}' is quick)",
                crate::units::format_duration(*after),
                said(text),
                try_command(target)
            ),
            SshError::Missing {
                target,
                program,
                status,
                said: text,
            } => {
                let what = if *status == 126 {
                    "cannot be run"
                } else {
                    "was not found"
                };
                write!(
                    f,
                    "'{program}' {what} on {target}{} (install sockctl there, or set \
                     {REMOTE_VAR} to its path on that host)",
                    said(text)
                )
            }
            SshError::NoRelay {
                target,
                status,
                said: text,
            } => {
                let status = match status.and_then(|s| s.code()) {
                    Some(code) => format!("exit {code}"),
                    None => "killed".to_string(),
                };
                write!(
                    f,
                    "the sockctl on {target} did not start a relay ({status}{}); it may be \
                     older than this one: install the same version there",
                    said(text)
                )
            }
            SshError::NotRelay { target, output } => {
                let shown: String = String::from_utf8_lossy(&output[..output.len().min(60)])
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                write!(
                    f,
                    "{target} wrote something else than a relay's header ('{}'): does a login \
                     script print on standard output?",
                    shown.trim()
                )
            }
            SshError::Version { target, remote } => write!(
                f,
                "the sockctl on {target} speaks relay version {remote}, this one {}: install \
                 the same version on both hosts",
                wire::VERSION
            ),
        }
    }
}

impl std::error::Error for SshError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let (t, r) = split("ssh://lb1/run/haproxy/admin.sock").unwrap();
        assert_eq!((t.user, t.host.as_str(), t.port), (None, "lb1", None));
        assert_eq!(r, "/run/haproxy/admin.sock");
        let (t, r) = split("ssh://ops@10.0.0.1:2222/@haproxy").unwrap();
        assert_eq!(t.to_string(), "ops@10.0.0.1:2222");
        assert_eq!(r, "@haproxy");
        let (t, r) = split("ssh://[::1]:22/tcp:127.0.0.1:9999").unwrap();
        assert_eq!(t.to_string(), "[::1]:22");
        assert_eq!(r, "tcp:127.0.0.1:9999");
        assert_eq!(split("ssh://h//@dir/x.sock").unwrap().1, "//@dir/x.sock");
        for bad in [
            "ssh://lb1",
            "ssh://lb1/",
            "ssh://-oProxyCommand=x/run/a.sock",
            "ssh://@lb1/run/a.sock",
            "ssh://-l@lb1/run/a.sock",
            "ssh://lb1:0/a",
            "ssh://lb1:x/a",
            "ssh://[nope]/a",
            "ssh://a b/c",
        ] {
            assert!(split(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn words_as_a_shell_splits_them() {
        let w = |s: &str| -> Vec<String> {
            split_words(s)
                .unwrap()
                .into_iter()
                .map(|w| w.into_string().unwrap())
                .collect()
        };
        assert_eq!(
            w(r#"ssh -F "/a b/config" -o 'ProxyJump=j 1' x\ y """#),
            ["ssh", "-F", "/a b/config", "-o", "ProxyJump=j 1", "x y", ""]
        );
        assert_eq!(w("  ssh  "), ["ssh"]);
        assert_eq!(w(r#"a"$b""#), ["a$b"]);
        assert!(split_words("ssh 'x").is_err());
        assert!(split_words("ssh \"x").is_err());
    }

    #[test]
    fn quoting() {
        assert_eq!(quote(b"it's"), b"'it'\\''s'");
        assert_eq!(quote(b"/run/a b.sock"), b"'/run/a b.sock'");
    }
}
