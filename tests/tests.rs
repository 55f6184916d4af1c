//! One integration-test binary; each module is a concern.

mod support;

mod send;
mod send_faults;
mod send_haproxy;
