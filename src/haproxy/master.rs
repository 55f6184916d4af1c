//! Telling a master CLI from a stats socket, and reading `show proc`.

use std::fmt;

use crate::address::Address;
use crate::command::Command;
use crate::error::ExchangeError;
use crate::exchange::Exchange;
use crate::haproxy::ParseError;
use crate::haproxy::proc_list::ProcList;

/// What answered on a socket.
#[derive(Debug, Clone)]
pub enum SocketKind {
    /// The master CLI, with the process list it gave.
    Master(ProcList),
    /// A worker's stats socket (or anything that does not know `show proc`).
    Stats,
}

#[derive(Debug)]
pub enum ProcError {
    Exchange(ExchangeError),
    /// The socket answered, but not with a process list: not a master CLI.
    NotMaster(String),
    Parse(ParseError),
}

impl fmt::Display for ProcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcError::Exchange(e) => e.fmt(f),
            ProcError::NotMaster(first) => write!(
                f,
                "not an HAProxy master CLI: 'show proc' answered {first:?} (the master socket \
                 is the one given to haproxy with -S)"
            ),
            ProcError::Parse(e) => write!(f, "show proc: {e}"),
        }
    }
}

impl std::error::Error for ProcError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProcError::Exchange(e) => Some(e),
            ProcError::Parse(e) => Some(e),
            _ => None,
        }
    }
}

/// `show proc` only exists on the master CLI: ask it, and the answer says which kind this is.
pub fn probe(address: &Address, exchange: &Exchange) -> Result<SocketKind, ExchangeError> {
    let reply = run(address, exchange, "show proc")?;
    Ok(match super::proc_list::parse(&reply) {
        Ok(list) => SocketKind::Master(list),
        Err(_) => SocketKind::Stats,
    })
}

/// `show proc` on a socket that must be a master.
pub fn show_proc(address: &Address, exchange: &Exchange) -> Result<ProcList, ProcError> {
    show_proc_with_reply(address, exchange).map(|(list, _)| list)
}

/// [`show_proc`], with the reply's bytes as HAProxy sent them.
pub fn show_proc_with_reply(
    address: &Address,
    exchange: &Exchange,
) -> Result<(ProcList, Vec<u8>), ProcError> {
    let reply = run(address, exchange, "show proc").map_err(ProcError::Exchange)?;
    if !reply.starts_with(b"#<") {
        let first = reply.split(|&b| b == b'\n').next().unwrap_or_default();
        return Err(ProcError::NotMaster(
            String::from_utf8_lossy(&first[..first.len().min(80)]).into_owned(),
        ));
    }
    let list = super::proc_list::parse(&reply).map_err(ProcError::Parse)?;
    Ok((list, reply))
}

/// The largest reply of a control command (`show proc`, `reload`) held in memory: 16 MiB, a
/// `show proc` of some 200,000 processes. A peer that sends more is refused
/// ([`ExchangeError::TooLarge`]) whatever limit the exchange has.
pub const CONTROL_MAX_REPLY: u64 = 16 << 20;

/// One exchange into memory, for the small replies of control commands.
pub(crate) fn run(
    address: &Address,
    exchange: &Exchange,
    command: &str,
) -> Result<Vec<u8>, ExchangeError> {
    let command = Command::new(command).expect("fixed commands have no line breaks");
    let limit = exchange
        .get_max_bytes()
        .map_or(CONTROL_MAX_REPLY, |l| l.min(CONTROL_MAX_REPLY));
    let exchange = exchange.clone().max_bytes(Some(limit));
    let mut reply = Vec::new();
    exchange.run(address, &command, &mut reply)?;
    Ok(reply)
}
