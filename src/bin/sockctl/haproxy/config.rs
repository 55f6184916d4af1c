//! Which HAProxy configuration a command reasons about, and where the server state is saved so
//! that HAProxy loads it.
//!
//! The configuration is `--config` (or `$SOCKCTL_CONFIG`) when given; else, when the socket is
//! a master whose process runs here, the files on that master's command line; else
//! `/etc/haproxy/haproxy.cfg`. Saving to the default place is refused whenever sockctl cannot
//! show that HAProxy will load what it writes: a state file nobody loads is a silent loss of
//! every runtime change at the next reload.

use std::fmt;
use std::path::{Path, PathBuf};

use sockctl::Address;
use sockctl::haproxy::config::GlobalSettings;
use sockctl::haproxy::discover::DEFAULT_CONFIG;
use sockctl::haproxy::master::SocketKind;
use sockctl::haproxy::running::{self, Process};

use crate::exit::UsageError;

/// Where the configuration's file names came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--config` or `$SOCKCTL_CONFIG`.
    Given,
    /// The command line of the master process with this PID.
    Master(u32),
    /// Nothing better was known.
    Default,
}

pub struct Configuration {
    pub paths: Vec<PathBuf>,
    pub origin: Origin,
    /// HAProxy's working directory, which relative file names are taken from, when known.
    pub base_dir: Option<PathBuf>,
    /// What the files say, or why they cannot be taken as this HAProxy's configuration.
    pub settings: Result<GlobalSettings, String>,
}

impl fmt::Display for Configuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.paths.iter().map(|p| p.display().to_string()).collect();
        f.write_str(&names.join(" "))?;
        match self.origin {
            Origin::Given => Ok(()),
            Origin::Master(pid) => write!(f, " (from the command line of HAProxy master {pid})"),
            Origin::Default => write!(f, " (the default)"),
        }
    }
}

impl Configuration {
    /// The configuration of the HAProxy behind `address`.
    pub fn find(given: Option<&Path>, address: &Address, kind: &SocketKind) -> Configuration {
        if let Some(path) = given {
            return Self::read(vec![path.to_path_buf()], Origin::Given, None);
        }
        if let SocketKind::Master(list) = kind
            && let Some(process) = Process::read(list.master.pid)
            && process.is_haproxy()
            && process.serves(address)
            && let Some(paths) = process.config_paths()
        {
            let base = process.base_dir();
            return Self::read(paths, Origin::Master(process.pid), base);
        }
        if let SocketKind::Stats = kind {
            // A stats socket names no master: the running master whose configuration has
            // this `stats socket` is the one behind it.
            for (pid, _) in running::masters() {
                let Some(process) = Process::read(pid) else {
                    continue;
                };
                let Some(paths) = process.config_paths() else {
                    continue;
                };
                let config = Self::read(paths, Origin::Master(pid), process.base_dir());
                if config
                    .settings()
                    .is_some_and(|s| s.has_stats_socket(address))
                {
                    return config;
                }
            }
        }
        let mut config = Self::read(vec![PathBuf::from(DEFAULT_CONFIG)], Origin::Default, None);
        // The default file only speaks for this socket if it names it: another HAProxy's
        // configuration would send the state where this one never loads it. A master's own
        // socket is never in its configuration, so for a master not seen here nothing can
        // confirm it.
        let unconfirmed = match kind {
            SocketKind::Stats => config
                .settings()
                .is_some_and(|s| !s.has_stats_socket(address))
                .then(|| format!("{DEFAULT_CONFIG} has no 'stats socket' {address}")),
            SocketKind::Master(_) => Some(format!(
                "the master behind {address} is not a process seen here, so its configuration \
                 is not known"
            )),
        };
        if let Some(why) = unconfirmed
            && config.settings.is_ok()
        {
            config.settings = Err(format!(
                "{why}; {DEFAULT_CONFIG} may be another HAProxy's configuration"
            ));
        }
        config
    }

    fn read(paths: Vec<PathBuf>, origin: Origin, base_dir: Option<PathBuf>) -> Configuration {
        Configuration {
            settings: GlobalSettings::read_all(&paths).map_err(|e| e.to_string()),
            paths,
            origin,
            base_dir,
        }
    }

    pub fn settings(&self) -> Option<&GlobalSettings> {
        self.settings.as_ref().ok()
    }

    /// The state file HAProxy loads at start: `server-state-file`, joined to
    /// `server-state-base` or else to HAProxy's working directory when relative.
    pub fn loaded_state_file(&self) -> Result<PathBuf, String> {
        let settings = self.settings.as_ref().map_err(String::clone)?;
        let file = settings
            .state_file()
            .ok_or_else(|| format!("{self} has no 'server-state-file' in its global section"))?;
        if file.is_absolute() {
            return Ok(file);
        }
        match &self.base_dir {
            Some(base) => Ok(base.join(file)),
            None => Err(format!(
                "{self} names a relative server-state-file ({}) without server-state-base, and \
                 HAProxy's working directory is not known",
                file.display()
            )),
        }
    }

    /// Why HAProxy would not load the global state file at start, if it would not.
    pub fn not_loaded(&self) -> Option<String> {
        let settings = self.settings()?;
        if settings.global_loaders() > 0 {
            return None;
        }
        Some(format!(
            "no backend of {self} loads it ('load-server-state-from-file global' in a defaults \
             or backend section; HAProxy's default is none)"
        ))
    }
}

/// Where `save-state` without `-o` and `reload --save-state` write: the file the running
/// configuration loads, or a refusal that says why there is none. `explicit` is a file the user
/// named; with `force`, a named file that HAProxy will not load is written all the same (with a
/// warning).
pub fn state_file(
    explicit: Option<&Path>,
    config: &Configuration,
    force: bool,
    verbose: bool,
) -> Result<PathBuf, UsageError> {
    let loaded = config.loaded_state_file();
    let problem = match &loaded {
        Ok(_) => config.not_loaded(),
        Err(why) => Some(why.clone()),
    };
    let path = match (explicit, &loaded) {
        (Some(path), Ok(loaded)) if same_file(path, loaded) => path.to_path_buf(),
        (Some(path), _) if force => {
            let why = problem.clone().unwrap_or_else(|| {
                format!(
                    "{config} loads {}",
                    loaded
                        .as_ref()
                        .map_or(String::new(), |p| p.display().to_string())
                )
            });
            crate::messages::warn(format_args!(
                "HAProxy will not load {} at the next start ({why}); \
                 writing it because of --force",
                path.display()
            ));
            return Ok(path.to_path_buf());
        }
        (Some(path), Ok(loaded)) => {
            return Err(UsageError(format!(
                "refusing to save the state to {}: {config} loads {} (use --force to write it \
                 anyway)",
                path.display(),
                loaded.display()
            )));
        }
        (_, Ok(loaded)) => loaded.clone(),
        (_, Err(why)) => {
            return Err(UsageError(format!(
                "refusing to save the state: {why}; so HAProxy would not load it at the next \
                 start (give the configuration with --config, or a file with --state-file \
                 PATH --force)"
            )));
        }
    };
    if let Some(why) = problem {
        if !force {
            return Err(UsageError(format!(
                "refusing to save the state to {}: {why}; it would not survive the reload (use \
                 --force to write it anyway)",
                path.display()
            )));
        }
        crate::messages::warn(format_args!(
            "{why}; writing {} because of --force",
            path.display()
        ));
    }
    if config.settings().is_some_and(|s| s.loads_local_state) {
        crate::messages::warn(format_args!(
            "{config} has backends with 'load-server-state-from-file local': \
             they load a file of their own (server-state-base/server-state-file-name), not {}; \
             save each of those with 'save-state --backend NAME -o FILE'",
            path.display()
        ));
    }
    if verbose {
        crate::messages::say(format_args!(
            "state file {} (the server-state-file of {config})",
            path.display()
        ));
    }
    Ok(path)
}

/// Whether two paths name the same file (the same text, or the same file once resolved).
pub fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (a.canonicalize(), b.canonicalize()),
            (Ok(a), Ok(b)) if a == b
        )
}
