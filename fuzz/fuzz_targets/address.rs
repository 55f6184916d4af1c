#![no_main]
//! Any text given as an address either parses or is refused with a message; a parsed address
//! prints back as something that parses to the same thing.

use libfuzzer_sys::fuzz_target;
use sockctl::Address;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.parse::<Address>() {
        Ok(address) => {
            let shown = address.to_string();
            if let (Address::Tcp { .. } | Address::Abstract { .. }, Ok(again)) =
                (&address, shown.parse::<Address>())
            {
                assert_eq!(again.to_string(), shown);
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
