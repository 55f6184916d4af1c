//! `show stat`: CSV with a `# pxname,svname,…` header, one row per frontend, backend, server
//! and listener, each line ending in a comma, then a blank line.
//!
//! Text values that contain a comma, a quote or a line break arrive quoted (`"a,b"`, `""` for a
//! quote), so a row may span several lines. A column named `-` separates the fixed fields from
//! those of statistics modules and is kept like any other column.

use std::sync::Arc;

use serde::{Serialize, Serializer};

use super::text::{self, excerpt};
use super::{BadName, Fields, ParseError, Value, check_name};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stat {
    /// The header as sent, without the leading `# ` and trailing comma.
    pub fields: Vec<String>,
    pub rows: Vec<StatRow>,
}

/// One row, its values keyed by the header. Serializes as an object in header order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatRow {
    values: Fields<Value>,
}

/// What a row describes, from its `type` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Frontend,
    Backend,
    Server,
    Listener,
}

impl Kind {
    /// The bit of this kind in the `<type>` argument of `show stat`.
    fn mask(self) -> u32 {
        match self {
            Kind::Frontend => 1,
            Kind::Backend => 2,
            Kind::Server => 4,
            Kind::Listener => 8,
        }
    }
}

/// `show stat`, filtered by the server when a proxy or kinds are given:
/// `show stat <proxy|-1> <type mask|-1> -1`. An unknown proxy is then an error
/// (`No such proxy.`) rather than an unfiltered dump.
pub fn command(proxy: Option<&str>, kinds: &[Kind]) -> Result<String, BadName> {
    if proxy.is_none() && kinds.is_empty() {
        return Ok("show stat".into());
    }
    let proxy = match proxy {
        Some(name) => check_name(name)?.to_string(),
        None => "-1".into(),
    };
    let mask = kinds.iter().fold(0, |mask, kind| mask | kind.mask());
    let mask = if mask == 0 {
        "-1".to_string()
    } else {
        mask.to_string()
    };
    Ok(format!("show stat {proxy} {mask} -1"))
}

impl StatRow {
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.values.get(field)
    }

    /// `pxname`
    pub fn proxy(&self) -> Option<&str> {
        self.get("pxname").and_then(Value::as_str)
    }

    /// `svname`: a server name, or `FRONTEND`, `BACKEND`, or a listener name.
    pub fn name(&self) -> Option<&str> {
        self.get("svname").and_then(Value::as_str)
    }

    pub fn kind(&self) -> Option<Kind> {
        match self.get("type")?.as_int()? {
            0 => Some(Kind::Frontend),
            1 => Some(Kind::Backend),
            2 => Some(Kind::Server),
            3 => Some(Kind::Listener),
            _ => None,
        }
    }

    pub fn fields(&self) -> &Fields<Value> {
        &self.values
    }
}

impl Serialize for StatRow {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.values.serialize(serializer)
    }
}

const EXPECTED: &str = "show stat";

/// Columns that hold names, always text whatever they look like.
const NAME_FIELDS: &[&str] = &["pxname", "svname"];

pub fn parse(reply: &[u8]) -> Result<Stat, ParseError> {
    let (fields, rows) = rows(reply)?;
    let rows = rows.collect::<Result<Vec<_>, _>>()?;
    Ok(Stat { fields, rows })
}

/// The header's names and the rows, parsed one at a time as they are taken: the first error
/// ends the rows.
pub fn rows(reply: &[u8]) -> Result<(Vec<String>, Rows<'_>), ParseError> {
    let first = text::first_line(reply)?;
    // Every header ends with a comma; other `# ` lines (`show table`) do not.
    let header = first.strip_prefix(b"# ").and_then(|h| h.strip_suffix(b","));
    let Some(header) = header else {
        return Err(ParseError::NotThisOutput {
            expected: EXPECTED,
            found: excerpt(first),
        });
    };
    let Some(rest) = reply.get(first.len() + 1..) else {
        return Err(ParseError::Truncated { line: 1 });
    };
    let fields: Vec<String> = header
        .split(|&b| b == b',')
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect();
    let names: Arc<[String]> = fields.clone().into();
    // A proxy called `8080` or a server called `2` is a name, not a number.
    let name_columns: Vec<usize> = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| NAME_FIELDS.contains(&f.as_str()))
        .map(|(i, _)| i)
        .collect();
    let rows = Rows {
        names,
        name_columns,
        rest,
        line: 2,
        done: false,
    };
    Ok((fields, rows))
}

/// The rows of a `show stat` reply, parsed as they are taken (see [`rows`]).
pub struct Rows<'a> {
    names: Arc<[String]>,
    name_columns: Vec<usize>,
    rest: &'a [u8],
    line: usize,
    done: bool,
}

impl Iterator for Rows<'_> {
    type Item = Result<StatRow, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let result = self.next_row();
        if !matches!(result, Some(Ok(_))) {
            self.done = true;
        }
        result
    }
}

impl Rows<'_> {
    fn next_row(&mut self) -> Option<Result<StatRow, ParseError>> {
        let line = self.line;
        match self.rest.first() {
            None => return Some(Err(ParseError::Unterminated { line: line - 1 })),
            Some(b'\n') => {
                let after = self.rest.get(1..).unwrap_or_default();
                if after.is_empty() {
                    return None;
                }
                return Some(Err(ParseError::TrailingData {
                    line: line + 1,
                    found: excerpt(text::first_line(after).unwrap_or_default()),
                }));
            }
            Some(_) => {}
        }
        let mut record = match read_record(self.rest, line) {
            Ok(record) => record,
            Err(e) => return Some(Err(e)),
        };
        for &i in &self.name_columns {
            if let Some(value @ Value::Int(_)) = record.values.get_mut(i) {
                *value = Value::Text(value.as_int().unwrap_or_default().to_string());
            }
        }
        if record.values.len() != self.names.len() {
            return Some(Err(ParseError::FieldCount {
                line,
                expected: self.names.len(),
                found: record.values.len(),
            }));
        }
        self.rest = self.rest.get(record.consumed..).unwrap_or_default();
        self.line += record.lines;
        Some(Ok(StatRow {
            values: Fields::new(Arc::clone(&self.names), record.values),
        }))
    }
}

/// A whole `show stat` reply, checked, that serializes as [`Stat`] does while parsing each
/// row again as it is written: the memory of one row rather than of every row.
pub struct StatStream<'a> {
    fields: Vec<String>,
    reply: &'a [u8],
}

/// Checks every row of `reply`, keeping none, for [`StatStream`]'s serialization.
pub fn stream(reply: &[u8]) -> Result<StatStream<'_>, ParseError> {
    let (fields, rows) = rows(reply)?;
    for row in rows {
        row?;
    }
    Ok(StatStream { fields, reply })
}

impl Serialize for StatStream<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeStruct};

        struct Lazy<'a>(&'a [u8]);
        impl Serialize for Lazy<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let (_, rows) = rows(self.0).map_err(S::Error::custom)?;
                let mut failed = None;
                let ok = rows.map_while(|row| row.map_err(|e| failed = Some(e)).ok());
                let done = serializer.collect_seq(ok)?;
                match failed {
                    Some(e) => Err(S::Error::custom(e)),
                    None => Ok(done),
                }
            }
        }
        let mut stat = serializer.serialize_struct("Stat", 2)?;
        stat.serialize_field("fields", &self.fields)?;
        stat.serialize_field("rows", &Lazy(self.reply))?;
        stat.end()
    }
}

struct Record {
    values: Vec<Value>,
    /// Bytes used, including the final `\n`.
    consumed: usize,
    /// Physical lines used (more than one when a quoted value holds a line break).
    lines: usize,
}

/// Reads one CSV row starting at `input[0]`, which is not `\n`. A comma right before the end
/// of line ends the row rather than starting an empty last value, as HAProxy ends every line
/// with one.
fn read_record(input: &[u8], line: usize) -> Result<Record, ParseError> {
    let mut values = Vec::new();
    let mut pos = 0;
    let mut lines = 1;
    let bad = |pos: usize| {
        let start = input.get(..pos).unwrap_or_default();
        let from = start.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let text = input.get(from..).unwrap_or_default();
        let end = text.iter().position(|&b| b == b'\n').unwrap_or(text.len());
        ParseError::BadLine {
            line,
            found: excerpt(text.get(..end).unwrap_or_default()),
        }
    };
    loop {
        let mut value = Vec::new();
        if input.get(pos) == Some(&b'"') {
            pos += 1;
            loop {
                match input.get(pos) {
                    None => {
                        return Err(ParseError::Truncated {
                            line: line + lines - 1,
                        });
                    }
                    Some(b'"') if input.get(pos + 1) == Some(&b'"') => {
                        value.push(b'"');
                        pos += 2;
                    }
                    Some(b'"') => {
                        pos += 1;
                        break;
                    }
                    Some(&b) => {
                        if b == b'\n' {
                            lines += 1;
                        }
                        value.push(b);
                        pos += 1;
                    }
                }
            }
        } else {
            let tail = input.get(pos..).unwrap_or_default();
            let len = tail
                .iter()
                .position(|&b| b == b',' || b == b'\n' || b == b'"')
                .unwrap_or(tail.len());
            value.extend_from_slice(tail.get(..len).unwrap_or_default());
            pos += len;
        }
        values.push(Value::from_bytes(&value));
        match input.get(pos) {
            None => {
                return Err(ParseError::Truncated {
                    line: line + lines - 1,
                });
            }
            Some(b',') => {
                pos += 1;
                if input.get(pos) == Some(&b'\n') {
                    pos += 1;
                    break;
                }
                if pos == input.len() {
                    return Err(ParseError::Truncated {
                        line: line + lines - 1,
                    });
                }
            }
            Some(b'\n') => {
                pos += 1;
                break;
            }
            Some(_) => return Err(bad(pos)),
        }
    }
    Ok(Record {
        values,
        consumed: pos,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_json_is_the_parsed_json() {
        for reply in [
            reply!("2.6", "stats_show_stat"),
            reply!("3.4", "stats_show_stat"),
        ] {
            let whole = serde_json::to_string_pretty(&parse(reply).unwrap()).unwrap();
            let streamed = serde_json::to_string_pretty(&stream(reply).unwrap()).unwrap();
            assert_eq!(streamed, whole);
        }
        // A bad row is found before anything is written.
        assert!(stream(b"# a,b,\n1,2,\n3,\n\n").is_err());
        assert!(stream(b"# a,b,\n1,2,\n").is_err());
    }

    #[test]
    fn recorded_show_stat_parses() {
        for reply in [
            reply!("2.6", "stats_show_stat"),
            reply!("3.4", "stats_show_stat"),
        ] {
            let stat = parse(reply).unwrap();
            assert_eq!(stat.fields[0], "pxname");
            assert!(stat.fields.len() > 100);
            assert!(stat.fields.contains(&"-".to_string()));
            let names: Vec<_> = stat.rows.iter().map(|r| r.name().unwrap()).collect();
            assert_eq!(
                names,
                [
                    "FRONTEND", "s1", "s2", "s3", "tpl1", "tpl2", "tpl3", "tpl4", "tpl5", "BACKEND"
                ]
            );
            let kinds: Vec<_> = stat.rows.iter().map(|r| r.kind().unwrap()).collect();
            assert_eq!(kinds[0], Kind::Frontend);
            assert_eq!(kinds[1], Kind::Server);
            assert_eq!(kinds[9], Kind::Backend);
            let s3 = &stat.rows[3];
            assert_eq!(s3.proxy(), Some("be_app"));
            assert_eq!(s3.get("status"), Some(&Value::Text("DOWN".into())));
            assert_eq!(s3.get("check_status"), Some(&Value::Text("L4CON".into())));
            assert_eq!(s3.get("qlimit"), Some(&Value::Null));
            assert_eq!(s3.get("sid"), Some(&Value::Int(3)));
            assert_eq!(s3.get("lastsess"), Some(&Value::Int(-1)));
            assert_eq!(s3.get("no such field"), None);
            assert_eq!(
                stat.rows[1].get("status"),
                Some(&Value::Text("no check".into()))
            );
        }
        // The 3.4 header is longer, and `-` sits at another place.
        let old = parse(reply!("2.6", "stats_show_stat")).unwrap();
        let new = parse(reply!("3.4", "stats_show_stat")).unwrap();
        assert!(new.fields.len() > old.fields.len());
        assert_eq!(
            new.rows[1].get("addr"),
            Some(&Value::Text("127.0.0.1:19341".into()))
        );
        assert_eq!(new.rows[1].get("proto"), Some(&Value::Null));
    }

    #[test]
    fn commands_filter_on_the_server() {
        assert_eq!(command(None, &[]).unwrap(), "show stat");
        assert_eq!(
            command(Some("be_app"), &[]).unwrap(),
            "show stat be_app -1 -1"
        );
        assert_eq!(
            command(None, &[Kind::Backend, Kind::Server]).unwrap(),
            "show stat -1 6 -1"
        );
        assert_eq!(
            command(Some("fe"), &[Kind::Frontend]).unwrap(),
            "show stat fe 1 -1"
        );
        for bad in ["", "a b", "a;b", "a\\b"] {
            assert!(command(Some(bad), &[]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn json_rows_are_objects_in_header_order() {
        let stat = parse(reply!("2.6", "stats_show_stat")).unwrap();
        let json = serde_json::to_string(&stat.rows[3]).unwrap();
        assert!(json.starts_with(r#"{"pxname":"be_app","svname":"s3","qcur":0,"#));
        assert!(json.contains(r#""slim":null"#));
        let value = serde_json::to_value(&stat).unwrap();
        assert_eq!(value["rows"][0]["svname"], "FRONTEND");
        assert_eq!(value["fields"][1], "svname");
    }

    #[test]
    fn names_that_look_like_numbers_stay_names() {
        let stat = parse(b"# pxname,svname,weight,\n8080,2,10,\n8080,BACKEND,10,\n\n").unwrap();
        let row = &stat.rows[0];
        assert_eq!(row.proxy(), Some("8080"));
        assert_eq!(row.name(), Some("2"));
        assert_eq!(row.get("weight").and_then(Value::as_int), Some(10));
        let json = serde_json::to_value(row).unwrap();
        assert_eq!(json["pxname"], "8080");
        assert_eq!(json["svname"], "2");
        assert_eq!(json["weight"], 10);
        // The comma that ends every line is not an empty last column.
        assert_eq!(stat.fields, ["pxname", "svname", "weight"]);
    }

    #[test]
    fn quoted_values() {
        let reply = b"# pxname,svname,check_desc,type,\n\
            be,s1,\"says \"\"no\"\", then, a\nsecond line\",2,\n\
            be,s2,plain,2,\n\n";
        let stat = parse(reply).unwrap();
        assert_eq!(
            stat.rows[0].get("check_desc"),
            Some(&Value::Text("says \"no\", then, a\nsecond line".into()))
        );
        assert_eq!(stat.rows[1].name(), Some("s2"));
        // The second row starts on line 4; a bad one there is reported so.
        let reply = b"# a,b,\n1,\"x\ny\",\n1,2,3,\n\n";
        assert_eq!(
            parse(reply),
            Err(ParseError::FieldCount {
                line: 4,
                expected: 2,
                found: 3
            })
        );
        assert!(matches!(
            parse(b"# a,b,\n1,\"x\"y,\n\n"),
            Err(ParseError::BadLine { line: 2, .. })
        ));
        assert_eq!(
            parse(b"# a,b,\n1,\"x\n\n"),
            Err(ParseError::Truncated { line: 4 })
        );
    }

    #[test]
    fn rows_must_match_the_header() {
        assert_eq!(
            parse(b"# a,b,c,\n1,2,3,\n1,2,\n\n"),
            Err(ParseError::FieldCount {
                line: 3,
                expected: 3,
                found: 2
            })
        );
        assert_eq!(
            parse(b"# a,b,\n1,2,3,4,\n\n"),
            Err(ParseError::FieldCount {
                line: 2,
                expected: 2,
                found: 4
            })
        );
        // Empty values are kept, only the final comma is dropped.
        let stat = parse(b"# a,b,c,\n,,,\n\n").unwrap();
        assert_eq!(stat.rows[0].get("c"), Some(&Value::Null));
        let stat = parse(b"# a,\n\n").unwrap();
        assert!(stat.rows.is_empty());
    }

    #[test]
    fn other_replies_and_framing() {
        assert!(matches!(
            parse(reply!("2.6", "stats_show_info")),
            Err(ParseError::NotThisOutput { .. })
        ));
        assert!(matches!(
            parse(reply!("3.4", "stats_unknown_foo")),
            Err(ParseError::NotThisOutput { .. })
        ));
        assert!(matches!(
            parse(b"# table: be_app, type: ip, size:100, used:0\n\n"),
            Err(ParseError::NotThisOutput { .. })
        ));
        assert_eq!(parse(b""), Err(ParseError::Empty));
        let reply = reply!("3.4", "stats_show_stat");
        for end in 0..reply.len() {
            assert!(parse(&reply[..end]).is_err(), "cut at {end}");
        }
        let mut twice = reply.to_vec();
        twice.extend_from_slice(reply);
        assert!(matches!(
            parse(&twice),
            Err(ParseError::TrailingData { line: 13, .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn never_panics_on_near_misses(
            rows in proptest::collection::vec("[0-9a-z,\"\n-]{0,30}", 0..6),
        ) {
            let reply = format!("# pxname,svname,type,\n{}\n\n", rows.join("\n"));
            let _ = parse(reply.as_bytes());
        }
    }
}
