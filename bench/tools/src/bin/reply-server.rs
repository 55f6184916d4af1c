//! A fast local server for benchmarks: answers any command with N bytes, then closes.
//!
//!     reply-server SOCKET_PATH SIZE
//!
//! Listens on a Unix socket; for each connection (one thread each) reads up to the first
//! newline, then writes SIZE bytes (or the size the command names, if it is a plain number
//! with an optional K/M/G suffix, powers of 1024) and closes. The bytes are lines of 63
//! printable characters and a newline, so the reply is deterministic and checkable.
//! Prints "ready" on stdout once it is listening.

use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;

const CHUNK: usize = 1 << 20;

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, mult) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1 << 10),
        b'M' | b'm' => (&s[..s.len() - 1], 1 << 20),
        b'G' | b'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

fn serve(mut conn: UnixStream, default_size: u64, chunk: &[u8]) -> io::Result<()> {
    let mut command = Vec::new();
    let mut byte = [0u8; 4096];
    loop {
        let n = conn.read(&mut byte)?;
        if n == 0 {
            break;
        }
        command.extend_from_slice(&byte[..n]);
        if command.contains(&b'\n') {
            break;
        }
    }
    let line = command.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut left = std::str::from_utf8(line)
        .ok()
        .and_then(parse_size)
        .unwrap_or(default_size);
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        conn.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: reply-server SOCKET_PATH SIZE");
        std::process::exit(2);
    }
    let default_size = parse_size(&args[2]).unwrap_or_else(|| {
        eprintln!("reply-server: bad size {:?}", args[2]);
        std::process::exit(2);
    });
    let _ = std::fs::remove_file(&args[1]);
    let listener = UnixListener::bind(&args[1]).unwrap_or_else(|e| {
        eprintln!("reply-server: {}: {e}", args[1]);
        std::process::exit(3);
    });
    let chunk: Arc<[u8]> = (0..CHUNK)
        .map(|i| {
            if i % 64 == 63 {
                b'\n'
            } else {
                b'!' + (i % 64 % 94) as u8
            }
        })
        .collect();
    println!("ready");
    let _ = io::stdout().flush();
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let chunk = Arc::clone(&chunk);
        std::thread::spawn(move || {
            // A client that goes away early (EPIPE, reset) is not our problem.
            let _ = serve(conn, default_size, &chunk);
        });
    }
}
