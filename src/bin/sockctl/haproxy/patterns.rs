//! `sockctl haproxy map` and `sockctl haproxy acl`.

use serde::Serialize;
use sockctl::haproxy::patterns::{self, AclEntry, Kind, MapEntry, PatternRef};

use super::view::{self, Mode, Source};
use crate::cli::PatternArgs;
use crate::config::Config;
use crate::exit::{Code, UsageError};
use crate::table;

/// `--json` of the list.
#[derive(Serialize)]
struct Maps<'a> {
    maps: &'a [PatternRef],
}

#[derive(Serialize)]
struct Acls<'a> {
    acls: &'a [PatternRef],
}

/// `--json` of one map or ACL: its name as given, and its entries.
#[derive(Serialize)]
struct MapDoc<'a> {
    map: &'a str,
    entries: Vec<MapEntry>,
}

#[derive(Serialize)]
struct AclDoc<'a> {
    acl: &'a str,
    entries: Vec<AclEntry>,
}

pub fn run(kind: Kind, args: PatternArgs, config: &Config) -> anyhow::Result<Code> {
    let verbose = config.verbose;
    let name = args.name.as_deref();
    let command =
        patterns::command(kind, name).map_err(|e| UsageError(format!("{}: {e}", noun(kind))))?;
    let mode = view::mode(&args.format, view::on_terminal());
    let source = Source {
        socket: &args.socket,
        route: &args.route,
        exchange: &args.exchange,
    };
    view::show_with(&source, &command, mode, verbose, |address, reply, out| {
        let text = match (kind, name) {
            (_, None) => {
                let refs = super::at(patterns::parse_refs(reply), address)?;
                match (mode, kind) {
                    (Mode::Json, Kind::Map) => view::json(&Maps { maps: &refs })?,
                    (Mode::Json, Kind::Acl) => view::json(&Acls { acls: &refs })?,
                    _ => list_table(&refs).into_bytes(),
                }
            }
            (Kind::Map, Some(map)) => {
                let entries = super::at(patterns::parse_map(reply), address)?;
                if mode == Mode::Json {
                    view::json(&MapDoc { map, entries })?
                } else {
                    map_table(&entries).into_bytes()
                }
            }
            (Kind::Acl, Some(acl)) => {
                let entries = super::at(patterns::parse_acl(reply), address)?;
                if mode == Mode::Json {
                    view::json(&AclDoc { acl, entries })?
                } else {
                    acl_table(&entries).into_bytes()
                }
            }
        };
        Ok(out.write_all(&text)?)
    })
}

fn noun(kind: Kind) -> &'static str {
    match kind {
        Kind::Map => "MAP",
        Kind::Acl => "ACL",
    }
}

/// One line per map or ACL: the id `show map #ID` takes, its file, how many entries.
fn list_table(refs: &[PatternRef]) -> String {
    let rows: Vec<Vec<String>> = refs
        .iter()
        .map(|r| {
            vec![
                format!("#{}", r.id),
                if r.file.is_empty() {
                    "-".into()
                } else {
                    r.file.clone()
                },
                r.entries.to_string(),
                r.description.clone(),
            ]
        })
        .collect();
    table::render(&["ID", "FILE", "ENTRIES", "DESCRIPTION"], &rows)
}

fn map_table(entries: &[MapEntry]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.pointer.clone(),
                e.key.clone(),
                e.value.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table::render(&["POINTER", "KEY", "VALUE"], &rows)
}

fn acl_table(entries: &[AclEntry]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| vec![e.pointer.clone(), e.pattern.clone()])
        .collect();
    table::render(&["POINTER", "PATTERN"], &rows)
}
