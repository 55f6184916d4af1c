//! `sockctl send` against fake servers: what goes on the wire and what comes out.

use std::time::Duration;

use crate::support::fake::{Behavior, FakeServer};
use crate::support::{leftovers, sockctl};

fn unix_server(behavior: Behavior) -> FakeServer {
    FakeServer::in_temp_dir("admin.sock", behavior)
}

/// Bytes no text-minded client would pass through unharmed.
const AWKWARD: &[u8] = b"caf\xc3\xa9 \xff\xfe\x00nul\r\n  trailing spaces  \n\n";

#[test]
fn sends_the_line_half_closes_and_passes_bytes_through() {
    let server = unix_server(Behavior::Reply(AWKWARD.to_vec()));
    sockctl(["send", server.address(), "show info"])
        .succeeds()
        .stdout_is(AWKWARD)
        .stderr_is("");
    let got = server.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].bytes, b"show info\n");
    assert!(got[0].half_closed, "client did not shutdown(SHUT_WR)");
}

#[test]
fn abstract_and_tcp_sockets_work_the_same() {
    let name = format!("sockctl-test-{}", std::process::id());
    let servers = [
        FakeServer::abstract_name(&name, Behavior::Reply(AWKWARD.to_vec())),
        FakeServer::tcp(Behavior::Reply(AWKWARD.to_vec())),
    ];
    for server in &servers {
        for address in [server.address().to_string(), alias(server.address())] {
            sockctl(["send", &address, "show info"])
                .succeeds()
                .stdout_is(AWKWARD);
        }
        assert!(server.received().iter().all(|r| r.half_closed));
        assert!(server.received().iter().all(|r| r.bytes == b"show info\n"));
    }
}

/// The other spelling of the same address: socat's for abstract and for TCP.
fn alias(address: &str) -> String {
    match address.strip_prefix('@') {
        Some(name) => format!("abstract:{name}"),
        None => format!("tcp:{address}"),
    }
}

/// HAProxy binds `abns@NAME` NUL-padded to the whole `sun_path`: `abns@` reaches such a socket,
/// the exact-length forms do not (and the message says which spelling would).
#[test]
fn abns_reaches_a_padded_abstract_socket_as_haproxy_binds_it() {
    let name = format!("sockctl-padded-{}", std::process::id());
    let server = FakeServer::abstract_padded(&name, Behavior::Reply(b"padded\n".to_vec()));
    sockctl(["send", &format!("abns@{name}"), "show info"])
        .succeeds()
        .stdout_is("padded\n");
    assert!(server.received()[0].half_closed);
    sockctl(["send", &format!("@{name}"), "show info"])
        .fails(3)
        .stderr_has(format!("is reached as abns@{name}"));
}

#[test]
fn each_command_gets_its_own_connection_in_order() {
    let server = unix_server(Behavior::Sequence(vec![
        Behavior::Reply(b"one\n".to_vec()),
        Behavior::Reply(b"two\n".to_vec()),
        Behavior::Reply(b"three\n".to_vec()),
    ]));
    sockctl(["send", server.address(), "a", "b", "c"])
        .succeeds()
        .stdout_is("one\ntwo\nthree\n");
    let sent: Vec<_> = server.received().into_iter().map(|r| r.bytes).collect();
    assert_eq!(sent, [b"a\n".to_vec(), b"b\n".to_vec(), b"c\n".to_vec()]);
}

#[test]
fn commands_from_stdin_skip_blanks_and_comments() {
    let server = unix_server(Behavior::Reply(b"ok\n".to_vec()));
    sockctl(["send", server.address(), "-"])
        .stdin("show info\n\n# a comment\n   \nshow stat\r\nlast line")
        .succeeds()
        .stdout_is("ok\nok\nok\n");
    let sent: Vec<_> = server.received().into_iter().map(|r| r.bytes).collect();
    assert_eq!(
        sent,
        [
            b"show info\n".to_vec(),
            b"show stat\n".to_vec(),
            b"last line\n".to_vec()
        ]
    );
    // No COMMAND at all also reads stdin.
    sockctl(["send", server.address()])
        .stdin("show info\n")
        .succeeds()
        .stdout_is("ok\n");
}

#[test]
fn a_command_that_would_smuggle_another_is_refused_before_connecting() {
    let server = unix_server(Behavior::Reply(b"ok\n".to_vec()));
    let smuggler = "show info\nshutdown sessions";
    sockctl(["send", server.address(), "show info", smuggler])
        .fails(2)
        .stderr_has("command 2: command refused: it contains a newline at byte 9");
    assert_eq!(server.connections(), 0);

    sockctl(["send", server.address(), "-"])
        .stdin("show info\nbad\0byte\n")
        .fails(2)
        .stderr_has("stdin line 2: command refused: it contains a NUL byte");
    assert_eq!(server.connections(), 1);
}

#[test]
fn stops_at_the_first_failure_unless_keep_going() {
    let behaviors = || {
        Behavior::Sequence(vec![
            Behavior::Reply(b"one\n".to_vec()),
            Behavior::CloseBeforeRead,
            Behavior::Reply(b"three\n".to_vec()),
        ])
    };
    let server = unix_server(behaviors());
    sockctl(["send", server.address(), "a", "b", "c"])
        .fails(5)
        .stderr_has("before reading the command")
        .stdout_is("one\n");
    assert_eq!(server.connections(), 2);

    let server = unix_server(behaviors());
    sockctl(["send", "--keep-going", server.address(), "a", "b", "c"])
        .fails(5)
        .stderr_has("before reading the command")
        .stdout_is("one\nthree\n");
    assert_eq!(server.connections(), 3);
}

#[test]
fn verbose_reports_the_exchange() {
    let server = unix_server(Behavior::Reply(b"0123456789".to_vec()));
    sockctl(["send", "-v", server.address(), "show info"])
        .succeeds()
        .stderr_has("via unix:")
        .stderr_has("sent 10 B, received 10 B")
        .stderr_has("first byte after")
        .stderr_has("EOF after");
}

#[test]
fn output_file_is_the_reply_and_private() {
    use std::os::unix::fs::PermissionsExt;
    let server = unix_server(Behavior::Reply(AWKWARD.to_vec()));
    let file = server.dir().join("reply.out");
    sockctl(["send", "-o", file.to_str().unwrap(), server.address(), "x"])
        .succeeds()
        .stdout_is("");
    assert_eq!(std::fs::read(&file).unwrap(), AWKWARD);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn output_file_keeps_old_contents_and_mode_on_failure() {
    use std::os::unix::fs::PermissionsExt;
    let server = unix_server(Behavior::ReplyNoClose(b"partial".to_vec()));
    let file = server.dir().join("haproxy.state");
    std::fs::write(&file, "previous\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    sockctl(["send", "--timeout", "300ms", "-o", file.to_str().unwrap()])
        .args([server.address(), "show servers state"])
        .fails(4)
        .stderr_has("timed out");
    assert_eq!(std::fs::read(&file).unwrap(), b"previous\n");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
    assert_eq!(leftovers(server.dir()), Vec::<String>::new());

    // A successful replace keeps the mode too.
    let good = unix_server(Behavior::Reply(b"new\n".to_vec()));
    sockctl(["send", "-o", file.to_str().unwrap(), good.address(), "x"]).succeeds();
    assert_eq!(std::fs::read(&file).unwrap(), b"new\n");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[test]
fn output_to_a_symlink_is_refused() {
    let server = unix_server(Behavior::Reply(b"new\n".to_vec()));
    let target = server.dir().join("target");
    std::fs::write(&target, "keep").unwrap();
    let link = server.dir().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    sockctl(["send", "-o", link.to_str().unwrap(), server.address(), "x"])
        .fails(6)
        .stderr_has("symbolic link");
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    assert_eq!(server.connections(), 0);
}

#[test]
fn durations_and_sizes_are_checked() {
    sockctl(["send", "--timeout", "soon", "/nonexistent/x.sock", "x"])
        .fails(2)
        .stderr_has("expected a duration such as 500ms");
    sockctl(["send", "--max-bytes", "lots", "/nonexistent/x.sock", "x"])
        .fails(2)
        .stderr_has("expected a size such as");
}

#[test]
fn a_zero_timeout_means_no_limit() {
    let server = unix_server(Behavior::Drip {
        reply: b"abc".to_vec(),
        every: Duration::from_millis(100),
    });
    sockctl(["send", "--timeout", "0", server.address(), "x"])
        .succeeds()
        .stdout_is("abc");
}
