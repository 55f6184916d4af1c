//! Shared test helpers: the built binary, fake servers, a throwaway real HAProxy, and real
//! servers of other services.

pub mod fake;
pub mod haproxy;
pub mod pty;
pub mod services;

use std::process::Output;

/// The `sockctl` binary built for these tests.
pub fn sockctl() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("sockctl").unwrap()
}

/// A recorded HAProxy reply or request, e.g. `fixture("3.4/stats_show_stat.reply")`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/haproxy/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code and that stderr mentions `needle`, showing everything on failure.
#[track_caller]
pub fn assert_fails(out: &Output, code: i32, needle: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code; stderr: {}\nstdout: {}",
        stderr(out),
        stdout(out)
    );
    assert!(
        stderr(out).contains(needle),
        "stderr lacks {needle:?}: {}",
        stderr(out)
    );
}

/// Sends SIGINT, as Ctrl-C would.
pub fn interrupt(child: &std::process::Child) {
    rustix::process::kill_process(
        rustix::process::Pid::from_child(child),
        rustix::process::Signal::INT,
    )
    .unwrap();
}

/// Waits until `done` says so, for up to 30 s (a loaded machine is slow, never this slow).
#[track_caller]
pub fn wait_for(mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "the condition never came true"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
