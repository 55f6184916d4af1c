//! Messages on stderr: one line each, `sockctl: <where>: <what>: <why>`.

use std::io::Write;

use sockctl::units::format_duration;

use crate::sanitize;
use sockctl::{Address, Command, Report};

/// Messages may quote the server, so control characters are escaped.
pub fn error(err: &anyhow::Error) {
    error_to(&mut std::io::stderr(), err);
}

/// [`error`] into a buffer of its own, for one of several sockets.
pub fn error_to(to: &mut dyn Write, err: &anyhow::Error) {
    let _ = writeln!(to, "sockctl: {}", sanitize::text(&format!("{err:#}")));
}

pub fn exchange_facts(to: &mut dyn Write, address: &Address, command: &Command, facts: &Report) {
    let first = facts.first_byte.map_or_else(
        || "no reply bytes".to_string(),
        |d| format!("first byte after {}", format_duration(d)),
    );
    let _ = writeln!(
        to,
        "sockctl: {address}: '{command}' via {}: connected in {}, sent {} B, received {} B, \
         {first}, EOF after {}",
        facts.peer,
        format_duration(facts.connected),
        facts.sent,
        facts.received,
        format_duration(facts.eof),
    );
}
