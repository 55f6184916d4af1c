#![no_main]
//! `show ssl cert` parsing (the list and one file's details) never panics, and what it
//! accepts serializes.

use libfuzzer_sys::fuzz_target;
use sockctl::haproxy::cert;

fuzz_target!(|data: &[u8]| {
    if let Ok(files) = cert::parse_list(data) {
        let _ = serde_json::to_vec(&files).unwrap();
    }
    if let Ok(cert) = cert::parse(data) {
        let _ = serde_json::to_vec(&cert).unwrap();
    }
});
