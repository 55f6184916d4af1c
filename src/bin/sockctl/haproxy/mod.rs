//! `sockctl haproxy …`: the commands that know HAProxy.

mod batch;
pub mod exec;
pub mod info;
pub mod proc;
pub mod reload;
pub mod save_state;
pub mod servers;
pub mod stat;
mod target;
mod view;

use std::path::{Path, PathBuf};

use anyhow::Context;
use sockctl::Address;
use sockctl::haproxy::config::GlobalSettings;
use sockctl::haproxy::discover::{self, Want};

use crate::cli::{SocketArgs, SocketsArgs};
use crate::exit::UsageError;
use crate::fanout::Targets;

/// The socket given with `-s`, or the one discovery finds (said on stderr with `-v`).
pub fn socket(args: &SocketArgs, want: Want, verbose: bool) -> anyhow::Result<Address> {
    match &args.socket {
        Some(address) => Ok(address.clone()),
        None => discovered(&args.config, want, verbose),
    }
}

/// The sockets given with `-s` and `--sockets-file`, or the one discovery finds.
pub fn targets(args: &SocketsArgs, want: Want, verbose: bool) -> anyhow::Result<Targets> {
    let given = &args.targets;
    if !given.sockets.is_empty() || given.sockets_file.is_some() {
        return Targets::new(&given.sockets, given.sockets_file.as_deref());
    }
    Ok(Targets {
        list: vec![discovered(&args.config, want, verbose)?],
        many: false,
    })
}

/// The socket discovery finds (said on stderr with `-v`).
fn discovered(config: &Path, want: Want, verbose: bool) -> anyhow::Result<Address> {
    let (address, source) = discover::find_socket(config, want)?;
    if verbose {
        eprintln!("sockctl: using socket {address} from {source}");
    }
    Ok(address)
}

/// The state file: the one given, else the configuration's, else `haproxy.state` beside the
/// socket. With `for_reload`, warns when the configuration will not load what we write; so it
/// does when the file was not given and the configuration names none.
pub fn state_file(
    explicit: Option<&Path>,
    config: &Path,
    settings: Option<&GlobalSettings>,
    socket: &Address,
    for_reload: bool,
    verbose: bool,
) -> anyhow::Result<PathBuf> {
    let configured = settings.and_then(GlobalSettings::state_file);
    let (path, why) = match (explicit, &configured, socket) {
        (Some(path), _, _) => (path.to_path_buf(), "given with an option".to_string()),
        (None, Some(path), _) => (
            path.clone(),
            format!("server-state-file of {}", config.display()),
        ),
        (None, None, Address::Unix(sock)) => (
            sock.with_file_name("haproxy.state"),
            "beside the socket".to_string(),
        ),
        (None, None, _) => {
            return Err(UsageError(format!(
                "no state file: {} has no server-state-file and the socket is not a file to \
                 put one beside; give one with -o FILE",
                config.display()
            ))
            .into());
        }
    };
    if verbose {
        eprintln!("sockctl: state file {} ({why})", path.display());
    }
    let warn = for_reload || explicit.is_none();
    if warn && settings.is_some_and(|s| s.loads_local_state) {
        eprintln!(
            "sockctl: warning: {} has backends with 'load-server-state-from-file local': they \
             load a file of their own (server-state-base/server-state-file-name), not {}; save \
             each of those with --backend NAME -o FILE",
            config.display(),
            path.display()
        );
    }
    if warn && settings.is_some() && configured.as_ref() != Some(&path) {
        eprintln!(
            "sockctl: warning: {} does not load {} (its server-state-file is {}); the saved \
             state will not survive a reload unless HAProxy is configured to load it",
            config.display(),
            path.display(),
            configured.map_or("not set".to_string(), |p| p.display().to_string())
        );
    }
    Ok(path)
}

/// Adds the address in front of an error, as every message does.
pub fn at<T, E>(result: Result<T, E>, address: &Address) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    result.with_context(|| address.to_string())
}
