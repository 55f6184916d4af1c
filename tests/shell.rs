//! `sockctl shell` on a pseudo-terminal against a real HAProxy 2.6 and 2.8 (stats socket and
//! master CLI) and against fake servers, and with standard input piped.

use std::io::Write;
use std::time::Duration;

use crate::support::fake::{Answer, Behavior, FakeServer, master_3_4};
use crate::support::haproxy::{self, DEFAULT_BACKEND, Haproxy};
use crate::support::pty::Pty;
use crate::support::{Sockctl, send, sockctl};

/// `sockctl shell SOCKET`, its commands to come on standard input.
fn piped(socket: impl AsRef<std::ffi::OsStr>) -> Sockctl {
    sockctl(["shell"]).arg(socket)
}

/// A fake HAProxy stats socket whose replies are hostile or never come.
fn fake_haproxy(line: &[u8]) -> Answer {
    Answer::Reply(match line {
        b"prompt p" => b"\n> ".to_vec(),
        b"help" => b"  show evil        : terminal escapes\n  hang   : no reply\n\n> ".to_vec(),
        b"show evil" => b"\x1b[31mred\x1b[0m \x1b]0;pwned\x07 bell \xc2\x9b2J\n\n> ".to_vec(),
        b"hang" => Vec::new(),
        _ => b"Unknown command.\n\n> ".to_vec(),
    })
}

/// [`fake_haproxy`] on `name` in a temp dir of its own.
fn fake_haproxy_socket(name: &str) -> FakeServer {
    FakeServer::in_temp_dir(name, Behavior::lines(fake_haproxy))
}

/// A line-oriented server that is not HAProxy.
fn echo_server(line: &[u8]) -> Answer {
    match line {
        b"bye" => Answer::Close,
        _ => Answer::Reply([b"echo: ", line, b"\n"].concat()),
    }
}

/// [`echo_server`] on `echo.sock`, greeting each client with `hello`.
fn echo_socket() -> FakeServer {
    let echo = Behavior::Interactive {
        greeting: b"hello\n".to_vec(),
        answer: echo_server,
    };
    FakeServer::in_temp_dir("echo.sock", echo)
}

#[test]
fn stats_socket_framing_and_history_across_runs() {
    let Some(ha) = Haproxy::start() else { return };
    let state = tempfile::tempdir().unwrap();
    let mut pty = Pty::shell_in(state.path(), &ha.admin, &[]);
    pty.expect("admin.sock> ");
    pty.line("show info");
    let reply = pty.expect("admin.sock> ");
    assert!(reply.contains("Name: HAProxy"), "{reply}");
    // The whole multi-line reply came before the prompt, without HAProxy's own prompt.
    assert!(reply.contains("Tainted: 0"), "{reply}");
    assert!(!reply.contains("\n> "), "{reply:?}");
    pty.line("show servers state");
    let reply = pty.expect("admin.sock> ");
    assert!(reply.contains("be_app 3 s3"), "{reply}");
    pty.send("\x04");
    pty.succeeds();

    // History is saved per socket and comes back in the next session (Up arrow).
    let saved = std::fs::read_dir(state.path().join("sockctl"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect::<Vec<_>>();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let text = std::fs::read_to_string(&saved[0]).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&saved[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "history is private");
    assert!(
        text.contains("show info") && text.contains("show servers state"),
        "{text}"
    );
    let mut pty = Pty::shell_in(state.path(), &ha.admin, &[]);
    pty.expect("admin.sock> ");
    pty.send("\x1b[A\x1b[A");
    pty.expect("show info");
    pty.send("\r");
    assert!(pty.expect("admin.sock> ").contains("Name: HAProxy"));
    pty.line("quit");
    pty.succeeds();
}

#[test]
fn tab_completes_commands_and_server_names() {
    let Some(ha) = Haproxy::start() else { return };
    let mut pty = Pty::shell(&ha.admin, &[]);
    pty.expect("admin.sock> ");
    pty.send("show serv\t");
    pty.expect("show servers ");
    pty.send("sta\t");
    pty.expect("state ");
    pty.send("\t");
    pty.expect("be_app");
    pty.send("\r");
    let reply = pty.expect("admin.sock> ");
    assert!(reply.contains("3 be_app 1 s1 "), "{reply}");
    // Several candidates: the first Tab completes what they share, the second lists them.
    pty.send("set server be_app/s\t\t");
    pty.expect("be_app/s1  be_app/s2  be_app/s3");
    pty.send("\x15get weight be_app/s2\t\r");
    pty.expect("get weight be_app/s2 ");
    pty.expect("1 (initial 1)");
}

#[test]
fn payload_command_adds_map_entries() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("hosts.map");
    std::fs::write(&map, "example.com be_app\n").unwrap();
    let backend = format!(
        "{DEFAULT_BACKEND}    http-request set-var(txn.be) req.hdr(host),map({})\n",
        map.display()
    );
    let Some(ha) = Haproxy::start_with("", &backend) else {
        return;
    };
    let map = map.to_str().unwrap();
    let mut pty = Pty::shell_in(dir.path(), &ha.admin, &[]);
    pty.expect("admin.sock> ");
    pty.line(&format!("add map {map} <<"));
    pty.expect("+ ");
    pty.line("a.example be_app");
    pty.expect("+ ");
    pty.line("b.example be_app");
    pty.expect("+ ");
    pty.line("");
    pty.expect("admin.sock> ");
    pty.line(&format!("show map {map}"));
    let reply = pty.expect("admin.sock> ");
    assert!(
        reply.contains(" a.example be_app") && reply.contains(" b.example be_app"),
        "{reply}"
    );
    // A payload pattern is refused, and its lines up to the pattern are read, not run.
    pty.line(&format!("add map {map} <<%EOF%"));
    pty.expect("+ ");
    pty.line("set server be_app/s1 state drain");
    pty.expect("+ ");
    pty.line("%EOF%");
    let refused = pty.expect("admin.sock> ");
    assert!(refused.contains("payload pattern"), "{refused}");
    pty.line("show servers state be_app");
    let state = pty.expect("admin.sock> ");
    let s1 = state
        .lines()
        .find(|l| l.contains(" s1 "))
        .unwrap_or_default();
    assert_eq!(s1.split(' ').nth(6), Some("0"), "s1 was drained: {state}");
}

#[test]
fn reconnects_after_the_idle_timeout() {
    let Some(ha) = Haproxy::start() else { return };
    let mut pty = Pty::shell(&ha.admin, &[]);
    pty.expect("admin.sock> ");
    pty.line("set timeout cli 1");
    pty.expect("admin.sock> ");
    // HAProxy closes the connection after one idle second.
    std::thread::sleep(Duration::from_millis(2500));
    pty.line("show version");
    pty.expect("reconnected (the server closed the idle connection)");
    let reply = pty.expect("admin.sock> ");
    assert!(reply.contains(&haproxy::version().full), "{reply}");
}

#[test]
fn master_targets_a_worker_and_keeps_it_across_a_reload() {
    let Some(ha) = Haproxy::start() else { return };
    let mut pty = Pty::shell(&ha.master, &[]);
    pty.expect("master> ");
    pty.line("show proc");
    let reply = pty.expect("master> ");
    assert!(reply.contains("# workers"), "{reply}");
    pty.line("@1");
    pty.expect("master@1> ");
    pty.line("show info");
    let reply = pty.expect("master@1> ");
    assert!(reply.contains("Name: HAProxy"), "{reply}");
    pty.line("@master reload");
    pty.expect("the master closed the connection to reload");
    pty.expect("master@1> ");
    pty.line("show info");
    pty.expect("reconnected (the master closed the connection to reload); restored @1");
    let reply = pty.expect("master@1> ");
    assert!(reply.contains("Name: HAProxy"), "{reply}");
    pty.line("@master");
    pty.expect("master> ");
    pty.line("show proc");
    let reply = pty.expect("master> ");
    assert!(reply.contains(" 1 [failed: 0]"), "one reload: {reply}");
}

#[test]
fn escape_sequences_from_the_server_are_shown_escaped() {
    let fake = fake_haproxy_socket("evil.sock");
    let mut pty = Pty::shell(fake.address(), &[]);
    pty.expect("evil.sock> ");
    pty.line("show evil");
    let reply = pty.expect("evil.sock> ");
    assert!(
        reply.contains(r"\x1b[31mred\x1b[0m \x1b]0;pwned\x07 bell \u{009b}2J"),
        "{reply:?}"
    );
    assert!(!pty.transcript().contains("\x1b]0;pwned"));
}

#[test]
fn ctrl_c_abandons_a_reply_and_a_timeout_is_reported() {
    let fake = fake_haproxy_socket("slow.sock");
    let mut pty = Pty::shell(fake.address(), &["--timeout", "1s"]);
    pty.expect("slow.sock> ");
    pty.line("hang");
    pty.expect("(--timeout); the next command reconnects");
    pty.expect("slow.sock> ");
    let mut pty = Pty::shell(fake.address(), &["--timeout", "60s"]);
    pty.expect("slow.sock> ");
    pty.line("hang");
    pty.expect("hang");
    // The line is sent once the terminal leaves line editing; then Ctrl-C is a signal.
    pty.wait_cooked();
    pty.send("\x03");
    pty.expect("interrupted; the next command reconnects");
    pty.expect("slow.sock> ");
    pty.line("show evil");
    pty.expect("reconnected (the previous reply did not complete)");
    pty.expect("red");
    pty.expect("slow.sock> ");
    pty.line("quit");
    pty.succeeds();
}

#[test]
fn raw_session_on_a_server_that_is_not_haproxy() {
    let fake = echo_socket();
    let mut pty = Pty::shell(fake.address(), &["--raw"]);
    pty.expect("hello");
    pty.line("ping");
    pty.expect("echo: ping");
    pty.line("bye");
    pty.expect("connection closed by the server");
    pty.succeeds();

    // Without --raw, the shell hears it speak first: not HAProxy, which never does, so it
    // falls back to the same session without sending HAProxy's `prompt` probe.
    let mut pty = Pty::shell(fake.address(), &[]);
    pty.expect("not an HAProxy CLI (it spoke first); raw session");
    pty.expect("hello");
    pty.line("ping");
    pty.expect("echo: ping");
    pty.send("\x04");
    pty.succeeds();
}

#[test]
fn piped_commands_run_over_one_connection() {
    let Some(ha) = Haproxy::start() else { return };
    let out = piped(&ha.admin)
        .stdin("show version\n# a comment\n\nset server be_app/s1 state drain;show version\n")
        .succeeds();
    let version = out.stdout().lines().next().unwrap().to_string();
    // Exactly the bytes of each command on its own connection.
    out.stdout_is(format!("{version}\n\n\n{version}\n\n"));

    // A 2.6 master closes on an unknown target: a failure (1), reported with its line.
    let out = piped(&ha.master)
        .stdin("@1 show version\n@9 show version\n@1 show version\n")
        .fails(1)
        .stdout_has("Can't find the target PID matching the prefix '@9'")
        .stderr_has("line 2: @9 show version: Can't find the target PID matching the prefix '@9'");
    assert_eq!(out.stdout().matches(&version).count(), 2, "{out}");
}

/// A payload ended by a pattern of its own is refused before any of it is sent: its lines
/// must not run as commands (on 2.6 they would).
#[test]
fn piped_payload_pattern_is_refused_whole() {
    let Some(ha) = Haproxy::start() else { return };
    let out = piped(&ha.admin)
        .stdin("show version\nadd map #0 <<%EOF%\nset server be_app/s1 state drain\n%EOF%\n")
        .fails(2)
        .stderr_has("stdin line 2: a payload pattern ('<<PATTERN', HAProxy 3.0+)");
    // The command before it ran; the payload line did not.
    assert!(out.stdout().starts_with("2."), "{out}");
    let s1 = send(&ha.admin, &["show servers state be_app"])
        .stdout()
        .lines()
        .find(|l| l.contains(" s1 "))
        .unwrap()
        .to_string();
    let admin_state = s1.split(' ').nth(6).unwrap();
    assert_eq!(admin_state, "0", "s1 was drained: {s1}");
}

/// HAProxy's error replies are failures (exit 1), recognised by their text on a stats socket
/// and through the master; the run goes on, every reply is shown as HAProxy sent it, and each
/// failure is reported on stderr with its line.
#[test]
fn piped_error_replies_are_failures() {
    let Some(ha) = Haproxy::start() else { return };
    let commands = [
        "show version",
        "set server be_app/nosuch state drain",
        "foo",
        "set server be_app/s1 weight 300",
        "get weight be_app/s1",
    ];
    let failures = [
        "line 3: set server be_app/nosuch state drain: No such server.",
        "line 5: foo: Unknown command",
        "line 6: set server be_app/s1 weight 300: Absolute weight can only be between 0 and \
         256 inclusive.",
    ];
    for (socket, prefix) in [(&ha.admin, ""), (&ha.master, "@1 ")] {
        let routed: Vec<String> = commands.iter().map(|c| format!("{prefix}{c}")).collect();
        let [version, drain, foo, weight, get] = &routed[..] else {
            unreachable!()
        };
        let input = format!("# errors\n{version}\n{drain}\n\n{foo}\n{weight}\n{get}\n");
        let out = piped(socket).stdin(input).fails(1);
        let mut expected = Vec::new();
        for command in &routed {
            expected.extend(send(socket, &[command]).stdout_bytes());
        }
        let mut out = out.stdout_is(expected);
        for failure in failures {
            out = out.stderr_has(failure.replacen(": ", &format!(": {prefix}"), 1));
        }
        out.stderr_lacks("line 2:").stderr_lacks("line 7:");
    }
    // A failure does not stop the run: the command after it ran.
    piped(&ha.admin)
        .stdin("set server be_app/s1 weight 300\nset server be_app/s1 weight 7\n")
        .fails(1)
        .stderr_has("line 1: ");
    send(&ha.admin, &["get weight be_app/s1"]).stdout_is("7 (initial 1)\n\n");
}

#[test]
fn piped_reply_timeout_is_exit_code_4() {
    let fake = fake_haproxy_socket("slow.sock");
    // An HAProxy failure before it does not lower the code.
    sockctl(["shell", "--timeout", "500ms", fake.address()])
        .stdin("foo\nhang\nshow evil\n")
        .fails(4)
        .stderr_has("line 1: foo: Unknown command.")
        .stderr_has("no complete reply in time")
        // The next command still ran, on a new connection, and its bytes are passed through.
        .stdout_has("\x1b[31mred");
}

#[test]
fn piped_failed_reload_on_a_3_4_master_is_exit_code_1() {
    let fake = FakeServer::in_temp_dir("master.sock", Behavior::lines(master_3_4));
    let out = piped(fake.address())
        .stdin("reload\nshow proc\n@master reload\n")
        .fails(1)
        .stderr_has("'@master reload': the reload failed (Success=0)")
        .stdout_has("\n#<PID>");
    let text = out.stdout();
    assert!(text.starts_with("Success=1\n"), "{out}");
    assert!(
        text.ends_with("Success=0\n--\n[ALERT] bad config\n\n"),
        "{out}"
    );
}

#[test]
fn piped_raw_says_when_the_server_closed_before_reading_the_rest() {
    // The server closes on `bye`; the line after it is still to come when it does.
    let fake = echo_socket();
    let mut command = sockctl(["shell", "--raw", fake.address()]).command();
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"ping\nbye\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    stdin.write_all(b"late\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("(2 lines sent, 1 not sent)"), "{stderr}");
    // A close after the last line is the server's answer to all of it (below).
}

#[test]
fn piped_raw_and_not_haproxy() {
    let fake = echo_socket();
    sockctl(["shell", "--raw", fake.address()])
        .stdin("ping\nbye\n")
        .succeeds()
        .stdout_is("hello\necho: ping\n");
    // Without --raw, piped commands are for HAProxy only.
    piped(fake.address())
        .stdin("ping\n")
        .fails(5)
        .stderr_has("not an HAProxy CLI");
}

#[test]
fn without_an_address_the_socket_is_discovered() {
    let Some(ha) = Haproxy::start() else { return };
    // From the configuration's `stats socket` ...
    let out = sockctl(["shell"])
        .env_remove("SOCKCTL_SOCKET")
        .env("SOCKCTL_CONFIG", &ha.config)
        .stdin("show version\n")
        .succeeds()
        .stderr_has(format!(
            "using {} from the 'stats socket' line",
            ha.admin.display()
        ));
    let version = format!("{}\n", haproxy::version().full);
    assert!(out.stdout().starts_with(&version), "{out}");
    // ... and from $SOCKCTL_SOCKET first.
    let out = sockctl(["shell"])
        .env("SOCKCTL_SOCKET", &ha.master)
        .stdin("show proc\n")
        .succeeds();
    assert!(out.stdout().starts_with("#<PID>"), "{out}");
}

/// 2.6's master answers an unknown process with its error and closes the connection: the shell
/// says the process does not exist, not that a reply was cut (2.7+ keeps the connection).
#[test]
fn an_unknown_process_on_the_master_is_said_plainly() {
    let Some(ha) = Haproxy::start() else { return };
    let mut pty = Pty::shell(&ha.master, &[]);
    pty.expect("master> ");
    pty.line("@!99999 show version");
    let text = pty.expect("master> ");
    assert!(text.contains("Can't find the target PID"), "{text}");
    assert!(!text.contains("before the end of the reply"), "{text}");
    // 2.7+ keeps the connection after its own errors: the message is the whole reply.
    if !crate::support::haproxy::version().at_least(2, 7) {
        assert!(text.contains("no such process"), "{text}");
    }
}
