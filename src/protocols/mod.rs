//! Built-in protocols, usable from the `esockets` binary without code and as
//! examples of handlers.

mod discard;
mod echo;
mod line_echo;
pub mod pubsub;
mod ws_echo;

pub use discard::Discard;
pub use echo::Echo;
pub use line_echo::{LineEcho, LINE_TOO_LONG};
pub use pubsub::PubSub;
pub use ws_echo::WsEcho;
