//! HAProxy's command syntax, in one place: where a line splits into commands, routing prefixes,
//! payloads, the commands that change the connection rather than HAProxy, names that may go
//! into a command, and the one check every caller (exec, batch, shell) applies.

use std::fmt;

use crate::client::Request;
use crate::command::{Command, CommandError};
use crate::haproxy::framing::Target;

/// The commands of a line, split where HAProxy splits them: at each `;` that no backslash
/// escapes. The escapes stay in place for HAProxy to interpret; nothing is trimmed.
pub fn split(line: &[u8]) -> Vec<&[u8]> {
    parts(line).collect()
}

/// [`split`] without collecting: checking a line allocates nothing.
fn parts(line: &[u8]) -> impl Iterator<Item = &[u8]> + Clone {
    let mut start = Some(0);
    let mut i = 0;
    std::iter::from_fn(move || {
        let from = start?;
        while let Some(&b) = line.get(i) {
            match b {
                b'\\' => i += 2,
                b';' => {
                    start = Some(i + 1);
                    i += 1;
                    return Some(&line[from..i - 1]);
                }
                _ => i += 1,
            }
        }
        start = None;
        Some(line.get(from..).unwrap_or_default())
    })
}

/// The commands of a chain as [`split`] cuts them, trimmed, empty ones dropped (on the master,
/// a lone prefix would change the session's default target).
pub fn commands(line: &str) -> Vec<&str> {
    split(line.as_bytes())
        .into_iter()
        // `;` and `\` are ASCII, so every cut is at a character boundary.
        .map(|part| std::str::from_utf8(part).unwrap_or_default().trim())
        .filter(|part| !part.is_empty())
        .collect()
}

/// Whether `line` holds a `;` that HAProxy would take as the end of a command.
pub fn is_chain(line: &[u8]) -> bool {
    parts(line).nth(1).is_some()
}

fn words(command: &[u8]) -> impl Iterator<Item = &[u8]> + Clone {
    command
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
}

/// The first word, after an `@master` prefix.
pub fn first_word(command: &[u8]) -> &[u8] {
    let mut words = words(command);
    match words.next() {
        Some(b"@master") => words.next().unwrap_or_default(),
        Some(word) => word,
        None => b"",
    }
}

/// A master `reload`: the command itself goes to the master (by default or by `@master`).
pub fn is_reload(command: &[u8], target: &Target) -> bool {
    let mut words = words(command);
    let mut first = words.next();
    let mut to_master = *target == Target::Master;
    if first == Some(b"@master") {
        first = words.next();
        to_master = true;
    }
    to_master && first == Some(b"reload") && words.next().is_none()
}

/// A command that announces a payload: its last word is `<<`.
pub fn is_payload_command(command: &[u8]) -> bool {
    words(command).last().is_some_and(|w| w == b"<<")
}

/// PATTERN when the line's last word is `<<PATTERN`.
pub fn payload_pattern(line: &[u8]) -> Option<&[u8]> {
    words(line)
        .last()
        .and_then(|w| w.strip_prefix(b"<<"))
        .filter(|pattern| !pattern.is_empty())
}

/// Whether a command of the line (each `;` part goes out as a line of its own) ends in
/// `<<PATTERN`: HAProxy 3.0+ then takes the lines up to one equal to PATTERN as its payload
/// (older versions take it as an ordinary argument). Never sent: no recording shows how 3.x
/// frames such a payload in prompt mode, and on a 2.6 server the payload lines would run as
/// commands.
pub fn has_payload_pattern(line: &[u8]) -> bool {
    parts(line).any(|part| payload_pattern(part).is_some())
}

/// One command line as it goes on the wire, and when it ends in `<<`, the `payload` lines and
/// the empty line that ends them (`payload` is ignored otherwise). HAProxy answers each line
/// it reads in payload mode with a `+ ` prompt before the reply.
pub fn request(command: &[u8], payload: &[Command]) -> Request {
    let mut bytes = command.to_vec();
    bytes.push(b'\n');
    let mut interim = 0;
    if is_payload_command(command) {
        for line in payload {
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
        }
        bytes.push(b'\n');
        interim = 1 + payload.len();
    }
    Request::new(bytes, interim)
}

/// Commands that change the connection instead of HAProxy: on a connection of their own they
/// change nothing, on a shared one they change how every later command answers.
pub const CONNECTION_COMMANDS: &[&str] = &[
    "prompt",
    "quit",
    "operator",
    "user",
    "expert-mode",
    "experimental-mode",
    "mcli-debug-mode",
    "set severity-output",
];

/// The command of [`CONNECTION_COMMANDS`] that `part`, one command of a line, starts with,
/// word for word (after an `@master` prefix).
pub fn connection_command(part: &[u8]) -> Option<&'static str> {
    let mut words = words(part).peekable();
    if words.peek() == Some(&&b"@master"[..]) {
        words.next();
    }
    CONNECTION_COMMANDS.iter().copied().find(|command| {
        let mut mine = words.clone();
        command
            .split(' ')
            .all(|wanted| mine.next() == Some(wanted.as_bytes()))
    })
}

/// What a caller accepts in a command line; everything else is refused by [`check`].
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// A `;` that runs several commands.
    pub chaining: bool,
    /// A command starting with `@` (a routing prefix).
    pub routing: bool,
    /// A command ending in `<<`, whose payload lines the caller will send with it.
    pub payload: bool,
    /// The [`CONNECTION_COMMANDS`] refused.
    pub refused: &'static [&'static str],
    /// Only non-empty UTF-8 text (a command given as an argument or in a file; what a person
    /// types into a session goes as it is).
    pub text: bool,
}

impl Rules {
    /// `haproxy exec` COMMAND arguments: each on a connection of its own, routed by the caller,
    /// with no payload to give.
    pub fn argument(chaining: bool) -> Rules {
        Rules {
            chaining,
            routing: false,
            payload: false,
            refused: &["set severity-output"],
            text: true,
        }
    }

    /// A batch: many commands on one connection, routed by the caller, each answering as on a
    /// connection of its own.
    pub fn batch(chaining: bool) -> Rules {
        Rules {
            chaining,
            routing: false,
            payload: true,
            refused: CONNECTION_COMMANDS,
            text: true,
        }
    }

    /// A prompt-mode session: what a person types into the shell.
    pub fn session() -> Rules {
        Rules {
            chaining: true,
            routing: true,
            payload: true,
            refused: &["prompt", "quit"],
            text: false,
        }
    }
}

/// Why [`check`] refused a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A NUL byte, a newline or a carriage return inside the line.
    Byte(CommandError),
    NotUtf8,
    Empty,
    /// A `;` without [`Rules::chaining`].
    Chain,
    /// A routing prefix without [`Rules::routing`].
    Routed,
    /// A command of [`Rules::refused`].
    Connection(&'static str),
    /// A command ending in `<<` where no payload can follow.
    Payload,
    /// A payload ended by a pattern of its own (`<<EOF`) rather than an empty line.
    PayloadPattern,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Byte(e) => e.fmt(f),
            Refusal::NotUtf8 => f.write_str("not valid UTF-8"),
            Refusal::Empty => f.write_str("empty command"),
            Refusal::Chain => f.write_str(
                "holds ';', which HAProxy takes as the end of a command: what follows would run \
                 as another command; give each command on its own, escape the ';' as '\\;' if \
                 it belongs to a value, or pass --allow-chaining",
            ),
            Refusal::Routed => f.write_str(
                "starts with '@': choose the process for every command with --worker or \
                 --master instead, so that results are labelled with it",
            ),
            Refusal::Connection("prompt") => f.write_str(
                "'prompt' is refused: the session keeps prompt mode on to find where each \
                 reply ends",
            ),
            Refusal::Connection("quit") => {
                f.write_str("'quit' is refused: close the session instead")
            }
            Refusal::Connection("set severity-output") => f.write_str(
                "holds 'set severity-output', which would change how HAProxy marks its errors \
                 and so hide failures: it is refused (sockctl sets it itself where it is \
                 needed)",
            ),
            Refusal::Connection(word) => write!(
                f,
                "'{word}' is refused here: it changes the connection, so every command after \
                 it would answer differently than on a connection of its own"
            ),
            Refusal::Payload => f.write_str(
                "ends with '<<': HAProxy would take the lines after it as its payload, and a \
                 command argument has none (an empty payload is not what was meant); put the \
                 command and its payload lines in a file for --batch FILE, ended by an empty \
                 line",
            ),
            Refusal::PayloadPattern => f.write_str(
                "a payload pattern ('<<PATTERN', HAProxy 3.0+) is not supported: end the line \
                 with ' <<' and the payload with an empty line",
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// Checks one command line against `rules`.
pub fn check(line: &[u8], rules: &Rules) -> Result<(), Refusal> {
    Command::check(line).map_err(Refusal::Byte)?;
    if rules.text {
        let text = std::str::from_utf8(line).map_err(|_| Refusal::NotUtf8)?;
        if text.trim().is_empty() {
            return Err(Refusal::Empty);
        }
    }
    // Where no payload can follow, any payload is refused alike.
    if !rules.payload && (is_payload_command(line) || has_payload_pattern(line)) {
        return Err(Refusal::Payload);
    }
    if has_payload_pattern(line) {
        return Err(Refusal::PayloadPattern);
    }
    if !rules.chaining && is_chain(line) {
        return Err(Refusal::Chain);
    }
    for part in parts(line) {
        if !rules.routing && words(part).next().is_some_and(|w| w.starts_with(b"@")) {
            return Err(Refusal::Routed);
        }
        if let Some(word) = connection_command(part)
            && rules.refused.contains(&word)
        {
            return Err(Refusal::Connection(word));
        }
    }
    Ok(())
}

/// A proxy or server name given by the user that would change the command it goes into: empty,
/// or holding a space, a control character, a `;` or a backslash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadName(pub String);

impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid name {:?}: it must be one word without ';' or '\\'",
            self.0
        )
    }
}

impl std::error::Error for BadName {}

/// `name` if it can go into a command as one argument.
pub fn check_name(name: &str) -> Result<&str, BadName> {
    let bad = name.is_empty()
        || name
            .chars()
            .any(|c| c == ';' || c == '\\' || c.is_whitespace() || c.is_control());
    if bad {
        Err(BadName(name.to_string()))
    } else {
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_like_haproxy() {
        assert_eq!(split(b"a;b c"), [&b"a"[..], b"b c"]);
        assert_eq!(split(br"a\;b;c\\;d"), [&br"a\;b"[..], br"c\\", b"d"]);
        assert_eq!(split(b"a;"), [&b"a"[..], b""]);
        assert_eq!(split(b""), [b""]);
        assert_eq!(split(b"a\\"), [b"a\\"]);
        assert_eq!(commands("a; b ;c"), ["a", "b", "c"]);
        assert_eq!(commands("set map m k a\\;b"), ["set map m k a\\;b"]);
        assert_eq!(commands("a\\\\; b"), ["a\\\\", "b"]);
        assert_eq!(commands(" ;; a ;"), ["a"]);
        assert!(is_chain(b"a; b") && is_chain(b"a;"));
        assert!(!is_chain(b"a\\; b") && !is_chain(b"show info"));
    }

    #[test]
    fn payload_and_reload_commands() {
        assert!(is_payload_command(b"add map #0 <<"));
        assert!(is_payload_command(b"@1 add map #0 <<  "));
        assert!(!is_payload_command(b"add map #0 <<EOF"));
        assert!(has_payload_pattern(b"set ssl cert a.pem <<%EOF%"));
        assert!(!has_payload_pattern(b"add map #0 <<") && !has_payload_pattern(b"a <<b c"));
        // Each `;` part goes out as a line of its own.
        assert!(has_payload_pattern(b"get weight be/s1 <<EOF; show version"));
        assert_eq!(payload_pattern(b"x <<%EOF%  "), Some(&b"%EOF%"[..]));
        assert!(!is_payload_command(b"show map"));
        let (master, worker) = (Target::Master, Target::Worker(7));
        assert!(is_reload(b"reload", &master) && is_reload(b" @master reload ", &worker));
        assert!(!is_reload(b"reload", &worker) && !is_reload(b"@1 reload", &master));
        assert!(!is_reload(b"reload now", &master));
        assert_eq!(first_word(b"@master prompt"), b"prompt");
        assert_eq!(first_word(b"  quit"), b"quit");
    }

    #[test]
    fn requests_carry_their_payload() {
        let lines = [Command::new("k v").unwrap()];
        let plain = request(b"show info", &lines);
        assert_eq!(
            (plain.as_bytes(), plain.interim()),
            (&b"show info\n"[..], 0)
        );
        let payload = request(b"add map #0 <<", &lines);
        assert_eq!(payload.as_bytes(), b"add map #0 <<\nk v\n\n");
        assert_eq!(payload.interim(), 2);
    }

    #[test]
    fn one_check_for_every_caller() {
        let exec = Rules::argument(false);
        assert_eq!(check(b"show info", &exec), Ok(()));
        assert_eq!(check(b"  ", &exec), Err(Refusal::Empty));
        assert_eq!(check(b"a; b", &exec), Err(Refusal::Chain));
        assert_eq!(check(b"a; b", &Rules::argument(true)), Ok(()));
        assert_eq!(check(b"@1 show info", &exec), Err(Refusal::Routed));
        assert_eq!(check(b"add map #0 <<", &exec), Err(Refusal::Payload));
        assert_eq!(check(b"x <<EOF", &exec), Err(Refusal::Payload));
        assert_eq!(
            check(b"x <<EOF", &Rules::batch(false)),
            Err(Refusal::PayloadPattern)
        );
        assert_eq!(
            check(
                b"show version;set   severity-output number",
                &Rules::argument(true)
            ),
            Err(Refusal::Connection("set severity-output"))
        );
        assert_eq!(check(b"operator", &exec), Ok(()));
        assert_eq!(
            check(b"operator", &Rules::batch(false)),
            Err(Refusal::Connection("operator"))
        );
        assert!(matches!(check(b"a\0", &exec), Err(Refusal::Byte(_))));
        assert_eq!(check(b"\xff", &exec), Err(Refusal::NotUtf8));
        let session = Rules::session();
        assert_eq!(check(b"@1 show info; operator", &session), Ok(()));
        assert_eq!(check(b"", &session), Ok(()));
        assert_eq!(
            check(b"@master prompt", &session),
            Err(Refusal::Connection("prompt"))
        );
        assert_eq!(check(b" quit", &session), Err(Refusal::Connection("quit")));
    }

    #[test]
    fn names_are_one_plain_word() {
        assert_eq!(check_name("be_app"), Ok("be_app"));
        for bad in ["", "a b", "a;b", "a\\b", "a\x1bb"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn splitting_never_panics(command in "[a-z;\\\\ é]{0,40}") {
            // The parts are the line, cut at its separators only.
            let parts = split(command.as_bytes());
            prop_assert_eq!(parts.join(&b';'), command.as_bytes());
            prop_assert_eq!(is_chain(command.as_bytes()), parts.len() > 1);
        }
    }
}
