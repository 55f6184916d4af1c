//! The real servers of other services, spoken to by a raw client: proof that the harness
//! starts each one and that the facts in its starter's doc comment hold, large replies
//! included.

use std::io::Write;
use std::time::Duration;

use crate::support::services::{
    Bird, Collectd, DOVEADM_HELLO, Dovecot, Kea, Memcached, OPENVPN_PASSWORD, OpenVpn, Raw, Redis,
    Tor, TorAuth, Unbound, Uwsgi, framing, shown,
};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn redis_replies_and_errors() {
    let Some(redis) = Redis::start() else { return };
    let mut raw = redis.connect();
    let resp = &framing::resp;
    assert_eq!(raw.exchange(b"PING\r\n", resp), b"+PONG\r\n");
    assert_eq!(
        raw.exchange(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nxyz\r\n", resp),
        b"+OK\r\n"
    );
    assert_eq!(raw.exchange(b"GET k\r\n", resp), b"$3\r\nxyz\r\n");
    assert_eq!(raw.exchange(b"GET nokey\r\n", resp), b"$-1\r\n");
    assert_eq!(
        raw.exchange(b"MGET k nokey\r\n", resp),
        b"*2\r\n$3\r\nxyz\r\n$-1\r\n"
    );
    assert_eq!(
        raw.exchange(b"FOO\r\n", resp),
        b"-ERR unknown command 'FOO', with args beginning with: \r\n"
    );
    assert_eq!(
        raw.exchange(b"GET\r\n", resp),
        b"-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        raw.exchange(b"INCR k\r\n", resp),
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        raw.exchange(b"LPUSH k x\r\n", resp),
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert!(
        raw.exchange(b"AUTH x\r\n", resp)
            .starts_with(b"-ERR AUTH <password> called without any password configured")
    );
    // Pipelined: answered in order.
    raw.send(b"SET n 1\r\nINCR n\r\nPING\r\n");
    assert_eq!(raw.read(resp), b"+OK\r\n");
    assert_eq!(raw.read(resp), b":2\r\n");
    assert_eq!(raw.read(resp), b"+PONG\r\n");
    raw.send(b"QUIT\r\n");
    assert_eq!(raw.read_to_end(), b"+OK\r\n");
}

#[test]
fn redis_password() {
    let Some(redis) = Redis::start_with_password() else {
        return;
    };
    let mut raw = Raw::to(&redis.socket);
    let resp = &framing::resp;
    assert_eq!(
        raw.exchange(b"PING\r\n", resp),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        raw.exchange(b"AUTH wrong\r\n", resp),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    let auth = format!("AUTH {}\r\n", redis.password.unwrap());
    assert_eq!(raw.exchange(auth.as_bytes(), resp), b"+OK\r\n");
    assert_eq!(raw.exchange(b"PING\r\n", resp), b"+PONG\r\n");
}

#[test]
fn redis_large_value_read_whole() {
    let Some(redis) = Redis::start() else { return };
    let size = 20 * 1024 * 1024;
    let value = redis.set_large_value("big", size);
    let mut raw = redis.connect();
    let reply = raw.exchange(b"GET big\r\n", &framing::resp);
    let header = format!("${size}\r\n");
    assert!(reply.starts_with(header.as_bytes()));
    assert_eq!(reply.len(), header.len() + size + 2);
    assert!(reply[header.len()..header.len() + size] == value[..]);
}

#[test]
fn memcached_text_protocol() {
    let Some(mc) = Memcached::start() else { return };
    let mut raw = Raw::to(&mc.socket);
    let line = &framing::line;
    let end = &framing::memcached_end;
    assert_eq!(raw.exchange(b"version\r\n", line), b"VERSION 1.6.18\r\n");
    assert_eq!(raw.exchange(b"set k 0 0 3\r\nabc\r\n", line), b"STORED\r\n");
    assert_eq!(
        raw.exchange(b"get k\r\n", end),
        b"VALUE k 0 3\r\nabc\r\nEND\r\n"
    );
    assert_eq!(raw.exchange(b"get nokey\r\n", end), b"END\r\n");
    assert_eq!(raw.exchange(b"bogus\r\n", end), b"ERROR\r\n");
    assert_eq!(
        raw.exchange(b"incr k 1\r\n", line),
        b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
    );
    assert_eq!(raw.exchange(b"delete nokey\r\n", line), b"NOT_FOUND\r\n");
    assert_eq!(
        raw.exchange(b"set k 0 0 x\r\n", line),
        b"CLIENT_ERROR bad command line format\r\n"
    );
    assert_eq!(raw.exchange(b"mn\r\n", line), b"MN\r\n");
    let stats = raw.exchange(b"stats\r\n", end);
    assert!(stats.starts_with(b"STAT pid "), "{}", shown(&stats));

    // Large: the largest value, five times in one `get`, half-closed.
    let value = mc.set_large_value("big", Memcached::MAX_VALUE);
    let mut raw = Raw::to(&mc.socket);
    raw.send(b"get big big big big big\r\n");
    raw.half_close();
    let reply = raw.read_to_end();
    let one = [
        format!("VALUE big 0 {}\r\n", value.len()).as_bytes(),
        &value,
        b"\r\n",
    ]
    .concat();
    assert_eq!(reply.len(), one.len() * 5 + 5);
    assert!(reply == [one.repeat(5), b"END\r\n".to_vec()].concat());
    // One byte more is too large.
    let mut raw = Raw::to(&mc.socket);
    let too_large = Memcached::MAX_VALUE + 100;
    raw.send(format!("set big 0 0 {too_large}\r\n").as_bytes());
    raw.send(&vec![b'x'; too_large]);
    raw.send(b"\r\n");
    assert_eq!(
        raw.read(line),
        b"SERVER_ERROR object too large for cache\r\n"
    );
}

/// A DNS query for `name` type A, by hand.
fn dns_query(name: &str) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

#[test]
fn unbound_remote_control() {
    let Some(unbound) = Unbound::start() else {
        return;
    };
    let status = unbound.control("status");
    assert!(status.starts_with(b"version: 1.17"), "{}", shown(&status));
    assert!(status.ends_with(b" is running...\n"), "{}", shown(&status));
    assert_eq!(unbound.control("bogus"), b"error unknown command 'bogus'\n");
    assert_eq!(
        unbound.control("lookup"),
        b"error: this option requires a domain name\n"
    );
    assert_eq!(
        unbound.control("local_data a.example. A 192.0.2.1"),
        b"ok\n"
    );
    // No `UBCT1 ` prefix: reset, or at best EOF, and never a byte.
    let mut raw = Raw::to(&unbound.socket);
    raw.send(b"status\n");
    raw.half_close();
    match raw.try_read_to_end() {
        Ok(bytes) => assert!(bytes.is_empty(), "{}", shown(&bytes)),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    // Another version.
    let mut raw = Raw::to(&unbound.socket);
    raw.send(b"UBCT2 status\n");
    assert_eq!(raw.read_to_end(), b"error version mismatch\n");

    // The DNS port answers the local data.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    udp.send_to(&dns_query("a.example."), ("127.0.0.1", unbound.dns_port))
        .unwrap();
    let mut answer = [0u8; 512];
    let n = udp.recv(&mut answer).unwrap();
    let answer = &answer[..n];
    assert_eq!(&answer[..2], &[0x12, 0x34], "the query's id");
    assert_eq!(answer[3] & 0x0f, 0, "rcode NOERROR: {answer:?}");
    assert_eq!(&answer[6..8], &[0, 1], "one answer: {answer:?}");
    assert!(answer.ends_with(&[192, 0, 2, 1]), "{answer:?}");

    // Large: 5000 records listed, half-closed.
    unbound.add_local_data(5000);
    let list = unbound.control("list_local_data");
    assert!(list.len() > 5000 * 39, "{}", shown(&list));
    assert!(contains(
        &list,
        b"h04999.example.\t3600\tIN\tA\t192.0.2.250\n"
    ));
    assert!(unbound.control("status").ends_with(b" is running...\n"));
}

#[test]
fn bird_cli() {
    let Some(bird) = Bird::start() else { return };
    let mut raw = Raw::to(&bird.socket);
    assert_eq!(raw.read(&framing::bird), b"0001 BIRD 2.0.12 ready.\n");
    let status = raw.exchange(b"show status\n", &framing::bird);
    assert!(status.starts_with(b"1000-BIRD 2.0"), "{}", shown(&status));
    assert!(contains(&status, b"\n1011-Router ID is 192.0.2.1\n"));
    assert!(status.ends_with(b"\n0013 Daemon is up and running\n"));
    assert_eq!(
        raw.exchange(b"bogus\n", &framing::bird),
        b"9001 syntax error, unexpected CF_SYM_UNDEFINED\n"
    );
    assert_eq!(
        raw.exchange(b"\n", &framing::bird),
        b"9001 syntax error, unexpected END\n"
    );
    assert_eq!(
        raw.exchange(b"show route for 1.2.3.4\n", &framing::bird),
        b"8001 Network not found\n"
    );
    // Two at once: answered in order.
    raw.send(b"show route count\nshow status\n");
    let count = raw.read(&framing::bird);
    assert!(
        count.ends_with(b"0014 Total: 2000 of 2000 routes for 2000 networks in 2 tables\n"),
        "{}",
        shown(&count)
    );
    assert!(
        raw.read(&framing::bird)
            .ends_with(b"0013 Daemon is up and running\n")
    );
    // Large: every route, a line each, ended by `0000 `.
    let routes = raw.exchange(b"show route\n", &framing::bird);
    assert!(
        routes.starts_with(b"1007-Table master4:\n 10."),
        "{}",
        shown(&routes)
    );
    assert!(routes.ends_with(b" * (200)\n0000 \n"), "{}", shown(&routes));
    assert_eq!(
        routes.iter().filter(|&&b| b == b'\n').count(),
        2 + bird.routes
    );
    assert!(raw.pending.is_empty());
}

#[test]
fn tor_without_auth() {
    let Some(tor) = Tor::start(TorAuth::None) else {
        return;
    };
    let mut raw = Raw::to(&tor.socket);
    let info = raw.exchange(b"PROTOCOLINFO 1\r\n", &framing::tor);
    assert!(
        info.starts_with(b"250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-VERSION Tor=\"0.4")
    );
    assert!(info.ends_with(b"\r\n250 OK\r\n"));
    // Anything but PROTOCOLINFO before AUTHENTICATE: 514, then EOF.
    raw.send(b"GETINFO version\r\n");
    assert_eq!(raw.read_to_end(), b"514 Authentication required.\r\n");

    let mut raw = tor.connect();
    let version = raw.exchange(b"GETINFO version\r\n", &framing::tor);
    assert!(
        version.starts_with(b"250-version=0.4."),
        "{}",
        shown(&version)
    );
    assert!(version.ends_with(b"\r\n250 OK\r\n"));
    assert_eq!(
        raw.exchange(b"BOGUS\r\n", &framing::tor),
        b"510 Unrecognized command \"BOGUS\"\r\n"
    );
    assert_eq!(
        raw.exchange(b"GETINFO nothing\r\n", &framing::tor),
        b"552 Unrecognized key \"nothing\"\r\n"
    );
    let conf = raw.exchange(b"GETCONF SocksPort DisableNetwork\r\n", &framing::tor);
    assert_eq!(conf, b"250-SocksPort=0\r\n250 DisableNetwork=1\r\n");
    // Large: a data reply (`250+…` to a `.` line) a hundred times, then QUIT and EOF.
    raw.send(&b"GETINFO config/names\r\n".repeat(100));
    raw.send(b"QUIT\r\n");
    let all = raw.read_to_end();
    assert!(all.len() > 1_000_000, "{}", shown(&all));
    let mut rest = &all[..];
    for _ in 0..100 {
        let n = framing::tor(rest).unwrap();
        assert!(rest.starts_with(b"250+config/names=\r\n"));
        assert!(rest[..n].ends_with(b"\r\n.\r\n250 OK\r\n"));
        rest = &rest[n..];
    }
    assert_eq!(rest, b"250 closing connection\r\n");
}

#[test]
fn tor_password_auth() {
    let Some(tor) = Tor::start(TorAuth::Password) else {
        return;
    };
    let mut raw = Raw::to(&tor.socket);
    let info = raw.exchange(b"PROTOCOLINFO 1\r\n", &framing::tor);
    assert!(
        contains(&info, b"250-AUTH METHODS=HASHEDPASSWORD\r\n"),
        "{}",
        shown(&info)
    );
    raw.send(b"AUTHENTICATE \"wrong\"\r\n");
    let refused = raw.read_to_end();
    assert!(
        refused.starts_with(b"515 Authentication failed"),
        "{}",
        shown(&refused)
    );
    let mut raw = Raw::to(&tor.socket);
    raw.send(b"AUTHENTICATE\r\n");
    assert!(raw.read_to_end().starts_with(b"515 "));
    let mut raw = tor.connect();
    assert!(
        raw.exchange(b"GETINFO version\r\n", &framing::tor)
            .ends_with(b"250 OK\r\n")
    );
}

#[test]
fn tor_cookie_auth() {
    let Some(tor) = Tor::start(TorAuth::Cookie) else {
        return;
    };
    let cookie = tor.cookie.clone().unwrap();
    let mut raw = Raw::to(&tor.socket);
    let info = raw.exchange(b"PROTOCOLINFO 1\r\n", &framing::tor);
    let methods = format!(
        "250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE=\"{}\"\r\n",
        cookie.display()
    );
    assert!(contains(&info, methods.as_bytes()), "{}", shown(&info));
    raw.send(&[b"AUTHENTICATE ".as_slice(), &[b'0'; 64], b"\r\n"].concat());
    assert!(raw.read_to_end().starts_with(b"515 Authentication failed"));
    let mut raw = tor.connect();
    assert!(
        raw.exchange(b"GETINFO version\r\n", &framing::tor)
            .ends_with(b"250 OK\r\n")
    );
    // Lower-case hex does too.
    let line = String::from_utf8(tor.authenticate_line())
        .unwrap()
        .to_lowercase();
    let mut raw = Raw::to(&tor.socket);
    let line = line.replace("authenticate", "AUTHENTICATE");
    assert_eq!(raw.exchange(line.as_bytes(), &framing::tor), b"250 OK\r\n");
}

#[test]
fn openvpn_management() {
    let Some(vpn) = OpenVpn::start() else { return };
    let mut raw = vpn.connect();
    let pid = raw.exchange(b"pid\n", &framing::openvpn);
    assert_eq!(
        pid,
        format!("SUCCESS: pid={}\r\n", vpn.process.pid()).as_bytes()
    );
    assert_eq!(
        raw.exchange(b"bogus\n", &framing::openvpn),
        b"ERROR: unknown command, enter 'help' for more options\r\n"
    );
    let version = raw.exchange(b"version\n", &framing::openvpn);
    assert!(
        version.starts_with(b"OpenVPN Version: OpenVPN 2.6"),
        "{}",
        shown(&version)
    );
    assert!(version.ends_with(b"\r\nManagement Version: 5\r\nEND\r\n"));
    let state = raw.exchange(b"state\n", &framing::openvpn);
    assert!(state.ends_with(b"\r\nEND\r\n"), "{}", shown(&state));

    // One client at a time: a second connection hears nothing until the first goes.
    let mut second = Raw::to(&vpn.socket).with_timeout(Duration::from_millis(300));
    assert!(second.try_read(&framing::line).is_err());
    drop(raw);
    let mut second = second.with_timeout(Duration::from_secs(10));
    assert!(second.read(&framing::line).starts_with(b">INFO:OpenVPN"));

    // Large: `test N` has no terminator; `pid` after it marks the end.
    second.send(b"test 20000\npid\n");
    let lines = second.read(&framing::through(b"SUCCESS: pid="));
    assert_eq!(lines.iter().filter(|&&b| b == b'\n').count(), 20000);
    assert!(lines.starts_with(
        b"[0] The purpose of this command is to generate large amounts of output.\r\n"
    ));
    second.send(b"exit\n");
}

#[test]
fn openvpn_management_password() {
    let Some(vpn) = OpenVpn::start_with_password() else {
        return;
    };
    let mut raw = Raw::to(&vpn.socket);
    assert_eq!(raw.read(&framing::bytes(15)), b"ENTER PASSWORD:");
    raw.send(b"wrong\n");
    assert_eq!(raw.read(&framing::bytes(15)), b"ENTER PASSWORD:");
    raw.send(format!("{OPENVPN_PASSWORD}\n").as_bytes());
    assert_eq!(
        raw.read(&framing::line),
        b"SUCCESS: password is correct\r\n"
    );
    assert!(
        raw.read(&framing::line)
            .starts_with(b">INFO:OpenVPN Management Interface")
    );
    assert!(
        raw.exchange(b"pid\n", &framing::openvpn)
            .starts_with(b"SUCCESS: pid=")
    );
    drop(raw);
    // Three wrong passwords: closed without a word.
    let mut raw = Raw::to(&vpn.socket);
    for _ in 0..3 {
        assert_eq!(raw.read(&framing::bytes(15)), b"ENTER PASSWORD:");
        raw.send(b"wrong\n");
    }
    assert_eq!(raw.read_to_end(), b"");
}

#[test]
fn openvpn_management_hold() {
    let Some(vpn) = OpenVpn::start_held() else {
        return;
    };
    let mut raw = vpn.connect();
    assert_eq!(
        raw.read(&framing::line),
        b">HOLD:Waiting for hold release:0\r\n"
    );
    assert_eq!(
        raw.exchange(b"hold release\n", &framing::openvpn),
        b"SUCCESS: hold release succeeded\r\n"
    );
}

#[test]
fn kea_control_socket() {
    let Some(kea) = Kea::start() else { return };
    let mut raw = Raw::to(&kea.socket);
    raw.send(br#"{"command":"list-commands"}"#);
    let reply = raw.read_to_end();
    assert!(
        reply.starts_with(b"{ \"arguments\": [ \"build-report\""),
        "{}",
        shown(&reply)
    );
    assert!(
        reply.ends_with(b" ], \"result\": 0 }"),
        "no newline after it"
    );
    let mut raw = Raw::to(&kea.socket);
    raw.send(b"{\"command\":\"bogus\"}\n");
    assert_eq!(
        raw.read_to_end(),
        b"{ \"result\": 2, \"text\": \"'bogus' command not supported.\" }"
    );
    let mut raw = Raw::to(&kea.socket);
    raw.send(b"not json");
    raw.half_close();
    assert_eq!(
        raw.read_to_end(),
        b"{ \"result\": 1, \"text\": \"invalid first character n\" }"
    );
    // Two objects: only the first is answered.
    let mut raw = Raw::to(&kea.socket);
    raw.send(br#"{"command":"status-get"}{"command":"version-get"}"#);
    let reply: serde_json::Value = serde_json::from_slice(&raw.read_to_end()).unwrap();
    assert_eq!(reply["arguments"]["pid"], kea.process.pid());

    // Large: a 1 MiB user-context in the configuration, back through config-get.
    kea.set_large_config(1 << 20);
    let mut raw = Raw::to(&kea.socket);
    raw.send(br#"{"command":"config-get"}"#);
    raw.half_close();
    let reply = raw.read_to_end();
    assert!(reply.len() > 1 << 20);
    let reply: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(reply["result"], 0);
    assert_eq!(
        reply["arguments"]["Dhcp4"]["user-context"]["blob"]
            .as_str()
            .unwrap()
            .len(),
        1 << 20
    );
}

#[test]
fn collectd_unixsock() {
    let Some(collectd) = Collectd::start() else {
        return;
    };
    let mut raw = Raw::to(&collectd.socket);
    let f = &framing::collectd;
    let list = raw.exchange(b"LISTVAL\n", f);
    assert!(list.starts_with(b"1 Value found\n"), "{}", shown(&list));
    assert!(list.ends_with(b" sockctl-test/load/load\n"));
    let load = raw.exchange(b"GETVAL sockctl-test/load/load\n", f);
    assert!(
        load.starts_with(b"3 Values found\nshortterm="),
        "{}",
        shown(&load)
    );
    assert_eq!(
        raw.exchange(b"PUTVAL sockctl-test/test/gauge-x N:42\n", f),
        b"0 Success: 1 value has been dispatched.\n"
    );
    // PUTVAL is queued: GETVAL may not see the value at once.
    let mut tries = 0;
    loop {
        let value = raw.exchange(b"GETVAL sockctl-test/test/gauge-x\n", f);
        if value != b"-1 No such value.\n" || tries == 500 {
            assert_eq!(value, b"1 Value found\nvalue=4.200000e+01\n");
            break;
        }
        tries += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(raw.exchange(b"BOGUS\n", f), b"-1 Unknown command: BOGUS\n");
    assert_eq!(
        raw.exchange(b"PUTVAL bad\n", f),
        b"-1 Missing identifier and/or value-list.\n"
    );
    // An error with an empty line after it.
    assert_eq!(
        raw.exchange(b"GETVAL sockctl-test/load/nothing\n", f),
        b"-1 Type `nothing' is unknown.\n"
    );
    assert_eq!(raw.read(&framing::line), b"\n");

    // Large: 20000 values, listed half-closed.
    collectd.put_values(20_000);
    crate::support::wait_for(|| {
        let list = raw.exchange(b"LISTVAL\n", f);
        contains(&list, b" sockctl-test/bulk-19999/gauge-value\n")
    });
    let mut raw = Raw::to(&collectd.socket);
    raw.send(b"LISTVAL\n");
    raw.half_close();
    let list = raw.read_to_end();
    assert!(
        list.starts_with(b"20002 Values found\n"),
        "{}",
        shown(&list)
    );
    assert_eq!(framing::collectd(&list), Some(list.len()));
}

#[test]
fn uwsgi_stats_on_connect() {
    let Some(uwsgi) = Uwsgi::start() else { return };
    // Nothing sent: the JSON comes, then EOF.
    let reply = Raw::to(&uwsgi.stats).read_to_end();
    assert!(
        reply.starts_with(b"{\n\t\"version\":\"2.0."),
        "{}",
        shown(&reply)
    );
    assert!(reply.ends_with(b"\n}"), "no newline after it");
    let stats = uwsgi.stats();
    assert_eq!(stats["pid"], uwsgi.process.pid());
    assert_eq!(stats["workers"].as_array().unwrap().len(), 1);
    // A client that writes first: EPIPE or not, the JSON is there to read.
    let mut raw = Raw::to(&uwsgi.stats);
    std::thread::sleep(Duration::from_millis(50));
    let _ = raw.stream.write_all(b"hello\n");
    let reply = raw.read_to_end();
    assert!(serde_json::from_slice::<serde_json::Value>(&reply).is_ok());
}

#[test]
fn dovecot_doveadm_server() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let mut raw = dovecot.connect();
    assert_eq!(
        raw.exchange(b"\t\twho\n", &framing::doveadm),
        b"\0\0\0\0\x03\n+\n"
    );
    let bogus = raw.exchange(b"\t\tbogus\n", &framing::doveadm);
    assert_eq!(
        bogus,
        [
            b"L\0\0\0\x36\x04doveadm: doveadm: Client sent unknown command: bogus\n".as_slice(),
            b"\0\0\0\0\x03\n-\n"
        ]
        .concat()
    );

    // A table (one row per service, tab-ended fields): on a connection that stays open its
    // last piece may come after the result line; half-closed it comes whole, in order.
    let mut raw = Raw::to(&dovecot.socket);
    raw.send(DOVEADM_HELLO);
    raw.send(b"\t\tservice\tstatus\n");
    raw.half_close();
    let all = raw.read_to_end();
    let reply = &all[b"VERSION\tdoveadm-client\t1\t2\n+\n".len()..];
    assert_eq!(
        framing::doveadm(reply),
        Some(reply.len()),
        "{}",
        shown(reply)
    );
    let (output, log) = framing::doveadm_channels(reply);
    assert!(log.is_empty(), "{}", shown(&log));
    assert!(output.starts_with(b"tcpwrap\t"), "{}", shown(&output));
    assert!(contains(&output, b"\tdoveadm\t"), "{}", shown(&output));
    assert!(output.ends_with(b"\t\n+\n"), "{}", shown(&output));

    // Without the handshake: nothing at all.
    let mut raw = Raw::to(&dovecot.socket);
    raw.send(b"\t\twho\n");
    assert_eq!(raw.read_to_end(), b"");
    // Minor version 0: the old, unframed protocol.
    let mut raw = Raw::to(&dovecot.socket);
    raw.send(b"VERSION\tdoveadm-server\t1\t0\n\t\twho\n");
    assert_eq!(raw.read(&framing::through(b"+\n\n+\n")), b"+\n\n+\n");

    // Large: a 3 MB file through `fs get`. doveadm-server reads the next command as soon as
    // one is done and, on EOF, closes with what its socket had no room for unsent: a
    // half-close sent with the command cut this reply whenever this reader was the slower.
    // So the half-close waits for the result line, as sockctl's does.
    let file = dovecot.process.path("large.txt");
    let content: Vec<u8> = (0..3_000_000u32)
        .map(|i| {
            if i % 100 == 99 {
                b'\n'
            } else {
                b'a' + (i % 26) as u8
            }
        })
        .collect();
    std::fs::write(&file, &content).unwrap();
    let mut raw = dovecot.connect();
    raw.send(format!("\t\tfs\tget\tposix\t\t{}\n", file.display()).as_bytes());
    let reply = raw.read(&framing::doveadm);
    raw.half_close();
    assert_eq!(raw.read_to_end(), b"");
    let (output, _) = framing::doveadm_channels(&reply);
    let mut escaped = Vec::with_capacity(content.len() * 2);
    for &b in &content {
        match b {
            b'\n' => escaped.extend_from_slice(&[1, b'n']),
            b => escaped.push(b),
        }
    }
    assert!(output == [escaped, b"\t\n+\n".to_vec()].concat());
}

/// Starts every server at once, as parallel tests do, and says how long each took
/// (`cargo test --test tests services::start_times -- --nocapture`).
#[test]
fn start_times() {
    type Start = fn() -> Option<Duration>;
    let starters: [(&str, Start); 10] = [
        ("redis-server", || {
            Redis::start().map(|s| s.process.started_in)
        }),
        ("memcached", || {
            Memcached::start().map(|s| s.process.started_in)
        }),
        ("unbound", || Unbound::start().map(|s| s.process.started_in)),
        ("bird (2000 routes)", || {
            Bird::start().map(|s| s.process.started_in)
        }),
        ("tor", || {
            Tor::start(TorAuth::Cookie).map(|s| s.process.started_in)
        }),
        ("openvpn", || OpenVpn::start().map(|s| s.process.started_in)),
        ("kea-dhcp4", || Kea::start().map(|s| s.process.started_in)),
        ("collectd", || {
            Collectd::start().map(|s| s.process.started_in)
        }),
        ("uwsgi", || Uwsgi::start().map(|s| s.process.started_in)),
        ("dovecot", || Dovecot::start().map(|s| s.process.started_in)),
    ];
    let threads: Vec<_> = starters
        .into_iter()
        .map(|(name, start)| (name, std::thread::spawn(start)))
        .collect();
    for (name, thread) in threads {
        match thread.join().unwrap() {
            Some(time) => eprintln!("{name}: ready in {} ms", time.as_millis()),
            None => eprintln!("{name}: not installed"),
        }
    }
}
