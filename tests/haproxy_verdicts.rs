//! Reload verdicts whatever path the reload takes, on a real HAProxy and on scripted masters.

use std::process::Stdio;

use crate::support::fake::{
    Answer, Behavior, FakeServer, reload_3_4_rejected, reload_3_4_succeeded, scripted_master,
};
use crate::support::haproxy::{Haproxy, Setup};
use crate::support::{Sockctl, fixture, send, sockctl};

fn reload(ha: &Haproxy) -> Sockctl {
    sockctl(["haproxy", "reload", "-s"]).arg(&ha.master)
}

/// With a `program` section, 2.6's master accepts connections during its re-exec and answers
/// none of them until it is back: a poll without an answer is part of the reload.
#[test]
fn a_master_with_a_program_section_reloads() {
    let Some(ha) = Haproxy::start_setup(Setup {
        extra_sections: "program sleeper\n    command sleep 1000\n",
        ..Setup::default()
    }) else {
        return;
    };
    let worker = ha.current_worker();
    for round in 1..=2 {
        let out = reload(&ha).args(["--timeout", "60s"]).succeeds();
        assert!(out.stdout().starts_with("reloaded: worker "), "{out}");
        assert_eq!(ha.reloads(), round);
    }
    assert_ne!(ha.current_worker(), worker);
}

/// A reload that kills HAProxy (2.6 exits when the new configuration cannot chroot): the
/// verdict comes at once, not after the whole --timeout of refused connections.
#[test]
fn haproxy_exiting_during_the_reload_is_a_failed_reload() {
    let Some(ha) = Haproxy::start() else { return };
    let text = std::fs::read_to_string(&ha.config).unwrap();
    std::fs::write(
        &ha.config,
        text.replacen("global\n", "global\n    chroot /nonexistent-sockctl\n", 1),
    )
    .unwrap();
    // The master exits after its new worker, usually at once; when it lingers, it has no
    // worker. Either way nothing serves, and the reload failed.
    let out = reload(&ha)
        .args(["--timeout", "60s"])
        .fails(1)
        .stderr_has("reload failed: HAProxy ");
    let err = out.stderr();
    assert!(
        err.contains("HAProxy exited during the reload")
            || err.contains("HAProxy has no worker after the reload"),
        "{out}"
    );
}

/// 2.6 refuses connections while it re-executes for someone else's reload: sockctl waits for
/// that reload, then does its own.
#[test]
fn a_reload_during_another_reload_waits_for_it() {
    let Some(ha) = Haproxy::start() else { return };
    for round in 1..=3u64 {
        // Someone else's reload, sent the way socat would.
        assert!(crate::support::haproxy::answers(&ha.master, "reload", ""));
        let out = reload(&ha).args(["--timeout", "60s"]).succeeds();
        assert!(out.stdout().starts_with("reloaded: worker "), "{out}");
        assert_eq!(ha.reloads(), 2 * round);
    }
}

/// `Success=1` from a master whose `show proc` shows the same worker and the same reload
/// counter afterwards is not a reload.
#[test]
fn success_without_a_new_worker_or_reload_is_not_a_success() {
    let [before, reload, _] = reload_3_4_succeeded();
    let master = scripted_master([before.clone(), reload, before]);
    sockctl(["haproxy", "reload", "-s", master.address()])
        .fails(5)
        .stderr_has("answered Success=1 but shows no new reload and no new worker")
        .stdout_is("");
}

/// A reload's verdict does not depend on the command that sends it: `exec --master reload`
/// fails (exit 1) exactly when `haproxy reload` would.
#[test]
fn exec_master_reload_has_the_reload_verdict() {
    let master = scripted_master(reload_3_4_rejected());
    let exec = |extra: &[&str]| {
        sockctl(["haproxy", "exec", "--master", "-s", master.address()])
            .args(extra)
            .arg("reload")
    };
    let out = exec(&[]).fails(1).stderr_has("the reload failed");
    assert!(out.stdout().starts_with("Success=0\n--\n"), "{out}");
    let json: serde_json::Value = exec(&["--json"]).fails(1).json();
    assert_eq!(json["ok"], false, "{json}");

    // 2.6 answers a reload with nothing at all: the verdict comes from show proc.
    let Some(ha) = Haproxy::start() else { return };
    let reload = sockctl(["haproxy", "exec", "--master", "-s"])
        .arg(&ha.master)
        .arg("reload");
    reload.succeeds();
    assert_eq!(ha.reloads(), 1);
    let text = std::fs::read_to_string(&ha.config).unwrap();
    std::fs::write(
        &ha.config,
        text.replace("default_backend be_app", "no-such-keyword"),
    )
    .unwrap();
    reload
        .fails(1)
        .stderr_has("the reload failed: the new configuration was rejected");
}

/// A 3.4 master CLI in prompt mode for the cases only a fake can make:
/// - `@1 show servers state` is cut: the master closes the connection in the middle of the
///   reply, as it does when a reload lands, and a clean EOF is all the client sees;
/// - `wait` with wrong arguments answers its usage, which a stats socket tags as an error
///   (`wait -h` answers the same text as help);
/// - `@master reload` is rejected: `Success=0`, its log, and the connection closed.
fn fake_3_4_master(line: &[u8]) -> Answer {
    match line {
        b"show proc" => Answer::Reply(fixture("3.4/dr_07_show_proc_before_reload.reply")),
        b"prompt p" => Answer::Reply(b"master> ".to_vec()),
        b"@1 show servers state" => {
            Answer::ReplyAndClose(b"1\n# be_id be_name srv_id srv_name\n3 be_app 1 s1\n".to_vec())
        }
        b"@1 wait 100 srv-unused be_app/s2" | b"@1 wait -h" => Answer::Reply(
            b"Usage: wait {-h|<delay_ms>} cond [args...]\n  -h : this help\n\nmaster> ".to_vec(),
        ),
        b"@master reload" => {
            Answer::ReplyAndClose(b"Success=0\n--\n[ALERT] bad config\n\n".to_vec())
        }
        _ => Answer::Close,
    }
}

/// [`fake_3_4_master`] on `master.sock` in a temp dir of its own.
fn fake_3_4_master_socket() -> FakeServer {
    FakeServer::in_temp_dir("master.sock", Behavior::lines(fake_3_4_master))
}

#[test]
fn a_reply_cut_by_the_master_is_incomplete() {
    let fake = fake_3_4_master_socket();
    sockctl([
        "haproxy",
        "exec",
        "-s",
        fake.address(),
        "show servers state",
    ])
    .fails(5)
    .stderr_has("the master closed the connection before the end of the reply");
}

/// A `disabled` server-template slot enabled at runtime keeps CMAINT and serves: the servers
/// view must not call it maintenance.
#[test]
fn a_disabled_slot_enabled_at_runtime_is_not_maintenance() {
    let Some(ha) = Haproxy::start_with(
        "",
        "backend be_app
    server s1 127.0.0.1:19261
    server-template tpl 1-2 127.0.0.1:19270 disabled
",
    ) else {
        return;
    };
    let state = |name: &str| {
        let json: serde_json::Value = sockctl(["haproxy", "servers", "--json", "-s"])
            .arg(&ha.admin)
            .succeeds()
            .json();
        let server = json["servers"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == name).cloned())
            .unwrap_or_else(|| panic!("{json}"));
        (
            server["admin_state_name"].as_str().unwrap().to_string(),
            server["admin_flags"].clone(),
        )
    };
    assert_eq!(state("tpl1").0, "maint");
    send(&ha.admin, &["set server be_app/tpl1 state ready"]);
    let (name, flags) = state("tpl1");
    assert_eq!(flags, serde_json::json!(["CMAINT"]));
    assert_eq!(name, "ready");
    assert_eq!(state("tpl2").0, "maint");
}

/// Names are strings in `stat --json`, whatever they look like.
#[test]
fn stat_json_names_are_strings() {
    let backends = "backend be_app\n    server s1 127.0.0.1:19261\n\
                    backend 8080\n    server 2 127.0.0.1:19262\n";
    let Some(ha) = Haproxy::start_with("", backends) else {
        return;
    };
    let json: serde_json::Value = sockctl(["haproxy", "stat", "--json", "-s"])
        .arg(&ha.admin)
        .succeeds()
        .json();
    let rows = json["rows"].as_array().unwrap();
    let server = rows
        .iter()
        .find(|r| r["svname"] == "2")
        .expect("server 2 as a string");
    assert_eq!(server["pxname"], "8080");
    assert!(server["iid"].is_number(), "{server}");
    assert!(rows.iter().all(|r| r.get("").is_none()));
}

/// A command ending in `<<` takes the lines after it as its payload; an exec argument has
/// none, and an empty payload is never what was meant.
#[test]
fn exec_refuses_a_payload_command_on_both_sockets() {
    let Some(ha) = Haproxy::start() else { return };
    for socket in [&ha.admin, &ha.master] {
        for command in ["set ssl cert /x <<", "add map #0 <<EOF"] {
            sockctl(["haproxy", "exec", "-s"])
                .arg(socket)
                .arg(command)
                .fails(2)
                .stderr_has("command 1: ends with '<<'")
                .stderr_lacks("1.8 or newer");
        }
    }
}

/// A `wait` answered by its usage fails through the master as it does on a stats socket.
#[test]
fn a_wait_usage_through_the_master_is_a_failure_unless_asked_for() {
    let fake = fake_3_4_master_socket();
    let exec = |command: &str| sockctl(["haproxy", "exec", "-s", fake.address(), command]);
    exec("wait 100 srv-unused be_app/s2")
        .fails(1)
        .stderr_has("Usage: wait");
    let out = exec("wait -h").succeeds();
    assert!(out.stdout().starts_with("Usage: wait"), "{out}");
}

/// A reader of stdout that pauses longer than HAProxy's `stats timeout` (a pager, a slow pipe)
/// must not leave a batch half-applied: sockctl keeps reading the socket and holds the output.
#[test]
fn a_slow_reader_never_cuts_a_batch() {
    use std::io::Write;
    let Some(ha) = Haproxy::start_with("    stats timeout 1s\n", "") else {
        return;
    };
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for i in 0..300 {
        writeln!(file, "show stat").unwrap();
        writeln!(file, "set server be_app/s1 weight {}", i % 200 + 1).unwrap();
    }
    writeln!(file, "set server be_app/s1 weight 77").unwrap();
    for extra in [&["--keep-going"][..], &[]] {
        let exec = sockctl(["haproxy", "exec", "-s"])
            .arg(&ha.admin)
            .args(extra)
            .arg("--batch")
            .arg(file.path());
        let child = exec
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader looks away for three stats timeouts.
        std::thread::sleep(std::time::Duration::from_secs(3));
        let out = exec.ended(child.wait_with_output().unwrap()).succeeds();
        let headers = out
            .stdout_bytes()
            .split(|&b| b == b'\n')
            .filter(|l| l.starts_with(b"# pxname"))
            .count();
        assert_eq!(headers, 300, "{extra:?}");
        assert!(
            crate::support::haproxy::answers(&ha.admin, "get weight be_app/s1", "77 (initial 1)"),
            "{extra:?}"
        );
        send(&ha.admin, &["set server be_app/s1 weight 1"]);
    }
}

/// `Success=0` in a batch through the master is a failed line, as it is for `haproxy reload`.
#[test]
fn a_failed_reload_in_a_batch_is_exit_1() {
    let fake = fake_3_4_master_socket();
    sockctl(["haproxy", "exec", "--master", "-s", fake.address()])
        .args(["--batch", "-"])
        .stdin("reload\n")
        .fails(1)
        .stderr_has("line 1: reload: Success=0");
}
