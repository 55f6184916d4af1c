//! `sockctl haproxy map|acl|table|sess|cert`: the typed views of HAProxy's data against a real
//! HAProxy (2.6 and 2.8) that loads a map, an ACL file, stick tables and a certificate made
//! with openssl, with live sessions held by a slow server; the documented JSON shapes.

use std::io::Write;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::support::fake::{Reply, stats_socket};
use crate::support::haproxy::{self, Haproxy, Setup};
use crate::support::{Run, fixture, sockctl};

type Object = serde_json::Map<String, serde_json::Value>;

/// `map --json` and `acl --json` without a name, as documented.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternRefDoc {
    id: i64,
    file: String,
    description: String,
    current_version: u32,
    next_version: u32,
    entries: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MapsDoc {
    maps: Vec<PatternRefDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AclsDoc {
    acls: Vec<PatternRefDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MapDoc {
    map: String,
    entries: Vec<MapEntryDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MapEntryDoc {
    pointer: String,
    key: String,
    value: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AclDoc {
    acl: String,
    entries: Vec<AclEntryDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AclEntryDoc {
    pointer: String,
    pattern: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TablesDoc {
    tables: Vec<TableDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableDoc {
    name: String,
    #[serde(rename = "type")]
    key_type: String,
    size: u64,
    used: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DumpDoc {
    table: TableDoc,
    periods_ms: Object,
    entries: Vec<EntryDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryDoc {
    pointer: String,
    key: String,
    #[serde(rename = "use")]
    use_count: i64,
    expire_ms: i64,
    shard: Option<i64>,
    data: Object,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionsDoc {
    sessions: Vec<StreamDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamDoc {
    pointer: String,
    proto: String,
    source: Option<String>,
    frontend: Option<String>,
    backend: Option<String>,
    server: Option<String>,
    age: Option<String>,
    calls: Option<u64>,
    rate: Option<u64>,
    cpu: Option<u64>,
    lat: Option<u64>,
    expires: Option<String>,
    retries: Option<i64>,
    uri: Option<String>,
    extra: Object,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificatesDoc {
    certificates: Vec<CertFileDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CertFileDoc {
    filename: String,
    transaction: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CertDoc {
    filename: String,
    transaction: bool,
    status: Option<String>,
    serial: Option<String>,
    not_before: Option<String>,
    not_before_unix: Option<i64>,
    not_after: Option<String>,
    not_after_unix: Option<i64>,
    subject: Option<String>,
    issuer: Option<String>,
    sans: Vec<String>,
    algorithm: Option<String>,
    sha1_fingerprint: Option<String>,
    chain: Vec<ChainDoc>,
    fields: Vec<FieldDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainDoc {
    subject: Option<String>,
    issuer: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldDoc {
    name: String,
    value: String,
}

/// A frontend that uses a map, an ACL file, an empty map and two stick tables (one filled by
/// traffic, keyed by the Host header), with a TLS listener on a certificate.
const FRONTEND: &str = "    bind unix@{dir}/tls.sock ssl crt {dir}/site.pem
    acl allowed src -f {dir}/allow.acl
    http-request set-var(txn.route) path,map_beg({dir}/hosts.map,be_app)
    http-request set-var(txn.none) path,map({dir}/empty.map,none)
    http-request track-sc1 req.hdr(host) table st_host
    default_backend be_app
";

const BACKENDS: &str = "backend be_app
    server s1 unix@{dir}/app.sock

backend st_host
    stick-table type string len 64 size 1k expire 10m store http_req_cnt,gpc0,http_req_rate(10s)

backend st_src
    stick-table type ip size 1k expire 10m store gpc0,conn_cur
";

/// A self-signed certificate and its key in one PEM file, made by openssl.
fn certificate(dir: &Path) -> String {
    let (key, crt) = (dir.join("key.pem"), dir.join("crt.pem"));
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ])
        .args(["-subj", "/CN=views.example/O=sockctl test"])
        .args([
            "-addext",
            "subjectAltName=DNS:views.example,DNS:www.views.example",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is needed for these tests (apt-get install openssl)");
    assert!(status.success(), "openssl req failed");
    let mut pem = std::fs::read_to_string(&crt).unwrap();
    pem.push_str(&std::fs::read_to_string(&key).unwrap());
    pem
}

fn start() -> Option<Haproxy> {
    let made = tempfile::Builder::new()
        .prefix("sockctl-cert")
        .tempdir()
        .unwrap();
    let pem = certificate(made.path());
    Haproxy::start_setup(Setup {
        backend: BACKENDS,
        replace: &[("    default_backend be_app\n", FRONTEND)],
        files: &[
            (
                "hosts.map",
                "/api be_api\n/static be_static\nexample.com 10\n",
            ),
            ("allow.acl", "10.0.0.0/8\n192.168.1.1\n"),
            ("empty.map", ""),
            ("site.pem", &pem),
        ],
        ..Setup::default()
    })
}

fn view(name: &str, socket: &Path, args: &[&str]) -> Run {
    sockctl(["haproxy", name, "-s"])
        .arg(socket)
        .args(args)
        .run()
}

fn path(ha: &Haproxy, name: &str) -> String {
    ha.path(name).to_str().unwrap().to_string()
}

#[test]
fn maps_and_acls_list_and_show_their_entries() {
    let Some(ha) = start() else { return };
    let hosts = path(&ha, "hosts.map");
    for socket in [&ha.admin, &ha.master] {
        // Not a terminal: JSON is the default.
        let doc: MapsDoc = view("map", socket, &[]).succeeds().document();
        let files: Vec<&str> = doc.maps.iter().map(|m| m.file.as_str()).collect();
        assert_eq!(files, [hosts.as_str(), &path(&ha, "empty.map")]);
        assert_eq!(doc.maps[0].entries, 3);
        assert_eq!(doc.maps[1].entries, 0);
        assert!(doc.maps[0].description.contains("used by map"), "{doc:?}");

        let doc: MapDoc = view("map", socket, &[&hosts]).succeeds().document();
        assert_eq!(doc.map, hosts);
        let entries: Vec<(&str, Option<&str>)> = doc
            .entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_deref()))
            .collect();
        assert_eq!(
            entries,
            [
                ("/api", Some("be_api")),
                ("/static", Some("be_static")),
                ("example.com", Some("10"))
            ]
        );
        assert!(doc.entries.iter().all(|e| e.pointer.starts_with("0x")));

        // An empty map is an empty list, not an error.
        let doc: MapDoc = view("map", socket, &[&path(&ha, "empty.map")])
            .succeeds()
            .document();
        assert!(doc.entries.is_empty());

        let doc: AclsDoc = view("acl", socket, &[]).succeeds().document();
        let allow = doc
            .acls
            .iter()
            .find(|a| a.file == path(&ha, "allow.acl"))
            .unwrap();
        assert_eq!(allow.entries, 2);
        let id = format!("#{}", allow.id);
        let doc: AclDoc = view("acl", socket, &[&id]).succeeds().document();
        assert_eq!(doc.acl, id);
        let patterns: Vec<&str> = doc.entries.iter().map(|e| e.pattern.as_str()).collect();
        assert_eq!(patterns, ["10.0.0.0/8", "192.168.1.1"]);

        // HAProxy's error line, exit 1.
        view("map", socket, &["/nosuch.map"])
            .fails(1)
            .stderr_has("Unknown map identifier. Please use #<id> or <file>.");
        view("acl", socket, &["#999"])
            .fails(1)
            .stderr_has("Unknown ACL identifier.");
    }
    // A change made at runtime shows.
    sockctl(["haproxy", "exec", "-s"])
        .arg(&ha.admin)
        .arg(format!("add map {hosts} /new be_new"))
        .succeeds();
    let text = view("map", &ha.admin, &[&hosts, "--table"])
        .succeeds()
        .stdout();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["POINTER", "KEY", "VALUE"]);
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().skip(1).eq(["/new", "be_new"])),
        "{text}"
    );
    let list = view("map", &ha.admin, &["--table"]).succeeds().stdout();
    assert!(list.starts_with("ID  FILE"), "{list}");
    assert!(list.contains(&format!("  {hosts}  4 ")), "{list}");
    let raw = view("map", &ha.admin, &[&hosts, "--raw"]).succeeds();
    assert!(raw.stdout().ends_with(" /new be_new\n\n"), "{raw}");
    // A name that would change the command is refused before anything is sent.
    view(
        "map",
        Path::new("/nonexistent/admin.sock"),
        &["a;show info"],
    )
    .fails(2)
    .stderr_has("invalid name");
}

#[test]
fn tables_list_and_filter_their_entries() {
    let Some(ha) = start() else { return };
    // Traffic makes an entry in st_host (keyed by the Host header); `set table` others.
    for host in ["www.example.com", "api.example.com", "www.example.com"] {
        let mut client = UnixStream::connect(ha.path("fe.sock")).unwrap();
        write!(client, "GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let _ = std::io::Read::read_to_end(&mut client, &mut Vec::new());
    }
    sockctl(["haproxy", "exec", "-s"])
        .arg(&ha.admin)
        .args([
            "set table st_host key www.example.com data.gpc0 5",
            "set table st_src key 127.0.0.1 data.gpc0 2",
            "set table st_src key 10.1.2.3 data.gpc0 0",
            "set table st_host key a\\ b=c data.gpc0 1",
        ])
        .succeeds();
    let shard = haproxy::version().at_least(2, 8);
    for socket in [&ha.admin, &ha.master] {
        let doc: TablesDoc = view("table", socket, &[]).succeeds().document();
        let tables: Vec<(&str, &str, u64, u64)> = doc
            .tables
            .iter()
            .map(|t| (t.name.as_str(), t.key_type.as_str(), t.size, t.used))
            .collect();
        assert!(
            tables.contains(&("st_host", "string", 1024, 3)),
            "{tables:?}"
        );
        assert!(tables.contains(&("st_src", "ip", 1024, 2)), "{tables:?}");

        let doc: DumpDoc = view("table", socket, &["st_host"]).succeeds().document();
        assert_eq!(doc.table.name, "st_host");
        assert_eq!(doc.periods_ms["http_req_rate"], 10000);
        let www = doc
            .entries
            .iter()
            .find(|e| e.key == "www.example.com")
            .unwrap();
        assert_eq!(www.data["http_req_cnt"], 2);
        assert_eq!(www.data["gpc0"], 5);
        assert!(www.data["http_req_rate"].is_u64());
        assert!(www.expire_ms > 0 && www.expire_ms <= 600_000, "{www:?}");
        assert_eq!(www.shard.is_some(), shard, "{www:?}");
        // A key with a space and an `=`: one field, as HAProxy escapes it.
        let spaced = doc.entries.iter().find(|e| e.key.contains(" ")).unwrap();
        assert_eq!(spaced.key, "a\\ b\\=c");
        assert_eq!(spaced.data["gpc0"], 1);

        // Filtered by HAProxy: several filters all apply.
        let doc: DumpDoc = view(
            "table",
            socket,
            &[
                "st_src",
                "--filter",
                "data.gpc0 gt 0",
                "--filter",
                "data.gpc0 lt 3",
            ],
        )
        .succeeds()
        .document();
        let keys: Vec<&str> = doc.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["127.0.0.1"]);
        // Nothing matches: an empty list, not an error.
        let doc: DumpDoc = view("table", socket, &["st_src", "--filter", "data.gpc0 gt 100"])
            .succeeds()
            .document();
        assert!(doc.entries.is_empty());
        assert_eq!(doc.table.used, 2);

        view("table", socket, &["nosuch"])
            .fails(1)
            .stderr_has("No such table");
        // A filter HAProxy refuses for this table: its message, exit 1.
        view(
            "table",
            socket,
            &["st_src", "--filter", "data.http_req_cnt gt 0"],
        )
        .fails(1)
        .stderr_has("Data type not stored in this table");
    }
    let text = view("table", &ha.admin, &["st_src", "--table"])
        .succeeds()
        .stdout();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("# table st_src: type ip, size 1024, used 2")
    );
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let mut expected = vec!["KEY", "USE", "EXP(ms)"];
    if shard {
        expected.push("SHARD");
    }
    expected.extend(["gpc0", "conn_cur"]);
    assert_eq!(header, expected, "{text}");
    let list = view("table", &ha.admin, &["--table"]).succeeds().stdout();
    assert!(list.starts_with("NAME     TYPE    SIZE  USED\n"), "{list}");
    let raw = view("table", &ha.admin, &["st_src", "--raw"]).succeeds();
    assert!(
        raw.stdout()
            .starts_with("# table: st_src, type: ip, size:1024, used:2\n"),
        "{raw}"
    );
}

#[test]
fn bad_filters_are_refused_before_connecting() {
    // No socket there: exit 2 proves nothing was tried (a connect would be exit 3).
    let nowhere = Path::new("/nonexistent/admin.sock");
    for (filter, why) in [
        ("data.gpc0 xx 0", "unknown operator \"xx\""),
        ("data.nosuch gt 0", "unknown data type \"nosuch\""),
        ("gpc0 gt 0", "is not data.TYPE"),
        ("data.gpc0 gt 1.5", "\"1.5\" is not a whole number"),
        ("data.gpc0 gt", "three words"),
    ] {
        view("table", nowhere, &["st", "--filter", filter])
            .fails(2)
            .stderr_has(why)
            .stderr_has("--filter");
    }
    let five: Vec<&str> = ["--filter", "data.gpc0 gt 0"].repeat(5);
    let mut args = vec!["st"];
    args.extend(five);
    view("table", nowhere, &args)
        .fails(2)
        .stderr_has("5 filters: HAProxy takes at most 4");
    view("table", nowhere, &["--filter", "data.gpc0 gt 0"])
        .fails(2)
        .stderr_has("TABLE");
    // Four is what HAProxy takes; only the connection fails.
    let four: Vec<&str> = ["--filter", "data.gpc0 gt 0"].repeat(4);
    let mut args = vec!["st"];
    args.extend(four);
    view("table", nowhere, &args).fails(3);
}

#[test]
fn sessions_are_one_record_per_stream() {
    let Some(ha) = start() else { return };
    let app = UnixListener::bind(ha.path("app.sock")).unwrap();
    // Two clients whose requests the slow server holds.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut client = UnixStream::connect(ha.path("fe.sock")).unwrap();
        client
            .write_all(b"GET /api/x HTTP/1.1\r\nHost: example.com\r\n\r\n")
            .unwrap();
        let (server, _) = app.accept().unwrap();
        held.push((client, server));
    }
    for socket in [&ha.admin, &ha.master] {
        let doc: SessionsDoc = view("sess", socket, &[]).succeeds().document();
        let to_app: Vec<&StreamDoc> = doc
            .sessions
            .iter()
            .filter(|s| s.backend.as_deref() == Some("be_app"))
            .collect();
        assert_eq!(to_app.len(), 2, "{doc:?}");
        for s in to_app {
            assert_eq!(s.proto, "unix_stream");
            assert_eq!(s.frontend.as_deref(), Some("fe"));
            assert_eq!(s.server.as_deref(), Some("s1"));
            assert!(s.source.as_deref().unwrap().starts_with("unix:"), "{s:?}");
            assert!(s.pointer.starts_with("0x"));
            assert!(s.calls.is_some() && s.age.is_some(), "{s:?}");
            assert!(
                s.extra.contains_key("scf") && s.extra.contains_key("rq"),
                "{s:?}"
            );
        }
        // The CLI's own stream has no backend: null, not "<NONE>".
        assert!(
            doc.sessions
                .iter()
                .any(|s| s.backend.is_none() && s.server.is_none()),
            "{doc:?}"
        );
    }
    let text = view("sess", &ha.admin, &["--table"]).succeeds().stdout();
    assert!(text.starts_with("POINTER "), "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.split_whitespace().nth(4) == Some("be_app"))
            .count(),
        2,
        "{text}"
    );
    drop(held);
}

#[test]
fn certificates_list_and_show_their_details() {
    let Some(ha) = start() else { return };
    let site = path(&ha, "site.pem");
    for socket in [&ha.admin, &ha.master] {
        let doc: CertificatesDoc = view("cert", socket, &[]).succeeds().document();
        let files: Vec<(&str, bool)> = doc
            .certificates
            .iter()
            .map(|c| (c.filename.as_str(), c.transaction))
            .collect();
        assert_eq!(files, [(site.as_str(), false)]);

        let cert: CertDoc = view("cert", socket, &[&site]).succeeds().document();
        assert_eq!(cert.filename, site);
        assert_eq!(cert.status.as_deref(), Some("Used"));
        assert_eq!(
            cert.subject.as_deref(),
            Some("/CN=views.example/O=sockctl test")
        );
        assert_eq!(cert.issuer, cert.subject);
        assert_eq!(cert.sans, ["DNS:views.example", "DNS:www.views.example"]);
        let (before, after) = (cert.not_before_unix.unwrap(), cert.not_after_unix.unwrap());
        assert_eq!(after - before, 30 * 86_400);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(before <= now + 60 && now < after, "{cert:?}");
        assert!(cert.serial.is_some() && cert.sha1_fingerprint.is_some());
        assert_eq!(cert.fields[0].name, "Filename");

        view("cert", socket, &["/nosuch.pem"])
            .fails(1)
            .stderr_has("Can't display the certificate");
    }
    let text = view("cert", &ha.admin, &[&site, "--table"])
        .succeeds()
        .stdout();
    assert!(text.starts_with("FIELD "), "{text}");
    assert!(text.contains("\nStatus  "), "{text}");
    let raw = view("cert", &ha.admin, &["--raw"]).succeeds();
    raw.stdout_is(format!("# filename\n{site}\n\n"));
}

#[test]
fn views_ask_one_worker_of_a_master() {
    let Some(ha) = start() else { return };
    let pid = ha.current_worker();
    let doc: TablesDoc = view("table", &ha.master, &["--worker", &pid])
        .succeeds()
        .document();
    assert!(doc.tables.iter().any(|t| t.name == "st_src"));
    view("map", &ha.master, &["--worker", "999999"]).fails(1);
    view("sess", &ha.master, &["--worker", "all"])
        .fails(2)
        .stderr_has("a view shows one process");
}

/// HAProxy 3.4's replies, recorded, answered by a stats socket that has them: each view reads
/// them into the documented shape. (The same tests run live against 2.6 and 2.8 above.)
#[test]
fn the_3_4_replies_read_through_the_views() {
    let recorded = |name: &str| {
        // As it comes after `set severity-output number; `: that command's empty answer first.
        let mut reply = b"\n".to_vec();
        reply.extend(fixture(&format!("3.4/{name}.reply")));
        reply
    };
    let script: Vec<(&str, Vec<u8>)> = vec![
        ("show map", recorded("stats_show_map")),
        (
            "show map /etc/haproxy/hosts.map",
            recorded("stats_show_map_hosts"),
        ),
        ("show acl #0", recorded("stats_show_acl_id0")),
        ("show table", recorded("stats_show_table")),
        ("show table st_src", recorded("stats_show_table_st_src")),
        (
            "show table st_src data.gpc0 gt 0",
            recorded("stats_show_table_filter_gpc0"),
        ),
        ("show sess", recorded("stats_show_sess")),
        ("show ssl cert", recorded("stats_show_ssl_cert")),
        (
            "show ssl cert /etc/haproxy/site.pem",
            recorded("stats_show_ssl_cert_site"),
        ),
    ];
    let server = stats_socket(move |command| {
        let command = command.strip_prefix("set severity-output number; ")?;
        script
            .iter()
            .find(|(line, _)| *line == command)
            .map(|(_, reply)| Reply::Bytes(reply.clone()))
    });
    let socket = Path::new(server.address());
    let maps: MapsDoc = view("map", socket, &[]).succeeds().document();
    assert_eq!(maps.maps[0].file, "/etc/haproxy/hosts.map");
    let map: MapDoc = view("map", socket, &["/etc/haproxy/hosts.map"])
        .succeeds()
        .document();
    assert_eq!(map.entries[2].key, "example.com");
    let acl: AclDoc = view("acl", socket, &["#0"]).succeeds().document();
    assert_eq!(acl.entries.len(), 2);
    let tables: TablesDoc = view("table", socket, &[]).succeeds().document();
    assert_eq!(tables.tables.len(), 2);
    let dump: DumpDoc = view("table", socket, &["st_src"]).succeeds().document();
    assert_eq!(dump.entries[0].shard, Some(0));
    assert_eq!(dump.entries[0].data["http_req_cnt"], 7);
    let dump: DumpDoc = view("table", socket, &["st_src", "--filter", "data.gpc0 gt 0"])
        .succeeds()
        .document();
    assert_eq!(dump.entries.len(), 1);
    let sessions: SessionsDoc = view("sess", socket, &[]).succeeds().document();
    assert_eq!(sessions.sessions.len(), 3);
    let certs: CertificatesDoc = view("cert", socket, &[]).succeeds().document();
    assert_eq!(certs.certificates.len(), 1);
    let cert: CertDoc = view("cert", socket, &["/etc/haproxy/site.pem"])
        .succeeds()
        .document();
    // 3.4 adds lines 2.6 does not have; all are kept.
    assert!(cert.fields.iter().any(|f| f.name == "Option"), "{cert:?}");
    assert_eq!(cert.status.as_deref(), Some("Used"));
    view("sess", socket, &["--raw"])
        .succeeds()
        .stdout_is(fixture("3.4/stats_show_sess.reply"));
}

/// Text from the server (a map key, a table key) cannot drive the terminal in a table.
#[test]
fn server_text_cannot_drive_the_terminal() {
    let server = stats_socket(|command| {
        (command == "set severity-output number; show map #1")
            .then(|| Reply::Bytes(b"\n0x1 \x1b]0;owned\x07 \x1b[2Jvalue\n\n".to_vec()))
    });
    let out = view("map", Path::new(server.address()), &["#1", "--table"])
        .succeeds()
        .stdout_has("\\x1b]0;owned\\x07");
    assert!(!out.stdout_bytes().contains(&0x1b), "{out}");
}
