//! Hardening of the files sockctl writes and of the values it reads: out-of-range durations and
//! sizes, temporary names, `-o` paths, ownership in shared directories, lock locations,
//! signals after the commit, and the values inside a state dump.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use crate::support::fake::{
    Behavior, FakeServer, Reply, master_script, reload_3_4_succeeded, servers_state,
};
use crate::support::{Run, fixture, names, sockctl};

#[test]
fn out_of_range_durations_and_sizes_are_usage_errors() {
    let server = FakeServer::in_temp_dir("admin.sock", Behavior::Reply(b"ok\n".to_vec()));
    let out_dir = tempfile::tempdir().unwrap();
    let output = out_dir.path().join("reply");
    let output = output.to_str().unwrap();
    let huge = "10000000000000000000";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["send", "--timeout", huge, "-o", output], "--timeout"),
        (vec!["send", "--timeout", "1ns", "-o", output], "--timeout"),
        (
            vec!["send", "--timeout", "0.0001ms", "-o", output],
            "--timeout",
        ),
        (
            vec!["send", "--connect-timeout", huge, "-o", output],
            "--connect-timeout",
        ),
        (
            vec!["send", "--idle-timeout", huge, "-o", output],
            "--idle-timeout",
        ),
        (
            vec!["send", "--idle-timeout", "0.1ms", "-o", output],
            "--idle-timeout",
        ),
        (
            vec!["send", "--max-bytes", "99999999999999999999", "-o", output],
            "--max-bytes",
        ),
        (
            vec!["send", "--max-bytes", "20000TiB", "-o", output],
            "--max-bytes",
        ),
        (
            vec!["haproxy", "save-state", "--timeout", huge, "-o", output],
            "--timeout",
        ),
        (vec!["haproxy", "reload", "--timeout", huge], "--timeout"),
        (vec!["shell", "--timeout", huge], "--timeout"),
        (
            vec!["shell", "--connect-timeout", huge],
            "--connect-timeout",
        ),
    ];
    for (mut args, option) in cases {
        let needs_address = args[0] != "haproxy";
        if needs_address {
            args.push(server.address());
        } else {
            args.extend(["-s", server.address()]);
        }
        if args[0] == "send" {
            args.push("show info");
        }
        let out = sockctl(&args)
            .timeout(std::time::Duration::from_secs(20))
            .fails(2)
            .stderr_has(option);
        let err = out.stderr();
        assert!(err.starts_with("sockctl: invalid value"), "{out}");
        assert_eq!(err.lines().count(), 1, "one line: {out}");
        assert!(
            names(out_dir.path()).is_empty(),
            "{args:?}: {:?}",
            names(out_dir.path())
        );
    }
    assert_eq!(server.connections(), 0);
}

/// A stats socket that answers `show servers state` with `dump` every time (and nothing else).
fn fake_stats(dump: Vec<u8>) -> FakeServer {
    servers_state(move || Reply::Bytes(dump.clone()))
}

fn save_state(server: &FakeServer, file: &Path) -> Run {
    crate::support::save_state(server, file, "5s").run()
}

/// Above pid_max on any Linux system: never a live process.
const DEAD: u32 = 0x3fff_ffff;

#[test]
fn the_sweep_removes_only_dead_temporaries_of_exactly_this_target() {
    let good = fixture("2.6/stats_show_servers_state.reply");
    let server = fake_stats(good.clone());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state");
    std::fs::write(&file, "old").unwrap();
    let live = std::process::id();
    // A save of the neighbouring file `state.424242` in progress (its writer is alive), one of
    // that file's killed runs, and one killed run of `state` itself.
    let neighbour_live = format!(".state.424242.{live}.0.sockctl-tmp");
    let neighbour_dead = format!(".state.424242.{DEAD}.0.sockctl-tmp");
    let own_dead = format!(".state.{DEAD}.7.sockctl-tmp");
    for name in [&neighbour_live, &neighbour_dead, &own_dead] {
        std::fs::write(dir.path().join(name), "partial").unwrap();
    }
    save_state(&server, &file).succeeds();
    assert_eq!(std::fs::read(&file).unwrap(), good);
    // Sorted as names() sorts, whatever this process's PID is.
    let mut expected = vec![
        neighbour_dead.as_str(),
        neighbour_live.as_str(),
        ".state.sockctl-lock",
        "state",
    ];
    expected.sort();
    assert_eq!(
        names(dir.path()),
        expected,
        "only the dead temporary of `state` itself goes"
    );
}

#[test]
fn send_output_sweeps_its_own_stale_temporaries() {
    let server = FakeServer::in_temp_dir("admin.sock", Behavior::Reply(b"ok\n".to_vec()));
    let out_dir = tempfile::tempdir().unwrap();
    let own_dead = format!(".reply.{DEAD}.0.sockctl-tmp");
    let own_live = format!(".reply.{}.3.sockctl-tmp", std::process::id());
    let neighbour_dead = format!(".reply.1.{DEAD}.0.sockctl-tmp");
    for name in [&own_dead, &own_live, &neighbour_dead] {
        std::fs::write(out_dir.path().join(name), "partial").unwrap();
    }
    let file = out_dir.path().join("reply");
    sockctl(["send", "-o"])
        .arg(&file)
        .args([server.address(), "show info"])
        .succeeds();
    assert_eq!(std::fs::read(&file).unwrap(), b"ok\n");
    assert_eq!(names(out_dir.path()), [&neighbour_dead, &own_live, "reply"]);
}

#[test]
fn output_path_ending_in_a_slash_is_refused() {
    let server = FakeServer::in_temp_dir("admin.sock", Behavior::Reply(b"ok\n".to_vec()));
    let out_dir = tempfile::tempdir().unwrap();
    for given in ["newfile/", "newfile/.", "newfile/..", "."] {
        let target = format!("{}/{given}", out_dir.path().display());
        let out = sockctl(["send", "-o", &target, server.address(), "show info"])
            .fails(6)
            .stderr_has("names a directory");
        assert_eq!(out.stderr().lines().count(), 1, "{out}");
        assert!(
            names(out_dir.path()).is_empty(),
            "{given}: {:?}",
            names(out_dir.path())
        );
        let stats = fake_stats(fixture("2.6/stats_show_servers_state.reply"));
        save_state(&stats, Path::new(&target))
            .fails(6)
            .stderr_has("names a directory");
        assert!(
            names(out_dir.path()).is_empty(),
            "{given}: {:?}",
            names(out_dir.path())
        );
    }
    assert_eq!(server.connections(), 0);
}

#[test]
fn a_directory_moved_during_the_write_is_not_a_success() {
    let good = fixture("2.6/stats_show_servers_state.reply");
    let responder = {
        let good = good.clone();
        move |_: &[u8]| Reply::Then {
            now: good[..100].to_vec(),
            drip: good[100..].to_vec(),
            every: std::time::Duration::from_millis(1),
        }
    };
    let server = FakeServer::in_temp_dir("admin.sock", Behavior::Respond(Arc::new(responder)));
    let top = tempfile::tempdir().unwrap();
    let sub = top.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let target = sub.join("reply");
    let send = sockctl(["send", "--timeout", "60s", "-o"])
        .arg(&target)
        .args([server.address(), "show servers state"]);
    let child = send
        .command()
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    crate::support::wait_for(|| !names(&sub).is_empty());
    let moved = top.path().join("moved");
    std::fs::rename(&sub, &moved).unwrap();
    std::fs::create_dir(&sub).unwrap();
    send.ended(child.wait_with_output().unwrap())
        .fails(6)
        .stderr_has("moved");
    assert!(!target.exists(), "nothing appears at the path asked for");
    assert!(
        names(&moved).is_empty(),
        "no temporary and no file in the moved directory: {:?}",
        names(&moved)
    );
}

/// A directory like /tmp (mode 1777) that `nobody` can reach, with a file `name` that nobody
/// created there, mode 0666.
fn sticky_dir_with_a_file_of_nobody(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let file = dir.path().join(name);
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg("umask 0; printf 'theirs\\n' > \"$1\"; chmod 666 \"$1\"")
        .arg("sh")
        .arg(&file)
        .uid(65534)
        .gid(65534)
        .status()
        .unwrap();
    assert!(status.success());
    (dir, file)
}

#[test]
fn a_file_of_another_user_in_a_sticky_directory_is_not_taken_over() {
    use std::os::unix::fs::MetadataExt;
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root to act as nobody");
        return;
    }
    let server = FakeServer::in_temp_dir("admin.sock", Behavior::Reply(b"secret\n".to_vec()));
    let (dir, file) = sticky_dir_with_a_file_of_nobody("reply");
    let out = sockctl(["send", "-o"])
        .arg(&file)
        .args([server.address(), "show info"])
        .fails(6)
        .stderr_has("owned by another user");
    assert_eq!(out.stderr().lines().count(), 1, "{out}");
    assert_eq!(std::fs::read(&file).unwrap(), b"theirs\n");
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (65534, 0o666));
    assert_eq!(names(dir.path()), ["reply"]);

    // save-state too, and the same file owned by the directory's owner is replaced as before.
    let stats = fake_stats(fixture("2.6/stats_show_servers_state.reply"));
    save_state(&stats, &file)
        .fails(6)
        .stderr_has("owned by another user");
    assert_eq!(std::fs::read(&file).unwrap(), b"theirs\n");
    std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
    save_state(&stats, &file).succeeds();
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (65534, 0o666));
}

/// A 3.x master CLI on TCP, as scripted_master: `show proc`, `reload` answered `Success=1`.
fn tcp_master() -> FakeServer {
    FakeServer::tcp(master_script(reload_3_4_succeeded()))
}

#[test]
fn a_reload_lock_planted_by_another_user_no_longer_blocks() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root to act as nobody");
        return;
    }
    // The temp directory, as /tmp: nobody creates root's lock there first and holds it.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let server = tcp_master();
    let key: String = server
        .address()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let planted = tmp.path().join(format!("sockctl-reload-0-{key}.lock"));
    let mut holder = std::process::Command::new("flock")
        .arg("-x")
        .arg(&planted)
        .args(["sleep", "60"])
        .uid(65534)
        .gid(65534)
        .spawn()
        .unwrap();
    crate::support::wait_for(|| planted.exists());
    std::thread::sleep(std::time::Duration::from_millis(100));

    // With a private $XDG_RUNTIME_DIR (the caller's, 0700) the lock goes there.
    let runtime = tempfile::tempdir().unwrap();
    std::fs::set_permissions(runtime.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let reload = |address: &str, runtime: &Path| {
        sockctl(["haproxy", "reload", "-s", address, "--timeout", "5s"])
            .env("TMPDIR", tmp.path())
            .env("XDG_RUNTIME_DIR", runtime)
            .run()
    };
    let out = reload(server.address(), runtime.path());
    let in_runtime = names(runtime.path());

    // A $XDG_RUNTIME_DIR others can write to is not used: root's locks go to /run/sockctl.
    let server = tcp_master();
    let out2 = reload(server.address(), tmp.path());
    // The holder goes before any check can fail.
    holder.kill().unwrap();
    holder.wait().unwrap();

    out.succeeds();
    assert_eq!(in_runtime, [format!("sockctl-reload-{key}.lock")]);
    out2.succeeds();
    assert_eq!(names(tmp.path()), [format!("sockctl-reload-0-{key}.lock")]);
    let run = std::fs::symlink_metadata("/run/sockctl").unwrap();
    assert!(run.is_dir());
    assert_eq!(run.permissions().mode() & 0o777, 0o700);
}

/// Runs `args` `runs` times, each with a SIGTERM after a different delay, and checks that the
/// exit status says what happened to `file`: exit 0 when the new contents are in place, death
/// by SIGTERM (a shell's 143) when the old ones are intact, never anything else, never a
/// temporary left. Returns how many runs ended each way.
fn sigterm_at_varied_delays(args: &[&str], file: &Path, new: &[u8], runs: u32) -> (u32, u32) {
    let dir = file.parent().unwrap();
    let (mut saved, mut killed) = (0, 0);
    for run in 0..runs {
        std::fs::write(file, b"old\n").unwrap();
        let command = sockctl(args);
        let child = command
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Delays from 0 to about 40 ms in steps of 0.2 ms: across the whole run, commit included.
        std::thread::sleep(std::time::Duration::from_micros(u64::from(run % 200) * 200));
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_child(&child),
            rustix::process::Signal::TERM,
        );
        let out = command.ended(child.wait_with_output().unwrap());
        let contents = std::fs::read(file).unwrap();
        let leftovers: Vec<String> = names(dir)
            .into_iter()
            .filter(|n| n.ends_with(".sockctl-tmp"))
            .collect();
        assert!(leftovers.is_empty(), "run {run}: {leftovers:?}");
        match (out.code(), out.signal()) {
            (Some(0), _) => {
                assert_eq!(
                    contents, new,
                    "run {run}: exit 0 but the new file is not in place"
                );
                saved += 1;
            }
            (None, Some(libc::SIGTERM)) => {
                assert!(
                    contents == b"old\n",
                    "run {run}: killed by SIGTERM but the file changed"
                );
                killed += 1;
            }
            other => panic!("run {run}: {other:?}\n{out}"),
        }
    }
    (saved, killed)
}

#[test]
fn a_signal_after_the_commit_is_a_success_and_before_it_keeps_the_old_file() {
    let good = fixture("2.6/stats_show_servers_state.reply");
    let server = fake_stats(good.clone());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state");
    let path = file.to_str().unwrap();
    let args = ["haproxy", "save-state", "-s", server.address(), "-o", path];
    let (saved, killed) = sigterm_at_varied_delays(&args, &file, &good, 200);
    eprintln!("save-state: {saved} saved (exit 0), {killed} killed with the old file");

    let reply = b"a reply\n".to_vec();
    let server = FakeServer::in_temp_dir("admin.sock", Behavior::Reply(reply.clone()));
    let args = ["send", "-o", path, server.address(), "show info"];
    let (saved, killed) = sigterm_at_varied_delays(&args, &file, &reply, 100);
    eprintln!("send -o: {saved} saved (exit 0), {killed} killed with the old file");
}

#[test]
fn a_dump_with_hostile_values_is_refused_and_the_old_file_kept() {
    let good = String::from_utf8(fixture("2.6/stats_show_servers_state.reply")).unwrap();
    let hostile = [
        // A NUL byte in a server name.
        good.replacen("3 be_app 1 s1 ", "3 be_app 1 s\u{0}1 ", 1),
        // srv_op_state far out of range.
        good.replacen(
            "3 be_app 2 s2 127.0.0.1 2 ",
            "3 be_app 2 s2 127.0.0.1 99999999999999999999 ",
            1,
        ),
        // srv_port 99999.
        good.replacen(" 19263 ", " 99999 ", 1),
    ];
    for (i, dump) in hostile.into_iter().enumerate() {
        let server = fake_stats(dump.into_bytes());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state");
        std::fs::write(&file, "old\n").unwrap();
        save_state(&server, &file)
            .fails(5)
            .stderr_has("show servers state: line ");
        assert_eq!(std::fs::read(&file).unwrap(), b"old\n", "case {i}");
        assert_eq!(
            names(dir.path()),
            [".state.sockctl-lock", "state"],
            "case {i}"
        );
    }
}

#[test]
fn reload_without_a_time_limit_does_not_overflow() {
    // `--timeout 0` means no limit; it must not become a deadline past what a clock can hold.
    let server = tcp_master();
    let runtime = tempfile::tempdir().unwrap();
    sockctl([
        "haproxy",
        "reload",
        "-s",
        server.address(),
        "--timeout",
        "0",
    ])
    .env("XDG_RUNTIME_DIR", runtime.path())
    .timeout(std::time::Duration::from_secs(30))
    .succeeds();
}
