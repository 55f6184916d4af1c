//! Several sockets at once: a dead and a slow one never hold back the others, the exit code is
//! the worst, every result is labelled (or keyed by address in JSON), and the progress bar is
//! for terminals only.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::fake::{Behavior, FakeServer};
use crate::support::haproxy::Haproxy;
use crate::support::pty::Pty;
use crate::support::{Run, Sockctl, sockctl, wait_for};

/// Fake servers in one temp dir, named as given, and a path where nothing listens.
struct Farm {
    // Dropped before the dir: stopping a server connects to its socket file.
    servers: Vec<FakeServer>,
    dir: tempfile::TempDir,
}

impl Farm {
    fn new(behaviors: Vec<(&str, Behavior)>) -> Farm {
        let dir = tempfile::tempdir().unwrap();
        let servers = behaviors
            .into_iter()
            .map(|(name, b)| FakeServer::unix(dir.path().join(format!("{name}.sock")), b))
            .collect();
        Farm { servers, dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir
            .path()
            .join(format!("{name}.sock"))
            .display()
            .to_string()
    }

    fn server(&self, name: &str) -> &FakeServer {
        let path = self.path(name);
        self.servers.iter().find(|s| s.address() == path).unwrap()
    }
}

fn fast(text: &str) -> Behavior {
    Behavior::Reply(format!("{text}\n").into_bytes())
}

/// Runs sockctl, noting when each line of its standard output arrived (the run shows those
/// lines as its stdout).
fn timed_lines(args: &[String]) -> (Vec<(Duration, String)>, Run, Duration) {
    let start = Instant::now();
    let command = sockctl(args);
    let mut child = command
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        lines.push((start.elapsed(), line.unwrap()));
    }
    let mut out = child.wait_with_output().unwrap();
    out.stdout = lines
        .iter()
        .map(|(_, l)| format!("{l}\n"))
        .collect::<String>()
        .into();
    (lines, command.ended(out), start.elapsed())
}

#[test]
fn a_dead_and_a_slow_socket_do_not_hold_back_the_others() {
    let farm = Farm::new(vec![
        ("a", fast("from a")),
        ("slow", Behavior::Silent),
        ("b", fast("from b")),
        (
            "drip",
            Behavior::Drip {
                reply: b"dripped\n".to_vec(),
                every: Duration::from_millis(100),
            },
        ),
        ("c", fast("from c")),
    ]);
    let mut args: Vec<String> = vec!["send".into(), "--timeout".into(), "6s".into()];
    for name in ["a", "dead", "slow", "b", "drip", "c"] {
        args.extend(["-s".to_string(), farm.path(name)]);
    }
    args.push("hello".into());
    let (lines, out, elapsed) = timed_lines(&args);
    // The worst: the silent one timed out (4), worse than the dead one (3).
    out.fails(4)
        .stderr_has(format!("{}: connect: no such file", farm.path("dead")))
        .stderr_has("slow.sock: timed out after 6");
    // The slow one held nobody back: the others were printed long before its timeout.
    for name in ["a", "b", "c"] {
        let line = format!("{}: from {name}", farm.path(name));
        let (at, _) = lines
            .iter()
            .find(|(_, l)| *l == line)
            .unwrap_or_else(|| panic!("{line:?} missing: {lines:?}"));
        assert!(*at < Duration::from_secs(4), "{line} after {at:?}");
    }
    assert!(lines.iter().any(|(_, l)| l.ends_with("drip.sock: dripped")));
    assert!(elapsed >= Duration::from_secs(6), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
    // Every socket got the command once.
    for name in ["a", "b", "c", "drip", "slow"] {
        assert_eq!(farm.server(name).connections(), 1, "{name}");
    }
}

#[test]
fn json_is_one_object_keyed_by_address_in_the_order_given() {
    let farm = Farm::new(vec![("a", fast("one")), ("b", fast("two"))]);
    let out = sockctl(["send", "--json", "-s", &farm.path("b"), "-s"])
        .args([farm.path("dead"), "-s".into(), farm.path("a"), "x".into()])
        .fails(3);
    let text = out.stdout();
    let doc: serde_json::Value = out.json();
    assert_eq!(
        doc[farm.path("b")],
        serde_json::json!({"code": 0, "errors": [], "result": "two\n"})
    );
    assert_eq!(doc[farm.path("a")]["result"], "one\n");
    let dead = &doc[farm.path("dead")];
    assert_eq!(
        (dead["code"].as_i64(), dead["result"].is_null()),
        (Some(3), true)
    );
    assert!(
        dead["errors"][0]
            .as_str()
            .unwrap()
            .contains("connect: no such file")
    );
    let keys: Vec<usize> = ["b", "dead", "a"]
        .iter()
        .map(|n| text.find(&farm.path(n)).unwrap())
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{text}");
    // One -s is one socket, as before: no label.
    sockctl(["send", "-s", &farm.path("a"), "x"])
        .succeeds()
        .stdout_is("one\n");
    // One socket with --json is keyed too.
    let doc: serde_json::Value = sockctl(["send", "--json", &farm.path("a"), "x"])
        .succeeds()
        .json();
    assert_eq!(doc[farm.path("a")]["result"], "one\n");
}

#[test]
fn sockets_files_and_stdin_commands() {
    let farm = Farm::new(vec![("a", fast("one")), ("b", fast("two"))]);
    let list = farm.dir.path().join("sockets");
    let text = format!(
        "# the fleet\n{}\n\n   {}  \n",
        farm.path("a"),
        farm.path("b")
    );
    std::fs::write(&list, text).unwrap();
    let from_list = sockctl(["send", "--sockets-file"]).arg(&list);
    let out = from_list
        .clone()
        .stdin("first\n# skipped\nsecond\n")
        .succeeds();
    let mut lines: Vec<String> = out.stdout().lines().map(String::from).collect();
    lines.sort();
    let (a, b) = (farm.path("a"), farm.path("b"));
    assert_eq!(
        lines,
        [
            format!("{a}: one"),
            format!("{a}: one"),
            format!("{b}: two"),
            format!("{b}: two")
        ]
    );
    // A list with one address is labelled all the same: scripts read one format.
    std::fs::write(&list, format!("{a}\n")).unwrap();
    from_list
        .clone()
        .arg("x")
        .succeeds()
        .stdout_is(format!("{a}: one\n"));
    std::fs::write(&list, format!("{a}\n\nhost:notaport\n")).unwrap();
    from_list
        .arg("x")
        .fails(2)
        .stderr_has(format!("{}: line 3: invalid address", list.display()));
    assert_eq!(farm.server("a").connections(), 3);
    sockctl(["send", "--sockets-file"])
        .arg(farm.dir.path().join("missing"))
        .arg("x")
        .fails(2)
        .stderr_has("--sockets-file");
}

/// Twelve sockets, one of which takes a while: long enough for a person to want a bar.
fn many_with_a_slow_one() -> (Farm, Vec<String>) {
    let mut behaviors: Vec<(String, Behavior)> =
        (0..11).map(|i| (format!("s{i}"), fast("ok"))).collect();
    behaviors.push((
        "slow".into(),
        Behavior::Drip {
            reply: b"late\n".to_vec(),
            every: Duration::from_millis(400),
        },
    ));
    let farm = Farm::new(
        behaviors
            .iter()
            .map(|(n, b)| (n.as_str(), b.clone()))
            .collect(),
    );
    let mut args = vec!["send".to_string()];
    for (name, _) in &behaviors {
        args.extend(["-s".to_string(), farm.path(name)]);
    }
    args.push("x".into());
    (farm, args)
}

#[test]
fn no_progress_bar_unless_stderr_is_a_terminal() {
    let (_farm, args) = many_with_a_slow_one();
    let start = Instant::now();
    let out = sockctl(&args).run();
    assert!(start.elapsed() > Duration::from_secs(1), "{out}");
    let out = out.succeeds().stderr_is("");
    assert!(!out.stdout().contains('\r'), "{out}");
    assert_eq!(out.stdout().lines().count(), 12, "{out}");
}

#[test]
fn a_progress_bar_on_a_terminal() {
    let (_farm, args) = many_with_a_slow_one();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut pty = Pty::sockctl(&args, &[]);
    pty.expect("11/12 sockets");
    pty.expect("slow.sock: late");
    pty.succeeds();
    // Erased before other output, so nothing is left of it at the end.
    let text = pty.transcript();
    let last_bar = text.rfind(" sockets, ").unwrap();
    assert!(text[last_bar..].contains("\r\x1b[K"), "{text:?}");
    assert!(text.ends_with("slow.sock: late\r\n"), "{text:?}");
}

#[test]
fn ctrl_c_stops_every_socket_at_once() {
    let farm = Farm::new(vec![
        ("a", Behavior::Silent),
        ("b", Behavior::Silent),
        ("c", Behavior::Silent),
    ]);
    let send = sockctl(["send", "--timeout", "60s"])
        .args(
            ["a", "b", "c"]
                .iter()
                .flat_map(|n| ["-s".to_string(), farm.path(n)]),
        )
        .arg("x");
    let mut child = send
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(|| {
        ["a", "b", "c"]
            .iter()
            .all(|n| farm.server(n).connections() == 1)
    });
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(10), "still running");
        std::thread::sleep(Duration::from_millis(10));
    }
    send.ended(child.wait_with_output().unwrap())
        .killed_by(libc::SIGINT);
}

#[test]
fn exec_and_views_on_several_haproxy_sockets() {
    let Some(ha) = Haproxy::start() else { return };
    let dead: PathBuf = ha.path("dead.sock");
    let (admin, master) = (ha.admin.display(), ha.master.display());
    let out = sockctl(["haproxy", "exec"])
        .args(["-s".as_ref(), ha.admin.as_os_str()])
        .args(["-s".as_ref(), ha.master.as_os_str()])
        .arg("get weight be_app/s1")
        .succeeds();
    let mut lines: Vec<String> = out.stdout().lines().map(String::from).collect();
    lines.sort();
    let mut expected = vec![
        format!("{admin}: 1 (initial 1)"),
        format!("{admin}: "),
        format!("{master}: 1 (initial 1)"),
        format!("{master}: "),
    ];
    expected.sort();
    assert_eq!(lines, expected);

    let doc: serde_json::Value = sockctl(["haproxy", "info", "--json"])
        .args(["-s".as_ref(), ha.admin.as_os_str()])
        .args(["-s".as_ref(), dead.as_os_str()])
        .fails(3)
        .json();
    assert_eq!(doc[admin.to_string()]["result"]["Name"], "HAProxy");
    assert_eq!(doc[dead.display().to_string()]["code"], 3);

    let text = sockctl(["haproxy", "servers", "--table", "--backend", "be_app"])
        .args(["-s".as_ref(), ha.admin.as_os_str()])
        .args(["-s".as_ref(), ha.master.as_os_str()])
        .succeeds()
        .stdout();
    assert_eq!(
        text.lines().filter(|l| l.contains(" s2 ")).count(),
        2,
        "{text}"
    );
    assert!(
        text.lines()
            .all(|l| l.starts_with(&format!("{admin}: ")) || l.starts_with(&format!("{master}: "))),
        "{text}"
    );
}

/// `-j N` bounds how many sockets are asked at once: three silent ones, each given up after
/// its 1 s timeout, take three seconds one at a time and one second all together.
#[test]
fn jobs_bound_how_many_sockets_wait_at_once() {
    let farm = Farm::new(vec![
        ("q1", Behavior::Silent),
        ("q2", Behavior::Silent),
        ("q3", Behavior::Silent),
    ]);
    let run = |jobs: &str| {
        let mut args: Vec<String> = vec!["send".into(), "--timeout".into(), "1s".into()];
        args.extend(["-j".to_string(), jobs.to_string()]);
        for name in ["q1", "q2", "q3"] {
            args.extend(["-s".to_string(), farm.path(name)]);
        }
        args.push("show info".into());
        let start = Instant::now();
        let out = sockctl(&args).run();
        (out, start.elapsed())
    };
    let (out, one_at_a_time) = run("1");
    out.fails(4).stderr_has("q3.sock: timed out after 1");
    assert!(
        one_at_a_time >= Duration::from_millis(2900),
        "{one_at_a_time:?}"
    );
    assert!(one_at_a_time < Duration::from_secs(30), "{one_at_a_time:?}");
    let (out, all_at_once) = run("3");
    out.fails(4).stderr_has("q3.sock: timed out after 1");
    assert!(all_at_once >= Duration::from_millis(950), "{all_at_once:?}");
    assert!(all_at_once < Duration::from_millis(2500), "{all_at_once:?}");
    for name in ["q1", "q2", "q3"] {
        assert_eq!(farm.server(name).connections(), 2, "{name}");
    }
    let (out, _) = run("0");
    out.fails(2)
        .stderr_has("invalid value '0' for '--jobs <N>'");
    assert_eq!(farm.server("q1").connections(), 2, "-j 0 connected");
}

/// One socket's entry of the several-socket document, as docs/many.md describes it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<T> {
    code: i32,
    errors: Vec<String>,
    result: Option<T>,
}

/// A several-socket `--json` document: one envelope per address.
type Envelopes<T> = std::collections::BTreeMap<String, Envelope<T>>;

#[test]
fn the_several_socket_document_keeps_its_shape() {
    let Some(ha) = Haproxy::start() else { return };
    let dead = ha.path("dead.sock");
    let (admin, master) = (
        ha.admin.display().to_string(),
        ha.master.display().to_string(),
    );
    let sockets = |command: Sockctl| {
        [&ha.admin, &ha.master, &dead]
            .into_iter()
            .fold(command, |command, socket| command.arg("-s").arg(socket))
    };

    let doc: Envelopes<serde_json::Map<String, serde_json::Value>> =
        sockets(sockctl(["haproxy", "info", "--json"]))
            .fails(3)
            .document();
    assert_eq!(doc.len(), 3);
    for socket in [&admin, &master] {
        let entry = &doc[socket];
        assert_eq!((entry.code, entry.errors.len()), (0, 0), "{entry:?}");
        assert_eq!(entry.result.as_ref().unwrap()["Name"], "HAProxy");
    }
    let gone = &doc[&dead.display().to_string()];
    assert_eq!(gone.code, 3);
    assert!(gone.result.is_none());
    assert_eq!(
        gone.errors,
        [format!(
            "{}: connect: no such file or directory",
            dead.display()
        )]
    );

    // `exec`: the result is exec's own document, and a failed command is in it.
    let doc: Envelopes<serde_json::Value> =
        sockets(sockctl(["haproxy", "exec", "--json", "--keep-going"]))
            .args(["show version", "set server be_app/zz state drain"])
            .fails(3)
            .document();
    for socket in [&admin, &master] {
        let entry = &doc[socket];
        assert_eq!(entry.code, 1, "{entry:?}");
        assert_eq!(entry.errors.len(), 1, "{entry:?}");
        // Each message names its socket, as on stderr.
        let message = &entry.errors[0];
        assert!(message.starts_with(&format!("{socket}: ")), "{message}");
        assert!(
            message.ends_with(": 'set server be_app/zz state drain': No such server."),
            "{message}"
        );
        let result = entry.result.as_ref().unwrap();
        assert_eq!(result["ok"], false);
        assert_eq!(result["results"].as_array().unwrap().len(), 2);
    }
    assert_eq!(doc[&dead.display().to_string()].code, 3);
    assert!(doc[&dead.display().to_string()].result.is_none());
}
