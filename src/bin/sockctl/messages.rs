//! Every line sockctl writes on stderr, made here: `sockctl: <where>: <what>: <why>`, with
//! everything that came from outside (replies, names, paths) escaped for the terminal.

use std::fmt::Display;
use std::io::{self, Write};

use sockctl::units::format_duration;
use sockctl::{Address, Command, Report};

use crate::config::Terminal;
use crate::sanitize;

/// What starts every message line.
const PREFIX: &str = "sockctl: ";

/// One message line into `to` (a buffer of one socket's messages, or stderr).
pub fn line_to(to: &mut dyn Write, text: impl Display) -> io::Result<()> {
    writeln!(to, "{PREFIX}{}", sanitize::text(&text.to_string()))
}

/// One message line on stderr. A failure to write it is not reported: there is nowhere left
/// to report it.
pub fn say(text: impl Display) {
    let _ = line_to(&mut io::stderr().lock(), text);
}

/// A warning: the run goes on, but the user should know.
pub fn warn(text: impl Display) {
    say(format_args!("warning: {text}"));
}

/// A line about an interactive session itself (not a reply): dim on a terminal.
pub fn note(text: impl Display) {
    if Terminal::get().stderr {
        eprintln!("\x1b[2m{}\x1b[0m", sanitize::text(&text.to_string()));
    } else {
        say(text);
    }
}

/// The error and each cause it has, joined by `: `, each said once: a cause whose words the
/// message already holds (most errors name their cause) is not repeated.
pub fn describe(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// The error on stderr.
pub fn error(err: &anyhow::Error) {
    error_to(&mut io::stderr(), err);
}

/// [`error`] into a buffer of its own, for one of several sockets.
pub fn error_to(to: &mut dyn Write, err: &anyhow::Error) {
    let _ = line_to(to, describe(err));
}

/// The messages of one socket, captured with [`line_to`], one record each for JSON.
pub fn records(captured: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(captured)
        .lines()
        .map(|line| line.strip_prefix(PREFIX).unwrap_or(line).to_string())
        .collect()
}

/// A command as messages quote it: long ones shortened in the middle, so that a 1 MB command
/// does not flood the terminal.
pub fn shortened(command: &Command) -> String {
    const SHOWN: usize = 120;
    let text = command.to_string();
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= SHOWN {
        return text;
    }
    let head: String = chars[..SHOWN / 2].iter().collect();
    let tail: String = chars[chars.len() - SHOWN / 4..].iter().collect();
    format!("{head}… ({} bytes) …{tail}", command.as_bytes().len())
}

/// `-v`: what one exchange did.
pub fn exchange_facts(to: &mut dyn Write, address: &Address, command: &Command, facts: &Report) {
    let first = facts.first_byte.map_or_else(
        || "no reply bytes".to_string(),
        |d| format!("first byte after {}", format_duration(d)),
    );
    let _ = line_to(
        to,
        format_args!(
            "{address}: '{}' via {}: connected in {}, sent {} B, received {} B, {first}, \
             EOF after {}",
            shortened(command),
            facts.peer,
            format_duration(facts.connected),
            facts.sent,
            facts.received,
            format_duration(facts.eof),
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "writing the reply: {} (3 bytes received)", self.0)
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_is_said_once() {
        let io = std::io::Error::other("disk full");
        let err = anyhow::Error::new(Outer(io)).context("/run/a.sock");
        assert_eq!(
            describe(&err),
            "/run/a.sock: writing the reply: disk full (3 bytes received)"
        );
        let plain = anyhow::Error::new(std::io::Error::other("gone")).context("reading");
        assert_eq!(describe(&plain), "reading: gone");
    }

    #[test]
    fn lines_are_escaped_and_read_back_as_records() {
        let mut buf = Vec::new();
        line_to(&mut buf, "a.sock: said \x1b]0;title\x07").unwrap();
        line_to(&mut buf, "b").unwrap();
        assert_eq!(records(&buf), ["a.sock: said \\x1b]0;title\\x07", "b"]);
    }
}
