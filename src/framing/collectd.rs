//! collectd's unixsock plugin: the first line is `N message`; N lines follow when N > 0, none
//! when N is 0; N < 0 is an error.

use super::lines::{LineRule, Step, text};

#[derive(Debug, Clone, Copy, Default)]
pub struct Collectd {
    /// Lines still to come (`None` before the status line).
    left: Option<usize>,
}

impl LineRule for Collectd {
    fn line(&mut self, line: &[u8]) -> Step {
        match self.left {
            None => {
                let count = status(text(line)).unwrap_or(0);
                let left = usize::try_from(count).unwrap_or(0);
                self.left = Some(left);
                if left == 0 { Step::End } else { Step::More }
            }
            Some(left) => {
                self.left = Some(left - 1);
                if left <= 1 { Step::End } else { Step::More }
            }
        }
    }

    fn reset(&mut self) {
        self.left = None;
    }
}

fn status(line: &[u8]) -> Option<i64> {
    let word = line.split(|&b| b == b' ').next()?;
    std::str::from_utf8(word).ok()?.parse().ok()
}

/// A negative status is a failure (`-1 Unknown command: FOO`).
pub fn failed(reply: &[u8]) -> Option<String> {
    let first = text(reply.split_inclusive(|&b| b == b'\n').next()?);
    (status(first)? < 0).then(|| String::from_utf8_lossy(first).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::{Framer, Lines};

    #[test]
    fn the_status_counts_the_lines() {
        let mut framer = Lines::new(Collectd::default());
        framer.push(b"2 Values found\na\nb\n0 Success\n-1 Unknown command: X\n");
        assert_eq!(framer.next_reply().unwrap().body, b"2 Values found\na\nb\n");
        assert_eq!(framer.next_reply().unwrap().body, b"0 Success\n");
        let reply = framer.next_reply().unwrap();
        assert_eq!(
            failed(&reply.body).as_deref(),
            Some("-1 Unknown command: X")
        );
    }
}
