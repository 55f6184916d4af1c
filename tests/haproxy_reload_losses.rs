//! `haproxy reload` says what the reload would lose, against a real HAProxy 2.6 and 2.8:
//! servers added at runtime, map and ACL entries changed at runtime, a port the state file
//! restores over the configuration's; `--strict` refuses, `--sync-maps` writes the files.

use std::os::unix::fs::PermissionsExt;

use crate::haproxy_reload::{LossDoc, ReloadDoc, reload};
use crate::support::fake::{reload_3_4_succeeded, scripted_master};
use crate::support::haproxy::{Haproxy, Setup};
use crate::support::{send, sockctl};

const HOSTS_MAP: &str = "\
# host -> backend
example.com be_app
  www.example.com\tbe_app

#old.example.com be_gone
api.example.com be_api   \n";

const PATHS_ACL: &str = "/admin\n# internal\n  /secret path\n";

/// A backend that uses a map and an ACL file, with a template and default-server.
const BACKEND: &str = "backend be_app
    default-server inter 1h
    acl blocked path_beg -f {dir}/paths.acl
    http-request deny if blocked
    http-request set-header X-Backend %[req.hdr(host),lower,map({dir}/hosts.map,none)]
    server s1 127.0.0.1:19261
    server s2 127.0.0.1:19262
    server-template t 1-2 127.0.0.1:19270
    server-template h 2 localhost:19280

listen stats
    bind unix@{dir}/stats.sock
    server local 127.0.0.1:19290
";

fn start() -> Option<Haproxy> {
    start_with(false)
}

fn start_with(config_dir: bool) -> Option<Haproxy> {
    Haproxy::start_setup(Setup {
        backend: BACKEND,
        files: &[("hosts.map", HOSTS_MAP), ("paths.acl", PATHS_ACL)],
        config_dir,
        extra_sections: OTHER_SERVERS,
        ..Setup::default()
    })
}

/// Sections with `server` lines that are not a backend's, and servers whose address comes
/// from DNS: none of them may be reported.
const OTHER_SERVERS: &str = "
ring logs
    format rfc5424
    maxlen 1200
    size 32764
    timeout connect 5s
    timeout server 10s
    server syslog 127.0.0.1:19514

resolvers dns
    nameserver ns1 127.0.0.1:53
    accepted_payload_size 8192

backend be_dns
    server-template srv 3 _http._tcp.example.invalid resolvers dns init-addr none
";

/// The running entries of a map or ACL file, as `show map FILE` lists them (without the
/// entries' addresses).
fn running(ha: &Haproxy, kind: &str, file: &str) -> Vec<String> {
    let path = ha.path(file);
    let out = send(&ha.admin, &[&format!("show {kind} {}", path.display())]).stdout();
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split_once(' ').unwrap().1.to_string())
        .collect()
}

fn losses(doc: &ReloadDoc) -> Vec<LossDoc> {
    doc.losses.clone().expect("the configuration is known")
}

#[test]
fn nothing_is_reported_when_nothing_differs() {
    // Two -f files (a directory), templates (one resolved from DNS), default-server, a listen
    // section, a ring with a server, maps in use.
    let Some(ha) = start_with(true) else { return };
    let doc: ReloadDoc = reload(&ha)
        .args(["--save-state", "--strict", "--json"])
        .succeeds()
        .stderr_lacks("warning")
        .document();
    assert_eq!(losses(&doc), []);
    assert!(doc.synced.is_empty());
    // And once the state file exists and is what the next reload loads, without --save-state.
    reload(&ha).arg("--strict").succeeds().stderr_is("");
}

#[test]
fn a_server_added_at_runtime_is_reported_and_strict_refuses() {
    let Some(ha) = start() else { return };
    send(&ha.admin, &["add server be_app/dyn3 127.0.0.1:19299"])
        .stdout_has("New server registered");
    let warning = "sockctl: warning: server be_app/dyn3 (127.0.0.1:19299) runs but is not in the \
                   configuration (added with 'add server'?): the reload drops it\n";

    let out = reload(&ha).args(["--save-state", "--strict"]).fails(2);
    assert!(out.stderr().starts_with(warning), "{out}");
    out.stderr_has("refusing to reload (--strict): it would lose or override 1 item (above); nothing was saved, written or reloaded")
        .stdout_is("");
    assert_eq!(ha.reloads(), 0);
    assert!(!ha.state_file.exists(), "the state was saved");

    // Without --strict: a warning, and the reload goes ahead (exit 0): dyn3 is gone after it,
    // though the state was saved with it.
    let out = reload(&ha)
        .arg("--save-state")
        .succeeds()
        .stdout_has("(11 servers)");
    assert_eq!(out.stderr(), warning, "{out}");
    assert_eq!(ha.reloads(), 1);
    let after = ha.servers();
    assert!(!after.contains_key("dyn3"), "{after:?}");
    assert!(
        after.contains_key("t2") && after.contains_key("h1"),
        "{after:?}"
    );

    // In the JSON record, refused or not.
    send(&ha.admin, &["add server be_app/dyn3 127.0.0.1:19299"]);
    let refused: serde_json::Value = reload(&ha).args(["--strict", "--json"]).fails(2).json();
    assert_eq!(refused["status"], "refused");
    assert_eq!(refused["losses"][0]["server"], "dyn3");
    assert_eq!(ha.reloads(), 1);
    let doc: ReloadDoc = reload(&ha).arg("--json").succeeds().document();
    assert_eq!(
        losses(&doc),
        [LossDoc {
            kind: "runtime_server".into(),
            message: warning
                .trim_start_matches("sockctl: warning: ")
                .trim_end()
                .into(),
            backend: Some("be_app".into()),
            server: Some("dyn3".into()),
            address: Some("127.0.0.1".into()),
            port: Some(19299),
            ..LossDoc::default()
        }]
    );
}

#[test]
fn a_port_changed_in_the_configuration_is_overridden_by_the_saved_state() {
    let Some(ha) = start() else { return };
    // s1's port is changed in the configuration, s2's address at runtime.
    let config = std::fs::read_to_string(&ha.config).unwrap();
    std::fs::write(
        &ha.config,
        config.replace("server s1 127.0.0.1:19261", "server s1 127.0.0.1:19265"),
    )
    .unwrap();
    send(&ha.admin, &["set server be_app/s2 addr 127.0.0.5"]);

    let out = reload(&ha).args(["--save-state", "--strict"]).fails(2);
    out.stderr_has(
        "sockctl: warning: server be_app/s1: the configuration says port 19265 but the state \
         file restores port 19261 over it",
    )
    .stderr_has(
        "sockctl: warning: server be_app/s2 runs with address 127.0.0.5 but the configuration \
         says 127.0.0.1: the reload moves it to 127.0.0.1\n",
    )
    .stderr_has("2 items (above)");
    assert_eq!(ha.reloads(), 0);
    assert!(!ha.state_file.exists());

    let doc: ReloadDoc = reload(&ha)
        .args(["--save-state", "--json"])
        .succeeds()
        .document();
    let items = losses(&doc);
    let port = items
        .iter()
        .find(|l| l.field.as_deref() == Some("port"))
        .unwrap();
    assert_eq!(
        (port.kind.as_str(), port.server.as_deref()),
        ("server_differs", Some("s1"))
    );
    assert_eq!(
        (
            port.running.as_deref(),
            port.configured.as_deref(),
            port.after_reload.as_deref()
        ),
        (Some("19261"), Some("19265"), Some("19261"))
    );
    // What was said is what happened: the old port came back, the running address did not.
    let after = ha.servers();
    assert_eq!(after["s1"]["srv_port"], "19261", "{:?}", after["s1"]);
    assert_eq!(after["s2"]["srv_addr"], "127.0.0.1", "{:?}", after["s2"]);

    // Without --save-state, the state file that is there still restores the old port.
    reload(&ha)
        .succeeds()
        .stderr_has("the configuration says port 19265 but the state file restores port 19261");
}

#[test]
fn map_and_acl_entries_changed_at_runtime_are_reported_and_lost() {
    let Some(ha) = start() else { return };
    let map = ha.path("hosts.map");
    let acl = ha.path("paths.acl");
    send(
        &ha.admin,
        &[
            &format!("add map {} new.example.com be_new", map.display()),
            &format!("set map {} example.com be_other", map.display()),
            &format!("del acl {} /admin", acl.display()),
        ],
    );
    let out = reload(&ha).arg("--strict").fails(2);
    out.stderr_has(format!(
        "sockctl: warning: map {}: the running entries differ from the file (1 only running, 0 \
         only in the file, 1 changed): the reload loads the file (--sync-maps writes the running \
         ones to it first)\n",
        map.display()
    ))
    .stderr_has(format!(
        "sockctl: warning: acl {}: the running patterns differ from the file (0 only running, 1 \
         only in the file, 0 changed)",
        acl.display()
    ));
    assert_eq!(ha.reloads(), 0);
    assert_eq!(std::fs::read_to_string(&map).unwrap(), HOSTS_MAP);

    // Warned, not refused: the reload goes ahead and the running changes are gone.
    let doc: ReloadDoc = reload(&ha).arg("--json").succeeds().document();
    let kinds: Vec<(String, Option<String>)> = losses(&doc)
        .into_iter()
        .map(|l| (l.kind, l.kind_of_file))
        .collect();
    assert_eq!(
        kinds,
        [
            ("runtime_entries".into(), Some("map".into())),
            ("runtime_entries".into(), Some("acl".into()))
        ]
    );
    assert_eq!(
        running(&ha, "map", "hosts.map"),
        [
            "example.com be_app",
            "www.example.com be_app",
            "api.example.com be_api"
        ]
    );
    assert_eq!(running(&ha, "acl", "paths.acl"), ["/admin", "/secret path"]);
}

#[test]
fn sync_maps_writes_the_files_and_the_reload_keeps_the_entries() {
    let Some(ha) = start() else { return };
    let map = ha.path("hosts.map");
    let acl = ha.path("paths.acl");
    std::fs::set_permissions(&map, std::fs::Permissions::from_mode(0o640)).unwrap();
    // Root keeps another user's file theirs (HAProxy's user, say); others cannot give files away.
    let root = rustix::process::geteuid().is_root();
    if root {
        std::os::unix::fs::chown(&map, Some(4321), Some(4322)).unwrap();
    }
    send(
        &ha.admin,
        &[
            &format!("add map {} new.example.com be_new", map.display()),
            &format!("set map {} www.example.com be_www", map.display()),
            &format!("del map {} api.example.com", map.display()),
            &format!("add acl {} /extra", acl.display()),
        ],
    );
    let before_map = running(&ha, "map", "hosts.map");
    let before_acl = running(&ha, "acl", "paths.acl");

    // --strict has nothing left to refuse once the files are synced.
    let doc: ReloadDoc = reload(&ha)
        .args(["--sync-maps", "--strict", "--save-state", "--json"])
        .succeeds()
        .stderr_has(format!(
            "sockctl: wrote the running entries to {} (--sync-maps)",
            map.display()
        ))
        .stderr_has(format!(
            "sockctl: wrote the running entries to {} (--sync-maps)",
            acl.display()
        ))
        .stderr_lacks("warning")
        .document();
    assert_eq!(
        doc.synced,
        [map.display().to_string(), acl.display().to_string()]
    );
    assert!(losses(&doc).iter().all(|l| l.synced == Some(true)));
    assert_eq!(ha.reloads(), 1);

    // The files keep their comments and untouched lines, and their mode.
    assert_eq!(
        std::fs::read_to_string(&map).unwrap(),
        "# host -> backend\nexample.com be_app\nwww.example.com be_www\n\n#old.example.com \
         be_gone\nnew.example.com be_new\n"
    );
    assert_eq!(
        std::fs::read_to_string(&acl).unwrap(),
        "/admin\n# internal\n  /secret path\n/extra\n"
    );
    let meta = std::fs::metadata(&map).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    if root {
        use std::os::unix::fs::MetadataExt;
        assert_eq!((meta.uid(), meta.gid()), (4321, 4322));
    }
    // The new worker loaded them: the runtime entries survived the reload.
    assert_eq!(running(&ha, "map", "hosts.map"), before_map);
    assert_eq!(running(&ha, "acl", "paths.acl"), before_acl);
    // And nothing differs any more.
    reload(&ha).arg("--strict").succeeds().stderr_is("");
}

#[test]
fn a_map_file_that_cannot_be_written_stops_the_reload() {
    let Some(ha) = start() else { return };
    // HAProxy reads the map through a symbolic link; sockctl does not replace a link.
    let real = ha.path("real.map");
    let map = ha.path("hosts.map");
    std::fs::rename(&map, &real).unwrap();
    std::os::unix::fs::symlink(&real, &map).unwrap();
    send(
        &ha.admin,
        &[&format!("add map {} new.example.com be_new", map.display())],
    );

    let out = reload(&ha).args(["--sync-maps", "--save-state"]).fails(6);
    out.stderr_has(format!(
        "sockctl: cannot write {}: is a symbolic link",
        map.display()
    ))
    .stderr_has("sockctl: not reloading: no map file was written (--sync-maps)")
    .stdout_is("");
    assert_eq!(ha.reloads(), 0);
    assert!(!ha.state_file.exists());
    assert_eq!(std::fs::read_to_string(&real).unwrap(), HOSTS_MAP);
    assert!(std::fs::symlink_metadata(&map).unwrap().is_symlink());
}

#[test]
fn a_map_file_edited_since_it_was_loaded_is_not_overwritten() {
    let Some(ha) = start() else { return };
    let map = ha.path("hosts.map");
    send(
        &ha.admin,
        &[&format!("add map {} new.example.com be_new", map.display())],
    );
    // Someone edits the file after HAProxy loaded it.
    let edited = format!("{HOSTS_MAP}edited.example.com be_app\n");
    std::fs::write(&map, &edited).unwrap();
    let file = std::fs::File::options().write(true).open(&map).unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        .unwrap();

    reload(&ha)
        .arg("--sync-maps")
        .fails(2)
        .stderr_has(format!(
            "sockctl: not syncing {}: the file was modified after HAProxy loaded it",
            map.display()
        ))
        .stderr_has("not reloading: no map file was written");
    assert_eq!(std::fs::read_to_string(&map).unwrap(), edited);
    assert_eq!(ha.reloads(), 0);
    // Without --sync-maps the warning says so.
    reload(&ha)
        .arg("--strict")
        .fails(2)
        .stderr_has("(1 only running, 1 only in the file, 0 changed): the reload loads the file (the file was modified after HAProxy loaded it)");
}

/// A master whose process is not seen here (another host, another PID namespace): its
/// configuration is not known, so nothing can be compared. A plain reload goes ahead; --strict
/// and --sync-maps, which promise something about what is lost, refuse.
#[test]
fn strict_and_sync_maps_refuse_when_the_configuration_is_not_known() {
    for option in ["--strict", "--sync-maps"] {
        let master = scripted_master(reload_3_4_succeeded());
        let out = sockctl(["haproxy", "reload", option, "-s", master.address()])
            .fails(2)
            .stdout_is("");
        // Why the configuration is not known depends on this machine's /etc/haproxy.
        let err = out.stderr();
        assert!(
            err.starts_with(&format!(
                "sockctl: refusing to reload ({option}): what runs cannot be compared with the \
                 configuration: "
            )),
            "{out}"
        );
        assert!(
            err.ends_with("; nothing was saved, written or reloaded\n"),
            "{out}"
        );
        assert_eq!(err.lines().count(), 1, "{out}");
        let sent: Vec<Vec<u8>> = master.received().into_iter().map(|r| r.bytes).collect();
        assert!(!sent.contains(&b"reload\n".to_vec()), "{sent:?}");
    }
    let master = scripted_master(reload_3_4_succeeded());
    sockctl(["haproxy", "reload", "-s", master.address()])
        .succeeds()
        .stderr_is("");
}

/// `show map` prints `KEY VALUE` unescaped: a key with a space (escaped when added) cannot be
/// told from a value with one, so such an entry is looked up before it is written.
#[test]
fn a_map_entry_whose_key_cannot_be_told_is_not_written() {
    let Some(ha) = start() else { return };
    let map = ha.path("hosts.map");
    // A value with a space: `get map` finds key `c`, so it is written as it runs.
    send(&ha.admin, &[&format!("add map {} c d\\ e", map.display())]);
    reload(&ha).arg("--sync-maps").succeeds();
    assert!(
        std::fs::read_to_string(&map)
            .unwrap()
            .ends_with("\nc d e\n"),
        "{}",
        std::fs::read_to_string(&map).unwrap()
    );
    assert!(running(&ha, "map", "hosts.map").contains(&"c d e".to_string()));
    assert_eq!(ha.reloads(), 1);

    // A key with a space: written as `a b v`, it would come back as key `a`.
    let synced = std::fs::read_to_string(&map).unwrap();
    send(&ha.admin, &[&format!("add map {} a\\ b v", map.display())]);
    reload(&ha)
        .arg("--sync-maps")
        .fails(2)
        .stderr_has(format!(
            "sockctl: cannot sync {}: the running entry \"a b v\" has a space in its key or value",
            map.display()
        ))
        .stderr_has("not reloading: no map file was written (--sync-maps)");
    assert_eq!(std::fs::read_to_string(&map).unwrap(), synced);
    assert_eq!(ha.reloads(), 1);
}
