//! One integration-test binary; each module is a concern.

mod support;

mod framing;
mod send;
mod send_faults;
mod send_haproxy;
mod session;
mod shell;
