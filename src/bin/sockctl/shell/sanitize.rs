//! Replies are untrusted bytes: a server (or whatever it echoes back) must not be able to move
//! the cursor, retitle the window or hide text. Everything that is not printable becomes
//! visible text instead.

use std::fmt::Write;

/// `bytes` as text safe for a terminal: `\n` and `\t` are kept; other C0 controls, DEL, C1
/// controls and the Unicode bidirectional overrides are shown as `\xNN` / `\u{NNNN}` (with `\r`
/// and ESC spelled `\r` and `\x1b`), and bytes that are not UTF-8 as `\xNN`.
pub fn sanitize(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' | '\t' => out.push(c),
                '\r' => out.push_str("\\r"),
                '\0'..='\x1f' | '\x7f' => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                '\u{80}'..='\u{9f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}' => {
                    let _ = write!(out, "\\u{{{:04x}}}", c as u32);
                }
                _ => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn controls_become_visible() {
        assert_eq!(sanitize(b"a\tb\nc"), "a\tb\nc");
        assert_eq!(
            sanitize(b"\x1b[31mred\x1b]0;title\x07\r"),
            "\\x1b[31mred\\x1b]0;title\\x07\\r"
        );
        assert_eq!(sanitize("\u{9b}2J é".as_bytes()), "\\u{009b}2J é");
        assert_eq!(sanitize("x\u{202e}y".as_bytes()), "x\\u{202e}y");
        assert_eq!(sanitize(b"\xff\xc3("), "\\xff\\xc3(");
    }
}
