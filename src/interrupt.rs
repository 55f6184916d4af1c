//! A process-wide "please stop" flag.
//!
//! The library never installs signal handlers. A program that wants Ctrl-C to abandon a wait
//! installs one (without `SA_RESTART`) that calls [`request`]; every blocking wait in this crate
//! is a `poll` or `connect` that then returns `EINTR`, sees the flag and gives up cleanly, so
//! temporary files are removed and connections closed on the way out.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Async-signal-safe: a single atomic store.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Clears the flag, e.g. after the interactive shell abandoned one reply.
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}

/// The stop was requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requested;

/// After an `EINTR`: stop if asked to, otherwise let the caller retry.
pub(crate) fn check() -> Result<(), Requested> {
    if requested() { Err(Requested) } else { Ok(()) }
}
