#![no_main]
//! `show sess` parsing never panics, and what it accepts serializes.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(streams) = sockctl::haproxy::sess::parse(data) {
        let _ = serde_json::to_vec(&streams).unwrap();
    }
});
