#![no_main]
//! `show map` and `show acl` parsing (the list and the entries) never panics, and what it
//! accepts serializes.

use libfuzzer_sys::fuzz_target;
use sockctl::haproxy::patterns;

fuzz_target!(|data: &[u8]| {
    if let Ok(refs) = patterns::parse_refs(data) {
        let _ = serde_json::to_vec(&refs).unwrap();
    }
    if let Ok(entries) = patterns::parse_map(data) {
        let _ = serde_json::to_vec(&entries).unwrap();
    }
    if let Ok(entries) = patterns::parse_acl(data) {
        let _ = serde_json::to_vec(&entries).unwrap();
    }
});
