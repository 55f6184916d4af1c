#![no_main]
//! Reading sockets and state files from any configuration text never panics.

use libfuzzer_sys::fuzz_target;
use sockctl::haproxy::config::GlobalSettings;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let settings = GlobalSettings::parse(text);
        let _ = settings.stats_socket();
        let _ = settings.state_file();
    }
});
