//! esockets.
