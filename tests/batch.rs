//! `sockctl haproxy exec --batch` and `haproxy::batch`: every command's reply exactly as on a
//! connection of its own, in order, against a real HAProxy 2.6 and 2.8 (stats socket and
//! master) and against a fake CLI that cuts its replies into random chunks.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use sockctl::Address;
use sockctl::client::Flow;
use sockctl::haproxy::Route;
use sockctl::haproxy::batch::{self, Options, Rules, Step};
use sockctl::haproxy::outcome::{self, Outcome, Tags};
use sockctl::haproxy::session::{self, Session};

use crate::support::fake::{Answer, Behavior, FakeServer};
use crate::support::haproxy::{self, DEFAULT_BACKEND, Haproxy};
use crate::support::{Run, sockctl};

/// Commands of every kind: views, silent sets, warnings, errors, unknown commands. Their
/// replies do not change from one run to the next, so that a second run can be compared
/// with the first.
const MIXED: &[&str] = &[
    "show version",
    "set server be_app/s1 weight 50",
    "get weight be_app/s1",
    "set server be_app/nope weight 5",
    "set server be_app/s2 state drain",
    "help",
    "foo",
    "show servers conn be_app",
    "show servers state nosuch",
    "disable server be_app/s3",
    "show backend",
    "get weight be_app/s2",
];

fn exec(socket: &Path, args: &[&str], stdin: &str) -> Run {
    sockctl(["haproxy", "exec", "-s"])
        .arg(socket)
        .args(args)
        .stdin(stdin)
        .run()
}

/// The failure lines of a per-connection run (`'CMD': why`) written as a batch writes them
/// (`line N: CMD: why`), given where each command is in the batch.
fn as_batch_errors(per_connection: &str, lines: &[(usize, &str)]) -> String {
    let mut text = per_connection.to_string();
    for (line, command) in lines {
        text = text.replace(
            &format!("'{command}': "),
            &format!("line {line}: {command}: "),
        );
    }
    text
}

/// The batch file: the commands with comments and blank lines between them, `\r\n` endings;
/// and the line each command is on.
fn batch_file(commands: &[&'static str]) -> (String, Vec<(usize, &'static str)>) {
    let mut text = String::from("# a batch\r\n");
    let mut lines = Vec::new();
    for (i, &command) in commands.iter().enumerate() {
        if i % 3 == 2 {
            text.push_str("\r\n   # a note\n");
        }
        text.push_str(command);
        text.push_str("\r\n");
        lines.push((text.lines().count(), command));
    }
    (text, lines)
}

#[test]
fn batch_output_is_the_per_connection_output() {
    let Some(ha) = Haproxy::start() else { return };
    let (file, lines) = batch_file(MIXED);
    let runs: [(&Path, &[&str]); 5] = [
        (&ha.admin, &["--keep-going"]),
        (&ha.admin, &[]),
        (&ha.master, &["--keep-going"]),
        (&ha.master, &[]),
        (&ha.master, &["--keep-going", "--worker", "all"]),
    ];
    for (socket, options) in runs {
        let alone = exec(socket, &[options, MIXED].concat(), "");
        let batch = exec(socket, &[options, &["--batch", "-"]].concat(), &file);
        let batch = batch.fails(1);
        let alone = alone.fails(1);
        let what = format!("{} {options:?}", socket.display());
        assert_eq!(batch.stdout(), alone.stdout(), "{what}");
        assert_eq!(
            batch.stderr(),
            as_batch_errors(&alone.stderr(), &lines),
            "{what}"
        );
    }
}

#[test]
fn the_first_failure_stops_the_batch_at_its_line() {
    let Some(ha) = Haproxy::start() else { return };
    let file = "set server be_app/s1 weight 11\n\nset server be_app/nope weight 5\n\
                set server be_app/s1 weight 77\n";
    for socket in [&ha.admin, &ha.master] {
        exec(socket, &["--batch", "-"], file)
            .fails(1)
            .stderr_has("line 3: set server be_app/nope weight 5: No such server.")
            // The silent success of line 1 shows nothing.
            .stdout_is("");
        assert!(answers(&ha.admin, "get weight be_app/s1", "11 (initial 1)"));
        // --keep-going runs the rest, and says which line failed.
        exec(socket, &["--keep-going", "--batch", "-"], file)
            .fails(1)
            .stderr_has("line 3: ");
        assert!(answers(&ha.admin, "get weight be_app/s1", "77 (initial 1)"));
        assert!(answers(&ha.admin, "set server be_app/s1 weight 11", ""));
    }
}

/// Through the master, an error message that is not one of the common "No such …" ones still
/// stops the batch at its line.
#[test]
fn through_the_master_any_error_message_stops_the_batch() {
    let Some(ha) = Haproxy::start() else { return };
    let file = "set server be_app/s1 weight 12\nset server be_app/s1 weight 300\n\
                set server be_app/s1 weight 77\n";
    exec(&ha.master, &["--batch", "-"], file)
        .fails(1)
        .stderr_has(
            "line 2: set server be_app/s1 weight 300: Absolute weight can only be between 0 and \
             256 inclusive.",
        )
        .stdout_is("");
    assert!(answers(&ha.admin, "get weight be_app/s1", "12 (initial 1)"));
}

#[test]
fn payloads_and_json_in_a_batch() {
    let Some(ha) = Haproxy::start_with(
        "",
        &format!(
            "{DEFAULT_BACKEND}    http-request set-header X-B %[req.hdr(host),map(/dev/null,none)]\n"
        ),
    ) else {
        return;
    };
    let file = "add map #0 <<\na.example 1\nb.example 2\n\nget map #0 b.example\n";
    for (socket, key) in [(&ha.admin, "a"), (&ha.master, "c")] {
        let file = file.replace("a.example", &format!("{key}.example"));
        let doc: serde_json::Value = exec(socket, &["--json", "--batch", "-"], &file)
            .succeeds()
            .json();
        let results = doc["results"].as_array().unwrap();
        assert_eq!(results[0]["line"], 1);
        assert_eq!(results[1]["line"], 5);
        // The payload's reply is what a connection of its own gets for it.
        assert_eq!(
            results[0]["output"].as_str().unwrap(),
            raw_exchange(&ha.admin, "add map #0 <<\nz.example 9\n\n")
        );
        let value = results[1]["output"].as_str().unwrap();
        assert!(value.contains("key=\"b.example\", value=\"2\""), "{value}");
    }
    assert!(answers(&ha.admin, "get map #0 c.example", "value=\"1\""));
}

#[test]
fn a_reload_through_the_master_ends_its_connection_not_the_batch() {
    let Some(ha) = Haproxy::start() else { return };
    let out = exec(
        &ha.master,
        &["--master", "--batch", "-"],
        "show version\nreload\nshow version\n",
    )
    .succeeds()
    .stdout();
    let version = exec(&ha.master, &["--master", "show version"], "")
        .succeeds()
        .stdout();
    if haproxy::version().reload_answers() {
        // 2.7+ answers the reload on its connection: its status and startup log, between the
        // two versions.
        let reload = out
            .strip_prefix(&version)
            .and_then(|rest| rest.strip_suffix(&version))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(reload.starts_with("Success=1\n--\n"), "{reload}");
        assert!(reload.contains("Loading success."), "{reload}");
    } else {
        // 2.6 closes the connection and answers nothing.
        assert_eq!(out, version.repeat(2));
    }
}

#[test]
fn refused_lines_stop_everything_before_it_starts() {
    let fake = FakeServer::in_temp_dir("admin.sock", cli(&[]));
    for (file, why) in [
        ("show info\nset map m k a;b\n", "stdin: line 2: holds ';'"),
        ("@1 show info\n", "stdin: line 1: starts with '@'"),
        (
            "show info\n\nprompt\n",
            "stdin: line 3: 'prompt' is refused",
        ),
    ] {
        exec(Path::new(fake.address()), &["--batch", "-"], file)
            .fails(2)
            .stderr_has(why);
    }
    assert_eq!(fake.connections(), 0);
    sockctl(["haproxy", "exec", "-s", fake.address(), "--batch", "-", "x"])
        .fails(2)
        .stderr_has("cannot be used with");
    let missing = fake.dir().join("nothing.txt");
    sockctl(["haproxy", "exec", "-s", fake.address(), "--batch"])
        .arg(&missing)
        .fails(2)
        .stderr_has("No such file");
    assert_eq!(fake.connections(), 0);
}

/// The server closes the connection while a command waits for its reply: the batch stops
/// there, says which lines may have run, and sends nothing again.
#[test]
fn a_dropped_connection_stops_the_batch() {
    let fake = FakeServer::in_temp_dir("admin.sock", cli(&[]));
    let file = "quiet 1\nshow 2\nclose 3\nquiet 4\nquiet 5\n";
    exec(Path::new(fake.address()), &["--batch", "-"], file)
        .fails(5)
        .stderr_has(
            "line 3: close 3: the server closed the connection before the end of the reply \
             (0 bytes received); it was sent and may have run; not sent again",
        )
        .stdout_is("row 0\nrow 1\n\n");
    let sent: Vec<u8> = fake
        .received_when_closed()
        .into_iter()
        .flat_map(|r| r.bytes)
        .collect();
    let sent = String::from_utf8_lossy(&sent);
    assert!(!sent.contains("quiet 4"), "{sent}");
    // Written ahead, the lines after it went out too: the message names them all.
    exec(
        Path::new(fake.address()),
        &["--keep-going", "--batch", "-"],
        file,
    )
    .fails(5)
    .stderr_has("lines 3 to 5 were sent and may have run")
    .stdout_is("row 0\nrow 1\n\n");
}

/// One plain exchange, independent of the code under test.
fn answers(socket: &Path, command: &str, expect: &str) -> bool {
    crate::support::haproxy::answers(socket, command, expect)
}

/// Sends `bytes` on a connection of its own, half-closes and reads the whole reply.
fn raw_exchange(socket: &Path, bytes: &str) -> String {
    use std::io::Read;
    let mut stream = UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(bytes.as_bytes()).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

/// What the fake CLI answers to one command, tagged as after `set severity-output number`:
/// `show N` a dump of N rows, `quiet` nothing, `warn` a warning, `fail` an error, `oops` an
/// unknown command; `close` closes the connection instead of answering, `idle` answers and
/// then closes, as HAProxy does with a connection idle for too long.
fn answer(command: &[u8]) -> Answer {
    match reply_for(command) {
        None => Answer::Close,
        Some(reply) if command.starts_with(b"idle") => Answer::ReplyAndClose(reply),
        Some(reply) => Answer::Reply(reply),
    }
}

fn reply_for(command: &[u8]) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(command);
    let (word, n) = text.split_once(' ').unwrap_or((&text, "0"));
    let n: usize = n.parse().unwrap_or(0);
    let reply = match word {
        "show" if text == "show proc" => "Unknown command, but maybe\n\n".to_string(),
        "set" => "\n".to_string(),
        "show" => (0..n).map(|i| format!("row {i}\n")).collect::<String>() + "\n",
        "quiet" | "idle" => "\n".to_string(),
        "warn" => format!("[4]: careful with {n}\n\n"),
        "fail" => format!("[3]: No such thing {n}.\n\n"),
        "oops" => "[6]: Unknown command, but maybe one of these:\n  help : list\n\n".to_string(),
        "close" => return None,
        _ => format!("[6]: {text}\n\n"),
    };
    Some(reply.into_bytes())
}

fn cli(cuts: &[usize]) -> Behavior {
    Behavior::Cli {
        answer: Arc::new(answer),
        cuts: cuts.to_vec(),
    }
}

fn command_strategy() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("show"),
        Just("quiet"),
        Just("warn"),
        Just("fail"),
        Just("oops"),
    ];
    (word, 0..4usize).prop_map(|(word, n)| format!("{word} {n}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random commands, replies cut into random chunks, written ahead or one at a time:
    /// every outcome is the one the same reply gets on a connection of its own, in order, and
    /// a batch that stops at a failure has sent nothing after it.
    #[test]
    fn batches_read_every_reply_whatever_the_chunks(
        commands in proptest::collection::vec(command_strategy(), 1..40),
        cuts in proptest::collection::vec(1..48usize, 1..6),
        keep_going in any::<bool>(),
    ) {
        let fake = FakeServer::in_temp_dir("admin.sock", cli(&cuts));
        let address: Address = fake.address().parse().unwrap();
        let text = commands.join("\n");
        let entries = batch::split(text.as_bytes(), Rules::default()).unwrap();
        let steps: Vec<Step> = entries
            .iter()
            .map(|entry| Step { entry, route: Route::Direct })
            .collect();
        let mut session = Session::open(&address, session::Options::default()).unwrap();
        let options = Options { keep_going, window: 8, ..Options::default() };
        let mut got: Vec<Outcome> = Vec::new();
        batch::run(&mut session, &steps, &options, &mut |done| {
            assert_eq!(done.step, got.len());
            got.push(done.outcome);
            Flow::Continue
        })
        .unwrap();
        drop(session);
        crate::support::wait_for(|| !fake.received().is_empty());
        let mut expected = Vec::new();
        for command in &commands {
            let mut alone = b"\n".to_vec();
            alone.extend(reply_for(command.as_bytes()).unwrap());
            let outcome = outcome::read(&alone, Tags::Tagged).unwrap();
            let failed = !outcome.is_ok();
            expected.push(outcome);
            if failed && !keep_going {
                break;
            }
        }
        prop_assert_eq!(&got, &expected);
        if !keep_going {
            let sent: Vec<u8> = fake.received().into_iter().flat_map(|r| r.bytes).collect();
            let lines = sent.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
            // `prompt p`, `set severity-output number`, then the commands that ran.
            prop_assert_eq!(lines, 2 + expected.len());
        }
    }
}

/// A batch whose reader stalls longer than the CLI's idle timeout: the idle connection is
/// replaced before the next command (nothing of it had been sent), with severity tags on again.
#[test]
fn a_connection_closed_while_idle_is_replaced_between_commands() {
    let Some(ha) = Haproxy::start() else { return };
    let one_second = |session: &mut Session| {
        let command = sockctl::Command::new("set timeout cli 1").unwrap();
        session.run(&command, None).unwrap();
    };
    let address: Address = ha.admin.to_str().unwrap().parse().unwrap();
    let text = "show version\nget weight be_app/s1\nset server be_app/nope weight 5\n";
    let entries = batch::split(text.as_bytes(), Rules::default()).unwrap();
    let steps: Vec<Step> = entries
        .iter()
        .map(|entry| Step {
            entry,
            route: Route::Direct,
        })
        .collect();
    let mut session = Session::open(&address, session::Options::default()).unwrap();
    one_second(&mut session);
    // One command at a time: the next one is sent after the reader is done with the last.
    let options = Options::default();
    let mut done = Vec::new();
    batch::run(&mut session, &steps, &options, &mut |d| {
        if d.step == 0 {
            std::thread::sleep(Duration::from_millis(2500));
        }
        done.push(d);
        Flow::Continue
    })
    .unwrap();
    assert_eq!(done.len(), 3);
    let again = done[1].reconnected.as_ref().expect("reconnected");
    assert_eq!(again.restored, ["set severity-output number"]);
    assert_eq!(done[1].outcome.output, b"1 (initial 1)\n\n");
    assert_eq!(done[2].outcome.failures[0].message, "No such server.");
    // Written ahead, two at a time: the replies on their way are read first.
    one_second(&mut session);
    let options = Options {
        keep_going: true,
        window: 2,
        ..Options::default()
    };
    let mut done = Vec::new();
    let text = format!("{text}get weight be_app/s2\n");
    let entries = batch::split(text.as_bytes(), Rules::default()).unwrap();
    let steps: Vec<Step> = entries
        .iter()
        .map(|entry| Step {
            entry,
            route: Route::Direct,
        })
        .collect();
    batch::run(&mut session, &steps, &options, &mut |d| {
        if d.step == 0 {
            std::thread::sleep(Duration::from_millis(2500));
        }
        done.push(d);
        Flow::Continue
    })
    .unwrap();
    assert_eq!(done.len(), 4);
    assert!(done.iter().any(|d| d.reconnected.is_some()));
    assert_eq!(done[2].outcome.failures[0].message, "No such server.");
    assert_eq!(done[3].outcome.output, b"1 (initial 1)\n\n");
}

/// The server closes the connection right after a reply (as on its idle timeout): the next
/// command, which had not been sent, goes on a new connection.
#[test]
fn a_close_between_commands_is_not_a_lost_command() {
    let fake = FakeServer::in_temp_dir("admin.sock", cli(&[]));
    let address: Address = fake.address().parse().unwrap();
    let entries = batch::split(b"quiet 1\nidle 2\nshow 3\n", Rules::default()).unwrap();
    let steps: Vec<Step> = entries
        .iter()
        .map(|entry| Step {
            entry,
            route: Route::Direct,
        })
        .collect();
    let mut session = Session::open(&address, session::Options::default()).unwrap();
    let mut done = Vec::new();
    batch::run(&mut session, &steps, &Options::default(), &mut |d| {
        if d.step == 1 {
            // The server has closed the connection once it logged it.
            crate::support::wait_for(|| !fake.received().is_empty());
        }
        done.push(d);
        Flow::Continue
    })
    .unwrap();
    assert_eq!(done.len(), 3);
    assert!(done[2].reconnected.is_some());
    assert_eq!(done[2].outcome.output, b"row 0\nrow 1\nrow 2\n\n");
    assert_eq!(fake.connections(), 2);
}

/// `exec --batch --json`, as documented: `exec`'s document with each result's `line`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchDoc {
    ok: bool,
    results: Vec<BatchResultDoc>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchResultDoc {
    line: usize,
    command: String,
    target: String,
    pid: Option<u32>,
    role: Option<String>,
    ok: bool,
    output: String,
    errors: Vec<BatchErrorDoc>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchErrorDoc {
    code: i32,
    severity: Option<u8>,
    severity_name: Option<String>,
    message: String,
}

#[test]
fn batch_json_keeps_its_documented_shape() {
    let Some(ha) = Haproxy::start() else { return };
    let file =
        "# weights\nshow version\n\nset server be_app/zz state drain\nget weight be_app/s1\n";
    for socket in [&ha.admin, &ha.master] {
        let doc: BatchDoc = exec(socket, &["--keep-going", "--json", "--batch", "-"], file)
            .fails(1)
            .document();
        assert!(!doc.ok);
        let lines: Vec<usize> = doc.results.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4, 5]);
        let [version, failed, weight] = &doc.results[..] else {
            panic!("{doc:?}")
        };
        assert_eq!(version.command, "show version");
        assert!(version.ok && version.errors.is_empty());
        assert_eq!(weight.output, "1 (initial 1)\n\n");
        assert!(!failed.ok);
        assert_eq!(failed.output, "");
        let error = &failed.errors[0];
        assert_eq!((error.code, error.message.as_str()), (1, "No such server."));
        if socket == &ha.admin {
            // Tagged by the stats socket; no process to name.
            assert_eq!((failed.target.as_str(), failed.pid), ("socket", None));
            assert_eq!(error.severity, Some(3));
            assert_eq!(error.severity_name.as_deref(), Some("err"));
        } else {
            // Through the master the message is recognized by its text: no severity.
            assert_eq!(failed.target, "worker");
            assert_eq!(failed.role.as_deref(), Some("current"));
            assert!(failed.pid.is_some());
            assert_eq!(
                (error.severity, error.severity_name.as_deref()),
                (None, None)
            );
        }
    }
}

/// The replies of HAProxy 3.4's stats socket in prompt mode, as recorded, each without the
/// prompt that followed it: what a batch over one connection reads for each command.
fn recorded_3_4_replies() -> Vec<(&'static str, Vec<u8>)> {
    use crate::support::fixture;
    let without_prompt = |name: &str| {
        let reply = fixture(name);
        match reply.strip_suffix(b"> ") {
            Some(reply) => reply.to_vec(),
            None => panic!("{name} does not end with the prompt"),
        }
    };
    // `prompt`, then `show version` twice on one connection: the first prompt answers
    // `prompt`, the reply runs to the next one.
    let both = fixture("3.4/stats_two_cmds_newline_separated_prompt_first.reply");
    let after_prompt = both.strip_prefix(b"\n> ").unwrap();
    let end = after_prompt.windows(3).position(|w| w == b"\n> ").unwrap() + 1;
    let version = after_prompt[..end].to_vec();
    let drain = without_prompt("3.4/prompt_stats_errors.03.reply");
    // The premise of the fake: in prompt mode a reply is the non-interactive reply, then the
    // prompt.
    assert_eq!(version, fixture("3.4/stats_show_version.reply"));
    assert_eq!(drain, fixture("3.4/stats_set_server_s1_drain.reply"));
    vec![
        ("show version", version),
        ("show info", without_prompt("3.4/prompt_p_stats.02.reply")),
        ("set server be_app/s1 state drain", drain),
        (
            "show servers state",
            without_prompt("3.4/prompt_p_stats.03.reply"),
        ),
    ]
}

/// A 3.4 stats socket replaying [`recorded_3_4_replies`]. `set severity-output number`, which
/// was not recorded, gets the empty reply of a setting; `show proc` (how `exec` tells a stats
/// socket from a master) gets 3.4's recorded unknown-command reply; anything else closes.
fn fake_3_4_stats(cuts: &[usize]) -> Behavior {
    let replies = recorded_3_4_replies();
    let unknown = crate::support::fixture("3.4/stats_unknown_foo.reply");
    Behavior::Cli {
        answer: Arc::new(move |command: &[u8]| {
            if command == b"set severity-output number" {
                return Answer::Reply(b"\n".to_vec());
            }
            if command == b"show proc" {
                return Answer::Reply(unknown.clone());
            }
            match replies.iter().find(|(c, _)| c.as_bytes() == command) {
                Some((_, reply)) => Answer::Reply(reply.clone()),
                None => Answer::Close,
            }
        }),
        cuts: cuts.to_vec(),
    }
}

#[test]
fn a_batch_on_a_3_4_stats_socket_prints_the_recorded_replies() {
    let replies = recorded_3_4_replies();
    let file = "show version\nshow info\n# drain one\nset server be_app/s1 state drain\n\
                show servers state\nshow version\n";
    let order = [0, 1, 2, 3, 0];
    // The empty reply of a silent success (the drain) shows nothing.
    let expected: Vec<u8> = order
        .iter()
        .map(|&i| replies[i].1.clone())
        .filter(|reply| !reply.iter().all(|&b| b == b'\n'))
        .flatten()
        .collect();
    for cuts in [&[][..], &[5, 64, 1][..]] {
        let fake = FakeServer::in_temp_dir("admin.sock", fake_3_4_stats(cuts));
        let socket = Path::new(fake.address());
        for options in [&[][..], &["--keep-going"][..]] {
            exec(socket, &[options, &["--batch", "-"]].concat(), file)
                .succeeds()
                .stderr_is("")
                .stdout_is(&expected);
        }
        // Each command on a connection of its own prints the same.
        let mut alone: Vec<u8> = Vec::new();
        for &i in &order {
            let out = exec(socket, &[replies[i].0], "").succeeds();
            alone.extend(out.stdout_bytes());
        }
        assert_eq!(alone, expected);
        // The batches went in prompt mode, one connection each after the probe.
        let sent: Vec<u8> = fake
            .received_when_closed()
            .into_iter()
            .flat_map(|r| r.bytes)
            .collect();
        let sent = String::from_utf8_lossy(&sent);
        assert_eq!(sent.matches("prompt p\n").count(), 2, "{sent}");
    }
}
