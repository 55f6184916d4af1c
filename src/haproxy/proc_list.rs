//! `show proc` on the master CLI: the master, its workers and (2.x) external programs.
//!
//! ```text
//! #<PID>          <type>          <reloads>       <uptime>        <version>
//! 7975            master          6 [failed: 0]   0d00h03m37s     2.6.12-1+deb12u4
//! # workers
//! 10839           worker          0               0d00h00m00s     2.6.12-1+deb12u4
//! # old workers
//! 10657           worker          1               0d00h00m12s     2.6.12-1+deb12u4
//! # programs
//!
//! ```
//!
//! The columns are padded to 15 but widen when a value is longer, so rows are split on
//! whitespace, keeping bracketed notes such as `[failed: 1]` together, and matched to the
//! `<name>` groups of the header. Versions before 2.5 had a `<relative PID>` column holding
//! `[was: N]` for old workers and no `[failed: N]`; `show proc debug` adds `<ipc_fd[0]>` and
//! `<ipc_fd[1]>` columns. Columns this parser has no field for are ignored.

use serde::{Deserialize, Serialize};

use super::ParseError;
use super::text::{self, Line, excerpt};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcList {
    pub master: Process,
    /// The workers of the current generation (`# workers`). After a failed reload 2.x keeps the
    /// serving worker here; 3.x leaves this empty and lists it under `old_workers`.
    pub workers: Vec<Process>,
    /// Workers of earlier generations still running (`# old workers`), usually finishing
    /// their connections after a reload.
    pub old_workers: Vec<Process>,
    /// `program` sections (`# programs`, 2.x only).
    pub programs: Vec<Process>,
    /// Programs of earlier generations (`# old programs`, 2.x only).
    #[serde(default)]
    pub old_programs: Vec<Process>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    pub pid: u32,
    /// `master`, `worker`, or the name of a `program` section.
    pub kind: String,
    /// For the master, how many reloads it did; for a worker, how many reloads it has survived
    /// (0 for the newest).
    pub reloads: u32,
    /// Failed reloads, shown for the master only (2.5+).
    pub failed: Option<u32>,
    /// As the server printed it, e.g. `0d00h01m27s`.
    pub uptime: String,
    pub uptime_secs: Option<u64>,
    pub version: String,
}

const EXPECTED: &str = "show proc";

/// Reads the reply of the master's `show proc`.
pub fn parse(reply: &[u8]) -> Result<ProcList, ParseError> {
    ProcList::read(reply)
}

impl ProcList {
    fn read(reply: &[u8]) -> Result<ProcList, ParseError> {
        let first = text::first_line(reply)?;
        if !first.starts_with(b"#<") {
            return Err(ParseError::NotThisOutput {
                expected: EXPECTED,
                found: excerpt(first),
            });
        }
        let body = text::body_lines(reply)?;
        let mut body = body.iter();
        let header = body.next().ok_or(ParseError::Empty)?;
        let columns = Columns::parse(header)?;

        let master = match body.next() {
            Some(line) => columns.process(line)?,
            None => {
                return Err(ParseError::Unterminated {
                    line: header.number,
                });
            }
        };
        if master.kind != "master" {
            return Err(ParseError::BadLine {
                line: header.number + 1,
                found: format!("expected the master process, found {}", master.kind),
            });
        }

        let mut list = ProcList {
            master,
            workers: Vec::new(),
            old_workers: Vec::new(),
            programs: Vec::new(),
            old_programs: Vec::new(),
        };
        let mut section: Option<Section> = None;
        for line in body {
            if let Some(name) = line.text.strip_prefix(b"# ") {
                section = Some(Section::from_name(name));
                continue;
            }
            let process = columns.process(line)?;
            let target = match section {
                Some(Section::Workers) => &mut list.workers,
                Some(Section::OldWorkers) => &mut list.old_workers,
                Some(Section::Programs) => &mut list.programs,
                Some(Section::OldPrograms) => &mut list.old_programs,
                // A section from a newer version: its rows are not workers we know about.
                Some(Section::Unknown) => continue,
                None => {
                    return Err(ParseError::BadLine {
                        line: line.number,
                        found: excerpt(line.text),
                    });
                }
            };
            target.push(process);
        }
        Ok(list)
    }

    /// The worker serving new connections: the newest one under `# workers`, or, when that
    /// section is empty (3.x after a failed reload), the newest old worker, which still serves.
    pub fn current_worker(&self) -> Option<&Process> {
        newest(&self.workers).or_else(|| newest(&self.old_workers))
    }
}

fn newest(list: &[Process]) -> Option<&Process> {
    list.iter().min_by_key(|p| p.reloads)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Workers,
    OldWorkers,
    Programs,
    OldPrograms,
    Unknown,
}

impl Section {
    fn from_name(name: &[u8]) -> Section {
        match name.trim_ascii() {
            b"workers" => Section::Workers,
            b"old workers" => Section::OldWorkers,
            b"programs" => Section::Programs,
            b"old programs" => Section::OldPrograms,
            _ => Section::Unknown,
        }
    }
}

/// Where each field is, from the header's `<name>` groups.
struct Columns {
    count: usize,
    pid: usize,
    kind: usize,
    reloads: usize,
    uptime: usize,
    version: usize,
}

impl Columns {
    fn parse(line: &Line<'_>) -> Result<Columns, ParseError> {
        let bad = || ParseError::BadLine {
            line: line.number,
            found: excerpt(line.text),
        };
        let mut names: Vec<&[u8]> = Vec::new();
        let mut rest = line.text.strip_prefix(b"#").ok_or_else(bad)?.trim_ascii();
        while !rest.is_empty() {
            // Names may hold spaces (`<relative PID>`), so split on the brackets.
            let inner = rest.strip_prefix(b"<").ok_or_else(bad)?;
            let end = inner.iter().position(|&b| b == b'>').ok_or_else(bad)?;
            let (name, after) = inner.split_at(end);
            names.push(name);
            rest = after.get(1..).unwrap_or_default().trim_ascii_start();
        }
        let find = |name: &'static str| {
            names
                .iter()
                .position(|n| *n == name.as_bytes())
                .ok_or(ParseError::MissingColumn { name })
        };
        Ok(Columns {
            count: names.len(),
            pid: find("PID")?,
            kind: find("type")?,
            reloads: find("reloads")?,
            uptime: find("uptime")?,
            version: find("version")?,
        })
    }

    fn process(&self, line: &Line<'_>) -> Result<Process, ParseError> {
        let text = String::from_utf8_lossy(line.text);
        let fields = split_row(&text, self.count);
        if fields.len() != self.count {
            return Err(ParseError::FieldCount {
                line: line.number,
                expected: self.count,
                found: fields.len(),
            });
        }
        let field = |index: usize| fields.get(index).map(String::as_str).unwrap_or_default();
        let bad = |name: &str, index: usize| ParseError::BadValue {
            line: line.number,
            field: name.to_string(),
            found: excerpt(field(index).as_bytes()),
        };
        let pid = field(self.pid).parse().map_err(|_| bad("PID", self.pid))?;
        let (reloads, failed) =
            parse_reloads(field(self.reloads)).ok_or_else(|| bad("reloads", self.reloads))?;
        let uptime = field(self.uptime).to_string();
        Ok(Process {
            pid,
            kind: field(self.kind).to_string(),
            reloads,
            failed,
            uptime_secs: parse_uptime(&uptime),
            uptime,
            version: field(self.version).to_string(),
        })
    }
}

/// Whitespace-separated fields, a bracketed note being one field. `[failed: N]` always belongs
/// to the value before it (`0 [failed: 0]`); other notes do only when there are more fields
/// than columns, and are otherwise values of their own (`[was: 1]` under `<relative PID>`).
fn split_row(text: &str, columns: usize) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    let mut open = false;
    for word in text.split_ascii_whitespace() {
        match fields.last_mut() {
            Some(last) if open => {
                last.push(' ');
                last.push_str(word);
            }
            _ => fields.push(word.to_string()),
        }
        open = if open {
            !word.ends_with(']')
        } else {
            word.starts_with('[') && !word.ends_with(']')
        };
    }
    let is_note = |f: &String| f.starts_with('[');
    let mut i = 1;
    while i < fields.len() {
        let extra = fields.len() > columns;
        let joinable = fields
            .get(i)
            .is_some_and(|f| f.starts_with("[failed:") || (extra && is_note(f)))
            && fields.get(i - 1).is_some_and(|f| !is_note(f));
        if joinable {
            let note = fields.remove(i);
            if let Some(prev) = fields.get_mut(i - 1) {
                prev.push(' ');
                prev.push_str(&note);
            }
        } else {
            i += 1;
        }
    }
    fields
}

/// `6` or `6 [failed: 0]`.
fn parse_reloads(value: &str) -> Option<(u32, Option<u32>)> {
    let (count, note) = value.split_once(' ').unwrap_or((value, ""));
    let count = count.parse().ok()?;
    let note = note.trim();
    if note.is_empty() {
        return Some((count, None));
    }
    let failed = note
        .strip_prefix("[failed:")?
        .strip_suffix(']')?
        .trim()
        .parse()
        .ok()?;
    Some((count, Some(failed)))
}

/// Seconds in `1d02h03m04s` (spaces allowed, as in `show info`'s `0d 0h02m34s`).
pub(crate) fn parse_uptime(value: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    let mut last_scale = u64::MAX;
    let mut units = 0;
    for c in value.chars().filter(|c| *c != ' ') {
        if let Some(digit) = c.to_digit(10) {
            let n = number.unwrap_or(0).checked_mul(10)?;
            number = Some(n.checked_add(u64::from(digit))?);
            continue;
        }
        let scale = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        if scale >= last_scale {
            return None;
        }
        last_scale = scale;
        total = total.checked_add(number.take()?.checked_mul(scale)?)?;
        units += 1;
    }
    (number.is_none() && units > 0).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case {
        reply: &'static [u8],
        master: (u32, u32, u32),
        workers: &'static [(u32, u32)],
        old_workers: &'static [(u32, u32)],
    }

    fn case(
        reply: &'static [u8],
        master: (u32, u32, u32),
        workers: &'static [(u32, u32)],
        old_workers: &'static [(u32, u32)],
    ) -> Case {
        Case {
            reply,
            master,
            workers,
            old_workers,
        }
    }

    /// Every `show proc` reply recorded without a prompt: (master pid, reloads, failed),
    /// then (pid, reloads) of workers and old workers.
    fn cases() -> Vec<Case> {
        vec![
            case(
                reply!("2.6", "master_show_proc"),
                (7975, 0, 0),
                &[(7978, 0)],
                &[],
            ),
            case(
                reply!("2.6", "master_show_proc_noshut"),
                (7975, 0, 0),
                &[(7978, 0)],
                &[],
            ),
            case(
                reply!("2.6", "dr_07_show_proc_before_reload"),
                (7975, 0, 0),
                &[(7978, 0)],
                &[],
            ),
            case(
                reply!("2.6", "dr_10_show_proc_after_reload"),
                (7975, 1, 0),
                &[(10216, 0)],
                &[],
            ),
            case(
                reply!("2.6", "dr_14_show_proc_after_reload2"),
                (7975, 2, 0),
                &[(10235, 0)],
                &[],
            ),
            case(
                reply!("2.6", "dr_17_show_proc_after_reload3"),
                (7975, 3, 0),
                &[(10277, 0)],
                &[],
            ),
            case(
                reply!("2.6", "oldworker_show_proc_during_reload.04"),
                (7975, 6, 0),
                &[(10839, 0)],
                &[(10657, 1)],
            ),
            case(
                reply!("2.6", "oldworker_show_proc_during_reload.11"),
                (7975, 6, 0),
                &[(10839, 0)],
                &[],
            ),
            case(
                reply!("2.6", "sf_12_truncated_show_proc"),
                (7975, 9, 0),
                &[(10979, 0)],
                &[],
            ),
            case(
                reply!("2.6", "sf_22_garbage_show_proc"),
                (7975, 10, 0),
                &[(10983, 0)],
                &[],
            ),
            case(
                reply!("2.6", "sf_32_empty_show_proc"),
                (7975, 11, 0),
                &[(10987, 0)],
                &[],
            ),
            case(
                reply!("2.6", "sf_42_version_only_show_proc"),
                (7975, 12, 0),
                &[(10991, 0)],
                &[],
            ),
            case(
                reply!("2.6", "sf_52_wrong_version_show_proc"),
                (7975, 13, 0),
                &[(10995, 0)],
                &[],
            ),
            case(
                reply!("2.6", "sf_62_midfile_short_line_show_proc"),
                (7975, 14, 0),
                &[(11196, 0)],
                &[],
            ),
            case(
                reply!("2.6", "sf_72_no_trailing_blank_show_proc"),
                (7975, 15, 0),
                &[(11200, 0)],
                &[],
            ),
            case(
                reply!("2.6", "bad_01_show_proc_before"),
                (7975, 16, 0),
                &[(12455, 0)],
                &[],
            ),
            // 2.6 after a failed reload: the surviving worker stays under `# workers`.
            case(
                reply!("2.6", "bad_04_show_proc_after_bad_reload"),
                (7975, 17, 1),
                &[(12455, 1)],
                &[],
            ),
            case(
                reply!("2.6", "bad_11_show_proc_after_fix"),
                (7975, 18, 0),
                &[(12739, 0)],
                &[],
            ),
            case(
                reply!("3.4", "master_show_proc"),
                (11480, 0, 0),
                &[(11483, 0)],
                &[],
            ),
            case(
                reply!("3.4", "master_show_proc_noshut"),
                (11480, 0, 0),
                &[(11483, 0)],
                &[],
            ),
            case(
                reply!("3.4", "prompt_i_master.02"),
                (11480, 0, 0),
                &[(11483, 0)],
                &[],
            ),
            case(
                reply!("3.4", "prompt_n_master.02"),
                (11480, 0, 0),
                &[(11483, 0)],
                &[],
            ),
            case(
                reply!("3.4", "dr_07_show_proc_before_reload"),
                (11480, 0, 0),
                &[(11483, 0)],
                &[],
            ),
            case(
                reply!("3.4", "dr_10_show_proc_after_reload"),
                (11480, 1, 0),
                &[(12117, 0)],
                &[],
            ),
            case(
                reply!("3.4", "dr_14_show_proc_after_reload2"),
                (11480, 2, 0),
                &[(12120, 0)],
                &[],
            ),
            case(
                reply!("3.4", "dr_17_show_proc_after_reload3"),
                (11480, 3, 0),
                &[(12123, 0)],
                &[],
            ),
            case(
                reply!("3.4", "oldworker_show_proc_during_reload.04"),
                (11480, 4, 0),
                &[(12205, 0)],
                &[(12123, 1)],
            ),
            case(
                reply!("3.4", "oldworker_show_proc_during_reload.11"),
                (11480, 4, 0),
                &[(12205, 0)],
                &[(12123, 1)],
            ),
            case(
                reply!("3.4", "sf_12_truncated_show_proc"),
                (11480, 11, 0),
                &[(12810, 0)],
                &[],
            ),
            case(
                reply!("3.4", "sf_22_garbage_show_proc"),
                (11480, 12, 0),
                &[(12813, 0)],
                &[],
            ),
            case(
                reply!("3.4", "sf_32_empty_show_proc"),
                (11480, 13, 0),
                &[(12816, 0)],
                &[],
            ),
            case(
                reply!("3.4", "sf_42_version_only_show_proc"),
                (11480, 14, 0),
                &[(12819, 0)],
                &[],
            ),
            case(
                reply!("3.4", "sf_52_wrong_version_show_proc"),
                (11480, 15, 0),
                &[(12822, 0)],
                &[],
            ),
            case(
                reply!("3.4", "sf_62_midfile_short_line_show_proc"),
                (11480, 16, 0),
                &[(12825, 0)],
                &[],
            ),
            case(
                reply!("3.4", "sf_72_no_trailing_blank_show_proc"),
                (11480, 17, 0),
                &[(12828, 0)],
                &[],
            ),
            case(
                reply!("3.4", "bad_01_show_proc_before"),
                (11480, 8, 0),
                &[(12536, 0)],
                &[],
            ),
            // 3.4 after a failed reload: `# workers` is empty, the serving worker is old.
            case(
                reply!("3.4", "bad_04_show_proc_after_bad_reload"),
                (11480, 9, 1),
                &[],
                &[(12536, 1)],
            ),
            case(
                reply!("3.4", "bad_11_show_proc_after_fix"),
                (11480, 10, 0),
                &[(12693, 0)],
                &[],
            ),
        ]
    }

    fn pids(list: &[Process]) -> Vec<(u32, u32)> {
        list.iter().map(|p| (p.pid, p.reloads)).collect()
    }

    #[test]
    fn every_recorded_show_proc_parses() {
        for (i, c) in cases().iter().enumerate() {
            let list = parse(c.reply).unwrap_or_else(|e| panic!("case {i}: {e}"));
            let m = &list.master;
            assert_eq!(
                (m.pid, m.reloads, m.failed),
                (c.master.0, c.master.1, Some(c.master.2)),
                "case {i}"
            );
            assert_eq!(m.kind, "master");
            assert_eq!(pids(&list.workers), c.workers, "case {i}");
            assert_eq!(pids(&list.old_workers), c.old_workers, "case {i}");
            assert!(list.programs.is_empty() && list.old_programs.is_empty());
            for p in list.workers.iter().chain(&list.old_workers) {
                assert_eq!(p.kind, "worker");
                assert_eq!(p.failed, None);
                assert!(p.uptime_secs.is_some(), "case {i}: {}", p.uptime);
            }
            let expected_current = c.workers.first().or(c.old_workers.first()).map(|w| w.0);
            assert_eq!(list.current_worker().map(|w| w.pid), expected_current);
        }
    }

    #[test]
    fn fields_of_a_full_reply() {
        let list = parse(reply!("2.6", "master_show_proc")).unwrap();
        assert_eq!(
            list.master,
            Process {
                pid: 7975,
                kind: "master".into(),
                reloads: 0,
                failed: Some(0),
                uptime: "0d00h01m27s".into(),
                uptime_secs: Some(87),
                version: "2.6.12-1+deb12u4".into(),
            }
        );
        let list = parse(reply!("3.4", "master_show_proc")).unwrap();
        assert_eq!(list.workers[0].version, "3.4.0-64a335366");
        assert_eq!(list.workers[0].uptime_secs, Some(5));
    }

    #[test]
    fn a_prompt_after_the_reply_is_reported() {
        for reply in [
            reply!("2.6", "prompt_master.02"),
            reply!("3.4", "prompt_master.02"),
            reply!("3.4", "prompt_p_master.02"),
            reply!("3.4", "prompt_timed_master.02"),
        ] {
            assert!(matches!(parse(reply), Err(ParseError::TrailingData { .. })));
            let end = reply.windows(2).rposition(|w| w == b"\n\n").unwrap() + 2;
            assert!(parse(&reply[..end]).is_ok());
        }
    }

    #[test]
    fn other_replies_are_rejected_with_their_first_line() {
        let err = parse(reply!("2.6", "master_unknown_foo")).unwrap_err();
        let ParseError::NotThisOutput { found, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(found.starts_with("Unknown command"), "{found}");
        assert!(found.chars().count() <= 81);
        assert!(err.to_string().contains("show proc"));

        let err = parse(reply!("3.4", "master_at9_show_info")).unwrap_err();
        assert!(
            err.to_string().contains("Can't find the target PID"),
            "{err}"
        );
        assert!(matches!(
            parse(reply!("3.4", "dr_08_master_reload")),
            Err(ParseError::NotThisOutput { .. })
        ));
        assert_eq!(
            parse(reply!("2.6", "dr_08_master_reload")),
            Err(ParseError::Empty)
        );
    }

    #[test]
    fn cut_replies_fail() {
        let reply = reply!("2.6", "oldworker_show_proc_during_reload.04");
        for end in 0..reply.len() {
            assert!(parse(&reply[..end]).is_err(), "cut at {end}");
        }
    }

    #[test]
    fn pre_2_5_layout_with_relative_pids() {
        let reply = b"#<PID>          <type>          <relative PID>  <reloads>       <uptime>        <version>\n\
            100             master          0               2               0d00h10m00s     2.4.0\n\
            # workers\n\
            300             worker          1               0               0d00h00m05s     2.4.0\n\
            # old workers\n\
            200             worker          [was: 1]        1               0d00h05m00s     2.4.0\n\
            # programs\n\
            400             dataplaneapi    -               1               0d01h00m00s     -\n\
            # old programs\n\
            401             dataplaneapi    -               2               1d00h00m00s     -\n\n";
        let list = parse(reply).unwrap();
        assert_eq!((list.master.reloads, list.master.failed), (2, None));
        assert_eq!(pids(&list.workers), [(300, 0)]);
        assert_eq!(pids(&list.old_workers), [(200, 1)]);
        assert_eq!(list.programs[0].kind, "dataplaneapi");
        assert_eq!(list.old_programs[0].uptime_secs, Some(86_400));
    }

    #[test]
    fn debug_columns_and_wide_values() {
        let reply = b"#<PID>          <type>          <reloads>       <uptime>        <version>      \t\t <ipc_fd[0]>     <ipc_fd[1]>    \n\
            7975            master          123456789012 [failed: 42] 1234d23h59m59s 3.4.0\t\t 3               4\n\
            # workers\n\
            7978            worker          0               0d00h01m27s     3.4.0\t\t 5               -1\n\n";
        let list = parse(reply).unwrap_err();
        // 123456789012 does not fit the u32 reload counter.
        assert!(matches!(list, ParseError::BadValue { line: 2, .. }));
        let reply = String::from_utf8_lossy(reply).replace("123456789012", "1234");
        let list = parse(reply.as_bytes()).unwrap();
        assert_eq!((list.master.reloads, list.master.failed), (1234, Some(42)));
        assert_eq!(
            list.master.uptime_secs,
            Some(1234 * 86_400 + 23 * 3600 + 59 * 60 + 59)
        );
        assert_eq!(pids(&list.workers), [(7978, 0)]);
    }

    #[test]
    fn malformed_rows() {
        let head = "#<PID> <type> <reloads> <uptime> <version>\n";
        let parse_rest = |rest: &str| parse(format!("{head}{rest}").as_bytes());
        assert!(matches!(
            parse_rest("1 master 0 [failed: 0] 0d00h00m01s\n\n"),
            Err(ParseError::FieldCount {
                line: 2,
                expected: 5,
                found: 4
            })
        ));
        assert!(matches!(
            parse_rest("1 worker 0 0d00h00m01s v\n\n"),
            Err(ParseError::BadLine { line: 2, .. })
        ));
        assert!(matches!(
            parse_rest("1 master 0 0s v\n2 worker 0 0s v\n\n"),
            Err(ParseError::BadLine { line: 3, .. })
        ));
        assert!(matches!(
            parse_rest("x master 0 0s v\n\n"),
            Err(ParseError::BadValue { line: 2, .. })
        ));
        assert!(matches!(
            parse_rest("1 master 0 [failed: x] 0s v\n\n"),
            Err(ParseError::BadValue { line: 2, .. })
        ));
        assert_eq!(
            parse(b"#<PID> <type> <uptime> <version>\n1 master 0s v\n\n"),
            Err(ParseError::MissingColumn { name: "reloads" })
        );
        assert!(matches!(
            parse(b"#<PID> junk\n\n"),
            Err(ParseError::BadLine { line: 1, .. })
        ));
    }

    #[test]
    fn uptimes() {
        assert_eq!(parse_uptime("0d00h01m27s"), Some(87));
        assert_eq!(parse_uptime("0d 0h02m34s"), Some(154));
        assert_eq!(parse_uptime("5s"), Some(5));
        assert_eq!(parse_uptime(""), None);
        assert_eq!(parse_uptime("12"), None);
        assert_eq!(parse_uptime("1s2m"), None);
        assert_eq!(parse_uptime("-1d00h00m00s"), None);
        assert_eq!(parse_uptime("99999999999999999999d"), None);
    }

    #[test]
    fn serializes_to_json() {
        let list = parse(reply!("3.4", "oldworker_show_proc_during_reload.04")).unwrap();
        let json = serde_json::to_value(&list).unwrap();
        assert_eq!(json["master"]["failed"], 0);
        assert_eq!(json["old_workers"][0]["pid"], 12123);
        let back: ProcList = serde_json::from_value(json).unwrap();
        assert_eq!(back, list);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn never_panics_on_near_misses(
            rows in proptest::collection::vec("[0-9a-z#<>\\[\\]: ]{0,40}", 0..8)
        ) {
            let reply = format!("#<PID> <type> <reloads> <uptime> <version>\n{}\n\n", rows.join("\n"));
            let _ = parse(reply.as_bytes());
        }
    }
}
