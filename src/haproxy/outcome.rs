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
//! and no 3.x master was at hand to check, so sockctl does not use it yet.
//!
//! # Failures without tags: HAProxy's own error messages
//!
//! Through the master, a block is a failure when it is one of HAProxy's error messages:
//! [`ERROR_MESSAGES`] lists the messages that HAProxy's command handlers send at error
//! severity (collected from its sources, 2.6 to 3.5-dev; see [`messages`] for what was taken
//! and what was left out), so that a command fails through the master exactly when its tagged
//! reply on a stats socket would say `[3]`. An entry is matched against the first line of a
//! block, never anywhere else in it:
//!
//! - the line must start with the entry's text up to its first `{}`: most messages are
//!   literal (`No such server.`, `Absolute weight can only be between 0 and 256 inclusive.`)
//!   or start with a literal prefix before a value (`Can't find the target PID matching the
//!   prefix '{}'`), and messages naming their command start with that name in quotes
//!   (`'set server <srv> state' expects …`), which is literal too;
//! - each later piece of the entry must then follow in the same line, in order, whatever
//!   stands in between: a message that starts with a value (`'{}' is not a valid IPv4 or IPv6
//!   address`) is recognised by the fixed text after the value, in the first line and after
//!   the opening quote, not by a word found anywhere;
//! - what follows the last piece is not looked at, so a message that grew an explanation in
//!   a later version (`Value out of range.` then `Value out of range (0 to … expected).`) is
//!   still recognised.
//!
//! A few messages are appended by HAProxy to the text of an earlier error (`<cause>Can't commit
//! FILE!`); those ([`APPENDED_ERRORS`]) may also be the last non-empty line of the block.
//! Anything else is not a failure. The messages of the commands' dumps (`show info`, `show
//! stat`, `show servers state`, `show map`, …) start with none of these, which the tests check
//! on real 2.6 dumps and on recorded 3.4 replies. What is not recognised: errors a command
//! prints as plain output rather than as a message (2.6's `Session not found.`, or the
//! `Failed!` of a `commit ssl cert` that fails while committing; no tag marks them on a stats
//! socket either), and the argument errors of each `add server` keyword, which come from the
//! keyword parsers (the server line's own messages, such as `unknown keyword '{}'`, are
//! listed). [`ALWAYS_FAILURES`] are failures in every framing.
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

/// How the master CLI of 2.7+ answers a `reload` whose new configuration was rejected, followed
/// by `--` and the startup log: a failure whichever command sent it.
pub const RELOAD_FAILED: &str = "Success=0";

mod judge;
pub mod messages;

pub use judge::Judge;
pub use messages::{APPENDED_ERRORS, ERROR_MESSAGES};

/// How the command was sent, which says how the reply starts and whether it has tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tags {
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
    /// Bytes of output already passed on as they came (a [`Judge`] past its hold size); the
    /// output is then empty.
    pub streamed: u64,
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

/// [`read`], knowing the command: some replies only the command can judge. HAProxy answers
/// `wait` with its usage text both when asked for it (`wait -h`, `wait` alone, at info
/// severity) and when the arguments are wrong (at error severity); untagged, as through the
/// master, only the command tells the two apart.
pub fn read_for(command: &str, reply: &[u8], tags: Tags) -> Result<Outcome, OutcomeError> {
    read_knowing(is_wait_with_arguments(command), reply, tags)
}

/// [`read_for`], told only what it needs of the command.
fn read_knowing(wait: bool, reply: &[u8], tags: Tags) -> Result<Outcome, OutcomeError> {
    let mut outcome = read(reply, tags)?;
    if tags == Tags::Plain && wait && outcome.is_ok() && outcome.output.starts_with(b"Usage: wait")
    {
        let message = String::from_utf8_lossy(outcome.output.trim_ascii_end()).into_owned();
        outcome.output.clear();
        outcome.failures.push(Failure {
            severity: None,
            message,
        });
    }
    Ok(outcome)
}

/// `wait` with arguments other than `-h`: its usage text in reply means they were wrong.
fn is_wait_with_arguments(command: &str) -> bool {
    let mut words = command.split_ascii_whitespace();
    words.next() == Some("wait") && words.next().is_some_and(|first| first != "-h")
}

/// Reads the complete reply of a command sent as `framing` says.
pub fn read(reply: &[u8], tags: Tags) -> Result<Outcome, OutcomeError> {
    let body = match tags {
        Tags::Plain | Tags::TaggedSession => reply,
        Tags::Tagged => reply.strip_prefix(b"\n").ok_or_else(|| {
            let first = reply.split(|&b| b == b'\n').next().unwrap_or_default();
            OutcomeError::SeverityRefused {
                found: excerpt(first),
            }
        })?,
    };
    let mut outcome = Outcome {
        output: Vec::with_capacity(body.len()),
        failures: Vec::new(),
        streamed: 0,
    };
    let mut start = 0;
    while start < body.len() {
        let end = block_end(body, start);
        let block = body.get(start..end).unwrap_or_default();
        let (severity, text) = split_tag(block);
        match failure(severity, text, tags) {
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

fn failure(severity: Option<u8>, text: &[u8], tags: Tags) -> Option<Failure> {
    let starts = |list: &[&str]| list.iter().any(|p| text.starts_with(p.as_bytes()));
    let plain = tags == Tags::Plain && severity.is_none();
    let failed = severity.is_some_and(|s| s <= 3)
        || starts(ALWAYS_FAILURES)
        || (plain && (is_error_message(text) || text.starts_with(RELOAD_FAILED.as_bytes())));
    failed.then(|| Failure {
        severity,
        message: String::from_utf8_lossy(text.trim_ascii_end()).into_owned(),
    })
}

/// Whether a block without a tag is one of HAProxy's error messages (see the module doc).
pub fn is_error_message(block: &[u8]) -> bool {
    let mut lines = block.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    if first.is_empty() {
        // No message is empty, nor follows an empty line: a reply of blank lines (a block
        // each) costs nothing to judge.
        return false;
    }
    let last = lines.rfind(|line| !line.is_empty()).unwrap_or(first);
    ERROR_MESSAGES.iter().any(|m| fits(m, first))
        || APPENDED_ERRORS
            .iter()
            .any(|m| fits(m, first) || fits(m, last))
}

/// Whether `line` starts as `message` does, each `{}` standing for any text of the line. A
/// message that ends in a word must end a word of the line too (`Invalid key` is not the start
/// of `Invalid keyword`).
fn fits(message: &str, line: &[u8]) -> bool {
    // Every message starts with fixed text (checked by a test), so its first byte sorts out
    // nearly all of them before any searching.
    if message.as_bytes().first() != line.first() {
        return false;
    }
    let mut pieces = message.split("{}");
    let head = pieces.next().unwrap_or_default();
    let Some(mut rest) = line.strip_prefix(head.as_bytes()) else {
        return false;
    };
    for piece in pieces.filter(|p| !p.is_empty()) {
        // The leftmost place leaves the most room for the pieces after it.
        match rest
            .windows(piece.len())
            .position(|w| w == piece.as_bytes())
        {
            Some(at) => rest = rest.get(at + piece.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    let ends_in_a_word = message.ends_with(|c: char| c.is_ascii_alphanumeric());
    !(ends_in_a_word && rest.first().is_some_and(|b| b.is_ascii_alphanumeric()))
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
        read(reply, Tags::Tagged).unwrap()
    }

    fn plain(reply: &[u8]) -> Outcome {
        read(reply, Tags::Plain).unwrap()
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
            let alone = read(&reply[1..], Tags::TaggedSession).unwrap();
            assert_eq!(alone, tagged(reply), "{reply:?}");
        }
        // No text is guessed at when tags are there to tell.
        assert!(
            read(b"No such server.\n\n", Tags::TaggedSession)
                .unwrap()
                .is_ok()
        );
    }

    #[test]
    fn a_server_that_refuses_severity_output_is_not_read_as_tagged() {
        assert!(matches!(
            read(reply!("2.6", "master_unknown_foo"), Tags::Tagged),
            Err(OutcomeError::SeverityRefused { .. })
        ));
        assert!(matches!(
            read(b"", Tags::Tagged),
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

    /// Every reply recorded from HAProxy 2.6, 2.8 and 3.4 (views, dumps, successes, reloads, prompt
    /// mode sessions, errors), read as a reply through the master: exactly the recorded
    /// errors are failures.
    #[test]
    fn recorded_replies_fail_exactly_where_haproxy_failed() {
        const FAILED: &[(&str, &str)] = &[
            ("2.6/bad_07b_master_show_startup_logs", "Unknown command"),
            ("2.6/master_at9_show_info", "Can't find the target PID"),
            (
                "2.6/master_atbang_badpid_show_info",
                "Can't find the target PID",
            ),
            ("2.6/master_atmaster_show_info", "Unknown command"),
            ("2.6/master_show_info_on_master", "Unknown command"),
            ("2.6/master_unknown_foo", "Unknown command"),
            (
                "2.6/oldworker_show_proc_during_reload.08",
                "Can't find the target PID",
            ),
            ("2.6/prompt_master.03", "Unknown command"),
            ("2.6/prompt_master.06", "Unknown command"),
            ("2.6/prompt_master.07", "Unknown command"),
            ("2.6/prompt_master_errors.02", "Can't find the target PID"),
            ("2.6/prompt_master_errors_b.02", "Can't find the target PID"),
            ("2.6/prompt_master_errors_c.02", "Unknown command"),
            ("2.6/prompt_master_errors_c.03", "Unknown command"),
            ("2.6/prompt_master_errors_c.04", "No such server."),
            ("2.6/prompt_stats.04", "Unknown command"),
            ("2.6/prompt_stats.05", "Unknown command"),
            ("2.6/prompt_stats_errors.02", "No such server."),
            ("2.6/prompt_stats_errors.04", "Can't find backend."),
            ("2.6/stats_set_server_bad", "No such server."),
            ("2.6/stats_show_acl_nosuch", "Unknown ACL identifier."),
            ("2.6/stats_show_map_id0", "Unknown map identifier."),
            ("2.6/stats_show_map_nosuch", "Unknown map identifier."),
            (
                "2.6/stats_show_servers_state_nosuchbe",
                "Can't find backend.",
            ),
            (
                "2.6/stats_show_ssl_cert_nosuch",
                "Can't display the certificate",
            ),
            ("2.6/stats_show_table_be_app", "No such table"),
            (
                "2.6/stats_show_table_filter_bad_op",
                "Filter entry #1: Require and operator",
            ),
            (
                "2.6/stats_show_table_filter_bad_type",
                "Filter entry #1: Unknown data type",
            ),
            (
                "2.6/stats_show_table_filter_bad_value",
                "Filter entry #1: Require a valid integer",
            ),
            (
                "2.6/stats_show_table_filter_not_stored",
                "Filter entry #1: Data type not stored",
            ),
            ("2.6/stats_show_table_nosuch", "No such table"),
            ("2.6/stats_unknown_foo", "Unknown command"),
            ("2.8/stats_show_acl_nosuch", "Unknown ACL identifier."),
            ("2.8/stats_show_map_id0", "Unknown map identifier."),
            ("2.8/stats_show_map_nosuch", "Unknown map identifier."),
            (
                "2.8/stats_show_ssl_cert_nosuch",
                "Can't display the certificate",
            ),
            ("2.8/stats_show_table_be_app", "No such table"),
            (
                "2.8/stats_show_table_filter_bad_op",
                "Filter entry #1: Require and operator",
            ),
            (
                "2.8/stats_show_table_filter_bad_type",
                "Filter entry #1: Unknown data type",
            ),
            (
                "2.8/stats_show_table_filter_bad_value",
                "Filter entry #1: Require a valid integer",
            ),
            (
                "2.8/stats_show_table_filter_not_stored",
                "Filter entry #1: Data type not stored",
            ),
            ("2.8/stats_show_table_nosuch", "No such table"),
            ("3.4/bad_02_master_reload_badcfg", "Success=0\n--\n"),
            ("3.4/master_at9_show_info", "Can't find the target PID"),
            (
                "3.4/master_atbang_badpid_show_info",
                "Can't find the target PID",
            ),
            ("3.4/master_atmaster_show_info", "Unknown command"),
            ("3.4/master_show_info_on_master", "Unknown command"),
            ("3.4/master_unknown_foo", "Unknown command"),
            (
                "3.4/oldworker_show_proc_during_reload.08",
                "Can't find the target PID",
            ),
            ("3.4/prompt_i_master.05", "Unknown command"),
            ("3.4/prompt_i_stats.04", "Unknown command"),
            ("3.4/prompt_master.03", "Unknown command"),
            ("3.4/prompt_master.06", "Unknown command"),
            ("3.4/prompt_master.07", "Unknown command"),
            ("3.4/prompt_master_errors.02", "Can't find the target PID"),
            ("3.4/prompt_master_errors.03", "Can't find the target PID"),
            ("3.4/prompt_master_errors.04", "Unknown command"),
            ("3.4/prompt_master_errors.05", "Unknown command"),
            ("3.4/prompt_master_errors.06", "No such server."),
            ("3.4/prompt_n_master.05", "Unknown command"),
            ("3.4/prompt_p_master.05", "Unknown command"),
            ("3.4/prompt_p_stats.04", "Unknown command"),
            ("3.4/prompt_stats.04", "Unknown command"),
            ("3.4/prompt_stats_errors.02", "No such server."),
            ("3.4/prompt_stats_errors.04", "Can't find backend."),
            ("3.4/prompt_timed_master.05", "Unknown command"),
            ("3.4/prompt_timed_stats.04", "Unknown command"),
            ("3.4/stats_set_server_bad", "No such server."),
            ("3.4/stats_show_acl_nosuch", "Unknown ACL identifier."),
            ("3.4/stats_show_map_id0", "Unknown map identifier."),
            ("3.4/stats_show_map_nosuch", "Unknown map identifier."),
            (
                "3.4/stats_show_servers_state_nosuchbe",
                "Can't find backend.",
            ),
            (
                "3.4/stats_show_ssl_cert_nosuch",
                "Can't display the certificate",
            ),
            ("3.4/stats_show_table_be_app", "No such table"),
            (
                "3.4/stats_show_table_filter_bad_op",
                "Filter entry #1: Require and operator",
            ),
            (
                "3.4/stats_show_table_filter_bad_type",
                "Filter entry #1: Unknown data type",
            ),
            (
                "3.4/stats_show_table_filter_bad_value",
                "Filter entry #1: Require a valid integer",
            ),
            (
                "3.4/stats_show_table_filter_not_stored",
                "Filter entry #1: Data type not stored",
            ),
            ("3.4/stats_show_table_nosuch", "No such table"),
            ("3.4/stats_unknown_foo", "Unknown command"),
        ];
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/haproxy");
        let mut failed = Vec::new();
        let mut read_count = 0;
        for version in ["2.6", "2.8", "3.4"] {
            let dir = std::fs::read_dir(format!("{root}/{version}")).unwrap();
            for path in dir.map(|e| e.unwrap().path()) {
                if path.extension().is_none_or(|e| e != "reply") {
                    continue;
                }
                read_count += 1;
                let outcome = plain(&std::fs::read(&path).unwrap());
                if let Some(failure) = outcome.failures.first() {
                    let stem = path.file_stem().unwrap().to_string_lossy();
                    failed.push((format!("{version}/{stem}"), failure.message.clone()));
                }
            }
        }
        assert!(read_count > 300, "{read_count} replies");
        failed.sort();
        let found: Vec<(&str, &str)> = failed
            .iter()
            .map(|(name, message)| {
                let expected = FAILED.iter().find(|(n, _)| n == name);
                let prefix = expected.map_or("", |(_, p)| *p);
                assert!(message.starts_with(prefix), "{name}: {message}");
                (name.as_str(), prefix)
            })
            .collect();
        assert_eq!(found, FAILED);
    }

    #[test]
    fn wait_usage_is_a_failure_only_when_not_asked_for() {
        let usage =
            b"Usage: wait { -h | <duration> } [<condition> [<args>...]]\n  -h : this help\n\n";
        let plain = |command| read_for(command, usage, Tags::Plain).unwrap();
        assert!(!plain("wait 100 srv-unused be/s2").is_ok());
        assert!(plain("wait -h").is_ok());
        assert!(plain("wait").is_ok());
        assert!(plain("show info").is_ok());
        // On a stats socket the tag says it already.
        let tagged = read_for("wait 100 x", b"\n[3]: Usage: wait\n\n", Tags::Tagged).unwrap();
        assert!(!tagged.is_ok());
    }

    /// Replies of a real 2.6 stats socket (`set severity-output number`) that say `[3]`, as
    /// the master forwards them untagged.
    #[test]
    fn error_messages_of_2_6_through_the_master() {
        for reply in [
            &b"Absolute weight can only be between 0 and 256 inclusive.\n\n"[..],
            b"Empty weight string empty or preceded by garbage\n",
            b"Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n\n",
            b"'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n",
            b"usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | \
              agent-send | check-addr | check-port | fqdn | health | ssl | state | weight\n\n",
            b"maxconn string empty or preceded by garbage\n",
            b"Health check was not configured on this server, cannot enable.\n\n",
            b"No such table\n\n",
            b"Require a valid integer value to store\n\n",
            b"Unknown map identifier. Please use #<id> or <file>.\n\n",
            b"entry not found.\n\n",
            b"'notanip' is not a valid IPv4 or IPv6 address.\n\n",
            b"'set rate-limit' only supports :\n   - 'connections global' to set\n\n",
            b"No such trace source\n",
            b"unknown keyword 'foo'; did you mean 'tfo' maybe ?\n\n",
            b"Only servers in maintenance mode can be deleted.\n",
            b"Can't display the certificate: Not found or the certificate is a bundle!\n\n",
            b"Can't remove the certificate: certificate 'x.pem' doesn't exist!\n\n\n",
            b"Can't edit the crt-list: crt-list 'nosuch' does not exist!\n\n",
            // An earlier error, then the one appended to it.
            b"No ongoing transaction! !\nCan't commit /tmp/x.pem!\n\n",
            b"unable to load the payload\nCan't update /tmp/x.pem!\n\n",
        ] {
            let outcome = plain(reply);
            assert!(!outcome.is_ok(), "{}", String::from_utf8_lossy(reply));
            // Only a stray newline after the message's block may be left.
            assert!(outcome.output.iter().all(|&b| b == b'\n'), "{reply:?}");
        }
        // Lower severities are not failures, on a stats socket or through the master.
        for reply in [
            &b"Invalid addr 'garbage' by 'stats socket command'\n\n"[..],
            b"IP changed from '127.0.0.1' to '127.0.0.2' by 'stats socket command'\n\n",
            b"New empty certificate store '/tmp/x.pem'!\n\n",
            b"Transaction aborted for certificate '/tmp/x.pem'!\n\n",
            b"Server deleted.\n",
            b"Session not found.\n\n",
            b"Supported trace levels for source h1:\n    error      : report errors\n\n",
            b"Done.\n\n",
        ] {
            assert!(plain(reply).is_ok(), "{}", String::from_utf8_lossy(reply));
        }
    }

    #[test]
    fn messages_match_their_first_line_only() {
        assert!(is_error_message(
            b"'10.0.0.300' is not a valid IPv4 or IPv6 address."
        ));
        // The fixed text must follow the value in the same line, after the opening quote.
        assert!(!is_error_message(
            b"'x'\nis not a valid IPv4 or IPv6 address."
        ));
        assert!(!is_error_message(
            b"x' is not a valid IPv4 or IPv6 address."
        ));
        assert!(!is_error_message(b"a dump\nNo such server.\n"));
        assert!(!is_error_message(b" No such server."));
        // Later versions' longer texts are recognised by what they share.
        assert!(is_error_message(
            b"Value out of range (0 to 4294967295 expected).\n"
        ));
        // Appended messages on the last line, and nowhere else but the first.
        assert!(is_error_message(b"Can't commit x.pem!\n"));
        assert!(is_error_message(b"cause\nmore\nCan't commit x.pem!\n\n"));
        assert!(!is_error_message(
            b"cause\nCan't commit x.pem!\nthen a dump\n"
        ));
        // A message ending in a word ends a word of the line.
        assert!(is_error_message(b"Invalid key\n") && is_error_message(b"Invalid key.\n"));
        assert!(!is_error_message(b"Invalid keyword in request\n"));
        assert!(!is_error_message(b"\n\n") && !is_error_message(b""));
    }

    /// The list itself: every entry anchored on text, with a fixed piece long enough to mean
    /// something, one line, and no entry that another one already covers.
    #[test]
    fn the_message_lists_are_precise() {
        let all = ERROR_MESSAGES.iter().chain(APPENDED_ERRORS);
        for message in all.clone() {
            assert!(!message.starts_with("{}"), "{message:?}");
            assert!(!message.contains('\n'), "{message:?}");
            let longest = message.split("{}").map(str::len).max().unwrap_or(0);
            assert!(longest >= 8, "{message:?}");
            assert!(fits(message, message.replace("{}", "x").as_bytes()));
        }
        for message in ERROR_MESSAGES {
            let covered = ERROR_MESSAGES.iter().any(|other| {
                other != message && !other.contains("{}") && message.starts_with(other)
            });
            assert!(!covered, "{message:?}");
        }
        let mut sorted: Vec<&&str> = all.collect();
        let count = sorted.len();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), count);
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
            for framing in [Tags::Plain, Tags::Tagged, Tags::TaggedSession] {
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
            let outcome = read(&tagged_reply, Tags::Tagged).unwrap();
            proptest::prop_assert!(outcome.is_ok());
            proptest::prop_assert_eq!(outcome.output, plain_reply);
        }
    }
}
