//! Completion scripts and manual pages, generated from the same clap definitions as `--help`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::Code;

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<Code> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "sockctl", &mut std::io::stdout());
    Ok(Code::Ok)
}

pub fn man(dir: Option<&Path>) -> anyhow::Result<Code> {
    let command = Cli::command();
    match dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            std::io::stdout().write_all(&page)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
            write_pages(command, dir, "sockctl")?;
        }
    }
    Ok(Code::Ok)
}

/// `sockctl.1`, `sockctl-send.1`, `sockctl-haproxy-reload.1`, …
fn write_pages(command: clap::Command, dir: &Path, name: &str) -> anyhow::Result<()> {
    let command = command.name(name.to_string());
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page).with_context(|| path.display().to_string())?;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        write_pages(sub.clone(), dir, &format!("{name}-{}", sub.get_name()))?;
    }
    Ok(())
}
