//! `show sess`: one line per stream.
//!
//! ```text
//! 0x55d0c0b4d670: proto=unix_stream src=unix:1 fe=fe be=be_app srv=s1 ts=00 epoch=0 age=8s calls=1 rate=0 cpu=0 lat=0 rq[…] rp[…] scf=[…] scb=[…] exp=21s rc=0 c_exp=
//! ```
//!
//! What every version from 2.6 to 3.x prints the same way is typed; everything else (flags,
//! buffers, timers of the stream's two sides, which change from version to version) is kept
//! as text under `extra`. `src`, `fe`, `be` and `srv` are missing when the stream has no
//! client connection (an applet's stream); `be=<NONE>` and `srv=<none>` are `null`.

use serde::Serialize;

use super::ParseError;
use super::table::Ordered;
use super::text::{self, excerpt};

/// One stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stream {
    /// The stream's address in the process: what `show sess ID` and `shutdown session ID` take.
    pub pointer: String,
    /// The listener's protocol (`tcpv4`, `unix_stream`, …), `?` without a listener.
    pub proto: String,
    /// The client: `ADDRESS:PORT`, or `unix:LISTENER_ID`.
    pub source: Option<String>,
    pub frontend: Option<String>,
    /// `null` when no backend was chosen yet (`<NONE>`).
    pub backend: Option<String>,
    /// `null` when no server was chosen yet (`<none>`).
    pub server: Option<String>,
    /// Time since the request, as HAProxy prints it (`8s`, `2m05s`, `1h03m`, `3d04h`).
    pub age: Option<String>,
    /// How many times the stream's task ran, and its rate per second.
    pub calls: Option<u64>,
    pub rate: Option<u64>,
    /// CPU time and scheduling latency, in nanoseconds (0 unless profiling is on).
    pub cpu: Option<u64>,
    pub lat: Option<u64>,
    /// When the stream's task expires (`21s`; `null` for never).
    pub expires: Option<String>,
    /// Connection retries so far (`rc`).
    pub retries: Option<i64>,
    /// The request's URI, when asked for (`show sess … uri`, 3.2+).
    pub uri: Option<String>,
    /// Every other field as sent, in order: `ts`, `epoch`, `rq`, `rp`, `scf`, `scb`, `c_exp`…
    pub extra: Ordered<String>,
}

/// Reads the reply of `show sess`.
pub fn parse(reply: &[u8]) -> Result<Vec<Stream>, ParseError> {
    let first = text::first_line(reply)?;
    if !first.is_empty() && split_pointer(first).is_none() {
        return Err(ParseError::NotThisOutput {
            expected: "show sess",
            found: excerpt(first),
        });
    }
    text::body_lines(reply)?.iter().map(stream).collect()
}

/// `0x55d0c0b4d670: proto=…` into the pointer and what follows.
fn split_pointer(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = line.windows(2).position(|w| w == b": ")?;
    let (pointer, rest) = (&line[..at], &line[at + 2..]);
    (super::patterns::is_pointer(pointer) && rest.starts_with(b"proto=")).then_some((pointer, rest))
}

fn stream(line: &text::Line<'_>) -> Result<Stream, ParseError> {
    let bad_line = || ParseError::BadLine {
        line: line.number,
        found: excerpt(line.text),
    };
    let (pointer, rest) = split_pointer(line.text).ok_or_else(bad_line)?;
    let rest = std::str::from_utf8(rest).map_err(|_| bad_line())?;
    let mut stream = Stream {
        pointer: String::from_utf8_lossy(pointer).into_owned(),
        proto: String::new(),
        source: None,
        frontend: None,
        backend: None,
        server: None,
        age: None,
        calls: None,
        rate: None,
        cpu: None,
        lat: None,
        expires: None,
        retries: None,
        uri: None,
        extra: Ordered::default(),
    };
    for (name, value) in fields(rest) {
        let number = |field: &str| {
            value
                .parse::<u64>()
                .ok()
                .filter(|_| is_digits(value))
                .ok_or_else(|| ParseError::BadValue {
                    line: line.number,
                    field: field.to_string(),
                    found: excerpt(value.as_bytes()),
                })
        };
        let text = Some(value.to_string());
        match name {
            "proto" => stream.proto = value.to_string(),
            "src" => stream.source = text,
            "fe" => stream.frontend = text,
            "be" => stream.backend = text.filter(|v| v != "<NONE>"),
            "srv" => stream.server = text.filter(|v| v != "<none>"),
            "age" => stream.age = text,
            "calls" => stream.calls = Some(number(name)?),
            "rate" => stream.rate = Some(number(name)?),
            "cpu" => stream.cpu = Some(number(name)?),
            "lat" => stream.lat = Some(number(name)?),
            "exp" => stream.expires = text.filter(|v| !v.is_empty()),
            "rc" => {
                let digits = value.strip_prefix('-').unwrap_or(value);
                stream.retries = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|_| is_digits(digits))
                        .ok_or_else(|| ParseError::BadValue {
                            line: line.number,
                            field: "rc".into(),
                            found: excerpt(value.as_bytes()),
                        })?,
                );
            }
            "uri" => {
                let unquoted = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                stream.uri = Some(unquoted.to_string());
            }
            _ => stream.extra.0.push((name.to_string(), value.to_string())),
        }
    }
    if stream.proto.is_empty() {
        return Err(bad_line());
    }
    Ok(stream)
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// The fields of a line: `name=value`, `name[…]` and `name(…)` words (the value keeps its
/// brackets), and a last `uri="…"` that may hold spaces.
fn fields(mut rest: &str) -> Vec<(&str, &str)> {
    let mut fields = Vec::new();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix("uri=").filter(|v| v.starts_with('"')) {
            fields.push(("uri", quoted));
            break;
        }
        let (word, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        rest = tail;
        if word.is_empty() {
            continue;
        }
        let split = word.find(['=', '[', '(']).unwrap_or(word.len());
        let (name, value) = word.split_at(split);
        fields.push((name, value.strip_prefix('=').unwrap_or(value)));
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_of_every_version() {
        for reply in [
            reply!("2.6", "stats_show_sess"),
            reply!("2.8", "stats_show_sess"),
            reply!("3.4", "stats_show_sess"),
        ] {
            let streams = parse(reply).unwrap();
            // Two clients held by a slow server, and the CLI's own stream.
            assert_eq!(streams.len(), 3, "{streams:?}");
            let held: Vec<&Stream> = streams
                .iter()
                .filter(|s| s.frontend.as_deref() == Some("fe"))
                .collect();
            assert_eq!(held.len(), 2);
            for s in held {
                assert_eq!(s.proto, "unix_stream");
                assert_eq!(s.source.as_deref(), Some("unix:1"));
                assert_eq!(s.backend.as_deref(), Some("be_app"));
                assert_eq!(s.server.as_deref(), Some("s1"));
                assert!(s.age.as_deref().unwrap().ends_with('s'));
                assert!(s.calls.unwrap() >= 1);
                assert!(s.expires.is_some());
                assert_eq!(s.retries, Some(0));
                let extra: Vec<&str> = s.extra.0.iter().map(|(n, _)| n.as_str()).collect();
                assert!(extra.starts_with(&["ts", "epoch"]), "{extra:?}");
                assert!(extra.contains(&"scb") && extra.contains(&"rq"), "{extra:?}");
                assert!(s.extra.get("rq").unwrap().starts_with("[f="));
            }
            let cli = streams
                .iter()
                .find(|s| s.frontend.as_deref() == Some("GLOBAL"))
                .unwrap();
            assert_eq!(
                (cli.backend.as_deref(), cli.server.as_deref()),
                (None, None)
            );
        }
        assert_eq!(parse(b"\n"), Ok(vec![]));
    }

    #[test]
    fn optional_parts() {
        let line = b"0x1: proto=? ts=00 epoch=0x1 age=1h02m calls=2 rate=0 cpu=0 lat=0 \
                     exp= rc=-1 c_exp= run(nice=0) uri=\"/a b\"c\"\n\n";
        let [s] = &parse(line).unwrap()[..] else {
            panic!()
        };
        assert_eq!(s.proto, "?");
        assert_eq!((s.source.as_ref(), s.frontend.as_ref()), (None, None));
        assert_eq!(s.age.as_deref(), Some("1h02m"));
        assert_eq!(s.expires, None);
        assert_eq!(s.retries, Some(-1));
        assert_eq!(s.uri.as_deref(), Some("/a b\"c"));
        assert_eq!(s.extra.get("run").map(String::as_str), Some("(nice=0)"));
        assert_eq!(s.extra.get("c_exp").map(String::as_str), Some(""));
    }

    #[test]
    fn other_replies_are_rejected() {
        for reply in [
            reply!("2.6", "stats_show_info"),
            reply!("2.6", "stats_show_table"),
            reply!("2.6", "stats_unknown_foo"),
        ] {
            assert!(matches!(
                parse(reply),
                Err(ParseError::NotThisOutput { .. })
            ));
        }
        let reply = reply!("2.8", "stats_show_sess");
        for end in 0..reply.len() {
            assert!(parse(&reply[..end]).is_err(), "cut at {end}");
        }
        for bad in [
            &b"0x1: proto=tcp calls=x\n\n"[..],
            b"0x1: proto=tcp rc=+1\n\n",
            b"0x1: proto=tcp\nnot a stream\n\n",
            b"0x1: proto=\n\n",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn never_panics_on_stream_lines(rest in "proto=[ -~]{0,120}") {
            let _ = parse(format!("0x1: {rest}\n\n").as_bytes());
        }
    }
}
