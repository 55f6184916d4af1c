//! `sockctl haproxy info`.

use super::view::{self, Source};
use crate::cli::InfoArgs;
use crate::config::Config;
use crate::exit::Code;
use crate::table;

pub fn run(args: InfoArgs, config: &Config) -> anyhow::Result<Code> {
    let verbose = config.verbose;
    let mode = view::mode(&args.format, view::on_terminal());
    let source = Source {
        socket: &args.socket,
        route: &args.route,
        exchange: &args.exchange,
    };
    view::show(
        &source,
        "show info",
        mode,
        verbose,
        sockctl::haproxy::info::parse,
        |info| {
            let rows: Vec<Vec<String>> = info
                .entries
                .iter()
                .map(|(key, value)| vec![key.clone(), value.to_string()])
                .collect();
            Ok(table::render(&["FIELD", "VALUE"], &rows))
        },
    )
}
