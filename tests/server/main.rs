//! Integration tests of the esockets server over loopback TCP: one binary,
//! one module per behaviour, helpers in `util`.
//!
//! Every client socket has read and write timeouts and every wait has a
//! deadline, so a bug fails a test instead of hanging the suite.

mod backlog_shutdown;
mod backpressure;
mod balance;
mod close_reasons;
mod cross_thread;
mod echo;
mod errors;
mod grace;
mod idle;
mod inbox;
mod limits;
mod line_echo;
mod migrate;
#[path = "../child/netns.rs"]
mod netns;
mod pacing;
mod panic;
mod passed;
mod proxy;
#[path = "../child/proxy_recorder.rs"]
mod proxy_recorder;
mod pubsub;
mod refusal;
mod refused_ids;
mod round_end;
mod scale;
mod sharding;
mod shutdown;
mod stall;
mod state;
mod timers;
mod tls;
mod util;
