//! A fake server on a Unix, abstract or TCP socket that records exactly what each client sent,
//! notes whether the client half-closed, and can misbehave in the ways real servers do.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::fixture;

/// Computes the reply from the command received.
pub type Responder = Arc<dyn Fn(&[u8]) -> Reply + Send + Sync>;

/// How a responder answers one command.
pub enum Reply {
    /// These bytes, then close.
    Bytes(Vec<u8>),
    /// These bytes, then a slow drip of more, one byte each `every`.
    Then {
        now: Vec<u8>,
        drip: Vec<u8>,
        every: Duration,
    },
    /// Close without a byte.
    Close,
}

#[derive(Clone)]
pub enum Behavior {
    /// Read the command until the client half-closes, answer, close.
    Reply(Vec<u8>),
    /// Answer, then keep the connection open.
    ReplyNoClose(Vec<u8>),
    /// Read the command, never answer, never close.
    Silent,
    /// Answer one byte at a time with a pause before each.
    Drip { reply: Vec<u8>, every: Duration },
    /// Answer part of a reply, then reset the connection.
    ResetMidReply(Vec<u8>),
    /// Close as soon as the connection is accepted, before reading anything.
    CloseBeforeRead,
    /// Answer with this many bytes of a repeating pattern.
    Flood(u64),
    /// An HAProxy stats socket (or with `master`, a master CLI) that answers `show proc` on a
    /// connection of its own (the probe), `prompt p` and `set severity-output number` as
    /// HAProxy does, then floods in answer to any other command: `flood` bytes of lines that
    /// hold no prompt (`None`: until the client goes away), followed in prompt mode by the
    /// prompt.
    HaproxyThenFlood { master: bool, flood: Option<u64> },
    /// The n-th connection behaves like the n-th entry (the last one repeats).
    Sequence(Vec<Behavior>),
    /// The reply depends on the command: a scripted peer such as a fake master CLI.
    Respond(Responder),
    /// A line-oriented server: send `greeting`, then answer each line (without its `\n`) as
    /// `answer` says, until it says to close or the client closes.
    Interactive {
        greeting: Vec<u8>,
        answer: fn(&[u8]) -> Answer,
    },
    /// Dovecot's doveadm-server when the client reads slower than it writes: after the
    /// handshake, each command gets the first half of `reply`; if the client half-closed by
    /// then, the connection closes with the rest unsent, as doveadm-server does on reading EOF
    /// with its socket full; otherwise the rest follows.
    Doveadm { reply: Vec<u8> },
    /// An HAProxy CLI in miniature: `answer` gives the non-interactive reply of one command,
    /// and whether to close the connection after it. A line is split at each `;` into
    /// commands; after `prompt p` every command's reply is followed by `> `, and without it
    /// the connection closes after the first line. Replies go out in pieces of the sizes in `cuts` (in turn),
    /// so that the client reads them in chunks.
    Cli { answer: CliAnswer, cuts: Vec<usize> },
    /// A stats socket of HAProxy 3.x with the servers of [`haproxy_3`].
    Haproxy3(Arc<Mutex<Vec<Server3>>>),
}

impl Behavior {
    /// A line-oriented server that sends no greeting: [`Behavior::Interactive`].
    pub fn lines(answer: fn(&[u8]) -> Answer) -> Behavior {
        Behavior::Interactive {
            greeting: Vec::new(),
            answer,
        }
    }
}

/// The reply of a [`Behavior::Cli`] to one command.
pub type CliAnswer = Arc<dyn Fn(&[u8]) -> Answer + Send + Sync>;

/// What an interactive fake does with one line.
#[derive(Clone, Debug)]
pub enum Answer {
    Reply(Vec<u8>),
    ReplyAndClose(Vec<u8>),
    /// `now`, then `rest` unless the client half-closed meanwhile (seen within the read
    /// timeout): then the connection closes with `rest` unsent.
    ReplyUnlessClosed {
        now: Vec<u8>,
        rest: Vec<u8>,
    },
    Close,
}

/// What one client connection delivered.
#[derive(Clone, Debug, Default)]
pub struct Received {
    pub bytes: Vec<u8>,
    pub half_closed: bool,
}

pub struct FakeServer {
    address: String,
    pub path: Option<PathBuf>,
    log: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
    wake: Box<dyn Fn() + Send>,
    /// The directory of [`FakeServer::in_temp_dir`]; removed after the server stopped (fields
    /// drop after `Drop::drop`), since stopping connects to the socket file.
    dir: Option<tempfile::TempDir>,
}

/// What the fake listens on.
enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl FakeServer {
    pub fn unix(path: PathBuf, behavior: Behavior) -> FakeServer {
        let listener = UnixListener::bind(&path).unwrap();
        let wake_path = path.clone();
        Self::serve(
            Listener::Unix(listener),
            path.display().to_string(),
            Some(path),
            behavior,
            Box::new(move || drop(UnixStream::connect(&wake_path))),
        )
    }

    /// Listens on `name` in a temp dir of its own, which lasts as long as the server.
    pub fn in_temp_dir(name: &str, behavior: Behavior) -> FakeServer {
        let dir = tempfile::tempdir().unwrap();
        let mut server = Self::unix(dir.path().join(name), behavior);
        server.dir = Some(dir);
        server
    }

    /// The temp dir of [`FakeServer::in_temp_dir`], for files that go with the server.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("not in a temp dir").path()
    }

    /// Listens at a path of any length, binding through the directory's /proc/self/fd alias
    /// when the path does not fit in `sun_path`.
    pub fn unix_long(path: PathBuf, behavior: Behavior) -> FakeServer {
        let dir = std::fs::File::open(path.parent().unwrap()).unwrap();
        let alias = format!(
            "/proc/self/fd/{}/{}",
            dir.as_raw_fd(),
            path.file_name().unwrap().to_str().unwrap()
        );
        let listener = UnixListener::bind(&alias).unwrap();
        drop(dir);
        let mut server = Self::serve(
            Listener::Unix(listener),
            path.display().to_string(),
            Some(path.clone()),
            behavior,
            Box::new(|| {}),
        );
        // Waking the acceptor needs the same trick; do it from the path's directory handle.
        let wake_dir = std::fs::File::open(path.parent().unwrap()).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        server.wake = Box::new(move || {
            let alias = format!("/proc/self/fd/{}/{}", wake_dir.as_raw_fd(), name);
            drop(UnixStream::connect(alias));
        });
        server
    }

    /// Bound the way HAProxy binds `abns@NAME`: the name NUL-padded to fill `sun_path`.
    pub fn abstract_padded(name: &str, behavior: Behavior) -> FakeServer {
        let mut padded = name.as_bytes().to_vec();
        padded.resize(107, 0);
        let mut server = Self::abstract_name_bytes(&padded, behavior);
        server.address = format!("abns@{name}");
        server
    }

    pub fn abstract_name(name: &str, behavior: Behavior) -> FakeServer {
        let mut server = Self::abstract_name_bytes(name.as_bytes(), behavior);
        server.address = format!("@{name}");
        server
    }

    fn abstract_name_bytes(name: &[u8], behavior: Behavior) -> FakeServer {
        let addr = SocketAddr::from_abstract_name(name).unwrap();
        let listener = UnixListener::bind_addr(&addr).unwrap();
        Self::serve(
            Listener::Unix(listener),
            String::new(),
            None,
            behavior,
            Box::new(move || drop(UnixStream::connect_addr(&addr))),
        )
    }

    pub fn tcp(behavior: Behavior) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        Self::serve(
            Listener::Tcp(listener),
            addr.to_string(),
            None,
            behavior,
            Box::new(move || drop(TcpStream::connect(addr))),
        )
    }

    fn serve(
        listener: Listener,
        address: String,
        path: Option<PathBuf>,
        behavior: Behavior,
        wake: Box<dyn Fn() + Send>,
    ) -> FakeServer {
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicU64::new(0));
        let thread = {
            let (log, stop, accepted) = (log.clone(), stop.clone(), accepted.clone());
            std::thread::spawn(move || {
                let mut held = Vec::new();
                loop {
                    let conn = match &listener {
                        Listener::Unix(l) => l.accept().map(|(s, _)| Conn::Unix(s)),
                        Listener::Tcp(l) => l.accept().map(|(s, _)| Conn::Tcp(s)),
                    };
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let n = accepted.fetch_add(1, Ordering::SeqCst) as usize;
                    let behavior = match &behavior {
                        Behavior::Sequence(list) => list[n.min(list.len() - 1)].clone(),
                        other => other.clone(),
                    };
                    let (log, stop) = (log.clone(), stop.clone());
                    held.push(std::thread::spawn(move || {
                        handle(conn, behavior, log, stop)
                    }));
                }
            })
        };
        FakeServer {
            address,
            path,
            log,
            stop,
            accepted,
            thread: Some(thread),
            wake,
            dir: None,
        }
    }

    /// The address as a user would type it.
    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// What every connection accepted so far delivered, once each has ended (a client that
    /// exited has closed its connections, but the server may not have seen it yet).
    pub fn received_when_closed(&self) -> Vec<Received> {
        super::wait_for(|| self.received().len() as u64 >= self.connections());
        self.received()
    }

    pub fn connections(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        (self.wake)();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(buf),
            Conn::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(buf),
            Conn::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Conn {
    fn set_read_timeout(&self, t: Duration) {
        let _ = match self {
            Conn::Unix(s) => s.set_read_timeout(Some(t)),
            Conn::Tcp(s) => s.set_read_timeout(Some(t)),
        };
    }

    fn shutdown(&self) {
        let _ = match self {
            Conn::Unix(s) => s.shutdown(std::net::Shutdown::Both),
            Conn::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }

    /// Closes so that the client sees a reset: unread input for Unix sockets, a zero linger
    /// for TCP.
    fn reset(self) {
        if let Conn::Tcp(s) = &self {
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: plain setsockopt on an open socket with a correctly sized value.
            unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
        }
        drop(self);
    }
}

/// A master CLI that answers like HAProxy 3.4 (recorded bytes): errors keep the connection,
/// `reload` reports its status, then closes.
pub fn master_3_4(line: &[u8]) -> Answer {
    let fixture = |name: &str| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/prompt/3.4")
            .join(name);
        std::fs::read(path).unwrap()
    };
    match line {
        b"prompt p" => Answer::Reply(b"master> ".to_vec()),
        b"show proc" => Answer::Reply(fixture("prompt_master/02.rep")),
        b"@9 show info" => Answer::Reply(fixture("prompt_master_errors/02.rep")),
        b"reload" => Answer::ReplyAndClose(fixture("dr_16_master_prompt_reload/02.rep")),
        // A failed reload, told apart here by its spelling.
        b"@master reload" => {
            Answer::ReplyAndClose(b"Success=0\n--\n[ALERT] bad config\n\n".to_vec())
        }
        _ => Answer::Close,
    }
}

/// A 2.6 master's `show proc`.
pub const SHOW_PROC: &[u8] =
    b"#<PID>          <type>          <reloads>       <uptime>        <version>\n\
1               master          0 [failed: 0]   0d00h00m01s     2.6.12\n\
# workers\n\
2               worker          0               0d00h00m01s     2.6.12\n\
# old workers\n\
# programs\n\
\n";

fn haproxy_then_flood(mut conn: Conn, master: bool, flood: Option<u64>, stop: &AtomicBool) {
    let prompt: &[u8] = if master { b"master> " } else { b"> " };
    let line: Vec<u8> = b"flood "
        .repeat(10)
        .into_iter()
        .chain(*b"flood\n")
        .collect();
    let chunk = line.repeat(65536 / line.len());
    let mut prompt_mode = false;
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Some(end) = pending.iter().position(|&b| b == b'\n') else {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
            continue;
        };
        let command: Vec<u8> = pending.drain(..=end).collect();
        let command = String::from_utf8_lossy(&command).trim().to_string();
        let answer: &[u8] = match command.as_str() {
            "prompt p" => {
                prompt_mode = true;
                b"\n"
            }
            "show proc" if !prompt_mode => {
                let _ = conn.write_all(if master {
                    SHOW_PROC
                } else {
                    b"Unknown command.\n"
                });
                return;
            }
            "set severity-output number" => b"\n",
            _ => {
                // The empty answer of `set severity-output number` first, as HAProxy gives it.
                if command.starts_with("set severity-output number;")
                    && conn.write_all(b"\n").is_err()
                {
                    return;
                }
                let mut left = flood.unwrap_or(u64::MAX);
                while left > 0 && !stop.load(Ordering::SeqCst) {
                    let n = left.min(chunk.len() as u64) as usize;
                    if conn.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    left -= n as u64;
                }
                if !prompt_mode {
                    return;
                }
                b"\n"
            }
        };
        let written = if master && answer == b"\n" {
            // The master answers a silent command with its prompt alone.
            conn.write_all(prompt)
        } else if prompt_mode {
            conn.write_all(answer).and_then(|()| conn.write_all(prompt))
        } else {
            conn.write_all(answer)
        };
        if written.is_err() {
            return;
        }
    }
}

/// Reads until the client half-closes (or 5 s pass), recording what came.
fn read_command(conn: &mut Conn, log: &Mutex<Vec<Received>>) {
    conn.set_read_timeout(Duration::from_secs(5));
    let mut got = Received::default();
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => {
                got.half_closed = true;
                break;
            }
            Ok(n) => got.bytes.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    log.lock().unwrap().push(got);
}

fn hold_open(stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn handle(
    mut conn: Conn,
    behavior: Behavior,
    log: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
) {
    match behavior {
        Behavior::Reply(reply) => {
            read_command(&mut conn, &log);
            let _ = conn.write_all(&reply);
        }
        Behavior::ReplyNoClose(reply) => {
            read_command(&mut conn, &log);
            let _ = conn.write_all(&reply);
            hold_open(&stop);
        }
        Behavior::Silent => {
            read_command(&mut conn, &log);
            hold_open(&stop);
        }
        Behavior::Drip { reply, every } => {
            read_command(&mut conn, &log);
            for byte in reply {
                std::thread::sleep(every);
                if stop.load(Ordering::SeqCst) || conn.write_all(&[byte]).is_err() {
                    break;
                }
            }
        }
        Behavior::ResetMidReply(partial) => {
            // Leave the command unread so that closing resets the connection.
            std::thread::sleep(Duration::from_millis(50));
            let _ = conn.write_all(&partial);
            std::thread::sleep(Duration::from_millis(50));
            conn.reset();
        }
        Behavior::CloseBeforeRead => conn.reset(),
        Behavior::Flood(mut left) => {
            read_command(&mut conn, &log);
            let chunk: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                if conn.write_all(&chunk[..n]).is_err() {
                    break;
                }
                left -= n as u64;
            }
        }
        Behavior::HaproxyThenFlood { master, flood } => {
            haproxy_then_flood(conn, master, flood, &stop);
        }
        Behavior::Doveadm { reply } => doveadm(conn, &reply, &stop, &log),
        Behavior::Interactive { greeting, answer } => {
            if conn.write_all(&greeting).is_err() {
                return;
            }
            serve_lines(&mut conn, &stop, &log, &[], answer);
        }
        Behavior::Cli { answer, cuts } => {
            let mut prompt = false;
            serve_lines(&mut conn, &stop, &log, &cuts, |line| {
                let mut reply = Vec::new();
                for command in line.split(|&b| b == b';') {
                    let command = command.trim_ascii();
                    if command == b"prompt p" {
                        prompt = true;
                        reply.push(b'\n');
                    } else {
                        match answer(command) {
                            Answer::Reply(bytes) => reply.extend_from_slice(&bytes),
                            Answer::ReplyAndClose(bytes) => {
                                reply.extend_from_slice(&bytes);
                                if prompt {
                                    reply.extend_from_slice(b"> ");
                                }
                                return Answer::ReplyAndClose(reply);
                            }
                            Answer::Close => return Answer::ReplyAndClose(reply),
                            Answer::ReplyUnlessClosed { .. } => {
                                unreachable!("not a CLI's answer")
                            }
                        }
                    }
                    if prompt {
                        reply.extend_from_slice(b"> ");
                    }
                }
                if prompt {
                    Answer::Reply(reply)
                } else {
                    Answer::ReplyAndClose(reply)
                }
            });
        }
        Behavior::Haproxy3(servers) => haproxy_3_connection(conn, &servers, &stop, &log),
        Behavior::Sequence(_) => unreachable!("resolved per connection"),
        Behavior::Respond(responder) => {
            read_command(&mut conn, &log);
            let command = log.lock().unwrap().last().unwrap().bytes.clone();
            match responder(&command) {
                Reply::Bytes(bytes) => {
                    let _ = conn.write_all(&bytes);
                }
                Reply::Then { now, drip, every } => {
                    let _ = conn.write_all(&now);
                    for byte in drip {
                        std::thread::sleep(every);
                        if stop.load(Ordering::SeqCst) || conn.write_all(&[byte]).is_err() {
                            break;
                        }
                    }
                }
                Reply::Close => {}
            }
        }
    }
}

/// Reads lines until the client closes or `on_line` says to, writing each answer in pieces of
/// the sizes in `cuts` (all at once when empty).
fn serve_lines(
    conn: &mut Conn,
    stop: &AtomicBool,
    log: &Mutex<Vec<Received>>,
    cuts: &[usize],
    mut on_line: impl FnMut(&[u8]) -> Answer,
) {
    conn.set_read_timeout(Duration::from_millis(50));
    let mut got = Received::default();
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    let mut turn = 0;
    let mut write = |conn: &mut Conn, mut bytes: &[u8]| -> bool {
        while !bytes.is_empty() {
            let size = match cuts {
                [] => bytes.len(),
                _ => cuts[turn % cuts.len()].clamp(1, bytes.len()),
            };
            turn += 1;
            if conn.write_all(&bytes[..size]).is_err() {
                return false;
            }
            bytes = &bytes[size..];
        }
        true
    };
    'conn: while !stop.load(Ordering::SeqCst) {
        match conn.read(&mut buf) {
            Ok(0) => {
                got.half_closed = true;
                break;
            }
            Ok(n) => {
                got.bytes.extend_from_slice(&buf[..n]);
                pending.extend_from_slice(&buf[..n]);
                while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    match on_line(&line[..end]) {
                        Answer::Reply(reply) if write(conn, &reply) => {}
                        Answer::ReplyAndClose(reply) => {
                            write(conn, &reply);
                            break 'conn;
                        }
                        Answer::ReplyUnlessClosed { now, rest } if write(conn, &now) => {
                            let mut more = [0u8; 4096];
                            match conn.read(&mut more) {
                                Ok(0) => {
                                    got.half_closed = true;
                                    break 'conn;
                                }
                                Ok(n) => {
                                    got.bytes.extend_from_slice(&more[..n]);
                                    pending.extend_from_slice(&more[..n]);
                                }
                                Err(_) => {}
                            }
                            if !write(conn, &rest) {
                                break 'conn;
                            }
                        }
                        _ => break 'conn,
                    }
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    // Closed before it is logged, so that a test that saw the log knows the client sees EOF.
    conn.shutdown();
    log.lock().unwrap().push(got);
}

fn doveadm(mut conn: Conn, reply: &[u8], stop: &AtomicBool, log: &Mutex<Vec<Received>>) {
    let (now, rest) = reply.split_at(reply.len() / 2);
    let mut handshaken = false;
    serve_lines(&mut conn, stop, log, &[], |_| {
        if std::mem::replace(&mut handshaken, true) {
            // Then it reads the next command: on EOF it closes, the rest unsent.
            Answer::ReplyUnlessClosed {
                now: now.to_vec(),
                rest: rest.to_vec(),
            }
        } else {
            Answer::Reply(b"VERSION\tdoveadm-client\t1\t2\n+\n".to_vec())
        }
    });
}

/// A Unix listener whose backlog is full: connecting to it waits until the client gives up.
pub struct FullBacklog {
    pub path: PathBuf,
    _listener: OwnedFd,
    _queued: Vec<OwnedFd>,
}

impl FullBacklog {
    pub fn new(path: PathBuf) -> FullBacklog {
        use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
        let addr = SocketAddrUnix::new(&path).unwrap();
        let listener = rustix::net::socket(AddressFamily::UNIX, SocketType::STREAM, None).unwrap();
        rustix::net::bind(&listener, &addr).unwrap();
        rustix::net::listen(&listener, 0).unwrap();
        // Queue connections that are never accepted until the kernel refuses one more.
        let mut queued = Vec::new();
        loop {
            let fd = rustix::net::socket_with(
                AddressFamily::UNIX,
                SocketType::STREAM,
                SocketFlags::NONBLOCK,
                None,
            )
            .unwrap();
            match rustix::net::connect(&fd, &addr) {
                Ok(()) => queued.push(fd),
                Err(rustix::io::Errno::AGAIN) => break,
                Err(e) => panic!("filling the backlog: {e}"),
            }
            assert!(queued.len() < 1000, "backlog never filled");
        }
        FullBacklog {
            path,
            _listener: listener,
            _queued: queued,
        }
    }
}

/// A master CLI in miniature for the 2.7+/3.x reload: answers `show proc` with `before` until it
/// receives `reload`, answers that with `reload`, and `show proc` with `after` from then on;
/// anything else is an unknown command. Listens on `master.sock` in a temp dir of its own.
pub fn scripted_master([before, reload, after]: [Vec<u8>; 3]) -> FakeServer {
    FakeServer::in_temp_dir("master.sock", master_script([before, reload, after]))
}

/// The behavior of [`scripted_master`], to listen elsewhere.
pub fn master_script([before, reload, after]: [Vec<u8>; 3]) -> Behavior {
    let reloaded = AtomicBool::new(false);
    let responder = move |command: &[u8]| match command {
        b"show proc\n" if reloaded.load(Ordering::SeqCst) => Reply::Bytes(after.clone()),
        b"show proc\n" => Reply::Bytes(before.clone()),
        b"reload\n" => {
            reloaded.store(true, Ordering::SeqCst);
            Reply::Bytes(reload.clone())
        }
        _ => Reply::Bytes(b"Unknown command.\n".to_vec()),
    };
    Behavior::Respond(Arc::new(responder))
}

/// A reload of HAProxy 3.4 as recorded, for [`scripted_master`]: `show proc` before, the
/// answer to `reload`, `show proc` after. Worker 11483 is replaced by 12117.
pub fn reload_3_4_succeeded() -> [Vec<u8>; 3] {
    [
        fixture("3.4/dr_07_show_proc_before_reload.reply"),
        fixture("3.4/dr_08_master_reload.reply"),
        fixture("3.4/dr_10_show_proc_after_reload.reply"),
    ]
}

/// A reload of HAProxy 3.4 that rejected its configuration, as recorded: the failed reloads go
/// from 0 to 1, and worker 12536 still serves.
pub fn reload_3_4_rejected() -> [Vec<u8>; 3] {
    [
        fixture("3.4/bad_01_show_proc_before.reply"),
        fixture("3.4/bad_02_master_reload_badcfg.reply"),
        fixture("3.4/bad_04_show_proc_after_bad_reload.reply"),
    ]
}

/// A stats socket on `admin.sock` in a temp dir of its own: `answer` replies to the commands it
/// knows (given as sockctl sends them, without the newline), and any other gets 2.6's unknown
/// command reply, as `show proc` does (how sockctl tells a stats socket from a master).
pub fn stats_socket(answer: impl Fn(&str) -> Option<Reply> + Send + Sync + 'static) -> FakeServer {
    let responder = move |command: &[u8]| {
        let command = String::from_utf8_lossy(command);
        answer(command.strip_suffix('\n').unwrap_or(&command))
            .unwrap_or_else(|| Reply::Bytes(fixture("2.6/stats_unknown_foo.reply")))
    };
    FakeServer::in_temp_dir("admin.sock", Behavior::Respond(Arc::new(responder)))
}

/// A [`stats_socket`] whose `show servers state` is answered by `dump()`, each time.
pub fn servers_state(dump: impl Fn() -> Reply + Send + Sync + 'static) -> FakeServer {
    stats_socket(move |command| (command == "show servers state").then(&dump))
}

/// A server of [`haproxy_3`].
#[derive(Clone, Debug)]
pub struct Server3 {
    pub backend: String,
    pub name: String,
    pub attached: Attached,
    /// Other configuration elements point to it (a `track`, a `use-server`): HAProxy can
    /// never delete it.
    pub pinned: bool,
    maint: bool,
    maint_since: Option<std::time::Instant>,
}

/// How long connections stay attached to a [`Server3`] once it is in maintenance.
#[derive(Clone, Copy, Debug)]
pub enum Attached {
    /// None.
    Nothing,
    /// They end this long after the server went into maintenance.
    For(Duration),
    /// Until `shutdown sessions server` ends them.
    UntilShutdown,
}

impl Server3 {
    pub fn new(backend: &str, name: &str, attached: Attached) -> Server3 {
        Server3 {
            backend: backend.into(),
            name: name.into(),
            attached,
            pinned: false,
            maint: false,
            maint_since: None,
        }
    }

    /// `srv_check_for_deletion`'s part that may change over time: whether connections are
    /// still attached.
    fn busy(&self) -> bool {
        match (self.attached, self.maint_since) {
            (Attached::Nothing, _) => false,
            (Attached::For(d), Some(since)) => since.elapsed() < d,
            (Attached::For(_), None) | (Attached::UntilShutdown, _) => true,
        }
    }
}

/// A stats socket of HAProxy 3.x (`show info` says 3.4.0) that knows what `haproxy del` sends,
/// and answers byte for byte as HAProxy's CLI does (src/cli.c, src/server.c): `prompt p`,
/// `set severity-output number` (`[N]: ` before messages), one-shot lines that close after
/// their reply, `show servers state`, `set server B/S state maint`, `set timeout cli`,
/// `shutdown sessions server`, `del server`, and `wait <ms> srv-removable B/S`, which checks the
/// server as `del server` does until it can go (`Done.`), cannot (`Failed. <why>`) or the
/// delay ran out (`Wait delay expired. <why>`), and answers `Interrupted. <why>` as soon as the
/// client shuts its write side with nothing more to read. Anything else is an unknown command
/// (the list of suggestions is a recording's). Each connection's bytes are logged when it ends.
pub fn haproxy_3(servers: Vec<Server3>) -> (FakeServer, Arc<Mutex<Vec<Server3>>>) {
    let servers = Arc::new(Mutex::new(servers));
    let server = FakeServer::in_temp_dir("admin.sock", Behavior::Haproxy3(servers.clone()));
    (server, servers)
}

/// How a 3.x command ended, as the CLI prints it.
enum Said {
    /// Raw output (already ending with its own newline, if any).
    Output(Vec<u8>),
    /// A message at this syslog severity.
    Message(u8, String),
}

/// One connection to [`haproxy_3`].
fn haproxy_3_connection(
    mut conn: Conn,
    servers: &Mutex<Vec<Server3>>,
    stop: &AtomicBool,
    log: &Mutex<Vec<Received>>,
) {
    let mut got = Received::default();
    let mut pending = Vec::new();
    let (mut prompt, mut severity) = (false, false);
    conn.set_read_timeout(Duration::from_millis(20));
    'conn: while !stop.load(Ordering::SeqCst) {
        let Some(end) = pending.iter().position(|&b| b == b'\n') else {
            if got.half_closed {
                break;
            }
            read_more(&mut conn, &mut got, &mut pending);
            continue;
        };
        let line: Vec<u8> = pending.drain(..=end).collect();
        let line = String::from_utf8_lossy(&line[..end]).into_owned();
        let commands: Vec<&str> = line.split(';').map(str::trim).collect();
        for (i, command) in commands.iter().enumerate() {
            let said = match *command {
                "prompt p" | "prompt" => {
                    prompt = true;
                    Said::Output(Vec::new())
                }
                "set severity-output number" => {
                    severity = true;
                    Said::Output(Vec::new())
                }
                _ if command.starts_with("wait ") => {
                    wait_3(command, servers, &mut conn, &mut got, &mut pending)
                }
                _ => command_3(command, servers),
            };
            let mut reply = match said {
                Said::Output(bytes) => bytes,
                Said::Message(level, text) => {
                    let tag = if severity {
                        format!("[{level}]: ")
                    } else {
                        String::new()
                    };
                    format!("{tag}{}\n", text.trim_end_matches('\n')).into_bytes()
                }
            };
            // The post-command prompt: LF alone between pipelined commands and without prompt
            // mode, LF and `> ` after a line's last command in prompt mode.
            let last = i == commands.len() - 1;
            reply.extend_from_slice(if prompt && last { b"\n> " } else { b"\n" });
            if conn.write_all(&reply).is_err() {
                break 'conn;
            }
        }
        if !prompt {
            // Not interactive: the first line is the only one.
            break;
        }
    }
    conn.shutdown();
    log.lock().unwrap().push(got);
}

/// Reads what the client sent next, noting a half-close.
fn read_more(conn: &mut Conn, got: &mut Received, pending: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    match conn.read(&mut buf) {
        Ok(0) => got.half_closed = true,
        Ok(n) => {
            got.bytes.extend_from_slice(&buf[..n]);
            pending.extend_from_slice(&buf[..n]);
        }
        Err(e)
            if e.kind() == std::io::ErrorKind::WouldBlock
                || e.kind() == std::io::ErrorKind::TimedOut => {}
        Err(_) => got.half_closed = true,
    }
}

/// `srv_check_for_deletion`: `Ok(())` when the server can go, else whether that may change
/// (`Err((true, why))`) or not.
fn removable(servers: &[Server3], target: &str) -> Result<(), (bool, &'static str)> {
    let (backend, name) = target.split_once('/').unwrap_or((target, ""));
    if !servers.iter().any(|s| s.backend == backend) {
        return Err((false, "No such backend."));
    }
    let Some(server) = servers
        .iter()
        .find(|s| s.backend == backend && s.name == name)
    else {
        return Err((false, "No such server."));
    };
    if server.pinned {
        return Err((
            false,
            "This server cannot be removed at runtime due to other configuration elements \
             pointing to it.",
        ));
    }
    if !server.maint {
        return Err((false, "Only servers in maintenance mode can be deleted."));
    }
    if server.busy() {
        return Err((
            true,
            "Server still has connections attached to it, cannot remove it.",
        ));
    }
    Ok(())
}

/// What HAProxy 3.x answers a `wait` with a condition it does not know.
const WAIT_USAGE: &str = "Usage: wait {-h|<duration>} [condition [args...]]\n\
    \x20 - '-h' displays this help\n\
    \x20 - <duration> is the maximum wait time, optionally suffixed by the unit among\n\
    \x20   'us', 'ms', 's', 'm', 'h', and 'd'. ; the default unit is milliseconds.\n\
    \x20 - <condition> indicates what to wait for, no longer than the specified\n\
    \x20   duration. Supported conditions are:\n\
    \x20   - <none> : by default, just sleep for the specified duration.\n\
    \x20   - srv-removable <px>/<sv> : wait for this server to become removable.\n";

/// `wait <ms> srv-removable B/S` as `cli_parse_wait`, `cli_io_handler_wait` and
/// `cli_release_wait` do it: the condition is checked at once, then again after pauses growing
/// by half the time elapsed, at most a tenth of the delay; a shut write side with nothing left
/// to read interrupts it.
fn wait_3(
    command: &str,
    servers: &Mutex<Vec<Server3>>,
    conn: &mut Conn,
    got: &mut Received,
    pending: &mut Vec<u8>,
) -> Said {
    let args: Vec<&str> = command.split_whitespace().collect();
    let Some(total) = args
        .get(1)
        .and_then(|a| a.parse::<u64>().ok())
        .filter(|&ms| ms >= 1)
    else {
        return Said::Message(3, "Invalid duration.\n".into());
    };
    if args.get(2) != Some(&"srv-removable") {
        // Only this condition is known here.
        return Said::Message(3, WAIT_USAGE.into());
    }
    let Some(target) = args.get(3).filter(|t| t.contains('/')) else {
        return Said::Message(3, "Require 'backend/server'.\n".into());
    };
    let start = std::time::Instant::now();
    let total = Duration::from_millis(total);
    loop {
        let why = match removable(&servers.lock().unwrap(), target) {
            Ok(()) => return Said::Message(6, "Done.\n".into()),
            Err((false, why)) => return Said::Message(3, format!("Failed. {why}\n")),
            Err((true, why)) => why,
        };
        let elapsed = start.elapsed();
        let Some(left) = total.checked_sub(elapsed).filter(|l| !l.is_zero()) else {
            return Said::Message(3, format!("Wait delay expired. {why}\n"));
        };
        let pause = (elapsed / 2 + Duration::from_millis(1))
            .min(left)
            .min(total / 10)
            .max(Duration::from_millis(1));
        let wake = std::time::Instant::now() + pause;
        while std::time::Instant::now() < wake {
            if got.half_closed && pending.is_empty() {
                return Said::Message(3, format!("Interrupted. {why}\n"));
            }
            if !got.half_closed {
                conn.set_read_timeout(
                    wake.saturating_duration_since(std::time::Instant::now())
                        .max(Duration::from_millis(1)),
                );
                read_more(conn, got, pending);
            } else {
                std::thread::sleep(wake.saturating_duration_since(std::time::Instant::now()));
            }
        }
        conn.set_read_timeout(Duration::from_millis(20));
    }
}

/// The other commands of [`haproxy_3`].
fn command_3(command: &str, servers: &Mutex<Vec<Server3>>) -> Said {
    let mut servers = servers.lock().unwrap();
    let words: Vec<&str> = command.split_whitespace().collect();
    let find = |servers: &mut Vec<Server3>, target: &str| {
        let (backend, name) = target.split_once('/')?;
        servers
            .iter()
            .position(|s| s.backend == backend && s.name == name)
    };
    match words.as_slice() {
        ["show", "info"] => {
            let mut info = fixture("3.4/stats_show_info.reply");
            // Without the post-command LF, which the CLI adds.
            info.pop();
            Said::Output(info)
        }
        ["show", "servers", "state"] => {
            let mut dump = fixture("3.4/stats_show_servers_state.reply");
            let header_end = dump.iter().position(|&b| b == b'\n').unwrap() + 1;
            let header_end =
                header_end + dump[header_end..].iter().position(|&b| b == b'\n').unwrap() + 1;
            dump.truncate(header_end);
            let mut ids: Vec<&str> = Vec::new();
            for (i, s) in servers.iter().enumerate() {
                if !ids.contains(&s.backend.as_str()) {
                    ids.push(&s.backend);
                }
                let be_id = ids.iter().position(|b| *b == s.backend).unwrap() + 3;
                let admin = u8::from(s.maint);
                dump.extend_from_slice(
                    format!(
                        "{be_id} {} {} {} 127.0.0.1 2 {admin} 1 1 5 1 0 0 0 0 0 0 - {} - 0 0 - - 0\n",
                        s.backend,
                        i + 1,
                        s.name,
                        19340 + i
                    )
                    .as_bytes(),
                );
            }
            Said::Output(dump)
        }
        ["set", "server", target, "state", "maint"] => match find(&mut servers, target) {
            Some(i) => {
                let server = &mut servers[i];
                if !server.maint {
                    server.maint = true;
                    server.maint_since = Some(std::time::Instant::now());
                }
                Said::Output(Vec::new())
            }
            None => Said::Message(3, "No such server.\n".into()),
        },
        ["set", "timeout", "cli", secs] => match secs.parse::<u64>() {
            Ok(n) if n >= 1 => Said::Output(Vec::new()),
            _ => Said::Message(3, "Invalid timeout value.\n".into()),
        },
        ["shutdown", "sessions", "server", target] => match find(&mut servers, target) {
            Some(i) => {
                servers[i].attached = Attached::Nothing;
                Said::Output(Vec::new())
            }
            None => Said::Message(3, "No such server.\n".into()),
        },
        ["del", "server", target] => match removable(&servers, target) {
            Ok(()) => {
                let i = find(&mut servers, target).unwrap();
                servers.remove(i);
                Said::Message(6, "Server deleted.\n".into())
            }
            Err((_, why)) => Said::Message(3, why.into()),
        },
        _ => {
            let recorded = fixture("3.4/stats_unknown_foo.reply");
            let text = String::from_utf8_lossy(&recorded);
            let first = words.first().copied().unwrap_or_default();
            let text = text.replacen("'foo'", &format!("'{first}'"), 1);
            // At info severity, as HAProxy gives its usage message.
            Said::Message(6, text.trim_end_matches('\n').to_string())
        }
    }
}
