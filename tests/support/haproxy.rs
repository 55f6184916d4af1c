//! A real HAProxy in master-worker mode, in a temp dir, for the length of one test.
//!
//! Started as `haproxy -W -S <dir>/master.sock -f <dir>/haproxy.cfg` with a stats socket
//! `<dir>/admin.sock level admin` and a backend `be_app` (s1, s2, s3), a server state file in
//! the same dir, and a frontend on a Unix socket so that tests never fight over ports.
//! Without haproxy installed the tests that need it skip, unless `SOCKCTL_REQUIRE_HAPROXY=1`
//! (set by CI) makes that a failure.

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// Tests that look for "the" running HAProxy master need to be alone with theirs.
static RUNNING: RwLock<()> = RwLock::new(());

/// Keeps every HAProxy of this test binary from running while held.
pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    RUNNING.write().unwrap_or_else(|e| e.into_inner())
}

enum Guard {
    Shared(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
    Alone(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
}

#[allow(dead_code)] // fields used by later test modules
pub struct Haproxy {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub admin: PathBuf,
    pub master: PathBuf,
    pub state_file: PathBuf,
    child: Child,
    // Dropped after the child is stopped (fields drop after `Drop::drop`).
    _guard: Guard,
}

/// The HAProxy binary, or `None` when it is not installed: `$SOCKCTL_TEST_HAPROXY` when set
/// (how the suite runs against a second version), else `haproxy` on the PATH.
pub fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SOCKCTL_TEST_HAPROXY").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "$SOCKCTL_TEST_HAPROXY: no file {}",
            path.display()
        );
        return Some(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join("haproxy"))
        .find(|candidate| candidate.is_file())
}

/// The version of the HAProxy under test, from `haproxy -v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    /// As `show version` prints it: `2.6.12-1+deb12u3`, `2.8.25-5cf5d0683`.
    pub full: String,
}

impl Version {
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// 2.7+ answers `reload` on the master CLI with `Success=1`/`Success=0` and its startup
    /// log; 2.6 closes the connection and answers nothing.
    pub fn reload_answers(&self) -> bool {
        self.at_least(2, 7)
    }

    /// 2.5 to 3.0 re-execute the master in "wait mode" once the worker is started (seen with
    /// `HAPROXY_MWORKER_WAIT_ONLY=1` in its environment on 2.6 and 2.8); 3.1 forks the worker
    /// before loading the configuration and no longer re-executes at start.
    fn re_executes_at_start(&self) -> bool {
        self.at_least(2, 5) && !self.at_least(3, 1)
    }
}

/// The version of [`binary`]; panics when there is none or it does not say.
pub fn version() -> &'static Version {
    static VERSION: std::sync::OnceLock<Version> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        let binary = binary().expect("haproxy is not installed");
        let out = command(&binary)
            .arg("-v")
            .output()
            .expect("running haproxy -v");
        let text = String::from_utf8_lossy(&out.stdout);
        let full = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("HAProxy version "))
            .and_then(|l| l.split(' ').next())
            .unwrap_or_else(|| panic!("{}: no version in {text:?}", binary.display()));
        let mut numbers = full.split(['.', '-']).map(|n| n.parse::<u32>());
        let (Some(Ok(major)), Some(Ok(minor))) = (numbers.next(), numbers.next()) else {
            panic!("{}: unexpected version {full:?}", binary.display());
        };
        Version {
            major,
            minor,
            full: full.to_string(),
        }
    })
}

/// A command for the HAProxy binary; one shipped with its own libraries in a `lib` folder
/// beside it (the PyPI package's) gets them.
fn command(binary: &Path) -> Command {
    let mut command = Command::new(binary);
    if let Some(lib) = binary
        .parent()
        .map(|d| d.join("lib"))
        .filter(|l| l.is_dir())
    {
        command.env("LD_LIBRARY_PATH", lib);
    }
    command
}

/// The configuration; `{dir}` in `extra_global` and `backend` stands for the temp dir, so
/// that extra sockets and files can live there.
pub fn config_text(dir: &Path, extra_global: &str, backend: &str) -> String {
    let d = dir.display();
    let extra_global = extra_global.replace("{dir}", &d.to_string());
    let backend = if backend.is_empty() {
        DEFAULT_BACKEND
    } else {
        backend
    };
    let backend = backend.replace("{dir}", &d.to_string());
    format!(
        "global
    stats socket {d}/admin.sock level admin
    server-state-file {d}/haproxy.state
{extra_global}
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    load-server-state-from-file global

frontend fe
    bind unix@{d}/fe.sock
    default_backend be_app

{backend}
"
    )
}

/// How a test's HAProxy differs from the default one.
#[derive(Default)]
pub struct Setup<'a> {
    pub extra_global: &'a str,
    /// The backend sections; empty means [`DEFAULT_BACKEND`].
    pub backend: &'a str,
    /// Sections after the backends (`program`, `peers`…).
    pub extra_sections: &'a str,
    /// Replacements in the configuration's text, each of which must apply; `{dir}` stands
    /// for the temp dir.
    pub replace: &'a [(&'a str, &'a str)],
    /// Start HAProxy with `-f DIR` of two files instead of one `-f FILE`.
    pub config_dir: bool,
    /// No other HAProxy of this test binary runs meanwhile.
    pub alone: bool,
    /// Files written into the temp dir before HAProxy starts (map and ACL files), by name.
    pub files: &'a [(&'a str, &'a str)],
}

pub const DEFAULT_BACKEND: &str = "backend be_app
    server s1 127.0.0.1:19261
    server s2 127.0.0.1:19262
    server s3 127.0.0.1:19263
";

impl Haproxy {
    /// Starts HAProxy, or returns `None` (after saying so) when it is not installed.
    pub fn start() -> Option<Haproxy> {
        Self::start_with("", DEFAULT_BACKEND)
    }

    /// Like `start`, but no other HAProxy of this test binary runs meanwhile.
    pub fn start_alone() -> Option<Haproxy> {
        let guard = Guard::Alone(exclusive());
        Self::launch("", DEFAULT_BACKEND, guard)
    }

    pub fn start_with(extra_global: &str, backend: &str) -> Option<Haproxy> {
        Self::start_setup(Setup {
            extra_global,
            backend,
            ..Setup::default()
        })
    }

    pub fn start_setup(setup: Setup) -> Option<Haproxy> {
        let guard = if setup.alone {
            Guard::Alone(exclusive())
        } else {
            Guard::Shared(RUNNING.read().unwrap_or_else(|e| e.into_inner()))
        };
        Self::launch_setup(setup, guard)
    }

    fn launch(extra_global: &str, backend: &str, guard: Guard) -> Option<Haproxy> {
        let setup = Setup {
            extra_global,
            backend,
            ..Setup::default()
        };
        Self::launch_setup(setup, guard)
    }

    fn launch_setup(setup: Setup, guard: Guard) -> Option<Haproxy> {
        let Some(binary) = binary() else {
            if std::env::var_os("SOCKCTL_REQUIRE_HAPROXY").is_some_and(|v| v == "1") {
                panic!("haproxy is not installed but SOCKCTL_REQUIRE_HAPROXY=1");
            }
            eprintln!("skipping: haproxy is not installed (apt-get install haproxy)");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("sockctl-ha")
            .tempdir()
            .unwrap();
        for (name, content) in setup.files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        let mut text = config_text(dir.path(), setup.extra_global, setup.backend);
        text.push_str(setup.extra_sections);
        let d = dir.path().display().to_string();
        for (from, to) in setup.replace {
            let (from, to) = (from.replace("{dir}", &d), to.replace("{dir}", &d));
            assert!(text.contains(&from), "{from:?} is not in {text}");
            text = text.replace(&from, &to);
        }
        let config = if setup.config_dir {
            // HAProxy reads a directory's *.cfg files by name: global and defaults first.
            let conf_d = dir.path().join("conf.d");
            std::fs::create_dir(&conf_d).unwrap();
            let (head, tail) = text.split_at(text.find("frontend fe").unwrap());
            std::fs::write(conf_d.join("00-global.cfg"), head).unwrap();
            std::fs::write(conf_d.join("10-proxies.cfg"), tail).unwrap();
            std::fs::write(conf_d.join("README"), "not read: no .cfg suffix\nglobal\n").unwrap();
            conf_d
        } else {
            let config = dir.path().join("haproxy.cfg");
            std::fs::write(&config, text).unwrap();
            config
        };
        let master = dir.path().join("master.sock");
        let child = command(&binary)
            .arg("-W")
            .arg("-S")
            .arg(&master)
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("haproxy.log")).unwrap(),
            ))
            .spawn()
            .expect("starting haproxy");
        let haproxy = Haproxy {
            admin: dir.path().join("admin.sock"),
            state_file: dir.path().join("haproxy.state"),
            config,
            master,
            dir,
            child,
            _guard: guard,
        };
        haproxy.wait_ready();
        Some(haproxy)
    }

    /// Ready means: both sockets answer a command, and the master has re-executed itself in
    /// "wait mode" when its version does that right after starting its worker (2.6 and 2.8
    /// alike): until the new image serves, connections may be queued on the old listener and
    /// then reset, or refused.
    fn wait_ready(&self) {
        let start = Instant::now();
        let environ = format!("/proc/{}/environ", self.child.id());
        let wait_for_re_exec = version().re_executes_at_start();
        let re_executed = || {
            !wait_for_re_exec
                || std::fs::read(&environ).is_ok_and(|env| {
                    env.split(|&b| b == 0)
                        .any(|var| var == b"HAPROXY_MWORKER_WAIT_ONLY=1")
                })
        };
        while !re_executed()
            || !answers(&self.master, "show proc", "# workers")
            || !answers(&self.admin, "show info", "Name: HAProxy")
        {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "haproxy {} did not start: {}",
                version().full,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("haproxy.log")).unwrap_or_default()
    }

    pub fn master_pid(&self) -> u32 {
        self.child.id()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// One plain exchange, independent of the code under test.
pub fn answers(socket: &Path, command: &str, expect: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reply = String::new();
    stream.write_all(format!("{command}\n").as_bytes()).is_ok()
        && stream.shutdown(std::net::Shutdown::Write).is_ok()
        && stream.read_to_string(&mut reply).is_ok()
        && reply.contains(expect)
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        // SIGUSR1 would wait for connections; SIGTERM stops master and workers at once.
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_child(&self.child),
            rustix::process::Signal::TERM,
        );
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What sockctl says about this HAProxy, for the setup and checks of tests about something else.
impl Haproxy {
    /// `show servers state be_app` as one map per server, keyed by the header's field names.
    pub fn servers(&self) -> HashMap<String, HashMap<String, String>> {
        let text = super::send(&self.admin, &["show servers state be_app"]).stdout();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("1"));
        let header: Vec<&str> = lines
            .next()
            .unwrap()
            .trim_start_matches("# ")
            .split(' ')
            .collect();
        lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let row: HashMap<String, String> = header
                    .iter()
                    .zip(l.split(' '))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                (row["srv_name"].clone(), row)
            })
            .collect()
    }

    /// The current worker's PID, from `haproxy proc --json`.
    pub fn current_worker(&self) -> String {
        let json: serde_json::Value = self.proc().json();
        json["workers"][0]["pid"].to_string()
    }

    /// The master's reload counter, from `haproxy proc --json`.
    pub fn reloads(&self) -> u64 {
        let json: serde_json::Value = self.proc().json();
        json["master"]["reloads"].as_u64().unwrap()
    }

    fn proc(&self) -> super::Run {
        super::sockctl(["haproxy", "proc", "--json", "-s"])
            .arg(&self.master)
            .succeeds()
    }
}
