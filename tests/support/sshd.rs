//! A throwaway OpenSSH server on 127.0.0.1, for `ssh://` addresses: its own host key, client
//! key, `authorized_keys`, `known_hosts`, `sshd_config` and client configuration, all in a
//! temp dir; no system sshd or system configuration is touched (sshd's privilege separation
//! directory, `/run/sshd`, is created if missing, as the package's service would).
//!
//! The client side is a configuration file for `SOCKCTL_SSH="ssh -F FILE"`: the host alias
//! [`HOST`] with the port, the key, host key checking against the generated `known_hosts`,
//! and `BatchMode yes`, so that nothing ever prompts. The server's sessions have the built
//! sockctl's directory first on their PATH, so that the remote `sockctl` is the binary under
//! test without `SOCKCTL_REMOTE`.
//!
//! [`Sshd::start`] returns `None` (after saying so) when sshd is not installed, unless
//! `SOCKCTL_REQUIRE_SERVICES=1`. Dropping it stops sshd and removes the temp dir.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::services::{START_TIMEOUT, binary, required};

/// The host alias the client configuration defines; `lb1` and `lb2`, the documentation's
/// hosts, are aliases of the same server.
pub const HOST: &str = "lb";

pub struct Sshd {
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Sshd {
    pub fn start() -> Option<Sshd> {
        let sshd = binary("sshd");
        let keygen = binary("ssh-keygen");
        let client = binary("ssh");
        let (Some(sshd), Some(keygen), Some(_)) = (sshd, keygen, client) else {
            if required() {
                panic!(
                    "sshd, ssh or ssh-keygen is not installed (Debian packages openssh-server, \
                     openssh-client) but SOCKCTL_REQUIRE_SERVICES=1"
                );
            }
            eprintln!("skipping: sshd is not installed (apt-get install openssh-server)");
            return None;
        };
        if !rustix::process::geteuid().is_root() {
            if required() {
                panic!("the sshd tests run sshd as root, and this is not root");
            }
            eprintln!("skipping: the sshd tests run sshd as root");
            return None;
        }
        std::fs::create_dir_all("/run/sshd").unwrap();
        let dir = tempfile::Builder::new()
            .prefix("sockctl-sshd")
            .tempdir()
            .unwrap();
        let d = dir.path();
        for key in ["host_key", "user_key"] {
            let status = Command::new(&keygen)
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "sockctl-test", "-f"])
                .arg(d.join(key))
                .status()
                .unwrap();
            assert!(status.success(), "ssh-keygen failed");
        }
        std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).unwrap();
        let sockctl_dir = Path::new(env!("CARGO_BIN_EXE_sockctl")).parent().unwrap();
        // A port taken between choosing it and sshd's bind is tried again with another.
        for _ in 0..5 {
            let port = free_port();
            write_configs(d, port, sockctl_dir);
            let mut child = Command::new(&sshd)
                .args(["-D", "-e", "-f"])
                .arg(d.join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(
                    std::fs::File::create(d.join("sshd.log")).unwrap(),
                ))
                .spawn()
                .unwrap();
            if wait_for_banner(port, &mut child) {
                return Some(Sshd { dir, child });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "sshd did not start: {}",
            std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
        );
    }

    /// `SOCKCTL_SSH`'s value: ssh with this server's client configuration.
    pub fn ssh_command(&self) -> String {
        format!("ssh -F {}", self.config().display())
    }

    /// The client configuration file.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("ssh_config")
    }

    /// `ssh://lb` followed by `remote` (a path starts with its `/`).
    pub fn url(&self, remote: impl AsRef<Path>) -> String {
        let remote = remote.as_ref().to_str().unwrap();
        if remote.starts_with('/') {
            format!("ssh://{HOST}{remote}")
        } else {
            format!("ssh://{HOST}/{remote}")
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_configs(d: &Path, port: u16, sockctl_dir: &Path) {
    let p = |name: &str| d.join(name).display().to_string();
    let server = format!(
        "ListenAddress 127.0.0.1:{port}\n\
         HostKey {host_key}\n\
         AuthorizedKeysFile {keys}\n\
         PidFile {pid}\n\
         StrictModes no\n\
         PermitRootLogin prohibit-password\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         UsePAM no\n\
         PrintMotd no\n\
         SetEnv PATH={path}:/usr/local/bin:/usr/bin:/bin\n\
         LogLevel ERROR\n",
        host_key = p("host_key"),
        keys = p("authorized_keys"),
        pid = p("sshd.pid"),
        path = sockctl_dir.display(),
    );
    std::fs::write(d.join("sshd_config"), server).unwrap();
    let host_key = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
    std::fs::write(
        d.join("known_hosts"),
        format!("[127.0.0.1]:{port} {host_key}"),
    )
    .unwrap();
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let client = format!(
        "Host {HOST} lb1 lb2\n\
         \x20 HostName 127.0.0.1\n\
         \x20 Port {port}\n\
         \x20 User {user}\n\
         \x20 IdentityFile {key}\n\
         \x20 IdentitiesOnly yes\n\
         \x20 UserKnownHostsFile {known}\n\
         \x20 GlobalKnownHostsFile /dev/null\n\
         \x20 StrictHostKeyChecking yes\n\
         \x20 CheckHostIP no\n\
         \x20 BatchMode yes\n\
         \x20 ConnectTimeout 10\n",
        key = p("user_key"),
        known = p("known_hosts"),
    );
    std::fs::write(d.join("ssh_config"), client).unwrap();
}

/// Waits until sshd says its banner on `port`; `false` if it exited (the port was taken).
fn wait_for_banner(port: u16, child: &mut Child) -> bool {
    use std::io::Read;
    let start = Instant::now();
    while start.elapsed() < START_TIMEOUT {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut banner = [0u8; 8];
            if stream.read_exact(&mut banner).is_ok() && banner.starts_with(b"SSH-") {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
