//! HAProxy behaviour that Debian's 2.6 cannot show: the 2.7+/3.x reload protocol, replayed
//! byte for byte from 3.4 recordings, and broken state dumps.

use std::sync::Arc;
use std::time::Duration;

use crate::support::fake::{Behavior, FakeServer, Reply, scripted_master};
use crate::support::leftovers;
use crate::support::{assert_fails, fixture, old_sockctl as sockctl, stderr, stdout};

/// The scripted master of the support module, with its `show proc` replies from fixtures.
fn fake_master(before: &str, reload: Vec<u8>, after: &str) -> (tempfile::TempDir, FakeServer) {
    scripted_master(fixture(before), reload, fixture(after))
}

fn reload(server: &FakeServer, extra: &[&str]) -> std::process::Output {
    sockctl()
        .args(["haproxy", "reload", "-s", server.address()])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn success_1_is_a_reload() {
    let (_dir, server) = fake_master(
        "3.4/dr_07_show_proc_before_reload.reply",
        fixture("3.4/dr_08_master_reload.reply"),
        "3.4/dr_10_show_proc_after_reload.reply",
    );
    let out = reload(&server, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("reloaded: worker 11483 -> 12117 in "),
        "{}",
        stdout(&out)
    );

    // A master of its own: this one's counters have moved already.
    let (_dir, server) = fake_master(
        "3.4/dr_07_show_proc_before_reload.reply",
        fixture("3.4/dr_08_master_reload.reply"),
        "3.4/dr_10_show_proc_after_reload.reply",
    );
    let out = reload(&server, &["--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["protocol"], "status-line");
    assert_eq!(json["status"], "reloaded");
    assert!(
        json["logs"].as_str().unwrap().contains("Loading success."),
        "{}",
        json["logs"]
    );
}

#[test]
fn success_0_is_a_failed_reload_with_its_log() {
    let (_dir, server) = fake_master(
        "3.4/bad_01_show_proc_before.reply",
        fixture("3.4/bad_02_master_reload_badcfg.reply"),
        "3.4/bad_04_show_proc_after_bad_reload.reply",
    );
    let out = reload(&server, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // 3.4 leaves `# workers` empty after a failed reload; the serving worker is the old one.
    assert_eq!(
        stdout(&out),
        "reload failed: the new configuration was rejected (failed reloads 0 -> 1); worker 12536 still serves\n"
    );
    let err = stderr(&out);
    assert!(err.starts_with("--\n[NOTICE]"), "{err}");
    assert!(
        err.contains("[ALERT]    (12691) : config : Fatal errors found in configuration."),
        "{err}"
    );
}

#[test]
fn a_reload_in_progress_is_its_own_refusal() {
    // The text of HAProxy's mworker CLI handler when a new worker is still starting.
    let (_dir, server) = fake_master(
        "3.4/dr_07_show_proc_before_reload.reply",
        b"Success=0\n--\nAnother reload is still in progress.\n".to_vec(),
        "3.4/dr_07_show_proc_before_reload.reply",
    );
    let out = reload(&server, &[]);
    assert_fails(
        &out,
        1,
        "reload refused: another reload is still in progress; nothing was done",
    );
}

#[test]
fn no_outcome_before_the_timeout() {
    // 2.6-style empty reply, but the counters never move.
    let (_dir, server) = fake_master(
        "2.6/master_show_proc.reply",
        Vec::new(),
        "2.6/master_show_proc.reply",
    );
    let out = reload(&server, &["--timeout", "400ms"]);
    assert_fails(&out, 4, "reload: no outcome after");
    assert!(
        stderr(&out).contains("last seen: master 7975 with 0 reloads (0 failed), workers [7978]")
    );
}

/// A stats socket whose `show servers state` is `dump` (and which knows no `show proc`).
fn fake_stats(dump: Reply) -> (tempfile::TempDir, FakeServer) {
    let dump = std::sync::Mutex::new(Some(dump));
    let responder = move |command: &[u8]| match command {
        b"show servers state\n" => dump.lock().unwrap().take().unwrap_or(Reply::Close),
        _ => Reply::Bytes(fixture("2.6/stats_unknown_foo.reply")),
    };
    let dir = tempfile::tempdir().unwrap();
    let server = FakeServer::unix(
        dir.path().join("admin.sock"),
        Behavior::Respond(Arc::new(responder)),
    );
    (dir, server)
}

fn save_state(server: &FakeServer, file: &std::path::Path) -> std::process::Output {
    sockctl()
        .args(["haproxy", "save-state", "-s", server.address()])
        .args(["-o", file.to_str().unwrap(), "--timeout", "5s"])
        .output()
        .unwrap()
}

#[test]
fn a_dump_cut_short_leaves_the_old_file_byte_identical() {
    let good = fixture("2.6/stats_show_servers_state.reply");
    for cut in [good.len() - 1, good.len() - 2, good.len() / 2, 2] {
        let (dir, server) = fake_stats(Reply::Bytes(good[..cut].to_vec()));
        let file = dir.path().join("haproxy.state");
        std::fs::write(&file, b"old state\n").unwrap();
        let out = save_state(&server, &file);
        assert_eq!(out.status.code(), Some(5), "cut at {cut}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("show servers state: "),
            "{}",
            stderr(&out)
        );
        assert_eq!(
            std::fs::read(&file).unwrap(),
            b"old state\n",
            "cut at {cut}"
        );
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    }
}

#[test]
fn an_error_reply_leaves_the_old_file_byte_identical() {
    let (dir, server) = fake_stats(Reply::Bytes(fixture(
        "2.6/stats_show_servers_state_nosuchbe.reply",
    )));
    let file = dir.path().join("haproxy.state");
    std::fs::write(&file, b"old state\n").unwrap();
    let out = save_state(&server, &file);
    assert_fails(&out, 5, "Can't find backend");
    assert_eq!(std::fs::read(&file).unwrap(), b"old state\n");
}

#[test]
fn the_whole_dump_is_saved_exactly() {
    let good = fixture("3.4/stats_show_servers_state.reply");
    let (dir, server) = fake_stats(Reply::Bytes(good.clone()));
    let file = dir.path().join("haproxy.state");
    let out = save_state(&server, &file);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read(&file).unwrap(), good);
}

#[test]
fn killed_mid_save_the_old_file_is_intact_and_the_next_run_cleans_up() {
    let good = fixture("2.6/stats_show_servers_state.reply");
    let (dir, server) = fake_stats(Reply::Then {
        now: good[..100].to_vec(),
        drip: good[100..].to_vec(),
        every: Duration::from_millis(50),
    });
    let file = dir.path().join("haproxy.state");
    std::fs::write(&file, b"old state\n").unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("sockctl"))
        .args(["haproxy", "save-state", "-s", server.address()])
        .args(["-o", file.to_str().unwrap(), "--timeout", "60s"])
        .spawn()
        .unwrap();
    // Wait until the temporary file holds part of the dump, then kill without warning.
    let start = std::time::Instant::now();
    while leftovers(dir.path()).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no temporary file appeared"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), b"old state\n");
    assert_eq!(
        leftovers(dir.path()).len(),
        1,
        "the killed run's temporary stays behind"
    );

    let (_dir2, server) = fake_stats(Reply::Bytes(good.clone()));
    let out = save_state(&server, &file);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read(&file).unwrap(), good);
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

#[test]
fn two_saves_never_interleave() {
    let good = fixture("2.6/stats_show_servers_state.reply");
    let (dir, slow) = fake_stats(Reply::Then {
        now: Vec::new(),
        drip: good.clone(),
        every: Duration::from_millis(2),
    });
    let file = dir.path().join("haproxy.state");
    let first = std::process::Command::new(assert_cmd::cargo::cargo_bin("sockctl"))
        .args(["haproxy", "save-state", "-s", slow.address()])
        .args(["-o", file.to_str().unwrap(), "--timeout", "30s"])
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while leftovers(dir.path()).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "first save did not start"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // The second run waits for the lock; with a short timeout it gives up and says why.
    let (_d, fast) = fake_stats(Reply::Bytes(good.clone()));
    let out = sockctl()
        .args(["haproxy", "save-state", "-s", fast.address()])
        .args(["-o", file.to_str().unwrap(), "--timeout", "200ms"])
        .output()
        .unwrap();
    assert_fails(&out, 4, "another sockctl run holds the lock");
    assert_eq!(
        fast.connections(),
        1,
        "only the probe: no dump while locked"
    );
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0));
    assert_eq!(std::fs::read(&file).unwrap(), good);
}
