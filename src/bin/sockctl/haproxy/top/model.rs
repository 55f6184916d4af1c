//! What `top` shows: a line per frontend, backend and server of each socket, with per-second
//! rates from the difference between two samples; and which of them to show, in what order.

use std::collections::HashMap;
use std::time::Instant;

use sockctl::haproxy::servers_state::ServersState;
use sockctl::haproxy::stat::{Kind, Stat, StatRow};

/// What one socket said at one refresh: its `show stat`, and each server's admin state from
/// `show servers state` (`ready`, `drain`, `maint`), which the status alone does not always
/// show (a server down and drained says `DOWN`).
#[derive(Debug)]
pub struct Sample {
    pub stat: Stat,
    pub admin: HashMap<(String, String), &'static str>,
}

impl Sample {
    pub fn new(stat: Stat, state: &ServersState) -> Sample {
        let admin = state
            .servers
            .iter()
            .map(|s| ((s.backend.clone(), s.name.clone()), s.admin_state_name))
            .collect();
        Sample { stat, admin }
    }
}

/// One frontend, backend or server.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Which socket it came from (an index into the list of sockets).
    pub socket: usize,
    pub proxy: String,
    /// The server's name, or `FRONTEND` / `BACKEND`.
    pub name: String,
    pub kind: Kind,
    /// `status` as HAProxy says it: `UP`, `DOWN`, `MAINT`, `DRAIN`, `no check`, `OPEN`, …
    pub status: String,
    /// A server's admin state: `ready`, `drain`, `maint`.
    pub admin: Option<&'static str>,
    pub weight: Option<i64>,
    /// Current, highest and limit of sessions.
    pub cur: i64,
    pub max: i64,
    pub limit: Option<i64>,
    pub queue: i64,
    /// New sessions, bytes in and bytes out per second since the last sample.
    pub rate: Option<f64>,
    pub in_rate: Option<f64>,
    pub out_rate: Option<f64>,
    /// Request, connection and response errors so far.
    pub errors: i64,
    /// The last health check: `L4OK`, `L7STS/503`, … (empty without a check).
    pub check: String,
}

impl Line {
    /// `proxy/name`, as the operator commands take a server.
    pub fn path(&self) -> String {
        format!("{}/{}", self.proxy, self.name)
    }
}

/// Counters that only grow, kept from the last sample.
#[derive(Debug, Clone, Copy)]
struct Totals {
    sessions: i64,
    bytes_in: i64,
    bytes_out: i64,
    at: Instant,
}

/// The lines of the last sample, and what the one before it left for the rates.
#[derive(Debug, Default)]
pub struct Model {
    pub lines: Vec<Line>,
    /// Sockets that could not be read this time, and why.
    pub failures: Vec<(usize, String)>,
    previous: HashMap<(usize, String, String), Totals>,
}

impl Model {
    /// Takes one sample: each socket's `show stat`, or why it could not be read, as of `at`.
    pub fn update(&mut self, samples: Vec<Result<Sample, String>>, at: Instant) {
        let mut lines = Vec::new();
        let mut totals = HashMap::new();
        self.failures.clear();
        for (socket, sample) in samples.into_iter().enumerate() {
            let sample = match sample {
                Ok(sample) => sample,
                Err(why) => {
                    self.failures.push((socket, why));
                    continue;
                }
            };
            for row in &sample.stat.rows {
                let Some(mut line) = line(socket, row) else {
                    continue;
                };
                if line.kind == Kind::Server {
                    let key = (line.proxy.clone(), line.name.clone());
                    line.admin = sample.admin.get(&key).copied();
                }
                let now = Totals {
                    sessions: int(row, "stot"),
                    bytes_in: int(row, "bin"),
                    bytes_out: int(row, "bout"),
                    at,
                };
                let key = (socket, line.proxy.clone(), line.name.clone());
                if let Some(before) = self.previous.get(&key) {
                    let seconds = now.at.duration_since(before.at).as_secs_f64();
                    let per_second = |now: i64, before: i64| {
                        // A counter that went down was reset (a reload): no rate this time.
                        (seconds > 0.0 && now >= before).then(|| (now - before) as f64 / seconds)
                    };
                    line.rate = per_second(now.sessions, before.sessions);
                    line.in_rate = per_second(now.bytes_in, before.bytes_in);
                    line.out_rate = per_second(now.bytes_out, before.bytes_out);
                }
                totals.insert(key, now);
                lines.push(line);
            }
        }
        // A socket that failed keeps its counters for the next sample.
        for (key, before) in std::mem::take(&mut self.previous) {
            if self.failures.iter().any(|(socket, _)| *socket == key.0) {
                totals.entry(key).or_insert(before);
            }
        }
        self.previous = totals;
        self.lines = lines;
    }
}

fn int(row: &StatRow, field: &str) -> i64 {
    row.get(field).and_then(|v| v.as_int()).unwrap_or(0)
}

fn text(row: &StatRow, field: &str) -> String {
    row.get(field)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

fn line(socket: usize, row: &StatRow) -> Option<Line> {
    let kind = row.kind()?;
    if kind == Kind::Listener {
        return None;
    }
    let check = match (
        text(row, "check_status"),
        row.get("check_code").and_then(|v| v.as_int()),
    ) {
        (status, Some(code)) if !status.is_empty() => format!("{status}/{code}"),
        (status, _) => status.trim_start_matches('*').to_string(),
    };
    Some(Line {
        socket,
        proxy: row.proxy()?.to_string(),
        name: row.name()?.to_string(),
        kind,
        status: text(row, "status"),
        admin: None,
        weight: (kind != Kind::Frontend)
            .then(|| row.get("weight").and_then(|v| v.as_int()))
            .flatten(),
        cur: int(row, "scur"),
        max: int(row, "smax"),
        limit: row.get("slim").and_then(|v| v.as_int()),
        queue: int(row, "qcur"),
        rate: None,
        in_rate: None,
        out_rate: None,
        errors: int(row, "ereq") + int(row, "econ") + int(row, "eresp"),
        check,
    })
}

/// The order of the lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// As HAProxy lists them: each proxy's frontend, servers, backend.
    #[default]
    Config,
    Sessions,
    Rate,
    Queue,
    Errors,
    Name,
}

impl Sort {
    pub fn next(self) -> Sort {
        match self {
            Sort::Config => Sort::Sessions,
            Sort::Sessions => Sort::Rate,
            Sort::Rate => Sort::Queue,
            Sort::Queue => Sort::Errors,
            Sort::Errors => Sort::Name,
            Sort::Name => Sort::Config,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Sort::Config => "config",
            Sort::Sessions => "sessions",
            Sort::Rate => "rate",
            Sort::Queue => "queue",
            Sort::Errors => "errors",
            Sort::Name => "name",
        }
    }
}

/// The lines to show: those whose `proxy/name` or status holds `filter` (ignoring case), in
/// the order `sort` gives (largest first for numbers); equal lines keep HAProxy's order.
pub fn shown<'a>(lines: &'a [Line], filter: &str, sort: Sort) -> Vec<&'a Line> {
    let filter = filter.to_lowercase();
    let mut shown: Vec<&Line> = lines
        .iter()
        .filter(|l| {
            filter.is_empty()
                || l.path().to_lowercase().contains(&filter)
                || l.status.to_lowercase().contains(&filter)
        })
        .collect();
    let descending = |key: fn(&Line) -> f64| move |a: &&Line, b: &&Line| key(b).total_cmp(&key(a));
    match sort {
        Sort::Config => {}
        Sort::Sessions => shown.sort_by(descending(|l| l.cur as f64)),
        Sort::Rate => shown.sort_by(descending(|l| l.rate.unwrap_or(-1.0))),
        Sort::Queue => shown.sort_by(descending(|l| l.queue as f64)),
        Sort::Errors => shown.sort_by(descending(|l| l.errors as f64)),
        Sort::Name => shown.sort_by(|a, b| (&a.proxy, &a.name).cmp(&(&b.proxy, &b.name))),
    }
    shown
}

/// The header of the table, and a line's cells; the socket column only for several sockets.
pub const HEADER: &[&str] = &[
    "PROXY", "NAME", "STATUS", "ADMIN", "WEIGHT", "CUR", "MAX", "LIMIT", "QUEUE", "SESS/S", "IN/S",
    "OUT/S", "ERR", "CHECK",
];

pub fn cells(line: &Line) -> Vec<String> {
    let or_dash = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
    let rate = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    let bytes = |v: Option<f64>| v.map_or("-".to_string(), human_bytes);
    vec![
        line.proxy.clone(),
        line.name.clone(),
        line.status.clone(),
        line.admin.unwrap_or("-").to_string(),
        or_dash(line.weight),
        line.cur.to_string(),
        line.max.to_string(),
        or_dash(line.limit),
        line.queue.to_string(),
        rate(line.rate),
        bytes(line.in_rate),
        bytes(line.out_rate),
        line.errors.to_string(),
        line.check.clone(),
    ]
}

/// Bytes per second in the units `ls -h` uses: `0`, `512`, `1.5K`, `20M`.
fn human_bytes(bytes: f64) -> String {
    let mut value = bytes;
    for unit in ["", "K", "M", "G"] {
        if value < 1024.0 {
            return match unit {
                "" => format!("{value:.0}"),
                _ if value < 10.0 => format!("{value:.1}{unit}"),
                _ => format!("{value:.0}{unit}"),
            };
        }
        value /= 1024.0;
    }
    format!("{value:.0}T")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn stat(rows: &str) -> Stat {
        let text = format!(
            "# pxname,svname,qcur,scur,smax,slim,stot,bin,bout,ereq,econ,eresp,weight,status,\
             type,check_status,check_code,\n{rows}\n\n"
        );
        sockctl::haproxy::stat::parse(text.as_bytes()).unwrap()
    }

    /// `rows` of `show stat`, with be/s1 drained.
    fn sample(rows: &str) -> Sample {
        Sample {
            stat: stat(rows),
            admin: HashMap::from([(("be".to_string(), "s1".to_string()), "drain")]),
        }
    }

    #[test]
    fn rates_come_from_the_difference_between_two_samples() {
        let start = Instant::now();
        let mut model = Model::default();
        model.update(
            vec![Ok(sample(
                "fe,FRONTEND,,2,5,100,10,1000,2000,1,,,,OPEN,0,,,\n\
                 be,s1,0,1,3,,4,0,0,,2,1,1,UP,2,L7OK,200,\n\
                 be,s2,3,0,0,,0,0,0,,,,1,DOWN,2,L4CON,,\n\
                 be,BACKEND,3,1,3,10,4,0,0,,2,1,2,UP,1,,,",
            ))],
            start,
        );
        let s1 = &model.lines[1];
        assert_eq!((s1.path().as_str(), s1.rate), ("be/s1", None));
        assert_eq!(s1.check, "L7OK/200");
        assert_eq!(model.lines[2].check, "L4CON");
        assert_eq!(model.lines[0].weight, None);
        assert_eq!(model.lines[0].errors, 1);
        assert_eq!(s1.errors, 3);
        model.update(
            vec![Ok(sample(
                "fe,FRONTEND,,2,5,100,30,3048,2000,1,,,,OPEN,0,,,\n\
                 be,s1,0,1,3,,2,0,0,,2,1,1,UP,2,L7OK,200,",
            ))],
            start + Duration::from_secs(2),
        );
        let fe = &model.lines[0];
        assert_eq!(
            (fe.rate, fe.in_rate, fe.out_rate),
            (Some(10.0), Some(1024.0), Some(0.0))
        );
        // The counter went down (a reload): no rate rather than a negative one.
        assert_eq!(model.lines[1].rate, None);
        assert_eq!(cells(fe)[9..12], ["10.0", "1.0K", "0"]);
        assert_eq!(cells(fe)[3], "-");
        assert_eq!(model.lines[1].admin, Some("drain"));

        // A socket that fails keeps its counters for the next sample.
        model.update(vec![Err("refused".into())], start + Duration::from_secs(3));
        assert!(model.lines.is_empty());
        assert_eq!(model.failures, [(0, "refused".to_string())]);
        model.update(
            vec![Ok(sample(
                "fe,FRONTEND,,2,5,100,34,3048,2000,1,,,,OPEN,0,,,",
            ))],
            start + Duration::from_secs(4),
        );
        assert_eq!(model.lines[0].rate, Some(2.0));
    }

    #[test]
    fn filter_and_sort() {
        let mut model = Model::default();
        model.update(
            vec![Ok(sample(
                "be,a,0,1,3,,4,0,0,,9,,1,UP,2,,,\n\
                 be,b,5,7,9,,0,0,0,,,,1,DRAIN,2,,,\n\
                 other,c,0,2,3,,4,0,0,,,,1,MAINT,2,,,",
            ))],
            Instant::now(),
        );
        let names = |filter, sort| -> Vec<String> {
            shown(&model.lines, filter, sort)
                .iter()
                .map(|l| l.name.clone())
                .collect()
        };
        assert_eq!(names("", Sort::Config), ["a", "b", "c"]);
        assert_eq!(names("", Sort::Sessions), ["b", "c", "a"]);
        assert_eq!(names("", Sort::Errors), ["a", "b", "c"]);
        assert_eq!(names("BE/", Sort::Config), ["a", "b"]);
        assert_eq!(names("maint", Sort::Config), ["c"]);
        assert_eq!(human_bytes(512.0), "512");
        assert_eq!(human_bytes(20.0 * 1024.0 * 1024.0), "20M");
    }
}
