//! `sockctl send` and `sockctl shell` with `--proto`, against the real servers: the whole reply,
//! the service's verdict as the exit code, large replies, and the piped shell.

use crate::support::services::{
    Bird, Collectd, Dovecot, Kea, Memcached, OPENVPN_PASSWORD, OpenVpn, REDIS_PASSWORD, Redis,
    TOR_PASSWORD, Tor, TorAuth, Unbound, Uwsgi,
};
use crate::support::{Sockctl, sockctl};

fn send(proto: &str, socket: &std::path::Path) -> Sockctl {
    sockctl(["send", "--proto", proto]).arg(socket)
}

fn shell(proto: &str, socket: &std::path::Path, input: &str) -> Sockctl {
    sockctl(["shell", "--no-history", "--proto", proto])
        .arg(socket)
        .stdin(input)
}

fn secret_file(dir: &tempfile::TempDir, secret: &str) -> std::path::PathBuf {
    let path = dir.path().join("secret");
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    path
}

#[test]
fn redis_whole_replies_errors_and_auth() {
    let Some(redis) = Redis::start() else { return };
    // 20 MB: Redis cuts what it has not sent when it reads EOF; RESP framing needs no EOF.
    let value = redis.set_large_value("big", 20 << 20);
    let out = send("redis", &redis.socket).arg("GET big").succeeds();
    assert_eq!(out.stdout_bytes().len(), value.len() + 1);
    assert_eq!(&out.stdout_bytes()[..value.len()], &value[..]);
    send("redis", &redis.socket)
        .args(["SET k \"a b\"", "GET k", "INCR k"])
        .fails(1)
        .stdout_is("OK\na b\n")
        .stderr_has("'INCR k': ERR value is not an integer or out of range")
        .stderr_lacks("empty reply");
    shell(
        "redis",
        &redis.socket,
        "SET n 1\nINCR n\nLRANGE none 0 -1\nINCR k\nPING\n",
    )
    .fails(1)
    .stdout_is("OK\n2\nPONG\n");

    let Some(locked) = Redis::start_with_password() else {
        return;
    };
    send("redis", &locked.socket)
        .arg("PING")
        .fails(1)
        .stderr_has("NOAUTH");
    let dir = tempfile::tempdir().unwrap();
    send("redis", &locked.socket)
        .arg("--password-file")
        .arg(secret_file(&dir, REDIS_PASSWORD))
        .arg("PING")
        .succeeds()
        .stdout_is("PONG\n");
    send("redis", &locked.socket)
        .env("SOCKCTL_PASSWORD", "wrong")
        .arg("PING")
        .fails(3)
        .stderr_has("the server refused the session: WRONGPASS");
}

#[test]
fn bird_reads_its_greeting_and_never_half_closes() {
    let Some(bird) = Bird::start_with_routes(2000) else {
        return;
    };
    // Half-closed, BIRD loses the reply more often than not; framed, every time whole.
    for _ in 0..5 {
        let out = send("bird", &bird.socket).arg("show route").succeeds();
        let lines = out.stdout().lines().count();
        assert!(lines >= 2001, "{lines} lines");
        assert!(out.stdout().ends_with("0000 \n"), "{}", out.stdout());
    }
    send("bird", &bird.socket)
        .args(["show status", "show nonsense"])
        .fails(1)
        .stdout_has("0013 Daemon is up and running")
        .stderr_has("'show nonsense': syntax error");
    shell("bird", &bird.socket, "show status\nshow protocols\n")
        .succeeds()
        .stdout_has("0013 Daemon is up and running")
        .stdout_has("static_bh");
}

#[test]
fn tor_authenticates_from_a_file_never_argv() {
    let Some(open) = Tor::start(TorAuth::None) else {
        return;
    };
    send("tor", &open.socket)
        .arg("GETINFO version")
        .succeeds()
        .stdout_has("250-version=")
        .stdout_has("250 OK");
    send("tor", &open.socket)
        .arg("GETINFO nothing")
        .fails(1)
        .stderr_has("552 Unrecognized key");

    let Some(locked) = Tor::start(TorAuth::Password) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    send("tor", &locked.socket)
        .arg("--password-file")
        .arg(secret_file(&dir, TOR_PASSWORD))
        .arg("GETINFO config/names")
        .succeeds()
        .stdout_has("250+config/names=");
    send("tor", &locked.socket)
        .env("SOCKCTL_PASSWORD", "wrong")
        .arg("GETINFO version")
        .fails(3)
        .stderr_has("515 Authentication failed");

    let Some(cookie) = Tor::start(TorAuth::Cookie) else {
        return;
    };
    send("tor", &cookie.socket)
        .arg("--cookie-file")
        .arg(cookie.cookie.as_ref().unwrap())
        .arg("GETINFO version")
        .succeeds();
}

#[test]
fn openvpn_replies_without_notices_and_with_its_password() {
    let Some(vpn) = OpenVpn::start() else { return };
    send("openvpn", &vpn.socket)
        .args(["version", "pid", "bogus"])
        .fails(1)
        .stdout_has("OpenVPN Version")
        .stdout_has("SUCCESS: pid=")
        .stderr_has("'bogus': ERROR: unknown command");
    // The notices (`>INFO:`) are not part of a reply.
    let out = send("openvpn", &vpn.socket).arg("pid").succeeds();
    assert!(!out.stdout().contains(">INFO"), "{}", out.stdout());
    // A large reply: `test N` has no terminator of its own, so `pid` follows it in a shell.
    let out = shell("openvpn", &vpn.socket, "state\npid\n").succeeds();
    assert!(out.stdout().contains("END"), "{}", out.stdout());

    let Some(locked) = OpenVpn::start_with_password() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    send("openvpn", &locked.socket)
        .arg("--password-file")
        .arg(secret_file(&dir, OPENVPN_PASSWORD))
        .arg("pid")
        .succeeds()
        .stdout_has("SUCCESS: pid=");
}

#[test]
fn memcached_values_stats_and_errors() {
    let Some(mc) = Memcached::start() else { return };
    let value = mc.set_large_value("big", Memcached::MAX_VALUE);
    let out = send("memcached", &mc.socket).arg("get big").succeeds();
    assert!(out.stdout_bytes().windows(value.len()).any(|w| w == value));
    assert!(out.stdout().ends_with("END\r\n"));
    send("memcached", &mc.socket)
        .args(["version", "stats", "get nokey"])
        .succeeds()
        .stdout_has("VERSION 1.6")
        .stdout_has("STAT pid");
    send("memcached", &mc.socket)
        .arg("bogus")
        .fails(1)
        .stderr_has("'bogus': ERROR");
    shell("memcached", &mc.socket, "version\nincr nokey 1\nbogus\n")
        .fails(1)
        .stdout_has("NOT_FOUND");
}

#[test]
fn unbound_one_command_per_connection() {
    let Some(unbound) = Unbound::start() else {
        return;
    };
    unbound.add_local_data(5000);
    let out = send("unbound", &unbound.socket)
        .arg("list_local_data")
        .succeeds();
    assert!(out.stdout().lines().count() >= 5000);
    send("unbound", &unbound.socket)
        .args(["status", "bogus"])
        .fails(1)
        .stdout_has("is running")
        .stderr_has("error unknown command 'bogus'");
    // Every line of a piped shell runs, each on its own connection.
    shell(
        "unbound",
        &unbound.socket,
        "status\nflush_zone example.\nstatus\n",
    )
    .succeeds()
    .stdout_has("ok removed");
    // A command that reads lines gets its end line, so unbound answers and stays well.
    send("unbound", &unbound.socket)
        .arg("local_datas")
        .succeeds()
        .stdout_has("added 0 datas");
    send("unbound", &unbound.socket).arg("status").succeeds();
}

#[test]
fn kea_result_is_the_verdict() {
    let Some(kea) = Kea::start() else { return };
    send("kea", &kea.socket)
        .arg(r#"{"command": "list-commands"}"#)
        .succeeds()
        .stdout_has("\"result\": 0");
    send("kea", &kea.socket)
        .arg(r#"{"command": "bogus"}"#)
        .fails(1)
        .stderr_has("result 2: 'bogus' command not supported");
    shell(
        "kea",
        &kea.socket,
        "{\"command\": \"list-commands\"}\n{\"command\": \"bogus\"}\n",
    )
    .fails(1)
    .stdout_has("\"result\": 0")
    .stderr_has("result 2");
    kea.set_large_config(2 << 20);
    let out = send("kea", &kea.socket)
        .arg(r#"{"command": "config-get"}"#)
        .succeeds();
    assert!(out.stdout_bytes().len() > 2 << 20);
}

#[test]
fn collectd_counts_its_lines() {
    let Some(collectd) = Collectd::start() else {
        return;
    };
    collectd.put_values(20_000);
    // Values are dispatched by collectd's own threads: listed once they all are.
    crate::support::wait_for(|| {
        let out = send("collectd", &collectd.socket).arg("LISTVAL").succeeds();
        out.stdout()
            .contains(" sockctl-test/bulk-19999/gauge-value\n")
    });
    let out = send("collectd", &collectd.socket).arg("LISTVAL").succeeds();
    // The status line counts the lines after it: all of them came.
    let text = out.stdout();
    let count: usize = text.split(' ').next().unwrap().parse().unwrap();
    assert!(count > 20_000, "{count}");
    assert_eq!(text.lines().count(), count + 1);
    send("collectd", &collectd.socket)
        .args(["LISTVAL", "BOGUS"])
        .fails(1)
        .stderr_has("-1 Unknown command: BOGUS");
    shell("collectd", &collectd.socket, "LISTVAL\nFLUSH\n")
        .succeeds()
        .stdout_has("Done");
}

#[test]
fn dovecot_handshake_and_result_line() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    // Without the handshake, doveadm-server says nothing: never silently.
    sockctl(["send"])
        .arg(&dovecot.socket)
        .arg("who")
        .succeeds()
        .stderr_has("empty reply (0 bytes)");
    send("dovecot", &dovecot.socket).arg("who").succeeds();
    send("dovecot", &dovecot.socket)
        .arg("bogus")
        .fails(1)
        .stderr_has("'bogus': the command failed");
    shell("dovecot", &dovecot.socket, "who\nbogus\n").fails(1);

    // A reply larger than the socket's buffers comes whole: the half-close waits for it.
    let file = dovecot.process.path("large.txt");
    let content: String = (0..4_000_000u32)
        .map(|i| match i % 100 {
            99 => '\n',
            n => char::from(b'a' + (n % 26) as u8),
        })
        .collect();
    std::fs::write(&file, &content).unwrap();
    send("dovecot", &dovecot.socket)
        .arg(format!("fs get posix no-fsync {}", file.display()))
        .succeeds()
        .stdout_is(format!("{content}\n"));
}

#[test]
fn uwsgi_stats_are_read_without_sending() {
    let Some(uwsgi) = Uwsgi::start() else { return };
    let out = send("uwsgi", &uwsgi.stats).succeeds();
    let stats: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert!(stats["workers"].is_array(), "{stats}");
    let out = shell("uwsgi", &uwsgi.stats, "\n").succeeds();
    assert!(out.stdout().contains("\"workers\""), "{out}");
    // Without the profile a command is sent, which the server never reads: whether the write
    // lands before its close (then exit 0) or fails (exit 5, said), what it wrote is shown.
    for _ in 0..5 {
        let out = sockctl(["send"]).arg(&uwsgi.stats).arg("x").run();
        assert!(out.stdout().contains("\"workers\""), "{out}");
        match out.code() {
            Some(0) => {}
            // The server never read the command: it closed, or reset the connection.
            Some(5) => assert!(
                out.stderr().contains("before reading the command")
                    || out.stderr().contains("connection reset by peer"),
                "{out}"
            ),
            _ => panic!("{out}"),
        }
    }
}

/// A person at the terminal: BIRD is known by its greeting (no HAProxy probe is sent), each
/// reply is whole before the next prompt, and a failure is said on stderr.
#[test]
fn interactive_shell_on_bird_and_memcached() {
    use crate::support::pty::Pty;
    let Some(bird) = Bird::start() else { return };
    let mut pty = Pty::shell(&bird.socket, &[]);
    pty.expect("a bird greeting; bird session");
    pty.expect("bird@");
    pty.line("show status");
    pty.expect("0013 Daemon is up and running");
    pty.expect("bird@");
    pty.line("show nonsense");
    pty.expect("syntax error");
    pty.expect("bird@");
    pty.line("quit");
    pty.succeeds();

    // A service that does not greet, named with --proto: its replies whole, none erased by
    // the next prompt (`VERSION` comes without a listing's END).
    let Some(mc) = Memcached::start() else { return };
    let mut pty = Pty::shell(&mc.socket, &["--proto", "memcached"]);
    pty.expect("memcached@");
    pty.line("version");
    pty.expect("VERSION 1.6");
    pty.expect("memcached@");
    pty.line("stats");
    pty.expect("STAT pid");
    pty.expect("END");
    pty.expect("memcached@");
    pty.send("\x04");
    pty.succeeds();
}
