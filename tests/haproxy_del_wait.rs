//! `haproxy del` on HAProxy 3.x, where HAProxy itself waits until a server can be deleted
//! (`wait … srv-removable`). No 3.x server is at hand: a fake stats socket answers as its CLI
//! does, and answers a `wait` whose client shut its write side with "Interrupted.", as HAProxy
//! does, so sending it as a one-shot fails these tests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::fake::{Attached, FakeServer, Server3, haproxy_3};
use crate::support::sockctl;

/// web1 in two backends, s2 beside it in be_app.
fn fleet(web1_app: Attached) -> (FakeServer, Arc<Mutex<Vec<Server3>>>) {
    haproxy_3(vec![
        Server3::new("be_app", "web1", web1_app),
        Server3::new("be_app", "s2", Attached::UntilShutdown),
        Server3::new("be_api", "web1", Attached::Nothing),
    ])
}

/// The servers left, as `backend/name`.
fn left(servers: &Mutex<Vec<Server3>>) -> Vec<String> {
    servers
        .lock()
        .unwrap()
        .iter()
        .map(|s| format!("{}/{}", s.backend, s.name))
        .collect()
}

/// What every connection sent, one string each.
fn sent(fake: &FakeServer) -> Vec<String> {
    fake.received_when_closed()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.bytes).into_owned())
        .collect()
}

#[test]
fn haproxy_waits_until_the_server_can_go_then_it_is_deleted() {
    // Its last connection ends 400 ms after it went into maintenance: not removable when
    // the wait starts.
    let (fake, servers) = fleet(Attached::For(Duration::from_millis(400)));
    sockctl(["haproxy", "del", "web1", "--wait-timeout", "10s", "-s"])
        .arg(fake.address())
        .succeeds()
        .stdout_has("be_app/web1: deleted")
        .stdout_has("be_api/web1: deleted");
    assert_eq!(left(&servers), ["be_app/s2"]);

    // One prompt-mode connection waits and deletes; nothing polls the stats.
    let sent = sent(&fake);
    let session: Vec<&String> = sent.iter().filter(|s| s.contains("wait ")).collect();
    assert_eq!(session.len(), 1, "{sent:#?}");
    let session = session[0];
    assert!(
        session.starts_with("prompt p\nset severity-output number\n"),
        "{session}"
    );
    let wait = session.find(" srv-removable be_app/web1\n").unwrap();
    let del = session.find("del server be_app/web1\n").unwrap();
    assert!(wait < del, "{session}");
    assert!(
        session.contains(" srv-removable be_api/web1\n"),
        "{session}"
    );
    assert!(!sent.iter().any(|s| s.contains("show stat")), "{sent:#?}");
    // The delay is what is left of --wait-timeout, in milliseconds.
    let ms: u64 = session
        .split("wait ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|ms| ms.parse().ok())
        .unwrap();
    assert!((9000..=10000).contains(&ms), "{session}");
}

#[test]
fn still_attached_at_the_timeout_exits_4_and_leaves_it_in_maintenance() {
    let (fake, servers) = fleet(Attached::UntilShutdown);
    sockctl([
        "haproxy",
        "del",
        "be_app/web1",
        "--wait-timeout",
        "300ms",
        "-s",
    ])
    .arg(fake.address())
    .fails(4)
    .stderr_has(
        "be_app/web1: Wait delay expired. Server still has connections attached to it, cannot \
         remove it.",
    )
    .stderr_has("gave up waiting after 300 ms; not deleted (left in maintenance)")
    .stdout_is("");
    assert!(left(&servers).contains(&"be_app/web1".to_string()));
    assert!(!sent(&fake).iter().any(|s| s.contains("del server")));

    // With --shutdown-sessions, what is left is ended and the server deleted.
    sockctl([
        "haproxy",
        "del",
        "be_app/web1",
        "--wait-timeout",
        "300ms",
        "--shutdown-sessions",
        "-s",
    ])
    .arg(fake.address())
    .succeeds()
    .stdout_has("be_app/web1: deleted")
    .stderr_has("Wait delay expired.")
    .stderr_has("ending its sessions (--shutdown-sessions)");
    assert_eq!(left(&servers), ["be_app/s2", "be_api/web1"]);
}

#[test]
fn a_server_haproxy_can_never_delete_exits_1_with_its_words() {
    let (fake, servers) = fleet(Attached::Nothing);
    servers.lock().unwrap()[0].pinned = true;
    sockctl(["haproxy", "del", "be_app/web1", "-s"])
        .arg(fake.address())
        .fails(1)
        .stderr_has(
            "Failed. This server cannot be removed at runtime due to other configuration \
             elements pointing to it.",
        )
        .stdout_is("");
    assert!(left(&servers).contains(&"be_app/web1".to_string()));
}

#[test]
fn the_fake_interrupts_a_wait_sent_with_a_half_close() {
    // What makes the tests above fail if `del` ever sent its wait as a one-shot.
    let (fake, _servers) = fleet(Attached::UntilShutdown);
    sockctl(["send"])
        .arg(fake.address())
        .arg("set server be_app/web1 state maint")
        .succeeds();
    sockctl(["haproxy", "exec", "-s"])
        .arg(fake.address())
        .arg("wait 5000 srv-removable be_app/web1")
        .timeout(Duration::from_secs(3))
        .fails(1)
        .stderr_has("Interrupted. Server still has connections attached to it");
}

#[test]
fn the_fake_answers_as_recorded() {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    let recorded = |name: &str| {
        let path = format!(
            "{}/tests/fixtures/prompt/3.4/prompt_p_stats/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(path).unwrap()
    };
    let (fake, _servers) = fleet(Attached::Nothing);
    let path = fake.path.clone().unwrap();

    // A one-shot: the reply, then the close.
    let mut oneshot = UnixStream::connect(&path).unwrap();
    oneshot.write_all(b"show info\n").unwrap();
    oneshot.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    oneshot.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, crate::support::fixture("3.4/stats_show_info.reply"));

    // Prompt mode: each reply ends with the prompt, the connection stays.
    let mut session = UnixStream::connect(&path).unwrap();
    session
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut exchange = |request: &[u8], expected: &[u8]| {
        session.write_all(request).unwrap();
        let mut reply = vec![0; expected.len()];
        session.read_exact(&mut reply).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&reply),
            String::from_utf8_lossy(expected)
        );
    };
    exchange(&recorded("01.req"), &recorded("01.rep"));
    exchange(&recorded("04.req"), &recorded("04.rep"));
    exchange(b"set severity-output number\n", b"\n> ");
    exchange(
        b"wait 0 srv-removable be_app/web1\n",
        b"[3]: Invalid duration.\n\n> ",
    );
    exchange(
        b"wait 100 srv-removable be_app/web1\n",
        b"[3]: Failed. Only servers in maintenance mode can be deleted.\n\n> ",
    );
    exchange(b"set server be_app/web1 state maint\n", b"\n> ");
    exchange(b"wait 100 srv-removable be_app/web1\n", b"[6]: Done.\n\n> ");
    exchange(b"del server be_app/web1\n", b"[6]: Server deleted.\n\n> ");
}
