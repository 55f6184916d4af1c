//! Where the server state is saved: the configuration HAProxy actually runs, found on the
//! master's command line, and refusals whenever HAProxy would not load what sockctl writes.

use crate::support::fake::{reload_3_4_succeeded, scripted_master};
use crate::support::haproxy::{Haproxy, Setup};
use crate::support::{Sockctl, send, sockctl};

/// `reload --save-state -s MASTER`, nothing else: no --config, no $SOCKCTL_CONFIG.
fn reload_save_state(ha: &Haproxy) -> Sockctl {
    sockctl(["haproxy", "reload", "--save-state", "-s"])
        .arg(&ha.master)
        .env_remove("SOCKCTL_CONFIG")
        .env_remove("SOCKCTL_SOCKET")
}

/// What `-v` says when the configuration came from the running master's command line.
fn config_from_master(ha: &Haproxy) -> String {
    format!(
        "from the command line of HAProxy master {}",
        ha.master_pid()
    )
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
    reload_save_state(ha)
        .arg("-v")
        .succeeds()
        .stdout_has(format!(
            "state saved to {} (3 servers)",
            state_file.display()
        ))
        .stderr_has(config_from_master(ha));
    let after = ha.servers();
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
    reload_save_state(&ha)
        .fails(2)
        .stderr_has("no backend of ")
        .stderr_has("'load-server-state-from-file global'")
        .stdout_is("");
    assert!(!ha.state_file.exists(), "nothing written");
    assert_eq!(ha.reloads(), 0, "no reload");

    // save-state to the default place: the same refusal.
    sockctl(["haproxy", "save-state", "-s"])
        .arg(&ha.master)
        .env_remove("SOCKCTL_CONFIG")
        .fails(2)
        .stderr_has("refusing to save the state");
    assert!(!ha.state_file.exists());

    // --state-file PATH --force is the explicit way past it.
    reload_save_state(&ha)
        .arg("--state-file")
        .arg(&ha.state_file)
        .arg("--force")
        .succeeds()
        .stderr_has("warning: no backend of");
    assert!(ha.state_file.exists());
    assert_eq!(ha.reloads(), 1);
}

#[test]
fn a_configuration_without_a_state_file_is_refused() {
    let Some(ha) = Haproxy::start_setup(Setup {
        replace: &[("    server-state-file {dir}/haproxy.state\n", "")],
        ..Setup::default()
    }) else {
        return;
    };
    reload_save_state(&ha)
        .fails(2)
        .stderr_has("has no 'server-state-file' in its global section");
    assert!(!ha.path("haproxy.state").exists());
    assert_eq!(ha.reloads(), 0);
    // Also through the stats socket, with the configuration given: nothing beside the socket.
    sockctl(["haproxy", "save-state", "-s"])
        .arg(&ha.admin)
        .arg("--config")
        .arg(&ha.config)
        .fails(2)
        .stderr_has("has no 'server-state-file'");
    assert!(!ha.path("haproxy.state").exists());
}

#[test]
fn an_unreadable_configuration_is_refused() {
    let Some(ha) = Haproxy::start() else { return };
    reload_save_state(&ha)
        .arg("--config")
        .arg(ha.path("gone.cfg"))
        .fails(2)
        .stderr_has("gone.cfg: No such file")
        .stderr_has("refusing to save the state");
    assert!(!ha.state_file.exists());
    assert_eq!(ha.reloads(), 0);
}

#[test]
fn a_state_file_haproxy_does_not_load_is_refused_unless_forced() {
    let Some(ha) = Haproxy::start() else { return };
    let elsewhere = ha.path("elsewhere.state");
    let elsewhere_given = reload_save_state(&ha).arg("--state-file").arg(&elsewhere);
    elsewhere_given
        .fails(2)
        .stderr_has(format!("loads {}", ha.state_file.display()));
    assert!(!elsewhere.exists());
    assert_eq!(ha.reloads(), 0);
    elsewhere_given
        .arg("--force")
        .succeeds()
        .stderr_has("HAProxy will not load");
    assert!(elsewhere.exists());
    assert_eq!(ha.reloads(), 1);
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
    let worker = ha.current_worker();
    reload_save_state(&ha)
        .fails(6)
        .stderr_has(
            "sockctl: not reloading: the state could not be saved (use --force to reload anyway)",
        )
        .stderr_has("no-such-dir")
        .stdout_is("");
    assert_eq!(ha.reloads(), 0);
    assert_eq!(ha.current_worker(), worker);

    let line = reload_save_state(&ha).arg("--force").succeeds().stdout();
    assert!(
        line.starts_with(&format!("reloaded: worker {worker} -> ")),
        "{line}"
    );
    assert!(
        line.ends_with(&format!("; state NOT saved to {}\n", nowhere.display())),
        "{line}"
    );
    assert_eq!(ha.reloads(), 1);
    assert!(!nowhere.exists());

    let doc: serde_json::Value = reload_save_state(&ha)
        .args(["--force", "--json"])
        .succeeds()
        .json();
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
    assert_eq!(ha.reloads(), 2);
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
    sockctl(["haproxy", "save-state", "-s"])
        .arg(&ha.master)
        .env_remove("SOCKCTL_CONFIG")
        .succeeds()
        .stderr_has("has backends with 'load-server-state-from-file local'");
    assert!(ha.state_file.exists());
    // The default configuration loads the global file everywhere: no such warning. (One
    // HAProxy at a time: a second start while holding the first could wait behind a test
    // that wants to run alone.)
    drop(ha);
    let Some(plain) = Haproxy::start() else {
        return;
    };
    sockctl(["haproxy", "save-state", "-s"])
        .arg(&plain.admin)
        .arg("--config")
        .arg(&plain.config)
        .succeeds()
        .stderr_is("");
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
        sockctl(["-v"])
            .args(args)
            .env_remove("SOCKCTL_SOCKET")
            .env("SOCKCTL_CONFIG", &ha.config)
            .succeeds()
            .stderr_has(format!("'stats socket' line of {}", ha.config.display()));
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
    let out = sockctl(["-v", "haproxy", "save-state", "-s"])
        .arg(&ha.admin)
        .env_remove("SOCKCTL_CONFIG")
        .succeeds()
        .stderr_has(config_from_master(&ha));
    let saved = ha.path("lib").join("lb.state");
    assert!(saved.exists(), "{out}");
}

/// A master whose process is not seen here (another host, another PID namespace): nothing
/// confirms that /etc/haproxy/haproxy.cfg is its configuration, so the state is not saved on
/// that guess.
#[test]
fn a_master_not_seen_here_needs_its_configuration_given() {
    let master = scripted_master(reload_3_4_succeeded());
    let out = sockctl(["haproxy", "reload", "--save-state", "-s", master.address()])
        .env_remove("SOCKCTL_CONFIG")
        .fails(2)
        .stderr_has("refusing to save the state")
        .stdout_is("");
    let err = out.stderr();
    assert!(
        err.contains("is not a process seen here") || err.contains("cannot read"),
        "{out}"
    );
}

/// A proxy name that would change the command is refused before anything is done, the same
/// way by every command that takes one (save-state used to connect first and accept `a\b`).
#[test]
fn bad_backend_names_are_refused_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.sock");
    let out = dir.path().join("one.state");
    for name in ["a\\b", "a b", "a;b"] {
        let save = sockctl(["haproxy", "save-state", "-o"]).arg(&out);
        let servers = sockctl(["haproxy", "servers", "--table"]);
        let stat = sockctl(["haproxy", "stat", "--table"]);
        for command in [save, servers, stat] {
            command
                .arg("-s")
                .arg(&missing)
                .args(["--backend", name])
                .fails(2)
                .stderr_has("'--backend <NAME>': invalid name");
        }
    }
    assert!(!out.exists());
}
