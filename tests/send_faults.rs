//! Every way an exchange can fail, each with its exit code, its message and a time bound.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::fake::{Behavior, FakeServer, FullBacklog};
use crate::support::{Run, interrupt, leftovers, sockctl};

fn unix_server(behavior: Behavior) -> FakeServer {
    FakeServer::in_temp_dir("admin.sock", behavior)
}

/// Runs `sockctl send ARGS` and checks it ended within `bound`.
fn send_within(bound: Duration, args: &[&str]) -> Run {
    let start = Instant::now();
    let out = sockctl(["send"]).args(args).run();
    assert!(start.elapsed() < bound, "took {:?}\n{out}", start.elapsed());
    out
}

#[test]
fn silent_server_times_out() {
    let server = unix_server(Behavior::Silent);
    send_within(
        Duration::from_secs(3),
        &["--timeout", "300ms", server.address(), "x"],
    )
    .fails(4)
    .stderr_has("timed out after 300 ms while reading the reply (0 bytes received, no EOF)");
}

#[test]
fn reply_without_eof_is_not_a_success() {
    let server = unix_server(Behavior::ReplyNoClose(b"looks complete\n\n".to_vec()));
    send_within(
        Duration::from_secs(3),
        &["--timeout", "300ms", server.address(), "x"],
    )
    .fails(4)
    .stderr_has("(16 bytes received, no EOF)")
    // What did arrive is still shown: the user may need it to understand the failure.
    .stdout_is("looks complete\n\n");
}

#[test]
fn dripping_server_trips_the_idle_timeout() {
    let server = unix_server(Behavior::Drip {
        reply: vec![b'x'; 50],
        every: Duration::from_millis(400),
    });
    send_within(
        Duration::from_secs(3),
        &["--idle-timeout", "200ms", server.address(), "x"],
    )
    .fails(4)
    .stderr_has("no data for 200 ms while reading the reply");
}

#[test]
fn drip_within_the_idle_timeout_completes() {
    let server = unix_server(Behavior::Drip {
        reply: b"abcde".to_vec(),
        every: Duration::from_millis(50),
    });
    send_within(
        Duration::from_secs(3),
        &["--idle-timeout", "1s", server.address(), "x"],
    )
    .succeeds()
    .stdout_is("abcde");
}

#[test]
fn overall_deadline_holds_against_a_steady_drip() {
    let server = unix_server(Behavior::Drip {
        reply: vec![b'x'; 100],
        every: Duration::from_millis(20),
    });
    send_within(
        Duration::from_secs(3),
        &[
            "--timeout",
            "500ms",
            "--idle-timeout",
            "1s",
            server.address(),
            "x",
        ],
    )
    .fails(4)
    .stderr_has("timed out after 500 ms while reading the reply");
}

#[test]
fn reset_mid_reply_is_an_incomplete_reply() {
    let server = unix_server(Behavior::ResetMidReply(b"Name: HAProxy\nVers".to_vec()));
    send_within(Duration::from_secs(3), &[server.address(), "show info"])
        .fails(5)
        .stderr_has("connection reset by peer while reading the reply (18 bytes received)");
}

#[test]
fn tcp_reset_is_an_incomplete_reply() {
    let server = FakeServer::tcp(Behavior::ResetMidReply(b"partial".to_vec()));
    send_within(Duration::from_secs(3), &[server.address(), "show info"]).fails(5);
}

#[test]
fn server_closing_before_the_command_is_reported() {
    let server = unix_server(Behavior::CloseBeforeRead);
    send_within(Duration::from_secs(3), &[server.address(), "show info"])
        .fails(5)
        .stderr_has("the server closed the connection before reading the command");
}

#[test]
fn reply_over_max_bytes_is_refused() {
    let server = unix_server(Behavior::Flood(10 << 20));
    let out = send_within(
        Duration::from_secs(5),
        &["--max-bytes", "64KiB", server.address(), "x"],
    )
    .fails(5)
    .stderr_has("reply larger than the limit of 65536 bytes");
    assert!(out.stdout_bytes().len() <= 65536, "{out}");
}

#[test]
fn one_gibibyte_reply_streams_through() {
    let server = unix_server(Behavior::Flood(1 << 30));
    let send = sockctl(["send", "-v", "--timeout", "60s", server.address(), "x"]);
    let out = send.command().stdout(Stdio::null()).output().unwrap();
    send.ended(out)
        .succeeds()
        .stderr_has("received 1073741824 B");
}

#[test]
fn full_backlog_hits_the_connect_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let backlog = FullBacklog::new(dir.path().join("busy.sock"));
    send_within(
        Duration::from_secs(3),
        &[
            "--connect-timeout",
            "300ms",
            backlog.path.to_str().unwrap(),
            "x",
        ],
    )
    .fails(4)
    .stderr_has("connect: timed out after 300 ms");
}

#[test]
fn stale_socket_file_gets_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let out = send_within(Duration::from_secs(3), &[path.to_str().unwrap(), "x"])
        .fails(3)
        .stderr_has("stale socket: the file exists but nothing is listening");
    let start = format!("sockctl: {}: connect:", path.display());
    assert!(out.stderr().starts_with(&start), "{out}");
}

#[test]
fn missing_socket_file() {
    send_within(
        Duration::from_secs(3),
        &["/nonexistent/dir/admin.sock", "x"],
    )
    .fails(3)
    .stderr_has("sockctl: /nonexistent/dir/admin.sock: connect: no such file or directory");
}

#[test]
fn regular_file_and_directory_are_not_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("haproxy.cfg");
    std::fs::write(&file, "").unwrap();
    send_within(Duration::from_secs(3), &[file.to_str().unwrap(), "x"])
        .fails(3)
        .stderr_has("not a socket (it is a regular file)");
    send_within(Duration::from_secs(3), &[dir.path().to_str().unwrap(), "x"])
        .fails(3)
        .stderr_has("not a socket (it is a directory)");
}

#[test]
fn permission_denied_gets_a_hint() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let server = FakeServer::unix(
        dir.path().join("admin.sock"),
        Behavior::Reply(b"x".to_vec()),
    );
    let mut binary = assert_cmd::cargo::cargo_bin("sockctl");
    if rustix::process::geteuid().is_root() {
        // Root ignores file modes: ask as nobody, who may enter the directory but not write
        // to the socket. Nobody runs a copy of the binary from that directory: the checkout
        // may be somewhere only root can enter (a home directory, a private temp dir).
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let copy = dir.path().join("sockctl");
        std::fs::copy(&binary, &copy).unwrap();
        binary = copy;
    }
    let mut command = Command::new(&binary);
    command.args(["send", server.address(), "x"]);
    if rustix::process::geteuid().is_root() {
        std::fs::set_permissions(
            server.path.as_ref().unwrap(),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        command.uid(65534).gid(65534);
    } else {
        std::fs::set_permissions(
            server.path.as_ref().unwrap(),
            std::fs::Permissions::from_mode(0o000),
        )
        .unwrap();
    }
    Run::new(format!("{command:?}"), command.output().unwrap())
        .fails(3)
        .stderr_has("connect: permission denied (check the socket's owner and mode");
    assert_eq!(server.connections(), 0);
}

#[test]
fn socket_path_longer_than_sun_path_works() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("d".repeat(150)).join("e".repeat(40));
    std::fs::create_dir_all(&deep).unwrap();
    let path = deep.join("admin.sock");
    assert!(path.as_os_str().len() > 200);
    let server = FakeServer::unix_long(path.clone(), Behavior::Reply(b"long\n".to_vec()));
    send_within(
        Duration::from_secs(3),
        &[path.to_str().unwrap(), "show info"],
    )
    .succeeds()
    .stdout_is("long\n");
    assert!(server.received()[0].half_closed);
}

#[test]
fn tcp_port_refusing() {
    // Bind then drop: the port is free and, for a moment, nobody else's.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    send_within(Duration::from_secs(3), &[&address, "x"])
        .fails(3)
        .stderr_has(format!(
            "connection refused (nothing is listening on {address})"
        ));
}

#[test]
fn name_that_does_not_resolve() {
    send_within(Duration::from_secs(10), &["no-such-host.invalid:9999", "x"])
        .fails(3)
        .stderr_has("cannot resolve 'no-such-host.invalid'");
}

#[test]
fn bad_address_is_a_usage_error_listing_the_forms() {
    send_within(Duration::from_secs(3), &["admin-sock-not-here", "x"])
        .fails(2)
        .stderr_has("accepted forms: /path/to.sock");
}

#[test]
fn closed_stdout_ends_quietly() {
    let server = unix_server(Behavior::Flood(64 << 20));
    let send = sockctl(["send", server.address(), "x"]);
    let mut child = send
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut one = [0u8; 1];
    child.stdout.as_mut().unwrap().read_exact(&mut one).unwrap();
    drop(child.stdout.take());
    send.ended(child.wait_with_output().unwrap())
        .succeeds()
        .stderr_is("");
}

#[test]
fn sigint_during_a_long_reply_exits_130_and_leaves_no_files() {
    let server = unix_server(Behavior::Drip {
        reply: vec![b'x'; 1000],
        every: Duration::from_millis(10),
    });
    let file = server.dir().join("out");
    std::fs::write(&file, "before").unwrap();
    let send = sockctl(["send", "-o", file.to_str().unwrap(), server.address(), "x"]);
    let child = send.command().stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    interrupt(&child);
    send.ended(child.wait_with_output().unwrap())
        .killed_by(libc::SIGINT)
        .stderr_has("interrupted");
    assert_eq!(std::fs::read(&file).unwrap(), b"before");
    assert_eq!(leftovers(server.dir()), Vec::<String>::new());
}
