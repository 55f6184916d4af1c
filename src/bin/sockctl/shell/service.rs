//! The shell on another service's socket (`--proto`, or a greeting that names it): each line
//! is a command of the service's protocol, each reply printed whole before the next prompt,
//! with the protocol's verdict. A one-command-per-connection service (unbound, Kea) gets a
//! connection per line.

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Config, Editor};
use sockctl::error::ExchangeError;
use sockctl::service::{self, Profile, Secret, Service};
use sockctl::{Address, Command};

use super::{Settings, history, note};
use crate::exit::{self, Code, UsageError};
use crate::lines::StdinLines;
use crate::sanitize;

fn client(args: &Settings, profile: Profile, secret: Option<Secret>) -> Service {
    let options = service::Options {
        connect_timeout: args.connect_timeout,
        max_bytes: args.max_bytes,
    };
    Service::new(args.address.clone(), profile, secret, options)
}

/// One command: the reply printed (a last line without its newline gets one, so the next
/// prompt never hides it), the verdict as an exit code.
fn one(args: &Settings, service: &mut Service, command: &Command, escape: bool) -> Code {
    let address: &Address = &args.address;
    match service.run(command, args.deadline()) {
        Ok(reply) => {
            if !reply.aside.is_empty() {
                note(String::from_utf8_lossy(&reply.aside).trim_end());
            }
            let _ = print_whole(&reply.body, escape);
            match reply.failure {
                Some(failure) => {
                    crate::messages::say(format_args!("{address}: '{command}': {failure}"));
                    Code::CommandFailed
                }
                None => Code::Ok,
            }
        }
        Err(e) => {
            let _ = print_whole(e.received().bytes(), escape);
            let code = exit::for_exchange(&e);
            if matches!(e, ExchangeError::Interrupted { .. }) {
                sockctl::interrupt::clear();
                note("interrupted; the next command reconnects");
            } else {
                crate::messages::say(format_args!("{address}: '{command}': {e}"));
            }
            code
        }
    }
}

fn print_whole(bytes: &[u8], escape: bool) -> std::io::Result<()> {
    sanitize::print(bytes, escape)?;
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        sanitize::print(b"\n", false)?;
    }
    Ok(())
}

/// Standard input piped: every line a command, the highest exit code of the run.
pub fn piped(args: &Settings, profile: Profile, secret: Option<Secret>) -> anyhow::Result<Code> {
    let listen = profile.send_nothing;
    let mut service = client(args, profile, secret);
    if listen {
        // Nothing to send: what the server writes on connect, once.
        let nothing = Command::new("").expect("empty");
        return Ok(one(args, &mut service, &nothing, args.terminal.stdout));
    }
    let mut lines = StdinLines::new();
    let mut worst = Code::Ok;
    while let Some(line) = lines.next_command()? {
        let command = Command::new(line)
            .map_err(|e| UsageError(format!("stdin line {}: {e}", lines.number)))?;
        let code = one(args, &mut service, &command, args.terminal.stdout);
        if code == Code::Interrupted {
            return Ok(code);
        }
        worst = worst.max(code);
    }
    Ok(worst)
}

/// A person at the terminal.
pub fn interactive(
    args: &Settings,
    profile: Profile,
    secret: Option<Secret>,
) -> anyhow::Result<Code> {
    let name = profile.proto.name();
    let mut service = client(args, profile, secret);
    let config = Config::builder().auto_add_history(true).build();
    let mut editor: Editor<(), FileHistory> = Editor::with_config(config)?;
    let history = args.history.then(|| history::path(&args.address)).flatten();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let prompt = format!("{name}@{}> ", sanitize::text(&args.address.to_string()));
    loop {
        match editor.readline(&prompt) {
            Ok(line) => {
                if let Some(path) = &history {
                    let _ = history::save(&mut editor, path);
                }
                let text = line.trim();
                // Enter on a server that writes on connect reads it again.
                if text.is_empty() && !service.profile().send_nothing {
                    continue;
                }
                if matches!(text, "quit" | "exit") {
                    return Ok(Code::Ok);
                }
                match Command::new(text) {
                    Ok(command) => {
                        one(args, &mut service, &command, true);
                    }
                    Err(e) => crate::messages::say(e),
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => return Ok(Code::Ok),
            Err(e) => return Err(e.into()),
        }
    }
}
