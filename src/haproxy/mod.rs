//! What sockctl knows about HAProxy: parsers for the replies of its runtime API and master CLI
//! (one module per output), and the jobs built on them (saving server state, reloading).
//!
//! Each parser takes the complete reply bytes of one command (what the server sent before EOF,
//! without any prompt) and either returns a typed view or says precisely what was wrong. Columns
//! are always looked up by the names in the header the server sent, never by position, so the
//! same code reads 2.6 and 3.x output. Nothing here panics on any input.

use std::fmt;
use std::sync::Arc;

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// A recorded reply from `tests/fixtures/haproxy/VERSION/NAME.reply`, for the parsers' tests.
#[cfg(test)]
macro_rules! reply {
    ($version:literal, $name:literal) => {
        &include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/haproxy/",
            $version,
            "/",
            $name,
            ".reply"
        ))[..]
    };
}

pub mod batch;
pub mod cert;
pub mod command;
pub mod config;
pub mod declared;
pub mod discover;
pub mod framing;
pub mod info;
pub mod losses;
pub mod master;
pub mod operate;
pub mod outcome;
pub mod patterns;
pub mod proc_list;
pub mod reload;
pub mod route;
pub mod running;
pub mod save_state;
pub mod servers_state;
pub mod sess;
pub mod session;
pub mod stat;
pub mod table;
mod text;

pub use command::{BadName, check_name};
pub use info::Info;
pub use outcome::{Failure, Outcome, Tags};
pub use proc_list::{ProcList, Process};
pub use route::Route;
pub use servers_state::{
    ServerState, ServersState, StateError, StateSummary, StateValidator, ValidatingWriter,
};
pub use stat::{Stat, StatRow};

/// Why a reply could not be read as the output that was asked for. Line numbers start at 1;
/// `found` texts are escaped and cut to about 80 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The reply had no bytes at all.
    Empty,
    /// The first line is not how this output starts (typically an error message).
    NotThisOutput {
        expected: &'static str,
        found: String,
    },
    /// The reply stops in the middle of a line.
    Truncated { line: usize },
    /// The reply stops after a complete line but without the blank line that ends it.
    Unterminated { line: usize },
    /// Bytes follow the blank line that ends the output (a prompt, a second reply).
    TrailingData { line: usize, found: String },
    /// A line that fits nowhere in this output.
    BadLine { line: usize, found: String },
    /// A row does not have as many fields as the header.
    FieldCount {
        line: usize,
        expected: usize,
        found: usize,
    },
    /// A field that must hold a number (or similar) holds something else.
    BadValue {
        line: usize,
        field: String,
        found: String,
    },
    /// The header lacks a column this parser needs.
    MissingColumn { name: &'static str },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => f.write_str("the reply is empty"),
            ParseError::NotThisOutput { expected, found } => {
                write!(f, "not a '{expected}' reply: it starts with \"{found}\"")
            }
            ParseError::Truncated { line } => {
                write!(f, "the reply is truncated: line {line} has no end of line")
            }
            ParseError::Unterminated { line } => write!(
                f,
                "the reply is incomplete: it stops after line {line} without the closing blank line"
            ),
            ParseError::TrailingData { line, found } => write!(
                f,
                "unexpected bytes after the closing blank line, at line {line}: \"{found}\""
            ),
            ParseError::BadLine { line, found } => {
                write!(f, "line {line} is not valid here: \"{found}\"")
            }
            ParseError::FieldCount {
                line,
                expected,
                found,
            } => write!(
                f,
                "line {line} has {found} fields but the header has {expected}"
            ),
            ParseError::BadValue { line, field, found } => {
                write!(f, "line {line}: invalid {field} \"{found}\"")
            }
            ParseError::MissingColumn { name } => {
                write!(f, "the header has no '{name}' column")
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// One value of `show stat` or `show info`: empty, a whole number, or anything else as text.
///
/// Only canonical integers become `Int` (no sign other than `-`, no leading zeros), so the text
/// the server sent can always be rebuilt; integers beyond `i64` stay `Text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl Value {
    pub fn from_bytes(bytes: &[u8]) -> Value {
        if bytes.is_empty() {
            return Value::Null;
        }
        if is_canonical_int(bytes) {
            if let Some(n) = std::str::from_utf8(bytes).ok().and_then(|s| s.parse().ok()) {
                return Value::Int(n);
            }
        }
        Value::Text(String::from_utf8_lossy(bytes).into_owned())
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// `0`, or an optional `-` and digits without a leading zero.
fn is_canonical_int(bytes: &[u8]) -> bool {
    match bytes.strip_prefix(b"-").unwrap_or(bytes) {
        [b'0'] => bytes.len() == 1,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Int(n) => write!(f, "{n}"),
            Value::Text(s) => f.write_str(s),
        }
    }
}

/// The values of one row, keyed by the header they came with.
///
/// The header names are shared by all rows of a reply rather than copied into each, so a reply
/// with a long header and many short rows cannot make the result much larger than the input.
/// Serializes as an object in header order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields<V> {
    names: Arc<[String]>,
    values: Vec<V>,
}

impl<V> Fields<V> {
    /// `values` must be as long as `names`; the parsers check it before calling.
    fn new(names: Arc<[String]>, values: Vec<V>) -> Self {
        Fields { names, values }
    }

    /// The value under the first column called `name`.
    pub fn get(&self, name: &str) -> Option<&V> {
        let index = self.names.iter().position(|n| n == name)?;
        self.values.get(index)
    }

    /// Every (column, value) pair in header order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.names
            .iter()
            .map(String::as_str)
            .zip(self.values.iter())
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl<V: Serialize> Serialize for Fields<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.values.len()))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_the_text_they_came_from() {
        let cases: [(&[u8], Value); 9] = [
            (b"", Value::Null),
            (b"0", Value::Int(0)),
            (b"-1", Value::Int(-1)),
            (b"9223372036854775807", Value::Int(i64::MAX)),
            (
                b"9223372036854775808",
                Value::Text("9223372036854775808".into()),
            ),
            (b"007", Value::Text("007".into())),
            (b"+5", Value::Text("+5".into())),
            (b"-0", Value::Text("-0".into())),
            (b"1.5", Value::Text("1.5".into())),
        ];
        for (bytes, value) in cases {
            assert_eq!(Value::from_bytes(bytes), value);
            assert_eq!(value.to_string().as_bytes(), bytes);
        }
    }

    #[test]
    fn values_as_json() {
        let values = vec![Value::Null, Value::Int(-3), Value::Text("UP".into())];
        let json = serde_json::to_string(&values).unwrap();
        assert_eq!(json, r#"[null,-3,"UP"]"#);
        let back: Vec<Value> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, values);
    }

    /// Every recorded reply, whole and cut short, through every parser: errors are fine, panics
    /// are not.
    #[test]
    fn no_recorded_reply_makes_a_parser_panic() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/haproxy");
        let mut seen = 0;
        for version in ["2.6", "2.8", "3.4"] {
            for entry in std::fs::read_dir(root.join(version)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|e| e != "reply") {
                    continue;
                }
                let reply = std::fs::read(&path).unwrap();
                // Every byte of the short replies, a few hundred cuts of the long ones.
                let step = (reply.len() / 256).max(1);
                for end in (0..reply.len()).step_by(step).chain([reply.len()]) {
                    let cut = &reply[..end];
                    let _ = proc_list::parse(cut);
                    let _ = servers_state::parse(cut);
                    let _ = stat::parse(cut);
                    let _ = info::parse(cut);
                    let _ = patterns::parse_refs(cut);
                    let _ = patterns::parse_map(cut);
                    let _ = patterns::parse_acl(cut);
                    let _ = table::parse_list(cut);
                    let _ = table::parse(cut);
                    let _ = sess::parse(cut);
                    let _ = cert::parse_list(cut);
                    let _ = cert::parse(cut);
                    let _ = outcome::read(cut, Tags::Plain);
                    let _ = outcome::read(cut, Tags::Tagged);
                    let _ = outcome::read(cut, Tags::TaggedSession);
                }
                seen += 1;
            }
        }
        assert!(seen > 300, "{seen} replies");
    }
}
