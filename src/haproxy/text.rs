//! Line splitting, reply framing and message excerpts shared by the parsers.

use super::ParseError;

/// Longest excerpt of input quoted in an error message, in characters after escaping.
const EXCERPT_CHARS: usize = 80;

/// `bytes` escaped as printable ASCII (`\n`, `\xff`, …) and cut to about 80 characters, for
/// quoting input in messages without flooding the terminal or emitting control bytes.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        // Quotes stay as they are: messages read better with "Can't find backend." than with
        // escape_default's "Can\'t".
        let escaped = match b {
            b'\'' | b'"' => (b as char).to_string(),
            _ => std::ascii::escape_default(b).to_string(),
        };
        if out.len() + escaped.len() > EXCERPT_CHARS {
            out.push('…');
            break;
        }
        out.push_str(&escaped);
    }
    out
}

/// One line of a reply, without its `\n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    /// Starts at 1.
    pub number: usize,
    pub text: &'a [u8],
    /// False only for a last line that the reply cut before its `\n`.
    pub terminated: bool,
}

pub(crate) struct Lines<'a> {
    rest: &'a [u8],
    number: usize,
}

pub(crate) fn lines(bytes: &[u8]) -> Lines<'_> {
    Lines {
        rest: bytes,
        number: 0,
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        self.number += 1;
        let (text, rest, terminated) = match self.rest.iter().position(|&b| b == b'\n') {
            Some(end) => {
                let (text, rest) = self.rest.split_at(end);
                (text, rest.get(1..).unwrap_or_default(), true)
            }
            None => (self.rest, &[][..], false),
        };
        self.rest = rest;
        Some(Line {
            number: self.number,
            text,
            terminated,
        })
    }
}

/// The first line of `reply`, or `Empty` when there are no bytes.
pub(crate) fn first_line(reply: &[u8]) -> Result<&[u8], ParseError> {
    lines(reply)
        .next()
        .map(|line| line.text)
        .ok_or(ParseError::Empty)
}

/// The lines of a line-oriented output up to (not including) the blank line that ends it,
/// checking that the blank line is there and that nothing follows it.
pub(crate) fn body_lines(reply: &[u8]) -> Result<Vec<Line<'_>>, ParseError> {
    let mut body = Vec::new();
    let mut all = lines(reply);
    while let Some(line) = all.next() {
        if !line.terminated {
            return Err(ParseError::Truncated { line: line.number });
        }
        if line.text.is_empty() {
            return match all.next() {
                None => Ok(body),
                Some(extra) => Err(ParseError::TrailingData {
                    line: extra.number,
                    found: excerpt(extra.text),
                }),
            };
        }
        body.push(line);
    }
    match body.last() {
        None => Err(ParseError::Empty),
        Some(last) => Err(ParseError::Unterminated { line: last.number }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_escapes_and_cuts() {
        assert_eq!(excerpt(b"a\n\xff\"'\\"), "a\\n\\xff\"'\\\\");
        let long = excerpt(&[b'x'; 200]);
        assert!(long.ends_with('…'));
        assert_eq!(long.chars().count(), EXCERPT_CHARS + 1);
    }

    #[test]
    fn lines_mark_the_unterminated_tail() {
        let got: Vec<_> = lines(b"a\n\nb")
            .map(|l| (l.number, l.text, l.terminated))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, &b"a"[..], true),
                (2, &b""[..], true),
                (3, &b"b"[..], false)
            ]
        );
    }

    #[test]
    fn body_needs_the_closing_blank_line_and_nothing_after() {
        assert_eq!(body_lines(b"a\nb\n\n").map(|b| b.len()), Ok(2));
        assert_eq!(body_lines(b"\n").map(|b| b.len()), Ok(0));
        assert_eq!(body_lines(b"a\nb"), Err(ParseError::Truncated { line: 2 }));
        assert_eq!(
            body_lines(b"a\n"),
            Err(ParseError::Unterminated { line: 1 })
        );
        assert!(matches!(
            body_lines(b"a\n\n> "),
            Err(ParseError::TrailingData { line: 3, .. })
        ));
        assert_eq!(body_lines(b""), Err(ParseError::Empty));
    }
}
