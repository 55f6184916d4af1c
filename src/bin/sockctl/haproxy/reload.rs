//! `sockctl haproxy reload`.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use sockctl::haproxy::discover::Want;
use sockctl::haproxy::master::SocketKind;
use sockctl::haproxy::reload::{Outcome, Reload, Status};
use sockctl::haproxy::save_state::{Saved, dump_command, save_state};
use sockctl::units::format_duration;

use super::config::{Configuration, state_file};
use super::losses::{JsonLoss, Verdict, review};
use super::{at, socket};
use crate::cli::ReloadArgs;
use crate::config::Config;
use crate::exit::{self, Code};
use crate::messages;
use crate::sanitize;

#[derive(Serialize)]
struct JsonReport<'a> {
    master: String,
    #[serde(flatten)]
    outcome: &'a Outcome,
    state: Option<JsonState>,
    /// What the reload would lose, compared before it; `null` when the configuration is not
    /// known here.
    losses: Option<Vec<JsonLoss<'a>>>,
    /// The map and ACL files written with `--sync-maps`.
    synced: Vec<String>,
}

#[derive(Serialize)]
struct JsonState {
    path: String,
    servers: usize,
    backends: usize,
    bytes: u64,
    saved: bool,
    error: Option<String>,
    /// From starting the save until it was complete (or failed).
    elapsed_ms: f64,
}

pub fn run(args: ReloadArgs, config: &Config) -> anyhow::Result<Code> {
    let verbose = config.verbose;
    let address = socket(&args.socket, Want::Master, verbose)?;
    if address.is_remote() {
        if args.save_state {
            let e = super::writes_beside(&address, "reload --save-state", super::STATE_FILE);
            return Err(e.into());
        }
        if args.sync_maps {
            let e = super::writes_beside(&address, "reload --sync-maps", "map files");
            return Err(e.into());
        }
    }
    let timeout = args.timeout.limit().unwrap_or(Duration::MAX / 4);
    let reload = Reload::new(&address, timeout);
    if args.check_only {
        return check_only(&reload, &address, args.json);
    }
    let _lock = at(reload.lock(), &address).context("waiting for another reload")?;
    let before = at(
        reload.before(|| {
            crate::messages::say(format_args!(
                "{address}: another reload is in progress; waiting for it"
            ))
        }),
        &address,
    )?;

    if address.is_remote() && !args.no_check && verbose {
        crate::messages::say(format_args!(
            "{address}: the master runs on another host: its configuration is not checked \
             before the reload (run 'haproxy -c' there)"
        ));
    }
    if !args.no_check
        && !address.is_remote()
        && let Some(messages) = configuration_fails(before.master.pid, verbose)
    {
        if args.json {
            let report = serde_json::json!({
                "master": address.to_string(),
                "status": "check_failed",
                "check": messages,
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        return Ok(Code::CommandFailed);
    }

    let kind = SocketKind::Master(before.clone());
    // The configuration of a master on another host is on that host: a file here would be
    // compared with what runs there as if it were its own.
    let config_path = match args.socket.config.path.as_deref() {
        Some(path) if address.is_remote() => {
            crate::messages::warn(format_args!(
                "{address}: the configuration {} is not used: it is a file here, and this \
                 master runs on another host",
                path.display()
            ));
            None
        }
        path => path,
    };
    let config = Configuration::find(config_path, &address, &kind);
    // Refusals about the state file come before anything is compared or written.
    let state_path = if args.save_state {
        Some(state_file(
            args.state_file.as_deref(),
            &config,
            args.force,
            verbose,
        )?)
    } else {
        None
    };
    let review = match review(&args, &address, &reload.exchange, &config, &before, verbose)? {
        Verdict::Go(review) => review,
        Verdict::Refused(review) => {
            if args.json {
                let report = serde_json::json!({
                    "master": address.to_string(),
                    "status": "refused",
                    "losses": review.json(),
                });
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
            return Ok(Code::Usage);
        }
    };

    let mut state: Option<(std::path::PathBuf, Result<Saved, anyhow::Error>, Duration)> = None;
    if let Some(path) = state_path {
        // The whole state: this is the file HAProxy loads for every backend.
        let command = dump_command(&kind, None)?;
        let start = Instant::now();
        let saved = save_state(&address, &command, &path, &reload.exchange)
            .with_context(|| address.to_string());
        let save_time = start.elapsed();
        if let Ok(saved) = &saved {
            crate::output::committed(&saved.path);
        }
        if let Err(e) = &saved {
            messages::error(e);
            if !args.force {
                crate::messages::say(format_args!(
                    "not reloading: the state could not be saved (use --force to reload anyway)"
                ));
                return Ok(exit::for_error(e));
            }
        }
        state = Some((path, saved, save_time));
    }

    let outcome = at(reload.run(before), &address)?;
    if args.json {
        let json_state = state.as_ref().map(|(path, saved, time)| match saved {
            Ok(s) => JsonState {
                path: path.display().to_string(),
                servers: s.summary.servers,
                backends: s.summary.backends,
                bytes: s.bytes,
                saved: true,
                error: None,
                elapsed_ms: sockctl::units::millis(s.elapsed),
            },
            Err(e) => JsonState {
                path: path.display().to_string(),
                servers: 0,
                backends: 0,
                bytes: 0,
                saved: false,
                error: Some(crate::messages::describe(e)),
                elapsed_ms: sockctl::units::millis(*time),
            },
        });
        let report = JsonReport {
            master: address.to_string(),
            outcome: &outcome,
            state: json_state,
            losses: review.json(),
            synced: review
                .synced
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(
            &outcome,
            state.as_ref().map(|(p, s, _)| (p, s.as_ref().ok())),
        );
    }
    if outcome.status == Status::Failed {
        if let Some(logs) = &outcome.logs {
            // HAProxy's startup log quotes the configuration, and the peer may not be HAProxy
            // at all: escaped like every other text from the socket that reaches stderr.
            eprintln!("--\n{}", sanitize::text(logs));
        }
        return Ok(Code::CommandFailed);
    }
    Ok(Code::Ok)
}

fn print_human(outcome: &Outcome, state: Option<(&std::path::PathBuf, Option<&Saved>)>) {
    let pid = |p: Option<u32>| p.map_or("none".to_string(), |p| p.to_string());
    let state_note = match state {
        Some((path, Some(saved))) => format!(
            "; state saved to {} ({} servers)",
            path.display(),
            saved.summary.servers
        ),
        Some((path, None)) => format!("; state NOT saved to {}", path.display()),
        None => String::new(),
    };
    match outcome.status {
        Status::Reloaded => println!(
            "reloaded: worker {} -> {} in {}{state_note}",
            pid(outcome.old_worker),
            pid(outcome.new_worker),
            format_duration(outcome.elapsed)
        ),
        Status::Failed => {
            let before = outcome.before.master.failed.unwrap_or(0);
            let after = outcome.after.master.failed.unwrap_or(0);
            println!(
                "reload failed: the new configuration was rejected (failed reloads {before} -> \
                 {after}); worker {} still serves{state_note}",
                pid(outcome.new_worker)
            );
            if outcome.logs.is_none() {
                crate::messages::say(format_args!(
                    "hint: this HAProxy does not return its startup log over the \
                     master CLI; check the configuration with 'haproxy -c -f FILE' or the \
                     service's log"
                ));
            }
        }
    }
}

/// Checks the configuration the master will load with its own binary before it is asked to
/// reload: on 2.6 the master CLI returns no startup log, and this is the only way the user
/// sees why a reload would fail. HAProxy's messages when it does not load; `None` when it
/// does, or when the master's process cannot be seen (another host, another PID namespace)
/// or trusted, which is then said with `-v`.
fn configuration_fails(pid: u32, verbose: bool) -> Option<String> {
    let process = sockctl::haproxy::running::Process::read(pid)
        .filter(|p| p.is_haproxy() && sockctl::haproxy::running::process_trusted(pid));
    let Some(process) = process else {
        if verbose {
            crate::messages::say(format_args!(
                "the master (pid {pid}) cannot be seen here: its configuration is not checked \
                 before the reload"
            ));
        }
        return None;
    };
    match process.check_configuration() {
        Some(Ok(checked)) if checked.valid => None,
        Some(Ok(checked)) => {
            for line in checked.messages.lines().filter(|l| !l.trim().is_empty()) {
                crate::messages::say(format_args!("haproxy -c: {line}"));
            }
            crate::messages::say(
                "not reloading: the configuration does not load (checked with the running \
                 master's binary; --no-check to ask the master anyway)",
            );
            Some(checked.messages)
        }
        Some(Err(e)) => {
            crate::messages::warn(format_args!(
                "could not check the configuration before the reload: {e}"
            ));
            None
        }
        None => None,
    }
}

/// `reload --check-only`: the check a reload starts with, and its verdict alone (no reload, so
/// no lock). The process checked must be the master of this very socket (its `-S`): a master
/// whose process cannot be seen here (another host, another PID namespace, where the same PID
/// may be another process) is not checked, which is exit 2, never a success.
fn check_only(reload: &Reload, address: &sockctl::Address, json: bool) -> anyhow::Result<Code> {
    let before = at(
        reload.before(|| {
            crate::messages::say(format_args!(
                "{address}: another reload is in progress; waiting for it"
            ))
        }),
        address,
    )?;
    let pid = before.master.pid;
    let process = sockctl::haproxy::running::Process::read(pid).filter(|p| {
        p.is_haproxy() && sockctl::haproxy::running::process_trusted(pid) && p.serves(address)
    });
    let Some(process) = process else {
        return Err(exit::UsageError(format!(
            "{address}: cannot check the configuration: the master (pid {pid}) cannot be seen \
             here (another host or PID namespace), or its -S is not this socket"
        ))
        .into());
    };
    let checked = match process.check_configuration() {
        Some(Ok(checked)) => checked,
        Some(Err(e)) => {
            return Err(exit::UsageError(format!(
                "{address}: cannot check the configuration: {e}"
            ))
            .into());
        }
        None => {
            return Err(exit::UsageError(format!(
                "{address}: cannot check the configuration: the master's command line names \
                 no configuration"
            ))
            .into());
        }
    };
    if json {
        let report = serde_json::json!({
            "master": address.to_string(),
            "status": if checked.valid { "check_ok" } else { "check_failed" },
            "check": checked.messages,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    if checked.valid {
        if !json {
            println!("configuration loads (checked with the running master's binary)");
        }
        return Ok(Code::Ok);
    }
    for line in checked.messages.lines().filter(|l| !l.trim().is_empty()) {
        crate::messages::say(format_args!("haproxy -c: {line}"));
    }
    crate::messages::say(
        "the configuration does not load (checked with the running master's binary)",
    );
    Ok(Code::CommandFailed)
}
