//! A line-oriented session on any socket, like `socat readline`: lines typed are sent as they
//! are, bytes from the server are printed as they arrive (by a thread of their own, so the
//! server may speak at any time), and EOF from the server ends the session with a message.

use std::sync::mpsc;

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Config, Editor, ExternalPrinter};
use sockctl::stream::{IoFailure, Stream};

use super::Settings;
use super::{history, note};
use crate::exit::Code;
use crate::lines::StdinLines;

/// Reads from the server until EOF, writing every chunk to stdout at once.
fn print_all(stream: &Stream, escape: bool) -> Result<(), IoFailure> {
    read_all(stream, escape, &mut |bytes| {
        crate::sanitize::print(bytes, escape)
    })
}

/// Reads from the server until EOF, handing every chunk (whole UTF-8 characters when escaped)
/// to `show`.
fn read_all(
    stream: &Stream,
    escape: bool,
    show: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<(), IoFailure> {
    let mut buf = vec![0u8; 16 * 1024];
    // The start of a UTF-8 character cut by the chunk boundary, kept for the next chunk so
    // that escaping does not mistake it for invalid bytes.
    let mut held = Vec::new();
    loop {
        let n = match stream.read_some(&mut buf, None) {
            Ok(0) => {
                if !held.is_empty() {
                    let _ = show(&held);
                }
                return Ok(());
            }
            Ok(n) => n,
            // Ctrl-C is for the main thread; this one keeps reading.
            Err(IoFailure::Interrupted) => continue,
            Err(e) => return Err(e),
        };
        held.extend_from_slice(&buf[..n]);
        let complete = match std::str::from_utf8(&held) {
            Err(e) if escape && e.error_len().is_none() => e.valid_up_to(),
            _ => held.len(),
        };
        if complete > 0 && show(&held[..complete]).is_err() {
            return Ok(());
        }
        held.drain(..complete);
    }
}

fn describe(failure: &IoFailure) -> String {
    match failure {
        IoFailure::TimedOut => "timed out".into(),
        IoFailure::Interrupted => "interrupted".into(),
        IoFailure::Reset(_) => "connection reset by peer".into(),
        IoFailure::Other(e) => e.to_string(),
    }
}

pub fn interactive(
    args: &Settings,
    stream: Stream,
    received: Vec<u8>,
    escape: bool,
) -> anyhow::Result<Code> {
    let config = Config::builder().auto_add_history(true).build();
    let mut editor: Editor<(), FileHistory> = Editor::with_config(config)?;
    let history = args.history.then(|| history::path(&args.address)).flatten();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    // The terminal as it was before line editing, to put back if the server ends the session
    // while a line is being edited.
    let saved = rustix::termios::tcgetattr(rustix::stdio::stdin()).ok();
    super::print_reply(&received, escape)?;
    let reader = stream.try_clone()?;
    let address = args.address.to_string();
    // Server text goes above the line being edited, so that the editor's redraw never erases
    // a line the server left without its newline, and a late reply never lands after the
    // prompt.
    let mut printer = editor.create_external_printer()?;
    std::thread::spawn(move || {
        let mut show = |bytes: &[u8]| {
            let text = if escape {
                crate::sanitize::bytes(bytes)
            } else {
                String::from_utf8_lossy(bytes).into_owned()
            };
            printer
                .print(text)
                .map_err(|e| std::io::Error::other(e.to_string()))
        };
        let why = match read_all(&reader, escape, &mut show) {
            Ok(()) => "connection closed by the server".to_string(),
            Err(e) => format!("connection lost: {}", describe(&e)),
        };
        if let Some(saved) = &saved {
            let _ = rustix::termios::tcsetattr(
                rustix::stdio::stdin(),
                rustix::termios::OptionalActions::Now,
                saved,
            );
        }
        println!();
        note(format!("{address}: {why}"));
        std::process::exit(Code::Ok as i32);
    });
    let prompt = format!("{}> ", args.address);
    loop {
        match editor.readline(&prompt) {
            Ok(line) => {
                if let Some(path) = &history {
                    let _ = history::save(&mut editor, path);
                }
                let mut data = line.into_bytes();
                data.push(b'\n');
                if let Err(e) = stream.send_all(&data, args.deadline()) {
                    note(format!("{}: cannot send: {}", args.address, describe(&e)));
                    return Ok(Code::BadReply);
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => return Ok(Code::Ok),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Standard input is not a terminal: send it line by line, half-close at its end, and print
/// what the server sends until it closes (or `--timeout` after the input ended).
pub fn piped(args: &Settings) -> anyhow::Result<Code> {
    let stream = sockctl::connect::connect(&args.address, args.connect_timeout)
        .map_err(|e| anyhow::Error::new(e).context(args.address.to_string()))?;
    let reader = stream.try_clone()?;
    let escape = args.terminal.stdout;
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(print_all(&reader, escape));
    });
    let mut lines = StdinLines::new();
    let mut sent = 0;
    let mut unsent = 0;
    // The server's close, if it came before a line was sent: that line and the rest were never
    // read. (A close after the last line is the server's answer to all of it.)
    let mut early = None;
    while let Some(mut line) = lines.next_line()? {
        line.push(b'\n');
        if sent > 0 && early.is_none() {
            early = finished.try_recv().ok();
        }
        if early.is_some() || unsent > 0 || stream.send_all(&line, args.deadline()).is_err() {
            unsent += 1;
            continue;
        }
        sent += 1;
    }
    let _ = stream.shutdown_write();
    // A server that closed before the end of the input did not wait for all of it: a service
    // that answers one command per connection runs only the first.
    if unsent > 0 {
        note(format!(
            "{}: the server closed the connection before the end of the input ({sent} lines \
             sent, {unsent} not sent): commands after its first answer may not have run; for a \
             service that takes one command per connection give --proto NAME",
            args.address
        ));
        return Ok(Code::BadReply);
    }
    let result = match early {
        Some(result) => Some(result),
        None => match args.timeout {
            Some(limit) => finished.recv_timeout(limit).ok(),
            None => finished.recv().ok(),
        },
    };
    Ok(match result {
        Some(Ok(())) => Code::Ok,
        Some(Err(_)) => Code::BadReply,
        None => {
            note(format!(
                "{}: the server did not close the connection in time",
                args.address
            ));
            Code::Timeout
        }
    })
}
