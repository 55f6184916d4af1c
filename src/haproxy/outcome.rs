//! Did an HAProxy command succeed? HAProxy answers errors as ordinary text, so this module
//! reads the reply and says.
//!
//! # What HAProxy 2.6 sends (checked against a real 2.6.12)
//!
//! On a stats socket, `set severity-output number; CMD` on one connection runs both commands
//! in that session. The reply of `set severity-output number` is an empty block (a lone
//! `\n`); after it comes exactly what `CMD` alone would have sent, except that every
//! *message* (as opposed to a dump) starts with its syslog severity:
//!
//! ```text
//! set severity-output number; show version            -> "\n[6]: 2.6.12-1+deb12u4\n\n"
//! set severity-output number; set server be/nosuch …  -> "\n[3]: No such server.\n\n"
//! set severity-output number; set server be/s1 state drain -> "\n\n"   (silent success)
//! set severity-output number; set server be/s1 addr … -> "\n[4]: IP changed from …\n\n"
//! set severity-output number; show info               -> "\nName: HAProxy\n…\n\n" (no tag)
//! set severity-output number; foo                     -> "\n[6]: Unknown command, but …"
//! set severity-output number; <above the level>       -> "\n[3]: Permission denied\n\n"
//! ```
//!
//! Severities 0 (emerg) to 3 (err) are failures; 4 (warning) to 7 (debug) are not. `Unknown
//! command` comes at severity 6, so it is recognized by its text. Chained commands (`a; b`)
//! answer one block each, every block ending with a blank line, so tags are looked for at the
//! start of each block. (A few messages lack the blank line, e.g. 2.6's `Server deleted.`;
//! they are not failures, and their bytes pass through untouched.)
//!
//! On the master CLI, 2.6 cannot tag anything: the master forwards each command of a line on
//! a new connection to the worker, so `@1 set severity-output number; @1 CMD` loses the
//! setting before `CMD` runs, and the master itself does not know the command. HAProxy 3.0
//! added a master-side `set severity-output` that the master injects into every forwarded
//! command; by HAProxy's sources the master's own CLI (`@master`) does not know that command,
//! and no 3.x master was at hand to check, so sockctl does not use it yet. Through the master,
//! failures are therefore recognized by their text: the messages of
//! [`ALWAYS_FAILURES`] and [`PLAIN_FAILURES`], at the start of a block. That covers the
//! common commands (servers, backends, frontends, maps, ACLs, tables, routing errors), not
//! every message of every command.
//!
//! Everywhere, a JSON reply carrying `"errorStr"` (how the JSON dumps say they failed) is a
//! failure too; it is shown as it came.

use std::fmt;

use serde::Serialize;

use super::text::excerpt;

/// Sent before the command on a stats socket, on the same line.
pub const SEVERITY_PREFIX: &str = "set severity-output number; ";

/// Texts that mean failure whatever the severity (HAProxy 2.6 sends `Unknown command` at
/// severity 6) and wherever they come from.
pub const ALWAYS_FAILURES: &[&str] = &[
    "Unknown command",
    "Permission denied",
    "This command is restricted",
    // From the master CLI itself, never tagged.
    "Can't find the target PID",
    "Can't connect to the target CLI",
];

/// How HAProxy's error messages start, for replies without severity tags (the master CLI).
/// Taken from the `cli_err` calls of HAProxy's sources; no dump of the common commands starts
/// with one of these.
pub const PLAIN_FAILURES: &[&str] = &[
    "No such ",
    "Can't ",
    "Require ",
    "Missing ",
    "Unknown ",
    "Invalid ",
    "Malformed ",
    "Expects ",
    "Value out of range",
    "Not available",
    "Health check was not configured",
    "Agent was not configured",
    "cannot change health on a tracking server",
    "agent checks are not enabled",
    "Key not found",
    "Out of memory",
    "one of 'none', 'number', 'string' is a required argument",
];

/// How the command was sent, which says how the reply starts and whether it has tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// After [`SEVERITY_PREFIX`] on a stats socket: the reply starts with the empty block of
    /// `set severity-output`, and messages carry `[N]: ` tags.
    Tagged,
    /// Alone (through the master CLI): no tags, failures recognized by their text.
    Plain,
    /// On a stats socket connection where `set severity-output number` ran before, as its own
    /// command (a batch in prompt mode): messages carry tags, and nothing comes before them.
    TaggedSession,
}

/// A command that failed: the message HAProxy gave, without its tag and final newlines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The syslog severity HAProxy tagged the message with, `None` when there was no tag.
    pub severity: Option<u8>,
    pub message: String,
}

impl Failure {
    /// `emerg`, `alert`, `crit`, `err`, `warning`, `notice`, `info` or `debug`.
    pub fn severity_name(&self) -> Option<&'static str> {
        self.severity.and_then(severity_name)
    }
}

pub fn severity_name(severity: u8) -> Option<&'static str> {
    const NAMES: [&str; 8] = [
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
    ];
    NAMES.get(usize::from(severity)).copied()
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// What a reply says once read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The reply without the `set severity-output` block, without tags, and without the
    /// blocks of failed messages: on success, byte for byte what the command alone returns.
    pub output: Vec<u8>,
    pub failures: Vec<Failure>,
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// The output, or the first failure.
    pub fn into_result(self) -> Result<Vec<u8>, Failure> {
        match self.failures.into_iter().next() {
            None => Ok(self.output),
            Some(failure) => Err(failure),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeError {
    /// A tagged reply that does not start with the empty block of `set severity-output`: the
    /// server does not know the command (HAProxy before 1.8, or not HAProxy).
    SeverityRefused { found: String },
}

impl fmt::Display for OutcomeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutcomeError::SeverityRefused { found } => write!(
                f,
                "the server did not accept 'set severity-output number' (HAProxy 1.8 or newer \
                 is needed): it answered \"{found}\""
            ),
        }
    }
}

impl std::error::Error for OutcomeError {}

/// Reads the complete reply of a command sent as `framing` says.
pub fn read(reply: &[u8], framing: Framing) -> Result<Outcome, OutcomeError> {
    let body = match framing {
        Framing::Plain | Framing::TaggedSession => reply,
        Framing::Tagged => reply.strip_prefix(b"\n").ok_or_else(|| {
            let first = reply.split(|&b| b == b'\n').next().unwrap_or_default();
            OutcomeError::SeverityRefused {
                found: excerpt(first),
            }
        })?,
    };
    let mut outcome = Outcome {
        output: Vec::with_capacity(body.len()),
        failures: Vec::new(),
    };
    let mut start = 0;
    while start < body.len() {
        let end = block_end(body, start);
        let block = body.get(start..end).unwrap_or_default();
        let (severity, text) = split_tag(block);
        match failure(severity, text, framing) {
            Some(failure) => outcome.failures.push(failure),
            None => {
                if let Some(message) = json_error(text) {
                    outcome.failures.push(Failure {
                        severity: None,
                        message,
                    });
                }
                outcome.output.extend_from_slice(text);
            }
        }
        start = end;
    }
    Ok(outcome)
}

/// Where the block starting at `start` ends: after its first empty line, or at the end.
fn block_end(body: &[u8], start: usize) -> usize {
    let mut at = start;
    while let Some(rest) = body.get(at..) {
        match rest.iter().position(|&b| b == b'\n') {
            None => break,
            Some(len) => {
                at += len + 1;
                if len == 0 {
                    return at;
                }
            }
        }
    }
    body.len()
}

/// `[3]: No such server.\n\n` into (`Some(3)`, `No such server.\n\n`).
fn split_tag(block: &[u8]) -> (Option<u8>, &[u8]) {
    match block {
        [b'[', digit @ b'0'..=b'7', b']', b':', b' ', text @ ..] => (Some(digit - b'0'), text),
        _ => (None, block),
    }
}

fn failure(severity: Option<u8>, text: &[u8], framing: Framing) -> Option<Failure> {
    let starts = |list: &[&str]| list.iter().any(|p| text.starts_with(p.as_bytes()));
    let failed = severity.is_some_and(|s| s <= 3)
        || starts(ALWAYS_FAILURES)
        || (framing == Framing::Plain && severity.is_none() && starts(PLAIN_FAILURES));
    failed.then(|| Failure {
        severity,
        message: String::from_utf8_lossy(text.trim_ascii_end()).into_owned(),
    })
}

/// The message of a JSON dump that says it failed (`{"errorStr":"output buffer too short"}`,
/// possibly at the end of an array).
fn json_error(text: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"{\"errorStr\":\"";
    if !matches!(text.trim_ascii_start().first(), Some(b'{' | b'[')) {
        return None;
    }
    let at = text.windows(KEY.len()).position(|w| w == KEY)?;
    let rest = text.get(at + KEY.len()..)?;
    let mut message = Vec::new();
    let mut bytes = rest.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'"' => break,
            b'\\' => message.extend(bytes.next()),
            _ => message.push(b),
        }
    }
    Some(String::from_utf8_lossy(&message).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(reply: &[u8]) -> Outcome {
        read(reply, Framing::Tagged).unwrap()
    }

    fn plain(reply: &[u8]) -> Outcome {
        read(reply, Framing::Plain).unwrap()
    }

    fn fail(severity: Option<u8>, message: &str) -> Failure {
        Failure {
            severity,
            message: message.into(),
        }
    }

    /// Replies recorded from a real 2.6 stats socket with `set severity-output number; `
    /// before the command.
    #[test]
    fn tagged_successes_are_the_plain_reply() {
        let version = tagged(b"\n[6]: 2.6.12-1+deb12u4\n\n");
        assert_eq!(version.output, reply!("2.6", "stats_show_version"));
        assert!(version.is_ok());
        let drain = tagged(b"\n\n");
        assert_eq!(drain.output, reply!("2.6", "stats_set_server_s1_drain"));
        assert!(drain.is_ok());
        // A dump has no tag and is passed through as it is.
        let mut info = b"\n".to_vec();
        info.extend_from_slice(reply!("2.6", "stats_show_info"));
        assert_eq!(tagged(&info).output, reply!("2.6", "stats_show_info"));
        let mut stat = b"\n".to_vec();
        stat.extend_from_slice(reply!("3.4", "stats_show_stat"));
        assert_eq!(tagged(&stat).output, reply!("3.4", "stats_show_stat"));
        // A warning is not a failure.
        let addr = tagged(b"\n[4]: IP changed from '127.0.0.1' to '127.0.0.2'\n\n");
        assert!(addr.is_ok());
        assert_eq!(
            addr.output,
            b"IP changed from '127.0.0.1' to '127.0.0.2'\n\n"
        );
        // The set command alone.
        assert_eq!(tagged(b"\n").output, b"");
        // No blank line after this one in 2.6: still passed through.
        assert_eq!(
            tagged(b"\n[6]: Server deleted.\n").output,
            b"Server deleted.\n"
        );
    }

    #[test]
    fn tagged_errors_are_failures_and_leave_nothing_behind() {
        let bad = tagged(b"\n[3]: No such server.\n\n");
        assert_eq!(bad.output, b"");
        assert_eq!(bad.failures, [fail(Some(3), "No such server.")]);
        assert_eq!(bad.failures[0].severity_name(), Some("err"));
        let denied = tagged(b"\n[3]: Permission denied\n\n");
        assert_eq!(denied.failures, [fail(Some(3), "Permission denied")]);
        let expert = tagged(b"\n[3]: This command is restricted to expert mode only.\n\n");
        assert!(!expert.is_ok());
        // Unknown command comes at severity 6, with the help after it.
        let mut unknown = b"\n[6]: ".to_vec();
        unknown.extend_from_slice(reply!("2.6", "stats_unknown_foo"));
        let unknown = tagged(&unknown);
        assert_eq!(unknown.output, b"");
        assert_eq!(unknown.failures[0].severity, Some(6));
        assert!(
            unknown.failures[0]
                .message
                .starts_with("Unknown command, but maybe")
        );
        assert!(unknown.failures[0].message.ends_with(": disconnect"));
        let result = tagged(b"\n[3]: Can't find backend.\n\n").into_result();
        assert_eq!(result, Err(fail(Some(3), "Can't find backend.")));
    }

    #[test]
    fn chained_commands_answer_one_block_each() {
        // set severity-output; set server … state ready; show version
        let two = tagged(b"\n\n[6]: 2.6.12-1+deb12u4\n\n");
        assert_eq!(two.output, b"\n2.6.12-1+deb12u4\n\n");
        assert!(two.is_ok());
        let mixed = tagged(b"\n[3]: No such server.\n\n[6]: 2.6.12\n\n");
        assert_eq!(mixed.output, b"2.6.12\n\n");
        assert_eq!(mixed.failures, [fail(Some(3), "No such server.")]);
        // A dump with a blank line inside keeps it.
        let dump = tagged(b"\nline 1\n\nline 2\n\n");
        assert_eq!(dump.output, b"line 1\n\nline 2\n\n");
        assert!(dump.is_ok());
    }

    /// In a prompt-mode session the reply is the command's alone: the same outcome as on a
    /// connection of its own, without the leading block.
    #[test]
    fn session_replies_read_like_their_own_connection() {
        for reply in [
            &b"\n[3]: No such server.\n\n"[..],
            b"\n[6]: 2.6.12-1+deb12u4\n\n",
            b"\n\n",
            b"\n[4]: IP changed from '127.0.0.1' to '127.0.0.2'\n\n",
        ] {
            let alone = read(&reply[1..], Framing::TaggedSession).unwrap();
            assert_eq!(alone, tagged(reply), "{reply:?}");
        }
        // No text is guessed at when tags are there to tell.
        assert!(
            read(b"No such server.\n\n", Framing::TaggedSession)
                .unwrap()
                .is_ok()
        );
    }

    #[test]
    fn a_server_that_refuses_severity_output_is_not_read_as_tagged() {
        assert!(matches!(
            read(reply!("2.6", "master_unknown_foo"), Framing::Tagged),
            Err(OutcomeError::SeverityRefused { .. })
        ));
        assert!(matches!(
            read(b"", Framing::Tagged),
            Err(OutcomeError::SeverityRefused { .. })
        ));
    }

    /// Replies recorded through the master CLI, which never tags.
    #[test]
    fn plain_replies_through_the_master() {
        for (reply, message) in [
            (
                reply!("2.6", "prompt_master_errors_c.04"),
                "No such server.",
            ),
            (reply!("3.4", "prompt_master_errors.06"), "No such server."),
            (
                reply!("2.6", "master_at9_show_info"),
                "Can't find the target PID matching the prefix '@9'",
            ),
            (
                reply!("3.4", "master_atbang_badpid_show_info"),
                "Can't find the target PID matching the prefix '@!1'",
            ),
            (
                reply!("2.6", "stats_show_servers_state_nosuchbe"),
                "Can't find backend.",
            ),
            (reply!("2.6", "stats_set_server_bad"), "No such server."),
        ] {
            let outcome = plain(reply);
            assert_eq!(
                outcome.failures.first().map(|f| f.message.as_str()),
                Some(message)
            );
            assert_eq!(outcome.failures[0].severity, None);
        }
        for reply in [
            reply!("2.6", "master_atmaster_show_info"),
            reply!("2.6", "master_show_info_on_master"),
            reply!("3.4", "master_unknown_foo"),
            reply!("3.4", "stats_unknown_foo"),
        ] {
            assert!(
                plain(reply).failures[0]
                    .message
                    .starts_with("Unknown command")
            );
        }
        for reply in [
            reply!("2.6", "master_at1_show_info"),
            reply!("3.4", "master_at1_show_info"),
            reply!("2.6", "master_show_proc"),
            reply!("3.4", "master_at1_show_servers_state"),
            reply!("2.6", "master_at1_semicolon_two"),
            reply!("2.6", "master_at1_show_info_semicolon_at1_show_version"),
            reply!("2.6", "stats_show_stat"),
            reply!("3.4", "stats_show_stat"),
            reply!("2.6", "stats_set_server_s1_drain"),
            reply!("2.6", "master_at1_help"),
        ] {
            let outcome = plain(reply);
            assert!(outcome.is_ok(), "{:?}", outcome.failures);
            assert_eq!(outcome.output, reply);
        }
    }

    #[test]
    fn json_error_strings() {
        let outcome = tagged(b"\n[{\"a\":1},{\"errorStr\":\"output buffer too short\"}]\n\n");
        assert_eq!(outcome.failures, [fail(None, "output buffer too short")]);
        assert!(outcome.output.starts_with(b"[{"));
        let escaped = plain(b"{\"errorStr\":\"a \\\"b\\\"\"}\n\n");
        assert_eq!(escaped.failures, [fail(None, "a \"b\"")]);
        // Only in JSON replies.
        assert!(plain(b"text mentioning {\"errorStr\":\"x\"}\n\n").is_ok());
    }

    #[test]
    fn tags_need_the_exact_form() {
        for reply in [
            &b"[8]: x\n\n"[..],
            b"[3] x\n\n",
            b"[33]: x\n\n",
            b" [3]: x\n\n",
        ] {
            assert!(plain(reply).is_ok(), "{reply:?}");
            assert_eq!(plain(reply).output, reply);
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_successes_keep_every_untagged_byte(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
        ) {
            for framing in [Framing::Plain, Framing::Tagged, Framing::TaggedSession] {
                if let Ok(outcome) = read(&bytes, framing) {
                    proptest::prop_assert!(outcome.output.len() <= bytes.len());
                }
            }
        }

        #[test]
        fn blocks_of_tagged_info_come_back_untagged(
            lines in proptest::collection::vec("[a-z0-9 .:]{0,20}", 1..6),
        ) {
            let plain_reply: Vec<u8> = lines
                .iter()
                .flat_map(|l| format!("{l}\n\n").into_bytes())
                .collect();
            let tagged_reply: Vec<u8> = std::iter::once(b'\n')
                .chain(lines.iter().flat_map(|l| format!("[6]: {l}\n\n").into_bytes()))
                .collect();
            let outcome = read(&tagged_reply, Framing::Tagged).unwrap();
            proptest::prop_assert!(outcome.is_ok());
            proptest::prop_assert_eq!(outcome.output, plain_reply);
        }
    }
}
