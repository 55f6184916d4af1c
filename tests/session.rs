//! `haproxy::session::Session` against a real HAProxy 2.6: prompt mode, targets, payloads,
//! reconnecting after the idle timeout and across a master reload.

use std::path::Path;
use std::time::{Duration, Instant};

use sockctl::error::ExchangeError;
use sockctl::haproxy::framing::{Flavor, Target};
use sockctl::haproxy::session::{Closed, Disconnect, OpenError, Options, Session};
use sockctl::{Address, Command};

use crate::support::fake::{Answer, Behavior, FakeServer, master_3_4};
use crate::support::haproxy::{DEFAULT_BACKEND, Haproxy};

fn open(path: &std::path::Path) -> Session {
    let address: Address = path.to_str().unwrap().parse().unwrap();
    Session::open(&address, Options::default()).unwrap()
}

fn cmd(text: &str) -> Command {
    Command::new(text).unwrap()
}

fn soon() -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(20))
}

fn run(session: &mut Session, text: &str) -> String {
    let reply = session.run(&cmd(text), soon()).unwrap();
    String::from_utf8(reply.body).unwrap()
}

#[test]
fn stats_socket_replies_are_the_noninteractive_bytes() {
    let Some(ha) = Haproxy::start() else { return };
    let mut session = open(&ha.admin);
    assert_eq!(session.flavor(), Flavor::Stats);
    let info = run(&mut session, "show info");
    assert!(
        info.starts_with("Name: HAProxy\n") && info.ends_with("\n\n"),
        "{info}"
    );
    let version = run(&mut session, "show version");
    assert!(
        version.ends_with("\n\n") && version.lines().count() == 2,
        "{version:?}"
    );
    // Commands after `;` each get their reply, as on a non-interactive connection.
    assert_eq!(
        run(&mut session, "show version;show version"),
        version.repeat(2)
    );
    assert_eq!(run(&mut session, "set server be_app/s1 state drain"), "\n");
    assert_eq!(
        run(&mut session, "set server be_app/nosuch state drain"),
        "No such server.\n\n"
    );
}

#[test]
fn master_targets_a_worker_and_keeps_it() {
    let Some(ha) = Haproxy::start() else { return };
    let mut session = open(&ha.master);
    assert_eq!(session.flavor(), Flavor::Master);
    assert!(run(&mut session, "show proc").contains("# workers\n"));
    let reply = session.run(&cmd("@1"), soon()).unwrap();
    assert!(reply.body.is_empty());
    let Target::Worker(pid) = reply.prompt.target else {
        panic!("{:?}", reply.prompt)
    };
    assert_eq!(session.target().as_deref(), Some("@1"));
    assert!(run(&mut session, "show info").contains(&format!("\nPid: {pid}\n")));
    // A reconnect restores the target.
    let again = session.reconnect(soon()).unwrap();
    assert_eq!(again.restored, ["@1"]);
    assert_eq!(session.prompt().target, Target::Worker(pid));
    run(&mut session, "@master");
    assert_eq!(session.target(), None);
    assert_eq!(session.prompt().target, Target::Master);
}

#[test]
fn payload_commands() {
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
    for socket in [&ha.admin, &ha.master] {
        let mut session = open(socket);
        let prefix = if socket == &ha.master { "@1 " } else { "" };
        let lines = [cmd("a.example be_app"), cmd("b.example be_app")];
        let reply = session
            .run_payload(&cmd(&format!("{prefix}add map {map} <<")), &lines, soon())
            .unwrap();
        assert_eq!(reply.body, b"\n");
        let shown = run(&mut session, &format!("{prefix}show map {map}"));
        assert!(shown.contains(" a.example be_app\n"), "{shown}");
        run(&mut session, &format!("{prefix}clear map {map}"));
    }
}

#[test]
fn reconnects_after_the_idle_timeout() {
    let Some(ha) = Haproxy::start() else { return };
    let mut session = open(&ha.admin);
    assert_eq!(run(&mut session, "operator"), "\n");
    assert_eq!(run(&mut session, "set timeout cli 1"), "\n");
    // Wait until HAProxy has closed the idle connection.
    std::thread::sleep(Duration::from_millis(2500));
    let reply = session.run(&cmd("show cli level"), soon()).unwrap();
    let again = reply.reconnected.expect("reconnected");
    assert_eq!(again.reason, Disconnect::Idle);
    // The lowered level is restored, not silently raised back to admin.
    assert_eq!(again.restored, ["operator"]);
    assert_eq!(reply.body, b"operator\n\n");
}

/// The level and the modes set in the session come back after a reconnect, in the order they
/// were set; a mode turned off again is not replayed.
#[test]
fn reconnects_keep_the_modes_and_the_level() {
    let Some(ha) = Haproxy::start() else { return };
    let mut session = open(&ha.admin);
    assert_eq!(run(&mut session, "expert-mode on"), "\n");
    assert_eq!(run(&mut session, "experimental-mode on"), "\n");
    assert_eq!(run(&mut session, "experimental-mode off"), "\n");
    let again = session.reconnect(soon()).unwrap();
    assert_eq!(again.restored, ["expert-mode on"]);
    assert_eq!(run(&mut session, "expert-mode"), "expert-mode is ON\n\n");
    assert_eq!(
        run(&mut session, "experimental-mode"),
        "experimental-mode is OFF\n\n"
    );
    // Asking is not setting; a refused change is not remembered.
    assert_eq!(run(&mut session, "operator"), "\n");
    assert_eq!(run(&mut session, "expert-mode on"), "Permission denied\n\n");
    let again = session.reconnect(soon()).unwrap();
    assert_eq!(again.restored, ["expert-mode on", "operator"]);
    assert_eq!(run(&mut session, "show cli level"), "operator\n\n");
    // `user -` (no newline after the reply) lowers the level too, and stays lowered.
    let lowered = run(&mut session, "user -");
    assert!(lowered.trim().is_empty(), "{lowered:?}");
    let again = session.reconnect(soon()).unwrap();
    assert_eq!(again.restored, ["expert-mode on", "user"]);
    assert_eq!(run(&mut session, "show cli level"), "user\n\n");

    // On the master the mode is the master's, and reaches the commands it forwards.
    let mut session = open(&ha.master);
    assert_eq!(run(&mut session, "expert-mode on"), "");
    let again = session.reconnect(soon()).unwrap();
    assert_eq!(again.restored, ["expert-mode on"]);
    let help = run(&mut session, "@1 help");
    assert!(help.contains("debug dev"), "{help}");
}

#[test]
fn reconnects_across_a_master_reload() {
    let Some(ha) = Haproxy::start() else { return };
    let mut session = open(&ha.master);
    let Target::Worker(old) = session.run(&cmd("@1"), soon()).unwrap().prompt.target else {
        panic!("no worker")
    };
    run(&mut session, "@master");
    let reply = session.run(&cmd("reload"), soon()).unwrap();
    assert_eq!(reply.closed, Some(Closed::Reload), "{reply:?}");
    // The next command reconnects (the master refuses connections while it re-executes).
    let reply = session.run(&cmd("show proc"), soon()).unwrap();
    assert_eq!(reply.reconnected.unwrap().reason, Disconnect::Asked);
    // Once the new worker runs, `@1` names it.
    let start = Instant::now();
    let new = loop {
        if let Target::Worker(pid) = session.run(&cmd("@1"), soon()).unwrap().prompt.target
            && pid != old
        {
            break pid;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no new worker");
        run(&mut session, "@master");
        std::thread::sleep(Duration::from_millis(50));
    };
    // A reload sent to the master while a worker is the target keeps that target.
    let reply = session.run(&cmd("@master reload"), soon()).unwrap();
    assert_eq!(reply.closed, Some(Closed::Reload));
    let reply = session.run(&cmd("show info"), soon());
    let reply = reply.unwrap_or_else(|e| panic!("{e:?} {:?}", ha.log()));
    let again = reply.reconnected.unwrap();
    assert_eq!(
        (again.reason, again.restored),
        (Disconnect::Asked, vec!["@1".to_string()])
    );
    assert!(
        matches!(reply.prompt.target, Target::Worker(pid) if pid != old),
        "{new}"
    );
    assert_eq!(session.target().as_deref(), Some("@1"));
}

#[test]
fn prompt_and_quit_are_refused() {
    let Some(ha) = Haproxy::start() else { return };
    let mut session = open(&ha.admin);
    for text in ["prompt", "show info;prompt", "quit"] {
        let err = session.run(&cmd(text), soon()).unwrap_err();
        assert!(matches!(err, ExchangeError::Refused(_)), "{err}");
    }
    assert!(run(&mut session, "show info").starts_with("Name: HAProxy"));
}

#[test]
fn a_server_that_is_not_haproxy_is_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeServer::unix(
        dir.path().join("other.sock"),
        Behavior::Interactive {
            greeting: b"".to_vec(),
            answer: |line| Answer::Reply([b"echo: ", line, b"\n"].concat()),
        },
    );
    let address: Address = fake.address().parse().unwrap();
    match Session::open(&address, Options::default()) {
        Err(OpenError::NotHaproxy { received, stream }) => {
            assert_eq!(received, b"echo: prompt p\n");
            assert!(stream.is_some());
        }
        other => panic!("{other:?}"),
    }
    // A silent server is not HAProxy either, after the detection timeout.
    let silent = FakeServer::unix(dir.path().join("silent.sock"), Behavior::Silent);
    let address: Address = silent.address().parse().unwrap();
    let options = Options {
        detect_timeout: Duration::from_millis(300),
        ..Options::default()
    };
    assert!(matches!(
        Session::open(&address, options),
        Err(OpenError::NotHaproxy { .. })
    ));
}

#[test]
fn master_3_4_errors_and_reload_status() {
    let fake = FakeServer::in_temp_dir("master.sock", Behavior::lines(master_3_4));
    let mut session = open(Path::new(fake.address()));
    assert_eq!(session.flavor(), Flavor::Master);
    // 3.4 keeps the connection after the master's own error, and prompts after its one line.
    let reply = session.run(&cmd("@9 show info"), soon()).unwrap();
    assert_eq!(
        reply.body,
        b"Can't find the target PID matching the prefix '@9'\n"
    );
    let reply = session.run(&cmd("reload"), soon()).unwrap();
    assert!(
        reply.closed == Some(Closed::Reload) && reply.body.starts_with(b"Success=1\n--\n[NOTICE]")
    );
    assert!(reply.body.ends_with(b"exited with code 0 (Exit)\n\n"));
    let reply = session.run(&cmd("show proc"), soon()).unwrap();
    assert_eq!(reply.reconnected.unwrap().reason, Disconnect::Asked);
    assert!(reply.body.starts_with(b"#<PID>"));
    assert_eq!(fake.connections(), 2);
}
