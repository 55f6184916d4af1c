//! Line protocols: a reply is whole lines, and a rule of the protocol says which line ends it.
//!
//! [`Lines`] keeps the bytes, cuts them into lines (`\n`, with or without `\r`), and asks its
//! [`LineRule`] about each line of the current reply in order. The rule says whether the reply
//! goes on, ends with this line, or whether the line is a notification outside any reply
//! (OpenVPN's `>INFO:`, tor's `650` events), which is set aside.

use regex_lite::Regex;

use super::Framer;

/// What a line means for the reply it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// More lines follow.
    More,
    /// This line is the reply's last.
    End,
    /// Not part of any reply: an event the server sent on its own.
    Aside,
}

/// The rule of one protocol. `line` is given with its line ending (see [`text`]).
pub trait LineRule {
    fn line(&mut self, line: &[u8]) -> Step;

    /// The reply ended; the next line starts a new one.
    fn reset(&mut self) {}
}

/// A complete reply of a line protocol.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineReply {
    /// The reply's lines with their line endings, notifications left out.
    pub body: Vec<u8>,
    /// Lines set aside while this reply came (notifications), with their endings.
    pub aside: Vec<u8>,
}

/// A framer for any line protocol, given its rule.
#[derive(Debug)]
pub struct Lines<R> {
    rule: R,
    buf: Vec<u8>,
    /// Bytes of `buf` before this offset were judged (copied to `body` or `aside`). They are
    /// dropped at the next push, not line by line, so a reply of many lines costs its size once.
    judged: usize,
    /// Lines set aside since the last reply.
    aside: Vec<u8>,
    /// Lines of the current reply already put in `body`, kept out of `buf`.
    body: Vec<u8>,
    /// Interim replies to drop before the next one (a greeting).
    interim: usize,
}

impl<R: LineRule> Lines<R> {
    pub fn rule(&self) -> &R {
        &self.rule
    }

    pub fn new(rule: R) -> Self {
        Lines {
            rule,
            buf: Vec::new(),
            judged: 0,
            aside: Vec::new(),
            body: Vec::new(),
            interim: 0,
        }
    }
}

impl<R: LineRule> Framer for Lines<R> {
    type Reply = LineReply;

    fn push(&mut self, chunk: &[u8]) {
        self.buf.drain(..self.judged);
        self.judged = 0;
        self.buf.extend_from_slice(chunk);
    }

    fn next_reply(&mut self) -> Option<LineReply> {
        loop {
            let rest = &self.buf[self.judged..];
            let end = rest.iter().position(|&b| b == b'\n')? + 1;
            let step = self.rule.line(&rest[..end]);
            let whole = self.judged + end;
            match step {
                Step::Aside => self.aside.extend_from_slice(&self.buf[self.judged..whole]),
                Step::More | Step::End => {
                    self.body.extend_from_slice(&self.buf[self.judged..whole]);
                }
            }
            self.judged = whole;
            if step == Step::End {
                self.rule.reset();
                let reply = LineReply {
                    body: std::mem::take(&mut self.body),
                    aside: std::mem::take(&mut self.aside),
                };
                if self.interim > 0 {
                    self.interim -= 1;
                    continue;
                }
                return Some(reply);
            }
        }
    }

    fn pending_len(&self) -> usize {
        self.body.len() + self.buf.len() - self.judged
    }

    fn take_pending(&mut self) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut self.body);
        bytes.extend_from_slice(&self.buf[self.judged..]);
        self.clear();
        bytes
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.body.clear();
        self.aside.clear();
        self.judged = 0;
        self.interim = 0;
        self.rule.reset();
    }

    fn expect_interim(&mut self, count: usize) {
        self.interim = count;
    }
}

/// A line without its ending (`\n` or `\r\n`).
pub fn text(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A reply ends at the first line the pattern matches (`--ends-with`).
#[derive(Debug, Clone)]
pub struct Pattern(pub Regex);

impl LineRule for Pattern {
    fn line(&mut self, line: &[u8]) -> Step {
        if self.0.is_match(&String::from_utf8_lossy(text(line))) {
            Step::End
        } else {
            Step::More
        }
    }
}

/// Every line is a reply of its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct OneLine;

impl LineRule for OneLine {
    fn line(&mut self, _: &[u8]) -> Step {
        Step::End
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_ends_the_reply_and_notifications_stay_out() {
        struct Rule;
        impl LineRule for Rule {
            fn line(&mut self, line: &[u8]) -> Step {
                match text(line) {
                    b"END" => Step::End,
                    l if l.starts_with(b">") => Step::Aside,
                    _ => Step::More,
                }
            }
        }
        let mut framer = Lines::new(Rule);
        framer.push(b"a\r\n>LOG:x\nb\nEN");
        assert_eq!(framer.next_reply(), None);
        framer.push(b"D\nc\n");
        let reply = framer.next_reply().unwrap();
        assert_eq!(reply.body, b"a\r\nb\nEND\n");
        assert_eq!(reply.aside, b">LOG:x\n");
        assert_eq!(framer.take_pending(), b"c\n");
    }

    #[test]
    fn interim_replies_are_dropped() {
        let mut framer = Lines::new(OneLine);
        framer.expect_interim(1);
        framer.push(b"hello\nreply\n");
        assert_eq!(framer.next_reply().unwrap().body, b"reply\n");
    }
}
