//! Faults around the state file and reloads: signals and a full disk during a save, and two
//! reloads at once.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::fake::{Reply, servers_state};
use crate::support::haproxy::Haproxy;
use crate::support::{fixture, interrupt, leftovers, sockctl, wait_for_temporary};

/// A valid dump of `servers` servers, built from a recorded header.
fn big_dump(servers: usize) -> Vec<u8> {
    let recorded = String::from_utf8(fixture("2.6/stats_show_servers_state.reply")).unwrap();
    let mut lines = recorded.lines();
    let mut dump = format!("{}\n{}\n", lines.next().unwrap(), lines.next().unwrap());
    let sample: Vec<&str> = lines.next().unwrap().split(' ').collect();
    for id in 1..=servers {
        let mut fields = sample.clone();
        let (id_text, name) = (id.to_string(), format!("srv{id}"));
        fields[2] = &id_text;
        fields[3] = &name;
        dump.push_str(&fields.join(" "));
        dump.push('\n');
    }
    dump.push('\n');
    dump.into_bytes()
}

#[test]
fn sigint_during_a_save_keeps_the_old_file_and_no_temporary() {
    let dump = big_dump(50);
    let server = servers_state(move || Reply::Then {
        now: dump[..200].to_vec(),
        drip: dump[200..].to_vec(),
        every: Duration::from_millis(5),
    });
    let file = server.dir().join("haproxy.state");
    std::fs::write(&file, "old state\n").unwrap();
    let save = sockctl(["haproxy", "save-state", "-s", server.address(), "-o"]).arg(&file);
    let child = save.command().stderr(Stdio::piped()).spawn().unwrap();
    wait_for_temporary(server.dir());
    interrupt(&child);
    save.ended(child.wait_with_output().unwrap())
        .killed_by(libc::SIGINT);
    assert_eq!(std::fs::read(&file).unwrap(), b"old state\n");
    assert_eq!(leftovers(server.dir()), Vec::<String>::new());
}

/// A 64 KiB tmpfs when this process may mount one; `None` otherwise.
struct SmallDisk(std::path::PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl SmallDisk {
    fn mount() -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| SmallDisk(dir.path().to_path_buf(), dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_during_a_save_keeps_the_old_file() {
    match SmallDisk::mount() {
        Some(disk) => save_onto_a_small_disk(Some(&disk)),
        // Not allowed to mount here: the file-size limit below stands in for a full disk.
        None => save_onto_a_small_disk(None),
    }
}

#[test]
fn a_file_size_limit_during_a_save_keeps_the_old_file() {
    save_onto_a_small_disk(None);
}

/// Saves a 200 KB dump where only 64 KiB fit: on a small tmpfs (ENOSPC), or under a file-size
/// limit (EFBIG).
fn save_onto_a_small_disk(disk: Option<&SmallDisk>) {
    let dump = big_dump(5000);
    assert!(dump.len() > 200_000);
    let server = servers_state(move || Reply::Bytes(dump.clone()));
    let scratch = tempfile::tempdir().unwrap();
    let dir = disk.map_or(scratch.path(), |d| d.0.as_path());
    let file = dir.join("haproxy.state");
    std::fs::write(&file, "old state\n").unwrap();
    let save = sockctl(["haproxy", "save-state", "-s", server.address(), "-o"]).arg(&file);
    let mut command = save.command();
    if disk.is_none() {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe and touches only the child.
        unsafe {
            command.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: 64 * 1024,
                    rlim_max: 64 * 1024,
                };
                libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
                Ok(())
            });
        }
    }
    let expected = if disk.is_some() {
        "No space left on device"
    } else {
        "File too large"
    };
    save.ended(command.output().unwrap())
        .fails(6)
        .stderr_has(expected);
    assert_eq!(std::fs::read(&file).unwrap(), b"old state\n");
    assert_eq!(leftovers(dir), Vec::<String>::new());
}

#[test]
fn two_reloads_at_once_run_one_after_the_other() {
    let Some(ha) = Haproxy::start() else { return };
    let reload = sockctl(["haproxy", "reload", "--json", "--save-state", "-s"])
        .arg(&ha.master)
        .arg("--config")
        .arg(&ha.config);
    let spawn = || {
        reload
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let mut before = Vec::new();
    for child in [a, b] {
        let out = reload.ended(child.wait_with_output().unwrap()).succeeds();
        let json: serde_json::Value = out.json();
        assert_eq!(json["state"]["saved"], true);
        before.push(json["before"]["master"]["reloads"].as_u64().unwrap());
    }
    // Serialized: one of them started only after the other's reload was done.
    before.sort();
    assert_eq!(before, [0, 1]);
}
