//! `sockctl send` against fake servers: what goes on the wire and what comes out.

use std::time::Duration;

use crate::support::fake::{Behavior, FakeServer};
use crate::support::{assert_fails, sockctl, stderr};

fn unix_server(behavior: Behavior) -> (tempfile::TempDir, FakeServer) {
    let dir = tempfile::tempdir().unwrap();
    let server = FakeServer::unix(dir.path().join("admin.sock"), behavior);
    (dir, server)
}

/// Bytes no text-minded client would pass through unharmed.
const AWKWARD: &[u8] = b"caf\xc3\xa9 \xff\xfe\x00nul\r\n  trailing spaces  \n\n";

#[test]
fn sends_the_line_half_closes_and_passes_bytes_through() {
    let (_dir, server) = unix_server(Behavior::Reply(AWKWARD.to_vec()));
    let out = sockctl()
        .args(["send", server.address(), "show info"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, AWKWARD);
    assert_eq!(out.stderr, b"");
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
            let out = sockctl()
                .args(["send", &address, "show info"])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{address}: {}", stderr(&out));
            assert_eq!(out.stdout, AWKWARD, "{address}");
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
    let out = sockctl()
        .args(["send", &format!("abns@{name}"), "show info"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, b"padded\n");
    assert!(server.received()[0].half_closed);
    let out = sockctl()
        .args(["send", &format!("@{name}"), "show info"])
        .output()
        .unwrap();
    crate::support::assert_fails(&out, 3, &format!("is reached as abns@{name}"));
}

#[test]
fn each_command_gets_its_own_connection_in_order() {
    let (_dir, server) = unix_server(Behavior::Sequence(vec![
        Behavior::Reply(b"one\n".to_vec()),
        Behavior::Reply(b"two\n".to_vec()),
        Behavior::Reply(b"three\n".to_vec()),
    ]));
    let out = sockctl()
        .args(["send", server.address(), "a", "b", "c"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, b"one\ntwo\nthree\n");
    let sent: Vec<_> = server.received().into_iter().map(|r| r.bytes).collect();
    assert_eq!(sent, [b"a\n".to_vec(), b"b\n".to_vec(), b"c\n".to_vec()]);
}

#[test]
fn commands_from_stdin_skip_blanks_and_comments() {
    let (_dir, server) = unix_server(Behavior::Reply(b"ok\n".to_vec()));
    let out = sockctl()
        .args(["send", server.address(), "-"])
        .write_stdin("show info\n\n# a comment\n   \nshow stat\r\nlast line")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, b"ok\nok\nok\n");
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
    let out = sockctl()
        .args(["send", server.address()])
        .write_stdin("show info\n")
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"ok\n");
}

#[test]
fn a_command_that_would_smuggle_another_is_refused_before_connecting() {
    let (_dir, server) = unix_server(Behavior::Reply(b"ok\n".to_vec()));
    let out = sockctl()
        .args([
            "send",
            server.address(),
            "show info",
            "show info\nshutdown sessions",
        ])
        .output()
        .unwrap();
    assert_fails(
        &out,
        2,
        "command 2: command refused: it contains a newline at byte 9",
    );
    assert_eq!(server.connections(), 0);

    let out = sockctl()
        .args(["send", server.address(), "-"])
        .write_stdin("show info\nbad\0byte\n")
        .output()
        .unwrap();
    assert_fails(
        &out,
        2,
        "stdin line 2: command refused: it contains a NUL byte",
    );
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
    let (_dir, server) = unix_server(behaviors());
    let out = sockctl()
        .args(["send", server.address(), "a", "b", "c"])
        .output()
        .unwrap();
    assert_fails(&out, 5, "before reading the command");
    assert_eq!(out.stdout, b"one\n");
    assert_eq!(server.connections(), 2);

    let (_dir, server) = unix_server(behaviors());
    let out = sockctl()
        .args(["send", "--keep-going", server.address(), "a", "b", "c"])
        .output()
        .unwrap();
    assert_fails(&out, 5, "before reading the command");
    assert_eq!(out.stdout, b"one\nthree\n");
    assert_eq!(server.connections(), 3);
}

#[test]
fn verbose_reports_the_exchange() {
    let (_dir, server) = unix_server(Behavior::Reply(b"0123456789".to_vec()));
    let out = sockctl()
        .args(["send", "-v", server.address(), "show info"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(err.contains("via unix:"), "{err}");
    assert!(err.contains("sent 10 B, received 10 B"), "{err}");
    assert!(err.contains("first byte after"), "{err}");
    assert!(err.contains("EOF after"), "{err}");
}

#[test]
fn output_file_is_the_reply_and_private() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, server) = unix_server(Behavior::Reply(AWKWARD.to_vec()));
    let file = dir.path().join("reply.out");
    let out = sockctl()
        .args(["send", "-o", file.to_str().unwrap(), server.address(), "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read(&file).unwrap(), AWKWARD);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn output_file_keeps_old_contents_and_mode_on_failure() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, server) = unix_server(Behavior::ReplyNoClose(b"partial".to_vec()));
    let file = dir.path().join("haproxy.state");
    std::fs::write(&file, "previous\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = sockctl()
        .args(["send", "--timeout", "300ms", "-o", file.to_str().unwrap()])
        .args([server.address(), "show servers state"])
        .output()
        .unwrap();
    assert_fails(&out, 4, "timed out");
    assert_eq!(std::fs::read(&file).unwrap(), b"previous\n");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());

    // A successful replace keeps the mode too.
    let (_dir2, good) = unix_server(Behavior::Reply(b"new\n".to_vec()));
    let out = sockctl()
        .args(["send", "-o", file.to_str().unwrap(), good.address(), "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read(&file).unwrap(), b"new\n");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[test]
fn output_to_a_symlink_is_refused() {
    let (dir, server) = unix_server(Behavior::Reply(b"new\n".to_vec()));
    let target = dir.path().join("target");
    std::fs::write(&target, "keep").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = sockctl()
        .args(["send", "-o", link.to_str().unwrap(), server.address(), "x"])
        .output()
        .unwrap();
    assert_fails(&out, 6, "symbolic link");
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    assert_eq!(server.connections(), 0);
}

/// Files in `dir` that a run should not have left behind.
pub fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("sockctl-tmp"))
        .collect()
}

#[test]
fn durations_and_sizes_are_checked() {
    let out = sockctl()
        .args(["send", "--timeout", "soon", "/nonexistent/x.sock", "x"])
        .output()
        .unwrap();
    assert_fails(&out, 2, "expected a duration such as 500ms");
    let out = sockctl()
        .args(["send", "--max-bytes", "lots", "/nonexistent/x.sock", "x"])
        .output()
        .unwrap();
    assert_fails(&out, 2, "expected a size such as");
}

#[test]
fn a_zero_timeout_means_no_limit() {
    let (_dir, server) = unix_server(Behavior::Drip {
        reply: b"abc".to_vec(),
        every: Duration::from_millis(100),
    });
    let out = sockctl()
        .args(["send", "--timeout", "0", server.address(), "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, b"abc");
}
