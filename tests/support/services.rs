//! Real servers of other services (Debian 12's packages), each in a temp dir of its own, in
//! the foreground, on a Unix socket, for the length of one test: never a system service, no
//! fixed port, nothing shared, so that tests run them in parallel.
//!
//! Each starter returns `None` (after saying so) when its binary is not installed, unless
//! `SOCKCTL_REQUIRE_SERVICES=1` (set by CI) makes that a failure. It returns once the socket
//! answers a request of the server's own protocol, within [`START_TIMEOUT`], or panics with the
//! tail of the server's log. Dropping the returned value stops the server (SIGTERM, or SIGKILL
//! where that is what stops it promptly), reaps it, then removes the temp dir.
//!
//! Ready in 20 to 300 ms each, all ten started at once on two busy cores (`services::
//! start_times`); stopped in a few ms (SIGTERM) or at once (SIGKILL, where SIGTERM is slow).
//!
//! The doc comment of each starter gives the byte-level facts a client needs, as seen on
//! Debian 12's versions and checked by the smoke tests in `tests/services.rs`. "Half-close"
//! below means a client that sends its request, shuts down its write side, and reads to EOF.

// Helpers for the sockctl tests to come: not all of them are used yet.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer on its socket: every one here does in well under a
/// second; a machine busy building is slower, never this slow.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the raw client waits for a byte before it gives up.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether a missing server fails the test instead of skipping it.
pub fn required() -> bool {
    std::env::var_os("SOCKCTL_REQUIRE_SERVICES").is_some_and(|v| v == "1")
}

/// A program on the PATH or in the sbin directories (which a non-root PATH lacks).
pub fn binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The binary, or `None` after saying that the test skips; a panic when it is required.
fn find(name: &str, package: &str) -> Option<PathBuf> {
    if let Some(path) = binary(name) {
        return Some(path);
    }
    if required() {
        panic!("{name} is not installed (Debian package {package}) but SOCKCTL_REQUIRE_SERVICES=1");
    }
    eprintln!("skipping: {name} is not installed (apt-get install {package})");
    None
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn temp_dir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    // Mode 0700, as tor insists for the directory of its control socket.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    dir
}

/// How a server is stopped on drop.
#[derive(Clone, Copy, Debug)]
enum Stop {
    /// SIGTERM, then SIGKILL if it is still there after a few seconds.
    Term,
    /// SIGKILL at once: for servers whose SIGTERM takes up to a second (memcached: 0.6 s,
    /// uwsgi and dovecot wait for their children) and whose children, if any, die with their
    /// master (checked for uwsgi and dovecot).
    Kill,
}

/// One running server process, stopped and reaped on drop; its temp dir goes after it.
pub struct Process {
    pub name: &'static str,
    /// The temp dir holding the configuration, socket, log and state.
    pub dir: tempfile::TempDir,
    /// From spawning to the first good answer on the socket.
    pub started_in: Duration,
    child: Child,
    logs: Vec<PathBuf>,
    stop: Stop,
}

impl Process {
    /// Spawns `command` with stdout and stderr into `DIR/NAME.out`; `logs` are further files
    /// (in the dir) shown when the server does not come up.
    fn spawn(
        name: &'static str,
        dir: tempfile::TempDir,
        mut command: Command,
        logs: &[&str],
        stop: Stop,
    ) -> Process {
        let out = dir.path().join(format!("{name}.out"));
        let file = std::fs::File::create(&out).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let mut all = vec![out];
        all.extend(logs.iter().map(|l| dir.path().join(l)));
        Process {
            name,
            dir,
            started_in: Duration::ZERO,
            child,
            logs: all,
            stop,
        }
    }

    /// Waits until `ready` says so; panics with the logs if the server exits or takes longer
    /// than [`START_TIMEOUT`].
    fn wait_ready(&mut self, mut ready: impl FnMut() -> bool) {
        let start = Instant::now();
        loop {
            if ready() {
                self.started_in = start.elapsed();
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited before it answered ({status}):\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            assert!(
                start.elapsed() < START_TIMEOUT,
                "{} did not answer on its socket within {START_TIMEOUT:?}:\n{}",
                self.name,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether the server is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The last lines of each log file.
    pub fn log_tail(&self) -> String {
        let mut text = String::new();
        for log in &self.logs {
            let content = std::fs::read(log).unwrap_or_default();
            let content = String::from_utf8_lossy(&content);
            let lines: Vec<&str> = content.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            text.push_str(&format!("--- {} ---\n{}\n", log.display(), tail.join("\n")));
        }
        text
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_child(&self.child);
        if let Stop::Term = self.stop {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(5) {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        // Also for a server that ignores SIGTERM: unbound spinning on a half-closed
        // `local_datas` handles no signal.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw client on a Unix socket, independent of the code under test: it sends bytes and
/// reads until a framing function says a reply is complete.
pub struct Raw {
    pub stream: UnixStream,
    /// Bytes read but not yet returned.
    pub pending: Vec<u8>,
}

/// Given the bytes read so far, the length of the first complete reply, if there is one.
pub type Framing<'a> = &'a dyn Fn(&[u8]) -> Option<usize>;

impl Raw {
    pub fn connect(path: &Path) -> std::io::Result<Raw> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_write_timeout(Some(READ_TIMEOUT))?;
        Ok(Raw {
            stream,
            pending: Vec::new(),
        })
    }

    /// Connects or panics.
    #[track_caller]
    pub fn to(path: &Path) -> Raw {
        Raw::connect(path).unwrap_or_else(|e| panic!("connect {}: {e}", path.display()))
    }

    pub fn with_timeout(self, timeout: Duration) -> Raw {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        self
    }

    #[track_caller]
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("sending {:?}: {e}", shown(bytes)));
    }

    #[track_caller]
    pub fn half_close(&mut self) {
        self.stream.shutdown(Shutdown::Write).unwrap();
    }

    /// Reads until `framing` finds a complete reply and returns it (what follows stays
    /// pending), or the error with what came until then.
    ///
    /// The framings look at the whole buffer, so while bytes keep arriving they are asked
    /// again only once the buffer has doubled: a reply sent in thousands of small writes costs
    /// no more than a few passes over it.
    pub fn try_read(&mut self, framing: Framing) -> Result<Vec<u8>, String> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut check_at = 0;
        loop {
            if self.pending.len() >= check_at || !self.readable_now() {
                if let Some(n) = framing(&self.pending) {
                    return Ok(self.pending.drain(..n).collect());
                }
                check_at = self.pending.len().max(4096) * 2;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    return match framing(&self.pending) {
                        Some(n) => Ok(self.pending.drain(..n).collect()),
                        None => Err(format!("EOF after {}", shown(&self.pending))),
                    };
                }
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("{e} after {}", shown(&self.pending))),
            }
        }
    }

    /// Whether a read would return at once.
    fn readable_now(&self) -> bool {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let mut fds = [PollFd::new(&self.stream, PollFlags::IN)];
        poll(&mut fds, Some(&Timespec::default())).is_ok_and(|n| n > 0)
    }

    #[track_caller]
    pub fn read(&mut self, framing: Framing) -> Vec<u8> {
        self.try_read(framing)
            .unwrap_or_else(|e| panic!("no complete reply: {e}"))
    }

    /// Everything until EOF, pending bytes included.
    pub fn try_read_to_end(&mut self) -> std::io::Result<Vec<u8>> {
        let mut all = std::mem::take(&mut self.pending);
        self.stream.read_to_end(&mut all)?;
        Ok(all)
    }

    #[track_caller]
    pub fn read_to_end(&mut self) -> Vec<u8> {
        self.try_read_to_end()
            .unwrap_or_else(|e| panic!("reading to EOF: {e}"))
    }

    /// Sends and reads one reply.
    #[track_caller]
    pub fn exchange(&mut self, request: &[u8], framing: Framing) -> Vec<u8> {
        self.send(request);
        self.read(framing)
    }
}

/// Bytes as an escaped string, shortened in the middle when long.
pub fn shown(bytes: &[u8]) -> String {
    if bytes.len() <= 600 {
        return format!("{:?} ({} B)", bytes.escape_ascii().to_string(), bytes.len());
    }
    format!(
        "{:?}...{:?} ({} B)",
        bytes[..300].escape_ascii().to_string(),
        bytes[bytes.len() - 300..].escape_ascii().to_string(),
        bytes.len()
    )
}

/// Framings: each gives the length of the first complete reply in `buf`.
pub mod framing {
    /// The first line, with its `\n`.
    pub fn line(buf: &[u8]) -> Option<usize> {
        buf.iter().position(|&b| b == b'\n').map(|i| i + 1)
    }

    /// Up to and including the first occurrence of `end`.
    pub fn through(end: &'static [u8]) -> impl Fn(&[u8]) -> Option<usize> {
        move |buf| {
            buf.windows(end.len())
                .position(|w| w == end)
                .map(|i| i + end.len())
        }
    }

    /// Exactly `n` bytes.
    pub fn bytes(n: usize) -> impl Fn(&[u8]) -> Option<usize> {
        move |buf| (buf.len() >= n).then_some(n)
    }

    /// One RESP (Redis) value: `+`, `-`, `:` lines, `$len` bulk strings (`$-1` is nil), `*n`
    /// arrays (`*-1` is nil), nested.
    pub fn resp(buf: &[u8]) -> Option<usize> {
        let end = line(buf)?;
        let header = &buf[..end];
        if end < 3 || header[end - 2] != b'\r' {
            return None;
        }
        let number = || -> i64 {
            std::str::from_utf8(&header[1..end - 2])
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("bad RESP header {:?}", header.escape_ascii()))
        };
        match header[0] {
            b'+' | b'-' | b':' => Some(end),
            b'$' => {
                let n = number();
                if n < 0 {
                    return Some(end);
                }
                let total = end + usize::try_from(n).unwrap() + 2;
                (buf.len() >= total).then_some(total)
            }
            b'*' => {
                let mut at = end;
                for _ in 0..number().max(0) {
                    at += resp(&buf[at..])?;
                }
                Some(at)
            }
            other => panic!("not RESP: first byte {other:?}"),
        }
    }

    /// A BIRD reply: lines `DDDD-text` (more follow) or ` text` (continuation), ended by a
    /// line `DDDD text` (code, space); the banner `0001 BIRD x ready.` is one such reply.
    pub fn bird(buf: &[u8]) -> Option<usize> {
        let mut at = 0;
        while let Some(n) = line(&buf[at..]) {
            let l = &buf[at..at + n];
            at += n;
            if l.len() >= 5 && l[..4].iter().all(u8::is_ascii_digit) && l[4] == b' ' {
                return Some(at);
            }
        }
        None
    }

    /// A Tor control reply: `NNN-` lines, `NNN+` lines whose data runs to a line `.`, ended
    /// by a line `NNN ` (code, space). Every line ends with CRLF.
    pub fn tor(buf: &[u8]) -> Option<usize> {
        let mut at = 0;
        let mut in_data = false;
        while let Some(n) = line(&buf[at..]) {
            let l = &buf[at..at + n];
            at += n;
            if in_data {
                in_data = l != b".\r\n";
            } else if l.len() >= 4 {
                match l[3] {
                    b' ' => return Some(at),
                    b'+' => in_data = true,
                    _ => {}
                }
            }
        }
        None
    }

    /// A memcached reply to a retrieval (`get`, `gets`, `lru_crawler metadump`, `stats`):
    /// through `END\r\n`; or a one-line reply (`ERROR`, `CLIENT_ERROR …`, `SERVER_ERROR …`)
    /// at the start.
    pub fn memcached_end(buf: &[u8]) -> Option<usize> {
        let first = line(buf)?;
        if [&b"ERROR"[..], b"CLIENT_ERROR", b"SERVER_ERROR"]
            .iter()
            .any(|p| buf.starts_with(p))
        {
            return Some(first);
        }
        // Values are length-prefixed, but a value holding "\r\nEND\r\n" is not a concern of
        // these tests.
        through(b"END\r\n")(buf)
    }

    /// A collectd unixsock reply: a line `N message`, then N lines when N > 0 (N < 0 is an
    /// error, with no more lines).
    pub fn collectd(buf: &[u8]) -> Option<usize> {
        let first = line(buf)?;
        let text = std::str::from_utf8(&buf[..first]).ok()?;
        let count: i64 = text.split(' ').next()?.trim().parse().ok()?;
        let mut at = first;
        for _ in 0..count.max(0) {
            at += line(&buf[at..])?;
        }
        Some(at)
    }

    /// An OpenVPN management reply: one `SUCCESS: …` or `ERROR: …` line, or lines through a
    /// line `END`. Real-time lines (`>INFO:`, `>HOLD:`, `>LOG:`…) before it are part of it.
    pub fn openvpn(buf: &[u8]) -> Option<usize> {
        let mut at = 0;
        while let Some(n) = line(&buf[at..]) {
            let l = &buf[at..at + n];
            at += n;
            if l.starts_with(b"SUCCESS:") || l.starts_with(b"ERROR:") || l == b"END\r\n" {
                return Some(at);
            }
        }
        None
    }

    /// One JSON value (Kea's reply is one object, no newline after it).
    pub fn json(buf: &[u8]) -> Option<usize> {
        let mut stream = serde_json::Deserializer::from_slice(buf).into_iter::<serde_json::Value>();
        match stream.next() {
            Some(Ok(_)) => Some(stream.byte_offset()),
            _ => None,
        }
    }

    /// A doveadm-server reply (protocol 1.1 and later): packets of one channel byte (0 for
    /// output, `L` for log lines), a 4-byte big-endian length and that many bytes. The
    /// output's fields each end with a tab, with tab, newline, CR and 0x01 escaped as 0x01
    /// followed by `t`, `n`, `r`, `1`; so its first raw `\n` starts the result line, `+` or
    /// `-CODE`, which ends the reply. But see [`super::Dovecot`]: a table's last piece can
    /// come after the result line on a connection that stays open.
    pub fn doveadm(buf: &[u8]) -> Option<usize> {
        let mut at = 0;
        let mut newlines = 0;
        while buf.len() >= at + 5 {
            let len = u32::from_be_bytes(buf[at + 1..at + 5].try_into().unwrap()) as usize;
            if buf.len() < at + 5 + len {
                return None;
            }
            if buf[at] == 0 {
                newlines += buf[at + 5..at + 5 + len]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
            }
            at += 5 + len;
            if newlines >= 2 {
                return Some(at);
            }
        }
        None
    }

    /// Demultiplexes a doveadm-server reply: the output channel's bytes and the log channel's.
    pub fn doveadm_channels(reply: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let (mut output, mut log) = (Vec::new(), Vec::new());
        let mut at = 0;
        while reply.len() >= at + 5 {
            let len = u32::from_be_bytes(reply[at + 1..at + 5].try_into().unwrap()) as usize;
            let data = &reply[at + 5..at + 5 + len];
            match reply[at] {
                0 => output.extend_from_slice(data),
                _ => log.extend_from_slice(data),
            }
            at += 5 + len;
        }
        (output, log)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// One probe exchange: connect, send, read one reply; `None` on any failure.
fn probe(socket: &Path, request: &[u8], framing: Framing) -> Option<Vec<u8>> {
    let mut raw = Raw::connect(socket)
        .ok()?
        .with_timeout(Duration::from_secs(2));
    raw.stream.write_all(request).ok()?;
    raw.try_read(framing).ok()
}

// ---------------------------------------------------------------------------------------------

/// Redis 7.0 (`redis-server --port 0 --unixsocket DIR/redis.sock --save "" --daemonize no`).
///
/// - Requests: inline commands (`PING\r\n`; a bare `\n` ends a line too) or RESP arrays
///   (`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n`); pipelined commands are answered in order.
/// - Replies (RESP): `+PONG\r\n`, `+OK\r\n`; integers `:1\r\n`; bulk `$3\r\nxyz\r\n`, nil
///   `$-1\r\n`; arrays `*2\r\n$3\r\nxyz\r\n$-1\r\n`. A reply ends where its RESP value ends;
///   the connection stays open.
/// - Errors: one line starting with `-`, e.g. `-ERR unknown command 'FOO', with args
///   beginning with: \r\n`, `-ERR wrong number of arguments for 'get' command\r\n`,
///   `-WRONGTYPE Operation against a key holding the wrong kind of value\r\n`,
///   `-ERR value is not an integer or out of range\r\n`.
/// - Auth (with a password): before `AUTH`, every command but `AUTH`/`HELLO … AUTH`/`QUIT`
///   gets `-NOAUTH Authentication required.\r\n` and the connection stays open; a wrong
///   password gets `-WRONGPASS invalid username-password pair or user is disabled.\r\n`; a
///   good one `+OK\r\n`. Without a password configured, `AUTH x` gets `-ERR AUTH <password>
///   called without any password configured for the default user. Are you sure your
///   configuration is correct?\r\n`.
/// - `QUIT\r\n` gets `+OK\r\n`, then EOF.
/// - Half-close: Redis frees the client as soon as it reads EOF, dropping what it has not
///   written yet: a `GET` of a 20 MiB value comes back cut at exactly 219,264 bytes (the
///   socket buffers' worth here) then a clean EOF, every time; small replies come whole.
///   Read the complete RESP value before closing instead.
pub struct Redis {
    pub socket: PathBuf,
    /// The `requirepass` password, when started with one.
    pub password: Option<&'static str>,
    pub process: Process,
}

/// The password of [`Redis::start_with_password`].
pub const REDIS_PASSWORD: &str = "sockctl-redis-secret";

impl Redis {
    pub fn start() -> Option<Redis> {
        Self::launch(None)
    }

    /// With `requirepass` [`REDIS_PASSWORD`].
    pub fn start_with_password() -> Option<Redis> {
        Self::launch(Some(REDIS_PASSWORD))
    }

    fn launch(password: Option<&'static str>) -> Option<Redis> {
        let binary = find("redis-server", "redis-server")?;
        let dir = temp_dir("sockctl-redis");
        let socket = dir.path().join("redis.sock");
        let mut command = Command::new(binary);
        command
            .args(["--port", "0", "--unixsocket"])
            .arg(&socket)
            .args(["--unixsocketperm", "700", "--dir"])
            .arg(dir.path())
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--logfile", ""]);
        if let Some(password) = password {
            command.args(["--requirepass", password]);
        }
        let mut process = Process::spawn("redis-server", dir, command, &[], Stop::Term);
        process.wait_ready(|| {
            probe(&socket, b"PING\r\n", &framing::resp)
                .is_some_and(|r| r == b"+PONG\r\n" || r.starts_with(b"-NOAUTH"))
        });
        Some(Redis {
            socket,
            password,
            process,
        })
    }

    /// A connection, authenticated when the server has a password.
    pub fn connect(&self) -> Raw {
        let mut raw = Raw::to(&self.socket);
        if let Some(password) = self.password {
            let reply = raw.exchange(format!("AUTH {password}\r\n").as_bytes(), &framing::resp);
            assert_eq!(reply, b"+OK\r\n", "AUTH");
        }
        raw
    }

    /// Stores `size` bytes of a repeating pattern under `key` (a RESP `SET`): the large-reply
    /// recipe is then `GET key`, whose reply is `$size\r\n` + the value + `\r\n`.
    pub fn set_large_value(&self, key: &str, size: usize) -> Vec<u8> {
        let value: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
        let mut request =
            format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${size}\r\n", key.len()).into_bytes();
        request.extend_from_slice(&value);
        request.extend_from_slice(b"\r\n");
        let mut raw = self.connect();
        assert_eq!(raw.exchange(&request, &framing::resp), b"+OK\r\n");
        value
    }
}

// ---------------------------------------------------------------------------------------------

/// memcached 1.6 (`memcached -s DIR/memcached.sock -a 0700 -m 64`, plus `-u root` as root,
/// which it insists on). The text protocol; lines end with `\r\n` (a bare `\n` is accepted).
///
/// - `version\r\n` → `VERSION 1.6.18\r\n`.
/// - Retrievals (`get k…`, `gets`, `stats`, `stats items`, `lru_crawler metadump all`) end with
///   `END\r\n`; a value is `VALUE <key> <flags> <bytes>\r\n<data>\r\n`; a miss is just
///   `END\r\n`. `lru_crawler metadump` lines end with a bare `\n`, the final `END` with CRLF.
/// - Storage: `set k 0 0 3\r\nabc\r\n` → `STORED\r\n`; `delete` → `DELETED\r\n` or
///   `NOT_FOUND\r\n`. Meta commands: `mn\r\n` → `MN\r\n`, `ms k 2\r\nhi\r\n` → `HD\r\n`,
///   `mg k v\r\n` → `VA 2\r\nhi\r\n`.
/// - Errors, one line: `ERROR\r\n` (unknown command), `CLIENT_ERROR bad command line
///   format\r\n`, `CLIENT_ERROR cannot increment or decrement non-numeric value\r\n`,
///   `SERVER_ERROR object too large for cache\r\n` (a value of 1 MiB or more with the default
///   `-I 1m`: the largest that fits is 1,048,476 bytes; a failed `set` also deletes the key's
///   old value).
/// - No auth on the Unix socket.
/// - Half-close: works; replies come whole (5 MB of `get` and 1.3 MB of metadump checked).
pub struct Memcached {
    pub socket: PathBuf,
    pub process: Process,
}

impl Memcached {
    pub fn start() -> Option<Memcached> {
        let binary = find("memcached", "memcached")?;
        let dir = temp_dir("sockctl-memcached");
        let socket = dir.path().join("memcached.sock");
        let mut command = Command::new(binary);
        command
            .arg("-s")
            .arg(&socket)
            .args(["-a", "0700", "-m", "64"]);
        if is_root() {
            command.args(["-u", "root"]);
        }
        let mut process = Process::spawn("memcached", dir, command, &[], Stop::Kill);
        process.wait_ready(|| {
            probe(&socket, b"version\r\n", &framing::line)
                .is_some_and(|r| r.starts_with(b"VERSION "))
        });
        Some(Memcached { socket, process })
    }

    /// The largest value the default item size takes.
    pub const MAX_VALUE: usize = 1_048_476;

    /// Stores `size` bytes under `key`; the large-reply recipe is then `get key` (several
    /// times in one `get` for more: `get k k k k k` returns 5 copies).
    pub fn set_large_value(&self, key: &str, size: usize) -> Vec<u8> {
        let value: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
        let mut request = format!("set {key} 0 0 {size}\r\n").into_bytes();
        request.extend_from_slice(&value);
        request.extend_from_slice(b"\r\n");
        let mut raw = Raw::to(&self.socket);
        assert_eq!(raw.exchange(&request, &framing::line), b"STORED\r\n");
        value
    }
}

// ---------------------------------------------------------------------------------------------

/// Unbound 1.17 (`unbound -d -c DIR/unbound.conf`): the remote control on a Unix socket with
/// `control-use-cert: no` (plain, no TLS), and DNS on 127.0.0.1 at a free port (UDP and TCP,
/// `so-reuseport: no`, so that no other test's unbound shares it). It never queries the
/// network: `local-zone: "." static` answers everything that is not local data itself.
///
/// - One command per connection: the client sends `UBCT1 <command>\n` (`UBCT1 ` is the
///   protocol version, then a space); the server answers and closes: the reply ends at EOF.
///   The final `\n` may be left out (`UBCT1 status` then EOF works).
/// - Without the `UBCT1 ` prefix the connection is reset (ECONNRESET), no byte; `UBCT2 ` gets
///   `error version mismatch\n`.
/// - Success: `ok\n` or the command's text (`status`: `version: 1.17.1\n…unbound (pid N) is
///   running...\n`; `stats_noreset`: `name=value` lines; `flush_zone x.`: `ok removed 0
///   rrsets, 0 messages and 0 key entries\n`).
/// - Errors start with `error`: `error unknown command 'bogus'\n`, `error: this option
///   requires a domain name\n`. A bulk command can mix both: `error parsing local-data at line
///   1 …\nadded 0 datas\n`.
/// - Commands that read more lines (`local_datas`, `local_zones`, `local_datas_remove`…) read
///   until a line holding only `\x04` (`UBCT1 local_datas\nname. A 192.0.2.1\n\x04\n` →
///   `added 1 datas\n`). A half-close before that line makes unbound loop forever on the EOF:
///   while the client reads it sends an endless stream of `error parsing local-data at line N
///   position 0 '': Syntax error, could not parse the RR\n`; once the client closes it spins
///   at 100% CPU logging "could not send: Broken pipe", answers nothing else, and ignores
///   SIGTERM (only SIGKILL stops it, which the drop does).
/// - Half-close otherwise: fine; 785 KB of `list_local_data` come whole.
pub struct Unbound {
    pub socket: PathBuf,
    /// The DNS port on 127.0.0.1 (UDP and TCP).
    pub dns_port: u16,
    pub process: Process,
}

/// A port free on 127.0.0.1 for both UDP and TCP right now.
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Unbound {
    pub fn start() -> Option<Unbound> {
        let binary = find("unbound", "unbound")?;
        // Another process may take the free port before unbound binds it: then it exits at
        // once, and a new port is tried.
        for attempt in 1.. {
            let dir = temp_dir("sockctl-unbound");
            let socket = dir.path().join("unbound.ctl");
            let dns_port = free_port();
            let d = dir.path().display();
            let config = format!(
                "server:
    interface: 127.0.0.1
    port: {dns_port}
    so-reuseport: no
    do-ip6: no
    num-threads: 1
    do-daemonize: no
    chroot: \"\"
    username: \"\"
    directory: \"{d}\"
    pidfile: \"{d}/unbound.pid\"
    use-syslog: no
    logfile: \"{d}/unbound.log\"
    verbosity: 1
    module-config: \"iterator\"
    local-zone: \".\" static
remote-control:
    control-enable: yes
    control-interface: \"{}\"
    control-use-cert: no
",
                socket.display()
            );
            let config_path = dir.path().join("unbound.conf");
            std::fs::write(&config_path, config).unwrap();
            let mut command = Command::new(&binary);
            command.arg("-d").arg("-c").arg(&config_path);
            let mut process = Process::spawn("unbound", dir, command, &["unbound.log"], Stop::Term);
            let start = Instant::now();
            while Raw::connect(&socket).is_err() && process.alive() {
                assert!(
                    start.elapsed() < START_TIMEOUT,
                    "unbound did not listen:\n{}",
                    process.log_tail()
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            let bind_failed = !process.alive() && process.log_tail().contains("bind");
            if bind_failed && attempt < 5 {
                continue;
            }
            process.wait_ready(|| {
                Raw::connect(&socket).is_ok_and(|mut raw| {
                    raw.stream.write_all(b"UBCT1 status\n").is_ok()
                        && raw
                            .try_read_to_end()
                            .is_ok_and(|r| contains(&r, b"is running"))
                })
            });
            process.started_in = start.elapsed();
            return Some(Unbound {
                socket,
                dns_port,
                process,
            });
        }
        unreachable!()
    }

    /// One command on its own connection: `UBCT1 <command>\n`, half-close, read to EOF.
    pub fn control(&self, command: &str) -> Vec<u8> {
        let mut raw = Raw::to(&self.socket);
        raw.send(format!("UBCT1 {command}\n").as_bytes());
        raw.half_close();
        raw.read_to_end()
    }

    /// Adds `count` A records `hNNNNN.example.` through `local_datas` (ended by the `\x04`
    /// line); the large-reply recipe is then `list_local_data` (about 39 bytes a record).
    pub fn add_local_data(&self, count: usize) {
        let mut request = b"UBCT1 local_datas\n".to_vec();
        for i in 0..count {
            request.extend_from_slice(
                format!("h{i:05}.example. A 192.0.2.{}\n", i % 250 + 1).as_bytes(),
            );
        }
        request.extend_from_slice(b"\x04\n");
        let mut raw = Raw::to(&self.socket);
        raw.send(&request);
        raw.half_close();
        let reply = raw.read_to_end();
        assert_eq!(
            reply,
            format!("added {count} datas\n").as_bytes(),
            "{}",
            shown(&reply)
        );
    }
}

// ---------------------------------------------------------------------------------------------

/// BIRD 2.0 (`bird -f -c DIR/bird.conf -s DIR/bird.ctl -P DIR/bird.pid`), with `router id
/// 192.0.2.1` and a static protocol `static_bh` of `routes` blackhole routes
/// `10.X.Y.0/24` (no device or kernel protocol: it never touches the host's routes).
///
/// - On connect: the banner `0001 BIRD 2.0.12 ready.\n`. Read it before sending anything.
/// - Commands end with `\n` (`\r\n` works too); several may be sent at once and are answered
///   in order. An empty line gets `9001 syntax error, unexpected END\n`.
/// - A reply is lines of a 4-digit code then `-` (more follow), or continuation lines
///   starting with a space, and ends with a line of code then a space: `show status` →
///   `1000-BIRD 2.0.12\n1011-Router ID is 192.0.2.1\n Hostname is …\n … \n0013 Daemon is up
///   and running\n`; `show protocols` and `show route` end with `0000 \n` (code 0000, empty
///   text).
/// - Errors: codes 8xxx (runtime) and 9xxx (syntax): `9001 syntax error, unexpected
///   CF_SYM_UNDEFINED\n` (unknown command), `8001 Network not found\n`.
/// - `quit`/`exit` are birdc's own: the daemon answers nothing and keeps the connection.
/// - Half-close: a race that loses the reply. BIRD frees the CLI as soon as it reads EOF,
///   even with a command still queued: of 40 half-closed `show status` sent without reading
///   the banner, 4 came whole, 18 banner only, 18 empty; with the banner read first, 29 whole
///   and 11 empty; a half-closed `show route` (130 KB) came back in 1 of 10. Never half-close;
///   read to the final code line.
/// - Large reply: `show route` with 2000 routes is 130,026 bytes in 2,002 lines; `show route
///   all` 186 KB.
pub struct Bird {
    pub socket: PathBuf,
    pub routes: usize,
    pub process: Process,
}

impl Bird {
    /// With 2000 routes, so that `show route` is long (130 KB).
    pub fn start() -> Option<Bird> {
        Self::start_with_routes(2000)
    }

    pub fn start_with_routes(routes: usize) -> Option<Bird> {
        assert!(routes <= 65_536);
        let binary = find("bird", "bird2")?;
        let dir = temp_dir("sockctl-bird");
        let socket = dir.path().join("bird.ctl");
        let mut config = format!(
            "log \"{}\" all;\nrouter id 192.0.2.1;\n\nprotocol static static_bh {{\n    ipv4;\n",
            dir.path().join("bird.log").display()
        );
        for i in 0..routes {
            config.push_str(&format!(
                "    route 10.{}.{}.0/24 blackhole;\n",
                i / 256,
                i % 256
            ));
        }
        config.push_str("}\n");
        let config_path = dir.path().join("bird.conf");
        std::fs::write(&config_path, config).unwrap();
        let mut command = Command::new(binary);
        command
            .arg("-f")
            .arg("-c")
            .arg(&config_path)
            .arg("-s")
            .arg(&socket)
            .arg("-P")
            .arg(dir.path().join("bird.pid"));
        let mut process = Process::spawn("bird", dir, command, &["bird.log"], Stop::Term);
        let count = format!("{routes} of {routes} routes");
        process.wait_ready(|| {
            let Ok(raw) = Raw::connect(&socket) else {
                return false;
            };
            let mut raw = raw.with_timeout(Duration::from_secs(2));
            raw.try_read(&framing::bird).is_ok()
                && raw.stream.write_all(b"show route count\n").is_ok()
                && raw
                    .try_read(&framing::bird)
                    .is_ok_and(|r| routes == 0 || contains(&r, count.as_bytes()))
        });
        Some(Bird {
            socket,
            routes,
            process,
        })
    }

    /// A connection whose banner has been read.
    pub fn connect(&self) -> Raw {
        let mut raw = Raw::to(&self.socket);
        let banner = raw.read(&framing::bird);
        assert!(banner.starts_with(b"0001 BIRD "), "{}", shown(&banner));
        raw
    }
}

// ---------------------------------------------------------------------------------------------

/// How a [`Tor`] control socket authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TorAuth {
    /// No method configured: `AUTHENTICATE` with no argument (or `""`) succeeds.
    None,
    /// `HashedControlPassword` of [`TOR_PASSWORD`].
    Password,
    /// `CookieAuthentication 1`, the 32-byte cookie in `DIR/control.cookie`.
    Cookie,
}

/// The password of [`TorAuth::Password`].
pub const TOR_PASSWORD: &str = "sockctl-test";
/// `tor --hash-password sockctl-test` (any salt does).
const TOR_HASHED_PASSWORD: &str = "16:D18EE64510A714CC604E1929C17792BE208765716BFDA48D70B84E8ECB";

/// Tor 0.4 (`tor -f DIR/torrc`) with `ControlSocket DIR/control`, `DisableNetwork 1` (it makes
/// no connection at all), `SocksPort 0`, `DataDirectory DIR/data` (0700, as is the socket's
/// directory: tor refuses to open the socket otherwise).
///
/// - Lines end with CRLF both ways (a bare `\n` from the client is accepted).
/// - A reply: `NNN-text\r\n` lines, `NNN+key=\r\n` data lines up to a line `.\r\n`, ended by
///   `NNN text\r\n` (code, space). 2xx are successes; 5xx errors: `510 Unrecognized command
///   "BOGUS"\r\n`, `552 Unrecognized key "nothing"\r\n`. `650 …` lines are asynchronous events
///   (after `SETEVENTS`), which may come between replies.
/// - Before `AUTHENTICATE` only `PROTOCOLINFO` (once) is answered: `PROTOCOLINFO 1\r\n` →
///   `250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-VERSION Tor="0.4.9.11"\r\n250 OK\r\n`
///   (`METHODS=HASHEDPASSWORD`, or `METHODS=COOKIE,SAFECOOKIE COOKIEFILE="…"` with the
///   others). Any other command but `AUTHENTICATE` and `QUIT`, a second `PROTOCOLINFO`
///   included, gets `514 Authentication required.\r\n` and the connection is closed.
/// - `AUTHENTICATE\r\n` (no auth), `AUTHENTICATE "password"\r\n` (quoted string), or
///   `AUTHENTICATE <64 hex digits of the cookie file>\r\n` → `250 OK\r\n`; a wrong one →
///   `515 Authentication failed: …\r\n` and close.
/// - `QUIT\r\n` → `250 closing connection\r\n`, then EOF.
/// - Half-close: Tor closes once it has read EOF and drops what it has not written: a reply
///   larger than the socket buffers comes back cut at a varying length (of 1.2 MB of
///   `GETINFO config/names` ×100: 208 KB to 380 KB, once whole). End with `QUIT` and read to
///   EOF, or read to the final line.
/// - Large reply: `GETINFO config/names` is 12 KB; `GETINFO config/names config/defaults
///   info/names` 49 KB; repeat the command for more (`GETINFO config/names\r\n` ×100 is 1.2 MB).
pub struct Tor {
    pub socket: PathBuf,
    pub auth: TorAuth,
    /// The cookie file, with [`TorAuth::Cookie`].
    pub cookie: Option<PathBuf>,
    pub process: Process,
}

impl Tor {
    pub fn start(auth: TorAuth) -> Option<Tor> {
        let binary = find("tor", "tor")?;
        let dir = temp_dir("sockctl-tor");
        let socket = dir.path().join("control");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        let d = dir.path().display();
        let mut torrc = format!(
            "DataDirectory {d}/data\nControlSocket {d}/control\nSocksPort 0\nDisableNetwork 1\n\
             Log notice file {d}/tor.log\nPidFile {d}/tor.pid\n"
        );
        let cookie = match auth {
            TorAuth::None => None,
            TorAuth::Password => {
                torrc.push_str(&format!("HashedControlPassword {TOR_HASHED_PASSWORD}\n"));
                None
            }
            TorAuth::Cookie => {
                torrc.push_str(&format!(
                    "CookieAuthentication 1\nCookieAuthFile {d}/control.cookie\n"
                ));
                Some(dir.path().join("control.cookie"))
            }
        };
        let torrc_path = dir.path().join("torrc");
        std::fs::write(&torrc_path, torrc).unwrap();
        let mut command = Command::new(binary);
        command.arg("-f").arg(&torrc_path);
        let mut process = Process::spawn("tor", dir, command, &["tor.log"], Stop::Term);
        process.wait_ready(|| {
            cookie
                .as_ref()
                .is_none_or(|c| std::fs::metadata(c).is_ok_and(|m| m.len() == 32))
                && probe(&socket, b"PROTOCOLINFO 1\r\n", &framing::tor)
                    .is_some_and(|r| r.ends_with(b"250 OK\r\n"))
        });
        Some(Tor {
            socket,
            auth,
            cookie,
            process,
        })
    }

    /// The `AUTHENTICATE` line that succeeds.
    pub fn authenticate_line(&self) -> Vec<u8> {
        match self.auth {
            TorAuth::None => b"AUTHENTICATE\r\n".to_vec(),
            TorAuth::Password => format!("AUTHENTICATE \"{TOR_PASSWORD}\"\r\n").into_bytes(),
            TorAuth::Cookie => {
                let cookie = std::fs::read(self.cookie.as_ref().unwrap()).unwrap();
                let hex: String = cookie.iter().map(|b| format!("{b:02X}")).collect();
                format!("AUTHENTICATE {hex}\r\n").into_bytes()
            }
        }
    }

    /// An authenticated connection.
    pub fn connect(&self) -> Raw {
        let mut raw = Raw::to(&self.socket);
        let reply = raw.exchange(&self.authenticate_line(), &framing::tor);
        assert_eq!(reply, b"250 OK\r\n", "AUTHENTICATE");
        raw
    }
}

// ---------------------------------------------------------------------------------------------

/// OpenVPN 2.6 (`openvpn --dev null --tls-server … --management DIR/management.sock unix
/// [DIR/management.pw]`): a real instance, a TLS peer-to-peer server on UDP 127.0.0.1 at an
/// ephemeral port (`--lport 0`) with a throwaway self-signed certificate made by `openssl`
/// in the temp dir; `--dev null` needs no tun device. It waits for a peer that never comes.
///
/// - On connect: `>INFO:OpenVPN Management Interface Version 5 -- type 'help' for more
///   info\r\n`. With a password file, instead `ENTER PASSWORD:` (no newline); the password
///   line (`\n` or `\r\n`) gets `SUCCESS: password is correct\r\n` then the `>INFO:` line. A
///   wrong password gets `ENTER PASSWORD:` again; after 3 wrong ones the connection is closed
///   without a word.
/// - Commands end with `\n`; replies' lines with `\r\n`. A reply is one line `SUCCESS: …`
///   (`pid` → `SUCCESS: pid=N\r\n`, `verb` → `SUCCESS: verb=3\r\n`) or `ERROR: …` (`ERROR:
///   unknown command, enter 'help' for more options\r\n`), or lines ended by `END\r\n`
///   (`help`, `state`, `status`, `version`, `log all`). Real-time lines start with `>`
///   (`>INFO:`, `>HOLD:`, `>LOG:`, `>STATE:`…) and can come between replies.
/// - `test N` prints N lines `[i] The purpose of this command is to generate large amounts
///   of output.\r\n` (75 bytes each) with NO terminator: send `pid` after it and read to
///   `SUCCESS: pid=`. That is the large-reply recipe (`test 100000`: 7.7 MB).
/// - `exit`/`quit`: closes, no reply.
/// - One client at a time: a second connection is not accepted (it waits in the listen
///   backlog, no byte) until the first one closes, then gets its greeting.
/// - Half-close: works; 7.7 MB of `test 100000` came whole.
pub struct OpenVpn {
    pub socket: PathBuf,
    /// The management password file (its first line is the password), when there is one.
    pub password_file: Option<PathBuf>,
    pub process: Process,
}

/// The management password of [`OpenVpn::start_with_password`].
pub const OPENVPN_PASSWORD: &str = "sockctl-mgmt-secret";

impl OpenVpn {
    pub fn start() -> Option<OpenVpn> {
        Self::launch(false, false)
    }

    /// With a management password file holding [`OPENVPN_PASSWORD`].
    pub fn start_with_password() -> Option<OpenVpn> {
        Self::launch(true, false)
    }

    /// With `--management-hold`: it waits for `hold release` before starting its tunnel, and
    /// greets with `>HOLD:Waiting for hold release:0\r\n` after the `>INFO:` line.
    pub fn start_held() -> Option<OpenVpn> {
        Self::launch(false, true)
    }

    fn launch(password: bool, hold: bool) -> Option<OpenVpn> {
        let binary = find("openvpn", "openvpn")?;
        let openssl = find("openssl", "openssl")?;
        let dir = temp_dir("sockctl-openvpn");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let out = Command::new(openssl)
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
            .args(["-subj", "/CN=sockctl-test", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let socket = dir.path().join("management.sock");
        let password_file = password.then(|| {
            let path = dir.path().join("management.pw");
            std::fs::write(&path, format!("{OPENVPN_PASSWORD}\n")).unwrap();
            path
        });
        let mut command = Command::new(binary);
        command
            .args(["--dev", "null", "--local", "127.0.0.1", "--lport", "0"])
            .args(["--proto", "udp", "--tls-server", "--dh", "none", "--ca"])
            .arg(&cert)
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .arg("--management")
            .arg(&socket)
            .arg("unix");
        if let Some(file) = &password_file {
            command.arg(file);
        }
        if hold {
            command.arg("--management-hold");
        }
        command
            .args(["--verb", "3", "--log"])
            .arg(dir.path().join("openvpn.log"))
            .arg("--writepid")
            .arg(dir.path().join("openvpn.pid"));
        let mut process = Process::spawn("openvpn", dir, command, &["openvpn.log"], Stop::Term);
        // One client at a time: the probe reads the greeting and leaves.
        process.wait_ready(|| {
            let Ok(raw) = Raw::connect(&socket) else {
                return false;
            };
            let mut raw = raw.with_timeout(Duration::from_secs(2));
            let greeting: &[u8] = if password {
                b"ENTER PASSWORD:"
            } else {
                b">INFO:"
            };
            raw.try_read(&framing::bytes(greeting.len()))
                .is_ok_and(|r| r == greeting)
        });
        Some(OpenVpn {
            socket,
            password_file,
            process,
        })
    }

    /// A connection whose greeting (and password exchange) is done.
    pub fn connect(&self) -> Raw {
        let mut raw = Raw::to(&self.socket);
        if self.password_file.is_some() {
            assert_eq!(raw.read(&framing::bytes(15)), b"ENTER PASSWORD:");
            raw.send(format!("{OPENVPN_PASSWORD}\n").as_bytes());
            assert_eq!(
                raw.read(&framing::line),
                b"SUCCESS: password is correct\r\n"
            );
        }
        let info = raw.read(&framing::line);
        assert!(
            info.starts_with(b">INFO:OpenVPN Management Interface"),
            "{}",
            shown(&info)
        );
        raw
    }
}

// ---------------------------------------------------------------------------------------------

/// Kea DHCPv4 2.2 (`kea-dhcp4 -c DIR/kea-dhcp4.json`, `KEA_PIDFILE_DIR` and
/// `KEA_LOCKFILE_DIR` in the temp dir): no interfaces (it serves no DHCP), a memfile lease
/// database with `"persist": false`, its log in `DIR/kea-dhcp4.log`, and
/// `"control-socket": {"socket-type": "unix", "socket-name": "DIR/kea4.sock"}`.
///
/// - The client sends one JSON object, `{"command": "list-commands"}` (optionally with
///   `"arguments"`); no newline is needed (one after it is fine). Kea answers with one JSON
///   object, no newline after it, and closes: the reply ends at EOF (or where the object
///   ends). Only the first of two concatenated objects is answered.
/// - `"result"`: 0 success, 1 error, 2 unsupported command, 3 empty (e.g. no leases).
///   `{"command":"bogus"}` → `{ "result": 2, "text": "'bogus' command not supported." }`;
///   `not json` → `{ "result": 1, "text": "invalid first character n" }`.
/// - An incomplete object then EOF: closed without a reply; then nothing for 10 s: `{ "result":
///   1, "text": "Connection over control channel timed out, discarded partial command of N
///   bytes" }` and close.
/// - No auth on the Unix socket.
/// - Half-close: works; a 2 MB `config-get` comes whole.
/// - Large reply: `config-set` the running configuration with a `user-context` holding a
///   large string (see [`Kea::set_large_config`]), then `config-get`.
pub struct Kea {
    pub socket: PathBuf,
    pub process: Process,
}

impl Kea {
    pub fn start() -> Option<Kea> {
        let binary = find("kea-dhcp4", "kea-dhcp4-server")?;
        let dir = temp_dir("sockctl-kea");
        let socket = dir.path().join("kea4.sock");
        let config = serde_json::json!({
            "Dhcp4": {
                "interfaces-config": { "interfaces": [] },
                "control-socket": { "socket-type": "unix", "socket-name": socket },
                "lease-database": { "type": "memfile", "persist": false },
                "loggers": [{
                    "name": "kea-dhcp4",
                    "output_options": [{ "output": dir.path().join("kea-dhcp4.log") }],
                    "severity": "INFO"
                }]
            }
        });
        let config_path = dir.path().join("kea-dhcp4.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let mut command = Command::new(binary);
        command
            .env("KEA_PIDFILE_DIR", dir.path())
            .env("KEA_LOCKFILE_DIR", dir.path())
            .arg("-c")
            .arg(&config_path);
        let mut process = Process::spawn("kea-dhcp4", dir, command, &["kea-dhcp4.log"], Stop::Term);
        process.wait_ready(|| {
            probe(&socket, br#"{"command":"status-get"}"#, &framing::json).is_some_and(|r| {
                serde_json::from_slice::<serde_json::Value>(&r).is_ok_and(|v| v["result"] == 0)
            })
        });
        Some(Kea { socket, process })
    }

    /// One command on its own connection, read to EOF, parsed.
    pub fn command(&self, request: &serde_json::Value) -> serde_json::Value {
        let mut raw = Raw::to(&self.socket);
        raw.send(request.to_string().as_bytes());
        let reply = raw.read_to_end();
        serde_json::from_slice(&reply).unwrap_or_else(|e| panic!("{e}: {}", shown(&reply)))
    }

    /// Sets the running configuration to itself plus a `user-context` of `size` bytes, so
    /// that `config-get` is larger than `size`.
    pub fn set_large_config(&self, size: usize) {
        let mut config =
            self.command(&serde_json::json!({"command": "config-get"}))["arguments"].take();
        config["Dhcp4"]["user-context"] = serde_json::json!({ "blob": "x".repeat(size) });
        let reply =
            self.command(&serde_json::json!({"command": "config-set", "arguments": config}));
        assert_eq!(reply["result"], 0, "{reply}");
    }
}

// ---------------------------------------------------------------------------------------------

/// collectd 5.12 (`collectd -f -C DIR/collectd.conf`) with the `unixsock` plugin on
/// `DIR/collectd.sock`, the `load` plugin (so that one value exists: `HOST/load/load`), and
/// its log in `DIR/collectd.log`; the host name is [`Collectd::HOST`]. No write plugin: it
/// logs that it has none at each interval (10 s), which is harmless.
///
/// - Commands are lines ending with `\n`; several on one connection are answered in order;
///   the connection stays open after a reply.
/// - A reply: a first line `N message\n`; when N > 0, N more lines follow. `LISTVAL\n` →
///   `1 Value found\n1796210105.235 sockctl-test/load/load\n`; `GETVAL
///   sockctl-test/load/load\n` → `3 Values found\nshortterm=1.704590e+00\n…`; `PUTVAL
///   HOST/plugin/type N:42\n` → `0 Success: 1 value has been dispatched.\n`; `FLUSH\n` →
///   `0 Done: 1 successful, 0 errors\n`.
/// - Errors: N < 0, one line: `-1 Unknown command: BOGUS\n`, `-1 Missing identifier and/or
///   value-list.\n`; but `GETVAL host/load/nothing\n` → `-1 Type `nothing' is unknown.\n\n`
///   (an extra empty line).
/// - DANGER: `GETTHRESHOLD …` without the threshold plugin loaded aborts collectd (an
///   assertion in `c_avl_get`): the socket is gone and the file stays, so that a new collectd
///   on the same path logs "bind failed: Address already in use" and runs without its socket.
/// - No auth.
/// - Half-close: works; 1 MB of `LISTVAL` came whole.
/// - Large reply: `PUTVAL` many values with `interval=3600` (with the default interval they
///   expire from the cache within seconds), then `LISTVAL` (about 51 bytes a value).
pub struct Collectd {
    pub socket: PathBuf,
    pub process: Process,
}

impl Collectd {
    pub const HOST: &'static str = "sockctl-test";

    pub fn start() -> Option<Collectd> {
        let binary = find("collectd", "collectd-core")?;
        let dir = temp_dir("sockctl-collectd");
        let socket = dir.path().join("collectd.sock");
        let d = dir.path().display();
        let config = format!(
            "Hostname \"{}\"
FQDNLookup false
BaseDir \"{d}\"
PIDFile \"{d}/collectd.pid\"
TypesDB \"/usr/share/collectd/types.db\"
Interval 10
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File \"{d}/collectd.log\"
  Timestamp true
</Plugin>
LoadPlugin load
LoadPlugin unixsock
<Plugin unixsock>
  SocketFile \"{}\"
  SocketPerms \"0600\"
</Plugin>
",
            Self::HOST,
            socket.display()
        );
        let config_path = dir.path().join("collectd.conf");
        std::fs::write(&config_path, config).unwrap();
        let mut command = Command::new(binary);
        command.arg("-f").arg("-C").arg(&config_path);
        let mut process = Process::spawn("collectd", dir, command, &["collectd.log"], Stop::Term);
        // Ready once the load plugin has dispatched its first value (at start).
        let load = format!("{}/load/load\n", Self::HOST);
        process.wait_ready(|| {
            probe(&socket, b"LISTVAL\n", &framing::collectd)
                .is_some_and(|r| contains(&r, load.as_bytes()))
        });
        Some(Collectd { socket, process })
    }

    /// Dispatches `count` gauge values `HOST/bulk-NNNNN/gauge-value` that stay an hour; the
    /// large-reply recipe is then `LISTVAL`. Replies are read while the commands are sent: a
    /// client that writes them all first deadlocks with collectd once both socket buffers are
    /// full.
    pub fn put_values(&self, count: usize) {
        let mut raw = Raw::to(&self.socket);
        let writer = raw.stream.try_clone().unwrap();
        let host = Self::HOST;
        let sender = std::thread::spawn(move || {
            let mut writer = std::io::BufWriter::new(writer);
            for i in 0..count {
                writeln!(
                    writer,
                    "PUTVAL {host}/bulk-{i:05}/gauge-value interval=3600 N:{i}"
                )
                .unwrap();
            }
            writer.flush().unwrap();
        });
        for _ in 0..count {
            let reply = raw.read(&framing::collectd);
            assert!(reply.starts_with(b"0 Success"), "{}", shown(&reply));
        }
        sender.join().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------

/// uWSGI 2.0 (Debian's `uwsgi-core`, no plugin: `uwsgi --master --processes 1 --die-on-term
/// --socket DIR/app.sock --stats DIR/stats.sock`): a master and one worker that serve no app
/// (no request plugin is loaded, which uwsgi warns about), for the stats server.
///
/// - On connect the stats server writes one JSON object (pretty-printed with tabs, no newline
///   after the final `}`) and closes: the reply ends at EOF. It never reads.
/// - A client that writes first gets EPIPE (or nothing, if the write lands before the close);
///   the JSON is still there to read.
/// - No commands, no errors, no auth.
/// - Size: 1.1 KB with one worker; it grows with workers and threads (`--processes 4
///   --threads 100`: 100 KB).
/// - Stopping: SIGTERM (with `--die-on-term`) and SIGINT take a second; SIGQUIT is a graceful
///   reload, not a stop. The drop uses SIGKILL: the worker dies with its master.
pub struct Uwsgi {
    pub stats: PathBuf,
    /// The (idle) uwsgi-protocol socket of the app.
    pub app: PathBuf,
    pub process: Process,
}

impl Uwsgi {
    pub fn start() -> Option<Uwsgi> {
        Self::start_with(1, 1)
    }

    pub fn start_with(processes: u32, threads: u32) -> Option<Uwsgi> {
        let binary = find("uwsgi", "uwsgi-core")?;
        let dir = temp_dir("sockctl-uwsgi");
        let stats = dir.path().join("stats.sock");
        let app = dir.path().join("app.sock");
        let mut command = Command::new(binary);
        command
            .args(["--master", "--die-on-term", "--processes"])
            .arg(processes.to_string())
            .arg("--threads")
            .arg(threads.to_string())
            .arg("--socket")
            .arg(&app)
            .arg("--stats")
            .arg(&stats)
            .arg("--pidfile")
            .arg(dir.path().join("uwsgi.pid"));
        let mut process = Process::spawn("uwsgi", dir, command, &[], Stop::Kill);
        process.wait_ready(|| {
            Raw::connect(&stats)
                .and_then(|mut raw| raw.try_read_to_end())
                .is_ok_and(|r| r.ends_with(b"}") && contains(&r, b"\"workers\""))
        });
        Some(Uwsgi {
            stats,
            app,
            process,
        })
    }

    /// The stats JSON: connect, send nothing, read to EOF.
    pub fn stats(&self) -> serde_json::Value {
        let reply = Raw::to(&self.stats).read_to_end();
        serde_json::from_slice(&reply).unwrap_or_else(|e| panic!("{e}: {}", shown(&reply)))
    }
}

// ---------------------------------------------------------------------------------------------

/// Dovecot 2.3 (`dovecot -F -c DIR/dovecot.conf`) with `protocols = none`, `ssl = no`,
/// `base_dir = DIR/run`, `state_dir = DIR/state`, a unique `instance_name`, its log in
/// `DIR/dovecot.log`, and `service doveadm { unix_listener doveadm-server { mode = 0600 } }`:
/// the socket is `DIR/run/doveadm-server`. As root it uses Debian's `dovecot` and `dovenull`
/// users (made by the package); as another user the starter makes that user Dovecot's
/// internal and login user (not tried).
///
/// - Handshake: the client sends `VERSION\tdoveadm-server\t1\t2\n` first; the server answers
///   `VERSION\tdoveadm-client\t1\t2\n+\n` (`+` means no auth needed: none on a Unix socket).
///   With minor version 0 (`…\t1\t0\n`) it answers only `+\n` and speaks the old, unframed
///   protocol. A command without the handshake, or major version 2, gets EOF and 0 bytes
///   (the log says "doveadm client not compatible with this server").
/// - Commands: `FLAGS\tUSER\tCOMMAND\tARG…\n`, tab-separated; flags and user may be empty:
///   `\t\twho\n`, `\t\tprocess\tstatus\n`, `\t\tfs\tget\tposix\t\t/path\n`. Several per
///   connection; the connection stays open.
/// - Replies (protocol 1.1+) are multiplexed: packets of a channel byte (0 output, `L` log),
///   a 4-byte big-endian length and the data. The output is fields, each ended by a tab,
///   escaped (0x01 then `1`, `t`, `n`, `r` for 0x01, tab, LF, CR), then `\n` and a result
///   line: `+\n` success, `-\n` failure, `-CODE\n` (`-TEMPFAIL`, `-NOUSER`…). E.g. `who` with
///   no one logged in: `\0\0\0\0\x03\n+\n`; `bogus`: `L\0\0\0\x36\x04doveadm: doveadm:
///   Client sent unknown command: bogus\n` then `\0\0\0\0\x03\n-\n`.
/// - Out of order: on a connection that stays open, the last piece of a table's output
///   (`process status`, `service status`: one row per process or service) came AFTER the
///   `\n+\n` result packet in 2 of 3 tries, before the next command's reply: the result line
///   does not reliably end such a reply. Half-closed, 30 of 30 `service status` came whole
///   and in order, result last.
/// - Half-close: doveadm-server reads the next command as soon as one is done and, on EOF,
///   closes the connection with what its socket had no room for unsent. A half-close sent
///   with the command cut a 3 MB `fs get` (under load, when the reader was the slower); sent
///   once the result line came, nothing was lost.
/// - Large reply: `fs get posix "" FILE` sends a file's content (about 1% more after
///   escaping), e.g. a file written in the temp dir.
/// - Stopping: SIGTERM takes a second; the drop uses SIGKILL, after which its children exit.
pub struct Dovecot {
    pub socket: PathBuf,
    pub process: Process,
}

/// The doveadm-server handshake line.
pub const DOVEADM_HELLO: &[u8] = b"VERSION\tdoveadm-server\t1\t2\n";

impl Dovecot {
    pub fn start() -> Option<Dovecot> {
        let binary = find("dovecot", "dovecot-core")?;
        let dir = temp_dir("sockctl-dovecot");
        let run = dir.path().join("run");
        std::fs::create_dir(&run).unwrap();
        std::fs::create_dir(dir.path().join("state")).unwrap();
        let d = dir.path().display();
        let instance = dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let mut config = format!(
            "instance_name = {instance}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = none
ssl = no
service doveadm {{
  unix_listener doveadm-server {{
    mode = 0600
  }}
}}
"
        );
        if !is_root() {
            let user = std::env::var("USER").unwrap_or_default();
            config.push_str(&format!(
                "default_internal_user = {user}\ndefault_login_user = {user}\n"
            ));
        }
        let config_path = dir.path().join("dovecot.conf");
        std::fs::write(&config_path, config).unwrap();
        let socket = run.join("doveadm-server");
        let mut command = Command::new(binary);
        command.arg("-F").arg("-c").arg(&config_path);
        let mut process = Process::spawn("dovecot", dir, command, &["dovecot.log"], Stop::Kill);
        process.wait_ready(|| {
            let Ok(raw) = Raw::connect(&socket) else {
                return false;
            };
            let mut raw = raw.with_timeout(Duration::from_secs(2));
            raw.stream.write_all(DOVEADM_HELLO).is_ok()
                && raw.try_read(&framing::through(b"\n+\n")).is_ok()
                && raw.stream.write_all(b"\t\twho\n").is_ok()
                && raw
                    .try_read(&framing::doveadm)
                    .is_ok_and(|r| r.ends_with(b"\n+\n"))
        });
        Some(Dovecot { socket, process })
    }

    /// A connection past the handshake.
    pub fn connect(&self) -> Raw {
        let mut raw = Raw::to(&self.socket);
        raw.send(DOVEADM_HELLO);
        let reply = raw.read(&framing::through(b"\n+\n"));
        assert_eq!(reply, b"VERSION\tdoveadm-client\t1\t2\n+\n");
        raw
    }
}
