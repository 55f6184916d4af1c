//! The floor in Rust with std only: the same exchange as bench/floor.c, to separate what a
//! Rust binary pays at start-up (std's runtime, libgcc_s) from what sockctl itself does.
//!
//!     floor-rs UNIX_SOCKET_PATH COMMAND

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: floor-rs UNIX_SOCKET_PATH COMMAND");
        std::process::exit(2);
    }
    let mut stream = UnixStream::connect(&args[1]).unwrap_or_else(|e| {
        eprintln!("connect: {e}");
        std::process::exit(3)
    });
    let mut line = args[2].clone().into_bytes();
    line.push(b'\n');
    stream.write_all(&line).expect("send");
    stream.shutdown(Shutdown::Write).expect("shutdown");
    let mut buf = vec![0u8; 64 * 1024];
    // Standard output unbuffered (std's is line-buffered), as in the C floor.
    // SAFETY: fd 1 is open for the life of the process.
    let mut out = unsafe { std::fs::File::from_raw_fd(1) };
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.write_all(&buf[..n]).expect("write"),
            Err(e) => {
                eprintln!("read: {e}");
                std::process::exit(5)
            }
        }
    }
}
