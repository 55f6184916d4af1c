//! OpenVPN's management interface: a reply is one `SUCCESS:`/`ERROR:` line, or lines up to
//! `END`. Lines starting with `>` are real-time notices (`>INFO:`, `>LOG:`, `>HOLD:`), outside
//! any reply.

use super::lines::{LineRule, Step, text};

#[derive(Debug, Clone, Copy, Default)]
pub struct OpenVpn {
    seen: usize,
}

impl LineRule for OpenVpn {
    fn line(&mut self, line: &[u8]) -> Step {
        let line = text(line);
        if line.starts_with(b">") {
            return Step::Aside;
        }
        let first = self.seen == 0;
        self.seen += 1;
        let one_line = line.starts_with(b"SUCCESS:") || line.starts_with(b"ERROR:");
        if line == b"END" || (first && one_line) {
            Step::End
        } else {
            Step::More
        }
    }

    fn reset(&mut self) {
        self.seen = 0;
    }
}

/// An `ERROR:` line is a failure.
pub fn failed(reply: &[u8]) -> Option<String> {
    let first = text(reply.split_inclusive(|&b| b == b'\n').next()?);
    first
        .starts_with(b"ERROR:")
        .then(|| String::from_utf8_lossy(first).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::{Framer, Lines};

    #[test]
    fn notices_stay_out_of_replies() {
        let mut framer = Lines::new(OpenVpn::default());
        framer.push(
            b">INFO:OpenVPN Management Interface\r\nOpenVPN Version: 2.6\r\n>LOG:x\r\nEND\r\n",
        );
        let reply = framer.next_reply().unwrap();
        assert_eq!(reply.body, b"OpenVPN Version: 2.6\r\nEND\r\n");
        framer.push(b"ERROR: unknown command, enter 'help' for more options\r\n");
        let reply = framer.next_reply().unwrap();
        assert!(
            failed(&reply.body)
                .unwrap()
                .starts_with("ERROR: unknown command")
        );
    }
}
