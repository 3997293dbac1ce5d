//! The front end: the command line (`cli`, with the TLS options in
//! `tls_args`, tokens and the recovery shape in `pubsub_args`), its
//! checked form (`config`,
//! with the traffic shape, source addresses and the pub/sub plan), and
//! what each command does (`app`; `sweep`).

pub mod app;
pub mod cli;
pub mod config;
pub mod plan;
pub mod pubsub_args;
pub mod shape;
pub mod source;
pub mod sweep;
pub mod tls_args;
