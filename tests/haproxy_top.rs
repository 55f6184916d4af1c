//! `haproxy top` on a real HAProxy with traffic: the plain table per refresh when stdout is
//! not a terminal, and the full-screen view on tmux's terminal, its keys acting on the real
//! server and every way out restoring the terminal.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crate::support::haproxy::{Haproxy, Setup};
use crate::support::sockctl;
use crate::support::tmux::Tmux;

/// web1 in two backends, a server that is down, a backup; the frontend sends to be_app.
const BACKENDS: &str = "backend be_app
    server web1 unix@{dir}/app.sock
    server down1 127.0.0.1:9 check inter 200ms fall 1
    server bk unix@{dir}/app.sock backup

backend be_api
    server web1 unix@{dir}/app.sock
";

/// The application behind HAProxy, and clients sending it requests until dropped: one
/// request held open (a session that stays on web1), the rest answered at once.
struct Traffic {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    _held: UnixStream,
}

impl Traffic {
    fn start(ha: &Haproxy) -> Traffic {
        let app = UnixListener::bind(ha.path("app.sock")).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let server = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in app.incoming() {
                let Ok(mut stream) = stream else { break };
                let mut request = [0u8; 1024];
                let n = stream.read(&mut request).unwrap_or(0);
                if request[..n].starts_with(b"GET /hold") {
                    held.push(stream);
                } else {
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    );
                }
            }
        });
        let mut held = UnixStream::connect(ha.path("fe.sock")).unwrap();
        held.write_all(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let frontend = ha.path("fe.sock");
        let running = stop.clone();
        let clients = std::thread::spawn(move || {
            while !running.load(Ordering::SeqCst) {
                if let Ok(mut client) = UnixStream::connect(&frontend) {
                    let _ =
                        client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                    let _ = client.read_to_end(&mut Vec::new());
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
        // The app's thread ends with the test binary (it waits in `accept`).
        drop(server);
        Traffic {
            stop,
            threads: vec![clients],
            _held: held,
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn start() -> Option<Haproxy> {
    Haproxy::start_setup(Setup {
        backend: BACKENDS,
        ..Setup::default()
    })
}

/// The cell of `column` in the row of `proxy`/`name` of a table whose header starts with
/// `PROXY` or `SOCKET` (columns padded to their width, two spaces apart).
fn cell(table: &str, proxy: &str, name: &str, column: &str) -> Option<String> {
    let mut lines = table.lines().skip_while(|l| !l.contains("PROXY  "));
    let header = lines.next()?;
    let start = header.find(column)?;
    let end = header[start..]
        .find("  ")
        .map(|gap| {
            // Up to the start of the next header word.
            let rest = &header[start + gap..];
            start + gap + rest.len() - rest.trim_start().len()
        })
        .unwrap_or(usize::MAX);
    let proxy_at = header.find("PROXY")?;
    lines
        .take_while(|l| !l.is_empty())
        .find(|l| {
            let words: Vec<&str> = l[proxy_at.min(l.len())..].split_whitespace().collect();
            words.first() == Some(&proxy) && words.get(1) == Some(&name)
        })
        .map(|l| {
            l.get(start..end.min(l.len()))
                .unwrap_or("")
                .trim()
                .to_string()
        })
}

fn admin_state(ha: &Haproxy, backend: &str, server: &str) -> (String, String) {
    let doc: serde_json::Value =
        sockctl(["haproxy", "servers", "--json", "--backend", backend, "-s"])
            .arg(&ha.admin)
            .succeeds()
            .json();
    let server = doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == server)
        .unwrap()
        .clone();
    (
        server["admin_state_name"].as_str().unwrap().to_string(),
        server["weight"].to_string(),
    )
}

#[test]
fn plain_tables_with_rates_from_real_traffic() {
    let Some(ha) = start() else { return };
    let _traffic = Traffic::start(&ha);
    // Until the health check has found down1 down.
    crate::support::wait_for(|| {
        let out = sockctl(["haproxy", "top", "-n", "1", "-s"])
            .arg(&ha.admin)
            .succeeds();
        cell(&out.stdout(), "be_app", "down1", "STATUS").is_some_and(|s| s.starts_with("DOWN"))
    });

    let out = sockctl(["haproxy", "top", "-n", "3", "--interval", "300ms", "-s"])
        .arg(&ha.admin)
        .succeeds();
    let text = out.stdout();
    let tables: Vec<&str> = text.split("\n\n").collect();
    assert_eq!(tables.len(), 3, "{text}");
    // No rate before there is a difference to take.
    assert_eq!(
        cell(tables[0], "fe", "FRONTEND", "SESS/S").as_deref(),
        Some("-")
    );
    let last = tables[2];
    let rate: f64 = cell(last, "fe", "FRONTEND", "SESS/S")
        .unwrap()
        .parse()
        .unwrap();
    assert!(rate > 0.0, "{last}");
    let bytes = cell(last, "fe", "FRONTEND", "IN/S").unwrap();
    assert!(bytes != "0" && bytes != "-", "{last}");
    // The held request is a session on web1.
    let cur: i64 = cell(last, "be_app", "web1", "CUR")
        .unwrap()
        .parse()
        .unwrap();
    assert!(cur >= 1, "{last}");
    assert_eq!(cell(last, "be_app", "web1", "WEIGHT").as_deref(), Some("1"));
    assert_eq!(
        cell(last, "be_app", "web1", "ADMIN").as_deref(),
        Some("ready")
    );
    assert_eq!(
        cell(last, "be_app", "BACKEND", "ADMIN").as_deref(),
        Some("-")
    );
    assert_eq!(cell(last, "fe", "FRONTEND", "WEIGHT").as_deref(), Some("-"));
    assert!(
        cell(last, "be_app", "down1", "CHECK")
            .unwrap()
            .starts_with("L4"),
        "{last}"
    );
    assert!(cell(last, "be_app", "bk", "STATUS").is_some(), "{last}");
    assert!(cell(last, "be_api", "web1", "STATUS").is_some(), "{last}");
    assert!(
        cell(last, "be_api", "BACKEND", "STATUS").is_some(),
        "{last}"
    );

    // A filter; two sockets, each line labelled.
    let out = sockctl(["haproxy", "top", "-n", "1", "--filter", "BE_API", "-s"])
        .arg(&ha.admin)
        .succeeds();
    assert!(!out.stdout().contains("be_app"), "{out}");
    assert!(out.stdout().contains("be_api"), "{out}");
    let out = sockctl(["haproxy", "top", "-n", "1", "--filter", "down1", "-s"])
        .arg(&ha.admin)
        .arg("-s")
        .arg(&ha.master)
        .succeeds();
    let text = out.stdout();
    assert!(text.starts_with("SOCKET "), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.contains(&format!("{}  ", ha.master.display())),
        "{text}"
    );
}

#[test]
fn plain_tables_say_which_socket_could_not_be_read() {
    let Some(ha) = start() else { return };
    let missing = ha.path("missing.sock");
    let out = sockctl(["haproxy", "top", "-n", "2", "--interval", "100ms", "-s"])
        .arg(&ha.admin)
        .arg("-s")
        .arg(&missing)
        .fails(3);
    // Said at each refresh; the other socket's lines are still there.
    assert_eq!(
        out.stderr().matches(&missing.display().to_string()).count(),
        2,
        "{out}"
    );
    assert!(out.stdout().contains("be_api"), "{out}");

    sockctl(["haproxy", "top", "--worker", "all", "-s"])
        .arg(&ha.master)
        .fails(2)
        .stderr_has("top shows one process per socket");
    sockctl(["haproxy", "top", "--interval", "10ms", "-s"])
        .arg(&ha.admin)
        .fails(2)
        .stderr_has("--interval");
}

/// `sockctl haproxy top ARGS` on a tmux terminal; afterwards the shell says whether the
/// terminal's modes are as before, and the exit status.
fn on_terminal(args: &[&Path]) -> Option<Tmux> {
    on_terminal_with("", args)
}

fn on_terminal_with(options: &str, args: &[&Path]) -> Option<Tmux> {
    let mut command = format!(
        "{} haproxy top --interval 500ms {options}",
        env!("CARGO_BIN_EXE_sockctl")
    );
    for arg in args {
        command.push_str(&format!(" -s '{}'", arg.display()));
    }
    let shell = format!(
        "before=$(stty -g); {command}; status=$?; \
         [ \"$before\" = \"$(stty -g)\" ] && echo 'modes restored'; echo \"exit $status\"; \
         sleep 600"
    );
    Tmux::start(&shell, 150, 30)
}

#[test]
fn full_screen_keys_act_on_the_selected_server() {
    let Some(ha) = start() else { return };
    let _traffic = Traffic::start(&ha);
    let Some(tmux) = on_terminal(&[&ha.admin]) else {
        return;
    };
    tmux.wait_for_text("be_api");
    assert!(tmux.alternate_screen());
    // Rates from the traffic.
    tmux.wait_for("a rate of new sessions", |screen| {
        cell(screen, "fe", "FRONTEND", "SESS/S")
            .and_then(|r| r.parse::<f64>().ok())
            .is_some_and(|r| r > 0.0)
    });

    // Not on a frontend.
    tmux.press("g");
    tmux.type_text("d");
    tmux.wait_for_text("select a server first");

    // Filtered down to web1, the first is be_app's.
    tmux.type_text("/web1");
    tmux.press("Enter");
    tmux.wait_for("only web1", |s| {
        s.contains("filter: web1") && !s.contains("down1")
    });
    tmux.type_text("d");
    let path = ha.admin.display().to_string();
    tmux.wait_for_text(&format!("drain be_app/web1 on {path}?"));
    tmux.type_text("n");
    tmux.wait_for_text("not done");
    assert_eq!(admin_state(&ha, "be_app", "web1").0, "ready");

    tmux.type_text("d");
    tmux.wait_for_text("? y to confirm");
    tmux.type_text("y");
    tmux.wait_for_text(&format!("{path}: be_app/web1: draining"));
    tmux.wait_for("DRAIN on the screen", |s| {
        cell(s, "be_app", "web1", "STATUS").as_deref() == Some("DRAIN")
            && cell(s, "be_app", "web1", "ADMIN").as_deref() == Some("drain")
    });
    assert_eq!(admin_state(&ha, "be_app", "web1").0, "drain");
    // The same name in the other backend is untouched: the key acts on one line.
    assert_eq!(admin_state(&ha, "be_api", "web1").0, "ready");

    // A weight HAProxy would refuse is refused before anything is sent.
    tmux.type_text("w300");
    tmux.press("Enter");
    tmux.wait_for_text("not a weight (0 to 256): 300");
    assert_eq!(admin_state(&ha, "be_app", "web1").1, "1");

    tmux.type_text("w12");
    tmux.press("Enter");
    tmux.wait_for_text("weight 12 for be_app/web1");
    tmux.type_text("y");
    tmux.wait_for("weight 12", |s| {
        cell(s, "be_app", "web1", "WEIGHT").as_deref() == Some("12")
    });
    assert_eq!(admin_state(&ha, "be_app", "web1").1, "12");

    // Down to be_api's web1, into maintenance, then ready.
    tmux.press("Down");
    tmux.type_text("m");
    tmux.wait_for_text("maint be_api/web1 on");
    tmux.type_text("y");
    tmux.wait_for_text("be_api/web1: in maintenance");
    tmux.wait_for("maint on the screen", |s| {
        cell(s, "be_api", "web1", "ADMIN").as_deref() == Some("maint")
    });
    assert_eq!(admin_state(&ha, "be_api", "web1").0, "maint");
    tmux.type_text("r");
    tmux.type_text("y");
    tmux.wait_for_text("be_api/web1: ready");
    assert_eq!(admin_state(&ha, "be_api", "web1").0, "ready");

    tmux.type_text("q");
    let screen = tmux.wait_for_text("exit 0");
    assert!(screen.contains("modes restored"), "{screen}");
    assert!(!tmux.alternate_screen());
}

#[test]
fn full_screen_ends_restoring_the_terminal_on_ctrl_c_and_sigterm() {
    let Some(ha) = start() else { return };
    let Some(tmux) = on_terminal(&[&ha.admin, &ha.master]) else {
        return;
    };
    tmux.wait_for_text(&ha.master.display().to_string());
    tmux.press("C-c");
    let screen = tmux.wait_for_text("exit 0");
    assert!(screen.contains("modes restored"), "{screen}");
    assert!(!tmux.alternate_screen());

    let Some(tmux) = on_terminal(&[&ha.admin]) else {
        return;
    };
    tmux.wait_for_text("be_api");
    assert!(tmux.alternate_screen());
    let children = tmux.children();
    assert_eq!(children.len(), 1);
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(children[0] as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let screen = tmux.wait_for_text("exit 143");
    assert!(screen.contains("modes restored"), "{screen}");
    assert!(!tmux.alternate_screen());
}

#[test]
fn plain_on_a_terminal_prints_tables_and_leaves_the_screen_alone() {
    let Some(ha) = start() else { return };
    let Some(tmux) = on_terminal_with("--plain -n 2", &[&ha.admin]) else {
        return;
    };
    let screen = tmux.wait_for_text("exit 0");
    assert_eq!(screen.matches("PROXY ").count(), 2, "{screen}");
    assert!(screen.contains("modes restored"), "{screen}");
    assert!(!tmux.alternate_screen());
}
