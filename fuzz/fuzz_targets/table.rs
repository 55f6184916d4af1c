#![no_main]
//! `show table` parsing (the list and one table's entries) and filter checking never panic,
//! and what they accept serializes or prints back; the streamed JSON is the parsed one.

use libfuzzer_sys::fuzz_target;
use sockctl::haproxy::table;

fuzz_target!(|data: &[u8]| {
    if let Ok(tables) = table::parse_list(data) {
        let _ = serde_json::to_vec(&tables).unwrap();
    }
    match (table::parse(data), table::stream(data)) {
        // The JSON written entry by entry is the JSON of what parse reads.
        (Ok(dump), Ok(stream)) => assert_eq!(
            serde_json::to_vec(&dump).unwrap(),
            serde_json::to_vec(&stream).unwrap()
        ),
        (Err(_), Err(_)) => {}
        (parsed, streamed) => panic!("parse {parsed:?}, stream {streamed:?}"),
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(filter) = text.parse::<table::Filter>() {
            // What is sent reads back as the same filter.
            assert_eq!(filter.to_string().parse::<table::Filter>().unwrap(), filter);
        }
    }
});
