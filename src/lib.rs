//! sockctl: talk to the administrative sockets of Unix services correctly.
//!
//! The data flows one way: an [`address::Address`] is [`connect`]ed into a
//! [`stream::Stream`], an [`exchange::Exchange`] sends one command on it and streams the whole
//! reply into a sink, and [`atomic_file::AtomicFile`] makes a file of it only when complete.
//! [`fanout`] runs such work for many sockets at once. Nothing here prints or exits; the
//! `sockctl` binary owns the terminal and the exit codes.

pub mod address;
pub mod atomic_file;
pub mod client;
pub mod command;
pub mod connect;
pub mod error;
pub mod exchange;
pub mod fanout;
pub mod framing;
pub mod haproxy;
pub mod interrupt;
pub mod lock;
pub mod service;
pub mod ssh;
pub mod stream;
pub mod units;

pub use address::Address;
pub use command::Command;
pub use error::ExchangeError;
pub use exchange::{Exchange, Report};

/// The library examples in the documentation compile.
#[cfg(doctest)]
#[doc = include_str!("../docs/library.md")]
pub struct LibraryDoctests;
