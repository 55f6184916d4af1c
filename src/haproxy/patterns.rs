//! Map and ACL files, as HAProxy reads them and as its runtime API lists them, and what a
//! reload would lose when the two differ.
//!
//! The views (`sockctl haproxy map|acl`) read the same outputs strictly and typed:
//! [`parse_refs`] the list (`# id (file) description`, then `ID (FILE) DESCRIPTION.
//! curr_ver=N next_ver=N entry_cnt=N`), [`parse_map`] and [`parse_acl`] the entries of one
//! (`POINTER KEY VALUE`, `POINTER PATTERN`; the pointer is what `del map`/`set map` take as
//! `#PTR`).
//!
//! HAProxy loads a map or ACL file once, at start; `add map`, `set map`, `del map` (and their
//! `acl` forms) change only the running copy, and the next reload loads the file again. The
//! file syntax, per line: a `#` in the first column starts a comment; leading spaces and tabs
//! are skipped; an empty line is ignored; a line ends at CR or LF. A map line is a key (up to
//! the first space or tab), spaces, and a value (the rest, trailing spaces and tabs trimmed);
//! an ACL line is one pattern, the whole rest of the line, spaces included.

use std::fmt;

use serde::Serialize;

use super::ParseError;
use super::text::{self, excerpt};

/// Which kind of pattern file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Map,
    Acl,
}

impl Kind {
    /// The word of the runtime API's commands (`show map`, `show acl`).
    pub fn word(self) -> &'static str {
        match self {
            Kind::Map => "map",
            Kind::Acl => "acl",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// One entry: a map's key and value, or an ACL's pattern (as `key`, with no value).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// One line of `show map` or `show acl`: a pattern list loaded from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The unique id, for `show map #ID`.
    pub id: u32,
    /// The file name as the configuration gives it.
    pub file: String,
}

/// The entries of a pattern file's text, in order.
pub fn parse_file(kind: Kind, text: &[u8]) -> Vec<Entry> {
    text.split(|&b| b == b'\n')
        .filter_map(|line| parse_line(kind, line))
        .collect()
}

/// One line of a pattern file: `None` for a comment or an empty line.
fn parse_line(kind: Kind, line: &[u8]) -> Option<Entry> {
    if line.first() == Some(&b'#') {
        return None;
    }
    // HAProxy reads lines as C strings: a CR, LF or NUL ends one.
    let end = line
        .iter()
        .position(|&b| matches!(b, b'\r' | b'\n' | 0))
        .unwrap_or(line.len());
    let line = &line[..end];
    let start = line
        .iter()
        .position(|&b| !is_blank(b))
        .unwrap_or(line.len());
    let rest = &line[start..];
    if rest.is_empty() {
        return None;
    }
    match kind {
        Kind::Acl => Some(Entry {
            key: rest.to_vec(),
            value: None,
        }),
        Kind::Map => {
            let key_end = rest.iter().position(|&b| is_blank(b)).unwrap_or(rest.len());
            let after = &rest[key_end..];
            let value_start = after
                .iter()
                .position(|&b| !is_blank(b))
                .unwrap_or(after.len());
            let mut value = &after[value_start..];
            while let [head @ .., last] = value
                && is_blank(*last)
            {
                value = head;
            }
            Some(Entry {
                key: rest[..key_end].to_vec(),
                value: Some(value.to_vec()),
            })
        }
    }
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The pattern lists of `show map` or `show acl` that were loaded from a file (those of
/// inline ACL patterns have none): `ID (FILE) pattern loaded from file 'FILE' used by …`.
pub fn parse_list(reply: &[u8]) -> Vec<Listed> {
    const LOADED: &[u8] = b") pattern loaded from file '";
    let mut listed = Vec::new();
    for line in reply.split(|&b| b == b'\n') {
        let Some(space) = line.iter().position(|&b| b == b' ') else {
            continue;
        };
        let Some(id) = std::str::from_utf8(&line[..space])
            .ok()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(name) = line[space + 1..].strip_prefix(b"(") else {
            continue;
        };
        let Some(end) = find(name, LOADED) else {
            continue;
        };
        let file = &name[..end];
        if file.is_empty() {
            continue;
        }
        listed.push(Listed {
            id,
            file: String::from_utf8_lossy(file).into_owned(),
        });
    }
    listed
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What `show map #ID` or `show acl #ID` answered that is not a list of entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotEntries(pub String);

impl fmt::Display for NotEntries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a list of entries: {:?}", self.0)
    }
}

impl std::error::Error for NotEntries {}

/// The entries of `show map #ID` (`0xADDR KEY VALUE` lines) or `show acl #ID`
/// (`0xADDR PATTERN`), in order.
pub fn parse_entries(kind: Kind, reply: &[u8]) -> Result<Vec<Entry>, NotEntries> {
    let mut entries = Vec::new();
    for line in reply.split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        let bad = || NotEntries(crate::haproxy::text::excerpt(line));
        let rest = line.strip_prefix(b"0x").ok_or_else(bad)?;
        let space = rest.iter().position(|&b| b == b' ').ok_or_else(bad)?;
        if !rest[..space].iter().all(u8::is_ascii_hexdigit) {
            return Err(bad());
        }
        let rest = &rest[space + 1..];
        entries.push(match kind {
            Kind::Acl => Entry {
                key: rest.to_vec(),
                value: None,
            },
            Kind::Map => {
                let (key, value) = match rest.iter().position(|&b| b == b' ') {
                    Some(i) => (&rest[..i], &rest[i + 1..]),
                    None => (rest, &b""[..]),
                };
                Entry {
                    key: key.to_vec(),
                    value: Some(value.to_vec()),
                }
            }
        });
    }
    Ok(entries)
}

/// How the running entries differ from the file's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// Keys (patterns) that run but are not in the file: added at runtime.
    pub only_running: usize,
    /// Keys in the file that do not run: deleted at runtime (or added to the file since).
    pub only_in_file: usize,
    /// Map keys whose value differs.
    pub changed: usize,
}

impl Difference {
    /// Whether the reload would load something else than what runs: also true when only
    /// the order or the number of duplicates differs, which matters to HAProxy's first match.
    pub fn between(running: &[Entry], file: &[Entry]) -> Option<Difference> {
        if running == file {
            return None;
        }
        use std::collections::HashMap;
        let index = |entries: &[Entry]| {
            let mut map: HashMap<Vec<u8>, Vec<Option<Vec<u8>>>> = HashMap::new();
            for e in entries {
                map.entry(e.key.clone()).or_default().push(e.value.clone());
            }
            map
        };
        let (run, disk) = (index(running), index(file));
        let mut d = Difference::default();
        for (key, values) in &run {
            match disk.get(key) {
                None => d.only_running += values.len(),
                Some(theirs) if theirs != values => d.changed += 1,
                Some(_) => {}
            }
        }
        d.only_in_file = disk
            .iter()
            .filter(|(k, _)| !run.contains_key(*k))
            .map(|(_, v)| v.len())
            .sum();
        Some(d)
    }
}

/// An entry that a pattern file cannot hold, so the running list cannot be written to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwritable {
    pub entry: Entry,
    pub why: &'static str,
}

impl fmt::Display for Unwritable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "entry {:?} cannot be written to a file: {}",
            String::from_utf8_lossy(&self.entry.key),
            self.why
        )
    }
}

impl std::error::Error for Unwritable {}

/// The file's text changed so that HAProxy loads `running` from it: comments, blank lines and
/// the lines of entries that still run are kept as they are; a changed value rewrites its
/// line; an entry deleted at runtime loses its line; entries added at runtime are appended.
pub fn synced(kind: Kind, original: &[u8], running: &[Entry]) -> Result<Vec<u8>, Unwritable> {
    for entry in running {
        check_writable(kind, entry)?;
    }
    let merged = merge(kind, original, running);
    if parse_file(kind, &merged) == running {
        return Ok(merged);
    }
    // The running order cannot be had by editing lines in place (entries were reordered):
    // the comments and blank lines first, then every running entry in order.
    let mut text: Vec<u8> = Vec::new();
    for line in lines(original) {
        if parse_line(kind, line).is_none() {
            text.extend_from_slice(line);
            text.push(b'\n');
        }
    }
    for entry in running {
        push_entry(&mut text, entry);
    }
    Ok(text)
}

fn merge(kind: Kind, original: &[u8], running: &[Entry]) -> Vec<u8> {
    let mut next = 0;
    let mut text = Vec::with_capacity(original.len());
    for line in lines(original) {
        let Some(entry) = parse_line(kind, line) else {
            text.extend_from_slice(line);
            text.push(b'\n');
            continue;
        };
        // The next running entries that are not in the file are added ones: they go where
        // they run, before this line's entry.
        // A line whose entry no longer runs (deleted at runtime) is dropped.
        if let Some(offset) = running[next..].iter().position(|r| r.key == entry.key) {
            for added in &running[next..next + offset] {
                push_entry(&mut text, added);
            }
            let now = &running[next + offset];
            if *now == entry {
                text.extend_from_slice(line);
                text.push(b'\n');
            } else {
                push_entry(&mut text, now);
            }
            next += offset + 1;
        }
    }
    for added in &running[next..] {
        push_entry(&mut text, added);
    }
    text
}

/// The file's lines, without their `\n`; a last line without one counts too.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    text.split(|&b| b == b'\n')
        .filter(move |_| !text.is_empty())
}

fn push_entry(text: &mut Vec<u8>, entry: &Entry) {
    // A key that starts with `#` would be a comment in the first column.
    if entry.key.first() == Some(&b'#') {
        text.push(b' ');
    }
    text.extend_from_slice(&entry.key);
    if let Some(value) = &entry.value {
        text.push(b' ');
        text.extend_from_slice(value);
    }
    text.push(b'\n');
}

fn check_writable(kind: Kind, entry: &Entry) -> Result<(), Unwritable> {
    let fail = |why| {
        Err(Unwritable {
            entry: entry.clone(),
            why,
        })
    };
    let ends_line = |b: &u8| matches!(b, b'\r' | b'\n' | 0);
    if entry.key.is_empty() {
        return fail("it is empty");
    }
    if entry.key.iter().any(ends_line)
        || entry
            .value
            .as_ref()
            .is_some_and(|v| v.iter().any(ends_line))
    {
        return fail("it holds a line break or NUL");
    }
    if is_blank(entry.key[0]) {
        return fail("it starts with a space, which the file syntax drops");
    }
    match kind {
        Kind::Map => {
            if entry.key.iter().any(|&b| is_blank(b)) {
                return fail("a map key with a space would be read as key and value");
            }
            let value = entry.value.as_deref().unwrap_or_default();
            if value.first().is_some_and(|&b| is_blank(b))
                || value.last().is_some_and(|&b| is_blank(b))
            {
                return fail(
                    "a value's leading or trailing spaces are dropped when the file is read",
                );
            }
        }
        Kind::Acl => {}
    }
    Ok(())
}

/// What a `show map` or `show acl` without an argument lists: one pattern reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatternRef {
    /// The unique id, for `show map #ID`. Maps and ACLs share the numbering.
    pub id: i64,
    /// The file it was loaded from; empty for patterns written inline in the configuration.
    pub file: String,
    /// HAProxy's description: where it is loaded from and used.
    pub description: String,
    /// The version in use (`curr_ver`) and the one being prepared (`next_ver`).
    pub current_version: u32,
    pub next_version: u32,
    /// The number of entries (`entry_cnt`).
    pub entries: u64,
}

/// One entry of a map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapEntry {
    /// The entry's reference, as HAProxy prints it (`0x55d0c0a3e420`).
    pub pointer: String,
    pub key: String,
    /// The value; a map line without one (possible with `add map` payloads) has `null`.
    pub value: Option<String>,
}

/// One entry of an ACL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AclEntry {
    pub pointer: String,
    pub pattern: String,
}

const LIST_HEADER: &[u8] = b"# id (file) description";

/// Reads the reply of `show map` or `show acl` without an argument, every line typed (the
/// views; [`parse_list`] keeps only what a reload compares).
pub fn parse_refs(reply: &[u8]) -> Result<Vec<PatternRef>, ParseError> {
    let first = text::first_line(reply)?;
    if first != LIST_HEADER {
        return Err(ParseError::NotThisOutput {
            expected: "show map",
            found: excerpt(first),
        });
    }
    let body = text::body_lines(reply)?;
    body.get(1..)
        .unwrap_or_default()
        .iter()
        .map(|line| list_line(line.text).ok_or_else(|| bad_line(line)))
        .collect()
}

/// `ID (FILE) DESCRIPTION. curr_ver=N next_ver=N entry_cnt=N`; the counters are read from the
/// end, since the description is free text.
fn list_line(line: &[u8]) -> Option<PatternRef> {
    let line = std::str::from_utf8(line).ok()?;
    let (rest, entries) = line.rsplit_once(" entry_cnt=")?;
    let (rest, next_version) = rest.rsplit_once(" next_ver=")?;
    let (rest, current_version) = rest.rsplit_once(". curr_ver=")?;
    let (id, rest) = rest.split_once(" (")?;
    let (file, description) = rest.split_once(") ")?;
    Some(PatternRef {
        id: canonical(id)?,
        file: file.to_string(),
        description: description.to_string(),
        current_version: canonical(current_version)?,
        next_version: canonical(next_version)?,
        entries: canonical(entries)?,
    })
}

/// A number as HAProxy prints one: digits (with a `-` for signed ones), no `+`, no spaces.
fn canonical<T: std::str::FromStr>(text: &str) -> Option<T> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Reads the reply of `show map MAP`. A key is one word (HAProxy reads map files that way);
/// the value is the rest of the line, spaces included.
pub fn parse_map(reply: &[u8]) -> Result<Vec<MapEntry>, ParseError> {
    entries(reply, "show map MAP", |pointer, rest| {
        let (key, value) = match rest.split_once(' ') {
            Some((key, value)) => (key, Some(value.to_string())),
            None => (rest, None),
        };
        (!key.is_empty()).then(|| MapEntry {
            pointer,
            key: key.to_string(),
            value,
        })
    })
}

/// Reads the reply of `show acl ACL`: the pattern is the rest of the line.
pub fn parse_acl(reply: &[u8]) -> Result<Vec<AclEntry>, ParseError> {
    entries(reply, "show acl ACL", |pointer, rest| {
        Some(AclEntry {
            pointer,
            pattern: rest.to_string(),
        })
    })
}

/// Lines of `POINTER REST`; an empty list is the blank line alone.
fn entries<T>(
    reply: &[u8],
    expected: &'static str,
    entry: impl Fn(String, &str) -> Option<T>,
) -> Result<Vec<T>, ParseError> {
    let first = text::first_line(reply)?;
    if !first.is_empty() && pointer_of(first).is_none() {
        return Err(ParseError::NotThisOutput {
            expected,
            found: excerpt(first),
        });
    }
    text::body_lines(reply)?
        .iter()
        .map(|line| {
            let parsed = pointer_of(line.text).and_then(|(pointer, rest)| {
                let rest = std::str::from_utf8(rest).ok()?;
                entry(pointer, rest)
            });
            parsed.ok_or_else(|| bad_line(line))
        })
        .collect()
}

/// `0x55d0c0a3e420 rest` into the pointer and the rest.
fn pointer_of(line: &[u8]) -> Option<(String, &[u8])> {
    let at = line.iter().position(|&b| b == b' ')?;
    let (pointer, rest) = line.split_at(at);
    let rest = &rest[1..];
    is_pointer(pointer).then(|| (String::from_utf8_lossy(pointer).into_owned(), rest))
}

/// `0x` and hex digits, as `%p` prints a pointer.
pub(crate) fn is_pointer(text: &[u8]) -> bool {
    text.strip_prefix(b"0x")
        .is_some_and(|hex| !hex.is_empty() && hex.iter().all(u8::is_ascii_hexdigit))
}

fn bad_line(line: &text::Line<'_>) -> ParseError {
    ParseError::BadLine {
        line: line.number,
        found: excerpt(line.text),
    }
}

/// The command for a map or ACL: the list without a name, else its entries. `name` is a file
/// name or `#ID`, one word.
pub fn command(kind: Kind, name: Option<&str>) -> Result<String, super::BadName> {
    let word = kind.word();
    Ok(match name {
        None => format!("show {word}"),
        Some(name) => format!("show {word} {}", super::check_name(name)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> Vec<Entry> {
        pairs
            .iter()
            .map(|(k, v)| Entry {
                key: k.as_bytes().to_vec(),
                value: Some(v.as_bytes().to_vec()),
            })
            .collect()
    }

    fn acl(patterns: &[&str]) -> Vec<Entry> {
        patterns
            .iter()
            .map(|p| Entry {
                key: p.as_bytes().to_vec(),
                value: None,
            })
            .collect()
    }

    #[test]
    fn map_file_syntax() {
        let text = b"# comment\n\n  \t\nexample.com be1\n  www.example.com \t be2 with space \t\n #x y\nlone\ncr value\r\n";
        assert_eq!(
            parse_file(Kind::Map, text),
            map(&[
                ("example.com", "be1"),
                ("www.example.com", "be2 with space"),
                // Only the first column starts a comment.
                ("#x", "y"),
                ("lone", ""),
                ("cr", "value"),
            ])
        );
    }

    #[test]
    fn acl_file_syntax() {
        let text = b"/admin\n  /secret path \n# c\n\n #not a comment";
        assert_eq!(
            parse_file(Kind::Acl, text),
            acl(&["/admin", "/secret path ", "#not a comment"])
        );
    }

    #[test]
    fn lists_of_files_from_2_6_and_2_8() {
        let reply = b"# id (file) description\n\
5 (/etc/haproxy/hosts.map) pattern loaded from file '/etc/haproxy/hosts.map' used by map at file 'h.cfg' line 14. curr_ver=0 next_ver=0 entry_cnt=2\n\
1 () acl 'path_beg' file 'h.cfg' line 12. curr_ver=0 next_ver=0 entry_cnt=0\n\
3 () acl 'var' file 'httpclient' line 0. curr_ver=0 next_ver=0 entry_cnt=1\n\
7 (maps/a (b).map) pattern loaded from file 'maps/a (b).map' used by map at file 'h.cfg' line 3\n\n";
        assert_eq!(
            parse_list(reply),
            [
                Listed {
                    id: 5,
                    file: "/etc/haproxy/hosts.map".into()
                },
                Listed {
                    id: 7,
                    file: "maps/a (b).map".into()
                }
            ]
        );
    }

    #[test]
    fn entries_as_the_runtime_api_lists_them() {
        let reply = b"0x560def440330 example.com be1\n0x1acc4110 www.example.com be2 with space\n0x1 k \n\n";
        assert_eq!(
            parse_entries(Kind::Map, reply).unwrap(),
            map(&[
                ("example.com", "be1"),
                ("www.example.com", "be2 with space"),
                ("k", "")
            ])
        );
        assert_eq!(
            parse_entries(Kind::Acl, b"0x560def42b300 /secret path\n").unwrap(),
            acl(&["/secret path"])
        );
        let err = parse_entries(
            Kind::Map,
            b"Unknown map identifier. Please use #<id> or <file>.\n",
        );
        assert!(err.unwrap_err().0.contains("Unknown map identifier"));
        assert_eq!(parse_entries(Kind::Acl, b"\n").unwrap(), []);
    }

    #[test]
    fn differences_are_counted() {
        let file = map(&[("a", "1"), ("b", "2"), ("c", "3")]);
        assert_eq!(Difference::between(&file, &file), None);
        let running = map(&[("a", "1"), ("b", "20"), ("d", "4")]);
        assert_eq!(
            Difference::between(&running, &file),
            Some(Difference {
                only_running: 1,
                only_in_file: 1,
                changed: 1
            })
        );
        // The same entries in another order still load otherwise.
        let reordered = map(&[("b", "2"), ("a", "1"), ("c", "3")]);
        assert_eq!(
            Difference::between(&reordered, &file),
            Some(Difference::default())
        );
    }

    #[test]
    fn a_synced_file_keeps_comments_and_untouched_lines() {
        let original = b"# hosts\nexample.com\tbe1   # not a comment\n\n  old.example.com be_old\nkeep.example.com be_keep\n";
        let running = map(&[
            ("example.com", "be1   # not a comment"),
            ("keep.example.com", "be_changed"),
            ("new.example.com", "be_new"),
            ("#hash", "v"),
        ]);
        let text = synced(Kind::Map, original, &running).unwrap();
        assert_eq!(
            String::from_utf8(text.clone()).unwrap(),
            "# hosts\nexample.com\tbe1   # not a comment\n\nkeep.example.com be_changed\nnew.example.com be_new\n #hash v\n"
        );
        assert_eq!(parse_file(Kind::Map, &text), running);
    }

    #[test]
    fn an_added_entry_goes_where_it_runs() {
        let original = b"a 1\nc 3\n";
        let running = map(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let text = synced(Kind::Map, original, &running).unwrap();
        assert_eq!(text, b"a 1\nb 2\nc 3\n");
        // Reordered: comments first, then the running order.
        let original = b"# x\nb 2\na 1\n";
        let running = map(&[("a", "1"), ("b", "2")]);
        let text = synced(Kind::Map, original, &running).unwrap();
        assert_eq!(parse_file(Kind::Map, &text), running);
        assert!(text.starts_with(b"# x\n"));
    }

    #[test]
    fn entries_a_file_cannot_hold_are_refused() {
        for (key, value) in [
            ("a b", "v"),
            ("", "v"),
            ("k", " v"),
            ("k", "v "),
            ("k\n", "v"),
        ] {
            let running = map(&[(key, value)]);
            assert!(
                synced(Kind::Map, b"", &running).is_err(),
                "{key:?} {value:?}"
            );
        }
        assert!(synced(Kind::Acl, b"", &acl(&[" lead"])).is_err());
        let ok = acl(&["with space ", "#hash"]);
        let text = synced(Kind::Acl, b"", &ok).unwrap();
        assert_eq!(parse_file(Kind::Acl, &text), ok);
    }

    proptest::proptest! {
        #[test]
        fn no_input_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            for kind in [Kind::Map, Kind::Acl] {
                let _ = parse_file(kind, &bytes);
                let _ = parse_entries(kind, &bytes);
                let _ = parse_list(&bytes);
            }
        }

        /// Whatever the file held, a synced file loads exactly the running entries.
        #[test]
        fn a_synced_file_loads_what_runs(
            original in "(#?[a-c ]{0,3}( [a-c]{0,2})?\n){0,8}",
            keys in proptest::collection::vec(("[a-c#]{1,2}", "[a-c]{0,2}"), 0..6),
        ) {
            let running: Vec<Entry> = keys
                .iter()
                .map(|(k, v)| Entry { key: k.as_bytes().to_vec(), value: Some(v.as_bytes().to_vec()) })
                .collect();
            let text = synced(Kind::Map, original.as_bytes(), &running).unwrap();
            proptest::prop_assert_eq!(parse_file(Kind::Map, &text), running);
        }
    }
}

#[cfg(test)]
mod view_tests {
    use super::*;

    #[test]
    fn lists_of_every_version() {
        for (reply, id) in [
            (reply!("2.6", "stats_show_map"), 2),
            (reply!("2.8", "stats_show_map"), 2),
            (reply!("3.4", "stats_show_map"), 2),
            (reply!("2.6", "master_at1_show_map"), 2),
        ] {
            let maps = parse_refs(reply).unwrap();
            let [map] = &maps[..] else { panic!("{maps:?}") };
            assert_eq!(map.id, id);
            assert_eq!(map.file, "/etc/haproxy/hosts.map");
            assert!(
                map.description
                    .starts_with("pattern loaded from file '/etc/haproxy/hosts.map' used by map"),
                "{map:?}"
            );
            assert!(!map.description.ends_with('.'));
            assert_eq!(
                (map.current_version, map.next_version, map.entries),
                (0, 0, 3)
            );
        }
        for version in ["2.6", "2.8", "3.4"] {
            let reply = match version {
                "2.6" => reply!("2.6", "stats_show_acl"),
                "2.8" => reply!("2.8", "stats_show_acl"),
                _ => reply!("3.4", "stats_show_acl"),
            };
            let acls = parse_refs(reply).unwrap();
            assert_eq!(acls[0].file, "/etc/haproxy/allow.acl", "{version}");
            assert_eq!(acls[0].entries, 2);
            // An inline ACL has no file.
            assert_eq!(acls[1].file, "");
            assert!(acls[1].description.starts_with("acl 'src' file"));
        }
        assert_eq!(parse_refs(b"# id (file) description\n\n"), Ok(vec![]));
    }

    #[test]
    fn entries_of_every_version() {
        for reply in [
            reply!("2.6", "stats_show_map_hosts"),
            reply!("2.8", "stats_show_map_hosts"),
            reply!("3.4", "stats_show_map_hosts"),
        ] {
            let map = parse_map(reply).unwrap();
            let keys: Vec<(&str, Option<&str>)> = map
                .iter()
                .map(|e| (e.key.as_str(), e.value.as_deref()))
                .collect();
            assert_eq!(
                keys,
                [
                    ("/api", Some("be_api")),
                    ("/static", Some("be_static")),
                    ("example.com", Some("10"))
                ]
            );
            assert!(map[0].pointer.starts_with("0x"));
        }
        for reply in [
            reply!("2.6", "stats_show_acl_allow"),
            reply!("2.8", "stats_show_acl_id0"),
            reply!("3.4", "stats_show_acl_allow"),
        ] {
            let acl = parse_acl(reply).unwrap();
            let patterns: Vec<&str> = acl.iter().map(|e| e.pattern.as_str()).collect();
            assert_eq!(patterns, ["10.0.0.0/8", "192.168.1.1"]);
        }
        // An empty map is the blank line alone: no entries, not an error.
        assert_eq!(parse_map(b"\n"), Ok(vec![]));
        assert_eq!(parse_acl(b"\n"), Ok(vec![]));
        // A value with spaces stays whole.
        let map = parse_map(b"0x1 k a b\n0x2 lonely\n\n").unwrap();
        assert_eq!(map[0].value.as_deref(), Some("a b"));
        assert_eq!(map[1].value, None);
    }

    #[test]
    fn other_replies_are_rejected() {
        for reply in [
            reply!("2.6", "stats_show_map_nosuch"),
            reply!("2.6", "stats_show_acl_nosuch"),
            reply!("2.6", "stats_show_table"),
            reply!("2.6", "stats_show_info"),
        ] {
            assert!(
                matches!(parse_map(reply), Err(ParseError::NotThisOutput { .. })),
                "{:?}",
                parse_map(reply)
            );
            assert!(matches!(
                parse_refs(reply),
                Err(ParseError::NotThisOutput { .. })
            ));
        }
        assert_eq!(parse_refs(b""), Err(ParseError::Empty));
        let reply = reply!("2.8", "stats_show_map_hosts");
        for end in 0..reply.len() {
            assert!(parse_map(&reply[..end]).is_err(), "cut at {end}");
        }
        let reply = reply!("2.6", "stats_show_acl");
        for end in 0..reply.len() {
            assert!(parse_refs(&reply[..end]).is_err(), "cut at {end}");
        }
        assert!(matches!(
            parse_map(b"0x1 a b\nnot an entry\n\n"),
            Err(ParseError::BadLine { line: 2, .. })
        ));
        assert!(matches!(
            parse_refs(b"# id (file) description\n2 (x) y. curr_ver=0 next_ver=0 entry_cnt=+3\n\n"),
            Err(ParseError::BadLine { line: 2, .. })
        ));
    }

    #[test]
    fn commands() {
        assert_eq!(command(Kind::Map, None).unwrap(), "show map");
        assert_eq!(command(Kind::Acl, Some("#3")).unwrap(), "show acl #3");
        assert!(command(Kind::Map, Some("a;b")).is_err());
        assert!(command(Kind::Map, Some("a b")).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_refs(&bytes);
            let _ = parse_map(&bytes);
            let _ = parse_acl(&bytes);
        }
    }
}
