//! `sockctl haproxy cert`.

use serde::Serialize;
use sockctl::haproxy::cert::{self, Cert, CertFile};

use super::view::{self, Mode, Source};
use crate::cli::CertArgs;
use crate::config::Config;
use crate::exit::{Code, UsageError};
use crate::table;

/// `--json` of the list.
#[derive(Serialize)]
struct Certificates<'a> {
    certificates: &'a [CertFile],
}

pub fn run(args: CertArgs, config: &Config) -> anyhow::Result<Code> {
    let name = args.name.as_deref();
    let command = cert::command(name).map_err(|e| UsageError(format!("NAME: {e}")))?;
    let mode = view::mode(&args.format, view::on_terminal());
    let source = Source {
        socket: &args.socket,
        route: &args.route,
        exchange: &args.exchange,
    };
    view::show_with(
        &source,
        &command,
        mode,
        config.verbose,
        |address, reply, out| {
            let text = match name {
                None => {
                    let files = super::at(cert::parse_list(reply), address)?;
                    match mode {
                        Mode::Json => view::json(&Certificates {
                            certificates: &files,
                        })?,
                        _ => list_table(&files).into_bytes(),
                    }
                }
                Some(_) => {
                    let cert = super::at(cert::parse(reply), address)?;
                    match mode {
                        Mode::Json => view::json(&cert)?,
                        _ => detail_table(&cert).into_bytes(),
                    }
                }
            };
            Ok(out.write_all(&text)?)
        },
    )
}

fn list_table(files: &[CertFile]) -> String {
    let rows: Vec<Vec<String>> = files
        .iter()
        .map(|f| {
            let state = if f.transaction {
                "uncommitted"
            } else {
                "loaded"
            };
            vec![f.filename.clone(), state.into()]
        })
        .collect();
    table::render(&["FILENAME", "STATE"], &rows)
}

/// Every line HAProxy sent, as two columns.
fn detail_table(cert: &Cert) -> String {
    let rows: Vec<Vec<String>> = cert
        .fields
        .iter()
        .map(|f| vec![f.name.clone(), f.value.clone()])
        .collect();
    table::render(&["FIELD", "VALUE"], &rows)
}
