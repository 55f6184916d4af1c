//! `sockctl send` against a real HAProxy: stats socket and master CLI.

use std::time::{Duration, Instant};

use crate::support::haproxy::Haproxy;
use crate::support::sockctl;

#[test]
fn show_info_on_the_stats_socket() {
    let Some(ha) = Haproxy::start() else { return };
    let text = sockctl(["send"])
        .arg(&ha.admin)
        .arg("show info")
        .succeeds()
        .stdout();
    assert!(text.starts_with("Name: HAProxy\n"), "{text}");
    assert!(
        text.ends_with("\n\n"),
        "a worker reply ends with an empty line: {text:?}"
    );
}

#[test]
fn show_servers_state_on_the_stats_socket() {
    let Some(ha) = Haproxy::start() else { return };
    let text = sockctl(["send"])
        .arg(&ha.admin)
        .arg("show servers state")
        .succeeds()
        .stdout();
    assert!(
        text.starts_with("1\n# be_id be_name srv_id srv_name"),
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.contains(" be_app ")).count(),
        3,
        "{text}"
    );
    assert!(text.ends_with("\n\n"));
}

/// The master CLI never closes a connection on its own: only the half-close ends the reply, so
/// a fast answer here proves the client half-closed.
#[test]
fn show_proc_and_at1_on_the_master_socket() {
    let Some(ha) = Haproxy::start() else { return };
    let start = Instant::now();
    let out = sockctl(["send", "--timeout", "5s"])
        .arg(&ha.master)
        .args(["show proc", "@1 show info"])
        .run();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let text = out.succeeds().stdout();
    assert!(text.starts_with("#<PID>"), "{text}");
    assert!(text.contains(&format!("{}", ha.master_pid())), "{text}");
    assert!(text.contains("# workers\n"), "{text}");
    assert!(text.contains("\nName: HAProxy\n"), "{text}");
}

#[test]
fn long_socket_path_reaches_haproxy() {
    let Some(ha) = Haproxy::start() else { return };
    // HAProxy itself cannot bind such a path; a symlink to its socket stands in for one.
    let deep = ha.path(&"x".repeat(100)).join("y".repeat(60));
    std::fs::create_dir_all(&deep).unwrap();
    let long = deep.join("admin.sock");
    std::os::unix::fs::symlink(&ha.admin, &long).unwrap();
    assert!(long.as_os_str().len() > 107);
    let out = sockctl(["send"]).arg(&long).arg("show info").succeeds();
    assert!(out.stdout().starts_with("Name: HAProxy\n"), "{out}");
}

#[test]
fn output_file_is_byte_identical_to_the_reply() {
    let Some(ha) = Haproxy::start() else { return };
    // `help` and `show backend` do not change between two calls; most other replies carry clocks.
    for command in ["help", "show backend"] {
        let shown = sockctl(["send"]).arg(&ha.admin).arg(command).succeeds();
        let file = ha.path("reply.out");
        sockctl(["send", "-o"])
            .args([&file, &ha.admin])
            .arg(command)
            .succeeds()
            .stdout_is("");
        assert!(shown.stdout_bytes().len() > 10, "{shown}");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            shown.stdout_bytes(),
            "{command}"
        );
    }
}

#[test]
fn abns_stats_socket_of_haproxy() {
    let name = format!("sockctl-test-{}", std::process::id());
    let extra = format!("    stats socket abns@{name} level admin\n");
    let Some(_ha) = Haproxy::start_with(&extra, crate::support::haproxy::DEFAULT_BACKEND) else {
        return;
    };
    let out = sockctl(["send", &format!("abns@{name}"), "show info"]).succeeds();
    assert!(out.stdout().starts_with("Name: HAProxy\n"), "{out}");
}
