//! The local end of an `ssh://` address: an ssh child running the remote relay, made into a
//! [`Stream`].
//!
//! The caller gets one end of a Unix socket pair, so every read, write, half-close and poll
//! it already does works unchanged, deadlines included. A thread moves bytes between the
//! other end and ssh: the caller's bytes go to ssh's standard input as they are (the caller's
//! half-close closes it, which the relay turns into its own half-close), and the relay's
//! records come back decoded. How the remote socket ended is kept in [`Link`]: the pair
//! itself can only say EOF, and the stream asks the link what that EOF was (a reset, a read
//! error, ssh lost) before it reports one.
//!
//! Dropping the last handle on the stream kills ssh and reaps it: a timeout leaves no child.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, Shutdown, SocketFlags, SocketType};

use super::wire::{self, Corrupt, Decoder, End, Item};
use super::{Options, RELAY_SUBCOMMAND, SshError, Target, quote, relay_argument};
use crate::address::Address;
use crate::connect::ConnectError;
use crate::interrupt;
use crate::stream::{IoFailure, POLL_SLICE, Peer, Stream};

/// How much of ssh's standard error is kept for messages.
const STDERR_KEPT: usize = 4096;

/// How long ssh is given, once its output has ended, to exit and say why.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// The ssh child behind a stream, and how the remote socket's side ended.
#[derive(Debug)]
pub(crate) struct Link {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct Shared {
    child: Mutex<Child>,
    ended: Mutex<Option<Ended>>,
    stop: AtomicBool,
    target: String,
}

#[derive(Debug, Clone)]
enum Ended {
    /// The relay said how the socket ended.
    Remote(End),
    /// ssh ended first: the connection to the host was lost, or the relay died.
    Lost(String),
}

impl Link {
    /// What the EOF the caller has just read stands for: `None` for the server's clean EOF.
    pub(crate) fn failure_at_eof(&self) -> Option<IoFailure> {
        let ended = self.shared.ended.lock().expect("not poisoned").clone();
        match ended {
            Some(Ended::Remote(End::Clean)) => None,
            Some(Ended::Remote(End::Reset(errno))) => {
                Some(IoFailure::Reset(Errno::from_raw_os_error(errno)))
            }
            Some(Ended::Remote(End::Failed(errno))) => {
                Some(IoFailure::Other(io::Error::from_raw_os_error(errno)))
            }
            Some(Ended::Lost(why)) => Some(IoFailure::Other(io::Error::other(why))),
            None => Some(IoFailure::Other(io::Error::other(format!(
                "the relay on {} ended without saying how",
                self.shared.target
            )))),
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        {
            let mut child = self.shared.child.lock().expect("not poisoned");
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(thread) = self.thread.lock().expect("not poisoned").take() {
            let _ = thread.join();
        }
    }
}

/// Runs ssh to `target` with the relay for `remote`, within `timeout` for everything up to
/// the remote connect's outcome.
pub(crate) fn connect(
    target: &Target,
    remote: &Address,
    timeout: Option<Duration>,
) -> Result<Stream, ConnectError> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let options = Options::from_env().map_err(ConnectError::Ssh)?;
    let shown = format!("ssh://{target}");
    let (mut child, to_ssh, from_ssh, errors) = spawn(&options, target, remote, timeout)?;
    let mut stderr = Tail::default();
    let mut decoder = Decoder::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut stdout_open = true;
    let mut stderr_open = true;
    let mut version = None;
    let fail = |child: &mut Child, e: ConnectError| {
        let _ = child.kill();
        let _ = child.wait();
        Err(e)
    };
    let peer = loop {
        // Whole items first: a header and a record may have come in one read.
        match decoder.next_item() {
            Ok(Some(Item::Header(v))) => {
                version = Some(v);
                if v != wire::VERSION {
                    let e = SshError::Version {
                        target: target.to_string(),
                        remote: v,
                    };
                    return fail(&mut child, ConnectError::Ssh(e));
                }
                continue;
            }
            Ok(Some(Item::Record(wire::CONNECTED, peer))) => {
                break String::from_utf8_lossy(&peer).into_owned();
            }
            Ok(Some(Item::Record(wire::CONNECT_FAILED, payload))) => {
                let e =
                    wire::parse_connect_error(&payload).unwrap_or_else(|| ConnectError::Other {
                        peer: shown.clone(),
                        source: io::Error::other("the relay's connect error does not parse"),
                    });
                return fail(&mut child, e);
            }
            Ok(Some(Item::Record(kind, _))) => {
                let e = ConnectError::Other {
                    peer: shown.clone(),
                    source: io::Error::other(format!(
                        "the relay sent a '{}' record before connecting",
                        kind.escape_ascii()
                    )),
                };
                return fail(&mut child, e);
            }
            Ok(None) => {}
            Err(Corrupt::NotRelay(output)) => {
                let e = SshError::NotRelay {
                    target: target.to_string(),
                    output,
                };
                return fail(&mut child, ConnectError::Ssh(e));
            }
            Err(Corrupt::TooLong(n)) => {
                let e = ConnectError::Other {
                    peer: shown.clone(),
                    source: io::Error::other(format!("the relay announced a {n}-byte record")),
                };
                return fail(&mut child, e);
            }
        }
        if !stdout_open {
            // ssh ended before the relay said anything: ssh's own failure, or the remote
            // program's. Its standard error and exit status say which.
            let status = finish(&mut child, &errors, &mut stderr, stderr_open, deadline);
            let Some(status) = status else {
                return Err(ConnectError::Ssh(SshError::TimedOut {
                    target: target.to_string(),
                    after: timeout.unwrap_or_default(),
                    said: stderr.last_line(),
                }));
            };
            return Err(ConnectError::Ssh(classify(
                target, &options, status, &stderr, version,
            )));
        }
        let mut fds = vec![PollFd::from_borrowed_fd(from_ssh.as_fd(), PollFlags::IN)];
        if stderr_open {
            fds.push(PollFd::from_borrowed_fd(errors.as_fd(), PollFlags::IN));
        }
        if interrupt::requested() {
            return fail(&mut child, ConnectError::Interrupted);
        }
        let left = match deadline {
            None => POLL_SLICE,
            Some(d) => d.saturating_duration_since(Instant::now()).min(POLL_SLICE),
        };
        if left.is_zero() {
            if stderr_open {
                stderr.read_from(&errors);
            }
            let e = SshError::TimedOut {
                target: target.to_string(),
                after: timeout.unwrap_or_default(),
                said: stderr.last_line(),
            };
            return fail(&mut child, ConnectError::Ssh(e));
        }
        match poll(&mut fds, Some(&Timespec::try_from(left).expect("small"))) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return fail(&mut child, ssh_io(&shown, e.into())),
        }
        match rustix::io::read(&from_ssh, &mut buf[..]) {
            Ok(0) => stdout_open = false,
            Ok(n) => decoder.feed(&buf[..n]),
            Err(Errno::AGAIN | Errno::INTR) => {}
            Err(e) => return fail(&mut child, ssh_io(&shown, e.into())),
        }
        if stderr_open {
            stderr_open = stderr.read_from(&errors);
        }
    };

    let (ours, theirs) = match rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    ) {
        Ok(pair) => pair,
        Err(e) => return fail(&mut child, ssh_io(&shown, e.into())),
    };
    let shared = Arc::new(Shared {
        child: Mutex::new(child),
        ended: Mutex::new(None),
        stop: AtomicBool::new(false),
        target: target.to_string(),
    });
    let pump = Pump {
        shared: Arc::clone(&shared),
        inner: theirs,
        to_ssh: Some(to_ssh),
        from_ssh,
        errors: Some(errors),
        stderr,
        decoder,
    };
    let thread = match std::thread::Builder::new()
        .name("ssh-relay".into())
        .spawn(move || pump.run())
    {
        Ok(thread) => thread,
        Err(e) => {
            let mut child = shared.child.lock().expect("not poisoned");
            return fail(&mut child, ssh_io(&shown, e));
        }
    };
    let link = Link {
        shared,
        thread: Mutex::new(Some(thread)),
    };
    let peer = Peer::Remote {
        target: target.to_string(),
        peer,
    };
    Stream::linked(ours, peer, Arc::new(link)).map_err(|e| ssh_io(&shown, e))
}

fn ssh_io(peer: &str, source: io::Error) -> ConnectError {
    ConnectError::Other {
        peer: peer.to_string(),
        source,
    }
}

type Spawned = (Child, OwnedFd, OwnedFd, OwnedFd);

fn spawn(
    options: &Options,
    target: &Target,
    remote: &Address,
    timeout: Option<Duration>,
) -> Result<Spawned, ConnectError> {
    let mut command = Command::new(&options.ssh[0]);
    command.args(&options.ssh[1..]);
    if let Some(port) = target.port {
        command.arg("-p").arg(port.to_string());
    }
    let destination = match &target.user {
        Some(user) => format!("{user}@{}", target.host),
        None => target.host.clone(),
    };
    command.arg("--").arg(destination);
    // One string for the remote shell, every word quoted.
    let timeout_ms = timeout.map_or("-".to_string(), |t| t.as_millis().to_string());
    let mut line = b"exec".to_vec();
    let words = options
        .remote
        .iter()
        .map(|w| w.as_encoded_bytes().to_vec())
        .chain([
            RELAY_SUBCOMMAND.as_bytes().to_vec(),
            wire::VERSION.to_string().into_bytes(),
            timeout_ms.into_bytes(),
            relay_argument(remote).into_encoded_bytes(),
        ]);
    for word in words {
        line.push(b' ');
        line.extend_from_slice(&quote(&word));
    }
    // SAFETY: the bytes come from OsStrs and ASCII only.
    command.arg(unsafe { std::ffi::OsString::from_encoded_bytes_unchecked(line) });

    // ssh's standard input is a socket, not a pipe: writing to an ssh that died is then
    // EPIPE with MSG_NOSIGNAL, never a SIGPIPE in a program that did not ignore it.
    let (to_ssh, ssh_stdin) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| ssh_io(&format!("ssh://{target}"), e.into()))?;
    // Ctrl-C on the terminal is sockctl's to handle (the shell abandons a reply and goes on):
    // ssh, in the same process group, keeps an inherited SIG_IGN for SIGINT, and is ended by
    // sockctl when its stream is dropped.
    // SAFETY: signal() is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            Ok(())
        });
    }
    let mut child = command
        .stdin(Stdio::from(ssh_stdin))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| {
            ConnectError::Ssh(SshError::Spawn {
                program: options.ssh[0].to_string_lossy().into_owned(),
                source,
            })
        })?;
    let from_ssh = OwnedFd::from(child.stdout.take().expect("piped"));
    let errors = OwnedFd::from(child.stderr.take().expect("piped"));
    for fd in [&to_ssh, &from_ssh, &errors] {
        rustix::io::ioctl_fionbio(fd, true).map_err(|e| ssh_io("ssh", e.into()))?;
    }
    Ok((child, to_ssh, from_ssh, errors))
}

/// Reads ssh's standard error to its end and waits for ssh to exit, until `deadline` or for
/// [`EXIT_GRACE`]; `None` if ssh did not exit by then (it is killed and reaped).
fn finish(
    child: &mut Child,
    errors: &OwnedFd,
    stderr: &mut Tail,
    mut open: bool,
    deadline: Option<Instant>,
) -> Option<ExitStatus> {
    let grace = Instant::now() + EXIT_GRACE;
    let until = deadline.map_or(grace, |d| d.max(grace));
    loop {
        if open {
            open = stderr.read_from(errors);
        }
        if let Ok(Some(status)) = child.try_wait() {
            if open {
                let _ = stderr.read_from(errors);
            }
            return Some(status);
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn classify(
    target: &Target,
    options: &Options,
    status: ExitStatus,
    stderr: &Tail,
    version: Option<u32>,
) -> SshError {
    let said = stderr.last_line();
    let target = target.to_string();
    match (status.code(), version) {
        (Some(255), _) => SshError::Failed { target, said },
        (Some(code @ (126 | 127)), None) => SshError::Missing {
            target,
            program: options.remote[0].to_string_lossy().into_owned(),
            status: code,
            said,
        },
        _ => SshError::NoRelay {
            target,
            status: Some(status),
            said,
        },
    }
}

/// The end of ssh's standard error.
#[derive(Debug, Default)]
struct Tail(Vec<u8>);

impl Tail {
    /// Reads what is there; `false` at EOF.
    fn read_from(&mut self, fd: &OwnedFd) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            match rustix::io::read(fd, &mut buf) {
                Ok(0) => return false,
                Ok(n) => {
                    self.0.extend_from_slice(&buf[..n]);
                    if self.0.len() > STDERR_KEPT {
                        let cut = self.0.len() - STDERR_KEPT;
                        self.0.drain(..cut);
                    }
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return true,
                Err(_) => return false,
            }
        }
    }

    /// The last line that says something, control characters made spaces.
    fn last_line(&self) -> String {
        let text = String::from_utf8_lossy(&self.0);
        text.lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or_default()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    }
}

/// The thread between the caller's socket and ssh.
struct Pump {
    shared: Arc<Shared>,
    /// Our end of the caller's socket pair.
    inner: OwnedFd,
    /// ssh's standard input, until the caller half-closes.
    to_ssh: Option<OwnedFd>,
    from_ssh: OwnedFd,
    errors: Option<OwnedFd>,
    stderr: Tail,
    decoder: Decoder,
}

impl Pump {
    fn run(mut self) {
        let ended = self.copy();
        if let Some(ended) = ended {
            *self.shared.ended.lock().expect("not poisoned") = Some(ended);
        }
        // Only now does the caller see EOF (after every byte before it): it then finds how
        // the stream ended. Bytes it sent that were never read are dropped first, since
        // closing a Unix socket with unread bytes would reset the caller's side.
        let _ = rustix::net::shutdown(&self.inner, Shutdown::Both);
        let mut buf = [0u8; 4096];
        while let Ok((_, n)) = rustix::net::recv(&self.inner, &mut buf, RecvFlags::DONTWAIT) {
            if n == 0 {
                break;
            }
        }
    }

    /// Copies both ways until the remote side has ended; how it ended (`None`: stopped).
    fn copy(&mut self) -> Option<Ended> {
        let mut up: Vec<u8> = Vec::new();
        let mut down: Vec<u8> = Vec::new();
        let mut end: Option<End> = None;
        // The caller's bytes handed to ssh, and how many the relay wrote to the socket.
        let mut forwarded: u64 = 0;
        let mut written: u64 = 0;
        let mut write_failed = false;
        let mut ssh_eof = false;
        let mut client_open = true;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if self.shared.stop.load(Ordering::Relaxed) {
                return None;
            }
            // What ssh has brought, the bytes that came with the connect's record first (a
            // fast server's whole reply may have).
            if end.is_none() {
                loop {
                    match self.decoder.next_item() {
                        Ok(None) => break,
                        Ok(Some(Item::Record(wire::DATA, data))) => down.extend_from_slice(&data),
                        Ok(Some(Item::Record(wire::WRITE_FAILED, _))) => {
                            // The server stopped reading: the caller's next writes fail as
                            // they would on the socket itself.
                            let _ = rustix::net::shutdown(&self.inner, Shutdown::Read);
                            write_failed = true;
                            up.clear();
                            self.to_ssh = None;
                        }
                        Ok(Some(Item::Record(wire::END, payload))) => {
                            match wire::parse_end(&payload) {
                                Some((e, count)) => {
                                    end = Some(e);
                                    written = count;
                                }
                                None => return Some(self.lost("the relay's end does not parse")),
                            }
                            break;
                        }
                        Ok(Some(Item::Record(kind, _))) => {
                            return Some(self.lost(&format!(
                                "the relay sent an unknown '{}' record",
                                kind.escape_ascii()
                            )));
                        }
                        Ok(Some(Item::Header(_))) => {
                            return Some(self.lost("the relay sent a second header"));
                        }
                        Err(_) => return Some(self.lost("the relay's records do not parse")),
                    }
                }
            }
            if ssh_eof && end.is_none() {
                return Some(self.lost(""));
            }
            // Everything decoded has gone to the caller: the end can be told.
            if down.is_empty()
                && let Some(end) = &end
            {
                let mut byte = [0u8; 1];
                let waiting = rustix::net::recv(
                    &self.inner,
                    &mut byte,
                    RecvFlags::PEEK | RecvFlags::DONTWAIT,
                )
                .is_ok_and(|(_, n)| n > 0);
                let unread = write_failed || forwarded + up.len() as u64 > written || waiting;
                if *end == End::Clean && unread {
                    // The server closed without reading all the caller sent: on the host
                    // itself, that write would have failed or the connection reset.
                    return Some(Ended::Remote(End::Reset(Errno::PIPE.raw_os_error())));
                }
                return Some(Ended::Remote(end.clone()));
            }
            let mut inner_events = PollFlags::empty();
            if client_open && up.is_empty() && self.to_ssh.is_some() {
                inner_events |= PollFlags::IN;
            }
            if !down.is_empty() {
                inner_events |= PollFlags::OUT;
            }
            let reading_ssh = down.is_empty() && end.is_none() && !ssh_eof;
            let to_ssh_events = if self.to_ssh.is_some() && !up.is_empty() {
                PollFlags::OUT
            } else {
                PollFlags::empty()
            };
            let from_ssh_events = if reading_ssh {
                PollFlags::IN
            } else {
                PollFlags::empty()
            };
            let errors_events = if self.errors.is_some() {
                PollFlags::IN
            } else {
                PollFlags::empty()
            };
            let candidates = [
                (Some(self.inner.as_fd()), inner_events),
                (self.to_ssh.as_ref().map(|fd| fd.as_fd()), to_ssh_events),
                (Some(self.from_ssh.as_fd()), from_ssh_events),
                (self.errors.as_ref().map(|fd| fd.as_fd()), errors_events),
            ];
            // A descriptor at EOF is always ready: only those with something to do are watched.
            let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(4);
            let mut slots = [usize::MAX; 4];
            for (slot, (fd, events)) in candidates.into_iter().enumerate() {
                if let Some(fd) = fd
                    && !events.is_empty()
                {
                    slots[slot] = fds.len();
                    fds.push(PollFd::from_borrowed_fd(fd, events));
                }
            }
            let slice = Timespec::try_from(POLL_SLICE).expect("small");
            match poll(&mut fds, Some(&slice)) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(e) => return Some(self.lost(&format!("poll: {e}"))),
            }
            let ready =
                |slot: usize| slots[slot] != usize::MAX && !fds[slots[slot]].revents().is_empty();
            let (inner_ready, to_ssh_ready, from_ssh_ready, errors_ready) =
                (ready(0), ready(1), ready(2), ready(3));
            drop(fds);

            if errors_ready
                && let Some(errors) = &self.errors
                && !self.stderr.read_from(errors)
            {
                self.errors = None;
            }
            if inner_ready && up.is_empty() && client_open && self.to_ssh.is_some() {
                match rustix::net::recv(&self.inner, &mut buf[..], RecvFlags::DONTWAIT) {
                    Ok((_, 0)) | Err(Errno::CONNRESET) => {
                        // The caller's half-close: ssh's standard input ends, and the relay
                        // half-closes the socket.
                        client_open = false;
                        self.to_ssh = None;
                    }
                    Ok((_, n)) => up.extend_from_slice(&buf[..n]),
                    Err(Errno::AGAIN | Errno::INTR) => {}
                    Err(_) => {
                        client_open = false;
                        self.to_ssh = None;
                    }
                }
            }
            if to_ssh_ready && let Some(to_ssh) = &self.to_ssh {
                match rustix::net::send(to_ssh, &up, SendFlags::NOSIGNAL | SendFlags::DONTWAIT) {
                    Ok(n) => {
                        forwarded += n as u64;
                        up.drain(..n);
                    }
                    Err(Errno::AGAIN | Errno::INTR) => {}
                    // ssh is gone; its output says the rest.
                    Err(_) => {
                        up.clear();
                        self.to_ssh = None;
                    }
                }
            }
            if inner_ready && !down.is_empty() {
                match rustix::net::send(
                    &self.inner,
                    &down,
                    SendFlags::NOSIGNAL | SendFlags::DONTWAIT,
                ) {
                    Ok(n) => drop(down.drain(..n)),
                    Err(Errno::AGAIN | Errno::INTR) => {}
                    // The caller closed its stream: nobody is left to tell.
                    Err(_) => return None,
                }
            }
            if from_ssh_ready {
                match rustix::io::read(&self.from_ssh, &mut buf[..]) {
                    Ok(0) => ssh_eof = true,
                    Ok(n) => self.decoder.feed(&buf[..n]),
                    Err(Errno::AGAIN | Errno::INTR) => {}
                    Err(e) => return Some(self.lost(&format!("reading from ssh: {e}"))),
                }
            }
        }
    }

    /// ssh ended (or the relay's output broke) before the end was said: why, with ssh's exit
    /// status and its last line on stderr.
    fn lost(&mut self, what: &str) -> Ended {
        let status = {
            let mut child = self.shared.child.lock().expect("not poisoned");
            let start = Instant::now();
            loop {
                if let Some(errors) = &self.errors
                    && !self.stderr.read_from(errors)
                {
                    self.errors = None;
                }
                match child.try_wait() {
                    Ok(Some(status)) => break Some(status),
                    Ok(None) if start.elapsed() < EXIT_GRACE => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    _ => break None,
                }
            }
        };
        let mut why = format!(
            "the ssh connection to {} ended before the reply did",
            self.shared.target
        );
        let mut details = Vec::new();
        if !what.is_empty() {
            details.push(what.to_string());
        }
        match status.and_then(|s| s.code()) {
            Some(code) => details.push(format!("ssh exit {code}")),
            None if status.is_some() => details.push("ssh killed".to_string()),
            None => {}
        }
        let line = self.stderr.last_line();
        if !line.is_empty() {
            details.push(line);
        }
        if !details.is_empty() {
            why.push_str(&format!(" ({})", details.join(": ")));
        }
        Ended::Lost(why)
    }
}
