//! Writes sockctl's manual pages from the same clap definitions as `sockctl --help`:
//! `sockctl.1` and one page per subcommand (`sockctl-send.1`, `sockctl-haproxy-reload.1`, …).
//! A separate program so that the page generator is not carried in every sockctl binary:
//! `make man`, or `cargo run --features man --bin sockctl-man -- DIR`.

#[allow(dead_code)]
#[path = "sockctl/cli/mod.rs"]
mod cli;

use std::path::Path;

use clap::CommandFactory;

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .unwrap_or_else(|| "target/man".into());
    let dir = Path::new(&dir);
    if let Err(e) =
        std::fs::create_dir_all(dir).and_then(|()| write_pages(cli::Cli::command(), dir, "sockctl"))
    {
        eprintln!("sockctl-man: {}: {e}", dir.display());
        std::process::exit(6);
    }
}

fn write_pages(command: clap::Command, dir: &Path, name: &str) -> std::io::Result<()> {
    let command = command.name(name.to_string());
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    std::fs::write(dir.join(format!("{name}.1")), page)?;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        write_pages(sub.clone(), dir, &format!("{name}-{}", sub.get_name()))?;
    }
    Ok(())
}
