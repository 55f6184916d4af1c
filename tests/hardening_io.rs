//! Hardening: signals while waiting on input, the interactive shell's terminal, names from the
//! peer on the terminal, the open-file limit, odd addresses and a closed standard output.

use std::path::Path;

use crate::support::fake::{Answer, Behavior, FakeServer};
use crate::support::pty::Pty;

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

fn hostile_shell(dir: &Path) -> (FakeServer, Pty) {
    let fake = FakeServer::unix(
        dir.join("lb.sock"),
        Behavior::Interactive {
            greeting: Vec::new(),
            answer: hostile_names,
        },
    );
    let state = dir.to_str().unwrap();
    let mut pty = Pty::sockctl(&["shell", fake.address()], &[("XDG_STATE_HOME", state)]);
    pty.expect("lb.sock> ");
    (fake, pty)
}

#[test]
fn shell_completion_drops_names_with_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let (_fake, mut pty) = hostile_shell(dir.path());
    // One clean server is left, so Tab completes it whole.
    pty.send("set server \t");
    pty.expect("set server be_app/s1 ");
    pty.send("\x15show servers state \t\t");
    pty.expect("be_app");
    pty.send("\x15quit\r");
    assert_eq!(pty.exit_code(), Some(0));
    let transcript = pty.transcript();
    for bad in ["\x1b]0;pwned", "\x1b]52;", "\u{9b}2J", "s\x7f"] {
        assert!(
            !transcript.contains(bad),
            "{bad:?} reached the terminal: {transcript:?}"
        );
    }
}
