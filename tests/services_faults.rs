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
    let received = fake.received();
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
