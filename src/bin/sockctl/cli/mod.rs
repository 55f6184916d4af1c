//! The command line: the options (`args`) and their help texts (`help`), shared with the
//! manual page generator.

#[macro_use]
mod help;
mod args;

pub use args::*;
