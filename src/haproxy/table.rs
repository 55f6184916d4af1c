//! `show table`: the stick tables, and the entries of one, filtered by HAProxy on their data.
//!
//! Every table is a header line, `# table: NAME, type: TYPE, size:N, used:N`; its entries
//! follow when one table is asked for:
//!
//! ```text
//! 0x55d0c0b471a8: key=127.0.0.1 use=0 exp=592202 gpc0=3 http_req_rate(10000)=0
//! ```
//!
//! 2.8 and later add `shard=N` after `exp`. Data fields are `NAME=VALUE`, a rate
//! `NAME(PERIOD_MS)=VALUE`; array types are printed element by element (`gpc0=… gpc1=…`). String
//! keys are printed with a backslash before a space, `=` or `\` and control bytes as `\xHH`, so
//! the fields are the words between unescaped spaces.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::text::{self, excerpt};
use super::{ParseError, Value};

/// One stick table, as its header line describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    pub name: String,
    /// The key type: `ip`, `ipv6`, `integer`, `string`, `binary`.
    #[serde(rename = "type")]
    pub key_type: String,
    pub size: u64,
    pub used: u64,
}

/// The reply of `show table NAME [FILTER]…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dump {
    pub table: Table,
    /// The period of each rate counter in milliseconds (`http_req_rate(10000)`), as the
    /// entries print it; empty when there are no entries.
    pub periods_ms: Ordered<u64>,
    pub entries: Vec<Entry>,
}

/// One entry of a stick table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The entry's address in the process, as HAProxy prints it.
    pub pointer: String,
    /// The key as HAProxy prints it: a string key with `\` before a space, `=` or `\`, and
    /// `\xHH` for other bytes; a binary key in hex.
    pub key: String,
    /// How many streams use the entry now.
    #[serde(rename = "use")]
    pub use_count: i64,
    /// Milliseconds until the entry expires.
    pub expire_ms: i64,
    /// The shard the entry lives in (2.8+), else `null`.
    pub shard: Option<i64>,
    /// Every stored data field in the order sent, rates without their period: a number, or
    /// text (`server_key`, `-` when not set).
    pub data: Ordered<Value>,
}

/// Name-value pairs that serialize as one JSON object in their order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<V> Ordered<V> {
    pub fn get(&self, name: &str) -> Option<&V> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

impl<V: Serialize> Serialize for Ordered<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Why `show table NAME` did not give the entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableError {
    /// The reply is not a table dump.
    Parse(ParseError),
    /// HAProxy sent the header but not the entries (`# contents not dumped due to
    /// insufficient privileges` on a socket below `level operator`).
    NotDumped(String),
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::Parse(e) => e.fmt(f),
            TableError::NotDumped(why) => write!(f, "HAProxy did not send the entries: {why}"),
        }
    }
}

impl std::error::Error for TableError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TableError::Parse(e) => Some(e),
            TableError::NotDumped(_) => None,
        }
    }
}

impl From<ParseError> for TableError {
    fn from(e: ParseError) -> Self {
        TableError::Parse(e)
    }
}

const HEADER: &[u8] = b"# table: ";

/// Reads the reply of `show table` without a name: one header per table.
pub fn parse_list(reply: &[u8]) -> Result<Vec<Table>, ParseError> {
    let first = text::first_line(reply)?;
    if !first.is_empty() && !first.starts_with(HEADER) {
        return Err(not_a_table(first));
    }
    text::body_lines(reply)?
        .iter()
        .map(|line| {
            header(line.text).ok_or_else(|| ParseError::BadLine {
                line: line.number,
                found: excerpt(line.text),
            })
        })
        .collect()
}

/// Reads the reply of `show table NAME [FILTER]…`: its header, then its entries (none is an
/// empty list).
pub fn parse(reply: &[u8]) -> Result<Dump, TableError> {
    let (table, lines) = head(reply)?;
    let mut periods_ms = Ordered::default();
    let mut entries = Vec::with_capacity(lines.len());
    for line in &lines {
        entries.push(entry_line(line, &mut periods_ms)?);
    }
    Ok(Dump {
        table,
        periods_ms,
        entries,
    })
}

/// The reply of `show table NAME` checked whole but kept as bytes: its JSON (the shape of
/// [`Dump`]) is written entry by entry as each is read again, so a table of a million entries
/// never becomes a million [`Entry`] values in memory.
#[derive(Debug)]
pub struct DumpStream<'a> {
    pub table: Table,
    pub periods_ms: Ordered<u64>,
    /// How many entries the reply holds.
    pub entries: usize,
    reply: &'a [u8],
}

/// Checks every entry of `reply`, keeping none, for [`DumpStream`]'s serialization.
pub fn stream(reply: &[u8]) -> Result<DumpStream<'_>, TableError> {
    let (table, lines) = head(reply)?;
    let mut periods_ms = Ordered::default();
    for line in &lines {
        entry_line(line, &mut periods_ms)?;
    }
    Ok(DumpStream {
        table,
        periods_ms,
        entries: lines.len(),
        reply,
    })
}

impl Serialize for DumpStream<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeStruct};

        struct Lazy<'a>(&'a [u8]);
        impl Serialize for Lazy<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let (_, lines) = head(self.0).map_err(S::Error::custom)?;
                let mut periods = Ordered::default();
                let mut failed = None;
                let entries = lines.iter().map_while(|line| {
                    entry_line(line, &mut periods)
                        .map_err(|e| failed = Some(e))
                        .ok()
                });
                let done = serializer.collect_seq(entries)?;
                match failed {
                    Some(e) => Err(S::Error::custom(e)),
                    None => Ok(done),
                }
            }
        }
        let mut dump = serializer.serialize_struct("Dump", 3)?;
        dump.serialize_field("table", &self.table)?;
        dump.serialize_field("periods_ms", &self.periods_ms)?;
        dump.serialize_field("entries", &Lazy(self.reply))?;
        dump.end()
    }
}

/// The table's header and the lines of its entries.
fn head(reply: &[u8]) -> Result<(Table, Vec<text::Line<'_>>), TableError> {
    let first = text::first_line(reply)?;
    if !first.starts_with(HEADER) {
        return Err(not_a_table(first).into());
    }
    let mut body = text::body_lines(reply)?;
    if body.is_empty() {
        return Err(ParseError::Empty.into());
    }
    let head = body.remove(0);
    let table = header(head.text).ok_or_else(|| ParseError::BadLine {
        line: head.number,
        found: excerpt(head.text),
    })?;
    Ok((table, body))
}

/// An entry, or the note HAProxy sends instead of the entries.
fn entry_line(line: &text::Line<'_>, periods: &mut Ordered<u64>) -> Result<Entry, TableError> {
    if let Some(note) = line.text.strip_prefix(b"# ") {
        return Err(TableError::NotDumped(excerpt(note)));
    }
    Ok(entry(line, periods)?)
}

fn not_a_table(first: &[u8]) -> ParseError {
    ParseError::NotThisOutput {
        expected: "show table",
        found: excerpt(first),
    }
}

/// `# table: NAME, type: TYPE, size:N, used:N`, read from the end (the name is the free part).
fn header(line: &[u8]) -> Option<Table> {
    let line = std::str::from_utf8(line.strip_prefix(HEADER)?).ok()?;
    let (rest, used) = line.rsplit_once(", used:")?;
    let (rest, size) = rest.rsplit_once(", size:")?;
    let (name, key_type) = rest.rsplit_once(", type: ")?;
    Some(Table {
        name: name.to_string(),
        key_type: key_type.to_string(),
        size: unsigned(size)?,
        used: unsigned(used)?,
    })
}

fn unsigned(text: &str) -> Option<u64> {
    signed(text).and_then(|n| u64::try_from(n).ok())
}

/// Digits with an optional `-`, as `%d` prints them.
fn signed(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `PTR: key=K use=N exp=N [shard=N] DATA…`.
fn entry(line: &text::Line<'_>, periods: &mut Ordered<u64>) -> Result<Entry, ParseError> {
    let bad = |field: &str, found: &[u8]| ParseError::BadValue {
        line: line.number,
        field: field.to_string(),
        found: excerpt(found),
    };
    let bad_line = || ParseError::BadLine {
        line: line.number,
        found: excerpt(line.text),
    };
    let colon = line.text.windows(2).position(|w| w == b": ");
    let (pointer, rest) = match colon {
        Some(at) if super::patterns::is_pointer(&line.text[..at]) => {
            (&line.text[..at], &line.text[at + 2..])
        }
        _ => return Err(bad_line()),
    };
    let text = std::str::from_utf8(rest).map_err(|_| bad_line())?;
    let mut words = words(text).into_iter();
    let mut field = |name: &'static str| -> Result<&str, ParseError> {
        let word = words.next().unwrap_or_default();
        word.strip_prefix(name)
            .and_then(|w| w.strip_prefix('='))
            .ok_or_else(|| bad(name, word.as_bytes()))
    };
    let key = field("key")?.to_string();
    let use_text = field("use")?;
    let use_count = signed(use_text).ok_or_else(|| bad("use", use_text.as_bytes()))?;
    let exp_text = field("exp")?;
    let expire_ms = signed(exp_text).ok_or_else(|| bad("exp", exp_text.as_bytes()))?;
    let mut shard = None;
    let mut data = Vec::new();
    for word in words {
        let (name, value) = word
            .split_once('=')
            .ok_or_else(|| bad("data", word.as_bytes()))?;
        if name == "shard" && shard.is_none() && data.is_empty() {
            shard = Some(signed(value).ok_or_else(|| bad("shard", value.as_bytes()))?);
            continue;
        }
        let name = match name.split_once('(') {
            Some((base, period)) => {
                let period = period
                    .strip_suffix(')')
                    .and_then(unsigned)
                    .ok_or_else(|| bad("period", name.as_bytes()))?;
                match periods.get(base) {
                    Some(&known) if known != period => {
                        return Err(bad("period", name.as_bytes()));
                    }
                    Some(_) => {}
                    None => periods.0.push((base.to_string(), period)),
                }
                base
            }
            None => name,
        };
        if name.is_empty() {
            return Err(bad("data", word.as_bytes()));
        }
        data.push((name.to_string(), Value::from_bytes(value.as_bytes())));
    }
    Ok(Entry {
        pointer: String::from_utf8_lossy(pointer).into_owned(),
        key,
        use_count,
        expire_ms,
        shard,
        data: Ordered(data),
    })
}

/// The words of an entry line: split at spaces, except an escaped one (`key=a\ b`: HAProxy
/// prints a string key's space, `=` and `\` with a backslash before them).
fn words(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ' ' => {
                words.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    words.push(&text[start..]);
    words
}

/// The most filters one `show table` takes (`STKTABLE_FILTER_LEN`, 4 in every version since
/// 2.2): a fifth is refused with "Detected extra data in filter".
pub const MAX_FILTERS: usize = 4;

/// The stored data types `show table` can filter on, in every version from 2.6 to 3.x
/// (`glitch_*` since 3.1; `server_name` is the older name of `server_key`). The array types
/// take an index, `gpc[1]` (2.9+; `gpc` alone is element 0).
const DATA_TYPES: &[&str] = &[
    "server_id",
    "gpt0",
    "gpc0",
    "gpc0_rate",
    "conn_cnt",
    "conn_rate",
    "conn_cur",
    "sess_cnt",
    "sess_rate",
    "http_req_cnt",
    "http_req_rate",
    "http_err_cnt",
    "http_err_rate",
    "bytes_in_cnt",
    "bytes_in_rate",
    "bytes_out_cnt",
    "bytes_out_rate",
    "gpc1",
    "gpc1_rate",
    "server_key",
    "server_name",
    "http_fail_cnt",
    "http_fail_rate",
    "gpt",
    "gpc",
    "gpc_rate",
    "glitch_cnt",
    "glitch_rate",
];

const ARRAY_TYPES: &[&str] = &["gpt", "gpc", "gpc_rate"];

/// How a filter compares (HAProxy's `eq ne le ge lt gt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Le,
    Ge,
    Lt,
    Gt,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Le => "le",
            Op::Ge => "ge",
            Op::Lt => "lt",
            Op::Gt => "gt",
        }
    }
}

/// One `data.TYPE OP VALUE` condition HAProxy applies to the entries it dumps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The data type, with its `[N]` index if given.
    pub data_type: String,
    pub op: Op,
    pub value: i64,
}

/// Why a filter would not be accepted by HAProxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFilter(pub String);

impl fmt::Display for BadFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadFilter {}

impl FromStr for Filter {
    type Err = BadFilter;

    /// `data.gpc0 gt 0`: three words.
    fn from_str(text: &str) -> Result<Filter, BadFilter> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let [data_type, op, value] = words[..] else {
            return Err(BadFilter(
                "a filter is three words: data.TYPE OP VALUE (data.gpc0 gt 0)".into(),
            ));
        };
        let name = data_type.strip_prefix("data.").ok_or_else(|| {
            BadFilter(format!(
                "{data_type:?} is not data.TYPE (only stored data can be filtered on)"
            ))
        })?;
        if !known_data_type(name) {
            return Err(BadFilter(format!(
                "unknown data type {name:?}; known: {}",
                DATA_TYPES.join(", ")
            )));
        }
        let op = match op {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "le" => Op::Le,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "gt" => Op::Gt,
            other => {
                return Err(BadFilter(format!(
                    "unknown operator {other:?}: one of eq, ne, le, ge, lt, gt"
                )));
            }
        };
        let value =
            signed(value).ok_or_else(|| BadFilter(format!("{value:?} is not a whole number")))?;
        Ok(Filter {
            data_type: name.to_string(),
            op,
            value,
        })
    }
}

/// A name of [`DATA_TYPES`], or an array type with an index (`gpc[2]`).
fn known_data_type(name: &str) -> bool {
    if DATA_TYPES.contains(&name) {
        return true;
    }
    let Some((base, index)) = name.split_once('[') else {
        return false;
    };
    let index = index.strip_suffix(']').unwrap_or_default();
    ARRAY_TYPES.contains(&base)
        && !index.is_empty()
        && index.bytes().all(|b| b.is_ascii_digit())
        && index.parse::<u32>().is_ok()
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "data.{} {} {}",
            self.data_type,
            self.op.as_str(),
            self.value
        )
    }
}

/// Why a `show table` command cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    Name(super::BadName),
    TooManyFilters(usize),
    FilterWithoutTable,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Name(e) => e.fmt(f),
            CommandError::TooManyFilters(n) => write!(
                f,
                "{n} filters: HAProxy takes at most {MAX_FILTERS} in one 'show table'"
            ),
            CommandError::FilterWithoutTable => f.write_str("a filter needs a table name"),
        }
    }
}

impl std::error::Error for CommandError {}

/// `show table`, or `show table NAME FILTER…`.
pub fn command(name: Option<&str>, filters: &[Filter]) -> Result<String, CommandError> {
    if filters.len() > MAX_FILTERS {
        return Err(CommandError::TooManyFilters(filters.len()));
    }
    let Some(name) = name else {
        if !filters.is_empty() {
            return Err(CommandError::FilterWithoutTable);
        }
        return Ok("show table".into());
    };
    let mut command = format!(
        "show table {}",
        super::check_name(name).map_err(CommandError::Name)?
    );
    for filter in filters {
        command.push(' ');
        command.push_str(&filter.to_string());
    }
    Ok(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_of_every_version() {
        for reply in [
            reply!("2.6", "stats_show_table"),
            reply!("2.8", "stats_show_table"),
            reply!("3.4", "stats_show_table"),
        ] {
            let tables = parse_list(reply).unwrap();
            let names: Vec<(&str, &str, u64, u64)> = tables
                .iter()
                .map(|t| (t.name.as_str(), t.key_type.as_str(), t.size, t.used))
                .collect();
            assert_eq!(
                names,
                [("st_str", "string", 100, 2), ("st_src", "ip", 1024, 2)]
            );
        }
        assert_eq!(parse_list(b"\n"), Ok(vec![]));
    }

    #[test]
    fn entries_are_typed() {
        for (reply, shard) in [
            (reply!("2.6", "stats_show_table_st_src"), None),
            (reply!("2.6", "master_at1_show_table_st_src"), None),
            (reply!("2.8", "stats_show_table_st_src"), Some(0)),
            (reply!("3.4", "stats_show_table_st_src"), Some(0)),
        ] {
            let dump = parse(reply).unwrap();
            assert_eq!(dump.table.name, "st_src");
            assert_eq!(dump.table.key_type, "ip");
            assert_eq!(dump.periods_ms.0, [("http_req_rate".to_string(), 10000)]);
            let local = dump.entries.iter().find(|e| e.key == "127.0.0.1").unwrap();
            assert!(local.pointer.starts_with("0x"));
            assert_eq!(local.shard, shard);
            assert!(local.expire_ms > 500_000 && local.expire_ms <= 600_000);
            assert_eq!(local.use_count, 0);
            assert_eq!(local.data.get("gpc0"), Some(&Value::Int(3)));
            assert_eq!(local.data.get("http_req_cnt"), Some(&Value::Int(7)));
            assert_eq!(local.data.get("http_req_rate"), Some(&Value::Int(0)));
            assert_eq!(dump.entries.len(), 2);
        }
        for reply in [
            reply!("2.6", "stats_show_table_st_str"),
            reply!("2.8", "stats_show_table_st_str"),
            reply!("3.4", "stats_show_table_st_str"),
        ] {
            let dump = parse(reply).unwrap();
            let alice = &dump.entries[0];
            assert_eq!(alice.key, "alice");
            assert_eq!(alice.data.get("server_id"), Some(&Value::Int(1)));
            assert_eq!(alice.data.get("bytes_out_cnt"), Some(&Value::Int(12345)));
            assert!(dump.periods_ms.0.is_empty());
        }
        for reply in [
            reply!("2.6", "stats_show_table_filter_gpc0"),
            reply!("2.8", "stats_show_table_filter_two"),
            reply!("3.4", "stats_show_table_filter_gpc0"),
        ] {
            let dump = parse(reply).unwrap();
            assert_eq!(dump.entries.len(), 1);
            assert_eq!(dump.entries[0].key, "127.0.0.1");
        }
        // A key with a space and an `=`, as `set table st_str key a\ b=c` made it.
        for reply in [
            reply!("2.6", "stats_show_table_escaped_key"),
            reply!("3.4", "stats_show_table_escaped_key"),
        ] {
            let dump = parse(reply).unwrap();
            let entry = dump.entries.iter().find(|e| e.key.contains(" ")).unwrap();
            assert_eq!(entry.key, "a\\ b\\=c");
            assert_eq!(entry.data.get("server_id"), Some(&Value::Int(2)));
            assert_eq!(dump.entries.len(), 3);
        }
        // A table without entries: an empty list, not an error.
        let empty = parse(b"# table: t, type: ip, size:10, used:0\n\n").unwrap();
        assert!(empty.entries.is_empty());
        // A name with a comma still reads; array elements are their own fields.
        let dump = parse(
            b"# table: a, b, type: string, size:1, used:1\n\
              0x1: key=x\\ y\\=\\\\ use=2 exp=0 shard=1 gpc0=1 gpc1=2 gpc0_rate(1000)=5 server_key=-\n\n",
        )
        .unwrap();
        assert_eq!(dump.table.name, "a, b");
        let entry = &dump.entries[0];
        assert_eq!(entry.key, "x\\ y\\=\\\\");
        assert_eq!(entry.use_count, 2);
        let names: Vec<&str> = entry.data.0.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["gpc0", "gpc1", "gpc0_rate", "server_key"]);
        assert_eq!(entry.data.get("server_key"), Some(&Value::Text("-".into())));
    }

    #[test]
    fn json_shape() {
        let dump = parse(reply!("2.8", "stats_show_table_st_src")).unwrap();
        let json = serde_json::to_value(&dump).unwrap();
        assert_eq!(json["table"]["type"], "ip");
        assert_eq!(json["periods_ms"]["http_req_rate"], 10000);
        assert_eq!(json["entries"][1]["use"], 0);
        assert_eq!(json["entries"][1]["shard"], 0);
        assert_eq!(json["entries"][1]["data"]["gpc0"], 3);
        // In the order HAProxy sent them.
        let text = serde_json::to_string(&dump.entries[1].data).unwrap();
        assert_eq!(
            text,
            r#"{"gpc0":3,"conn_cur":0,"http_req_cnt":7,"http_req_rate":0}"#
        );
    }

    #[test]
    fn the_stream_writes_what_parse_reads() {
        for reply in [
            reply!("2.6", "stats_show_table_st_src"),
            reply!("2.8", "stats_show_table_st_str"),
            reply!("3.4", "stats_show_table_escaped_key"),
            &b"# table: t, type: ip, size:10, used:0\n\n"[..],
        ] {
            let stream = stream(reply).unwrap();
            let dump = parse(reply).unwrap();
            assert_eq!(stream.entries, dump.entries.len());
            assert_eq!(
                serde_json::to_string(&stream).unwrap(),
                serde_json::to_string(&dump).unwrap()
            );
        }
        let refused = b"# table: t, type: ip, size:10, used:3\n# contents not dumped\n\n";
        assert!(matches!(stream(refused), Err(TableError::NotDumped(_))));
        let reply = reply!("2.8", "stats_show_table_st_src");
        for end in 0..reply.len() {
            assert!(stream(&reply[..end]).is_err(), "cut at {end}");
        }
    }

    #[test]
    fn other_replies_are_rejected() {
        for reply in [
            reply!("2.6", "stats_show_table_nosuch"),
            reply!("2.6", "stats_show_table_filter_bad_op"),
            reply!("2.8", "stats_show_map"),
        ] {
            assert!(matches!(
                parse(reply),
                Err(TableError::Parse(ParseError::NotThisOutput { .. }))
            ));
            assert!(matches!(
                parse_list(reply),
                Err(ParseError::NotThisOutput { .. })
            ));
        }
        let reply = reply!("2.8", "stats_show_table_st_src");
        for end in 0..reply.len() {
            assert!(parse(&reply[..end]).is_err(), "cut at {end}");
        }
        let refused = b"# table: t, type: ip, size:10, used:3\n\
                        # contents not dumped due to insufficient privileges\n\n";
        assert_eq!(
            parse(refused),
            Err(TableError::NotDumped(
                "contents not dumped due to insufficient privileges".into()
            ))
        );
        for bad in [
            &b"# table: t, type: ip, size:1, used:1\n0x1: key=a use=x exp=0\n\n"[..],
            b"# table: t, type: ip, size:1, used:1\n0x1: key=a exp=0 use=0\n\n",
            b"# table: t, type: ip, size:1, used:1\n0x1: key=a use=0 exp=0 gpc0\n\n",
            b"# table: t, type: ip, size:1, used:1\n0x1: key=a use=0 exp=0 r(x)=1\n\n",
            b"# table: t, type: ip, size:1, used:1\nkey=a use=0 exp=0\n\n",
            b"# table: t, type: ip, size:-1, used:1\n\n",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn filters_are_checked_as_haproxy_would() {
        let filter: Filter = "data.gpc0 gt 0".parse().unwrap();
        assert_eq!(filter.to_string(), "data.gpc0 gt 0");
        let filter: Filter = "  data.http_req_rate   le -5 ".parse().unwrap();
        assert_eq!(filter.to_string(), "data.http_req_rate le -5");
        assert!("data.gpc[1] eq 2".parse::<Filter>().is_ok());
        for (bad, why) in [
            ("data.gpc0 gt", "three words"),
            ("gpc0 gt 0", "not data.TYPE"),
            ("data.nosuch gt 0", "unknown data type"),
            ("data.gpc0[1] gt 0", "unknown data type"),
            ("data.gpc[] gt 0", "unknown data type"),
            ("data.gpc0 xx 0", "unknown operator"),
            ("data.gpc0 gt +1", "not a whole number"),
            ("data.gpc0 gt 1x", "not a whole number"),
            ("data.gpc0 gt 99999999999999999999", "not a whole number"),
            ("data.gpc0 gt 0 extra", "three words"),
            ("data.gpc0 gt 0;x", "not a whole number"),
        ] {
            let err = bad.parse::<Filter>().unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let f = |s: &str| s.parse::<Filter>().unwrap();
        assert_eq!(command(None, &[]).unwrap(), "show table");
        assert_eq!(
            command(Some("st"), &[f("data.gpc0 gt 0"), f("data.conn_cur eq 1")]).unwrap(),
            "show table st data.gpc0 gt 0 data.conn_cur eq 1"
        );
        let five = vec![f("data.gpc0 gt 0"); 5];
        assert_eq!(
            command(Some("st"), &five),
            Err(CommandError::TooManyFilters(5))
        );
        assert!(command(Some("st"), &five[..4]).is_ok());
        assert_eq!(
            command(None, &five[..1]),
            Err(CommandError::FilterWithoutTable)
        );
        assert!(command(Some("a b"), &[]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_list(&bytes);
            let _ = parse(&bytes);
        }

        #[test]
        fn stream_agrees_with_parse(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let (streamed, parsed) = (stream(&bytes), parse(&bytes));
            proptest::prop_assert_eq!(streamed.is_ok(), parsed.is_ok());
            if let (Ok(streamed), Ok(parsed)) = (streamed, parsed) {
                proptest::prop_assert_eq!(
                    serde_json::to_string(&streamed).unwrap(),
                    serde_json::to_string(&parsed).unwrap()
                );
            }
        }

        #[test]
        fn filters_never_panic(text in "\\PC{0,40}") {
            let _ = text.parse::<Filter>();
        }
    }
}
