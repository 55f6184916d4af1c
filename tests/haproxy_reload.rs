//! `sockctl haproxy save-state`, `reload` and `proc` against a real HAProxy 2.6 and 2.8.

use serde::{Deserialize, Serialize};

use crate::haproxy_views::ProcDoc;
use crate::support::fake::{
    FakeServer, reload_3_4_rejected, reload_3_4_succeeded, scripted_master,
};
use crate::support::haproxy::{self, Haproxy};
use crate::support::{Sockctl, fixture, send, sockctl};

/// `reload --json`, as documented.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReloadDoc {
    master: String,
    status: String,
    protocol: String,
    before: ProcDoc,
    after: ProcDoc,
    old_worker: Option<u32>,
    new_worker: Option<u32>,
    logs: Option<String>,
    elapsed_ms: f64,
    state: Option<StateDoc>,
    pub(crate) losses: Option<Vec<LossDoc>>,
    pub(crate) synced: Vec<String>,
}

/// One item of `reload --json`'s `losses`, as documented: the fields of every kind.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LossDoc {
    pub kind: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(rename = "type")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind_of_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only_running: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only_in_file: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_changed_since_load: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synced: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configured: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_reload: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StateDoc {
    path: String,
    servers: usize,
    backends: usize,
    bytes: u64,
    saved: bool,
    error: Option<String>,
    elapsed_ms: f64,
}

/// `haproxy reload -s MASTER`, with more arguments to add.
pub(crate) fn reload(ha: &Haproxy) -> Sockctl {
    sockctl(["haproxy", "reload", "-s"]).arg(&ha.master)
}

/// `haproxy save-state -s SOCKET`, with more arguments to add.
fn save_state(socket: &std::path::Path) -> Sockctl {
    sockctl(["haproxy", "save-state", "-s"]).arg(socket)
}

#[test]
fn drain_weight_and_maintenance_survive_reload_with_save_state() {
    let Some(ha) = Haproxy::start() else { return };
    send(
        &ha.admin,
        &[
            "set server be_app/s1 state drain",
            "set server be_app/s2 weight 50",
            "set server be_app/s3 state maint",
        ],
    );
    let old_worker = ha.current_worker();
    let out = reload(&ha)
        .arg("--save-state")
        .arg("--config")
        .arg(&ha.config)
        .succeeds()
        .stdout_has(format!(
            "state saved to {} (3 servers)",
            ha.state_file.display()
        ));
    let line = out.stdout();
    assert!(
        line.starts_with(&format!("reloaded: worker {old_worker} -> ")),
        "{line}"
    );
    assert_ne!(ha.current_worker(), old_worker);

    let after = ha.servers();
    let admin = |name: &str| after[name]["srv_admin_state"].parse::<u32>().unwrap();
    assert_eq!(admin("s1") & 0x08, 0x08, "s1 drain lost: {:?}", after["s1"]);
    assert_eq!(after["s2"]["srv_uweight"], "50", "{:?}", after["s2"]);
    assert_eq!(
        admin("s3") & 0x01,
        0x01,
        "s3 maintenance lost: {:?}",
        after["s3"]
    );
}

#[test]
fn without_save_state_the_changes_are_lost() {
    // The control for the test above: the reload alone really does forget runtime changes.
    let Some(ha) = Haproxy::start() else { return };
    send(&ha.admin, &["set server be_app/s2 weight 50"]);
    reload(&ha).succeeds();
    assert_eq!(ha.servers()["s2"]["srv_uweight"], "1");
}

#[test]
fn broken_config_reload_fails_and_the_old_worker_still_serves() {
    let Some(ha) = Haproxy::start() else { return };
    let old_worker = ha.current_worker();
    let config = std::fs::read_to_string(&ha.config).unwrap();
    std::fs::write(
        &ha.config,
        config.replacen("global\n", "global\n    no_such_keyword\n", 1),
    )
    .unwrap();
    // Checked first with the master's own binary: no reload is asked for, HAProxy's own
    // words say why (2.6 gives none over the master CLI).
    reload(&ha)
        .fails(1)
        .stderr_has("haproxy -c: ")
        .stderr_has("no_such_keyword")
        .stderr_has("not reloading: the configuration does not load");
    assert_eq!(ha.reloads(), 0);
    // Asked anyway, the master rejects it: the same verdict, from show proc.
    let out = reload(&ha).arg("--no-check").fails(1);
    let line = out.stdout();
    assert!(
        line.starts_with(
            "reload failed: the new configuration was rejected (failed reloads 0 -> 1)"
        ),
        "{line}"
    );
    assert!(
        line.contains(&format!("worker {old_worker} still serves")),
        "{line}"
    );
    if haproxy::version().reload_answers() {
        // 2.7+ sends its startup log, which says why.
        let err = out.stderr();
        assert!(err.starts_with("--\n"), "{err}");
        assert!(
            err.contains("unknown keyword 'no_such_keyword' in 'global' section"),
            "{err}"
        );
        assert!(err.contains("Loading failure!"), "{err}");
        assert!(!err.contains("hint:"), "{err}");
    } else {
        out.stderr_has("haproxy -c -f");
    }
    assert_eq!(ha.current_worker(), old_worker);
    send(&ha.admin, &["show info"]).stdout_has(format!("\nPid: {old_worker}\n"));

    // Fixed again, the next reload works and says so in JSON.
    std::fs::write(&ha.config, config).unwrap();
    let json: serde_json::Value = reload(&ha).arg("--json").succeeds().json();
    assert_eq!(json["status"], "reloaded");
    assert_eq!(json["protocol"], protocol());
    assert_eq!(json["before"]["master"]["failed"], 1);
    assert_eq!(json["after"]["master"]["reloads"], 2);
    assert_eq!(json["old_worker"].to_string(), old_worker);
    assert_ne!(json["new_worker"].to_string(), old_worker);
    assert!(json["elapsed_ms"].as_f64().unwrap() > 0.0);
    assert!(json["state"].is_null());
}

#[test]
fn save_state_through_stats_socket_and_master_gives_the_same_servers() {
    let Some(ha) = Haproxy::start() else { return };
    for socket in [&ha.admin, &ha.master] {
        let file = ha.path("saved.state");
        save_state(socket)
            .arg("-o")
            .arg(&file)
            .succeeds()
            .stdout_is(format!(
                "saved 3 servers of 1 backend to {}\n",
                file.display()
            ));
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with("1\n# be_id "), "{text}");
        assert!(text.ends_with("\n\n"), "{text:?}");
    }
}

#[test]
fn save_state_of_an_unknown_backend_keeps_the_old_file() {
    let Some(ha) = Haproxy::start() else { return };
    let file = ha.path("keep.state");
    std::fs::write(&file, "previous contents\n").unwrap();
    save_state(&ha.admin)
        .args(["--backend", "no_such_backend", "-o"])
        .arg(&file)
        .fails(5)
        .stderr_has("Can't find backend");
    assert_eq!(std::fs::read(&file).unwrap(), b"previous contents\n");
}

#[test]
fn reload_on_a_stats_socket_is_refused() {
    let Some(ha) = Haproxy::start() else { return };
    sockctl(["haproxy", "reload", "-s"])
        .arg(&ha.admin)
        .fails(2)
        .stderr_has("not an HAProxy master CLI");
}

#[test]
fn socket_and_state_file_from_the_config() {
    let Some(ha) = Haproxy::start() else { return };
    let save_state = sockctl(["-v", "haproxy", "save-state", "--config"]).arg(&ha.config);
    let out = save_state
        .clone()
        .env_remove("SOCKCTL_SOCKET")
        .succeeds()
        .stderr_has(format!(
            "using socket {} from the 'stats socket' line of {}",
            ha.admin.display(),
            ha.config.display()
        ))
        .stderr_has(format!(
            "state file {} (the server-state-file of {})",
            ha.state_file.display(),
            ha.config.display()
        ));
    let end = format!("to {}\n", ha.state_file.display());
    assert!(out.stdout().ends_with(&end), "{out}");
    assert!(ha.state_file.exists());

    // $SOCKCTL_SOCKET comes first.
    save_state
        .env("SOCKCTL_SOCKET", &ha.master)
        .succeeds()
        .stderr_has("from $SOCKCTL_SOCKET");
}

#[test]
fn master_socket_from_the_running_master() {
    let Some(ha) = Haproxy::start_alone() else {
        return;
    };
    let out = sockctl(["-v", "haproxy", "proc", "--json"])
        .args(["--config", "/nonexistent.cfg"])
        .env_remove("SOCKCTL_SOCKET")
        .run();
    let pid = ha.master_pid();
    if out.code() == Some(2) {
        // Another HAProxy master runs on this machine (not one of ours): the message must
        // list ours among them.
        out.fails(2)
            .stderr_has("several HAProxy masters are running")
            .stderr_has(format!("(pid {pid})"));
        return;
    }
    let out = out
        .succeeds()
        .stderr_has(format!("the -S argument of HAProxy master {pid}"));
    let json: serde_json::Value = out.json();
    assert_eq!(json["master"]["pid"], pid);
}

#[test]
fn nothing_to_discover_is_a_usage_error_that_says_what_was_tried() {
    let _alone = crate::support::haproxy::exclusive();
    if !sockctl::haproxy::discover::running_masters().is_empty() {
        eprintln!("skipping: an HAProxy master that is not ours runs on this machine");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("haproxy.cfg");
    std::fs::write(&config, "global\n    maxconn 100\n").unwrap();
    sockctl(["haproxy", "save-state", "--config"])
        .arg(&config)
        .env_remove("SOCKCTL_SOCKET")
        .fails(2)
        .stderr_has(format!(
            "no socket given and none found ($SOCKCTL_SOCKET is not set; {} has no 'stats \
             socket' line; no running HAProxy master was started with -S); give one with -s ADDR",
            config.display()
        ));
}

#[test]
fn proc_table_marks_the_current_worker() {
    let Some(ha) = Haproxy::start() else { return };
    let proc = sockctl(["haproxy", "proc", "-s"]).arg(&ha.master);
    let text = proc.succeeds().stdout();
    assert!(text.starts_with("PID "), "{text}");
    assert!(
        text.contains(&format!("{}  master", ha.master_pid())),
        "{text}"
    );
    assert!(text.contains("worker (current)"), "{text}");
    let raw = proc.arg("--raw").succeeds();
    assert!(raw.stdout().starts_with("#<PID>"), "{raw}");
}

/// The startup log of a rejected 3.x reload goes to stderr: a peer's escape sequences in it
/// must arrive as visible text, not reach the terminal.
#[test]
fn a_rejected_reload_log_cannot_drive_the_terminal() {
    let reply = String::from_utf8(fixture("3.4/bad_02_master_reload_badcfg.reply"))
        .unwrap()
        .replace(
            "unknown keyword 'this_is_not_a_keyword'",
            "unknown keyword '\x1b]0;pwned\x07\x1b[2J'",
        );
    assert!(reply.contains('\x1b'), "the fixture changed: {reply}");
    let [before, _, after] = reload_3_4_rejected();
    let master = scripted_master([before, reply.into_bytes(), after]);
    let out = sockctl(["haproxy", "reload", "-s", master.address()]).fails(1);
    assert!(!out.stderr_bytes().contains(&0x1b), "{out}");
    assert!(!out.stdout_bytes().contains(&0x1b), "{out}");
    let err = out.stderr();
    assert!(err.starts_with("--\n[NOTICE]"), "{err}");
    assert!(
        err.contains("unknown keyword '\\x1b]0;pwned\\x07\\x1b[2J' in 'global' section\n"),
        "{err}"
    );
}

/// One backend's dump in the file HAProxy loads for all of them would lose the others' state:
/// `--backend` needs a file of its own.
#[test]
fn save_state_of_one_backend_needs_a_file_of_its_own() {
    let two_backends = format!(
        "{}\nbackend be_other\n    server o1 127.0.0.1:19264\n",
        crate::support::haproxy::DEFAULT_BACKEND
    );
    let Some(ha) = Haproxy::start_with("", &two_backends) else {
        return;
    };
    std::fs::write(&ha.state_file, "every backend's state\n").unwrap();
    // Without -o, or with -o naming the configured file itself.
    let global = ha.state_file.to_str().unwrap();
    for (socket, output) in [
        (&ha.admin, None),
        (&ha.master, None),
        (&ha.admin, Some(global)),
    ] {
        let out = save_state(socket)
            .arg("--config")
            .arg(&ha.config)
            .args(["--backend", "be_app"])
            .args(output.map(|o| ["-o", o]).into_iter().flatten())
            .fails(2)
            .stderr_has(
                "--backend be_app saves one backend only; give it a file of its own with -o FILE",
            )
            .stdout_is("");
        assert_eq!(out.stderr().lines().count(), 1, "{out}");
        assert_eq!(
            std::fs::read_to_string(&ha.state_file).unwrap(),
            "every backend's state\n"
        );
    }

    // With a file of its own, that file gets the one backend.
    let file = ha.path("be_app.state");
    let save_admin = save_state(&ha.admin).arg("--config").arg(&ha.config);
    save_admin
        .clone()
        .args(["--backend", "be_app", "-o"])
        .arg(&file)
        .succeeds()
        .stdout_is(format!(
            "saved 3 servers of 1 backend to {}\n",
            file.display()
        ));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(" be_app "), "{text}");
    assert!(!text.contains("be_other"), "{text}");
    // The control: without --backend the default file gets both.
    save_admin.succeeds().stdout_is(format!(
        "saved 4 servers of 2 backends to {}\n",
        ha.state_file.display()
    ));
}

#[test]
fn reload_json_says_what_was_saved_and_how_long_each_step_took() {
    let Some(ha) = Haproxy::start() else { return };
    let doc: ReloadDoc = reload(&ha)
        .args(["--save-state", "--json", "--config"])
        .arg(&ha.config)
        .succeeds()
        .document();
    assert_eq!(doc.master, ha.master.display().to_string());
    assert_eq!(
        (doc.status.as_str(), doc.protocol.as_str()),
        ("reloaded", protocol())
    );
    assert_eq!(
        (doc.before.master.reloads, doc.after.master.reloads),
        (0, 1)
    );
    assert_eq!(doc.old_worker, Some(doc.before.workers[0].pid));
    assert_eq!(doc.new_worker, Some(doc.after.workers[0].pid));
    assert_ne!(doc.old_worker, doc.new_worker);
    if haproxy::version().reload_answers() {
        let logs = doc.logs.as_deref().expect("2.7+ sends its startup log");
        assert!(logs.contains("Loading success."), "{logs}");
    } else {
        assert_eq!(doc.logs, None);
    }
    assert!(doc.elapsed_ms > 0.0, "{doc:?}");
    let state = doc.state.expect("--save-state was given");
    assert_eq!(state.path, ha.state_file.display().to_string());
    assert_eq!((state.servers, state.backends), (3, 1));
    assert_eq!(
        state.bytes,
        std::fs::metadata(&ha.state_file).unwrap().len()
    );
    assert!(state.saved && state.error.is_none(), "{state:?}");
    // Measured: more than nothing, less than the whole run took.
    assert!(state.elapsed_ms > 0.0, "{state:?}");
    assert!(state.elapsed_ms < 60_000.0, "{state:?}");
}

/// How the HAProxy under test tells the outcome of a reload (`protocol` in the JSON).
fn protocol() -> &'static str {
    if haproxy::version().reload_answers() {
        "status-line"
    } else {
        "polled-counters"
    }
}

/// `reload --json` of a scripted 3.x master.
fn reload_json(master: &FakeServer) -> Sockctl {
    sockctl(["haproxy", "reload", "--json", "-s", master.address()])
}

#[test]
fn reload_json_of_a_3_x_master_keeps_its_shape() {
    let master = scripted_master(reload_3_4_succeeded());
    let doc: ReloadDoc = reload_json(&master).succeeds().document();
    assert_eq!(doc.master, master.address());
    assert_eq!(
        (doc.status.as_str(), doc.protocol.as_str()),
        ("reloaded", "status-line")
    );
    assert_eq!((doc.old_worker, doc.new_worker), (Some(11483), Some(12117)));
    assert_eq!(doc.after.master.reloads, 1);
    assert_eq!(doc.after.master.version, "3.4.0-64a335366");
    let logs = doc.logs.unwrap();
    assert!(
        logs.starts_with("[NOTICE]   (11480) : Initializing new worker (12117)"),
        "{logs}"
    );
    assert!(
        logs.ends_with("Former worker (11483) exited with code 0 (Exit)"),
        "{logs}"
    );
    assert!(doc.state.is_none());

    let master = scripted_master(reload_3_4_rejected());
    let doc: ReloadDoc = reload_json(&master).fails(1).document();
    assert_eq!(
        (doc.status.as_str(), doc.protocol.as_str()),
        ("failed", "status-line")
    );
    assert_eq!(doc.after.master.failed, Some(1));
    assert!(doc.after.workers.is_empty(), "{doc:?}");
    assert_eq!(doc.after.old_workers[0].pid, 12536);
    assert!(
        doc.logs
            .unwrap()
            .contains("Fatal errors found in configuration."),
        "the log is in the document too"
    );
}

#[test]
fn check_only_checks_and_never_reloads() {
    let Some(ha) = Haproxy::start() else { return };
    let old_worker = ha.current_worker();
    let json: serde_json::Value = reload(&ha)
        .args(["--check-only", "--json"])
        .succeeds()
        .json();
    assert_eq!(json["status"], "check_ok");
    reload(&ha)
        .arg("--check-only")
        .succeeds()
        .stdout_has("configuration loads");
    let config = std::fs::read_to_string(&ha.config).unwrap();
    std::fs::write(
        &ha.config,
        config.replacen("global\n", "global\n    no_such_keyword\n", 1),
    )
    .unwrap();
    let json: serde_json::Value = reload(&ha)
        .args(["--check-only", "--json"])
        .fails(1)
        .stderr_has("haproxy -c: ")
        .json();
    assert_eq!(json["status"], "check_failed");
    assert!(
        json["check"].as_str().unwrap().contains("no_such_keyword"),
        "{json}"
    );
    assert_eq!(ha.reloads(), 0);
    assert_eq!(ha.current_worker(), old_worker);
    // Nothing that would write or skip the check goes with it.
    reload(&ha).args(["--check-only", "--save-state"]).fails(2);
    reload(&ha).args(["--check-only", "--no-check"]).fails(2);
}
