#![no_main]
//! Any text given as a duration or a size either parses within its limits or is refused with a
//! message; a parsed duration can always be added to the current instant (a deadline), and only
//! an input that is zero parses as zero (zero means "no limit").

use libfuzzer_sys::fuzz_target;
use sockctl::units::{ByteSize, HumanDuration, MAX_DURATION, MAX_SIZE};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.parse::<HumanDuration>() {
        Ok(duration) => {
            assert!(duration.0 <= MAX_DURATION);
            let _deadline = std::time::Instant::now() + duration.0;
            if duration.0.is_zero() {
                assert!(!text.bytes().any(|b| (b'1'..=b'9').contains(&b)), "{text:?}");
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    match text.parse::<ByteSize>() {
        Ok(size) => {
            assert!(size.0 <= MAX_SIZE);
            if size.0 == 0 {
                assert!(!text.bytes().any(|b| (b'1'..=b'9').contains(&b)), "{text:?}");
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
