//! Completion scripts and manual pages cover every subcommand, and every subcommand's help
//! shows examples and the exit codes where they apply.

use crate::support::sockctl;

/// Subcommand names as `--help` lists them under "Commands:".
fn listed(args: &[&str]) -> Vec<String> {
    sockctl(args)
        .arg("--help")
        .succeeds()
        .stdout()
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // Wrapped descriptions continue on deeper-indented lines.
        .filter(|l| !l.starts_with("   "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .filter(|name| name != "help")
        .collect()
}

/// Every command path: `["send"]`, `["haproxy", "reload"]`, …
fn all_commands() -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for top in listed(&[]) {
        let nested = listed(&[&top]);
        all.push(vec![top.clone()]);
        for sub in nested {
            all.push(vec![top.clone(), sub]);
        }
    }
    assert!(all.len() >= 8, "{all:?}");
    all
}

#[test]
fn completions_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let script = sockctl(["completions", shell]).succeeds().stdout();
        for path in all_commands() {
            let name = path.last().unwrap();
            assert!(
                script.contains(name.as_str()),
                "{shell} completion lacks {name}"
            );
        }
    }
}

/// `sockctl-man` is built with `--features man` (as scripts/test.sh and `make man` do).
#[cfg(feature = "man")]
#[test]
fn man_pages_exist_for_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let man = env!("CARGO_BIN_EXE_sockctl-man");
    let out = std::process::Command::new(man)
        .arg(dir.path())
        .output()
        .unwrap();
    crate::support::Run::new(format!("sockctl-man {}", dir.path().display()), out).succeeds();
    let root = std::fs::read_to_string(dir.path().join("sockctl.1")).unwrap();
    assert!(
        root.contains("Exit codes"),
        "root page lacks the exit codes"
    );
    for path in all_commands() {
        let page = dir.path().join(format!("sockctl-{}.1", path.join("-")));
        let text =
            std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        assert!(text.contains(".SH NAME"), "{}", page.display());
        if path.len() == 1 {
            assert!(
                root.contains(&format!("sockctl\\-{}", path[0])),
                "root lacks {path:?}"
            );
        }
    }
}

#[test]
fn every_command_shows_examples() {
    // The root and the groups (such as `haproxy`) too: they are where a new user starts.
    for path in std::iter::once(Vec::new()).chain(all_commands()) {
        let help = sockctl(&path).arg("--help").succeeds().stdout();
        let examples = help
            .lines()
            .skip_while(|l| *l != "Examples:")
            .skip(1)
            .take_while(|l| !l.is_empty())
            .filter(|l| l.contains("sockctl "))
            .count();
        assert!(
            examples >= 3,
            "{path:?} --help shows {examples} examples:\n{help}"
        );
    }
}

#[test]
fn version_names_the_revision() {
    let text = sockctl(["--version"]).succeeds().stdout();
    assert!(
        text.starts_with(&format!("sockctl {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    if std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.git")).exists() {
        assert!(text.contains("(git "), "{text}");
    }
}
