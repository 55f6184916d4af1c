//! Hardening: signals while waiting on input, the interactive shell's terminal, names from the
//! peer on the terminal, the open-file limit, odd addresses and a closed standard output.

use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::fake::{Answer, Behavior, FakeServer};
use crate::support::haproxy::Haproxy;
use crate::support::pty::Pty;
use crate::support::{Run, Sockctl, send, sockctl};

fn signal(child: &Child, signal: rustix::process::Signal) {
    rustix::process::kill_process(rustix::process::Pid::from_child(child), signal).unwrap();
}

/// Waits until process `pid` handles `signal` (sockctl installed its handlers), so that the
/// signal sent next reaches sockctl's handler rather than the default action.
fn wait_handled(pid: u32, signal: i32) {
    let status = format!("/proc/{pid}/status");
    crate::support::wait_for(|| {
        let text = std::fs::read_to_string(&status).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
    });
    // The handler is in place; give the run a moment to reach its wait for input (not needed
    // for the verdict: a signal arriving earlier is seen when the wait starts).
    std::thread::sleep(Duration::from_millis(200));
}

/// Waits for `child`, started from `command`, to end within a few seconds (what it waits for
/// would take far longer).
fn ends_within_seconds(command: &Sockctl, mut child: Child) -> Run {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let out = command.ended(child.wait_with_output().unwrap());
            panic!("still running after 5 s\n{out}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    command.ended(child.wait_with_output().unwrap())
}

fn mkfifo(path: &Path) {
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
}

#[test]
fn sigterm_ends_a_batch_waiting_on_stdin() {
    let exec = sockctl(["haproxy", "exec", "-s", "/nonexistent/admin.sock"]).args(["--batch", "-"]);
    let child = exec
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Standard input stays open and silent, as with `sleep 8 | sockctl …`.
    wait_handled(child.id(), libc::SIGTERM);
    signal(&child, rustix::process::Signal::TERM);
    ends_within_seconds(&exec, child).killed_by(libc::SIGTERM);
}

#[test]
fn sigint_ends_a_batch_waiting_for_a_fifo_writer() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("batch");
    mkfifo(&fifo);
    // Nobody opens the FIFO for writing: opening it for reading waits.
    let exec = sockctl([
        "haproxy",
        "exec",
        "-s",
        "/nonexistent/admin.sock",
        "--batch",
    ])
    .arg(&fifo);
    let child = exec
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_handled(child.id(), libc::SIGINT);
    signal(&child, rustix::process::Signal::INT);
    ends_within_seconds(&exec, child).killed_by(libc::SIGINT);
}

#[test]
fn sigterm_ends_a_sockets_file_fifo_that_stays_open() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("sockets");
    mkfifo(&fifo);
    let send = sockctl(["send", "--sockets-file"])
        .arg(&fifo)
        .arg("show info");
    let child = send
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A writer that sends part of a list and then holds the FIFO open.
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    writer.write_all(b"/nonexistent/a.sock\n/nonexist").unwrap();
    wait_handled(child.id(), libc::SIGTERM);
    signal(&child, rustix::process::Signal::TERM);
    ends_within_seconds(&send, child).killed_by(libc::SIGTERM);
    drop(writer);
}

/// A fake HAProxy stats socket whose server names hold terminal escape sequences.
fn hostile_names(line: &[u8]) -> Answer {
    Answer::Reply(match line {
        b"prompt p" => b"\n> ".to_vec(),
        b"help" => b"  set server <bk>/<srv> [opts] : change a server\n  show servers state [<backend>] : dump\n  hang : no reply\n\n> "
            .to_vec(),
        b"show servers state" => b"1\n# be_id be_name srv_id srv_name srv_addr\n\
3 be_app 1 s1 127.0.0.1 2\n\
3 be_app 2 \x1b]0;pwned\x07 127.0.0.1 2\n\
4 \x1b]52;c;aGk=\x07 1 s1 127.0.0.1 2\n\
5 be_c1 1 s\xc2\x9b2J 127.0.0.1 2\n\
6 be_del 1 s\x7f 127.0.0.1 2\n\n> "
            .to_vec(),
        b"hang" => Vec::new(),
        _ => b"Unknown command.\n\n> ".to_vec(),
    })
}

fn hostile_shell() -> (FakeServer, Pty) {
    let fake = FakeServer::in_temp_dir("lb.sock", Behavior::lines(hostile_names));
    let mut pty = Pty::shell(fake.address(), &[]);
    pty.expect("lb.sock> ");
    (fake, pty)
}

#[test]
fn shell_completion_drops_names_with_control_characters() {
    let (_fake, mut pty) = hostile_shell();
    // One clean server is left, so Tab completes it whole.
    pty.send("set server \t");
    pty.expect("set server be_app/s1 ");
    pty.send("\x15show servers state \t\t");
    pty.expect("be_app");
    pty.send("\x15quit\r");
    pty.succeeds();
    let transcript = pty.transcript();
    for bad in ["\x1b]0;pwned", "\x1b]52;", "\u{9b}2J", "s\x7f"] {
        assert!(
            !transcript.contains(bad),
            "{bad:?} reached the terminal: {transcript:?}"
        );
    }
}

#[test]
fn shell_ends_on_sigterm_and_sighup_with_the_terminal_restored() {
    // At the prompt: the line editor holds the terminal in raw mode.
    for (sig, number) in [
        (rustix::process::Signal::TERM, libc::SIGTERM),
        (rustix::process::Signal::HUP, libc::SIGHUP),
    ] {
        let (_fake, mut pty) = hostile_shell();
        let pid = rustix::process::Pid::from_raw(pty.pid() as i32).unwrap();
        rustix::process::kill_process(pid, sig).unwrap();
        let status = pty.status_within(Duration::from_secs(5));
        let status = status.unwrap_or_else(|| panic!("{sig:?} did not end the shell"));
        assert_eq!(status.signal(), Some(number), "{}", pty.transcript());
        pty.wait_cooked();
    }
    // Waiting for a reply.
    let (_fake, mut pty) = hostile_shell();
    pty.line("hang");
    pty.wait_cooked();
    let pid = rustix::process::Pid::from_raw(pty.pid() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = pty.status_within(Duration::from_secs(5));
    let status = status.unwrap_or_else(|| panic!("SIGTERM did not end the shell"));
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{}", pty.transcript());
}

#[test]
fn an_address_with_a_newline_stays_on_one_line() {
    let out = sockctl(["send", "/nonexistent/a\nb.sock", "show info"])
        .fails(3)
        .stderr_has(r"/nonexistent/a\x0ab.sock");
    assert_eq!(out.stderr().lines().count(), 1, "{out}");
}

#[test]
fn a_socket_path_that_is_not_utf8_works() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(OsStr::from_bytes(b"\xff.sock"));
    let fake = FakeServer::unix(path.clone(), Behavior::Reply(b"Name: HAProxy\n".to_vec()));
    sockctl(["send"])
        .arg(&path)
        .arg("show info")
        .succeeds()
        .stdout_is("Name: HAProxy\n");
    // With -s, and once more in a list of sockets: one target, labelled with the byte shown.
    let list = dir.path().join("list");
    std::fs::write(&list, [path.as_os_str().as_bytes(), b"\n"].concat()).unwrap();
    let label = format!("{}/\\xff.sock: ", dir.path().display());
    sockctl(["send", "-s"])
        .arg(&path)
        .arg("--sockets-file")
        .arg(&list)
        .arg("show info")
        .succeeds()
        .stdout_is(format!("{label}Name: HAProxy\n"));
    assert_eq!(fake.connections(), 2);
    // In a message, the byte is shown as it is.
    let missing = dir.path().join(OsStr::from_bytes(b"\xfe.sock"));
    sockctl(["send"])
        .arg(&missing)
        .arg("x")
        .fails(3)
        .stderr_has(r"\xfe.sock");
}

#[test]
fn many_targets_under_a_low_open_file_limit_are_all_contacted() {
    let dir = tempfile::tempdir().unwrap();
    // Each connection stays open a while, so that -j 200 would hold 200 sockets at once.
    let fake = FakeServer::unix(
        dir.path().join("lb.sock"),
        Behavior::Drip {
            reply: b"ok\n".to_vec(),
            every: Duration::from_millis(40),
        },
    );
    let mut list = String::new();
    for i in 0..300 {
        let link = dir.path().join(format!("t{i}.sock"));
        std::os::unix::fs::symlink(dir.path().join("lb.sock"), &link).unwrap();
        list.push_str(&format!("{}\n", link.display()));
    }
    let file = dir.path().join("targets");
    std::fs::write(&file, list).unwrap();
    let out = under_shell(
        "ulimit -n 64",
        &format!("send -j 200 --sockets-file {} 'show info'", file.display()),
    )
    .succeeds()
    .stderr_lacks("Too many open files");
    let err = out.stderr();
    // Says once that -j was lowered.
    assert_eq!(err.matches("-j 200").count(), 1, "{out}");
    assert_eq!(fake.connections(), 300);
    assert_eq!(out.stdout().matches(": ok\n").count(), 300, "{out}");
    // A soft limit below the hard one is raised first: -j stays as asked.
    under_shell(
        "ulimit -S -n 64 && ulimit -H -n 4096",
        &format!("send -j 200 --sockets-file {} 'show info'", file.display()),
    )
    .succeeds()
    .stderr_is("");
    assert_eq!(fake.connections(), 600);
}

/// `sh -c 'SETUP && exec sockctl ARGS'`: ARGS as the shell reads them.
fn under_shell(setup: &str, args: &str) -> Run {
    let binary = env!("CARGO_BIN_EXE_sockctl");
    let script = format!("{setup} && exec {binary} {args}");
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    Run::new(format!("{setup} && exec sockctl {args}"), out)
}

/// Runs sockctl with its standard output a pipe nobody reads.
fn with_stdout_closed(args: &[&str]) -> Run {
    let (reader, writer) = closed_pipe();
    drop(reader);
    let command = sockctl(args);
    let out = command
        .command()
        .stdout(Stdio::from(writer))
        .output()
        .unwrap();
    command.ended(out)
}

/// A new pipe: its reading end, its writing end.
fn closed_pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills in two new descriptors, owned here from then on.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn weight(ha: &Haproxy) -> String {
    send(&ha.admin, &["get weight be_app/s2"]).stdout()
}

#[test]
fn a_closed_stdout_before_the_last_command_is_exit_6_naming_what_did_not_run() {
    let Some(ha) = Haproxy::start() else { return };
    let admin = ha.admin.to_str().unwrap();
    let set = "set server be_app/s2 weight 42";
    let mut args = vec!["haproxy", "exec", "-s", admin, "help"];
    args.extend(["show stat"; 10]);
    args.push(set);
    let out = with_stdout_closed(&args).fails(6).stderr_has(set);
    assert_eq!(out.stderr().lines().count(), 1, "{out}");
    assert_eq!(weight(&ha).trim_end(), "1 (initial 1)");
    // send: every command on its own connection, the same rule.
    with_stdout_closed(&["send", admin, "help", set])
        .fails(6)
        .stderr_has(set);
    assert_eq!(weight(&ha).trim_end(), "1 (initial 1)");
    // send with the commands on standard input.
    let dir = tempfile::tempdir().unwrap();
    let commands = dir.path().join("commands");
    std::fs::write(&commands, format!("help\n{set}\n")).unwrap();
    let (reader, writer) = closed_pipe();
    drop(reader);
    let send_stdin = sockctl(["send", admin]);
    let out = send_stdin
        .command()
        .stdin(std::fs::File::open(&commands).unwrap())
        .stdout(Stdio::from(writer))
        .output()
        .unwrap();
    send_stdin.ended(out).fails(6).stderr_has(set);
    assert_eq!(weight(&ha).trim_end(), "1 (initial 1)");
    // A batch.
    let batch = dir.path().join("batch");
    std::fs::write(&batch, format!("help\nshow stat\n{set}\n")).unwrap();
    with_stdout_closed(&[
        "haproxy",
        "exec",
        "-s",
        admin,
        "--batch",
        batch.to_str().unwrap(),
    ])
    .fails(6)
    .stderr_has("line 3");
    assert_eq!(weight(&ha).trim_end(), "1 (initial 1)");
}

#[test]
fn a_closed_stdout_after_every_command_ran_is_exit_0() {
    let Some(ha) = Haproxy::start() else { return };
    let admin = ha.admin.to_str().unwrap();
    with_stdout_closed(&[
        "haproxy",
        "exec",
        "-s",
        admin,
        "set server be_app/s2 weight 42",
        "help",
    ])
    .succeeds()
    .stderr_is("");
    assert_eq!(weight(&ha).trim_end(), "42 (initial 1)");
    // send writes each reply as it comes: the first reply meets the closed pipe, so only a
    // single command ends quietly.
    with_stdout_closed(&["send", admin, "set server be_app/s2 weight 43"]).succeeds();
    assert_eq!(weight(&ha).trim_end(), "43 (initial 1)");
}

#[test]
fn a_closed_stdout_keeps_the_exit_code_of_a_failed_target() {
    let Some(ha) = Haproxy::start() else { return };
    with_stdout_closed(&[
        "send",
        "-s",
        ha.admin.to_str().unwrap(),
        "-s",
        "/nonexistent/admin.sock",
        "help",
    ])
    .fails(3);
}
