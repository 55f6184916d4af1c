//! Tab completion from what the server says about itself: command words from its `help`,
//! backend and server names from `show servers state`. Nothing is hard-coded, so the shell
//! completes exactly the commands of the HAProxy version (and level) it is talking to.

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use crate::sanitize;

/// One position of a command's usage line.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A literal word (`show`, `servers`).
    Word(String),
    /// `<bk>`, `<backend>`, `[<backend>]`: a backend name.
    Backend,
    /// `<bk>/<srv>`: a `backend/server` pair.
    Server,
    /// `[desc|json|typed]`, `{on|off}`: one of these words.
    Choice(Vec<String>),
    /// Anything else: matches any word, offers nothing.
    Other,
}

/// The commands of one CLI (the stats socket, the master, or a worker behind the master).
#[derive(Debug, Default, Clone)]
pub struct Commands(Vec<Vec<Token>>);

impl Commands {
    /// Reads the usage lines of a `help` reply: `  show servers state [<backend>]   : dump …`.
    pub fn from_help(help: &[u8]) -> Commands {
        let text = String::from_utf8_lossy(help);
        let mut commands = Vec::new();
        for line in text.lines() {
            let Some(usage) = line.strip_prefix("  ") else {
                continue;
            };
            let usage = usage.split(": ").next().unwrap_or_default();
            let tokens: Vec<Token> = usage.split_whitespace().map(token).collect();
            if matches!(tokens.first(), Some(Token::Word(_))) {
                commands.push(tokens);
            }
        }
        Commands(commands)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn is_literal(word: &str) -> bool {
    !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@' | b'!'))
}

fn token(word: &str) -> Token {
    if is_literal(word) {
        return Token::Word(word.to_string());
    }
    if word.contains("<bk>/") || word.contains("<backend>/") {
        return Token::Server;
    }
    let bare = word.trim_matches(|c| matches!(c, '[' | ']' | '*'));
    if matches!(bare, "<bk>" | "<backend>") {
        return Token::Backend;
    }
    let inner = word
        .trim_end_matches('*')
        .strip_prefix(['[', '{'])
        .and_then(|w| w.strip_suffix([']', '}']));
    if let Some(inner) = inner
        && inner.contains('|')
    {
        let options: Vec<String> = inner
            .split('|')
            .map(str::trim)
            .filter(|o| is_literal(o))
            .map(str::to_string)
            .collect();
        if !options.is_empty() {
            return Token::Choice(options);
        }
    }
    Token::Other
}

/// Everything the completer knows.
#[derive(Debug, Default, Clone)]
pub struct Vocabulary {
    /// What the socket itself accepts (the master's own commands on a master CLI).
    pub own: Commands,
    /// On a master CLI: what its workers accept (used after an `@` prefix or target).
    pub worker: Commands,
    pub servers: Vec<(String, String)>,
    /// Whether commands go to a worker by default (after a bare `@1`).
    pub worker_target: bool,
}

impl Vocabulary {
    /// Backend and server names from a `show servers state` reply. Completion prints its
    /// candidates to the terminal as they are, so a name that is not plain printable text
    /// (control characters, escape sequences such as OSC 52, bytes that are not UTF-8) is
    /// never offered: HAProxy itself allows none of these in a name.
    pub fn learn_servers(&mut self, reply: &[u8]) {
        let text = String::from_utf8_lossy(reply);
        let printable = |name: &str| sanitize::is_plain(name) && !name.contains('\u{fffd}');
        self.servers = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let fields: Vec<&str> = l.split_whitespace().collect();
                (fields.len() > 4).then(|| (fields[1].to_string(), fields[3].to_string()))
            })
            .filter(|(backend, server)| printable(backend) && printable(server))
            .collect();
    }

    /// Candidates for the word that ends at the end of `line`; returns where that word starts.
    pub fn complete(&self, line: &str) -> (usize, Vec<String>) {
        let start = line.rfind([' ', '\t']).map_or(0, |i| i + 1);
        let partial = &line[start..];
        let mut words: Vec<&str> = line[..start].split_whitespace().collect();
        let mut commands = if self.worker_target {
            &self.worker
        } else {
            &self.own
        };
        // `@1 show …`, `@!1234 show …`, `@master show …` on a master CLI.
        if let Some(first) = words.first()
            && first.starts_with('@')
            && !self.worker.is_empty()
        {
            commands = if *first == "@master" {
                &self.own
            } else {
                &self.worker
            };
            words.remove(0);
        }
        let mut found: Vec<String> = Vec::new();
        for usage in &commands.0 {
            if usage.len() <= words.len() || !prefix_matches(&usage[..words.len()], &words) {
                continue;
            }
            match &usage[words.len()] {
                Token::Word(w) => found.push(w.clone()),
                Token::Choice(options) => found.extend(options.iter().cloned()),
                Token::Backend => found.extend(self.servers.iter().map(|(b, _)| b.clone())),
                Token::Server => {
                    found.extend(self.servers.iter().map(|(b, s)| format!("{b}/{s}")));
                }
                Token::Other => {}
            }
        }
        found.retain(|c| c.starts_with(partial));
        found.sort();
        found.dedup();
        (start, found)
    }
}

fn prefix_matches(usage: &[Token], words: &[&str]) -> bool {
    usage.iter().zip(words).all(|(t, w)| match t {
        Token::Word(expected) => expected == w,
        Token::Choice(options) => options.iter().any(|o| o == w),
        _ => true,
    })
}

/// The rustyline helper: completion only.
pub struct ShellHelper {
    pub vocabulary: Vocabulary,
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, found) = self.vocabulary.complete(&line[..pos]);
        let single = found.len() == 1;
        Ok((
            start,
            found
                .into_iter()
                .map(|word| Pair {
                    replacement: if single {
                        format!("{word} ")
                    } else {
                        word.clone()
                    },
                    display: word,
                })
                .collect(),
        ))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {}
impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    const HELP: &[u8] = b"The following commands are valid at this level:
  add map [@<ver>] <map> <key> <val>      : add a map entry (payload supported instead of key/val)
  disable server (DEPRECATED)             : disable a server for maintenance
  set server <bk>/<srv> [opts]            : change a server's state, weight, address or ssl
  show servers conn [<backend>]           : dump server connections status
  show servers state [<backend>]          : dump volatile server information
  show stat [desc|json|no-maint|typed|up]*: report counters for each proxy and server
  show info [desc|json|typed|float]*      : report information about the running process
  help [<command>]                        : list matching or all commands
";

    fn vocabulary() -> Vocabulary {
        let mut v = Vocabulary {
            own: Commands::from_help(HELP),
            ..Vocabulary::default()
        };
        v.learn_servers(b"1\n# be_id be_name srv_id srv_name srv_addr\n3 be_app 1 s1 127.0.0.1 2\n3 be_app 2 s2 127.0.0.1 2\n\n");
        v
    }

    fn complete(line: &str) -> Vec<String> {
        let (start, found) = vocabulary().complete(line);
        assert!(start <= line.len());
        found
    }

    #[test]
    fn words_from_help() {
        assert_eq!(complete(""), ["add", "disable", "help", "set", "show"]);
        assert_eq!(complete("sh"), ["show"]);
        assert_eq!(complete("show "), ["info", "servers", "stat"]);
        assert_eq!(complete("show servers "), ["conn", "state"]);
        assert_eq!(
            complete("show stat "),
            ["desc", "json", "no-maint", "typed", "up"]
        );
        assert_eq!(complete("show info j"), ["json"]);
    }

    #[test]
    fn backend_and_server_names() {
        assert_eq!(complete("show servers state "), ["be_app"]);
        assert_eq!(complete("set server "), ["be_app/s1", "be_app/s2"]);
        assert_eq!(complete("set server be_app/s2"), ["be_app/s2"]);
        assert!(complete("set server be_app/s1 ").is_empty());
    }

    #[test]
    fn names_with_control_characters_are_never_offered() {
        let mut v = vocabulary();
        v.learn_servers(
            "1\n# be_id be_name srv_id srv_name\n\
             3 be_app 1 s1 127.0.0.1 2\n\
             3 be_app 2 \x1b]0;title\x07 127.0.0.1 2\n\
             4 \x1b]52;c;aGk=\x07 1 s1 127.0.0.1 2\n\
             5 be_c1 1 s\u{9b}2J 127.0.0.1 2\n\
             6 be_del 1 s\x7f 127.0.0.1 2\n\
             7 be_nul 1 s\x01 127.0.0.1 2\n"
                .as_bytes(),
        );
        assert_eq!(v.complete("set server ").1, ["be_app/s1"]);
        assert_eq!(v.complete("show servers state ").1, ["be_app"]);
    }

    #[test]
    fn master_prefixes_use_the_worker_commands() {
        let mut v = vocabulary();
        v.worker = v.own.clone();
        v.own = Commands::from_help(b"  @master        : x\n  show proc     : y\n  reload  : z\n");
        assert_eq!(v.complete("sh").1, ["show"]);
        assert_eq!(v.complete("show ").1, ["proc"]);
        assert_eq!(v.complete("@1 show ").1, ["info", "servers", "stat"]);
        assert_eq!(v.complete("@master show ").1, ["proc"]);
        v.worker_target = true;
        assert_eq!(v.complete("show ").1, ["info", "servers", "stat"]);
    }
}
