//! Text from a server, made safe for a terminal.
//!
//! A reply may hold escape sequences that move the cursor, recolor or retitle the terminal, or
//! hide what came before. Before such text is shown to a person, control characters become
//! visible escapes: C0 controls (ESC among them) and DEL as `\x1b`, C1 controls as `\u{9b}`.

use std::borrow::Cow;

/// For running text: newlines and tabs are kept.
pub fn text(s: &str) -> Cow<'_, str> {
    escape(s, |c| c == '\n' || c == '\t')
}

/// For one table cell: newlines and tabs are escaped too, so the columns stay aligned.
pub fn cell(s: &str) -> Cow<'_, str> {
    escape(s, |_| false)
}

fn escape(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && !keep(c);
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible() {
        assert_eq!(text("UP\n\tok"), "UP\n\tok");
        assert!(matches!(text("plain"), Cow::Borrowed(_)));
        assert_eq!(text("\x1b]0;pwned\x07x"), "\\x1b]0;pwned\\x07x");
        assert_eq!(text("a\rb\x7f\u{9b}31m"), "a\\x0db\\x7f\\u{9b}31m");
        assert_eq!(cell("a\nb\tc"), "a\\x0ab\\x09c");
        // Printable non-ASCII stays.
        assert_eq!(cell("é中"), "é中");
    }
}
