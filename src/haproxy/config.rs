//! The few facts sockctl needs from an HAProxy configuration file: where the stats sockets are
//! and where the server state file goes. Only the `global` section is read, and one keyword
//! elsewhere (`load-server-state-from-file local`); everything else is left to HAProxy.

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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSocket {
    /// The address as written, e.g. `/run/haproxy/admin.sock` or `ipv4@127.0.0.1:9999`.
    pub address: String,
    pub level: Option<String>,
}

/// Keywords that start a new section.
const SECTIONS: &[&str] = &[
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

impl GlobalSettings {
    pub fn read(path: &Path) -> std::io::Result<GlobalSettings> {
        Ok(Self::parse(&std::fs::read_to_string(path)?))
    }

    pub fn parse(text: &str) -> GlobalSettings {
        let mut settings = GlobalSettings::default();
        let mut in_global = false;
        for line in text.lines() {
            let words = split_words(line);
            let Some(first) = words.first() else { continue };
            if SECTIONS.contains(&first.as_str()) {
                in_global = first == "global";
                continue;
            }
            if !in_global {
                if first == "load-server-state-from-file"
                    && words.get(1).is_some_and(|w| w == "local")
                {
                    settings.loads_local_state = true;
                }
                continue;
            }
            let word = |i: usize| words.get(i).cloned();
            match (first.as_str(), words.get(1).map(String::as_str)) {
                ("stats", Some("socket")) => {
                    if let Some(address) = word(2) {
                        let level = words
                            .iter()
                            .position(|w| w == "level")
                            .and_then(|i| word(i + 1));
                        settings.stats_sockets.push(StatsSocket { address, level });
                    }
                }
                ("server-state-file", _) => settings.server_state_file = word(1),
                ("server-state-base", _) => settings.server_state_base = word(1),
                ("unix-bind", _) => {
                    if let Some(i) = words.iter().position(|w| w == "prefix") {
                        settings.unix_bind_prefix = word(i + 1);
                    }
                }
                _ => {}
            }
        }
        settings
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

/// Splits a configuration line into words the way HAProxy does for the simple cases: spaces
/// separate, `#` starts a comment, quotes group, `\` escapes, `${VAR}` expands in double quotes.
fn split_words(line: &str) -> Vec<String> {
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
}
