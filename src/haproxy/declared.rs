//! The servers a configuration declares: what a new worker will have after a reload, to
//! compare with what runs now.
//!
//! Only `backend` and `listen` sections have servers that `show servers state` lists (`peers`
//! and `ring` sections have `server` lines of another kind). A `server NAME ADDRESS` line
//! declares one server; `server-template PREFIX COUNT|FIRST-LAST ADDRESS` declares
//! `PREFIX1`…`PREFIXn` (or `PREFIXfirst`…`PREFIXlast`); `default-server` declares none.

use std::net::IpAddr;
use std::path::PathBuf;

use super::config::{ReadError, SECTIONS, expand, split_words};

/// A server the configuration declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredServer {
    pub backend: String,
    pub name: String,
    /// The address, when it is a literal IP (not a host name, a Unix socket, or a value from
    /// an environment variable, which HAProxy's environment may set otherwise than ours).
    pub ip: Option<IpAddr>,
    /// The port, when it is a plain number (not absent, not a `+N`/`-N` mapping).
    pub port: Option<u16>,
    /// Declared more than once (say in two `.if` branches): which line applies is not known,
    /// so its address and port are not compared.
    pub ambiguous: bool,
}

/// Every server of a configuration, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Declared {
    pub servers: Vec<DeclaredServer>,
    /// The `backend` and `listen` sections, in order.
    pub backends: Vec<String>,
}

/// Server templates larger than this are not expanded (no configuration has them; a typo must
/// not make sockctl allocate millions of names).
const MAX_TEMPLATE: u64 = 100_000;

impl Declared {
    /// Reads a configuration given as HAProxy's `-f` arguments, in order.
    pub fn read_all(paths: &[PathBuf]) -> Result<Declared, ReadError> {
        let mut declared = Declared::default();
        for file in expand(paths)? {
            let text = std::fs::read(&file).map_err(|source| ReadError {
                path: file.clone(),
                source,
            })?;
            declared.file(&String::from_utf8_lossy(&text));
        }
        declared.mark_duplicates();
        Ok(declared)
    }

    pub fn parse(text: &str) -> Declared {
        let mut declared = Declared::default();
        declared.file(text);
        declared.mark_duplicates();
        declared
    }

    /// The server `backend/name`, if declared.
    pub fn get(&self, backend: &str, name: &str) -> Option<&DeclaredServer> {
        self.servers
            .iter()
            .find(|s| s.backend == backend && s.name == name)
    }

    /// Whether the configuration has a `backend` or `listen` section of this name.
    pub fn has_backend(&self, backend: &str) -> bool {
        self.backends.iter().any(|b| b == backend)
    }

    fn file(&mut self, text: &str) {
        // Each file starts outside any section.
        let mut backend: Option<String> = None;
        for line in text.lines() {
            let words = split_words(line);
            let Some(first) = words.first() else { continue };
            if SECTIONS.contains(&first.as_str()) {
                backend = match first.as_str() {
                    "backend" | "listen" => {
                        let name = words.get(1).cloned().unwrap_or_default();
                        self.backends.push(name.clone());
                        Some(name)
                    }
                    _ => None,
                };
                continue;
            }
            let Some(backend) = &backend else { continue };
            // A value from the environment is HAProxy's environment's, not ours.
            let from_env = line.contains('$');
            match (first.as_str(), words.get(1), words.get(2)) {
                ("server", Some(name), address) => {
                    let (ip, port) = address
                        .filter(|_| !from_env)
                        .map_or((None, None), |a| parse_address(a));
                    self.servers.push(DeclaredServer {
                        backend: backend.clone(),
                        name: name.clone(),
                        ip,
                        port,
                        ambiguous: false,
                    });
                }
                ("server-template", Some(prefix), Some(range)) => {
                    let Some((first, last)) = template_range(range) else {
                        continue;
                    };
                    let (ip, port) = words
                        .get(3)
                        .filter(|_| !from_env)
                        .map_or((None, None), |a| parse_address(a));
                    for n in first..=last {
                        self.servers.push(DeclaredServer {
                            backend: backend.clone(),
                            name: format!("{prefix}{n}"),
                            ip,
                            port,
                            ambiguous: false,
                        });
                    }
                }
                _ => {}
            }
        }
    }

    fn mark_duplicates(&mut self) {
        let mut seen = std::collections::HashMap::new();
        for (i, s) in self.servers.iter().enumerate() {
            seen.entry((s.backend.clone(), s.name.clone()))
                .or_insert_with(Vec::new)
                .push(i);
        }
        for indexes in seen.values().filter(|v| v.len() > 1) {
            for &i in indexes {
                self.servers[i].ambiguous = true;
            }
        }
    }
}

/// `COUNT` (1 to COUNT) or `FIRST-LAST`, as `server-template` takes it.
fn template_range(word: &str) -> Option<(u64, u64)> {
    let (first, last) = match word.split_once('-') {
        Some((a, b)) => (a.parse::<u64>().ok()?, b.parse::<u64>().ok()?),
        None => (1, word.parse::<u64>().ok()?),
    };
    (first <= last && last - first < MAX_TEMPLATE).then_some((first, last))
}

/// The literal IP and plain port of a server address (`10.0.0.1:80`, `ipv6@[::1]:8080`,
/// `::1:80`, `10.0.0.1`); `None` for what is not one.
pub fn parse_address(word: &str) -> (Option<IpAddr>, Option<u16>) {
    let rest = match word.split_once('@') {
        Some((prefix, rest)) => match prefix {
            "ipv4" | "ipv6" | "tcp" | "tcp4" | "tcp6" => rest,
            // unix@, abns@, sockpair@, udp@…: no IP to compare.
            _ => return (None, None),
        },
        None => word,
    };
    if rest.starts_with('/') {
        return (None, None);
    }
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        match inner.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':')),
            None => return (None, None),
        }
    } else {
        match rest.rsplit_once(':') {
            // `::1` alone is an address without a port, like `10.0.0.1`.
            Some((host, port)) if host.parse::<IpAddr>().is_ok() || !host.contains(':') => {
                (host, Some(port))
            }
            _ => (rest, None),
        }
    };
    let port = port.and_then(|p| {
        (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u16>().ok())
            .flatten()
    });
    (host.parse::<IpAddr>().ok(), port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(d: &Declared) -> Vec<String> {
        d.servers
            .iter()
            .map(|s| format!("{}/{}", s.backend, s.name))
            .collect()
    }

    #[test]
    fn servers_of_backends_and_listen_sections_only() {
        let d = Declared::parse(
            "global
  stats socket /run/admin.sock
defaults
  default-server inter 3s
frontend fe
  bind :80
backend be_app
  default-server check
  server s1 10.0.0.1:80 check
  server s2 10.0.0.2:80
listen stats
  server local 127.0.0.1:8404
peers mypeers
  server hap1 10.0.0.9:1024
ring logs
  server syslog 10.0.0.10:514
resolvers dns
  nameserver ns1 10.0.0.53:53
backend empty
",
        );
        assert_eq!(names(&d), ["be_app/s1", "be_app/s2", "stats/local"]);
        assert_eq!(d.backends, ["be_app", "stats", "empty"]);
        let s1 = d.get("be_app", "s1").unwrap();
        assert_eq!(s1.ip, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(s1.port, Some(80));
        assert!(d.get("be_app", "check").is_none());
    }

    #[test]
    fn server_templates_expand_to_numbered_names() {
        let d = Declared::parse(
            "backend be
  server-template web 3 app.example.com:8080 check
  server-template api 5-6 10.1.0.1:81
  server-template bad 0-x host:1
",
        );
        assert_eq!(
            names(&d),
            ["be/web1", "be/web2", "be/web3", "be/api5", "be/api6"]
        );
        let web = d.get("be", "web2").unwrap();
        assert_eq!((web.ip, web.port), (None, Some(8080)));
        let api = d.get("be", "api6").unwrap();
        assert_eq!(api.ip, Some("10.1.0.1".parse().unwrap()));
        // A huge count is not expanded.
        assert!(
            Declared::parse("backend b\n server-template x 99999999999 h:1\n")
                .servers
                .is_empty()
        );
    }

    #[test]
    fn addresses_that_can_be_compared() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(parse_address("10.0.0.1:80"), (ip("10.0.0.1"), Some(80)));
        assert_eq!(parse_address("10.0.0.1"), (ip("10.0.0.1"), None));
        assert_eq!(
            parse_address("ipv4@10.0.0.1:80"),
            (ip("10.0.0.1"), Some(80))
        );
        assert_eq!(parse_address("[::1]:8080"), (ip("::1"), Some(8080)));
        assert_eq!(
            parse_address("ipv6@[2001:db8::1]:81"),
            (ip("2001:db8::1"), Some(81))
        );
        assert_eq!(
            parse_address("2001:db8::1:80"),
            (ip("2001:db8::1"), Some(80))
        );
        assert_eq!(parse_address("::1"), (ip("::1"), None));
        assert_eq!(parse_address("10.0.0.1:+10"), (ip("10.0.0.1"), None));
        assert_eq!(parse_address("10.0.0.1:99999"), (ip("10.0.0.1"), None));
        assert_eq!(parse_address("app.example.com:80"), (None, Some(80)));
        assert_eq!(parse_address("unix@/run/app.sock"), (None, None));
        assert_eq!(parse_address("/run/app.sock"), (None, None));
        assert_eq!(parse_address("[::1"), (None, None));
    }

    #[test]
    fn environment_values_and_duplicates_are_not_compared() {
        let d = Declared::parse(
            "backend be
  server s1 \"${APP_ADDR}:80\"
.if defined(BLUE)
  server s2 10.0.0.2:80
.else
  server s2 10.0.0.3:80
.endif
",
        );
        let s1 = d.get("be", "s1").unwrap();
        assert_eq!((s1.ip, s1.port), (None, None));
        assert!(d.get("be", "s2").unwrap().ambiguous);
        assert!(!s1.ambiguous);
    }

    #[test]
    fn several_files_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("conf.d")).unwrap();
        std::fs::write(
            d.join("main.cfg"),
            "global\nbackend a\n server a1 10.0.0.1:1\n",
        )
        .unwrap();
        std::fs::write(d.join("conf.d/20.cfg"), "listen l\n server l1 10.0.0.3:3\n").unwrap();
        std::fs::write(
            d.join("conf.d/10.cfg"),
            "  server orphan 1.1.1.1:1\nbackend b\n server b1 10.0.0.2:2\n",
        )
        .unwrap();
        let declared = Declared::read_all(&[d.join("main.cfg"), d.join("conf.d")]).unwrap();
        // A file starts outside any section: the first line of 10.cfg belongs to no backend.
        assert_eq!(names(&declared), ["a/a1", "b/b1", "l/l1"]);
        assert!(Declared::read_all(&[d.join("missing.cfg")]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn no_input_panics(text in "(?s).{0,400}") {
            let _ = Declared::parse(&text);
        }

        #[test]
        fn no_config_like_input_panics(
            lines in proptest::collection::vec(
                "(backend|listen|server|server-template|default-server|frontend|\\.if|#)? ?[a-z0-9:\\[\\]@/.${}\"' -]{0,30}",
                0..20,
            )
        ) {
            let _ = Declared::parse(&lines.join("\n"));
        }

        #[test]
        fn no_address_panics(word in "\\PC{0,40}") {
            let _ = parse_address(&word);
        }
    }
}
