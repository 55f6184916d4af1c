//! Bytes from a server, made safe for a terminal.
//!
//! A reply may hold escape sequences that move the cursor, recolor or retitle the terminal, or
//! hide what came before. Before such bytes are shown to a person, everything that is not
//! printable becomes visible text: C0 controls and DEL as `\x1b` (`\r` as `\r`), C1 controls and
//! the Unicode bidirectional overrides as `\u{009b}`, bytes that are not UTF-8 as `\xff`.

use std::borrow::Cow;
use std::fmt::Write;
use std::io;

/// Writes reply bytes to standard output for a person (`escape`: control characters shown
/// escaped) or exactly as they came, and flushes: the one writer of every reply shown as it
/// arrives.
pub fn print(bytes: &[u8], escape: bool) -> io::Result<()> {
    use io::Write as _;
    let mut out = io::stdout().lock();
    if escape {
        out.write_all(self::bytes(bytes).as_bytes())?;
    } else {
        out.write_all(bytes)?;
    }
    out.flush()
}

/// How many bytes of `bytes` end on a character boundary: all but a UTF-8 sequence cut at
/// the end.
pub fn whole_characters(bytes: &[u8]) -> usize {
    for back in 1..=3.min(bytes.len()) {
        let at = bytes.len() - back;
        let lead = bytes[at];
        let needs = match lead {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            0x80..=0xbf => continue,
            _ => return bytes.len(),
        };
        return if needs > back { at } else { bytes.len() };
    }
    bytes.len()
}

/// For running text from raw bytes: newlines and tabs are kept.
pub fn bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        escape_into(&mut out, chunk.valid(), true);
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// For running text: newlines and tabs are kept.
pub fn text(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

/// For one table cell: newlines and tabs are escaped too, so the columns stay aligned.
pub fn cell(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// Whether `s` is shown as it is, even in a table cell: nothing in it would be escaped.
pub fn is_plain(s: &str) -> bool {
    !s.chars().any(|c| needs_escape(c, false))
}

fn escape(s: &str, keep_layout: bool) -> Cow<'_, str> {
    if !s.chars().any(|c| needs_escape(c, keep_layout)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    escape_into(&mut out, s, keep_layout);
    Cow::Owned(out)
}

fn needs_escape(c: char, keep_layout: bool) -> bool {
    match c {
        '\n' | '\t' => !keep_layout,
        '\0'..='\x1f' | '\x7f' | '\u{80}'..='\u{9f}' => true,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' => true,
        _ => false,
    }
}

fn escape_into(out: &mut String, s: &str, keep_layout: bool) {
    for c in s.chars() {
        if !needs_escape(c, keep_layout) {
            out.push(c);
        } else if c == '\r' {
            out.push_str("\\r");
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible() {
        assert_eq!(text("UP\n\tok"), "UP\n\tok");
        assert!(matches!(text("plain"), Cow::Borrowed(_)));
        assert_eq!(text("\x1b]0;pwned\x07x"), "\\x1b]0;pwned\\x07x");
        assert_eq!(text("a\rb\x7f\u{9b}31m"), "a\\rb\\x7f\\u{009b}31m");
        assert_eq!(cell("a\nb\tc"), "a\\x0ab\\x09c");
        // Printable non-ASCII stays.
        assert_eq!(cell("é中"), "é中");
        assert!(is_plain("be_app/s1:é"));
        for bad in ["a\x1b]0;t\x07", "a\tb", "\u{9b}", "x\x7f", "\u{202e}"] {
            assert!(!is_plain(bad), "{bad:?}");
        }
    }

    #[test]
    fn bytes_that_are_not_text() {
        assert_eq!(bytes(b"a\tb\nc"), "a\tb\nc");
        assert_eq!(
            bytes(b"\x1b[31mred\x1b]0;title\x07\r"),
            "\\x1b[31mred\\x1b]0;title\\x07\\r"
        );
        assert_eq!(bytes("\u{9b}2J é".as_bytes()), "\\u{009b}2J é");
        assert_eq!(bytes("x\u{202e}y".as_bytes()), "x\\u{202e}y");
        assert_eq!(bytes(b"\xff\xc3("), "\\xff\\xc3(");
    }
}
