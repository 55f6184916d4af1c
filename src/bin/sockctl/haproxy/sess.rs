//! `sockctl haproxy sess`.

use serde::Serialize;
use sockctl::haproxy::sess::{self, Stream};

use super::view::{self, Source};
use crate::cli::SessArgs;
use crate::config::Config;
use crate::exit::Code;
use crate::table;

/// `--json`.
#[derive(Serialize)]
struct Sessions {
    sessions: Vec<Stream>,
}

pub fn run(args: SessArgs, config: &Config) -> anyhow::Result<Code> {
    let mode = view::mode(&args.format, view::on_terminal());
    let source = Source {
        socket: &args.socket,
        route: &args.route,
        exchange: &args.exchange,
    };
    view::show(
        &source,
        "show sess",
        mode,
        config.verbose,
        |reply| sess::parse(reply).map(|sessions| Sessions { sessions }),
        |doc| Ok(render(&doc.sessions)),
    )
}

/// One line per stream: where it comes from, where it goes, how old it is.
fn render(streams: &[Stream]) -> String {
    let rows: Vec<Vec<String>> = streams
        .iter()
        .map(|s| {
            let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            vec![
                s.pointer.clone(),
                s.proto.clone(),
                text(&s.source),
                text(&s.frontend),
                text(&s.backend),
                text(&s.server),
                text(&s.age),
                s.calls.map_or("-".into(), |n| n.to_string()),
                text(&s.expires),
            ]
        })
        .collect();
    table::render(
        &[
            "POINTER", "PROTO", "SOURCE", "FRONTEND", "BACKEND", "SERVER", "AGE", "CALLS", "EXP",
        ],
        &rows,
    )
}
