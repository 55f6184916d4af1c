//! `ssh://` addresses through a real OpenSSH server (tests/support/sshd.rs) and the sockctl
//! under test as the remote relay: the same verdicts as on the host itself, for real HAProxy
//! and for the faults only fake peers produce.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::fake::{Answer, Behavior, FakeServer};
use crate::support::haproxy::Haproxy;
use crate::support::sshd::Sshd;
use crate::support::{Run, Sockctl, sockctl, wait_for};

/// `sockctl ARGS…` with this server's ssh configuration.
fn over(sshd: &Sshd, args: &[&str]) -> Sockctl {
    sockctl(args)
        .env("SOCKCTL_SSH", sshd.ssh_command())
        .env_remove("SOCKCTL_REMOTE")
}

/// Runs `before ADDRESS after` on the socket itself and through ssh; checks that both end
/// with `code` and write the same on stdout, and returns the run through ssh.
#[track_caller]
fn same_verdict(sshd: &Sshd, before: &[&str], socket: &str, after: &[&str], code: i32) -> Run {
    let local = sockctl(before).arg(socket).args(after).run();
    let remote = over(sshd, before).arg(sshd.url(socket)).args(after).run();
    assert_eq!(local.code(), Some(code), "{local}");
    assert_eq!(remote.code(), Some(code), "{remote}");
    assert_eq!(
        local.stdout_bytes(),
        remote.stdout_bytes(),
        "{local}\n{remote}"
    );
    remote
}

fn fake(name: &str, behavior: Behavior) -> FakeServer {
    FakeServer::in_temp_dir(name, behavior)
}

#[test]
fn send_exec_views_and_shell_through_ssh() {
    let Some(sshd) = Sshd::start() else { return };
    let Some(ha) = Haproxy::start() else { return };
    let admin = sshd.url(&ha.admin);
    over(&sshd, &["send", &admin, "show info"])
        .succeeds()
        .stdout_has("Name: HAProxy");
    over(
        &sshd,
        &["haproxy", "exec", "-s", &admin, "show servers state be_app"],
    )
    .succeeds()
    .stdout_has("be_app");
    let servers: serde_json::Value = over(&sshd, &["haproxy", "servers", "--json", "-s", &admin])
        .succeeds()
        .json();
    assert!(servers.to_string().contains("s2"), "{servers}");
    over(&sshd, &["haproxy", "stat", "-s", &admin])
        .succeeds()
        .stdout_has("be_app");
    over(&sshd, &["haproxy", "info", "-s", &admin])
        .succeeds()
        .stdout_has("HAProxy");
    // An operator action, and its effect seen through the socket itself.
    over(
        &sshd,
        &["haproxy", "weight", "-s", &admin, "be_app/s2", "42"],
    )
    .succeeds();
    assert_eq!(ha.servers()["s2"]["srv_uweight"], "42");
    // The piped shell: one session, every command through it.
    over(&sshd, &["shell", &admin])
        .stdin("show info\nshow servers state be_app\n")
        .succeeds()
        .stdout_has("Name: HAProxy")
        .stdout_has("be_app");
    // The master CLI, and a worker through it.
    let master = sshd.url(&ha.master);
    over(
        &sshd,
        &[
            "haproxy",
            "exec",
            "-s",
            &master,
            "--worker",
            "current",
            "show info",
        ],
    )
    .succeeds()
    .stdout_has("Name: HAProxy");
    over(&sshd, &["haproxy", "proc", "-s", &master])
        .succeeds()
        .stdout_has("worker");
}

#[test]
fn haproxy_refusing_a_command_is_1() {
    let Some(sshd) = Sshd::start() else { return };
    let Some(ha) = Haproxy::start() else { return };
    let socket = ha.admin.to_str().unwrap();
    same_verdict(
        &sshd,
        &["haproxy", "exec", "-s"],
        socket,
        &["set server be_app/nope state ready"],
        1,
    )
    .stderr_has("No such server");
}

#[test]
fn reload_through_a_remote_master() {
    let Some(sshd) = Sshd::start() else { return };
    let Some(ha) = Haproxy::start() else { return };
    let before = ha.reloads();
    // A configuration file here is not taken for the remote master's.
    over(&sshd, &["haproxy", "reload", "-s", &sshd.url(&ha.master)])
        .env("SOCKCTL_CONFIG", "/nonexistent/haproxy.cfg")
        .succeeds()
        .stdout_has("reloaded")
        .stderr_has("the configuration /nonexistent/haproxy.cfg is not used");
    assert_eq!(ha.reloads(), before + 1);
    // A configuration that does not load: not checked beforehand over ssh (the master's
    // binary is on its host), the master's own rejection is the verdict, as locally.
    let config = std::fs::read_to_string(&ha.config).unwrap();
    std::fs::write(
        &ha.config,
        config.replacen("global\n", "global\n    no_such_keyword\n", 1),
    )
    .unwrap();
    let remote = over(&sshd, &["haproxy", "reload", "-s", &sshd.url(&ha.master)])
        .fails(1)
        .stdout_has("reload failed: the new configuration was rejected");
    let local = sockctl(["haproxy", "reload", "--no-check", "-s"])
        .arg(&ha.master)
        .fails(1);
    let first_words = |run: &Run| run.stdout().split(" (").next().unwrap().to_string();
    assert_eq!(first_words(&remote), first_words(&local));
}

#[test]
fn missing_remote_socket_is_3() {
    let Some(sshd) = Sshd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.sock");
    same_verdict(
        &sshd,
        &["send"],
        missing.to_str().unwrap(),
        &["show info"],
        3,
    )
    .stderr_has(format!(
        "{}: connect: no such file or directory",
        sshd.url(&missing)
    ));
    over(
        &sshd,
        &["send", "ssh://lb/@sockctl-ssh-test-nothing-here", "x"],
    )
    .fails(3)
    .stderr_has("connection refused (nothing is listening on @sockctl-ssh-test-nothing-here");
}

/// The processes whose command line holds `text`, zombies included (by their status).
fn processes_with(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(text) {
            found.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
        }
    }
    found
}

#[test]
fn timeout_is_4_and_ssh_is_gone() {
    let Some(sshd) = Sshd::start() else { return };
    let server = fake("silent.sock", Behavior::Silent);
    let url = sshd.url(server.address());
    let start = Instant::now();
    let child = over(&sshd, &["send", "--timeout", "4s", &url, "show info"])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // While it waits, ssh and the relay run, their command lines naming the socket.
    wait_for(|| processes_with(server.address()).len() >= 2);
    let out = child.wait_with_output().unwrap();
    let run = Run::new("sockctl send --timeout 4s SSH-URL", out)
        .fails(4)
        .stderr_has("timed out after 4.0 s while reading the reply");
    assert!(start.elapsed() < Duration::from_secs(10), "{run}");
    // ssh was killed and reaped by sockctl; the relay on the other side ends with it.
    assert_eq!(
        processes_with(&format!("ssh -F {}", sshd.config().display()))
            .into_iter()
            .filter(|p| p.contains(server.address()))
            .collect::<Vec<_>>(),
        Vec::<String>::new()
    );
    wait_for(|| processes_with(server.address()).is_empty());
}

#[test]
fn reset_and_cut_reply_are_5() {
    let Some(sshd) = Sshd::start() else { return };
    let reset = fake(
        "reset.sock",
        Behavior::ResetMidReply(b"Name: HAProxy\nVers".to_vec()),
    );
    same_verdict(&sshd, &["send"], reset.address(), &["show info"], 5)
        .stderr_has("connection reset by peer while reading the reply (18 bytes received)");

    // A prompt-mode reply the server cuts: no prompt after it, then EOF.
    let cut = fake(
        "cut.sock",
        Behavior::lines(|line| match line {
            b"prompt" | b"prompt p" => Answer::Reply(b"\n> ".to_vec()),
            _ => Answer::ReplyAndClose(b"Name: HAProxy\nVers".to_vec()),
        }),
    );
    let local = sockctl(["shell", cut.address()]).stdin("show info\n").run();
    let remote = over(&sshd, &["shell", &sshd.url(cut.address())])
        .stdin("show info\n")
        .run();
    assert_eq!(local.code(), Some(5), "{local}");
    assert_eq!(remote.code(), Some(5), "{remote}");
    assert_eq!(local.stdout_bytes(), remote.stdout_bytes());
    let before_command = fake("early.sock", Behavior::CloseBeforeRead);
    same_verdict(
        &sshd,
        &["send"],
        before_command.address(),
        &["show info"],
        5,
    )
    .stderr_has("the server closed the connection before reading the command");
}

#[test]
fn reply_larger_than_a_pipe_buffer_is_byte_exact() {
    let Some(sshd) = Sshd::start() else { return };
    // 3 MiB of every byte value in an order that repeats rarely.
    let mut reply = Vec::with_capacity(3 << 20);
    let mut x: u32 = 1;
    while reply.len() < 3 << 20 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        reply.push(x as u8);
    }
    let server = fake("big.sock", Behavior::Reply(reply.clone()));
    let out = over(&sshd, &["send", &sshd.url(server.address()), "x"]).succeeds();
    assert!(
        out.stdout_bytes() == reply,
        "{} bytes differ",
        out.stdout_bytes().len()
    );
    // What the client sent arrived, half-closed, as it would on the socket itself.
    let received = server.received();
    assert_eq!(received.len(), 1);
}

#[test]
fn an_ssh_that_cannot_connect_is_3_with_its_message() {
    let Some(sshd) = Sshd::start() else { return };
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    over(
        &sshd,
        &["send", &format!("ssh://lb:{closed}/run/x.sock"), "x"],
    )
    .fails(3)
    .stderr_has(format!(
        "ssh: connect to host 127.0.0.1 port {closed}: Connection refused"
    ))
    .stderr_has(format!("check that 'ssh -p {closed} lb true' works"));
    // A host key that does not match: ssh's own words, exit 3.
    let other = sshd.dir.path().join("other_known_hosts");
    std::fs::write(&other, "").unwrap();
    sockctl(["send", "ssh://lb/run/x.sock", "x"])
        .env(
            "SOCKCTL_SSH",
            format!(
                "ssh -F {} -o UserKnownHostsFile={}",
                sshd.config().display(),
                other.display()
            ),
        )
        .fails(3)
        .stderr_has("Host key verification failed");
}

#[test]
fn a_missing_remote_binary_is_a_clear_error() {
    let Some(sshd) = Sshd::start() else { return };
    let server = fake("a.sock", Behavior::Reply(b"ok\n".to_vec()));
    let url = sshd.url(server.address());
    over(&sshd, &["send", &url, "x"])
        .env("SOCKCTL_REMOTE", "/nonexistent/sockctl")
        .fails(3)
        .stderr_has("'/nonexistent/sockctl' was not found on lb")
        .stderr_has("No such file or directory")
        .stderr_has("set SOCKCTL_REMOTE to its path");
    // A program that is not a relay (an older sockctl fails the same way: clap's exit 2).
    over(&sshd, &["send", &url, "x"])
        .env("SOCKCTL_REMOTE", "false")
        .fails(3)
        .stderr_has("the sockctl on lb did not start a relay (exit 1)");
    // The remote program named explicitly, and options split as a shell would.
    over(&sshd, &["send", &url, "x"])
        .env("SOCKCTL_REMOTE", env!("CARGO_BIN_EXE_sockctl"))
        .env(
            "SOCKCTL_SSH",
            format!(
                "ssh -F '{}' -o 'ServerAliveInterval 5'",
                sshd.config().display()
            ),
        )
        .succeeds()
        .stdout_is("ok\n");
    over(&sshd, &["send", &url, "x"])
        .env("SOCKCTL_SSH", "ssh -F 'unterminated")
        .fails(2)
        .stderr_has("SOCKCTL_SSH: unterminated single quote");
}

#[test]
fn fan_out_mixes_local_and_remote_sockets() {
    let Some(sshd) = Sshd::start() else { return };
    let here = fake("here.sock", Behavior::Reply(b"from here\n".to_vec()));
    let there = fake("there.sock", Behavior::Reply(b"from there\n".to_vec()));
    let remote = sshd.url(there.address());
    let missing = sshd.url(Path::new(there.dir()).join("missing.sock"));
    let doc: serde_json::Value = over(
        &sshd,
        &["send", "--json", "-s", here.address(), "-s", &remote, "x"],
    )
    .succeeds()
    .json();
    let text = doc.to_string();
    assert!(
        text.contains("from here") && text.contains("from there"),
        "{doc}"
    );
    assert!(doc.get(&remote).is_some(), "{doc}");
    // The worst verdict wins, and each socket keeps its own.
    let list = here.dir().join("sockets");
    std::fs::write(&list, format!("{}\n{remote}\n{missing}\n", here.address())).unwrap();
    over(&sshd, &["send", "--sockets-file"])
        .arg(&list)
        .arg("x")
        .fails(3)
        .stdout_has("from here")
        .stdout_has("from there")
        .stderr_has("missing.sock: connect: no such file or directory");
}

#[test]
fn commands_writing_beside_haproxy_are_refused() {
    let Some(sshd) = Sshd::start() else { return };
    let server = fake("admin.sock", Behavior::Reply(b"never asked\n".to_vec()));
    let url = sshd.url(server.address());
    over(&sshd, &["haproxy", "save-state", "-s", &url])
        .fails(2)
        .stderr_has("save-state over ssh:// is refused")
        .stderr_has("run sockctl on that host");
    let file = server.dir().join("copy.state");
    over(&sshd, &["haproxy", "save-state", "-s", &url, "-o"])
        .arg(&file)
        .fails(2);
    over(&sshd, &["haproxy", "reload", "--save-state", "-s", &url])
        .fails(2)
        .stderr_has("reload --save-state over ssh:// is refused");
    over(&sshd, &["haproxy", "reload", "--sync-maps", "-s", &url])
        .fails(2)
        .stderr_has("reload --sync-maps over ssh:// is refused: map files must be written");
    assert!(!file.exists());
    assert_eq!(server.connections(), 0);
}

#[test]
fn addresses_that_would_be_ssh_options_are_refused() {
    sockctl(["send", "ssh://-oProxyCommand=touch${IFS}x/run/a.sock", "x"])
        .fails(2)
        .stderr_has("not a host name");
    sockctl(["send", "ssh://lb", "x"])
        .fails(2)
        .stderr_has("missing the socket after the host");
}

#[test]
fn a_remote_that_is_not_a_relay_of_this_version_is_named() {
    let Some(sshd) = Sshd::start() else { return };
    let server = fake("a.sock", Behavior::Reply(b"ok\n".to_vec()));
    let url = sshd.url(server.address());
    // Something else on the session's standard output (a login script's words).
    over(&sshd, &["send", &url, "x"])
        .env("SOCKCTL_REMOTE", "echo Welcome")
        .fails(3)
        .stderr_has("lb wrote something else than a relay's header ('Welcome __relay 1");
    // A relay of another version.
    over(&sshd, &["send", &url, "x"])
        .env("SOCKCTL_REMOTE", r"printf 'sockctl-relay 2\n'")
        .fails(3)
        .stderr_has("the sockctl on lb speaks relay version 2, this one 1");
    assert_eq!(server.connections(), 0);
}

#[test]
fn a_connection_lost_in_the_middle_of_a_reply_is_5() {
    let Some(sshd) = Sshd::start() else { return };
    let server = fake("slow.sock", Behavior::Silent);
    let child = over(
        &sshd,
        &["send", "--timeout", "60s", &sshd.url(server.address()), "x"],
    )
    .command()
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // The relay on the other side dies: ssh ends without the relay's end record.
    let relay = || -> Option<i32> {
        std::fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline);
            let ours = text.contains("__relay") && text.contains(server.address());
            let is_ssh = text.starts_with("ssh\0");
            (ours && !is_ssh).then(|| e.file_name().to_str()?.parse().ok())?
        })
    };
    // Once the relay has connected and said so (the server counts the connection; the
    // record follows at once).
    wait_for(|| server.connections() >= 1 && relay().is_some());
    std::thread::sleep(Duration::from_millis(300));
    let pid = rustix::process::Pid::from_raw(relay().unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    let out = child.wait_with_output().unwrap();
    Run::new("sockctl send --timeout 60s SSH-URL x", out)
        .fails(5)
        .stderr_has("the ssh connection to lb ended before the reply did");
}

#[test]
fn every_example_of_the_ssh_page_runs() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/fleet-ssh.md")).unwrap();
    let Some(sshd) = Sshd::start() else { return };
    let Some(ha) = Haproxy::start() else { return };
    let bin = Path::new(env!("CARGO_BIN_EXE_sockctl")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let found = crate::support::doc_examples(&doc);
    assert!(found.len() >= 8, "{found:?}");
    let mut failures = Vec::new();
    for (example, expected) in &found {
        let command = example
            .replace("/run/haproxy/admin.sock", ha.admin.to_str().unwrap())
            .replace("/run/haproxy/master.sock", ha.master.to_str().unwrap())
            .replace("/run/haproxy/", &format!("{}/", ha.dir.path().display()));
        let out = std::process::Command::new("bash")
            .args(["-o", "pipefail", "-c", &command])
            .env("PATH", &path)
            .env("SOCKCTL_SSH", sshd.ssh_command())
            .env_remove("SOCKCTL_REMOTE")
            .output()
            .unwrap();
        if out.status.code() != Some(*expected) {
            failures.push(format!(
                "{example}\n  exit {:?}, expected {expected}\n  {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn interactive_shell_through_ssh_and_ctrl_c() {
    use crate::support::pty::Pty;
    let Some(sshd) = Sshd::start() else { return };
    let server = fake(
        "slow.sock",
        Behavior::lines(|line| match line {
            b"prompt" | b"prompt p" => Answer::Reply(b"\n> ".to_vec()),
            b"hang" => Answer::Reply(Vec::new()),
            b"show info" => Answer::Reply(b"Name: HAProxy\n\n> ".to_vec()),
            _ => Answer::Reply(b"Unknown command.\n\n> ".to_vec()),
        }),
    );
    let url = sshd.url(server.address());
    let ssh = sshd.ssh_command();
    let mut pty = Pty::sockctl(
        &["shell", "--timeout", "60s", &url],
        &[("SOCKCTL_SSH", &ssh)],
    );
    pty.expect("lb:slow.sock> ");
    pty.line("show info");
    pty.expect("Name: HAProxy");
    pty.expect("lb:slow.sock> ");
    pty.line("hang");
    pty.expect("hang");
    pty.wait_cooked();
    // Ctrl-C abandons the reply, as locally (not a lost ssh connection); the next command
    // starts ssh again.
    pty.send("\x03");
    pty.expect("interrupted; the next command reconnects");
    pty.expect("lb:slow.sock> ");
    pty.line("show info");
    pty.expect("reconnected (the previous reply did not complete)");
    pty.expect("Name: HAProxy");
    pty.line("quit");
    pty.succeeds();
    assert!(
        !pty.transcript().contains("ssh connection"),
        "{}",
        pty.transcript()
    );
}
