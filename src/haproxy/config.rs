//! The few facts sockctl needs from an HAProxy configuration: where the stats sockets are,
//! where the server state file goes, and which backends load it. The `global` section is read,
//! and elsewhere only the section names and `load-server-state-from-file`; everything else is
//! left to HAProxy.
//!
//! A configuration is what HAProxy reads: one or more `-f` files or directories, in order (a
//! directory stands for its `*.cfg` files in byte order, as HAProxy sorts them).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

/// What the `global` section says about sockets and state files.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GlobalSettings {
    /// Addresses of `stats socket` lines, in order, with their `level` when given.
    pub stats_sockets: Vec<StatsSocket>,
    pub server_state_file: Option<String>,
    pub server_state_base: Option<String>,
    /// `unix-bind prefix`, prepended by HAProxy to relative-looking Unix socket paths.
    pub unix_bind_prefix: Option<String>,
    /// Whether a `defaults`, `backend` or `listen` section says `load-server-state-from-file
    /// local`: those backends load a file of their own, not the global `server-state-file`.
    pub loads_local_state: bool,
    /// Each `backend` and `listen` section, with what it loads at start (its own
    /// `load-server-state-from-file`, else its `defaults` section's, else `none`).
    pub backends: Vec<(String, LoadState)>,
}

/// `load-server-state-from-file`: which state file a backend reads when HAProxy starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadState {
    /// HAProxy's default: no state is loaded.
    #[default]
    None,
    /// The global `server-state-file`.
    Global,
    /// A file of the backend's own.
    Local,
}

impl LoadState {
    fn parse(word: &str) -> Option<LoadState> {
        match word {
            "none" => Some(LoadState::None),
            "global" => Some(LoadState::Global),
            "local" => Some(LoadState::Local),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSocket {
    /// The address as written, e.g. `/run/haproxy/admin.sock` or `ipv4@127.0.0.1:9999`.
    pub address: String,
    pub level: Option<String>,
}

/// Keywords that start a new section.
pub(crate) const SECTIONS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "peers",
    "resolvers",
    "userlist",
    "program",
    "mailers",
    "cache",
    "ring",
    "http-errors",
    "crt-store",
    "traces",
    "log-forward",
    "dynamic-update",
];

/// A file of the configuration that could not be read.
#[derive(Debug)]
pub struct ReadError {
    pub path: PathBuf,
    pub source: io::Error,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read {}: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The files HAProxy reads for these `-f` arguments: a file as it is, a directory as its
/// regular `*.cfg` files sorted by name (HAProxy's `scandir` with `alphasort`, in the C locale).
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ReadError> {
    let mut files = Vec::new();
    for path in paths {
        let error = |source| ReadError {
            path: path.clone(),
            source,
        };
        if !std::fs::metadata(path).map_err(error)?.is_dir() {
            files.push(path.clone());
            continue;
        }
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path).map_err(error)? {
            let entry = entry.map_err(error)?;
            let name = entry.file_name();
            let is_cfg = name.as_encoded_bytes().ends_with(b".cfg");
            if is_cfg && std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file()) {
                names.push(name);
            }
        }
        names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
        files.extend(names.into_iter().map(|name| path.join(name)));
    }
    Ok(files)
}

/// What the parser carries from line to line and from file to file.
#[derive(Default)]
struct Parser {
    settings: GlobalSettings,
    section: Section,
    /// What the last `defaults` section says, which proxies after it inherit.
    defaults: LoadState,
    /// Named `defaults` sections, for `backend NAME from DEFAULTS`.
    named: HashMap<String, LoadState>,
}

#[derive(Default, PartialEq)]
enum Section {
    #[default]
    Other,
    Global,
    Defaults(Option<String>),
    Backend(usize),
}

impl GlobalSettings {
    /// Reads one file (the single `-f` case).
    pub fn read(path: &Path) -> io::Result<GlobalSettings> {
        Ok(Self::parse(&std::fs::read_to_string(path)?))
    }

    /// Reads a configuration given as HAProxy's `-f` arguments, in order.
    pub fn read_all(paths: &[PathBuf]) -> Result<GlobalSettings, ReadError> {
        let mut parser = Parser::default();
        for file in expand(paths)? {
            let text = std::fs::read_to_string(&file).map_err(|source| ReadError {
                path: file.clone(),
                source,
            })?;
            parser.file(&text);
        }
        Ok(parser.settings)
    }

    pub fn parse(text: &str) -> GlobalSettings {
        let mut parser = Parser::default();
        parser.file(text);
        parser.settings
    }

    /// The backends that load the global `server-state-file` at start.
    pub fn global_loaders(&self) -> usize {
        self.backends
            .iter()
            .filter(|(_, load)| *load == LoadState::Global)
            .count()
    }
}

impl Parser {
    fn file(&mut self, text: &str) {
        // Each file starts outside any section; `defaults` carry over.
        self.section = Section::Other;
        for line in text.lines() {
            self.line(split_words(line));
        }
    }

    fn line(&mut self, words: Vec<String>) {
        let Some(first) = words.first() else { return };
        if SECTIONS.contains(&first.as_str()) {
            self.section = self.start(&words);
            return;
        }
        if first == "load-server-state-from-file" {
            let Some(load) = words.get(1).and_then(|w| LoadState::parse(w)) else {
                return;
            };
            if load == LoadState::Local {
                self.settings.loads_local_state = true;
            }
            match &self.section {
                Section::Defaults(name) => {
                    self.defaults = load;
                    if let Some(name) = name {
                        self.named.insert(name.clone(), load);
                    }
                }
                Section::Backend(i) => self.settings.backends[*i].1 = load,
                _ => {}
            }
            return;
        }
        if self.section == Section::Global {
            self.settings.global(&words);
        }
    }

    /// A section line: `defaults [NAME] [from DEFAULTS]`, `backend NAME [from DEFAULTS]`.
    fn start(&mut self, words: &[String]) -> Section {
        let from = words
            .iter()
            .position(|w| w == "from")
            .and_then(|i| words.get(i + 1))
            .and_then(|name| self.named.get(name).copied());
        let name = words.get(1).filter(|w| *w != "from").cloned();
        match words[0].as_str() {
            "global" => Section::Global,
            "defaults" => {
                self.defaults = from.unwrap_or_default();
                if let Some(name) = &name {
                    self.named.insert(name.clone(), self.defaults);
                }
                Section::Defaults(name)
            }
            "backend" | "listen" => {
                let load = from.unwrap_or(self.defaults);
                self.settings
                    .backends
                    .push((name.unwrap_or_default(), load));
                Section::Backend(self.settings.backends.len() - 1)
            }
            _ => Section::Other,
        }
    }
}

impl GlobalSettings {
    /// One line of the `global` section.
    fn global(&mut self, words: &[String]) {
        let word = |i: usize| words.get(i).cloned();
        match (words[0].as_str(), words.get(1).map(String::as_str)) {
            ("stats", Some("socket")) => {
                if let Some(address) = word(2) {
                    let level = words
                        .iter()
                        .position(|w| w == "level")
                        .and_then(|i| word(i + 1));
                    self.stats_sockets.push(StatsSocket { address, level });
                }
            }
            ("server-state-file", _) => self.server_state_file = word(1),
            ("server-state-base", _) => self.server_state_base = word(1),
            ("unix-bind", _) => {
                if let Some(i) = words.iter().position(|w| w == "prefix") {
                    self.unix_bind_prefix = word(i + 1);
                }
            }
            _ => {}
        }
    }

    /// Whether one of the `stats socket` lines is `address` (the same file, for a path).
    pub fn has_stats_socket(&self, address: &crate::Address) -> bool {
        self.stats_sockets.iter().any(|s| {
            self.address_for_client(&s.address)
                .parse::<crate::Address>()
                .is_ok_and(|ours| same_address(&ours, address))
        })
    }

    /// The socket to use: the first `level admin` one, else the first.
    pub fn stats_socket(&self) -> Option<String> {
        let chosen = self
            .stats_sockets
            .iter()
            .find(|s| s.level.as_deref() == Some("admin"))
            .or_else(|| self.stats_sockets.first())?;
        Some(self.address_for_client(&chosen.address))
    }

    /// The state file HAProxy loads with `load-server-state-from-file global`: the
    /// `server-state-file` joined to `server-state-base` when it is relative.
    pub fn state_file(&self) -> Option<PathBuf> {
        let file = Path::new(self.server_state_file.as_deref()?);
        Some(match &self.server_state_base {
            Some(base) if file.is_relative() => Path::new(base).join(file),
            _ => file.to_path_buf(),
        })
    }

    /// Turns a bind address into one a client can connect to: a wildcard listener is reached
    /// on loopback, and `unix-bind prefix` applies to Unix paths.
    fn address_for_client(&self, address: &str) -> String {
        let (prefix, rest) = match address.split_once('@') {
            Some((p, r)) if matches!(p, "ipv4" | "ipv6" | "unix" | "abns") => (format!("{p}@"), r),
            _ => (String::new(), address),
        };
        if prefix == "abns@" {
            return address.to_string();
        }
        if let Some((host, port)) = rest.rsplit_once(':')
            && !rest.contains('/')
            && port.bytes().all(|b| b.is_ascii_digit())
        {
            let host = match host {
                "" | "*" | "0.0.0.0" => "127.0.0.1",
                "[::]" | "::" => "[::1]",
                h => h,
            };
            return format!("{prefix}{host}:{port}");
        }
        match &self.unix_bind_prefix {
            Some(unix_prefix) => format!("{prefix}{unix_prefix}{rest}"),
            None => address.to_string(),
        }
    }
}

/// Whether two addresses reach the same socket: equal, or paths to the same file.
pub fn same_address(a: &crate::Address, b: &crate::Address) -> bool {
    use crate::Address;
    match (a, b) {
        (Address::Unix(x), Address::Unix(y)) => {
            x == y
                || matches!((rustix::fs::stat(x), rustix::fs::stat(y)),
                    (Ok(p), Ok(q)) if p.st_dev == q.st_dev && p.st_ino == q.st_ino)
        }
        _ => a == b,
    }
}

/// Splits a configuration line into words the way HAProxy does for the simple cases: spaces
/// separate, `#` starts a comment, quotes group, `\` escapes, `${VAR}` expands in double quotes.
pub(crate) fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '#') => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '$') if chars.peek() == Some(&'{') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                word.push_str(&std::env::var(&name).unwrap_or_default());
            }
            (q, '\\') if q != Some('\'') => {
                if let Some(next) = chars.next() {
                    word.push(next);
                    in_word = true;
                }
            }
            (_, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &str = "\
global
\tlog /dev/log\tlocal0
\tchroot /var/lib/haproxy
\tstats socket /run/haproxy/admin.sock mode 660 level admin
\tstats timeout 30s
\tserver-state-file state   # relative to the base
\tserver-state-base /var/lib/haproxy
defaults
\tlog\tglobal
\tload-server-state-from-file global
backend be
\tserver-state-file-name ignored
";

    #[test]
    fn debian_style_config() {
        let g = GlobalSettings::parse(DEBIAN);
        assert_eq!(g.stats_socket().as_deref(), Some("/run/haproxy/admin.sock"));
        assert_eq!(
            g.state_file(),
            Some(PathBuf::from("/var/lib/haproxy/state"))
        );
    }

    #[test]
    fn prefers_the_admin_socket_and_reaches_wildcards_on_loopback() {
        let g = GlobalSettings::parse(
            "global\n  stats socket ipv4@*:9999 level operator\n  stats socket :9998 level admin\n",
        );
        assert_eq!(g.stats_socket().as_deref(), Some("127.0.0.1:9998"));
        let g = GlobalSettings::parse("global\n  stats socket ipv4@*:9999\n");
        assert_eq!(g.stats_socket().as_deref(), Some("ipv4@127.0.0.1:9999"));
        let g = GlobalSettings::parse("global\n  stats socket abns@hap level admin\n");
        assert_eq!(g.stats_socket().as_deref(), Some("abns@hap"));
    }

    #[test]
    fn backends_that_load_their_own_state_are_noticed() {
        assert!(!GlobalSettings::parse(DEBIAN).loads_local_state);
        let g = GlobalSettings::parse(&DEBIAN.replace("from-file global", "from-file local"));
        assert!(g.loads_local_state);
        // Only as a keyword of its own: a comment or another keyword's value is not it.
        let g = GlobalSettings::parse(
            "backend be
  # load-server-state-from-file local
",
        );
        assert!(!g.loads_local_state);
    }

    #[test]
    fn only_the_global_section_counts() {
        let g = GlobalSettings::parse("defaults\n  stats socket /x.sock\nglobal\n  maxconn 10\n");
        assert_eq!(g.stats_socket(), None);
        assert_eq!(g.state_file(), None);
    }

    #[test]
    fn quotes_comments_variables_and_unix_prefix() {
        // SAFETY: tests in this module do not read this variable concurrently.
        unsafe { std::env::set_var("SOCKCTL_TEST_RUN", "/run/test") };
        let g = GlobalSettings::parse(
            "global # comment\n  stats socket \"${SOCKCTL_TEST_RUN}/a b.sock\" level admin\n  \
             server-state-file '/abs/state' # c\n  server-state-base /ignored\n",
        );
        assert_eq!(g.stats_socket().as_deref(), Some("/run/test/a b.sock"));
        assert_eq!(g.state_file(), Some(PathBuf::from("/abs/state")));
        let g = GlobalSettings::parse(
            "global\n unix-bind prefix /run/hap/ mode 770\n stats socket admin.sock\n",
        );
        assert_eq!(g.stats_socket().as_deref(), Some("/run/hap/admin.sock"));
    }

    #[test]
    fn which_backends_load_the_global_file() {
        let g = GlobalSettings::parse(
            "defaults
  load-server-state-from-file global
backend a
backend b
  load-server-state-from-file none
defaults named
  mode http
listen c
backend d from named
frontend f
  load-server-state-from-file local
",
        );
        use LoadState::*;
        let loads: Vec<(&str, LoadState)> =
            g.backends.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        // A new defaults section starts from HAProxy's default (none), named or not.
        assert_eq!(
            loads,
            [("a", Global), ("b", None), ("c", None), ("d", None)]
        );
        assert_eq!(g.global_loaders(), 1);
        let g = GlobalSettings::parse(
            "defaults base\n load-server-state-from-file global\ndefaults other\nbackend x from base\nbackend y\n",
        );
        assert_eq!(g.backends, [("x".into(), Global), ("y".into(), None)]);
        assert_eq!(GlobalSettings::parse("backend lone\n").global_loaders(), 0);
    }

    #[test]
    fn directories_are_read_in_byte_order_and_defaults_carry_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("20-be.cfg"), "backend be\n").unwrap();
        std::fs::write(
            d.join("10-defaults.cfg"),
            "global\n server-state-file /s\ndefaults\n load-server-state-from-file global\n",
        )
        .unwrap();
        std::fs::write(d.join("B.cfg"), "backend upper\n").unwrap();
        std::fs::write(d.join("notes.txt"), "global\n server-state-file /wrong\n").unwrap();
        std::fs::create_dir(d.join("sub.cfg")).unwrap();
        assert_eq!(
            expand(&[d.to_path_buf()]).unwrap(),
            ["10-defaults.cfg", "20-be.cfg", "B.cfg"].map(|n| d.join(n))
        );
        let g = GlobalSettings::read_all(&[d.to_path_buf()]).unwrap();
        assert_eq!(g.state_file(), Some(PathBuf::from("/s")));
        assert_eq!(g.global_loaders(), 2);
        let missing = GlobalSettings::read_all(&[d.join("nope.cfg")]).unwrap_err();
        assert!(missing.to_string().contains("nope.cfg"), "{missing}");
    }
}
