//! Turning the text of a batch into its commands: a pure function, refusing as a whole
//! whatever would not run as written.

use std::fmt;

use crate::command::Command;
use crate::haproxy::command::{self, Refusal};

/// One command of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where the command is in the input, counting from 1.
    pub line: usize,
    pub command: String,
    /// The lines after a command ending in ` <<`, up to the empty line that ends them.
    pub payload: Vec<Command>,
}

/// What [`split`] accepts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules {
    /// Let a line hold `;` to run several commands.
    pub allow_chaining: bool,
}

impl Rules {
    fn checks(self) -> command::Rules {
        command::Rules::batch(self.allow_chaining)
    }
}

/// A line [`split`] refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    pub line: usize,
    pub why: Refusal,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.why)
    }
}

impl std::error::Error for SplitError {}

/// Turns the text of a batch into its commands. Lines end with `\n` or `\r\n`; blank lines
/// and lines whose first non-blank character is `#` are skipped; a command ending in ` <<`
/// takes the lines after it, up to an empty line (or the end), as its payload. Every line is
/// checked, so a batch is refused as a whole before anything is sent.
pub fn split(input: &[u8], rules: Rules) -> Result<Vec<Entry>, SplitError> {
    let mut lines = input
        .split_inclusive(|&b| b == b'\n')
        .enumerate()
        .map(|(i, raw)| {
            let line = raw.strip_suffix(b"\n").unwrap_or(raw);
            (i + 1, line.strip_suffix(b"\r").unwrap_or(line))
        });
    let mut entries = Vec::new();
    while let Some((number, line)) = lines.next() {
        match line.iter().find(|b| !b.is_ascii_whitespace()) {
            None | Some(b'#') => continue,
            Some(_) => {}
        }
        let refuse = |why| SplitError { line: number, why };
        command::check(line, &rules.checks()).map_err(refuse)?;
        let command = String::from_utf8(line.to_vec()).expect("checked");
        let mut payload = Vec::new();
        if command::is_payload_command(line) {
            for (number, line) in lines.by_ref() {
                if line.is_empty() {
                    break;
                }
                let text = checked(line).map_err(|why| SplitError { line: number, why })?;
                payload.push(Command::new(text).expect("checked"));
            }
        }
        entries.push(Entry {
            line: number,
            command,
            payload,
        });
    }
    Ok(entries)
}

/// A payload line as text that can be sent as one line.
fn checked(line: &[u8]) -> Result<String, Refusal> {
    Command::new(line).map_err(Refusal::Byte)?;
    String::from_utf8(line.to_vec()).map_err(|_| Refusal::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &str, rules: Rules) -> Vec<(usize, String, usize)> {
        split(input.as_bytes(), rules)
            .unwrap()
            .into_iter()
            .map(|e| (e.line, e.command, e.payload.len()))
            .collect()
    }

    fn refused(input: &[u8]) -> SplitError {
        split(input, Rules::default()).unwrap_err()
    }

    #[test]
    fn lines_comments_and_blank_lines() {
        let input = "# weights\nset weight be/s1 10\r\n\n   \n  # indented\nshow info";
        assert_eq!(
            texts(input, Rules::default()),
            [
                (2, "set weight be/s1 10".to_string(), 0),
                (6, "show info".to_string(), 0)
            ]
        );
        assert!(texts("", Rules::default()).is_empty());
        assert!(texts("\n\r\n#\n", Rules::default()).is_empty());
    }

    #[test]
    fn payloads_run_to_an_empty_line() {
        let input = "add map #0 <<\nk1 v1\n# not a comment\n\nshow map #0\nadd acl #1 <<\nx";
        let entries = split(input.as_bytes(), Rules::default()).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].payload.len(), 2);
        assert_eq!(entries[0].payload[1].as_bytes(), b"# not a comment");
        assert_eq!((entries[1].line, entries[1].payload.len()), (5, 0));
        assert_eq!(entries[2].payload[0].as_bytes(), b"x");
    }

    #[test]
    fn refusals_name_the_line() {
        assert_eq!(refused(b"show info\na; b\n").line, 2);
        assert_eq!(refused(b"a; b").why, Refusal::Chain);
        assert!(
            split(
                b"a; b",
                Rules {
                    allow_chaining: true
                }
            )
            .is_ok()
        );
        assert!(split(b"set map m k a\\;b", Rules::default()).is_ok());
        assert_eq!(refused(b"x\n\n@1 show info").why, Refusal::Routed);
        assert_eq!(
            refused(b"show info\n\xff").why,
            Refusal::NotUtf8,
            "invalid UTF-8"
        );
        assert_eq!(
            refused(b"show info\nset ssl cert a.pem <<%EOF%\n\n%EOF%\n").why,
            Refusal::PayloadPattern
        );
        assert!(matches!(refused(b"a\rb").why, Refusal::Byte(_)));
        assert!(matches!(refused(b"a\0b").why, Refusal::Byte(_)));
        assert!(matches!(
            refused(b"add map #0 <<\nk\0v\n").why,
            Refusal::Byte(_)
        ));
        for (line, word) in [
            ("prompt", "prompt"),
            ("  quit ", "quit"),
            ("expert-mode on", "expert-mode"),
            ("set severity-output none", "set severity-output"),
        ] {
            assert_eq!(
                refused(line.as_bytes()).why,
                Refusal::Connection(word),
                "{line}"
            );
        }
        let chained = split(
            b"show info; prompt",
            Rules {
                allow_chaining: true,
            },
        );
        assert_eq!(chained.unwrap_err().why, Refusal::Connection("prompt"));
        // Only whole words.
        assert!(
            split(
                b"set severity-outputs\nprompter\nshow users",
                Rules::default()
            )
            .is_ok()
        );
        let text = refused(b"\n\nshow info; show stat").to_string();
        assert!(text.starts_with("line 3: holds ';'"), "{text}");
    }

    proptest::proptest! {
        /// Whatever the bytes, splitting never panics, and every command it gives is one line
        /// of the input, numbered where it is.
        #[test]
        fn split_never_panics_and_numbers_lines(
            input in proptest::collection::vec(
                proptest::sample::select(b"ab ;#@<\\\r\n\x00\xc3\xa9".to_vec()), 0..200),
            allow_chaining in proptest::bool::ANY,
        ) {
            let rules = Rules { allow_chaining };
            if let Ok(entries) = split(&input, rules) {
                let lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
                for entry in entries {
                    let line = lines[entry.line - 1];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    proptest::prop_assert_eq!(entry.command.as_bytes(), line);
                }
            }
        }
    }
}
