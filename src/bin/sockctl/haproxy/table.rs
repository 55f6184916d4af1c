//! `sockctl haproxy table`.

use serde::Serialize;
use sockctl::haproxy::Value;
use sockctl::haproxy::table::{self, Dump, Table};

use super::view::{self, Mode, Source};
use crate::cli::TableArgs;
use crate::config::Config;
use crate::exit::{Code, UsageError};

/// `--json` of the list.
#[derive(Serialize)]
struct Tables<'a> {
    tables: &'a [Table],
}

pub fn run(args: TableArgs, config: &Config) -> anyhow::Result<Code> {
    let verbose = config.verbose;
    let name = args.name.as_deref();
    // Checked before anything is sent: HAProxy would refuse a fifth filter.
    let command = table::command(name, &args.filters).map_err(|e| UsageError(e.to_string()))?;
    let mode = view::mode(&args.format, view::on_terminal());
    let source = Source {
        socket: &args.socket,
        route: &args.route,
        exchange: &args.exchange,
    };
    view::show_with(&source, &command, mode, verbose, |address, reply, out| {
        let text = match name {
            None => {
                let tables = super::at(table::parse_list(reply), address)?;
                match mode {
                    Mode::Json => view::json(&Tables { tables: &tables })?,
                    _ => list_table(&tables).into_bytes(),
                }
            }
            // JSON is written as the entries are read, after a first pass has checked them
            // all: a table of a million entries never becomes a million entries in memory.
            Some(_) if mode == Mode::Json => {
                let stream = super::at(table::stream(reply), address)?;
                return view::json_to(&stream, out);
            }
            Some(_) => {
                let dump = super::at(table::parse(reply), address)?;
                dump_table(&dump).into_bytes()
            }
        };
        Ok(out.write_all(&text)?)
    })
}

fn list_table(tables: &[Table]) -> String {
    let rows: Vec<Vec<String>> = tables
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.key_type.clone(),
                t.size.to_string(),
                t.used.to_string(),
            ]
        })
        .collect();
    crate::table::render(&["NAME", "TYPE", "SIZE", "USED"], &rows)
}

/// One line per entry: key, use count, time to expiry, then each stored data field (a rate
/// with its period, `http_req_rate(10000)`).
fn dump_table(dump: &Dump) -> String {
    let mut data: Vec<&str> = Vec::new();
    for entry in &dump.entries {
        for (name, _) in &entry.data.0 {
            if !data.contains(&name.as_str()) {
                data.push(name);
            }
        }
    }
    let shards = dump.entries.iter().any(|e| e.shard.is_some());
    let mut header: Vec<String> = vec!["KEY".into(), "USE".into(), "EXP(ms)".into()];
    if shards {
        header.push("SHARD".into());
    }
    header.extend(data.iter().map(|name| match dump.periods_ms.get(name) {
        Some(period) => format!("{name}({period})"),
        None => name.to_string(),
    }));
    let rows: Vec<Vec<String>> = dump
        .entries
        .iter()
        .map(|e| {
            let mut row = vec![
                e.key.clone(),
                e.use_count.to_string(),
                e.expire_ms.to_string(),
            ];
            if shards {
                row.push(e.shard.map_or("-".into(), |s| s.to_string()));
            }
            row.extend(data.iter().map(|name| match e.data.get(name) {
                None | Some(Value::Null) => "-".to_string(),
                Some(value) => value.to_string(),
            }));
            row
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let t = &dump.table;
    format!(
        "# table {}: type {}, size {}, used {}\n{}",
        crate::sanitize::text(&t.name),
        crate::sanitize::text(&t.key_type),
        t.size,
        t.used,
        crate::table::render(&header, &rows)
    )
}
