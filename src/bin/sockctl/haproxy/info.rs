//! `sockctl haproxy info`.

use sockctl::haproxy::info::Info;

use super::at;
use super::view::{self, Mode, Source};
use crate::cli::InfoArgs;
use crate::exit::Code;
use crate::table;

pub fn run(args: InfoArgs, verbose: bool) -> anyhow::Result<Code> {
    let mode = view::mode(&args.format, view::on_terminal());
    let source = Source {
        socket: &args.socket,
        route: &args.route,
        exchange: &args.exchange,
    };
    view::run(
        &source,
        "show info",
        mode == Mode::Json,
        verbose,
        |address, reply| {
            if mode == Mode::Raw {
                return Ok(reply);
            }
            let info = at(Info::parse(&reply), address)?;
            match mode {
                Mode::Json => view::json(&info),
                _ => {
                    let rows: Vec<Vec<String>> = info
                        .entries
                        .iter()
                        .map(|(key, value)| vec![key.clone(), value.to_string()])
                        .collect();
                    Ok(table::render(&["FIELD", "VALUE"], &rows).into_bytes())
                }
            }
        },
    )
}
