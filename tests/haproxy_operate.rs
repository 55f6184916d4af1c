//! `haproxy drain|maint|ready|weight SERVER` on a real HAProxy: by name in every backend, the
//! wait for the sessions to end, and one verdict.

use std::io::Write;
use std::os::unix::net::{UnixListener, UnixStream};

use crate::support::haproxy::{Haproxy, Setup};
use crate::support::sockctl;

const BACKENDS: &str = "backend be_app
    server web1 unix@{dir}/app.sock
    server s2 127.0.0.1:19262

backend be_api
    server web1 unix@{dir}/app.sock
";

fn admin_state(ha: &Haproxy, backend: &str, server: &str) -> String {
    let out = sockctl(["haproxy", "servers", "--json", "--backend", backend, "-s"])
        .arg(&ha.admin)
        .succeeds();
    let doc: serde_json::Value = out.json();
    doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == server)
        .map(|s| s["admin_state_name"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn drain_by_name_everywhere_waits_for_the_sessions() {
    let Some(ha) = Haproxy::start_setup(Setup {
        backend: BACKENDS,
        ..Setup::default()
    }) else {
        return;
    };
    let app = UnixListener::bind(ha.path("app.sock")).unwrap();
    // A client whose request HAProxy passes to web1, which holds it: one session on web1.
    let mut client = UnixStream::connect(ha.path("fe.sock")).unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (held, _) = app.accept().unwrap();

    // Drained in both backends; the session is still there at the timeout: exit 4, said.
    let out = sockctl([
        "haproxy",
        "drain",
        "web1",
        "--wait",
        "--wait-timeout",
        "800ms",
        "-s",
    ])
    .arg(&ha.admin)
    .fails(4)
    .stderr_has("still waiting: be_app/web1: 1 sessions")
    .stderr_has("gave up waiting after 800 ms");
    assert!(out.stdout().contains("be_app/web1: draining"), "{out}");
    assert!(out.stdout().contains("be_api/web1: draining"), "{out}");
    assert_eq!(admin_state(&ha, "be_app", "web1"), "drain");
    assert_eq!(admin_state(&ha, "be_api", "web1"), "drain");
    assert_eq!(admin_state(&ha, "be_app", "s2"), "ready");

    // The session ends: the wait succeeds, then maintenance.
    drop(held);
    drop(client);
    sockctl([
        "haproxy",
        "drain",
        "web1",
        "--wait",
        "--wait-timeout",
        "10s",
        "--then",
        "maint",
        "-s",
    ])
    .arg(&ha.admin)
    .succeeds()
    .stdout_has("be_app/web1: in maintenance")
    .stdout_has("be_api/web1: in maintenance");
    assert_eq!(admin_state(&ha, "be_app", "web1"), "maint");

    // One backend only; a server without a check is up at once.
    sockctl(["haproxy", "ready", "be_api/web1", "--wait", "-s"])
        .arg(&ha.admin)
        .succeeds()
        .stdout_is(format!("{}: be_api/web1: ready\n", ha.admin.display()));
    assert_eq!(admin_state(&ha, "be_api", "web1"), "ready");
    assert_eq!(admin_state(&ha, "be_app", "web1"), "maint");

    // Through the master, to the current worker.
    sockctl(["haproxy", "weight", "web1", "7", "-s"])
        .arg(&ha.master)
        .succeeds()
        .stdout_has("be_api/web1: weight 7");

    // Unknown names: exit 1; bad names: exit 2 before anything is sent.
    sockctl(["haproxy", "maint", "nosuch", "-s"])
        .arg(&ha.admin)
        .fails(1)
        .stderr_has("no server named nosuch");
    sockctl(["haproxy", "maint", "be app/x", "-s"])
        .arg(&ha.admin)
        .fails(2);
}

#[test]
fn add_and_delete_safely() {
    let Some(ha) = Haproxy::start_setup(Setup {
        backend: BACKENDS,
        ..Setup::default()
    }) else {
        return;
    };
    let app = UnixListener::bind(ha.path("app.sock")).unwrap();
    let address = format!("unix@{}", ha.path("app.sock").display());
    // Options before the server: everything after its address is a server keyword.
    sockctl(["haproxy", "add", "-s"])
        .arg(&ha.admin)
        .arg("be_api/web9")
        .arg(&address)
        .args(["weight", "5"])
        .succeeds()
        .stdout_has("be_api/web9: added, in maintenance")
        .stderr_has("does not survive a reload");
    assert_eq!(admin_state(&ha, "be_api", "web9"), "maint");
    sockctl(["haproxy", "add", "--ready", "-s"])
        .arg(&ha.admin)
        .arg("be_api/web10")
        .arg(&address)
        .succeeds()
        .stdout_has("be_api/web10: added, ready");
    assert_eq!(admin_state(&ha, "be_api", "web10"), "ready");
    sockctl(["haproxy", "add", "-s"])
        .arg(&ha.admin)
        .args(["web9", "10.0.0.1:80"])
        .fails(2)
        .stderr_has("BACKEND/NAME");

    // A session on web1: not deleted at the timeout, left in maintenance.
    let mut client = UnixStream::connect(ha.path("fe.sock")).unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (held, _) = app.accept().unwrap();
    sockctl([
        "haproxy",
        "del",
        "be_app/web1",
        "--wait-timeout",
        "800ms",
        "-s",
    ])
    .arg(&ha.admin)
    .fails(4)
    .stderr_has("not deleted (left in maintenance)");
    assert_eq!(admin_state(&ha, "be_app", "web1"), "maint");

    // Once it ends, deleted everywhere it is.
    drop(held);
    drop(client);
    sockctl(["haproxy", "del", "web1", "--wait-timeout", "10s", "-s"])
        .arg(&ha.admin)
        .succeeds()
        .stdout_has("be_app/web1: deleted")
        .stdout_has("be_api/web1: deleted");
    assert_eq!(admin_state(&ha, "be_app", "web1"), "");
    sockctl(["haproxy", "del", "web1", "-s"])
        .arg(&ha.admin)
        .fails(1)
        .stderr_has("no server named web1");
}
