//! `sockctl haproxy servers`.

use sockctl::haproxy::servers_state::{self, ServersState};

use super::view::{self, Source};
use crate::cli::ServersArgs;
use crate::config::Config;
use crate::exit::{Code, UsageError};
use crate::table;

pub fn run(args: ServersArgs, config: &Config) -> anyhow::Result<Code> {
    let verbose = config.verbose;
    let command = servers_state::command(args.backend.as_deref())
        .map_err(|e| UsageError(format!("--backend: {e}")))?;
    let mode = view::mode(&args.format, view::on_terminal());
    let source = Source {
        socket: &args.socket,
        route: &args.route,
        exchange: &args.exchange,
    };
    view::show(
        &source,
        &command,
        mode,
        verbose,
        servers_state::parse,
        |state| Ok(table(state)),
    )
}

/// One line per server: where it is, what it does, what the operator set.
fn table(state: &ServersState) -> String {
    let rows: Vec<Vec<String>> = state
        .servers
        .iter()
        .map(|s| {
            let admin = if s.admin_flags.is_empty() {
                s.admin_state_name.to_string()
            } else {
                format!("{} ({})", s.admin_state_name, s.admin_flags.join(","))
            };
            let check = if s.check_flags.is_empty() {
                "-".to_string()
            } else {
                s.check_flags.join(",").to_lowercase()
            };
            vec![
                s.backend.clone(),
                s.name.clone(),
                format!("{}:{}", s.address, s.port),
                s.op_state_name.to_string(),
                admin,
                s.weight.to_string(),
                check,
            ]
        })
        .collect();
    table::render(
        &[
            "BACKEND", "SERVER", "ADDRESS", "STATE", "ADMIN", "WEIGHT", "CHECK",
        ],
        &rows,
    )
}
