//! `sockctl haproxy exec`: error detection and routing against a real HAProxy 2.6 and 2.8,
//! and the JSON shape.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::support::fake::{Reply, stats_socket};
use crate::support::haproxy::{DEFAULT_BACKEND, Haproxy};
use crate::support::{Run, send, sockctl};

/// The `--json` document as the README documents it; unknown fields fail the round trip.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecDoc {
    ok: bool,
    results: Vec<ResultDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultDoc {
    command: String,
    target: String,
    pid: Option<u32>,
    role: Option<String>,
    ok: bool,
    output: String,
    errors: Vec<ErrorDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorDoc {
    code: i32,
    severity: Option<u8>,
    severity_name: Option<String>,
    message: String,
}

fn exec(socket: &std::path::Path, args: &[&str]) -> Run {
    sockctl(["haproxy", "exec", "-s"])
        .arg(socket)
        .args(args)
        .run()
}

/// HAProxy's reply to `command` on a connection of its own.
fn reply(socket: &std::path::Path, command: &str) -> Vec<u8> {
    send(socket, &[command]).stdout_bytes().to_vec()
}

/// What exec shows of a reply in text mode: nothing for HAProxy's empty reply (the blank line
/// of a silent success), else the reply as it came.
fn shown(reply: Vec<u8>) -> Vec<u8> {
    if reply.iter().all(|&b| b == b'\n') {
        Vec::new()
    } else {
        reply
    }
}

#[test]
fn successes_print_exactly_what_haproxy_sends() {
    let Some(ha) = Haproxy::start() else { return };
    for command in ["show version", "help", "set server be_app/s1 state drain"] {
        exec(&ha.admin, &[command])
            .succeeds()
            .stdout_is(shown(reply(&ha.admin, command)))
            .stderr_is("");
        exec(&ha.master, &[command])
            .succeeds()
            .stdout_is(shown(reply(&ha.master, &format!("@1 {command}"))));
        // --raw is HAProxy's reply byte for byte, the empty reply of a success included.
        exec(&ha.admin, &["--raw", command])
            .succeeds()
            .stdout_is(reply(&ha.admin, command));
    }
    // A dump, and several commands in order (both outputs stable over time).
    let mut expected = reply(&ha.admin, "show cli sockets");
    expected.extend(reply(&ha.admin, "show version"));
    exec(&ha.admin, &["show cli sockets", "show version"])
        .succeeds()
        .stdout_is(expected);
}

/// The four failures of the issue, on the stats socket (tagged) and through the master (by
/// text): exit 1, HAProxy's message on stderr, nothing on stdout.
#[test]
fn failures_exit_1_with_the_message_on_stderr() {
    let Some(ha) = Haproxy::start() else { return };
    let cases = [
        ("show servers state nosuch", "Can't find backend."),
        ("disable server nosuch/s1", "No such backend."),
        ("set server be_app/nosuch state drain", "No such server."),
        ("foo", "Unknown command"),
    ];
    for socket in [&ha.admin, &ha.master] {
        for (command, message) in cases {
            exec(socket, &[command])
                .fails(1)
                .stderr_has(format!("'{command}': {message}"))
                .stdout_is("")
                .stderr_lacks("[3]");
        }
    }
    exec(&ha.master, &["set server be_app/nosuch state drain"])
        .fails(1)
        .stderr_has("(current): ");
    // A failure stops the run unless --keep-going.
    exec(&ha.admin, &["foo", "show version"])
        .fails(1)
        .stdout_is("");
    exec(&ha.admin, &["--keep-going", "foo", "show version"])
        .fails(1)
        .stdout_is(reply(&ha.admin, "show version"));
}

#[test]
fn commands_above_the_socket_level_are_refused() {
    let Some(ha) = Haproxy::start_with(
        "    stats socket {dir}/operator.sock level operator\n",
        DEFAULT_BACKEND,
    ) else {
        return;
    };
    let operator = ha.path("operator.sock");
    exec(&operator, &["set server be_app/s1 state drain"])
        .fails(1)
        .stderr_has("Permission denied");
    exec(&operator, &["debug dev exit"])
        .fails(1)
        .stderr_has("restricted");
    exec(&operator, &["show version"]).succeeds();
    // The drain did not happen.
    send(&ha.admin, &["show servers state be_app"]).stdout_has(" s1 127.0.0.1 2 0 ");
}

#[test]
fn chaining_is_refused_unless_allowed_and_then_routed_whole() {
    // Refused before connecting: this socket does not exist.
    let nowhere = std::path::Path::new("/nonexistent/admin.sock");
    exec(nowhere, &["set map m k a;b"])
        .fails(2)
        .stderr_has("--allow-chaining");
    exec(nowhere, &["@1 show info"])
        .fails(2)
        .stderr_has("--worker or --master");

    let Some(ha) = Haproxy::start() else { return };
    let chain = "set server be_app/s1 state drain; show servers state be_app";
    for socket in [&ha.admin, &ha.master] {
        let text = exec(socket, &["--allow-chaining", chain])
            .succeeds()
            .stdout();
        // The silent drain's empty block, then the dump showing it (admin state 8).
        assert!(text.starts_with("\n1\n# be_id"), "{text}");
        assert!(text.contains(" s1 127.0.0.1 2 8 "), "{text}");
    }
    // One failing part fails the whole, the other's output is kept.
    exec(
        &ha.admin,
        &[
            "--allow-chaining",
            "set server be_app/nosuch state drain; show version",
        ],
    )
    .fails(1)
    .stderr_has("No such server.")
    .stdout_is(reply(&ha.admin, "show version"));
}

#[test]
fn routing_on_the_master() {
    let Some(ha) = Haproxy::start() else { return };
    let out = exec(&ha.master, &["--master", "show proc"]).succeeds();
    assert!(out.stdout().starts_with("#<PID>"), "{out}");

    let doc: ExecDoc = exec(&ha.master, &["--json", "show info"])
        .succeeds()
        .document();
    let pid = doc.results[0].pid.unwrap();
    assert_eq!(doc.results[0].target, "worker");
    assert_eq!(doc.results[0].role.as_deref(), Some("current"));
    assert!(doc.results[0].output.contains(&format!("\nPid: {pid}\n")));
    exec(&ha.master, &["--worker", &pid.to_string(), "show info"])
        .succeeds()
        .stdout_has(format!("\nPid: {pid}\n"));
    // A PID that is no worker: the master says so.
    exec(&ha.master, &["--worker", "1", "show info"])
        .fails(1)
        .stderr_has("Can't find the target PID");
    // Routing options need a master socket.
    exec(&ha.admin, &["--worker", "current", "show info"])
        .fails(2)
        .stderr_has("need a master socket");
}

/// Holds a request half-sent on the frontend so that the worker serving it outlives a reload.
fn busy_connection(ha: &Haproxy) -> UnixStream {
    let mut stream = UnixStream::connect(ha.path("fe.sock")).unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    stream
}

#[test]
fn worker_all_runs_in_current_and_old_workers() {
    let Some(ha) = Haproxy::start() else { return };
    let _busy = busy_connection(&ha);
    std::thread::sleep(Duration::from_millis(200));
    sockctl(["haproxy", "reload", "-s"])
        .arg(&ha.master)
        .succeeds();
    let start = Instant::now();
    let doc = loop {
        let out = exec(&ha.master, &["--worker", "all", "--json", "show info"]);
        if out.code() == Some(0) {
            let doc: ExecDoc = out.document();
            if doc.results.len() == 2 {
                break doc;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{out}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let roles: Vec<_> = doc.results.iter().map(|r| r.role.as_deref()).collect();
    assert_eq!(roles, [Some("current"), Some("old")]);
    for result in &doc.results {
        let pid = result.pid.unwrap();
        assert!(result.output.contains(&format!("\nPid: {pid}\n")), "{pid}");
    }
    assert_ne!(doc.results[0].pid, doc.results[1].pid);

    let text = exec(&ha.master, &["--worker", "all", "show version"])
        .succeeds()
        .stdout();
    let headers: Vec<&str> = text.lines().filter(|l| l.starts_with("== ")).collect();
    assert_eq!(headers.len(), 2, "{text}");
    assert!(headers[0].ends_with(" (current) =="), "{text}");
    assert!(headers[1].ends_with(" (old) =="), "{text}");
    // The worst outcome wins.
    exec(
        &ha.master,
        &["--worker", "all", "set server be_app/nosuch state drain"],
    )
    .fails(1)
    .stderr_has("(old): 'set server be_app/nosuch state drain': No such server.");
}

#[test]
fn json_reports_every_result_with_its_errors() {
    let Some(ha) = Haproxy::start() else { return };
    let doc: ExecDoc = exec(
        &ha.admin,
        &[
            "--json",
            "--keep-going",
            "show version",
            "set server be_app/nosuch state drain",
        ],
    )
    .fails(1)
    .document();
    assert!(!doc.ok);
    let [version, bad] = &doc.results[..] else {
        panic!("{doc:?}")
    };
    assert_eq!(
        (version.target.as_str(), version.pid, version.ok),
        ("socket", None, true)
    );
    assert_eq!(version.output.as_bytes(), reply(&ha.admin, "show version"));
    assert_eq!(bad.output, "");
    let error = &bad.errors[0];
    assert_eq!(
        (error.code, error.severity, error.severity_name.as_deref()),
        (1, Some(3), Some("err"))
    );
    assert_eq!(error.message, "No such server.");
}

/// A JSON dump that says it failed, as HAProxy does when its buffer is too small.
#[test]
fn json_error_strings_fail() {
    let server = stats_socket(|command| {
        (command == "set severity-output number; show info json")
            .then(|| Reply::Bytes(b"\n[{\"errorStr\":\"output buffer too short\"}]\n\n".to_vec()))
    });
    sockctl(["haproxy", "exec", "-s", server.address(), "show info json"])
        .fails(1)
        .stderr_has("output buffer too short");
}

/// A backend with a static algorithm, a stick table, a map and an ACL file, for the commands
/// that need them; the files are in `dir`.
fn with_maps_and_tables(dir: &std::path::Path) -> Option<Haproxy> {
    std::fs::write(dir.join("hosts.map"), "example.com be_app\n").unwrap();
    std::fs::write(dir.join("ips.acl"), "10.0.0.1\n").unwrap();
    let backend = format!(
        "{DEFAULT_BACKEND}
backend be_static
    balance static-rr
    stick-table type ip size 1k store gpc0
    http-request set-var(txn.x) req.hdr(host),map({dir}/hosts.map)
    http-request deny if {{ src -f {dir}/ips.acl }}
    server t1 127.0.0.1:19264
",
        dir = dir.display()
    );
    Haproxy::start_with("", &backend)
}

/// What exec said about `command`: the exit code, stdout, and the message after the command on
/// stderr (the same through the master as on the stats socket).
fn verdict(out: &Run, command: &str) -> (Option<i32>, String, String) {
    let message = out
        .stderr()
        .split_once(&format!("'{command}': "))
        .map(|(_, message)| message.to_string())
        .unwrap_or_else(|| out.stderr());
    (out.code(), out.stdout(), message)
}

/// Through the master, HAProxy 2.6's error messages are recognised by their text: a command
/// fails there exactly when the stats socket tags its reply as an error, with the same message.
#[test]
fn through_the_master_error_messages_fail_as_their_tags_do() {
    let dir = tempfile::tempdir().unwrap();
    let Some(ha) = with_maps_and_tables(dir.path()) else {
        return;
    };
    let map = dir.path().join("hosts.map");
    let acl = dir.path().join("ips.acl");
    let (map, acl) = (map.display(), acl.display());
    let failures = [
        (
            "set server be_app/s1 weight 300".to_string(),
            "Absolute weight can only be between 0 and 256 inclusive.",
        ),
        (
            "set weight be_app/s1 5x".into(),
            "Trailing garbage in weight string",
        ),
        (
            "set weight be_static/t1 50".into(),
            "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.",
        ),
        (
            "set server be_app/s1 state foo".into(),
            "'set server <srv> state' expects 'ready', 'drain' and 'maint'.",
        ),
        (
            "set server be_app/s1 foo".into(),
            "usage: set server <backend>/<server> addr | agent",
        ),
        (
            "set maxconn server be_app/s1 abc".into(),
            "maxconn string empty or preceded by garbage",
        ),
        (
            "enable health be_app/s1".into(),
            "Health check was not configured on this server, cannot enable.",
        ),
        ("show table nosuch".into(), "No such table"),
        (
            "set table be_static key 1.2.3.4 data.foo 1".into(),
            "Unknown data type",
        ),
        (
            "show map nosuch".into(),
            "Unknown map identifier. Please use #<id> or <file>.",
        ),
        (format!("set map {map} nosuch v"), "entry not found."),
        (
            format!("add acl {acl} notanip"),
            "'notanip' is not a valid IPv4 or IPv6 address.",
        ),
        (
            "set timeout foo 1".into(),
            "'set timeout' only supports 'cli'.",
        ),
        ("show stat domain foo".into(), "Invalid statistics domain."),
        ("trace nosuch".into(), "No such trace source"),
        (
            "add server be_app/s9 127.0.0.1:1 foo".into(),
            "unknown keyword 'foo'; did you mean",
        ),
        (
            "del server be_app/s1".into(),
            "Only servers in maintenance mode can be deleted.",
        ),
        (
            "show ssl cert nosuch.pem".into(),
            "Can't display the certificate: Not found",
        ),
        (
            "del ssl cert nosuch.pem".into(),
            "Can't remove the certificate: certificate 'nosuch.pem' doesn't exist!",
        ),
        // An error with another appended to it, on two lines.
        (
            "commit ssl cert nosuch.pem".into(),
            "Can't commit nosuch.pem!",
        ),
    ];
    for (command, message) in &failures {
        let out = exec(&ha.admin, &[command]).fails(1);
        let tagged = verdict(&out, command);
        assert!(tagged.2.contains(message), "{out}");
        let plain = verdict(&exec(&ha.master, &[command]), command);
        assert_eq!(plain, tagged, "{command}");
    }
    // The run stops at the failure.
    exec(
        &ha.master,
        &["set server be_app/s1 weight 300", "show version"],
    )
    .fails(1)
    .stderr_has("Absolute weight")
    .stdout_is("");
}

/// The dumps and successes of the common commands, and warnings, are not failures through the
/// master; where a dump does not change between two runs, the master shows the same bytes.
#[test]
fn through_the_master_dumps_and_warnings_are_not_failures() {
    let dir = tempfile::tempdir().unwrap();
    let Some(ha) = with_maps_and_tables(dir.path()) else {
        return;
    };
    let map = dir.path().join("hosts.map");
    let acl = dir.path().join("ips.acl");
    let (map, acl) = (map.display(), acl.display());
    let stable = [
        "show version".to_string(),
        "show backend".into(),
        "show map".into(),
        format!("show map {map}"),
        "show acl".into(),
        format!("show acl {acl}"),
        "show table".into(),
        "show table be_static".into(),
        "show cli level".into(),
        "show cli sockets".into(),
        "show schema json".into(),
        "show ssl cert".into(),
        "show ssl crt-list".into(),
        "show resolvers".into(),
        "show peers".into(),
        "show trace".into(),
        "help".into(),
        "get weight be_app/s1".into(),
        format!("get map {map} example.com"),
        format!("get acl {acl} 10.0.0.1"),
        "set server be_app/s2 state ready".into(),
        "set weight be_app/s2 1".into(),
        // Warnings (severity 4): not failures on either socket.
        "set server be_app/s1 addr garbage".into(),
        "trace h1 level".into(),
    ];
    // The server state dumps count the seconds since each server's last change.
    let changing = [
        "show servers state",
        "show servers state be_app",
        "show info",
        "show info json",
        "show info typed",
        "show stat",
        "show stat json",
        "show stat typed",
        "show servers conn",
        "show env",
        "show sess",
        "show sess all",
        "show errors",
        "show pools",
        "show activity",
        "show fd",
        "show threads",
        "show tasks",
        "show profiling",
        "show events",
    ];
    for command in &stable {
        let tagged = verdict(&exec(&ha.admin, &[command]).succeeds(), command);
        let plain = verdict(&exec(&ha.master, &[command]), command);
        assert_eq!(plain, tagged, "{command}");
    }
    for command in changing {
        for socket in [&ha.admin, &ha.master] {
            let out = exec(socket, &[command]).succeeds();
            assert!(!out.stdout_bytes().is_empty(), "{out}");
        }
    }
}

#[test]
fn set_severity_output_is_refused_inside_a_command() {
    for args in [
        &[
            "--allow-chaining",
            "set severity-output none; set server b/s state drain",
        ][..],
        &["set severity-output string"],
        &[
            "--allow-chaining",
            "show version;set   severity-output number",
        ],
    ] {
        let out = exec(std::path::Path::new("/nonexistent/admin.sock"), args)
            .fails(2)
            .stderr_has("'set severity-output'");
        assert_eq!(out.stderr().lines().count(), 1, "{out}");
    }
}
