//! Where a control socket lives: a Unix path, a Linux abstract name, or a TCP host and port.
//!
//! One parser for every command, accepting the spellings operators already use: socat's
//! (`unix:`, `abstract:`, `tcp:`), HAProxy's (`unix@`, `abns@`, `abnsz@`, `ipv4@`, `ipv6@`) and plain
//! forms (`/run/haproxy/admin.sock`, `@name`, `host:port`, `[::1]:9999`).

use std::ffi::OsStr;
use std::fmt::{self, Write as _};
use std::net::Ipv6Addr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::ssh::{REMOTE_PREFIXES, Target};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// A socket file. Paths longer than `sun_path` are supported (see `connect`).
    Unix(PathBuf),
    /// A Linux abstract socket name, without the leading NUL byte. `padded` is HAProxy's
    /// `abns@` form: the name is NUL-padded to fill `sun_path`, and only a client that pads
    /// it the same way reaches the socket.
    Abstract { name: Vec<u8>, padded: bool },
    Tcp {
        host: String,
        port: u16,
        family: Family,
    },
    /// A socket on another host, reached through the system's ssh client and a sockctl on
    /// that host (see [`crate::ssh`]): `ssh://[user@]host[:port]/path/to.sock`, or after the
    /// host `@NAME`, `abns@NAME`, `tcp:HOST:PORT` (any form above but `ssh://`).
    Ssh {
        target: Target,
        remote: Box<Address>,
    },
}

/// Which address families a TCP host name may resolve to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Any,
    V4,
    V6,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressError {
    input: Vec<u8>,
    reason: &'static str,
}

/// Room for an abstract name in `sun_path`, after its leading NUL.
pub const ABSTRACT_NAME_MAX: usize = 107;

/// Shown with every address error so that the fix is on the screen.
pub const ACCEPTED_FORMS: &str = "accepted forms: /path/to.sock, ./rel.sock, unix:PATH, \
     unix@PATH, @NAME, abstract:NAME, abns@NAME, abnsz@NAME, HOST:PORT, [V6]:PORT, tcp:HOST:PORT, \
     ipv4@HOST:PORT, ipv6@HOST:PORT, ssh://[USER@]HOST[:PORT]/PATH (or /@NAME, /tcp:HOST:PORT)";

impl AddressError {
    fn new(input: &str, reason: &'static str) -> Self {
        AddressError {
            input: input.as_bytes().to_vec(),
            reason,
        }
    }
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid address '{}': {} ({ACCEPTED_FORMS})",
            Escaped(&self.input),
            self.reason
        )
    }
}

/// Bytes of a path or name shown in one line of text: control characters (C0, DEL, C1) as
/// `\x0a` or `\u{009b}`, bytes that are not UTF-8 as `\xff`; everything else as it is.
struct Escaped<'a>(&'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '\0'..='\x1f' | '\x7f' => write!(f, "\\x{:02x}", c as u32)?,
                    '\u{80}'..='\u{9f}' => write!(f, "\\u{{{:04x}}}", c as u32)?,
                    c => f.write_char(c)?,
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for AddressError {}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(AddressError::new(s, "empty"));
        }
        if s.starts_with("ssh://") {
            return ssh(OsStr::new(s));
        }
        for prefix in ["unix:", "unix@"] {
            if let Some(path) = s.strip_prefix(prefix) {
                return unix(s, path);
            }
        }
        for (prefix, padded) in [
            ("abstract:", false),
            ("abnsz@", false),
            ("abns@", true),
            ("@", false),
        ] {
            if let Some(name) = s.strip_prefix(prefix) {
                if name.is_empty() {
                    return Err(AddressError::new(s, "empty abstract socket name"));
                }
                if name.len() > ABSTRACT_NAME_MAX {
                    return Err(AddressError::new(s, "abstract name longer than 107 bytes"));
                }
                return Ok(Address::Abstract {
                    name: name.as_bytes().to_vec(),
                    padded,
                });
            }
        }
        for (prefix, family) in [
            ("tcp:", Family::Any),
            ("ipv4@", Family::V4),
            ("ipv6@", Family::V6),
        ] {
            if let Some(rest) = s.strip_prefix(prefix) {
                return tcp(s, rest, family);
            }
        }
        if s.contains('/') {
            return unix(s, s);
        }
        if looks_like_host_port(s) {
            return tcp(s, s, Family::Any);
        }
        if Path::new(s).exists() {
            return Ok(Address::Unix(PathBuf::from(s)));
        }
        Err(AddressError::new(
            s,
            "not a host:port and no such file in the current directory",
        ))
    }
}

impl Address {
    /// Parses an address given as an argument, which need not be UTF-8: a socket path (or an
    /// abstract name) is any bytes but NUL, so `/run/\xff.sock` is a Unix socket as it is.
    pub fn from_os_str(s: &OsStr) -> Result<Address, AddressError> {
        if let Some(text) = s.to_str() {
            return text.parse();
        }
        let bytes = s.as_bytes();
        let error = |reason| {
            Err(AddressError {
                input: bytes.to_vec(),
                reason,
            })
        };
        if bytes.contains(&0) {
            return error("NUL byte in socket path");
        }
        if bytes.starts_with(b"ssh://") {
            return ssh(s);
        }
        for prefix in [&b"unix:"[..], b"unix@"] {
            if let Some(path) = bytes.strip_prefix(prefix) {
                return Ok(Address::Unix(PathBuf::from(OsStr::from_bytes(path))));
            }
        }
        for (prefix, padded) in [
            (&b"abstract:"[..], false),
            (b"abnsz@", false),
            (b"abns@", true),
            (b"@", false),
        ] {
            if let Some(name) = bytes.strip_prefix(prefix) {
                if name.len() > ABSTRACT_NAME_MAX {
                    return error("abstract name longer than 107 bytes");
                }
                return Ok(Address::Abstract {
                    name: name.to_vec(),
                    padded,
                });
            }
        }
        // Host names and ports are ASCII: what is not UTF-8 can only be a path.
        if bytes.contains(&b'/') || Path::new(s).exists() {
            return Ok(Address::Unix(PathBuf::from(s)));
        }
        error("not UTF-8, so not a host:port, and no such file in the current directory")
    }

    /// The address as given, for keys (a JSON object's, a lock file's name): control
    /// characters are kept, bytes that are not UTF-8 become U+FFFD. [`Display`](fmt::Display)
    /// is for messages: it shows those characters and bytes escaped, so that an address
    /// holding a newline stays on one line.
    pub fn text(&self) -> String {
        match self {
            Address::Unix(path) => path.to_string_lossy().into_owned(),
            Address::Abstract { name, padded } => {
                let prefix = if *padded { "abns@" } else { "@" };
                format!("{prefix}{}", String::from_utf8_lossy(name))
            }
            Address::Tcp { .. } => self.to_string(),
            Address::Ssh { target, remote } => ssh_form(target, remote, remote.text()),
        }
    }

    /// Whether the socket is on another host (an `ssh://` address).
    pub fn is_remote(&self) -> bool {
        matches!(self, Address::Ssh { .. })
    }
}

/// An ssh address as text, from its remote address `shown` (escaped or not): a path after
/// the host as it is (with one more `/` if it would read as another form), the other forms
/// with their prefix.
fn ssh_form(target: &Target, remote: &Address, shown: String) -> String {
    match remote {
        Address::Unix(path) if path.is_absolute() => {
            let after = &shown[1..];
            let slash = if REMOTE_PREFIXES.iter().any(|p| after.starts_with(p)) {
                "/"
            } else {
                ""
            };
            format!("ssh://{target}{slash}{shown}")
        }
        Address::Unix(_) => format!("ssh://{target}/unix:{shown}"),
        Address::Tcp { .. } if !shown.starts_with("tcp:") => {
            format!("ssh://{target}/tcp:{shown}")
        }
        _ => format!("ssh://{target}/{shown}"),
    }
}

/// `ssh://[user@]host[:port]/REST`: REST is a path (made absolute) unless it starts with a
/// prefix of another form; the host part is text, the path any bytes.
fn ssh(input: &OsStr) -> Result<Address, AddressError> {
    let bytes = input.as_bytes();
    let error = |reason| {
        Err(AddressError {
            input: bytes.to_vec(),
            reason,
        })
    };
    let after = &bytes["ssh://".len()..];
    let slash = after.iter().position(|&b| b == b'/').unwrap_or(after.len());
    let Ok(authority) = std::str::from_utf8(&after[..slash]) else {
        return error("not UTF-8 in the host part");
    };
    let rest = after.get(slash + 1..).unwrap_or_default();
    // The host part is checked alone; the socket after it is any bytes.
    let placeholder = if rest.is_empty() { "" } else { "x" };
    let target = match crate::ssh::split(&format!("ssh://{authority}/{placeholder}")) {
        Ok((target, _)) => target,
        Err(reason) => return error(reason),
    };
    let mut remote_text = Vec::new();
    if !REMOTE_PREFIXES
        .iter()
        .any(|p| rest.starts_with(p.as_bytes()))
    {
        remote_text.push(b'/');
    }
    remote_text.extend_from_slice(rest);
    let remote = match Address::from_os_str(OsStr::from_bytes(&remote_text)) {
        Ok(Address::Ssh { .. }) => return error("an ssh:// address inside another"),
        Ok(remote) => remote,
        Err(e) => return error(e.reason),
    };
    Ok(Address::Ssh {
        target,
        remote: Box::new(remote),
    })
}

fn unix(input: &str, path: &str) -> Result<Address, AddressError> {
    if path.is_empty() {
        return Err(AddressError::new(input, "empty socket path"));
    }
    if path.contains('\0') {
        return Err(AddressError::new(input, "NUL byte in socket path"));
    }
    Ok(Address::Unix(PathBuf::from(path)))
}

fn looks_like_host_port(s: &str) -> bool {
    s.starts_with('[')
        || s.rsplit_once(':')
            .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
}

fn tcp(input: &str, rest: &str, family: Family) -> Result<Address, AddressError> {
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| AddressError::new(input, "missing ']' after IPv6 address"))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| AddressError::new(input, "missing ':PORT' after ']'"))?;
        if host.parse::<Ipv6Addr>().is_err() {
            return Err(AddressError::new(input, "not an IPv6 address inside [ ]"));
        }
        (host, port)
    } else {
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| AddressError::new(input, "missing ':PORT'"))?;
        // `ipv6@::1:80` is HAProxy's own spelling; elsewhere a bare IPv6 needs brackets.
        if host.contains(':') && !(family == Family::V6 && host.parse::<Ipv6Addr>().is_ok()) {
            return Err(AddressError::new(input, "put an IPv6 address in brackets"));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(AddressError::new(input, "empty host"));
    }
    // Found by fuzzing: `ipv6@ipv4@10.0.0.1:80` used to pass with the host `ipv4@10.0.0.1`.
    let name_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if !host.chars().all(name_chars) && host.parse::<Ipv6Addr>().is_err() {
        return Err(AddressError::new(input, "not a host name or IP address"));
    }
    let port = match port.parse::<u16>() {
        Ok(0) | Err(_) => return Err(AddressError::new(input, "port must be 1-65535")),
        Ok(port) => port,
    };
    Ok(Address::Tcp {
        host: host.to_string(),
        port,
        family,
    })
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "{}", Escaped(path.as_os_str().as_bytes())),
            Address::Abstract { name, padded } => {
                let prefix = if *padded { "abns@" } else { "@" };
                write!(f, "{prefix}{}", Escaped(name))
            }
            Address::Tcp { host, port, .. } if host.contains(':') => write!(f, "[{host}]:{port}"),
            // Found by fuzzing: a host called `abstract` shown as `abstract:80` reads back as
            // an abstract socket.
            Address::Tcp { host, port, .. }
                if matches!(host.as_str(), "unix" | "abstract" | "tcp") =>
            {
                write!(f, "tcp:{host}:{port}")
            }
            Address::Tcp { host, port, .. } => write!(f, "{host}:{port}"),
            Address::Ssh { target, remote } => {
                f.write_str(&ssh_form(target, remote, remote.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Address, AddressError> {
        s.parse()
    }

    fn tcp(host: &str, port: u16, family: Family) -> Address {
        Address::Tcp {
            host: host.into(),
            port,
            family,
        }
    }

    #[test]
    fn unix_forms() {
        for s in [
            "/run/haproxy/admin.sock",
            "unix:/run/a.sock",
            "unix@/run/a.sock",
        ] {
            assert!(matches!(parse(s), Ok(Address::Unix(_))), "{s}");
        }
        assert_eq!(parse("./a.sock"), Ok(Address::Unix("./a.sock".into())));
        assert_eq!(parse("unix:rel.sock"), Ok(Address::Unix("rel.sock".into())));
        assert!(parse("unix:").is_err());
    }

    #[test]
    fn abstract_forms() {
        let exact = Address::Abstract {
            name: b"haproxy".to_vec(),
            padded: false,
        };
        for s in ["@haproxy", "abstract:haproxy", "abnsz@haproxy"] {
            assert_eq!(parse(s), Ok(exact.clone()), "{s}");
        }
        let padded = Address::Abstract {
            name: b"haproxy".to_vec(),
            padded: true,
        };
        assert_eq!(parse("abns@haproxy"), Ok(padded));
        assert!(parse("@").is_err());
        assert!(parse("abns@").is_err());
        assert!(parse(&format!("@{}", "x".repeat(108))).is_err());
    }

    #[test]
    fn tcp_forms() {
        assert_eq!(
            parse("127.0.0.1:9999"),
            Ok(tcp("127.0.0.1", 9999, Family::Any))
        );
        assert_eq!(
            parse("lb1.example:9999"),
            Ok(tcp("lb1.example", 9999, Family::Any))
        );
        assert_eq!(
            parse("tcp:localhost:80"),
            Ok(tcp("localhost", 80, Family::Any))
        );
        assert_eq!(parse("[::1]:9999"), Ok(tcp("::1", 9999, Family::Any)));
        assert_eq!(
            parse("ipv4@10.0.0.1:80"),
            Ok(tcp("10.0.0.1", 80, Family::V4))
        );
        assert_eq!(parse("ipv6@::1:80"), Ok(tcp("::1", 80, Family::V6)));
        assert_eq!(parse("ipv6@[::1]:80"), Ok(tcp("::1", 80, Family::V6)));
        for bad in [
            "host:0",
            "host:70000",
            ":80",
            "[::1]",
            "[nope]:80",
            "::1:80",
            "tcp:host",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn relative_name_needs_a_file() {
        let err = parse("surely-not-here.sock").unwrap_err().to_string();
        assert!(err.contains("no such file"), "{err}");
        assert!(err.contains("unix:PATH"), "{err}");
        assert_eq!(parse("Cargo.toml"), Ok(Address::Unix("Cargo.toml".into())));
    }

    #[test]
    fn not_utf8_paths_and_names() {
        let os = |b: &'static [u8]| OsStr::from_bytes(b);
        let path = Address::from_os_str(os(b"/tmp/d/\xff.sock")).unwrap();
        assert_eq!(path, Address::Unix(PathBuf::from(os(b"/tmp/d/\xff.sock"))));
        assert_eq!(
            Address::from_os_str(os(b"unix:\xfe.sock")),
            Ok(Address::Unix(PathBuf::from(os(b"\xfe.sock"))))
        );
        assert_eq!(
            Address::from_os_str(os(b"@\xfe")),
            Ok(Address::Abstract {
                name: b"\xfe".to_vec(),
                padded: false
            })
        );
        assert!(Address::from_os_str(os(b"\xfe:80")).is_err());
        assert!(Address::from_os_str(os(b"/a\xff\0b")).is_err());
        // UTF-8 goes through the same parser as always.
        assert_eq!(
            Address::from_os_str(os(b"127.0.0.1:80")),
            Ok(tcp("127.0.0.1", 80, Family::Any))
        );
    }

    #[test]
    fn display_escapes_what_would_break_a_line() {
        let path = Address::from_os_str(OsStr::from_bytes(b"/tmp/a\nb\x1b[2J\xff.sock")).unwrap();
        assert_eq!(path.to_string(), r"/tmp/a\x0ab\x1b[2J\xff.sock");
        assert_eq!(path.text(), "/tmp/a\nb\x1b[2J\u{fffd}.sock");
        let name = parse("@x\u{9b}y").unwrap();
        assert_eq!(name.to_string(), r"@x\u{009b}y");
        let err = parse("tcp:a\nb:80").unwrap_err().to_string();
        assert!(err.starts_with(r"invalid address 'tcp:a\x0ab:80'"), "{err}");
        for s in ["/run/é.sock", "@haproxy", "[::1]:80"] {
            assert_eq!(parse(s).unwrap().text(), s);
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "/run/a.sock",
            "@haproxy",
            "127.0.0.1:80",
            "[::1]:80",
            "tcp:abstract:80",
            "ssh://lb1/run/haproxy/admin.sock",
            "ssh://ops@lb1:2222/@haproxy",
            "ssh://[::1]/abns@haproxy",
            "ssh://lb1/tcp:127.0.0.1:9999",
            "ssh://lb1//@dir/x.sock",
            "ssh://lb1/unix:rel.sock",
        ] {
            assert_eq!(parse(s).unwrap().to_string(), s);
            assert_eq!(parse(s).unwrap().text(), s);
        }
    }

    #[test]
    fn ssh_forms() {
        let Ok(Address::Ssh { target, remote }) = parse("ssh://ops@lb1:2222/run/a.sock") else {
            panic!("not ssh");
        };
        assert_eq!(target.user.as_deref(), Some("ops"));
        assert_eq!(target.port, Some(2222));
        assert_eq!(*remote, Address::Unix("/run/a.sock".into()));
        let Ok(Address::Ssh { remote, .. }) = parse("ssh://lb1/@x") else {
            panic!("not ssh");
        };
        assert!(matches!(*remote, Address::Abstract { padded: false, .. }));
        let os = Address::from_os_str(OsStr::from_bytes(b"ssh://lb1/run/\xff.sock"));
        assert!(matches!(os, Ok(Address::Ssh { .. })), "{os:?}");
        for bad in [
            "ssh://lb1",
            "ssh://lb1/",
            "ssh://-oProxyCommand=x/a",
            "ssh://lb1/@",
            "ssh://lb1/tcp:x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
