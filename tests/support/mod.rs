//! Shared test helpers: running the built binary and checking how it ended, fake servers, a
//! throwaway real HAProxy, and real servers of other services.

pub mod fake;
pub mod haproxy;
pub mod pty;
mod run;
pub mod services;
pub mod sshd;
pub mod tmux;

use std::ffi::OsStr;
use std::path::Path;

pub use run::{Run, Sockctl, sockctl};

/// A recorded HAProxy reply or request, e.g. `fixture("3.4/stats_show_stat.reply")`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/haproxy/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `sockctl` lines of a documentation page's ```sh blocks, with the exit code each expects.
pub fn doc_examples(doc: &str) -> Vec<(String, i32)> {
    let mut found = Vec::new();
    let mut in_sh = false;
    for line in doc.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_sh = !in_sh && trimmed == "```sh";
            continue;
        }
        if in_sh && trimmed.contains("sockctl ") {
            let expected = trimmed
                .rsplit_once("# exits ")
                .map_or(0, |(_, n)| n.trim().parse().unwrap());
            found.push((trimmed.to_string(), expected));
        }
    }
    found
}

/// `sockctl send SOCKET COMMAND…`, which must succeed.
#[track_caller]
pub fn send(socket: impl AsRef<OsStr>, commands: &[&str]) -> Run {
    sockctl(["send"]).arg(socket).args(commands).succeeds()
}

/// `haproxy save-state -s SERVER -o FILE --timeout TIMEOUT`.
pub fn save_state(server: &fake::FakeServer, file: &Path, timeout: &str) -> Sockctl {
    sockctl(["haproxy", "save-state", "-s", server.address(), "-o"])
        .arg(file)
        .args(["--timeout", timeout])
}

/// Every name in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The temporary files in `dir` that a run should not have left behind.
pub fn leftovers(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.contains("sockctl-tmp"))
        .collect()
}

/// Waits until a run has a temporary file in `dir`, for up to 10 s.
#[track_caller]
pub fn wait_for_temporary(dir: &Path) {
    let start = std::time::Instant::now();
    while leftovers(dir).is_empty() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "no temporary file appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
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
