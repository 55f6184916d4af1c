//! Cutting the output of an HAProxy CLI in prompt mode into replies, by the prompt, never by
//! time.
//!
//! In prompt mode HAProxy writes, after each command, the bytes the command returns on a
//! non-interactive connection followed by a prompt, and then nothing until it reads the next
//! command. The bytes themselves say where a reply ends, so a [`Framer`] is fed whatever chunks
//! the socket gives and hands out complete replies, whatever the chunk boundaries.
//!
//! # The rule
//!
//! A reply is framed at the first prompt that starts *at the beginning of a line of the reply*:
//!
//! - **Stats socket**: `\n> ` (or `\n[D:HH:MM:SS]> ` after `prompt timed`, 3.2+) where the `\n`
//!   is either the first byte of the reply (a command with no output) or follows another `\n`.
//!   Every worker reply is its output lines plus the prompt's `\n`, so a complete reply always
//!   looks like `…\n\n> `. The reply's bytes are everything up to and including that `\n`.
//! - **Master CLI**: `master> `, `<pid>> ` (after `@1` or `@!<pid>`), optionally with a
//!   `[D:HH:MM:SS] ` or `[gone] ` time stamp (3.2+ `prompt timed`), a `[ReloadFailed]` marker
//!   after `master`, and a `(x)`/`(e)`/`(d)` flags suffix, at the very start of the reply (no
//!   output, e.g. `@1`) or right after a `\n`. The master has no `\n` of its own before the
//!   prompt: a worker's reply ends `…\n\n`, the master's own errors end with a single `\n`.
//! - **Payload prompts**: while a payload (a command ending in `<<`) is being sent, HAProxy
//!   writes `+ ` after each line it has read. How many depends on how the lines were cut into
//!   packets on 3.x, so the caller says how many may come ([`Framer::expect_interim`])
//!   and they are removed from the start of the next reply and counted.
//!
//! Evidence: the 2.6.12 and 3.4.0 transcripts in `tests/fixtures/prompt/` (every reply framed
//! identically for every way of cutting the stream into chunks), and HAProxy's `cli.c`
//! (`cli_io_handler` writes `"\n> "` after the output; `pcli_write_prompt` writes the master's
//! prompt with no leading newline).
//!
//! # Limits
//!
//! The prompt is not escaped inside replies, so no rule can be exact for arbitrary output:
//!
//! - a stats reply containing an empty line followed by a line that starts with `> ` (or a time
//!   stamp prompt), or a master reply containing a line that is exactly a prompt form such as
//!   `1234> …`, is cut there. No HAProxy command's own text does this; data echoed back (map
//!   keys, `echo` on 3.x) could.
//! - a command whose output does not end with a newline never gets a stats prompt at the start
//!   of a line; its reply is not framed and the caller's deadline ends the wait.
//! - `prompt i` (3.2+, interactive without prompt) is *not* used: its replies end like
//!   non-interactive ones (`…\n\n`, or a single `\n` for master errors), which is not a
//!   boundary (replies contain empty lines). `prompt p` frames exactly like `prompt`.
//!
//! # Non-interactive bytes
//!
//! A framed reply's [`Framed::body`] is byte for byte what the same command returns on its own
//! non-interactive connection (compare `prompt_stats_errors` with `stats_set_server_bad`, or
//! `prompt_master` with `master_unknown_foo`): the prompt, and the payload prompts, are the
//! only difference, and the framer removes both. [`noninteractive`] does the same for one
//! recorded prompt-mode reply.

use std::fmt;

pub use crate::framing::Framer;

/// Which kind of HAProxy CLI the bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// A `stats socket` (the runtime API of one worker).
    Stats,
    /// The master CLI (`-S`), which runs its own commands or forwards them to a worker.
    Master,
}

/// Where the next command goes, according to the prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The stats socket's own process.
    Stats,
    /// The master process.
    Master,
    /// A worker of the master, by pid (prompt `1234> `).
    Worker(u32),
}

/// A prompt as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The prompt's bytes (for the stats socket without the `\n` that ends the reply).
    pub raw: Vec<u8>,
    pub target: Target,
    /// `master[ReloadFailed]> `: the last reload failed.
    pub reload_failed: bool,
}

impl fmt::Display for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.raw))
    }
}

/// One complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framed {
    /// `+ ` payload prompts removed from the start of the reply.
    pub payload_prompts: usize,
    /// The reply without any prompt: the bytes a non-interactive connection returns.
    pub body: Vec<u8>,
    /// The prompt that ended it.
    pub prompt: Prompt,
}

/// The prompt-mode [`Framer`]: [`push`](Framer::push) chunks, take replies with
/// [`next_reply`](Framer::next_reply).
#[derive(Debug, Clone)]
pub struct PromptFramer {
    flavor: Flavor,
    buf: Vec<u8>,
    /// Bytes before this offset belong to replies already handed out. They are dropped on the
    /// next push rather than at once, so that taking many small replies out of one large
    /// chunk (a pipelined batch) costs no more than the chunk's length.
    start: usize,
    /// Where the next candidate prompt position search resumes, from `start` (an
    /// optimisation: positions before it are known not to start a prompt).
    scan: usize,
    /// `+ ` prompts that may still precede the next reply.
    payload_allowed: usize,
    payload_seen: usize,
    /// The reply in progress was partly handed out ([`Framer::take_partial`]) in the middle
    /// of a line: the first pending byte does not start a line.
    continued: bool,
}

impl Framer for PromptFramer {
    type Reply = Framed;

    fn push(&mut self, chunk: &[u8]) {
        self.buf.drain(..self.start);
        self.start = 0;
        self.buf.extend_from_slice(chunk);
    }

    fn pending_len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Takes the pending bytes without copying them.
    fn take_pending(&mut self) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.drain(..self.start);
        self.clear();
        buf
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
        self.scan = 0;
        self.payload_allowed = 0;
        self.payload_seen = 0;
        self.continued = false;
    }

    /// Up to `count` `+ ` payload prompts may come before the next reply (one per line of a
    /// payload command, the command line included, the final empty line excluded).
    fn expect_interim(&mut self, count: usize) {
        self.payload_allowed = count;
    }

    /// The next complete reply, if all its bytes and its prompt have arrived.
    fn next_reply(&mut self) -> Option<Framed> {
        if !self.skip_interim() {
            return None;
        }
        let (body_end, prompt_end, prompt) = self.find_prompt()?;
        let body = self.pending()[..body_end].to_vec();
        self.start += prompt_end;
        self.scan = 0;
        self.payload_allowed = 0;
        self.continued = false;
        let payload_prompts = std::mem::take(&mut self.payload_seen);
        Some(Framed {
            payload_prompts,
            body,
            prompt,
        })
    }

    /// The bytes before the first place a prompt could still start: whatever comes next, they
    /// belong to the reply in progress. Its [`Framed::body`] is then what is left of it.
    fn take_partial(&mut self) -> Vec<u8> {
        if !self.skip_interim() || self.find_prompt().is_some() {
            return Vec::new();
        }
        // `find_prompt` stopped at the first place a prompt may start, or at the end.
        let safe = self.scan;
        if safe == 0 {
            return Vec::new();
        }
        let part = self.pending()[..safe].to_vec();
        self.continued = part.last() != Some(&b'\n');
        self.start += safe;
        self.scan = 0;
        // The reply has begun: `+ ` from now on is its own text.
        self.payload_allowed = 0;
        part
    }
}

impl PromptFramer {
    pub fn new(flavor: Flavor) -> Self {
        PromptFramer {
            flavor,
            buf: Vec::new(),
            start: 0,
            scan: 0,
            payload_allowed: 0,
            payload_seen: 0,
            continued: false,
        }
    }

    /// Removes the `+ ` payload prompts before the reply; `false` while it cannot be known
    /// yet whether more are coming.
    fn skip_interim(&mut self) -> bool {
        while self.payload_allowed > 0 {
            let pending = self.pending();
            if pending.starts_with(b"+ ") {
                self.start += 2;
                self.scan = 0;
                self.payload_allowed -= 1;
                self.payload_seen += 1;
            } else if pending.is_empty() || pending == b"+" {
                return false;
            } else {
                break;
            }
        }
        true
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// Bytes received that are not part of a framed reply yet.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Finds the first prompt at a line start; returns where the body ends, where the prompt
    /// ends (both from `start`), and the prompt.
    fn find_prompt(&mut self) -> Option<(usize, usize, Prompt)> {
        let buf = &self.buf[self.start..];
        let mut at = self.scan;
        while at <= buf.len() {
            // A candidate is a line start: the reply's start or just after a `\n`.
            let line_start = if at == 0 {
                !self.continued
            } else {
                buf[at - 1] == b'\n'
            };
            if line_start {
                let found = match self.flavor {
                    // `\n` then `> ` where the `\n` itself starts a line.
                    Flavor::Stats => match buf.get(at) {
                        None => Found::Partial,
                        Some(b'\n') => match_stats(&buf[at + 1..]).map(|n| n + 1),
                        Some(_) => Found::No,
                    },
                    // Every master prompt starts with `[`, a digit or `m`: most lines are
                    // passed over on their first byte.
                    Flavor::Master => match buf.get(at) {
                        None | Some(b'[' | b'0'..=b'9' | b'm') => match_master(&buf[at..]),
                        Some(_) => Found::No,
                    },
                };
                match found {
                    Found::Yes(len, target, reload_failed) => {
                        let (body_end, raw_start) = match self.flavor {
                            Flavor::Stats => (at + 1, at + 1),
                            Flavor::Master => (at, at),
                        };
                        let prompt = Prompt {
                            raw: buf[raw_start..at + len].to_vec(),
                            target,
                            reload_failed,
                        };
                        return Some((body_end, at + len, prompt));
                    }
                    Found::Partial => {
                        self.scan = at;
                        return None;
                    }
                    Found::No => {}
                }
            }
            // Jump to the next line start.
            match memchr::memchr(b'\n', &buf[at..]) {
                Some(i) => at += i + 1,
                None => {
                    self.scan = buf.len();
                    return None;
                }
            }
        }
        self.scan = buf.len();
        None
    }
}

/// The result of matching a prompt at one position.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// A whole prompt of this many bytes.
    Yes(usize, Target, bool),
    /// The data ends inside something that could still become a prompt.
    Partial,
    No,
}

impl Found {
    fn map(self, f: impl FnOnce(usize) -> usize) -> Found {
        match self {
            Found::Yes(n, t, r) => Found::Yes(f(n), t, r),
            other => other,
        }
    }
}

/// Why matching stopped early.
enum Stop {
    Partial,
    No,
}

/// A cursor over candidate prompt bytes.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Result<u8, Stop> {
        self.data.get(self.at).copied().ok_or(Stop::Partial)
    }

    fn literal(&mut self, text: &[u8]) -> Result<(), Stop> {
        for &expected in text {
            if self.peek()? != expected {
                return Err(Stop::No);
            }
            self.at += 1;
        }
        Ok(())
    }

    /// `text` if it is there; a mismatch consumes nothing.
    fn optional(&mut self, text: &[u8]) -> Result<bool, Stop> {
        let rest = &self.data[self.at..];
        if rest.starts_with(text) {
            self.at += text.len();
            Ok(true)
        } else if text.starts_with(rest) {
            Err(Stop::Partial)
        } else {
            Ok(false)
        }
    }

    /// One or more ASCII digits (at most 10, as for a pid or a day count).
    fn digits(&mut self) -> Result<&[u8], Stop> {
        let start = self.at;
        while self.peek()?.is_ascii_digit() {
            self.at += 1;
            if self.at - start > 10 {
                return Err(Stop::No);
            }
        }
        if self.at == start {
            return Err(Stop::No);
        }
        Ok(&self.data[start..self.at])
    }

    /// `[D:HH:MM:SS]`, the `prompt timed` uptime (the `[` already consumed).
    fn uptime(&mut self) -> Result<(), Stop> {
        self.digits()?;
        for _ in 0..3 {
            self.literal(b":")?;
            self.two_digits()?;
        }
        self.literal(b"]")
    }

    fn two_digits(&mut self) -> Result<(), Stop> {
        for _ in 0..2 {
            if !self.peek()?.is_ascii_digit() {
                return Err(Stop::No);
            }
            self.at += 1;
        }
        Ok(())
    }
}

fn finish(result: Result<(Target, bool), Stop>, len: usize) -> Found {
    match result {
        Ok((target, reload_failed)) => Found::Yes(len, target, reload_failed),
        Err(Stop::Partial) => Found::Partial,
        Err(Stop::No) => Found::No,
    }
}

/// `> ` or `[D:HH:MM:SS]> ` at the start of `data`.
fn match_stats(data: &[u8]) -> Found {
    let mut c = Cursor { data, at: 0 };
    let result = (|| {
        if c.optional(b"[")? {
            c.uptime()?;
        }
        c.literal(b"> ")?;
        Ok((Target::Stats, false))
    })();
    finish(result, c.at)
}

/// A master CLI prompt at the start of `data`.
fn match_master(data: &[u8]) -> Found {
    let mut c = Cursor { data, at: 0 };
    let result = (|| {
        if c.optional(b"[")? {
            if !c.optional(b"gone]")? {
                c.uptime()?;
            }
            c.literal(b" ")?;
        }
        let mut reload_failed = false;
        let target = if c.peek()?.is_ascii_digit() {
            let pid = c.digits()?;
            let pid = std::str::from_utf8(pid).ok().and_then(|s| s.parse().ok());
            Target::Worker(pid.ok_or(Stop::No)?)
        } else {
            c.literal(b"master")?;
            reload_failed = c.optional(b"[ReloadFailed]")?;
            Target::Master
        };
        if c.optional(b"(")? {
            let start = c.at;
            while matches!(c.peek()?, b'x' | b'e' | b'd') {
                c.at += 1;
            }
            if c.at == start {
                return Err(Stop::No);
            }
            c.literal(b")")?;
        }
        c.literal(b"> ")?;
        Ok((target, reload_failed))
    })();
    finish(result, c.at)
}

/// What the answer to `prompt` on a fresh connection says about the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detected {
    /// `\n> `: a stats socket.
    Stats(Prompt),
    /// A master prompt (`master> `, `master[ReloadFailed]> `, …).
    Master(Prompt),
    /// Could still become one of the above: read more.
    Incomplete,
    NotHaproxy,
}

/// Classifies the whole answer to `prompt` on a fresh connection. HAProxy sends nothing
/// before it reads a command, so the answer is exactly one prompt with no reply before it.
pub fn detect(answer: &[u8]) -> Detected {
    let stats = match answer.split_first() {
        None => Found::Partial,
        Some((b'\n', rest)) => match_stats(rest).map(|n| n + 1),
        Some(_) => Found::No,
    };
    let master = match_master(answer);
    let whole = |found: &Found| matches!(found, Found::Yes(n, ..) if *n == answer.len());
    let prompt = |target| Prompt {
        raw: answer.strip_prefix(b"\n").unwrap_or(answer).to_vec(),
        target,
        reload_failed: matches!(master, Found::Yes(_, _, true)),
    };
    if whole(&stats) {
        Detected::Stats(prompt(Target::Stats))
    } else if whole(&master) && matches!(master, Found::Yes(_, Target::Master, _)) {
        Detected::Master(prompt(Target::Master))
    } else if stats == Found::Partial || master == Found::Partial {
        Detected::Incomplete
    } else {
        Detected::NotHaproxy
    }
}

/// The bytes the same command returns on a non-interactive connection, given one complete
/// recorded prompt-mode reply (`+ ` payload prompts, body, prompt), or `None` if `reply` is not
/// exactly one reply.
pub fn noninteractive(flavor: Flavor, reply: &[u8], payload_lines: usize) -> Option<Vec<u8>> {
    let mut framer = PromptFramer::new(flavor);
    framer.expect_interim(payload_lines);
    framer.push(reply);
    let framed = framer.next_reply()?;
    framer.pending().is_empty().then_some(framed.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_all(flavor: Flavor, data: &[u8]) -> (Vec<Framed>, Vec<u8>) {
        let mut framer = PromptFramer::new(flavor);
        framer.push(data);
        let mut out = Vec::new();
        while let Some(r) = framer.next_reply() {
            out.push(r);
        }
        (out, framer.pending().to_vec())
    }

    #[test]
    fn stats_prompt_needs_a_line_start_before_its_newline() {
        let (replies, rest) = frame_all(Flavor::Stats, b"\n> a\n\n> b > c\n> d\n\n> ");
        let bodies: Vec<_> = replies.iter().map(|r| r.body.clone()).collect();
        assert_eq!(bodies, [&b"\n"[..], b"a\n\n", b"b > c\n> d\n\n"]);
        assert!(rest.is_empty());
    }

    #[test]
    fn timed_prompts() {
        let (replies, _) = frame_all(Flavor::Stats, b"\n[0:00:01:32]> x\n\n[12:23:59:59]> ");
        assert_eq!(replies.len(), 2);
        assert_eq!(replies[1].prompt.raw, b"[12:23:59:59]> ");
        let (replies, _) = frame_all(
            Flavor::Master,
            b"[0:00:01:34] master> 1\n\n[gone] 42> x\n[1:00:00:00] 42(xd)> ",
        );
        let targets: Vec<_> = replies.iter().map(|r| r.prompt.target.clone()).collect();
        assert_eq!(
            targets,
            [Target::Master, Target::Worker(42), Target::Worker(42)]
        );
    }

    #[test]
    fn master_prompt_forms() {
        let (replies, rest) = frame_all(
            Flavor::Master,
            b"master> 7978> x\n\n7978> master[ReloadFailed]> master(e)> no master> here\n",
        );
        assert_eq!(replies.len(), 5);
        assert!(replies[3].prompt.reload_failed);
        assert_eq!(replies[2].body, b"x\n\n");
        assert_eq!(rest, b"no master> here\n");
    }

    #[test]
    fn partial_prompts_wait_for_more() {
        for data in [&b"x\n\n"[..], b"x\n\n>", b"x\n\n[0:00", b"\n"] {
            let (replies, _) = frame_all(Flavor::Stats, data);
            assert!(replies.is_empty(), "{data:?}");
        }
        for data in [&b"x\nmast"[..], b"master[Rel", b"12", b"[gone", b"1(x"] {
            let (replies, _) = frame_all(Flavor::Master, data);
            assert!(replies.is_empty(), "{data:?}");
        }
    }

    #[test]
    fn detects_the_answer_to_prompt() {
        assert!(matches!(detect(b"\n> "), Detected::Stats(_)));
        assert!(matches!(detect(b"master> "), Detected::Master(_)));
        assert!(
            matches!(detect(b"master[ReloadFailed]> "), Detected::Master(p) if p.reload_failed)
        );
        for partial in [&b""[..], b"\n", b"\n>", b"mas", b"master[Re"] {
            assert_eq!(detect(partial), Detected::Incomplete, "{partial:?}");
        }
        for other in [&b"\n> x"[..], b"+OK\r\n", b"hello", b"\n\n", b"1234> "] {
            assert_eq!(detect(other), Detected::NotHaproxy, "{other:?}");
        }
    }

    #[test]
    fn payload_prompts_are_counted_and_removed() {
        let mut framer = PromptFramer::new(Flavor::Stats);
        framer.expect_interim(3);
        framer.push(b"+ + \n> ");
        let r = framer.next_reply().unwrap();
        assert_eq!((r.payload_prompts, &r.body[..]), (2, &b"\n"[..]));
        // Without the allowance a `+ ` is reply text.
        let (replies, rest) = frame_all(Flavor::Stats, b"+ \n> ");
        assert!(replies.is_empty());
        assert_eq!(rest, b"+ \n> ");
        assert_eq!(
            noninteractive(Flavor::Master, b"+ + Done.\n\nmaster> ", 2).unwrap(),
            b"Done.\n\n"
        );
    }

    /// A reply taken in parts as it comes, then its rest: the same bytes as taken whole.
    fn frame_in_parts(flavor: Flavor, interim: usize, data: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut framer = PromptFramer::new(flavor);
        framer.expect_interim(interim);
        let (mut replies, mut current) = (Vec::new(), Vec::new());
        let mut rest = data;
        let mut turn = 0;
        while !rest.is_empty() {
            let n = cuts[turn % cuts.len()].clamp(1, rest.len());
            framer.push(&rest[..n]);
            rest = &rest[n..];
            turn += 1;
            while let Some(reply) = framer.next_reply() {
                current.extend_from_slice(&reply.body);
                replies.push(std::mem::take(&mut current));
            }
            current.extend(framer.take_partial());
        }
        replies
    }

    #[test]
    fn parts_of_a_reply_make_the_reply() {
        let data = b"+ + abc\nde\n\n> x\n> \n\n> ";
        let whole: Vec<Vec<u8>> = {
            let mut framer = PromptFramer::new(Flavor::Stats);
            framer.expect_interim(2);
            framer.push(data);
            std::iter::from_fn(|| framer.next_reply())
                .map(|r| r.body)
                .collect()
        };
        assert_eq!(whole, [b"abc\nde\n\n".to_vec(), b"x\n> \n\n".to_vec()]);
        for cut in 1..data.len() {
            assert_eq!(
                frame_in_parts(Flavor::Stats, 2, data, &[cut]),
                whole,
                "{cut}"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Taking the safe part of each reply as it comes changes no reply, however the
        /// stream is cut, for both flavors.
        #[test]
        fn taking_parts_changes_no_reply(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                &b"\n"[..], b"> ", b"+ ", b"x", b"yz", b"master> ", b"12> ", b"[0:00:01:32]> ",
                b"[gone] ", b"master[ReloadFailed]> ", b"\n\n> ", b"+",
            ]), 0..40),
            interim in 0usize..3,
            cuts in proptest::collection::vec(1usize..12, 1..6),
        ) {
            let data: Vec<u8> = pieces.concat();
            for flavor in [Flavor::Stats, Flavor::Master] {
                let mut framer = PromptFramer::new(flavor);
                framer.expect_interim(interim);
                framer.push(&data);
                let whole: Vec<Vec<u8>> =
                    std::iter::from_fn(|| framer.next_reply()).map(|r| r.body).collect();
                proptest::prop_assert_eq!(frame_in_parts(flavor, interim, &data, &cuts), whole);
            }
        }
    }
}
