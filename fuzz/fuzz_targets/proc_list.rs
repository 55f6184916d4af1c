#![no_main]
//! `show proc` parsing never panics; an accepted list always has its master.

use libfuzzer_sys::fuzz_target;
use sockctl::haproxy::proc_list;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = proc_list::parse(data) {
        assert_eq!(list.master.kind, "master");
        let _ = list.current_worker();
    }
});
