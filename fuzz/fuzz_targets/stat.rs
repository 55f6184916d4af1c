#![no_main]
//! `show stat` parsing never panics, and every row it returns has one value per header field.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(stat) = sockctl::haproxy::stat::parse(data) {
        for row in &stat.rows {
            assert_eq!(row.fields().len(), stat.fields.len());
        }
    }
});
