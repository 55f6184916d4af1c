//! `sockctl haproxy stat|info|servers|proc`: the typed views against a real HAProxy 2.6 and
//! 2.8, the 3.4 layouts replayed from recordings, and the documented JSON shapes.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::support::fake::{Behavior, FakeServer, Reply, stats_socket};
use crate::support::haproxy::{self, Haproxy};
use crate::support::{Run, fixture, sockctl};

type Object = serde_json::Map<String, serde_json::Value>;

/// `stat --json`, as documented.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatDoc {
    fields: Vec<String>,
    rows: Vec<Object>,
}

/// `servers --json`, as documented.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServersDoc {
    version: u32,
    fields: Vec<String>,
    servers: Vec<ServerDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerDoc {
    backend_id: u32,
    backend: String,
    id: u32,
    name: String,
    address: String,
    port: u16,
    weight: u32,
    op_state: u32,
    op_state_name: String,
    admin_state: u32,
    admin_flags: Vec<String>,
    admin_state_name: String,
    check_state: u32,
    check_flags: Vec<String>,
    fields: BTreeMap<String, String>,
}

/// `proc --json`, as documented (also `before` and `after` of `reload --json`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProcDoc {
    pub master: ProcessDoc,
    pub workers: Vec<ProcessDoc>,
    pub old_workers: Vec<ProcessDoc>,
    pub programs: Vec<ProcessDoc>,
    pub old_programs: Vec<ProcessDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProcessDoc {
    pub pid: u32,
    pub kind: String,
    pub reloads: u32,
    pub failed: Option<u32>,
    pub uptime: String,
    pub uptime_secs: Option<u64>,
    pub version: String,
}

fn view(name: &str, socket: &std::path::Path, args: &[&str]) -> Run {
    sockctl(["haproxy", name, "-s"])
        .arg(socket)
        .args(args)
        .run()
}

const CHECKED_BACKEND: &str = "backend be_app
    server s1 127.0.0.1:19261
    server s2 127.0.0.1:19262
    server s3 127.0.0.1:19263 check
";

#[test]
fn stat_rows_are_keyed_by_the_header() {
    let Some(ha) = Haproxy::start_with("", CHECKED_BACKEND) else {
        return;
    };
    // Not a terminal: JSON is the default.
    for socket in [&ha.admin, &ha.master] {
        let doc: StatDoc = view("stat", socket, &[]).succeeds().document();
        assert_eq!(doc.fields[..2], ["pxname", "svname"]);
        assert!(doc.fields.len() > 100);
        let names: Vec<&str> = doc
            .rows
            .iter()
            .map(|r| r["svname"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["FRONTEND", "s1", "s2", "s3", "BACKEND"]);
        let s1 = &doc.rows[1];
        assert_eq!(s1.len(), doc.fields.len());
        assert!(s1["scur"].is_u64(), "{s1:?}");
        assert!(s1["qlimit"].is_null(), "{s1:?}");
    }
    let doc: StatDoc = view(
        "stat",
        &ha.admin,
        &["--backend", "be_app", "--type", "server"],
    )
    .succeeds()
    .document();
    let names: Vec<&str> = doc
        .rows
        .iter()
        .map(|r| r["svname"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["s1", "s2", "s3"]);
    let doc: StatDoc = view("stat", &ha.admin, &["--type", "frontend,backend"])
        .succeeds()
        .document();
    assert_eq!(doc.rows.len(), 2);

    view("stat", &ha.admin, &["--backend", "nosuch"])
        .fails(1)
        .stderr_has("No such proxy.");
    view("stat", &ha.master, &["--backend", "nosuch"])
        .fails(1)
        .stderr_has("No such proxy.");
    view("stat", &ha.admin, &["--backend", "be app"])
        .fails(2)
        .stderr_has("'--backend <NAME>': invalid name");
}

#[test]
fn stat_table_shows_the_operator_columns() {
    let Some(ha) = Haproxy::start_with("", CHECKED_BACKEND) else {
        return;
    };
    let text = view("stat", &ha.admin, &["--table"]).succeeds().stdout();
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "pxname",
            "svname",
            "status",
            "weight",
            "scur",
            "smax",
            "check_status",
            "lastchg"
        ]
    );
    assert!(text.lines().any(|l| l.starts_with("be_app  s3 ")), "{text}");
    // --columns alone means a table.
    let out = view("stat", &ha.admin, &["--columns", "svname,addr"])
        .succeeds()
        .stdout_has("127.0.0.1:19263");
    assert!(out.stdout().starts_with("svname    addr"), "{out}");
    view("stat", &ha.admin, &["--columns", "svname", "--json"])
        .fails(2)
        .stderr_has("cannot be used with");
    view("stat", &ha.admin, &["--columns", "svname,nope"])
        .fails(2)
        .stderr_has("no column \"nope\"")
        .stderr_has("pxname,svname,");
    let raw = view("stat", &ha.admin, &["--raw", "--backend", "be_app"]).succeeds();
    assert!(raw.stdout().starts_with("# pxname,svname,"), "{raw}");
}

#[test]
fn info_is_one_object() {
    let Some(ha) = Haproxy::start() else { return };
    let doc: Object = view("info", &ha.admin, &["--json"]).succeeds().document();
    assert_eq!(doc["Name"], "HAProxy");
    let pid = doc["Pid"].as_u64().unwrap();
    assert!(doc["Nbthread"].is_u64());
    assert_eq!(doc["Version"], haproxy::version().full);
    // Through the master: the current worker, the same process.
    let doc: Object = view("info", &ha.master, &[]).succeeds().document();
    assert_eq!(doc["Pid"].as_u64(), Some(pid));
    let doc: Object = view("info", &ha.master, &["--worker", &pid.to_string()])
        .succeeds()
        .document();
    assert_eq!(doc["Pid"].as_u64(), Some(pid));
    view("info", &ha.master, &["--worker", "all"])
        .fails(2)
        .stderr_has("a view shows one process");
    let out = view("info", &ha.admin, &["--table"])
        .succeeds()
        .stdout_has("\nPid  ");
    assert!(out.stdout().starts_with("FIELD "), "{out}");
}

#[test]
fn servers_name_their_states() {
    let Some(ha) = Haproxy::start_with("", CHECKED_BACKEND) else {
        return;
    };
    sockctl(["haproxy", "exec", "-s"])
        .arg(&ha.admin)
        .args([
            "set server be_app/s1 state drain",
            "set server be_app/s2 state maint",
        ])
        .succeeds();
    for socket in [&ha.admin, &ha.master] {
        let doc: ServersDoc = view("servers", socket, &["--backend", "be_app"])
            .succeeds()
            .document();
        assert_eq!(doc.version, 1);
        let [s1, s2, s3] = &doc.servers[..] else {
            panic!("{doc:?}")
        };
        assert_eq!((s1.admin_state, s1.admin_state_name.as_str()), (8, "drain"));
        assert_eq!(s1.admin_flags, ["FDRAIN"]);
        assert_eq!(s2.admin_state_name, "maint");
        assert_eq!(s2.admin_flags, ["FMAINT"]);
        assert_eq!(s2.op_state_name, "stopped");
        // INPROGRESS may come and go.
        assert!(
            s3.check_flags
                .ends_with(&["CONFIGURED".into(), "ENABLED".into()])
        );
        assert_eq!(s3.fields["srv_name"], "s3");
        assert_eq!(s3.fields.len(), doc.fields.len());
    }
    let text = view("servers", &ha.admin, &["--table"]).succeeds().stdout();
    assert!(text.starts_with("BACKEND  SERVER  ADDRESS"), "{text}");
    assert!(text.contains("drain (FDRAIN)"), "{text}");
    assert!(text.contains("configured,enabled"), "{text}");
    view("servers", &ha.admin, &["--backend", "nosuch"])
        .fails(1)
        .stderr_has("Can't find backend.");
    view("servers", &ha.master, &["--backend", "nosuch"])
        .fails(1)
        .stderr_has("Can't find backend.");
}

#[test]
fn proc_table_is_the_default_and_json_keeps_its_shape() {
    let Some(ha) = Haproxy::start() else { return };
    let default = view("proc", &ha.master, &[]).succeeds();
    let table = view("proc", &ha.master, &["--table"]).succeeds();
    assert!(table.stdout().starts_with("PID "), "{table}");
    // Uptimes tick; compare the shape.
    let shape = |out: &Run| out.stdout().lines().count();
    assert_eq!(shape(&default), shape(&table), "{default}\n{table}");
    let doc: ProcDoc = view("proc", &ha.master, &["--json"]).succeeds().document();
    assert_eq!(doc.master.pid, ha.master_pid());
    assert_eq!(doc.workers.len(), 1);
}

/// A stats socket that answers each command of `script` (as sockctl sends it) with its reply
/// and anything else as an unknown command, like a stats socket does for `show proc`.
fn fake_stats(script: Vec<(&'static str, Vec<u8>)>) -> FakeServer {
    stats_socket(move |command| {
        script
            .iter()
            .find(|(line, _)| command == *line)
            .map(|(_, reply)| Reply::Bytes(reply.clone()))
    })
}

/// A recorded reply as it comes after `set severity-output number; `.
fn tagged(name: &str) -> Vec<u8> {
    let mut reply = b"\n".to_vec();
    reply.extend(fixture(name));
    reply
}

#[test]
fn the_3_4_layouts_parse() {
    let server = fake_stats(vec![
        (
            "set severity-output number; show stat",
            tagged("3.4/stats_show_stat.reply"),
        ),
        (
            "set severity-output number; show info",
            tagged("3.4/stats_show_info.reply"),
        ),
        (
            "set severity-output number; show servers state",
            tagged("3.4/stats_show_servers_state_after_drain.reply"),
        ),
    ]);
    let socket = std::path::Path::new(server.address());
    let stat: StatDoc = view("stat", socket, &[]).succeeds().document();
    assert!(stat.fields.len() > 101, "{}", stat.fields.len());
    assert_eq!(stat.rows[1]["addr"], "127.0.0.1:19341");
    assert!(stat.rows[1]["proto"].is_null());
    let info: Object = view("info", socket, &[]).succeeds().document();
    assert_eq!(info["Pid"], 11483);
    assert_eq!(info["NbThreadGroups"], 1);
    let servers: ServersDoc = view("servers", socket, &[]).succeeds().document();
    assert_eq!(servers.servers.len(), 8);
    assert_eq!(servers.servers[0].admin_state_name, "drain");
    view("stat", socket, &["--raw"])
        .succeeds()
        .stdout_is(fixture("3.4/stats_show_stat.reply"));
}

#[test]
fn server_text_cannot_drive_the_terminal() {
    let stat = b"\n# pxname,svname,status,type,\nbe,\x1b]0;owned\x07s1,\x1b[2JUP,2,\n\n".to_vec();
    let server = fake_stats(vec![("set severity-output number; show stat", stat)]);
    let out = sockctl(["haproxy", "stat", "--table", "-s", server.address()])
        .succeeds()
        .stdout_has("\\x1b]0;owned\\x07s1");
    assert!(!out.stdout_bytes().contains(&0x1b), "{out}");

    // `show proc` on a fake master, its version carrying an escape sequence.
    let proc = fixture("2.6/master_show_proc.reply");
    let proc = String::from_utf8(proc)
        .unwrap()
        .replace("2.6.12-1+deb12u4", "2.6\x1b[31m");
    let responder = move |command: &[u8]| match command {
        b"show proc\n" => Reply::Bytes(proc.clone().into_bytes()),
        _ => Reply::Bytes(b"Unknown command.\n".to_vec()),
    };
    let master = FakeServer::in_temp_dir("master.sock", Behavior::Respond(Arc::new(responder)));
    let out = sockctl(["haproxy", "proc", "-s", master.address()])
        .succeeds()
        .stdout_has("2.6\\x1b[31m");
    assert!(!out.stdout_bytes().contains(&0x1b), "{out}");

    // Messages on stderr too.
    let server = fake_stats(vec![(
        "set severity-output number; show version",
        b"\n[3]: bad \x1b[2J news\n\n".to_vec(),
    )]);
    sockctl(["haproxy", "exec", "-s", server.address(), "show version"])
        .fails(1)
        .stderr_has("bad \\x1b[2J news");
}

/// On a terminal a view is a table without `--table`; off one it is JSON (tested above).
#[test]
fn a_terminal_gets_the_table_by_default() {
    let Some(ha) = Haproxy::start() else { return };
    let mut pty = crate::support::pty::Pty::sockctl(
        &["haproxy", "info", "-s", ha.admin.to_str().unwrap()],
        &[],
    );
    let first = pty.expect("\n");
    let header: Vec<&str> = first.split_whitespace().collect();
    assert_eq!(header, ["FIELD", "VALUE"], "{}", pty.transcript());
    let name = pty.expect("\n");
    let name: Vec<&str> = name.split_whitespace().collect();
    assert_eq!(name, ["Name", "HAProxy"], "{}", pty.transcript());
    pty.succeeds();
}
