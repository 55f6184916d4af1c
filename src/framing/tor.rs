//! tor's control port: `NNN-` lines go on, `NNN+` starts a data block that ends at a line
//! holding only `.`, and `NNN ` (code, space) is the reply's last line. Code 650 lines are
//! asynchronous events, outside any reply.

use super::lines::{LineRule, Step, text};

#[derive(Debug, Clone, Copy, Default)]
pub struct Tor {
    /// Inside a `NNN+` data block.
    data: bool,
    /// The block belongs to a 650 event.
    event: bool,
}

impl LineRule for Tor {
    fn line(&mut self, line: &[u8]) -> Step {
        let line = text(line);
        if self.data {
            if line == b"." {
                self.data = false;
            }
            return if self.event { Step::Aside } else { Step::More };
        }
        let event = line.starts_with(b"650");
        let step = match line.get(3) {
            Some(b'+') => {
                self.data = true;
                self.event = event;
                Step::More
            }
            Some(b'-') => Step::More,
            _ => Step::End,
        };
        if event { Step::Aside } else { step }
    }

    fn reset(&mut self) {
        *self = Tor::default();
    }
}

/// 4xx and 5xx replies are failures (`514 Authentication required.`, `552 Unrecognized key`).
pub fn failed(reply: &[u8]) -> Option<String> {
    let last = reply
        .split(|&b| b == b'\n')
        .map(text)
        .rfind(|l| !l.is_empty())?;
    matches!(last.first(), Some(b'4' | b'5')).then(|| String::from_utf8_lossy(last).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::{Framer, Lines};

    #[test]
    fn data_blocks_and_events() {
        let mut framer = Lines::new(Tor::default());
        framer.push(b"650 CIRC 1 BUILT\r\n250+config-text=\r\nA 1\r\n250 x\r\n.\r\n250 OK\r\n");
        let reply = framer.next_reply().unwrap();
        assert_eq!(
            reply.body,
            b"250+config-text=\r\nA 1\r\n250 x\r\n.\r\n250 OK\r\n"
        );
        assert_eq!(reply.aside, b"650 CIRC 1 BUILT\r\n");
        framer.push(b"514 Authentication required.\r\n");
        let reply = framer.next_reply().unwrap();
        assert_eq!(
            failed(&reply.body).as_deref(),
            Some("514 Authentication required.")
        );
    }
}
