//! Reports: a run's measurements as a report (`report`, judged by
//! `verdict`), a table, JSON (the TLS part in `tls`, pub/sub's in
//! `pubsub` and `recovery`), an interval log (`hdrlog`), SVG charts
//! (`plot`), and merged logs of several machines (`merge`).

pub mod hdrlog;
pub mod json;
pub mod merge;
pub mod plot;
pub mod pubsub;
pub mod recovery;
pub mod report;
pub mod spread;
pub mod table;
pub mod tls;
pub mod verdict;
