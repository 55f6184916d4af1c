//! One command line: the generic unit every protocol sends.

use std::fmt;

/// A command line that is safe to send: no byte in it can start a second command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command(Vec<u8>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    pub byte: u8,
    pub offset: usize,
}

impl Command {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, CommandError> {
        let bytes = bytes.into();
        Command::check(&bytes)?;
        Ok(Command(bytes))
    }

    /// Whether `bytes` can be a command, without making one.
    pub fn check(bytes: &[u8]) -> Result<(), CommandError> {
        match bytes.iter().position(|b| matches!(b, b'\n' | b'\r' | 0)) {
            Some(offset) => Err(CommandError {
                byte: bytes[offset],
                offset,
            }),
            None => Ok(()),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes that go on the wire: the command and its newline.
    pub fn line(&self) -> Vec<u8> {
        let mut line = Vec::with_capacity(self.0.len() + 1);
        line.extend_from_slice(&self.0);
        line.push(b'\n');
        line
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.byte {
            b'\n' => "a newline",
            b'\r' => "a carriage return",
            _ => "a NUL byte",
        };
        write!(
            f,
            "command refused: it contains {name} at byte {}, which would let it run as more \
             than one command; give each command as its own argument or line",
            self.offset
        )
    }
}

impl std::error::Error for CommandError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_cannot_smuggle_a_second_command() {
        assert_eq!(Command::new("show info").unwrap().line(), b"show info\n");
        assert_eq!(Command::new("").unwrap().line(), b"\n");
        for (bad, byte, offset) in [
            ("show info\nshutdown", b'\n', 9),
            ("a\rb", b'\r', 1),
            ("a\0", 0, 1),
        ] {
            assert_eq!(Command::new(bad), Err(CommandError { byte, offset }));
        }
        let msg = Command::new("x\ny").unwrap_err().to_string();
        assert!(msg.contains("newline at byte 1"), "{msg}");
    }
}
