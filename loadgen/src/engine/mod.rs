//! The engine: the coordinator of a run (`run`), the worker threads of
//! each mode (`echo`: echo, line, idle and stream; `pubsub`), one
//! connection's sockets and bytes (`net`, `ws`, `pattern`, `throttle`),
//! the tokens a pub/sub server may ask for (`token`),
//! and what the workers measure (`recorder`, `histo`, `errors`,
//! `lifecycle`, `timeline`).

pub mod coordinator;
pub mod corpus;
pub mod echo;
pub mod errors;
pub mod fault;
pub mod histo;
pub mod lifecycle;
pub mod limits;
pub mod net;
pub mod outcome;
pub mod pattern;
pub mod progress;
pub mod pubsub;
pub mod recorder;
pub mod run;
pub mod shared;
pub mod throttle;
pub mod timeline;
pub mod tls;
pub mod token;
pub mod worker;
pub mod ws;
