//! What an operator does to a server: drain, ready, maintenance, weight, by name in every
//! backend that has it or in one, and what is left to wait for before it is done.

use std::fmt;

use super::command::{BadName, check_name};
use super::servers_state::ServersState;
use super::stat::Stat;

/// A server by name: `be/name` for one backend, `name` for every backend with a server of
/// that name (the same host in several backends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerName {
    pub backend: Option<String>,
    pub server: String,
}

impl std::str::FromStr for ServerName {
    type Err = BadName;

    fn from_str(text: &str) -> Result<ServerName, BadName> {
        match text.split_once('/') {
            Some((backend, server)) => Ok(ServerName {
                backend: Some(check_name(backend)?.to_string()),
                server: check_name(server)?.to_string(),
            }),
            None => Ok(ServerName {
                backend: None,
                server: check_name(text)?.to_string(),
            }),
        }
    }
}

impl fmt::Display for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.backend {
            Some(backend) => write!(f, "{backend}/{}", self.server),
            None => f.write_str(&self.server),
        }
    }
}

impl ServerName {
    /// Every `(backend, server)` of `state` this names, in the order HAProxy lists them.
    pub fn resolve(&self, state: &ServersState) -> Vec<(String, String)> {
        state
            .servers
            .iter()
            .filter(|s| s.name == self.server)
            .filter(|s| self.backend.as_ref().is_none_or(|b| *b == s.backend))
            .map(|s| (s.backend.clone(), s.name.clone()))
            .collect()
    }
}

/// What to set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Drain,
    Ready,
    Maint,
    Weight(u32),
}

impl Action {
    /// The command that does it to `backend/server`.
    pub fn command(self, backend: &str, server: &str) -> String {
        match self {
            Action::Drain => format!("set server {backend}/{server} state drain"),
            Action::Ready => format!("set server {backend}/{server} state ready"),
            Action::Maint => format!("set server {backend}/{server} state maint"),
            Action::Weight(w) => format!("set server {backend}/{server} weight {w}"),
        }
    }

    /// Its name on the command line and in JSON: `drain`, `ready`, `maint`, `weight`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Drain => "drain",
            Action::Ready => "ready",
            Action::Maint => "maint",
            Action::Weight(_) => "weight",
        }
    }

    /// The admin state bits (`srv_admin_state`) a server with `bits` has once the action is
    /// done, as HAProxy's `set server … state` sets them: `ready` clears forced maintenance
    /// and forced drain, `drain` clears the one and sets the other, `maint` the reverse. The
    /// inherited and configured bits stay: an operator's command does not change them.
    pub fn admin_after(self, bits: u32) -> u32 {
        match self {
            Action::Ready => bits & !(FMAINT | FDRAIN),
            Action::Drain => (bits & !FMAINT) | FDRAIN,
            Action::Maint => (bits & !FDRAIN) | FMAINT,
            Action::Weight(_) => bits,
        }
    }

    /// The weight a server of weight `weight` has once the action is done.
    pub fn weight_after(self, weight: u32) -> u32 {
        match self {
            Action::Weight(w) => w,
            _ => weight,
        }
    }
}

/// `SRV_ADMF_FMAINT`: maintenance forced by the operator.
const FMAINT: u32 = 0x01;
/// `SRV_ADMF_FDRAIN`: drain forced by the operator.
const FDRAIN: u32 = 0x08;

/// A server not yet where the action leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub backend: String,
    pub server: String,
    /// `scur`: sessions still on it.
    pub sessions: i64,
    /// `qcur`: requests queued for it.
    pub queued: i64,
    /// `status` as `show stat` says it (`UP`, `DOWN`, `MAINT`, `DRAIN`, `no check`, …).
    pub status: String,
}

impl fmt::Display for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}: {} sessions, {} queued, {}",
            self.backend, self.server, self.sessions, self.queued, self.status
        )
    }
}

/// The servers of `servers` still to wait for after `action`: drained or in maintenance, a
/// server is done when no session is left on it and nothing is queued; made ready, when its
/// health check says it is up, or at once when it has no check. A server `show stat` does not
/// list (removed meanwhile) is not waited for.
pub fn pending(action: Action, servers: &[(String, String)], stat: &Stat) -> Vec<Pending> {
    let int = |row: &super::stat::StatRow, field: &str| {
        row.get(field).and_then(|v| v.as_int()).unwrap_or(0)
    };
    servers
        .iter()
        .filter_map(|(backend, server)| {
            let row = stat
                .rows
                .iter()
                .find(|r| r.proxy() == Some(backend) && r.name() == Some(server))?;
            let status = row
                .get("status")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let sessions = int(row, "scur");
            let queued = int(row, "qcur");
            let done = match action {
                Action::Drain | Action::Maint => sessions == 0 && queued == 0,
                Action::Ready => status.starts_with("UP") || status == "no check",
                Action::Weight(_) => true,
            };
            (!done).then(|| Pending {
                backend: backend.clone(),
                server: server.clone(),
                sessions,
                queued,
                status,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_one_backend_or_everywhere() {
        let everywhere: ServerName = "web1".parse().unwrap();
        assert_eq!(everywhere.backend, None);
        let one: ServerName = "be_app/web1".parse().unwrap();
        assert_eq!(one.backend.as_deref(), Some("be_app"));
        assert_eq!(one.to_string(), "be_app/web1");
        assert!("be/a b".parse::<ServerName>().is_err());
        assert!("a;b".parse::<ServerName>().is_err());
        assert_eq!(
            Action::Weight(5).command("be", "s1"),
            "set server be/s1 weight 5"
        );
    }

    #[test]
    fn predicted_admin_states() {
        use crate::haproxy::servers_state::admin_state_name as name;
        // From ready, from forced maintenance, with the configured CMAINT bit kept.
        assert_eq!(name(Action::Drain.admin_after(0)), "drain");
        assert_eq!(Action::Drain.admin_after(0x01), 0x08);
        assert_eq!(Action::Ready.admin_after(0x01 | 0x04), 0x04);
        assert_eq!(Action::Maint.admin_after(0x08), 0x01);
        // Inherited maintenance stays: `ready` does not end it.
        assert_eq!(name(Action::Ready.admin_after(0x02)), "maint");
        assert_eq!(Action::Weight(3).admin_after(0x08), 0x08);
        assert_eq!(Action::Weight(3).weight_after(1), 3);
        assert_eq!(Action::Drain.weight_after(1), 1);
    }

    #[test]
    fn what_is_left_to_wait_for() {
        let stat = super::super::stat::parse(
            b"# pxname,svname,qcur,scur,status,type,\n\
              be,s1,0,3,DRAIN,2,\nbe,s2,0,0,MAINT,2,\nbe,s3,1,0,UP,2,\nbe,s4,0,0,no check,2,\n\
              be,s5,0,0,DOWN,2,\n\n",
        )
        .unwrap();
        let servers: Vec<(String, String)> = ["s1", "s2", "s3", "s4", "s5", "gone"]
            .iter()
            .map(|s| ("be".to_string(), s.to_string()))
            .collect();
        let left: Vec<String> = pending(Action::Drain, &servers, &stat)
            .iter()
            .map(|p| p.server.clone())
            .collect();
        assert_eq!(left, ["s1", "s3"]);
        let left: Vec<String> = pending(Action::Ready, &servers, &stat)
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            left,
            [
                "be/s1: 3 sessions, 0 queued, DRAIN",
                "be/s2: 0 sessions, 0 queued, MAINT",
                "be/s5: 0 sessions, 0 queued, DOWN"
            ]
        );
    }
}
