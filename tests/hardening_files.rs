//! Hardening of the files sockctl writes and of the values it reads: out-of-range durations and
//! sizes, temporary names, `-o` paths, ownership in shared directories, lock locations,
//! signals after the commit, and the values inside a state dump.

use std::path::Path;

use crate::support::fake::{Behavior, FakeServer};
use crate::support::{assert_fails, sockctl, stderr};

/// Every name in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn out_of_range_durations_and_sizes_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = FakeServer::unix(
        dir.path().join("admin.sock"),
        Behavior::Reply(b"ok\n".to_vec()),
    );
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
        let out = sockctl()
            .args(&args)
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        assert_fails(&out, 2, option);
        let err = stderr(&out);
        assert!(err.starts_with("sockctl: invalid value"), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(
            names(out_dir.path()).is_empty(),
            "{args:?}: {:?}",
            names(out_dir.path())
        );
    }
    assert_eq!(server.connections(), 0);
}
