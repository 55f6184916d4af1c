#![no_main]
//! `show info` parsing never panics and serializes whatever it accepts.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = sockctl::haproxy::info::parse(data) {
        let _ = info.get("Name");
    }
});
