#![no_main]
//! The state validator must give the same verdict whether the bytes arrive whole or split, and
//! agree with the typed parser about what is a valid dump.

use libfuzzer_sys::fuzz_target;
use sockctl::haproxy::servers_state::{StateError, StateValidator, parse, validate};

fuzz_target!(|data: &[u8]| {
    // The first byte chooses where to split the rest.
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let whole = validate(bytes);
    let mut validator = StateValidator::new();
    let at = (split as usize).min(bytes.len());
    let split_result = validator
        .push(&bytes[..at])
        .and_then(|()| validator.push(&bytes[at..]))
        .and_then(|()| validator.finish());
    assert_eq!(whole.is_ok(), split_result.is_ok());
    if let Ok(summary) = &whole {
        match parse(bytes) {
            Ok(parsed) => assert_eq!(parsed.servers.len(), summary.servers),
            // The validator checks what HAProxy needs to load a file (its structure: HAProxy
            // reads the header as a comment); the typed view also needs its named columns and
            // numbers where numbers belong. Anything else is a disagreement.
            Err(StateError::MissingColumn { .. } | StateError::BadValue { .. }) => {}
            Err(e) => panic!("the validator accepted what the parser rejects: {e}"),
        }
    }
});
