//! Every example of docs/services.md, run against the real servers it names (their paths
//! mapped into each server's temp dir), with the exit code its comment gives (`# exits N`,
//! else 0).

use std::path::Path;
use std::process::Command;

use crate::support::services::{
    Bird, Collectd, Dovecot, Kea, Memcached, OpenVpn, Redis, TOR_PASSWORD, Tor, TorAuth, Unbound,
    Uwsgi,
};

#[test]
fn every_example_of_the_services_page_runs() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/services.md")).unwrap();
    let (
        Some(bird),
        Some(tor),
        Some(vpn),
        Some(mc),
        Some(unbound),
        Some(kea),
        Some(redis),
        Some(collectd),
        Some(dovecot),
        Some(uwsgi),
    ) = (
        Bird::start(),
        Tor::start(TorAuth::Password),
        OpenVpn::start(),
        Memcached::start(),
        Unbound::start(),
        Kea::start(),
        Redis::start(),
        Collectd::start(),
        Dovecot::start(),
        Uwsgi::start(),
    )
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("control.pass");
    std::fs::write(&password, TOR_PASSWORD).unwrap();
    let paths: [(&str, &Path); 11] = [
        ("/run/bird/bird.ctl", &bird.socket),
        ("/etc/tor/control.pass", &password),
        ("/run/tor/control", &tor.socket),
        ("/run/openvpn/server.sock", &vpn.socket),
        ("/run/memcached/memcached.sock", &mc.socket),
        ("/run/unbound.ctl", &unbound.socket),
        ("/run/kea/kea4-ctrl-socket", &kea.socket),
        ("/run/redis/redis-server.sock", &redis.socket),
        ("/run/collectd-unixsock", &collectd.socket),
        ("/run/dovecot/doveadm-server", &dovecot.socket),
        ("/run/uwsgi/stats.sock", &uwsgi.stats),
    ];
    let bin = Path::new(env!("CARGO_BIN_EXE_sockctl")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let found = crate::support::doc_examples(&doc);
    assert!(found.len() >= 14, "{found:?}");
    let mut failures = Vec::new();
    for (example, expected) in &found {
        let mut command = example.clone();
        for (from, to) in &paths {
            command = command.replace(from, &to.display().to_string());
        }
        let out = Command::new("bash")
            .args(["-o", "pipefail", "-c", &command])
            .env("PATH", &path)
            .env_remove("SOCKCTL_PASSWORD")
            .output()
            .unwrap();
        if out.status.code() != Some(*expected) {
            failures.push(format!(
                "{example}\n  exit {:?}, expected {expected}\n  {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
