//! `show servers state`: the dump HAProxy reads back from its `server-state-file`.
//!
//! ```text
//! 1
//! # be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight …
//! 3 be_app 1 s1 127.0.0.1 2 8 1 1 91 1 0 2 0 0 0 0 - 19261 - 0 0 - - 0
//!
//! ```
//!
//! When HAProxy loads a state file and finds one short or truncated line, it ignores the whole
//! file (with only a warning), so a partial dump must never be saved. [`StateValidator`] checks
//! a dump as it streams in, keeping only the current line, and [`ValidatingWriter`] puts it in
//! front of the file being written. [`parse`] gives a typed view for automation.
//!
//! Meaning of the state numbers, from HAProxy's `include/haproxy/server-t.h` (`enum srv_state`,
//! `enum srv_admin`) and `include/haproxy/check-t.h` (`CHK_ST_*`), identical in 2.6 and 3.x
//! except that bit 0x40 of `srv_admin_state` was called `SRV_ADMF_HMAINT` until 3.1 renamed it
//! `SRV_ADMF_FQDN_CHANGED`; it marks a server whose FQDN was changed at runtime, not a
//! maintenance state.

use std::fmt;

use serde::Serialize;

use super::{BadName, Fields, check_name};

/// Longest line accepted, without its `\n`. Real lines are a few hundred bytes; the limit only
/// bounds memory on a runaway reply.
pub const MAX_LINE: usize = 64 * 1024;

/// Why a reply is not a complete, well-formed server state dump. Line numbers start at 1;
/// `found` texts are escaped and cut to about 80 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// The reply had no bytes at all.
    Empty,
    /// The server does not know the command (the master CLI without `@1`, or an old version).
    UnknownCommand {
        found: String,
    },
    /// The socket's level is too low for the command.
    PermissionDenied {
        found: String,
    },
    /// `show servers state <backend>` named a backend that does not exist.
    NoSuchBackend {
        found: String,
    },
    /// The first line is a number other than 1, the only format version HAProxy writes.
    UnsupportedVersion {
        found: String,
    },
    /// The first line is something else.
    NotAStateDump {
        found: String,
    },
    /// Line 2 is not the `# be_id be_name …` header.
    BadHeader {
        line: usize,
        found: String,
    },
    /// The reply stops in the middle of a line.
    Truncated {
        line: usize,
    },
    /// The reply stops after a complete line but without the closing blank line.
    MissingBlankLine {
        line: usize,
    },
    /// A server line does not have as many fields as the header.
    FieldCount {
        line: usize,
        expected: usize,
        found: usize,
    },
    LineTooLong {
        line: usize,
        limit: usize,
    },
    /// Bytes follow the closing blank line (a prompt, a second reply).
    TrailingData {
        line: usize,
        found: String,
    },
    /// A field the typed view needs as a number holds something else.
    BadValue {
        line: usize,
        field: &'static str,
        found: String,
    },
    /// The header lacks a column the typed view needs.
    MissingColumn {
        name: &'static str,
    },
    /// A server line holds a value its column cannot have (HAProxy would not write it, and
    /// would not load it).
    InvalidField {
        line: usize,
        column: String,
        found: String,
        expected: &'static str,
    },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Empty => f.write_str("the reply is empty: no server state dump"),
            StateError::UnknownCommand { found } => {
                write!(f, "the server does not know the command: \"{found}\"")
            }
            StateError::PermissionDenied { found } => {
                write!(f, "the server refused the command: \"{found}\"")
            }
            StateError::NoSuchBackend { found } => {
                write!(f, "no such backend: the server says \"{found}\"")
            }
            StateError::UnsupportedVersion { found } => write!(
                f,
                "unsupported server state format version \"{found}\" (only 1 is known)"
            ),
            StateError::NotAStateDump { found } => {
                write!(f, "not a server state dump: it starts with \"{found}\"")
            }
            StateError::BadHeader { line, found } => write!(
                f,
                "line {line} is not the \"# be_id be_name …\" header: \"{found}\""
            ),
            StateError::Truncated { line } => {
                write!(f, "the dump is truncated: line {line} has no end of line")
            }
            StateError::MissingBlankLine { line } => write!(
                f,
                "the dump is incomplete: it stops after line {line} without the closing blank line"
            ),
            StateError::FieldCount {
                line,
                expected,
                found,
            } => write!(
                f,
                "line {line} has {found} fields but the header has {expected}"
            ),
            StateError::LineTooLong { line, limit } => {
                write!(f, "line {line} is longer than {limit} bytes")
            }
            StateError::TrailingData { line, found } => write!(
                f,
                "unexpected bytes after the closing blank line, at line {line}: \"{found}\""
            ),
            StateError::BadValue { line, field, found } => {
                write!(f, "line {line}: invalid {field} \"{found}\"")
            }
            StateError::MissingColumn { name } => {
                write!(f, "the header has no '{name}' column")
            }
            StateError::InvalidField {
                line,
                column,
                found,
                expected,
            } => write!(
                f,
                "line {line}: {column} is \"{found}\", expected {expected}"
            ),
        }
    }
}

impl std::error::Error for StateError {}

/// What a valid dump held. `backends` counts backends with at least one server line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StateSummary {
    pub backends: usize,
    pub servers: usize,
}
mod validate;
mod view;

pub use validate::{StateValidator, ValidatingWriter, validate};
use validate::{fields, header_names};
pub use view::{ServerState, ServersState, admin_flag_names, admin_state_name, parse};

/// `show servers state`, of one backend when named.
pub fn command(backend: Option<&str>) -> Result<String, BadName> {
    Ok(match backend {
        None => "show servers state".into(),
        Some(name) => format!("show servers state {}", check_name(name)?),
    })
}

#[cfg(test)]
mod tests {
    use std::io::{self, Write};

    use super::view::{ADMIN_FLAGS, CHECK_FLAGS, admin_state_name, flag_names};
    use super::*;
    use proptest::prelude::*;

    /// Every complete dump recorded without a prompt; all list the 8 servers of `be_app`.
    fn dumps() -> Vec<&'static [u8]> {
        vec![
            reply!("2.6", "stats_show_servers_state"),
            reply!("2.6", "stats_show_servers_state_after_drain"),
            reply!("2.6", "stats_show_servers_state_be_app"),
            reply!("2.6", "master_at1_show_servers_state"),
            reply!("2.6", "dr_05_show_servers_state_before"),
            reply!("2.6", "dr_06_master_at1_show_servers_state_for_file"),
            reply!("2.6", "dr_11_show_servers_state_after_reload"),
            reply!("2.6", "dr_15_show_servers_state_after_reload2"),
            reply!("2.6", "sf_13_truncated_show_servers_state"),
            reply!("2.6", "sf_23_garbage_show_servers_state"),
            reply!("2.6", "sf_33_empty_show_servers_state"),
            reply!("2.6", "sf_43_version_only_show_servers_state"),
            reply!("2.6", "sf_53_wrong_version_show_servers_state"),
            reply!("2.6", "sf_63_midfile_short_line_show_servers_state"),
            reply!("2.6", "sf_73_no_trailing_blank_show_servers_state"),
            reply!("3.4", "stats_show_servers_state"),
            reply!("3.4", "stats_show_servers_state_after_drain"),
            reply!("3.4", "stats_show_servers_state_be_app"),
            reply!("3.4", "master_at1_show_servers_state"),
            reply!("3.4", "dr_05_show_servers_state_before"),
            reply!("3.4", "dr_06_master_at1_show_servers_state_for_file"),
            reply!("3.4", "dr_11_show_servers_state_after_reload"),
            reply!("3.4", "dr_15_show_servers_state_after_reload2"),
            reply!("3.4", "prompt_i_master.04"),
            reply!("3.4", "prompt_i_stats.03"),
            reply!("3.4", "prompt_n_master.04"),
            reply!("3.4", "sf_13_truncated_show_servers_state"),
            reply!("3.4", "sf_23_garbage_show_servers_state"),
            reply!("3.4", "sf_33_empty_show_servers_state"),
            reply!("3.4", "sf_43_version_only_show_servers_state"),
            reply!("3.4", "sf_53_wrong_version_show_servers_state"),
            reply!("3.4", "sf_63_midfile_short_line_show_servers_state"),
            reply!("3.4", "sf_73_no_trailing_blank_show_servers_state"),
        ]
    }

    const EIGHT: StateSummary = StateSummary {
        backends: 1,
        servers: 8,
    };

    #[test]
    fn every_recorded_dump_validates_and_parses() {
        for (i, dump) in dumps().into_iter().enumerate() {
            assert_eq!(validate(dump), Ok(EIGHT), "case {i}");
            let state = parse(dump).unwrap_or_else(|e| panic!("case {i}: {e}"));
            assert_eq!(state.fields.len(), 25, "case {i}");
            let names: Vec<&str> = state.servers.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(
                names,
                ["s1", "s2", "s3", "tpl1", "tpl2", "tpl3", "tpl4", "tpl5"]
            );
            for server in &state.servers {
                assert_eq!(server.fields.len(), 25);
                assert_eq!(
                    server.fields.get("be_name").map(String::as_str),
                    Some("be_app")
                );
            }
        }
    }

    #[test]
    fn typed_view_of_drain_weight_maint_and_address() {
        for dump in [
            reply!("2.6", "dr_05_show_servers_state_before"),
            reply!("3.4", "dr_05_show_servers_state_before"),
        ] {
            let state = parse(dump).unwrap();
            let [s1, s2, s3, tpl1, .., tpl5] = &state.servers[..] else {
                panic!("{state:?}")
            };
            assert_eq!(
                (s1.backend_id, s1.backend.as_str(), s1.id),
                (3, "be_app", 1)
            );
            assert_eq!(s1.admin_flags, ["FDRAIN"]);
            assert_eq!(s1.admin_state_name, "drain");
            assert_eq!(s2.admin_state_name, "ready");
            assert_eq!(s1.op_state_name, "running");
            assert_eq!(s2.weight, 50);
            assert!(s2.admin_flags.is_empty());
            assert_eq!(s3.op_state_name, "stopped");
            assert_eq!(s3.check_state, 6);
            assert_eq!(s3.check_flags, ["CONFIGURED", "ENABLED"]);
            assert_eq!(
                s3.fields.get("srv_check_status").map(String::as_str),
                Some("8")
            );
            assert_eq!((tpl1.address.as_str(), tpl1.port), ("127.0.0.2", 19999));
            assert_eq!((tpl5.admin_state, tpl5.op_state), (1, 0));
            assert_eq!(tpl5.admin_flags, ["FMAINT"]);
            assert_eq!(tpl5.admin_state_name, "maint");
        }
    }

    #[test]
    fn flags_name_every_bit() {
        assert_eq!(
            flag_names(0x7f, ADMIN_FLAGS),
            [
                "FMAINT",
                "IMAINT",
                "CMAINT",
                "FDRAIN",
                "IDRAIN",
                "RMAINT",
                "FQDN_CHANGED"
            ]
        );
        assert_eq!(flag_names(0x180, ADMIN_FLAGS), ["0x180"]);
        assert_eq!(flag_names(0x21, CHECK_FLAGS), ["INPROGRESS", "0x20"]);
    }

    #[test]
    fn json_has_typed_and_raw_fields() {
        let state = parse(reply!("3.4", "dr_05_show_servers_state_before")).unwrap();
        let json = serde_json::to_value(&state).unwrap();
        let s1 = &json["servers"][0];
        assert_eq!(s1["name"], "s1");
        assert_eq!(s1["admin_flags"][0], "FDRAIN");
        assert_eq!(s1["fields"]["srv_port"], "19341");
        assert_eq!(json["fields"][0], "be_id");
    }

    #[test]
    fn error_replies_have_their_own_variants() {
        for reply in [
            reply!("2.6", "stats_show_servers_state_nosuchbe"),
            reply!("3.4", "stats_show_servers_state_nosuchbe"),
        ] {
            let err = validate(reply).unwrap_err();
            assert_eq!(
                err,
                StateError::NoSuchBackend {
                    found: "Can't find backend.".into()
                }
            );
            assert!(err.to_string().contains("no such backend"));
        }
        for reply in [
            reply!("2.6", "master_unknown_foo"),
            reply!("3.4", "master_unknown_foo"),
            reply!("2.6", "stats_unknown_foo"),
        ] {
            assert!(matches!(
                validate(reply),
                Err(StateError::UnknownCommand { .. })
            ));
        }
        assert!(matches!(
            validate(b"Permission denied\n\n"),
            Err(StateError::PermissionDenied { .. })
        ));
        assert_eq!(validate(b""), Err(StateError::Empty));
        assert!(matches!(
            validate(b"2\n# be_id\n\n"),
            Err(StateError::UnsupportedVersion { .. })
        ));
        // `set …;show servers state`: the empty reply of `set` comes first.
        assert!(matches!(
            validate(reply!("2.6", "stats_semicolon_set_then_show")),
            Err(StateError::NotAStateDump { .. })
        ));
        assert!(matches!(
            validate(reply!("3.4", "dr_08_master_reload")),
            Err(StateError::NotAStateDump { .. })
        ));
        // A prompt after the dump is not part of a state file.
        assert!(matches!(
            validate(reply!("2.6", "prompt_stats.03")),
            Err(StateError::TrailingData { line: 12, .. })
        ));
    }

    #[test]
    fn broken_dumps_are_rejected() {
        let good = reply!("2.6", "stats_show_servers_state");
        let text = std::str::from_utf8(good).unwrap();
        // The faulty state files HAProxy was shown to ignore as a whole.
        let short = text.replacen(" 127.0.0.1 2 0 1 1", " 127.0.0.1 2 0 1", 1);
        assert_eq!(
            validate(short.as_bytes()),
            Err(StateError::FieldCount {
                line: 3,
                expected: 25,
                found: 24
            })
        );
        let err = validate(short.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("24") && err.contains("25"));
        assert_eq!(
            validate(&good[..good.len() - 1]),
            Err(StateError::MissingBlankLine { line: 10 })
        );
        assert_eq!(
            validate(&good[..430]),
            Err(StateError::Truncated { line: 4 })
        );
        assert_eq!(
            validate(b"1\n"),
            Err(StateError::MissingBlankLine { line: 1 })
        );
        assert!(matches!(
            validate(b"1\nbe_id be_name\n\n"),
            Err(StateError::BadHeader { line: 2, .. })
        ));
        assert!(matches!(
            validate(b"1\n# be_name srv_name\n\n"),
            Err(StateError::BadHeader { line: 2, .. })
        ));
        assert!(matches!(
            validate(b"garbage line here\n\x00\xff\xfe random \x01 bytes\n1 2 3\n"),
            Err(StateError::NotAStateDump { .. })
        ));
        assert_eq!(
            validate(b"1\n# be_id be_name\n\n"),
            Ok(StateSummary {
                backends: 0,
                servers: 0
            })
        );
    }

    #[test]
    fn every_cut_fails_but_the_whole_dump() {
        for dump in [
            reply!("2.6", "stats_show_servers_state"),
            reply!("3.4", "stats_show_servers_state"),
        ] {
            for end in 0..dump.len() {
                assert!(validate(&dump[..end]).is_err(), "cut at {end}");
                assert!(parse(&dump[..end]).is_err(), "cut at {end}");
            }
            assert_eq!(validate(dump), Ok(EIGHT));
        }
    }

    #[test]
    fn backends_are_counted() {
        let dump = b"1\n# be_id be_name srv_id\n3 a 1\n3 a 2\n4 b 1\n5 c 1\n\n";
        assert_eq!(
            validate(dump),
            Ok(StateSummary {
                backends: 3,
                servers: 4
            })
        );
        // The typed view needs more columns than this header has.
        assert_eq!(
            parse(dump),
            Err(StateError::MissingColumn { name: "srv_name" })
        );
    }

    #[test]
    fn bad_numbers_in_the_typed_view() {
        let good = std::str::from_utf8(reply!("3.4", "stats_show_servers_state")).unwrap();
        let bad = good.replacen("3 be_app 2 s2", "3 be_app x s2", 1);
        let expected = Err(StateError::InvalidField {
            line: 4,
            column: "srv_id".into(),
            found: "x".into(),
            expected: "a number from 0 to 2147483647",
        });
        // The validator refuses it already, so the typed view never sees it.
        assert_eq!(validate(bad.as_bytes()), expected.clone().map(|_| EIGHT));
        assert_eq!(parse(bad.as_bytes()), expected);
    }

    /// The first server line of a real 2.6 dump with field `index` (0-based) replaced.
    fn with_field(index: usize, value: &str) -> Vec<u8> {
        let good = std::str::from_utf8(reply!("2.6", "stats_show_servers_state")).unwrap();
        let mut lines: Vec<String> = good.split('\n').map(str::to_string).collect();
        let mut fields: Vec<&str> = lines[2].split(' ').collect();
        fields[index] = value;
        lines[2] = fields.join(" ");
        lines.join("\n").into_bytes()
    }

    /// Index of a column in the 25-column version 1 header.
    fn column(name: &str) -> usize {
        let good = std::str::from_utf8(reply!("2.6", "stats_show_servers_state")).unwrap();
        let header = good.lines().nth(1).unwrap();
        header[2..].split(' ').position(|n| n == name).unwrap()
    }

    #[test]
    fn hostile_values_are_refused() {
        let cases = [
            ("srv_op_state", "99999999999999999999"),
            ("srv_op_state", "4"),
            ("srv_op_state", "-1"),
            ("srv_op_state", "2x"),
            ("srv_port", "99999"),
            ("srv_port", "-1"),
            ("srv_check_port", "65536"),
            ("srv_agent_port", "1e3"),
            ("srv_name", "s1\0"),
            ("be_name", "be\x1b[31m"),
            ("srv_addr", "127.0.0.1\0"),
            ("srv_addr", "not-an-address"),
            ("srv_check_addr", "1.2.3.4.5"),
            ("srv_fqdn", "evil/host"),
            ("srv_uweight", "257"),
            ("srv_iweight", "99999999999"),
            ("srv_admin_state", "256"),
            ("srv_check_result", "5"),
            ("bk_f_forced_id", "2"),
            ("be_id", "-3"),
            ("srv_id", "4294967296"),
            ("srv_time_since_last_change", "99999999999999999999"),
            ("srvrecord", "_a\x07"),
        ];
        for (name, value) in cases {
            let dump = with_field(column(name), value);
            match validate(&dump) {
                Err(StateError::InvalidField { line, column, .. }) => {
                    assert_eq!((line, column.as_str()), (3, name), "{name} {value:?}");
                }
                other => panic!("{name} {value:?}: {other:?}"),
            }
            // Whole or split, the same verdict.
            for cut in [1, 7, 200, 450] {
                assert!(
                    chunked(&dump, &[cut]).is_err(),
                    "{name} {value:?} cut {cut}"
                );
            }
        }
        let err = validate(&with_field(column("srv_op_state"), "99999999999999999999"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "line 3: srv_op_state is \"99999999999999999999\", expected 0 to 3 (stopped, \
             starting, running, stopping)"
        );
    }

    #[test]
    fn values_haproxy_writes_pass() {
        let cases = [
            ("srv_op_state", "0"),
            ("srv_op_state", "3"),
            ("srv_admin_state", "72"),
            ("srv_addr", "-"),
            ("srv_addr", "::1"),
            ("srv_addr", "2001:db8::17"),
            ("srv_check_addr", "10.0.0.1"),
            ("srv_fqdn", "backend-1.example.com"),
            ("srv_port", "65535"),
            ("srv_port", "0"),
            ("srv_uweight", "256"),
            ("srv_time_since_last_change", "-5"),
            ("srvrecord", "_http._tcp.example.com"),
            ("srv_name", "tpl:1.a-b_c"),
            ("srv_use_ssl", "1"),
        ];
        for (name, value) in cases {
            let dump = with_field(column(name), value);
            assert_eq!(validate(&dump), Ok(EIGHT), "{name} {value:?}");
            assert!(parse(&dump).is_ok(), "{name} {value:?}");
        }
    }

    #[test]
    fn lines_are_bounded() {
        let mut validator = StateValidator::new();
        validator.push(b"1\n# be_id\n").unwrap();
        let chunk = vec![b'x'; 4096];
        let mut result = Ok(());
        for _ in 0..(MAX_LINE / chunk.len() + 1) {
            result = validator.push(&chunk);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(
            result,
            Err(StateError::LineTooLong {
                line: 3,
                limit: MAX_LINE
            })
        );
        assert!(validator.partial.capacity() <= 2 * MAX_LINE);
        // Errors are sticky.
        assert!(validator.push(b"\n").is_err());
        assert!(validator.finish().is_err());
    }

    #[test]
    fn errors_come_early() {
        let mut validator = StateValidator::new();
        assert!(matches!(
            validator.push(b"Can't find backend.\n"),
            Err(StateError::NoSuchBackend { .. })
        ));
        let mut validator = StateValidator::new();
        validator.push(b"1\n# be_id a b\n3 x\n").unwrap_err();
        // Without a newline the message is still recognised at EOF.
        let mut validator = StateValidator::new();
        validator.push(b"Unknown command").unwrap();
        assert!(matches!(
            validator.finish(),
            Err(StateError::UnknownCommand { .. })
        ));
    }

    #[test]
    fn the_writer_forwards_only_valid_bytes() {
        let dump = reply!("3.4", "stats_show_servers_state");
        let mut writer = ValidatingWriter::new(Vec::new());
        for chunk in dump.chunks(7) {
            writer.write_all(chunk).unwrap();
        }
        let (summary, bytes) = writer.finish().unwrap();
        assert_eq!(summary, EIGHT);
        assert_eq!(bytes, dump);

        let mut writer = ValidatingWriter::new(Vec::new());
        let err = writer
            .write_all(reply!("3.4", "stats_show_servers_state_nosuchbe"))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let inner = err.get_ref().and_then(|e| e.downcast_ref::<StateError>());
        assert!(matches!(inner, Some(StateError::NoSuchBackend { .. })));
        assert!(writer.get_ref().is_empty());

        let mut writer = ValidatingWriter::new(Vec::new());
        writer.write_all(&dump[..dump.len() - 1]).unwrap();
        assert_eq!(
            writer.finish().map(|(s, _)| s),
            Err(StateError::MissingBlankLine { line: 10 })
        );
    }

    fn chunked(bytes: &[u8], cuts: &[usize]) -> Result<StateSummary, StateError> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut validator = StateValidator::new();
        let mut start = 0;
        for cut in cuts.into_iter().chain([bytes.len()]) {
            validator.push(&bytes[start..cut])?;
            start = cut;
        }
        validator.finish()
    }

    fn sample() -> impl Strategy<Value = Vec<u8>> {
        let dump = reply!("2.6", "stats_show_servers_state").to_vec();
        let with_suffix = dump.clone();
        prop_oneof![
            Just(dump.clone()),
            proptest::collection::vec(any::<u8>(), 1..200)
                .prop_map(move |suffix| { [with_suffix.as_slice(), &suffix].concat() }),
            (0..dump.len()).prop_map(move |end| dump[..end].to_vec()),
            proptest::collection::vec(
                prop_oneof![Just(b'1'), Just(b'\n'), Just(b' '), Just(b'#'), any::<u8>()],
                0..64
            ),
        ]
    }

    proptest! {
        #[test]
        fn chunking_does_not_change_the_result(
            bytes in sample(),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            prop_assert_eq!(chunked(&bytes, &cuts), validate(&bytes));
        }

        #[test]
        fn a_value_passes_exactly_when_it_is_in_its_range(
            op_state in 0u64..12,
            port in 0u64..140_000,
            weight in 0u64..600,
            forced in 0u64..4,
        ) {
            let dump = with_field(column("srv_op_state"), &op_state.to_string());
            let dump = String::from_utf8(dump).unwrap();
            let mut fields: Vec<String> = dump.split('\n').nth(2).unwrap()
                .split(' ').map(str::to_string).collect();
            fields[column("srv_port")] = port.to_string();
            fields[column("srv_uweight")] = weight.to_string();
            fields[column("bk_f_forced_id")] = forced.to_string();
            let line = fields.join(" ");
            let mut lines: Vec<&str> = dump.split('\n').collect();
            lines[2] = &line;
            let dump = lines.join("\n");
            let in_range = op_state <= 3 && port <= 65535 && weight <= 256 && forced <= 1;
            prop_assert_eq!(validate(dump.as_bytes()).is_ok(), in_range);
            prop_assert_eq!(parse(dump.as_bytes()).is_ok(), in_range);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = validate(&bytes);
            let _ = parse(&bytes);
        }

        #[test]
        fn never_panics_on_near_misses(
            rows in proptest::collection::vec("[0-9a-z \t-]{0,60}", 0..6),
        ) {
            let reply = format!("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state \
                srv_admin_state srv_uweight srv_check_state srv_port\n{}\n\n", rows.join("\n"));
            let _ = parse(reply.as_bytes());
        }
    }

    #[test]
    fn maintenance_is_haproxys_mask() {
        // A `disabled` server-template slot enabled at runtime: CMAINT alone, and it serves.
        assert_eq!(admin_state_name(0x04), "ready");
        assert_eq!(admin_state_name(0x04 | 0x08), "drain");
        assert_eq!(admin_state_name(0x04 | 0x01), "maint");
        assert_eq!(admin_state_name(0x20), "maint");
        assert_eq!(admin_state_name(0x02), "maint");
        assert_eq!(admin_state_name(0x40), "ready");
    }
}
