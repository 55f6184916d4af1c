//! Many exchanges in one process against a real HAProxy: no descriptor may leak and memory
//! must stay flat. Its own test binary, so nothing else in the process opens files meanwhile.
//! `SOCKCTL_SOAK_COUNT` sets the count (scripts/soak.sh runs 100,000).

#[allow(dead_code, unused_imports)]
mod support;

use sockctl::{Address, Command, Exchange};
use support::haproxy::Haproxy;

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn many_exchanges_leak_neither_descriptors_nor_memory() {
    let Some(ha) = Haproxy::start() else { return };
    let count: usize = std::env::var("SOCKCTL_SOAK_COUNT")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(3000);
    let stats = Address::Unix(ha.admin.clone());
    let master = Address::Unix(ha.master.clone());
    let exchange = Exchange::new();
    let commands = [
        (
            &stats,
            Command::new("show info").unwrap(),
            &b"Name: HAProxy\n"[..],
        ),
        (
            &stats,
            Command::new("show servers state").unwrap(),
            &b"1\n# be_id"[..],
        ),
        (&master, Command::new("show proc").unwrap(), &b"#<PID>"[..]),
    ];
    let mut reply = Vec::with_capacity(64 * 1024);
    let mut run = |i: usize| {
        let (address, command, start) = &commands[i % commands.len()];
        reply.clear();
        exchange
            .run(address, command, &mut reply)
            .unwrap_or_else(|e| panic!("exchange {i}: {e}"));
        assert!(reply.starts_with(start), "exchange {i}: {reply:?}");
        assert!(reply.ends_with(b"\n\n"), "exchange {i}: {reply:?}");
    };
    // Warm up allocator pools and lazily opened files before taking the baseline.
    for i in 0..300 {
        run(i);
    }
    let (fds, rss) = (open_descriptors(), resident_kib());
    let start = std::time::Instant::now();
    for i in 0..count {
        run(i);
    }
    let elapsed = start.elapsed();
    let (fds_after, rss_after) = (open_descriptors(), resident_kib());
    eprintln!(
        "soak: {count} exchanges in {elapsed:?} ({:.0}/s); fds {fds} -> {fds_after}; \
         RSS {rss} KiB -> {rss_after} KiB",
        count as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(fds_after, fds, "descriptors leaked");
    assert!(
        rss_after <= rss + 256,
        "memory grew: {rss} KiB -> {rss_after} KiB"
    );
}
