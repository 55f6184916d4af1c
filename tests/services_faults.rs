//! Faults no real server makes on demand, from fake peers: a greeting that never ends, a reply
//! whose end line never comes, a server that never closes but ends its replies its own way.

use std::time::{Duration, Instant};

use crate::support::fake::{Answer, Behavior, FakeServer};
use crate::support::sockctl;

fn answer_lines(line: &[u8]) -> Answer {
    match line {
        b"list" => Answer::Reply(b"a\nb\nEND\n".to_vec()),
        b"broken" => Answer::Reply(b"a\nERR broken\nEND\n".to_vec()),
        b"partial" => Answer::Reply(b"a\nb\n".to_vec()),
        _ => Answer::Reply(b"?\nEND\n".to_vec()),
    }
}

#[test]
fn a_greeting_that_never_ends_is_a_timeout_not_a_reply() {
    let fake = FakeServer::in_temp_dir(
        "bird.ctl",
        Behavior::Interactive {
            greeting: b"0001 BIRD 2.0.12 rea".to_vec(),
            answer: answer_lines,
        },
    );
    let start = Instant::now();
    sockctl(["send", "--proto", "bird", "--timeout", "500ms"])
        .arg(fake.address())
        .arg("show status")
        .fails(4)
        .stderr_has("no complete reply in time");
    assert!(start.elapsed() < Duration::from_secs(5));
    // Nothing was sent before the greeting ended.
    assert!(fake.received().iter().all(|r| r.bytes.is_empty()));

    // The same with a greeting described by an option.
    sockctl([
        "send",
        "--greeting",
        "^ready$",
        "--ends-with",
        "^END$",
        "--timeout",
        "500ms",
    ])
    .arg(fake.address())
    .arg("list")
    .fails(4);
}

#[test]
fn a_reply_ends_at_its_end_line_on_a_connection_that_stays_open() {
    let fake = FakeServer::in_temp_dir("line.sock", Behavior::lines(answer_lines));
    let start = Instant::now();
    sockctl(["send", "--ends-with", "^END$", "--timeout", "5s"])
        .arg(fake.address())
        .args(["list", "list"])
        .succeeds()
        .stdout_is("a\nb\nEND\na\nb\nEND\n");
    // Framed, not timed: well before the timeout, both commands on one connection.
    assert!(start.elapsed() < Duration::from_secs(3));
    let received = fake.received_when_closed();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].bytes, b"list\nlist\n");
}

#[test]
fn a_missing_end_line_is_never_a_whole_reply() {
    let fake = FakeServer::in_temp_dir("line.sock", Behavior::lines(answer_lines));
    sockctl(["send", "--ends-with", "^END$", "--timeout", "500ms"])
        .arg(fake.address())
        .arg("partial")
        .fails(4)
        .stdout_is("a\nb\n")
        .stderr_has("no complete reply in time (4 bytes received)");
}

#[test]
fn a_failure_line_is_exit_1_with_the_servers_words() {
    let fake = FakeServer::in_temp_dir("line.sock", Behavior::lines(answer_lines));
    sockctl(["send", "--ends-with", "^END$", "--fails-on", "^ERR "])
        .arg(fake.address())
        .args(["list", "broken", "list"])
        .fails(1)
        .stdout_is("a\nb\nEND\na\nERR broken\nEND\n")
        .stderr_has("'broken': ERR broken");
    // --keep-going runs the rest and keeps the worst code.
    sockctl([
        "send",
        "--keep-going",
        "--ends-with",
        "^END$",
        "--fails-on",
        "^ERR ",
    ])
    .arg(fake.address())
    .args(["broken", "list"])
    .fails(1)
    .stdout_has("a\nb\nEND\n");
}

#[test]
fn secrets_never_come_from_argv() {
    let fake = FakeServer::in_temp_dir("line.sock", Behavior::lines(answer_lines));
    // There is no option that takes a password as its value.
    sockctl(["send", "--proto", "redis", "--password", "x"])
        .arg(fake.address())
        .arg("PING")
        .fails(2);
    sockctl([
        "send",
        "--proto",
        "redis",
        "--password-file",
        "/nonexistent/pw",
    ])
    .arg(fake.address())
    .arg("PING")
    .fails(2)
    .stderr_has("--password-file /nonexistent/pw");
}

/// doveadm-server reads the next command as soon as one is done and, on EOF, closes with what
/// its socket had no room for unsent: a half-close sent with the command cuts a large reply
/// whenever the client reads slower than the server writes.
#[test]
fn a_doveadm_reply_is_not_cut_by_an_early_half_close() {
    let mut output = Vec::new();
    for i in 0..2000 {
        output.extend_from_slice(format!("row{i}\tvalue{i}\t").as_bytes());
    }
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(output.len() as u32 + 3).to_be_bytes());
    framed.extend_from_slice(&output);
    framed.extend_from_slice(b"\n+\n");
    let fake = FakeServer::in_temp_dir("doveadm-server", Behavior::Doveadm { reply: framed });
    let out = sockctl(["send", "--proto", "dovecot", "--timeout", "5s"])
        .arg(fake.address())
        .arg("process status")
        .succeeds()
        .stdout();
    assert_eq!(out.lines().count(), 4000);
    assert!(out.ends_with("row1999\nvalue1999\n"), "{out}");
    let received = fake.received_when_closed();
    assert_eq!(
        received[0].bytes,
        b"VERSION\tdoveadm-server\t1\t2\n\t\tprocess\tstatus\n"
    );
    assert!(received[0].half_closed);
}

/// A doveadm reply whose result line never came, the connection closed: a cut reply.
#[test]
fn a_doveadm_reply_cut_by_a_close_is_5() {
    fn answer(line: &[u8]) -> Answer {
        match line {
            b"VERSION\tdoveadm-server\t1\t2" => {
                Answer::Reply(b"VERSION\tdoveadm-client\t1\t2\n+\n".to_vec())
            }
            _ => Answer::ReplyAndClose(b"\0\0\0\0\x08a\tb\tc\t\n".to_vec()),
        }
    }
    let fake = FakeServer::in_temp_dir("doveadm-server", Behavior::lines(answer));
    sockctl(["send", "--proto", "dovecot", "--timeout", "5s"])
        .arg(fake.address())
        .arg("process status")
        .fails(5)
        .stderr_has("closed the connection before the end of the reply");
}
