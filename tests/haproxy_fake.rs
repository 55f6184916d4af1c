//! HAProxy behaviour that Debian's 2.6 cannot show: the 2.7+/3.x reload protocol, replayed
//! byte for byte from 3.4 recordings, and broken state dumps.

use std::process::Stdio;
use std::time::Duration;

use crate::support::fake::{
    FakeServer, Reply, reload_3_4_rejected, reload_3_4_succeeded, scripted_master, servers_state,
};
use crate::support::{Sockctl, fixture, leftovers, save_state, sockctl, wait_for_temporary};

fn reload(server: &FakeServer) -> Sockctl {
    sockctl(["haproxy", "reload", "-s", server.address()])
}

#[test]
fn success_1_is_a_reload() {
    let server = scripted_master(reload_3_4_succeeded());
    let out = reload(&server).succeeds();
    assert!(
        out.stdout()
            .starts_with("reloaded: worker 11483 -> 12117 in "),
        "{out}"
    );

    // A master of its own: this one's counters have moved already.
    let server = scripted_master(reload_3_4_succeeded());
    let json: serde_json::Value = reload(&server).arg("--json").succeeds().json();
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
    let server = scripted_master(reload_3_4_rejected());
    // 3.4 leaves `# workers` empty after a failed reload; the serving worker is the old one.
    let out = reload(&server).fails(1).stdout_is(
        "reload failed: the new configuration was rejected (failed reloads 0 -> 1); worker 12536 still serves\n",
    );
    let err = out.stderr();
    assert!(err.starts_with("--\n[NOTICE]"), "{err}");
    assert!(
        err.contains("[ALERT]    (12691) : config : Fatal errors found in configuration."),
        "{err}"
    );
}

#[test]
fn a_reload_in_progress_is_its_own_refusal() {
    // The text of HAProxy's mworker CLI handler when a new worker is still starting.
    let server = scripted_master([
        fixture("3.4/dr_07_show_proc_before_reload.reply"),
        b"Success=0\n--\nAnother reload is still in progress.\n".to_vec(),
        fixture("3.4/dr_07_show_proc_before_reload.reply"),
    ]);
    reload(&server)
        .fails(1)
        .stderr_has("reload refused: another reload is still in progress; nothing was done");
}

#[test]
fn no_outcome_before_the_timeout() {
    // 2.6-style empty reply, but the counters never move.
    let server = scripted_master([
        fixture("2.6/master_show_proc.reply"),
        Vec::new(),
        fixture("2.6/master_show_proc.reply"),
    ]);
    reload(&server)
        .args(["--timeout", "400ms"])
        .fails(4)
        .stderr_has("reload: no outcome after")
        .stderr_has("last seen: master 7975 with 0 reloads (0 failed), workers [7978]");
}

/// A stats socket whose `show servers state` is `dump` the first time, and which closes the
/// connection on the next ones.
fn fake_stats(dump: Reply) -> FakeServer {
    let dump = std::sync::Mutex::new(Some(dump));
    servers_state(move || dump.lock().unwrap().take().unwrap_or(Reply::Close))
}

#[test]
fn a_dump_cut_short_leaves_the_old_file_byte_identical() {
    let good = fixture("2.6/stats_show_servers_state.reply");
    for cut in [good.len() - 1, good.len() - 2, good.len() / 2, 2] {
        let server = fake_stats(Reply::Bytes(good[..cut].to_vec()));
        let file = server.dir().join("haproxy.state");
        std::fs::write(&file, b"old state\n").unwrap();
        save_state(&server, &file, "5s")
            .fails(5)
            .stderr_has("show servers state: ");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            b"old state\n",
            "cut at {cut}"
        );
        assert_eq!(leftovers(server.dir()), Vec::<String>::new());
    }
}

#[test]
fn an_error_reply_leaves_the_old_file_byte_identical() {
    let server = fake_stats(Reply::Bytes(fixture(
        "2.6/stats_show_servers_state_nosuchbe.reply",
    )));
    let file = server.dir().join("haproxy.state");
    std::fs::write(&file, b"old state\n").unwrap();
    save_state(&server, &file, "5s")
        .fails(5)
        .stderr_has("Can't find backend");
    assert_eq!(std::fs::read(&file).unwrap(), b"old state\n");
}

#[test]
fn the_whole_dump_is_saved_exactly() {
    let good = fixture("3.4/stats_show_servers_state.reply");
    let server = fake_stats(Reply::Bytes(good.clone()));
    let file = server.dir().join("haproxy.state");
    save_state(&server, &file, "5s").succeeds();
    assert_eq!(std::fs::read(&file).unwrap(), good);
}

#[test]
fn killed_mid_save_the_old_file_is_intact_and_the_next_run_cleans_up() {
    let good = fixture("2.6/stats_show_servers_state.reply");
    let slow = fake_stats(Reply::Then {
        now: good[..100].to_vec(),
        drip: good[100..].to_vec(),
        every: Duration::from_millis(50),
    });
    let dir = slow.dir();
    let file = dir.join("haproxy.state");
    std::fs::write(&file, b"old state\n").unwrap();
    let mut child = save_state(&slow, &file, "60s")
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the temporary file holds part of the dump, then kill without warning.
    wait_for_temporary(dir);
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), b"old state\n");
    assert_eq!(
        leftovers(dir).len(),
        1,
        "the killed run's temporary stays behind"
    );

    let server = fake_stats(Reply::Bytes(good.clone()));
    save_state(&server, &file, "5s").succeeds();
    assert_eq!(std::fs::read(&file).unwrap(), good);
    assert_eq!(leftovers(dir), Vec::<String>::new());
}

#[test]
fn two_saves_never_interleave() {
    let good = fixture("2.6/stats_show_servers_state.reply");
    let slow = fake_stats(Reply::Then {
        now: Vec::new(),
        drip: good.clone(),
        every: Duration::from_millis(2),
    });
    let file = slow.dir().join("haproxy.state");
    let first = save_state(&slow, &file, "30s");
    let child = first
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_temporary(slow.dir());
    // The second run waits for the lock; with a short timeout it gives up and says why.
    let fast = fake_stats(Reply::Bytes(good.clone()));
    save_state(&fast, &file, "200ms")
        .fails(4)
        .stderr_has("another sockctl run holds the lock");
    assert_eq!(
        fast.connections(),
        1,
        "only the probe: no dump while locked"
    );
    first.ended(child.wait_with_output().unwrap()).succeeds();
    assert_eq!(std::fs::read(&file).unwrap(), good);
}
