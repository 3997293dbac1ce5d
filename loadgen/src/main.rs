//! loadgen placeholder.
fn main() {}
