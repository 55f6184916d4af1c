//! Times short commands the way hyperfine's `--shell=none` does, but in turns and with
//! standard input from a file, which hyperfine 1.15 can only give through a shell whose own
//! start-up (about 1 ms here, and noisy) is as large as the exchange being measured.
//!
//!     spawn-bench [--warmup N] [--runs N] [--block N] [--json FILE] SPEC
//!
//! SPEC has one command a line: NAME, STDIN (a file, or empty for /dev/null), then the program
//! and its arguments, all separated by tabs. The commands take turns, BLOCK runs at a time (1
//! by default), in an order that rotates from turn to turn, so that a burst of load from
//! elsewhere hits every command alike. Blocks of a few runs keep what a heavy peer (a Python
//! interpreter) leaves in the caches from slowing down the run after it: only the first run of
//! a block pays, and the median ignores it. Standard output goes to /dev/null. Wall time is
//! from just before the spawn to the return of wait; user and system time come from
//! getrusage(RUSAGE_CHILDREN). The JSON has the shape of hyperfine's `--export-json`.

use std::fs::File;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct Timeval {
    tv_sec: i64,
    tv_usec: i64,
}

#[repr(C)]
#[derive(Default)]
struct Rusage {
    ru_utime: Timeval,
    ru_stime: Timeval,
    _rest: [i64; 14],
}

unsafe extern "C" {
    fn getrusage(who: i32, usage: *mut Rusage) -> i32;
}

const RUSAGE_CHILDREN: i32 = -1;

fn children_cpu() -> (f64, f64) {
    let mut usage = Rusage::default();
    // SAFETY: `usage` is a valid, writable struct rusage (x86_64 and aarch64 Linux layout).
    unsafe { getrusage(RUSAGE_CHILDREN, &mut usage) };
    let secs = |t: Timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

struct Spec {
    name: String,
    stdin: String,
    argv: Vec<String>,
    times: Vec<f64>,
    user: f64,
    system: f64,
}

impl Spec {
    fn run(&mut self, record: bool) {
        let mut command = Command::new(&self.argv[0]);
        command.args(&self.argv[1..]).stdout(Stdio::null());
        if self.stdin.is_empty() {
            command.stdin(Stdio::null());
        } else {
            let file =
                File::open(&self.stdin).unwrap_or_else(|e| fail(&format!("{}: {e}", self.stdin)));
            command.stdin(file);
        }
        let (user0, sys0) = children_cpu();
        let start = Instant::now();
        let status = command
            .status()
            .unwrap_or_else(|e| fail(&format!("{}: {e}", self.argv[0])));
        let elapsed = start.elapsed().as_secs_f64();
        let (user1, sys1) = children_cpu();
        if !status.success() {
            fail(&format!("'{}' failed: {status}", self.name));
        }
        if record {
            self.times.push(elapsed);
            self.user += user1 - user0;
            self.system += sys1 - sys0;
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("spawn-bench: {message}");
    std::process::exit(1);
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut warmup, mut runs, mut block, mut json, mut spec_path) =
        (10usize, 100usize, 1usize, None, None);
    while let Some(arg) = args.next() {
        let mut value = |what: &str| {
            args.next()
                .unwrap_or_else(|| fail(&format!("{what} needs a value")))
        };
        match arg.as_str() {
            "--warmup" => {
                warmup = value("--warmup")
                    .parse()
                    .unwrap_or_else(|_| fail("bad --warmup"))
            }
            "--runs" => {
                runs = value("--runs")
                    .parse()
                    .unwrap_or_else(|_| fail("bad --runs"))
            }
            "--block" => {
                block = value("--block")
                    .parse::<usize>()
                    .unwrap_or_else(|_| fail("bad --block"))
                    .max(1)
            }
            "--json" => json = Some(value("--json")),
            _ if spec_path.is_none() => spec_path = Some(arg),
            _ => fail("usage: spawn-bench [--warmup N] [--runs N] [--block N] [--json FILE] SPEC"),
        }
    }
    let spec_path = spec_path.unwrap_or_else(|| {
        fail("usage: spawn-bench [--warmup N] [--runs N] [--block N] [--json FILE] SPEC")
    });
    let text =
        std::fs::read_to_string(&spec_path).unwrap_or_else(|e| fail(&format!("{spec_path}: {e}")));
    let mut specs: Vec<Spec> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut fields = line.split('\t').map(String::from);
            let name = fields.next().unwrap_or_default();
            let stdin = fields.next().unwrap_or_default();
            let argv: Vec<String> = fields.filter(|f| !f.is_empty()).collect();
            if argv.is_empty() {
                fail(&format!("no program for '{name}'"));
            }
            Spec {
                name,
                stdin,
                argv,
                times: Vec::new(),
                user: 0.0,
                system: 0.0,
            }
        })
        .collect();
    // Blocks of `block` runs of one command, the commands taking turns in an order that
    // rotates from cycle to cycle; the first `warmup` runs of each command are not recorded.
    let n = specs.len();
    let per = warmup + runs;
    let mut done = vec![0usize; n];
    let mut cycle = 0;
    while done.iter().any(|&d| d < per) {
        for k in 0..n {
            let i = (cycle + k) % n;
            for _ in 0..block {
                if done[i] < per {
                    specs[i].run(done[i] >= warmup);
                    done[i] += 1;
                }
            }
        }
        cycle += 1;
    }

    let mut results = Vec::new();
    for s in &specs {
        let mut sorted = s.times.clone();
        sorted.sort_by(f64::total_cmp);
        let count = sorted.len() as f64;
        let mean = sorted.iter().sum::<f64>() / count;
        let var = sorted.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (count - 1.0).max(1.0);
        let mid = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 {
            sorted[mid]
        } else {
            (sorted[mid - 1] + sorted[mid]) / 2.0
        };
        eprintln!(
            "{:<24} median {:8.3} ms   mean {:8.3} ms ± {:.3}",
            s.name,
            median * 1e3,
            mean * 1e3,
            var.sqrt() * 1e3
        );
        let times: Vec<String> = s.times.iter().map(|t| format!("{t:.9}")).collect();
        results.push(format!(
            "{{\"command\":{},\"mean\":{mean:.9},\"stddev\":{:.9},\"median\":{median:.9},\
             \"user\":{:.9},\"system\":{:.9},\"min\":{:.9},\"max\":{:.9},\"times\":[{}]}}",
            json_string(&s.name),
            var.sqrt(),
            s.user / count,
            s.system / count,
            sorted[0],
            sorted[sorted.len() - 1],
            times.join(",")
        ));
    }
    if let Some(path) = json {
        let mut f = File::create(&path).unwrap_or_else(|e| fail(&format!("{path}: {e}")));
        writeln!(f, "{{\"results\":[{}]}}", results.join(","))
            .unwrap_or_else(|e| fail(&format!("{path}: {e}")));
    }
}
