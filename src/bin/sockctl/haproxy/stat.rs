//! `sockctl haproxy stat`.

use sockctl::haproxy::Value;
use sockctl::haproxy::stat::{self, Kind, Stat};

use super::view::{self, Source};
use crate::cli::{StatArgs, StatType};
use crate::config::Config;
use crate::exit::{Code, UsageError};
use crate::table;

/// What an operator looks at first: name, status, weight, current and highest sessions,
/// last check, seconds since the last status change.
const DEFAULT_COLUMNS: &[&str] = &[
    "pxname",
    "svname",
    "status",
    "weight",
    "scur",
    "smax",
    "check_status",
    "lastchg",
];

pub fn run(args: StatArgs, config: &Config) -> anyhow::Result<Code> {
    let verbose = config.verbose;
    let kinds: Vec<Kind> = args
        .types
        .iter()
        .map(|t| match t {
            StatType::Frontend => Kind::Frontend,
            StatType::Backend => Kind::Backend,
            StatType::Server => Kind::Server,
        })
        .collect();
    let command = stat::command(args.backend.as_deref(), &kinds)
        .map_err(|e| UsageError(format!("--backend: {e}")))?;
    let mode = view::mode(
        &args.format,
        !args.columns.is_empty() || view::on_terminal(),
    );
    let source = Source {
        socket: &args.socket,
        route: &args.route,
        exchange: &args.exchange,
    };
    // JSON is written as the rows are parsed, after a first pass has checked them all: a
    // `show stat` of a million servers never becomes a million rows in memory.
    view::show_with(&source, &command, mode, verbose, |address, reply, out| {
        if mode == view::Mode::Json {
            let stream = super::at(stat::stream(reply), address)?;
            return view::json_to(&stream, out);
        }
        let stat = super::at(stat::parse(reply), address)?;
        Ok(out.write_all(table(&stat, &args.columns)?.as_bytes())?)
    })
}

/// The chosen columns (all must exist), or the default ones this version has.
fn table(stat: &Stat, chosen: &[String]) -> Result<String, UsageError> {
    let columns: Vec<&str> = if chosen.is_empty() {
        DEFAULT_COLUMNS
            .iter()
            .copied()
            .filter(|c| stat.fields.iter().any(|f| f == c))
            .collect()
    } else {
        for name in chosen {
            if !stat.fields.contains(name) {
                return Err(UsageError(format!(
                    "--columns: no column {name:?} in this HAProxy's 'show stat'; it has: {}",
                    stat.fields.join(",")
                )));
            }
        }
        chosen.iter().map(String::as_str).collect()
    };
    let rows: Vec<Vec<String>> = stat
        .rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| match row.get(c) {
                    None | Some(Value::Null) => "-".to_string(),
                    Some(value) => value.to_string(),
                })
                .collect()
        })
        .collect();
    Ok(table::render(&columns, &rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_chosen_columns() {
        let stat = stat::parse(include_bytes!(
            "../../../../tests/fixtures/haproxy/3.4/stats_show_stat.reply"
        ))
        .unwrap();
        let text = table(&stat, &[]).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
            DEFAULT_COLUMNS
        );
        assert!(text.contains("be_app"), "{text}");
        assert!(text.contains("L4CON"), "{text}");
        let chosen = table(&stat, &["svname".into(), "addr".into()]).unwrap();
        assert!(chosen.starts_with("svname  "), "{chosen}");
        assert!(chosen.contains("127.0.0.1:19341"), "{chosen}");
        let err = table(&stat, &["nope".into()]).unwrap_err().to_string();
        assert!(
            err.contains("\"nope\"") && err.contains("pxname,svname"),
            "{err}"
        );
    }
}
