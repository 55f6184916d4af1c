//! `sockctl haproxy …`: the commands that know HAProxy.

pub mod add_del;
mod batch;
pub mod cert;
pub mod config;
mod destination;
pub mod exec;
pub mod info;
mod losses;
pub mod operate;
pub mod patterns;
mod printer;
pub mod proc;
pub mod reload;
pub mod save_state;
pub mod servers;
pub mod sess;
pub mod stat;
pub mod table;
pub mod top;
mod view;

use std::path::Path;

use anyhow::Context;
use sockctl::Address;
use sockctl::haproxy::discover::{self, Want};

use crate::cli::{SocketArgs, SocketsArgs};
use crate::many::Targets;

/// The socket given with `-s`, or the one discovery finds (said on stderr with `-v`).
pub fn socket(args: &SocketArgs, want: Want, verbose: bool) -> anyhow::Result<Address> {
    match &args.socket {
        Some(address) => Ok(address.clone()),
        None => discovered(args.config.path.as_deref(), want, verbose),
    }
}

/// The sockets given with `-s` and `--sockets-file`, or the one discovery finds.
pub fn targets(args: &SocketsArgs, want: Want, verbose: bool) -> anyhow::Result<Targets> {
    let given = &args.targets;
    if !given.sockets.is_empty() || given.sockets_file.is_some() {
        return Targets::new(&given.sockets, given.sockets_file.as_deref());
    }
    Ok(Targets {
        list: vec![discovered(args.config.path.as_deref(), want, verbose)?],
        many: false,
    })
}

/// The socket discovery finds (said on stderr with `-v`).
pub fn discovered(config: Option<&Path>, want: Want, verbose: bool) -> anyhow::Result<Address> {
    let config = config.unwrap_or(Path::new(discover::DEFAULT_CONFIG));
    let (address, source) = discover::find_socket(config, want)?;
    if verbose {
        crate::messages::say(format_args!("using socket {address} from {source}"));
    }
    Ok(address)
}

/// Adds the address in front of an error, as every message does.
pub fn at<T, E>(result: Result<T, E>, address: &Address) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    result.with_context(|| address.to_string())
}

/// Refuses a command that writes files HAProxy reads (`what`: its state file, its map files)
/// for a socket on another host: they would be written here, where that HAProxy never reads
/// them.
pub fn writes_beside(address: &Address, command: &str, what: &str) -> crate::exit::UsageError {
    let copy = if what == STATE_FILE {
        format!("; for a copy here, sockctl haproxy exec -s {address} 'show servers state' > FILE")
    } else {
        String::new()
    };
    crate::exit::UsageError(format!(
        "{address}: {command} over ssh:// is refused: {what} must be written on the host \
         HAProxy runs on, and this would write here; run sockctl on that host instead \
         (ssh HOST sockctl haproxy {command} …){copy}"
    ))
}

/// What `save-state` and `reload --save-state` write, for [`writes_beside`].
pub const STATE_FILE: &str = "the state file";
