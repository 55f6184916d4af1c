//! A program on a terminal of tmux's, for full-screen views: keys in, and the screen as a
//! person sees it out (`capture-pane`). Each instance runs its own tmux server on a socket in
//! a temp dir, with no configuration file, so that nothing of the user's is touched.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use super::pty::PATIENCE;

pub struct Tmux {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmux {
    /// Runs `command` (a shell command line) on a `width` × `height` terminal. Without tmux,
    /// `None` after saying so; but with `SOCKCTL_REQUIRE_HAPROXY=1` (CI) the test fails.
    pub fn start(command: &str, width: u16, height: u16) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            if std::env::var_os("SOCKCTL_REQUIRE_HAPROXY").is_some_and(|v| v == "1") {
                panic!("tmux is not installed but SOCKCTL_REQUIRE_HAPROXY=1");
            }
            eprintln!("skipped: tmux is not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let tmux = Tmux {
            socket: dir.path().join("tmux.sock"),
            _dir: dir,
        };
        let (width, height) = (width.to_string(), height.to_string());
        tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            &width,
            "-y",
            &height,
            command,
        ]);
        Some(tmux)
    }

    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The screen's text, one line per row.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p"])
    }

    /// Waits until the screen is as `done` says, and returns it; fails after [`PATIENCE`].
    #[track_caller]
    pub fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "the screen never showed {what}:\n{screen}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Waits until the screen holds `text`.
    #[track_caller]
    pub fn wait_for_text(&self, text: &str) -> String {
        self.wait_for(text, |screen| screen.contains(text))
    }

    /// Types `text` as it is.
    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-l", text]);
    }

    /// Presses keys by tmux's names: `Enter`, `Escape`, `Down`, `C-c`.
    pub fn press(&self, key: &str) {
        self.run(&["send-keys", key]);
    }

    /// The program shows the alternate screen.
    pub fn alternate_screen(&self) -> bool {
        self.run(&["display", "-p", "#{alternate_on}"]).trim() == "1"
    }

    /// The processes the pane's shell started.
    pub fn children(&self) -> Vec<u32> {
        let shell = self.run(&["display", "-p", "#{pane_pid}"]);
        let shell = shell.trim();
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| {
                let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                // `PID (COMM) STATE PPID …`, where COMM may hold anything but ends at the last `)`.
                let ppid = stat[stat.rfind(')')? + 2..].split(' ').nth(1)?;
                (ppid == shell).then_some(pid)
            })
            .collect()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}
