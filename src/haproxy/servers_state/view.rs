//! The typed view of a dump, for automation.

use std::sync::Arc;

use serde::Serialize;

use super::{Fields, StateError, fields, header_names, validate};
use crate::haproxy::text::{self, excerpt};

/// A parsed dump. `fields` is the header as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServersState {
    pub version: u32,
    pub fields: Vec<String>,
    pub servers: Vec<ServerState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerState {
    /// `be_id`
    pub backend_id: u32,
    /// `be_name`
    pub backend: String,
    /// `srv_id`
    pub id: u32,
    /// `srv_name`
    pub name: String,
    /// `srv_addr`
    pub address: String,
    /// `srv_port`
    pub port: u16,
    /// `srv_uweight`, the weight set by the user.
    pub weight: u32,
    /// `srv_op_state`
    pub op_state: u32,
    /// `stopped`, `starting`, `running`, `stopping`, or `unknown`.
    pub op_state_name: &'static str,
    /// `srv_admin_state`, a set of bits.
    pub admin_state: u32,
    /// Names of the bits of `admin_state`: `FMAINT` (forced maintenance), `IMAINT` (inherited
    /// from a tracked server), `CMAINT` (disabled in the configuration), `FDRAIN` (forced
    /// drain), `IDRAIN` (inherited drain), `RMAINT` (address resolution failed),
    /// `FQDN_CHANGED`; unknown bits as hex.
    pub admin_flags: Vec<String>,
    /// `admin_state` in the words of `set server … state`: `maint` when FMAINT, IMAINT or
    /// RMAINT is set (HAProxy's maintenance mask; CMAINT alone is not maintenance), else
    /// `drain` when any drain bit is, else `ready`.
    pub admin_state_name: &'static str,
    /// `srv_check_state`, a set of bits.
    pub check_state: u32,
    /// Names of the bits of `check_state`: `INPROGRESS`, `CONFIGURED`, `ENABLED`, `PAUSED`,
    /// `AGENT`; unknown bits as hex.
    pub check_flags: Vec<String>,
    /// Every field as sent, keyed by its header name.
    pub fields: Fields<String>,
}

pub(super) const ADMIN_FLAGS: &[(u32, &str)] = &[
    (0x01, "FMAINT"),
    (0x02, "IMAINT"),
    (0x04, "CMAINT"),
    (0x08, "FDRAIN"),
    (0x10, "IDRAIN"),
    (0x20, "RMAINT"),
    (0x40, "FQDN_CHANGED"),
];

pub(super) const CHECK_FLAGS: &[(u32, &str)] = &[
    (0x01, "INPROGRESS"),
    (0x02, "CONFIGURED"),
    (0x04, "ENABLED"),
    (0x08, "PAUSED"),
    (0x10, "AGENT"),
];

/// The names of the bits of an `srv_admin_state`, as in [`ServerState::admin_flags`].
pub fn admin_flag_names(bits: u32) -> Vec<String> {
    flag_names(bits, ADMIN_FLAGS)
}

pub(super) fn flag_names(bits: u32, table: &[(u32, &str)]) -> Vec<String> {
    let mut names: Vec<String> = table
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, name)| name.to_string())
        .collect();
    let known = table.iter().fold(0, |all, (bit, _)| all | bit);
    if bits & !known != 0 {
        names.push(format!("{:#x}", bits & !known));
    }
    names
}

/// HAProxy's own masks (`SRV_ADMF_MAINT`, `SRV_ADMF_DRAIN` in 2.6 to 3.x): maintenance is
/// FMAINT, IMAINT or RMAINT. CMAINT alone says the server was `disabled` in the configuration
/// and is not maintenance: a `server-template … disabled` slot enabled at runtime keeps it and
/// serves.
pub fn admin_state_name(bits: u32) -> &'static str {
    const MAINT: u32 = 0x01 | 0x02 | 0x20;
    const DRAIN: u32 = 0x08 | 0x10;
    if bits & MAINT != 0 {
        "maint"
    } else if bits & DRAIN != 0 {
        "drain"
    } else {
        "ready"
    }
}

fn op_state_name(state: u32) -> &'static str {
    match state {
        0 => "stopped",
        1 => "starting",
        2 => "running",
        3 => "stopping",
        _ => "unknown",
    }
}

/// Where the typed fields are in the header.
struct Columns {
    backend_id: usize,
    backend: usize,
    id: usize,
    name: usize,
    address: usize,
    port: usize,
    weight: usize,
    op_state: usize,
    admin_state: usize,
    check_state: usize,
}

impl Columns {
    fn new(names: &[String]) -> Result<Columns, StateError> {
        let find = |name: &'static str| {
            names
                .iter()
                .position(|n| n == name)
                .ok_or(StateError::MissingColumn { name })
        };
        Ok(Columns {
            backend_id: find("be_id")?,
            backend: find("be_name")?,
            id: find("srv_id")?,
            name: find("srv_name")?,
            address: find("srv_addr")?,
            port: find("srv_port")?,
            weight: find("srv_uweight")?,
            op_state: find("srv_op_state")?,
            admin_state: find("srv_admin_state")?,
            check_state: find("srv_check_state")?,
        })
    }
}

struct Row<'a> {
    values: &'a [String],
    line: usize,
}

impl Row<'_> {
    fn text(&self, index: usize) -> String {
        self.values.get(index).cloned().unwrap_or_default()
    }

    fn number<T: std::str::FromStr>(
        &self,
        index: usize,
        field: &'static str,
    ) -> Result<T, StateError> {
        let value = self
            .values
            .get(index)
            .map(String::as_str)
            .unwrap_or_default();
        value.parse().map_err(|_| StateError::BadValue {
            line: self.line,
            field,
            found: excerpt(value.as_bytes()),
        })
    }
}

/// Validates `reply` as [`validate`] does, then reads every server line.
pub fn parse(reply: &[u8]) -> Result<ServersState, StateError> {
    validate(reply)?;
    let mut lines = text::lines(reply).skip(1);
    let header = lines.next().map(|l| l.text).unwrap_or_default();
    let names: Vec<String> = header_names(header)
        .unwrap_or_default()
        .into_iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    let columns = Columns::new(&names)?;
    let shared: Arc<[String]> = names.clone().into();

    let mut servers = Vec::new();
    for line in lines.take_while(|l| !l.text.is_empty()) {
        let values: Vec<String> = fields(line.text)
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        let row = Row {
            values: &values,
            line: line.number,
        };
        let op_state = row.number(columns.op_state, "srv_op_state")?;
        let admin_state = row.number(columns.admin_state, "srv_admin_state")?;
        let check_state = row.number(columns.check_state, "srv_check_state")?;
        servers.push(ServerState {
            backend_id: row.number(columns.backend_id, "be_id")?,
            backend: row.text(columns.backend),
            id: row.number(columns.id, "srv_id")?,
            name: row.text(columns.name),
            address: row.text(columns.address),
            port: row.number(columns.port, "srv_port")?,
            weight: row.number(columns.weight, "srv_uweight")?,
            op_state,
            op_state_name: op_state_name(op_state),
            admin_state,
            admin_flags: flag_names(admin_state, ADMIN_FLAGS),
            admin_state_name: admin_state_name(admin_state),
            check_state,
            check_flags: flag_names(check_state, CHECK_FLAGS),
            fields: Fields::new(Arc::clone(&shared), values),
        });
    }
    Ok(ServersState {
        version: 1,
        fields: names,
        servers,
    })
}
