//! `loadgen`: see the library crate and the README.

fn main() {
    std::process::exit(loadgen::front::app::main_with(std::env::args_os()));
}
