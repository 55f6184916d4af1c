//! One integration-test binary; each module is a concern.

mod support;

mod batch;
mod docs;
mod fanout;
mod faults_state;
mod framing;
mod haproxy_config;
mod haproxy_data_views;
mod haproxy_del_wait;
mod haproxy_exec;
mod haproxy_fake;
mod haproxy_operate;
mod haproxy_reload;
mod haproxy_reload_losses;
mod haproxy_top;
mod haproxy_verdicts;
mod haproxy_views;
mod hardening_files;
mod hardening_io;
mod memory;
mod send;
mod send_faults;
mod send_haproxy;
mod services;
mod services_cli;
mod services_docs;
mod services_faults;
mod session;
mod shell;
mod ssh;
