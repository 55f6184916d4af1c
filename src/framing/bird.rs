//! BIRD's control socket (`birdc`): numbered reply lines.
//!
//! Each line starts with a four-digit code and `-` when more lines of the reply follow, or with
//! a space when it continues the previous code; the reply's last line is the code and a space
//! (`0000 ` alone ends a listing). Lines starting with `+` are BIRD's own notices, outside any
//! reply. The greeting (`0001 BIRD 2.0.12 ready.`) is a reply of its own, read first.

use super::lines::{LineRule, Step, text};

#[derive(Debug, Clone, Copy, Default)]
pub struct Bird;

impl LineRule for Bird {
    fn line(&mut self, line: &[u8]) -> Step {
        let line = text(line);
        match line {
            [b'+', ..] => Step::Aside,
            [a, b, c, d, b' ', ..] | [a, b, c, d]
                if [a, b, c, d].iter().all(|x| x.is_ascii_digit()) =>
            {
                Step::End
            }
            _ => Step::More,
        }
    }
}

/// BIRD's code of a reply line: 8xxx and 9xxx are errors (`8001 Command too long`, `9001 Parse
/// error`).
pub fn failed(reply: &[u8]) -> Option<String> {
    reply.split(|&b| b == b'\n').map(text).find_map(|line| {
        let code = line.get(..4)?;
        (code.iter().all(u8::is_ascii_digit) && matches!(code[0], b'8' | b'9'))
            .then(|| String::from_utf8_lossy(line.get(5..).unwrap_or_default()).into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::{Framer, Lines};

    #[test]
    fn codes_end_replies() {
        let mut framer = Lines::new(Bird);
        framer.expect_interim(1);
        framer.push(b"0001 BIRD 2.0.12 ready.\n1000-BIRD 2.0.12\n1011-Router ID is 1.1.1.1\n");
        assert_eq!(framer.next_reply(), None);
        framer.push(b" Current server time is x\n0013 Daemon is up and running\n");
        let reply = framer.next_reply().unwrap();
        assert!(reply.body.starts_with(b"1000-BIRD") && reply.body.ends_with(b"running\n"));
        framer.push(b"9001 syntax error, unexpected END\n");
        let reply = framer.next_reply().unwrap();
        assert_eq!(
            failed(&reply.body).as_deref(),
            Some("syntax error, unexpected END")
        );
        assert_eq!(failed(b"0013 Daemon is up and running\n"), None);
    }
}
