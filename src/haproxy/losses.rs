//! What a reload would lose: the running state that the new worker will not have, found by
//! comparing what runs (asked through the master CLI) with what the configuration and the
//! state file will give it.
//!
//! - Servers that run but that the configuration does not declare (`add server`): a state file
//!   does not bring them back; the reload drops them.
//! - Map and ACL entries that differ from their file (`add map`, `set map`, `del acl`…): the
//!   reload loads the file.
//! - A server whose port or address differs between what runs, the configuration and the state
//!   file. HAProxy applies a saved port whatever the configuration says, so a port changed in
//!   the configuration is overridden by the state file (HAProxy issues #1412, #2506, #3296);
//!   2.6 and 2.8 take a literal address from the configuration, not from the state file, so a
//!   running address set with `set server … addr` is dropped (both seen with those versions).

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::address::Address;
use crate::atomic_file::AtomicFile;
use crate::command::Command;
use crate::error::ExchangeError;
use crate::exchange::Exchange;
use crate::haproxy::config::{GlobalSettings, LoadState, ReadError};
use crate::haproxy::declared::Declared;
use crate::haproxy::patterns::{self, Difference, Entry, Kind, Unwritable};
use crate::haproxy::servers_state::{self, ServerState};

/// One thing the reload would lose or override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Loss {
    /// A server that runs but is not in the configuration.
    RuntimeServer {
        backend: String,
        server: String,
        address: String,
        port: u16,
    },
    /// A map or ACL whose running entries differ from its file.
    RuntimeEntries {
        #[serde(rename = "type")]
        kind: Kind,
        file: PathBuf,
        #[serde(flatten)]
        difference: Difference,
        /// The file was modified after the serving worker loaded it: the difference may be
        /// edits to the file rather than changes at runtime.
        file_changed_since_load: bool,
    },
    /// A server's port or address: what runs, what the configuration says, and what the new
    /// worker will have.
    ServerDiffers {
        backend: String,
        server: String,
        field: Field,
        running: String,
        configured: String,
        after_reload: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Port,
    Address,
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loss::RuntimeServer {
                backend,
                server,
                address,
                port,
            } => write!(
                f,
                "server {backend}/{server} ({address}:{port}) runs but is not in the \
                 configuration (added with 'add server'?): the reload drops it"
            ),
            Loss::RuntimeEntries {
                kind,
                file,
                difference: d,
                file_changed_since_load,
            } => {
                let what = if *kind == Kind::Map {
                    "entries"
                } else {
                    "patterns"
                };
                write!(
                    f,
                    "{kind} {}: the running {what} differ from the file (",
                    file.display()
                )?;
                if *d == Difference::default() {
                    // The same entries in another order: which one matches first changes.
                    f.write_str("the same ones in another order")?;
                } else {
                    write!(
                        f,
                        "{} only running, {} only in the file, {} changed",
                        d.only_running, d.only_in_file, d.changed
                    )?;
                }
                f.write_str("): the reload loads the file")?;
                if *file_changed_since_load {
                    f.write_str(" (the file was modified after HAProxy loaded it)")
                } else {
                    f.write_str(" (--sync-maps writes the running ones to it first)")
                }
            }
            Loss::ServerDiffers {
                backend,
                server,
                field: Field::Port,
                running,
                configured,
                after_reload,
            } if after_reload != configured => write!(
                f,
                "server {backend}/{server}: the configuration says port {configured} but the \
                 state file restores port {after_reload} over it (HAProxy applies a saved port \
                 whatever the configuration says; running: {running})"
            ),
            Loss::ServerDiffers {
                backend,
                server,
                field,
                running,
                configured,
                ..
            } => {
                let field = match field {
                    Field::Port => "port",
                    Field::Address => "address",
                };
                write!(
                    f,
                    "server {backend}/{server} runs with {field} {running} but the \
                     configuration says {configured}: the reload moves it to {configured}"
                )
            }
        }
    }
}

/// The configuration a reload will load.
pub struct Plan<'a> {
    pub paths: &'a [PathBuf],
    pub settings: &'a GlobalSettings,
    /// Where relative file names (map files) are taken from: HAProxy's working directory.
    pub base_dir: Option<&'a Path>,
    /// What the new worker restores from the state file.
    pub restored: Restored<'a>,
    /// When the serving worker started (so loaded its map files), if known.
    pub worker_started: Option<SystemTime>,
}

/// The server state the new worker will load.
pub enum Restored<'a> {
    /// What runs now: `reload --save-state` saves it first.
    Running,
    /// The state file that is there now.
    File(&'a Path),
    /// No state: the configuration loads none.
    Nothing,
}

/// What was found, and what `--sync-maps` needs to write the map files.
#[derive(Debug, Default)]
pub struct Findings {
    pub losses: Vec<Loss>,
    pub files: Vec<PatternFile>,
    /// What could not be compared, and why.
    pub unchecked: Vec<String>,
}

/// A map or ACL file whose running entries differ from it.
#[derive(Debug, Clone)]
pub struct PatternFile {
    pub kind: Kind,
    pub path: PathBuf,
    pub running: Vec<Entry>,
    pub changed_since_load: bool,
    /// Running entries whose key and value cannot be told apart in `show map`'s output.
    pub ambiguous: Vec<Entry>,
}

#[derive(Debug)]
pub enum LossError {
    /// A command to the master got no complete reply.
    Exchange {
        command: String,
        source: ExchangeError,
    },
    /// A command's reply was not what it should be.
    Reply { command: String, why: String },
    /// The configuration cannot be read.
    Config(ReadError),
    /// A map or ACL file cannot be read.
    File { path: PathBuf, source: io::Error },
}

impl fmt::Display for LossError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LossError::Exchange { command, source } => write!(f, "{command}: {source}"),
            LossError::Reply { command, why } => write!(f, "{command}: {why}"),
            LossError::Config(e) => e.fmt(f),
            LossError::File { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for LossError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LossError::Exchange { source, .. } => Some(source),
            LossError::Config(e) => Some(e),
            LossError::File { source, .. } => Some(source),
            LossError::Reply { .. } => None,
        }
    }
}

/// A clock's worth of slack: `show proc` gives uptimes in seconds.
const CLOCK_SLACK: Duration = Duration::from_secs(2);

/// Compares what runs behind the master socket `address` with what `plan` will load.
pub fn find(address: &Address, exchange: &Exchange, plan: &Plan) -> Result<Findings, LossError> {
    let declared = Declared::read_all(plan.paths).map_err(LossError::Config)?;
    let dump = ask(address, exchange, "show servers state")?;
    let running = servers_state::parse(&dump).map_err(|e| reply_error("show servers state", e))?;
    let mut findings = Findings::default();
    servers(&declared, plan, &running.servers, &mut findings.losses)?;
    pattern_files(address, exchange, plan, &mut findings)?;
    Ok(findings)
}

fn servers(
    declared: &Declared,
    plan: &Plan,
    running: &[ServerState],
    losses: &mut Vec<Loss>,
) -> Result<(), LossError> {
    let saved = match plan.restored {
        Restored::Running | Restored::Nothing => None,
        // No state file (yet), or one HAProxy ignores whole (a short line): nothing is
        // restored.
        Restored::File(path) => Some(
            std::fs::read(path)
                .ok()
                .and_then(|bytes| servers_state::parse(&bytes).ok())
                .map(|s| s.servers)
                .unwrap_or_default(),
        ),
    };
    let load_of = |backend: &str| {
        plan.settings
            .backends
            .iter()
            .find(|(name, _)| name == backend)
            .map_or(LoadState::None, |(_, load)| *load)
    };
    for server in running {
        let Some(ours) = declared.get(&server.backend, &server.name) else {
            losses.push(Loss::RuntimeServer {
                backend: server.backend.clone(),
                server: server.name.clone(),
                address: server.address.clone(),
                port: server.port,
            });
            continue;
        };
        if ours.ambiguous {
            continue;
        }
        // The port the new worker will have: the state file's when it loads one that has
        // this server, else the configuration's.
        let load = load_of(&server.backend);
        if load == LoadState::Local {
            // A file of the backend's own, which sockctl does not read: its port is unknown.
            continue;
        }
        let loads_state = !matches!(plan.restored, Restored::Nothing);
        let restored_port = if loads_state && load == LoadState::Global {
            match &saved {
                None => Some(server.port),
                Some(saved) => saved
                    .iter()
                    .find(|s| s.backend == server.backend && s.name == server.name)
                    .map(|s| s.port),
            }
        } else {
            None
        };
        if let Some(configured) = ours.port {
            let after = restored_port.unwrap_or(configured);
            if server.port != configured || after != configured {
                losses.push(Loss::ServerDiffers {
                    backend: server.backend.clone(),
                    server: server.name.clone(),
                    field: Field::Port,
                    running: server.port.to_string(),
                    configured: configured.to_string(),
                    after_reload: after.to_string(),
                });
            }
        }
        if let (Some(configured), Ok(running)) = (ours.ip, server.address.parse::<IpAddr>())
            && configured != running
        {
            losses.push(Loss::ServerDiffers {
                backend: server.backend.clone(),
                server: server.name.clone(),
                field: Field::Address,
                running: running.to_string(),
                configured: configured.to_string(),
                after_reload: configured.to_string(),
            });
        }
    }
    Ok(())
}

fn pattern_files(
    address: &Address,
    exchange: &Exchange,
    plan: &Plan,
    findings: &mut Findings,
) -> Result<(), LossError> {
    let mut seen: Vec<String> = Vec::new();
    for kind in [Kind::Map, Kind::Acl] {
        let list = ask(address, exchange, &format!("show {kind}"))?;
        for listed in patterns::parse_list(&list) {
            // A file used both as a map and as an ACL is one list in HAProxy.
            if seen.contains(&listed.file) {
                continue;
            }
            seen.push(listed.file.clone());
            let command = format!("show {kind} #{}", listed.id);
            let reply = ask(address, exchange, &command)?;
            let running =
                patterns::parse_entries(kind, &reply).map_err(|e| reply_error(&command, e))?;
            // 3.x names a map by a prefix: `virt@` has no file at all, `opt@` and `file@`
            // one that may be missing.
            if listed.file.starts_with("virt@") {
                if !running.is_empty() {
                    findings.unchecked.push(format!(
                        "{kind} {}: a virtual {kind} has no file: its {} running entries are \
                         gone after the reload",
                        listed.file,
                        running.len()
                    ));
                }
                continue;
            }
            let name = ["opt@", "file@"]
                .iter()
                .find_map(|prefix| listed.file.strip_prefix(prefix))
                .unwrap_or(&listed.file);
            let path = match (Path::new(name), plan.base_dir) {
                (p, Some(base)) if p.is_relative() => base.join(p),
                (p, None) if p.is_relative() => {
                    findings.unchecked.push(format!(
                        "{kind} {}: not compared: the name is relative and HAProxy's working \
                         directory is not known",
                        p.display()
                    ));
                    continue;
                }
                (p, _) => p.to_path_buf(),
            };
            let (text, modified) = match std::fs::read(&path) {
                Ok(text) => (
                    text,
                    std::fs::metadata(&path).and_then(|m| m.modified()).ok(),
                ),
                Err(e) if e.kind() == io::ErrorKind::NotFound => (Vec::new(), None),
                Err(source) => return Err(LossError::File { path, source }),
            };
            let in_file = patterns::parse_file(kind, &text);
            let Some(difference) = Difference::between(&running, &in_file) else {
                continue;
            };
            let mut ambiguous = Vec::new();
            for entry in running.iter().filter(|e| !in_file.contains(e)) {
                if !unambiguous(address, exchange, listed.id, entry)? {
                    ambiguous.push(entry.clone());
                }
            }
            let changed_since_load = match (modified, plan.worker_started) {
                (Some(modified), Some(started)) => modified > started + CLOCK_SLACK,
                _ => false,
            };
            findings.losses.push(Loss::RuntimeEntries {
                kind,
                file: path.clone(),
                difference,
                file_changed_since_load: changed_since_load,
            });
            findings.files.push(PatternFile {
                kind,
                path,
                running,
                changed_since_load,
                ambiguous,
            });
        }
    }
    Ok(())
}

/// Whether a running map entry is the key and value it was read as. `show map` prints
/// `KEY VALUE` without escaping, so a key with a space (`add map F a\ b v`) reads as key `a`,
/// value `b v`: when the value has a blank, `get map #ID KEY` must find that very key.
fn unambiguous(
    address: &Address,
    exchange: &Exchange,
    id: u32,
    entry: &Entry,
) -> Result<bool, LossError> {
    let Some(value) = &entry.value else {
        return Ok(true);
    };
    if !value.iter().any(|&b| b == b' ' || b == b'\t') {
        return Ok(true);
    }
    // Only a key the CLI takes as one plain word can be asked about.
    let Ok(key) = std::str::from_utf8(&entry.key) else {
        return Ok(false);
    };
    if key.is_empty() || key.contains(|c: char| c == ';' || c == '\\' || c.is_control()) {
        return Ok(false);
    }
    let reply = ask(address, exchange, &format!("get map #{id} {key}"))?;
    let reply = String::from_utf8_lossy(&reply);
    Ok(reply.contains("found=yes") && reply.contains(&format!("key=\"{key}\"")))
}

/// One command to the current worker, through the master.
fn ask(address: &Address, exchange: &Exchange, command: &str) -> Result<Vec<u8>, LossError> {
    let line = format!("@1 {command}");
    let error = |source| LossError::Exchange {
        command: command.to_string(),
        source,
    };
    let command_bytes = Command::new(line).map_err(|e| LossError::Reply {
        command: command.to_string(),
        why: e.to_string(),
    })?;
    let mut reply = Vec::new();
    exchange
        .run(address, &command_bytes, &mut reply)
        .map_err(error)?;
    Ok(reply)
}

fn reply_error(command: &str, e: impl fmt::Display) -> LossError {
    LossError::Reply {
        command: command.to_string(),
        why: e.to_string(),
    }
}

/// Why a map or ACL file was not written.
#[derive(Debug)]
pub enum SyncError {
    /// The running entries cannot be written in the file's syntax.
    Unwritable { path: PathBuf, source: Unwritable },
    /// The file was modified after HAProxy loaded it: writing the running entries would
    /// throw those edits away.
    ChangedSinceLoad { path: PathBuf },
    /// A running entry whose key and value `show map` does not tell apart.
    Ambiguous { path: PathBuf, entry: String },
    /// The file cannot be read or written.
    File { path: PathBuf, source: io::Error },
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncError::Unwritable { path, source } => {
                write!(f, "cannot sync {}: {source}", path.display())
            }
            SyncError::ChangedSinceLoad { path } => write!(
                f,
                "not syncing {}: the file was modified after HAProxy loaded it, and writing the \
                 running entries would throw those edits away; merge them by hand (or add the \
                 edits at runtime) first",
                path.display()
            ),
            SyncError::File { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
            SyncError::Ambiguous { path, entry } => write!(
                f,
                "cannot sync {}: the running entry {entry:?} has a space in its key or value \
                 (escaped when it was added), and 'show map' does not say where the key ends",
                path.display()
            ),
        }
    }
}

impl std::error::Error for SyncError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SyncError::Unwritable { source, .. } => Some(source),
            SyncError::File { source, .. } => Some(source),
            SyncError::ChangedSinceLoad { .. } | SyncError::Ambiguous { .. } => None,
        }
    }
}

/// The new text of each file, checked before any file is written: either every file can be
/// written, or none is.
pub fn prepare_sync(files: &[PatternFile]) -> Result<Vec<(PathBuf, Vec<u8>)>, SyncError> {
    let mut texts = Vec::new();
    for file in files {
        if file.changed_since_load {
            return Err(SyncError::ChangedSinceLoad {
                path: file.path.clone(),
            });
        }
        if let Some(entry) = file.ambiguous.first() {
            let mut shown = entry.key.clone();
            if let Some(value) = &entry.value {
                shown.push(b' ');
                shown.extend_from_slice(value);
            }
            return Err(SyncError::Ambiguous {
                path: file.path.clone(),
                entry: String::from_utf8_lossy(&shown).into_owned(),
            });
        }
        let original = match std::fs::read(&file.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(SyncError::File {
                    path: file.path.clone(),
                    source,
                });
            }
        };
        let text = patterns::synced(file.kind, &original, &file.running).map_err(|source| {
            SyncError::Unwritable {
                path: file.path.clone(),
                source,
            }
        })?;
        texts.push((file.path.clone(), text));
    }
    Ok(texts)
}

/// Replaces the file with `text` atomically, keeping its owner and mode.
pub fn write_synced(path: &Path, text: &[u8]) -> Result<(), SyncError> {
    use std::io::Write;
    let error = |source| SyncError::File {
        path: path.to_path_buf(),
        source,
    };
    let mut file = AtomicFile::create(path).map_err(error)?;
    file.write_all(text).map_err(error)?;
    file.commit().map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state \
        srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status \
        srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id \
        srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr \
        srv_agent_addr srv_agent_port\n";

    /// A `show servers state` dump of `(backend, server, address, port)`.
    fn dump(servers: &[(&str, &str, &str, u16)]) -> String {
        let mut text = HEADER.to_string();
        for (i, (backend, name, address, port)) in servers.iter().enumerate() {
            text.push_str(&format!(
                "3 {backend} {} {name} {address} 2 0 1 1 5 6 3 4 6 0 0 0 - {port} - 0 0 - - 0\n",
                i + 1
            ));
        }
        text.push('\n');
        text
    }

    fn running(servers: &[(&str, &str, &str, u16)]) -> Vec<ServerState> {
        servers_state::parse(dump(servers).as_bytes())
            .unwrap()
            .servers
    }

    const CONFIG: &str = "global
  server-state-file /state
defaults
  load-server-state-from-file global
backend be
  default-server inter 2s
  server s1 10.0.0.1:80
  server s2 10.0.0.2:80
  server-template t 2 app.example.com:81
backend own
  load-server-state-from-file local
  server o1 10.0.0.9:90
";

    fn compare(restored: Restored, now: &[(&str, &str, &str, u16)]) -> Vec<Loss> {
        let settings = GlobalSettings::parse(CONFIG);
        let plan = Plan {
            paths: &[],
            settings: &settings,
            base_dir: None,
            restored,
            worker_started: None,
        };
        let mut losses = Vec::new();
        servers(&Declared::parse(CONFIG), &plan, &running(now), &mut losses).unwrap();
        losses
    }

    const AS_CONFIGURED: &[(&str, &str, &str, u16)] = &[
        ("be", "s1", "10.0.0.1", 80),
        ("be", "s2", "10.0.0.2", 80),
        ("be", "t1", "10.1.1.1", 81),
        ("be", "t2", "10.1.1.2", 81),
        ("own", "o1", "10.0.0.9", 90),
    ];

    #[test]
    fn nothing_differs_nothing_is_reported() {
        assert_eq!(compare(Restored::Running, AS_CONFIGURED), []);
        assert_eq!(compare(Restored::Nothing, AS_CONFIGURED), []);
    }

    #[test]
    fn a_server_only_at_runtime() {
        let mut now = AS_CONFIGURED.to_vec();
        now.push(("be", "dyn", "10.0.0.3", 80));
        now.push(("gone", "x", "10.0.0.4", 80));
        let servers: Vec<String> = compare(Restored::Running, &now)
            .iter()
            .map(|l| match l {
                Loss::RuntimeServer {
                    backend, server, ..
                } => format!("{backend}/{server}"),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(servers, ["be/dyn", "gone/x"]);
    }

    #[test]
    fn ports_follow_what_the_state_restores() {
        let mut now = AS_CONFIGURED.to_vec();
        now[0].3 = 8080;
        // Saved now: the running port comes back over the configuration's.
        let after = |losses: Vec<Loss>| -> Vec<(String, String)> {
            losses
                .into_iter()
                .map(|l| match l {
                    Loss::ServerDiffers {
                        field: Field::Port,
                        after_reload,
                        configured,
                        ..
                    } => (after_reload, configured),
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        assert_eq!(
            after(compare(Restored::Running, &now)),
            [("8080".into(), "80".into())]
        );
        // No state loaded: the configuration's port wins and the running one is lost.
        assert_eq!(
            after(compare(Restored::Nothing, &now)),
            [("80".into(), "80".into())]
        );
        // A state file on disk that has s1 on 8080 restores 8080 even when what runs agrees
        // with the configuration.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state");
        std::fs::write(&file, dump(&now)).unwrap();
        assert_eq!(
            after(compare(Restored::File(&file), AS_CONFIGURED)),
            [("8080".into(), "80".into())]
        );
        // No file yet, or a cut one that HAProxy ignores: nothing restored.
        assert_eq!(
            compare(Restored::File(&dir.path().join("none")), AS_CONFIGURED),
            []
        );
        let cut = dir.path().join("cut");
        let text = dump(&now);
        std::fs::write(&cut, &text[..text.len() - 20]).unwrap();
        assert_eq!(
            after(compare(Restored::File(&cut), &now)),
            [("80".into(), "80".into())]
        );
        // A backend with a state file of its own is not guessed about.
        let mut own = AS_CONFIGURED.to_vec();
        own[4].3 = 9999;
        assert_eq!(compare(Restored::Running, &own), []);
    }

    #[test]
    fn a_literal_address_that_differs() {
        let mut now = AS_CONFIGURED.to_vec();
        now[1].2 = "10.0.0.22";
        let losses = compare(Restored::Running, &now);
        assert_eq!(losses.len(), 1, "{losses:?}");
        assert_eq!(
            losses[0].to_string(),
            "server be/s2 runs with address 10.0.0.22 but the configuration says 10.0.0.2: the \
             reload moves it to 10.0.0.2"
        );
    }

    #[test]
    fn messages_say_what_happens() {
        let port = |after: &str| Loss::ServerDiffers {
            backend: "be".into(),
            server: "s1".into(),
            field: Field::Port,
            running: "80".into(),
            configured: "81".into(),
            after_reload: after.into(),
        };
        assert!(
            port("80")
                .to_string()
                .contains("the state file restores port 80 over it")
        );
        assert!(port("81").to_string().contains("the reload moves it to 81"));
        let json = serde_json::to_value(port("80")).unwrap();
        assert_eq!(json["kind"], "server_differs");
        assert_eq!(json["field"], "port");
        let entries = Loss::RuntimeEntries {
            kind: Kind::Acl,
            file: "/x.acl".into(),
            difference: Difference {
                only_running: 1,
                only_in_file: 0,
                changed: 0,
            },
            file_changed_since_load: false,
        };
        let json = serde_json::to_value(&entries).unwrap();
        assert_eq!(json["type"], "acl");
        assert_eq!(json["only_running"], 1);
        assert!(
            entries
                .to_string()
                .starts_with("acl /x.acl: the running patterns")
        );
    }
}
