//! Bounded memory whatever the peer sends: every path either streams, spills to a temporary
//! file, or stops at a limit (exit 5, "reply larger than the limit of N bytes") against a
//! peer that answers the handshake as HAProxy does and then floods. The floods here are a few
//! MiB with a small `--max-bytes`; bench/memory.sh measures the peak RSS with gigabytes.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::fake::{Behavior, FakeServer, Reply};
use crate::support::{Run, sockctl};

const MIB: u64 = 1 << 20;

fn server(behavior: Behavior) -> FakeServer {
    FakeServer::in_temp_dir("peer.sock", behavior)
}

/// A stats socket (or a master) that floods `flood` bytes in answer to commands.
fn flooder(master: bool, flood: Option<u64>) -> FakeServer {
    server(Behavior::HaproxyThenFlood { master, flood })
}

/// Runs sockctl with `args`, `stdin` on its standard input, and checks it ended within
/// `bound`.
fn run_within(bound: Duration, args: &[&str], stdin: &[u8]) -> Run {
    let start = Instant::now();
    let out = sockctl(args).stdin(stdin).run();
    assert!(start.elapsed() < bound, "took {:?}\n{out}", start.elapsed());
    out
}

/// Runs sockctl with `args` and its data (heap and anonymous mappings) limited to `cap` bytes
/// (`RLIMIT_DATA`): a run that holds more than that fails to allocate and aborts.
fn run_capped(cap: u64, args: &[&str]) -> Run {
    run_capped_with(cap, args, None)
}

/// [`run_capped`] with `stdin` (a file) on standard input.
fn run_capped_with(cap: u64, args: &[&str], stdin: Option<&std::path::Path>) -> Run {
    let capped = sockctl(args);
    let mut command = capped.command();
    match stdin {
        Some(path) => command.stdin(std::fs::File::open(path).unwrap()),
        None => command.stdin(Stdio::null()),
    };
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: cap,
                rlim_max: cap,
            };
            if libc::setrlimit(libc::RLIMIT_DATA, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    capped.ended(command.output().unwrap())
}

const TOO_LARGE: &str = "reply larger than the limit of 1048576 bytes";

#[test]
fn send_to_several_sockets_streams_each_reply_labelled() {
    // Past 256 KiB a socket's output goes to a temporary file, and comes back labelled: two
    // 24 MiB replies pass within 32 MiB of data. Before, both were held (and copied to be
    // labelled), and the run aborted.
    let size = 24 * MIB;
    let a = server(Behavior::Flood(size));
    let b = server(Behavior::Flood(size));
    let out = run_capped(
        32 * MIB,
        &["send", "-s", a.address(), "-s", b.address(), "x"],
    );
    let out = out.succeeds();
    let text = out.stdout_bytes();
    for server in [&a, &b] {
        let label = format!("{}: ", server.address());
        let lines = text
            .split(|&b| b == b'\n')
            .filter(|line| line.starts_with(label.as_bytes()));
        let bytes: usize = lines.map(|line| line.len() - label.len() + 1).sum();
        // Every byte of the reply, a newline added after its last line.
        assert!(
            (size as usize..=size as usize + 1).contains(&bytes),
            "{bytes}"
        );
    }
}

#[test]
fn send_json_to_several_sockets_holds_at_most_the_limit_per_socket() {
    let a = server(Behavior::Flood(4 * MIB));
    let b = server(Behavior::Flood(4 * MIB));
    let out = run_within(
        Duration::from_secs(20),
        &[
            "send",
            "--json",
            "--max-bytes",
            "1MiB",
            "-s",
            a.address(),
            "-s",
            b.address(),
            "x",
        ],
        b"",
    )
    .fails(5)
    .stderr_has(TOO_LARGE);
    let doc: serde_json::Value = out.json();
    for server in [&a, &b] {
        let entry = &doc[server.address()];
        assert_eq!(entry["code"], 5, "{entry}");
        assert!(entry["errors"][0].as_str().unwrap().contains(TOO_LARGE));
    }
}

#[test]
fn send_json_limit_counts_every_reply_of_a_socket() {
    // 600 KiB each: the first fits in 1 MiB, the two together do not.
    let a = server(Behavior::Flood(600 * 1024));
    run_within(
        Duration::from_secs(20),
        &[
            "send",
            "--json",
            "--max-bytes",
            "1MiB",
            "-s",
            a.address(),
            "first",
            "second",
        ],
        b"",
    )
    .fails(5)
    .stderr_has(TOO_LARGE);
    assert_eq!(a.connections(), 2);
}

#[test]
fn exec_on_a_stats_socket_stops_at_the_limit() {
    let s = flooder(false, Some(8 * MIB));
    run_within(
        Duration::from_secs(20),
        &[
            "haproxy",
            "exec",
            "-s",
            s.address(),
            "--max-bytes",
            "1MiB",
            "show info",
        ],
        b"",
    )
    .fails(5)
    .stderr_has(TOO_LARGE)
    .stdout_is("");
}

/// A flood of about `mib` MiB in whole lines of the fake peer (66 bytes each), so that the
/// prompt after it starts a line.
fn whole_lines(mib: u64) -> u64 {
    mib * MIB / 66 * 66
}

/// The bytes of a flood of `size` bytes from the fake peer: lines of `flood` words.
fn is_flood(bytes: &[u8], size: u64) -> bool {
    bytes.len() as u64 == size && bytes.starts_with(b"flood flood") && bytes.ends_with(b"\n")
}

#[test]
fn exec_passes_a_large_reply_on_in_bounded_memory() {
    // 40 MiB through 24 MiB of data, judged as it passes, on a stats socket and through the
    // master. Before, the reply was held whole to be judged, and stopped at 64 MiB (exit 5).
    let size = whole_lines(40);
    for master in [false, true] {
        let s = flooder(master, Some(size));
        let out = run_capped(
            24 * MIB,
            &["haproxy", "exec", "-s", s.address(), "show info"],
        );
        let out = out.succeeds();
        let text = out.stdout_bytes();
        assert!(is_flood(text, size), "{} bytes", text.len());
    }
}

#[test]
fn exec_json_keeps_a_large_output_out_of_memory() {
    // The document embeds the reply: past 1 MiB it waits in a temporary file, and is copied
    // into the document a chunk at a time. Before, it was held (and copied) whole.
    let size = whole_lines(40);
    let s = flooder(false, Some(size));
    let args = [
        "haproxy",
        "exec",
        "-s",
        s.address(),
        "--json",
        "--max-bytes",
        "0",
    ];
    let out = run_capped(24 * MIB, &[&args[..], &["show info"]].concat()).succeeds();
    let doc: serde_json::Value = serde_json::from_slice(out.stdout_bytes()).unwrap();
    let output = doc["results"][0]["output"].as_str().unwrap();
    assert!(is_flood(output.as_bytes(), size), "{} bytes", output.len());
    assert_eq!(doc["ok"], true);
}

#[test]
fn exec_json_holds_at_most_64_mib_by_default() {
    // JSON embeds the reply, so holds it: within its limit.
    let s = flooder(false, Some(65 * MIB));
    run_within(
        Duration::from_secs(60),
        &["haproxy", "exec", "-s", s.address(), "--json", "show info"],
        b"",
    )
    .fails(5)
    .stderr_has("reply larger than the limit of 67108864 bytes");
}

#[test]
fn exec_through_the_master_stops_at_the_limit() {
    let m = flooder(true, Some(8 * MIB));
    run_within(
        Duration::from_secs(20),
        &[
            "haproxy",
            "exec",
            "-s",
            m.address(),
            "--max-bytes",
            "1MiB",
            "show info",
        ],
        b"",
    )
    .fails(5)
    .stderr_has(TOO_LARGE);
}

#[test]
fn exec_batch_stops_at_the_limit() {
    for master in [false, true] {
        let s = flooder(master, Some(8 * MIB));
        run_within(
            Duration::from_secs(20),
            &[
                "haproxy",
                "exec",
                "-s",
                s.address(),
                "--max-bytes",
                "1MiB",
                "--batch",
                "-",
            ],
            b"show info\nshow stat\n",
        )
        .fails(5)
        .stderr_has(TOO_LARGE)
        .stderr_has("line 1");
    }
}

#[test]
fn exec_batch_and_the_piped_shell_pass_large_replies_on_in_bounded_memory() {
    let size = whole_lines(24);
    let dir = tempfile::tempdir().unwrap();
    let commands = dir.path().join("commands");
    std::fs::write(&commands, "show info\nshow stat\n").unwrap();
    for master in [false, true] {
        let s = flooder(master, Some(size));
        let batch = ["haproxy", "exec", "-s", s.address(), "--batch"];
        let batch = [&batch[..], &[commands.to_str().unwrap()]].concat();
        let shell = ["shell", s.address()];
        for args in [&batch[..], &shell[..]] {
            // Two replies of 24 MiB each through 24 MiB of data.
            let out = run_capped_with(24 * MIB, args, Some(&commands)).succeeds();
            let text = out.stdout_bytes();
            let flood = text.iter().filter(|&&b| b == b'f').count() as u64;
            // Every `flood` word of both replies (a line is 11 words, 66 bytes).
            assert_eq!(flood, 2 * size / 66 * 11, "{args:?}");
        }
    }
}

#[test]
fn piped_shell_stops_at_the_limit() {
    let s = flooder(false, Some(8 * MIB));
    run_within(
        Duration::from_secs(20),
        &["shell", s.address(), "--max-bytes", "1MiB"],
        b"show info\n",
    )
    .fails(5)
    .stderr_has(TOO_LARGE);
}

#[test]
fn shell_deadline_holds_while_data_pours_in() {
    // The peer never stops; the reply never completes. Before, the deadline was only checked
    // when a read found nothing, which a fast peer never lets happen: the shell ran on until
    // the size limit (1 GiB here, several seconds).
    let s = flooder(false, None);
    let start = Instant::now();
    let shell = sockctl(["shell", s.address(), "--timeout", "500ms"]).args(["--max-bytes", "1GiB"]);
    let mut child = shell
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"show info\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let took = start.elapsed();
    shell
        .ended(out)
        .fails(4)
        .stderr_has("no complete reply in time");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn views_stop_at_the_limit() {
    let s = flooder(false, Some(8 * MIB));
    for view in ["stat", "info", "servers"] {
        run_within(
            Duration::from_secs(20),
            &[
                "haproxy",
                view,
                "-s",
                s.address(),
                "--max-bytes",
                "1MiB",
                "--json",
            ],
            b"",
        )
        .fails(5)
        .stderr_has(TOO_LARGE)
        .stdout_is("");
    }
}

/// A `show stat` of `rows` servers as HAProxy 2.6 writes it.
fn show_stat(rows: usize) -> Vec<u8> {
    let mut csv = b"# pxname,svname,qcur,scur,status,weight,type,check_status,\n".to_vec();
    for i in 0..rows {
        csv.extend_from_slice(format!("be_app,s{i},0,3,UP,1,2,L4OK,\n").as_bytes());
    }
    csv.push(b'\n');
    csv
}

#[test]
fn stat_json_is_written_as_it_is_parsed() {
    // 8 MiB of rows within 48 MiB of data. Before, every row became typed values and the whole
    // document was made in memory first: about 20 times the reply, and the run aborted.
    let csv = Arc::new(show_stat(300_000));
    assert!(csv.len() as u64 > 8 * MIB);
    let reply = Arc::clone(&csv);
    let s = server(Behavior::Respond(Arc::new(move |command: &[u8]| {
        if command == b"show proc\n" {
            Reply::Bytes(b"Unknown command.\n".to_vec())
        } else {
            let mut bytes = b"\n".to_vec();
            bytes.extend_from_slice(&reply);
            Reply::Bytes(bytes)
        }
    })));
    let doc: serde_json::Value =
        run_capped(48 * MIB, &["haproxy", "stat", "-s", s.address(), "--json"])
            .succeeds()
            .json();
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 300_000);
    assert_eq!(rows[299_999]["svname"], "s299999");
}

#[test]
fn show_proc_is_held_at_most_16_mib() {
    // The probe of every HAProxy command, and the proc view: `show proc` is never large.
    let s = server(Behavior::Flood(17 * MIB));
    run_within(
        Duration::from_secs(30),
        &["haproxy", "proc", "-s", s.address(), "--max-bytes", "0"],
        b"",
    )
    .fails(5)
    .stderr_has("reply larger than the limit of 16777216 bytes");
}
