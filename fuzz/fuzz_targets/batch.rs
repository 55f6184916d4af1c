#![no_main]
//! Splitting any bytes into batch commands never panics, and every command it accepts is one
//! line of the input, numbered where it is, that holds nothing HAProxy would take as a second
//! command.

use libfuzzer_sys::fuzz_target;
use sockctl::haproxy::batch::{Rules, split};
use sockctl::haproxy::command;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, input)) = data.split_first() else {
        return;
    };
    let rules = Rules {
        allow_chaining: flags & 1 == 1,
    };
    let Ok(entries) = split(input, rules) else {
        return;
    };
    let lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    for entry in entries {
        let line = lines[entry.line - 1];
        assert_eq!(entry.command.as_bytes(), line.strip_suffix(b"\r").unwrap_or(line));
        assert!(!entry.command.contains(['\n', '\r', '\0']));
        assert!(rules.allow_chaining || !command::is_chain(entry.command.as_bytes()));
    }
});
