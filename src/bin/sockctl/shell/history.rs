//! Where a socket's command history lives: one file per socket under
//! `$XDG_STATE_HOME/sockctl/` (`~/.local/state/sockctl/` when unset), so that the commands
//! typed at the stats socket do not show up at the master's prompt.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustyline::history::FileHistory;
use rustyline::{Editor, Helper};
use sockctl::Address;

/// The history file for `address`, or `None` when there is no home to put it in.
pub fn path(address: &Address) -> Option<PathBuf> {
    let dir = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(state) => PathBuf::from(state),
        None => {
            PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".local/state")
        }
    };
    Some(dir.join("sockctl").join(file_name(address)))
}

/// Writes the history file, readable by its owner only: commands can name secrets (map keys,
/// server addresses) as well as any shell history does.
pub fn save<H: Helper>(editor: &mut Editor<H, FileHistory>, path: &Path) -> rustyline::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    editor.save_history(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

/// `history-` and the address, with every byte but `[A-Za-z0-9._-]` percent-encoded. A socket
/// file is named by its canonical path, so `./admin.sock` and its full path share a history.
fn file_name(address: &Address) -> String {
    let text = match address {
        Address::Unix(path) => std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.clone())
            .display()
            .to_string(),
        other => other.text(),
    };
    let mut name = String::from("history-");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            name.push(b as char);
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn one_file_per_socket() {
        // A path that does not exist is used as given.
        let a = file_name(&"/nonexistent-dir/admin.sock".parse().unwrap());
        assert_eq!(a, "history-%2Fnonexistent-dir%2Fadmin.sock");
        let b = file_name(&"@haproxy-master".parse().unwrap());
        assert!(b.starts_with("history-") && !b.contains('/'), "{b}");
    }
}
