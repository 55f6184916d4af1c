//! `show info`: one `Key: Value` line per process variable, then a blank line.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::text::{self, excerpt};
use super::{ParseError, Value};

/// The variables in the order the server sent them. Serializes as one JSON object in that
/// order, numbers as numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub entries: Vec<(String, Value)>,
}

const EXPECTED: &str = "show info";

/// HAProxy always sends this variable first (`Name: HAProxy`); checking for it tells a real
/// `show info` from an error message that happens to contain `: `.
const FIRST_KEY: &[u8] = b"Name";

/// Reads the reply of `show info`.
pub fn parse(reply: &[u8]) -> Result<Info, ParseError> {
    let first = text::first_line(reply)?;
    if split_entry(first).map(|(key, _)| key) != Some(FIRST_KEY) {
        return Err(ParseError::NotThisOutput {
            expected: EXPECTED,
            found: excerpt(first),
        });
    }
    let body = text::body_lines(reply)?;
    let mut entries = Vec::with_capacity(body.len());
    for line in body {
        let (key, value) = split_entry(line.text).ok_or_else(|| ParseError::BadLine {
            line: line.number,
            found: excerpt(line.text),
        })?;
        entries.push((
            String::from_utf8_lossy(key).into_owned(),
            Value::from_bytes(value),
        ));
    }
    Ok(Info { entries })
}

impl Info {
    /// The value of the first variable called `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The major and minor numbers of `Version` (`3.4.0-64a335366` gives `(3, 4)`), for
    /// commands that only newer versions have.
    pub fn version(&self) -> Option<(u32, u32)> {
        let text = self.get("Version")?.to_string();
        let mut numbers = text.split(['.', '-']);
        let major = numbers.next()?.parse().ok()?;
        let minor = numbers.next()?.parse().ok()?;
        Some((major, minor))
    }
}

/// `Build info: 2.6.12` into (`Build info`, `2.6.12`). The server writes `key: ` even for an
/// empty value, so the separator is colon-space.
fn split_entry(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = line.windows(2).position(|w| w == b": ")?;
    let (key, rest) = line.split_at(at);
    let value = rest.get(2..).unwrap_or_default();
    let well_formed = !key.is_empty() && !key.starts_with(b" ");
    well_formed.then_some((key, value))
}

impl Serialize for Info {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (key, value) in &self.entries {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `show info` answered by a worker, without a prompt, with the pid it reports.
    fn worker_replies() -> Vec<(&'static [u8], i64)> {
        vec![
            (reply!("2.6", "stats_show_info"), 7978),
            (reply!("2.6", "stats_show_info_noshut"), 7978),
            (reply!("2.6", "master_at1_show_info"), 7978),
            (reply!("2.6", "master_at1_show_info_noshut"), 7978),
            (reply!("2.6", "master_atbang_workerpid_show_info"), 7978),
            (
                reply!("2.6", "bad_05_stats_show_info_after_bad_reload"),
                12455,
            ),
            (
                reply!("2.6", "bad_06_master_at1_show_info_after_bad_reload"),
                12455,
            ),
            (reply!("3.4", "stats_show_info"), 11483),
            (reply!("3.4", "stats_show_info_noshut"), 11483),
            (reply!("3.4", "master_at1_show_info"), 11483),
            (reply!("3.4", "master_at1_show_info_noshut"), 11483),
            (reply!("3.4", "master_atbang_workerpid_show_info"), 11483),
            (reply!("3.4", "prompt_i_master.03"), 11483),
            (reply!("3.4", "prompt_n_master.03"), 11483),
            (
                reply!("3.4", "bad_05_stats_show_info_after_bad_reload"),
                12536,
            ),
            (
                reply!("3.4", "bad_06_master_at1_show_info_after_bad_reload"),
                12536,
            ),
        ]
    }

    #[test]
    fn every_recorded_show_info_parses() {
        for (i, (reply, pid)) in worker_replies().into_iter().enumerate() {
            let info = parse(reply).unwrap_or_else(|e| panic!("case {i}: {e}"));
            assert_eq!(info.get("Pid"), Some(&Value::Int(pid)), "case {i}");
            assert_eq!(info.get("Name"), Some(&Value::Text("HAProxy".into())));
            assert!(info.entries.len() > 50, "case {i}");
        }
    }

    #[test]
    fn versions_of_every_recording() {
        let version = |reply: &[u8]| parse(reply).unwrap().version();
        assert_eq!(version(reply!("2.6", "stats_show_info")), Some((2, 6)));
        assert_eq!(version(reply!("3.4", "stats_show_info")), Some((3, 4)));
        let odd = |v: &str| parse(format!("Name: HAProxy\nVersion: {v}\n\n").as_bytes()).unwrap();
        assert_eq!(odd("3.0-dev5").version(), Some((3, 0)));
        assert_eq!(odd("dev").version(), None);
        assert_eq!(odd("3").version(), None);
    }

    #[test]
    fn values_are_typed_and_order_is_kept() {
        let info = parse(reply!("2.6", "stats_show_info")).unwrap();
        assert_eq!(info.entries[0].0, "Name");
        assert_eq!(info.entries[1].0, "Version");
        assert_eq!(
            info.get("Version"),
            Some(&Value::Text("2.6.12-1+deb12u4".into()))
        );
        assert_eq!(info.get("Nbthread"), Some(&Value::Int(2)));
        assert!(
            info.get("Uptime")
                .unwrap()
                .as_str()
                .unwrap()
                .starts_with("0d ")
        );
        assert!(info.get("Build info").is_some());
        assert!(info.get("Unstoppable Jobs").is_some());

        let info = parse(reply!("3.4", "stats_show_info")).unwrap();
        assert_eq!(info.get("NbThreadGroups"), Some(&Value::Int(1)));
        assert_eq!(info.entries.last().unwrap().0, "NbThreadGroups");
    }

    #[test]
    fn json_keeps_server_order() {
        let info = parse(reply!("3.4", "stats_show_info")).unwrap();
        let json = serde_json::to_string(&info).unwrap();
        assert!(json.starts_with(r#"{"Name":"HAProxy","Version":"3.4.0-64a335366","#));
        assert!(json.contains(r#""Pid":11483,"#));
        let keys: Vec<&str> = info.entries.iter().map(|(k, _)| k.as_str()).collect();
        let mut last = 0;
        for key in keys {
            let at = json.find(&format!("\"{key}\":")).unwrap();
            assert!(at >= last, "{key} out of order");
            last = at;
        }
        let empty = parse(b"Name: HAProxy\ndescription: \n\n").unwrap();
        assert_eq!(
            serde_json::to_string(&empty).unwrap(),
            r#"{"Name":"HAProxy","description":null}"#
        );
    }

    #[test]
    fn other_replies_are_rejected() {
        for reply in [
            reply!("2.6", "master_show_info_on_master"),
            reply!("2.6", "master_at9_show_info"),
            reply!("3.4", "master_atbang_badpid_show_info"),
            reply!("3.4", "master_atmaster_show_info"),
            reply!("2.6", "stats_show_stat"),
            reply!("2.6", "stats_unknown_foo"),
        ] {
            assert!(
                matches!(
                    parse(reply),
                    Err(ParseError::NotThisOutput { .. } | ParseError::Empty)
                ),
                "{:?}",
                parse(reply)
            );
        }
        assert_eq!(parse(b""), Err(ParseError::Empty));
    }

    #[test]
    fn framing_errors() {
        assert!(matches!(
            parse(reply!("2.6", "stats_show_info_semicolon_show_stat")),
            Err(ParseError::TrailingData { .. })
        ));
        assert!(matches!(
            parse(reply!("2.6", "prompt_stats.02")),
            Err(ParseError::TrailingData { .. })
        ));
        let reply = reply!("3.4", "stats_show_info");
        for end in 0..reply.len() {
            assert!(parse(&reply[..end]).is_err(), "cut at {end}");
        }
        assert!(matches!(
            parse(b"Name: HAProxy\nno separator\n\n"),
            Err(ParseError::BadLine { line: 2, .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse(&bytes);
        }
    }
}
