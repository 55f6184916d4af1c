//! Where the server state is saved: the configuration HAProxy actually runs, found on the
//! master's command line, and refusals whenever HAProxy would not load what sockctl writes.

use crate::haproxy_reload::{current_worker, reloads, send, servers};
use crate::support::haproxy::{Haproxy, Setup};
use crate::support::{assert_fails, old_sockctl as sockctl, stderr, stdout};

/// `reload --save-state -s MASTER`, nothing else: no --config, no $SOCKCTL_CONFIG.
fn reload_save_state(ha: &Haproxy, extra: &[&str]) -> std::process::Output {
    sockctl()
        .env_remove("SOCKCTL_CONFIG")
        .env_remove("SOCKCTL_SOCKET")
        .args(["haproxy", "reload", "--save-state", "-s"])
        .arg(&ha.master)
        .args(extra)
        .output()
        .unwrap()
}

/// `-v` said the configuration came from the running master's command line.
#[track_caller]
fn assert_config_from_master(out: &std::process::Output, ha: &Haproxy) {
    let err = stderr(out);
    let expected = format!(
        "from the command line of HAProxy master {}",
        ha.master_pid()
    );
    assert!(err.contains(&expected), "{err}");
}

/// The seed workflow with a configuration outside /etc/haproxy: the master's command line says
/// where the state goes, and the runtime changes survive the reload.
fn changes_survive(ha: &Haproxy, state_file: &std::path::Path) {
    send(
        &ha.admin,
        &[
            "set server be_app/s1 state drain",
            "set server be_app/s2 weight 42",
        ],
    );
    let out = reload_save_state(ha, &["-v"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!(
            "state saved to {} (3 servers)",
            state_file.display()
        )),
        "{}",
        stdout(&out)
    );
    assert_config_from_master(&out, ha);
    let after = servers(ha);
    assert_eq!(after["s2"]["srv_uweight"], "42", "{:?}", after["s2"]);
    let admin: u32 = after["s1"]["srv_admin_state"].parse().unwrap();
    assert_eq!(admin & 0x08, 0x08, "drain lost: {:?}", after["s1"]);
}

/// Not beside any socket, and relative to a base: only the configuration says where.
const STATE_ELSEWHERE: &[(&str, &str)] = &[(
    "    server-state-file {dir}/haproxy.state\n",
    "    server-state-base {dir}/lib\n    server-state-file lb.state\n",
)];

#[test]
fn the_state_goes_where_the_running_master_loads_it() {
    let Some(ha) = Haproxy::start_setup(Setup {
        replace: STATE_ELSEWHERE,
        ..Setup::default()
    }) else {
        return;
    };
    std::fs::create_dir(ha.path("lib")).unwrap();
    changes_survive(&ha, &ha.path("lib").join("lb.state"));
}

#[test]
fn a_configuration_directory_is_read_as_haproxy_reads_it() {
    let Some(ha) = Haproxy::start_setup(Setup {
        replace: STATE_ELSEWHERE,
        config_dir: true,
        ..Setup::default()
    }) else {
        return;
    };
    assert!(ha.config.is_dir());
    std::fs::create_dir(ha.path("lib")).unwrap();
    changes_survive(&ha, &ha.path("lib").join("lb.state"));
}

#[test]
fn a_configuration_that_loads_no_state_is_refused() {
    // HAProxy's default is load-server-state-from-file none: saving "52 servers" and
    // reloading would lose every change.
    let Some(ha) = Haproxy::start_setup(Setup {
        replace: &[("    load-server-state-from-file global\n", "")],
        ..Setup::default()
    }) else {
        return;
    };
    send(&ha.admin, &["set server be_app/s2 weight 42"]);
    let out = reload_save_state(&ha, &[]);
    assert_fails(&out, 2, "no backend of ");
    assert!(
        stderr(&out).contains("'load-server-state-from-file global'"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "");
    assert!(!ha.state_file.exists(), "nothing written");
    assert_eq!(reloads(&ha), 0, "no reload");

    // save-state to the default place: the same refusal.
    let out = sockctl()
        .env_remove("SOCKCTL_CONFIG")
        .args(["haproxy", "save-state", "-s"])
        .arg(&ha.master)
        .output()
        .unwrap();
    assert_fails(&out, 2, "refusing to save the state");
    assert!(!ha.state_file.exists());

    // --state-file PATH --force is the explicit way past it.
    let out = reload_save_state(
        &ha,
        &["--state-file", ha.state_file.to_str().unwrap(), "--force"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: no backend of"),
        "{}",
        stderr(&out)
    );
    assert!(ha.state_file.exists());
    assert_eq!(reloads(&ha), 1);
}

#[test]
fn a_configuration_without_a_state_file_is_refused() {
    let Some(ha) = Haproxy::start_setup(Setup {
        replace: &[("    server-state-file {dir}/haproxy.state\n", "")],
        ..Setup::default()
    }) else {
        return;
    };
    let out = reload_save_state(&ha, &[]);
    assert_fails(&out, 2, "has no 'server-state-file' in its global section");
    assert!(!ha.path("haproxy.state").exists());
    assert_eq!(reloads(&ha), 0);
    // Also through the stats socket, with the configuration given: nothing beside the socket.
    let out = sockctl()
        .args(["haproxy", "save-state", "-s"])
        .arg(&ha.admin)
        .arg("--config")
        .arg(&ha.config)
        .output()
        .unwrap();
    assert_fails(&out, 2, "has no 'server-state-file'");
    assert!(!ha.path("haproxy.state").exists());
}

#[test]
fn an_unreadable_configuration_is_refused() {
    let Some(ha) = Haproxy::start() else { return };
    let out = reload_save_state(&ha, &["--config", ha.path("gone.cfg").to_str().unwrap()]);
    assert_fails(&out, 2, "gone.cfg: No such file");
    assert!(
        stderr(&out).contains("refusing to save the state"),
        "{}",
        stderr(&out)
    );
    assert!(!ha.state_file.exists());
    assert_eq!(reloads(&ha), 0);
}

#[test]
fn a_state_file_haproxy_does_not_load_is_refused_unless_forced() {
    let Some(ha) = Haproxy::start() else { return };
    let elsewhere = ha.path("elsewhere.state");
    let out = reload_save_state(&ha, &["--state-file", elsewhere.to_str().unwrap()]);
    assert_fails(&out, 2, &format!("loads {}", ha.state_file.display()));
    assert!(!elsewhere.exists());
    assert_eq!(reloads(&ha), 0);
    let out = reload_save_state(
        &ha,
        &["--state-file", elsewhere.to_str().unwrap(), "--force"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("HAProxy will not load"),
        "{}",
        stderr(&out)
    );
    assert!(elsewhere.exists());
    assert_eq!(reloads(&ha), 1);
}

#[test]
fn a_failed_save_stops_the_reload_unless_forced() {
    // The configuration loads a file in a directory that does not exist: HAProxy starts (it
    // only warns), but the state cannot be written there.
    let Some(ha) = Haproxy::start_setup(Setup {
        extra_global: "    server-state-file {dir}/no-such-dir/haproxy.state\n",
        ..Setup::default()
    }) else {
        return;
    };
    let nowhere = ha.path("no-such-dir").join("haproxy.state");
    let worker = current_worker(&ha);
    let out = reload_save_state(&ha, &[]);
    assert_fails(
        &out,
        6,
        "sockctl: not reloading: the state could not be saved (use --force to reload anyway)",
    );
    assert!(stderr(&out).contains("no-such-dir"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(reloads(&ha), 0);
    assert_eq!(current_worker(&ha), worker);

    let out = reload_save_state(&ha, &["--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = stdout(&out);
    assert!(
        line.starts_with(&format!("reloaded: worker {worker} -> ")),
        "{line}"
    );
    assert!(
        line.ends_with(&format!("; state NOT saved to {}\n", nowhere.display())),
        "{line}"
    );
    assert_eq!(reloads(&ha), 1);
    assert!(!nowhere.exists());

    let out = reload_save_state(&ha, &["--force", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "reloaded");
    assert_eq!(doc["state"]["path"], nowhere.display().to_string());
    assert_eq!(doc["state"]["saved"], false);
    assert!(
        doc["state"]["error"]
            .as_str()
            .unwrap()
            .contains("no-such-dir"),
        "{doc}"
    );
    assert_eq!(reloads(&ha), 2);
}

/// Backends that load their own state files would not get theirs from the global file: the
/// save still writes the configured file, and says which backends it does not serve.
#[test]
fn backends_loading_their_own_state_are_warned_about() {
    let Some(ha) = Haproxy::start_setup(Setup {
        backend: "backend be_app
    server s1 127.0.0.1:19261
    server s2 127.0.0.1:19262
    server s3 127.0.0.1:19263

backend be_own
    load-server-state-from-file local
    server o1 127.0.0.1:19264
",
        ..Setup::default()
    }) else {
        return;
    };
    let out = sockctl()
        .env_remove("SOCKCTL_CONFIG")
        .args(["haproxy", "save-state", "-s"])
        .arg(&ha.master)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(ha.state_file.exists());
    assert!(
        stderr(&out).contains("has backends with 'load-server-state-from-file local'"),
        "{}",
        stderr(&out)
    );
    // The default configuration loads the global file everywhere: no such warning. (One
    // HAProxy at a time: a second start while holding the first could wait behind a test
    // that wants to run alone.)
    drop(ha);
    let Some(plain) = Haproxy::start() else {
        return;
    };
    let out = sockctl()
        .args(["haproxy", "save-state", "-s"])
        .arg(&plain.admin)
        .arg("--config")
        .arg(&plain.config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

/// `$SOCKCTL_CONFIG` is read by every command that reads a configuration, not only by
/// save-state and reload.
#[test]
fn every_command_reads_sockctl_config() {
    let Some(ha) = Haproxy::start() else { return };
    for args in [
        &["haproxy", "info", "--json"][..],
        &["haproxy", "stat", "--json"],
        &["haproxy", "servers", "--json"],
        &["haproxy", "exec", "show version"],
    ] {
        let out = sockctl()
            .env_remove("SOCKCTL_SOCKET")
            .env("SOCKCTL_CONFIG", &ha.config)
            .arg("-v")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("'stats socket' line of {}", ha.config.display())),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// Discovery believes only a process that is HAProxy, runs as root or the caller, and names a
/// socket no other user could have put there.
#[test]
fn discovery_trusts_only_haproxy_run_by_root_or_the_caller() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let _alone = crate::support::haproxy::exclusive();
    if rustix::process::geteuid().as_raw() != 0 {
        eprintln!("note: not root: no process of another user can be started");
        return;
    }
    // Readable by everyone, so that nobody can run what is in it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = |name: &str| dir.path().join(name).display().to_string();
    // A setuid-root program run by another user: root owns its /proc entry, but its real user
    // is the other one, and that user chose its arguments. dash keeps its privileges.
    let setuid = dir.path().join("haproxy");
    std::fs::copy("/bin/dash", &setuid).unwrap();
    std::fs::set_permissions(&setuid, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let mut spawned = Vec::new();
    spawned.push(
        std::process::Command::new(&setuid)
            .args([
                "-c",
                // Not the last command alone: dash would exec it and the command line go.
                "sleep 30; true",
                "haproxy",
                "-W",
                "-S",
                &socket("setuid.sock"),
            ])
            .uid(65534)
            .gid(65534)
            .spawn()
            .unwrap(),
    );
    // Root's own process that merely calls itself haproxy: its executable is not HAProxy.
    spawned.push(
        std::process::Command::new("bash")
            .args([
                "-c",
                &format!(
                    "exec -a haproxy bash -c 'sleep 30; true' x -W -S {}",
                    socket("renamed.sock")
                ),
            ])
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    // Both impostors are still there, with the command line they chose.
    for child in &spawned {
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap();
        let cmdline = String::from_utf8_lossy(&cmdline);
        assert!(
            cmdline.starts_with("haproxy\0") || cmdline.contains("/haproxy\0"),
            "{cmdline:?}"
        );
        assert!(cmdline.contains("\0-S\0"), "{cmdline:?}");
    }
    let found = sockctl::haproxy::discover::running_masters();
    for mut child in spawned {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(
        !found
            .iter()
            .any(|(_, s)| s.starts_with(&dir.path().display().to_string())),
        "{found:?}"
    );
    // The real one is found.
    drop(_alone);
    let Some(ha) = Haproxy::start_setup(Setup {
        alone: true,
        ..Setup::default()
    }) else {
        return;
    };
    let found = sockctl::haproxy::discover::running_masters();
    assert!(
        found.contains(&(ha.master_pid(), ha.master.display().to_string())),
        "{found:?}"
    );
}

/// Through a stats socket, without --config: the running master whose configuration has this
/// `stats socket` says where the state goes.
#[test]
fn a_stats_socket_leads_to_the_configuration_that_names_it() {
    let Some(ha) = Haproxy::start_setup(Setup {
        replace: STATE_ELSEWHERE,
        ..Setup::default()
    }) else {
        return;
    };
    std::fs::create_dir(ha.path("lib")).unwrap();
    let out = sockctl()
        .env_remove("SOCKCTL_CONFIG")
        .args(["-v", "haproxy", "save-state", "-s"])
        .arg(&ha.admin)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let saved = ha.path("lib").join("lb.state");
    assert!(saved.exists(), "{}", stderr(&out));
    assert_config_from_master(&out, &ha);
}

/// A master whose process is not seen here (another host, another PID namespace): nothing
/// confirms that /etc/haproxy/haproxy.cfg is its configuration, so the state is not saved on
/// that guess.
#[test]
fn a_master_not_seen_here_needs_its_configuration_given() {
    use crate::support::fake::scripted_master;
    use crate::support::fixture;
    let (_dir, master) = scripted_master(
        fixture("3.4/dr_07_show_proc_before_reload.reply"),
        fixture("3.4/dr_08_master_reload.reply"),
        fixture("3.4/dr_10_show_proc_after_reload.reply"),
    );
    let out = sockctl()
        .env_remove("SOCKCTL_CONFIG")
        .args(["haproxy", "reload", "--save-state", "-s", master.address()])
        .output()
        .unwrap();
    assert_fails(&out, 2, "refusing to save the state");
    let err = stderr(&out);
    assert!(
        err.contains("is not a process seen here") || err.contains("cannot read"),
        "{err}"
    );
    assert_eq!(stdout(&out), "");
}
