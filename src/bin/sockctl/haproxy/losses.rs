//! What `haproxy reload` would lose, said before it is asked: a warning per item, a refusal
//! with `--strict`, and with `--sync-maps` the map and ACL files brought up to date first.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use serde::Serialize;
use sockctl::Address;
use sockctl::exchange::Exchange;
use sockctl::haproxy::losses::{self, Loss, Plan, Restored};
use sockctl::haproxy::proc_list::ProcList;

use super::config::Configuration;
use crate::cli::ReloadArgs;
use crate::exit::{self, Reported};
use crate::messages;

/// What was found and done before the reload.
#[derive(Default)]
pub struct Review {
    /// `None` when the configuration is not known, so nothing could be compared.
    pub losses: Option<Vec<Loss>>,
    /// The map and ACL files written with `--sync-maps`.
    pub synced: Vec<PathBuf>,
}

/// One item of `--json`'s `losses`.
#[derive(Serialize)]
pub struct JsonLoss<'a> {
    #[serde(flatten)]
    loss: &'a Loss,
    /// The warning, as said on stderr.
    message: String,
    /// For map and ACL files: written with the running entries (`--sync-maps`).
    #[serde(skip_serializing_if = "Option::is_none")]
    synced: Option<bool>,
}

impl Review {
    pub fn json(&self) -> Option<Vec<JsonLoss<'_>>> {
        let losses = self.losses.as_ref()?;
        Some(
            losses
                .iter()
                .map(|loss| JsonLoss {
                    loss,
                    message: loss.to_string(),
                    synced: match loss {
                        Loss::RuntimeEntries { file, .. } => Some(self.synced.contains(file)),
                        _ => None,
                    },
                })
                .collect(),
        )
    }
}

/// Whether the reload goes ahead.
pub enum Verdict {
    Go(Review),
    /// `--strict` and something would be lost: nothing was written.
    Refused(Review),
}

/// Compares what runs with what the reload will load, warns, and (with `--sync-maps`) writes
/// the map files. Errors carry their exit code (a reply that does not parse, a file that
/// cannot be written).
pub fn review(
    args: &ReloadArgs,
    address: &Address,
    exchange: &Exchange,
    config: &Configuration,
    before: &ProcList,
    verbose: bool,
) -> anyhow::Result<Verdict> {
    let Some(settings) = config.settings() else {
        let why = config.settings.as_ref().err().cloned().unwrap_or_default();
        if args.strict || args.sync_maps {
            let option = if args.strict {
                "--strict"
            } else {
                "--sync-maps"
            };
            messages::say(format_args!(
                "refusing to reload ({option}): what runs cannot be compared with the \
                 configuration: {why}; nothing was saved, written or reloaded"
            ));
            return Ok(Verdict::Refused(Review::default()));
        }
        if verbose {
            messages::warn(format_args!(
                "what the reload would lose is not checked: {why}"
            ));
        }
        return Ok(Verdict::Go(Review::default()));
    };
    let state_file = config.loaded_state_file().ok();
    let loads_state = state_file.is_some() && config.not_loaded().is_none();
    let restored = match (&state_file, loads_state, args.save_state) {
        (Some(_), true, true) => Restored::Running,
        (Some(path), true, false) => Restored::File(path),
        _ => Restored::Nothing,
    };
    let worker_started = before
        .current_worker()
        .and_then(|w| w.uptime_secs)
        .and_then(|secs| SystemTime::now().checked_sub(Duration::from_secs(secs)));
    let plan = Plan {
        paths: &config.paths,
        settings,
        base_dir: config.base_dir.as_deref(),
        restored,
        worker_started,
    };
    let found = losses::find(address, exchange, &plan)
        .with_context(|| format!("{address}: comparing what runs with {config}"))?;
    for why in &found.unchecked {
        messages::warn(why);
    }
    if verbose {
        messages::say(format_args!(
            "compared what runs with {config}: {} to report",
            found.losses.len()
        ));
    }

    // Checked whole before anything is written: every file can be synced, or none is.
    let to_write = if args.sync_maps {
        match losses::prepare_sync(&found.files) {
            Ok(texts) => texts,
            Err(e) => return Err(not_reloading(e.into(), &[])),
        }
    } else {
        Vec::new()
    };
    let syncs = |loss: &Loss| {
        matches!(loss, Loss::RuntimeEntries { file, .. }
            if to_write.iter().any(|(path, _)| path == file))
    };
    let remaining: Vec<&Loss> = found.losses.iter().filter(|l| !syncs(l)).collect();
    for loss in &remaining {
        messages::warn(loss);
    }
    let mut review = Review {
        losses: Some(found.losses.clone()),
        synced: Vec::new(),
    };
    if args.strict && !remaining.is_empty() {
        messages::say(format_args!(
            "refusing to reload (--strict): it would lose or override {} (above); nothing was \
             saved, written or reloaded",
            counted(remaining.len())
        ));
        return Ok(Verdict::Refused(review));
    }
    for (path, text) in &to_write {
        if let Err(e) = losses::write_synced(path, text) {
            return Err(not_reloading(e.into(), &review.synced));
        }
        messages::say(format_args!(
            "wrote the running entries to {} (--sync-maps)",
            path.display()
        ));
        review.synced.push(path.clone());
    }
    Ok(Verdict::Go(review))
}

/// Says why the map files were not synced and that no reload follows; the error returned
/// carries the exit code.
fn not_reloading(e: anyhow::Error, written: &[PathBuf]) -> anyhow::Error {
    messages::error(&e);
    let written: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    if written.is_empty() {
        messages::say("not reloading: no map file was written (--sync-maps)");
    } else {
        messages::say(format_args!(
            "not reloading: only some map files were written (--sync-maps): {}",
            written.join(", ")
        ));
    }
    anyhow::Error::new(Reported(exit::for_error(&e)))
}

fn counted(n: usize) -> String {
    if n == 1 {
        "1 item".to_string()
    } else {
        format!("{n} items")
    }
}
