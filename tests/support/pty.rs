//! Runs the `sockctl` binary on a pseudo-terminal, as a person would: keys in, terminal output
//! out. Tests wait for what they expect to appear (never for a fixed time), with limits
//! generous enough for a loaded two-core machine.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long to wait for expected output before failing.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub struct Pty {
    writer: std::fs::File,
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
    /// Output before this offset has been matched by an earlier `expect`.
    seen: usize,
    /// The shell's history of [`Pty::shell`]; removed after the program ended (fields drop
    /// after `Drop::drop`).
    state: Option<tempfile::TempDir>,
}

impl Pty {
    /// `sockctl shell SOCKET EXTRA…`, its history kept in a temp dir of its own.
    pub fn shell(socket: impl AsRef<Path>, extra: &[&str]) -> Pty {
        let state = tempfile::tempdir().unwrap();
        let mut pty = Pty::shell_in(state.path(), socket, extra);
        pty.state = Some(state);
        pty
    }

    /// `sockctl shell SOCKET EXTRA…`, its history kept in `state` (as `$XDG_STATE_HOME`).
    pub fn shell_in(state: &Path, socket: impl AsRef<Path>, extra: &[&str]) -> Pty {
        let mut args = vec!["shell", socket.as_ref().to_str().unwrap()];
        args.extend_from_slice(extra);
        Pty::sockctl(&args, &[("XDG_STATE_HOME", state.to_str().unwrap())])
    }

    /// Starts the built `sockctl` with `args` on a new terminal of 200x50.
    pub fn sockctl(args: &[&str], env: &[(&str, &str)]) -> Pty {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sockctl"));
        command
            .args(args)
            .env("TERM", "xterm")
            .env_remove("NO_COLOR");
        for (k, v) in env {
            command.env(k, v);
        }
        Pty::spawn(command)
    }

    pub fn spawn(mut command: std::process::Command) -> Pty {
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize {
            ws_row: 50,
            ws_col: 200,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty fills in two descriptors that we then own.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors were just created and are owned here only.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        command
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                // A session of its own with this terminal as the controlling one, so that
                // Ctrl-C on it sends SIGINT to the program.
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("starting sockctl on a pty");
        drop(command);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = std::fs::File::from(master.try_clone().unwrap());
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            // EIO once the program and every descendant closed the terminal.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            writer: std::fs::File::from(master),
            child,
            output,
            seen: 0,
            state: None,
        }
    }

    /// Types `keys` (`\r` is Enter, `\t` Tab, `\x03` Ctrl-C, `\x04` Ctrl-D).
    pub fn send(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Types a line and presses Enter.
    pub fn line(&mut self, text: &str) {
        self.send(text);
        self.send("\r");
    }

    /// Everything the terminal received, as text.
    pub fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits until `needle` appears after what earlier calls matched; returns the output from
    /// there to the end of the match and moves past it.
    #[track_caller]
    pub fn expect(&mut self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            {
                let out = self.output.lock().unwrap();
                let rest = &out[self.seen..];
                if let Some(i) = find(rest, needle.as_bytes()) {
                    let text = String::from_utf8_lossy(&rest[..i + needle.len()]).into_owned();
                    self.seen += i + needle.len();
                    return text;
                }
            }
            if start.elapsed() > PATIENCE {
                panic!(
                    "{needle:?} did not appear within {PATIENCE:?}; after the last match:\n{}",
                    String::from_utf8_lossy(&self.output.lock().unwrap()[self.seen..])
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the terminal is back in line mode with signals on: the program stopped
    /// editing a line (rustyline's raw mode) and waits for something else, so a Ctrl-C typed
    /// now is a SIGINT rather than a key.
    #[track_caller]
    pub fn wait_cooked(&self) {
        let start = Instant::now();
        loop {
            let modes = rustix::termios::tcgetattr(&self.writer)
                .unwrap()
                .local_modes;
            if modes
                .contains(rustix::termios::LocalModes::ICANON | rustix::termios::LocalModes::ISIG)
            {
                return;
            }
            assert!(start.elapsed() < PATIENCE, "terminal stayed in raw mode");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The program's process id, to signal it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How the program ended, if it did within `limit`.
    pub fn status_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if start.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the program to exit, and checks that it exited 0 (else shows the transcript).
    #[track_caller]
    pub fn succeeds(&mut self) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > PATIENCE {
                panic!("sockctl did not exit; output:\n{}", self.transcript());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(
            status.success(),
            "sockctl ended with {status}; output:\n{}",
            self.transcript()
        );
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
