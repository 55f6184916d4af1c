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

/// web1 in two backends behind a slow upstream that holds sessions, a backup server, a server
/// whose health check always fails.
const FLEET: &str = "backend be_app
    server web1 unix@{dir}/app.sock
    server spare 127.0.0.1:19262 backup
    server down 127.0.0.1:9 check inter 100ms fall 1 rise 1

backend be_api
    server web1 unix@{dir}/app.sock
";

/// `ADDRESS`'s entry of an `operate --json` document.
fn entry<'a>(doc: &'a serde_json::Value, ha: &Haproxy) -> &'a serde_json::Value {
    &doc[ha.admin.to_str().unwrap()]
}

/// The record of `backend/server` in an entry.
fn record<'a>(entry: &'a serde_json::Value, backend: &str, server: &str) -> &'a serde_json::Value {
    entry["result"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["backend"] == backend && r["server"] == server)
        .unwrap_or_else(|| panic!("no record of {backend}/{server} in {entry}"))
}

#[test]
fn json_records_say_what_changed_and_dry_run_changes_nothing() {
    let Some(ha) = Haproxy::start_setup(Setup {
        backend: FLEET,
        ..Setup::default()
    }) else {
        return;
    };
    let app = UnixListener::bind(ha.path("app.sock")).unwrap();
    let json = |args: &[&str], code: i32| -> serde_json::Value {
        let run = sockctl(["haproxy"])
            .args(args)
            .arg("--json")
            .arg("-s")
            .arg(&ha.admin);
        let run = if code == 0 {
            run.succeeds()
        } else {
            run.fails(code)
        };
        run.json()
    };
    // Until its check has failed once, the server is still up.
    let start = std::time::Instant::now();
    while !answers_down(&ha) {
        assert!(start.elapsed().as_secs() < 10, "'down' never went DOWN");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // Dry run: both backends would change; nothing did.
    let doc = json(
        &["drain", "web1", "--dry-run", "--wait", "--then", "maint"],
        0,
    );
    let e = entry(&doc, &ha);
    assert_eq!(e["code"], 0);
    assert_eq!(e["result"]["dry_run"], true);
    assert_eq!(e["result"]["changed"], true);
    for backend in ["be_app", "be_api"] {
        let r = record(e, backend, "web1");
        assert_eq!(r["verdict"], "dry-run", "{r}");
        assert_eq!(r["changed"], true);
        assert_eq!(r["before"]["admin_state"], "ready");
        assert_eq!(r["after"]["admin_state"], "maint");
        assert_eq!(admin_state(&ha, backend, "web1"), "ready");
    }

    // A session held on be_app/web1: the drain times out there, done in be_api.
    let mut client = UnixStream::connect(ha.path("fe.sock")).unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (held, _) = app.accept().unwrap();
    let doc = json(&["drain", "web1", "--wait", "--wait-timeout", "600ms"], 4);
    let e = entry(&doc, &ha);
    assert_eq!(e["code"], 4);
    assert!(
        e["errors"][0].as_str().unwrap().contains("still waiting"),
        "{e}"
    );
    assert_eq!(e["result"]["changed"], true);
    let app_web1 = record(e, "be_app", "web1");
    assert_eq!(app_web1["verdict"], "timeout", "{app_web1}");
    assert_eq!(app_web1["left"]["sessions"], 1);
    assert_eq!(app_web1["before"]["sessions"], 1);
    assert_eq!(app_web1["before"]["admin_state"], "ready");
    assert_eq!(app_web1["after"]["admin_state"], "drain");
    assert_eq!(app_web1["after"]["status"], "DRAIN");
    assert_eq!(app_web1["changed"], true);
    let api_web1 = record(e, "be_api", "web1");
    assert_eq!(api_web1["verdict"], "done");
    assert_eq!(api_web1["left"], serde_json::Value::Null);

    // Again once the session ended: done, nothing changed.
    drop(held);
    drop(client);
    let doc = json(&["drain", "web1", "--wait", "--wait-timeout", "10s"], 0);
    let e = entry(&doc, &ha);
    assert_eq!(e["result"]["changed"], false, "{e}");
    assert_eq!(record(e, "be_app", "web1")["verdict"], "done");
    assert_eq!(record(e, "be_app", "web1")["after"]["sessions"], 0);

    // The dry run's prediction is what the real run does.
    let planned = json(&["maint", "be_app/web1", "--dry-run"], 0);
    let done = json(&["maint", "be_app/web1"], 0);
    let (planned, done) = (
        record(entry(&planned, &ha), "be_app", "web1"),
        record(entry(&done, &ha), "be_app", "web1"),
    );
    for field in ["admin_state", "admin_flags", "weight"] {
        assert_eq!(planned["after"][field], done["after"][field], "{field}");
    }
    assert_eq!(planned["changed"], true);
    assert_eq!(done["changed"], true);

    // A server already DOWN: drained at once (no session); made ready it stays DOWN, and a
    // wait for it to come up times out naming its status.
    let doc = json(&["drain", "down", "--wait", "--wait-timeout", "5s"], 0);
    assert_eq!(
        record(entry(&doc, &ha), "be_app", "down")["verdict"],
        "done"
    );
    let doc = json(&["ready", "down", "--wait", "--wait-timeout", "500ms"], 4);
    let r = record(entry(&doc, &ha), "be_app", "down");
    assert_eq!(r["verdict"], "timeout");
    assert_eq!(r["changed"], true);
    assert!(
        r["left"]["status"].as_str().unwrap().starts_with("DOWN"),
        "{r}"
    );

    // A backup server without a check: ready at once; a second time changes nothing.
    let doc = json(&["drain", "spare"], 0);
    assert_eq!(record(entry(&doc, &ha), "be_app", "spare")["changed"], true);
    let doc = json(&["ready", "spare", "--wait", "--wait-timeout", "5s"], 0);
    assert_eq!(record(entry(&doc, &ha), "be_app", "spare")["changed"], true);
    let doc = json(&["ready", "spare", "--wait", "--wait-timeout", "5s"], 0);
    assert_eq!(entry(&doc, &ha)["result"]["changed"], false);

    // Weight: the user weight before and after; the same weight again is no change.
    let doc = json(&["weight", "web1", "9"], 0);
    let r = record(entry(&doc, &ha), "be_api", "web1");
    assert_eq!(
        (
            r["before"]["weight"].as_u64(),
            r["after"]["weight"].as_u64()
        ),
        (Some(1), Some(9))
    );
    let doc = json(&["weight", "web1", "9", "--dry-run"], 0);
    assert_eq!(entry(&doc, &ha)["result"]["changed"], false);

    // Through the master: the worker's PID on each record.
    let doc: serde_json::Value = sockctl(["haproxy", "weight", "web1", "3", "--json", "-s"])
        .arg(&ha.master)
        .succeeds()
        .json();
    let e = &doc[ha.master.to_str().unwrap()];
    assert_eq!(record(e, "be_api", "web1")["target"], "worker");
    assert!(record(e, "be_api", "web1")["pid"].as_u64().is_some(), "{e}");

    // No such server: exit 1, said in the socket's errors, no record.
    let doc = json(&["maint", "nosuch"], 1);
    let e = entry(&doc, &ha);
    assert_eq!(e["code"], 1);
    assert!(
        e["errors"][0]
            .as_str()
            .unwrap()
            .contains("no server named nosuch")
    );
    assert_eq!(e["result"]["servers"], serde_json::json!([]));
    // A socket where nothing listens: exit 3, no result.
    let doc: serde_json::Value = sockctl(["haproxy", "drain", "web1", "--json", "-s"])
        .arg(ha.path("nothing.sock"))
        .fails(3)
        .json();
    let e = &doc[ha.path("nothing.sock").to_str().unwrap()];
    assert_eq!(e["code"], 3);
    assert_eq!(e["result"], serde_json::Value::Null);
}

/// Whether the server `down` has been marked DOWN by its check.
fn answers_down(ha: &Haproxy) -> bool {
    let out = sockctl(["haproxy", "servers", "--json", "--backend", "be_app", "-s"])
        .arg(&ha.admin)
        .succeeds();
    let doc: serde_json::Value = out.json();
    doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "down" && s["op_state_name"] == "stopped")
}

#[test]
fn json_says_which_servers_were_done_before_haproxy_refused_one() {
    // A static algorithm takes only 0% or 100%: HAProxy refuses weight 5 there.
    let Some(ha) = Haproxy::start_setup(Setup {
        backend: "backend be_app
    server web1 127.0.0.1:19261

backend be_static
    balance static-rr
    server web1 127.0.0.1:19261
",
        ..Setup::default()
    }) else {
        return;
    };
    let doc: serde_json::Value = sockctl(["haproxy", "weight", "web1", "5", "--json", "-s"])
        .arg(&ha.admin)
        .fails(1)
        .json();
    let e = entry(&doc, &ha);
    assert_eq!(e["code"], 1);
    assert!(e["errors"][0].as_str().unwrap().contains("static"), "{e}");
    let done = record(e, "be_app", "web1");
    assert_eq!(done["verdict"], "done", "{done}");
    // Its weight changed before the failure: said, though the state was not read again.
    assert_eq!(done["changed"], true, "{done}");
    assert_eq!(e["result"]["changed"], true);
    let refused = record(e, "be_static", "web1");
    assert_eq!(refused["verdict"], "failed", "{refused}");
    assert_eq!(refused["after"], serde_json::Value::Null);
    assert_eq!(refused["before"]["weight"], 1);
}
