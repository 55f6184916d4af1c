//! Judging a reply as it arrives, so that a large one is never held whole.
//!
//! A [`Judge`] holds the reply up to its `hold` size and then reads it exactly as
//! [`read_for`](super::read_for) does. Past that size it passes the output on as it comes and
//! judges each block by what is known while it passes: the tag and first line, which is where
//! every HAProxy error message starts, and a JSON dump's `errorStr`. One thing differs from
//! [`read_for`](super::read_for), and only for replies larger than `hold`: an error that HAProxy
//! appends to the end of a block ([`APPENDED_ERRORS`](super::APPENDED_ERRORS)) is found when
//! the block ends, after its text was passed on. The verdict is the same; the text is not
//! taken back.

use std::io;

use super::{
    Failure, Outcome, OutcomeError, Tags, fits, is_wait_with_arguments, json_error,
    messages::APPENDED_ERRORS, read_knowing, split_tag,
};

/// A line or a failed block's message is kept up to this size to be judged; past it the rest
/// is judged by its start.
const LINE_MAX: usize = 64 * 1024;

const JSON_KEY: &[u8] = b"{\"errorStr\":\"";

/// Reads one reply pushed in chunks.
pub struct Judge {
    /// What the verdict needs of the command (see [`read_for`](super::read_for)).
    wait: bool,
    tags: Tags,
    hold: usize,
    held: Vec<u8>,
    /// Past `hold`: the reply is passed on as it comes.
    flowing: Option<Flowing>,
    /// A tagged reply did not start as `set severity-output` answers.
    refused: Option<OutcomeError>,
}

impl Judge {
    /// The hold size sockctl's commands use: a reply this small is judged whole, exactly as
    /// [`read_for`](super::read_for) does; a larger one as it passes.
    pub const HOLD: usize = 1 << 20;

    /// A judge for the reply of `command`, sent as `tags` says, holding up to `hold` bytes.
    pub fn new(command: &str, tags: Tags, hold: usize) -> Judge {
        Judge {
            wait: is_wait_with_arguments(command),
            tags,
            hold,
            held: Vec::new(),
            flowing: None,
            refused: None,
        }
    }

    /// Takes the next bytes of the reply; output that can be given now goes to `out`.
    pub fn push(
        &mut self,
        bytes: &[u8],
        out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        if self.refused.is_some() {
            return Ok(());
        }
        if let Some(flowing) = &mut self.flowing {
            return flowing.push(bytes, out);
        }
        self.held.extend_from_slice(bytes);
        if self.held.len() <= self.hold {
            return Ok(());
        }
        let held = std::mem::take(&mut self.held);
        let body = match self.tags {
            Tags::Tagged => match held.strip_prefix(b"\n") {
                Some(body) => body,
                None => {
                    // Judged as a whole: the error names what came instead.
                    self.refused = read_knowing(self.wait, &held, self.tags).err();
                    return Ok(());
                }
            },
            Tags::Plain | Tags::TaggedSession => &held[..],
        };
        let mut flowing = Flowing::new(self.tags);
        let result = flowing.push(body, out);
        self.flowing = Some(flowing);
        result
    }

    /// Whether output went out through `push` (the reply was larger than `hold`).
    pub fn is_flowing(&self) -> bool {
        self.flowing.is_some()
    }

    /// The verdict once the reply is complete. When the output was passed on, the outcome's
    /// `output` is empty and `streamed` counts it.
    pub fn finish(
        self,
        out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> Result<io::Result<Outcome>, OutcomeError> {
        if let Some(refused) = self.refused {
            return Err(refused);
        }
        match self.flowing {
            None => read_knowing(self.wait, &self.held, self.tags).map(Ok),
            Some(flowing) => Ok(flowing.finish(out)),
        }
    }
}

/// Where a block stands.
enum Block {
    /// Its first line is coming: the line decides.
    Start,
    /// Passed on; `last` is its last non-empty line so far (for an appended error).
    Passing { last: Vec<u8>, json: Option<Json> },
    /// A failure: its text is the message.
    Failed {
        severity: Option<u8>,
        message: Vec<u8>,
    },
}

/// Where the first empty line of `bytes` is (its `\n`), `line_start` saying whether the
/// first byte starts a line.
fn empty_line(bytes: &[u8], line_start: bool) -> Option<usize> {
    if line_start && bytes.first() == Some(&b'\n') {
        return Some(0);
    }
    memchr::memmem::find(bytes, b"\n\n").map(|i| i + 1)
}

/// Appends to `line` what fits of `bytes` under [`LINE_MAX`].
fn keep(line: &mut Vec<u8>, bytes: &[u8]) {
    let room = LINE_MAX.saturating_sub(line.len());
    line.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// Looking for `{"errorStr":"…"` in a JSON dump, across chunks.
#[derive(Default)]
struct Json {
    /// The last bytes seen, as many as the key is long.
    tail: Vec<u8>,
    /// Found: the message so far, and whether the key's value is complete.
    message: Option<(Vec<u8>, bool)>,
}

impl Json {
    fn push(&mut self, bytes: &[u8]) {
        if self.message.is_some() {
            return;
        }
        self.tail.extend_from_slice(bytes);
        if let Some(at) = self
            .tail
            .windows(JSON_KEY.len())
            .position(|w| w == JSON_KEY)
        {
            // The text from the key on holds the message: the same reading as a whole reply.
            let text = self.tail[at..].to_vec();
            self.message = Some((text, false));
        }
        let keep = self.tail.len().saturating_sub(JSON_KEY.len() - 1);
        self.tail.drain(..keep);
    }

    fn grow(&mut self, bytes: &[u8]) {
        if let Some((text, false)) = &mut self.message
            && text.len() < LINE_MAX
        {
            text.extend_from_slice(bytes);
        }
    }

    fn failure(&self) -> Option<Failure> {
        let (text, _) = self.message.as_ref()?;
        json_error(text).map(|message| Failure {
            severity: None,
            message,
        })
    }
}

struct Flowing {
    tags: Tags,
    block: Block,
    /// The current line, up to [`LINE_MAX`] bytes.
    line: Vec<u8>,
    /// The next byte starts a line.
    line_start: bool,
    failures: Vec<Failure>,
    streamed: u64,
}

impl Flowing {
    fn new(tags: Tags) -> Flowing {
        Flowing {
            tags,
            block: Block::Start,
            line: Vec::new(),
            line_start: true,
            failures: Vec::new(),
            streamed: 0,
        }
    }

    fn push(
        &mut self,
        mut bytes: &[u8],
        out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        while !bytes.is_empty() {
            if matches!(self.block, Block::Passing { .. }) {
                // The bulk of a large reply: up to the block's end at once, not line by line.
                let taken = self.pass(bytes, out)?;
                bytes = &bytes[taken..];
                continue;
            }
            let piece = match memchr::memchr(b'\n', bytes) {
                Some(i) => &bytes[..=i],
                None => bytes,
            };
            bytes = &bytes[piece.len()..];
            self.take(piece, out)?;
        }
        Ok(())
    }

    /// Passes on the bytes of a passing block, up to and including the empty line that ends
    /// it; how many bytes that took.
    fn pass(
        &mut self,
        bytes: &[u8],
        out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<usize> {
        let Block::Passing { last, json } = &mut self.block else {
            return Ok(0);
        };
        let end = empty_line(bytes, self.line_start);
        let piece = end.map_or(bytes, |i| &bytes[..=i]);
        if let Some(json) = json {
            json.grow(piece);
            json.push(piece);
        }
        if self.tags == Tags::Plain {
            // The lines of the block, without the empty line that ends it.
            let lines = if end.is_some() {
                &piece[..piece.len() - 1]
            } else {
                piece
            };
            match memchr::memrchr(b'\n', lines) {
                None => keep(&mut self.line, lines),
                Some(j) => {
                    let from = memchr::memrchr(b'\n', &lines[..j]);
                    match from {
                        Some(k) => {
                            last.clear();
                            keep(last, &lines[k + 1..=j]);
                        }
                        None => {
                            keep(&mut self.line, &lines[..=j]);
                            *last = std::mem::take(&mut self.line);
                        }
                    }
                    self.line.clear();
                    keep(&mut self.line, &lines[j + 1..]);
                }
            }
        }
        self.line_start = piece.last() == Some(&b'\n');
        self.streamed += piece.len() as u64;
        out(piece)?;
        if end.is_some() {
            self.end_block();
        }
        Ok(piece.len())
    }

    /// One piece of a line: all of it up to its `\n`, or what came of it so far.
    fn take(
        &mut self,
        piece: &[u8],
        out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let ends_line = piece.last() == Some(&b'\n');
        let empty_line = self.line_start && piece == b"\n";
        self.line_start = ends_line;
        let room = LINE_MAX.saturating_sub(self.line.len());
        let kept = &piece[..piece.len().min(room)];
        match &mut self.block {
            Block::Start => {
                self.line.extend_from_slice(kept);
                if ends_line || self.line.len() >= LINE_MAX {
                    let first = std::mem::take(&mut self.line);
                    self.start_block(first, ends_line, out)?;
                    if kept.len() < piece.len() {
                        // The rest of a long first line goes the way the line went.
                        self.take(&piece[kept.len()..], out)?;
                    }
                }
            }
            Block::Failed { message, .. } => {
                if message.len() < LINE_MAX {
                    message.extend_from_slice(piece);
                }
                if empty_line {
                    self.end_block();
                }
            }
            Block::Passing { last, json } => {
                if let Some(json) = json {
                    json.grow(piece);
                    json.push(piece);
                }
                if !empty_line {
                    self.line.extend_from_slice(kept);
                    if ends_line {
                        *last = std::mem::take(&mut self.line);
                    }
                }
                self.streamed += piece.len() as u64;
                out(piece)?;
                if empty_line {
                    self.end_block();
                }
            }
        }
        Ok(())
    }

    /// The first line of a block decides whether it failed.
    fn start_block(
        &mut self,
        first: Vec<u8>,
        ends_line: bool,
        out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        if first == b"\n" {
            // A block of one empty line.
            self.streamed += 1;
            return out(&first);
        }
        let (severity, text) = split_tag(&first);
        if super::failure(severity, text, self.tags).is_some() {
            let message = text.to_vec();
            self.block = Block::Failed { severity, message };
            return Ok(());
        }
        let json = matches!(text.trim_ascii_start().first(), Some(b'{' | b'[')).then(|| {
            let mut json = Json::default();
            json.push(text);
            json
        });
        let last = if ends_line { text.to_vec() } else { Vec::new() };
        self.block = Block::Passing { last, json };
        self.streamed += text.len() as u64;
        out(text)
    }

    fn end_block(&mut self) {
        let block = std::mem::replace(&mut self.block, Block::Start);
        self.line.clear();
        match block {
            Block::Start => {}
            Block::Failed { severity, message } => self.failures.push(Failure {
                severity,
                message: String::from_utf8_lossy(message.trim_ascii_end()).into_owned(),
            }),
            Block::Passing { last, json } => {
                if let Some(failure) = json.as_ref().and_then(Json::failure) {
                    self.failures.push(failure);
                }
                let last = last.trim_ascii_end();
                if self.tags == Tags::Plain
                    && !last.is_empty()
                    && APPENDED_ERRORS.iter().any(|m| fits(m, last))
                {
                    self.failures.push(Failure {
                        severity: None,
                        message: String::from_utf8_lossy(last).into_owned(),
                    });
                }
            }
        }
    }

    fn finish(mut self, out: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<Outcome> {
        if matches!(self.block, Block::Start) && !self.line.is_empty() {
            // A first line without its newline.
            let first = std::mem::take(&mut self.line);
            self.start_block(first, false, out)?;
        }
        if let Block::Passing { last, .. } = &mut self.block
            && !self.line.is_empty()
        {
            *last = std::mem::take(&mut self.line);
        }
        self.end_block();
        Ok(Outcome {
            output: Vec::new(),
            failures: self.failures,
            streamed: self.streamed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::read_for;
    use super::*;
    use proptest::prelude::*;

    /// What a judge holding `hold` bytes makes of `reply` pushed in pieces of `cut` bytes: the
    /// output (passed on and held) and the failures, or the error.
    fn judged(reply: &[u8], tags: Tags, hold: usize, cut: usize) -> Result<Outcome, OutcomeError> {
        let mut judge = Judge::new("show x", tags, hold);
        let mut output = Vec::new();
        let mut out = |b: &[u8]| {
            output.extend_from_slice(b);
            Ok(())
        };
        for piece in reply.chunks(cut.max(1)) {
            judge.push(piece, &mut out).unwrap();
        }
        let flowing = judge.is_flowing();
        let mut outcome = judge.finish(&mut out)?.unwrap();
        assert_eq!(outcome.streamed, output.len() as u64);
        assert!(flowing || outcome.streamed == 0);
        output.extend_from_slice(&outcome.output);
        outcome.output = output;
        outcome.streamed = 0;
        Ok(outcome)
    }

    const BLOCKS: &[&str] = &[
        "[3]: No such server.\n\n",
        "[6]: 2.6.12-1+deb12u4\n\n",
        "\n",
        "Name: HAProxy\nVersion: 2.6.12\n\n",
        "No such server.\n\n",
        "[4]: IP changed from '127.0.0.1' to '127.0.0.2'\n\n",
        "{\"errorStr\":\"output buffer too short\"}\n\n",
        "[{\"a\":1},\n{\"errorStr\":\"x\\\"y\"}]\n\n",
        "[6]: Unknown command, but maybe one of the following ones is a better match:\n  help\n\n",
        "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n",
        "Success=0\n--\n[NOTICE] loading\n\n",
        "# be_app s1\n1 be_app 1 s1 127.0.0.1 2 0 1 1\n",
        "no newline at the end",
    ];

    #[test]
    fn a_large_reply_flows_with_the_same_verdict() {
        let mut reply = b"\nName: HAProxy\n".to_vec();
        for i in 0..2000 {
            reply.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        reply.extend_from_slice(b"\n[3]: No such server.\n\n");
        let outcome = judged(&reply, Tags::Tagged, 100, 333).unwrap();
        let failed = b"[3]: No such server.\n\n".len();
        assert!(outcome.output == reply[1..reply.len() - failed]);
        assert_eq!(outcome.failures.len(), 1);
        assert_eq!(outcome.failures[0].message, "No such server.");
        assert_eq!(outcome.failures[0].severity, Some(3));
        // Not tagged as `set severity-output` answers: refused however large.
        assert!(judged(b"HTTP/1.1 400\r\n\r\nxxxxxxxx", Tags::Tagged, 4, 3).is_err());
    }

    #[test]
    fn an_appended_error_fails_a_flowing_reply_too() {
        let reply = b"Name: x\nCan't commit /etc/ssl/a.pem!\n\n";
        let whole = read_for("commit ssl cert", reply, Tags::Plain).unwrap();
        assert!(!whole.is_ok());
        let flowing = judged(reply, Tags::Plain, 2, 5).unwrap();
        assert_eq!(flowing.failures[0].message, "Can't commit /etc/ssl/a.pem!");
        // Its text went out before the block ended.
        assert_eq!(flowing.output, reply);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Held or flowing, however cut: the same output and failures as a whole reading
        /// (replies without appended errors).
        #[test]
        fn same_as_read_for_any_hold_and_cut(
            picks in proptest::collection::vec(0..BLOCKS.len(), 0..8),
            hold in 0usize..200,
            cut in 1usize..40,
            tag in 0usize..3,
        ) {
            let tags = [Tags::Tagged, Tags::Plain, Tags::TaggedSession][tag];
            let mut reply = if tags == Tags::Tagged { b"\n".to_vec() } else { Vec::new() };
            for &i in &picks {
                reply.extend_from_slice(BLOCKS[i].as_bytes());
            }
            let whole = read_for("show x", &reply, tags);
            prop_assert_eq!(judged(&reply, tags, hold, cut), whole);
        }

        /// Whatever the bytes, a flowing judge passes on exactly the output a held one gives,
        /// minus failed blocks, and never panics.
        #[test]
        fn any_bytes(reply in proptest::collection::vec(any::<u8>(), 0..300), cut in 1usize..50) {
            for tags in [Tags::Tagged, Tags::Plain, Tags::TaggedSession] {
                let _ = judged(&reply, tags, 0, cut);
            }
        }
    }
}
